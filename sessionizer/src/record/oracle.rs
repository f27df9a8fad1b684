//! The test oracle of the record writers: `serde` implementations of every record, written
//! the plain way, and differential tests holding the hand-written writers to `serde_json`'s
//! bytes. Test builds only.

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use apitap_reassembly::TcpAnomaly;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, Serializer};
use serde::Serialize;

use crate::http::target::{split_target, target_authority};
use crate::http::{Headers, HttpAnomaly, Request, Response, Transaction};
use crate::session::secret::HEX_LEN;
use crate::session::summary::{sorted_by_key, Counted, EndpointAgg, ParamAgg, StatusKey};
use crate::session::{HashId, Phase, SessionRecord, TransactionId, TransactionIds, TxSession};
use crate::tunnel::TunnelInfo;

use super::session::phase_name;
use super::{HttpRecord, Redactor, SCHEMA_VERSION};

/// RFC 3339 UTC with microseconds, from packet time.
struct Rfc3339(u64);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Independent of the writer under test: humantime's formatter.
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
struct HeaderList<'a> {
    headers: &'a Headers,
    redactor: &'a Redactor,
}

impl Serialize for HeaderList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.headers.len()))?;
        for (n, v) in self.headers {
            seq.serialize_element(&(n, &*self.redactor.header_value(n, v)))?;
        }
        seq.end()
    }
}

/// `HTTP/2`, or `HTTP/1.x` from the minor version.
fn version(h2: bool, minor: u8) -> &'static str {
    match (h2, minor) {
        (true, _) => "HTTP/2",
        (false, 0) => "HTTP/1.0",
        (false, _) => "HTTP/1.1",
    }
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
    st.serialize_field("sensor_id", &rec.sensor_id)?;
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
            h2: tx.http2.is_some(),
            redactor: rec.redactor,
        }),
    )?;
    st.serialize_field(
        "response",
        &tx.response.as_ref().map(|r| ResponseView {
            r,
            h2: tx.http2.is_some(),
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
            h2: tx.http2.as_ref().map_or(&[][..], |h| &h.anomalies[..]),
            tcp: &tx.tcp_anomalies,
        },
    )?;
    if let Some(api) = rec.api {
        st.serialize_field("api", api)?;
    }
    if let Some(t) = rec.tunnel {
        st.serialize_field("tunnel", t)?;
    }
    if let Some(h2) = &tx.http2 {
        st.serialize_field("stream_id", &h2.stream_id)?;
        if let Some((by, code)) = h2.reset {
            let by = match by {
                apitap_reassembly::Side::Client => "client",
                apitap_reassembly::Side::Server => "server",
            };
            st.serialize_field("reset", &serde_json::json!({"by": by, "error_code": code}))?;
        }
        if let Some(g) = &h2.grpc {
            st.serialize_field("grpc", &GrpcView(g))?;
        }
    }
    if let Some(a) = &tx.connect_authority {
        st.serialize_field("connect_authority", &**a)?;
    }
    if tx.decrypted {
        st.serialize_field("decrypted", &true)?;
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

impl Serialize for SessionRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sum = &self.summary;
        let mut st = s.serialize_struct("SessionRecord", 32)?;
        st.serialize_field("type", "session")?;
        st.serialize_field("schema_version", &SCHEMA_VERSION)?;
        st.serialize_field("sensor_id", &None::<&str>)?;
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
        st.serialize_field("alerts", &sum.alerts)?;
        st.serialize_field("attacks", &sum.attacks)?;
        st.serialize_field("attack_outcomes", &sum.attack_outcomes)?;
        st.serialize_field("first_attack_ts", &sum.first_attack_ts_us.map(Rfc3339))?;
        st.serialize_field(
            "requests_before_first_attack",
            &sum.requests_before_first_attack,
        )?;
        let api_calls: std::collections::BTreeMap<&str, u64> = sum.api_calls.iter().collect();
        st.serialize_field("api_calls", &api_calls)?;
        st.serialize_field("shadow_endpoints", &sum.shadow_endpoints)?;
        st.serialize_field("zombie_endpoints", &sum.zombie_endpoints)?;
        st.serialize_field("api_endpoints_dropped", &sum.api_endpoints_dropped)?;
        if let Some(n) = sum.websocket_messages {
            st.serialize_field("websocket_messages", &n)?;
        }
        st.serialize_field("transaction_ids", &TransactionIdsView(&sum.transaction_ids))?;
        st.serialize_field("transaction_ids_dropped", &sum.transaction_ids_dropped)?;
        st.end()
    }
}

/// The `grpc` object, field by field in the writer's order.
struct GrpcView<'a>(&'a crate::http2::GrpcCall);

