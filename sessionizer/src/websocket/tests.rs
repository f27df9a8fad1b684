//! WebSocket connection tests: each policy of `connection.rs`, then proptests that any split of
//! the byte streams gives the same summary and that every prefix is only partial.

use apitap_reassembly::Side;
use proptest::prelude::*;

use super::frame::encode_frame;
use super::*;

const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];
const TS: u64 = 1_000;

// Opcode bits (RFC 6455 section 5.2).
const CONT: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xa;

/// A client frame: masked, as RFC 6455 section 5.1 requires.
fn cf(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    encode_frame(fin, op, Some(KEY), payload)
}

/// A server frame: unmasked.
fn sf(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    encode_frame(fin, op, None, payload)
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

fn sampling(messages: usize, bytes: usize) -> WebSocketConfig {
    WebSocketConfig {
        max_sampled_messages: messages,
        max_sample_bytes: bytes,
        ..WebSocketConfig::default()
    }
}

/// Feeds (side, bytes) pieces in order and closes the connection.
fn run(cfg: &WebSocketConfig, deflate: bool, pieces: &[(Side, Vec<u8>)]) -> WebSocketSummary {
    let mut ws = WebSocketConnection::new(cfg, deflate);
    for (side, bytes) in pieces {
        ws.on_data(TS, *side, bytes);
    }
    ws.close(TS + 1)
}

fn anomalies(s: &WebSocketSummary) -> Vec<&'static str> {
    s.anomalies.iter().map(WsAnomaly::name).collect()
}

/// What the memory account counts: a message's sample while it is read, then the samples
/// kept for the record; nothing without sampling.
#[test]
fn held_bytes_follow_the_samples() {
    let mut ws = WebSocketConnection::new(&sampling(4, 600), false);
    assert_eq!(ws.heap_bytes(), 0);
    ws.on_data(TS, Side::Client, &cf(false, TEXT, &[b'a'; 500]));
    let reading = ws.heap_bytes();
    assert!(reading >= 500, "the sample being read: {reading}");
    ws.on_data(TS, Side::Client, &cf(true, CONT, &[b'b'; 50]));
    ws.on_data(TS, Side::Server, &sf(true, TEXT, &[b'c'; 300]));
    let kept = ws.heap_bytes();
    assert!(kept >= 550 + 300, "two samples kept: {kept}");
    let mut quiet = WebSocketConnection::new(&sampling(0, 600), false);
    quiet.on_data(TS, Side::Client, &cf(true, TEXT, &[b'a'; 500]));
    assert_eq!(quiet.heap_bytes(), 0, "no sampling, nothing held");
}

#[test]
fn single_frame_messages_count_per_direction() {
    let s = run(
        &WebSocketConfig::default(),
        false,
        &[
            (Side::Client, cf(true, TEXT, b"hello")),
            (Side::Server, sf(true, TEXT, b"hi there")),
            (Side::Client, cf(true, BINARY, &[0u8; 300])),
        ],
    );
    assert_eq!(s.client.messages, 2);
    assert_eq!((s.client.text_messages, s.client.binary_messages), (1, 1));
    assert_eq!(s.client.message_bytes, 305);
    assert_eq!(s.client.frames, 2);
    assert_eq!(s.server.messages, 1);
    assert_eq!(s.server.message_bytes, 8);
    let ops: Vec<_> = s.opcodes.iter().collect();
    assert_eq!(ops, [Opcode::Text, Opcode::Binary]);
    assert_eq!((s.first_ts_us, s.last_ts_us), (Some(TS), Some(TS)));
    assert!(s.anomalies.is_empty(), "{:?}", anomalies(&s));
    assert!(s.samples.is_empty(), "sampling is off by default");
}

#[test]
fn a_fragmented_message_with_an_interleaved_ping_counts_once() {
    let s = run(
        &sampling(4, 64),
        false,
        &[(
            Side::Client,
            [
                cf(false, TEXT, b"Hel"),
                cf(true, PING, b"are you there"),
                cf(false, CONT, b"lo, "),
                cf(true, CONT, b"world"),
            ]
            .concat(),
        )],
    );
    assert_eq!(s.client.messages, 1);
    assert_eq!(s.client.text_messages, 1);
    assert_eq!(s.client.frames, 4);
    assert_eq!(s.client.pings, 1);
    assert_eq!(
        s.client.message_bytes, 12,
        "control payloads are not message bytes"
    );
    assert_eq!(s.samples.len(), 1);
    assert_eq!(s.samples[0].text, "Hello, world");
    assert!(!s.samples[0].truncated);
    assert!(s.anomalies.is_empty(), "{:?}", anomalies(&s));
}

