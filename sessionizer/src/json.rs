//! A small JSON writer for the hot record (one `http` record per transaction).
//!
//! `serde_json` escapes strings one byte at a time; header lists make up most of a record's
//! bytes, and almost none of them need escaping. [`write_str`] checks sixteen bytes per step
//! (vector compares) and copies a clean string whole. The output is byte-identical to `serde_json`'s (a
//! differential test in `record.rs` holds it to that).

use std::io::Write as _;

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

/// Append `s` as a JSON string, quotes included.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if is_clean(b) {
        // The common case: nothing to escape, one copy.
        write_quoted(out, b);
    } else {
        write_str_escaping(out, b);
    }
}

/// `b` between quotes, as it is (the caller knows it needs no escaping).
#[inline]
fn write_quoted(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(b.len() + 2);
    out.push(b'"');
    out.extend_from_slice(b);
    out.push(b'"');
}

/// [`write_str`] of a string known to need no escaping when `clean` (a part of a string
/// found clean, a value of a plain header list): no scan then.
#[inline]
pub fn write_str_known(out: &mut Vec<u8>, s: &str, clean: bool) {
    if clean {
        debug_assert!(is_clean(s.as_bytes()));
        write_quoted(out, s.as_bytes());
    } else {
        write_str(out, s);
    }
}

/// [`write_str_known`] of an optional string (`null` when absent).
#[inline]
pub fn write_opt_str_known(out: &mut Vec<u8>, s: Option<&str>, clean: bool) {
    match s {
        Some(s) => write_str_known(out, s, clean),
        None => out.extend_from_slice(b"null"),
    }
}

/// Bytes looked at in one step by [`is_clean`]: one SSE2 register.
const BLOCK: usize = 16;

/// Bytes [`is_plain_framed`] folds per step: four vectors' worth, so that its two reductions
/// across lanes (the quote count and the verdict) run once per 64 bytes instead of per 16
/// (header lists run to a kilobyte per transaction).
const FRAMED_BLOCK: usize = 64;

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

/// True when no byte of `b` needs escaping.
#[inline]
pub fn is_clean(b: &[u8]) -> bool {
    scan(b, block_is_clean, word_needs_escape)
}

/// True when every byte of `b` is printable ASCII (or DEL) other than `"` and `\`: such bytes
/// are valid UTF-8, hold no line ending and are copied into a JSON string as they are. One
/// pass answers the three questions the HTTP layer asks of a message's header fields.
#[inline]
pub fn is_plain(b: &[u8]) -> bool {
    scan(b, block_is_plain, |w| {
        w & splat(0x80) != 0 || word_needs_escape(w)
    })
}

/// [`is_plain`] for text the caller framed with exactly `quotes` `"` characters of its own
/// (a header list laid out as JSON): true when every other byte is plain. One pass over the
/// whole text instead of one call per name and value.
pub fn is_plain_framed(b: &[u8], quotes: usize) -> bool {
    // (`as_chunks` would say this directly; it is newer than the workspace's MSRV.)
    let wide = b.chunks_exact(FRAMED_BLOCK);
    let rest = wide.remainder();
    let narrow = rest.chunks_exact(BLOCK);
    let tail = narrow.remainder();
    let mut seen = 0usize;
    for block in wide {
        let (bad, q) = framed_fold(&array_at::<FRAMED_BLOCK>(block, 0));
        if bad {
            return false;
        }
        seen += usize::from(q);
    }
    for block in narrow {
        let (bad, q) = framed_fold(&array_at::<BLOCK>(block, 0));
        if bad {
            return false;
        }
        seen += usize::from(q);
    }
    for &c in tail {
        if !ascii_unescaped(c) {
            return false;
        }
        seen += usize::from(c == b'"');
    }
    seen == quotes
}

/// Over a block of [`is_plain_framed`]: whether a byte is not plain besides quotes, and the
/// quotes (at most 64, so a `u8` holds them). Folded: vector compares and a sum, reduced
/// across lanes once per block.
#[inline(always)]
fn framed_fold<const N: usize>(block: &[u8; N]) -> (bool, u8) {
    block.iter().fold((false, 0u8), |(bad, q), &c| {
        (
            bad | !ascii_unescaped(c),
            q.wrapping_add(u8::from(c == b'"')),
        )
    })
}

/// True when no byte of `block` is below 0x20, at or above 0x80, a `"` or a `\`.
#[inline]
fn block_is_plain(block: &[u8; BLOCK]) -> bool {
    block
        .iter()
        .fold(true, |ok, &c| ok & ascii_unescaped(c) & (c != b'"'))
}

