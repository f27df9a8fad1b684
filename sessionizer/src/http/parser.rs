//! Pure HTTP/1.x parsing: no state beyond what the caller passes in, no allocation on the
//! head path (headers go into caller-supplied storage, strings borrow the input).
//!
//! Every parser has three outcomes: complete (with how much it consumed), partial (the bytes
//! so far are a valid prefix: feed more), error. A prefix of a valid input is never an error.

use std::mem::MaybeUninit;
use std::ops::Range;

use httparse::{Header, ParserConfig, Status};

use super::ascii::eq_ignore_case;
use super::config::HEADER_STORAGE;
use super::HttpAnomaly;

/// Uninitialised header storage for one head, kept on the caller's stack.
pub type HeaderStorage<'b> = [MaybeUninit<Header<'b>>; HEADER_STORAGE];

/// Fresh header storage (uninitialised: costs nothing).
#[inline]
pub fn header_storage<'b>() -> HeaderStorage<'b> {
    [const { MaybeUninit::uninit() }; HEADER_STORAGE]
}

/// Outcome of parsing a head.
#[derive(Debug, PartialEq, Eq)]
pub enum Parse<T> {
    /// The head is complete; the body (if any) starts at `consumed`.
    Complete {
        /// Bytes of the head, including leading empty lines and the final empty line.
        consumed: usize,
        /// The parsed head, borrowing the input.
        head: T,
    },
    /// A valid prefix: more bytes are needed.
    Partial,
    /// Not a valid head.
    Error(HeadError),
}

/// Why a head is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// More header fields than the storage given.
    TooManyHeaders,
    /// Anything else: bad token, version, status code, header syntax.
    Malformed,
}

impl From<httparse::Error> for HeadError {
    fn from(e: httparse::Error) -> Self {
        match e {
            httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
            _ => HeadError::Malformed,
        }
    }
}

/// A parsed request head.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestHead<'b, 'h> {
    /// Method token.
    pub method: &'b str,
    /// Request-target as sent.
    pub target: &'b str,
    /// 0 or 1 for HTTP/1.x; 0 also for HTTP/0.9 (see `http09`).
    pub version_minor: u8,
    /// An HTTP/0.9 simple request (`METHOD SP target CRLF`, no version, no fields).
    pub http09: bool,
    /// Header fields in wire order. A field folded with obs-fold keeps its raw value (line
    /// endings included); [`unfold`] replaces each obs-fold with SP.
    pub headers: &'h [Header<'b>],
    /// What only the lenient parser accepted; all false when httparse accepted the head.
    pub tolerated: Tolerated,
}

/// What the lenient request parser tolerated in a head that httparse rejected. Each flag is
/// reported as an anomaly on the transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tolerated {
    /// The request line is not RFC 9112 syntax but servers act on it
    /// ([`HttpAnomaly::LenientRequestLine`]).
    pub request_line: bool,
    /// A field value continued on the next line (obs-fold, RFC 9112 section 5.2)
    /// ([`HttpAnomaly::ObsoleteLineFolding`]).
    pub obs_fold: bool,
    /// Lines in the field section that are not fields were skipped
    /// ([`HttpAnomaly::InvalidHeaderLine`]).
    pub invalid_field_lines: bool,
}

impl Tolerated {
    /// The anomalies these tolerances stand for.
    pub fn anomalies(self) -> impl Iterator<Item = HttpAnomaly> {
        [
            (self.request_line, HttpAnomaly::LenientRequestLine),
            (self.obs_fold, HttpAnomaly::ObsoleteLineFolding),
            (self.invalid_field_lines, HttpAnomaly::InvalidHeaderLine),
        ]
        .into_iter()
        .filter_map(|(set, a)| set.then_some(a))
    }
}

/// A parsed response head.
#[derive(Debug, PartialEq, Eq)]
pub struct ResponseHead<'b, 'h> {
    /// 0 or 1.
    pub version_minor: u8,
    /// Status code (three digits).
    pub status: u16,
    /// Reason phrase (empty when absent or not ASCII).
    pub reason: &'b str,
    /// Header fields in wire order.
    pub headers: &'h [Header<'b>],
}

/// Tolerant like a browser where that cannot change framing (multiple spaces in the start
/// line, obs-fold and spaces before the colon in responses); strict elsewhere.
fn parser_config() -> ParserConfig {
    let mut c = ParserConfig::default();
    c.allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true);
    c
}

/// Parses a request head (RFC 9112 section 3) from `buf` into `storage`.
///
/// When httparse rejects the head, a lenient parser (see `lenient_request_head`) tries again
/// the way servers and IDSs read such heads; its fields go into `spill`, which is not touched
/// (so never allocates) when httparse accepts the head. At most `storage.len()` fields are
/// read either way. HTTP/0.9 simple requests are reported as complete with `http09` set.
pub fn parse_request_head<'b, 'h>(
    buf: &'b [u8],
    storage: &'h mut [MaybeUninit<Header<'b>>],
    spill: &'h mut Vec<Header<'b>>,
) -> Parse<RequestHead<'b, 'h>> {
    let max_fields = storage.len();
    let mut req = httparse::Request::new(&mut []);
    match parser_config().parse_request_with_uninit_headers(&mut req, buf, storage) {
        Ok(Status::Complete(consumed)) => {
            let (Some(method), Some(target), Some(version_minor)) =
                (req.method, req.path, req.version)
            else {
                return Parse::Error(HeadError::Malformed);
            };
            let headers: &'h [Header<'b>] = req.headers;
            Parse::Complete {
                consumed,
                head: RequestHead {
                    method,
                    target,
                    version_minor,
                    http09: false,
                    headers,
                    tolerated: Tolerated::default(),
                },
            }
        }
        Ok(Status::Partial) => Parse::Partial,
        Err(httparse::Error::TooManyHeaders) => Parse::Error(HeadError::TooManyHeaders),
        Err(e) => lenient_request_head(buf, e.into(), spill, max_fields),
    }
}

