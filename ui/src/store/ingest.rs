//! Ingest: records in, rows out, in batches of `ui.batch_records` per SQLite transaction.
//!
//! Each record costs one or two inserts (its row, its attacks); everything that sums over
//! records (a session's counts and addresses, the inventory, the per-minute counts) is added
//! up in memory over the batch and written once per key at commit. A batch touches a few
//! hundred sessions and endpoints however many records it holds.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{params, Connection};

use crate::config::{RetentionConfig, UiConfig};
use crate::filter::ip_key;
use crate::record::{self, AlertRow, HttpRow, OtherRow, Parsed, SessionRow};

use super::retention::{self, RetentionStats};
use super::{bump, StoreError};

/// Microseconds per minute: the overview's bucket.
const MINUTE_US: i64 = 60_000_000;

/// What ingest did, since the writer was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// `http` records stored.
    pub http: u64,
    /// `session` records applied.
    pub sessions: u64,
    /// `alert` records stored.
    pub alerts: u64,
    /// Records of other types stored (`websocket`, `tls`...).
    pub other: u64,
    /// Lines that were not records (not JSON, no type, a bad timestamp): skipped.
    pub invalid: u64,
    /// Records already in the store (delivered twice): skipped.
    pub duplicates: u64,
    /// Session parts created in the store.
    pub sessions_created: u64,
    /// Transactions stored without an endpoint because the inventory was full
    /// (`ui.max_endpoints`).
    pub endpoints_dropped: u64,
    /// What retention deleted.
    pub retention: RetentionStats,
}

impl IngestStats {
    /// Records read, stored or not.
    pub fn records(&self) -> u64 {
        self.http + self.sessions + self.alerts + self.other + self.invalid + self.duplicates
    }
}

/// A session's counts over the batch.
#[derive(Default)]
struct SessionDelta {
    first_us: i64,
    last_us: i64,
    tx: i64,
    attacks: i64,
    alerts: i64,
    shadow: i64,
    zombie: i64,
    client_ip: Option<String>,
    sensor: Option<String>,
}

/// An endpoint's counts over the batch.
#[derive(Default)]
struct EndpointDelta {
    requests: i64,
    attacks: i64,
    first_us: i64,
    last_us: i64,
    host: Option<String>,
    api: record::ApiInfo,
    /// Status code (0: no response) → count.
    status: HashMap<i64, i64>,
    /// Auth scheme → count.
    auth: HashMap<String, i64>,
}

/// Per-minute counts over the batch.
#[derive(Default)]
struct MinuteDelta {
    requests: i64,
    sessions: i64,
    attacks: i64,
    alerts: i64,
}

/// A client address's counts over the batch.
#[derive(Default)]
struct IpDelta {
    requests: i64,
    attacks: i64,
    last_us: i64,
}

/// Everything summed over the open batch.
#[derive(Default)]
struct Batch {
    sessions: HashMap<String, SessionDelta>,
    session_ips: HashSet<([u8; 16], String)>,
    session_endpoints: HashMap<(i64, String), i64>,
    endpoints: HashMap<i64, EndpointDelta>,
    minutes: BTreeMap<i64, MinuteDelta>,
    ips: HashMap<String, IpDelta>,
}

impl Batch {
    fn session(&mut self, id: &str, ts_us: i64) -> &mut SessionDelta {
        let d = self
            .sessions
            .entry(id.to_owned())
            .or_insert_with(|| SessionDelta {
                first_us: ts_us,
                last_us: ts_us,
                ..SessionDelta::default()
            });
        d.first_us = d.first_us.min(ts_us);
        d.last_us = d.last_us.max(ts_us);
        d
    }

    fn minute(&mut self, ts_us: i64) -> &mut MinuteDelta {
        self.minutes.entry(ts_us.div_euclid(MINUTE_US)).or_default()
    }
}

/// The ingest side of the store: owns the one write connection.
pub struct Writer {
    conn: Connection,
    batch_records: usize,
    max_endpoints: usize,
    retention: RetentionConfig,
    /// Records in the open SQLite transaction (0: none open).
    pending: usize,
    batch: Batch,
    /// Endpoint → id, for every endpoint in the store.
    endpoint_ids: HashMap<String, i64>,
    stats: IngestStats,
    /// Stats as last written to the `counters` table.
    saved: IngestStats,
    /// Records since retention last ran.
    since_retention: u64,
    /// The newest record time seen: retention's clock.
    newest_us: i64,
}

