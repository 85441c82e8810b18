//! Failed attempts: a statement that wrote, or tried to write, to an audited
//! table and whose transaction or subtransaction then aborted leaves one
//! audit row (outcome 'failed') with its error, written after the abort by a
//! background worker of ours.
//!
//! Needs `shared_preload_libraries`: the hooks must be in place before a
//! session's first statement (a permission error comes before any trigger
//! would load the library), and the queue lives in shared memory. Without
//! it nothing here runs, and `audit_enable` says failed attempts are not
//! recorded.
//!
//! Data flows one way: watch (what is attempted, how it ended) -> pending
//! (per backend) -> message -> queue (shared memory) -> worker -> writer.

mod message;
mod pending;
mod queue;
mod settings;
mod watch;
mod worker;

use pgrx::pg_sys;
use pgrx::prelude::*;

pub use settings::recorded;
pub use watch::{forget, keep_error, note_row, note_statement, note_utility, on_subxact, on_xact};

/// Registers the settings; when preloading, the queue too (the hooks are
/// installed by `crate::hooks` when [`recorded`]).
pub fn register() {
    settings::register();
    // SAFETY: a flag PostgreSQL sets while loading shared_preload_libraries.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        settings::set_recorded();
    }
}

pub use queue::{request_shmem, startup_shmem};

/// Starts the writers of databases whose failed attempts are queued but
/// unwritten (no worker slot was free when they were queued). Called by the
/// sealer on each round.
pub fn start_stranded_writers() {
    if !settings::recorded() {
        return;
    }
    // SAFETY: reads the clock.
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    for db in queue::stranded(now) {
        queue::start_writer(db);
    }
}

/// Whether this server records failed attempts (lead_audit preloaded).
#[pg_extern(name = "_audit_attempts_recorded", stable, parallel_safe)]
fn attempts_recorded() -> bool {
    settings::recorded()
}

/// For `audit_status`: this database's failed attempts waiting to be
/// written, those dropped (queue full) and not recorded yet, and the drops
/// of the whole server since it started. Zeros when the server does not
/// record attempts.
#[pg_extern(name = "_audit_attempts_backlog", stable, parallel_safe)]
fn attempts_backlog() -> TableIterator<
    'static,
    (
        name!(queued, i64),
        name!(dropped, i64),
        name!(dropped_since_start, i64),
    ),
> {
    let (queued, dropped, total) = if settings::recorded() {
        // SAFETY: reads this backend's database oid.
        queue::backlog(unsafe { pg_sys::MyDatabaseId })
    } else {
        (0, 0, 0)
    };
    TableIterator::once((queued as i64, dropped as i64, total as i64))
}

// Every message fits a queue slot, however long its texts.
const _: () = assert!(queue::SLOT_BYTES >= message::MIN_CAP);
