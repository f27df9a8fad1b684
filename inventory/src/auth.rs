//! Authentication schemes of a request, from header *names* and the *shape* of their values
//! (a bearer token that looks like a JWT), never the values. Runs in the sensor, before
//! redaction hides the `Authorization` scheme.
//!
//! Every transaction goes through [`detect_auth`], so it allocates nothing for the usual
//! request: the list holds two schemes inline ([`AuthList`]) and a name up to
//! [`INLINE_NAME_BYTES`] bytes lives in place ([`AuthName`]).

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// Headers that carry API keys (the common ones; names compared case-insensitively).
pub const API_KEY_HEADERS: &[&str] = &[
    "x-api-key",
    "api-key",
    "apikey",
    "x-auth-token",
    "x-access-token",
    "private-token",
    "x-goog-api-key",
];

/// Query parameters that carry API keys or tokens.
pub const API_KEY_QUERY_PARAMS: &[&str] = &["api_key", "apikey", "api-key", "access_token"];

/// Schemes listed per request; more are not (a request rarely carries two).
pub const MAX_AUTH_PER_REQUEST: usize = 4;

/// Longest name kept (a header, cookie, query parameter or scheme name), in bytes; a longer
/// one is cut at a character boundary.
pub const MAX_AUTH_NAME_BYTES: usize = 64;

/// An authentication scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthScheme {
    /// `Authorization: Bearer` with a JWT (three base64url parts, a JSON header).
    BearerJwt,
    /// `Authorization: Bearer` with an opaque token.
    Bearer,
    /// `Authorization: Basic` (RFC 7617).
    Basic,
    /// `Authorization: Digest` (RFC 7616).
    Digest,
    /// Another `Authorization` scheme (its name is kept).
    OtherAuthorization,
    /// An API-key header or query parameter (its name is kept).
    ApiKey,
    /// A `Cookie` header (the first cookie's name is kept: apitap cannot tell a session
    /// cookie from a preference without config).
    Cookie,
    /// Nothing of the above.
    None,
}

impl AuthScheme {
    /// The name records use.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::BearerJwt => "bearer_jwt",
            AuthScheme::Bearer => "bearer",
            AuthScheme::Basic => "basic",
            AuthScheme::Digest => "digest",
            AuthScheme::OtherAuthorization => "other_authorization",
            AuthScheme::ApiKey => "api_key",
            AuthScheme::Cookie => "cookie",
            AuthScheme::None => "none",
        }
    }

    /// Its record object without a name, as `serde` writes [`AuthSeen`]
    /// (`{"scheme":"bearer_jwt"}`): record writers copy it whole.
    pub fn json_object(self) -> &'static str {
        match self {
            AuthScheme::BearerJwt => r#"{"scheme":"bearer_jwt"}"#,
            AuthScheme::Bearer => r#"{"scheme":"bearer"}"#,
            AuthScheme::Basic => r#"{"scheme":"basic"}"#,
            AuthScheme::Digest => r#"{"scheme":"digest"}"#,
            AuthScheme::OtherAuthorization => r#"{"scheme":"other_authorization"}"#,
            AuthScheme::ApiKey => r#"{"scheme":"api_key"}"#,
            AuthScheme::Cookie => r#"{"scheme":"cookie"}"#,
            AuthScheme::None => r#"{"scheme":"none"}"#,
        }
    }
}

/// A name kept with a scheme: inline up to [`INLINE_NAME_BYTES`] bytes, on the heap beyond
/// (up to [`MAX_AUTH_NAME_BYTES`]).
pub type AuthName = CompactString;

/// Bytes of an [`AuthName`] kept in place (`CompactString`'s inline capacity on 64-bit
/// targets): cookie and header names are nearly always shorter.
pub const INLINE_NAME_BYTES: usize = 24;

/// The schemes of one request, in the order found; two fit without allocating.
pub type AuthList = SmallVec<[AuthSeen; 2]>;

/// A scheme seen on a request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuthSeen {
    /// Which.
    pub scheme: AuthScheme,
    /// The header, query parameter or cookie name (API keys, cookies) or the scheme word
    /// (other `Authorization` schemes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<AuthName>,
}

