//! The slots a batch's tuples go through the multi-row heap insert in, made
//! once per transaction and reused by its batches: making a slot for each
//! row and dropping it (and faulting in the fresh memory each batch's slots
//! were made in) showed in the profile of an audited bulk UPDATE or COPY.
//!
//! The slots live in a memory context under the transaction's own, which
//! PostgreSQL frees when the transaction ends (commits or aborts). The pool
//! is forgotten when the transaction ends ([`forget`], from the writer's
//! transaction callback), and it also remembers which transaction made it,
//! so that it is never used in another even if a callback is missed.

use std::cell::RefCell;

use pgrx::pg_sys;

use crate::pg;

/// Slots made in one transaction, for tuples of one descriptor.
struct Pool {
    /// The transaction (backend-local id) whose memory holds the slots.
    lxid: pg_sys::LocalTransactionId,
    context: pg_sys::MemoryContext,
    /// An unpinned copy of audit_log's descriptor, which the slots share: a
    /// slot made on the relation's own descriptor pins it in the resource
    /// owner, and a thousand pins of one pointer cost a linear probe each.
    desc: pg_sys::TupleDesc,
    /// Every slot is empty while it is in the pool.
    slots: Vec<*mut pg_sys::TupleTableSlot>,
}

thread_local! {
    static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
}

/// The transaction is over: its slots went with its memory.
pub fn forget() {
    // (try_with: the thread's storage may be gone when a backend exits.)
    let _ = POOL.try_with(|p| p.take());
}

/// Runs `f` with `n` empty heap-tuple slots for tuples of `desc`, valid
/// until the transaction ends; `f` may fill them (a slot that owns its
/// tuple frees it when cleared). They are cleared and kept for the next
/// batch when `f` returns; when `f` errors out they are simply not reused.
///
/// # Safety
/// `desc` must be a valid tuple descriptor; must run in a transaction.
pub unsafe fn with_slots<R>(
    desc: pg_sys::TupleDesc,
    n: usize,
    f: impl FnOnce(&[*mut pg_sys::TupleTableSlot]) -> R,
) -> R {
    // Taken out while in use: a write nested inside `f` makes its own.
    // SAFETY: in a transaction (the caller's contract), for `desc`.
    let mut pool = unsafe { current_pool(POOL.take(), desc) };
    // SAFETY: the pool's context and descriptor are alive (this transaction's).
    unsafe {
        let old = pg_sys::MemoryContextSwitchTo(pool.context);
        while pool.slots.len() < n {
            pool.slots.push(pg_sys::MakeSingleTupleTableSlot(
                pool.desc,
                &raw const pg_sys::TTSOpsHeapTuple,
            ));
        }
        pg_sys::MemoryContextSwitchTo(old);
    }
    let result = f(&pool.slots[..n]);
    for &slot in &pool.slots[..n] {
        // SAFETY: a slot of the pool; clearing an empty one does nothing.
        unsafe { pg_sys::ExecClearTuple(slot) };
    }
    POOL.set(Some(pool));
    result
}

/// `kept` when it was made in this transaction for a descriptor equal to
/// `desc`; else a new, empty pool.
///
/// # Safety
/// As [`with_slots`].
unsafe fn current_pool(kept: Option<Pool>, desc: pg_sys::TupleDesc) -> Pool {
    let lxid = pg::local_xid();
    // A pool of an earlier transaction is dropped without touching its
    // memory, which went with that transaction.
    if let Some(pool) = kept.filter(|p| p.lxid == lxid) {
        // SAFETY: both descriptors are valid (ours lives in this transaction).
        if unsafe { same_layout(pool.desc, desc) } {
            return pool;
        }
    }
    // SAFETY: a context under the transaction's, holding a descriptor copy.
    unsafe {
        let context = pg::transaction_context(c"lead_audit batch slots");
        let old = pg_sys::MemoryContextSwitchTo(context);
        let copy = pg_sys::CreateTupleDescCopy(desc);
        pg_sys::MemoryContextSwitchTo(old);
        Pool {
            lxid,
            context,
            desc: copy,
            slots: Vec::new(),
        }
    }
}

/// Whether tuples of `a` and `b` are laid out alike: the same columns, of
/// the same types and storage. (`equalTupleDescs` also compares
/// constraints, which a descriptor's copy does not carry.)
///
/// # Safety
/// Both must be valid tuple descriptors.
unsafe fn same_layout(a: pg_sys::TupleDesc, b: pg_sys::TupleDesc) -> bool {
    // SAFETY: valid descriptors (the caller's contract) have `natts` attributes.
    unsafe {
        let n = (*a).natts;
        n == (*b).natts
            && (0..n as usize).all(|i| {
                let (x, y) = (&pg::attrs(a)[i], &pg::attrs(b)[i]);
                x.atttypid == y.atttypid
                    && x.atttypmod == y.atttypmod
                    && x.attlen == y.attlen
                    && x.attbyval == y.attbyval
                    && x.attalign == y.attalign
                    && x.attisdropped == y.attisdropped
            })
    }
}
