//! The tracker's global account of held bytes (`max_held_bytes_total`): what it counts, whom
//! it evicts at the bound, and what the evicted connection's transactions say.

use apitap_reassembly::{CloseReason, ConnId, OrientationBasis, Side, StreamEvent, StreamSink};
use proptest::prelude::*;

use super::HttpTracker;
use crate::http::conn::tests::{frame, DATA, END_HEADERS, HEADERS, SETTINGS};
use crate::http::{GateVerdict, HttpAnomaly, HttpConfig, Transaction};
use crate::http2::frame::CLIENT_PREFACE;
use crate::http2::Http2Config;

/// Small bounds: heads up to 2 KiB, 5 KiB held over all connections.
fn config(max_held_bytes_total: usize) -> HttpConfig {
    HttpConfig {
        max_header_bytes: 2048,
        max_held_bytes_total,
        ..HttpConfig::default()
    }
}

/// A tracker fed by hand, connections numbered from 1, one microsecond per event.
struct Wire {
    t: HttpTracker,
    ts: u64,
}

impl Wire {
    fn new(cfg: HttpConfig, conns: u64) -> Self {
        let t = HttpTracker::new(cfg).with_connection_capacity(conns as usize);
        let mut w = Wire { t, ts: 1 };
        for c in 1..=conns {
            w.open(c);
        }
        w
    }

    fn open(&mut self, c: u64) -> &mut Self {
        self.t.on_event(StreamEvent::Open {
            conn: ConnId(c),
            ts_us: self.ts,
            zone: 0,
            client: format!("10.0.0.{c}:40000").parse().unwrap(),
            server: "10.0.0.100:80".parse().unwrap(),
            basis: OrientationBasis::Syn,
        });
        self
    }

    fn send(&mut self, conn: u64, from: Side, data: &[u8]) -> &mut Self {
        self.ts += 1;
        self.t.on_event(StreamEvent::Data {
            conn: ConnId(conn),
            ts_us: self.ts,
            from,
            data,
        });
        self
    }

    fn close(&mut self, conn: u64) -> &mut Self {
        self.ts += 1;
        self.t.on_event(StreamEvent::Close {
            conn: ConnId(conn),
            ts_us: self.ts,
            reason: CloseReason::Fin,
        });
        self
    }

    fn drain(&mut self) -> Vec<Transaction> {
        self.t.drain().collect()
    }

    /// The account equals what the connections hold, and stays within its bound.
    fn check(&self) {
        let sum: usize = self.t.conns.iter().map(|(_, c)| c.conn.held_bytes()).sum();
        assert_eq!(
            self.t.held_bytes(),
            sum,
            "the total is the connections' sum"
        );
        assert!(self.t.held_bytes() <= self.t.config.max_held_bytes_total);
        for (slot, c) in self.t.conns.iter() {
            assert_eq!(c.held, c.conn.held_bytes());
            assert_eq!(self.t.conns.is_linked(super::HOLDING, slot), c.held > 0);
        }
        assert_eq!(self.t.conns.check(), Ok(()));
    }
}

/// A request head without its final empty line: `len` bytes, parked.
fn partial_head(len: usize) -> Vec<u8> {
    let mut h = b"GET /parked HTTP/1.1\r\nx-pad: ".to_vec();
    h.resize(len, b'a');
    h
}

#[test]
fn a_parked_head_is_held_about_its_size_and_given_back_when_it_ends() {
    let mut w = Wire::new(config(1 << 20), 1);
    w.send(1, Side::Client, &partial_head(1500));
    w.check();
    let held = w.t.held_bytes();
    assert!((1500..=2048).contains(&held), "held {held}");
    w.send(1, Side::Client, b"\r\n\r\n");
    w.send(1, Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(w.drain().len(), 1);
    w.check();
    w.close(1);
    assert_eq!(w.t.held_bytes(), 0);
    assert_eq!(w.t.stats().memory_evictions, 0);
}

#[test]
fn at_the_bound_the_least_recently_active_connection_gives_up_its_head() {
    let mut w = Wire::new(config(5000), 3);
    w.send(1, Side::Client, &partial_head(1500));
    w.send(2, Side::Client, &partial_head(1500));
    // Connection 1 is active again: connection 2 is now the oldest.
    w.send(1, Side::Client, b"x");
    w.check();
    assert_eq!(w.t.stats().memory_evictions, 0);
    w.send(3, Side::Client, &partial_head(1900));
    w.check();
    let stats = w.t.stats();
    assert_eq!(stats.memory_evictions, 1);
    assert_eq!(stats.memory_evicted_bytes, 1500);
    assert!(
        stats.held_bytes_peak > 5000,
        "the peak counts the overshoot"
    );
    assert_eq!(stats.heads_cut_by_close, 1, "the parked head is dropped");
    let held: Vec<(u64, bool)> =
        w.t.conns
            .iter()
            .map(|(_, c)| (c.id.0, c.held > 0))
            .collect();
    assert_eq!(held, vec![(1, true), (2, false), (3, true)]);
    assert!(w.drain().is_empty(), "a head is not a transaction");
    // Connection 2 looks for its next message.
    w.send(2, Side::Client, b"\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
    w.send(
        2,
        Side::Server,
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    );
    w.check();
    let txs = w.drain();
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].request.as_ref().unwrap().uri, "/next");
    assert!(txs[0].anomalies.is_empty(), "{:?}", txs[0].anomalies);
}

