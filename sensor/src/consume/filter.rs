//! Record filters of `apitap consume`: pure functions of one JSON record.
//!
//! `--session`, `--ip` and `--endpoint` look at the record alone. `--user` selects sessions:
//! a record matches when it names the user, or when an earlier (or, in batch mode, any)
//! record of its session did (see [`Filter::note`]).

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

/// An address or a network given to `--ip`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpMatch {
    /// One address.
    Addr(IpAddr),
    /// A network (`10.0.0.0/8`).
    Net(IpNet),
}

/// `--ip` was given something else than an address or a network.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--ip {given}: not {expected} ({reason}); give ADDR or ADDR/PREFIX")]
pub struct IpMatchError {
    /// What was given.
    given: String,
    /// `an IP address` or `a network`.
    expected: &'static str,
    /// The parser's words.
    reason: String,
}

impl IpMatch {
    /// Parse `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Result<Self, IpMatchError> {
        let err = |expected, reason: String| IpMatchError {
            given: s.to_owned(),
            expected,
            reason,
        };
        if s.contains('/') {
            s.parse()
                .map(IpMatch::Net)
                .map_err(|e: ipnet::AddrParseError| err("a network", e.to_string()))
        } else {
            s.parse()
                .map(IpMatch::Addr)
                .map_err(|e: std::net::AddrParseError| err("an IP address", e.to_string()))
        }
    }

    /// True when the text is an address this matches.
    fn matches(&self, text: &str) -> bool {
        let Ok(ip) = text.parse::<IpAddr>() else {
            return false;
        };
        match self {
            IpMatch::Addr(a) => *a == ip,
            IpMatch::Net(n) => n.contains(&ip),
        }
    }
}

