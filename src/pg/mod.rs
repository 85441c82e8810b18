//! Small PostgreSQL helpers shared by the modules that talk to the server
//! directly: datums built from Rust bytes, bytes read from varlenas, and
//! long-lived memory contexts. No lead_audit logic lives here.
//!
//! Also the per-major differences of the C API (one function per difference,
//! with a `#[cfg]` per major), [`spare`] buffers kept between rows, and the
//! [`recent`] list of values kept by key.

pub mod recent;
pub mod spare;

use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum};
use pgrx::{IntoDatum, PgTryBuilder};

/// A child of CacheMemoryContext for per-backend state that outlives
/// transactions (cached table metadata, audit_log's indexes).
pub fn cache_context(name: &'static CStr) -> pg_sys::MemoryContext {
    // SAFETY: CacheMemoryContext exists once the backend is up.
    unsafe { child_context(pg_sys::CacheMemoryContext, name, Sizes::Small) }
}

/// A child of TopTransactionContext, for what lives as long as the
/// transaction: PostgreSQL frees it when the transaction ends.
///
/// # Safety
/// Must run in a transaction (TopTransactionContext exists).
pub unsafe fn transaction_context(name: &'static CStr) -> pg_sys::MemoryContext {
    // SAFETY: TopTransactionContext is valid in a transaction (the caller's contract).
    unsafe { child_context(pg_sys::TopTransactionContext, name, Sizes::Default) }
}

/// A short-lived context under the current one, for what one step
/// allocates; the caller deletes it.
pub fn scratch_context(name: &'static CStr) -> pg_sys::MemoryContext {
    // SAFETY: CurrentMemoryContext is always a valid context.
    unsafe { child_context(pg_sys::CurrentMemoryContext, name, Sizes::Default) }
}

/// A context of ours that lives as long as the backend (reset by its owner).
pub fn backend_context(name: &'static CStr) -> pg_sys::MemoryContext {
    // SAFETY: TopMemoryContext is always a valid context.
    unsafe { child_context(pg_sys::TopMemoryContext, name, Sizes::Default) }
}

/// PostgreSQL's block sizes for an AllocSet context: small for contexts
/// that hold little (one table's metadata), default for the rest.
enum Sizes {
    Small,
    Default,
}

/// An AllocSet context under `parent`.
///
/// # Safety
/// `parent` must be a valid memory context.
unsafe fn child_context(
    parent: pg_sys::MemoryContext,
    name: &'static CStr,
    sizes: Sizes,
) -> pg_sys::MemoryContext {
    let (min, init) = match sizes {
        Sizes::Small => (
            pg_sys::ALLOCSET_SMALL_MINSIZE,
            pg_sys::ALLOCSET_SMALL_INITSIZE,
        ),
        Sizes::Default => (
            pg_sys::ALLOCSET_DEFAULT_MINSIZE,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE,
        ),
    };
    // SAFETY: a valid parent (the caller's contract); `name` is static, as
    // PostgreSQL requires.
    unsafe {
        pg_sys::AllocSetContextCreateInternal(
            parent,
            name.as_ptr(),
            min as usize,
            init as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        )
    }
}

/// A text datum (palloc'd in the current memory context) holding `bytes`.
pub fn text_datum(bytes: &[u8]) -> Datum {
    // SAFETY: cstring_to_text_with_len copies exactly `len` bytes into a new text.
    unsafe {
        Datum::from(pg_sys::cstring_to_text_with_len(
            bytes.as_ptr().cast(),
            bytes.len() as i32,
        ))
    }
}

/// A bytea datum (palloc'd in the current memory context) holding `bytes`.
pub fn bytea_datum(bytes: &[u8]) -> Datum {
    varlena_datum(bytes)
}

/// A varlena datum (palloc'd in the current memory context, 4-byte header)
/// whose payload is `bytes`.
pub fn varlena_datum(bytes: &[u8]) -> Datum {
    // SAFETY: a fresh varlena of the right size, header set, payload filled completely.
    unsafe {
        let len = bytes.len() + pg_sys::VARHDRSZ;
        let p = pg_sys::palloc(len).cast::<u8>();
        pgrx::set_varsize_4b(p.cast(), len as i32);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(pg_sys::VARHDRSZ), bytes.len());
        Datum::from(p)
    }
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
    // SAFETY: by-reference values of the given length (the caller's contract):
    // fixed-length ones are `typlen` bytes, -2 a C string, -1 a varlena.
    unsafe {
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
        varlena_bytes(a) == varlena_bytes(b)
    }
}

/// # Safety
/// `v` must be a valid varlena (possibly a toast pointer).
unsafe fn raw_bytes<'a>(v: *mut pg_sys::varlena) -> &'a [u8] {
    // SAFETY: varsize_any reads the header of a valid varlena.
    unsafe { std::slice::from_raw_parts(v.cast::<u8>(), pgrx::varsize_any(v)) }
}

