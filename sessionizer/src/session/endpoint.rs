//! Endpoint templates: `GET /api/v1/users/{id}/orders` from `GET /api/v1/users/42/orders?x=1`.
//!
//! Explicit templates win, then configured segment patterns (regex), then the built-in
//! classifiers. The classifiers are hand-written byte scans: no regex runs unless patterns are
//! configured.

use regex::RegexSet;

use super::config::{EndpointConfig, SessionConfigError};

/// Path segments kept; the rest of a deeper path becomes one `{...}` segment.
pub const MAX_ENDPOINT_SEGMENTS: usize = 32;

/// Longest literal segment kept, in bytes; a longer one becomes `{long}`.
pub const MAX_SEGMENT_BYTES: usize = 64;

/// Longest method kept, in bytes (methods are short tokens; this bounds garbage).
pub const MAX_METHOD_BYTES: usize = 32;

/// Shortest all-hex segment (with a digit) taken for a hex id: 8 (a CRC32 or short hash).
pub const MIN_HEX_LEN: usize = 8;

/// Shortest segment taken for a base64-ish token.
pub const MIN_TOKEN_LEN: usize = 16;

/// Path bytes a name's buffer is sized for at first (longer paths grow it).
const MAX_NAME_CAPACITY: usize = 256;

/// Room in a name's buffer for placeholders longer than what they replace (`{id}` for `7`),
/// so that short ids do not make it grow.
const PLACEHOLDER_SPARE_BYTES: usize = 8;

/// One segment of an explicit template.
#[derive(Clone, Debug)]
enum TemplateSeg {
    /// Must be equal.
    Literal(String),
    /// `{...}`: any one segment.
    Any,
}

/// An explicit template.
#[derive(Clone, Debug)]
struct Template {
    /// As configured; what the endpoint becomes.
    text: String,
    /// Its segments after the leading `/`.
    segs: Vec<TemplateSeg>,
}

/// Names endpoints.
#[derive(Clone, Debug)]
pub struct EndpointNamer {
    /// Explicit templates, in order.
    templates: Vec<Template>,
    /// Configured segment patterns (anchored) and their placeholders.
    patterns: Option<(RegexSet, Vec<String>)>,
    /// Run the built-in classifiers.
    normalize: bool,
}

/// Split a template into segments.
fn template_segs(t: &str) -> Vec<TemplateSeg> {
    t.trim_start_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                TemplateSeg::Any
            } else {
                TemplateSeg::Literal(s.to_string())
            }
        })
        .collect()
}

