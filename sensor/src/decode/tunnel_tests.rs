//! Tunnel and fragment tests: one built packet per format, nesting, zones, the bounds, and
//! property tests that no bytes make a tunnel parser or the decoder panic.

use std::net::{IpAddr, SocketAddr};

use proptest::prelude::*;

use super::tunnel::{self, Next, TunnelError};
use super::*;

const REQUEST: &[u8] = b"GET /api/v1/items?id=7 HTTP/1.1\r\nHost: api.example\r\n\r\n";
const C4: [u8; 4] = [10, 200, 0, 1];
const S4: [u8; 4] = [10, 200, 0, 2];
const VTEP_A: [u8; 4] = [192, 0, 2, 1];
const VTEP_B: [u8; 4] = [192, 0, 2, 2];

// ---- builders --------------------------------------------------------------------------

/// A TCP header (PSH|ACK, no options) and payload.
fn tcp(sport: u16, dport: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&1u32.to_be_bytes());
    v.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

/// An IPv4 header (no options) around `payload`, with fragment fields.
fn ip4_frag(
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
    id: u16,
    mf: bool,
    offset: usize,
    payload: &[u8],
) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let frag = (u16::from(mf) << 13) | (offset / 8) as u16;
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&frag.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

fn ip4(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    ip4_frag(proto, src, dst, 1, false, 0, payload)
}

fn ip6(next: u8, src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[next, 64]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

/// An IPv6 fragment: fixed header, fragment header (RFC 8200 section 4.5), data.
fn ip6_frag(
    next: u8,
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    mf: bool,
    offset: usize,
    data: &[u8],
) -> Vec<u8> {
    let mut fh = vec![next, 0];
    fh.extend_from_slice(&(((offset / 8) as u16) << 3 | u16::from(mf)).to_be_bytes());
    fh.extend_from_slice(&id.to_be_bytes());
    fh.extend_from_slice(data);
    ip6(44, src, dst, &fh)
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

fn eth(ty: u16, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    v.extend_from_slice(&ty.to_be_bytes());
    v.extend_from_slice(inner);
    v
}

/// The inner packet every test carries: client → server, the HTTP request.
fn inner_ip() -> Vec<u8> {
    ip4(6, C4, S4, &tcp(40000, 80, 1000, REQUEST))
}

fn inner_frame() -> Vec<u8> {
    eth(0x0800, &inner_ip())
}

fn vxlan_hdr(vni: u32) -> Vec<u8> {
    let b = vni.to_be_bytes();
    vec![0x08, 0, 0, 0, b[1], b[2], b[3], 0]
}

/// Ethernet/IPv4/UDP to `dport` from VTEP A to VTEP B around `payload`.
fn outer_udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    eth(
        0x0800,
        &ip4(17, VTEP_A, VTEP_B, &udp(49152, dport, payload)),
    )
}

fn vxlan_packet(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut p = vxlan_hdr(vni);
    p.extend_from_slice(frame);
    outer_udp(4789, &p)
}

fn geneve_hdr(vni: u32, proto: u16, options: &[u8], oam: bool) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let b = vni.to_be_bytes();
    let mut v = vec![(options.len() / 4) as u8, if oam { 0x80 } else { 0 }];
    v.extend_from_slice(&proto.to_be_bytes());
    v.extend_from_slice(&[b[1], b[2], b[3], 0]);
    v.extend_from_slice(options);
    v
}

fn gre_hdr(flags: u8, proto: u16, key: Option<u32>, seq: Option<u32>, csum: bool) -> Vec<u8> {
    let mut f = flags;
    if csum {
        f |= 0x80;
    }
    if key.is_some() {
        f |= 0x20;
    }
    if seq.is_some() {
        f |= 0x10;
    }
    let mut v = vec![f, 0];
    v.extend_from_slice(&proto.to_be_bytes());
    if csum {
        v.extend_from_slice(&[0, 0, 0, 0]);
    }
    if let Some(k) = key {
        v.extend_from_slice(&k.to_be_bytes());
    }
    if let Some(s) = seq {
        v.extend_from_slice(&s.to_be_bytes());
    }
    v
}

/// Ethernet/IPv4/GRE around `payload`.
fn outer_gre(gre: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut g = gre.to_vec();
    g.extend_from_slice(payload);
    eth(0x0800, &ip4(47, VTEP_A, VTEP_B, &g))
}

