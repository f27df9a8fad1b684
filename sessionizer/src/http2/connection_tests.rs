//! Connection tests: conversations built frame by frame, fed through [`H2Connection`].

use apitap_reassembly::Side;

use super::*;
use crate::http2::frame::{flags, CLIENT_PREFACE};
use crate::http2::grpc::MessageCounts;

// ---------------------------------------------------------------------------------------------
// Builders.

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&stream_id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK integer with a `prefix`-bit prefix and the `high` bits of the first octet.
fn int(out: &mut Vec<u8>, high: u8, prefix: u32, mut v: usize) {
    let max = (1usize << prefix) - 1;
    if v < max {
        out.push(high | v as u8);
        return;
    }
    out.push(high | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

fn string(out: &mut Vec<u8>, s: &str) {
    int(out, 0, 7, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// A header block of literals without indexing (no HPACK state involved).
fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        out.push(0x00);
        string(&mut out, n);
        string(&mut out, v);
    }
    out
}

/// A literal with incremental indexing (inserted into the dynamic table).
fn indexed_literal(name: &str, value: &str) -> Vec<u8> {
    let mut out = vec![0x40];
    string(&mut out, name);
    string(&mut out, value);
    out
}

/// An indexed field.
fn indexed(index: usize) -> Vec<u8> {
    let mut out = Vec::new();
    int(&mut out, 0x80, 7, index);
    out
}

fn get(path: &str) -> Vec<u8> {
    block(&[
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "example.test"),
        (":path", path),
    ])
}

fn status(code: &str) -> Vec<u8> {
    block(&[(":status", code), ("content-type", "text/plain")])
}

const END_HEADERS: u8 = flags::END_HEADERS;
const END_STREAM: u8 = flags::END_STREAM;
const BOTH: u8 = END_HEADERS | END_STREAM;

/// The client's opening: preface and an empty SETTINGS.
fn client_start() -> Vec<u8> {
    [CLIENT_PREFACE.to_vec(), frame(SETTINGS, 0, 0, &[])].concat()
}

/// The server's opening: SETTINGS (max frame size 16384) and the ACK of the client's.
fn server_start() -> Vec<u8> {
    [
        frame(SETTINGS, 0, 0, b"\0\x05\0\0\x40\0"),
        frame(SETTINGS, flags::ACK, 0, &[]),
    ]
    .concat()
}

/// A connection fed by hand, with its own stats and output.
struct Conn {
    conn: Option<H2Connection>,
    cfg: Http2Config,
    stats: Http2Stats,
    out: Vec<H2Exchange>,
    ts: u64,
}

impl Conn {
    fn prior_knowledge() -> Self {
        Self::with(
            Http2Config {
                max_body_capture_bytes: 1024,
                ..Http2Config::default()
            },
            H2Connection::prior_knowledge,
        )
    }

    fn with(cfg: Http2Config, make: fn(&Http2Config) -> H2Connection) -> Self {
        Conn {
            conn: Some(make(&cfg)),
            cfg,
            stats: Http2Stats::default(),
            out: Vec::new(),
            ts: 100,
        }
    }

    fn send(&mut self, from: Side, data: &[u8]) -> &mut Self {
        self.ts += 1;
        let mut cx = Ctx {
            cfg: &self.cfg,
            stats: &mut self.stats,
            out: &mut self.out,
        };
        if let Some(c) = self.conn.as_mut() {
            c.on_data(self.ts, from, data, &mut cx);
        }
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
        let mut cx = Ctx {
            cfg: &self.cfg,
            stats: &mut self.stats,
            out: &mut self.out,
        };
        if let Some(c) = self.conn.as_mut() {
            c.on_gap(self.ts, from, len, &mut cx);
        }
        self
    }

    fn close(&mut self) -> &mut Self {
        self.ts += 1;
        let mut cx = Ctx {
            cfg: &self.cfg,
            stats: &mut self.stats,
            out: &mut self.out,
        };
        if let Some(c) = self.conn.take() {
            c.close(self.ts, &mut cx);
        }
        self
    }

    fn only(&self) -> &H2Exchange {
        assert_eq!(self.out.len(), 1, "{:#?}", self.out);
        &self.out[0]
    }
}

fn req(ex: &H2Exchange) -> &H2Request {
    ex.request.as_ref().expect("request")
}

fn resp(ex: &H2Exchange) -> &H2Response {
    ex.response.as_ref().expect("response")
}

// ---------------------------------------------------------------------------------------------
// Exchanges.

#[test]
fn a_prior_knowledge_get_gives_one_exchange_with_pseudo_headers_body_and_times() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(
            HEADERS,
            BOTH,
            1,
            &[get("/users?id=7"), block(&[("user-agent", "curl/8")])].concat(),
        ))
        .s(&server_start())
        .s(&frame(HEADERS, END_HEADERS, 1, &status("200")))
        .s(&frame(DATA, 0, 1, b"hello "))
        .s(&frame(DATA, END_STREAM, 1, b"world"));
    let ex = t.only();
    assert_eq!(ex.stream_id, 1);
    let r = req(ex);
    assert_eq!(
        (
            r.method.as_deref(),
            r.scheme.as_deref(),
            r.authority.as_deref(),
            r.path.as_deref()
        ),
        (
            Some("GET"),
            Some("http"),
            Some("example.test"),
            Some("/users?id=7")
        )
    );
    assert_eq!(r.headers.get("user-agent"), Some("curl/8"));
    assert!(r.complete && r.body.bytes == 0);
    assert_eq!((r.ts_us, r.end_ts_us), (102, 102));
    let p = resp(ex);
    assert_eq!(p.status, Some(200));
    assert_eq!(p.headers.get("content-type"), Some("text/plain"));
    assert_eq!(
        (p.body.bytes, p.body.captured.as_slice(), p.body.truncated),
        (11, &b"hello world"[..], false)
    );
    assert_eq!((p.ts_us, p.end_ts_us), (104, 106));
    assert!(ex.anomalies.is_empty(), "{:?}", ex.anomalies);
    assert_eq!(
        (t.stats.prefaces, t.stats.settings_frames, t.stats.exchanges),
        (1, 3, 1)
    );
}

