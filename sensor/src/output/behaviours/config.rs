//! What the user sets for the behaviours stage (`[behaviours]`; `docs/behaviours.md` says why
//! each default is what it is, `docs/config.md` lists them).

use serde::{Deserialize, Serialize};

/// Largest table bound accepted (sessions, clients, users, agents, endpoints): a guard against
/// a typo that would let a table grow without a useful bound.
pub const MAX_TABLE_LIMIT: usize = 10_000_000;

/// Largest evidence count accepted for a kind (`min_foreign_ids`, `min_objects`...): each
/// tracked session or client keeps that many evidence entries.
pub const MAX_EVIDENCE_COUNT: usize = 10_000;

/// Longest window accepted: 7 days, in ms.
pub const MAX_WINDOW_MS: u64 = 7 * 24 * 3600 * 1000;

/// Smallest `max_held_bytes` accepted: 1 MiB, a few hundred busy sessions; below it the
/// stage would forget its entities faster than any kind can count.
pub const MIN_HELD_BYTES: usize = 1024 * 1024;

/// Behaviour analyses over sessions, clients and users (`[behaviours]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BehavioursConfig {
    /// Run the stage at all (it needs sessions: with `session.enabled = false` it is off).
    pub enabled: bool,
    /// Sessions tracked; at the bound the least recently active one is forgotten (counted).
    pub max_sessions: usize,
    /// Client addresses tracked; least recently active forgotten first (counted).
    pub max_clients: usize,
    /// Users (and login usernames) tracked; least recently active forgotten first (counted).
    pub max_users: usize,
    /// User-Agents tracked for login attempts across addresses (credential stuffing).
    pub max_user_agents: usize,
    /// Bytes the tables above may hold together (their entries and every set, ring and
    /// window in them); beyond it the table holding the most forgets its least recently
    /// active entity (`memory_evictions`). Lowered to the behaviours' share of
    /// `limits.max_memory_mb`.
    pub max_held_bytes: usize,
    /// Endpoints whose populations are kept (objects seen, totals of other sessions).
    pub max_endpoints: usize,
    /// Object endpoints tracked per session or client; requests to more are not tracked.
    pub max_endpoints_per_entity: usize,
    /// Distinct object ids remembered per session or client and endpoint; more are not told
    /// apart (counted).
    pub max_ids_per_endpoint: usize,
    /// Object ids remembered as issued to one session (its ownership); more are not
    /// remembered (counted).
    pub max_known_ids_per_session: usize,
    /// Endpoint placeholders that stand for an object id; a placeholder whose name ends in
    /// `id}` (`{user_id}`) counts too.
    pub id_placeholders: Vec<String>,
    /// Query parameters that carry an object id (`/orders?id=7`).
    pub id_query_params: Vec<String>,
    /// Bytes of a JSON response body scanned for object ids (the ids it issues), and stored
    /// for it: responses of collection reads, creations and logins.
    pub max_scan_bytes: usize,
    /// Object ids taken from one response body.
    pub max_ids_per_response: usize,
    /// How login attempts are told apart (`[behaviours.login]`).
    pub login: LoginConfig,
    /// Broken object-level authorization (`[behaviours.bola]`).
    pub bola: BolaConfig,
    /// Walking ids that mostly fail (`[behaviours.enumeration]`).
    pub enumeration: EnumerationConfig,
    /// Many usernames from one client (`[behaviours.credential_stuffing]`).
    pub credential_stuffing: CredentialStuffingConfig,
    /// Many failures for one username (`[behaviours.brute_force]`).
    pub brute_force: BruteForceConfig,
    /// A large share of an endpoint's objects at a machine's pace (`[behaviours.scraping]`).
    pub scraping: ScrapingConfig,
    /// A total far above the population's (`[behaviours.volume_spike]`).
    pub volume_spike: VolumeSpikeConfig,
}

/// On: the analyses run on what the sessions already hold.
fn default_enabled() -> bool {
    true
}

