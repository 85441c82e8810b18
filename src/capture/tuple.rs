//! A tuple's attributes, deformed once: every later step (diff, jsonb,
//! primary key) reads the same arrays.

use std::cell::RefCell;

use pgrx::pg_sys::{self, Datum};

use crate::pg::spare;

pub struct Deformed {
    pub values: Vec<Datum>,
    pub nulls: Vec<bool>,
}

thread_local! {
    /// The arrays of tuples deformed before (an UPDATE deforms two per
    /// row), for the next ones to reuse rather than allocate.
    static SPARE: RefCell<Vec<(Vec<Datum>, Vec<bool>)>> = const { RefCell::new(Vec::new()) };
}

/// How many pairs of arrays [`SPARE`] keeps.
const KEPT: usize = 4;

impl Drop for Deformed {
    fn drop(&mut self) {
        let arrays = (
            std::mem::take(&mut self.values),
            std::mem::take(&mut self.nulls),
        );
        spare::give(&SPARE, arrays, KEPT);
    }
}

/// Arrays for `n` attributes, every value 0 and NULL (as `heap_deform_tuple`
/// expects to fill them), reused when a deformed tuple gave some back.
fn arrays(n: usize) -> (Vec<Datum>, Vec<bool>) {
    let (mut values, mut nulls) = spare::take(&SPARE).unwrap_or_default();
    values.clear();
    values.resize(n, Datum::from(0));
    nulls.clear();
    nulls.resize(n, true);
    (values, nulls)
}

impl Deformed {
    /// # Safety
    /// `tuple` must be a valid heap tuple of the descriptor `desc`.
    pub unsafe fn from_tuple(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc) -> Self {
        // SAFETY: the descriptor is valid (the caller's contract).
        let n = unsafe { (*desc).natts } as usize;
        let (values, nulls) = arrays(n);
        let mut d = Deformed { values, nulls };
        // SAFETY: both arrays hold `natts` entries, as heap_deform_tuple writes.
        unsafe {
            pg_sys::heap_deform_tuple(tuple, desc, d.values.as_mut_ptr(), d.nulls.as_mut_ptr())
        };
        d
    }

    /// A slot's attributes, copied out.
    ///
    /// # Safety
    /// `slot` must be a valid slot whose attributes were all fetched
    /// (`slot_getallattrs`), with `natts` attributes.
    pub unsafe fn from_slot(slot: *mut pg_sys::TupleTableSlot, natts: usize) -> Self {
        // SAFETY: a fetched slot has `natts` values and null flags.
        unsafe {
            Deformed {
                values: std::slice::from_raw_parts((*slot).tts_values, natts).to_vec(),
                nulls: std::slice::from_raw_parts((*slot).tts_isnull, natts).to_vec(),
            }
        }
    }

    pub fn get(&self, i: usize) -> Option<Datum> {
        (!self.nulls[i]).then(|| self.values[i])
    }
}
