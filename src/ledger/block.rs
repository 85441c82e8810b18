//! A block as `audit_block` stores it, read as it is: hashes of whatever
//! length they have, ids and checksums as listed. Nothing malformed is
//! replaced by zeros; [`StoredBlock::header`] and [`StoredBlock::leaves`] say
//! whether the block can be hashed and its rows trusted, and the classifier
//! turns a "no" into a finding, the sealer into an error.

use crate::forms::{self, BlockHeader, Hash, Leaf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlock {
    pub id: i64,
    pub from_xid: i64,
    pub to_xid: i64,
    pub first_id: i64,
    pub last_id: i64,
    pub row_count: i64,
    /// Microseconds since the Unix epoch; None when `sealed_at` is not a finite time.
    pub sealed_at_us: Option<i64>,
    pub rows_hash: Vec<u8>,
    pub prev_hash: Vec<u8>,
    pub block_hash: Vec<u8>,
    /// The listed row ids (None for a NULL element); None when not loaded.
    pub row_ids: Option<Vec<Option<i64>>>,
    /// The listed checksums, concatenated; None when not loaded.
    pub row_checksums: Option<Vec<u8>>,
}

/// Exactly 32 bytes, or None.
pub fn hash32(bytes: &[u8]) -> Option<Hash> {
    bytes.try_into().ok()
}

impl StoredBlock {
    /// What the block's hash covers, when every part of it is well formed.
    pub fn header(&self) -> Option<BlockHeader> {
        Some(BlockHeader {
            id: self.id,
            from_xid: self.from_xid,
            to_xid: self.to_xid,
            first_id: self.first_id,
            last_id: self.last_id,
            row_count: self.row_count,
            rows_hash: hash32(&self.rows_hash)?,
            prev_hash: hash32(&self.prev_hash)?,
            sealed_at_us: self.sealed_at_us?,
        })
    }

    /// Whether the block's own hash is intact: well formed and matching.
    pub fn hash_matches(&self) -> bool {
        self.header()
            .is_some_and(|h| h.hash().as_slice() == self.block_hash.as_slice())
    }

    /// The leaves, when the lists are loaded and agree: no NULL id, one
    /// 32-byte checksum per id.
    pub fn leaves(&self) -> Option<Vec<Leaf>> {
        let (ids, sums) = (self.row_ids.as_ref()?, self.row_checksums.as_ref()?);
        let agree = sums.len() == ids.len() * 32 && ids.iter().all(Option::is_some);
        agree.then(|| self.listed_leaves())
    }

    /// The (id, checksum) pairs the lists hold as far as they agree: each
    /// non-NULL id with the whole checksum at its position. What rows are
    /// matched against, even in a malformed block (which is reported anyway).
    pub fn listed_leaves(&self) -> Vec<Leaf> {
        let (Some(ids), Some(sums)) = (&self.row_ids, &self.row_checksums) else {
            return Vec::new();
        };
        ids.iter()
            .zip(sums.chunks_exact(32))
            .filter_map(|(id, sum)| {
                Some(Leaf {
                    id: (*id)?,
                    checksum: hash32(sum)?,
                })
            })
            .collect()
    }

    /// Whether the leaves are well formed, in order, bounded by first_id and
    /// last_id, as many as row_count, and hash to rows_hash.
    pub fn leaves_match(&self) -> bool {
        let Some(leaves) = self.leaves() else {
            return false;
        };
        leaves.windows(2).all(|w| w[0].id < w[1].id)
            && leaves.first().map(|l| l.id) == Some(self.first_id)
            && leaves.last().map(|l| l.id) == Some(self.last_id)
            && leaves.len() as i64 == self.row_count
            && forms::rows_hash(&leaves).as_slice() == self.rows_hash.as_slice()
    }
}