/// As many sessions as the session table keeps by default.
fn default_max_sessions() -> usize {
    100_000
}

/// A busy API's distinct clients over the windows below.
fn default_max_clients() -> usize {
    100_000
}

/// As many users as sessions.
fn default_max_users() -> usize {
    100_000
}

/// Distinct client software logging in at once; a few thousand in practice.
fn default_max_user_agents() -> usize {
    10_000
}

/// An API's endpoint templates, with room to spare (endpoint names are bounded by the
/// session layer's normalisation).
fn default_max_endpoints() -> usize {
    10_000
}

/// A client touches a handful of object endpoints in a session.
fn default_max_endpoints_per_entity() -> usize {
    16
}

/// Enough to count every kind's threshold exactly (the largest default is scraping's 100
/// objects), 8 KiB per tracked endpoint at most.
fn default_max_ids_per_endpoint() -> usize {
    1024
}

/// A user's orders, addresses and cards, with room: 8 KiB per session at most.
fn default_max_known_ids_per_session() -> usize {
    1024
}

/// The session layer's id placeholders: numbers, UUIDs, long hex (object ids).
fn default_id_placeholders() -> Vec<String> {
    ["{id}", "{uuid}", "{hex}"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The common query spelling of an object id.
fn default_id_query_params() -> Vec<String> {
    vec!["id".into()]
}

/// 128 MiB: a ceiling above the behaviours' share of the default memory budget (10 % of
/// 1 GiB), which is what bounds the stage unless this is set lower.
fn default_max_held_bytes() -> usize {
    128 * 1024 * 1024
}

/// 64 KiB: a listing of a user's orders or addresses; catalogue pages beyond it are cut.
fn default_max_scan_bytes() -> usize {
    64 * 1024
}

/// A listing page's ids, with room.
fn default_max_ids_per_response() -> usize {
    1000
}

impl Default for BehavioursConfig {
    fn default() -> Self {
        BehavioursConfig {
            enabled: default_enabled(),
            max_sessions: default_max_sessions(),
            max_clients: default_max_clients(),
            max_users: default_max_users(),
            max_user_agents: default_max_user_agents(),
            max_held_bytes: default_max_held_bytes(),
            max_endpoints: default_max_endpoints(),
            max_endpoints_per_entity: default_max_endpoints_per_entity(),
            max_ids_per_endpoint: default_max_ids_per_endpoint(),
            max_known_ids_per_session: default_max_known_ids_per_session(),
            id_placeholders: default_id_placeholders(),
            id_query_params: default_id_query_params(),
            max_scan_bytes: default_max_scan_bytes(),
            max_ids_per_response: default_max_ids_per_response(),
            login: LoginConfig::default(),
            bola: BolaConfig::default(),
            enumeration: EnumerationConfig::default(),
            credential_stuffing: CredentialStuffingConfig::default(),
            brute_force: BruteForceConfig::default(),
            scraping: ScrapingConfig::default(),
            volume_spike: VolumeSpikeConfig::default(),
        }
    }
}

/// Login attempts (`[behaviours.login]`). A login is a `POST` to a path containing one of
/// `session.login.path_keywords`; its username is `session.user.login_fields`' value.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// Response statuses of a failed login.
    pub failure_statuses: Vec<u16>,
    /// Words (ASCII case-insensitive) of a failed login's response body, for logins that
    /// answer 200 with an error; also a redirect whose `Location` contains one fails.
    pub failure_body_markers: Vec<String>,
}

/// 401 and 403: what login endpoints answer to wrong credentials.
fn default_failure_statuses() -> Vec<u16> {
    vec![401, 403]
}

/// What login pages that answer 200 (or redirect) say on failure.
fn default_failure_body_markers() -> Vec<String> {
    ["invalid", "incorrect", "failed", "wrong password"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            failure_statuses: default_failure_statuses(),
            failure_body_markers: default_failure_body_markers(),
        }
    }
}

