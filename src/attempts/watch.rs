//! Where failed attempts are seen: before it runs, each statement that
//! writes (or tries to write) to an audited table is noted; the error a
//! failing statement reports is kept; the attempts of whatever aborted are
//! queued when the (sub)transaction ends. The hooks and callbacks that call
//! these steps are installed in `crate::hooks`.
//!
//! Everything here runs on every statement of every session, audited or
//! not: a statement that writes no audited table costs a look at its range
//! table; callbacks with nothing pending return at once. Nothing that runs
//! during an abort can raise an error.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_char, c_int};

use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;

use super::message::{self, Ending};
use super::pending::{Attempt, Pending};
use super::{queue, settings};
use crate::actor;
use crate::pg;

thread_local! {
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
    /// The last error reported while attempts were pending.
    static LAST_ERROR: RefCell<Option<Ending>> = const { RefCell::new(None) };
    /// A ROLLBACK (TO SAVEPOINT) statement ran: the aborts it causes come
    /// after it returns (when its command ends); cleared once they happened.
    static USER_ROLLBACK: Cell<bool> = const { Cell::new(false) };
    /// The partition ancestors of tables whose rows were captured.
    static ANCESTORS: RefCell<HashMap<Oid, Vec<u32>>> = RefCell::new(HashMap::new());
    /// Whether a function (by oid) is one of lead_audit's capture triggers.
    static CAPTURE_FUNCTIONS: RefCell<HashMap<Oid, bool>> = RefCell::new(HashMap::new());
    /// [`audited`]'s answers by table; dropped by relcache invalidation (a
    /// trigger added, dropped, enabled or disabled; a table renamed) and by
    /// any schema's (a schema renamed).
    static AUDITED: RefCell<HashMap<Oid, Option<String>>> = RefCell::new(HashMap::new());
}

/// A row of `relid` was captured: counted on its statement's attempt.
/// `key` renders its record_pk (called for the first rows only).
pub fn note_row(
    relid: Oid,
    table: impl FnOnce() -> String,
    action: &'static str,
    key: impl FnOnce() -> String,
) {
    // Without the hooks and callbacks (not preloaded) nothing would ever
    // empty the list.
    if !settings::recorded() || !on() {
        return;
    }
    // SAFETY: reads the current subtransaction's id.
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    let relid_u = u32::from(relid);
    let open = PENDING.with_borrow(|p| p.is_open(subxact, relid_u));
    // A partition's rows count on the statement that named its parent.
    let target = if open {
        Some(relid_u)
    } else {
        let ancestors = ancestors(relid);
        PENDING.with_borrow(|p| ancestors.into_iter().find(|&a| p.is_open(subxact, a)))
    };
    PENDING.with_borrow_mut(|p| {
        let target = target.unwrap_or_else(|| {
            // A write no hook saw start (COPY run by a function, ...).
            // SAFETY: the text of the client's statement, or NULL.
            let statement = unsafe { pg::c_text(pg_sys::debug_query_string) };
            p.push(attempt(relid, table(), action, statement));
            relid_u
        });
        p.note_row(subxact, target, key);
    });
}

/// The tables `relid` is a partition of, nearest first (none for a table
/// that is no partition). Cached per backend; dropped by relcache invalidation.
fn ancestors(relid: Oid) -> Vec<u32> {
    if let Some(a) = ANCESTORS.with_borrow(|c| c.get(&relid).cloned()) {
        return a;
    }
    let found = Spi::connect(|client| {
        client
            .select(
                "SELECT relid FROM pg_catalog.pg_partition_ancestors($1) WHERE relid OPERATOR(pg_catalog.<>) $1",
                None,
                &[relid.into()],
            )?
            .map(|row| row.get::<Oid>(1))
            .collect::<Result<Vec<Option<Oid>>, _>>()
    });
    let ancestors: Vec<u32> = found
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(u32::from)
        .collect();
    ANCESTORS.with_borrow_mut(|c| c.insert(relid, ancestors.clone()));
    ancestors
}

/// Relcache invalidation: a table attached or detached may have new
/// ancestors; a table's triggers or name may have changed.
pub fn forget(relid: Oid) {
    forget_in(&ANCESTORS, relid);
    forget_in(&AUDITED, relid);
}