/// What a request header says of authentication, by its name alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeaderRole {
    /// `Authorization`: the value's scheme word (and shape) tells.
    Authorization,
    /// `Cookie`: the first cookie's name is kept.
    Cookie,
    /// One of [`API_KEY_HEADERS`].
    ApiKey,
}

/// The role of a header `name`, or `None` for the rest. The length picks the one or two
/// names to compare: most headers of a request (`Host`, `User-Agent`, `Accept-Encoding`...)
/// have a length no candidate has and cost one comparison.
fn header_role(name: &[u8]) -> Option<HeaderRole> {
    let is = |candidate: &str| crate::ascii::eq_lower(name, candidate.as_bytes());
    let api_key = |candidate: &str| is(candidate).then_some(HeaderRole::ApiKey);
    match name.len() {
        6 if is("cookie") => Some(HeaderRole::Cookie),
        13 if is("authorization") => Some(HeaderRole::Authorization),
        6 => api_key("apikey"),
        7 => api_key("api-key"),
        9 => api_key("x-api-key"),
        12 => api_key("x-auth-token"),
        13 => api_key("private-token"),
        14 => api_key("x-access-token").or_else(|| api_key("x-goog-api-key")),
        _ => None,
    }
}

/// The shape of a bearer token (`Authorization: Bearer <token>`, the token not empty), as a
/// reader that met the token before judged it with [`looks_like_jwt`]: the session facts
/// judge each distinct token once, where they cache its claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BearerShape {
    /// A JWS compact serialisation: [`AuthScheme::BearerJwt`].
    Jwt,
    /// Anything else: [`AuthScheme::Bearer`].
    Opaque,
}

impl BearerShape {
    /// The shape of `token` (a bearer token, not empty).
    pub fn of(token: &[u8]) -> BearerShape {
        if looks_like_jwt(token) {
            BearerShape::Jwt
        } else {
            BearerShape::Opaque
        }
    }
}

/// The schemes of a request: its headers (raw name, raw value) and its raw query. Never
/// empty: `none` when nothing was found. `first_bearer` is the shape of the bearer token of
/// the first `Authorization` field, when a reader judged it already (the field is then not
/// read again); `None` has every field read.
pub fn detect_auth<'h>(
    headers: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
    query: Option<&str>,
    mut first_bearer: Option<BearerShape>,
) -> AuthList {
    let mut out = AuthList::new();
    let mut push = |seen: AuthSeen| {
        if out.len() < MAX_AUTH_PER_REQUEST && !out.contains(&seen) {
            out.push(seen);
        }
    };
    for (name, value) in headers {
        match header_role(name) {
            None => {}
            Some(HeaderRole::Authorization) => push(match first_bearer.take() {
                Some(shape) => bearer(shape),
                None => authorization(value),
            }),
            Some(HeaderRole::Cookie) => push(cookie(value)),
            Some(HeaderRole::ApiKey) => push(named_bytes(AuthScheme::ApiKey, name)),
        }
    }
    for name in query.into_iter().flat_map(crate::matcher::query_names) {
        if API_KEY_QUERY_PARAMS
            .iter()
            .any(|q| name.eq_ignore_ascii_case(q))
        {
            push(named(AuthScheme::ApiKey, &name));
        }
    }
    if out.is_empty() {
        out.push(AuthSeen {
            scheme: AuthScheme::None,
            name: None,
        });
    }
    out
}

/// The scheme of a `Cookie` value: its first cookie's name, which ends at its `=` (or at
/// `;` without one): short, so found before the value is read.
fn cookie(value: &[u8]) -> AuthSeen {
    let end = memchr::memchr2(b'=', b';', value).unwrap_or(value.len());
    named_bytes(
        AuthScheme::Cookie,
        value.get(..end).unwrap_or_default().trim_ascii(),
    )
}

/// [`named`] with a name read from the wire (decoded lossily only when it is not UTF-8).
fn named_bytes(scheme: AuthScheme, name: &[u8]) -> AuthSeen {
    match std::str::from_utf8(name) {
        Ok(name) => named(scheme, name),
        Err(_) => named(scheme, &String::from_utf8_lossy(name)),
    }
}

