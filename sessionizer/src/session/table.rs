//! The session table and its lifecycle on packet time: start, periodic updates, idle end,
//! max-duration split into linked parts, LRU eviction at `max_sessions`, flush.
//!
//! Sessions live in a slab indexed by the keyed hash of their key. Three intrusive lists over
//! the slab keep them in the order of each deadline, so `expire` costs O(expired):
//! - `LRU`: by last activity (idle timeout, eviction, flush order);
//! - `SPLIT`: by part start (max duration);
//! - `UPDATE`: by last update (periodic updates; only when `update_interval_ms > 0`).
//!
//! Every push uses the clamped packet time `now`, which never decreases, so each list stays
//! sorted by its deadline.

use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashTable;
use smallvec::SmallVec;

use super::anomaly::SessionAnomaly;
use super::bindings::Bindings;
use super::body::DecodeStatus;
use super::client_ip::{ClientIpResolver, IpOrigin};
use super::config::{parse_cidr, SessionConfig, SessionConfigError};
use super::endpoint::{cut, EndpointNamer};
use super::endpoint_ids::{EndpointIds, INLINE_ENDPOINT_IDS};
use super::facts::{Extractor, TxFacts};
use super::jwt::Verifier;
use super::keys::CompiledKey;
use super::secret::{Domain, HashId, Keyed, Secret};
use super::stats::SessionStats;
use super::summary::{
    count_status, EndReason, EndpointAgg, Phase, SessionRecord, SessionSummary, StatusKey,
    TransactionId, MAX_ANOMALY_KINDS,
};
use super::view::BodyEvents;
use crate::http::Transaction;
use crate::prefetch;
use crate::record::header;

/// Microseconds per millisecond.
const US_PER_MS: u64 = 1000;

/// No slot.
const NIL: u32 = u32::MAX;

/// List of sessions by last activity.
const LRU: usize = 0;
/// List of sessions by part start.
const SPLIT: usize = 1;
/// List of sessions by last update.
const UPDATE: usize = 2;
/// Number of lists.
const LISTS: usize = 3;

/// Entries of a session's user-agent list whose strings [`Sessionizer::prefetch`] requests (a
/// session usually has one agent).
const PREFETCH_LIST_ENTRIES: usize = 8;

/// Debug builds walk every list after each call only up to this many sessions (the walk is
/// O(sessions); debug replays of big captures would crawl).
#[cfg(debug_assertions)]
const INVARIANT_WALK_MAX_SESSIONS: usize = 256;

/// What the http record of a transaction carries about its session.
#[derive(Clone, Debug, PartialEq)]
pub struct TxSession {
    /// Id of the session part (32 hex characters); `None` when no key was present.
    pub session_id: Option<HashId>,
    /// `<conn_id>-<depth>`.
    pub transaction_id: TransactionId,
    /// Source label of the key that matched (`cookie:PHPSESSID`, `fallback:ip+ua`).
    pub key_source: Option<Arc<str>>,
    /// For JWT keys when verification is on: whether the signature verified.
    pub jwt_verified: Option<bool>,
    /// The client after trusted-proxy resolution.
    pub client_ip: IpAddr,
    /// `METHOD /normalised/path`; `None` without request.
    pub endpoint: Option<String>,
    /// Context parameters present, in config order, as exported (drop-mode ones left out).
    pub context: Vec<(Arc<str>, String)>,
    /// The `user` parameter, if present.
    pub user: Option<String>,
    /// The `role` parameter, if present.
    pub role: Option<String>,
    /// Session-layer anomalies of this transaction, without duplicates.
    pub anomalies: Vec<SessionAnomaly>,
}

/// Links of one slot in each list.
#[derive(Clone, Copy, Debug)]
struct Link {
    /// Previous slot or NIL.
    prev: u32,
    /// Next slot or NIL.
    next: u32,
}

/// Head and tail of one list.
#[derive(Clone, Copy, Debug)]
struct List {
    /// Oldest.
    head: u32,
    /// Newest.
    tail: u32,
}

/// One open session (its current part).
///
/// Laid out in declaration order (`repr(C)`), cache-line aligned: what every transaction
/// reads or writes first, its summary's per-transaction part next ([`SESSION_HOT_BYTES`]),
/// what records and lifecycle events read last. A transaction then touches seven of the
/// session's nine lines, and the batch prefetch requests only those (the compiler's own order
/// spread them over all ten lines a slot straddled).
#[derive(Debug)]
#[repr(C, align(64))]
struct Session {
    /// Keyed hash of the key: the table index and the id of part 1.
    base: HashId,
    /// Id of the current part.
    id: HashId,
    /// Clamped packet time of the last transaction (LRU order).
    touch_us: u64,
    /// Clamped packet time the current part started.
    part_start_us: u64,
    /// Current part number (1-based).
    part: u32,
    /// JWT verification state of its tokens.
    verified: Option<bool>,
    /// The start record of the current part was emitted (it has a transaction).
    started: bool,
    /// Transactions since the last record.
    dirty: bool,
    /// [`EndpointIds`] ids of `summary.endpoints`' names, in the same order (a shortcut: an
    /// id from before the ids were cleared matches no transaction's, and names are compared
    /// then).
    ///
    /// Invariant: `endpoint_ids.len() == summary.endpoints.len()`.
    endpoint_ids: SmallVec<[u64; INLINE_ENDPOINT_IDS]>,
    /// What the part accumulated (its per-transaction fields first).
    summary: SessionSummary,
    /// Index of its key in the list.
    key_idx: usize,
    /// Clamped packet time of the last update (or start).
    update_us: u64,
    /// Id of the previous part.
    previous_part: Option<HashId>,
    /// Part where the server set this session's key.
    linked_from: Option<HashId>,
}

