//! The `lead_audit.*` settings and the actor context read from them: who
//! made a change (the application user, request, client), as opposed to what
//! changed, which the triggers see for themselves.
//!
//! Applications set the context with `SET LOCAL` (or `set_config(..., true)`) at
//! the start of each transaction, so it never leaks to the next transaction on a
//! pooled connection. Values are validated when a change is audited: a value
//! that cannot be recorded fails the write instead of being dropped.
//!
//! Bulk statements audit many rows with the same settings, so each setting is
//! parsed once and kept (as a varlena in TopMemoryContext) until its text changes.
//!
//! With `lead_audit.comment_context` on, a statement may carry its context in
//! a leading comment instead ([`comment`]): its values take the settings'
//! place for that statement, and are checked the same way.

mod comment;

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::AuditError;
use crate::pg::{self, text_datum};

/// Master switch; only a superuser may turn auditing off.
pub static ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Whether a statement's leading `/* lead_audit {...} */` comment is read.
static COMMENT_CONTEXT: GucSetting<bool> = GucSetting::<bool>::new(false);
static ACTOR_ID: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static CLIENT_IP: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static USER_AGENT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static REQUEST_ID: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static CONTEXT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

pub fn register_settings() {
    GucRegistry::define_bool_guc(
        c"lead_audit.enabled",
        c"Record changes of audited tables (superuser only).",
        c"When off, lead_audit's triggers record nothing. Only a superuser can change it.",
        &ENABLED,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"lead_audit.comment_context",
        c"Read the actor context from a statement's leading /* lead_audit {...} */ comment.",
        c"For clients that cannot SET LOCAL before a statement (autocommit, statement pooling).",
        &COMMENT_CONTEXT,
        GucContext::Userset,
        GucFlags::default(),
    );
    let text_settings: [(
        &'static CStr,
        &'static CStr,
        &'static GucSetting<Option<CString>>,
    ); 5] = [
        (
            c"lead_audit.actor_id",
            c"The application user making the change.",
            &ACTOR_ID,
        ),
        (
            c"lead_audit.client_ip",
            c"The end user's IP address; defaults to the connection's address.",
            &CLIENT_IP,
        ),
        (
            c"lead_audit.user_agent",
            c"The end user's user agent.",
            &USER_AGENT,
        ),
        (
            c"lead_audit.request_id",
            c"The application's request id.",
            &REQUEST_ID,
        ),
        (
            c"lead_audit.context",
            c"A JSON object of extra context to record.",
            &CONTEXT,
        ),
    ];
    for (name, description, setting) in text_settings {
        // SAFETY: the hook only bumps a counter; it cannot fail.
        unsafe {
            GucRegistry::define_string_guc_with_hooks(
                name,
                description,
                c"Set it with SET LOCAL inside the transaction that makes the change.",
                setting,
                GucContext::Userset,
                GucFlags::default(),
                None,
                Some(settings_changed),
                None,
            );
        }
    }
}

/// The context settings, in the order of [`comment::KEYS`]: each one's
/// variable, how its text becomes a datum, its name, and how a value from a
/// statement's comment is named in an error.
static SETTINGS: [&GucSetting<Option<CString>>; 5] =
    [&ACTOR_ID, &CLIENT_IP, &USER_AGENT, &REQUEST_ID, &CONTEXT];
const KINDS: [Kind; 5] = [
    Kind::Text,
    Kind::Inet,
    Kind::Text,
    Kind::Text,
    Kind::JsonObject,
];
const SETTING_NAMES: [&str; 5] = [
    "lead_audit.actor_id",
    "lead_audit.client_ip",
    "lead_audit.user_agent",
    "lead_audit.request_id",
    "lead_audit.context",
];
const COMMENT_NAMES: [&str; 5] = [
    "actor_id of the lead_audit comment",
    "client_ip of the lead_audit comment",
    "user_agent of the lead_audit comment",
    "request_id of the lead_audit comment",
    "context of the lead_audit comment",
];

/// Bumped whenever a lead_audit.* context setting changes (SET, RESET, end of
/// transaction), so a bulk statement re-reads the settings only when they moved.
static SETTINGS_GENERATION: AtomicU64 = AtomicU64::new(0);