#[test]
fn the_first_close_frame_names_the_initiator_and_the_peers_acknowledges_it() {
    let s = run(
        &WebSocketConfig::default(),
        false,
        &[
            (
                Side::Server,
                sf(true, CLOSE, &close_payload(1001, "going away")),
            ),
            (Side::Client, cf(true, CLOSE, &close_payload(1001, ""))),
        ],
    );
    let close = s.close.clone().expect("a close frame was seen");
    assert_eq!(close.initiator, Side::Server);
    assert_eq!(close.code, Some(1001));
    assert_eq!(close.reason, "going away");
    assert!(close.acknowledged);
    assert!(s.anomalies.is_empty(), "{:?}", anomalies(&s));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["close"]["initiator"], "server");
    assert_eq!(json["opcodes"], serde_json::json!(["close"]));
}

#[test]
fn close_payloads_the_rfc_forbids_are_flagged() {
    let table: [(&[u8], Option<u16>); 4] = [
        (&[0x03], None),                   // one byte: no room for a code
        (&[0x03, 0xed], Some(1005)),       // "no status" must not be sent
        (&[0x03, 0xe8, 0xff], Some(1000)), // reason is not UTF-8
        (&[0x07, 0xd0], Some(2000)),       // reserved for future RFCs
    ];
    for (payload, code) in table {
        let s = run(
            &WebSocketConfig::default(),
            false,
            &[(Side::Client, cf(true, CLOSE, payload))],
        );
        assert_eq!(s.close.as_ref().and_then(|c| c.code), code, "{payload:?}");
        assert!(
            s.anomalies.contains(WsAnomaly::WsInvalidClosePayload),
            "{payload:?}"
        );
    }
    let s = run(
        &WebSocketConfig::default(),
        false,
        &[(Side::Client, cf(true, CLOSE, &[]))],
    );
    assert_eq!(s.close.unwrap().code, None);
    assert!(s.anomalies.is_empty(), "an empty close payload is allowed");
}

#[test]
fn masking_direction_is_checked() {
    let s = run(
        &WebSocketConfig::default(),
        false,
        &[
            (Side::Client, sf(true, TEXT, b"unmasked")),
            (Side::Server, cf(true, TEXT, b"masked")),
        ],
    );
    assert_eq!(
        anomalies(&s),
        ["ws_unmasked_client_frame", "ws_masked_server_frame"]
    );
    assert_eq!((s.client.messages, s.server.messages), (1, 1));
}

#[test]
fn a_gap_inside_a_payload_is_counted_and_framing_goes_on() {
    let cfg = sampling(4, 64);
    let mut ws = WebSocketConnection::new(&cfg, false);
    let big = cf(true, TEXT, &[b'a'; 1000]);
    // Header (8 bytes: 2 + 2 length + 4 key) and 100 payload bytes, then 500 lost, then the rest.
    ws.on_data(TS, Side::Client, &big[..108]);
    ws.on_gap(TS, Side::Client, 500);
    ws.on_data(TS, Side::Client, &big[608..]);
    ws.on_data(TS, Side::Client, &cf(true, TEXT, b"after"));
    let s = ws.close(TS);
    assert_eq!(s.client.messages, 2);
    assert_eq!(s.client.message_bytes, 1005);
    assert_eq!(s.client.lost_bytes, 500);
    assert_eq!(anomalies(&s), ["ws_gap"]);
    let texts: Vec<_> = s.samples.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(texts, ["after"], "the damaged message is not sampled");
}

#[test]
fn a_gap_at_a_header_loses_the_direction_and_counts_later_bytes() {
    let mut ws = WebSocketConnection::new(&WebSocketConfig::default(), false);
    ws.on_data(TS, Side::Client, &cf(true, TEXT, b"one"));
    ws.on_gap(TS, Side::Client, 10);
    let later = cf(true, TEXT, b"two");
    ws.on_data(TS, Side::Client, &later);
    ws.on_data(TS, Side::Server, &sf(true, TEXT, b"still parsed"));
    let s = ws.close(TS);
    assert_eq!(s.client.messages, 1);
    assert_eq!(s.client.unparsed_bytes, later.len() as u64);
    assert_eq!(s.server.messages, 1, "the other direction is unaffected");
    assert_eq!(anomalies(&s), ["ws_gap"]);
}

