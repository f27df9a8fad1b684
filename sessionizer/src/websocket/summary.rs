//! The output of WebSocket tracking: one [`WebSocketSummary`] per connection, the body of a
//! `type: "websocket"` record.

use apitap_reassembly::Side;
use serde::{Serialize, Serializer};

use super::anomaly::WsAnomalies;
use super::frame::Opcode;

/// Counters of one direction. Messages are whole data messages (all frames of a fragmented
/// message count once); frames include control frames.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirectionSummary {
    /// Data messages completed (final frame seen).
    pub messages: u64,
    /// Of `messages`, text messages.
    pub text_messages: u64,
    /// Of `messages`, binary messages.
    pub binary_messages: u64,
    /// Of `messages`, messages compressed by an extension (RSV1, permessage-deflate).
    pub compressed_messages: u64,
    /// Payload bytes of data frames (on the wire, so compressed size when compressed),
    /// including bytes of messages not completed and bytes lost in gaps inside payloads.
    pub message_bytes: u64,
    /// Frames whose header was parsed, data and control.
    pub frames: u64,
    /// Ping frames.
    pub pings: u64,
    /// Pong frames.
    pub pongs: u64,
    /// Bytes lost in reassembly gaps.
    pub lost_bytes: u64,
    /// Bytes not parsed because the framing of this direction was lost.
    pub unparsed_bytes: u64,
}

/// The set of opcodes seen, serialized as a list of names in opcode order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpcodeSet(u8);

impl OpcodeSet {
    /// Adds one.
    pub fn insert(&mut self, op: Opcode) {
        self.0 |= 1 << op.index();
    }

    /// Whether `op` was seen.
    pub fn contains(self, op: Opcode) -> bool {
        self.0 & (1 << op.index()) != 0
    }

    /// The members, in opcode order.
    pub fn iter(self) -> impl Iterator<Item = Opcode> {
        Opcode::ALL.into_iter().filter(move |o| self.contains(*o))
    }
}

impl Serialize for OpcodeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Opcode::name))
    }
}

/// The closing handshake (RFC 6455 section 7), from the first close frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CloseInfo {
    /// Who sent the first close frame.
    #[serde(serialize_with = "side_name")]
    pub initiator: Side,
    /// Status code (RFC 6455 section 7.4); None when the close frame had no payload.
    pub code: Option<u16>,
    /// Reason text (at most 123 bytes by RFC 6455 section 5.5); invalid UTF-8 is replaced.
    pub reason: String,
    /// The peer answered with its own close frame.
    pub acknowledged: bool,
    /// Packet time of the first close frame.
    pub ts_us: u64,
}

/// One sampled text message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TextSample {
    /// Sender.
    #[serde(serialize_with = "side_name")]
    pub from: Side,
    /// Packet time of the message's final frame.
    pub ts_us: u64,
    /// The text, at most `max_sample_bytes` bytes, cut at a character boundary.
    pub text: String,
    /// The message was longer than the sample.
    pub truncated: bool,
}

/// Everything known about one WebSocket connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WebSocketSummary {
    /// Client to server (the sender of the upgrade request).
    pub client: DirectionSummary,
    /// Server to client.
    pub server: DirectionSummary,
    /// Opcodes seen in either direction.
    pub opcodes: OpcodeSet,
    /// The closing handshake, when a close frame was seen.
    pub close: Option<CloseInfo>,
    /// Packet time of the first frame header parsed.
    pub first_ts_us: Option<u64>,
    /// Packet time of the last frame header parsed.
    pub last_ts_us: Option<u64>,
    /// What went wrong.
    pub anomalies: WsAnomalies,
    /// Sampled text messages (only when sampling is on), in completion order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<TextSample>,
}

impl WebSocketSummary {
    /// The counters of one direction.
    pub fn direction(&self, side: Side) -> &DirectionSummary {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
}

/// `"client"` or `"server"`.
pub fn side_name<S: Serializer>(side: &Side, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match side {
        Side::Client => "client",
        Side::Server => "server",
    })
}