/// Parses a response head (RFC 9112 section 4) from `buf` into `storage`.
pub fn parse_response_head<'b, 'h>(
    buf: &'b [u8],
    storage: &'h mut [MaybeUninit<Header<'b>>],
) -> Parse<ResponseHead<'b, 'h>> {
    let mut resp = httparse::Response::new(&mut []);
    match parser_config().parse_response_with_uninit_headers(&mut resp, buf, storage) {
        Ok(Status::Complete(consumed)) => {
            let (Some(version_minor), Some(status)) = (resp.version, resp.code) else {
                return Parse::Error(HeadError::Malformed);
            };
            if status < 100 {
                return Parse::Error(HeadError::Malformed);
            }
            let reason = resp.reason.unwrap_or("");
            let headers: &'h [Header<'b>] = resp.headers;
            Parse::Complete {
                consumed,
                head: ResponseHead {
                    version_minor,
                    status,
                    reason,
                    headers,
                },
            }
        }
        Ok(Status::Partial) => Parse::Partial,
        Err(e) => Parse::Error(e.into()),
    }
}

/// Parses the header fields of a chunked trailer section (`buf` ends with the empty line).
pub fn parse_trailer_fields<'b, 'h>(
    buf: &'b [u8],
    storage: &'h mut [Header<'b>],
) -> Option<&'h [Header<'b>]> {
    match httparse::parse_headers(buf, storage) {
        Ok(Status::Complete((_, fields))) => Some(fields),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Start lines, for salvage and resynchronisation.

/// Outcome of matching one start line at the beginning of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<T> {
    /// The whole line matched.
    Complete(T),
    /// The bytes so far could still become a matching line.
    Partial,
    /// Not a matching line.
    Invalid,
}

/// A request line `METHOD SP target SP HTTP/1.x CRLF` (or HTTP/0.9 without the version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLine<'b> {
    /// Method token.
    pub method: &'b [u8],
    /// Request-target.
    pub target: &'b [u8],
    /// Minor version (0 for HTTP/0.9).
    pub version_minor: u8,
    /// Length of the line including its line ending (and any leading empty lines).
    pub len: usize,
}

/// A status line `HTTP/1.x SP 3DIGIT [SP reason] CRLF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusLine<'b> {
    /// Minor version.
    pub version_minor: u8,
    /// Status code.
    pub status: u16,
    /// Reason phrase, raw.
    pub reason: &'b [u8],
    /// Length of the line including its line ending.
    pub len: usize,
}

/// Longest method token the probe accepts (`VERSION-CONTROL` is 15).
pub const MAX_METHOD_LEN: usize = 24;

/// Method bytes the probe accepts: upper-case letters, `-` and `_`. Stricter than the RFC 9110
/// token on purpose, so that body text rarely looks like a request line.
#[inline]
fn is_probe_method_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b == b'-' || b == b'_'
}

/// Request-target bytes: visible ASCII and obs-text (what httparse accepts).
#[inline]
fn is_target_byte(b: u8) -> bool {
    b > b' ' && b != 0x7f
}

fn skip_empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match (buf.get(i), buf.get(i + 1)) {
            (Some(b'\n'), _) => i += 1,
            (Some(b'\r'), Some(b'\n')) => i += 2,
            _ => return i,
        }
    }
}

/// Matches `METHOD SP target` at the start of `buf`; returns the end offsets of method and
/// target, or the outcome when the line is not (yet) that far.
fn method_and_target(buf: &[u8], start: usize) -> Result<(usize, usize), Line<()>> {
    let mut i = start;
    while let Some(&b) = buf.get(i) {
        if is_probe_method_byte(b) {
            i += 1;
            if i - start > MAX_METHOD_LEN {
                return Err(Line::Invalid);
            }
        } else {
            break;
        }
    }
    let method_end = i;
    match buf.get(i) {
        None => return Err(Line::Partial),
        Some(b' ') if method_end > start => i += 1,
        Some(_) => return Err(Line::Invalid),
    }
    let target_start = i;
    while let Some(&b) = buf.get(i) {
        if is_target_byte(b) {
            i += 1;
        } else {
            break;
        }
    }
    match buf.get(i) {
        None => Err(Line::Partial),
        Some(_) if i == target_start => Err(Line::Invalid),
        Some(_) => Ok((method_end, i)),
    }
}

