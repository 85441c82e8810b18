//! The Merkle tree of RFC 9162 (section 2.1) over the sealed audit rows, as
//! pure logic: where its hashes come from is the caller's ([`Items`]).
//!
//! The tree math is the `tlog_tiles` crate's (a port of Go's
//! `golang.org/x/mod/sumdb/tlog`): root, inclusion and consistency proofs,
//! asked of a [`tlog_tiles::HashReader`] by stored-hash index. What is kept
//! is what C2SP tlog-tiles keeps: the leaf hashes (here read from the blocks'
//! checksums, never stored twice) and the hash of every complete subtree of
//! 256, 65,536, ... leaves ([`TILE_HEIGHT`]). Any other subtree's hash is
//! folded from at most 128 of the level below, so a proof costs O(log n)
//! reads and a few thousand hashes however large the log.
//!
//! [`Frontier`] is the right edge of the tree: what appending a leaf and
//! computing the root need. Sealing pushes each block's leaves onto it and
//! stores the subtree hashes it completes; verification pushes every leaf
//! from the blocks and compares each block's root, and each stored subtree,
//! with those recomputed.

use tlog_tiles::{self as tlog, Hash, HashReader};

/// Levels whose subtree hashes are stored: every 8th (tlog-tiles' tile height).
pub const TILE_HEIGHT: u8 = 8;

/// The entry a leaf stands for, hashed as RFC 9162 hashes leaves:
/// SHA-256(0x00 || entry). The entry is the audit row's 32-byte checksum.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    tlog::record_hash(entry)
}

/// Where a tree's hashes come from.
pub trait Items {
    /// The leaf hashes of leaves [from, to), all of them (to ≤ the tree's size).
    fn leaves(&self, from: u64, to: u64) -> Vec<Hash>;
    /// The stored hashes at `level` (a positive multiple of [`TILE_HEIGHT`])
    /// of the complete subtrees [from, to), all of them.
    fn nodes(&self, level: u8, from: u64, to: u64) -> Vec<Hash>;
}

/// Hashes a complete subtree's items pairwise up to one hash.
fn fold(mut row: Vec<Hash>) -> Hash {
    debug_assert!(row.len().is_power_of_two());
    while row.len() > 1 {
        row = row
            .chunks_exact(2)
            .map(|p| tlog::node_hash(p[0], p[1]))
            .collect();
    }
    row[0]
}

/// The hash of the complete subtree at `level` with index `k`: the leaves
/// [k·2^level, (k+1)·2^level). None when those leaves lie beyond u64.
pub fn subtree(items: &dyn Items, level: u8, k: u64) -> Option<Hash> {
    let base = level - level % TILE_HEIGHT;
    let span = 1u64 << (level - base);
    let from = k.checked_mul(span)?;
    let to = from.checked_add(span)?;
    // The leaves it covers must be numbers too.
    if (to - 1) > u64::MAX >> base {
        return None;
    }
    let row = if base == 0 {
        items.leaves(from, to)
    } else {
        items.nodes(base, from, to)
    };
    Some(fold(row))
}

/// `items` as a [`HashReader`]: each stored-hash index is a complete subtree.
pub struct Reader<'a>(pub &'a dyn Items);

impl HashReader for Reader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog::Error> {
        indexes
            .iter()
            .map(|&i| {
                let (level, k) = tlog::split_stored_hash_index(i);
                subtree(self.0, level, k).ok_or(tlog::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// Why a proof cannot be made.
#[derive(Debug, PartialEq, Eq)]
pub enum ProofError {
    /// The index is not below the tree size (or the sizes are out of order).
    OutOfRange,
}

/// The root of the tree of the first `size` leaves.
pub fn root(items: &dyn Items, size: u64) -> Hash {
    tlog::tree_hash(size, &Reader(items)).expect("the items hold every leaf below the size")
}

/// The inclusion proof (RFC 9162, 2.1.3) of leaf `index` in the tree of `size` leaves.
pub fn inclusion(items: &dyn Items, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange);
    }
    tlog::prove_record(size, index, &Reader(items)).map_err(|_| ProofError::OutOfRange)
}

/// The consistency proof (RFC 9162, 2.1.4) from the tree of `old` leaves to
/// the tree of `new`; empty when `old` is 0 or equals `new`.
pub fn consistency(items: &dyn Items, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange);
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    tlog::prove_tree(new, old, &Reader(items)).map_err(|_| ProofError::OutOfRange)
}

/// A subtree hash completed by appending leaves, to store: (level, index, hash).
pub type Node = (u8, u64, Hash);

/// The right edge of a tree (its "compact range"): the hashes of the
/// maximal complete subtrees the leaves so far form, left to right, one per
/// set bit of the size. Appending a leaf merges the subtrees it completes,
/// as a binary counter carries; the root folds them. Enough to append and
/// to compute the root, in O(log n) memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Default for Frontier {
    fn default() -> Self {
        Frontier::new()
    }
}

