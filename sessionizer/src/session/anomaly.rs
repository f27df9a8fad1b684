//! What can go wrong while sessionizing a transaction, carried on its http record
//! (`session_anomalies`) and counted per session and in [`super::SessionStats`].

use serde::Serialize;

/// A session-layer anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionAnomaly {
    /// A body's `Content-Encoding` output reached `body.max_decoded_bytes` or
    /// `body.max_decompression_ratio` and was cut (a decompression bomb, or a large body).
    BodyDecodeLimit,
    /// A body was not valid for its `Content-Encoding`, or the coding is unknown.
    BodyDecodeFailed,
    /// A JSON body needed by a key or parameter did not parse.
    JsonParseFailed,
    /// A multipart scan stopped at `body.max_multipart_parts` before finding its field.
    MultipartPartsLimit,
    /// A JWT's signature did not verify with the configured key (or its header named another
    /// algorithm); the session key is marked `verified: false` and kept apart from verified
    /// tokens with the same claim.
    JwtSignatureInvalid,
    /// A forwarding header from a trusted proxy could not be read; the nearest readable hop
    /// was taken as the client.
    ForwardedHeaderInvalid,
}

impl SessionAnomaly {
    /// The exported name.
    pub fn name(self) -> &'static str {
        match self {
            SessionAnomaly::BodyDecodeLimit => "body_decode_limit",
            SessionAnomaly::BodyDecodeFailed => "body_decode_failed",
            SessionAnomaly::JsonParseFailed => "json_parse_failed",
            SessionAnomaly::MultipartPartsLimit => "multipart_parts_limit",
            SessionAnomaly::JwtSignatureInvalid => "jwt_signature_invalid",
            SessionAnomaly::ForwardedHeaderInvalid => "forwarded_header_invalid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for a in [
            SessionAnomaly::BodyDecodeLimit,
            SessionAnomaly::BodyDecodeFailed,
            SessionAnomaly::JsonParseFailed,
            SessionAnomaly::MultipartPartsLimit,
            SessionAnomaly::JwtSignatureInvalid,
            SessionAnomaly::ForwardedHeaderInvalid,
        ] {
            assert_eq!(serde_json::to_value(a).unwrap(), a.name());
        }
    }
}
