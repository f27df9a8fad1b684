//! The store as the views use it: records in, filtered and paged rows out; duplicates,
//! retention and analysts' notes.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::config::UiConfig;
use crate::filter::SessionFilter;
use crate::scratch::{scratch, InScratch};

/// Query-string parameters of a sessions list.
type Query = &'static [(&'static str, &'static str)];

/// 2024-05-01T10:00:00Z, in microseconds.
const T0_US: i64 = 1_714_557_600_000_000;

fn ts(sec: i64) -> String {
    crate::record::show_ts(T0_US + sec * 1_000_000).replacen(' ', "T", 1) + "Z"
}

/// A small builder for http records.
struct Tx {
    sec: i64,
    sid: &'static str,
    conn: u64,
    ip: &'static str,
    endpoint: &'static str,
    status: u16,
    attacks: Vec<Value>,
    api: &'static str,
}

fn tx(sec: i64, sid: &'static str, conn: u64) -> Tx {
    Tx {
        sec,
        sid,
        conn,
        ip: "198.51.100.7",
        endpoint: "GET /api/v1/products/{id}",
        status: 200,
        attacks: Vec::new(),
        api: "documented",
    }
}

impl Tx {
    fn line(&self) -> String {
        let (method, path) = self.endpoint.split_once(' ').unwrap();
        json!({"type":"http","schema_version":1,"ts":ts(self.sec),"conn_id":self.conn,"depth":self.sec,
          "flow":{"src_ip":self.ip,"src_port":1,"dst_ip":"10.0.0.2","dst_port":80},
          "request":{"method":method,"uri":path,"path":path,"host":"shop","headers":[]},
          "response":{"status":self.status},"latency_us":1000,
          "session_id":self.sid,"transaction_id":format!("{}-{}",self.conn,self.sec),"client_ip":self.ip,
          "endpoint":self.endpoint,"attacks":self.attacks,"api":{"status":self.api},"sensor_id":"tap-1"})
        .to_string()
    }
}

fn session(sid: &str, phase: &str, user: &str, requests: i64) -> String {
    let ip = if user == "mallory" {
        "192.0.2.66"
    } else {
        "198.51.100.7"
    };
    json!({"type":"session","phase":phase,"ts":ts(100),"session_id":sid,"first_seen":ts(1),"last_seen":ts(9),
      "requests":requests,"user":user,"session_key":{"source":"jwt:sub"},"client_ips":[{"ip":ip,"count":1}]})
    .to_string()
}

fn alert(kind: &str, sid: &str, sec: i64, ids: &[&str]) -> String {
    json!({"type":"alert","kind":kind,"ts":ts(sec),"first_ts":ts(sec),"session_id":sid,"client_ip":"192.0.2.66",
      "user":null,"endpoint":null,"transaction_ids":ids,"evidence":{"n":1}})
    .to_string()
}

/// A store in a scratch directory, removed after the store is closed.
fn store(name: &str) -> InScratch<Store> {
    let dir = scratch(&format!("apitap-ui-store-{name}-"));
    InScratch::new(Store::open(&dir.path().join("ui.sqlite")).unwrap(), dir)
}

fn ingest(s: &Store, cfg: &UiConfig, lines: &[String]) -> IngestStats {
    let mut w = s.writer(cfg).unwrap();
    for l in lines {
        w.push(l.as_bytes(), None).unwrap();
    }
    w.flush().unwrap();
    w.stats().clone()
}

/// The incident: alice browses from one address, mallory attacks from another and is
/// alerted on, bob calls a zombie endpoint.
fn incident() -> Vec<String> {
    let mut atk = tx(5, "mallory1", 2);
    atk.ip = "192.0.2.66";
    atk.endpoint = "GET /api/v1/search";
    atk.attacks = vec![
        json!({"class":"xss","rule":"xss.tag","where":"query:q","evidence":"<script>","outcome":"served"}),
    ];
    let mut m2 = tx(6, "mallory1", 2);
    m2.ip = "192.0.2.66";
    let mut zombie = tx(7, "bob1", 3);
    zombie.endpoint = "GET /api/v0/users/{id}";
    zombie.api = "zombie";
    vec![
        session("alice1", "start", "alice", 1),
        tx(1, "alice1", 1).line(),
        tx(2, "alice1", 1).line(),
        atk.line(),
        m2.line(),
        alert("attack_served", "mallory1", 5, &["2-5"]),
        zombie.line(),
        session("mallory1", "end", "mallory", 2),
        session("bob1", "end", "bob", 1),
        session("alice1", "end", "alice", 2),
    ]
}

