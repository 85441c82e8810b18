//! What the triggers need to know about an audited table, looked up once per
//! backend and table and dropped when PostgreSQL invalidates the table's
//! relcache entry (any ALTER TABLE, and `audit_enable` changing its settings):
//! `hooks` tells [`forget`] about every invalidation.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::rc::Rc;

use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::prelude::*;

use crate::audit_log::objects;
use crate::error::{AuditError, OrReport};
use crate::forms::jsonb_text;
use crate::jsonb::convert::{self, Converter, Function};
use crate::pg;
use crate::pg::recent::Recent;

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
    /// The key as an object's text prints it, before its value (`"key": `),
    /// made once for every row's checksum.
    pub key_text: Box<[u8]>,
    pub dropped: bool,
    /// Named by the table's `exclude` option: never recorded, and a change
    /// to it alone writes nothing.
    pub excluded: bool,
    /// Named by the `redact` option: recorded as a keyed hash of its text
    /// form, made with this output function.
    pub redact: Option<Function>,
    pub typlen: i16,
    pub typbyval: bool,
    pub conv: Option<Converter>,
}

/// What names a record in `record_pk`: the primary key; else the replica
/// identity index (`REPLICA IDENTITY USING INDEX`); else, as `REPLICA
/// IDENTITY FULL` does, the whole row as recorded (excluded columns left
/// out, redacted ones as their keyed hash). The SQL function
/// `_audit_record_key()` names the same choice for the log.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeySource {
    PrimaryKey,
    ReplicaIdentity,
    FullRow,
}

pub struct TableInfo {
    pub relid: Oid,
    /// The schema-qualified name as a text datum (lives in `mcxt`).
    pub name: Datum,
    /// One entry per attribute of the relation, in attribute order.
    pub columns: Vec<Column>,
    /// Recorded attribute indexes (live, not excluded) in jsonb key order
    /// (what `ObjectBuilder` needs).
    pub json_order: Vec<usize>,
    /// Attribute indexes of the record's key (`record_pk`), in jsonb key
    /// order: see [`KeySource`].
    pub pk: Vec<usize>,
    /// Where the key comes from.
    pub key_source: KeySource,
    pub soft_delete: Option<(usize, SoftDeleteKind)>,
    /// Whether TRUNCATE records the content of the rows it removes.
    pub truncate_rows: bool,
    /// Whether an UPDATE records the whole old and new row, not only the
    /// changed columns.
    pub full_rows: bool,
    /// The redaction secret, when a column is redacted.
    pub secret: Option<Vec<u8>>,
    /// The bookkeeping columns the `stamp` option fills, when it is on.
    pub stamp: Option<StampColumns>,
    /// The text[]s of the last lists of changed columns' names made (in
    /// `mcxt`): see [`TableInfo::names_array`].
    names_arrays: RefCell<Recent<Vec<usize>, Datum>>,
    mcxt: pg_sys::MemoryContext,
}