fn forget_in<V: 'static>(
    cache: &'static std::thread::LocalKey<RefCell<HashMap<Oid, V>>>,
    relid: Oid,
) {
    let _ = cache.try_with(|c| {
        c.try_borrow_mut().map(|mut c| {
            if relid == Oid::INVALID {
                c.clear();
            } else {
                c.remove(&relid);
            }
        })
    });
}

fn attempt(relid: Oid, table: String, action: &'static str, statement: Option<String>) -> Attempt {
    // SAFETY: plain reads of the backend's transaction state and clock.
    let (subxact, at) = unsafe {
        (
            pg_sys::GetCurrentSubTransactionId(),
            pg_sys::GetCurrentStatementStartTimestamp(),
        )
    };
    Attempt {
        subxact,
        relid: u32::from(relid),
        table,
        action,
        statement: statement.filter(|_| settings::record_statement()),
        at,
        actor: actor::snapshot(),
        keys: Vec::new(),
        rows: 0,
        statements: 1,
    }
}

/// The statement's own text: a query string may hold several statements.
///
/// # Safety
/// `source` must be NULL or the NUL-terminated text `stmt` was planned from.
unsafe fn statement_text(
    source: *const c_char,
    stmt: *const pg_sys::PlannedStmt,
) -> Option<String> {
    // SAFETY: the caller's contract.
    let all = unsafe { pg::c_text(source) }?;
    // SAFETY: as above; location and length are byte offsets into `source`
    // (-1: unknown; length 0: to the end).
    let (loc, len) = unsafe { ((*stmt).stmt_location, (*stmt).stmt_len) };
    if loc < 0 {
        return Some(all);
    }
    let start = (loc as usize).min(all.len());
    let end = if len > 0 {
        (start + len as usize).min(all.len())
    } else {
        all.len()
    };
    Some(
        all.get(start..end)
            .map_or(all.as_str(), str::trim)
            .to_string(),
    )
}

// ---------------------------------------------------------------------------
// Which tables are audited
// ---------------------------------------------------------------------------

/// Whether a function is `audit_capture_row` or `audit_capture_truncate` of
/// this library, whatever its name or schema. Cached per backend.
fn is_capture_function(fn_oid: Oid) -> bool {
    if let Some(&known) = CAPTURE_FUNCTIONS
        .with_borrow(|c| c.get(&fn_oid).copied())
        .as_ref()
    {
        return known;
    }
    // SAFETY: a syscache look-up by oid; the tuple is released here and the
    // attribute texts are copied out before that.
    let ours = unsafe {
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::PROCOID as c_int,
            pg_sys::Datum::from(fn_oid),
        );
        if tuple.is_null() {
            return false;
        }
        let attr = |n: u32| {
            let mut isnull = false;
            let d = pg_sys::SysCacheGetAttr(
                pg_sys::SysCacheIdentifier::PROCOID as c_int,
                tuple,
                n as pg_sys::AttrNumber,
                &mut isnull,
            );
            (!isnull).then(|| crate::pg::varlena_bytes(d).to_vec())
        };
        let src = attr(pg_sys::Anum_pg_proc_prosrc);
        let bin = attr(pg_sys::Anum_pg_proc_probin);
        pg_sys::ReleaseSysCache(tuple);
        let src_ours = matches!(
            src.as_deref(),
            Some(b"audit_capture_row_wrapper") | Some(b"audit_capture_truncate_wrapper")
        );
        src_ours && bin.is_some_and(|b| b.ends_with(b"lead_audit"))
    };
    CAPTURE_FUNCTIONS.with_borrow_mut(|c| c.insert(fn_oid, ours));
    ours
}

/// The qualified name of `relid` when lead_audit's triggers are on it.
/// Cached per table: every write statement asks, and the look-up (the
/// relcache entry, its triggers, the schema's name, quoting) was a tenth of
/// what an OLTP statement spent in lead_audit.
///
/// # Safety
/// `relid` must be locked by the statement about to run (or be a relation
/// the caller may look at without a lock: the answer is then a hint).
unsafe fn audited(relid: Oid) -> Option<String> {
    if let Some(known) = AUDITED.with_borrow(|c| c.get(&relid).cloned()) {
        return known;
    }
    // SAFETY: the caller's contract.
    let found = unsafe { audited_uncached(relid) };
    AUDITED.with_borrow_mut(|c| c.insert(relid, found.clone()));
    found
}

