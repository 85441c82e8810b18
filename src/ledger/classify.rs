//! What `verify_audit()` concludes, as pure logic: blocks and scanned rows
//! in, findings out. No I/O: the verify shell feeds it from the database
//! through [`Ledger`], the unit tests from the golden vectors in
//! `tests/vectors/ledger.json`, which the independent verifier
//! (`lead_audit.verify` in clients/python) answers to as well, so both
//! verifiers give the same findings for the same ledger.

use std::collections::HashMap;

use super::block::StoredBlock;
use crate::forms::{self, Hash};

/// Audit rows per pass: what bounds the memory of the expected leaves (about
/// 50 bytes per sealed row), however large the log. Passes are cut by the rows
/// present, never by the span of their ids, so a forged id of 4e18 costs one
/// row, not 4e12 passes.
pub const PASS_ROWS: i64 = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The only row when nothing is wrong.
    Ok,
    /// A row's content or checksum changed.
    Modified,
    /// A sealed row is gone.
    Deleted,
    /// A row in the sealed range that no block holds.
    Forged,
    /// A row carries the checksum sealed for another id.
    Moved,
    /// A block's hashes, rows or form do not match its content.
    BlockModified,
    /// Blocks missing from the chain, or a block not linked to its predecessor.
    BrokenLink,
    /// The chain no longer holds a kept digest's block with its hash.
    DigestMismatch,
    /// Rows not sealed yet, counted (shown only next to real problems).
    Unsealed,
    /// The Merkle tree's stored parts (a block's size and root, a subtree)
    /// are not those of the sealed rows.
    TreeMismatch,
    /// The log no longer extends a checkpoint (a kept one, or one it signed).
    CheckpointMismatch,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Modified => "modified",
            Status::Deleted => "deleted",
            Status::Forged => "forged",
            Status::Moved => "moved",
            Status::BlockModified => "block_modified",
            Status::BrokenLink => "broken_link",
            Status::DigestMismatch => "digest_mismatch",
            Status::Unsealed => "unsealed",
            Status::TreeMismatch => "tree_mismatch",
            Status::CheckpointMismatch => "checkpoint_mismatch",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub status: Status,
    pub audit_id: Option<i64>,
    pub block_id: Option<i64>,
    pub detail: String,
}

pub(super) fn finding(
    status: Status,
    audit_id: Option<i64>,
    block_id: Option<i64>,
    detail: String,
) -> Finding {
    Finding {
        status,
        audit_id,
        block_id,
        detail,
    }
}

/// One audit_log row as the scan read it.
#[derive(Clone, Copy, Debug)]
pub struct ScannedRow {
    pub id: i64,
    pub tx_id: i64,
    /// The stored checksum; None when NULL or not 32 bytes.
    pub stored: Option<Hash>,
    /// The checksum of the row's content, recomputed.
    pub computed: Hash,
}

/// A kept digest: a block id and its hash in hex.
pub struct Digest {
    pub block_id: i64,
    pub block_hash: String,
}

/// Where the classifier's input comes from (the database, or test vectors).
pub trait Ledger {
    /// Every block, in id order, without row lists.
    fn blocks(&mut self) -> Vec<StoredBlock>;
    /// The ids at positions 0, `every`, 2 * `every`, ... of the audit_log ids
    /// in `range`, sorted: where passes start.
    fn pass_starts(&mut self, range: (i64, i64), every: i64) -> Vec<i64>;
    /// Every block, in id order, with row lists for those overlapping `pass`.
    fn blocks_for(&mut self, pass: (i64, i64)) -> Vec<StoredBlock>;
    /// Each audit_log row whose id is in `pass`, in any order.
    fn scan(&mut self, pass: (i64, i64), row: &mut dyn FnMut(ScannedRow));
}

