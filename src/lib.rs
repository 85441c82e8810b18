//! lead_audit: a tamper-evident change history for any PostgreSQL table.
//!
//! `audit_enable('leads')` puts triggers on a table; every change becomes one
//! checksummed row of `audit_log`, sealed later into a hash chain. This file
//! only wires the modules together. The modules are listed below, and
//! declared, in the order data flows: the server's entry points, the
//! triggers and the events and attempts they record, the writer, and what
//! they all stand on. Imports run one way, down this list (unit tests aside):
//!
//! ```text
//! hooks      every server hook and callback, installed once -> capture, events, attempts,
//!                                                               writer, audit_log
//! ledger     sealing, verification, the sealer (which starts
//!            stranded attempt writers)                       -> attempts, audit_log, forms
//! capture    the row, TRUNCATE and stamp triggers            -> events, attempts, writer,
//!                                                               forms, audit_log, actor, jsonb
//! events     DDL rows, writes with auditing off, partitions  -> writer, audit_log
//! attempts   failed attempts: watch, queue, worker           -> writer, audit_log, actor
//! writer     batched inserts into audit_log                  -> forms, audit_log
//! forms      the canonical forms                             -> audit_log, jsonb
//! audit_log  the audit row, the extension's objects, epoch,
//!            the columns every audit row shares              -> actor
//! actor      the application's user and request
//! jsonb      datums to JSONB
//! pg         PostgreSQL helpers, and the differences between majors
//! error      the one error type
//! ```
//!
//! Every module may use `pg` and `error`.

#![deny(unsafe_op_in_unsafe_fn)]

use pgrx::prelude::*;

// The server's entry points, and what reads the log back.
mod hooks;
mod ledger;
mod checkpoint;
mod tree;
// What records a change or an event...
mod capture;
mod events;
mod attempts;
// ...writes it...
mod writer;
// ...and what everything stands on.
mod forms;
mod audit_log;
mod actor;
mod jsonb;
mod pg;

mod error;

::pgrx::pg_module_magic!(name, version);

// Tables first: everything else comes after them.
pgrx::extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
// The SQL API, one file per concern, each created after the Rust functions
// and the other files it uses (the objects it names, the functions it calls).
pgrx::extension_sql_file!("../sql/api/capture.sql", name = "capture");
pgrx::extension_sql_file!("../sql/api/append_only.sql", name = "append_only");
pgrx::extension_sql_file!(
    "../sql/api/partitions.sql",
    name = "partitions",
    requires = [
        "capture",
        capture::table::audit_invalidate,
        events::ddl::set_quiet
    ]
);
pgrx::extension_sql_file!(
    "../sql/api/enable.sql",
    name = "enable",
    requires = [
        "partitions",
        capture::table::option_defaults,
        capture::table::stamp_roles,
        capture::baseline,
        capture::table::audit_invalidate,
        events::ddl::set_quiet,
        events::ddl::append_ddl,
        attempts::attempts_recorded
    ]
);
pgrx::extension_sql_file!(
    "../sql/api/ledger.sql",
    name = "ledger",
    requires = [
        ledger::verify::verify_audit_internal,
        ledger::verify::verify_checkpoint
    ]
);
pgrx::extension_sql_file!(
    "../sql/api/history.sql",
    name = "history",
    requires = ["enable", ledger::seal::seal_lock]
);
pgrx::extension_sql_file!(
    "../sql/api/time_travel.sql",
    name = "time_travel",
    requires = ["enable", "history"]
);
pgrx::extension_sql_file!(
    "../sql/api/revert.sql",
    name = "revert",
    requires = ["enable", "history", "time_travel"]
);
pgrx::extension_sql_file!(
    "../sql/api/status.sql",
    name = "status",
    requires = ["ledger", attempts::attempts_backlog]
);
pgrx::extension_sql_file!(
    "../sql/api/proofs.sql",
    name = "proofs",
    requires = [
        ledger::seal::tree_extend,
        checkpoint::sign::audit_add_checkpoint,
        checkpoint::sign::audit_add_cosignatures
    ]
);
pgrx::extension_sql_file!(
    "../sql/api/ddl_events.sql",
    name = "ddl_events",
    requires = [
        "capture",
        "enable",
        "history",
        capture::table::audit_invalidate,
        events::ddl::set_quiet,
        events::ddl::append_ddl
    ]
);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    actor::register_settings();
    ledger::register_settings();
    checkpoint::sign::register_settings();
    ledger::sealer::register();
    attempts::register();
    writer::register();
    hooks::install();
    hooks::panics::quiet();
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;

#[cfg(test)]
pub use tests::pg_test;
