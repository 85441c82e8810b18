//! `verify_audit()`: a shell that reads the ledger from the database for the
//! classifier (`classify`), which recomputes nothing itself and decides
//! every finding. Reading: the blocks through SPI, the audit rows through a
//! heap or index scan with per-row memory, each row's checksum recomputed
//! with the row form (`forms::row`).

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;

use super::block::{hash32, StoredBlock};
use super::classify::{self, Digest, Finding, Ledger, ScannedRow, Status};
use super::tree_check::{BlockLeaves, Kept, TreeCheck, TreeFindings};
use crate::audit_log::objects::{self, Objects};
use crate::audit_log::row::col;
use crate::audit_log::scan::scan_audit_log;
use crate::checkpoint::{note::SignedCheckpoint, sign};
use crate::error::{AuditError, OrReport};
use crate::forms;
use crate::pg;

/// Rows per pass (a developer setting: tests lower it to check passes on
/// small logs; the default bounds memory to a few tens of MB).
static PASS_ROWS: GucSetting<i32> = GucSetting::<i32>::new(classify::PASS_ROWS as i32);

pub fn register_settings() {
    GucRegistry::define_int_guc(
        c"lead_audit.verify_pass_rows",
        c"Audit rows verify_audit() checks per pass (for tests).",
        c"Each pass holds the sealed checksums of its rows in memory; the default suits any log.",
        &PASS_ROWS,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The rows verify_audit returns (spelt out in each signature: pgrx reads
/// the column names from it).
type Findings = TableIterator<
    'static,
    (
        name!(status, String),
        name!(audit_id, Option<i64>),
        name!(detail, String),
        name!(block_id, Option<i64>),
    ),
>;

/// What `verify_audit(digest, from_id, to_id)` runs once `sql/api.sql` has
/// read the digest (in SQL, so that any jsonb a caller passes gets a clear
/// 22023 instead of failing a conversion to Rust).
#[pg_extern(name = "_audit_verify", volatile)]
fn verify_audit_internal(
    digest_block_id: Option<i64>,
    digest_block_hash: Option<&str>,
    from_id: Option<i64>,
    to_id: Option<i64>,
) -> TableIterator<
    'static,
    (
        name!(status, String),
        name!(audit_id, Option<i64>),
        name!(detail, String),
        name!(block_id, Option<i64>),
    ),
> {
    let digest = match (digest_block_id, digest_block_hash) {
        (Some(block_id), Some(hash)) => Some(Digest {
            block_id,
            block_hash: hash.to_string(),
        }),
        (None, None) => None,
        _ => AuditError::InvalidArgument {
            reason: "a digest needs both block_id and block_hash".into(),
        }
        .report(),
    };
    findings(digest, from_id, to_id)
}

/// The symbol 0.1.0's `verify_audit(jsonb, bigint, bigint)` calls, kept so a
/// database works between installing this library and `ALTER EXTENSION
/// lead_audit UPDATE` (which makes verify_audit read the digest in SQL).
#[pg_extern(sql = false, volatile)]
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
    let digest = digest.map(|d| parse_digest(&d.0).or_report());
    findings(digest, from_id, to_id)
}

fn findings(digest: Option<Digest>, from_id: Option<i64>, to_id: Option<i64>) -> Findings {
    with_tree(digest, (from_id, to_id), None, Vec::new())
}

/// The classifier's findings, then, when the whole log is verified and it
/// has a tree, the tree's (`tree_check`), with a kept checkpoint if any and
/// what is already known to be wrong with it (`kept_problems`).
fn with_tree(
    digest: Option<Digest>,
    (from_id, to_id): (Option<i64>, Option<i64>),
    kept: Option<Kept>,
    kept_problems: Vec<Finding>,
) -> Findings {
    let range = (from_id.unwrap_or(i64::MIN), to_id.unwrap_or(i64::MAX));
    let objs = objects::objects();
    let mut ledger = Database { objs: objs.clone() };
    let mut findings =
        classify::verify(&mut ledger, digest.as_ref(), range, PASS_ROWS.get().into());
    if objs.has_tree() && range == (i64::MIN, i64::MAX) {
        let kept_size = kept.as_ref().map(|k| k.size);
        let chain_ok = findings.iter().all(|f| f.status == Status::Ok);
        let found = tree_findings(&objs, kept);
        // The tree's own findings next to the chain's problems would only
        // repeat them (a block removed has no tree head...): then only what
        // concerns the kept checkpoint is added.
        let mut tree = kept_problems;
        tree.extend(found.kept);
        if chain_ok {
            tree.extend(found.other);
        }
        if !tree.is_empty() {
            findings.retain(|f| f.status != Status::Ok);
            findings.extend(tree);
        } else if let Some(size) = kept_size {
            for f in findings.iter_mut().filter(|f| f.status == Status::Ok) {
                f.detail.push_str(&format!(
                    "; the log extends the kept checkpoint of size {size}"
                ));
            }
        }
    }
    TableIterator::new(findings.into_iter().map(|f| {
        (
            f.status.as_str().to_string(),
            f.audit_id,
            f.detail,
            f.block_id,
        )
    }))
}

fn parse_digest(digest: &serde_json::Value) -> Result<Digest, AuditError> {
    let id = digest.get("block_id").and_then(|v| v.as_i64());
    let hash = digest.get("block_hash").and_then(|v| v.as_str());
    match (id, hash) {
        (Some(block_id), Some(hash)) => Ok(Digest {
            block_id,
            block_hash: hash.to_string(),
        }),
        _ => Err(AuditError::InvalidArgument {
            reason: "a digest is a JSON object with \"block_id\" and \"block_hash\", as audit_digest() returns".into(),
        }),
    }
}

/// The ledger as the database holds it.
struct Database {
    objs: std::rc::Rc<Objects>,
}

impl Database {
    /// Blocks with row lists for those overlapping [from, to] (none when from > to).
    fn load_blocks(&self, (from, to): (i64, i64)) -> Result<Vec<StoredBlock>, AuditError> {
        let query = self
            .objs
            .sql(include_str!("../../sql/queries/verify_blocks.sql"));
        let read = AuditError::spi("could not read audit_block");
        Spi::connect(|client| {
            let mut blocks = Vec::new();
            for row in client
                .select(&query, None, &[from.into(), to.into()])
                .map_err(read)?
            {
                let int = |i: usize| -> Result<i64, AuditError> {
                    row.get::<i64>(i)
                        .map_err(read)?
                        .ok_or_else(|| AuditError::BrokenInstall {
                            reason: format!("audit_block holds a NULL in column {i}"),
                        })
                };
                let bytes = |i: usize| -> Result<Vec<u8>, AuditError> {
                    Ok(row.get::<Vec<u8>>(i).map_err(read)?.unwrap_or_default())
                };
                blocks.push(StoredBlock {
                    id: int(1)?,
                    from_xid: int(2)?,
                    to_xid: int(3)?,
                    first_id: int(4)?,
                    last_id: int(5)?,
                    row_count: int(6)?,
                    rows_hash: bytes(7)?,
                    prev_hash: bytes(8)?,
                    block_hash: bytes(9)?,
                    sealed_at_us: row.get::<i64>(10).map_err(read)?,
                    row_ids: row.get::<Vec<Option<i64>>>(11).map_err(read)?,
                    row_checksums: row.get::<Vec<u8>>(12).map_err(read)?,
                });
            }
            Ok(blocks)
        })
    }
}

impl Ledger for Database {
    fn blocks(&mut self) -> Vec<StoredBlock> {
        self.load_blocks((i64::MAX, i64::MIN)).or_report()
    }

    fn pass_starts(&mut self, (from, to): (i64, i64), every: i64) -> Vec<i64> {
        let query = self
            .objs
            .sql(include_str!("../../sql/queries/verify_pass_starts.sql"));
        Spi::connect(|client| {
            client
                .select(&query, None, &[from.into(), to.into(), every.into()])?
                .filter_map(|row| row.get::<i64>(1).transpose())
                .collect::<Result<Vec<i64>, _>>()
        })
        .map_err(AuditError::spi("could not read audit_log"))
        .or_report()
    }

    fn blocks_for(&mut self, pass: (i64, i64)) -> Vec<StoredBlock> {
        self.load_blocks(pass).or_report()
    }

    fn scan(&mut self, pass: (i64, i64), f: &mut dyn FnMut(ScannedRow)) {
        scan_audit_log(&self.objs, pass, &mut |values, nulls| {
            // SAFETY: the datums come from a tuple of audit_log, whose columns
            // `objects` checked; the checksum column is a bytea when not NULL.
            let (computed, stored) = unsafe {
                (
                    forms::row::checksum(values, nulls, &[]),
                    (!nulls[col::CHECKSUM])
                        .then(|| hash32(pg::varlena_bytes(values[col::CHECKSUM])))
                        .flatten(),
                )
            };
            f(ScannedRow {
                id: values[col::ID].value() as i64,
                tx_id: values[col::TX_ID].value() as i64,
                stored,
                computed,
            })
        });
    }
}

/// `verify_audit(checkpoint)` once the SQL wrapper found a signed note: the
/// whole log verified, and its tree checked to extend the checkpoint.
#[pg_extern(name = "_audit_verify_checkpoint", volatile)]
fn verify_checkpoint(
    note: &str,
) -> TableIterator<
    'static,
    (
        name!(status, String),
        name!(audit_id, Option<i64>),
        name!(detail, String),
        name!(block_id, Option<i64>),
    ),
> {
    let signed = SignedCheckpoint::parse(note)
        .map_err(|reason| AuditError::InvalidArgument {
            reason: format!(
                "a checkpoint to verify is a signed note from audit_checkpoint(): {reason}"
            ),
        })
        .or_report();
    let mut problems = Vec::new();
    let mismatch = |detail: String| Finding {
        status: Status::CheckpointMismatch,
        audit_id: None,
        block_id: None,
        detail,
    };
    match sign::verifier_key().or_report() {
        Some(vkey) => {
            if !signed.signed_by(&vkey).unwrap_or(false) {
                problems.push(mismatch(
                    "the kept checkpoint is not signed by the log's key (audit_verifier_key()): it proves nothing about this log".into(),
                ));
            }
        }
        None => problems.push(mismatch(
            "the log has no key (lead_audit.signing_key_file or lead_audit.verifier_key): the kept checkpoint's signature cannot be checked".into(),
        )),
    }
    let kept = Kept {
        size: signed.checkpoint.size,
        root: signed.checkpoint.root,
    };
    with_tree(None, (None, None), Some(kept), problems)
}

/// The tree rebuilt from every block's checksums, compared with what is
/// stored and with the kept checkpoint.
fn tree_findings(objs: &Objects, kept: Option<Kept>) -> TreeFindings {
    let read = AuditError::spi("could not read the Merkle tree");
    Spi::connect_mut(|client| -> Result<TreeFindings, AuditError> {
        let mut heads = std::collections::HashMap::new();
        for row in client
            .select(&objs.sql(include_str!("../../sql/queries/tree_check_heads.sql")), None, &[])
            .map_err(read)?
        {
            if let (Some(b), Some(s)) = (row.get::<i64>(1).map_err(read)?, row.get::<i64>(2).map_err(read)?) {
                heads.insert(
                    b,
                    (
                        s,
                        row.get::<Vec<u8>>(3).map_err(read)?.unwrap_or_default(),
                        row.get::<Vec<u8>>(4).map_err(read)?.unwrap_or_default(),
                    ),
                );
            }
        }
        let mut nodes = std::collections::HashMap::new();
        for row in client
            .select(&objs.sql(include_str!("../../sql/queries/tree_check_nodes.sql")), None, &[])
            .map_err(read)?
        {
            let (level, index) = (row.get::<i16>(1).map_err(read)?, row.get::<i64>(2).map_err(read)?);
            if let (Some(l), Some(i)) = (level, index) {
                let hash = row.get::<Vec<u8>>(3).map_err(read)?.unwrap_or_default();
                nodes.insert((l.clamp(0, 255) as u8, i.max(0) as u64), hash);
            }
        }
        let vkey = sign::verifier_key()?;
        let (mut stored, mut findings) = (Vec::new(), Vec::new());
        for row in client
            .select(&objs.sql(include_str!("../../sql/queries/tree_check_checkpoints.sql")), None, &[])
            .map_err(read)?
        {
            let size = row.get::<i64>(1).map_err(read)?.unwrap_or(-1);
            let note = row.get::<String>(2).map_err(read)?.unwrap_or_default();
            let parsed = SignedCheckpoint::parse(&note).ok().filter(|c| c.checkpoint.size as i64 == size);
            let signed = parsed.as_ref().is_some_and(|c| {
                vkey.as_ref().is_none_or(|k| c.signed_by(k).unwrap_or(false))
            });
            match parsed {
                Some(c) if signed => stored.push((c.checkpoint.size, c.checkpoint.root)),
                _ => findings.push(Finding {
                    status: Status::CheckpointMismatch,
                    audit_id: None,
                    block_id: None,
                    detail: format!("the stored checkpoint of size {size} is not a checkpoint of that size signed by the log's key"),
                }),
            }
        }
        let mut check = TreeCheck::new(heads, nodes, stored, kept);
        let cursor = client
            .open_cursor(&objs.sql(include_str!("../../sql/queries/tree_check_blocks.sql")), &[])
            .detach_into_name();
        loop {
            let mut rows = client.find_cursor(&cursor).map_err(read)?;
            let batch = rows.fetch(16).map_err(read)?;
            if batch.is_empty() {
                break;
            }
            for row in batch {
                let id = row.get::<i64>(1).map_err(read)?.unwrap_or_default();
                let ids = row.get::<Vec<Option<i64>>>(2).map_err(read)?.unwrap_or_default();
                let sums = row.get::<Vec<u8>>(3).map_err(read)?.unwrap_or_default();
                check.block(&BlockLeaves {
                    id,
                    row_ids: &ids,
                    checksums: &sums,
                });
            }
            rows.detach_into_name();
        }
        let mut found = check.finish();
        findings.append(&mut found.other);
        found.other = findings;
        Ok(found)
    })
    .or_report()
}