/// Bytes from the start of a [`Session`] that every transaction reads: up to the first of the
/// summary's fields that only some transactions or the records touch
/// ([`SessionSummary::endpoints_dropped`]).
const SESSION_HOT_BYTES: usize = std::mem::offset_of!(Session, summary)
    + std::mem::offset_of!(SessionSummary, endpoints_dropped);

/// A slab entry.
#[derive(Debug)]
struct Slot {
    /// The session, or `None` when free.
    session: Option<Session>,
}

/// A slot outside every list.
const UNLINKED: [Link; LISTS] = [Link {
    prev: NIL,
    next: NIL,
}; LISTS];

/// Slots of the open sessions by `base`, their key's keyed hash.
///
/// The table holds only slot numbers (4 bytes each): `base` lives once, in the slot. `base`
/// is an HMAC output, uniform and unknown to whoever chooses the key values, so its first 8
/// bytes are the table hash as they are.
#[derive(Debug, Default)]
struct SessionIndex {
    /// Slot numbers, hashed by [`index_hash`] of their session's `base`.
    table: HashTable<u32>,
}

/// The index hash of a session key hash.
fn index_hash(base: &HashId) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&base.0[..8]);
    u64::from_le_bytes(b)
}

/// The session in `slot`, if it holds one.
fn session_in(slots: &[Slot], slot: u32) -> Option<&Session> {
    slots.get(slot as usize)?.session.as_ref()
}

/// Whether `slot` holds the session keyed by `base`.
fn holds(slots: &[Slot], slot: u32, base: &HashId) -> bool {
    session_in(slots, slot).is_some_and(|s| s.base == *base)
}

impl SessionIndex {
    /// Open sessions.
    fn len(&self) -> usize {
        self.table.len()
    }

    /// The slot of the session keyed by `base`.
    fn get(&self, base: &HashId, slots: &[Slot]) -> Option<u32> {
        self.table
            .find(index_hash(base), |&s| holds(slots, s, base))
            .copied()
    }

    /// Request the slots that may hold `base` without reading them (the lookup compares
    /// `base` in the slot: that is the read a batch's prefetch pass must not wait for).
    fn prefetch(&self, base: &HashId, slots: &[Slot]) {
        let _ = self.table.find(index_hash(base), |&s| {
            if let Some(slot) = slots.get(s as usize) {
                prefetch::bytes(slot as *const Slot, SESSION_HOT_BYTES);
            }
            false
        });
    }

    /// Index a new session (its slot already holds it).
    fn insert(&mut self, base: &HashId, slot: u32, slots: &[Slot]) {
        self.table.insert_unique(index_hash(base), slot, |&s| {
            session_in(slots, s).map_or(0, |x| index_hash(&x.base))
        });
    }

    /// Drop the session keyed by `base` in `slot`.
    fn remove(&mut self, base: &HashId, slot: u32) {
        if let Ok(e) = self.table.find_entry(index_hash(base), |&s| s == slot) {
            e.remove();
        }
    }
}

/// Limits copied from the config.
#[derive(Clone, Debug)]
struct Limits {
    /// Idle timeout, µs.
    idle_us: u64,
    /// Max part duration, µs.
    max_duration_us: u64,
    /// Update interval, µs (0 = off).
    update_us: u64,
    /// Open sessions.
    max_sessions: usize,
    /// Per-session bounds.
    max_ips: usize,
    /// Per-session bounds.
    max_uas: usize,
    /// Per-session bounds.
    max_endpoints: usize,
    /// Per-parameter bound.
    max_distinct: usize,
    /// Per-session bound.
    max_tx_ids: usize,
    /// Per-value bound, bytes.
    max_value_bytes: usize,
}

/// Assigns transactions to sessions and emits `session` records.
///
/// Invariant: `index` maps the `base` of every open session to its slot; a slot is in all
/// lists (UPDATE only when updates are on) iff it holds a session; `index.len() <=
/// max_sessions`; each list is sorted by its time field.
pub struct Sessionizer {
    /// Bounds and timeouts.
    limits: Limits,
    /// Keys in precedence order (labels and kinds; the extractor reads them).
    keys: Arc<[CompiledKey]>,
    /// The keyed hash.
    keyed: Keyed,
    /// Reads transactions for [`Self::observe`] (the sharded pipeline's workers run clones).
    extractor: Extractor,
    /// Server-set values.
    bindings: Bindings,
    /// The slab.
    slots: Vec<Slot>,
    /// Each slot's place in each list, beside the slab: moving a session to the back of the
    /// LRU list (every transaction) rewrites its neighbours' links, which inside the slots
    /// were two cold sessions' cache lines; 24 bytes per slot here.
    links: Vec<[Link; LISTS]>,
    /// Free slots.
    free: Vec<u32>,
    /// Key hash → slot.
    index: SessionIndex,
    /// Numbers endpoint names for the sessions' [`Session::endpoint_ids`].
    endpoint_ids: EndpointIds,
    /// The lists.
    lists: [List; LISTS],
    /// Counters.
    stats: SessionStats,
    /// Packet time, never decreasing.
    now_us: u64,
}

