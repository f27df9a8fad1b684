//! What classification says about one transaction.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::spec::Operation;

/// A transaction's standing against the loaded specs (`api.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiStatus {
    /// It matches a documented operation.
    Documented,
    /// It matches an operation marked `deprecated: true`, or its path is named by
    /// `api.retired`.
    Zombie,
    /// A spec covers its host but no operation matches (an undocumented method on a
    /// documented path included).
    Shadow,
    /// No spec covers its host.
    Unmanaged,
}

impl ApiStatus {
    /// The name records use.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiStatus::Documented => "documented",
            ApiStatus::Zombie => "zombie",
            ApiStatus::Shadow => "shadow",
            ApiStatus::Unmanaged => "unmanaged",
        }
    }
}

/// Why a transaction has its status (`api.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiReason {
    /// Documented: an operation matched.
    Operation,
    /// Zombie: the operation is `deprecated: true`.
    Deprecated,
    /// Zombie: an `api.retired` glob names the path (whatever matched or not).
    Retired,
    /// Shadow: the path is documented, not for this method.
    UndocumentedMethod,
    /// Shadow: no documented path matches (under any base path of the host).
    UndocumentedPath,
    /// Unmanaged: no spec covers the host.
    NoSpec,
}

impl ApiReason {
    /// The name records use.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiReason::Operation => "operation",
            ApiReason::Deprecated => "deprecated",
            ApiReason::Retired => "retired",
            ApiReason::UndocumentedMethod => "undocumented_method",
            ApiReason::UndocumentedPath => "undocumented_path",
            ApiReason::NoSpec => "no_spec",
        }
    }
}

/// One way a transaction strays from the operation it matched (`api.drift`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Drift<'a> {
    /// A query parameter the operation does not document: its name (percent-decoded).
    UndocumentedQueryParam(Cow<'a, str>),
    /// A response status the operation does not declare.
    UndeclaredStatus(u16),
    /// A request `Content-Type` the operation does not accept (or it documents no body): the
    /// media type, without parameters.
    UnacceptedContentType(&'a str),
}

impl Drift<'_> {
    /// The kind's name (`undocumented_query_param`, `undeclared_status`,
    /// `unaccepted_content_type`).
    pub fn kind(&self) -> &'static str {
        match self {
            Drift::UndocumentedQueryParam(_) => "undocumented_query_param",
            Drift::UndeclaredStatus(_) => "undeclared_status",
            Drift::UnacceptedContentType(_) => "unaccepted_content_type",
        }
    }
}

/// Drifts of one transaction; two fit without allocating.
pub type Drifts<'a> = SmallVec<[Drift<'a>; 2]>;

/// The classification of one transaction. Borrows the matcher (`'m`) and the request (`'a`);
/// its names are the matcher's shared strings, which a record keeps without copying them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification<'m, 'a> {
    /// Its status.
    pub status: ApiStatus,
    /// Why.
    pub reason: ApiReason,
    /// The spec that covers the host (for a match: the operation's): [`Self::spec`].
    pub(crate) spec: Option<&'m Arc<str>>,
    /// The matched operation.
    pub operation: Option<&'m Operation>,
    /// The matched operation's position in [`crate::Matcher::operations`].
    pub operation_index: Option<usize>,
    /// The matched operation's `operationId`: [`Self::operation_id`].
    pub(crate) operation_id: Option<&'m Arc<str>>,
    /// The matched template: [`Self::template`].
    pub(crate) template: Option<&'m Arc<str>>,
    /// What decides everything above but the operation: [`Self::key`].
    pub(crate) key: ClassKey,
    /// How it strays from the operation (empty without one).
    pub drift: Drifts<'a>,
}

impl<'m> Classification<'m, '_> {
    /// The spec that covers the host (for a match: the operation's).
    pub fn spec(&self) -> Option<&'m str> {
        self.spec.map(|s| &**s)
    }

    /// The matched template, base path included, with the spec's parameter names
    /// (`/api/v1/users/{user_id}`); for an undocumented method, the documented path's.
    pub fn template(&self) -> Option<&'m str> {
        self.template.map(|t| &**t)
    }

    /// The matched operation's `operationId`.
    pub fn operation_id(&self) -> Option<&'m str> {
        self.operation_id.map(|o| &**o)
    }

    /// Its status, reason, spec and route as small numbers: two classifications by the same
    /// matcher with equal keys name the same spec, operation and template, so a record's
    /// names can be remembered by the key.
    pub fn key(&self) -> ClassKey {
        self.key
    }
}

/// [`Classification::key`]: the status, the reason, and the positions of the spec and of
/// the route (the matched one, or the documented path of an undocumented method) in the
/// matcher that classified it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClassKey {
    /// The status.
    pub status: ApiStatus,
    /// The reason.
    pub reason: ApiReason,
    /// The spec's position, `u32::MAX` for none.
    pub spec: u32,
    /// The route's position, `u32::MAX` for none.
    pub route: u32,
}

/// One transaction, as classification sees it. Borrowed from the transaction.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiRequest<'a> {
    /// The `Host` header (or the absolute-form authority); `None` when there is none.
    pub host: Option<&'a str>,
    /// The method token.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query (after `?`), if any: only its names are read.
    pub query: Option<&'a str>,
    /// The final response status, if a response was seen.
    pub status: Option<u16>,
    /// The request's `Content-Type` header.
    pub content_type: Option<&'a str>,
}
