//! The behaviours stage: each transaction, in completion order and on packet time, updates
//! the state of its session, its client address, its user (or login username), its
//! User-Agent and its endpoint, and the kinds decide on what that state holds
//! (`docs/behaviours.md`).

use std::net::IpAddr;

use apitap_exporters::ExportError;
use apitap_sessionizer::alert::Alert;
use apitap_sessionizer::http::target::split_target;
use apitap_sessionizer::http::{Response, Transaction};
use apitap_sessionizer::session::config::BodyConfig;
use apitap_sessionizer::session::{body, context, HashId, TransactionId, TxSession};

use super::config::{BehavioursConfig, Statistic};
use super::credential_stuffing::Scope as LoginScope;
use super::entity::{
    self, Activity, AgentState, ClientState, EndpointState, Failures, ObjectTrack, Objects,
    SessionState, UserState, VolumeEvent,
};
use super::enumeration::NO_NUMBER;
use super::found::Found;
use super::ids;
use super::state::{fingerprint, fingerprint2, Accounted, Bound, Estimate, Evidence, Lru};
use super::stats::BehaviourStats;
use super::volume_spike::Scope as VolumeScope;
use super::{bola, brute_force, credential_stuffing, enumeration, scraping, volume_spike};
use crate::output::{OutputStats, Records, RunItem, SessionCx, Stage};
use crate::staged::Staged;

/// Transactions between two updates of the byte account: measuring the entities a
/// transaction touched after each one cost about 1 % of the pipeline's time; measured in
/// batches, a busy session is measured once for many of its transactions. The stage may pass
/// `max_held_bytes` by what this many transactions add before it gives some up.
const ACCOUNT_EVERY_TRANSACTIONS: u32 = 32;

/// Key sources of sessions without a credential (`fallback:ip+ua`, `fallback:ip`).
const ANONYMOUS_KEY_PREFIX: &str = "fallback:";

