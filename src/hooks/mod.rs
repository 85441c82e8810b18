//! Every executor and utility hook, the log hook, the shared memory hooks, the
//! transaction callbacks and the cache invalidation callbacks lead_audit
//! installs: each installed once, here, and each calling the modules' steps
//! in an order written down in one place.
//!
//! How an error travels. A PostgreSQL error raised further down the chain
//! (by the next hook or the standard function: a constraint violated, a
//! syntax error, a RAISE in a procedure) must reach the client exactly as
//! it was raised, with its context, position, internal query and the names
//! of its schema, table, column and constraint. So the chain is called
//! through raw pointers, never through pgrx's guarded wrappers of
//! PostgreSQL's functions: those catch the error as a Rust panic and raise
//! a copy that keeps only the message, detail and hint (and appends a Rust
//! backtrace when the environment asks for one). The frames that call the
//! chain hold nothing to drop, so PostgreSQL's longjmp may pass through
//! them; lead_audit's own steps before and after run in guarded functions
//! of their own.

use std::ffi::{c_char, c_int, c_void};

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::audit_log::objects;
use crate::{attempts, capture, events, writer};

pub mod panics;

/// PostgreSQL's standard functions, bound without pgrx's guard so that an
/// error they raise passes through our hooks untouched.
mod standard {
    use pgrx::pg_sys;
    use std::ffi::{c_char, c_int};

    unsafe extern "C-unwind" {
        pub fn standard_ExecutorStart(query_desc: *mut pg_sys::QueryDesc, eflags: c_int);
        pub fn standard_ExecutorFinish(query_desc: *mut pg_sys::QueryDesc);
        #[allow(clippy::too_many_arguments)]
        pub fn standard_ProcessUtility(
            pstmt: *mut pg_sys::PlannedStmt,
            query_string: *const c_char,
            read_only_tree: bool,
            context: pg_sys::ProcessUtilityContext::Type,
            params: pg_sys::ParamListInfo,
            query_env: *mut pg_sys::QueryEnvironment,
            dest: *mut pg_sys::DestReceiver,
            qc: *mut pg_sys::QueryCompletion,
        );
    }
}

/// Calls the hook installed before ours, or PostgreSQL's standard function,
/// with nothing of ours in between.
macro_rules! call_next {
    ($prev:expr, $standard:path, $($arg:expr),*) => {
        match $prev {
            Some(next) => next($($arg),*),
            None => $standard($($arg),*),
        }
    };
}

static mut PREV_EXECUTOR_START: pg_sys::ExecutorStart_hook_type = None;
static mut PREV_EXECUTOR_FINISH: pg_sys::ExecutorFinish_hook_type = None;
static mut PREV_PROCESS_UTILITY: pg_sys::ProcessUtility_hook_type = None;
static mut PREV_EMIT_LOG: pg_sys::emit_log_hook_type = None;
#[cfg(not(feature = "pg14"))]
static mut PREV_SHMEM_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_SHMEM_STARTUP: pg_sys::shmem_startup_hook_type = None;

/// Installs the hooks and callbacks (once, from `_PG_init`). Failed-attempt
/// tracking's shared memory and statement hooks only while preloading:
/// without `shared_preload_libraries` it records nothing.
pub fn install() {
    let attempts = attempts::recorded();
    // SAFETY: _PG_init runs once per process, before any query of ours; the
    // previous hooks are kept and called.
    unsafe {
        if attempts {
            // PostgreSQL 14 has no request hook: memory is asked for while
            // the libraries load.
            #[cfg(feature = "pg14")]
            attempts::request_shmem();
            #[cfg(not(feature = "pg14"))]
            {
                PREV_SHMEM_REQUEST = pg_sys::shmem_request_hook;
                pg_sys::shmem_request_hook = Some(shmem_request);
            }
            PREV_SHMEM_STARTUP = pg_sys::shmem_startup_hook;
            pg_sys::shmem_startup_hook = Some(shmem_startup);
            PREV_EXECUTOR_START = pg_sys::ExecutorStart_hook;
            pg_sys::ExecutorStart_hook = Some(executor_start);
            PREV_EMIT_LOG = pg_sys::emit_log_hook;
            pg_sys::emit_log_hook = Some(emit_log);
        }
        PREV_EXECUTOR_FINISH = pg_sys::ExecutorFinish_hook;
        pg_sys::ExecutorFinish_hook = Some(executor_finish);
        PREV_PROCESS_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
        pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0));
        pg_sys::CacheRegisterSyscacheCallback(
            pg_sys::SysCacheIdentifier::NAMESPACEOID as i32,
            Some(on_namespace),
            pg_sys::Datum::from(0),
        );
    }
}

// ---------------------------------------------------------------------------
// Cache invalidation
// ---------------------------------------------------------------------------

/// A relation's cached description is stale (any ALTER TABLE, and
/// `audit_enable` changing a table's settings): every per-backend cache that
/// holds something of it drops it.
#[pg_guard]
unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    forget(relid);
}

