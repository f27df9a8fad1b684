//! What the user sets for the HTTP stage. Every per-connection buffer and queue is bounded here.

use serde::{Deserialize, Serialize};

pub use super::capture::SelectedCapture;

/// Size of the header storage the parser uses on the stack; `max_headers` may not exceed it.
pub const HEADER_STORAGE: usize = 256;

/// HTTP/1.x parsing limits. Per connection, memory is bounded by about
/// `2 * max_header_bytes + max_pending_requests * (max_header_bytes + max_body_capture_bytes)`;
/// over all connections together by `max_held_bytes_total`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest head (start line and header fields), and largest chunked trailer section, in
    /// bytes. A larger head is reported as `header_too_large` and skipped.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Largest number of header fields in one head (at most 256). More is reported as
    /// `too_many_headers`.
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// How many bytes of each body (after chunked decoding) are stored on the transaction.
    /// Body byte counts stay exact beyond it; the stored prefix is then `body_truncated`.
    #[serde(default = "default_max_body_capture_bytes")]
    pub max_body_capture_bytes: usize,
    /// Requests waiting for their response on one connection (pipelining depth). At the bound
    /// the oldest waiting request is emitted without response (`too_many_pending_requests`).
    #[serde(default = "default_max_pending_requests")]
    pub max_pending_requests: usize,
    /// Interim (1xx) status codes remembered per response; more are counted, not stored.
    #[serde(default = "default_max_interim_responses")]
    pub max_interim_responses: usize,
    /// Bytes held over all connections together: partial heads, requests waiting for their
    /// response, stored bodies, bytes held while a protocol is sniffed. Beyond it the
    /// connection idle longest gives up what it holds (`memory_evictions`, anomaly
    /// `memory_limit`). The sensor lowers it to the HTTP share of `limits.max_memory_mb`.
    #[serde(default = "default_max_held_bytes_total")]
    pub max_held_bytes_total: usize,
    /// Bodies stored beyond `max_body_capture_bytes` because a later stage reads them: set by
    /// the sensor from what the sessions and analyses read, not by the config file.
    #[serde(skip)]
    pub selected: SelectedCapture,
}

/// Browsers and servers cap heads at 8-64 KiB; 64 KiB keeps every legitimate head.
fn default_max_header_bytes() -> usize {
    64 * 1024
}

/// 100 is the usual server limit (nginx, hyper); a little more tolerates odd clients.
fn default_max_headers() -> usize {
    128
}

/// 0: bodies are counted but not stored unless a later stage needs them (the sensor raises it
/// when session keys or context parameters read bodies); copying every body would cost more
/// than all the rest of the pipeline.
fn default_max_body_capture_bytes() -> usize {
    0
}

/// Real clients pipeline a handful of requests; 64 is generous and still bounds memory.
fn default_max_pending_requests() -> usize {
    64
}

/// 256 MiB: the HTTP share of the default memory budget (`limits.max_memory_mb` = 1024).
pub fn default_max_held_bytes_total() -> usize {
    256 * 1024 * 1024
}

/// Servers send one `100 Continue` or a few `103 Early Hints`; 8 leaves room.
fn default_max_interim_responses() -> usize {
    8
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_header_bytes: default_max_header_bytes(),
            max_headers: default_max_headers(),
            max_body_capture_bytes: default_max_body_capture_bytes(),
            max_pending_requests: default_max_pending_requests(),
            max_interim_responses: default_max_interim_responses(),
            max_held_bytes_total: default_max_held_bytes_total(),
            selected: SelectedCapture::default(),
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpConfigError {
    /// `max_header_bytes` below the smallest useful head.
    #[error("http.max_header_bytes = {0} is too small: set it to at least 64 (bytes)")]
    HeaderBytesTooSmall(usize),
    /// `max_headers` out of range.
    #[error("http.max_headers = {0} must be between 1 and {HEADER_STORAGE}")]
    MaxHeadersOutOfRange(usize),
    /// `max_held_bytes_total` cannot hold one head.
    #[error(
        "http.max_held_bytes_total = {held} is smaller than http.max_header_bytes = {head}: \
         raise the first or lower the second"
    )]
    HeldBelowOneHead {
        /// `max_held_bytes_total`.
        held: usize,
        /// `max_header_bytes`.
        head: usize,
    },
    /// `max_pending_requests` is zero.
    #[error("http.max_pending_requests must be at least 1: a request must be able to wait for its response")]
    NoPendingRequests,
}

impl HttpConfig {
    /// Checks the settings; the sensor calls this once at start-up.
    pub fn validate(&self) -> Result<(), HttpConfigError> {
        if self.max_header_bytes < 64 {
            return Err(HttpConfigError::HeaderBytesTooSmall(self.max_header_bytes));
        }
        if self.max_headers == 0 || self.max_headers > HEADER_STORAGE {
            return Err(HttpConfigError::MaxHeadersOutOfRange(self.max_headers));
        }
        if self.max_pending_requests == 0 {
            return Err(HttpConfigError::NoPendingRequests);
        }
        if self.max_held_bytes_total < self.max_header_bytes {
            return Err(HttpConfigError::HeldBelowOneHead {
                held: self.max_held_bytes_total,
                head: self.max_header_bytes,
            });
        }
        Ok(())
    }

    /// The settings clamped into their valid ranges (used when `validate` was skipped).
    pub(crate) fn clamped(mut self) -> Self {
        self.max_header_bytes = self.max_header_bytes.max(64);
        self.max_headers = self.max_headers.clamp(1, HEADER_STORAGE);
        self.max_pending_requests = self.max_pending_requests.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_empty_input_gives_defaults() {
        let c: HttpConfig = serde_json::from_str("{}").expect("parse");
        assert_eq!(c, HttpConfig::default());
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r: Result<HttpConfig, _> = serde_json::from_str(r#"{"max_body_bytes": 1}"#);
        assert!(r.is_err());
    }

    #[test]
    fn bad_values_are_rejected() {
        let c = HttpConfig {
            max_pending_requests: 0,
            ..HttpConfig::default()
        };
        assert_eq!(c.validate(), Err(HttpConfigError::NoPendingRequests));
        let c = HttpConfig {
            max_headers: 1000,
            ..HttpConfig::default()
        };
        assert_eq!(
            c.validate(),
            Err(HttpConfigError::MaxHeadersOutOfRange(1000))
        );
        assert_eq!(c.clamped().max_headers, HEADER_STORAGE);
    }
}
