//! A small JSON writer for records: objects and arrays that place their own commas, and
//! value writers that are byte-identical to `serde_json`'s (a differential test holds them
//! to it).
//!
//! `serde_json` escapes strings one byte at a time; header lists make up most of a record's
//! bytes, and almost none of them need escaping. [`write_str`] checks sixteen bytes per step
//! ([`crate::text::is_clean`]) and copies a clean string whole.
//!
//! ```text
//! let mut o = Obj::open(out);            // {
//! write_u64(o.key(key!("depth")), 1);    //  "depth":1
//! let mut f = Obj::open(o.key(key!("flow")));
//! write_ip(f.key(key!("src_ip")), ip);   //  ,"flow":{"src_ip":"10.0.0.1"
//! f.close();                             //  }
//! o.close();                             // }
//! ```

use std::io::Write as _;
use std::net::IpAddr;

use crate::text::{hex_into, is_clean, put_ipv4, Ipv4Buf, HEX};

/// A member name as written before its value, `"name":`, built at compile time: a field
/// costs one copy of a constant.
macro_rules! key {
    ($name:literal) => {
        concat!("\"", $name, "\":").as_bytes()
    };
}
pub(crate) use key;

/// A JSON object being written: it puts a comma before every member but the first.
pub(crate) struct Obj<'a> {
    out: &'a mut Vec<u8>,
    /// No member written yet.
    empty: bool,
}

impl<'a> Obj<'a> {
    /// Open an object: `{`.
    #[inline]
    pub(crate) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, empty: true }
    }

    /// Go on with an object whose opening and first members were written earlier (a record's
    /// head, written by a worker, before its session fields).
    #[inline]
    pub(crate) fn resume(out: &'a mut Vec<u8>) -> Self {
        Obj { out, empty: false }
    }

    /// Start a member: the comma when one is due, then `name`, a [`key!`]. Returns the
    /// buffer for the value's writer.
    #[inline]
    pub(crate) fn key(&mut self, name: &[u8]) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.extend_from_slice(name);
        self.out
    }

    /// Members written as JSON already (`"a":1,"b":null`), copied as they are.
    #[inline]
    pub(crate) fn raw_members(&mut self, json: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.extend_from_slice(json.as_bytes());
    }

    /// A member whose name is not a constant (context parameters, endpoint names): written
    /// as a JSON string.
    #[inline]
    pub(crate) fn dyn_key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        write_str(self.out, name);
        self.out.push(b':');
        self.out
    }

    /// Close the object: `}`.
    #[inline]
    pub(crate) fn close(self) {
        self.out.push(b'}');
    }

    /// Leave the object open, for [`Obj::resume`] to finish.
    #[inline]
    pub(crate) fn suspend(self) {}
}

/// A JSON array being written: it puts a comma before every element but the first.
pub(crate) struct Arr<'a> {
    out: &'a mut Vec<u8>,
    /// No element written yet.
    empty: bool,
}

impl<'a> Arr<'a> {
    /// Open an array: `[`.
    #[inline]
    pub(crate) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'[');
        Arr { out, empty: true }
    }

    /// Start an element: the comma when one is due. Returns the buffer for its writer.
    #[inline]
    pub(crate) fn item(&mut self) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out
    }

    /// Close the array: `]`.
    #[inline]
    pub(crate) fn close(self) {
        self.out.push(b']');
    }
}

/// Append `s` as a JSON string, quotes included.
#[inline]
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
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
pub(crate) fn write_str_known(out: &mut Vec<u8>, s: &str, clean: bool) {
    if clean {
        debug_assert!(is_clean(s.as_bytes()));
        write_quoted(out, s.as_bytes());
    } else {
        write_str(out, s);
    }
}

/// [`write_str_known`] of an optional string (`null` when absent).
#[inline]
pub(crate) fn write_opt_str_known(out: &mut Vec<u8>, s: Option<&str>, clean: bool) {
    match s {
        Some(s) => write_str_known(out, s, clean),
        None => out.extend_from_slice(b"null"),
    }
}

/// Append an optional string (`null` when absent).
#[inline]
pub(crate) fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    write_opt_str_known(out, s, false);
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

/// Append an unsigned integer.
#[inline]
pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(n).as_bytes());
}

/// Append a float as `serde_json` writes it (`null` when not finite).
pub(crate) fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        // Writing to a Vec cannot fail; serde_json's own formatter gives its exact digits.
        let _ = serde_json::to_writer(&mut *out, &v);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// `true`, `false` or `null`.
#[inline]
pub(crate) fn write_opt_bool(out: &mut Vec<u8>, b: Option<bool>) {
    out.extend_from_slice(match b {
        Some(true) => b"true",
        Some(false) => b"false",
        None => b"null",
    });
}

