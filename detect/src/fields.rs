//! Where the detector looks: a request taken apart into named values (path, query parameters,
//! headers, cookies, body fields), each with the [`Kind`] that decides which classes read it.
//!
//! Extraction calls a [`Sink`] for every value, borrowing from the request where it can; the
//! sink says when to stop (its budget is spent). Bodies are read by [`crate::body`].

use std::borrow::Cow;

use crate::finding::Location;

/// What a value is; decides which classes read it (`kind_classes` in `detector.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// The whole request path, raw (normalisation decodes it).
    PathWhole,
    /// One path segment, raw.
    PathSegment,
    /// A query or form parameter name, decoded once.
    ParamName,
    /// A parameter value: query, form, cookie, multipart text part, XML text, GraphQL string,
    /// JSON string; decoded once by its container.
    Value,
    /// A JSON object member name.
    JsonKey,
    /// The User-Agent header.
    UserAgent,
    /// A header read only for lookups (`${jndi:`) and tool markers: structured standard
    /// headers (Accept, Content-Type, Origin...) whose syntax trips value rules.
    StructuredHeader,
    /// A header name (tool markers like `Acunetix-Aspect`).
    HeaderName,
    /// A body read as a whole: plain text.
    TextBody,
    /// An XML body read as a whole (DOCTYPE, ENTITY, XInclude).
    XmlBody,
}

