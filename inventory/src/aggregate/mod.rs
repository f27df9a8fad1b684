//! The inventory aggregated from records: feed [`Aggregator::add`] every parsed record
//! (`http` and `session`; others are skipped), then [`Aggregator::finish`].
//!
//! It reads what docs/events.md describes, plus the `api` object ([`ApiRecord`]) when the
//! sensor classified; without it, an endpoint is named by the record's `endpoint` (or the
//! path, with numeric and UUID segments as parameters) and its status is `unmanaged`.

mod model;
mod table;

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use hashbrown::HashMap;
use serde::Deserialize;
use serde_json::Value;

pub use model::{
    AggregatorStats, DistinctCount, EndpointInventory, HostInventory, Inventory, NameCounts,
    ParamKinds, ResponseInventory, OTHER,
};
pub use table::render_table;

use crate::matcher::{ApiReason, ApiStatus};
use crate::record::ApiRecord;

/// Hosts kept; requests to more are counted in `hosts_dropped`.
pub const MAX_HOSTS: usize = 10_000;

/// Endpoints kept per host; requests to more are counted in `endpoints_dropped` (a scanner
/// walking random paths makes one endpoint per path).
pub const MAX_ENDPOINTS_PER_HOST: usize = 2_000;

/// Distinct sessions (and users) counted exactly per endpoint; beyond it the count is
/// marked `capped`.
pub const MAX_DISTINCT_PER_ENDPOINT: usize = 10_000;

/// Names kept per endpoint and list (query parameters, media types, auth schemes, drift,
/// attack kinds); more are counted under `(other)`.
pub const MAX_NAMES_PER_ENDPOINT: usize = 64;

/// Sessions whose user is remembered (from `session` records); more are counted in
/// `session_users_dropped`.
pub const MAX_SESSION_USERS: usize = 1_000_000;

/// What [`Aggregator::add`] did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// An `http` record, counted.
    Http,
    /// A `session` record, read for its user.
    Session,
    /// Another type, or an `http` record without a request.
    Skipped,
}

/// Builds an [`Inventory`] from records, one at a time.
#[derive(Debug, Default)]
pub struct Aggregator {
    /// Per host, per (template, method).
    hosts: BTreeMap<String, BTreeMap<(String, String), EndpointInventory>>,
    /// Requests per host.
    host_requests: BTreeMap<String, u64>,
    /// Session hash to user.
    users: HashMap<u64, u64>,
    /// Counters.
    stats: AggregatorStats,
}

/// A fixed-seed hash of a string (session ids and users are only counted).
fn hash(s: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6170_6974_6170).hash_one(s)
}