// ---- checks ----------------------------------------------------------------------------

/// Decode one Ethernet packet with `cfg`: the request's segment (src, zone) and the decoder.
fn run(cfg: &DecodeConfig, pkt: &[u8]) -> (Option<(SocketAddr, u64, Vec<u8>)>, Decoder) {
    let mut d = Decoder::with_config(cfg);
    let r = d
        .decode_at(1, LinkType::Ethernet, pkt, pkt.len() as u32)
        .map(|s| (s.src, s.zone, s.payload.to_vec()));
    (r, d)
}

/// The packet decodes to the request inside one tunnel of `kind` with id `id`.
fn assert_tunneled(pkt: &[u8], kind: TunnelKind, id: Option<u32>) -> Decoder {
    let (r, d) = run(&DecodeConfig::default(), pkt);
    let (src, zone, payload) = r.unwrap_or_else(|| panic!("{kind:?} not decoded: {:?}", d.stats()));
    assert_eq!(payload, REQUEST);
    assert_eq!(src, SocketAddr::new(IpAddr::from(C4), 40000));
    assert_ne!(zone, 0);
    let t = d.tunnel(zone).expect("tunnel remembered").clone();
    assert_eq!((t.kind, t.id, t.depth), (kind, id, 1));
    assert_eq!(
        (t.outer_src, t.outer_dst),
        (IpAddr::from(VTEP_A), IpAddr::from(VTEP_B))
    );
    d
}

// ---- formats ---------------------------------------------------------------------------

#[test]
fn vxlan() {
    let d = assert_tunneled(
        &vxlan_packet(42, &inner_frame()),
        TunnelKind::Vxlan,
        Some(42),
    );
    assert_eq!(d.stats().tunnels.vxlan, 1);
}

#[test]
fn vxlan_with_vlan_and_qinq_inside() {
    let mut tagged = vec![0x00, 0x64, 0x08, 0x00];
    tagged.extend(inner_ip());
    assert_tunneled(
        &vxlan_packet(1, &eth(0x8100, &tagged)),
        TunnelKind::Vxlan,
        Some(1),
    );
    let mut qinq = vec![0x00, 0x0A, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00];
    qinq.extend(inner_ip());
    assert_tunneled(
        &vxlan_packet(1, &eth(0x88A8, &qinq)),
        TunnelKind::Vxlan,
        Some(1),
    );
}

#[test]
fn vxlan_without_i_flag_is_malformed() {
    let mut p = vec![0u8; 8];
    p.extend(inner_frame());
    let (r, d) = run(&DecodeConfig::default(), &outer_udp(4789, &p));
    assert!(r.is_none());
    assert_eq!(
        (d.stats().malformed_link, d.stats().tunnels.malformed),
        (1, 1)
    );
}

#[test]
fn vxlan_gpe_carrying_ip() {
    let mut p = vec![0x0C, 0, 0, 1, 0, 0, 9, 0];
    p.extend(inner_ip());
    assert_tunneled(&outer_udp(4789, &p), TunnelKind::VxlanGpe, Some(9));
}

#[test]
fn vxlan_ports_are_configurable() {
    let mut p = vxlan_hdr(5);
    p.extend(inner_frame());
    let pkt = outer_udp(8472, &p);
    let (r, d) = run(&DecodeConfig::default(), &pkt);
    assert!(r.is_none());
    assert_eq!(d.stats().udp, 1);
    let cfg = DecodeConfig {
        vxlan_ports: vec![4789, 8472],
        ..DecodeConfig::default()
    };
    assert!(run(&cfg, &pkt).0.is_some());
}

#[test]
fn vxlan_over_ipv6() {
    let mut p = vxlan_hdr(77);
    p.extend(inner_frame());
    let pkt = eth(
        0x86DD,
        &ip6(17, [0xfd; 16], [0xfe; 16], &udp(50000, 4789, &p)),
    );
    let (r, d) = run(&DecodeConfig::default(), &pkt);
    let (_, zone, payload) = r.expect("decoded");
    assert_eq!(payload, REQUEST);
    assert_eq!(d.tunnel(zone).unwrap().outer_src, IpAddr::from([0xfd; 16]));
}

