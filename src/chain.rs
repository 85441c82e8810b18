//! The ledger: audit rows sealed into hash-chained blocks.
//!
//! Writers never wait for sealing and take no global lock. `audit_seal()`
//! seals only rows of transactions that have all finished: every row whose
//! tx_id is below the oldest transaction still running (the snapshot's xmin).
//! No such row can appear later, so a row that commits late falls into a later
//! block, never into a gap. Sealers serialise on an advisory lock.
//!
//! Forms (also in the README, and recomputed by tools/verify_ledger.py):
//!
//! ```text
//! rows_hash  = SHA-256( for each sealed row in id order: decimal(id) ":" hex(checksum) "\n" )
//! block form = "lead_audit:block:v1\n" field(id) field(from_xid) field(to_xid) field(first_id)
//!              field(last_id) field(row_count) field(hex(rows_hash)) field(hex(prev_hash))
//!              field(sealed_at as microseconds since the Unix epoch)
//! block_hash = SHA-256(block form);  prev_hash of block 1 = 32 zero bytes
//! ```

use pgrx::prelude::*;
use sha2::{Digest, Sha256};

use crate::checksum::{push_decimal, push_field, sha256};
use crate::error::AuditError;
use crate::writer;

pub const BLOCK_PREFIX: &[u8] = b"lead_audit:block:v1\n";
/// Rows per block at most: a block's leaves stay a few hundred kB.
pub const MAX_BLOCK_ROWS: usize = 10_000;
/// Advisory lock key that serialises sealers ("lead" "a0d1").
const SEAL_LOCK_KEY: i64 = 0x1ead_a0d1;
/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// One sealed row: its id and its checksum.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Leaf {
    pub id: i64,
    pub checksum: [u8; 32],
}

/// Everything a block's hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    pub id: i64,
    pub from_xid: u64,
    pub to_xid: u64,
    pub first_id: i64,
    pub last_id: i64,
    pub row_count: i64,
    pub rows_hash: [u8; 32],
    pub prev_hash: [u8; 32],
    pub sealed_at_us: i64,
}

impl BlockHeader {
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = BLOCK_PREFIX.to_vec();
        let fields = [
            self.id.to_string(),
            self.from_xid.to_string(),
            self.to_xid.to_string(),
            self.first_id.to_string(),
            self.last_id.to_string(),
            self.row_count.to_string(),
            hex(&self.rows_hash),
            hex(&self.prev_hash),
            self.sealed_at_us.to_string(),
        ];
        for f in &fields {
            push_field(&mut out, Some(f.as_bytes()));
        }
        out
    }

    pub fn hash(&self) -> [u8; 32] {
        sha256(&self.canonical())
    }
}

pub fn rows_hash(leaves: &[Leaf]) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut line = Vec::with_capacity(96);
    for l in leaves {
        line.clear();
        push_decimal(&mut line, l.id);
        line.push(b':');
        push_hex(&mut line, &l.checksum);
        line.push(b'\n');
        h.update(&line);
    }
    h.finalize().into()
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 15) as usize]);
    }
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Builds the headers of the blocks that seal `leaves` (sorted by id), after
/// block `prev_id` with hash `prev_hash`, for the transaction range [from_xid, to_xid).
pub fn plan_blocks(
    leaves: &[Leaf],
    prev_id: i64,
    prev_hash: [u8; 32],
    from_xid: u64,
    to_xid: u64,
    sealed_at_us: i64,
) -> Vec<(BlockHeader, &[Leaf])> {
    let mut out = Vec::new();
    let (mut id, mut prev) = (prev_id, prev_hash);
    for chunk in leaves.chunks(MAX_BLOCK_ROWS) {
        id += 1;
        let header = BlockHeader {
            id,
            from_xid,
            to_xid,
            first_id: chunk[0].id,
            last_id: chunk[chunk.len() - 1].id,
            row_count: chunk.len() as i64,
            rows_hash: rows_hash(chunk),
            prev_hash: prev,
            sealed_at_us,
        };
        prev = header.hash();
        out.push((header, chunk));
    }
    out
}

fn to_array(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().unwrap_or([0; 32])
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
        AuditError::InvalidArgument {
            reason: "audit_seal() must run in a READ COMMITTED transaction",
        }
        .report();
    }
    let schema = writer::objects().schema.clone();
    let sealed = Spi::connect_mut(|client| seal(client, &schema));
    match sealed {
        Ok(rows) => TableIterator::new(rows),
        Err(e) => pgrx::error!("lead_audit: audit_seal failed: {e}"),
    }
}

type Sealed = (i64, i64, i64, i64, String);

