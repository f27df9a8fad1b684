//! HTTP/2 and gRPC from real captures (`fixtures/h2/`, made by `scripts/capture-h2.sh`):
//! packets through the real reassembler into [`H2Connection`], compared with what tshark
//! dissects from the same captures (`*.tshark.jsonl`, made by the same script).
//!
//! The harness here decides each connection's entry the way the HTTP tracker will: the client
//! preface means prior knowledge, an HTTP/1.1 request answered by a 101 means an upgrade, and
//! anything else a late join.

use std::collections::BTreeMap;
use std::path::PathBuf;

use apitap_reassembly::{
    Checksum, ConnId, Reassembler, ReassemblyConfig, Segment, Side, StreamEvent, TcpFlags,
};
use apitap_sessionizer::http2::frame::{self, Probe};
use apitap_sessionizer::http2::{
    Ctx, H2Anomaly, H2Connection, H2Exchange, H2Request, Http2Config, Http2Stats,
};
use apitap_tests::faults::tcp_segment;
use apitap_tests::pcapio::{read_pcap, Packet};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/h2")
        .join(name)
}

/// A stream event with its bytes owned.
enum Event {
    Open(ConnId),
    Data(ConnId, u64, Side, Vec<u8>),
    Gap(ConnId, u64, Side, u64),
    Close(ConnId, u64),
}

fn reassemble(packets: &[Packet]) -> Vec<Event> {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let mut events = Vec::new();
    let mut sink = |ev: StreamEvent<'_>| match ev {
        StreamEvent::Open { conn, .. } => events.push(Event::Open(conn)),
        StreamEvent::Data {
            conn,
            ts_us,
            from,
            data,
        } => events.push(Event::Data(conn, ts_us, from, data.to_vec())),
        StreamEvent::Gap {
            conn,
            ts_us,
            from,
            len,
        } => events.push(Event::Gap(conn, ts_us, from, len)),
        StreamEvent::Close { conn, ts_us, .. } => events.push(Event::Close(conn, ts_us)),
        StreamEvent::Anomaly { .. } => {}
    };
    let mut last = 0;
    for p in packets {
        let Some(t) = tcp_segment(p) else { continue };
        let flags = [
            (t.fin, TcpFlags::FIN),
            (t.syn, TcpFlags::SYN),
            (t.rst, TcpFlags::RST),
            (t.ack, TcpFlags::ACK),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .fold(0, |acc, (_, bit)| acc | bit);
        let seg = Segment {
            zone: 0,
            src: t.src,
            dst: t.dst,
            seq: t.seq,
            ack: t.ack_no,
            flags: TcpFlags(flags),
            payload: &p.data[t.payload.clone()],
            ttl: 64,
            checksum: Checksum::NotChecked,
        };
        last = p.ts.as_micros() as u64;
        r.process(last, &seg, &mut sink);
    }
    r.flush(last + 1, &mut sink);
    events
}

/// How far a connection's entry is decided.
enum Entry {
    /// Bytes so far, per side, until the first client bytes say what this is.
    Undecided {
        client: Vec<u8>,
        server: Vec<u8>,
    },
    /// An HTTP/1.1 request was seen: waiting for its head and the 101.
    Http1 {
        client: Vec<u8>,
        server: Vec<u8>,
    },
    H2(Box<H2Connection>),
}

/// The exchanges of every connection of a capture, keyed by connection order (tshark's
/// `tcp.stream`) and stream id.
struct Decoded {
    exchanges: BTreeMap<(u64, u32), H2Exchange>,
    stats: Http2Stats,
}

fn decode(packets: &[Packet]) -> Decoded {
    decode_events(&reassemble(packets))
}

fn decode_events(events: &[Event]) -> Decoded {
    let cfg = Http2Config {
        max_body_capture_bytes: 256,
        ..Http2Config::default()
    };
    let mut stats = Http2Stats::default();
    let mut out: Vec<(u64, H2Exchange)> = Vec::new();
    let mut conns: BTreeMap<ConnId, (u64, Entry)> = BTreeMap::new();
    let mut order = 0;
    for ev in events {
        let mut fresh = Vec::new();
        let mut cx = Ctx {
            cfg: &cfg,
            stats: &mut stats,
            out: &mut fresh,
        };
        let id = match *ev {
            Event::Open(id) => {
                conns.insert(
                    id,
                    (
                        order,
                        Entry::Undecided {
                            client: Vec::new(),
                            server: Vec::new(),
                        },
                    ),
                );
                order += 1;
                id
            }
            Event::Data(id, ts, side, ref data) => {
                if let Some((_, e)) = conns.get_mut(&id) {
                    feed(e, &cfg, ts, side, data, &mut cx);
                }
                id
            }
            Event::Gap(id, ts, side, len) => {
                if let Some((_, Entry::H2(c))) = conns.get_mut(&id) {
                    c.on_gap(ts, side, len, &mut cx);
                }
                id
            }
            Event::Close(id, ts) => {
                if let Some((n, Entry::H2(c))) = conns.remove(&id) {
                    c.close(ts, &mut cx);
                    out.extend(fresh.drain(..).map(|e| (n, e)));
                }
                id
            }
        };
        let n = conns.get(&id).map_or(0, |(n, _)| *n);
        out.extend(fresh.into_iter().map(|e| (n, e)));
    }
    let mut exchanges = BTreeMap::new();
    for (n, e) in out {
        assert!(
            exchanges.insert((n, e.stream_id), e).is_none(),
            "one exchange per stream"
        );
    }
    Decoded { exchanges, stats }
}