/// Every finding for the audit rows in `range` (and every block and link),
/// sorted by audit id then block id (NULL first); exactly one `ok` finding
/// with a summary when there is nothing else. `pass_rows`: rows per pass
/// ([`PASS_ROWS`]; smaller in tests).
pub fn verify(
    ledger: &mut impl Ledger,
    digest: Option<&Digest>,
    range: (i64, i64),
    pass_rows: i64,
) -> Vec<Finding> {
    let blocks = ledger.blocks();
    let mut findings = check_chain(&blocks);
    if let Some(d) = digest {
        findings.extend(check_digest(d, &blocks));
    }
    let horizon = blocks.iter().map(|b| b.to_xid).max().unwrap_or(0);
    let (mut rows, mut unsealed) = (0u64, 0u64);
    let mut leaves_checked = std::collections::HashSet::new();
    let starts = ledger.pass_starts(range, pass_rows.max(1));
    for pass in passes(&starts, range) {
        let loaded = ledger.blocks_for(pass);
        for b in loaded.iter().filter(|b| b.row_ids.is_some()) {
            if leaves_checked.insert(b.id) && !b.leaves_match() {
                let detail = format!("block {}'s rows do not match its rows_hash", b.id);
                findings.push(finding(Status::BlockModified, None, Some(b.id), detail));
            }
        }
        let mut matcher = Matcher::new(&loaded, pass, horizon);
        ledger.scan(pass, &mut |row| matcher.row(row));
        rows += matcher.rows;
        unsealed += matcher.unsealed;
        findings.extend(matcher.finish());
    }
    let problems = !findings.is_empty();
    if problems && unsealed > 0 {
        let detail = format!("{unsealed} rows are not sealed yet (audit_seal() seals them)");
        findings.push(finding(Status::Unsealed, None, None, detail));
    }
    if !problems {
        let summary = format!(
            "{rows} audit rows verified ({} sealed in {} blocks, {unsealed} not sealed yet); every checksum, block and link matches",
            rows - unsealed,
            blocks.len()
        );
        findings.push(finding(Status::Ok, None, None, summary));
    }
    findings.sort_by_key(|f| (f.audit_id, f.block_id));
    findings
}

