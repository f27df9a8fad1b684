//! The JSON shape of what apitap exports (`docs/events.md` is the reference).
//!
//! Records borrow the [`Transaction`] they describe and serialize straight into the exporter's
//! buffer: nothing is copied on the way out. Secrets are redacted here, once, for every
//! exporter.

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use apitap_reassembly::TcpAnomaly;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::http::ascii::eq_ignore_case;
use crate::http::{Headers, HttpAnomaly, Request, Response, Transaction};
use crate::session::secret::HEX_LEN;
use crate::session::summary::{sorted_by_key, Counted, EndpointAgg, ParamAgg, StatusKey};
use crate::session::{
    EndReason, HashId, Phase, SessionRecord, TransactionId, TransactionIds, TxSession,
};
pub use crate::tunnel::{TunnelInfo, TunnelKind};

/// Version of the event schema; bumped on any incompatible change of a field.
pub const SCHEMA_VERSION: u32 = 1;

/// What replaces a redacted header value.
pub const REDACTED: &str = "[redacted]";

/// Output settings that shape records (`[output]` in the config file).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Header names (case-insensitive) whose values are replaced by `[redacted]`; names stay.
    pub redact_headers: Vec<String>,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            redact_headers: default_redact_headers(),
        }
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
    /// Lower-cased header names, by length (the names of 63 bytes or more share the last
    /// entry): a name is compared only with those of its own length.
    by_len: Vec<Vec<String>>,
    /// For each name length (lengths of 63 bytes or more share the last entry), the first
    /// bytes the redacted names of that length start with, as bits of [`first_byte_bit`]:
    /// most header names are rejected by their length and first byte alone.
    firsts: [u32; FILTER_LENGTHS],
}

/// Name lengths [`Redactor`]'s filter tells apart.
const FILTER_LENGTHS: usize = 64;

/// The filter bit of a name's first byte: one per ASCII letter (either case), one for
/// anything else.
#[inline]
fn first_byte_bit(name: &str) -> u32 {
    match name.as_bytes().first() {
        Some(&b) if b.is_ascii_alphabetic() => 1 << ((b | 0x20) - b'a'),
        _ => 1 << 26,
    }
}

impl Redactor {
    /// Rules from the config.
    pub fn new(cfg: &RecordConfig) -> Self {
        let headers: Vec<String> = cfg
            .redact_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let mut firsts = [0; FILTER_LENGTHS];
        let mut by_len = vec![Vec::new(); FILTER_LENGTHS];
        for h in headers {
            let len = h.len().min(FILTER_LENGTHS - 1);
            firsts[len] |= first_byte_bit(&h);
            if let Some(names) = by_len.get_mut(len) {
                names.push(h);
            }
        }
        Redactor { by_len, firsts }
    }

    /// True when the value of header `name` must be redacted.
    #[inline]
    pub fn redacts(&self, name: &str) -> bool {
        let len = name.len().min(FILTER_LENGTHS - 1);
        self.firsts[len] & first_byte_bit(name) != 0
            && self.by_len.get(len).is_some_and(|names| {
                names
                    .iter()
                    .any(|h| eq_ignore_case(h.as_bytes(), name.as_bytes()))
            })
    }
}

/// An `http` record: one transaction, ready to serialize.
pub struct HttpRecord<'a> {
    /// The transaction.
    pub tx: &'a Transaction,
    /// Redaction rules.
    pub redactor: &'a Redactor,
    /// The outermost tunnel the transaction's packets came through; the `tunnel` field is
    /// written only when there is one.
    pub tunnel: Option<&'a TunnelInfo>,
}

/// RFC 3339 UTC with microseconds, from packet time.
struct Rfc3339(u64);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The JSON writer's formatter (same text as humantime's, tested), without `fmt`.
        let mut quoted = Vec::with_capacity(RFC3339_MICROS_LEN + 2);
        crate::json::write_ts_micros(&mut quoted, self.0);
        match quoted
            .get(1..quoted.len().saturating_sub(1))
            .and_then(|b| std::str::from_utf8(b).ok())
        {
            Some(text) => s.serialize_str(text),
            None => {
                let t = UNIX_EPOCH + Duration::from_micros(self.0);
                s.collect_str(&humantime::format_rfc3339_micros(t))
            }
        }
    }
}

/// Length of `2023-11-14T22:13:20.003102Z`.
const RFC3339_MICROS_LEN: usize = 27;

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
struct HeaderList<'a> {
    headers: &'a Headers,
    redactor: &'a Redactor,
}

impl Serialize for HeaderList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.headers.len()))?;
        for (n, v) in self.headers {
            let v = if self.redactor.redacts(n) {
                REDACTED
            } else {
                v
            };
            seq.serialize_element(&(n, v))?;
        }
        seq.end()
    }
}

/// First value of header `name` (case-insensitive).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.get(name)
}

/// [`version`] as a JSON string.
fn version_json(minor: u8) -> &'static [u8] {
    match minor {
        0 => b"\"HTTP/1.0\"",
        _ => b"\"HTTP/1.1\"",
    }
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
    // The origin form (`/path?query`, nearly every request) has no scheme to look for.
    let rest = if uri.starts_with('/') {
        uri
    } else {
        match uri.find("://") {
            Some(i)
                if uri[..i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
            {
                let after = &uri[i + 3..];
                after.find(['/', '?']).map_or("", |j| &after[j..])
            }
            _ => uri,
        }
    };
    // The query runs from the first `?` to a `#`; a `#` before any `?` ends the path. Both are
    // ASCII, so a byte search finds char boundaries; memchr's scans a word or a vector at a
    // time (a byte loop cost ~280 instructions on the bench's targets).
    let bytes = rest.as_bytes();
    match memchr::memchr2(b'?', b'#', bytes) {
        Some(i) if bytes[i] == b'?' => {
            let q = &rest[i + 1..];
            let end = memchr::memchr(b'#', q.as_bytes()).unwrap_or(q.len());
            (&rest[..i], Some(&q[..end]))
        }
        Some(i) => (&rest[..i], None),
        None => (rest, None),
    }
}

