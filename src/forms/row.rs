//! The row forms built straight from an audit row's datums, and their SHA-256:
//! what the writer stores in `checksum` and what `verify_audit()` recomputes.
//! A row with an `outcome` has the form v2; a row without one (written by
//! 0.1.0) the form v1.
//!
//! The bytes are those of `forms::row_v1` / `forms::row_v2` over the columns' texts: integers
//! and oids in decimal; `logged_at` in microseconds since 1970-01-01 00:00:00
//! UTC (so no TimeZone or DateStyle setting changes it); jsonb, inet and
//! text[] as PostgreSQL prints them; text as is (UTF-8).

use std::cell::RefCell;
use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum};

use super::{push_field, push_int_field, sha256, Hash, PG_EPOCH_OFFSET_US, ROW_V1, ROW_V2};
use crate::audit_log::row::{col, Kind, COLUMNS};
use crate::pg;
use crate::pg::recent::Recent;

thread_local! {
    /// array_out keeps per-type state in fn_extra, so it needs a long-lived FmgrInfo.
    static ARRAY_OUT: RefCell<Option<Box<pg_sys::FmgrInfo>>> = const { RefCell::new(None) };
    /// Reused buffers for the canonical form and one jsonb's text.
    static BUFFERS: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// The texts of the last inets rendered, by their bytes: bulk writes
    /// repeat one address.
    static INET_TEXT: RefCell<Recent<Vec<u8>, Vec<u8>>> = const { RefCell::new(Recent::new(4)) };
    /// The texts of the last text[]s rendered, by their bytes: the rows of
    /// one UPDATE repeat a few lists of changed columns (a column set to
    /// the value it already had drops out), and `array_out` through fmgr
    /// for each row showed in an audited bulk UPDATE's profile.
    static ARRAY_TEXT: RefCell<Recent<Vec<u8>, Vec<u8>>> = const { RefCell::new(Recent::new(4)) };
}

/// Appends the field of a value whose bytes (payload) are `bytes`: its text
/// as kept in `recent`, rendered by `render` when it is not.
fn push_kept_field(
    recent: &mut Recent<Vec<u8>, Vec<u8>>,
    out: &mut Vec<u8>,
    bytes: &[u8],
    render: impl FnOnce() -> Vec<u8>,
) {
    let text = recent.get_or_make(bytes, || (bytes.to_vec(), render()), drop);
    push_field(out, Some(text));
}

/// The checksum of an audit row given as datums in `audit_log` column order
/// (the `checksum` column itself is ignored). `texts` holds, by column, the
/// text of jsonb columns already rendered from the values they were built
/// of (the writer's); any other jsonb column is rendered from its bytes.
///
/// # Safety
/// `values[i]` must be a valid datum of `COLUMNS[i]`'s type wherever
/// `!nulls[i]`; the slices hold at least the columns up to `checksum`; a
/// text in `texts` must be its column's jsonb text.
pub unsafe fn checksum(values: &[Datum], nulls: &[bool], texts: &[(usize, Vec<u8>)]) -> Hash {
    BUFFERS.with_borrow_mut(|(out, text)| {
        out.clear();
        // SAFETY: the caller guarantees the datums' types.
        unsafe { canonical(values, nulls, texts, out, text) };
        sha256(out)
    })
}

/// The row form itself: the bytes whose SHA-256 is the checksum (what a
/// receipt carries, so that it proves the row's values).
///
/// # Safety
/// As [`checksum`].
pub unsafe fn canonical_bytes(values: &[Datum], nulls: &[bool]) -> Vec<u8> {
    let (mut out, mut text) = (Vec::new(), Vec::new());
    // SAFETY: the caller guarantees the datums' types.
    unsafe { canonical(values, nulls, &[], &mut out, &mut text) };
    out
}

