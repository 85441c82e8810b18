//! `audit_seal()`: a thin shell around SPI that seals the rows of finished
//! transactions into new blocks. What a block holds is decided by
//! [`next_block`] (pure); the rest is reading and writing.
//!
//! Writers never wait for sealing and take no global lock. A sealer seals
//! only rows of transactions that have all finished: every row whose tx_id is
//! below the oldest transaction still running (the snapshot's xmin). No such
//! row can appear later, so a row that commits late falls into a later block,
//! never into a gap. Sealers serialise on an advisory lock.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::block::hash32;
use crate::audit_log::objects::{self, Objects};
use crate::error::{AuditError, OrReport};
use crate::forms::{self, BlockHeader, Hash, Leaf, PG_EPOCH_OFFSET_US};
use crate::{checkpoint, tree};

/// Rows per block at most: a block's leaves stay a few hundred kB.
pub const MAX_BLOCK_ROWS: usize = 10_000;
/// Advisory lock key that serialises sealers ("lead" "a0d1"), written here
/// only: `audit_index_history()` takes it through `_audit_seal_lock()`.
const SEAL_LOCK_KEY: i64 = 0x1ead_a0d1;

/// The block that seals `leaves` (sorted by id, at most [`MAX_BLOCK_ROWS`])
/// after the block `prev` = (id, hash), for the transactions in [from_xid, to_xid).
pub fn next_block(
    prev: (i64, Hash),
    leaves: &[Leaf],
    (from_xid, to_xid): (i64, i64),
    sealed_at_us: i64,
) -> BlockHeader {
    BlockHeader {
        id: prev.0 + 1,
        from_xid,
        to_xid,
        first_id: leaves[0].id,
        last_id: leaves[leaves.len() - 1].id,
        row_count: leaves.len() as i64,
        rows_hash: forms::rows_hash(leaves),
        prev_hash: prev.1,
        sealed_at_us,
    }
}

/// Seals every row of finished transactions not sealed yet; returns the new blocks.
/// Runs as the extension's owner (sealing writes audit_block), so with a fixed
/// search_path: a caller's schemas cannot shadow the types and operators it uses.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn audit_seal() -> TableIterator<
    'static,
    (
        name!(block_id, i64),
        name!(row_count, i64),
        name!(first_id, i64),
        name!(last_id, i64),
        name!(block_hash, String),
    ),
> {
    // Sealing must see the blocks other sealers committed while it waited for
    // the lock: only a fresh snapshot per statement (READ COMMITTED) does.
    // SAFETY: reads the current transaction's isolation level.
    if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
        AuditError::WrongIsolation {
            function: "audit_seal()",
        }
        .report();
    }
    let objs = objects::objects();
    // The ledger counts transactions with this cluster's offset added.
    let offset = crate::audit_log::epoch::offset();
    let sealed = Spi::connect_mut(|client| seal(client, &objs, offset)).or_report();
    TableIterator::new(
        sealed
            .into_iter()
            .map(|(h, hash)| (h.id, h.row_count, h.first_id, h.last_id, forms::hex(&hash))),
    )
}

fn corrupt(reason: String) -> AuditError {
    AuditError::CorruptLedger { reason }
}