/// The authority of an absolute-form target, if any.
fn target_authority(uri: &str) -> Option<&str> {
    let i = uri.find("://")?;
    let after = &uri[i + 3..];
    Some(after.find(['/', '?']).map_or(after, |j| &after[..j]))
}

impl<'a> HttpRecord<'a> {
    /// The same record with its session fields (`session_id`, `transaction_id`, ...).
    pub fn with_session(self, session: &'a TxSession) -> HttpSessionRecord<'a> {
        HttpSessionRecord {
            http: self,
            session,
        }
    }
}

/// An `http` record with the fields the sessionizer adds (`docs/events.md`).
pub struct HttpSessionRecord<'a> {
    /// The transaction's record.
    pub http: HttpRecord<'a>,
    /// What the sessionizer said about it.
    pub session: &'a TxSession,
}

impl Serialize for HttpRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_http(self, None, s)
    }
}

impl Serialize for HttpSessionRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_http(&self.http, Some(self.session), s)
    }
}

impl HttpRecord<'_> {
    /// Append this record as one line of JSON (no newline), the session fields when given:
    /// byte for byte what `serde_json` makes of [`HttpRecord`] / [`HttpSessionRecord`], but
    /// faster on the header lists (see [`crate::json`]). Errors only if a nested `Serialize`
    /// fails, which the types here never do.
    pub fn write_json(
        &self,
        session: Option<&TxSession>,
        out: &mut Vec<u8>,
    ) -> Result<(), serde_json::Error> {
        self.write_json_head(out)?;
        write_json_tail(session, &mut [0; HEX_LEN], out).map(drop)
    }

    /// Append the part of the record that does not depend on sessions: [`Self::write_json`]
    /// is this followed by [`write_json_tail`]. The sharded pipeline writes heads in its
    /// workers, in parallel, and the session stage appends the tails.
    pub fn write_json_head(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        use crate::json::{
            is_clean, write_ip, write_opt_str_known, write_str, write_str_known, write_ts_micros,
            write_u64,
        };
        let tx = self.tx;
        out.extend_from_slice(b"{\"type\":\"http\",\"schema_version\":");
        write_u64(out, u64::from(SCHEMA_VERSION));
        out.extend_from_slice(b",\"ts\":");
        write_ts_micros(out, tx.ts_us());
        out.extend_from_slice(b",\"conn_id\":");
        write_u64(out, tx.conn.0);
        out.extend_from_slice(b",\"depth\":");
        write_u64(out, u64::from(tx.depth));
        out.extend_from_slice(b",\"flow\":{\"src_ip\":");
        write_ip(out, tx.client.ip());
        out.extend_from_slice(b",\"src_port\":");
        write_u64(out, u64::from(tx.client.port()));
        out.extend_from_slice(b",\"dst_ip\":");
        write_ip(out, tx.server.ip());
        out.extend_from_slice(b",\"dst_port\":");
        write_u64(out, u64::from(tx.server.port()));
        out.extend_from_slice(b"},\"request\":");
        match &tx.request {
            None => out.extend_from_slice(b"null"),
            Some(r) => {
                let (path, query) = split_target(&r.uri);
                // The path, query and an authority-form host are parts of the target: clean
                // when it is. Values of a plain header list are clean.
                let uri_clean = is_clean(r.uri.as_bytes());
                let plain = r.headers.is_plain();
                let (host, host_clean) = match header(&r.headers, "host") {
                    Some(h) => (Some(h), plain),
                    None => (target_authority(&r.uri), uri_clean),
                };
                out.extend_from_slice(b"{\"method\":");
                write_str(out, &r.method);
                out.extend_from_slice(b",\"uri\":");
                write_str_known(out, &r.uri, uri_clean);
                out.extend_from_slice(b",\"path\":");
                write_str_known(out, path, uri_clean);
                out.extend_from_slice(b",\"query\":");
                write_opt_str_known(out, query, uri_clean);
                out.extend_from_slice(b",\"host\":");
                write_opt_str_known(out, host, host_clean);
                out.extend_from_slice(b",\"version\":");
                out.extend_from_slice(version_json(r.version_minor));
                out.extend_from_slice(b",\"user_agent\":");
                write_opt_str_known(out, header(&r.headers, "user-agent"), plain);
                out.extend_from_slice(b",\"content_type\":");
                write_opt_str_known(out, header(&r.headers, "content-type"), plain);
                out.extend_from_slice(b",\"headers\":");
                self.write_headers(&r.headers, out);
                out.extend_from_slice(b",\"body_bytes\":");
                write_u64(out, r.body_bytes);
                out.push(b'}');
            }
        }
        out.extend_from_slice(b",\"response\":");
        match &tx.response {
            None => out.extend_from_slice(b"null"),
            Some(r) => {
                out.extend_from_slice(b"{\"status\":");
                write_u64(out, u64::from(r.status));
                out.extend_from_slice(b",\"reason\":");
                write_str(out, &r.reason);
                out.extend_from_slice(b",\"version\":");
                out.extend_from_slice(version_json(r.version_minor));
                out.extend_from_slice(b",\"content_type\":");
                write_opt_str_known(
                    out,
                    header(&r.headers, "content-type"),
                    r.headers.is_plain(),
                );
                out.extend_from_slice(b",\"headers\":");
                self.write_headers(&r.headers, out);
                out.extend_from_slice(b",\"body_bytes\":");
                write_u64(out, r.body_bytes);
                out.extend_from_slice(b",\"interim\":");
                serde_json::to_writer(&mut *out, &r.interim)?;
                out.push(b'}');
            }
        }
        out.extend_from_slice(b",\"latency_us\":");
        match (&tx.request, &tx.response) {
            (Some(q), Some(r)) => write_u64(out, r.ts_us.saturating_sub(q.end_ts_us)),
            _ => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"switched_protocol\":");
        match &tx.switched {
            None => out.extend_from_slice(b"null"),
            Some(crate::http::transaction::SwitchedProtocol::Connect) => write_str(out, "connect"),
            Some(crate::http::transaction::SwitchedProtocol::Upgrade(u)) => {
                write_str(out, &format!("upgrade:{}", u.to_ascii_lowercase()))
            }
        }
        out.extend_from_slice(b",\"anomalies\":");
        serde_json::to_writer(
            &mut *out,
            &Anomalies {
                http: &tx.anomalies,
                tcp: &tx.tcp_anomalies,
            },
        )?;
        if let Some(t) = self.tunnel {
            out.extend_from_slice(b",\"tunnel\":");
            serde_json::to_writer(&mut *out, t)?;
        }
        Ok(())
    }

    /// `[[name, value], ...]` with secret values redacted.
    fn write_headers(&self, headers: &Headers, out: &mut Vec<u8>) {
        use crate::json::write_str;
        out.push(b'[');
        if headers.is_plain() {
            // The usual case: the list is stored as the JSON it becomes; copy it whole
            // around the redacted values.
            let text = headers.json_fields().as_bytes();
            out.reserve(text.len() + 1);
            let mut from = 0;
            for value in headers.value_ranges(|n| self.redactor.redacts(n)) {
                out.extend_from_slice(text.get(from..value.start).unwrap_or_default());
                out.extend_from_slice(REDACTED.as_bytes());
                from = value.end;
            }
            out.extend_from_slice(text.get(from..).unwrap_or_default());
        } else {
            for (i, (n, v)) in headers.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let v = if self.redactor.redacts(n) {
                    REDACTED
                } else {
                    v
                };
                out.push(b'[');
                write_str(out, n);
                out.push(b',');
                write_str(out, v);
                out.push(b']');
            }
        }
        out.push(b']');
    }
}

