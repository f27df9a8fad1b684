//! What can go wrong in HTTP/1.x, carried on the [`super::Transaction`] it concerns and counted
//! in [`super::HttpStats`].

use serde::Serialize;

/// An HTTP-layer anomaly. Capping a stored body is not an anomaly (`body_truncated` says it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpAnomaly {
    /// Bytes of the client stream were lost (reassembly gap) in or just before this request.
    GapInRequest,
    /// Bytes of the server stream were lost (reassembly gap) in or just before this response.
    GapInResponse,
    /// A request or response head (start line and fields, or a chunked trailer section) was
    /// larger than `max_header_bytes`; the rest of the head was skipped.
    HeaderTooLarge,
    /// A head had more header fields than `max_headers`.
    TooManyHeaders,
    /// Client bytes that are not an HTTP/1.x request head.
    MalformedRequest,
    /// Server bytes that are not an HTTP/1.x response head.
    MalformedResponse,
    /// A final response arrived while no request was waiting for one.
    UnmatchedResponse,
    /// More than `max_pending_requests` requests were waiting for a response; the oldest one
    /// was emitted without its response.
    TooManyPendingRequests,
    /// A Content-Length value that is not a decimal number (RFC 9112 section 6.3 item 5).
    InvalidContentLength,
    /// Several Content-Length values that disagree (RFC 9110 section 8.6).
    ConflictingContentLength,
    /// Both Transfer-Encoding and Content-Length were sent; Transfer-Encoding wins
    /// (RFC 9112 section 6.3 item 3). A classic request-smuggling signal.
    TransferEncodingAndContentLength,
    /// A request Transfer-Encoding whose final coding is not `chunked`: its length cannot be
    /// known (RFC 9112 section 6.3 item 4).
    InvalidTransferEncoding,
    /// Chunked framing broken: bad chunk size, missing CRLF after chunk data.
    InvalidChunk,
    /// An HTTP/0.9 simple request (`GET /path` with no version); recorded with version 1.0,
    /// the rest of the connection is not parsed.
    Http09Request,
    /// Client and server were swapped after seeing the first bytes (the reassembler had only
    /// guessed the orientation from the ports); set on the connection's first transaction.
    ReOriented,
    /// The connection ended before the request body was complete.
    IncompleteRequest,
    /// The connection ended before the response body was complete.
    IncompleteResponse,
    /// A request line that RFC 9112 section 3 does not allow but servers act on, read the way
    /// Zeek reads it: a target that is empty (`OPTIONS HTTP/1.1`) or holds spaces
    /// (`CONNECT host:25 / HTTP/1.0`), a version such as `HTTP/1.`, or no version with header
    /// fields after it (`GET /HTTP/1.1`, recorded as version 1.0).
    LenientRequestLine,
    /// A request field value continued on the next line (obs-fold); it was unfolded, each fold
    /// replaced by SP as RFC 9112 section 5.2 allows. Servers that reject it answer 400.
    ObsoleteLineFolding,
    /// Lines in a request's field section that are not `name: value` fields were skipped
    /// (RFC 9112 section 2.2 for whitespace-preceded lines). A malformed line naming
    /// Content-Length or Transfer-Encoding is not skipped: the head is `malformed_request`.
    InvalidHeaderLine,
    /// An HTTP/1.0 request with a Transfer-Encoding field: RFC 9112 section 6.1 says its
    /// framing is faulty (an HTTP/1.0 recipient may ignore the field and read a Content-Length
    /// or nothing instead): a request-smuggling signal. Framing still follows the field.
    TransferEncodingInHttp10,
    /// `chunked` applied more than once to one request (in one Transfer-Encoding field or in
    /// several): RFC 9112 section 6.1 forbids it, and front and back ends disagree on it.
    ChunkedTwice,
    /// A request with more than one Host field line: RFC 9112 section 3.2 requires a 400; two
    /// servers in a chain may each pick a different one.
    DuplicateHost,
    /// An absolute-form target whose authority differs from the Host field: the target's
    /// authority is the host (RFC 9112 section 3.2.2, and `request.host` says so), but a
    /// component that reads Host instead routes the request elsewhere.
    HostMismatch,
    /// A share of the memory budget (`limits.max_memory_mb`) was full and this transaction's
    /// connection had been active least recently: the HTTP stage's held bytes
    /// (`http.max_held_bytes_total`, counted in `memory_evictions`) or the flow table
    /// (`reassembly.max_flows`, counted in `flows_evicted`). What the connection held was
    /// given up: the transaction left as far as it was read (a request without its response,
    /// a body cut short); a partial head was dropped.
    MemoryLimit,
}