/// The name of a value, turned into a [`Location`] only when a finding needs one.
#[derive(Clone, Debug)]
pub(crate) enum Name<'a> {
    /// The path.
    Path,
    /// A query parameter.
    Query(Cow<'a, [u8]>),
    /// A header (lower-cased when the location is made).
    Header(&'a str),
    /// A cookie.
    Cookie(&'a [u8]),
    /// A body field: JSON pointer, form field, multipart part or XML element.
    Body(Cow<'a, [u8]>),
    /// The whole body.
    BodyWhole,
}

impl Name<'_> {
    /// The record location of this name.
    pub(crate) fn location(&self) -> Location {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match self {
            Name::Path => Location::Path,
            Name::Query(n) => Location::Query(text(n)),
            Name::Header(n) => Location::Header(n.to_ascii_lowercase()),
            Name::Cookie(n) => Location::Cookie(text(n)),
            Name::Body(p) => Location::Body(text(p)),
            Name::BodyWhole => Location::BodyWhole,
        }
    }
}

/// A stretch of the request whose values a sink may decide at once (a scanner's memory,
/// `cache.rs`): every one of its values, their kinds and names are read from its bytes alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// The path: the whole, then each segment.
    Path,
    /// The query string: each parameter's name and value.
    Query,
    /// A `Cookie` header's value: each cookie.
    Cookies,
}

/// Receives the values of a request. Returns false to stop extraction.
pub(crate) trait Sink {
    /// One value, its kind and its name.
    fn value(&mut self, kind: Kind, name: &Name<'_>, value: &[u8]) -> bool;

    /// The values of `group`, all read from `bytes`, come next: Some(keep going) when the
    /// sink decided them all at once (they are not extracted), None to have them one by one,
    /// then [`Sink::group_end`].
    fn group_start(&mut self, _group: Group, _bytes: &[u8]) -> Option<bool> {
        None
    }

    /// The values of the group last started were all given (`complete`), or extraction
    /// stopped inside it.
    fn group_end(&mut self, _group: Group, _bytes: &[u8], _complete: bool) {}

    /// A header's name: given as a value of kind [`Kind::HeaderName`], then how the detector
    /// reads the header ([`header_role`]); None to stop extraction. A sink may decide both
    /// at once from what it remembers of the name.
    fn header_name(&mut self, name: &str) -> Option<HeaderRole> {
        self.value(Kind::HeaderName, &Name::Header(name), name.as_bytes())
            .then(|| header_role(name))
    }
}

/// The values of `group` (read from `bytes`), given by `values` unless the sink decides them
/// at once.
fn in_group(
    sink: &mut dyn Sink,
    group: Group,
    bytes: &[u8],
    values: impl FnOnce(&mut dyn Sink) -> bool,
) -> bool {
    if let Some(keep_going) = sink.group_start(group, bytes) {
        return keep_going;
    }
    let complete = values(sink);
    sink.group_end(group, bytes, complete);
    complete
}

/// How the detector reads a header, by lower-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderRole {
    /// Not read: framing, caching and credentials (no attack surface the app parses as data,
    /// or secrets the sensor must not look into).
    Skip,
    /// Read for lookups and tool markers only.
    Structured,
    /// `Cookie`: each cookie is a value.
    Cookie,
    /// `Referer`: its query parameters are values.
    Referer,
    /// `User-Agent`.
    UserAgent,
    /// Any other header (X-Forwarded-For, custom headers): a value.
    Value,
}

/// Longest header name [`header_role`] knows by name (`upgrade-insecure-requests`).
const LONGEST_KNOWN_HEADER: usize = 25;

/// How the detector reads a header, by name (ASCII case-insensitive):
/// - not at all: RFC 9110/9112 framing and conditional fields, caching, and credentials (no
///   attack surface the application parses as data, or secrets the sensor must not look into);
/// - for lookups and tool markers only: standard headers with their own syntax (quality
///   values, quoted brand lists, trace ids) and every `Sec-*` header;
/// - `Cookie`, `Referer` and `User-Agent` each their own way;
/// - any other header as a value.
pub(crate) fn header_role(name: &str) -> HeaderRole {
    let mut buf = [0u8; LONGEST_KNOWN_HEADER];
    let Some(lower) = buf.get_mut(..name.len()) else {
        return unknown_header_role(name);
    };
    lower.copy_from_slice(name.as_bytes());
    lower.make_ascii_lowercase();
    match &*lower {
        b"authorization"
        | b"proxy-authorization"
        | b"content-length"
        | b"transfer-encoding"
        | b"connection"
        | b"keep-alive"
        | b"te"
        | b"trailer"
        | b"upgrade"
        | b"host"
        | b"date"
        | b"etag"
        | b"if-none-match"
        | b"if-match"
        | b"if-modified-since"
        | b"if-unmodified-since"
        | b"if-range"
        | b"range"
        | b"content-encoding"
        | b"content-md5"
        | b"cache-control"
        | b"pragma"
        | b"expect"
        | b"dnt"
        | b"upgrade-insecure-requests"
        | b"priority" => HeaderRole::Skip,
        b"cookie" => HeaderRole::Cookie,
        b"referer" => HeaderRole::Referer,
        b"user-agent" => HeaderRole::UserAgent,
        b"accept"
        | b"accept-encoding"
        | b"accept-language"
        | b"accept-charset"
        | b"content-type"
        | b"content-disposition"
        | b"origin"
        | b"via"
        | b"x-requested-with"
        | b"traceparent"
        | b"tracestate"
        | b"baggage" => HeaderRole::Structured,
        _ => unknown_header_role(name),
    }
}

/// The role of a header [`header_role`] does not know by name.
fn unknown_header_role(name: &str) -> HeaderRole {
    if starts_with_ignore_case(name, "sec-") {
        HeaderRole::Structured
    } else {
        HeaderRole::Value
    }
}

pub(crate) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.as_bytes()
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// The path and query of a request-target (RFC 9112 section 3.2): the absolute form's scheme
/// and authority dropped, the fragment (never sent, but tolerated) cut.
pub(crate) fn split_target(target: &str) -> (&str, Option<&str>) {
    let mut rest = target;
    if !target.starts_with('/') {
        if let Some(i) = target.find("://") {
            let after = &target[i + 3..];
            rest = &after[after.find(['/', '?', '#']).unwrap_or(after.len())..];
        }
    }
    // `#` and `?` are ASCII: the offsets memchr finds are character boundaries.
    let rest = memchr::memchr(b'#', rest.as_bytes()).map_or(rest, |i| &rest[..i]);
    match memchr::memchr(b'?', rest.as_bytes()) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    }
}

/// Decodes `application/x-www-form-urlencoded` bytes once: `+` to space, `%XX` escapes
/// (WHATWG URL standard, section 5.1). Invalid escapes stay.
pub(crate) fn form_decode(s: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'+', b'%', s).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let escaped = (b == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, escaped) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Calls `sink` for every pair of a form-encoded string (query or form body): the name, then
/// the value. `name` makes the location from the decoded parameter name.
pub(crate) fn form_pairs<'a>(
    s: &'a [u8],
    sink: &mut dyn Sink,
    name: &dyn Fn(Cow<'a, [u8]>) -> Name<'a>,
) -> bool {
    for pair in pairs(s) {
        let (raw_name, raw_value) = match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &[][..]),
        };
        let decoded_name = form_decode(raw_name);
        let loc = name(decoded_name.clone());
        if !sink.value(Kind::ParamName, &loc, &decoded_name) {
            return false;
        }
        if !raw_value.is_empty() && !sink.value(Kind::Value, &loc, &form_decode(raw_value)) {
            return false;
        }
    }
    true
}