/// # Safety
/// As [`audited`].
unsafe fn audited_uncached(relid: Oid) -> Option<String> {
    // SAFETY: a relcache reference, released before returning.
    unsafe {
        let rel = pg_sys::RelationIdGetRelation(relid);
        if rel.is_null() {
            return None;
        }
        let td = (*rel).trigdesc;
        let ours = !td.is_null()
            && (0..(*td).numtriggers as usize).any(|i| {
                let t = &*(*td).triggers.add(i);
                t.tgenabled != pg_sys::TRIGGER_DISABLED as c_char && is_capture_function(t.tgfoid)
            });
        let name = ours.then(|| {
            pg::qualified_name(
                (*(*rel).rd_rel).relnamespace,
                (*(*rel).rd_rel).relname.data.as_ptr(),
            )
        });
        pg_sys::RelationClose(rel);
        name
    }
}

fn on() -> bool {
    // SAFETY: plain reads of process state.
    let worker =
        unsafe { pg_sys::ParallelWorkerNumber >= 0 || pg_sys::MyDatabaseId == Oid::INVALID };
    !worker && actor::ENABLED.get() && settings::record_attempts()
}

// ---------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------

/// Notes the writes to audited tables of the statement the executor starts
/// (not for EXPLAIN without ANALYZE).
///
/// # Safety
/// `query_desc` must be the QueryDesc the executor is starting.
pub unsafe fn note_statement(query_desc: *mut pg_sys::QueryDesc, eflags: c_int) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 || !on() {
        return;
    }
    // SAFETY: the plan's range table is a List of RangeTblEntry; the
    // relations a statement writes are locked before it starts.
    unsafe {
        let stmt = (*query_desc).plannedstmt;
        if (*stmt).commandType == pg_sys::CmdType::CMD_SELECT && !(*stmt).hasModifyingCTE {
            return;
        }
        let rtable = (*stmt).rtable;
        if rtable.is_null() {
            return;
        }
        for i in 0..(*rtable).length as usize {
            let rte = (*(*rtable).elements.add(i)).ptr_value as *const pg_sys::RangeTblEntry;
            if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION {
                continue;
            }
            let perms = required_perms(stmt, rte);
            let action = if perms & u64::from(pg_sys::ACL_INSERT) != 0 {
                "INSERT"
            } else if perms & u64::from(pg_sys::ACL_UPDATE) != 0 {
                "UPDATE"
            } else if perms & u64::from(pg_sys::ACL_DELETE) != 0 {
                "DELETE"
            } else {
                continue;
            };
            if let Some(table) = audited((*rte).relid) {
                let statement = statement_text((*query_desc).sourceText, stmt);
                let a = attempt((*rte).relid, table, action, statement);
                PENDING.with_borrow_mut(|p| p.push(a));
            }
        }
    }
}

/// The permissions `stmt` needs on the relation of `rte` (which says what
/// the statement does to it). PostgreSQL 16 moved them from the range
/// table entry into the plan's list of permission infos.
///
/// # Safety
/// `rte` must be a relation entry of `stmt`'s range table.
unsafe fn required_perms(
    stmt: *const pg_sys::PlannedStmt,
    rte: *const pg_sys::RangeTblEntry,
) -> u64 {
    // SAFETY: the caller's contract; on 16 and later a nonzero
    // `perminfoindex` is a 1-based position in `permInfos`.
    unsafe {
        #[cfg(any(feature = "pg14", feature = "pg15"))]
        {
            let _ = stmt;
            u64::from((*rte).requiredPerms)
        }
        #[cfg(not(any(feature = "pg14", feature = "pg15")))]
        {
            let index = (*rte).perminfoindex as usize;
            let infos = (*stmt).permInfos;
            if index == 0 || infos.is_null() || index > (*infos).length as usize {
                return 0;
            }
            let info =
                (*(*infos).elements.add(index - 1)).ptr_value as *const pg_sys::RTEPermissionInfo;
            (*info).requiredPerms
        }
    }
}

