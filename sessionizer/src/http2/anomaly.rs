//! What can go wrong in HTTP/2, carried on the [`super::H2Exchange`] it concerns and counted
//! in [`super::Http2Stats`].

use serde::Serialize;

/// An HTTP/2-layer anomaly. Capping a stored body is not an anomaly (`truncated` says it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum H2Anomaly {
    /// A header block of this stream referred to HPACK dynamic-table entries never seen (the
    /// capture joined late, or lost a block): those fields are missing, the others are kept.
    HpackStateUnknown,
    /// A header block of this stream did not decode (corrupt integer, string or Huffman
    /// code): the fields after the error are missing.
    HpackError,
    /// A header list larger than `max_header_list_bytes`: the fields past the bound are
    /// missing (or the whole block, when even its compressed form was larger).
    HeaderListTooLarge,
    /// More than `max_concurrent_streams` streams were open: this one was emitted as it stood
    /// to make room for a newer one.
    StreamLimit,
    /// A frame of this stream broke RFC 9113 framing (bad length, padding, a CONTINUATION out
    /// of place); it was skipped.
    FrameError,
    /// Bytes of the client direction were lost (reassembly gap) while this stream was open.
    GapInRequest,
    /// Bytes of the server direction were lost (reassembly gap) while this stream was open.
    GapInResponse,
    /// The stream was reset (RST_STREAM) with an error code other than NO_ERROR.
    RstStream,
    /// A GOAWAY said this stream was never processed (its id is above the last stream id).
    GoAway,
    /// The connection ended before the request's END_STREAM.
    IncompleteRequest,
    /// The connection ended before the response's END_STREAM.
    IncompleteResponse,
    /// The stream's request header block was not seen (the capture joined late or lost it):
    /// the exchange starts with later frames.
    RequestNotSeen,
    /// A header block decoded in full lacks a mandatory pseudo-header (`:method` and `:path`
    /// of a request, RFC 9113 section 8.3.1; `:status` of a response, section 8.3.2).
    MissingPseudoHeader,
    /// gRPC length-prefixed framing broke on this stream (a gap through a message prefix, or
    /// the stream ended inside a message); message counts stop there.
    GrpcFraming,
}

impl H2Anomaly {
    /// Every variant, in declaration order (the order of [`H2Anomaly::index`]).
    pub const ALL: [H2Anomaly; 14] = [
        H2Anomaly::HpackStateUnknown,
        H2Anomaly::HpackError,
        H2Anomaly::HeaderListTooLarge,
        H2Anomaly::StreamLimit,
        H2Anomaly::FrameError,
        H2Anomaly::GapInRequest,
        H2Anomaly::GapInResponse,
        H2Anomaly::RstStream,
        H2Anomaly::GoAway,
        H2Anomaly::IncompleteRequest,
        H2Anomaly::IncompleteResponse,
        H2Anomaly::RequestNotSeen,
        H2Anomaly::MissingPseudoHeader,
        H2Anomaly::GrpcFraming,
    ];

    /// Number of variants.
    pub const COUNT: usize = Self::ALL.len();

    /// Dense index in `0..COUNT`, for counter arrays.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name used in JSON and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            H2Anomaly::HpackStateUnknown => "hpack_state_unknown",
            H2Anomaly::HpackError => "hpack_error",
            H2Anomaly::HeaderListTooLarge => "header_list_too_large",
            H2Anomaly::StreamLimit => "stream_limit",
            H2Anomaly::FrameError => "frame_error",
            H2Anomaly::GapInRequest => "gap_in_request",
            H2Anomaly::GapInResponse => "gap_in_response",
            H2Anomaly::RstStream => "rst_stream",
            H2Anomaly::GoAway => "go_away",
            H2Anomaly::IncompleteRequest => "incomplete_request",
            H2Anomaly::IncompleteResponse => "incomplete_response",
            H2Anomaly::RequestNotSeen => "request_not_seen",
            H2Anomaly::MissingPseudoHeader => "missing_pseudo_header",
            H2Anomaly::GrpcFraming => "grpc_framing",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_all_order_and_names_match_serde() {
        for (i, a) in H2Anomaly::ALL.iter().enumerate() {
            assert_eq!(a.index(), i);
            let json = serde_json::to_string(a).expect("serialize");
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
    }
}
