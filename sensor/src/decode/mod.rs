//! Decode: link layer and IP/TCP headers, straight from the packet slice.
//!
//! The link layers are peeled here by hand (they are a few fixed offsets); IPv4, IPv6 with its
//! extension headers, and TCP are decoded with `etherparse`. The output is a borrowed
//! [`Segment`] for reassembly, or a [`Skip`] saying why the packet carries no TCP for us.

mod link;
mod stats;

pub use link::{LinkType, UnsupportedLinkType};
pub use stats::{DecodeStats, Skip};

use std::net::SocketAddr;

use apitap_reassembly::{Segment, TcpFlags};
use etherparse::{IpNumber, LaxIpSlice, TcpSlice};

/// Per-packet decoder; holds no state but the counters of what it decoded and skipped.
#[derive(Debug, Default)]
pub struct Decoder {
    stats: DecodeStats,
}

impl Decoder {
    /// A decoder with zeroed counters.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// The counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Decode one captured packet of link type `link`. `wire_len` is the packet's length on the
    /// wire; when it is larger than `data.len()` the capture cut the packet (snap length).
    pub fn decode<'a>(
        &mut self,
        link: LinkType,
        data: &'a [u8],
        wire_len: u32,
    ) -> Option<Segment<'a>> {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(wire_len);
        let cut = (data.len() as u64) < u64::from(wire_len);
        match decode_tcp(link, data, cut) {
            Ok((seg, payload)) => {
                self.stats.tcp_segments += 1;
                match payload {
                    PayloadState::Whole => {}
                    PayloadState::Truncated => self.stats.truncated_payloads += 1,
                    PayloadState::LengthMismatch => self.stats.ip_length_mismatches += 1,
                }
                Some(seg)
            }
            Err(skip) => {
                self.stats.count_skip(skip);
                None
            }
        }
    }
}

/// Whether a segment's payload is all there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PayloadState {
    /// Every byte the IP header announces is present.
    Whole,
    /// The capture's snap length cut the payload: the tail is missing, not malformed.
    Truncated,
    /// The IP length field claims more bytes than the packet has, and the capture did not cut it.
    LengthMismatch,
}

/// Decode link, IP and TCP.
fn decode_tcp(link: LinkType, data: &[u8], cut: bool) -> Result<(Segment<'_>, PayloadState), Skip> {
    let ip = link::strip(link, data, cut)?;
    let (ip, _ext_err) =
        LaxIpSlice::from_slice(ip).map_err(|_| Skip::length_or(cut, Skip::MalformedIp))?;
    let payload = ip.payload();
    if payload.fragmented {
        return Err(Skip::IpFragment);
    }
    if payload.ip_number != IpNumber::TCP {
        return Err(if payload.ip_number == IpNumber::UDP {
            Skip::Udp
        } else {
            Skip::OtherIpProtocol
        });
    }
    let state = match (payload.incomplete, cut) {
        (false, _) => PayloadState::Whole,
        (true, true) => PayloadState::Truncated,
        (true, false) => PayloadState::LengthMismatch,
    };
    let tcp = TcpSlice::from_slice(payload.payload)
        .map_err(|_| Skip::length_or(cut, Skip::MalformedTcp))?;
    let src = SocketAddr::new(ip.source_addr(), tcp.source_port());
    let dst = SocketAddr::new(ip.destination_addr(), tcp.destination_port());
    let flags = TcpFlags(tcp_flags(&tcp));
    let seg = Segment {
        zone: 0,
        src,
        dst,
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        payload: tcp.payload(),
    };
    Ok((seg, state))
}

/// The low control bits of a TCP header as one byte (RFC 9293 section 3.1).
#[inline]
fn tcp_flags(tcp: &TcpSlice<'_>) -> u8 {
    let mut f = 0;
    if tcp.fin() {
        f |= TcpFlags::FIN;
    }
    if tcp.syn() {
        f |= TcpFlags::SYN;
    }
    if tcp.rst() {
        f |= TcpFlags::RST;
    }
    if tcp.psh() {
        f |= TcpFlags::PSH;
    }
    if tcp.ack() {
        f |= TcpFlags::ACK;
    }
    if tcp.urg() {
        f |= TcpFlags::URG;
    }
    f
}

#[cfg(test)]
mod tests;
