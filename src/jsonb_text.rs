//! jsonb's text form (what `jsonb::text` and COPY print), rendered straight
//! from the binary container.
//!
//! Every audit row's checksum covers the text of its jsonb columns, for the
//! writer and again for `verify_audit()`. PostgreSQL's `JsonbToCString`
//! spends most of its time appending strings one byte at a time
//! (`escape_json`); this walks the container once and copies unescaped runs
//! whole. The output is byte for byte the same (a `#[pg_test]` compares the
//! two over every kind of value), and anything unexpected falls back to
//! PostgreSQL's own function.

use pgrx::pg_sys;

const JB_CMASK: u32 = 0x0FFF_FFFF;
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;
const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISSTRING: u32 = 0x0000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;
const JENTRY_ISCONTAINER: u32 = 0x5000_0000;

/// The container was not what this renderer understands.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// Appends the text of the jsonb container `data` (the bytes after the
/// varlena header, 4-byte aligned in memory). `numeric` appends the text of
/// the numeric that starts at the given (4-byte aligned) bytes.
pub fn render(
    data: &[u8],
    out: &mut Vec<u8>,
    numeric: &mut dyn FnMut(&[u8], &mut Vec<u8>),
) -> Result<(), Malformed> {
    let header = read_u32(data, 0)?;
    let count = (header & JB_CMASK) as usize;
    let object = header & JB_FOBJECT != 0;
    let nchildren = if object { count * 2 } else { count };
    let base = 4 + 4 * nchildren;
    if base > data.len() {
        return Err(Malformed);
    }
    // (start, end) of each child in the data area, relative to `base`.
    let mut spans = Vec::with_capacity(nchildren);
    let mut start = 0usize;
    for i in 0..nchildren {
        let e = read_u32(data, 4 + 4 * i)?;
        let field = (e & JENTRY_OFFLENMASK) as usize;
        let end = if e & JENTRY_HAS_OFF != 0 {
            field
        } else {
            start + field
        };
        spans.push((e, start, end));
        start = end;
    }
    let child = |i: usize,
                 out: &mut Vec<u8>,
                 numeric: &mut dyn FnMut(&[u8], &mut Vec<u8>)|
     -> Result<(), Malformed> {
        let (e, s, end) = spans[i];
        let bytes = data.get(base + s..base + end).ok_or(Malformed)?;
        let aligned = || data.get(base + align4(s)..base + end).ok_or(Malformed);
        match e & JENTRY_TYPEMASK {
            JENTRY_ISSTRING => escape(bytes, out),
            JENTRY_ISNUMERIC => numeric(aligned()?, out),
            JENTRY_ISBOOL_FALSE => out.extend_from_slice(b"false"),
            JENTRY_ISBOOL_TRUE => out.extend_from_slice(b"true"),
            JENTRY_ISNULL => out.extend_from_slice(b"null"),
            JENTRY_ISCONTAINER => render(aligned()?, out, numeric)?,
            _ => return Err(Malformed),
        }
        Ok(())
    };
    if header & JB_FSCALAR != 0 {
        return if count == 1 {
            child(0, out, numeric)
        } else {
            Err(Malformed)
        };
    }
    if object {
        out.push(b'{');
        for i in 0..count {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            child(i, out, numeric)?;
            out.extend_from_slice(b": ");
            child(i + count, out, numeric)?;
        }
        out.push(b'}');
    } else {
        out.push(b'[');
        for i in 0..count {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            child(i, out, numeric)?;
        }
        out.push(b']');
    }
    Ok(())
}

/// A JSON string literal as PostgreSQL's escape_json writes it.
pub fn escape(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&s[run..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        run = i + 1;
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn read_u32(data: &[u8], at: usize) -> Result<u32, Malformed> {
    let b = data.get(at..at + 4).ok_or(Malformed)?;
    Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The text of a (detoasted) jsonb, appended to `out`; PostgreSQL's own
/// rendering if ours does not understand the container.
///
/// # Safety
/// `j` must point to a valid, detoasted jsonb value.
pub unsafe fn append_text(j: *mut pg_sys::Jsonb, out: &mut Vec<u8>) {
    let start = out.len();
    if render_jsonb(j, out).is_err() {
        out.truncate(start);
        let total = pgrx::varsize(j.cast()) as i32;
        let s = pg_sys::JsonbToCString(std::ptr::null_mut(), &mut (*j).root, total);
        out.extend_from_slice(std::ffi::CStr::from_ptr(s).to_bytes());
    }
}

/// Our rendering of a (detoasted) jsonb, numerics through numeric_out.
///
/// # Safety
/// `j` must point to a valid, detoasted jsonb value.
pub unsafe fn render_jsonb(j: *mut pg_sys::Jsonb, out: &mut Vec<u8>) -> Result<(), Malformed> {
    let total = pgrx::varsize(j.cast());
    let data = std::slice::from_raw_parts(
        std::ptr::addr_of!((*j).root).cast::<u8>(),
        total - pg_sys::VARHDRSZ,
    );
    let mut numeric = |n: &[u8], out: &mut Vec<u8>| {
        let s = crate::json::call1(pg_sys::numeric_out, pg_sys::Datum::from(n.as_ptr()));
        out.extend_from_slice(std::ffi::CStr::from_ptr(s.cast_mut_ptr()).to_bytes());
    };
    render(data, out, &mut numeric)
}

#[cfg(test)]
mod unit {
    use super::*;

    fn esc(s: &str) -> String {
        let mut out = Vec::new();
        escape(s.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_escape_json() {
        assert_eq!(esc("plain"), "\"plain\"");
        assert_eq!(esc("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(esc("\n\r\t\u{8}\u{c}"), "\"\\n\\r\\t\\b\\f\"");
        assert_eq!(esc("\u{1}x\u{1f}"), "\"\\u0001x\\u001f\"");
        assert_eq!(esc("é ✓ /"), "\"é ✓ /\"");
        assert_eq!(esc(""), "\"\"");
    }

    fn u32s(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_ne_bytes()).collect()
    }

    #[test]
    fn renders_an_object_of_strings_bools_and_null() {
        // {"a": "x", "bb": true, "c": null} as jsonb lays it out (keys sorted by length).
        let mut data = u32s(&[
            JB_FOBJECT | 3,
            JENTRY_ISSTRING | 1, // "a"
            JENTRY_ISSTRING | 1, // "c"
            JENTRY_ISSTRING | 2, // "bb"
            JENTRY_ISSTRING | 1, // "x"
            JENTRY_ISNULL,       // null
            JENTRY_ISBOOL_TRUE,  // true
        ]);
        data.extend_from_slice(b"acbbx");
        let mut out = Vec::new();
        render(&data, &mut out, &mut |_, _| unreachable!()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a": "x", "c": null, "bb": true}"#
        );
    }

    #[test]
    fn rejects_truncated_data() {
        let data = u32s(&[JB_FOBJECT | 3, JENTRY_ISSTRING | 1]);
        assert_eq!(
            render(&data, &mut Vec::new(), &mut |_, _| {}),
            Err(Malformed)
        );
    }
}
