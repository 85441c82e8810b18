//! What an UPDATE changed: which columns, and whether it flipped the
//! soft-delete column. Values are compared as stored, byte for byte.

use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum};

/// Whether two non-NULL datums of one type hold the same value, byte for byte
/// (so `1.0` and `1.00` differ, as their JSON forms do). Unchanged toasted
/// values keep their toast pointer, so they compare equal without detoasting.
///
/// # Safety
/// Both datums must be valid values of a type with this `typlen` / `typbyval`.
pub unsafe fn datums_equal(a: Datum, b: Datum, typlen: i16, typbyval: bool) -> bool {
    if typbyval {
        return a == b;
    }
    // SAFETY: by-reference values of the given length (the caller's contract):
    // fixed-length ones are `typlen` bytes, -2 a C string, -1 a varlena.
    unsafe {
        if typlen > 0 {
            let (pa, pb) = (a.cast_mut_ptr::<u8>(), b.cast_mut_ptr::<u8>());
            return std::slice::from_raw_parts(pa, typlen as usize)
                == std::slice::from_raw_parts(pb, typlen as usize);
        }
        if typlen == -2 {
            return CStr::from_ptr(a.cast_mut_ptr()) == CStr::from_ptr(b.cast_mut_ptr());
        }
        let (va, vb) = (
            a.cast_mut_ptr::<pg_sys::varlena>(),
            b.cast_mut_ptr::<pg_sys::varlena>(),
        );
        if raw_bytes(va) == raw_bytes(vb) {
            return true;
        }
        // Different representations of one value (toasted, compressed, short header)?
        payload(pg_sys::pg_detoast_datum_packed(va)) == payload(pg_sys::pg_detoast_datum_packed(vb))
    }
}

/// # Safety
/// `v` must be a valid varlena (possibly a toast pointer).
unsafe fn raw_bytes<'a>(v: *mut pg_sys::varlena) -> &'a [u8] {
    // SAFETY: varsize_any reads the header of a valid varlena.
    unsafe { std::slice::from_raw_parts(v.cast::<u8>(), pgrx::varsize_any(v)) }
}

/// # Safety
/// `v` must be a valid, untoasted varlena.
unsafe fn payload<'a>(v: *mut pg_sys::varlena) -> &'a [u8] {
    // SAFETY: an untoasted varlena's payload follows its header.
    unsafe {
        std::slice::from_raw_parts(
            pgrx::vardata_any(v).cast::<u8>(),
            pgrx::varsize_any_exhdr(v),
        )
    }
}

/// Indexes of the columns whose values differ between `old` and `new`
/// (skipping the columns `skip` marks, e.g. dropped ones). NULL equals NULL.
pub fn changed<T>(
    old: &[Option<T>],
    new: &[Option<T>],
    skip: impl Fn(usize) -> bool,
    equal: impl Fn(usize, &T, &T) -> bool,
) -> Vec<usize> {
    (0..old.len().min(new.len()))
        .filter(|&i| !skip(i))
        .filter(|&i| match (&old[i], &new[i]) {
            (None, None) => false,
            (Some(a), Some(b)) => !equal(i, a, b),
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

    #[test]
    fn changed_finds_value_and_null_changes() {
        let old = [Some(1), Some(2), None, Some(4), None];
        let new = [Some(1), Some(3), Some(5), None, None];
        assert_eq!(
            changed(&old, &new, |_| false, |_, a, b| a == b),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn changed_skips_marked_columns_and_reports_nothing_for_equal_rows() {
        let old = [Some("a"), Some("b")];
        let new = [Some("x"), Some("b")];
        assert_eq!(
            changed(&old, &new, |i| i == 0, |_, a, b| a == b),
            Vec::<usize>::new()
        );
        assert_eq!(
            changed(&old, &old, |_| false, |_, a, b| a == b),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn soft_delete_flips() {
        assert_eq!(soft_delete_transition(false, true), Some("deleted"));
        assert_eq!(soft_delete_transition(true, false), Some("restored"));
        assert_eq!(soft_delete_transition(false, false), None);
        assert_eq!(soft_delete_transition(true, true), None);
    }
}