fn seal(
    client: &mut pgrx::spi::SpiClient<'_>,
    schema: &str,
) -> Result<Vec<Sealed>, pgrx::spi::SpiError> {
    client.update(
        "SELECT pg_catalog.pg_advisory_xact_lock($1)",
        None,
        &[SEAL_LOCK_KEY.into()],
    )?;
    let horizon: u64 = client
        .select(
            "SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text",
            None,
            &[],
        )?
        .first()
        .get_one::<String>()?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let last = client.select(
        &format!("SELECT id, to_xid::text, block_hash FROM {schema}.audit_block ORDER BY id DESC LIMIT 1"),
        None,
        &[],
    )?;
    let (prev_id, from_xid, prev_hash) = if last.is_empty() {
        (0i64, 0u64, [0u8; 32])
    } else {
        let row = last.first();
        let to: String = row.get(2)?.unwrap_or_default();
        (
            row.get::<i64>(1)?.unwrap_or(0),
            to.parse().unwrap_or(0),
            to_array(&row.get::<Vec<u8>>(3)?.unwrap_or_default()),
        )
    };
    if horizon <= from_xid {
        return Ok(Vec::new());
    }
    // A cursor, so a large backlog is sealed one block's worth of rows at a time.
    let query = format!(
        "SELECT id, checksum FROM {schema}.audit_log WHERE tx_id >= $1 AND tx_id < $2 ORDER BY id"
    );
    let cursor = client
        .open_cursor(&query, &[(from_xid as i64).into(), (horizon as i64).into()])
        .detach_into_name();
    // SAFETY: reads the transaction start time (what now() returns).
    let sealed_at_us =
        unsafe { pg_sys::GetCurrentTransactionStartTimestamp() } + PG_EPOCH_OFFSET_US;
    let (mut prev_id, mut prev_hash) = (prev_id, prev_hash);
    let mut out = Vec::new();
    loop {
        let mut rows = client.find_cursor(&cursor)?;
        let mut leaves = Vec::with_capacity(MAX_BLOCK_ROWS);
        for row in rows.fetch(MAX_BLOCK_ROWS as i64)? {
            let id = row.get::<i64>(1)?.unwrap_or(0);
            let checksum = to_array(&row.get::<Vec<u8>>(2)?.unwrap_or_default());
            leaves.push(Leaf { id, checksum });
        }
        if leaves.is_empty() {
            break; // dropping `rows` closes the cursor
        }
        rows.detach_into_name();
        let Some((h, chunk)) =
            plan_blocks(&leaves, prev_id, prev_hash, from_xid, horizon, sealed_at_us)
                .into_iter()
                .next()
        else {
            break;
        };
        let ids: Vec<i64> = chunk.iter().map(|l| l.id).collect();
        let sums: Vec<u8> = chunk.iter().flat_map(|l| l.checksum).collect();
        let block_hash = h.hash();
        client.update(
            &format!(
                "INSERT INTO {schema}.audit_block (id, sealed_at, from_xid, to_xid, first_id, last_id, \
                 row_count, row_ids, row_checksums, rows_hash, prev_hash, block_hash) \
                 VALUES ($1, 'epoch'::timestamptz + $2 * interval '1 microsecond', $3, \
                 $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            None,
            &[
                h.id.into(),
                h.sealed_at_us.into(),
                (h.from_xid as i64).into(),
                (h.to_xid as i64).into(),
                h.first_id.into(),
                h.last_id.into(),
                h.row_count.into(),
                ids.into(),
                sums.into(),
                h.rows_hash.to_vec().into(),
                h.prev_hash.to_vec().into(),
                block_hash.to_vec().into(),
            ],
        )?;
        out.push((h.id, h.row_count, h.first_id, h.last_id, hex(&block_hash)));
        (prev_id, prev_hash) = (h.id, block_hash);
    }
    Ok(out)
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
    fn rows_hash_is_over_id_and_hex_checksum_lines() {
        let leaves = [leaf(1, 0xab), leaf(7, 0x01)];
        let text = format!("1:{}\n7:{}\n", "ab".repeat(32), "01".repeat(32));
        assert_eq!(rows_hash(&leaves), sha256(text.as_bytes()));
    }

    #[test]
    fn blocks_chain_and_split_at_the_size_limit() {
        let leaves: Vec<Leaf> = (1..=(MAX_BLOCK_ROWS as i64 + 5))
            .map(|i| leaf(i, 7))
            .collect();
        let blocks = plan_blocks(&leaves, 3, [9; 32], 100, 200, 42);
        assert_eq!(blocks.len(), 2);
        let (a, b) = (&blocks[0].0, &blocks[1].0);
        assert_eq!(
            (a.id, a.first_id, a.last_id, a.row_count),
            (4, 1, MAX_BLOCK_ROWS as i64, MAX_BLOCK_ROWS as i64)
        );
        assert_eq!(
            (b.id, b.first_id, b.row_count),
            (5, MAX_BLOCK_ROWS as i64 + 1, 5)
        );
        assert_eq!(a.prev_hash, [9; 32]);
        assert_eq!(b.prev_hash, a.hash());
    }

    #[test]
    fn block_hash_covers_every_field() {
        let base = plan_blocks(&[leaf(1, 1)], 0, [0; 32], 1, 2, 3).remove(0).0;
        let mut variants = vec![base.clone(); 9];
        variants[0].id += 1;
        variants[1].from_xid += 1;
        variants[2].to_xid += 1;
        variants[3].first_id += 1;
        variants[4].last_id += 1;
        variants[5].row_count += 1;
        variants[6].rows_hash[0] ^= 1;
        variants[7].prev_hash[0] ^= 1;
        variants[8].sealed_at_us += 1;
        for v in variants {
            assert_ne!(v.hash(), base.hash());
        }
        assert!(base.canonical().starts_with(b"lead_audit:block:v1\n1:1"));
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xff, 0x1a]), "00ff1a");
    }
}
