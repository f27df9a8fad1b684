//! What the response says about an attack: blocked, rejected, an error, served.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// Response body bytes searched for WAF and error text; error pages put it near the top.
pub const MAX_OUTCOME_BODY_BYTES: usize = 16 * 1024;

/// What became of a request that carried an attack, read from its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// 403, 406 or 429 with a WAF-like body: a defence stopped it.
    Blocked,
    /// Any other 4xx: the application refused it.
    Rejected,
    /// 5xx, or database or stack-trace text in the body: the attack reached code that failed.
    Error,
    /// 2xx or 3xx (or 1xx) without error text: the application served it.
    Served,
    /// No response was seen.
    NoResponse,
}

impl Outcome {
    /// The lower-case name used in records (`"blocked"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Blocked => "blocked",
            Outcome::Rejected => "rejected",
            Outcome::Error => "error",
            Outcome::Served => "served",
            Outcome::NoResponse => "no_response",
        }
    }
}

/// Text of WAF and rate-limiter block pages (ModSecurity, Cloudflare, AWS WAF, Akamai,
/// Imperva, F5, Sucuri, Wallarm, nginx/envoy rate limits).
const WAF_TEXT: &[&str] = &[
    "access denied",
    "request blocked",
    "request rejected",
    "request was blocked",
    "blocked by",
    "has been blocked",
    "web application firewall",
    "mod_security",
    "modsecurity",
    "attention required",
    "cloudflare",
    "incident id",
    "support id",
    "reference #",
    "aws waf",
    "incapsula",
    "imperva",
    "sucuri",
    "akamai",
    "wallarm",
    "naxsi",
    "security policy",
    "not acceptable",
    "too many requests",
    "rate limit",
];

/// Database errors and stack traces that leak into responses when an injection reaches code.
const ERROR_TEXT: &[&str] = &[
    "you have an error in your sql syntax",
    "warning: mysql",
    "mysql_fetch",
    "mysqli_",
    "mariadb server version",
    "sqlstate[",
    "pdoexception",
    "unclosed quotation mark",
    "incorrect syntax near",
    "microsoft ole db provider",
    "odbc sql server driver",
    "system.data.sqlclient",
    "com.microsoft.sqlserver",
    "syntax error at or near",
    "unterminated quoted string",
    "pg_query()",
    "psqlexception",
    "postgresql query failed",
    "sqlite3.operationalerror",
    "sqlite_error",
    "sqliteexception",
    "java.sql.sqlexception",
    "ora-",
    "traceback (most recent call last)",
    "java.lang.",
    "exception in thread",
    "nullreferenceexception",
    "server error in '/' application",
    "uncaught exception",
    "fatal error: ",
    "mongoservererror",
    "mongoerror",
    "cast to objectid failed",
    "at object.<anonymous>",
];

struct Matchers {
    waf: AhoCorasick,
    error: AhoCorasick,
}

fn matchers() -> &'static Matchers {
    static M: OnceLock<Matchers> = OnceLock::new();
    M.get_or_init(|| Matchers {
        waf: build(WAF_TEXT),
        error: build(ERROR_TEXT),
    })
}

fn build(patterns: &[&str]) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(patterns)
        .expect("static patterns build")
}

/// What the response says about an attack in its request. `status` is the final status code
/// (None: no response seen); `content_type` the response's Content-Type; `body` its decoded body
/// (only the first [`MAX_OUTCOME_BODY_BYTES`] are read).
pub fn outcome(status: Option<u16>, content_type: Option<&str>, body: &[u8]) -> Outcome {
    let Some(status) = status else {
        return Outcome::NoResponse;
    };
    let body = if is_binary(content_type) {
        &[][..]
    } else {
        body.get(..MAX_OUTCOME_BODY_BYTES).unwrap_or(body)
    };
    if matches!(status, 403 | 406 | 429) && matchers().waf.is_match(body) {
        return Outcome::Blocked;
    }
    if status >= 500 || has_error_text(body) {
        return Outcome::Error;
    }
    if (400..500).contains(&status) {
        return Outcome::Rejected;
    }
    Outcome::Served
}

/// Whether `body` holds database or stack-trace error text. `ORA-` counts only before an error
/// number (`ORA-00933`), so that words like "ora-nge" do not.
fn has_error_text(body: &[u8]) -> bool {
    matchers().error.find_iter(body).any(|m| {
        if ERROR_TEXT.get(m.pattern().as_usize()) != Some(&"ora-") {
            return true;
        }
        body.get(m.end()..m.end() + 5)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    })
}

/// Media types whose bodies hold no error text worth searching.
fn is_binary(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let ct = ct.trim_start().as_bytes();
    [
        "image/",
        "audio/",
        "video/",
        "font/",
        "application/octet-stream",
        "application/zip",
    ]
    .iter()
    .any(|p| ct.len() >= p.len() && ct[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_by_status_and_body() {
        let html = Some("text/html");
        let cases: &[(Option<u16>, &str, Outcome)] = &[
            (None, "", Outcome::NoResponse),
            (Some(200), "{\"ok\":true}", Outcome::Served),
            (Some(302), "", Outcome::Served),
            (
                Some(403),
                "<h1>Access Denied</h1> Reference #18.6f2",
                Outcome::Blocked,
            ),
            (Some(406), "Not Acceptable! mod_security", Outcome::Blocked),
            (Some(429), "Too Many Requests", Outcome::Blocked),
            (
                Some(403),
                "{\"error\":\"insufficient scope\"}",
                Outcome::Rejected,
            ),
            (Some(404), "not found", Outcome::Rejected),
            (Some(400), "{\"error\":\"bad id\"}", Outcome::Rejected),
            (Some(500), "", Outcome::Error),
            (Some(502), "Bad Gateway", Outcome::Error),
            (
                Some(200),
                "You have an error in your SQL syntax; check the manual",
                Outcome::Error,
            ),
            (
                Some(400),
                "ORA-00933: SQL command not properly ended",
                Outcome::Error,
            ),
            (
                Some(200),
                "Traceback (most recent call last):\n  File",
                Outcome::Error,
            ),
            (Some(200), "\tat java.lang.Thread.run", Outcome::Error),
            (Some(200), "Flavours: ora-nge, lemon", Outcome::Served),
            (Some(200), "ORA-", Outcome::Served),
        ];
        for (status, body, want) in cases {
            assert_eq!(
                outcome(*status, html, body.as_bytes()),
                *want,
                "{status:?} {body}"
            );
        }
    }

    #[test]
    fn binary_bodies_are_not_searched() {
        let body = b"\x89PNG java.lang. traceback (most recent call last)";
        assert_eq!(outcome(Some(200), Some("image/png"), body), Outcome::Served);
        assert_eq!(outcome(Some(200), None, body), Outcome::Error);
    }

    #[test]
    fn text_past_the_bound_is_not_read() {
        let mut body = vec![b' '; MAX_OUTCOME_BODY_BYTES];
        body.extend_from_slice(b"java.lang.NullPointerException");
        assert_eq!(outcome(Some(200), None, &body), Outcome::Served);
    }

    #[test]
    fn names() {
        assert_eq!(Outcome::Blocked.name(), "blocked");
        assert_eq!(Outcome::NoResponse.name(), "no_response");
    }
}
