//! The protocol of a connection and its hand-offs, through the real [`HttpTracker`].

use std::net::SocketAddr;

use apitap_reassembly::{CloseReason, ConnId, OrientationBasis, Side, StreamEvent, StreamSink};
use proptest::prelude::*;

use crate::http::transaction::SwitchedProtocol;
use crate::http::{
    ConnKind, ConnRecord, Finished, HttpAnomaly, HttpConfig, HttpTracker, Transaction,
};
use crate::http2::frame::CLIENT_PREFACE;

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:80";

/// A tracker with one connection, its events written by hand.
struct Wire {
    t: HttpTracker,
    ts: u64,
}

impl Wire {
    fn open(basis: OrientationBasis) -> Self {
        let cfg = HttpConfig {
            max_body_capture_bytes: 1024,
            ..HttpConfig::default()
        };
        let mut t = HttpTracker::new(cfg);
        t.on_event(StreamEvent::Open {
            conn: ConnId(1),
            ts_us: 1,
            zone: 0,
            client: CLIENT.parse().unwrap(),
            server: SERVER.parse().unwrap(),
            basis,
        });
        Wire { t, ts: 1 }
    }

    fn new() -> Self {
        Self::open(OrientationBasis::Syn)
    }

    fn send(&mut self, from: Side, data: &[u8]) -> &mut Self {
        if !data.is_empty() {
            self.ts += 1;
            self.t.on_event(StreamEvent::Data {
                conn: ConnId(1),
                ts_us: self.ts,
                from,
                data,
            });
        }
        self
    }

    fn c(&mut self, data: &[u8]) -> &mut Self {
        self.send(Side::Client, data)
    }

    fn s(&mut self, data: &[u8]) -> &mut Self {
        self.send(Side::Server, data)
    }

    /// Closes the connection; everything that finished, in order.
    fn close(&mut self) -> (Vec<Transaction>, Vec<ConnRecord>) {
        self.ts += 1;
        self.t.on_event(StreamEvent::Close {
            conn: ConnId(1),
            ts_us: self.ts,
            reason: CloseReason::Fin,
        });
        let (mut txs, mut recs) = (Vec::new(), Vec::new());
        self.t.drain_finished(|f| match f {
            Finished::Transaction(t) => txs.push(t),
            Finished::Connection(r) => recs.push(r),
        });
        (txs, recs)
    }
}

/// Timestamps depend on how the bytes were cut; compare everything else.
fn without_times(mut v: Vec<Transaction>) -> Vec<Transaction> {
    for t in &mut v {
        if let Some(r) = t.request.as_mut() {
            (r.ts_us, r.end_ts_us) = (0, 0);
        }
        if let Some(r) = t.response.as_mut() {
            (r.ts_us, r.end_ts_us) = (0, 0);
        }
    }
    v
}

/// An HTTP/2 frame (RFC 9113 section 4.1).
pub(crate) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// DATA frame type (RFC 9113 section 6.1).
pub(crate) const DATA: u8 = 0;
/// HEADERS frame type (RFC 9113 section 6.2).
pub(crate) const HEADERS: u8 = 1;
/// SETTINGS frame type (RFC 9113 section 6.5).
pub(crate) const SETTINGS: u8 = 4;
/// END_STREAM flag.
pub(crate) const END_STREAM: u8 = 1;
/// END_HEADERS flag.
pub(crate) const END_HEADERS: u8 = 4;

/// `:status: 200` (static table index 8, RFC 7541 appendix A).
const STATUS_200: &[u8] = &[0x88];

// ---------------------------------------------------------------------------------------------
// Sniffing (issue 21: non-HTTP traffic parsed as HTTP).

/// SMTP as Python's smtplib speaks it: the server's banner first, then `EHLO`. Nothing is
/// an HTTP record (the EHLO used to become an HTTP/0.9 request).
#[test]
fn smtp_is_not_http() {
    let lines: [(Side, &[u8]); 6] = [
        (Side::Server, b"220 mail.example.test ESMTP\r\n"),
        (Side::Client, b"ehlo client.example.test\r\n"),
        (Side::Server, b"250-mail.example.test\r\n250 HELP\r\n"),
        (Side::Client, b"MAIL FROM:<a@example.test>\r\n"),
        (Side::Server, b"250 OK\r\n"),
        (Side::Client, b"QUIT\r\n"),
    ];
    let mut w = Wire::new();
    for (side, line) in lines {
        w.send(side, line);
    }
    let (txs, recs) = w.close();
    assert!(txs.is_empty() && recs.is_empty(), "{txs:?}");
    let st = w.t.stats();
    assert_eq!(
        (st.not_http_connections, st.requests, st.responses),
        (1, 0, 0)
    );
    assert_eq!(st.anomaly_count(HttpAnomaly::Http09Request), 0);
    let total: usize = lines.iter().map(|(_, l)| l.len()).sum();
    assert_eq!(st.not_http_bytes, total as u64);
}

