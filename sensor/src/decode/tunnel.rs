//! Tunnel headers: pure functions from the bytes after the outer header to the encapsulated
//! packet. Each one checks only what it must to find the inner packet and its identity; none
//! verifies checksums (a sensor sees what the wire carried).
//!
//! A parser returns [`Decap`] (what is inside, and where), or a [`TunnelError`]: the header
//! is shorter than its fields say (`Short`: the caller decides between truncated and
//! malformed, as for every header), lies (`Malformed`), or carries no user packet
//! (`Control`: GTP signalling, GENEVE OAM, AYIYA heartbeats).

use apitap_sessionizer::tunnel::TunnelKind;

/// VXLAN header (RFC 7348 section 5): flags, 24 reserved bits, VNI, 8 reserved bits.
pub const VXLAN_HEADER_LEN: usize = 8;
/// VXLAN I flag: the VNI is valid (RFC 7348 section 5). It must be set.
const VXLAN_FLAG_I: u8 = 0x08;
/// VXLAN-GPE P flag: the next-protocol byte is present (draft-ietf-nvo3-vxlan-gpe section 3.2).
const VXLAN_GPE_FLAG_P: u8 = 0x04;
/// VXLAN-GPE next protocols (draft-ietf-nvo3-vxlan-gpe section 3.2).
const GPE_IPV4: u8 = 1;
const GPE_IPV6: u8 = 2;
const GPE_ETHERNET: u8 = 3;
const GPE_MPLS: u8 = 5;

/// GENEVE fixed header (RFC 8926 section 3.4).
const GENEVE_HEADER_LEN: usize = 8;
/// The only GENEVE version (RFC 8926 section 3.4).
const GENEVE_VERSION: u8 = 0;
/// GENEVE O bit: an OAM (control) packet (RFC 8926 section 3.4).
const GENEVE_FLAG_OAM: u8 = 0x80;
/// GENEVE option header: class (16), type (8), reserved (3) and length in 4-byte words (5)
/// (RFC 8926 section 3.5).
const GENEVE_OPTION_HEADER_LEN: usize = 4;

/// EtherType of Transparent Ethernet Bridging: an Ethernet frame follows (RFC 1701, RFC 8926).
pub const ETHERTYPE_TEB: u16 = 0x6558;
/// EtherType for IPv4.
const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType for IPv6.
const ETHERTYPE_IPV6: u16 = 0x86DD;
/// EtherTypes for MPLS unicast and multicast (RFC 5332).
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// GRE protocol type of ERSPAN type I and II (draft-foschiano-erspan section 4.1).
const ETHERTYPE_ERSPAN_II: u16 = 0x88BE;
/// GRE protocol type of ERSPAN type III (draft-foschiano-erspan section 4.1).
const ETHERTYPE_ERSPAN_III: u16 = 0x22EB;

/// GRE base header: flags and version, protocol type (RFC 2784 section 2).
const GRE_HEADER_LEN: usize = 4;
/// GRE C bit: checksum and reserved1 present (RFC 2784 section 2.1).
const GRE_FLAG_C: u8 = 0x80;
/// GRE R bit: routing present (RFC 1701; deprecated by RFC 2784, which requires it be 0).
const GRE_FLAG_R: u8 = 0x40;
/// GRE K bit: key present (RFC 2890 section 2).
const GRE_FLAG_K: u8 = 0x20;
/// GRE S bit: sequence number present (RFC 2890 section 2).
const GRE_FLAG_S: u8 = 0x10;
/// GRE version bits (RFC 2784 section 2.1: 0; version 1 is PPTP's enhanced GRE, RFC 2637).
const GRE_VERSION_MASK: u8 = 0x07;
/// Each optional GRE field (checksum+reserved1, key, sequence number) is 4 bytes.
const GRE_OPTIONAL_FIELD_LEN: usize = 4;

