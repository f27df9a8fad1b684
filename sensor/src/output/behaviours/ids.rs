//! Object ids: the one a request names (a templated path segment, an id query parameter),
//! and the ones a response issues (a `Location` header, ids in a JSON body).
//!
//! The JSON body is not parsed: a stored body is often cut (`max_scan_bytes`), and a listing
//! is large. The scan looks for keys that name ids (`"id"`, `"…_id"`, `"…Id"`, `"uuid"`) with
//! `memchr` and reads the scalar after the colon. A string value containing such a key text
//! may yield an extra id: an id wrongly taken as issued only makes `bola` less eager.

use apitap_sessionizer::http::target::split_target;
use memchr::memmem;

/// Longest id value taken, in bytes (UUIDs are 36, object ids 24; longer is not an id).
pub const MAX_ID_BYTES: usize = 128;

/// Longest JSON key looked back over, in bytes.
const MAX_KEY_BYTES: usize = 64;

/// Which `/`-separated segment of the path is the endpoint's last id placeholder (the
/// template has the path's segments, placeholders where the path has values).
pub fn id_segment(endpoint: &str, is_placeholder: impl Fn(&str) -> bool) -> Option<usize> {
    let template = endpoint.split_once(' ').map_or(endpoint, |(_, t)| t);
    if !template.contains('{') {
        return None;
    }
    template
        .split('/')
        .enumerate()
        .filter(|(_, t)| t.starts_with('{') && is_placeholder(t))
        .map(|(i, _)| i)
        .last()
}

/// The id a request names, read from its target: path segment `segment` (an endpoint's
/// [`id_segment`]) or, on an endpoint without one, the first of `id_params` in the query.
/// An origin-form target (`/path?query`, nearly every one) is read in place: splitting it
/// first ([`split_target`]) cost a search for its end and a call, for every transaction.
pub fn target_object<'a>(
    target: &'a str,
    segment: Option<usize>,
    id_params: &[String],
) -> Option<&'a str> {
    if !target.starts_with('/') {
        let (path, query) = split_target(target);
        return match segment {
            Some(n) => nth_segment(path, n),
            None => query_id(query?, id_params),
        };
    }
    match segment {
        Some(n) => nth_segment(target, n),
        None => query_id(target_query(target)?, id_params),
    }
}

/// True for the bytes that end an origin-form target's path.
fn ends_path(c: u8) -> bool {
    c == b'?' || c == b'#'
}

/// Segment `n` of a path (segment 0 is before the first `/`), when not empty and at most
/// [`MAX_ID_BYTES`]. The path may be a whole origin-form target: it ends at `?` or `#` (a
/// split path has neither), so a target is read in place.
pub fn nth_segment(path: &str, n: usize) -> Option<&str> {
    let b = path.as_bytes();
    let mut start = 0;
    let mut seen = 0;
    while seen < n {
        let at = b
            .get(start..)?
            .iter()
            .position(|&c| c == b'/' || ends_path(c))?;
        if ends_path(*b.get(start + at)?) {
            return None;
        }
        start += at + 1;
        seen += 1;
    }
    let rest = b.get(start..)?;
    let end = rest
        .iter()
        .position(|&c| c == b'/' || ends_path(c))
        .map_or(b.len(), |i| start + i);
    path.get(start..end)
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID_BYTES)
}

/// The query of an origin-form target: after the first `?`, before a `#` (none when a `#`
/// comes first).
fn target_query(target: &str) -> Option<&str> {
    let b = target.as_bytes();
    let at = b.iter().position(|&c| ends_path(c))?;
    if b.get(at) != Some(&b'?') {
        return None;
    }
    let q = target.get(at + 1..)?;
    let end = q.bytes().position(|c| c == b'#').unwrap_or(q.len());
    q.get(..end)
}

