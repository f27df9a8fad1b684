//! apitap records as the store reads them: one JSON line in, the fields the store indexes out
//! (`docs/events.md`, and the fields of `docs/ui.md` "Records read"). Pure: no I/O.
//!
//! Every field the store reads is optional: records of a sensor without attack detection or an
//! API inventory have no `attacks` or `api`, sessions off gives no `session_id` or `endpoint`.
//! Fields this reader does not know are skipped; a line that is not a JSON object with a
//! string `type` is [`RecordError`].

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Longest string kept from a record field the store indexes (endpoint, user, evidence...);
/// longer values are cut at a character boundary. Records are stored whole beside them.
pub const MAX_FIELD_CHARS: usize = 512;

/// Why a line is not a record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// Not JSON, or a field has the wrong type.
    #[error("not an apitap record: {0}")]
    Json(String),
    /// JSON without a `type` (or the wrong type for a known field).
    #[error("record without a type")]
    NoType,
    /// A timestamp that is not RFC 3339 (`2024-05-01T10:00:00.123456Z`).
    #[error("bad timestamp {0:?}")]
    Time(String),
}

/// One attack found in a transaction (`attacks[]` of an http record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attack {
    /// `sqli`, `xss`, `traversal`...
    pub class: String,
    /// The rule's stable id, e.g. `sqli.fingerprint`.
    pub rule: String,
    /// Where it was found: `path`, `query:<name>`, `header:<name>`, `body:...`.
    pub location: String,
    /// The matched fragment (at most 64 characters upstream).
    pub evidence: String,
    /// `blocked`, `rejected`, `error`, `served`, `no_response`.
    pub outcome: String,
}

/// The API inventory's verdict on a transaction (`api` of an http record).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiInfo {
    /// `documented`, `zombie`, `shadow`, `unmanaged`.
    pub status: Option<String>,
    /// The spec's operation id.
    pub operation_id: Option<String>,
    /// The spec file.
    pub spec: Option<String>,
    /// The spec's path template.
    pub template: Option<String>,
}

/// What the store keeps of an `http` record.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRow {
    /// Packet time, microseconds since the epoch.
    pub ts_us: i64,
    /// The session part (32 hex), when sessions are on and a key was present.
    pub session_id: Option<String>,
    /// `<conn_id>-<depth>`.
    pub transaction_id: String,
    /// The resolved client (else the flow's source).
    pub client_ip: Option<IpAddr>,
    /// `METHOD /template`, else `METHOD path` when sessions are off; None without a request.
    pub endpoint: Option<String>,
    /// `host METHOD /template` (API inventory), when present.
    pub endpoint_host: Option<String>,
    /// The request's `Host`.
    pub host: Option<String>,
    /// Request method.
    pub method: Option<String>,
    /// The request target as sent (path and query), shown on the session page.
    pub target: Option<String>,
    /// Final response status; None without a response.
    pub status: Option<u16>,
    /// Request end to response start.
    pub latency_us: Option<i64>,
    /// Attacks found, in record order.
    pub attacks: Vec<Attack>,
    /// The API inventory's verdict.
    pub api: ApiInfo,
    /// How the request authenticated: the session key's source (`jwt:sub`, `cookie:sid`),
    /// else the credential headers present (`authorization`, `cookie`...), else `none`.
    pub auth: String,
    /// The sensor that wrote it.
    pub sensor: Option<String>,
}

/// What the store keeps of a `session` record.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    /// The part's id.
    pub session_id: String,
    /// `start` 1, `update` 2, `end` 3: a later phase's summary replaces an earlier one.
    pub phase_rank: i64,
    /// The record's packet time.
    pub ts_us: i64,
    /// First transaction's time.
    pub first_us: i64,
    /// Last byte's time.
    pub last_us: i64,
    /// Transactions of the part so far.
    pub requests: i64,
    /// The user parameter, as exported.
    pub user: Option<String>,
    /// The role parameter.
    pub role: Option<String>,
    /// `session_key.source`.
    pub key_source: Option<String>,
    /// Client addresses.
    pub client_ips: Vec<IpAddr>,
    /// Attacks by class, summed (`attacks` object).
    pub attacks: i64,
    /// Alerts by kind, summed (`alerts` object).
    pub alerts: i64,
    /// Calls to shadow endpoints (`api_calls.shadow`).
    pub shadow: i64,
    /// Calls to zombie endpoints (`api_calls.zombie`).
    pub zombie: i64,
    /// The sensor that wrote it.
    pub sensor: Option<String>,
}

