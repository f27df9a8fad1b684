//! Per-connection HTTP/1.x state: two directions (requests from the client, responses from the
//! server), each a small state machine, and the FIFO of transactions that pairs them.
//!
//! Policies (tests in `connection_tests.rs` pin each one):
//! - **Pairing**: responses pair with requests in order (RFC 9112 section 9.3.2). A final
//!   response with no waiting request becomes a transaction without request
//!   (`unmatched_response`). At most `max_pending_requests` requests wait; a new one evicts the
//!   oldest, emitted without response (`too_many_pending_requests`).
//! - **Gaps**: inside a body of known length (Content-Length, chunk data, read-until-close) the
//!   lost bytes are counted into `body_bytes` and the message is marked; framing goes on. In a
//!   head, a chunk-size line or between messages the direction desynchronises and looks for the
//!   next start line; the next message on that direction is marked. A read-until-close body
//!   keeps its framing across a gap (it still ends at close), so it does not desync.
//! - **Bad heads**: a malformed or too-large head is salvaged when its start line is intact (the
//!   transaction is kept, without fields, so the peer's message still pairs), then the direction
//!   desynchronises.
//! - **Lenient heads**: a request head httparse rejects is read again the way servers and Zeek
//!   read it (see `parser::lenient_request_head`): odd request lines, obs-fold, stray lines in
//!   the field section. The transaction records what was tolerated (`lenient_request_line`,
//!   `obsolete_line_folding`, `invalid_header_line`); what would make the body length a guess
//!   stays an error.
//! - **HTTP/0.9**: only `GET /path` with nothing after it is a simple request. Its answer
//!   decides: a reply that is not a status line makes it HTTP/0.9 (`http09_request`, version
//!   1.0) and ends HTTP on the connection; a status line makes it a version-less HTTP/1.0 head
//!   (`lenient_request_line`) and parsing goes on.
//! - **CONNECT / Upgrade**: a 2xx to CONNECT or a 101 ends HTTP/1 on the connection: the
//!   connection hands a [`Switch`] on (the protocol that follows and the bytes already received
//!   for it; [`HttpConnection::on_data`] returns where in the segment HTTP/1 stopped). After a
//!   CONNECT request, a request asking for an `Upgrade` or a simple request, the client may
//!   already send bytes of what follows (RFC 9110 section 9.3.6), so the client direction holds
//!   them (at most `MAX_HELD_CLIENT_BYTES`) until the final response: they go to the next
//!   protocol, or back to HTTP/1 when the server declined (resynchronising after a CONNECT).
//! - **Orientation**: with `OrientationBasis::Ports` only, the first bytes seen decide: a
//!   status line from the "client" or a request line from the "server" swaps the endpoints for
//!   the whole connection and marks the first transaction `re_oriented`.

use std::collections::VecDeque;
use std::mem;
use std::net::SocketAddr;

use apitap_reassembly::{ConnId, OrientationBasis, Side, TcpAnomaly};
use httparse::Header;

use super::capture::{ObjectNouns, TargetRead};
use super::checks;
use super::gate::{self, ResponseGate};
use super::headers::Headers;
use super::held::{Event, Held};
use super::parser::{
    self, header_storage, BodyFraming, ChunkError, ChunkedDecoder, Line, Parse, Probe, RequestHead,
    ResponseHead, StartLine,
};
use super::switch::{self, Switch, SwitchTo};
use super::{GateVerdict, HttpAnomaly, HttpConfig, HttpStats, Request, Response, Transaction};

/// Where one connection's output goes: the stage's config, counters and finished transactions.
pub struct Ctx<'a> {
    /// Limits.
    pub cfg: &'a HttpConfig,
    /// Counters.
    pub stats: &'a mut HttpStats,
    /// Finished transactions, in completion order.
    pub out: &'a mut Vec<Transaction>,
    /// Collections read by id, for body capture.
    pub nouns: &'a mut ObjectNouns,
    /// The response gate, for body capture.
    pub gate: Option<&'a mut (dyn ResponseGate + 'static)>,
}

/// How a body in progress is delimited.
#[derive(Debug)]
enum Framing {
    /// This many bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(ChunkedDecoder),
    /// Until the connection closes (responses only).
    UntilClose,
}

/// The state of one direction.
#[derive(Debug)]
enum State {
    /// Expecting a start line; `Half::buf` holds a partial head.
    Head,
    /// Reading the body of the open message; `capture` is how many of its bytes are stored
    /// (0 once a gap broke it).
    Body { framing: Framing, capture: usize },
    /// Lost framing: looking for the next start line; `Half::buf` holds an incomplete candidate.
    Desync { at_line_start: bool },
    /// Client only: after a request that may switch protocols, until its final response;
    /// `Half::held` keeps the bytes.
    AwaitSwitch,
    /// HTTP/1 ended on this connection ([`HttpConnection::take_switch`]): no byte is read.
    Switched,
}

/// Client bytes held while a switch is pending: a TLS ClientHello with a few KiB of key
/// shares, or an HTTP/2 preface and SETTINGS, sent before the server's answer. More is
/// counted as lost (the next protocol sees a gap).
pub const MAX_HELD_CLIENT_BYTES: usize = 64 * 1024;

/// One direction of the connection.
///
/// Invariant: `buf.len() <= max_header_bytes` between events; it is non-empty only in `Head`
/// (a partial head) or `Desync` (an incomplete candidate line). `held` is non-empty only in
/// `AwaitSwitch`, and holds at most `MAX_HELD_CLIENT_BYTES`. `pending` and `pending_tcp` hold
/// each kind at most once, so they stay tiny.
#[derive(Debug)]
struct Half {
    state: State,
    held: Held,
    /// True once a head of this direction parsed: before that, on a connection picked up
    /// mid-stream, unparseable bytes are the tail of a message that began before the capture.
    seen_head: bool,
    buf: Vec<u8>,
    /// Packet time of the first byte of the head being read.
    head_ts_us: u64,
    /// HTTP anomalies for the next message of this direction.
    pending: Vec<HttpAnomaly>,
    /// TCP anomalies for the next message of this direction.
    pending_tcp: Vec<TcpAnomaly>,
}

impl Half {
    fn new() -> Self {
        Half {
            state: State::Head,
            held: Held::new(),
            seen_head: false,
            buf: Vec::new(),
            head_ts_us: 0,
            pending: Vec::new(),
            pending_tcp: Vec::new(),
        }
    }
}

/// Largest head buffer kept for the next head once one parsed: the usual head spanning two
/// segments fits; a larger one is freed, so an idle keep-alive connection holds at most this
/// (counted in [`HttpConnection::held_bytes`]).
const RECYCLED_HEAD_BYTES: usize = 4096;

/// Steps in a row that may consume no byte (each changes state: a failed head enters desync,
/// desync finds a start line, the head parses) before the parser is declared stuck.
const MAX_IDLE_STEPS: usize = 8;

