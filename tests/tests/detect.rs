//! Attack detection through the real binary (issue 22): the dev corpus replayed as captures,
//! scored against its truth, and a real user journey that ends in SQL injection.

use std::collections::BTreeMap;
use std::process::Command;

use apitap_tests::harness::{fixture, replay, replay_core, scratch, workspace_root};
use serde_json::Value;

/// Detection floors of the issue: per class on the dev corpus, and the false-positive rate.
const SQLI_XSS_TPR: f64 = 0.99;
const OTHER_TPR: f64 = 0.95;
const MAX_FPR: f64 = 0.001;

/// The dev corpus (libinjection's and PayloadsAllTheThings' labelled requests, and the benign
/// API set) as a capture, made by `fixtures/attack-corpus/to_pcap.py`, replayed with the core
/// pipeline: every labelled class at its floor, benign requests under the false-positive
/// ceiling. Prints the confusion table (label → predicted classes).
#[test]
fn dev_corpus_replay_meets_the_floors() {
    let dir = scratch("corpus");
    let (pcap, truth) = (dir.join("dev.pcap"), dir.join("dev.truth.json"));
    let corpus = workspace_root().join("fixtures/attack-corpus");
    let o = Command::new("python3")
        .arg(corpus.join("to_pcap.py"))
        .args(
            [
                "patt.jsonl.gz",
                "libinjection.jsonl.gz",
                "benign-api.jsonl.gz",
            ]
            .map(|f| corpus.join(f)),
        )
        .arg("-o")
        .arg(&pcap)
        .arg("--truth")
        .arg(&truth)
        .args(["--seed", "1"])
        .output()
        .expect("python3 to_pcap.py");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = replay_core(std::slice::from_ref(&pcap), &["--quiet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut by_tx: BTreeMap<(String, u64, u64), &Value> = BTreeMap::new();
    for rec in r.records.iter().filter(|x| x["type"] == "http") {
        let f = &rec["flow"];
        let key = (
            f["src_ip"].as_str().unwrap().to_owned(),
            f["src_port"].as_u64().unwrap(),
            rec["depth"].as_u64().unwrap(),
        );
        by_tx.insert(key, rec);
    }
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).expect("truth");
    let mut confusion: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    let (mut benign, mut flagged) = (0u64, 0u64);
    for q in truth["requests"].as_array().unwrap() {
        let conn = &q["conn"];
        let key = (
            conn[0].as_str().unwrap().to_owned(),
            conn[1].as_u64().unwrap(),
            q["order"].as_u64().unwrap() + 1,
        );
        let rec = by_tx
            .get(&key)
            .unwrap_or_else(|| panic!("no record for {key:?}"));
        let mut found: Vec<String> = rec["attacks"]
            .as_array()
            .expect("attacks")
            .iter()
            .map(|a| a["class"].as_str().unwrap().to_owned())
            .collect();
        found.sort();
        found.dedup();
        if q["label"] == "attack" {
            let row = confusion
                .entry((
                    q["source"].as_str().unwrap().into(),
                    q["class"].as_str().unwrap().into(),
                ))
                .or_default();
            *row.entry("total".into()).or_default() += 1;
            let predicted = if found.is_empty() {
                "missed".to_owned()
            } else {
                found.join("+")
            };
            *row.entry(predicted).or_default() += 1;
        } else {
            benign += 1;
            flagged += u64::from(!found.is_empty());
        }
    }
    println!("label -> predicted classes");
    for ((source, class), row) in &confusion {
        println!("  {source}/{class}: {row:?}");
    }
    let fpr = flagged as f64 / benign.max(1) as f64;
    println!(
        "benign: {flagged} of {benign} flagged ({:.3} %)",
        fpr * 100.0
    );
    for ((source, class), row) in &confusion {
        let total = row["total"] as f64;
        let missed = row.get("missed").copied().unwrap_or(0) as f64;
        let tpr = 1.0 - missed / total;
        let floor = if class == "sqli" || class == "xss" {
            SQLI_XSS_TPR
        } else {
            OTHER_TPR
        };
        assert!(tpr >= floor, "{source}/{class}: TPR {tpr:.4} under {floor}");
    }
    assert!(benign >= 3000, "the benign sets shrank: {benign}");
    assert!(fpr <= MAX_FPR, "false positives {fpr:.4} over {MAX_FPR}");
}

/// A user logs in, browses, orders, then injects SQL into the order listing, and the shop
/// answers with a database error (`fixtures/detect/`): the request's record has the finding
/// with outcome `error`; its session counts the attack, the outcome and the five legitimate
/// requests before it; `attack` and `attack_served` alerts are written.
#[test]
fn a_session_turned_attacker_is_seen_whole() {
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("detect/attack-journey.truth.json")).unwrap(),
    )
    .unwrap();
    let before = truth["requests_before_attack"].as_u64().unwrap();
    let cfg = fixture("sessions/shop.toml");
    let r = replay(
        &[fixture("detect/attack-journey.pcap")],
        &["--quiet", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let attack = r
        .records
        .iter()
        .find(|x| x["type"] == "http" && x["response"]["status"] == 500)
        .expect("the injected request");
    let finding = &attack["attacks"][0];
    assert_eq!(finding["class"], "sqli");
    assert_eq!(finding["where"], "query:status");
    assert_eq!(finding["outcome"], "error");
    let sid = attack["session_id"].as_str().unwrap();
    let end = r
        .records
        .iter()
        .find(|x| x["type"] == "session" && x["phase"] == "end" && x["session_id"] == sid)
        .expect("the session's end record");
    assert_eq!(end["attacks"]["sqli"], 1);
    assert_eq!(end["attack_outcomes"]["error"], 1);
    // The login was a session of its own, which the server's cookie linked this one to: the
    // legitimate requests before the attack are its requests and this part's before it.
    let login = r
        .records
        .iter()
        .find(|x| {
            x["type"] == "session" && x["phase"] == "end" && x["session_id"] == end["linked_from"]
        })
        .expect("the login session, linked");
    let before_here = end["requests_before_first_attack"].as_u64().unwrap();
    assert_eq!(login["requests"].as_u64().unwrap() + before_here, before);
    assert_eq!(before_here, end["requests"].as_u64().unwrap() - 1);
    assert_eq!(end["user"], "alice");
    assert_eq!(end["first_attack_ts"], attack["ts"]);
    let alerts: Vec<&Value> = r.records.iter().filter(|x| x["type"] == "alert").collect();
    let kinds: Vec<&str> = alerts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["attack", "attack_served"]);
    for a in &alerts {
        assert_eq!(a["session_id"], sid);
        assert_eq!(a["transaction_ids"][0], attack["transaction_id"]);
        assert_eq!(a["evidence"]["outcome"], "error");
    }
    assert_eq!(end["alerts"]["attack"], 1);
    assert_eq!(end["alerts"]["attack_served"], 1);
    // With detection off, the same capture gives no findings and no alerts.
    let dir = scratch("detect-off");
    let off = dir.join("off.toml");
    let shop = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&off, format!("{shop}\n[detect]\nenabled = false\n")).unwrap();
    let r = replay(
        &[fixture("detect/attack-journey.pcap")],
        &["--quiet", "--config", off.to_str().unwrap()],
    );
    assert!(r.records.iter().all(|x| x["type"] != "alert"));
    assert!(r
        .records
        .iter()
        .all(|x| x.get("attacks").is_none() || x["type"] == "session"));
}

