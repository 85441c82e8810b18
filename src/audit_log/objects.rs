//! The extension's objects in this database: its schema, `audit_log` with
//! its sequence and indexes, `audit_table`. Found once per backend and
//! dropped ([`forget`]) when a relcache invalidation names one of them, or a
//! schema changes: the invalidation callbacks, like every other, are
//! registered in `hooks`.
//!
//! The SQL that Rust runs lives in `sql/queries/*.sql`, written with
//! `@extschema@` where the extension's schema goes, as in the extension's own
//! script; [`Objects::sql`] puts in the schema name as PostgreSQL quoted it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;

use super::row;
use crate::error::AuditError;
use crate::pg;

/// The extension's objects in this database, found once per backend.
pub struct Objects {
    /// The extension's schema, quoted by PostgreSQL for use in SQL.
    pub schema: String,
    pub audit_log: Oid,
    pub audit_table: Oid,
    pub sequence: Oid,
    namespace: Oid,
    /// Which columns audit_log has (0.1.0's until the extension is updated).
    pub shape: row::Shape,
    /// audit_log's indexes, with what an index insert needs.
    pub indexes: Vec<IndexTarget>,
    /// A copy of audit_log's tuple descriptor (in the objects' context), to
    /// form rows that are written later, without opening the table per row.
    pub tupdesc: pg_sys::TupleDesc,
    generation: u64,
    mcxt: pg_sys::MemoryContext,
}

pub struct IndexTarget {
    pub oid: Oid,
    /// 0-based audit_log columns, in index key order.
    pub columns: Vec<usize>,
    pub unique: bool,
    /// A BRIN index: it keeps one summary per range of heap blocks, so a row
    /// with the key of the row before it in the same block adds nothing.
    pub summarizing: bool,
    /// Built once, in the objects' memory context.
    pub info: *mut pg_sys::IndexInfo,
}

impl Objects {
    /// A query from `sql/queries/`, with the extension's schema in place of
    /// `@extschema@`.
    pub fn sql(&self, query: &str) -> String {
        query.replace("@extschema@", &self.schema)
    }

    /// Whether the Merkle tree's tables exist: since 0.3.0, and not until an
    /// older version is updated (the library is replaced first). Looked up
    /// each time, since the update creates them under a running backend.
    pub fn has_tree(&self) -> bool {
        // SAFETY: a syscache look-up by name in the extension's schema.
        unsafe { pg_sys::get_relname_relid(c"audit_tree".as_ptr(), self.namespace) != Oid::INVALID }
    }

    /// False once an invalidation dropped these objects: whoever holds them
    /// must look them up again before using their oids.
    pub fn is_current(&self) -> bool {
        self.generation == GENERATION.get()
    }

    fn names(&self, relid: Oid) -> bool {
        relid == self.audit_log
            || relid == self.audit_table
            || self.indexes.iter().any(|i| i.oid == relid)
    }
}

impl Drop for Objects {
    fn drop(&mut self) {
        // SAFETY: the context was created for this entry and nothing else points into it.
        unsafe { pg_sys::MemoryContextDelete(self.mcxt) };
    }
}

