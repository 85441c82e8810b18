//! The `stamp` option: `audit_stamp_row()`, a BEFORE INSERT OR UPDATE row
//! trigger that fills the table's own bookkeeping columns where they exist
//! (created_at, updated_at, created_by, updated_by, deleted_at, deleted_by,
//! or the names the option maps them to), what an application's AuditMixin
//! would do, but for every writer. `*_at` is the statement's start time;
//! `*_by` is `lead_audit.actor_id`, through the column type's input function.
//!
//! The database's values win: `*_at` always, `*_by` whenever there is an
//! actor (without one, `*_by` keeps what the statement wrote). An UPDATE never
//! changes `created_*`. `deleted_*` are set when the soft-delete column flips
//! to deleted, cleared when it flips back.

use pgrx::pg_sys::{self, Datum};

use super::table::{self, StampColumn};
use super::tuple::Deformed;
use crate::actor;
use crate::error::AuditError;

/// Where a bookkeeping column's new value comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    /// The statement's start time.
    Now,
    /// `lead_audit.actor_id`.
    Actor,
    /// The row's value before the UPDATE.
    Old,
    Null,
}

/// Roles, as indexes into `table::STAMP_ROLES`.
const CREATED_AT: usize = 0;
const UPDATED_AT: usize = 1;
const CREATED_BY: usize = 2;
const UPDATED_BY: usize = 3;
const DELETED_AT: usize = 4;
const DELETED_BY: usize = 5;

/// What to write in which role's column. `present`: the roles the table has
/// (the soft-delete column itself is never one: a `deleted_at` that marks
/// deletion is the application's to set); `soft`: the soft-delete flip of an
/// UPDATE, as the capture's soft-delete check says.
pub fn plan(
    insert: bool,
    present: [bool; 6],
    has_actor: bool,
    soft: Option<&str>,
) -> Vec<(usize, Source)> {
    let mut out = Vec::new();
    let by = |role| has_actor.then_some((role, Source::Actor));
    if insert {
        out.extend([(CREATED_AT, Source::Now), (UPDATED_AT, Source::Now)]);
        out.extend(by(CREATED_BY));
        out.extend(by(UPDATED_BY));
    } else {
        out.extend([
            (CREATED_AT, Source::Old),
            (CREATED_BY, Source::Old),
            (UPDATED_AT, Source::Now),
        ]);
        out.extend(by(UPDATED_BY));
        match soft {
            Some("deleted") => {
                out.push((DELETED_AT, Source::Now));
                out.extend(by(DELETED_BY));
            }
            Some("restored") => {
                out.extend([(DELETED_AT, Source::Null), (DELETED_BY, Source::Null)])
            }
            _ => {}
        }
    }
    out.retain(|(role, _)| present[*role]);
    out
}

/// The trigger's work for one row: the tuple to store (`new`, changed or not).
///
/// # Safety
/// `td` must be the TriggerData of a BEFORE INSERT or UPDATE row event.
pub unsafe fn stamp_row(td: &pg_sys::TriggerData, insert: bool) -> pg_sys::HeapTuple {
    let rel = td.tg_relation;
    let new_tuple = if insert {
        td.tg_trigtuple
    } else {
        td.tg_newtuple
    };
    // SAFETY: the trigger's relation is open for the duration of the event.
    let (info, desc) = unsafe { (table::table_info(rel), (*rel).rd_att) };
    let Some(columns) = info.stamp.as_ref() else {
        return new_tuple; // the option was turned off: nothing to fill
    };
    let marker = info.soft_delete.map(|(i, _)| i);
    let present = std::array::from_fn(|role| {
        columns[role]
            .as_ref()
            .is_some_and(|c| Some(c.index) != marker)
    });
    // SAFETY: tg_trigtuple is the old row of an UPDATE, of this relation.
    let old = (!insert).then(|| unsafe { Deformed::from_tuple(td.tg_trigtuple, desc) });
    let soft = match &old {
        // SAFETY: the new row of this relation.
        Some(old) => super::soft_delete(&info, old, &unsafe {
            Deformed::from_tuple(new_tuple, desc)
        }),
        None => None,
    };
    let actor = actor::current().actor_id;
    let steps = plan(insert, present, actor.is_some(), soft);
    if steps.is_empty() {
        return new_tuple;
    }
    let mut attnums = Vec::with_capacity(steps.len());
    let mut values = Vec::with_capacity(steps.len());
    let mut nulls = Vec::with_capacity(steps.len());
    for (role, source) in steps {
        let column = columns[role].as_ref().expect("planned roles are present");
        let value = match source {
            Source::Now => Some(now_as(column)),
            // SAFETY: `actor` is a text datum (plan asks for it only when set).
            Source::Actor => Some(unsafe { actor_as(column, actor.expect("an actor")) }),
            Source::Old => old.as_ref().and_then(|o| o.get(column.index)),
            Source::Null => None,
        };
        attnums.push(column.index as i32 + 1);
        values.push(value.unwrap_or(Datum::from(0)));
        nulls.push(value.is_none());
    }
    // SAFETY: the columns are the relation's, the datums of their types; the
    // new tuple is formed in the trigger's memory context.
    unsafe {
        pg_sys::heap_modify_tuple_by_cols(
            new_tuple,
            desc,
            attnums.len() as i32,
            attnums.as_mut_ptr(),
            values.as_mut_ptr(),
            nulls.as_mut_ptr(),
        )
    }
}

