//! What the user sets for sessions (`[session]` in the config file; `docs/config.md`).
//!
//! Every field has a default, so no file at all gives a working sessionizer: the default key
//! list covers JWT `sub` in `Authorization: Bearer`, opaque bearer tokens, the well-known session
//! cookies and API-key headers, then the client IP + User-Agent and client IP fallbacks.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::secret::Secret;

mod validate;

pub use validate::SessionConfigError;
pub(crate) use validate::{decoding_key, parse_cidr};

/// Longest idle timeout or maximum duration accepted (30 days, in ms): beyond it sessions
/// would only pin memory.
pub const MAX_TIMEOUT_MS: u64 = 30 * 24 * 3600 * 1000;

/// Largest `max_sessions` accepted: a guard against a typo that would let the table grow
/// without a useful bound.
pub const MAX_SESSIONS_LIMIT: usize = 50_000_000;

/// Largest per-session list bound accepted (IPs, user agents, endpoints, distinct values,
/// transaction ids).
pub const MAX_LIST_LIMIT: usize = 1_000_000;

/// Largest `mask_keep_chars` accepted.
pub const MAX_MASK_KEEP_CHARS: usize = 64;

/// Session settings (`[session]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Group transactions into sessions. Off, http records carry no session fields and no
    /// session records are written (the core pipeline alone).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// HMAC key for session ids and hashed values. Prefer the environment variable the sensor
    /// reads; when neither is set the sensor generates a random one per run and warns (ids are
    /// then not comparable across runs). Printed as `[redacted]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// Session keys in precedence order: the first one present in a transaction wins.
    #[serde(default = "default_keys")]
    pub keys: Vec<KeySpec>,
    /// Optional JWT signature verification (`[session.jwt]`).
    pub jwt: JwtConfig,
    /// CIDRs of reverse proxies and load balancers whose `Forwarded`, `X-Forwarded-For` and
    /// `X-Real-IP` headers are believed. Empty: the TCP peer is always the client.
    pub trusted_proxies: Vec<String>,
    /// Which forwarding headers give the client IP behind a trusted proxy, first present wins.
    #[serde(default = "default_client_ip_headers")]
    pub client_ip_headers: Vec<ClientIpHeader>,
    /// Context parameters read from each transaction (`[[session.params]]`).
    pub params: Vec<ParamSpec>,
    /// How login responses bind server-issued tokens (`[session.login]`).
    pub login: LoginConfig,
    /// Who the user is when no parameter with `role = "user"` says (`[session.user]`).
    pub user: UserConfig,
    /// Endpoint templates and patterns (`[session.endpoints]`).
    pub endpoints: EndpointConfig,
    /// Body decoding and field extraction limits (`[session.body]`).
    pub body: BodyConfig,
    /// A session ends after this long without a transaction (packet time, ms).
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// A session longer than this ends and continues as a new part (packet time, ms).
    #[serde(default = "default_max_duration_ms")]
    pub max_duration_ms: u64,
    /// Interval of `update` records for open sessions with new activity (packet time, ms);
    /// 0 turns updates off.
    #[serde(default = "default_update_interval_ms")]
    pub update_interval_ms: u64,
    /// Open sessions kept; at the bound the least recently active one ends (`evicted`).
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Distinct client IPs remembered per session; more are counted in `client_ips_dropped`.
    #[serde(default = "default_max_client_ips")]
    pub max_client_ips_per_session: usize,
    /// Distinct User-Agents remembered per session; more are counted in `user_agents_dropped`.
    #[serde(default = "default_max_user_agents")]
    pub max_user_agents_per_session: usize,
    /// Distinct endpoints remembered per session; requests to more are counted in
    /// `endpoints_dropped`.
    #[serde(default = "default_max_endpoints")]
    pub max_endpoints_per_session: usize,
    /// Distinct values counted exactly per context parameter and session; beyond it the count
    /// stops and `distinct_capped` is set.
    #[serde(default = "default_max_distinct_values")]
    pub max_distinct_values_per_param: usize,
    /// Transaction ids listed per session part; more are counted in `transaction_ids_dropped`.
    #[serde(default = "default_max_transaction_ids")]
    pub max_transaction_ids_per_session: usize,
    /// Longest User-Agent or plain/masked parameter value kept, in bytes; longer values are
    /// cut at a character boundary (counted).
    #[serde(default = "default_max_value_bytes")]
    pub max_value_bytes: usize,
}

