//! Decode table tests: one packet per link layer, built with etherparse.

use super::*;
use etherparse::PacketBuilder;
use proptest::prelude::*;

const PAYLOAD: &[u8] = b"GET / HTTP/1.1\r\n\r\n";

/// IPv4/TCP bytes (no link layer) from 10.0.0.1:40000 to 10.0.0.2:80.
fn ipv4_tcp() -> Vec<u8> {
    let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 1000, 65535)
        .ack(7)
        .psh();
    let mut v = Vec::new();
    b.write(&mut v, PAYLOAD).unwrap();
    v
}

/// IPv6/TCP bytes with a hop-by-hop extension header is hard to build; plain IPv6 is enough
/// for the version dispatch, extension headers are etherparse's.
fn ipv6_tcp() -> Vec<u8> {
    let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(40000, 8080, 5, 65535);
    let mut v = Vec::new();
    b.write(&mut v, PAYLOAD).unwrap();
    v
}

fn ether(ty: u16, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 12];
    v.extend_from_slice(&ty.to_be_bytes());
    v.extend_from_slice(inner);
    v
}

fn decode(link: LinkType, pkt: &[u8]) -> (Option<(std::net::SocketAddr, Vec<u8>)>, DecodeStats) {
    let mut d = Decoder::new();
    let r = d
        .decode(link, pkt, pkt.len() as u32)
        .map(|s| (s.src, s.payload.to_vec()));
    (r, d.stats().clone())
}

fn assert_http(link: LinkType, pkt: &[u8]) {
    let (r, st) = decode(link, pkt);
    let (src, payload) = r.unwrap_or_else(|| panic!("{link:?} not decoded: {st:?}"));
    assert_eq!(payload, PAYLOAD);
    assert_eq!(src.port(), 40000);
    assert_eq!(st.tcp_segments, 1);
}

#[test]
fn ethernet_ipv4() {
    assert_http(LinkType::Ethernet, &ether(0x0800, &ipv4_tcp()));
}

#[test]
fn ethernet_ipv6() {
    assert_http(LinkType::Ethernet, &ether(0x86DD, &ipv6_tcp()));
}

#[test]
fn vlan_and_qinq() {
    let mut tag = vec![0x00, 0x64, 0x08, 0x00];
    tag.extend(ipv4_tcp());
    assert_http(LinkType::Ethernet, &ether(0x8100, &tag));
    let mut outer = vec![0x00, 0x0A, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00];
    outer.extend(ipv4_tcp());
    assert_http(LinkType::Ethernet, &ether(0x88A8, &outer));
}

#[test]
fn llc_snap() {
    let mut snap = vec![0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00];
    snap.extend(ipv4_tcp());
    let len = snap.len() as u16;
    assert_http(LinkType::Ethernet, &ether(len, &snap));
    // Plain LLC (spanning tree) is not IP.
    let (r, st) = decode(
        LinkType::Ethernet,
        &ether(38, &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]),
    );
    assert!(r.is_none());
    assert_eq!(st.not_ip, 1);
}

#[test]
fn mpls_stack() {
    // Two labels, the second with bottom-of-stack set.
    let mut m = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
    m.extend(ipv4_tcp());
    assert_http(LinkType::Ethernet, &ether(0x8847, &m));
}

#[test]
fn linux_sll_and_sll2() {
    let mut sll = vec![0u8; 14];
    sll.extend_from_slice(&0x0800u16.to_be_bytes());
    sll.extend(ipv4_tcp());
    assert_http(LinkType::LinuxSll, &sll);
    let mut sll2 = 0x86DDu16.to_be_bytes().to_vec();
    sll2.extend_from_slice(&[0u8; 18]);
    sll2.extend(ipv6_tcp());
    assert_http(LinkType::LinuxSll2, &sll2);
}

#[test]
fn raw_null_and_loop() {
    assert_http(LinkType::Raw, &ipv4_tcp());
    assert_http(LinkType::Raw, &ipv6_tcp());
    assert_http(LinkType::Ipv4, &ipv4_tcp());
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend(ipv4_tcp());
    assert_http(LinkType::Null, &null);
    let mut null6 = 30u32.to_be_bytes().to_vec();
    null6.extend(ipv6_tcp());
    assert_http(LinkType::Null, &null6);
    let mut lp = 24u32.to_be_bytes().to_vec();
    lp.extend(ipv6_tcp());
    assert_http(LinkType::Loop, &lp);
}

