//! Queries behind the views. Every list is sorted and paged here, in SQL, on indexed columns;
//! the views only render what comes back.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use crate::filter::{glob, ip_from_key, ApiUse, SessionFilter, SortKey};

use super::codec::{CodecError, Unpacker};
use super::notes::{Note, Tag};
use super::StoreError;

/// Microseconds per minute (the overview's bucket).
const MINUTE_US: i64 = 60_000_000;
/// Client addresses listed per session in the sessions list (the rest are counted).
const LIST_IPS: usize = 3;
/// Entries of each of the overview's top lists.
const TOP_ENTRIES: usize = 10;
/// Past this many requests to the endpoints an endpoint filter matches, the filter is checked
/// session by session on the newest-first list instead of collected first (`session_where`):
/// collecting 20,000 sessions costs about what checking a page's worth does.
const BROAD_ENDPOINT_REQUESTS: i64 = 20_000;

/// One row of the sessions list.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SessionRowView {
    /// The part's id.
    pub session_id: String,
    /// First seen, microseconds.
    pub first_us: i64,
    /// Last seen, microseconds.
    pub last_us: i64,
    /// The user, when the session records name one.
    pub user: Option<String>,
    /// The session key's source.
    pub key_source: Option<String>,
    /// Client addresses (at most a few; `ip_count` says how many).
    pub ips: Vec<String>,
    /// Distinct client addresses.
    pub ip_count: i64,
    /// Requests: the session record's count, or the transactions stored when larger.
    pub requests: i64,
    /// Transactions in the store.
    pub tx_count: i64,
    /// Attacks by class.
    pub attacks: Vec<(String, i64)>,
    /// Alerts by kind.
    pub alerts: Vec<(String, i64)>,
    /// Calls to shadow endpoints.
    pub shadow: i64,
    /// Calls to zombie endpoints.
    pub zombie: i64,
    /// The sensor.
    pub sensor: Option<String>,
    /// Analysts' tags.
    pub tags: Vec<String>,
    /// Analysts' notes.
    pub notes: i64,
}

/// A page of the sessions list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionPage {
    /// The rows.
    pub rows: Vec<SessionRowView>,
    /// Whether a next page has rows.
    pub has_next: bool,
}

/// An attack on a transaction.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AttackView {
    /// Class.
    pub class: String,
    /// Rule id.
    pub rule: String,
    /// Where.
    pub location: String,
    /// The matched fragment.
    pub evidence: String,
    /// What the server did.
    pub outcome: String,
}

/// One transaction of a session.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TxView {
    /// Row id (the page's anchor and the record's URL).
    pub id: i64,
    /// Time, microseconds.
    pub ts_us: i64,
    /// `<conn>-<depth>`.
    pub transaction_id: String,
    /// Client address.
    pub client_ip: Option<String>,
    /// Method.
    pub method: Option<String>,
    /// The request target as sent (path and query).
    pub target: Option<String>,
    /// Endpoint template.
    pub endpoint: Option<String>,
    /// Final status.
    pub status: Option<i64>,
    /// Latency.
    pub latency_us: Option<i64>,
    /// API status.
    pub api_status: Option<String>,
    /// Attacks found.
    pub attacks: Vec<AttackView>,
    /// The full record, when asked for (exports).
    pub record: Option<String>,
}

/// An alert.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AlertView {
    /// Its row id.
    pub id: i64,
    /// Raised at.
    pub ts_us: i64,
    /// First evidence at.
    pub first_us: i64,
    /// Kind.
    pub kind: String,
    /// Session.
    pub session_id: Option<String>,
    /// Client.
    pub client_ip: Option<String>,
    /// User.
    pub user: Option<String>,
    /// Endpoint.
    pub endpoint: Option<String>,
    /// Evidence transactions.
    pub transaction_ids: Vec<String>,
    /// The record's `evidence` object.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// The whole record.
    pub record: String,
}

/// Everything the session page shows.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionDetail {
    /// The list's row for it.
    pub row: SessionRowView,
    /// Its role parameter.
    pub role: Option<String>,
    /// The latest session record, parsed.
    pub summary: Option<serde_json::Value>,
    /// Its transactions (this page of them), in time order.
    pub tx: Vec<TxView>,
    /// Index of the first of them.
    pub tx_offset: usize,
    /// Its alerts, in time order.
    pub alerts: Vec<AlertView>,
    /// Other records of it (`websocket`, `tls`), as `(type, time, record)`.
    pub other: Vec<(String, i64, String)>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Notes, oldest first.
    pub notes: Vec<Note>,
}