#[test]
fn post_body_is_counted_exactly_and_captured_up_to_the_cap_with_trailers() {
    let cfg = Http2Config {
        max_body_capture_bytes: 4,
        ..Http2Config::default()
    };
    let mut t = Conn::with(cfg, H2Connection::prior_knowledge);
    let post = block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "a"),
        (":path", "/up"),
    ]);
    t.c(&client_start())
        .c(&frame(HEADERS, END_HEADERS, 1, &post))
        .c(&frame(DATA, 0, 1, b"0123456789"))
        .c(&frame(HEADERS, BOTH, 1, &block(&[("x-checksum", "abc")])))
        .s(&frame(HEADERS, END_HEADERS, 1, &status("201")))
        .s(&frame(HEADERS, BOTH, 1, &block(&[("x-done", "yes")])));
    let ex = t.only();
    let r = req(ex);
    assert_eq!(
        (r.body.bytes, r.body.captured.as_slice(), r.body.truncated),
        (10, &b"0123"[..], true)
    );
    assert_eq!(r.trailers.get("x-checksum"), Some("abc"));
    assert!(r.headers.get("x-checksum").is_none(), "trailers stay apart");
    assert_eq!(resp(ex).trailers.get("x-done"), Some("yes"));
    assert_eq!(resp(ex).status, Some(201));
}

#[test]
fn headers_and_continuations_are_joined_even_split_inside_a_field() {
    let b = [get("/split"), block(&[("x-long", &"v".repeat(100))])].concat();
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(HEADERS, END_STREAM, 1, &b[..7]))
        .c(&frame(CONTINUATION, 0, 1, &b[7..50]))
        .c(&frame(CONTINUATION, END_HEADERS, 1, &b[50..]))
        .s(&frame(HEADERS, BOTH, 1, &status("204")));
    let ex = t.only();
    assert_eq!(req(ex).path.as_deref(), Some("/split"));
    assert_eq!(req(ex).headers.get("x-long").map(str::len), Some(100));
    assert!(ex.anomalies.is_empty());
}

#[test]
fn a_frame_inside_a_header_block_loses_the_block_and_the_hpack_state() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(
            HEADERS,
            END_HEADERS,
            1,
            &indexed_literal("x-a", "1"),
        ))
        .c(&frame(HEADERS, END_STREAM, 3, &get("/cut")[..5]))
        .c(&frame(PING, 0, 0, b"12345678"))
        .c(&frame(CONTINUATION, END_HEADERS, 3, &get("/cut")[5..]))
        // x-a was inserted by stream 1's block, but the lost block may have inserted more.
        .c(&frame(
            HEADERS,
            BOTH,
            5,
            &[get("/after"), indexed(62)].concat(),
        ));
    t.close();
    let by_id = |id| t.out.iter().find(|e| e.stream_id == id).expect("stream");
    assert!(by_id(3).anomalies.contains(&H2Anomaly::FrameError));
    let five = by_id(5);
    assert_eq!(req(five).path.as_deref(), Some("/after"));
    assert_eq!(req(five).unknown_fields, 1);
    assert!(five.anomalies.contains(&H2Anomaly::HpackStateUnknown));
    assert!(t.stats.frame_errors >= 1 && t.stats.hpack_state_resets == 1);
}

