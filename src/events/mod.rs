//! Audit rows that record events rather than row changes: DDL on audited
//! tables ([`ddl`]) and writes made while a superuser had auditing switched
//! off ([`unaudited`]). Both are stamped and written like captured changes,
//! inside the transaction that caused them, and chained like any row. And
//! the capture triggers, kept one per table as partitions are attached and
//! detached ([`partitions`]).

pub mod ddl;
pub mod partitions;
pub mod unaudited;

use pgrx::pg_sys;

/// The marker of unaudited writes is written before a commit; per
/// transaction state is dropped after any end.
pub fn on_xact(event: pg_sys::XactEvent::Type) {
    use pg_sys::XactEvent::*;
    match event {
        // Still inside the transaction: the marker commits (or is
        // prepared, for COMMIT PREPARED) with it.
        XACT_EVENT_PRE_COMMIT | XACT_EVENT_PRE_PREPARE => unaudited::write_marker(),
        XACT_EVENT_COMMIT | XACT_EVENT_PREPARE => {
            unaudited::forget();
            ddl::quiet(false);
            crate::audit_log::epoch::committed();
        }
        XACT_EVENT_ABORT => {
            unaudited::forget();
            partitions::forget();
            ddl::quiet(false);
            crate::audit_log::epoch::aborted();
        }
        _ => {}
    }
}

/// A subtransaction's unaudited writes pass to its parent, or are dropped.
pub fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
) {
    use pg_sys::SubXactEvent::*;
    match event {
        SUBXACT_EVENT_COMMIT_SUB => unaudited::commit_sub(my_subid, parent_subid),
        SUBXACT_EVENT_ABORT_SUB => {
            unaudited::abort_sub(my_subid);
            ddl::quiet(false);
            crate::audit_log::epoch::savepoint_aborted();
        }
        _ => {}
    }
}
