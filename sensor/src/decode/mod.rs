//! Decode: link layer, tunnels and IP/TCP headers, straight from the packet slice.
//!
//! The link layers are peeled here by hand (they are a few fixed offsets); IPv4, IPv6 with its
//! extension headers, and TCP are decoded with `etherparse`. Tunnels (VXLAN, GENEVE, GRE,
//! ERSPAN, GTP-U, Teredo, AYIYA, IP-in-IP; `tunnel.rs`) are peeled up to
//! `decode.max_tunnel_depth` layers, and the flows inside get a zone (`zone.rs`) so equal
//! inner addresses from different tunnels never mix. IP fragments are reassembled
//! (`frag.rs`). The output is a borrowed [`Segment`] for reassembly (borrowed from the
//! decoder's buffer when it completed a fragmented datagram), or a [`Skip`] saying why the
//! packet carries no TCP for us.

mod checksum;
mod config;
mod frag;
mod link;
mod stats;
pub mod tunnel;
mod zone;

pub use checksum::{ChecksumMode, ChecksumStats};
pub use config::DecodeConfig;
pub use frag::{FragKey, FragLimits, FragOutcome, FragTable, Fragment};
pub use link::{LinkType, UnsupportedLinkType};
pub use stats::{DecodeStats, FragStats, Skip, TunnelStats};
pub use zone::child_zone;

use std::net::{IpAddr, SocketAddr};

use apitap_reassembly::{Checksum, Segment, TcpFlags};
use apitap_sessionizer::tunnel::{TunnelInfo, TunnelKind};
use etherparse::{
    IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice, LaxIpSlice, TcpSlice, UdpSlice,
};

use checksum::{IpLayer, Verifier};
use tunnel::{Decap, Next, TunnelError};
use zone::ZoneTable;

/// Tunnels that arrive over UDP, by the port they are recognised on. The mirror listener
/// names the one its socket receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpTunnel {
    /// VXLAN (`decode.vxlan_ports`).
    Vxlan,
    /// GENEVE (`decode.geneve_ports`).
    Geneve,
    /// GRE-in-UDP (`decode.gre_udp_ports`).
    GreUdp,
    /// GTP-U (`decode.gtp_u_ports`).
    GtpU,
    /// AYIYA (`decode.ayiya_ports`).
    Ayiya,
    /// Teredo (`decode.teredo_ports`, or the heuristic).
    Teredo,
}

/// The settings the decoder reads on every packet, prepared from [`DecodeConfig`].
#[derive(Clone, Debug)]
struct Options {
    vxlan_ports: Vec<u16>,
    geneve_ports: Vec<u16>,
    gre_udp_ports: Vec<u16>,
    gtp_u_ports: Vec<u16>,
    ayiya_ports: Vec<u16>,
    teredo_ports: Vec<u16>,
    teredo_heuristic: bool,
    max_tunnel_depth: u8,
    zone_by_outer_address: bool,
}

impl Options {
    /// The tunnel a UDP datagram carries, by its ports (and Teredo's shape).
    #[inline]
    fn udp_tunnel(&self, src: u16, dst: u16, payload: &[u8]) -> Option<UdpTunnel> {
        if self.max_tunnel_depth == 0 {
            return None;
        }
        let either = |ports: &[u16]| ports.contains(&dst) || ports.contains(&src);
        if self.vxlan_ports.contains(&dst) {
            Some(UdpTunnel::Vxlan)
        } else if self.geneve_ports.contains(&dst) {
            Some(UdpTunnel::Geneve)
        } else if self.gre_udp_ports.contains(&dst) {
            Some(UdpTunnel::GreUdp)
        } else if either(&self.gtp_u_ports) {
            Some(UdpTunnel::GtpU)
        } else if either(&self.ayiya_ports) {
            Some(UdpTunnel::Ayiya)
        } else if either(&self.teredo_ports)
            || (self.teredo_heuristic && tunnel::looks_like_teredo(payload))
        {
            Some(UdpTunnel::Teredo)
        } else {
            None
        }
    }
}