/// Notes COPY FROM and TRUNCATE on audited tables (the executor does not
/// see them), and ROLLBACK and ROLLBACK TO SAVEPOINT (the aborts they cause
/// end no failed statement).
///
/// # Safety
/// `pstmt` must be the utility statement about to run, `query_string` its text.
pub unsafe fn note_utility(pstmt: *mut pg_sys::PlannedStmt, query_string: *const c_char) {
    // SAFETY: the caller's contract.
    if unsafe { is_rollback(pstmt) } {
        USER_ROLLBACK.set(true);
    }
    if !on() {
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { note_write(pstmt, query_string) };
}

/// # Safety
/// As [`note_utility`].
unsafe fn is_rollback(pstmt: *mut pg_sys::PlannedStmt) -> bool {
    // SAFETY: the caller's contract; the node's tag says which struct it is.
    unsafe {
        let node = (*pstmt).utilityStmt;
        !node.is_null()
            && (*node).type_ == pg_sys::NodeTag::T_TransactionStmt
            && matches!(
                (*(node as *mut pg_sys::TransactionStmt)).kind,
                pg_sys::TransactionStmtKind::TRANS_STMT_ROLLBACK
                    | pg_sys::TransactionStmtKind::TRANS_STMT_ROLLBACK_TO
            )
    }
}

/// # Safety
/// As [`note_utility`].
unsafe fn note_write(pstmt: *mut pg_sys::PlannedStmt, query_string: *const c_char) {
    // SAFETY: the caller's contract.
    let node = unsafe { (*pstmt).utilityStmt };
    if node.is_null() {
        return;
    }
    // SAFETY: the node's tag says which struct it is.
    unsafe {
        match (*node).type_ {
            pg_sys::NodeTag::T_CopyStmt => {
                let copy = node as *mut pg_sys::CopyStmt;
                if (*copy).is_from && !(*copy).relation.is_null() {
                    note_range_var((*copy).relation, "INSERT", pstmt, query_string);
                }
            }
            pg_sys::NodeTag::T_TruncateStmt => {
                let rels = (*(node as *mut pg_sys::TruncateStmt)).relations;
                if !rels.is_null() {
                    for i in 0..(*rels).length as usize {
                        let rv = (*(*rels).elements.add(i)).ptr_value as *mut pg_sys::RangeVar;
                        note_range_var(rv, "TRUNCATE", pstmt, query_string);
                    }
                }
            }
            _ => {}
        }
    }
}

/// # Safety
/// `rv` must be a valid RangeVar of `pstmt`, planned from `query`.
unsafe fn note_range_var(
    rv: *mut pg_sys::RangeVar,
    action: &'static str,
    pstmt: *const pg_sys::PlannedStmt,
    query: *const c_char,
) {
    // SAFETY: a name look-up without a lock, missing_ok: the statement
    // itself takes the lock; the answer here only decides what to note.
    unsafe {
        let relid = pg::relid_unlocked(rv);
        if relid == Oid::INVALID {
            return;
        }
        if let Some(table) = audited(relid) {
            let a = attempt(relid, table, action, statement_text(query, pstmt));
            PENDING.with_borrow_mut(|p| p.push(a));
        }
    }
}

/// Keeps the error a failing statement reports, for the abort that follows.
/// Must not fail: it runs while an error is being reported.
///
/// # Safety
/// `edata` must be the error PostgreSQL is reporting.
pub unsafe fn keep_error(edata: *mut pg_sys::ErrorData) {
    // SAFETY: the caller's contract.
    unsafe {
        if (*edata).elevel < pgrx::PgLogLevel::ERROR as c_int {
            return;
        }
        let pending = PENDING.try_with(|p| p.try_borrow().is_ok_and(|p| !p.is_empty()));
        if pending == Ok(true) {
            let sqlstate = pg::c_text(pg_sys::unpack_sql_state((*edata).sqlerrcode));
            let e = Ending::Error {
                sqlstate: sqlstate.unwrap_or_default(),
                message: pg::c_text((*edata).message).unwrap_or_default(),
                detail: pg::c_text((*edata).detail),
            };
            let _ = LAST_ERROR.try_with(|l| l.try_borrow_mut().map(|mut l| *l = Some(e)));
        }
    }
}

// ---------------------------------------------------------------------------
// Transaction ends
// ---------------------------------------------------------------------------

/// The transaction ended: a commit forgets its attempts, an abort queues them.
pub fn on_xact(event: pg_sys::XactEvent::Type) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_COMMIT | XACT_EVENT_PREPARE => {
            let _ = PENDING.try_with(|p| p.try_borrow_mut().map(|mut p| p.take_all()));
            forget_error();
        }
        XACT_EVENT_ABORT => {
            let taken = PENDING.try_with(|p| p.try_borrow_mut().map(|mut p| p.take_all()));
            if let Ok(Ok((attempts, not_listed))) = taken {
                failed(attempts, not_listed);
            }
            forget_error();
        }
        _ => {}
    }
    if matches!(
        event,
        XACT_EVENT_COMMIT | XACT_EVENT_PREPARE | XACT_EVENT_ABORT
    ) {
        let _ = USER_ROLLBACK.try_with(|r| r.set(false));
    }
}

