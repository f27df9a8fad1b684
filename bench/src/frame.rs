//! Frame serialisation: Ethernet/IPv4-or-IPv6/TCP with correct checksums, optional VXLAN outer.

use std::net::IpAddr;

use etherparse::{IpHeaders, Ipv4Header, Ipv6Header, PacketBuilder, TcpOptionElement};

use crate::error::GenError;

/// IP TTL of client packets as seen by the sensor (Linux default 64, a few hops away).
const CLIENT_TTL: u8 = 61;
/// IP TTL of server packets (sensor next to the servers).
const SERVER_TTL: u8 = 64;
/// Window scale shift advertised in SYNs (Linux default, RFC 7323 §2).
pub const WINDOW_SCALE: u8 = 7;
/// Window advertised in SYN and SYN-ACK segments (unscaled, RFC 7323 §2.2).
const SYN_WINDOW: u16 = 64_240;
/// Window advertised after the handshake: 502 << 7 = 64 256 bytes.
const ESTABLISHED_WINDOW: u16 = 502;
/// IANA-assigned VXLAN UDP port (RFC 7348 §5).
pub const VXLAN_PORT: u16 = 4789;
/// VXLAN header length (RFC 7348 §5).
pub const VXLAN_HEADER_LEN: usize = 8;
/// VXLAN flags byte with the I (valid VNI) bit set (RFC 7348 §5).
const VXLAN_FLAG_VNI: u8 = 0x08;
/// First UDP source port of the VXLAN outer header; RFC 7348 §5 recommends 49152-65535.
const VXLAN_SRC_PORT_BASE: u16 = 49_152;
/// Outer IPv4 address of the sending VTEP.
const VTEP_SRC: [u8; 4] = [192, 168, 100, 1];
/// Outer IPv4 address of the receiving VTEP.
const VTEP_DST: [u8; 4] = [192, 168, 100, 2];
/// Outer MAC of the sending VTEP.
const VTEP_SRC_MAC: [u8; 6] = [0x02, 0x00, 0xc0, 0xa8, 0x64, 0x01];
/// Outer MAC of the receiving VTEP.
const VTEP_DST_MAC: [u8; 6] = [0x02, 0x00, 0xc0, 0xa8, 0x64, 0x02];

/// One side of a TCP connection as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// TCP port.
    pub port: u16,
    /// Ethernet address of the frames this side sends.
    pub mac: [u8; 6],
}

/// TCP control bits and numbers of one segment.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpFlags {
    /// SYN bit.
    pub syn: bool,
    /// ACK bit (the acknowledgment number is valid).
    pub ack: bool,
    /// FIN bit.
    pub fin: bool,
    /// PSH bit (last segment of a message).
    pub psh: bool,
}

/// Everything needed to serialise one TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Sender.
    pub src: Endpoint,
    /// Receiver.
    pub dst: Endpoint,
    /// Sequence number of the first byte (or of the SYN/FIN).
    pub seq: u32,
    /// Acknowledgment number (meaningful when `flags.ack`).
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// RFC 7323 TSval of the sender.
    pub ts_val: u32,
    /// RFC 7323 TSecr (the peer's last TSval).
    pub ts_ecr: u32,
    /// IPv4 identification.
    pub ip_id: u16,
    /// MSS to advertise (SYN only).
    pub mss: u16,
    /// TCP payload.
    pub payload: &'a [u8],
    /// Sender is the client (chooses the TTL).
    pub from_client: bool,
}

/// Serialises segments into a reusable buffer, optionally VXLAN-encapsulated.
#[derive(Debug)]
pub struct FrameBuilder {
    /// VNI to encapsulate with, if any.
    vxlan: Option<u32>,
    /// Output frame (reused).
    buf: Vec<u8>,
    /// Inner frame when encapsulating (reused), starting with the VXLAN header.
    inner: Vec<u8>,
}