#[test]
fn geneve_with_options() {
    // Two options: an AWS-GWLB-like 8-byte one and an empty one.
    let opts = [
        0x01, 0x08, 0x01, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x08, 0x02, 0x00,
    ];
    let mut p = geneve_hdr(0x123456, 0x6558, &opts, false);
    p.extend(inner_frame());
    assert_tunneled(&outer_udp(6081, &p), TunnelKind::Geneve, Some(0x123456));
    // IPv4 directly (protocol 0x0800).
    let mut p = geneve_hdr(3, 0x0800, &[], false);
    p.extend(inner_ip());
    assert_tunneled(&outer_udp(6081, &p), TunnelKind::Geneve, Some(3));
}

#[test]
fn geneve_oam_and_bad_options() {
    let mut p = geneve_hdr(1, 0x6558, &[], true);
    p.extend(inner_frame());
    let (r, d) = run(&DecodeConfig::default(), &outer_udp(6081, &p));
    assert!(r.is_none());
    assert_eq!((d.stats().udp, d.stats().tunnels.control), (1, 1));
    // An option claiming 8 more bytes than the options length holds.
    let opts = [0x01, 0x08, 0x01, 0x02];
    let mut p = geneve_hdr(1, 0x6558, &opts, false);
    p.extend(inner_frame());
    let (r, d) = run(&DecodeConfig::default(), &outer_udp(6081, &p));
    assert!(r.is_none());
    assert_eq!(d.stats().tunnels.malformed, 1);
    // Version 1 does not exist.
    assert_eq!(
        tunnel::geneve(&[0x40, 0, 0x65, 0x58, 0, 0, 1, 0]),
        Err(TunnelError::Malformed)
    );
}

#[test]
fn gre_variants() {
    // IPv4 in GRE with checksum, key and sequence number.
    let g = gre_hdr(0, 0x0800, Some(1234), Some(9), true);
    assert_tunneled(&outer_gre(&g, &inner_ip()), TunnelKind::Gre, Some(1234));
    // Transparent Ethernet bridging (gretap).
    let g = gre_hdr(0, 0x6558, None, None, false);
    assert_tunneled(&outer_gre(&g, &inner_frame()), TunnelKind::Gre, None);
    // An MPLS label stack of two.
    let mut m = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
    m.extend(inner_ip());
    let g = gre_hdr(0, 0x8847, Some(7), None, false);
    assert_tunneled(&outer_gre(&g, &m), TunnelKind::Gre, Some(7));
    // GRE-in-UDP (RFC 8086).
    let mut p = gre_hdr(0, 0x0800, None, None, false);
    p.extend(inner_ip());
    assert_tunneled(&outer_udp(4754, &p), TunnelKind::GreUdp, None);
    // PPTP's enhanced GRE (version 1) is not decoded.
    let mut g = gre_hdr(0, 0x880B, Some(1), None, false);
    g[1] = 1;
    let (r, d) = run(&DecodeConfig::default(), &outer_gre(&g, &inner_ip()));
    assert!(r.is_none());
    assert_eq!(d.stats().tunnels.malformed, 1);
}

#[test]
fn erspan_types() {
    // Type I: no sequence number, no ERSPAN header.
    let g = gre_hdr(0, 0x88BE, None, None, false);
    assert_tunneled(&outer_gre(&g, &inner_frame()), TunnelKind::ErspanI, None);
    // Type II: version 1, session 0x155 (10 bits), index.
    let g = gre_hdr(0, 0x88BE, None, Some(1), false);
    let mut e = vec![0x10, 0x64, 0x01, 0x55, 0x00, 0x00, 0x00, 0x07];
    e.extend(inner_frame());
    assert_tunneled(&outer_gre(&g, &e), TunnelKind::ErspanII, Some(0x155));
    // Type III: version 2, session 3, timestamp, SGT, FT 0 (Ethernet), with the 8-byte
    // platform-specific subheader (O bit).
    let g = gre_hdr(0, 0x22EB, None, Some(2), false);
    let mut e = vec![0x20, 0x00, 0x00, 0x03, 1, 2, 3, 4, 0, 0, 0x00, 0x01];
    e.extend_from_slice(&[0xAA; 8]);
    e.extend(inner_frame());
    assert_tunneled(&outer_gre(&g, &e), TunnelKind::ErspanIII, Some(3));
    // Type III carrying IP (FT 2).
    let mut e = vec![0x20, 0x00, 0x00, 0x04, 1, 2, 3, 4, 0, 0, 0x08, 0x00];
    e.extend(inner_ip());
    assert_tunneled(&outer_gre(&g, &e), TunnelKind::ErspanIII, Some(4));
}

