//! The JSON shape of what apitap exports (`docs/events.md` is the reference): one writer per
//! record type (`http`, `session`, `alert`, `websocket` and `tls`), redaction and the JSON
//! writer they share.
//!
//! Records borrow what they describe and are written straight into the exporter's buffer:
//! nothing is copied on the way out. Secrets are redacted here, once, for every exporter.

mod alert;
mod body;
mod conn;
mod http;
mod json;
mod redact;
mod session;

#[cfg(test)]
mod oracle;

use serde::{Deserialize, Serialize};

pub use self::conn::ConnRecordJson;
pub use self::http::{api_members_json, write_json_tail, Attacks, HttpRecord};
pub use self::redact::{
    default_redact_names, default_redact_patterns, RedactConfig, RedactConfigError, RedactMode,
    Redactor, HASHED_PREFIX, REDACTED,
};

/// Version of the event schema; bumped on any incompatible change of a field.
pub const SCHEMA_VERSION: u32 = 1;

/// Output settings that shape records (`[output]` in the config file).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Names and name patterns whose values never leave the sensor (headers, query and form
    /// parameters, cookies, JSON fields); URL userinfo and JWTs are redacted wherever they
    /// are found, whatever their name.
    pub redact: RedactConfig,
    /// How a redacted value is written: `replace` (`[redacted]`, the default) or `hash`
    /// (its keyed hash with the session secret, for correlation).
    pub redact_mode: RedactMode,
    /// Bytes of each request and response body written into its record (after transfer and
    /// content decoding, secret fields redacted), per body; 0 (the default) writes none.
    /// Bodies carry personal data: off unless an analyst needs them.
    pub body_capture_bytes: usize,
}