/// 30 minutes: the usual web-session idle timeout (OWASP ASVS, most frameworks).
fn default_idle_timeout_ms() -> u64 {
    30 * 60 * 1000
}

/// 24 hours: bounds a record's span so long-lived API clients still produce summaries daily.
fn default_max_duration_ms() -> u64 {
    24 * 3600 * 1000
}

/// 5 minutes: long sessions become visible before they end, at one record per session per
/// interval at most.
fn default_update_interval_ms() -> u64 {
    5 * 60 * 1000
}

/// 100k open sessions: a busy API's concurrent users, at a few KiB each on average.
fn default_max_sessions() -> usize {
    100_000
}

/// A client rarely changes address more than a few times in one session (mobile roaming).
fn default_max_client_ips() -> usize {
    8
}

/// One session normally has one User-Agent; a few leave room for odd clients.
fn default_max_user_agents() -> usize {
    4
}

/// Enough for the endpoints an API client touches in one session, bounded per session.
fn default_max_endpoints() -> usize {
    64
}

/// Enough to tell "one value" from "many values" exactly for typical parameters.
fn default_max_distinct_values() -> usize {
    32
}

/// 256 ids list the transactions of most sessions; the count stays exact. At most 4 KiB per
/// part, usually far less: ids that follow each other on a connection share one 16-byte run.
fn default_max_transaction_ids() -> usize {
    256
}

/// 256 bytes keep every real User-Agent and identifier while bounding each stored value.
fn default_max_value_bytes() -> usize {
    256
}

/// The usual order: the standard header first, then the de-facto ones.
fn default_client_ip_headers() -> Vec<ClientIpHeader> {
    vec![
        ClientIpHeader::Forwarded,
        ClientIpHeader::XForwardedFor,
        ClientIpHeader::XRealIp,
    ]
}

/// Session cookie names of common frameworks (PHP, Java EE, ASP.NET, Express, Django, Rails,
/// Laravel, CodeIgniter, Spring Session, Flask, Rack...).
pub const DEFAULT_SESSION_COOKIES: &[&str] = &[
    "PHPSESSID",
    "JSESSIONID",
    "ASP.NET_SessionId",
    "ASPSESSIONID",
    "connect.sid",
    "sessionid",
    "session",
    "SESSION",
    "sid",
    "_session_id",
    "laravel_session",
    "ci_session",
    "rack.session",
    "express.sid",
    "CFID",
];

/// API-key headers of common APIs.
pub const DEFAULT_API_KEY_HEADERS: &[&str] = &[
    "X-API-Key",
    "Api-Key",
    "Apikey",
    "X-Auth-Token",
    "X-Access-Token",
    "Private-Token",
];

/// JWT `sub` from a bearer token, the opaque bearer token, the well-known session cookies, the
/// API-key headers, then client IP + User-Agent, then client IP.
pub fn default_keys() -> Vec<KeySpec> {
    let mut keys = vec![KeySpec::jwt("sub"), KeySpec::of(KeySource::Bearer)];
    keys.extend(
        DEFAULT_SESSION_COOKIES
            .iter()
            .map(|c| KeySpec::named(KeySource::Cookie, c)),
    );
    keys.extend(
        DEFAULT_API_KEY_HEADERS
            .iter()
            .map(|h| KeySpec::named(KeySource::Header, h)),
    );
    keys.push(KeySpec::of(KeySource::FallbackIpUa));
    keys.push(KeySpec::of(KeySource::FallbackIp));
    keys
}

