//! Golden files: every capture in `fixtures/local/` and `fixtures/sessions/journeys.pcap`,
//! replayed through the real binary, must give JSON lines byte-identical to
//! `fixtures/golden/<name>.jsonl`.
//!
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p apitap-tests --test golden` and review the
//! diff (see `fixtures/golden/README.md`). The other tests here check facts that hold
//! whatever the golden files say, taken from the captures themselves (through
//! [`apitap_tests::oracle`]) or from the fixtures' READMEs (what tshark shows), so a golden file
//! regenerated from a wrong output does not make them pass.

use std::path::{Path, PathBuf};

use apitap_tests::faults::{self, Dir};
use apitap_tests::harness::{fixture, replay, replay_core, workspace_root, Replay};
use apitap_tests::oracle;
use apitap_tests::pcapio::read_pcap;
use apitap_tests::records::{index_of, k, keys, Key};
use serde_json::Value;

/// Server port of `fixtures/local/nginx-curl.pcap`.
const NGINX_PORT: u16 = 18080;
/// Server port of `fixtures/local/python-pipelining.pcap`.
const PY_PORT: u16 = 18090;

/// Every capture with a golden file: `fixtures/local/*.pcap`, then the journeys.
fn golden_inputs() -> Vec<PathBuf> {
    let mut local: Vec<PathBuf> = std::fs::read_dir(fixture("local"))
        .expect("fixtures/local")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    local.sort();
    assert!(
        local.len() >= 2,
        "fixtures/local lost its captures: {local:?}"
    );
    local.push(fixture("sessions/journeys.pcap"));
    local
}

/// `fixtures/golden/<capture stem>.jsonl`.
fn golden_path(pcap: &Path) -> PathBuf {
    let stem = pcap.file_stem().expect("file stem").to_string_lossy();
    workspace_root()
        .join("fixtures/golden")
        .join(format!("{stem}.jsonl"))
}

/// The pipelines a golden file holds for, as `--workers` values: one thread (replay's
/// default), and the threaded pipeline with one worker. Both give the same bytes.
const GOLDEN_WORKERS: [&str; 2] = ["0", "1"];

/// Replay a capture with its config, `extra` flags added: the journeys with the shop's
/// session config (sessions on), the local captures with the core pipeline alone.
fn replay_with_config(pcap: &Path, extra: &[&str]) -> Replay {
    let pcaps = std::slice::from_ref(&pcap.to_path_buf()).to_vec();
    let mut args = vec!["--quiet"];
    args.extend_from_slice(extra);
    if pcap.ends_with("sessions/journeys.pcap") {
        let cfg = fixture("sessions/shop.toml");
        args.extend(["--config", cfg.to_str().expect("utf-8 path")]);
        replay(&pcaps, &args)
    } else {
        replay_core(&pcaps, &args)
    }
}

/// Replay one fixture (with replay's default threads) and require a clean run.
fn run(rel: &str) -> Replay {
    let r = replay_with_config(&fixture(rel), &[]);
    assert_eq!(r.code, 0, "replay {rel}: {}", r.stderr);
    r
}

/// Up to 60 bytes either side of byte `at` of `line` (on character boundaries).
fn around(line: &str, at: usize) -> &str {
    let mut from = at.saturating_sub(60);
    while !line.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (at + 60).min(line.len());
    while !line.is_char_boundary(to) {
        to += 1;
    }
    &line[from..to]
}

#[test]
fn output_matches_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for (pcap, workers) in golden_inputs()
        .into_iter()
        .flat_map(|p| GOLDEN_WORKERS.map(|w| (p.clone(), w)))
    {
        let r = replay_with_config(&pcap, &["--workers", workers]);
        assert_eq!(r.code, 0, "replay {}: {}", pcap.display(), r.stderr);
        assert!(!r.records.is_empty(), "{}: no records", pcap.display());
        let golden = golden_path(&pcap);
        if update {
            if workers != GOLDEN_WORKERS[0] {
                continue;
            }
            std::fs::create_dir_all(golden.parent().expect("golden dir")).expect("mkdir");
            std::fs::write(&golden, &r.raw).expect("write golden file");
            eprintln!("wrote {}", golden.display());
            continue;
        }
        let Ok(want) = std::fs::read_to_string(&golden) else {
            failures.push(format!(
                "{} missing: run UPDATE_GOLDEN=1 cargo test -p apitap-tests --test golden",
                golden.display()
            ));
            continue;
        };
        if r.raw != want {
            let (got_lines, want_lines): (Vec<&str>, Vec<&str>) =
                (r.raw.lines().collect(), want.lines().collect());
            let first = got_lines
                .iter()
                .zip(&want_lines)
                .position(|(g, w)| g != w)
                .unwrap_or(got_lines.len().min(want_lines.len()));
            let (g, w) = (
                got_lines.get(first).copied().unwrap_or("<none>"),
                want_lines.get(first).copied().unwrap_or("<none>"),
            );
            let col = g
                .bytes()
                .zip(w.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(g.len().min(w.len()));
            failures.push(format!(
                "{} (--workers {workers}): output differs from {} ({} lines, golden has {}); first difference at line {}, byte {}:\n got: ...{}\nwant: ...{}",
                pcap.display(),
                golden.display(),
                got_lines.len(),
                want_lines.len(),
                first + 1,
                col + 1,
                around(g, col),
                around(w, col),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is intended: UPDATE_GOLDEN=1 cargo test -p apitap-tests --test golden, then review `git diff fixtures/golden`.",
        failures.join("\n\n")
    );
}

#[test]
fn nginx_transactions_are_the_ones_tshark_lists() {
    // fixtures/local/README.md, "nginx-curl.pcap", in capture order.
    let want: Vec<Key> = vec![
        k("GET", "/", 200),
        k("HEAD", "/index.html", 200),
        k("GET", "/api/users.json", 200),
        k("GET", "/nope.html", 404),
        k("POST", "/api/users.json", 405),
        k("GET", "/index.html", 200),
        k("GET", "/static/big.txt", 200),
        k("GET", "/api/users.json", 200),
        k("PUT", "/upload/order.json", 201),
    ];
    let r = run("local/nginx-curl.pcap");
    assert_eq!(keys(&r.records), want);
    // Connections as the README numbers them: one per curl run, the keep-alive one carries 3.
    let conns: Vec<(u64, u64)> = r
        .records
        .iter()
        .map(|x| (x["conn_id"].as_u64().unwrap(), x["depth"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        conns,
        vec![
            (1, 1),
            (2, 1),
            (3, 1),
            (4, 1),
            (5, 1),
            (6, 1),
            (6, 2),
            (6, 3),
            (7, 1)
        ]
    );
    assert!(r
        .records
        .iter()
        .all(|x| x["anomalies"] == Value::from(Vec::<String>::new())));
}

#[test]
fn python_transactions_are_the_ones_tshark_lists() {
    // fixtures/local/README.md, "python-pipelining.pcap", in capture order.
    let want: Vec<Key> = vec![
        k("GET", "/users/1", 200),
        k("POST", "/login", 200),
        k("GET", "/stream", 200),
        k("GET", "/health", 200),
        k("GET", "/users/42", 200),
        k("POST", "/login", 200),
        k("GET", "/stream", 200),
        k("HEAD", "/users/7", 200),
        k("GET", "/missing", 404),
    ];
    let r = run("local/python-pipelining.pcap");
    assert_eq!(keys(&r.records), want);
    assert!(r
        .records
        .iter()
        .all(|x| x["anomalies"] == Value::from(Vec::<String>::new())));
}

#[test]
fn pipelined_requests_are_paired_in_order_on_one_connection() {
    let r = run("local/python-pipelining.pcap");
    let pkts = read_pcap(fixture("local/python-pipelining.pcap")).unwrap();
    let pipelined = faults::conn_by_port(&pkts, PY_PORT).unwrap();
    // Precondition: the three requests really are in one segment.
    let segs = faults::payload_segments(&pkts, &pipelined, Dir::ToServer);
    assert_eq!(
        segs.len(),
        1,
        "the pipelined requests should be one segment"
    );

    let on_conn: Vec<&Value> = r
        .records
        .iter()
        .filter(|x| x["flow"]["src_port"].as_u64() == Some(u64::from(pipelined.client.port())))
        .collect();
    let got: Vec<(u64, u64, &str)> = on_conn
        .iter()
        .map(|x| {
            (
                x["conn_id"].as_u64().unwrap(),
                x["depth"].as_u64().unwrap(),
                x["request"]["uri"].as_str().unwrap(),
            )
        })
        .collect();
    let id = got[0].0;
    assert_eq!(
        got,
        vec![(id, 1, "/users/1"), (id, 2, "/login"), (id, 3, "/stream")]
    );
    // Each response is the one for its request: the bodies differ in length, as in the capture.
    let body_lens: Vec<u64> = on_conn
        .iter()
        .map(|x| x["response"]["body_bytes"].as_u64().unwrap())
        .collect();
    let stream = faults::reassemble_first_wins(&pkts, &pipelined, Dir::ToClient);
    let want: Vec<u64> = oracle::responses(&stream, &[])
        .unwrap()
        .iter()
        .map(|m| m.body.len() as u64)
        .collect();
    assert_eq!(body_lens, want);
    assert!(
        want.windows(2).all(|w| w[0] != w[1]),
        "bodies must differ in length for this check to pair anything: {want:?}"
    );
}

#[test]
fn secrets_are_redacted() {
    let raw_pcap = std::fs::read(fixture("local/python-pipelining.pcap")).unwrap();
    let r = run("local/python-pipelining.pcap");
    for secret in ["test-token-abc123", "s3cr3t-cookie", "new-s3cr3t"] {
        assert!(
            raw_pcap
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "precondition: {secret} is in the capture"
        );
        assert!(!r.raw.contains(secret), "{secret} leaked into the output");
    }
    assert!(r.raw.contains("[redacted]"));
    let header = |rec: &Value, side: &str, name: &str| -> Vec<String> {
        rec[side]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|h| h[1].as_str().unwrap().to_string())
            .collect()
    };
    let redacted = vec!["[redacted]".to_string()];
    for uri in ["/users/1", "/users/42"] {
        let rec = &r.records[index_of(&r.records, "GET", uri)];
        assert_eq!(header(rec, "request", "Authorization"), redacted, "{uri}");
    }
    for rec in r.records.iter().filter(|x| x["request"]["uri"] == "/login") {
        assert_eq!(header(rec, "request", "Cookie"), redacted);
        assert_eq!(header(rec, "response", "Set-Cookie"), redacted);
        // Non-secret headers keep their values.
        assert_eq!(
            header(rec, "request", "Content-Type"),
            vec!["application/json"]
        );
    }
}

#[test]
fn expect_100_continue_reports_the_interim_and_the_final_status() {
    let r = run("local/nginx-curl.pcap");
    let rec = &r.records[index_of(&r.records, "PUT", "/upload/order.json")];
    assert_eq!(rec["response"]["interim"], serde_json::json!([100]));
    assert_eq!(rec["response"]["status"], 201);
    assert_eq!(rec["request"]["body_bytes"], 2561);
    assert_eq!(rec["depth"], 1);
}

#[test]
fn head_responses_have_no_body() {
    for (rel, uri) in [
        ("local/nginx-curl.pcap", "/index.html"),
        ("local/python-pipelining.pcap", "/users/7"),
    ] {
        let r = run(rel);
        let rec = &r.records[index_of(&r.records, "HEAD", uri)];
        assert_eq!(rec["response"]["body_bytes"], 0, "{rel} HEAD {uri}");
        // The response announces a non-empty body: a parser that honours it would swallow
        // the next response.
        let cl = rec["response"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == "Content-Length")
            .and_then(|h| h[1].as_str()?.parse::<u64>().ok());
        assert!(cl.is_some_and(|n| n > 0), "{rel}: {rec}");
    }
}

/// For each connection of `rel`, the requests and responses the oracle finds in the capture,
/// compared with the records of that connection: status, interim codes and both body lengths.
fn check_bodies_against_capture(rel: &str, port: u16) -> Replay {
    let r = run(rel);
    let pkts = read_pcap(fixture(rel)).unwrap();
    let conns: Vec<faults::Conn> = faults::connections(&pkts)
        .into_iter()
        .filter(|c| c.server.port() == port)
        .collect();
    let mut seen = 0;
    for conn in &conns {
        let reqs = oracle::requests(&faults::reassemble_first_wins(&pkts, conn, Dir::ToServer))
            .unwrap_or_else(|| panic!("{rel} {conn:?}: oracle cannot split requests"));
        let heads: Vec<bool> = reqs.iter().map(|m| m.method() == "HEAD").collect();
        let resps = oracle::responses(
            &faults::reassemble_first_wins(&pkts, conn, Dir::ToClient),
            &heads,
        )
        .unwrap_or_else(|| panic!("{rel} {conn:?}: oracle cannot split responses"));
        let (interim, finals): (Vec<_>, Vec<_>) =
            resps.iter().partition(|m| m.status().unwrap() < 200);
        let mut recs: Vec<&Value> = r
            .records
            .iter()
            .filter(|x| x["flow"]["src_port"].as_u64() == Some(u64::from(conn.client.port())))
            .collect();
        recs.sort_by_key(|x| x["depth"].as_u64());
        assert_eq!(recs.len(), reqs.len(), "{rel} {conn:?}");
        assert_eq!(finals.len(), reqs.len(), "{rel} {conn:?}");
        for ((rec, req), resp) in recs.iter().zip(&reqs).zip(&finals) {
            let what = format!("{rel} {} {}", req.method(), req.target());
            assert_eq!(rec["request"]["method"], req.method(), "{what}");
            assert_eq!(rec["request"]["uri"], req.target(), "{what}");
            assert_eq!(rec["request"]["body_bytes"], req.body.len(), "{what}");
            assert_eq!(rec["response"]["status"], resp.status().unwrap(), "{what}");
            assert_eq!(rec["response"]["body_bytes"], resp.body.len(), "{what}");
        }
        // In these captures only one transaction per connection can have interim responses.
        let want_interim: Vec<u16> = interim.iter().filter_map(|m| m.status()).collect();
        let got_interim: Vec<u64> = recs
            .iter()
            .flat_map(|x| x["response"]["interim"].as_array().unwrap().clone())
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(
            got_interim,
            want_interim
                .iter()
                .map(|&s| u64::from(s))
                .collect::<Vec<_>>(),
            "{rel} {conn:?}"
        );
        seen += recs.len();
    }
    assert_eq!(
        seen,
        r.records.len(),
        "{rel}: every record belongs to a connection"
    );
    r
}

#[test]
fn body_bytes_equal_the_transfer_decoded_length_in_the_capture() {
    check_bodies_against_capture("local/nginx-curl.pcap", NGINX_PORT);
    check_bodies_against_capture("local/python-pipelining.pcap", PY_PORT);
}

#[test]
fn chunked_gzip_body_counts_decoded_chunks_not_framing() {
    let rel = "local/nginx-curl.pcap";
    let pkts = read_pcap(fixture(rel)).unwrap();
    // The `curl --compressed` connection is the third one.
    let conn = faults::connections(&pkts)[2];
    let stream = faults::reassemble_first_wins(&pkts, &conn, Dir::ToClient);
    let resp = &oracle::responses(&stream, &[]).unwrap()[0];
    assert_eq!(resp.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(resp.header("Content-Encoding"), Some("gzip"));
    assert_eq!(
        &resp.body[..2],
        &[0x1f, 0x8b],
        "de-chunked body is a gzip member"
    );
    let head_len = stream.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let framed = stream.len() - head_len;
    assert!(resp.body.len() < framed, "framing adds bytes");

    let r = run(rel);
    let rec = r
        .records
        .iter()
        .find(|x| x["flow"]["src_port"].as_u64() == Some(u64::from(conn.client.port())))
        .unwrap();
    assert_eq!(rec["request"]["uri"], "/api/users.json");
    assert_eq!(rec["response"]["body_bytes"], resp.body.len());

    // The chunked /stream responses of the Python server too (3 chunks, 10 ms apart).
    let rel = "local/python-pipelining.pcap";
    let pkts = read_pcap(fixture(rel)).unwrap();
    let r = run(rel);
    for conn in faults::connections(&pkts) {
        let reqs =
            oracle::requests(&faults::reassemble_first_wins(&pkts, &conn, Dir::ToServer)).unwrap();
        let heads: Vec<bool> = reqs.iter().map(|m| m.method() == "HEAD").collect();
        let resps = oracle::responses(
            &faults::reassemble_first_wins(&pkts, &conn, Dir::ToClient),
            &heads,
        )
        .unwrap();
        let (pos, resp) = reqs
            .iter()
            .zip(&resps)
            .enumerate()
            .find(|(_, (q, _))| q.target() == "/stream")
            .map(|(i, (_, s))| (i, s))
            .unwrap();
        assert_eq!(resp.header("Transfer-Encoding"), Some("chunked"));
        let rec = r
            .records
            .iter()
            .find(|x| {
                x["flow"]["src_port"].as_u64() == Some(u64::from(conn.client.port()))
                    && x["depth"].as_u64() == Some(pos as u64 + 1)
            })
            .unwrap();
        assert_eq!(rec["request"]["uri"], "/stream");
        assert_eq!(rec["response"]["body_bytes"], resp.body.len());
    }
}

#[test]
fn journeys_match_the_clients_own_log() {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixture("sessions/journeys.expected.json")).unwrap())
            .unwrap();
    let mut r = run("sessions/journeys.pcap");
    // Session records are checked in tests/tests/sessions.rs; here only transactions.
    r.records.retain(|x| x["type"] == "http");
    assert_eq!(
        r.records.len() as u64,
        expected["totals"]["requests"].as_u64().unwrap()
    );
    for j in expected["journeys"].as_array().unwrap() {
        let name = j["name"].as_str().unwrap();
        let ports = j["client_ports"].as_array().unwrap();
        for (c, port) in ports.iter().enumerate() {
            let want: Vec<(String, String, u64)> = j["request_log"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["connection"].as_u64() == Some(c as u64))
                .map(|e| {
                    (
                        e["method"].as_str().unwrap().to_string(),
                        e["path"].as_str().unwrap().to_string(),
                        e["status"].as_u64().unwrap(),
                    )
                })
                .collect();
            let mut recs: Vec<&Value> = r
                .records
                .iter()
                .filter(|x| x["flow"]["src_port"] == *port)
                .collect();
            recs.sort_by_key(|x| x["depth"].as_u64());
            let got: Vec<(String, String, u64)> = recs
                .iter()
                .map(|x| {
                    (
                        x["request"]["method"].as_str().unwrap().to_string(),
                        x["request"]["uri"].as_str().unwrap().to_string(),
                        x["response"]["status"].as_u64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                got, want,
                "journey {name}, connection {c} (client port {port})"
            );
        }
    }
    for s in expected["never_in_output"].as_array().unwrap() {
        let v = s["value"].as_str().unwrap();
        assert!(
            !r.raw.contains(v),
            "{} ({}) leaked",
            s["kind"],
            s["journey"]
        );
    }
}
