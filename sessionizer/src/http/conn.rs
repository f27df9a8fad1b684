//! One TCP connection in the HTTP tracker: which protocol it speaks, and the hand-offs from one
//! to the next. One state at a time (`Proto`):
//!
//! - **Sniffing** its first bytes ([`super::sniff`]). Seen from its handshake, the client's
//!   first bytes decide: TLS, HTTP/2 with prior knowledge, HTTP/1, or `not_http` (counted,
//!   nothing parsed, no record). Server bytes that come first are held (at most
//!   `http.max_header_bytes`) until then. Joined mid-stream, the first bytes of either side
//!   decide at once: HTTP/2 frames or TLS records when the probes confirm them, else HTTP/1,
//!   which resynchronises on the next start line as before.
//! - **HTTP/1** ([`HttpConnection`]) until a switch: a 101 with `Upgrade: h2c` hands on to
//!   HTTP/2 with the upgrade request as stream 1's; a 101 with `Upgrade: websocket` to
//!   WebSocket; a 2xx to CONNECT opens a tunnel whose first client bytes are sniffed again
//!   (transactions inside carry the tunnel's authority). The bytes after the switching head in
//!   the same segment, and the client bytes held while the switch was pending, go to the new
//!   state exactly as they came.
//! - **HTTP/2** ([`H2State`]): each stream becomes a transaction, numbered after the
//!   connection's earlier ones.
//! - **WebSocket** and **TLS**: one [`ConnRecord`] when the connection ends. With a key log
//!   (replay), a TLS connection's application data is decrypted and read by a state of its own,
//!   sniffed like a new connection; its transactions are marked `decrypted`.
//! - **Opaque**: bytes are counted.
//!
//! Stream event sides are oriented once: HTTP/1 may swap the endpoints after the first bytes
//! of a weakly oriented connection; every later state gets the sides as HTTP/1 saw them.

use std::mem;
use std::net::SocketAddr;
use std::sync::Arc;

use apitap_reassembly::{ConnId, OrientationBasis, Side, TcpAnomaly};

use super::capture::ObjectNouns;
use super::connection::{Ctx, HttpConnection};
use super::finished::{ConnKind, ConnRecord, Decryption, TlsConn, WebSocketConn};
use super::gate::ResponseGate;
use super::h2::{self, H2State};
use super::held::{Event, Held};
use super::sniff::{self, Joined, Start};
use super::switch::{Switch, SwitchTo};
use super::{HttpConfig, HttpStats, Transaction};
use crate::http2::{H2Connection, H2Request, Http2Config, Http2Stats};
use crate::tls::decrypt::{KeyLog, TlsDecryptor};
use crate::tls::{TlsConnection, TlsSummary};
use crate::websocket::{WebSocketConfig, WebSocketConnection};

/// The settings of the protocols after HTTP/1.
#[derive(Clone, Debug, Default)]
pub struct Protocols {
    /// HTTP/2 limits.
    pub http2: Http2Config,
    /// WebSocket limits and text sampling.
    pub websocket: WebSocketConfig,
    /// Replay only: decrypt TLS with these secrets.
    pub keylog: Option<Arc<KeyLog>>,
}

/// Where connections' output goes: settings, counters, finished transactions and records.
pub struct Cx<'a> {
    /// HTTP/1 limits (also the sniffing bound).
    pub http: &'a HttpConfig,
    /// The other protocols' settings.
    pub protocols: &'a Protocols,
    /// HTTP counters (connection classes included).
    pub stats: &'a mut HttpStats,
    /// HTTP/2 counters.
    pub h2_stats: &'a mut Http2Stats,
    /// Finished transactions, in completion order.
    pub out: &'a mut Vec<Transaction>,
    /// Connection records, each with the number of transactions finished before it.
    pub records: &'a mut Vec<(usize, ConnRecord)>,
    /// Collections read by id, for body capture.
    pub nouns: &'a mut ObjectNouns,
    /// The response gate, for body capture.
    pub gate: Option<&'a mut (dyn ResponseGate + 'static)>,
}

