//! Connection tests, through the real [`HttpTracker`] and stream events.

use std::net::SocketAddr;

use apitap_reassembly::{
    CloseReason, ConnId, OrientationBasis, Side, StreamEvent, StreamSink, TcpAnomaly,
};

use crate::http::transaction::SwitchedProtocol;
use crate::http::{
    ConnKind, ConnRecord, Finished, HttpAnomaly, HttpConfig, HttpTracker, Transaction,
};

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:80";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// The default limits with bodies stored (the default stores none), so tests can see them.
fn capturing() -> HttpConfig {
    HttpConfig {
        max_body_capture_bytes: 64 * 1024,
        ..HttpConfig::default()
    }
}

/// A tracker with one open connection, fed by hand.
struct Conn {
    t: HttpTracker,
    id: ConnId,
    ts: u64,
}

impl Conn {
    fn new() -> Self {
        Self::with(capturing(), OrientationBasis::Syn)
    }

    fn with(cfg: HttpConfig, basis: OrientationBasis) -> Self {
        let mut t = HttpTracker::new(cfg);
        let id = ConnId(7);
        t.on_event(StreamEvent::Open {
            conn: id,
            ts_us: 1,
            zone: 0,
            client: addr(CLIENT),
            server: addr(SERVER),
            basis,
        });
        Conn { t, id, ts: 1 }
    }

    fn send(&mut self, from: Side, data: &[u8]) -> &mut Self {
        self.ts += 1;
        self.t.on_event(StreamEvent::Data {
            conn: self.id,
            ts_us: self.ts,
            from,
            data,
        });
        self
    }

    fn c(&mut self, data: &[u8]) -> &mut Self {
        self.send(Side::Client, data)
    }

    fn s(&mut self, data: &[u8]) -> &mut Self {
        self.send(Side::Server, data)
    }

    fn gap(&mut self, from: Side, len: u64) -> &mut Self {
        self.ts += 1;
        self.t.on_event(StreamEvent::Gap {
            conn: self.id,
            ts_us: self.ts,
            from,
            len,
        });
        self
    }

    fn drain(&mut self) -> Vec<Transaction> {
        self.t.drain().collect()
    }

    fn close(&mut self) -> Vec<Transaction> {
        self.end();
        self.drain()
    }

    fn end(&mut self) {
        self.ts += 1;
        self.t.on_event(StreamEvent::Close {
            conn: self.id,
            ts_us: self.ts,
            reason: CloseReason::Fin,
        });
        assert_eq!(self.t.active_connections(), 0);
    }

    /// Closes the connection; everything finished since the last drain, in order.
    fn close_finished(&mut self) -> (Vec<Transaction>, Vec<ConnRecord>) {
        self.end();
        let (mut txs, mut recs) = (Vec::new(), Vec::new());
        self.t.drain_finished(|f| match f {
            Finished::Transaction(t) => txs.push(t),
            Finished::Connection(r) => recs.push(r),
        });
        (txs, recs)
    }
}

/// Feeds a client byte string and a server byte string, each cut at the given offsets, the
/// client side entirely first; returns everything emitted up to and including close.
fn run_split(req: &[u8], req_cuts: &[usize], resp: &[u8], resp_cuts: &[usize]) -> Vec<Transaction> {
    let mut c = Conn::new();
    for piece in pieces(req, req_cuts) {
        c.c(piece);
    }
    for piece in pieces(resp, resp_cuts) {
        c.s(piece);
    }
    let mut out = c.drain();
    out.extend(c.close());
    out
}

fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut prev = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let cut = cut.clamp(prev, data.len());
        if cut > prev {
            out.push(&data[prev..cut]);
        }
        prev = cut;
    }
    out
}

/// Timestamps depend on how bytes were cut; compare everything else.
fn strip_ts(mut v: Vec<Transaction>) -> Vec<Transaction> {
    for t in &mut v {
        if let Some(r) = t.request.as_mut() {
            r.ts_us = 0;
            r.end_ts_us = 0;
        }
        if let Some(r) = t.response.as_mut() {
            r.ts_us = 0;
            r.end_ts_us = 0;
        }
    }
    v
}

fn one(mut v: Vec<Transaction>) -> Transaction {
    assert_eq!(v.len(), 1, "{v:#?}");
    v.remove(0)
}