/// An HTTP/2 client (prior knowledge) that opens `streams` POST streams and sends each a
/// DATA frame of `body` bytes, none ended: the streams stay open, their bodies stored.
fn h2_open_streams(streams: u32, body: usize) -> Vec<u8> {
    let mut c = CLIENT_PREFACE.to_vec();
    c.extend(frame(SETTINGS, 0, 0, &[]));
    for n in 0..streams {
        let id = 1 + 2 * n;
        // :method POST (3), :scheme http (6), :path / (4), :authority "a" (literal, index 1).
        c.extend(frame(
            HEADERS,
            END_HEADERS,
            id,
            &[0x83, 0x86, 0x84, 0x41, 1, b'a'],
        ));
        c.extend(frame(DATA, 0, id, &vec![b'x'; body]));
    }
    c
}

/// HTTP/2 connections are in the account: open streams and their bodies are held, and at
/// the bound an HTTP/2 connection gives them up like an HTTP/1 one, its streams leaving
/// marked `memory_limit`.
#[test]
fn http2_streams_are_held_and_evicted_at_the_bound() {
    let client = h2_open_streams(3, 1000);
    let h2 = || Http2Config {
        max_body_capture_bytes: 4096,
        ..Http2Config::default()
    };
    let mut probe = Wire::new(config(1 << 20), 0);
    probe.t = HttpTracker::new(config(1 << 20)).with_http2(h2());
    probe.open(1);
    probe.send(1, Side::Client, &client);
    probe.check();
    let streams = probe.t.held_bytes();
    assert!(streams >= 3 * 1000, "three stored bodies: {streams}");
    let mut w = Wire::new(config(streams + 1000), 0);
    w.t = HttpTracker::new(config(streams + 1000)).with_http2(h2());
    w.open(1).open(2);
    w.send(1, Side::Client, &client);
    assert!(w.drain().is_empty(), "the streams are open");
    w.send(2, Side::Client, &partial_head(1500));
    w.check();
    assert_eq!(w.t.stats().memory_evictions, 1);
    let txs = w.drain();
    assert_eq!(txs.len(), 3, "{txs:?}");
    for t in &txs {
        assert!(t.anomalies.contains(&HttpAnomaly::MemoryLimit), "{t:?}");
        assert_eq!(t.request.as_ref().unwrap().body_bytes, 1000);
    }
}

/// Three pipelined requests on connection 1, none answered.
fn three_waiting(w: &mut Wire) {
    for n in 1..=3 {
        w.send(1, Side::Client, request(n).as_bytes());
    }
}

fn request(n: usize) -> String {
    format!(
        "POST /r{n} HTTP/1.1\r\ncontent-length: 0\r\nx-pad: {}\r\n\r\n",
        "p".repeat(200)
    )
}

#[test]
fn evicted_waiting_requests_leave_without_response_marked_memory_limit() {
    let mut probe = Wire::new(config(1 << 20), 2);
    three_waiting(&mut probe);
    let waiting = probe.t.held_bytes();
    assert!(waiting > 3 * 200, "waiting requests are held: {waiting}");
    // Room for them and 1000 bytes more.
    let mut w = Wire::new(config(waiting + 1000), 2);
    three_waiting(&mut w);
    assert!(w.drain().is_empty());
    w.send(2, Side::Client, &partial_head(1500));
    w.check();
    assert_eq!(w.t.stats().memory_evictions, 1);
    let txs = w.drain();
    assert_eq!(txs.len(), 3);
    for (n, t) in txs.iter().enumerate() {
        assert_eq!(t.request.as_ref().unwrap().uri, format!("/r{}", n + 1));
        assert!(t.response.is_none());
        assert_eq!(t.anomalies, vec![HttpAnomaly::MemoryLimit]);
    }
    assert_eq!(w.t.stats().anomaly_count(HttpAnomaly::MemoryLimit), 3);
    // The connection goes on, numbering after its evicted transactions.
    w.send(1, Side::Client, request(4).as_bytes());
    w.send(
        1,
        Side::Server,
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    );
    let next = w.drain();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].depth, 4);
    assert!(next[0].anomalies.is_empty(), "{:?}", next[0].anomalies);
    w.check();
}

