//! The stage over transactions in their sessions: ownership learned from responses, the
//! session scope of alerts, and what the bounds forget.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use apitap_exporters::{EventMeta, ExportError, ExportStats, Exporter};
use apitap_reassembly::ConnId;
use apitap_sessionizer::http::{GateVerdict, Request, Response, Transaction};
use apitap_sessionizer::record::{RecordConfig, RedactMode, Redactor};
use apitap_sessionizer::session::config::BodyConfig;
use apitap_sessionizer::session::{HashId, SessionHint, SessionSummary, TransactionId, TxSession};
use serde_json::Value;

use super::config::BehavioursConfig;
use super::stage::Behaviours;
use crate::output::{OutputStats, Records, SessionCx, Stage};
use crate::staged::Staged;

/// Keeps the records written, parsed.
#[derive(Clone, Default)]
struct Capture {
    records: Arc<Mutex<Vec<Value>>>,
    stats: ExportStats,
}

impl Exporter for Capture {
    fn export(&mut self, _meta: EventMeta<'_>, json: &[u8]) -> Result<(), ExportError> {
        let v = serde_json::from_slice(json).expect("records are JSON");
        self.records.lock().expect("not poisoned").push(v);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
    fn stats(&self) -> &ExportStats {
        &self.stats
    }
}

/// A stage with `cfg`, its records, and the captured alerts.
struct Rig {
    stage: Behaviours,
    records: Records,
    out: Arc<Mutex<Vec<Value>>>,
    depth: u32,
    /// Bodies are stored but not selected for ids (as when detection stores every body).
    unselected: bool,
}

impl Rig {
    fn new(cfg: BehavioursConfig) -> Self {
        let cap = Capture::default();
        let out = Arc::clone(&cap.records);
        Rig {
            stage: Behaviours::new(&cfg, &["login".into()], &BodyConfig::default()),
            records: Records::new(
                Redactor::new(&RecordConfig::default().redact, RedactMode::Replace, None)
                    .expect("default rules"),
                Box::new(cap),
            ),
            out,
            depth: 0,
            unselected: false,
        }
    }

    /// One transaction of session `sid` (its key a credential unless `anonymous`) at second
    /// `s`: `method path` answered `status` with `body`; the session's summary afterwards.
    #[allow(clippy::too_many_arguments)]
    fn tx(
        &mut self,
        s: u64,
        sid: u8,
        anonymous: bool,
        method: &str,
        path: &str,
        endpoint: &str,
        status: u16,
        body: &str,
        sum: &mut SessionSummary,
    ) {
        self.depth += 1;
        let tx = Transaction {
            conn: ConnId(u64::from(sid)),
            depth: self.depth,
            zone: 0,
            client: "192.0.2.7:4000".parse().unwrap(),
            server: "198.51.100.1:80".parse().unwrap(),
            request: Some(Request {
                method: method.into(),
                uri: path.into(),
                version_minor: 1,
                ts_us: s * 1_000_000,
                end_ts_us: s * 1_000_000,
                ..Request::default()
            }),
            response: Some(Response {
                status,
                version_minor: 1,
                body: body.as_bytes().to_vec(),
                body_bytes: body.len() as u64,
                // The rig's bodies stand for the ones the HTTP layer selects for ids.
                issues_ids: !body.is_empty() && !self.unselected,
                ..Response::default()
            }),
            anomalies: Vec::new(),
            tcp_anomalies: Vec::new(),
            switched: None,
            http2: None,
            connect_authority: None,
            decrypted: false,
            gate: GateVerdict::NotAsked,
        };
        let ts = TxSession {
            session_id: Some(HashId([sid; 16])),
            transaction_id: TransactionId {
                conn: u64::from(sid),
                depth: self.depth,
            },
            key_source: Some(
                if anonymous {
                    "fallback:ip+ua"
                } else {
                    "jwt:sub"
                }
                .into(),
            ),
            jwt_verified: None,
            client_ip: IpAddr::from([192, 0, 2, sid]),
            endpoint: Some(format!("{method} {endpoint}")),
            context: Vec::new(),
            user: None,
            role: None,
            login_user: None,
            anomalies: Vec::new(),
            slot: None,
        };
        let item = Staged {
            now_us: s * 1_000_000,
            tx,
            tunnel: None,
            facts: None,
            hint: SessionHint::default(),
            api: None,
            scan: None,
            head: None,
        };
        let cx = SessionCx {
            tx: &ts,
            state: Some(sum),
        };
        self.stage
            .transaction(item.now_us, &item, Some(cx), &mut self.records)
            .expect("captured");
    }

    /// Session `sid` reads order `id` at second `s`.
    fn read(&mut self, s: u64, sid: u8, id: u64, sum: &mut SessionSummary) {
        let path = format!("/api/orders/{id}");
        self.tx(
            s,
            sid,
            false,
            "GET",
            &path,
            "/api/orders/{id}",
            200,
            "",
            sum,
        );
    }

    fn alerts(&self) -> Vec<Value> {
        self.out.lock().expect("not poisoned").clone()
    }

