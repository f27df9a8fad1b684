//! TCP reassembly: a sequence of segments between a few endpoints, with time steps and expiry,
//! through a `Reassembler` with tiny bounds (4 flows, a few hundred out-of-order bytes) so that
//! eviction, buffer limits, gap timeouts and idle timeouts are all reached.
//!
//! Sequence and acknowledgment numbers are mostly relative to what the harness last sent in
//! that direction, so in-order data, retransmissions, overlaps and holes are all a small
//! mutation away; absolute values are possible too.
//!
//! Checks, on every event and after every call: each connection's events start with `Open`
//! and end with `Close`, nothing follows `Close`, ids are never reused; the buffered bytes stay
//! within `max_ooo_bytes_total` and the table within `max_flows`; after `flush` nothing is open.
#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use apitap_fuzz::Payload;
use apitap_reassembly::{
    Checksum, ConnId, Reassembler, ReassemblyConfig, Segment, StreamEvent, StreamSink, TcpFlags,
};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const MAX_FLOWS: usize = 4;
/// Endpoints: two clients on one host, a v4 server on a well-known port, a v6 pair.
fn endpoint(i: u8) -> SocketAddr {
    match i % 6 {
        0 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
        1 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40001),
        2 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80),
        3 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), 5555),
        4 => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 8080),
        _ => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 51000),
    }
}

#[derive(Arbitrary, Debug)]
enum Num {
    /// Where the harness's last segment in this direction ended (seq) / what the peer sent
    /// (ack), plus a small signed offset.
    Rel(i16),
    /// Any value.
    Abs(u32),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Segment {
        src: u8,
        dst: u8,
        zone: bool,
        seq: Num,
        ack: Num,
        flags: u8,
        /// Microseconds since the previous operation; negative steps are allowed (capture
        /// clocks step back), the reassembler must cope.
        dt_us: i32,
        payload: Payload,
        /// A TTL of 1 instead of 64: an insertion copy, flagged `ttl_changed`.
        far: bool,
        /// The checksum was verified wrong: the header changes nothing, the bytes never win.
        bad_checksum: bool,
    },
    Expire {
        /// Milliseconds.
        dt_ms: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    max_ooo_bytes_per_stream: u8,
    max_ooo_bytes_total: u8,
    max_retained_bytes_per_stream: u8,
    max_retained_bytes_total: u8,
    ops: Vec<Op>,
}

#[derive(Default)]
struct Checker {
    /// Connection id -> closed?
    conns: HashMap<ConnId, bool>,
    /// Sum of `Data` lengths.
    delivered: u64,
    /// `Gap` events and their lengths.
    gaps: u64,
    gap_bytes: u64,
}

impl StreamSink for Checker {
    fn on_event(&mut self, ev: StreamEvent<'_>) {
        let conn = match ev {
            StreamEvent::Open { conn, .. } => {
                assert!(
                    self.conns.insert(conn, false).is_none(),
                    "{conn:?} opened twice"
                );
                return;
            }
            StreamEvent::Data { conn, data, .. } => {
                assert!(!data.is_empty(), "empty Data event on {conn:?}");
                self.delivered += data.len() as u64;
                conn
            }
            StreamEvent::Gap { conn, len, .. } => {
                self.gaps += 1;
                self.gap_bytes += len;
                conn
            }
            StreamEvent::Anomaly { conn, .. } => conn,
            StreamEvent::Close { conn, .. } => {
                match self.conns.insert(conn, true) {
                    Some(false) => {}
                    Some(true) => panic!("{conn:?} closed twice"),
                    None => panic!("{conn:?} closed before Open"),
                }
                return;
            }
        };
        match self.conns.get(&conn) {
            Some(false) => {}
            Some(true) => panic!("event after Close on {conn:?}: {ev:?}"),
            None => panic!("event before Open on {conn:?}: {ev:?}"),
        }
    }
}

fuzz_target!(|input: Input| {
    let config = ReassemblyConfig {
        max_flows: MAX_FLOWS,
        max_ooo_bytes_per_stream: usize::from(input.max_ooo_bytes_per_stream),
        max_ooo_bytes_total: usize::from(input.max_ooo_bytes_total) * 2,
        idle_timeout_ms: 1_000,
        gap_timeout_ms: 200,
        max_retained_bytes_per_stream: usize::from(input.max_retained_bytes_per_stream),
        max_retained_bytes_total: usize::from(input.max_retained_bytes_total) * 2,
    };
    let total = config.max_ooo_bytes_total;
    let mut r = Reassembler::new(config);
    let mut sink = Checker::default();
    // Next sequence number the harness would send, per (src, dst) endpoint pair.
    let mut next: HashMap<(u8, u8), u32> = HashMap::new();
    let mut now: u64 = 1_700_000_000_000_000;
    for op in input.ops {
        match op {
            Op::Segment {
                src,
                dst,
                zone,
                seq,
                ack,
                flags,
                dt_us,
                payload,
                far,
                bad_checksum,
            } => {
                let (src, dst) = (src % 6, dst % 6);
                now = now.saturating_add_signed(i64::from(dt_us));
                let base = next.get(&(src, dst)).copied().unwrap_or(1000);
                let peer = next.get(&(dst, src)).copied().unwrap_or(5000);
                let seq = match seq {
                    Num::Rel(d) => base.wrapping_add_signed(i32::from(d)),
                    Num::Abs(v) => v,
                };
                let ack = match ack {
                    Num::Rel(d) => peer.wrapping_add_signed(i32::from(d)),
                    Num::Abs(v) => v,
                };
                let flags = TcpFlags(flags & 0x3f);
                let len = payload.0.len() as u32
                    + u32::from(flags.has(TcpFlags::SYN))
                    + u32::from(flags.has(TcpFlags::FIN));
                next.insert((src, dst), seq.wrapping_add(len));
                let seg = Segment {
                    zone: u64::from(zone),
                    src: endpoint(src),
                    dst: endpoint(dst),
                    seq,
                    ack,
                    flags,
                    payload: &payload.0,
                    ttl: if far { 1 } else { 64 },
                    checksum: if bad_checksum {
                        Checksum::Invalid
                    } else {
                        Checksum::NotChecked
                    },
                };
                r.process(now, &seg, &mut sink);
            }
            Op::Expire { dt_ms } => {
                now = now.saturating_add(u64::from(dt_ms) * 1_000);
                r.expire(now, &mut sink);
            }
        }
        assert!(
            r.buffered_bytes() <= total,
            "{} > {total}",
            r.buffered_bytes()
        );
        assert!(r.active_flows() <= MAX_FLOWS);
        let open = sink.conns.values().filter(|closed| !**closed).count();
        assert_eq!(open, r.active_flows(), "open connections vs tracked flows");
    }
    r.flush(now, &mut sink);
    assert_eq!(r.active_flows(), 0);
    assert_eq!(r.buffered_bytes(), 0);
    assert!(
        sink.conns.values().all(|closed| *closed),
        "a connection never closed"
    );
    let s = r.stats();
    assert_eq!(s.flows_opened, sink.conns.len() as u64);
    assert_eq!(s.flows_closed, s.flows_opened);
    assert_eq!(s.bytes_delivered, sink.delivered);
    assert_eq!((s.gaps, s.gap_bytes), (sink.gaps, sink.gap_bytes));
});