impl TableInfo {
    /// The text[] of the names of `columns` (an UPDATE's changed columns),
    /// valid until the next call: building it (a text per name, then the
    /// array) for every row of a bulk UPDATE, which repeats a few lists,
    /// showed in the statement's profile.
    pub fn names_array(&self, columns: &[usize]) -> Datum {
        let make = || {
            // SAFETY: `mcxt` lives as long as this entry; construct_array
            // copies the texts, which are freed once it has.
            let array = unsafe {
                let old = pg_sys::MemoryContextSwitchTo(self.mcxt);
                let mut elems: Vec<Datum> = columns
                    .iter()
                    .map(|&i| pg::text_datum(self.columns[i].key.to_bytes()))
                    .collect();
                let array = pg_sys::construct_array(
                    elems.as_mut_ptr(),
                    elems.len() as i32,
                    pg_sys::TEXTOID,
                    -1,
                    false,
                    pg_sys::TYPALIGN_INT as std::ffi::c_char,
                );
                elems.iter().for_each(|e| pg_sys::pfree(e.cast_mut_ptr()));
                pg_sys::MemoryContextSwitchTo(old);
                Datum::from(array)
            };
            (columns.to_vec(), array)
        };
        // SAFETY: an evicted array was made in `mcxt` and handed out only
        // until a later call (the row it went to was formed into a tuple since).
        let evict = |array: Datum| unsafe { pg_sys::pfree(array.cast_mut_ptr()) };
        *self
            .names_arrays
            .borrow_mut()
            .get_or_make(columns, make, evict)
    }
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

/// Relcache invalidation: drop the cached description of `relid` (of every
/// table for `InvalidOid`).
pub fn forget(relid: Oid) {
    GENERATION.set(GENERATION.get() + 1);
    TABLES.with_borrow_mut(|t| {
        if relid == Oid::INVALID {
            t.clear();
        } else {
            t.remove(&relid);
        }
    });
}

/// The cached description of `rel` (an audited table or one of its partitions).
///
/// # Safety
/// `rel` must be an open relation.
pub unsafe fn table_info(rel: pg_sys::Relation) -> Rc<TableInfo> {
    // SAFETY: the caller guarantees an open relation.
    let relid = unsafe { (*rel).rd_id };
    if let Some(info) = TABLES.with_borrow(|t| t.get(&relid).cloned()) {
        return info;
    }
    let generation = GENERATION.get();
    // SAFETY: as above.
    let info = Rc::new(unsafe { load(rel) });
    if generation == GENERATION.get() {
        TABLES.with_borrow_mut(|t| t.insert(relid, info.clone()));
    }
    info
}

/// # Safety
/// `rel` must be an open relation.
unsafe fn load(rel: pg_sys::Relation) -> TableInfo {
    // SAFETY: an open relation (the caller's contract) has a valid descriptor.
    let (relid, attrs) = unsafe { ((*rel).rd_id, pg::attrs((*rel).rd_att)) };
    let settings = settings(relid).or_report();
    let mcxt = pg::cache_context(c"lead_audit table");
    // SAFETY: an open relation (the caller's contract).
    let (key_source, pk_columns) = unsafe { record_key(rel) };
    let named = |list: &[String], a: &pg_sys::FormData_pg_attribute, i: usize| {
        // SAFETY: attname is a NUL-terminated NameData.
        let name = unsafe { CStr::from_ptr(a.attname.data.as_ptr()) };
        // The key is always recorded, whatever the options say.
        !pk_columns.contains(&i) && list.iter().any(|n| n.as_bytes() == name.to_bytes())
    };
    let columns: Vec<Column> = attrs
        .iter()
        .enumerate()
        .map(|(i, a)| Column {
            // SAFETY: attname is a NUL-terminated NameData.
            key: CString::from(unsafe { CStr::from_ptr(a.attname.data.as_ptr()) }),
            // SAFETY: as above.
            key_text: jsonb_text::object_key(
                unsafe { CStr::from_ptr(a.attname.data.as_ptr()) }.to_bytes(),
            ),
            dropped: a.attisdropped,
            excluded: !a.attisdropped && named(&settings.exclude, a, i),
            // SAFETY: the column's type exists; `mcxt` lives as long as this entry.
            redact: (!a.attisdropped && named(&settings.redact, a, i))
                .then(|| unsafe { convert::output_function(a.atttypid, mcxt) }),
            typlen: a.attlen,
            typbyval: a.attbyval,
            // SAFETY: the column's type exists; `mcxt` lives as long as this entry.
            conv: (!a.attisdropped)
                .then(|| unsafe { Converter::for_type(a.atttypid, a.attcollation, mcxt) }),
        })
        .collect();
    let secret = columns
        .iter()
        .any(|c| c.redact.is_some())
        .then(super::redact::secret);
    // SAFETY: `attrs` are the relation's; `mcxt` lives as long as this entry.
    let stamp = settings
        .stamp
        .then(|| unsafe { stamp_columns(&settings.stamp_columns, &columns, attrs, mcxt) });
    let soft_delete_column = settings.soft_delete_column;
    let truncate_rows = settings.truncate_rows;
    let soft_delete = soft_delete_column.and_then(|name| {
        let i = columns
            .iter()
            .position(|c| !c.dropped && c.key.to_bytes() == name.as_bytes())?;
        let kind = match attrs[i].atttypid {
            pg_sys::BOOLOID => SoftDeleteKind::Flag,
            pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID | pg_sys::DATEOID => {
                SoftDeleteKind::Timestamp
            }
            _ => return None,
        };
        Some((i, kind))
    });
    let by_key = |a: &usize, b: &usize| {
        convert::jsonb_key_order(columns[*a].key.to_bytes(), columns[*b].key.to_bytes())
    };
    let mut json_order: Vec<usize> = (0..columns.len())
        .filter(|&i| !columns[i].dropped && !columns[i].excluded)
        .collect();
    json_order.sort_by(by_key);
    // SAFETY: an open relation; its name is copied into `mcxt`.
    let name = unsafe { qualified_name(rel, mcxt) };
    let mut pk = match key_source {
        KeySource::FullRow => json_order.clone(),
        _ => pk_columns,
    };
    pk.sort_by(by_key);
    TableInfo {
        relid,
        name,
        columns,
        json_order,
        pk,
        key_source,
        soft_delete,
        truncate_rows,
        full_rows: settings.full_rows,
        secret,
        stamp,
        names_arrays: RefCell::new(Recent::new(4)),
        mcxt,
    }
}

/// The bookkeeping columns, by role, in this order (their default names).
pub const STAMP_ROLES: [&str; 6] = [
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "deleted_at",
    "deleted_by",
];

/// A bookkeeping column found in the table.
pub struct StampColumn {
    /// Attribute index.
    pub index: usize,
    pub typid: Oid,
    pub typmod: i32,
    /// For an `*_by` column: the type's input function (the actor id is text)
    /// and its I/O parameter.
    pub input: Option<(Function, Oid)>,
}

/// The `stamp` option's columns, by [`STAMP_ROLES`]: None where the table
/// has no such column.
pub type StampColumns = [Option<StampColumn>; 6];

/// # Safety
/// `attrs` must be the relation's attributes, matching `columns`; `mcxt` a
/// context that lives as long as the result.
unsafe fn stamp_columns(
    names: &std::collections::BTreeMap<String, String>,
    columns: &[Column],
    attrs: &[pg_sys::FormData_pg_attribute],
    mcxt: pg_sys::MemoryContext,
) -> StampColumns {
    STAMP_ROLES.map(|role| {
        let name = names.get(role).map_or(role, String::as_str);
        let index = columns
            .iter()
            .position(|c| !c.dropped && c.key.to_bytes() == name.as_bytes())?;
        let a = &attrs[index];
        // SAFETY: the column's type exists and `mcxt` is valid (the caller's contract).
        let input = role
            .ends_with("_by")
            .then(|| unsafe { convert::input_function(a.atttypid, mcxt) });
        Some(StampColumn {
            index,
            typid: a.atttypid,
            typmod: a.atttypmod,
            input,
        })
    })
}

/// A table's options, as `audit_enable` stored them.
#[derive(Debug, PartialEq)]
struct Settings {
    stamp: bool,
    /// Column names by role, where they differ from the role's name.
    stamp_columns: std::collections::BTreeMap<String, String>,
    soft_delete_column: Option<String>,
    truncate_rows: bool,
    exclude: Vec<String>,
    redact: Vec<String>,
    full_rows: bool,
}

impl Default for Settings {
    /// The options of a table that was given none: the one place they are
    /// written. `audit_enable` reads them through `_audit_option_defaults()`,
    /// and [`Settings::from_row`] fills in what an older audit_table lacks.
    fn default() -> Self {
        Settings {
            stamp: false,
            stamp_columns: std::collections::BTreeMap::new(),
            soft_delete_column: None,
            truncate_rows: true,
            exclude: Vec::new(),
            redact: Vec::new(),
            full_rows: false,
        }
    }
}

impl Settings {
    /// The settings in an audit_table row (as `to_jsonb` gives it); a
    /// column this version's table lacks, or a NULL, has its default.
    fn from_row(row: &serde_json::Value) -> Settings {
        let d = Settings::default();
        let flag = |key: &str, default: bool| row[key].as_bool().unwrap_or(default);
        let names = |key: &str, default: Vec<String>| -> Vec<String> {
            row[key].as_array().map_or(default, |a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
        };
        Settings {
            stamp: flag("stamp", d.stamp),
            stamp_columns: row["stamp_columns"]
                .as_object()
                .map_or(d.stamp_columns, |o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                }),
            soft_delete_column: row["soft_delete_column"]
                .as_str()
                .map(String::from)
                .or(d.soft_delete_column),
            truncate_rows: flag("truncate_rows", d.truncate_rows),
            exclude: names("exclude", d.exclude),
            redact: names("redact", d.redact),
            full_rows: flag("full_rows", d.full_rows),
        }
    }