thread_local! {
    static OBJECTS: RefCell<Option<Rc<Objects>>> = const { RefCell::new(None) };
    /// Bumped by every invalidation that drops [`OBJECTS`].
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Drops the cached objects when `relid` is one of them, or when it is
/// `InvalidOid` ("everything": a schema changed).
pub fn forget(relid: Oid) {
    OBJECTS.with_borrow_mut(|o| {
        let hit = o
            .as_ref()
            .is_some_and(|objs| relid == Oid::INVALID || objs.names(relid));
        if hit {
            *o = None;
            GENERATION.set(GENERATION.get() + 1);
        }
    });
}

/// The extension's objects, looked up when not cached. Raises `BrokenInstall`
/// when they are missing or altered.
pub fn objects() -> Rc<Objects> {
    if let Some(o) = OBJECTS.with_borrow(|o| o.clone()) {
        return o;
    }
    let objs = Rc::new(load().unwrap_or_else(|e| e.report()));
    if objs.is_current() {
        OBJECTS.with_borrow_mut(|o| *o = Some(objs.clone()));
    }
    objs
}

fn load() -> Result<Objects, AuditError> {
    let generation = GENERATION.get();
    let found = Spi::get_two::<Oid, String>(include_str!("../../sql/queries/extension_schema.sql"))
        .map_err(AuditError::spi("could not find the extension's schema"))?;
    let (Some(namespace), Some(schema)) = found else {
        return Err(broken("the extension is not installed in this database"));
    };
    // SAFETY: plain catalog look-ups by name in the extension's schema.
    let (audit_log, audit_table, sequence) = unsafe {
        (
            pg_sys::get_relname_relid(c"audit_log".as_ptr(), namespace),
            pg_sys::get_relname_relid(c"audit_table".as_ptr(), namespace),
            pg_sys::get_relname_relid(c"audit_log_id_seq".as_ptr(), namespace),
        )
    };
    if [audit_log, audit_table, sequence].contains(&Oid::INVALID) {
        return Err(broken(
            "audit_log, audit_table or audit_log_id_seq is missing",
        ));
    }
    let mcxt = pg::cache_context(c"lead_audit objects");
    let mut objs = Objects {
        schema,
        audit_log,
        audit_table,
        sequence,
        namespace,
        shape: row::Shape::Current,
        indexes: Vec::new(),
        tupdesc: std::ptr::null_mut(),
        generation,
        mcxt,
    };
    // SAFETY: audit_log exists (looked up above); it is opened here, read,
    // and closed with its lock kept to the end of the transaction.
    unsafe {
        let rel = pg_sys::table_open(audit_log, pg_sys::RowExclusiveLock as i32);
        let checked = check_columns(rel).and_then(|shape| Ok((shape, index_targets(rel, mcxt)?)));
        let old = pg_sys::MemoryContextSwitchTo(mcxt);
        objs.tupdesc = pg_sys::CreateTupleDescCopy((*rel).rd_att);
        pg_sys::MemoryContextSwitchTo(old);
        pg_sys::table_close(rel, pg_sys::NoLock as i32);
        (objs.shape, objs.indexes) = checked?;
    }
    Ok(objs)
}

fn broken(reason: &str) -> AuditError {
    AuditError::BrokenInstall {
        reason: reason.to_string(),
    }
}

/// audit_log must still have exactly the columns of a version this one writes.
///
/// # Safety
/// `rel` must be an open relation.
unsafe fn check_columns(rel: pg_sys::Relation) -> Result<row::Shape, AuditError> {
    // SAFETY: an open relation has a valid descriptor with `natts` attributes.
    let attrs = unsafe { pg::attrs((*rel).rd_att) };
    let columns = attrs.iter().map(|a| {
        (
            pgrx::name_data_to_str(&a.attname),
            a.atttypid,
            a.attisdropped,
        )
    });
    row::shape(columns).ok_or_else(|| {
        broken("audit_log does not have the columns this version of lead_audit writes (was it altered?)")
    })
}

/// Every index of audit_log, with what index_insert needs. Indexes on
/// expressions or with predicates would need the executor: refuse them loudly.
///
/// # Safety
/// `rel` must be an open relation; `mcxt` a context that outlives the result.
unsafe fn index_targets(
    rel: pg_sys::Relation,
    mcxt: pg_sys::MemoryContext,
) -> Result<Vec<IndexTarget>, AuditError> {
    // SAFETY: RelationGetIndexList returns NULL or a valid OID list.
    let oids: Vec<Oid> = unsafe {
        let list = pg_sys::RelationGetIndexList(rel);
        if list.is_null() {
            Vec::new()
        } else {
            (0..(*list).length as usize)
                .map(|i| (*(*list).elements.add(i)).oid_value)
                .collect()
        }
    };
    let mut targets = Vec::with_capacity(oids.len());
    for oid in oids {
        // SAFETY: the oid is one of rel's indexes; it is opened and closed
        // here, and its IndexInfo built in `mcxt`, which outlives the targets.
        let target = unsafe {
            let irel = pg_sys::index_open(oid, pg_sys::RowExclusiveLock as i32);
            let old = pg_sys::MemoryContextSwitchTo(mcxt);
            let info = pg_sys::BuildIndexInfo(irel);
            pg_sys::MemoryContextSwitchTo(old);
            let name = pgrx::name_data_to_str(&(*(*irel).rd_rel).relname).to_string();
            let summarizing = (*(*irel).rd_rel).relam == pg_sys::BRIN_AM_OID;
            pg_sys::index_close(irel, pg_sys::NoLock as i32);
            if !(*info).ii_Expressions.is_null()
                || !(*info).ii_Predicate.is_null()
                || !(*info).ii_ExclusionOps.is_null()
            {
                return Err(broken(&format!(
                    "index \"{name}\" on audit_log uses expressions, a predicate or an exclusion constraint, which lead_audit cannot maintain; drop it"
                )));
            }
            let n = (*info).ii_NumIndexAttrs as usize;
            IndexTarget {
                oid,
                columns: (&(*info).ii_IndexAttrNumbers)[..n]
                    .iter()
                    .map(|&a| a as usize - 1)
                    .collect(),
                unique: (*info).ii_Unique,
                summarizing,
                info,
            }
        };
        targets.push(target);
    }
    Ok(targets)
}
