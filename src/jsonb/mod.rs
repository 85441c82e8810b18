//! PostgreSQL datums to JSONB, built directly in PostgreSQL's binary layout.
//!
//! - [`convert`]: a row's values to one JSONB object, per column type;
//! - [`binary`]: the JSONB container encoder;
//! - [`layout`]: the on-disk constants of a JSONB container (`jsonb.h`);
//! - [`numeric`]: the on-disk form of a numeric (`numeric.c`).

pub mod binary;
pub mod convert;
pub mod layout;
pub mod numeric;