    /// The settings under audit_enable's names for them.
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "soft_delete_column": self.soft_delete_column,
            "truncate_rows": self.truncate_rows,
            "exclude": self.exclude,
            "redact": self.redact,
            "full_rows": self.full_rows,
            "stamp": self.stamp,
            "stamp_columns": self.stamp_columns,
        })
    }
}

/// The options' defaults, which `audit_enable` gives a table it audits for
/// the first time (see [`Settings::default`]).
#[pg_extern(name = "_audit_option_defaults", immutable, parallel_safe)]
fn option_defaults() -> pgrx::JsonB {
    pgrx::JsonB(Settings::default().to_json())
}

/// The `stamp` option's roles, in order ([`STAMP_ROLES`]): what
/// `audit_enable` checks `stamp_columns` against.
#[pg_extern(name = "_audit_stamp_roles", immutable, parallel_safe)]
fn stamp_roles() -> Vec<&'static str> {
    STAMP_ROLES.to_vec()
}

/// The table's settings from audit_table, inherited from the nearest audited
/// ancestor for a partition. A table with our trigger but no settings row
/// (trigger created by hand) is audited with the defaults.
fn settings(relid: Oid) -> Result<Settings, AuditError> {
    let query = objects::objects().sql(include_str!("../../sql/queries/table_settings.sql"));
    let found = Spi::connect(|client| {
        let rows = client.select(&query, Some(1), &[relid.into()])?;
        if rows.is_empty() {
            return Ok::<_, pgrx::spi::SpiError>(None);
        }
        rows.first().get::<String>(1)
    })
    .map_err(AuditError::spi(
        "could not read a table's settings from audit_table",
    ))?;
    // No row: the defaults. A row that does not read as JSON is an error, not
    // the defaults: those would drop the table's exclude and redact options.
    let Some(json) = found else {
        return Ok(Settings::default());
    };
    let row = serde_json::from_str(&json).map_err(|e| AuditError::BrokenInstall {
        reason: format!("a table's settings in audit_table do not read as JSON: {e}"),
    })?;
    Ok(Settings::from_row(&row))
}

