//! The input of reassembly: one decoded TCP segment, borrowed from the packet.

use std::net::SocketAddr;

/// TCP control bits (RFC 9293 section 3.1), as carried in the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field is significant.
    pub const URG: u8 = 0x20;

    /// True when every bit of `mask` is set.
    #[inline]
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// Whether the checksums of the headers that carried a segment were verified (IPv4 header and
/// TCP, RFC 9293 section 3.1), and how that came out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Checksum {
    /// Not verified: verification is off, the capture offloads checksums, or the packet was
    /// cut by the snap length.
    #[default]
    NotChecked,
    /// Verified and correct.
    Valid,
    /// Verified and wrong: the receiver dropped this segment. Reassembly never lets its bytes
    /// win over a correct copy and lets its header change no connection state.
    Invalid,
}

/// One TCP segment as seen on the wire; `payload` borrows the packet buffer.
///
/// `payload` may be shorter than the segment really was (snap-length truncation): the missing
/// tail then simply never arrives and is reported as a gap like any other lost bytes.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// Isolation domain of the flow (VLAN id, tunnel VNI...); 0 when there is none.
    /// Flows with equal addresses in different zones never mix.
    pub zone: u64,
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (or of the SYN/FIN).
    pub seq: u32,
    /// Acknowledgment number; meaningful only when `flags` has ACK.
    pub ack: u32,
    /// TCP control bits.
    pub flags: TcpFlags,
    /// Captured payload bytes.
    pub payload: &'a [u8],
    /// IPv4 TTL or IPv6 hop limit of the (innermost) IP header that carried the segment; a
    /// change within a direction is the anomaly `ttl_changed`.
    pub ttl: u8,
    /// Whether the checksums were verified, and their result.
    pub checksum: Checksum,
}

/// Direction-independent identity of a TCP connection: both directions map to the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Isolation domain, see [`Segment::zone`].
    pub zone: u64,
    /// The lower of the two endpoints.
    pub lo: SocketAddr,
    /// The higher of the two endpoints.
    pub hi: SocketAddr,
}

impl FlowKey {
    /// Canonical key for a segment; the second value is true when `src` is `lo`.
    #[inline]
    pub fn of(seg: &Segment<'_>) -> (FlowKey, bool) {
        if seg.src <= seg.dst {
            (
                FlowKey {
                    zone: seg.zone,
                    lo: seg.src,
                    hi: seg.dst,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    zone: seg.zone,
                    lo: seg.dst,
                    hi: seg.src,
                },
                false,
            )
        }
    }
}
