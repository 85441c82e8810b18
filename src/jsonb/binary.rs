//! jsonb's binary form written from a `JsonbValue` tree, as PostgreSQL's
//! `JsonbValueToJsonb` writes it, with one addition: a `jbvBinary` value (a
//! container of an existing jsonb) is copied in as it is, as a nested
//! container.
//!
//! PostgreSQL's own function cannot take a container inside a tree, so a
//! captured jsonb column had to be unpacked into a tree of values, one
//! `pushJsonbValue` call per token, only to be written back as the same
//! bytes, which showed in an audited bulk DELETE's profile. The
//! output is byte for byte PostgreSQL's (a `#[pg_test]` compares the two
//! over every kind of column), so the checksum's jsonb text is unchanged.

use pgrx::pg_sys::{self, jbvType, JsonbValue};

use super::layout::{
    JB_FARRAY, JB_FOBJECT, JB_FSCALAR, JB_OFFSET_STRIDE, JENTRY_HAS_OFF, JENTRY_ISBOOL_FALSE,
    JENTRY_ISBOOL_TRUE, JENTRY_ISCONTAINER, JENTRY_ISNULL, JENTRY_ISNUMERIC, JENTRY_OFFLENMASK,
    JENTRY_TYPEMASK,
};

/// Why a tree could not be written.
#[derive(Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A container's data exceeds what a jsonb entry can address (256 MB),
    /// the limit PostgreSQL reports for the same value.
    TooLarge { object: bool },
    /// A value type this writer does not produce (a datetime value, or a
    /// scalar document given as a container).
    Unsupported(u32),
}

impl EncodeError {
    /// What went wrong, in PostgreSQL's words where it has them.
    pub fn reason(&self) -> String {
        match self {
            EncodeError::TooLarge { object } => format!(
                "total size of jsonb {} elements exceeds the maximum of {JENTRY_OFFLENMASK} bytes",
                if *object { "object" } else { "array" },
            ),
            EncodeError::Unsupported(t) => {
                format!(
                    "a captured value became jsonb value type {t}, which lead_audit does not write"
                )
            }
        }
    }
}

/// Writes the jsonb of `v` into `out` (cleared first): the root container,
/// the bytes that follow a jsonb datum's 4-byte varlena header. (Padding is
/// counted from the start of `out`, which is 4-byte aligned in the datum.)
///
/// # Safety
/// Every pointer in the tree must be valid for the lengths it gives: string
/// bytes, numerics (whole varlenas), element and pair arrays, binary data.
pub unsafe fn encode(v: &JsonbValue, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.clear();
    let mut header = 0;
    // SAFETY: the caller's contract.
    unsafe {
        match v.type_ {
            jbvType::jbvArray | jbvType::jbvObject => value(out, &mut header, v),
            jbvType::jbvBinary => Err(EncodeError::Unsupported(v.type_)),
            // A scalar document is an array of one element flagged scalar.
            _ => array(out, &mut header, std::slice::from_ref(v), true),
        }
    }
}

/// Appends one value's data and sets its entry (`header`) in its parent.
///
/// # Safety
/// As [`encode`].
unsafe fn value(out: &mut Vec<u8>, header: &mut u32, v: &JsonbValue) -> Result<(), EncodeError> {
    // SAFETY: each arm reads the union member its type names (the caller's contract).
    unsafe {
        match v.type_ {
            jbvType::jbvNull => *header = JENTRY_ISNULL,
            jbvType::jbvBool => {
                *header = if v.val.boolean {
                    JENTRY_ISBOOL_TRUE
                } else {
                    JENTRY_ISBOOL_FALSE
                }
            }
            jbvType::jbvString => {
                let s: &[u8] = elements(v.val.string.val.cast(), v.val.string.len)?;
                out.extend_from_slice(s);
                *header = checked_len(s.len(), false)?;
            }
            jbvType::jbvNumeric => {
                let n = v.val.numeric.cast::<pg_sys::varlena>();
                let numeric = std::slice::from_raw_parts(n.cast::<u8>(), pgrx::varsize_any(n));
                let pad = pad_to_int(out);
                out.extend_from_slice(numeric);
                *header = JENTRY_ISNUMERIC | checked_len(pad + numeric.len(), false)?;
            }
            jbvType::jbvArray => {
                let a = v.val.array;
                array(out, header, elements(a.elems, a.nElems)?, a.rawScalar)?
            }
            jbvType::jbvObject => {
                let o = v.val.object;
                object(out, header, elements(o.pairs, o.nPairs)?)?
            }
            jbvType::jbvBinary => {
                let data = binary_bytes(v)?;
                let pad = pad_to_int(out);
                out.extend_from_slice(data);
                *header = JENTRY_ISCONTAINER | checked_len(pad + data.len(), false)?;
            }
            other => return Err(EncodeError::Unsupported(other)),
        }
    }
    Ok(())
}