/// `bola` (`[behaviours.bola]`): a session reads or changes many objects of one endpoint that
/// were never issued to it, successfully.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BolaConfig {
    /// Raise `bola` alerts.
    pub enabled: bool,
    /// Distinct foreign ids (never issued to the session) of one endpoint answered 2xx within
    /// `window_ms`.
    pub min_foreign_ids: usize,
    /// Share of foreign ids among the distinct ids the session accessed on the endpoint in
    /// the window (its own ones are the rest).
    pub min_foreign_ratio: f64,
    /// The window, packet time, ms.
    pub window_ms: u64,
    /// Learn issued ids from response bodies (JSON listings and creations); off, only from
    /// `Location` headers and the session's own creating requests.
    pub learn_from_bodies: bool,
}

/// 50 foreign ids in the window: readers of other users' public objects (profiles, shared
/// links) stay under it; automated object walking passes it within minutes.
fn default_min_foreign_ids() -> usize {
    50
}

/// 90 %: a session that owns a tenth of what it reads is not walking ids.
fn default_min_foreign_ratio() -> f64 {
    0.9
}

/// 10 minutes: long enough for a slow walker, short enough to forget a day's reading.
fn default_bola_window_ms() -> u64 {
    10 * 60 * 1000
}

impl Default for BolaConfig {
    fn default() -> Self {
        BolaConfig {
            enabled: default_enabled(),
            min_foreign_ids: default_min_foreign_ids(),
            min_foreign_ratio: default_min_foreign_ratio(),
            window_ms: default_bola_window_ms(),
            learn_from_bodies: default_enabled(),
        }
    }
}

/// `enumeration` (`[behaviours.enumeration]`): a session or a client walks ids (or paths)
/// and mostly fails.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnumerationConfig {
    /// Raise `enumeration` alerts.
    pub enabled: bool,
    /// Distinct failing objects (endpoint and id, or path) within `window_ms`.
    pub min_failed_ids: usize,
    /// Share of failures among the requests of the window.
    pub min_failure_ratio: f64,
    /// The window, packet time, ms.
    pub window_ms: u64,
    /// Statuses that count as a failed lookup.
    pub failure_statuses: Vec<u16>,
}

/// CrowdSec's http-probing: 10 distinct failing paths per 10 s.
fn default_min_failed_ids() -> usize {
    10
}

/// Half: a busy address (NAT, a gateway) hits a few 404s among many successes; a walker
/// mostly fails.
fn default_enumeration_failure_ratio() -> f64 {
    0.5
}

/// CrowdSec's http-probing window: 10 s.
fn default_enumeration_window_ms() -> u64 {
    10_000
}

/// 403 and 404: what a lookup of someone else's or a missing object answers.
fn default_lookup_failures() -> Vec<u16> {
    vec![403, 404]
}

impl Default for EnumerationConfig {
    fn default() -> Self {
        EnumerationConfig {
            enabled: default_enabled(),
            min_failed_ids: default_min_failed_ids(),
            min_failure_ratio: default_enumeration_failure_ratio(),
            window_ms: default_enumeration_window_ms(),
            failure_statuses: default_lookup_failures(),
        }
    }
}

/// `credential_stuffing` (`[behaviours.credential_stuffing]`): one client, or several sharing
/// a User-Agent, logs in as many usernames and mostly fails.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialStuffingConfig {
    /// Raise `credential_stuffing` alerts.
    pub enabled: bool,
    /// Distinct usernames tried from one client address within `window_ms`.
    pub min_usernames: usize,
    /// Distinct usernames tried by one User-Agent from several addresses within `window_ms`.
    pub min_usernames_per_agent: usize,
    /// Addresses a User-Agent must come from to count as distributed.
    pub min_agent_clients: usize,
    /// Share of failed attempts in the window.
    pub min_failure_ratio: f64,
    /// The window, packet time, ms.
    pub window_ms: u64,
}

/// An office behind one address sees a few people mistype in ten minutes; a list tries
/// hundreds.
fn default_min_usernames() -> usize {
    10
}

