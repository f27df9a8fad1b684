//! The session table and its lifecycle on packet time: start, periodic updates, idle end,
//! max-duration split into linked parts, LRU eviction at `max_sessions`, flush.
//!
//! Sessions live in a slab indexed by the keyed hash of their key ([`SlabTable`], shared with
//! the flow table). Three lists through the slab keep them in the order of each deadline, so
//! `expire` costs O(expired):
//! - `LRU`: by last activity (idle timeout, eviction, flush order);
//! - `SPLIT`: by part start (max duration);
//! - `UPDATE`: by last update (periodic updates; only when `update_interval_ms > 0`).
//!
//! Every push uses the clamped packet time `now`, which never decreases, so each list stays
//! sorted by its deadline.
//!
//! A transaction is observed in two steps: [`Sessionizer::observe_facts`] places it in its
//! session, then, once the output stages after the table have added their per-session state
//! ([`Sessionizer::state_mut`]), [`Sessionizer::commit`] writes the start record of a part it
//! opened, so that the record holds what every stage counted for that first transaction.

use std::net::IpAddr;
use std::sync::Arc;

use apitap_table::{KeyHash, Keyed as Entry, SlabTable};
use smallvec::SmallVec;

use super::anomaly::SessionAnomaly;
use super::bindings::Bindings;
use super::body::DecodeStatus;
use super::client_ip::{ClientIpResolver, IpOrigin};
use super::config::{parse_cidr, SessionConfig, SessionConfigError};
use super::endpoint::EndpointNamer;
use super::endpoint_ids::{EndpointIds, INLINE_ENDPOINT_IDS};
use super::facts::{Candidate, Extractor, TxFacts};
use super::jwt::Verifier;
use super::keys::CompiledKey;
use super::secret::{Domain, HashId, Keyed, Secret};
use super::stats::SessionStats;
use super::summary::{EndReason, Phase, SessionRecord, SessionSummary, TransactionId};
use super::view::BodyEvents;
use crate::http::Transaction;
use crate::prefetch::CACHE_LINE_BYTES;

mod batch;
mod fold;
mod lifecycle;

/// Microseconds per millisecond.
const US_PER_MS: u64 = 1000;

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

/// Bytes of a session slot [`Sessionizer::prefetch`] requests: the fields every transaction
/// reads and the start of its summary.
const PREFETCH_SESSION_BYTES: usize = 6 * CACHE_LINE_BYTES;

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
    /// The username a login request posted, as exported like `user`, whether or not the login
    /// succeeded (`user` is set only when it did).
    pub login_user: Option<String>,
    /// Session-layer anomalies of this transaction, without duplicates.
    pub anomalies: Vec<SessionAnomaly>,
    /// Where its session is in the table, until [`Sessionizer::commit`]; `None` without one.
    pub slot: Option<SessionSlot>,
}

impl TxSession {
    /// The names of the anomalies its session counts for `tx`: HTTP, TCP, then session
    /// layer.
    pub fn anomaly_names<'a>(
        &'a self,
        tx: &'a Transaction,
    ) -> impl Iterator<Item = &'static str> + 'a {
        tx.anomaly_names()
            .chain(self.anomalies.iter().map(|a| a.name()))
    }
}

/// Where a transaction's session is in the table, for the output stages after the table
/// ([`Sessionizer::state_mut`]) and [`Sessionizer::commit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionSlot {
    /// The slot.
    slot: u32,
    /// The part it held (checked before use).
    id: HashId,
    /// The transaction opened the part: its start record waits for [`Sessionizer::commit`].
    start_due: bool,
}

impl SessionSlot {
    /// The transaction opened the part: [`Sessionizer::commit`] writes its start record, which
    /// holds what the output stages added to the part by then.
    pub fn opens_part(&self) -> bool {
        self.start_due
    }
}

/// What the session table's batch prefetch found for one transaction, a hint
/// [`Sessionizer::observe_facts`] checks before use (sessions may open and end between).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionHint {
    /// The slot of the key's open session.
    slot: Option<u32>,
    /// The endpoint's id among the table's endpoint names.
    endpoint_id: Option<u64>,
}

/// One open session (its current part).
#[derive(Debug)]
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
    /// What the part accumulated.
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

impl Entry for Session {
    type Key = HashId;
    fn key(&self) -> &HashId {
        &self.base
    }
}

/// The index hash of a session: its key's keyed hash is an HMAC output, uniform and unknown
/// to whoever chooses the key values, so its first 8 bytes are the hash as they are.
#[derive(Clone, Copy, Debug)]
struct BaseHash;

