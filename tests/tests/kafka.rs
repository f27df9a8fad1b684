//! Kafka export and `apitap consume` against a real Kafka-protocol broker (tansu, in-memory).
//!
//! `scripts/test.sh` starts a shared broker and sets `APITAP_TEST_KAFKA=127.0.0.1:PORT` and
//! `APITAP_TEST_KAFKA_CTL=<scripts/kafka.sh>`; the outage tests start brokers of their own
//! with that script (they stop and restart them). Without `APITAP_TEST_KAFKA` every test here
//! says so loudly and passes, so `cargo test` alone works on a machine without a broker.
//!
//! Every test uses topics of its own (tansu does not create topics on first use) and checks
//! the exporter's counters: `offered = delivered + dropped + failed + undelivered`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use apitap_tests::harness::{
    apitap_bin, fixture, hold, replay, scratch, workspace_root, TEST_SESSION_SECRET,
};
use apitap_tests::pcapio::{read_pcap, write_pcap};
use serde_json::Value;

/// Longest a consumer waits for records that should arrive.
const CONSUME_DEADLINE: Duration = Duration::from_secs(60);
/// Partitions of every test topic (tansu's default): keys decide the partition.
const PARTITIONS: &str = "3";

/// The shared broker, or None (with a loud message) when the suite runs without one.
fn broker(test: &str) -> Option<String> {
    match std::env::var("APITAP_TEST_KAFKA") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => {
            eprintln!(
                "\n*** SKIPPED {test}: APITAP_TEST_KAFKA is not set. Run scripts/test.sh (it starts \
                 a tansu broker) or set APITAP_TEST_KAFKA=host:port and APITAP_TEST_KAFKA_CTL=scripts/kafka.sh ***\n"
            );
            None
        }
    }
}

