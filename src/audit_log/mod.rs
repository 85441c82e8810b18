//! The `audit_log` table and what every writer shares about it.
//!
//! - [`row`]: the shape of an audit row, a Rust mirror of `sql/schema.sql`;
//! - [`objects`]: the extension's objects in this database, and the one set
//!   of cache invalidation callbacks;
//! - [`epoch`]: the ledger's transaction ids across dump and restore;
//! - [`stamp`]: the columns every audit row written in a transaction shares;
//! - [`scan`]: audit rows read back, deformed, by id.

pub mod epoch;
pub mod objects;
pub mod row;
pub mod scan;
pub mod stamp;