/// Append the session fields of an `http` record (when `session` is given) and close it: the
/// second half of [`HttpRecord::write_json`], after [`HttpRecord::write_json_head`].
///
/// Returns the session id's hex digits, written into `hex` (the record's partitioning key):
/// the exporter's key and the record's `session_id` come from one encoding.
pub fn write_json_tail<'h>(
    session: Option<&TxSession>,
    hex: &'h mut [u8; HEX_LEN],
    out: &mut Vec<u8>,
) -> Result<Option<&'h str>, serde_json::Error> {
    use crate::json::{
        write_ip, write_object, write_opt_str, write_str, write_str_known, write_u64,
    };
    let mut key = None;
    if let Some(ts) = session {
        out.extend_from_slice(b",\"session_id\":");
        match &ts.session_id {
            Some(id) => {
                let digits = id.hex_in(hex);
                write_str_known(out, digits, true);
                key = Some(digits);
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"transaction_id\":");
        out.push(b'"');
        write_u64(out, ts.transaction_id.conn);
        out.push(b'-');
        write_u64(out, u64::from(ts.transaction_id.depth));
        out.push(b'"');
        out.extend_from_slice(b",\"session_key\":");
        match ts.key_source.as_deref() {
            None => out.extend_from_slice(b"null"),
            Some(source) => {
                out.extend_from_slice(b"{\"source\":");
                write_str(out, source);
                out.extend_from_slice(match ts.jwt_verified {
                    None => b",\"verified\":null}",
                    Some(true) => b",\"verified\":true}",
                    Some(false) => b",\"verified\":false}",
                });
            }
        }
        out.extend_from_slice(b",\"client_ip\":");
        write_ip(out, ts.client_ip);
        out.extend_from_slice(b",\"endpoint\":");
        write_opt_str(out, ts.endpoint.as_deref());
        out.extend_from_slice(b",\"context\":");
        write_object(out, ts.context.iter().map(|(k, v)| (&**k, v)), |out, v| {
            write_str(out, v)
        });
        out.extend_from_slice(b",\"session_anomalies\":[");
        for (i, a) in ts.anomalies.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, a.name());
        }
        out.push(b']');
    }
    out.push(b'}');
    Ok(key)
}