/// ERSPAN type II header (draft-foschiano-erspan section 4.2).
const ERSPAN_II_HEADER_LEN: usize = 8;
/// ERSPAN type III header (draft-foschiano-erspan section 4.3).
const ERSPAN_III_HEADER_LEN: usize = 12;
/// ERSPAN type III optional platform-specific subheader, present when the O bit is set.
const ERSPAN_III_PLATFORM_LEN: usize = 8;
/// ERSPAN version field values: 1 is type II, 2 is type III.
const ERSPAN_VERSION_II: u8 = 1;
const ERSPAN_VERSION_III: u8 = 2;
/// ERSPAN session id: the low 10 bits of the second 16-bit word.
const ERSPAN_SESSION_MASK: u16 = 0x03FF;
/// ERSPAN III frame type (FT, 5 bits): 0 Ethernet, 2 IP.
const ERSPAN_FT_ETHERNET: u8 = 0;
const ERSPAN_FT_IP: u8 = 2;

/// GTP-U mandatory header (3GPP TS 29.281 section 5.1).
const GTP_HEADER_LEN: usize = 8;
/// GTP version 1 in the top three bits of the flags.
const GTP_VERSION_1: u8 = 1;
/// GTP protocol type bit: 1 is GTP, 0 is GTP' (charging).
const GTP_FLAG_PT: u8 = 0x10;
/// GTP E, S and PN flags: any set means the 4 optional bytes follow (section 5.1).
const GTP_FLAG_E: u8 = 0x04;
const GTP_FLAGS_OPTIONAL: u8 = 0x07;
/// Sequence number, N-PDU number and next extension header type.
const GTP_OPTIONAL_LEN: usize = 4;
/// Message type of a G-PDU: a user packet (section 6.1).
const GTP_MSG_G_PDU: u8 = 0xFF;
/// Most extension headers followed before the packet is declared malformed.
const GTP_MAX_EXTENSIONS: usize = 16;

/// Teredo origin indication (RFC 4380 section 5.1.1): 0x0000, port, address.
const TEREDO_ORIGIN_LEN: usize = 8;
/// Teredo authentication header (RFC 4380 section 5.1.1): 0x0001, id length, auth length,
/// then the client id and auth value, an 8-byte nonce and a 1-byte confirmation.
const TEREDO_AUTH_FIXED_LEN: usize = 4 + 8 + 1;
/// IPv6 fixed header.
const IPV6_HEADER_LEN: usize = 40;
/// The Teredo prefix 2001:0000::/32 (RFC 4380 section 2.6).
const TEREDO_PREFIX: [u8; 4] = [0x20, 0x01, 0x00, 0x00];
/// IPv6 next-header value "no next header" (RFC 8200 section 4.7): Teredo bubbles.
const IPV6_NO_NEXT_HEADER: u8 = 59;

/// AYIYA fixed header (draft-massar-v6ops-ayiya section 5): lengths, methods, opcode, next
/// header, epoch.
const AYIYA_HEADER_LEN: usize = 8;
/// AYIYA opcode "forward": a packet follows.
const AYIYA_OP_FORWARD: u8 = 1;
/// AYIYA next header values (IP protocol numbers): IPv4, IPv6.
const AYIYA_NEXT_IPV4: u8 = 4;
const AYIYA_NEXT_IPV6: u8 = 41;

/// What follows a tunnel header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// An Ethernet frame (with its own VLAN tags, MPLS...).
    Ethernet,
    /// An IPv4 or IPv6 packet (by its version nibble).
    Ip,
    /// An MPLS label stack.
    Mpls,
}

/// A tunnel header, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decap<'a> {
    /// Its type.
    pub kind: TunnelKind,
    /// VNI, key, session id or TEID, when there is one.
    pub id: Option<u32>,
    /// True when the id is the same in both directions of a flow, so it can tell flows apart
    /// (a VNI, an ERSPAN session); false for per-direction ids (GTP TEIDs).
    pub id_is_symmetric: bool,
    /// What the inner bytes are.
    pub next: Next,
    /// The encapsulated packet.
    pub inner: &'a [u8],
}

/// Why a tunnel header gave no packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelError {
    /// Shorter than the header's fields require.
    Short,
    /// A field has a value the specification does not allow, or a type apitap does not decode.
    Malformed,
    /// A valid packet that carries no user data (signalling, OAM, keep-alive).
    Control,
}

