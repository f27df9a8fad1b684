//! Link layers: find where the IP packet starts.
//!
//! Each supported DLT is a handful of fixed offsets, so they are peeled by hand rather than
//! through a general parser. Numbers are the tcpdump.org LINKTYPE registry values.

use std::fmt;

use super::Skip;

/// Ethernet header: destination, source, EtherType (IEEE 802.3).
const ETHERNET_HEADER_LEN: usize = 14;
/// EtherType values below this are IEEE 802.3 lengths: an 802.2 LLC header follows.
const ETHERTYPE_MIN: u16 = 0x0600;
/// 802.2 LLC header (DSAP, SSAP, control) plus the SNAP header (OUI, EtherType), RFC 1042.
const LLC_SNAP_LEN: usize = 8;
/// DSAP and SSAP value announcing a SNAP header (RFC 1042).
const LLC_SAP_SNAP: u8 = 0xAA;
/// LLC control field of an unnumbered information frame.
const LLC_CONTROL_UI: u8 = 0x03;
/// An 802.1Q / 802.1ad tag: TCI then the inner EtherType.
const VLAN_TAG_LEN: usize = 4;
/// One MPLS label stack entry (RFC 3032 section 2.1).
const MPLS_LABEL_LEN: usize = 4;
/// Bottom-of-stack bit in the third byte of an MPLS label entry (RFC 3032 section 2.1).
const MPLS_BOTTOM_OF_STACK: u8 = 0x01;
/// PPPoE session header (RFC 2516 section 4); the PPP protocol field follows.
const PPPOE_SESSION_LEN: usize = 6;
/// PPP in HDLC-like framing starts with this address and control (RFC 1662 section 3.1).
const PPP_HDLC_ADDRESS_CONTROL: [u8; 2] = [0xFF, 0x03];
/// Cisco HDLC header: address, control, then an EtherType.
const CHDLC_HEADER_LEN: usize = 4;
/// Cisco HDLC unicast and broadcast addresses.
const CHDLC_ADDRESSES: [u8; 2] = [0x0F, 0x8F];
/// PPI packet header: version, flags, length (LE), DLT of the packet (LE).
const PPI_HEADER_LEN: usize = 8;
/// Radiotap header: version, pad, length (LE), present bitmap; the length covers it all.
const RADIOTAP_MIN_LEN: usize = 8;
/// An 802.11 data frame header without the fourth address, QoS or HT control (IEEE 802.11
/// section 9.3.2.1): frame control, duration, three addresses, sequence control.
const WLAN_DATA_HEADER_LEN: usize = 24;
/// The fourth address of a frame between two distribution systems (ToDS and FromDS set).
const WLAN_ADDR4_LEN: usize = 6;
/// QoS control field of a QoS data frame.
const WLAN_QOS_LEN: usize = 2;
/// HT control field of a QoS frame with the Order bit.
const WLAN_HT_CONTROL_LEN: usize = 4;
/// 802.11 frame type of data frames (frame control bits 2-3).
const WLAN_TYPE_DATA: u8 = 2;
/// Subtype bit of QoS data frames.
const WLAN_SUBTYPE_QOS: u8 = 0x8;
/// Subtype bit of data frames without a body (Null, QoS Null, CF-Ack...).
const WLAN_SUBTYPE_NO_DATA: u8 = 0x4;
/// Frame control flags: ToDS and FromDS.
const WLAN_FLAGS_DS: u8 = 0x03;
/// Frame control flags: the body is encrypted (WEP/WPA), so no IP can be read.
const WLAN_FLAG_PROTECTED: u8 = 0x40;
/// Frame control flags: the Order bit (an HT control field follows QoS control).
const WLAN_FLAG_ORDER: u8 = 0x80;
/// Linux cooked capture v1 header.
const SLL_HEADER_LEN: usize = 16;
/// Offset of the protocol (EtherType) field in the SLL v1 header.
const SLL_PROTOCOL_OFFSET: usize = 14;
/// Linux cooked capture v2 header; the protocol is its first field.
const SLL2_HEADER_LEN: usize = 20;
/// BSD loopback / null header: the address family as a 4-byte integer.
const NULL_HEADER_LEN: usize = 4;
/// NFLOG header: family, version, resource id.
const NFLOG_HEADER_LEN: usize = 4;
/// NFLOG TLV header: length, type (host byte order; captures are written little-endian here).
const NFLOG_TLV_HEADER_LEN: usize = 4;
/// NFLOG TLV type of the packet payload (`NFULA_PAYLOAD`).
const NFULA_PAYLOAD: u16 = 9;
/// Most link headers and tags peeled before a packet is declared malformed: bounds the loop
/// over VLAN tags and MPLS labels.
const MAX_LINK_HEADERS: usize = 8;

