//! The stateless half of sessionization: what one transaction tells the session table, worked
//! out without the table.
//!
//! Reading keys, JWT claims and context parameters, hashing them, resolving the client address
//! and naming the endpoint depend only on the transaction and the config, so an [`Extractor`]
//! can run wherever the transaction is (each worker of the sharded pipeline has one). The
//! table ([`super::Sessionizer::observe_facts`]) keeps what needs every transaction in order:
//! which keys the server bound, which sessions are open, their aggregates and lifecycle.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use apitap_inventory::BearerShape;

use super::client_ip::{ClientIpResolver, IpOrigin};
use super::config::{BodyConfig, ParamMode, ParamRole, ParamSide, SessionConfig};
use super::context::{numeric, Param};
use super::endpoint::EndpointNamer;
use super::jwt::{self, Verdict, Verifier};
use super::keys::{self, CompiledKey, Key};
use super::secret::{Domain, HashId, Keyed};
use super::user::{is_login, DefaultUser};
use super::view::{bearer_of, BearerSeed, BodyEvents, TxView};
use super::FixedHasher;
use crate::http::capture::PathKeywords;
use crate::http::Transaction;
use crate::prefetch;

/// Hashed after the value of a JWT key whose signature did not verify.
const UNVERIFIED: &str = "unverified";

/// A key present in a transaction, hashed.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    /// Index in the key list.
    pub idx: usize,
    /// Keyed hash of the key's label and value: the session's index and first part id.
    pub base: HashId,
    /// For JWT keys with verification on: whether the token's signature verified.
    pub verified: Option<bool>,
    /// The value as carried on the wire, looked up among server-set values (hashed) when a
    /// session opens, to link it to the session the server set it in.
    pub carrier: Option<Carrier>,
    /// For keys that count only when the server set the value (`set_cookie`,
    /// `login_token`): the value's keyed hash among bindings.
    pub bound: Option<HashId>,
}

/// A key's value as carried on the wire, for [`Candidate::carrier`].
#[derive(Clone, Debug)]
pub(crate) enum Carrier {
    /// The value; hashed only if a session opens (most transactions join an open one).
    Raw(String),
    /// Its keyed hash already, remembered with a bearer token's cached claims (a token is
    /// long and comes back on every request: copying it per transaction cost more than
    /// hashing it once).
    Hashed(HashId),
}

impl Carrier {
    /// The keyed hash looked up among server-set values.
    pub(crate) fn hash(&self, keyed: &Keyed) -> HashId {
        match self {
            Carrier::Raw(v) => keyed.hash(Domain::Binding, &[v.as_bytes()]),
            Carrier::Hashed(h) => *h,
        }
    }
}

/// One context parameter's value in a transaction.
#[derive(Clone, Debug)]
pub(crate) struct ParamValue {
    /// Parameter name.
    pub name: Arc<str>,
    /// Fingerprint of the raw value (distinct counts; never exported).
    pub fingerprint: u64,
    /// As exported; `None` in `drop` mode.
    pub exported: Option<String>,
    /// The raw value as a number (plain mode only).
    pub number: Option<f64>,
}

/// What one transaction tells the session table, from [`Extractor::facts`].
#[derive(Clone, Debug)]
pub struct TxFacts {
    /// The client after trusted-proxy resolution.
    pub(crate) client_ip: IpAddr,
    /// Where it came from.
    pub(crate) ip_origin: IpOrigin,
    /// Keys present before `key` that count only when bound, in key order.
    pub(crate) conditional: Vec<Candidate>,
    /// The first key present that needs no binding.
    pub(crate) key: Option<Candidate>,
    /// Context parameters present, in config order, as exported.
    pub(crate) context: Vec<(Arc<str>, String)>,
    /// Every parameter present, for the session's aggregates.
    pub(crate) values: Vec<ParamValue>,
    /// The first `user` parameter present.
    pub(crate) user: Option<String>,
    /// The first `role` parameter present.
    pub(crate) role: Option<String>,
    /// The username a login request posted, as exported (`[session.user]`).
    pub(crate) login_user: Option<String>,
    /// Parameter values cut at `max_value_bytes`.
    pub(crate) values_truncated: u64,
    /// `METHOD /normalised/path`; `None` without request.
    pub(crate) endpoint: Option<String>,
    /// Keyed hashes of the values the server set in this response (cookies, login tokens).
    pub(crate) server_values: Vec<HashId>,
    /// Body events after everything above was read.
    pub(crate) events: BodyEvents,
    /// Body events before the server-set values were read: what a transaction without a
    /// session (which binds nothing) reports.
    pub(crate) events_keyless: BodyEvents,
    /// The shape of the request's bearer token, when the claims cache judged it.
    pub(crate) bearer_shape: Option<BearerShape>,
}

