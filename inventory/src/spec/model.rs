//! What classification keeps of an operation.

use serde::{Deserialize, Serialize};

use super::servers::ServerBase;

/// The HTTP methods an OpenAPI path item can document (OpenAPI 3.x section 4.8.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET.
    Get,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
    /// HEAD.
    Head,
    /// PATCH.
    Patch,
    /// TRACE.
    Trace,
}

/// Every [`Method`], in the order path items list them.
pub const METHODS: [Method; 8] = [
    Method::Get,
    Method::Put,
    Method::Post,
    Method::Delete,
    Method::Options,
    Method::Head,
    Method::Patch,
    Method::Trace,
];

impl Method {
    /// The method of a request's method token (case-sensitive: RFC 9110 section 9.1), or
    /// `None` for one OpenAPI cannot document (`CONNECT`, WebDAV's...).
    pub fn from_token(token: &str) -> Option<Method> {
        Some(match token {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "HEAD" => Method::Head,
            "PATCH" => Method::Patch,
            "TRACE" => Method::Trace,
            _ => return None,
        })
    }

    /// The path item key (`get`).
    pub fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Delete => "delete",
            Method::Options => "options",
            Method::Head => "head",
            Method::Patch => "patch",
            Method::Trace => "trace",
        }
    }

    /// The method token (`GET`).
    pub fn token(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Head => "HEAD",
            Method::Patch => "PATCH",
            Method::Trace => "TRACE",
        }
    }

    /// Its position in [`METHODS`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One documented operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Its method.
    pub method: Method,
    /// Its path template as the spec writes it (`/users/{id}`), below the base path.
    pub path: String,
    /// Its `operationId`.
    pub operation_id: Option<String>,
    /// `deprecated: true`.
    pub deprecated: bool,
    /// Where it applies: its own `servers`, its path item's, or the document's.
    pub servers: Vec<ServerBase>,
    /// The query parameters it documents.
    pub query: QueryRule,
    /// The response statuses it declares.
    pub responses: Responses,
    /// The request body it accepts; `None` when it documents none.
    pub request_body: Option<RequestBody>,
    /// Where it is in the document (`/paths/~1users/get`), for messages.
    pub pointer: String,
}

/// Which query parameter names an operation documents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryRule {
    /// Names documented exactly.
    pub names: Vec<String>,
    /// Names of `style: deepObject` parameters: `name[key]` is documented too.
    pub deep_objects: Vec<String>,
    /// A `style: form`, `explode: true` object parameter: its properties are the names, so
    /// every name is documented.
    pub any: bool,
}

impl QueryRule {
    /// Whether `name` (percent-decoded) is documented.
    pub fn documents(&self, name: &str) -> bool {
        self.any
            || self.names.iter().any(|n| n == name)
            || self.deep_objects.iter().any(|d| {
                name.strip_prefix(d.as_str())
                    .is_some_and(|rest| rest.starts_with('['))
            })
    }
}

/// The response statuses an operation declares (OpenAPI 3.x section 4.8.16: codes, `1XX` to
/// `5XX` ranges, `default`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Responses {
    /// Exact codes.
    pub codes: Vec<u16>,
    /// Bit `n` set: `nXX` is declared (n = 1..=5).
    pub ranges: u8,
    /// `default` is declared: any status is.
    pub default: bool,
}

impl Responses {
    /// Whether a response with `status` is declared. An operation that declares no
    /// response at all (OpenAPI 3.1 allows it) declares every status.
    pub fn declares(&self, status: u16) -> bool {
        let range = status / 100;
        self.default
            || (self.codes.is_empty() && self.ranges == 0)
            || self.codes.contains(&status)
            || ((1..=5).contains(&range) && self.ranges & (1 << range) != 0)
    }
}

/// The media types a request body may have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestBody {
    /// Accepted media ranges; empty accepts any.
    pub media: Vec<MediaRange>,
}

impl RequestBody {
    /// Whether a request with this `Content-Type` header value is accepted.
    pub fn accepts(&self, content_type: &str) -> bool {
        self.media.is_empty() || {
            let essence = media_essence(content_type);
            self.media.iter().any(|m| m.matches(essence))
        }
    }
}

/// A media type without its parameters (`application/json; charset=utf-8`:
/// `application/json`), trimmed. A byte search: `;` is ASCII, so the cut is on a character
/// boundary (`split(';')` builds a searcher on every call).
pub fn media_essence(content_type: &str) -> &str {
    let end = memchr::memchr(b';', content_type.as_bytes()).unwrap_or(content_type.len());
    content_type.get(..end).unwrap_or(content_type).trim()
}

/// A media range of a spec (`application/json`, `application/*`, `*/*`; RFC 9110 section
/// 12.5.1), lowercase, without parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaRange {
    /// `*/*`.
    Any,
    /// `type/*`: the type.
    Type(String),
    /// `type/subtype`.
    Exact(String),
}

impl MediaRange {
    /// The range of a spec's media type key (`application/json; charset=utf-8`).
    pub fn parse(key: &str) -> MediaRange {
        let essence = key
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.split_once('/') {
            _ if essence == "*/*" || essence == "*" => MediaRange::Any,
            Some((t, "*")) => MediaRange::Type(t.to_string()),
            _ => MediaRange::Exact(essence),
        }
    }

    /// Whether a media type essence (`type/subtype`, any case) is in the range.
    pub fn matches(&self, essence: &str) -> bool {
        match self {
            MediaRange::Any => true,
            MediaRange::Type(t) => essence
                .split_once('/')
                .is_some_and(|(et, _)| et.eq_ignore_ascii_case(t)),
            MediaRange::Exact(e) => essence.eq_ignore_ascii_case(e),
        }
    }
}