fn ids(s: &Store, q: &[(&str, &str)]) -> Vec<String> {
    let q: BTreeMap<String, String> = q.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let (f, errors) = SessionFilter::from_query(&q);
    assert!(errors.is_empty(), "{errors:?}");
    let mut got: Vec<String> = s
        .reader()
        .unwrap()
        .sessions(&f, 50)
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r.session_id)
        .collect();
    got.sort();
    got
}

#[test]
fn each_filter_of_the_sessions_list_selects_what_it_says() {
    let s = store("filters");
    let stats = ingest(&s, &UiConfig::default(), &incident());
    assert_eq!((stats.http, stats.sessions, stats.alerts), (5, 4, 1));
    let table: [(Query, &[&str]); 12] = [
        (&[], &["alice1", "bob1", "mallory1"]),
        (&[("ip", "192.0.2.0/24")], &["mallory1"]),
        (&[("ip", "198.51.100.7")], &["alice1", "bob1"]),
        (&[("user", "mal*")], &["mallory1"]),
        (&[("user", "alice")], &["alice1"]),
        (&[("endpoint", "GET /api/v1/search")], &["mallory1"]),
        (
            &[("endpoint", "GET /api/v1/products/*")],
            &["alice1", "mallory1"],
        ),
        (&[("attacks", "1")], &["mallory1"]),
        (&[("alerts", "1")], &["mallory1"]),
        (&[("alert", "attack_served")], &["mallory1"]),
        (&[("api", "zombie")], &["bob1"]),
        (&[("sensor", "tap-1"), ("attack", "xss")], &["mallory1"]),
    ];
    for (q, want) in table {
        assert_eq!(ids(&s, q), want, "{q:?}");
    }
    // The two forms of the endpoint filter (collected first, or checked per session) agree.
    let r = s.reader().unwrap();
    for pattern in ["GET /api/v1/search", "GET /api/*", "*", "none"] {
        let f = SessionFilter {
            endpoint: Some(pattern.into()),
            ..SessionFilter::default()
        };
        let narrow = r.sessions_planned(&f, 50, false).unwrap();
        assert_eq!(
            narrow,
            r.sessions_planned(&f, 50, true).unwrap(),
            "{pattern}"
        );
    }
    assert_eq!(
        ids(&s, &[("from", &ts(6)), ("to", &ts(8))]).len(),
        3,
        "all overlap [6, 8]"
    );
}

#[test]
fn a_later_session_record_wins_and_counts_are_not_doubled() {
    let s = store("summary");
    ingest(&s, &UiConfig::default(), &incident());
    let r = s.reader().unwrap();
    let d = r.session("alice1", 0, 100, false).unwrap().unwrap();
    assert_eq!(d.row.user.as_deref(), Some("alice"));
    assert_eq!(d.row.requests, 2, "the end record's count, not the start's");
    assert_eq!(d.tx.len(), 2);
    let m = r.session("mallory1", 0, 100, false).unwrap().unwrap();
    assert_eq!(m.row.attacks, vec![("xss".to_owned(), 1)]);
    assert_eq!(m.row.alerts, vec![("attack_served".to_owned(), 1)]);
    assert_eq!(m.tx[0].attacks[0].evidence, "<script>");
    assert_eq!(m.alerts[0].transaction_ids, ["2-5"]);
    assert_eq!(r.timeline("mallory1").unwrap().len(), 2);
}

#[test]
fn records_delivered_twice_are_stored_once() {
    let s = store("dupes");
    let mut lines = incident();
    lines.extend(incident());
    let stats = ingest(&s, &UiConfig::default(), &lines);
    assert_eq!(stats.duplicates, 6, "5 transactions and an alert");
    let o = s.reader().unwrap().overview(60).unwrap();
    assert_eq!(o.totals[0], ("transactions", 5));
    assert_eq!(o.endpoints[0].requests, 3);
}