/// The decoder: counters, the fragment table, and the zone → tunnel table for records.
#[derive(Debug)]
pub struct Decoder {
    stats: DecodeStats,
    opts: Options,
    frags: FragTable,
    zones: ZoneTable,
    /// IPv4 header and TCP checksum verification (`decode.verify_checksums`).
    checksums: Verifier,
    /// Completed datagrams, one slot per IP layer that may be reassembled in one packet
    /// (the outer one and one per tunnel layer).
    scratch: Vec<Vec<u8>>,
    /// Latest packet time given to [`Decoder::decode_at`].
    now_us: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::with_config(&DecodeConfig::default())
    }
}

/// Where a packet is inside its tunnels.
#[derive(Clone, Copy, Debug, Default)]
struct Ctx {
    /// Zone of the flows at this layer (0 outside any tunnel).
    zone: u64,
    /// Tunnel layers peeled so far.
    depth: u8,
    /// The outermost tunnel, for the record.
    outer: Option<Outer>,
}

/// The outermost tunnel of a packet.
#[derive(Clone, Copy, Debug)]
struct Outer {
    kind: TunnelKind,
    id: Option<u32>,
    src: IpAddr,
    dst: IpAddr,
}

/// The parts of the decoder one packet works with, borrowed apart from the scratch buffers.
struct Work<'s> {
    stats: &'s mut DecodeStats,
    opts: &'s Options,
    /// None: fragments are counted and skipped, not reassembled.
    frags: Option<&'s mut FragTable>,
    zones: &'s mut ZoneTable,
    checksums: &'s mut Verifier,
    now_us: u64,
    /// The datagram of the outermost IP fragment met in this packet, if any.
    fragment: Option<FragKey>,
}

/// Where the sharded pipeline's dispatcher sends a packet ([`Decoder::route_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// A TCP segment of the flow between these endpoints.
    Flow(SocketAddr, SocketAddr),
    /// An IP fragment of datagram `key`; `flow` once this fragment completed the datagram
    /// and it held a TCP segment.
    Fragment {
        /// The datagram (its outermost fragmented IP layer).
        key: FragKey,
        /// The flow of the completed datagram's segment.
        flow: Option<(SocketAddr, SocketAddr)>,
    },
    /// No TCP segment: anything the decoder skips.
    Other,
}

impl Decoder {
    /// A decoder with the default settings.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// A decoder with these settings.
    pub fn with_config(cfg: &DecodeConfig) -> Self {
        Decoder {
            stats: DecodeStats::default(),
            opts: Options {
                vxlan_ports: cfg.vxlan_ports.clone(),
                geneve_ports: cfg.geneve_ports.clone(),
                gre_udp_ports: cfg.gre_udp_ports.clone(),
                gtp_u_ports: cfg.gtp_u_ports.clone(),
                ayiya_ports: cfg.ayiya_ports.clone(),
                teredo_ports: cfg.teredo_ports.clone(),
                teredo_heuristic: cfg.teredo_heuristic,
                max_tunnel_depth: cfg.max_tunnel_depth,
                zone_by_outer_address: cfg.zone_by_outer_address,
            },
            frags: FragTable::new(FragLimits {
                max_sets: cfg.max_fragment_sets,
                max_bytes_total: cfg.max_fragment_bytes_total,
                timeout_us: cfg.fragment_timeout_ms.saturating_mul(1000),
            }),
            zones: ZoneTable::new(cfg.max_tunnel_zones),
            checksums: Verifier::new(cfg.verify_checksums),
            scratch: vec![Vec::new(); usize::from(cfg.max_tunnel_depth) + 1],
            now_us: 0,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// The outermost tunnel of the flows in `zone` (from [`Segment::zone`] or
    /// `Transaction::zone`); None outside tunnels.
    #[inline]
    pub fn tunnel(&self, zone: u64) -> Option<&TunnelInfo> {
        self.zones.get(zone)
    }

    /// Decode one captured packet of link type `link` without fragment reassembly (IP
    /// fragments are counted and skipped); the segment borrows only `data`. `wire_len` is
    /// the packet's length on the wire; when it is larger than `data.len()` the capture cut
    /// the packet (snap length).
    pub fn decode<'a>(
        &mut self,
        link: LinkType,
        data: &'a [u8],
        wire_len: u32,
    ) -> Option<Segment<'a>> {
        let scratch: &'a mut [Vec<u8>] = &mut [];
        let now_us = self.now_us;
        self.run(now_us, false, link, data, wire_len, scratch)
    }

