//! Datums to jsonb values, exactly as `to_jsonb` makes them.
//!
//! The values must be exactly what `to_jsonb` gives, but calling `to_jsonb`
//! per column costs a type lookup and a serialised jsonb per value. So the
//! common scalar types go straight into a `JsonbValue` (the same value
//! `to_jsonb` builds), and every other type (arrays, composites, enums,
//! domains, floats, json, ...) calls `to_jsonb` itself through a cached
//! `FmgrInfo`. Objects are written by [`binary`], never through text.

use std::cell::{RefCell, UnsafeCell};
use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum, Oid};

use super::binary::{self, EncodeError};
use super::layout;
use super::numeric;
use crate::error::AuditError;
use crate::pg;
use crate::pg::recent::Recent;
use crate::pg::spare;

/// A date/time value as [`datetime_text`] keys it: its type, its bits and
/// the session time zone it was rendered in.
type DateTimeKey = (Oid, i64, *const pg_sys::pg_tz);

thread_local! {
    /// The last object's bytes, reused: an object is written here, then
    /// copied once into its datum.
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The buffers of finished objects, for the next one to reuse: an
    /// audited row builds two or three objects, and allocating and freeing
    /// their buffers each time showed in the capture's own instructions.
    static SPARE: RefCell<Vec<Buffers>> = const { RefCell::new(Vec::new()) };
    /// The strings of the last two date/time values rendered.
    static DATETIMES: RefCell<Recent<DateTimeKey, Vec<u8>>> = const { RefCell::new(Recent::new(2)) };
}

/// A looked-up function, kept per column. fmgr may keep state in it between
/// calls (`fn_extra`), so it is mutable behind the shared references the
/// cached table metadata hands out: an `UnsafeCell`, used by one call at a time.
pub type Function = Box<UnsafeCell<pg_sys::FmgrInfo>>;

/// How one column's values become jsonb, decided once per column type.
pub enum Converter {
    Bool,
    Int2,
    Int4,
    Int8,
    Numeric(Function),
    /// text and varchar: the string itself.
    Text,
    Jsonb,
    /// date, timestamp, timestamptz: ISO 8601 as `to_jsonb` writes them.
    DateTime(Oid),
    /// Types `to_jsonb` renders with their output function as a JSON string.
    Output(Function),
    /// text[] and varchar[]: an array of strings (and nulls); an array of
    /// more than one dimension through `to_jsonb`.
    TextArray(Function),
    /// Everything else: `to_jsonb` itself.
    ToJsonb(Function),
}

impl Converter {
    /// The converter for a column of type `typid`; FmgrInfo state goes to `mcxt`.
    ///
    /// # Safety
    /// `mcxt` must be a valid memory context that outlives the converter.
    pub unsafe fn for_type(typid: Oid, collation: Oid, mcxt: pg_sys::MemoryContext) -> Converter {
        // SAFETY: `mcxt` is valid (the caller's contract); the type exists
        // (it is a column's type).
        unsafe {
            match typid {
                pg_sys::BOOLOID => Converter::Bool,
                pg_sys::INT2OID => Converter::Int2,
                pg_sys::INT4OID => Converter::Int4,
                pg_sys::INT8OID => Converter::Int8,
                pg_sys::NUMERICOID => Converter::Numeric(output_function(typid, mcxt)),
                pg_sys::TEXTOID | pg_sys::VARCHAROID => Converter::Text,
                pg_sys::JSONBOID => Converter::Jsonb,
                pg_sys::DATEOID | pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID => {
                    Converter::DateTime(typid)
                }
                pg_sys::TEXTARRAYOID | pg_sys::VARCHARARRAYOID => {
                    Converter::TextArray(to_jsonb_function(typid, collation, mcxt))
                }
                pg_sys::UUIDOID
                | pg_sys::BPCHAROID
                | pg_sys::NAMEOID
                | pg_sys::INETOID
                | pg_sys::CIDROID
                | pg_sys::MACADDROID
                | pg_sys::BYTEAOID
                | pg_sys::TIMEOID
                | pg_sys::TIMETZOID
                | pg_sys::INTERVALOID => Converter::Output(output_function(typid, mcxt)),
                _ => Converter::ToJsonb(to_jsonb_function(typid, collation, mcxt)),
            }
        }
    }
}

