//! The behaviours stage end to end: captures with abusive actors mixed into benign traffic,
//! replayed through `apitap replay`, checked against their truth files.
//!
//! - `fixtures/behaviours/scenarios.pcap`: written by `apitap-gen-scenario` (bench/), every
//!   kind at least three times with different sizes and paces, and the hard negatives;
//! - `fixtures/behaviours/shop-abuse.pcap`: real clients against the real test shop
//!   (`tests/apps/shop_server.py`), captured with tcpdump by `scripts/capture-abuse.sh`:
//!   BOLA, credential stuffing and a volume spike among benign users.
//!
//! An alert concerns an actor when one of its evidence transactions is the actor's (actors
//! are told apart by their User-Agent). Every abusive actor must be alerted with its kind;
//! at most 1 % of benign sessions may be concerned by any alert.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use apitap_tests::harness::{fixture, replay, Replay};
use serde_json::Value;

/// Largest share of benign sessions an alert may concern (the target).
const MAX_BENIGN_ALERTED: f64 = 0.01;

/// Replay `pcap` with `config`; the run must succeed.
fn run(pcap: &str, config: &str) -> Replay {
    let cfg = fixture(config);
    let r = replay(
        &[fixture(pcap)],
        &["--quiet", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

fn truth(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(path)).unwrap()).unwrap()
}

/// What the alerts say about the actors of a truth file.
struct Verdict {
    /// Actor name → alert kinds that concern it.
    kinds: BTreeMap<String, BTreeSet<String>>,
    /// Benign sessions, and those an alert concerns.
    benign_sessions: BTreeSet<String>,
    alerted_benign: BTreeSet<String>,
}

/// Tell which actors and sessions the alerts of `r` concern.
fn judge(r: &Replay, truth: &Value) -> Verdict {
    let actors = truth["actors"].as_array().unwrap();
    let by_ua: HashMap<&str, &Value> = actors
        .iter()
        .map(|a| (a["user_agent"].as_str().unwrap(), a))
        .collect();
    let mut actor_of_tx: HashMap<&str, &str> = HashMap::new();
    let mut session_of_tx: HashMap<&str, &str> = HashMap::new();
    let mut labels_of_session: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for h in r.records.iter().filter(|r| r["type"] == "http") {
        let ua = h["request"]["user_agent"].as_str().unwrap_or("");
        let Some(a) = by_ua.get(ua) else { continue };
        let tx = h["transaction_id"].as_str().unwrap();
        actor_of_tx.insert(tx, a["name"].as_str().unwrap());
        if let Some(s) = h["session_id"].as_str() {
            session_of_tx.insert(tx, s);
            labels_of_session
                .entry(s)
                .or_default()
                .insert(a["label"].as_str().unwrap());
        }
    }
    let mut v = Verdict {
        kinds: BTreeMap::new(),
        benign_sessions: labels_of_session
            .iter()
            .filter(|(_, l)| l.iter().all(|l| *l == "benign"))
            .map(|(s, _)| s.to_string())
            .collect(),
        alerted_benign: BTreeSet::new(),
    };
    for al in r.records.iter().filter(|r| r["type"] == "alert") {
        let kind = al["kind"].as_str().unwrap().to_owned();
        let mut sessions: BTreeSet<&str> = al["session_id"].as_str().into_iter().collect();
        for t in al["transaction_ids"].as_array().unwrap() {
            let t = t.as_str().unwrap();
            if let Some(a) = actor_of_tx.get(t) {
                v.kinds
                    .entry(a.to_string())
                    .or_default()
                    .insert(kind.clone());
            }
            sessions.extend(session_of_tx.get(t));
        }
        for s in sessions {
            if v.benign_sessions.contains(s) {
                v.alerted_benign.insert(s.to_owned());
            }
        }
    }
    v
}

/// Every abusive actor alerted with its kind; at most 1 % of benign sessions concerned, and
/// no hard negative at all.
fn assert_truth(r: &Replay, truth: &Value) {
    let v = judge(r, truth);
    let mut missed = Vec::new();
    for a in truth["actors"].as_array().unwrap() {
        let (name, label) = (a["name"].as_str().unwrap(), a["label"].as_str().unwrap());
        let got = v.kinds.get(name);
        if label == "benign" {
            if a.get("hard_negative").is_some() {
                assert!(got.is_none(), "hard negative {name} alerted: {got:?}");
            }
        } else if !got.is_some_and(|k| k.contains(label)) {
            missed.push(format!("{name} ({label}): got {got:?}"));
        }
    }
    assert!(missed.is_empty(), "abusive actors not alerted: {missed:#?}");
    let (n, bad) = (v.benign_sessions.len(), v.alerted_benign.len());
    assert!(n > 0, "no benign sessions");
    assert!(
        bad as f64 <= MAX_BENIGN_ALERTED * n as f64,
        "{bad} of {n} benign sessions alerted: {:?}",
        v.alerted_benign
    );
}

#[test]
fn scenario_actors_are_alerted_with_their_kind_and_benign_users_are_not() {
    let r = run("behaviours/scenarios.pcap", "behaviours/behaviours.toml");
    assert_truth(&r, &truth("behaviours/scenarios.truth.json"));
}

#[test]
fn real_shop_abuse_is_alerted_with_its_kind() {
    let r = run("behaviours/shop-abuse.pcap", "behaviours/shop.toml");
    assert_truth(&r, &truth("behaviours/shop-abuse.truth.json"));
}

/// Session records count their session's alerts; every alert has its evidence.
#[test]
fn alerts_are_counted_in_their_session_and_carry_evidence() {
    let r = run("behaviours/scenarios.pcap", "behaviours/behaviours.toml");
    let alerts: Vec<&Value> = r.records.iter().filter(|r| r["type"] == "alert").collect();
    assert!(!alerts.is_empty());
    let mut per_session: BTreeMap<&str, u64> = BTreeMap::new();
    for a in &alerts {
        assert!(!a["evidence"].as_object().unwrap().is_empty(), "{a}");
        assert!(!a["transaction_ids"].as_array().unwrap().is_empty(), "{a}");
        assert!(a["first_ts"].as_str() <= a["ts"].as_str());
        if let Some(s) = a["session_id"].as_str() {
            *per_session.entry(s).or_default() += 1;
        }
    }
    let mut counted: BTreeMap<&str, u64> = BTreeMap::new();
    for s in r
        .records
        .iter()
        .filter(|r| r["type"] == "session" && r["phase"] == "end")
    {
        let n: u64 = s["alerts"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        if n > 0 {
            *counted
                .entry(s["session_id"].as_str().unwrap())
                .or_default() += n;
        }
    }
    assert_eq!(counted, per_session);
    let by_kind = &r.stats["behaviours"]["alerts"];
    assert_eq!(
        by_kind
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        alerts.len() as u64
    );
}

/// The same capture replayed twice gives the same alerts, byte for byte (packet time only).
#[test]
fn alerts_are_deterministic() {
    let a = run("behaviours/scenarios.pcap", "behaviours/behaviours.toml");
    let b = run("behaviours/scenarios.pcap", "behaviours/behaviours.toml");
    let alerts = |r: &Replay| -> Vec<String> {
        r.raw
            .lines()
            .filter(|l| l.contains("\"type\":\"alert\""))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(alerts(&a), alerts(&b));
}

/// The threaded pipeline with one worker raises the same alerts, byte for byte.
#[test]
fn one_worker_gives_the_same_alerts() {
    let cfg = fixture("behaviours/behaviours.toml");
    let pcap = [fixture("behaviours/scenarios.pcap")];
    let one = replay(
        &pcap,
        &[
            "--quiet",
            "--workers",
            "1",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    assert_eq!(one.code, 0, "{}", one.stderr);
    let single = run("behaviours/scenarios.pcap", "behaviours/behaviours.toml");
    let alerts = |r: &Replay| -> Vec<String> {
        r.raw
            .lines()
            .filter(|l| l.contains("\"type\":\"alert\""))
            .map(str::to_owned)
            .collect()
    };
    assert!(!alerts(&single).is_empty());
    assert_eq!(alerts(&one), alerts(&single));
}

/// With `[behaviours] enabled = false` nothing is raised and session records say so.
#[test]
fn disabled_behaviours_raise_nothing() {
    let dir = apitap_tests::harness::scratch("behaviours-off");
    let cfg = dir.join("off.toml");
    let base = std::fs::read_to_string(fixture("behaviours/behaviours.toml")).unwrap();
    std::fs::write(&cfg, format!("{base}\n[behaviours]\nenabled = false\n")).unwrap();
    let r = replay(
        &[fixture("behaviours/scenarios.pcap")],
        &["--quiet", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.records.iter().all(|r| r["type"] != "alert"));
    assert!(r
        .records
        .iter()
        .filter(|r| r["type"] == "session")
        .all(|s| s["alerts"].as_object().unwrap().is_empty()));
}
