//! The ledger: audit rows sealed into hash-chained blocks, and the proof that
//! nobody rewrote them.
//!
//! - [`block`]: a block as stored, read without repairing anything;
//! - [`classify`]: pure logic from blocks and rows to findings;
//! - `seal`: `audit_seal()`, a thin shell around SPI;
//! - `verify`: `verify_audit()`, a shell that feeds the classifier.
//! - `sealer`: the background worker that calls `audit_seal()`.
//!
//! The forms hashed here live in `forms`.

pub mod block;
pub mod classify;
pub mod seal;
pub mod sealer;
mod tree_check;
mod verify;

pub use verify::register_settings;
