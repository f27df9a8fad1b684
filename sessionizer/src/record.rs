//! The JSON shape of what apitap exports (`docs/events.md` is the reference).
//!
//! Records borrow the [`Transaction`] they describe and serialize straight into the exporter's
//! buffer: nothing is copied on the way out. Secrets are redacted here, once, for every
//! exporter.

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use apitap_reassembly::TcpAnomaly;
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::http::{HttpAnomaly, Request, Response, Transaction};

/// Version of the event schema; bumped on any incompatible change of a field.
pub const SCHEMA_VERSION: u32 = 1;

/// What replaces a redacted header value.
pub const REDACTED: &str = "[redacted]";

/// Output settings that shape records (`[output]` in the config file).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Header names (case-insensitive) whose values are replaced by `[redacted]`; names stay.
    pub redact_headers: Vec<String>,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig { redact_headers: default_redact_headers() }
    }
}

/// Credentials and session tokens of common APIs: the values must never leave the sensor.
pub fn default_redact_headers() -> Vec<String> {
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-amz-security-token",
        "x-goog-api-key",
        "private-token",
        "x-vault-token",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Prepared redaction rules.
#[derive(Clone, Debug)]
pub struct Redactor {
    /// Lower-cased header names.
    headers: Vec<String>,
}

impl Redactor {
    /// Rules from the config.
    pub fn new(cfg: &RecordConfig) -> Self {
        Redactor { headers: cfg.redact_headers.iter().map(|h| h.to_ascii_lowercase()).collect() }
    }

    /// True when the value of header `name` must be redacted.
    #[inline]
    pub fn redacts(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// An `http` record: one transaction, ready to serialize.
pub struct HttpRecord<'a> {
    /// The transaction.
    pub tx: &'a Transaction,
    /// Redaction rules.
    pub redactor: &'a Redactor,
}

/// RFC 3339 UTC with microseconds, from packet time.
struct Rfc3339(u64);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = UNIX_EPOCH + Duration::from_micros(self.0);
        s.collect_str(&humantime::format_rfc3339_micros(t))
    }
}

/// `flow`: client → server.
struct Flow {
    client: SocketAddr,
    server: SocketAddr,
}

impl Serialize for Flow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Flow", 4)?;
        st.serialize_field("src_ip", &self.client.ip())?;
        st.serialize_field("src_port", &self.client.port())?;
        st.serialize_field("dst_ip", &self.server.ip())?;
        st.serialize_field("dst_port", &self.server.port())?;
        st.end()
    }
}

/// Header list as `[[name, value], ...]` in wire order, values of secret headers redacted.
struct Headers<'a> {
    headers: &'a [(String, String)],
    redactor: &'a Redactor,
}

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.headers.len()))?;
        for (n, v) in self.headers {
            let v = if self.redactor.redacts(n) { REDACTED } else { v.as_str() };
            seq.serialize_element(&(n, v))?;
        }
        seq.end()
    }
}

/// First value of header `name` (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// `HTTP/1.x` from the minor version.
fn version(minor: u8) -> &'static str {
    match minor {
        0 => "HTTP/1.0",
        _ => "HTTP/1.1",
    }
}

/// Split a request-target into path and query (RFC 9112 section 3.2): the absolute form loses
/// its scheme and authority, the fragment (never sent by conforming clients) is dropped.
pub fn split_target(uri: &str) -> (&str, Option<&str>) {
    let rest = match uri.find("://") {
        Some(i) if uri[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) => {
            let after = &uri[i + 3..];
            after.find(['/', '?']).map_or("", |j| &after[j..])
        }
        _ => uri,
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    }
}

/// The authority of an absolute-form target, if any.
fn target_authority(uri: &str) -> Option<&str> {
    let i = uri.find("://")?;
    let after = &uri[i + 3..];
    Some(after.find(['/', '?']).map_or(after, |j| &after[..j]))
}