fn seal(
    client: &mut SpiClient<'_>,
    objs: &Objects,
    xid_offset: i64,
) -> Result<Vec<(BlockHeader, Hash)>, AuditError> {
    lock(client)?;
    let horizon = horizon(client)? + xid_offset;
    let (mut prev, from_xid) = chain_head(client, objs)?;
    if horizon <= from_xid {
        // Nothing to seal; the tree may still lack blocks sealed before the
        // update that added it.
        tree::store::extend(client, objs)?;
        checkpoint::sign::after_seal(client, objs)?;
        return Ok(Vec::new());
    }
    // SAFETY: reads the transaction start time (what now() returns).
    let sealed_at_us =
        unsafe { pg_sys::GetCurrentTransactionStartTimestamp() } + PG_EPOCH_OFFSET_US;
    // A cursor, so a large backlog is sealed one block's worth of rows at a time.
    let cursor = client
        .open_cursor(
            &objs.sql(include_str!("../../sql/queries/seal_rows.sql")),
            &[from_xid.into(), horizon.into()],
        )
        .detach_into_name();
    let mut out = Vec::new();
    loop {
        let leaves = fetch_leaves(client, &cursor)?;
        if leaves.is_empty() {
            break;
        }
        let header = next_block(prev, &leaves, (from_xid, horizon), sealed_at_us);
        let hash = header.hash();
        insert_block(client, objs, &header, &leaves, hash)?;
        prev = (header.id, hash);
        out.push((header, hash));
    }
    // The new blocks' rows enter the Merkle tree, whose new head is signed.
    tree::store::extend(client, objs)?;
    checkpoint::sign::after_seal(client, objs)?;
    if !out.is_empty() {
        summarize(client, objs)?;
    }
    Ok(out)
}

/// `_audit_tree_extend()`: appends every block not in the Merkle tree yet
/// (the update to 0.3.0 runs it once for the blocks sealed before), under
/// the sealers' lock; returns the tree's size.
#[pg_extern(name = "_audit_tree_extend", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn tree_extend() -> i64 {
    let objs = objects::objects();
    Spi::connect_mut(|client| {
        lock(client)?;
        tree::store::extend(client, &objs)
    })
    .or_report() as i64
}

/// `_audit_seal_lock()`: the sealers' advisory lock, held to the end of the
/// transaction, for `audit_index_history()`, which files blocks in turn with
/// the sealers.
#[pg_extern(name = "_audit_seal_lock", volatile)]
fn seal_lock() {
    Spi::connect_mut(lock).or_report()
}

/// Takes the sealers' advisory lock, held to the end of the transaction.
fn lock(client: &mut SpiClient<'_>) -> Result<(), AuditError> {
    client
        .update(
            include_str!("../../sql/queries/seal_lock.sql"),
            None,
            &[SEAL_LOCK_KEY.into()],
        )
        .map_err(AuditError::spi("could not take the sealers' lock"))?;
    Ok(())
}

/// Summarises audit_log's new BRIN ranges (see the query), unless another
/// process holds the lock that needs (a VACUUM, which summarises them
/// itself): sealing never waits for it.
fn summarize(client: &mut SpiClient<'_>, objs: &Objects) -> Result<(), AuditError> {
    let lock = pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE;
    // SAFETY: a conditional lock on audit_log, held to the end of the transaction.
    if !unsafe { pg_sys::ConditionalLockRelationOid(objs.audit_log, lock) } {
        return Ok(());
    }
    client
        .update(
            include_str!("../../sql/queries/seal_summarize.sql"),
            None,
            &[objs.audit_log.into()],
        )
        .map_err(AuditError::spi(
            "could not summarise audit_log's BRIN index",
        ))?;
    Ok(())
}

/// The oldest transaction still running, as a 64-bit transaction id.
fn horizon(client: &mut SpiClient<'_>) -> Result<i64, AuditError> {
    let text = client
        .select(
            include_str!("../../sql/queries/seal_horizon.sql"),
            None,
            &[],
        )
        .and_then(|rows| rows.first().get_one::<String>())
        .map_err(AuditError::spi("could not read the snapshot's horizon"))?;
    text.as_deref()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| AuditError::BrokenInstall {
            reason: format!("the snapshot's horizon is not a transaction id: {text:?}"),
        })
}

