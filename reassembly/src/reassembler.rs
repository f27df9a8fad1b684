//! The reassembler: flow tracking, orientation, handshake and close handling, bounds and expiry,
//! on top of the per-direction [`Stream`]s.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::config::ReassemblyConfig;
use crate::event::{
    CloseReason, ConnId, OrientationBasis, Side, StreamEvent, StreamSink, TcpAnomaly,
};
use crate::retained::RetainBudget;
use crate::segment::{Checksum, FlowKey, Segment, TcpFlags};
use crate::stats::{InsertionStats, ReassemblyStats};
use crate::stream::{Ctx, Shared, Stream, SYN_SEQ_LEN};
use crate::table::{Flow, FlowTable};

/// Ports on which API servers commonly listen; on a mid-stream pickup the endpoint using one of
/// them is taken as the server (HTTP 80, HTTPS 443, and the usual development, proxy and
/// Elasticsearch ports).
const WELL_KNOWN_SERVER_PORTS: [u16; 14] = [
    80, 443, 3000, 5000, 8000, 8008, 8080, 8081, 8443, 8888, 9000, 9090, 9200, 9443,
];

/// Microseconds per millisecond, to turn config timeouts into packet-time units.
const US_PER_MS: u64 = 1_000;

/// Hole timers allowed beyond twice the live ones before the queue is compacted (see
/// [`Reassembler::compact_hole_timers`]); keeps the queue bounded when `expire` is rarely called
/// while the compaction cost stays amortised O(1) per timer.
const HOLE_QUEUE_SLACK: usize = 4096;

/// Connection ids start here unless [`Reassembler::with_first_conn_id`] says otherwise.
const FIRST_CONN_ID: u64 = 1;

/// A pending gap timeout of one direction.
#[derive(Clone, Copy, Debug)]
struct HoleTimer {
    /// When the hole becomes a gap.
    deadline_us: u64,
    /// Hole start time it was armed for; a different value on the stream means stale.
    since_us: u64,
    /// Flow slot.
    slot: u32,
    /// Connection in the slot when armed; a different one means stale.
    conn: ConnId,
    /// Direction.
    side: Side,
}

/// What a SYN means for an existing flow.
enum SynAction {
    /// Same ISN as the SYN already seen: a retransmission.
    Retransmission,
    /// No data yet: (re)anchor the sender's stream on this SYN.
    Anchor,
    /// The flow carried data: this SYN starts a new connection on the same 4-tuple.
    Reuse,
}

/// TCP reassembler for any number of connections: feed it segments with their packet time,
/// receive ordered [`StreamEvent`]s.
///
/// Policies:
/// - **Overlaps: first data wins, a bad checksum never wins.** Delivered bytes are never
///   replaced; buffered bytes only when they came with a bad checksum and a correct copy
///   arrives. Overlapping bytes are compared with the buffered ones and with the delivered ones
///   the peer has not acknowledged yet (up to `max_retained_bytes_per_stream`), in either
///   order; a difference is [`TcpAnomaly::RetransmissionMismatch`].
/// - **Checksums:** a segment whose checksum was verified wrong ([`Checksum::Invalid`]) is
///   flagged [`TcpAnomaly::BadChecksum`]; its flags and acknowledgment change nothing (the
///   receiver dropped it), only its bytes are used, where nothing better is.
/// - **TTL:** a segment whose TTL (hop limit) differs from the previous one of its direction
///   is flagged [`TcpAnomaly::TtlChanged`].
/// - **TCP Fast Open** (RFC 7413): data on a SYN is the first data of its stream, and a
///   SYN-ACK answering such a SYN anchors the server's stream (it may carry data too).
/// - **Orientation:** a SYN's sender is the client ([`OrientationBasis::Syn`]); else a
///   SYN-ACK's receiver ([`OrientationBasis::SynAck`]); else the endpoint with a well-known
///   server port, else the lower port, is the server, and on equal ports the destination of the
///   first segment ([`OrientationBasis::Ports`], with [`TcpAnomaly::MidStreamPickup`]).
/// - **Gaps** are declared when the peer acknowledges bytes of a hole, when a buffer limit is
///   hit (the current stream gives up its holes), when a hole is older than `gap_timeout_ms`,
///   and when a connection ends with holes.
/// - **RST** closes the connection at once (after flushing with gaps) unless its sequence
///   number is more than a maximum window away from the sender's stream.
/// - **Bounds:** `max_flows` (least recently seen flow evicted), `max_ooo_bytes_per_stream`
///   (also at most 1024 separate out-of-order chunks per direction) and
///   `max_ooo_bytes_total`; each hit is counted.
#[derive(Debug)]
pub struct Reassembler {
    /// User settings.
    config: ReassemblyConfig,
    /// Tracked flows.
    table: FlowTable,
    /// Counters and global budget, shared with the streams.
    shared: Shared,
    /// Gap timeouts in arming order (non-decreasing deadlines); may hold stale entries.
    holes: VecDeque<HoleTimer>,
    /// Queue length at which stale timers are dropped.
    holes_compact_at: usize,
    /// Next connection id.
    next_conn: u64,
    /// Monotonic packet clock: the largest `ts_us` seen (packet time may step back slightly).
    clock_us: u64,
    /// `idle_timeout_ms` in microseconds.
    idle_timeout_us: u64,
    /// `gap_timeout_ms` in microseconds.
    gap_timeout_us: u64,
    /// `max_flows`, at least 1 and addressable by a slot index.
    max_flows: usize,
    /// Keys of the last [`RECENTLY_CLOSED_FLOWS`] flows closed by FIN or RST, so the packets
    /// that trail a close (the last ACK of the teardown, a retransmitted FIN) are counted as
    /// `late_segments`, not as segments of flows never seen.
    recently_closed: RecentlyClosed,
}

