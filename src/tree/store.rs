//! The tree in the database. Its leaves are read from the blocks' checksums
//! (`audit_block.row_checksums`, sliced: stored uncompressed, only the slice
//! is read), its complete subtrees of 256^k leaves from `audit_tree_node`,
//! and each block's tree size and root are kept in `audit_tree`.
//!
//! [`extend`] appends every block not in the tree yet: after each seal, and
//! once, on the update to 0.3.0, for every block sealed before.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use tlog_tiles::Hash;

use super::merkle::{self, Frontier, Items};
use crate::audit_log::objects::Objects;
use crate::error::{AuditError, OrReport};

/// Blocks read at a time while appending (each holds up to 10,000 checksums).
const BLOCKS_PER_FETCH: i64 = 16;

fn corrupt(reason: String) -> AuditError {
    AuditError::CorruptLedger { reason }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).expect("tree sizes and indexes stay below 2^63")
}

/// The tree as stored, read through `client`.
pub struct Stored<'c, 'a> {
    client: &'c SpiClient<'a>,
    objs: &'c Objects,
}

impl<'c, 'a> Stored<'c, 'a> {
    pub fn new(client: &'c SpiClient<'a>, objs: &'c Objects) -> Self {
        Stored { client, objs }
    }

    fn try_leaves(&self, from: u64, to: u64) -> Result<Vec<Hash>, AuditError> {
        let read = AuditError::spi("could not read the tree's leaves from audit_block");
        let rows = self
            .client
            .select(
                &self
                    .objs
                    .sql(include_str!("../../sql/queries/tree_leaves.sql")),
                None,
                &[int(from).into(), int(to).into()],
            )
            .map_err(read)?;
        let mut out = Vec::with_capacity((to - from) as usize);
        let mut next = from;
        for row in rows {
            let read = AuditError::spi("could not read the tree's leaves from audit_block");
            let start = row.get::<i64>(1).map_err(read)?;
            let read = AuditError::spi("could not read the tree's leaves from audit_block");
            let end = row.get::<i64>(2).map_err(read)?;
            let read = AuditError::spi("could not read the tree's leaves from audit_block");
            let sums = row.get::<Vec<u8>>(3).map_err(read)?.unwrap_or_default();
            let (Some(start), Some(end)) = (start, end) else {
                return Err(corrupt(
                    "audit_tree or audit_block holds a NULL size".into(),
                ));
            };
            let first = (start.max(0) as u64).max(from);
            if first != next || sums.len() % 32 != 0 {
                return Err(corrupt(format!(
                    "the blocks' leaves are not contiguous at leaf {next} (a block's row_count or checksums do not match the tree)"
                )));
            }
            out.extend(sums.chunks_exact(32).map(merkle::leaf_hash));
            next = (end.max(0) as u64).min(to);
        }
        if out.len() as u64 != to - from {
            return Err(corrupt(format!(
                "the tree has {} of the leaves [{from}, {to}) (a block is missing from audit_tree or its checksums are cut)",
                out.len()
            )));
        }
        Ok(out)
    }

    fn try_nodes(&self, level: u8, from: u64, to: u64) -> Result<Vec<Hash>, AuditError> {
        let read = AuditError::spi("could not read audit_tree_node");
        let rows = self
            .client
            .select(
                &self
                    .objs
                    .sql(include_str!("../../sql/queries/tree_nodes.sql")),
                None,
                &[i16::from(level).into(), int(from).into(), int(to).into()],
            )
            .map_err(read)?;
        let mut out = Vec::with_capacity((to - from) as usize);
        for row in rows {
            let read = AuditError::spi("could not read audit_tree_node");
            let hash = row.get::<Vec<u8>>(1).map_err(read)?.unwrap_or_default();
            let hash: [u8; 32] = hash.as_slice().try_into().map_err(|_| {
                corrupt(format!(
                    "audit_tree_node holds a hash of {} bytes at level {level}",
                    hash.len()
                ))
            })?;
            out.push(Hash(hash));
        }
        if out.len() as u64 != to - from {
            return Err(corrupt(format!(
                "audit_tree_node has {} of the {} subtrees [{from}, {to}) of level {level}",
                out.len(),
                to - from
            )));
        }
        Ok(out)
    }
}

impl Items for Stored<'_, '_> {
    fn leaves(&self, from: u64, to: u64) -> Vec<Hash> {
        if from == to {
            return Vec::new();
        }
        self.try_leaves(from, to).or_report()
    }

    fn nodes(&self, level: u8, from: u64, to: u64) -> Vec<Hash> {
        if from == to {
            return Vec::new();
        }
        self.try_nodes(level, from, to).or_report()
    }
}

/// The tree's newest head: the last block in it and its size (0, 0 when empty).
pub fn head(client: &SpiClient<'_>, objs: &Objects) -> Result<(i64, u64), AuditError> {
    head_frontier(client, objs).map(|(block, frontier)| (block, frontier.size()))
}

/// The tree's newest head: the last block in it and the tree's frontier
/// there (empty when the tree is).
fn head_frontier(client: &SpiClient<'_>, objs: &Objects) -> Result<(i64, Frontier), AuditError> {
    let read = AuditError::spi("could not read audit_tree");
    let rows = client
        .select(
            &objs.sql(include_str!("../../sql/queries/tree_head.sql")),
            None,
            &[],
        )
        .map_err(read)?;
    if rows.is_empty() {
        return Ok((0, Frontier::new()));
    }
    let row = rows.first();
    let read = AuditError::spi("could not read audit_tree");
    let block = row.get::<i64>(1).map_err(read)?;
    let read = AuditError::spi("could not read audit_tree");
    let size = row.get::<i64>(2).map_err(read)?;
    let read = AuditError::spi("could not read audit_tree");
    let frontier = row.get::<Vec<u8>>(3).map_err(read)?;
    let stored = match (size, frontier) {
        (Some(size), Some(f)) if size >= 0 => Frontier::from_bytes(size as u64, &f),
        _ => None,
    };
    match (block, stored) {
        (Some(block), Some(frontier)) => Ok((block, frontier)),
        _ => Err(corrupt(
            "audit_tree's newest row has a NULL or negative size, or a frontier that is not one hash per set bit of it".into(),
        )),
    }
}