/// On: sessions are why the product exists.
fn default_enabled() -> bool {
    true
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            enabled: default_enabled(),
            secret: None,
            keys: default_keys(),
            jwt: JwtConfig::default(),
            trusted_proxies: Vec::new(),
            client_ip_headers: default_client_ip_headers(),
            params: Vec::new(),
            login: LoginConfig::default(),
            user: UserConfig::default(),
            endpoints: EndpointConfig::default(),
            body: BodyConfig::default(),
            idle_timeout_ms: default_idle_timeout_ms(),
            max_duration_ms: default_max_duration_ms(),
            update_interval_ms: default_update_interval_ms(),
            max_sessions: default_max_sessions(),
            max_client_ips_per_session: default_max_client_ips(),
            max_user_agents_per_session: default_max_user_agents(),
            max_endpoints_per_session: default_max_endpoints(),
            max_distinct_values_per_param: default_max_distinct_values(),
            max_transaction_ids_per_session: default_max_transaction_ids(),
            max_value_bytes: default_max_value_bytes(),
        }
    }
}

/// Kind of value a session key is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// A request cookie (`name`).
    Cookie,
    /// A request header (`name`, case-insensitive).
    Header,
    /// A claim (`claim`) of a JWT carried in `token_in` (default `Authorization: Bearer`).
    Jwt,
    /// The `Authorization: Bearer` token as-is (opaque OAuth token).
    Bearer,
    /// A query parameter (`name`).
    Query,
    /// A field (`name`) of an `x-www-form-urlencoded` or `multipart/form-data` request body.
    Form,
    /// A JSON request body value at `pointer` (RFC 6901).
    Json,
    /// Request cookie `name`, only when its value was set by the server (`Set-Cookie`) in a
    /// response seen earlier.
    SetCookie,
    /// A token the server returned in a login response's JSON body at `pointer`, when a later
    /// request carries it in `token_in` (default `Authorization: Bearer`).
    LoginToken,
    /// Client IP and User-Agent.
    FallbackIpUa,
    /// Client IP.
    FallbackIp,
}

/// Where a token is carried: `"bearer"` (`Authorization: Bearer`), `"cookie:NAME"` or
/// `"header:NAME"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum TokenLocation {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A request cookie.
    Cookie(String),
    /// A request header.
    Header(String),
}

impl TryFrom<String> for TokenLocation {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("bearer") {
            return Ok(TokenLocation::Bearer);
        }
        match s.split_once(':') {
            Some((k, n)) if k.eq_ignore_ascii_case("cookie") && !n.is_empty() => {
                Ok(TokenLocation::Cookie(n.to_string()))
            }
            Some((k, n)) if k.eq_ignore_ascii_case("header") && !n.is_empty() => {
                Ok(TokenLocation::Header(n.to_string()))
            }
            _ => Err(format!(
                "token location {s:?} is not one of \"bearer\", \"cookie:NAME\", \"header:NAME\""
            )),
        }
    }
}

impl From<TokenLocation> for String {
    fn from(l: TokenLocation) -> String {
        l.to_string()
    }
}

impl fmt::Display for TokenLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenLocation::Bearer => f.write_str("bearer"),
            TokenLocation::Cookie(n) => write!(f, "cookie:{n}"),
            TokenLocation::Header(n) => write!(f, "header:{}", n.to_ascii_lowercase()),
        }
    }
}

/// One session key (`[[session.keys]]`). Which of `name`, `claim`, `pointer`, `token_in`
/// apply depends on `source`; `validate` rejects missing and meaningless ones.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// Where the value comes from.
    pub source: KeySource,
    /// Cookie, header, query parameter or form field name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// JWT claim name (`sub`, `sid`, `jti`...) or a JSON pointer into the claims (`/user/id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// JSON pointer (RFC 6901) for `json` and `login_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Where the token is carried, for `jwt` and `login_token`; default `"bearer"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_in: Option<TokenLocation>,
}

