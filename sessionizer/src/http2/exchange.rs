//! What leaves the HTTP/2 stage: one owned exchange per stream.

use apitap_reassembly::Side;

use super::grpc::GrpcCall;
use super::H2Anomaly;
use crate::http::Headers;

/// Interim (1xx) status codes remembered per response; more are not stored.
pub const MAX_INTERIM_RESPONSES: usize = 8;

/// One direction's body: DATA payloads, padding excluded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    /// Exact length, even when `captured` is capped; bytes lost in a gap inside a DATA frame
    /// are counted too.
    pub bytes: u64,
    /// The first `max_body_capture_bytes` of the body.
    pub captured: Vec<u8>,
    /// True when `captured` holds fewer bytes than `bytes`.
    pub truncated: bool,
}

impl Body {
    /// Appends DATA bytes, storing what fits under `cap`.
    pub fn append(&mut self, data: &[u8], cap: usize) {
        self.bytes += data.len() as u64;
        let room = cap.saturating_sub(self.captured.len());
        let keep = data.get(..room.min(data.len())).unwrap_or_default();
        self.captured.extend_from_slice(keep);
        self.truncated |= keep.len() < data.len();
    }

    /// Counts `len` bytes lost in a gap: the stored prefix cannot go on.
    pub fn lost(&mut self, len: u64) {
        self.bytes += len;
        self.truncated |= len > 0;
    }
}

/// A request: pseudo-headers apart, the other fields in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct H2Request {
    /// `:method`; `None` when absent or not decoded (see `unknown_fields`).
    pub method: Option<String>,
    /// `:scheme`.
    pub scheme: Option<String>,
    /// `:authority` (the Host of HTTP/1).
    pub authority: Option<String>,
    /// `:path`, the target as sent.
    pub path: Option<String>,
    /// `:protocol` of an extended CONNECT (RFC 8441).
    pub protocol: Option<String>,
    /// Regular header fields in wire order; names as sent (lowercase in HTTP/2).
    pub headers: Headers,
    /// Fields of a trailing header block.
    pub trailers: Headers,
    /// Fields of this request's header blocks that referred to HPACK entries never seen.
    pub unknown_fields: u32,
    /// The body.
    pub body: Body,
    /// Packet time of the first byte of the request's HEADERS frame (for an upgraded
    /// connection's stream 1, of the HTTP/1.1 request).
    pub ts_us: u64,
    /// Packet time of the request's last frame seen.
    pub end_ts_us: u64,
    /// END_STREAM was seen: the request is whole.
    pub complete: bool,
}

impl H2Request {
    /// Stream 1's request on a connection upgraded with `Upgrade: h2c`: the HTTP/1.1 request
    /// that asked for it (RFC 7540 section 3.2), with `Host` as the authority.
    pub fn from_http1(r: &crate::http::Request) -> Self {
        H2Request {
            method: Some(r.method.clone()),
            scheme: Some("http".to_owned()),
            authority: r.headers.get("host").map(str::to_owned),
            path: Some(r.uri.clone()),
            protocol: None,
            headers: r.headers.clone(),
            trailers: r.trailers.clone(),
            unknown_fields: 0,
            body: Body {
                bytes: r.body_bytes,
                captured: r.body.clone(),
                truncated: r.body_truncated,
            },
            ts_us: r.ts_us,
            end_ts_us: r.end_ts_us,
            complete: true,
        }
    }
}

/// A response: `:status` apart, the other fields in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct H2Response {
    /// `:status` of the final response; `None` when absent or not decoded.
    pub status: Option<u16>,
    /// Interim (1xx) status codes before the final one, at most [`MAX_INTERIM_RESPONSES`].
    pub interim: Vec<u16>,
    /// Regular header fields in wire order.
    pub headers: Headers,
    /// Fields of the trailing header block (gRPC status lives here).
    pub trailers: Headers,
    /// Fields of this response's header blocks that referred to HPACK entries never seen.
    pub unknown_fields: u32,
    /// The body.
    pub body: Body,
    /// Packet time of the first byte of the response's (final) HEADERS frame, or of its first
    /// frame seen when that HEADERS was not seen.
    pub ts_us: u64,
    /// Packet time of the response's last frame seen.
    pub end_ts_us: u64,
    /// END_STREAM was seen: the response is whole.
    pub complete: bool,
}

/// A stream reset (RST_STREAM, RFC 9113 section 6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reset {
    /// Who sent it.
    pub by: Side,
    /// The error code (RFC 9113 section 7; 0 is NO_ERROR, 8 CANCEL).
    pub error_code: u32,
}

/// One HTTP/2 stream: a request and its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H2Exchange {
    /// Stream identifier.
    pub stream_id: u32,
    /// The server pushed it: the request came in a PUSH_PROMISE.
    pub pushed: bool,
    /// The request; `None` when none of its frames was seen.
    pub request: Option<H2Request>,
    /// The response; `None` when none of its frames was seen.
    pub response: Option<H2Response>,
    /// Set when a RST_STREAM ended the stream.
    pub reset: Option<Reset>,
    /// The gRPC call, when the request (or response) content type is `application/grpc*`.
    pub grpc: Option<GrpcCall>,
    /// Anomalies, in the order seen, without duplicates.
    pub anomalies: Vec<H2Anomaly>,
}

impl H2Exchange {
    /// An exchange with nothing seen yet.
    pub fn new(stream_id: u32) -> Self {
        H2Exchange {
            stream_id,
            pushed: false,
            request: None,
            response: None,
            reset: None,
            grpc: None,
            anomalies: Vec::new(),
        }
    }

    /// Heap bytes the exchange holds, as allocated: pseudo-headers, fields, trailers, stored
    /// bodies and the small lists (not `size_of::<H2Exchange>()`, which its holder counts).
    pub fn heap_bytes(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        let request = self.request.as_ref().map_or(0, |r| {
            text(&r.method)
                + text(&r.scheme)
                + text(&r.authority)
                + text(&r.path)
                + text(&r.protocol)
                + r.headers.heap_bytes()
                + r.trailers.heap_bytes()
                + r.body.captured.capacity()
        });
        let response = self.response.as_ref().map_or(0, |r| {
            r.interim.capacity() * std::mem::size_of::<u16>()
                + r.headers.heap_bytes()
                + r.trailers.heap_bytes()
                + r.body.captured.capacity()
        });
        let grpc = self.grpc.as_ref().map_or(0, |g| {
            g.service.capacity() + g.method.capacity() + text(&g.message)
        });
        request + response + grpc + self.anomalies.capacity() * std::mem::size_of::<H2Anomaly>()
    }

    /// Packet time of the exchange: the request's first byte, or the response's.
    pub fn ts_us(&self) -> u64 {
        match (&self.request, &self.response) {
            (Some(r), _) => r.ts_us,
            (None, Some(r)) => r.ts_us,
            (None, None) => 0,
        }
    }
}
