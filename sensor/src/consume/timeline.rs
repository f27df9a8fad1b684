//! The session timeline: a header per session (user, IPs, counts, duration), then one line
//! per request (time, method, endpoint, status, latency, anomalies). Pure: records in, text out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

use super::filter::{endpoint_of, group_key, is_alert};

/// Characters of a session id shown in headers and follow-mode prefixes.
const SHORT_ID_LEN: usize = 12;
/// Width of the method column.
const METHOD_WIDTH: usize = 7;
/// Width of the endpoint column.
const ENDPOINT_WIDTH: usize = 44;
/// Client IPs listed in a header; the rest are counted.
const MAX_HEADER_IPS: usize = 4;
/// Requests shown before the first and after the last evidence transaction of an alert.
const ALERT_CONTEXT_LINES: usize = 3;
/// Requests shown between an alert's first and last evidence at most; the middle is elided.
const MAX_ALERT_LINES: usize = 40;

/// ANSI styling, or none.
#[derive(Clone, Copy, Debug)]
pub struct Paint {
    /// Emit escape codes.
    pub on: bool,
}

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn cyan(self, s: &str) -> String {
        self.wrap("36", s)
    }
    fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn magenta(self, s: &str) -> String {
        self.wrap("35", s)
    }
    /// A status code coloured by class.
    fn status(self, status: Option<u64>) -> String {
        match status {
            None => self.dim("---"),
            Some(s @ 200..=299) => self.green(&s.to_string()),
            Some(s @ 300..=399) => self.cyan(&s.to_string()),
            Some(s @ 400..=499) => self.yellow(&s.to_string()),
            Some(s) if s >= 500 => self.red(&s.to_string()),
            Some(s) => s.to_string(),
        }
    }
}

/// `2024-05-01T10:00:00.123456Z` → `10:00:00.123`.
fn clock(ts: &str) -> &str {
    ts.get(11..23).unwrap_or(ts)
}

/// Microseconds for humans: `850 µs`, `12.3 ms`, `4.2 s`.
pub fn human_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else if us < 600_000_000 {
        format!("{:.1} s", us as f64 / 1e6)
    } else {
        format!("{:.1} min", us as f64 / 6e7)
    }
}

/// Microseconds since the epoch of an RFC 3339 UTC timestamp as apitap writes it.
fn ts_us(ts: &str) -> Option<u64> {
    humantime::parse_rfc3339(ts)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_micros() as u64)
}