/// A Postgres exchange whose rows hold `HTTP/1.1 403 Forbidden`: the client starts with a
/// binary startup message, so no response is read from the server's rows.
#[test]
fn postgres_rows_holding_a_status_line_are_not_a_response() {
    let mut startup = vec![0, 0, 0, 0x29, 0, 3, 0, 0];
    startup.extend_from_slice(b"user\0app\0database\0app\0\0");
    let mut row = vec![b'D', 0, 0, 0, 0x20, 0, 1, 0, 0, 0, 0x16];
    row.extend_from_slice(b"HTTP/1.1 403 Forbidden\r\n");
    let mut w = Wire::new();
    w.c(&startup)
        .s(b"R\0\0\0\x08\0\0\0\0")
        .c(b"Q\0\0\0\x0eselect 1\0")
        .s(&row);
    let (txs, _) = w.close();
    assert!(txs.is_empty(), "{txs:?}");
    assert_eq!(w.t.stats().not_http_connections, 1);
    assert_eq!(w.t.stats().anomaly_count(HttpAnomaly::MalformedResponse), 0);
}

/// A request line cut anywhere before its end waits; the connection is HTTP once it ends.
#[test]
fn a_request_line_cut_in_pieces_is_still_http() {
    let req = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    for cut in 1..req.len() {
        let mut w = Wire::new();
        w.c(&req[..cut])
            .c(&req[cut..])
            .s(b"HTTP/1.1 204 No Content\r\n\r\n");
        let (txs, _) = w.close();
        assert_eq!(txs.len(), 1, "cut at {cut}");
        assert_eq!(txs[0].response.as_ref().unwrap().status, 204);
    }
}

/// `GET /path` answered by a status line is a version-less HTTP/1.0 head (the server read it
/// so), and the connection stays HTTP; answered by raw bytes it is HTTP/0.9.
#[test]
fn http09_is_decided_by_its_answer() {
    let mut w = Wire::new();
    w.c(b"GET /old\r\n")
        .s(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        .c(b"GET /new HTTP/1.1\r\n\r\n")
        .s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let (txs, _) = w.close();
    assert_eq!(txs.len(), 2, "{txs:?}");
    assert_eq!(txs[0].anomalies, vec![HttpAnomaly::LenientRequestLine]);
    assert_eq!(txs[0].response.as_ref().unwrap().status, 400);
    assert_eq!(txs[1].request.as_ref().unwrap().uri, "/new");

    let mut w = Wire::new();
    w.c(b"GET /old\r\n").s(b"<html>hello</html>");
    let (txs, _) = w.close();
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].anomalies, vec![HttpAnomaly::Http09Request]);
    assert!(txs[0].response.is_none());
    assert_eq!(w.t.stats().opaque_bytes, 18);
}

/// Bytes a server sends before the client's first bytes are held, then read in the order they
/// came (Zeek's `http-09-content-length-confusion`: a response before any request is
/// unmatched, and the HTTP/0.9 request after it gets the rest).
#[test]
fn server_bytes_before_the_client_are_read_in_arrival_order() {
    let mut w = Wire::new();
    w.s(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
        .c(b"GET /\r\n\r\n")
        .s(b"this is too much.\r\n");
    let (txs, _) = w.close();
    assert_eq!(txs.len(), 2, "{txs:?}");
    assert_eq!(txs[0].anomalies, vec![HttpAnomaly::UnmatchedResponse]);
    assert_eq!(txs[1].request.as_ref().unwrap().uri, "/");
}

/// A gap where the first client bytes were: nothing to sniff, so HTTP/1 picks up.
#[test]
fn first_client_bytes_lost_fall_back_to_http1() {
    let mut w = Wire::new();
    w.t.on_event(StreamEvent::Gap {
        conn: ConnId(1),
        ts_us: 2,
        from: Side::Client,
        len: 40,
    });
    w.c(b"GET /next HTTP/1.1\r\n\r\n")
        .s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let (txs, _) = w.close();
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].request.as_ref().unwrap().uri, "/next");
    assert_eq!(w.t.stats().sniff_fallbacks, 1);
}