/// The string at `key` of `v`.
fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// A media type without parameters, lowercase.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl Aggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Aggregator::default()
    }

    /// Read one record.
    pub fn add(&mut self, record: &Value) -> Added {
        match str_at(record, "type") {
            Some("http") => self.add_http(record),
            Some("session") => self.add_session(record),
            _ => {
                self.stats.skipped_records += 1;
                Added::Skipped
            }
        }
    }

    /// A session record: its user, if any.
    fn add_session(&mut self, record: &Value) -> Added {
        self.stats.session_records += 1;
        if let (Some(id), Some(user)) = (str_at(record, "session_id"), str_at(record, "user")) {
            let key = hash(id);
            if self.users.len() < MAX_SESSION_USERS || self.users.contains_key(&key) {
                self.users.insert(key, hash(user));
            } else {
                self.stats.session_users_dropped += 1;
            }
        }
        Added::Session
    }

    /// An http record.
    fn add_http(&mut self, record: &Value) -> Added {
        let Some(request) = record.get("request").filter(|r| r.is_object()) else {
            self.stats.skipped_records += 1;
            return Added::Skipped;
        };
        self.stats.http_records += 1;
        let api = match record.get("api").filter(|a| !a.is_null()) {
            None => None,
            Some(a) => match ApiRecord::deserialize(a) {
                Ok(api) => Some(api),
                Err(_) => {
                    self.stats.unreadable_api += 1;
                    None
                }
            },
        };
        let method = str_at(request, "method").unwrap_or("");
        let path = str_at(request, "path").unwrap_or("/");
        let host = host_of(record, request);
        let template = template_of(api.as_ref(), record, path);
        let ts = str_at(record, "ts").unwrap_or("");
        let Some(ep) = self.endpoint(&host, method, &template, path, ts) else {
            return Added::Http;
        };
        ep.requests += 1;
        if ts < ep.first_seen.as_str() {
            ep.first_seen = ts.into();
        }
        if ts > ep.last_seen.as_str() {
            ep.last_seen = ts.into();
        }
        note_api(ep, api.as_ref());
        if api.is_none() {
            note_auth_from_headers(ep, request);
        }
        note_request(ep, request, path);
        note_response(ep, record.get("response"), api.as_ref());
        if let Some(id) = str_at(record, "session_id") {
            ep.session_hashes.add(hash(id));
        }
        note_attacks(ep, record.get("attacks"));
        Added::Http
    }

    /// The endpoint to count into, made if there is room.
    fn endpoint(
        &mut self,
        host: &str,
        method: &str,
        template: &str,
        path: &str,
        ts: &str,
    ) -> Option<&mut EndpointInventory> {
        if !self.hosts.contains_key(host) && self.hosts.len() >= MAX_HOSTS {
            self.stats.hosts_dropped += 1;
            return None;
        }
        *self.host_requests.entry(host.to_string()).or_default() += 1;
        let endpoints = self.hosts.entry(host.to_string()).or_default();
        let key = (template.to_string(), method.to_string());
        if !endpoints.contains_key(&key) && endpoints.len() >= MAX_ENDPOINTS_PER_HOST {
            self.stats.endpoints_dropped += 1;
            return None;
        }
        Some(
            endpoints
                .entry(key)
                .or_insert_with(|| EndpointInventory::new(method, template, path, ts)),
        )
    }

    /// The inventory: hosts sorted, endpoints by template then method, users resolved.
    pub fn finish(self) -> Inventory {
        let users = self.users;
        let hosts = self
            .hosts
            .into_iter()
            .map(|(host, endpoints)| HostInventory {
                requests: self.host_requests.get(&host).copied().unwrap_or(0),
                host,
                endpoints: endpoints
                    .into_values()
                    .map(|mut ep| {
                        ep.sessions = ep.session_hashes.count();
                        let mut distinct_users = model::Distinct::default();
                        for s in ep.session_hashes.iter() {
                            if let Some(u) = users.get(&s) {
                                distinct_users.add(*u);
                            }
                        }
                        ep.users = distinct_users.count();
                        ep.users.capped |= ep.sessions.capped;
                        ep
                    })
                    .collect(),
            })
            .collect();
        Inventory {
            hosts,
            stats: self.stats,
        }
    }
}

/// The host of a record: `request.host` lowercase, else the server's address.
fn host_of(record: &Value, request: &Value) -> String {
    if let Some(h) = str_at(request, "host").filter(|h| !h.is_empty()) {
        return h.trim_end_matches('.').to_ascii_lowercase();
    }
    let flow = record.get("flow");
    let ip = flow.and_then(|f| str_at(f, "dst_ip")).unwrap_or("unknown");
    match flow.and_then(|f| f.get("dst_port")).and_then(Value::as_u64) {
        Some(port) if ip.contains(':') => format!("[{ip}]:{port}"),
        Some(port) => format!("{ip}:{port}"),
        None => ip.to_string(),
    }
}

/// The endpoint template: the spec's, else apitap's `endpoint` name, else the path with
/// numeric and UUID segments as parameters.
fn template_of(api: Option<&ApiRecord>, record: &Value, path: &str) -> String {
    if let Some(t) = api.and_then(|a| a.template.as_deref()) {
        return t.to_string();
    }
    if let Some((_, t)) = str_at(record, "endpoint").and_then(|e| e.split_once(' ')) {
        return t.to_string();
    }
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        match param_kind(seg) {
            Kind::Integer if !seg.is_empty() => out.push_str("{id}"),
            Kind::Uuid => out.push_str("{uuid}"),
            _ => out.push_str(seg),
        }
    }
    out
}

/// The kind of a path parameter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// All digits.
    Integer,
    /// A UUID.
    Uuid,
    /// Anything else.
    String,
}

/// The kind of one value.
fn param_kind(seg: &str) -> Kind {
    if seg.bytes().all(|b| b.is_ascii_digit()) {
        Kind::Integer
    } else if crate::schema::string_format(seg) == Some(crate::schema::StringFormat::Uuid) {
        Kind::Uuid
    } else {
        Kind::String
    }
}

/// Count the record's `api` fields.
fn note_api(ep: &mut EndpointInventory, api: Option<&ApiRecord>) {
    let Some(api) = api else {
        *ep.api.entry(ApiStatus::Unmanaged).or_default() += 1;
        return;
    };
    *ep.api.entry(api.status).or_default() += 1;
    if ep.spec.is_none() && api.reason != ApiReason::NoSpec {
        ep.spec = api.spec.as_deref().map(String::from);
    }
    if ep.operation_id.is_none() {
        ep.operation_id = api.operation_id.as_deref().map(String::from);
    }
    for d in &api.drift {
        ep.drift.add(&d.key());
    }
    for a in &api.auth {
        match &a.name {
            Some(n) => ep.auth.add(&format!("{}:{n}", a.scheme.as_str())),
            None => ep.auth.add(a.scheme.as_str()),
        }
    }
    if let Some(s) = &api.request_schema {
        ep.request_schema
            .get_or_insert_with(Default::default)
            .merge(&s.schema);
    }
}

