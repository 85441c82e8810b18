//! Datums to jsonb, and which columns an UPDATE changed.
//!
//! The values must be exactly what `to_jsonb` gives, but calling `to_jsonb`
//! per column costs a type lookup and a serialised jsonb per value. So the
//! common scalar types go straight into a `JsonbValue` (the same value
//! `to_jsonb` builds), and every other type (arrays, composites, enums,
//! domains, floats, json, ...) calls `to_jsonb` itself through a cached
//! `FmgrInfo`. Objects are assembled with `pushJsonbValue`, never through text.

use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum, Oid};

/// How one column's values become jsonb, decided once per column type.
pub enum Converter {
    Bool,
    Int2,
    Int4,
    Int8,
    Numeric(Box<pg_sys::FmgrInfo>),
    /// text and varchar: the string itself.
    Text,
    Jsonb,
    /// date, timestamp, timestamptz: ISO 8601 as `to_jsonb` writes them.
    DateTime(Oid),
    /// Types `to_jsonb` renders with their output function as a JSON string.
    Output(Box<pg_sys::FmgrInfo>),
    /// Everything else: `to_jsonb` itself.
    ToJsonb(Box<pg_sys::FmgrInfo>),
}

impl Converter {
    /// The converter for a column of type `typid`; FmgrInfo state goes to `mcxt`.
    ///
    /// # Safety
    /// `mcxt` must be a valid memory context that outlives the converter.
    pub unsafe fn for_type(typid: Oid, collation: Oid, mcxt: pg_sys::MemoryContext) -> Converter {
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

/// The type's output function, ready to call.
unsafe fn output_function(typid: Oid, mcxt: pg_sys::MemoryContext) -> Box<pg_sys::FmgrInfo> {
    let mut func = Oid::INVALID;
    let mut is_varlena = false;
    pg_sys::getTypeOutputInfo(typid, &mut func, &mut is_varlena);
    let mut finfo: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
    pg_sys::fmgr_info_cxt(func, finfo.as_mut(), mcxt);
    finfo
}

/// `to_jsonb(anyelement)` for argument type `typid`. `to_jsonb` finds its
/// argument's type in `fn_expr`, so we give it a call expression with a typed
/// NULL constant, as the planner would.
unsafe fn to_jsonb_function(
    typid: Oid,
    collation: Oid,
    mcxt: pg_sys::MemoryContext,
) -> Box<pg_sys::FmgrInfo> {
    let mut finfo: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
    pg_sys::fmgr_info_cxt(pg_sys::Oid::from(pg_sys::F_TO_JSONB), finfo.as_mut(), mcxt);
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
    finfo.fn_expr = expr.cast();
    finfo
}

/// Builds one jsonb object from keys given in jsonb's own key order (see
/// [`jsonb_key_order`]), so the pairs go to `JsonbValueToJsonb` as they are:
/// no per-object sort, and no `pushJsonbValue` call per key and value.
pub struct ObjectBuilder {
    pairs: Vec<pg_sys::JsonbPair>,
}

impl ObjectBuilder {
    pub fn with_capacity(n: usize) -> Self {
        ObjectBuilder {
            pairs: Vec::with_capacity(n),
        }
    }

    /// Adds `key: value`. Keys must come in [`jsonb_key_order`], without
    /// duplicates; their bytes must stay valid until [`finish`](Self::finish).
    ///
    /// # Safety
    /// `value` must be a valid datum of the type `conv` was made for (ignored when `isnull`).
    pub unsafe fn add(&mut self, key: &CStr, conv: &Converter, value: Datum, isnull: bool) {
        let mut pair: pg_sys::JsonbPair = std::mem::zeroed();
        pair.key.type_ = pg_sys::jbvType::jbvString;
        pair.key.val.string.len = key.to_bytes().len() as i32;
        pair.key.val.string.val = key.as_ptr().cast_mut();
        pair.order = self.pairs.len() as u32;
        if isnull {
            pair.value.type_ = pg_sys::jbvType::jbvNull;
        } else {
            set_value(&mut pair.value, conv, value);
        }
        self.pairs.push(pair);
    }

    /// The finished object as a jsonb datum (palloc'd in the current context).
    pub fn finish(mut self) -> Datum {
        // SAFETY: every pair holds a complete value; the keys are sorted and unique.
        unsafe {
            let mut object: pg_sys::JsonbValue = std::mem::zeroed();
            object.type_ = pg_sys::jbvType::jbvObject;
            object.val.object.nPairs = self.pairs.len() as i32;
            object.val.object.pairs = self.pairs.as_mut_ptr();
            Datum::from(pg_sys::JsonbValueToJsonb(&mut object))
        }
    }
}

/// jsonb keeps object keys ordered by length, then bytewise: the order
/// [`ObjectBuilder::add`] needs.
pub fn jsonb_key_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The `JsonbValue` of one non-NULL datum, exactly as `to_jsonb` makes it.
unsafe fn set_value(v: &mut pg_sys::JsonbValue, conv: &Converter, value: Datum) {
    match conv {
        Converter::Bool => {
            v.type_ = pg_sys::jbvType::jbvBool;
            v.val.boolean = value.value() != 0;
        }
        Converter::Int2 => set_numeric(v, int_numeric(value.value() as i16 as i64)),
        Converter::Int4 => set_numeric(v, int_numeric(value.value() as i32 as i64)),
        Converter::Int8 => set_numeric(v, int_numeric(value.value() as i64)),
        Converter::Numeric(out) => {
            let n = pg_sys::pg_detoast_datum(value.cast_mut_ptr());
            if pg_sys::numeric_is_nan(n.cast()) || pg_sys::numeric_is_inf(n.cast()) {
                // to_jsonb writes NaN and infinities as strings.
                set_cstring(v, pg_sys::OutputFunctionCall(as_mut(out), value));
            } else {
                set_numeric(v, Datum::from(n));
            }
        }
        Converter::Text => {
            let t = pg_sys::pg_detoast_datum_packed(value.cast_mut_ptr());
            v.type_ = pg_sys::jbvType::jbvString;
            v.val.string.len = pgrx::varsize_any_exhdr(t) as i32;
            v.val.string.val = pgrx::vardata_any(t).cast_mut().cast();
        }
        Converter::Jsonb => {
            let j = pg_sys::pg_detoast_datum(value.cast_mut_ptr()).cast::<pg_sys::Jsonb>();
            set_jsonb(v, j);
        }
        Converter::DateTime(typid) => {
            set_cstring(
                v,
                pg_sys::JsonEncodeDateTime(std::ptr::null_mut(), value, *typid, std::ptr::null()),
            );
        }
        Converter::Output(out) => set_cstring(v, pg_sys::OutputFunctionCall(as_mut(out), value)),
        Converter::ToJsonb(f) => {
            let j = pg_sys::FunctionCall1Coll(as_mut(f), Oid::INVALID, value);
            set_jsonb(v, j.cast_mut_ptr());
        }
    }
}

/// A whole jsonb document as a value: a scalar as itself, a container
/// unpacked into a `JsonbValue` tree (what `JsonbValueToJsonb` accepts).
unsafe fn set_jsonb(v: &mut pg_sys::JsonbValue, j: *mut pg_sys::Jsonb) {
    if pg_sys::JsonbExtractScalar(&mut (*j).root, v) {
        return;
    }
    let mut state: *mut pg_sys::JsonbParseState = std::ptr::null_mut();
    let mut it = pg_sys::JsonbIteratorInit(&mut (*j).root);
    let mut tree: *mut pg_sys::JsonbValue = std::ptr::null_mut();
    loop {
        let mut token_value: pg_sys::JsonbValue = std::mem::zeroed();
        let token = pg_sys::JsonbIteratorNext(&mut it, &mut token_value, false);
        if token == pg_sys::JsonbIteratorToken::WJB_DONE {
            break;
        }
        let with_value = token < pg_sys::JsonbIteratorToken::WJB_BEGIN_ARRAY;
        tree = pg_sys::pushJsonbValue(
            &mut state,
            token,
            if with_value {
                &mut token_value
            } else {
                std::ptr::null_mut()
            },
        );
    }
    *v = *tree;
}

/// An integer as a numeric, as to_jsonb makes it.
#[cfg(not(feature = "pg13"))]
unsafe fn int_numeric(i: i64) -> Datum {
    Datum::from(pg_sys::int64_to_numeric(i))
}

#[cfg(feature = "pg13")]
unsafe fn int_numeric(i: i64) -> Datum {
    call1(pg_sys::int8_numeric, Datum::from(i))
}

fn as_mut(f: &pg_sys::FmgrInfo) -> *mut pg_sys::FmgrInfo {
    // fmgr takes a mutable pointer but the functions we call keep no state in it.
    (f as *const pg_sys::FmgrInfo).cast_mut()
}

/// Calls a one-argument built-in function on a non-NULL datum.
pub unsafe fn call1(f: unsafe fn(pg_sys::FunctionCallInfo) -> Datum, arg: Datum) -> Datum {
    pgrx::direct_function_call_as_datum(f, &[Some(arg)]).expect("built-in returns a value")
}

unsafe fn set_numeric(v: &mut pg_sys::JsonbValue, numeric: Datum) {
    v.type_ = pg_sys::jbvType::jbvNumeric;
    v.val.numeric = numeric.cast_mut_ptr();
}

unsafe fn set_cstring(v: &mut pg_sys::JsonbValue, s: *mut std::ffi::c_char) {
    v.type_ = pg_sys::jbvType::jbvString;
    v.val.string.len = CStr::from_ptr(s).to_bytes().len() as i32;
    v.val.string.val = s;
}

/// Whether two non-NULL datums of one type hold the same value, byte for byte
/// (so `1.0` and `1.00` differ, as their JSON forms do). Unchanged toasted
/// values keep their toast pointer, so they compare equal without detoasting.
///
/// # Safety
/// Both datums must be valid values of a type with this `typlen` / `typbyval`.
pub unsafe fn datums_equal(a: Datum, b: Datum, typlen: i16, typbyval: bool) -> bool {
    if typbyval {
        return a == b;
    }
    if typlen > 0 {
        let (pa, pb) = (a.cast_mut_ptr::<u8>(), b.cast_mut_ptr::<u8>());
        return std::slice::from_raw_parts(pa, typlen as usize)
            == std::slice::from_raw_parts(pb, typlen as usize);
    }
    if typlen == -2 {
        return CStr::from_ptr(a.cast_mut_ptr()) == CStr::from_ptr(b.cast_mut_ptr());
    }
    let (va, vb) = (
        a.cast_mut_ptr::<pg_sys::varlena>(),
        b.cast_mut_ptr::<pg_sys::varlena>(),
    );
    if raw_bytes(va) == raw_bytes(vb) {
        return true;
    }
    // Different representations of one value (toasted, compressed, short header)?
    payload(pg_sys::pg_detoast_datum_packed(va)) == payload(pg_sys::pg_detoast_datum_packed(vb))
}

unsafe fn raw_bytes<'a>(v: *mut pg_sys::varlena) -> &'a [u8] {
    std::slice::from_raw_parts(v.cast::<u8>(), pgrx::varsize_any(v))
}

unsafe fn payload<'a>(v: *mut pg_sys::varlena) -> &'a [u8] {
    std::slice::from_raw_parts(
        pgrx::vardata_any(v).cast::<u8>(),
        pgrx::varsize_any_exhdr(v),
    )
}

/// Indexes of the columns whose values differ between `old` and `new`
/// (skipping the columns `skip` marks, e.g. dropped ones). NULL equals NULL.
pub fn changed<T>(
    old: &[Option<T>],
    new: &[Option<T>],
    skip: impl Fn(usize) -> bool,
    equal: impl Fn(usize, &T, &T) -> bool,
) -> Vec<usize> {
    (0..old.len().min(new.len()))
        .filter(|&i| !skip(i))
        .filter(|&i| match (&old[i], &new[i]) {
            (None, None) => false,
            (Some(a), Some(b)) => !equal(i, a, b),
            _ => true,
        })
        .collect()
}

#[cfg(test)]
mod unit {
    use super::{changed, jsonb_key_order};

    #[test]
    fn keys_order_by_length_then_bytes() {
        let mut keys = vec!["status", "id", "email", "b", "a", "zz"];
        keys.sort_by(|a, b| jsonb_key_order(a.as_bytes(), b.as_bytes()));
        assert_eq!(keys, vec!["a", "b", "id", "zz", "email", "status"]);
    }

    #[test]
    fn changed_finds_value_and_null_changes() {
        let old = [Some(1), Some(2), None, Some(4), None];
        let new = [Some(1), Some(3), Some(5), None, None];
        assert_eq!(
            changed(&old, &new, |_| false, |_, a, b| a == b),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn changed_skips_marked_columns_and_reports_nothing_for_equal_rows() {
        let old = [Some("a"), Some("b")];
        let new = [Some("x"), Some("b")];
        assert_eq!(
            changed(&old, &new, |i| i == 0, |_, a, b| a == b),
            Vec::<usize>::new()
        );
        assert_eq!(
            changed(&old, &old, |_| false, |_, a, b| a == b),
            Vec::<usize>::new()
        );
    }
}
