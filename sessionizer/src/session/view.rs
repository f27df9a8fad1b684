//! A lazy view of one transaction: cookies, bearer token, JWT claims, query, decoded bodies and
//! parsed JSON are each worked out at most once, and only when a key or parameter asks.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};

use serde_json::Value;

use super::body::{self, BodyKind, DecodeStatus};
use super::config::{BodyConfig, ParamSide, TokenLocation};
use super::jwt;
use crate::http::target::{split_target, target_path};
use crate::http::{Request, Response, Transaction};

/// Cookies looked at in one request; more are ignored.
pub const MAX_COOKIES: usize = 64;

/// Headers, stored body bytes and truncation flag of one side.
type RawBody<'a> = (&'a crate::http::Headers, &'a [u8], bool);

/// One side's body, decoded and classified.
struct Body<'a> {
    /// After `Content-Encoding` decoding.
    data: Cow<'a, [u8]>,
    /// From `Content-Type`.
    kind: BodyKind<'a>,
    /// Parsed JSON, when the body is JSON.
    json: OnceCell<Option<Value>>,
}

/// What happened while looking at the bodies, for counters and anomalies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BodyEvents {
    /// Decoding outcome of the request body, when it was decoded with a coding.
    pub request: Option<DecodeStatus>,
    /// Same for the response body.
    pub response: Option<DecodeStatus>,
    /// A JSON body did not parse.
    pub json_failed: bool,
    /// A multipart scan stopped at `max_multipart_parts`.
    pub multipart_capped: bool,
}

/// The `Authorization: Bearer` token of `req` (RFC 6750 section 2.1).
pub(crate) fn bearer_of(req: &Request) -> Option<&str> {
    // Whitespace around the credentials is ASCII (OWS, RFC 9110 section 5.6.3).
    let v = req.headers.get("authorization")?.trim_ascii();
    let sp = v.bytes().position(|b| b == b' ')?;
    let (scheme, tok) = (v.get(..sp)?, v.get(sp + 1..)?);
    let tok = tok.trim_ascii();
    (scheme.eq_ignore_ascii_case("bearer") && !tok.is_empty()).then_some(tok)
}

/// A transaction's bearer token and its claims, read before its view is made.
pub(crate) struct BearerSeed<'a> {
    /// [`bearer_of`] its request.
    pub token: Option<&'a str>,
    /// The claims cache's answer for the token.
    pub claims: Option<std::sync::Arc<jwt::Claims>>,
    /// The token's shape, from the claims cache.
    pub shape: Option<apitap_inventory::BearerShape>,
}

/// The lazily parsed parts of one transaction.
pub(crate) struct TxView<'a> {
    /// The request, if any.
    pub req: Option<&'a Request>,
    /// The response, if any.
    pub resp: Option<&'a Response>,
    /// Path of the request target (empty without request).
    pub path: &'a str,
    /// Query of the request target.
    pub query: Option<&'a str>,
    /// Body limits.
    limits: &'a BodyConfig,
    /// Request cookies, in order.
    cookies: OnceCell<Vec<(&'a str, &'a str)>>,
    /// The bearer token (keys, parameters and claims all ask for it).
    bearer: OnceCell<Option<&'a str>>,
    /// Claims of the bearer token.
    bearer_claims: OnceCell<Option<std::sync::Arc<jwt::Claims>>>,
    /// Claims already decoded for earlier transactions.
    claims_cache: &'a jwt::ClaimsCache,
    /// Decoded request body.
    req_body: OnceCell<Body<'a>>,
    /// Decoded response body.
    resp_body: OnceCell<Body<'a>>,
    /// Body events so far.
    pub events: Cell<BodyEvents>,
}

impl<'a> TxView<'a> {
    /// A view of `tx`; nothing is parsed yet, unless `seed` gives its bearer token and the
    /// token's cached claims (read ahead for a batch, see [`super::Extractor::facts_batch`]).
    pub fn new(
        tx: &'a Transaction,
        limits: &'a BodyConfig,
        claims_cache: &'a jwt::ClaimsCache,
        seed: Option<BearerSeed<'a>>,
    ) -> Self {
        let (bearer, bearer_claims) = match seed {
            Some(s) => (OnceCell::from(s.token), OnceCell::from(s.claims)),
            None => (OnceCell::new(), OnceCell::new()),
        };
        let req = tx.request.as_ref();
        // Userinfo in an authority-form target never names an endpoint.
        let (path, query) = req.map_or(("", None), |r| {
            (target_path(&r.uri), split_target(&r.uri).1)
        });
        TxView {
            req,
            resp: tx.response.as_ref(),
            path,
            query,
            limits,
            cookies: OnceCell::new(),
            bearer,
            bearer_claims,
            claims_cache,
            req_body: OnceCell::new(),
            resp_body: OnceCell::new(),
            events: Cell::new(BodyEvents::default()),
        }
    }

