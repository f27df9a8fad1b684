//! The `api` object of an `http` record: what the sensor writes and the inventory reads
//! back. One type for both, so that they cannot disagree (docs/api-inventory.md).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::auth::AuthList;
use crate::matcher::{ApiReason, ApiStatus, Classification, Drift};
use crate::schema::Schema;

/// `api` on an `http` record. Its names are the matcher's strings, shared: a record costs
/// no copy of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRecord {
    /// `documented`, `zombie`, `shadow` or `unmanaged`.
    pub status: ApiStatus,
    /// Why (`operation`, `deprecated`, `retired`, `undocumented_method`,
    /// `undocumented_path`, `no_spec`).
    pub reason: ApiReason,
    /// The spec covering the host (its name as loaded).
    #[serde(default, with = "shared_str")]
    pub spec: Option<Arc<str>>,
    /// The matched operation's `operationId`.
    #[serde(default, with = "shared_str")]
    pub operation_id: Option<Arc<str>>,
    /// The matched template, base path included, with the spec's parameter names.
    #[serde(default, with = "shared_str")]
    pub template: Option<Arc<str>>,
    /// How the transaction strays from its operation.
    #[serde(default)]
    pub drift: Vec<DriftRecord>,
    /// Authentication schemes seen on the request.
    #[serde(default)]
    pub auth: AuthList,
    /// The request body's inferred schema (JSON bodies only). Boxed, as the response's: few
    /// records have one, and every record is moved whole on its way out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_schema: Option<Box<BodySchema>>,
    /// The response body's inferred schema (JSON bodies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_schema: Option<Box<BodySchema>>,
    /// The members from `status` to `auth` as the record writer writes them, when the
    /// classifier had them written already (it remembers them per classification and scheme
    /// list): the writer copies them instead of writing each. Derived from the fields above,
    /// so never serialised; records read back have none.
    #[serde(skip)]
    pub members_json: MembersJson,
}

/// [`ApiRecord::members_json`]: a copy of fields in another form, so it takes no part in
/// comparisons (a record read back equals the one written).
#[derive(Clone, Debug, Default)]
pub struct MembersJson(pub Option<Arc<str>>);

impl MembersJson {
    /// The members (`"status":"documented","reason":"operation",...,"auth":[...]`).
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl PartialEq for MembersJson {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for MembersJson {}

/// One drift, as records write it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftRecord {
    /// A query parameter the operation does not document.
    UndocumentedQueryParam {
        /// Its name.
        name: String,
    },
    /// A response status the operation does not declare.
    UndeclaredStatus {
        /// The status.
        status: u16,
    },
    /// A request media type the operation does not accept.
    UnacceptedContentType {
        /// The media type, without parameters.
        content_type: String,
    },
}

impl DriftRecord {
    /// `kind` or `kind:detail`, the key the inventory counts drift by.
    pub fn key(&self) -> String {
        match self {
            DriftRecord::UndocumentedQueryParam { name } => {
                format!("undocumented_query_param:{name}")
            }
            DriftRecord::UndeclaredStatus { status } => format!("undeclared_status:{status}"),
            DriftRecord::UnacceptedContentType { content_type } => {
                format!("unaccepted_content_type:{content_type}")
            }
        }
    }
}

impl From<&Drift<'_>> for DriftRecord {
    fn from(d: &Drift<'_>) -> Self {
        match d {
            Drift::UndocumentedQueryParam(n) => DriftRecord::UndocumentedQueryParam {
                name: n.to_string(),
            },
            Drift::UndeclaredStatus(s) => DriftRecord::UndeclaredStatus { status: *s },
            Drift::UnacceptedContentType(t) => DriftRecord::UnacceptedContentType {
                content_type: t.to_ascii_lowercase(),
            },
        }
    }
}

/// A body's schema with its fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodySchema {
    /// [`Schema::fingerprint`].
    pub fingerprint: String,
    /// The schema.
    #[serde(flatten)]
    pub schema: Schema,
}

impl From<Schema> for BodySchema {
    fn from(schema: Schema) -> Self {
        BodySchema {
            fingerprint: schema.fingerprint(),
            schema,
        }
    }
}

impl ApiRecord {
    /// The record of a classification; `auth` and the schemas are the caller's.
    pub fn new(c: &Classification<'_, '_>, auth: AuthList) -> ApiRecord {
        ApiRecord {
            status: c.status,
            reason: c.reason,
            spec: c.spec.cloned(),
            operation_id: c.operation_id.cloned(),
            template: c.template.cloned(),
            drift: c.drift.iter().map(DriftRecord::from).collect(),
            auth,
            request_schema: None,
            response_schema: None,
            members_json: MembersJson::default(),
        }
    }
}

/// `Option<Arc<str>>` through serde as `Option<&str>` (serde's `rc` feature would do it for
/// the whole workspace's build).
mod shared_str {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// As an optional string.
    // `serialize_with` hands the field by reference.
    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_deref().serialize(s)
    }

    /// From an optional string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(Arc::from))
    }
}
