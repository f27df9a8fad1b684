//! Session keys: the ordered list, compiled, and the lookup of the first key present in a
//! transaction.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use super::config::{KeySource, KeySpec, ParamSide, TokenLocation};
use super::jwt;
use super::view::TxView;

/// A compiled key.
#[derive(Clone, Debug)]
pub(crate) enum Key {
    /// Request cookie.
    Cookie(String),
    /// Request header.
    Header(String),
    /// JWT claim.
    Jwt {
        /// Claim name or pointer.
        claim: String,
        /// Token location.
        loc: TokenLocation,
    },
    /// Opaque bearer token.
    Bearer,
    /// Query parameter.
    Query(String),
    /// Form field.
    Form(String),
    /// JSON request body pointer.
    Json(String),
    /// Cookie whose value the server set.
    SetCookie(String),
    /// Login-response token carried at `loc`.
    LoginToken {
        /// Pointer in the login response.
        pointer: String,
        /// Where later requests carry it.
        loc: TokenLocation,
    },
    /// Client IP + User-Agent.
    FallbackIpUa,
    /// Client IP.
    FallbackIp,
}

/// A key and its label (`cookie:PHPSESSID`), the `source` that records show.
#[derive(Clone, Debug)]
pub(crate) struct CompiledKey {
    /// What to read.
    pub key: Key,
    /// `source` in records; hashed into the session id with the value.
    pub label: Arc<str>,
}

impl CompiledKey {
    /// Compile a validated spec.
    pub fn new(s: &KeySpec) -> Self {
        let name = || s.name.clone().unwrap_or_default();
        let loc = || s.token_in.clone().unwrap_or(TokenLocation::Bearer);
        let (key, label) = match s.source {
            KeySource::Cookie => (Key::Cookie(name()), format!("cookie:{}", name())),
            KeySource::Header => (
                Key::Header(name()),
                format!("header:{}", name().to_ascii_lowercase()),
            ),
            KeySource::Jwt => {
                let claim = s.claim.clone().unwrap_or_default();
                let label = match loc() {
                    TokenLocation::Bearer => format!("jwt:{claim}"),
                    l => format!("jwt:{claim}@{l}"),
                };
                (Key::Jwt { claim, loc: loc() }, label)
            }
            KeySource::Bearer => (Key::Bearer, "bearer".to_string()),
            KeySource::Query => (Key::Query(name()), format!("query:{}", name())),
            KeySource::Form => (Key::Form(name()), format!("form:{}", name())),
            KeySource::Json => {
                let p = s.pointer.clone().unwrap_or_default();
                (Key::Json(p.clone()), format!("json:{p}"))
            }
            KeySource::SetCookie => (Key::SetCookie(name()), format!("set_cookie:{}", name())),
            KeySource::LoginToken => {
                let p = s.pointer.clone().unwrap_or_default();
                (
                    Key::LoginToken {
                        pointer: p.clone(),
                        loc: loc(),
                    },
                    format!("login_token:{p}"),
                )
            }
            KeySource::FallbackIpUa => (Key::FallbackIpUa, "fallback:ip+ua".to_string()),
            KeySource::FallbackIp => (Key::FallbackIp, "fallback:ip".to_string()),
        };
        CompiledKey {
            key,
            label: label.into(),
        }
    }

    /// True for the client-IP fallback (`fallback:ip`).
    pub fn is_ip_fallback(&self) -> bool {
        matches!(self.key, Key::FallbackIp)
    }

    /// True for the fallbacks: a session keyed by them is anonymous.
    pub fn is_fallback(&self) -> bool {
        matches!(self.key, Key::FallbackIpUa | Key::FallbackIp)
    }

    /// Whether the key is a claim of the `Authorization: Bearer` token (whose cached claims
    /// remember what each such key read).
    pub fn reads_bearer_claims(&self) -> bool {
        self.bearer_claim().is_some()
    }

    /// The claim this key reads from the bearer token's claims, if it reads them.
    pub fn bearer_claim(&self) -> Option<&str> {
        match &self.key {
            Key::Jwt {
                claim,
                loc: TokenLocation::Bearer,
            } => Some(claim),
            _ => None,
        }
    }