/// A subtransaction ended: its attempts pass to its parent, or are queued.
pub fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
) {
    use pg_sys::SubXactEvent::*;
    match event {
        SUBXACT_EVENT_COMMIT_SUB => {
            let _ = PENDING.try_with(|p| {
                p.try_borrow_mut()
                    .map(|mut p| p.commit_sub(my_subid, parent_subid))
            });
        }
        SUBXACT_EVENT_ABORT_SUB => {
            let taken = PENDING.try_with(|p| p.try_borrow_mut().map(|mut p| p.abort_sub(my_subid)));
            if let Ok(Ok(attempts)) = taken {
                failed(attempts, 0);
            }
        }
        // ROLLBACK TO SAVEPOINT ends by starting the savepoint again.
        SUBXACT_EVENT_START_SUB => {
            let _ = USER_ROLLBACK.try_with(|r| r.set(false));
        }
        _ => {}
    }
}

fn forget_error() {
    let _ = LAST_ERROR.try_with(|l| l.try_borrow_mut().map(|mut l| *l = None));
}

/// Queues the attempts of an aborted (sub)transaction. Runs during the
/// abort: nothing here raises.
fn failed(attempts: Vec<Attempt>, not_listed: u64) {
    if attempts.is_empty() && not_listed == 0 {
        return;
    }
    let reported = LAST_ERROR
        .try_with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.take()))
        .ok()
        .flatten();
    // SAFETY: a flag of the backend's own exit.
    let exiting = unsafe { pg_sys::proc_exit_inprogress };
    let ending = match reported {
        Some(e) => e,
        None if USER_ROLLBACK.get() || exiting => Ending::Rollback,
        None => Ending::HandledError,
    };
    if ending == Ending::Rollback && !settings::record_rollback() {
        return;
    }
    // SAFETY: plain reads of the backend's state and the clock.
    let (db, xid, now) = unsafe {
        (
            pg_sys::MyDatabaseId,
            pg_sys::GetTopFullTransactionIdIfAny().value,
            pg_sys::GetCurrentTimestamp(),
        )
    };
    let mut start = false;
    let mut dropped = 0;
    let count = attempts.len();
    for (i, a) in attempts.iter().enumerate() {
        let extra = if i + 1 == count { not_listed } else { 0 };
        let m = message::encode(a, &ending, xid, extra, queue::SLOT_BYTES);
        match queue::push(db, &m, now) {
            queue::Queued::Yes { start_writer } => start |= start_writer,
            queue::Queued::Dropped => dropped += 1,
        }
    }
    if start && !queue::start_writer(db) {
        log!("lead_audit: no background worker slot free to record failed attempts now; they stay queued");
    }
    if dropped > 0 {
        log!("lead_audit: the failed-attempts queue is full; {dropped} attempts dropped (the count is recorded)");
    }
}
