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

use crate::jsonb::layout::{
    JB_CMASK, JB_FOBJECT, JB_FSCALAR, JENTRY_HAS_OFF, JENTRY_ISBOOL_FALSE, JENTRY_ISBOOL_TRUE,
    JENTRY_ISCONTAINER, JENTRY_ISNULL, JENTRY_ISNUMERIC, JENTRY_ISSTRING, JENTRY_OFFLENMASK,
    JENTRY_TYPEMASK,
};
use crate::jsonb::numeric::{
    FORM_MASK, LONG_DSCALE_MASK, LONG_NEGATIVE, SHORT, SHORT_DSCALE_MASK, SHORT_DSCALE_SHIFT,
    SHORT_SIGN_NEGATIVE, SHORT_WEIGHT_MASK, SHORT_WEIGHT_NEGATIVE, SPECIAL,
};

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
    let mut i = 0;
    loop {
        i += plain_run(&s[i..]);
        let Some(&b) = s.get(i) else { break };
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
        i += 1;
        run = i;
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

/// How many bytes at the start of `s` need no escaping. Eight bytes at a
/// time while none of them can (the byte-at-a-time loop dominated
/// rendering a row's text), read straight from the string: the last
/// partial chunk of a string of eight bytes or more is read as its last
/// eight bytes, overlapping bytes already found plain; a shorter string is
/// checked byte by byte. (Copying the tail into a padded buffer and reading
/// it back as a word stalled on the store, which showed in `verify_audit()`.)
fn plain_run(s: &[u8]) -> usize {
    let plain_from = |i: usize| {
        i + s[i..]
            .iter()
            .take_while(|&&b| !NEEDS_ESCAPE[b as usize])
            .count()
    };
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        if needs_escape(word(chunk)) {
            return plain_from(i);
        }
        i += 8;
    }
    if i == s.len() || (s.len() >= 8 && !needs_escape(word(&s[s.len() - 8..]))) {
        return s.len();
    }
    plain_from(i)
}

/// Eight bytes as one word.
fn word(chunk: &[u8]) -> u64 {
    u64::from_ne_bytes(chunk.try_into().expect("eight bytes"))
}

/// Whether any byte of the word needs escaping (exact about whether there
/// is one, which is all this asks).
fn needs_escape(x: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Nonzero when some byte of `x` is below `n` (n <= 0x80).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    below(x, 0x20)
        | below(x ^ (ONES * u64::from(b'"')), 1)
        | below(x ^ (ONES * u64::from(b'\\')), 1)
        != 0
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
    render(data, out, &mut numeric_or_out)
}

/// Appends a numeric's text: [`numeric_text`], or `numeric_out` for what
/// that leaves to PostgreSQL.
pub fn numeric_or_out(n: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    if numeric_text(n, out).is_ok() {
        return;
    }
    out.truncate(start);
    // SAFETY: `n` is a whole, aligned numeric varlena (inside a container,
    // whose bounds render checked, or a value's own); numeric_out returns a
    // palloc'd C string.
    unsafe {
        let s = crate::pg::call1(pg_sys::numeric_out, pg_sys::Datum::from(n.as_ptr()));
        out.extend_from_slice(std::ffi::CStr::from_ptr(s.cast_mut_ptr()).to_bytes());
    }
}

/// An object key as [`render`] prints it, with what follows it (`"key": `).
pub fn object_key(key: &[u8]) -> Box<[u8]> {
    let mut text = Vec::with_capacity(key.len() + 4);
    escape(key, &mut text);
    text.extend_from_slice(b": ");
    text.into_boxed_slice()
}

/// Appends the text of the jsonb object the capture builds, from its
/// values rather than its binary form (which it skips reading back): the
/// same bytes as [`render`] prints for that form. `keys[i]` is
/// [`object_key`] of `pairs[i]`'s key, made once per column; the pairs are
/// in jsonb key order, as the object stores them. Numerics are printed by
/// `numeric` (the writer's: [`numeric_or_out`]).
///
/// # Safety
/// As [`render_value`], for every pair's value.
pub unsafe fn render_object(
    pairs: &[pg_sys::JsonbPair],
    keys: &[&[u8]],
    out: &mut Vec<u8>,
    numeric: &mut NumericText,
) -> Result<(), Malformed> {
    if pairs.len() != keys.len() {
        return Err(Malformed);
    }
    out.push(b'{');
    for (i, (p, key)) in pairs.iter().zip(keys).enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(key);
        // SAFETY: the caller's contract.
        unsafe { render_value(&p.value, out, numeric)? };
    }
    out.push(b'}');
    Ok(())
}