impl Cx<'_> {
    fn http1(&mut self) -> Ctx<'_> {
        Ctx {
            cfg: self.http,
            stats: &mut *self.stats,
            out: &mut *self.out,
            nouns: &mut *self.nouns,
            gate: self.gate.as_deref_mut(),
        }
    }

    fn record(&mut self, r: ConnRecord) {
        self.records.push((self.out.len(), r));
    }
}

/// Where a connection is and who its ends are.
#[derive(Clone, Copy, Debug)]
struct Ends {
    conn: ConnId,
    zone: u64,
    client: SocketAddr,
    server: SocketAddr,
}

impl Ends {
    fn swapped(self) -> Self {
        Ends {
            client: self.server,
            server: self.client,
            ..self
        }
    }
}

/// The first bytes, held until they say what the connection is.
#[derive(Debug)]
struct Sniffing {
    /// No handshake was seen: the first bytes of either side decide at once.
    mid_stream: bool,
    /// What came meanwhile, both sides, in arrival order.
    held: Held,
    /// TCP anomalies seen meanwhile, for the state that follows.
    tcp: Vec<(Side, TcpAnomaly)>,
}

impl Sniffing {
    fn new(mid_stream: bool) -> Self {
        Sniffing {
            mid_stream,
            held: Held::new(),
            tcp: Vec::new(),
        }
    }
}

/// A WebSocket connection and its upgrade.
#[derive(Debug)]
struct WsState {
    ws: WebSocketConnection,
    upgrade_depth: u32,
    ts_us: u64,
}

/// A TLS connection: its handshake, and with a key log its plaintext.
#[derive(Debug)]
struct TlsState {
    tls: TlsConnection,
    /// Picked up after the handshake: only bytes are counted.
    joined_late: bool,
    /// Bytes per side when joined late (the handshake reader counts them otherwise).
    late_bytes: [u64; 2],
    ts_us: u64,
    /// The inner state's ends follow the handshake's orientation once it is known.
    oriented: bool,
    decrypt: Option<Box<Decrypting>>,
}

/// Decryption of one TLS connection, and the state reading its plaintext.
#[derive(Debug)]
struct Decrypting {
    dec: TlsDecryptor,
    inner: Conn,
    /// Reused: the plaintext of one segment.
    plain: Vec<u8>,
}

/// The protocol state of a connection. HTTP/1, nearly every connection's, stays inline (no
/// allocation per connection); the others are boxed.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Proto {
    Sniff(Sniffing),
    Http1(HttpConnection),
    Http2(Box<H2State>),
    WebSocket(Box<WsState>),
    Tls(Box<TlsState>),
    /// Bytes are counted: `not_http` (a connection or tunnel that is not HTTP or TLS), or
    /// what follows an unknown upgrade or an HTTP/0.9 request.
    Opaque {
        not_http: bool,
    },
}

/// What sniffing decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Http1,
    Http2,
    Http2MidStream,
    Tls,
    TlsJoinedLate,
    NotHttp,
}

/// One connection (or the plaintext inside a decrypted TLS connection).
///
/// Invariant: `flip` is set only once an HTTP/1 state swapped the ends, and then `ends` are
/// the swapped ones; `pending_tcp` and `seen_tcp` hold each kind once.
#[derive(Debug)]
pub struct Conn {
    ends: Ends,
    basis: OrientationBasis,
    /// Stream event sides are swapped before reaching the state.
    flip: bool,
    proto: Proto,
    /// Depth of the next transaction of a state that does not number its own (HTTP/2).
    next_depth: u32,
    /// The CONNECT tunnel the bytes are in.
    tunnel: Option<Arc<str>>,
    /// The bytes are decrypted TLS application data.
    decrypted: bool,
    /// TCP anomalies for the next HTTP/2 transaction.
    pending_tcp: Vec<TcpAnomaly>,
    /// TCP anomalies of the connection, for its record.
    seen_tcp: Vec<TcpAnomaly>,
}

