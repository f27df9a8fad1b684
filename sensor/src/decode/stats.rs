//! What the decoder counted, and why it skipped packets.

use serde::Serialize;

pub use super::checksum::ChecksumStats;
pub use super::frag::FragStats;

/// Why a packet produced no TCP segment. Truncated (cut by the snap length) and malformed
/// (a length or field that lies) are different facts and are counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// The link layer carries something other than IPv4/IPv6 (ARP, LLDP, STP...).
    NotIp,
    /// UDP that is not a tunnel on a configured port, or tunnel signalling (GTP echo,
    /// GENEVE OAM, Teredo bubbles).
    Udp,
    /// Another IP protocol (ICMP, SCTP, ESP...).
    OtherIpProtocol,
    /// An IP fragment held for reassembly, or dropped (see [`FragStats`]).
    IpFragment,
    /// The capture cut the packet before the end of a header we need.
    TruncatedHeader,
    /// A link-layer or tunnel header is malformed (bad length, unknown family, a tunnel type
    /// or version apitap does not decode, nesting deeper than `decode.max_tunnel_depth`).
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
    /// UDP packets that are not tunnels, and tunnel signalling.
    pub udp: u64,
    /// Other IP protocols.
    pub other_ip_protocol: u64,
    /// IP fragments that gave no segment: held until their datagram completes, or dropped
    /// (the fragment that completes a datagram counts as a TCP segment instead).
    pub ip_fragments: u64,
    /// Packets cut by the snap length inside a header.
    pub truncated_headers: u64,
    /// Malformed link-layer headers.
    pub malformed_link: u64,
    /// Malformed IP headers.
    pub malformed_ip: u64,
    /// Malformed TCP headers.
    pub malformed_tcp: u64,
    /// Tunnels decapsulated, by type, and why tunnels gave no packet.
    pub tunnels: TunnelStats,
    /// IP fragment reassembly.
    pub fragments: FragStats,
    /// IPv4 header and TCP checksum verification.
    pub checksums: ChecksumStats,
}

/// Tunnel counters: layers peeled by type (a packet in two tunnels counts in both), and
/// tunnel headers that gave no packet. Each skipped packet is also counted once in the
/// [`DecodeStats`] skip counters (`malformed_link`, `truncated_headers` or `udp`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TunnelStats {
    /// VXLAN and VXLAN-GPE layers.
    pub vxlan: u64,
    /// GENEVE layers.
    pub geneve: u64,
    /// GRE layers (IP protocol 47 and GRE-in-UDP), ERSPAN excluded.
    pub gre: u64,
    /// ERSPAN layers (types I, II and III).
    pub erspan: u64,
    /// GTP-U layers.
    pub gtp_u: u64,
    /// Teredo layers.
    pub teredo: u64,
    /// AYIYA layers.
    pub ayiya: u64,
    /// IP-in-IP layers (IPv4/IPv6 in IPv4/IPv6).
    pub ip_in_ip: u64,
    /// Tunnel headers cut by the capture.
    pub truncated: u64,
    /// Tunnel headers with a field the specification does not allow, or a protocol apitap
    /// does not decode.
    pub malformed: u64,
    /// Tunnel packets without user data (GTP signalling, GENEVE OAM, Teredo bubbles, AYIYA
    /// keep-alives).
    pub control: u64,
    /// Packets nested deeper than `decode.max_tunnel_depth`.
    pub depth_exceeded: u64,
    /// Times the zone table (`decode.max_tunnel_zones`) was full and started over.
    pub zone_table_resets: u64,
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
