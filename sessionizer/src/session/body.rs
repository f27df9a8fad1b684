//! Bodies: `Content-Encoding` decoding (gzip, deflate, br, zstd) under decompression-bomb caps,
//! and field extraction from JSON, `x-www-form-urlencoded` and `multipart/form-data`.
//!
//! Bodies arrive de-chunked and capped by the HTTP layer (`body_truncated`). A cut compressed
//! body decodes as far as it goes; that is not an error.

use std::borrow::Cow;
use std::io::Read;

use memchr::memmem;

use super::config::BodyConfig;

/// Content codings applied to one body that are undone (RFC 9110 section 8.4); more is
/// treated as unsupported.
pub const MAX_CONTENT_CODINGS: usize = 4;

/// Buffer of the brotli reader, in bytes.
const BROTLI_BUFFER_BYTES: usize = 4096;

/// Header bytes of one multipart part looked at; a larger part head ends the scan.
pub const MAX_PART_HEADER_BYTES: usize = 4096;

/// How decoding a body went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeStatus {
    /// No content coding (or `identity`).
    Identity,
    /// Decoded completely.
    Decoded,
    /// Decoded as far as the (truncated) input went.
    Partial,
    /// Output reached `max_decoded_bytes` or the ratio bound and was cut.
    Capped,
    /// The coding is unknown or stacked too deep; the body is unusable.
    Unsupported,
    /// The input is not valid for its coding; what decoded before the error is kept.
    Failed,
}

/// Undo the content codings named in `content_encoding` (applied in order, so undone in
/// reverse). `truncated` says the input was cut by the HTTP layer.
pub fn decode<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
    truncated: bool,
    limits: &BodyConfig,
) -> (Cow<'a, [u8]>, DecodeStatus) {
    let codings: Vec<&str> = match content_encoding {
        None => return (Cow::Borrowed(body), DecodeStatus::Identity),
        Some(ce) => ce
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
            .collect(),
    };
    if codings.is_empty() {
        return (Cow::Borrowed(body), DecodeStatus::Identity);
    }
    if codings.len() > MAX_CONTENT_CODINGS {
        return (Cow::Borrowed(&[]), DecodeStatus::Unsupported);
    }
    let ratio_cap = body
        .len()
        .saturating_mul(limits.max_decompression_ratio as usize)
        .max(1);
    let cap = limits.max_decoded_bytes.min(ratio_cap);
    let mut data: Cow<'a, [u8]> = Cow::Borrowed(body);
    let mut status = DecodeStatus::Decoded;
    for coding in codings.iter().rev() {
        let (out, st) = match decode_one(coding, &data, cap) {
            Some(r) => r,
            None => return (Cow::Borrowed(&[]), DecodeStatus::Unsupported),
        };
        data = Cow::Owned(out);
        status = match (status, st) {
            (DecodeStatus::Capped, _) | (_, DecodeStatus::Capped) => DecodeStatus::Capped,
            (DecodeStatus::Failed, _) | (_, DecodeStatus::Failed) if !truncated => {
                DecodeStatus::Failed
            }
            (DecodeStatus::Failed, _) | (_, DecodeStatus::Failed) => DecodeStatus::Partial,
            (s, DecodeStatus::Decoded) => s,
            (_, s) => s,
        };
    }
    (data, status)
}

/// Decode one coding with an output cap; `None` for an unknown coding.
fn decode_one(coding: &str, input: &[u8], cap: usize) -> Option<(Vec<u8>, DecodeStatus)> {
    let c = coding.to_ascii_lowercase();
    Some(match c.as_str() {
        "gzip" | "x-gzip" => read_capped_sized(
            flate2::read::MultiGzDecoder::new(input),
            cap,
            gzip_size(input),
        ),
        "deflate" => {
            // RFC 9110 section 8.4.1.2: zlib format; some servers send raw deflate (RFC 1951).
            if looks_like_zlib(input) {
                read_capped(flate2::read::ZlibDecoder::new(input), cap)
            } else {
                read_capped(flate2::read::DeflateDecoder::new(input), cap)
            }
        }
        "br" => read_capped(
            brotli_decompressor::Decompressor::new(input, BROTLI_BUFFER_BYTES),
            cap,
        ),
        "zstd" => match ruzstd::decoding::StreamingDecoder::new(input) {
            Ok(d) => read_capped(d, cap),
            Err(_) => (Vec::new(), DecodeStatus::Failed),
        },
        _ => return None,
    })
}