/// What one transaction says, read once for every kind.
struct Obs<'a> {
    /// Packet time.
    now_us: u64,
    /// The transaction.
    tx: TransactionId,
    /// Response status; `None` without response.
    status: Option<u16>,
    /// The status is one of `enumeration.failure_statuses` (a failed lookup): worked out
    /// once for the session and the client.
    lookup_failed: bool,
    /// Request method.
    method: &'a str,
    /// Request target (path and query).
    target: &'a str,
    /// Endpoint name and its fingerprint.
    endpoint: Option<(&'a str, u64)>,
    /// The object id the request names, and its fingerprint.
    object: Option<(&'a str, u64)>,
    /// The session's id and whether its key is a credential.
    session: Option<(HashId, bool)>,
    /// The client.
    client: IpAddr,
    /// The transaction's user.
    user: Option<&'a str>,
    /// A login: the username it posted and whether it failed.
    login: Option<(&'a str, bool)>,
    /// The request's User-Agent, read for logins only (only `credential_stuffing` looks at
    /// it).
    agent: Option<&'a str>,
    /// The value of `volume_spike`'s parameter in the transaction, when it has one and the
    /// kind is on (read once for the session and the user).
    volume: Option<f64>,
}

impl Obs<'_> {
    /// Evidence of this transaction.
    fn evidence(&self) -> Evidence {
        Evidence {
            ts_us: self.now_us,
            tx: self.tx,
            before: 0,
            aux: 0,
        }
    }

    /// The response succeeded (2xx).
    fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The behaviours stage (`[behaviours]`).
pub struct Behaviours {
    /// Settings.
    cfg: BehavioursConfig,
    /// Login path words (lower case), from `session.login.path_keywords`.
    login_keywords: Vec<String>,
    /// Body decoding limits for the scans.
    body: BodyConfig,
    /// `enumeration.failure_statuses`, looked up for every transaction.
    lookup_failures: Statuses,
    /// The scan of response bodies for the ids they issue.
    json_ids: ids::JsonIds,
    /// Per session.
    sessions: Lru<HashId, SessionState>,
    /// Per client address.
    clients: Lru<IpAddr, ClientState>,
    /// Per user or login username (by fingerprint).
    users: Lru<u64, UserState>,
    /// Per User-Agent (by fingerprint).
    agents: Lru<u64, AgentState>,
    /// Per endpoint (by fingerprint).
    endpoints: Lru<u64, EndpointState>,
    /// The id segment of each endpoint seen (by fingerprint), at most `max_endpoints`.
    id_segments: hashbrown::HashMap<u64, Option<usize>, foldhash::fast::FixedState>,
    /// Transactions since the byte account was last brought up to date.
    unaccounted: u32,
    /// What the prefetch pass found for each transaction of the run, in order (reused);
    /// `None` for one without a session.
    prefetched: Vec<Option<Prefetched>>,
    /// The entry of `prefetched` for the next transaction.
    next_prefetched: usize,
    /// The prefetch pass's hashes of the session and client keys (reused).
    prefetch_hashes: Vec<(Option<u64>, u64)>,
    /// Counters.
    stats: BehaviourStats,
}

impl Behaviours {
    /// The stage for validated settings; `login_keywords` and `body` are the session's.
    pub fn new(cfg: &BehavioursConfig, login_keywords: &[String], body: &BodyConfig) -> Self {
        let mut body = body.clone();
        body.max_decoded_bytes = body.max_decoded_bytes.min(cfg.max_scan_bytes);
        Behaviours {
            login_keywords: login_keywords
                .iter()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
            body,
            lookup_failures: Statuses::new(&cfg.enumeration.failure_statuses),
            json_ids: ids::JsonIds::default(),
            sessions: Lru::new(cfg.max_sessions),
            clients: Lru::new(cfg.max_clients),
            users: Lru::new(cfg.max_users),
            agents: Lru::new(cfg.max_user_agents),
            endpoints: Lru::new(cfg.max_endpoints),
            id_segments: hashbrown::HashMap::default(),
            unaccounted: 0,
            prefetched: Vec::new(),
            next_prefetched: 0,
            prefetch_hashes: Vec::new(),
            stats: BehaviourStats::default(),
            cfg: cfg.clone(),
        }
    }

    /// The segment of endpoint `e` (fingerprint `fp`) that holds its object id, worked out
    /// once per endpoint (while [`BehavioursConfig::max_endpoints`] are remembered; beyond,
    /// each time).
    fn id_segment(&mut self, e: &str, fp: u64) -> Option<usize> {
        match self.id_segments.get(&fp) {
            Some(n) => *n,
            None => self.new_id_segment(e, fp),
        }
    }

    /// [`Behaviours::id_segment`] of an endpoint not seen before (or not remembered), worked
    /// out from its name. Out of line: once per endpoint.
    #[cold]
    #[inline(never)]
    fn new_id_segment(&mut self, e: &str, fp: u64) -> Option<usize> {
        let placeholders = &self.cfg.id_placeholders;
        let n = ids::id_segment(e, |p| {
            p.ends_with("id}") || placeholders.iter().any(|x| x == p)
        });
        if self.id_segments.len() < self.cfg.max_endpoints {
            self.id_segments.insert(fp, n);
        }
        n
    }

    /// Read what every kind needs from a transaction and its session fields.
    fn observe<'a>(
        &mut self,
        now_us: u64,
        tx: &'a Transaction,
        ts: &'a TxSession,
    ) -> Option<Obs<'a>> {
        let req = tx.request.as_ref()?;
        let endpoint = ts
            .endpoint
            .as_deref()
            .map(|e| (e, fingerprint(e.as_bytes())));
        let object = endpoint
            .and_then(|(e, fp)| {
                let segment = self.id_segment(e, fp);
                ids::target_object(&req.uri, segment, &self.cfg.id_query_params)
            })
            .map(|id| (id, fingerprint(id.as_bytes())));
        let status = tx.response.as_ref().map(|r| r.status);
        let lookup_failed = status.is_some_and(|s| self.lookup_failures.contains(s));
        let login = ts.login_user.as_deref().map(|u| (u, self.login_failed(tx)));
        Some(Obs {
            now_us,
            tx: ts.transaction_id,
            status,
            lookup_failed,
            method: &req.method,
            target: &req.uri,
            endpoint,
            object,
            session: ts.session_id.map(|id| {
                let credential = !ts
                    .key_source
                    .as_deref()
                    .is_some_and(|k| k.starts_with(ANONYMOUS_KEY_PREFIX));
                (id, credential)
            }),
            client: ts.client_ip,
            user: ts.user.as_deref(),
            login,
            agent: login.and_then(|_| req.headers.get("user-agent")),
            volume: volume_value(&self.cfg, &ts.context),
        })
    }

    /// True when a login's response says it failed: a failure status, a redirect whose
    /// `Location` names a login page or an error, or a body with a failure word.
    #[cold]
    #[inline(never)]
    fn login_failed(&self, tx: &Transaction) -> bool {
        let Some(r) = tx.response.as_ref() else {
            return false;
        };
        let lc = &self.cfg.login;
        if lc.failure_statuses.contains(&r.status) || r.status >= 400 {
            return true;
        }
        let has_marker = |hay: &[u8]| {
            lc.failure_body_markers.iter().any(|m| {
                !m.is_empty()
                    && hay
                        .windows(m.len())
                        .any(|w| w.eq_ignore_ascii_case(m.as_bytes()))
            })
        };
        if (300..400).contains(&r.status) {
            let to = r.headers.get("location").unwrap_or("");
            return has_marker(to.as_bytes())
                || self
                    .login_keywords
                    .iter()
                    .any(|k| has_marker_word(to.as_bytes(), k));
        }
        if r.body.is_empty() {
            return false;
        }
        let (data, _) = body::decode(
            r.headers.get("content-encoding"),
            &r.body,
            r.body_truncated,
            &self.body,
        );
        has_marker(&data)
    }
}