#[pg_guard]
unsafe extern "C-unwind" fn settings_changed(
    _new: *const std::ffi::c_char,
    _extra: *mut std::ffi::c_void,
) {
    SETTINGS_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The context columns of one audit row, as datums ready for `heap_form_tuple`.
/// They point into memory owned by the per-backend cache, valid until the next
/// call of [`current`].
#[derive(Clone, Copy)]
pub struct Actor {
    pub actor_id: Option<pg_sys::Datum>,
    pub client_ip: Option<pg_sys::Datum>,
    pub user_agent: Option<pg_sys::Datum>,
    pub request_id: Option<pg_sys::Datum>,
    pub context: Option<pg_sys::Datum>,
    pub db_user: pg_sys::Datum,
    pub application_name: Option<pg_sys::Datum>,
}

/// How a setting's text becomes a datum.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Inet,
    JsonObject,
}

/// One setting's last text and the varlena made from it.
struct Cached {
    text: Vec<u8>,
    datum: Option<pg_sys::Datum>,
}

impl Cached {
    const fn empty() -> Self {
        Cached {
            text: Vec::new(),
            datum: None,
        }
    }

    /// The datum for `raw` (the setting's current C string, possibly NULL),
    /// parsing it only when it differs from the last one seen.
    fn get(
        &mut self,
        name: &'static str,
        kind: Kind,
        raw: *const std::ffi::c_char,
    ) -> Option<pg_sys::Datum> {
        self.get_text(name, kind, setting_bytes(raw))
    }

    /// As [`get`](Self::get), for a value's text (empty: none).
    fn get_text(&mut self, name: &'static str, kind: Kind, bytes: &[u8]) -> Option<pg_sys::Datum> {
        if bytes != self.text.as_slice() || (self.datum.is_none() && !bytes.is_empty()) {
            let datum = if bytes.is_empty() {
                None
            } else {
                Some(parse(name, kind, bytes))
            };
            self.free();
            self.text = bytes.to_vec();
            self.datum = datum.map(keep);
        }
        self.datum
    }

    fn free(&mut self) {
        if let Some(d) = self.datum.take() {
            // SAFETY: the datum was copied into TopMemoryContext by `keep`.
            unsafe { pg_sys::pfree(d.cast_mut_ptr()) };
        }
    }
}

struct Cache {
    /// The settings generation the five values below were read at, and the
    /// statement whose comment was read with them (when comments are read).
    seen: Option<(u64, Option<Statement>)>,
    parsed: [Option<pg_sys::Datum>; 5],
    /// The five context settings, in the order of [`SETTINGS`].
    settings: [Cached; 5],
    application_name: Cached,
    /// Session user oid and its name as a text datum.
    db_user: Option<(pg_sys::Oid, pg_sys::Datum)>,
    /// The connection's address (inet), computed once; None for Unix sockets.
    connection_ip: Option<Option<pg_sys::Datum>>,
    /// The same address as text, for failed attempts (every write statement
    /// takes a snapshot: `inet_out` each time was half of its cost).
    connection_ip_text: Option<Option<String>>,
}

thread_local! {
    static CACHE: RefCell<Cache> = const { RefCell::new(Cache {
        seen: None,
        parsed: [None; 5],
        settings: [const { Cached::empty() }; 5],
        application_name: Cached::empty(),
        db_user: None,
        connection_ip: None,
        connection_ip_text: None,
    }) };
}

/// The actor context for a row being audited now. Raises `InvalidSetting`
/// (and so fails the write) for a client_ip that is no address or a context
/// that is no JSON object.
pub fn current() -> Actor {
    let statement = COMMENT_CONTEXT.get().then(Statement::current).flatten();
    CACHE.with_borrow_mut(|c| {
        let generation = SETTINGS_GENERATION.load(Ordering::Relaxed);
        if c.seen != Some((generation, statement)) {
            let comment = statement.map(|s| s.values()).unwrap_or_default();
            // A value from the comment is checked like the setting's, and
            // named as coming from the comment when it is wrong.
            for i in 0..SETTINGS.len() {
                let (name, text) = match &comment[i] {
                    Some(v) => (COMMENT_NAMES[i], v.as_bytes()),
                    None => (SETTING_NAMES[i], setting_bytes(raw(SETTINGS[i]))),
                };
                c.parsed[i] = c.settings[i].get_text(name, KINDS[i], text);
            }
            c.seen = Some((generation, statement));
        }
        let [actor_id, client_ip, user_agent, request_id, context] = c.parsed;
        // SAFETY: PostgreSQL's own GUC variable: NULL or a valid C string.
        let application_name = unsafe { pg_sys::application_name };
        Actor {
            actor_id,
            client_ip: client_ip.or_else(|| *c.connection_ip.get_or_insert_with(connection_ip)),
            user_agent,
            request_id,
            context,
            application_name: c.application_name.get(
                "application_name",
                Kind::Text,
                application_name,
            ),
            db_user: session_user(&mut c.db_user),
        }
    })
}