/// Match `path` against template segments; `{name}` captures go to `captures` when given.
pub(crate) fn match_template<'p>(
    template: &str,
    path: &'p str,
    mut capture: impl FnMut(&str, &'p str),
) -> bool {
    let mut t = template.trim_start_matches('/').split('/');
    let mut p = path.trim_start_matches('/').split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if ps.is_empty() {
                        return false;
                    }
                    capture(name, ps);
                } else if ts != ps {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

impl EndpointNamer {
    /// Compile templates and patterns.
    pub fn new(cfg: &EndpointConfig) -> Result<Self, SessionConfigError> {
        let templates = cfg
            .templates
            .iter()
            .map(|t| Template {
                text: t.clone(),
                segs: template_segs(t),
            })
            .collect();
        let patterns = if cfg.patterns.is_empty() {
            None
        } else {
            let set = RegexSet::new(cfg.patterns.iter().map(|p| format!("^(?:{})$", p.regex)))
                .map_err(|e| SessionConfigError::Invalid {
                    field: "endpoints.patterns".into(),
                    message: format!("not a valid regex: {e}"),
                })?;
            Some((
                set,
                cfg.patterns.iter().map(|p| p.placeholder.clone()).collect(),
            ))
        };
        Ok(EndpointNamer {
            templates,
            patterns,
            normalize: cfg.normalize,
        })
    }

    /// `METHOD /normalised/path` for a request.
    pub fn name(&self, method: &str, path: &str) -> String {
        let method = cut(method, MAX_METHOD_BYTES);
        let mut out = String::with_capacity(
            method.len() + 1 + path.len().min(MAX_NAME_CAPACITY) + PLACEHOLDER_SPARE_BYTES,
        );
        out.push_str(method);
        out.push(' ');
        if let Some(t) = self.templates.iter().find(|t| self.matches(t, path)) {
            out.push_str(&t.text);
            return out;
        }
        if !path.starts_with('/') {
            // `*` (OPTIONS) or an authority-form target: no segments to normalise.
            out.push_str(if path.is_empty() {
                "/"
            } else {
                cut(path, MAX_SEGMENT_BYTES)
            });
            return out;
        }
        out.push('/');
        if self.patterns.is_some() {
            self.name_each_segment(&path[1..], &mut out);
        } else {
            self.name_in_runs(&path[1..], &mut out);
        }
        out
    }

    /// The normalised form of `body` (a path after its leading `/`) appended to `out`, one
    /// segment at a time: what configured patterns need, since any segment may match one.
    fn name_each_segment(&self, body: &str, out: &mut String) {
        for (i, seg) in segments(body).enumerate() {
            if i > 0 {
                out.push('/');
            }
            if i == MAX_ENDPOINT_SEGMENTS {
                out.push_str("{...}");
                break;
            }
            out.push_str(self.segment(seg));
        }
    }

    /// [`Self::name_each_segment`] without patterns, in one pass: each segment's bytes are
    /// scanned once, for its end and for the characters an identifier needs (most segments
    /// are words, which no classifier can take), and the segments kept as they are go out in
    /// runs, with the `/`s between them.
    fn name_in_runs(&self, body: &str, out: &mut String) {
        let b = body.as_bytes();
        // `body[run..start]` is still to be copied as it is.
        let (mut run, mut start) = (0, 0);
        for i in 0.. {
            let mut end = start;
            // The classes of any byte, and of every byte, of the segment.
            let (mut any, mut every) = (0, u8::MAX);
            for &c in b.get(start..).unwrap_or_default() {
                if c == b'/' {
                    break;
                }
                let class = BYTE_CLASS[usize::from(c)];
                any |= class;
                every &= class;
                end += 1;
            }
            let placeholder = if i == MAX_ENDPOINT_SEGMENTS {
                // The rest of the path, whatever it holds, becomes the placeholder.
                end = b.len();
                Some("{...}")
            } else {
                // Sliced (with its boundary checks) only when a classifier has to look.
                let seg = || body.get(start..end).unwrap_or_default();
                let len = end - start;
                let id = if self.normalize {
                    classify_scanned(len, any, every, seg)
                } else {
                    None
                };
                id.or((len > MAX_SEGMENT_BYTES).then_some("{long}"))
            };
            if let Some(p) = placeholder {
                out.push_str(body.get(run..start).unwrap_or_default());
                out.push_str(p);
                run = end;
            }
            if end >= b.len() {
                break;
            }
            start = end + 1;
        }
        out.push_str(body.get(run..).unwrap_or_default());
    }

    /// True when `path` fits the template.
    fn matches(&self, t: &Template, path: &str) -> bool {
        let mut p = segments(path.trim_start_matches('/'));
        for ts in &t.segs {
            match (ts, p.next()) {
                (TemplateSeg::Any, Some(s)) if !s.is_empty() => {}
                (TemplateSeg::Literal(l), Some(s)) if l == s => {}
                _ => return false,
            }
        }
        p.next().is_none()
    }

    /// The normalised form of one segment.
    fn segment<'s>(&'s self, seg: &'s str) -> &'s str {
        if let Some((set, placeholders)) = &self.patterns {
            if let Some(i) = set.matches(seg).iter().next() {
                return &placeholders[i];
            }
        }
        if self.normalize {
            if let Some(p) = classify(seg) {
                return p;
            }
        }
        if seg.len() > MAX_SEGMENT_BYTES {
            "{long}"
        } else {
            seg
        }
    }
}

/// The parts of `path` between `/`s, as `path.split('/')` gives them, found by a byte scan:
/// cheaper than a char pattern on segments this short, and `/` is ASCII, so every cut is on a
/// character boundary.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(path);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == b'/') {
            Some(i) => {
                rest = r.get(i + 1..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

/// A digit, for [`BYTE_CLASS`].
const CLASS_DIGIT: u8 = 1;

/// `@` or `%` (an email, plain or `%40`-encoded), for [`BYTE_CLASS`].
const CLASS_AT: u8 = 2;

/// What each byte tells [`classify_scanned`] about its segment: a table, since a path's
/// every byte is looked up.
static BYTE_CLASS: [u8; 256] = {
    let mut t = [0; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = CLASS_DIGIT;
        c += 1;
    }
    t[b'@' as usize] = CLASS_AT;
    t[b'%' as usize] = CLASS_AT;
    t
};

/// What [`classify`] gives for the segment `seg`, `len` bytes long, whose bytes'
/// [`BYTE_CLASS`]es are `any` or-ed and `every` and-ed: the answer without a classifier's
/// scan for the common segments. All digits is `{id}`, whatever the length. Otherwise every
/// placeholder needs [`MIN_HEX_LEN`] bytes or more (a hex id; a date, a UUID and a token are
/// longer) except `{email}`, which needs its `@`; and every one but `{uuid}` (which may be
/// all letters) and `{email}` needs a digit.
#[inline]
fn classify_scanned<'s>(
    len: usize,
    any: u8,
    every: u8,
    seg: impl FnOnce() -> &'s str,
) -> Option<&'static str> {
    if len == 0 {
        None
    } else if every == CLASS_DIGIT {
        Some("{id}")
    } else if any & CLASS_AT == 0 && (len < MIN_HEX_LEN || (any == 0 && len != UUID_LEN)) {
        None
    } else {
        classify(seg())
    }
}

/// Length of a UUID in text form.
const UUID_LEN: usize = 36;

/// Length of a date (`YYYY-MM-DD`), the shortest form [`is_date`] takes.
const DATE_LEN: usize = 10;

// `classify_scanned` rules out segments shorter than a hex id: no other placeholder but
// `{id}` and `{email}` may be shorter.
const _: () =
    assert!(MIN_HEX_LEN <= DATE_LEN && MIN_HEX_LEN <= MIN_TOKEN_LEN && MIN_HEX_LEN <= UUID_LEN);

/// The placeholder for a segment that is an identifier, or `None` for a literal.
pub fn classify(seg: &str) -> Option<&'static str> {
    let b = seg.as_bytes();
    if b.is_empty() {
        return None;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return Some("{id}");
    }
    if is_uuid(b) {
        return Some("{uuid}");
    }
    if is_date(b) {
        return Some("{date}");
    }
    if is_email(seg) {
        return Some("{email}");
    }
    if b.len() >= MIN_HEX_LEN
        && b.iter().all(u8::is_ascii_hexdigit)
        && b.iter().any(u8::is_ascii_digit)
    {
        return Some("{hex}");
    }
    if is_token(b) {
        return Some("{token}");
    }
    None
}