/// Every anomaly of an http record (HTTP, TCP and session layers).
fn anomalies(rec: &Value) -> Vec<&str> {
    ["anomalies", "session_anomalies"]
        .iter()
        .filter_map(|k| rec.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// One request line (no trailing newline); `prefix` goes first (follow mode's session id).
pub fn request_line(rec: &Value, prefix: &str, p: Paint) -> String {
    let ts = rec.get("ts").and_then(Value::as_str).unwrap_or("");
    let method = rec
        .pointer("/request/method")
        .and_then(Value::as_str)
        .unwrap_or("-");
    let endpoint = endpoint_of(rec)
        .map(|e| match e.split_once(' ') {
            Some((_, path)) => path.to_owned(),
            None => e,
        })
        .unwrap_or_else(|| "(no request)".to_owned());
    let status = rec.pointer("/response/status").and_then(Value::as_u64);
    let latency = rec
        .get("latency_us")
        .and_then(Value::as_u64)
        .map_or_else(|| "-".to_owned(), human_us);
    let mut line = format!(
        "{prefix}  {}  {}  {}  {}  {:>9}",
        p.dim(clock(ts)),
        p.bold(&format!("{method:<METHOD_WIDTH$}")),
        format_args!("{endpoint:<ENDPOINT_WIDTH$}"),
        p.status(status),
        latency,
    );
    let a = anomalies(rec);
    if !a.is_empty() {
        let _ = write!(line, "  {}", p.red(&format!("! {}", a.join(", "))));
    }
    line
}

/// What a header shows, from the http records of a group and its session record if any.
#[derive(Debug, Default)]
struct Header {
    user: Option<String>,
    role: Option<String>,
    key_source: Option<String>,
    ips: BTreeSet<String>,
    requests: u64,
    status_classes: BTreeMap<String, u64>,
    anomalies: u64,
    first: Option<String>,
    last: Option<String>,
    duration_us: Option<u64>,
    end_reason: Option<String>,
    /// The sensors whose session records were read (`sensor_id`): sensors that share the
    /// session secret give one session the same id.
    sensors: BTreeSet<String>,
    /// Session records read (one per sensor in a batch timeline).
    session_records: usize,
}

impl Header {
    fn add_http(&mut self, rec: &Value) {
        self.requests += 1;
        if let Some(ip) = rec
            .get("client_ip")
            .or_else(|| rec.pointer("/flow/src_ip"))
            .and_then(Value::as_str)
        {
            self.ips.insert(ip.to_owned());
        }
        let class = match rec.pointer("/response/status").and_then(Value::as_u64) {
            Some(s) => format!("{}xx", s / 100),
            None => "none".to_owned(),
        };
        *self.status_classes.entry(class).or_default() += 1;
        self.anomalies += anomalies(rec).len() as u64;
        if let Some(ts) = rec.get("ts").and_then(Value::as_str) {
            if self.first.as_deref().is_none_or(|f| ts < f) {
                self.first = Some(ts.to_owned());
            }
            if self.last.as_deref().is_none_or(|l| ts > l) {
                self.last = Some(ts.to_owned());
            }
        }
        if self.user.is_none() {
            self.user = rec.get("user").and_then(Value::as_str).map(str::to_owned);
        }
        if self.key_source.is_none() {
            self.key_source = rec
                .pointer("/session_key/source")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
    }

    /// The session record knows the whole part: it wins over what the requests showed.
    fn add_session(&mut self, s: &Value) {
        let text = |k: &str| s.get(k).and_then(Value::as_str).map(str::to_owned);
        self.user = text("user").or(self.user.take());
        self.role = text("role").or(self.role.take());
        self.key_source = s
            .pointer("/session_key/source")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(self.key_source.take());
        if let Some(ips) = s.get("client_ips").and_then(Value::as_array) {
            for ip in ips
                .iter()
                .filter_map(|e| e.get("ip").and_then(Value::as_str))
            {
                self.ips.insert(ip.to_owned());
            }
        }
        self.session_records += 1;
        self.sensors.extend(text("sensor_id"));
        // One sensor's record knows its whole part; several sensors' parts of one session
        // span from the earliest first to the latest last request of any of them.
        let several = self.sensors.len() > 1;
        self.duration_us = if several {
            None
        } else {
            s.get("duration_us").and_then(Value::as_u64)
        };
        if let Some(f) = text("first_seen") {
            if !several || self.first.as_deref().is_none_or(|old| f.as_str() < old) {
                self.first = Some(f);
            }
        }
        if let Some(l) = text("last_seen") {
            if !several || self.last.as_deref().is_none_or(|old| l.as_str() > old) {
                self.last = Some(l);
            }
        }
        self.end_reason = text("reason").or(self.end_reason.take());
    }

    fn render(&self, key: &str, p: Paint) -> String {
        let title = match key.strip_prefix("conn:") {
            Some(c) => format!("connection {c} (no session id)"),
            None => format!("session {}", key.get(..SHORT_ID_LEN).unwrap_or(key)),
        };
        let mut parts = vec![p.bold(&p.magenta(&title))];
        match &self.user {
            Some(u) => parts.push(format!("user {}", p.bold(u))),
            None => parts.push(p.dim("user -")),
        }
        if let Some(r) = &self.role {
            parts.push(format!("role {r}"));
        }
        if !self.ips.is_empty() {
            let mut ips: Vec<&str> = self
                .ips
                .iter()
                .take(MAX_HEADER_IPS)
                .map(String::as_str)
                .collect();
            let more = self.ips.len().saturating_sub(MAX_HEADER_IPS);
            let more = (more > 0).then(|| format!("+{more}"));
            ips.extend(more.as_deref());
            parts.push(ips.join(" "));
        }
        let statuses: Vec<String> = self
            .status_classes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        parts.push(format!(
            "{} request{} ({})",
            self.requests,
            if self.requests == 1 { "" } else { "s" },
            statuses.join(", ")
        ));
        if self.anomalies > 0 {
            parts.push(p.red(&format!("{} anomalies", self.anomalies)));
        }
        let duration = self.duration_us.or_else(|| {
            let (f, l) = (
                ts_us(self.first.as_deref()?)?,
                ts_us(self.last.as_deref()?)?,
            );
            Some(l.saturating_sub(f))
        });
        if let Some(d) = duration {
            parts.push(human_us(d));
        }
        if let (Some(f), Some(l)) = (&self.first, &self.last) {
            parts.push(p.dim(&format!(
                "{} {} → {}",
                f.get(..10).unwrap_or(""),
                clock(f),
                clock(l)
            )));
        }
        if let Some(k) = &self.key_source {
            parts.push(p.dim(&format!("key {k}")));
        }
        if let Some(r) = &self.end_reason {
            parts.push(p.dim(&format!("ended: {r}")));
        }
        if !self.sensors.is_empty() {
            let names: Vec<&str> = self.sensors.iter().map(String::as_str).collect();
            let label = if names.len() == 1 {
                "sensor"
            } else {
                "sensors"
            };
            parts.push(p.dim(&format!("{label} {}", names.join(", "))));
        }
        format!("━━ {}", parts.join(" · "))
    }
}

/// Records gathered for a batch timeline.
#[derive(Debug, Default)]
pub struct Timeline {
    /// http records (and records of other types) by group, in arrival order.
    groups: HashMap<String, Vec<Value>>,
    /// Latest session record by session id, per sensor (end beats update beats start: last
    /// one wins); a session seen by several sensors is merged in its header.
    sessions: HashMap<String, BTreeMap<String, Value>>,
    /// Alert records, in arrival order.
    alerts: Vec<Value>,
}

/// The line that introduces an alert: kind, time, who, endpoint, the evidence's numbers.
pub fn alert_line(a: &Value, p: Paint) -> String {
    let text = |k: &str| a.get(k).and_then(Value::as_str);
    let ts = text("ts").unwrap_or("");
    let mut parts = vec![p.bold(&p.red(&format!("ALERT {}", text("kind").unwrap_or("?"))))];
    parts.push(format!("{} {}", ts.get(..10).unwrap_or(""), clock(ts)));
    match text("session_id") {
        Some(s) => parts.push(format!("session {}", s.get(..SHORT_ID_LEN).unwrap_or(s))),
        None => parts.push(p.dim("no session")),
    }
    parts.extend(text("client_ip").map(str::to_owned));
    parts.extend(text("user").map(|u| format!("user {}", p.bold(u))));
    parts.extend(text("endpoint").map(str::to_owned));
    if let Some(ev) = a.get("evidence").and_then(Value::as_object) {
        let nums: Vec<String> = ev.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(p.yellow(&nums.join(" ")));
    }
    format!("▲▲ {}", parts.join(" · "))
}

impl Timeline {
    /// Add one record that passed the filters.
    pub fn add(&mut self, rec: Value) {
        if is_alert(&rec) {
            self.alerts.push(rec);
        } else if rec.get("type").and_then(Value::as_str) == Some("session") {
            let key = group_key(&rec);
            let sensor = rec
                .get("sensor_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            self.groups.entry(key.clone()).or_default();
            self.sessions.entry(key).or_default().insert(sensor, rec);
        } else {
            self.groups.entry(group_key(&rec)).or_default().push(rec);
        }
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.alerts.is_empty()
    }

    /// Alerts added.
    pub fn alert_count(&self) -> usize {
        self.alerts.len()
    }

    /// Every alert in time order, each with the requests around its evidence (its session's,
    /// or, for an alert about a client or user, the evidence transactions themselves), the
    /// evidence marked with `▶`.
    pub fn render_alerts(mut self, p: Paint) -> String {
        self.alerts.sort_by(|a, b| ts_of(a).cmp(ts_of(b)));
        let mut by_tx: HashMap<&str, &Value> = HashMap::new();
        for r in self.groups.values().flatten() {
            if let Some(t) = r.get("transaction_id").and_then(Value::as_str) {
                by_tx.insert(t, r);
            }
        }
        let mut out = String::new();
        for a in &self.alerts {
            let _ = writeln!(out, "{}", alert_line(a, p));
            let evidence: BTreeSet<&str> = a
                .get("transaction_ids")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut recs: Vec<&Value> = match a.get("session_id").and_then(Value::as_str) {
                Some(s) => self
                    .groups
                    .get(s)
                    .map(|g| g.iter().collect())
                    .unwrap_or_default(),
                None => evidence
                    .iter()
                    .filter_map(|t| by_tx.get(t).copied())
                    .collect(),
            };
            recs.sort_by(|x, y| ts_of(x).cmp(ts_of(y)));
            let is_ev = |r: &Value| {
                r.get("transaction_id")
                    .and_then(Value::as_str)
                    .is_some_and(|t| evidence.contains(t))
            };
            let first = recs.iter().position(|r| is_ev(r));
            let last = recs.iter().rposition(|r| is_ev(r));
            let (Some(first), Some(last)) = (first, last) else {
                let _ = writeln!(out, "   {}\n", p.dim("(evidence transactions not read)"));
                continue;
            };
            let lo = first.saturating_sub(ALERT_CONTEXT_LINES);
            let hi = (last + ALERT_CONTEXT_LINES + 1).min(recs.len());
            for (i, r) in recs.iter().enumerate().take(hi).skip(lo) {
                let shown = i < lo + MAX_ALERT_LINES / 2 || i + MAX_ALERT_LINES / 2 >= hi;
                if !shown {
                    if i == lo + MAX_ALERT_LINES / 2 {
                        let hidden = hi - lo - MAX_ALERT_LINES;
                        let _ = writeln!(out, "   {}", p.dim(&format!("… {hidden} more")));
                    }
                    continue;
                }
                let mark = if is_ev(r) { p.red("▶") } else { " ".into() };
                let _ = writeln!(out, "{}", request_line(r, &mark, p));
            }
            out.push('\n');
        }
        out
    }

    /// The whole timeline: sessions ordered by their first request, requests by time.
    pub fn render(mut self, p: Paint) -> String {
        let mut groups: Vec<(String, Vec<Value>)> = self.groups.drain().collect();
        for (_, recs) in &mut groups {
            recs.sort_by(|a, b| ts_of(a).cmp(ts_of(b)));
        }
        let first_ts = |key: &str, recs: &[Value]| -> String {
            recs.first()
                .map(|r| ts_of(r).to_owned())
                .or_else(|| {
                    self.sessions
                        .get(key)
                        .into_iter()
                        .flat_map(BTreeMap::values)
                        .filter_map(|s| s.get("first_seen").and_then(Value::as_str))
                        .min()
                        .map(str::to_owned)
                })
                .unwrap_or_default()
        };
        groups.sort_by_cached_key(|(k, recs)| (first_ts(k, recs), k.clone()));
        let mut out = String::new();
        for (key, recs) in &groups {
            let mut h = Header::default();
            for r in recs {
                h.add_http(r);
            }
            for s in self
                .sessions
                .get(key)
                .into_iter()
                .flat_map(BTreeMap::values)
            {
                h.add_session(s);
            }
            let _ = writeln!(out, "{}", h.render(key, p));
            for r in recs {
                let _ = writeln!(out, "{}", request_line(r, "", p));
            }
            out.push('\n');
        }
        out
    }
}

/// The `ts` of a record, empty when absent.
fn ts_of(rec: &Value) -> &str {
    rec.get("ts").and_then(Value::as_str).unwrap_or("")
}

/// Follow mode: prints as records arrive, a short header when a session is first seen and a
/// summary when its session record arrives.
#[derive(Debug, Default)]
pub struct Follower {
    seen: HashMap<String, Header>,
}

impl Follower {
    /// The lines to print for one record (each ends with a newline).
    pub fn on_record(&mut self, rec: &Value, p: Paint) -> String {
        let key = group_key(rec);
        let short = key.get(..SHORT_ID_LEN).unwrap_or(&key).to_owned();
        let mut out = String::new();
        let is_new = !self.seen.contains_key(&key);
        let h = self.seen.entry(key.clone()).or_default();
        if rec.get("type").and_then(Value::as_str) == Some("session") {
            h.add_session(rec);
            let phase = rec.get("phase").and_then(Value::as_str).unwrap_or("");
            if phase == "end" {
                let _ = writeln!(out, "{}", h.render(&key, p));
                self.seen.remove(&key);
            }
            return out;
        }
        h.add_http(rec);
        if is_new {
            let _ = writeln!(out, "{}", h.render(&key, p));
        }
        let _ = writeln!(out, "{}", request_line(rec, &p.dim(&short), p));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(ts: &str, sid: &str, status: u64, anomalies: &[&str]) -> Value {
        json!({"type":"http","ts":ts,"conn_id":1,"session_id":sid,
               "flow":{"src_ip":"10.0.0.1","dst_ip":"10.0.0.2"},
               "request":{"method":"GET","path":"/api/users/7"},"endpoint":"GET /api/users/{id}",
               "response":{"status":status},"latency_us":1500,"anomalies":anomalies})
    }

    #[test]
    fn batch_groups_sorts_and_counts() {
        let mut t = Timeline::default();
        t.add(rec("2024-05-01T10:00:02.000000Z", "s1", 404, &[]));
        t.add(rec(
            "2024-05-01T10:00:00.000000Z",
            "s1",
            200,
            &["gap_in_request"],
        ));
        t.add(json!({"type":"session","session_id":"s1","user":"alice","duration_us":2000000,
                     "first_seen":"2024-05-01T10:00:00.000000Z","last_seen":"2024-05-01T10:00:02.000000Z",
                     "client_ips":[{"ip":"203.0.113.9","count":2}],"reason":"idle"}));
        let out = t.render(Paint { on: false });
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("━━ session s1"), "{out}");
        assert!(lines[0].contains("user alice"), "{out}");
        assert!(lines[0].contains("2 requests (2xx 1, 4xx 1)"), "{out}");
        assert!(
            lines[0].contains("2.0 s") && lines[0].contains("ended: idle"),
            "{out}"
        );
        assert!(lines[0].contains("203.0.113.9"), "{out}");
        assert!(lines[1].contains("10:00:00.000") && lines[1].contains("! gap_in_request"));
        assert!(lines[2].contains("10:00:02.000") && lines[2].contains("404"));
        assert!(lines[1].contains("/api/users/{id}") && lines[1].contains("1.5 ms"));
    }

    /// Two sensors that share the session secret saw one session: one header, spanning both
    /// sensors' requests, naming both sensors.
    #[test]
    fn a_session_seen_by_two_sensors_is_merged() {
        let mut t = Timeline::default();
        t.add(rec("2024-05-01T10:00:00.000000Z", "s1", 200, &[]));
        t.add(rec("2024-05-01T10:00:09.000000Z", "s1", 200, &[]));
        for (sensor, first, last) in [
            (
                "tap-a",
                "2024-05-01T10:00:00.000000Z",
                "2024-05-01T10:00:01.000000Z",
            ),
            (
                "tap-b",
                "2024-05-01T10:00:05.000000Z",
                "2024-05-01T10:00:09.000000Z",
            ),
        ] {
            t.add(
                json!({"type":"session","session_id":"s1","sensor_id":sensor,
                         "first_seen":first,"last_seen":last,"duration_us":1_000_000,
                         "reason":"idle"}),
            );
        }
        let out = t.render(Paint { on: false });
        let header = out.lines().next().unwrap();
        assert_eq!(out.matches("━━ session").count(), 1, "{out}");
        assert!(header.contains("sensors tap-a, tap-b"), "{header}");
        assert!(header.contains("9.0 s"), "the span of both: {header}");
        assert!(header.contains("10:00:00.000 → 10:00:09.000"), "{header}");
    }

    #[test]
    fn colour_only_when_on() {
        let r = rec("2024-05-01T10:00:00.000000Z", "s1", 500, &[]);
        assert!(!request_line(&r, "", Paint { on: false }).contains('\x1b'));
        assert!(request_line(&r, "", Paint { on: true }).contains("\x1b[31m500"));
    }

    #[test]
    fn follow_prints_header_once() {
        let mut f = Follower::default();
        let p = Paint { on: false };
        let a = f.on_record(&rec("2024-05-01T10:00:00.000000Z", "s1", 200, &[]), p);
        let b = f.on_record(&rec("2024-05-01T10:00:01.000000Z", "s1", 200, &[]), p);
        assert_eq!(a.lines().count(), 2);
        assert_eq!(b.lines().count(), 1);
    }

    /// An alert shows its session around the evidence, evidence marked, the rest elided.
    #[test]
    fn alerts_show_their_evidence_in_the_session() {
        let mut t = Timeline::default();
        for i in 0..10u64 {
            let mut r = rec(&format!("2024-05-01T10:00:{i:02}.000000Z"), "s1", 200, &[]);
            r["transaction_id"] = json!(format!("1-{i}"));
            t.add(r);
        }
        t.add(
            json!({"type":"alert","kind":"bola","ts":"2024-05-01T10:00:06.000000Z",
                     "session_id":"s1","client_ip":"10.0.0.1","user":"eve",
                     "endpoint":"GET /api/users/{id}","transaction_ids":["1-5","1-6"],
                     "evidence":{"foreign_ids":2}}),
        );
        let out = t.render_alerts(Paint { on: false });
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("▲▲ ALERT bola") && lines[0].contains("user eve"),
            "{out}"
        );
        assert!(lines[0].contains("foreign_ids=2"), "{out}");
        // Three before the first evidence (1-2..1-4), the two, three after (1-7..1-9).
        assert_eq!(lines.len() - 2, 8, "{out}");
        let marked: Vec<&&str> = lines.iter().filter(|l| l.starts_with('▶')).collect();
        assert_eq!(marked.len(), 2, "{out}");
        assert!(marked[0].contains("10:00:05.000"));
    }

    #[test]
    fn durations_for_humans() {
        assert_eq!(human_us(850), "850 µs");
        assert_eq!(human_us(12_300), "12.3 ms");
        assert_eq!(human_us(4_200_000), "4.2 s");
    }
}