/// A list spread over proxies: each address under the per-address count, twice it in all.
fn default_min_usernames_per_agent() -> usize {
    20
}

/// Three addresses: two are a user on a laptop and a phone.
fn default_min_agent_clients() -> usize {
    3
}

/// Stuffing succeeds for a few percent of the list; an office's logins mostly succeed.
fn default_stuffing_failure_ratio() -> f64 {
    0.8
}

/// 10 minutes: a list run at a slow pace still shows.
fn default_stuffing_window_ms() -> u64 {
    10 * 60 * 1000
}

impl Default for CredentialStuffingConfig {
    fn default() -> Self {
        CredentialStuffingConfig {
            enabled: default_enabled(),
            min_usernames: default_min_usernames(),
            min_usernames_per_agent: default_min_usernames_per_agent(),
            min_agent_clients: default_min_agent_clients(),
            min_failure_ratio: default_stuffing_failure_ratio(),
            window_ms: default_stuffing_window_ms(),
        }
    }
}

/// `brute_force` (`[behaviours.brute_force]`): many failed logins for one username.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BruteForceConfig {
    /// Raise `brute_force` alerts.
    pub enabled: bool,
    /// Failed logins for one username within `window_ms`, from any address.
    pub min_failures: usize,
    /// The window, packet time, ms.
    pub window_ms: u64,
}

/// A person mistypes a few times and resets the password; a guesser tries hundreds
/// (CrowdSec's http-generic-bf leaks 5 per 10 s per address; per username, 10 in 5 min).
fn default_min_failures() -> usize {
    10
}

/// 5 minutes: as long as a person keeps trying before resetting.
fn default_brute_force_window_ms() -> u64 {
    5 * 60 * 1000
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            enabled: default_enabled(),
            min_failures: default_min_failures(),
            window_ms: default_brute_force_window_ms(),
        }
    }
}

/// `scraping` (`[behaviours.scraping]`): a session or client fetches a large share of an
/// endpoint's objects at a steady pace, touching few other endpoints.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapingConfig {
    /// Raise `scraping` alerts.
    pub enabled: bool,
    /// Distinct objects of one endpoint fetched (2xx) within `window_ms`.
    pub min_objects: usize,
    /// Their share of the endpoint's distinct objects seen from everyone.
    pub min_share: f64,
    /// Distinct endpoints over requests in the window, at most (Wallarm's request
    /// uniqueness: 10 %).
    pub max_endpoint_ratio: f64,
    /// Coefficient of variation of the gaps between fetches, at most: below 1 is steadier
    /// than random arrivals (people browse in bursts, machines at a pace).
    pub max_interval_cv: f64,
    /// The window, packet time, ms.
    pub window_ms: u64,
}

/// A person opens tens of products in a visit, not a hundred in ten minutes.
fn default_min_objects() -> usize {
    100
}

/// A fifth of a catalogue is not browsing.
fn default_min_share() -> f64 {
    0.2
}

/// Wallarm's request uniqueness: 10 % or fewer distinct endpoints.
fn default_max_endpoint_ratio() -> f64 {
    0.1
}

/// A loop with ±50 % jitter has a CV of 0.29, random arrivals (many people behind one
/// address) about 1.
fn default_max_interval_cv() -> f64 {
    0.5
}

/// 10 minutes: a hundred objects at a polite pace fit.
fn default_scraping_window_ms() -> u64 {
    10 * 60 * 1000
}

impl Default for ScrapingConfig {
    fn default() -> Self {
        ScrapingConfig {
            enabled: default_enabled(),
            min_objects: default_min_objects(),
            min_share: default_min_share(),
            max_endpoint_ratio: default_max_endpoint_ratio(),
            max_interval_cv: default_max_interval_cv(),
            window_ms: default_scraping_window_ms(),
        }
    }
}

/// What `volume_spike` adds up per session or user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// The parameter's values.
    Sum,
    /// The transactions carrying it.
    Count,
}