/// A zlib stream header (RFC 1950 section 2.2): method 8 and a valid check.
fn looks_like_zlib(b: &[u8]) -> bool {
    match b {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// Bytes of a gzip trailer (RFC 1952 section 2.3: CRC32, then ISIZE).
const GZIP_TRAILER_BYTES: usize = 8;

/// The decoded size a gzip stream's last member states (ISIZE, RFC 1952 section 2.3.1: the
/// size modulo 2^32, little-endian, in the last four bytes); `None` for a stream too short
/// to hold a trailer. A hint only: a stream cut short or of several members states
/// something else.
fn gzip_size(b: &[u8]) -> Option<usize> {
    let trailer = b
        .len()
        .checked_sub(GZIP_TRAILER_BYTES)
        .and_then(|at| b.get(at..))?;
    let isize = trailer.get(4..)?.try_into().ok().map(u32::from_le_bytes)?;
    usize::try_from(isize).ok()
}

/// [`read_capped`] into a buffer made for `size_hint` bytes (one more, to see the end, and
/// never past the cap): the decoder then writes its output in a few large reads instead of
/// growing the buffer from nothing. The bytes are the same either way.
fn read_capped_sized(
    r: impl Read,
    cap: usize,
    size_hint: Option<usize>,
) -> (Vec<u8>, DecodeStatus) {
    let capacity = size_hint.map_or(0, |n| n.min(cap).saturating_add(1));
    read_capped_into(r, cap, Vec::with_capacity(capacity))
}

/// Read at most `cap` bytes; one more byte available means the output was cut.
fn read_capped(r: impl Read, cap: usize) -> (Vec<u8>, DecodeStatus) {
    read_capped_into(r, cap, Vec::new())
}

/// [`read_capped`] into `out` (empty, perhaps with room made).
fn read_capped_into(r: impl Read, cap: usize, mut out: Vec<u8>) -> (Vec<u8>, DecodeStatus) {
    let res = r.take(cap as u64 + 1).read_to_end(&mut out);
    if out.len() > cap {
        out.truncate(cap);
        return (out, DecodeStatus::Capped);
    }
    match res {
        Ok(_) => (out, DecodeStatus::Decoded),
        Err(_) => (out, DecodeStatus::Failed),
    }
}

/// What a body's `Content-Type` says about its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyKind<'a> {
    /// `application/json`, `application/*+json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data` with its boundary.
    Multipart(&'a str),
    /// Anything else (sniffed as JSON when it starts with `{` or `[`).
    Other,
}

/// Classify a `Content-Type` value.
pub fn kind(content_type: Option<&str>) -> BodyKind<'_> {
    let Some(ct) = content_type else {
        return BodyKind::Other;
    };
    let mut params = ct.split(';');
    let essence = params.next().unwrap_or("").trim();
    let (ty, sub) = essence.split_once('/').unwrap_or((essence, ""));
    if ty.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            // Compared as bytes: `sub.len() - 5` may fall inside a multi-byte character.
            || (sub.len() > 5 && sub.as_bytes()[sub.len() - 5..].eq_ignore_ascii_case(b"+json")))
    {
        return BodyKind::Json;
    }
    if ty.eq_ignore_ascii_case("application") && sub.eq_ignore_ascii_case("x-www-form-urlencoded") {
        return BodyKind::Form;
    }
    if ty.eq_ignore_ascii_case("multipart") && sub.eq_ignore_ascii_case("form-data") {
        for p in params {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("boundary") {
                    let b = v.trim().trim_matches('"');
                    if !b.is_empty() && b.len() <= 70 {
                        return BodyKind::Multipart(b);
                    }
                }
            }
        }
    }
    BodyKind::Other
}

/// True when the first non-blank byte opens a JSON object or array.
pub fn sniff_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

/// The first value of `name` in an urlencoded string (query or form body), percent-decoded.
pub fn urlencoded_field<'a>(data: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    form_urlencoded::parse(data)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Result of a multipart field lookup.
#[derive(Debug, PartialEq, Eq)]
pub struct MultipartField<'a> {
    /// The field's value (lossy UTF-8), if found.
    pub value: Option<Cow<'a, str>>,
    /// The scan stopped at `max_parts` before finding it.
    pub capped: bool,
}