/// What the store keeps of an `alert` record.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRow {
    /// `attack`, `bola`, `shadow_api`...
    pub kind: String,
    /// When it was raised.
    pub ts_us: i64,
    /// Its first evidence transaction's time.
    pub first_us: i64,
    /// The session, for kinds about one.
    pub session_id: Option<String>,
    /// The client.
    pub client_ip: Option<IpAddr>,
    /// The user.
    pub user: Option<String>,
    /// The endpoint concerned.
    pub endpoint: Option<String>,
    /// Evidence transactions, `<conn>-<depth>`.
    pub transaction_ids: Vec<String>,
    /// The sensor that wrote it.
    pub sensor: Option<String>,
}

/// Any other record type (`websocket`, `tls`...): kept whole, found by session and time.
#[derive(Clone, Debug, PartialEq)]
pub struct OtherRow {
    /// The record's `type`.
    pub kind: String,
    /// Its time (`ts`, else `first_ts`), 0 when it has none.
    pub ts_us: i64,
    /// Its session, when it names one.
    pub session_id: Option<String>,
}

/// One parsed record.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    /// `type: "http"`.
    Http(HttpRow),
    /// `type: "session"`.
    Session(SessionRow),
    /// `type: "alert"`.
    Alert(AlertRow),
    /// Anything else.
    Other(OtherRow),
}

/// Every field of every record type the store reads, as one flat shape: one parse per line.
/// Fields whose shape differs between types stay raw and are read once the type is known.
#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(rename = "type", borrow)]
    record_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ts: Option<Cow<'a, str>>,
    #[serde(borrow)]
    first_ts: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    transaction_id: Option<Cow<'a, str>>,
    conn_id: Option<u64>,
    depth: Option<u64>,
    #[serde(borrow)]
    client_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    flow: Option<Flow<'a>>,
    #[serde(borrow)]
    endpoint: Option<Cow<'a, str>>,
    #[serde(borrow)]
    endpoint_host: Option<Cow<'a, str>>,
    #[serde(borrow)]
    request: Option<Request<'a>>,
    response: Option<Response>,
    latency_us: Option<i64>,
    #[serde(borrow)]
    attacks: Option<&'a RawValue>,
    #[serde(borrow)]
    api: Option<Api<'a>>,
    #[serde(borrow)]
    session_key: Option<SessionKey<'a>>,
    #[serde(borrow)]
    sensor_id: Option<Cow<'a, str>>,
    // Session records.
    #[serde(borrow)]
    phase: Option<Cow<'a, str>>,
    #[serde(borrow)]
    first_seen: Option<Cow<'a, str>>,
    #[serde(borrow)]
    last_seen: Option<Cow<'a, str>>,
    requests: Option<i64>,
    #[serde(borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow)]
    client_ips: Option<Vec<IpCount<'a>>>,
    #[serde(borrow)]
    alerts: Option<&'a RawValue>,
    api_calls: Option<std::collections::HashMap<String, i64>>,
    // Alert records.
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    transaction_ids: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize)]
struct Flow<'a> {
    #[serde(borrow)]
    src_ip: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    path: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow)]
    host: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    headers: Vec<(Cow<'a, str>, serde::de::IgnoredAny)>,
}

#[derive(Deserialize)]
struct Response {
    status: Option<u16>,
}

#[derive(Deserialize)]
struct Api<'a> {
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    operation_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    spec: Option<Cow<'a, str>>,
    #[serde(borrow)]
    template: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct SessionKey<'a> {
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct IpCount<'a> {
    #[serde(borrow)]
    ip: Cow<'a, str>,
}

#[derive(Deserialize)]
struct RawAttack<'a> {
    #[serde(borrow, default)]
    class: Cow<'a, str>,
    #[serde(borrow, default)]
    rule: Cow<'a, str>,
    #[serde(rename = "where", borrow, default)]
    location: Cow<'a, str>,
    #[serde(borrow, default)]
    evidence: Cow<'a, str>,
    #[serde(borrow, default)]
    outcome: Cow<'a, str>,
}