impl Serialize for GrpcView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.0;
        let mut st = s.serialize_struct("Grpc", 8)?;
        st.serialize_field("service", &g.service)?;
        st.serialize_field("method", &g.method)?;
        st.serialize_field("status", &g.status)?;
        st.serialize_field("message", &g.message)?;
        st.serialize_field("request_messages", &g.request.messages)?;
        st.serialize_field("response_messages", &g.response.messages)?;
        st.serialize_field("request_message_bytes", &g.request.bytes)?;
        st.serialize_field("response_message_bytes", &g.response.bytes)?;
        st.end()
    }
}

/// The request object.
struct RequestView<'a> {
    r: &'a Request,
    h2: bool,
    redactor: &'a Redactor,
}

impl Serialize for RequestView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.r;
        let red = self.redactor;
        let uri = red.url(&r.uri);
        let (path, query) = split_target(&uri);
        let field = |n: &str| {
            r.headers
                .get(n)
                .map(|v| red.header_value(n, v).into_owned())
        };
        let host = r
            .authority
            .as_deref()
            .map(|a| red.header_value("host", a).into_owned())
            .or_else(|| target_authority(&r.uri).map(str::to_string))
            .or_else(|| field("host"));
        let mut st = s.serialize_struct("Request", 10)?;
        st.serialize_field("method", &r.method)?;
        st.serialize_field("uri", &uri)?;
        st.serialize_field("path", path)?;
        st.serialize_field("query", &query)?;
        st.serialize_field("host", &host)?;
        st.serialize_field("version", version(self.h2, r.version_minor))?;
        st.serialize_field("user_agent", &field("user-agent"))?;
        st.serialize_field("content_type", &field("content-type"))?;
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
    h2: bool,
    redactor: &'a Redactor,
}

impl Serialize for ResponseView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.r;
        let mut st = s.serialize_struct("Response", 8)?;
        st.serialize_field("status", &r.status)?;
        st.serialize_field("reason", &r.reason)?;
        st.serialize_field("version", version(self.h2, r.version_minor))?;
        let ct = r.headers.get("content-type");
        let ct = ct.map(|v| self.redactor.header_value("content-type", v));
        st.serialize_field("content_type", &ct.as_deref())?;
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

/// HTTP, HTTP/2 then TCP anomalies, as one list of snake_case names.
struct Anomalies<'a> {
    http: &'a [HttpAnomaly],
    h2: &'a [crate::http2::H2Anomaly],
    tcp: &'a [TcpAnomaly],
}

impl Serialize for Anomalies<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.http.len() + self.h2.len() + self.tcp.len();
        let mut seq = s.serialize_seq(Some(n))?;
        for a in self.http {
            seq.serialize_element(a)?;
        }
        for a in self.h2 {
            seq.serialize_element(a)?;
        }
        for a in self.tcp {
            seq.serialize_element(a)?;
        }
        seq.end()
    }
}

