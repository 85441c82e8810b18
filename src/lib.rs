//! lead_audit: a tamper-evident change history for any PostgreSQL table.
//!
//! `audit_enable('leads')` puts row triggers on a table; every change becomes one
//! checksummed row of `audit_log`. This file only wires the modules together:
//! each concern lives in its own module.

use pgrx::prelude::*;

mod capture;
mod catalog;
mod chain;
mod checksum;
mod context;
mod error;
mod json;
mod jsonb_text;
mod sealer;
mod verify;
mod writer;

::pgrx::pg_module_magic!(name, version);

// Tables first: the functions pgrx generates come after them.
pgrx::extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
// The SQL API refers to the Rust functions, so it comes last.
pgrx::extension_sql_file!("../sql/api.sql", name = "api", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    context::register_settings();
    catalog::register_invalidation();
    sealer::register();
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;

#[cfg(test)]
pub use tests::pg_test;