/// The http record, with the session fields appended when given.
fn serialize_http<S: Serializer>(
    rec: &HttpRecord<'_>,
    session: Option<&TxSession>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let tx = rec.tx;
    let mut st = s.serialize_struct("HttpRecord", 19)?;
    st.serialize_field("type", "http")?;
    st.serialize_field("schema_version", &SCHEMA_VERSION)?;
    st.serialize_field("ts", &Rfc3339(tx.ts_us()))?;
    st.serialize_field("conn_id", &tx.conn.0)?;
    st.serialize_field("depth", &tx.depth)?;
    st.serialize_field(
        "flow",
        &Flow {
            client: tx.client,
            server: tx.server,
        },
    )?;
    st.serialize_field(
        "request",
        &tx.request.as_ref().map(|r| RequestView {
            r,
            redactor: rec.redactor,
        }),
    )?;
    st.serialize_field(
        "response",
        &tx.response.as_ref().map(|r| ResponseView {
            r,
            redactor: rec.redactor,
        }),
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
    st.serialize_field(
        "anomalies",
        &Anomalies {
            http: &tx.anomalies,
            tcp: &tx.tcp_anomalies,
        },
    )?;
    if let Some(t) = rec.tunnel {
        st.serialize_field("tunnel", t)?;
    }
    if let Some(ts) = session {
        st.serialize_field("session_id", &ts.session_id)?;
        st.serialize_field("transaction_id", &ts.transaction_id)?;
        st.serialize_field(
            "session_key",
            &ts.key_source.as_deref().map(|source| KeyView {
                source,
                verified: ts.jwt_verified,
            }),
        )?;
        st.serialize_field("client_ip", &ts.client_ip)?;
        st.serialize_field("endpoint", &ts.endpoint)?;
        st.serialize_field("context", &Pairs(&ts.context))?;
        st.serialize_field("session_anomalies", &ts.anomalies)?;
    }
    st.end()
}

impl Serialize for HashId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; HEX_LEN];
        s.serialize_str(self.hex_in(&mut buf))
    }
}

/// A session's transaction ids as a JSON array of `<conn>-<depth>` strings.
struct TransactionIdsView<'a>(&'a TransactionIds);

impl Serialize for TransactionIdsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl Serialize for TransactionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // `<conn>-<depth>` without `fmt`: an end record lists up to thousands of these.
        let (mut conn, mut depth) = (itoa::Buffer::new(), itoa::Buffer::new());
        let (conn, depth) = (conn.format(self.conn), depth.format(self.depth));
        let mut buf = [0u8; TRANSACTION_ID_MAX_LEN];
        let len = conn.len() + 1 + depth.len();
        let text = buf.get_mut(..len).and_then(|b| {
            let (c, rest) = b.split_at_mut(conn.len());
            c.copy_from_slice(conn.as_bytes());
            let (dash, d) = rest.split_first_mut()?;
            *dash = b'-';
            d.copy_from_slice(depth.as_bytes());
            std::str::from_utf8(b).ok()
        });
        match text {
            Some(t) => s.serialize_str(t),
            None => s.collect_str(self),
        }
    }
}

/// Longest `<conn>-<depth>`: a `u64`, a dash and a `u32`.
const TRANSACTION_ID_MAX_LEN: usize = 20 + 1 + 10;

/// `session_key`: `{source, verified}`.
#[derive(Serialize)]
struct KeyView<'a> {
    /// Source label.
    source: &'a str,
    /// JWT verification, null when not applicable.
    verified: Option<bool>,
}

/// `[(name, value)]` as a JSON object, in order.
struct Pairs<'a>(&'a [(std::sync::Arc<str>, String)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(&**k, v)?;
        }
        m.end()
    }
}

/// A status key as exported: `"200"`, `"none"`, `"other"`.
impl Serialize for StatusKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StatusKey::Code(c) => s.serialize_str(itoa::Buffer::new().format(*c)),
            StatusKey::None => s.serialize_str("none"),
            StatusKey::Other => s.serialize_str("other"),
        }
    }
}

/// A first-seen-order list of distinct keys as a JSON object sorted by key.
struct SortedMap<'a, K, V>(&'a [(K, V)]);

impl<K: Ord + Serialize, V: Serialize> Serialize for SortedMap<'_, K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in sorted_by_key(self.0) {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `[{<field>: value, count: n}, ...]` of a bounded count list, sorted by value.
struct CountedView<'a, K: Ord> {
    /// The map.
    c: &'a Counted<K>,
    /// Name of the value field.
    field: &'static str,
}

impl<K: Ord + Serialize> Serialize for CountedView<'_, K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// One entry.
        struct Entry<'a, K> {
            field: &'static str,
            k: &'a K,
            n: u64,
        }
        impl<K: Serialize> Serialize for Entry<'_, K> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry(self.field, self.k)?;
                m.serialize_entry("count", &self.n)?;
                m.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.c.counts.len()))?;
        for (k, n) in sorted_by_key(&self.c.counts) {
            seq.serialize_element(&Entry {
                field: self.field,
                k,
                n: *n,
            })?;
        }
        seq.end()
    }
}

impl Serialize for EndpointAgg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Endpoint", 2)?;
        st.serialize_field("count", &self.count)?;
        st.serialize_field("status", &SortedMap(&self.status))?;
        st.end()
    }
}

impl Serialize for ParamAgg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Param", 6)?;
        st.serialize_field("present", &self.present)?;
        st.serialize_field("first", &self.first)?;
        st.serialize_field("last", &self.last)?;
        st.serialize_field("distinct", &self.distinct())?;
        st.serialize_field("distinct_capped", &self.distinct_capped)?;
        let numeric = self.numeric.map(|n| NumericView {
            count: n.count,
            sum: n.sum,
            min: n.min,
            max: n.max,
        });
        st.serialize_field("numeric", &numeric)?;
        st.end()
    }
}

/// `numeric` of a parameter.
#[derive(Serialize)]
struct NumericView {
    /// Numeric values seen.
    count: u64,
    /// Sum.
    sum: f64,
    /// Smallest.
    min: f64,
    /// Largest.
    max: f64,
}

/// Context aggregates by name.
struct ContextView<'a>(&'a std::collections::BTreeMap<std::sync::Arc<str>, ParamAgg>);