/// `8-4-4-4-12` hex digits (RFC 9562).
fn is_uuid(b: &[u8]) -> bool {
    b.len() == UUID_LEN
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// `YYYY-MM-DD`, optionally followed by `T...` (RFC 3339), with a plausible month and day.
fn is_date(b: &[u8]) -> bool {
    if b.len() < DATE_LEN || !(b.len() == DATE_LEN || b[DATE_LEN] == b'T' || b[DATE_LEN] == b't') {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// `local@domain.tld` (also `%40`-encoded), loosely.
fn is_email(s: &str) -> bool {
    if !s.bytes().any(|b| b == b'@' || b == b'%') {
        return false;
    }
    let (local, domain) = match s.split_once('@') {
        Some(p) => p,
        None => match s.find("%40") {
            Some(i) => (&s[..i], &s[i + 3..]),
            None => return false,
        },
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

/// A base64/base64url-ish token (API keys, JWTs, random ids): long enough, only token
/// characters, with letters and digits mixed as random strings are and words are not.
fn is_token(b: &[u8]) -> bool {
    if b.len() < MIN_TOKEN_LEN {
        return false;
    }
    let (mut upper, mut lower, mut digit) = (0usize, 0usize, 0usize);
    for &c in b {
        match c {
            b'A'..=b'Z' => upper += 1,
            b'a'..=b'z' => lower += 1,
            b'0'..=b'9' => digit += 1,
            b'-' | b'_' | b'+' | b'=' | b'.' | b'~' | b'%' => {}
            _ => return false,
        }
    }
    let letters = upper + lower;
    digit > 0 && letters > 0 && ((upper > 0 && lower > 0) || digit * 4 >= b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Without patterns, the one-pass naming gives what naming each segment gives: paths
        /// of words, numbers, hex, dates, emails, UUIDs (some all letters) and long segments, deep
        /// enough to reach the segment bound.
        #[test]
        fn runs_name_as_segments_do(
            segs in proptest::collection::vec(
                "[a-f]{8}-[a-f]{4}-[a-f]{4}-[a-f0-9]{4}-[a-f]{12}|[0-9a-fA-F-]{0,40}|[a-z@%.é]{0,12}|[a-z]{1,6}(@|%40)[a-z]{1,6}\\.[a-z]{2,3}|2024-0[1-9]-[0-3][0-9]|[a-zA-Z0-9_]{60,70}",
                0..40,
            ),
            normalize: bool,
        ) {
            let path = segs.join("/");
            let n = EndpointNamer::new(&EndpointConfig {
                normalize,
                ..EndpointConfig::default()
            })
            .unwrap();
            let (mut runs, mut each) = (String::new(), String::new());
            n.name_in_runs(&path, &mut runs);
            n.name_each_segment(&path, &mut each);
            proptest::prop_assert_eq!(runs, each);
        }

        /// The byte scan cuts where `split('/')` does.
        #[test]
        fn segments_are_split_on_slashes(path in "[/aé€]{0,12}") {
            let want: Vec<&str> = path.split('/').collect();
            proptest::prop_assert_eq!(segments(&path).collect::<Vec<_>>(), want);
        }
    }

    use crate::session::config::PatternSpec;

    #[test]
    fn normalisation_table() {
        let n = EndpointNamer::new(&EndpointConfig::default()).unwrap();
        let table = [
            (
                "GET",
                "/api/v1/users/42/orders",
                "GET /api/v1/users/{id}/orders",
            ),
            (
                "GET",
                "/items/550e8400-e29b-41d4-a716-446655440000",
                "GET /items/{uuid}",
            ),
            ("GET", "/commits/9f86d081884c7d65", "GET /commits/{hex}"),
            (
                "GET",
                "/objects/507f1f77bcf86cd799439011",
                "GET /objects/{hex}",
            ),
            ("GET", "/reports/2024-05-01", "GET /reports/{date}"),
            (
                "GET",
                "/reports/2024-05-01T10:00:00Z",
                "GET /reports/{date}",
            ),
            ("GET", "/reports/2024-13-01", "GET /reports/2024-13-01"),
            (
                "GET",
                "/users/alice@example.com/prefs",
                "GET /users/{email}/prefs",
            ),
            ("GET", "/users/alice%40example.com", "GET /users/{email}"),
            ("GET", "/keys/AKIAIOSFODNN7EXAMPLEk2", "GET /keys/{token}"),
            (
                "GET",
                "/t/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
                "GET /t/{token}",
            ),
            (
                "GET",
                "/blog/my-post-about-things",
                "GET /blog/my-post-about-things",
            ),
            (
                "GET",
                "/api/getUserOrdersByCustomer",
                "GET /api/getUserOrdersByCustomer",
            ),
            (
                "GET",
                "/my-blog-post-2024-recap",
                "GET /my-blog-post-2024-recap",
            ),
            ("GET", "/v2/facade/added", "GET /v2/facade/added"),
            ("POST", "/", "POST /"),
            ("GET", "", "GET /"),
            ("OPTIONS", "*", "OPTIONS *"),
            ("GET", "/a//b/", "GET /a//b/"),
        ];
        for (m, p, want) in table {
            assert_eq!(n.name(m, p), want, "{m} {p}");
        }
        let deep = "/x".repeat(40);
        assert_eq!(
            n.name("GET", &deep).matches('/').count(),
            MAX_ENDPOINT_SEGMENTS + 1
        );
        assert_eq!(
            n.name("GET", &format!("/{}", "a".repeat(100))),
            "GET /{long}"
        );
    }

    #[test]
    fn templates_and_patterns_come_first() {
        let cfg = EndpointConfig {
            templates: vec!["/api/v1/users/{user_id}/orders".into()],
            patterns: vec![PatternSpec {
                regex: "SKU-[0-9]+".into(),
                placeholder: "{sku}".into(),
            }],
            normalize: true,
        };
        let n = EndpointNamer::new(&cfg).unwrap();
        assert_eq!(
            n.name("GET", "/api/v1/users/alice/orders"),
            "GET /api/v1/users/{user_id}/orders"
        );
        assert_eq!(
            n.name("GET", "/api/v1/users/alice/orders/1"),
            "GET /api/v1/users/alice/orders/{id}"
        );
        assert_eq!(
            n.name("GET", "/products/SKU-123/x-SKU-1"),
            "GET /products/{sku}/x-SKU-1"
        );
        let mut caps = Vec::new();
        assert!(match_template("/u/{user_id}/o", "/u/7/o", |k, v| caps
            .push((k.to_string(), v))));
        assert_eq!(caps, vec![("user_id".to_string(), "7")]);
        assert!(!match_template("/u/{user_id}/o", "/u//o", |_, _| {}));
    }
}