#[test]
fn nflog_payload_tlv() {
    let ip = ipv4_tcp();
    let mut p = vec![2, 0, 0, 0];
    // A prefix TLV of 5 bytes (padded to 8), then the payload TLV.
    p.extend_from_slice(&5u16.to_le_bytes());
    p.extend_from_slice(&10u16.to_le_bytes());
    p.extend_from_slice(&[b'x', 0, 0, 0]);
    p.extend_from_slice(&((ip.len() + 4) as u16).to_le_bytes());
    p.extend_from_slice(&9u16.to_le_bytes());
    p.extend(ip);
    assert_http(LinkType::Nflog, &p);
}

#[test]
fn non_tcp_is_counted_not_decoded() {
    let mut udp = Vec::new();
    PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 1)
        .udp(53, 53)
        .write(&mut udp, b"x")
        .unwrap();
    let (r, st) = decode(LinkType::Raw, &udp);
    assert!(r.is_none());
    assert_eq!(st.udp, 1);
    let (r, st) = decode(LinkType::Ethernet, &ether(0x0806, &[0; 28]));
    assert!(r.is_none());
    assert_eq!(st.not_ip, 1);
}

#[test]
fn truncated_is_not_malformed() {
    let full = ether(0x0800, &ipv4_tcp());
    // Cut inside the TCP header: the capture said the packet was longer.
    let cut = &full[..14 + 20 + 10];
    let mut d = Decoder::new();
    assert!(d
        .decode(LinkType::Ethernet, cut, full.len() as u32)
        .is_none());
    assert_eq!(d.stats().truncated_headers, 1);
    assert_eq!(d.stats().malformed_tcp, 0);
    // The same bytes with no cut recorded are malformed.
    let mut d = Decoder::new();
    assert!(d
        .decode(LinkType::Ethernet, cut, cut.len() as u32)
        .is_none());
    assert_eq!(d.stats().truncated_headers, 0);
    assert_eq!(d.stats().malformed_ip + d.stats().malformed_tcp, 1);
}

#[test]
fn payload_cut_by_snaplen_is_delivered_partially() {
    let full = ether(0x0800, &ipv4_tcp());
    let cut = &full[..full.len() - 5];
    let mut d = Decoder::new();
    let seg = d
        .decode(LinkType::Ethernet, cut, full.len() as u32)
        .expect("tcp header is whole");
    assert_eq!(seg.payload, &PAYLOAD[..PAYLOAD.len() - 5]);
    assert_eq!(d.stats().truncated_payloads, 1);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut ip = Vec::new();
    PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 1)
        .tcp(1, 2, 3, 4)
        .ack(1)
        .write(&mut ip, &[])
        .unwrap();
    let mut pkt = ether(0x0800, &ip);
    pkt.resize(60, 0);
    let mut d = Decoder::new();
    let seg = d.decode(LinkType::Ethernet, &pkt, 60).unwrap();
    assert!(seg.payload.is_empty());
}

/// PPP frames as each framing carries them: bare or in HDLC-like framing, the protocol field
/// whole or compressed, inside PPPoE, and Cisco HDLC under DLT 50 and 104.
#[test]
fn ppp_framings() {
    let with = |head: &[u8], ip: Vec<u8>| [head, &ip[..]].concat();
    let table: [(&str, LinkType, Vec<u8>); 9] = [
        ("bare", LinkType::Ppp, with(&[0x00, 0x21], ipv4_tcp())),
        (
            "hdlc-like",
            LinkType::Ppp,
            with(&[0xFF, 0x03, 0x00, 0x21], ipv4_tcp()),
        ),
        (
            "compressed protocol",
            LinkType::Ppp,
            with(&[0xFF, 0x03, 0x21], ipv4_tcp()),
        ),
        (
            "ipv6",
            LinkType::Ppp,
            with(&[0xFF, 0x03, 0x00, 0x57], ipv6_tcp()),
        ),
        (
            "cisco hdlc in dlt 50",
            LinkType::Ppp,
            with(&[0x0F, 0x00, 0x08, 0x00], ipv4_tcp()),
        ),
        (
            "cisco hdlc",
            LinkType::CiscoHdlc,
            with(&[0x8F, 0x00, 0x86, 0xDD], ipv6_tcp()),
        ),
        (
            "pppoe session",
            LinkType::Ethernet,
            ether(
                0x8864,
                &with(
                    &[0x11, 0x00, 0x00, 0x01, 0x00, 0x3e, 0x00, 0x21],
                    ipv4_tcp(),
                ),
            ),
        ),
        (
            "pppoe, compressed protocol",
            LinkType::Ethernet,
            ether(
                0x8864,
                &with(&[0x11, 0x00, 0x00, 0x01, 0x00, 0x3d, 0x21], ipv4_tcp()),
            ),
        ),
        (
            "pppoe, hdlc-like framing",
            LinkType::Ethernet,
            ether(
                0x8864,
                &with(
                    &[0x11, 0x00, 0x00, 0x01, 0x00, 0x40, 0xFF, 0x03, 0x00, 0x57],
                    ipv6_tcp(),
                ),
            ),
        ),
    ];
    for (name, link, pkt) in table {
        let (r, st) = decode(link, &pkt);
        assert!(r.is_some(), "{name}: {st:?}");
    }
    // LCP is not IP.
    let (r, st) = decode(LinkType::Ppp, &[0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4]);
    assert!(r.is_none() && st.not_ip == 1);
}

