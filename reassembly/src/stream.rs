//! One direction of a TCP connection: sequence-number unwrapping, the bounded out-of-order
//! buffer and in-order delivery.
//!
//! Offsets: every byte of a direction has a `u64` stream offset, 0 being the first data byte
//! (the byte after the SYN when the SYN was seen, else the first byte of the first segment seen).
//! A 32-bit sequence number is mapped to an offset by unwrapping it relative to the next
//! expected offset, so streams longer than 4 GiB cross sequence wrap-around transparently.
//!
//! Overlap policy: **first data wins, but a bad checksum never wins.** Bytes already delivered
//! are never replaced. Buffered bytes are replaced only when they came in a segment with a bad
//! checksum (the receiver dropped it) and a correct copy arrives. Delivered bytes are kept
//! until the peer acknowledges them (`max_retained_bytes_per_stream`, [`Retained`]), so a later
//! copy of delivered or buffered bytes is compared whatever the order, and a difference is a
//! retransmission mismatch. Segments with a bad checksum are never compared: their anomaly is
//! `bad_checksum`.

use std::collections::VecDeque;

use crate::event::{ConnId, Side, StreamEvent, StreamSink, TcpAnomaly};
use crate::retained::{RetainBudget, Retained};
use crate::stats::{InsertionStats, ReassemblyStats};

/// Largest forward distance (in sequence space) a segment or acknowledgment may lie beyond the
/// next expected byte: RFC 7323 section 2.3 caps a scaled window at 2^30 bytes. Anything
/// further is not part of this stream's current window and is ignored.
pub(crate) const MAX_WINDOW_BYTES: i64 = 1 << 30;

/// Most separate out-of-order chunks one direction may hold. Bounds the cost of inserting into
/// the buffer when a peer sends many tiny non-adjacent segments; hitting it forces a gap like
/// `max_ooo_bytes_per_stream` does (smoltcp's assembler has the same kind of bound).
pub(crate) const MAX_OOO_CHUNKS_PER_STREAM: usize = 1024;

/// A SYN occupies one sequence number, so data starts at ISN + 1 (RFC 9293 section 3.4).
pub(crate) const SYN_SEQ_LEN: u32 = 1;

/// State shared by every stream of a reassembler: counters and the global buffer budget.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Counters, exported as [`crate::Reassembler::stats`].
    pub stats: ReassemblyStats,
    /// Out-of-order bytes buffered over all streams.
    pub buffered_total: usize,
    /// `max_ooo_bytes_per_stream` of the config.
    pub max_stream_bytes: usize,
    /// `max_ooo_bytes_total` of the config.
    pub max_total_bytes: usize,
    /// Delivered bytes kept until acknowledged, over all streams, and their bounds.
    pub retain: RetainBudget,
    /// Counters of the checks against insertion evasion.
    pub insertion: InsertionStats,
}

/// Where the events of one stream operation go, and what they are tagged with.
pub(crate) struct Ctx<'a, S: StreamSink + ?Sized> {
    /// Event receiver.
    pub sink: &'a mut S,
    /// Counters and the global budget.
    pub shared: &'a mut Shared,
    /// Connection of the stream.
    pub conn: ConnId,
    /// Sender of the stream's bytes.
    pub from: Side,
    /// Packet time of the operation.
    pub ts_us: u64,
}

impl<S: StreamSink + ?Sized> Ctx<'_, S> {
    /// Emits in-order bytes that arrived now and counts them.
    fn data(&mut self, data: &[u8]) {
        self.data_seen_at(data, self.ts_us);
    }

    /// Emits in-order bytes that arrived at `ts_us` (buffered bytes released later) and counts
    /// them.
    fn data_seen_at(&mut self, data: &[u8], ts_us: u64) {
        if data.is_empty() {
            return;
        }
        self.shared.stats.bytes_delivered += data.len() as u64;
        self.sink.on_event(StreamEvent::Data {
            conn: self.conn,
            ts_us,
            from: self.from,
            data,
        });
    }

    /// Emits a gap of `len` lost bytes and counts it.
    fn gap(&mut self, len: u64) {
        self.shared.stats.gaps += 1;
        self.shared.stats.gap_bytes += len;
        self.sink.on_event(StreamEvent::Gap {
            conn: self.conn,
            ts_us: self.ts_us,
            from: self.from,
            len,
        });
    }

    /// Emits an anomaly of this stream (the caller counts it).
    pub(crate) fn anomaly(&mut self, kind: TcpAnomaly) {
        self.sink.on_event(StreamEvent::Anomaly {
            conn: self.conn,
            ts_us: self.ts_us,
            from: self.from,
            kind,
        });
    }
}