    /// The cookie this key reads, if any (its `Set-Cookie` values are bound).
    pub fn cookie_name(&self) -> Option<&str> {
        match &self.key {
            Key::Cookie(n) | Key::SetCookie(n) => Some(n),
            Key::Jwt {
                loc: TokenLocation::Cookie(n),
                ..
            }
            | Key::LoginToken {
                loc: TokenLocation::Cookie(n),
                ..
            } => Some(n),
            _ => None,
        }
    }
}

/// The key found for a transaction.
#[derive(Debug)]
pub(crate) struct Found<'v> {
    /// Index in the key list.
    pub idx: usize,
    /// The value hashed into the session id.
    pub value: Cow<'v, str>,
    /// The raw value as carried on the wire (cookie value, token, header value), looked up
    /// among server-set values to link sessions; `None` for values from bodies and fallbacks.
    pub carrier: Option<&'v str>,
    /// The JWT, for `jwt` keys (verified when verification is on).
    pub jwt: Option<&'v str>,
}

/// The first key present in `view`. `bound(index, value)` says whether the server set
/// `value` earlier (for `set_cookie` and `login_token`, the key at `index`). Fallbacks always match when reached
/// (`fallback:ip+ua` needs a User-Agent).
pub(crate) fn resolve<'v>(
    keys: &[CompiledKey],
    view: &'v TxView<'_>,
    client_ip: IpAddr,
    mut bound: impl FnMut(usize, &str) -> bool,
) -> Option<Found<'v>> {
    for (idx, k) in keys.iter().enumerate() {
        let found = match &k.key {
            Key::Cookie(n) => view.cookie(n).map(|v| (Cow::Borrowed(v), Some(v), None)),
            Key::Header(n) => view
                .req_header(n)
                .map(|v| (Cow::Borrowed(v.trim()), Some(v.trim()), None)),
            Key::Bearer => view.bearer().map(|t| (Cow::Borrowed(t), Some(t), None)),
            Key::Jwt { claim, loc } => view.token(loc).and_then(|t| {
                // The bearer token's claims are cached with what each key read from them: the
                // value is borrowed.
                let v = match loc {
                    TokenLocation::Bearer => view.bearer_token_claims()?.claim(idx, claim)?,
                    _ => Cow::Owned(
                        view.with_claims(loc, |c| jwt::claim(c, claim).map(Cow::into_owned))?,
                    ),
                };
                Some((v, Some(t), Some(t)))
            }),
            Key::Query(n) => view.query_param(n).map(|v| (v, None, None)),
            Key::Form(n) => view
                .form_field(ParamSide::Request, n)
                .map(|v| (v, None, None)),
            Key::Json(p) => view
                .json_field(ParamSide::Request, p)
                .map(|v| (v, None, None)),
            Key::SetCookie(n) => view
                .cookie(n)
                .filter(|v| bound(idx, v))
                .map(|v| (Cow::Borrowed(v), Some(v), None)),
            Key::LoginToken { loc, .. } => view
                .token(loc)
                .filter(|v| bound(idx, v))
                .map(|v| (Cow::Borrowed(v), Some(v), None)),
            Key::FallbackIpUa => view.req_header("user-agent").map(|ua| {
                let mut v = ip_text(client_ip);
                v.push('\0');
                v.push_str(ua);
                (Cow::Owned(v), None, None)
            }),
            Key::FallbackIp => Some((Cow::Owned(ip_text(client_ip)), None, None)),
        };
        if let Some((value, carrier, jwt)) = found {
            if !value.is_empty() {
                return Some(Found {
                    idx,
                    value,
                    carrier,
                    jwt,
                });
            }
        }
    }
    None
}

/// `ip` as `Display` writes it, IPv4 without the formatting machinery (the fallback keys format
/// the client address of every anonymous transaction).
pub(crate) fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => crate::text::ipv4_text(v4, &mut Default::default()).to_owned(),
        IpAddr::V6(_) => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn ip_text_is_display(bits in proptest::num::u32::ANY, v6 in proptest::num::u128::ANY) {
            for ip in [IpAddr::V4(bits.into()), IpAddr::V6(v6.into())] {
                proptest::prop_assert_eq!(ip_text(ip), ip.to_string());
            }
        }
    }
}