/// The actor context as text, for a failed attempt: taken when the statement
/// starts and recorded after its transaction aborted, so it is read as it
/// is, unchecked (the attempts writer keeps a client_ip that is no address or
/// a context that is no object out of the typed columns).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub actor_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub context: Option<String>,
    pub db_user: String,
    pub application_name: Option<String>,
}

pub fn snapshot() -> Snapshot {
    // SAFETY: GUC string variables: NULL or valid NUL-terminated strings.
    let text = |p| unsafe { pg::c_text(p) }.filter(|s| !s.is_empty());
    let db_user = CACHE.with_borrow_mut(|c| session_user(&mut c.db_user));
    // A comment that cannot be read is left out: the attempt is recorded as
    // it is (its error may well be that very comment).
    let comment: comment::Values = COMMENT_CONTEXT
        .get()
        .then(Statement::current)
        .flatten()
        .and_then(|s| s.try_values().ok())
        .unwrap_or_default();
    // Each value from the comment, else from its setting.
    let [actor_id, client_ip, user_agent, request_id, context] =
        std::array::from_fn(|i| comment[i].clone().or_else(|| text(raw(SETTINGS[i]))));
    Snapshot {
        actor_id,
        client_ip: client_ip.or_else(connection_ip_text),
        user_agent,
        request_id,
        context,
        // SAFETY: the cached session user's name, a text datum.
        db_user: String::from_utf8_lossy(unsafe { pg::varlena_bytes(db_user) }).into_owned(),
        // SAFETY: PostgreSQL's own GUC variable.
        application_name: text(unsafe { pg_sys::application_name }),
    }
}

/// The connection's address as text, kept from the first call.
fn connection_ip_text() -> Option<String> {
    CACHE.with_borrow_mut(|c| {
        let ip = *c.connection_ip.get_or_insert_with(connection_ip);
        c.connection_ip_text
            .get_or_insert_with(|| ip.map(inet_text))
            .clone()
    })
}

/// An inet as inet prints it.
fn inet_text(ip: pg_sys::Datum) -> String {
    // SAFETY: inet_out takes an inet datum and returns a palloc'd C string.
    unsafe { pg::c_text(pg::call1(pg_sys::inet_out, ip).cast_mut_ptr()) }.unwrap_or_default()
}

/// The statement being run, as far as its comment goes: the client's query
/// text and the time its message arrived. Its comment is parsed once.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Statement {
    query: *const std::ffi::c_char,
    started: i64,
}

thread_local! {
    /// The last statement whose comment was parsed, and what it said.
    static PARSED: RefCell<Option<(Statement, Result<comment::Values, String>)>> =
        const { RefCell::new(None) };
}

impl Statement {
    /// None outside a client's statement (a background worker).
    fn current() -> Option<Statement> {
        // SAFETY: PostgreSQL's own globals: the client's query text (or NULL)
        // and the current statement's start time.
        let (query, started) = unsafe {
            (
                pg_sys::debug_query_string,
                pg_sys::GetCurrentStatementStartTimestamp(),
            )
        };
        (!query.is_null()).then_some(Statement { query, started })
    }

    /// What the comment says, parsed once per statement.
    fn try_values(self) -> Result<comment::Values, String> {
        PARSED.with_borrow_mut(|p| {
            if let Some((seen, values)) = p.as_ref() {
                if *seen == self {
                    return values.clone();
                }
            }
            // SAFETY: debug_query_string is a NUL-terminated string that lives
            // as long as the statement.
            let query = unsafe { CStr::from_ptr(self.query) }.to_string_lossy();
            let values = match comment::leading_comment(&query) {
                Some(json) => comment::parse(json).map_err(|reason| {
                    format!("{reason} in {}", json.chars().take(200).collect::<String>())
                }),
                None => Ok(Default::default()),
            };
            *p = Some((self, values.clone()));
            values
        })
    }

    /// As [`try_values`](Self::try_values); a comment that cannot be read
    /// fails the write (22023), as a setting that cannot be does.
    fn values(self) -> comment::Values {
        self.try_values()
            .unwrap_or_else(|reason| AuditError::InvalidComment { reason }.report())
    }
}