/// The type's output function, ready to call.
///
/// # Safety
/// `typid` must be an existing type; `mcxt` a valid context.
pub unsafe fn output_function(typid: Oid, mcxt: pg_sys::MemoryContext) -> Function {
    let mut func = Oid::INVALID;
    let mut is_varlena = false;
    // SAFETY: the type exists and the context is valid (the caller's contract).
    unsafe {
        pg_sys::getTypeOutputInfo(typid, &mut func, &mut is_varlena);
        looked_up(func, mcxt)
    }
}

/// The type's input function, ready to call, and its I/O parameter.
///
/// # Safety
/// `typid` must be an existing type; `mcxt` a valid context.
pub unsafe fn input_function(typid: Oid, mcxt: pg_sys::MemoryContext) -> (Function, Oid) {
    let (mut func, mut ioparam) = (Oid::INVALID, Oid::INVALID);
    // SAFETY: the type exists and the context is valid (the caller's contract).
    unsafe {
        pg_sys::getTypeInputInfo(typid, &mut func, &mut ioparam);
        (looked_up(func, mcxt), ioparam)
    }
}

/// The function `func`, looked up for calls, its state kept in `mcxt`.
///
/// # Safety
/// `func` must be an existing function; `mcxt` a valid context.
unsafe fn looked_up(func: Oid, mcxt: pg_sys::MemoryContext) -> Function {
    // SAFETY: a zeroed FmgrInfo is what fmgr_info_cxt fills in (the
    // caller's contract for the rest).
    unsafe {
        let finfo: Function = Box::new(UnsafeCell::new(std::mem::zeroed()));
        pg_sys::fmgr_info_cxt(func, finfo.get(), mcxt);
        finfo
    }
}

/// `to_jsonb(anyelement)` for argument type `typid`. `to_jsonb` finds its
/// argument's type in `fn_expr`, so we give it a call expression with a typed
/// NULL constant, as the planner would.
///
/// # Safety
/// `typid` must be an existing type; `mcxt` a valid context.
unsafe fn to_jsonb_function(typid: Oid, collation: Oid, mcxt: pg_sys::MemoryContext) -> Function {
    // SAFETY: node and FmgrInfo construction in a valid context (the caller's
    // contract); the expression lives in `mcxt` as long as the FmgrInfo.
    unsafe {
        let finfo = looked_up(pg_sys::Oid::from(pg_sys::F_TO_JSONB), mcxt);
        let old = pg_sys::MemoryContextSwitchTo(mcxt);
        let arg = pg_sys::makeNullConst(typid, -1, collation);
        let args = pg_sys::lappend(std::ptr::null_mut(), arg.cast());
        let expr = pg_sys::makeFuncExpr(
            pg_sys::Oid::from(pg_sys::F_TO_JSONB),
            pg_sys::JSONBOID,
            args,
            Oid::INVALID,
            Oid::INVALID,
            pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
        );
        pg_sys::MemoryContextSwitchTo(old);
        (*finfo.get()).fn_expr = expr.cast();
        finfo
    }
}

/// Builds one jsonb object from keys given in jsonb's own key order (see
/// [`jsonb_key_order`]), so the pairs go to `JsonbValueToJsonb` as they are:
/// no per-object sort, and no `pushJsonbValue` call per key and value.
pub struct ObjectBuilder<'a> {
    pairs: Vec<pg_sys::JsonbPair>,
    /// Each pair's key as the object's text prints it, given with the key.
    key_texts: Vec<&'a [u8]>,
    /// What the values point to until [`finish`](Self::finish) copies them.
    kept: Kept,
}

/// An object builder's buffers, empty, kept in [`SPARE`] between objects.
#[derive(Default)]
struct Buffers {
    pairs: Vec<pg_sys::JsonbPair>,
    key_texts: Vec<&'static [u8]>,
    ints: Vec<IntNumeric>,
    strings: Vec<Box<[u8]>>,
}

impl Buffers {
    /// How many are kept (the most objects one captured row builds).
    const KEPT: usize = 4;
}