/// The id ranges to verify in turn: the requested range, cut at `starts`
/// (the first id of each pass of rows, see [`Ledger::pass_starts`]). The
/// first pass begins at the range's start and the last ends at its end, so
/// sealed rows that are gone (below, between or above the rows present) fall
/// into some pass and are looked for.
pub fn passes(starts: &[i64], (from, to): (i64, i64)) -> Vec<(i64, i64)> {
    if from > to {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(starts.len().max(1));
    let mut begin = from;
    for &next in starts.iter().skip(1) {
        out.push((begin, next - 1));
        begin = next;
    }
    out.push((begin, to));
    out
}

/// Block ids, links and hashes.
pub fn check_chain(blocks: &[StoredBlock]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut prev: Option<&StoredBlock> = None;
    for b in blocks {
        let expected_id = prev.map_or(1, |p| p.id.wrapping_add(1));
        let expected_prev: &[u8] = prev.map_or(&[0; 32], |p| &p.block_hash);
        let before = expected_id.wrapping_sub(1);
        if b.id != expected_id {
            let detail = format!("block {} follows block {before}: blocks are missing", b.id);
            out.push(finding(Status::BrokenLink, None, Some(b.id), detail));
        } else if b.prev_hash.as_slice() != expected_prev {
            let detail = format!("block {} does not link to the hash of block {before}", b.id);
            out.push(finding(Status::BrokenLink, None, Some(b.id), detail));
        }
        if b.header().is_none() {
            let detail = format!(
                "block {} is malformed (a hash that is not 32 bytes, or a sealed_at that is not a finite time)",
                b.id
            );
            out.push(finding(Status::BlockModified, None, Some(b.id), detail));
        } else if !b.hash_matches() {
            let detail = format!("block {}'s hash does not match its content", b.id);
            out.push(finding(Status::BlockModified, None, Some(b.id), detail));
        }
        prev = Some(b);
    }
    out
}

/// The kept digest's block must still be in the chain, unchanged.
pub fn check_digest(digest: &Digest, blocks: &[StoredBlock]) -> Vec<Finding> {
    let id = digest.block_id;
    match blocks.iter().find(|b| b.id == id) {
        None => vec![finding(
            Status::DigestMismatch,
            None,
            Some(id),
            format!("block {id} of the digest is no longer in the chain"),
        )],
        Some(b)
            if forms::hex(&b.block_hash) != digest.block_hash.to_ascii_lowercase()
                || !b.hash_matches() =>
        {
            vec![finding(
                Status::DigestMismatch,
                None,
                Some(id),
                format!("block {id} no longer has the digest's hash"),
            )]
        }
        Some(_) => Vec::new(),
    }
}

/// Matches the rows of one pass against the leaves sealed for them.
///
/// The expected leaves are sorted by id with a cursor: rows come in heap
/// order, which is nearly id order, so the next row is usually the next
/// entry (no hashing per row; a binary search otherwise).
pub struct Matcher {
    /// (audit id, block id, sealed checksum), sorted by audit id.
    entries: Vec<(i64, i64, Hash)>,
    seen: Vec<bool>,
    next: usize,
    horizon: i64,
    /// Rows whose stored checksum is not the one sealed: (id, stored, block).
    mismatched: Vec<(i64, Option<Hash>, i64)>,
    out: Vec<Finding>,
    pub rows: u64,
    pub unsealed: u64,
}

impl Matcher {
    /// `blocks`: those overlapping `pass` carry their row lists; `horizon`:
    /// the highest to_xid sealed (rows of older transactions must be sealed).
    pub fn new(blocks: &[StoredBlock], (from, to): (i64, i64), horizon: i64) -> Self {
        let mut entries: Vec<(i64, i64, Hash)> = blocks
            .iter()
            .flat_map(|b| {
                b.listed_leaves()
                    .into_iter()
                    .map(move |l| (l.id, b.id, l.checksum))
            })
            .filter(|&(id, _, _)| id >= from && id <= to)
            .collect();
        entries.sort_by_key(|e| e.0); // stable: equal ids keep block order
        Matcher {
            seen: vec![false; entries.len()],
            entries,
            next: 0,
            horizon,
            mismatched: Vec::new(),
            out: Vec::new(),
            rows: 0,
            unsealed: 0,
        }
    }

    /// The entry for audit row `id`, marking it seen: the cursor's when it
    /// fits, else the first unseen entry with that id, else the first one.
    fn take(&mut self, id: i64) -> Option<(i64, Hash)> {
        let i = match self.entries.get(self.next) {
            Some(e) if e.0 == id && !self.seen[self.next] => self.next,
            _ => {
                let first = self.entries.partition_point(|e| e.0 < id);
                let same = self.entries[first..]
                    .iter()
                    .take_while(|e| e.0 == id)
                    .count();
                if same == 0 {
                    return None;
                }
                (first..first + same)
                    .find(|&i| !self.seen[i])
                    .unwrap_or(first)
            }
        };
        self.next = i + 1;
        self.seen[i] = true;
        Some((self.entries[i].1, self.entries[i].2))
    }

    pub fn row(&mut self, row: ScannedRow) {
        self.rows += 1;
        let id = row.id;
        let content_ok = row.stored == Some(row.computed);
        match self.take(id) {
            Some((block, sealed)) if row.stored != Some(sealed) => {
                self.mismatched.push((id, row.stored, block))
            }
            Some((block, _)) if !content_ok => self.out.push(modified(id, Some(block))),
            Some(_) => {}
            None if row.tx_id < self.horizon => self.out.push(finding(
                Status::Forged,
                Some(id),
                None,
                "the row is in the sealed range but no block holds it".into(),
            )),
            None => {
                self.unsealed += 1;
                if !content_ok {
                    self.out.push(modified(id, None));
                }
            }
        }
    }

    /// The findings of the pass: what `row` found, rows carrying another
    /// row's sealed checksum, and sealed rows never seen.
    pub fn finish(mut self) -> Vec<Finding> {
        if !self.mismatched.is_empty() {
            let mut by_checksum: HashMap<Hash, i64> = HashMap::new();
            for &(id, _, sum) in &self.entries {
                by_checksum.entry(sum).or_insert(id);
            }
            for (id, stored, block) in std::mem::take(&mut self.mismatched) {
                match stored.and_then(|s| by_checksum.get(&s)) {
                    Some(&other) => self.out.push(finding(
                        Status::Moved,
                        Some(id),
                        Some(block),
                        format!("the row carries the checksum sealed for audit row {other}"),
                    )),
                    None => self.out.push(finding(
                        Status::Modified,
                        Some(id),
                        Some(block),
                        "the row's checksum is not the one its block sealed".into(),
                    )),
                }
            }
        }
        for (&(id, block, _), _) in self.entries.iter().zip(&self.seen).filter(|(_, s)| !**s) {
            self.out.push(finding(
                Status::Deleted,
                Some(id),
                Some(block),
                "a sealed row is missing".into(),
            ));
        }
        self.out
    }
}

fn modified(id: i64, block: Option<i64>) -> Finding {
    finding(
        Status::Modified,
        Some(id),
        block,
        "the row's content does not match its checksum".into(),
    )
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::forms::unhex;

    /// A ledger held in memory, as tests/vectors/ledger.json describes it.
    struct Vectors {
        blocks: Vec<StoredBlock>,
        rows: Vec<ScannedRow>,
    }

    impl Vectors {
        fn from_json(case: &serde_json::Value) -> Self {
            let blocks = case["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    let int = |k: &str| b[k].as_i64().unwrap();
                    let bytes = |k: &str| unhex(b[k].as_str().unwrap());
                    StoredBlock {
                        id: int("id"),
                        from_xid: int("from_xid"),
                        to_xid: int("to_xid"),
                        first_id: int("first_id"),
                        last_id: int("last_id"),
                        row_count: int("row_count"),
                        sealed_at_us: b["sealed_at_us"].as_i64(),
                        rows_hash: bytes("rows_hash"),
                        prev_hash: bytes("prev_hash"),
                        block_hash: bytes("block_hash"),
                        row_ids: Some(
                            b["row_ids"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|i| i.as_i64())
                                .collect(),
                        ),
                        row_checksums: Some(bytes("row_checksums")),
                    }
                })
                .collect();
            let rows = case["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| ScannedRow {
                    id: r["id"].as_i64().unwrap(),
                    tx_id: r["tx_id"].as_i64().unwrap(),
                    stored: r["stored"]
                        .as_str()
                        .and_then(|s| super::super::block::hash32(&unhex(s))),
                    computed: unhex(r["computed"].as_str().unwrap()).try_into().unwrap(),
                })
                .collect();
            Vectors { blocks, rows }
        }
    }

    impl Ledger for Vectors {
        fn blocks(&mut self) -> Vec<StoredBlock> {
            self.blocks_for((i64::MAX, i64::MIN))
        }

        fn pass_starts(&mut self, (from, to): (i64, i64), every: i64) -> Vec<i64> {
            let mut ids: Vec<i64> = self
                .rows
                .iter()
                .map(|r| r.id)
                .filter(|&id| id >= from && id <= to)
                .collect();
            ids.sort_unstable();
            ids.into_iter().step_by(every as usize).collect()
        }

        fn blocks_for(&mut self, (from, to): (i64, i64)) -> Vec<StoredBlock> {
            self.blocks
                .iter()
                .map(|b| {
                    let mut b = b.clone();
                    if !(b.first_id <= to && b.last_id >= from) {
                        (b.row_ids, b.row_checksums) = (None, None);
                    }
                    b
                })
                .collect()
        }

        fn scan(&mut self, (from, to): (i64, i64), row: &mut dyn FnMut(ScannedRow)) {
            self.rows
                .iter()
                .filter(|r| r.id >= from && r.id <= to)
                .for_each(|r| row(*r));
        }
    }

    /// Every case of tests/vectors/ledger.json gives the findings written
    /// there by hand, which the independent verifier (lead_audit.verify) gives too.
    #[test]
    fn findings_match_the_golden_vectors() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/ledger.json")).unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert!(cases.len() > 20);
        for case in cases {
            let mut ledger = Vectors::from_json(case);
            let digest = case["digest"].as_object().map(|d| Digest {
                block_id: d["block_id"].as_i64().unwrap(),
                block_hash: d["block_hash"].as_str().unwrap().to_string(),
            });
            let pass_rows = case["pass_rows"].as_i64().unwrap_or(PASS_ROWS);
            let range = case["range"].as_array().map_or((i64::MIN, i64::MAX), |r| {
                (r[0].as_i64().unwrap(), r[1].as_i64().unwrap())
            });
            let found: Vec<serde_json::Value> =
                verify(&mut ledger, digest.as_ref(), range, pass_rows)
                    .into_iter()
                    .map(|f| serde_json::json!([f.status.as_str(), f.audit_id, f.block_id]))
                    .collect();
            assert_eq!(
                &found,
                case["findings"].as_array().unwrap(),
                "{}",
                case["name"]
            );
        }
    }

    #[test]
    fn passes_follow_the_rows_present_not_the_span_of_their_ids() {
        let full = (i64::MIN, i64::MAX);
        assert_eq!(passes(&[], full), vec![full]);
        assert_eq!(passes(&[5], full), vec![full]);
        assert_eq!(
            passes(&[1, 1_000_001, 4_000_000_000_000_000_000], full),
            vec![
                (i64::MIN, 1_000_000),
                (1_000_001, 3_999_999_999_999_999_999),
                (4_000_000_000_000_000_000, i64::MAX)
            ]
        );
        assert_eq!(passes(&[7, 9], (5, 20)), vec![(5, 8), (9, 20)]);
        assert_eq!(passes(&[], (20, 10)), vec![]);
    }
}