/// Statuses a bit set holds; larger ones (not HTTP's three digits) are kept in a list.
const STATUS_BITS: usize = 1024;

/// A set of response statuses: a transaction's status is looked up with one shift, where a
/// search of the configured list was a vectorised loop of its own for every transaction.
#[derive(Clone, Debug)]
struct Statuses {
    /// Bit `s` of the statuses below [`STATUS_BITS`].
    bits: [u64; STATUS_BITS / 64],
    /// The others.
    others: Vec<u16>,
}

impl Statuses {
    /// The set of `list`.
    fn new(list: &[u16]) -> Self {
        let mut set = Statuses {
            bits: [0; STATUS_BITS / 64],
            others: Vec::new(),
        };
        for &s in list {
            match set.bits.get_mut(usize::from(s) / 64) {
                Some(w) => *w |= 1 << (s % 64),
                None => set.others.push(s),
            }
        }
        set
    }

    /// True when `s` is in the set.
    fn contains(&self, s: u16) -> bool {
        match self.bits.get(usize::from(s) / 64) {
            Some(w) => (w >> (s % 64)) & 1 == 1,
            None => self.others.contains(&s),
        }
    }
}

/// ASCII case-insensitive substring test of `word` (lower case) in `hay`.
fn has_marker_word(hay: &[u8], word: &str) -> bool {
    !word.is_empty()
        && hay
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// Who an alert concerns.
struct Whom<'a> {
    /// The session, for session kinds.
    session: Option<HashId>,
    /// The client.
    client: IpAddr,
    /// The user.
    user: Option<&'a str>,
}

impl Behaviours {
    /// Write the alert for `found`, count it, and count it in the session's record when it
    /// concerns the transaction's session.
    #[cold]
    #[inline(never)]
    fn raise(
        &mut self,
        now_us: u64,
        found: Found,
        whom: Whom<'_>,
        cx: &mut Option<SessionCx<'_>>,
        records: &mut Records,
    ) -> Result<(), ExportError> {
        let mut alert = Alert {
            kind: found.kind,
            ts_us: now_us,
            first_ts_us: found.first_ts_us,
            session_id: whom.session,
            client_ip: whom.client,
            user: whom.user.map(str::to_owned),
            endpoint: found.endpoint,
            transaction_ids: Vec::new(),
            transaction_ids_dropped: 0,
            evidence: found.evidence,
        };
        for t in found.txs {
            alert.push_transaction(t);
        }
        *self.stats.alerts.entry(found.kind).or_default() += 1;
        if let Some(SessionCx {
            tx,
            state: Some(state),
        }) = cx
        {
            if whom.session.is_some() && tx.session_id == whom.session {
                state.count_alert(found.kind);
            }
        }
        records.alert(&alert)
    }
}

impl Stage for Behaviours {
    /// The stage's per-transaction code and state are the largest of the output stages', and
    /// it only writes alerts and counts them in its sessions.
    fn deferred(&self) -> bool {
        true
    }

    fn transaction(
        &mut self,
        now_us: u64,
        item: &Staged,
        session: Option<SessionCx<'_>>,
        records: &mut Records,
    ) -> Result<(), ExportError> {
        let hint = self.prefetched.get(self.next_prefetched).copied().flatten();
        self.next_prefetched += 1;
        let done = self.update(now_us, item, session, hint, records);
        self.unaccounted += 1;
        if self.unaccounted >= ACCOUNT_EVERY_TRANSACTIONS {
            self.unaccounted = 0;
            self.account();
        }
        done
    }