impl Conn {
    /// A connection announced by `StreamEvent::Open`.
    pub fn new(
        conn: ConnId,
        zone: u64,
        client: SocketAddr,
        server: SocketAddr,
        basis: OrientationBasis,
    ) -> Self {
        Conn {
            ends: Ends {
                conn,
                zone,
                client,
                server,
            },
            basis,
            flip: false,
            proto: Proto::Sniff(Sniffing::new(basis == OrientationBasis::Ports)),
            next_depth: 1,
            tunnel: None,
            decrypted: false,
            pending_tcp: Vec::new(),
            seen_tcp: Vec::new(),
        }
    }

    /// The plaintext of a decrypted TLS connection of `outer`: sniffed like a new connection,
    /// numbered after `outer`'s transactions.
    fn decrypted_inside(outer: &Conn) -> Self {
        let mut c = Conn::new(
            outer.ends.conn,
            outer.ends.zone,
            outer.ends.client,
            outer.ends.server,
            OrientationBasis::Syn,
        );
        c.next_depth = outer.next_depth;
        c.tunnel = outer.tunnel.clone();
        c.decrypted = true;
        c
    }

    /// Heap bytes the connection holds, what the tracker's global account adds up: bytes
    /// held while sniffing, HTTP/1's partial heads and waiting transactions, HTTP/2's
    /// buffers, HPACK tables and open streams, WebSocket's frame and sample buffers, and the
    /// same inside a decrypted TLS connection.
    pub fn held_bytes(&self) -> usize {
        match &self.proto {
            Proto::Sniff(s) => s.held.heap_bytes(),
            Proto::Http1(h) => h.held_bytes(),
            Proto::Http2(h) => h.heap_bytes(),
            Proto::WebSocket(w) => w.ws.heap_bytes(),
            Proto::Tls(t) => t
                .decrypt
                .as_ref()
                .map_or(0, |d| d.inner.held_bytes() + d.plain.capacity()),
            Proto::Opaque { .. } => 0,
        }
    }

    /// A fresh state for this connection after what it held was given up
    /// ([`super::HttpTracker`] at `max_held_bytes_total`): its next bytes may fall inside a
    /// message, so they are sniffed as if joined mid-stream (HTTP/1 then looks for the next
    /// start line); the ends stay as oriented, and transactions are numbered after the
    /// earlier ones.
    pub fn restarted(&self) -> Conn {
        let (next_depth, basis) = match &self.proto {
            // The ends are oriented already: nothing may swap them again.
            Proto::Http1(h) => (h.next_depth(), OrientationBasis::Syn),
            Proto::Sniff(_) => (self.next_depth, self.basis),
            _ => (self.next_depth, OrientationBasis::Syn),
        };
        Conn {
            ends: self.ends,
            basis,
            flip: self.flip,
            proto: Proto::Sniff(Sniffing::new(true)),
            next_depth,
            tunnel: self.tunnel.clone(),
            decrypted: self.decrypted,
            pending_tcp: Vec::new(),
            seen_tcp: Vec::new(),
        }
    }

    /// Numbers the next transactions after `depth` (one the connection already emitted): a
    /// [`Self::restarted`] state continues after what its predecessor's close emitted.
    pub fn number_after(&mut self, depth: u32) {
        self.next_depth = self.next_depth.max(depth.saturating_add(1));
    }

    /// In-order bytes of one direction (`from` as the reassembler oriented it).
    pub fn on_data(&mut self, ts_us: u64, from: Side, data: &[u8], cx: &mut Cx<'_>) {
        if !data.is_empty() {
            let side = self.side(from);
            self.data(ts_us, side, data, cx);
        }
    }

    /// `len` bytes of one direction were lost.
    pub fn on_gap(&mut self, ts_us: u64, from: Side, len: u64, cx: &mut Cx<'_>) {
        let side = self.side(from);
        self.gap(ts_us, side, len, cx);
    }

    /// A TCP anomaly on one direction.
    pub fn on_tcp_anomaly(&mut self, from: Side, kind: TcpAnomaly) {
        push_unique(&mut self.seen_tcp, kind);
        let side = self.side(from);
        match &mut self.proto {
            Proto::Sniff(s) => push_unique(&mut s.tcp, (side, kind)),
            Proto::Http1(h) => h.on_tcp_anomaly(side, kind),
            Proto::Http2(_) => push_unique(&mut self.pending_tcp, kind),
            Proto::Tls(t) => {
                if let Some(d) = t.decrypt.as_mut() {
                    d.inner.on_tcp_anomaly(side, kind);
                }
            }
            Proto::WebSocket(_) | Proto::Opaque { .. } => {}
        }
    }

