//! What a session part accumulates, and the owned `session` record built from it.
//!
//! Every list is bounded by a config field; at the bound the value is not stored and a
//! `*_dropped` counter says how many were left out, so totals stay exact.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use apitap_inventory::ApiStatus;
use smallvec::SmallVec;

use super::secret::HashId;

/// Distinct status codes remembered per endpoint; others are counted under `other`.
pub const MAX_STATUS_CODES: usize = 32;

/// Distinct anomaly kinds counted per session (the kinds are a closed set, well under this).
pub const MAX_ANOMALY_KINDS: usize = 64;

/// Shadow (and, apart, zombie) endpoints listed per session part; calls to more are counted
/// in `api_endpoints_dropped`. An analyst reads the list; a scanner walking random paths
/// would otherwise grow it without end.
pub const MAX_SESSION_API_ENDPOINTS: usize = 32;

/// Distinct alert kinds counted per session (the kinds are a closed set, well under this).
pub const MAX_ALERT_KINDS: usize = 32;

/// Values a [`Counted`] keeps inline before it spills to the heap.
pub const INLINE_COUNTED: usize = 1;

/// Phase of a `session` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The part's first transaction.
    Start,
    /// Periodic, while open.
    Update,
    /// The part ended.
    End,
}

/// Why a session part ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// No transaction for `idle_timeout_ms`.
    Idle,
    /// `max_duration_ms` reached; the session continues as the next part.
    MaxDuration,
    /// Evicted (least recently active) when `max_sessions` was reached.
    Evicted,
    /// The input ended (offline replay).
    EndOfInput,
    /// The sensor shut down.
    Shutdown,
}

impl EndReason {
    /// The exported name.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::MaxDuration => "max_duration",
            EndReason::Evicted => "evicted",
            EndReason::EndOfInput => "end_of_input",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// A transaction id: `<conn_id>-<depth>`, unique within a run (the connection id is) and
/// joinable with the http record's `conn_id` and `depth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    /// Connection id.
    pub conn: u64,
    /// 1-based position on the connection.
    pub depth: u32,
}

impl std::fmt::Display for TransactionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.conn, self.depth)
    }
}

/// A session part's transaction ids in order, stored as runs of consecutive depths on one
/// connection. A keep-alive client's requests follow each other on their connection, so a
/// session usually needs one 16-byte run per connection where a list of ids grew by 16 bytes
/// per transaction (about a third of the table's memory on the bench capture, and a cold line
/// every fourth transaction). Ids that do not follow their predecessor start a new run: never
/// more memory than one id each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransactionIds {
    /// The runs, in order.
    runs: Vec<IdRun>,
    /// Ids in all runs.
    len: usize,
}

/// `count` transactions of connection `conn` from depth `first` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IdRun {
    /// Connection id.
    conn: u64,
    /// Depth of the run's first transaction.
    first: u32,
    /// Transactions in the run (at least 1).
    count: u32,
}

impl TransactionIds {
    /// Ids listed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no id is listed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `id` (the caller bounds the list).
    pub fn push(&mut self, id: TransactionId) {
        self.len += 1;
        if let Some(last) = self.runs.last_mut() {
            let follows = last.conn == id.conn
                && last.first.checked_add(last.count) == Some(id.depth)
                && last.count < u32::MAX;
            if follows {
                last.count += 1;
                return;
            }
        }
        self.runs.push(IdRun {
            conn: id.conn,
            first: id.depth,
            count: 1,
        });
    }

    /// The ids in order.
    pub fn iter(&self) -> impl Iterator<Item = TransactionId> + '_ {
        self.runs.iter().flat_map(|r| {
            (0..r.count).map(move |i| TransactionId {
                conn: r.conn,
                depth: r.first + i,
            })
        })
    }

    /// Runs listed.
    #[cfg(test)]
    fn runs(&self) -> usize {
        self.runs.len()
    }
}

impl FromIterator<TransactionId> for TransactionIds {
    fn from_iter<I: IntoIterator<Item = TransactionId>>(iter: I) -> Self {
        let mut ids = TransactionIds::default();
        for id in iter {
            ids.push(id);
        }
        ids
    }
}

