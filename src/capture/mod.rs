//! The triggers: each changed row of an audited table becomes one audit row.
//!
//! `audit_capture_row` is an AFTER ... FOR EACH ROW trigger (AFTER, so it sees
//! the row as committed by every BEFORE trigger, and COPY keeps its
//! multi-insert path). `audit_capture_truncate` is a BEFORE TRUNCATE statement
//! trigger: the only moment the removed rows can still be read.
//!
//! Data flows one way: tuple ([`tuple`](mod@tuple)) -> diff ([`diff`]) -> jsonb
//! (`jsonb::convert`) -> actor context (`actor`) -> audit row (`audit_log::row`)
//! -> writer.

mod diff;
mod redact;
mod scan;
mod stamp_columns;
mod table;
mod tuple;

pub use table::forget;

use std::rc::Rc;

use pgrx::pg_sys::{self, Datum};
use pgrx::prelude::*;

use crate::actor;
use crate::audit_log::row::{col, text_buffer, Row};
use crate::audit_log::stamp;
use crate::error::AuditError;
use crate::forms;
use crate::jsonb::convert::ObjectBuilder;
use crate::pg::{self, kept_text};
use crate::writer;
use table::{KeySource, SoftDeleteKind, TableInfo};
use tuple::Deformed;

// The two trigger functions are written out by hand rather than with
// #[pg_trigger]: called as anything but a trigger (`SELECT
// audit_capture_row()`), pgrx's wrapper fails with an internal error before
// our code runs; here the caller gets 39P01. Their SQL is in sql/api.sql.

/// `audit_capture_row()`: AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW.
///
/// # Safety
/// Called by PostgreSQL's function manager with a valid `fcinfo`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn audit_capture_row_wrapper(
    fcinfo: pg_sys::FunctionCallInfo,
) -> Datum {
    // SAFETY: the function manager's fcinfo.
    let td = unsafe { trigger_data(fcinfo, "audit_capture_row()") };
    let event = td.tg_event;
    if !pgrx::trigger_support::trigger_fired_after(event)
        || !pgrx::trigger_support::trigger_fired_for_row(event)
    {
        AuditError::WrongCall {
            function: "audit_capture_row()",
            reason: "must be an AFTER ... FOR EACH ROW trigger",
        }
        .report();
    }
    if actor::ENABLED.get() {
        // SAFETY: PostgreSQL passes a valid TriggerData with the tuples of this event.
        unsafe { capture_row(td) };
    } else {
        // SAFETY: as above.
        unsafe { count_unaudited(td.tg_relation, event) };
    }
    Datum::from(0) // an AFTER trigger's result is ignored
}

/// `audit_capture_truncate()`: BEFORE TRUNCATE ... FOR EACH STATEMENT.
///
/// # Safety
/// Called by PostgreSQL's function manager with a valid `fcinfo`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn audit_capture_truncate_wrapper(
    fcinfo: pg_sys::FunctionCallInfo,
) -> Datum {
    // SAFETY: the function manager's fcinfo.
    let td = unsafe { trigger_data(fcinfo, "audit_capture_truncate()") };
    let event = td.tg_event;
    if !pgrx::trigger_support::trigger_fired_by_truncate(event)
        || !pgrx::trigger_support::trigger_fired_before(event)
    {
        AuditError::WrongCall {
            function: "audit_capture_truncate()",
            reason: "must be a BEFORE TRUNCATE trigger",
        }
        .report();
    }
    if actor::ENABLED.get() {
        // SAFETY: PostgreSQL passes a valid TriggerData for the truncated relation.
        unsafe { capture_truncate(td.tg_relation) };
    } else {
        // SAFETY: as above.
        unsafe { count_unaudited(td.tg_relation, event) };
    }
    Datum::from(0) // a statement trigger returns NULL
}

/// `audit_stamp_row()`: BEFORE INSERT OR UPDATE ... FOR EACH ROW, installed
/// by the `stamp` option (see [`stamp_columns`]).
///
/// # Safety
/// Called by PostgreSQL's function manager with a valid `fcinfo`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn audit_stamp_row_wrapper(fcinfo: pg_sys::FunctionCallInfo) -> Datum {
    // SAFETY: the function manager's fcinfo.
    let td = unsafe { trigger_data(fcinfo, "audit_stamp_row()") };
    let event = td.tg_event;
    let op = event & pg_sys::TRIGGER_EVENT_OPMASK;
    if !pgrx::trigger_support::trigger_fired_before(event)
        || !pgrx::trigger_support::trigger_fired_for_row(event)
        || !(op == pg_sys::TRIGGER_EVENT_INSERT || op == pg_sys::TRIGGER_EVENT_UPDATE)
    {
        AuditError::WrongCall {
            function: "audit_stamp_row()",
            reason: "must be a BEFORE INSERT OR UPDATE ... FOR EACH ROW trigger",
        }
        .report();
    }
    // SAFETY: PostgreSQL passes a valid TriggerData with the tuples of this event.
    let tuple = unsafe { stamp_columns::stamp_row(td, op == pg_sys::TRIGGER_EVENT_INSERT) };
    Datum::from(tuple)
}