#[test]
fn simple_get() {
    let mut c = Conn::new();
    c.c(b"GET /users/42 HTTP/1.1\r\nHost: api\r\n\r\n");
    assert!(c.drain().is_empty());
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    let t = one(c.drain());
    let req = t.request.as_ref().expect("request");
    let resp = t.response.as_ref().expect("response");
    assert_eq!(
        (req.method.as_str(), req.uri.as_str(), req.version_minor),
        ("GET", "/users/42", 1)
    );
    assert_eq!(req.headers.iter().collect::<Vec<_>>(), [("Host", "api")]);
    assert_eq!(
        (
            resp.status,
            resp.reason.as_str(),
            resp.body.as_slice(),
            resp.body_bytes
        ),
        (200, "OK", &b"{}"[..], 2)
    );
    assert_eq!(
        (t.depth, t.client, t.server),
        (1, addr(CLIENT), addr(SERVER))
    );
    assert_eq!(
        (req.ts_us, req.end_ts_us, resp.ts_us, resp.end_ts_us),
        (2, 2, 3, 3)
    );
    assert!(t.anomalies.is_empty());
    assert!(c.close().is_empty());
    let st = c.t.stats();
    assert_eq!((st.transactions, st.requests, st.responses), (1, 1, 1));
}

const SPLIT_REQ: &[u8] =
    b"POST /orders HTTP/1.1\r\nHost: api\r\nContent-Length: 11\r\nX-Bin: \xe9t\xe9\r\n\r\n{\"id\": 123}";
const SPLIT_RESP: &[u8] = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\nX-Trailer: t\r\n\r\n";

#[test]
fn a_message_split_at_every_byte_boundary_yields_the_same_transaction() {
    let whole = strip_ts(run_split(SPLIT_REQ, &[], SPLIT_RESP, &[]));
    let t = &whole[0];
    assert_eq!(
        t.request
            .as_ref()
            .and_then(|r| r.headers.iter().nth(2).map(|f| f.1)),
        Some("\u{fffd}t\u{fffd}")
    );
    assert_eq!(
        t.response.as_ref().map(|r| r.body.as_slice()),
        Some(&b"abcdefg"[..])
    );
    for i in 0..=SPLIT_REQ.len() {
        assert_eq!(
            strip_ts(run_split(SPLIT_REQ, &[i], SPLIT_RESP, &[])),
            whole,
            "request cut at {i}"
        );
    }
    for i in 0..=SPLIT_RESP.len() {
        assert_eq!(
            strip_ts(run_split(SPLIT_REQ, &[], SPLIT_RESP, &[i])),
            whole,
            "response cut at {i}"
        );
    }
    let every: Vec<usize> = (0..SPLIT_REQ.len().max(SPLIT_RESP.len())).collect();
    assert_eq!(
        strip_ts(run_split(SPLIT_REQ, &every, SPLIT_RESP, &every)),
        whole,
        "one byte per segment"
    );
}

