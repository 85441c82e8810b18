//! jsonb's binary layout (PostgreSQL's `utils/jsonb.h`), shared by the code
//! that reads it (the checksum's text, [`crate::forms::jsonb_text`]) and the
//! code that writes it ([`super::binary`]).
//!
//! A container is a header word (child count and kind), one entry word per
//! child (for an object, every key and then every value), then the
//! children's data. An entry holds the child's type and either its length or,
//! for every [`JB_OFFSET_STRIDE`]th child, the end offset of its data.

/// The header's child count.
pub const JB_CMASK: u32 = 0x0FFF_FFFF;
/// A scalar document: an array of one element.
pub const JB_FSCALAR: u32 = 0x1000_0000;
pub const JB_FOBJECT: u32 = 0x2000_0000;
pub const JB_FARRAY: u32 = 0x4000_0000;
/// An entry's length or end offset.
pub const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
pub const JENTRY_TYPEMASK: u32 = 0x7000_0000;
/// The entry holds an end offset, not a length.
pub const JENTRY_HAS_OFF: u32 = 0x8000_0000;
pub const JENTRY_ISSTRING: u32 = 0x0000_0000;
pub const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
pub const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
pub const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
pub const JENTRY_ISNULL: u32 = 0x4000_0000;
pub const JENTRY_ISCONTAINER: u32 = 0x5000_0000;
/// Every 32nd child's entry holds its end offset instead of its length.
pub const JB_OFFSET_STRIDE: usize = 32;