#[test]
fn lines_that_are_not_records_are_counted_and_skipped() {
    let s = store("invalid");
    let stats = ingest(
        &s,
        &UiConfig::default(),
        &["nope".into(), "{}".into(), tx(1, "a", 1).line()],
    );
    assert_eq!((stats.invalid, stats.http), (2, 1));
    let counters = s.reader().unwrap().counters().unwrap();
    assert!(
        counters.contains(&("records_invalid".into(), 2)),
        "{counters:?}"
    );
}

#[test]
fn retention_by_age_deletes_old_records_but_keeps_annotated_sessions() {
    let s = store("age");
    let mut cfg = UiConfig::default();
    cfg.retention.max_age_hours = 1;
    let old = [
        tx(1, "old", 1).line(),
        tx(2, "kept", 2).line(),
        session("old", "end", "x", 1),
    ];
    ingest(&s, &cfg, &old);
    s.annotator()
        .unwrap()
        .add_note("kept", "looking into it", Some("ana"), 0)
        .unwrap();
    // Two hours later (packet time), a new transaction arrives; retention runs.
    let mut w = s.writer(&cfg).unwrap();
    w.push(tx(7200, "new", 3).line().as_bytes(), None).unwrap();
    w.flush().unwrap();
    w.run_retention().unwrap();
    assert_eq!(w.stats().retention.tx_by_age, 1);
    assert_eq!(w.stats().retention.sessions, 1);
    assert_eq!(ids(&s, &[]), ["kept", "new"]);
    let o = s.reader().unwrap().overview(60).unwrap();
    assert_eq!(
        o.endpoints[0].requests, 2,
        "the deleted transaction left the inventory"
    );
    assert!(o.counters.contains(&("retention_tx_by_age".into(), 1)));
}

/// `n` hex digits that do not repeat: text a dictionary cannot pack away.
fn noise(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}

#[test]
fn retention_by_size_deletes_the_oldest_until_under_the_bound() {
    let s = store("size");
    let mut cfg = UiConfig::default();
    cfg.retention.max_age_hours = 0;
    // Records with a body of their own, as real ones have: packed, the transactions are still
    // most of the store's bytes (identical records would pack down to nothing).
    let lines: Vec<String> = (0..3000)
        .map(|i| {
            let mut v: serde_json::Value =
                serde_json::from_str(&tx(i, "big", 1 + i as u64 / 100).line()).unwrap();
            v["response"]["body"] = noise(i as u64, 512).into();
            v.to_string()
        })
        .collect();
    ingest(&s, &cfg, &lines);
    let conn = s.connect(false).unwrap();
    let before = retention::used_bytes(&conn).unwrap();
    cfg.retention.max_bytes = before / 2;
    let mut w = s.writer(&cfg).unwrap();
    w.run_retention().unwrap();
    let after = retention::used_bytes(&conn).unwrap();
    assert!(w.stats().retention.tx_by_size > 0);
    assert!(
        after <= cfg.retention.max_bytes,
        "{after} > {}",
        cfg.retention.max_bytes
    );
    let left = s.reader().unwrap().timeline("big").unwrap();
    assert!(
        !left.is_empty() && left[0].ts_us > T0_US,
        "the oldest went first"
    );
}

#[test]
fn tags_and_notes_are_stored_signed_and_validated() {
    let s = store("notes");
    ingest(&s, &UiConfig::default(), &incident());
    let a = s.annotator().unwrap();
    a.add_tag("mallory1", " Incident-42 ", Some("ana"), 5)
        .unwrap();
    a.add_tag("mallory1", "incident-42", None, 6).unwrap();
    a.add_note("mallory1", "<b>not bold</b>", None, 7).unwrap();
    assert!(a.add_tag("mallory1", "two words", None, 8).is_err());
    assert!(a.add_note("mallory1", "   ", None, 8).is_err());
    let d = s
        .reader()
        .unwrap()
        .session("mallory1", 0, 10, false)
        .unwrap()
        .unwrap();
    assert_eq!(d.tags.len(), 1);
    assert_eq!(
        (d.tags[0].tag.as_str(), d.tags[0].author.as_deref()),
        ("incident-42", Some("ana"))
    );
    assert_eq!(d.notes[0].text, "<b>not bold</b>");
    assert_eq!(ids(&s, &[("tag", "incident-42")]), ["mallory1"]);
    a.remove_tag("mallory1", "incident-42").unwrap();
    assert!(ids(&s, &[("tag", "incident-42")]).is_empty());
}