/// Big-endian u16 at `at`.
#[inline]
fn be16(d: &[u8], at: usize) -> Result<u16, TunnelError> {
    let b = d.get(at..at + 2).ok_or(TunnelError::Short)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

/// Big-endian u32 at `at`.
#[inline]
fn be32(d: &[u8], at: usize) -> Result<u32, TunnelError> {
    let b = d.get(at..at + 4).ok_or(TunnelError::Short)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// What an EtherType-style protocol field says follows.
fn next_by_ethertype(ty: u16) -> Option<Next> {
    match ty {
        ETHERTYPE_TEB => Some(Next::Ethernet),
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(Next::Ip),
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => Some(Next::Mpls),
        _ => None,
    }
}

/// VXLAN (RFC 7348 section 5), and VXLAN-GPE when the P flag is set.
pub fn vxlan(d: &[u8]) -> Result<Decap<'_>, TunnelError> {
    let h = d.get(..VXLAN_HEADER_LEN).ok_or(TunnelError::Short)?;
    if h[0] & VXLAN_FLAG_I == 0 {
        return Err(TunnelError::Malformed);
    }
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    let (kind, next) = if h[0] & VXLAN_GPE_FLAG_P != 0 {
        let next = match h[3] {
            GPE_IPV4 | GPE_IPV6 => Next::Ip,
            GPE_ETHERNET => Next::Ethernet,
            GPE_MPLS => Next::Mpls,
            _ => return Err(TunnelError::Malformed),
        };
        (TunnelKind::VxlanGpe, next)
    } else {
        (TunnelKind::Vxlan, Next::Ethernet)
    };
    Ok(Decap {
        kind,
        id: Some(vni),
        id_is_symmetric: true,
        next,
        inner: &d[VXLAN_HEADER_LEN..],
    })
}

/// GENEVE (RFC 8926 section 3.4), options skipped after checking their lengths add up.
pub fn geneve(d: &[u8]) -> Result<Decap<'_>, TunnelError> {
    let h = d.get(..GENEVE_HEADER_LEN).ok_or(TunnelError::Short)?;
    if h[0] >> 6 != GENEVE_VERSION {
        return Err(TunnelError::Malformed);
    }
    let opt_len = usize::from(h[0] & 0x3F) * 4;
    let ty = u16::from_be_bytes([h[2], h[3]]);
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    let end = GENEVE_HEADER_LEN + opt_len;
    let mut opts = d.get(GENEVE_HEADER_LEN..end).ok_or(TunnelError::Short)?;
    // Options are TLVs filling exactly the announced length (RFC 8926 section 3.5).
    while !opts.is_empty() {
        let o = opts
            .get(..GENEVE_OPTION_HEADER_LEN)
            .ok_or(TunnelError::Malformed)?;
        let len = GENEVE_OPTION_HEADER_LEN + usize::from(o[3] & 0x1F) * 4;
        opts = opts.get(len..).ok_or(TunnelError::Malformed)?;
    }
    if h[1] & GENEVE_FLAG_OAM != 0 {
        return Err(TunnelError::Control);
    }
    let next = next_by_ethertype(ty).ok_or(TunnelError::Malformed)?;
    Ok(Decap {
        kind: TunnelKind::Geneve,
        id: Some(vni),
        id_is_symmetric: true,
        next,
        inner: &d[end..],
    })
}

/// GRE (RFC 2784 with the key and sequence number of RFC 2890), and the ERSPAN types it
/// carries. `over_udp`: GRE-in-UDP (RFC 8086), the same header after a UDP header.
pub fn gre(d: &[u8], over_udp: bool) -> Result<Decap<'_>, TunnelError> {
    let h = d.get(..GRE_HEADER_LEN).ok_or(TunnelError::Short)?;
    let flags = h[0];
    if flags & GRE_FLAG_R != 0 || h[1] & GRE_VERSION_MASK != 0 {
        // Source routing (RFC 1701) and PPTP's enhanced GRE carry no IP we decode.
        return Err(TunnelError::Malformed);
    }
    let ty = u16::from_be_bytes([h[2], h[3]]);
    let mut at = GRE_HEADER_LEN;
    if flags & GRE_FLAG_C != 0 {
        at += GRE_OPTIONAL_FIELD_LEN;
    }
    let key = if flags & GRE_FLAG_K != 0 {
        let k = be32(d, at)?;
        at += GRE_OPTIONAL_FIELD_LEN;
        Some(k)
    } else {
        None
    };
    let has_seq = flags & GRE_FLAG_S != 0;
    if has_seq {
        at += GRE_OPTIONAL_FIELD_LEN;
    }
    let rest = d.get(at..).ok_or(TunnelError::Short)?;
    match ty {
        ETHERTYPE_ERSPAN_II if !has_seq => Ok(Decap {
            // Type I has no ERSPAN header and no sequence number: Ethernet follows.
            kind: TunnelKind::ErspanI,
            id: None,
            id_is_symmetric: true,
            next: Next::Ethernet,
            inner: rest,
        }),
        ETHERTYPE_ERSPAN_II => erspan_ii(rest),
        ETHERTYPE_ERSPAN_III => erspan_iii(rest),
        _ => Ok(Decap {
            kind: if over_udp {
                TunnelKind::GreUdp
            } else {
                TunnelKind::Gre
            },
            id: key,
            id_is_symmetric: true,
            next: next_by_ethertype(ty).ok_or(TunnelError::Malformed)?,
            inner: rest,
        }),
    }
}