#[test]
fn gtp_u_with_extension_headers() {
    // E and S set: sequence, N-PDU, next extension type 0x85 (PDU session container, one
    // 4-byte word), then none.
    let inner = inner_ip();
    let mut body = vec![0x00, 0x01, 0x00, 0x85, 0x01, 0x10, 0x01, 0x00];
    body.extend(&inner);
    let mut p = vec![0x36, 0xFF];
    p.extend_from_slice(&(body.len() as u16).to_be_bytes());
    p.extend_from_slice(&0xAABBCCDDu32.to_be_bytes());
    p.extend(body);
    assert_tunneled(&outer_udp(2152, &p), TunnelKind::GtpU, Some(0xAABBCCDD));
    // An echo request is signalling.
    let echo = [0x32, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x00];
    assert_eq!(tunnel::gtp_u(&echo).unwrap_err(), TunnelError::Control);
}

#[test]
fn gtp_teids_differ_per_direction_but_flows_meet() {
    let up = {
        let mut p = vec![0x30, 0xFF, 0, 0, 0, 0, 0, 1];
        let inner = inner_ip();
        p[2..4].copy_from_slice(&(inner.len() as u16).to_be_bytes());
        p.extend(inner);
        outer_udp(2152, &p)
    };
    let down = {
        let inner = ip4(6, S4, C4, &tcp(80, 40000, 5000, b"HTTP/1.1 200 OK\r\n\r\n"));
        let mut p = vec![0x30, 0xFF, 0, 0, 0, 0, 0, 2];
        p[2..4].copy_from_slice(&(inner.len() as u16).to_be_bytes());
        p.extend(inner);
        eth(0x0800, &ip4(17, VTEP_B, VTEP_A, &udp(2152, 2152, &p)))
    };
    let mut d = Decoder::new();
    let z1 = d
        .decode_at(1, LinkType::Ethernet, &up, up.len() as u32)
        .unwrap()
        .zone;
    let z2 = d
        .decode_at(2, LinkType::Ethernet, &down, down.len() as u32)
        .unwrap()
        .zone;
    assert_eq!(z1, z2);
}

#[test]
fn teredo_on_its_port_and_by_shape() {
    let client6 = [
        0x20, 0x01, 0, 0, 0x41, 0x37, 0x9e, 0x50, 0x80, 0, 0xf1, 0x2a, 0xb9, 0xc8, 0x28, 0x15,
    ];
    let server6 = [
        0x20, 0x01, 0x48, 0x60, 0, 0, 0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x68,
    ];
    let v6 = ip6(6, client6, server6, &tcp(1286, 80, 1, REQUEST));
    // With an origin indication, on port 3544.
    let mut p = vec![0x00, 0x00, 0xff, 0xff, 0xbe, 0xaa, 0xfe, 0xfd];
    p.extend(&v6);
    let (r, d) = run(&DecodeConfig::default(), &outer_udp(3544, &p));
    let (src, zone, payload) = r.expect("teredo decoded");
    assert_eq!((src.port(), payload.as_slice()), (1286, REQUEST));
    assert_eq!(d.tunnel(zone).unwrap().kind, TunnelKind::Teredo);
    // Relayed, on ephemeral ports: recognised by its shape.
    let pkt = eth(0x0800, &ip4(17, VTEP_A, VTEP_B, &udp(3797, 32900, &v6)));
    let (r, _) = run(&DecodeConfig::default(), &pkt);
    assert_eq!(r.expect("heuristic").2, REQUEST);
    let cfg = DecodeConfig {
        teredo_heuristic: false,
        ..DecodeConfig::default()
    };
    assert!(run(&cfg, &pkt).0.is_none());
    // A bubble is signalling.
    let bubble = ip6(59, client6, server6, &[]);
    assert_eq!(tunnel::teredo(&bubble).unwrap_err(), TunnelError::Control);
}