/// Out-of-order bytes starting at stream offset `start`.
#[derive(Debug)]
struct Chunk {
    /// Stream offset of `data[0]`.
    start: u64,
    /// The bytes, never empty.
    data: Vec<u8>,
    /// Packet time of the segment that carried them: delivered Data keeps the time the bytes
    /// were seen, not the time a later packet released them.
    ts_us: u64,
    /// Offset of the first byte a later copy contradicted: the anomaly is emitted right before
    /// that byte is delivered, so the consumer attaches it to the message it belongs to.
    conflict_at: Option<u64>,
    /// The bytes came in a segment with a bad checksum: a correct copy replaces them.
    suspect: bool,
}

impl Chunk {
    /// Offset one past the last byte.
    #[inline]
    fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

/// What inserting a segment into the buffer would do.
struct Plan {
    /// Bytes not yet buffered (to be copied).
    added: usize,
    /// Chunks that would be created (rather than only extending existing ones).
    new_chunks: usize,
}

/// One direction of a connection.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    /// True once the stream has an anchor (`base_seq` is meaningful).
    started: bool,
    /// True when `base_seq` came from this direction's SYN.
    syn_seen: bool,
    /// Sequence number of stream offset 0.
    base_seq: u32,
    /// Next offset to deliver: everything before it was delivered as Data or declared a Gap.
    next: u64,
    /// Offset of the FIN, once a consistent one was seen.
    fin: Option<u64>,
    /// Out-of-order bytes, sorted by `start`.
    chunks: VecDeque<Chunk>,
    /// Sum of the chunk lengths.
    buffered: usize,
    /// Packet time (reassembler clock) at which the current hole was first seen.
    hole_since_us: Option<u64>,
    /// `next` when `hole_since_us` was set; progress past it restarts the hole timer.
    hole_at: u64,
    /// Delivered bytes not yet acknowledged by the peer, to compare later copies with.
    retained: Retained,
    /// TTL (hop limit) of the last segment of this direction with a correct header.
    ttl: Option<u8>,
}

// Invariant: after every public method returns
// - `chunks` are sorted by `start`, non-empty, non-overlapping (they may touch), and every chunk
//   starts strictly after `next` (a chunk at `next` is delivered at once);
// - `buffered` is the sum of the chunk lengths, and `buffered` of every stream sums to
//   `Shared::buffered_total`;
// - `fin`, when set, is at or after `next` and at or after the end of every chunk;
// - the Data and Gap lengths emitted so far sum to `next`;
// - `retained` holds delivered bytes only: it ends at or before `next`.
impl Stream {
    /// True once the stream has an anchor.
    #[inline]
    pub(crate) fn is_started(&self) -> bool {
        self.started
    }

    /// Anchors the stream: `base_seq` is the sequence number of offset 0.
    pub(crate) fn start(&mut self, base_seq: u32, from_syn: bool) {
        debug_assert!(
            !self.started || self.is_pristine(),
            "restart of a stream with data"
        );
        self.started = true;
        self.syn_seen = from_syn;
        self.base_seq = base_seq;
    }

    /// True when `seq` is the ISN of the SYN that anchored this stream (a SYN retransmission).
    #[inline]
    pub(crate) fn syn_matches(&self, seq: u32) -> bool {
        self.syn_seen && self.base_seq == seq.wrapping_add(SYN_SEQ_LEN)
    }