impl TxFacts {
    /// The endpoint template the transaction's request names (`GET /api/v1/users/{id}`).
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Name the endpoint `METHOD template` instead (a spec's template:
    /// `GET /api/v1/users/{id}`). Nothing is allocated when it is the name already, as it is
    /// whenever the spec's template and the learned one agree.
    pub fn set_endpoint(&mut self, method: &str, template: &str) {
        let same = self
            .endpoint
            .as_deref()
            .and_then(|e| e.strip_prefix(method)?.strip_prefix(' '))
            == Some(template);
        if same {
            return;
        }
        let e = self.endpoint.get_or_insert_with(String::new);
        e.clear();
        e.reserve(method.len() + 1 + template.len());
        e.push_str(method);
        e.push(' ');
        e.push_str(template);
    }

    /// The client after trusted-proxy resolution.
    pub fn client_ip(&self) -> IpAddr {
        self.client_ip
    }

    /// The shape of the bearer token of the request's first `Authorization` field (`Bearer`
    /// and a token), judged once per distinct token where its claims are cached; `None`
    /// when no key or parameter reads the token's claims, or the token is too long to cache.
    /// API classification reads it instead of judging the token again.
    pub fn bearer_shape(&self) -> Option<BearerShape> {
        self.bearer_shape
    }
}

/// Reads transactions for the session table. Cheap to clone: one per worker.
#[derive(Clone, Debug)]
pub struct Extractor {
    /// Body limits.
    body: BodyConfig,
    /// Keys in precedence order.
    keys: Arc<[CompiledKey]>,
    /// Context parameters.
    params: Arc<[Param]>,
    /// The keyed hash.
    keyed: Keyed,
    /// JWT verification, when configured (its cache is per extractor).
    verifier: Option<Verifier>,
    /// Client IP resolution.
    ips: ClientIpResolver,
    /// Endpoint naming.
    endpoints: EndpointNamer,
    /// Login path keywords.
    login_keywords: PathKeywords,
    /// JSON pointers of tokens in login responses.
    login_pointers: Vec<String>,
    /// Cookie names whose `Set-Cookie` values are bound.
    bind_cookies: Vec<String>,
    /// Per-value bound, bytes.
    max_value_bytes: usize,
    /// Who the user is by default (`None`: only parameters say).
    default_user: Option<DefaultUser>,
    /// JWT claims decoded for earlier transactions (bounded, see [`jwt::ClaimsCache`]).
    claims_cache: jwt::ClaimsCache,
    /// A key or parameter reads the bearer token's claims: [`Self::facts_batch`] reads them
    /// ahead, after requesting them.
    reads_bearer_claims: bool,
}

impl Extractor {
    /// From a validated config and its compiled parts.
    pub(crate) fn new(
        cfg: &SessionConfig,
        keys: Arc<[CompiledKey]>,
        keyed: Keyed,
        verifier: Option<Verifier>,
        ips: ClientIpResolver,
        endpoints: EndpointNamer,
    ) -> Self {
        let mut login_pointers = cfg.login.token_pointers.clone();
        let mut bind_cookies: Vec<String> = Vec::new();
        for k in keys.iter() {
            if let Key::LoginToken { pointer, .. } = &k.key {
                if !login_pointers.contains(pointer) {
                    login_pointers.push(pointer.clone());
                }
            }
            if let Some(c) = k.cookie_name() {
                if !bind_cookies.iter().any(|b| b == c) {
                    bind_cookies.push(c.to_string());
                }
            }
        }
        // Only keys that read the bearer token's claims ask the cache to remember anything.
        let memo_keys = keys
            .iter()
            .rposition(CompiledKey::reads_bearer_claims)
            .map_or(0, |i| i + 1);
        let params: Arc<[Param]> = cfg.params.iter().map(Param::new).collect();
        let claims_cache = jwt::ClaimsCache::new(memo_keys);
        let default_user = DefaultUser::new(&cfg.user);
        let reads_bearer_claims = memo_keys > 0
            || params.iter().any(Param::reads_bearer_claims)
            || default_user
                .as_ref()
                .is_some_and(DefaultUser::reads_bearer_claims);
        Extractor {
            body: cfg.body.clone(),
            keys,
            params,
            keyed,
            verifier,
            ips,
            endpoints,
            login_keywords: PathKeywords::new(&cfg.login.path_keywords),
            login_pointers,
            bind_cookies,
            max_value_bytes: cfg.max_value_bytes,
            default_user,
            claims_cache,
            reads_bearer_claims,
        }
    }