/// A connection evicted while its protocol is still sniffed (the server spoke first) is
/// decided at its close: the fresh state numbers after what that close emitted.
#[test]
fn a_connection_evicted_while_sniffing_numbers_after_what_its_close_emitted() {
    let mut w = Wire::new(config(1 << 20), 1);
    w.send(
        1,
        Side::Server,
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    );
    assert!(w.t.held_bytes() > 0, "server bytes are held while sniffing");
    let slot = w.t.conns.find(&ConnId(1)).unwrap();
    w.t.evict(slot, w.ts);
    w.check();
    assert_eq!(w.t.stats().memory_evictions, 1);
    let evicted = w.drain();
    assert_eq!(evicted.len(), 1);
    assert_eq!((evicted[0].conn, evicted[0].depth), (ConnId(1), 1));
    assert!(evicted[0].request.is_none());
    assert!(evicted[0].anomalies.contains(&HttpAnomaly::MemoryLimit));
    w.send(1, Side::Client, b"GET /after HTTP/1.1\r\n\r\n");
    w.send(
        1,
        Side::Server,
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    );
    let next = w.drain();
    assert_eq!(next.len(), 1, "{next:#?}");
    assert_eq!(next[0].depth, 2, "depth 1 was emitted at the eviction");
    assert!(next[0].anomalies.is_empty(), "{:?}", next[0].anomalies);
    w.check();
}

/// A flow evicted by the reassembler (its flow share full) cuts its waiting requests: they
/// are marked too. Other closes mark nothing.
#[test]
fn a_flow_evicted_at_the_flow_bound_marks_what_it_cuts() {
    for (reason, marked) in [(CloseReason::Evicted, true), (CloseReason::Idle, false)] {
        let mut w = Wire::new(config(1 << 20), 1);
        three_waiting(&mut w);
        w.ts += 1;
        w.t.on_event(StreamEvent::Close {
            conn: ConnId(1),
            ts_us: w.ts,
            reason,
        });
        let txs = w.drain();
        assert_eq!(txs.len(), 3);
        for t in &txs {
            assert_eq!(
                t.anomalies.contains(&HttpAnomaly::MemoryLimit),
                marked,
                "{reason:?}"
            );
        }
        assert_eq!(w.t.held_bytes(), 0);
    }
}

