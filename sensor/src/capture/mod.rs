//! Capture: where packets come from. Offline files (pcap through libpcap, pcapng read here);
//! live interfaces share the same
//! [`PacketRef`] hand-off so the pipeline never knows the difference.

pub mod config;
pub mod live;
mod offline;
pub mod pcapng;

pub use config::CaptureConfig;
pub use live::{LiveCapture, LiveError, Shutdown};
pub use offline::{CaptureError, FileReport, Input, OfflineSource};
pub use pcapng::{DecryptionSecrets, MAX_PACKET_TIME_US, SECRETS_TLS_KEY_LOG};

use crate::decode::LinkType;

/// One captured packet, borrowed from the capture's buffer for the duration of a callback.
#[derive(Clone, Copy, Debug)]
pub struct PacketRef<'a> {
    /// Packet time, microseconds since the UNIX epoch.
    pub ts_us: u64,
    /// Link type of the capture the packet came from.
    pub link: LinkType,
    /// Captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub wire_len: u32,
}
