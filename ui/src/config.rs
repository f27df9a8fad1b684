//! `[ui]`: what the user sets for `apitap ui` (docs/config.md, docs/ui.md).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a token prints as in `Debug` and in the effective config.
const REDACTED_TOKEN: &str = "[redacted]";

/// Shortest token accepted, in bytes: a shorter one can be guessed.
pub const MIN_TOKEN_BYTES: usize = 16;

/// A bearer token. `Debug` and `Serialize` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wrap a token.
    pub fn new(s: impl Into<String>) -> Self {
        Token(s.into())
    }

    /// The token's text (only to compare it with what a request presents).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({REDACTED_TOKEN})")
    }
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED_TOKEN)
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Token)
    }
}

/// `[ui]`: the store and the web server of `apitap ui`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Bearer token every request must present (`Authorization: Bearer`, or the cookie the
    /// login form sets). Required when `--listen` is not a loopback address; the environment
    /// variable `APITAP_UI_TOKEN` takes its place. Notes written with it have no author.
    pub token: Option<Token>,
    /// Named analysts' tokens, `name = "token"`: each works as `token` does, and notes and
    /// tags written with one are signed with its name.
    pub analysts: BTreeMap<String, Token>,
    /// How much the store keeps.
    pub retention: RetentionConfig,
    /// Most records written to the store in one SQLite transaction, while more are waiting
    /// (a file, a Kafka backlog). Larger batches ingest faster; records become visible at the
    /// end of their batch.
    pub batch_records: usize,
    /// Longest a record waits in an unfinished batch when no more records are waiting, in
    /// milliseconds (a quiet Kafka topic or stdin).
    pub flush_interval_ms: u64,
    /// Most distinct endpoints the inventory keeps; transactions to further endpoints are
    /// stored without one and counted (`endpoints_dropped`). Bounds the inventory when
    /// sessions are off and raw paths stand in for templates.
    pub max_endpoints: usize,
    /// Rows per page of the sessions, alerts and endpoints lists.
    pub page_rows: usize,
    /// Most transactions the session page lists at once; longer sessions are paged.
    pub session_page_transactions: usize,
}

fn default_batch_records() -> usize {
    // A commit writes every page it dirtied, and records of many sessions dirty pages all over
    // the session tables: per record, 50,000-record batches wrote a third of the bytes that
    // 5,000-record ones did (docs/ui.md, Figures). A trickle is committed sooner
    // (`flush_interval_ms`).
    50_000
}

fn default_flush_interval_ms() -> u64 {
    // An analyst sees a record within a second of its arrival.
    500
}

fn default_max_endpoints() -> usize {
    // An API inventory is hundreds to a few thousand operations; ten times that is noise.
    20_000
}

fn default_page_rows() -> usize {
    // One screen or two of sessions.
    50
}

fn default_session_page_transactions() -> usize {
    // A 2,000-row page still renders well under a second in a browser.
    2_000
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            token: None,
            analysts: BTreeMap::new(),
            retention: RetentionConfig::default(),
            batch_records: default_batch_records(),
            flush_interval_ms: default_flush_interval_ms(),
            max_endpoints: default_max_endpoints(),
            page_rows: default_page_rows(),
            session_page_transactions: default_session_page_transactions(),
        }
    }
}

impl UiConfig {
    /// Reject values that cannot work; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("ui.batch_records", self.batch_records),
            ("ui.max_endpoints", self.max_endpoints),
            ("ui.page_rows", self.page_rows),
            (
                "ui.session_page_transactions",
                self.session_page_transactions,
            ),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        let named = self
            .analysts
            .iter()
            .map(|(n, t)| (format!("ui.analysts.{n}"), t));
        for (field, t) in self
            .token
            .iter()
            .map(|t| ("ui.token".to_owned(), t))
            .chain(named)
        {
            if t.expose().len() < MIN_TOKEN_BYTES {
                return Err(format!(
                    "{field} is shorter than {MIN_TOKEN_BYTES} bytes; use a long random value"
                ));
            }
        }
        self.retention.validate()
    }
}

/// `[ui.retention]`: the store is bounded by age and by size; the oldest records go first.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Records older than this many hours are deleted, counted from the newest record's time
    /// (packet time, so a replayed capture of last year is not deleted on arrival). 0: no
    /// age bound.
    pub max_age_hours: u64,
    /// The store's data is kept under this many bytes (SQLite pages in use): past it the
    /// oldest records are deleted until it is under 90 % of the bound. 0: no size bound.
    pub max_bytes: u64,
    /// How often retention runs, in records ingested.
    pub check_every_records: u64,
}

fn default_max_age_hours() -> u64 {
    // A week: an incident is usually looked at within days of the traffic.
    168
}

fn default_max_bytes() -> u64 {
    // 4 GiB: about 3 M transactions with their records.
    4 << 30
}

fn default_check_every_records() -> u64 {
    // Once per 50,000 records: about a second of ingest, a fraction of the bound.
    50_000
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            max_age_hours: default_max_age_hours(),
            max_bytes: default_max_bytes(),
            check_every_records: default_check_every_records(),
        }
    }
}

impl RetentionConfig {
    fn validate(&self) -> Result<(), String> {
        if self.check_every_records == 0 {
            return Err("ui.retention.check_every_records must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_print() {
        let mut c = UiConfig {
            token: Some(Token::new("0123456789abcdef-secret")),
            ..UiConfig::default()
        };
        c.analysts
            .insert("alice".into(), Token::new("alice-0123456789abcdef"));
        let shown = format!("{c:?} {}", serde_json::to_string(&c).unwrap());
        assert!(
            !shown.contains("secret") && !shown.contains("alice-0"),
            "{shown}"
        );
        assert!(c.validate().is_ok());
    }

    #[test]
    fn short_tokens_and_zero_bounds_are_rejected_by_name() {
        let c = UiConfig {
            token: Some(Token::new("short")),
            ..UiConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("ui.token"));
        let c = UiConfig {
            page_rows: 0,
            ..UiConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("ui.page_rows"));
    }
}