/// EtherType for IPv4.
const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType for IPv6.
const ETHERTYPE_IPV6: u16 = 0x86DD;
/// EtherType for an 802.1Q customer VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType for an 802.1ad service VLAN tag (QinQ outer tag).
const ETHERTYPE_QINQ: u16 = 0x88A8;
/// Legacy QinQ EtherType still sent by some switches.
const ETHERTYPE_QINQ_LEGACY: u16 = 0x9100;
/// EtherType for MPLS unicast.
const ETHERTYPE_MPLS: u16 = 0x8847;
/// EtherType for MPLS multicast.
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// EtherType for a PPPoE session.
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// PPP protocol number for IPv4.
const PPP_IPV4: u16 = 0x0021;
/// PPP protocol number for IPv6.
const PPP_IPV6: u16 = 0x0057;

/// BSD AF_INET.
const AF_INET: u32 = 2;
/// The AF_INET6 values of the BSDs and Linux, which differ (Linux 10, NetBSD/OpenBSD 24,
/// FreeBSD 28, macOS 30).
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

/// The link types apitap decodes; anything else is an [`UnsupportedLinkType`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_NULL (0): BSD loopback, address family in host byte order.
    Null,
    /// LINKTYPE_ETHERNET (1), with 802.1Q/QinQ tags, MPLS and PPPoE inside.
    Ethernet,
    /// LINKTYPE_RAW (101, and the historical 12 and 14): the packet starts with IP.
    Raw,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, address family in network byte order.
    Loop,
    /// LINKTYPE_LINUX_SLL (113): Linux cooked capture v1.
    LinuxSll,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_NFLOG (239): Linux netfilter log messages.
    Nflog,
    /// LINKTYPE_LINUX_SLL2 (276): Linux cooked capture v2.
    LinuxSll2,
    /// LINKTYPE_PPP (9) and LINKTYPE_PPP_HDLC (50): PPP, with or without HDLC-like framing
    /// (RFC 1661, RFC 1662), and the Cisco HDLC framing DLT 50 may also carry.
    Ppp,
    /// LINKTYPE_C_HDLC (104): Cisco HDLC, an EtherType after address and control.
    CiscoHdlc,
    /// LINKTYPE_IEEE802_11 (105): 802.11 data frames with LLC/SNAP.
    Ieee80211,
    /// LINKTYPE_IEEE802_11_RADIOTAP (127): radiotap, then an 802.11 frame.
    Radiotap,
    /// LINKTYPE_PPI (192): the Per-Packet Information header, then a frame of the link type
    /// it names.
    Ppi,
}

/// A capture's link type that apitap cannot decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedLinkType {
    /// The DLT number.
    pub dlt: i32,
    /// Its name from libpcap, when known.
    pub name: Option<String>,
}

impl fmt::Display for UnsupportedLinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "unsupported link type {} (DLT {})", n, self.dlt)?,
            None => write!(f, "unsupported link type DLT {}", self.dlt)?,
        }
        write!(
            f,
            "; apitap decodes Ethernet (with VLAN/QinQ/MPLS/PPPoE), Linux SLL and SLL2, raw \
             IPv4/IPv6, BSD null/loopback, NFLOG, PPP, Cisco HDLC, 802.11 (plain, radiotap, PPI)"
        )
    }
}

impl std::error::Error for UnsupportedLinkType {}

impl LinkType {
    /// The link type for a DLT number, or `None` when it is not supported.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            9 | 50 => LinkType::Ppp,
            104 => LinkType::CiscoHdlc,
            105 => LinkType::Ieee80211,
            127 => LinkType::Radiotap,
            192 => LinkType::Ppi,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            239 => LinkType::Nflog,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }
}

