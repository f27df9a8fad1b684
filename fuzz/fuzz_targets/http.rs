//! The HTTP stage: stream events (Open, Data, Gap, TCP anomalies, Close) for a few connections
//! fed to an `HttpTracker` with small limits, transactions drained as they complete.
//!
//! The harness keeps the reassembler's contract (events only between Open and Close, ids never
//! reused) unless the input asks to break it: the tracker must then count, not panic.
//!
//! Checks on every drained transaction: stored body within `body_bytes` and within
//! `max_body_capture_bytes`, `body_truncated` exactly when bytes are missing from the stored
//! body, no duplicate anomalies, header and interim counts within their limits (HTTP/1's, or
//! for an HTTP/2 stream HTTP/2's), depth >= 1 and unique per connection; connection records
//! (WebSocket, TLS) only for connections that were open; after every connection closed,
//! nothing is left open.
#![no_main]

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use apitap_fuzz::Payload;
use apitap_reassembly::{ConnId, OrientationBasis, Side, StreamEvent, StreamSink, TcpAnomaly};
use apitap_sessionizer::http::{Finished, HttpConfig, HttpTracker, Transaction};
use apitap_sessionizer::http2::exchange::MAX_INTERIM_RESPONSES;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

/// Connections in play at once.
const CONNS: u8 = 3;

#[derive(Arbitrary, Debug)]
enum Basis {
    Syn,
    SynAck,
    Ports,
}

#[derive(Arbitrary, Debug)]
enum Anomaly {
    RetransmissionMismatch,
    StreamBufferLimit,
    GlobalBufferLimit,
    MidStreamPickup,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Bytes from the client (`from_server` false) or the server.
    Data {
        conn: u8,
        from_server: bool,
        dt_us: u16,
        data: Payload,
    },
    /// Lost bytes; `big` makes the length huge (beyond any Content-Length).
    Gap {
        conn: u8,
        from_server: bool,
        len: u16,
        big: bool,
    },
    Anomaly {
        conn: u8,
        from_server: bool,
        kind: Anomaly,
    },
    /// Close the connection (and reopen it under a fresh id on its next use).
    Close { conn: u8 },
    /// Take the finished transactions out now.
    Drain,
    /// Send an event for a connection that is not open (contract breach, must be counted).
    Stray { conn: u8 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    max_header_bytes: u8,
    max_headers: u8,
    max_body_capture_bytes: u8,
    max_pending_requests: u8,
    max_interim_responses: u8,
    bases: [Basis; CONNS as usize],
    ops: Vec<Op>,
}

struct Harness {
    tracker: HttpTracker,
    cfg: HttpConfig,
    /// Open id of each connection slot.
    open: [Option<ConnId>; CONNS as usize],
    next_id: u64,
    /// Depths emitted per connection.
    depths: HashSet<(ConnId, u32)>,
    now: u64,
}

fn basis(b: &Basis) -> OrientationBasis {
    match b {
        Basis::Syn => OrientationBasis::Syn,
        Basis::SynAck => OrientationBasis::SynAck,
        Basis::Ports => OrientationBasis::Ports,
    }
}

fn side(from_server: bool) -> Side {
    if from_server {
        Side::Server
    } else {
        Side::Client
    }
}

impl Harness {
    fn conn(&mut self, slot: u8, bases: &[Basis; CONNS as usize]) -> ConnId {
        let slot = usize::from(slot % CONNS);
        if let Some(id) = self.open[slot] {
            return id;
        }
        self.next_id += 1;
        let id = ConnId(self.next_id);
        self.open[slot] = Some(id);
        let port = 40000 + slot as u16;
        self.tracker.on_event(StreamEvent::Open {
            conn: id,
            ts_us: self.now,
            zone: 0,
            client: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), port),
            server: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 8080),
            basis: basis(&bases[slot]),
        });
        id
    }

    fn drain(&mut self) {
        let mut txs: Vec<Transaction> = Vec::new();
        let mut conns = Vec::new();
        self.tracker.drain_finished(|f| match f {
            Finished::Transaction(tx) => txs.push(tx),
            Finished::Connection(r) => conns.push(r.conn),
        });
        for tx in &txs {
            check(tx, &self.cfg);
            assert!(
                self.depths.insert((tx.conn, tx.depth)),
                "depth {} emitted twice on {:?}",
                tx.depth,
                tx.conn
            );
        }
        for c in conns {
            assert!((1..=self.next_id).contains(&c.0), "a record for a connection never opened: {c:?}");
        }
    }
}

