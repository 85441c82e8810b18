//! `verify_audit()`: recompute every audit row's checksum and report what no
//! longer matches.

use pgrx::pg_sys::{self, Datum};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use crate::checksum;
use crate::writer::{self, col, NCOLS};

/// One problem found, or the single 'ok' summary.
type Finding = (String, Option<i64>, String);

#[pg_extern(volatile)]
fn verify_audit() -> TableIterator<
    'static,
    (
        name!(status, String),
        name!(audit_id, Option<i64>),
        name!(detail, String),
    ),
> {
    let (rows, mut findings) = check_rows();
    if findings.is_empty() {
        findings.push((
            "ok".into(),
            None,
            format!("{rows} audit rows verified, every checksum matches"),
        ));
    }
    findings.sort_by_key(|f| f.1);
    TableIterator::new(findings)
}

/// Scans audit_log and recomputes each row's checksum.
fn check_rows() -> (u64, Vec<Finding>) {
    let objs = writer::objects();
    let mut findings = Vec::new();
    let mut rows = 0u64;
    // SAFETY: audit_log is opened, scanned with the active snapshot and closed
    // here; per-row allocations go to a context reset after each row.
    unsafe {
        let rel = pg_sys::table_open(objs.audit_log, pg_sys::AccessShareLock as i32);
        let scan =
            pg_sys::table_beginscan(rel, pg_sys::GetActiveSnapshot(), 0, std::ptr::null_mut());
        let mut per_row = PgMemoryContexts::new("lead_audit verify row");
        let mut values = [Datum::from(0); NCOLS];
        let mut nulls = [true; NCOLS];
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            rows += 1;
            pg_sys::heap_deform_tuple(
                tuple,
                (*rel).rd_att,
                values.as_mut_ptr(),
                nulls.as_mut_ptr(),
            );
            let id = values[col::ID].value() as i64;
            let matches = per_row.switch_to(|_| {
                let computed = checksum::row_checksum(&values, &nulls);
                !nulls[col::CHECKSUM] && stored_bytes(values[col::CHECKSUM]) == computed
            });
            per_row.reset();
            if !matches {
                findings.push((
                    "modified".into(),
                    Some(id),
                    "the row's checksum does not match its content".into(),
                ));
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as i32);
    }
    (rows, findings)
}

unsafe fn stored_bytes(datum: Datum) -> Vec<u8> {
    let v = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
    std::slice::from_raw_parts(
        pgrx::vardata_any(v).cast::<u8>(),
        pgrx::varsize_any_exhdr(v),
    )
    .to_vec()
}
