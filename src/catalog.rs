//! What the triggers need to know about an audited table, looked up once per
//! backend and table and dropped when PostgreSQL invalidates the table's
//! relcache entry (any ALTER TABLE, and `audit_enable` changing its settings).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::rc::Rc;

use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::prelude::*;

use crate::json::{self, Converter};
use crate::writer;

/// How a soft-delete column marks a row as deleted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SoftDeleteKind {
    /// A boolean such as `is_deleted`: deleted when true.
    Flag,
    /// A timestamp such as `deleted_at`: deleted when not NULL.
    Timestamp,
}

pub struct Column {
    /// The column name: the key of its value in the JSON objects.
    pub key: CString,
    pub dropped: bool,
    pub typlen: i16,
    pub typbyval: bool,
    pub conv: Option<Converter>,
}

pub struct TableInfo {
    pub relid: Oid,
    /// The schema-qualified name as a text datum (lives in `mcxt`).
    pub name: Datum,
    /// One entry per attribute of the relation, in attribute order.
    pub columns: Vec<Column>,
    /// Live attribute indexes in jsonb key order (what `ObjectBuilder` needs).
    pub json_order: Vec<usize>,
    /// Attribute indexes of the primary key, in jsonb key order; empty without one.
    pub pk: Vec<usize>,
    pub soft_delete: Option<(usize, SoftDeleteKind)>,
    /// Whether TRUNCATE records the content of the rows it removes.
    pub truncate_rows: bool,
    mcxt: pg_sys::MemoryContext,
}

impl Drop for TableInfo {
    fn drop(&mut self) {
        // SAFETY: the context belongs to this entry alone.
        unsafe { pg_sys::MemoryContextDelete(self.mcxt) };
    }
}

thread_local! {
    static TABLES: RefCell<HashMap<Oid, Rc<TableInfo>>> = RefCell::new(HashMap::new());
    /// Bumped by every invalidation, so an entry built while one arrived is not kept.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

pub fn register_invalidation() {
    // SAFETY: called once from _PG_init; the callback lives as long as the library.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache_invalidation), Datum::from(0))
    };
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: Datum, relid: Oid) {
    GENERATION.set(GENERATION.get() + 1);
    TABLES.with_borrow_mut(|t| {
        if relid == Oid::INVALID {
            t.clear();
        } else {
            t.remove(&relid);
        }
    });
    writer::invalidate(relid);
}

/// The cached description of `rel` (an audited table or one of its partitions).
///
/// # Safety
/// `rel` must be an open relation.
pub unsafe fn table_info(rel: pg_sys::Relation) -> Rc<TableInfo> {
    let relid = (*rel).rd_id;
    if let Some(info) = TABLES.with_borrow(|t| t.get(&relid).cloned()) {
        return info;
    }
    let generation = GENERATION.get();
    let info = Rc::new(load(rel));
    if generation == GENERATION.get() {
        TABLES.with_borrow_mut(|t| t.insert(relid, info.clone()));
    }
    info
}

/// A child of CacheMemoryContext for long-lived per-backend state.
pub fn cache_context(name: &'static CStr) -> pg_sys::MemoryContext {
    // SAFETY: creating an AllocSet context under CacheMemoryContext has no preconditions.
    unsafe {
        pg_sys::AllocSetContextCreateInternal(
            pg_sys::CacheMemoryContext,
            name.as_ptr(),
            pg_sys::ALLOCSET_SMALL_MINSIZE as usize,
            pg_sys::ALLOCSET_SMALL_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        )
    }
}