#[test]
fn padding_is_removed_from_data_and_headers() {
    let mut hb = vec![3u8]; // pad length
    hb.extend_from_slice(&[0x80, 0, 0, 0, 0x10]); // priority: exclusive, on stream 0, weight 16
    hb.extend_from_slice(&get("/padded"));
    hb.extend_from_slice(&[0, 0, 0]);
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(
            HEADERS,
            BOTH | flags::PADDED | flags::PRIORITY,
            1,
            &hb,
        ))
        .s(&frame(HEADERS, END_HEADERS, 1, &status("200")))
        .s(&frame(
            DATA,
            END_STREAM | flags::PADDED,
            1,
            b"\x05abc\0\0\0\0\0",
        ));
    let ex = t.only();
    assert_eq!(req(ex).path.as_deref(), Some("/padded"));
    assert_eq!(
        (resp(ex).body.bytes, resp(ex).body.captured.as_slice()),
        (3, &b"abc"[..])
    );
    assert_eq!(t.stats.data_bytes, 3);
}

#[test]
fn padding_longer_than_the_frame_is_a_frame_error_and_the_next_frame_still_parses() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(HEADERS, BOTH, 1, &get("/")))
        .s(&frame(HEADERS, END_HEADERS, 1, &status("200")))
        .s(&frame(DATA, flags::PADDED, 1, b"\x09abc"))
        .s(&frame(DATA, END_STREAM, 1, b"ok"));
    let ex = t.only();
    assert!(ex.anomalies.contains(&H2Anomaly::FrameError));
    assert_eq!(resp(ex).body.bytes, 2);
    assert_eq!(t.stats.frame_errors, 1);
}

#[test]
fn rst_stream_ends_the_stream_and_only_errors_are_anomalies() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(HEADERS, BOTH, 1, &get("/slow")))
        .c(&frame(HEADERS, BOTH, 3, &get("/early")))
        .s(&frame(HEADERS, END_HEADERS, 1, &status("200")))
        .c(&frame(RST_STREAM, 0, 1, &8u32.to_be_bytes()))
        .s(&frame(HEADERS, BOTH, 3, &status("200")))
        .s(&frame(RST_STREAM, 0, 3, &0u32.to_be_bytes()))
        .s(&frame(DATA, END_STREAM, 1, b"late"));
    assert_eq!(t.out.len(), 2);
    let one = &t.out[0];
    assert_eq!(
        one.reset,
        Some(Reset {
            by: Side::Client,
            error_code: 8
        })
    );
    assert_eq!(one.anomalies, [H2Anomaly::RstStream]);
    assert_eq!(
        resp(one).body.bytes,
        0,
        "DATA after the reset belongs to a closed stream"
    );
    assert!(
        t.out[1].anomalies.is_empty() && t.out[1].reset.is_none(),
        "ended before the RST"
    );
    assert_eq!(t.stats.frames_on_closed_streams, 2);
}

#[test]
fn goaway_emits_the_streams_it_says_were_never_processed() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(HEADERS, BOTH, 1, &get("/a")))
        .c(&frame(HEADERS, BOTH, 3, &get("/b")))
        .s(&frame(GOAWAY, 0, 0, b"\0\0\0\x01\0\0\0\0bye"));
    assert_eq!(t.out.len(), 1);
    assert_eq!(
        (t.out[0].stream_id, t.out[0].anomalies.as_slice()),
        (3, &[H2Anomaly::GoAway][..])
    );
    t.s(&frame(HEADERS, BOTH, 1, &status("200")));
    assert_eq!(t.out.len(), 2);
    assert!(t.out[1].anomalies.is_empty());
    assert_eq!(t.stats.goaways, 1);
}

#[test]
fn at_the_stream_bound_the_oldest_stream_is_emitted_and_counted() {
    let cfg = Http2Config {
        max_concurrent_streams: 2,
        ..Http2Config::default()
    };
    let mut t = Conn::with(cfg, H2Connection::prior_knowledge);
    t.c(&client_start());
    for id in [1, 3, 5] {
        t.c(&frame(HEADERS, BOTH, id, &get("/x")));
    }
    assert_eq!(t.out.len(), 1);
    assert_eq!(
        (t.out[0].stream_id, t.out[0].anomalies.as_slice()),
        (1, &[H2Anomaly::StreamLimit][..])
    );
    assert_eq!(t.conn.as_ref().map(H2Connection::open_streams), Some(2));
    let held = t.conn.as_ref().map_or(0, H2Connection::buffered_bytes);
    assert!(
        held > 0 && held < 4096,
        "two small requests and the tables: {held} bytes"
    );
    // The evicted stream's late response is on a closed stream; the others still pair.
    t.s(&frame(HEADERS, BOTH, 1, &status("200")))
        .s(&frame(HEADERS, BOTH, 3, &status("200")))
        .s(&frame(HEADERS, BOTH, 5, &status("200")));
    assert_eq!(t.out.len(), 3);
    assert!(t.out[1..]
        .iter()
        .all(|e| e.anomalies.is_empty() && e.response.is_some()));
    assert_eq!(
        (
            t.stats.stream_limit_evictions,
            t.stats.anomaly_count(H2Anomaly::StreamLimit)
        ),
        (1, 1)
    );
}