/// True for printable ASCII (or DEL) other than `\`: what a plain string may hold besides
/// quotes (which [`is_plain`] rejects and [`is_plain_framed`] counts).
#[inline]
fn ascii_unescaped(c: u8) -> bool {
    (0x20..0x80).contains(&c) & (c != b'\\')
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

/// The slow path of [`write_str`]: one byte at a time.
#[cold]
fn write_str_escaping(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0C => b"\\f",
            0..=0x1F => {
                out.extend_from_slice(&b[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 0xF)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// Append a JSON object of `entries` in their order, each value written by `write_v`.
pub fn write_object<'k, V>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = (&'k str, V)>,
    mut write_v: impl FnMut(&mut Vec<u8>, V),
) {
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write_v(out, v);
    }
    out.push(b'}');
}

/// Append an optional string (`null` when absent).
pub fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Append an unsigned integer.
pub fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(n).as_bytes());
}

/// Append a value through `Display`, quoted, for values that never need escaping
/// (addresses, timestamps, hex ids).
pub fn write_display_str(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    out.push(b'"');
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{v}");
    out.push(b'"');
}

/// Append bytes as lower-case hex, quoted (session ids).
pub fn write_hex_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2 + 2);
    out.push(b'"');
    // Two digits per step into a small array, appended whole: one capacity check per
    // [`HEX_CHUNK`] bytes instead of one per digit.
    for chunk in bytes.chunks(HEX_CHUNK) {
        let mut digits = [0u8; 2 * HEX_CHUNK];
        hex_into(chunk, &mut digits);
        out.extend_from_slice(&digits[..2 * chunk.len()]);
    }
    out.push(b'"');
}

/// Bytes [`write_hex_str`] turns into digits per step (a session id is one step).
const HEX_CHUNK: usize = 16;

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
fn put_ipv4(buf: &mut Ipv4Buf, at: usize, v4: std::net::Ipv4Addr) -> usize {
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

/// Append an IP address, quoted; IPv4 without `fmt` (most records: two per http record),
/// IPv6 through `Display`.
pub fn write_ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut text = Ipv4Buf::default();
            text[0] = b'"';
            // The closing quote replaces the dot after the last octet.
            let end = put_ipv4(&mut text, 1, v4);
            text[end] = b'"';
            out.extend_from_slice(&text[..=end]);
        }
        std::net::IpAddr::V6(_) => write_display_str(out, ip),
    }
}

/// Microseconds in a second.
const US_PER_SEC: u64 = 1_000_000;

/// Seconds from the epoch to 10000-01-01T00:00:00Z. RFC 3339 years have four digits: a packet
/// time from then on (a pcapng file can carry one) is written as the last microsecond of year
/// 9999 rather than as text that is not a timestamp.
pub const RFC3339_END_SECS: u64 = 253_402_300_800;

/// Length of `YYYY-MM-DDTHH:MM:SS`.
const DATE_TIME_LEN: usize = 19;