#[test]
fn ayiya_forward() {
    // IdLen 4 (16-byte id), IdType 1; SigLen 5 (20 bytes), HshMeth 2; AutMeth 1, OpCode 1;
    // next header 4 (IPv4), epoch.
    let mut p = vec![0x41, 0x52, 0x11, 4, 0, 0, 0, 1];
    p.extend_from_slice(&[0x11; 16]);
    p.extend_from_slice(&[0x22; 20]);
    p.extend(inner_ip());
    assert_tunneled(&outer_udp(5072, &p), TunnelKind::Ayiya, None);
    // A heartbeat (opcode 0) is signalling.
    p[2] = 0x10;
    let (r, d) = run(&DecodeConfig::default(), &outer_udp(5072, &p));
    assert!(r.is_none());
    assert_eq!(d.stats().tunnels.control, 1);
}

#[test]
fn ip_in_ip() {
    let pkt = eth(0x0800, &ip4(4, VTEP_A, VTEP_B, &inner_ip()));
    assert_tunneled(&pkt, TunnelKind::IpInIp, None);
}

// ---- nesting and zones -----------------------------------------------------------------

#[test]
fn nested_tunnels_up_to_the_depth() {
    // VXLAN inside GENEVE: the record shows the outermost, depth 2.
    let mut p = geneve_hdr(9, 0x6558, &[], false);
    p.extend(vxlan_packet(42, &inner_frame()));
    let pkt = outer_udp(6081, &p);
    let (r, d) = run(&DecodeConfig::default(), &pkt);
    let (_, zone, payload) = r.expect("nested decoded");
    assert_eq!(payload, REQUEST);
    let t = d.tunnel(zone).unwrap();
    assert_eq!((t.kind, t.id, t.depth), (TunnelKind::Geneve, Some(9), 2));
    let cfg = DecodeConfig {
        max_tunnel_depth: 1,
        ..DecodeConfig::default()
    };
    let (r, d) = run(&cfg, &pkt);
    assert!(r.is_none());
    assert_eq!(
        (d.stats().tunnels.depth_exceeded, d.stats().malformed_link),
        (1, 1)
    );
    // Depth 0 turns decapsulation off: the packet is plain UDP.
    let cfg = DecodeConfig {
        max_tunnel_depth: 0,
        ..DecodeConfig::default()
    };
    assert_eq!(run(&cfg, &pkt).1.stats().udp, 1);
}

#[test]
fn equal_inner_addresses_in_different_tunnels_never_share_a_zone() {
    let a = run(&DecodeConfig::default(), &vxlan_packet(1, &inner_frame()))
        .0
        .unwrap()
        .1;
    let b = run(&DecodeConfig::default(), &vxlan_packet(2, &inner_frame()))
        .0
        .unwrap()
        .1;
    assert_ne!(a, b);
    // Same VNI, another mirror source.
    let mut p = vxlan_hdr(1);
    p.extend(inner_frame());
    let other = eth(0x0800, &ip4(17, [192, 0, 2, 9], VTEP_B, &udp(1, 4789, &p)));
    let c = run(&DecodeConfig::default(), &other).0.unwrap().1;
    assert_ne!(a, c);
    // ... unless zones are by id only.
    let by_id = DecodeConfig {
        zone_by_outer_address: false,
        ..DecodeConfig::default()
    };
    assert_eq!(
        run(&by_id, &vxlan_packet(1, &inner_frame())).0.unwrap().1,
        run(&by_id, &other).0.unwrap().1
    );
    // A plain packet stays in zone 0.
    assert_eq!(
        run(&DecodeConfig::default(), &inner_frame()).0.unwrap().1,
        0
    );
}

#[test]
fn listener_payload_entry_point() {
    let mut p = vxlan_hdr(42);
    p.extend(inner_frame());
    let mut d = Decoder::new();
    let src: SocketAddr = "10.200.9.1:51000".parse().unwrap();
    let dst: SocketAddr = "10.200.9.2:4789".parse().unwrap();
    let seg = d
        .decode_tunnel_payload(5, UdpTunnel::Vxlan, &p, src, dst)
        .expect("decoded");
    assert_eq!(seg.payload, REQUEST);
    let zone = seg.zone;
    let t = d.tunnel(zone).unwrap();
    assert_eq!((t.kind, t.outer_src), (TunnelKind::Vxlan, src.ip()));
    assert_eq!(d.stats().packets, 1);
}