#[test]
fn impossible_lengths_lose_the_direction() {
    let bad = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
    let s = run(
        &WebSocketConfig::default(),
        false,
        &[
            (Side::Server, bad.to_vec()),
            (Side::Server, sf(true, TEXT, b"x")),
        ],
    );
    assert_eq!(anomalies(&s), ["ws_protocol_error"]);
    assert_eq!(s.server.messages, 0);
    assert_eq!(s.server.unparsed_bytes, bad.len() as u64 + 3);

    let cfg = WebSocketConfig {
        max_frame_payload_bytes: 1000,
        ..WebSocketConfig::default()
    };
    let s = run(
        &cfg,
        false,
        &[
            (Side::Server, sf(true, BINARY, &[0; 1001])),
            (Side::Server, sf(true, TEXT, b"x")),
        ],
    );
    assert_eq!(anomalies(&s), ["ws_frame_too_large"]);
    assert_eq!(s.server.frames, 1);
    assert_eq!(s.server.unparsed_bytes, 1001 + 3);
}

#[test]
fn protocol_violations_are_flagged_and_parsing_goes_on() {
    let reserved_opcode = sf(true, 0x3, b"??");
    let fragmented_ping = sf(false, PING, b"");
    let long_pong = sf(true, PONG, &[0; 200]);
    let mut non_minimal = vec![0x81, 0x7e, 0x00, 0x02];
    non_minimal.extend_from_slice(b"ok");
    let orphan_continuation = sf(true, CONT, b"tail");
    let interrupted = [sf(false, TEXT, b"par"), sf(true, BINARY, b"new")].concat();
    let mut rsv2 = sf(true, TEXT, b"x");
    rsv2[0] |= 0x20;
    let table: [(&str, Vec<u8>, u64); 7] = [
        ("ws_reserved_opcode", reserved_opcode, 1),
        ("ws_fragmented_control_frame", fragmented_ping, 0),
        ("ws_control_frame_too_large", long_pong, 0),
        ("ws_non_minimal_length", non_minimal, 1),
        ("ws_unexpected_continuation", orphan_continuation, 1),
        ("ws_interrupted_message", interrupted, 1),
        ("ws_reserved_bits", rsv2, 1),
    ];
    for (name, bytes, messages) in table {
        let s = run(
            &WebSocketConfig::default(),
            false,
            &[
                (Side::Server, bytes),
                (Side::Server, sf(true, TEXT, b"next")),
            ],
        );
        assert_eq!(anomalies(&s), [name]);
        assert_eq!(s.server.messages, messages + 1, "{name}: framing went on");
    }
}

#[test]
fn data_after_close_and_cut_messages_are_flagged() {
    let s = run(
        &WebSocketConfig::default(),
        false,
        &[(
            Side::Server,
            [sf(true, CLOSE, &[]), sf(true, TEXT, b"late")].concat(),
        )],
    );
    assert_eq!(anomalies(&s), ["ws_data_after_close"]);

    let whole = cf(true, BINARY, &[9; 50]);
    let s = run(
        &WebSocketConfig::default(),
        false,
        &[(Side::Client, whole[..20].to_vec())],
    );
    assert_eq!(anomalies(&s), ["ws_incomplete_message"]);
    assert_eq!(s.client.messages, 0);
    assert_eq!(
        s.client.message_bytes, 14,
        "bytes of the cut message still count"
    );

    let s = run(
        &WebSocketConfig::default(),
        false,
        &[(Side::Client, cf(false, TEXT, b"never finished"))],
    );
    assert_eq!(anomalies(&s), ["ws_incomplete_message"]);
}

#[test]
fn rsv1_is_compression_only_when_permessage_deflate_was_negotiated() {
    let mut compressed = sf(true, TEXT, &[0xf2, 0x48, 0x02, 0x00]);
    compressed[0] |= 0x40;
    let s = run(
        &sampling(4, 64),
        true,
        &[(Side::Server, compressed.clone())],
    );
    assert_eq!(s.server.compressed_messages, 1);
    assert!(s.anomalies.is_empty());
    assert!(s.samples.is_empty(), "compressed text is not sampled");
    let s = run(&sampling(4, 64), false, &[(Side::Server, compressed)]);
    assert_eq!(anomalies(&s), ["ws_reserved_bits"]);
    assert_eq!(
        s.server.compressed_messages, 1,
        "RSV1 still most likely means deflated"
    );
    assert!(s.samples.is_empty());
}

