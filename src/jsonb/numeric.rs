//! PostgreSQL's numeric layout (`utils/adt/numeric.c`), shared by the code
//! that reads it (the checksum's text, [`crate::forms::jsonb_text`]) and the
//! one numeric the capture writes itself: an integer column's value, which
//! `to_jsonb` stores as a numeric.
//!
//! `int64_to_numeric` through fmgr (a digit buffer allocated, filled, copied
//! into the result and freed) was a tenth of building an audited row's
//! jsonb; the bytes are simple to write directly, and a pg_test holds them
//! to PostgreSQL's own.

/// The first header word's two top bits say which form the numeric has:
/// short (10), special (11: NaN, infinities) or long (00, 01 when negative).
pub const FORM_MASK: u16 = 0xC000;
pub const SHORT: u16 = 0x8000;
pub const SPECIAL: u16 = 0xC000;
/// The long form: its sign, and its display scale in the same word (the
/// weight is the next word).
pub const LONG_NEGATIVE: u16 = 0x4000;
pub const LONG_DSCALE_MASK: u16 = 0x3FFF;
/// The short form: sign, display scale, and the weight's sign and magnitude,
/// all in the one header word. An integer has no display scale and a weight
/// of at most 4, so its numeric always takes the short form.
pub const SHORT_SIGN_NEGATIVE: u16 = 0x2000;
pub const SHORT_DSCALE_MASK: u16 = 0x1F80;
pub const SHORT_DSCALE_SHIFT: u16 = 7;
pub const SHORT_WEIGHT_NEGATIVE: u16 = 0x0040;
pub const SHORT_WEIGHT_MASK: u16 = 0x003F;

/// Whether a numeric whose first header word is `header` is NaN or an
/// infinity (which `to_jsonb` writes as strings), as `numeric_is_nan` and
/// `numeric_is_inf` together say, without a call into PostgreSQL per value.
pub fn is_special(header: u16) -> bool {
    header & FORM_MASK == SPECIAL
}

/// Base-10000 digits of an i64 at most (19 decimal digits).
const MAX_DIGITS: usize = 5;

/// The longest payload: the header word and five digits.
pub const MAX_INT_PAYLOAD: usize = 2 + 2 * MAX_DIGITS;

/// The payload (everything after the 4-byte varlena header) of the numeric
/// `int64_to_numeric(v)` makes, written to the start of `buf`; returns its
/// length. As PostgreSQL makes it: base-10000 digits, most significant
/// first, trailing zero digits dropped (the weight keeps the magnitude), and
/// zero as no digits with weight 0 and a positive sign.
pub fn int_payload(v: i64, buf: &mut [u8; MAX_INT_PAYLOAD]) -> usize {
    let mut least_first = [0u16; MAX_DIGITS];
    let mut k = 0;
    let mut u = v.unsigned_abs();
    while u != 0 {
        least_first[k] = (u % 10_000) as u16;
        u /= 10_000;
        k += 1;
    }
    let dropped = least_first[..k].iter().take_while(|&&d| d == 0).count();
    let weight = k.saturating_sub(1) as u16;
    let sign = if v < 0 { SHORT_SIGN_NEGATIVE } else { 0 };
    buf[..2].copy_from_slice(&(SHORT | sign | (weight & SHORT_WEIGHT_MASK)).to_ne_bytes());
    let mut len = 2;
    for d in least_first[dropped..k].iter().rev() {
        buf[len..len + 2].copy_from_slice(&d.to_ne_bytes());
        len += 2;
    }
    len
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::forms::jsonb_text::numeric_text;

    /// The numeric varlena (4-byte header) of `v`, printed back by the
    /// checksum's numeric reader.
    fn printed(v: i64) -> String {
        let mut payload = [0u8; MAX_INT_PAYLOAD];
        let len = int_payload(v, &mut payload);
        let mut n = (((len + 4) as u32) << 2).to_ne_bytes().to_vec();
        n.extend_from_slice(&payload[..len]);
        let mut out = Vec::new();
        numeric_text(&n, &mut out).expect("a well-formed numeric");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn integers_read_back_as_themselves() {
        let mut values = vec![0, 1, -1, 9_999, 10_000, 10_001, -10_000, 99_990_000];
        values.extend([i64::MAX, i64::MIN, i64::MIN + 1, 1_0000_0000_0000_0000]);
        for p in 0..19 {
            let t = 10_i64.pow(p);
            values.extend([t, -t, t - 1, t + 7, 3 * t]);
        }
        for v in values {
            assert_eq!(printed(v), v.to_string(), "{v}");
        }
    }

    #[test]
    fn trailing_zero_digits_are_dropped_and_zero_has_none() {
        let mut buf = [0u8; MAX_INT_PAYLOAD];
        assert_eq!(int_payload(0, &mut buf), 2);
        assert_eq!(u16::from_ne_bytes([buf[0], buf[1]]), SHORT);
        // 1 0000 0000: one digit, weight 2.
        assert_eq!(int_payload(100_000_000, &mut buf), 4);
        assert_eq!(u16::from_ne_bytes([buf[0], buf[1]]), SHORT | 2);
        assert_eq!(u16::from_ne_bytes([buf[2], buf[3]]), 1);
        // -5 0000 0007: three digits, weight 2, negative.
        assert_eq!(int_payload(-500_000_007, &mut buf), 8);
        assert_eq!(
            u16::from_ne_bytes([buf[0], buf[1]]),
            SHORT | SHORT_SIGN_NEGATIVE | 2
        );
        let digits: Vec<u16> = buf[2..8]
            .chunks(2)
            .map(|c| u16::from_ne_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(digits, vec![5, 0, 7]);
    }

    /// NaN, +Infinity and -Infinity as numeric.c spells them
    /// (`NUMERIC_NAN`, `NUMERIC_PINF`, `NUMERIC_NINF`) are special; the short
    /// and long forms of either sign, and every integer's payload, are not.
    #[test]
    fn special_is_nan_and_the_infinities_only() {
        for special in [0xC000u16, 0xD000, 0xF000] {
            assert!(is_special(special), "{special:#x}");
        }
        for ordinary in [0x0000u16, 0x4000, 0x3FFF, 0x8000, 0xA000, 0xBFFF] {
            assert!(!is_special(ordinary), "{ordinary:#x}");
        }
        let mut buf = [0u8; MAX_INT_PAYLOAD];
        for v in [0, 1, -1, 10_000, i64::MIN, i64::MAX] {
            int_payload(v, &mut buf);
            assert!(!is_special(u16::from_ne_bytes([buf[0], buf[1]])), "{v}");
        }
    }
}
