//! What the user sets for WebSocket tracking. Per connection, memory is bounded by two frame
//! headers, two control payloads (125 bytes each) and two sample buffers of
//! `max_sample_bytes`, plus the stored samples (`max_sampled_messages * max_sample_bytes`).

use serde::{Deserialize, Serialize};

/// WebSocket limits.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketConfig {
    /// Largest frame payload, in bytes, taken as framing. A longer frame is reported as
    /// `ws_frame_too_large` and its direction stops being parsed (its bytes are counted as
    /// `unparsed_bytes`): a length that large is far more often lost framing than a real frame.
    #[serde(default = "default_max_frame_payload_bytes")]
    pub max_frame_payload_bytes: u64,
    /// Text messages sampled per connection (both directions together); 0 turns sampling off.
    /// Only complete, uncompressed, UTF-8 text messages are sampled.
    #[serde(default = "default_max_sampled_messages")]
    pub max_sampled_messages: usize,
    /// Bytes kept of each sampled message; a longer message is sampled truncated (at a UTF-8
    /// character boundary) and marked `truncated`.
    #[serde(default = "default_max_sample_bytes")]
    pub max_sample_bytes: usize,
}

/// Servers cap messages at 1-64 MiB (nginx has no cap, browsers about 2 GiB); 1 GiB passes
/// every real frame and still stops a garbage 64-bit length from swallowing the stream.
fn default_max_frame_payload_bytes() -> u64 {
    1 << 30
}

/// 0: message content is as sensitive as a body; the sensor raises it with body capture.
fn default_max_sampled_messages() -> usize {
    0
}

/// 1 KiB shows the shape of a JSON message without storing large documents.
fn default_max_sample_bytes() -> usize {
    1024
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            max_frame_payload_bytes: default_max_frame_payload_bytes(),
            max_sampled_messages: default_max_sampled_messages(),
            max_sample_bytes: default_max_sample_bytes(),
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebSocketConfigError {
    /// `max_frame_payload_bytes` below the largest control frame.
    #[error(
        "websocket.max_frame_payload_bytes = {0} is too small: set it to at least 125 (bytes), \
         the largest control frame"
    )]
    FramePayloadTooSmall(u64),
    /// Sampling on with an empty sample.
    #[error(
        "websocket.max_sample_bytes = 0 with max_sampled_messages = {0}: set max_sample_bytes \
         above 0 or max_sampled_messages to 0"
    )]
    EmptySample(usize),
}

impl WebSocketConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), WebSocketConfigError> {
        if self.max_frame_payload_bytes < super::frame::MAX_CONTROL_PAYLOAD_BYTES {
            return Err(WebSocketConfigError::FramePayloadTooSmall(
                self.max_frame_payload_bytes,
            ));
        }
        if self.max_sampled_messages > 0 && self.max_sample_bytes == 0 {
            return Err(WebSocketConfigError::EmptySample(self.max_sampled_messages));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_unknown_fields_are_rejected() {
        assert_eq!(WebSocketConfig::default().validate(), Ok(()));
        let cfg: WebSocketConfig = toml::from_str("max_sampled_messages = 4").unwrap();
        assert_eq!(cfg.max_sampled_messages, 4);
        assert_eq!(cfg.max_sample_bytes, 1024);
        assert!(toml::from_str::<WebSocketConfig>("max_samples = 4").is_err());
    }

    #[test]
    fn settings_that_cannot_work_are_named() {
        let cfg = WebSocketConfig {
            max_frame_payload_bytes: 10,
            ..WebSocketConfig::default()
        };
        assert_eq!(
            cfg.validate(),
            Err(WebSocketConfigError::FramePayloadTooSmall(10))
        );
        let cfg = WebSocketConfig {
            max_sampled_messages: 2,
            max_sample_bytes: 0,
            ..WebSocketConfig::default()
        };
        assert_eq!(cfg.validate(), Err(WebSocketConfigError::EmptySample(2)));
    }
}
