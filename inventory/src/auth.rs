//! Authentication schemes of a request, from header *names* and the *shape* of their values
//! (a bearer token that looks like a JWT), never the values. Runs in the sensor, before
//! redaction hides the `Authorization` scheme.

use serde::{Deserialize, Serialize};

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
}

/// A scheme seen on a request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuthSeen {
    /// Which.
    pub scheme: AuthScheme,
    /// The header, query parameter or cookie name (API keys, cookies) or the scheme word
    /// (other `Authorization` schemes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The schemes of a request: its headers (name, raw value) and its raw query. Never empty:
/// `none` when nothing was found.
pub fn detect_auth<'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    query: Option<&str>,
) -> Vec<AuthSeen> {
    let mut out: Vec<AuthSeen> = Vec::new();
    let mut push = |seen: AuthSeen| {
        if out.len() < MAX_AUTH_PER_REQUEST && !out.contains(&seen) {
            out.push(seen);
        }
    };
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("authorization") {
            push(authorization(value));
        } else if name.eq_ignore_ascii_case("cookie") {
            // The first cookie's name ends at its `=` (or at `;` without one): short, so
            // found before the value is read.
            let end = value
                .iter()
                .position(|b| *b == b'=' || *b == b';')
                .unwrap_or(value.len());
            let cookie = value.get(..end).unwrap_or_default().trim_ascii();
            push(named(AuthScheme::Cookie, &String::from_utf8_lossy(cookie)));
        } else if API_KEY_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            push(named(AuthScheme::ApiKey, name));
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

/// The scheme of an `Authorization` value (RFC 9110 section 11.6.2: `scheme token`).
fn authorization(value: &[u8]) -> AuthSeen {
    let value = value.trim_ascii();
    let (scheme, rest) = match value.iter().position(|b| *b == b' ') {
        Some(i) => (&value[..i], value[i..].trim_ascii()),
        None => (value, &value[value.len()..]),
    };
    let scheme_is = |s: &str| scheme.eq_ignore_ascii_case(s.as_bytes());
    let kind = if scheme_is("bearer") {
        if looks_like_jwt(rest) {
            AuthScheme::BearerJwt
        } else {
            AuthScheme::Bearer
        }
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

/// A JWS compact serialisation's shape (RFC 7515 section 7.1): three base64url parts, the
/// first a JSON object (`eyJ` is `{"` encoded).
///
/// One branch-free pass over the token's alphabet, which the compiler turns into vector code
/// (16 bytes a step), and vector searches for its dots: a bearer token is checked on every
/// request that carries one, and tokens are hundreds of bytes.
fn looks_like_jwt(token: &[u8]) -> bool {
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
        name: Some(name[..end].to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case: headers, query, the schemes expected.
    type Case<'c> = (&'c [(&'c str, &'c str)], Option<&'c str>, &'c [&'c str]);

    /// The schemes as `scheme[:name]` strings.
    fn seen(headers: &[(&str, &str)], query: Option<&str>) -> Vec<String> {
        detect_auth(headers.iter().map(|(n, v)| (*n, v.as_bytes())), query)
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