#[test]
fn sampling_is_capped_in_count_and_bytes_and_keeps_only_utf8_text() {
    let s = run(
        &sampling(2, 5),
        false,
        &[
            (Side::Client, cf(true, BINARY, b"binary is never sampled")),
            // 'é' is two bytes: a 5-byte cut falls inside the third one.
            (Side::Client, cf(true, TEXT, "ééé".as_bytes())),
            (Side::Server, sf(true, TEXT, &[0xff, 0xfe])),
            (Side::Server, sf(true, TEXT, b"ok")),
            (Side::Server, sf(true, TEXT, b"over the count")),
        ],
    );
    let got: Vec<_> = s
        .samples
        .iter()
        .map(|t| (t.from, t.text.as_str(), t.truncated))
        .collect();
    assert_eq!(
        got,
        [(Side::Client, "éé", true), (Side::Server, "ok", false)]
    );
    assert_eq!(anomalies(&s), ["ws_invalid_utf8_text"]);
    assert_eq!(
        s.server.text_messages, 3,
        "messages count whether sampled or not"
    );
}

#[test]
fn large_payloads_are_counted_not_stored() {
    let mut ws = WebSocketConnection::new(&sampling(1, 16), false);
    let header = [0x82, 0x7f, 0, 0, 0, 0, 0x40, 0, 0, 0]; // 1 GiB binary frame.
    ws.on_data(TS, Side::Server, &header);
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..64 {
        ws.on_data(TS, Side::Server, &chunk);
    }
    let s = ws.summary();
    assert_eq!(s.server.message_bytes, 64 << 20);
    assert_eq!(s.server.messages, 0);
    assert!(s.anomalies.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Proptests: a model of messages, encoded to byte streams, fed split anywhere.

/// One frame to send, as the generator sees it.
#[derive(Clone, Debug)]
enum Item {
    /// A data message in `parts` fragments, with a ping after the first fragment when `ping`.
    Message {
        text: bool,
        payload: Vec<u8>,
        parts: usize,
        ping: bool,
    },
    Pong(Vec<u8>),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..400), 1usize..4, any::<bool>())
            .prop_map(|(text, payload, parts, ping)| Item::Message { text, payload, parts, ping }),
        1 => proptest::collection::vec(any::<u8>(), 0..126).prop_map(Item::Pong),
    ]
}

/// Encodes items as one direction's byte stream; text payloads are made ASCII.
fn encode(items: &[Item], side: Side) -> Vec<u8> {
    let frame = |fin, op, p: &[u8]| match side {
        Side::Client => cf(fin, op, p),
        Side::Server => sf(fin, op, p),
    };
    let mut out = Vec::new();
    for it in items {
        match it {
            Item::Pong(p) => out.extend(frame(true, PONG, p)),
            Item::Message {
                text,
                payload,
                parts,
                ping,
            } => {
                let payload: Vec<u8> = if *text {
                    payload.iter().map(|b| b'a' + b % 26).collect()
                } else {
                    payload.clone()
                };
                let size = payload.len().div_ceil(*parts).max(1);
                let chunks: Vec<&[u8]> = if payload.is_empty() {
                    vec![&[]]
                } else {
                    payload.chunks(size).collect()
                };
                for (i, c) in chunks.iter().enumerate() {
                    let op = if i == 0 {
                        if *text {
                            TEXT
                        } else {
                            BINARY
                        }
                    } else {
                        CONT
                    };
                    out.extend(frame(i + 1 == chunks.len(), op, c));
                    if i == 0 && *ping {
                        out.extend(frame(true, PING, b"p"));
                    }
                }
            }
        }
    }
    out
}

/// Feeds `stream` cut at `cuts` (positions, any order, out of range ignored).
fn feed_split(ws: &mut WebSocketConnection, side: Side, stream: &[u8], cuts: &[usize]) {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    let mut at = 0;
    for c in cuts.into_iter().chain([stream.len()]) {
        ws.on_data(TS, side, &stream[at..c]);
        at = c;
    }
}

fn whole(client: &[u8], server: &[u8]) -> WebSocketSummary {
    let mut ws = WebSocketConnection::new(&sampling(64, 512), false);
    ws.on_data(TS, Side::Client, client);
    ws.on_data(TS, Side::Server, server);
    ws.close(TS)
}

