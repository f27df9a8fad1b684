//! What leaves the HTTP stage: one owned request/response pair.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use apitap_reassembly::{ConnId, Side, TcpAnomaly};

use super::{Headers, HttpAnomaly};
use crate::http2::{GrpcCall, H2Anomaly};

/// A request head and its body accounting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Method token as sent (`GET`, `POST`...); HTTP/2's `:method` (empty when it could not
    /// be decoded).
    pub method: String,
    /// Raw request-target as sent (origin, absolute, authority or asterisk form); HTTP/2's
    /// `:path`.
    pub uri: String,
    /// HTTP/2's `:authority` (the Host of HTTP/1); `None` for HTTP/1.
    pub authority: Option<String>,
    /// Minor version of HTTP/1.x: 0 or 1 (0 for HTTP/2, which `Transaction::http2` marks).
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
    /// The body issues object ids to the client, as the body selection judges it
    /// ([`super::capture::SelectedCapture::issues_ids`]): a 2xx listing of a collection whose
    /// objects are read by id, or a `201 Created`. Set whatever else keeps the body, so that
    /// a reader of ids reads the same responses whether or not detection stores every body.
    pub issues_ids: bool,
}

/// Whether a response's body was stored because its request asked for it (the tracker's
/// `ResponseGate`, attack detection's: an attack's outcome is read from the response that
/// answered it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum GateVerdict {
    /// The gate was not asked: no gate, or not an HTTP/1 response.
    #[default]
    NotAsked,
    /// Stored: the gate asked for it (with what it noted for its reader), or the request was
    /// not whole when the response began (an empty note).
    Kept(GateNote),
    /// Not stored for the gate: it read the whole request and declined the body.
    Declined,
}

/// What a response gate noted of a request it kept the response of, for the reader after it
/// (attack detection: the request's findings, not to be read again). Opaque here; equal
/// when both are empty or both are the same note.
#[derive(Clone, Default)]
pub struct GateNote(Option<Arc<dyn Any + Send + Sync>>);

impl GateNote {
    /// A note holding `value`.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        GateNote(Some(Arc::new(value)))
    }

    /// The note's value, when it holds a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref().and_then(|v| v.downcast_ref())
    }
}

impl PartialEq for GateNote {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for GateNote {}

impl std::fmt::Debug for GateNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "GateNote(..)"
        } else {
            "GateNote(empty)"
        })
    }
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
    /// Set when this exchange ended HTTP/1 on the connection (CONNECT tunnel or protocol
    /// upgrade); the connection's later bytes go to the protocol that follows.
    pub switched: Option<SwitchedProtocol>,
    /// Set for an exchange carried by an HTTP/2 stream.
    pub http2: Option<Box<Http2Info>>,
    /// The authority of the CONNECT tunnel the exchange was carried in (`host:port`), when it
    /// was.
    pub connect_authority: Option<Arc<str>>,
    /// The exchange was read from TLS application data decrypted with a key log (replay).
    pub decrypted: bool,
    /// What the tracker's response gate (`ResponseGate`, attack detection's) said when it
    /// read the request: whether the response's body was stored for it, and what it found.
    /// Kept on the transaction, not its response, so that a request whose response never
    /// came is not read again.
    pub gate: GateVerdict,
}

/// What an HTTP/2 stream adds to its exchange.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Http2Info {
    /// Stream identifier (RFC 9113 section 5.1.1).
    pub stream_id: u32,
    /// The server pushed it (PUSH_PROMISE).
    pub pushed: bool,
    /// Who reset the stream (RST_STREAM) and with which error code.
    pub reset: Option<(Side, u32)>,
    /// The gRPC call, for `content-type: application/grpc*`.
    pub grpc: Option<GrpcCall>,
    /// HTTP/2-layer anomalies, in the order seen.
    pub anomalies: Vec<H2Anomaly>,
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
    /// The names of its anomalies, HTTP (HTTP/1, then HTTP/2) then TCP, as records and metrics
    /// show them.
    pub fn anomaly_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let http = self.anomalies.iter().map(|a| a.name());
        let h2 = self
            .http2
            .iter()
            .flat_map(|h| h.anomalies.iter().map(|a| a.name()));
        http.chain(h2)
            .chain(self.tcp_anomalies.iter().map(|a| a.name()))
    }

    /// A transaction of connection `conn` at `depth`, with nothing seen yet.
    pub fn new(
        conn: ConnId,
        depth: u32,
        zone: u64,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Self {
        Transaction {
            conn,
            depth,
            zone,
            client,
            server,
            request: None,
            response: None,
            anomalies: Vec::new(),
            tcp_anomalies: Vec::new(),
            switched: None,
            http2: None,
            connect_authority: None,
            decrypted: false,
            gate: GateVerdict::NotAsked,
        }
    }

    /// Heap bytes the transaction holds, as allocated: heads, stored bodies, trailers and the
    /// small lists (not `size_of::<Transaction>()` itself, which its holder counts).
    pub fn heap_bytes(&self) -> usize {
        let request = self.request.as_ref().map_or(0, |r| {
            r.method.capacity()
                + r.uri.capacity()
                + r.authority.as_ref().map_or(0, String::capacity)
                + r.headers.heap_bytes()
                + r.body.capacity()
                + r.trailers.heap_bytes()
        });
        let response = self.response.as_ref().map_or(0, |r| {
            r.reason.capacity()
                + r.headers.heap_bytes()
                + r.body.capacity()
                + r.trailers.heap_bytes()
                + r.interim.capacity() * std::mem::size_of::<u16>()
        });
        request
            + response
            + self.anomalies.capacity() * std::mem::size_of::<HttpAnomaly>()
            + self.tcp_anomalies.capacity() * std::mem::size_of::<TcpAnomaly>()
            + self
                .http2
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<Http2Info>())
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
