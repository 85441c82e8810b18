//! Reading audit_log's rows back, deformed, by id: for verification and
//! for the proofs that hand out a row's canonical form.

use pgrx::pg_sys::{self, Datum};
use pgrx::PgMemoryContexts;

use super::objects::Objects;
use super::row::NCOLS;
use crate::pg;

/// Calls `f` with each audit_log row whose id is in `range`, deformed. Uses
/// the primary key for a bounded range and a sequential scan otherwise.
pub fn scan_audit_log(objs: &Objects, range: (i64, i64), f: &mut dyn FnMut(&[Datum], &[bool])) {
    let full = range == (i64::MIN, i64::MAX);
    // SAFETY: audit_log and its primary key are opened, scanned with the
    // active snapshot and closed here; per-row memory is reset each row; the
    // slot's arrays hold `natts` entries once all attributes are fetched.
    unsafe {
        let rel = pg_sys::table_open(objs.audit_log, pg_sys::AccessShareLock as i32);
        let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
        let snapshot = pg_sys::GetActiveSnapshot();
        let mut per_row = PgMemoryContexts::new("lead_audit verify row");
        let n = ((*(*rel).rd_att).natts as usize).min(NCOLS);
        let forward = pg_sys::ScanDirection::ForwardScanDirection;
        let mut each_row = |next: &mut dyn FnMut() -> bool| {
            while next() {
                per_row.switch_to(|_| {
                    pg_sys::slot_getallattrs(slot);
                    f(
                        std::slice::from_raw_parts((*slot).tts_values, n),
                        std::slice::from_raw_parts((*slot).tts_isnull, n),
                    )
                });
                per_row.reset();
            }
        };
        if full {
            let scan = pg_sys::table_beginscan(rel, snapshot, 0, std::ptr::null_mut());
            each_row(&mut || pg_sys::table_scan_getnextslot(scan, forward, slot));
            pg_sys::table_endscan(scan);
        } else {
            let irel =
                pg_sys::index_open(pg::primary_key_index(rel), pg_sys::AccessShareLock as i32);
            let mut keys: [pg_sys::ScanKeyData; 2] = std::mem::zeroed();
            pg_sys::ScanKeyInit(
                &mut keys[0],
                1,
                pg_sys::BTGreaterEqualStrategyNumber as u16,
                pg_sys::Oid::from(pg_sys::F_INT8GE),
                Datum::from(range.0),
            );
            pg_sys::ScanKeyInit(
                &mut keys[1],
                1,
                pg_sys::BTLessEqualStrategyNumber as u16,
                pg_sys::Oid::from(pg_sys::F_INT8LE),
                Datum::from(range.1),
            );
            let scan = pg::index_beginscan(rel, irel, snapshot, 2);
            pg_sys::index_rescan(scan, keys.as_mut_ptr(), 2, std::ptr::null_mut(), 0);
            each_row(&mut || pg_sys::index_getnext_slot(scan, forward, slot));
            pg_sys::index_endscan(scan);
            pg_sys::index_close(irel, pg_sys::AccessShareLock as i32);
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as i32);
    }
}
