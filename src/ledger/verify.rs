//! `verify_audit()`: a shell that reads the ledger from the database for the
//! classifier (`classify`), which recomputes nothing itself and decides
//! every finding. Reading: the blocks through SPI, the audit rows through a
//! heap or index scan with per-row memory, each row's checksum recomputed
//! with the row form (`forms::row`).

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys::{self, Datum};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use super::block::{hash32, StoredBlock};
use super::classify::{self, Digest, Ledger, ScannedRow};
use crate::audit_log::objects::{self, Objects};
use crate::audit_log::row::{col, NCOLS};
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
    let range = (from_id.unwrap_or(i64::MIN), to_id.unwrap_or(i64::MAX));
    let mut ledger = Database {
        objs: objects::objects(),
    };
    let findings = classify::verify(&mut ledger, digest.as_ref(), range, PASS_ROWS.get().into());
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

/// Calls `f` with each audit_log row whose id is in `range`, deformed. Uses
/// the primary key for a bounded range and a sequential scan otherwise.
fn scan_audit_log(objs: &Objects, range: (i64, i64), f: &mut dyn FnMut(&[Datum], &[bool])) {
    let full = range == (i64::MIN, i64::MAX);
    // SAFETY: audit_log and its primary key are opened, scanned with the
    // active snapshot and closed here; per-row memory is reset each row; the
    // slot's arrays hold `natts` entries once all attributes are fetched.
    unsafe {
        let rel = pg_sys::table_open(objs.audit_log, pg_sys::AccessShareLock as i32);
        let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
        let snapshot = pg_sys::GetActiveSnapshot();
        let mut per_row = PgMemoryContexts::new("lead_audit verify row");
        let n = ((*(*rel).rd_att).natts as usize).min(NCOLS);
        let forward = pg_sys::ScanDirection::ForwardScanDirection;
        let mut each_row = |next: &mut dyn FnMut() -> bool| {
            while next() {
                per_row.switch_to(|_| {
                    pg_sys::slot_getallattrs(slot);
                    f(
                        std::slice::from_raw_parts((*slot).tts_values, n),
                        std::slice::from_raw_parts((*slot).tts_isnull, n),
                    )
                });
                per_row.reset();
            }
        };
        if full {
            let scan = pg_sys::table_beginscan(rel, snapshot, 0, std::ptr::null_mut());
            each_row(&mut || pg_sys::table_scan_getnextslot(scan, forward, slot));
            pg_sys::table_endscan(scan);
        } else {
            let irel =
                pg_sys::index_open(pg::primary_key_index(rel), pg_sys::AccessShareLock as i32);
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
            let scan = pg::index_beginscan(rel, irel, snapshot, 2);
            pg_sys::index_rescan(scan, keys.as_mut_ptr(), 2, std::ptr::null_mut(), 0);
            each_row(&mut || pg_sys::index_getnext_slot(scan, forward, slot));
            pg_sys::index_endscan(scan);
            pg_sys::index_close(irel, pg_sys::AccessShareLock as i32);
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as i32);
    }
}