/// Appends the text of a value of such an object (a scalar, an array of
/// them, a stored container, or a nested object): as [`render`] prints it
/// from the binary form, stored containers through [`render`] itself.
///
/// # Safety
/// Every pointer in the tree must be valid for the lengths it gives: string
/// bytes, numerics (whole varlenas), element and pair arrays, binary data.
pub unsafe fn render_value(
    v: &pg_sys::JsonbValue,
    out: &mut Vec<u8>,
    numeric: &mut NumericText,
) -> Result<(), Malformed> {
    use pg_sys::jbvType;
    // SAFETY: each arm reads the union member its type names; pointers and
    // lengths are valid (the caller's contract).
    unsafe {
        match v.type_ {
            jbvType::jbvNull => out.extend_from_slice(b"null"),
            jbvType::jbvBool => {
                out.extend_from_slice(if v.val.boolean { b"true" } else { b"false" })
            }
            jbvType::jbvString => escape(raw(v.val.string.val.cast(), v.val.string.len)?, out),
            jbvType::jbvNumeric => {
                let n = v.val.numeric.cast::<pg_sys::varlena>();
                numeric(
                    std::slice::from_raw_parts(n.cast(), pgrx::varsize_any(n)),
                    out,
                )
            }
            jbvType::jbvArray if !v.val.array.rawScalar => {
                out.push(b'[');
                for (i, e) in raw(v.val.array.elems, v.val.array.nElems)?
                    .iter()
                    .enumerate()
                {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    render_value(e, out, numeric)?;
                }
                out.push(b']');
            }
            jbvType::jbvObject => {
                out.push(b'{');
                let pairs = raw(v.val.object.pairs, v.val.object.nPairs)?;
                for (i, p) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    render_value(&p.key, out, numeric)?;
                    out.extend_from_slice(b": ");
                    render_value(&p.value, out, numeric)?;
                }
                out.push(b'}');
            }
            jbvType::jbvBinary => {
                let len = usize::try_from(v.val.binary.len).map_err(|_| Malformed)?;
                let data = std::slice::from_raw_parts(v.val.binary.data.cast::<u8>(), len);
                render(data, out, numeric)?
            }
            _ => return Err(Malformed),
        }
    }
    Ok(())
}