impl KeySpec {
    /// A key with only a source.
    pub fn of(source: KeySource) -> Self {
        KeySpec {
            source,
            name: None,
            claim: None,
            pointer: None,
            token_in: None,
        }
    }

    /// A key with a source and a name.
    pub fn named(source: KeySource, name: &str) -> Self {
        KeySpec {
            name: Some(name.to_string()),
            ..KeySpec::of(source)
        }
    }

    /// A JWT claim from the bearer token.
    pub fn jwt(claim: &str) -> Self {
        KeySpec {
            claim: Some(claim.to_string()),
            ..KeySpec::of(KeySource::Jwt)
        }
    }

    /// A JSON-pointer key (`json` or `login_token`).
    pub fn pointer(source: KeySource, pointer: &str) -> Self {
        KeySpec {
            pointer: Some(pointer.to_string()),
            ..KeySpec::of(source)
        }
    }
}

/// JWT signature algorithm accepted for verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with `hs256_secret`.
    HS256,
    /// RSASSA-PKCS1-v1_5 SHA-256 with `public_key_pem`.
    RS256,
    /// ECDSA P-256 SHA-256 with `public_key_pem`.
    ES256,
}

/// JWT verification (`[session.jwt]`). Without `algorithm`, payloads are decoded without
/// verification and `verified` is false.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// Verify signatures with this algorithm; tokens whose header names another one fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<JwtAlgorithm>,
    /// Shared secret for HS256. Printed as `[redacted]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hs256_secret: Option<Secret>,
    /// PEM public key (`-----BEGIN PUBLIC KEY-----`) for RS256 or ES256; the sensor may fill it
    /// from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key_pem: Option<String>,
}

/// A forwarding header that can name the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientIpHeader {
    /// `Forwarded: for=...` (RFC 7239).
    Forwarded,
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    XForwardedFor,
    /// `X-Real-IP: client`.
    XRealIp,
}

/// Where a context parameter is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamSide {
    /// The request.
    #[default]
    Request,
    /// The response.
    Response,
}

/// Kind of value a context parameter is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamSource {
    /// A header (`field` = name).
    Header,
    /// A request cookie (`field` = name); on the response side, a `Set-Cookie`.
    Cookie,
    /// A query parameter (`field` = name); request only.
    Query,
    /// A form field of an urlencoded or multipart body (`field` = name).
    Form,
    /// A JSON body value (`field` = JSON pointer).
    Json,
    /// A JWT claim (`field` = claim or pointer), token from `token_in`; request only.
    Jwt,
    /// A path segment by `template` (`{name}` captures; `field` = capture, default the
    /// parameter's name); request only.
    Path,
}

/// What leaves the sensor for a parameter value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamMode {
    /// The value as-is (cut at `max_value_bytes`); numeric values also get count/sum/min/max.
    #[default]
    Plain,
    /// HMAC of the value with the session secret (32 hex characters).
    Hash,
    /// Only `mask_keep_chars` characters kept at the `mask_keep` end, the rest as `*`.
    Mask,
    /// Nothing leaves; only how often it was present is counted.
    Drop,
}

/// Which end of a masked value is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskKeep {
    /// The first characters.
    Prefix,
    /// The last characters (card-number style).
    #[default]
    Suffix,
}

/// What a parameter stands for in the session summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamRole {
    /// Shown as the session's `user`.
    User,
    /// Shown as the session's `role`.
    Role,
}