impl Frontier {
    pub fn new() -> Frontier {
        Frontier {
            size: 0,
            hashes: Vec::new(),
        }
    }

    /// The frontier of the tree of `size` leaves held by `items` (what the
    /// stored frontier must be; the unit tests check that they agree).
    #[cfg(test)]
    pub fn load(items: &dyn Items, size: u64) -> Frontier {
        let mut hashes = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size & (1 << level) != 0 {
                hashes
                    .push(subtree(items, level, start >> level).expect("a subtree below the size"));
                start += 1 << level;
            }
        }
        Frontier { size, hashes }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier's hashes, concatenated (what `audit_tree` keeps with
    /// each head, so that appending goes on from the tree's own state).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.iter().flat_map(|h| h.0).collect()
    }

    /// The frontier of a tree of `size` leaves from its stored hashes: one
    /// per set bit of the size. None when they do not fit.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Option<Frontier> {
        if bytes.len() != size.count_ones() as usize * 32 {
            return None;
        }
        let hashes = bytes
            .chunks_exact(32)
            .map(|c| Hash(c.try_into().expect("32 bytes")))
            .collect();
        Some(Frontier { size, hashes })
    }

    /// Appends a leaf; returns the stored subtrees (every [`TILE_HEIGHT`]th
    /// level) it completes, lowest first.
    pub fn push(&mut self, leaf: Hash) -> Vec<Node> {
        let mut done = Vec::new();
        let mut hash = leaf;
        let mut level = 0u8;
        while self.size & (1 << level) != 0 {
            let left = self.hashes.pop().expect("one hash per set bit");
            hash = tlog::node_hash(left, hash);
            level += 1;
            if level.is_multiple_of(TILE_HEIGHT) {
                done.push((level, (self.size + 1) / (1u64 << level) - 1, hash));
            }
        }
        self.hashes.push(hash);
        self.size += 1;
        done
    }

    /// The root of the tree of `size()` leaves.
    pub fn root(&self) -> Hash {
        let mut hashes = self.hashes.iter().rev();
        let Some(&last) = hashes.next() else {
            return tlog::EMPTY_HASH;
        };
        hashes.fold(last, |right, &left| tlog::node_hash(left, right))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    /// Every leaf, and every stored subtree hash, in memory.
    struct Memory {
        leaves: Vec<Hash>,
        nodes: std::collections::HashMap<(u8, u64), Hash>,
    }

    impl Memory {
        fn new(leaves: Vec<Hash>) -> Memory {
            let mut edge = Frontier::new();
            let mut nodes = std::collections::HashMap::new();
            for &l in &leaves {
                for (level, k, h) in edge.push(l) {
                    nodes.insert((level, k), h);
                }
            }
            Memory { leaves, nodes }
        }
    }

    impl Items for Memory {
        fn leaves(&self, from: u64, to: u64) -> Vec<Hash> {
            self.leaves[from as usize..to as usize].to_vec()
        }
        fn nodes(&self, level: u8, from: u64, to: u64) -> Vec<Hash> {
            (from..to).map(|k| self.nodes[&(level, k)]).collect()
        }
    }

    /// RFC 9162's MTH, written out from the RFC as the reference.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => tlog::EMPTY_HASH,
            1 => leaves[0],
            n => {
                // The largest power of two smaller than n.
                let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                tlog::node_hash(mth(&leaves[..k]), mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn hex(h: Hash) -> String {
        h.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc_6962_reference_roots() {
        // transparency-dev/merkle's test vectors (testonly/constants.go).
        let inputs: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let hashes: Vec<Hash> = inputs.iter().map(|d| leaf_hash(d)).collect();
        let mut edge = Frontier::new();
        assert_eq!(hex(edge.root()), roots[0]);
        for (n, &h) in hashes.iter().enumerate() {
            edge.push(h);
            assert_eq!(hex(edge.root()), roots[n + 1], "size {}", n + 1);
            assert_eq!(hex(mth(&hashes[..=n])), roots[n + 1]);
        }
        // Inclusion of leaf 0 and of leaf 5 in the tree of 8 (node hashes of
        // the same vectors).
        let all = Memory::new(hashes);
        let proof = |i| {
            inclusion(&all, i, 8)
                .unwrap()
                .into_iter()
                .map(hex)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            proof(0),
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
            ]
        );
        assert_eq!(
            proof(5),
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
            ]
        );
        let cons = consistency(&all, 6, 8).unwrap();
        assert_eq!(
            cons.into_iter().map(hex).collect::<Vec<_>>(),
            [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
            ]
        );
    }

    #[test]
    fn roots_of_every_size_match_the_rfc_definition_across_stored_levels() {
        let all = leaves(70_000);
        let memory = Memory::new(all.clone());
        let mut edge = Frontier::new();
        let sizes = [
            1u64, 2, 3, 7, 8, 9, 255, 256, 257, 1000, 65_535, 65_536, 65_537, 70_000,
        ];
        for (i, &l) in all.iter().enumerate() {
            edge.push(l);
            let n = i as u64 + 1;
            if sizes.contains(&n) {
                let want = mth(&all[..n as usize]);
                assert_eq!(edge.root(), want, "edge root, size {n}");
                assert_eq!(root(&memory, n), want, "stored root, size {n}");
                assert_eq!(Frontier::load(&memory, n), edge, "frontier loaded at {n}");
                assert_eq!(
                    Frontier::from_bytes(n, &edge.to_bytes()),
                    Some(edge.clone())
                );
                let bytes = edge.to_bytes();
                assert_eq!(Frontier::from_bytes(n, &bytes[1..]), None);
            }
        }
        // The stored levels: 273 groups of 256 and one of 65,536.
        assert_eq!(memory.nodes.len(), 273 + 1);
    }

    #[test]
    fn inclusion_and_consistency_proofs_check_and_tampering_fails() {
        let all = leaves(1_100);
        let memory = Memory::new(all.clone());
        for &size in &[1u64, 2, 3, 7, 8, 9, 256, 257, 1000, 1_100] {
            let th = root(&memory, size);
            for index in (0..size).step_by(if size > 300 { 37 } else { 1 }) {
                let p = inclusion(&memory, index, size).unwrap();
                let leaf = all[index as usize];
                assert!(tlog::check_record(&p, size, th, index, leaf).is_ok());
                // Another leaf, another index, a changed hash: rejected.
                let other = leaf_hash(b"x");
                assert!(tlog::check_record(&p, size, th, index, other).is_err());
                if size > 1 {
                    let wrong = (index + 1) % size;
                    assert!(tlog::check_record(&p, size, th, wrong, leaf).is_err());
                    let mut bad = p.clone();
                    bad[0].0[0] ^= 1;
                    assert!(tlog::check_record(&bad, size, th, index, leaf).is_err());
                }
            }
            for old in (1..=size).step_by(if size > 300 { 53 } else { 1 }) {
                let p = consistency(&memory, old, size).unwrap();
                let oh = root(&memory, old);
                assert!(
                    tlog::check_tree(&p, size, th, old, oh).is_ok(),
                    "{old}->{size}"
                );
                if old < size {
                    assert!(tlog::check_tree(&p, size, th, old, leaf_hash(b"x")).is_err());
                }
            }
        }
        assert_eq!(inclusion(&memory, 5, 5), Err(ProofError::OutOfRange));
        assert_eq!(consistency(&memory, 6, 5), Err(ProofError::OutOfRange));
        assert_eq!(consistency(&memory, 0, 5), Ok(vec![]));
        assert_eq!(consistency(&memory, 5, 5), Ok(vec![]));
    }

    fn unhex(s: &str) -> Hash {
        let b: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        Hash(b.try_into().unwrap())
    }

    #[test]
    fn golden_vectors_made_from_the_rfc_definitions_agree() {
        // tests/vectors/merkle.json: made by RFC 9162's recursive definitions
        // in Python (make_merkle.py), checked here, by the Python verifier
        // and by Go's sumdb/tlog.
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/merkle.json")).unwrap();
        let t = &v["tree"];
        let entries: Vec<Hash> = t["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| unhex(e.as_str().unwrap()))
            .collect();
        let memory = Memory::new(entries.iter().map(|e| leaf_hash(&e.0)).collect());
        let roots = t["roots"].as_object().unwrap();
        for (n, r) in roots {
            assert_eq!(
                root(&memory, n.parse().unwrap()),
                unhex(r.as_str().unwrap()),
                "root {n}"
            );
        }
        let hashes = |v: &serde_json::Value| -> Vec<Hash> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|h| unhex(h.as_str().unwrap()))
                .collect()
        };
        for c in t["inclusion"].as_array().unwrap() {
            let (i, n) = (c["index"].as_u64().unwrap(), c["size"].as_u64().unwrap());
            assert_eq!(
                inclusion(&memory, i, n).unwrap(),
                hashes(&c["path"]),
                "{i} in {n}"
            );
        }
        for c in t["consistency"].as_array().unwrap() {
            let (o, n) = (c["old"].as_u64().unwrap(), c["new"].as_u64().unwrap());
            assert_eq!(
                consistency(&memory, o, n).unwrap(),
                hashes(&c["proof"]),
                "{o} -> {n}"
            );
        }
        assert!(roots.len() >= 10 && t["consistency"].as_array().unwrap().len() > 50);
    }

    #[test]
    fn subtrees_beyond_the_index_space_are_refused() {
        let memory = Memory::new(leaves(4));
        assert_eq!(subtree(&memory, 3, u64::MAX), None);
        assert_eq!(subtree(&memory, 20, u64::MAX >> 4), None);
    }
}