/// Big-endian u16 at `at`, if the slice is long enough.
#[inline]
fn be16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Little-endian u16 at `at`, if the slice is long enough.
#[inline]
fn le16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Strip the link layer of `data`: the IP packet, or why there is none.
pub fn strip(link: LinkType, data: &[u8], cut: bool) -> Result<&[u8], Skip> {
    let short = Skip::length_or(cut, Skip::MalformedLink);
    match link {
        LinkType::Ethernet => {
            let ty = be16(data, ETHERNET_HEADER_LEN - 2).ok_or(short)?;
            let rest = data.get(ETHERNET_HEADER_LEN..).ok_or(short)?;
            if ty < ETHERTYPE_MIN {
                return after_llc(rest, cut);
            }
            after_ethertype(ty, rest, cut)
        }
        LinkType::Raw => ip_by_version(data),
        LinkType::Ipv4 | LinkType::Ipv6 => Ok(data),
        LinkType::LinuxSll => {
            let ty = be16(data, SLL_PROTOCOL_OFFSET).ok_or(short)?;
            after_ethertype(ty, data.get(SLL_HEADER_LEN..).ok_or(short)?, cut)
        }
        LinkType::LinuxSll2 => {
            let ty = be16(data, 0).ok_or(short)?;
            after_ethertype(ty, data.get(SLL2_HEADER_LEN..).ok_or(short)?, cut)
        }
        LinkType::Null | LinkType::Loop => {
            let b = data.get(..NULL_HEADER_LEN).ok_or(short)?;
            let fam = [b[0], b[1], b[2], b[3]];
            // LINKTYPE_NULL is in the capturing host's byte order, which the file does not
            // record: accept either order.
            let fam = match link {
                LinkType::Loop => u32::from_be_bytes(fam),
                _ if u32::from_le_bytes(fam) < 0x100 => u32::from_le_bytes(fam),
                _ => u32::from_be_bytes(fam),
            };
            if fam == AF_INET || AF_INET6.contains(&fam) {
                Ok(&data[NULL_HEADER_LEN..])
            } else {
                Err(Skip::NotIp)
            }
        }
        LinkType::Nflog => nflog_payload(data, cut),
        LinkType::Ppp => ppp_or_chdlc(data, cut),
        LinkType::CiscoHdlc => after_chdlc(data, cut),
        LinkType::Ieee80211 => after_wlan(data, cut),
        LinkType::Radiotap => {
            let len = usize::from(le16(data, 2).ok_or(short)?);
            if data.first() != Some(&0) || len < RADIOTAP_MIN_LEN {
                return Err(Skip::MalformedLink);
            }
            after_wlan(data.get(len..).ok_or(short)?, cut)
        }
        LinkType::Ppi => after_ppi(data, cut),
    }
}

/// A PPI packet: its header names the link type of the frame after it.
fn after_ppi(data: &[u8], cut: bool) -> Result<&[u8], Skip> {
    let short = Skip::length_or(cut, Skip::MalformedLink);
    let len = usize::from(le16(data, 2).ok_or(short)?);
    let dlt = data.get(4..PPI_HEADER_LEN).ok_or(short)?;
    let dlt = i32::from_le_bytes([dlt[0], dlt[1], dlt[2], dlt[3]]);
    if data.first() != Some(&0) || len < PPI_HEADER_LEN {
        return Err(Skip::MalformedLink);
    }
    match LinkType::from_dlt(dlt) {
        // PPI inside PPI would only loop.
        Some(LinkType::Ppi) | None => Err(Skip::NotIp),
        Some(inner) => strip(inner, data.get(len..).ok_or(short)?, cut),
    }
}

/// DLT 9 and 50: PPP (framed or not), or Cisco HDLC framing (DLT 50 carries both).
fn ppp_or_chdlc(data: &[u8], cut: bool) -> Result<&[u8], Skip> {
    match data.first() {
        Some(a) if CHDLC_ADDRESSES.contains(a) => after_chdlc(data, cut),
        _ => after_ppp(data, cut),
    }
}

/// Cisco HDLC: address, control, EtherType.
fn after_chdlc(data: &[u8], cut: bool) -> Result<&[u8], Skip> {
    let short = Skip::length_or(cut, Skip::MalformedLink);
    let ty = be16(data, 2).ok_or(short)?;
    after_ethertype(ty, data.get(CHDLC_HEADER_LEN..).ok_or(short)?, cut)
}

/// A PPP frame (RFC 1661 section 2): the optional HDLC-like address and control (RFC 1662),
/// then the protocol field, one byte when compressed (an odd first byte, RFC 1661 section
/// 6.5), then IPv4 or IPv6.
fn after_ppp(data: &[u8], cut: bool) -> Result<&[u8], Skip> {
    let short = Skip::length_or(cut, Skip::MalformedLink);
    let data = data
        .strip_prefix(&PPP_HDLC_ADDRESS_CONTROL[..])
        .unwrap_or(data);
    let first = *data.first().ok_or(short)?;
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), &data[1..])
    } else {
        (be16(data, 0).ok_or(short)?, &data[2..])
    };
    match proto {
        PPP_IPV4 | PPP_IPV6 => Ok(rest),
        _ => Err(Skip::NotIp),
    }
}

