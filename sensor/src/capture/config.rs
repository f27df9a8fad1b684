//! `[capture]`: which interfaces `apitap live` listens on, how libpcap is opened, and how the
//! work is spread over threads. `apitap replay` reads only `queue_batches` (capped, see `shard`).

use serde::{Deserialize, Serialize};

/// `[capture]` section.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Interfaces to capture on (the SPAN/TAP ports). `--interface` flags replace this list.
    pub interfaces: Vec<String>,
    /// BPF filter applied in the kernel (tcpdump syntax), e.g. `"tcp port 80 or tcp port 8080"`.
    /// `--bpf` replaces it. None: every packet.
    pub bpf: Option<String>,
    /// Put the interface in promiscuous mode, so frames addressed to other hosts (all of a
    /// SPAN port's traffic) are delivered.
    pub promiscuous: bool,
    /// Bytes kept of each packet. Anything shorter than the largest frame cuts payloads (they
    /// become gaps, counted as `truncated_payloads`).
    pub snaplen_bytes: u32,
    /// Kernel ring buffer per interface. Absorbs bursts while the workers catch up; when it is
    /// full the kernel drops (`apitap_capture_dropped_packets_total{place="kernel"}`).
    pub buffer_bytes: u64,
    /// Deliver each packet as soon as it arrives instead of when a ring block fills or
    /// `timeout_ms` expires. Costs CPU at high rates; useful at very low rates.
    pub immediate_mode: bool,
    /// Longest time libpcap holds packets before handing them over; on a quiet link, the
    /// longest time between two idle pauses of the capture thread (which hand waiting packets
    /// on); and at shutdown, how long packets the kernel already captured are still read.
    pub timeout_ms: u32,
    /// Reassembly/HTTP worker threads; 0 = number of cores minus one, at least 1.
    pub workers: usize,
    /// Packet batches that may wait in each worker's queue. When a queue is full the batch is
    /// dropped and counted (`place="worker_queue"`); the capture thread never blocks.
    pub queue_batches: usize,
    /// After opening the interfaces, switch to this unprivileged user (and its primary group)
    /// and give up every capability. None: keep running as started.
    pub user: Option<String>,
}

/// Whole Ethernet frames up to jumbo size (9000-byte MTU plus headers and tags), and the
/// GSO/GRO super-frames libpcap may see on virtual interfaces.
fn default_snaplen_bytes() -> u32 {
    262_144
}

/// 64 MiB: about half a second of a busy 1 Gbit/s link.
fn default_buffer_bytes() -> u64 {
    64 << 20
}

/// 100 ms: packets wait at most this long in the kernel, and shutdown is prompt.
fn default_timeout_ms() -> u32 {
    100
}

/// 64 batches of up to [`crate::shard::BATCH_PACKETS`] packets: 16k packets (tens of MiB) of
/// slack per worker; the kernel ring (`buffer_bytes`) is the large burst buffer.
fn default_queue_batches() -> usize {
    64
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces: Vec::new(),
            bpf: None,
            promiscuous: true,
            snaplen_bytes: default_snaplen_bytes(),
            buffer_bytes: default_buffer_bytes(),
            immediate_mode: false,
            timeout_ms: default_timeout_ms(),
            workers: 0,
            queue_batches: default_queue_batches(),
            user: None,
        }
    }
}

/// Smallest snap length that holds the link, IP and TCP headers of any packet decoded.
const MIN_SNAPLEN_BYTES: u32 = 128;

/// A `[capture]` value that cannot work; the message names the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaptureConfigError {
    /// The snap length cannot hold the headers.
    #[error(
        "capture.snaplen_bytes ({0}) is too small to hold the headers; use at least \
         {MIN_SNAPLEN_BYTES}, or the default 262144 for whole frames"
    )]
    SnaplenTooSmall(u32),
    /// libpcap takes these as C ints.
    #[error("capture.snaplen_bytes and capture.buffer_bytes must be below 2 GiB")]
    TooLarge,
    /// libpcap takes the timeout as a positive C int.
    #[error("capture.timeout_ms must be between 1 and 2147483647")]
    Timeout,
    /// A queue must hold a batch.
    #[error("capture.queue_batches must be at least 1")]
    NoQueue,
    /// An interface name is blank.
    #[error("capture.interfaces contains an empty name")]
    EmptyInterface,
    /// The user to switch to is blank.
    #[error("capture.user is empty; remove it to keep the starting user")]
    EmptyUser,
}

impl CaptureConfig {
    /// Reject values that cannot work.
    pub fn validate(&self) -> Result<(), CaptureConfigError> {
        if self.snaplen_bytes < MIN_SNAPLEN_BYTES {
            return Err(CaptureConfigError::SnaplenTooSmall(self.snaplen_bytes));
        }
        if i32::try_from(self.snaplen_bytes).is_err() || i32::try_from(self.buffer_bytes).is_err() {
            return Err(CaptureConfigError::TooLarge);
        }
        if self.timeout_ms == 0 || i32::try_from(self.timeout_ms).is_err() {
            return Err(CaptureConfigError::Timeout);
        }
        if self.queue_batches == 0 {
            return Err(CaptureConfigError::NoQueue);
        }
        if self.interfaces.iter().any(|i| i.trim().is_empty()) {
            return Err(CaptureConfigError::EmptyInterface);
        }
        if matches!(&self.user, Some(u) if u.trim().is_empty()) {
            return Err(CaptureConfigError::EmptyUser);
        }
        Ok(())
    }

    /// Worker threads in force: `workers`, or cores minus one (at least 1) when 0.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        cores.saturating_sub(1).max(1)
    }
}