/// # Safety
/// `rel` must be an open relation; `mcxt` a valid context.
unsafe fn qualified_name(rel: pg_sys::Relation, mcxt: pg_sys::MemoryContext) -> Datum {
    // SAFETY: the caller's contract; the quoted name is copied into `mcxt`.
    unsafe {
        let nsp = pg_sys::get_namespace_name((*(*rel).rd_rel).relnamespace);
        let name = pg_sys::quote_qualified_identifier(nsp, (*(*rel).rd_rel).relname.data.as_ptr());
        let old = pg_sys::MemoryContextSwitchTo(mcxt);
        let text = pg_sys::cstring_to_text(name);
        pg_sys::MemoryContextSwitchTo(old);
        Datum::from(text)
    }
}

/// Where the record's key comes from, and its attribute indexes (0-based,
/// in index order; none for the whole row).
///
/// # Safety
/// `rel` must be an open relation.
unsafe fn record_key(rel: pg_sys::Relation) -> (KeySource, Vec<usize>) {
    // SAFETY: the caller's contract.
    unsafe {
        let pk = pg::primary_key_index(rel);
        if pk != Oid::INVALID {
            return (KeySource::PrimaryKey, index_columns(pk));
        }
        if (*(*rel).rd_rel).relreplident == pg_sys::REPLICA_IDENTITY_INDEX as std::ffi::c_char {
            let replica = pg_sys::RelationGetReplicaIndex(rel);
            if replica != Oid::INVALID {
                return (KeySource::ReplicaIdentity, index_columns(replica));
            }
        }
        (KeySource::FullRow, Vec::new())
    }
}