#[test]
fn fields_past_the_header_list_bound_are_dropped_but_the_table_stays_in_step() {
    let cfg = Http2Config {
        max_header_list_bytes: 300,
        ..Http2Config::default()
    };
    let mut t = Conn::with(cfg, H2Connection::prior_knowledge);
    let big = "b".repeat(150);
    let first = [
        get("/one"),
        indexed_literal("x-big", &big),
        indexed_literal("x-small", "s"),
    ]
    .concat();
    t.c(&client_start()).c(&frame(HEADERS, BOTH, 1, &first));
    // Stream 3 refers to both entries inserted past the bound: newest first.
    t.c(&frame(
        HEADERS,
        BOTH,
        3,
        &[get("/two"), indexed(62)].concat(),
    ));
    t.close();
    let one = &t.out[0];
    assert!(one.anomalies.contains(&H2Anomaly::HeaderListTooLarge));
    assert_eq!(req(one).path.as_deref(), Some("/one"));
    assert!(req(one).headers.get("x-small").is_none());
    let two = &t.out[1];
    assert_eq!(
        req(two).headers.get("x-small"),
        Some("s"),
        "decoded from the table"
    );
    assert!(!two.anomalies.contains(&H2Anomaly::HpackStateUnknown));
    assert!(t.stats.header_fields_over_limit >= 1);
}

#[test]
fn a_compressed_block_over_the_bound_is_skipped_and_its_state_forgotten() {
    let cfg = Http2Config {
        max_header_list_bytes: 256,
        ..Http2Config::default()
    };
    let mut t = Conn::with(cfg, H2Connection::prior_knowledge);
    let huge = [get("/huge"), indexed_literal("x-pad", &"p".repeat(300))].concat();
    t.c(&client_start())
        .c(&frame(
            HEADERS,
            END_HEADERS,
            1,
            &indexed_literal("x-a", "1"),
        ))
        .c(&frame(HEADERS, BOTH, 3, &huge))
        .c(&frame(
            HEADERS,
            BOTH,
            5,
            &[get("/next"), indexed(62)].concat(),
        ));
    t.close();
    let three = t
        .out
        .iter()
        .find(|e| e.stream_id == 3)
        .expect("stream 3 kept, without fields");
    assert!(three.anomalies.contains(&H2Anomaly::HeaderListTooLarge));
    assert_eq!(req(three).method, None);
    let five = t.out.iter().find(|e| e.stream_id == 5).expect("stream 5");
    assert_eq!(req(five).path.as_deref(), Some("/next"));
    assert!(
        five.anomalies.contains(&H2Anomaly::HpackStateUnknown),
        "index 62 is not x-a any more"
    );
    assert_eq!(t.stats.header_blocks_too_large, 1);
}

#[test]
fn an_upgraded_connection_answers_the_http1_request_on_stream_1() {
    let upgrade = H2Request {
        method: Some("GET".into()),
        path: Some("/up".into()),
        authority: Some("example.test".into()),
        ts_us: 50,
        end_ts_us: 50,
        complete: true,
        ..H2Request::default()
    };
    let mut t = Conn::with(Http2Config::default(), |cfg| {
        H2Connection::after_upgrade(cfg, H2Request::default())
    });
    t.conn = Some(H2Connection::after_upgrade(&t.cfg, upgrade));
    t.s(&server_start())
        .s(&frame(HEADERS, END_HEADERS, 1, &status("200")))
        .c(&client_start())
        .s(&frame(DATA, END_STREAM, 1, b"upgraded"))
        .c(&frame(HEADERS, BOTH, 3, &get("/second")))
        .s(&frame(HEADERS, BOTH, 3, &status("404")));
    assert_eq!(t.out.len(), 2);
    let one = &t.out[0];
    assert_eq!(
        (one.stream_id, req(one).path.as_deref(), req(one).ts_us),
        (1, Some("/up"), 50)
    );
    assert_eq!((resp(one).status, resp(one).body.bytes), (Some(200), 8));
    assert!(one.anomalies.is_empty());
    assert_eq!(
        (req(&t.out[1]).path.as_deref(), resp(&t.out[1]).status),
        (Some("/second"), Some(404))
    );
}

#[test]
fn the_upgrade_request_comes_from_the_http1_request() {
    let mut h1 = crate::http::Request {
        method: "POST".into(),
        uri: "/submit?x=1".into(),
        version_minor: 1,
        body_bytes: 3,
        body: b"abc".to_vec(),
        ts_us: 7,
        end_ts_us: 8,
        ..crate::http::Request::default()
    };
    h1.headers.push("Host", "example.test");
    h1.headers.push("Upgrade", "h2c");
    let r = H2Request::from_http1(&h1);
    assert_eq!(
        (
            r.method.as_deref(),
            r.path.as_deref(),
            r.authority.as_deref(),
            r.scheme.as_deref()
        ),
        (
            Some("POST"),
            Some("/submit?x=1"),
            Some("example.test"),
            Some("http")
        )
    );
    assert_eq!(
        (
            r.body.bytes,
            r.body.captured.as_slice(),
            r.ts_us,
            r.end_ts_us
        ),
        (3, &b"abc"[..], 7, 8)
    );
    assert!(r.complete && r.headers.get("upgrade") == Some("h2c"));
}

