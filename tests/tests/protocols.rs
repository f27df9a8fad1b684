//! Protocols besides HTTP/1, through the real binary: HTTP/2 and gRPC (`fixtures/h2/`, against
//! tshark's dissection), WebSocket (`fixtures/websocket/`, against tshark), TLS
//! (`fixtures/tls/`, against tshark and the `ja4plus` package), decryption with a key log
//! (the requests curl sent), and issue 21's captures (`fixtures/protocols/`): traffic that is
//! not HTTP, HTTP inside a CONNECT tunnel, request smuggling and host confusion.

use std::collections::BTreeMap;

use apitap_tests::harness::{fixture, replay, replay_core, Replay};
use apitap_tests::records::anomalies;
use serde_json::Value;

/// Replay one fixture with the core pipeline (sessions off) and `extra` flags; a clean run.
fn core(rel: &str, extra: &[&str]) -> Replay {
    let r = replay_core(&[fixture(rel)], extra);
    assert_eq!(r.code, 0, "replay {rel}: {}", r.stderr);
    r
}

/// The records of one type.
fn of_type<'a>(r: &'a Replay, t: &str) -> Vec<&'a Value> {
    r.records.iter().filter(|v| v["type"] == t).collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// Issue 21.

/// SMTP and PostgreSQL, whose bytes hold HTTP-looking lines, give no http record: each is one
/// `not_http` connection.
#[test]
fn smtp_and_postgres_are_not_http() {
    for rel in ["protocols/smtp.pcap", "protocols/postgres.pcap"] {
        let r = core(rel, &[]);
        assert!(r.records.is_empty(), "{rel}: {}", r.raw);
        assert_eq!(r.stats["http"]["not_http_connections"], 1, "{rel}");
        assert_eq!(r.stats["http"]["requests"], 0, "{rel}");
        assert_eq!(r.stats["http"]["responses"], 0, "{rel}");
    }
}

/// Each request-smuggling and host-confusion probe is flagged on its transaction; an
/// absolute-form target names the host.
#[test]
fn smuggling_and_host_confusion_are_flagged() {
    let r = core("protocols/smuggling.pcap", &[]);
    let http = of_type(&r, "http");
    let want = [
        (
            "/transfer",
            "transfer_encoding_in_http10",
            "api.example.test",
        ),
        ("/transfer", "chunked_twice", "api.example.test"),
        ("/api/items", "duplicate_host", "api.example.test"),
        ("/api/items", "host_mismatch", "admin.internal"),
    ];
    assert_eq!(http.len(), want.len(), "{}", r.raw);
    for (rec, (path, anomaly, host)) in http.iter().zip(want) {
        assert_eq!(s(&rec["request"]["path"]), path);
        assert_eq!(anomalies(rec), vec![anomaly.to_string()], "{rec}");
        assert_eq!(s(&rec["request"]["host"]), host, "{rec}");
        assert!(rec["response"]["status"].as_u64().is_some(), "{rec}");
    }
}

/// curl through a CONNECT proxy: the CONNECT, then each GET inside the tunnel with its
/// response and the tunnel's authority, numbered on the one connection.
#[test]
fn http_inside_a_connect_tunnel_is_reported() {
    let r = core("protocols/connect-http.pcap", &[]);
    let http = of_type(&r, "http");
    let rows: Vec<(u64, &str, &str, u64, Option<&str>)> = http
        .iter()
        .map(|v| {
            (
                v["depth"].as_u64().unwrap_or(0),
                s(&v["request"]["method"]),
                s(&v["request"]["uri"]),
                v["response"]["status"].as_u64().unwrap_or(0),
                v["connect_authority"].as_str(),
            )
        })
        .collect();
    let tunnel = Some("127.0.0.1:18534");
    assert_eq!(
        rows,
        vec![
            (1, "CONNECT", "127.0.0.1:18534", 200, None),
            (2, "GET", "/api/items", 200, tunnel),
            (3, "GET", "/api/users/7", 200, tunnel),
        ]
    );
    assert_eq!(http[0]["switched_protocol"], "connect");
    assert_eq!(http[1]["response"]["body_bytes"], 22);
}

