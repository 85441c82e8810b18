//! lead_audit: a tamper-evident change history for any PostgreSQL table.
//!
//! `audit_enable('leads')` puts triggers on a table; every change becomes one
//! checksummed row of `audit_log`, sealed later into a hash chain. This file
//! only wires the modules together. Imports run one way, in this order:
//!
//! ```text
//! capture -> catalog, redact, stamp, to_jsonb, events, attempts -> writer (batch, pending) -> forms -> record, objects -> pg, error
//! ledger (seal, classify, verify) -> forms, objects, record -> pg, error
//! attempts (watch, pending, message, queue, worker) -> actor, writer, record, pg
//! events (ddl, unaudited, partitions) -> stamp -> actor, writer
//! hooks -> attempts, events, writer (every hook and callback, installed once)
//! sealer -> attempts, (SQL)
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

use pgrx::prelude::*;

mod actor;
mod attempts;
mod capture;
mod catalog;
mod epoch;
mod error;
mod events;
mod forms;
mod hooks;
mod jsonb_binary;
mod jsonb_layout;
mod ledger;
mod numeric_layout;
mod objects;
mod panics;
mod pg;
mod recent;
mod record;
mod redact;
mod sealer;
mod spare;
mod stamp;
mod to_jsonb;
mod writer;

::pgrx::pg_module_magic!(name, version);

// Tables first: the functions pgrx generates come after them.
pgrx::extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
// The SQL API refers to the Rust functions, so it comes last.
pgrx::extension_sql_file!("../sql/api.sql", name = "api", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    actor::register_settings();
    ledger::register_settings();
    objects::register_invalidation(&[catalog::forget, attempts::forget]);
    sealer::register();
    attempts::register();
    writer::register();
    hooks::install();
    panics::quiet();
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;

#[cfg(test)]
pub use tests::pg_test;
