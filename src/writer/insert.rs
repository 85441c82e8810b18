//! The inserts themselves: one row at once ([`append`]), or rows formed
//! earlier in one multi-row heap insert ([`append_formed`]), each with its
//! index entries; and what makes a row final before it is written ([`seal`]).

use pgrx::pg_sys::{self, Datum, Oid};

use crate::error::AuditError;
use crate::forms;
use crate::objects::{self, Objects};
use crate::pg;
use crate::record::{col, Row, Shape};

extern "C-unwind" {
    // commands/sequence.h; not in pgrx's bindings. `check_permissions = false`
    // lets any role that writes an audited table take the next id.
    fn nextval_internal(relid: Oid, check_permissions: bool) -> i64;
}

/// Appends `row` to audit_log at once: assigns its id, seals it with its
/// checksum and inserts it with its index entries.
pub fn append(row: &mut Row) {
    with_audit_log(|objs, rel, irels| {
        if objs.shape == Shape::V1 {
            fit_to_v1(row);
        }
        // SAFETY: `rel` and `irels` are audit_log and its indexes as `objs`
        // lists them, open; the row's datums are of its columns (the caller's).
        unsafe {
            seal(objs, row);
            let tuple = pg_sys::heap_form_tuple(
                (*rel).rd_att,
                row.values.as_mut_ptr(),
                row.nulls.as_mut_ptr(),
            );
            pg_sys::simple_heap_insert(rel, tuple);
            insert_index_entries(
                objs,
                rel,
                irels,
                &row.values,
                &row.nulls,
                &mut (*tuple).t_self,
            );
            pg_sys::heap_freetuple(tuple);
        }
    })
}

/// Runs `write` with audit_log and its indexes open (RowExclusiveLock),
/// with objects that are current once the locks are held.
fn with_audit_log(mut write: impl FnMut(&Objects, pg_sys::Relation, &[pg_sys::Relation])) {
    for _ in 0..5 {
        let objs = objects::objects();
        // SAFETY: the oids come from the objects cache, which invalidation
        // keeps current (checked again after the locks are taken); relations
        // are opened with locks and closed before returning.
        let written = unsafe {
            let rel = pg_sys::table_open(objs.audit_log, pg_sys::RowExclusiveLock as i32);
            let irels: Vec<pg_sys::Relation> = objs
                .indexes
                .iter()
                .map(|i| pg_sys::index_open(i.oid, pg_sys::RowExclusiveLock as i32))
                .collect();
            // Opening took a lock that may have brought an invalidation: if
            // so, look the objects up again before writing.
            let current = objs.is_current();
            if current {
                write(&objs, rel, &irels);
            }
            irels
                .into_iter()
                .for_each(|i| pg_sys::index_close(i, pg_sys::NoLock as i32));
            pg_sys::table_close(rel, pg_sys::NoLock as i32);
            current
        };
        if written {
            return;
        }
    }
    AuditError::BrokenInstall {
        reason: "audit_log keeps changing under concurrent DDL; retry".into(),
    }
    .report()
}

/// Writes rows formed by [`super::batch`] (each a heap tuple of audit_log's
/// columns, id and checksum in place) with one multi-row heap insert, then
/// their index entries; frees them.
///
/// # Safety
/// Every tuple must be a palloc'd heap tuple of audit_log's current columns,
/// owned by the caller, who gives it up here.
pub(super) unsafe fn append_formed(tuples: &[pg_sys::HeapTuple]) {
    with_audit_log(|objs, rel, irels| {
        // SAFETY: the caller's contract; `rel` and `irels` are open.
        unsafe { multi_insert(objs, rel, irels, tuples) }
    })
}

