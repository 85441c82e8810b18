//! The columns every row written inside the writing transaction shares: the
//! transaction, the statement's time, the table, the actor context and the
//! outcome `committed` (the row exists only if its transaction commits).
//! Captured changes and the rows that record events (DDL, writes made with
//! auditing off) are stamped alike.

use pgrx::pg_sys::{self, Datum, Oid};

use super::epoch;
use super::row::{col, Row};
use crate::actor;
use crate::pg::kept_text;

/// Stamps `row` for `table_oid` / `table_name` (a text datum). Raises
/// `InvalidSetting` for a setting that cannot be recorded.
pub fn committed(row: &mut Row, table_oid: Oid, table_name: Datum) {
    let actor = actor::current();
    let tx_id = epoch::tx_id();
    // SAFETY: reads the statement's start time.
    let logged_at = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    row.set(col::TX_ID, Datum::from(tx_id));
    row.set(col::LOGGED_AT, Datum::from(logged_at));
    row.set(col::TABLE_OID, Datum::from(table_oid));
    row.set(col::TABLE_NAME, table_name);
    row.set_opt(col::ACTOR_ID, actor.actor_id);
    row.set_opt(col::CLIENT_IP, actor.client_ip);
    row.set_opt(col::USER_AGENT, actor.user_agent);
    row.set_opt(col::REQUEST_ID, actor.request_id);
    row.set_opt(col::CONTEXT, actor.context);
    row.set(col::DB_USER, actor.db_user);
    row.set_opt(col::APPLICATION_NAME, actor.application_name);
    row.set(col::OUTCOME, kept_text(b"committed"));
}