/// Appends the row form of the row to `out` (`text`: scratch space): v2
/// when it has an outcome, else v1, which ends before `checksum`.
///
/// # Safety
/// As [`checksum`].
unsafe fn canonical(
    values: &[Datum],
    nulls: &[bool],
    texts: &[(usize, Vec<u8>)],
    out: &mut Vec<u8>,
    text: &mut Vec<u8>,
) {
    // A row of audit_log as 0.1.0 made it has no outcome column at all.
    let v2 = nulls.get(col::OUTCOME) == Some(&false);
    out.extend_from_slice(if v2 { ROW_V2 } else { ROW_V1 });
    let covered = if v2 { COLUMNS.len() } else { col::CHECKSUM };
    for (i, (_, kind)) in COLUMNS.iter().enumerate().take(covered) {
        if *kind == Kind::Checksum {
            continue;
        }
        if nulls[i] {
            push_field(out, None);
            continue;
        }
        let v = values[i];
        match kind {
            Kind::Int8 => push_int_field(out, v.value() as i64),
            Kind::Oid => push_int_field(out, (v.value() as u32).into()),
            Kind::TimestampTz => {
                push_int_field(out, (v.value() as i64).wrapping_add(PG_EPOCH_OFFSET_US))
            }
            // SAFETY: a non-NULL text datum of the row.
            Kind::Text => push_field(out, Some(unsafe { pg::varlena_bytes(v) })),
            Kind::Jsonb => {
                text.clear();
                // SAFETY: a non-NULL jsonb datum of the row, detoasted here.
                let from_bytes = |text: &mut Vec<u8>| unsafe {
                    let j = pg::detoast(v).cast::<pg_sys::Jsonb>();
                    super::jsonb_text::append_text(j, text);
                };
                match texts.iter().find(|(c, _)| *c == i) {
                    Some((_, made)) => {
                        // Debug builds (every test suite's) check each one.
                        if cfg!(debug_assertions) {
                            from_bytes(text);
                            assert_eq!(
                                String::from_utf8_lossy(made),
                                String::from_utf8_lossy(text),
                                "jsonb text made from the values differs from its bytes' text"
                            );
                        }
                        push_field(out, Some(made))
                    }
                    None => {
                        from_bytes(text);
                        push_field(out, Some(text))
                    }
                }
            }
            // SAFETY: a non-NULL inet datum of the row.
            Kind::Inet => unsafe { push_inet(out, v) },
            // SAFETY: a non-NULL text[] datum of the row.
            Kind::TextArray => unsafe { push_text_array(out, v) },
            Kind::Checksum => unreachable!("skipped above"),
        }
    }
}

/// Appends the field of an inet.
///
/// # Safety
/// `v` must be a valid, non-NULL inet datum.
unsafe fn push_inet(out: &mut Vec<u8>, v: Datum) {
    INET_TEXT.with_borrow_mut(|recent| {
        // SAFETY: inet is a varlena (the caller's contract); inet_out takes
        // it and returns a palloc'd NUL-terminated string.
        push_kept_field(recent, out, unsafe { pg::varlena_bytes(v) }, || unsafe {
            let s = pg::call1(pg_sys::inet_out, v);
            CStr::from_ptr(s.cast_mut_ptr()).to_bytes().to_vec()
        })
    })
}

/// Appends the field of a text[].
///
/// # Safety
/// `v` must be a valid, non-NULL text[] datum.
unsafe fn push_text_array(out: &mut Vec<u8>, v: Datum) {
    ARRAY_TEXT.with_borrow_mut(|recent| {
        // SAFETY: a text[] is a varlena (the caller's contract), which
        // array_out renders.
        push_kept_field(recent, out, unsafe { pg::varlena_bytes(v) }, || unsafe {
            array_text(v).to_bytes().to_vec()
        })
    })
}

/// text[]'s text, through a long-lived `array_out`.
///
/// # Safety
/// `v` must be a valid, non-NULL text[] datum.
unsafe fn array_text<'a>(v: Datum) -> &'a CStr {
    ARRAY_OUT.with_borrow_mut(|f| {
        let f = f.get_or_insert_with(|| {
            // SAFETY: a zeroed FmgrInfo is what fmgr_info_cxt fills in; its
            // state lives in TopMemoryContext, as long as this cache.
            unsafe {
                let mut f: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
                pg_sys::fmgr_info_cxt(
                    pg_sys::Oid::from(pg_sys::F_ARRAY_OUT),
                    f.as_mut(),
                    pg_sys::TopMemoryContext,
                );
                f
            }
        });
        // SAFETY: array_out on a valid array returns a palloc'd C string,
        // which lives as long as the current memory context.
        unsafe { CStr::from_ptr(pg_sys::OutputFunctionCall(f.as_mut(), v)) }
    })
}

#[cfg(test)]
mod unit {
    use super::push_kept_field;
    use crate::pg::recent::Recent;

    #[test]
    fn a_kept_text_is_the_field_of_its_value() {
        let mut recent = Recent::new(4);
        let mut out = Vec::new();
        push_kept_field(&mut recent, &mut out, b"ab", || b"{a,b}".to_vec());
        // Found again by its bytes: not rendered a second time.
        push_kept_field(&mut recent, &mut out, b"ab", || panic!("rendered twice"));
        assert_eq!(out, b"5:{a,b}5:{a,b}");
    }
}