    /// The run's sessions' and clients' entries first, then (arrived by then) what they own
    /// that the update searches, then the transaction's object track's ids: thousands of
    /// entities do not fit in the caches, and touched one transaction after the other each
    /// miss waited for the one before. The slots found are the update's hints.
    fn prefetch_run(&mut self, run: &[RunItem<'_>]) {
        let mut keys = std::mem::take(&mut self.prefetched);
        keys.clear();
        self.next_prefetched = 0;
        // The slots' hashes, for the second pass (the slots then hold what `keys` gets).
        let mut hashes = std::mem::take(&mut self.prefetch_hashes);
        hashes.clear();
        for r in run {
            let key = r.session.map(|ts| Prefetched {
                session: ts.session_id.map(|id| (id, None)),
                client: (ts.client_ip, None),
                endpoint: ts.endpoint.as_deref().map(|e| fingerprint(e.as_bytes())),
            });
            if let Some(k) = &key {
                let session = k.session.as_ref().map(|(id, _)| self.sessions.prefetch(id));
                hashes.push((session, self.clients.prefetch(&k.client.0)));
            }
            keys.push(key);
        }
        for (k, (session_hash, client_hash)) in keys.iter_mut().flatten().zip(&hashes) {
            if let (Some((id, slot)), Some(hash)) = (&mut k.session, session_hash) {
                *slot = self.sessions.find_hashed(*hash, id);
                if let Some(s) = slot.and_then(|at| self.sessions.peek_at(at)) {
                    s.prefetch();
                }
            }
            k.client.1 = self.clients.find_hashed(*client_hash, &k.client.0);
            if let Some(c) = k.client.1.and_then(|at| self.clients.peek_at(at)) {
                c.prefetch();
            }
        }
        self.prefetch_hashes = hashes;
        for k in keys.iter().flatten() {
            let Some(fp) = k.endpoint else {
                continue;
            };
            let session = k.session.and_then(|(_, at)| self.sessions.peek_at(at?));
            let client = k.client.1.and_then(|at| self.clients.peek_at(at));
            let objects = [session.map(|s| &s.objects), client.map(|c| &c.objects)];
            for o in objects.into_iter().flatten() {
                o.prefetch_track(fp);
            }
        }
        self.prefetched = keys;
    }

    fn add_stats(&self, stats: &mut OutputStats) {
        let mut b = self.stats.clone();
        b.sessions_evicted = self.sessions.evicted;
        b.clients_evicted = self.clients.evicted;
        b.users_evicted = self.users.evicted;
        b.user_agents_evicted = self.agents.evicted;
        b.endpoints_evicted = self.endpoints.evicted;
        b.held_bytes = self.held_bytes();
        stats.behaviours = b;
    }
}

impl Behaviours {
    /// Bytes the tables hold, as of the last [`Behaviours::account`].
    fn held_bytes(&self) -> usize {
        self.sessions.held_bytes()
            + self.clients.held_bytes()
            + self.users.held_bytes()
            + self.agents.held_bytes()
            + self.endpoints.held_bytes()
    }

    /// Bring the byte account up to date with what the transaction changed, and past
    /// `max_held_bytes` have the table holding the most forget its least recently active
    /// entity until the stage is within it (counted). Out of line: it runs once every
    /// [`ACCOUNT_EVERY_TRANSACTIONS`].
    #[inline(never)]
    fn account(&mut self) {
        let mut tables: [&mut dyn Accounted; 5] = [
            &mut self.sessions,
            &mut self.clients,
            &mut self.users,
            &mut self.agents,
            &mut self.endpoints,
        ];
        let total = |t: &[&mut dyn Accounted]| t.iter().map(|t| t.held_bytes()).sum::<usize>();
        tables.iter_mut().for_each(|t| t.settle());
        let mut held = total(&tables);
        self.stats.peak_held_bytes = self.stats.peak_held_bytes.max(held);
        while held > self.cfg.max_held_bytes {
            let Some(largest) = tables.iter_mut().max_by_key(|t| t.held_bytes()) else {
                break;
            };
            if !largest.forget_oldest() {
                break;
            }
            self.stats.memory_evictions += 1;
            held = total(&tables);
        }
    }

    /// What [`Stage::transaction`] does, before the byte account.
    fn update(
        &mut self,
        now_us: u64,
        item: &Staged,
        session: Option<SessionCx<'_>>,
        hint: Option<Prefetched>,
        records: &mut Records,
    ) -> Result<(), ExportError> {
        let cx = session;
        let Some(ts) = cx.as_ref().map(|c| c.tx) else {
            return Ok(());
        };
        // Requests that carry attack payloads are attack detection's evidence, not behaviour
        // evidence (a scanner's failing probes are not enumeration). Protocol findings (framing
        // and reassembly anomalies) carry no payload and do not count.
        if item.scan.as_ref().is_some_and(|s| {
            s.findings
                .iter()
                .any(|f| f.class != apitap_detect::Class::Protocol)
        }) {
            self.stats.attack_transactions += 1;
            return Ok(());
        }
        let Some(obs) = self.observe(now_us, &item.tx, ts) else {
            return Ok(());
        };
        let mut found: Vec<Found> = Vec::new();
        let population = self.population(&obs);
        if let Some((id, credential)) = obs.session {
            let slot = hint.and_then(|h| h.session).and_then(|(_, slot)| slot);
            let entity = (id, slot);
            self.session_kinds(&obs, &item.tx, entity, credential, population, &mut found);
        }
        let client_at = hint.and_then(|h| h.client.1);
        self.client_kinds(&obs, client_at, population, &mut found);
        if obs.login.is_some() || obs.volume.is_some() {
            self.user_kinds(&obs, &mut found);
        }
        if found.is_empty() {
            return Ok(());
        }
        self.raise_all(now_us, &obs, found, cx, records)
    }