/// Values made for one object, held by its builder rather than palloc'd
/// one by one: a palloc is a call into PostgreSQL through pgrx's error
/// boundary, and a row has several integers and times.
struct Kept {
    /// Integers' numerics. Made with room for every pair, so that pushing
    /// never moves the ones already pointed to (when full, a numeric is
    /// palloc'd instead).
    ints: Vec<IntNumeric>,
    /// Strings (dates and times, and [`ObjectBuilder::add_string`]'s): a
    /// boxed slice does not move when its box does.
    strings: Vec<Box<[u8]>>,
}

impl Kept {
    /// `i` as a numeric that lives as long as these values.
    fn int(&mut self, i: i64) -> *mut pg_sys::varlena {
        if self.ints.len() == self.ints.capacity() {
            return int_numeric(i).cast_mut_ptr();
        }
        self.ints.push(IntNumeric::new(i));
        self.ints.last_mut().expect("just pushed").as_mut_ptr()
    }

    /// `bytes` as a string that lives as long as these values.
    fn string(&mut self, bytes: Box<[u8]>) -> (*mut std::ffi::c_char, i32) {
        let at = (bytes.as_ptr().cast_mut().cast(), bytes.len() as i32);
        self.strings.push(bytes);
        at
    }
}

impl Drop for ObjectBuilder<'_> {
    /// Gives the buffers back, emptied, for the next object.
    fn drop(&mut self) {
        let mut key_texts = std::mem::take(&mut self.key_texts);
        key_texts.clear();
        let mut spare = Buffers {
            pairs: std::mem::take(&mut self.pairs),
            // Empty, it holds no key: collecting it into a vector of
            // another lifetime reuses its allocation.
            key_texts: key_texts.into_iter().map(|_| &[][..]).collect(),
            ints: std::mem::take(&mut self.kept.ints),
            strings: std::mem::take(&mut self.kept.strings),
        };
        spare.pairs.clear();
        spare.ints.clear();
        spare.strings.clear();
        spare::give(&SPARE, spare, Buffers::KEPT);
    }
}

impl<'a> ObjectBuilder<'a> {
    pub fn with_capacity(n: usize) -> Self {
        let Buffers {
            mut pairs,
            mut key_texts,
            mut ints,
            strings,
        } = spare::take(&SPARE).unwrap_or_default();
        pairs.reserve(n);
        key_texts.reserve(n);
        // Room for every pair's integer: see `Kept::ints`.
        ints.reserve(n);
        ObjectBuilder {
            pairs,
            key_texts,
            kept: Kept { ints, strings },
        }
    }

    /// Adds `key: value`. Keys must come in [`jsonb_key_order`], without
    /// duplicates; their bytes must stay valid until [`finish`](Self::finish).
    ///
    /// # Safety
    /// `value` must be a valid datum of the type `conv` was made for (ignored when `isnull`).
    pub unsafe fn add(
        &mut self,
        key: &CStr,
        key_text: &'a [u8],
        conv: &Converter,
        value: Datum,
        isnull: bool,
    ) {
        // SAFETY: JsonbPair is plain data; zeroed is a valid starting point.
        let mut pair: pg_sys::JsonbPair = unsafe { std::mem::zeroed() };
        pair.key.type_ = pg_sys::jbvType::jbvString;
        pair.key.val.string.len = key.to_bytes().len() as i32;
        pair.key.val.string.val = key.as_ptr().cast_mut();
        pair.order = self.pairs.len() as u32;
        if isnull {
            pair.value.type_ = pg_sys::jbvType::jbvNull;
        } else {
            // SAFETY: the caller guarantees `value` is of the converter's type.
            unsafe { set_value(&mut pair.value, conv, value, &mut self.kept) };
        }
        self.pairs.push(pair);
        self.key_texts.push(key_text);
    }

    /// Adds `key: "value"`, a JSON string, in the same key order as [`add`](Self::add).
    pub fn add_string(&mut self, key: &CStr, key_text: &'a [u8], value: String) {
        // SAFETY: JsonbPair is plain data; zeroed is a valid starting point.
        let mut pair: pg_sys::JsonbPair = unsafe { std::mem::zeroed() };
        pair.key.type_ = pg_sys::jbvType::jbvString;
        pair.key.val.string.len = key.to_bytes().len() as i32;
        pair.key.val.string.val = key.as_ptr().cast_mut();
        pair.order = self.pairs.len() as u32;
        pair.value.type_ = pg_sys::jbvType::jbvString;
        (pair.value.val.string.val, pair.value.val.string.len) =
            self.kept.string(value.into_bytes().into_boxed_slice());
        self.pairs.push(pair);
        self.key_texts.push(key_text);
    }

