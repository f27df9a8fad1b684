//! No secret leaves the sensor (issue 21): a real capture carrying every kind of secret
//! (`fixtures/secrets/`, made by `scripts/capture-secrets.sh`) is replayed with body samples
//! off and on, in `replace` and `hash` modes, and every raw secret value is searched for in
//! the records, the stats JSON and the log at trace level. Kafka messages, their keys and
//! headers are searched in `tests/tests/kafka.rs`.

use std::path::PathBuf;
use std::process::Command;

use apitap_tests::harness::{apitap_bin, fixture, scratch, TEST_SESSION_SECRET};

/// Every raw secret value the capture carries, by where it is.
fn secrets() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(fixture("secrets/secrets.json")).expect("secrets.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let map = v.as_object().expect("an object");
    assert!(map.len() >= 20, "the secret list lost its entries");
    map.iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_owned()))
        .collect()
}

/// What one replay wrote: records, stats JSON and stderr.
struct Run {
    records: String,
    stats: String,
    stderr: String,
}

fn replay(config: &str, tag: &str) -> Run {
    let dir = scratch(&format!("secrets-{tag}"));
    let cfg = dir.join("apitap.toml");
    std::fs::write(&cfg, config).unwrap();
    let (out, stats): (PathBuf, PathBuf) = (dir.join("out.jsonl"), dir.join("stats.json"));
    let o = Command::new(apitap_bin())
        .args(["replay", fixture("secrets/secrets.pcap").to_str().unwrap()])
        .args(["--config", cfg.to_str().unwrap()])
        .args(["--output", out.to_str().unwrap()])
        .args(["--stats-json", stats.to_str().unwrap()])
        .env("RUST_LOG", "trace")
        .env("APITAP_SESSION_SECRET", TEST_SESSION_SECRET)
        .output()
        .expect("run apitap");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Run {
        records: std::fs::read_to_string(&out).unwrap(),
        stats: std::fs::read_to_string(&stats).unwrap(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The secrets found in any output of `run`.
fn leaks(run: &Run) -> Vec<String> {
    let mut found = Vec::new();
    for (name, value) in secrets() {
        for (place, text) in [
            ("records", &run.records),
            ("stats", &run.stats),
            ("stderr", &run.stderr),
        ] {
            if text.contains(&value) {
                found.push(format!("{name} in {place}"));
            }
        }
    }
    found
}

#[test]
fn no_secret_in_records_stats_or_log_with_bodies_off_and_on() {
    for (tag, config) in [
        ("default", ""),
        ("bodies", "[output]\nbody_capture_bytes = 8192\n"),
        (
            "hash",
            "[output]\nbody_capture_bytes = 8192\nredact_mode = \"hash\"\n",
        ),
    ] {
        let run = replay(config, tag);
        let records = run.records.lines().count();
        assert!(records >= 8, "{tag}: {records} records");
        assert_eq!(leaks(&run), Vec::<String>::new(), "{tag}");
    }
}

/// The samples are there when asked for (so the search above saw them), and in `hash` mode
/// the same value is the same hash wherever it is.
#[test]
fn body_samples_are_written_and_hashes_correlate() {
    let run = replay("[output]\nbody_capture_bytes = 8192\n", "samples");
    let login = run
        .records
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["request"]["path"] == "/login")
        .expect("the login");
    assert_eq!(
        login["request"]["body"]["text"],
        "username=ann&password=[redacted]&csrf_token=[redacted]"
    );
    let run = replay("[output]\nredact_mode = \"hash\"\n", "hash-corr");
    let first = run
        .records
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["request"]["path"] == "/api/items")
        .expect("the first request");
    let query = first["request"]["query"].as_str().unwrap();
    assert!(query.contains("api_key=hash:"), "{query}");
    let again = replay("[output]\nredact_mode = \"hash\"\n", "hash-again");
    assert!(
        again.records.contains(query),
        "the same secret, the same hash"
    );
}

/// A config error on a secret's line prints neither the line nor the value.
#[test]
fn a_config_error_never_prints_the_secret() {
    let dir = scratch("secrets-cfg");
    let cfg = dir.join("bad.toml");
    let secret = "ConfigSecretValue-0123456789";
    std::fs::write(&cfg, format!("[session]\nsecret = \"{secret}\" trailing\n")).unwrap();
    let o = Command::new(apitap_bin())
        .args(["check-config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains(secret), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}