/// `n` items at `p` (none for a null pointer or a negative count).
///
/// # Safety
/// `p` must be valid for `n` items when it is not null.
unsafe fn raw<'a, T>(p: *const T, n: i32) -> Result<&'a [T], Malformed> {
    let n = usize::try_from(n).map_err(|_| Malformed)?;
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Malformed);
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// Appends what `numeric_out` prints for the numeric varlena at the start of
/// `n` (header included), read from its bytes: a numeric in a jsonb is
/// finite, and calling `numeric_out` for each was a twentieth of
/// `verify_audit()`. NaN and infinities, and anything this does not
/// understand, are an error, for the caller to hand to `numeric_out`.
pub fn numeric_text(n: &[u8], out: &mut Vec<u8>) -> Result<(), Malformed> {
    let payload = varlena_payload(n)?;
    let u16_at = |at: usize| -> Result<u16, Malformed> {
        let b = payload.get(at..at + 2).ok_or(Malformed)?;
        Ok(u16::from_ne_bytes([b[0], b[1]]))
    };
    let header = u16_at(0)?;
    let (negative, dscale, weight, digits_at) = match header & FORM_MASK {
        SHORT => {
            let weight = if header & SHORT_WEIGHT_NEGATIVE != 0 {
                (!SHORT_WEIGHT_MASK | (header & SHORT_WEIGHT_MASK)) as i16
            } else {
                (header & SHORT_WEIGHT_MASK) as i16
            };
            (
                header & SHORT_SIGN_NEGATIVE != 0,
                ((header & SHORT_DSCALE_MASK) >> SHORT_DSCALE_SHIFT) as usize,
                weight,
                2,
            )
        }
        SPECIAL => return Err(Malformed),
        sign => (
            sign == LONG_NEGATIVE,
            (header & LONG_DSCALE_MASK) as usize,
            u16_at(2)? as i16,
            4,
        ),
    };
    let digit_bytes = payload.get(digits_at..).ok_or(Malformed)?;
    if digit_bytes.len() % 2 != 0 {
        return Err(Malformed);
    }
    let ndigits = digit_bytes.len() / 2;
    let digit = |d: i64| -> Result<u16, Malformed> {
        if d < 0 || d as usize >= ndigits {
            return Ok(0);
        }
        let d = d as usize;
        let v = u16::from_ne_bytes([digit_bytes[2 * d], digit_bytes[2 * d + 1]]);
        if v > 9999 {
            return Err(Malformed);
        }
        Ok(v)
    };
    out.reserve(4 * (weight.max(0) as usize + 1) + dscale + 3);
    if negative {
        out.push(b'-');
    }
    let mut d: i64 = 0;
    if weight < 0 {
        d = i64::from(weight) + 1;
        out.push(b'0');
    } else {
        while d <= i64::from(weight) {
            let four = four_digits(digit(d)?);
            // The first base-10000 digit loses its leading zeros, not its last.
            let skip = if d == 0 {
                four[..3].iter().take_while(|&&c| c == b'0').count()
            } else {
                0
            };
            out.extend_from_slice(&four[skip..]);
            d += 1;
        }
    }
    if dscale > 0 {
        out.push(b'.');
        let end = out.len() + dscale;
        while out.len() < end {
            out.extend_from_slice(&four_digits(digit(d)?));
            d += 1;
        }
        out.truncate(end);
    }
    Ok(())
}

fn four_digits(v: u16) -> [u8; 4] {
    [
        b'0' + (v / 1000) as u8,
        b'0' + (v / 100 % 10) as u8,
        b'0' + (v / 10 % 10) as u8,
        b'0' + (v % 10) as u8,
    ]
}

