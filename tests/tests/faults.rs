//! Fault-injected variants of the real captures in `fixtures/local/`, each checked against an
//! exact expected output derived from the clean run.
//!
//! Every variant is built in the test from the clean packets with [`apitap_tests::faults`],
//! written to a scratch pcap and replayed through the real binary. The expectation is always
//! "the clean run's records, with only what the fault legitimately changes edited"; each edit
//! is a named helper below with the reason it is legitimate. Segment layouts are checked
//! first (`layout` asserts), so a regenerated capture with a different segmentation fails with
//! a message instead of silently testing something else.
//!
//! Loopback facts these variants lean on: every data segment is acknowledged before the next
//! one in the same direction, except where a peer writes twice in a row (the Python client's
//! `POST /login` head and body); nginx sends each response, headers and body, as one segment
//! (19755 bytes for `/static/big.txt`), so to lose part of a body we split that segment first.
//!
//! `DEBUG_VARIANTS=DIR` keeps a copy of every variant pcap in `DIR` for a look with tshark.

use std::path::PathBuf;

use apitap_tests::faults::{self, Conn, Dir};
use apitap_tests::harness::{fixture, replay, replay_core, scratch, Replay};
use apitap_tests::oracle;
use apitap_tests::pcapio::{read_pcap, write_pcap, write_pcapng, Packet};
use apitap_tests::records::{
    anomalies, assert_records_eq, index_of, renumber_conns, rfc3339_us, with, with_anomalies,
    without_anomaly,
};
use serde_json::Value;

const NGINX: &str = "local/nginx-curl.pcap";
const PYTHON: &str = "local/python-pipelining.pcap";
/// Server port of the Python captures.
const PY_PORT: u16 = 18090;
/// Length of `/static/big.txt` (fixtures/local/README.md).
const BIG_LEN: usize = 19_520;

