//! The ledger's transaction ids: PostgreSQL's full transaction id plus the
//! offset of the cluster the database lives in (`audit_epoch`). In the
//! cluster a log was created in the offset is 0 and `tx_id` is
//! `pg_current_xact_id()`; a dump restored into another cluster, whose
//! transaction ids start again from a few hundred, gets an offset that puts
//! its transactions above everything the log holds, so sealing and
//! verification go on across the restore.
//!
//! The offset is looked up once per backend. One this transaction added is
//! used at once but trusted for good only once it commits: if the
//! transaction (or the savepoint that added it) rolls back, it is looked up
//! again.

use std::cell::Cell;

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::objects;
use crate::error::AuditError;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Unknown,
    /// Added by the current transaction; `recheck` after a savepoint rolled back.
    Tentative {
        offset: i64,
        recheck: bool,
    },
    Settled(i64),
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State::Unknown) };
}

/// The ledger id of the current transaction (assigning it a transaction id).
pub fn tx_id() -> i64 {
    // SAFETY: assigns (or reads) the current transaction's full id.
    let raw = unsafe { pg_sys::GetTopFullTransactionId().value } as i64;
    raw + offset()
}

/// This cluster's offset.
pub fn offset() -> i64 {
    match STATE.get() {
        State::Settled(o)
        | State::Tentative {
            offset: o,
            recheck: false,
        } => o,
        // Between installing this library and ALTER EXTENSION UPDATE the
        // database has 0.1.0's objects, which know no offsets: count as
        // 0.1.0 did (and look again once they are updated).
        _ if objects::objects().shape == super::row::Shape::V1 => 0,
        before => {
            let (o, inserted) = look_up();
            let tentative = inserted || matches!(before, State::Tentative { .. });
            STATE.set(if tentative {
                State::Tentative {
                    offset: o,
                    recheck: false,
                }
            } else {
                State::Settled(o)
            });
            o
        }
    }
}

fn look_up() -> (i64, bool) {
    let objs = objects::objects();
    let found = Spi::get_two::<i64, bool>(&objs.sql(include_str!("../../sql/queries/epoch.sql")));
    match found {
        Ok((Some(o), Some(inserted))) => (o, inserted),
        Ok(_) => AuditError::BrokenInstall {
            reason: "_audit_epoch() returned nothing".into(),
        }
        .report(),
        Err(e) => {
            AuditError::spi("could not read this cluster's transaction id offset")(e).report()
        }
    }
}

/// The transaction committed: an offset it added now holds.
pub fn committed() {
    let _ = STATE.try_with(|s| {
        if let State::Tentative { offset, .. } = s.get() {
            s.set(State::Settled(offset));
        }
    });
}

/// The transaction rolled back: an offset it added is gone.
pub fn aborted() {
    let _ = STATE.try_with(|s| {
        if let State::Tentative { .. } = s.get() {
            s.set(State::Unknown);
        }
    });
}

/// A savepoint rolled back: the offset this transaction added may be gone.
pub fn savepoint_aborted() {
    let _ = STATE.try_with(|s| {
        if let State::Tentative { offset, .. } = s.get() {
            s.set(State::Tentative {
                offset,
                recheck: true,
            });
        }
    });
}