/// Request headers that carry a credential, lower-case, and the scheme name shown for each
/// when the session key does not name one.
const CREDENTIAL_HEADERS: [(&str, &str); 6] = [
    ("authorization", "authorization"),
    ("cookie", "cookie"),
    ("x-api-key", "api-key"),
    ("api-key", "api-key"),
    ("x-auth-token", "token-header"),
    ("x-access-token", "token-header"),
];

/// Parse one line. `sensor` names the sensor when the record does not (a Kafka header).
pub fn parse(line: &[u8], sensor: Option<&str>) -> Result<Parsed, RecordError> {
    let raw: Raw<'_> =
        serde_json::from_slice(line).map_err(|e| RecordError::Json(e.to_string()))?;
    let sensor = raw
        .sensor_id
        .as_deref()
        .or(sensor)
        .map(|s| clip(s).into_owned());
    match raw.record_type.as_deref() {
        Some("http") => http(raw, sensor).map(Parsed::Http),
        Some("session") => session(raw, sensor).map(Parsed::Session),
        Some("alert") => alert(raw, sensor).map(Parsed::Alert),
        Some(other) => {
            let ts = raw.ts.as_deref().or(raw.first_ts.as_deref());
            Ok(Parsed::Other(OtherRow {
                kind: clip(other).into_owned(),
                ts_us: ts.map(ts_us).transpose()?.unwrap_or(0),
                session_id: owned(raw.session_id),
            }))
        }
        None => Err(RecordError::NoType),
    }
}

fn http(raw: Raw<'_>, sensor: Option<String>) -> Result<HttpRow, RecordError> {
    let ts_us = ts_us(raw.ts.as_deref().unwrap_or_default())?;
    let transaction_id = match (&raw.transaction_id, raw.conn_id, raw.depth) {
        (Some(t), _, _) => clip(t).into_owned(),
        (None, Some(c), Some(d)) => format!("{c}-{d}"),
        _ => String::new(),
    };
    let client_ip = raw
        .client_ip
        .as_deref()
        .or(raw.flow.as_ref().and_then(|f| f.src_ip.as_deref()))
        .and_then(|s| s.parse().ok());
    let req = raw.request.as_ref();
    let method = req.and_then(|r| r.method.as_deref());
    let path = req.and_then(|r| r.path.as_deref());
    let endpoint = match (&raw.endpoint, method, path) {
        (Some(e), _, _) => Some(clip(e).into_owned()),
        (None, Some(m), Some(p)) => Some(clip(&format!("{m} {p}")).into_owned()),
        _ => None,
    };
    let attacks = match raw.attacks {
        Some(a) => serde_json::from_str::<Option<Vec<RawAttack<'_>>>>(a.get())
            .map_err(|e| RecordError::Json(format!("attacks: {e}")))?
            .unwrap_or_default()
            .into_iter()
            .map(|a| Attack {
                class: clip(&a.class).into_owned(),
                rule: clip(&a.rule).into_owned(),
                location: clip(&a.location).into_owned(),
                evidence: clip(&a.evidence).into_owned(),
                outcome: clip(&a.outcome).into_owned(),
            })
            .collect(),
        None => Vec::new(),
    };
    let api = raw.api.map_or_else(ApiInfo::default, |a| ApiInfo {
        status: owned(a.status),
        operation_id: owned(a.operation_id),
        spec: owned(a.spec),
        template: owned(a.template),
    });
    let key = raw.session_key.and_then(|k| k.source);
    let auth = auth_scheme(key.as_deref(), req.map_or(&[][..], |r| &r.headers[..]));
    Ok(HttpRow {
        ts_us,
        session_id: owned(raw.session_id),
        transaction_id,
        client_ip,
        endpoint,
        endpoint_host: owned(raw.endpoint_host),
        host: req
            .and_then(|r| r.host.as_deref())
            .map(|s| clip(s).into_owned()),
        method: method.map(|s| clip(s).into_owned()),
        target: req
            .and_then(|r| r.uri.as_deref().or(r.path.as_deref()))
            .map(|s| clip(s).into_owned()),
        status: raw.response.and_then(|r| r.status),
        latency_us: raw.latency_us,
        attacks,
        api,
        auth,
        sensor,
    })
}