impl Writer {
    pub(super) fn new(conn: Connection, cfg: &UiConfig) -> Result<Writer, StoreError> {
        let endpoint_ids = {
            let mut st = conn.prepare("SELECT endpoint, id FROM endpoints")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<HashMap<String, i64>, _>>()?
        };
        let newest_us = conn
            .query_row("SELECT max(ts_us) FROM tx", [], |r| {
                r.get::<_, Option<i64>>(0)
            })?
            .unwrap_or(i64::MIN);
        Ok(Writer {
            conn,
            batch_records: cfg.batch_records,
            max_endpoints: cfg.max_endpoints,
            retention: cfg.retention.clone(),
            pending: 0,
            batch: Batch::default(),
            endpoint_ids,
            stats: IngestStats::default(),
            saved: IngestStats::default(),
            since_retention: 0,
            newest_us,
        })
    }

    /// What ingest did so far.
    pub fn stats(&self) -> &IngestStats {
        &self.stats
    }

    /// Records waiting in the open batch.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Ingest one line (a JSON record). `sensor` names the sensor when the record does not
    /// (the Kafka header). A line that is not a record is counted and skipped; the batch is
    /// committed when full.
    pub fn push(&mut self, line: &[u8], sensor: Option<&str>) -> Result<(), StoreError> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(());
        }
        self.push_parsed(line, record::parse(line, sensor))
    }

    /// Ingest a line already read with [`record::parse`] (by another thread: parsing is a
    /// third of ingest, and can run beside the inserts).
    pub fn push_parsed(
        &mut self,
        line: &[u8],
        parsed: Result<Parsed, record::RecordError>,
    ) -> Result<(), StoreError> {
        let Ok(parsed) = parsed else {
            self.stats.invalid += 1;
            return Ok(());
        };
        // Records are stored as received; a line that parsed as JSON is valid UTF-8.
        let text = std::str::from_utf8(line.trim_ascii()).unwrap_or_default();
        if self.pending == 0 {
            self.conn.execute_batch("BEGIN")?;
        }
        self.pending += 1;
        match parsed {
            Parsed::Http(h) => self.http(&h, text)?,
            Parsed::Session(s) => self.session(&s, text)?,
            Parsed::Alert(a) => self.alert(&a, text)?,
            Parsed::Other(o) => self.other(&o, text)?,
        }
        if self.pending >= self.batch_records {
            self.flush()?;
        }
        Ok(())
    }

    fn http(&mut self, h: &HttpRow, text: &str) -> Result<(), StoreError> {
        let endpoint_id = match &h.endpoint {
            Some(e) => self.endpoint_id(e, h.ts_us)?,
            None => None,
        };
        let client = h.client_ip.map(|ip| ip.to_string());
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO tx (ts_us, session_id, transaction_id, client_ip, endpoint_id,
                   method, target, status, latency_us, api_status, attacks, auth, sensor, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                h.ts_us,
                h.session_id,
                h.transaction_id,
                client,
                endpoint_id,
                h.method,
                h.target,
                h.status,
                h.latency_us,
                h.api.status,
                h.attacks.len(),
                h.auth,
                h.sensor,
                text
            ])?;
        if inserted == 0 {
            self.stats.duplicates += 1;
            return Ok(());
        }
        self.stats.http += 1;
        self.newest_us = self.newest_us.max(h.ts_us);
        let tx_id = self.conn.last_insert_rowid();
        for a in &h.attacks {
            self.conn
                .prepare_cached(
                    "INSERT INTO attacks (tx_id, session_id, ts_us, class, rule, location, evidence, outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    tx_id,
                    h.session_id,
                    h.ts_us,
                    a.class,
                    a.rule,
                    a.location,
                    a.evidence,
                    a.outcome
                ])?;
        }
        self.add_http(h, endpoint_id, client);
        Ok(())
    }

    /// Add a stored transaction to the batch's sums.
    fn add_http(&mut self, h: &HttpRow, endpoint_id: Option<i64>, client: Option<String>) {
        let attacks = i64::try_from(h.attacks.len()).unwrap_or(i64::MAX);
        let api = h.api.status.as_deref();
        let b = &mut self.batch;
        let m = b.minute(h.ts_us);
        m.requests += 1;
        m.attacks += attacks;
        if let Some(c) = &client {
            let ip = b.ips.entry(c.clone()).or_default();
            ip.requests += 1;
            ip.attacks += attacks;
            ip.last_us = ip.last_us.max(h.ts_us);
        }
        if let Some(id) = endpoint_id {
            let e = b.endpoints.entry(id).or_insert_with(|| EndpointDelta {
                first_us: h.ts_us,
                last_us: h.ts_us,
                ..EndpointDelta::default()
            });
            e.requests += 1;
            e.attacks += attacks;
            e.first_us = e.first_us.min(h.ts_us);
            e.last_us = e.last_us.max(h.ts_us);
            if e.host.is_none() {
                e.host.clone_from(&h.host);
            }
            if h.api.status.is_some() {
                e.api.clone_from(&h.api);
            }
            *e.status.entry(h.status.map_or(0, i64::from)).or_default() += 1;
            *e.auth.entry(h.auth.clone()).or_default() += 1;
        }
        let Some(sid) = &h.session_id else { return };
        let s = b.session(sid, h.ts_us);
        s.tx += 1;
        s.attacks += attacks;
        s.shadow += i64::from(api == Some("shadow"));
        s.zombie += i64::from(api == Some("zombie"));
        if s.client_ip.is_none() {
            s.client_ip.clone_from(&client);
        }
        if s.sensor.is_none() {
            s.sensor.clone_from(&h.sensor);
        }
        if let Some(ip) = h.client_ip {
            b.session_ips.insert((ip_key(ip), sid.clone()));
        }
        if let Some(id) = endpoint_id {
            *b.session_endpoints.entry((id, sid.clone())).or_default() += 1;
        }
    }

    /// The endpoint's id, adding it to the inventory when new; None past `ui.max_endpoints`
    /// (counted).
    fn endpoint_id(&mut self, endpoint: &str, ts_us: i64) -> Result<Option<i64>, StoreError> {
        if let Some(&id) = self.endpoint_ids.get(endpoint) {
            return Ok(Some(id));
        }
        if self.endpoint_ids.len() >= self.max_endpoints {
            self.stats.endpoints_dropped += 1;
            return Ok(None);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO endpoints (endpoint, first_us, last_us) VALUES (?1, ?2, ?2)
                 ON CONFLICT (endpoint) DO NOTHING",
            )?
            .execute(params![endpoint, ts_us])?;
        let id: i64 = self
            .conn
            .prepare_cached("SELECT id FROM endpoints WHERE endpoint = ?1")?
            .query_row([endpoint], |r| r.get(0))?;
        self.endpoint_ids.insert(endpoint.to_owned(), id);
        Ok(Some(id))
    }

    fn session(&mut self, s: &SessionRow, text: &str) -> Result<(), StoreError> {
        self.stats.sessions += 1;
        self.ensure_session(&s.session_id, s.first_us, s.last_us)?;
        // The record replaces the part's stored one when it is of a later phase, or of the
        // same phase and not older; read before the update below moves the rank.
        self.conn
            .prepare_cached(
                "INSERT INTO session_records (session_id, record) VALUES (?1, ?2)
                 ON CONFLICT (session_id) DO UPDATE SET record = excluded.record
                 WHERE (SELECT ?3 > summary_rank OR (?3 = summary_rank AND ?4 >= summary_ts_us)
                        FROM sessions WHERE session_id = ?1)",
            )?
            .execute(params![s.session_id, text, s.phase_rank, s.ts_us])?;
        self.conn
            .prepare_cached(
                "UPDATE sessions SET
                   first_us = min(first_us, ?2), last_us = max(last_us, ?3),
                   requests = iif(?4 > summary_rank OR (?4 = summary_rank AND ?5 >= summary_ts_us), ?6, requests),
                   user = iif(?4 > summary_rank OR (?4 = summary_rank AND ?5 >= summary_ts_us), coalesce(?7, user), user),
                   role = iif(?4 > summary_rank OR (?4 = summary_rank AND ?5 >= summary_ts_us), coalesce(?8, role), role),
                   summary_ts_us = iif(?4 > summary_rank OR (?4 = summary_rank AND ?5 >= summary_ts_us), ?5, summary_ts_us),
                   summary_rank = max(summary_rank, ?4),
                   key_source = coalesce(key_source, ?9),
                   sensor = coalesce(sensor, ?10),
                   client_ip = coalesce(client_ip, ?11),
                   attacks_rec = max(attacks_rec, ?12), alerts_rec = max(alerts_rec, ?13),
                   shadow_rec = max(shadow_rec, ?14), zombie_rec = max(zombie_rec, ?15)
                 WHERE session_id = ?1",
            )?
            .execute(params![
                s.session_id,
                s.first_us,
                s.last_us,
                s.phase_rank,
                s.ts_us,
                s.requests,
                s.user,
                s.role,
                s.key_source,
                s.sensor,
                s.client_ips.first().map(|ip| ip.to_string()),
                s.attacks,
                s.alerts,
                s.shadow,
                s.zombie
            ])?;
        for ip in &s.client_ips {
            self.batch
                .session_ips
                .insert((ip_key(*ip), s.session_id.clone()));
        }
        Ok(())
    }

    /// Create the session's row when it has none, counting it in its first minute.
    fn ensure_session(&mut self, id: &str, first_us: i64, last_us: i64) -> Result<(), StoreError> {
        let created = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO sessions (session_id, first_us, last_us) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, first_us, last_us])?;
        if created > 0 {
            self.batch.minute(first_us).sessions += 1;
            self.stats.sessions_created += 1;
        }
        Ok(())
    }

    fn alert(&mut self, a: &AlertRow, text: &str) -> Result<(), StoreError> {
        let ids = serde_json::to_string(&a.transaction_ids).unwrap_or_else(|_| "[]".into());
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO alerts (ts_us, first_us, kind, session_id, client_ip, user,
                   endpoint, transaction_ids, sensor, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                a.ts_us,
                a.first_us,
                a.kind,
                a.session_id,
                a.client_ip.map(|ip| ip.to_string()),
                a.user,
                a.endpoint,
                ids,
                a.sensor,
                text
            ])?;
        if inserted == 0 {
            self.stats.duplicates += 1;
            return Ok(());
        }
        self.stats.alerts += 1;
        self.batch.minute(a.ts_us).alerts += 1;
        if let Some(sid) = &a.session_id {
            let s = self.batch.session(sid, a.first_us);
            s.alerts += 1;
            if s.client_ip.is_none() {
                s.client_ip = a.client_ip.map(|ip| ip.to_string());
            }
            if let Some(ip) = a.client_ip {
                self.batch.session_ips.insert((ip_key(ip), sid.clone()));
            }
        }
        Ok(())
    }

    fn other(&mut self, o: &OtherRow, text: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO other_records (type, ts_us, session_id, record) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![o.kind, o.ts_us, o.session_id, text])?;
        self.stats.other += 1;
        Ok(())
    }

    /// Write the batch's sums and commit; then run retention when it is due. A no-op with
    /// nothing pending.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending == 0 {
            if self.stats != self.saved {
                // Skipped lines only: their counts still reach the store.
                self.conn.execute_batch("BEGIN")?;
                self.save_counters()?;
                self.conn.execute_batch("COMMIT")?;
            }
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.write_sessions(&batch)?;
        self.write_endpoints(&batch)?;
        self.write_overview(batch)?;
        self.save_counters()?;
        self.conn.execute_batch("COMMIT")?;
        self.since_retention += self.pending as u64;
        self.pending = 0;
        if self.since_retention >= self.retention.check_every_records {
            self.run_retention()?;
        }
        Ok(())
    }

    /// Run retention now (also at the end of ingest).
    pub fn run_retention(&mut self) -> Result<(), StoreError> {
        self.since_retention = 0;
        let deleted = retention::run(&mut self.conn, &self.retention, self.newest_us)?;
        self.stats.retention.add(&deleted);
        // The planner's statistics follow the store's growth (cheap: sampled, see
        // WRITER_PRAGMAS); without them it can pick the wrong index for the lists.
        self.conn.execute_batch("PRAGMA optimize;")?;
        Ok(())
    }

    fn write_sessions(&mut self, b: &Batch) -> Result<(), StoreError> {
        for (id, d) in &b.sessions {
            self.ensure_session(id, d.first_us, d.last_us)?;
            self.conn
                .prepare_cached(
                    "UPDATE sessions SET first_us = min(first_us, ?2), last_us = max(last_us, ?3),
                       tx_count = tx_count + ?4, attacks_tx = attacks_tx + ?5, alerts_n = alerts_n + ?6,
                       shadow_tx = shadow_tx + ?7, zombie_tx = zombie_tx + ?8,
                       client_ip = coalesce(client_ip, ?9), sensor = coalesce(sensor, ?10)
                     WHERE session_id = ?1",
                )?
                .execute(params![
                    id, d.first_us, d.last_us, d.tx, d.attacks, d.alerts, d.shadow, d.zombie,
                    d.client_ip, d.sensor
                ])?;
        }
        let mut st = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO session_ips (ip, session_id) VALUES (?1, ?2)")?;
        for (ip, id) in &b.session_ips {
            st.execute(params![&ip[..], id])?;
        }
        let mut st = self.conn.prepare_cached(
            "INSERT INTO session_endpoints (endpoint_id, session_id, count) VALUES (?1, ?2, ?3)
             ON CONFLICT (endpoint_id, session_id) DO UPDATE SET count = count + excluded.count",
        )?;
        for ((e, id), n) in &b.session_endpoints {
            st.execute(params![e, id, n])?;
        }
        Ok(())
    }

    fn write_endpoints(&mut self, b: &Batch) -> Result<(), StoreError> {
        for (id, d) in &b.endpoints {
            self.conn
                .prepare_cached(
                    "UPDATE endpoints SET requests = requests + ?2, attacks = attacks + ?3,
                       first_us = min(coalesce(first_us, ?4), ?4), last_us = max(coalesce(last_us, ?5), ?5),
                       host = coalesce(host, ?6), api_status = coalesce(?7, api_status),
                       spec = coalesce(?8, spec), operation_id = coalesce(?9, operation_id),
                       template = coalesce(?10, template)
                     WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    d.requests,
                    d.attacks,
                    d.first_us,
                    d.last_us,
                    d.host,
                    d.api.status,
                    d.api.spec,
                    d.api.operation_id,
                    d.api.template
                ])?;
            for (status, n) in &d.status {
                self.conn
                    .prepare_cached(
                        "INSERT INTO endpoint_status (endpoint_id, status, count) VALUES (?1, ?2, ?3)
                         ON CONFLICT DO UPDATE SET count = count + excluded.count",
                    )?
                    .execute(params![id, status, n])?;
            }
            for (scheme, n) in &d.auth {
                self.conn
                    .prepare_cached(
                        "INSERT INTO endpoint_auth (endpoint_id, scheme, count) VALUES (?1, ?2, ?3)
                         ON CONFLICT DO UPDATE SET count = count + excluded.count",
                    )?
                    .execute(params![id, scheme, n])?;
            }
        }
        Ok(())
    }

    fn write_overview(&mut self, b: Batch) -> Result<(), StoreError> {
        let mut st = self.conn.prepare_cached(
            "INSERT INTO client_ips (ip, requests, attacks, last_us) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (ip) DO UPDATE SET requests = requests + excluded.requests,
               attacks = attacks + excluded.attacks, last_us = max(last_us, excluded.last_us)",
        )?;
        for (ip, d) in &b.ips {
            st.execute(params![ip, d.requests, d.attacks, d.last_us])?;
        }
        // Sessions created while the batch's sums were written count here too.
        let mut minutes = b.minutes;
        for (m, d) in std::mem::take(&mut self.batch.minutes) {
            minutes.entry(m).or_default().sessions += d.sessions;
        }
        let mut st = self.conn.prepare_cached(
            "INSERT INTO minutes (minute, requests, sessions, attacks, alerts) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (minute) DO UPDATE SET requests = requests + excluded.requests,
               sessions = sessions + excluded.sessions, attacks = attacks + excluded.attacks,
               alerts = alerts + excluded.alerts",
        )?;
        for (m, d) in &minutes {
            st.execute(params![m, d.requests, d.sessions, d.attacks, d.alerts])?;
        }
        Ok(())
    }

    /// Add what changed since the last batch to the store's `counters`.
    fn save_counters(&mut self) -> Result<(), StoreError> {
        let (now, was) = (&self.stats, &self.saved);
        for (name, a, b) in [
            ("records_http", now.http, was.http),
            ("records_session", now.sessions, was.sessions),
            ("records_alert", now.alerts, was.alerts),
            ("records_other", now.other, was.other),
            ("records_invalid", now.invalid, was.invalid),
            ("records_duplicate", now.duplicates, was.duplicates),
            (
                "endpoints_dropped",
                now.endpoints_dropped,
                was.endpoints_dropped,
            ),
            (
                "sessions_created",
                now.sessions_created,
                was.sessions_created,
            ),
        ] {
            bump(&self.conn, name, i64::try_from(a - b).unwrap_or(i64::MAX))?;
        }
        self.saved = self.stats.clone();
        Ok(())
    }
}