/// ERSPAN type II (draft-foschiano-erspan section 4.2): version 1, session id, index.
fn erspan_ii(d: &[u8]) -> Result<Decap<'_>, TunnelError> {
    let h = d.get(..ERSPAN_II_HEADER_LEN).ok_or(TunnelError::Short)?;
    if h[0] >> 4 != ERSPAN_VERSION_II {
        return Err(TunnelError::Malformed);
    }
    let session = u16::from_be_bytes([h[2], h[3]]) & ERSPAN_SESSION_MASK;
    Ok(Decap {
        kind: TunnelKind::ErspanII,
        id: Some(u32::from(session)),
        id_is_symmetric: true,
        next: Next::Ethernet,
        inner: &d[ERSPAN_II_HEADER_LEN..],
    })
}

/// ERSPAN type III (draft-foschiano-erspan section 4.3): version 2, session id, timestamp,
/// SGT, frame type, and an optional platform-specific subheader.
fn erspan_iii(d: &[u8]) -> Result<Decap<'_>, TunnelError> {
    let h = d.get(..ERSPAN_III_HEADER_LEN).ok_or(TunnelError::Short)?;
    if h[0] >> 4 != ERSPAN_VERSION_III {
        return Err(TunnelError::Malformed);
    }
    let session = u16::from_be_bytes([h[2], h[3]]) & ERSPAN_SESSION_MASK;
    // Last 16 bits: P(1) FT(5) HW ID(6) D(1) Gra(2) O(1).
    let tail = u16::from_be_bytes([h[10], h[11]]);
    let frame_type = ((tail >> 10) & 0x1F) as u8;
    let platform = tail & 0x0001 != 0;
    let start = ERSPAN_III_HEADER_LEN + if platform { ERSPAN_III_PLATFORM_LEN } else { 0 };
    let inner = d.get(start..).ok_or(TunnelError::Short)?;
    let next = match frame_type {
        ERSPAN_FT_ETHERNET => Next::Ethernet,
        ERSPAN_FT_IP => Next::Ip,
        _ => return Err(TunnelError::Malformed),
    };
    Ok(Decap {
        kind: TunnelKind::ErspanIII,
        id: Some(u32::from(session)),
        id_is_symmetric: true,
        next,
        inner,
    })
}

/// GTP-U version 1 (3GPP TS 29.281 section 5): a G-PDU carries an IP packet; every other
/// message (echo, error indication, end marker) is signalling.
pub fn gtp_u(d: &[u8]) -> Result<Decap<'_>, TunnelError> {
    let h = d.get(..GTP_HEADER_LEN).ok_or(TunnelError::Short)?;
    let flags = h[0];
    if flags >> 5 != GTP_VERSION_1 || flags & GTP_FLAG_PT == 0 {
        return Err(TunnelError::Malformed);
    }
    let length = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let teid = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if h[1] != GTP_MSG_G_PDU {
        return Err(TunnelError::Control);
    }
    // The length counts everything after the mandatory header; a capture may cut it.
    let body = &d[GTP_HEADER_LEN..];
    let body = &body[..length.min(body.len())];
    let mut at = 0;
    if flags & GTP_FLAGS_OPTIONAL != 0 {
        let opt = body.get(..GTP_OPTIONAL_LEN).ok_or(TunnelError::Short)?;
        at = GTP_OPTIONAL_LEN;
        let mut next_ext = if flags & GTP_FLAG_E != 0 { opt[3] } else { 0 };
        let mut n = 0;
        while next_ext != 0 {
            n += 1;
            if n > GTP_MAX_EXTENSIONS {
                return Err(TunnelError::Malformed);
            }
            // Extension header: length in 4-byte units (including itself), content, next type.
            let words = usize::from(*body.get(at).ok_or(TunnelError::Short)?);
            if words == 0 {
                return Err(TunnelError::Malformed);
            }
            let end = at + words * 4;
            next_ext = *body.get(end - 1).ok_or(TunnelError::Short)?;
            at = end;
        }
    }
    let inner = body.get(at..).ok_or(TunnelError::Short)?;
    if inner.is_empty() {
        return Err(TunnelError::Control);
    }
    Ok(Decap {
        kind: TunnelKind::GtpU,
        id: Some(teid),
        // Each direction of a bearer has its own TEID (29.281 section 5.1).
        id_is_symmetric: false,
        next: Next::Ip,
        inner,
    })
}