    /// True when the stream was anchored on its own SYN.
    #[inline]
    pub(crate) fn syn_seen(&self) -> bool {
        self.syn_seen
    }

    /// Notes the TTL (hop limit) of a segment of this direction; true when it differs from
    /// the previous one.
    #[inline]
    pub(crate) fn note_ttl(&mut self, ttl: u8) -> bool {
        self.ttl.replace(ttl).is_some_and(|old| old != ttl)
    }

    /// True when nothing was delivered, buffered or finished yet.
    #[inline]
    pub(crate) fn is_pristine(&self) -> bool {
        self.next == 0 && self.chunks.is_empty() && self.fin.is_none()
    }

    /// True when the FIN was seen and every byte before it was delivered or gapped.
    #[inline]
    pub(crate) fn is_finished(&self) -> bool {
        self.fin == Some(self.next)
    }

    /// True when bytes are known to be missing before data or a FIN we hold.
    #[inline]
    pub(crate) fn has_hole(&self) -> bool {
        !self.chunks.is_empty() || self.fin.is_some_and(|fin| fin > self.next)
    }

    /// Out-of-order bytes held.
    #[inline]
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Packet time at which the current hole was first seen, if there is one.
    #[inline]
    pub(crate) fn hole_since_us(&self) -> Option<u64> {
        self.hole_since_us
    }

    /// Distance from the next expected byte to `seq`, in the signed 32-bit window
    /// (RFC 9293 section 3.4: sequence comparisons are modulo 2^32).
    #[inline]
    fn rel(&self, seq: u32) -> i64 {
        let next_seq = self.base_seq.wrapping_add(self.next as u32);
        i64::from(seq.wrapping_sub(next_seq) as i32)
    }

    /// True when `seq` lies within a window of the next expected byte, either way (used to
    /// reject RSTs with sequence numbers from nowhere, which cannot belong to this stream).
    #[inline]
    pub(crate) fn seq_plausible(&self, seq: u32) -> bool {
        !self.started || self.rel(seq).abs() <= MAX_WINDOW_BYTES
    }

    /// Takes one segment of this direction: `seq` is the sequence number of `payload[0]` (or of
    /// the FIN when `payload` is empty). `suspect`: the segment's checksum was wrong, so its
    /// bytes never win over a correct copy and are never compared.
    pub(crate) fn on_segment<S: StreamSink + ?Sized>(
        &mut self,
        seq: u32,
        payload: &[u8],
        fin: bool,
        suspect: bool,
        cx: &mut Ctx<'_, S>,
    ) {
        debug_assert!(self.started, "segment on a stream without anchor");
        let rel_start = self.rel(seq);
        let rel_end = i64::try_from(payload.len())
            .ok()
            .and_then(|len| rel_start.checked_add(len));
        let Some(rel_end) = rel_end.filter(|_| rel_start <= MAX_WINDOW_BYTES) else {
            cx.shared.stats.out_of_window_segments += 1;
            return;
        };
        if rel_start < 0 && !suspect {
            self.compare_delivered(rel_start, payload, cx);
        }
        // Offsets: before `next` nothing can be delivered any more, so clamp there.
        let start = self.next.saturating_add(rel_start.max(0) as u64);
        let mut end = if rel_end <= 0 {
            self.next.saturating_sub(rel_end.unsigned_abs())
        } else {
            self.next.saturating_add(rel_end as u64)
        };
        if fin {
            self.record_fin(end);
        }
        if let Some(fin) = self.fin {
            // Bytes after the FIN are not part of the stream.
            end = end.min(fin);
        }
        if end <= self.next {
            if !payload.is_empty() {
                cx.shared.stats.retransmitted_segments += 1;
            }
            self.check();
            return;
        }
        if end <= start {
            // Entirely after the FIN: not part of the stream.
            return;
        }
        // `end > next` so `rel_end > 0` and the skipped prefix is shorter than the payload.
        let skip = usize::try_from((-rel_start).max(0)).unwrap_or(usize::MAX);
        let take = usize::try_from(end - start).unwrap_or(usize::MAX);
        let Some(data) = skip
            .checked_add(take)
            .and_then(|stop| payload.get(skip..stop))
        else {
            debug_assert!(false, "segment range outside its payload");
            return;
        };
        if suspect {
            self.accept_suspect(start, data, cx);
        } else {
            self.accept(start, data, cx);
        }
        self.check();
    }

