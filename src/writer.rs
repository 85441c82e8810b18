//! Appending rows to `audit_log`.
//!
//! The trigger writes with a direct heap insert plus index inserts: no SPI, no
//! executor start-up per row, and no INSERT privilege needed, so `audit_log`
//! can stay closed to every role while their changes are still recorded.
//! What the insert needs (oids, the index list and each index's IndexInfo) is
//! looked up once per backend and dropped when a relcache invalidation names
//! `audit_log` or one of its indexes.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::prelude::*;

use crate::checksum;
use crate::error::AuditError;

/// How a column of `audit_log` is typed (and rendered in the canonical form).
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum Kind {
    Int8,
    TimestampTz,
    Oid,
    Text,
    Jsonb,
    TextArray,
    Inet,
    Checksum,
}

impl Kind {
    fn type_oid(self) -> Oid {
        match self {
            Kind::Int8 => pg_sys::INT8OID,
            Kind::TimestampTz => pg_sys::TIMESTAMPTZOID,
            Kind::Oid => pg_sys::OIDOID,
            Kind::Text => pg_sys::TEXTOID,
            Kind::Jsonb => pg_sys::JSONBOID,
            Kind::TextArray => pg_sys::TEXTARRAYOID,
            Kind::Inet => pg_sys::INETOID,
            Kind::Checksum => pg_sys::BYTEAOID,
        }
    }
}

/// The columns of `audit_log`, in table order (see sql/schema.sql).
pub const COLUMNS: [(&str, Kind); NCOLS] = [
    ("id", Kind::Int8),
    ("tx_id", Kind::Int8),
    ("logged_at", Kind::TimestampTz),
    ("table_oid", Kind::Oid),
    ("table_name", Kind::Text),
    ("action", Kind::Text),
    ("soft_delete", Kind::Text),
    ("record_pk", Kind::Jsonb),
    ("old_values", Kind::Jsonb),
    ("new_values", Kind::Jsonb),
    ("changed_columns", Kind::TextArray),
    ("actor_id", Kind::Text),
    ("client_ip", Kind::Inet),
    ("user_agent", Kind::Text),
    ("request_id", Kind::Text),
    ("context", Kind::Jsonb),
    ("db_user", Kind::Text),
    ("application_name", Kind::Text),
    ("checksum", Kind::Checksum),
];

pub const NCOLS: usize = 19;

/// Column positions in [`COLUMNS`].
pub mod col {
    pub const ID: usize = 0;
    pub const TX_ID: usize = 1;
    pub const LOGGED_AT: usize = 2;
    pub const TABLE_OID: usize = 3;
    pub const TABLE_NAME: usize = 4;
    pub const ACTION: usize = 5;
    pub const SOFT_DELETE: usize = 6;
    pub const RECORD_PK: usize = 7;
    pub const OLD_VALUES: usize = 8;
    pub const NEW_VALUES: usize = 9;
    pub const CHANGED_COLUMNS: usize = 10;
    pub const ACTOR_ID: usize = 11;
    pub const CLIENT_IP: usize = 12;
    pub const USER_AGENT: usize = 13;
    pub const REQUEST_ID: usize = 14;
    pub const CONTEXT: usize = 15;
    pub const DB_USER: usize = 16;
    pub const APPLICATION_NAME: usize = 17;
    pub const CHECKSUM: usize = 18;
}

/// One audit row being assembled; every column starts NULL.
pub struct Row {
    pub values: [Datum; NCOLS],
    pub nulls: [bool; NCOLS],
}

impl Row {
    pub fn new() -> Self {
        Row {
            values: [Datum::from(0); NCOLS],
            nulls: [true; NCOLS],
        }
    }

    pub fn set(&mut self, column: usize, value: Datum) {
        self.values[column] = value;
        self.nulls[column] = false;
    }

    pub fn set_opt(&mut self, column: usize, value: Option<Datum>) {
        if let Some(v) = value {
            self.set(column, v);
        }
    }
}

/// The extension's objects in this database, found once per backend.
pub struct Objects {
    /// The extension's schema, quoted for use in SQL.
    pub schema: String,
    pub audit_log: Oid,
    pub audit_table: Oid,
    sequence: Oid,
    indexes: Vec<IndexTarget>,
    generation: u64,
    mcxt: pg_sys::MemoryContext,
}