impl KeyHash<HashId> for BaseHash {
    #[inline]
    fn hash_key(&self, base: &HashId) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&base.0[..8]);
        u64::from_le_bytes(b)
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
    /// Client IPs per session.
    max_ips: usize,
    /// User agents per session.
    max_uas: usize,
    /// Endpoints per session.
    max_endpoints: usize,
    /// Distinct values per parameter.
    max_distinct: usize,
    /// Transaction ids per session.
    max_tx_ids: usize,
    /// Per-value bound, bytes.
    max_value_bytes: usize,
}

/// Assigns transactions to sessions and emits `session` records.
///
/// Invariant: the table holds at most `max_sessions` sessions, each on every list (UPDATE
/// only when updates are on), and each list is sorted by its time field.
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
    /// The open sessions, by the keyed hash of their key, on the three lists.
    table: SlabTable<Session, BaseHash, LISTS>,
    /// Numbers endpoint names for the sessions' [`Session::endpoint_ids`].
    endpoint_ids: EndpointIds,
    /// Counters.
    stats: SessionStats,
    /// Packet time, never decreasing.
    now_us: u64,
}

impl std::fmt::Debug for Sessionizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessionizer")
            .field("active", &self.table.len())
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

/// Bytes of one transaction-id run (connection, first depth, count) in a session's list.
const TX_ID_RUN_BYTES: usize = 16;

/// Bytes of one endpoint a session remembers: its 64-byte entry, its name (a `Box<str>` of a
/// normalised template, 64 bytes allowed) and its id.
const ENDPOINT_BYTES: usize = 64 + 64 + 8;

/// Bytes of one distinct-value fingerprint (a `u64` in a `BTreeSet`, with its node share).
const DISTINCT_VALUE_BYTES: usize = 24;

