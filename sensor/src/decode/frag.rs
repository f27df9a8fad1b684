//! IP fragment reassembly (RFC 791 section 3.2 for IPv4, RFC 8200 section 4.5 for IPv6),
//! bounded in datagrams and bytes, with a timeout on packet time.
//!
//! Overlaps: the first fragment to deliver a byte wins; later bytes for the same offsets are
//! ignored and counted (`overlaps`, and `overlap_mismatches` when they differ). This is the
//! policy of the reassembler in `apitap-reassembly`, so one evasion story covers both layers.
//! (Linux discards a datagram with overlapping fragments, RFC 5722; a sensor that dropped it
//! too would lose nothing an attacker could smuggle past the host, but would also lose the
//! harmless exact duplicates a mirror can produce.)

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use foldhash::fast::RandomState;
use serde::Serialize;

/// Largest datagram: the 16-bit total length of IPv4 and payload length of IPv6 (jumbograms,
/// RFC 2675, are never fragmented).
pub const MAX_DATAGRAM_LEN: usize = 65_535;
/// Fragment offsets are in units of 8 bytes; every fragment but the last carries a multiple.
const FRAGMENT_UNIT: usize = 8;

/// Identity of a datagram being reassembled (RFC 791: source, destination, protocol,
/// identification; RFC 8200: source, destination, identification) within its zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Flow zone of the enclosing tunnel (0 when none).
    pub zone: u64,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Identification (16 bits in IPv4, 32 in IPv6).
    pub id: u32,
    /// IPv4 protocol; 0 for IPv6, whose next header is not part of the identity.
    pub proto: u8,
}

/// One fragment, borrowed from its packet.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    /// Byte offset of `data` in the datagram's payload.
    pub offset: usize,
    /// More fragments follow (MF / M flag).
    pub more: bool,
    /// Protocol of the datagram's payload (IPv4 protocol, IPv6 next header after the
    /// fragment header).
    pub proto: u8,
    /// The fragment's bytes.
    pub data: &'a [u8],
}

/// What one fragment did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragOutcome {
    /// Held; the datagram is not complete yet.
    Held,
    /// The datagram is complete: its payload is in the output buffer, of this protocol.
    Complete {
        /// Payload protocol.
        proto: u8,
    },
    /// The fragment was not used (counted by reason).
    Dropped,
}

/// Fragment counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FragStats {
    /// Fragments received.
    pub received: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Fragments that overlapped bytes already held (the first bytes were kept).
    pub overlaps: u64,
    /// Overlapping fragments whose bytes differed from those kept.
    pub overlap_mismatches: u64,
    /// Datagrams dropped because their fragments did not all arrive in time.
    pub timed_out: u64,
    /// Datagrams dropped to stay within `max_fragment_sets` or `max_fragment_bytes_total`.
    pub evicted: u64,
    /// Fragments that lie: beyond 65535 bytes, a non-final fragment not a multiple of 8
    /// bytes, or data past the end a final fragment set.
    pub invalid: u64,
    /// Fragments cut by the capture's snap length (not usable, dropped).
    pub truncated: u64,
}

/// The bounds (`[decode]` fields).
#[derive(Clone, Copy, Debug)]
pub struct FragLimits {
    /// Datagrams in reassembly at once.
    pub max_sets: usize,
    /// Bytes held over all datagrams.
    pub max_bytes_total: usize,
    /// Time allowed for all fragments of one datagram.
    pub timeout_us: u64,
}

/// One datagram in reassembly.
// Invariant: `ranges` is sorted, non-empty ranges that neither overlap nor touch; every byte
// in a range is in `buf`, so `buf.len() >= ranges.last().end`. `total`, once known, is at
// least the end of every range.
#[derive(Debug)]
struct FragSet {
    /// Creation generation, to recognise stale entries of the age queue.
    generation: u64,
    /// Packet time of the first fragment.
    created_us: u64,
    /// Payload bytes so far (holes are zero).
    buf: Vec<u8>,
    /// Byte ranges held, `[start, end)`.
    ranges: Vec<(usize, usize)>,
    /// Payload length, known once the last fragment arrived.
    total: Option<usize>,
    /// Payload protocol.
    proto: u8,
}