#[test]
fn a_late_join_decodes_streams_that_need_no_unseen_entry_and_flags_the_others() {
    // The capture starts after the connection's first request inserted x-token.
    let mut t = Conn::with(Http2Config::default(), H2Connection::mid_stream);
    t.c(&frame(HEADERS, BOTH, 3, &[get("/static-only")].concat()))
        .c(&frame(
            HEADERS,
            BOTH,
            5,
            &[get("/uses-old"), indexed(62)].concat(),
        ))
        .s(&frame(HEADERS, BOTH, 1, &status("200")))
        .s(&frame(HEADERS, BOTH, 3, &status("200")))
        .s(&frame(HEADERS, BOTH, 5, &status("200")));
    assert_eq!(t.out.len(), 3);
    let by_id = |id| t.out.iter().find(|e| e.stream_id == id).expect("stream");
    assert_eq!(by_id(1).anomalies, [H2Anomaly::RequestNotSeen]);
    assert!(by_id(1).request.is_none());
    assert_eq!(req(by_id(3)).path.as_deref(), Some("/static-only"));
    assert!(by_id(3).anomalies.is_empty());
    assert_eq!(req(by_id(5)).path.as_deref(), Some("/uses-old"));
    assert_eq!(by_id(5).anomalies, [H2Anomaly::HpackStateUnknown]);
    assert_eq!(t.stats.resyncs, 2);
    // Stream 1 was opened before the capture and is emitted: its late frames stay closed.
    t.s(&frame(DATA, END_STREAM, 1, b"late"));
    assert_eq!((t.out.len(), t.stats.frames_on_closed_streams), (3, 1));
}

#[test]
fn a_late_join_in_the_middle_of_a_frame_finds_the_next_frame() {
    let mut t = Conn::with(Http2Config::default(), H2Connection::mid_stream);
    let tail_of_data = frame(DATA, 0, 1, &[0x11; 300]);
    t.c(&tail_of_data[120..])
        .c(&frame(HEADERS, BOTH, 3, &get("/found")))
        .s(&frame(HEADERS, BOTH, 3, &status("200")));
    let ex = t.out.iter().find(|e| e.stream_id == 3).expect("stream 3");
    assert_eq!(req(ex).path.as_deref(), Some("/found"));
    assert!(t.stats.desync_skipped_bytes >= 180);
}

#[test]
fn a_gap_inside_data_keeps_sync_and_a_gap_elsewhere_resyncs() {
    let mut t = Conn::prior_knowledge();
    let body = frame(DATA, END_STREAM, 1, &[7; 100]);
    t.c(&client_start())
        .c(&frame(HEADERS, BOTH, 1, &get("/a")))
        .s(&frame(HEADERS, END_HEADERS, 1, &status("200")))
        .s(&body[..30])
        .gap(Side::Server, 40)
        .s(&body[70..]);
    let ex = t.only();
    assert_eq!(resp(ex).body.bytes, 100, "lost bytes counted");
    assert!(resp(ex).body.truncated);
    assert_eq!(ex.anomalies, [H2Anomaly::GapInResponse]);
    assert_eq!((t.stats.desyncs, t.stats.gap_bytes_in_frames), (0, 40));
    // A gap between frames: desync, the open stream is marked, the next frame is found.
    t.c(&frame(HEADERS, BOTH, 3, &get("/b")))
        .gap(Side::Server, 25)
        .s(&frame(HEADERS, BOTH, 3, &status("503")));
    assert_eq!(t.out.len(), 2);
    assert_eq!(resp(&t.out[1]).status, Some(503));
    assert_eq!(t.out[1].anomalies, [H2Anomaly::GapInResponse]);
    assert_eq!((t.stats.desyncs, t.stats.resyncs), (1, 1));
}

#[test]
fn interim_responses_are_kept_apart_from_the_final_one() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(HEADERS, BOTH, 1, &get("/")))
        .s(&frame(
            HEADERS,
            END_HEADERS,
            1,
            &block(&[(":status", "103"), ("link", "</s.css>")]),
        ))
        .s(&frame(HEADERS, BOTH, 1, &status("200")));
    let p = resp(t.only());
    assert_eq!((p.status, p.interim.as_slice()), (Some(200), &[103][..]));
    assert_eq!(p.headers.get("link"), None);
}