fn feed(e: &mut Entry, cfg: &Http2Config, ts: u64, side: Side, data: &[u8], cx: &mut Ctx<'_>) {
    match e {
        Entry::H2(c) => c.on_data(ts, side, data, cx),
        Entry::Undecided { client, server } | Entry::Http1 { client, server } => {
            match side {
                Side::Client => client.extend_from_slice(data),
                Side::Server => server.extend_from_slice(data),
            }
            let (c, s) = (std::mem::take(client), std::mem::take(server));
            *e = decide(e, cfg, ts, c, s, cx);
        }
    }
}

/// What the HTTP tracker does with a connection's first bytes.
fn decide(
    e: &Entry,
    cfg: &Http2Config,
    ts: u64,
    client: Vec<u8>,
    server: Vec<u8>,
    cx: &mut Ctx<'_>,
) -> Entry {
    let http1 = matches!(e, Entry::Http1 { .. });
    if !http1 {
        match frame::preface(&client) {
            Probe::Frame => {
                return start(H2Connection::prior_knowledge(cfg), ts, &client, &server, cx)
            }
            Probe::NeedMore if client.len() < frame::CLIENT_PREFACE.len() => {
                return Entry::Undecided { client, server };
            }
            _ if !client.starts_with(b"GET ") && !client.starts_with(b"POST ") => {
                return start(H2Connection::mid_stream(cfg), ts, &client, &server, cx);
            }
            _ => {}
        }
    }
    // HTTP/1.1 request: wait for its head and the server's 101 head.
    let (Some(req_end), Some(resp_end)) = (head_end(&client), head_end(&server)) else {
        return Entry::Http1 { client, server };
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    assert!(req.parse(&client).expect("HTTP/1.1 request").is_complete());
    assert!(
        server.starts_with(b"HTTP/1.1 101"),
        "upgrade answered with a 101"
    );
    let upgrade = H2Request {
        method: req.method.map(str::to_owned),
        path: req.path.map(str::to_owned),
        authority: req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("host"))
            .map(|h| String::from_utf8_lossy(h.value).into_owned()),
        ts_us: ts,
        end_ts_us: ts,
        complete: true,
        ..H2Request::default()
    };
    start(
        H2Connection::after_upgrade(cfg, upgrade),
        ts,
        &client[req_end..],
        &server[resp_end..],
        cx,
    )
}

fn head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn start(mut c: H2Connection, ts: u64, client: &[u8], server: &[u8], cx: &mut Ctx<'_>) -> Entry {
    c.on_data(ts, Side::Client, client, cx);
    c.on_data(ts, Side::Server, server, cx);
    Entry::H2(Box::new(c))
}

/// tshark's streams that carry a request or a response (nghttp's PRIORITY-only placeholder
/// streams are left out: they are never opened).
fn expected(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixture(name)).expect("expected file");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .filter(|v| v.get("method").is_some() || v.get("status").is_some())
        .collect()
}

fn key(v: &Value) -> (u64, u32) {
    (
        v["conn"].as_u64().expect("conn"),
        v["stream_id"].as_u64().expect("stream") as u32,
    )
}