/// # Safety
/// As [`append_formed`]; `rel` and `irels` open as `objs` lists them.
unsafe fn multi_insert(
    objs: &Objects,
    rel: pg_sys::Relation,
    irels: &[pg_sys::Relation],
    tuples: &[pg_sys::HeapTuple],
) {
    // SAFETY: every step works on the open relation and tuples the caller
    // gives up: the slots own them (and free them when dropped); what the
    // insert allocates goes in a context deleted at the end.
    unsafe {
        let desc = (*rel).rd_att;
        let natts = (*desc).natts as usize;
        let formed_for = |t: pg_sys::HeapTuple| {
            ((*(*t).t_data).t_infomask2 & pg_sys::HEAP_NATTS_MASK as u16) as usize
        };
        if tuples.iter().any(|&t| formed_for(t) != natts) {
            AuditError::BrokenInstall {
                reason:
                    "audit_log's columns changed while captured rows waited to be written; retry"
                        .into(),
            }
            .report()
        }
        let scratch = pg::scratch_context(c"lead_audit batch");
        let old = pg_sys::MemoryContextSwitchTo(scratch);
        // The slots share a copy of the descriptor that is not reference
        // counted: a slot made on the relation's own descriptor pins it in
        // the resource owner, and a thousand pins of one pointer cost a
        // linear probe each (4% of an audited bulk INSERT).
        let unpinned = pg_sys::CreateTupleDescCopy(desc);
        let mut slots: Vec<*mut pg_sys::TupleTableSlot> = tuples
            .iter()
            .map(|&t| {
                let slot =
                    pg_sys::MakeSingleTupleTableSlot(unpinned, &raw const pg_sys::TTSOpsHeapTuple);
                pg_sys::ExecStoreHeapTuple(t, slot, true);
                slot
            })
            .collect();
        pg_sys::heap_multi_insert(
            rel,
            slots.as_mut_ptr(),
            slots.len() as i32,
            pg_sys::GetCurrentCommandId(true),
            0,
            std::ptr::null_mut(),
        );
        for &slot in &slots {
            pg_sys::slot_getallattrs(slot);
            let values = std::slice::from_raw_parts((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts);
            insert_index_entries(objs, rel, irels, values, nulls, &mut (*slot).tts_tid);
            pg_sys::ExecDropSingleTupleTableSlot(slot);
        }
        pg_sys::MemoryContextSwitchTo(old);
        pg_sys::MemoryContextDelete(scratch);
    }
}

/// Between installing this version and `ALTER EXTENSION lead_audit UPDATE`,
/// audit_log has 0.1.0's columns: a change is written as 0.1.0 wrote it (no
/// outcome: the form v1), and a failed attempt, which that shape cannot
/// tell from a change, is refused.
pub(super) fn fit_to_v1(row: &mut Row) {
    if !row.nulls[col::ERROR] {
        AuditError::BrokenInstall {
            reason: "audit_log has the columns of lead_audit 0.1.0, which cannot record a failed attempt; run ALTER EXTENSION lead_audit UPDATE".into(),
        }
        .report()
    }
    row.nulls[col::OUTCOME] = true;
}

/// Gives `row` its id (the next of audit_log's sequence) and its checksum.
///
/// # Safety
/// `row` must hold valid datums of audit_log's columns; `objs` current.
pub(super) unsafe fn seal(objs: &Objects, row: &mut Row) {
    // SAFETY: the sequence is audit_log's (from `objs`).
    row.set(
        col::ID,
        Datum::from(unsafe { nextval_internal(objs.sequence, false) }),
    );
    // SAFETY: every non-NULL datum of `row` is of its column's type (the caller's contract).
    let sum = unsafe { forms::row::checksum(&row.values, &row.nulls) };
    row.set(col::CHECKSUM, pg::bytea_datum(&sum));
}

/// Inserts the index entries of the audit row just inserted at `tid`.
///
/// # Safety
/// `rel` and `irels` must be audit_log and its indexes as `objs` lists them,
/// open with RowExclusiveLock; `values`/`nulls` the row's columns.
unsafe fn insert_index_entries(
    objs: &Objects,
    rel: pg_sys::Relation,
    irels: &[pg_sys::Relation],
    values: &[Datum],
    nulls: &[bool],
    tid: pg_sys::ItemPointer,
) {
    for (target, &irel) in objs.indexes.iter().zip(irels) {
        // SAFETY: `info` was built for this index and lives with `objs`.
        if !unsafe { (*target.info).ii_ReadyForInserts } {
            continue;
        }
        let mut key: Vec<Datum> = target.columns.iter().map(|&c| values[c]).collect();
        let mut key_nulls: Vec<bool> = target.columns.iter().map(|&c| nulls[c]).collect();
        let check = if target.unique {
            pg_sys::IndexUniqueCheck::UNIQUE_CHECK_YES
        } else {
            pg_sys::IndexUniqueCheck::UNIQUE_CHECK_NO
        };
        // SAFETY: the key matches the index's columns; the heap tuple is at `tid`.
        unsafe {
            pg_sys::index_insert(
                irel,
                key.as_mut_ptr(),
                key_nulls.as_mut_ptr(),
                tid,
                rel,
                check,
                false, // indexUnchanged: a hint for UPDATEs; this is an insert
                target.info,
            );
        }
    }
}