// ---------------------------------------------------------------------------------------------
// HTTP/2 and gRPC against tshark.

/// One HTTP/2 stream as `fixtures/h2/*.tshark.jsonl` lists it, keyed by (connection order,
/// stream id).
type Streams = BTreeMap<(u64, u64), Value>;

/// tshark's streams that carry a request or a response: nghttp's PRIORITY-only placeholder
/// streams (3 to 11 of the last nginx connection) are no exchange.
fn tshark_streams(rel: &str) -> Streams {
    let text = std::fs::read_to_string(fixture(rel)).expect("tshark view");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|v| v.get("method").is_some() || v.get("status").is_some())
        .map(|v| {
            (
                (
                    v["conn"].as_u64().unwrap(),
                    v["stream_id"].as_u64().unwrap(),
                ),
                v,
            )
        })
        .collect()
}

/// The HTTP/2 records of a replay, keyed as tshark's (connections are numbered from 1 in
/// the order they opened, tshark's from 0).
fn apitap_streams(r: &Replay) -> Streams {
    of_type(r, "http")
        .into_iter()
        .filter(|v| v["request"]["version"] == "HTTP/2" || v["response"]["version"] == "HTTP/2")
        .map(|v| {
            let conn = v["conn_id"].as_u64().unwrap() - 1;
            ((conn, v["stream_id"].as_u64().unwrap()), v.clone())
        })
        .collect()
}

/// Every stream of the three h2c captures (prior knowledge, upgrade, gRPC) is reported with
/// tshark's method, path, authority, status, grpc-status, grpc-message and message counts.
#[test]
fn h2c_streams_match_tshark() {
    for name in ["nginx-prior-knowledge", "hypercorn-upgrade", "grpc"] {
        let r = core(&format!("h2/{name}.pcap"), &[]);
        let ours = apitap_streams(&r);
        let want = tshark_streams(&format!("h2/{name}.tshark.jsonl"));
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}: streams"
        );
        for (k, t) in &want {
            let a = &ours[k];
            let at = format!("{name} {k:?}");
            // tshark has no request on an upgraded connection's stream 1 (it was HTTP/1.1;
            // `h2c_upgrade_reports_the_101_then_stream_1` checks it).
            for (ours, theirs) in [
                ("method", "method"),
                ("path", "path"),
                ("host", "authority"),
            ] {
                if t.get(theirs).is_some() {
                    assert_eq!(a["request"][ours], t[theirs], "{at} {ours}");
                }
            }
            assert_eq!(a["response"]["status"], t["status"], "{at}");
            if t.get("grpc_status").is_some() {
                let g = &a["grpc"];
                assert_eq!(g["status"], t["grpc_status"], "{at}");
                assert_eq!(
                    g["message"].as_str().unwrap_or(""),
                    s(&t["grpc_message"]),
                    "{at}"
                );
                // tshark leaves out the counts of a direction without messages.
                let count = |k: &str| t[k].as_u64().unwrap_or(0);
                for (ours, theirs) in [
                    ("request_messages", "request_messages"),
                    ("response_messages", "response_messages"),
                    ("request_message_bytes", "request_bytes"),
                    ("response_message_bytes", "response_bytes"),
                ] {
                    assert_eq!(g[ours].as_u64(), Some(count(theirs)), "{at} {ours}");
                }
                let (service, method) = s(&t["path"])[1..].split_once('/').unwrap();
                assert_eq!(
                    (s(&g["service"]), s(&g["method"])),
                    (service, method),
                    "{at}"
                );
            }
        }
    }
}