/// A context parameter (`[[session.params]]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// Name in records (`context.<name>`); unique.
    pub name: String,
    /// Where it is read from.
    pub source: ParamSource,
    /// Request or response; default request.
    #[serde(default)]
    pub side: ParamSide,
    /// Header/cookie/query/form name, JSON pointer, JWT claim, or path capture name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Path template for `path`, e.g. `/api/v1/users/{user_id}/orders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Token location for `jwt`; default `"bearer"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_in: Option<TokenLocation>,
    /// What leaves the sensor.
    #[serde(default)]
    pub mode: ParamMode,
    /// Characters kept in `mask` mode.
    #[serde(default = "default_mask_keep_chars")]
    pub mask_keep_chars: usize,
    /// Which end is kept in `mask` mode.
    #[serde(default)]
    pub mask_keep: MaskKeep,
    /// Shown as the session's `user` or `role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ParamRole>,
}

/// Four characters: enough to tell values apart by eye, as card receipts do.
fn default_mask_keep_chars() -> usize {
    4
}

/// Login responses (`[session.login]`): tokens they return bind the requests that carry them
/// later to the session of the login.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// A 2xx JSON response is a login response when its request path contains one of these
    /// (ASCII case-insensitive). Only those bodies are parsed for tokens.
    #[serde(default = "default_login_path_keywords")]
    pub path_keywords: Vec<String>,
    /// JSON pointers of tokens in a login response body (besides `login_token` keys).
    #[serde(default = "default_login_token_pointers")]
    pub token_pointers: Vec<String>,
    /// Server-set values remembered for binding; the oldest is forgotten at the bound (counted).
    #[serde(default = "default_max_bindings")]
    pub max_bindings: usize,
}

/// Path words of login and token endpoints (OAuth `/token`, `/login`, `/signin`, `/auth/...`).
fn default_login_path_keywords() -> Vec<String> {
    [
        "login", "signin", "sign-in", "sign_in", "token", "auth", "session",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// OAuth 2.0 (RFC 6749 section 5.1) `access_token`, OIDC `id_token`, and common `token` shapes.
fn default_login_token_pointers() -> Vec<String> {
    [
        "/access_token",
        "/id_token",
        "/token",
        "/accessToken",
        "/data/token",
        "/data/access_token",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// As many bindings as default sessions.
fn default_max_bindings() -> usize {
    100_000
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            path_keywords: default_login_path_keywords(),
            token_pointers: default_login_token_pointers(),
            max_bindings: default_max_bindings(),
        }
    }
}

/// Who the user is by default (`[session.user]`): the claim of a bearer JWT, and the username
/// a login request posts. Parameters with `role = "user"` come first.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserConfig {
    /// Name the user from the claim and the login fields below. Off, only parameters with
    /// `role = "user"` name the user (login usernames are still read for the behaviours
    /// stage; empty `login_fields` stops that too).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Claim (or JSON pointer into the claims) of an `Authorization: Bearer` JWT that names
    /// the user; empty for none.
    #[serde(default = "default_user_claim")]
    pub jwt_claim: String,
    /// Top-level fields of a form or JSON body posted to a login path (a path containing one
    /// of `login.path_keywords`) that name the user, first present wins. The user is taken
    /// when the login succeeds (2xx or 3xx) and carried on to the session it leads to.
    #[serde(default = "default_login_fields")]
    pub login_fields: Vec<String>,
    /// What leaves the sensor: `plain`, `hash` (HMAC with the session secret, 32 hex) or
    /// `mask`; `drop` is `enabled = false`.
    #[serde(default)]
    pub mode: ParamMode,
    /// Characters kept in `mask` mode.
    #[serde(default = "default_mask_keep_chars")]
    pub mask_keep_chars: usize,
    /// Which end is kept in `mask` mode.
    #[serde(default)]
    pub mask_keep: MaskKeep,
}

/// `sub`: the subject, whom a token was issued to (RFC 7519 section 4.1.2).
fn default_user_claim() -> String {
    "sub".into()
}

/// The names login forms and JSON logins use for the account.
fn default_login_fields() -> Vec<String> {
    ["username", "email", "login", "user"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

impl Default for UserConfig {
    fn default() -> Self {
        UserConfig {
            enabled: default_true(),
            jwt_claim: default_user_claim(),
            login_fields: default_login_fields(),
            mode: ParamMode::default(),
            mask_keep_chars: default_mask_keep_chars(),
            mask_keep: MaskKeep::default(),
        }
    }
}

/// A configured path-segment pattern (`[[session.endpoints.patterns]]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PatternSpec {
    /// Regular expression matched against a whole path segment (anchored).
    pub regex: String,
    /// Replacement, e.g. `{sku}`.
    pub placeholder: String,
}

/// Endpoint naming (`[session.endpoints]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointConfig {
    /// Explicit templates (`/api/v1/users/{user_id}/orders`); a path matching one, segment by
    /// segment (`{...}` matches any one segment), takes it as its endpoint. First match wins.
    pub templates: Vec<String>,
    /// Segment patterns tried before the built-in classifiers, first match wins.
    pub patterns: Vec<PatternSpec>,
    /// Replace ids, UUIDs, hex, tokens, dates and emails by placeholders.
    #[serde(default = "default_true")]
    pub normalize: bool,
}

/// On by default: raw ids make endpoints unbounded.
fn default_true() -> bool {
    true
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            templates: Vec::new(),
            patterns: Vec::new(),
            normalize: true,
        }
    }
}