#[test]
fn a_pushed_stream_takes_its_request_from_the_promise() {
    let mut t = Conn::prior_knowledge();
    let promise = [2u32.to_be_bytes().to_vec(), get("/style.css")].concat();
    t.c(&client_start())
        .c(&frame(HEADERS, BOTH, 1, &get("/")))
        .s(&frame(PUSH_PROMISE, END_HEADERS, 1, &promise))
        .s(&frame(HEADERS, BOTH, 1, &status("200")))
        .s(&frame(HEADERS, END_HEADERS, 2, &status("200")))
        .s(&frame(DATA, END_STREAM, 2, b"body{}"));
    assert_eq!(t.out.len(), 2);
    let pushed = &t.out[1];
    assert!(pushed.pushed && pushed.anomalies.is_empty());
    assert_eq!(
        (pushed.stream_id, req(pushed).path.as_deref()),
        (2, Some("/style.css"))
    );
    assert_eq!(resp(pushed).body.bytes, 6);
}

#[test]
fn control_and_unknown_frames_are_counted_and_skipped() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(WINDOW_UPDATE, 0, 0, &[0, 1, 0, 0]))
        .c(&frame(PRIORITY, 0, 1, &[0, 0, 0, 0, 16]))
        .c(&frame(0x42, 0x3, 1, b"extension"))
        .c(&frame(PING, 0, 0, b"pingpong"))
        .c(&frame(HEADERS, BOTH, 1, &get("/")))
        .s(&frame(HEADERS, BOTH, 1, &status("200")));
    assert!(t.only().anomalies.is_empty());
    let s = &t.stats;
    assert_eq!(
        (
            s.window_update_frames,
            s.priority_frames,
            s.unknown_frames,
            s.ping_frames
        ),
        (1, 1, 1, 1)
    );
}

#[test]
fn close_emits_open_streams_in_id_order_marked_incomplete() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(HEADERS, END_HEADERS, 1, &get("/uploading")))
        .c(&frame(HEADERS, BOTH, 3, &get("/waiting")))
        .s(&frame(HEADERS, END_HEADERS, 3, &status("200")))
        .close();
    assert_eq!(t.out.len(), 2);
    assert_eq!(
        (t.out[0].stream_id, t.out[0].anomalies.as_slice()),
        (1, &[H2Anomaly::IncompleteRequest][..])
    );
    assert_eq!(
        (t.out[1].stream_id, t.out[1].anomalies.as_slice()),
        (3, &[H2Anomaly::IncompleteResponse][..])
    );
}

#[test]
fn a_corrupt_header_block_keeps_the_fields_before_the_error_and_forgets_the_table() {
    let mut t = Conn::prior_knowledge();
    let corrupt = [get("/corrupt"), vec![0x80]].concat(); // index 0: a decoding error
    t.c(&client_start())
        .c(&frame(
            HEADERS,
            END_HEADERS,
            1,
            &indexed_literal("x-a", "1"),
        ))
        .c(&frame(HEADERS, BOTH, 3, &corrupt))
        .c(&frame(
            HEADERS,
            BOTH,
            5,
            &[get("/next"), indexed(62)].concat(),
        ))
        .close();
    let three = t.out.iter().find(|e| e.stream_id == 3).expect("stream 3");
    assert_eq!(req(three).path.as_deref(), Some("/corrupt"));
    assert!(three.anomalies.contains(&H2Anomaly::HpackError));
    assert!(!three.anomalies.contains(&H2Anomaly::MissingPseudoHeader));
    let five = t.out.iter().find(|e| e.stream_id == 5).expect("stream 5");
    assert!(five.anomalies.contains(&H2Anomaly::HpackStateUnknown));
    assert_eq!((t.stats.hpack_errors, t.stats.hpack_state_resets), (1, 1));
}

#[test]
fn a_settings_frame_size_widens_what_a_resync_accepts() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(HEADERS, BOTH, 1, &get("/big")))
        // The client allows frames of 32 KiB from the server.
        .c(&frame(SETTINGS, 0, 0, b"\0\x05\0\0\x80\0"))
        .s(&frame(HEADERS, END_HEADERS, 1, &status("200")))
        .gap(Side::Server, 9)
        .s(&[b'x'; 500])
        .s(&[
            frame(DATA, 0, 1, &[b'y'; 20_000]),
            frame(DATA, END_STREAM, 1, b"end"),
        ]
        .concat());
    // The 20000-byte frame after the gap is the resync point: its length is within the
    // 32 KiB the client allowed (at the 16 KiB default it would not be, and only the 3-byte
    // frame after it would be found).
    let p = resp(t.only());
    assert_eq!(p.body.bytes, 20_003);
    assert_eq!(t.stats.resyncs, 1);
}

#[test]
fn a_request_without_method_is_missing_a_pseudo_header() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(HEADERS, BOTH, 1, &block(&[(":path", "/")])))
        .s(&frame(HEADERS, BOTH, 1, &block(&[("x", "no status")])));
    assert_eq!(t.only().anomalies, [H2Anomaly::MissingPseudoHeader]);
}

#[test]
fn bytes_that_are_not_the_preface_desync_and_find_frames() {
    let mut t = Conn::prior_knowledge();
    t.c(b"GARBAGE!")
        .c(&frame(HEADERS, BOTH, 1, &get("/after-garbage")))
        .s(&frame(HEADERS, BOTH, 1, &status("200")));
    assert_eq!(req(t.only()).path.as_deref(), Some("/after-garbage"));
    assert_eq!(
        (t.stats.prefaces, t.stats.desyncs, t.stats.resyncs),
        (0, 1, 1)
    );
}