struct IndexTarget {
    oid: Oid,
    /// 0-based audit_log columns, in index key order.
    columns: Vec<usize>,
    unique: bool,
    info: *mut pg_sys::IndexInfo,
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

/// Relcache invalidation: forget the objects if `relid` is one of them.
pub fn invalidate(relid: Oid) {
    OBJECTS.with_borrow_mut(|o| {
        let hit = match o {
            None => false,
            Some(objs) => {
                relid == Oid::INVALID
                    || relid == objs.audit_log
                    || relid == objs.audit_table
                    || objs.indexes.iter().any(|i| i.oid == relid)
            }
        };
        if hit {
            *o = None;
            GENERATION.set(GENERATION.get() + 1);
        }
    });
}

/// The extension's objects, looked up when not cached.
pub fn objects() -> Rc<Objects> {
    if let Some(o) = OBJECTS.with_borrow(|o| o.clone()) {
        return o;
    }
    let objs = Rc::new(load_objects());
    if objs.generation == GENERATION.get() {
        OBJECTS.with_borrow_mut(|o| *o = Some(objs.clone()));
    }
    objs
}

fn load_objects() -> Objects {
    let generation = GENERATION.get();
    let found = Spi::get_two::<pg_sys::Oid, String>(
        "SELECT e.extnamespace, pg_catalog.quote_ident(n.nspname) \
         FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname = 'lead_audit'",
    );
    let (namespace, schema) = match found {
        Ok((Some(namespace), Some(schema))) => (namespace, schema),
        _ => broken("the extension is not installed in this database"),
    };
    // SAFETY: plain catalog look-ups by name in the extension's schema.
    let (audit_log, audit_table, sequence) = unsafe {
        (
            pg_sys::get_relname_relid(c"audit_log".as_ptr(), namespace),
            pg_sys::get_relname_relid(c"audit_table".as_ptr(), namespace),
            pg_sys::get_relname_relid(c"audit_log_id_seq".as_ptr(), namespace),
        )
    };
    if audit_log == Oid::INVALID || audit_table == Oid::INVALID || sequence == Oid::INVALID {
        broken("audit_log, audit_table or audit_log_id_seq is missing");
    }
    let mcxt = crate::catalog::cache_context(c"lead_audit audit_log");
    let mut objs = Objects {
        schema,
        audit_log,
        audit_table,
        sequence,
        indexes: Vec::new(),
        generation,
        mcxt,
    };
    // SAFETY: audit_log exists (looked up above); it is opened and closed here.
    unsafe {
        let rel = pg_sys::table_open(audit_log, pg_sys::RowExclusiveLock as i32);
        check_columns(rel);
        objs.indexes = index_targets(rel, mcxt);
        pg_sys::table_close(rel, pg_sys::NoLock as i32);
    }
    objs
}

fn broken(reason: &str) -> ! {
    AuditError::BrokenInstall {
        reason: reason.to_string(),
    }
    .report()
}

/// audit_log must still have exactly the columns this version writes.
unsafe fn check_columns(rel: pg_sys::Relation) {
    let desc = (*rel).rd_att;
    let natts = (*desc).natts as usize;
    let attrs = (*desc).attrs.as_slice(natts);
    let ok = natts == NCOLS
        && attrs.iter().zip(COLUMNS.iter()).all(|(a, (name, kind))| {
            !a.attisdropped
                && a.atttypid == kind.type_oid()
                && pgrx::name_data_to_str(&a.attname) == *name
        });
    if !ok {
        broken("audit_log does not have the columns this version of lead_audit writes (was it altered?)");
    }
}

/// Every index of audit_log, with what index_insert needs. Indexes on
/// expressions or with predicates would need the executor: refuse them loudly.
unsafe fn index_targets(rel: pg_sys::Relation, mcxt: pg_sys::MemoryContext) -> Vec<IndexTarget> {
    let list = pg_sys::RelationGetIndexList(rel);
    let oids: Vec<Oid> = if list.is_null() {
        Vec::new()
    } else {
        (0..(*list).length as usize)
            .map(|i| (*(*list).elements.add(i)).oid_value)
            .collect()
    };
    let mut targets = Vec::with_capacity(oids.len());
    for oid in oids {
        let irel = pg_sys::index_open(oid, pg_sys::RowExclusiveLock as i32);
        let old = pg_sys::MemoryContextSwitchTo(mcxt);
        let info = pg_sys::BuildIndexInfo(irel);
        pg_sys::MemoryContextSwitchTo(old);
        if !(*info).ii_Expressions.is_null()
            || !(*info).ii_Predicate.is_null()
            || !(*info).ii_ExclusionOps.is_null()
        {
            let name = pgrx::name_data_to_str(&(*(*irel).rd_rel).relname).to_string();
            pg_sys::index_close(irel, pg_sys::NoLock as i32);
            broken(&format!(
                "index \"{name}\" on audit_log uses expressions, a predicate or an exclusion constraint, which lead_audit cannot maintain; drop it"
            ));
        }
        let n = (*info).ii_NumIndexAttrs as usize;
        let columns = (&(*info).ii_IndexAttrNumbers)[..n]
            .iter()
            .map(|&a| a as usize - 1)
            .collect();
        targets.push(IndexTarget {
            oid,
            columns,
            unique: (*info).ii_Unique,
            info,
        });
        pg_sys::index_close(irel, pg_sys::NoLock as i32);
    }
    targets
}

extern "C-unwind" {
    // commands/sequence.h; not in pgrx's bindings. `check_permissions = false`
    // lets any role that writes an audited table take the next id.
    fn nextval_internal(relid: Oid, check_permissions: bool) -> i64;
}

/// Appends `row` to audit_log: assigns its id, seals it with its checksum and
/// inserts it with its index entries.
pub fn append(row: &mut Row) {
    for _ in 0..5 {
        let objs = objects();
        // SAFETY: the oids come from the cache, which invalidation keeps current;
        // relations are opened with locks and closed before returning.
        unsafe {
            let rel = pg_sys::table_open(objs.audit_log, pg_sys::RowExclusiveLock as i32);
            let irels: Vec<pg_sys::Relation> = objs
                .indexes
                .iter()
                .map(|i| pg_sys::index_open(i.oid, pg_sys::RowExclusiveLock as i32))
                .collect();
            if GENERATION.get() != objs.generation {
                // Opening took a lock that brought an invalidation: look again.
                irels
                    .into_iter()
                    .for_each(|i| pg_sys::index_close(i, pg_sys::NoLock as i32));
                pg_sys::table_close(rel, pg_sys::NoLock as i32);
                continue;
            }
            write(&objs, rel, &irels, row);
            irels
                .into_iter()
                .for_each(|i| pg_sys::index_close(i, pg_sys::NoLock as i32));
            pg_sys::table_close(rel, pg_sys::NoLock as i32);
        }
        return;
    }
    broken("audit_log keeps changing under concurrent DDL; retry");
}

unsafe fn write(objs: &Objects, rel: pg_sys::Relation, irels: &[pg_sys::Relation], row: &mut Row) {
    row.set(col::ID, Datum::from(nextval_internal(objs.sequence, false)));
    let sum = checksum::row_checksum(&row.values, &row.nulls);
    row.set(col::CHECKSUM, bytea(&sum));
    let tuple = pg_sys::heap_form_tuple(
        (*rel).rd_att,
        row.values.as_mut_ptr(),
        row.nulls.as_mut_ptr(),
    );
    pg_sys::simple_heap_insert(rel, tuple);
    for (target, &irel) in objs.indexes.iter().zip(irels) {
        if !(*target.info).ii_ReadyForInserts {
            continue;
        }
        let mut values: Vec<Datum> = target.columns.iter().map(|&c| row.values[c]).collect();
        let mut nulls: Vec<bool> = target.columns.iter().map(|&c| row.nulls[c]).collect();
        let check = if target.unique {
            pg_sys::IndexUniqueCheck::UNIQUE_CHECK_YES
        } else {
            pg_sys::IndexUniqueCheck::UNIQUE_CHECK_NO
        };
        insert_index_entry(
            irel,
            &mut values,
            &mut nulls,
            &mut (*tuple).t_self,
            rel,
            check,
            target.info,
        );
    }
    pg_sys::heap_freetuple(tuple);
}

unsafe fn insert_index_entry(
    irel: pg_sys::Relation,
    values: &mut [Datum],
    nulls: &mut [bool],
    tid: pg_sys::ItemPointer,
    rel: pg_sys::Relation,
    check: pg_sys::IndexUniqueCheck::Type,
    info: *mut pg_sys::IndexInfo,
) {
    let (values, nulls) = (values.as_mut_ptr(), nulls.as_mut_ptr());
    #[cfg(feature = "pg13")]
    pg_sys::index_insert(irel, values, nulls, tid, rel, check, info);
    // Since PostgreSQL 14 index_insert takes `indexUnchanged` (a hint for UPDATEs).
    #[cfg(not(feature = "pg13"))]
    pg_sys::index_insert(irel, values, nulls, tid, rel, check, false, info);
    // PostgreSQL 17 lets an index keep insert state (and buffer pins) until cleanup.
    #[cfg(feature = "pg17")]
    pg_sys::index_insert_cleanup(irel, info);
}

/// A bytea datum (palloc'd) holding `bytes`.
pub fn bytea(bytes: &[u8]) -> Datum {
    // SAFETY: a fresh varlena of the right size, filled completely.
    unsafe {
        let len = bytes.len() + pg_sys::VARHDRSZ;
        let p = pg_sys::palloc(len).cast::<u8>();
        pgrx::set_varsize_4b(p.cast(), len as i32);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(pg_sys::VARHDRSZ), bytes.len());
        Datum::from(p)
    }
}