    /// The decoding state at packet time `now_us` (which never goes backwards), with expired
    /// fragments dropped, and the scratch buffers reassembled datagrams are built in.
    fn work_at(&mut self, now_us: u64) -> (Work<'_>, &mut [Vec<u8>]) {
        let Decoder {
            stats,
            opts,
            frags,
            zones,
            checksums,
            scratch,
            now_us: last,
        } = self;
        *last = (*last).max(now_us);
        let mut w = Work {
            stats,
            opts,
            frags: Some(frags),
            zones,
            checksums,
            now_us: *last,
            fragment: None,
        };
        w.expire();
        (w, scratch)
    }

    /// Decode one captured packet at packet time `now_us`, reassembling IP fragments: the
    /// fragment that completes a datagram gives its segment, borrowed from the decoder.
    pub fn decode_at<'a>(
        &'a mut self,
        now_us: u64,
        link: LinkType,
        data: &'a [u8],
        wire_len: u32,
    ) -> Option<Segment<'a>> {
        let (mut w, scratch) = self.work_at(now_us);
        decode_link(&mut w, link, data, wire_len, scratch)
    }

    /// Where a packet goes, for the sharded pipeline's dispatcher: decoded at packet time
    /// `now_us` with fragment reassembly, so that the fragment completing a datagram gives
    /// the flow of the segment it held. Checksums are left to the worker's decoder.
    pub fn route_at(&mut self, now_us: u64, link: LinkType, data: &[u8], wire_len: u32) -> Route {
        let mut unchecked = Verifier::new(ChecksumMode::Off);
        let (mut w, scratch) = self.work_at(now_us);
        w.checksums = &mut unchecked;
        w.stats.packets += 1;
        w.stats.bytes += u64::from(wire_len);
        let cut = (data.len() as u64) < u64::from(wire_len);
        let r = link::strip(link, data, cut)
            .and_then(|ip| decode_ip(&mut w, ip, cut, Ctx::default(), scratch));
        let fragment = w.fragment;
        let flow = w.finish(r).map(|seg| (seg.src, seg.dst));
        match (fragment, flow) {
            (Some(key), flow) => Route::Fragment { key, flow },
            (None, Some((a, b))) => Route::Flow(a, b),
            (None, None) => Route::Other,
        }
    }

    /// Decode the payload of a UDP datagram that a mirror listener received on a socket of
    /// tunnel type `kind`: the outer Ethernet/IP/UDP headers were consumed by the kernel and
    /// are given as `outer_src` (the sender) and `outer_dst` (the socket's address).
    pub fn decode_tunnel_payload<'a>(
        &'a mut self,
        now_us: u64,
        kind: UdpTunnel,
        data: &'a [u8],
        outer_src: SocketAddr,
        outer_dst: SocketAddr,
    ) -> Option<Segment<'a>> {
        let (mut w, scratch) = self.work_at(now_us);
        w.stats.packets += 1;
        w.stats.bytes += data.len() as u64;
        let mut ctx = Ctx::default();
        let r = w
            .enter(
                &mut ctx,
                udp_tunnel(kind, data),
                outer_src.ip(),
                outer_dst.ip(),
                false,
            )
            .and_then(|ip| decode_ip(&mut w, ip, false, ctx, scratch));
        w.finish(r)
    }

    /// [`Decoder::decode`] and [`Decoder::decode_at`] in one.
    fn run<'a>(
        &mut self,
        now_us: u64,
        reassemble: bool,
        link: LinkType,
        data: &'a [u8],
        wire_len: u32,
        scratch: &'a mut [Vec<u8>],
    ) -> Option<Segment<'a>> {
        let mut w = Work {
            stats: &mut self.stats,
            opts: &self.opts,
            frags: reassemble.then_some(&mut self.frags),
            zones: &mut self.zones,
            checksums: &mut self.checksums,
            now_us,
            fragment: None,
        };
        decode_link(&mut w, link, data, wire_len, scratch)
    }
}