    /// Takes correct bytes `data` at `start >= next`: they replace buffered bytes that came
    /// with a bad checksum, are compared with the other buffered bytes (which win), then are
    /// delivered or buffered.
    fn accept<S: StreamSink + ?Sized>(&mut self, start: u64, data: &[u8], cx: &mut Ctx<'_, S>) {
        let replaced = self.evict_suspect(start, data, cx.shared);
        // Compare with the buffered bytes (which win); a contradicted chunk remembers where,
        // and its anomaly is emitted in the byte stream right there when it is delivered.
        if !self.chunks.is_empty() && self.mark_conflicts(start, data) {
            cx.shared.stats.retransmission_mismatches += 1;
        }
        if replaced.is_some() {
            cx.shared.stats.retransmission_mismatches += 1;
            if start == self.next {
                cx.anomaly(TcpAnomaly::RetransmissionMismatch);
            }
        }
        if start == self.next {
            self.deliver_in_order(data, cx);
        } else {
            self.buffer(start, data, false, cx);
            if let Some(at) = replaced {
                self.mark_conflict_at(at, cx);
            }
        }
    }

    /// Takes bytes `data` at `start >= next` from a segment with a bad checksum: in order they
    /// are delivered (nothing better is there; a correct copy then finds them retained and
    /// differing), else they only fill holes of the buffer.
    fn accept_suspect<S: StreamSink + ?Sized>(
        &mut self,
        start: u64,
        data: &[u8],
        cx: &mut Ctx<'_, S>,
    ) {
        if start == self.next {
            self.deliver_in_order(data, cx);
        } else {
            self.buffer(start, data, true, cx);
        }
    }

    /// Compares the part of a segment that lies before `next` (it starts `-rel_start` bytes
    /// before it) with the delivered bytes still retained: a difference is a mismatch.
    fn compare_delivered<S: StreamSink + ?Sized>(
        &mut self,
        rel_start: i64,
        payload: &[u8],
        cx: &mut Ctx<'_, S>,
    ) {
        let back = rel_start.unsigned_abs();
        // Bytes from before offset 0 (a retransmitted SYN's data, or garbage) are not compared.
        let before_zero = usize::try_from(back.saturating_sub(self.next)).unwrap_or(usize::MAX);
        let Some(old) = payload.get(before_zero..) else {
            return;
        };
        let at = self.next.saturating_sub(back);
        if self.retained.first_difference(at, old).is_some() {
            cx.shared.stats.retransmission_mismatches += 1;
            cx.anomaly(TcpAnomaly::RetransmissionMismatch);
        }
    }