    /// Write the alerts of a transaction's findings, each with whom it concerns.
    #[cold]
    #[inline(never)]
    fn raise_all(
        &mut self,
        now_us: u64,
        obs: &Obs<'_>,
        found: Vec<Found>,
        mut cx: Option<SessionCx<'_>>,
        records: &mut Records,
    ) -> Result<(), ExportError> {
        let session_user = cx
            .as_ref()
            .and_then(|c| c.state.as_deref())
            .and_then(|s| s.user.clone());
        for f in found {
            let whom = Whom {
                session: obs.session.map(|(id, _)| id).filter(|_| f.session),
                client: obs.client,
                user: match f.kind {
                    brute_force::KIND => obs.login.map(|(u, _)| u),
                    _ => session_user.as_deref().or(obs.user),
                },
            };
            self.raise(now_us, f, whom, &mut cx, records)?;
        }
        Ok(())
    }
}

impl Behaviours {
    /// The endpoint's distinct objects read by everyone, with this transaction's (a 2xx read
    /// of an object, when `scraping` is on); worked out by the few decisions that read it.
    fn population(&mut self, obs: &Obs<'_>) -> Estimate {
        let (Some((_, efp)), Some((_, ofp)), true, true) = (
            obs.endpoint,
            obs.object,
            obs.ok(),
            self.cfg.scraping.enabled,
        ) else {
            return Estimate::default();
        };
        let e = self.endpoints.touch(efp);
        e.objects.add(ofp);
        e.objects.snapshot()
    }

    /// The kinds that look at the session: ownership, `bola`, `scraping`, `enumeration`,
    /// `volume_spike`. Its findings concern the session.
    fn session_kinds(
        &mut self,
        obs: &Obs<'_>,
        tx: &Transaction,
        (id, slot): (HashId, Option<u32>),
        credential: bool,
        population: Estimate,
        found: &mut Vec<Found>,
    ) {
        let cfg = &self.cfg;
        let stats = &mut self.stats;
        let s = self.sessions.touch_at(id, slot);
        s.activity.add(obs.endpoint.map(|(_, fp)| fp));
        // Owned before this response is read: an object's own body names its id. A `201`
        // made the object it names.
        let owned = obs
            .object
            .is_some_and(|(_, fp)| s.known.contains(fp) || obs.status == Some(201));
        if credential {
            let scan = BodyScan {
                limits: &self.body,
                json_ids: &self.json_ids,
            };
            learn_ownership(cfg, &scan, obs, tx, s, stats);
        }
        let bola = (credential && cfg.bola.enabled).then_some(BolaRead {
            owned,
            known: s.known.len(),
        });
        let first = found.len();
        read_objects(
            cfg,
            stats,
            &mut s.objects,
            &s.activity,
            obs,
            population,
            bola,
            found,
        );
        let f = failed_lookups(cfg, stats, &mut s.failures, s.activity.requests, obs);
        keep(found, f);
        if obs.volume.is_some() && obs.endpoint.is_some() {
            let (endpoints, key) = (&mut self.endpoints, fingerprint(&id.0));
            let scope = VolumeScope::Session;
            let f = on_volume(cfg, stats, endpoints, &mut s.volume, key, obs, scope);
            keep(found, f);
        }
        if found.len() > first {
            concern_session(found.get_mut(first..).unwrap_or_default());
        }
    }

    /// The kinds that look at the client address and the User-Agent: `scraping`,
    /// `enumeration`, `credential_stuffing`.
    fn client_kinds(
        &mut self,
        obs: &Obs<'_>,
        slot: Option<u32>,
        population: Estimate,
        found: &mut Vec<Found>,
    ) {
        let cfg = &self.cfg;
        let stats = &mut self.stats;
        let c = self.clients.touch_at(obs.client, slot);
        c.activity.add(obs.endpoint.map(|(_, fp)| fp));
        read_objects(
            cfg,
            stats,
            &mut c.objects,
            &c.activity,
            obs,
            population,
            None,
            found,
        );
        let f = failed_lookups(cfg, stats, &mut c.failures, c.activity.requests, obs);
        keep(found, f);
        if let Some(login) = obs.login {
            let logins = Logins {
                cfg,
                stats,
                agents: &mut self.agents,
            };
            client_login(logins, &mut c.logins, obs, login, found);
        }
    }