impl HttpAnomaly {
    /// Every variant, in declaration order (the order of [`HttpAnomaly::index`]).
    pub const ALL: [HttpAnomaly; 25] = [
        HttpAnomaly::GapInRequest,
        HttpAnomaly::GapInResponse,
        HttpAnomaly::HeaderTooLarge,
        HttpAnomaly::TooManyHeaders,
        HttpAnomaly::MalformedRequest,
        HttpAnomaly::MalformedResponse,
        HttpAnomaly::UnmatchedResponse,
        HttpAnomaly::TooManyPendingRequests,
        HttpAnomaly::InvalidContentLength,
        HttpAnomaly::ConflictingContentLength,
        HttpAnomaly::TransferEncodingAndContentLength,
        HttpAnomaly::InvalidTransferEncoding,
        HttpAnomaly::InvalidChunk,
        HttpAnomaly::Http09Request,
        HttpAnomaly::ReOriented,
        HttpAnomaly::IncompleteRequest,
        HttpAnomaly::IncompleteResponse,
        HttpAnomaly::LenientRequestLine,
        HttpAnomaly::ObsoleteLineFolding,
        HttpAnomaly::InvalidHeaderLine,
        HttpAnomaly::TransferEncodingInHttp10,
        HttpAnomaly::ChunkedTwice,
        HttpAnomaly::DuplicateHost,
        HttpAnomaly::HostMismatch,
        HttpAnomaly::MemoryLimit,
    ];

    /// Number of variants.
    pub const COUNT: usize = Self::ALL.len();

    /// Dense index in `0..COUNT`, for counter arrays.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name used in JSON and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            HttpAnomaly::GapInRequest => "gap_in_request",
            HttpAnomaly::GapInResponse => "gap_in_response",
            HttpAnomaly::HeaderTooLarge => "header_too_large",
            HttpAnomaly::TooManyHeaders => "too_many_headers",
            HttpAnomaly::MalformedRequest => "malformed_request",
            HttpAnomaly::MalformedResponse => "malformed_response",
            HttpAnomaly::UnmatchedResponse => "unmatched_response",
            HttpAnomaly::TooManyPendingRequests => "too_many_pending_requests",
            HttpAnomaly::InvalidContentLength => "invalid_content_length",
            HttpAnomaly::ConflictingContentLength => "conflicting_content_length",
            HttpAnomaly::TransferEncodingAndContentLength => "transfer_encoding_and_content_length",
            HttpAnomaly::InvalidTransferEncoding => "invalid_transfer_encoding",
            HttpAnomaly::InvalidChunk => "invalid_chunk",
            HttpAnomaly::Http09Request => "http09_request",
            HttpAnomaly::ReOriented => "re_oriented",
            HttpAnomaly::IncompleteRequest => "incomplete_request",
            HttpAnomaly::IncompleteResponse => "incomplete_response",
            HttpAnomaly::LenientRequestLine => "lenient_request_line",
            HttpAnomaly::ObsoleteLineFolding => "obsolete_line_folding",
            HttpAnomaly::InvalidHeaderLine => "invalid_header_line",
            HttpAnomaly::TransferEncodingInHttp10 => "transfer_encoding_in_http10",
            HttpAnomaly::ChunkedTwice => "chunked_twice",
            HttpAnomaly::DuplicateHost => "duplicate_host",
            HttpAnomaly::HostMismatch => "host_mismatch",
            HttpAnomaly::MemoryLimit => "memory_limit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_all_order_and_names_match_serde() {
        for (i, a) in HttpAnomaly::ALL.iter().enumerate() {
            assert_eq!(a.index(), i);
            let json = serde_json::to_string(a).expect("serialize");
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
    }
}
