//! JSON Web Tokens (RFC 7519): claims decoded without verification, and optional signature
//! verification (HS256, RS256, ES256) through `jsonwebtoken`.
//!
//! Only the signature is checked: `exp`/`nbf` would need a wall clock, and a stage has none.
//! `verified: true` means "signed by the configured key", nothing more.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use std::hash::BuildHasher;

use apitap_inventory::BearerShape;
use hashbrown::{HashMap, HashTable};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use smallvec::SmallVec;

use super::config::{decoding_key, JwtAlgorithm, JwtConfig};
use super::secret::HashId;
use super::FixedHasher;
use crate::prefetch;
use foldhash::fast::RandomState;

/// Largest JWT looked at, in bytes: real tokens are well under 8 KiB (header limits).
pub const MAX_JWT_BYTES: usize = 16 * 1024;

/// Verification results remembered (by keyed hash of the token); the cache is cleared when
/// full. A token repeats on every request of its session, so this saves most signature checks.
pub const VERIFY_CACHE_ENTRIES: usize = 4096;

/// Tokens whose decoded claims are remembered; the cache is cleared when full. A client sends
/// the same token on every request of its session, so this saves most base64 and JSON work.
pub const CLAIMS_CACHE_ENTRIES: usize = 4096;

/// Token bytes the claims cache may hold before it is cleared (bounds its memory, since a
/// token may be up to [`MAX_JWT_BYTES`]).
pub const CLAIMS_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Decoded claims by token, bounded by [`CLAIMS_CACHE_ENTRIES`] and [`CLAIMS_CACHE_BYTES`].
/// Raw tokens stay in memory only; nothing here is exported.
#[derive(Debug)]
pub(crate) struct ClaimsCache {
    /// Claims by token, and the token bytes held.
    map: std::cell::RefCell<(ClaimsMap, usize)>,
    /// Session keys each token's claims remember a memo for: the keys up to the last one
    /// that reads the bearer token's claims (later ones never ask).
    memo_keys: usize,
}

/// Session keys whose memo lives inside a token's cached claims (the default key list reads
/// the bearer token's claims with its first key only).
pub const INLINE_KEY_MEMOS: usize = 1;

/// Decoded claims by token.
#[derive(Debug, Default)]
struct ClaimsMap {
    /// The entries.
    table: HashTable<Cached>,
    /// The hasher of tokens: with a per-run random seed, since tokens are chosen by whoever
    /// sends the traffic (a cache: nothing depends on the hash).
    hasher: RandomState,
}

/// One token's entry in the claims cache.
#[derive(Debug)]
struct Cached {
    /// The token.
    token: Box<str>,
    /// Its decoded claims (`None`: not a JWT).
    claims: Option<Arc<Claims>>,
    /// Its shape as API classification judges a bearer token, judged once here for every
    /// transaction that carries it ([`TxFacts::bearer_shape`](super::TxFacts::bearer_shape)).
    shape: BearerShape,
}

/// What one token's transactions share: its decoded claims, and what was worked out from
/// them once for each session key (the claim's value, the key's hashes), so that the next
/// transaction carrying the token neither searches the claims nor hashes again.
#[derive(Debug)]
pub(crate) struct Claims {
    /// The decoded payload.
    pub value: Value,
    /// By key index; inline for the first [`INLINE_KEY_MEMOS`] keys, so that a prefetch of
    /// the claims brings them along.
    memo: SmallVec<[KeyMemo; INLINE_KEY_MEMOS]>,
    /// The token's keyed hash among server-set values (the token is what later requests
    /// carry when a login response set it).
    binding: OnceLock<HashId>,
    /// The user the token names, as exported (`[session.user]`; hashing it per transaction
    /// would cost an HMAC each).
    user: OnceLock<Option<Box<str>>>,
}

/// What one token gives one session key.
#[derive(Debug, Default)]
struct KeyMemo {
    /// The key's claim as text (`None`: absent, empty or not a scalar).
    claim: OnceLock<Option<Box<str>>>,
    /// The session key hash, `[signature unchecked or valid, signature invalid]`: a function
    /// of the token, the key and the secret only.
    base: [OnceLock<HashId>; 2],
}

impl Claims {
    /// The claims of a decoded payload, with an empty memo for each of `memo_keys` keys.
    fn new(value: Value, memo_keys: usize) -> Self {
        Claims {
            value,
            memo: (0..memo_keys).map(|_| KeyMemo::default()).collect(),
            binding: OnceLock::new(),
            user: OnceLock::new(),
        }
    }

