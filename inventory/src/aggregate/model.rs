//! The inventory: per host, per endpoint, what traffic showed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::matcher::ApiStatus;
use crate::schema::Schema;

use super::{MAX_DISTINCT_PER_ENDPOINT, MAX_NAMES_PER_ENDPOINT};

/// The whole inventory.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Inventory {
    /// Hosts, sorted.
    pub hosts: Vec<HostInventory>,
    /// What the aggregator read and left out.
    pub stats: AggregatorStats,
}

/// Counters of the aggregator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AggregatorStats {
    /// `http` records read into the inventory.
    pub http_records: u64,
    /// `session` records read (for users).
    pub session_records: u64,
    /// Records of other types, or without the fields needed (no request).
    pub skipped_records: u64,
    /// `http` records whose `api` object could not be read (counted as without one).
    pub unreadable_api: u64,
    /// Requests to hosts past [`super::MAX_HOSTS`].
    pub hosts_dropped: u64,
    /// Requests to endpoints past [`super::MAX_ENDPOINTS_PER_HOST`].
    pub endpoints_dropped: u64,
    /// Sessions whose user was not kept past [`super::MAX_SESSION_USERS`].
    pub session_users_dropped: u64,
}

/// One host.
#[derive(Clone, Debug, Serialize)]
pub struct HostInventory {
    /// The host, lowercase, as in `Host` (or the server address when there was none).
    pub host: String,
    /// Requests to it.
    pub requests: u64,
    /// Its endpoints, sorted by template then method.
    pub endpoints: Vec<EndpointInventory>,
}

/// A count of distinct things, exact up to a bound.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Distinct {
    /// Hashes seen, at most [`MAX_DISTINCT_PER_ENDPOINT`].
    seen: BTreeSet<u64>,
    /// A new one came past the bound: the count is a lower bound.
    capped: bool,
}

impl Distinct {
    /// Note one.
    pub fn add(&mut self, h: u64) {
        if self.seen.len() < MAX_DISTINCT_PER_ENDPOINT {
            self.seen.insert(h);
        } else if !self.seen.contains(&h) {
            self.capped = true;
        }
    }

    /// The hashes.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.seen.iter().copied()
    }

    /// How many, and whether that is a lower bound.
    pub fn count(&self) -> DistinctCount {
        DistinctCount {
            count: self.seen.len() as u64,
            capped: self.capped,
        }
    }
}

/// A distinct count as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DistinctCount {
    /// How many.
    pub count: u64,
    /// More were seen than counted ([`MAX_DISTINCT_PER_ENDPOINT`]).
    pub capped: bool,
}

/// Counts by name, at most [`MAX_NAMES_PER_ENDPOINT`] names; others go to `other`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NameCounts {
    /// Count per name.
    #[serde(flatten)]
    pub counts: BTreeMap<String, u64>,
}

/// The name that counts what did not fit in a [`NameCounts`].
pub const OTHER: &str = "(other)";

impl NameCounts {
    /// Count one `name`.
    pub fn add(&mut self, name: &str) {
        if let Some(n) = self.counts.get_mut(name) {
            *n += 1;
        } else if self.counts.len() < MAX_NAMES_PER_ENDPOINT {
            self.counts.insert(name.to_string(), 1);
        } else {
            *self.counts.entry(OTHER.to_string()).or_default() += 1;
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// The kinds of values a path parameter took.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ParamKinds {
    /// All digits.
    pub integer: u64,
    /// A UUID.
    pub uuid: u64,
    /// Anything else.
    pub string: u64,
}

/// Responses of one status.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ResponseInventory {
    /// How many.
    pub count: u64,
    /// Their media types (without parameters, lowercase).
    #[serde(skip_serializing_if = "NameCounts::is_empty")]
    pub content_types: NameCounts,
    /// Their JSON bodies' merged schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
}

/// One endpoint: a method and template on a host.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointInventory {
    /// The method token.
    pub method: String,
    /// The template (the spec's when one matched, else apitap's endpoint name).
    pub template: String,
    /// Requests.
    pub requests: u64,
    /// Api status counts (an endpoint is usually all one status).
    pub api: BTreeMap<ApiStatus, u64>,
    /// The spec and operation that matched, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// The matched `operationId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Responses by status code.
    pub responses: BTreeMap<u16, ResponseInventory>,
    /// Requests that got no response.
    pub no_response: u64,
    /// Authentication schemes (`scheme` or `scheme:name`) and how often.
    pub auth: NameCounts,
    /// Query parameter names and how often.
    pub query_params: NameCounts,
    /// Path parameters (by the template's names) and the kinds of their values.
    pub path_params: BTreeMap<String, ParamKinds>,
    /// Request media types.
    pub request_content_types: NameCounts,
    /// The JSON request bodies' merged schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_schema: Option<Schema>,
    /// Drift (`kind:detail`) and how often.
    pub drift: NameCounts,
    /// First request time (RFC 3339, as records write it).
    pub first_seen: String,
    /// Last request time.
    pub last_seen: String,
    /// Distinct sessions.
    pub sessions: DistinctCount,
    /// Distinct users of those sessions (from `session` records).
    pub users: DistinctCount,
    /// Requests that carried attacks, and attacks by kind, when records have `attacks`.
    #[serde(skip_serializing_if = "NameCounts::is_empty")]
    pub attacks: NameCounts,
    /// The sessions' hashes, for `users` at the end.
    #[serde(skip)]
    pub(super) session_hashes: Distinct,
    /// A request path seen (the first), for the diff; not written.
    #[serde(skip)]
    pub sample_path: String,
}

impl EndpointInventory {
    /// An endpoint not seen yet.
    pub(super) fn new(method: &str, template: &str, path: &str, ts: &str) -> Self {
        EndpointInventory {
            method: method.into(),
            template: template.into(),
            requests: 0,
            api: BTreeMap::new(),
            spec: None,
            operation_id: None,
            responses: BTreeMap::new(),
            no_response: 0,
            auth: NameCounts::default(),
            query_params: NameCounts::default(),
            path_params: BTreeMap::new(),
            request_content_types: NameCounts::default(),
            request_schema: None,
            drift: NameCounts::default(),
            first_seen: ts.into(),
            last_seen: ts.into(),
            sessions: DistinctCount::default(),
            users: DistinctCount::default(),
            attacks: NameCounts::default(),
            session_hashes: Distinct::default(),
            sample_path: path.into(),
        }
    }

    /// The status most of its requests had (ties: the worse one, shadow before zombie
    /// before documented).
    pub fn main_status(&self) -> Option<ApiStatus> {
        self.api
            .iter()
            .max_by_key(|(s, n)| (**n, std::cmp::Reverse(rank(**s))))
            .map(|(s, _)| *s)
    }
}

/// How much a status calls for attention (lower: more).
fn rank(s: ApiStatus) -> u8 {
    match s {
        ApiStatus::Shadow => 0,
        ApiStatus::Zombie => 1,
        ApiStatus::Unmanaged => 2,
        ApiStatus::Documented => 3,
    }
}