    /// First value of a request header.
    pub fn req_header(&self, name: &str) -> Option<&'a str> {
        self.req
            .and_then(|r| r.headers.get(name))
            .filter(|v| !v.is_empty())
    }

    /// First value of a header on `side`.
    pub fn header(&self, side: ParamSide, name: &str) -> Option<&'a str> {
        match side {
            ParamSide::Request => self.req_header(name),
            ParamSide::Response => self
                .resp
                .and_then(|r| r.headers.get(name))
                .filter(|v| !v.is_empty()),
        }
    }

    /// A request cookie by exact name.
    pub fn cookie(&self, name: &str) -> Option<&'a str> {
        let cookies = self.cookies.get_or_init(|| {
            let mut out = Vec::new();
            if let Some(r) = self.req {
                for v in r.headers.get_all("cookie") {
                    for pair in v.split(';') {
                        if out.len() == MAX_COOKIES {
                            break;
                        }
                        if let Some((k, v)) = pair.split_once('=') {
                            out.push((k.trim(), v.trim().trim_matches('"')));
                        }
                    }
                }
            }
            out
        });
        cookies
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
    }

    /// `(name, value)` of each response `Set-Cookie` (RFC 6265 section 4.1).
    pub fn set_cookies(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.resp
            .into_iter()
            .flat_map(|r| r.headers.get_all("set-cookie"))
            .filter_map(|v| {
                let first = v.split(';').next()?;
                let (k, v) = first.split_once('=')?;
                Some((k.trim(), v.trim().trim_matches('"')))
            })
    }

    /// The `Authorization: Bearer` token (RFC 6750 section 2.1).
    pub fn bearer(&self) -> Option<&'a str> {
        *self.bearer.get_or_init(|| self.req.and_then(bearer_of))
    }

    /// The claims of the bearer token, decoded once per transaction and borrowed from the view
    /// (claim values need no copy).
    pub fn bearer_claims(&self) -> Option<&Value> {
        Some(&self.bearer_token_claims()?.value)
    }

    /// The bearer token's cached claims, with what was worked out from them before.
    pub fn bearer_token_claims(&self) -> Option<&jwt::Claims> {
        self.bearer_claims
            .get_or_init(|| self.bearer().and_then(|t| self.claims_cache.claims(t)))
            .as_deref()
    }

    /// The token at a location.
    pub fn token(&self, loc: &TokenLocation) -> Option<&'a str> {
        match loc {
            TokenLocation::Bearer => self.bearer(),
            TokenLocation::Cookie(n) => self.cookie(n),
            TokenLocation::Header(n) => self.req_header(n),
        }
    }

    /// Run `f` on the claims of the JWT at `loc` (decoded once for the bearer token).
    pub fn with_claims<R>(
        &self,
        loc: &TokenLocation,
        f: impl FnOnce(&Value) -> Option<R>,
    ) -> Option<R> {
        match loc {
            TokenLocation::Bearer => self.bearer_claims().and_then(f),
            _ => self
                .claims_cache
                .claims(self.token(loc)?)
                .as_deref()
                .and_then(|c| f(&c.value)),
        }
    }

    /// A query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<Cow<'a, str>> {
        body::urlencoded_field(self.query?.as_bytes(), name)
    }

    /// The decoded body of `side`, if that side exists.
    fn body(&self, side: ParamSide) -> Option<&Body<'a>> {
        let (cell, head): (&OnceCell<Body<'a>>, Option<RawBody<'a>>) = match side {
            ParamSide::Request => (
                &self.req_body,
                self.req
                    .map(|r| (&r.headers, &r.body[..], r.body_truncated)),
            ),
            ParamSide::Response => (
                &self.resp_body,
                self.resp
                    .map(|r| (&r.headers, &r.body[..], r.body_truncated)),
            ),
        };
        let (headers, raw, truncated) = head?;
        Some(cell.get_or_init(|| {
            let (data, status) =
                body::decode(headers.get("content-encoding"), raw, truncated, self.limits);
            if status != DecodeStatus::Identity {
                let mut ev = self.events.get();
                match side {
                    ParamSide::Request => ev.request = Some(status),
                    ParamSide::Response => ev.response = Some(status),
                }
                self.events.set(ev);
            }
            Body {
                data,
                kind: body::kind(headers.get("content-type")),
                json: OnceCell::new(),
            }
        }))
    }

    /// The parsed JSON body of `side` (by `Content-Type`, or sniffed).
    pub fn json(&self, side: ParamSide) -> Option<&Value> {
        let b = self.body(side)?;
        b.json
            .get_or_init(|| {
                let is_json = b.kind == BodyKind::Json
                    || (b.kind == BodyKind::Other && body::sniff_json(&b.data));
                if !is_json || b.data.is_empty() {
                    return None;
                }
                let v = serde_json::from_slice::<Value>(&b.data).ok();
                if v.is_none() {
                    let mut ev = self.events.get();
                    ev.json_failed = true;
                    self.events.set(ev);
                }
                v
            })
            .as_ref()
    }

    /// A scalar JSON body value at `pointer`, as text.
    pub fn json_field(&self, side: ParamSide, pointer: &str) -> Option<Cow<'_, str>> {
        jwt::scalar_text(self.json(side)?.pointer(pointer)?)
    }

    /// A form field of an urlencoded or multipart body on `side`.
    pub fn form_field(&self, side: ParamSide, name: &str) -> Option<Cow<'_, str>> {
        let b = self.body(side)?;
        match b.kind {
            BodyKind::Form => body::urlencoded_field(&b.data, name),
            BodyKind::Multipart(boundary) => {
                let f =
                    body::multipart_field(&b.data, boundary, name, self.limits.max_multipart_parts);
                if f.capped {
                    let mut ev = self.events.get();
                    ev.multipart_capped = true;
                    self.events.set(ev);
                }
                f.value
            }
            _ => None,
        }
    }

    /// True when the response is a 2xx JSON response (a candidate login response).
    pub fn json_success(&self) -> bool {
        self.resp
            .is_some_and(|r| (200..300).contains(&r.status) && !r.body.is_empty())
    }
}