/// The `&`-separated pairs of a form-encoded string. A piece that is an HTML character
/// reference (`#106;`, `#x6A`, `colon;`: what follows a raw `&` in `&#106;`) has no `=` and
/// cannot be a parameter: it stays part of the pair before it, which is how the value reads
/// once the application or a browser decodes it.
fn pairs(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = s;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let mut end = memchr::memchr(b'&', rest).unwrap_or(rest.len());
        while end < rest.len() {
            let next = &rest[end + 1..];
            let piece = &next[..memchr::memchr(b'&', next).unwrap_or(next.len())];
            if !is_char_reference(piece) {
                break;
            }
            end += 1 + piece.len();
        }
        let pair = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        if !pair.is_empty() {
            return Some(pair);
        }
    })
}

/// Whether `piece` (raw, between two `&`) is an HTML character reference without its `&`.
fn is_char_reference(piece: &[u8]) -> bool {
    if piece.contains(&b'=') {
        return false;
    }
    let decoded = form_decode(piece);
    match decoded.split_first() {
        Some((b'#', rest)) => match rest.split_first() {
            Some((b'x' | b'X', hex)) => hex.first().is_some_and(u8::is_ascii_hexdigit),
            _ => rest.first().is_some_and(u8::is_ascii_digit),
        },
        _ => {
            let name_len = decoded
                .iter()
                .take_while(|b| b.is_ascii_alphabetic())
                .count();
            (2..=10).contains(&name_len) && decoded.get(name_len) == Some(&b';')
        }
    }
}

/// Every byte of a word set to `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// The offset of the first `a` or `b` in `s`: 8 bytes a step (the zero-byte test of "Bit
/// Twiddling Hacks" on the word xored with each), then the last few one by one. JSON strings
/// and member names are short, too short for a vector search to pay for its set-up, and a
/// byte loop costs several instructions a byte; this about one.
pub(crate) fn find_either(s: &[u8], a: u8, b: u8) -> Option<usize> {
    const LOW: u64 = splat(0x01);
    const HIGH: u64 = splat(0x80);
    let zero_bytes = |x: u64| x.wrapping_sub(LOW) & !x & HIGH;
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let found = zero_bytes(w ^ splat(a)) | zero_bytes(w ^ splat(b));
        if found != 0 {
            // The lowest flagged byte is exact: a borrow only flags bytes above a zero one.
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let rest = words.remainder().iter().position(|c| *c == a || *c == b);
    rest.map(|i| at + i)
}

/// The pieces of `s` between each `sep` (as `[u8]::split` gives them), found 8 bytes a step
/// ([`find_either`]).
fn split(s: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let left = rest?;
        let (piece, next) = match find_either(left, sep, sep) {
            Some(at) => (left.get(..at)?, left.get(at + 1..)),
            None => (left, None),
        };
        rest = next;
        Some(piece)
    })
}

/// Calls `sink` for the path (whole, then each segment) and the query parameters.
pub(crate) fn target(target: &str, sink: &mut dyn Sink) -> bool {
    let (path, query) = split_target(target);
    let path_read = in_group(sink, Group::Path, path.as_bytes(), |sink| {
        // Split as bytes: `str::split` by a char searches with a general searcher, which costs
        // more than the loop for the few short segments of a path (and a word at a time,
        // `split`, no less).
        sink.value(Kind::PathWhole, &Name::Path, path.as_bytes())
            && path
                .as_bytes()
                .split(|b| *b == b'/')
                .filter(|s| !s.is_empty())
                .all(|segment| sink.value(Kind::PathSegment, &Name::Path, segment))
    });
    match query {
        _ if !path_read => false,
        Some(q) => in_group(sink, Group::Query, q.as_bytes(), |sink| {
            form_pairs(q.as_bytes(), sink, &|n| Name::Query(n))
        }),
        None => true,
    }
}

/// Calls `sink` for every header the detector reads, as its role says.
pub(crate) fn headers<'a>(headers: &'a [(&'a str, &'a str)], sink: &mut dyn Sink) -> bool {
    for (name, value) in headers {
        let loc = Name::Header(name);
        let Some(role) = sink.header_name(name) else {
            return false;
        };
        let keep_going = match role {
            HeaderRole::Skip => true,
            HeaderRole::Structured => sink.value(Kind::StructuredHeader, &loc, value.as_bytes()),
            HeaderRole::UserAgent => sink.value(Kind::UserAgent, &loc, value.as_bytes()),
            HeaderRole::Value => sink.value(Kind::Value, &loc, value.as_bytes()),
            HeaderRole::Cookie => in_group(sink, Group::Cookies, value.as_bytes(), |sink| {
                cookies(value.as_bytes(), sink)
            }),
            HeaderRole::Referer => referer(name, value, sink),
        };
        if !keep_going {
            return false;
        }
    }
    true
}

