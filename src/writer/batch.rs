//! Captured rows held back and written in batches: one multi-row heap insert
//! per batch (a WAL record per page instead of per row) and audit_log opened
//! once per batch instead of once per row.
//!
//! A held row is final when it is held: its id (so ids follow the order of
//! the changes), its checksum, its tuple. It is written
//! - when its statement ends ([`statement_ended`], called by the
//!   ExecutorFinish and ProcessUtility hooks), so a statement's audit rows are in
//!   audit_log when the next statement starts, as when each was written at once;
//! - when the batch is full ([`MAX_ROWS`] rows or [`MAX_BYTES`]), so memory
//!   stays bounded however many rows a statement changes;
//! - when its subtransaction commits, and before the transaction commits or
//!   prepares (changes applied without the executor, such as logical
//!   replication's, wait for that).
//!
//! A row is only ever written in its own subtransaction (or one it was
//! committed into): see [`pending`](super::pending). A subtransaction or transaction that
//! rolls back drops its rows, as it drops the changes they record.
//!
//! When the library is loaded in the middle of a transaction (by the first
//! trigger call, when it is not preloaded), this statement's ExecutorFinish
//! already went past our hook: rows are written at once until that
//! transaction ends.

use std::cell::{Cell, RefCell};

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::insert;
use super::pending::Segments;
use super::slots;
use crate::audit_log::objects;
use crate::audit_log::row::{Row, Shape};
use crate::pg;

/// Rows per batch at most.
pub const MAX_ROWS: usize = 1000;
/// Bytes of held tuples at most (a batch of wide rows is written sooner).
pub const MAX_BYTES: usize = 1 << 20;

/// A held row: its tuple, palloc'd in [`CONTEXT`].
#[derive(Clone, Copy)]
struct Held(pg_sys::HeapTuple);

thread_local! {
    static HELD: RefCell<Segments<Held>> = RefCell::new(Segments::default());
    /// Bytes of the held tuples.
    static BYTES: Cell<usize> = const { Cell::new(0) };
    /// Where held tuples live; reset when the transaction ends.
    static CONTEXT: Cell<pg_sys::MemoryContext> = const { Cell::new(std::ptr::null_mut()) };
    /// Write at once (loaded in the middle of this transaction).
    static DIRECT: Cell<bool> = const { Cell::new(false) };
}

/// Notes whether the library is loaded in the middle of a transaction
/// (once, from `_PG_init`, before the hooks that write held rows are
/// installed).
pub fn register() {
    // SAFETY: reads the transaction state and a flag of library loading.
    DIRECT.set(unsafe {
        pg_sys::IsTransactionState() && !pg_sys::process_shared_preload_libraries_in_progress
    });
}

/// Holds a captured row to be written with its batch: its id and checksum
/// are given now. Writes it at once when batches cannot be relied on.
pub fn hold(row: &mut Row) {
    if DIRECT.get() {
        return insert::append(row);
    }
    let objs = objects::objects();
    if objs.shape == Shape::V1 {
        insert::fit_to_v1(row);
    }
    // SAFETY: the row's datums are of audit_log's columns (the capture's
    // contract); the tuple is formed with audit_log's descriptor in our
    // context, which outlives the statement.
    let tuple = unsafe {
        insert::seal(&objs, row);
        let old = pg_sys::MemoryContextSwitchTo(context());
        let t = pg_sys::heap_form_tuple(
            objs.tupdesc,
            row.values.as_mut_ptr(),
            row.nulls.as_mut_ptr(),
        );
        pg_sys::MemoryContextSwitchTo(old);
        t
    };
    // SAFETY: reads the current subtransaction's id.
    let sub = unsafe { pg_sys::GetCurrentSubTransactionId() };
    let held = with_held(|h| h.push(sub, Held(tuple)));
    // SAFETY: a tuple heap_form_tuple just returned.
    BYTES.set(BYTES.get() + unsafe { (*tuple).t_len } as usize);
    if held >= MAX_ROWS || BYTES.get() >= MAX_BYTES {
        statement_ended();
    }
}