/// Every filter given on the command line; an absent filter matches everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// `--session`: a session id or its prefix.
    pub session: Option<String>,
    /// `--ip`.
    pub ip: Option<IpMatch>,
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--alerts`: only alert records match (http and session records are kept for their
    /// timelines, see [`Filter::keeps`]).
    pub alerts: bool,
    /// `--kind`: only alerts of this kind.
    pub kind: Option<String>,
    /// `--attacks`: only sessions with attacks.
    pub attacks: bool,
    /// Sessions in which the user was seen.
    user_sessions: HashSet<String>,
    /// Sessions (or connections) with attacks.
    attack_sessions: HashSet<String>,
}

/// True when the record carries attacks: an http record's `attacks` list, or a session
/// record's `attacks` counts, not empty.
pub fn has_attacks(rec: &Value) -> bool {
    match rec.get("attacks") {
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
        _ => false,
    }
}

/// The grouping key of a record: its session id, or `conn:<conn_id>` without one.
pub fn group_key(rec: &Value) -> String {
    match rec.get("session_id").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => match rec.get("conn_id").and_then(Value::as_u64) {
            Some(c) => format!("conn:{c}"),
            None => "unknown".to_owned(),
        },
    }
}

/// True for an `alert` record.
pub fn is_alert(rec: &Value) -> bool {
    rec.get("type").and_then(Value::as_str) == Some("alert")
}

/// The record's endpoint: `endpoint`, else `METHOD path` from the request.
pub fn endpoint_of(rec: &Value) -> Option<String> {
    if let Some(e) = rec.get("endpoint").and_then(Value::as_str) {
        return Some(e.to_owned());
    }
    let req = rec.get("request")?;
    let method = req.get("method").and_then(Value::as_str).unwrap_or("?");
    let path = req.get("path").and_then(Value::as_str)?;
    Some(format!("{method} {path}"))
}

/// `*` matches any run of characters; without `*` the pattern is a substring.
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return text.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().unwrap_or((&"", &[]));
    let Some(mut tail) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return tail.is_empty();
    };
    for part in middle {
        match tail.find(part) {
            Some(i) => tail = &tail[i + part.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

/// True when the record names `user`: a session's `user`, an http record's `user`, or a
/// value of its `context`.
pub fn names_user(rec: &Value, user: &str) -> bool {
    if rec.get("user").and_then(Value::as_str) == Some(user) {
        return true;
    }
    rec.get("context")
        .and_then(Value::as_object)
        .is_some_and(|ctx| ctx.values().any(|v| v.as_str() == Some(user)))
}

impl Filter {
    /// A filter from the command-line values.
    pub fn new(
        session: Option<String>,
        ip: Option<IpMatch>,
        endpoint: Option<String>,
        user: Option<String>,
    ) -> Self {
        Filter {
            session,
            ip,
            endpoint,
            user,
            alerts: false,
            kind: None,
            attacks: false,
            user_sessions: HashSet::new(),
            attack_sessions: HashSet::new(),
        }
    }

    /// The same filter, for `--attacks`: only the sessions in which an attack was found.
    pub fn with_attacks(mut self) -> Self {
        self.attacks = true;
        self
    }

    /// Remember what a record says of its session before the filters choose (`--user`,
    /// `--attacks`): a session is chosen as a whole.
    pub fn note(&mut self, rec: &Value) {
        self.note_user(rec);
        if self.attacks && has_attacks(rec) {
            self.attack_sessions.insert(group_key(rec));
        }
    }

    /// The same filter, for `--alerts` (with `--kind`).
    pub fn for_alerts(mut self, kind: Option<String>) -> Self {
        self.alerts = true;
        self.kind = kind;
        self
    }

    /// True when a record is kept for output: with `--alerts`, every http and session record
    /// (an alert's timeline needs them) and the alerts that match; otherwise what matches.
    pub fn keeps(&self, rec: &Value) -> bool {
        if self.alerts && !is_alert(rec) {
            return matches!(
                rec.get("type").and_then(Value::as_str),
                Some("http" | "session")
            );
        }
        self.matches(rec)
    }

    /// Remember the session of a record naming the `--user`; returns whether it did.
    pub fn note_user(&mut self, rec: &Value) -> bool {
        match &self.user {
            Some(u) if names_user(rec, u) => {
                self.user_sessions.insert(group_key(rec));
                true
            }
            _ => false,
        }
    }

    /// True when the record passes every filter (call [`Filter::note`] first).
    pub fn matches(&self, rec: &Value) -> bool {
        let is_session = rec.get("type").and_then(Value::as_str) == Some("session");
        if self.alerts {
            if !is_alert(rec) {
                return false;
            }
            let kind = rec.get("kind").and_then(Value::as_str);
            if self.kind.as_deref().is_some_and(|k| Some(k) != kind) {
                return false;
            }
        }
        if let Some(want) = &self.session {
            let id = rec.get("session_id").and_then(Value::as_str).unwrap_or("");
            if id.is_empty() || !id.starts_with(want.as_str()) {
                return false;
            }
        }
        if let Some(ip) = &self.ip {
            let found = if is_session {
                rec.get("client_ips")
                    .and_then(Value::as_array)
                    .is_some_and(|a| {
                        a.iter()
                            .filter_map(|e| e.get("ip").and_then(Value::as_str))
                            .any(|s| ip.matches(s))
                    })
            } else {
                let flow = rec.get("flow");
                [
                    flow.and_then(|f| f.get("src_ip")),
                    flow.and_then(|f| f.get("dst_ip")),
                    rec.get("client_ip"),
                ]
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|s| ip.matches(s))
            };
            if !found {
                return false;
            }
        }
        if let Some(p) = &self.endpoint {
            let found = if is_session {
                rec.get("endpoints")
                    .and_then(Value::as_object)
                    .is_some_and(|m| m.keys().any(|k| pattern_matches(p, k)))
            } else {
                endpoint_of(rec).is_some_and(|e| pattern_matches(p, &e))
            };
            if !found {
                return false;
            }
        }
        if self.user.is_some() && !self.user_sessions.contains(&group_key(rec)) {
            return false;
        }
        if self.attacks && !self.attack_sessions.contains(&group_key(rec)) {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn http() -> Value {
        json!({"type":"http","conn_id":3,"session_id":"abcdef0123",
               "flow":{"src_ip":"10.0.0.1","src_port":4000,"dst_ip":"10.0.0.2","dst_port":80},
               "client_ip":"203.0.113.9","endpoint":"GET /api/v1/users/{id}",
               "request":{"method":"GET","path":"/api/v1/users/7"},"context":{"uid":"alice"}})
    }

    #[test]
    fn attacks_choose_whole_sessions() {
        let mut f = Filter::default().with_attacks();
        let clean = http();
        let mut attacked = http();
        attacked["attacks"] = json!([{"class": "sqli"}]);
        let mut other = http();
        other["session_id"] = json!("ffff");
        for r in [&clean, &attacked, &other] {
            f.note(r);
        }
        // The clean request of the attacked session is shown with it; the other session not.
        assert!(f.matches(&clean) && f.matches(&attacked));
        assert!(!f.matches(&other));
        // A session record's counts choose its session too; an empty list or map does not.
        let mut f = Filter::default().with_attacks();
        let session = json!({"type": "session", "session_id": "ffff", "attacks": {"xss": 1}});
        f.note(&session);
        assert!(f.matches(&other));
        assert!(!has_attacks(&json!({"attacks": []})) && !has_attacks(&json!({"attacks": {}})));
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("users", "GET /api/v1/users/{id}"));
        assert!(pattern_matches(
            "GET /api/*/users/*",
            "GET /api/v1/users/{id}"
        ));
        assert!(pattern_matches("*orders", "POST /api/orders"));
        assert!(!pattern_matches("*orders", "POST /api/orders/7"));
        assert!(pattern_matches("*", ""));
        assert!(!pattern_matches("a*a", "a"));
    }

    #[test]
    fn session_prefix() {
        let f = Filter {
            session: Some("abcd".into()),
            ..Filter::default()
        };
        assert!(f.matches(&http()));
        let f = Filter {
            session: Some("zz".into()),
            ..Filter::default()
        };
        assert!(!f.matches(&http()));
    }

    #[test]
    fn ip_matches_flow_client_and_networks() {
        for (ip, want) in [
            ("10.0.0.1", true),
            ("10.0.0.2", true),
            ("203.0.113.9", true),
            ("203.0.113.0/24", true),
            ("192.0.2.1", false),
        ] {
            let f = Filter {
                ip: Some(IpMatch::parse(ip).unwrap()),
                ..Filter::default()
            };
            assert_eq!(f.matches(&http()), want, "{ip}");
        }
        assert!(IpMatch::parse("nope").is_err());
    }

    #[test]
    fn endpoint_falls_back_to_the_path() {
        let mut r = http();
        r.as_object_mut().unwrap().remove("endpoint");
        assert_eq!(endpoint_of(&r).as_deref(), Some("GET /api/v1/users/7"));
        let f = Filter {
            endpoint: Some("users/7".into()),
            ..Filter::default()
        };
        assert!(f.matches(&r));
    }

    #[test]
    fn user_is_sticky_per_session() {
        let mut f = Filter {
            user: Some("alice".into()),
            ..Filter::default()
        };
        let mut other = http();
        other["context"] = json!({});
        assert!(!f.matches(&other));
        assert!(f.note_user(&http()));
        assert!(f.matches(&other), "same session, seen with the user");
        let session = json!({"type":"session","session_id":"ffff","user":"alice"});
        assert!(f.note_user(&session) && f.matches(&session));
    }

    #[test]
    fn alerts_mode_matches_alerts_of_the_kind_and_keeps_timelines() {
        let f = Filter::default().for_alerts(Some("bola".into()));
        let bola =
            json!({"type":"alert","kind":"bola","session_id":"abcdef","client_ip":"10.0.0.1"});
        let other = json!({"type":"alert","kind":"enumeration","session_id":"abcdef"});
        assert!(f.matches(&bola) && f.keeps(&bola));
        assert!(!f.matches(&other) && !f.keeps(&other));
        assert!(
            !f.matches(&http()) && f.keeps(&http()),
            "kept for the timeline"
        );
        let f = Filter {
            ip: Some(IpMatch::parse("10.0.0.0/8").unwrap()),
            ..Filter::default().for_alerts(None)
        };
        assert!(
            f.matches(&bola) && !f.matches(&other),
            "other has no client"
        );
    }

    #[test]
    fn records_without_session_group_by_connection() {
        let mut r = http();
        r.as_object_mut().unwrap().remove("session_id");
        assert_eq!(group_key(&r), "conn:3");
    }
}