/// The value of the first of `id_params` in a query.
pub fn query_id<'a>(q: &'a str, id_params: &[String]) -> Option<&'a str> {
    // Most queries carry no id: look for a parameter name before splitting the query.
    if !id_params.iter().any(|p| q.contains(p.as_str())) {
        return None;
    }
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, v)| !v.is_empty() && id_params.iter().any(|p| p == k))
        .map(|(_, v)| v)
        .filter(|id| id.len() <= MAX_ID_BYTES)
}

/// The id a `Location` header names: its path's last segment, when it reads as an id.
pub fn location_id(location: &str) -> Option<&str> {
    let path = location.split(['?', '#']).next().unwrap_or("");
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    apitap_sessionizer::http::capture::looks_like_id(last).then_some(last)
}

/// True when a JSON key names an id.
fn id_key(k: &[u8]) -> bool {
    k == b"id" || k == b"uuid" || k.ends_with(b"_id") || k.ends_with(b"Id") || k.ends_with(b"_uuid")
}

/// The text every id key ends with: the `d` of `id`/`Id` and the key's closing quote.
const ID_KEY_END: &[u8] = b"d\"";

/// The scan of JSON texts for the ids they issue, set up once: building its `memmem`
/// searcher cost about 300 instructions, for every body scanned.
#[derive(Clone, Debug)]
pub struct JsonIds {
    /// Finds [`ID_KEY_END`].
    finder: memmem::Finder<'static>,
}

impl Default for JsonIds {
    fn default() -> Self {
        JsonIds {
            finder: memmem::Finder::new(ID_KEY_END),
        }
    }
}

impl JsonIds {
    /// Call `f` with each id a JSON text issues, at most `max` of them; returns how many.
    pub fn scan(&self, body: &[u8], max: usize, f: impl FnMut(&[u8])) -> usize {
        json_ids(&self.finder, body, max, f)
    }
}

/// [`JsonIds::scan`] with its searcher.
fn json_ids(
    finder: &memmem::Finder<'_>,
    body: &[u8],
    max: usize,
    mut f: impl FnMut(&[u8]),
) -> usize {
    let mut n = 0;
    let mut from = 0;
    while n < max {
        let Some(hit) = body.get(from..).and_then(|rest| finder.find(rest)) else {
            break;
        };
        let close = from + hit + 1; // the key's closing quote
        from = close + 1;
        let Some(key) = key_before(body, close) else {
            continue;
        };
        if !id_key(key) {
            continue;
        }
        if let Some(v) = value_after(body, close + 1) {
            f(v);
            n += 1;
        }
    }
    n
}

/// The key whose closing quote is at `close`: the bytes after the previous quote.
fn key_before(body: &[u8], close: usize) -> Option<&[u8]> {
    let lo = close.saturating_sub(MAX_KEY_BYTES);
    let window = body.get(lo..close)?;
    let open = memchr::memrchr(b'"', window)?;
    window.get(open + 1..)
}