/// An array's container (PostgreSQL's convertJsonbArray).
///
/// # Safety
/// As [`encode`].
unsafe fn array(
    out: &mut Vec<u8>,
    header: &mut u32,
    elems: &[JsonbValue],
    raw_scalar: bool,
) -> Result<(), EncodeError> {
    let start = out.len();
    pad_to_int(out);
    let mut head = elems.len() as u32 | JB_FARRAY;
    if raw_scalar {
        head |= JB_FSCALAR;
    }
    out.extend_from_slice(&head.to_ne_bytes());
    let entries = reserve_entries(out, elems.len());
    let mut total = 0;
    for (i, e) in elems.iter().enumerate() {
        // SAFETY: the caller's contract.
        let meta = unsafe { child(out, e, &mut total, i, false)? };
        set_entry(out, entries, i, meta);
    }
    *header = JENTRY_ISCONTAINER | checked_len(out.len() - start, false)?;
    Ok(())
}

/// An object's container (PostgreSQL's convertJsonbObject): every key, then
/// every value. The pairs must already be in jsonb key order, unique.
///
/// # Safety
/// As [`encode`].
unsafe fn object(
    out: &mut Vec<u8>,
    header: &mut u32,
    pairs: &[pg_sys::JsonbPair],
) -> Result<(), EncodeError> {
    let start = out.len();
    pad_to_int(out);
    let n = pairs.len();
    out.extend_from_slice(&(n as u32 | JB_FOBJECT).to_ne_bytes());
    let entries = reserve_entries(out, 2 * n);
    let mut total = 0;
    for (i, p) in pairs.iter().enumerate() {
        // SAFETY: the caller's contract.
        let meta = unsafe { child(out, &p.key, &mut total, i, true)? };
        set_entry(out, entries, i, meta);
    }
    for (i, p) in pairs.iter().enumerate() {
        // SAFETY: the caller's contract.
        let meta = unsafe { child(out, &p.value, &mut total, i + n, true)? };
        set_entry(out, entries, i + n, meta);
    }
    *header = JENTRY_ISCONTAINER | checked_len(out.len() - start, true)?;
    Ok(())
}

/// Appends child `i` of a container and returns its entry: its length, or
/// for every [`JB_OFFSET_STRIDE`]th child the end offset of its data
/// (`total`, the container's data so far).
///
/// # Safety
/// As [`encode`].
unsafe fn child(
    out: &mut Vec<u8>,
    v: &JsonbValue,
    total: &mut usize,
    i: usize,
    object: bool,
) -> Result<u32, EncodeError> {
    let mut meta = 0;
    // SAFETY: the caller's contract.
    unsafe { value(out, &mut meta, v)? };
    *total += (meta & JENTRY_OFFLENMASK) as usize;
    let end = checked_len(*total, object)?;
    Ok(if i.is_multiple_of(JB_OFFSET_STRIDE) {
        (meta & JENTRY_TYPEMASK) | end | JENTRY_HAS_OFF
    } else {
        meta
    })
}

fn checked_len(len: usize, object: bool) -> Result<u32, EncodeError> {
    if len > JENTRY_OFFLENMASK as usize {
        return Err(EncodeError::TooLarge { object });
    }
    Ok(len as u32)
}

/// Pads `out` with zero bytes to a multiple of 4; returns how many.
fn pad_to_int(out: &mut Vec<u8>) -> usize {
    let pad = out.len().next_multiple_of(4) - out.len();
    out.resize(out.len() + pad, 0);
    pad
}

/// Reserves `n` entries; returns where they start.
fn reserve_entries(out: &mut Vec<u8>, n: usize) -> usize {
    let at = out.len();
    out.resize(at + 4 * n, 0);
    at
}

fn set_entry(out: &mut [u8], entries: usize, i: usize, meta: u32) {
    out[entries + 4 * i..entries + 4 * i + 4].copy_from_slice(&meta.to_ne_bytes());
}