/// Each cookie of a `Cookie` header (RFC 6265 section 4.2.1: `name=value; name=value`).
fn cookies(header: &[u8], sink: &mut dyn Sink) -> bool {
    for pair in split(header, b';') {
        let pair = pair.trim_ascii();
        let Some(eq) = find_either(pair, b'=', b'=') else {
            continue;
        };
        let (name, value) = (&pair[..eq], &pair[eq + 1..]);
        let value = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value);
        if !value.is_empty() && !sink.value(Kind::Value, &Name::Cookie(name), &form_decode(value)) {
            return false;
        }
    }
    true
}

/// The query parameters of a `Referer` URL, each a value of the `referer` header; a referer
/// without a query is read as a structured header (lookups only).
fn referer<'a>(name: &'a str, value: &'a str, sink: &mut dyn Sink) -> bool {
    let loc = Name::Header(name);
    match split_target(value).1 {
        Some(query) => form_pairs(query.as_bytes(), sink, &|_| Name::Header(name)),
        None => sink.value(Kind::StructuredHeader, &loc, value.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::names::NameMemo;

    /// Collects what extraction yields, as (kind, location, value) strings.
    #[derive(Default)]
    struct Collect(Vec<(Kind, String, String)>);

    impl Sink for Collect {
        fn value(&mut self, kind: Kind, name: &Name<'_>, value: &[u8]) -> bool {
            let v = String::from_utf8_lossy(value).into_owned();
            self.0.push((kind, name.location().to_string(), v));
            true
        }
    }

    fn of_target(t: &str) -> Vec<(Kind, String, String)> {
        let mut c = Collect::default();
        assert!(target(t, &mut c));
        c.0
    }

    #[test]
    fn target_forms() {
        let cases = [
            ("/a/b?x=1", ("/a/b", Some("x=1"))),
            ("http://h:80/a?x=1#frag", ("/a", Some("x=1"))),
            ("http://h", ("", None)),
            ("http://h?x=1", ("", Some("x=1"))),
            ("/a#f?x", ("/a", None)),
            ("*", ("*", None)),
        ];
        for (t, want) in cases {
            assert_eq!(split_target(t), want, "{t}");
        }
    }

    #[test]
    fn path_and_query_values() {
        let got = of_target("/api/users/1%27/x?q=a+b%20c&flag&name[%24ne]=1");
        let want: Vec<(Kind, &str, &str)> = vec![
            (Kind::PathWhole, "path", "/api/users/1%27/x"),
            (Kind::PathSegment, "path", "api"),
            (Kind::PathSegment, "path", "users"),
            (Kind::PathSegment, "path", "1%27"),
            (Kind::PathSegment, "path", "x"),
            (Kind::ParamName, "query:q", "q"),
            (Kind::Value, "query:q", "a b c"),
            (Kind::ParamName, "query:flag", "flag"),
            (Kind::ParamName, "query:name[$ne]", "name[$ne]"),
            (Kind::Value, "query:name[$ne]", "1"),
        ];
        let got: Vec<(Kind, &str, &str)> = got
            .iter()
            .map(|(k, l, v)| (*k, l.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn header_roles_by_name_in_any_case() {
        let cases = [
            ("Authorization", HeaderRole::Skip),
            ("UPGRADE-INSECURE-REQUESTS", HeaderRole::Skip),
            ("te", HeaderRole::Skip),
            ("Cookie", HeaderRole::Cookie),
            ("referer", HeaderRole::Referer),
            ("User-Agent", HeaderRole::UserAgent),
            ("Accept-Encoding", HeaderRole::Structured),
            ("Sec-CH-UA-Platform-Version-Is-Long", HeaderRole::Structured),
            ("sec-fetch-mode", HeaderRole::Structured),
            ("X-Forwarded-For", HeaderRole::Value),
            ("X-A-Custom-Header-Longer-Than-Any-Known", HeaderRole::Value),
            ("Hostname", HeaderRole::Value),
            ("", HeaderRole::Value),
        ];
        for (name, role) in cases {
            assert_eq!(header_role(name), role, "{name}");
        }
    }

    const KNOWN_IN_ANY_CASE: &[&str] = &[
        "Host",
        "host",
        "HOST",
        "Cookie",
        "cookie",
        "User-Agent",
        "user-agent",
        "Accept",
        "Sec-Fetch-Mode",
        "X-Request-Id",
        "te",
        "Te",
        "dnt",
        "DNT",
        "Authorization",
    ];

    proptest! {
        /// The word-at-a-time search finds what a byte loop finds, at any length and
        /// alignment, with any bytes around (high bytes included).
        #[test]
        fn find_either_matches_a_byte_loop(
            s in prop::collection::vec(any::<u8>(), 0..40),
            a in any::<u8>(),
            b in any::<u8>(),
        ) {
            let want = s.iter().position(|c| *c == a || *c == b);
            prop_assert_eq!(find_either(&s, a, b), want);
            // The bytes searched for, rare among random ones, placed at every offset.
            for at in 0..s.len() {
                let mut t = s.clone();
                t[at] = b;
                let want = t.iter().position(|c| *c == a || *c == b);
                prop_assert_eq!(find_either(&t, a, b), want);
            }
        }

        /// [`split`] gives the pieces `[u8]::split` gives.
        #[test]
        fn split_matches_the_slice_split(s in prop::collection::vec(prop::sample::select(&b"ab;/="[..]), 0..30)) {
            let want: Vec<&[u8]> = s.split(|b| *b == b';').collect();
            prop_assert_eq!(split(&s, b';').collect::<Vec<_>>(), want);
        }

        /// The memo answers what [`header_role`] answers, whatever names came before (known
        /// and unknown ones, in any case, long ones, names that share a slot).
        #[test]
        fn role_memo_matches_header_role(
            names in prop::collection::vec(
                prop_oneof![
                    prop::sample::select(KNOWN_IN_ANY_CASE).prop_map(String::from),
                    "[a-zA-Z-]{0,40}",
                ],
                1..40,
            )
        ) {
            let mut memo = NameMemo::default();
            for name in names.iter().chain(names.iter().rev()) {
                let remembered = memo.get(name.as_bytes(), || header_role(name));
                prop_assert_eq!(remembered, header_role(name), "{}", name);
            }
        }
    }

    #[test]
    fn headers_by_role() {
        let hs = [
            ("Host", "api.example"),
            ("Authorization", "Bearer secret"),
            ("User-Agent", "sqlmap/1.7"),
            ("Accept", "text/html;q=0.9"),
            ("Cookie", "sid=abc; pref=\"x%27y\"; bare"),
            ("Referer", "https://shop.example/search?q=1%27"),
            ("X-Forwarded-For", "1.2.3.4"),
        ];
        let mut c = Collect::default();
        assert!(headers(&hs, &mut c));
        let values: Vec<(Kind, &str, &str)> =
            c.0.iter()
                .filter(|(k, _, _)| *k != Kind::HeaderName)
                .map(|(k, l, v)| (*k, l.as_str(), v.as_str()))
                .collect();
        assert_eq!(
            values,
            vec![
                (Kind::UserAgent, "header:user-agent", "sqlmap/1.7"),
                (Kind::StructuredHeader, "header:accept", "text/html;q=0.9"),
                (Kind::Value, "cookie:sid", "abc"),
                (Kind::Value, "cookie:pref", "x'y"),
                (Kind::ParamName, "header:referer", "q"),
                (Kind::Value, "header:referer", "1'"),
                (Kind::Value, "header:x-forwarded-for", "1.2.3.4"),
            ]
        );
    }

    #[test]
    fn html_references_stay_in_their_value() {
        let got = of_target("/s?q=%3CIMG%20SRC=&%23106;&%2397v&colon;x&page=2&%23frag");
        let values: Vec<&str> = got
            .iter()
            .filter(|(k, _, _)| *k == Kind::Value)
            .map(|(_, _, v)| v.as_str())
            .collect();
        assert_eq!(values, vec!["<IMG SRC=&#106;&#97v&colon;x", "2"]);
        let names: Vec<&str> = got
            .iter()
            .filter(|(k, _, _)| *k == Kind::ParamName)
            .map(|(_, _, v)| v.as_str())
            .collect();
        assert_eq!(names, vec!["q", "page", "#frag"]);
    }

    #[test]
    fn form_decoding_once() {
        assert_eq!(&*form_decode(b"a+b%2527%zz"), b"a b%27%zz");
        assert!(matches!(form_decode(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn sink_stops_extraction() {
        struct StopAfter(usize);
        impl Sink for StopAfter {
            fn value(&mut self, _: Kind, _: &Name<'_>, _: &[u8]) -> bool {
                self.0 = self.0.saturating_sub(1);
                self.0 > 0
            }
        }
        let mut s = StopAfter(3);
        assert!(!target("/a/b/c/d?x=1", &mut s));
    }
}
