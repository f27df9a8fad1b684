//! `[decode]`: which UDP ports carry tunnels, how deep tunnels may nest, how flows inside
//! tunnels are kept apart, and the bounds of IP fragment reassembly.

use serde::{Deserialize, Serialize};

use super::checksum::ChecksumMode;

/// `[decode]` section.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeConfig {
    /// UDP destination ports decapsulated as VXLAN (RFC 7348). AWS VPC Traffic Mirroring and
    /// Azure vTAP send to 4789; the Linux kernel's historical default is 8472. Empty: off.
    pub vxlan_ports: Vec<u16>,
    /// UDP destination ports decapsulated as GENEVE (RFC 8926); AWS Gateway Load Balancer
    /// sends to 6081. Empty: off.
    pub geneve_ports: Vec<u16>,
    /// UDP destination ports decapsulated as GRE-in-UDP (RFC 8086: 4754). Empty: off.
    pub gre_udp_ports: Vec<u16>,
    /// UDP ports (either side) decapsulated as GTP-U (3GPP TS 29.281: 2152). Empty: off.
    pub gtp_u_ports: Vec<u16>,
    /// UDP ports (either side) decapsulated as AYIYA (5072). Empty: off.
    pub ayiya_ports: Vec<u16>,
    /// UDP ports (either side) decapsulated as Teredo (RFC 4380: 3544). Empty: off.
    pub teredo_ports: Vec<u16>,
    /// Also recognise Teredo on other ports (relays and peers use ephemeral ports): a UDP
    /// payload that is exactly one IPv6 packet with a Teredo address (2001::/32) at either end.
    pub teredo_heuristic: bool,
    /// Most tunnel layers peeled from one packet; a packet nested deeper is skipped and
    /// counted (`decode.tunnels.depth_exceeded`). 0 turns decapsulation off.
    pub max_tunnel_depth: u8,
    /// Keep flows apart by the outer addresses of their tunnels too, not only by the tunnel
    /// ids (VNI, ERSPAN session, GRE key). On: two mirror sources that reuse a VNI (AWS lets
    /// every session pick the same one) never mix. Off: a flow mirrored by two sources (both
    /// ends of a connection mirrored) is one flow, its duplicate packets deduplicated.
    pub zone_by_outer_address: bool,
    /// Tunnel identities remembered for the `tunnel` field of records. At the bound the table
    /// is emptied (counted, `decode.tunnels.zone_table_resets`) and refilled by the next
    /// packets; a record whose flow has not been seen since has no `tunnel` field.
    pub max_tunnel_zones: usize,
    /// Datagrams being reassembled from IP fragments at once; at the bound the oldest is
    /// dropped (`decode.fragments.evicted`).
    pub max_fragment_sets: usize,
    /// Bytes held for fragment reassembly, over all datagrams; at the bound the oldest
    /// datagrams are dropped (`decode.fragments.evicted`).
    pub max_fragment_bytes_total: usize,
    /// A datagram whose fragments do not all arrive within this time is dropped
    /// (`decode.fragments.timed_out`).
    pub fragment_timeout_ms: u64,
    /// Verify IPv4 header and TCP checksums: `auto` (checksums a capturing host left to its
    /// NIC are not wrong, and checking stops when a capture shows offload), `on` or `off`. A
    /// segment with a wrong one is the anomaly `bad_checksum` and never wins over a correct
    /// copy (`decode.checksums.*`).
    pub verify_checksums: ChecksumMode,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            vxlan_ports: vec![4789],
            geneve_ports: vec![6081],
            gre_udp_ports: vec![4754],
            gtp_u_ports: vec![2152],
            ayiya_ports: vec![5072],
            teredo_ports: vec![3544],
            teredo_heuristic: true,
            max_tunnel_depth: default_max_tunnel_depth(),
            zone_by_outer_address: true,
            max_tunnel_zones: default_max_tunnel_zones(),
            max_fragment_sets: default_max_fragment_sets(),
            max_fragment_bytes_total: default_max_fragment_bytes_total(),
            fragment_timeout_ms: default_fragment_timeout_ms(),
            verify_checksums: ChecksumMode::default(),
        }
    }
}

/// 4: a mirror tunnel (VXLAN/GENEVE/ERSPAN) around a workload tunnel (GRE, GTP-U, IP-in-IP)
/// around a third, with one to spare; real traffic rarely nests more than two.
fn default_max_tunnel_depth() -> u8 {
    4
}

/// 65536 tunnel identities: far more mirror sessions than any deployment has.
fn default_max_tunnel_zones() -> usize {
    65_536
}

/// 4096 datagrams in reassembly: fragmentation is rare on API traffic; this absorbs bursts
/// (a jumbo-MTU host behind a 1500-byte mirror path) without letting a flood of first
/// fragments hold memory.
fn default_max_fragment_sets() -> usize {
    4096
}

/// 16 MiB: 4096 datagrams of 4 KiB, or 256 full 64 KiB datagrams.
fn default_max_fragment_bytes_total() -> usize {
    16 << 20
}

/// 30 s: Linux's `ipfrag_time`; RFC 8200 section 4.5 uses 60 s for IPv6, RFC 791 suggests 15 s.
fn default_fragment_timeout_ms() -> u64 {
    30_000
}

impl DecodeConfig {
    /// Reject values that cannot work; the message names the fields.
    pub fn validate(&self) -> Result<(), String> {
        let lists = [
            ("vxlan_ports", &self.vxlan_ports),
            ("geneve_ports", &self.geneve_ports),
            ("gre_udp_ports", &self.gre_udp_ports),
            ("gtp_u_ports", &self.gtp_u_ports),
            ("ayiya_ports", &self.ayiya_ports),
            ("teredo_ports", &self.teredo_ports),
        ];
        for (i, (a, pa)) in lists.iter().enumerate() {
            if pa.contains(&0) {
                return Err(format!("decode.{a} contains port 0"));
            }
            for (b, pb) in &lists[i + 1..] {
                if let Some(p) = pa.iter().find(|p| pb.contains(p)) {
                    return Err(format!(
                        "UDP port {p} is in both decode.{a} and decode.{b}; a port carries one tunnel type"
                    ));
                }
            }
        }
        if self.max_fragment_sets == 0 {
            return Err("decode.max_fragment_sets must be at least 1".into());
        }
        if self.max_fragment_bytes_total < usize::from(u16::MAX) {
            return Err(format!(
                "decode.max_fragment_bytes_total ({}) must hold at least one full datagram (65535 bytes)",
                self.max_fragment_bytes_total
            ));
        }
        if self.fragment_timeout_ms == 0 {
            return Err("decode.fragment_timeout_ms must be at least 1".into());
        }
        if self.max_tunnel_zones == 0 {
            return Err("decode.max_tunnel_zones must be at least 1".into());
        }
        Ok(())
    }
}
