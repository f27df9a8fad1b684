//! API inventory: OpenAPI 3.0/3.1 and Swagger 2.0 specs in, per-transaction api status
//! (documented, zombie, shadow, unmanaged) and drift out; JSON body schemas inferred without
//! keeping a value; an inventory aggregated from records; an OpenAPI 3.1 document rebuilt
//! from traffic, and its diff against a spec.
//!
//! Pure: bytes and parsed records in, values out. The sensor reads the spec files and gives
//! each to [`Spec::parse`] as `(name, bytes)`, builds one [`Matcher`] and calls
//! [`Matcher::classify`] per transaction. See docs/api-inventory.md.

pub mod config;
pub mod matcher;
pub mod schema;
pub mod spec;

pub use config::{ApiConfig, ApiConfigError, SpecOverride};
pub use matcher::{ApiReason, ApiRequest, ApiStatus, Classification, Drift, Matcher};
pub use schema::{infer_json, Inference, Schema};
pub use spec::{Spec, SpecError};
