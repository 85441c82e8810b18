//! Redacted columns (`audit_enable(..., redact => array[...])`): the value is
//! recorded as a keyed hash, `"hmac-sha256:<hex>"`, of its text form, so a
//! change is provable and equal values compare equal, while the log never
//! holds the value. The key is the database's secret in `audit_secret`, which
//! only superusers can read: without it, nobody can test guesses against a
//! hash. The writing role cannot read that table either, so the secret is
//! fetched with each table's description through `_audit_secret()`, a SECURITY DEFINER
//! function not granted to anyone, called through the function manager
//! (which, unlike a query, checks no EXECUTE privilege).

use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;
use sha2::{Digest, Sha256};

use crate::audit_log::objects;
use crate::error::AuditError;
use crate::jsonb::convert::Function;
use crate::pg;

/// The prefix of a redacted value, naming the hash.
pub const PREFIX: &str = "hmac-sha256:";

const BLOCK: usize = 64;

/// HMAC-SHA-256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The recorded form of a value whose text form is `text`.
pub fn redacted(key: &[u8], text: &[u8]) -> String {
    let mac = hmac_sha256(key, text);
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    for b in mac {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The text form of `value`, which the keyed hash covers.
///
/// # Safety
/// `value` must be a non-NULL datum of the type `output` was looked up for.
pub unsafe fn output_text(output: &Function, value: pg_sys::Datum) -> Vec<u8> {
    // SAFETY: the caller's contract; the C string is copied out and freed.
    unsafe {
        let cstr = pg_sys::OutputFunctionCall(output.get(), value);
        let bytes = std::ffi::CStr::from_ptr(cstr).to_bytes().to_vec();
        pg_sys::pfree(cstr.cast());
        bytes
    }
}

/// The database's redaction secret; read with a table's description (kept
/// with it until an invalidation drops it). 55000 when there is none
/// (`audit_enable` makes it with the first redacted column).
pub fn secret() -> Vec<u8> {
    read_secret().unwrap_or_else(|e| e.report())
}

fn read_secret() -> Result<Vec<u8>, AuditError> {
    let query = objects::objects().sql(include_str!("../../sql/queries/secret_function.sql"));
    let func = Spi::get_one::<Oid>(&query)
        .map_err(AuditError::spi("could not find _audit_secret()"))?
        .ok_or_else(|| AuditError::BrokenInstall {
            reason: "_audit_secret() is missing".into(),
        })?;
    // SAFETY: calls a function of ours that takes no argument and never
    // returns NULL (an empty bytea when there is no secret); the bytes are
    // copied out at once.
    let bytes = unsafe {
        let result = pg_sys::OidFunctionCall0Coll(func, Oid::INVALID);
        pg::varlena_bytes(result).to_vec()
    };
    if bytes.is_empty() {
        return Err(AuditError::NoSecret);
    }
    Ok(bytes)
}

#[cfg(test)]
mod unit {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc4231_case_1() {
        let key = [0x0b; 20];
        assert_eq!(
            hex(&hmac_sha256(&key, b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn rfc4231_case_2() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn rfc4231_case_6_long_key() {
        let key = [0xaa; 131];
        assert_eq!(
            hex(&hmac_sha256(
                &key,
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn redacted_values_compare_equal_only_when_equal() {
        let key = b"secret";
        assert_eq!(redacted(key, b"a"), redacted(key, b"a"));
        assert_ne!(redacted(key, b"a"), redacted(key, b"b"));
        assert_ne!(redacted(key, b"a"), redacted(b"other", b"a"));
        assert!(redacted(key, b"a").starts_with(PREFIX));
        assert_eq!(redacted(key, b"a").len(), PREFIX.len() + 64);
    }
}