    /// Removes the buffered bytes with a bad checksum that `data` (correct, at `start`)
    /// overlaps, keeping their parts outside it. The offset of the first replaced byte that
    /// differed, if any.
    fn evict_suspect(&mut self, start: u64, data: &[u8], shared: &mut Shared) -> Option<u64> {
        let end = start + data.len() as u64;
        let mut differs: Option<u64> = None;
        let mut kept: Vec<Chunk> = Vec::new();
        let mut i = self.first_ending_after(start);
        while let Some(c) = self.chunks.get(i) {
            if c.start >= end {
                break;
            }
            if !c.suspect {
                i += 1;
                continue;
            }
            let Some(c) = self.chunks.remove(i) else {
                break;
            };
            self.buffered -= c.data.len();
            shared.buffered_total -= c.data.len();
            let (from, to) = (c.start.max(start), c.end().min(end));
            let ours = slice(data, start, from, to).unwrap_or_default();
            let theirs = slice(&c.data, c.start, from, to).unwrap_or_default();
            if let Some(k) = ours.iter().zip(theirs).position(|(a, b)| a != b) {
                let at = from + k as u64;
                differs = Some(differs.map_or(at, |d| d.min(at)));
            }
            for (lo, hi) in [(c.start, start), (end, c.end())] {
                if let Some(part) = slice(&c.data, c.start, lo, hi).filter(|p| !p.is_empty()) {
                    kept.push(Chunk {
                        start: lo,
                        data: part.to_vec(),
                        ts_us: c.ts_us,
                        conflict_at: c.conflict_at.filter(|&a| a >= lo && a < hi),
                        suspect: true,
                    });
                }
            }
        }
        for c in kept {
            // Each part lies where its chunk was: it overlaps nothing left in the buffer.
            let at = self.chunks.partition_point(|x| x.start < c.start);
            self.buffered += c.data.len();
            shared.buffered_total += c.data.len();
            self.chunks.insert(at, c);
        }
        differs
    }

    /// Marks the buffered byte at `at` as contradicted; when it is no longer buffered (a
    /// buffer limit delivered it), the anomaly is emitted now.
    fn mark_conflict_at<S: StreamSink + ?Sized>(&mut self, at: u64, cx: &mut Ctx<'_, S>) {
        let i = self.first_ending_after(at);
        match self.chunks.get_mut(i).filter(|c| c.start <= at) {
            Some(c) => c.conflict_at = Some(c.conflict_at.map_or(at, |old| old.min(at))),
            None => cx.anomaly(TcpAnomaly::RetransmissionMismatch),
        }
    }

    /// Records a FIN at offset `fin` unless one was already recorded or it contradicts data
    /// already accepted (first data wins).
    fn record_fin(&mut self, fin: u64) {
        let buffered_end = self.chunks.back().map_or(self.next, Chunk::end);
        if self.fin.is_none() && fin >= self.next && fin >= buffered_end {
            self.fin = Some(fin);
        }
    }

    /// Delivers `data`, which starts at `next`, merged with the buffered chunks it overlaps
    /// (those were accepted first: they win and are compared), then drains what became
    /// contiguous. The fast path is one Data event borrowing the packet.
    fn deliver_in_order<S: StreamSink + ?Sized>(&mut self, data: &[u8], cx: &mut Ctx<'_, S>) {
        let mut rest = data;
        while !rest.is_empty() {
            let first = self.chunks.front().map(|c| c.start);
            match first {
                Some(start) if start == self.next => {
                    let Some(chunk) = self.chunks.pop_front() else {
                        break;
                    };
                    let overlap = chunk.data.len().min(rest.len());
                    rest = rest.get(overlap..).unwrap_or_default();
                    self.deliver_chunk(chunk, cx);
                }
                _ => {
                    let room = first.map_or(u64::MAX, |start| start - self.next);
                    let n = usize::try_from(room).unwrap_or(usize::MAX).min(rest.len());
                    let (now, later) = rest.split_at(n);
                    cx.data(now);
                    self.retained.push(self.next, now, &mut cx.shared.retain);
                    self.next += now.len() as u64;
                    rest = later;
                }
            }
        }
        self.drain(cx);
    }