/// An h2c upgrade: the 101 is a record of its own, and stream 1 repeats the upgrade request
/// with the HTTP/2 response, numbered after it.
#[test]
fn h2c_upgrade_reports_the_101_then_stream_1() {
    let r = core("h2/hypercorn-upgrade.pcap", &[]);
    let http = of_type(&r, "http");
    assert_eq!(http[0]["response"]["status"], 101);
    assert_eq!(http[0]["switched_protocol"], "upgrade:h2c");
    assert_eq!(
        (http[1]["depth"].as_u64(), http[1]["stream_id"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(http[1]["request"]["uri"], "/first");
}

/// Sessions and endpoints read gRPC calls as any other request.
#[test]
fn grpc_endpoints_read_method_and_path() {
    let r = replay(&[fixture("h2/grpc.pcap")], &["--quiet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let endpoints: Vec<&str> = of_type(&r, "http")
        .iter()
        .map(|v| s(&v["endpoint"]))
        .collect();
    assert!(
        endpoints.contains(&"POST /shop.Orders/GetOrder"),
        "{endpoints:?}"
    );
    assert!(
        endpoints.contains(&"POST /shop.Orders/WatchOrder"),
        "{endpoints:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// WebSocket against tshark.

/// The rows of a tab-separated expectations file after its comment and header lines.
fn tsv(rel: &str) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(fixture(rel)).expect("expectations");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t'))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Each WebSocket capture gives one record per connection whose per-direction frames,
/// messages, text, binary, pings, pongs and close equal tshark's; its transaction is the
/// upgrade's and its session the upgrade's, whose records count the messages.
#[test]
fn websocket_records_match_tshark() {
    for row in tsv("websocket/expected.tsv") {
        let case = &row["case"];
        let r = replay(&[fixture(&format!("websocket/{case}.pcap"))], &["--quiet"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let ws = of_type(&r, "websocket");
        let [rec] = &ws[..] else {
            panic!("{case}: {}", r.raw)
        };
        let d = &rec[row["direction"].as_str()];
        let n = |k: &str| row[k].parse::<u64>().unwrap();
        let at = format!("{case} {}", row["direction"]);
        assert_eq!(d["frames"], n("frames"), "{at}");
        assert_eq!(d["messages"], n("messages"), "{at}");
        assert_eq!(d["text_messages"], n("text"), "{at}");
        assert_eq!(d["binary_messages"], n("binary"), "{at}");
        assert_eq!(d["pings"], n("pings"), "{at}");
        assert_eq!(d["pongs"], n("pongs"), "{at}");
        assert_eq!(rec["close"]["code"], n("close_code"), "{at}");
        assert_eq!(rec["close"]["reason"], row["close_reason"].as_str(), "{at}");
        let upgrade = of_type(&r, "http")[0];
        assert_eq!(rec["transaction_id"], upgrade["transaction_id"], "{at}");
        assert_eq!(rec["session_id"], upgrade["session_id"], "{at}");
        let total = rec["client"]["messages"].as_u64().unwrap()
            + rec["server"]["messages"].as_u64().unwrap();
        let end = of_type(&r, "session")
            .into_iter()
            .find(|v| v["phase"] == "end")
            .unwrap();
        assert_eq!(end["websocket_messages"], total, "{at}");
    }
}

// ---------------------------------------------------------------------------------------------
// TLS against tshark and ja4plus.

/// `0x0303` → `TLS 1.2`, as the records name versions.
fn version_name(hex: &str) -> &'static str {
    match hex {
        "0x0304" => "TLS 1.3",
        "0x0303" => "TLS 1.2",
        other => panic!("version {other}"),
    }
}

/// Each TLS capture gives one tls record (and no http record) whose SNI, ALPN offered and
/// selected, version, JA3 (string and hash) and JA4 equal the expectations.
#[test]
fn tls_records_match_tshark_and_ja4plus() {
    for row in tsv("tls/expected.tsv") {
        let case = &row["case"];
        let r = core(&format!("tls/{case}.pcap"), &[]);
        assert!(of_type(&r, "http").is_empty(), "{case}");
        let tls = of_type(&r, "tls");
        let [rec] = &tls[..] else {
            panic!("{case}: {}", r.raw)
        };
        let opt = |k: &str| (row[k] != "-").then(|| row[k].clone());
        assert_eq!(
            rec["sni"].as_str().map(str::to_string),
            opt("sni"),
            "{case}"
        );
        let alpn: Vec<&str> = rec["alpn"].as_array().unwrap().iter().map(s).collect();
        assert_eq!(alpn.join(","), row["alpn"], "{case}");
        assert_eq!(
            rec["alpn_selected"].as_str().map(str::to_string),
            opt("alpn_selected"),
            "{case}"
        );
        assert_eq!(s(&rec["version"]), version_name(&row["version"]), "{case}");
        assert_eq!(s(&rec["ja3"]), row["ja3_full"], "{case}");
        assert_eq!(s(&rec["ja3_hash"]), row["ja3"], "{case}");
        assert_eq!(s(&rec["ja4"]), row["ja4"], "{case}");
        assert_eq!(rec["joined_late"], false, "{case}");
        assert_eq!(r.stats["http"]["tls_connections"], 1, "{case}");
    }
}

/// With the key log curl wrote, each capture gives the request curl sent (`GET
/// /v1/orders/42` with its bearer token, redacted) and nginx's 200, over HTTP/1.1 or HTTP/2 as
/// ALPN chose, marked decrypted; the tls record is still written.
#[test]
fn keylog_replay_gives_the_requests_curl_sent() {
    for row in tsv("tls/expected.tsv") {
        let case = &row["case"];
        let keylog = fixture(&format!("tls/{case}.keylog"));
        let r = core(
            &format!("tls/{case}.pcap"),
            &["--tls-keylog", keylog.to_str().unwrap()],
        );
        let http = of_type(&r, "http");
        let [tx] = &http[..] else {
            panic!("{case}: {}", r.raw)
        };
        assert_eq!(s(&tx["request"]["method"]), "GET", "{case}");
        assert_eq!(s(&tx["request"]["uri"]), "/v1/orders/42", "{case}");
        assert_eq!(tx["response"]["status"], 200, "{case}");
        assert_eq!(tx["decrypted"], true, "{case}");
        let h2 = row["alpn_selected"] == "h2"
            || (row["alpn_selected"] == "-" && row["alpn"].starts_with("h2"));
        let version = if h2 { "HTTP/2" } else { "HTTP/1.1" };
        assert_eq!(s(&tx["request"]["version"]), version, "{case}");
        let auth = tx["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| s(&h[0]).eq_ignore_ascii_case("authorization"))
            .expect("authorization");
        assert_eq!(s(&auth[1]), "[redacted]", "{case}");
        let tls = of_type(&r, "tls");
        assert_eq!(tls.len(), 1, "{case}");
        assert!(
            tls[0]["decryption"]["client"]["records"].as_u64().unwrap() > 0,
            "{case}"
        );
        assert_eq!(r.stats["http"]["tls_decrypted_connections"], 1, "{case}");
    }
}

/// A TLS record belongs to its client's `fallback:ip` session when one is open: the
/// decrypted request opened it.
#[test]
fn tls_record_joins_the_client_ip_session() {
    let cfg = std::env::temp_dir().join(format!("apitap-tls-session-{}.toml", std::process::id()));
    std::fs::write(&cfg, "[[session.keys]]\nsource = \"fallback_ip\"\n").unwrap();
    let keylog = fixture("tls/tls12-sni-h1.keylog");
    let r = replay(
        &[fixture("tls/tls12-sni-h1.pcap")],
        &[
            "--quiet",
            "--config",
            cfg.to_str().unwrap(),
            "--tls-keylog",
            keylog.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_file(&cfg);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let http = of_type(&r, "http");
    let tls = of_type(&r, "tls");
    assert!(http[0]["session_id"].is_string(), "{}", r.raw);
    assert_eq!(tls[0]["session_id"], http[0]["session_id"]);
    let without = core("tls/tls12-sni-h1.pcap", &[]);
    assert!(of_type(&without, "tls")[0]["session_id"].is_null());
}