/// Packets of a fixture.
fn packets(rel: &str) -> Vec<Packet> {
    read_pcap(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Replay the untouched fixture; it must be clean.
fn clean(rel: &str) -> Replay {
    let r = replay_core(&[fixture(rel)], &["--quiet"]);
    assert_eq!(r.code, 0, "{rel}: {}", r.stderr);
    assert!(
        r.records.iter().all(|x| anomalies(x).is_empty()),
        "{rel}: the clean run has anomalies"
    );
    r
}

/// Write `pkts` to a scratch pcap named `name` and replay it; exit code 0 required.
fn run_variant(name: &str, pkts: &[Packet]) -> Replay {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = scratch(&format!(
        "faults-{name}-{}",
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let path: PathBuf = dir.join(format!("{name}.pcap"));
    write_pcap(&path, pkts).expect("write variant");
    let r = replay_core(std::slice::from_ref(&path), &["--quiet"]);
    assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    if let Some(keep) = std::env::var_os("DEBUG_VARIANTS") {
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::copy(&path, PathBuf::from(keep).join(format!("{name}.pcap")));
    }
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// The connection whose client stream contains `needle` (e.g. a request line).
fn conn_with_request(pkts: &[Packet], needle: &str) -> Conn {
    faults::connections(pkts)
        .into_iter()
        .find(|c| {
            let s = faults::reassemble_first_wins(pkts, c, Dir::ToServer);
            s.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .unwrap_or_else(|| panic!("no connection sends {needle:?}"))
}

/// Index of the data segment of `conn`/`dir` whose payload starts with `prefix` and is `len` long.
fn segment(pkts: &[Packet], conn: &Conn, dir: Dir, prefix: &str, len: usize) -> usize {
    let hits: Vec<usize> = faults::payload_segments(pkts, conn, dir)
        .into_iter()
        .filter(|&i| {
            let p = faults::payload(&pkts[i]).unwrap();
            p.starts_with(prefix.as_bytes()) && p.len() == len
        })
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "layout: expected one {len}-byte segment starting {prefix:?} on {conn:?} {dir:?}, found {hits:?}"
    );
    hits[0]
}

/// The nginx keep-alive connection and the index of its one-segment `/static/big.txt` response.
fn big_response(pkts: &[Packet]) -> (Conn, usize) {
    let conn = conn_with_request(pkts, "GET /static/big.txt ");
    let resps = faults::payload_segments(pkts, &conn, Dir::ToClient);
    assert_eq!(
        resps.len(),
        3,
        "layout: one segment per response on the keep-alive connection"
    );
    let i = resps[1];
    let len = faults::payload(&pkts[i]).unwrap().len();
    assert!(
        len > BIG_LEN && len < BIG_LEN + 400,
        "layout: big.txt response is one segment, headers and body ({len} bytes)"
    );
    (conn, i)
}

/// Offset of `needle` inside the payload of packet `i`.
fn offset_in_payload(pkts: &[Packet], i: usize, needle: &str) -> usize {
    let p = faults::payload(&pkts[i]).unwrap();
    p.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle:?} not in packet {i}"))
}

/// Index of the only record on `conn` (by client port) whose request URI is `uri`.
fn index_on(rs: &[Value], conn: &Conn, uri: &str) -> usize {
    let port = u64::from(conn.client.port());
    let hits: Vec<usize> = rs
        .iter()
        .enumerate()
        .filter(|(_, x)| x["flow"]["src_port"].as_u64() == Some(port) && x["request"]["uri"] == uri)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "one {uri} record on {conn:?}: {hits:?}");
    hits[0]
}

/// The clean records with the record at `at` replaced by `rec`.
fn replaced(clean: &[Value], at: usize, rec: Value) -> Vec<Value> {
    let mut out = clean.to_vec();
    out[at] = rec;
    out
}

// ---------------------------------------------------------------------------------------------
// Normalisers: each removes exactly one thing a fault legitimately changes.

/// A lost segment is reported, not hidden: the transaction it belonged to gains the gap
/// anomaly for that direction (`gap_in_request` or `gap_in_response`); its length, status and
/// URI do not change, since `body_bytes` counts bytes lost in gaps (docs/events.md).
fn plus_anomaly(rec: &Value, kind: &str) -> Value {
    let mut a = anomalies(rec);
    a.push(kind.to_string());
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    with_anomalies(rec, &a)
}

/// `rec` with a retransmission mismatch: the anomaly, and the `protocol` finding attack
/// detection makes of it (an insertion-evasion attempt), whose outcome the response gives:
/// `served` for the 2xx responses these tests alter.
fn plus_mismatch(rec: &Value) -> Value {
    let rec = plus_anomaly(rec, "retransmission_mismatch");
    let status = rec["response"]["status"].as_u64().unwrap_or(0);
    assert!((200..300).contains(&status), "a served response: {rec}");
    let finding = serde_json::json!({
        "class": "protocol", "rule": "protocol.retransmission_mismatch", "where": "body",
        "evidence": "retransmission_mismatch", "outcome": "served",
    });
    let mut attacks = rec["attacks"].as_array().cloned().unwrap_or_default();
    attacks.push(finding);
    with(&rec, "/attacks", Value::from(attacks))
}

/// Picking a connection up without its handshake is reported on its transactions
/// (`mid_stream_pickup`); transactions cut off before the pickup point are not seen, so the
/// `depth` of the others moves down by the number of those (`depth` counts what the sensor saw).
fn mid_stream(rec: &Value, depth_shift: u64) -> Value {
    let rec = without_anomaly(rec, "mid_stream_pickup");
    let depth = rec["depth"].as_u64().unwrap();
    with(&rec, "/depth", Value::from(depth - depth_shift))
}

/// When data is reordered, the first byte of a message may arrive in a later packet: `ts`
/// (packet time of the request's first byte) then becomes that packet's time.
fn with_ts(rec: &Value, ts: std::time::Duration) -> Value {
    with(rec, "/ts", Value::from(rfc3339_us(ts)))
}

// ---------------------------------------------------------------------------------------------

#[test]
fn rewriting_the_capture_changes_nothing() {
    // Control for every test below: pcapio's rewrite of an untouched capture is transparent.
    for rel in [NGINX, PYTHON] {
        let c = clean(rel);
        let r = run_variant("identity", &packets(rel));
        assert_eq!(r.raw, c.raw, "{rel}");
    }
}

/// The /users/42 response body of the Python keep-alive connection (its own segment) lost.
fn drop_users42_body() -> (Vec<Packet>, usize) {
    let pkts = packets(PYTHON);
    let conn = conn_with_request(&pkts, "GET /users/42 ");
    // The Python server writes headers and body separately: the body is its own segment.
    let stream = faults::reassemble_first_wins(&pkts, &conn, Dir::ToClient);
    let resps = oracle::responses(&stream, &[false, false, false, false, true]).unwrap();
    let body = resps[1].body.clone();
    let lost = faults::payload_segments(&pkts, &conn, Dir::ToClient)
        .into_iter()
        .find(|&i| faults::payload(&pkts[i]).unwrap() == &body[..])
        .expect("layout: the /users/42 body is one segment");
    (faults::drop_segment(&pkts, |i, _| i == lost), body.len())
}

/// The body segment of `POST /login` on the Python keep-alive connection lost, and the index
/// of that request's record in the clean run.
fn drop_login_body(clean: &[Value]) -> (Vec<Packet>, usize) {
    let pkts = packets(PYTHON);
    let conn = conn_with_request(&pkts, "GET /health ");
    let head = segment(&pkts, &conn, Dir::ToServer, "POST /login ", 169);
    let body = head + 1;
    assert_eq!(
        faults::nth_payload(&pkts, &conn, Dir::ToServer, 3),
        Some(body),
        "layout: the POST body follows its head directly"
    );
    let at = index_on(clean, &conn, "/login");
    (faults::drop_segment(&pkts, |i, _| i == body), at)
}

/// Erase `ts` and `latency_us`. Used only where the bug described on
/// [`records_after_a_lost_segment_keep_their_packet_times`] shifts them, so the tests that
/// use it still pin every other field; that ignored test pins these two.
fn times_erased(rec: &Value) -> Value {
    let rec = with(rec, "/ts", Value::Null);
    with(&rec, "/latency_us", Value::Null)
}

/// A lost last byte of a request has no packet time: the request ends when the gap is
/// declared, so the latency of that transaction is not the clean one (and not comparable).
fn latency_unknown(rec: &Value) -> Value {
    with(rec, "/latency_us", Value::Null)
}

#[test]
fn dropped_response_body_segment_is_a_gap_with_the_same_length() {
    let c = clean(PYTHON);
    let (faulty, lost_len) = drop_users42_body();
    let r = run_variant("drop-resp-body", &faulty);

    let at = index_of(&c.records, "GET", "/users/42");
    assert_eq!(
        r.records[at],
        plus_anomaly(&c.records[at], "gap_in_response"),
        "the transaction that lost its body: same status, URI, body_bytes, times"
    );
    let want = replaced(
        &c.records,
        at,
        plus_anomaly(&c.records[at], "gap_in_response"),
    );
    let erase = |rs: &[Value]| -> Vec<Value> { rs.iter().map(times_erased).collect() };
    assert_records_eq(&erase(&r.records), &erase(&want), "drop the /users/42 body");
    assert_eq!(r.stats["reassembly"]["gap_bytes"], lost_len);
}

#[test]
fn dropped_request_body_segment_is_a_gap_in_request() {
    let c = clean(PYTHON);
    let (faulty, at) = drop_login_body(&c.records);
    let r = run_variant("drop-req-body", &faulty);
    assert_eq!(
        latency_unknown(&r.records[at]),
        latency_unknown(&plus_anomaly(&c.records[at], "gap_in_request")),
        "the request that lost its body: same method, URI, body_bytes, response"
    );
    let want = replaced(
        &c.records,
        at,
        plus_anomaly(&c.records[at], "gap_in_request"),
    );
    let erase = |rs: &[Value]| -> Vec<Value> { rs.iter().map(times_erased).collect() };
    assert_records_eq(
        &erase(&r.records),
        &erase(&want),
        "drop the POST /login body",
    );
    assert_eq!(r.stats["reassembly"]["gap_bytes"], 33);
}

#[test]
fn records_after_a_lost_segment_keep_their_packet_times() {
    // After a lost segment, the next segment of that direction is buffered until an ACK
    // covers the hole (reassembly/src/stream.rs `on_ack` waits for buffered data), then
    // delivered with the *releasing* packet's time. So a later transaction, none of whose
    // bytes were lost, gets the wrong `ts`/`latency_us`:
    // - /users/42 body lost: the next response (POST /login, depth 3) is released by the
    //   client's delayed ACK 43 ms later: latency_us 43680 instead of 362.
    // - POST /login body lost: the next request (GET /stream) is released by the server's
    //   next segment: ts .029392 instead of .029039, latency_us 0 instead of 353.
    // docs/events.md defines both from the packet times of the first/last bytes, which were
    // all captured on time.
    let c = clean(PYTHON);
    let (faulty, _) = drop_users42_body();
    let r = run_variant("drop-resp-body-times", &faulty);
    let at = index_of(&c.records, "GET", "/users/42");
    let want = replaced(
        &c.records,
        at,
        plus_anomaly(&c.records[at], "gap_in_response"),
    );
    assert_records_eq(&r.records, &want, "drop the /users/42 body");

    let (faulty, at) = drop_login_body(&c.records);
    let r = run_variant("drop-req-body-times", &faulty);
    let mut got = r.records.clone();
    got[at] = latency_unknown(&got[at]);
    let want = replaced(
        &c.records,
        at,
        latency_unknown(&plus_anomaly(&c.records[at], "gap_in_request")),
    );
    assert_records_eq(&got, &want, "drop the POST /login body");
}

#[test]
fn dropped_chunk_marks_the_response_and_stops_counting_at_the_lost_framing() {
    // Pipelined connection: the /stream response is headers, then one segment per chunk
    // (`23\r\n...\r\n`, `2d\r\n...\r\n`, `37\r\n...\r\n`, `0\r\n\r\n`). Losing the
    // second chunk loses its chunk-size line: the decoded length of what was lost cannot be
    // known, so (connection.rs policy: a gap in a chunk-size line desynchronises) body_bytes
    // is what was decoded before the gap, the first chunk. Everything else is the clean run.
    let pkts = packets(PYTHON);
    let c = clean(PYTHON);
    let conn = faults::conn_by_port(&pkts, PY_PORT).unwrap();
    let chunk1 = segment(&pkts, &conn, Dir::ToClient, "23\r\n", 41);
    let chunk2 = segment(&pkts, &conn, Dir::ToClient, "2d\r\n", 51);
    // Oracle: the first chunk alone, closed by a last-chunk so the de-chunker accepts it.
    let mut one = faults::payload(&pkts[chunk1]).unwrap().to_vec();
    one.extend_from_slice(b"0\r\n\r\n");
    let (first, _) = oracle::dechunk(&one).unwrap();
    assert_eq!(first.len(), 0x23);
    let r = run_variant(
        "drop-chunk",
        &faults::drop_segment(&pkts, |i, _| i == chunk2),
    );
    let at = index_on(&c.records, &conn, "/stream");
    let mut rec = plus_anomaly(&c.records[at], "gap_in_response");
    rec = with(&rec, "/response/body_bytes", Value::from(first.len()));
    assert_records_eq(
        &r.records,
        &replaced(&c.records, at, rec),
        "drop chunk 2 of /stream",
    );
}

#[test]
fn dropped_response_head_is_reported_on_the_waiting_transaction() {
    // Pipelined connection, the /stream response headers (their own segment) lost; the
    // chunks that follow cannot be parsed without them. Expected: the /stream record keeps
    // its request, has no response (the status is unknown) and carries `gap_in_response`, so
    // a consumer can tell "the sensor lost the answer" from "the server never answered".
    // Actual: `"response": null, "anomalies": []` (the gap marks "the next message on that
    // direction", and there is none); the loss is only in the counters.
    let pkts = packets(PYTHON);
    let c = clean(PYTHON);
    let conn = faults::conn_by_port(&pkts, PY_PORT).unwrap();
    let heads: Vec<usize> = faults::payload_segments(&pkts, &conn, Dir::ToClient)
        .into_iter()
        .filter(|&i| faults::payload(&pkts[i]).unwrap().starts_with(b"HTTP/1.1 "))
        .collect();
    assert_eq!(
        heads.len(),
        3,
        "layout: three response heads, each its own segment"
    );
    let r = run_variant(
        "drop-stream-head",
        &faults::drop_segment(&pkts, |i, _| i == heads[2]),
    );
    let at = index_on(&c.records, &conn, "/stream");
    let mut rec = with(&c.records[at], "/response", Value::Null);
    rec = with(&rec, "/latency_us", Value::Null);
    rec = plus_anomaly(&rec, "gap_in_response");
    assert_records_eq(
        &r.records,
        &replaced(&c.records, at, rec),
        "drop the /stream head",
    );
}

#[test]
fn dropped_middle_of_a_big_body_is_a_gap_with_the_same_length() {
    let pkts = packets(NGINX);
    let c = clean(NGINX);
    let (_, big) = big_response(&pkts);
    // Split the one 19755-byte segment into [0..8000) [7999..12000) [11999..end) (1-byte
    // overlaps, same bytes), then lose the middle part: bytes 8000..11999 of the stream.
    let two = faults::overlap(&pkts, big, 8000, 7999).unwrap();
    let three = faults::overlap(&two, big + 1, 4001, 4000).unwrap();
    let faulty = faults::drop_segment(&three, |i, _| i == big + 1);
    assert_eq!(faulty.len(), pkts.len() + 1);
    let r = run_variant("drop-big-middle", &faulty);

    let at = index_of(&c.records, "GET", "/static/big.txt");
    assert_eq!(c.records[at]["response"]["body_bytes"], BIG_LEN);
    let want = replaced(
        &c.records,
        at,
        plus_anomaly(&c.records[at], "gap_in_response"),
    );
    assert_records_eq(&r.records, &want, "drop 3999 bytes of big.txt");
    assert_eq!(r.stats["reassembly"]["gap_bytes"], 3999);
}

#[test]
fn reordered_segments_give_the_clean_output() {
    // Python: the client writes the POST /login head and body back to back; swap them. The
    // body is buffered, then the head arrives and both are delivered at the head's new time.
    let pkts = packets(PYTHON);
    let c = clean(PYTHON);
    let conn = conn_with_request(&pkts, "GET /health ");
    let head = segment(&pkts, &conn, Dir::ToServer, "POST /login ", 169);
    let faulty = faults::reorder(&pkts, head, head + 1).unwrap();
    let r = run_variant("reorder-post", &faulty);
    let at = index_on(&c.records, &conn, "/login");
    let want = replaced(&c.records, at, with_ts(&c.records[at], pkts[head + 1].ts));
    assert_records_eq(&r.records, &want, "swap POST head and body");
    assert_eq!(r.stats["reassembly"]["ooo_segments"], 1);

    // nginx: the big.txt response split in two, tail first. Both parts keep the original
    // timestamp, so nothing at all changes.
    let pkts = packets(NGINX);
    let c = clean(NGINX);
    let (_, big) = big_response(&pkts);
    let split = faults::overlap(&pkts, big, 10_000, 9_999).unwrap();
    let faulty = faults::reorder(&split, big, big + 1).unwrap();
    let r = run_variant("reorder-big", &faulty);
    assert_eq!(r.raw, c.raw);
    assert_eq!(r.stats["reassembly"]["ooo_segments"], 1);
}

#[test]
fn duplicated_segments_give_the_clean_output() {
    // Retransmissions of delivered bytes, late: the pipelined requests (one 409-byte segment)
    // after the first response, and the whole big.txt response after the client's ACK.
    let pkts = packets(PYTHON);
    let c = clean(PYTHON);
    let req = faults::client_payload(&pkts, PY_PORT, 0).unwrap();
    let resp = faults::server_payload(&pkts, PY_PORT, 0).unwrap();
    let r = run_variant(
        "dup-pipelined",
        &faults::duplicate(&pkts, req, resp).unwrap(),
    );
    assert_eq!(r.raw, c.raw);
    assert_eq!(r.stats["reassembly"]["retransmitted_segments"], 1);

    let pkts = packets(NGINX);
    let c = clean(NGINX);
    let (_, big) = big_response(&pkts);
    let r = run_variant("dup-big", &faults::duplicate(&pkts, big, big + 1).unwrap());
    assert_eq!(r.raw, c.raw);
    assert_eq!(r.stats["reassembly"]["retransmitted_segments"], 1);
}

#[test]
fn overlapping_segments_with_the_same_bytes_give_the_clean_output() {
    let pkts = packets(PYTHON);
    let c = clean(PYTHON);
    let req = faults::client_payload(&pkts, PY_PORT, 0).unwrap();
    let r = run_variant(
        "overlap-pipelined",
        &faults::overlap(&pkts, req, 250, 100).unwrap(),
    );
    assert_eq!(r.raw, c.raw);

    let pkts = packets(NGINX);
    let c = clean(NGINX);
    let (_, big) = big_response(&pkts);
    // In order, and tail first (the overlap then meets buffered bytes and is compared).
    let split = faults::overlap(&pkts, big, 12_000, 5_000).unwrap();
    let r = run_variant("overlap-big", &split);
    assert_eq!(r.raw, c.raw);
    let r = run_variant(
        "overlap-big-rev",
        &faults::reorder(&split, big, big + 1).unwrap(),
    );
    assert_eq!(r.raw, c.raw);
    assert_eq!(r.stats["reassembly"]["retransmission_mismatches"], 0);
}

#[test]
fn conflicting_overlap_against_delivered_bytes_is_flagged_and_first_data_wins() {
    // The second copy of `/login` in the pipelined segment says `XXXXX` but arrives after the
    // original was delivered. Delivered bytes are kept until the server acknowledges them, so
    // the copy is compared: retransmission_mismatch. First data wins: every record is the
    // clean one, but for the anomaly on the request whose bytes were contradicted (its head
    // is still being read when the copy arrives).
    let pkts = packets(PYTHON);
    let c = clean(PYTHON);
    let req = faults::client_payload(&pkts, PY_PORT, 0).unwrap();
    let login = offset_in_payload(&pkts, req, "POST /login ") + "POST /".len();
    let faulty = faults::overlap_conflicting(&pkts, req, login + 5, login).unwrap();
    let second = faults::payload(&faulty[req + 1]).unwrap();
    assert!(
        second.starts_with(b"XXXXX HTTP/1.1"),
        "variant alters the URI"
    );
    let r = run_variant("conflict-delivered", &faulty);
    assert_eq!(r.stats["reassembly"]["retransmission_mismatches"], 1);
    let flagged: Vec<usize> = (0..c.records.len())
        .filter(|&i| r.records[i] != c.records[i])
        .collect();
    assert_eq!(flagged.len(), 1, "{}", r.raw);
    let i = flagged[0];
    let mut want = anomalies(&c.records[i]);
    want.push("retransmission_mismatch".into());
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(r.records[i], with_anomalies(&c.records[i], &want));
    assert_eq!(r.records[i]["request"]["uri"], "/login");
}

#[test]
fn conflicting_overlap_against_buffered_bytes_is_flagged_on_its_transaction() {
    // big.txt response as three parts: B1 = [10000..14000) with its first 100 bytes altered,
    // A = [0..10100) original, B2 = [13999..end) original; sent B1, A, B2. B1 is buffered, A
    // overlaps it with different bytes: detectable. First data wins (B1's altered body bytes
    // are kept), which no record field shows; the response is still open when A arrives, so
    // the anomaly belongs to it.
    let pkts = packets(NGINX);
    let c = clean(NGINX);
    let (conn, big) = big_response(&pkts);
    let ab = faults::overlap_conflicting(&pkts, big, 10_100, 10_000).unwrap();
    let ab1b2 = faults::overlap(&ab, big + 1, 4_000, 3_999).unwrap();
    let faulty = faults::reorder(&ab1b2, big, big + 1).unwrap();
    // Oracle: what a first-data-wins reassembler keeps: B1's copy of the overlap.
    let stream = faults::reassemble_first_wins(&faulty, &conn, Dir::ToClient);
    let original = faults::reassemble_first_wins(&pkts, &conn, Dir::ToClient);
    // Stream offset of the big.txt segment: the one response before it.
    let base: usize = faults::payload_segments(&pkts, &conn, Dir::ToClient)
        .into_iter()
        .take_while(|&i| i != big)
        .map(|i| faults::payload(&pkts[i]).unwrap().len())
        .sum();
    let head = faults::payload(&pkts[big]).unwrap().len() - BIG_LEN;
    assert!(10_000 > head, "the conflict lies in the body");
    assert_eq!(stream.len(), original.len());
    let conflict = base + 10_000..base + 10_100;
    assert_ne!(stream[conflict.clone()], original[conflict.clone()]);
    assert_eq!(stream[..conflict.start], original[..conflict.start]);
    assert_eq!(stream[conflict.end..], original[conflict.end..]);

    let r = run_variant("conflict-buffered-body", &faulty);
    let at = index_of(&c.records, "GET", "/static/big.txt");
    let want = replaced(&c.records, at, plus_mismatch(&c.records[at]));
    assert_records_eq(&r.records, &want, "conflicting overlap in the big.txt body");
    assert_eq!(r.stats["reassembly"]["retransmission_mismatches"], 1);
}

#[test]
fn conflicting_overlap_first_copy_wins_in_the_request_line() {
    // Same construction on the pipelined requests, the conflict on the URI of request 2: the
    // altered copy is buffered first, so first data wins means the record shows `/XXXXX`,
    // exactly what the first-data-wins oracle reassembles, and carries the anomaly.
    let pkts = packets(PYTHON);
    let c = clean(PYTHON);
    let conn = faults::conn_by_port(&pkts, PY_PORT).unwrap();
    let req = faults::client_payload(&pkts, PY_PORT, 0).unwrap();
    let login = offset_in_payload(&pkts, req, "POST /login ") + "POST /".len();
    let ab = faults::overlap_conflicting(&pkts, req, login + 5, login).unwrap();
    // B1 = [login..login+20), still inside request 2's head; B2 = the rest.
    let ab1b2 = faults::overlap(&ab, req + 1, 20, 19).unwrap();
    let faulty = faults::reorder(&ab1b2, req, req + 1).unwrap();
    let stream = faults::reassemble_first_wins(&faulty, &conn, Dir::ToServer);
    let reqs = oracle::requests(&stream).unwrap();
    assert_eq!(reqs[1].target(), "/XXXXX");

    let r = run_variant("conflict-buffered-uri", &faulty);
    let at = index_on(&c.records, &conn, "/login");
    let mut rec = with(&c.records[at], "/request/uri", Value::from("/XXXXX"));
    rec = with(&rec, "/request/path", Value::from("/XXXXX"));
    rec = plus_mismatch(&rec);
    let want = replaced(&c.records, at, rec);
    assert_records_eq(&r.records, &want, "conflicting overlap in a request line");
}

#[test]
fn conflict_detected_by_the_segment_that_completes_a_message_is_flagged_on_that_message() {
    // reassembly/src/stream.rs `on_segment` emits `Anomaly(RetransmissionMismatch)` after
    // `deliver_in_order` has delivered the bytes; when they complete the message, the HTTP
    // layer (`Connection::on_tcp_anomaly`: "the message in progress there, or the next")
    // attaches it to the next message, which the conflict did not touch.
    //
    // big.txt response as B = [10000..end) with its first 100 bytes altered, then A =
    // [0..10100): B is buffered, A overlaps it with different bytes, and delivering A and B
    // completes the response. Actual: `/api/users.json` (depth 3) carries the anomaly.
    let pkts = packets(NGINX);
    let c = clean(NGINX);
    let (_, big) = big_response(&pkts);
    let ab = faults::overlap_conflicting(&pkts, big, 10_100, 10_000).unwrap();
    let faulty = faults::reorder(&ab, big, big + 1).unwrap();
    let r = run_variant("conflict-completing", &faulty);
    let at = index_of(&c.records, "GET", "/static/big.txt");
    let want = replaced(&c.records, at, plus_mismatch(&c.records[at]));
    assert_records_eq(
        &r.records,
        &want,
        "conflict in the segment completing big.txt",
    );

    // The last request of the pipelined connection, conflict on its URI (`/stream` sent
    // first as `/XXXXXX`). First data wins, so the record shows `/XXXXXX`. Actual: no record
    // carries the anomaly (nothing follows on that direction), only the counter sees it.
    let pkts = packets(PYTHON);
    let c = clean(PYTHON);
    let req = faults::client_payload(&pkts, PY_PORT, 0).unwrap();
    let at_uri = offset_in_payload(&pkts, req, "GET /stream ") + "GET /".len();
    let ab = faults::overlap_conflicting(&pkts, req, at_uri + 6, at_uri).unwrap();
    let faulty = faults::reorder(&ab, req, req + 1).unwrap();
    let r = run_variant("conflict-completing-last", &faulty);
    assert_eq!(r.stats["reassembly"]["retransmission_mismatches"], 1);
    let conn = faults::conn_by_port(&pkts, PY_PORT).unwrap();
    let at = index_on(&c.records, &conn, "/stream");
    let mut rec = with(&c.records[at], "/request/uri", Value::from("/XXXXXX"));
    rec = with(&rec, "/request/path", Value::from("/XXXXXX"));
    rec = plus_mismatch(&rec);
    assert_records_eq(
        &r.records,
        &replaced(&c.records, at, rec),
        "conflict on the last request",
    );
}

/// Check the pickup anomaly is on the first transaction of each connection in `rs` that is
/// picked up (client ports in `picked`), and on no other.
fn assert_pickup_on_first_transactions(rs: &[Value], picked: &[u64], what: &str) {
    for r in rs {
        let port = r["flow"]["src_port"].as_u64().unwrap();
        let first = !rs.iter().any(|o| {
            o["flow"]["src_port"].as_u64() == Some(port)
                && o["depth"].as_u64() < r["depth"].as_u64()
        });
        let has = anomalies(r).iter().any(|a| a == "mid_stream_pickup");
        assert_eq!(
            has,
            first && picked.contains(&port),
            "{what}: mid_stream_pickup belongs on the first transaction of a picked-up connection: {r}"
        );
    }
}

#[test]
fn pickup_after_the_handshake_keeps_every_transaction() {
    // Every connection loses SYN, SYN-ACK and ACK: all requests start after the cut. The
    // server is the lower port (18080, 18090 are not in the well-known list). The pickup is
    // reported once per connection, on its first transaction.
    for rel in [NGINX, PYTHON] {
        let c = clean(rel);
        let pkts = packets(rel);
        let r = run_variant("mid-stream-3", &faults::start_mid_stream(&pkts, 3));
        let ports: Vec<u64> = faults::connections(&pkts)
            .iter()
            .map(|c| u64::from(c.client.port()))
            .collect();
        assert_pickup_on_first_transactions(&r.records, &ports, rel);
        let got: Vec<Value> = r.records.iter().map(|x| mid_stream(x, 0)).collect();
        assert_records_eq(&renumber_conns(&got), &renumber_conns(&c.records), rel);
        assert_eq!(
            r.stats["reassembly"]["mid_stream_pickups"],
            ports.len(),
            "{rel}"
        );
    }
}

/// `pkts` without the first `n` packets of `conn` (other connections untouched).
fn cut_conn(pkts: &[Packet], conn: &Conn, n: usize) -> Vec<Packet> {
    let mut seen = 0;
    pkts.iter()
        .filter(|p| {
            let mine = faults::tcp_segment(p).is_some_and(|s| conn.dir_of(&s).is_some());
            if mine {
                seen += 1;
            }
            !mine || seen > n
        })
        .cloned()
        .collect()
}

/// Check a pickup on `conn` of `rel` after `n` packets: the transactions of `conn` whose
/// requests start at or after `first_kept_depth` are the clean ones (pickup anomaly, shifted
/// depth), every other connection is untouched, and nothing else is reported.
fn check_pickup(rel: &str, conn_needle: &str, n: usize, first_kept_depth: u64) {
    let pkts = packets(rel);
    let c = clean(rel);
    let conn = conn_with_request(&pkts, conn_needle);
    let port = u64::from(conn.client.port());
    let r = run_variant("mid-stream-cut", &cut_conn(&pkts, &conn, n));
    let want: Vec<Value> = c
        .records
        .iter()
        .filter(|x| {
            x["flow"]["src_port"].as_u64() != Some(port)
                || x["depth"].as_u64().unwrap() >= first_kept_depth
        })
        .cloned()
        .collect();
    assert_pickup_on_first_transactions(&r.records, &[port], rel);
    let got: Vec<Value> = r.records.iter().map(|x| mid_stream(x, 0)).collect();
    let want: Vec<Value> = want
        .iter()
        .map(|x| {
            if x["flow"]["src_port"].as_u64() == Some(port) {
                mid_stream(x, first_kept_depth - 1)
            } else {
                x.clone()
            }
        })
        .collect();
    assert_records_eq(
        &renumber_conns(&got),
        &renumber_conns(&want),
        &format!("{rel}: {conn_needle} cut after {n} packets"),
    );
}

#[test]
fn pickup_between_transactions_keeps_the_later_ones() {
    // nginx keep-alive connection: SYN, SYN-ACK, ACK, GET /index.html, ACK and its response
    // lost; the pickup starts with the client's pure ACK, then request 2.
    let pkts = packets(NGINX);
    let conn = conn_with_request(&pkts, "GET /static/big.txt ");
    let first_pkts: Vec<usize> = pkts
        .iter()
        .enumerate()
        .filter(|(_, p)| faults::tcp_segment(p).is_some_and(|s| conn.dir_of(&s).is_some()))
        .map(|(i, _)| i)
        .take(8)
        .collect();
    let eighth = faults::payload(&pkts[first_pkts[7]]).unwrap();
    assert!(
        eighth.starts_with(b"GET /static/big.txt "),
        "layout: the 8th packet of the keep-alive connection is request 2"
    );
    check_pickup(NGINX, "GET /static/big.txt ", 6, 2);
}

#[test]
fn pickup_inside_a_response_invents_nothing() {
    // Python keep-alive connection cut after 7 packets: the /health request and response
    // headers are lost, its 15-byte body `{"status": "ok"}` is the first server byte seen.
    // That body must not become a transaction; /users/42 onwards are the clean ones.
    //
    // Actual: the body is a `malformed_response`; the direction desyncs with
    // `at_line_start = false` (sessionizer/src/http/connection.rs `head_failed` ->
    // `enter_desync(side, false)`), and `parser::probe` only accepts a status line at offset 0
    // when at a line start or right after a `\n`. The Python server's JSON bodies end without a
    // newline and the next status line follows directly, so the status lines of /users/42,
    // POST /login and /stream are skipped (862 bytes, `desync_skipped_bytes`); resync happens
    // inside the HEAD response, whose `200` (Content-Length 55, no body) is paired with
    // `GET /users/42` (latency 129718 us, body_bytes 55 taken from the 404 that follows), and
    // POST /login, GET /stream, HEAD /users/7, GET /missing come out with `response: null`.
    let pkts = packets(PYTHON);
    let conn = conn_with_request(&pkts, "GET /health ");
    let eighth = pkts
        .iter()
        .filter(|p| faults::tcp_segment(p).is_some_and(|s| conn.dir_of(&s).is_some()))
        .nth(7)
        .unwrap();
    let seg = faults::tcp_segment(eighth).unwrap();
    assert_eq!(
        (conn.dir_of(&seg), seg.payload_len()),
        (Some(Dir::ToClient), 15),
        "layout: the 8th packet is the /health body"
    );
    check_pickup(PYTHON, "GET /health ", 7, 2);
}

#[test]
fn lost_syn_keeps_every_transaction() {
    // Orientation comes from the SYN-ACK; the client stream is anchored without its SYN.
    for rel in [NGINX, PYTHON] {
        let c = clean(rel);
        let r = run_variant("lose-syn", &faults::lose_syn(&packets(rel)));
        assert_records_eq(
            &renumber_conns(&r.records),
            &renumber_conns(&c.records),
            rel,
        );
    }
}

#[test]
fn packet_times_past_year_9999_are_written_as_its_last_microsecond() {
    // pcapng timestamps are 64-bit counts of any unit: in whole seconds they reach far past
    // what RFC 3339's four-digit years can say. The capture moved to year ~21000 (seconds
    // kept apart as they were) must replay like the clean one, every timestamp written as
    // the last microsecond of 9999: once, formatting such a time panicked.
    const FAR_SECS: u64 = 600_000_000_000;
    let pkts = packets(NGINX);
    let first = pkts[0].ts.as_secs();
    let far: Vec<Packet> = pkts
        .iter()
        .map(|p| Packet {
            ts: std::time::Duration::from_secs(FAR_SECS + p.ts.as_secs() - first),
            ..p.clone()
        })
        .collect();
    let dir = scratch("faults-far-future");
    let path = dir.join("far.pcapng");
    write_pcapng(&path, &far, 0).expect("write pcapng");
    let clean = replay(&[fixture(NGINX)], &["--quiet"]);
    let r = replay(std::slice::from_ref(&path), &["--quiet"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.records.len(), clean.records.len());
    let kinds = |rs: &[Value]| rs.iter().map(|x| x["type"].clone()).collect::<Vec<_>>();
    assert_eq!(kinds(&r.records), kinds(&clean.records));
    const LAST: &str = "9999-12-31T23:59:59.999999Z";
    for rec in &r.records {
        assert_eq!(rec["ts"], LAST, "{rec}");
        if rec["type"] == "session" {
            assert_eq!(
                (&rec["first_seen"], &rec["last_seen"]),
                (&LAST.into(), &LAST.into())
            );
        }
    }
    assert!(r.records.iter().any(|x| x["type"] == "session"));
}