/// One packet from its link layer.
#[inline]
fn decode_link<'a>(
    w: &mut Work<'_>,
    link: LinkType,
    data: &'a [u8],
    wire_len: u32,
    scratch: &'a mut [Vec<u8>],
) -> Option<Segment<'a>> {
    w.stats.packets += 1;
    w.stats.bytes += u64::from(wire_len);
    let cut = (data.len() as u64) < u64::from(wire_len);
    let r =
        link::strip(link, data, cut).and_then(|ip| decode_ip(w, ip, cut, Ctx::default(), scratch));
    w.finish(r)
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

impl Work<'_> {
    /// Count the result of one packet.
    #[inline]
    fn finish<'a>(&mut self, r: Result<(Segment<'a>, PayloadState), Skip>) -> Option<Segment<'a>> {
        match r {
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

    /// Drop fragment sets whose time is up.
    #[inline]
    fn expire(&mut self) {
        if let Some(f) = self.frags.as_deref_mut() {
            if f.pending() > 0 {
                f.expire(self.now_us);
                self.stats.fragments = f.stats().clone();
            }
        }
    }

    /// Step into a tunnel whose header was parsed (or failed to parse): count it, extend the
    /// zone, and find the IP packet inside.
    fn enter<'a>(
        &mut self,
        ctx: &mut Ctx,
        decap: Result<Decap<'a>, TunnelError>,
        outer_src: IpAddr,
        outer_dst: IpAddr,
        cut: bool,
    ) -> Result<&'a [u8], Skip> {
        let t = &mut self.stats.tunnels;
        let d = decap.map_err(|e| match e {
            TunnelError::Short if cut => {
                t.truncated += 1;
                Skip::TruncatedHeader
            }
            TunnelError::Short | TunnelError::Malformed => {
                t.malformed += 1;
                Skip::MalformedLink
            }
            TunnelError::Control => {
                t.control += 1;
                Skip::Udp
            }
        })?;
        if ctx.depth >= self.opts.max_tunnel_depth {
            t.depth_exceeded += 1;
            return Err(Skip::MalformedLink);
        }
        *match d.kind {
            TunnelKind::Vxlan | TunnelKind::VxlanGpe => &mut t.vxlan,
            TunnelKind::Geneve => &mut t.geneve,
            TunnelKind::Gre | TunnelKind::GreUdp => &mut t.gre,
            TunnelKind::ErspanI | TunnelKind::ErspanII | TunnelKind::ErspanIII => &mut t.erspan,
            TunnelKind::GtpU => &mut t.gtp_u,
            TunnelKind::Teredo => &mut t.teredo,
            TunnelKind::Ayiya => &mut t.ayiya,
            TunnelKind::IpInIp => &mut t.ip_in_ip,
        } += 1;
        ctx.depth += 1;
        let id = d.id.filter(|_| d.id_is_symmetric);
        let outer = self
            .opts
            .zone_by_outer_address
            .then_some((outer_src, outer_dst));
        ctx.zone = zone::child_zone(ctx.zone, d.kind, id, outer);
        ctx.outer.get_or_insert(Outer {
            kind: d.kind,
            id: d.id,
            src: outer_src,
            dst: outer_dst,
        });
        match d.next {
            Next::Ethernet => link::strip(LinkType::Ethernet, d.inner, cut),
            Next::Ip => link::ip_by_version(d.inner),
            Next::Mpls => link::after_mpls(d.inner, cut),
        }
    }
}

