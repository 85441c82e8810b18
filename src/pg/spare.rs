//! Buffers kept between captured rows for the next rows to reuse: a row
//! builds a few objects, texts and arrays, and allocating and freeing them
//! row after row showed in the capture's instructions.
//!
//! Each kind of buffer has its own thread-local list of spares; a list
//! keeps a few (as many as one row uses), and a buffer given back when the
//! list is full, or while the thread's storage is going away as the
//! backend exits, is simply freed.

use std::cell::RefCell;
use std::thread::LocalKey;

/// A thread-local list of spare buffers of one kind.
pub type Spares<T> = LocalKey<RefCell<Vec<T>>>;

/// A spare buffer, when the list has one.
pub fn take<T: 'static>(spares: &'static Spares<T>) -> Option<T> {
    spares
        .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .ok()
        .flatten()
}

/// Keeps `buffer` (emptied by the caller) for a later [`take`], when the
/// list holds fewer than `most`.
pub fn give<T: 'static>(spares: &'static Spares<T>, buffer: T, most: usize) {
    let _ = spares.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            if s.len() < most {
                s.push(buffer);
            }
        }
    });
}