/// Matches `HTTP/1.` + `0`/`1` at `i`; `Err` when not (yet) matching.
fn http1_version(buf: &[u8], i: usize) -> Result<u8, Line<()>> {
    const PREFIX: &[u8] = b"HTTP/1.";
    let rest = buf.get(i..).unwrap_or(&[]);
    let n = rest.len().min(PREFIX.len());
    if rest.get(..n) != PREFIX.get(..n) {
        return Err(Line::Invalid);
    }
    match rest.get(PREFIX.len()) {
        None => Err(Line::Partial),
        Some(b'0') => Ok(0),
        Some(b'1') => Ok(1),
        Some(_) => Err(Line::Invalid),
    }
}

/// Matches a line ending (`CRLF` or bare `LF`, RFC 9112 section 2.2) at `i`; returns its end.
fn line_end(buf: &[u8], i: usize) -> Result<usize, Line<()>> {
    match (buf.get(i), buf.get(i + 1)) {
        (Some(b'\n'), _) => Ok(i + 1),
        (Some(b'\r'), Some(b'\n')) => Ok(i + 2),
        (Some(b'\r'), None) | (None, _) => Err(Line::Partial),
        _ => Err(Line::Invalid),
    }
}

fn cast<T>(l: Line<()>) -> Line<T> {
    match l {
        Line::Partial => Line::Partial,
        _ => Line::Invalid,
    }
}

/// Matches an HTTP/1.x request line at the start of `buf` (after optional empty lines).
pub fn request_line(buf: &[u8]) -> Line<RequestLine<'_>> {
    let start = skip_empty_lines(buf);
    if buf.get(start..) == Some(b"\r") {
        // A lone CR at the end may be the first half of an empty line's CRLF (regression: fuzz
        // seed `regress-request-line-prefix-lone-cr`).
        return Line::Partial;
    }
    let (method_end, target_end) = match method_and_target(buf, start) {
        Ok(v) => v,
        Err(l) => return cast(l),
    };
    if buf.get(target_end) != Some(&b' ') {
        return Line::Invalid;
    }
    let version_minor = match http1_version(buf, target_end + 1) {
        Ok(v) => v,
        Err(l) => return cast(l),
    };
    match line_end(buf, target_end + 1 + 8) {
        Ok(len) => Line::Complete(RequestLine {
            method: buf.get(start..method_end).unwrap_or(&[]),
            target: buf.get(method_end + 1..target_end).unwrap_or(&[]),
            version_minor,
            len,
        }),
        Err(l) => cast(l),
    }
}

/// Matches `HTTP/1.x SP 3DIGIT` followed by SP or a line ending: enough to call it a status line.
fn status_prefix(buf: &[u8]) -> Line<(u8, u16)> {
    let version_minor = match http1_version(buf, 0) {
        Ok(v) => v,
        Err(l) => return cast(l),
    };
    match buf.get(8) {
        None => return Line::Partial,
        Some(b' ') => {}
        Some(_) => return Line::Invalid,
    }
    let mut status: u16 = 0;
    for i in 9..12 {
        match buf.get(i) {
            None => return Line::Partial,
            Some(d) if d.is_ascii_digit() => status = status * 10 + u16::from(d - b'0'),
            Some(_) => return Line::Invalid,
        }
    }
    match buf.get(12) {
        None => Line::Partial,
        Some(b' ' | b'\r' | b'\n') if status >= 100 => Line::Complete((version_minor, status)),
        Some(_) => Line::Invalid,
    }
}

/// Matches a whole status line at the start of `buf`.
pub fn status_line(buf: &[u8]) -> Line<StatusLine<'_>> {
    let (version_minor, status) = match status_prefix(buf) {
        Line::Complete(v) => v,
        Line::Partial => return Line::Partial,
        Line::Invalid => return Line::Invalid,
    };
    let rest = buf.get(12..).unwrap_or(&[]);
    let Some(lf) = memchr::memchr(b'\n', rest) else {
        return Line::Partial;
    };
    let line = rest.get(..lf).unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let reason = line.strip_prefix(b" ").unwrap_or(line);
    Line::Complete(StatusLine {
        version_minor,
        status,
        reason,
        len: 12 + lf + 1,
    })
}

/// Where the next plausible start line is in a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A whole start line begins at this offset.
    Found(usize),
    /// A start line may begin at this offset but is incomplete; everything before it can go.
    Incomplete(usize),
    /// No start line begins in the buffer; all of it can go.
    NotFound,
}

/// Which start line to look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD SP target SP HTTP/1.x CRLF` (client side).
    Request,
    /// `HTTP/1.x SP 3DIGIT` (server side).
    Status,
}

/// Finds the next plausible start line in `buf`, looking at offset 0 when `at_line_start` and
/// after every LF. A candidate longer than `max_line_bytes` without its line ending is dropped.
pub fn probe(buf: &[u8], at_line_start: bool, kind: StartLine, max_line_bytes: usize) -> Probe {
    let check = |at: usize| -> Line<()> {
        let rest = buf.get(at..).unwrap_or(&[]);
        match kind {
            StartLine::Request => match request_line(rest) {
                Line::Complete(_) => Line::Complete(()),
                Line::Partial if rest.len() <= max_line_bytes => Line::Partial,
                _ => Line::Invalid,
            },
            StartLine::Status => cast_status(status_prefix(rest)),
        }
    };
    if kind == StartLine::Status {
        return probe_status(buf, at_line_start, check);
    }
    let first = if at_line_start { Some(0) } else { None };
    let after_lf = memchr::memchr_iter(b'\n', buf)
        .map(|i| i + 1)
        .filter(|&i| i < buf.len());
    for at in first.into_iter().chain(after_lf) {
        match check(at) {
            Line::Complete(()) => return Probe::Found(at),
            Line::Partial => return Probe::Incomplete(at),
            Line::Invalid => {}
        }
    }
    Probe::NotFound
}