/// Checks every stream tshark saw against apitap's exchange of the same stream.
fn compare(d: &Decoded, want: &[Value]) {
    assert_eq!(
        d.exchanges.len(),
        want.len(),
        "streams: {:?}",
        d.exchanges.keys().collect::<Vec<_>>()
    );
    for w in want {
        let ex = d
            .exchanges
            .get(&key(w))
            .unwrap_or_else(|| panic!("no exchange for {w}"));
        assert!(ex.anomalies.is_empty(), "{w}: {:?}", ex.anomalies);
        let req = ex.request.as_ref();
        if let Some(m) = w.get("method") {
            assert_eq!(req.and_then(|r| r.method.as_deref()), m.as_str(), "{w}");
            assert_eq!(
                req.and_then(|r| r.path.as_deref()),
                w["path"].as_str(),
                "{w}"
            );
            assert_eq!(
                req.and_then(|r| r.authority.as_deref()),
                w["authority"].as_str(),
                "{w}"
            );
        }
        let status = ex.response.as_ref().and_then(|r| r.status).map(u64::from);
        assert_eq!(status, w.get("status").and_then(Value::as_u64), "{w}");
        let Some(grpc_status) = w.get("grpc_status") else {
            assert!(ex.grpc.is_none(), "{w}");
            continue;
        };
        let g = ex
            .grpc
            .as_ref()
            .unwrap_or_else(|| panic!("{w}: not a gRPC call"));
        assert_eq!(g.status.map(u64::from), grpc_status.as_u64(), "{w}");
        let message = w["grpc_message"].as_str().filter(|m| !m.is_empty());
        assert_eq!(
            g.message.as_deref().filter(|m| !m.is_empty()),
            message,
            "{w}"
        );
        let n = |field: &str| w.get(field).and_then(Value::as_u64).unwrap_or(0);
        assert_eq!(
            (g.request.messages, g.request.bytes),
            (n("request_messages"), n("request_bytes")),
            "{w}"
        );
        assert_eq!(
            (g.response.messages, g.response.bytes),
            (n("response_messages"), n("response_bytes")),
            "{w}"
        );
        assert_eq!(
            g.request.compressed + g.response.compressed,
            n("compressed_messages"),
            "{w}"
        );
    }
}