    /// The kinds that look at the user: `brute_force` (by login username) and
    /// `volume_spike` (by user, across sessions). Out of line: only logins and transactions
    /// with the volume parameter come here.
    #[inline(never)]
    fn user_kinds(&mut self, obs: &Obs<'_>, found: &mut Vec<Found>) {
        let cfg = &self.cfg;
        if let (Some((username, true)), true) = (obs.login, cfg.brute_force.enabled) {
            let u = self.users.touch(fingerprint(username.as_bytes()));
            let mut ev = obs.evidence();
            ev.aux = client_fp(obs.client) as i64;
            keep(found, brute_force::on_failed_login(&cfg.brute_force, u, ev));
        }
        let Some(user) = obs
            .user
            .filter(|_| obs.volume.is_some() && obs.endpoint.is_some())
        else {
            return;
        };
        let key = fingerprint(user.as_bytes());
        let u = self.users.touch(key);
        let (stats, endpoints) = (&mut self.stats, &mut self.endpoints);
        let f = on_volume(
            cfg,
            stats,
            endpoints,
            &mut u.volume,
            key,
            obs,
            VolumeScope::User,
        );
        keep(found, f);
    }
}

/// Keep what a kind found, if anything. The finding's move and the vector's growth are out
/// of line: every transaction asks each kind, and few find anything.
#[inline(always)]
fn keep(found: &mut Vec<Found>, f: Option<Found>) {
    if let Some(f) = f {
        keep_found(found, f);
    }
}

/// [`keep`] of a finding.
#[cold]
#[inline(never)]
fn keep_found(found: &mut Vec<Found>, f: Found) {
    found.push(f);
}

/// Mark findings as concerning the transaction's session.
#[cold]
#[inline(never)]
fn concern_session(found: &mut [Found]) {
    for f in found {
        f.session = true;
    }
}

/// The entities a transaction of a run will touch, as its prefetch pass found them: each
/// key with the slot its entry held then (a hint for [`Lru::touch_at`]).
#[derive(Clone, Copy, Debug)]
struct Prefetched {
    /// Its session's part, as the session table found it.
    session: Option<(HashId, Option<u32>)>,
    /// Its client.
    client: (IpAddr, Option<u32>),
    /// Its endpoint's fingerprint.
    endpoint: Option<u64>,
}

/// The value of the volume parameter in `obs` of the entity whose values are `volume` and
/// fingerprint `key` (a session or a user, by `scope`), on its endpoint, for `volume_spike`
/// against the endpoint's other entities of that scope. Out of line: only transactions with
/// the parameter come here.
#[inline(never)]
fn on_volume(
    cfg: &BehavioursConfig,
    stats: &mut BehaviourStats,
    endpoints: &mut Lru<u64, EndpointState>,
    volume: &mut entity::Volume,
    key: u64,
    obs: &Obs<'_>,
    scope: VolumeScope,
) -> Option<Found> {
    let (Some(value), Some((name, efp))) = (obs.volume, obs.endpoint) else {
        return None;
    };
    let endpoint = endpoints.touch(efp);
    let pop = match scope {
        VolumeScope::Session => &mut endpoint.sessions,
        VolumeScope::User => &mut endpoint.users,
    };
    let e = VolumeEvent {
        ts_us: obs.now_us,
        value,
        tx: obs.tx,
    };
    let vs = &cfg.volume_spike;
    let (f, dropped) = volume_spike::on_value(vs, volume, pop, key, e, scope, name);
    stats.volume_values_dropped += dropped;
    f
}

/// What `bola` needs to know about a session's read.
#[derive(Clone, Copy, Debug)]
struct BolaRead {
    /// The id was issued to the session.
    owned: bool,
    /// Ids issued to the session.
    known: usize,
}

/// A 2xx read of an object by an entity (session or client): tracked on its endpoint, then
/// `bola` (sessions with a credential: `bola` is `Some`) and `scraping` look at a first read.
#[allow(clippy::too_many_arguments)]
fn read_objects(
    cfg: &BehavioursConfig,
    stats: &mut BehaviourStats,
    objects: &mut Objects,
    activity: &Activity,
    obs: &Obs<'_>,
    population: Estimate,
    bola: Option<BolaRead>,
    found: &mut Vec<Found>,
) {
    let (Some((name, efp)), Some((_, ofp)), true) = (obs.endpoint, obs.object, obs.ok()) else {
        return;
    };
    if bola.is_none() && !cfg.scraping.enabled {
        return;
    }
    let mut bound = Bound {
        max: cfg.max_ids_per_endpoint,
        dropped: &mut stats.ids_untracked,
    };
    let first_read = |track: &mut ObjectTrack| {
        if !bound.first(&mut track.ids, ofp) {
            return;
        }
        if let Some(b) = bola {
            let ev = obs.evidence();
            keep(
                found,
                bola::on_first_read(&cfg.bola, track, name, ev, b.owned, b.known),
            );
        }
        if cfg.scraping.enabled {
            let ev = obs.evidence();
            let population = || population.count();
            keep(
                found,
                scraping::on_first_read(&cfg.scraping, track, name, activity, ev, population),
            );
        }
    };
    if objects
        .read(efp, cfg.max_endpoints_per_entity, first_read)
        .is_none()
    {
        stats.endpoints_untracked += 1;
    }
}

/// A failed lookup of an entity (`requests`: its request count with this one) for
/// `enumeration`. Inline: most transactions are no failed lookup.
#[inline]
fn failed_lookups(
    cfg: &BehavioursConfig,
    stats: &mut BehaviourStats,
    failures: &mut Failures,
    requests: u64,
    obs: &Obs<'_>,
) -> Option<Found> {
    if !cfg.enumeration.enabled || !obs.lookup_failed {
        return None;
    }
    on_failed_lookup(cfg, stats, failures, requests, obs)
}

/// [`failed_lookups`] of a failed lookup.
#[inline(never)]
fn on_failed_lookup(
    cfg: &BehavioursConfig,
    stats: &mut BehaviourStats,
    failures: &mut Failures,
    requests: u64,
    obs: &Obs<'_>,
) -> Option<Found> {
    let (key, number) = failure_key(obs);
    let mut ev = obs.evidence();
    ev.aux = number;
    let bound = Bound {
        max: cfg.max_ids_per_endpoint,
        dropped: &mut stats.ids_untracked,
    };
    let endpoint = obs.endpoint.map(|(e, _)| e);
    enumeration::on_failure(
        &cfg.enumeration,
        failures,
        ev,
        key,
        requests,
        endpoint,
        bound,
    )
}

/// One login attempt.
struct Attempt {
    /// Its evidence.
    ev: Evidence,
    /// The username's fingerprint.
    user_fp: u64,
    /// It failed.
    failed: bool,
}

/// What a client's login updates beyond the client.
struct Logins<'a> {
    /// Settings.
    cfg: &'a BehavioursConfig,
    /// Counters.
    stats: &'a mut BehaviourStats,
    /// Per User-Agent.
    agents: &'a mut Lru<u64, AgentState>,
}

