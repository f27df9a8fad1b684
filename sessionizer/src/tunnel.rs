//! The `tunnel` field of records: how a transaction's packets were encapsulated when they
//! reached the sensor (a cloud traffic mirror, a switch's ERSPAN session, a workload tunnel).
//!
//! Pure data: the sensor's decoder fills it in, records write it (`docs/events.md`).

use std::net::IpAddr;

/// Encapsulation types the decoder peels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// VXLAN (RFC 7348), UDP; AWS VPC Traffic Mirroring, Azure vTAP.
    Vxlan,
    /// VXLAN with the Generic Protocol Extension (draft-ietf-nvo3-vxlan-gpe).
    VxlanGpe,
    /// GENEVE (RFC 8926), UDP; AWS Gateway Load Balancer.
    Geneve,
    /// GRE (RFC 2784, RFC 2890), IP protocol 47, including transparent Ethernet bridging.
    Gre,
    /// GRE-in-UDP (RFC 8086).
    GreUdp,
    /// ERSPAN type I: Ethernet straight after a GRE header without sequence number.
    ErspanI,
    /// ERSPAN type II (draft-foschiano-erspan section 4.2).
    ErspanII,
    /// ERSPAN type III (draft-foschiano-erspan section 4.3).
    ErspanIII,
    /// GTP-U (3GPP TS 29.281), mobile user plane.
    GtpU,
    /// Teredo (RFC 4380), IPv6 over UDP/IPv4.
    Teredo,
    /// AYIYA, "Anything In Anything" (draft-massar-v6ops-ayiya).
    Ayiya,
    /// IPv4 or IPv6 directly in IPv4 or IPv6 (RFC 2003, RFC 4213, RFC 2473).
    IpInIp,
}

impl TunnelKind {
    /// The `type` value in records.
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::VxlanGpe => "vxlan_gpe",
            TunnelKind::Geneve => "geneve",
            TunnelKind::Gre => "gre",
            TunnelKind::GreUdp => "gre_udp",
            TunnelKind::ErspanI => "erspan_i",
            TunnelKind::ErspanII => "erspan_ii",
            TunnelKind::ErspanIII => "erspan_iii",
            TunnelKind::GtpU => "gtp_u",
            TunnelKind::Teredo => "teredo",
            TunnelKind::Ayiya => "ayiya",
            TunnelKind::IpInIp => "ip_in_ip",
        }
    }

    /// Name of the field holding the tunnel's identifier, for the types that have one.
    pub fn id_name(self) -> Option<&'static str> {
        match self {
            TunnelKind::Vxlan | TunnelKind::VxlanGpe | TunnelKind::Geneve => Some("vni"),
            TunnelKind::Gre | TunnelKind::GreUdp => Some("key"),
            TunnelKind::ErspanII | TunnelKind::ErspanIII => Some("session_id"),
            TunnelKind::GtpU => Some("teid"),
            TunnelKind::ErspanI | TunnelKind::Teredo | TunnelKind::Ayiya | TunnelKind::IpInIp => {
                None
            }
        }
    }
}

/// The outermost tunnel of a flow, as the record shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelInfo {
    /// Its type.
    pub kind: TunnelKind,
    /// VNI, GRE key, ERSPAN session id or GTP TEID; None when the type or packet has none.
    pub id: Option<u32>,
    /// Source address of the outer IP header (the mirror source, VTEP or tunnel endpoint).
    pub outer_src: IpAddr,
    /// Destination address of the outer IP header (where the mirror sends to).
    pub outer_dst: IpAddr,
    /// Tunnel layers around the flow's packets, 1 for a single tunnel.
    pub depth: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_the_id_named_by_type() {
        let t = TunnelInfo {
            kind: TunnelKind::Vxlan,
            id: Some(42),
            outer_src: "10.0.0.1".parse().unwrap(),
            outer_dst: "10.0.0.2".parse().unwrap(),
            depth: 1,
        };
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"type":"vxlan","vni":42,"outer_src":"10.0.0.1","outer_dst":"10.0.0.2","depth":1}"#
        );
        let t = TunnelInfo {
            kind: TunnelKind::Teredo,
            id: Some(7),
            ..t
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["type"], "teredo");
        assert_eq!(v.as_object().unwrap().len(), 4, "no id field for Teredo");
        let t = TunnelInfo {
            kind: TunnelKind::ErspanII,
            id: Some(12),
            ..t
        };
        assert_eq!(serde_json::to_value(&t).unwrap()["session_id"], 12);
    }
}