/// How a request authenticated (see [`HttpRow::auth`]).
fn auth_scheme(
    key_source: Option<&str>,
    headers: &[(Cow<'_, str>, serde::de::IgnoredAny)],
) -> String {
    if let Some(k) = key_source.filter(|k| !k.starts_with("fallback")) {
        return clip(k).into_owned();
    }
    let mut found: Vec<&str> = Vec::new();
    for (name, _) in headers {
        for (h, scheme) in CREDENTIAL_HEADERS {
            if name.eq_ignore_ascii_case(h) && !found.contains(&scheme) {
                found.push(scheme);
            }
        }
    }
    if found.is_empty() {
        "none".into()
    } else {
        found.join("+")
    }
}

fn session(raw: Raw<'_>, sensor: Option<String>) -> Result<SessionRow, RecordError> {
    let session_id =
        owned(raw.session_id).ok_or(RecordError::Json("session without session_id".into()))?;
    let ts = ts_us(raw.ts.as_deref().unwrap_or_default())?;
    let first_us = raw
        .first_seen
        .as_deref()
        .map(ts_us)
        .transpose()?
        .unwrap_or(ts);
    let last_us = raw
        .last_seen
        .as_deref()
        .map(ts_us)
        .transpose()?
        .unwrap_or(ts);
    let calls = raw.api_calls.unwrap_or_default();
    Ok(SessionRow {
        session_id,
        phase_rank: match raw.phase.as_deref() {
            Some("start") => 1,
            Some("update") => 2,
            Some("end") => 3,
            _ => 0,
        },
        ts_us: ts,
        first_us,
        last_us,
        requests: raw.requests.unwrap_or(0),
        user: owned(raw.user),
        role: owned(raw.role),
        key_source: raw.session_key.and_then(|k| owned(k.source)),
        client_ips: raw
            .client_ips
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.ip.parse().ok())
            .collect(),
        attacks: sum_counts(raw.attacks)?,
        alerts: sum_counts(raw.alerts)?,
        shadow: calls.get("shadow").copied().unwrap_or(0),
        zombie: calls.get("zombie").copied().unwrap_or(0),
        sensor,
    })
}

/// The sum of a `{name: count}` object (a session's `attacks` or `alerts`); 0 when absent.
fn sum_counts(v: Option<&RawValue>) -> Result<i64, RecordError> {
    let Some(v) = v else { return Ok(0) };
    let m: Option<std::collections::HashMap<String, i64>> =
        serde_json::from_str(v.get()).map_err(|e| RecordError::Json(format!("counts: {e}")))?;
    Ok(m.unwrap_or_default().values().sum())
}

fn alert(raw: Raw<'_>, sensor: Option<String>) -> Result<AlertRow, RecordError> {
    let ts = ts_us(raw.ts.as_deref().unwrap_or_default())?;
    Ok(AlertRow {
        kind: owned(raw.kind).unwrap_or_else(|| "unknown".into()),
        ts_us: ts,
        first_us: raw
            .first_ts
            .as_deref()
            .map(ts_us)
            .transpose()?
            .unwrap_or(ts),
        session_id: owned(raw.session_id),
        client_ip: raw.client_ip.as_deref().and_then(|s| s.parse().ok()),
        user: owned(raw.user),
        endpoint: owned(raw.endpoint),
        transaction_ids: raw
            .transaction_ids
            .unwrap_or_default()
            .iter()
            .map(|t| clip(t).into_owned())
            .collect(),
        sensor,
    })
}

/// A field cut to [`MAX_FIELD_CHARS`].
fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(MAX_FIELD_CHARS) {
        Some((at, _)) => Cow::Owned(s[..at].to_owned()),
        None => Cow::Borrowed(s),
    }
}

fn owned(s: Option<Cow<'_, str>>) -> Option<String> {
    s.map(|s| clip(&s).into_owned())
}

/// An RFC 3339 timestamp as microseconds since the epoch (negative before 1970).
pub fn ts_us(s: &str) -> Result<i64, RecordError> {
    let t = humantime::parse_rfc3339_weak(s).map_err(|_| RecordError::Time(s.to_owned()))?;
    Ok(match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    })
}

/// Microseconds since the epoch as `2024-05-01 10:00:00.123` (UTC), for display.
pub fn show_ts(us: i64) -> String {
    let t = if us >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_micros(us.unsigned_abs())
    } else {
        std::time::UNIX_EPOCH
    };
    let s = humantime::format_rfc3339_millis(t).to_string();
    s.trim_end_matches('Z').replacen('T', " ", 1)
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