/// A GUC string variable's bytes (empty for NULL).
fn setting_bytes<'a>(raw: *const std::ffi::c_char) -> &'a [u8] {
    if raw.is_null() {
        return b"";
    }
    // SAFETY: a GUC string variable is NULL or a valid NUL-terminated string
    // owned by the GUC machinery, unchanged while we read it.
    unsafe { CStr::from_ptr(raw) }.to_bytes()
}

/// A string setting's current value: NULL or a C string owned by the GUC machinery.
fn raw(setting: &GucSetting<Option<CString>>) -> *const std::ffi::c_char {
    // SAFETY: the pointer is the address of a registered GUC variable.
    unsafe { *setting.as_ptr() }
}

fn session_user(cached: &mut Option<(pg_sys::Oid, pg_sys::Datum)>) -> pg_sys::Datum {
    // SAFETY: plain accessors of the backend's session state.
    let oid = unsafe { pg_sys::GetSessionUserId() };
    match cached {
        Some((cached_oid, datum)) if *cached_oid == oid => *datum,
        _ => {
            // SAFETY: the role exists (it is the session's), the name is copied into a text.
            let datum = unsafe {
                let name = pg_sys::GetUserNameFromId(oid, false);
                keep(text_datum(CStr::from_ptr(name).to_bytes()))
            };
            if let Some((_, old)) = cached.replace((oid, datum)) {
                // SAFETY: allocated by `keep`.
                unsafe { pg_sys::pfree(old.cast_mut_ptr()) };
            }
            datum
        }
    }
}

/// inet_client_addr(): the connection's address, NULL for a Unix socket.
fn connection_ip() -> Option<pg_sys::Datum> {
    // SAFETY: inet_client_addr takes no arguments and only reads MyProcPort.
    let datum = unsafe { pgrx::direct_function_call_as_datum(pg_sys::inet_client_addr, &[]) };
    datum.map(keep)
}

fn parse(name: &'static str, kind: Kind, bytes: &[u8]) -> pg_sys::Datum {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => invalid(name, bytes, "not valid UTF-8"),
    };
    match kind {
        Kind::Text => text_datum(bytes),
        Kind::Inet => {
            if !is_ip_address(text) {
                invalid(name, bytes, "not an IP address");
            }
            pg::type_input(pg_sys::inet_in, text)
                .unwrap_or_else(|| invalid(name, bytes, "not an IP address"))
        }
        Kind::JsonObject => {
            // jsonb itself decides what is valid (any number it takes, any
            // depth it takes): only then is the top level checked.
            let datum = pg::type_input(pg_sys::jsonb_in, text)
                .unwrap_or_else(|| invalid(name, bytes, "not valid JSON"));
            // SAFETY: jsonb_in returned a fresh, untoasted jsonb.
            if !unsafe { pg::jsonb_is_object(datum) } {
                invalid(name, bytes, "not a JSON object");
            }
            datum
        }
    }
}

/// An IPv4 or IPv6 address, optionally with a /prefix length, as `inet` takes it.
pub fn is_ip_address(text: &str) -> bool {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    // No trimming: inet does not take surrounding spaces either.
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix {
        None => true,
        Some(p) => p.parse::<u8>().is_ok_and(|bits| bits <= max),
    }
}

fn invalid(name: &'static str, bytes: &[u8], reason: &str) -> ! {
    AuditError::InvalidSetting {
        name,
        value: String::from_utf8_lossy(bytes).chars().take(200).collect(),
        reason: reason.to_string(),
    }
    .report()
}

/// Copies a varlena datum we just built into TopMemoryContext, so the cache
/// can keep it past the current row.
fn keep(datum: pg_sys::Datum) -> pg_sys::Datum {
    // SAFETY: every caller passes a varlena it just built (not toasted).
    unsafe { pg::keep_varlena(datum) }
}

#[cfg(test)]
mod unit {
    use super::is_ip_address;

    #[test]
    fn ip_addresses() {
        assert!(is_ip_address("203.0.113.7"));
        assert!(is_ip_address("2001:db8::1"));
        assert!(is_ip_address("10.0.0.0/8"));
        assert!(!is_ip_address("10.0.0.0/33"));
        assert!(!is_ip_address("not-an-ip"));
        assert!(!is_ip_address("300.1.1.1"));
        assert!(!is_ip_address(""));
        assert!(!is_ip_address(" 203.0.113.7"));
        assert!(!is_ip_address("203.0.113.7 "));
    }
}