    fn stats(&self) -> OutputStats {
        let mut st = OutputStats::default();
        self.stage.add_stats(&mut st);
        st
    }
}

fn cfg(min_foreign_ids: usize, max_sessions: usize) -> BehavioursConfig {
    let mut c = BehavioursConfig::default();
    c.bola.min_foreign_ids = min_foreign_ids;
    c.max_sessions = max_sessions;
    c.scraping.enabled = false;
    c
}

/// Session 1 lists its orders (ids 11, 12 and 13), then reads each one.
fn list_then_read_orders(r: &mut Rig, sum: &mut SessionSummary) {
    let listing = r#"{"orders":[{"id":11},{"id":12},{"id":13}]}"#;
    r.tx(
        0,
        1,
        false,
        "GET",
        "/api/orders",
        "/api/orders",
        200,
        listing,
        sum,
    );
    for id in [11, 12, 13] {
        r.read(1, 1, id, sum);
    }
}

/// Ids a session's listing issued are its own; other ids are foreign, and the alert is
/// counted in the session's summary.
#[test]
fn ids_issued_by_a_listing_are_owned_and_others_are_foreign() {
    let mut r = Rig::new(cfg(3, 10));
    let mut sum = SessionSummary::default();
    list_then_read_orders(&mut r, &mut sum);
    assert!(r.alerts().is_empty(), "own orders: {:?}", r.alerts());
    for id in [21, 22, 23] {
        r.read(2, 1, id, &mut sum);
    }
    let alerts = r.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["kind"], "bola");
    assert_eq!(alerts[0]["evidence"]["foreign_ids"], 3);
    assert_eq!(alerts[0]["evidence"]["known_ids"], 3);
    assert_eq!(sum.alerts.get("bola"), Some(&1));
    assert_eq!(r.stats().behaviours.alerts.get("bola"), Some(&1));
}

/// A listing the HTTP layer stored for another reader (detection stores every body) but did
/// not select for ids issues none: reading its objects is reading foreign ones.
#[test]
fn a_body_not_selected_for_ids_issues_none() {
    let mut r = Rig::new(cfg(3, 10));
    r.unselected = true;
    let mut sum = SessionSummary::default();
    list_then_read_orders(&mut r, &mut sum);
    let alerts = r.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "bola");
}

/// A session keyed by a fallback (no credential) is not looked at for BOLA.
#[test]
fn anonymous_sessions_are_not_bola() {
    let mut r = Rig::new(cfg(3, 10));
    let mut sum = SessionSummary::default();
    for id in 1..=5 {
        let path = format!("/api/orders/{id}");
        r.tx(
            id,
            1,
            true,
            "GET",
            &path,
            "/api/orders/{id}",
            200,
            "",
            &mut sum,
        );
    }
    assert!(r.alerts().is_empty());
}

/// At `max_sessions` the least recently active session is forgotten (counted): its evidence
/// starts over.
#[test]
fn a_forgotten_session_starts_over() {
    let mut r = Rig::new(cfg(3, 1));
    let (mut a, mut b) = (SessionSummary::default(), SessionSummary::default());
    r.read(0, 1, 100, &mut a);
    r.read(1, 1, 101, &mut a);
    r.read(2, 2, 200, &mut b);
    r.read(3, 1, 102, &mut a);
    assert!(r.alerts().is_empty(), "session 1 came back empty");
    assert_eq!(r.stats().behaviours.sessions_evicted, 2);
    r.read(4, 1, 103, &mut a);
    r.read(5, 1, 104, &mut a);
    assert_eq!(r.alerts().len(), 1, "three foreign ids since it came back");
}

/// A `201` names an object the session made: reading it is reading its own.
#[test]
fn created_objects_are_owned() {
    let mut r = Rig::new(cfg(3, 10));
    let mut sum = SessionSummary::default();
    for id in 1..=3 {
        let path = format!("/api/orders/{id}");
        r.tx(
            id,
            1,
            false,
            "PUT",
            &path,
            "/api/orders/{id}",
            201,
            "",
            &mut sum,
        );
        r.read(id, 1, id, &mut sum);
    }
    assert!(r.alerts().is_empty());
}

/// Past `max_held_bytes` the table holding the most forgets its least recently active
/// entity: sessions and clients that each read a thousand objects stay within the bound,
/// and what was forgotten is counted.
#[test]
fn the_tables_stay_within_their_bytes() {
    let mut c = cfg(3, 100_000);
    c.max_held_bytes = super::config::MIN_HELD_BYTES;
    let mut r = Rig::new(c);
    let sessions = 64u8;
    let mut sums: Vec<SessionSummary> = (0..sessions).map(|_| SessionSummary::default()).collect();
    for sid in 1..=sessions {
        for id in 0..1_100u64 {
            r.read(
                id,
                sid,
                u64::from(sid) * 10_000 + id,
                &mut sums[usize::from(sid) - 1],
            );
        }
    }
    let b = r.stats().behaviours;
    assert!(b.memory_evictions > 0, "{b:?}");
    assert!(
        b.held_bytes <= super::config::MIN_HELD_BYTES,
        "as of the last update: {b:?}"
    );
    // Between two updates of the account (32 transactions of one session here) a set grows
    // by at most a doubling of its table, 1,024 ids at 9 bytes a bucket, twice, for the
    // session and for the client, and each evidence ring by a doubling of 64 entries.
    let between_updates = 2 * (2 * 2048 * 9 + 2 * 64 * 40);
    assert!(
        b.peak_held_bytes <= super::config::MIN_HELD_BYTES + between_updates,
        "{b:?}"
    );
    assert!(
        b.peak_held_bytes > super::config::MIN_HELD_BYTES / 2,
        "the tables did fill: {b:?}"
    );
}