/// Closed flows remembered to tell a teardown's trailing packets from unknown flows: a sensor
/// closes about this many connections in a fraction of a second at high rates, which is the
/// window in which trailing ACKs arrive.
pub const RECENTLY_CLOSED_FLOWS: usize = 4096;

/// A bounded FIFO set of flow keys. Keys are chosen by whoever sends the traffic: hashed with
/// a per-run random seed (nothing depends on the set's order).
#[derive(Debug, Default)]
struct RecentlyClosed {
    keys: hashbrown::HashSet<FlowKey, foldhash::fast::RandomState>,
    order: VecDeque<FlowKey>,
}

// Invariant: `keys` and `order` hold the same keys, at most `RECENTLY_CLOSED_FLOWS` of them.
impl RecentlyClosed {
    /// Remember `key`, forgetting the oldest beyond the bound.
    fn insert(&mut self, key: FlowKey) {
        if !self.keys.insert(key) {
            return;
        }
        self.order.push_back(key);
        if self.order.len() > RECENTLY_CLOSED_FLOWS {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
        debug_assert_eq!(self.keys.len(), self.order.len());
    }

    /// True when `key` was closed recently.
    fn contains(&self, key: &FlowKey) -> bool {
        self.keys.contains(key)
    }
}

// Invariant: every live flow has announced Open and not Close; `shared.buffered_total` is the
// sum of the buffered bytes of all live streams and never exceeds `max_ooo_bytes_total` between
// calls; `table.len() <= max_flows`; every live stream with a hole has a (non-stale) timer in
// `holes`.
impl Reassembler {
    /// A reassembler with the given bounds and timeouts.
    pub fn new(config: ReassemblyConfig) -> Self {
        let shared = Shared {
            max_stream_bytes: config.max_ooo_bytes_per_stream,
            max_total_bytes: config.max_ooo_bytes_total,
            retain: RetainBudget {
                max_stream_bytes: config.max_retained_bytes_per_stream,
                max_total_bytes: config.max_retained_bytes_total,
                ..RetainBudget::default()
            },
            ..Shared::default()
        };
        // Slots are u32 indices; u32::MAX is the "no slot" marker.
        let max_flows = config.max_flows.clamp(1, (u32::MAX - 1) as usize);
        Reassembler {
            idle_timeout_us: config.idle_timeout_ms.saturating_mul(US_PER_MS),
            gap_timeout_us: config.gap_timeout_ms.saturating_mul(US_PER_MS),
            max_flows,
            config,
            table: FlowTable::with_capacity(max_flows),
            shared,
            holes: VecDeque::new(),
            holes_compact_at: HOLE_QUEUE_SLACK,
            next_conn: FIRST_CONN_ID,
            clock_us: 0,
            recently_closed: RecentlyClosed::default(),
        }
    }

