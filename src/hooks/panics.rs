//! What a client sees of an error raised inside lead_audit's Rust code.
//!
//! pgrx carries a PostgreSQL error through Rust frames as a panic, and its
//! panic hook captures a Rust backtrace at each one, which it then appends
//! to the error's DETAIL whenever the server's environment sets
//! `RUST_BACKTRACE` (common in containers): Rust frames and the build
//! machine's source paths would reach the client, even on an error such as
//! a missing table. The hook installed here records nothing for the
//! backend's own thread, so errors keep their message, detail and hint and
//! gain nothing. Panics on any other thread still go to the hook before it.

use std::sync::OnceLock;
use std::thread::{self, ThreadId};

static BACKEND_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// Replaces pgrx's panic hook (once, from `_PG_init`, which runs after
/// pgrx installs its own).
pub fn quiet() {
    let _ = BACKEND_THREAD.set(thread::current().id());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if BACKEND_THREAD.get() != Some(&thread::current().id()) {
            previous(info);
        }
    }));
}
