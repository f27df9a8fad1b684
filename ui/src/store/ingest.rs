//! Ingest: records in, rows out, in batches of `ui.batch_records` per SQLite transaction.
//!
//! Each record costs one or two inserts (its row, its attacks); everything that sums over
//! records (a session's counts and addresses, the inventory, the per-minute counts) is added
//! up in memory over the batch and written once per key at commit. A batch touches a few
//! hundred sessions and endpoints however many records it holds.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};

use crate::config::{RetentionConfig, UiConfig};
use crate::filter::ip_key;
use crate::record::{self, AlertRow, HttpRow, OtherRow, Parsed, RecordError, SessionRow};

use super::codec::{Dictionary, Packer};
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

/// A line made ready for the writer on another thread: its record parsed, its text packed
/// (parsing and packing are most of ingest's work outside SQLite, and run beside the inserts).
pub struct Prepared {
    parsed: Result<Parsed, RecordError>,
    /// The record's frame (empty when it is not a record).
    frame: Vec<u8>,
    /// The dictionary the frame was packed with, when it was just trained.
    dictionary: Option<Dictionary>,
}

/// Makes lines ready for the [`Writer`]: one per thread that reads ([`super::Store::preparer`]).
pub struct Preparer {
    packer: Packer,
}

impl Preparer {
    pub(super) fn new(dictionary: Option<&[u8]>) -> Result<Preparer, StoreError> {
        Ok(Preparer {
            packer: Packer::new(dictionary)?,
        })
    }

    /// Parse a line and pack its text; None for a blank line. `sensor` names the sensor when
    /// the record does not (the Kafka header).
    pub fn prepare(
        &mut self,
        line: &[u8],
        sensor: Option<&str>,
    ) -> Result<Option<Prepared>, StoreError> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(None);
        }
        let parsed = record::parse(line, sensor);
        let (frame, dictionary) = match parsed {
            Ok(_) => self.packer.pack(line)?,
            Err(_) => (Vec::new(), None),
        };
        Ok(Some(Prepared {
            parsed,
            frame,
            dictionary,
        }))
    }
}

/// A session's counts over the batch, and its latest session record.
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
    summary: Option<SummaryDelta>,
}

/// What the batch's session records of a part say.
struct SummaryDelta {
    /// The latest record (the highest phase, then the newest), with its frame.
    latest: SessionRow,
    frame: Vec<u8>,
    /// The first key source any of them names.
    key_source: Option<String>,
    /// The largest counts any of them carries.
    attacks: i64,
    alerts: i64,
    shadow: i64,
    zombie: i64,
}

impl SummaryDelta {
    fn new(s: SessionRow, frame: Vec<u8>) -> Self {
        SummaryDelta {
            key_source: s.key_source.clone(),
            attacks: s.attacks,
            alerts: s.alerts,
            shadow: s.shadow,
            zombie: s.zombie,
            latest: s,
            frame,
        }
    }

    /// Add a later-read record of the same part.
    fn add(&mut self, s: SessionRow, frame: Vec<u8>) {
        if self.key_source.is_none() {
            self.key_source.clone_from(&s.key_source);
        }
        self.attacks = self.attacks.max(s.attacks);
        self.alerts = self.alerts.max(s.alerts);
        self.shadow = self.shadow.max(s.shadow);
        self.zombie = self.zombie.max(s.zombie);
        if (s.phase_rank, s.ts_us) >= (self.latest.phase_rank, self.latest.ts_us) {
            let mut s = s;
            // As in the store: a later record without a user keeps the one named before.
            s.user = s.user.or(self.latest.user.take());
            s.role = s.role.or(self.latest.role.take());
            self.latest = s;
            self.frame = frame;
        }
    }
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
    /// For [`Writer::push`] (lines not prepared by another thread).
    preparer: Preparer,
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
    pub(super) fn new(
        conn: Connection,
        preparer: Preparer,
        cfg: &UiConfig,
    ) -> Result<Writer, StoreError> {
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
            preparer,
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
        match self.preparer.prepare(line, sensor)? {
            Some(p) => self.push_prepared(p),
            None => Ok(()),
        }
    }

    /// Ingest a line made ready by a [`Preparer`] (on another thread).
    pub fn push_prepared(&mut self, line: Prepared) -> Result<(), StoreError> {
        let Prepared {
            parsed,
            frame,
            dictionary,
        } = line;
        let Ok(parsed) = parsed else {
            self.stats.invalid += 1;
            return Ok(());
        };
        if self.pending == 0 {
            self.conn.execute_batch("BEGIN")?;
        }
        self.pending += 1;
        if let Some(d) = dictionary {
            // In the transaction of the first record packed with it.
            self.conn
                .prepare_cached("INSERT OR IGNORE INTO dictionaries (id, bytes) VALUES (?1, ?2)")?
                .execute(params![d.id, d.bytes])?;
        }
        match parsed {
            Parsed::Http(h) => self.http(&h, &frame)?,
            Parsed::Session(s) => self.session(s, frame),
            Parsed::Alert(a) => self.alert(&a, &frame)?,
            Parsed::Other(o) => self.other(&o, &frame)?,
        }
        if self.pending >= self.batch_records {
            self.flush()?;
        }
        Ok(())
    }