impl FrameBuilder {
    /// Creates a builder; `vxlan` wraps every frame with that VNI.
    pub fn new(vxlan: Option<u32>) -> Self {
        Self {
            vxlan,
            buf: Vec::with_capacity(16 * 1024),
            inner: Vec::with_capacity(16 * 1024),
        }
    }

    /// Serialises `seg` and returns the finished frame.
    pub fn build(&mut self, seg: &Segment<'_>) -> Result<&[u8], GenError> {
        match self.vxlan {
            None => {
                self.buf.clear();
                write_tcp_frame(&mut self.buf, seg)?;
            }
            Some(vni) => {
                self.inner.clear();
                let vni_bytes = vni.to_be_bytes();
                self.inner.extend_from_slice(&[
                    VXLAN_FLAG_VNI,
                    0,
                    0,
                    0,
                    vni_bytes[1],
                    vni_bytes[2],
                    vni_bytes[3],
                    0,
                ]);
                write_tcp_frame(&mut self.inner, seg)?;
                // Entropy in the source port, as VTEPs hash the inner flow (RFC 7348 §5).
                let span = u16::MAX - VXLAN_SRC_PORT_BASE;
                let sport = VXLAN_SRC_PORT_BASE + (seg.src.port ^ seg.dst.port) % span;
                self.buf.clear();
                PacketBuilder::ethernet2(VTEP_SRC_MAC, VTEP_DST_MAC)
                    .ipv4(VTEP_SRC, VTEP_DST, SERVER_TTL)
                    .udp(sport, VXLAN_PORT)
                    .write(&mut self.buf, &self.inner)
                    .map_err(|e| GenError::Frame(e.to_string()))?;
            }
        }
        Ok(&self.buf)
    }
}

/// Appends one Ethernet/IP/TCP frame for `seg` to `out`.
fn write_tcp_frame(out: &mut Vec<u8>, seg: &Segment<'_>) -> Result<(), GenError> {
    let ttl = if seg.from_client {
        CLIENT_TTL
    } else {
        SERVER_TTL
    };
    let ip = match (seg.src.ip, seg.dst.ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => IpHeaders::Ipv4(
            Ipv4Header {
                source: s.octets(),
                destination: d.octets(),
                time_to_live: ttl,
                identification: seg.ip_id,
                dont_fragment: true,
                ..Default::default()
            },
            Default::default(),
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => IpHeaders::Ipv6(
            Ipv6Header {
                source: s.octets(),
                destination: d.octets(),
                hop_limit: ttl,
                ..Default::default()
            },
            Default::default(),
        ),
        _ => return Err(GenError::Frame("mixed IPv4/IPv6 endpoints".into())),
    };
    let window = if seg.flags.syn {
        SYN_WINDOW
    } else {
        ESTABLISHED_WINDOW
    };
    let mut b = PacketBuilder::ethernet2(seg.src.mac, seg.dst.mac)
        .ip(ip)
        .tcp(seg.src.port, seg.dst.port, seg.seq, window);
    if seg.flags.syn {
        b = b.syn();
    }
    if seg.flags.ack {
        b = b.ack(seg.ack);
    }
    if seg.flags.fin {
        b = b.fin();
    }
    if seg.flags.psh {
        b = b.psh();
    }
    let ts = TcpOptionElement::Timestamp(seg.ts_val, seg.ts_ecr);
    // Linux's option layouts: SYN carries MSS, SACK-permitted, timestamps and window scale.
    let options: &[TcpOptionElement] = if seg.flags.syn {
        &[
            TcpOptionElement::MaximumSegmentSize(seg.mss),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            ts,
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(WINDOW_SCALE),
        ]
    } else {
        &[TcpOptionElement::Noop, TcpOptionElement::Noop, ts]
    };
    b.options(options)
        .map_err(|e| GenError::Frame(e.to_string()))?
        .write(out, seg.payload)
        .map_err(|e| GenError::Frame(e.to_string()))
}