/// An 802.11 frame: only unprotected data frames with a body carry IP, after LLC/SNAP.
fn after_wlan(data: &[u8], cut: bool) -> Result<&[u8], Skip> {
    let short = Skip::length_or(cut, Skip::MalformedLink);
    let fc = data.get(..2).ok_or(short)?;
    let (kind, subtype, flags) = ((fc[0] >> 2) & 0x3, fc[0] >> 4, fc[1]);
    if kind != WLAN_TYPE_DATA
        || subtype & WLAN_SUBTYPE_NO_DATA != 0
        || flags & WLAN_FLAG_PROTECTED != 0
    {
        return Err(Skip::NotIp);
    }
    let mut len = WLAN_DATA_HEADER_LEN;
    if flags & WLAN_FLAGS_DS == WLAN_FLAGS_DS {
        len += WLAN_ADDR4_LEN;
    }
    if subtype & WLAN_SUBTYPE_QOS != 0 {
        len += WLAN_QOS_LEN;
        if flags & WLAN_FLAG_ORDER != 0 {
            len += WLAN_HT_CONTROL_LEN;
        }
    }
    after_llc(data.get(len..).ok_or(short)?, cut)
}

/// Follow EtherTypes through VLAN tags, MPLS labels and PPPoE down to IP.
fn after_ethertype(mut ty: u16, mut rest: &[u8], cut: bool) -> Result<&[u8], Skip> {
    let short = Skip::length_or(cut, Skip::MalformedLink);
    for _ in 0..MAX_LINK_HEADERS {
        match ty {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(rest),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_LEGACY => {
                ty = be16(rest, 2).ok_or(short)?;
                rest = rest.get(VLAN_TAG_LEN..).ok_or(short)?;
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => return after_mpls(rest, cut),
            ETHERTYPE_PPPOE_SESSION => {
                return after_ppp(rest.get(PPPOE_SESSION_LEN..).ok_or(short)?, cut);
            }
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::MalformedLink)
}

/// An IEEE 802.3 frame: only LLC/SNAP (RFC 1042) carries an EtherType, and so IP.
fn after_llc(rest: &[u8], cut: bool) -> Result<&[u8], Skip> {
    let short = Skip::length_or(cut, Skip::MalformedLink);
    let llc = rest.get(..LLC_SNAP_LEN).ok_or(short)?;
    if llc[0] != LLC_SAP_SNAP || llc[1] != LLC_SAP_SNAP || llc[2] != LLC_CONTROL_UI {
        return Err(Skip::NotIp);
    }
    let ty = u16::from_be_bytes([llc[6], llc[7]]);
    after_ethertype(ty, &rest[LLC_SNAP_LEN..], cut)
}

/// Skip an MPLS label stack; what follows the bottom label is IP when its version nibble says so.
pub(super) fn after_mpls(mut rest: &[u8], cut: bool) -> Result<&[u8], Skip> {
    let short = Skip::length_or(cut, Skip::MalformedLink);
    for _ in 0..MAX_LINK_HEADERS {
        let label = rest.get(..MPLS_LABEL_LEN).ok_or(short)?;
        let bottom = label[2] & MPLS_BOTTOM_OF_STACK != 0;
        rest = &rest[MPLS_LABEL_LEN..];
        if bottom {
            return ip_by_version(rest);
        }
    }
    Err(Skip::MalformedLink)
}

/// IP by its version nibble.
pub(super) fn ip_by_version(data: &[u8]) -> Result<&[u8], Skip> {
    match data.first().map(|b| b >> 4) {
        Some(4) | Some(6) => Ok(data),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::MalformedLink),
    }
}

/// The packet inside an NFLOG message: walk its TLVs to `NFULA_PAYLOAD`.
fn nflog_payload(data: &[u8], cut: bool) -> Result<&[u8], Skip> {
    let short = Skip::length_or(cut, Skip::MalformedLink);
    let mut rest = data.get(NFLOG_HEADER_LEN..).ok_or(short)?;
    while rest.len() >= NFLOG_TLV_HEADER_LEN {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let ty = u16::from_le_bytes([rest[2], rest[3]]);
        if len < NFLOG_TLV_HEADER_LEN {
            return Err(Skip::MalformedLink);
        }
        if ty == NFULA_PAYLOAD {
            // The payload TLV may be cut by the snap length: take what is there.
            let end = len.min(rest.len());
            return ip_by_version(&rest[NFLOG_TLV_HEADER_LEN..end]);
        }
        // TLVs are padded to a multiple of 4 bytes.
        let padded = len.div_ceil(4) * 4;
        rest = rest.get(padded..).ok_or(short)?;
    }
    Err(Skip::NotIp)
}
