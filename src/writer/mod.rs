//! Appending rows to `audit_log`: the insert and nothing else.
//!
//! Rows are written with direct heap inserts plus index inserts: no SPI, no
//! executor start-up, and no INSERT privilege needed, so `audit_log` can stay
//! closed to every role while their changes are still recorded. Which
//! relation and indexes to write comes from `objects`.
//!
//! Captured changes are held back and written in batches ([`hold`], see
//! [`batch`]): one multi-row heap insert per batch, the table opened once.
//! Event rows (DDL, the UNAUDITED marker, failed attempts) are written at
//! once ([`append`]).

mod batch;
mod insert;
mod pending;
mod slots;

pub use batch::{hold, on_subxact, on_xact, register, statement_ended};
pub use insert::append;