    /// Memory one tracked flow costs at the most, in bytes, before it buffers anything
    /// (out-of-order and retained bytes have budgets of their own): what a half-open
    /// connection (a SYN flood) costs here. The HTTP stage's entry for it is
    /// `HttpTracker::CONN_BYTES` more.
    pub const FLOW_BYTES: usize = FlowTable::FLOW_BYTES;

    /// Numbers connections from `first` on (default 1): give each worker of a sharded sensor
    /// its own range, e.g. the worker index in the high bits, so ids stay unique across workers.
    pub fn with_first_conn_id(mut self, first: ConnId) -> Self {
        debug_assert_eq!(
            self.shared.stats.flows_opened, 0,
            "set the id range before use"
        );
        self.next_conn = first.0;
        self
    }

    /// The settings this reassembler runs with.
    pub fn config(&self) -> &ReassemblyConfig {
        &self.config
    }

    /// Counters since creation.
    pub fn stats(&self) -> &ReassemblyStats {
        &self.shared.stats
    }

    /// What the checks against insertion evasion counted since creation.
    pub fn insertion_stats(&self) -> &InsertionStats {
        &self.shared.insertion
    }

    /// Connections currently tracked.
    pub fn active_flows(&self) -> usize {
        self.table.len()
    }

    /// Out-of-order bytes currently buffered over all connections.
    pub fn buffered_bytes(&self) -> usize {
        self.shared.buffered_total
    }

    /// Processes one segment at packet time `ts_us` (µs since the epoch); emits events to `sink`.
    pub fn process(&mut self, ts_us: u64, seg: &Segment<'_>, sink: &mut impl StreamSink) {
        self.shared.stats.segments += 1;
        self.shared.stats.payload_bytes += seg.payload.len() as u64;
        self.clock_us = self.clock_us.max(ts_us);
        let suspect = seg.checksum == Checksum::Invalid;
        let stripped;
        let seg = if suspect {
            // The receiver dropped it: its header changes no state, only its bytes are used.
            self.shared.insertion.bad_checksum_segments += 1;
            stripped = Segment {
                flags: TcpFlags(0),
                ..*seg
            };
            &stripped
        } else {
            seg
        };
        let (key, from_lo) = FlowKey::of(seg);
        let syn = seg.flags.has(TcpFlags::SYN);
        let rst = seg.flags.has(TcpFlags::RST);
        let mut slot = match self.table.get(&key) {
            Some(slot) => {
                self.table.touch(slot, self.clock_us);
                slot
            }
            None => {
                // Only a SYN or data can start a flow: late ACKs, FINs and RSTs of a closed or
                // unseen connection must not resurrect it.
                if rst || (!syn && seg.payload.is_empty()) {
                    if self.recently_closed.contains(&key) {
                        self.shared.stats.late_segments += 1;
                    } else {
                        self.shared.stats.orphan_segments += 1;
                    }
                    return;
                }
                self.open(ts_us, key, from_lo, seg, sink)
            }
        };
        let side = self.table.flow(slot).side_of(from_lo);
        if rst {
            if !self.table.flow(slot).stream(side).seq_plausible(seg.seq) {
                // Not from this connection's sequence space: ignore rather than tear it down.
                self.shared.stats.out_of_window_segments += 1;
                return;
            }
            // RFC 9293 section 3.10.7: a RST aborts both directions at once.
            self.close(slot, ts_us, CloseReason::Rst, sink);
            return;
        }
        let mut data_seq = seg.seq;
        if syn {
            data_seq = seg.seq.wrapping_add(SYN_SEQ_LEN);
            match self.syn_action(slot, side, seg) {
                SynAction::Retransmission => {}
                SynAction::Anchor => self.anchor_on_syn(slot, side, seg),
                SynAction::Reuse => {
                    self.shared.stats.flows_reused += 1;
                    self.close(slot, ts_us, CloseReason::Reused, sink);
                    slot = self.open(ts_us, key, from_lo, seg, sink);
                }
            }
        }
        // The side may have changed if the flow was reopened with another orientation.
        let side = self.table.flow(slot).side_of(from_lo);
        self.check_header(slot, side, seg, suspect, ts_us, sink);
        self.segment_data(slot, side, seg, data_seq, (ts_us, suspect), sink);
        self.arm_hole_timer(slot, Side::Client);
        self.arm_hole_timer(slot, Side::Server);
        self.close_if_finished(slot, ts_us, sink);
        self.sync_retain_stats();
        debug_assert!(self.shared.buffered_total <= self.config.max_ooo_bytes_total);
    }