impl FragSet {
    fn complete(&self) -> bool {
        matches!((self.total, self.ranges.as_slice()), (Some(t), [(0, e)]) if *e == t)
    }

    /// Copy the parts of `data` at `start` that no earlier fragment delivered; returns
    /// (overlapped, mismatched).
    fn fill(&mut self, start: usize, data: &[u8]) -> (bool, bool) {
        let end = start + data.len();
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        let mut overlapped = false;
        let mut mismatched = false;
        let mut at = start;
        let mut new_ranges = Vec::new();
        for &(rs, re) in &self.ranges {
            if re <= at {
                continue;
            }
            if rs >= end {
                break;
            }
            if rs > at {
                self.buf[at..rs].copy_from_slice(&data[at - start..rs - start]);
                new_ranges.push((at, rs));
            }
            let (os, oe) = (rs.max(at), re.min(end));
            overlapped = true;
            mismatched |= self.buf[os..oe] != data[os - start..oe - start];
            at = oe;
        }
        if at < end {
            self.buf[at..end].copy_from_slice(&data[at - start..]);
            new_ranges.push((at, end));
        }
        for r in new_ranges {
            self.insert_range(r);
        }
        (overlapped, mismatched)
    }

    /// Add a range that overlaps none held, merging neighbours.
    fn insert_range(&mut self, (s, e): (usize, usize)) {
        let i = self.ranges.partition_point(|&(rs, _)| rs < s);
        self.ranges.insert(i, (s, e));
        // Merge with the next, then with the previous.
        if i + 1 < self.ranges.len() && self.ranges[i + 1].0 == e {
            self.ranges[i].1 = self.ranges[i + 1].1;
            self.ranges.remove(i + 1);
        }
        if i > 0 && self.ranges[i - 1].1 == s {
            self.ranges[i - 1].1 = self.ranges[i].1;
            self.ranges.remove(i);
        }
        debug_assert!(self.ranges.windows(2).all(|w| w[0].1 < w[1].0));
    }
}

/// Hashed with a per-run random seed: the keys (addresses, IP identification) are the
/// sender's to choose, so a fixed hash would let crafted fragments pile into one bucket chain.
/// Nothing iterates the map (timeouts and evictions follow `age`), so no output depends on the
/// seed: a replay gives the same records on every run.
type Map<K, V> = HashMap<K, V, RandomState>;

/// The fragment table.
// Invariant: `bytes` is the sum of `buf.len()` over `sets`; `sets.len() <= max_sets` and
// `bytes <= max_bytes_total` after every call; every set has an entry in `age` (which may
// also hold stale entries of removed sets, recognised by their generation).
#[derive(Debug)]
pub struct FragTable {
    limits: FragLimits,
    sets: Map<FragKey, FragSet>,
    /// Sets in creation order (oldest first): timeouts and evictions pop from the front.
    age: VecDeque<(FragKey, u64)>,
    bytes: usize,
    generation: u64,
    stats: FragStats,
}

