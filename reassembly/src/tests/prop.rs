//! Property tests: a differential test against an obviously-correct model of one stream, and
//! arbitrary segments that must never break the invariants.

use std::collections::HashMap;

use proptest::prelude::*;

use super::{addr, assert_lifecycle, Ev, Pkt, Rec};
use crate::{Checksum, CloseReason, Reassembler, ReassemblyConfig, Side, TcpFlags};

/// Cases per property: enough to find ordering bugs, small enough for CI.
const CASES: u32 = 256;

/// Proptest settings: [`CASES`], unless `PROPTEST_CASES` asks for a longer run.
fn proptest_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    ProptestConfig::with_cases(cases)
}

/// A tiny deterministic PRNG (xorshift64*) so that one proptest seed drives the cutting,
/// dropping and shuffling of a case.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One client segment of the model stream: `[start, start + len)`.
#[derive(Clone, Copy, Debug)]
struct Cut {
    start: usize,
    len: usize,
}

/// Cuts `len` bytes into segments of at most `max_seg` bytes, adds overlapping windows, duplicates and drops some, and
/// shuffles them with a displacement of up to `jitter` positions. Returns the feed order and
/// whether anything was dropped.
fn cut(
    len: usize,
    max_seg: u64,
    rng: &mut Rng,
    jitter: u64,
    drop_per_mille: u64,
) -> (Vec<Cut>, bool) {
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < len {
        let n = (1 + rng.below(max_seg) as usize).min(len - at);
        cuts.push(Cut { start: at, len: n });
        at += n;
    }
    // Overlapping retransmission-like windows.
    if len > 0 {
        for _ in 0..rng.below(6) {
            let start = rng.below(len as u64) as usize;
            let n = (1 + rng.below(max_seg * 2) as usize).min(len - start);
            cuts.push(Cut { start, len: n });
        }
    }
    let mut keyed = Vec::new();
    let mut dropped = false;
    for (i, c) in cuts.into_iter().enumerate() {
        if rng.below(1000) < drop_per_mille {
            dropped = true;
            continue;
        }
        let copies = if rng.below(8) == 0 { 2 } else { 1 };
        for _ in 0..copies {
            keyed.push((i as u64 * 4 + rng.below(jitter * 4 + 1), c));
        }
    }
    keyed.sort_by_key(|k| k.0);
    (keyed.into_iter().map(|k| k.1).collect(), dropped)
}

/// Checks the client direction of conn 1 against the original `stream`: every Data byte is the
/// original byte at its offset; returns the offset reached (Data + Gap lengths).
fn check_against_model(events: &[Ev], stream: &[u8]) -> Result<(u64, u64), TestCaseError> {
    let mut offset = 0usize;
    let mut gaps = 0;
    for ev in events {
        match ev {
            Ev::Data {
                conn: 1,
                from: Side::Client,
                data,
            } => {
                let want = stream.get(offset..offset + data.len());
                prop_assert_eq!(want, Some(&data[..]), "data at offset {}", offset);
                offset += data.len();
            }
            Ev::Gap {
                conn: 1,
                from: Side::Client,
                len,
            } => {
                gaps += 1;
                offset += *len as usize;
                prop_assert!(offset <= stream.len(), "gap beyond the stream");
            }
            Ev::Data { .. } | Ev::Gap { .. } => {
                prop_assert!(false, "unexpected data event {:?}", ev);
            }
            _ => {}
        }
    }
    Ok((offset as u64, gaps))
}