    /// Copies the retained-bytes bound counters into the stats.
    #[inline]
    fn sync_retain_stats(&mut self) {
        self.shared.insertion.retained_limit_hits = self.shared.retain.stream_hits;
        self.shared.insertion.global_retained_limit_hits = self.shared.retain.global_hits;
    }

    /// Flags what the segment's IP and TCP headers say about it: a bad checksum, or a TTL
    /// different from the previous one of its direction (only for correct headers).
    fn check_header(
        &mut self,
        slot: u32,
        side: Side,
        seg: &Segment<'_>,
        suspect: bool,
        ts_us: u64,
        sink: &mut impl StreamSink,
    ) {
        let flow = self.table.flow_mut(slot);
        let kind = if suspect {
            TcpAnomaly::BadChecksum
        } else if flow.stream_mut(side).note_ttl(seg.ttl) {
            self.shared.insertion.ttl_changes += 1;
            TcpAnomaly::TtlChanged
        } else {
            return;
        };
        let mut cx = Ctx {
            sink,
            shared: &mut self.shared,
            conn: flow.conn,
            from: side,
            ts_us,
        };
        cx.anomaly(kind);
    }

    /// The acknowledgment (about the other direction) and the data of one segment from `side`;
    /// `seen` is its packet time and whether its checksum was wrong.
    fn segment_data(
        &mut self,
        slot: u32,
        side: Side,
        seg: &Segment<'_>,
        data_seq: u32,
        seen: (u64, bool),
        sink: &mut impl StreamSink,
    ) {
        let (ts_us, suspect) = seen;
        let fin = seg.flags.has(TcpFlags::FIN);
        let flow = self.table.flow_mut(slot);
        let conn = flow.conn;
        if seg.flags.has(TcpFlags::ACK) {
            // The ACK speaks about the other direction: settle its holes before this data, which
            // the peer sent after receiving them.
            let mut cx = Ctx {
                sink: &mut *sink,
                shared: &mut self.shared,
                conn,
                from: side.flip(),
                ts_us,
            };
            flow.stream_mut(side.flip()).on_ack(seg.ack, &mut cx);
        }
        let stream = flow.stream_mut(side);
        if !stream.is_started() && (!seg.payload.is_empty() || fin) {
            // Mid-stream: the first segment seen in this direction anchors it.
            stream.start(data_seq, false);
        }
        if stream.is_started() && (!seg.payload.is_empty() || fin) {
            let mut cx = Ctx {
                sink,
                shared: &mut self.shared,
                conn,
                from: side,
                ts_us,
            };
            stream.on_segment(data_seq, seg.payload, fin, suspect, &mut cx);
        }
    }

    /// Advances packet time to `ts_us`: holes older than `gap_timeout_ms` become gaps and flows
    /// idle for `idle_timeout_ms` are closed. Costs O(expired), not O(flows).
    pub fn expire(&mut self, ts_us: u64, sink: &mut impl StreamSink) {
        self.clock_us = self.clock_us.max(ts_us);
        while let Some(timer) = self.holes.front().copied() {
            if timer.deadline_us > self.clock_us {
                break;
            }
            self.holes.pop_front();
            if !self.timer_is_current(&timer) {
                continue;
            }
            let flow = self.table.flow_mut(timer.slot);
            let mut cx = Ctx {
                sink: &mut *sink,
                shared: &mut self.shared,
                conn: timer.conn,
                from: timer.side,
                ts_us,
            };
            flow.stream_mut(timer.side).flush(&mut cx);
            self.close_if_finished(timer.slot, ts_us, sink);
        }
        while let Some(slot) = self.table.oldest() {
            let last_seen = self.table.flow(slot).last_seen_us;
            if last_seen.saturating_add(self.idle_timeout_us) > self.clock_us {
                break;
            }
            self.shared.stats.flows_idle_closed += 1;
            self.close(slot, ts_us, CloseReason::Idle, sink);
        }
        self.sync_retain_stats();
    }