    /// The finished object as a jsonb datum (palloc'd in the current
    /// context), and what `also` makes of its pairs and their keys' texts
    /// (all of which live only as long as this call), given with the
    /// length of the jsonb's bytes: the text the checksum covers, rendered
    /// from the values rather than read back from the jsonb's bytes.
    pub fn finish<T>(
        mut self,
        also: impl FnOnce(&[pg_sys::JsonbPair], &[&[u8]], usize) -> T,
    ) -> (Datum, T) {
        // SAFETY: JsonbValue is plain data; every pair holds a complete
        // value whose pointers live as long as this builder; the keys are
        // sorted and unique.
        let mut object: pg_sys::JsonbValue = unsafe { std::mem::zeroed() };
        object.type_ = pg_sys::jbvType::jbvObject;
        object.val.object.nPairs = self.pairs.len() as i32;
        object.val.object.pairs = self.pairs.as_mut_ptr();
        // SAFETY: as above.
        let encoded = ENCODED.with_borrow_mut(|out| unsafe {
            binary::encode(&object, out).map(|()| (pg::varlena_datum(out), out.len()))
        });
        match encoded {
            Ok((datum, len)) => (datum, also(&self.pairs, &self.key_texts, len)),
            Err(e @ EncodeError::TooLarge { .. }) => {
                AuditError::ValueTooLarge { reason: e.reason() }.report()
            }
            Err(e @ EncodeError::Unsupported(_)) => {
                AuditError::UnsupportedValue { reason: e.reason() }.report()
            }
        }
    }
}

/// jsonb keeps object keys ordered by length, then bytewise: the order
/// [`ObjectBuilder::add`] needs.
pub fn jsonb_key_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The `JsonbValue` of one non-NULL datum, exactly as `to_jsonb` makes it.
///
/// # Safety
/// `value` must be a valid, non-NULL datum of the type `conv` was made for.
unsafe fn set_value(v: &mut pg_sys::JsonbValue, conv: &Converter, value: Datum, kept: &mut Kept) {
    // SAFETY: each arm reads `value` as the type its converter was made for
    // (the caller's contract) and calls PostgreSQL's own functions on it.
    unsafe {
        match conv {
            Converter::Bool => {
                v.type_ = pg_sys::jbvType::jbvBool;
                v.val.boolean = value.value() != 0;
            }
            Converter::Int2 => set_numeric(v, kept.int(value.value() as i16 as i64)),
            Converter::Int4 => set_numeric(v, kept.int(value.value() as i32 as i64)),
            Converter::Int8 => set_numeric(v, kept.int(value.value() as i64)),
            Converter::Numeric(out) => {
                let n = pg::detoast(value);
                if numeric::is_special(numeric_header(n)) {
                    // to_jsonb writes NaN and infinities as strings.
                    set_cstring(v, pg_sys::OutputFunctionCall(out.get(), value));
                } else {
                    set_numeric(v, n);
                }
            }
            Converter::Text => {
                let t = pg::detoast_packed(value);
                v.type_ = pg_sys::jbvType::jbvString;
                v.val.string.len = pgrx::varsize_any_exhdr(t) as i32;
                v.val.string.val = pgrx::vardata_any(t).cast_mut().cast();
            }
            Converter::Jsonb => {
                set_jsonb(v, pg::detoast(value).cast());
            }
            Converter::DateTime(typid) => {
                v.type_ = pg_sys::jbvType::jbvString;
                (v.val.string.val, v.val.string.len) = kept.string(datetime_text(*typid, value));
            }
            Converter::Output(out) => set_cstring(v, pg_sys::OutputFunctionCall(out.get(), value)),
            Converter::TextArray(f) => {
                let a = pg::detoast(value).cast::<pg_sys::ArrayType>();
                if (*a).ndim <= 1 {
                    set_string_array(v, a);
                } else {
                    let j = pg_sys::FunctionCall1Coll(f.get(), Oid::INVALID, Datum::from(a));
                    set_jsonb(v, j.cast_mut_ptr());
                }
            }
            Converter::ToJsonb(f) => {
                let j = pg_sys::FunctionCall1Coll(f.get(), Oid::INVALID, value);
                set_jsonb(v, j.cast_mut_ptr());
            }
        }
    }
}