/// The value of form field `name` in a `multipart/form-data` body (RFC 7578), looking at no
/// more than `max_parts` parts. A body cut inside the field yields what is there.
pub fn multipart_field<'a>(
    body: &'a [u8],
    boundary: &str,
    name: &str,
    max_parts: usize,
) -> MultipartField<'a> {
    let delim = [b"--", boundary.as_bytes()].concat();
    let finder = memmem::Finder::new(&delim);
    let Some(first) = finder.find(body) else {
        return MultipartField {
            value: None,
            capped: false,
        };
    };
    let mut pos = first + delim.len();
    for _ in 0..max_parts {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return MultipartField {
                value: None,
                capped: false,
            };
        }
        // The delimiter line ends with CRLF (transport padding tolerated).
        let Some(eol) = memmem::find(rest, b"\r\n") else {
            break;
        };
        let head_start = pos + eol + 2;
        let head = &body[head_start..];
        let Some(head_len) =
            memmem::find(&head[..head.len().min(MAX_PART_HEADER_BYTES)], b"\r\n\r\n")
        else {
            break;
        };
        let content_start = head_start + head_len + 4;
        let next = finder
            .find(&body[content_start..])
            .map(|i| content_start + i);
        let content_end = match next {
            Some(n) if n >= 2 && body.get(n - 2..n) == Some(b"\r\n") => n - 2,
            Some(n) => n,
            None => body.len(),
        };
        if part_name(&body[head_start..head_start + head_len]) == Some(name) {
            let v = String::from_utf8_lossy(&body[content_start..content_end.max(content_start)]);
            return MultipartField {
                value: Some(v).filter(|v| !v.is_empty()),
                capped: false,
            };
        }
        match next {
            Some(n) => pos = n + delim.len(),
            None => {
                return MultipartField {
                    value: None,
                    capped: false,
                }
            }
        }
    }
    MultipartField {
        value: None,
        capped: body.len() > pos,
    }
}