/// The statement's start time, as the column's type.
fn now_as(column: &StampColumn) -> Datum {
    // SAFETY: reads the statement's start time.
    let now = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    let now = Datum::from(now);
    // SAFETY: the conversions take a timestamptz and return the column's type.
    unsafe {
        match column.typid {
            pg_sys::TIMESTAMPTZOID => now,
            pg_sys::TIMESTAMPOID => crate::pg::call1(pg_sys::timestamptz_timestamp, now),
            pg_sys::DATEOID => crate::pg::call1(pg_sys::timestamptz_date, now),
            _ => AuditError::InvalidArgument {
                reason: format!(
                    "a stamped time column must be timestamptz, timestamp or date, not type {}",
                    column.typid.to_u32()
                ),
            }
            .report(),
        }
    }
}

/// The actor id (text) as the column's type, through its input function
/// (an id that the type does not take fails the write with the type's error).
///
/// # Safety
/// `actor` must be a text datum.
unsafe fn actor_as(column: &StampColumn, actor: Datum) -> Datum {
    let (input, ioparam) = column
        .input
        .as_ref()
        .expect("*_by columns have an input function");
    // SAFETY: the caller's contract; the input function is the column type's.
    unsafe {
        let text = pg_sys::text_to_cstring(actor.cast_mut_ptr());
        pg_sys::InputFunctionCall(input.get(), text, *ioparam, column.typmod)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    const ALL: [bool; 6] = [true; 6];

    #[test]
    fn insert_sets_created_and_updated() {
        assert_eq!(
            plan(true, ALL, true, None),
            vec![
                (CREATED_AT, Source::Now),
                (UPDATED_AT, Source::Now),
                (CREATED_BY, Source::Actor),
                (UPDATED_BY, Source::Actor)
            ]
        );
        // Without an actor the *_by columns keep what the statement wrote.
        assert_eq!(
            plan(true, ALL, false, None),
            vec![(CREATED_AT, Source::Now), (UPDATED_AT, Source::Now)]
        );
    }

    #[test]
    fn update_never_changes_created() {
        assert_eq!(
            plan(false, ALL, true, None),
            vec![
                (CREATED_AT, Source::Old),
                (CREATED_BY, Source::Old),
                (UPDATED_AT, Source::Now),
                (UPDATED_BY, Source::Actor)
            ]
        );
    }

    #[test]
    fn soft_delete_and_restore() {
        let deleted = plan(false, ALL, true, Some("deleted"));
        assert!(deleted.contains(&(DELETED_AT, Source::Now)));
        assert!(deleted.contains(&(DELETED_BY, Source::Actor)));
        let restored = plan(false, ALL, false, Some("restored"));
        assert!(restored.contains(&(DELETED_AT, Source::Null)));
        assert!(restored.contains(&(DELETED_BY, Source::Null)));
        assert!(!plan(false, ALL, true, None)
            .iter()
            .any(|(r, _)| *r == DELETED_AT || *r == DELETED_BY));
    }

    #[test]
    fn only_present_columns() {
        let present = [false, true, false, false, false, false];
        assert_eq!(
            plan(true, present, true, None),
            vec![(UPDATED_AT, Source::Now)]
        );
        assert!(plan(false, [false; 6], true, Some("deleted")).is_empty());
    }
}
