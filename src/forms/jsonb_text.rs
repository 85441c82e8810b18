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

/// Appends numeric text for the numeric starting at the given aligned bytes.
pub type NumericText<'a> = dyn FnMut(&[u8], &mut Vec<u8>) + 'a;

/// Appends the text of the jsonb container `data` (the bytes after the
/// varlena header, 4-byte aligned in memory).
pub fn render(data: &[u8], out: &mut Vec<u8>, numeric: &mut NumericText) -> Result<(), Malformed> {
    let header = read_u32(data, 0)?;
    let count = (header & JB_CMASK) as usize;
    let object = header & JB_FOBJECT != 0;
    let nchildren = if object { count * 2 } else { count };
    let base = 4 + 4 * nchildren;
    if base > data.len() {
        return Err(Malformed);
    }
    let entry = |i: usize| read_u32(data, 4 + 4 * i);
    if header & JB_FSCALAR != 0 {
        if count != 1 {
            return Err(Malformed);
        }
        let e = entry(0)?;
        return child(data, base, e, 0, end_of(e, 0), out, numeric);
    }
    if object {
        // Keys are children 0..count and their values count..2*count: walk
        // both with running offsets (the values' data follows the keys').
        let (mut key_start, mut value_start) = (0, offset_of(data, count)?);
        out.push(b'{');
        for i in 0..count {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            let (ke, ve) = (entry(i)?, entry(i + count)?);
            let (key_end, value_end) = (end_of(ke, key_start), end_of(ve, value_start));
            child(data, base, ke, key_start, key_end, out, numeric)?;
            out.extend_from_slice(b": ");
            child(data, base, ve, value_start, value_end, out, numeric)?;
            (key_start, value_start) = (key_end, value_end);
        }
        out.push(b'}');
    } else {
        let mut start = 0;
        out.push(b'[');
        for i in 0..count {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            let e = entry(i)?;
            let end = end_of(e, start);
            child(data, base, e, start, end, out, numeric)?;
            start = end;
        }
        out.push(b']');
    }
    Ok(())
}

/// Where a child's data ends, given where it starts: an entry holds either
/// its length or (every 32nd entry) its end offset.
fn end_of(e: u32, start: usize) -> usize {
    let field = (e & JENTRY_OFFLENMASK) as usize;
    if e & JENTRY_HAS_OFF != 0 {
        field
    } else {
        start + field
    }
}

/// Where child `i`'s data starts (jsonb's getJsonbOffset).
fn offset_of(data: &[u8], i: usize) -> Result<usize, Malformed> {
    let mut offset = 0;
    for j in (0..i).rev() {
        let e = read_u32(data, 4 + 4 * j)?;
        offset += (e & JENTRY_OFFLENMASK) as usize;
        if e & JENTRY_HAS_OFF != 0 {
            break;
        }
    }
    Ok(offset)
}

/// One child, a scalar or a nested container, whose data is at [start, end)
/// of the data area that begins at `base`.
fn child(
    data: &[u8],
    base: usize,
    e: u32,
    start: usize,
    end: usize,
    out: &mut Vec<u8>,
    numeric: &mut NumericText,
) -> Result<(), Malformed> {
    let aligned = || data.get(base + align4(start)..base + end).ok_or(Malformed);
    match e & JENTRY_TYPEMASK {
        JENTRY_ISSTRING => escape(data.get(base + start..base + end).ok_or(Malformed)?, out),
        JENTRY_ISNUMERIC => numeric(aligned()?, out),
        JENTRY_ISBOOL_FALSE => out.extend_from_slice(b"false"),
        JENTRY_ISBOOL_TRUE => out.extend_from_slice(b"true"),
        JENTRY_ISNULL => out.extend_from_slice(b"null"),
        JENTRY_ISCONTAINER => render(aligned()?, out, numeric)?,
        _ => return Err(Malformed),
    }
    Ok(())
}

/// A JSON string literal as PostgreSQL's escape_json writes it.
pub fn escape(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in s.iter().enumerate() {
        if !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        out.extend_from_slice(&s[run..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
            }
        }
        run = i + 1;
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

/// The bytes escape_json does not copy as they are: controls, '"' and '\'.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

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
    // SAFETY: the caller guarantees a valid, detoasted jsonb.
    if unsafe { render_jsonb(j, out) }.is_err() {
        out.truncate(start);
        // SAFETY: as above; JsonbToCString returns a palloc'd C string.
        unsafe {
            let total = pgrx::varsize(j.cast()) as i32;
            let s = pg_sys::JsonbToCString(std::ptr::null_mut(), &mut (*j).root, total);
            out.extend_from_slice(std::ffi::CStr::from_ptr(s).to_bytes());
        }
    }
}

/// Our rendering of a (detoasted) jsonb, numerics through numeric_out.
///
/// # Safety
/// `j` must point to a valid, detoasted jsonb value.
pub unsafe fn render_jsonb(j: *mut pg_sys::Jsonb, out: &mut Vec<u8>) -> Result<(), Malformed> {
    // SAFETY: the caller guarantees a valid, detoasted jsonb: its container
    // is the `varsize - VARHDRSZ` bytes after the header.
    let data = unsafe {
        let total = pgrx::varsize(j.cast());
        std::slice::from_raw_parts(
            std::ptr::addr_of!((*j).root).cast::<u8>(),
            total - pg_sys::VARHDRSZ,
        )
    };
    let mut numeric = |n: &[u8], out: &mut Vec<u8>| {
        // SAFETY: `n` is an aligned numeric inside the container (render
        // checked its bounds); numeric_out returns a palloc'd C string.
        unsafe {
            let s = crate::pg::call1(pg_sys::numeric_out, pg_sys::Datum::from(n.as_ptr()));
            out.extend_from_slice(std::ffi::CStr::from_ptr(s.cast_mut_ptr()).to_bytes());
        }
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