/// Progress of a transaction's response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RespProgress {
    /// No final response yet (interim ones may have come).
    Awaiting,
    /// The final response's body is being read.
    Open,
    /// Finished, or will never come (evicted).
    Done,
}

/// Request methods whose response framing differs (RFC 9112 section 6.3 items 1-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Head,
    Connect,
    Other,
}

/// A transaction being built.
#[derive(Debug)]
struct Txn {
    tx: Transaction,
    /// The request body is still being read.
    req_open: bool,
    resp: RespProgress,
    interim: Vec<u16>,
    method: Method,
    /// The request asked for an `Upgrade`.
    upgrade: bool,
    /// A simple request (`GET /path`) whose answer is not known yet.
    http09: bool,
    /// The response gate's verdict, asked when the request completed ([`ask_gate_early`]).
    early_verdict: Option<GateVerdict>,
    /// What the request's target told the body selection, read at its head.
    target_read: TargetRead,
}

impl Txn {
    fn finished(&self) -> bool {
        !self.req_open && self.resp == RespProgress::Done
    }

    fn awaiting(&self) -> bool {
        self.tx.request.is_some() && self.resp == RespProgress::Awaiting
    }
}

/// Whether the client and server of the Open event were kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Orientation {
    Undecided,
    Kept,
    Swapped,
}

/// Result of trying to parse a head.
enum HeadOutcome {
    /// Parsed and handled; this many bytes were the head.
    Done(usize),
    /// Need more bytes.
    Partial,
    /// Not a head: handled (salvaged or marked) and the direction is desynchronised.
    Failed,
}

/// HTTP state of one TCP connection.
///
/// Invariant: `txns` is in depth order; at most one transaction has `req_open` (the client
/// direction is sequential) and at most one has `resp == Open`; the number of `awaiting`
/// transactions is at most `max_pending_requests`, so `txns.len() <= max_pending_requests + 2`.
#[derive(Debug)]
pub struct HttpConnection {
    conn: ConnId,
    zone: u64,
    client: SocketAddr,
    server: SocketAddr,
    basis: OrientationBasis,
    orientation: Orientation,
    next_depth: u32,
    txns: VecDeque<Txn>,
    req: Half,
    resp: Half,
    /// Some transaction may be finished: scan `txns` at the end of the event.
    ready: bool,
    /// The next transaction created is the first after a re-orientation.
    mark_reoriented: bool,
    /// Set when HTTP/1 ended, until taken.
    switch: Option<Box<Switch>>,
    /// A simple request waits for its answer (see `answers_http09`).
    http09_pending: bool,
}

impl HttpConnection {
    /// State for a connection announced by `StreamEvent::Open`.
    pub fn new(
        conn: ConnId,
        zone: u64,
        client: SocketAddr,
        server: SocketAddr,
        basis: OrientationBasis,
    ) -> Self {
        HttpConnection {
            conn,
            zone,
            client,
            server,
            basis,
            orientation: Orientation::Undecided,
            next_depth: 1,
            txns: VecDeque::new(),
            req: Half::new(),
            resp: Half::new(),
            ready: false,
            mark_reoriented: false,
            switch: None,
            http09_pending: false,
        }
    }

    /// The same state numbering its transactions from `depth` (HTTP/1 inside a tunnel or
    /// after TLS decryption continues the connection's numbering).
    pub fn starting_at(mut self, depth: u32) -> Self {
        self.next_depth = depth.max(1);
        self
    }

    /// Depth of the next transaction.
    pub fn next_depth(&self) -> u32 {
        self.next_depth
    }

    /// True when the endpoints of the `Open` event were swapped after the first bytes.
    pub fn swapped(&self) -> bool {
        self.orientation == Orientation::Swapped
    }

    /// The protocol switch that ended HTTP/1 on this connection, once; `None` while HTTP/1
    /// goes on. The transactions are emitted already, except requests still waiting for a
    /// response, which [`Self::close`] emits.
    pub fn take_switch(&mut self) -> Option<Box<Switch>> {
        self.switch.take()
    }

    /// Heap bytes this connection holds, as allocated: partial heads and candidate lines,
    /// client bytes held for a switch, and the transactions not emitted yet (requests waiting
    /// for their response, with their stored bodies). What the tracker's global account
    /// (`max_held_bytes_total`) counts.
    pub fn held_bytes(&self) -> usize {
        let halves: usize = [&self.req, &self.resp]
            .iter()
            .map(|h| h.buf.capacity() + h.held.heap_bytes())
            .sum();
        let txns: usize = self
            .txns
            .iter()
            .map(|t| t.tx.heap_bytes() + t.interim.capacity() * mem::size_of::<u16>())
            .sum();
        let switch = self
            .switch
            .as_ref()
            .map_or(0, |s| s.early_client.heap_bytes());
        halves + self.txns.capacity() * mem::size_of::<Txn>() + txns + switch
    }

    /// Client endpoint after any re-orientation.
    pub fn client(&self) -> SocketAddr {
        self.client
    }

    /// Server endpoint after any re-orientation.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// In-order bytes of one direction. Returns how many were read: all of them, unless
    /// HTTP/1 ended in them ([`Self::take_switch`]); the rest belongs to the next protocol.
    pub fn on_data(&mut self, ts_us: u64, from: Side, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        if data.is_empty() {
            return 0;
        }
        let side = self.orient(from, Some(data), cx);
        let left = self.feed(side, ts_us, data, cx);
        self.emit_ready(cx);
        data.len() - left
    }

    /// `len` bytes of one direction were lost.
    pub fn on_gap(&mut self, ts_us: u64, from: Side, len: u64, cx: &mut Ctx<'_>) {
        let side = self.orient(from, None, cx);
        cx.stats.gaps += 1;
        cx.stats.gap_bytes += len;
        if len > 0 {
            self.gap(side, ts_us, len, cx);
        }
        self.emit_ready(cx);
    }

    /// A TCP anomaly on one direction: attached to the message in progress there, or the next.
    pub fn on_tcp_anomaly(&mut self, from: Side, kind: TcpAnomaly) {
        let side = match self.orientation {
            Orientation::Swapped => from.flip(),
            _ => from,
        };
        let open = match side {
            Side::Client => self.txns.iter_mut().find(|t| t.req_open),
            Side::Server => self.txns.iter_mut().find(|t| t.resp == RespProgress::Open),
        };
        match open {
            Some(t) => push_unique(&mut t.tx.tcp_anomalies, kind),
            None => push_unique(&mut self.half(side).pending_tcp, kind),
        }
    }