/// Status lines are found anywhere, not only at line starts: `HTTP/1.x DDD` is distinctive,
/// and a body that does not end in a newline (JSON rarely does) must not hide the next
/// response after a pickup or a gap.
///
/// Offset 0 is a candidate only `at_line_start`: a desync entered because the head at offset 0
/// failed must move past it (regression: fuzz seed `regress-hang-malformed-status-head`).
fn probe_status(buf: &[u8], at_line_start: bool, check: impl Fn(usize) -> Line<()>) -> Probe {
    let candidates =
        memchr::memmem::find_iter(buf, STATUS_PREFIX).filter(|&at| at > 0 || at_line_start);
    for at in candidates {
        match check(at) {
            Line::Complete(()) => return Probe::Found(at),
            Line::Partial => return Probe::Incomplete(at),
            Line::Invalid => {}
        }
    }
    // The buffer may end inside the prefix of a status line: keep that tail for more data.
    for k in (1..STATUS_PREFIX.len()).rev() {
        if let Some(at) = buf.len().checked_sub(k) {
            if buf.get(at..) == STATUS_PREFIX.get(..k) {
                return Probe::Incomplete(at);
            }
        }
    }
    Probe::NotFound
}

/// The start of every HTTP/1.x status line (RFC 9112 section 4).
const STATUS_PREFIX: &[u8] = b"HTTP/1.";

fn cast_status(l: Line<(u8, u16)>) -> Line<()> {
    match l {
        Line::Complete(_) => Line::Complete(()),
        Line::Partial => Line::Partial,
        Line::Invalid => Line::Invalid,
    }
}

/// True when `buf` starts like a status line (`HTTP/1.`); used to re-orient weakly oriented
/// connections.
pub fn looks_like_status_line(buf: &[u8]) -> bool {
    buf.starts_with(b"HTTP/1.")
}

/// True when `buf` starts like a request line (complete, or a valid prefix of at least
/// `METHOD SP`).
pub fn looks_like_request_line(buf: &[u8]) -> bool {
    match request_line(buf) {
        Line::Complete(_) => true,
        // A consistent prefix that already holds `METHOD SP`.
        Line::Partial => buf
            .get(skip_empty_lines(buf)..)
            .is_some_and(|r| r.contains(&b' ')),
        Line::Invalid => false,
    }
}

// ---------------------------------------------------------------------------------------------
// The lenient request parser: what httparse rejects but servers (and Zeek) still act on.
//
// It runs only after httparse reported an error, so the common path pays nothing for it. It
// accepts:
// - a request line whose target is empty (`OPTIONS HTTP/1.1`) or holds spaces
//   (`CONNECT host:25 / HTTP/1.0`): the target is everything between the method and the last
//   ` HTTP/`, as Zeek reads it;
// - a version that is `HTTP/1` followed by anything (`HTTP/1.`, `HTTP/1.1 junk`);
// - no version at all (`GET /x`): HTTP/0.9 when nothing or an empty line follows (only for
//   `GET` and an origin-form target: the one shape HTTP/0.9 had), else a head with fields when
//   the next line is a field line (`GET /HTTP/1.1` + `Host: a`). Which of the
//   two is decided from the bytes after the line when the line ends: a version-less line that
//   ends the buffer is HTTP/0.9 (that is the only prefix of a head this parser completes);
// - obs-fold in field values (RFC 9112 section 5.2 lets a recipient replace it with SP);
// - lines in the field section that are not fields: skipped, as RFC 9112 section 2.2 asks for
//   whitespace-preceded lines before the first field; but a malformed line naming
//   Content-Length or Transfer-Encoding makes the head an error, because a conforming server
//   rejects it (RFC 9112 section 5.1) and the body length would be a guess.
// Binary and control bytes in the request line, HTTP versions other than 1, and version-less
// lines that do not look like a request (method shorter than 3 characters, the shortest
// registered ones being GET and PUT; no target) stay errors.

/// RFC 9110 section 5.6.2 `tchar`: the bytes of a method or field name.
#[inline]
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes a lenient request line may hold: no control bytes except HTAB.
#[inline]
fn is_line_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

/// Shortest method of a version-less request line (GET, PUT).
const MIN_HTTP09_METHOD_LEN: usize = 3;

/// A request line as the lenient parser reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LenientLine<'b> {
    /// Method token (ASCII).
    pub(crate) method: &'b [u8],
    /// Request-target, possibly empty or with spaces.
    pub(crate) target: &'b [u8],
    /// Minor version; `None` when the line has no `HTTP/` version.
    pub(crate) version_minor: Option<u8>,
    /// Whether httparse accepts the line (only the fields made it fail).
    strict: bool,
    /// Offset just after the line ending.
    end: usize,
}

/// The minor version from what follows `HTTP/`: `1`, `1.` and `1.x...` are HTTP/1.
fn lenient_version(v: &[u8]) -> Option<u8> {
    match v {
        [b'1'] | [b'1', b'.'] => Some(0),
        [b'1', b'.', d, ..] => Some(u8::from(*d == b'1')),
        [b'1', w, ..] if w.is_ascii_whitespace() => Some(0),
        _ => None,
    }
}