// ---------------------------------------------------------------------------------------------
// HTTP/2.

fn h2c_upgrade() -> (Vec<u8>, Vec<u8>) {
    let mut client =
        b"GET /first HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade, HTTP2-Settings\r\n\
        Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
            .to_vec();
    client.extend_from_slice(CLIENT_PREFACE);
    client.extend(frame(SETTINGS, 0, 0, &[]));
    let mut server =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec();
    server.extend(frame(SETTINGS, 0, 0, &[]));
    server.extend(frame(HEADERS, END_HEADERS, 1, STATUS_200));
    server.extend(frame(DATA, END_STREAM, 1, b"hello"));
    (client, server)
}

/// `Upgrade: h2c`: the 101 is a transaction; stream 1 is another, with the upgrade request and
/// the HTTP/2 response, numbered after it.
#[test]
fn h2c_upgrade_hands_stream_1_to_http2() {
    let (client, server) = h2c_upgrade();
    let mut w = Wire::new();
    w.c(&client).s(&server);
    let (txs, _) = w.close();
    assert_eq!(txs.len(), 2, "{txs:?}");
    assert_eq!(
        txs[0].switched,
        Some(SwitchedProtocol::Upgrade("h2c".into()))
    );
    let t = &txs[1];
    assert_eq!(
        (t.depth, t.http2.as_ref().map(|h| h.stream_id)),
        (2, Some(1))
    );
    let q = t.request.as_ref().unwrap();
    assert_eq!((q.method.as_str(), q.uri.as_str()), ("GET", "/first"));
    assert_eq!(q.authority.as_deref(), Some("a.example"));
    let r = t.response.as_ref().unwrap();
    assert_eq!((r.status, r.body_bytes), (200, 5));
    assert_eq!(w.t.stats().http2_connections, 1);
}

/// Prior knowledge: the preface decides; `:authority` is the host.
#[test]
fn prior_knowledge_http2() {
    let mut client = CLIENT_PREFACE.to_vec();
    client.extend(frame(SETTINGS, 0, 0, &[]));
    // :method GET (2), :scheme http (6), :path / (4), :authority "a" (literal, index 1).
    client.extend(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &[0x82, 0x86, 0x84, 0x41, 1, b'a'],
    ));
    let mut server = frame(SETTINGS, 0, 0, &[]);
    server.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, STATUS_200));
    let mut w = Wire::new();
    w.c(&client).s(&server);
    let (txs, _) = w.close();
    let [t] = &txs[..] else { panic!("{txs:?}") };
    let q = t.request.as_ref().unwrap();
    assert_eq!(
        (q.method.as_str(), q.uri.as_str(), q.authority.as_deref()),
        ("GET", "/", Some("a"))
    );
    assert_eq!((t.depth, t.response.as_ref().unwrap().status), (1, 200));
}

/// Joined mid-stream, HTTP/2 frames are recognised: the response of a stream whose request
/// was never seen.
#[test]
fn http2_frames_mid_stream() {
    let mut w = Wire::open(OrientationBasis::Ports);
    let mut server = frame(HEADERS, END_HEADERS, 5, STATUS_200);
    server.extend(frame(DATA, END_STREAM, 5, b"abc"));
    w.s(&server);
    let (txs, _) = w.close();
    let [t] = &txs[..] else { panic!("{txs:?}") };
    assert!(t.request.is_none());
    assert_eq!(t.response.as_ref().unwrap().body_bytes, 3);
    assert_eq!(w.t.stats().http2_connections, 1);
}

/// TLS records picked up after the handshake: a TLS record (joined late), no HTTP anomalies.
#[test]
fn tls_records_mid_stream() {
    let mut w = Wire::open(OrientationBasis::Ports);
    let mut app = vec![23, 3, 3, 0, 32];
    app.extend_from_slice(&[0x5a; 32]);
    w.c(&app).s(&app);
    let (txs, recs) = w.close();
    assert!(txs.is_empty());
    let [rec] = &recs[..] else { panic!("{recs:?}") };
    let ConnKind::Tls(tls) = &rec.kind else {
        panic!()
    };
    assert!(tls.joined_late);
    assert_eq!(
        (tls.summary.client_bytes, tls.summary.server_bytes),
        (37, 37)
    );
    assert_eq!(w.t.stats().desyncs, 0);
}

// ---------------------------------------------------------------------------------------------
// Any split across a hand-off gives the same output.

