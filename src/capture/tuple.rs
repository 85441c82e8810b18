//! A tuple's attributes, deformed once: every later step (diff, jsonb,
//! primary key) reads the same arrays.

use pgrx::pg_sys::{self, Datum};

pub struct Deformed {
    pub values: Vec<Datum>,
    pub nulls: Vec<bool>,
}

impl Deformed {
    /// # Safety
    /// `tuple` must be a valid heap tuple of the descriptor `desc`.
    pub unsafe fn from_tuple(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc) -> Self {
        // SAFETY: the descriptor is valid (the caller's contract).
        let n = unsafe { (*desc).natts } as usize;
        let mut d = Deformed {
            values: vec![Datum::from(0); n],
            nulls: vec![true; n],
        };
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