/// Reads a request line leniently at the start of `buf` (after optional empty lines).
pub(crate) fn lenient_request_line(buf: &[u8]) -> Line<LenientLine<'_>> {
    let start = skip_empty_lines(buf);
    let rest = buf.get(start..).unwrap_or(&[]);
    let Some(lf) = memchr::memchr(b'\n', rest) else {
        // Partial while the bytes can still become `METHOD WSP ...`.
        let sofar = rest.strip_suffix(b"\r").unwrap_or(rest);
        let m = sofar.iter().take_while(|&&b| is_tchar(b)).count();
        let shape = match sofar.get(m) {
            None => true,
            Some(b' ' | b'\t') => m > 0,
            Some(_) => false,
        };
        return if shape && sofar.iter().all(|&b| is_line_byte(b)) {
            Line::Partial
        } else {
            Line::Invalid
        };
    };
    let line = rest.get(..lf).unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.iter().all(|&b| is_line_byte(b)) {
        return Line::Invalid;
    }
    let m = line.iter().take_while(|&&b| is_tchar(b)).count();
    if m == 0 || !matches!(line.get(m), Some(b' ' | b'\t')) {
        return Line::Invalid;
    }
    let method = line.get(..m).unwrap_or(&[]);
    let rest = line.get(m..).unwrap_or(&[]).trim_ascii();
    // The version: after the last whitespace-preceded `HTTP/`, or right after the method.
    let (target, version) = match rest
        .windows(6)
        .rposition(|w| matches!(w, [b' ' | b'\t', b'H', b'T', b'T', b'P', b'/']))
    {
        Some(i) => (
            rest.get(..i).unwrap_or(&[]).trim_ascii_end(),
            Some(rest.get(i + 6..).unwrap_or(&[])),
        ),
        None => match rest.strip_prefix(b"HTTP/") {
            Some(v) => (&[][..], Some(v)),
            None => (rest, None),
        },
    };
    let version_minor = match version {
        Some(v) => match lenient_version(v) {
            Some(minor) => Some(minor),
            None => return Line::Invalid,
        },
        None => None,
    };
    if version_minor.is_none()
        && (method.len() < MIN_HTTP09_METHOD_LEN
            || !method.iter().all(|&b| is_probe_method_byte(b))
            || target.is_empty()
            || !target.iter().all(|&b| is_target_byte(b)))
    {
        return Line::Invalid;
    }
    let end = start + lf + 1;
    // httparse waits for fields after a line it accepts: then only the fields were at fault.
    let strict = version_minor.is_some()
        && matches!(
            parser_config().parse_request(
                &mut httparse::Request::new(&mut []),
                buf.get(..end).unwrap_or(&[])
            ),
            Ok(Status::Partial)
        );
    Line::Complete(LenientLine {
        method,
        target,
        version_minor,
        strict,
        end,
    })
}

/// Whether a field line starts at `at`: `Some(true)` yes, `Some(false)` no, `None` not known yet.
fn field_line_follows(buf: &[u8], at: usize) -> Option<bool> {
    let rest = buf.get(at..).unwrap_or(&[]);
    let n = rest.iter().take_while(|&&b| is_tchar(b)).count();
    match rest.get(n) {
        Some(b':') => Some(n > 0),
        None if n > 0 => None,
        _ => Some(false),
    }
}

/// The fallback after httparse rejected `buf` with `err` (see the section comment).
fn lenient_request_head<'b, 'h>(
    buf: &'b [u8],
    err: HeadError,
    spill: &'h mut Vec<Header<'b>>,
    max_fields: usize,
) -> Parse<RequestHead<'b, 'h>> {
    let l = match lenient_request_line(buf) {
        Line::Complete(l) => l,
        Line::Partial => return Parse::Partial,
        Line::Invalid => return Parse::Error(err),
    };
    let (Ok(method), Ok(target)) = (std::str::from_utf8(l.method), std::str::from_utf8(l.target))
    else {
        return Parse::Error(err);
    };
    let version_minor = match (l.version_minor, field_line_follows(buf, l.end)) {
        (Some(v), _) => v,
        (None, None) => return Parse::Partial,
        (None, Some(true)) => 0,
        // HTTP/0.9 had one request shape: `GET /path` (issue 21: `EHLO host` is not one).
        (None, Some(false)) if method != "GET" || !target.starts_with('/') => {
            return Parse::Error(err)
        }
        (None, Some(false)) => {
            return Parse::Complete {
                consumed: l.end,
                head: RequestHead {
                    method,
                    target,
                    version_minor: 0,
                    http09: true,
                    headers: &[],
                    tolerated: Tolerated::default(),
                },
            }
        }
    };
    let mut tolerated = Tolerated {
        request_line: !l.strict,
        ..Tolerated::default()
    };
    spill.clear();
    match lenient_fields(buf, l.end, &mut *spill, max_fields, &mut tolerated) {
        Ok(Some(consumed)) => {
            let headers: &'h [Header<'b>] = spill;
            Parse::Complete {
                consumed,
                head: RequestHead {
                    method,
                    target,
                    version_minor,
                    http09: false,
                    headers,
                    tolerated,
                },
            }
        }
        Ok(None) => Parse::Partial,
        Err(e) => Parse::Error(e),
    }
}