/// Parse the tunnel header of a UDP payload.
fn udp_tunnel(kind: UdpTunnel, payload: &[u8]) -> Result<Decap<'_>, TunnelError> {
    match kind {
        UdpTunnel::Vxlan => tunnel::vxlan(payload),
        UdpTunnel::Geneve => tunnel::geneve(payload),
        UdpTunnel::GreUdp => tunnel::gre(payload, true),
        UdpTunnel::GtpU => tunnel::gtp_u(payload),
        UdpTunnel::Ayiya => tunnel::ayiya(payload),
        UdpTunnel::Teredo => tunnel::teredo(payload),
    }
}

/// Decode IP, then TCP or a tunnel around more IP, until a TCP segment or a reason to stop.
fn decode_ip<'a>(
    w: &mut Work<'_>,
    mut ip: &'a [u8],
    mut cut: bool,
    mut ctx: Ctx,
    mut scratch: &'a mut [Vec<u8>],
) -> Result<(Segment<'a>, PayloadState), Skip> {
    loop {
        let (sl, _ext_err) =
            LaxIpSlice::from_slice(ip).map_err(|_| Skip::length_or(cut, Skip::MalformedIp))?;
        let src_ip = sl.source_addr();
        let dst_ip = sl.destination_addr();
        let (ttl, ipv4_header) = match &sl {
            LaxIpSlice::Ipv4(v4) => (v4.header().ttl(), Some(v4.header().slice())),
            LaxIpSlice::Ipv6(v6) => (v6.header().hop_limit(), None),
        };
        let payload = sl.payload();
        let (proto, body, state) = if payload.fragmented {
            let Some(frags) = w.frags.as_deref_mut() else {
                return Err(Skip::IpFragment);
            };
            let Some((slot, rest)) = std::mem::take(&mut scratch).split_first_mut() else {
                return Err(Skip::IpFragment);
            };
            scratch = rest;
            let Some((key, frag)) = fragment_of(ip, &sl, ctx.zone) else {
                return Err(Skip::MalformedIp);
            };
            w.fragment.get_or_insert(key);
            if payload.incomplete {
                frags.count_truncated();
                return Err(Skip::IpFragment);
            }
            let FragOutcome::Complete { proto } = frags.insert(w.now_us, key, frag, slot) else {
                w.stats.fragments = frags.stats().clone();
                return Err(Skip::IpFragment);
            };
            w.stats.fragments = frags.stats().clone();
            let done: &'a Vec<u8> = slot;
            cut = false;
            let (proto, body) = after_ipv6_extensions(IpNumber(proto), done)?;
            (proto, body, PayloadState::Whole)
        } else {
            let state = match (payload.incomplete, cut) {
                (false, _) => PayloadState::Whole,
                (true, true) => PayloadState::Truncated,
                (true, false) => PayloadState::LengthMismatch,
            };
            (payload.ip_number, payload.payload, state)
        };
        ip = match proto {
            IpNumber::TCP => {
                let ip = IpLayer {
                    src: src_ip,
                    dst: dst_ip,
                    ipv4_header,
                };
                return tcp_segment(w, &ctx, (ip, ttl), body, cut, state);
            }
            IpNumber::UDP => {
                let udp =
                    UdpSlice::from_slice_lax(body).map_err(|_| Skip::length_or(cut, Skip::Udp))?;
                let data = udp.payload();
                let Some(kind) = w
                    .opts
                    .udp_tunnel(udp.source_port(), udp.destination_port(), data)
                else {
                    return Err(Skip::Udp);
                };
                w.enter(&mut ctx, udp_tunnel(kind, data), src_ip, dst_ip, cut)?
            }
            IpNumber::GRE if w.opts.max_tunnel_depth > 0 => {
                w.enter(&mut ctx, tunnel::gre(body, false), src_ip, dst_ip, cut)?
            }
            IpNumber::IPV4 | IpNumber::IPV6 if w.opts.max_tunnel_depth > 0 => {
                w.enter(&mut ctx, Ok(tunnel::ip_in_ip(body)), src_ip, dst_ip, cut)?
            }
            _ => return Err(Skip::OtherIpProtocol),
        };
    }
}

