//! What the user sets for the HTTP/2 stage. Every per-connection table and buffer is bounded
//! here.

use serde::{Deserialize, Serialize};

/// HTTP/2 limits. Per connection, memory is bounded by about
/// `2 * (max_dynamic_table_bytes + max_header_list_bytes)` for the two directions' HPACK
/// tables and header blocks being read, plus
/// `max_concurrent_streams * (2 * max_header_list_bytes + 2 * max_body_capture_bytes)` for
/// the streams in progress.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http2Config {
    /// Streams tracked at once on one connection. At the bound the oldest open stream is
    /// emitted as it stands (`stream_limit`) to make room.
    #[serde(default = "default_max_concurrent_streams")]
    pub max_concurrent_streams: usize,
    /// Largest header list kept for one message, in bytes counted as RFC 9113 section 6.5.2
    /// does (name + value + 32 per field); also the largest compressed header block read.
    /// Fields past it are decoded (the HPACK table stays in step) but not kept
    /// (`header_list_too_large`); a larger compressed block is skipped and the HPACK state of
    /// its direction is forgotten.
    #[serde(default = "default_max_header_list_bytes")]
    pub max_header_list_bytes: usize,
    /// Largest HPACK dynamic table kept per direction, in bytes (RFC 7541 section 4.1 sizes).
    /// A peer's larger table is capped: references to entries that cost are then reported as
    /// `hpack_state_unknown`, never decoded wrongly.
    #[serde(default = "default_max_dynamic_table_bytes")]
    pub max_dynamic_table_bytes: usize,
    /// How many bytes of each body (DATA payload, padding excluded) are stored on the
    /// exchange. Body byte counts stay exact beyond it; the stored prefix is then truncated.
    #[serde(default = "default_max_body_capture_bytes")]
    pub max_body_capture_bytes: usize,
}

/// nginx and most servers advertise 100-128 concurrent streams; 128 keeps every stream of a
/// well-behaved connection and bounds a misbehaving one.
fn default_max_concurrent_streams() -> usize {
    128
}

/// 64 KiB, as for HTTP/1 heads: more than any browser or gRPC client sends (grpc-go and
/// nghttp2 cap header lists at 16-64 KiB).
fn default_max_header_list_bytes() -> usize {
    64 * 1024
}

/// 64 KiB: the 4096-byte default table of RFC 9113 with room for peers that raise it
/// (grpc-go and Envoy use up to 64 KiB).
fn default_max_dynamic_table_bytes() -> usize {
    64 * 1024
}

/// 0, as for HTTP/1: bodies are counted but not stored unless a later stage needs them.
fn default_max_body_capture_bytes() -> usize {
    0
}

impl Default for Http2Config {
    fn default() -> Self {
        Http2Config {
            max_concurrent_streams: default_max_concurrent_streams(),
            max_header_list_bytes: default_max_header_list_bytes(),
            max_dynamic_table_bytes: default_max_dynamic_table_bytes(),
            max_body_capture_bytes: default_max_body_capture_bytes(),
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Http2ConfigError {
    /// No stream could be tracked.
    #[error(
        "http2.max_concurrent_streams must be at least 1: a stream must be tracked to be reported"
    )]
    NoStreams,
    /// Header lists below the smallest request.
    #[error("http2.max_header_list_bytes = {0} is too small: set it to at least {MIN_HEADER_LIST_BYTES} (bytes)")]
    HeaderListTooSmall(usize),
}

/// Smallest useful `max_header_list_bytes`: four pseudo-header fields of a short request.
pub const MIN_HEADER_LIST_BYTES: usize = 256;

impl Http2Config {
    /// Checks the settings; the sensor calls this once at start-up.
    pub fn validate(&self) -> Result<(), Http2ConfigError> {
        if self.max_concurrent_streams == 0 {
            return Err(Http2ConfigError::NoStreams);
        }
        if self.max_header_list_bytes < MIN_HEADER_LIST_BYTES {
            return Err(Http2ConfigError::HeaderListTooSmall(
                self.max_header_list_bytes,
            ));
        }
        Ok(())
    }

    /// The settings clamped into their valid ranges (used when `validate` was skipped).
    pub fn clamped(mut self) -> Self {
        self.max_concurrent_streams = self.max_concurrent_streams.max(1);
        self.max_header_list_bytes = self.max_header_list_bytes.max(MIN_HEADER_LIST_BYTES);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_empty_input_gives_defaults() {
        let c: Http2Config = serde_json::from_str("{}").expect("parse");
        assert_eq!(c, Http2Config::default());
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r: Result<Http2Config, _> = serde_json::from_str(r#"{"max_streams": 1}"#);
        assert!(r.is_err());
    }

    #[test]
    fn bad_values_are_rejected_or_clamped() {
        let c = Http2Config {
            max_concurrent_streams: 0,
            ..Http2Config::default()
        };
        assert_eq!(c.validate(), Err(Http2ConfigError::NoStreams));
        assert_eq!(c.clamped().max_concurrent_streams, 1);
        let c = Http2Config {
            max_header_list_bytes: 10,
            ..Http2Config::default()
        };
        assert_eq!(c.validate(), Err(Http2ConfigError::HeaderListTooSmall(10)));
        assert_eq!(c.clamped().max_header_list_bytes, MIN_HEADER_LIST_BYTES);
    }
}