    /// End of input: delivers everything buffered (with gaps for holes) and closes every flow
    /// with [`CloseReason::EndOfInput`], in connection id order.
    pub fn flush(&mut self, ts_us: u64, sink: &mut impl StreamSink) {
        self.clock_us = self.clock_us.max(ts_us);
        let mut live = self.table.live_conns();
        live.sort_unstable();
        for (_, slot) in live {
            self.close(slot, ts_us, CloseReason::EndOfInput, sink);
        }
        self.holes.clear();
        self.sync_retain_stats();
        debug_assert_eq!(self.shared.buffered_total, 0);
        debug_assert_eq!(self.shared.retain.total, 0);
    }

    /// Starts tracking a new flow from its first segment (a SYN or data); emits Open.
    fn open(
        &mut self,
        ts_us: u64,
        key: FlowKey,
        from_lo: bool,
        seg: &Segment<'_>,
        sink: &mut impl StreamSink,
    ) -> u32 {
        while self.table.len() >= self.max_flows {
            let Some(oldest) = self.table.oldest() else {
                break;
            };
            self.shared.stats.flows_evicted += 1;
            self.close(oldest, ts_us, CloseReason::Evicted, sink);
        }
        let syn = seg.flags.has(TcpFlags::SYN);
        let ack = seg.flags.has(TcpFlags::ACK);
        let (src_is_client, basis) = if syn && !ack {
            (true, OrientationBasis::Syn)
        } else if syn {
            (false, OrientationBasis::SynAck)
        } else {
            (!server_is_src(seg.src, seg.dst), OrientationBasis::Ports)
        };
        let conn = ConnId(self.next_conn);
        self.next_conn = self.next_conn.wrapping_add(1);
        let lo_is_client = from_lo == src_is_client;
        let flow = Flow::new(key, conn, lo_is_client);
        let (client, server) = if lo_is_client {
            (key.lo, key.hi)
        } else {
            (key.hi, key.lo)
        };
        let slot = self.table.insert(flow, self.clock_us);
        self.shared.stats.flows_opened += 1;
        sink.on_event(StreamEvent::Open {
            conn,
            ts_us,
            zone: key.zone,
            client,
            server,
            basis,
        });
        let sender = if src_is_client {
            Side::Client
        } else {
            Side::Server
        };
        if syn {
            self.anchor_on_syn(slot, sender, seg);
        } else {
            self.shared.stats.mid_stream_pickups += 1;
            let mut cx = Ctx {
                sink,
                shared: &mut self.shared,
                conn,
                from: sender,
                ts_us,
            };
            cx.anomaly(TcpAnomaly::MidStreamPickup);
        }
        slot
    }

    /// Decides what a SYN from `side` means for the flow in `slot`.
    fn syn_action(&self, slot: u32, side: Side, seg: &Segment<'_>) -> SynAction {
        let flow = self.table.flow(slot);
        let own = flow.stream(side);
        let peer = flow.stream(side.flip());
        if own.syn_matches(seg.seq) {
            SynAction::Retransmission
        } else if flow.streams.iter().all(Stream::is_pristine) {
            SynAction::Anchor
        } else if seg.flags.has(TcpFlags::ACK)
            && own.is_pristine()
            && !own.syn_seen()
            && peer.syn_seen()
            && peer.seq_plausible(seg.ack)
        {
            // A SYN-ACK answering a SYN that carried data (TCP Fast Open, RFC 7413 section
            // 4.2): the client's stream already holds that data, the connection is the same.
            SynAction::Anchor
        } else {
            SynAction::Reuse
        }
    }

    /// Anchors the sender's stream on its SYN and, for a SYN-ACK, the peer's stream on the
    /// acknowledgment (the peer's ISN + 1) if it has no anchor yet.
    fn anchor_on_syn(&mut self, slot: u32, side: Side, seg: &Segment<'_>) {
        let flow = self.table.flow_mut(slot);
        flow.stream_mut(side)
            .start(seg.seq.wrapping_add(SYN_SEQ_LEN), true);
        let peer = flow.stream_mut(side.flip());
        if seg.flags.has(TcpFlags::ACK) && !peer.is_started() {
            peer.start(seg.ack, false);
        }
    }