/// The `name` of a part from its `Content-Disposition: form-data; name="..."` header.
fn part_name(head: &[u8]) -> Option<&str> {
    let head = std::str::from_utf8(head).ok()?;
    head.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        if !n.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        v.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            if k.trim().eq_ignore_ascii_case("name") {
                Some(v.trim().trim_matches('"'))
            } else {
                None
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// `{"user":{"id":42},"token":"abc"}` compressed with brotli.
    const BROTLI_JSON: &[u8] = &[
        139, 15, 128, 123, 34, 117, 115, 101, 114, 34, 58, 123, 34, 105, 100, 34, 58, 52, 50, 125,
        44, 34, 116, 111, 107, 101, 110, 34, 58, 34, 97, 98, 99, 34, 125, 3,
    ];
    /// The same JSON compressed with `zstd -19`.
    const ZSTD_JSON: &[u8] = &[
        40, 181, 47, 253, 4, 104, 1, 1, 0, 123, 34, 117, 115, 101, 114, 34, 58, 123, 34, 105, 100,
        34, 58, 52, 50, 125, 44, 34, 116, 111, 107, 101, 110, 34, 58, 34, 97, 98, 99, 34, 125, 169,
        88, 79, 109,
    ];
    /// 8 MiB of zero bytes compressed with brotli (14 bytes: a bomb).
    const BROTLI_BOMB: &[u8] = &[
        203, 255, 255, 63, 248, 39, 0, 226, 177, 64, 32, 247, 254, 111,
    ];
    /// The JSON of the compressed samples.
    const JSON: &[u8] = br#"{"user":{"id":42},"token":"abc"}"#;

    #[test]
    fn codings_decode() {
        let l = BodyConfig::default();
        assert_eq!(
            decode(Some("gzip"), &gzip(JSON), false, &l),
            (Cow::Owned(JSON.to_vec()), DecodeStatus::Decoded)
        );
        assert_eq!(decode(Some("br"), BROTLI_JSON, false, &l).0.as_ref(), JSON);
        assert_eq!(decode(Some("zstd"), ZSTD_JSON, false, &l).0.as_ref(), JSON);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(JSON).unwrap();
        assert_eq!(
            decode(Some("deflate"), &z.finish().unwrap(), false, &l)
                .0
                .as_ref(),
            JSON
        );
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(JSON).unwrap();
        assert_eq!(
            decode(Some("deflate"), &d.finish().unwrap(), false, &l)
                .0
                .as_ref(),
            JSON
        );
        // Stacked: gzip applied first, then identity, so only gzip is undone.
        assert_eq!(
            decode(Some("gzip, identity"), &gzip(JSON), false, &l)
                .0
                .as_ref(),
            JSON
        );
        assert_eq!(decode(None, JSON, false, &l).1, DecodeStatus::Identity);
        assert_eq!(
            decode(Some("compress"), JSON, false, &l).1,
            DecodeStatus::Unsupported
        );
    }

    #[test]
    fn a_gzip_trailer_states_the_decoded_size_and_a_lying_one_changes_no_byte() {
        let body = gzip(JSON);
        assert_eq!(gzip_size(&body), Some(JSON.len()));
        assert_eq!(gzip_size(&body[..7]), None);
        let l = BodyConfig::default();
        // ISIZE claiming 0 bytes, then 4 GiB: the hint is wrong, the output is not (the
        // trailer no longer matches, so the stream is reported failed, its bytes kept).
        for isize in [0u32, u32::MAX] {
            let mut lying = body.clone();
            let at = lying.len() - 4;
            lying[at..].copy_from_slice(&isize.to_le_bytes());
            let (out, _) = decode(Some("gzip"), &lying, false, &l);
            assert_eq!(out.as_ref(), JSON, "ISIZE {isize}");
        }
        // Two members: the hint is the last one's size, the output both.
        let two = [gzip(JSON), gzip(b"[1]")].concat();
        assert_eq!(gzip_size(&two), Some(3));
        let both = [JSON, b"[1]"].concat();
        assert_eq!(decode(Some("gzip"), &two, false, &l).0.as_ref(), both);
    }

    #[test]
    fn decompression_bombs_are_capped() {
        let l = BodyConfig {
            max_decoded_bytes: 64 * 1024,
            max_decompression_ratio: 1_000_000,
            ..BodyConfig::default()
        };
        let bomb = gzip(&vec![0u8; 4 << 20]);
        let (out, st) = decode(Some("gzip"), &bomb, false, &l);
        assert_eq!((out.len(), st), (64 * 1024, DecodeStatus::Capped));
        // The ratio bound cuts first with the defaults: 14 bytes * 100.
        let (out, st) = decode(Some("br"), BROTLI_BOMB, false, &BodyConfig::default());
        assert_eq!((out.len(), st), (14 * 100, DecodeStatus::Capped));
    }

    #[test]
    fn truncated_and_corrupt_input() {
        let l = BodyConfig::default();
        let g = gzip(&JSON.repeat(50));
        let (out, st) = decode(Some("gzip"), &g[..g.len() / 2], true, &l);
        assert_eq!(st, DecodeStatus::Partial);
        assert!(out.len() < JSON.len() * 50);
        assert_eq!(
            decode(Some("gzip"), b"not gzip at all", false, &l).1,
            DecodeStatus::Failed
        );
        assert_eq!(
            decode(Some("br"), b"\xff\xff\xff\xff", false, &l).1,
            DecodeStatus::Failed
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            kind(Some("application/json; charset=utf-8")),
            BodyKind::Json
        );
        assert_eq!(kind(Some("application/vnd.api+json")), BodyKind::Json);
        assert_eq!(
            kind(Some("application/x-www-form-urlencoded")),
            BodyKind::Form
        );
        assert_eq!(
            kind(Some("multipart/form-data; boundary=\"xyz\"")),
            BodyKind::Multipart("xyz")
        );
        assert_eq!(kind(Some("multipart/form-data")), BodyKind::Other);
        assert_eq!(kind(Some("text/plain")), BodyKind::Other);
        // A suffix cut inside a multi-byte character (found by the pipeline fuzz target).
        assert_eq!(kind(Some("application/a€json")), BodyKind::Other);
        assert_eq!(kind(Some("application/€+json")), BodyKind::Json);
        assert!(sniff_json(b"  {\"a\":1}") && !sniff_json(b"a=1"));
    }

    proptest::proptest! {
        /// Any `Content-Type` value is classified without a panic.
        #[test]
        fn any_content_type_is_classified(ct in "\\PC{0,40}|application/\\PC{0,12}") {
            let _ = kind(Some(&ct));
        }
    }

    #[test]
    fn form_and_multipart_fields() {
        assert_eq!(
            urlencoded_field(b"user=al%20ice&pw=x+y", "user").as_deref(),
            Some("al ice")
        );
        assert_eq!(
            urlencoded_field(b"user=al%20ice&pw=x+y", "pw").as_deref(),
            Some("x y")
        );
        assert_eq!(urlencoded_field(b"user=", "user"), None);
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ\r\ncontent-disposition: form-data; name=user\r\n\r\nbob\r\n--XyZ--\r\n";
        assert_eq!(
            multipart_field(body, "XyZ", "user", 64).value.as_deref(),
            Some("bob")
        );
        assert_eq!(
            multipart_field(body, "XyZ", "file", 64).value.as_deref(),
            Some("hello")
        );
        assert_eq!(
            multipart_field(body, "XyZ", "none", 64),
            MultipartField {
                value: None,
                capped: false
            }
        );
        assert_eq!(
            multipart_field(body, "XyZ", "user", 1),
            MultipartField {
                value: None,
                capped: true
            }
        );
        // Cut inside the value: what is there.
        assert_eq!(
            multipart_field(&body[..body.len() - 12], "XyZ", "user", 64)
                .value
                .as_deref(),
            Some("bo")
        );
        assert_eq!(multipart_field(b"garbage", "XyZ", "user", 64).value, None);
    }
}