    /// Buffers out-of-order `data` at `start > next`; at a buffer limit, declares holes lost
    /// until the data fits or can be delivered.
    fn buffer<S: StreamSink + ?Sized>(
        &mut self,
        mut start: u64,
        mut data: &[u8],
        suspect: bool,
        cx: &mut Ctx<'_, S>,
    ) {
        let mut stream_hit = false;
        let mut global_hit = false;
        loop {
            debug_assert!(start > self.next && !data.is_empty());
            let plan = self.plan(start, data, cx.ts_us, suspect);
            if plan.added == 0 {
                cx.shared.stats.retransmitted_segments += 1;
                return;
            }
            let over_stream = self.buffered.saturating_add(plan.added) > cx.shared.max_stream_bytes
                || self.chunks.len().saturating_add(plan.new_chunks) > MAX_OOO_CHUNKS_PER_STREAM;
            let over_global =
                cx.shared.buffered_total.saturating_add(plan.added) > cx.shared.max_total_bytes;
            if !over_stream && !over_global {
                self.insert(start, data, (cx.ts_us, suspect), cx.shared);
                cx.shared.stats.ooo_segments += 1;
                return;
            }
            if over_stream && !stream_hit {
                stream_hit = true;
                cx.shared.stats.stream_buffer_limit_hits += 1;
                cx.anomaly(TcpAnomaly::StreamBufferLimit);
            }
            if over_global && !global_hit {
                global_hit = true;
                cx.shared.stats.global_buffer_limit_hits += 1;
                cx.anomaly(TcpAnomaly::GlobalBufferLimit);
            }
            // Give up the first hole: skip to the earliest byte we hold (buffered or this one).
            let earliest = self.chunks.front().map_or(start, |c| c.start.min(start));
            self.gap_to(earliest, cx);
            if start == self.next {
                self.deliver_in_order(data, cx);
                return;
            }
            self.drain(cx);
            let end = start + data.len() as u64;
            if end <= self.next {
                // Entirely inside chunks just delivered; the overlap was compared by `plan`.
                return;
            }
            if start < self.next {
                let skip = usize::try_from(self.next - start).unwrap_or(usize::MAX);
                data = data.get(skip..).unwrap_or_default();
                start = self.next;
            }
            if start == self.next {
                self.deliver_in_order(data, cx);
                return;
            }
        }
    }

    /// Index of the first chunk that ends after `start`.
    #[inline]
    fn first_ending_after(&self, start: u64) -> usize {
        self.chunks.partition_point(|c| c.end() <= start)
    }

    /// Compares `data` at `start` with the buffered chunks it overlaps; every chunk whose bytes
    /// differ records the first differing offset. True when any differed.
    fn mark_conflicts(&mut self, start: u64, data: &[u8]) -> bool {
        let end = start + data.len() as u64;
        let mut any = false;
        let mut i = self.first_ending_after(start);
        while let Some(c) = self.chunks.get_mut(i) {
            if c.start >= end {
                break;
            }
            let from = c.start.max(start);
            let to = c.end().min(end);
            let ours = slice(data, start, from, to).unwrap_or_default();
            let theirs = slice(&c.data, c.start, from, to).unwrap_or_default();
            if let Some(k) = ours.iter().zip(theirs).position(|(a, b)| a != b) {
                let at = from + k as u64;
                c.conflict_at = Some(c.conflict_at.map_or(at, |old| old.min(at)));
                any = true;
            }
            i += 1;
        }
        any
    }

    /// Computes what inserting `data` (seen at `ts_us`, `suspect` or not) at `start` would add.
    fn plan(&self, start: u64, data: &[u8], ts_us: u64, suspect: bool) -> Plan {
        let end = start + data.len() as u64;
        let mut i = self.first_ending_after(start);
        let mut plan = Plan {
            added: 0,
            new_chunks: 0,
        };
        let mut cursor = start;
        while cursor < end {
            match self.chunks.get(i) {
                Some(c) if c.start <= cursor => {
                    cursor = c.end().min(end);
                    i += 1;
                }
                next => {
                    let stop = next.map_or(end, |c| c.start.min(end));
                    // A piece extends the chunk ending where it starts when both were seen at
                    // the same time (see `insert`); otherwise it becomes a chunk of its own.
                    let extends = i
                        .checked_sub(1)
                        .and_then(|p| self.chunks.get(p))
                        .is_some_and(|c| {
                            c.end() == cursor && c.ts_us == ts_us && c.suspect == suspect
                        });
                    if !extends {
                        plan.new_chunks += 1;
                    }
                    plan.added += usize::try_from(stop - cursor).unwrap_or(usize::MAX);
                    cursor = stop;
                }
            }
        }
        plan
    }