/// Counts per distinct value, at most `cap` values, in first-seen order (records list them
/// sorted by value). A session part holds few distinct values: a scan over a short vector
/// reads one or two cache lines where a tree followed a pointer per level and compared keys
/// on the heap. The first value is kept inline (a session mostly has one client address and
/// one user agent): no allocation, and no cache line apart from the session's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counted<K> {
    /// Value and occurrences, in first-seen order, values distinct.
    pub counts: SmallVec<[(K, u64); INLINE_COUNTED]>,
    /// Occurrences of values not stored because the bound was reached.
    pub dropped: u64,
}

impl<K> Default for Counted<K> {
    fn default() -> Self {
        Counted {
            counts: SmallVec::new(),
            dropped: 0,
        }
    }
}

impl Counted<String> {
    /// Count `k`, allocating only for a value not yet stored; `false` when dropped at `cap`.
    pub fn add_str(&mut self, k: &str, cap: usize) -> bool {
        if let Some((_, c)) = self.counts.iter_mut().find(|(v, _)| v == k) {
            *c += 1;
            return true;
        }
        self.add_new(k.to_string(), cap)
    }
}

impl<K: PartialEq> Counted<K> {
    /// Count `k`; `false` when it was dropped at `cap`.
    pub fn add(&mut self, k: K, cap: usize) -> bool {
        if let Some((_, c)) = self.counts.iter_mut().find(|(v, _)| *v == k) {
            *c += 1;
            return true;
        }
        self.add_new(k, cap)
    }
}

impl<K> Counted<K> {
    /// Count `k`, known not to be stored yet; `false` when it was dropped at `cap`.
    fn add_new(&mut self, k: K, cap: usize) -> bool {
        if self.counts.len() >= cap {
            self.dropped += 1;
            return false;
        }
        self.counts.push((k, 1));
        true
    }
}

