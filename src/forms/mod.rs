//! Every canonical form lead_audit hashes, and nothing else.
//!
//! A form is versioned by its prefix (`lead_audit:row:v1`, ...). A form is
//! never changed in place: a new version gets a new prefix, and verification
//! keeps accepting the old one, so logs written by earlier versions verify
//! for ever. The forms are documented in `docs/canonical-forms.md`
//! and pinned by the golden vectors in `tests/vectors/`, which the Rust unit
//! tests, the Python verifier's tests and the SQL re-implementation all read.
//!
//! ```text
//! field(v)   = "~" if v is NULL, else byte_length(t) ":" t
//! row v1     = "lead_audit:row:v1\n" field(id) field(tx_id) ... field(application_name)
//! row v2     = "lead_audit:row:v2\n" the same 18 fields, then field(outcome) field(error)
//! rows_hash  = SHA-256( for each sealed row in id order: decimal(id) ":" hex(checksum) "\n" )
//! block v1   = "lead_audit:block:v1\n" field(id) field(from_xid) field(to_xid) field(first_id)
//!              field(last_id) field(row_count) field(hex(rows_hash)) field(hex(prev_hash))
//!              field(sealed_at as microseconds since the Unix epoch)
//! block_hash = SHA-256(block form);  prev_hash of block 1 = 32 zero bytes
//! ```
//!
//! This module is pure (bytes in, bytes out); [`row`] renders an audit row's
//! datums into the row form, [`jsonb_text`] the jsonb text it covers.

pub mod jsonb_text;
pub mod row;

use sha2::{Digest, Sha256};

pub const ROW_V1: &[u8] = b"lead_audit:row:v1\n";
/// Rows with an `outcome` (written since 0.2.0); rows without one (0.1.0)
/// keep the form v1, so a v1 row cannot be passed off as v2 or back.
pub const ROW_V2: &[u8] = b"lead_audit:row:v2\n";
pub const BLOCK_V1: &[u8] = b"lead_audit:block:v1\n";

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
pub const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

pub type Hash = [u8; 32];

/// Appends one field: `~` for NULL, else `length:bytes`.
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

/// A field holding a decimal number.
pub fn push_int_field(out: &mut Vec<u8>, v: i64) {
    push_field(out, Some(decimal(&mut [0; 20], v)));
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

pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 15) as usize]);
    }
}

/// Lower-case hex, as the forms and digests write hashes.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// The row form v1 of an audit row given as the texts of its 18 columns
/// before `checksum` (docs/canonical-forms.md: decimal ids, `logged_at` in Unix microseconds,
/// jsonb/inet/text[] as PostgreSQL prints them). [`row`] builds the same
/// bytes straight from datums; this is the form's definition, for tests and
/// golden vectors.
#[cfg(test)]
pub fn row_v1<'a>(fields: impl IntoIterator<Item = Option<&'a [u8]>>) -> Vec<u8> {
    let mut out = ROW_V1.to_vec();
    for f in fields {
        push_field(&mut out, f);
    }
    out
}

/// The row form v2, from the texts of the 18 columns of v1 followed by
/// `outcome` and `error`: for tests and golden vectors, as [`row_v1`].
#[cfg(test)]
pub fn row_v2<'a>(fields: impl IntoIterator<Item = Option<&'a [u8]>>) -> Vec<u8> {
    let mut out = ROW_V2.to_vec();
    for f in fields {
        push_field(&mut out, f);
    }
    out
}

/// One sealed row: its id and its checksum.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Leaf {
    pub id: i64,
    pub checksum: Hash,
}

/// SHA-256 over one line `id:hex(checksum)\n` per leaf, in the given order.
pub fn rows_hash(leaves: &[Leaf]) -> Hash {
    let mut h = Sha256::new();
    let mut line = Vec::with_capacity(96);
    for l in leaves {
        line.clear();
        push_decimal(&mut line, l.id);
        line.push(b':');
        push_hex(&mut line, &l.checksum);
        line.push(b'\n');
        h.update(&line);
    }
    h.finalize().into()
}

/// Everything a block's hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    pub id: i64,
    pub from_xid: i64,
    pub to_xid: i64,
    pub first_id: i64,
    pub last_id: i64,
    pub row_count: i64,
    pub rows_hash: Hash,
    pub prev_hash: Hash,
    pub sealed_at_us: i64,
}

impl BlockHeader {
    /// The block form v1.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = BLOCK_V1.to_vec();
        for v in [
            self.id,
            self.from_xid,
            self.to_xid,
            self.first_id,
            self.last_id,
            self.row_count,
        ] {
            push_int_field(&mut out, v);
        }
        push_field(&mut out, Some(hex(&self.rows_hash).as_bytes()));
        push_field(&mut out, Some(hex(&self.prev_hash).as_bytes()));
        push_int_field(&mut out, self.sealed_at_us);
        out
    }

    pub fn hash(&self) -> Hash {
        sha256(&self.canonical())
    }
}