/// The last block's (id, hash) and to_xid: where the chain goes on.
fn chain_head(
    client: &mut SpiClient<'_>,
    objs: &Objects,
) -> Result<((i64, Hash), i64), AuditError> {
    let last = client
        .select(
            &objs.sql(include_str!("../../sql/queries/seal_last_block.sql")),
            None,
            &[],
        )
        .map_err(AuditError::spi("could not read the last block"))?;
    if last.is_empty() {
        return Ok(((0, [0; 32]), 0));
    }
    let row = last.first();
    let id = row
        .get::<i64>(1)
        .map_err(AuditError::spi("could not read the last block"))?;
    let to_xid = row
        .get::<i64>(2)
        .map_err(AuditError::spi("could not read the last block"))?;
    let hash = row
        .get::<Vec<u8>>(3)
        .map_err(AuditError::spi("could not read the last block"))?;
    match (id, to_xid, hash.as_deref().and_then(hash32)) {
        (Some(id), Some(to_xid), Some(hash)) => Ok(((id, hash), to_xid)),
        _ => Err(corrupt(format!(
            "the last block ({id:?}) has a NULL id or to_xid, or a block_hash that is not 32 bytes; it cannot be linked to"
        ))),
    }
}

/// The next rows of the cursor, at most a block's worth.
fn fetch_leaves(client: &mut SpiClient<'_>, cursor: &str) -> Result<Vec<Leaf>, AuditError> {
    let mut rows = client
        .find_cursor(cursor)
        .map_err(AuditError::spi("could not find the sealing cursor"))?;
    let mut leaves = Vec::with_capacity(MAX_BLOCK_ROWS);
    for row in rows
        .fetch(MAX_BLOCK_ROWS as i64)
        .map_err(AuditError::spi("could not read audit_log"))?
    {
        let id = row
            .get::<i64>(1)
            .map_err(AuditError::spi("could not read audit_log"))?;
        let checksum = row
            .get::<Vec<u8>>(2)
            .map_err(AuditError::spi("could not read audit_log"))?;
        let (Some(id), Some(checksum)) = (id, checksum.as_deref().and_then(hash32)) else {
            return Err(corrupt(format!(
                "audit_log row {id:?} has a NULL id or a checksum that is not 32 bytes; it cannot be sealed"
            )));
        };
        leaves.push(Leaf { id, checksum });
    }
    if !leaves.is_empty() {
        rows.detach_into_name(); // keep the cursor open for the next block
    }
    Ok(leaves)
}

fn insert_block(
    client: &mut SpiClient<'_>,
    objs: &Objects,
    h: &BlockHeader,
    leaves: &[Leaf],
    hash: Hash,
) -> Result<(), AuditError> {
    let ids: Vec<i64> = leaves.iter().map(|l| l.id).collect();
    let sums: Vec<u8> = leaves.iter().flat_map(|l| l.checksum).collect();
    client
        .update(
            &objs.sql(include_str!("../../sql/queries/seal_insert_block.sql")),
            None,
            &[
                h.id.into(),
                h.sealed_at_us.into(),
                h.from_xid.into(),
                h.to_xid.into(),
                h.first_id.into(),
                h.last_id.into(),
                h.row_count.into(),
                ids.into(),
                sums.into(),
                h.rows_hash.to_vec().into(),
                h.prev_hash.to_vec().into(),
                hash.to_vec().into(),
            ],
        )
        .map_err(AuditError::spi("could not write a block"))?;
    Ok(())
}

#[cfg(test)]
mod unit {
    use super::*;

    fn leaf(id: i64, b: u8) -> Leaf {
        Leaf {
            id,
            checksum: [b; 32],
        }
    }

    #[test]
    fn a_block_links_to_its_predecessor_and_spans_its_leaves() {
        let leaves = [leaf(4, 1), leaf(9, 2), leaf(12, 3)];
        let b = next_block((3, [9; 32]), &leaves, (100, 200), 42);
        assert_eq!((b.id, b.first_id, b.last_id, b.row_count), (4, 4, 12, 3));
        assert_eq!((b.from_xid, b.to_xid, b.sealed_at_us), (100, 200, 42));
        assert_eq!(b.prev_hash, [9; 32]);
        assert_eq!(b.rows_hash, forms::rows_hash(&leaves));
        let next = next_block((b.id, b.hash()), &[leaf(13, 4)], (200, 300), 43);
        assert_eq!((next.id, next.prev_hash), (5, b.hash()));
    }
}
