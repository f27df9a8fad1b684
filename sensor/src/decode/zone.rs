//! Zones: which tunnel a flow came through, so that equal inner addresses from different
//! tunnels never mix, and the table from zone back to the tunnel for records.
//!
//! A zone is a 64-bit FNV-1a hash (fixed, so runs are reproducible) of the chain of tunnels
//! around the packet, outermost first. Each link contributes its type, its id when the id is
//! the same in both directions (VNI, GRE key, ERSPAN session; not GTP TEIDs, which differ
//! per direction), and, with `decode.zone_by_outer_address`, the two outer IP addresses in
//! sorted order (so both directions of a flow land in the same zone). Zone 0 is "no tunnel".

use std::collections::HashMap;
use std::hash::Hasher;
use std::net::IpAddr;

use foldhash::fast::RandomState;

use apitap_sessionizer::tunnel::{TunnelInfo, TunnelKind};

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, for zone numbers. Fixed, not keyed: a zone is part of every flow key inside a
/// tunnel, and replaying a capture twice must number and order its flows the same. (The
/// tables keyed by zones are keyed per run instead: see [`ZoneTable`] and the fragment table.)
#[derive(Clone, Copy, Debug)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(FNV_OFFSET)
    }
}

impl Hasher for Fnv1a {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An address as 16 bytes (IPv4 mapped), for hashing and ordering.
fn addr_bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The zone inside one more tunnel layer.
pub fn child_zone(
    parent: u64,
    kind: TunnelKind,
    id: Option<u32>,
    outer: Option<(IpAddr, IpAddr)>,
) -> u64 {
    let mut h = Fnv1a::default();
    h.write(&parent.to_le_bytes());
    h.write(kind.name().as_bytes());
    if let Some(id) = id {
        h.write(&[1]);
        h.write(&id.to_le_bytes());
    } else {
        h.write(&[0]);
    }
    if let Some((a, b)) = outer {
        let (a, b) = (addr_bytes(a), addr_bytes(b));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        h.write(&lo);
        h.write(&hi);
    }
    // 0 means "no tunnel"; a hash that lands there moves aside.
    h.finish().max(1)
}

/// Zone → outermost tunnel of the flows in it, for the `tunnel` field of records.
// Invariant: `map.len() <= max` after every call.
#[derive(Debug)]
pub struct ZoneTable {
    /// Hashed with a per-run random seed: zones follow from values a sender chooses (VNIs,
    /// GRE keys, outer addresses), so a fixed hash would let crafted tunnels collide in one
    /// bucket chain. Nothing iterates the map, so no output depends on the seed.
    map: HashMap<u64, TunnelInfo, RandomState>,
    max: usize,
    /// Times the table was emptied at its bound.
    pub resets: u64,
}

impl ZoneTable {
    /// An empty table holding at most `max` zones.
    pub fn new(max: usize) -> Self {
        ZoneTable {
            map: HashMap::default(),
            max: max.max(1),
            resets: 0,
        }
    }

    /// Remember the tunnel of `zone` unless it is known. At the bound the table starts over:
    /// every active zone is relearned from its next packet.
    #[inline]
    pub fn note(&mut self, zone: u64, info: impl FnOnce() -> TunnelInfo) {
        if self.map.contains_key(&zone) {
            return;
        }
        if self.map.len() >= self.max {
            self.map.clear();
            self.resets += 1;
        }
        self.map.insert(zone, info());
    }

    /// The tunnel of `zone`; None for zone 0 or a zone not (or no longer) known.
    #[inline]
    pub fn get(&self, zone: u64) -> Option<&TunnelInfo> {
        if zone == 0 {
            return None;
        }
        self.map.get(&zone)
    }

    /// Zones known.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Zone numbers are fixed (they are part of flow keys), the table's hashing of them is
    /// not: each table draws its own seed, so crafted tunnels cannot be made to collide.
    #[test]
    fn zone_numbers_are_fixed_and_the_table_seed_is_per_run() {
        use std::hash::BuildHasher;
        let z = || child_zone(0, TunnelKind::Vxlan, Some(77), None);
        assert_eq!(z(), z());
        let (a, b) = (ZoneTable::new(8), ZoneTable::new(8));
        assert_ne!(a.map.hasher().hash_one(z()), b.map.hasher().hash_one(z()));
    }

    #[test]
    fn zone_is_direction_independent_and_deterministic() {
        let a = child_zone(
            0,
            TunnelKind::Vxlan,
            Some(7),
            Some((ip("10.0.0.1"), ip("10.0.0.2"))),
        );
        let b = child_zone(
            0,
            TunnelKind::Vxlan,
            Some(7),
            Some((ip("10.0.0.2"), ip("10.0.0.1"))),
        );
        assert_eq!(a, b);
        assert_ne!(a, 0);
        // A fixed value: zones must not change between runs or builds.
        assert_eq!(
            a,
            child_zone(
                0,
                TunnelKind::Vxlan,
                Some(7),
                Some((ip("10.0.0.1"), ip("10.0.0.2")))
            )
        );
        let other_vni = child_zone(
            0,
            TunnelKind::Vxlan,
            Some(8),
            Some((ip("10.0.0.1"), ip("10.0.0.2"))),
        );
        let other_src = child_zone(
            0,
            TunnelKind::Vxlan,
            Some(7),
            Some((ip("10.0.0.3"), ip("10.0.0.2"))),
        );
        let nested = child_zone(
            a,
            TunnelKind::Vxlan,
            Some(7),
            Some((ip("10.0.0.1"), ip("10.0.0.2"))),
        );
        assert!(a != other_vni && a != other_src && a != nested);
    }

    #[test]
    fn table_resets_at_its_bound() {
        let info = || TunnelInfo {
            kind: TunnelKind::Vxlan,
            id: None,
            outer_src: ip("1.1.1.1"),
            outer_dst: ip("2.2.2.2"),
            depth: 1,
        };
        let mut t = ZoneTable::new(2);
        t.note(1, info);
        t.note(2, info);
        t.note(2, info);
        assert_eq!((t.len(), t.resets), (2, 0));
        t.note(3, info);
        assert_eq!((t.len(), t.resets), (1, 1));
        assert!(t.get(3).is_some() && t.get(1).is_none() && t.get(0).is_none());
    }
}
