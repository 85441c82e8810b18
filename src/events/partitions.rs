//! ATTACH and DETACH PARTITION with audited tables.
//!
//! Every audited table is captured by exactly one `lead_audit_capture`
//! trigger: its own, or the clone of its nearest audited ancestor's
//! (PostgreSQL clones a partitioned table's row triggers onto its partitions,
//! under the same name). A table audited on its own that is attached to an
//! audited table would get a clone beside its own trigger, which PostgreSQL
//! refuses (42710): so before the command runs it gives up its own triggers
//! to the clones (`_audit_before_attach`). After a DETACH, the table and the
//! tables below it that are audited on their own, now captured by no clone,
//! get their own triggers back (`_audit_after_detach`). The event trigger
//! function is written here, not in SQL, because only the command's parse
//! tree names the partition, and only before the command runs.

use std::cell::RefCell;
use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::prelude::*;

use crate::audit_log::objects;
use crate::error::AuditError;
use crate::pg;

thread_local! {
    /// Partitions detached by the command running, for its end.
    static DETACHED: RefCell<Vec<Oid>> = const { RefCell::new(Vec::new()) };
}

enum Change {
    Attach { parent: Oid, child: Oid },
    Detach { child: Oid },
}

/// `_audit_partitions()`: the event trigger on ALTER TABLE, at
/// `ddl_command_start` and `ddl_command_end`.
///
/// # Safety
/// Called by PostgreSQL's function manager with a valid `fcinfo`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn audit_partitions_wrapper(
    fcinfo: pg_sys::FunctionCallInfo,
) -> Datum {
    // SAFETY: the function manager's fcinfo; a context node is checked by
    // its tag before it is read as EventTriggerData.
    let data = unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_EventTriggerData {
            AuditError::WrongCall {
                function: "_audit_partitions()",
                reason: "can only be called as an event trigger",
            }
            .report();
        }
        &*context.cast::<pg_sys::EventTriggerData>()
    };
    // SAFETY: PostgreSQL names the event with a NUL-terminated string.
    let event = unsafe { CStr::from_ptr(data.event) };
    if event == c"ddl_command_start" {
        // SAFETY: the parse tree of the command about to run.
        for change in unsafe { changes(data.parsetree) } {
            match change {
                Change::Attach { parent, child } => {
                    call("_audit_before_attach($1, $2)", &[parent, child])
                }
                Change::Detach { child } => DETACHED.with_borrow_mut(|d| d.push(child)),
            }
        }
    } else if event == c"ddl_command_end" {
        for child in DETACHED.with_borrow_mut(std::mem::take) {
            call("_audit_after_detach($1)", &[child]);
        }
    }
    Datum::from(0)
}

/// The transaction ended: what a failed command left is dropped.
pub fn forget() {
    let _ = DETACHED.try_with(|d| d.try_borrow_mut().map(|mut d| d.clear()));
}

fn call(function: &str, tables: &[Oid]) {
    let query = objects::objects().sql(&format!("SELECT @extschema@.{function}"));
    let args: Vec<pgrx::datum::DatumWithOid> = tables.iter().map(|&t| t.into()).collect();
    Spi::run_with_args(&query, &args).unwrap_or_else(|e| {
        AuditError::BrokenInstall {
            reason: format!("{function} failed: {e}"),
        }
        .report()
    });
}

/// The partitions an ALTER TABLE attaches or detaches (with the tables
/// they are attached to), resolved without locks: the command takes them,
/// and a name that resolves to nothing is the command's own error.
///
/// # Safety
/// `tree` must be a valid parse tree (or NULL).
unsafe fn changes(tree: *mut pg_sys::Node) -> Vec<Change> {
    let mut found = Vec::new();
    // SAFETY: nodes are read by their tags; lists hold nodes.
    unsafe {
        if tree.is_null() || (*tree).type_ != pg_sys::NodeTag::T_AlterTableStmt {
            return found;
        }
        let stmt = tree.cast::<pg_sys::AlterTableStmt>();
        let cmds = (*stmt).cmds;
        if cmds.is_null() {
            return found;
        }
        for i in 0..(*cmds).length as usize {
            let cmd = (*(*cmds).elements.add(i)).ptr_value as *mut pg_sys::AlterTableCmd;
            if cmd.is_null() || (*cmd).type_ != pg_sys::NodeTag::T_AlterTableCmd {
                continue;
            }
            let part = (*cmd).def;
            if part.is_null() || (*part).type_ != pg_sys::NodeTag::T_PartitionCmd {
                continue;
            }
            let child = pg::relid_unlocked((*part.cast::<pg_sys::PartitionCmd>()).name);
            let parent = pg::relid_unlocked((*stmt).relation);
            if child == Oid::INVALID || parent == Oid::INVALID {
                continue;
            }
            use pg_sys::AlterTableType as At;
            match (*cmd).subtype {
                At::AT_AttachPartition => found.push(Change::Attach { parent, child }),
                At::AT_DetachPartition | At::AT_DetachPartitionFinalize => {
                    found.push(Change::Detach { child })
                }
                _ => {}
            }
        }
    }
    found
}

#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_audit_partitions_wrapper() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}
