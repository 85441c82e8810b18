//! The attempts writer: a background worker started for one database when a
//! failed attempt is queued for it. It writes each message as one audit row
//! (outcome 'failed') in transactions of its own, through the same writer as
//! the triggers (so the row is checksummed, and sealed like any other), and
//! exits once the queue holds nothing for its database.

use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, SignalWakeFlags};
use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::prelude::*;
use serde_json::Value;

use super::message;
use super::queue;
use crate::audit_log::row::{col, Row};
use crate::pg::{self, text_datum};
use crate::writer;

/// Messages written per transaction.
const BATCH: usize = 64;

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn lead_audit_attempts_main(arg: Datum) {
    let db = Oid::from(arg.value() as u32);
    // SAFETY: registered once for this process; `gone` only touches shared memory.
    unsafe { pg_sys::before_shmem_exit(Some(on_exit), arg) };
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    loop {
        let (batch, dropped) = queue::take(db, BATCH, now());
        if batch.is_empty() {
            if queue::done(db) {
                break;
            }
            continue;
        }
        BackgroundWorker::transaction(|| write_batch(&batch, dropped));
        queue::committed(db);
        if BackgroundWorker::sigterm_received() {
            break;
        }
        // Let a burst of failures gather into the next batch.
        BackgroundWorker::wait_latch(Some(Duration::from_millis(1)));
    }
}

/// # Safety
/// Called by PostgreSQL at process exit only.
#[pg_guard]
unsafe extern "C-unwind" fn on_exit(_code: std::ffi::c_int, arg: Datum) {
    queue::gone(Oid::from(arg.value() as u32));
}

fn now() -> i64 {
    // SAFETY: reads the clock.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

fn write_batch(batch: &[Vec<u8>], dropped: u64) {
    let installed = Spi::get_one::<String>(
        "SELECT 1::text FROM pg_catalog.pg_extension WHERE extname = 'lead_audit'",
    );
    if !matches!(installed, Ok(Some(_))) {
        log!(
            "lead_audit attempts writer: lead_audit is not installed in this database; {} failed attempts not recorded",
            batch.len()
        );
        return;
    }
    let mut dropped = dropped;
    for m in batch {
        match message::decode(m) {
            Some((header, error)) => {
                let mut row = row(&header, &message::with_dropped(error, dropped));
                writer::append(&mut row);
                dropped = 0;
            }
            None => warning!(
                "lead_audit attempts writer: a message that is not one of ours was skipped"
            ),
        }
    }
}

/// The audit row of one failed attempt.
fn row(header: &Value, error: &str) -> Row {
    let mut row = Row::default();
    let text = |k: &str| header[k].as_str().map(|s| text_datum(s.as_bytes()));
    // This transaction's id: sealing finds rows by the transaction that wrote them.
    let tx_id = crate::audit_log::epoch::tx_id();
    row.set(col::TX_ID, Datum::from(tx_id));
    row.set(
        col::LOGGED_AT,
        Datum::from(header["logged_at"].as_i64().unwrap_or_else(now)),
    );
    row.set(
        col::TABLE_OID,
        Datum::from(header["table_oid"].as_u64().unwrap_or(0) as u32),
    );
    row.set_opt(col::TABLE_NAME, text("table_name"));
    row.set_opt(col::ACTION, text("action"));
    row.set_opt(col::ACTOR_ID, text("actor_id"));
    row.set_opt(col::USER_AGENT, text("user_agent"));
    row.set_opt(col::REQUEST_ID, text("request_id"));
    row.set_opt(col::APPLICATION_NAME, text("application_name"));
    row.set_opt(col::DB_USER, text("db_user"));
    // What the session had set, recorded as the triggers would have; a value
    // the triggers would have refused is left out here.
    row.set_opt(
        col::CLIENT_IP,
        header["client_ip"]
            .as_str()
            .filter(|s| crate::actor::is_ip_address(s))
            .and_then(|s| pg::type_input(pg_sys::inet_in, s)),
    );
    row.set_opt(
        col::CONTEXT,
        header["context"]
            .as_str()
            .and_then(|s| pg::type_input(pg_sys::jsonb_in, s))
            // SAFETY: jsonb_in returned a fresh jsonb.
            .filter(|d| unsafe { pg::jsonb_is_object(*d) }),
    );
    row.set(col::OUTCOME, text_datum(b"failed"));
    let error = pg::type_input(pg_sys::jsonb_in, error)
        .or_else(|| pg::type_input(pg_sys::jsonb_in, "{\"reason\": \"unreadable\"}"));
    row.set_opt(col::ERROR, error);
    row
}
