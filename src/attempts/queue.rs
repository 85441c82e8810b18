//! The bounded queue in shared memory between the backends whose attempts
//! failed and the attempts writers, one per database, that record them.
//!
//! Fixed size ([`SLOTS`] messages of [`SLOT_BYTES`]): a backend never waits
//! for room and never fails a write for want of it; a message that finds no
//! room is dropped and counted, and the count is recorded with the next row
//! written for its database. A writer is started on demand when a message is
//! queued for a database that has none running, drains the queue for its
//! database and exits (so it never keeps a database from being dropped).

use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::{PGRXSharedMemory, PgLwLock, PgSharedMemoryInitialization};

pub const SLOTS: usize = 64;
pub const SLOT_BYTES: usize = 4000;
const DATABASES: usize = 32;

#[derive(Clone, Copy)]
struct Slot {
    used: bool,
    seq: u64,
    db: u32,
    len: u32,
    bytes: [u8; SLOT_BYTES],
}

/// One database's writer.
#[derive(Clone, Copy)]
struct Writer {
    db: u32,
    running: bool,
    /// When the writer was asked for (PostgreSQL microseconds): a writer that
    /// never came (no free worker slot, a failed start) is asked for again.
    since: i64,
    /// Messages dropped for this database and not recorded yet.
    dropped: u64,
    /// Messages the writer took and has not committed yet.
    in_flight: u64,
}

#[derive(Clone, Copy)]
pub struct Queue {
    next_seq: u64,
    /// Messages dropped since the server started, all databases.
    dropped_total: u64,
    slots: [Slot; SLOTS],
    writers: [Writer; DATABASES],
}

// SAFETY: plain data (no pointers), initialised once in shared memory.
unsafe impl PGRXSharedMemory for Queue {}

impl Queue {
    const EMPTY: Queue = Queue {
        next_seq: 0,
        dropped_total: 0,
        slots: [Slot {
            used: false,
            seq: 0,
            db: 0,
            len: 0,
            bytes: [0; SLOT_BYTES],
        }; SLOTS],
        writers: [Writer {
            db: 0,
            running: false,
            since: 0,
            dropped: 0,
            in_flight: 0,
        }; DATABASES],
    };

    fn writer(&mut self, db: u32) -> Option<&mut Writer> {
        let i = self.writers.iter().position(|w| w.db == db).or_else(|| {
            // A free entry: no database, or one with nothing left to do.
            let queued = |d: u32| self.slots.iter().any(|s| s.used && s.db == d);
            self.writers.iter().position(|w| {
                w.db == 0 || (!w.running && w.dropped == 0 && w.in_flight == 0 && !queued(w.db))
            })
        })?;
        let w = &mut self.writers[i];
        if w.db != db {
            *w = Writer {
                db,
                ..Queue::EMPTY.writers[0]
            };
        }
        Some(w)
    }
}

// SAFETY: the name is ours alone (it names the shared memory and the lock tranche).
static QUEUE: PgLwLock<Queue> = unsafe { PgLwLock::new(c"lead_audit_attempts") };

/// Asks for the queue's shared memory: from the server's shared memory
/// request hook (`hooks`), or on PostgreSQL 14, which has none, from
/// `_PG_init` while preloading.
///
/// # Safety
/// Only while the server lets libraries ask for shared memory.
pub unsafe fn request_shmem() {
    // SAFETY: the caller's promise.
    unsafe { QUEUE.on_shmem_request() };
}

/// Creates the queue, empty, once shared memory exists (or finds it, in a
/// process that attaches to it): from the shared memory startup hook.
///
/// # Safety
/// Only from the shared memory startup hook, after [`request_shmem`].
pub unsafe fn startup_shmem() {
    // SAFETY: the caller's promise.
    unsafe { QUEUE.on_shmem_startup(Queue::EMPTY) };
}

/// The database's failed attempts waiting in the queue, those the queue
/// dropped that are not recorded yet (recorded with the next attempt), and
/// every drop since the server started (all databases).
pub fn backlog(db: Oid) -> (u64, u64, u64) {
    let q = QUEUE.share();
    let db = u32::from(db);
    let queued = q.slots.iter().filter(|s| s.used && s.db == db).count() as u64;
    let dropped = q
        .writers
        .iter()
        .find(|w| w.db == db)
        .map_or(0, |w| w.dropped);
    (queued, dropped, q.dropped_total)
}

/// Whether a writer must be started for the database.
#[must_use]
pub enum Queued {
    Yes { start_writer: bool },
    Dropped,
}

/// Queues one message for `db` (cut to a slot). Never waits for room.
pub fn push(db: Oid, message: &[u8], now: i64) -> Queued {
    let mut q = QUEUE.exclusive();
    let seq = q.next_seq;
    let db = u32::from(db);
    let Some(slot) = q.slots.iter_mut().find(|s| !s.used) else {
        q.dropped_total += 1;
        if let Some(w) = q.writer(db) {
            w.dropped += 1;
        }
        return Queued::Dropped;
    };
    let len = message.len().min(SLOT_BYTES);
    slot.bytes[..len].copy_from_slice(&message[..len]);
    *slot = Slot {
        used: true,
        seq,
        db,
        len: len as u32,
        ..*slot
    };
    q.next_seq += 1;
    Queued::Yes {
        start_writer: claim_start(&mut q, db, now),
    }
}

