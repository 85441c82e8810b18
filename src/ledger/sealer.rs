//! Background sealing. With lead_audit in `shared_preload_libraries`, a
//! worker connects to `lead_audit.seal_database` and calls `audit_seal()`
//! every `lead_audit.seal_interval`. Without it, call `audit_seal()` from cron
//! or pg_cron: sealing is the same either way, and writers never wait for it.

use std::ffi::CString;
use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;

/// Seconds between two seals; 0 pauses the worker.
static SEAL_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(5);
static SEAL_DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));

pub fn register() {
    GucRegistry::define_int_guc(
        c"lead_audit.seal_interval",
        c"How often the background worker seals audit rows (0 pauses it).",
        c"Only used when lead_audit is in shared_preload_libraries.",
        &SEAL_INTERVAL,
        0,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_string_guc(
        c"lead_audit.seal_database",
        c"The database whose audit log the background worker seals.",
        c"Only used when lead_audit is in shared_preload_libraries; read when the worker starts.",
        &SEAL_DATABASE,
        // Not Postmaster: that context cannot be defined by a library loaded after start-up.
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: a flag PostgreSQL sets while loading shared_preload_libraries.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        BackgroundWorkerBuilder::new("lead_audit sealer")
            .set_type("lead_audit sealer")
            .set_library("lead_audit")
            .set_function("lead_audit_sealer_main")
            .enable_spi_access()
            .set_restart_time(Some(Duration::from_secs(10)))
            .load();
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn lead_audit_sealer_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = SEAL_DATABASE
        .get()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_else(|| "postgres".into());
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    log!("lead_audit sealer: sealing the audit log of database \"{database}\"");
    loop {
        let seconds = SEAL_INTERVAL.get().max(1) as u64;
        if !BackgroundWorker::wait_latch(Some(Duration::from_secs(seconds))) {
            break; // SIGTERM
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: re-reads postgresql.conf, as every backend does on SIGHUP.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        if SEAL_INTERVAL.get() > 0 {
            BackgroundWorker::transaction(seal_once);
            // Its own transaction: filing that fails never undoes a seal.
            BackgroundWorker::transaction(index_once);
        }
        crate::attempts::start_stranded_writers();
    }
}

/// Seals if the extension is installed in this database (it may come later).
fn seal_once() {
    if let Some(schema) = extension_schema() {
        let query =
            include_str!("../../sql/queries/sealer_seal.sql").replace("@extschema@", &schema);
        if let Err(e) = Spi::get_one::<i64>(&query) {
            warning!("lead_audit sealer: {e}");
        }
    }
}

/// Files sealed rows for audit_history(), when the installed objects can.
fn index_once() {
    let Some(schema) = extension_schema() else {
        return;
    };
    let function = format!("{schema}.audit_index_history(integer)");
    let can = Spi::get_one_with_args::<bool>(
        include_str!("../../sql/queries/sealer_can_index.sql"),
        &[function.into()],
    );
    if !matches!(can, Ok(Some(true))) {
        return;
    }
    let query = include_str!("../../sql/queries/sealer_index.sql").replace("@extschema@", &schema);
    if let Err(e) = Spi::get_one::<i64>(&query) {
        warning!("lead_audit sealer: filing history: {e}");
    }
}

/// The extension's schema in this database, quoted for SQL; None when it is
/// not installed (yet). The same look-up as the objects cache's, which would
/// raise instead of answering "not installed".
fn extension_schema() -> Option<String> {
    let found =
        Spi::get_two::<pg_sys::Oid, String>(include_str!("../../sql/queries/extension_schema.sql"));
    match found {
        Ok((_, Some(schema))) => Some(schema),
        _ => None,
    }
}
