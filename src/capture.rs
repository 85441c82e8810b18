//! The triggers: each changed row of an audited table becomes one audit row.
//!
//! `audit_capture_row` is an AFTER ... FOR EACH ROW trigger (AFTER, so it sees
//! the row as committed by every BEFORE trigger, and COPY keeps its
//! multi-insert path). `audit_capture_truncate` is a BEFORE TRUNCATE statement
//! trigger: the only moment the removed rows can still be read.

use std::rc::Rc;

use pgrx::pg_sys::{self, Datum};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use crate::catalog::{self, SoftDeleteKind, TableInfo};
use crate::context;
use crate::error::AuditError;
use crate::json::{self, ObjectBuilder};
use crate::writer::{self, col, Row};

#[pg_trigger]
fn audit_capture_row<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, std::convert::Infallible> {
    let td = trigger.trigger_data();
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
    if context::ENABLED.get() {
        // SAFETY: PostgreSQL passes a valid TriggerData with the tuples of this event.
        unsafe { capture_row(td) };
    }
    Ok(None)
}

#[pg_trigger]
fn audit_capture_truncate<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, std::convert::Infallible> {
    let td = trigger.trigger_data();
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
    if context::ENABLED.get() {
        // SAFETY: PostgreSQL passes a valid TriggerData for the truncated relation.
        unsafe { capture_truncate(td.tg_relation) };
    }
    Ok(None)
}

/// A tuple's attributes, deformed once.
struct Deformed {
    values: Vec<Datum>,
    nulls: Vec<bool>,
}

impl Deformed {
    unsafe fn from_tuple(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc) -> Self {
        let n = (*desc).natts as usize;
        let mut d = Deformed {
            values: vec![Datum::from(0); n],
            nulls: vec![true; n],
        };
        pg_sys::heap_deform_tuple(tuple, desc, d.values.as_mut_ptr(), d.nulls.as_mut_ptr());
        d
    }

    fn get(&self, i: usize) -> Option<Datum> {
        (!self.nulls[i]).then(|| self.values[i])
    }
}

unsafe fn capture_row(td: &pg_sys::TriggerData) {
    let rel = td.tg_relation;
    let info = catalog::table_info(rel);
    let desc = (*rel).rd_att;
    let mut row = Row::new();
    let op = td.tg_event & pg_sys::TRIGGER_EVENT_OPMASK;
    match op {
        pg_sys::TRIGGER_EVENT_INSERT => {
            let new = Deformed::from_tuple(td.tg_trigtuple, desc);
            row.set(col::ACTION, text("INSERT"));
            row.set(col::RECORD_PK, record_pk(&info, &new));
            row.set(col::NEW_VALUES, object(&info, &new, &info.json_order));
        }
        pg_sys::TRIGGER_EVENT_DELETE => {
            let old = Deformed::from_tuple(td.tg_trigtuple, desc);
            row.set(col::ACTION, text("DELETE"));
            row.set(col::RECORD_PK, record_pk(&info, &old));
            row.set(col::OLD_VALUES, object(&info, &old, &info.json_order));
        }
        pg_sys::TRIGGER_EVENT_UPDATE => {
            let old = Deformed::from_tuple(td.tg_trigtuple, desc);
            let new = Deformed::from_tuple(td.tg_newtuple, desc);
            let changed = changed_columns(&info, &old, &new);
            if changed.is_empty() {
                return; // an UPDATE that changes nothing writes nothing
            }
            row.set(col::ACTION, text("UPDATE"));
            row.set(col::RECORD_PK, record_pk(&info, &new));
            let in_key_order: Vec<usize> = info
                .json_order
                .iter()
                .copied()
                .filter(|i| changed.contains(i))
                .collect();
            row.set(col::OLD_VALUES, object(&info, &old, &in_key_order));
            row.set(col::NEW_VALUES, object(&info, &new, &in_key_order));
            row.set(col::CHANGED_COLUMNS, names_array(&info, &changed));
            row.set_opt(col::SOFT_DELETE, soft_delete(&info, &old, &new).map(text));
        }
        _ => AuditError::WrongCall {
            function: "audit_capture_row()",
            reason: "fired for an unknown event",
        }
        .report(),
    }
    append(&info, row);
}

unsafe fn capture_truncate(rel: pg_sys::Relation) {
    let info = catalog::table_info(rel);
    let mut marker = Row::new();
    marker.set(col::ACTION, text("TRUNCATE"));
    append(&info, marker);
    if !info.truncate_rows
        || (*(*rel).rd_rel).relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char
    {
        return; // a partitioned table has no rows of its own: its partitions' triggers record theirs
    }
    // TRUNCATE removes every row, whatever our snapshot sees: read the latest.
    let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
    let scan = pg_sys::table_beginscan(rel, snapshot, 0, std::ptr::null_mut());
    let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
    let per_row = PgMemoryContexts::new("lead_audit truncate row");
    let desc = (*rel).rd_att;
    let natts = (*desc).natts as usize;
    while pg_sys::table_scan_getnextslot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
        pg_sys::slot_getallattrs(slot);
        let old = Deformed {
            values: std::slice::from_raw_parts((*slot).tts_values, natts).to_vec(),
            nulls: std::slice::from_raw_parts((*slot).tts_isnull, natts).to_vec(),
        };
        let mut cx = PgMemoryContexts::For(per_row.value());
        cx.switch_to(|_| {
            let mut row = Row::new();
            row.set(col::ACTION, text("TRUNCATE"));
            row.set(col::RECORD_PK, record_pk(&info, &old));
            row.set(col::OLD_VALUES, object(&info, &old, &info.json_order));
            append(&info, row);
        });
        pg_sys::MemoryContextReset(per_row.value());
    }
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    pg_sys::table_endscan(scan);
    pg_sys::UnregisterSnapshot(snapshot);
}

