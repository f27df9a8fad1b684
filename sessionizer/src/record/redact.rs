//! Redaction: which values never leave the sensor, found by the name they are carried under
//! (a header, a query or form parameter, a cookie, a JSON field) and by their shape (URL
//! userinfo, a JWT anywhere), and what they are written as instead.
//!
//! A name is secret when it equals one of `output.redact.names` or matches one of
//! `output.redact.patterns` (`*` any run of characters), ASCII case-insensitively. Most names
//! match nothing, so an Aho-Corasick automaton over the patterns' literal parts rejects them
//! in one pass before any pattern is tried.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use apitap_detect::{Finding, Location};
use serde::{Deserialize, Serialize};

use crate::session::config::BodyConfig;
use crate::session::secret::{Domain, Keyed, Secret};

/// What replaces a redacted value in `replace` mode.
pub const REDACTED: &str = "[redacted]";

/// Prefix of a redacted value in `hash` mode: `hash:` and the value's keyed hash in hex.
pub const HASHED_PREFIX: &str = "hash:";

/// Longest JWT looked for by shape: longer base64url runs are not taken for tokens (a token
/// of the sessionizer's own bound, `MAX_JWT_BYTES`, is far below).
const MAX_JWT_SHAPE_BYTES: usize = 16 * 1024;

/// A JWT's first bytes: its header, a JSON object, starts `{"`, which base64url writes `eyJ`.
const JWT_START: &[u8] = b"eyJ";

/// Header fields that carry URLs, whose query parameters, userinfo and tokens are redacted
/// inside the URL (the field itself stays readable).
const URL_HEADERS: [&str; 4] = ["referer", "location", "origin", "content-location"];

/// `output.redact`: the names whose values never leave the sensor.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Names (case-insensitive) of headers, query and form parameters, cookies and JSON
    /// fields whose values are redacted.
    pub names: Vec<String>,
    /// Glob patterns over the same names, case-insensitive; `*` matches any run of
    /// characters (`*token*` matches `X-CSRF-Token` and `access_token`).
    pub patterns: Vec<String>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            names: default_redact_names(),
            patterns: default_redact_patterns(),
        }
    }
}