/// The scalar after a key: `: "text"` or `: 123`, not empty, at most [`MAX_ID_BYTES`].
fn value_after(body: &[u8], mut i: usize) -> Option<&[u8]> {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    while body.get(i).is_some_and(ws) {
        i += 1;
    }
    if body.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while body.get(i).is_some_and(ws) {
        i += 1;
    }
    let rest = body.get(i..)?;
    let v = match rest.first()? {
        b'"' => {
            let s = rest.get(1..)?;
            let end = memchr::memchr(b'"', s.get(..s.len().min(MAX_ID_BYTES + 1))?)?;
            s.get(..end)?
        }
        b'-' | b'0'..=b'9' => {
            let end = rest
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b'-'))
                .unwrap_or(rest.len());
            rest.get(..end)?
        }
        _ => return None,
    };
    (!v.is_empty() && v.len() <= MAX_ID_BYTES).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ph(p: &str) -> bool {
        p == "{id}" || p == "{uuid}" || p.ends_with("id}")
    }

    #[test]
    fn the_request_names_its_object() {
        let ids = vec!["id".to_string()];
        for (endpoint, path, query, want) in [
            ("GET /api/orders/{id}", "/api/orders/42", None, Some("42")),
            (
                "GET /u/{id}/orders/{uuid}",
                "/u/7/orders/ab-cd",
                None,
                Some("ab-cd"),
            ),
            ("GET /u/{user_id}/orders", "/u/7/orders", None, Some("7")),
            (
                "GET /api/orders",
                "/api/orders",
                Some("page=2&id=9"),
                Some("9"),
            ),
            ("GET /api/orders", "/api/orders", Some("page=2"), None),
            ("GET /api/orders", "/api/orders", Some("valid=1"), None),
            ("GET /p/{date}", "/p/2024-01-01", None, None),
        ] {
            let target = match query {
                Some(q) => format!("{path}?{q}"),
                None => path.to_string(),
            };
            let segment = id_segment(endpoint, ph);
            assert_eq!(target_object(&target, segment, &ids), want, "{target}");
            let absolute = format!("http://h.example{target}");
            assert_eq!(target_object(&absolute, segment, &ids), want, "{absolute}");
        }
    }

    #[test]
    fn locations_name_created_objects() {
        assert_eq!(location_id("/api/v1/orders/42"), Some("42"));
        assert_eq!(
            location_id("https://shop.example/o/8d1c2f0e-aaaa-4bbb-8ccc-0123456789ab?x=1"),
            Some("8d1c2f0e-aaaa-4bbb-8ccc-0123456789ab")
        );
        assert_eq!(location_id("/login"), None);
    }

    fn ids(body: &str, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        JsonIds::default().scan(body.as_bytes(), max, |v| {
            out.push(String::from_utf8_lossy(v).into_owned())
        });
        out
    }

    #[test]
    fn json_ids_are_read_from_id_keys_only() {
        let body = r#"{"orders":[{"id":"a1","amount":5,"paid":true,"product_id":17},
                      {"id" : 42, "userId":"u-9", "uuid":"ab-cd"}],"count":2,"valid":"no"}"#;
        assert_eq!(ids(body, 100), ["a1", "17", "42", "u-9", "ab-cd"]);
        assert_eq!(ids(body, 2), ["a1", "17"]);
    }

    /// A body cut anywhere gives a prefix of the ids, never a panic.
    #[test]
    fn cut_bodies_give_a_prefix_of_the_ids() {
        let body = r#"{"items":[{"id":1},{"id":"two"},{"order_id":3}]}"#;
        let all = ids(body, 100);
        for cut in 0..body.len() {
            let part = ids(&body[..cut], 100);
            assert!(
                all.starts_with(&part)
                    || part
                        .last()
                        .is_some_and(|p| all.iter().any(|a| a.starts_with(p.as_str()))),
                "{cut}: {part:?}"
            );
        }
    }

    proptest::proptest! {
        /// A target read in place names the object its split path and query name.
        #[test]
        fn targets_are_read_as_split(
            target in "/[a1/?#=&é]{0,16}",
            segment in proptest::option::of(0usize..5),
        ) {
            let ids = vec!["a".to_string(), "id".to_string()];
            let (path, query) = split_target(&target);
            let want = match segment {
                // The split path's segment by `str::split`, not by the code under test.
                Some(n) => path.split('/').nth(n).filter(|s| !s.is_empty() && s.len() <= MAX_ID_BYTES),
                None => query.and_then(|q| query_id(q, &ids)),
            };
            proptest::prop_assert_eq!(target_object(&target, segment, &ids), want);
        }

        /// Any bytes: no panic, at most `max` ids, each short.
        #[test]
        fn any_bytes_are_scanned_safely(body in proptest::collection::vec(proptest::sample::select(b"{}[]\":, id_Iu0123-\\x".to_vec()), 0..200), max in 0usize..8) {
            let mut n = 0;
            let got = JsonIds::default().scan(&body, max, |v| { n += 1; assert!(!v.is_empty() && v.len() <= MAX_ID_BYTES); });
            proptest::prop_assert!(got == n && n <= max);
        }
    }
}
