//! Writes made while a superuser had `lead_audit.enabled = off`: nothing of
//! them is captured, but the transaction leaves one marker row
//! (`action = 'UNAUDITED'`) saying who wrote how many rows to which tables,
//! written just before it commits. Rows of a savepoint rolled back are not
//! counted.

use std::cell::RefCell;
use std::collections::BTreeMap;

use pgrx::pg_sys::{self, Oid};
use serde_json::{json, Map, Value};

use crate::audit_log::row::{col, Row};
use crate::audit_log::stamp;
use crate::pg::{self, text_datum};
use crate::writer;

/// Rows written per (subtransaction, table, action).
#[derive(Default, Debug)]
pub struct Tally {
    counts: BTreeMap<(u32, u32, &'static str), u64>,
    names: BTreeMap<u32, String>,
}

impl Tally {
    pub fn add(
        &mut self,
        subxact: u32,
        relid: u32,
        name: impl FnOnce() -> String,
        action: &'static str,
    ) {
        *self.counts.entry((subxact, relid, action)).or_insert(0) += 1;
        self.names.entry(relid).or_insert_with(name);
    }

    pub fn commit_sub(&mut self, subxact: u32, parent: u32) {
        let moved: Vec<_> = self
            .counts
            .iter()
            .filter(|((s, _, _), _)| *s == subxact)
            .map(|(k, n)| (*k, *n))
            .collect();
        for ((_, relid, action), n) in moved {
            self.counts.remove(&(subxact, relid, action));
            *self.counts.entry((parent, relid, action)).or_insert(0) += n;
        }
    }

    pub fn abort_sub(&mut self, subxact: u32) {
        self.counts.retain(|(s, _, _), _| *s != subxact);
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The marker's table (the one table, or none when several) and its
    /// `new_values`: per table, rows per action, and the total.
    pub fn marker(&self) -> (Option<u32>, String, Value) {
        let mut tables: BTreeMap<u32, Map<String, Value>> = BTreeMap::new();
        let mut total = 0;
        for ((_, relid, action), n) in &self.counts {
            let t = tables.entry(*relid).or_default();
            let before = t.get(*action).and_then(Value::as_u64).unwrap_or(0);
            t.insert((*action).into(), (before + n).into());
            total += n;
        }
        let names: Vec<&str> = tables.keys().map(|r| self.names[r].as_str()).collect();
        let list: Vec<Value> = tables
            .into_iter()
            .map(|(relid, mut counts)| {
                counts.insert("table".into(), self.names[&relid].clone().into());
                counts.insert("table_oid".into(), relid.into());
                Value::Object(counts)
            })
            .collect();
        let only = (list.len() == 1).then(|| list[0]["table_oid"].as_u64().unwrap_or(0) as u32);
        (
            only,
            names.join(", "),
            json!({"tables": list, "rows": total}),
        )
    }
}

thread_local! {
    static TALLY: RefCell<Tally> = RefCell::new(Tally::default());
}

/// A row the triggers did not capture because auditing is off.
pub fn count(relid: Oid, name: impl FnOnce() -> String, action: &'static str) {
    // SAFETY: reads the current subtransaction's id.
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    TALLY.with_borrow_mut(|t| t.add(subxact, u32::from(relid), name, action));
}

pub fn commit_sub(subxact: u32, parent: u32) {
    let _ = TALLY.try_with(|t| {
        t.try_borrow_mut()
            .map(|mut t| t.commit_sub(subxact, parent))
    });
}

pub fn abort_sub(subxact: u32) {
    let _ = TALLY.try_with(|t| t.try_borrow_mut().map(|mut t| t.abort_sub(subxact)));
}

pub fn forget() {
    let _ = TALLY.try_with(|t| t.try_borrow_mut().map(|mut t| *t = Tally::default()));
}

/// Writes the marker of the committing transaction, if it wrote unaudited.
pub fn write_marker() {
    let taken = TALLY.with_borrow_mut(std::mem::take);
    if taken.is_empty() {
        return;
    }
    // A transaction of one statement commits after the statement's snapshot
    // is gone, and stamping and writing may run SPI (the cluster's epoch,
    // audit_log's objects: with auditing off, nothing looked them up yet in
    // the session), which needs one: the transaction's is still there to
    // take. (An error unwinds the snapshot stack with the transaction.)
    // SAFETY: still inside the committing transaction (PRE_COMMIT).
    let pushed = unsafe {
        let none = !pg_sys::ActiveSnapshotSet();
        if none {
            pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        }
        none
    };
    write(taken);
    if pushed {
        // SAFETY: pops the snapshot pushed above, the only one pushed since.
        unsafe { pg_sys::PopActiveSnapshot() };
    }
}

fn write(taken: Tally) {
    let (only, names, values) = taken.marker();
    let Some(values) = pg::type_input(pg_sys::jsonb_in, &values.to_string()) else {
        return; // our own JSON: never refused
    };
    let mut row = Row::default();
    row.set(col::ACTION, text_datum(b"UNAUDITED"));
    row.set(col::NEW_VALUES, values);
    stamp::committed(
        &mut row,
        Oid::from(only.unwrap_or(0)),
        text_datum(names.as_bytes()),
    );
    writer::append(&mut row);
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn rows_are_counted_per_table_and_action() {
        let mut t = Tally::default();
        for _ in 0..3 {
            t.add(1, 10, || "public.leads".into(), "INSERT");
        }
        t.add(1, 10, || unreachable!("named once"), "UPDATE");
        let (only, names, v) = t.marker();
        assert_eq!(only, Some(10));
        assert_eq!(names, "public.leads");
        assert_eq!(v["rows"], 4);
        assert_eq!(v["tables"][0]["INSERT"], 3);
        assert_eq!(v["tables"][0]["UPDATE"], 1);
    }

    #[test]
    fn savepoints_rolled_back_do_not_count() {
        let mut t = Tally::default();
        t.add(1, 10, || "a".into(), "INSERT");
        t.add(2, 20, || "b".into(), "DELETE");
        t.add(3, 20, || "b".into(), "DELETE");
        t.abort_sub(3);
        t.commit_sub(2, 1);
        let (only, names, v) = t.marker();
        assert_eq!(only, None);
        assert_eq!(names, "a, b");
        assert_eq!(v["rows"], 2);
        t.abort_sub(1);
        assert!(t.is_empty());
    }
}