#[test]
fn truncated_tunnel_header_is_not_malformed() {
    let full = vxlan_packet(42, &inner_frame());
    // Cut inside the VXLAN header.
    let cut = &full[..14 + 20 + 8 + 4];
    let mut d = Decoder::new();
    assert!(d
        .decode_at(1, LinkType::Ethernet, cut, full.len() as u32)
        .is_none());
    assert_eq!(
        (d.stats().truncated_headers, d.stats().tunnels.truncated),
        (1, 1)
    );
}

// ---- fragments -------------------------------------------------------------------------

/// The request's IPv4/TCP datagram payload (TCP header and HTTP), cut into pieces of 16
/// bytes (the last one shorter).
fn tcp_bytes() -> Vec<u8> {
    tcp(40000, 80, 1000, REQUEST)
}

fn v4_frags(pieces: &[(usize, usize)], id: u16) -> Vec<Vec<u8>> {
    let t = tcp_bytes();
    pieces
        .iter()
        .map(|&(s, e)| {
            let e = e.min(t.len());
            eth(0x0800, &ip4_frag(6, C4, S4, id, e < t.len(), s, &t[s..e]))
        })
        .collect()
}

/// Feed packets; the payload of the segment that came out, and the decoder.
fn feed(pkts: &[Vec<u8>]) -> (Vec<Vec<u8>>, Decoder) {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    for (i, p) in pkts.iter().enumerate() {
        if let Some(s) = d.decode_at(i as u64, LinkType::Ethernet, p, p.len() as u32) {
            out.push(s.payload.to_vec());
        }
    }
    (out, d)
}

#[test]
fn ipv4_fragments_out_of_order_and_overlapping() {
    let n = tcp_bytes().len();
    // Out of order, with the second piece sent twice and overlapping the third.
    let pkts = v4_frags(&[(48, n), (0, 24), (16, 40), (24, 48), (16, 40)], 77);
    let (out, d) = feed(&pkts);
    assert_eq!(out, vec![REQUEST.to_vec()]);
    let f = &d.stats().fragments;
    assert_eq!((f.received, f.reassembled), (5, 1));
    assert!(f.overlaps >= 1);
    assert_eq!(
        d.stats().ip_fragments,
        4,
        "the fifth is a fresh datagram, held"
    );
}

#[test]
fn overlapping_fragment_with_other_bytes_loses() {
    let t = tcp_bytes();
    let mut evil = t.clone();
    evil[20..24].copy_from_slice(b"POST");
    let pkts = vec![
        eth(0x0800, &ip4_frag(6, C4, S4, 5, true, 0, &t[..24])),
        eth(0x0800, &ip4_frag(6, C4, S4, 5, true, 16, &evil[16..32])),
        eth(0x0800, &ip4_frag(6, C4, S4, 5, false, 24, &t[24..])),
    ];
    let (out, d) = feed(&pkts);
    assert_eq!(out, vec![REQUEST.to_vec()], "the first bytes win");
    assert_eq!(d.stats().fragments.overlap_mismatches, 1);
}

#[test]
fn missing_fragment_gives_nothing_and_times_out() {
    let n = tcp_bytes().len();
    let pkts = v4_frags(&[(0, 24), (48, n)], 9);
    let (out, mut d) = feed(&pkts);
    assert!(out.is_empty());
    let later = inner_frame();
    d.decode_at(60_000_000, LinkType::Ethernet, &later, later.len() as u32);
    assert_eq!(d.stats().fragments.timed_out, 1);
}

#[test]
fn ipv6_fragments_out_of_order() {
    let t = tcp_bytes();
    let (a, b) = ([0xfd; 16], [0xfe; 16]);
    let pkts = vec![
        eth(0x86DD, &ip6_frag(6, a, b, 0xdead, false, 32, &t[32..])),
        eth(0x86DD, &ip6_frag(6, a, b, 0xdead, true, 16, &t[16..32])),
        eth(0x86DD, &ip6_frag(6, a, b, 0xdead, true, 0, &t[..16])),
    ];
    let (out, d) = feed(&pkts);
    assert_eq!(out, vec![REQUEST.to_vec()]);
    assert_eq!(d.stats().fragments.reassembled, 1);
}

