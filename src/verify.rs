//! `verify_audit()`: recompute every audit row's checksum, every block's
//! hashes and every link of the chain, and report what no longer matches.
//!
//! Statuses: `modified` (a row's content or checksum changed), `deleted` (a
//! sealed row is gone), `forged` (a row in the sealed range that no block
//! holds), `moved` (a row carries the checksum sealed for another id),
//! `block_modified` (a block's hashes do not match its content),
//! `broken_link` (a block missing from the chain or not linked to its
//! predecessor), `digest_mismatch` (the chain no longer holds a kept digest),
//! `unsealed` (rows not sealed yet: counted, not an error). When nothing is
//! wrong the one row is `ok` with a summary.

use std::collections::{HashMap, HashSet};

use pgrx::pg_sys::{self, Datum};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use crate::chain::{self, BlockHeader, Leaf};
use crate::checksum;
use crate::error::AuditError;
use crate::writer::{self, col, NCOLS};

/// status, audit_id, detail, block_id
type Finding = (String, Option<i64>, String, Option<i64>);

fn finding(status: &str, audit_id: Option<i64>, detail: String, block_id: Option<i64>) -> Finding {
    (status.to_string(), audit_id, detail, block_id)
}

#[pg_extern(volatile)]
fn verify_audit(
    digest: default!(Option<pgrx::JsonB>, "NULL"),
    from_id: default!(Option<i64>, "NULL"),
    to_id: default!(Option<i64>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(status, String),
        name!(audit_id, Option<i64>),
        name!(detail, String),
        name!(block_id, Option<i64>),
    ),
> {
    let range = (from_id.unwrap_or(i64::MIN), to_id.unwrap_or(i64::MAX));
    let headers = load_blocks(None);
    let mut findings = check_chain(&headers);
    if let Some(d) = digest {
        findings.extend(check_digest(&d.0, &headers));
    }
    let horizon = headers.iter().map(|b| b.header.to_xid).max().unwrap_or(0);
    let mut counts = RowCounts::default();
    let mut checked = HashSet::new();
    for pass in passes(&headers, range) {
        let blocks = load_blocks(Some(pass));
        findings.extend(check_leaves(&blocks, &mut checked));
        findings.extend(check_rows(&blocks, pass, horizon, &mut counts));
    }
    let RowCounts { rows, unsealed } = counts;
    let problems = !findings.is_empty();
    if problems && unsealed > 0 {
        let detail = format!("{unsealed} rows are not sealed yet (audit_seal() seals them)");
        findings.push(finding("unsealed", None, detail, None));
    }
    if !problems {
        let summary = format!(
            "{rows} audit rows verified ({} sealed in {} blocks, {unsealed} not sealed yet); every checksum, block and link matches",
            rows - unsealed,
            headers.len()
        );
        findings.push(finding("ok", None, summary, None));
    }
    findings.sort_by_key(|f| (f.1, f.3));
    TableIterator::new(findings)
}

/// Audit ids per pass: what bounds the memory of the expected leaves (about
/// 50 bytes per sealed row), however large the log.
const PASS_IDS: i64 = 1_000_000;

#[derive(Default)]
struct RowCounts {
    rows: u64,
    unsealed: u64,
}

/// The id ranges to verify in turn: the requested range, cut where the log
/// spans more than [`PASS_IDS`] ids. The ends of the log come from both the
/// rows and the blocks, so a deleted last row is still looked for.
fn passes(headers: &[Block], (from, to): (i64, i64)) -> Vec<(i64, i64)> {
    let schema = writer::objects().schema.clone();
    let ends =
        Spi::get_two::<i64, i64>(&format!("SELECT min(id), max(id) FROM {schema}.audit_log"))
            .unwrap_or_else(|e| pgrx::error!("lead_audit: could not read audit_log: {e}"));
    let lo = [ends.0, headers.iter().map(|b| b.header.first_id).min()]
        .into_iter()
        .flatten()
        .min();
    let hi = [ends.1, headers.iter().map(|b| b.header.last_id).max()]
        .into_iter()
        .flatten()
        .max();
    let (Some(lo), Some(hi)) = (lo.map(|l| l.max(from)), hi.map(|h| h.min(to))) else {
        return Vec::new();
    };
    if lo > hi {
        return Vec::new();
    }
    if hi - lo < PASS_IDS {
        // One pass over the range as asked (a sequential scan when it is everything).
        return vec![(from, to)];
    }
    let mut out = Vec::new();
    let mut start = lo;
    loop {
        let end = start.saturating_add(PASS_IDS - 1).min(hi);
        out.push((start, end));
        if end >= hi {
            break;
        }
        start = end + 1;
    }
    out
}

struct Block {
    header: BlockHeader,
    stored_hash: [u8; 32],
    stored_rows_hash: [u8; 32],
    /// Loaded only for blocks that overlap the verified id range.
    leaves: Option<Vec<Leaf>>,
}

/// Every block's header, with its leaves when it overlaps `leaves_for`.
fn load_blocks(leaves_for: Option<(i64, i64)>) -> Vec<Block> {
    // An empty range when no leaves are wanted.
    let (from, to) = leaves_for.unwrap_or((i64::MAX, i64::MIN));
    let schema = writer::objects().schema.clone();
    let query = format!(
        "SELECT id, from_xid::text, to_xid::text, first_id, last_id, row_count, rows_hash, prev_hash, \
                block_hash, (extract(epoch FROM sealed_at) * 1000000)::int8, \
                CASE WHEN first_id <= $2 AND last_id >= $1 THEN row_ids END, \
                CASE WHEN first_id <= $2 AND last_id >= $1 THEN row_checksums END \
         FROM {schema}.audit_block ORDER BY id"
    );
    let loaded = Spi::connect(|client| {
        let mut blocks = Vec::new();
        for row in client.select(&query, None, &[from.into(), to.into()])? {
            let xid = |i: usize| -> Result<u64, pgrx::spi::SpiError> {
                Ok(row
                    .get::<String>(i)?
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0))
            };
            let hash = |i: usize| -> Result<[u8; 32], pgrx::spi::SpiError> {
                Ok(row
                    .get::<Vec<u8>>(i)?
                    .and_then(|v| v.try_into().ok())
                    .unwrap_or([0; 32]))
            };
            let leaves = match (row.get::<Vec<i64>>(11)?, row.get::<Vec<u8>>(12)?) {
                (Some(ids), Some(sums)) => Some(
                    ids.iter()
                        .zip(sums.chunks(32))
                        .map(|(&id, c)| Leaf {
                            id,
                            checksum: c.try_into().unwrap_or([0; 32]),
                        })
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            };
            blocks.push(Block {
                header: BlockHeader {
                    id: row.get::<i64>(1)?.unwrap_or(0),
                    from_xid: xid(2)?,
                    to_xid: xid(3)?,
                    first_id: row.get::<i64>(4)?.unwrap_or(0),
                    last_id: row.get::<i64>(5)?.unwrap_or(0),
                    row_count: row.get::<i64>(6)?.unwrap_or(0),
                    rows_hash: [0; 32],
                    prev_hash: hash(8)?,
                    sealed_at_us: row.get::<i64>(10)?.unwrap_or(0),
                },
                stored_rows_hash: hash(7)?,
                stored_hash: hash(9)?,
                leaves,
            });
        }
        Ok::<_, pgrx::spi::SpiError>(blocks)
    });
    let mut blocks =
        loaded.unwrap_or_else(|e| pgrx::error!("lead_audit: could not read audit_block: {e}"));
    for b in &mut blocks {
        b.header.rows_hash = b.stored_rows_hash;
    }
    blocks
}

/// Block hashes and links.
fn check_chain(blocks: &[Block]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut prev: Option<&Block> = None;
    for b in blocks {
        let h = &b.header;
        let expected_id = prev.map_or(1, |p| p.header.id + 1);
        let expected_prev = prev.map_or([0; 32], |p| p.stored_hash);
        if h.id != expected_id {
            out.push(finding(
                "broken_link",
                None,
                format!(
                    "block {} follows block {}: blocks are missing",
                    h.id,
                    expected_id - 1
                ),
                Some(h.id),
            ));
        } else if h.prev_hash != expected_prev {
            out.push(finding(
                "broken_link",
                None,
                format!(
                    "block {} does not link to the hash of block {}",
                    h.id,
                    expected_id - 1
                ),
                Some(h.id),
            ));
        }
        if h.hash() != b.stored_hash {
            out.push(finding(
                "block_modified",
                None,
                format!("block {}'s hash does not match its content", h.id),
                Some(h.id),
            ));
        }
        prev = Some(b);
    }
    out
}

/// Each block's leaves against its rows_hash, once per block however many
/// passes load it.
fn check_leaves(blocks: &[Block], checked: &mut HashSet<i64>) -> Vec<Finding> {
    let mut out = Vec::new();
    for b in blocks {
        let h = &b.header;
        let Some(leaves) = &b.leaves else { continue };
        if !checked.insert(h.id) {
            continue;
        }
        let sorted = leaves.windows(2).all(|w| w[0].id < w[1].id);
        let bounds = leaves.first().map(|l| l.id) == Some(h.first_id)
            && leaves.last().map(|l| l.id) == Some(h.last_id);
        if !sorted
            || !bounds
            || leaves.len() as i64 != h.row_count
            || chain::rows_hash(leaves) != b.stored_rows_hash
        {
            let detail = format!("block {}'s rows do not match its rows_hash", h.id);
            out.push(finding("block_modified", None, detail, Some(h.id)));
        }
    }
    out
}

/// The kept digest's block must still be in the chain, unchanged.
fn check_digest(digest: &serde_json::Value, blocks: &[Block]) -> Vec<Finding> {
    let id = digest.get("block_id").and_then(|v| v.as_i64());
    let hash = digest.get("block_hash").and_then(|v| v.as_str());
    let (Some(id), Some(hash)) = (id, hash) else {
        AuditError::InvalidArgument {
            reason: "a digest is a JSON object with \"block_id\" and \"block_hash\", as audit_digest() returns",
        }
        .report()
    };
    match blocks.iter().find(|b| b.header.id == id) {
        None => vec![finding(
            "digest_mismatch",
            None,
            format!("block {id} of the digest is no longer in the chain"),
            Some(id),
        )],
        Some(b)
            if chain::hex(&b.stored_hash) != hash.to_ascii_lowercase()
                || b.header.hash() != b.stored_hash =>
        {
            vec![finding(
                "digest_mismatch",
                None,
                format!("block {id} no longer has the digest's hash"),
                Some(id),
            )]
        }
        Some(_) => Vec::new(),
    }
}

/// The sealed rows expected in the verified range, sorted by id, with a
/// cursor: rows come in heap order, which is nearly id order, so the next
/// row is usually the next entry (no hashing per row; a binary search otherwise).
struct Expected {
    /// (audit id, block id, sealed checksum)
    entries: Vec<(i64, i64, [u8; 32])>,
    seen: Vec<bool>,
    next: usize,
}

impl Expected {
    fn new(blocks: &[Block], (from, to): (i64, i64)) -> Self {
        let mut entries: Vec<(i64, i64, [u8; 32])> = blocks
            .iter()
            .flat_map(|b| {
                b.leaves
                    .iter()
                    .flatten()
                    .map(move |l| (l.id, b.header.id, l.checksum))
            })
            .filter(|&(id, _, _)| id >= from && id <= to)
            .collect();
        entries.sort_unstable_by_key(|e| e.0);
        let seen = vec![false; entries.len()];
        Expected {
            entries,
            seen,
            next: 0,
        }
    }

    /// The block and sealed checksum of audit row `id`, marking it seen.
    fn take(&mut self, id: i64) -> Option<(i64, [u8; 32])> {
        let i = match self.entries.get(self.next) {
            Some(e) if e.0 == id => self.next,
            _ => self.entries.binary_search_by_key(&id, |e| e.0).ok()?,
        };
        self.next = i + 1;
        self.seen[i] = true;
        Some((self.entries[i].1, self.entries[i].2))
    }

    fn unseen(&self) -> impl Iterator<Item = &(i64, i64, [u8; 32])> {
        self.entries
            .iter()
            .zip(&self.seen)
            .filter(|(_, s)| !**s)
            .map(|(e, _)| e)
    }
}

/// Scans the audit rows in the id range: recomputes each checksum and matches
/// the rows against the blocks' leaves.
fn check_rows(
    blocks: &[Block],
    range: (i64, i64),
    horizon: u64,
    counts: &mut RowCounts,
) -> Vec<Finding> {
    let mut expected = Expected::new(blocks, range);
    let mut out = Vec::new();
    let mut mismatched: Vec<(i64, [u8; 32], i64)> = Vec::new();
    let (mut rows, mut unsealed) = (0u64, 0u64);
    scan_audit_log(range, |values, nulls| {
        rows += 1;
        let id = values[col::ID].value() as i64;
        let tx_id = values[col::TX_ID].value() as u64;
        // SAFETY: the datums come from a tuple of audit_log, whose layout writer checked.
        let computed = unsafe { checksum::row_checksum(values, nulls) };
        let stored = if nulls[col::CHECKSUM] {
            [0; 32]
        } else {
            // SAFETY: a non-NULL bytea datum of the same tuple.
            unsafe { stored_checksum(values[col::CHECKSUM]) }
        };
        match expected.take(id) {
            Some((block, sealed)) if stored != sealed => mismatched.push((id, stored, block)),
            Some((block, _)) if computed != stored => out.push(finding(
                "modified",
                Some(id),
                "the row's content does not match its checksum".into(),
                Some(block),
            )),
            Some(_) => {}
            None if tx_id < horizon => out.push(finding(
                "forged",
                Some(id),
                "the row is in the sealed range but no block holds it".into(),
                None,
            )),
            None => {
                unsealed += 1;
                if computed != stored {
                    out.push(finding(
                        "modified",
                        Some(id),
                        "the row's content does not match its checksum".into(),
                        None,
                    ));
                }
            }
        }
    });
    if !mismatched.is_empty() {
        let by_checksum: HashMap<[u8; 32], i64> = expected
            .entries
            .iter()
            .map(|&(id, _, sum)| (sum, id))
            .collect();
        for (id, stored, block) in mismatched {
            match by_checksum.get(&stored) {
                Some(&other) => out.push(finding(
                    "moved",
                    Some(id),
                    format!("the row carries the checksum sealed for audit row {other}"),
                    Some(block),
                )),
                None => out.push(finding(
                    "modified",
                    Some(id),
                    "the row's checksum is not the one its block sealed".into(),
                    Some(block),
                )),
            }
        }
    }
    for &(id, block, _) in expected.unseen() {
        out.push(finding(
            "deleted",
            Some(id),
            "a sealed row is missing".into(),
            Some(block),
        ));
    }
    counts.rows += rows;
    counts.unsealed += unsealed;
    out
}

/// Calls `f` with each audit_log row whose id is in `range`, deformed. Uses
/// the primary key for a bounded range and a sequential scan otherwise.
fn scan_audit_log(range: (i64, i64), mut f: impl FnMut(&[Datum], &[bool])) {
    let objs = writer::objects();
    let full = range == (i64::MIN, i64::MAX);
    // SAFETY: audit_log and its primary key are opened, scanned with the
    // active snapshot and closed here; per-row memory is reset each row.
    unsafe {
        let rel = pg_sys::table_open(objs.audit_log, pg_sys::AccessShareLock as i32);
        let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
        let snapshot = pg_sys::GetActiveSnapshot();
        let mut per_row = PgMemoryContexts::new("lead_audit verify row");
        let natts = (*(*rel).rd_att).natts as usize;
        let forward = pg_sys::ScanDirection::ForwardScanDirection;
        let mut each_row = |next: &mut dyn FnMut() -> bool| {
            while next() {
                per_row.switch_to(|_| visit(slot, natts, &mut f));
                per_row.reset();
            }
        };
        if full {
            let scan = pg_sys::table_beginscan(rel, snapshot, 0, std::ptr::null_mut());
            each_row(&mut || pg_sys::table_scan_getnextslot(scan, forward, slot));
            pg_sys::table_endscan(scan);
        } else {
            let irel = pg_sys::index_open(
                pg_sys::RelationGetPrimaryKeyIndex(rel),
                pg_sys::AccessShareLock as i32,
            );
            let mut keys: [pg_sys::ScanKeyData; 2] = std::mem::zeroed();
            pg_sys::ScanKeyInit(
                &mut keys[0],
                1,
                pg_sys::BTGreaterEqualStrategyNumber as u16,
                pg_sys::Oid::from(pg_sys::F_INT8GE),
                Datum::from(range.0),
            );
            pg_sys::ScanKeyInit(
                &mut keys[1],
                1,
                pg_sys::BTLessEqualStrategyNumber as u16,
                pg_sys::Oid::from(pg_sys::F_INT8LE),
                Datum::from(range.1),
            );
            let scan = pg_sys::index_beginscan(rel, irel, snapshot, 2, 0);
            pg_sys::index_rescan(scan, keys.as_mut_ptr(), 2, std::ptr::null_mut(), 0);
            each_row(&mut || pg_sys::index_getnext_slot(scan, forward, slot));
            pg_sys::index_endscan(scan);
            pg_sys::index_close(irel, pg_sys::AccessShareLock as i32);
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as i32);
    }
}

unsafe fn visit(
    slot: *mut pg_sys::TupleTableSlot,
    natts: usize,
    f: &mut impl FnMut(&[Datum], &[bool]),
) {
    pg_sys::slot_getallattrs(slot);
    let n = natts.min(NCOLS);
    f(
        std::slice::from_raw_parts((*slot).tts_values, n),
        std::slice::from_raw_parts((*slot).tts_isnull, n),
    );
}

unsafe fn stored_checksum(datum: Datum) -> [u8; 32] {
    let v = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
    let bytes = std::slice::from_raw_parts(
        pgrx::vardata_any(v).cast::<u8>(),
        pgrx::varsize_any_exhdr(v),
    );
    bytes.try_into().unwrap_or([0; 32])
}