    /// Copies the bytes of `data` (at `start`, seen at `ts_us`, `suspect` or not) that are not
    /// buffered yet into the buffer. A piece extends the chunk it touches only when both were
    /// seen at the same time and are alike, so every chunk keeps one arrival time and quality.
    fn insert(&mut self, start: u64, data: &[u8], seen: (u64, bool), shared: &mut Shared) {
        let (ts_us, suspect) = seen;
        debug_assert!(start > self.next);
        let end = start + data.len() as u64;
        let mut i = self.first_ending_after(start);
        let mut cursor = start;
        while cursor < end {
            let next = self.chunks.get(i).map(|c| (c.start, c.end()));
            match next {
                Some((chunk_start, chunk_end)) if chunk_start <= cursor => {
                    cursor = chunk_end.min(end);
                    i += 1;
                }
                _ => {
                    let stop = next.map_or(end, |(chunk_start, _)| chunk_start.min(end));
                    let piece = slice(data, start, cursor, stop).unwrap_or_default();
                    let previous = i.checked_sub(1).and_then(|p| self.chunks.get_mut(p));
                    match previous {
                        Some(prev)
                            if prev.end() == cursor
                                && prev.ts_us == ts_us
                                && prev.suspect == suspect =>
                        {
                            prev.data.extend_from_slice(piece)
                        }
                        _ => {
                            self.chunks.insert(
                                i,
                                Chunk {
                                    start: cursor,
                                    data: piece.to_vec(),
                                    ts_us,
                                    conflict_at: None,
                                    suspect,
                                },
                            );
                            i += 1;
                        }
                    }
                    self.buffered += piece.len();
                    shared.buffered_total += piece.len();
                    cursor = stop;
                }
            }
        }
    }

    /// Delivers a chunk that starts at `next` and releases its budget.
    fn deliver_chunk<S: StreamSink + ?Sized>(&mut self, chunk: Chunk, cx: &mut Ctx<'_, S>) {
        debug_assert!(chunk.start <= self.next && chunk.end() > self.next);
        self.buffered -= chunk.data.len();
        cx.shared.buffered_total -= chunk.data.len();
        let skip = usize::try_from(self.next - chunk.start).unwrap_or(usize::MAX);
        let bytes = chunk.data.get(skip..).unwrap_or_default();
        match chunk.conflict_at {
            Some(at) => {
                // Deliver up to the contradicted byte, flag it, then the rest.
                let k = usize::try_from(at.saturating_sub(self.next)).unwrap_or(usize::MAX);
                let (before, after) = bytes.split_at(k.min(bytes.len()));
                cx.data_seen_at(before, chunk.ts_us);
                cx.anomaly(TcpAnomaly::RetransmissionMismatch);
                cx.data_seen_at(after, chunk.ts_us);
            }
            None => cx.data_seen_at(bytes, chunk.ts_us),
        }
        self.retained.push(self.next, bytes, &mut cx.shared.retain);
        self.next = chunk.end();
    }

    /// Delivers every chunk that is contiguous with `next`.
    fn drain<S: StreamSink + ?Sized>(&mut self, cx: &mut Ctx<'_, S>) {
        while self.chunks.front().is_some_and(|c| c.start <= self.next) {
            let Some(chunk) = self.chunks.pop_front() else {
                break;
            };
            if chunk.end() <= self.next {
                // Cannot happen (chunks start after `next`); release the budget regardless.
                debug_assert!(false, "stale chunk");
                self.buffered -= chunk.data.len();
                cx.shared.buffered_total -= chunk.data.len();
                continue;
            }
            self.deliver_chunk(chunk, cx);
        }
    }

    /// Declares the bytes from `next` up to `target` lost.
    fn gap_to<S: StreamSink + ?Sized>(&mut self, target: u64, cx: &mut Ctx<'_, S>) {
        debug_assert!(target >= self.next);
        if target > self.next {
            cx.gap(target - self.next);
            self.next = target;
        }
    }