#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_audit_stamp_row_wrapper() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// Version-1 calling convention for both.
#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_audit_capture_row_wrapper() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_audit_capture_truncate_wrapper() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// The trigger manager's TriggerData, or 39P01 when the function was not
/// called by it.
///
/// # Safety
/// `fcinfo` must be the function manager's call info.
unsafe fn trigger_data<'a>(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &'static str,
) -> &'a pg_sys::TriggerData {
    // SAFETY: the caller's contract; a context node is checked by its tag
    // before it is read as TriggerData.
    unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_TriggerData {
            AuditError::WrongCall {
                function,
                reason: "can only be called as a trigger (audit_enable() installs it)",
            }
            .report();
        }
        &*context.cast::<pg_sys::TriggerData>()
    }
}

/// Auditing is off (a superuser's `lead_audit.enabled`): the write is only
/// counted, for the transaction's marker row.
///
/// # Safety
/// `rel` must be the open relation the trigger fired for.
unsafe fn count_unaudited(rel: pg_sys::Relation, event: u32) {
    // SAFETY: the caller's contract.
    let info = unsafe { table::table_info(rel) };
    let action = match event & pg_sys::TRIGGER_EVENT_OPMASK {
        pg_sys::TRIGGER_EVENT_INSERT => "INSERT",
        pg_sys::TRIGGER_EVENT_UPDATE => "UPDATE",
        pg_sys::TRIGGER_EVENT_DELETE => "DELETE",
        _ => "TRUNCATE",
    };
    crate::events::unaudited::count(
        info.relid,
        // SAFETY: the table's name is a text datum kept with its metadata.
        || String::from_utf8_lossy(unsafe { crate::pg::varlena_bytes(info.name) }).into_owned(),
        action,
    );
}

/// # Safety
/// `td` must be the TriggerData of an AFTER row trigger event.
unsafe fn capture_row(td: &pg_sys::TriggerData) {
    let rel = td.tg_relation;
    // SAFETY: the trigger's relation is open for the duration of the event.
    let (info, desc) = unsafe { (table::table_info(rel), (*rel).rd_att) };
    let mut row = Row::default();
    let op = td.tg_event & pg_sys::TRIGGER_EVENT_OPMASK;
    // SAFETY: tg_trigtuple (and for UPDATE tg_newtuple) are valid tuples of
    // `rel` for this event; the datums deformed from them are used with the
    // relation's own column metadata.
    if unsafe { fill(&mut row, td, op, desc, &info) } {
        let (pk, action) = (row.values[col::RECORD_PK], row.values[col::ACTION]);
        append(&info, row);
        // SAFETY: both are datums this event just built (jsonb, text).
        unsafe { note_attempt(&info, action, pk) };
    }
}

