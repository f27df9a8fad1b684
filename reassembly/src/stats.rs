//! Counters of the reassembler; the sensor turns them into metrics and the run summary.

use serde::Serialize;

/// Monotonic counters; each bound of [`crate::ReassemblyConfig`] has one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReassemblyStats {
    /// Segments given to `process`.
    pub segments: u64,
    /// Payload bytes given to `process`.
    pub payload_bytes: u64,
    /// Connections opened.
    pub flows_opened: u64,
    /// Connections closed, for any reason.
    pub flows_closed: u64,
    /// Connections evicted because `max_flows` was reached.
    pub flows_evicted: u64,
    /// Connections closed by the idle timeout.
    pub flows_idle_closed: u64,
    /// Connections picked up without a handshake.
    pub mid_stream_pickups: u64,
    /// Segments for unknown flows that could not start one (pure ACK, FIN or RST).
    pub orphan_segments: u64,
    /// Segments without payload that trailed a FIN or RST close (the teardown's last ACK, a
    /// retransmitted FIN): expected, not a sign of missed flows.
    pub late_segments: u64,
    /// Bytes delivered as Data.
    pub bytes_delivered: u64,
    /// Gaps declared.
    pub gaps: u64,
    /// Bytes lost in gaps.
    pub gap_bytes: u64,
    /// Segments that were entirely old data (retransmissions).
    pub retransmitted_segments: u64,
    /// Retransmissions or overlaps whose bytes differed from the accepted ones.
    pub retransmission_mismatches: u64,
    /// Segments that arrived out of order and were buffered.
    pub ooo_segments: u64,
    /// Times `max_ooo_bytes_per_stream` forced a gap.
    pub stream_buffer_limit_hits: u64,
    /// Times `max_ooo_bytes_total` forced a gap.
    pub global_buffer_limit_hits: u64,
    /// Segments (data beyond the largest possible TCP window ahead, or RSTs that far either way)
    /// whose sequence number cannot belong to their stream; ignored.
    pub out_of_window_segments: u64,
    /// Connections closed because a new SYN reused their 4-tuple.
    pub flows_reused: u64,
}

/// What the checks against insertion evasion counted: TTL changes, bad checksums and the
/// bounds of the bytes kept for comparing retransmissions. Apart from [`ReassemblyStats`] so
/// that code summing every field of it (the sharded pipeline) keeps compiling; sum these too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InsertionStats {
    /// Segments whose TTL or hop limit differed from the previous one of their direction.
    pub ttl_changes: u64,
    /// Segments with a wrong TCP or IPv4 header checksum.
    pub bad_checksum_segments: u64,
    /// Times `max_retained_bytes_per_stream` dropped kept bytes before their acknowledgment.
    pub retained_limit_hits: u64,
    /// Times `max_retained_bytes_total` made a stream drop what it kept.
    pub global_retained_limit_hits: u64,
}