#[test]
fn every_single_split_point_gives_the_same_summary() {
    let items = [
        Item::Message {
            text: true,
            payload: vec![3; 200],
            parts: 3,
            ping: true,
        },
        Item::Pong(vec![1; 125]),
        Item::Message {
            text: false,
            payload: vec![7; 70_000],
            parts: 1,
            ping: false,
        },
    ];
    let client = encode(&items, Side::Client);
    let server = encode(&items[..2], Side::Server);
    let expected = whole(&client, &server);
    assert_eq!(expected.client.messages, 2);
    for cut in 0..=client.len() {
        let mut ws = WebSocketConnection::new(&sampling(64, 512), false);
        feed_split(&mut ws, Side::Client, &client, &[cut]);
        feed_split(&mut ws, Side::Server, &server, &[cut]);
        assert_eq!(ws.close(TS), expected, "cut at {cut}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_split_gives_the_same_summary_as_the_model(
        client_items in proptest::collection::vec(item(), 0..8),
        server_items in proptest::collection::vec(item(), 0..8),
        client_cuts in proptest::collection::vec(any::<usize>(), 0..12),
        server_cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let client = encode(&client_items, Side::Client);
        let server = encode(&server_items, Side::Server);
        let expected = whole(&client, &server);
        let mut ws = WebSocketConnection::new(&sampling(64, 512), false);
        feed_split(&mut ws, Side::Client, &client, &client_cuts);
        feed_split(&mut ws, Side::Server, &server, &server_cuts);
        prop_assert_eq!(ws.close(TS), expected.clone());

        // The model: what the items say the counters are.
        for (items, side) in [(&client_items, Side::Client), (&server_items, Side::Server)] {
            let d = expected.direction(side);
            let messages = items.iter().filter(|i| matches!(i, Item::Message { .. })).count();
            let bytes: usize = items.iter().map(|i| match i {
                Item::Message { payload, .. } => payload.len(),
                Item::Pong(_) => 0,
            }).sum();
            let pings = items.iter().filter(|i| matches!(i, Item::Message { ping: true, .. })).count();
            prop_assert_eq!(d.messages, messages as u64);
            prop_assert_eq!(d.message_bytes, bytes as u64);
            prop_assert_eq!(d.pings, pings as u64);
        }
        prop_assert!(expected.anomalies.is_empty());
    }

    #[test]
    fn every_prefix_is_partial_never_an_error(
        items in proptest::collection::vec(item(), 1..6),
        len in any::<usize>(),
    ) {
        let stream = encode(&items, Side::Client);
        let prefix = &stream[..len % (stream.len() + 1)];
        let mut ws = WebSocketConnection::new(&sampling(8, 64), false);
        ws.on_data(TS, Side::Client, prefix);
        let s = ws.summary();
        prop_assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
        prop_assert_eq!(s.client.unparsed_bytes, 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_accounted(
        client in proptest::collection::vec(any::<u8>(), 0..600),
        server in proptest::collection::vec(any::<u8>(), 0..600),
        gap in 0u64..50,
    ) {
        let mut ws = WebSocketConnection::new(&sampling(4, 16), true);
        ws.on_data(TS, Side::Client, &client);
        ws.on_gap(TS, Side::Client, gap);
        ws.on_data(TS, Side::Server, &server);
        let s = ws.close(TS);
        prop_assert!(s.samples.len() <= 4);
        prop_assert!(s.samples.iter().all(|t| t.text.len() <= 16));
    }
}

#[test]
fn the_summary_serializes_as_the_websocket_record_body() {
    let s = run(
        &sampling(1, 8),
        false,
        &[
            (Side::Client, cf(true, TEXT, b"hello")),
            (Side::Client, sf(true, TEXT, b"unmasked")),
        ],
    );
    let json = serde_json::to_value(&s).unwrap();
    // serde_json's map is sorted: compare the sets of fields.
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut want = [
        "client",
        "server",
        "opcodes",
        "close",
        "first_ts_us",
        "last_ts_us",
        "anomalies",
        "samples",
    ];
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(json["client"]["messages"], 2);
    assert_eq!(
        json["anomalies"],
        serde_json::json!(["ws_unmasked_client_frame"])
    );
    assert_eq!(
        json["samples"],
        serde_json::json!([{"from": "client", "ts_us": TS, "text": "hello", "truncated": false}])
    );
}

// ---------------------------------------------------------------------------------------------
// Real captures: fixtures/websocket/, made by scripts/capture-websocket.sh (the Python
// `websockets` package, server and client), against tshark's dissection and the client's log.

fn ws_fixture(name: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/websocket")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// expected.tsv: (case, direction) -> the tshark columns, by name.
fn ws_expected() -> Vec<std::collections::BTreeMap<String, String>> {
    let text = String::from_utf8(ws_fixture("expected.tsv")).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn ws_capture(case: &str, cfg: &WebSocketConfig, deflate: bool) -> WebSocketSummary {
    let client = ws_fixture(&format!("{case}.client.bin"));
    let server = ws_fixture(&format!("{case}.server.bin"));
    let mut ws = WebSocketConnection::new(cfg, deflate);
    // The conversation is request/response: feed in 1400-byte segments, alternating.
    let (mut c, mut s) = (client.chunks(1400), server.chunks(1400));
    loop {
        let (a, b) = (c.next(), s.next());
        if a.is_none() && b.is_none() {
            break;
        }
        a.into_iter().for_each(|x| ws.on_data(TS, Side::Client, x));
        b.into_iter().for_each(|x| ws.on_data(TS, Side::Server, x));
    }
    ws.close(TS)
}

#[test]
fn real_captures_match_tshark_and_the_clients_log() {
    let rows = ws_expected();
    assert_eq!(rows.len(), 4, "two cases, two directions");
    for row in &rows {
        let case = row["case"].as_str();
        let deflate = case == "ws-deflate";
        let s = ws_capture(case, &sampling(16, 256), deflate);
        let side = if row["direction"] == "client" {
            Side::Client
        } else {
            Side::Server
        };
        let d = s.direction(side);
        let n = |k: &str| row[k].parse::<u64>().unwrap();
        let at = format!("{case} {side:?}");
        assert_eq!(d.frames, n("frames"), "{at} frames");
        assert_eq!(d.messages, n("messages"), "{at} messages");
        assert_eq!(d.text_messages, n("text"), "{at} text");
        assert_eq!(d.binary_messages, n("binary"), "{at} binary");
        assert_eq!(d.pings, n("pings"), "{at} pings");
        assert_eq!(d.pongs, n("pongs"), "{at} pongs");
        assert_eq!((d.unparsed_bytes, d.lost_bytes), (0, 0), "{at}");
        assert!(s.anomalies.is_empty(), "{at}: {:?}", anomalies(&s));
        let close = s.close.clone().expect("a close frame");
        assert_eq!(
            close.code.map(|c| c.to_string()),
            Some(row["close_code"].clone())
        );
        assert_eq!(close.reason, row["close_reason"]);
        assert_eq!(close.initiator, Side::Client, "the client closes");
        assert!(close.acknowledged);

        // The client's own log: what it sent, which the server echoed.
        let truth: serde_json::Value =
            serde_json::from_slice(&ws_fixture(&format!("{case}.truth.json"))).unwrap();
        let sent = truth["client_messages"].as_array().unwrap();
        assert_eq!(d.messages, sent.len() as u64, "{at}");
        if deflate {
            assert_eq!(
                d.compressed_messages, d.messages,
                "{at}: every message is deflated"
            );
        } else {
            let bytes: u64 = sent.iter().map(|m| m["bytes"].as_u64().unwrap()).sum();
            assert_eq!(d.message_bytes, bytes, "{at} message bytes");
            assert_eq!(d.compressed_messages, 0, "{at}");
        }
    }
}

#[test]
fn real_capture_samples_are_the_texts_sent() {
    let s = ws_capture("ws-plain", &sampling(16, 256), false);
    let client: Vec<&str> = s
        .samples
        .iter()
        .filter(|t| t.from == Side::Client)
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(
        client,
        [
            r#"{"op":"subscribe","topic":"orders"}"#,
            r#"{"op":"get","id":42}"#,
            "héllo wörld",
            r#"{"op":"bulk","ids":[1,2,3]}"#,
        ]
    );
    assert_eq!(s.samples.len(), 8, "the server echoes each one");
    let deflated = ws_capture("ws-deflate", &sampling(16, 256), true);
    assert!(
        deflated.samples.is_empty(),
        "compressed messages are not sampled"
    );
}
