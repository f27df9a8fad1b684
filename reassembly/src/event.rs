//! The output of reassembly: ordered stream events, delivered to a [`StreamSink`].

use std::net::SocketAddr;

/// Identity of one reassembled connection, unique for the life of a [`crate::Reassembler`]
/// (a counter, so replays are deterministic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Which endpoint sent the bytes, relative to the orientation announced in [`StreamEvent::Open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint believed to be the client.
    Client,
    /// The endpoint believed to be the server.
    Server,
}

impl Side {
    /// The other side.
    #[inline]
    pub fn flip(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// How the reassembler decided who the client is; consumers may re-orient when the basis is weak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrientationBasis {
    /// The SYN was seen: its sender is the client.
    Syn,
    /// Only the SYN-ACK was seen: its receiver is the client.
    SynAck,
    /// No handshake seen; the endpoint with the well-known or lower port is the server.
    Ports,
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Both directions sent FIN and all data was delivered.
    Fin,
    /// A RST was seen.
    Rst,
    /// No packet for the idle timeout (packet time).
    Idle,
    /// Evicted as least recently used because the flow table was full.
    Evicted,
    /// End of input (or shutdown): every open connection is flushed.
    EndOfInput,
    /// A new SYN reused the 4-tuple of this connection.
    Reused,
}

/// Things that went wrong at the TCP layer, attached to the connection that saw them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpAnomaly {
    /// A retransmitted or overlapping segment carried bytes different from those already
    /// accepted (buffered, or delivered and not yet acknowledged); first data wins, except
    /// that a copy with a bad checksum never wins over a correct one.
    RetransmissionMismatch,
    /// Out-of-order bytes for this stream exceeded `max_ooo_bytes_per_stream`; a gap was forced.
    StreamBufferLimit,
    /// Out-of-order bytes over all streams exceeded `max_ooo_bytes_total`; a gap was forced.
    GlobalBufferLimit,
    /// The stream was picked up without its handshake.
    MidStreamPickup,
    /// A segment's IPv4 TTL or IPv6 hop limit differed from the previous one of its
    /// direction: a copy that may never reach the receiver (insertion), or a route change.
    TtlChanged,
    /// A segment's TCP or IPv4 header checksum was wrong: the receiver dropped it.
    BadChecksum,
}

impl TcpAnomaly {
    /// The snake_case name used in JSON and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            TcpAnomaly::RetransmissionMismatch => "retransmission_mismatch",
            TcpAnomaly::StreamBufferLimit => "stream_buffer_limit",
            TcpAnomaly::GlobalBufferLimit => "global_buffer_limit",
            TcpAnomaly::MidStreamPickup => "mid_stream_pickup",
            TcpAnomaly::TtlChanged => "ttl_changed",
            TcpAnomaly::BadChecksum => "bad_checksum",
        }
    }
}

/// One reassembly event. Data is borrowed: copy what must outlive the call.
#[derive(Debug)]
pub enum StreamEvent<'a> {
    /// A new connection; sent before any other event of `conn`.
    Open {
        /// Connection id.
        conn: ConnId,
        /// Packet time of the first segment.
        ts_us: u64,
        /// Flow zone (VLAN, tunnel id).
        zone: u64,
        /// Believed client endpoint.
        client: SocketAddr,
        /// Believed server endpoint.
        server: SocketAddr,
        /// How the orientation was decided.
        basis: OrientationBasis,
    },
    /// In-order bytes of one direction.
    Data {
        /// Connection id.
        conn: ConnId,
        /// Packet time of the segment that carried (or completed) these bytes.
        ts_us: u64,
        /// Sender.
        from: Side,
        /// The bytes, in stream order, contiguous with the previous Data/Gap of `from`.
        data: &'a [u8],
    },
    /// `len` bytes of one direction are lost; the next Data of `from` follows them.
    Gap {
        /// Connection id.
        conn: ConnId,
        /// Packet time at which the gap was declared.
        ts_us: u64,
        /// Sender of the lost bytes.
        from: Side,
        /// Number of bytes lost.
        len: u64,
    },
    /// Something anomalous happened on the connection (also counted in the stats).
    Anomaly {
        /// Connection id.
        conn: ConnId,
        /// Packet time.
        ts_us: u64,
        /// Direction concerned.
        from: Side,
        /// What happened.
        kind: TcpAnomaly,
    },
    /// The connection ended; no event of `conn` follows.
    Close {
        /// Connection id.
        conn: ConnId,
        /// Packet time.
        ts_us: u64,
        /// Why.
        reason: CloseReason,
    },
}

/// Receiver of stream events.
pub trait StreamSink {
    /// Called for each event, in order.
    fn on_event(&mut self, ev: StreamEvent<'_>);
}

impl<F: FnMut(StreamEvent<'_>)> StreamSink for F {
    fn on_event(&mut self, ev: StreamEvent<'_>) {
        self(ev)
    }
}
