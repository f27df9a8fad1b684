//! What leaves the HTTP stage: one owned request/response pair.

use std::net::SocketAddr;

use apitap_reassembly::{ConnId, TcpAnomaly};

use super::{Headers, HttpAnomaly};

/// A request head and its body accounting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Method token as sent (`GET`, `POST`...).
    pub method: String,
    /// Raw request-target as sent (origin, absolute, authority or asterisk form).
    pub uri: String,
    /// Minor version of HTTP/1.x: 0 or 1.
    pub version_minor: u8,
    /// Header fields in wire order, names as sent; values decoded lossily as UTF-8.
    pub headers: Headers,
    /// Exact body length on the wire after transfer decoding (chunk framing excluded), even when
    /// `body` is capped. Bytes lost in a gap are counted too.
    pub body_bytes: u64,
    /// The first `max_body_capture_bytes` of the body, after transfer (chunked) decoding.
    pub body: Vec<u8>,
    /// True when `body` holds fewer bytes than `body_bytes`.
    pub body_truncated: bool,
    /// Trailer fields of a chunked body (RFC 9112 section 7.1.2), in wire order; kept apart
    /// from `headers` as RFC 9110 section 6.5.1 asks.
    pub trailers: Headers,
    /// Packet time of the first byte of the request line.
    pub ts_us: u64,
    /// Packet time of the last byte of the request (head or body).
    pub end_ts_us: u64,
}

/// A response head and its body accounting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase as sent (may be empty).
    pub reason: String,
    /// Minor version of HTTP/1.x: 0 or 1.
    pub version_minor: u8,
    /// Header fields in wire order.
    pub headers: Headers,
    /// Exact body length after transfer decoding, even when `body` is capped.
    pub body_bytes: u64,
    /// The first `max_body_capture_bytes` of the body, after transfer decoding.
    pub body: Vec<u8>,
    /// True when `body` holds fewer bytes than `body_bytes`.
    pub body_truncated: bool,
    /// Trailer fields of a chunked body, in wire order.
    pub trailers: Headers,
    /// Interim (1xx) responses seen before this final one, by status code.
    pub interim: Vec<u16>,
    /// Packet time of the first byte of the (final) status line.
    pub ts_us: u64,
    /// Packet time of the last byte of the response.
    pub end_ts_us: u64,
}

/// One HTTP exchange on one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The connection it was seen on.
    pub conn: ConnId,
    /// 1-based position of this transaction on its connection.
    pub depth: u32,
    /// Flow zone (VLAN, tunnel id); 0 when none.
    pub zone: u64,
    /// Client endpoint (after any re-orientation by the HTTP layer).
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// The request; `None` for a response that matched no request (anomaly `unmatched_response`).
    pub request: Option<Request>,
    /// The response; `None` when it never came (connection closed or timed out first).
    pub response: Option<Response>,
    /// HTTP-layer anomalies, in the order seen, without duplicates.
    pub anomalies: Vec<HttpAnomaly>,
    /// TCP-layer anomalies seen while this transaction was in progress, without duplicates.
    pub tcp_anomalies: Vec<TcpAnomaly>,
    /// Set when this exchange ended HTTP on the connection (CONNECT tunnel or protocol upgrade);
    /// the connection's later bytes are counted but not parsed.
    pub switched: Option<SwitchedProtocol>,
}

/// Why HTTP parsing stopped on a connection after a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwitchedProtocol {
    /// A CONNECT request got a 2xx response: the connection is now an opaque tunnel.
    Connect,
    /// A 101 Switching Protocols response; the value is the `Upgrade` header (e.g. `websocket`).
    Upgrade(String),
}

impl Transaction {
    /// The names of its anomalies, HTTP then TCP, as records and metrics show them.
    pub fn anomaly_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let http = self.anomalies.iter().map(|a| a.name());
        http.chain(self.tcp_anomalies.iter().map(|a| a.name()))
    }

    /// Packet time of the transaction: the request's first byte, or the response's when there
    /// was no request.
    pub fn ts_us(&self) -> u64 {
        match (&self.request, &self.response) {
            (Some(r), _) => r.ts_us,
            (None, Some(r)) => r.ts_us,
            (None, None) => 0,
        }
    }
}