/// Hex text to bytes, for the tests that read the golden vectors.
#[cfg(test)]
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn fields_are_length_prefixed_and_null_is_tilde() {
        let c = row_v1([Some(&b"42"[..]), None, Some(&b""[..]), Some("é".as_bytes())]);
        assert_eq!(c, b"lead_audit:row:v1\n2:42~0:2:\xc3\xa9".to_vec());
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        // Without length prefixes "ab"+"c" and "a"+"bc" would collide.
        let a = row_v1([Some(&b"ab"[..]), Some(&b"c"[..])]);
        let b = row_v1([Some(&b"a"[..]), Some(&b"bc"[..])]);
        assert_ne!(sha256(&a), sha256(&b));
        // NULL and the text "~" differ too.
        assert_ne!(row_v1([None]), row_v1([Some(&b"~"[..])]));
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
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn rows_hash_is_over_id_and_hex_checksum_lines() {
        let leaves = [
            Leaf {
                id: 1,
                checksum: [0xab; 32],
            },
            Leaf {
                id: 7,
                checksum: [0x01; 32],
            },
        ];
        let text = format!("1:{}\n7:{}\n", "ab".repeat(32), "01".repeat(32));
        assert_eq!(rows_hash(&leaves), sha256(text.as_bytes()));
    }

    #[test]
    fn block_hash_covers_every_field() {
        let base = BlockHeader {
            id: 1,
            from_xid: 1,
            to_xid: 2,
            first_id: 1,
            last_id: 1,
            row_count: 1,
            rows_hash: [1; 32],
            prev_hash: [0; 32],
            sealed_at_us: 3,
        };
        let mut variants = vec![base.clone(); 9];
        variants[0].id += 1;
        variants[1].from_xid += 1;
        variants[2].to_xid += 1;
        variants[3].first_id += 1;
        variants[4].last_id += 1;
        variants[5].row_count += 1;
        variants[6].rows_hash[0] ^= 1;
        variants[7].prev_hash[0] ^= 1;
        variants[8].sealed_at_us += 1;
        for v in variants {
            assert_ne!(v.hash(), base.hash());
        }
        assert!(base.canonical().starts_with(b"lead_audit:block:v1\n1:1"));
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xff, 0x1a]), "00ff1a");
    }

    fn vectors(json: &str) -> serde_json::Value {
        serde_json::from_str(json).expect("the golden vectors are JSON")
    }

    /// tests/vectors/rows.json: real rows written by the extension (0.1.0's
    /// in the form v1, 0.2.0's in the form v2); their texts give exactly the
    /// canonical bytes, whose SHA-256 the writer stored.
    #[test]
    fn row_forms_match_the_golden_vectors() {
        let v = vectors(include_str!("../../tests/vectors/rows.json"));
        let rows = v["rows"].as_array().unwrap();
        let of = |form: &str| rows.iter().filter(|r| r["form"] == form).count();
        assert!(of("lead_audit:row:v1") > 10);
        assert!(of("lead_audit:row:v2") >= 5);
        for row in rows {
            let fields: Vec<Option<&[u8]>> = row["form_fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().map(str::as_bytes))
                .collect();
            let canonical = if row["form"] == "lead_audit:row:v2" {
                assert_eq!(fields.len(), crate::audit_log::row::col::CHECKSUM + 2);
                row_v2(fields)
            } else {
                assert_eq!(fields.len(), crate::audit_log::row::col::CHECKSUM);
                row_v1(fields)
            };
            assert_eq!(canonical, row["canonical"].as_str().unwrap().as_bytes());
            assert_eq!(hex(&sha256(&canonical)), row["sha256"].as_str().unwrap());
        }
    }

    /// tests/vectors/blocks.json: real blocks sealed by the extension.
    #[test]
    fn block_form_v1_matches_the_golden_vectors() {
        let v = vectors(include_str!("../../tests/vectors/blocks.json"));
        assert_eq!(v["form"], "lead_audit:block:v1");
        for b in v["blocks"].as_array().unwrap() {
            let int = |k: &str| b[k].as_i64().unwrap();
            let leaves: Vec<Leaf> = b["leaves"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| Leaf {
                    id: l[0].as_i64().unwrap(),
                    checksum: unhex(l[1].as_str().unwrap()).try_into().unwrap(),
                })
                .collect();
            let header = BlockHeader {
                id: int("id"),
                from_xid: int("from_xid"),
                to_xid: int("to_xid"),
                first_id: int("first_id"),
                last_id: int("last_id"),
                row_count: int("row_count"),
                rows_hash: rows_hash(&leaves),
                prev_hash: unhex(b["prev_hash"].as_str().unwrap()).try_into().unwrap(),
                sealed_at_us: int("sealed_at_us"),
            };
            assert_eq!(hex(&header.rows_hash), b["rows_hash"].as_str().unwrap());
            assert_eq!(
                header.canonical(),
                b["canonical"].as_str().unwrap().as_bytes()
            );
            assert_eq!(hex(&header.hash()), b["block_hash"].as_str().unwrap());
        }
    }
}
