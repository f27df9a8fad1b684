//! What the decoder counted, and why it skipped packets.

use serde::Serialize;

/// Why a packet produced no TCP segment. Truncated (cut by the snap length) and malformed
/// (a length or field that lies) are different facts and are counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// The link layer carries something other than IPv4/IPv6 (ARP, LLDP, STP...).
    NotIp,
    /// UDP.
    Udp,
    /// Another IP protocol (ICMP, SCTP, ESP...).
    OtherIpProtocol,
    /// An IP fragment; fragment reassembly is not implemented yet, so it is counted and skipped.
    IpFragment,
    /// The capture cut the packet before the end of a header we need.
    TruncatedHeader,
    /// A link-layer header is malformed (bad length, unknown family).
    MalformedLink,
    /// The IP header is malformed.
    MalformedIp,
    /// The TCP header is malformed.
    MalformedTcp,
}

impl Skip {
    /// `TruncatedHeader` when the packet was cut by the capture, else `malformed`.
    #[inline]
    pub fn length_or(cut: bool, malformed: Skip) -> Skip {
        if cut {
            Skip::TruncatedHeader
        } else {
            malformed
        }
    }
}

/// Monotonic decode counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DecodeStats {
    /// Packets read.
    pub packets: u64,
    /// Bytes on the wire (original lengths, not captured lengths).
    pub bytes: u64,
    /// Packets that yielded a TCP segment.
    pub tcp_segments: u64,
    /// TCP segments whose payload was cut by the snap length (the tail becomes a gap).
    pub truncated_payloads: u64,
    /// TCP segments whose IP length field claimed more bytes than the uncut packet had.
    pub ip_length_mismatches: u64,
    /// Non-IP link payloads.
    pub not_ip: u64,
    /// UDP packets.
    pub udp: u64,
    /// Other IP protocols.
    pub other_ip_protocol: u64,
    /// IP fragments (skipped).
    pub ip_fragments: u64,
    /// Packets cut by the snap length inside a header.
    pub truncated_headers: u64,
    /// Malformed link-layer headers.
    pub malformed_link: u64,
    /// Malformed IP headers.
    pub malformed_ip: u64,
    /// Malformed TCP headers.
    pub malformed_tcp: u64,
}

impl DecodeStats {
    /// Count one skipped packet.
    pub fn count_skip(&mut self, skip: Skip) {
        let c = match skip {
            Skip::NotIp => &mut self.not_ip,
            Skip::Udp => &mut self.udp,
            Skip::OtherIpProtocol => &mut self.other_ip_protocol,
            Skip::IpFragment => &mut self.ip_fragments,
            Skip::TruncatedHeader => &mut self.truncated_headers,
            Skip::MalformedLink => &mut self.malformed_link,
            Skip::MalformedIp => &mut self.malformed_ip,
            Skip::MalformedTcp => &mut self.malformed_tcp,
        };
        *c += 1;
    }
}