/// A value kept for the backend's life: a text datum of `bytes`, made
/// once (in TopMemoryContext) and shared by every row that records it (an
/// action's name, an outcome), instead of one palloc'd copy per row.
pub fn kept_text(bytes: &'static [u8]) -> Datum {
    thread_local! {
        static KEPT: std::cell::RefCell<Vec<(&'static [u8], Datum)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    KEPT.with_borrow_mut(|kept| {
        if let Some(&(_, d)) = kept.iter().find(|(b, _)| *b == bytes) {
            return d;
        }
        let text = text_datum(bytes);
        // SAFETY: a text datum just made, not toasted.
        let d = unsafe { keep_varlena(text) };
        kept.push((bytes, d));
        d
    })
}

/// `datum`'s varlena as `pg_detoast_datum_packed` returns it (a short
/// header kept), calling it only for an external or compressed value: a
/// value stored in line is read where it is. Each call into PostgreSQL
/// passes pgrx's error boundary (a `sigsetjmp`), and a captured row reads
/// a dozen varlenas: those crossings showed in an audited bulk INSERT.
///
/// # Safety
/// `datum` must be a valid, non-NULL varlena datum.
pub unsafe fn detoast_packed(datum: Datum) -> *mut pg_sys::varlena {
    let v = datum.cast_mut_ptr::<pg_sys::varlena>();
    // SAFETY: a valid varlena (the caller's contract) has a readable first
    // header byte; only external and compressed values need PostgreSQL.
    unsafe {
        if pgrx::varatt_is_4b_u(v) || (pgrx::varatt_is_1b(v) && !pgrx::varatt_is_1b_e(v)) {
            v
        } else {
            pg_sys::pg_detoast_datum_packed(v)
        }
    }
}

/// `datum`'s varlena as `pg_detoast_datum` returns it (in line,
/// uncompressed, with a 4-byte header, as types that read their own fields
/// need), calling it only when the value is not already so.
///
/// # Safety
/// `datum` must be a valid, non-NULL varlena datum.
pub unsafe fn detoast(datum: Datum) -> *mut pg_sys::varlena {
    let v = datum.cast_mut_ptr::<pg_sys::varlena>();
    // SAFETY: as in `detoast_packed`.
    unsafe {
        if pgrx::varatt_is_4b_u(v) {
            v
        } else {
            pg_sys::pg_detoast_datum(v)
        }
    }
}

/// The payload of a varlena datum (text, bytea, ...), detoasted if needed.
///
/// # Safety
/// `datum` must be a valid, non-NULL varlena datum; the slice lives as long
/// as the current memory context keeps the detoasted copy (or the datum).
pub unsafe fn varlena_bytes<'a>(datum: Datum) -> &'a [u8] {
    // SAFETY: the caller guarantees a valid varlena; detoasting returns a
    // pointer to a contiguous value whose payload length the header gives.
    unsafe {
        let v = detoast_packed(datum);
        std::slice::from_raw_parts(
            pgrx::vardata_any(v).cast::<u8>(),
            pgrx::varsize_any_exhdr(v),
        )
    }
}

/// Calls a one-argument built-in function on a non-NULL datum.
///
/// # Safety
/// `arg` must be a valid datum of the type `f` takes, and `f` must return a
/// non-NULL value for it.
pub unsafe fn call1(f: unsafe fn(pg_sys::FunctionCallInfo) -> Datum, arg: Datum) -> Datum {
    // SAFETY: the caller guarantees the argument's type; built-ins that take
    // one non-NULL argument return a value or raise an ERROR.
    unsafe { pgrx::direct_function_call_as_datum(f, &[Some(arg)]) }
        .expect("a strict built-in returns a value for a non-NULL argument")
}

/// Copies a (not toasted) varlena datum into TopMemoryContext, so that it
/// outlives the current row and transaction. The caller owns the copy.
///
/// # Safety
/// `datum` must be a valid, non-NULL, untoasted varlena.
pub unsafe fn keep_varlena(datum: Datum) -> Datum {
    // SAFETY: the caller guarantees a valid varlena; the copy has its full size.
    unsafe {
        let src = datum.cast_mut_ptr::<pg_sys::varlena>();
        let len = pgrx::varsize_any(src);
        let dst = pg_sys::MemoryContextAlloc(pg_sys::TopMemoryContext, len);
        std::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), len);
        Datum::from(dst)
    }
}

/// Whether a jsonb's top level is an object (not an array or a scalar).
///
/// # Safety
/// `datum` must be a valid, non-NULL jsonb datum.
pub unsafe fn jsonb_is_object(datum: Datum) -> bool {
    // SAFETY: a detoasted jsonb starts with its root container's header.
    let header = unsafe {
        let j = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast::<pg_sys::Jsonb>();
        (*j).root.header
    };
    header & pg_sys::JB_FOBJECT != 0 && header & pg_sys::JB_FSCALAR == 0
}