// ---------------------------------------------------------------------------------------------
// gRPC.

fn grpc_message(flag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![flag];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn grpc_request(path: &str) -> Vec<u8> {
    block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "svc:50051"),
        (":path", path),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ])
}

#[test]
fn a_grpc_call_counts_messages_split_over_frames_and_reads_its_status() {
    let mut t = Conn::prior_knowledge();
    let msgs = [grpc_message(0, b"first"), grpc_message(1, &[9; 40])].concat();
    t.c(&client_start())
        .c(&frame(
            HEADERS,
            END_HEADERS,
            1,
            &grpc_request("/shop.Orders/Watch"),
        ))
        .c(&frame(DATA, 0, 1, &msgs[..3]))
        .c(&frame(DATA, 0, 1, &msgs[3..20]))
        .c(&frame(DATA, END_STREAM, 1, &msgs[20..]))
        .s(&frame(
            HEADERS,
            END_HEADERS,
            1,
            &block(&[(":status", "200"), ("content-type", "application/grpc")]),
        ))
        .s(&frame(DATA, 0, 1, &grpc_message(0, b"a")))
        .s(&frame(DATA, 0, 1, &grpc_message(0, b"bc")))
        .s(&frame(
            HEADERS,
            BOTH,
            1,
            &block(&[
                ("grpc-status", "5"),
                ("grpc-message", "order%2042%20not%20found"),
            ]),
        ));
    let g = t.only().grpc.as_ref().expect("grpc");
    assert_eq!(
        (g.service.as_str(), g.method.as_str()),
        ("shop.Orders", "Watch")
    );
    assert_eq!(
        (g.status, g.message.as_deref()),
        (Some(5), Some("order 42 not found"))
    );
    assert_eq!(
        g.request,
        MessageCounts {
            messages: 2,
            bytes: 45,
            compressed: 1
        }
    );
    assert_eq!(
        g.response,
        MessageCounts {
            messages: 2,
            bytes: 3,
            compressed: 0
        }
    );
    assert!(t.only().anomalies.is_empty());
    assert_eq!((t.stats.grpc_calls, t.stats.grpc_messages), (1, 4));
}

#[test]
fn a_trailers_only_grpc_response_gives_the_status() {
    let mut t = Conn::prior_knowledge();
    let only = block(&[
        (":status", "200"),
        ("content-type", "application/grpc"),
        ("grpc-status", "12"),
    ]);
    t.c(&client_start())
        .c(&frame(
            HEADERS,
            END_HEADERS,
            1,
            &grpc_request("/x.Y/Missing"),
        ))
        .c(&frame(DATA, END_STREAM, 1, &grpc_message(0, b"")))
        .s(&frame(HEADERS, BOTH, 1, &only));
    let g = t.only().grpc.as_ref().expect("grpc");
    assert_eq!(
        (g.status, g.message.as_deref(), g.request.messages),
        (Some(12), None, 1)
    );
}

#[test]
fn a_grpc_stream_ending_inside_a_message_is_a_framing_anomaly() {
    let mut t = Conn::prior_knowledge();
    t.c(&client_start())
        .c(&frame(HEADERS, END_HEADERS, 1, &grpc_request("/x.Y/Z")))
        .c(&frame(DATA, END_STREAM, 1, &grpc_message(0, b"cut")[..6]))
        .s(&frame(
            HEADERS,
            BOTH,
            1,
            &block(&[(":status", "200"), ("grpc-status", "13")]),
        ));
    assert_eq!(t.only().anomalies, [H2Anomaly::GrpcFraming]);
}

// ---------------------------------------------------------------------------------------------
// Splits.

/// A conversation using every frame kind the reader streams or buffers.
fn conversation() -> (Vec<u8>, Vec<u8>) {
    let hb = [get("/split"), indexed_literal("x-i", "1")].concat();
    let client = [
        client_start(),
        frame(HEADERS, END_STREAM, 1, &hb[..4]),
        frame(CONTINUATION, END_HEADERS, 1, &hb[4..]),
        frame(
            HEADERS,
            END_HEADERS,
            3,
            &[grpc_request("/a.B/C"), indexed(62)].concat(),
        ),
        frame(
            DATA,
            flags::PADDED,
            3,
            &[&[2u8][..], &grpc_message(0, b"xyz")[..], &[0, 0][..]].concat(),
        ),
        frame(DATA, END_STREAM, 3, &grpc_message(0, b"")),
        frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]),
    ]
    .concat();
    let server = [
        server_start(),
        frame(
            HEADERS,
            END_HEADERS,
            1,
            &[status("200"), indexed_literal("x-s", "2")].concat(),
        ),
        frame(DATA, END_STREAM, 1, b"hello"),
        frame(
            HEADERS,
            END_HEADERS,
            3,
            &[status("200"), indexed(62)].concat(),
        ),
        frame(DATA, 0, 3, &grpc_message(1, b"ok")),
        frame(HEADERS, BOTH, 3, &block(&[("grpc-status", "0")])),
    ]
    .concat();
    (client, server)
}

