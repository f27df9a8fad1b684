//! ASCII case-insensitive comparison of header names, a machine word at a time.
//!
//! Every transaction looks up a handful of header fields by name (framing, the record's
//! fields, redaction, session keys); `eq_ignore_ascii_case` lowers and compares one byte at a
//! time, about 8 instructions per byte of a name like `authorization`.

use apitap_inventory::ascii::{le64, lower};

/// Bytes compared per step (a word, [`le64`]).
const WORD: usize = 8;

/// `a.eq_ignore_ascii_case(b)`, compared eight bytes at a time. The lengths are compared
/// inline (most names looked at have another length than the one looked for).
#[inline(always)]
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && eq_same_len(a, b)
}

/// [`eq_ignore_case`] of two slices of the same length.
#[inline]
fn eq_same_len(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n < WORD {
        return a.eq_ignore_ascii_case(b);
    }
    let mut at = 0;
    while at + WORD <= n {
        if lower(le64(a, at)) != lower(le64(b, at)) {
            return false;
        }
        at += WORD;
    }
    // The last partial word, overlapping the one before.
    at == n || lower(le64(a, n - WORD)) == lower(le64(b, n - WORD))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_pair_matches_std() {
        // Each pair of byte values at each position of a word and in the tail.
        for x in 0..=255u8 {
            for y in 0..=255u8 {
                for len in [8usize, 13] {
                    for pos in [0, 5, len - 1] {
                        let mut a = vec![b'k'; len];
                        let mut b = vec![b'K'; len];
                        a[pos] = x;
                        b[pos] = y;
                        assert_eq!(
                            eq_ignore_case(&a, &b),
                            a.eq_ignore_ascii_case(&b),
                            "{x:#x} {y:#x} len {len} at {pos}"
                        );
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_std(
            a in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            flips in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            // b: a with some letters' case flipped and some bytes changed.
            let b: Vec<u8> = a.iter().zip(flips.iter().chain(std::iter::repeat(&0))).map(|(&c, &f)| match f % 4 {
                0 if c.is_ascii_alphabetic() => c ^ 0x20,
                1 => f,
                _ => c,
            }).collect();
            proptest::prop_assert_eq!(eq_ignore_case(&a, &b), a.eq_ignore_ascii_case(&b));
            proptest::prop_assert!(eq_ignore_case(&a, &a.to_ascii_uppercase()));
        }
    }
}