/// With the default config, response bodies are stored only for requests with findings (the
/// response gate, docs/detection.md). An allow rule by client then still decides: one that
/// covers the attacker drops the finding, one that does not leaves it as it was.
#[test]
fn allow_lists_by_client_hold_when_responses_are_gated() {
    let pcap = fixture("detect/attack-journey.pcap");
    let dir = scratch("detect-allow");
    let attack_of = |records: &[Value]| -> Value {
        records
            .iter()
            .find(|x| x["type"] == "http" && x["response"]["status"] == 500)
            .cloned()
            .expect("the injected request")
    };
    let with_allowed = |cidr: &str| -> Value {
        let cfg = dir.join("allow.toml");
        std::fs::write(&cfg, format!("[[detect.allow]]\nclients = [\"{cidr}\"]\n")).unwrap();
        let r = replay(
            std::slice::from_ref(&pcap),
            &["--quiet", "--config", cfg.to_str().unwrap()],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        attack_of(&r.records)
    };
    let r = replay(std::slice::from_ref(&pcap), &["--quiet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let attack = attack_of(&r.records);
    assert_eq!(attack["attacks"][0]["class"], "sqli");
    assert_eq!(attack["attacks"][0]["outcome"], "error");
    let client = attack["flow"]["src_ip"].as_str().unwrap();
    let covered = with_allowed(&format!("{client}/32"));
    assert_eq!(covered["attacks"], serde_json::json!([]));
    let elsewhere = with_allowed("203.0.113.0/24");
    assert_eq!(elsewhere["attacks"], attack["attacks"]);
}