/// A type's input function (inet_in, jsonb_in) applied to `text`; None when
/// it refuses the text (its ERROR is caught), so the caller can say what was
/// wrong, or record the value elsewhere.
pub fn type_input(f: unsafe fn(pg_sys::FunctionCallInfo) -> Datum, text: &str) -> Option<Datum> {
    let c = std::ffi::CString::new(text).ok()?;
    PgTryBuilder::new(|| {
        // SAFETY: an input function takes any C string and raises on bad input, caught below.
        unsafe { pgrx::direct_function_call_as_datum(f, &[c.as_c_str().into_datum()]) }
    })
    .catch_others(|_| None)
    .execute()
}

/// A C string's text (invalid UTF-8 replaced), None for NULL.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string.
pub unsafe fn c_text(p: *const std::ffi::c_char) -> Option<String> {
    // SAFETY: the caller's contract.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// `schema.name`, each part quoted only when it must be, as PostgreSQL
/// writes qualified names (and the capture triggers name tables).
///
/// # Safety
/// `name` must be a NUL-terminated string; `namespace` a schema's oid.
pub unsafe fn qualified_name(namespace: pg_sys::Oid, name: *const std::ffi::c_char) -> String {
    // SAFETY: the caller's contract; quote_qualified_identifier returns a
    // palloc'd C string.
    unsafe {
        let nsp = pg_sys::get_namespace_name(namespace);
        c_text(pg_sys::quote_qualified_identifier(nsp, name)).unwrap_or_default()
    }
}

/// The relation a statement's RangeVar names, looked up without a lock
/// (invalid when it names none, or `rv` is NULL): for a hook that runs before
/// the statement, which takes the lock itself and reports a missing name.
///
/// # Safety
/// `rv` must be a valid RangeVar or NULL.
pub unsafe fn relid_unlocked(rv: *mut pg_sys::RangeVar) -> pg_sys::Oid {
    if rv.is_null() {
        return pg_sys::Oid::INVALID;
    }
    // SAFETY: the caller's contract; missing_ok, no lock.
    unsafe {
        pg_sys::RangeVarGetRelidExtended(
            rv,
            pg_sys::NoLock as pg_sys::LOCKMODE,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        )
    }
}

// ---------------------------------------------------------------------------
// What differs between PostgreSQL majors
// ---------------------------------------------------------------------------

/// The attributes of a tuple descriptor. PostgreSQL 18 put an array of
/// compact attributes before them, so they start after `natts` of those.
///
/// # Safety
/// `desc` must be a valid tuple descriptor that outlives the slice.
pub unsafe fn attrs<'a>(desc: pg_sys::TupleDesc) -> &'a [pg_sys::FormData_pg_attribute] {
    // SAFETY: the caller's contract: `natts` attributes follow the header
    // (on 18, after `natts` compact attributes).
    unsafe {
        let natts = (*desc).natts.max(0) as usize;
        #[cfg(not(feature = "pg18"))]
        let first = (*desc).attrs.as_ptr();
        #[cfg(feature = "pg18")]
        let first = (*desc)
            .compact_attrs
            .as_ptr()
            .add(natts)
            .cast::<pg_sys::FormData_pg_attribute>();
        std::slice::from_raw_parts(first, natts)
    }
}

/// The oid of `rel`'s primary key index (invalid when it has none); a
/// deferrable one counts (PostgreSQL 18 asks).
///
/// # Safety
/// `rel` must be an open relation.
pub unsafe fn primary_key_index(rel: pg_sys::Relation) -> pg_sys::Oid {
    // SAFETY: the caller's contract.
    unsafe {
        #[cfg(not(feature = "pg18"))]
        return pg_sys::RelationGetPrimaryKeyIndex(rel);
        #[cfg(feature = "pg18")]
        return pg_sys::RelationGetPrimaryKeyIndex(rel, true);
    }
}

/// Starts an index scan with `nkeys` keys and no ordering (PostgreSQL 18
/// takes instrumentation too: none).
///
/// # Safety
/// `rel` and `irel` must be open, `irel` an index of `rel`; `snapshot` valid.
pub unsafe fn index_beginscan(
    rel: pg_sys::Relation,
    irel: pg_sys::Relation,
    snapshot: pg_sys::Snapshot,
    nkeys: i32,
) -> pg_sys::IndexScanDesc {
    // SAFETY: the caller's contract.
    unsafe {
        #[cfg(not(feature = "pg18"))]
        return pg_sys::index_beginscan(rel, irel, snapshot, nkeys, 0);
        #[cfg(feature = "pg18")]
        return pg_sys::index_beginscan(rel, irel, snapshot, std::ptr::null_mut(), nkeys, 0);
    }
}

/// This backend's local transaction id (PostgreSQL 17 moved it into the
/// PGPROC's virtual transaction id).
pub fn local_xid() -> pg_sys::LocalTransactionId {
    // SAFETY: MyProc is this backend's PGPROC, set up before any transaction.
    unsafe {
        #[cfg(not(any(feature = "pg17", feature = "pg18")))]
        return (*pg_sys::MyProc).lxid;
        #[cfg(any(feature = "pg17", feature = "pg18"))]
        return (*pg_sys::MyProc).vxid.lxid;
    }
}