/// One endpoint of the inventory.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EndpointView {
    /// `METHOD /template`.
    pub endpoint: String,
    /// First host seen.
    pub host: Option<String>,
    /// Requests stored.
    pub requests: i64,
    /// Attacks on it.
    pub attacks: i64,
    /// First seen.
    pub first_us: Option<i64>,
    /// Last seen.
    pub last_us: Option<i64>,
    /// API status.
    pub api_status: Option<String>,
    /// Spec file.
    pub spec: Option<String>,
    /// Operation id.
    pub operation_id: Option<String>,
    /// Status code (0: none) → count.
    pub status: Vec<(i64, i64)>,
    /// Auth scheme → count.
    pub auth: Vec<(String, i64)>,
    /// Sessions that called it.
    pub sessions: i64,
}

/// One minute of the overview's charts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinuteView {
    /// Minutes since the epoch.
    pub minute: i64,
    /// Requests.
    pub requests: i64,
    /// Sessions started.
    pub sessions: i64,
    /// Attacks.
    pub attacks: i64,
    /// Alerts.
    pub alerts: i64,
}

/// An entry of a top list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopEntry {
    /// The endpoint, address or user.
    pub name: String,
    /// Requests.
    pub requests: i64,
    /// Attacks.
    pub attacks: i64,
}

/// The overview page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overview {
    /// The last minutes with data, oldest first, gaps filled with zeros.
    pub minutes: Vec<MinuteView>,
    /// Top endpoints by requests.
    pub endpoints: Vec<TopEntry>,
    /// Top client addresses.
    pub ips: Vec<TopEntry>,
    /// Top users.
    pub users: Vec<TopEntry>,
    /// Alerts by kind.
    pub alert_kinds: Vec<(String, i64)>,
    /// Attacks by class.
    pub attack_classes: Vec<(String, i64)>,
    /// Store totals: transactions, sessions, alerts.
    pub totals: Vec<(&'static str, i64)>,
    /// The store's counters (records ingested, skipped, deleted by retention).
    pub counters: Vec<(String, i64)>,
}

/// A read-only connection to the store.
pub struct Reader {
    conn: Connection,
    /// Unpacks stored record text (codec.rs).
    unpacker: RefCell<Unpacker>,
}

/// The list's columns, shared by every query that returns session rows.
const SESSION_COLUMNS: &str = "s.session_id, s.first_us, s.last_us, s.user, s.key_source,
  max(s.tx_count, ifnull(s.requests, 0)), s.tx_count, s.shadow, s.zombie, s.sensor, s.role";

impl Reader {
    pub(super) fn new(conn: Connection) -> Self {
        Reader {
            conn,
            unpacker: RefCell::new(Unpacker::default()),
        }
    }

    /// A stored record's text.
    fn text(&self, frame: &[u8]) -> Result<String, StoreError> {
        let dictionary = |id: u32| -> Result<Option<Vec<u8>>, CodecError> {
            self.conn
                .prepare_cached("SELECT bytes FROM dictionaries WHERE id = ?1")
                .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
                .map_err(|e| CodecError::Zstd(std::io::Error::other(e)))
        };
        Ok(self.unpacker.borrow_mut().unpack(frame, dictionary)?)
    }

    /// A page of the sessions list.
    pub fn sessions(&self, f: &SessionFilter, rows: usize) -> Result<SessionPage, StoreError> {
        let broad = match &f.endpoint {
            Some(e) => self.endpoint_requests(e)? > BROAD_ENDPOINT_REQUESTS,
            None => false,
        };
        self.sessions_planned(f, rows, broad)
    }