/// # Safety
/// `p` must point to `n` values when `n > 0`.
unsafe fn elements<'a, T>(p: *const T, n: i32) -> Result<&'a [T], EncodeError> {
    let n = usize::try_from(n).map_err(|_| EncodeError::TooLarge { object: false })?;
    if n == 0 {
        return Ok(&[]);
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// The container bytes of a `jbvBinary` value; a scalar document cannot be
/// nested as a container (its scalar must be given instead).
///
/// # Safety
/// `v` must be a `jbvBinary` whose data is valid for its length.
unsafe fn binary_bytes<'a>(v: &JsonbValue) -> Result<&'a [u8], EncodeError> {
    // SAFETY: the caller's contract.
    let data: &[u8] = unsafe { elements(v.val.binary.data.cast(), v.val.binary.len)? };
    let head = data
        .get(..4)
        .map(|h| u32::from_ne_bytes(h.try_into().expect("four bytes")));
    match head {
        Some(h) if h & JB_FSCALAR == 0 => Ok(data),
        _ => Err(EncodeError::Unsupported(jbvType::jbvBinary)),
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::forms::jsonb_text::render;

    fn string(s: &'static str) -> JsonbValue {
        // SAFETY: JsonbValue is plain data; zeroed is a valid starting point.
        let mut v: JsonbValue = unsafe { std::mem::zeroed() };
        v.type_ = jbvType::jbvString;
        v.val.string.len = s.len() as i32;
        v.val.string.val = s.as_ptr().cast_mut().cast();
        v
    }

    fn scalar(type_: u32, boolean: bool) -> JsonbValue {
        // SAFETY: as above.
        let mut v: JsonbValue = unsafe { std::mem::zeroed() };
        v.type_ = type_;
        v.val.boolean = boolean;
        v
    }

    fn array_of(elems: &mut [JsonbValue]) -> JsonbValue {
        // SAFETY: as above.
        let mut v: JsonbValue = unsafe { std::mem::zeroed() };
        v.type_ = jbvType::jbvArray;
        v.val.array.nElems = elems.len() as i32;
        v.val.array.elems = elems.as_mut_ptr();
        v
    }

    fn object_of(pairs: &mut [pg_sys::JsonbPair]) -> JsonbValue {
        // SAFETY: as above.
        let mut v: JsonbValue = unsafe { std::mem::zeroed() };
        v.type_ = jbvType::jbvObject;
        v.val.object.nPairs = pairs.len() as i32;
        v.val.object.pairs = pairs.as_mut_ptr();
        v
    }

    fn pair(key: &'static str, value: JsonbValue) -> pg_sys::JsonbPair {
        // SAFETY: as above.
        let mut p: pg_sys::JsonbPair = unsafe { std::mem::zeroed() };
        p.key = string(key);
        p.value = value;
        p
    }

    /// `bytes` in 4-byte aligned memory, as a datum's are (zero-padded to
    /// whole words).
    fn aligned(bytes: &[u8]) -> Vec<u32> {
        bytes
            .chunks(4)
            .map(|c| {
                let mut w = [0; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_ne_bytes(w)
            })
            .collect()
    }

    /// The text of an encoded document, read back by the checksum's renderer.
    fn text(v: &JsonbValue) -> String {
        let mut bytes = Vec::new();
        // SAFETY: every tree here points at live test data.
        unsafe { encode(v, &mut bytes) }.unwrap();
        // The renderer reads 4-byte aligned data, as a datum is.
        let words = aligned(&bytes);
        // SAFETY: u32s viewed as their bytes.
        let data = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), bytes.len()) };
        let mut out = Vec::new();
        render(data, &mut out, &mut |_, _| panic!("no numerics here")).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn scalars_arrays_and_objects_read_back_as_written() {
        assert_eq!(text(&string("a\"b")), r#""a\"b""#);
        assert_eq!(text(&scalar(jbvType::jbvNull, false)), "null");
        let mut elems = [
            string("x"),
            scalar(jbvType::jbvBool, true),
            scalar(jbvType::jbvBool, false),
            scalar(jbvType::jbvNull, false),
        ];
        assert_eq!(text(&array_of(&mut elems)), r#"["x", true, false, null]"#);
        assert_eq!(text(&array_of(&mut [])), "[]");
        let mut inner = [string("tag1"), string("")];
        let mut pairs = [
            pair("a", string("1")),
            pair("bb", array_of(&mut inner)),
            pair("ccc", scalar(jbvType::jbvNull, false)),
        ];
        assert_eq!(
            text(&object_of(&mut pairs)),
            r#"{"a": "1", "bb": ["tag1", ""], "ccc": null}"#
        );
    }

    /// The checksum's text made from the values (render_object, with keys
    /// rendered once) is the text of the bytes they are written as, for
    /// escapes, arrays, nulls, nested objects and a stored container.
    #[test]
    fn text_from_the_values_is_the_text_of_their_bytes() {
        let mut stored_bytes = Vec::new();
        let mut stored_elems = [
            string("in \\ a \"stored\" one"),
            scalar(jbvType::jbvNull, false),
        ];
        // SAFETY: live test data.
        unsafe { encode(&array_of(&mut stored_elems), &mut stored_bytes) }.unwrap();
        let stored_words = aligned(&stored_bytes);
        // SAFETY: as above.
        let mut stored: JsonbValue = unsafe { std::mem::zeroed() };
        stored.type_ = jbvType::jbvBinary;
        stored.val.binary.len = stored_bytes.len() as i32;
        stored.val.binary.data = stored_words.as_ptr().cast_mut().cast();
        let mut tags = [
            string("t\u{1}ab"),
            scalar(jbvType::jbvNull, false),
            string(""),
        ];
        let mut nested = [pair("k", scalar(jbvType::jbvBool, true))];
        let mut pairs = [
            pair("a", string("line\nbreak")),
            pair("é", scalar(jbvType::jbvBool, false)),
            pair("q\"", scalar(jbvType::jbvNull, false)),
            pair("tags", array_of(&mut tags)),
            pair("inner", object_of(&mut nested)),
            pair("stored", stored),
            pair("long key", string("a string well over eight bytes")),
        ];
        let keys: Vec<Box<[u8]>> = ["a", "é", "q\"", "tags", "inner", "stored", "long key"]
            .iter()
            .map(|k| crate::forms::jsonb_text::object_key(k.as_bytes()))
            .collect();
        let keys: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        let mut made = Vec::new();
        let mut numeric = |_: &[u8], _: &mut Vec<u8>| panic!("no numerics here");
        // SAFETY: live test data.
        unsafe { crate::forms::jsonb_text::render_object(&pairs, &keys, &mut made, &mut numeric) }
            .unwrap();
        assert_eq!(
            String::from_utf8(made).unwrap(),
            text(&object_of(&mut pairs))
        );
        // Keys that do not match the pairs are refused, not misprinted.
        let mut out = Vec::new();
        // SAFETY: live test data.
        let short = unsafe {
            crate::forms::jsonb_text::render_object(&pairs, &keys[1..], &mut out, &mut numeric)
        };
        assert!(short.is_err());
    }

    #[test]
    fn every_32nd_entry_holds_an_offset() {
        // 70 elements cross the stride twice; each is read back in place.
        let mut elems: Vec<JsonbValue> = (0..70)
            .map(|i| {
                if i % 3 == 0 {
                    string("abc")
                } else {
                    string("z")
                }
            })
            .collect();
        let expected: Vec<&str> = (0..70)
            .map(|i| if i % 3 == 0 { "\"abc\"" } else { "\"z\"" })
            .collect();
        assert_eq!(
            text(&array_of(&mut elems)),
            format!("[{}]", expected.join(", "))
        );
        let mut bytes = Vec::new();
        // SAFETY: live test data.
        unsafe { encode(&array_of(&mut elems), &mut bytes) }.unwrap();
        let entry = |i: usize| u32::from_ne_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap());
        assert_eq!(entry(0), JENTRY_HAS_OFF | 3, "child 0: its end offset");
        assert_eq!(entry(1), 1, "child 1: its length");
        assert_eq!(entry(16), 1, "child 16: its length");
        // Children 0..=32 hold 11 "abc"s (0, 3, .., 30) and 22 "z"s: 55 bytes.
        assert_eq!(entry(32), JENTRY_HAS_OFF | 55, "child 32: its end offset");
    }

    #[test]
    fn data_past_what_an_entry_addresses_is_too_large() {
        assert_eq!(checked_len(0x0FFF_FFFF, true), Ok(0x0FFF_FFFF));
        assert_eq!(
            checked_len(0x1000_0000, true),
            Err(EncodeError::TooLarge { object: true })
        );
        assert!(EncodeError::TooLarge { object: false }
            .reason()
            .contains("jsonb array elements exceeds the maximum of 268435455 bytes"));
    }

    #[test]
    fn a_scalar_document_cannot_be_nested() {
        let scalar_doc: [u32; 3] = [JB_FARRAY | JB_FSCALAR | 1, JENTRY_ISNULL, 0];
        // SAFETY: as above.
        let mut v: JsonbValue = unsafe { std::mem::zeroed() };
        v.type_ = jbvType::jbvBinary;
        v.val.binary.len = 8;
        v.val.binary.data = scalar_doc.as_ptr().cast_mut().cast();
        let mut elems = [v];
        let mut out = Vec::new();
        // SAFETY: live test data.
        let result = unsafe { encode(&array_of(&mut elems), &mut out) };
        assert_eq!(result, Err(EncodeError::Unsupported(jbvType::jbvBinary)));
    }
}