thread_local! {
    /// The last second formatted by [`write_ts_micros`] and its `YYYY-MM-DDTHH:MM:SS` text:
    /// records come in time order, so consecutive ones share the second.
    static LAST_SECOND: std::cell::RefCell<(u64, [u8; DATE_TIME_LEN])> =
        const { std::cell::RefCell::new((u64::MAX, [0; DATE_TIME_LEN])) };
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of `secs` after the epoch, `secs` below [`RFC3339_END_SECS`].
///
/// The date is Howard Hinnant's `civil_from_days` (proleptic Gregorian calendar, eras of 400
/// years): integer arithmetic only, where formatting through `humantime` allocated a `String`
/// and cost about 1,200 instructions, paid by every `session` record's timestamps (their
/// seconds jump about) and by the `http` record after each of them.
fn date_time(secs: u64) -> [u8; DATE_TIME_LEN] {
    let (days, sod) = (secs / 86_400, secs % 86_400);
    // Days since 0000-03-01, so that a leap day ends its year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    let mut b = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for d in b[at..at + width].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, sod / 3_600);
    put(14, 2, sod / 60 % 60);
    put(17, 2, sod % 60);
    b
}

/// Append packet time `ts_us` as quoted RFC 3339 UTC with microseconds, exactly as
/// `humantime::format_rfc3339_micros` writes it (`2026-11-28T04:57:49.753155Z`), formatting the
/// date and time of day only when the second changes. Times from year 10000 on are written
/// as `9999-12-31T23:59:59.999999Z` (see [`RFC3339_END_SECS`]).
pub fn write_ts_micros(out: &mut Vec<u8>, ts_us: u64) {
    let (mut secs, mut micros) = (ts_us / US_PER_SEC, ts_us % US_PER_SEC);
    if secs >= RFC3339_END_SECS {
        (secs, micros) = (RFC3339_END_SECS - 1, US_PER_SEC - 1);
    }
    out.push(b'"');
    LAST_SECOND.with(|cell| {
        let mut last = cell.borrow_mut();
        if last.0 != secs {
            *last = (secs, date_time(secs));
        }
        out.extend_from_slice(&last.1);
    });
    out.push(b'.');
    let mut digits = [b'0'; 6];
    let mut m = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (m % 10) as u8;
        m /= 10;
    }
    out.extend_from_slice(&digits);
    out.extend_from_slice(b"Z\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ours(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        write_str(&mut v, s);
        v
    }

    #[test]
    fn escapes_like_serde_json() {
        for s in [
            "",
            "plain",
            "exactly8",
            "a\"b\\c",
            "ctrl\u{1}\u{1f}\u{7f}",
            "tab\tnl\ncr\rbs\u{8}ff\u{c}",
            "ünïcödé ✓ 😀",
            "0123456789abcdef\"0123456789",
        ] {
            assert_eq!(ours(s), serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn framed_quote_count_survives_long_texts() {
        // 300 blocks with a quote each: counts beyond a byte's range.
        let text = "\"abcdefghijklmno".repeat(300);
        assert!(is_plain_framed(text.as_bytes(), 300));
        assert!(!is_plain_framed(text.as_bytes(), 300 - 256));
        assert!(!is_plain_framed(format!("{text}\\").as_bytes(), 300));
    }

    #[test]
    fn timestamps_ips_and_hex_like_their_display() {
        for ts in [
            0u64,
            1,
            999_999,
            1_000_000,
            1_764_304_669_753_155,
            1_764_304_669_000_000,
            951_782_400_000_000, // 2000-02-29, a leap day of a 400-year leap year
            4_107_542_400_000_000, // 2100-03-01, after the 28 days of a century's February
            RFC3339_END_SECS * US_PER_SEC - 1,
        ] {
            let mut ours = Vec::new();
            write_ts_micros(&mut ours, ts);
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(ts);
            let want = format!("\"{}\"", humantime::format_rfc3339_micros(t));
            assert_eq!(String::from_utf8(ours).unwrap(), want, "{ts}");
        }
        for ip in [
            "10.0.0.1",
            "255.255.255.0",
            "0.0.0.0",
            "2001:db8::1",
            "::ffff:1.2.3.4",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut ours = Vec::new();
            write_ip(&mut ours, ip);
            assert_eq!(ours, serde_json::to_vec(&ip).unwrap());
        }
        let mut ours = Vec::new();
        write_hex_str(&mut ours, &[0x00, 0xab, 0x7f]);
        assert_eq!(ours, b"\"00ab7f\"");
    }

    /// Packet times past year 9999 (which `humantime` refuses to format, and which a pcapng
    /// file can carry) are written as the last microsecond of 9999, never a panic.
    #[test]
    fn timestamps_past_year_9999_are_clamped() {
        for ts in [RFC3339_END_SECS * US_PER_SEC, u64::MAX / 2, u64::MAX] {
            let mut ours = Vec::new();
            write_ts_micros(&mut ours, ts);
            assert_eq!(ours, b"\"9999-12-31T23:59:59.999999Z\"", "{ts}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any packet time formats as humantime does.
        #[test]
        fn any_ipv4_matches_display(bits in proptest::num::u32::ANY) {
            let ip = std::net::IpAddr::V4(bits.into());
            let mut ours = Vec::new();
            write_ip(&mut ours, ip);
            prop_assert_eq!(ours, serde_json::to_vec(&ip).unwrap());
        }

        #[test]
        fn any_bytes_in_hex(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let mut ours = Vec::new();
            write_hex_str(&mut ours, &bytes);
            let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), format!("\"{want}\""));
        }

        #[test]
        fn any_session_id_in_hex(bytes in proptest::array::uniform16(proptest::num::u8::ANY)) {
            let id = crate::session::HashId(bytes);
            let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut buf = [0; crate::session::secret::HEX_LEN];
            prop_assert_eq!(id.hex_in(&mut buf), want.as_str());
        }

        #[test]
        fn any_timestamp_matches_humantime(ts in 0u64..RFC3339_END_SECS * US_PER_SEC) {
            let mut ours = Vec::new();
            write_ts_micros(&mut ours, ts);
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(ts);
            prop_assert_eq!(String::from_utf8(ours).unwrap(), format!("\"{}\"", humantime::format_rfc3339_micros(t)));
        }

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
            // Framed in quotes: plain inside exactly when the quotes are the framing's.
            let framed: Vec<u8> = [&b"[\""[..], &b, b"\"]"].concat();
            prop_assert_eq!(is_plain_framed(&framed, 2), is_plain(&b));
        }

        /// Differential: any string is written exactly as serde_json writes it.
        #[test]
        fn any_string_matches_serde_json(s in "\\PC*|[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(ours(&s), serde_json::to_vec(&s).unwrap());
        }
    }
}