    /// [`Reader::sessions`] with the endpoint filter's form chosen (both give the same rows).
    pub(super) fn sessions_planned(
        &self,
        f: &SessionFilter,
        rows: usize,
        broad: bool,
    ) -> Result<SessionPage, StoreError> {
        let (mut sql, args) = session_where(f, broad);
        let column = match f.sort {
            SortKey::Last => "s.last_us",
            SortKey::First => "s.first_us",
            SortKey::Requests => "max(s.tx_count, ifnull(s.requests, 0))",
            SortKey::Attacks => "s.attacks",
            SortKey::Alerts => "s.alerts",
        };
        let dir = if f.ascending { "ASC" } else { "DESC" };
        sql.push_str(&format!(" ORDER BY {column} {dir}, s.session_id {dir}"));
        let limit = rows + 1;
        let offset = (f.page as usize).saturating_mul(rows);
        sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
        let mut st = self.conn.prepare_cached(&sql)?;
        let mut out: Vec<SessionRowView> = st
            .query_map(params_from_iter(args), session_row)?
            .collect::<Result<_, _>>()?;
        let has_next = out.len() > rows;
        out.truncate(rows);
        for row in &mut out {
            self.decorate(row)?;
        }
        Ok(SessionPage {
            rows: out,
            has_next,
        })
    }