/// Feeds both sides cut at the given offsets (all at one timestamp, so that only the cuts
/// differ), client before server.
fn run_split(
    client: &[u8],
    server: &[u8],
    client_cuts: &[usize],
    server_cuts: &[usize],
) -> (Vec<H2Exchange>, Http2Stats) {
    let cfg = Http2Config {
        max_body_capture_bytes: 64,
        ..Http2Config::default()
    };
    let mut c = H2Connection::prior_knowledge(&cfg);
    let mut stats = Http2Stats::default();
    let mut out = Vec::new();
    let mut cx = Ctx {
        cfg: &cfg,
        stats: &mut stats,
        out: &mut out,
    };
    for (side, bytes, cuts) in [
        (Side::Client, client, client_cuts),
        (Side::Server, server, server_cuts),
    ] {
        let mut at = 0;
        for &cut in cuts.iter().chain([bytes.len()].iter()) {
            let cut = cut.clamp(at, bytes.len());
            c.on_data(1, side, &bytes[at..cut], &mut cx);
            at = cut;
        }
    }
    c.close(2, &mut cx);
    (out, stats)
}

#[test]
fn a_conversation_split_at_every_byte_gives_the_same_exchanges() {
    let (client, server) = conversation();
    let (want, want_stats) = run_split(&client, &server, &[], &[]);
    assert_eq!(want.len(), 2);
    assert!(want.iter().all(|e| e.anomalies.is_empty()), "{want:#?}");
    assert_eq!(req(&want[1]).headers.get("x-i"), Some("1"));
    assert_eq!(resp(&want[1]).headers.get("x-s"), Some("2"));
    for cut in 0..=client.len() {
        assert_eq!(
            run_split(&client, &server, &[cut], &[]),
            (want.clone(), want_stats.clone()),
            "client cut {cut}"
        );
    }
    for cut in 0..=server.len() {
        assert_eq!(
            run_split(&client, &server, &[], &[cut]),
            (want.clone(), want_stats.clone()),
            "server cut {cut}"
        );
    }
    let every: Vec<usize> = (0..client.len()).collect();
    assert_eq!(
        run_split(&client, &server, &every, &[]).0,
        want,
        "one byte at a time"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Random cuts on both sides give the same exchanges as no cut.
    #[test]
    fn random_splits_give_the_same_exchanges(
        client_cuts in proptest::collection::vec(0usize..400, 0..12),
        server_cuts in proptest::collection::vec(0usize..300, 0..12),
    ) {
        let (client, server) = conversation();
        let mut cc = client_cuts;
        cc.sort_unstable();
        let mut sc = server_cuts;
        sc.sort_unstable();
        proptest::prop_assert_eq!(run_split(&client, &server, &cc, &sc), run_split(&client, &server, &[], &[]));
    }

    /// Frames of every type with arbitrary flags, stream ids and payloads (header blocks made
    /// of valid and broken representations), raw bytes and gaps on both sides: never a
    /// panic, and the stream bound holds.
    #[test]
    fn arbitrary_input_never_panics_and_stays_bounded(
        events in proptest::collection::vec(
            (proptest::bool::ANY, 0u8..14, proptest::num::u8::ANY, 0u32..12, proptest::collection::vec(proptest::num::u8::ANY, 0..40), 0u64..4),
            0..40,
        ),
        late in proptest::bool::ANY,
    ) {
        let events: Vec<(bool, Vec<u8>, u64)> = events
            .into_iter()
            .map(|(client, kind, flags, stream, payload, gap)| {
                let bytes = match kind {
                    0..=9 => frame(kind, flags, stream, &payload),
                    10 => frame(HEADERS, BOTH, stream | 1, &[get("/p"), payload].concat()),
                    11 => frame(DATA, flags & END_STREAM, stream, &payload),
                    _ => payload,
                };
                (client, bytes, gap)
            })
            .collect();
        let cfg = Http2Config { max_concurrent_streams: 3, max_header_list_bytes: 256, ..Http2Config::default() };
        let mut c = if late { H2Connection::mid_stream(&cfg) } else { H2Connection::prior_knowledge(&cfg) };
        let mut stats = Http2Stats::default();
        let mut out = Vec::new();
        let mut cx = Ctx { cfg: &cfg, stats: &mut stats, out: &mut out };
        for (client, bytes, gap) in events {
            let side = if client { Side::Client } else { Side::Server };
            c.on_data(1, side, &bytes, &mut cx);
            if gap == 3 {
                c.on_gap(1, side, 7, &mut cx);
            }
            proptest::prop_assert!(c.open_streams() <= 3);
        }
        c.close(2, &mut cx);
    }
}