/// Reads field lines from `at` up to the empty line; returns the end of the head, `None` when
/// the empty line has not come yet.
fn lenient_fields<'b>(
    buf: &'b [u8],
    mut at: usize,
    fields: &mut Vec<Header<'b>>,
    max_fields: usize,
    tolerated: &mut Tolerated,
) -> Result<Option<usize>, HeadError> {
    // Where the value of the last field starts, while obs-fold lines may extend it.
    let mut open_value: Option<usize> = None;
    loop {
        let rest = buf.get(at..).unwrap_or(&[]);
        let Some(lf) = memchr::memchr(b'\n', rest) else {
            return Ok(None);
        };
        let line = rest.get(..lf).unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line_end = at + line.len();
        let next = at + lf + 1;
        match line.first() {
            None => return Ok(Some(next)),
            Some(b' ' | b'\t') => match (open_value, fields.last_mut()) {
                (Some(v), Some(h)) => {
                    h.value = buf.get(v..line_end).unwrap_or(&[]).trim_ascii();
                    tolerated.obs_fold = true;
                }
                // Whitespace before the first field: consumed without processing.
                _ => tolerated.invalid_field_lines = true,
            },
            Some(_) => {
                let n = line.iter().take_while(|&&b| is_tchar(b)).count();
                let name = line.get(..n).and_then(|n| std::str::from_utf8(n).ok());
                match (name, line.get(n)) {
                    (Some(name), Some(b':')) if n > 0 => {
                        if fields.len() >= max_fields {
                            return Err(HeadError::TooManyHeaders);
                        }
                        let v = at + n + 1;
                        fields.push(Header {
                            name,
                            value: buf.get(v..line_end).unwrap_or(&[]).trim_ascii(),
                        });
                        open_value = Some(v);
                    }
                    _ => {
                        let name = line
                            .split(|&b| b == b':')
                            .next()
                            .unwrap_or(&[])
                            .trim_ascii();
                        if name.eq_ignore_ascii_case(b"content-length")
                            || name.eq_ignore_ascii_case(b"transfer-encoding")
                        {
                            return Err(HeadError::Malformed);
                        }
                        tolerated.invalid_field_lines = true;
                        open_value = None;
                    }
                }
            }
        }
        at = next;
    }
}

/// Matches a request line to keep from a head that failed: strict, or lenient with a version.
/// The flag is true when only the lenient reading matched.
pub fn salvage_request_line(buf: &[u8]) -> Line<(RequestLine<'_>, bool)> {
    match request_line(buf) {
        Line::Complete(l) => return Line::Complete((l, false)),
        Line::Partial => return Line::Partial,
        Line::Invalid => {}
    }
    match lenient_request_line(buf) {
        Line::Complete(LenientLine {
            method,
            target,
            version_minor: Some(version_minor),
            end,
            ..
        }) => Line::Complete((
            RequestLine {
                method,
                target,
                version_minor,
                len: end,
            },
            true,
        )),
        Line::Partial => Line::Partial,
        _ => Line::Invalid,
    }
}

/// A field value with each obs-fold (CRLF or LF followed by SP/HTAB, RFC 9112 section 5.2)
/// replaced by one SP; borrowed unchanged when there is none (the common case).
pub fn unfold(value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr(b'\n', value).is_none() {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        let fold = match (b, value.get(i + 1)) {
            (b'\r', Some(b'\n')) => Some(2),
            (b'\n', _) => Some(1),
            _ => None,
        };
        match fold {
            Some(n) => {
                // Drop the line ending and the whitespace that follows: one SP stands for both.
                i += n;
                while matches!(value.get(i), Some(b' ' | b'\t')) {
                    i += 1;
                }
                out.push(b' ');
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

// ---------------------------------------------------------------------------------------------
// Message framing (RFC 9112 section 6.3).

/// The Content-Length fields of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentLength {
    /// No Content-Length field.
    Absent,
    /// One value (possibly repeated identically, RFC 9110 section 8.6).
    Valid(u64),
    /// A value that is not `1*DIGIT` or does not fit in 64 bits.
    Invalid,
    /// Valid values that differ.
    Conflicting,
}

/// Reads every Content-Length field, each possibly a comma-separated list.
pub fn content_length(headers: &[Header<'_>]) -> ContentLength {
    let mut seen: Option<u64> = None;
    let mut conflicting = false;
    for h in headers
        .iter()
        .filter(|h| eq_ignore_case(h.name.as_bytes(), b"content-length"))
    {
        for item in h.value.split(|&b| b == b',') {
            let item = item.trim_ascii();
            if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
                return ContentLength::Invalid;
            }
            let mut n: u64 = 0;
            for d in item {
                match n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d - b'0')))
                {
                    Some(v) => n = v,
                    None => return ContentLength::Invalid,
                }
            }
            match seen {
                Some(prev) if prev != n => conflicting = true,
                _ => seen = Some(n),
            }
        }
    }
    match (seen, conflicting) {
        (_, true) => ContentLength::Conflicting,
        (Some(n), false) => ContentLength::Valid(n),
        (None, false) => ContentLength::Absent,
    }
}

/// The Transfer-Encoding fields of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferCoding {
    /// No Transfer-Encoding field.
    Absent,
    /// The final coding is `chunked`.
    Chunked,
    /// Present, but the final coding is not `chunked` (or the list is empty).
    Other,
}