    /// Requests to the endpoints a pattern matches (how selective the endpoint filter is).
    fn endpoint_requests(&self, pattern: &str) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT ifnull(sum(requests), 0) FROM endpoints WHERE endpoint GLOB ?1",
            )?
            .query_row([glob(pattern)], |r| r.get(0))?)
    }

    /// Add to a row what lives in other tables: addresses, attack and alert badges, tags.
    fn decorate(&self, row: &mut SessionRowView) -> Result<(), StoreError> {
        let id = row.session_id.as_str();
        let mut st = self
            .conn
            .prepare_cached("SELECT ip FROM session_ips WHERE session_id = ?1 LIMIT ?2")?;
        row.ips = st
            .query_map(params![id, LIST_IPS], |r| r.get::<_, Vec<u8>>(0))?
            .filter_map(|k| k.ok()?.try_into().ok())
            .map(|k: [u8; 16]| ip_from_key(k).to_string())
            .collect();
        row.ip_count = self
            .conn
            .prepare_cached("SELECT count(*) FROM session_ips WHERE session_id = ?1")?
            .query_row([id], |r| r.get(0))?;
        row.attacks = self.counts(
            "SELECT class, count(*) FROM attacks WHERE session_id = ?1 GROUP BY class ORDER BY 2 DESC, 1",
            id,
        )?;
        row.alerts = self.counts(
            "SELECT kind, count(*) FROM alerts WHERE session_id = ?1 GROUP BY kind ORDER BY 2 DESC, 1",
            id,
        )?;
        row.tags = self
            .conn
            .prepare_cached("SELECT tag FROM tags WHERE session_id = ?1 ORDER BY tag")?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        row.notes = self
            .conn
            .prepare_cached("SELECT count(*) FROM notes WHERE session_id = ?1")?
            .query_row([id], |r| r.get(0))?;
        Ok(())
    }

    /// `(name, count)` pairs of a grouped query with one parameter.
    fn counts(&self, sql: &str, arg: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map([arg], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The session page: the session, one page of its transactions (with their records when
    /// `records`), its alerts, other records, tags and notes. None when unknown.
    pub fn session(
        &self,
        id: &str,
        tx_offset: usize,
        tx_rows: usize,
        records: bool,
    ) -> Result<Option<SessionDetail>, StoreError> {
        let found = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.session_id = ?1"
            ))?
            .query_row([id], |r| {
                let row = session_row(r)?;
                let role: Option<String> = r.get(10)?;
                Ok((row, role))
            })
            .optional()?;
        let Some((mut row, role)) = found else {
            return Ok(None);
        };
        let summary: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT record FROM session_records WHERE session_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let summary = summary.map(|f| self.text(&f)).transpose()?;
        self.decorate(&mut row)?;
        Ok(Some(SessionDetail {
            tx: self.transactions(id, tx_offset, tx_rows, records)?,
            tx_offset,
            alerts: self.alerts_of(id)?,
            other: self.other_of(id)?,
            tags: self.tags_of(id)?,
            notes: self.notes_of(id)?,
            summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
            role,
            row,
        }))
    }

    fn transactions(
        &self,
        id: &str,
        offset: usize,
        rows: usize,
        records: bool,
    ) -> Result<Vec<TxView>, StoreError> {
        let mut attacks: HashMap<i64, Vec<AttackView>> = HashMap::new();
        let mut st = self.conn.prepare_cached(
            "SELECT tx_id, class, rule, location, evidence, outcome FROM attacks WHERE session_id = ?1",
        )?;
        for a in st.query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                AttackView {
                    class: r.get(1)?,
                    rule: r.get(2)?,
                    location: r.get(3)?,
                    evidence: r.get(4)?,
                    outcome: r.get(5)?,
                },
            ))
        })? {
            let (tx, a) = a?;
            attacks.entry(tx).or_default().push(a);
        }
        let sql = format!(
            "SELECT t.id, t.ts_us, t.transaction_id, t.client_ip, t.method, t.target, e.endpoint,
               t.status, t.latency_us, t.api_status, {} FROM tx t LEFT JOIN endpoints e ON e.id = t.endpoint_id
             WHERE t.session_id = ?1 ORDER BY t.ts_us, t.transaction_id LIMIT ?2 OFFSET ?3",
            if records { "t.record" } else { "NULL" }
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![id, rows, offset], |r| {
            let frame: Option<Vec<u8>> = r.get(10)?;
            let tx = TxView {
                id: r.get(0)?,
                ts_us: r.get(1)?,
                transaction_id: r.get(2)?,
                client_ip: r.get(3)?,
                method: r.get(4)?,
                target: r.get(5)?,
                endpoint: r.get(6)?,
                status: r.get(7)?,
                latency_us: r.get(8)?,
                api_status: r.get(9)?,
                attacks: Vec::new(),
                record: None,
            };
            Ok((tx, frame))
        })?;
        let rows: Vec<(TxView, Option<Vec<u8>>)> = rows.collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (mut t, frame) in rows {
            t.attacks = attacks.remove(&t.id).unwrap_or_default();
            t.record = frame.map(|f| self.text(&f)).transpose()?;
            out.push(t);
        }
        Ok(out)
    }

    /// Transactions stored for a session, and the time of each (the timeline), in order.
    pub fn timeline(&self, id: &str) -> Result<Vec<TimelinePoint>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, ts_us, status, attacks, transaction_id FROM tx WHERE session_id = ?1 ORDER BY ts_us, transaction_id",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(TimelinePoint {
                id: r.get(0)?,
                ts_us: r.get(1)?,
                status: r.get(2)?,
                attacks: r.get(3)?,
                transaction_id: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One transaction's record, when it belongs to the session.
    pub fn tx_record(&self, session_id: &str, tx: i64) -> Result<Option<String>, StoreError> {
        let frame: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT record FROM tx WHERE id = ?1 AND session_id = ?2")?
            .query_row(params![tx, session_id], |r| r.get(0))
            .optional()?;
        frame.map(|f| self.text(&f)).transpose()
    }

    fn alerts_of(&self, id: &str) -> Result<Vec<AlertView>, StoreError> {
        self.alert_rows(
            &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE session_id = ?1 ORDER BY ts_us, id"),
            vec![SqlValue::Text(id.to_owned())],
        )
    }

    fn other_of(&self, id: &str) -> Result<Vec<(String, i64, String)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT type, ts_us, record FROM other_records WHERE session_id = ?1 ORDER BY ts_us, id",
        )?;
        let rows = st.query_map([id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, Vec<u8>>(2)?))
        })?;
        let rows: Vec<(String, i64, Vec<u8>)> = rows.collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(kind, ts, frame)| Ok((kind, ts, self.text(&frame)?)))
            .collect()
    }

    fn tags_of(&self, id: &str) -> Result<Vec<Tag>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT tag, author, created_us FROM tags WHERE session_id = ?1 ORDER BY tag",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(Tag {
                tag: r.get(0)?,
                author: r.get(1)?,
                created_us: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn notes_of(&self, id: &str) -> Result<Vec<Note>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, author, created_us, text FROM notes WHERE session_id = ?1 ORDER BY created_us, id",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(Note {
                id: r.get(0)?,
                author: r.get(1)?,
                created_us: r.get(2)?,
                text: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A page of alerts, newest first, of one kind or all; and one more row when there is a
    /// next page.
    pub fn alerts(
        &self,
        kind: Option<&str>,
        page: usize,
        rows: usize,
    ) -> Result<Vec<AlertView>, StoreError> {
        let (filter, args) = match kind {
            Some(k) => ("WHERE kind = ?1", vec![SqlValue::Text(k.to_owned())]),
            None => ("", vec![]),
        };
        self.alert_rows(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM alerts {filter} ORDER BY ts_us DESC, id DESC LIMIT {} OFFSET {}",
                rows + 1,
                page.saturating_mul(rows)
            ),
            args,
        )
    }

    /// One alert.
    pub fn alert(&self, id: i64) -> Result<Option<AlertView>, StoreError> {
        Ok(self
            .alert_rows(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"),
                vec![SqlValue::Integer(id)],
            )?
            .pop())
    }

    /// Alerts by kind, most first.
    pub fn alert_kinds(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT kind, count(*) FROM alerts GROUP BY kind ORDER BY 2 DESC, 1")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn alert_rows(&self, sql: &str, args: Vec<SqlValue>) -> Result<Vec<AlertView>, StoreError> {
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map(params_from_iter(args), |r| {
            let ids: String = r.get(8)?;
            let frame: Vec<u8> = r.get(9)?;
            let alert = AlertView {
                id: r.get(0)?,
                ts_us: r.get(1)?,
                first_us: r.get(2)?,
                kind: r.get(3)?,
                session_id: r.get(4)?,
                client_ip: r.get(5)?,
                user: r.get(6)?,
                endpoint: r.get(7)?,
                transaction_ids: serde_json::from_str(&ids).unwrap_or_default(),
                evidence: serde_json::Map::new(),
                record: String::new(),
            };
            Ok((alert, frame))
        })?;
        let rows: Vec<(AlertView, Vec<u8>)> = rows.collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (mut a, frame) in rows {
            a.record = self.text(&frame)?;
            a.evidence = serde_json::from_str::<serde_json::Value>(&a.record)
                .ok()
                .and_then(|v| v.get("evidence").and_then(|e| e.as_object()).cloned())
                .unwrap_or_default();
            out.push(a);
        }
        Ok(out)
    }

    /// The inventory: endpoints matching `pattern` (a GLOB) and `api_status`, most requested
    /// first; one more row when there is a next page.
    pub fn endpoints(
        &self,
        pattern: Option<&str>,
        api_status: Option<&str>,
        page: usize,
        rows: usize,
    ) -> Result<Vec<EndpointView>, StoreError> {
        let mut sql = String::from(
            "SELECT id, endpoint, host, requests, attacks, first_us, last_us, api_status, spec, operation_id
             FROM endpoints WHERE requests > 0",
        );
        let mut args = Vec::new();
        if let Some(p) = pattern {
            args.push(SqlValue::Text(glob(p)));
            sql.push_str(&format!(" AND endpoint GLOB ?{}", args.len()));
        }
        if let Some(s) = api_status {
            args.push(SqlValue::Text(s.to_owned()));
            sql.push_str(&format!(" AND api_status = ?{}", args.len()));
        }
        sql.push_str(&format!(
            " ORDER BY requests DESC, endpoint LIMIT {} OFFSET {}",
            rows + 1,
            page.saturating_mul(rows)
        ));
        let mut st = self.conn.prepare_cached(&sql)?;
        let found: Vec<(i64, EndpointView)> = st
            .query_map(params_from_iter(args), |r| {
                Ok((
                    r.get(0)?,
                    EndpointView {
                        endpoint: r.get(1)?,
                        host: r.get(2)?,
                        requests: r.get(3)?,
                        attacks: r.get(4)?,
                        first_us: r.get(5)?,
                        last_us: r.get(6)?,
                        api_status: r.get(7)?,
                        spec: r.get(8)?,
                        operation_id: r.get(9)?,
                        status: Vec::new(),
                        auth: Vec::new(),
                        sessions: 0,
                    },
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(found.len());
        for (id, mut e) in found {
            let mut st = self.conn.prepare_cached(
                "SELECT status, count FROM endpoint_status WHERE endpoint_id = ?1 ORDER BY status",
            )?;
            e.status = st
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut st = self.conn.prepare_cached(
                "SELECT scheme, count FROM endpoint_auth WHERE endpoint_id = ?1 ORDER BY count DESC, scheme",
            )?;
            e.auth = st
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            e.sessions = self
                .conn
                .prepare_cached("SELECT count(*) FROM session_endpoints WHERE endpoint_id = ?1")?
                .query_row([id], |r| r.get(0))?;
            out.push(e);
        }
        Ok(out)
    }

    /// The overview: the last `minutes` minutes with data and the top lists.
    pub fn overview(&self, minutes: usize) -> Result<Overview, StoreError> {
        let last: Option<i64> =
            self.conn
                .query_row("SELECT max(minute) FROM minutes", [], |r| r.get(0))?;
        let mut chart = Vec::new();
        if let Some(last) = last {
            let first = last - i64::try_from(minutes).unwrap_or(60) + 1;
            let mut st = self.conn.prepare_cached(
                "SELECT minute, requests, sessions, attacks, alerts FROM minutes WHERE minute >= ?1 ORDER BY minute",
            )?;
            let got: HashMap<i64, MinuteView> = st
                .query_map([first], |r| {
                    Ok(MinuteView {
                        minute: r.get(0)?,
                        requests: r.get(1)?,
                        sessions: r.get(2)?,
                        attacks: r.get(3)?,
                        alerts: r.get(4)?,
                    })
                })?
                .map(|m| m.map(|m| (m.minute, m)))
                .collect::<Result<_, _>>()?;
            chart = (first..=last)
                .map(|m| {
                    got.get(&m).copied().unwrap_or(MinuteView {
                        minute: m,
                        ..MinuteView::default()
                    })
                })
                .collect();
        }
        let counters = self.counters()?;
        let count = |name: &str| {
            counters
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, v)| *v)
        };
        let endpoints: i64 = self.conn.query_row(
            "SELECT count(*) FROM endpoints WHERE requests > 0",
            [],
            |r| r.get(0),
        )?;
        Ok(Overview {
            minutes: chart,
            endpoints: self.top(
                "SELECT endpoint, requests, attacks FROM endpoints ORDER BY requests DESC LIMIT ?1",
            )?,
            ips: self.top(
                "SELECT ip, requests, attacks FROM client_ips ORDER BY requests DESC LIMIT ?1",
            )?,
            users: self.top_users(last.map_or(i64::MIN, |m| {
                (m + 1 - i64::try_from(minutes).unwrap_or(60)) * MINUTE_US
            }))?,
            alert_kinds: self.alert_kinds()?,
            attack_classes: {
                let mut st = self.conn.prepare_cached(
                    "SELECT class, count(*) FROM attacks GROUP BY class ORDER BY 2 DESC, 1",
                )?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            },
            // Stored = ingested - deleted: counters, not counts over a million rows.
            totals: vec![
                (
                    "transactions",
                    count("records_http")
                        - count("retention_tx_by_age")
                        - count("retention_tx_by_size"),
                ),
                (
                    "sessions",
                    count("sessions_created") - count("retention_sessions"),
                ),
                ("alerts", count("records_alert") - count("retention_alerts")),
                ("endpoints", endpoints),
            ],
            counters,
        })
    }

    /// Users of the sessions active since `since_us`, by requests.
    fn top_users(&self, since_us: i64) -> Result<Vec<TopEntry>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT user, sum(max(tx_count, ifnull(requests, 0))), sum(attacks_tx) FROM sessions
             WHERE last_us >= ?1 AND user IS NOT NULL GROUP BY user ORDER BY 2 DESC, 1 LIMIT ?2",
        )?;
        let rows = st.query_map(params![since_us, TOP_ENTRIES], |r| {
            Ok(TopEntry {
                name: r.get(0)?,
                requests: r.get(1)?,
                attacks: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn top(&self, sql: &str) -> Result<Vec<TopEntry>, StoreError> {
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map([TOP_ENTRIES], |r| {
            Ok(TopEntry {
                name: r.get(0)?,
                requests: r.get(1)?,
                attacks: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The store's counters, by name.
    pub fn counters(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name, value FROM counters ORDER BY name")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sensors seen (the filter form's choices).
    pub fn sensors(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT sensor FROM sessions WHERE sensor IS NOT NULL ORDER BY sensor LIMIT 100",
        )?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The sessions list's query up to its `WHERE` clause, and the clause's parameters.
///
/// A narrow filter (an address, a rare endpoint, a tag) is a set of sessions the query starts
/// from (`IN`); a broad one (an endpoint most sessions call) is checked on each session while
/// the list is read newest first (`EXISTS`), which stops after a page. Attack classes and alert
/// kinds are checked that way within the partial indexes of sessions with attacks or alerts.
fn session_where(f: &SessionFilter, broad_endpoint: bool) -> (String, Vec<SqlValue>) {
    let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE 1");
    let mut args: Vec<SqlValue> = Vec::new();
    // `?` in a clause is numbered as the parameter it adds.
    let mut arg = |sql: &mut String, clause: &str, v: SqlValue| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some((_, r)) = &f.ip {
        let within = " AND s.session_id IN (SELECT session_id FROM session_ips WHERE ip BETWEEN ?";
        arg(&mut sql, within, SqlValue::Blob(r.lo.to_vec()));
        arg(&mut sql, " AND ?)", SqlValue::Blob(r.hi.to_vec()));
    }
    if let Some(u) = &f.user {
        arg(&mut sql, " AND s.user GLOB ?", SqlValue::Text(glob(u)));
    }
    if let Some(e) = &f.endpoint {
        let called = if broad_endpoint {
            " AND EXISTS (SELECT 1 FROM session_endpoints se WHERE se.session_id = s.session_id
               AND se.endpoint_id IN (SELECT id FROM endpoints WHERE endpoint GLOB ?))"
        } else {
            " AND s.session_id IN (SELECT session_id FROM session_endpoints WHERE endpoint_id IN
               (SELECT id FROM endpoints WHERE endpoint GLOB ?))"
        };
        arg(&mut sql, called, SqlValue::Text(glob(e)));
    }
    if let Some((_, t)) = f.from {
        arg(&mut sql, " AND s.last_us >= ?", SqlValue::Integer(t));
    }
    if let Some((_, t)) = f.to {
        arg(&mut sql, " AND s.first_us <= ?", SqlValue::Integer(t));
    }
    if f.has_attacks {
        sql.push_str(" AND s.attacks > 0");
    }
    if f.has_alerts {
        sql.push_str(" AND s.alerts > 0");
    }
    if let Some(k) = &f.alert_kind {
        let kind = " AND s.alerts > 0 AND EXISTS (SELECT 1 FROM alerts a
                     WHERE a.session_id = s.session_id AND a.kind = ?)";
        arg(&mut sql, kind, SqlValue::Text(k.clone()));
    }
    if let Some(c) = &f.attack_class {
        let class = " AND s.attacks > 0 AND EXISTS (SELECT 1 FROM attacks a
                      WHERE a.session_id = s.session_id AND a.class = ?)";
        arg(&mut sql, class, SqlValue::Text(c.clone()));
    }
    match f.api {
        Some(ApiUse::Shadow) => sql.push_str(" AND s.shadow > 0"),
        Some(ApiUse::Zombie) => sql.push_str(" AND s.zombie > 0"),
        Some(ApiUse::Any) => sql.push_str(" AND (s.shadow > 0 OR s.zombie > 0)"),
        None => {}
    }
    if let Some(s) = &f.sensor {
        arg(&mut sql, " AND s.sensor = ?", SqlValue::Text(s.clone()));
    }
    if let Some(t) = &f.tag {
        let tagged = " AND s.session_id IN (SELECT session_id FROM tags WHERE tag = ?)";
        arg(&mut sql, tagged, SqlValue::Text(t.to_lowercase()));
    }
    (sql, args)
}

/// A point of a session's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelinePoint {
    /// Row id (anchor).
    pub id: i64,
    /// Time.
    pub ts_us: i64,
    /// Status.
    pub status: Option<i64>,
    /// Attacks on it.
    pub attacks: i64,
    /// `<conn>-<depth>`.
    pub transaction_id: String,
}

/// The alert columns every alert query selects.
const ALERT_COLUMNS: &str =
    "id, ts_us, first_us, kind, session_id, client_ip, user, endpoint, transaction_ids, record";

/// A row of [`SESSION_COLUMNS`] (badges, addresses and tags come from `decorate`).
fn session_row(r: &Row<'_>) -> rusqlite::Result<SessionRowView> {
    Ok(SessionRowView {
        session_id: r.get(0)?,
        first_us: r.get(1)?,
        last_us: r.get(2)?,
        user: r.get(3)?,
        key_source: r.get(4)?,
        requests: r.get(5)?,
        tx_count: r.get(6)?,
        shadow: r.get(7)?,
        zombie: r.get(8)?,
        sensor: r.get(9)?,
        ips: Vec::new(),
        ip_count: 0,
        attacks: Vec::new(),
        alerts: Vec::new(),
        tags: Vec::new(),
        notes: 0,
    })
}