/// Without `api.auth`: the schemes the record's header names show. Redaction hid the
/// `Authorization` scheme, so it counts as `authorization`.
fn note_auth_from_headers(ep: &mut EndpointInventory, request: &Value) {
    let headers = request.get("headers").and_then(Value::as_array);
    let pairs = headers.into_iter().flatten().filter_map(|h| {
        let pair = h.as_array()?;
        Some((
            pair.first()?.as_str()?.as_bytes(),
            pair.get(1)?.as_str()?.as_bytes(),
        ))
    });
    for a in crate::auth::detect_auth(pairs, str_at(request, "query"), None) {
        match (a.scheme, a.name) {
            (crate::auth::AuthScheme::OtherAuthorization, _) => ep.auth.add("authorization"),
            (s, Some(n)) => ep.auth.add(&format!("{}:{n}", s.as_str())),
            (s, None) => ep.auth.add(s.as_str()),
        }
    }
}

/// Count the request's query names, media type and path parameter kinds.
fn note_request(ep: &mut EndpointInventory, request: &Value, path: &str) {
    if let Some(q) = str_at(request, "query") {
        for name in crate::matcher::query_names(q) {
            ep.query_params.add(&name);
        }
    }
    if let Some(ct) = str_at(request, "content_type") {
        ep.request_content_types.add(&essence(ct));
    }
    let names: Vec<&str> = ep.template.split('/').collect();
    let values: Vec<&str> = path.split('/').collect();
    if names.len() != values.len() {
        return;
    }
    let params = template_params(&ep.template);
    let mut next = params.iter();
    for (name, value) in names.iter().zip(&values) {
        if !name.contains('{') {
            continue;
        }
        // Every parameter of the segment takes its place in `params`; only a whole-segment
        // one has a value of its own.
        let whole = name.starts_with('{') && name.ends_with('}') && name.matches('{').count() == 1;
        let taken: Vec<&String> = next.by_ref().take(name.matches('{').count()).collect();
        let (true, [param]) = (whole, taken.as_slice()) else {
            continue;
        };
        if value.is_empty()
            || (!ep.path_params.contains_key(*param)
                && ep.path_params.len() >= MAX_NAMES_PER_ENDPOINT)
        {
            continue;
        }
        let kinds = ep.path_params.entry((*param).clone()).or_default();
        match param_kind(value) {
            Kind::Integer => kinds.integer += 1,
            Kind::Uuid => kinds.uuid += 1,
            Kind::String => kinds.string += 1,
        }
    }
}

/// The parameter names of a template in order, a repeated one numbered from its second
/// time (`/users/{id}/orders/{id}`: `id`, `id2`), as the inventory and the OpenAPI document
/// name them.
pub fn template_params(template: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let raw = rest.get(open + 1..close).unwrap_or("");
        let mut name = raw.to_string();
        let mut n = 2;
        while out.contains(&name) {
            name = format!("{raw}{n}");
            n += 1;
        }
        out.push(name);
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out
}

/// Count the response's status, media type and schema.
fn note_response(ep: &mut EndpointInventory, response: Option<&Value>, api: Option<&ApiRecord>) {
    let Some(status) = response
        .and_then(|r| r.get("status"))
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
    else {
        ep.no_response += 1;
        return;
    };
    let r = ep.responses.entry(status).or_default();
    r.count += 1;
    if let Some(ct) = response.and_then(|r| str_at(r, "content_type")) {
        r.content_types.add(&essence(ct));
    }
    if let Some(s) = api.and_then(|a| a.response_schema.as_ref()) {
        r.schema
            .get_or_insert_with(Default::default)
            .merge(&s.schema);
    }
}

/// Count the record's attacks (`attacks`: strings, or objects with `kind`).
fn note_attacks(ep: &mut EndpointInventory, attacks: Option<&Value>) {
    let Some(list) = attacks.and_then(Value::as_array) else {
        return;
    };
    if !list.is_empty() {
        ep.attacks.add("requests");
    }
    for a in list {
        let kind = a
            .as_str()
            .or_else(|| str_at(a, "kind"))
            .unwrap_or("unknown");
        ep.attacks.add(kind);
    }
}

#[cfg(test)]
mod tests;
