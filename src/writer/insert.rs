//! The inserts themselves: one row at once ([`append`]), or rows formed
//! earlier in one multi-row heap insert ([`append_formed`]), each with its
//! index entries; and what makes a row final before it is written ([`seal`]).

use pgrx::pg_sys::{self, Datum, Oid};

use super::slots;
use crate::audit_log::objects::{self, IndexTarget, Objects};
use crate::audit_log::row::{col, Row, Shape};
use crate::error::AuditError;
use crate::forms;
use crate::pg;

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
            let written = IndexRow {
                values: &row.values,
                nulls: &row.nulls,
                tid: &raw mut (*tuple).t_self,
            };
            insert_index_entries(objs, rel, irels, &written, None);
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
                forget_unfinished_inserts(&objs);
                write(&objs, rel, &irels);
                finish_inserts(&objs, &irels);
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

/// PostgreSQL 17 and later: an index access method may keep state between
/// inserts in the `IndexInfo` (BRIN keeps its range map's buffer pinned
/// there) until `index_insert_cleanup`. Our `IndexInfo`s outlive the write,
/// so each write ends with it: a pin left behind would be reported as a
/// leak at commit and then used unpinned by the next write.
///
/// # Safety
/// `irels` must be the indexes of `objs`, open.
unsafe fn finish_inserts(objs: &Objects, irels: &[pg_sys::Relation]) {
    #[cfg(any(feature = "pg17", feature = "pg18"))]
    for (target, &irel) in objs.indexes.iter().zip(irels) {
        // SAFETY: the caller's contract; `info` was built for this index.
        unsafe {
            pg_sys::index_insert_cleanup(irel, target.info);
            (*target.info).ii_AmCache = std::ptr::null_mut();
        }
    }
    #[cfg(not(any(feature = "pg17", feature = "pg18")))]
    let _ = (objs, irels);
}

/// A write that raised an error never reached [`finish_inserts`]; the abort
/// released the pins its state held, so the state is dropped unused (its
/// memory goes with the `IndexInfo`'s context).
fn forget_unfinished_inserts(objs: &Objects) {
    #[cfg(any(feature = "pg17", feature = "pg18"))]
    for target in &objs.indexes {
        // SAFETY: `info` was built for this index and lives with `objs`.
        unsafe { (*target.info).ii_AmCache = std::ptr::null_mut() };
    }
    #[cfg(not(any(feature = "pg17", feature = "pg18")))]
    let _ = objs;
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
    // gives up: the slots own them (and free them when cleared); what the
    // insert allocates goes in a context deleted at the end.
    unsafe {
        let desc = (*rel).rd_att;
        let natts = (*desc).natts as usize;
        // The index entries need only the indexed columns, the first few of
        // audit_log: deforming each row whole (its jsonb and text columns
        // too) showed in an audited bulk INSERT's profile.
        let keyed = objs
            .indexes
            .iter()
            .flat_map(|t| t.columns.iter().map(|&c| c + 1))
            .max()
            .unwrap_or(0);
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
        slots::with_slots(desc, tuples.len(), |slots| {
            for (&t, &slot) in tuples.iter().zip(slots) {
                pg_sys::ExecStoreHeapTuple(t, slot, true);
            }
            pg_sys::heap_multi_insert(
                rel,
                slots.as_ptr().cast_mut(),
                slots.len() as i32,
                pg_sys::GetCurrentCommandId(true),
                0,
                std::ptr::null_mut(),
            );
            // Each slot is cleared (its tuple freed) once the next row no
            // longer needs it as the row before it.
            let mut before: Option<(*mut pg_sys::TupleTableSlot, IndexRow)> = None;
            for &slot in slots {
                pg_sys::slot_getsomeattrs(slot, keyed as i32);
                let row = IndexRow {
                    values: std::slice::from_raw_parts((*slot).tts_values, keyed),
                    nulls: std::slice::from_raw_parts((*slot).tts_isnull, keyed),
                    tid: &raw mut (*slot).tts_tid,
                };
                let previous = before
                    .as_ref()
                    .map(|(_, b)| b)
                    .filter(|b| b.block() == row.block());
                insert_index_entries(objs, rel, irels, &row, previous);
                if let Some((done, _)) = before.replace((slot, row)) {
                    pg_sys::ExecClearTuple(done);
                }
            }
        });
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
    let sum = unsafe { forms::row::checksum(&row.values, &row.nulls, &row.jsonb_texts) };
    row.set(col::CHECKSUM, pg::bytea_datum(&sum));
}

/// An audit row just inserted: its columns (at least those its indexes
/// cover) and where it is.
struct IndexRow<'a> {
    values: &'a [Datum],
    nulls: &'a [bool],
    tid: pg_sys::ItemPointer,
}