/// A schema was created, renamed, dropped or altered. A rename sends no
/// relcache invalidation for the tables in it, whose qualified names the
/// caches hold: everything is dropped.
#[pg_guard]
unsafe extern "C-unwind" fn on_namespace(_arg: pg_sys::Datum, _cacheid: c_int, _hashvalue: u32) {
    forget(pg_sys::Oid::INVALID);
}

/// What the triggers know of the table, the failed-attempt watch's table
/// names, then the extension's objects (`InvalidOid`: all of them).
fn forget(relid: pg_sys::Oid) {
    capture::forget(relid);
    attempts::forget(relid);
    objects::forget(relid);
}

// ---------------------------------------------------------------------------
// Shared memory (while preloading)
// ---------------------------------------------------------------------------

#[cfg(not(feature = "pg14"))]
#[pg_guard]
unsafe extern "C-unwind" fn shmem_request() {
    // SAFETY: called by PostgreSQL when libraries may ask for shared memory.
    unsafe {
        if let Some(prev) = PREV_SHMEM_REQUEST {
            prev();
        }
        attempts::request_shmem();
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn shmem_startup() {
    // SAFETY: called by PostgreSQL once shared memory exists.
    unsafe {
        if let Some(prev) = PREV_SHMEM_STARTUP {
            prev();
        }
        attempts::startup_shmem();
    }
}

// ---------------------------------------------------------------------------
// Statements
// ---------------------------------------------------------------------------

/// Notes the statement's writes to audited tables, then starts it.
unsafe extern "C-unwind" fn executor_start(query_desc: *mut pg_sys::QueryDesc, eflags: c_int) {
    // SAFETY: the QueryDesc the executor is starting; then the previous hook
    // or the standard function, as PostgreSQL would call it.
    unsafe {
        before_executor(query_desc, eflags);
        call_next!(
            PREV_EXECUTOR_START,
            standard::standard_ExecutorStart,
            query_desc,
            eflags
        );
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn before_executor(query_desc: *mut pg_sys::QueryDesc, eflags: c_int) {
    // SAFETY: the caller's QueryDesc.
    unsafe { attempts::note_statement(query_desc, eflags) };
}

/// Finishes the statement (its AFTER triggers fire), then writes the audit
/// rows it held.
unsafe extern "C-unwind" fn executor_finish(query_desc: *mut pg_sys::QueryDesc) {
    // SAFETY: the previous hook or the standard function, as PostgreSQL would call it.
    unsafe {
        call_next!(
            PREV_EXECUTOR_FINISH,
            standard::standard_ExecutorFinish,
            query_desc
        );
        after_statement();
    }
}

/// The statement's rows are all held: written now, so they are in
/// audit_log when the next statement starts.
#[pg_guard]
unsafe extern "C-unwind" fn after_statement() {
    writer::statement_ended();
}

/// Notes COPY FROM and TRUNCATE of audited tables and ROLLBACKs, runs the
/// statement, then writes what COPY and TRUNCATE captured (without the
/// executor, so no ExecutorFinish).
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    // SAFETY: the utility statement PostgreSQL is about to run and its text;
    // then the previous hook or the standard function, as PostgreSQL would
    // call it.
    unsafe {
        before_utility(pstmt, query_string);
        call_next!(
            PREV_PROCESS_UTILITY,
            standard::standard_ProcessUtility,
            pstmt,
            query_string,
            read_only_tree,
            context,
            params,
            query_env,
            dest,
            qc
        );
        after_statement();
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn before_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const c_char,
) {
    if attempts::recorded() {
        // SAFETY: the caller's statement and text.
        unsafe { attempts::note_utility(pstmt, query_string) };
    }
}

/// Keeps the error a failing statement reports, for the abort that
/// follows. Must not fail: it runs while an error is being reported.
#[pg_guard]
unsafe extern "C-unwind" fn emit_log(edata: *mut pg_sys::ErrorData) {
    // SAFETY: PostgreSQL passes the error being reported; the previous hook
    // gets it as PostgreSQL would pass it.
    unsafe {
        attempts::keep_error(edata);
        if let Some(prev) = PREV_EMIT_LOG {
            prev(edata);
        }
    }
}

// ---------------------------------------------------------------------------
// Transaction ends
// ---------------------------------------------------------------------------

/// In this order: the held audit rows are written before the transaction
/// commits (and dropped when it aborts); then the event rows (the marker of
/// writes made with auditing off); then failed attempts are queued.
#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    writer::on_xact(event);
    events::on_xact(event);
    if attempts::recorded() {
        attempts::on_xact(event);
    }
}

/// The same order as [`on_xact`], for subtransactions.
#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut c_void,
) {
    writer::on_subxact(event, my_subid, parent_subid);
    events::on_subxact(event, my_subid, parent_subid);
    if attempts::recorded() {
        attempts::on_subxact(event, my_subid, parent_subid);
    }
}