impl Serialize for HttpRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tx = self.tx;
        let mut st = s.serialize_struct("HttpRecord", 12)?;
        st.serialize_field("type", "http")?;
        st.serialize_field("schema_version", &SCHEMA_VERSION)?;
        st.serialize_field("ts", &Rfc3339(tx.ts_us()))?;
        st.serialize_field("conn_id", &tx.conn.0)?;
        st.serialize_field("depth", &tx.depth)?;
        st.serialize_field("flow", &Flow { client: tx.client, server: tx.server })?;
        st.serialize_field(
            "request",
            &tx.request.as_ref().map(|r| RequestView { r, redactor: self.redactor }),
        )?;
        st.serialize_field(
            "response",
            &tx.response.as_ref().map(|r| ResponseView { r, redactor: self.redactor }),
        )?;
        let latency = match (&tx.request, &tx.response) {
            (Some(q), Some(r)) => Some(r.ts_us.saturating_sub(q.end_ts_us)),
            _ => None,
        };
        st.serialize_field("latency_us", &latency)?;
        let switched = tx.switched.as_ref().map(|p| match p {
            crate::http::transaction::SwitchedProtocol::Connect => "connect".to_string(),
            crate::http::transaction::SwitchedProtocol::Upgrade(u) => {
                format!("upgrade:{}", u.to_ascii_lowercase())
            }
        });
        st.serialize_field("switched_protocol", &switched)?;
        st.serialize_field("anomalies", &Anomalies { http: &tx.anomalies, tcp: &tx.tcp_anomalies })?;
        st.end()
    }
}

/// The request object.
struct RequestView<'a> {
    r: &'a Request,
    redactor: &'a Redactor,
}

impl Serialize for RequestView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.r;
        let (path, query) = split_target(&r.uri);
        let host = header(&r.headers, "host").or_else(|| target_authority(&r.uri));
        let mut st = s.serialize_struct("Request", 10)?;
        st.serialize_field("method", &r.method)?;
        st.serialize_field("uri", &r.uri)?;
        st.serialize_field("path", path)?;
        st.serialize_field("query", &query)?;
        st.serialize_field("host", &host)?;
        st.serialize_field("version", version(r.version_minor))?;
        st.serialize_field("user_agent", &header(&r.headers, "user-agent"))?;
        st.serialize_field("content_type", &header(&r.headers, "content-type"))?;
        st.serialize_field("headers", &Headers { headers: &r.headers, redactor: self.redactor })?;
        st.serialize_field("body_bytes", &r.body_bytes)?;
        st.end()
    }
}

/// The response object.
struct ResponseView<'a> {
    r: &'a Response,
    redactor: &'a Redactor,
}

impl Serialize for ResponseView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.r;
        let mut st = s.serialize_struct("Response", 8)?;
        st.serialize_field("status", &r.status)?;
        st.serialize_field("reason", &r.reason)?;
        st.serialize_field("version", version(r.version_minor))?;
        st.serialize_field("content_type", &header(&r.headers, "content-type"))?;
        st.serialize_field("headers", &Headers { headers: &r.headers, redactor: self.redactor })?;
        st.serialize_field("body_bytes", &r.body_bytes)?;
        st.serialize_field("interim", &r.interim)?;
        st.end()
    }
}

/// HTTP then TCP anomalies, as one list of snake_case names.
struct Anomalies<'a> {
    http: &'a [HttpAnomaly],
    tcp: &'a [TcpAnomaly],
}

impl Serialize for Anomalies<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.http.len() + self.tcp.len()))?;
        for a in self.http {
            seq.serialize_element(a)?;
        }
        for a in self.tcp {
            seq.serialize_element(a)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_target_forms() {
        assert_eq!(split_target("/a/b?x=1"), ("/a/b", Some("x=1")));
        assert_eq!(split_target("/a/b"), ("/a/b", None));
        assert_eq!(split_target("http://h:8080/p?q#f"), ("/p", Some("q")));
        assert_eq!(split_target("http://h"), ("", None));
        assert_eq!(split_target("*"), ("*", None));
        assert_eq!(split_target("example.com:443"), ("example.com:443", None));
        assert_eq!(split_target("/x#frag"), ("/x", None));
        assert_eq!(target_authority("http://h:8080/p"), Some("h:8080"));
    }

    #[test]
    fn redaction_is_case_insensitive() {
        let r = Redactor::new(&RecordConfig::default());
        assert!(r.redacts("Authorization"));
        assert!(r.redacts("COOKIE"));
        assert!(!r.redacts("Host"));
    }
}
