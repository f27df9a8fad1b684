//! Small text helpers shared by records and sessions: byte-class scans over text that leaves
//! the sensor ([`is_clean`]: does a string need escaping in JSON; [`is_plain`]: is it plain
//! printable ASCII), hex digits and IPv4 addresses formatted without `fmt`.
//!
//! Header lists and targets make up most of a record's bytes and almost none of them need
//! escaping, so the scans look at sixteen bytes per step (vector compares) or a word at a
//! time, and a proptest holds both to a byte-by-byte reference.

/// Lower-case hex digits: `\u00XX` escapes (as `serde_json` writes them), session ids.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// The two lower-case hex digits of every byte value: one load per byte instead of two
/// nibble lookups (a session id is hex-encoded for every record that carries it).
static HEX_PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xF]];
        i += 1;
    }
    t
};

/// Write the hex digits of `bytes` into `digits` (twice as long; extra digits are left as
/// they are, missing ones are not written).
#[inline]
pub(crate) fn hex_into(bytes: &[u8], digits: &mut [u8]) {
    for (d, &b) in digits.chunks_exact_mut(2).zip(bytes) {
        d.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

/// Longest dotted-quad IPv4 address, quotes included: `"255.255.255.255"`.
const IPV4_QUOTED_MAX: usize = 17;

/// Room for an IPv4 address quoted, and a dot after its last octet ([`put_ipv4`]).
pub(crate) type Ipv4Buf = [u8; IPV4_QUOTED_MAX + 1];

/// Every octet's decimal digits followed by a dot, and how many of the four bytes that is.
const OCTETS: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut o = 0;
    while o < 256 {
        let (d, n) = if o >= 100 {
            (
                [
                    b'0' + (o / 100) as u8,
                    b'0' + (o / 10 % 10) as u8,
                    b'0' + (o % 10) as u8,
                ],
                3,
            )
        } else if o >= 10 {
            ([b'0' + (o / 10) as u8, b'0' + (o % 10) as u8, 0], 2)
        } else {
            ([b'0' + o as u8, 0, 0], 1)
        };
        t[o] = ([d[0], d[1], d[2], 0], n + 1);
        t[o].0[n as usize] = b'.';
        o += 1;
    }
    t
};

/// Write `v4` as `Display` writes it into `buf` from `at`, from a table of the 256 octets:
/// each octet's digits and dot go in whole. Returns where the address ends (the dot after the
/// last octet is at that index, for the caller to overwrite or leave out).
#[inline]
pub(crate) fn put_ipv4(buf: &mut Ipv4Buf, at: usize, v4: std::net::Ipv4Addr) -> usize {
    let mut n = at;
    for o in v4.octets() {
        let (digits, len) = OCTETS[usize::from(o)];
        buf[n..n + 4].copy_from_slice(&digits);
        n += usize::from(len);
    }
    n - 1
}

/// `v4` as `Display` writes it, without `fmt` (see [`put_ipv4`]).
pub(crate) fn ipv4_text(v4: std::net::Ipv4Addr, buf: &mut Ipv4Buf) -> &str {
    let end = put_ipv4(buf, 0, v4);
    // Digits and dots are ASCII.
    std::str::from_utf8(&buf[..end]).unwrap_or_default()
}

/// Bytes looked at in one step: one SSE2 register.
const BLOCK: usize = 16;

/// True when no byte of `block` needs escaping. Written as a fold over a fixed-size array so
/// that it compiles to a handful of vector compares, not a loop.
#[inline]
fn block_is_clean(block: &[u8; BLOCK]) -> bool {
    block
        .iter()
        .fold(true, |ok, &c| ok & (c >= 0x20) & (c != b'"') & (c != b'\\'))
}

/// A word with every byte set to `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// True when some byte of `w` is zero (exact: no false positives or negatives).
#[inline]
fn has_zero(w: u64) -> bool {
    (w.wrapping_sub(splat(0x01)) & !w & splat(0x80)) != 0
}

/// True when some byte of `w` is below 0x20 (a control character), a `"` or a `\`.
#[inline]
fn word_needs_escape(w: u64) -> bool {
    // Bytes < 0x20: subtracting 0x20 borrows into the high bit of exactly those bytes whose
    // high bit was clear before. Bytes >= 0x80 (UTF-8) are excluded by `!w`.
    let ctrl = w.wrapping_sub(splat(0x20)) & !w & splat(0x80);
    ctrl != 0 || has_zero(w ^ splat(b'"')) || has_zero(w ^ splat(b'\\'))
}

/// The `N` bytes of `b` from `at` (the caller checked the length).
#[inline]
fn array_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b.get(at..at + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([b' '; N])
}

/// True when no byte of `b` needs escaping in a JSON string (no control character, `"` or
/// `\`; non-ASCII UTF-8 is copied as it is).
#[inline]
pub(crate) fn is_clean(b: &[u8]) -> bool {
    scan(b, block_is_clean, word_needs_escape)
}

/// True when every byte of `b` is printable ASCII (or DEL) other than `"` and `\`: such bytes
/// are valid UTF-8, hold no line ending and are copied into a JSON string as they are. One
/// pass answers the three questions the HTTP layer asks of a message's header fields.
#[inline]
pub(crate) fn is_plain(b: &[u8]) -> bool {
    scan(b, block_is_plain, |w| {
        w & splat(0x80) != 0 || word_needs_escape(w)
    })
}

/// True when no byte of `block` is below 0x20, at or above 0x80, a `"` or a `\`.
#[inline]
fn block_is_plain(block: &[u8; BLOCK]) -> bool {
    block.iter().fold(true, |ok, &c| {
        ok & (0x20..0x80).contains(&c) & (c != b'\\') & (c != b'"')
    })
}

/// Whether every byte of `b` passes, checked in a few fixed-size steps without copying: whole
/// 16-byte blocks and one overlapping last block, or two overlapping words for short strings.
/// `block_ok` and `word_bad` must agree byte for byte (the word test flags a word holding any
/// failing byte).
#[inline(always)]
fn scan(b: &[u8], block_ok: impl Fn(&[u8; BLOCK]) -> bool, word_bad: impl Fn(u64) -> bool) -> bool {
    let n = b.len();
    if n >= BLOCK {
        let mut at = 0;
        while at + BLOCK <= n {
            if !block_ok(&array_at(b, at)) {
                return false;
            }
            at += BLOCK;
        }
        at == n || block_ok(&array_at(b, n - BLOCK))
    } else if n >= 8 {
        !word_bad(u64::from_ne_bytes(array_at(b, 0)))
            && !word_bad(u64::from_ne_bytes(array_at(b, n - 8)))
    } else if n >= 4 {
        let lo = u32::from_ne_bytes(array_at(b, 0));
        let hi = u32::from_ne_bytes(array_at(b, n - 4));
        !word_bad(u64::from(lo) | (u64::from(hi) << 32))
    } else {
        // Spread the bytes over a word of spaces (which pass every test).
        let mut w = [b' '; 8];
        w[..n].copy_from_slice(b);
        !word_bad(u64::from_ne_bytes(w))
    }
}

/// ASCII case-insensitive substring test (an empty `needle` is in every `hay`). The
/// needle's first letter is looked for with `memchr` (both cases) and compared only there:
/// request paths are tested against every login keyword.
pub(crate) fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (hay, k) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = k.first() else {
        return true;
    };
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lo, up, hay).any(|i| {
        hay.get(i..i + k.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(k))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The memchr scan finds what comparing every window finds.
        #[test]
        fn contains_matches_every_window(hay in "[a-zA-Z/]{0,24}", needle in "[a-z]{0,4}") {
            let slow = needle.is_empty()
                || hay.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
            prop_assert_eq!(contains_ignore_case(&hay, &needle), slow);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// The word-at-a-time scans agree with a byte-at-a-time reference at every length.
        #[test]
        fn scans_match_byte_by_byte(
            mut b in proptest::collection::vec(0x20u8..0x80, 0..200),
            odd in proptest::option::of((proptest::num::usize::ANY, proptest::num::u8::ANY)),
        ) {
            // Mostly passing bytes, with at most one arbitrary byte anywhere.
            if let (Some((at, c)), false) = (odd, b.is_empty()) {
                let i = at % b.len();
                b[i] = c;
            }
            let escapes = |c: u8| c < 0x20 || c == b'"' || c == b'\\';
            prop_assert_eq!(is_clean(&b), !b.iter().any(|&c| escapes(c)));
            prop_assert_eq!(is_plain(&b), !b.iter().any(|&c| escapes(c) || c >= 0x80));
        }
    }
}
