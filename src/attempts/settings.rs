//! The settings of failed-attempt recording.

use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};

static RECORD_ATTEMPTS: GucSetting<bool> = GucSetting::<bool>::new(true);
static RECORD_STATEMENT: GucSetting<bool> = GucSetting::<bool>::new(true);
static RECORD_ROLLBACK: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Set when the library was preloaded, in the postmaster, so every process inherits it.
static RECORDED: AtomicBool = AtomicBool::new(false);

pub fn register() {
    GucRegistry::define_bool_guc(
        c"lead_audit.record_attempts",
        c"Whether failed attempts on audited tables are recorded (needs shared_preload_libraries).",
        c"Off stops tracking statements for failed attempts; committed changes are recorded as always.",
        &RECORD_ATTEMPTS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"lead_audit.record_statement",
        c"Whether a failed attempt's record keeps the statement's text.",
        c"Turn off when statements carry secrets or personal data.",
        &RECORD_STATEMENT,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"lead_audit.record_rollback",
        c"Whether writes undone by a ROLLBACK without an error are recorded as failed attempts.",
        c"An error always leaves a record; a plain ROLLBACK (or a session that ends inside a transaction) only with this on.",
        &RECORD_ROLLBACK,
        GucContext::Suset,
        GucFlags::default(),
    );
}

pub fn record_attempts() -> bool {
    RECORD_ATTEMPTS.get()
}

pub fn record_statement() -> bool {
    RECORD_STATEMENT.get()
}

pub fn record_rollback() -> bool {
    RECORD_ROLLBACK.get()
}

pub fn set_recorded() {
    RECORDED.store(true, Ordering::Relaxed);
}

pub fn recorded() -> bool {
    RECORDED.load(Ordering::Relaxed)
}