impl IndexRow<'_> {
    /// The heap block the row is in.
    fn block(&self) -> pg_sys::BlockNumber {
        // SAFETY: `tid` is the item pointer the heap insert set.
        unsafe { pgrx::itemptr::item_pointer_get_block_number(self.tid) }
    }
}

/// Inserts the index entries of `row`. `same_block` is the row inserted
/// just before it when that one is in the same heap block: a summarizing
/// (BRIN) index gets no entry for a row whose key equals that row's, since
/// the block's range summary already covers that key. (A batch's rows share
/// their transaction and statement time, the keys of audit_log's BRIN
/// indexes, so most rows of a batch add nothing to them; PostgreSQL reads
/// the index's metapage and range map for each entry it is given.)
///
/// # Safety
/// `rel` and `irels` must be audit_log and its indexes as `objs` lists them,
/// open with RowExclusiveLock; the rows' columns of audit_log's descriptor.
unsafe fn insert_index_entries(
    objs: &Objects,
    rel: pg_sys::Relation,
    irels: &[pg_sys::Relation],
    row: &IndexRow,
    same_block: Option<&IndexRow>,
) {
    for (target, &irel) in objs.indexes.iter().zip(irels) {
        // SAFETY: `info` was built for this index and lives with `objs`.
        if !unsafe { (*target.info).ii_ReadyForInserts } {
            continue;
        }
        let covered = |b: &IndexRow| {
            // SAFETY: both rows are of `rel`'s columns (the caller's contract).
            unsafe { same_key(rel, target, row, b) }
        };
        if target.summarizing && same_block.is_some_and(covered) {
            continue;
        }
        // On the stack: an index has at most INDEX_MAX_KEYS columns.
        let mut key = [Datum::from(0); pg_sys::INDEX_MAX_KEYS as usize];
        let mut key_nulls = [true; pg_sys::INDEX_MAX_KEYS as usize];
        for (k, &c) in target.columns.iter().enumerate() {
            (key[k], key_nulls[k]) = (row.values[c], row.nulls[c]);
        }
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
                row.tid,
                rel,
                check,
                false, // indexUnchanged: a hint for UPDATEs; this is an insert
                target.info,
            );
        }
    }
}

/// Whether `row` and `before` have the same key in `target`: the same
/// NULLs and equal values (compared as stored, as an UPDATE's columns are).
///
/// # Safety
/// Both rows must hold datums of `rel`'s columns.
unsafe fn same_key(
    rel: pg_sys::Relation,
    target: &IndexTarget,
    row: &IndexRow,
    before: &IndexRow,
) -> bool {
    target.columns.iter().all(|&c| {
        if row.nulls[c] || before.nulls[c] {
            return row.nulls[c] == before.nulls[c];
        }
        // SAFETY: `c` is one of `rel`'s columns; the datums are of its type.
        unsafe {
            let att = &pg::attrs((*rel).rd_att)[c];
            pg::datums_equal(row.values[c], before.values[c], att.attlen, att.attbyval)
        }
    })
}