impl Serialize for ContextView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(&**k, v)?;
        }
        m.end()
    }
}

/// `"start"`, `"update"`, `"end"`.
fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Start => "start",
        Phase::Update => "update",
        Phase::End => "end",
    }
}

impl SessionRecord {
    /// Append this record as JSON: the same bytes as its `Serialize` impl through serde_json
    /// (held to them by a differential test), written directly. End records list every
    /// transaction id of their part, so these are the largest records.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        use crate::json::{
            write_ip, write_object, write_opt_str, write_str, write_ts_micros, write_u64,
        };
        let sum = &self.summary;
        let opt_id = |out: &mut Vec<u8>, id: Option<HashId>| match id {
            Some(id) => crate::json::write_hex_str(out, &id.0),
            None => out.extend_from_slice(b"null"),
        };
        out.extend_from_slice(b"{\"type\":\"session\",\"schema_version\":");
        write_u64(out, u64::from(SCHEMA_VERSION));
        out.extend_from_slice(b",\"phase\":\"");
        out.extend_from_slice(phase_name(self.phase).as_bytes());
        out.extend_from_slice(b"\",\"ts\":");
        write_ts_micros(out, self.ts_us);
        out.extend_from_slice(b",\"session_id\":");
        opt_id(out, Some(self.session_id));
        out.extend_from_slice(b",\"part\":");
        write_u64(out, u64::from(self.part));
        out.extend_from_slice(b",\"previous_part\":");
        opt_id(out, self.previous_part);
        out.extend_from_slice(b",\"linked_from\":");
        opt_id(out, self.linked_from);
        out.extend_from_slice(b",\"session_key\":{\"source\":");
        write_str(out, &self.key_source);
        out.extend_from_slice(b",\"verified\":");
        out.extend_from_slice(opt_bool(self.verified));
        out.extend_from_slice(b"},\"anonymous\":");
        out.extend_from_slice(opt_bool(Some(self.anonymous)));
        out.extend_from_slice(b",\"reason\":");
        write_opt_str(out, self.reason.map(EndReason::name));
        out.extend_from_slice(b",\"first_seen\":");
        write_ts_micros(out, sum.first_seen_us);
        out.extend_from_slice(b",\"last_seen\":");
        write_ts_micros(out, sum.last_seen_us);
        for (name, n) in [
            (
                &b",\"duration_us\":"[..],
                sum.last_seen_us.saturating_sub(sum.first_seen_us),
            ),
            (b",\"requests\":", sum.requests),
            (b",\"request_bytes\":", sum.request_bytes),
            (b",\"response_bytes\":", sum.response_bytes),
        ] {
            out.extend_from_slice(name);
            write_u64(out, n);
        }
        out.extend_from_slice(b",\"user\":");
        write_opt_str(out, sum.user.as_deref());
        out.extend_from_slice(b",\"role\":");
        write_opt_str(out, sum.role.as_deref());
        out.extend_from_slice(b",\"client_ips\":");
        write_counted(out, b"{\"ip\":", &sum.client_ips, |out, ip| {
            write_ip(out, *ip)
        });
        out.extend_from_slice(b",\"client_ips_dropped\":");
        write_u64(out, sum.client_ips.dropped);
        out.extend_from_slice(b",\"user_agents\":");
        write_counted(out, b"{\"user_agent\":", &sum.user_agents, |out, ua| {
            write_str(out, ua)
        });
        out.extend_from_slice(b",\"user_agents_dropped\":");
        write_u64(out, sum.user_agents.dropped);
        out.extend_from_slice(b",\"endpoints\":");
        let endpoints = sorted_by_key(&sum.endpoints);
        write_object(out, endpoints.iter().map(|(k, a)| (&**k, a)), |out, agg| {
            out.extend_from_slice(b"{\"count\":");
            write_u64(out, agg.count);
            out.extend_from_slice(b",\"status\":");
            write_status(out, &agg.status);
            out.push(b'}');
        });
        out.extend_from_slice(b",\"endpoints_dropped\":");
        write_u64(out, sum.endpoints_dropped);
        out.extend_from_slice(b",\"status\":");
        write_status(out, &sum.status);
        // Context aggregates hold floats: serde_json formats them.
        out.extend_from_slice(b",\"context\":");
        serde_json::to_writer(&mut *out, &ContextView(&sum.context))?;
        out.extend_from_slice(b",\"anomalies\":");
        write_object(
            out,
            sum.anomalies.iter().map(|(k, n)| (k.as_str(), *n)),
            write_u64,
        );
        out.extend_from_slice(b",\"transaction_ids\":[");
        for (i, t) in sum.transaction_ids.iter().enumerate() {
            out.extend_from_slice(if i > 0 { b",\"" } else { b"\"" });
            write_u64(out, t.conn);
            out.push(b'-');
            write_u64(out, u64::from(t.depth));
            out.push(b'"');
        }
        out.extend_from_slice(b"],\"transaction_ids_dropped\":");
        write_u64(out, sum.transaction_ids_dropped);
        out.push(b'}');
        Ok(())
    }
}

/// A count list as `[{<field>: value, "count": n}, ...]` sorted by value; `open` is
/// `{"<field>":`.
fn write_counted<K: Ord>(
    out: &mut Vec<u8>,
    open: &[u8],
    c: &Counted<K>,
    write_k: impl Fn(&mut Vec<u8>, &K),
) {
    out.push(b'[');
    for (i, (k, n)) in sorted_by_key(&c.counts).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(open);
        write_k(out, k);
        out.extend_from_slice(b",\"count\":");
        crate::json::write_u64(out, *n);
        out.push(b'}');
    }
    out.push(b']');
}

