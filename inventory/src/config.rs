//! What the user sets for API inventory (`[api]` in the config file; docs/api-inventory.md).
//!
//! Every field has a default: no `[api]` section at all loads no spec, so every transaction is
//! `unmanaged`, and bodies still get their inferred schemas.

use serde::{Deserialize, Serialize};

/// API inventory settings (`[api]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Classify every transaction and write its `api` object. Absent: on when `specs` or
    /// `retired` name anything, off otherwise (an `[api]` section with neither is a no-op
    /// unless this says `true`: every call then `unmanaged`, with its auth and schemas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// OpenAPI 3.0/3.1 or Swagger 2.0 files, YAML or JSON. The sensor reads them and gives
    /// each to [`crate::Spec::parse`] with this same string as its name. Order matters only
    /// when two specs document the same method and path on the same host: the first wins.
    pub specs: Vec<String>,
    /// Globs over the request path (without the query) of retired APIs, e.g. `/api/v1/*`:
    /// a call whose path one names is `zombie`, documented or not. `*` matches any run of
    /// characters, `/` included; `?` matches one character.
    pub retired: Vec<String>,
    /// Hosts and base path that replace a spec's own `servers` (`[[api.overrides]]`).
    pub overrides: Vec<SpecOverride>,
    /// Infer a schema (field names and types, never values) from JSON request and response
    /// bodies.
    #[serde(default = "default_infer_body_schemas")]
    pub infer_body_schemas: bool,
    /// Of the transactions after a connection's first [`SCHEMA_FIRST_PER_CONNECTION`], infer
    /// the schemas of one in this many (chosen by a hash of the connection's addresses and the
    /// transaction's depth: the same transactions whatever the worker count). 1: every body.
    #[serde(default = "default_schema_sample_one_in")]
    pub schema_sample_one_in: u32,
}

/// Transactions of each connection whose bodies' schemas are always inferred: a client's
/// first calls, where most of its endpoints appear.
pub const SCHEMA_FIRST_PER_CONNECTION: u32 = 2;

/// One in 32: inference costs about 55 instructions a byte of JSON, many times a
/// transaction's parsing (docs/bench.md); the rebuilt document merges the samples, and an
/// endpoint called often is sampled often.
fn default_schema_sample_one_in() -> u32 {
    32
}

/// On: the OpenAPI document rebuilt from traffic needs the schemas, and only names and types
/// leave the sensor.
fn default_infer_body_schemas() -> bool {
    true
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            enabled: None,
            specs: Vec::new(),
            retired: Vec::new(),
            overrides: Vec::new(),
            infer_body_schemas: default_infer_body_schemas(),
            schema_sample_one_in: default_schema_sample_one_in(),
        }
    }
}

impl ApiConfig {
    /// The defaults (no spec, nothing retired, schemas inferred).
    pub fn new() -> Self {
        ApiConfig::default()
    }

    /// Reject settings that cannot work; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.schema_sample_one_in == 0 {
            return Err("api.schema_sample_one_in must be at least 1 (1: every body)".into());
        }
        Ok(())
    }

    /// Whether the transaction at `depth` of the connection between `client` and `server`
    /// has its bodies' schemas inferred: the connection's first
    /// [`SCHEMA_FIRST_PER_CONNECTION`], then one in `schema_sample_one_in`.
    pub fn samples_schema(
        &self,
        client: std::net::SocketAddr,
        server: std::net::SocketAddr,
        depth: u32,
    ) -> bool {
        use std::hash::BuildHasher;
        if !self.infer_body_schemas {
            return false;
        }
        if depth <= SCHEMA_FIRST_PER_CONNECTION || self.schema_sample_one_in <= 1 {
            return true;
        }
        let h = foldhash::fast::FixedState::with_seed(0).hash_one((client, server, depth));
        h % u64::from(self.schema_sample_one_in) == 0
    }

    /// Whether the sensor classifies transactions: `enabled` when set, otherwise whether a
    /// spec or a retired glob is configured.
    pub fn is_on(&self) -> bool {
        self.enabled
            .unwrap_or(!self.specs.is_empty() || !self.retired.is_empty())
    }
}

/// Where one spec applies, instead of its `servers` (or Swagger 2.0 `host` and `basePath`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpecOverride {
    /// The spec, as named in `specs` (or its file name alone).
    pub spec: String,
    /// Hosts the spec covers, as in a `Host` header (`api.example.com`,
    /// `api.example.com:8443`); `*` covers every host. Empty: the spec's own hosts.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Base path the spec's paths hang under (`/api`, `/` for none). Absent: the base paths
    /// of the spec's own servers.
    #[serde(default)]
    pub base_path: Option<String>,
}

/// What is wrong with an `[api]` section, found when the matcher is built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiConfigError {
    /// An override names no loaded spec.
    #[error("api.overrides: spec = {spec:?} is not one of api.specs; name it as in `specs`")]
    UnknownSpec {
        /// The name in the override.
        spec: String,
    },
    /// Two overrides name the same spec.
    #[error("api.overrides: spec = {spec:?} is overridden twice; merge the two entries")]
    DuplicateOverride {
        /// The name in both overrides.
        spec: String,
    },
    /// A host in an override is empty or holds a `/`.
    #[error(
        "api.overrides: host {host:?} of spec {spec:?} is not a host; write `name` or `name:port`"
    )]
    BadHost {
        /// The spec overridden.
        spec: String,
        /// The host as written.
        host: String,
    },
    /// A retired glob could not be compiled.
    #[error("api.retired: {pattern:?} is not a usable glob: {message}")]
    BadRetired {
        /// The glob as written.
        pattern: String,
        /// Why.
        message: String,
    },
    /// Two specs were given the same name.
    #[error("api.specs: {name:?} is loaded twice; list each spec once")]
    DuplicateSpec {
        /// The repeated name.
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection's first calls always, then about one in `schema_sample_one_in`, the same
    /// each time; none when inference is off, every one at 1.
    #[test]
    fn schemas_are_sampled_by_connection_and_depth() {
        let (c, s) = (
            "10.0.0.7:40000".parse().unwrap(),
            "10.0.0.1:443".parse().unwrap(),
        );
        let cfg = ApiConfig::default();
        for depth in 1..=SCHEMA_FIRST_PER_CONNECTION {
            assert!(cfg.samples_schema(c, s, depth));
        }
        let later = (SCHEMA_FIRST_PER_CONNECTION + 1)..=(SCHEMA_FIRST_PER_CONNECTION + 32_000);
        let sampled: Vec<u32> = later
            .clone()
            .filter(|&d| cfg.samples_schema(c, s, d))
            .collect();
        assert!((700..1300).contains(&sampled.len()), "{}", sampled.len());
        let again: Vec<u32> = later.filter(|&d| cfg.samples_schema(c, s, d)).collect();
        assert_eq!(sampled, again, "deterministic");
        let every = ApiConfig {
            schema_sample_one_in: 1,
            ..ApiConfig::default()
        };
        assert!((1..500).all(|d| every.samples_schema(c, s, d)));
        let off = ApiConfig {
            infer_body_schemas: false,
            ..ApiConfig::default()
        };
        assert!(!(1..500).any(|d| off.samples_schema(c, s, d)));
        let zero = ApiConfig {
            schema_sample_one_in: 0,
            ..ApiConfig::default()
        };
        assert!(zero
            .validate()
            .unwrap_err()
            .contains("schema_sample_one_in"));
    }
}