unsafe fn load(rel: pg_sys::Relation) -> TableInfo {
    let relid = (*rel).rd_id;
    let (soft_delete_column, truncate_rows) = settings(relid);
    let mcxt = cache_context(c"lead_audit table");
    let desc = (*rel).rd_att;
    let natts = (*desc).natts as usize;
    let columns: Vec<Column> = (*desc)
        .attrs
        .as_slice(natts)
        .iter()
        .map(|a| Column {
            key: CString::from(CStr::from_ptr(a.attname.data.as_ptr())),
            dropped: a.attisdropped,
            typlen: a.attlen,
            typbyval: a.attbyval,
            conv: (!a.attisdropped).then(|| Converter::for_type(a.atttypid, a.attcollation, mcxt)),
        })
        .collect();
    let soft_delete = soft_delete_column.and_then(|name| {
        let i = columns
            .iter()
            .position(|c| !c.dropped && c.key.to_bytes() == name.as_bytes())?;
        let kind = match (*desc).attrs.as_slice(natts)[i].atttypid {
            pg_sys::BOOLOID => SoftDeleteKind::Flag,
            pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID | pg_sys::DATEOID => {
                SoftDeleteKind::Timestamp
            }
            _ => return None,
        };
        Some((i, kind))
    });
    let by_key = |a: &usize, b: &usize| {
        json::jsonb_key_order(columns[*a].key.to_bytes(), columns[*b].key.to_bytes())
    };
    let mut json_order: Vec<usize> = (0..columns.len())
        .filter(|&i| !columns[i].dropped)
        .collect();
    json_order.sort_by(by_key);
    let mut pk = primary_key(rel);
    pk.sort_by(by_key);
    TableInfo {
        relid,
        name: qualified_name(rel, mcxt),
        columns,
        json_order,
        pk,
        soft_delete,
        truncate_rows,
        mcxt,
    }
}

/// The table's settings from audit_table, inherited from the nearest audited
/// ancestor for a partition. A table with our trigger but no settings row
/// (trigger created by hand) is audited with the defaults.
fn settings(relid: Oid) -> (Option<String>, bool) {
    let schema = writer::objects().schema.clone();
    let query = format!(
        "SELECT t.soft_delete_column::text, t.truncate_rows \
         FROM (SELECT $1::pg_catalog.regclass, 0::bigint \
               UNION ALL \
               SELECT * FROM pg_catalog.pg_partition_ancestors($1) WITH ORDINALITY) AS a(relid, n) \
         JOIN {schema}.audit_table t ON t.relid OPERATOR(pg_catalog.=) a.relid \
         ORDER BY a.n LIMIT 1"
    );
    let found = Spi::connect(|client| {
        let rows = client.select(&query, Some(1), &[relid.into()])?;
        if rows.is_empty() {
            return Ok::<_, pgrx::spi::SpiError>(None);
        }
        let row = rows.first();
        Ok(Some((
            row.get::<String>(1)?,
            row.get::<bool>(2)?.unwrap_or(true),
        )))
    });
    match found {
        Ok(Some(s)) => s,
        Ok(None) => (None, true),
        Err(e) => pgrx::error!("lead_audit: could not read the settings of table {relid:?}: {e}"),
    }
}

unsafe fn qualified_name(rel: pg_sys::Relation, mcxt: pg_sys::MemoryContext) -> Datum {
    let nsp = pg_sys::get_namespace_name((*(*rel).rd_rel).relnamespace);
    let name = pg_sys::quote_qualified_identifier(nsp, (*(*rel).rd_rel).relname.data.as_ptr());
    let old = pg_sys::MemoryContextSwitchTo(mcxt);
    let text = pg_sys::cstring_to_text(name);
    pg_sys::MemoryContextSwitchTo(old);
    Datum::from(text)
}

/// Attribute indexes (0-based) of the primary key, in key order.
unsafe fn primary_key(rel: pg_sys::Relation) -> Vec<usize> {
    let pk = pg_sys::RelationGetPrimaryKeyIndex(rel);
    if pk == Oid::INVALID {
        return Vec::new();
    }
    let irel = pg_sys::index_open(pk, pg_sys::AccessShareLock as i32);
    let index = (*irel).rd_index;
    let nkeys = (*index).indnkeyatts as usize;
    let cols = (*index)
        .indkey
        .values
        .as_slice(nkeys)
        .iter()
        .map(|&a| a as usize - 1)
        .collect();
    pg_sys::index_close(irel, pg_sys::AccessShareLock as i32);
    cols
}

/// Tells every backend to drop its cached description of `table`; called by
/// `audit_enable` / `audit_disable` when a table's settings change.
#[pg_extern(name = "_audit_invalidate", strict)]
fn audit_invalidate(table: Oid) {
    // SAFETY: queues a relcache invalidation, harmless for any oid.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(table) };
}