/// A login of the client whose attempts are `client` (`username`, `failed`), for
/// `credential_stuffing` by client and by User-Agent. Out of line: most transactions are no
/// login.
#[inline(never)]
fn client_login(
    to: Logins<'_>,
    client: &mut entity::Logins,
    obs: &Obs<'_>,
    (username, failed): (&str, bool),
    found: &mut Vec<Found>,
) {
    let Logins { cfg, stats, agents } = to;
    stats.logins += 1;
    if !cfg.credential_stuffing.enabled {
        return;
    }
    let attempt = Attempt {
        ev: obs.evidence(),
        user_fp: fingerprint(username.as_bytes()),
        failed,
    };
    keep(
        found,
        try_login(cfg, stats, client, &attempt, LoginScope::Client),
    );
    if let Some(agent) = obs.agent {
        let a = agents.touch(fingerprint(agent.as_bytes()));
        let mut clients = Bound {
            max: cfg.max_ids_per_endpoint,
            dropped: &mut stats.ids_untracked,
        };
        clients.first(&mut a.clients, client_fp(obs.client));
        let scope = LoginScope::Agent {
            clients: a.clients.len(),
        };
        keep(found, try_login(cfg, stats, &mut a.logins, &attempt, scope));
    }
}

/// A login attempt of a client or a User-Agent, for `credential_stuffing`.
#[inline(never)]
fn try_login(
    cfg: &BehavioursConfig,
    stats: &mut BehaviourStats,
    logins: &mut entity::Logins,
    a: &Attempt,
    scope: LoginScope,
) -> Option<Found> {
    let bound = Bound {
        max: cfg.max_ids_per_endpoint,
        dropped: &mut stats.ids_untracked,
    };
    let cs = &cfg.credential_stuffing;
    credential_stuffing::on_attempt(cs, logins, a.ev, a.user_fp, a.failed, scope, bound)
}

/// Fingerprint of a client address.
fn client_fp(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(a) => fingerprint(&a.octets()),
        IpAddr::V6(a) => fingerprint(&a.octets()),
    }
}

/// The failing object's fingerprint (endpoint and id, or the path) and its id as a number
/// ([`NO_NUMBER`] when it is not one).
fn failure_key(obs: &Obs<'_>) -> (u64, i64) {
    match (obs.endpoint, obs.object) {
        (Some((e, _)), Some((id, _))) => (
            fingerprint2(e.as_bytes(), id.as_bytes()),
            id.parse().unwrap_or(NO_NUMBER),
        ),
        _ => (
            fingerprint(split_target(obs.target).0.as_bytes()),
            NO_NUMBER,
        ),
    }
}

/// The volume parameter's value in a transaction's context parameters (1 per transaction
/// for `count`).
fn volume_value(cfg: &BehavioursConfig, context: &[(std::sync::Arc<str>, String)]) -> Option<f64> {
    let v = &cfg.volume_spike;
    if !v.enabled || v.param.is_empty() || context.is_empty() {
        return None;
    }
    let (_, raw) = context.iter().find(|(n, _)| **n == *v.param)?;
    match v.statistic {
        Statistic::Sum => context::numeric(raw),
        Statistic::Count => Some(1.0),
    }
}