proptest! {
    #![proptest_config(proptest_config())]

    /// Reassembly of a cut, shuffled, duplicated and lossy stream equals the original, with
    /// explicit gaps exactly where bytes could not be recovered.
    #[test]
    fn differential_against_model(
        stream in prop::collection::vec(any::<u8>(), 0..3000),
        max_seg in prop_oneof![1u64..8, 8u64..64, 64u64..300],
        isn in prop_oneof![any::<u32>(), (u32::MAX - 3000)..=u32::MAX],
        seed in any::<u64>(),
        jitter in prop_oneof![Just(0u64), 1u64..4, 4u64..64],
        drop_per_mille in prop_oneof![Just(0u64), 1u64..200],
        with_syn in any::<bool>(),
        acks in any::<bool>(),
        max_ooo in prop_oneof![Just(1usize << 20), 0usize..2000],
        gap_timeout_ms in prop_oneof![Just(u64::MAX / 2000), 1u64..20],
    ) {
        let mut rng = Rng::new(seed);
        let (mut cuts, dropped) = cut(stream.len(), max_seg, &mut rng, jitter, drop_per_mille);
        if !with_syn && !stream.is_empty() {
            // Without SYN the first segment seen anchors the stream: make it offset 0.
            cuts.insert(0, Cut { start: 0, len: 1 + rng.below(stream.len() as u64) as usize });
        }
        let config = ReassemblyConfig {
            max_ooo_bytes_per_stream: max_ooo,
            max_ooo_bytes_total: max_ooo.saturating_add(max_ooo / 2),
            gap_timeout_ms,
            ..ReassemblyConfig::default()
        };
        let max_total = config.max_ooo_bytes_total;
        let mut r = Reassembler::new(config);
        let mut rec = Rec::default();
        let client = addr("10.0.0.1:40000");
        let server = addr("10.0.0.2:80");
        let base = isn.wrapping_add(1);
        let mut ts = 1_000_000u64;
        if with_syn {
            let syn = Pkt { src: client, dst: server, seq: isn, ack: 0, flags: TcpFlags::SYN, payload: vec![], ttl: 64, checksum: Checksum::NotChecked };
            r.process(ts, &syn.seg(), &mut rec);
        }
        let mut max_end = 0usize;
        for c in &cuts {
            ts += 1_000;
            let p = Pkt {
                src: client,
                dst: server,
                seq: base.wrapping_add(c.start as u32),
                ack: 0,
                flags: TcpFlags::PSH,
                payload: stream[c.start..c.start + c.len].to_vec(),
                ttl: 64,
                checksum: Checksum::NotChecked,
            };
            r.process(ts, &p.seg(), &mut rec);
            max_end = max_end.max(c.start + c.len);
            prop_assert!(r.buffered_bytes() <= max_total);
            if acks && rng.below(4) == 0 {
                // The receiver got everything sent so far (losses are capture losses).
                let acked = rng.below(max_end as u64 + 1) as u32;
                let a = Pkt { src: server, dst: client, seq: 77, ack: base.wrapping_add(acked), flags: TcpFlags::ACK, payload: vec![], ttl: 64, checksum: Checksum::NotChecked };
                r.process(ts, &a.seg(), &mut rec);
            }
            if rng.below(8) == 0 {
                r.expire(ts, &mut rec);
            }
        }
        ts += 1_000;
        r.flush(ts, &mut rec);
        let events = rec.0;
        assert_lifecycle(&events);
        let (reached, gaps) = check_against_model(&events, &stream)?;
        prop_assert_eq!(reached, max_end as u64, "Data + Gap must cover the stream end reached");
        let lossless = !dropped && !acks && max_ooo == 1 << 20 && gap_timeout_ms == u64::MAX / 2000;
        if lossless {
            prop_assert_eq!(gaps, 0);
            prop_assert_eq!(reached, stream.len() as u64);
        }
        prop_assert_eq!(r.buffered_bytes(), 0);
        prop_assert_eq!(r.active_flows(), 0);
        if !cuts.is_empty() || with_syn {
            prop_assert_eq!(events.last(), Some(&Ev::Close { conn: 1, reason: CloseReason::EndOfInput }));
        }
    }

    /// Arbitrary segments between a few endpoints never panic, keep every bound, and every
    /// connection's events run Open ... Close.
    #[test]
    fn arbitrary_segments_keep_invariants(
        segs in prop::collection::vec(
            (
                0usize..4,
                0usize..4,
                prop_oneof![any::<u32>(), (0u32..4).prop_flat_map(|b| (0u32..400).prop_map(move |o| [0u32, 1_000, u32::MAX - 200, 1 << 31][b as usize].wrapping_add(o)))],
                prop_oneof![any::<u32>(), 0u32..1_400],
                any::<u8>(),
                prop::collection::vec(any::<u8>(), 0..48),
                0u64..3_000,
                0u8..12,
            ),
            0..160,
        ),
        max_flows in 0usize..4,
        max_ooo_per_stream in 0usize..120,
        max_ooo_total in 0usize..200,
        idle_timeout_ms in 0u64..8_000,
        gap_timeout_ms in 0u64..4_000,
        max_retained_per_stream in 0usize..64,
        max_retained_total in 0usize..128,
    ) {
        let endpoints = ["10.0.0.1:40000", "10.0.0.2:80", "10.0.0.3:8080", "[2001:db8::1]:443"].map(addr);
        let config = ReassemblyConfig {
            max_flows,
            max_ooo_bytes_per_stream: max_ooo_per_stream,
            max_ooo_bytes_total: max_ooo_total,
            idle_timeout_ms,
            gap_timeout_ms,
            max_retained_bytes_per_stream: max_retained_per_stream,
            max_retained_bytes_total: max_retained_total,
        };
        let mut r = Reassembler::new(config);
        let mut rec = Rec::default();
        let mut ts = 5_000_000u64;
        for (src, dst, seq, ack, flags, payload, step_ms, action) in segs {
            // Packet time mostly advances, sometimes steps back a little.
            ts = if action == 11 { ts.saturating_sub(step_ms) } else { ts + step_ms * 1_000 };
            if action == 10 {
                r.expire(ts, &mut rec);
            } else {
                // Now and then a copy with a bad checksum, or from farther away.
                let checksum = if action == 9 { Checksum::Invalid } else { Checksum::NotChecked };
                let ttl = if action == 8 { 1 } else { 64 };
                let p = Pkt { src: endpoints[src], dst: endpoints[dst], seq, ack, flags, payload, ttl, checksum };
                r.process(ts, &p.seg(), &mut rec);
            }
            prop_assert!(r.buffered_bytes() <= max_ooo_total);
            prop_assert!(r.active_flows() <= max_flows.max(1));
        }
        r.flush(ts, &mut rec);
        prop_assert_eq!(r.active_flows(), 0);
        prop_assert_eq!(r.buffered_bytes(), 0);
        let events = rec.0;
        assert_lifecycle(&events);
        let mut open: HashMap<u64, bool> = HashMap::new();
        for ev in &events {
            match ev {
                Ev::Open { conn, .. } => { open.insert(*conn, true); }
                Ev::Close { conn, .. } => { open.insert(*conn, false); }
                _ => {}
            }
        }
        prop_assert!(open.values().all(|still_open| !still_open), "connection left open after flush");
        let st = r.stats();
        prop_assert_eq!(st.flows_opened, st.flows_closed);
        prop_assert_eq!(st.flows_opened, open.len() as u64);
    }
}