/// The scheme of an `Authorization` value (RFC 9110 section 11.6.2: `scheme token`).
fn authorization(value: &[u8]) -> AuthSeen {
    let value = value.trim_ascii();
    let (scheme, rest) = match value.iter().position(|b| *b == b' ') {
        Some(i) => (&value[..i], value[i..].trim_ascii()),
        None => (value, &value[value.len()..]),
    };
    let scheme_is = |s: &str| scheme.eq_ignore_ascii_case(s.as_bytes());
    let kind = if scheme_is("bearer") {
        return bearer(BearerShape::of(rest));
    } else if scheme_is("basic") {
        AuthScheme::Basic
    } else if scheme_is("digest") {
        AuthScheme::Digest
    } else {
        return named(
            AuthScheme::OtherAuthorization,
            &String::from_utf8_lossy(scheme).to_ascii_lowercase(),
        );
    };
    AuthSeen {
        scheme: kind,
        name: None,
    }
}

/// The scheme of a bearer token of shape `shape`.
fn bearer(shape: BearerShape) -> AuthSeen {
    let scheme = match shape {
        BearerShape::Jwt => AuthScheme::BearerJwt,
        BearerShape::Opaque => AuthScheme::Bearer,
    };
    AuthSeen { scheme, name: None }
}

/// A JWS compact serialisation's shape (RFC 7515 section 7.1): three base64url parts, the
/// first a JSON object (`eyJ` is `{"` encoded).
///
/// One branch-free pass over the token's alphabet, which the compiler turns into vector code
/// (16 bytes a step), and vector searches for its dots: a bearer token is checked on every
/// request that carries one, and tokens are hundreds of bytes.
pub fn looks_like_jwt(token: &[u8]) -> bool {
    if !token.starts_with(b"eyJ") {
        return false;
    }
    let strays = token
        .iter()
        .fold(0u8, |acc, b| acc | u8::from(!is_jwt_byte(*b)));
    if strays != 0 {
        return false;
    }
    // Three parts, the payload not empty (the signature may be: `alg: none`).
    let Some(first) = memchr::memchr(b'.', token) else {
        return false;
    };
    let rest = &token[first + 1..];
    match memchr::memchr(b'.', rest) {
        Some(second) => second > 0 && memchr::memchr(b'.', &rest[second + 1..]).is_none(),
        None => false,
    }
}

/// `A-Z a-z 0-9 - _` (RFC 4648 section 5) or the parts' separator `.`, without a branch:
/// `| 0x20` folds upper case onto lower case and moves no other byte into `a-z`.
fn is_jwt_byte(b: u8) -> bool {
    ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'_')
        | (b == b'.')
}

