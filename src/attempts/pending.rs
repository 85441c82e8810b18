//! The attempts of the open transaction, per backend: one per statement
//! that wrote, or tried to write, to an audited table, with the subtransaction
//! it ran in and the keys of the first rows it captured. Pure bookkeeping:
//! the hooks feed it, the transaction callbacks empty it.
//!
//! Memory is bounded: at most [`MAX_ATTEMPTS`] attempts per transaction
//! (more are only counted) and [`MAX_KEYS`] keys per attempt (more are only
//! counted); a statement repeated with the same text is one attempt with a
//! count.

use crate::actor::Snapshot;

pub const MAX_ATTEMPTS: usize = 1000;
pub const MAX_KEYS: usize = 10;

#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// The subtransaction the statement ran in (SubTransactionId).
    pub subxact: u32,
    pub relid: u32,
    pub table: String,
    pub action: &'static str,
    pub statement: Option<String>,
    /// Statement start, PostgreSQL microseconds.
    pub at: i64,
    pub actor: Snapshot,
    /// record_pk of the first captured rows, as jsonb text.
    pub keys: Vec<String>,
    /// Every row captured, listed or not.
    pub rows: u64,
    /// How many statements this attempt stands for (repeats of one text).
    pub statements: u64,
}

#[derive(Default, Debug)]
pub struct Pending {
    attempts: Vec<Attempt>,
    /// Attempts not kept because [`MAX_ATTEMPTS`] were already.
    pub not_listed: u64,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty() && self.not_listed == 0
    }

    /// A statement starts on an audited table. The same text again, on the
    /// same table in the same subtransaction, counts on the last attempt.
    pub fn push(&mut self, attempt: Attempt) {
        if let Some(last) = self.attempts.last_mut() {
            if last.subxact == attempt.subxact
                && last.relid == attempt.relid
                && last.action == attempt.action
                && last.statement == attempt.statement
                && last.actor == attempt.actor
            {
                last.statements += 1;
                return;
            }
        }
        if self.attempts.len() < MAX_ATTEMPTS {
            self.attempts.push(attempt);
        } else {
            self.not_listed += 1;
        }
    }

    /// A row of `relid` was captured in `subxact`: counted on the latest
    /// attempt on that table there, its key listed while there is room.
    /// False when no attempt is open for it (the caller starts one).
    pub fn note_row(&mut self, subxact: u32, relid: u32, key: impl FnOnce() -> String) -> bool {
        let Some(a) = self
            .attempts
            .iter_mut()
            .rev()
            .find(|a| a.relid == relid && a.subxact == subxact)
        else {
            return self.attempts.len() >= MAX_ATTEMPTS; // full: counted nowhere, never an error
        };
        a.rows += 1;
        if a.keys.len() < MAX_KEYS {
            a.keys.push(key());
        }
        true
    }

    /// Whether an attempt on `relid` is open in `subxact`.
    pub fn is_open(&self, subxact: u32, relid: u32) -> bool {
        self.attempts
            .iter()
            .any(|a| a.relid == relid && a.subxact == subxact)
    }

    /// A subtransaction committed: its attempts now belong to its parent.
    pub fn commit_sub(&mut self, subxact: u32, parent: u32) {
        for a in self.attempts.iter_mut().filter(|a| a.subxact == subxact) {
            a.subxact = parent;
        }
    }

    /// A subtransaction aborted: its attempts failed (those of its own
    /// subtransactions were handed to it when they committed, or taken when
    /// they aborted first).
    pub fn abort_sub(&mut self, subxact: u32) -> Vec<Attempt> {
        let (failed, kept) = std::mem::take(&mut self.attempts)
            .into_iter()
            .partition(|a| a.subxact == subxact);
        self.attempts = kept;
        failed
    }

    /// The transaction ended: everything, and the count of what was not kept.
    pub fn take_all(&mut self) -> (Vec<Attempt>, u64) {
        let not_listed = std::mem::take(&mut self.not_listed);
        (std::mem::take(&mut self.attempts), not_listed)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn attempt(subxact: u32, relid: u32, statement: &str) -> Attempt {
        Attempt {
            subxact,
            relid,
            table: format!("t{relid}"),
            action: "INSERT",
            statement: Some(statement.into()),
            at: 0,
            actor: Snapshot::default(),
            keys: vec![],
            rows: 0,
            statements: 1,
        }
    }

    #[test]
    fn rows_count_on_the_latest_attempt_on_their_table() {
        let mut p = Pending::default();
        p.push(attempt(1, 10, "a"));
        p.push(attempt(1, 20, "b"));
        p.push(attempt(1, 10, "c"));
        assert!(p.note_row(1, 10, || "{\"id\": 1}".into()));
        assert!(!p.note_row(1, 30, || unreachable!()));
        assert!(!p.note_row(2, 10, || unreachable!()));
        assert!(p.is_open(1, 20) && !p.is_open(1, 30) && !p.is_open(2, 10));
        let (all, _) = p.take_all();
        assert_eq!(all[2].rows, 1);
        assert_eq!(all[2].keys, vec!["{\"id\": 1}"]);
        assert_eq!(all[0].rows, 0);
        assert!(p.is_empty());
    }

    #[test]
    fn keys_are_bounded_and_rows_still_counted() {
        let mut p = Pending::default();
        p.push(attempt(1, 10, "a"));
        for i in 0..25 {
            p.note_row(1, 10, || i.to_string());
        }
        let (all, _) = p.take_all();
        assert_eq!(all[0].keys.len(), MAX_KEYS);
        assert_eq!(all[0].rows, 25);
    }

    #[test]
    fn attempts_are_bounded_and_repeats_coalesced() {
        let mut p = Pending::default();
        for _ in 0..5 {
            p.push(attempt(1, 10, "same"));
        }
        for i in 0..MAX_ATTEMPTS + 7 {
            p.push(attempt(1, 10, &i.to_string()));
        }
        let (all, not_listed) = p.take_all();
        assert_eq!(all.len(), MAX_ATTEMPTS);
        assert_eq!(all[0].statements, 5);
        assert_eq!(not_listed, 8);
        // Full: a captured row with no attempt is no reason to start one.
        let mut full = Pending::default();
        for i in 0..MAX_ATTEMPTS {
            full.push(attempt(1, 10, &i.to_string()));
        }
        assert!(full.note_row(1, 99, || unreachable!()));
    }

    #[test]
    fn savepoints_hand_attempts_up_or_fail_them() {
        let mut p = Pending::default();
        p.push(attempt(1, 10, "outer"));
        p.push(attempt(2, 10, "inner kept"));
        p.push(attempt(3, 10, "inner failed"));
        let failed = p.abort_sub(3);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].statement.as_deref(), Some("inner failed"));
        p.commit_sub(2, 1);
        assert!(p.abort_sub(2).is_empty());
        let (all, _) = p.take_all();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|a| a.subxact == 1));
    }
}