/// Entries of a first-seen-order list, sorted by key (how records list them).
pub fn sorted_by_key<K: Ord, V>(entries: &[(K, V)]) -> Vec<&(K, V)> {
    let mut v: Vec<&(K, V)> = entries.iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Status code key: a code, `none` (no response) or `other` (past [`MAX_STATUS_CODES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusKey {
    /// A status code.
    Code(u16),
    /// No response was seen.
    None,
    /// Codes past the bound.
    Other,
}

/// Status codes a session's status list holds without a heap allocation: a session usually
/// sees one to three codes, and a list on the heap was one more cold cache line read for
/// every transaction.
pub const INLINE_STATUS_CODES: usize = 4;

/// Status codes an endpoint's status list holds without a heap allocation: one endpoint
/// usually answers with one or two (`200`, `404`). Two keep an endpoint's entry in a session
/// to one cache line (64 bytes, name included), where four made it 112 bytes: the endpoint
/// lists were the largest part of the session table's memory.
pub const ENDPOINT_INLINE_STATUS_CODES: usize = 2;

/// Transactions of a session by API status: a counter per status instead of a map, as every
/// classified transaction counts one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiCallCounts {
    /// Counts in [`Self::ORDER`].
    counts: [u64; 4],
}

impl ApiCallCounts {
    /// The statuses in the order of their names, as records list them.
    pub const ORDER: [ApiStatus; 4] = [
        ApiStatus::Documented,
        ApiStatus::Shadow,
        ApiStatus::Unmanaged,
        ApiStatus::Zombie,
    ];

    /// The position of `status` in [`Self::ORDER`].
    fn slot(status: ApiStatus) -> usize {
        match status {
            ApiStatus::Documented => 0,
            ApiStatus::Shadow => 1,
            ApiStatus::Unmanaged => 2,
            ApiStatus::Zombie => 3,
        }
    }

    /// Count `n` more transactions of `status`.
    pub fn add(&mut self, status: ApiStatus, n: u64) {
        if let Some(c) = self.counts.get_mut(Self::slot(status)) {
            *c += n;
        }
    }

    /// The transactions of `status`.
    pub fn get(&self, status: ApiStatus) -> u64 {
        self.counts.get(Self::slot(status)).copied().unwrap_or(0)
    }

    /// The statuses counted (not zero), by name in name order: the map records write.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Self::ORDER
            .iter()
            .zip(self.counts)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (s.as_str(), n))
    }
}

/// Counts by status, in first-seen order, at most [`MAX_STATUS_CODES`] codes plus `other`.
pub type StatusCounts = SmallVec<[(StatusKey, u64); INLINE_STATUS_CODES]>;

/// [`StatusCounts`] of one endpoint (fewer codes inline).
pub type EndpointStatusCounts = SmallVec<[(StatusKey, u64); ENDPOINT_INLINE_STATUS_CODES]>;

/// Requests to one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointAgg {
    /// Requests.
    pub count: u64,
    /// By status.
    pub status: EndpointStatusCounts,
}

/// Add one status to a bounded status list.
pub(crate) fn count_status<A: smallvec::Array<Item = (StatusKey, u64)>>(
    m: &mut SmallVec<A>,
    s: StatusKey,
) {
    if let Some((_, n)) = m.iter_mut().find(|(k, _)| *k == s) {
        *n += 1;
        return;
    }
    let key = if m.len() < MAX_STATUS_CODES {
        s
    } else {
        StatusKey::Other
    };
    match m.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => m.push((key, 1)),
    }
}

/// Numeric aggregates of a plain parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Numeric {
    /// Numeric values seen.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

/// One context parameter over a session part.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamAgg {
    /// Transactions where it was present.
    pub present: u64,
    /// First exported value (none in `drop` mode).
    pub first: Option<String>,
    /// Last exported value.
    pub last: Option<String>,
    /// Fingerprints of distinct raw values (never exported), at most the bound.
    distinct: BTreeSet<u64>,
    /// The bound was reached: `distinct` is a lower bound.
    pub distinct_capped: bool,
    /// Numeric aggregates (plain mode only).
    pub numeric: Option<Numeric>,
}

impl ParamAgg {
    /// Distinct raw values counted.
    pub fn distinct(&self) -> usize {
        self.distinct.len()
    }

    /// Fold one occurrence in; returns `false` when the distinct bound was hit by a new value.
    pub(crate) fn add(
        &mut self,
        fingerprint: u64,
        exported: Option<String>,
        number: Option<f64>,
        max_distinct: usize,
    ) -> bool {
        self.present += 1;
        if self.first.is_none() {
            self.first.clone_from(&exported);
        }
        if exported.is_some() {
            self.last = exported;
        }
        if let Some(x) = number {
            let n = self.numeric.get_or_insert(Numeric {
                count: 0,
                sum: 0.0,
                min: x,
                max: x,
            });
            n.count += 1;
            n.sum += x;
            n.min = n.min.min(x);
            n.max = n.max.max(x);
        }
        let fp = fingerprint;
        if self.distinct.contains(&fp) {
            return true;
        }
        if self.distinct.len() >= max_distinct {
            self.distinct_capped = true;
            return false;
        }
        self.distinct.insert(fp);
        true
    }
}

/// What one session part accumulated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionSummary {
    /// Transaction ids in order.
    pub transaction_ids: TransactionIds,
    /// Packet time of the first transaction.
    pub first_seen_us: u64,
    /// Packet time of the last transaction's last byte.
    pub last_seen_us: u64,
    /// Transactions.
    pub requests: u64,
    /// Request body bytes (after transfer decoding).
    pub request_bytes: u64,
    /// Response body bytes.
    pub response_bytes: u64,
    /// Client IPs.
    pub client_ips: Counted<IpAddr>,
    /// User-Agents (cut at `max_value_bytes`).
    pub user_agents: Counted<String>,
    /// Status counts over all endpoints.
    pub status: StatusCounts,
    /// Endpoints with counts and statuses, in first-seen order.
    pub endpoints: Vec<(Box<str>, EndpointAgg)>,
    /// Requests to endpoints not stored.
    pub endpoints_dropped: u64,
    /// Context parameters by name.
    pub context: BTreeMap<Arc<str>, ParamAgg>,
    /// Anomalies by kind (HTTP, TCP and session layers).
    pub anomalies: BTreeMap<String, u64>,
    /// Alerts raised for this session, by kind (`bola`, `enumeration`...).
    pub alerts: BTreeMap<&'static str, u64>,
    /// Last `user` parameter value.
    pub user: Option<String>,
    /// Last `role` parameter value.
    pub role: Option<String>,
    /// Transaction ids not listed.
    pub transaction_ids_dropped: u64,
    /// Transactions carrying attacks, by class (a transaction counts once per class).
    pub attacks: BTreeMap<&'static str, u64>,
    /// Transactions carrying attacks, by what their response said (`served`, `error`...).
    pub attack_outcomes: BTreeMap<&'static str, u64>,
    /// Packet time of the part's first transaction carrying an attack.
    pub first_attack_ts_us: Option<u64>,
    /// Transactions of the part before its first attack: how long the session looked
    /// legitimate.
    pub requests_before_first_attack: Option<u64>,
    /// Transactions by API status (`documented`, `shadow`, `zombie`, `unmanaged`), when API
    /// classification is on.
    pub api_calls: ApiCallCounts,
    /// Shadow endpoints called (`METHOD /path` or `METHOD template`), in first-call order.
    pub shadow_endpoints: Vec<Box<str>>,
    /// Zombie endpoints called, in first-call order.
    pub zombie_endpoints: Vec<Box<str>>,
    /// Calls to shadow or zombie endpoints not listed (past
    /// [`MAX_SESSION_API_ENDPOINTS`]).
    pub api_endpoints_dropped: u64,
    /// WebSocket messages (both directions) of the part's upgraded connections that ended;
    /// `None` (and absent from the record) when the part had none.
    pub websocket_messages: Option<u64>,
}

impl SessionSummary {
    /// Count one occurrence of each anomaly in `names` (HTTP, TCP and session layers), at
    /// most [`MAX_ANOMALY_KINDS`] kinds; an anomaly of a kind past the bound is not counted.
    pub fn count_anomalies<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for name in names {
            if let Some(n) = self.anomalies.get_mut(name) {
                *n += 1;
            } else if self.anomalies.len() < MAX_ANOMALY_KINDS {
                self.anomalies.insert(name.to_string(), 1);
            }
        }
    }
}

impl SessionSummary {
    /// Count one alert of `kind` raised for this session, at most [`MAX_ALERT_KINDS`] kinds;
    /// an alert of a kind past the bound is not counted here (the alert record is still
    /// written).
    pub fn count_alert(&mut self, kind: &'static str) {
        if let Some(n) = self.alerts.get_mut(kind) {
            *n += 1;
        } else if self.alerts.len() < MAX_ALERT_KINDS {
            self.alerts.insert(kind, 1);
        }
    }
}

/// A `session` record, owned (the session keeps changing after it is emitted).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// Start, update or end.
    pub phase: Phase,
    /// Packet time the record was emitted at.
    pub ts_us: u64,
    /// Id of this part.
    pub session_id: HashId,
    /// 1-based part number.
    pub part: u32,
    /// Id of the previous part, for parts >= 2.
    pub previous_part: Option<HashId>,
    /// Id of the session part where this session's key was set by the server (login).
    pub linked_from: Option<HashId>,
    /// Source label of the key (`cookie:PHPSESSID`).
    pub key_source: Arc<str>,
    /// The key is a fallback (client IP, User-Agent): a pre-login, anonymous session.
    pub anonymous: bool,
    /// For JWT keys with verification on: every token of the part verified.
    pub verified: Option<bool>,
    /// Why it ended (end records).
    pub reason: Option<EndReason>,
    /// The accumulated summary.
    pub summary: Box<SessionSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_status_has_its_own_count() {
        for (i, s) in ApiCallCounts::ORDER.iter().enumerate() {
            assert_eq!(ApiCallCounts::slot(*s), i, "{s:?}");
        }
    }

    #[test]
    fn api_calls_are_listed_as_a_map_by_name_would_list_them() {
        let adds = [
            (ApiStatus::Zombie, 2),
            (ApiStatus::Documented, 5),
            (ApiStatus::Zombie, 1),
            (ApiStatus::Unmanaged, 0),
            (ApiStatus::Shadow, 3),
        ];
        let mut counts = ApiCallCounts::default();
        let mut map: BTreeMap<&str, u64> = BTreeMap::new();
        for (status, n) in adds {
            counts.add(status, n);
            if n > 0 {
                *map.entry(status.as_str()).or_default() += n;
            }
        }
        assert_eq!(
            counts.iter().collect::<Vec<_>>(),
            map.into_iter().collect::<Vec<_>>()
        );
        assert_eq!(counts.get(ApiStatus::Zombie), 3);
        assert_eq!(
            counts.get(ApiStatus::Unmanaged),
            0,
            "a status never counted is not listed"
        );
        assert_eq!(ApiCallCounts::default().iter().count(), 0);
    }

    #[test]
    fn alerts_are_counted_by_kind_up_to_the_bound() {
        let mut s = SessionSummary::default();
        s.count_alert("bola");
        s.count_alert("bola");
        s.count_alert("enumeration");
        assert_eq!(s.alerts.get("bola"), Some(&2));
        assert_eq!(s.alerts.get("enumeration"), Some(&1));
        let kinds: Vec<String> = (0..MAX_ALERT_KINDS + 3).map(|i| format!("k{i}")).collect();
        for k in &kinds {
            s.count_alert(Box::leak(k.clone().into_boxed_str()));
        }
        assert_eq!(s.alerts.len(), MAX_ALERT_KINDS);
    }

    #[test]
    fn counted_is_bounded_and_exact() {
        let mut c = Counted::default();
        assert!(c.add("a", 2));
        assert!(c.add("b", 2));
        assert!(!c.add("c", 2));
        assert!(c.add("a", 2));
        assert_eq!(c.counts.iter().map(|(_, n)| n).sum::<u64>() + c.dropped, 4);
        assert_eq!(c.dropped, 1);
    }

    #[test]
    fn transaction_ids_keep_order_in_runs() {
        let id = |conn, depth| TransactionId { conn, depth };
        let ids = [
            id(7, 1),
            id(7, 2),
            id(7, 3),
            id(9, 1),
            id(7, 4),
            id(7, 6),
            id(7, 5),
            id(9, 2),
            id(9, 3),
        ];
        let list: TransactionIds = ids.iter().copied().collect();
        assert_eq!(list.len(), ids.len());
        assert_eq!(list.iter().collect::<Vec<_>>(), ids);
        // Runs: 7:1-3, 9:1, 7:4, 7:6, 7:5, 9:2-3.
        assert_eq!(list.runs(), 6);
        assert!(TransactionIds::default().is_empty());
        let last = [id(1, u32::MAX - 1), id(1, u32::MAX)];
        let list: TransactionIds = last.iter().copied().collect();
        assert_eq!(list.iter().collect::<Vec<_>>(), last);
    }

    /// What ENDPOINT_INLINE_STATUS_CODES is chosen for: an endpoint's entry in a session's
    /// list is one cache line.
    #[test]
    fn an_endpoint_entry_fits_a_cache_line() {
        assert!(
            std::mem::size_of::<(Box<str>, EndpointAgg)>() <= crate::prefetch::CACHE_LINE_BYTES
        );
    }

    #[test]
    fn statuses_are_bounded() {
        let mut m = StatusCounts::new();
        for s in 0..(MAX_STATUS_CODES as u16 + 5) {
            count_status(&mut m, StatusKey::Code(100 + s));
        }
        count_status(&mut m, StatusKey::Code(100));
        assert_eq!(m.len(), MAX_STATUS_CODES + 1);
        let count = |k| m.iter().find(|(s, _)| *s == k).map(|(_, n)| *n);
        assert_eq!(count(StatusKey::Other), Some(5));
        assert_eq!(count(StatusKey::Code(100)), Some(2));
        let keys: Vec<_> = sorted_by_key(&m).into_iter().map(|(k, _)| *k).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn param_aggregates() {
        let mut p = ParamAgg::default();
        assert!(p.add(10, Some("10".into()), Some(10.0), 2));
        assert!(p.add(25, Some("2.5".into()), Some(2.5), 2));
        assert!(p.add(10, Some("10".into()), Some(10.0), 2));
        assert!(!p.add(7, Some("7".into()), Some(7.0), 2));
        assert_eq!((p.present, p.distinct(), p.distinct_capped), (4, 2, true));
        assert_eq!(p.first.as_deref(), Some("10"));
        assert_eq!(p.last.as_deref(), Some("7"));
        assert_eq!(
            p.numeric,
            Some(Numeric {
                count: 4,
                sum: 29.5,
                min: 2.5,
                max: 10.0
            })
        );
    }
}
