//! What an UPDATE changed: which columns, and whether it flipped the
//! soft-delete column. Values are compared as stored, byte for byte (the
//! comparison itself is `pg::datums_equal`).

/// Indexes of the first `n` columns whose values differ between `old(i)`
/// and `new(i)` (skipping the columns `skip` marks, e.g. dropped ones).
/// NULL (None) equals NULL.
pub fn changed<T>(
    n: usize,
    old: impl Fn(usize) -> Option<T>,
    new: impl Fn(usize) -> Option<T>,
    skip: impl Fn(usize) -> bool,
    equal: impl Fn(usize, &T, &T) -> bool,
) -> Vec<usize> {
    (0..n)
        .filter(|&i| !skip(i))
        .filter(|&i| match (old(i), new(i)) {
            (None, None) => false,
            (Some(a), Some(b)) => !equal(i, &a, &b),
            _ => true,
        })
        .collect()
}

/// The soft-delete state change of a row: marked deleted, or unmarked.
pub fn soft_delete_transition(was_deleted: bool, is_deleted: bool) -> Option<&'static str> {
    match (was_deleted, is_deleted) {
        (false, true) => Some("deleted"),
        (true, false) => Some("restored"),
        _ => None,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    /// [`changed`] over two slices, compared with `==`.
    fn changed_in<T: Copy + PartialEq>(
        old: &[Option<T>],
        new: &[Option<T>],
        skip: impl Fn(usize) -> bool,
    ) -> Vec<usize> {
        changed(old.len(), |i| old[i], |i| new[i], skip, |_, a, b| a == b)
    }

    #[test]
    fn changed_finds_value_and_null_changes() {
        let old = [Some(1), Some(2), None, Some(4), None];
        let new = [Some(1), Some(3), Some(5), None, None];
        assert_eq!(changed_in(&old, &new, |_| false), vec![1, 2, 3]);
    }

    #[test]
    fn changed_skips_marked_columns_and_reports_nothing_for_equal_rows() {
        let old = [Some("a"), Some("b")];
        let new = [Some("x"), Some("b")];
        assert_eq!(changed_in(&old, &new, |i| i == 0), Vec::<usize>::new());
        assert_eq!(changed_in(&old, &old, |_| false), Vec::<usize>::new());
    }

    #[test]
    fn soft_delete_flips() {
        assert_eq!(soft_delete_transition(false, true), Some("deleted"));
        assert_eq!(soft_delete_transition(true, false), Some("restored"));
        assert_eq!(soft_delete_transition(false, false), None);
        assert_eq!(soft_delete_transition(true, true), None);
    }
}