/// Reads every Transfer-Encoding field; only the final coding decides framing.
pub fn transfer_coding(headers: &[Header<'_>]) -> TransferCoding {
    let mut present = false;
    let mut last: Option<&[u8]> = None;
    for h in headers
        .iter()
        .filter(|h| eq_ignore_case(h.name.as_bytes(), b"transfer-encoding"))
    {
        present = true;
        for item in h.value.split(|&b| b == b',') {
            let name = item
                .split(|&b| b == b';')
                .next()
                .unwrap_or(&[])
                .trim_ascii();
            if !name.is_empty() {
                last = Some(name);
            }
        }
    }
    match (present, last) {
        (false, _) => TransferCoding::Absent,
        (true, Some(c)) if c.eq_ignore_ascii_case(b"chunked") => TransferCoding::Chunked,
        (true, _) => TransferCoding::Other,
    }
}

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes (responses only).
    UntilClose,
    /// Cannot be known: the stream is desynchronised after the head.
    Invalid,
}

/// The framing of a request body (RFC 9112 section 6.3 items 3-6), with the anomaly found.
pub fn request_framing(headers: &[Header<'_>]) -> (BodyFraming, Option<HttpAnomaly>) {
    let cl = content_length(headers);
    match transfer_coding(headers) {
        TransferCoding::Chunked => (BodyFraming::Chunked, te_and_cl(cl)),
        TransferCoding::Other => (
            BodyFraming::Invalid,
            Some(HttpAnomaly::InvalidTransferEncoding),
        ),
        TransferCoding::Absent => match cl {
            ContentLength::Absent | ContentLength::Valid(0) => (BodyFraming::Empty, None),
            ContentLength::Valid(n) => (BodyFraming::Length(n), None),
            ContentLength::Invalid => (
                BodyFraming::Invalid,
                Some(HttpAnomaly::InvalidContentLength),
            ),
            ContentLength::Conflicting => (
                BodyFraming::Invalid,
                Some(HttpAnomaly::ConflictingContentLength),
            ),
        },
    }
}

/// The framing of a final response body (RFC 9112 section 6.3 items 1-7). `to_head` is true
/// for a response to HEAD. CONNECT and 101 are handled by the caller before this.
pub fn response_framing(
    status: u16,
    to_head: bool,
    headers: &[Header<'_>],
) -> (BodyFraming, Option<HttpAnomaly>) {
    if to_head || (100..200).contains(&status) || status == 204 || status == 304 {
        return (BodyFraming::Empty, None);
    }
    let cl = content_length(headers);
    match transfer_coding(headers) {
        TransferCoding::Chunked => (BodyFraming::Chunked, te_and_cl(cl)),
        TransferCoding::Other => (BodyFraming::UntilClose, te_and_cl(cl)),
        TransferCoding::Absent => match cl {
            ContentLength::Absent => (BodyFraming::UntilClose, None),
            ContentLength::Valid(0) => (BodyFraming::Empty, None),
            ContentLength::Valid(n) => (BodyFraming::Length(n), None),
            ContentLength::Invalid => (
                BodyFraming::Invalid,
                Some(HttpAnomaly::InvalidContentLength),
            ),
            ContentLength::Conflicting => (
                BodyFraming::Invalid,
                Some(HttpAnomaly::ConflictingContentLength),
            ),
        },
    }
}

fn te_and_cl(cl: ContentLength) -> Option<HttpAnomaly> {
    match cl {
        ContentLength::Absent => None,
        _ => Some(HttpAnomaly::TransferEncodingAndContentLength),
    }
}

// ---------------------------------------------------------------------------------------------
// Chunked transfer coding (RFC 9112 section 7.1).

/// Why chunked framing broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// The chunk-size is not hexadecimal.
    InvalidSize,
    /// The chunk-size does not fit in 64 bits.
    SizeOverflow,
    /// A chunk-size line (with extensions) longer than the line limit.
    LineTooLong,
    /// Chunk data or the trailer section is not followed by CRLF.
    MissingCrlf,
    /// The trailer section is longer than the limit.
    TrailersTooLarge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// In the chunk-size digits; `digits` read so far.
    Size { value: u64, digits: u32 },
    /// After the size: BWS and chunk extensions up to the line ending.
    Ext { value: u64 },
    /// Saw CR ending the size line.
    SizeLf { value: u64 },
    /// Inside chunk data.
    Data { remaining: u64 },
    /// After chunk data: expecting CR or LF.
    DataCr,
    /// After chunk data and CR: expecting LF.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// Saw CR of the final empty line.
    FinalLf,
    /// The message body is complete.
    Done,
}

/// One step of decoding: framing bytes consumed and at most one run of data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input consumed (framing and data).
    pub consumed: usize,
    /// Decoded body bytes, as a range of the input.
    pub data: Option<Range<usize>>,
}

/// Incremental decoder of the chunked transfer coding, trailers included. Tolerates bare LF
/// line endings and whitespace before chunk extensions, as common servers do.
///
/// Invariant: `trailers.len() <= max_line_bytes`; `line_bytes` counts the current size line.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: ChunkState,
    line_bytes: usize,
    max_line_bytes: usize,
    trailers: Vec<u8>,
}

