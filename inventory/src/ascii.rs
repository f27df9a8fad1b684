//! Header names compared with the lower-case names looked for, a word at a time.
//!
//! Classification reads a handful of a request's header fields by name (`Host`,
//! `Content-Type`, `Authorization`, `Cookie`, the API-key headers): compared a byte at a
//! time, as `eq_ignore_ascii_case` does, these cost about 8 instructions a byte on every
//! request. The words of a name between 4 and 16 bytes long are its first and last 4 or 8
//! bytes (overlapping when the name is shorter than two words).

/// Each byte's high bit.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// `b.to_ascii_lowercase()` for each byte of `w`: bit 5 set in the bytes that are `A`-`Z`
/// (bytes at or above 0x80 are left alone, as `to_ascii_lowercase` does). The HTTP layer's
/// word-at-a-time comparisons use it too (`apitap_sessionizer`'s `http/ascii.rs`).
#[inline(always)]
pub fn lower(w: u64) -> u64 {
    let heptets = w & !HIGH_BITS;
    // High bit of each byte: set when the byte is >= 'A' (0x41 + 0x3f = 0x80), and when it
    // is > 'Z' (0x5b + 0x25 = 0x80); sums of heptets never carry into the next byte.
    let ge_a = heptets.wrapping_add(0x3f3f_3f3f_3f3f_3f3f);
    let gt_z = heptets.wrapping_add(0x2525_2525_2525_2525);
    let upper = ge_a & !gt_z & !w & HIGH_BITS;
    w | (upper >> 2)
}

/// The 8 bytes of `s` from `at` as a little-endian word; 0 when `s` has fewer bytes from
/// there (the callers read within their slices). The word-at-a-time compares of this crate
/// (`matcher/keymap.rs`) and of the HTTP layer (`apitap_sessionizer`'s `http/ascii.rs`)
/// read their words with it.
#[inline(always)]
pub fn le64(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The 4 bytes of `s` from `at` as a little-endian word, widened; 0 as [`le64`].
#[inline(always)]
pub fn le32(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
}

/// The first and the last 8 bytes of `s` (4 bytes each, in the low half, below 8 bytes),
/// when it has 4 to 16 bytes.
#[inline(always)]
fn words(s: &[u8]) -> Option<(u64, u64)> {
    let n = s.len();
    if (8..=16).contains(&n) {
        Some((le64(s, 0), le64(s, n - 8)))
    } else if (4..8).contains(&n) {
        Some((le32(s, 0), le32(s, n - 4)))
    } else {
        None
    }
}

/// `name.eq_ignore_ascii_case(lower_name)` for a `lower_name` in lower case (a constant: its
/// words are then worked out at compile time).
#[inline(always)]
pub fn eq_lower(name: &[u8], lower_name: &[u8]) -> bool {
    debug_assert!(!lower_name.iter().any(u8::is_ascii_uppercase));
    if name.len() != lower_name.len() {
        return false;
    }
    match (words(name), words(lower_name)) {
        (Some((a, b)), Some((c, d))) => lower(a) == c && lower(b) == d,
        _ => name.eq_ignore_ascii_case(lower_name),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::any;

    use super::*;

    #[test]
    fn names_of_every_length_around_the_words() {
        let table: [(&str, &str, bool); 10] = [
            ("", "", true),
            ("Ab", "ab", true),
            ("Host", "host", true),
            ("HOSTS", "hosts", true),
            ("Cookie", "cookie", true),
            ("Cookif", "cookie", false),
            ("Authorization", "authorization", true),
            ("Authorizatiom", "authorization", false),
            ("X-Goog-Api-Key", "x-goog-api-key", true),
            ("Host", "hosts", false),
        ];
        for (name, lower_name, want) in table {
            assert_eq!(
                eq_lower(name.as_bytes(), lower_name.as_bytes()),
                want,
                "{name}"
            );
        }
    }

    proptest::proptest! {
        /// The word comparison agrees with `eq_ignore_ascii_case` on names of the lengths
        /// around each step, with the bytes next to `A`-`Z` and `a`-`z`, `-`, control bytes
        /// (CR folds onto `-` when bit 5 is set blindly) and bytes beyond ASCII.
        #[test]
        fn matches_eq_ignore_ascii_case(
            name in proptest::collection::vec(
                proptest::sample::select(b"@AZ[`az{-\r\x00\x7f\x80\xc1\xdaMmx".to_vec()), 0..18),
            flip in any::<u64>(),
        ) {
            let lower_name = name.to_ascii_lowercase();
            proptest::prop_assert!(eq_lower(&name, &lower_name));
            // A name that differs from it in one byte.
            let mut other = lower_name.clone();
            if let Some(b) = other.get_mut((flip as usize) % name.len().max(1)) {
                *b = b.wrapping_add(1 + (flip >> 32) as u8 % 254);
            }
            let other = other.to_ascii_lowercase();
            proptest::prop_assert_eq!(
                eq_lower(&name, &other),
                name.eq_ignore_ascii_case(&other),
                "{:?} {:?}", name, other
            );
        }
    }
}