    fn http(&mut self, h: &HttpRow, frame: &[u8]) -> Result<(), StoreError> {
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
                frame
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

    /// A session record joins the batch: applied with the part's transactions at commit.
    fn session(&mut self, s: SessionRow, frame: Vec<u8>) {
        self.stats.sessions += 1;
        let b = &mut self.batch;
        for ip in &s.client_ips {
            b.session_ips.insert((ip_key(*ip), s.session_id.clone()));
        }
        let d = b.session(&s.session_id, s.first_us);
        d.first_us = d.first_us.min(s.first_us);
        d.last_us = d.last_us.max(s.last_us);
        if d.client_ip.is_none() {
            d.client_ip = s.client_ips.first().map(|ip| ip.to_string());
        }
        if d.sensor.is_none() {
            d.sensor.clone_from(&s.sensor);
        }
        match &mut d.summary {
            Some(sum) => sum.add(s, frame),
            None => d.summary = Some(SummaryDelta::new(s, frame)),
        }
    }

    fn alert(&mut self, a: &AlertRow, frame: &[u8]) -> Result<(), StoreError> {
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
                frame
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

    fn other(&mut self, o: &OtherRow, frame: &[u8]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO other_records (type, ts_us, session_id, record) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![o.kind, o.ts_us, o.session_id, frame])?;
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

    /// Each table's rows in its primary key's order: consecutive inserts land on the same
    /// B-tree pages instead of all over them.
    fn write_sessions(&mut self, b: &Batch) -> Result<(), StoreError> {
        let mut sessions: Vec<_> = b.sessions.iter().collect();
        sessions.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (id, d) in sessions {
            self.write_session(id, d)?;
        }
        let mut ips: Vec<_> = b.session_ips.iter().collect();
        ips.sort_unstable();
        let mut st = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO session_ips (ip, session_id) VALUES (?1, ?2)")?;
        for (ip, id) in ips {
            st.execute(params![&ip[..], id])?;
        }
        let mut endpoints: Vec<_> = b.session_endpoints.iter().collect();
        endpoints.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut st = self.conn.prepare_cached(
            "INSERT INTO session_endpoints (endpoint_id, session_id, count) VALUES (?1, ?2, ?3)
             ON CONFLICT (endpoint_id, session_id) DO UPDATE SET count = count + excluded.count",
        )?;
        for ((e, id), n) in endpoints {
            st.execute(params![e, id, n])?;
        }
        Ok(())
    }

    /// One part's sums and latest session record: one insert when the part is new (each of
    /// the sessions table's indexes written once), else one update.
    fn write_session(&mut self, id: &str, d: &SessionDelta) -> Result<(), StoreError> {
        let stored: Option<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT summary_rank, summary_ts_us FROM sessions WHERE session_id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let sum = d.summary.as_ref();
        let latest = sum.map(|s| &s.latest);
        // A later phase's record replaces an earlier one, and a newer one of the same phase.
        let replaces = match (latest, stored) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(l), Some(old)) => (l.phase_rank, l.ts_us) >= old,
        };
        let rec = |f: fn(&SummaryDelta) -> i64| sum.map_or(0, f);
        let args = params![
            id,
            d.first_us,
            d.last_us,
            d.tx,
            d.attacks,
            d.alerts,
            d.shadow,
            d.zombie,
            d.client_ip,
            d.sensor,
            replaces,
            latest.map(|l| l.requests),
            latest.and_then(|l| l.user.as_deref()),
            latest.and_then(|l| l.role.as_deref()),
            latest.map_or(0, |l| l.phase_rank),
            latest.map_or(0, |l| l.ts_us),
            sum.and_then(|s| s.key_source.as_deref()),
            rec(|s| s.attacks),
            rec(|s| s.alerts),
            rec(|s| s.shadow),
            rec(|s| s.zombie),
        ];
        if stored.is_none() {
            self.conn
                .prepare_cached(
                    "INSERT INTO sessions (session_id, first_us, last_us, tx_count, attacks_tx,
                       alerts_n, shadow_tx, zombie_tx, client_ip, sensor, requests, user, role,
                       summary_rank, summary_ts_us, key_source, attacks_rec, alerts_rec,
                       shadow_rec, zombie_rec)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, iif(?11, ?12, NULL), ?13, ?14,
                       ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
                )?
                .execute(args)?;
            self.batch.minute(d.first_us).sessions += 1;
            self.stats.sessions_created += 1;
        } else {
            self.conn
                .prepare_cached(
                    "UPDATE sessions SET first_us = min(first_us, ?2), last_us = max(last_us, ?3),
                       tx_count = tx_count + ?4, attacks_tx = attacks_tx + ?5, alerts_n = alerts_n + ?6,
                       shadow_tx = shadow_tx + ?7, zombie_tx = zombie_tx + ?8,
                       client_ip = coalesce(client_ip, ?9), sensor = coalesce(sensor, ?10),
                       requests = iif(?11, ?12, requests),
                       user = iif(?11, coalesce(?13, user), user),
                       role = iif(?11, coalesce(?14, role), role),
                       summary_rank = max(summary_rank, ?15),
                       summary_ts_us = iif(?11, ?16, summary_ts_us),
                       key_source = coalesce(key_source, ?17),
                       attacks_rec = max(attacks_rec, ?18), alerts_rec = max(alerts_rec, ?19),
                       shadow_rec = max(shadow_rec, ?20), zombie_rec = max(zombie_rec, ?21)
                     WHERE session_id = ?1",
                )?
                .execute(args)?;
        }
        if let (true, Some(s)) = (replaces, sum) {
            self.conn
                .prepare_cached(
                    "INSERT INTO session_records (session_id, record) VALUES (?1, ?2)
                     ON CONFLICT (session_id) DO UPDATE SET record = excluded.record",
                )?
                .execute(params![id, s.frame])?;
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