/// Teredo (RFC 4380 section 5.1.1): optional authentication and origin indication, then an
/// IPv6 packet. A bubble (no next header, no payload) is signalling.
pub fn teredo(d: &[u8]) -> Result<Decap<'_>, TunnelError> {
    let mut at = 0;
    if be16(d, 0)? == 0x0001 {
        let id_len = usize::from(*d.get(2).ok_or(TunnelError::Short)?);
        let au_len = usize::from(*d.get(3).ok_or(TunnelError::Short)?);
        at = TEREDO_AUTH_FIXED_LEN + id_len + au_len;
    }
    if be16(d, at)? == 0x0000 {
        at += TEREDO_ORIGIN_LEN;
    }
    let ip = d.get(at..).ok_or(TunnelError::Short)?;
    let h = ip.get(..IPV6_HEADER_LEN).ok_or(TunnelError::Short)?;
    if h[0] >> 4 != 6 {
        return Err(TunnelError::Malformed);
    }
    let payload_len = u16::from_be_bytes([h[4], h[5]]);
    if h[6] == IPV6_NO_NEXT_HEADER && payload_len == 0 {
        return Err(TunnelError::Control);
    }
    Ok(Decap {
        kind: TunnelKind::Teredo,
        id: None,
        id_is_symmetric: true,
        next: Next::Ip,
        inner: ip,
    })
}

/// Teredo on a port that is not Teredo's: the payload must be exactly one IPv6 packet (its
/// payload length matches) with a Teredo address at one end. Zeek recognises relayed Teredo
/// the same way (its `dpd_teredo` signature and analyzer checks).
pub fn looks_like_teredo(d: &[u8]) -> bool {
    let Some(h) = d.get(..IPV6_HEADER_LEN) else {
        return false;
    };
    if h[0] >> 4 != 6 {
        return false;
    }
    let payload_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    payload_len + IPV6_HEADER_LEN == d.len()
        && (h[8..12] == TEREDO_PREFIX || h[24..28] == TEREDO_PREFIX)
}

/// AYIYA (draft-massar-v6ops-ayiya section 5): identity and signature of announced lengths,
/// then a packet when the opcode is "forward".
pub fn ayiya(d: &[u8]) -> Result<Decap<'_>, TunnelError> {
    let h = d.get(..AYIYA_HEADER_LEN).ok_or(TunnelError::Short)?;
    let id_len = 1usize << (h[0] >> 4);
    let sig_len = usize::from(h[1] >> 4) * 4;
    let opcode = h[2] & 0x0F;
    let next = h[3];
    let start = AYIYA_HEADER_LEN + id_len + sig_len;
    let inner = d.get(start..).ok_or(TunnelError::Short)?;
    if opcode != AYIYA_OP_FORWARD {
        return Err(TunnelError::Control);
    }
    if next != AYIYA_NEXT_IPV4 && next != AYIYA_NEXT_IPV6 {
        return Err(TunnelError::Malformed);
    }
    Ok(Decap {
        kind: TunnelKind::Ayiya,
        id: None,
        id_is_symmetric: true,
        next: Next::Ip,
        inner,
    })
}

/// An IPv4 or IPv6 packet carried directly in IP (protocol 4 or 41).
pub fn ip_in_ip(d: &[u8]) -> Decap<'_> {
    Decap {
        kind: TunnelKind::IpInIp,
        id: None,
        id_is_symmetric: true,
        next: Next::Ip,
        inner: d,
    }
}