/// `volume_spike` (`[behaviours.volume_spike]`): a session or user whose total of a numeric
/// context parameter over the window is far above the other sessions' (users') on the same
/// endpoint.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeSpikeConfig {
    /// Raise `volume_spike` alerts.
    pub enabled: bool,
    /// The context parameter (`[[session.params]]` name, plain mode); absent, nothing fires.
    pub param: String,
    /// Add up its values (`sum`) or count the transactions carrying it (`count`).
    pub statistic: Statistic,
    /// Other sessions (users) on the endpoint needed before anyone is compared with them.
    pub min_population: usize,
    /// Robust z-score, `0.6745 * (total - median) / MAD`, at least (Iglewicz and Hoaglin call
    /// above 3.5 an outlier).
    pub min_score: f64,
    /// And the total at least this many times the median.
    pub min_ratio: f64,
    /// And at least this many values in the window: a spike is several transactions, one
    /// large order is an order.
    pub min_values: usize,
    /// The window, packet time, ms.
    pub window_ms: u64,
    /// Totals of other sessions (users) kept per endpoint: the population.
    pub max_population: usize,
    /// Values summed per session or user in the window; older ones are dropped early
    /// (counted).
    pub max_events: usize,
}

/// `amount`: the order amount of the seed's "unusual spike in orders" (a parameter of that
/// name must be configured; without it nothing fires).
fn default_volume_param() -> String {
    "amount".into()
}

/// Twenty others: the median and MAD of fewer are too easily moved.
fn default_min_population() -> usize {
    20
}

/// A robust z-score of 5, well past Iglewicz and Hoaglin's outlier line of 3.5: order totals
/// are skewed.
fn default_min_score() -> f64 {
    5.0
}

/// Three times the median: a total just past a tight population is not a spike.
fn default_min_ratio() -> f64 {
    3.0
}

/// Three values: a spike is several transactions, one large order is an order.
fn default_min_values() -> usize {
    3
}

/// An hour: a burst of orders fits in it; a customer's ordinary orders are spread wider.
fn default_volume_window_ms() -> u64 {
    60 * 60 * 1000
}

/// A thousand others: a stable median, a sort of a thousand per value at most.
fn default_max_population() -> usize {
    1000
}

/// A thousand values in the window per session or user.
fn default_max_events() -> usize {
    1000
}

impl Default for VolumeSpikeConfig {
    fn default() -> Self {
        VolumeSpikeConfig {
            enabled: default_enabled(),
            param: default_volume_param(),
            statistic: Statistic::Sum,
            min_population: default_min_population(),
            min_score: default_min_score(),
            min_ratio: default_min_ratio(),
            min_values: default_min_values(),
            window_ms: default_volume_window_ms(),
            max_population: default_max_population(),
            max_events: default_max_events(),
        }
    }
}

/// A `[behaviours]` setting that cannot work; the message names the field and what to do.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("behaviours.{field} = {value}: {hint}")]
pub struct BehavioursConfigError {
    /// Field path under `behaviours.`.
    pub field: String,
    /// The value given.
    pub value: String,
    /// What is accepted.
    pub hint: String,
}

/// An error for `field`.
fn bad(field: &str, value: impl std::fmt::Display, hint: &str) -> BehavioursConfigError {
    BehavioursConfigError {
        field: field.into(),
        value: value.to_string(),
        hint: hint.into(),
    }
}

/// `value` must be in `1..=max`.
fn count(field: &str, value: usize, max: usize) -> Result<(), BehavioursConfigError> {
    if value == 0 || value > max {
        return Err(bad(field, value, &format!("must be between 1 and {max}")));
    }
    Ok(())
}

/// `value` must be in `0..=1`.
fn ratio(field: &str, value: f64) -> Result<(), BehavioursConfigError> {
    if !(0.0..=1.0).contains(&value) {
        return Err(bad(field, value, "must be between 0 and 1"));
    }
    Ok(())
}