    /// The connection ended: finish what can be finished and emit every transaction, in order.
    pub fn close(mut self, ts_us: u64, cx: &mut Ctx<'_>) {
        for t in self.txns.iter_mut().filter(|t| t.http09) {
            // A simple request never answered.
            t.http09 = false;
            note(t, HttpAnomaly::Http09Request, cx.stats);
        }
        for side in [Side::Client, Side::Server] {
            let state = mem::replace(&mut self.half(side).state, State::Switched);
            let buffered = self.half(side).buf.len() as u64;
            match state {
                State::Body {
                    framing: Framing::UntilClose,
                    ..
                } => self.finish_message(side, ts_us, Headers::new(), cx),
                State::Body { .. } => {
                    let a = match side {
                        Side::Client => HttpAnomaly::IncompleteRequest,
                        Side::Server => HttpAnomaly::IncompleteResponse,
                    };
                    self.mark_open(side, a, cx);
                    self.finish_message(side, ts_us, Headers::new(), cx);
                }
                State::Head if buffered > 0 => cx.stats.heads_cut_by_close += 1,
                State::Desync { .. } => cx.stats.desync_skipped_bytes += buffered,
                State::AwaitSwitch => cx.stats.opaque_bytes += self.req.held.len() as u64,
                _ => {}
            }
        }
        for t in self.txns.drain(..) {
            emit(t, cx);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Orientation.

    fn orient(&mut self, from: Side, first: Option<&[u8]>, cx: &mut Ctx<'_>) -> Side {
        if self.orientation == Orientation::Undecided {
            let swap = match (self.basis, first) {
                (OrientationBasis::Ports, Some(d)) => match from {
                    Side::Client => parser::looks_like_status_line(d),
                    Side::Server => {
                        !parser::looks_like_status_line(d) && parser::looks_like_request_line(d)
                    }
                },
                _ => false,
            };
            if swap {
                mem::swap(&mut self.client, &mut self.server);
                mem::swap(&mut self.req.pending_tcp, &mut self.resp.pending_tcp);
                self.orientation = Orientation::Swapped;
                cx.stats.reoriented_connections += 1;
                cx.stats.count_anomaly(HttpAnomaly::ReOriented);
                // Nothing was parsed yet: the first transaction will be created from the
                // (re-oriented) bytes; it carries the mark.
                self.mark_reoriented = true;
            } else {
                self.orientation = Orientation::Kept;
            }
        }
        match self.orientation {
            Orientation::Swapped => from.flip(),
            _ => from,
        }
    }

    // -----------------------------------------------------------------------------------------
    // The byte loop.

    fn half(&mut self, side: Side) -> &mut Half {
        match side {
            Side::Client => &mut self.req,
            Side::Server => &mut self.resp,
        }
    }

    /// Reads `data`; returns how many bytes at its end were left for the next protocol (0
    /// unless HTTP/1 switched).
    fn feed(&mut self, side: Side, ts_us: u64, mut data: &[u8], cx: &mut Ctx<'_>) -> usize {
        // Invariant: every step consumes bytes or changes state; a step that consumes nothing
        // may happen a few times in a row (head fails → desync), never without end. The guard
        // below turns a bug in that reasoning into skipped, counted bytes instead of a hang.
        let mut idle_steps = 0;
        while !data.is_empty() {
            if idle_steps > MAX_IDLE_STEPS {
                debug_assert!(false, "HTTP parser made no progress");
                cx.stats.stalls += 1;
                cx.stats.desync_skipped_bytes += data.len() as u64;
                return 0;
            }
            let n = match self.half(side).state {
                State::Head => self.head(side, ts_us, data, cx),
                State::Body { .. } => self.body(side, ts_us, data, cx),
                State::Desync { .. } => self.desync(side, ts_us, data, cx),
                State::AwaitSwitch => {
                    let held = &mut self.req.held;
                    let over = held.push(Side::Client, ts_us, data, MAX_HELD_CLIENT_BYTES);
                    cx.stats.opaque_bytes += over as u64;
                    data.len()
                }
                State::Switched => return data.len(),
            };
            idle_steps = if n == 0 { idle_steps + 1 } else { 0 };
            data = data.get(n..).unwrap_or(&[]);
        }
        0
    }

    /// [`Self::feed`] of bytes the caller took out of a buffer, whose last `tail` bytes are
    /// the start of the segment being read: returns how many of those `tail` bytes were read.
    /// Bytes before them left for a next protocol (a switch inside a buffered head, which a
    /// server does not send) are counted as opaque.
    fn feed_buffered(
        &mut self,
        side: Side,
        ts_us: u64,
        bytes: &[u8],
        tail: usize,
        cx: &mut Ctx<'_>,
    ) -> usize {
        let left = self.feed(side, ts_us, bytes, cx);
        cx.stats.opaque_bytes += left.saturating_sub(tail) as u64;
        tail - left.min(tail)
    }

    /// Head state: parse straight from `data` when no partial head is buffered (no copy), else
    /// append and re-parse (only when a line ended, so tiny segments cost no quadratic work).
    fn head(&mut self, side: Side, ts_us: u64, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        let max = cx.cfg.max_header_bytes;
        if side == Side::Server && self.answers_http09(data) {
            self.confirm_http09(cx);
            return 0;
        }
        if self.half(side).buf.is_empty() {
            self.half(side).head_ts_us = ts_us;
            return match self.parse_head(side, ts_us, data, cx) {
                HeadOutcome::Done(n) => n,
                HeadOutcome::Partial if data.len() >= max => {
                    self.head_failed(side, ts_us, data, HttpAnomaly::HeaderTooLarge, cx);
                    0
                }
                HeadOutcome::Partial => {
                    append_bounded(&mut self.half(side).buf, data, max);
                    data.len()
                }
                // Desync rescans `data` from its start (skipping the bad line).
                HeadOutcome::Failed => 0,
            };
        }
        let old = self.half(side).buf.len();
        let take = data.len().min(max.saturating_sub(old)).max(1);
        let new = data.get(..take).unwrap_or(data);
        append_bounded(&mut self.half(side).buf, new, max);
        if memchr::memchr(b'\n', new).is_none() && old + take < max {
            return take;
        }
        let head = mem::take(&mut self.half(side).buf);
        match self.parse_head(side, ts_us, &head, cx) {
            HeadOutcome::Done(n) => {
                if n < old {
                    // Cannot happen (a head ends with a line end, and every line end was parsed
                    // when it came), but stay exact if it does: the rest is the next message.
                    let rest = head.get(n..old).unwrap_or(&[]);
                    self.feed_buffered(side, ts_us, rest, 0, cx);
                }
                self.recycle(side, head);
                n.saturating_sub(old).min(take)
            }
            HeadOutcome::Partial if head.len() >= max => {
                self.head_failed(side, ts_us, &head, HttpAnomaly::HeaderTooLarge, cx);
                let read = self.feed_buffered(side, ts_us, &head, take, cx);
                self.recycle(side, head);
                read
            }
            HeadOutcome::Partial => {
                self.half(side).buf = head;
                take
            }
            HeadOutcome::Failed => {
                let read = self.feed_buffered(side, ts_us, &head, take, cx);
                self.recycle(side, head);
                read
            }
        }
    }

    /// Gives a taken buffer's allocation back when the direction has no bytes buffered, unless
    /// it is larger than [`RECYCLED_HEAD_BYTES`] (an idle connection would hold it).
    fn recycle(&mut self, side: Side, mut buf: Vec<u8>) {
        let half = self.half(side);
        if half.buf.is_empty() && buf.capacity() <= RECYCLED_HEAD_BYTES {
            buf.clear();
            half.buf = buf;
        }
    }

    fn parse_head(
        &mut self,
        side: Side,
        ts_us: u64,
        bytes: &[u8],
        cx: &mut Ctx<'_>,
    ) -> HeadOutcome {
        let mut storage = header_storage();
        let n_headers = cx.cfg.max_headers.min(storage.len());
        let storage = storage.get_mut(..n_headers).unwrap_or(&mut []);
        // Fields of a head only the lenient parser accepts; stays unallocated otherwise.
        let mut spill = Vec::new();
        match side {
            Side::Client => {
                let parsed = parser::parse_request_head(bytes, storage, &mut spill);
                self.head_parsed(
                    side,
                    ts_us,
                    bytes,
                    parsed,
                    HttpAnomaly::MalformedRequest,
                    cx,
                )
            }
            Side::Server => {
                let parsed = parser::parse_response_head(bytes, storage);
                self.head_parsed(
                    side,
                    ts_us,
                    bytes,
                    parsed,
                    HttpAnomaly::MalformedResponse,
                    cx,
                )
            }
        }
    }

    /// What a parsed head (of either side) leads to: handled, waiting for more bytes, or
    /// failed with `malformed` (or a more precise anomaly).
    fn head_parsed<H: Head>(
        &mut self,
        side: Side,
        ts_us: u64,
        bytes: &[u8],
        parsed: Parse<H>,
        malformed: HttpAnomaly,
        cx: &mut Ctx<'_>,
    ) -> HeadOutcome {
        let anomaly = match parsed {
            Parse::Complete { consumed, head } if consumed <= cx.cfg.max_header_bytes => {
                head.handle(self, ts_us, cx);
                return HeadOutcome::Done(consumed);
            }
            Parse::Complete { .. } => HttpAnomaly::HeaderTooLarge,
            Parse::Partial => return HeadOutcome::Partial,
            Parse::Error(parser::HeadError::TooManyHeaders) => HttpAnomaly::TooManyHeaders,
            Parse::Error(parser::HeadError::Malformed) => malformed,
        };
        self.head_failed(side, ts_us, bytes, anomaly, cx);
        HeadOutcome::Failed
    }

    fn head_failed(
        &mut self,
        side: Side,
        ts_us: u64,
        bytes: &[u8],
        a: HttpAnomaly,
        cx: &mut Ctx<'_>,
    ) {
        let picked_up = self.basis == OrientationBasis::Ports && !self.half(side).seen_head;
        if picked_up
            && matches!(
                a,
                HttpAnomaly::MalformedRequest | HttpAnomaly::MalformedResponse
            )
        {
            // Mid-stream pickup: the first bytes finish a message whose head was never
            // captured. Not malformed; skip to the next start line (the bytes are counted).
            cx.stats.pickup_tails += 1;
            self.enter_desync(side, false, cx);
            return;
        }
        cx.stats.count_anomaly(a);
        match side {
            Side::Client => match parser::salvage_request_line(bytes) {
                Line::Complete((l, lenient)) => {
                    cx.stats.requests += 1;
                    self.enforce_pending_bound(cx);
                    let request = Request {
                        method: lossy(l.method),
                        uri: lossy(l.target),
                        version_minor: l.version_minor,
                        ts_us: self.req.head_ts_us,
                        end_ts_us: ts_us,
                        ..Request::default()
                    };
                    let method = method_of(&request.method);
                    let t = self.push_txn(Some(request), method, Side::Client);
                    push_unique(&mut t.tx.anomalies, a);
                    if lenient {
                        note(t, HttpAnomaly::LenientRequestLine, cx.stats);
                    }
                }
                _ => push_unique(&mut self.req.pending, a),
            },
            Side::Server => match parser::status_line(bytes) {
                Line::Complete(l) => {
                    let response = Response {
                        status: l.status,
                        reason: lossy(l.reason),
                        version_minor: l.version_minor,
                        ts_us: self.resp.head_ts_us,
                        end_ts_us: ts_us,
                        ..Response::default()
                    };
                    cx.stats.responses += 1;
                    let t = self.attach_response(response, cx);
                    t.resp = RespProgress::Done;
                    push_unique(&mut t.tx.anomalies, a);
                    self.ready = true;
                }
                _ => push_unique(&mut self.resp.pending, a),
            },
        }
        self.enter_desync(side, false, cx);
    }

    fn enter_desync(&mut self, side: Side, at_line_start: bool, cx: &mut Ctx<'_>) {
        cx.stats.desyncs += 1;
        let half = self.half(side);
        cx.stats.desync_skipped_bytes += half.buf.len() as u64;
        half.buf.clear();
        half.state = State::Desync { at_line_start };
    }

    // -----------------------------------------------------------------------------------------
    // Heads.

    fn on_request_head(&mut self, head: &RequestHead<'_, '_>, ts_us: u64, cx: &mut Ctx<'_>) {
        self.req.seen_head = true;
        cx.stats.requests += 1;
        self.enforce_pending_bound(cx);
        let request = Request {
            method: head.method.to_owned(),
            uri: head.target.to_owned(),
            version_minor: head.version_minor,
            headers: own_headers(head.headers),
            ts_us: self.req.head_ts_us,
            end_ts_us: ts_us,
            ..Request::default()
        };
        let method = method_of(head.method);
        let target_read = cx
            .cfg
            .selected
            .read_request(head.method, head.target, cx.nouns);
        if target_read.noun_dropped {
            cx.stats.object_nouns_dropped += 1;
        }
        let t = self.push_txn(Some(request), method, Side::Client);
        t.target_read = target_read;
        for a in head.tolerated.anomalies() {
            note(t, a, cx.stats);
        }
        if head.http09 {
            // Its answer tells whether it is one (`answers_http09`).
            t.http09 = true;
            self.http09_pending = true;
            self.req.state = State::AwaitSwitch;
            return;
        }
        let facts = checks::request_head(head.version_minor, head.target, head.headers);
        for a in facts.iter() {
            note(t, a, cx.stats);
        }
        t.upgrade = facts.asks_upgrade();
        let (framing, anomaly) = parser::request_framing(head.headers);
        if let Some(a) = anomaly {
            note(t, a, cx.stats);
        }
        let framing = match framing {
            BodyFraming::Empty => None,
            BodyFraming::Length(n) => Some(Framing::Length(n)),
            BodyFraming::Chunked => Some(Framing::Chunked(ChunkedDecoder::new(
                cx.cfg.max_header_bytes,
            ))),
            BodyFraming::UntilClose | BodyFraming::Invalid => {
                self.ready = true;
                self.enter_desync(Side::Client, true, cx);
                return;
            }
        };
        match framing {
            Some(framing) => {
                t.req_open = true;
                self.req.state = State::Body {
                    framing,
                    capture: cx
                        .cfg
                        .selected
                        .request_bytes(cx.cfg.max_body_capture_bytes, head.target),
                };
            }
            None => {
                ask_gate_early(t, cx);
                let upgrade = t.upgrade;
                self.ready = true;
                if method == Method::Connect || upgrade {
                    self.req.state = State::AwaitSwitch;
                }
            }
        }
    }

    fn on_response_head(&mut self, head: &ResponseHead<'_, '_>, ts_us: u64, cx: &mut Ctx<'_>) {
        self.resp.seen_head = true;
        let status = head.status;
        if (100..200).contains(&status) && status != 101 {
            cx.stats.interim_responses += 1;
            let max_interim = cx.cfg.max_interim_responses;
            match self.txns.iter_mut().find(|t| t.awaiting()) {
                Some(t) => {
                    if t.interim.len() < max_interim {
                        t.interim.push(status);
                    }
                    attach_pending(t, &mut self.resp);
                }
                None => cx.stats.unmatched_interim_responses += 1,
            }
            return;
        }
        cx.stats.responses += 1;
        let response = Response {
            status,
            reason: head.reason.to_owned(),
            version_minor: head.version_minor,
            headers: own_headers(head.headers),
            ts_us: self.resp.head_ts_us,
            end_ts_us: ts_us,
            ..Response::default()
        };
        let t = self.attach_response(response, cx);
        let (method, depth) = (t.method, t.tx.depth);
        let may_switch = t.upgrade || t.http09 || method == Method::Connect;
        let was_http09 = mem::take(&mut t.http09);
        if was_http09 {
            // Answered by a status line: a version-less HTTP/1.0 head, not HTTP/0.9.
            note(t, HttpAnomaly::LenientRequestLine, cx.stats);
        }
        let to = switch::switch_of(&mut t.tx, t.method == Method::Connect, head);
        if to.is_some() {
            t.resp = RespProgress::Done;
        }
        self.http09_pending &= !was_http09;
        if let Some(to) = to {
            self.ready = true;
            self.switch_to(to, depth, cx);
            return;
        }
        // `t` again: borrowed mutably above, so not kept across the field updates.
        let Some(t) = self.txns.iter_mut().find(|t| t.resp == RespProgress::Open) else {
            return;
        };
        let (framing, anomaly) =
            parser::response_framing(status, method == Method::Head, head.headers);
        if let Some(a) = anomaly {
            note(t, a, cx.stats);
        }
        let framing = match framing {
            BodyFraming::Empty => None,
            BodyFraming::Length(n) => Some(Framing::Length(n)),
            BodyFraming::Chunked => Some(Framing::Chunked(ChunkedDecoder::new(
                cx.cfg.max_header_bytes,
            ))),
            BodyFraming::UntilClose => Some(Framing::UntilClose),
            BodyFraming::Invalid => {
                t.resp = RespProgress::Done;
                self.ready = true;
                self.enter_desync(Side::Server, true, cx);
                None
            }
        };
        self.open_response_body(framing, status, cx);
        if may_switch && matches!(self.req.state, State::AwaitSwitch) {
            // Declined: the held client bytes are HTTP/1 again (after a CONNECT they may be
            // tunnel bytes sent too early: resynchronise on the next request line).
            self.resume_client(method == Method::Connect, cx);
        }
    }

    /// The final response just attached is read from here: its body, or nothing.
    fn open_response_body(&mut self, framing: Option<Framing>, status: u16, cx: &mut Ctx<'_>) {
        if !matches!(self.resp.state, State::Head) {
            return;
        }
        let Some(t) = self.txns.iter_mut().find(|t| t.resp == RespProgress::Open) else {
            return;
        };
        let target = t.tx.request.as_ref().map(|r| r.uri.as_str());
        let read = target.map(|_| t.target_read);
        let issues_ids = cx.cfg.selected.issues_ids(read, status);
        if let Some(r) = t.tx.response.as_mut() {
            r.issues_ids = issues_ids;
        }
        let capture =
            cx.cfg
                .selected
                .response_bytes(cx.cfg.max_body_capture_bytes, target, issues_ids);
        // Asked even when there is no body: the gate's reading of the request is then the
        // only one.
        let capture = gated_capture(t, capture, cx);
        match framing {
            Some(framing) => self.resp.state = State::Body { framing, capture },
            None => {
                t.resp = RespProgress::Done;
                self.ready = true;
            }
        }
    }

    /// The client direction reads again what it held while a switch was pending.
    fn resume_client(&mut self, desync: bool, cx: &mut Ctx<'_>) {
        let held = mem::take(&mut self.req.held);
        self.req.state = State::Head;
        if desync {
            self.enter_desync(Side::Client, true, cx);
        }
        for e in held.events() {
            match e {
                // A switch inside held bytes (a pipelined CONNECT): what follows it is lost.
                Event::Data(side, ts, piece) => {
                    cx.stats.opaque_bytes += self.feed(side, ts, piece, cx) as u64;
                }
                Event::Gap(side, ts, len) => {
                    cx.stats.gaps += 1;
                    cx.stats.gap_bytes += len;
                    self.gap(side, ts, len, cx);
                }
            }
        }
    }

    /// True when `data` (after what the server direction buffered) answers a simple request
    /// without a status line: the request was HTTP/0.9, whose reply is the raw body.
    fn answers_http09(&self, data: &[u8]) -> bool {
        if !self.http09_pending
            || !self
                .txns
                .iter()
                .find(|t| t.awaiting())
                .is_some_and(|t| t.http09)
        {
            return false;
        }
        let start = self.resp.buf.iter().chain(data);
        !start.zip(STATUS_LINE_START).all(|(a, b)| a == b)
    }

    /// The oldest waiting request is HTTP/0.9: it has no response, and HTTP ends here.
    fn confirm_http09(&mut self, cx: &mut Ctx<'_>) {
        self.http09_pending = false;
        let Some(t) = self.txns.iter_mut().find(|t| t.awaiting() && t.http09) else {
            return;
        };
        t.http09 = false;
        note(t, HttpAnomaly::Http09Request, cx.stats);
        t.resp = RespProgress::Done;
        let depth = t.tx.depth;
        cx.stats.opaque_bytes += self.resp.buf.len() as u64;
        self.resp.buf.clear();
        self.switch_to(SwitchTo::Other, depth, cx);
    }

    /// Puts a final response on the oldest waiting request, or on a new unmatched transaction.
    fn attach_response(&mut self, mut response: Response, cx: &mut Ctx<'_>) -> &mut Txn {
        let idx = match self.txns.iter().position(Txn::awaiting) {
            Some(i) => i,
            None => {
                cx.stats.unmatched_responses += 1;
                cx.stats.count_anomaly(HttpAnomaly::UnmatchedResponse);
                let t = self.push_txn(None, Method::Other, Side::Server);
                push_unique(&mut t.tx.anomalies, HttpAnomaly::UnmatchedResponse);
                self.txns.len() - 1
            }
        };
        let resp_half = &mut self.resp;
        // `idx` is a position in `txns` found just above.
        let t = &mut self.txns[idx];
        attach_pending(t, resp_half);
        response.interim = mem::take(&mut t.interim);
        t.tx.response = Some(response);
        t.resp = RespProgress::Open;
        t
    }

    fn push_txn(&mut self, request: Option<Request>, method: Method, side: Side) -> &mut Txn {
        let depth = self.next_depth;
        self.next_depth = self.next_depth.saturating_add(1);
        let mut t = Txn {
            tx: Transaction {
                request,
                ..Transaction::new(self.conn, depth, self.zone, self.client, self.server)
            },
            req_open: false,
            resp: RespProgress::Awaiting,
            interim: Vec::new(),
            method,
            upgrade: false,
            http09: false,
            early_verdict: None,
            target_read: TargetRead::default(),
        };
        attach_pending(&mut t, self.half(side));
        if mem::take(&mut self.mark_reoriented) {
            push_unique(&mut t.tx.anomalies, HttpAnomaly::ReOriented);
        }
        self.txns.push_back(t);
        debug_assert!(self.txns.iter().filter(|t| t.req_open).count() <= 1);
        // Just pushed, so the deque is not empty.
        let last = self.txns.len() - 1;
        &mut self.txns[last]
    }

    /// Before a new request waits: at the bound, the oldest waiting request gives up.
    fn enforce_pending_bound(&mut self, cx: &mut Ctx<'_>) {
        let waiting = self.txns.iter().filter(|t| t.awaiting()).count();
        if waiting < cx.cfg.max_pending_requests {
            return;
        }
        if let Some(t) = self.txns.iter_mut().find(|t| t.awaiting()) {
            note(t, HttpAnomaly::TooManyPendingRequests, cx.stats);
            t.resp = RespProgress::Done;
            t.req_open = false;
            self.ready = true;
        }
        debug_assert!(
            self.txns.iter().filter(|t| t.awaiting()).count() < cx.cfg.max_pending_requests
        );
    }

    /// HTTP/1 ends on this connection (tunnel, upgrade, HTTP/0.9) after the transaction at
    /// `depth`: messages in progress end where they stand, later bytes are left for `to`.
    fn switch_to(&mut self, to: SwitchTo, depth: u32, cx: &mut Ctx<'_>) {
        cx.stats.switched_connections += 1;
        let mut early = mem::take(&mut self.req.held);
        if matches!(self.req.state, State::Head) && !self.req.buf.is_empty() {
            // The start of a "head" the client sent with no switch pending: the new protocol's.
            let buf = &self.req.buf;
            let over = early.push(
                Side::Client,
                self.req.head_ts_us,
                buf,
                MAX_HELD_CLIENT_BYTES,
            );
            cx.stats.opaque_bytes += over as u64;
            self.req.buf.clear();
        }
        for half in [&mut self.req, &mut self.resp] {
            cx.stats.opaque_bytes += half.buf.len() as u64;
            half.buf.clear();
            half.state = State::Switched;
        }
        for t in self.txns.iter_mut() {
            t.req_open = false;
            if t.resp == RespProgress::Open {
                t.resp = RespProgress::Done;
            }
        }
        self.ready = true;
        self.switch = Some(Box::new(Switch {
            to,
            depth,
            early_client: early,
        }));
    }

    // -----------------------------------------------------------------------------------------
    // Bodies.

    fn open_txn(&mut self, side: Side) -> Option<&mut Txn> {
        match side {
            Side::Client => self.txns.iter_mut().find(|t| t.req_open),
            Side::Server => self.txns.iter_mut().find(|t| t.resp == RespProgress::Open),
        }
    }

    fn body(&mut self, side: Side, ts_us: u64, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        /// What to do once the borrows of the open message end.
        enum Next {
            Continue,
            Finish(Headers),
            Broken(HttpAnomaly),
        }
        let (half, txns) = match side {
            Side::Client => (&mut self.req, &mut self.txns),
            Side::Server => (&mut self.resp, &mut self.txns),
        };
        let open = match side {
            Side::Client => txns.iter_mut().find(|t| t.req_open),
            Side::Server => txns.iter_mut().find(|t| t.resp == RespProgress::Open),
        };
        let body = open.and_then(|t| body_of(t, side));
        let (Some((body, body_bytes)), State::Body { framing, capture }) = (body, &mut half.state)
        else {
            // Unreachable by the invariant (a body state always has its open message); recover.
            debug_assert!(false, "body state without open message");
            half.state = State::Head;
            return 0;
        };
        let (consumed, next) = match framing {
            Framing::Length(remaining) => {
                let k = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                reserve_declared(body, *remaining, *capture);
                append_body(body, body_bytes, data.get(..k).unwrap_or(&[]), *capture);
                *remaining -= k as u64;
                (
                    k,
                    if *remaining == 0 {
                        Next::Finish(Headers::new())
                    } else {
                        Next::Continue
                    },
                )
            }
            Framing::UntilClose => {
                append_body(body, body_bytes, data, *capture);
                (data.len(), Next::Continue)
            }
            Framing::Chunked(dec) => match dec.feed(data) {
                Ok(d) => {
                    if let Some(r) = d.data {
                        append_body(body, body_bytes, data.get(r).unwrap_or(&[]), *capture);
                    }
                    if dec.is_done() {
                        (
                            d.consumed,
                            Next::Finish(own_trailers(dec.trailers(), cx.cfg.max_headers)),
                        )
                    } else {
                        (d.consumed, Next::Continue)
                    }
                }
                Err(ChunkError::TrailersTooLarge) => (0, Next::Broken(HttpAnomaly::HeaderTooLarge)),
                Err(_) => (0, Next::Broken(HttpAnomaly::InvalidChunk)),
            },
        };
        match next {
            Next::Continue => {}
            Next::Finish(trailers) => self.finish_message(side, ts_us, trailers, cx),
            Next::Broken(a) => {
                // Desync rescans `data` from its start; framing bytes before the error in
                // this segment are counted as skipped.
                self.mark_open(side, a, cx);
                self.finish_message(side, ts_us, Headers::new(), cx);
                self.enter_desync(side, false, cx);
            }
        }
        consumed
    }

    /// The open message of `side` is complete at `ts_us`; the direction expects a head again.
    fn finish_message(&mut self, side: Side, ts_us: u64, trailers: Headers, cx: &mut Ctx<'_>) {
        self.half(side).state = State::Head;
        self.ready = true;
        let Some(t) = self.open_txn(side) else {
            return;
        };
        match side {
            Side::Client => {
                t.req_open = false;
                if let Some(r) = t.tx.request.as_mut() {
                    // Completion time: the latest packet of the message, even when bytes
                    // released from reassembly's buffer carry an earlier arrival time.
                    r.end_ts_us = r.end_ts_us.max(ts_us);
                    r.trailers = trailers;
                }
                ask_gate_early(t, cx);
            }
            Side::Server => {
                t.resp = RespProgress::Done;
                if let Some(r) = t.tx.response.as_mut() {
                    r.end_ts_us = r.end_ts_us.max(ts_us);
                    r.trailers = trailers;
                }
            }
        }
    }

    /// Marks the open message of `side` (counted), if there is one.
    fn mark_open(&mut self, side: Side, a: HttpAnomaly, cx: &mut Ctx<'_>) {
        if let Some(t) = self.open_txn(side) {
            note(t, a, cx.stats);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Gaps and resynchronisation.

    fn gap(&mut self, side: Side, ts_us: u64, mut len: u64, cx: &mut Ctx<'_>) {
        let a = match side {
            Side::Client => HttpAnomaly::GapInRequest,
            Side::Server => HttpAnomaly::GapInResponse,
        };
        while len > 0 {
            let half = self.half(side);
            match &mut half.state {
                State::Head => {
                    // Lost bytes of a head, or whole messages: the next message is marked. On
                    // the server side the lost bytes may be the response of the oldest waiting
                    // request, so it is marked too: its record must not read as if the
                    // server never answered.
                    cx.stats.count_anomaly(a);
                    push_unique(&mut half.pending, a);
                    if side == Side::Server {
                        if let Some(t) = self.txns.iter_mut().find(|t| t.awaiting()) {
                            push_unique(&mut t.tx.anomalies, a);
                        }
                    }
                    self.enter_desync(side, true, cx);
                    return;
                }
                State::Body { framing, capture } => {
                    *capture = 0;
                    let (in_body, framing_lost, done) = match framing {
                        Framing::Length(remaining) => {
                            let k = (*remaining).min(len);
                            *remaining -= k;
                            (k, false, *remaining == 0)
                        }
                        Framing::UntilClose => (len, false, false),
                        Framing::Chunked(dec) => {
                            let k = dec.skip_lost(len);
                            (k, k < len, false)
                        }
                    };
                    cx.stats.gap_bytes_in_bodies += in_body;
                    len -= in_body;
                    let Some(t) = self.open_txn(side) else {
                        self.half(side).state = State::Head;
                        continue;
                    };
                    note(t, a, cx.stats);
                    if let Some((_, body_bytes)) = body_of(t, side) {
                        *body_bytes += in_body;
                    }
                    if framing_lost {
                        self.finish_message(side, ts_us, Headers::new(), cx);
                        self.enter_desync(side, true, cx);
                        return;
                    }
                    if done {
                        self.finish_message(side, ts_us, Headers::new(), cx);
                    }
                }
                State::Desync { at_line_start } => {
                    *at_line_start = true;
                    cx.stats.desync_skipped_bytes += half.buf.len() as u64;
                    half.buf.clear();
                    return;
                }
                State::AwaitSwitch => {
                    half.held.lose(side, ts_us, len);
                    return;
                }
                State::Switched => return,
            }
        }
    }

    fn desync(&mut self, side: Side, ts_us: u64, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        let kind = match side {
            Side::Client => StartLine::Request,
            Side::Server => StartLine::Status,
        };
        let max = cx.cfg.max_header_bytes;
        let half = self.half(side);
        let State::Desync { at_line_start } = &mut half.state else {
            return 0;
        };
        if half.buf.is_empty() {
            match parser::probe(data, *at_line_start, kind, max) {
                Probe::Found(off) => {
                    cx.stats.desync_skipped_bytes += off as u64;
                    cx.stats.resyncs += 1;
                    half.state = State::Head;
                    off
                }
                Probe::Incomplete(off) => {
                    cx.stats.desync_skipped_bytes += off as u64;
                    append_bounded(&mut half.buf, data.get(off..).unwrap_or(&[]), max);
                    half.head_ts_us = ts_us;
                    data.len()
                }
                Probe::NotFound => {
                    cx.stats.desync_skipped_bytes += data.len() as u64;
                    // Status lines are searched anywhere, so the next segment's first byte is a
                    // candidate too (a response often starts a segment right after a body that
                    // ends without newline); request lines only at line starts.
                    *at_line_start = kind == StartLine::Status || data.last() == Some(&b'\n');
                    data.len()
                }
            }
        } else {
            // `buf` starts at a line start with an incomplete candidate.
            let mut stash = mem::take(&mut half.buf);
            stash.extend_from_slice(data);
            match parser::probe(&stash, true, kind, max) {
                Probe::Found(off) => {
                    cx.stats.desync_skipped_bytes += off as u64;
                    cx.stats.resyncs += 1;
                    half.state = State::Head;
                    let rest = stash.get(off..).unwrap_or(&[]);
                    let read = self.feed_buffered(side, ts_us, rest, data.len(), cx);
                    self.recycle(side, stash);
                    return read;
                }
                Probe::Incomplete(off) => {
                    cx.stats.desync_skipped_bytes += off as u64;
                    stash.drain(..off.min(stash.len()));
                    half.buf = stash;
                }
                Probe::NotFound => {
                    cx.stats.desync_skipped_bytes += stash.len() as u64;
                    *at_line_start = stash.last() == Some(&b'\n');
                    stash.clear();
                    half.buf = stash;
                }
            }
            data.len()
        }
    }

    // -----------------------------------------------------------------------------------------
    // Output.

    fn emit_ready(&mut self, cx: &mut Ctx<'_>) {
        if !self.ready {
            return;
        }
        self.ready = false;
        let mut i = 0;
        while let Some(t) = self.txns.get(i) {
            if t.finished() {
                if let Some(t) = self.txns.remove(i) {
                    emit(t, cx);
                }
            } else {
                i += 1;
            }
        }
    }
}

fn emit(mut t: Txn, cx: &mut Ctx<'_>) {
    cx.stats.transactions += 1;
    if t.tx.request.is_some() && t.tx.response.is_none() {
        cx.stats.requests_without_response += 1;
        // The gate read the request as it completed: its verdict is the reading detection
        // takes. No TCP anomaly reaches a complete request without a response (one goes to
        // the message in progress on its side, or waits for the next), and one marked after
        // this (a flow evicted at the memory bound) leaves the bytes the gate read as they
        // were.
        if let Some(v) = t.early_verdict.take() {
            t.tx.gate = v;
        }
    }
    // The one place `body_truncated` is set: whether the stored body is shorter than the
    // counted one, however the message ended (finished, or cut short by a protocol switch or
    // a close).
    if let Some(r) = t.tx.request.as_mut() {
        r.body_truncated = (r.body.len() as u64) < r.body_bytes;
    }
    if let Some(r) = t.tx.response.as_mut() {
        r.body_truncated = (r.body.len() as u64) < r.body_bytes;
    }
    cx.out.push(t.tx);
}

/// The start of every HTTP/1.x status line (RFC 9112 section 4).
const STATUS_LINE_START: &[u8] = b"HTTP/1.";

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Adds an anomaly to a transaction and counts it.
fn note(t: &mut Txn, a: HttpAnomaly, stats: &mut HttpStats) {
    stats.count_anomaly(a);
    push_unique(&mut t.tx.anomalies, a);
}

/// Moves the anomalies waiting on a direction onto the transaction that now uses it.
fn attach_pending(t: &mut Txn, half: &mut Half) {
    for a in half.pending.drain(..) {
        push_unique(&mut t.tx.anomalies, a);
    }
    for a in half.pending_tcp.drain(..) {
        push_unique(&mut t.tx.tcp_anomalies, a);
    }
}

fn body_of(t: &mut Txn, side: Side) -> Option<(&mut Vec<u8>, &mut u64)> {
    match side {
        Side::Client => {
            t.tx.request
                .as_mut()
                .map(|r| (&mut r.body, &mut r.body_bytes))
        }
        Side::Server => {
            t.tx.response
                .as_mut()
                .map(|r| (&mut r.body, &mut r.body_bytes))
        }
    }
}

/// Appends `data` to a head buffer, which holds at most `max` bytes between events: grown by
/// doubling as `Vec` grows, but never past `max` (or what `data` needs), so a parked head
/// holds about its own size, not up to twice the bound.
fn append_bounded(buf: &mut Vec<u8>, data: &[u8], max: usize) {
    let need = buf.len() + data.len();
    if need > buf.capacity() {
        let target = buf.capacity().saturating_mul(2).min(max).max(need);
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(data);
}

/// The response gate reads a request as it completes, when its bytes were just parsed: its
/// response may begin many packets (of other connections) later, and the gate then read
/// the request's header fields and values from memory they had left. The verdict waits on
/// the transaction for its response ([`gated_capture`]); a request that completes with an
/// anomaly, or raises one before its response, keeps the body without asking, as before. A
/// request whose response never comes (lost to the capture) carries the verdict out on its
/// transaction ([`emit`]), so that detection takes the gate's reading instead of reading it
/// again.
fn ask_gate_early(t: &mut Txn, cx: &mut Ctx<'_>) {
    // A response that began first (the server answered early) was kept without asking.
    if !cx.cfg.selected.gated_responses || !t.awaiting() {
        return;
    }
    if let Some(gate) = cx.gate.as_deref_mut() {
        t.early_verdict = Some(gate::verdict(gate, &t.tx, true));
    }
}

/// The bytes of `t`'s response body to store: `capture`, raised to the selected bound when
/// responses are gated ([`super::capture::SelectedCapture::gated_responses`]) and the gate
/// keeps this one (or there is no gate to ask); the gate's verdict is noted on the response.
fn gated_capture(t: &mut Txn, capture: usize, cx: &mut Ctx<'_>) -> usize {
    let sel = &cx.cfg.selected;
    if !sel.gated_responses {
        return capture;
    }
    let Some(gate) = cx.gate.as_deref_mut() else {
        // No gate to ask: stored, as if it had asked.
        return capture.max(sel.max_bytes);
    };
    let whole = t.tx.request.is_some() && !t.req_open;
    let v = match t.early_verdict.take() {
        // Asked when the request completed, and no anomaly since (one would keep the body).
        Some(early) if !gate::anomalous(&t.tx) => early,
        _ => gate::verdict(gate, &t.tx, whole),
    };
    let capture = match v {
        GateVerdict::Kept(_) => capture.max(sel.max_bytes),
        GateVerdict::Declined | GateVerdict::NotAsked => capture,
    };
    t.tx.gate = v;
    capture
}

/// Before a body's first stored byte, room for all of it that will be stored: its declared
/// length (`Content-Length`) up to the capture bound `cap`. A long body is then copied once,
/// not again at every doubling of its buffer.
fn reserve_declared(body: &mut Vec<u8>, remaining: u64, cap: usize) {
    if body.capacity() == 0 {
        body.reserve_exact(usize::try_from(remaining).unwrap_or(usize::MAX).min(cap));
    }
}

/// Counts `data` into the body and stores it up to `cap` bytes in all.
fn append_body(body: &mut Vec<u8>, body_bytes: &mut u64, data: &[u8], cap: usize) {
    *body_bytes += data.len() as u64;
    let room = cap.saturating_sub(body.len()).min(data.len());
    if room > 0 {
        body.extend_from_slice(data.get(..room).unwrap_or(&[]));
    }
}

fn method_of(m: &str) -> Method {
    match m {
        "HEAD" => Method::Head,
        "CONNECT" => Method::Connect,
        _ => Method::Other,
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A parsed head of either side, handed to its connection's handler.
trait Head {
    /// Record the head on `conn` (a request opens a transaction, a response completes one).
    fn handle(&self, conn: &mut HttpConnection, ts_us: u64, cx: &mut Ctx<'_>);
}

impl Head for RequestHead<'_, '_> {
    fn handle(&self, conn: &mut HttpConnection, ts_us: u64, cx: &mut Ctx<'_>) {
        conn.on_request_head(self, ts_us, cx);
    }
}

impl Head for ResponseHead<'_, '_> {
    fn handle(&self, conn: &mut HttpConnection, ts_us: u64, cx: &mut Ctx<'_>) {
        conn.on_response_head(self, ts_us, cx);
    }
}

/// Owned fields; obs-fold in a value (tolerated in responses, and in requests by the lenient
/// parser) becomes SP, so a value never holds a line ending.
fn own_headers(h: &[Header<'_>]) -> Headers {
    let bytes = h.iter().map(|h| h.name.len() + h.value.len()).sum();
    let raw = Headers::from_byte_fields(h.iter().map(|f| (f.name, f.value)), h.len(), bytes);
    // Names never hold a line feed and values only when folded (obs-fold). Plain fields hold
    // none (checked while copying them); otherwise one search over the message's text, and
    // folded values (rare) are unfolded then.
    if !raw.has_line_feed() {
        return raw;
    }
    let fields = h.iter().map(|f| (f.name, parser::unfold(f.value)));
    Headers::from_byte_fields(fields, h.len(), bytes)
}

/// Parses a chunked trailer section into owned fields (rare: allocates freely).
fn own_trailers(raw: &[u8], max_headers: usize) -> Headers {
    if raw.is_empty() {
        return Headers::new();
    }
    let mut buf = Vec::with_capacity(raw.len() + 2);
    buf.extend_from_slice(raw);
    buf.extend_from_slice(b"\r\n");
    let mut storage = vec![httparse::EMPTY_HEADER; max_headers.max(1)];
    parser::parse_trailer_fields(&buf, &mut storage)
        .map(own_headers)
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