fn context() -> pg_sys::MemoryContext {
    if CONTEXT.get().is_null() {
        CONTEXT.set(pg::backend_context(c"lead_audit held rows"));
    }
    CONTEXT.get()
}

/// A statement ended (its AFTER triggers have fired, or COPY or TRUNCATE
/// captured without the executor): the rows the current subtransaction
/// holds are written, if any.
pub fn statement_ended() {
    // SAFETY: reads the transaction state.
    if !unsafe { pg_sys::IsTransactionState() } {
        return;
    }
    // SAFETY: reads the current subtransaction's id.
    let sub = unsafe { pg_sys::GetCurrentSubTransactionId() };
    write(with_held(|h| h.take_current(sub)));
}

fn write(rows: Vec<Held>) {
    if rows.is_empty() {
        return;
    }
    let tuples: Vec<pg_sys::HeapTuple> = rows.iter().map(|h| h.0).collect();
    // SAFETY: held tuples are whole tuples of t_len bytes.
    let bytes: usize = tuples.iter().map(|&t| unsafe { (*t).t_len } as usize).sum();
    BYTES.set(BYTES.get().saturating_sub(bytes));
    // SAFETY: tuples formed by `hold` with the objects' descriptor, taken out
    // of HELD: written and freed here.
    unsafe { insert::append_formed(&tuples) };
}

/// Frees rows whose changes rolled back.
fn free(rows: Vec<Held>) {
    for h in rows {
        // SAFETY: a tuple formed by `hold`, no longer held anywhere.
        BYTES.set(BYTES.get().saturating_sub(unsafe { (*h.0).t_len } as usize));
        // SAFETY: as above; palloc'd in CONTEXT, which is still alive.
        unsafe { pg_sys::heap_freetuple(h.0) };
    }
}

/// `f` applied to the held rows; `R::default()` (nothing held, nothing
/// taken) when they cannot be reached (the backend is exiting, or they are
/// being changed further up the stack).
fn with_held<R: Default>(f: impl FnOnce(&mut Segments<Held>) -> R) -> R {
    HELD.try_with(|h| {
        h.try_borrow_mut()
            .map(|mut h| f(&mut h))
            .unwrap_or_default()
    })
    .unwrap_or_default()
}

/// The transaction is over: nothing is held any more.
fn forget_all() {
    // The pointers go; the memory goes with the context's reset below.
    drop(with_held(|h| h.take_all()));
    BYTES.set(0);
    DIRECT.set(false);
    slots::forget();
    if !CONTEXT.get().is_null() {
        // SAFETY: our context; no held pointer into it survives (just taken).
        unsafe { pg_sys::MemoryContextReset(CONTEXT.get()) };
    }
}

/// Before a commit the held rows are written; after any end they are gone.
pub fn on_xact(event: pg_sys::XactEvent::Type) {
    use pg_sys::XactEvent::*;
    match event {
        // Still inside the transaction: the rows commit with it.
        XACT_EVENT_PRE_COMMIT | XACT_EVENT_PRE_PREPARE => write(with_held(|h| h.take_all())),
        XACT_EVENT_COMMIT | XACT_EVENT_PREPARE => {
            if with_held(|h| !h.is_empty()) {
                // Captured after the pre-commit step (another extension's
                // callback writing an audited table): too late to write.
                warning!("lead_audit: audit rows captured after the transaction's pre-commit step could not be written");
            }
            forget_all();
        }
        XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT => forget_all(),
        _ => {}
    }
}

/// A subtransaction's rows are written before it commits, passed to its
/// parent when it has, freed when it aborts.
pub fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
) {
    use pg_sys::SubXactEvent::*;
    match event {
        // Still inside the subtransaction: its rows are written in it.
        SUBXACT_EVENT_PRE_COMMIT_SUB => write(with_held(|h| h.take_current(my_subid))),
        SUBXACT_EVENT_COMMIT_SUB => with_held(|h| h.commit_sub(my_subid, parent_subid)),
        SUBXACT_EVENT_ABORT_SUB => free(with_held(|h| h.abort_sub(my_subid))),
        _ => {}
    }
}