    /// The user the token names, as `export` makes it from the claims the first time (one
    /// config per run, so one way of making it).
    pub(crate) fn user(&self, export: impl FnOnce(&Value) -> Option<String>) -> Option<&str> {
        self.user
            .get_or_init(|| export(&self.value).map(String::into_boxed_str))
            .as_deref()
    }

    /// The token's binding hash, computed by `hash` the first time.
    pub(crate) fn binding(&self, hash: impl FnOnce() -> HashId) -> HashId {
        *self.binding.get_or_init(hash)
    }

    /// Claim `claim` (a name or a JSON pointer) as text, as [`claim`] reads it, remembered
    /// for key `idx` (the key that reads it; an index beyond the memos is read each time).
    pub(crate) fn claim(&self, idx: usize, claim: &str) -> Option<Cow<'_, str>> {
        let read = || self::claim(&self.value, claim);
        match self.memo.get(idx) {
            Some(m) => m
                .claim
                .get_or_init(|| read().map(Into::into))
                .as_deref()
                .map(Cow::Borrowed),
            None => read(),
        }
    }

    /// The session key hash of key `idx` for this token, computed by `hash` the first time.
    pub(crate) fn base(
        &self,
        idx: usize,
        unverified: bool,
        hash: impl FnOnce() -> HashId,
    ) -> HashId {
        match self.memo.get(idx) {
            Some(m) => *m.base[usize::from(unverified)].get_or_init(hash),
            None => hash(),
        }
    }
}

/// A clone starts empty: each extractor (one per worker) fills its own.
impl Clone for ClaimsCache {
    fn clone(&self) -> Self {
        ClaimsCache::new(self.memo_keys)
    }
}

impl ClaimsCache {
    /// An empty cache whose claims remember a memo for each of `memo_keys` keys.
    pub(crate) fn new(memo_keys: usize) -> Self {
        ClaimsCache {
            map: Default::default(),
            memo_keys,
        }
    }

    /// The claims of `token` (decoded without verification), from the cache when seen before.
    pub(crate) fn claims(&self, token: &str) -> Option<Arc<Claims>> {
        self.claims_hashed(token, self.hash(token))
    }

    /// The cache's hash of `token`, for [`Self::claims_hashed`] and [`Self::prefetch`].
    pub(crate) fn hash(&self, token: &str) -> u64 {
        self.map.borrow().0.hasher.hash_one(token)
    }

    /// [`Self::claims`] with the token's [`Self::hash`] worked out already.
    pub(crate) fn claims_hashed(&self, token: &str, hash: u64) -> Option<Arc<Claims>> {
        self.lookup(token, hash).0
    }

    /// [`Self::claims_hashed`], and the token's [`BearerShape`]; both `None` for a token
    /// too long to cache.
    pub(crate) fn lookup(
        &self,
        token: &str,
        hash: u64,
    ) -> (Option<Arc<Claims>>, Option<BearerShape>) {
        if token.len() > MAX_JWT_BYTES {
            return (None, None);
        }
        if let Some(c) = self.map.borrow().0.table.find(hash, |c| &*c.token == token) {
            return (c.claims.clone(), Some(c.shape));
        }
        let c = claims(token).map(|v| Arc::new(Claims::new(v, self.memo_keys)));
        let shape = BearerShape::of(token.as_bytes());
        let mut guard = self.map.borrow_mut();
        let (map, bytes) = &mut *guard;
        if map.table.len() >= CLAIMS_CACHE_ENTRIES || *bytes + token.len() > CLAIMS_CACHE_BYTES {
            map.table.clear();
            *bytes = 0;
        }
        *bytes += token.len();
        let hasher = &map.hasher;
        map.table.insert_unique(
            hash,
            Cached {
                token: token.into(),
                claims: c.clone(),
                shape,
            },
            |c| hasher.hash_one(&*c.token),
        );
        (c, Some(shape))
    }

    /// Request the cached entry of `token` (its stored copy and claims; `hash` is its
    /// [`Self::hash`]) without reading it: a batch's lookups then miss the caches together
    /// rather than one after the other.
    pub(crate) fn prefetch(&self, token: &str, hash: u64) {
        if token.len() > MAX_JWT_BYTES {
            return;
        }
        let map = self.map.borrow();
        let _ = map.0.table.find(hash, |c| {
            prefetch::bytes(c.token.as_ptr(), c.token.len());
            if let Some(claims) = &c.claims {
                prefetch::value(&**claims);
            }
            false
        });
    }
}

/// The three dot-separated parts of a compact JWS, if `token` has that shape.
pub(crate) struct Parts<'a> {
    /// Base64url header.
    pub header: &'a str,
    /// Base64url claims.
    pub payload: &'a str,
    /// Base64url signature.
    pub signature: &'a str,
    /// `header.payload`, the signed bytes.
    pub signing_input: &'a str,
}