/// A window must be in `1..=MAX_WINDOW_MS`.
fn window(field: &str, value: u64) -> Result<(), BehavioursConfigError> {
    if value == 0 || value > MAX_WINDOW_MS {
        return Err(bad(
            field,
            value,
            &format!("must be between 1 and {MAX_WINDOW_MS} (ms)"),
        ));
    }
    Ok(())
}

impl BehavioursConfig {
    /// Login bodies are read (the failure words of `200` logins).
    pub fn reads_logins(&self) -> bool {
        self.enabled && (self.credential_stuffing.enabled || self.brute_force.enabled)
    }

    /// The responses that issue object ids are read (`bola`'s ownership).
    pub fn reads_object_responses(&self) -> bool {
        self.enabled && self.bola.enabled && self.bola.learn_from_bodies
    }

    /// Reject values that cannot work.
    pub fn validate(&self) -> Result<(), BehavioursConfigError> {
        for (f, v) in [
            ("max_sessions", self.max_sessions),
            ("max_clients", self.max_clients),
            ("max_users", self.max_users),
            ("max_user_agents", self.max_user_agents),
            ("max_endpoints", self.max_endpoints),
            ("max_known_ids_per_session", self.max_known_ids_per_session),
            ("max_ids_per_endpoint", self.max_ids_per_endpoint),
            ("max_endpoints_per_entity", self.max_endpoints_per_entity),
            ("max_ids_per_response", self.max_ids_per_response),
        ] {
            count(f, v, MAX_TABLE_LIMIT)?;
        }
        if self.max_held_bytes < MIN_HELD_BYTES {
            return Err(bad(
                "max_held_bytes",
                self.max_held_bytes,
                "must be at least 1048576 (1 MiB)",
            ));
        }
        if self.max_scan_bytes > 16 * 1024 * 1024 {
            return Err(bad(
                "max_scan_bytes",
                self.max_scan_bytes,
                "must be at most 16777216 (16 MiB)",
            ));
        }
        for (i, p) in self.id_placeholders.iter().enumerate() {
            if !(p.starts_with('{') && p.ends_with('}') && p.len() > 2) {
                return Err(bad(
                    &format!("id_placeholders[{i}]"),
                    format!("{p:?}"),
                    "must look like \"{id}\"",
                ));
            }
        }
        self.validate_kinds()
    }

    /// Every kind's thresholds.
    fn validate_kinds(&self) -> Result<(), BehavioursConfigError> {
        let b = &self.bola;
        count(
            "bola.min_foreign_ids",
            b.min_foreign_ids,
            MAX_EVIDENCE_COUNT,
        )?;
        ratio("bola.min_foreign_ratio", b.min_foreign_ratio)?;
        window("bola.window_ms", b.window_ms)?;
        if b.enabled && b.min_foreign_ids > self.max_ids_per_endpoint {
            return Err(bad(
                "bola.min_foreign_ids",
                b.min_foreign_ids,
                "is more than behaviours.max_ids_per_endpoint: raise that bound or lower this",
            ));
        }
        let e = &self.enumeration;
        count(
            "enumeration.min_failed_ids",
            e.min_failed_ids,
            MAX_EVIDENCE_COUNT,
        )?;
        ratio("enumeration.min_failure_ratio", e.min_failure_ratio)?;
        window("enumeration.window_ms", e.window_ms)?;
        self.credential_stuffing.validate()?;
        let f = &self.brute_force;
        count(
            "brute_force.min_failures",
            f.min_failures,
            MAX_EVIDENCE_COUNT,
        )?;
        window("brute_force.window_ms", f.window_ms)?;
        self.scraping.validate(self.max_ids_per_endpoint)?;
        self.volume_spike.validate()
    }
}

