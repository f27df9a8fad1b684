//! The JSON shape of what apitap exports (`docs/events.md` is the reference): one writer per
//! record type (`http`, `session`, `alert`), redaction and the JSON writer they share.
//!
//! Records borrow what they describe and are written straight into the exporter's buffer:
//! nothing is copied on the way out. Secrets are redacted here, once, for every exporter.

mod alert;
mod http;
mod json;
mod redact;
mod session;

#[cfg(test)]
mod oracle;

use serde::{Deserialize, Serialize};

pub use self::http::{write_json_tail, HttpRecord};
pub use self::redact::{default_redact_headers, Redactor};

/// Version of the event schema; bumped on any incompatible change of a field.
pub const SCHEMA_VERSION: u32 = 1;

/// What replaces a redacted header value.
pub const REDACTED: &str = "[redacted]";

/// Output settings that shape records (`[output]` in the config file).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Header names (case-insensitive) whose values are replaced by `[redacted]`; names stay.
    pub redact_headers: Vec<String>,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            redact_headers: default_redact_headers(),
        }
    }
}