/// How response bodies are read for the ids they issue.
struct BodyScan<'a> {
    /// Decoding limits.
    limits: &'a BodyConfig,
    /// The scan for id keys.
    json_ids: &'a ids::JsonIds,
}

/// Learn the ids the transaction issues to the session: its `Location`, the id in the path
/// of its own creating request (`201`), and ids in its 2xx JSON body.
fn learn_ownership(
    cfg: &BehavioursConfig,
    scan: &BodyScan<'_>,
    obs: &Obs<'_>,
    tx: &Transaction,
    s: &mut SessionState,
    stats: &mut BehaviourStats,
) {
    let Some(r) = tx
        .response
        .as_ref()
        .filter(|r| (200..400).contains(&r.status))
    else {
        return;
    };
    if r.status == 201 || (300..400).contains(&r.status) {
        learn_created(cfg, obs, r, s, stats);
    }
    // Only the bodies the HTTP layer selects for this stage issue ids (`Response::issues_ids`:
    // listings of collections read by id, creations). Detection stores every body; reading
    // the others for ids (inflating most of them) cost more than the detector itself
    // (docs/bench.md, "the integrated build").
    if !cfg.bola.learn_from_bodies
        || r.body.is_empty()
        || !(200..300).contains(&r.status)
        || !r.issues_ids
    {
        return;
    }
    learn_from_body(cfg, scan, obs, r, s, stats);
}

/// Learn the ids a creation (`201`) or a redirect (3xx) issues: its `Location`, and a
/// creation's own id in the request's path. Out of line: most responses are neither.
#[inline(never)]
fn learn_created(
    cfg: &BehavioursConfig,
    obs: &Obs<'_>,
    r: &Response,
    s: &mut SessionState,
    stats: &mut BehaviourStats,
) {
    let mut bound = Bound {
        max: cfg.max_known_ids_per_session,
        dropped: &mut stats.known_ids_dropped,
    };
    // `Location` names a created object (201) or a redirect's target (3xx).
    if let Some(id) = r.headers.get("location").and_then(ids::location_id) {
        bound.first(&mut s.known, fingerprint(id.as_bytes()));
    }
    if let (201, Some((_, fp))) = (r.status, obs.object) {
        bound.first(&mut s.known, fp);
    }
}

/// Learn the ids in a 2xx body the HTTP layer selected, unless it is a compressed creation.
#[inline(never)]
fn learn_from_body(
    cfg: &BehavioursConfig,
    scan: &BodyScan<'_>,
    obs: &Obs<'_>,
    r: &Response,
    s: &mut SessionState,
    stats: &mut BehaviourStats,
) {
    // A compressed creation response is not inflated: a decoder costs tens of thousands
    // of instructions to set up, more than a small body's ids are worth when its
    // `Location`, its path or its uncompressed peers name the object (docs/bench.md).
    // Listings are inflated: they issue many ids at once.
    let encoded = r
        .headers
        .get("content-encoding")
        .is_some_and(|c| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("identity"));
    if encoded && obs.method != "GET" {
        stats.bodies_not_inflated += 1;
        return;
    }
    scan_body(cfg, scan, r, s, stats);
}

/// Learn the ids in a stored response body. Out of the per-transaction path: few responses
/// are stored.
#[cold]
#[inline(never)]
fn scan_body(
    cfg: &BehavioursConfig,
    scan: &BodyScan<'_>,
    r: &Response,
    s: &mut SessionState,
    stats: &mut BehaviourStats,
) {
    let mut bound = Bound {
        max: cfg.max_known_ids_per_session,
        dropped: &mut stats.known_ids_dropped,
    };
    let (data, _) = body::decode(
        r.headers.get("content-encoding"),
        &r.body,
        r.body_truncated,
        scan.limits,
    );
    stats.bodies_scanned += 1;
    let text = data
        .get(..cfg.max_scan_bytes.min(data.len()))
        .unwrap_or(&[]);
    scan.json_ids.scan(text, cfg.max_ids_per_response, |v| {
        bound.first(&mut s.known, fingerprint(v));
    });
}

#[cfg(test)]
mod tests {
    use super::Statuses;

    /// The set answers as its list does, for every status a `u16` holds.
    #[test]
    fn statuses_answer_as_their_list() {
        let list = [401, 403, 404, 0, 63, 64, 1023, 1024, 65535];
        let set = Statuses::new(&list);
        for s in 0..=u16::MAX {
            assert_eq!(set.contains(s), list.contains(&s), "{s}");
        }
        assert!(!Statuses::new(&[]).contains(404));
    }
}
