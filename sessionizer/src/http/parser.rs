//! Pure HTTP/1.x parsing: no state beyond what the caller passes in, no allocation on the
//! head path (headers go into caller-supplied storage, strings borrow the input).
//!
//! Every parser has three outcomes: complete (with how much it consumed), partial (the bytes
//! so far are a valid prefix: feed more), error. A prefix of a valid input is never an error.

use std::mem::MaybeUninit;
use std::ops::Range;

use httparse::{Header, ParserConfig, Status};

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
    /// Header fields in wire order.
    pub headers: &'h [Header<'b>],
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

/// Parses a request head (RFC 9112 section 3) from `buf` into `storage`. HTTP/0.9 simple
/// requests are reported as complete with `http09` set.
pub fn parse_request_head<'b, 'h>(
    buf: &'b [u8],
    storage: &'h mut [MaybeUninit<Header<'b>>],
) -> Parse<RequestHead<'b, 'h>> {
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
                },
            }
        }
        Ok(Status::Partial) => Parse::Partial,
        Err(e) => match http09_request_line(buf) {
            Line::Complete(l) => {
                let (Ok(method), Ok(target)) =
                    (std::str::from_utf8(l.method), std::str::from_utf8(l.target))
                else {
                    return Parse::Error(HeadError::Malformed);
                };
                Parse::Complete {
                    consumed: l.len,
                    head: RequestHead {
                        method,
                        target,
                        version_minor: 0,
                        http09: true,
                        headers: &[],
                    },
                }
            }
            Line::Partial => Parse::Partial,
            Line::Invalid => Parse::Error(e.into()),
        },
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

/// Matches an HTTP/0.9 simple request line `METHOD SP target CRLF` at the start of `buf`.
pub fn http09_request_line(buf: &[u8]) -> Line<RequestLine<'_>> {
    let start = skip_empty_lines(buf);
    let (method_end, target_end) = match method_and_target(buf, start) {
        Ok(v) => v,
        Err(l) => return cast(l),
    };
    match line_end(buf, target_end) {
        Ok(len) => Line::Complete(RequestLine {
            method: buf.get(start..method_end).unwrap_or(&[]),
            target: buf.get(method_end + 1..target_end).unwrap_or(&[]),
            version_minor: 0,
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
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
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
        .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
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