    /// The connection ended: what is in progress is finished and emitted.
    pub fn close(mut self, ts_us: u64, cx: &mut Cx<'_>) {
        if let Proto::Sniff(s) = &self.proto {
            let next = if s.held.kept(Side::Client) > 0 {
                Some(final_guess(&s.held))
            } else if !s.held.is_empty() {
                Some(Next::Http1)
            } else {
                None
            };
            match next {
                Some(next) => self.decide(next, ts_us, cx, None),
                None => return,
            }
        }
        let proto = mem::replace(&mut self.proto, Proto::Opaque { not_http: false });
        match proto {
            Proto::Sniff(_) | Proto::Opaque { .. } => {}
            Proto::Http1(h) => {
                let before = cx.out.len();
                h.close(ts_us, &mut cx.http1());
                self.stamp(before, cx);
            }
            Proto::Http2(h) => {
                let done = h.close(ts_us, &cx.protocols.http2, cx.h2_stats);
                self.push_h2(done, cx);
            }
            Proto::WebSocket(w) => {
                let summary = w.ws.close(ts_us);
                cx.stats.websocket_messages += summary.client.messages + summary.server.messages;
                let kind = ConnKind::WebSocket(Box::new(WebSocketConn {
                    upgrade_depth: w.upgrade_depth,
                    summary,
                }));
                let rec = self.record(w.ts_us, ts_us, self.ends, kind);
                cx.record(rec);
            }
            Proto::Tls(t) => self.close_tls(*t, ts_us, cx),
        }
    }

    fn side(&self, from: Side) -> Side {
        if self.flip {
            from.flip()
        } else {
            from
        }
    }

    /// In-order bytes, `side` oriented.
    fn data(&mut self, ts_us: u64, side: Side, data: &[u8], cx: &mut Cx<'_>) {
        match &mut self.proto {
            Proto::Sniff(_) => self.sniff(ts_us, side, data, cx),
            Proto::Http1(h) => {
                let before = cx.out.len();
                let read = h.on_data(ts_us, side, data, &mut cx.http1());
                let switch = h.take_switch();
                self.stamp(before, cx);
                if let Some(sw) = switch {
                    let rest = data.get(read..).unwrap_or_default();
                    self.switched(*sw, ts_us, side, rest, cx);
                }
            }
            Proto::Http2(h) => {
                h.on_data(ts_us, side, data, &cx.protocols.http2, cx.h2_stats);
                let done: Vec<_> = h.drain().collect();
                self.push_h2(done, cx);
            }
            Proto::WebSocket(w) => w.ws.on_data(ts_us, side, data),
            Proto::Tls(t) => {
                let ends = self.ends;
                tls_data(t, ends, ts_us, side, data, cx);
            }
            Proto::Opaque { not_http } => {
                let n = data.len() as u64;
                if *not_http {
                    cx.stats.not_http_bytes += n;
                } else {
                    cx.stats.opaque_bytes += n;
                }
            }
        }
    }