fn check(tx: &Transaction, cfg: &HttpConfig) {
    assert!(tx.depth >= 1);
    let mut seen = HashSet::new();
    assert!(
        tx.anomalies.iter().all(|a| seen.insert(*a)),
        "duplicate anomaly: {:?}",
        tx.anomalies
    );
    let mut seen = HashSet::new();
    assert!(
        tx.tcp_anomalies.iter().all(|a| seen.insert(*a)),
        "duplicate TCP anomaly"
    );
    let bodies = [
        tx.request
            .as_ref()
            .map(|r| (&r.body, r.body_bytes, r.body_truncated, r.headers.len())),
        tx.response
            .as_ref()
            .map(|r| (&r.body, r.body_bytes, r.body_truncated, r.headers.len())),
    ];
    for (body, body_bytes, truncated, headers) in bodies.into_iter().flatten() {
        assert!(
            body.len() as u64 <= body_bytes,
            "stored {} > body_bytes {body_bytes}",
            body.len()
        );
        assert!(
            body.len() <= cfg.max_body_capture_bytes,
            "stored {} > capture limit",
            body.len()
        );
        assert_eq!(
            truncated,
            (body.len() as u64) < body_bytes,
            "body_truncated with {} of {body_bytes} bytes stored: {tx:?}",
            body.len()
        );
        // HTTP/2 lists are bounded in bytes (`http2.max_header_list_bytes`), not in fields.
        assert!(
            tx.http2.is_some() || headers <= cfg.max_headers,
            "{headers} header fields kept"
        );
    }
    if let Some(r) = &tx.response {
        let max = match tx.http2 {
            Some(_) => MAX_INTERIM_RESPONSES,
            None => cfg.max_interim_responses,
        };
        assert!(r.interim.len() <= max);
    }
}

fuzz_target!(|input: Input| {
    let cfg = HttpConfig {
        max_header_bytes: 64 + usize::from(input.max_header_bytes) * 4,
        max_headers: 1 + usize::from(input.max_headers % 16),
        max_body_capture_bytes: usize::from(input.max_body_capture_bytes),
        max_pending_requests: 1 + usize::from(input.max_pending_requests % 4),
        max_interim_responses: usize::from(input.max_interim_responses % 4),
        // Two or three heads over all connections: the global account evicts often.
        max_held_bytes_total: (64 + usize::from(input.max_header_bytes) * 4)
            * (2 + usize::from(input.max_headers % 2)),
        ..HttpConfig::default()
    };
    assert_eq!(cfg.validate(), Ok(()));
    let mut h = Harness {
        tracker: HttpTracker::new(cfg.clone()),
        cfg,
        open: [None; CONNS as usize],
        next_id: 0,
        depths: HashSet::new(),
        now: 1_700_000_000_000_000,
    };
    for op in input.ops {
        match op {
            Op::Data {
                conn,
                from_server,
                dt_us,
                data,
            } => {
                h.now += u64::from(dt_us);
                if data.0.is_empty() {
                    continue; // reassembly never sends empty Data
                }
                let conn = h.conn(conn, &input.bases);
                h.tracker.on_event(StreamEvent::Data {
                    conn,
                    ts_us: h.now,
                    from: side(from_server),
                    data: &data.0,
                });
            }
            Op::Gap {
                conn,
                from_server,
                len,
                big,
            } => {
                let conn = h.conn(conn, &input.bases);
                let len = if big {
                    u64::from(len) << 32
                } else {
                    u64::from(len)
                }
                .max(1);
                h.tracker.on_event(StreamEvent::Gap {
                    conn,
                    ts_us: h.now,
                    from: side(from_server),
                    len,
                });
            }
            Op::Anomaly {
                conn,
                from_server,
                kind,
            } => {
                let conn = h.conn(conn, &input.bases);
                let kind = match kind {
                    Anomaly::RetransmissionMismatch => TcpAnomaly::RetransmissionMismatch,
                    Anomaly::StreamBufferLimit => TcpAnomaly::StreamBufferLimit,
                    Anomaly::GlobalBufferLimit => TcpAnomaly::GlobalBufferLimit,
                    Anomaly::MidStreamPickup => TcpAnomaly::MidStreamPickup,
                };
                h.tracker.on_event(StreamEvent::Anomaly {
                    conn,
                    ts_us: h.now,
                    from: side(from_server),
                    kind,
                });
            }
            Op::Close { conn } => {
                if let Some(id) = h.open[usize::from(conn % CONNS)].take() {
                    h.tracker.on_event(StreamEvent::Close {
                        conn: id,
                        ts_us: h.now,
                        reason: apitap_reassembly::CloseReason::Fin,
                    });
                }
            }
            Op::Drain => h.drain(),
            Op::Stray { conn } => {
                let stray = ConnId(1_000_000 + u64::from(conn));
                h.tracker.on_event(StreamEvent::Data {
                    conn: stray,
                    ts_us: h.now,
                    from: Side::Client,
                    data: b"GET / HTTP/1.1\r\n\r\n",
                });
                h.tracker.on_event(StreamEvent::Close {
                    conn: stray,
                    ts_us: h.now,
                    reason: apitap_reassembly::CloseReason::Rst,
                });
            }
        }
    }
    for slot in 0..usize::from(CONNS) {
        if let Some(id) = h.open[slot].take() {
            h.tracker.on_event(StreamEvent::Close {
                conn: id,
                ts_us: h.now,
                reason: apitap_reassembly::CloseReason::EndOfInput,
            });
        }
    }
    h.drain();
    assert_eq!(h.tracker.active_connections(), 0);
});
