//! Which held-back audit rows belong to which subtransaction (pure).
//!
//! A row may be written only in the subtransaction that made its change, or
//! in one that change has since been committed into: written in a child that
//! later rolls back, the row would vanish while the change stays. So rows
//! are kept in segments, one per subtransaction, innermost last; only the
//! last segment, and only while its subtransaction is the current one, may
//! be written. A subtransaction that commits hands its rows to its parent; one
//! that rolls back takes its rows with it.

/// A subtransaction's id (PostgreSQL's `SubTransactionId`).
pub type SubId = u32;

/// Held-back rows, in the order they were made, by subtransaction.
#[derive(Debug)]
pub struct Segments<T> {
    segments: Vec<(SubId, Vec<T>)>,
}

impl<T> Default for Segments<T> {
    fn default() -> Self {
        Self {
            segments: Vec::new(),
        }
    }
}

impl<T> Segments<T> {
    /// Adds a row made in subtransaction `sub` (the current one); returns how
    /// many rows the current subtransaction holds now.
    pub fn push(&mut self, sub: SubId, item: T) -> usize {
        match self.segments.last_mut() {
            Some((s, items)) if *s == sub => {
                items.push(item);
                items.len()
            }
            _ => {
                self.segments.push((sub, vec![item]));
                1
            }
        }
    }

    /// The rows that may be written now, in subtransaction `current`: those
    /// of the last segment if it is `current`'s; taken out.
    pub fn take_current(&mut self, current: SubId) -> Vec<T> {
        match self.segments.last() {
            Some((s, _)) if *s == current => {
                self.segments.pop().map(|(_, v)| v).unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// Subtransaction `sub` committed into `parent`: its rows are the parent's now.
    pub fn commit_sub(&mut self, sub: SubId, parent: SubId) {
        for (s, _) in self.segments.iter_mut() {
            if *s == sub {
                *s = parent;
            }
        }
        // Neighbours that now share a subtransaction become one segment.
        let mut merged: Vec<(SubId, Vec<T>)> = Vec::with_capacity(self.segments.len());
        for (s, items) in self.segments.drain(..) {
            match merged.last_mut() {
                Some((last, into)) if *last == s => into.extend(items),
                _ => merged.push((s, items)),
            }
        }
        self.segments = merged;
    }

    /// Subtransaction `sub` rolled back: its rows go with it (returned, to be freed).
    pub fn abort_sub(&mut self, sub: SubId) -> Vec<T> {
        let mut dropped = Vec::new();
        self.segments.retain_mut(|(s, items)| {
            if *s == sub {
                dropped.append(items);
                false
            } else {
                true
            }
        });
        dropped
    }

    /// Every row held, in order (the top-level transaction is committing, or
    /// ending and they are dropped).
    pub fn take_all(&mut self) -> Vec<T> {
        self.segments.drain(..).flat_map(|(_, v)| v).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn rows_of_the_current_subtransaction_are_written_in_order() {
        let mut s = Segments::default();
        assert_eq!(s.push(1, 'a'), 1);
        assert_eq!(s.push(1, 'b'), 2);
        assert_eq!(s.take_current(1), vec!['a', 'b']);
        assert!(s.is_empty());
    }

    #[test]
    fn a_parents_rows_are_never_written_inside_a_child() {
        let mut s = Segments::default();
        s.push(1, 'a');
        s.push(2, 'b'); // inside a savepoint
        assert_eq!(s.take_current(2), vec!['b']);
        // Still inside the savepoint: the parent's row waits.
        assert_eq!(s.take_current(2), Vec::<char>::new());
        assert_eq!(s.take_current(1), vec!['a']);
    }

    #[test]
    fn a_child_that_commits_hands_its_rows_to_its_parent() {
        let mut s = Segments::default();
        s.push(1, 'a');
        s.push(2, 'b');
        s.push(3, 'c');
        s.commit_sub(3, 2);
        s.commit_sub(2, 1);
        assert_eq!(s.push(1, 'd'), 4);
        assert_eq!(s.take_current(1), vec!['a', 'b', 'c', 'd']);
    }

    #[test]
    fn a_child_that_rolls_back_takes_its_rows_with_it() {
        let mut s = Segments::default();
        s.push(1, 'a');
        s.push(2, 'b');
        s.push(3, 'c');
        s.commit_sub(3, 2);
        assert_eq!(s.abort_sub(2), vec!['b', 'c']);
        assert_eq!(s.take_all(), vec!['a']);
    }

    #[test]
    fn a_rolled_back_sibling_leaves_the_others_alone() {
        let mut s = Segments::default();
        s.push(1, 'a');
        s.push(2, 'b');
        s.commit_sub(2, 1);
        s.push(3, 'c');
        assert_eq!(s.abort_sub(3), vec!['c']);
        assert_eq!(s.take_current(1), vec!['a', 'b']);
    }
}