/// Body decoding and field extraction (`[session.body]`). Bodies are only decoded when a key
/// or parameter needs them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BodyConfig {
    /// Most bytes one decoded body may reach (`Content-Encoding`); the rest is cut
    /// (`body_decode_limit`).
    #[serde(default = "default_max_decoded_bytes")]
    pub max_decoded_bytes: usize,
    /// Largest decoded/encoded size ratio; beyond it decoding stops (`body_decode_limit`).
    #[serde(default = "default_max_decompression_ratio")]
    pub max_decompression_ratio: u32,
    /// Parts of a multipart body looked at; more are skipped (counted).
    #[serde(default = "default_max_multipart_parts")]
    pub max_multipart_parts: usize,
}

/// 1 MiB: every JSON login or order payload, and a hard stop for bombs.
fn default_max_decoded_bytes() -> usize {
    1024 * 1024
}

/// Real JSON compresses 5-20x; 100x leaves room and stops bombs (1000x+) early.
fn default_max_decompression_ratio() -> u32 {
    100
}

/// Forms have a handful of fields; 64 bounds the scan.
fn default_max_multipart_parts() -> usize {
    64
}

impl Default for BodyConfig {
    fn default() -> Self {
        BodyConfig {
            max_decoded_bytes: default_max_decoded_bytes(),
            max_decompression_ratio: default_max_decompression_ratio(),
            max_multipart_parts: default_max_multipart_parts(),
        }
    }
}

/// Which bodies the sessionizer reads, so the sensor stores them (`http.max_body_capture_bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyCapture {
    /// A key or parameter reads request bodies (`form`, `json`).
    pub request: bool,
    /// A parameter reads response bodies, or a `login_token` key needs login responses.
    pub response: bool,
    /// The user is read from login requests: the bodies of requests to login paths (and
    /// their responses, which carry login tokens) are needed.
    pub login: bool,
}

impl SessionConfig {
    /// Which bodies keys and parameters read. Login-token linking through
    /// `login.token_pointers` alone does not ask for response bodies: it works whenever they
    /// are stored, and costs nothing otherwise.
    pub fn body_capture(&self) -> BodyCapture {
        let body_param = |side| {
            self.params.iter().any(|p| {
                p.side == side && matches!(p.source, ParamSource::Form | ParamSource::Json)
            })
        };
        BodyCapture {
            request: body_param(ParamSide::Request)
                || self
                    .keys
                    .iter()
                    .any(|k| matches!(k.source, KeySource::Form | KeySource::Json)),
            response: body_param(ParamSide::Response)
                || self.keys.iter().any(|k| k.source == KeySource::LoginToken),
            login: !self.user.login_fields.is_empty(),
        }
    }
}