#[test]
fn nginx_with_prior_knowledge_matches_tshark() {
    let d = decode(&read_pcap(fixture("nginx-prior-knowledge.pcap")).expect("pcap"));
    compare(&d, &expected("nginx-prior-knowledge.tshark.jsonl"));
    assert_eq!(d.stats.prefaces, 5);
    assert_eq!(
        (
            d.stats.frame_errors,
            d.stats.desyncs,
            d.stats.hpack_unknown_fields
        ),
        (0, 0, 0)
    );
    // Bodies are counted exactly: big.txt is 40001 bytes, over several DATA frames.
    let big = d
        .exchanges
        .values()
        .find(|e| e.request.as_ref().and_then(|r| r.path.as_deref()) == Some("/big.txt"));
    let body = &big
        .and_then(|e| e.response.as_ref())
        .expect("big.txt response")
        .body;
    assert_eq!(
        (body.bytes, body.captured.len(), body.truncated),
        (40001, 256, true)
    );
    let post = d
        .exchanges
        .get(&(3, 1))
        .and_then(|e| e.request.as_ref())
        .expect("POST");
    assert_eq!(
        (post.body.bytes, post.body.captured.as_slice()),
        (23, &br#"{"item":"book","qty":2}"#[..])
    );
    assert_eq!(post.headers.get("content-type"), Some("application/json"));
}

#[test]
fn hypercorn_upgrade_matches_tshark() {
    let d = decode(&read_pcap(fixture("hypercorn-upgrade.pcap")).expect("pcap"));
    compare(&d, &expected("hypercorn-upgrade.tshark.jsonl"));
    let one = d.exchanges.get(&(0, 1)).expect("stream 1");
    let req = one.request.as_ref().expect("the HTTP/1.1 request");
    assert_eq!(
        (req.method.as_deref(), req.path.as_deref()),
        (Some("GET"), Some("/first"))
    );
    let resp = one.response.as_ref().expect("response on stream 1");
    assert_eq!(resp.headers.get("x-fixture"), Some("upgrade"));
    assert_eq!(resp.body.captured, b"hello over h2c /first\n");
    assert_eq!(d.stats.prefaces, 1);
}

#[test]
fn grpcio_calls_match_tshark() {
    let d = decode(&read_pcap(fixture("grpc.pcap")).expect("pcap"));
    let want = expected("grpc.tshark.jsonl");
    assert_eq!(
        want.len(),
        6,
        "unary, server stream, client stream, gzip, two failures"
    );
    compare(&d, &want);
    let failed = d
        .exchanges
        .get(&(0, 9))
        .and_then(|e| e.grpc.as_ref())
        .expect("failing call");
    assert_eq!(
        (failed.service.as_str(), failed.method.as_str()),
        ("shop.Orders", "GetOrder")
    );
    assert_eq!(
        (failed.status, failed.message.as_deref()),
        (Some(5), Some("order 42 not found: \u{2713}"))
    );
    assert_eq!(d.stats.grpc_calls, 6);
}

/// The capture starts right after the multi-stream connection's first HEADERS frame (in the
/// middle of the client's first segment, which carries every request): later streams keep
/// their method and path unless their header block needs a dynamic entry never seen, and
/// those are flagged; nothing decoded differs from tshark's full view.
#[test]
fn a_late_join_on_nginx_decodes_or_flags_every_later_stream() {
    let want = expected("nginx-prior-knowledge.tshark.jsonl");
    let last_conn = want.iter().map(|w| key(w).0).max().expect("connections");
    let events = reassemble(&read_pcap(fixture("nginx-prior-knowledge.pcap")).expect("pcap"));
    let mut opened = Vec::new();
    let (mut client, mut server) = (Vec::new(), Vec::new());
    for ev in &events {
        match ev {
            Event::Open(id) => opened.push(*id),
            Event::Data(id, _, side, data)
                if opened.iter().position(|o| o == id) == Some(last_conn as usize) =>
            {
                match side {
                    Side::Client => client.extend_from_slice(data),
                    Side::Server => server.extend_from_slice(data),
                }
            }
            _ => {}
        }
    }
    // Skip the preface and every frame up to the first HEADERS, inclusive.
    let mut at = frame::CLIENT_PREFACE.len();
    loop {
        match frame::parse_frame(&client[at..], frame::MAX_FRAME_BYTES_LIMIT) {
            frame::Parse::Complete { consumed, value } => {
                at += consumed;
                if matches!(value, frame::Frame::Headers { .. }) {
                    break;
                }
            }
            other => panic!("client stream: {other:?}"),
        }
    }
    let cfg = Http2Config::default();
    let mut stats = Http2Stats::default();
    let mut out = Vec::new();
    let mut cx = Ctx {
        cfg: &cfg,
        stats: &mut stats,
        out: &mut out,
    };
    let mut c = H2Connection::mid_stream(&cfg);
    c.on_data(1, Side::Client, &client[at..], &mut cx);
    c.on_data(2, Side::Server, &server, &mut cx);
    c.close(3, &mut cx);
    let mut decoded = 0;
    let mut flagged = 0;
    for w in want.iter().filter(|w| key(w).0 == last_conn) {
        let ex = out
            .iter()
            .find(|e| e.stream_id == key(w).1)
            .unwrap_or_else(|| panic!("{w}: not reported"));
        let req = ex.request.as_ref();
        match req.and_then(|r| r.path.as_deref()) {
            Some(path) => {
                assert_eq!(Some(path), w["path"].as_str(), "{w}: never a wrong path");
                assert_eq!(
                    req.and_then(|r| r.method.as_deref()),
                    w["method"].as_str(),
                    "{w}"
                );
                decoded += 1;
            }
            None => flagged += 1,
        }
        let missing = req.is_none_or(|r| r.unknown_fields > 0 || r.authority.is_none());
        if missing {
            let flags = [H2Anomaly::HpackStateUnknown, H2Anomaly::RequestNotSeen];
            assert!(
                ex.anomalies.iter().any(|a| flags.contains(a)),
                "{w}: {:?}",
                ex.anomalies
            );
        }
        let status = ex.response.as_ref().and_then(|r| r.status).map(u64::from);
        assert_eq!(
            status,
            w["status"].as_u64(),
            "{w}: the server's HPACK state is whole"
        );
    }
    // The first stream's request was before the capture; the three after it decode.
    assert_eq!((decoded, flagged), (3, 1), "later streams reported");
    assert_eq!(stats.resyncs, 2, "each direction found its first frame");
}

/// How fast the HTTP/2 stage decodes each capture's reassembled streams (reassembly excluded).
/// A measurement, not a check: `cargo test --release -p apitap-sessionizer --test h2_captures
/// -- --ignored --nocapture`; figures belong in docs/bench.md.
#[test]
#[ignore = "a measurement; run on demand in release"]
fn h2_stage_throughput() {
    for name in [
        "nginx-prior-knowledge.pcap",
        "hypercorn-upgrade.pcap",
        "grpc.pcap",
    ] {
        let events = reassemble(&read_pcap(fixture(name)).expect("pcap"));
        let bytes: usize = events
            .iter()
            .map(|e| match e {
                Event::Data(_, _, _, d) => d.len(),
                _ => 0,
            })
            .sum();
        let runs = 5000;
        let start = std::time::Instant::now();
        let mut streams = 0;
        for _ in 0..runs {
            streams += decode_events(&events).exchanges.len();
        }
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{name}: {} streams and {bytes} stream bytes per run; {:.0} streams/s, {:.0} MB/s",
            streams / runs,
            streams as f64 / secs,
            (bytes * runs) as f64 / secs / 1e6,
        );
    }
}