/// Fills the columns every audit row shares, then writes the row.
unsafe fn append(info: &TableInfo, mut row: Row) {
    let actor = context::current();
    row.set(
        col::TX_ID,
        Datum::from(pg_sys::GetTopFullTransactionId().value),
    );
    row.set(
        col::LOGGED_AT,
        Datum::from(pg_sys::GetCurrentStatementStartTimestamp()),
    );
    row.set(col::TABLE_OID, Datum::from(info.relid));
    row.set(col::TABLE_NAME, info.name);
    row.set_opt(col::ACTOR_ID, actor.actor_id);
    row.set_opt(col::CLIENT_IP, actor.client_ip);
    row.set_opt(col::USER_AGENT, actor.user_agent);
    row.set_opt(col::REQUEST_ID, actor.request_id);
    row.set_opt(col::CONTEXT, actor.context);
    row.set(col::DB_USER, actor.db_user);
    row.set_opt(col::APPLICATION_NAME, actor.application_name);
    writer::append(&mut row);
}

/// A jsonb object of the given columns of `tuple`, given in jsonb key order.
unsafe fn object(info: &TableInfo, tuple: &Deformed, columns: &[usize]) -> Datum {
    let mut b = ObjectBuilder::with_capacity(columns.len());
    for &i in columns {
        let c = &info.columns[i];
        let conv = c.conv.as_ref().expect("dropped columns are skipped");
        b.add(&c.key, conv, tuple.values[i], tuple.nulls[i]);
    }
    b.finish()
}

unsafe fn record_pk(info: &Rc<TableInfo>, tuple: &Deformed) -> Datum {
    if info.pk.is_empty() {
        let name = pgrx::text_to_rust_str_unchecked(info.name.cast_mut_ptr()).to_string();
        AuditError::NoPrimaryKey { table: name }.report();
    }
    object(info, tuple, &info.pk)
}

unsafe fn changed_columns(info: &TableInfo, old: &Deformed, new: &Deformed) -> Vec<usize> {
    let old_vals: Vec<Option<Datum>> = (0..old.values.len()).map(|i| old.get(i)).collect();
    let new_vals: Vec<Option<Datum>> = (0..new.values.len()).map(|i| new.get(i)).collect();
    json::changed(
        &old_vals,
        &new_vals,
        |i| info.columns[i].dropped,
        |i, a, b| {
            let c = &info.columns[i];
            // SAFETY: both datums come from tuples of this relation's descriptor.
            unsafe { json::datums_equal(*a, *b, c.typlen, c.typbyval) }
        },
    )
}

/// 'deleted' or 'restored' when the UPDATE flips the soft-delete column.
unsafe fn soft_delete(info: &TableInfo, old: &Deformed, new: &Deformed) -> Option<&'static str> {
    let (i, kind) = info.soft_delete?;
    let marked = |d: &Deformed| match (kind, d.get(i)) {
        (_, None) => false,
        (SoftDeleteKind::Flag, Some(v)) => v.value() != 0,
        (SoftDeleteKind::Timestamp, Some(_)) => true,
    };
    soft_delete_transition(marked(old), marked(new))
}

/// The soft-delete state change of a row: marked deleted, or unmarked.
pub fn soft_delete_transition(was_deleted: bool, is_deleted: bool) -> Option<&'static str> {
    match (was_deleted, is_deleted) {
        (false, true) => Some("deleted"),
        (true, false) => Some("restored"),
        _ => None,
    }
}

/// text[] of the names of `columns`.
unsafe fn names_array(info: &TableInfo, columns: &[usize]) -> Datum {
    let mut elems: Vec<Datum> = columns
        .iter()
        .map(|&i| Datum::from(pg_sys::cstring_to_text(info.columns[i].key.as_ptr())))
        .collect();
    let array = pg_sys::construct_array(
        elems.as_mut_ptr(),
        elems.len() as i32,
        pg_sys::TEXTOID,
        -1,
        false,
        pg_sys::TYPALIGN_INT as std::ffi::c_char,
    );
    Datum::from(array)
}

fn text(s: &str) -> Datum {
    // SAFETY: copies the bytes into a new palloc'd text.
    unsafe {
        Datum::from(pg_sys::cstring_to_text_with_len(
            s.as_ptr().cast(),
            s.len() as i32,
        ))
    }
}

#[cfg(test)]
mod unit {
    use super::soft_delete_transition;

    #[test]
    fn soft_delete_flips() {
        assert_eq!(soft_delete_transition(false, true), Some("deleted"));
        assert_eq!(soft_delete_transition(true, false), Some("restored"));
        assert_eq!(soft_delete_transition(false, false), None);
        assert_eq!(soft_delete_transition(true, true), None);
    }
}