fn websocket_upgrade() -> (Vec<u8>, Vec<u8>) {
    let mut client =
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            .to_vec();
    // A masked text frame "hi" (the server closes: who closes first must not depend on how
    // the two directions interleave).
    client.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
    let mut server = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        .to_vec();
    server.extend_from_slice(&[0xc1, 0x02, b'h', b'i', 0x88, 0x02, 0x03, 0xe8]);
    (client, server)
}

/// Feeds the client bytes cut at `c`, the server bytes cut at `s`, interleaved in the order
/// `order` picks; returns what finished. When server bytes come between the client's two
/// pieces, the first piece holds at least the first `req_len` bytes (the request that the
/// server answers).
fn run_cut(
    (client, req_len): (&[u8], usize),
    server: &[u8],
    c: usize,
    s: usize,
    order: u8,
) -> (Vec<Transaction>, Vec<ConnRecord>) {
    let c = if order % 3 == 1 {
        c.min(client.len())
    } else {
        req_len + c % (client.len() - req_len + 1)
    };
    let s = s.min(server.len());
    let mut w = Wire::new();
    let (c1, c2) = client.split_at(c);
    let (s1, s2) = server.split_at(s);
    match order % 3 {
        0 => w.c(c1).s(s1).c(c2).s(s2),
        1 => w.c(c1).c(c2).s(s1).s(s2),
        _ => w.c(c1).s(s1).s(s2).c(c2),
    };
    let (txs, mut recs) = w.close();
    for r in &mut recs {
        r.ts_us = 0;
        r.end_ts_us = 0;
        if let ConnKind::WebSocket(ws) = &mut r.kind {
            (ws.summary.first_ts_us, ws.summary.last_ts_us) = (None, None);
            if let Some(close) = ws.summary.close.as_mut() {
                close.ts_us = 0;
            }
        }
    }
    (without_times(txs), recs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An h2c upgrade split anywhere, in any interleaving where the request starts first,
    /// gives the same transactions.
    #[test]
    fn h2c_upgrade_split_anywhere(c in 1usize..400, s in 0usize..200, order in 0u8..3) {
        let (client, server) = h2c_upgrade();
        let client = (&client[..], client.len() - CLIENT_PREFACE.len() - 9);
        let want = run_cut(client, &server, usize::MAX, 0, 1);
        prop_assert_eq!(want.0.len(), 2);
        prop_assert_eq!(run_cut(client, &server, c, s, order), want);
    }

    /// A WebSocket upgrade split anywhere gives the same upgrade transaction and record.
    #[test]
    fn websocket_upgrade_split_anywhere(c in 1usize..120, s in 0usize..160, order in 0u8..3) {
        let (client, server) = websocket_upgrade();
        let client = (&client[..], client.len() - 8);
        let want = run_cut(client, &server, usize::MAX, 0, 1);
        prop_assert_eq!(want.1.len(), 1);
        if let ConnKind::WebSocket(ws) = &want.1[0].kind {
            prop_assert_eq!((ws.summary.client.messages, ws.summary.server.messages), (1, 1));
            prop_assert_eq!(ws.summary.server.compressed_messages, 1);
            prop_assert!(ws.summary.anomalies.is_empty());
        }
        prop_assert_eq!(run_cut(client, &server, c, s, order), want);
    }

    /// A CONNECT tunnel with HTTP inside, split anywhere (the inner request still before
    /// the inner response).
    #[test]
    fn tunnel_split_anywhere(c in 1usize..80, s in 0usize..90, order in 0u8..3) {
        let client = b"CONNECT a:80 HTTP/1.1\r\n\r\nGET /in HTTP/1.1\r\nHost: a\r\n\r\n";
        let server = b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        let (c, s) = match order % 3 {
            0 => (c, s % 20),
            1 => (c, s),
            // The whole client first (`run_cut` adds the request's 25 bytes back).
            _ => (client.len() - 25, s),
        };
        let client = (&client[..], 25);
        let want = run_cut(client, server, usize::MAX, 0, 1);
        prop_assert_eq!(want.0.len(), 2);
        prop_assert_eq!(run_cut(client, server, c, s, order), want);
    }
}

/// The addresses tests compare against.
#[test]
fn flow_is_kept_across_hand_offs() {
    let (client, server) = websocket_upgrade();
    let (_, recs) = run_cut((&client, client.len()), &server, 0, server.len(), 0);
    let want: (SocketAddr, SocketAddr) = (CLIENT.parse().unwrap(), SERVER.parse().unwrap());
    assert_eq!((recs[0].client, recs[0].server), want);
}