    /// Arms a gap timer for the stream of `side` if it has a new hole.
    fn arm_hole_timer(&mut self, slot: u32, side: Side) {
        let flow = self.table.flow_mut(slot);
        let conn = flow.conn;
        let Some(since_us) = flow.stream_mut(side).sync_hole(self.clock_us) else {
            return;
        };
        self.holes.push_back(HoleTimer {
            deadline_us: since_us.saturating_add(self.gap_timeout_us),
            since_us,
            slot,
            conn,
            side,
        });
        if self.holes.len() >= self.holes_compact_at {
            self.compact_hole_timers();
        }
    }

    /// True when `timer` still refers to a live stream and to the hole it was armed for.
    fn timer_is_current(&self, timer: &HoleTimer) -> bool {
        self.table.live(timer.slot).is_some_and(|flow| {
            flow.conn == timer.conn
                && flow.stream(timer.side).hole_since_us() == Some(timer.since_us)
        })
    }

    /// Drops stale timers. Amortised O(1) per timer: the next compaction waits until the queue
    /// has grown past twice what survived plus [`HOLE_QUEUE_SLACK`].
    fn compact_hole_timers(&mut self) {
        let mut holes = std::mem::take(&mut self.holes);
        holes.retain(|timer| self.timer_is_current(timer));
        self.holes_compact_at = holes
            .len()
            .saturating_mul(2)
            .saturating_add(HOLE_QUEUE_SLACK);
        self.holes = holes;
    }

    /// Closes the flow in `slot` with [`CloseReason::Fin`] when both directions are finished.
    fn close_if_finished(&mut self, slot: u32, ts_us: u64, sink: &mut impl StreamSink) {
        let flow = self.table.flow(slot);
        if flow.streams.iter().all(Stream::is_finished) {
            self.close(slot, ts_us, CloseReason::Fin, sink);
        }
    }

    /// Flushes both directions (gaps for holes), emits Close and forgets the flow.
    fn close(&mut self, slot: u32, ts_us: u64, reason: CloseReason, sink: &mut impl StreamSink) {
        let flow = self.table.flow_mut(slot);
        let conn = flow.conn;
        for side in [Side::Client, Side::Server] {
            let stream = flow.stream_mut(side);
            let mut cx = Ctx {
                sink: &mut *sink,
                shared: &mut self.shared,
                conn,
                from: side,
                ts_us,
            };
            stream.flush(&mut cx);
            stream.release(&mut self.shared);
        }
        self.shared.stats.flows_closed += 1;
        if matches!(reason, CloseReason::Fin | CloseReason::Rst) {
            let key = self.table.flow(slot).key;
            self.recently_closed.insert(key);
        }
        sink.on_event(StreamEvent::Close {
            conn,
            ts_us,
            reason,
        });
        self.table.remove(slot);
    }
}

/// True when `port` is one API servers commonly listen on.
#[inline]
fn is_well_known_server_port(port: u16) -> bool {
    WELL_KNOWN_SERVER_PORTS.contains(&port)
}

/// Port heuristic for a connection picked up without handshake: true when the sender of the
/// first segment (`src`) is the server. A well-known server port wins; otherwise the lower port;
/// on equal ports the destination is the server.
fn server_is_src(src: SocketAddr, dst: SocketAddr) -> bool {
    let (sp, dp) = (src.port(), dst.port());
    match (is_well_known_server_port(sp), is_well_known_server_port(dp)) {
        (true, false) => true,
        (false, true) => false,
        _ => sp < dp,
    }
}

#[cfg(test)]
mod recently_closed_tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey {
            zone: 0,
            lo: "10.0.0.1:80".parse().unwrap(),
            hi: std::net::SocketAddr::new("10.0.0.2".parse().unwrap(), port),
        }
    }

    /// The set forgets the oldest key beyond its bound and stays consistent.
    #[test]
    fn bounded_fifo() {
        let mut r = RecentlyClosed::default();
        for p in 0..=RECENTLY_CLOSED_FLOWS as u16 {
            r.insert(key(p));
        }
        r.insert(key(5)); // already present: no duplicate
        assert!(!r.contains(&key(0)), "the oldest is forgotten");
        assert!(r.contains(&key(1)) && r.contains(&key(RECENTLY_CLOSED_FLOWS as u16)));
        assert_eq!(r.keys.len(), RECENTLY_CLOSED_FLOWS);
        assert_eq!(r.order.len(), RECENTLY_CLOSED_FLOWS);
    }
}