/// A whole jsonb document as a value: a scalar as itself, a container as
/// its bytes (`jbvBinary`), which [`binary`] copies in as they are.
///
/// # Safety
/// `j` must point to a valid, detoasted jsonb that outlives `v`'s use.
unsafe fn set_jsonb(v: &mut pg_sys::JsonbValue, j: *mut pg_sys::Jsonb) {
    // SAFETY: a valid jsonb (the caller's contract): its root container is
    // the bytes after the varlena header.
    unsafe {
        // (Checked here first: most documents are containers, and the call
        // crosses pgrx's error boundary.)
        if (*j).root.header & layout::JB_FSCALAR != 0
            && pg_sys::JsonbExtractScalar(&mut (*j).root, v)
        {
            return;
        }
        v.type_ = pg_sys::jbvType::jbvBinary;
        v.val.binary.data = &raw mut (*j).root;
        v.val.binary.len = pgrx::varsize(j.cast()) as i32 - pg_sys::VARHDRSZ as i32;
    }
}

/// A text[] or varchar[] of at most one dimension as the array `to_jsonb`
/// makes of it: its elements as strings, NULL elements as nulls (an empty
/// array, of no dimension, as `[]`). This skips `to_jsonb`'s type lookups
/// and the jsonb it would serialise only for us to unpack again.
///
/// # Safety
/// `a` must point to a valid, detoasted array of text or varchar with at
/// most one dimension.
unsafe fn set_string_array(v: &mut pg_sys::JsonbValue, a: *mut pg_sys::ArrayType) {
    // SAFETY: deconstruct_array reads the valid array (the caller's
    // contract) with its element type's storage (varlena, int-aligned); the
    // element pointers point into the array, which outlives `v`'s use; the
    // element values are palloc'd in the current context like to_jsonb's.
    unsafe {
        let mut elems: *mut Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut n: i32 = 0;
        pg_sys::deconstruct_array(
            a,
            (*a).elemtype,
            -1,
            false,
            pg_sys::TYPALIGN_INT as std::ffi::c_char,
            &mut elems,
            &mut nulls,
            &mut n,
        );
        let n = n.max(0) as usize;
        let values = pg_sys::palloc0(n.max(1) * std::mem::size_of::<pg_sys::JsonbValue>())
            .cast::<pg_sys::JsonbValue>();
        for i in 0..n {
            let e = &mut *values.add(i);
            if *nulls.add(i) {
                e.type_ = pg_sys::jbvType::jbvNull;
            } else {
                let t = (*elems.add(i)).cast_mut_ptr::<pg_sys::varlena>();
                e.type_ = pg_sys::jbvType::jbvString;
                e.val.string.len = pgrx::varsize_any_exhdr(t) as i32;
                e.val.string.val = pgrx::vardata_any(t).cast_mut().cast();
            }
        }
        v.type_ = pg_sys::jbvType::jbvArray;
        v.val.array.nElems = n as i32;
        v.val.array.elems = values;
        v.val.array.rawScalar = false;
    }
}

/// An integer as a numeric, as to_jsonb makes it (`int64_to_numeric`'s
/// bytes, written by [`numeric`]), palloc'd in the current context.
fn int_numeric(i: i64) -> Datum {
    let n = IntNumeric::new(i);
    pg::varlena_datum(&n.bytes()[pg_sys::VARHDRSZ..])
}

/// An integer's numeric in line: the varlena (4-byte header and payload)
/// `int64_to_numeric` makes, aligned as a varlena must be.
#[repr(C, align(4))]
pub(crate) struct IntNumeric([u8; pg_sys::VARHDRSZ + numeric::MAX_INT_PAYLOAD]);