impl FragTable {
    /// An empty table with these bounds.
    pub fn new(limits: FragLimits) -> Self {
        FragTable {
            limits,
            sets: Map::default(),
            age: VecDeque::new(),
            bytes: 0,
            generation: 0,
            stats: FragStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &FragStats {
        &self.stats
    }

    /// Datagrams in reassembly.
    pub fn pending(&self) -> usize {
        self.sets.len()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Count a fragment the caller could not use because the capture cut it.
    pub fn count_truncated(&mut self) {
        self.stats.received += 1;
        self.stats.truncated += 1;
    }

    /// Add one fragment at packet time `now_us`. When it completes its datagram, the payload
    /// is left in `out` (replacing its contents).
    pub fn insert(
        &mut self,
        now_us: u64,
        key: FragKey,
        frag: Fragment<'_>,
        out: &mut Vec<u8>,
    ) -> FragOutcome {
        self.stats.received += 1;
        self.expire(now_us);
        let end = frag.offset + frag.data.len();
        let misaligned = frag.more && frag.data.len() % FRAGMENT_UNIT != 0;
        if end > MAX_DATAGRAM_LEN || misaligned || (frag.more && frag.data.is_empty()) {
            self.stats.invalid += 1;
            return FragOutcome::Dropped;
        }
        if !self.sets.contains_key(&key) {
            if self.sets.len() >= self.limits.max_sets {
                self.evict_oldest(None);
            }
            self.generation += 1;
            self.sets.insert(
                key,
                FragSet {
                    generation: self.generation,
                    created_us: now_us,
                    buf: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    proto: frag.proto,
                },
            );
            self.age.push_back((key, self.generation));
        }
        // Room for the bytes this fragment may add.
        let held = self.sets.get(&key).map_or(0, |s| s.buf.len());
        let growth = end.saturating_sub(held);
        while self.bytes + growth > self.limits.max_bytes_total {
            if !self.evict_oldest(Some(key)) {
                // Only this datagram is left and it alone is over the bound.
                self.remove(&key);
                self.stats.evicted += 1;
                return FragOutcome::Dropped;
            }
        }
        let Some(set) = self.sets.get_mut(&key) else {
            return FragOutcome::Dropped;
        };
        // The final fragment fixes the length; data past it, or a second different end, lies.
        let past_total = set.total.is_some_and(|t| end > t);
        let conflicting_end = !frag.more && set.total.is_some_and(|t| t != end);
        let beyond_new_end = !frag.more && set.ranges.last().is_some_and(|r| r.1 > end);
        if past_total || conflicting_end || beyond_new_end {
            self.stats.invalid += 1;
            return FragOutcome::Dropped;
        }
        if !frag.more {
            set.total = Some(end);
        }
        if frag.offset == 0 {
            set.proto = frag.proto;
        }
        let before = set.buf.len();
        let (overlapped, mismatched) = set.fill(frag.offset, frag.data);
        self.bytes += set.buf.len() - before;
        self.stats.overlaps += u64::from(overlapped);
        self.stats.overlap_mismatches += u64::from(mismatched);
        if !set.complete() {
            return FragOutcome::Held;
        }
        let proto = set.proto;
        let total = set.total.unwrap_or(0);
        if let Some(mut set) = self.remove(&key) {
            set.buf.truncate(total);
            std::mem::swap(out, &mut set.buf);
        }
        self.stats.reassembled += 1;
        FragOutcome::Complete { proto }
    }

    /// Drop the datagrams whose time is up.
    pub fn expire(&mut self, now_us: u64) {
        while let Some(&(key, generation)) = self.age.front() {
            match self.sets.get(&key) {
                Some(s) if s.generation == generation => {
                    if now_us.saturating_sub(s.created_us) < self.limits.timeout_us {
                        return;
                    }
                    self.remove(&key);
                    self.stats.timed_out += 1;
                }
                _ => {}
            }
            self.age.pop_front();
        }
    }

    /// Drop the oldest datagram other than `keep`; false when there is none.
    fn evict_oldest(&mut self, keep: Option<FragKey>) -> bool {
        let mut kept = None;
        let mut evicted = false;
        while let Some((key, generation)) = self.age.pop_front() {
            let live = self
                .sets
                .get(&key)
                .is_some_and(|s| s.generation == generation);
            if !live {
                continue;
            }
            if Some(key) == keep {
                kept = Some((key, generation));
                continue;
            }
            self.remove(&key);
            self.stats.evicted += 1;
            evicted = true;
            break;
        }
        if let Some(k) = kept {
            self.age.push_front(k);
        }
        evicted
    }

    fn remove(&mut self, key: &FragKey) -> Option<FragSet> {
        let s = self.sets.remove(key)?;
        self.bytes -= s.buf.len();
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> FragLimits {
        FragLimits {
            max_sets: 4,
            max_bytes_total: 1 << 20,
            timeout_us: 1_000_000,
        }
    }

    fn key(id: u32) -> FragKey {
        FragKey {
            zone: 0,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id,
            proto: 6,
        }
    }

    fn frag(offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            offset,
            more,
            proto: 6,
            data,
        }
    }

    /// Two tables hash the same key differently: the seed is drawn per table, per run, so a
    /// sender cannot precompute colliding keys (with FNV or a fixed seed both would agree).
    #[test]
    fn each_table_hashes_with_its_own_random_seed() {
        use std::hash::BuildHasher;
        let (a, b) = (FragTable::new(limits()), FragTable::new(limits()));
        let k = key(7);
        assert_ne!(a.sets.hasher().hash_one(k), b.sets.hasher().hash_one(k));
    }

    /// The datagram from fragments given as (offset, more, bytes), in that order.
    fn run(t: &mut FragTable, frags: &[(usize, bool, &[u8])]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut done = None;
        for (o, m, d) in frags {
            if let FragOutcome::Complete { .. } = t.insert(0, key(1), frag(*o, *m, d), &mut out) {
                done = Some(out.clone());
            }
        }
        done
    }

    #[test]
    fn in_order_and_out_of_order() {
        let data: Vec<u8> = (0..40u8).collect();
        let mut t = FragTable::new(limits());
        let r = run(
            &mut t,
            &[
                (0, true, &data[..16]),
                (16, true, &data[16..32]),
                (32, false, &data[32..]),
            ],
        );
        assert_eq!(r.as_deref(), Some(&data[..]));
        let mut t = FragTable::new(limits());
        let r = run(
            &mut t,
            &[
                (32, false, &data[32..]),
                (0, true, &data[..16]),
                (16, true, &data[16..32]),
            ],
        );
        assert_eq!(r.as_deref(), Some(&data[..]));
        assert_eq!((t.pending(), t.bytes()), (0, 0));
    }

    #[test]
    fn first_fragment_wins_on_overlap() {
        let a = [b'A'; 24];
        let b = [b'B'; 24];
        let mut t = FragTable::new(limits());
        let r = run(
            &mut t,
            &[
                (0, true, &a[..16]),
                (8, true, &b[..16]),
                (24, false, &b[..8]),
            ],
        );
        let mut want = vec![b'A'; 16];
        want.extend_from_slice(&[b'B'; 16]);
        assert_eq!(r, Some(want));
        assert_eq!(t.stats().overlaps, 1);
        assert_eq!(t.stats().overlap_mismatches, 1);
    }

    #[test]
    fn missing_fragment_times_out() {
        let d = [0u8; 16];
        let mut t = FragTable::new(limits());
        let mut out = Vec::new();
        assert_eq!(
            t.insert(0, key(1), frag(0, true, &d), &mut out),
            FragOutcome::Held
        );
        assert_eq!(
            t.insert(10, key(1), frag(32, false, &d), &mut out),
            FragOutcome::Held
        );
        t.expire(999_999);
        assert_eq!(t.pending(), 1);
        t.expire(1_000_000);
        assert_eq!((t.pending(), t.bytes()), (0, 0));
        assert_eq!(t.stats().timed_out, 1);
    }

    #[test]
    fn set_bound_evicts_the_oldest() {
        let d = [0u8; 8];
        let mut t = FragTable::new(limits());
        let mut out = Vec::new();
        for id in 0..5 {
            t.insert(u64::from(id), key(id), frag(0, true, &d), &mut out);
        }
        assert_eq!(t.pending(), 4);
        assert_eq!(t.stats().evicted, 1);
        // The oldest (id 0) went; id 1 can still complete.
        let r = t.insert(9, key(1), frag(8, false, &d), &mut out);
        assert_eq!(r, FragOutcome::Complete { proto: 6 });
    }

    #[test]
    fn byte_bound_keeps_state_consistent() {
        let big = vec![0u8; 40_000];
        let mut t = FragTable::new(FragLimits {
            max_sets: 8,
            max_bytes_total: 65_535,
            timeout_us: 1_000_000,
        });
        let mut out = Vec::new();
        t.insert(0, key(1), frag(0, true, &big), &mut out);
        t.insert(1, key(2), frag(0, true, &big), &mut out);
        assert_eq!(t.pending(), 1, "the first set was evicted to make room");
        assert!(t.bytes() <= 65_535);
        assert_eq!(t.stats().evicted, 1);
    }

    #[test]
    fn lies_are_invalid() {
        let d = [0u8; 12];
        let mut t = FragTable::new(limits());
        let mut out = Vec::new();
        // Not a multiple of 8 and not last.
        assert_eq!(
            t.insert(0, key(1), frag(0, true, &d), &mut out),
            FragOutcome::Dropped
        );
        // Past 65535.
        assert_eq!(
            t.insert(0, key(1), frag(65_528, false, &d), &mut out),
            FragOutcome::Dropped
        );
        // Data past a known end.
        t.insert(0, key(2), frag(0, false, &d[..8]), &mut out);
        assert_eq!(t.stats().invalid, 2);
    }
}