#[test]
fn pages_follow_the_sort() {
    let s = store("pages");
    let lines: Vec<String> = (1..=7)
        .map(|i| {
            let sid: &'static str = Box::leak(format!("s{i}").into_boxed_str());
            tx(i, sid, i as u64).line()
        })
        .collect();
    ingest(&s, &UiConfig::default(), &lines);
    let r = s.reader().unwrap();
    let mut f = SessionFilter::default();
    let p0 = r.sessions(&f, 3).unwrap();
    assert!(p0.has_next);
    assert_eq!(p0.rows[0].session_id, "s7", "newest first");
    f.page = 2;
    let p2 = r.sessions(&f, 3).unwrap();
    assert_eq!((p2.rows.len(), p2.has_next), (1, false));
    assert_eq!(p2.rows[0].session_id, "s1");
    f.ascending = true;
    f.page = 0;
    assert_eq!(r.sessions(&f, 3).unwrap().rows[0].session_id, "s1");
}

#[test]
fn a_batch_of_one_record_and_one_batch_of_all_give_the_same_store() {
    // The batch sums a part's transactions and session records before writing it; a
    // commit per record (a trickle) writes each alone. Both must give the same sessions.
    let lines = incident();
    let whole = store("batch-whole");
    ingest(&whole, &UiConfig::default(), &lines);
    let single = store("batch-single");
    let cfg = UiConfig {
        batch_records: 1,
        ..UiConfig::default()
    };
    ingest(&single, &cfg, &lines);
    let sessions = ids(&whole, &[]);
    assert_eq!(sessions, ids(&single, &[]));
    let (a, b) = (whole.reader().unwrap(), single.reader().unwrap());
    for id in &sessions {
        assert_eq!(
            a.session(id, 0, 100, true).unwrap(),
            b.session(id, 0, 100, true).unwrap(),
            "session {id}"
        );
    }
    assert_eq!(a.overview(60).unwrap(), b.overview(60).unwrap());
}

#[test]
fn records_are_read_back_as_received_before_and_after_the_dictionary() {
    let s = store("packed");
    let lines: Vec<String> = (0..1500)
        .map(|i| {
            let mut v: Value =
                serde_json::from_str(&tx(i, "long", 1 + i as u64 / 100).line()).unwrap();
            v["response"]["body"] = noise(i as u64, 64).into();
            v.to_string()
        })
        .collect();
    ingest(&s, &UiConfig::default(), &lines);
    let r = s.reader().unwrap();
    let stored = r.session("long", 0, 2000, true).unwrap().unwrap().tx;
    assert_eq!(stored.len(), lines.len());
    for (t, line) in stored.iter().zip(&lines) {
        assert_eq!(t.record.as_deref(), Some(line.as_str()));
    }
    let last = stored.last().unwrap().id;
    assert_eq!(r.tx_record("long", last).unwrap().as_ref(), lines.last());
    let conn = s.connect(true).unwrap();
    let dictionaries: i64 = conn
        .query_row("SELECT count(*) FROM dictionaries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(dictionaries, 1, "trained once, from the first records");
}

#[test]
fn a_store_of_another_version_is_refused_and_left_as_it_was() {
    let dir = scratch("apitap-ui-store-v1-");
    let path = dir.path().join("ui.sqlite");
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
         INSERT INTO meta VALUES ('schema_version', 1);",
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Version { found: 1, .. }), "{err}");
    assert!(err.to_string().contains("move it aside"), "{err}");
    let tables: i64 = old
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 2, "meta and its key's index only: nothing added");
}
