//! What can go wrong on a WebSocket connection, carried on its summary.

use serde::Serialize;

/// A WebSocket-layer anomaly (RFC 6455). Anomalies that stop the parsing of a direction say
/// so; the others are counted and parsing goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WsAnomaly {
    /// A frame header that cannot be framing (a 64-bit length with its high bit set): the
    /// direction stops being parsed; its later bytes are counted as `unparsed_bytes`.
    WsProtocolError,
    /// A frame longer than `max_frame_payload_bytes`: taken as lost framing, the direction
    /// stops being parsed.
    WsFrameTooLarge,
    /// Bytes were lost (reassembly gap). Inside a payload the framing goes on (the lost
    /// bytes are counted); elsewhere the direction stops being parsed.
    WsGap,
    /// A client frame without a masking key (RFC 6455 section 5.1 requires one).
    WsUnmaskedClientFrame,
    /// A server frame with a masking key (RFC 6455 section 5.1 forbids it).
    WsMaskedServerFrame,
    /// RSV bits set that no negotiated extension explains (RFC 6455 section 5.2).
    WsReservedBits,
    /// A reserved opcode (0x3-0x7, 0xB-0xF); the frame is counted and skipped.
    WsReservedOpcode,
    /// A control frame without FIN (RFC 6455 section 5.5: control frames are not fragmented).
    WsFragmentedControlFrame,
    /// A control frame with more than 125 payload bytes (RFC 6455 section 5.5).
    WsControlFrameTooLarge,
    /// A payload length not in its shortest encoding (RFC 6455 section 5.2).
    WsNonMinimalLength,
    /// A continuation frame with no fragmented message open; counted as a message of unknown
    /// type.
    WsUnexpectedContinuation,
    /// A new data frame while a fragmented message was open (RFC 6455 section 5.4); the open
    /// message is counted as incomplete.
    WsInterruptedMessage,
    /// A close frame whose payload is one byte, or whose reason is not UTF-8
    /// (RFC 6455 section 5.5.1).
    WsInvalidClosePayload,
    /// A data frame after this direction sent its close frame (RFC 6455 section 5.5.1).
    WsDataAfterClose,
    /// The connection ended inside a frame or a fragmented message.
    WsIncompleteMessage,
    /// A sampled text message that is not UTF-8 (RFC 6455 section 5.6); it is not sampled.
    WsInvalidUtf8Text,
}

impl WsAnomaly {
    /// Every variant, in declaration order (the order of [`WsAnomaly::index`]).
    pub const ALL: [WsAnomaly; 16] = [
        WsAnomaly::WsProtocolError,
        WsAnomaly::WsFrameTooLarge,
        WsAnomaly::WsGap,
        WsAnomaly::WsUnmaskedClientFrame,
        WsAnomaly::WsMaskedServerFrame,
        WsAnomaly::WsReservedBits,
        WsAnomaly::WsReservedOpcode,
        WsAnomaly::WsFragmentedControlFrame,
        WsAnomaly::WsControlFrameTooLarge,
        WsAnomaly::WsNonMinimalLength,
        WsAnomaly::WsUnexpectedContinuation,
        WsAnomaly::WsInterruptedMessage,
        WsAnomaly::WsInvalidClosePayload,
        WsAnomaly::WsDataAfterClose,
        WsAnomaly::WsIncompleteMessage,
        WsAnomaly::WsInvalidUtf8Text,
    ];

    /// Position in [`WsAnomaly::ALL`], for counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name in records and metrics.
    pub fn name(self) -> &'static str {
        match self {
            WsAnomaly::WsProtocolError => "ws_protocol_error",
            WsAnomaly::WsFrameTooLarge => "ws_frame_too_large",
            WsAnomaly::WsGap => "ws_gap",
            WsAnomaly::WsUnmaskedClientFrame => "ws_unmasked_client_frame",
            WsAnomaly::WsMaskedServerFrame => "ws_masked_server_frame",
            WsAnomaly::WsReservedBits => "ws_reserved_bits",
            WsAnomaly::WsReservedOpcode => "ws_reserved_opcode",
            WsAnomaly::WsFragmentedControlFrame => "ws_fragmented_control_frame",
            WsAnomaly::WsControlFrameTooLarge => "ws_control_frame_too_large",
            WsAnomaly::WsNonMinimalLength => "ws_non_minimal_length",
            WsAnomaly::WsUnexpectedContinuation => "ws_unexpected_continuation",
            WsAnomaly::WsInterruptedMessage => "ws_interrupted_message",
            WsAnomaly::WsInvalidClosePayload => "ws_invalid_close_payload",
            WsAnomaly::WsDataAfterClose => "ws_data_after_close",
            WsAnomaly::WsIncompleteMessage => "ws_incomplete_message",
            WsAnomaly::WsInvalidUtf8Text => "ws_invalid_utf8_text",
        }
    }
}

/// A set of anomalies: one bit per [`WsAnomaly::index`], serialized as a sorted list of names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsAnomalies(u32);

impl WsAnomalies {
    /// Adds one.
    pub fn insert(&mut self, a: WsAnomaly) {
        self.0 |= 1 << a.index();
    }

    /// Whether `a` is in the set.
    pub fn contains(self, a: WsAnomaly) -> bool {
        self.0 & (1 << a.index()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = WsAnomaly> {
        WsAnomaly::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl Serialize for WsAnomalies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(WsAnomaly::name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_variant_at_its_index_with_a_distinct_name() {
        let mut names = std::collections::BTreeSet::new();
        for (i, a) in WsAnomaly::ALL.iter().enumerate() {
            assert_eq!(a.index(), i);
            assert!(a.name().starts_with("ws_"));
            assert!(names.insert(a.name()), "duplicate name {}", a.name());
            let json = serde_json::to_string(a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
    }

    #[test]
    fn the_set_serializes_as_sorted_names() {
        let mut set = WsAnomalies::default();
        assert!(set.is_empty());
        set.insert(WsAnomaly::WsGap);
        set.insert(WsAnomaly::WsProtocolError);
        set.insert(WsAnomaly::WsGap);
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["ws_protocol_error","ws_gap"]"#);
    }
}