#[cfg(test)]
// Tests read best as "defaults, then change one field".
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<SessionConfig, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn empty_file_gives_defaults_that_validate() {
        let c = parse("").unwrap();
        assert_eq!(c, SessionConfig::default());
        c.validate().unwrap();
        assert_eq!(c.keys.first(), Some(&KeySpec::jwt("sub")));
        assert_eq!(c.keys.last(), Some(&KeySpec::of(KeySource::FallbackIp)));
    }

    #[test]
    fn body_capture_follows_keys_and_params() {
        let mut c = SessionConfig::default();
        assert_eq!(
            c.body_capture(),
            BodyCapture {
                request: false,
                response: false,
                login: true,
            }
        );
        c.user.login_fields.clear();
        assert!(!c.body_capture().login);
        c.keys.push(KeySpec::pointer(KeySource::Json, "/sid"));
        assert_eq!(
            c.body_capture(),
            BodyCapture {
                request: true,
                response: false,
                login: false,
            }
        );
        c.keys
            .push(KeySpec::pointer(KeySource::LoginToken, "/token"));
        assert!(c.body_capture().response);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(parse("idle_timeout = 5").is_err());
        assert!(parse("[[keys]]\nsource = \"cookie\"\nnmae = \"x\"").is_err());
        assert!(parse("[jwt]\nalgo = \"HS256\"").is_err());
    }

    #[test]
    fn full_config_round_trips_and_validates() {
        let c = parse(
            r#"
            secret = "0123456789abcdef0123"
            trusted_proxies = ["10.0.0.0/8", "::1"]
            idle_timeout_ms = 60000
            [[keys]]
            source = "jwt"
            claim = "sid"
            token_in = "cookie:access"
            [[keys]]
            source = "login_token"
            pointer = "/token"
            token_in = "header:X-Session"
            [[keys]]
            source = "fallback_ip"
            [jwt]
            algorithm = "HS256"
            hs256_secret = "shh-shh-shh"
            [[params]]
            name = "user_id"
            source = "path"
            template = "/api/v1/users/{user_id}/orders"
            role = "user"
            [[params]]
            name = "amount"
            source = "json"
            field = "/order/amount"
            [[endpoints.patterns]]
            regex = "^SKU-[0-9]+$"
            placeholder = "{sku}"
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.keys[0].token_in,
            Some(TokenLocation::Cookie("access".into()))
        );
        let out = toml::to_string(&c).unwrap();
        assert!(
            !out.contains("0123456789abcdef0123") && !out.contains("shh-shh"),
            "{out}"
        );
    }

    #[test]
    fn validation_names_the_fields() {
        let mut c = SessionConfig::default();
        c.keys = vec![KeySpec::of(KeySource::Cookie)];
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("keys[0]") && e.contains("name"), "{e}");

        let mut c = SessionConfig::default();
        c.keys = vec![KeySpec {
            name: Some("x".into()),
            ..KeySpec::of(KeySource::Bearer)
        }];
        assert!(c.validate().unwrap_err().to_string().contains("remove it"));

        let mut c = SessionConfig::default();
        c.idle_timeout_ms = 2 * c.max_duration_ms;
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("idle_timeout_ms") && e.contains("max_duration_ms"),
            "{e}"
        );

        let mut c = SessionConfig::default();
        c.trusted_proxies = vec!["10.0.0.0/33".into()];
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("trusted_proxies[0]"));

        let mut c = SessionConfig::default();
        c.jwt.algorithm = Some(JwtAlgorithm::RS256);
        c.jwt.public_key_pem = Some("not a pem".into());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("jwt.public_key_pem"));

        let mut c = SessionConfig::default();
        c.secret = Some(Secret::new(b"short".to_vec()));
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("session.secret") && !e.contains("short"), "{e}");

        assert!(
            parse("[[keys]]\nsource = \"jwt\"\nclaim = \"sub\"\ntoken_in = \"query:x\"").is_err()
        );
    }
}