/// Append a value through `Display`, quoted, for values that never need escaping
/// (IPv6 addresses).
fn write_display_str(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    out.push(b'"');
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{v}");
    out.push(b'"');
}

/// Bytes [`write_hex_str`] turns into digits per step (a session id is one step).
const HEX_CHUNK: usize = 16;

/// Append bytes as lower-case hex, quoted (session ids).
pub(crate) fn write_hex_str(out: &mut Vec<u8>, bytes: &[u8]) {
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

/// Append an IP address, quoted; IPv4 without `fmt` (most records: two per http record),
/// IPv6 through `Display`.
#[inline]
pub(crate) fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = Ipv4Buf::default();
            text[0] = b'"';
            // The closing quote replaces the dot after the last octet.
            let end = put_ipv4(&mut text, 1, v4);
            text[end] = b'"';
            out.extend_from_slice(&text[..=end]);
        }
        IpAddr::V6(_) => write_display_str(out, ip),
    }
}

/// Microseconds in a second.
const US_PER_SEC: u64 = 1_000_000;

/// Seconds from the epoch to 10000-01-01T00:00:00Z. RFC 3339 years have four digits: a packet
/// time from then on (a pcapng file can carry one) is written as the last microsecond of year
/// 9999 rather than as text that is not a timestamp.
pub(crate) const RFC3339_END_SECS: u64 = 253_402_300_800;

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
/// years): integer arithmetic only, no allocation.
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

/// Append packet time `ts_us` as quoted RFC 3339 UTC with microseconds
/// (`2026-11-28T04:57:49.753155Z`), formatting the date and time of day only when the second
/// changes. Times from year 10000 on are written as `9999-12-31T23:59:59.999999Z` (see
/// [`RFC3339_END_SECS`]).
pub(crate) fn write_ts_micros(out: &mut Vec<u8>, ts_us: u64) {
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

    /// Objects and arrays place their commas: none before the first member, one before each
    /// other, nested or resumed.
    #[test]
    fn objects_and_arrays_place_their_commas() {
        let mut out = Vec::new();
        let o = Obj::open(&mut out);
        o.close();
        assert_eq!(out, b"{}");
        out.clear();
        let mut o = Obj::open(&mut out);
        write_u64(o.key(key!("a")), 1);
        let mut inner = Obj::open(o.key(key!("b")));
        write_str(inner.dyn_key("x\"y"), "v");
        write_opt_bool(inner.key(key!("t")), None);
        inner.close();
        let mut arr = Arr::open(o.key(key!("c")));
        write_u64(arr.item(), 1);
        write_u64(arr.item(), 2);
        arr.close();
        Arr::open(o.key(key!("d"))).close();
        o.suspend();
        let mut o = Obj::resume(&mut out);
        write_f64(o.key(key!("e")), 1.5);
        o.close();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"a":1,"b":{"x\"y":"v","t":null},"c":[1,2],"d":[],"e":1.5}"#
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["b"]["x\"y"], "v");
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
            let ip: IpAddr = ip.parse().unwrap();
            let mut ours = Vec::new();
            write_ip(&mut ours, ip);
            assert_eq!(ours, serde_json::to_vec(&ip).unwrap());
        }
        let mut ours = Vec::new();
        write_hex_str(&mut ours, &[0x00, 0xab, 0x7f]);
        assert_eq!(ours, b"\"00ab7f\"");
        for v in [0.0, -1.25, 1e300, 123456.789] {
            let mut ours = Vec::new();
            write_f64(&mut ours, v);
            assert_eq!(ours, serde_json::to_vec(&v).unwrap());
        }
        let mut ours = Vec::new();
        write_f64(&mut ours, f64::NAN);
        assert_eq!(ours, b"null");
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

        #[test]
        fn any_ipv4_matches_display(bits in proptest::num::u32::ANY) {
            let ip = IpAddr::V4(bits.into());
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

        /// Any packet time formats as humantime does.
        #[test]
        fn any_timestamp_matches_humantime(ts in 0u64..RFC3339_END_SECS * US_PER_SEC) {
            let mut ours = Vec::new();
            write_ts_micros(&mut ours, ts);
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(ts);
            prop_assert_eq!(String::from_utf8(ours).unwrap(), format!("\"{}\"", humantime::format_rfc3339_micros(t)));
        }

        /// Differential: any string is written exactly as serde_json writes it.
        #[test]
        fn any_string_matches_serde_json(s in "\\PC*|[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(ours(&s), serde_json::to_vec(&s).unwrap());
        }
    }
}