#[test]
fn pipelining_of_three_requests_pairs_in_order() {
    let mut c = Conn::new();
    c.c(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nPOST /3 HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n");
    c.s(b"HTTP/1.1 201 OK\r\nContent-Length: 1\r\n\r\nc");
    let v = c.drain();
    let pairs: Vec<(&str, u16, u32)> = v
        .iter()
        .map(|t| {
            (
                t.request.as_ref().unwrap().uri.as_str(),
                t.response.as_ref().unwrap().status,
                t.depth,
            )
        })
        .collect();
    assert_eq!(pairs, vec![("/1", 200, 1), ("/2", 404, 2), ("/3", 201, 3)]);
    assert_eq!(v[2].request.as_ref().unwrap().body, b"x");
}

#[test]
fn head_204_304_and_1xx_have_no_body() {
    let mut c = Conn::new();
    c.c(b"HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    c.s(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
    c.s(b"HTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let v = c.drain();
    let got: Vec<(u16, u64, Vec<u16>)> = v
        .iter()
        .map(|t| {
            let r = t.response.as_ref().unwrap();
            (r.status, r.body_bytes, r.interim.clone())
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (200, 0, vec![]),
            (204, 0, vec![]),
            (304, 0, vec![103]),
            (200, 2, vec![])
        ]
    );
    assert!(v.iter().all(|t| t.anomalies.is_empty()));
}

#[test]
fn expect_100_continue_records_the_interim_and_pairs_the_final() {
    let mut c = Conn::new();
    c.c(b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    c.s(b"HTTP/1.1 100 Continue\r\n\r\n");
    c.c(b"data");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let t = one(c.drain());
    assert_eq!(t.request.as_ref().unwrap().body, b"data");
    let r = t.response.as_ref().unwrap();
    assert_eq!((r.status, r.interim.clone(), r.ts_us), (200, vec![100], 5));
    assert_eq!(c.t.stats().interim_responses, 1);
}

#[test]
fn early_final_response_waits_for_the_request_body() {
    let mut c = Conn::new();
    c.c(b"POST /big HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc");
    c.s(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
    assert!(c.drain().is_empty());
    c.c(b"def");
    let t = one(c.drain());
    assert_eq!(t.request.as_ref().unwrap().body_bytes, 6);
    assert_eq!(t.response.as_ref().unwrap().status, 413);
}

#[test]
fn chunked_request_with_trailers() {
    let mut c = Conn::new();
    c.c(b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n");
    c.c(b"3\r\nabc\r\n0\r\nDigest: sha=1\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let t = one(c.drain());
    let r = t.request.as_ref().unwrap();
    assert_eq!((r.body.as_slice(), r.body_bytes), (&b"abc"[..], 3));
    assert_eq!(r.trailers.iter().collect::<Vec<_>>(), [("Digest", "sha=1")]);
    assert_eq!(
        t.anomalies,
        vec![HttpAnomaly::TransferEncodingAndContentLength]
    );
}

#[test]
fn read_until_close() {
    let mut c = Conn::new();
    c.c(b"GET /stream HTTP/1.0\r\n\r\n");
    c.s(b"HTTP/1.0 200 OK\r\n\r\nhello ");
    c.gap(Side::Server, 10);
    c.s(b"world");
    assert!(c.drain().is_empty());
    let t = one(c.close());
    let r = t.response.as_ref().unwrap();
    // The gap keeps read-until-close framing: counted, marked, capture stops at the hole.
    assert_eq!(
        (r.body_bytes, r.body.as_slice(), r.body_truncated),
        (21, &b"hello "[..], true)
    );
    assert_eq!(t.anomalies, vec![HttpAnomaly::GapInResponse]);
    assert_eq!(r.end_ts_us, 6);
}

/// A CONNECT tunnel whose client sent its TLS ClientHello before the 200 (RFC 9110 section
/// 9.3.6): the held hello reaches the tunnel's TLS state, whose record names the tunnel.
#[test]
fn connect_tunnel_carries_tls_sent_before_the_200() {
    let mut c = Conn::new();
    c.c(b"CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n");
    let hello_start = [0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c];
    c.c(&hello_start);
    c.s(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let t = one(c.drain());
    assert_eq!(t.switched, Some(SwitchedProtocol::Connect));
    c.c(b"GET / HTTP/1.1\r\n\r\n")
        .s(b"\x16\x03\x03 server hello");
    let (txs, recs) = c.close_finished();
    assert!(txs.is_empty(), "encrypted: nothing inside is read");
    let [rec] = &recs[..] else { panic!("{recs:?}") };
    assert_eq!(rec.connect_authority.as_deref(), Some("api.example:443"));
    let ConnKind::Tls(tls) = &rec.kind else {
        panic!("{rec:?}")
    };
    assert_eq!(tls.summary.client_bytes, 9 + 18);
    let st = c.t.stats();
    assert_eq!(
        (
            st.switched_connections,
            st.requests,
            st.tunnels,
            st.tls_connections
        ),
        (1, 1, 1, 1)
    );
}

/// Issue 21: a tunnel whose first client bytes are HTTP gives each inner exchange its own
/// transaction, numbered after the CONNECT's, with the tunnel's authority.
#[test]
fn http_inside_a_connect_tunnel_is_parsed() {
    let mut c = Conn::new();
    c.c(b"CONNECT u:pw@origin.example:80 HTTP/1.1\r\nHost: origin.example:80\r\n\r\n");
    c.s(b"HTTP/1.1 200 Connection established\r\n\r\n");
    c.c(b"GET / HTTP/1.1\r\nHost: origin.example\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    let v = c.close();
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(
        (v[0].depth, v[0].switched.clone()),
        (1, Some(SwitchedProtocol::Connect))
    );
    assert_eq!(v[0].connect_authority, None);
    let inner = &v[1];
    assert_eq!(inner.depth, 2);
    assert_eq!(
        inner.connect_authority.as_deref(),
        Some("origin.example:80")
    );
    assert_eq!(inner.request.as_ref().unwrap().uri, "/");
    assert_eq!(inner.response.as_ref().unwrap().body_bytes, 2);
}

/// The bytes after the switching head in the same segment belong to the tunnel.
#[test]
fn tunnel_bytes_in_the_segment_of_the_200_are_read() {
    let mut c = Conn::new();
    c.c(b"CONNECT a:80 HTTP/1.1\r\n\r\nGET /early HTTP/1.1\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
    let v = c.close();
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v[1].request.as_ref().unwrap().uri, "/early");
    assert_eq!(v[1].response.as_ref().unwrap().status, 204);
}

#[test]
fn rejected_connect_resumes_http() {
    let mut c = Conn::new();
    c.c(b"CONNECT a:443 HTTP/1.1\r\n\r\n");
    c.s(b"HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n");
    c.c(b"GET /x HTTP/1.1\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let v = c.drain();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].switched, None);
    assert_eq!(v[1].request.as_ref().unwrap().uri, "/x");
}

/// A 101 to `Upgrade: websocket` hands the connection to WebSocket: the frame in the 101's
/// segment and the client's later frame are counted in the record written at close.
#[test]
fn websocket_upgrade() {
    let mut c = Conn::new();
    c.c(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    c.s(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello");
    let t = one(c.drain());
    assert_eq!(
        t.switched,
        Some(SwitchedProtocol::Upgrade("websocket".into()))
    );
    assert!(t.response.as_ref().unwrap().interim.is_empty());
    c.c(b"\x81\x85abcdxxxxx");
    let (txs, recs) = c.close_finished();
    assert!(txs.is_empty());
    let [rec] = &recs[..] else { panic!("{recs:?}") };
    let ConnKind::WebSocket(ws) = &rec.kind else {
        panic!("{rec:?}")
    };
    assert_eq!(ws.upgrade_depth, 1);
    assert_eq!(
        (ws.summary.client.messages, ws.summary.server.messages),
        (1, 1)
    );
    assert_eq!(
        (
            ws.summary.client.message_bytes,
            ws.summary.server.message_bytes
        ),
        (5, 5)
    );
    assert_eq!(c.t.stats().opaque_bytes, 0);
}

/// A request body cut short by a protocol switch (a 101 before the body ended, with bytes
/// lost on the way) says its stored body is truncated: found by the http fuzz target.
#[test]
fn body_cut_short_by_a_protocol_switch_is_marked_truncated() {
    let mut c = Conn::new();
    c.c(b"POST /x HTTP/1.1\r\nContent-Length: 20\r\n\r\nabcd");
    c.gap(Side::Client, 10);
    c.s(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    let mut v = c.drain();
    v.extend(c.close());
    let t = one(v);
    let r = t.request.as_ref().unwrap();
    assert_eq!(
        (r.body_bytes, r.body.as_slice(), r.body_truncated),
        (14, &b"abcd"[..], true)
    );
}

#[test]
fn unmatched_response() {
    let mut c = Conn::new();
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz");
    // Held while the client's first bytes may still say what the connection is.
    assert!(c.drain().is_empty());
    let t = one(c.close());
    assert!(t.request.is_none());
    assert_eq!(t.anomalies, vec![HttpAnomaly::UnmatchedResponse]);
    assert_eq!(c.t.stats().unmatched_responses, 1);
    assert_eq!(c.t.stats().anomaly_count(HttpAnomaly::UnmatchedResponse), 1);
}

#[test]
fn requests_without_response_are_flushed_at_close_in_order() {
    let mut c = Conn::new();
    c.c(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    assert!(c.drain().is_empty());
    let v = c.close();
    let uris: Vec<_> = v
        .iter()
        .map(|t| {
            (
                t.request.as_ref().unwrap().uri.clone(),
                t.response.is_none(),
            )
        })
        .collect();
    assert_eq!(uris, vec![("/a".to_owned(), true), ("/b".to_owned(), true)]);
    assert_eq!(c.t.stats().requests_without_response, 2);
}

#[test]
fn gap_in_body_counts_exactly_and_marks() {
    let mut c = Conn::new();
    c.c(b"POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    c.gap(Side::Client, 4);
    c.c(b"hij");
    c.c(b"GET /next HTTP/1.1\r\n\r\n");
    c.s(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    let v = c.drain();
    assert_eq!(v.len(), 2);
    let r = v[0].request.as_ref().unwrap();
    assert_eq!(
        (r.body_bytes, r.body.as_slice(), r.body_truncated),
        (10, &b"abc"[..], true)
    );
    assert_eq!(v[0].anomalies, vec![HttpAnomaly::GapInRequest]);
    assert!(v[1].anomalies.is_empty());
    let st = c.t.stats();
    assert_eq!(
        (st.gaps, st.gap_bytes, st.gap_bytes_in_bodies, st.desyncs),
        (1, 4, 4, 0)
    );
}

#[test]
fn gap_past_the_end_of_a_body_desyncs_the_rest() {
    let mut c = Conn::new();
    c.c(b"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nab");
    c.gap(Side::Client, 20);
    c.c(b"ost: x\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    let v = c.close();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].request.as_ref().unwrap().body_bytes, 5);
    assert_eq!(v[1].request.as_ref().unwrap().uri, "/after");
    assert_eq!(v[1].anomalies, vec![HttpAnomaly::GapInRequest]);
    // `ost: x\r\n`; the empty line before the request line belongs to it (RFC 9112 2.2).
    assert_eq!(c.t.stats().desync_skipped_bytes, 8);
}

#[test]
fn gap_in_head_resyncs_on_next_request() {
    let mut c = Conn::new();
    c.c(b"GET /lost HTTP/1.1\r\nHo");
    c.gap(Side::Client, 100);
    c.c(b"der: x\r\n\r\nGET /found HTTP/1.1\r\n");
    c.c(b"Host: y\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let t = one(c.drain());
    assert_eq!(t.request.as_ref().unwrap().uri, "/found");
    assert_eq!(t.request.as_ref().unwrap().headers.len(), 1);
    assert_eq!(t.anomalies, vec![HttpAnomaly::GapInRequest]);
    let st = c.t.stats();
    assert_eq!((st.desyncs, st.resyncs), (1, 1));
    // The 22 buffered head bytes and `der: x\r\n` (the empty line goes with the request).
    assert_eq!(st.desync_skipped_bytes, 22 + 8);
}

#[test]
fn gap_in_response_head_resyncs_on_next_status_line() {
    let mut c = Conn::new();
    c.c(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-");
    c.gap(Side::Server, 30);
    c.s(b"xyz\r\nHTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n");
    let v = c.close();
    assert_eq!(v.len(), 2);
    // Pairing stays in order: the resynchronised response goes to the oldest waiting request.
    assert_eq!(v[0].response.as_ref().map(|r| r.status), Some(404));
    assert_eq!(v[0].anomalies, vec![HttpAnomaly::GapInResponse]);
    assert!(v[1].response.is_none());
}

#[test]
fn gap_in_chunk_header_desyncs() {
    let mut c = Conn::new();
    c.c(b"GET / HTTP/1.1\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r");
    c.gap(Side::Server, 5);
    c.s(b"zz\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.c(b"GET /2 HTTP/1.1\r\n\r\n");
    let v = c.close();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].response.as_ref().unwrap().body_bytes, 3);
    assert_eq!(v[0].anomalies, vec![HttpAnomaly::GapInResponse]);
    // The resynchronised response came before request 2 was seen: unmatched; request 2 then
    // waits in vain.
    assert_eq!(v[1].anomalies, vec![HttpAnomaly::UnmatchedResponse]);
    assert_eq!(v[2].request.as_ref().map(|r| r.uri.as_str()), Some("/2"));
    assert!(v[2].response.is_none());
}

#[test]
fn max_pending_requests_evicts_the_oldest() {
    let cfg = HttpConfig {
        max_pending_requests: 2,
        ..HttpConfig::default()
    };
    let mut c = Conn::with(cfg, OrientationBasis::Syn);
    c.c(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
    assert!(c.drain().is_empty());
    c.c(b"GET /3 HTTP/1.1\r\n\r\n");
    let t = one(c.drain());
    assert_eq!(t.request.as_ref().unwrap().uri, "/1");
    assert!(t.response.is_none());
    assert_eq!(t.anomalies, vec![HttpAnomaly::TooManyPendingRequests]);
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let t = one(c.drain());
    assert_eq!(t.request.as_ref().unwrap().uri, "/2");
    assert_eq!(c.close().len(), 1);
    assert_eq!(
        c.t.stats()
            .anomaly_count(HttpAnomaly::TooManyPendingRequests),
        1
    );
}

#[test]
fn header_too_large_keeps_the_request_line_and_resyncs() {
    let cfg = HttpConfig {
        max_header_bytes: 128,
        ..HttpConfig::default()
    };
    let big = [
        b"GET /big HTTP/1.1\r\nCookie: ".as_slice(),
        &[b'a'; 300],
        b"\r\n\r\n",
    ]
    .concat();
    for cut in [0, 10, 100, 200, big.len()] {
        let mut c = Conn::with(cfg.clone(), OrientationBasis::Syn);
        for p in pieces(&big, &[cut]) {
            c.c(p);
        }
        c.c(b"GET /small HTTP/1.1\r\n\r\n");
        c.s(b"HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let v = c.drain();
        assert_eq!(v.len(), 2, "cut {cut}");
        let r = v[0].request.as_ref().unwrap();
        assert_eq!((r.uri.as_str(), r.headers.len()), ("/big", 0));
        assert_eq!(v[0].response.as_ref().unwrap().status, 431);
        assert_eq!(v[0].anomalies, vec![HttpAnomaly::HeaderTooLarge]);
        assert_eq!(v[1].request.as_ref().unwrap().uri, "/small");
        assert_eq!(v[1].response.as_ref().unwrap().status, 200);
    }
}

#[test]
fn malformed_request_is_marked_on_the_next_request() {
    let mut c = Conn::new();
    c.c(b"GET /first HTTP/1.1\r\n\r\n");
    c.s(b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(c.drain().len(), 1);
    c.c(b"\x16\x03\x01\x00\x10garbage\r\nGET /ok HTTP/1.1\r\n\r\n");
    let t = one(c.close());
    assert_eq!(t.request.as_ref().unwrap().uri, "/ok");
    assert_eq!(t.anomalies, vec![HttpAnomaly::MalformedRequest]);
}

#[test]
fn reorientation_with_ports_basis() {
    let mut c = Conn::with(HttpConfig::default(), OrientationBasis::Ports);
    // The reassembler guessed wrong: the "server" sends the request.
    c.s(b"GET /x HTTP/1.1\r\n\r\n");
    c.c(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let t = one(c.drain());
    assert_eq!((t.client, t.server), (addr(SERVER), addr(CLIENT)));
    assert_eq!(t.response.as_ref().unwrap().status, 200);
    assert_eq!(t.anomalies, vec![HttpAnomaly::ReOriented]);
    assert_eq!(c.t.stats().reoriented_connections, 1);

    let mut c = Conn::with(HttpConfig::default(), OrientationBasis::Ports);
    c.c(b"HTTP/1.1 204 No\r\n\r\n");
    let t = one(c.drain());
    assert_eq!((t.client, t.server), (addr(SERVER), addr(CLIENT)));
    assert_eq!(
        t.anomalies,
        vec![HttpAnomaly::ReOriented, HttpAnomaly::UnmatchedResponse]
    );
}

#[test]
fn no_reorientation_with_syn_basis() {
    let mut c = Conn::with(HttpConfig::default(), OrientationBasis::Syn);
    c.s(b"GET /x HTTP/1.1\r\n\r\n");
    assert!(c.close().is_empty());
    assert_eq!(c.t.stats().reoriented_connections, 0);
    assert_eq!(c.t.stats().anomaly_count(HttpAnomaly::MalformedResponse), 1);
}

#[test]
fn tcp_anomalies_attach_to_the_message_in_progress_or_the_next() {
    let mut c = Conn::new();
    let id = c.id;
    c.t.on_event(StreamEvent::Anomaly {
        conn: id,
        ts_us: 2,
        from: Side::Client,
        kind: TcpAnomaly::MidStreamPickup,
    });
    c.c(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n");
    for _ in 0..2 {
        let kind = TcpAnomaly::RetransmissionMismatch;
        c.t.on_event(StreamEvent::Anomaly {
            conn: id,
            ts_us: 3,
            from: Side::Client,
            kind,
        });
    }
    c.c(b"ab");
    let kind = TcpAnomaly::StreamBufferLimit;
    c.t.on_event(StreamEvent::Anomaly {
        conn: id,
        ts_us: 3,
        from: Side::Server,
        kind,
    });
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let t = one(c.drain());
    assert_eq!(
        t.tcp_anomalies,
        vec![
            TcpAnomaly::MidStreamPickup,
            TcpAnomaly::RetransmissionMismatch,
            TcpAnomaly::StreamBufferLimit
        ]
    );
}

#[test]
fn http09_request_is_recorded_and_parsing_stops() {
    let mut c = Conn::new();
    c.c(b"GET /index.html\r\n");
    c.s(b"<html>old school</html>");
    let t = one(c.close());
    let r = t.request.as_ref().unwrap();
    assert_eq!(
        (r.method.as_str(), r.uri.as_str(), r.version_minor),
        ("GET", "/index.html", 0)
    );
    assert_eq!(t.anomalies, vec![HttpAnomaly::Http09Request]);
    assert!(t.response.is_none());
    assert_eq!(c.t.stats().opaque_bytes, 23);
}

/// Zeek's `http-09` case: connections that send `T /zeek.html`, `GET ` and `T ` with no version
/// (a server's "bad method" test) are not HTTP/0.9 requests: a version-less line needs a method
/// of at least 3 characters (GET, PUT) and a target. apitap used to record a request `T`.
#[test]
fn http09_one_letter_method_is_not_a_request() {
    for line in [&b"T /zeek.html\n"[..], b"GET \n", b"T \n"] {
        let mut c = Conn::new();
        c.c(line);
        c.s(b"bad method\n");
        assert!(c.close().is_empty(), "{:?}", String::from_utf8_lossy(line));
        assert_eq!(c.t.stats().requests, 0);
    }
}

/// Zeek's `http-connect` case: a CONNECT whose target holds a space, then a line that is not a
/// field; the tunnel still opens on the 200.
#[test]
fn connect_with_a_space_in_the_target_opens_the_tunnel() {
    let mut c = Conn::new();
    c.c(b"CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\nMozilla 4.0 (compatible)\r\n\r\n");
    c.s(b"HTTP/1.0 200 Connection established\r\n\r\n220 smtp ready\r\n");
    c.c(b"HELO x\r\n");
    let t = one(c.close());
    let r = t.request.as_ref().unwrap();
    assert_eq!(
        (r.method.as_str(), r.uri.as_str(), r.version_minor),
        ("CONNECT", "mailin03.sul.t-online.de:25 /", 0)
    );
    assert_eq!(t.response.as_ref().unwrap().status, 200);
    assert_eq!(t.switched, Some(SwitchedProtocol::Connect));
    assert_eq!(
        t.anomalies,
        vec![
            HttpAnomaly::LenientRequestLine,
            HttpAnomaly::InvalidHeaderLine
        ]
    );
}

/// Zeek's `http-methods` case: request lines httparse rejects but the server answered.
#[test]
fn lenient_request_lines_pair_with_their_responses() {
    let cases: &[(&[u8], &str, &str, u8)] = &[
        (
            b"OPTIONS HTTP/1.1\nHost: www.google.com\n\n",
            "OPTIONS",
            "",
            1,
        ),
        (b"GET / HTTP/1.\nHost: www.google.com\n\n", "GET", "/", 0),
        (
            b"GET /HTTP/1.1\nHost: www.google.com\n\n",
            "GET",
            "/HTTP/1.1",
            0,
        ),
    ];
    for &(head, method, uri, minor) in cases {
        let mut c = Conn::new();
        c.c(head);
        c.s(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        let t = one(c.close());
        let r = t.request.as_ref().unwrap();
        assert_eq!(
            (r.method.as_str(), r.uri.as_str(), r.version_minor),
            (method, uri, minor)
        );
        assert_eq!(
            r.headers.iter().collect::<Vec<_>>(),
            [("Host", "www.google.com")]
        );
        assert_eq!(t.response.as_ref().unwrap().status, 400);
        assert_eq!(t.anomalies, vec![HttpAnomaly::LenientRequestLine]);
    }
}

/// Zeek's `261.obsolete-line-fold` case: `Transfer-Encoding:` folded onto the next line is
/// unfolded (RFC 9112 section 5.2), so the chunked body ends at `0` and the next request is a
/// request, as for a server that unfolds.
#[test]
fn obs_fold_in_a_request_is_unfolded() {
    let mut c = Conn::new();
    c.c(b"POST / HTTP/1.1\r\nHost: target\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\nGET /smuggled-obsfold HTTP/1.1\r\nHost: target\r\n\r\n");
    let v = c.close();
    assert_eq!(v.len(), 2, "{v:#?}");
    let post = v[0].request.as_ref().unwrap();
    assert_eq!(
        post.headers.iter().collect::<Vec<_>>(),
        [("Host", "target"), ("Transfer-Encoding", "chunked")]
    );
    assert_eq!(v[0].anomalies, vec![HttpAnomaly::ObsoleteLineFolding]);
    assert_eq!(v[1].request.as_ref().unwrap().uri, "/smuggled-obsfold");
}

/// A malformed field line naming a framing field is not skipped: the body length would be a
/// guess. The request line is kept, the direction resynchronises.
#[test]
fn malformed_framing_field_is_not_skipped() {
    let mut c = Conn::new();
    c.c(b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n5\r\nGET /x\r\n0\r\n\r\n");
    let t = one(c.close());
    let r = t.request.as_ref().unwrap();
    assert_eq!((r.method.as_str(), r.uri.as_str()), ("POST", "/"));
    assert!(r.headers.is_empty());
    assert_eq!(t.anomalies, vec![HttpAnomaly::MalformedRequest]);
}

#[test]
fn body_capture_is_capped_but_counts_are_exact() {
    let cfg = HttpConfig {
        max_body_capture_bytes: 4,
        ..HttpConfig::default()
    };
    let mut c = Conn::with(cfg, OrientationBasis::Syn);
    c.c(b"GET / HTTP/1.1\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
    let t = one(c.drain());
    let r = t.response.as_ref().unwrap();
    assert_eq!(
        (r.body.as_slice(), r.body_bytes, r.body_truncated),
        (&b"abcd"[..], 6, true)
    );
    assert!(t.anomalies.is_empty());
}

#[test]
fn incomplete_body_at_close_is_marked() {
    let mut c = Conn::new();
    c.c(b"GET / HTTP/1.1\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    let t = one(c.close());
    assert_eq!(t.response.as_ref().unwrap().body_bytes, 3);
    assert_eq!(t.anomalies, vec![HttpAnomaly::IncompleteResponse]);
}

#[test]
fn events_of_unknown_connections_are_counted() {
    let mut t = HttpTracker::new(HttpConfig::default());
    t.on_event(StreamEvent::Data {
        conn: ConnId(1),
        ts_us: 1,
        from: Side::Client,
        data: b"x",
    });
    t.on_event(StreamEvent::Close {
        conn: ConnId(1),
        ts_us: 1,
        reason: CloseReason::Rst,
    });
    assert_eq!(t.stats().events_unknown_conn, 2);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Ev {
        Data(bool, Vec<u8>),
        Gap(bool, u64),
        Anomaly(bool),
        Close,
    }

    fn http_ish() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            Just(b"GET / HTTP/1.1\r\n\r\n".to_vec()),
            Just(b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nab".to_vec()),
            Just(b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n".to_vec()),
            Just(b"0\r\nT: x\r\n\r\n".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".to_vec()),
            Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
            Just(b"HTTP/1.0 200 OK\r\n\r\nuntil close".to_vec()),
            Just(b"HTTP/1.1 101 Switching\r\nUpgrade: h2c\r\n\r\n".to_vec()),
            Just(b"CONNECT a:1 HTTP/1.1\r\n\r\n".to_vec()),
            Just(b"GET /09\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
        ]
    }

    fn event() -> impl Strategy<Value = Ev> {
        prop_oneof![
            6 => (any::<bool>(), http_ish()).prop_map(|(s, d)| Ev::Data(s, d)),
            2 => (any::<bool>(), 0u64..50).prop_map(|(s, n)| Ev::Gap(s, n)),
            1 => any::<bool>().prop_map(Ev::Anomaly),
            1 => Just(Ev::Close),
        ]
    }

    fn side(client: bool) -> Side {
        if client {
            Side::Client
        } else {
            Side::Server
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_events_never_panic(
            evs in proptest::collection::vec(event(), 0..40),
            ports in any::<bool>(),
            small in any::<bool>(),
        ) {
            let cfg = if small {
                HttpConfig { max_header_bytes: 64, max_body_capture_bytes: 3, max_pending_requests: 2, ..HttpConfig::default() }
            } else {
                HttpConfig::default()
            };
            let basis = if ports { OrientationBasis::Ports } else { OrientationBasis::Syn };
            let mut c = Conn::with(cfg, basis);
            let mut open = true;
            let mut emitted = 0u64;
            for ev in evs {
                if !open {
                    c.id = ConnId(c.id.0 + 1);
                    let (client, server) = (addr(CLIENT), addr(SERVER));
                    c.t.on_event(StreamEvent::Open { conn: c.id, ts_us: c.ts, zone: 0, client, server, basis });
                    open = true;
                }
                match ev {
                    Ev::Data(s, d) => { c.send(side(s), &d); }
                    Ev::Gap(s, n) => { c.gap(side(s), n); }
                    Ev::Anomaly(s) => {
                        let kind = TcpAnomaly::RetransmissionMismatch;
                        c.t.on_event(StreamEvent::Anomaly { conn: c.id, ts_us: c.ts, from: side(s), kind });
                    }
                    Ev::Close => { emitted += c.close().len() as u64; open = false; }
                }
                emitted += c.drain().len() as u64;
            }
            if open {
                emitted += c.close().len() as u64;
            }
            let st = c.t.stats();
            prop_assert_eq!(st.transactions, emitted);
            prop_assert!(st.responses + st.requests >= st.transactions);
            prop_assert_eq!(c.t.active_connections(), 0);
        }

        #[test]
        fn body_bytes_of_a_cl_message_with_a_gap_equal_the_content_length(
            len in 1u64..2000,
            gap_at in 0u64..2000,
            gap_len in 1u64..2000,
            cut in 0usize..64,
            response in any::<bool>(),
        ) {
            let gap_at = gap_at % len;
            let gap_len = gap_len.min(len - gap_at);
            let body: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let head = if response {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n")
            } else {
                format!("POST /x HTTP/1.1\r\nContent-Length: {len}\r\n\r\n")
            };
            let from = if response { Side::Server } else { Side::Client };
            let mut c = Conn::new();
            if response {
                c.c(b"GET /x HTTP/1.1\r\n\r\n");
            }
            let before = [head.as_bytes(), &body[..gap_at as usize]].concat();
            for p in pieces(&before, &[cut]) {
                c.send(from, p);
            }
            c.gap(from, gap_len);
            c.send(from, &body[(gap_at + gap_len) as usize..]);
            let v = c.close();
            prop_assert_eq!(v.len(), 1);
            let (bytes, anomalies) = if response {
                (v[0].response.as_ref().map(|r| r.body_bytes), &v[0].anomalies)
            } else {
                (v[0].request.as_ref().map(|r| r.body_bytes), &v[0].anomalies)
            };
            prop_assert_eq!(bytes, Some(len));
            let want = if response { HttpAnomaly::GapInResponse } else { HttpAnomaly::GapInRequest };
            prop_assert!(anomalies.contains(&want));
        }
    }
}

/// Regression (fuzz seed `regress-hang-malformed-status-head`): a head that starts like a
/// status line but does not parse sent the connection into an endless loop, because the
/// status probe found the same head again at offset 0.
#[test]
fn malformed_status_head_does_not_hang() {
    let mut c = Conn::new();
    c.c(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.s(b"HTTP/1.1 200 \x7f\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    let v = c.close();
    assert!(!v.is_empty());
    assert_eq!(
        c.t.stats().stalls,
        0,
        "the progress guard must not be what ended it"
    );
}

/// Issue 21, request smuggling and host confusion: each shape is flagged on its transaction,
/// and the body is still framed by Transfer-Encoding.
#[test]
fn smuggling_and_host_confusion_are_flagged() {
    let cases: &[(&[u8], &[HttpAnomaly])] = &[
        (
            b"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            &[HttpAnomaly::TransferEncodingInHttp10],
        ),
        (
            b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            &[HttpAnomaly::ChunkedTwice],
        ),
        (
            b"GET /a HTTP/1.1\r\nHost: a.example\r\nHost: admin.internal\r\n\r\n",
            &[HttpAnomaly::DuplicateHost],
        ),
        (
            b"GET http://admin.internal/a HTTP/1.1\r\nHost: a.example\r\n\r\n",
            &[HttpAnomaly::HostMismatch],
        ),
    ];
    for (req, want) in cases {
        let mut c = Conn::new();
        c.c(req);
        c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let t = one(c.close());
        assert_eq!(t.anomalies, *want, "{}", String::from_utf8_lossy(req));
        assert_eq!(t.response.as_ref().map(|r| r.status), Some(200));
    }
}