impl std::fmt::Debug for Sessionizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessionizer")
            .field("active", &self.index.len())
            .field("now_us", &self.now_us)
            .finish_non_exhaustive()
    }
}

/// Push `a` once.
fn push_unique(v: &mut Vec<SessionAnomaly>, a: SessionAnomaly) {
    if !v.contains(&a) {
        v.push(a);
    }
}

impl Sessionizer {
    /// Validate the config, compile keys, patterns and the JWT key, and key the hash.
    pub fn new(cfg: &SessionConfig, secret: Secret) -> Result<Sessionizer, SessionConfigError> {
        cfg.validate()?;
        if secret.is_empty() {
            return Err(SessionConfigError::Invalid {
                field: "secret".into(),
                message: "the session secret is empty; set one or let the sensor generate it"
                    .into(),
            });
        }
        let keys: Arc<[CompiledKey]> = cfg.keys.iter().map(CompiledKey::new).collect();
        let verifier = Verifier::new(&cfg.jwt).map_err(|m| SessionConfigError::Invalid {
            field: "jwt".into(),
            message: m,
        })?;
        let trusted = cfg
            .trusted_proxies
            .iter()
            .map(|c| parse_cidr(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| SessionConfigError::Invalid {
                field: "trusted_proxies".into(),
                message: m,
            })?;
        let keyed = Keyed::new(&secret);
        let extractor = Extractor::new(
            cfg,
            Arc::clone(&keys),
            keyed.clone(),
            verifier,
            ClientIpResolver::new(trusted, cfg.client_ip_headers.clone()),
            EndpointNamer::new(&cfg.endpoints)?,
        );
        let stats = SessionStats {
            keys: keys.iter().map(|k| (k.label.to_string(), 0)).collect(),
            ..SessionStats::default()
        };
        Ok(Sessionizer {
            limits: Limits {
                idle_us: cfg.idle_timeout_ms.saturating_mul(US_PER_MS),
                max_duration_us: cfg.max_duration_ms.saturating_mul(US_PER_MS),
                update_us: cfg.update_interval_ms.saturating_mul(US_PER_MS),
                max_sessions: cfg.max_sessions,
                max_ips: cfg.max_client_ips_per_session,
                max_uas: cfg.max_user_agents_per_session,
                max_endpoints: cfg.max_endpoints_per_session,
                max_distinct: cfg.max_distinct_values_per_param,
                max_tx_ids: cfg.max_transaction_ids_per_session,
                max_value_bytes: cfg.max_value_bytes,
            },
            keys,
            keyed,
            extractor,
            bindings: Bindings::new(cfg.login.max_bindings),
            slots: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            index: SessionIndex::default(),
            endpoint_ids: EndpointIds::default(),
            lists: [List {
                head: NIL,
                tail: NIL,
            }; LISTS],
            stats,
            now_us: 0,
        })
    }

    /// Counters.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// Open sessions.
    pub fn active_sessions(&self) -> usize {
        self.index.len()
    }

    /// Request the memory that [`Self::observe_facts`] will touch for these transactions'
    /// sessions, all at once: first the slots, then (once those arrived) the lists the
    /// transactions append to. Numbers their endpoints on the way (what
    /// [`Self::observe_facts`] would do). Only a hint: the results do not depend on it.
    ///
    /// Thousands of open sessions do not fit in the caches, and each transaction's session
    /// state is a dozen cold lines; observed one after the other, each miss waited for the
    /// previous transaction's. A batch of staged transactions knows its keys in advance.
    pub fn prefetch(&mut self, facts: &mut [TxFacts]) {
        for f in facts.iter_mut() {
            if let Some(k) = &f.key {
                self.index.prefetch(&k.base, &self.slots);
            }
            f.endpoint_id = f.endpoint.as_deref().map(|e| self.endpoint_ids.id(e));
        }
        // Looked up once here; `observe_facts` checks the slot instead of looking up again.
        for f in facts.iter_mut() {
            f.slot = f
                .key
                .as_ref()
                .and_then(|k| self.index.get(&k.base, &self.slots));
        }
        let found = facts
            .iter()
            .filter_map(|f| Some((f, session_in(&self.slots, f.slot?)?)));
        for (f, s) in found.clone() {
            let sum = &s.summary;
            prefetch::slice(&sum.client_ips.counts);
            prefetch::slice(&sum.user_agents.counts);
            // Of the session's endpoints, only the transaction's entry is read.
            let entry = f
                .endpoint_id
                .and_then(|id| s.endpoint_ids.iter().position(|&x| x == id))
                .and_then(|at| sum.endpoints.get(at));
            if let Some(entry) = entry {
                prefetch::value(entry);
            }
        }
        // The user agents that list points to, compared with the transaction's (endpoints
        // are found by id: their names are not read).
        for (_, s) in found {
            let sum = &s.summary;
            for (ua, _) in sum.user_agents.counts.iter().take(PREFETCH_LIST_ENTRIES) {
                prefetch::line(ua.as_ptr());
            }
        }
    }

    /// Forget the endpoint names' ids, as when their table fills up.
    #[cfg(test)]
    pub(crate) fn forget_endpoint_ids(&mut self) {
        self.endpoint_ids.clear();
    }

    /// A reader of transactions for [`Self::observe_facts`], to run elsewhere (one per worker
    /// of the sharded pipeline): same keys, parameters, secret and verification key.
    pub fn extractor(&self) -> Extractor {
        self.extractor.clone()
    }

    /// Assign one finished transaction to a session. Returns what its http record needs;
    /// pushes the session records it causes (ends of idle, split or evicted sessions, then
    /// a start) into `out`.
    pub fn observe(
        &mut self,
        now_us: u64,
        tx: &Transaction,
        out: &mut Vec<SessionRecord>,
    ) -> TxSession {
        let mut facts = self.extractor.facts(tx);
        self.observe_facts(now_us, tx, &mut facts, out)
    }

    /// [`Self::observe`] with what the transaction tells sessions already read (by an
    /// [`Extractor`] of this sessionizer's, possibly on another thread). Facts from an
    /// extractor of another sessionizer give meaningless sessions, never a panic.
    ///
    /// Taken by reference, not moved (a few hundred bytes per transaction): what the record
    /// carries (endpoint, context, user, role) is taken out of `facts`, and its parameter
    /// values are drained into the session's aggregates.
    pub fn observe_facts(
        &mut self,
        now_us: u64,
        tx: &Transaction,
        facts: &mut TxFacts,
        out: &mut Vec<SessionRecord>,
    ) -> TxSession {
        self.now_us = self.now_us.max(now_us);
        let now = self.now_us;
        self.stats.transactions += 1;
        let mut anomalies = Vec::new();
        let TxFacts {
            client_ip,
            ip_origin,
            conditional,
            key,
            context,
            values,
            user,
            role,
            values_truncated,
            endpoint,
            endpoint_id,
            slot,
            server_values,
            events,
            events_keyless,
        } = facts;
        let (client_ip, values_truncated, endpoint_id) =
            (*client_ip, *values_truncated, *endpoint_id);
        let (endpoint, context) = (std::mem::take(endpoint), std::mem::take(context));
        let (user, role) = (user.take(), role.take());
        match ip_origin {
            IpOrigin::Peer => {}
            IpOrigin::Header => self.stats.client_ip_from_header += 1,
            IpOrigin::Untrusted => self.stats.client_ip_header_untrusted += 1,
            IpOrigin::HeaderInvalid => {
                self.stats.client_ip_header_invalid += 1;
                push_unique(&mut anomalies, SessionAnomaly::ForwardedHeaderInvalid);
            }
        }
        self.stats.values_truncated += values_truncated;

        // The key, by precedence: a key the server must have bound counts when it did.
        let bindings = &self.bindings;
        let found = conditional
            .iter()
            .find(|c| c.bound.is_some_and(|b| bindings.get(&b).is_some()))
            .or(key.as_ref())
            // Facts from an extractor of another config could name a key this one lacks.
            .filter(|c| c.idx < self.keys.len());
        let transaction_id = TransactionId {
            conn: tx.conn.0,
            depth: tx.depth,
        };

        let Some(found) = found else {
            self.stats.transactions_without_key += 1;
            self.body_anomalies(*events_keyless, &mut anomalies);
            return TxSession {
                session_id: None,
                transaction_id,
                key_source: None,
                jwt_verified: None,
                client_ip,
                endpoint,
                context,
                user,
                role,
                anomalies,
            };
        };
        self.stats.keys[found.idx].1 += 1;
        let label = self.keys[found.idx].label.clone();

        let verified = found.verified;
        match verified {
            Some(true) => self.stats.jwt_verified += 1,
            Some(false) => {
                self.stats.jwt_verify_failed += 1;
                push_unique(&mut anomalies, SessionAnomaly::JwtSignatureInvalid);
            }
            None => {}
        }
        let base = found.base;
        // The carrier is hashed only when a session is opened (it links the new session to
        // the one the server set its value in): most transactions join an open session.
        let carrier_raw = found.carrier.as_ref();
        let key_idx = found.idx;

        // Find or open the session: in the slot the batch's prefetch found, if it still holds
        // this key (one open session per key), else through the index.
        let existing = slot
            .filter(|&i| holds(&self.slots, i, &base))
            .or_else(|| self.index.get(&base, &self.slots));
        let slot = match existing {
            Some(i) => {
                let (touch, start, started) = {
                    let s = self.session(i);
                    (s.touch_us, s.part_start_us, s.started)
                };
                if now.saturating_sub(touch) >= self.limits.idle_us {
                    self.end_slot(
                        i,
                        touch.saturating_add(self.limits.idle_us),
                        EndReason::Idle,
                        out,
                    );
                    None
                } else {
                    if started && now.saturating_sub(start) >= self.limits.max_duration_us {
                        self.split(
                            i,
                            start.saturating_add(self.limits.max_duration_us),
                            now,
                            out,
                        );
                    }
                    Some(i)
                }
            }
            None => None,
        };
        let i = match slot {
            Some(i) => i,
            None => {
                let carrier = carrier_raw.map(|c| c.hash(&self.keyed));
                self.open(base, key_idx, carrier, now, out)
            }
        };
        let session_id = self.session(i).id;

        // Values the server set in this response bind later requests to this part.
        for &v in server_values.iter() {
            let (added, evicted) = self.bindings.bind(v, session_id);
            self.stats.bindings_added += u64::from(added);
            self.stats.bindings_evicted += u64::from(evicted);
        }
        self.body_anomalies(*events, &mut anomalies);

        // Fold the transaction in.
        // Numbered by the batch's prefetch, else here (ids are never reused, so one given
        // earlier in the batch is still this name's).
        let endpoint_id =
            endpoint_id.or_else(|| endpoint.as_deref().map(|e| self.endpoint_ids.id(e)));
        let lim = self.limits.clone();
        let mut dropped = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
        {
            let s = self.session_mut(i);
            if !s.started && s.part > 1 {
                s.part_start_us = now;
            }
            s.touch_us = now;
            s.dirty = true;
            s.verified = verified;
            let sum = &mut s.summary;
            let (first_ts, last_ts) = tx_times(tx);
            if sum.requests == 0 || first_ts < sum.first_seen_us {
                sum.first_seen_us = first_ts;
            }
            sum.last_seen_us = sum.last_seen_us.max(last_ts);
            sum.requests += 1;
            sum.request_bytes += tx.request.as_ref().map_or(0, |r| r.body_bytes);
            sum.response_bytes += tx.response.as_ref().map_or(0, |r| r.body_bytes);
            if !sum.client_ips.add(client_ip, lim.max_ips) {
                dropped.0 += 1;
            }
            let ua = tx
                .request
                .as_ref()
                .and_then(|r| header(&r.headers, "user-agent"))
                .filter(|v| !v.is_empty());
            if let Some(ua) = ua {
                let c = cut(ua, lim.max_value_bytes);
                if c.len() < ua.len() {
                    dropped.5 += 1;
                }
                if !sum.user_agents.add_str(c, lim.max_uas) {
                    dropped.1 += 1;
                }
            }
            let status = tx
                .response
                .as_ref()
                .map_or(StatusKey::None, |r| StatusKey::Code(r.status));
            count_status(&mut sum.status, status);
            if let (Some(e), Some(id)) = (&endpoint, endpoint_id) {
                // By id among the session's own; by name only when the id is not there (a
                // new endpoint, or ids cleared since the session listed it).
                let at = s.endpoint_ids.iter().position(|&x| x == id).or_else(|| {
                    let at = sum.endpoints.iter().position(|(n, _)| **n == **e)?;
                    s.endpoint_ids[at] = id;
                    Some(at)
                });
                if let Some((_, agg)) = at.and_then(|at| sum.endpoints.get_mut(at)) {
                    agg.count += 1;
                    count_status(&mut agg.status, status);
                } else if sum.endpoints.len() < lim.max_endpoints {
                    let mut agg = EndpointAgg {
                        count: 1,
                        ..EndpointAgg::default()
                    };
                    count_status(&mut agg.status, status);
                    sum.endpoints.push((e.as_str().into(), agg));
                    s.endpoint_ids.push(id);
                } else {
                    sum.endpoints_dropped += 1;
                    dropped.2 += 1;
                }
                debug_assert_eq!(s.endpoint_ids.len(), sum.endpoints.len());
            }
            for v in values.drain(..) {
                let agg = sum.context.entry(v.name).or_default();
                if !agg.add(v.fingerprint, v.exported, v.number, lim.max_distinct) {
                    dropped.3 += 1;
                }
            }
            if user.is_some() {
                sum.user.clone_from(&user);
            }
            if role.is_some() {
                sum.role.clone_from(&role);
            }
            if !tx.anomalies.is_empty() || !tx.tcp_anomalies.is_empty() || !anomalies.is_empty() {
                let names = tx
                    .anomalies
                    .iter()
                    .filter_map(|a| serde_json::to_value(a).ok())
                    .chain(
                        tx.tcp_anomalies
                            .iter()
                            .filter_map(|a| serde_json::to_value(a).ok()),
                    )
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .chain(anomalies.iter().map(|a| a.name().to_string()));
                for n in names {
                    if sum.anomalies.contains_key(&n) || sum.anomalies.len() < MAX_ANOMALY_KINDS {
                        *sum.anomalies.entry(n).or_insert(0) += 1;
                    }
                }
            }
            if sum.transaction_ids.len() < lim.max_tx_ids {
                sum.transaction_ids.push(transaction_id);
            } else {
                sum.transaction_ids_dropped += 1;
                dropped.4 += 1;
            }
        }
        self.stats.client_ips_dropped += dropped.0;
        self.stats.user_agents_dropped += dropped.1;
        self.stats.endpoints_dropped += dropped.2;
        self.stats.distinct_values_capped += dropped.3;
        self.stats.transaction_ids_dropped += dropped.4;
        self.stats.values_truncated += dropped.5;
        self.move_to_back(LRU, i);
        if !self.session(i).started {
            let s = self.session_mut(i);
            s.started = true;
            s.dirty = false;
            if s.part > 1 {
                self.stats.parts_started += 1;
                self.move_to_back(SPLIT, i);
            }
            let rec = self.record(i, Phase::Start, now, None);
            out.push(rec);
        }
        self.check_invariants();
        TxSession {
            session_id: Some(session_id),
            transaction_id,
            key_source: Some(label),
            jwt_verified: verified,
            client_ip,
            endpoint,
            context,
            user,
            role,
            anomalies,
        }
    }

    /// Advance packet time: idle ends, max-duration splits, periodic updates, in that order.
    /// O(expired): each list is walked from its oldest entry and stops at the first that is
    /// not due.
    pub fn expire(&mut self, now_us: u64, out: &mut Vec<SessionRecord>) {
        self.now_us = self.now_us.max(now_us);
        let now = self.now_us;
        while let Some(i) = self.head(LRU) {
            let deadline = self.session(i).touch_us.saturating_add(self.limits.idle_us);
            if deadline > now {
                break;
            }
            self.end_slot(i, deadline, EndReason::Idle, out);
        }
        while let Some(i) = self.head(SPLIT) {
            let s = self.session(i);
            let deadline = s.part_start_us.saturating_add(self.limits.max_duration_us);
            if deadline > now {
                break;
            }
            self.split(i, deadline, now, out);
        }
        if self.limits.update_us > 0 {
            while let Some(i) = self.head(UPDATE) {
                let s = self.session(i);
                if s.update_us.saturating_add(self.limits.update_us) > now {
                    break;
                }
                if s.started && s.dirty {
                    let rec = self.record(i, Phase::Update, now, None);
                    out.push(rec);
                    self.stats.updates += 1;
                }
                let s = self.session_mut(i);
                s.dirty = false;
                s.update_us = now;
                self.move_to_back(UPDATE, i);
            }
        }
        self.check_invariants();
    }

    /// End every open session with `reason`, least recently active first.
    pub fn flush(&mut self, now_us: u64, reason: EndReason, out: &mut Vec<SessionRecord>) {
        self.now_us = self.now_us.max(now_us);
        while let Some(i) = self.head(LRU) {
            self.end_slot(i, self.now_us, reason, out);
        }
        self.check_invariants();
    }

    /// Open a session for `base`, evicting the least recently active one at the bound.
    #[cold]
    #[inline(never)]
    fn open(
        &mut self,
        base: HashId,
        key_idx: usize,
        carrier: Option<HashId>,
        now: u64,
        out: &mut Vec<SessionRecord>,
    ) -> u32 {
        if self.index.len() >= self.limits.max_sessions {
            if let Some(victim) = self.head(LRU) {
                self.end_slot(victim, now, EndReason::Evicted, out);
            }
        }
        let linked_from = carrier
            .and_then(|c| self.bindings.get(&c))
            .filter(|s| *s != base);
        if linked_from.is_some() {
            self.stats.sessions_linked += 1;
        }
        // A session opened by a login inherits who logged in (the login form or token request
        // was seen in the part it is linked from), until its own transactions say otherwise.
        let mut summary = SessionSummary::default();
        if let Some(from) = linked_from
            .and_then(|lf| self.index.get(&lf, &self.slots))
            .and_then(|slot| session_in(&self.slots, slot))
        {
            summary.user.clone_from(&from.summary.user);
            summary.role.clone_from(&from.summary.role);
        }
        self.stats.sessions_started += 1;
        let session = Session {
            base,
            id: base,
            part: 1,
            previous_part: None,
            linked_from,
            key_idx,
            verified: None,
            started: false,
            touch_us: now,
            part_start_us: now,
            update_us: now,
            dirty: false,
            summary,
            endpoint_ids: SmallVec::new(),
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Slot {
                    session: Some(session),
                };
                self.links[i as usize] = UNLINKED;
                i
            }
            None => {
                self.slots.push(Slot {
                    session: Some(session),
                });
                self.links.push(UNLINKED);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(&base, i, &self.slots);
        self.push_back(LRU, i);
        self.push_back(SPLIT, i);
        if self.limits.update_us > 0 {
            self.push_back(UPDATE, i);
        }
        i
    }

    /// End the current part at `at` (if it had transactions) and continue as the next part,
    /// empty until its first transaction.
    #[cold]
    #[inline(never)]
    fn split(&mut self, i: u32, at: u64, now: u64, out: &mut Vec<SessionRecord>) {
        if self.session(i).started {
            let rec = self.take_record(i, at, EndReason::MaxDuration);
            out.push(rec);
            self.stats.ended_max_duration += 1;
            let keyed = self.keyed.clone();
            let s = self.session_mut(i);
            s.previous_part = Some(s.id);
            s.part += 1;
            s.id = keyed.hash(Domain::Part, &[&s.base.0, &s.part.to_le_bytes()]);
            s.started = false;
            s.dirty = false;
            s.linked_from = None;
        }
        let s = self.session_mut(i);
        s.part_start_us = now;
        s.update_us = now;
        self.move_to_back(SPLIT, i);
        if self.limits.update_us > 0 {
            self.move_to_back(UPDATE, i);
        }
    }

    /// Remove session `i`, emitting its end record at `at` when it had transactions.
    #[cold]
    #[inline(never)]
    fn end_slot(&mut self, i: u32, at: u64, reason: EndReason, out: &mut Vec<SessionRecord>) {
        match reason {
            EndReason::Idle => self.stats.ended_idle += 1,
            EndReason::MaxDuration => self.stats.ended_max_duration += 1,
            EndReason::Evicted => self.stats.ended_evicted += 1,
            EndReason::EndOfInput => self.stats.ended_end_of_input += 1,
            EndReason::Shutdown => self.stats.ended_shutdown += 1,
        }
        if self.session(i).started {
            let rec = self.take_record(i, at, reason);
            out.push(rec);
        } else {
            self.stats.empty_parts_dropped += 1;
        }
        for l in 0..LISTS {
            if l != UPDATE || self.limits.update_us > 0 {
                self.unlink(l, i);
            }
        }
        if let Some(s) = self.slots[i as usize].session.take() {
            self.index.remove(&s.base, i);
        }
        self.free.push(i);
    }

    /// The end record of session `i`, moving its summary out.
    #[cold]
    #[inline(never)]
    fn take_record(&mut self, i: u32, at: u64, reason: EndReason) -> SessionRecord {
        let s = self.session_mut(i);
        let summary = std::mem::take(&mut s.summary);
        s.endpoint_ids.clear();
        let mut r = self.record_header(i, Phase::End, at, Some(reason));
        r.summary = Box::new(summary);
        r
    }

    /// A record of session `i` with a copy of its summary.
    #[cold]
    #[inline(never)]
    fn record(&self, i: u32, phase: Phase, at: u64, reason: Option<EndReason>) -> SessionRecord {
        let mut r = self.record_header(i, phase, at, reason);
        r.summary = Box::new(self.session(i).summary.clone());
        r
    }

    /// A record of session `i` with an empty summary.
    fn record_header(
        &self,
        i: u32,
        phase: Phase,
        at: u64,
        reason: Option<EndReason>,
    ) -> SessionRecord {
        let s = self.session(i);
        SessionRecord {
            phase,
            ts_us: at,
            session_id: s.id,
            part: s.part,
            previous_part: s.previous_part,
            linked_from: s.linked_from,
            key_source: self.keys[s.key_idx].label.clone(),
            anonymous: self.keys[s.key_idx].is_fallback(),
            verified: s.verified,
            reason,
            summary: Box::default(),
        }
    }

    /// Count the body events `ev` and add their anomalies.
    fn body_anomalies(&mut self, ev: BodyEvents, anomalies: &mut Vec<SessionAnomaly>) {
        for st in [ev.request, ev.response].into_iter().flatten() {
            self.stats.bodies_decoded += 1;
            match st {
                DecodeStatus::Capped => {
                    self.stats.body_decode_limit += 1;
                    push_unique(anomalies, SessionAnomaly::BodyDecodeLimit);
                }
                DecodeStatus::Failed | DecodeStatus::Unsupported => {
                    self.stats.body_decode_failed += 1;
                    push_unique(anomalies, SessionAnomaly::BodyDecodeFailed);
                }
                DecodeStatus::Partial => self.stats.body_decode_partial += 1,
                DecodeStatus::Identity | DecodeStatus::Decoded => {}
            }
        }
        if ev.json_failed {
            self.stats.json_parse_failed += 1;
            push_unique(anomalies, SessionAnomaly::JsonParseFailed);
        }
        if ev.multipart_capped {
            self.stats.multipart_parts_limit += 1;
            push_unique(anomalies, SessionAnomaly::MultipartPartsLimit);
        }
    }

    /// The session in slot `i` (which must hold one).
    fn session(&self, i: u32) -> &Session {
        self.slots[i as usize]
            .session
            .as_ref()
            .unwrap_or_else(|| unreachable!("slot {i} is free"))
    }

    /// The session in slot `i`, mutably.
    fn session_mut(&mut self, i: u32) -> &mut Session {
        self.slots[i as usize]
            .session
            .as_mut()
            .unwrap_or_else(|| unreachable!("slot {i} is free"))
    }

    /// Oldest entry of list `l`.
    fn head(&self, l: usize) -> Option<u32> {
        let h = self.lists[l].head;
        (h != NIL).then_some(h)
    }

    /// Append slot `i` to list `l`.
    fn push_back(&mut self, l: usize, i: u32) {
        let tail = self.lists[l].tail;
        self.links[i as usize][l] = Link {
            prev: tail,
            next: NIL,
        };
        if tail == NIL {
            self.lists[l].head = i;
        } else {
            self.links[tail as usize][l].next = i;
        }
        self.lists[l].tail = i;
    }

    /// Remove slot `i` from list `l`.
    fn unlink(&mut self, l: usize, i: u32) {
        let Link { prev, next } = self.links[i as usize][l];
        if prev == NIL {
            self.lists[l].head = next;
        } else {
            self.links[prev as usize][l].next = next;
        }
        if next == NIL {
            self.lists[l].tail = prev;
        } else {
            self.links[next as usize][l].prev = prev;
        }
        self.links[i as usize][l] = UNLINKED[l];
    }

    /// Move slot `i` to the end of list `l`.
    fn move_to_back(&mut self, l: usize, i: u32) {
        if self.lists[l].tail != i {
            self.unlink(l, i);
            self.push_back(l, i);
        }
    }

    /// Debug builds: the invariants of the table hold.
    fn check_invariants(&self) {
        #[cfg(debug_assertions)]
        {
            debug_assert!(self.index.len() <= self.limits.max_sessions);
            if self.index.len() > INVARIANT_WALK_MAX_SESSIONS {
                return;
            }
            for l in 0..LISTS {
                if l == UPDATE && self.limits.update_us == 0 {
                    continue;
                }
                let (mut n, mut cur, mut last_t) = (0usize, self.lists[l].head, 0u64);
                while cur != NIL {
                    let s = self.session(cur);
                    let t = match l {
                        LRU => s.touch_us,
                        SPLIT => s.part_start_us,
                        _ => s.update_us,
                    };
                    debug_assert!(t >= last_t, "list {l} out of order");
                    last_t = t;
                    n += 1;
                    cur = self.links[cur as usize][l].next;
                }
                debug_assert_eq!(n, self.index.len(), "list {l} length");
            }
        }
    }
}

/// Packet times of a transaction: its first byte and its last byte.
fn tx_times(tx: &Transaction) -> (u64, u64) {
    let first = tx.ts_us();
    let last = [
        tx.request.as_ref().map(|r| r.end_ts_us),
        tx.response.as_ref().map(|r| r.end_ts_us),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(first);
    (first, last.max(first))
}

#[cfg(test)]
mod index_tests {
    use super::*;

    /// Cache lines the prefetched prefix of a session may span.
    const SESSION_HOT_LINES: usize = 7;

    /// Every field a transaction reads or writes lies in the prefix the batch prefetch
    /// requests, and that prefix stays within its lines (a reordered field fails here, not in
    /// a benchmark).
    #[test]
    fn per_transaction_fields_lie_in_the_prefetched_prefix() {
        use std::mem::{offset_of, size_of};
        let end = |at: usize, size: usize| at + size;
        let s = offset_of!(Session, summary);
        let hot = [
            end(offset_of!(Session, base), size_of::<HashId>()),
            end(offset_of!(Session, id), size_of::<HashId>()),
            end(offset_of!(Session, touch_us), 8),
            end(offset_of!(Session, part_start_us), 8),
            end(offset_of!(Session, part), 4),
            end(offset_of!(Session, verified), 1),
            end(offset_of!(Session, started), 1),
            end(offset_of!(Session, dirty), 1),
            end(
                offset_of!(Session, endpoint_ids),
                size_of::<SmallVec<[u64; INLINE_ENDPOINT_IDS]>>(),
            ),
            s + offset_of!(SessionSummary, transaction_ids),
            s + offset_of!(SessionSummary, last_seen_us),
            s + offset_of!(SessionSummary, client_ips),
            s + offset_of!(SessionSummary, user_agents),
            s + offset_of!(SessionSummary, status),
            end(
                s + offset_of!(SessionSummary, endpoints),
                size_of::<Vec<(Box<str>, EndpointAgg)>>(),
            ),
        ];
        for (i, e) in hot.iter().enumerate() {
            assert!(
                *e <= SESSION_HOT_BYTES,
                "field {i} ends at {e}, past {SESSION_HOT_BYTES}"
            );
        }
        const {
            assert!(SESSION_HOT_BYTES <= SESSION_HOT_LINES * prefetch::CACHE_LINE_BYTES);
            assert!(std::mem::align_of::<Slot>() == prefetch::CACHE_LINE_BYTES);
            assert!(SESSION_HOT_BYTES < size_of::<Session>());
        }
    }

    /// A session keyed by `base` with nothing accumulated.
    fn session(base: HashId) -> Slot {
        Slot {
            session: Some(Session {
                base,
                id: base,
                part: 1,
                previous_part: None,
                linked_from: None,
                key_idx: 0,
                verified: None,
                started: false,
                touch_us: 0,
                part_start_us: 0,
                update_us: 0,
                dirty: false,
                summary: SessionSummary::default(),
                endpoint_ids: SmallVec::new(),
            }),
        }
    }

    /// Keys whose index hashes are equal are told apart by the key in the slot, and removing
    /// one leaves the other.
    #[test]
    fn index_tells_apart_keys_with_one_hash() {
        let a = HashId([7; 16]);
        let mut b = a;
        b.0[15] = 8;
        assert_eq!(index_hash(&a), index_hash(&b));
        let slots = vec![session(a), session(b)];
        let mut index = SessionIndex::default();
        index.insert(&a, 0, &slots);
        index.insert(&b, 1, &slots);
        assert_eq!(index.len(), 2);
        assert_eq!(index.get(&a, &slots), Some(0));
        assert_eq!(index.get(&b, &slots), Some(1));
        index.prefetch(&a, &slots);
        index.remove(&a, 0);
        assert_eq!(index.get(&a, &slots), None);
        assert_eq!(index.get(&b, &slots), Some(1));
        assert_eq!(index.get(&HashId([9; 16]), &slots), None);
    }
}