/// A scheme with a name, cut to [`MAX_AUTH_NAME_BYTES`].
fn named(scheme: AuthScheme, name: &str) -> AuthSeen {
    let mut end = name.len().min(MAX_AUTH_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    AuthSeen {
        scheme,
        name: Some(AuthName::new(&name[..end])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case: headers, query, the schemes expected.
    type Case<'c> = (&'c [(&'c str, &'c str)], Option<&'c str>, &'c [&'c str]);

    /// The schemes as `scheme[:name]` strings.
    fn seen(headers: &[(&str, &str)], query: Option<&str>) -> Vec<String> {
        detect_auth(
            headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            query,
            None,
        )
        .into_iter()
        .map(|a| match a.name {
            Some(n) => format!("{}:{n}", a.scheme.as_str()),
            None => a.scheme.as_str().to_string(),
        })
        .collect()
    }

    #[test]
    fn schemes_come_from_names_and_shapes() {
        let jwt = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        let table: [Case<'_>; 10] = [
            (&[("Authorization", jwt)], None, &["bearer_jwt"]),
            (
                &[("authorization", "bearer opaque-token-123")],
                None,
                &["bearer"],
            ),
            (
                &[("Authorization", "Basic YWxpY2U6c2VjcmV0")],
                None,
                &["basic"],
            ),
            (
                &[("Authorization", "AWS4-HMAC-SHA256 Credential=x")],
                None,
                &["other_authorization:aws4-hmac-sha256"],
            ),
            (
                &[("Cookie", "SHOPSESSID=abc; theme=dark")],
                None,
                &["cookie:SHOPSESSID"],
            ),
            (&[("Cookie", " flag; sid=1")], None, &["cookie:flag"]),
            (&[("X-API-Key", "k")], None, &["api_key:X-API-Key"]),
            (&[], Some("page=1&api_key=secret"), &["api_key:api_key"]),
            (&[("Accept", "*/*")], Some("page=1"), &["none"]),
            (
                &[("Authorization", jwt), ("Cookie", "sid=1")],
                None,
                &["bearer_jwt", "cookie:sid"],
            ),
        ];
        for (headers, query, want) in table {
            assert_eq!(seen(headers, query), want, "{headers:?} {query:?}");
        }
    }

    /// The shape check by the letter of RFC 7515 section 7.1: split on dots, check each part.
    fn looks_like_jwt_slow(token: &[u8]) -> bool {
        let b64url = |p: &[u8]| {
            p.iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        };
        let parts: Vec<&[u8]> = token.split(|b| *b == b'.').collect();
        matches!(parts.as_slice(), [h, p, s]
            if h.starts_with(b"eyJ") && !p.is_empty() && b64url(h) && b64url(p) && b64url(s))
    }

    #[test]
    fn jwt_shapes_at_the_edges() {
        let table: [(&str, bool); 8] = [
            ("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", true),
            ("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.c2ln", true),
            ("eyJhbGciOiJub25lIn0..c2ln", false),
            ("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0", false),
            ("eyJ.a.b.c", false),
            ("eyJhb+GciOiJub25lIn0.eyJzdWIiOiIxIn0.c2ln", false),
            ("abc.def.ghi", false),
            ("eyJ", false),
        ];
        for (token, want) in table {
            assert_eq!(looks_like_jwt(token.as_bytes()), want, "{token}");
        }
    }

    proptest::proptest! {
        /// The branch-free check agrees with the split-and-check one, on the bytes around
        /// every range it tests (`@ [ ` { / :` sit next to letters and digits) and beyond
        /// ASCII.
        #[test]
        fn jwt_check_matches_its_slow_twin(
            parts in proptest::collection::vec("[a-zA-Z0-9_+ @\\[`{/:\\x{80}-\\x{ff}é-]{0,4}", 1..5),
            jwt_head in proptest::bool::ANY,
        ) {
            let token = parts.join(".");
            let token = if jwt_head { format!("eyJ{token}") } else { token };
            proptest::prop_assert_eq!(
                looks_like_jwt(token.as_bytes()),
                looks_like_jwt_slow(token.as_bytes()),
                "{}", token
            );
        }
    }

    /// The role of a header name by the letter: compare it with every name, as the list
    /// reads.
    fn header_role_slow(name: &str) -> Option<HeaderRole> {
        if name.eq_ignore_ascii_case("authorization") {
            Some(HeaderRole::Authorization)
        } else if name.eq_ignore_ascii_case("cookie") {
            Some(HeaderRole::Cookie)
        } else if API_KEY_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            Some(HeaderRole::ApiKey)
        } else {
            None
        }
    }

    #[test]
    fn every_listed_header_name_has_its_role_in_any_case() {
        let mut names: Vec<String> = API_KEY_HEADERS.iter().map(|h| h.to_string()).collect();
        names.extend(
            [
                "Authorization",
                "COOKIE",
                "X-Api-Key",
                "Accept",
                "Content-Type",
            ]
            .map(String::from),
        );
        names.extend(
            ["Host", "X-Request-Id", "Content-Length", "Accept-Encoding"].map(String::from),
        );
        for name in names {
            for n in [name.clone(), name.to_ascii_uppercase()] {
                assert_eq!(header_role(n.as_bytes()), header_role_slow(&n), "{n}");
            }
        }
        assert_eq!(header_role(b"x-goog-api-key"), Some(HeaderRole::ApiKey));
        assert_eq!(header_role(b"Private-Token"), Some(HeaderRole::ApiKey));
        assert_eq!(header_role(b"Accept"), None);
    }

    proptest::proptest! {
        /// Picking candidates by length agrees with comparing every name, on names built
        /// from the listed names' letters (so lengths and near misses collide).
        #[test]
        fn header_roles_match_their_slow_twin(name in "[a-zA-Z-]{0,15}|(?i:x-api-key|cookie|authorization|apikey|x-goog-api-key|x-access-token)") {
            proptest::prop_assert_eq!(header_role(name.as_bytes()), header_role_slow(&name), "{}", name);
        }
    }

    #[test]
    fn long_names_are_cut_and_short_ones_stay_inline() {
        let long = format!("Cookie{}", "x".repeat(100));
        let got = detect_auth(
            [(b"Cookie".as_slice(), format!("{long}=1").as_bytes())],
            None,
            None,
        );
        let name = got[0].name.as_ref().expect("a cookie name");
        assert_eq!(name.len(), MAX_AUTH_NAME_BYTES);
        assert!(!got.spilled(), "two schemes fit in place");
        let short = detect_auth(
            [(b"Cookie".as_slice(), b"session=1".as_slice())],
            None,
            None,
        );
        assert!(!short[0].name.as_ref().expect("a name").is_heap_allocated());
    }

    #[test]
    fn every_scheme_object_is_what_serde_writes() {
        use AuthScheme::*;
        #[rustfmt::skip]
        let all = [BearerJwt, Bearer, Basic, Digest, OtherAuthorization, ApiKey, Cookie];
        for scheme in all.into_iter().chain([None]) {
            let seen = AuthSeen {
                scheme,
                name: Option::None,
            };
            let serde = serde_json::to_string(&seen).expect("serialises");
            assert_eq!(scheme.json_object(), serde);
            assert_eq!(
                serde_json::to_value(scheme).expect("a name"),
                scheme.as_str()
            );
        }
    }

    #[test]
    fn a_bearer_token_judged_before_is_not_read_again() {
        let headers = [
            ("Authorization", "Bearer not-read"),
            ("Authorization", "Basic YWxpY2U6c2VjcmV0"),
        ];
        let pairs = || headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
        let schemes = |shape| {
            detect_auth(pairs(), None, Some(shape))
                .iter()
                .map(|a| a.scheme)
                .collect::<Vec<_>>()
        };
        // The shape stands for the first field; the second is read.
        assert_eq!(
            schemes(BearerShape::Jwt),
            [AuthScheme::BearerJwt, AuthScheme::Basic]
        );
        assert_eq!(
            schemes(BearerShape::Opaque),
            [AuthScheme::Bearer, AuthScheme::Basic]
        );
    }

    proptest::proptest! {
        /// A bearer token's shape judged by [`BearerShape::of`] (as the session facts do)
        /// gives the schemes that reading the field gives.
        #[test]
        fn a_judged_bearer_token_gives_what_reading_it_gives(
            token in "(eyJ)?[a-zA-Z0-9_.+-]{1,12}",
            ows in "[ \t]{0,2}",
            second in proptest::option::of("(Bearer|Basic) [a-zA-Z0-9.]{1,6}"),
        ) {
            let first = format!("Bearer {ows}{token}{ows}");
            let mut headers = vec![("Authorization".to_string(), first)];
            headers.extend(second.map(|v| ("authorization".to_string(), v)));
            let pairs = || headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
            proptest::prop_assert_eq!(
                detect_auth(pairs(), None, Some(BearerShape::of(token.as_bytes()))),
                detect_auth(pairs(), None, None)
            );
        }
    }

    #[test]
    fn values_never_leave() {
        let got = seen(
            &[
                ("Authorization", "Bearer s3cr3t-token"),
                ("Cookie", "sid=s3cr3t"),
            ],
            Some("api_key=s3cr3t"),
        );
        assert!(got.iter().all(|s| !s.contains("s3cr3t")), "{got:?}");
    }
}
