//! Signed checkpoints of the Merkle tree, witnesses' cosignatures and
//! receipts, in the C2SP transparency-log formats.
//!
//! - [`note`]: the texts (checkpoints, signed notes, keys, cosignatures,
//!   tlog-proof), pure;
//! - [`sign`]: the settings, signing after each seal, and the SQL functions
//!   of checkpoints and cosignatures;
//! - [`receipt`]: `audit_proof()`, a receipt for one row.

pub mod note;
pub mod receipt;
pub mod sign;