/// The root of the tree of `size` leaves, as stored.
pub fn root_at(client: &SpiClient<'_>, objs: &Objects, size: u64) -> Hash {
    merkle::root(&Stored::new(client, objs), size)
}

/// Appends every block not in the tree yet, in chain order; returns the
/// tree's size. Does nothing before the update that adds the tree's tables.
/// The caller holds the sealers' lock.
pub fn extend(client: &mut SpiClient<'_>, objs: &Objects) -> Result<u64, AuditError> {
    if !objs.has_tree() {
        return Ok(0);
    }
    // The tree goes on from its own state (the newest head's frontier), never
    // from the blocks it already holds: a block replaced since cannot change it.
    let (last_block, mut edge) = head_frontier(client, objs)?;
    let cursor = client
        .open_cursor(
            &objs.sql(include_str!("../../sql/queries/tree_blocks.sql")),
            &[last_block.into()],
        )
        .detach_into_name();
    let mut blocks = fetch_blocks(client, &cursor)?;
    while !blocks.is_empty() {
        let (mut ids, mut sizes, mut roots, mut frontiers) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut levels, mut indexes, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
        for (id, row_count, sums) in std::mem::take(&mut blocks) {
            if row_count < 0 || sums.len() as u64 != row_count as u64 * 32 {
                return Err(corrupt(format!(
                    "block {id} lists {} bytes of checksums for {row_count} rows; it cannot enter the tree",
                    sums.len()
                )));
            }
            for sum in sums.chunks_exact(32) {
                for (level, index, hash) in edge.push(merkle::leaf_hash(sum)) {
                    levels.push(i16::from(level));
                    indexes.push(int(index));
                    hashes.push(hash.0.to_vec());
                }
            }
            ids.push(id);
            sizes.push(int(edge.size()));
            roots.push(edge.root().0.to_vec());
            frontiers.push(edge.to_bytes());
        }
        let write = AuditError::spi("could not write the tree");
        client
            .update(
                &objs.sql(include_str!("../../sql/queries/tree_insert_heads.sql")),
                None,
                &[ids.into(), sizes.into(), roots.into(), frontiers.into()],
            )
            .map_err(write)?;
        if !levels.is_empty() {
            let write = AuditError::spi("could not write the tree");
            client
                .update(
                    &objs.sql(include_str!("../../sql/queries/tree_insert_nodes.sql")),
                    None,
                    &[levels.into(), indexes.into(), hashes.into()],
                )
                .map_err(write)?;
        }
        blocks = fetch_blocks(client, &cursor)?;
    }
    Ok(edge.size())
}

/// The next blocks of the cursor: (id, row_count, checksums).
fn fetch_blocks(
    client: &mut SpiClient<'_>,
    cursor: &str,
) -> Result<Vec<(i64, i64, Vec<u8>)>, AuditError> {
    let read = AuditError::spi("could not read audit_block");
    let mut rows = client.find_cursor(cursor).map_err(read)?;
    let mut out = Vec::new();
    let read = AuditError::spi("could not read audit_block");
    for row in rows.fetch(BLOCKS_PER_FETCH).map_err(read)? {
        let read = || AuditError::spi("could not read audit_block");
        let id = row.get::<i64>(1).map_err(read())?;
        let count = row.get::<i64>(2).map_err(read())?;
        let sums = row.get::<Vec<u8>>(3).map_err(read())?;
        let (Some(id), Some(count), Some(sums)) = (id, count, sums) else {
            return Err(corrupt(
                "a block has a NULL id, row_count or row_checksums; it cannot enter the tree"
                    .into(),
            ));
        };
        out.push((id, count, sums));
    }
    if !out.is_empty() {
        rows.detach_into_name();
    }
    Ok(out)
}

/// `audit_consistency(old_size, new_size)`: the RFC 9162 consistency proof
/// (2.1.4) from the tree of `old_size` leaves to the tree of `new_size`, one
/// hash per element; empty when `old_size` is 0 or equals `new_size`.
#[pg_extern(stable, parallel_safe)]
fn audit_consistency(old_size: Option<i64>, new_size: Option<i64>) -> Vec<Vec<u8>> {
    let (Some(old), Some(new)) = (old_size, new_size) else {
        AuditError::NullArgument {
            what: "audit_consistency() needs both tree sizes".into(),
        }
        .report()
    };
    let objs = crate::audit_log::objects::objects();
    Spi::connect(|client| {
        let (_, size) = head(client, &objs)?;
        if old < 0 || new < old || new as u64 > size {
            return Err(AuditError::InvalidArgument {
                reason: format!(
                    "a consistency proof needs 0 <= old_size <= new_size <= the tree's size ({size}), got {old} and {new}"
                ),
            });
        }
        let proof = merkle::consistency(&Stored::new(client, &objs), old as u64, new as u64)
            .expect("sizes checked above");
        Ok(proof.into_iter().map(|h| h.0.to_vec()).collect())
    })
    .or_report()
}