/// The TCP segment in `body`, in the packet's zone, carried by `ip` with TTL (hop limit)
/// `ttl`. Its checksums are verified when the whole segment is there.
#[inline]
fn tcp_segment<'a>(
    w: &mut Work<'_>,
    ctx: &Ctx,
    (ip, ttl): (IpLayer<'_>, u8),
    body: &'a [u8],
    cut: bool,
    state: PayloadState,
) -> Result<(Segment<'a>, PayloadState), Skip> {
    let tcp = TcpSlice::from_slice(body).map_err(|_| Skip::length_or(cut, Skip::MalformedTcp))?;
    let checksum = match state {
        PayloadState::Whole => w.checksums.verify(ip, body, &mut w.stats.checksums),
        PayloadState::Truncated | PayloadState::LengthMismatch => Checksum::NotChecked,
    };
    if let Some(o) = ctx.outer {
        let depth = ctx.depth;
        w.zones.note(ctx.zone, || TunnelInfo {
            kind: o.kind,
            id: o.id,
            outer_src: o.src,
            outer_dst: o.dst,
            depth,
        });
        w.stats.tunnels.zone_table_resets = w.zones.resets;
    }
    let seg = Segment {
        zone: ctx.zone,
        src: SocketAddr::new(ip.src, tcp.source_port()),
        dst: SocketAddr::new(ip.dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags(tcp_flags(&tcp)),
        payload: tcp.payload(),
        ttl,
        checksum,
    };
    Ok((seg, state))
}

/// The reassembly identity and the fragment of a fragmented IPv4 or IPv6 packet; None when
/// the IPv6 fragment header cannot be found.
fn fragment_of<'a>(
    packet: &'a [u8],
    ip: &LaxIpSlice<'a>,
    zone: u64,
) -> Option<(FragKey, Fragment<'a>)> {
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let key = FragKey {
                zone,
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                id: u32::from(h.identification()),
                proto: h.protocol().0,
            };
            let frag = Fragment {
                offset: usize::from(h.fragments_offset().value()) * 8,
                more: h.more_fragments(),
                proto: h.protocol().0,
                data: v4.payload().payload,
            };
            Some((key, frag))
        }
        LaxIpSlice::Ipv6(v6) => {
            let f = v6.extensions().clone().into_iter().find_map(|e| match e {
                Ipv6ExtensionSlice::Fragment(f) => Some(f),
                _ => None,
            })?;
            // The fragmentable part starts right after the fragment header and ends where
            // the payload length says (or where the capture ends).
            let fh = f.slice();
            let start = (fh.as_ptr() as usize).checked_sub(packet.as_ptr() as usize)? + fh.len();
            let h = v6.header();
            let end = (IPV6_FIXED_HEADER_LEN + usize::from(h.payload_length())).min(packet.len());
            let data = packet.get(start..end)?;
            let key = FragKey {
                zone,
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                id: f.identification(),
                proto: 0,
            };
            let frag = Fragment {
                offset: usize::from(f.fragment_offset().value()) * 8,
                more: f.more_fragments(),
                proto: f.next_header().0,
                data,
            };
            Some((key, frag))
        }
    }
}

/// IPv6 fixed header length (RFC 8200 section 3).
const IPV6_FIXED_HEADER_LEN: usize = 40;

/// Skip IPv6 extension headers at the start of a reassembled payload (those after the
/// fragment header); IPv4 protocols pass through.
fn after_ipv6_extensions(proto: IpNumber, data: &[u8]) -> Result<(IpNumber, &[u8]), Skip> {
    match proto {
        IpNumber::IPV6_HEADER_HOP_BY_HOP
        | IpNumber::IPV6_ROUTE_HEADER
        | IpNumber::IPV6_DESTINATION_OPTIONS
        | IpNumber::AUTHENTICATION_HEADER => {
            let (_, next, rest) =
                Ipv6ExtensionsSlice::from_slice(proto, data).map_err(|_| Skip::MalformedIp)?;
            Ok((next, rest))
        }
        _ => Ok((proto, data)),
    }
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
#[cfg(test)]
mod tunnel_tests;