/// Credentials of common APIs that no pattern below catches, and the short names OAuth and
/// signed URLs use for theirs (`code`, `sig`).
pub fn default_redact_names() -> Vec<String> {
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "apikey",
        "x-amz-security-token",
        "x-goog-api-key",
        "private-token",
        "x-vault-token",
        "sig",
        "code",
        "client_secret",
        "assertion",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The shapes of secret names: tokens, secrets, passwords, sessions, credentials, API keys,
/// CSRF tokens and signatures, whatever their prefix or suffix.
pub fn default_redact_patterns() -> Vec<String> {
    [
        "*token*",
        "*secret*",
        "*passw*",
        "*pwd*",
        "*session*",
        "*auth*",
        "*api*key*",
        "*csrf*",
        "*xsrf*",
        "*signature*",
        "*credential*",
        "*private*key*",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// How a redacted value is written (`output.redact_mode`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RedactMode {
    /// `[redacted]`.
    #[default]
    Replace,
    /// `hash:` and the value's keyed hash (HMAC-SHA256 with the session secret, 128 bits in
    /// hex): equal values give equal hashes, so an analyst can correlate without seeing them.
    Hash,
}

/// Why a redaction setting cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedactConfigError {
    /// A pattern without a literal part matches every name.
    #[error("output.redact.patterns: {0:?} matches every name; give it a literal part, e.g. \"*token*\"")]
    MatchesEverything(String),
    /// Hash mode needs the session secret.
    #[error("output.redact_mode = \"hash\" needs the session secret (session.secret or APITAP_SESSION_SECRET)")]
    NoSecret,
    /// The automaton over the patterns could not be built.
    #[error("output.redact.patterns: {0}")]
    Patterns(String),
}

/// One glob: its literal parts in order, lower case, and whether it is anchored at either end.
#[derive(Clone, Debug)]
struct Glob {
    parts: Vec<String>,
    start: bool,
    end: bool,
}

impl Glob {
    fn new(p: &str) -> Glob {
        let lower = p.to_ascii_lowercase();
        Glob {
            start: !lower.starts_with('*'),
            end: !lower.ends_with('*'),
            parts: lower
                .split('*')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// True when lower-case `name` matches.
    fn matches(&self, name: &str) -> bool {
        let mut rest = name;
        for (i, part) in self.parts.iter().enumerate() {
            let last = i + 1 == self.parts.len();
            if i == 0 && self.start {
                let Some(r) = rest.strip_prefix(part.as_str()) else {
                    return false;
                };
                rest = r;
            } else if last && self.end {
                return rest.ends_with(part.as_str());
            } else {
                match rest.find(part.as_str()) {
                    Some(at) => rest = &rest[at + part.len()..],
                    None => return false,
                }
            }
        }
        !self.end || rest.is_empty() || self.parts.is_empty()
    }
}

/// Prepared redaction rules.
#[derive(Clone, Debug)]
pub struct Redactor {
    /// Exact names, lower case.
    names: Vec<String>,
    /// The patterns.
    globs: Vec<Glob>,
    /// Finds any literal part of any pattern in a name: a name with none matches no pattern.
    literals: Option<AhoCorasick>,
    /// Keys the hash in `hash` mode.
    keyed: Option<Keyed>,
    /// Finds [`JWT_START`]; built once, as building a searcher costs more than most of the
    /// header values it scans (docs/bench.md, "Figures (2026-12-06): the integrated build").
    jwt_start: memchr::memmem::Finder<'static>,
    /// Body samples: bytes per body (0: none) and the decoding limits.
    body_capture: (usize, BodyConfig),
    /// The verdicts of [`COMMON_NAMES`] under these rules, by name length.
    common: CommonVerdicts,
}

/// Header names most messages carry. Their verdicts are worked out once per [`Redactor`],
/// by the same rules, so that the names every record writes cost a few compares instead of
/// the pattern search (about 500 instructions a name; docs/bench.md, "Figures (2026-12-06):
/// the integrated build").
pub const COMMON_NAMES: &[&str] = &[
    "host",
    "user-agent",
    "accept",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "content-type",
    "content-length",
    "content-encoding",
    "connection",
    "keep-alive",
    "date",
    "server",
    "cache-control",
    "pragma",
    "expires",
    "etag",
    "vary",
    "age",
    "via",
    "last-modified",
    "if-none-match",
    "if-modified-since",
    "transfer-encoding",
    "origin",
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-real-ip",
    "access-control-allow-origin",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
];

/// Verdicts of the common names, in lists by name length (empty until worked out).
#[derive(Clone, Debug, Default)]
struct CommonVerdicts {
    /// `by_len[n]`: the common names of `n` bytes and whether each is redacted.
    by_len: Vec<Vec<(&'static str, bool)>>,
}

impl CommonVerdicts {
    /// The verdict of `name` when it is a common name (ASCII case-insensitive).
    #[inline]
    fn get(&self, name: &str) -> Option<bool> {
        self.by_len
            .get(name.len())?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }
}

impl Redactor {
    /// Rules from the config; `secret` keys the hashes of `hash` mode.
    pub fn new(
        cfg: &RedactConfig,
        mode: RedactMode,
        secret: Option<&Secret>,
    ) -> Result<Self, RedactConfigError> {
        let globs: Vec<Glob> = cfg.patterns.iter().map(|p| Glob::new(p)).collect();
        if let Some((p, _)) = cfg
            .patterns
            .iter()
            .zip(&globs)
            .find(|(_, g)| g.parts.is_empty())
        {
            return Err(RedactConfigError::MatchesEverything(p.clone()));
        }
        let literals = if globs.is_empty() {
            None
        } else {
            let all = globs.iter().flat_map(|g| g.parts.iter());
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostFirst)
                .build(all)
                .map_err(|e| RedactConfigError::Patterns(e.to_string()))?;
            Some(ac)
        };
        let keyed = match (mode, secret) {
            (RedactMode::Replace, _) => None,
            (RedactMode::Hash, Some(s)) => Some(Keyed::new(s)),
            (RedactMode::Hash, None) => return Err(RedactConfigError::NoSecret),
        };
        Ok(Redactor {
            names: cfg.names.iter().map(|n| n.to_ascii_lowercase()).collect(),
            globs,
            literals,
            keyed,
            jwt_start: memchr::memmem::Finder::new(JWT_START).into_owned(),
            body_capture: (0, BodyConfig::default()),
            common: CommonVerdicts::default(),
        }
        .with_common_verdicts())
    }

    /// The same rules, with the verdicts of [`COMMON_NAMES`] worked out by them.
    fn with_common_verdicts(mut self) -> Self {
        let longest = COMMON_NAMES.iter().map(|n| n.len()).max().unwrap_or(0);
        let mut by_len = vec![Vec::new(); longest + 1];
        for &name in COMMON_NAMES {
            by_len[name.len()].push((name, self.redacts_by_rules(name)));
        }
        self.common = CommonVerdicts { by_len };
        self
    }

    /// The same rules, writing samples of at most `bytes` of each body (0: none), decoded
    /// within `limits`.
    pub fn with_body_capture(mut self, bytes: usize, limits: &BodyConfig) -> Self {
        self.body_capture = (bytes, limits.clone());
        self
    }

    /// Bytes of each body a record samples (0: none), and the decoding limits.
    pub fn body_capture(&self) -> (usize, &BodyConfig) {
        (self.body_capture.0, &self.body_capture.1)
    }

    /// The default rules, `replace` mode.
    pub fn default_rules() -> Self {
        Redactor::new(&RedactConfig::default(), RedactMode::Replace, None)
            .unwrap_or_else(|_| unreachable!("the default patterns are valid"))
    }

    /// True when the value carried under `name` must be redacted.
    #[inline]
    pub fn redacts(&self, name: &str) -> bool {
        match self.common.get(name) {
            Some(verdict) => verdict,
            None => self.redacts_by_rules(name),
        }
    }

    /// [`Self::redacts`] by the names and patterns themselves.
    fn redacts_by_rules(&self, name: &str) -> bool {
        if self
            .names
            .iter()
            .any(|n| n.len() == name.len() && n.eq_ignore_ascii_case(name))
        {
            return true;
        }
        let Some(ac) = &self.literals else {
            return false;
        };
        if !ac.is_match(name) {
            return false;
        }
        let lower = name.to_ascii_lowercase();
        self.globs.iter().any(|g| g.matches(&lower))
    }

    /// What a secret value is written as: `[redacted]`, or its keyed hash.
    pub fn replacement(&self, value: &str) -> Cow<'static, str> {
        match &self.keyed {
            None => Cow::Borrowed(REDACTED),
            Some(k) => {
                let h = k.hash(Domain::Redacted, &[value.as_bytes()]);
                Cow::Owned(format!("{HASHED_PREFIX}{}", h.to_hex()))
            }
        }
    }

    /// The value of header `name`: replaced whole when the name is secret; in a header that
    /// carries a URL, the URL's secrets ([`Self::url`]); a cookie list's secret cookies;
    /// anywhere else, JWTs found by their shape.
    pub fn header_value<'a>(&self, name: &str, value: &'a str) -> Cow<'a, str> {
        if self.redacts(name) {
            return self.replacement(value).into_owned().into();
        }
        if URL_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            return self.url(value);
        }
        self.jwts(value)
    }

    /// A URL or request-target with its secrets redacted: the userinfo of an authority,
    /// query parameters with secret names, and JWTs anywhere.
    pub fn url<'a>(&self, url: &'a str) -> Cow<'a, str> {
        let mut out = self.userinfo(url);
        if let Cow::Owned(s) = self.query(&out) {
            out = Cow::Owned(s);
        }
        if let Cow::Owned(s) = self.jwts(&out) {
            out = Cow::Owned(s);
        }
        out
    }

    /// `url` with the userinfo of its authority (`user:password@`) replaced.
    fn userinfo<'a>(&self, url: &'a str) -> Cow<'a, str> {
        if memchr::memchr(b'@', url.as_bytes()).is_none() {
            return Cow::Borrowed(url);
        }
        // The authority starts after `scheme://`, or at the start of an authority-form
        // target (CONNECT host:port), and ends at the first `/`, `?` or `#`.
        let start = url.find("://").map_or(0, |i| i + 3);
        let rest = &url[start..];
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let Some(at) = rest[..end].rfind('@') else {
            return Cow::Borrowed(url);
        };
        let info = &rest[..at];
        Cow::Owned(format!(
            "{}{}{}",
            &url[..start],
            self.replacement(info),
            &rest[at..]
        ))
    }

    /// `url` with the values of its query parameters that have secret names replaced.
    fn query<'a>(&self, url: &'a str) -> Cow<'a, str> {
        let Some(q) = memchr::memchr(b'?', url.as_bytes()) else {
            return Cow::Borrowed(url);
        };
        let (head, query) = url.split_at(q + 1);
        let (query, fragment) = match query.find('#') {
            Some(h) => query.split_at(h),
            None => (query, ""),
        };
        let secret = |pair: &str| {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            pair.contains('=') && self.redacts(&percent_decoded(name))
        };
        if !query.split('&').any(secret) {
            return Cow::Borrowed(url);
        }
        let mut out = String::with_capacity(url.len());
        out.push_str(head);
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, value)) if secret(pair) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(&self.replacement(value));
                }
                _ => out.push_str(pair),
            }
        }
        out.push_str(fragment);
        Cow::Owned(out)
    }

    /// A finding's evidence as records and alerts show it: redacted like the value it came
    /// from when that value's name is secret, and with JWTs redacted wherever they are.
    pub fn evidence<'a>(&self, f: &'a Finding) -> Cow<'a, str> {
        let secret = match &f.location {
            Location::Query(n) | Location::Header(n) | Location::Cookie(n) => self.redacts(n),
            Location::Body(p) => p.rsplit(['/', '.']).next().is_some_and(|n| self.redacts(n)),
            Location::Path | Location::BodyWhole => false,
        };
        if secret {
            self.replacement(&f.evidence)
        } else {
            self.jwts(&f.evidence)
        }
    }

    /// `text` with every JWT in it (three base64url parts, the first a JSON header with
    /// `alg`) replaced.
    pub fn jwts<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let finder = &self.jwt_start;
        if finder.find(text.as_bytes()).is_none() {
            return Cow::Borrowed(text);
        }
        let mut out = String::new();
        let mut from = 0;
        let mut at = 0;
        while let Some(i) = finder.find(&text.as_bytes()[at..]) {
            let start = at + i;
            match jwt_at(text, start) {
                Some(end) => {
                    out.push_str(&text[from..start]);
                    out.push_str(&self.replacement(&text[start..end]));
                    from = end;
                    at = end;
                }
                None => at = start + 3,
            }
        }
        if from == 0 {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[from..]);
        Cow::Owned(out)
    }
}

/// The end of the JWT starting at `start` of `text`, if one does: base64url header (decoding
/// to a JSON object with `alg`), `.`, base64url payload, `.`, base64url signature (may be
/// empty: `alg: none`).
fn jwt_at(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let run = |from: usize| {
        let n = b
            .get(from..)?
            .iter()
            .take(MAX_JWT_SHAPE_BYTES)
            .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            .count();
        Some(from + n)
    };
    let h_end = run(start)?;
    if b.get(h_end) != Some(&b'.') {
        return None;
    }
    let p_end = run(h_end + 1)?;
    if p_end == h_end + 1 || b.get(p_end) != Some(&b'.') {
        return None;
    }
    let end = run(p_end + 1)?;
    let header = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        text.get(start..h_end)?,
    )
    .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&header).ok()?;
    v.get("alg").is_some().then_some(end)
}

/// `s` percent-decoded (RFC 3986 section 2.1, `+` as a space as in forms), lossily.
pub(crate) fn percent_decoded(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let plus = s.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&plus)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests;