impl Serialize for TunnelInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let id = self.kind.id_name().zip(self.id);
        let mut m = s.serialize_map(Some(4 + usize::from(id.is_some())))?;
        m.serialize_entry("type", self.kind.name())?;
        if let Some((name, v)) = id {
            m.serialize_entry(name, &v)?;
        }
        m.serialize_entry("outer_src", &self.outer_src)?;
        m.serialize_entry("outer_dst", &self.outer_dst)?;
        m.serialize_entry("depth", &self.depth)?;
        m.end()
    }
}

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
            http2: None,
            connect_authority: None,
            decrypted: false,
            gate: crate::http::GateVerdict::NotAsked,
        }
    }

    /// The hand-written writer gives exactly serde_json's bytes, with and without sessions,
    /// and for a transaction without request or response.
    #[test]
    fn write_json_matches_serde() {
        let redactor = Redactor::default_rules();
        let mut bare = rich_tx();
        bare.request = None;
        bare.switched = None;
        let mut no_resp = rich_tx();
        no_resp.response = None;
        let mut h2 = rich_tx();
        h2.switched = None;
        h2.connect_authority = Some("proxy.example:443".into());
        h2.decrypted = true;
        if let Some(r) = h2.request.as_mut() {
            r.uri = "/shop.Orders/GetOrder".into();
            r.authority = Some("orders.svc:50051".into());
        }
        h2.http2 = Some(Box::new(crate::http::Http2Info {
            stream_id: 7,
            pushed: false,
            reset: Some((apitap_reassembly::Side::Server, 8)),
            grpc: Some(crate::http2::GrpcCall {
                service: "shop.Orders".into(),
                method: "GetOrder".into(),
                status: Some(5),
                message: Some("not \"found\"".into()),
                ..Default::default()
            }),
            anomalies: vec![crate::http2::H2Anomaly::RstStream],
        }));
        let mut grpc_ok = h2.clone();
        if let Some(h) = grpc_ok.http2.as_mut() {
            h.reset = None;
            if let Some(g) = h.grpc.as_mut() {
                (g.status, g.message) = (None, None);
            }
        }
        let cfg = SessionConfig::default();
        let mut sessions =
            Sessionizer::new(&cfg, Secret::new(b"0123456789abcdef0123".to_vec())).unwrap();
        for tx in [rich_tx(), bare, no_resp, h2, grpc_ok] {
            let rec = HttpRecord {
                tx: &tx,
                redactor: &redactor,
                tunnel: None,
                attacks: None,
                api: None,
                sensor_id: None,
            };
            let mut ours = Vec::new();
            rec.write_json(None, &mut ours);
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
            attacks: None,
            api: None,
            sensor_id: None,
        };
        let mut ours = Vec::new();
        rec().write_json(Some(session), &mut ours);
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
            alerts in proptest::collection::btree_map(proptest::sample::select(vec!["bola", "enumeration", "brute_force", "attack"]), proptest::num::u64::ANY, 0..3),
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
                alerts: alerts.clone(),
                transaction_ids: txids.iter().map(|&(conn, depth)| TransactionId { conn, depth }).collect(),
                transaction_ids_dropped: counts[5] / 3,
                first_attack_ts_us: links.0.then_some(counts[0] % 4_000_000_000_000_000),
                requests_before_first_attack: links.1.then_some(counts[3] % 1000),
                websocket_messages: flags.0.map(|_| counts[4] / 7),
                ..Default::default()
            };
            if links.0 {
                sum.attacks.insert("sqli", counts[1] % 9);
                sum.attack_outcomes.insert("served", counts[2] % 9);
                sum.api_calls.add(apitap_inventory::ApiStatus::Shadow, counts[3] % 9);
                sum.api_calls.add(apitap_inventory::ApiStatus::Documented, counts[2] % 5);
                sum.shadow_endpoints.push(source.as_str().into());
                sum.zombie_endpoints.push("GET /v0/\"x\"".into());
                sum.api_endpoints_dropped = counts[4] % 7;
            }
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
            rec.write_json(None, &mut ours);
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
            let redactor = Redactor::default_rules();
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
            let rec = HttpRecord { tx: &tx, redactor: &redactor, tunnel: None, attacks: None, api: None, sensor_id: None };
            let mut ours = Vec::new();
            rec.write_json(None, &mut ours);
            proptest::prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&rec).unwrap()
            );
        }
    }

    /// RFC 9112 section 3.2.2: with an absolute-form target the host is the target's
    /// authority, whatever Host says (issue 21: the mismatch is flagged, the record follows
    /// the target); without one, Host.
    #[test]
    fn absolute_form_target_names_the_host() {
        let redactor = Redactor::default_rules();
        let host_of = |uri: &str, host: &str| {
            let mut tx = rich_tx();
            let r = tx.request.as_mut().unwrap();
            r.uri = uri.into();
            r.headers = [("Host", host)].into_iter().collect();
            let mut out = Vec::new();
            HttpRecord {
                tx: &tx,
                redactor: &redactor,
                tunnel: None,
                attacks: None,
                api: None,
                sensor_id: None,
            }
            .write_json(None, &mut out);
            assert_eq!(
                String::from_utf8(out.clone()).unwrap(),
                serde_json::to_string(&HttpRecord {
                    tx: &tx,
                    redactor: &redactor,
                    tunnel: None,
                    attacks: None,
                    api: None,
                    sensor_id: None,
                })
                .unwrap()
            );
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            v["request"]["host"].as_str().map(str::to_owned)
        };
        assert_eq!(
            host_of("http://admin.internal/x", "a.example").as_deref(),
            Some("admin.internal")
        );
        assert_eq!(
            host_of("http://u:pw@admin.internal:8080/x", "a").as_deref(),
            Some("admin.internal:8080")
        );
        assert_eq!(host_of("/x", "a.example").as_deref(), Some("a.example"));
    }

    /// The session fields, written by hand, match serde_json for every shape: key present or
    /// not, verified true/false/null, context values needing escapes, anomalies.
    #[test]
    fn session_tail_matches_serde() {
        use crate::session::SessionAnomaly;
        let redactor = Redactor::default_rules();
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
            login_user: None,
            anomalies: vec![
                SessionAnomaly::JwtSignatureInvalid,
                SessionAnomaly::BodyDecodeFailed,
            ],
            slot: None,
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
}
