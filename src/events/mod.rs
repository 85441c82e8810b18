//! Audit rows that record events rather than row changes: DDL on audited
//! tables ([`ddl`]) and writes made while a superuser had auditing switched
//! off ([`unaudited`]). Both are stamped and written like captured changes,
//! inside the transaction that caused them, and chained like any row.

pub mod ddl;
pub mod unaudited;

use std::ffi::c_void;

use pgrx::pg_sys;
use pgrx::prelude::*;

/// Registers the transaction callbacks (once, from `_PG_init`).
pub fn register() {
    // SAFETY: called once per process from _PG_init; the callbacks live as long as the library.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    use pg_sys::XactEvent::*;
    match event {
        // Still inside the transaction: the marker commits (or is
        // prepared, for COMMIT PREPARED) with it.
        XACT_EVENT_PRE_COMMIT | XACT_EVENT_PRE_PREPARE => unaudited::write_marker(),
        XACT_EVENT_COMMIT | XACT_EVENT_PREPARE => {
            unaudited::forget();
            ddl::quiet(false);
            crate::epoch::committed();
        }
        XACT_EVENT_ABORT => {
            unaudited::forget();
            ddl::quiet(false);
            crate::epoch::aborted();
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut c_void,
) {
    use pg_sys::SubXactEvent::*;
    match event {
        SUBXACT_EVENT_COMMIT_SUB => unaudited::commit_sub(my_subid, parent_subid),
        SUBXACT_EVENT_ABORT_SUB => {
            unaudited::abort_sub(my_subid);
            ddl::quiet(false);
            crate::epoch::savepoint_aborted();
        }
        _ => {}
    }
}