/// Tells the failed-attempts bookkeeping that a row was captured.
///
/// # Safety
/// `action` must be a text datum, `pk` a jsonb datum.
unsafe fn note_attempt(info: &TableInfo, action: Datum, pk: Datum) {
    // SAFETY: the caller's contract: a text datum.
    let action = match unsafe { crate::pg::varlena_bytes(action) } {
        b"INSERT" => "INSERT",
        b"UPDATE" => "UPDATE",
        b"DELETE" => "DELETE",
        _ => "TRUNCATE",
    };
    crate::attempts::note_row(
        info.relid,
        // SAFETY: the table's name is a text datum kept with its metadata.
        || String::from_utf8_lossy(unsafe { crate::pg::varlena_bytes(info.name) }).into_owned(),
        action,
        || {
            let mut text = Vec::new();
            // SAFETY: the caller's contract: a jsonb this event built.
            unsafe {
                let j = pg_sys::pg_detoast_datum(pk.cast_mut_ptr()).cast::<pg_sys::Jsonb>();
                crate::forms::jsonb_text::append_text(j, &mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        },
    );
}

/// The event's own columns of the audit row; false for an UPDATE that
/// changed nothing (which writes nothing).
///
/// # Safety
/// As [`capture_row`]; `desc` and `info` describe the trigger's relation.
unsafe fn fill(
    row: &mut Row,
    td: &pg_sys::TriggerData,
    op: u32,
    desc: pg_sys::TupleDesc,
    info: &Rc<TableInfo>,
) -> bool {
    // SAFETY: the caller's contract: valid tuples of the described relation.
    unsafe {
        match op {
            pg_sys::TRIGGER_EVENT_INSERT => {
                let new = Deformed::from_tuple(td.tg_trigtuple, desc);
                row.set(col::ACTION, kept_text(b"INSERT"));
                row.set_jsonb(col::RECORD_PK, record_pk(info, &new));
                row.set_jsonb(col::NEW_VALUES, object(info, &new, &info.json_order));
            }
            pg_sys::TRIGGER_EVENT_DELETE => {
                let old = Deformed::from_tuple(td.tg_trigtuple, desc);
                row.set(col::ACTION, kept_text(b"DELETE"));
                row.set_jsonb(col::RECORD_PK, record_pk(info, &old));
                row.set_jsonb(col::OLD_VALUES, object(info, &old, &info.json_order));
            }
            pg_sys::TRIGGER_EVENT_UPDATE => {
                let old = Deformed::from_tuple(td.tg_trigtuple, desc);
                let new = Deformed::from_tuple(td.tg_newtuple, desc);
                let changed = changed_columns(info, &old, &new);
                if changed.is_empty() {
                    return false; // an UPDATE that changes nothing writes nothing
                }
                row.set(col::ACTION, kept_text(b"UPDATE"));
                // A whole-row key names the row as it was (what REPLICA
                // IDENTITY FULL sends); a key of columns, as it is now.
                let key_row = if info.key_source == KeySource::FullRow {
                    &old
                } else {
                    &new
                };
                row.set_jsonb(col::RECORD_PK, record_pk(info, key_row));
                let in_key_order: Vec<usize> = if info.full_rows {
                    info.json_order.clone()
                } else {
                    info.json_order
                        .iter()
                        .copied()
                        .filter(|i| changed.contains(i))
                        .collect()
                };
                row.set_jsonb(col::OLD_VALUES, object(info, &old, &in_key_order));
                row.set_jsonb(col::NEW_VALUES, object(info, &new, &in_key_order));
                row.set(col::CHANGED_COLUMNS, info.names_array(&changed));
                row.set_opt(
                    col::SOFT_DELETE,
                    soft_delete(info, &old, &new).map(|s| kept_text(s.as_bytes())),
                );
            }
            _ => AuditError::WrongCall {
                function: "audit_capture_row()",
                reason: "fired for an unknown event",
            }
            .report(),
        }
    }
    true
}

/// # Safety
/// `rel` must be the open relation a BEFORE TRUNCATE trigger fired for.
unsafe fn capture_truncate(rel: pg_sys::Relation) {
    // SAFETY: the relation is open for the duration of the trigger.
    let info = unsafe { table::table_info(rel) };
    let mut marker = Row::default();
    marker.set(col::ACTION, kept_text(b"TRUNCATE"));
    append(&info, marker);
    // SAFETY: as above.
    let relkind = unsafe { (*(*rel).rd_rel).relkind };
    if !info.truncate_rows || relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char {
        return; // a partitioned table has no rows of its own: its partitions' triggers record theirs
    }
    // SAFETY: the relation is open; each row is deformed from it.
    unsafe {
        scan::each_row(rel, |old| {
            let mut row = Row::default();
            row.set(col::ACTION, kept_text(b"TRUNCATE"));
            row.set_jsonb(col::RECORD_PK, record_pk(&info, old));
            row.set_jsonb(col::OLD_VALUES, object(&info, old, &info.json_order));
            append(&info, row);
        })
    };
}

/// `_audit_baseline(table)`: one SNAPSHOT row for every row of `table` (a
/// table with rows of its own, not a partitioned one) as it is now, so that
/// each record's history begins complete; returns how many. audit_enable
/// calls it, holding a lock that keeps writers out until it commits, so no
/// change falls between the snapshot and the trigger. Not granted to anyone.
#[pg_extern(name = "_audit_baseline", strict)]
fn baseline(table: pg_sys::Oid) -> i64 {
    let mut n = 0i64;
    // SAFETY: the relation is opened (the caller, audit_enable, already
    // locks it), scanned and closed here; each row is deformed from it.
    unsafe {
        let rel = pg_sys::try_relation_open(table, pg_sys::AccessShareLock as i32);
        if rel.is_null() {
            AuditError::InvalidArgument {
                reason: format!("no table has oid {}", table.to_u32()),
            }
            .report();
        }
        let relkind = (*(*rel).rd_rel).relkind;
        if relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char
            && relkind != pg_sys::RELKIND_PARTITIONED_TABLE as std::ffi::c_char
        {
            pg_sys::relation_close(rel, pg_sys::AccessShareLock as i32);
            AuditError::InvalidArgument {
                reason: format!("oid {} is not a table", table.to_u32()),
            }
            .report();
        }
        if relkind == pg_sys::RELKIND_RELATION as std::ffi::c_char {
            let info = table::table_info(rel);
            // audit_enable runs as the extension's owner; the table's values
            // are rendered as its owner, in a restricted operation (as
            // ANALYZE does), so that no function of the owner's (a cast to
            // json of a type of theirs) runs with the extension owner's rights.
            let (mut user, mut context) = (pg_sys::Oid::INVALID, 0);
            pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
            pg_sys::SetUserIdAndSecContext(
                (*(*rel).rd_rel).relowner,
                context
                    | pg_sys::SECURITY_RESTRICTED_OPERATION as i32
                    | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
            );
            scan::each_row(rel, |new| {
                let mut row = Row::default();
                row.set(col::ACTION, kept_text(b"SNAPSHOT"));
                row.set_jsonb(col::RECORD_PK, record_pk(&info, new));
                row.set_jsonb(col::NEW_VALUES, object(&info, new, &info.json_order));
                append(&info, row);
                n += 1;
            });
            // (An error on the way restores them too: the (sub)transaction's
            // abort resets the user and security context.)
            pg_sys::SetUserIdAndSecContext(user, context);
        }
        pg_sys::relation_close(rel, pg_sys::NoLock as i32);
    }
    n
}

/// Stamps the columns every audit row shares, then hands the row to the
/// writer (written with its batch, by the end of the statement).
fn append(info: &TableInfo, mut row: Row) {
    stamp::committed(&mut row, info.relid, info.name);
    writer::hold(&mut row);
}

/// A jsonb object of the given columns of `tuple`, given in jsonb key
/// order, and its text for the checksum, made from the same values (None
/// when the renderer does not know a value: the checksum then reads the
/// jsonb's bytes, as `verify_audit()` does). Reading the bytes back was a
/// tenth of an audited row's instructions.
///
/// # Safety
/// `tuple` must be deformed from a tuple of the table `info` describes.
unsafe fn object(
    info: &TableInfo,
    tuple: &Deformed,
    columns: &[usize],
) -> (Datum, Option<Vec<u8>>) {
    let mut b = ObjectBuilder::with_capacity(columns.len());
    for &i in columns {
        let c = &info.columns[i];
        if let (Some(output), Some(secret), false) = (&c.redact, &info.secret, tuple.nulls[i]) {
            // SAFETY: the datum is of the column's type, for which `output` was looked up.
            let text = unsafe { redact::output_text(output, tuple.values[i]) };
            b.add_string(&c.key, &c.key_text, redact::redacted(secret, &text));
            continue;
        }
        let conv = c.conv.as_ref().expect("dropped columns are skipped");
        // SAFETY: the datum is of the column's type, for which `conv` was made.
        unsafe { b.add(&c.key, &c.key_text, conv, tuple.values[i], tuple.nulls[i]) };
    }
    b.finish(|pairs, keys, binary_len| {
        // The text is about as long as the binary form: room for it at once.
        let mut text = text_buffer(binary_len + binary_len / 4 + 16);
        // SAFETY: the builder's pairs, valid for this call.
        unsafe {
            forms::jsonb_text::render_object(
                pairs,
                keys,
                &mut text,
                &mut forms::jsonb_text::numeric_or_out,
            )
        }
        .ok()
        .map(|()| text)
    })
}

/// # Safety
/// As [`object`].
unsafe fn record_pk(info: &Rc<TableInfo>, tuple: &Deformed) -> (Datum, Option<Vec<u8>>) {
    // SAFETY: the caller's contract.
    unsafe { object(info, tuple, &info.pk) }
}

/// # Safety
/// `old` and `new` must be deformed from tuples of the table `info` describes.
unsafe fn changed_columns(info: &TableInfo, old: &Deformed, new: &Deformed) -> Vec<usize> {
    diff::changed(
        old.values.len().min(new.values.len()),
        |i| old.get(i),
        |i| new.get(i),
        |i| info.columns[i].dropped || info.columns[i].excluded,
        |i, a, b| {
            let c = &info.columns[i];
            // SAFETY: both datums come from tuples of this relation's descriptor.
            unsafe { pg::datums_equal(*a, *b, c.typlen, c.typbyval) }
        },
    )
}

/// 'deleted' or 'restored' when the UPDATE flips the soft-delete column.
fn soft_delete(info: &TableInfo, old: &Deformed, new: &Deformed) -> Option<&'static str> {
    let (i, kind) = info.soft_delete?;
    let marked = |d: &Deformed| match (kind, d.get(i)) {
        (_, None) => false,
        (SoftDeleteKind::Flag, Some(v)) => v.value() != 0,
        (SoftDeleteKind::Timestamp, Some(_)) => true,
    };
    diff::soft_delete_transition(marked(old), marked(new))
}