/// A writer that has not been heard of for this long (microseconds) is
/// taken for one that never started; two writers of one database would
/// only share its messages.
const SILENT: i64 = 30_000_000;

/// Marks the database's writer as asked for, unless one runs or was asked
/// for lately.
fn claim_start(q: &mut Queue, db: u32, now: i64) -> bool {
    let Some(w) = q.writer(db) else {
        return false;
    };
    if w.running && now - w.since <= SILENT {
        return false;
    }
    w.running = true;
    w.since = now;
    true
}

/// Databases with queued messages and no writer: for the sealer to start
/// writers that could not be started when their messages were queued.
pub fn stranded(now: i64) -> Vec<Oid> {
    let mut q = QUEUE.exclusive();
    let dbs: Vec<u32> = q.slots.iter().filter(|s| s.used).map(|s| s.db).collect();
    let mut out: Vec<Oid> = Vec::new();
    for db in dbs {
        if !out.contains(&Oid::from(db)) && claim_start(&mut q, db, now) {
            out.push(Oid::from(db));
        }
    }
    out
}

/// Up to `max` messages for `db` in queue order, taken off the queue, with
/// the count of messages dropped since the last batch.
pub fn take(db: Oid, max: usize, now: i64) -> (Vec<Vec<u8>>, u64) {
    let db = u32::from(db);
    let mut q = QUEUE.exclusive();
    let mut mine: Vec<(u64, usize)> = q
        .slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.used && s.db == db)
        .map(|(i, s)| (s.seq, i))
        .collect();
    mine.sort_unstable();
    mine.truncate(max);
    let batch: Vec<Vec<u8>> = mine
        .iter()
        .map(|&(_, i)| {
            let s = &mut q.slots[i];
            s.used = false;
            s.bytes[..s.len as usize].to_vec()
        })
        .collect();
    let dropped = match q.writer(db) {
        Some(w) => {
            w.in_flight = batch.len() as u64;
            w.running = true;
            w.since = now;
            std::mem::take(&mut w.dropped)
        }
        None => 0,
    };
    (batch, dropped)
}

/// The batch taken last is in the log (its transaction committed).
pub fn committed(db: Oid) {
    if let Some(w) = QUEUE.exclusive().writer(u32::from(db)) {
        w.in_flight = 0;
    }
}

/// The writer for `db` is about to exit: true (and it is marked gone) when
/// nothing is queued for it; false when messages came meanwhile.
pub fn done(db: Oid) -> bool {
    let db = u32::from(db);
    let mut q = QUEUE.exclusive();
    if q.slots.iter().any(|s| s.used && s.db == db) {
        return false;
    }
    if let Some(w) = q.writer(db) {
        w.running = false;
    }
    true
}

/// The writer for `db` exits whatever happened: what it had taken and not
/// committed is counted as dropped (and recorded by the next writer), and a
/// new writer may be started.
pub fn gone(db: Oid) {
    if let Some(w) = QUEUE.exclusive().writer(u32::from(db)) {
        w.dropped += std::mem::take(&mut w.in_flight);
        w.running = false;
    }
}

/// Starts a writer for `db` without waiting for it: false when PostgreSQL
/// has no background worker slot free (the sealer asks again later). Safe in
/// a transaction callback: no handle is allocated and nothing can fail.
pub fn start_writer(db: Oid) -> bool {
    let mut w = pg_sys::BackgroundWorker {
        bgw_flags: (pg_sys::BGWORKER_SHMEM_ACCESS | pg_sys::BGWORKER_BACKEND_DATABASE_CONNECTION)
            as i32,
        bgw_start_time: pg_sys::BgWorkerStartTime::BgWorkerStart_RecoveryFinished,
        bgw_restart_time: pg_sys::BGW_NEVER_RESTART,
        bgw_main_arg: Datum::from(u32::from(db)),
        ..Default::default()
    };
    copy_name(&mut w.bgw_name, "lead_audit attempts writer");
    copy_name(&mut w.bgw_type, "lead_audit attempts writer");
    copy_name(&mut w.bgw_library_name, "lead_audit");
    copy_name(&mut w.bgw_function_name, "lead_audit_attempts_main");
    // SAFETY: a fully initialised, valid worker description; no handle asked for.
    let started = unsafe { pg_sys::RegisterDynamicBackgroundWorker(&mut w, std::ptr::null_mut()) };
    if !started {
        if let Some(w) = QUEUE.exclusive().writer(u32::from(db)) {
            w.running = false;
        }
    }
    started
}

fn copy_name(to: &mut [std::ffi::c_char], name: &str) {
    for (t, b) in to.iter_mut().zip(name.bytes()) {
        *t = b as std::ffi::c_char;
    }
}
