//! Appending rows to `audit_log`: the insert and nothing else.
//!
//! The trigger writes with a direct heap insert plus index inserts: no SPI, no
//! executor start-up per row, and no INSERT privilege needed, so `audit_log`
//! can stay closed to every role while their changes are still recorded.
//! Which relation and indexes to write comes from `objects`.

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

/// Appends `row` to audit_log: assigns its id, seals it with its checksum and
/// inserts it with its index entries.
pub fn append(row: &mut Row) {
    for _ in 0..5 {
        let objs = objects::objects();
        if objs.shape == Shape::V1 {
            fit_to_v1(row);
        }
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
                write(&objs, rel, &irels, row);
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

/// Between installing this version and `ALTER EXTENSION lead_audit UPDATE`,
/// audit_log has 0.1.0's columns: a change is written as 0.1.0 wrote it (no
/// outcome: the form v1), and a failed attempt, which that shape cannot
/// tell from a change, is refused.
fn fit_to_v1(row: &mut Row) {
    if !row.nulls[col::ERROR] {
        AuditError::BrokenInstall {
            reason: "audit_log has the columns of lead_audit 0.1.0, which cannot record a failed attempt; run ALTER EXTENSION lead_audit UPDATE".into(),
        }
        .report()
    }
    row.nulls[col::OUTCOME] = true;
}

/// # Safety
/// `rel` and `irels` must be audit_log and its indexes as `objs` lists them,
/// open with RowExclusiveLock; `row` must hold valid datums of its columns.
unsafe fn write(objs: &Objects, rel: pg_sys::Relation, irels: &[pg_sys::Relation], row: &mut Row) {
    // SAFETY: the sequence is audit_log's (from `objs`).
    row.set(
        col::ID,
        Datum::from(unsafe { nextval_internal(objs.sequence, false) }),
    );
    // SAFETY: every non-NULL datum of `row` is of its column's type (the caller's contract).
    let sum = unsafe { forms::row::checksum(&row.values, &row.nulls) };
    row.set(col::CHECKSUM, pg::bytea_datum(&sum));
    // SAFETY: the datums match audit_log's descriptor; the tuple is inserted
    // into the open relation, its index entries into its open indexes, and freed.
    unsafe {
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
            pg_sys::index_insert(
                irel,
                values.as_mut_ptr(),
                nulls.as_mut_ptr(),
                &mut (*tuple).t_self,
                rel,
                check,
                false, // indexUnchanged: a hint for UPDATEs; this is an insert
                target.info,
            );
        }
        pg_sys::heap_freetuple(tuple);
    }
}