/// The base64url alphabet (RFC 4648 section 5), as a table: a token's every byte is looked
/// up, and the table folded without an early exit takes 40 % of the instructions of the
/// comparisons it replaced (cachegrind: 3,579 -> 1,426 a token on the bench capture).
static B64URL: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        c += 1;
    }
    t
};

/// True when every byte of `s` is in the base64url alphabet.
fn is_b64url(s: &str) -> bool {
    s.bytes().fold(true, |ok, b| ok & B64URL[usize::from(b)])
}

/// Split a compact JWS (`xxx.yyy.zzz`, base64url parts); `None` for anything else.
pub(crate) fn split(token: &str) -> Option<Parts<'_>> {
    if token.len() > MAX_JWT_BYTES {
        return None;
    }
    let mut it = token.splitn(4, '.');
    let (header, payload, signature) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || header.is_empty() || payload.is_empty() {
        return None;
    }
    if !(is_b64url(header) && is_b64url(payload) && is_b64url(signature)) {
        return None;
    }
    let signing_input = &token[..header.len() + 1 + payload.len()];
    Some(Parts {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// Decode one base64url part (padding tolerated) as a JSON object.
fn decode_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        v @ Value::Object(_) => Some(v),
        _ => None,
    }
}

/// The claims of a JWT, decoded without verification.
pub(crate) fn claims(token: &str) -> Option<Value> {
    decode_json(split(token)?.payload)
}

/// A claim as text: `claim` is a top-level name (`sub`) or a JSON pointer (`/user/id`).
/// Strings as-is, numbers and booleans as JSON text; null, arrays and objects are absent.
pub(crate) fn claim<'v>(claims: &'v Value, claim: &str) -> Option<Cow<'v, str>> {
    let v = if claim.starts_with('/') {
        claims.pointer(claim)?
    } else {
        claims.get(claim)?
    };
    scalar_text(v)
}

/// A JSON scalar as text; `None` for null, empty strings, arrays and objects.
pub(crate) fn scalar_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) if !s.is_empty() => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// The `jsonwebtoken` algorithm of a configured one.
fn algorithm(a: JwtAlgorithm) -> Algorithm {
    match a {
        JwtAlgorithm::HS256 => Algorithm::HS256,
        JwtAlgorithm::RS256 => Algorithm::RS256,
        JwtAlgorithm::ES256 => Algorithm::ES256,
    }
}

/// Checks signatures with the configured key, remembering recent results.
#[derive(Clone)]
pub struct Verifier {
    /// The accepted algorithm.
    alg: Algorithm,
    /// Its key.
    key: DecodingKey,
    /// Keyed hash of a token → whether it verified. Cleared when it reaches
    /// [`VERIFY_CACHE_ENTRIES`].
    cache: HashMap<HashId, bool, FixedHasher>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier({:?}, [redacted])", self.alg)
    }
}

/// Outcome of one verification, for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The signature is good.
    Valid,
    /// Bad signature, or a header naming another algorithm.
    Invalid,
}

impl Verifier {
    /// A verifier from the config, or `None` when verification is off.
    pub fn new(cfg: &JwtConfig) -> Result<Option<Verifier>, String> {
        let Some(a) = cfg.algorithm else {
            return Ok(None);
        };
        let key = match a {
            JwtAlgorithm::HS256 => {
                let s = cfg
                    .hs256_secret
                    .as_ref()
                    .ok_or("HS256 needs hs256_secret")?;
                DecodingKey::from_secret(s.expose())
            }
            _ => decoding_key(a, cfg.public_key_pem.as_deref().unwrap_or("").as_bytes())?,
        };
        Ok(Some(Verifier {
            alg: algorithm(a),
            key,
            cache: HashMap::with_hasher(FixedHasher::default()),
        }))
    }