impl Sessionizer {
    /// Memory one open session may cost at the worst with `cfg`'s per-session bounds, in
    /// bytes: its slot, and every list it keeps full (transaction ids, endpoints, client
    /// addresses, User-Agents, context parameters' distinct values). An estimate from those
    /// bounds (the smaller lists of a summary, status codes and anomaly kinds, are left
    /// out); what the sensor divides the sessions' share of `limits.max_memory_mb` by.
    /// Typical sessions use far less.
    pub fn session_bytes(cfg: &SessionConfig) -> usize {
        let params = cfg.params.len().saturating_mul(
            cfg.max_distinct_values_per_param * DISTINCT_VALUE_BYTES + cfg.max_value_bytes,
        );
        SlabTable::<Session, BaseHash, LISTS>::ENTRY_BYTES
            + cfg.max_transaction_ids_per_session * TX_ID_RUN_BYTES
            + cfg.max_endpoints_per_session * ENDPOINT_BYTES
            + cfg.max_client_ips_per_session * std::mem::size_of::<IpAddr>()
            + cfg.max_user_agents_per_session * cfg.max_value_bytes
            + params
    }

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
            table: SlabTable::with_capacity(BaseHash, cfg.max_sessions),
            endpoint_ids: EndpointIds::default(),
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
        self.table.len()
    }

    /// A reader of transactions for [`Self::observe_facts`], to run elsewhere (one per worker
    /// of the sharded pipeline): same keys, parameters, secret and verification key.
    pub fn extractor(&self) -> Extractor {
        self.extractor.clone()
    }

    /// What `tx` tells the table, read here (the pipeline reads facts ahead, with a clone of
    /// [`Self::extractor`], where the transaction was parsed).
    pub fn read_facts(&mut self, tx: &Transaction) -> TxFacts {
        self.extractor.facts(tx)
    }

    /// Forget the endpoint names' ids, as when their table fills up.
    #[cfg(test)]
    pub(crate) fn forget_endpoint_ids(&mut self) {
        self.endpoint_ids.clear();
    }

    /// Assign one finished transaction to a session and commit it: [`Self::observe_facts`]
    /// with facts read here, then [`Self::commit`]. Returns what its http record needs;
    /// pushes the session records it causes into `out`.
    pub fn observe(
        &mut self,
        now_us: u64,
        tx: &Transaction,
        out: &mut Vec<SessionRecord>,
    ) -> TxSession {
        let mut facts = self.read_facts(tx);
        let ts = self.observe_facts(now_us, tx, &mut facts, SessionHint::default(), out);
        if let Some(sum) = self.state_mut(&ts) {
            sum.count_anomalies(ts.anomaly_names(tx));
        }
        self.commit(&ts, out);
        ts
    }

    /// Assign one finished transaction to a session, with what it tells sessions already read
    /// (by an [`Extractor`] of this sessionizer's, possibly on another thread; facts from
    /// another sessionizer's give meaningless sessions, never a panic). Pushes the records of
    /// the sessions it ends (idle, split or evicted) into `out`; the start record of a part it
    /// opens waits for [`Self::commit`].
    ///
    /// Taken by reference, not moved (a few hundred bytes per transaction): what the record
    /// carries (endpoint, context, user, role) is taken out of `facts`, and its parameter
    /// values are drained into the session's aggregates.
    pub fn observe_facts(
        &mut self,
        now_us: u64,
        tx: &Transaction,
        facts: &mut TxFacts,
        hint: SessionHint,
        out: &mut Vec<SessionRecord>,
    ) -> TxSession {
        self.now_us = self.now_us.max(now_us);
        let now = self.now_us;
        self.stats.transactions += 1;
        let mut anomalies = Vec::new();
        self.count_client_ip(facts, &mut anomalies);
        self.stats.values_truncated += facts.values_truncated;
        let mut ts = TxSession {
            session_id: None,
            transaction_id: TransactionId {
                conn: tx.conn.0,
                depth: tx.depth,
            },
            key_source: None,
            jwt_verified: None,
            client_ip: facts.client_ip,
            endpoint: std::mem::take(&mut facts.endpoint),
            context: std::mem::take(&mut facts.context),
            user: facts.user.take(),
            role: facts.role.take(),
            login_user: facts.login_user.take(),
            anomalies: Vec::new(),
            slot: None,
        };
        let Some(found) = self.session_key(facts).cloned() else {
            self.stats.transactions_without_key += 1;
            self.body_anomalies(facts.events_keyless, &mut anomalies);
            ts.anomalies = anomalies;
            return ts;
        };
        self.stats.keys[found.idx].1 += 1;
        match found.verified {
            Some(true) => self.stats.jwt_verified += 1,
            Some(false) => {
                self.stats.jwt_verify_failed += 1;
                push_unique(&mut anomalies, SessionAnomaly::JwtSignatureInvalid);
            }
            None => {}
        }
        let i = self.find_or_open(&found, hint.slot, now, out);
        let session_id = self.session(i).id;
        // Values the server set in this response bind later requests to this part.
        for &v in &facts.server_values {
            let (added, evicted) = self.bindings.bind(v, session_id);
            self.stats.bindings_added += u64::from(added);
            self.stats.bindings_evicted += u64::from(evicted);
        }
        self.body_anomalies(facts.events, &mut anomalies);
        // Numbered by the batch's prefetch, else here (ids are never reused, so one given
        // earlier in the batch is still this name's).
        let endpoint_id = hint
            .endpoint_id
            .or_else(|| ts.endpoint.as_deref().map(|e| self.endpoint_ids.id(e)));
        let endpoint = ts.endpoint.as_deref().zip(endpoint_id);
        let dropped = self.fold(i, now, tx, &ts, endpoint, &mut facts.values);
        dropped.add_to(&mut self.stats);
        let s = self.session_mut(i);
        s.verified = found.verified;
        let start_due = !s.started;
        self.table.move_to_back(LRU, i);
        self.check_invariants();
        ts.session_id = Some(session_id);
        ts.key_source = self.keys.get(found.idx).map(|k| k.label.clone());
        ts.jwt_verified = found.verified;
        ts.anomalies = anomalies;
        ts.slot = Some(SessionSlot {
            slot: i,
            id: session_id,
            start_due,
        });
        ts
    }

    /// The open session of the client-IP fallback key (`fallback:ip`) for `ip`: its current
    /// part's id, when the key is configured and the session is open (not idle at the table's
    /// packet time). For records of connections that have no session key of their own (TLS);
    /// looking does not touch the session.
    pub fn ip_fallback_session(&self, ip: IpAddr) -> Option<HashId> {
        let key = self.keys.iter().find(|k| k.is_ip_fallback())?;
        let value = super::keys::ip_text(ip);
        let base = self
            .keyed
            .hash(Domain::Session, &[key.label.as_bytes(), value.as_bytes()]);
        let s = self.table.get(self.table.find(&base)?)?;
        (self.now_us.saturating_sub(s.touch_us) < self.limits.idle_us).then_some(s.id)
    }

    /// The per-session state of `ts`'s session, for an output stage after the table to add
    /// to; `None` without a session.
    pub fn state_mut(&mut self, ts: &TxSession) -> Option<&mut SessionSummary> {
        let at = ts.slot?;
        let s = self.table.get_mut(at.slot).filter(|s| s.id == at.id)?;
        Some(&mut s.summary)
    }

    /// Finish observing `ts`: when its transaction opened a part, the part's start record
    /// goes into `out` (holding what the output stages added for it).
    pub fn commit(&mut self, ts: &TxSession, out: &mut Vec<SessionRecord>) {
        let Some(at) = ts.slot.filter(|a| a.start_due) else {
            return;
        };
        let now = self.now_us;
        let Some(s) = self
            .table
            .get_mut(at.slot)
            .filter(|s| s.id == at.id && !s.started)
        else {
            return;
        };
        s.started = true;
        s.dirty = false;
        let part = s.part;
        if part > 1 {
            self.stats.parts_started += 1;
            self.table.move_to_back(SPLIT, at.slot);
        }
        out.push(self.record(at.slot, Phase::Start, now, None));
    }

    /// Count where the client address came from; an unreadable forwarding header is an
    /// anomaly of the transaction.
    fn count_client_ip(&mut self, facts: &TxFacts, anomalies: &mut Vec<SessionAnomaly>) {
        match facts.ip_origin {
            IpOrigin::Peer => {}
            IpOrigin::Header => self.stats.client_ip_from_header += 1,
            IpOrigin::Untrusted => self.stats.client_ip_header_untrusted += 1,
            IpOrigin::HeaderInvalid => {
                self.stats.client_ip_header_invalid += 1;
                push_unique(anomalies, SessionAnomaly::ForwardedHeaderInvalid);
            }
        }
    }

    /// The key the transaction's session is found by, by precedence: a key that counts only
    /// when the server bound its value counts when it did.
    fn session_key<'f>(&self, facts: &'f TxFacts) -> Option<&'f Candidate> {
        let bindings = &self.bindings;
        facts
            .conditional
            .iter()
            .find(|c| c.bound.is_some_and(|b| bindings.get(&b).is_some()))
            .or(facts.key.as_ref())
            // Facts from an extractor of another config could name a key this one lacks.
            .filter(|c| c.idx < self.keys.len())
    }

    /// The slot of `found`'s open session (the one the batch's prefetch found, if it still
    /// holds this key, else through the index), ending it first when idle and splitting it
    /// when its part is too long; a new session when there is none.
    fn find_or_open(
        &mut self,
        found: &Candidate,
        hinted: Option<u32>,
        now: u64,
        out: &mut Vec<SessionRecord>,
    ) -> u32 {
        let base = found.base;
        let existing = hinted
            .filter(|&i| self.table.get(i).is_some_and(|s| s.base == base))
            .or_else(|| self.table.find(&base));
        if let Some(i) = existing {
            let (touch, start, started) = {
                let s = self.session(i);
                (s.touch_us, s.part_start_us, s.started)
            };
            if now.saturating_sub(touch) < self.limits.idle_us {
                if started && now.saturating_sub(start) >= self.limits.max_duration_us {
                    let at = start.saturating_add(self.limits.max_duration_us);
                    self.split(i, at, now, out);
                }
                return i;
            }
            let at = touch.saturating_add(self.limits.idle_us);
            self.end_slot(i, at, EndReason::Idle, out);
        }
        // The carrier is hashed only when a session is opened (it links the new session to
        // the one the server set its value in): most transactions join an open session.
        let carrier = found.carrier.as_ref().map(|c| c.hash(&self.keyed));
        self.open(base, found.idx, carrier, now, out)
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

    /// The session in slot `i`, which holds one: slots come from this table, so an empty one
    /// is a bug in the table, not something traffic can cause.
    fn session(&self, i: u32) -> &Session {
        self.table.get(i).expect("an occupied session slot")
    }

    /// The session in slot `i`, mutably.
    fn session_mut(&mut self, i: u32) -> &mut Session {
        self.table.get_mut(i).expect("an occupied session slot")
    }

    /// Debug builds: the invariants of the table hold.
    fn check_invariants(&self) {
        #[cfg(debug_assertions)]
        {
            debug_assert!(self.table.len() <= self.limits.max_sessions);
            if self.table.len() > INVARIANT_WALK_MAX_SESSIONS {
                return;
            }
            debug_assert_eq!(self.table.check(), Ok(()));
            for l in 0..LISTS {
                if l == UPDATE && self.limits.update_us == 0 {
                    continue;
                }
                let times = self.table.list(l).map(|i| {
                    let s = self.session(i);
                    match l {
                        LRU => s.touch_us,
                        SPLIT => s.part_start_us,
                        _ => s.update_us,
                    }
                });
                let times: Vec<u64> = times.collect();
                debug_assert!(
                    times.windows(2).all(|w| w[0] <= w[1]),
                    "list {l} out of order"
                );
                debug_assert_eq!(times.len(), self.table.len(), "list {l} length");
            }
        }
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;

    /// Keys whose index hashes are equal are told apart by the key in the slot.
    #[test]
    fn index_tells_apart_keys_with_one_hash() {
        let a = HashId([7; 16]);
        let mut b = a;
        b.0[15] = 8;
        assert_eq!(BaseHash.hash_key(&a), BaseHash.hash_key(&b));
    }
}