impl ChunkedDecoder {
    /// A decoder whose size lines and trailer section are bounded by `max_line_bytes`.
    pub fn new(max_line_bytes: usize) -> Self {
        ChunkedDecoder {
            state: ChunkState::Size {
                value: 0,
                digits: 0,
            },
            line_bytes: 0,
            max_line_bytes,
            trailers: Vec::new(),
        }
    }

    /// True once the last chunk and the trailer section were read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// True while inside chunk data (where a gap keeps framing).
    pub fn in_data(&self) -> bool {
        matches!(self.state, ChunkState::Data { .. })
    }

    /// Raw trailer section (field lines with their line endings), empty when there was none.
    pub fn trailers(&self) -> &[u8] {
        &self.trailers
    }

    /// Accounts for `len` lost bytes; returns how many of them fell inside the current chunk's
    /// data (framing survives those). Bytes beyond that were framing: the caller desyncs.
    pub fn skip_lost(&mut self, len: u64) -> u64 {
        match self.state {
            ChunkState::Data { remaining } => {
                let k = remaining.min(len);
                self.state = if k == remaining {
                    ChunkState::DataCr
                } else {
                    ChunkState::Data {
                        remaining: remaining - k,
                    }
                };
                k
            }
            _ => 0,
        }
    }

    /// Consumes framing from `input` until a run of data, the end of the body, or the end of
    /// `input`.
    pub fn feed(&mut self, input: &[u8]) -> Result<Decoded, ChunkError> {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            match self.state {
                ChunkState::Data { remaining } => {
                    let avail = (input.len() - i) as u64;
                    let k = remaining.min(avail);
                    self.state = if k == remaining {
                        ChunkState::DataCr
                    } else {
                        ChunkState::Data {
                            remaining: remaining - k,
                        }
                    };
                    // k <= input.len() - i, so it fits in usize.
                    let end = i + k as usize;
                    return Ok(Decoded {
                        consumed: end,
                        data: Some(i..end),
                    });
                }
                ChunkState::Done => break,
                _ => {}
            }
            i += 1;
            self.state = match self.state {
                ChunkState::Size { value, digits } => {
                    self.line_bytes += 1;
                    if self.line_bytes > self.max_line_bytes {
                        return Err(ChunkError::LineTooLong);
                    }
                    match (b as char).to_digit(16) {
                        Some(d) => {
                            let v = value
                                .checked_mul(16)
                                .and_then(|v| v.checked_add(u64::from(d)))
                                .ok_or(ChunkError::SizeOverflow)?;
                            ChunkState::Size {
                                value: v,
                                digits: digits + 1,
                            }
                        }
                        None if digits == 0 => return Err(ChunkError::InvalidSize),
                        None => match b {
                            b';' | b' ' | b'\t' => ChunkState::Ext { value },
                            b'\r' => ChunkState::SizeLf { value },
                            b'\n' => self.end_size_line(value),
                            _ => return Err(ChunkError::InvalidSize),
                        },
                    }
                }
                ChunkState::Ext { value } => {
                    self.line_bytes += 1;
                    if self.line_bytes > self.max_line_bytes {
                        return Err(ChunkError::LineTooLong);
                    }
                    match b {
                        b'\r' => ChunkState::SizeLf { value },
                        b'\n' => self.end_size_line(value),
                        _ => ChunkState::Ext { value },
                    }
                }
                ChunkState::SizeLf { value } => match b {
                    b'\n' => self.end_size_line(value),
                    _ => return Err(ChunkError::MissingCrlf),
                },
                ChunkState::DataCr => match b {
                    b'\r' => ChunkState::DataLf,
                    b'\n' => self.start_size_line(),
                    _ => return Err(ChunkError::MissingCrlf),
                },
                ChunkState::DataLf => match b {
                    b'\n' => self.start_size_line(),
                    _ => return Err(ChunkError::MissingCrlf),
                },
                ChunkState::TrailerStart => match b {
                    b'\r' => ChunkState::FinalLf,
                    b'\n' => ChunkState::Done,
                    _ => {
                        self.push_trailer(b)?;
                        ChunkState::TrailerLine
                    }
                },
                ChunkState::TrailerLine => {
                    self.push_trailer(b)?;
                    if b == b'\n' {
                        ChunkState::TrailerStart
                    } else {
                        ChunkState::TrailerLine
                    }
                }
                ChunkState::FinalLf => match b {
                    b'\n' => ChunkState::Done,
                    _ => return Err(ChunkError::MissingCrlf),
                },
                // Handled before the byte was taken.
                ChunkState::Data { .. } | ChunkState::Done => self.state,
            };
            if self.state == ChunkState::Done {
                break;
            }
        }
        Ok(Decoded {
            consumed: i,
            data: None,
        })
    }

    fn start_size_line(&mut self) -> ChunkState {
        self.line_bytes = 0;
        ChunkState::Size {
            value: 0,
            digits: 0,
        }
    }

    fn end_size_line(&mut self, value: u64) -> ChunkState {
        if value == 0 {
            ChunkState::TrailerStart
        } else {
            ChunkState::Data { remaining: value }
        }
    }

    fn push_trailer(&mut self, b: u8) -> Result<(), ChunkError> {
        if self.trailers.len() >= self.max_line_bytes {
            return Err(ChunkError::TrailersTooLarge);
        }
        self.trailers.push(b);
        Ok(())
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
