//! The canonical form of an audit row and its SHA-256 checksum.
//!
//! The form is documented in the README so that anyone can recompute a
//! checksum outside the database from `COPY audit_log TO STDOUT`:
//!
//! ```text
//! canonical = "lead_audit:row:v1\n" || field(id) || field(tx_id) || ... || field(application_name)
//! field(v)  = "~"                          when v is NULL
//!           | byte_length(t) ":" t         otherwise, t = the text form below
//! ```
//!
//! Columns in table order, all but `checksum`. Text forms: integers and oids
//! in decimal; `logged_at` as microseconds since 1970-01-01 00:00:00 UTC
//! (so no TimeZone or DateStyle setting changes it); jsonb, inet and text[] as
//! PostgreSQL prints them; text as is (UTF-8).

use std::cell::RefCell;
use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum};
use sha2::{Digest, Sha256};

use crate::writer::{Kind, COLUMNS};

pub const ROW_PREFIX: &[u8] = b"lead_audit:row:v1\n";

/// Appends one field of the canonical form.
pub fn push_field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.push(b'~'),
        Some(v) => {
            push_decimal(out, v.len() as i64);
            out.push(b':');
            out.extend_from_slice(v);
        }
    }
}

/// The decimal form of `v`, written at the end of `buf` (no allocation:
/// this runs for several fields of every row written and verified).
fn decimal(buf: &mut [u8; 20], v: i64) -> &[u8] {
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

pub fn push_decimal(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(decimal(&mut [0; 20], v));
}

/// A field holding a decimal number.
fn push_int_field(out: &mut Vec<u8>, v: i64) {
    push_field(out, Some(decimal(&mut [0; 20], v)));
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

thread_local! {
    /// array_out keeps per-type state in fn_extra, so it needs a long-lived FmgrInfo.
    static ARRAY_OUT: RefCell<Option<Box<pg_sys::FmgrInfo>>> = const { RefCell::new(None) };
    /// Reused buffers for the canonical form and one jsonb's text.
    static CANONICAL: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// The last inet rendered: its varlena bytes and its text.
    static INET_TEXT: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The checksum of an audit row given as datums in `audit_log` column order
/// (the `checksum` column itself is ignored).
///
/// # Safety
/// `values[i]` must be a valid datum of `COLUMNS[i]`'s type wherever `!nulls[i]`.
pub unsafe fn row_checksum(values: &[Datum], nulls: &[bool]) -> [u8; 32] {
    CANONICAL.with_borrow_mut(|(out, text)| {
        out.clear();
        canonical_row(values, nulls, out, text);
        sha256(out)
    })
}

/// Appends the canonical form of the row to `out` (`text`: scratch space).
unsafe fn canonical_row(values: &[Datum], nulls: &[bool], out: &mut Vec<u8>, text: &mut Vec<u8>) {
    out.extend_from_slice(ROW_PREFIX);
    for (i, (_, kind)) in COLUMNS.iter().enumerate() {
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
            Kind::TimestampTz => push_int_field(out, v.value() as i64 + PG_EPOCH_OFFSET_US),
            Kind::Text => {
                let t = pg_sys::pg_detoast_datum_packed(v.cast_mut_ptr());
                let bytes = std::slice::from_raw_parts(
                    pgrx::vardata_any(t).cast::<u8>(),
                    pgrx::varsize_any_exhdr(t),
                );
                push_field(out, Some(bytes))
            }
            Kind::Jsonb => {
                let j = pg_sys::pg_detoast_datum(v.cast_mut_ptr()).cast::<pg_sys::Jsonb>();
                text.clear();
                crate::jsonb_text::append_text(j, text);
                push_field(out, Some(text))
            }
            Kind::Inet => INET_TEXT.with_borrow_mut(|(raw, text)| {
                // Bulk writes repeat one address: render it once.
                let p = v.cast_mut_ptr::<pg_sys::varlena>();
                let bytes = std::slice::from_raw_parts(p.cast::<u8>(), pgrx::varsize_any(p));
                if bytes != raw.as_slice() {
                    let s = crate::json::call1(pg_sys::inet_out, v);
                    *text = CStr::from_ptr(s.cast_mut_ptr()).to_bytes().to_vec();
                    *raw = bytes.to_vec();
                }
                push_field(out, Some(text))
            }),
            Kind::TextArray => {
                let s = ARRAY_OUT.with_borrow_mut(|f| {
                    let f = f.get_or_insert_with(|| {
                        let mut f: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
                        pg_sys::fmgr_info_cxt(
                            pg_sys::Oid::from(pg_sys::F_ARRAY_OUT),
                            f.as_mut(),
                            pg_sys::TopMemoryContext,
                        );
                        f
                    });
                    pg_sys::OutputFunctionCall(f.as_mut(), v)
                });
                push_field(out, Some(CStr::from_ptr(s).to_bytes()))
            }
            Kind::Checksum => unreachable!(),
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn canonical<'a>(fields: impl IntoIterator<Item = Option<&'a [u8]>>) -> Vec<u8> {
        let mut out = ROW_PREFIX.to_vec();
        for f in fields {
            push_field(&mut out, f);
        }
        out
    }

    #[test]
    fn fields_are_length_prefixed_and_null_is_tilde() {
        let c = canonical([Some(&b"42"[..]), None, Some(&b""[..]), Some("é".as_bytes())]);
        assert_eq!(c, b"lead_audit:row:v1\n2:42~0:2:\xc3\xa9".to_vec());
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        // Without length prefixes "ab"+"c" and "a"+"bc" would collide.
        let a = canonical([Some(&b"ab"[..]), Some(&b"c"[..])]);
        let b = canonical([Some(&b"a"[..]), Some(&b"bc"[..])]);
        assert_ne!(sha256(&a), sha256(&b));
        // NULL and the text "~" differ too.
        assert_ne!(canonical([None]), canonical([Some(&b"~"[..])]));
    }

    #[test]
    fn decimals() {
        for v in [0i64, 7, -7, 42, i64::MAX, i64::MIN, 1_700_000_000_000_000] {
            let mut out = Vec::new();
            push_decimal(&mut out, v);
            assert_eq!(out, v.to_string().into_bytes());
        }
    }

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        let d = sha256(b"abc");
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