/// Attribute indexes (0-based) of an index's key columns, in key order.
///
/// # Safety
/// `index` must be the oid of an index of a relation the caller has open.
unsafe fn index_columns(index: Oid) -> Vec<usize> {
    // SAFETY: the caller's contract; the index is opened and closed here.
    unsafe {
        let irel = pg_sys::index_open(index, pg_sys::AccessShareLock as i32);
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
}

/// Tells every backend to drop its cached description of `table`; called by
/// `audit_enable` / `audit_disable` when a table's settings change.
/// An oid that names no relation (dropped meanwhile, or 0) has nothing cached:
/// nothing to do.
#[pg_extern(name = "_audit_invalidate", strict)]
fn audit_invalidate(table: Oid) {
    // SAFETY: a syscache look-up by oid; NULL when there is no such relation.
    if unsafe { pg_sys::get_rel_name(table) }.is_null() {
        return;
    }
    // SAFETY: queues a relcache invalidation for an existing relation.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(table) };
}

#[cfg(test)]
mod unit {
    use super::Settings;

    #[test]
    fn settings_from_a_current_row() {
        let row = serde_json::json!({
            "relid": "leads", "soft_delete_column": "is_deleted", "truncate_rows": false,
            "exclude": ["score"], "redact": ["email", "phone"], "full_rows": true,
            "stamp": true, "stamp_columns": {"created_by": "author"}
        });
        let s = Settings::from_row(&row);
        assert_eq!(s.soft_delete_column.as_deref(), Some("is_deleted"));
        assert!(!s.truncate_rows && s.full_rows && s.stamp);
        assert_eq!(s.exclude, vec!["score"]);
        assert_eq!(s.redact, vec!["email", "phone"]);
        assert_eq!(
            s.stamp_columns.get("created_by").map(String::as_str),
            Some("author")
        );
        assert_eq!(Settings::from_row(&s.to_json()), s);
    }

    #[test]
    fn a_0_1_0_row_or_none_gets_the_defaults() {
        // 0.1.0's audit_table: no options columns; a NULL soft-delete column.
        let old = serde_json::json!({"relid": "leads", "soft_delete_column": null, "truncate_rows": true});
        assert_eq!(Settings::from_row(&old), Settings::default());
        // What audit_enable is given as the defaults reads back as them.
        assert_eq!(
            Settings::from_row(&Settings::default().to_json()),
            Settings::default()
        );
        let d = Settings::default();
        assert!(
            d.truncate_rows
                && !d.full_rows
                && !d.stamp
                && d.exclude.is_empty()
                && d.redact.is_empty()
        );
    }
}
