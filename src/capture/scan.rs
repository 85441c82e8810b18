//! Reading every row of a table, for the two events that record rows nobody
//! changed one by one: TRUNCATE (the rows it removes) and the baseline of
//! `audit_enable` (the rows present when auditing starts).

use pgrx::pg_sys;
use pgrx::PgMemoryContexts;

use super::tuple::Deformed;

/// Calls `f` with every row of `rel` that the latest snapshot sees, each in a
/// memory context reset after it (what `f` hands to the writer is copied by
/// the writer).
///
/// # Safety
/// `rel` must be an open relation with rows of its own (not partitioned).
pub unsafe fn each_row(rel: pg_sys::Relation, mut f: impl FnMut(&Deformed)) {
    // SAFETY: a scan of the open relation with a registered snapshot; the
    // slot, scan and snapshot are released here; per-row memory is reset.
    unsafe {
        // Read the latest: TRUNCATE removes every row, whatever our snapshot
        // sees, and a baseline must hold every row committed before its lock.
        let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
        let scan = pg_sys::table_beginscan(rel, snapshot, 0, std::ptr::null_mut());
        let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
        let per_row = PgMemoryContexts::new("lead_audit scanned row");
        let natts = (*(*rel).rd_att).natts as usize;
        while pg_sys::table_scan_getnextslot(
            scan,
            pg_sys::ScanDirection::ForwardScanDirection,
            slot,
        ) {
            pg_sys::slot_getallattrs(slot);
            let row = Deformed::from_slot(slot, natts);
            PgMemoryContexts::For(per_row.value()).switch_to(|_| f(&row));
            pg_sys::MemoryContextReset(per_row.value());
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::table_endscan(scan);
        pg_sys::UnregisterSnapshot(snapshot);
    }
}