    /// Verify `token` (whose keyed hash is `id`): the header's `alg` must be the configured one
    /// (no `none`, no algorithm confusion) and the signature must match.
    pub(crate) fn verify(&mut self, token: &str, id: HashId) -> Verdict {
        if let Some(&ok) = self.cache.get(&id) {
            return if ok { Verdict::Valid } else { Verdict::Invalid };
        }
        let ok = self.check(token);
        if self.cache.len() >= VERIFY_CACHE_ENTRIES {
            self.cache.clear();
        }
        self.cache.insert(id, ok);
        if ok {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }

    /// The uncached check.
    fn check(&self, token: &str) -> bool {
        let Some(p) = split(token) else { return false };
        let Some(header) = decode_json(p.header) else {
            return false;
        };
        let alg_ok = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(|a| a.parse::<Algorithm>().ok())
            == Some(self.alg);
        alg_ok
            && jsonwebtoken::crypto::verify(
                p.signature,
                p.signing_input.as_bytes(),
                &self.key,
                self.alg,
            )
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache whose claims remember a memo for `keys` session keys.
    fn cache_for(keys: usize) -> ClaimsCache {
        ClaimsCache::new(keys)
    }

    /// A part splits only when each of its characters is in the base64url alphabet: the
    /// table says what the character tests it replaced said, for every ASCII character and a
    /// few beyond.
    #[test]
    fn split_takes_base64url_parts_only() {
        for c in (0u8..128).map(char::from).chain(['é', '€', '\u{7f}']) {
            let token = format!("eyJ.ab{c}cd.s-g_");
            let alphabet = c.is_ascii_alphanumeric() || c == '-' || c == '_';
            assert_eq!(split(&token).is_some(), alphabet, "{c:?}");
        }
        assert!(
            split("eyJ.payload.").is_some(),
            "an unsigned token has an empty signature"
        );
        assert!(split("eyJ..sig").is_none());
    }

    /// A token's key hashes are computed once per (key, verification state) and shared by
    /// every later lookup of the token.
    #[test]
    fn cached_claims_remember_key_hashes() {
        let cache = cache_for(2);
        let tok = token();
        let calls = std::cell::Cell::new(0);
        let id = |b: u8| {
            calls.set(calls.get() + 1);
            HashId([b; 16])
        };
        let c = cache.claims(&tok).unwrap();
        assert_eq!(c.base(0, false, || id(1)), HashId([1; 16]));
        assert_eq!(c.base(1, false, || id(2)), HashId([2; 16]));
        assert_eq!(c.base(0, true, || id(3)), HashId([3; 16]));
        let again = cache.claims(&tok).unwrap();
        assert!(Arc::ptr_eq(&c, &again));
        assert_eq!(again.base(0, false, || id(9)), HashId([1; 16]));
        assert_eq!(again.base(0, true, || id(9)), HashId([3; 16]));
        assert_eq!(again.binding(|| id(4)), HashId([4; 16]));
        assert_eq!(c.binding(|| id(9)), HashId([4; 16]));
        assert_eq!(calls.get(), 4);
        // An index beyond the keys is hashed each time, never a panic.
        assert_eq!(again.base(2, false, || id(7)), HashId([7; 16]));
        assert_eq!(again.base(2, false, || id(8)), HashId([8; 16]));
        assert!(cache.claims("not-a-jwt").is_none());
    }

    /// A key's claim is read once per token and given back as `claim` reads it, whatever
    /// the later caller asks (the key at an index always reads the same claim).
    #[test]
    fn cached_claims_remember_each_keys_claim() {
        let cache = cache_for(3);
        let tok = token();
        let c = cache.claims(&tok).unwrap();
        assert_eq!(c.claim(0, "sub").as_deref(), Some("alice"));
        assert_eq!(c.claim(1, "n").as_deref(), Some("7"));
        assert_eq!(c.claim(2, "e"), None);
        let again = cache.claims(&tok).unwrap();
        assert_eq!(
            again.claim(0, "ignored: remembered").as_deref(),
            Some("alice")
        );
        assert_eq!(again.claim(1, "/user/id").as_deref(), Some("7"));
        assert_eq!(again.claim(2, "sub"), None);
        // Beyond the keys: read each time.
        assert_eq!(again.claim(3, "/user/id").as_deref(), Some("u-1"));
    }

    /// `{"alg":"HS256","typ":"JWT"}.{"sub":"alice","n":7,"user":{"id":"u-1"}}`, unsigned.
    fn token() -> String {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let c = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","n":7,"user":{"id":"u-1"},"e":""}"#);
        format!("{h}.{c}.c2ln")
    }

    #[test]
    fn claims_decode_without_verification() {
        let c = claims(&token()).unwrap();
        assert_eq!(claim(&c, "sub").as_deref(), Some("alice"));
        assert_eq!(claim(&c, "n").as_deref(), Some("7"));
        assert_eq!(claim(&c, "/user/id").as_deref(), Some("u-1"));
        assert_eq!(claim(&c, "e"), None);
        assert_eq!(claim(&c, "user"), None);
    }

    #[test]
    fn non_jwts_are_rejected() {
        for t in ["abc", "a.b", "a.b.c.d", "a!.b.c", ".b.c", "x.y.z"] {
            assert!(claims(t).is_none(), "{t}");
        }
        assert!(claims(&"a".repeat(MAX_JWT_BYTES + 1)).is_none());
    }
}
