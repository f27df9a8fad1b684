//! API inventory: OpenAPI 3.0/3.1 and Swagger 2.0 specs in, per-transaction api status
//! (documented, zombie, shadow, unmanaged) and drift out; JSON body schemas inferred without
//! keeping a value; an inventory aggregated from records; an OpenAPI 3.1 document rebuilt
//! from traffic, and its diff against a spec.
//!
//! Pure: bytes and parsed records in, values out. The sensor reads the spec files and gives
//! each to [`Spec::parse`] as `(name, bytes)`, builds one [`Matcher`] and calls
//! [`Matcher::classify`] per transaction, [`detect_auth`] on its headers and [`infer_json`]
//! on its JSON bodies, and writes an [`ApiRecord`]. `apitap inventory` feeds records to an
//! [`Aggregator`], then renders, rebuilds ([`openapi_from_inventory`]) or diffs ([`diff()`]).
//! See docs/api-inventory.md.

pub mod aggregate;
pub mod ascii;
pub mod auth;
pub mod config;
pub mod diff;
pub mod matcher;
pub mod openapi;
pub mod record;
pub mod schema;
pub mod spec;

pub use aggregate::{render_table, Aggregator, Inventory};
pub use auth::{
    detect_auth, looks_like_jwt, AuthList, AuthName, AuthScheme, AuthSeen, BearerShape,
};
pub use config::{ApiConfig, ApiConfigError, SpecOverride, SCHEMA_FIRST_PER_CONNECTION};
pub use diff::{diff, render_diff, SpecDiff};
pub use matcher::{ApiReason, ApiRequest, ApiStatus, ClassKey, Classification, Drift, Matcher};
pub use openapi::{openapi_from_inventory, to_yaml, OpenApiOptions};
pub use record::{ApiRecord, BodySchema, DriftRecord, MembersJson};
pub use schema::{infer_json, Inference, Schema};
pub use spec::{Spec, SpecError};