/// `true`, `false` or `null`.
fn opt_bool(b: Option<bool>) -> &'static [u8] {
    match b {
        Some(true) => b"true",
        Some(false) => b"false",
        None => b"null",
    }
}

/// A status list as a JSON object sorted by status: `{"200":3,"none":1}`.
fn write_status(out: &mut Vec<u8>, status: &[(StatusKey, u64)]) {
    use crate::json::write_u64;
    out.push(b'{');
    for (i, (k, n)) in sorted_by_key(status).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        match k {
            StatusKey::Code(c) => write_u64(out, u64::from(*c)),
            StatusKey::None => out.extend_from_slice(b"none"),
            StatusKey::Other => out.extend_from_slice(b"other"),
        }
        out.extend_from_slice(b"\":");
        write_u64(out, *n);
    }
    out.push(b'}');
}

impl Serialize for SessionRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sum = &self.summary;
        let mut st = s.serialize_struct("SessionRecord", 32)?;
        st.serialize_field("type", "session")?;
        st.serialize_field("schema_version", &SCHEMA_VERSION)?;
        st.serialize_field("phase", phase_name(self.phase))?;
        st.serialize_field("ts", &Rfc3339(self.ts_us))?;
        st.serialize_field("session_id", &self.session_id)?;
        st.serialize_field("part", &self.part)?;
        st.serialize_field("previous_part", &self.previous_part)?;
        st.serialize_field("linked_from", &self.linked_from)?;
        st.serialize_field(
            "session_key",
            &KeyView {
                source: &self.key_source,
                verified: self.verified,
            },
        )?;
        st.serialize_field("anonymous", &self.anonymous)?;
        st.serialize_field("reason", &self.reason.map(|r| r.name()))?;
        st.serialize_field("first_seen", &Rfc3339(sum.first_seen_us))?;
        st.serialize_field("last_seen", &Rfc3339(sum.last_seen_us))?;
        st.serialize_field(
            "duration_us",
            &sum.last_seen_us.saturating_sub(sum.first_seen_us),
        )?;
        st.serialize_field("requests", &sum.requests)?;
        st.serialize_field("request_bytes", &sum.request_bytes)?;
        st.serialize_field("response_bytes", &sum.response_bytes)?;
        st.serialize_field("user", &sum.user)?;
        st.serialize_field("role", &sum.role)?;
        st.serialize_field(
            "client_ips",
            &CountedView {
                c: &sum.client_ips,
                field: "ip",
            },
        )?;
        st.serialize_field("client_ips_dropped", &sum.client_ips.dropped)?;
        st.serialize_field(
            "user_agents",
            &CountedView {
                c: &sum.user_agents,
                field: "user_agent",
            },
        )?;
        st.serialize_field("user_agents_dropped", &sum.user_agents.dropped)?;
        st.serialize_field("endpoints", &SortedMap(&sum.endpoints))?;
        st.serialize_field("endpoints_dropped", &sum.endpoints_dropped)?;
        st.serialize_field("status", &SortedMap(&sum.status))?;
        st.serialize_field("context", &ContextView(&sum.context))?;
        st.serialize_field("anomalies", &sum.anomalies)?;
        st.serialize_field("transaction_ids", &TransactionIdsView(&sum.transaction_ids))?;
        st.serialize_field("transaction_ids_dropped", &sum.transaction_ids_dropped)?;
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
        st.serialize_field(
            "headers",
            &HeaderList {
                headers: &r.headers,
                redactor: self.redactor,
            },
        )?;
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
        st.serialize_field(
            "headers",
            &HeaderList {
                headers: &r.headers,
                redactor: self.redactor,
            },
        )?;
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
    use crate::http::transaction::SwitchedProtocol;
    use crate::http::{Request, Response};
    use crate::session::{Secret, SessionConfig, Sessionizer};
    use apitap_reassembly::ConnId;

    /// A transaction with every field set, and strings that need escaping.
    fn rich_tx() -> Transaction {
        let req = Request {
            method: "POST".into(),
            uri: "http://h:8080/p\"a\u{1}?q=\u{e9}#f".into(),
            version_minor: 1,
            headers: [
                ("Host", "h:8080"),
                (
                    "Authorization",
                    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln",
                ),
                ("X-Odd", "tab\there \"quoted\" back\\slash \u{7f} ✓"),
                ("User-Agent", "ua/1"),
            ]
            .into_iter()
            .collect(),
            body_bytes: 12,
            ts_us: 1_700_000_000_123_456,
            end_ts_us: 1_700_000_000_123_999,
            ..Request::default()
        };
        let resp = Response {
            status: 200,
            reason: "OK \u{0}".into(),
            version_minor: 0,
            headers: [("Content-Type", "application/json"), ("Set-Cookie", "s=1")]
                .into_iter()
                .collect(),
            body_bytes: 3,
            interim: vec![100],
            ts_us: 1_700_000_000_200_000,
            ..Response::default()
        };
        Transaction {
            conn: ConnId(7),
            depth: 2,
            zone: 0,
            client: "[2001:db8::1]:40000".parse().unwrap(),
            server: "10.0.0.2:8080".parse().unwrap(),
            request: Some(req),
            response: Some(resp),
            anomalies: vec![HttpAnomaly::GapInResponse],
            tcp_anomalies: vec![TcpAnomaly::MidStreamPickup],
            switched: Some(SwitchedProtocol::Upgrade("WebSocket".into())),
        }
    }

    /// The hand-written writer gives exactly serde_json's bytes, with and without sessions,
    /// and for a transaction without request or response.
    #[test]
    fn write_json_matches_serde() {
        let redactor = Redactor::new(&RecordConfig::default());
        let mut bare = rich_tx();
        bare.request = None;
        bare.switched = None;
        let mut no_resp = rich_tx();
        no_resp.response = None;
        let cfg = SessionConfig::default();
        let mut sessions =
            Sessionizer::new(&cfg, Secret::new(b"0123456789abcdef0123".to_vec())).unwrap();
        for tx in [rich_tx(), bare, no_resp] {
            let rec = HttpRecord {
                tx: &tx,
                redactor: &redactor,
                tunnel: None,
            };
            let mut ours = Vec::new();
            rec.write_json(None, &mut ours).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&rec).unwrap()
            );
            let session = sessions.observe(tx.ts_us(), &tx, &mut Vec::new());
            assert_tail_matches_serde(&tx, &redactor, &session);
        }
    }

    /// The record of `tx` with `session`, written by hand, is serde_json's bytes.
    fn assert_tail_matches_serde(tx: &Transaction, redactor: &Redactor, session: &TxSession) {
        let rec = || HttpRecord {
            tx,
            redactor,
            tunnel: None,
        };
        let mut ours = Vec::new();
        rec().write_json(Some(session), &mut ours).unwrap();
        let theirs = serde_json::to_string(&rec().with_session(session)).unwrap();
        assert_eq!(String::from_utf8(ours).unwrap(), theirs);
    }

    proptest::proptest! {
        /// Session records written by hand are serde_json's bytes, whatever they hold.
        #[test]
        fn session_record_matches_serde(
            phase in 0u8..3,
            ts in 0u64..4_000_000_000_000_000,
            ids in proptest::collection::vec(proptest::array::uniform16(proptest::num::u8::ANY), 3),
            links in (proptest::bool::ANY, proptest::bool::ANY),
            source in "\\PC{0,12}",
            flags in (proptest::option::of(proptest::bool::ANY), proptest::bool::ANY, proptest::option::of(0u8..5)),
            counts in proptest::collection::vec(proptest::num::u64::ANY, 6),
            who in (proptest::option::of("\\PC{0,8}"), proptest::option::of("[a-z\"]{0,5}")),
            ips in proptest::collection::vec(proptest::num::u32::ANY, 0..4),
            uas in proptest::collection::vec("\\PC{0,10}", 0..4),
            endpoints in proptest::collection::vec(("\\PC{0,10}", proptest::collection::vec(0u16..600, 0..4)), 0..4),
            anomalies in proptest::collection::btree_map("[a-z_]{1,8}", proptest::num::u64::ANY, 0..3),
            txids in proptest::collection::vec((proptest::num::u64::ANY, proptest::num::u32::ANY), 0..6),
            numbers in proptest::collection::vec(-1e12f64..1e12, 0..3),
        ) {
            use crate::session::summary::{count_status, EndReason};
            let reasons = [EndReason::Idle, EndReason::MaxDuration, EndReason::Evicted, EndReason::EndOfInput, EndReason::Shutdown];
            let mut sum = crate::session::SessionSummary {
                first_seen_us: counts[0] % 4_000_000_000_000_000,
                last_seen_us: counts[1] % 4_000_000_000_000_000,
                requests: counts[2],
                request_bytes: counts[3],
                response_bytes: counts[4],
                endpoints_dropped: counts[5],
                user: who.0.clone(),
                role: who.1.clone(),
                anomalies: anomalies.clone(),
                transaction_ids: txids.iter().map(|&(conn, depth)| TransactionId { conn, depth }).collect(),
                transaction_ids_dropped: counts[5] / 3,
                ..Default::default()
            };
            for (i, bits) in ips.iter().enumerate() {
                let ip = if i % 2 == 0 { std::net::IpAddr::V4((*bits).into()) } else { std::net::IpAddr::V6((u128::from(*bits) << 64).into()) };
                sum.client_ips.add(ip, 8);
            }
            for ua in &uas {
                sum.user_agents.add_str(ua, 3);
            }
            for (name, codes) in &endpoints {
                let mut agg = EndpointAgg { count: codes.len() as u64, ..Default::default() };
                for &c in codes {
                    let k = if c == 0 { StatusKey::None } else { StatusKey::Code(c) };
                    count_status(&mut agg.status, k);
                    count_status(&mut sum.status, k);
                }
                if !sum.endpoints.iter().any(|(n, _)| **n == **name) {
                    sum.endpoints.push((name.as_str().into(), agg));
                }
            }
            for (i, x) in numbers.iter().enumerate() {
                let mut p = ParamAgg::default();
                p.add(i as u64, Some(format!("{x}")), Some(*x), 4);
                sum.context.insert(format!("p{i}").into(), p);
            }
            let rec = SessionRecord {
                phase: [Phase::Start, Phase::Update, Phase::End][usize::from(phase)],
                ts_us: ts,
                session_id: HashId(ids[0]),
                part: (counts[0] % 7) as u32 + 1,
                previous_part: links.0.then_some(HashId(ids[1])),
                linked_from: links.1.then_some(HashId(ids[2])),
                key_source: source.as_str().into(),
                anonymous: flags.1,
                verified: flags.0,
                reason: flags.2.map(|r| reasons[usize::from(r)]),
                summary: Box::new(sum),
            };
            let mut ours = Vec::new();
            rec.write_json(&mut ours).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&rec).unwrap());
        }
    }

    proptest::proptest! {
        /// The session record's scalars serialize as their `Display` text, without `fmt`.
        #[test]
        fn session_scalars_serialize_as_displayed(
            conn in proptest::num::u64::ANY,
            depth in proptest::num::u32::ANY,
            id in proptest::array::uniform16(proptest::num::u8::ANY),
            ts in 0u64..4_000_000_000_000_000,
            code in proptest::num::u16::ANY,
        ) {
            let t = TransactionId { conn, depth };
            proptest::prop_assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
            let h = HashId(id);
            proptest::prop_assert_eq!(serde_json::to_string(&h).unwrap(), format!("\"{h}\""));
            let when = UNIX_EPOCH + Duration::from_micros(ts);
            proptest::prop_assert_eq!(
                serde_json::to_string(&Rfc3339(ts)).unwrap(),
                format!("\"{}\"", humantime::format_rfc3339_micros(when))
            );
            proptest::prop_assert_eq!(
                serde_json::to_string(&StatusKey::Code(code)).unwrap(),
                format!("\"{code}\"")
            );
        }
    }

    proptest::proptest! {
        /// Header lists, plain or not, with redacted fields anywhere: the list copied whole
        /// around redacted values gives serde_json's bytes.
        #[test]
        fn any_header_list_matches_serde(
            fields in proptest::collection::vec(
                ("Host|Cookie|authorization|X-Api-Key|Accept|[A-Za-z-]{1,12}", "[ -~]{0,24}|\\PC{0,12}"),
                0..8,
            ),
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..10),
        ) {
            let redactor = Redactor::new(&RecordConfig::default());
            let mut tx = rich_tx();
            let mut headers = Headers::from_byte_fields(
                fields.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                fields.len(),
                fields.iter().map(|(n, v)| n.len() + v.len()).sum(),
            );
            if let Some(r) = tx.response.as_mut() {
                r.headers = headers.clone();
            }
            headers.push_bytes("Set-Cookie", &raw);
            if let Some(r) = tx.request.as_mut() {
                r.headers = headers;
            }
            let rec = HttpRecord { tx: &tx, redactor: &redactor, tunnel: None };
            let mut ours = Vec::new();
            rec.write_json(None, &mut ours).unwrap();
            proptest::prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&rec).unwrap()
            );
        }
    }

    /// The session fields, written by hand, match serde_json for every shape: key present or
    /// not, verified true/false/null, context values needing escapes, anomalies.
    #[test]
    fn session_tail_matches_serde() {
        use crate::session::SessionAnomaly;
        let redactor = Redactor::new(&RecordConfig::default());
        let tx = rich_tx();
        let full = TxSession {
            session_id: Some(HashId([0xab; 16])),
            transaction_id: TransactionId { conn: 7, depth: 2 },
            key_source: Some("jwt:sub".into()),
            jwt_verified: Some(false),
            client_ip: "10.0.0.1".parse().unwrap(),
            endpoint: Some("GET /a/{id}".into()),
            context: vec![
                ("user".into(), "ann \"quoted\"\n".into()),
                ("amount".into(), "12.5".into()),
            ],
            user: Some("ann".into()),
            role: None,
            anomalies: vec![
                SessionAnomaly::JwtSignatureInvalid,
                SessionAnomaly::BodyDecodeFailed,
            ],
        };
        let verified = TxSession {
            jwt_verified: Some(true),
            anomalies: vec![],
            ..full.clone()
        };
        let keyless = TxSession {
            session_id: None,
            key_source: None,
            jwt_verified: None,
            endpoint: None,
            context: vec![],
            ..full.clone()
        };
        for ts in [full, verified, keyless] {
            assert_tail_matches_serde(&tx, &redactor, &ts);
        }
    }

    proptest::proptest! {
        /// The one-pass split, with its origin-form shortcut, gives what looking for a scheme,
        /// stripping the fragment, then splitting at `?` gives.
        #[test]
        fn split_target_matches_the_two_step_split(uri in "[/a-zé€:?#=&.]{0,80}") {
            let rest = match uri.find("://") {
                Some(i) if uri[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) => {
                    let after = &uri[i + 3..];
                    after.find(['/', '?']).map_or("", |j| &after[j..])
                }
                _ => uri.as_str(),
            };
            let rest = rest.split('#').next().unwrap_or(rest);
            let want = match rest.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (rest, None),
            };
            proptest::prop_assert_eq!(split_target(&uri), want);
        }
    }

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

    proptest::proptest! {
        /// The length and first-byte filter never changes the answer of the plain comparison.
        #[test]
        fn redaction_filter_is_exact(
            names in proptest::collection::vec("[A-Za-z0-9_-]{0,70}", 0..6),
            probe in "[A-Za-z0-9_-]{0,70}",
            pick in proptest::num::usize::ANY,
        ) {
            let cfg = RecordConfig { redact_headers: names.clone() };
            let r = Redactor::new(&cfg);
            // A configured name in another case, and an arbitrary one.
            let listed = names.get(pick % names.len().max(1)).map(|n| n.to_ascii_uppercase());
            for name in listed.iter().chain([&probe]) {
                let want = names.iter().any(|h| h.eq_ignore_ascii_case(name));
                proptest::prop_assert_eq!(r.redacts(name), want);
            }
        }
    }

    #[test]
    fn redaction_is_case_insensitive() {
        let r = Redactor::new(&RecordConfig::default());
        assert!(r.redacts("Authorization"));
        assert!(r.redacts("COOKIE"));
        assert!(!r.redacts("Host"));
    }
}