    /// `len` bytes lost, `side` oriented.
    fn gap(&mut self, ts_us: u64, side: Side, len: u64, cx: &mut Cx<'_>) {
        match &mut self.proto {
            Proto::Sniff(s) => {
                if !s.mid_stream && side == Side::Server {
                    s.held.lose(side, ts_us, len);
                    return;
                }
                // The first client bytes (or, joined mid-stream, any first bytes) are lost:
                // what they were can no longer be told.
                let next = if s.held.kept(Side::Client) == 0 {
                    if !s.mid_stream {
                        cx.stats.sniff_fallbacks += 1;
                    }
                    Next::Http1
                } else {
                    final_guess(&s.held)
                };
                self.decide(next, ts_us, cx, None);
                self.gap(ts_us, side, len, cx);
            }
            Proto::Http1(h) => {
                let before = cx.out.len();
                h.on_gap(ts_us, side, len, &mut cx.http1());
                self.stamp(before, cx);
            }
            Proto::Http2(h) => {
                h.on_gap(ts_us, side, len, &cx.protocols.http2, cx.h2_stats);
                let done: Vec<_> = h.drain().collect();
                self.push_h2(done, cx);
            }
            Proto::WebSocket(w) => w.ws.on_gap(ts_us, side, len),
            Proto::Tls(t) => {
                let side = if t.tls.swapped() { side.flip() } else { side };
                t.tls.on_gap(ts_us, side, len);
                if let Some(d) = t.decrypt.as_mut() {
                    d.dec.on_gap(side, len);
                }
            }
            Proto::Opaque { .. } => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // Sniffing.

    fn sniff(&mut self, ts_us: u64, side: Side, data: &[u8], cx: &mut Cx<'_>) {
        let max = cx.http.max_header_bytes;
        let Proto::Sniff(s) = &mut self.proto else {
            return;
        };
        if s.mid_stream {
            let next = match sniff::mid_stream(data) {
                Joined::Http2 => Next::Http2MidStream,
                Joined::TlsHello => Next::Tls,
                Joined::TlsRecords => Next::TlsJoinedLate,
                Joined::Other => Next::Http1,
            };
            return self.decide(next, ts_us, cx, Some((side, data)));
        }
        if s.held.kept(Side::Client) == 0 && side == Side::Client {
            // Nearly always the first client segment holds the whole first line: decide from
            // it without copying.
            match decided(sniff::client_start(data)) {
                Some(Next::NotHttp) => {}
                Some(next) => return self.decide(next, ts_us, cx, Some((side, data))),
                None => {}
            }
        }
        let over = s.held.push(side, ts_us, data, max);
        let next = match decided(sniff::client_start(&s.held.side_bytes(Side::Client))) {
            // The client is not HTTP; the server's first bytes may still say otherwise (a
            // status line answering a bad request: the exchange is HTTP's after all).
            Some(Next::NotHttp) => match sniff::server_start(&s.held.side_bytes(Side::Server)) {
                Some(true) => Next::Http1,
                Some(false) => Next::NotHttp,
                None if over > 0 => Next::NotHttp,
                None => return,
            },
            Some(next) => next,
            // Nothing from the client yet, and the server said a lot: read it as HTTP/1
            // picks up (its first bytes may have been lost).
            None if side == Side::Server && over > 0 => {
                cx.stats.sniff_fallbacks += 1;
                Next::Http1
            }
            // A first line longer than a head may be: only a long request line gets this far.
            None if over > 0 || s.held.kept(Side::Client) >= max => Next::Http1,
            None => return,
        };
        self.decide(next, ts_us, cx, None);
    }

    /// The protocol is known: the state that reads it takes over, and gets what was held, in
    /// the order it came, then `now` (the bytes that decided, not held).
    fn decide(&mut self, next: Next, ts_us: u64, cx: &mut Cx<'_>, now: Option<(Side, &[u8])>) {
        let proto = match next {
            Next::Http1 => Proto::Http1(
                HttpConnection::new(
                    self.ends.conn,
                    self.ends.zone,
                    self.ends.client,
                    self.ends.server,
                    self.basis,
                )
                .starting_at(self.next_depth),
            ),
            Next::Http2 | Next::Http2MidStream => {
                cx.stats.http2_connections += 1;
                let c = match next {
                    Next::Http2 => H2Connection::prior_knowledge(&cx.protocols.http2),
                    _ => H2Connection::mid_stream(&cx.protocols.http2),
                };
                Proto::Http2(Box::new(H2State::new(c)))
            }
            Next::Tls | Next::TlsJoinedLate => self.tls_state(next, ts_us, cx),
            Next::NotHttp => {
                if self.tunnel.is_some() {
                    cx.stats.opaque_tunnels += 1;
                } else {
                    cx.stats.not_http_connections += 1;
                }
                Proto::Opaque { not_http: true }
            }
        };
        let Proto::Sniff(s) = mem::replace(&mut self.proto, proto) else {
            return;
        };
        for (side, kind) in s.tcp {
            self.on_tcp_anomaly(side, kind);
        }
        self.replay(&s.held, cx);
        if let Some((side, data)) = now {
            self.data(ts_us, side, data, cx);
        }
    }

    fn replay(&mut self, held: &Held, cx: &mut Cx<'_>) {
        for e in held.events() {
            match e {
                Event::Data(side, ts, piece) => self.data(ts, side, piece, cx),
                Event::Gap(side, ts, len) => self.gap(ts, side, len, cx),
            }
        }
    }

    fn tls_state(&mut self, next: Next, ts_us: u64, cx: &mut Cx<'_>) -> Proto {
        cx.stats.tls_connections += 1;
        let joined_late = next == Next::TlsJoinedLate;
        cx.stats.tls_joined_late += u64::from(joined_late);
        let decrypt = match &cx.protocols.keylog {
            Some(keys) if !joined_late => {
                cx.stats.tls_decrypted_connections += 1;
                Some(Box::new(Decrypting {
                    dec: TlsDecryptor::new(Arc::clone(keys)),
                    inner: Conn::decrypted_inside(self),
                    plain: Vec::new(),
                }))
            }
            _ => None,
        };
        Proto::Tls(Box::new(TlsState {
            tls: TlsConnection::new(),
            joined_late,
            late_bytes: [0; 2],
            ts_us,
            oriented: false,
            decrypt,
        }))
    }

    // -----------------------------------------------------------------------------------------
    // Hand-offs from HTTP/1.

    /// HTTP/1 ended on the connection: `rest` (bytes of `side` after the switching head) and
    /// the client bytes held go to what follows.
    fn switched(&mut self, sw: Switch, ts_us: u64, side: Side, rest: &[u8], cx: &mut Cx<'_>) {
        let Proto::Http1(h) = mem::replace(&mut self.proto, Proto::Opaque { not_http: false })
        else {
            return;
        };
        let swapped = h.swapped();
        if swapped {
            self.ends = self.ends.swapped();
            self.flip = !self.flip;
        }
        self.next_depth = h.next_depth();
        // Requests still waiting (pipelined before the switch) end without response.
        let before = cx.out.len();
        h.close(ts_us, &mut cx.http1());
        self.stamp(before, cx);
        let Switch {
            to,
            depth,
            early_client,
        } = sw;
        self.proto = match to {
            SwitchTo::H2c(request) => {
                cx.stats.http2_connections += 1;
                let c = H2Connection::after_upgrade(
                    &cx.protocols.http2,
                    H2Request::from_http1(&request),
                );
                Proto::Http2(Box::new(H2State::new(c)))
            }
            SwitchTo::WebSocket { permessage_deflate } => {
                cx.stats.websocket_connections += 1;
                Proto::WebSocket(Box::new(WsState {
                    ws: WebSocketConnection::new(&cx.protocols.websocket, permessage_deflate),
                    upgrade_depth: depth,
                    ts_us,
                }))
            }
            SwitchTo::Tunnel { authority } => {
                cx.stats.tunnels += 1;
                self.tunnel = Some(authority.into());
                Proto::Sniff(Sniffing::new(false))
            }
            SwitchTo::Other => Proto::Opaque { not_http: false },
        };
        self.replay(&early_client, cx);
        let side = if swapped { side.flip() } else { side };
        if !rest.is_empty() {
            self.data(ts_us, side, rest, cx);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Output.

    /// Marks the transactions finished since `before` with the tunnel and decryption they
    /// were read through.
    fn stamp(&self, before: usize, cx: &mut Cx<'_>) {
        if self.tunnel.is_none() && !self.decrypted {
            return;
        }
        for t in cx.out.iter_mut().skip(before) {
            t.connect_authority.clone_from(&self.tunnel);
            t.decrypted = self.decrypted;
        }
    }

    /// HTTP/2 exchanges as transactions, numbered in completion order.
    fn push_h2(&mut self, done: Vec<crate::http2::H2Exchange>, cx: &mut Cx<'_>) {
        for ex in done {
            let mut base = Transaction::new(
                self.ends.conn,
                self.next_depth,
                self.ends.zone,
                self.ends.client,
                self.ends.server,
            );
            self.next_depth = self.next_depth.saturating_add(1);
            base.tcp_anomalies = mem::take(&mut self.pending_tcp);
            base.connect_authority.clone_from(&self.tunnel);
            base.decrypted = self.decrypted;
            cx.stats.transactions += 1;
            cx.out.push(h2::transaction(ex, base));
        }
    }

    fn record(&self, ts_us: u64, end_ts_us: u64, ends: Ends, kind: ConnKind) -> ConnRecord {
        ConnRecord {
            conn: ends.conn,
            zone: ends.zone,
            client: ends.client,
            server: ends.server,
            ts_us,
            end_ts_us,
            connect_authority: self.tunnel.clone(),
            tcp_anomalies: self.seen_tcp.clone(),
            kind,
        }
    }

    fn close_tls(&self, t: TlsState, ts_us: u64, cx: &mut Cx<'_>) {
        let swapped = t.tls.swapped();
        let summary = if t.joined_late {
            TlsSummary {
                client_bytes: t.late_bytes[0],
                server_bytes: t.late_bytes[1],
                ..TlsSummary::default()
            }
        } else {
            t.tls.close(ts_us)
        };
        let decryption = t.decrypt.map(|d| {
            let counts = Decryption {
                client: d.dec.counts(Side::Client),
                server: d.dec.counts(Side::Server),
            };
            d.inner.close(ts_us, cx);
            counts
        });
        let ends = if swapped {
            self.ends.swapped()
        } else {
            self.ends
        };
        let kind = ConnKind::Tls(Box::new(TlsConn {
            summary,
            joined_late: t.joined_late,
            decryption,
        }));
        let rec = self.record(t.ts_us, ts_us, ends, kind);
        cx.record(rec);
    }
}

/// TLS bytes of `side` (oriented by the connection): the handshake reader and, with a key
/// log, the decryptor and the plaintext's own state.
fn tls_data(t: &mut TlsState, ends: Ends, ts_us: u64, side: Side, data: &[u8], cx: &mut Cx<'_>) {
    if t.joined_late {
        let i = usize::from(side == Side::Server);
        if let Some(n) = t.late_bytes.get_mut(i) {
            *n += data.len() as u64;
        }
        return;
    }
    t.tls.on_data(ts_us, side, data);
    let Some(d) = t.decrypt.as_mut() else {
        return;
    };
    let swapped = t.tls.swapped();
    if !t.oriented {
        t.oriented = true;
        if swapped {
            d.inner.ends = ends.swapped();
        }
    }
    let side = if swapped { side.flip() } else { side };
    d.plain.clear();
    d.dec.on_data(side, data, &mut d.plain);
    if !d.plain.is_empty() {
        let plain = mem::take(&mut d.plain);
        d.inner.data(ts_us, side, &plain, cx);
        d.plain = plain;
    }
}

/// The state to take for a sniffing result, when it is decided.
fn decided(start: Start) -> Option<Next> {
    match start {
        Start::Http1 => Some(Next::Http1),
        Start::Http2 => Some(Next::Http2),
        Start::Tls => Some(Next::Tls),
        Start::NotHttp => Some(Next::NotHttp),
        Start::NeedMore => None,
    }
}

/// What the held first bytes are taken for when no more will come (a gap or the end): HTTP/1
/// while the client's may still be a request line (it reports what it can); not HTTP when
/// they are not one and the server did not answer with a status line.
fn final_guess(held: &Held) -> Next {
    match decided(sniff::client_start(&held.side_bytes(Side::Client))) {
        Some(Next::NotHttp) => match sniff::server_start(&held.side_bytes(Side::Server)) {
            Some(true) => Next::Http1,
            _ => Next::NotHttp,
        },
        Some(next) => next,
        None => Next::Http1,
    }
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

#[cfg(test)]
#[path = "conn_tests.rs"]
pub(crate) mod tests;