/// `scripts/kafka.sh`, to start, stop and restart brokers of a test's own.
fn ctl() -> PathBuf {
    std::env::var_os("APITAP_TEST_KAFKA_CTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("scripts/kafka.sh"))
}

/// Run `kafka.sh` with `args`; panics with its output on failure.
fn kafka_sh(state: Option<&Path>, addr: Option<&str>, args: &[&str]) {
    let mut c = Command::new("bash");
    c.arg(ctl()).args(args);
    if let Some(s) = state {
        c.env("APITAP_KAFKA_STATE", s);
    }
    if let Some(a) = addr {
        c.env("APITAP_KAFKA_ADDR", a);
    }
    let o = c.output().expect("run kafka.sh");
    assert!(
        o.status.success(),
        "kafka.sh {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `<prefix>.http` and `<prefix>.sessions` for this test, created on `addr`, with
/// `<prefix>.alerts` beside them (the config names it after the http topic).
fn topics(addr: &str, test: &str) -> (String, String) {
    let prefix = format!("t{}-{test}", std::process::id());
    let (h, s) = (format!("{prefix}.http"), format!("{prefix}.sessions"));
    for t in [&h, &s, &alerts_topic(&h)] {
        kafka_sh(None, Some(addr), &["topic", t, PARTITIONS]);
    }
    (h, s)
}

/// The alerts topic of a test whose http topic is `http`.
fn alerts_topic(http: &str) -> String {
    http.replace(".http", ".alerts")
}

/// A broker of the test's own on a free port, stopped when dropped.
struct OwnBroker {
    /// Its state directory, removed after the broker is stopped (fields drop after `drop`).
    state: apitap_tests::harness::Scratch,
    addr: String,
}

impl OwnBroker {
    fn start(name: &str) -> Self {
        let state = scratch(&format!("broker-{name}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        kafka_sh(Some(&state), None, &["start", &port.to_string()]);
        OwnBroker {
            state,
            addr: format!("127.0.0.1:{port}"),
        }
    }
    fn kill(&self) {
        kafka_sh(Some(&self.state), None, &["kill"]);
    }
    /// Start the broker again and make `topics` again, `sensor` held still meanwhile. A Kafka
    /// cluster's topics outlive a broker's restart; this in-memory broker's do not, and a
    /// record produced before they are made again is refused with an error librdkafka does not
    /// retry (a flake: 9 records lost once, when a reconnection fell between the restart and
    /// the topics).
    fn restart_with(&self, sensor: &Child, topics: &[&str]) {
        hold(sensor, true);
        kafka_sh(Some(&self.state), None, &["restart"]);
        for t in topics {
            kafka_sh(None, Some(&self.addr), &["topic", t, PARTITIONS]);
        }
        hold(sensor, false);
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(ctl())
            .arg("stop")
            .env("APITAP_KAFKA_STATE", &*self.state)
            .output();
    }
}

/// A config file: `base` (a fixture's TOML, or empty) plus an `[export.kafka]` section.
fn kafka_config(dir: &Path, base: &str, addr: &str, topics: (&str, &str), extra: &str) -> PathBuf {
    let text = format!(
        "{base}\n[export]\nsensor_id = \"test-sensor\"\n\n[export.kafka]\nbrokers = [\"{addr}\"]\n\
         topic_http = \"{}\"\ntopic_sessions = \"{}\"\ntopic_alerts = \"{}\"\n{extra}\n",
        topics.0,
        topics.1,
        alerts_topic(topics.0)
    );
    let p = dir.join("apitap.toml");
    std::fs::write(&p, text).expect("write config");
    p
}

/// What a replay to Kafka did.
struct KafkaRun {
    code: i32,
    stderr: String,
    stats: Value,
}

/// `apitap replay` with a config that exports to Kafka.
fn replay_to_kafka(pcaps: &[PathBuf], config: &Path, extra: &[&str]) -> KafkaRun {
    finish_run(spawn_replay(pcaps, config, extra))
}

fn spawn_replay(pcaps: &[PathBuf], config: &Path, extra: &[&str]) -> (Child, PathBuf) {
    let stats = config.with_file_name("stats.json");
    let child = Command::new(apitap_bin())
        .arg("replay")
        .args(pcaps)
        .arg("--config")
        .arg(config)
        .arg("--stats-json")
        .arg(&stats)
        .args(extra)
        // The secret of the harness's replays: the same session ids as the JSON lines.
        .env("APITAP_SESSION_SECRET", TEST_SESSION_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run apitap replay");
    (child, stats)
}

fn finish_run((child, stats): (Child, PathBuf)) -> KafkaRun {
    let o = child.wait_with_output().expect("wait for apitap replay");
    let stats = std::fs::read(&stats)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    KafkaRun {
        code: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        stats,
    }
}

/// `apitap consume --json` to the end of the topics: the records, in consumption order.
fn consume_json(addr: &str, topics: &[&str], args: &[&str]) -> Vec<String> {
    let o = consume(addr, topics, &[&["--json"], args].concat());
    assert_eq!(
        o.status.code(),
        Some(0),
        "consume failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .expect("utf-8 output")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `apitap consume` to the end of the topics (bounded in time).
fn consume(addr: &str, topics: &[&str], args: &[&str]) -> Output {
    let mut c = Command::new(apitap_bin());
    c.args(["consume", "-b", addr]);
    for t in topics {
        c.args(["-t", t]);
    }
    let child = c
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run apitap consume");
    wait_bounded(child, CONSUME_DEADLINE)
}

/// Wait for a child while reading its output (a full pipe would block it), killing it (and
/// failing) past the deadline.
fn wait_bounded(child: Child, deadline: Duration) -> Output {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let pid = child.id().to_string();
    let done = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (done, killed) = (Arc::clone(&done), Arc::clone(&killed));
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(Ordering::Relaxed) {
                if start.elapsed() > deadline {
                    killed.store(true, Ordering::Relaxed);
                    let _ = Command::new("kill").args(["-9", &pid]).status();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let o = child.wait_with_output().expect("collect child");
    done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    assert!(
        !killed.load(Ordering::Relaxed),
        "timed out after {deadline:?}; stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Sorted lines: compares multisets.
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Equal multisets, or a failure naming what is missing and what is extra
/// (`APITAP_TEST_DUMP=DIR` also writes both sides there, to diff them).
fn assert_same_records(got: &[String], want: &[String], what: &str) {
    let (mut missing, mut extra) = (sorted(want.to_vec()), Vec::new());
    for g in got {
        match missing.iter().position(|m| m == g) {
            Some(i) => {
                missing.remove(i);
            }
            None => extra.push(g.clone()),
        }
    }
    if let Some(d) = std::env::var_os("APITAP_TEST_DUMP") {
        let _ = std::fs::write(Path::new(&d).join("got.jsonl"), got.join("\n"));
        let _ = std::fs::write(Path::new(&d).join("want.jsonl"), want.join("\n"));
    }
    let cut = |v: &[String]| -> Vec<String> {
        v.iter()
            .take(3)
            .map(|l| l.chars().take(400).collect())
            .collect()
    };
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: got {}, want {}; {} missing, {} extra (duplicates or unknown)\nmissing: {:#?}\nextra: {:#?}",
        got.len(),
        want.len(),
        missing.len(),
        extra.len(),
        cut(&missing),
        cut(&extra)
    );
}

/// The records of each (type, session id), in order.
fn per_session(lines: &[String]) -> BTreeMap<(String, String), Vec<String>> {
    let mut m: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for l in lines {
        let r: Value = serde_json::from_str(l).expect("JSON record");
        let kind = r["type"].as_str().unwrap_or("").to_owned();
        let sid = r["session_id"].as_str().unwrap_or("").to_owned();
        m.entry((kind, sid)).or_default().push(l.clone());
    }
    m
}

/// The counters must add up: offered = delivered + dropped + failed + undelivered.
fn assert_accounted(stats: &Value) -> (u64, u64, u64) {
    let e = &stats["export"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let sum = |v: &Value| -> u64 { v.as_object().map_or(0, |m| m.values().map(n).sum()) };
    let (offered, records, delivered) = (n(&e["offered"]), n(&e["records"]), n(&e["delivered"]));
    let (dropped, failed, undelivered) = (
        sum(&e["dropped"]),
        sum(&e["delivery_failed"]),
        n(&e["undelivered_at_shutdown"]),
    );
    assert_eq!(
        offered,
        records + dropped,
        "offered = queued + dropped: {e}"
    );
    assert_eq!(
        records,
        delivered + failed + undelivered,
        "queued = delivered + failed + undelivered: {e}"
    );
    assert_eq!(
        n(&e["failed"]),
        dropped + failed + undelivered,
        "failed sums the losses: {e}"
    );
    (offered, delivered, dropped + failed + undelivered)
}

/// journeys.pcap with its session config: several sessions, users, endpoints.
fn journeys() -> (Vec<PathBuf>, String) {
    let pcaps = vec![fixture("sessions/journeys.pcap")];
    let base = std::fs::read_to_string(fixture("sessions/shop.toml")).expect("shop.toml");
    (pcaps, base)
}

/// The JSON lines of the same capture and session config, written to a file.
fn jsonl_of(pcaps: &[PathBuf], base: &str, dir: &Path) -> Vec<String> {
    let cfg = dir.join("jsonl.toml");
    // The same sensor id as the Kafka runs' config, so that records compare whole.
    let text = format!("{base}\n[export]\nsensor_id = \"test-sensor\"\n");
    std::fs::write(&cfg, text).expect("write config");
    let r = replay(
        pcaps,
        &["--config", cfg.to_str().expect("utf-8 path"), "-q"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.raw.lines().map(str::to_owned).collect()
}

#[test]
fn round_trip_is_lossless_and_keeps_session_order() {
    let Some(addr) = broker("round_trip_is_lossless_and_keeps_session_order") else {
        return;
    };
    let dir = scratch("kafka-round-trip");
    let (pcaps, base) = journeys();
    let want = jsonl_of(&pcaps, &base, &dir);
    let (th, ts) = topics(&addr, "roundtrip");
    let cfg = kafka_config(&dir, &base, &addr, (&th, &ts), "flush_timeout_ms = 20000");
    let run = replay_to_kafka(&pcaps, &cfg, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (offered, delivered, lost) = assert_accounted(&run.stats);
    assert_eq!(
        (offered, delivered, lost),
        (want.len() as u64, want.len() as u64, 0)
    );
    assert!(run.stderr.contains("none lost"), "{}", run.stderr);

    let got = consume_json(&addr, &[&th, &ts], &["--from-beginning"]);
    assert_same_records(&got, &want, "multiset of records");
    // Each session's records are on one partition (keyed by session id): same order.
    assert_eq!(
        per_session(&got),
        per_session(&want),
        "order within each session"
    );
}

#[test]
fn messages_carry_session_key_and_headers() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Headers;
    use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

    let Some(addr) = broker("messages_carry_session_key_and_headers") else {
        return;
    };
    let dir = scratch("kafka-headers");
    let (pcaps, base) = journeys();
    let (th, ts) = topics(&addr, "headers");
    let cfg = kafka_config(&dir, &base, &addr, (&th, &ts), "");
    let run = replay_to_kafka(&pcaps, &cfg, &["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (offered, ..) = assert_accounted(&run.stats);

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &addr)
        .set("group.id", "apitap-test-headers")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for t in [&th, &ts] {
        for p in 0..3 {
            tpl.add_partition_offset(t, p, Offset::Beginning)
                .expect("partition");
        }
    }
    consumer.assign(&tpl).expect("assign");
    let start = Instant::now();
    let mut seen = 0u64;
    while seen < offered {
        assert!(
            start.elapsed() < CONSUME_DEADLINE,
            "only {seen} of {offered} messages"
        );
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.expect("message");
        seen += 1;
        let rec: Value = serde_json::from_slice(m.payload().expect("payload")).expect("JSON");
        let headers: HashMap<String, String> = m
            .headers()
            .expect("headers")
            .iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                )
            })
            .collect();
        assert_eq!(headers["event_type"], rec["type"].as_str().unwrap());
        assert_eq!(headers["schema_version"], rec["schema_version"].to_string());
        assert_eq!(headers["sensor_id"], "test-sensor");
        let want_topic = if rec["type"] == "session" { &ts } else { &th };
        assert_eq!(m.topic(), want_topic.as_str());
        let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned());
        assert_eq!(
            key.as_deref(),
            rec["session_id"].as_str(),
            "key is the session id"
        );
    }
}

/// No secret of `fixtures/secrets/` reaches Kafka: not in a message, its key or its headers,
/// with body samples on (issue 21; the JSON-lines search is in tests/tests/secrets.rs).
#[test]
fn no_secret_in_any_kafka_message_key_or_header() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Headers;
    use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

    let Some(addr) = broker("no_secret_in_any_kafka_message_key_or_header") else {
        return;
    };
    let dir = scratch("kafka-secrets");
    let (th, ts) = topics(&addr, "secrets");
    let base = "[output]\nbody_capture_bytes = 8192\n";
    let cfg = kafka_config(&dir, base, &addr, (&th, &ts), "");
    let run = replay_to_kafka(&[fixture("secrets/secrets.pcap")], &cfg, &["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (offered, ..) = assert_accounted(&run.stats);
    assert!(offered >= 8, "{offered} messages");
    let secrets: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("secrets/secrets.json")).expect("secrets.json"),
    )
    .expect("JSON");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &addr)
        .set("group.id", "apitap-test-secrets")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for t in [&th, &ts] {
        for p in 0..3 {
            tpl.add_partition_offset(t, p, Offset::Beginning)
                .expect("partition");
        }
    }
    consumer.assign(&tpl).expect("assign");
    let start = Instant::now();
    let mut seen = 0u64;
    while seen < offered {
        assert!(
            start.elapsed() < CONSUME_DEADLINE,
            "only {seen} of {offered} messages"
        );
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.expect("message");
        seen += 1;
        let mut all = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
        all.push_str(&String::from_utf8_lossy(m.key().unwrap_or_default()));
        for h in m
            .headers()
            .map(|h| h.iter().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            all.push_str(h.key);
            all.push_str(&String::from_utf8_lossy(h.value.unwrap_or_default()));
        }
        for (name, value) in secrets.as_object().expect("object") {
            let value = value.as_str().expect("string");
            assert!(
                !all.contains(value),
                "secret {name} in a Kafka message: {all}"
            );
        }
    }
}

/// Alerts go to their own topic, keyed by their session id (issue 22: the SQL injection of
/// `fixtures/detect/attack-journey.pcap` raises `attack` and `attack_served`).
#[test]
fn alerts_go_to_the_alerts_topic_keyed_by_session() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

    let Some(addr) = broker("alerts_go_to_the_alerts_topic_keyed_by_session") else {
        return;
    };
    let dir = scratch("kafka-alerts");
    let (th, ts) = topics(&addr, "alerts");
    let base = std::fs::read_to_string(fixture("sessions/shop.toml")).expect("shop.toml");
    let cfg = kafka_config(&dir, &base, &addr, (&th, &ts), "");
    let run = replay_to_kafka(&[fixture("detect/attack-journey.pcap")], &cfg, &["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_accounted(&run.stats);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &addr)
        .set("group.id", "apitap-test-alerts")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(&alerts_topic(&th), p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    let start = Instant::now();
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        assert!(start.elapsed() < CONSUME_DEADLINE, "alerts seen: {kinds:?}");
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.expect("message");
        let rec: Value = serde_json::from_slice(m.payload().expect("payload")).expect("JSON");
        assert_eq!(rec["type"], "alert");
        let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned());
        assert_eq!(key.as_deref(), rec["session_id"].as_str());
        kinds.push(rec["kind"].as_str().unwrap().to_owned());
    }
    kinds.sort();
    assert_eq!(kinds, ["attack", "attack_served"]);

    // consume --attacks over the three topics: every record of the attacked sessions (their
    // alerts too), and nothing else.
    let local = jsonl_of(&[fixture("detect/attack-journey.pcap")], &base, &dir);
    let parsed: Vec<Value> = local
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let attacked: Vec<&str> = parsed
        .iter()
        .filter(|r| r["attacks"].as_array().is_some_and(|a| !a.is_empty()))
        .filter_map(|r| r["session_id"].as_str())
        .collect();
    assert!(!attacked.is_empty(), "the journey ends in an attack");
    let want: Vec<String> = local
        .iter()
        .zip(&parsed)
        .filter(|(_, r)| {
            r["session_id"]
                .as_str()
                .is_some_and(|s| attacked.contains(&s))
        })
        .map(|(l, _)| l.clone())
        .collect();
    assert!(
        want.len() < local.len(),
        "the capture has sessions without attacks"
    );
    let got = consume_json(&addr, &[&th, &ts, &alerts_topic(&th)], &["--attacks"]);
    assert_eq!(sorted(got), sorted(want), "consume --attacks");
    // consume --alerts --kind: the served attack, with its session's requests around it.
    let o = consume(
        &addr,
        &[&th, &ts, &alerts_topic(&th)],
        &["--alerts", "--kind", "attack_served", "--color", "never"],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(text.matches("ALERT ").count(), 1, "{text}");
    assert!(text.contains("ALERT attack_served"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with('▶')),
        "evidence marked: {text}"
    );
}

#[test]
fn consume_filters_select_the_right_records() {
    let Some(addr) = broker("consume_filters_select_the_right_records") else {
        return;
    };
    let dir = scratch("kafka-filters");
    let (pcaps, base) = journeys();
    let all = jsonl_of(&pcaps, &base, &dir);
    let recs: Vec<Value> = all
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (th, ts) = topics(&addr, "filters");
    let cfg = kafka_config(&dir, &base, &addr, (&th, &ts), "");
    let run = replay_to_kafka(&pcaps, &cfg, &["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pick = |f: &dyn Fn(&Value) -> bool| -> Vec<String> {
        sorted(
            all.iter()
                .zip(&recs)
                .filter(|(_, r)| f(r))
                .map(|(l, _)| l.clone())
                .collect(),
        )
    };
    let check = |args: &[&str], want: Vec<String>, what: &str| {
        assert!(
            !want.is_empty() || what.contains("none"),
            "{what}: the fixture must have matches"
        );
        let got = sorted(consume_json(&addr, &[&th, &ts], args));
        let want = sorted(want);
        assert_eq!(got.len(), want.len(), "{what}: count");
        assert_eq!(got, want, "{what}");
    };

    // --session: by id prefix, both record types.
    let sid = recs
        .iter()
        .find_map(|r| r["session_id"].as_str())
        .expect("a session id")
        .to_owned();
    check(
        &["--session", &sid[..10]],
        pick(&|r| r["session_id"].as_str() == Some(&sid)),
        "--session",
    );

    // --ip: every record of this loopback capture, and none for another address.
    check(&["--ip", "127.0.0.1"], all.clone(), "--ip");
    check(&["--ip", "127.0.0.0/8"], all.clone(), "--ip network");
    check(&["--ip", "192.0.2.1"], Vec::new(), "--ip none");

    // --endpoint: substring and wildcard on the endpoint; session records by their endpoints.
    let ep = |r: &Value, f: &dyn Fn(&str) -> bool| -> bool {
        match r["type"].as_str() {
            Some("session") => r["endpoints"]
                .as_object()
                .is_some_and(|m| m.keys().any(|k| f(k))),
            _ => r["endpoint"].as_str().is_some_and(f),
        }
    };
    check(
        &["--endpoint", "/orders"],
        pick(&|r| ep(r, &|e| e.contains("/orders"))),
        "--endpoint",
    );
    check(
        &["--endpoint", "GET /api/*/products/*"],
        pick(&|r| {
            ep(r, &|e| {
                e.starts_with("GET /api/") && e.contains("/products/")
            })
        }),
        "--endpoint wildcard",
    );

    // --user: every record of the sessions in which the user appears.
    let user = "alice";
    let names = |r: &Value| {
        r["user"].as_str() == Some(user)
            || r["context"]
                .as_object()
                .is_some_and(|c| c.values().any(|v| v.as_str() == Some(user)))
    };
    let sessions: Vec<&str> = recs
        .iter()
        .filter(|r| names(r))
        .filter_map(|r| r["session_id"].as_str())
        .collect();
    check(
        &["--user", user],
        pick(&|r| {
            r["session_id"]
                .as_str()
                .is_some_and(|s| sessions.contains(&s))
        }),
        "--user",
    );

    // The timeline: one header per session naming the user, one line per request.
    let o = consume(&addr, &[&th, &ts], &["--user", user, "--color", "never"]);
    let text = String::from_utf8_lossy(&o.stdout);
    let headers = text.lines().filter(|l| l.starts_with("━━ session")).count();
    let requests = text.lines().filter(|l| l.starts_with("  ")).count();
    let mut distinct = sessions.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(headers, distinct.len(), "{text}");
    assert!(
        text.lines()
            .filter(|l| l.starts_with("━━"))
            .all(|l| l.contains("user alice")),
        "{text}"
    );
    let want_requests = pick(&|r| {
        r["type"] == "http"
            && r["session_id"]
                .as_str()
                .is_some_and(|s| sessions.contains(&s))
    })
    .len();
    assert_eq!(requests, want_requests, "{text}");
    assert!(!text.contains('\x1b'), "no colour with --color never");
    let coloured = consume(&addr, &[&th, &ts], &["--user", user, "--color", "always"]);
    assert!(
        String::from_utf8_lossy(&coloured.stdout).contains("\x1b["),
        "colour with --color always"
    );
}

#[test]
fn consumer_group_resumes_from_its_committed_offsets() {
    let Some(addr) = broker("consumer_group_resumes_from_its_committed_offsets") else {
        return;
    };
    let dir = scratch("kafka-group");
    let (pcaps, base) = journeys();
    let want = jsonl_of(&pcaps, &base, &dir);
    let (th, ts) = topics(&addr, "group");
    let cfg = kafka_config(&dir, &base, &addr, (&th, &ts), "");
    let run = replay_to_kafka(&pcaps, &cfg, &["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let group = ["-G", "apitap-test-group"];

    // A new group starts where -o says and commits what it read (kcat -G semantics).
    let first = consume_json(
        &addr,
        &[&th, &ts],
        &[&group[..], &["-o", "beginning"]].concat(),
    );
    assert_same_records(&first, &want, "first read of the group");
    // The same group again: nothing left past its committed offsets.
    let again = consume_json(&addr, &[&th, &ts], &group);
    assert!(
        again.is_empty(),
        "the group read {} records again",
        again.len()
    );
    // New records: the group reads exactly those; a consumer without a group reads all.
    let run = replay_to_kafka(&pcaps, &cfg, &["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let next = consume_json(&addr, &[&th, &ts], &group);
    assert_same_records(&next, &want, "records produced after the commit");
    let everything = consume_json(&addr, &[&th, &ts], &["--from-beginning"]);
    assert_eq!(everything.len(), 2 * want.len());
}

#[test]
fn oversized_record_is_a_counted_final_error_and_the_rest_flows() {
    let Some(addr) = broker("oversized_record_is_a_counted_final_error_and_the_rest_flows") else {
        return;
    };
    let dir = scratch("kafka-oversized");
    let (pcaps, base) = journeys();
    let all = jsonl_of(&pcaps, &base, &dir);
    let (th, ts) = topics(&addr, "oversized");
    // Records of this capture are 0.4 to 1.4 KB: a 1.2 KB limit (with key and headers) refuses some.
    let limit = 1200;
    let cfg = kafka_config(
        &dir,
        &base,
        &addr,
        (&th, &ts),
        &format!("[export.kafka.librdkafka]\n\"message.max.bytes\" = {limit}\n"),
    );
    let run = replay_to_kafka(&pcaps, &cfg, &[]);
    assert_eq!(run.code, 4, "loss is exit code 4: {}", run.stderr);
    let (offered, delivered, lost) = assert_accounted(&run.stats);
    let too_large = run.stats["export"]["dropped"]["message_too_large"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        too_large > 0 && too_large == lost,
        "{}",
        run.stats["export"]
    );
    assert_eq!(offered, all.len() as u64);
    assert!(run.stderr.contains("message_too_large"), "{}", run.stderr);

    let got = consume_json(&addr, &[&th, &ts], &[]);
    assert_eq!(got.len() as u64, delivered, "the rest arrived");
    let mut missing = sorted(all.clone());
    for g in &got {
        let i = missing
            .iter()
            .position(|m| m == g)
            .expect("a consumed record was produced once");
        missing.remove(i);
    }
    assert_eq!(missing.len() as u64, too_large);
    let largest_kept = got.iter().map(String::len).max().unwrap_or(0);
    assert!(
        missing.iter().all(|m| m.len() > largest_kept),
        "only the largest records are refused"
    );
}

#[test]
fn missing_topic_is_a_final_delivery_error() {
    let Some(addr) = broker("missing_topic_is_a_final_delivery_error") else {
        return;
    };
    let dir = scratch("kafka-missing-topic");
    let pcaps = vec![fixture("local/nginx-curl.pcap")];
    let t = format!("t{}-never-created", std::process::id());
    let cfg = kafka_config(
        &dir,
        "",
        &addr,
        (&t, &t),
        "[export.kafka.librdkafka]\n\"topic.metadata.propagation.max.ms\" = 1000\n",
    );
    let run = replay_to_kafka(&pcaps, &cfg, &[]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let (offered, delivered, lost) = assert_accounted(&run.stats);
    assert_eq!((delivered, lost), (0, offered));
    assert_eq!(
        run.stats["export"]["delivery_failed"]["final"].as_u64(),
        Some(offered)
    );
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
}

#[test]
fn bad_property_is_a_clear_startup_error() {
    let Some(addr) = broker("bad_property_is_a_clear_startup_error") else {
        return;
    };
    let dir = scratch("kafka-bad-prop");
    let cfg = kafka_config(
        &dir,
        "",
        &addr,
        ("a", "b"),
        "[export.kafka.librdkafka]\n\"acks\" = \"sometimes\"\n",
    );
    let o = Command::new(apitap_bin())
        .args([
            "replay",
            fixture("local/nginx-curl.pcap").to_str().unwrap(),
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("acks") && err.contains("sometimes"), "{err}");
    let both = Command::new(apitap_bin())
        .args([
            "replay",
            fixture("local/nginx-curl.pcap").to_str().unwrap(),
            "--output",
            "/dev/null",
        ])
        .args(["--kafka-brokers", &addr])
        .output()
        .unwrap();
    assert_eq!(
        both.status.code(),
        Some(2),
        "--output with Kafka is refused"
    );
}

/// nginx-curl.pcap repeated `copies` times, one copy every `step`: a capture spanning
/// `copies * step` for `--realtime` replays (connections close before their ports are reused).
fn spread_capture(dir: &Path, copies: u32, step: Duration) -> PathBuf {
    let pkts = read_pcap(fixture("local/nginx-curl.pcap")).expect("read fixture");
    let t0 = pkts[0].ts;
    let mut out = Vec::new();
    for k in 0..copies {
        for p in &pkts {
            let mut q = p.clone();
            q.ts = t0 + step * k + (p.ts - t0);
            out.push(q);
        }
    }
    let path = dir.join("spread.pcap");
    write_pcap(&path, &out).expect("write pcap");
    path
}

/// `apitap consume --follow --json` in the background, writing to a file.
fn follow(addr: &str, topics: &[&str], out: &Path) -> Child {
    let mut c = Command::new(apitap_bin());
    // Short fetch waits: the consumer keeps up within milliseconds.
    c.args([
        "consume",
        "-b",
        addr,
        "--follow",
        "--json",
        "-X",
        "fetch.wait.max.ms=5",
    ]);
    for t in topics {
        c.args(["-t", t]);
    }
    c.stdout(std::fs::File::create(out).expect("create output"))
        .stderr(Stdio::null())
        .spawn()
        .expect("run apitap consume --follow")
}

/// Lines in a file.
fn lines_of(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// tansu keeps producer ids in memory: after a restart it answers every batch of the
/// producer it knew with UNKNOWN_PRODUCER_ID, which librdkafka retries until the records time
/// out (a real cluster keeps producer state in its log across restarts). The outage tests
/// therefore turn idempotence off, for tansu only; the round-trip tests keep the default.
const TANSU_RESTART_OVERRIDE: &str = "[export.kafka.librdkafka]\n\"enable.idempotence\" = false\n";

#[test]
fn broker_outage_is_ridden_out_without_loss_or_duplicates() {
    let Some(_) = broker("broker_outage_is_ridden_out_without_loss_or_duplicates") else {
        return;
    };
    let b = OwnBroker::start("outage");
    let dir = scratch("kafka-outage");
    // 60 copies, one every 250 ms: a 15 s capture of 540 transactions.
    let pcap = spread_capture(&dir, 60, Duration::from_millis(250));
    let want = jsonl_of(std::slice::from_ref(&pcap), "", &dir);
    let (th, ts) = topics(&b.addr, "outage");
    let cfg = kafka_config(
        &dir,
        "",
        &b.addr,
        (&th, &ts),
        &format!("flush_timeout_ms = 30000\n{TANSU_RESTART_OVERRIDE}"),
    );
    // The in-memory broker forgets what it had: one consumer reads until the broker dies,
    // another reads the restarted broker from the beginning.
    let before_path = dir.join("before.jsonl");
    let mut before_consumer = follow(&b.addr, &[&th, &ts], &before_path);
    std::thread::sleep(Duration::from_secs(1));

    let started = Instant::now();
    let replay = spawn_replay(std::slice::from_ref(&pcap), &cfg, &["--realtime"]);
    // Crash the broker after 5 s, between two bursts of the capture (a copy every 250 ms
    // lasting 65 ms): what the broker acknowledged, the first consumer (polling every few ms)
    // has read, and no batch is in flight that a retry could duplicate.
    std::thread::sleep(Duration::from_millis(5_000 + 160));
    b.kill();
    std::thread::sleep(Duration::from_secs(1));
    let _ = before_consumer.kill();
    let _ = before_consumer.wait();
    std::thread::sleep(Duration::from_secs(4));
    b.restart_with(&replay.0, &[&th, &ts, &alerts_topic(&th)]);
    let run = finish_run(replay);
    let elapsed = started.elapsed();
    assert_eq!(run.code, 0, "no loss, no crash: {}", run.stderr);
    assert!(
        elapsed >= Duration::from_secs(14),
        "--realtime paced the replay ({elapsed:?})"
    );
    assert!(
        run.stderr.contains("brokers are down"),
        "the outage was reported: {}",
        run.stderr
    );
    let (offered, delivered, lost) = assert_accounted(&run.stats);
    assert_eq!(
        (offered, delivered, lost),
        (want.len() as u64, want.len() as u64, 0)
    );

    let before = lines_of(&before_path);
    let after = consume_json(&b.addr, &[&th, &ts], &[]);
    assert!(
        !before.is_empty() && !after.is_empty(),
        "the outage fell mid-replay ({} before, {} after)",
        before.len(),
        after.len()
    );
    let got: Vec<String> = before.iter().chain(&after).cloned().collect();
    assert_same_records(&got, &want, "no loss, no duplicates across the restart");
    assert_eq!(
        per_session(&got),
        per_session(&want),
        "order within each session"
    );
}

#[test]
fn outage_longer_than_the_buffer_drops_and_counts() {
    let Some(_) = broker("outage_longer_than_the_buffer_drops_and_counts") else {
        return;
    };
    let b = OwnBroker::start("long-outage");
    let dir = scratch("kafka-long-outage");
    let pcap = spread_capture(&dir, 60, Duration::from_millis(250));
    let want = jsonl_of(std::slice::from_ref(&pcap), "", &dir);
    let (th, ts) = topics(&b.addr, "long");
    // The broker is down from the start: the sensor must start anyway and buffer 100 records.
    b.kill();
    let buffer = 100u64;
    let cfg = kafka_config(
        &dir,
        "",
        &b.addr,
        (&th, &ts),
        // Idempotence stays on: this producer never met the broker before its restart.
        &format!("max_buffer_messages = {buffer}\nflush_timeout_ms = 60000"),
    );
    let replay = spawn_replay(std::slice::from_ref(&pcap), &cfg, &[]);
    // The replay itself takes well under a second; then it waits in the shutdown flush, which
    // waits for brokers that refuse connections a few seconds (the producer's DOWN_GRACE,
    // 5 s) before it gives up on them: the broker is back before that.
    std::thread::sleep(Duration::from_secs(2));
    b.restart_with(&replay.0, &[&th, &ts, &alerts_topic(&th)]);
    let run = finish_run(replay);
    assert_eq!(run.code, 4, "loss is exit code 4: {}", run.stderr);
    assert!(
        run.stderr.contains("refused the connection"),
        "clear message: {}",
        run.stderr
    );
    assert_eq!(
        run.stats["transactions"].as_u64(),
        Some(540),
        "capture went on"
    );
    let (offered, delivered, lost) = assert_accounted(&run.stats);
    assert_eq!(offered, want.len() as u64);
    assert_eq!(
        delivered, buffer,
        "the buffer was delivered after the restart"
    );
    assert_eq!(
        run.stats["export"]["dropped"]["queue_full"].as_u64(),
        Some(offered - buffer)
    );
    assert_eq!(lost, offered - buffer, "every loss counted");
    assert!(run.stderr.contains("queue_full"), "{}", run.stderr);

    let got = consume_json(&b.addr, &[&th, &ts], &[]);
    assert_eq!(
        got.len() as u64,
        buffer,
        "exactly the buffered records arrived"
    );
    let mut pool = sorted(want);
    for g in &got {
        let i = pool
            .iter()
            .position(|m| m == g)
            .expect("each record produced once");
        pool.remove(i);
    }
    let _ = std::io::stderr().flush();
}

/// A loopback port nothing listens on (bound, then released): connections are refused.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Regression (issue 20, item 7): `consume` took 10 s to fail on a refused broker, and said
/// the same for a host name that does not resolve. Both are now told at once, and apart.
/// Needs no broker.
#[test]
fn consume_tells_a_refused_broker_from_an_unresolvable_one_within_2_s() {
    let refused = format!("127.0.0.1:{}", closed_port());
    let mut messages = Vec::new();
    for (brokers, says) in [
        (refused.as_str(), "refused"),
        ("no-such-host.invalid:9092", "cannot resolve"),
    ] {
        let start = Instant::now();
        let child = Command::new(apitap_bin())
            .args(["consume", "--brokers", brokers, "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run apitap consume");
        let o = wait_bounded(child, Duration::from_secs(20));
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{brokers}: {stderr}");
        assert!(
            took < Duration::from_secs(2),
            "{brokers}: {took:?}: {stderr}"
        );
        assert!(stderr.contains(says), "{brokers}: {stderr}");
        messages.push(stderr);
    }
    assert!(!messages[0].contains("cannot resolve"), "{}", messages[0]);
    assert!(!messages[1].contains("refused"), "{}", messages[1]);
}

/// Regression (issue 20, item 7): a replay to a dead broker waited the whole 30 s shutdown
/// flush, logged each connection failure twice (librdkafka's log line and the client error),
/// and its summary said "records written: N" beside "0 delivered". Needs no broker.
#[test]
fn replay_to_a_refused_broker_gives_up_early_says_each_failure_once() {
    let brokers = format!("127.0.0.1:{}", closed_port());
    let start = Instant::now();
    let child = Command::new(apitap_bin())
        .args(["replay", fixture("local/nginx-curl.pcap").to_str().unwrap()])
        .args(["--kafka-brokers", &brokers])
        .env("APITAP_SESSION_SECRET", TEST_SESSION_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run apitap replay");
    let o = wait_bounded(child, Duration::from_secs(60));
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "records were lost: {stderr}");
    // The flush timeout is 30 s; a broker that refuses is given a few seconds.
    assert!(took < Duration::from_secs(10), "{took:?}: {stderr}");
    let event_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            (l.contains("client error") || l.contains("librdkafka"))
                && l.contains("Connection refused")
        })
        .collect();
    assert_eq!(event_lines.len(), 1, "each failure said once: {stderr}");
    assert!(stderr.contains("refused the connection"), "{stderr}");
    assert!(!stderr.contains("records written"), "{stderr}");
    assert!(stderr.contains("0 delivered"), "{stderr}");
}

/// The partitions of `topic` on `addr`, or None when it does not exist.
fn partitions_of(addr: &str, topic: &str) -> Option<usize> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .expect("metadata client");
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    md.topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
        .filter(|n| *n > 0)
}

/// `[export.kafka] create_topics = true`: missing topics are created at startup with the
/// configured partitions, every record arrives, and a second run creates nothing.
#[test]
fn create_topics_creates_the_missing_topics_once() {
    let Some(addr) = broker("create_topics_creates_the_missing_topics_once") else {
        return;
    };
    let dir = scratch("kafka-create-topics");
    let prefix = format!("t{}-created", std::process::id());
    let (th, ts) = (format!("{prefix}.http"), format!("{prefix}.sessions"));
    assert_eq!(partitions_of(&addr, &th), None, "a fresh topic name");
    let cfg = kafka_config(
        &dir,
        "",
        &addr,
        (&th, &ts),
        "create_topics = true\ntopic_partitions = 2\ntopic_replication_factor = 1\n",
    );
    let pcap = fixture("local/nginx-curl.pcap");
    let first = replay_to_kafka(std::slice::from_ref(&pcap), &cfg, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains(&format!("created topic {th} (partitions: 2")),
        "{}",
        first.stderr
    );
    assert_eq!(partitions_of(&addr, &th), Some(2));
    assert_eq!(partitions_of(&addr, &ts), Some(2));
    let (offered, delivered, lost) = assert_accounted(&first.stats);
    assert_eq!((delivered, lost), (offered, 0));
    assert_eq!(consume_json(&addr, &[&th, &ts], &[]).len() as u64, offered);

    let second = replay_to_kafka(&[pcap], &cfg, &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        !second.stderr.contains("created topic"),
        "{}",
        second.stderr
    );
}