/// 802.11 data frames (plain, QoS, four addresses, behind radiotap and PPI) decode; other
/// frames and encrypted ones are not IP.
#[test]
fn wlan_frames() {
    let snap = [0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00];
    let frame = |fc: [u8; 2], extra: usize| {
        let mut f = fc.to_vec();
        f.extend_from_slice(&[0u8; 22]);
        f.extend(std::iter::repeat_n(0u8, extra));
        f.extend_from_slice(&snap);
        f.extend(ipv4_tcp());
        f
    };
    assert_http(LinkType::Ieee80211, &frame([0x08, 0x01], 0));
    assert_http(LinkType::Ieee80211, &frame([0x88, 0x02], 2)); // QoS data
    assert_http(LinkType::Ieee80211, &frame([0x88, 0x83], 6 + 2 + 4)); // WDS, QoS, HT
    let radiotap = [&[0u8, 0, 8, 0, 0, 0, 0, 0][..], &frame([0x08, 0x02], 0)].concat();
    assert_http(LinkType::Radiotap, &radiotap);
    let ppi = [&[0u8, 0, 8, 0, 105, 0, 0, 0][..], &frame([0x08, 0x02], 0)].concat();
    assert_http(LinkType::Ppi, &ppi);
    let ppi_eth = [&[0u8, 0, 8, 0, 1, 0, 0, 0][..], &ether(0x0800, &ipv4_tcp())].concat();
    assert_http(LinkType::Ppi, &ppi_eth);
    for (name, fc) in [
        ("beacon", [0x80, 0x00]),
        ("null data", [0x48, 0x01]),
        ("protected", [0x08, 0x41]),
    ] {
        let (r, st) = decode(LinkType::Ieee80211, &frame(fc, 0));
        assert!(r.is_none() && st.not_ip == 1, "{name}: {st:?}");
    }
}

#[test]
fn unknown_dlt_is_rejected_by_name() {
    assert_eq!(LinkType::from_dlt(1), Some(LinkType::Ethernet));
    assert_eq!(LinkType::from_dlt(147), None);
    let e = UnsupportedLinkType {
        dlt: 147,
        name: Some("USER0".into()),
    };
    assert!(e.to_string().contains("USER0"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// No bytes, of any link type, with any wire length, make the decoder panic.
    #[test]
    fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), extra in 0u32..100, dlt in prop::sample::select(vec![0, 1, 9, 50, 101, 104, 105, 108, 113, 127, 192, 228, 229, 239, 276])) {
        let link = LinkType::from_dlt(dlt).unwrap();
        let mut d = Decoder::new();
        let _ = d.decode(link, &data, data.len() as u32 + extra);
        prop_assert_eq!(d.stats().packets, 1);
    }

    /// Any prefix of a valid packet decodes or is counted, never panics.
    #[test]
    fn prefixes_of_valid_packets(cut in 0usize..80) {
        let full = ether(0x0800, &ipv4_tcp());
        let cut = cut.min(full.len());
        let mut d = Decoder::new();
        let _ = d.decode(LinkType::Ethernet, &full[..cut], full.len() as u32);
        let s = d.stats();
        prop_assert_eq!(s.tcp_segments + s.truncated_headers + s.malformed_link, 1, "{:?}", s);
    }
}