#[test]
fn one_connection_alone_over_the_bound_gives_up_its_own_state() {
    let mut w = Wire::new(config(2048), 1);
    for n in 0..20 {
        w.send(
            1,
            Side::Client,
            format!("GET /{n} HTTP/1.1\r\n\r\n").as_bytes(),
        );
        w.check();
    }
    assert!(w.t.stats().memory_evictions >= 1);
    let txs = w.drain();
    assert!(txs
        .iter()
        .any(|t| t.anomalies.contains(&HttpAnomaly::MemoryLimit)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the connections send, in any order and cut anywhere, the account is exact and
    /// within its bound after every event.
    #[test]
    fn the_account_is_exact_and_bounded(
        steps in prop::collection::vec((1u64..=4, any::<bool>(), 1usize..700), 1..80),
        bound in 2048usize..8000,
    ) {
        let stream: Vec<u8> = (0..40)
            .flat_map(|n| format!("GET /{n} HTTP/1.1\r\nhost: a\r\nx-pad: {}\r\n\r\n", "z".repeat(n * 9)).into_bytes())
            .collect();
        let answers: Vec<u8> = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc".repeat(40);
        let mut w = Wire::new(config(bound), 4);
        let mut at = [[0usize; 2]; 5];
        for (conn, server, len) in steps {
            let (bytes, side, i) = if server {
                (&answers, Side::Server, 1)
            } else {
                (&stream, Side::Client, 0)
            };
            let pos = &mut at[conn as usize][i];
            let chunk = bytes.get(*pos..(*pos + len).min(bytes.len())).unwrap_or(&[]);
            *pos += chunk.len();
            if !chunk.is_empty() {
                w.send(conn, side, chunk);
            }
            w.check();
        }
    }
}

#[test]
fn a_declared_length_is_held_at_most_to_the_capture_bound() {
    let cap = 4096;
    let mut w = Wire::new(
        HttpConfig {
            max_body_capture_bytes: cap,
            ..config(1 << 20)
        },
        3,
    );
    // The same request three times but for its declared length, each with 3 bytes of body.
    let held = |w: &mut Wire, conn: u64, length: &str| {
        let before = w.t.held_bytes();
        let head = format!("POST /a HTTP/1.1\r\nContent-Length: {length}\r\n\r\nabc");
        w.send(conn, Side::Client, head.as_bytes());
        w.check();
        w.t.held_bytes() - before
    };
    let whole = held(&mut w, 1, "0000000003");
    // A claimed gigabyte: room for the capture bound, not for the claim.
    let claimed = held(&mut w, 2, "1000000000") - whole;
    assert!((cap - 3..=cap).contains(&claimed), "held {claimed} more");
    // A short body: room for its declared length only.
    let short = held(&mut w, 3, "0000000010") - whole;
    assert_eq!(short, 7, "room for the 7 bytes to come");
    w.send(3, Side::Client, b"4567890");
    w.send(3, Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n");
    let done = w.drain();
    assert_eq!(done.len(), 1);
    let body = done[0].request.as_ref().map(|r| r.body.as_slice());
    assert_eq!(body, Some(&b"abc4567890"[..]));
}

/// A gate that keeps the response body of requests whose target contains `attack`, and counts
/// how often it was asked.
#[derive(Debug)]
struct PathGate(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl crate::http::ResponseGate for PathGate {
    fn keeps_response_body(&mut self, tx: &Transaction) -> Option<crate::http::GateNote> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let r = tx.request.as_ref()?;
        r.uri
            .contains("attack")
            .then(|| crate::http::GateNote::new(r.uri.clone()))
    }
}

/// A wire whose responses are gated (bodies stored to 1 KiB when kept, none otherwise), and
/// the count of the gate's answers.
fn gated_wire(gate: bool) -> (Wire, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let mut cfg = config(1 << 20);
    cfg.selected.all_requests = true;
    cfg.selected.gated_responses = true;
    cfg.selected.max_bytes = 1024;
    let asked = std::sync::Arc::default();
    let mut w = Wire::new(cfg, 1);
    if gate {
        let t = std::mem::replace(&mut w.t, HttpTracker::new(HttpConfig::default()));
        w.t = t.with_response_gate(Box::new(PathGate(std::sync::Arc::clone(&asked))));
    }
    (w, asked)
}

/// The gated wire's response: a body the gate decides on (`error`, 5 bytes).
const ERROR_RESPONSE: &[u8] = b"HTTP/1.1 500 Oops\r\nContent-Length: 5\r\n\r\nerror";

/// One request with a body, then its response with a body; the finished transaction.
fn exchange(w: &mut Wire, target: &str, response_first: bool) -> Transaction {
    let head = format!("POST {target} HTTP/1.1\r\nContent-Length: 4\r\n\r\n");
    w.send(1, Side::Client, head.as_bytes());
    if response_first {
        w.send(1, Side::Server, ERROR_RESPONSE);
        w.send(1, Side::Client, b"body");
        w.check();
        return only(w);
    }
    w.send(1, Side::Client, b"body");
    w.check();
    answer(w)
}

/// [`ERROR_RESPONSE`] to the request on the wire; the finished transaction.
fn answer(w: &mut Wire) -> Transaction {
    w.send(1, Side::Server, ERROR_RESPONSE);
    only(w)
}

/// The one transaction the wire finished.
fn only(w: &mut Wire) -> Transaction {
    let mut done = w.drain();
    assert_eq!(done.len(), 1);
    done.remove(0)
}

#[test]
fn the_gate_decides_which_response_bodies_are_stored() {
    // (gate installed, target, response before the request's body, body stored, verdict,
    // the gate's note, times asked)
    let cases = [
        (true, "/clean", false, "", "declined", None, 1),
        (true, "/attack", false, "error", "kept", Some("/attack"), 1),
        (true, "/clean", true, "error", "kept", None, 0),
        (false, "/clean", false, "error", "not asked", None, 0),
    ];
    for (gate, target, early, stored, verdict, note, asked) in cases {
        let (mut w, count) = gated_wire(gate);
        let tx = exchange(&mut w, target, early);
        let req = tx.request.as_ref().expect("request");
        assert_eq!(req.body, b"body", "every request body is stored");
        let resp = tx.response.as_ref().expect("response");
        let what = format!("{target}, gate {gate}, early {early}");
        assert_eq!(resp.body, stored.as_bytes(), "{what}");
        assert_eq!(resp.body_bytes, 5, "{what}: counted whether or not stored");
        let (name, noted) = match &tx.gate {
            GateVerdict::Declined => ("declined", None),
            GateVerdict::Kept(n) => ("kept", n.get::<String>().map(String::as_str)),
            GateVerdict::NotAsked => ("not asked", None),
        };
        assert_eq!((name, noted), (verdict, note), "{what}");
        assert_eq!(
            count.load(std::sync::atomic::Ordering::Relaxed),
            asked,
            "{what}"
        );
    }
}

/// The gate reads a request as it completes, while its bytes are fresh, not when its
/// response begins; the response uses that verdict without asking again.
#[test]
fn the_gate_reads_a_request_when_it_completes() {
    let (mut w, count) = gated_wire(true);
    w.send(
        1,
        Side::Client,
        b"POST /attack HTTP/1.1\r\nContent-Length: 4\r\n\r\n",
    );
    let asked = || count.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(asked(), 0, "the request's body is still to come");
    w.send(1, Side::Client, b"body");
    assert_eq!(asked(), 1, "asked as the request completed");
    let tx = answer(&mut w);
    let resp = tx.response.as_ref().expect("response");
    assert_eq!(resp.body, b"error");
    assert!(matches!(&tx.gate, GateVerdict::Kept(n) if n.get::<String>().is_some()));
    assert_eq!(asked(), 1, "not asked again");
}

/// A request whose response never comes carries the gate's reading out on its transaction,
/// for detection to take instead of reading the request again.
#[test]
fn a_request_without_response_carries_the_gates_verdict() {
    for (target, note) in [("/attack", Some("/attack")), ("/clean", None)] {
        let (mut w, count) = gated_wire(true);
        let request = format!("POST {target} HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
        w.send(1, Side::Client, request.as_bytes());
        w.close(1);
        let tx = only(&mut w);
        assert!(tx.response.is_none(), "{target}");
        assert_eq!(
            count.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "{target}"
        );
        match (note, &tx.gate) {
            (Some(note), GateVerdict::Kept(n)) => {
                assert_eq!(n.get::<String>().map(String::as_str), Some(note));
            }
            (None, GateVerdict::Declined) => {}
            (_, got) => panic!("{target}: {got:?}"),
        }
    }
}

/// A request found clean as it completed keeps its response's body after all when an anomaly
/// reaches it before the response (here a retransmission whose bytes differ, on the server's
/// side): its `protocol` finding's outcome reads the body, and the gate is not asked again.
#[test]
fn an_anomaly_after_the_early_verdict_keeps_the_response_body() {
    let (mut w, count) = gated_wire(true);
    w.send(
        1,
        Side::Client,
        b"POST /clean HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody",
    );
    let asked = || count.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(asked(), 1, "asked as the request completed");
    w.ts += 1;
    w.t.on_event(StreamEvent::Anomaly {
        conn: ConnId(1),
        ts_us: w.ts,
        from: Side::Server,
        kind: apitap_reassembly::TcpAnomaly::RetransmissionMismatch,
    });
    let tx = answer(&mut w);
    assert!(
        !tx.tcp_anomalies.is_empty(),
        "the anomaly is the transaction's"
    );
    let resp = tx.response.as_ref().expect("response");
    assert_eq!(resp.body, b"error");
    assert!(matches!(&tx.gate, GateVerdict::Kept(n) if n.get::<String>().is_none()));
    assert_eq!(asked(), 1, "not asked again");
}

#[test]
fn the_gate_reads_requests_whose_response_has_no_body() {
    let (mut w, count) = gated_wire(true);
    w.send(1, Side::Client, b"GET /clean HTTP/1.1\r\n\r\n");
    w.send(1, Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n");
    let done = w.drain();
    let tx = done.first().expect("one transaction");
    assert!(tx.response.is_some());
    assert_eq!(tx.gate, GateVerdict::Declined);
    assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[test]
fn a_request_with_an_anomaly_keeps_its_response_body_without_asking() {
    let (mut w, count) = gated_wire(true);
    // Both framings: a smuggling anomaly (a `protocol` finding) before the response begins.
    let head = "POST /clean HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n";
    w.send(1, Side::Client, head.as_bytes());
    w.send(1, Side::Client, b"4\r\nbody\r\n0\r\n\r\n");
    let tx = answer(&mut w);
    assert!(!tx.anomalies.is_empty(), "{:?}", tx.anomalies);
    let resp = tx.response.as_ref().expect("response");
    assert_eq!(resp.body, b"error");
    assert!(matches!(tx.gate, GateVerdict::Kept(_)));
    assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), 0);
}