    /// The peer acknowledged up to `ack`: bytes of a hole below it were received by the peer
    /// but never captured, so they become a gap. Without a hole (nothing buffered, no FIN
    /// beyond `next`) nothing happens: the data may still be on its way in the capture.
    /// Delivered bytes below `ack` need no comparison any more and are forgotten.
    pub(crate) fn on_ack<S: StreamSink + ?Sized>(&mut self, ack: u32, cx: &mut Ctx<'_, S>) {
        if !self.started {
            return;
        }
        let rel = self.rel(ack);
        if rel.abs() > MAX_WINDOW_BYTES {
            return;
        }
        if self.retained.len() > 0 {
            let acked = match u64::try_from(rel) {
                Ok(ahead) => self.next.saturating_add(ahead),
                Err(_) => self.next.saturating_sub(rel.unsigned_abs()),
            };
            self.retained.ack(acked, &mut cx.shared.retain);
        }
        if rel <= 0 || !self.has_hole() {
            return;
        }
        let acked = self.next.saturating_add(rel as u64);
        while self.next < acked {
            let held = self.chunks.front().map(|c| c.start);
            let Some(earliest) = [held, self.fin.filter(|&fin| fin > self.next)]
                .into_iter()
                .flatten()
                .min()
            else {
                break;
            };
            self.gap_to(earliest.min(acked), cx);
            self.drain(cx);
        }
        self.check();
    }

    /// Delivers everything held, declaring every hole (and missing bytes before a FIN) a gap.
    /// Used when the hole timed out and when the connection ends.
    pub(crate) fn flush<S: StreamSink + ?Sized>(&mut self, cx: &mut Ctx<'_, S>) {
        while let Some(chunk) = self.chunks.pop_front() {
            self.gap_to(chunk.start, cx);
            self.deliver_chunk(chunk, cx);
        }
        if let Some(fin) = self.fin {
            self.gap_to(fin, cx);
        }
        self.hole_since_us = None;
        self.check();
    }

    /// Releases the buffer and the retained bytes (the connection is gone).
    pub(crate) fn release(&mut self, shared: &mut Shared) {
        shared.buffered_total -= self.buffered;
        self.retained.clear(&mut shared.retain);
        *self = Stream::default();
    }

    /// Updates the hole timer at reassembler time `clock_us`; returns the new hole start time
    /// when a timer must be armed (a hole appeared, or the stream progressed but is still
    /// missing bytes).
    pub(crate) fn sync_hole(&mut self, clock_us: u64) -> Option<u64> {
        if !self.has_hole() {
            self.hole_since_us = None;
            return None;
        }
        if self.hole_since_us.is_some() && self.hole_at == self.next {
            return None;
        }
        self.hole_since_us = Some(clock_us);
        self.hole_at = self.next;
        Some(clock_us)
    }

    /// Checks the invariant (debug builds only).
    #[inline]
    fn check(&self) {
        #[cfg(debug_assertions)]
        {
            let mut prev_end = self.next;
            let mut sum = 0;
            for (i, c) in self.chunks.iter().enumerate() {
                debug_assert!(!c.data.is_empty(), "empty chunk");
                if i == 0 {
                    debug_assert!(c.start > self.next, "chunk at or before next");
                } else {
                    debug_assert!(c.start >= prev_end, "overlapping chunks");
                }
                prev_end = c.end();
                sum += c.data.len();
            }
            debug_assert_eq!(sum, self.buffered, "buffered bytes out of sync");
            debug_assert!(
                self.retained.len() == 0 || self.retained.end() <= self.next,
                "retained bytes not delivered"
            );
            if let Some(fin) = self.fin {
                debug_assert!(fin >= prev_end, "data after FIN");
            }
        }
    }
}

/// The part `[from, to)` of `data`, which starts at stream offset `base`.
#[inline]
fn slice(data: &[u8], base: u64, from: u64, to: u64) -> Option<&[u8]> {
    let lo = usize::try_from(from.checked_sub(base)?).ok()?;
    let hi = usize::try_from(to.checked_sub(base)?).ok()?;
    data.get(lo..hi)
}