impl IntNumeric {
    pub(crate) fn new(i: i64) -> Self {
        let mut n = IntNumeric([0; pg_sys::VARHDRSZ + numeric::MAX_INT_PAYLOAD]);
        let payload: &mut [u8; numeric::MAX_INT_PAYLOAD] = (&mut n.0[pg_sys::VARHDRSZ..])
            .try_into()
            .expect("the payload's room");
        let len = numeric::int_payload(i, payload);
        // SAFETY: the buffer is 4-byte aligned and holds the header's four
        // bytes and `len` more.
        unsafe { pgrx::set_varsize_4b(n.as_mut_ptr(), (pg_sys::VARHDRSZ + len) as i32) };
        n
    }

    fn as_mut_ptr(&mut self) -> *mut pg_sys::varlena {
        self.0.as_mut_ptr().cast()
    }

    /// The varlena's bytes, header included.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the buffer is aligned and starts with the 4-byte header
        // `new` wrote (nothing else writes it), whose size is within it.
        let len = unsafe { pgrx::varsize_4b(self.0.as_ptr().cast()) };
        &self.0[..len]
    }
}

/// A date, timestamp or timestamptz as `to_jsonb`'s string.
///
/// Rows written by one statement mostly share their times (`now()` in
/// `created_at` and `updated_at`), and PostgreSQL's encoder (a time zone
/// look-up and a formatted print) was a tenth of building a row's jsonb:
/// the last two values rendered are kept, per type and session time zone
/// (the only setting the ISO 8601 form depends on; PostgreSQL keeps every
/// zone it loads for the life of the backend, so its pointer names it).
///
/// # Safety
/// `value` must be a valid datum of type `typid` (date, timestamp or timestamptz).
unsafe fn datetime_text(typid: Oid, value: Datum) -> Box<[u8]> {
    // SAFETY: reads the backend's current time zone pointer.
    let zone = unsafe { pg_sys::session_timezone }.cast_const();
    let key = (typid, value.value() as i64, zone);
    DATETIMES.with_borrow_mut(|kept| {
        let render = || {
            // SAFETY: the caller's contract; the encoder returns a palloc'd
            // C string, freed once copied.
            let bytes = unsafe {
                let text = pg_sys::JsonEncodeDateTime(
                    std::ptr::null_mut(),
                    value,
                    typid,
                    std::ptr::null(),
                );
                let bytes = CStr::from_ptr(text).to_bytes().to_vec();
                pg_sys::pfree(text.cast());
                bytes
            };
            (key, bytes)
        };
        kept.get_or_make(&key, render, drop).as_slice().into()
    })
}

/// The first header word of a detoasted numeric (after its 4-byte varlena
/// header).
///
/// # Safety
/// `n` must point to a valid numeric with a 4-byte header.
unsafe fn numeric_header(n: *mut pg_sys::varlena) -> u16 {
    // SAFETY: every numeric has at least its header word after the varlena
    // header (the caller's contract); read unaligned, as bytes.
    unsafe { u16::from_ne_bytes(*n.cast::<u8>().add(pg_sys::VARHDRSZ).cast::<[u8; 2]>()) }
}

fn set_numeric(v: &mut pg_sys::JsonbValue, numeric: *mut pg_sys::varlena) {
    v.type_ = pg_sys::jbvType::jbvNumeric;
    v.val.numeric = numeric.cast();
}

///
/// # Safety
/// `s` must be a NUL-terminated string that lives as long as `v` is used.
unsafe fn set_cstring(v: &mut pg_sys::JsonbValue, s: *mut std::ffi::c_char) {
    v.type_ = pg_sys::jbvType::jbvString;
    // SAFETY: the caller guarantees a valid C string.
    v.val.string.len = unsafe { CStr::from_ptr(s) }.to_bytes().len() as i32;
    v.val.string.val = s;
}

#[cfg(test)]
mod unit {
    use super::jsonb_key_order;

    #[test]
    fn keys_order_by_length_then_bytes() {
        let mut keys = vec!["status", "id", "email", "b", "a", "zz"];
        keys.sort_by(|a, b| jsonb_key_order(a.as_bytes(), b.as_bytes()));
        assert_eq!(keys, vec!["a", "b", "id", "zz", "email", "status"]);
    }
}