impl CredentialStuffingConfig {
    /// Reject values that cannot work.
    fn validate(&self) -> Result<(), BehavioursConfigError> {
        let c = self;
        count(
            "credential_stuffing.min_usernames",
            c.min_usernames,
            MAX_EVIDENCE_COUNT,
        )?;
        count(
            "credential_stuffing.min_usernames_per_agent",
            c.min_usernames_per_agent,
            MAX_EVIDENCE_COUNT,
        )?;
        count(
            "credential_stuffing.min_agent_clients",
            c.min_agent_clients,
            MAX_EVIDENCE_COUNT,
        )?;
        ratio("credential_stuffing.min_failure_ratio", c.min_failure_ratio)?;
        window("credential_stuffing.window_ms", c.window_ms)
    }
}

impl ScrapingConfig {
    /// Reject values that cannot work; `max_ids` is `behaviours.max_ids_per_endpoint`.
    fn validate(&self, max_ids: usize) -> Result<(), BehavioursConfigError> {
        let s = self;
        count("scraping.min_objects", s.min_objects, MAX_EVIDENCE_COUNT)?;
        ratio("scraping.min_share", s.min_share)?;
        ratio("scraping.max_endpoint_ratio", s.max_endpoint_ratio)?;
        if !(s.max_interval_cv >= 0.0 && s.max_interval_cv.is_finite()) {
            return Err(bad(
                "scraping.max_interval_cv",
                s.max_interval_cv,
                "must be 0 or more",
            ));
        }
        window("scraping.window_ms", s.window_ms)?;
        if s.enabled && s.min_objects > max_ids {
            return Err(bad(
                "scraping.min_objects",
                s.min_objects,
                "is more than behaviours.max_ids_per_endpoint: raise that bound or lower this",
            ));
        }
        Ok(())
    }
}

impl VolumeSpikeConfig {
    /// Reject values that cannot work.
    fn validate(&self) -> Result<(), BehavioursConfigError> {
        let v = self;
        count(
            "volume_spike.min_population",
            v.min_population,
            MAX_EVIDENCE_COUNT,
        )?;
        count(
            "volume_spike.max_population",
            v.max_population,
            MAX_EVIDENCE_COUNT,
        )?;
        count("volume_spike.max_events", v.max_events, MAX_EVIDENCE_COUNT)?;
        count("volume_spike.min_values", v.min_values, v.max_events)?;
        if v.min_population > v.max_population {
            return Err(bad(
                "volume_spike.min_population",
                v.min_population,
                "is more than volume_spike.max_population: the population could never be large enough",
            ));
        }
        for (f, x) in [
            ("volume_spike.min_score", v.min_score),
            ("volume_spike.min_ratio", v.min_ratio),
        ] {
            if !(x >= 0.0 && x.is_finite()) {
                return Err(bad(f, x, "must be 0 or more"));
            }
        }
        window("volume_spike.window_ms", v.window_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<BehavioursConfig, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn empty_section_gives_valid_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, BehavioursConfig::default());
        c.validate().unwrap();
    }

    #[test]
    fn unknown_fields_are_rejected_in_every_table() {
        assert!(parse("max_session = 3").is_err());
        assert!(parse("[bola]\nmin_foreign = 3").is_err());
        assert!(parse("[volume_spike]\nparameter = \"x\"").is_err());
        assert!(parse("[volume_spike]\nstatistic = \"mean\"").is_err());
    }

    #[test]
    fn validation_names_the_field() {
        for (text, field) in [
            ("[bola]\nmin_foreign_ratio = 1.5", "bola.min_foreign_ratio"),
            ("[enumeration]\nwindow_ms = 0", "enumeration.window_ms"),
            ("max_sessions = 0", "max_sessions"),
            ("[scraping]\nmin_objects = 5000", "scraping.min_objects"),
            (
                "[volume_spike]\nmin_population = 2000",
                "volume_spike.min_population",
            ),
            ("id_placeholders = [\"id\"]", "id_placeholders[0]"),
            (
                "[brute_force]\nmin_failures = 0",
                "brute_force.min_failures",
            ),
        ] {
            let e = parse(text).unwrap().validate().unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
        }
    }
}