/// The bytes after a varlena's header, for the two uncompressed inline forms
/// (the 1-byte and the 4-byte header), as a little-endian machine lays them
/// out; anything else is for PostgreSQL's own functions.
fn varlena_payload(n: &[u8]) -> Result<&[u8], Malformed> {
    if cfg!(target_endian = "big") {
        return Err(Malformed);
    }
    let first = *n.first().ok_or(Malformed)?;
    // Low bits: x1 a 1-byte header (0x01 alone: a TOAST pointer), 00 a
    // 4-byte header, 10 compressed.
    let (header, total) = if first & 0x01 == 0x01 && first != 0x01 {
        (1, (first >> 1) as usize)
    } else if first & 0x03 == 0x00 {
        (4, (read_u32(n, 0)? >> 2) as usize)
    } else {
        return Err(Malformed);
    };
    if total < header || total > n.len() {
        return Err(Malformed);
    }
    Ok(&n[header..total])
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

    /// A numeric as PostgreSQL lays it out: a 4-byte varlena header, then the
    /// long form's sign and display scale, its weight and base-10000 digits.
    fn long_numeric(negative: bool, dscale: u16, weight: i16, digits: &[u16]) -> Vec<u8> {
        let mut payload = Vec::new();
        payload.extend_from_slice(&(if negative { 0x4000 } else { 0 } | dscale).to_ne_bytes());
        payload.extend_from_slice(&weight.to_ne_bytes());
        digits
            .iter()
            .for_each(|d| payload.extend_from_slice(&d.to_ne_bytes()));
        let total = (payload.len() + 4) as u32;
        let mut n = (total << 2).to_ne_bytes().to_vec();
        n.extend_from_slice(&payload);
        n
    }

    fn short_numeric(negative: bool, dscale: u16, weight: i16, digits: &[u16]) -> Vec<u8> {
        let header: u16 = 0x8000
            | if negative { 0x2000 } else { 0 }
            | (dscale << 7)
            | if weight < 0 { 0x0040 } else { 0 }
            | (weight as u16 & 0x003F);
        let mut payload = header.to_ne_bytes().to_vec();
        digits
            .iter()
            .for_each(|d| payload.extend_from_slice(&d.to_ne_bytes()));
        let mut n = vec![(((payload.len() + 1) as u8) << 1) | 1];
        n.extend_from_slice(&payload);
        n
    }

    fn numeric(n: &[u8]) -> Result<String, Malformed> {
        let mut out = Vec::new();
        numeric_text(n, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// The chunked scan finds every byte that needs escaping wherever it
    /// falls in a long string, next to bytes that do not (0x7f, 0x80 and
    /// up): a string escapes as its bytes do one by one (each checked by
    /// `escapes_like_escape_json` and below).
    #[test]
    fn escapes_long_strings_like_a_byte_at_a_time() {
        let naive = |s: &[u8]| {
            let mut out = vec![b'"'];
            for &b in s {
                let mut one = Vec::new();
                escape(&[b], &mut one);
                out.extend_from_slice(&one[1..one.len() - 1]);
            }
            out.push(b'"');
            out
        };
        assert_eq!(
            naive(b"\x00\x1f\"\\"),
            b"\"\\u0000\\u001f\\\"\\\\\"".to_vec()
        );
        let fillers = [b'a', 0x7f, 0x80, 0xe9, b' ', b'!', b'#', b'[', b']'];
        for special in [b'"', b'\\', b'\n', 0x00, 0x01, 0x1f, 0x08, 0x0c] {
            for len in (1..=17).chain([23, 24, 25, 33]) {
                for at in 0..len {
                    let mut s: Vec<u8> = (0..len).map(|i| fillers[i % fillers.len()]).collect();
                    s[at] = special;
                    let mut out = Vec::new();
                    escape(&s, &mut out);
                    assert_eq!(out, naive(&s), "{special:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn numerics_print_as_numeric_out_prints_them() {
        assert_eq!(numeric(&long_numeric(false, 0, 0, &[])), Ok("0".into()));
        assert_eq!(numeric(&long_numeric(false, 2, 0, &[])), Ok("0.00".into()));
        assert_eq!(numeric(&long_numeric(false, 0, 0, &[42])), Ok("42".into()));
        assert_eq!(
            numeric(&long_numeric(true, 0, 1, &[12, 3456])),
            Ok("-123456".into())
        );
        assert_eq!(
            numeric(&long_numeric(false, 0, 2, &[1])),
            Ok("100000000".into())
        );
        assert_eq!(
            numeric(&long_numeric(false, 2, 0, &[7, 5000])),
            Ok("7.50".into())
        );
        assert_eq!(
            numeric(&long_numeric(false, 6, 0, &[3, 1415, 9265])),
            Ok("3.141592".into())
        );
        assert_eq!(
            numeric(&long_numeric(true, 6, -1, &[100])),
            Ok("-0.010000".into())
        );
        assert_eq!(
            numeric(&long_numeric(false, 9, -3, &[1000])),
            Ok("0.000000001".into())
        );
        assert_eq!(
            numeric(&long_numeric(false, 9, -2, &[12])),
            Ok("0.000000120".into())
        );
        assert_eq!(
            numeric(&short_numeric(false, 2, 0, &[1249, 7500])),
            Ok("1249.75".into())
        );
        assert_eq!(
            numeric(&short_numeric(true, 3, -1, &[5])),
            Ok("-0.000".into())
        );
        assert_eq!(
            numeric(&short_numeric(false, 0, 0, &[9999])),
            Ok("9999".into())
        );
    }

    #[test]
    fn special_or_broken_numerics_are_left_to_numeric_out() {
        let mut nan = long_numeric(false, 0, 0, &[]);
        nan[4..6].copy_from_slice(&0xC000_u16.to_ne_bytes());
        assert_eq!(numeric(&nan), Err(Malformed));
        assert_eq!(
            numeric(&long_numeric(false, 0, 0, &[10000])),
            Err(Malformed)
        );
        let mut truncated = long_numeric(false, 0, 0, &[1, 2]);
        truncated.pop();
        assert_eq!(numeric(&truncated), Err(Malformed));
        assert_eq!(numeric(&[]), Err(Malformed));
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
