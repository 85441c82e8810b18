//! The ledger's Merkle tree (RFC 9162) over every sealed audit row, in seal
//! order: block by block, and within a block in the order of its `row_ids`.
//! Each leaf's entry is the row's 32-byte checksum, which binds the row's
//! whole canonical form.
//!
//! - [`merkle`]: the tree as pure logic (roots, proofs, the right edge);
//! - [`store`]: the tree in the database, appended to after each seal, and
//!   `audit_consistency()`.

pub mod merkle;
pub mod store;