    /// The facts of a batch of transactions, appended to `out` in order: what [`Self::facts`]
    /// gives each, read a stage at a time.
    ///
    /// By the time a transaction is finished its request head is long out of the caches
    /// (thousands of connections interleave), and a cached token's entry is a few cold lines
    /// more; read one transaction after the other, each miss waited for the one before. So
    /// the batch's targets and header fields are requested first, then its bearer tokens are
    /// found and hashed and their cache entries requested, then the claims looked up, and
    /// only then is each transaction read (with its token and claims in hand).
    pub fn facts_batch(&mut self, txs: &[&Transaction], out: &mut Vec<TxFacts>) {
        for tx in txs {
            if let Some(r) = &tx.request {
                r.headers.prefetch();
                prefetch::bytes(r.uri.as_ptr(), r.uri.len());
                prefetch::line(r.method.as_ptr());
            }
            if let Some(r) = &tx.response {
                r.headers.prefetch();
            }
        }
        if !self.reads_bearer_claims {
            out.extend(txs.iter().map(|tx| self.facts_seeded(tx, None)));
            return;
        }
        let cache = &self.claims_cache;
        let tokens: Vec<Option<(&str, u64)>> = txs
            .iter()
            .map(|tx| {
                let t = tx.request.as_ref().and_then(bearer_of)?;
                Some((t, cache.hash(t)))
            })
            .collect();
        for &(t, h) in tokens.iter().flatten() {
            cache.prefetch(t, h);
        }
        let seeds: Vec<BearerSeed<'_>> = tokens
            .iter()
            .map(|t| {
                let (claims, shape) = t.map_or((None, None), |(t, h)| cache.lookup(t, h));
                BearerSeed {
                    token: t.map(|(t, _)| t),
                    claims,
                    shape,
                }
            })
            .collect();
        for (tx, seed) in txs.iter().zip(seeds) {
            let f = self.facts_seeded(tx, Some(seed));
            out.push(f);
        }
    }

    /// Everything the session table needs from `tx`.
    pub fn facts(&mut self, tx: &Transaction) -> TxFacts {
        self.facts_seeded(tx, None)
    }