#[test]
fn fragments_inside_a_tunnel_and_of_the_tunnel() {
    // Inner fragments in VXLAN.
    let t = tcp_bytes();
    let inner: Vec<Vec<u8>> = [(0usize, 24usize, true), (24, t.len(), false)]
        .iter()
        .map(|&(s, e, mf)| vxlan_packet(42, &eth(0x0800, &ip4_frag(6, C4, S4, 3, mf, s, &t[s..e]))))
        .collect();
    let (out, _) = feed(&inner);
    assert_eq!(out, vec![REQUEST.to_vec()]);
    // The outer VXLAN datagram fragmented (a 1500-byte inner frame on a 1500-byte path).
    let whole = udp(49152, 4789, &[vxlan_hdr(42), inner_frame()].concat());
    let outer: Vec<Vec<u8>> = [(0usize, 40usize, true), (40, whole.len(), false)]
        .iter()
        .map(|&(s, e, mf)| {
            eth(
                0x0800,
                &ip4_frag(17, VTEP_A, VTEP_B, 11, mf, s, &whole[s..e]),
            )
        })
        .collect();
    let (out, d) = feed(&outer);
    assert_eq!(out, vec![REQUEST.to_vec()]);
    assert_eq!(d.stats().tunnels.vxlan, 1);
}

#[test]
fn stateless_decode_skips_fragments() {
    let t = tcp_bytes();
    let p = eth(0x0800, &ip4_frag(6, C4, S4, 3, true, 0, &t[..24]));
    let mut d = Decoder::new();
    assert!(d.decode(LinkType::Ethernet, &p, p.len() as u32).is_none());
    assert_eq!(d.stats().ip_fragments, 1);
}

// ---- no panics -------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// No bytes make a tunnel parser panic, and an inner slice is always inside the input.
    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..120)) {
        let results = [
            tunnel::vxlan(&data),
            tunnel::geneve(&data),
            tunnel::gre(&data, false),
            tunnel::gre(&data, true),
            tunnel::gtp_u(&data),
            tunnel::teredo(&data),
            tunnel::ayiya(&data),
        ];
        let range = data.as_ptr_range();
        for d in results.into_iter().flatten() {
            let p = d.inner.as_ptr_range();
            prop_assert!(range.start <= p.start && p.end <= range.end);
            prop_assert!(matches!(d.next, Next::Ethernet | Next::Ip | Next::Mpls));
        }
        let _ = tunnel::looks_like_teredo(&data);
    }

    /// Arbitrary bytes behind each tunnel port, in any nesting, never make the decoder panic,
    /// and each packet is counted once.
    #[test]
    fn decoder_never_panics_on_tunnel_payloads(
        data in proptest::collection::vec(any::<u8>(), 0..160),
        port in prop::sample::select(vec![4789u16, 6081, 4754, 2152, 5072, 3544, 9]),
        gre in any::<bool>(),
        cut in 0u32..40,
    ) {
        let pkt = if gre {
            eth(0x0800, &ip4(47, VTEP_A, VTEP_B, &data))
        } else {
            outer_udp(port, &data)
        };
        let mut d = Decoder::new();
        let _ = d.decode_at(1, LinkType::Ethernet, &pkt, pkt.len() as u32 + cut);
        let s = d.stats();
        let skips = s.not_ip + s.udp + s.other_ip_protocol + s.ip_fragments + s.truncated_headers
            + s.malformed_link + s.malformed_ip + s.malformed_tcp;
        prop_assert_eq!(s.tcp_segments + skips, 1, "{:?}", s);
    }

    /// Fragments of any sizes and order, some repeated, reassemble to the datagram.
    #[test]
    fn fragments_in_any_order(cuts in proptest::collection::btree_set(1usize..9, 0..6), seed in any::<u64>()) {
        let t = tcp_bytes();
        let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c * 8).filter(|&c| c < t.len()).collect();
        bounds.insert(0, 0);
        bounds.push(t.len());
        let mut pkts: Vec<Vec<u8>> = bounds
            .windows(2)
            .map(|w| eth(0x0800, &ip4_frag(6, C4, S4, 1, w[1] < t.len(), w[0], &t[w[0]..w[1]])))
            .collect();
        // A deterministic shuffle by the seed.
        let n = pkts.len();
        for i in (1..n).rev() {
            let j = (seed.rotate_left(i as u32) % (i as u64 + 1)) as usize;
            pkts.swap(i, j);
        }
        let (out, _) = feed(&pkts);
        prop_assert_eq!(out, vec![REQUEST.to_vec()]);
    }
}
