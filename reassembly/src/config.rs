//! What the user sets for TCP reassembly (`[reassembly]` in the config file).

use serde::{Deserialize, Serialize};

/// Bounds and timeouts of the TCP reassembler. Every bound has a counter in
/// [`crate::ReassemblyStats`] that says when it was hit.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ReassemblyConfig {
    /// Maximum number of tracked connections; the least recently used one is evicted beyond it
    /// (0 is treated as 1).
    pub max_flows: usize,
    /// Maximum out-of-order bytes buffered for one direction of one connection.
    pub max_ooo_bytes_per_stream: usize,
    /// Maximum out-of-order bytes buffered over all connections.
    pub max_ooo_bytes_total: usize,
    /// A connection with no packet for this long (packet time) is closed.
    pub idle_timeout_ms: u64,
    /// A hole in a stream that is not filled for this long (packet time) becomes a gap.
    pub gap_timeout_ms: u64,
    /// Delivered bytes kept per direction until the peer acknowledges them, so that a later
    /// copy with different bytes is caught (`retransmission_mismatch`). Beyond it the oldest
    /// kept bytes are dropped (`retained_limit_hits`); 0 keeps none.
    pub max_retained_bytes_per_stream: usize,
    /// Delivered, unacknowledged bytes kept over all streams; a stream that would pass it
    /// drops what it keeps (`global_retained_limit_hits`).
    pub max_retained_bytes_total: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_flows: default_max_flows(),
            max_ooo_bytes_per_stream: default_max_ooo_bytes_per_stream(),
            max_ooo_bytes_total: default_max_ooo_bytes_total(),
            idle_timeout_ms: default_idle_timeout_ms(),
            gap_timeout_ms: default_gap_timeout_ms(),
            max_retained_bytes_per_stream: default_max_retained_bytes_per_stream(),
            max_retained_bytes_total: default_max_retained_bytes_total(),
        }
    }
}

/// 1M connections: a busy API gateway mirror, about 1 GiB of state at the worst.
pub fn default_max_flows() -> usize {
    1_000_000
}

/// 256 KiB: several windows of a fast sender before a hole is given up.
pub fn default_max_ooo_bytes_per_stream() -> usize {
    256 * 1024
}

/// 256 MiB over all streams keeps a sensor's memory bounded under heavy loss.
pub fn default_max_ooo_bytes_total() -> usize {
    256 * 1024 * 1024
}

/// 5 minutes, like the idle timeouts of common load balancers for keep-alive connections.
pub fn default_idle_timeout_ms() -> u64 {
    300_000
}

/// 10 s: far beyond any retransmission timeout of a live peer (RFC 6298 starts at 1 s).
pub fn default_gap_timeout_ms() -> u64 {
    10_000
}

/// 64 KiB: the largest window without window scaling (RFC 9293 section 3.1), more than a
/// request or response head in flight; a sender rarely has more unacknowledged.
pub fn default_max_retained_bytes_per_stream() -> usize {
    64 * 1024
}

/// 64 MiB over all streams: a thousand streams with a full window unacknowledged at once.
pub fn default_max_retained_bytes_total() -> usize {
    64 * 1024 * 1024
}
