//! DDL on an audited table, recorded as an audit row (`action = 'DDL'`).
//!
//! The event triggers in `sql/api.sql` find the audited tables a command
//! changed or dropped and call [`append_ddl`] through SECURITY DEFINER
//! functions that read the event's own command list, so nobody can write a
//! DDL row for a command that did not happen. `audit_enable` and
//! `audit_disable` record themselves, once, and keep the DDL they run on the
//! table's triggers out of the log ([`set_quiet`]).

use std::cell::Cell;

use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;

use crate::audit_log::row::{col, Row};
use crate::audit_log::stamp;
use crate::error::AuditError;
use crate::pg::{self, text_datum};
use crate::writer;

thread_local! {
    /// Set by audit_enable / audit_disable around their own trigger DDL.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

pub fn quiet(on: bool) {
    let _ = QUIET.try_with(|q| q.set(on));
}

/// audit_enable and audit_disable (SECURITY DEFINER; not granted to PUBLIC)
/// switch the recording of their own trigger DDL off and on again. Any end
/// of the (sub)transaction switches it back on.
#[pg_extern(name = "_audit_ddl_quiet", strict)]
fn set_quiet(quiet_on: bool) {
    quiet(quiet_on);
}

/// Writes one DDL row for `target`; `detail`, a JSON object (as text) with
/// the command tag (or `audit_enable` / `audit_disable`) and the statement,
/// is kept in `new_values`. `table_name`: the name of a table already
/// dropped; NULL to look it up. Not granted to PUBLIC.
#[pg_extern(name = "_audit_append_ddl")]
fn append_ddl(target: Option<Oid>, table_name: Option<&str>, detail: Option<&str>) {
    let (Some(target), Some(detail)) = (target, detail) else {
        AuditError::InvalidArgument {
            reason: "_audit_append_ddl() needs a table and a detail".into(),
        }
        .report()
    };
    if QUIET.get() {
        return;
    }
    let name = table_name
        .map(str::to_string)
        .or_else(|| qualified_name(target));
    let Some(name) = name else {
        return; // gone meanwhile: the DROP that removed it records it
    };
    let Some(detail) = pg::type_input(pg_sys::jsonb_in, detail) else {
        AuditError::InvalidArgument {
            reason: "the DDL detail is not valid JSON".into(),
        }
        .report()
    };
    let mut row = Row::default();
    row.set(col::ACTION, text_datum(b"DDL"));
    row.set(col::NEW_VALUES, detail);
    stamp::committed(&mut row, target, text_datum(name.as_bytes()));
    writer::append(&mut row);
}

/// `schema.table`, quoted as needed, as the capture triggers name tables.
fn qualified_name(relid: Oid) -> Option<String> {
    // SAFETY: catalog look-ups by oid; NULL when the relation is gone.
    unsafe {
        let rel = pg_sys::get_rel_name(relid);
        (!rel.is_null()).then(|| pg::qualified_name(pg_sys::get_rel_namespace(relid), rel))
    }
}