    /// [`Self::facts`], with the bearer token and its claims when read ahead.
    fn facts_seeded(&mut self, tx: &Transaction, seed: Option<BearerSeed<'_>>) -> TxFacts {
        let bearer_shape = seed.as_ref().and_then(|s| s.shape);
        let view = TxView::new(tx, &self.body, &self.claims_cache, seed);
        let peer = tx.client.ip();
        let (client_ip, ip_origin) = match view.req {
            Some(r) => self.ips.resolve(peer, &r.headers),
            None => (peer, IpOrigin::Peer),
        };
        let (conditional, key) = keys_present(
            &self.keys,
            &self.keyed,
            self.verifier.as_mut(),
            &view,
            client_ip,
        );
        let mut params = context(&self.params, &self.keyed, self.max_value_bytes, &view);
        let mut login_user = None;
        if let Some(d) = &self.default_user {
            let login = view
                .req
                .is_some_and(|r| is_login(&r.method, view.path, &self.login_keywords));
            let read = d.read(&view, login, &self.keyed, self.max_value_bytes);
            params.values_truncated += u64::from(read.truncated);
            login_user = read.login_user;
            // Parameters with `role = "user"` come first.
            if params.user.is_none() {
                params.user = read.user;
            }
        }
        let endpoint = view.req.map(|r| self.endpoints.name(&r.method, view.path));
        let events_keyless = view.events.get();
        // A transaction without any key present binds nothing: its response is not read.
        let server_values = if key.is_some() || !conditional.is_empty() {
            server_values(
                &view,
                &self.keyed,
                &self.bind_cookies,
                &self.login_keywords,
                &self.login_pointers,
            )
        } else {
            Vec::new()
        };
        TxFacts {
            client_ip,
            ip_origin,
            conditional,
            key,
            context: params.context,
            values: params.values,
            user: params.user,
            role: params.role,
            login_user,
            values_truncated: params.values_truncated,
            endpoint,
            server_values,
            events: view.events.get(),
            events_keyless,
            bearer_shape,
        }
    }
}

/// The session keys present, by precedence: the keys that count only when the server
/// bound their value, collected on the way to the first key that counts as it is, and
/// that key.
fn keys_present(
    keys: &[CompiledKey],
    keyed: &Keyed,
    verifier: Option<&mut Verifier>,
    view: &TxView<'_>,
    client_ip: IpAddr,
) -> (Vec<Candidate>, Option<Candidate>) {
    let session_hash = |idx: usize, value: &str, unverified: bool| {
        let label = keys.get(idx).map_or("", |k| &*k.label).as_bytes();
        if unverified {
            keyed.hash(
                Domain::Session,
                &[label, value.as_bytes(), UNVERIFIED.as_bytes()],
            )
        } else {
            keyed.hash(Domain::Session, &[label, value.as_bytes()])
        }
    };
    let mut conditional = Vec::new();
    let found = keys::resolve(keys, view, client_ip, |idx, v| {
        if v.is_empty() {
            return false;
        }
        conditional.push(Candidate {
            idx,
            base: session_hash(idx, v, false),
            verified: None,
            carrier: Some(Carrier::Raw(v.to_string())),
            bound: Some(keyed.hash(Domain::Binding, &[v.as_bytes()])),
        });
        false
    });
    let key = found.map(|f| {
        let verified = match (f.jwt, verifier) {
            (Some(tok), Some(v)) => {
                let id = keyed.hash(Domain::Token, &[tok.as_bytes()]);
                Some(v.verify(tok, id) == Verdict::Valid)
            }
            _ => None,
        };
        // A token that fails verification never joins the session of a verified one.
        let unverified = verified == Some(false);
        let hash = || session_hash(f.idx, &f.value, unverified);
        // A bearer token's claims are cached: so is the hash of the key read from them.
        let bearer_jwt = keys
            .get(f.idx)
            .is_some_and(CompiledKey::reads_bearer_claims);
        let (base, carrier) = match view.bearer_token_claims() {
            Some(c) if bearer_jwt => (
                c.base(f.idx, unverified, hash),
                // The carrier of a bearer JWT key is the token.
                f.carrier.map(|t| {
                    Carrier::Hashed(c.binding(|| keyed.hash(Domain::Binding, &[t.as_bytes()])))
                }),
            ),
            _ => (hash(), f.carrier.map(|c| Carrier::Raw(c.to_string()))),
        };
        Candidate {
            idx: f.idx,
            base,
            verified,
            carrier,
            bound: None,
        }
    });
    (conditional, key)
}

/// The context parameters present, in config order.
fn context(
    params: &[Param],
    keyed: &Keyed,
    max_value_bytes: usize,
    view: &TxView<'_>,
) -> ContextRead {
    let mut read = ContextRead::default();
    for p in params {
        let Some(raw) = p.extract(view) else {
            continue;
        };
        let (exported, was_cut) = p.export(&raw, keyed, max_value_bytes);
        read.values_truncated += u64::from(was_cut);
        let number = if p.mode == ParamMode::Plain {
            numeric(&raw)
        } else {
            None
        };
        if let Some(e) = &exported {
            read.context.push((p.name.clone(), e.clone()));
            // Several parameters may carry the user (a login form field, a JWT claim...):
            // the first present, in config order, wins.
            match p.role {
                Some(ParamRole::User) if read.user.is_none() => read.user = Some(e.clone()),
                Some(ParamRole::Role) if read.role.is_none() => read.role = Some(e.clone()),
                _ => {}
            }
        }
        read.values.push(ParamValue {
            name: p.name.clone(),
            fingerprint: FixedHasher::default().hash_one(raw.as_ref()),
            exported,
            number,
        });
    }
    read
}

/// The context parameters of one transaction, as [`Extractor::facts`] reads them.
#[derive(Default)]
struct ContextRead {
    /// As exported, in config order.
    context: Vec<(Arc<str>, String)>,
    /// Every parameter present, for the session's aggregates.
    values: Vec<ParamValue>,
    /// The first `user` parameter present.
    user: Option<String>,
    /// The first `role` parameter present.
    role: Option<String>,
    /// Values cut at `max_value_bytes`.
    values_truncated: u64,
}

/// Keyed hashes of the values the server set in `view`'s response: `Set-Cookie` values of
/// the bound cookies, and tokens at the login pointers of a successful JSON login response.
fn server_values(
    view: &TxView<'_>,
    keyed: &Keyed,
    bind_cookies: &[String],
    login_keywords: &PathKeywords,
    login_pointers: &[String],
) -> Vec<HashId> {
    let mut values = Vec::new();
    if !bind_cookies.is_empty() {
        for (name, value) in view.set_cookies() {
            if !value.is_empty() && bind_cookies.iter().any(|c| c == name) {
                values.push(keyed.hash(Domain::Binding, &[value.as_bytes()]));
            }
        }
    }
    if !login_pointers.is_empty() && view.json_success() && login_keywords.matches(view.path) {
        for p in login_pointers {
            if let Some(tok) = view.json_field(ParamSide::Response, p) {
                values.push(keyed.hash(Domain::Binding, &[tok.as_bytes()]));
            }
        }
    }
    values
}
