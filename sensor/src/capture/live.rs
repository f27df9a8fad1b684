//! Live capture from a network interface through libpcap.
//!
//! Passive by construction: [`LiveCapture`] keeps the libpcap handle private and exposes only
//! reading and statistics. Nothing in apitap calls `pcap_sendpacket`/`pcap_inject`, and the
//! handle is opened for receiving only; the sole packets that can leave the monitored interface
//! are the kernel's own (IPv6 router solicitations, ARP), which `docs/deploy.md` shows how to
//! silence.

use std::sync::atomic::{AtomicBool, Ordering};

use pcap::{Active, Capture};

use super::config::CaptureConfig;
use super::PacketRef;
use crate::decode::{LinkType, UnsupportedLinkType};

/// Why an interface could not be captured on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// libpcap could not open or configure the interface.
    #[error(
        "cannot capture on {interface}: {reason}; check the interface name (`ip link`) and that \
         apitap runs as root or with CAP_NET_RAW and CAP_NET_ADMIN"
    )]
    Open {
        /// The interface.
        interface: String,
        /// libpcap's message.
        reason: String,
    },
    /// The BPF filter does not compile.
    #[error("invalid BPF filter {filter:?} on {interface}: {reason}")]
    Filter {
        /// The interface.
        interface: String,
        /// The filter as given.
        filter: String,
        /// libpcap's message.
        reason: String,
    },
    /// The interface's link type is not one apitap decodes.
    #[error("{interface}: {source}")]
    LinkType {
        /// The interface.
        interface: String,
        /// Which link type.
        source: UnsupportedLinkType,
    },
    /// Reading failed after the capture started (interface removed, ...).
    #[error("capture on {interface} failed: {reason}")]
    Read {
        /// The interface.
        interface: String,
        /// libpcap's message.
        reason: String,
    },
}

/// What [`LiveCapture::run`] reports.
#[derive(Debug)]
pub enum CaptureEvent<'a> {
    /// A packet, borrowed from libpcap's buffer.
    Packet(PacketRef<'a>),
    /// A pause between packets: `idle` when the timeout passed without any.
    Pause {
        /// No packet arrived within `timeout_ms`.
        idle: bool,
        /// libpcap's counters now.
        kernel: Option<KernelStats>,
    },
}

/// While packets keep coming, the caller gets a pause (to read counters) this often.
pub const PAUSE_EVERY_PACKETS: u32 = 16_384;

/// libpcap's own counters for one interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets the kernel passed the filter (`ps_recv`).
    pub received: u64,
    /// Packets dropped because the kernel ring was full (`ps_drop`).
    pub dropped: u64,
    /// Packets the interface or driver dropped (`ps_ifdrop`).
    pub if_dropped: u64,
}

/// One open interface. Receive-only: see the module documentation.
pub struct LiveCapture {
    interface: String,
    cap: Capture<Active>,
    link: LinkType,
}

/// Packet time in microseconds; times before the epoch clamp to 0.
#[inline]
fn ts_us(h: &pcap::PacketHeader) -> u64 {
    let sec = u64::try_from(h.ts.tv_sec).unwrap_or(0);
    let usec = u64::try_from(h.ts.tv_usec).unwrap_or(0);
    sec.saturating_mul(1_000_000).saturating_add(usec)
}

impl LiveCapture {
    /// Open `interface` with the settings of `cfg` and the BPF `filter`.
    pub fn open(
        interface: &str,
        cfg: &CaptureConfig,
        filter: Option<&str>,
    ) -> Result<LiveCapture, LiveError> {
        let open_err = |e: pcap::Error| LiveError::Open {
            interface: interface.to_owned(),
            reason: e.to_string(),
        };
        let snaplen = i32::try_from(cfg.snaplen_bytes).unwrap_or(i32::MAX);
        let buffer = i32::try_from(cfg.buffer_bytes).unwrap_or(i32::MAX);
        let timeout = i32::try_from(cfg.timeout_ms).unwrap_or(i32::MAX);
        let mut cap = Capture::from_device(interface)
            .map_err(open_err)?
            .promisc(cfg.promiscuous)
            .snaplen(snaplen)
            .buffer_size(buffer)
            .immediate_mode(cfg.immediate_mode)
            .timeout(timeout)
            .open()
            .map_err(open_err)?;
        if let Some(f) = filter {
            cap.filter(f, true).map_err(|e| LiveError::Filter {
                interface: interface.to_owned(),
                filter: f.to_owned(),
                reason: e.to_string(),
            })?;
        }
        let dlt = cap.get_datalink();
        let link = LinkType::from_dlt(dlt.0).ok_or_else(|| LiveError::LinkType {
            interface: interface.to_owned(),
            source: UnsupportedLinkType {
                dlt: dlt.0,
                name: dlt.get_name().ok(),
            },
        })?;
        Ok(LiveCapture {
            interface: interface.to_owned(),
            cap,
            link,
        })
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Read packets until `stop` is set: [`CaptureEvent::Packet`] for each one;
    /// [`CaptureEvent::Pause`] whenever libpcap's timeout passes without a packet (`idle`, at
    /// most `timeout_ms` apart while the link is quiet) and every [`PAUSE_EVERY_PACKETS`]
    /// packets while it is busy, with libpcap's counters.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        mut on_event: impl FnMut(CaptureEvent<'_>),
    ) -> Result<(), LiveError> {
        let mut since_pause = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let idle = match self.cap.next_packet() {
                Ok(p) => {
                    on_event(CaptureEvent::Packet(PacketRef {
                        ts_us: ts_us(p.header),
                        link: self.link,
                        data: p.data,
                        wire_len: p.header.len,
                    }));
                    since_pause += 1;
                    if since_pause < PAUSE_EVERY_PACKETS {
                        continue;
                    }
                    false
                }
                Err(pcap::Error::TimeoutExpired) => true,
                Err(e) => {
                    return Err(LiveError::Read {
                        interface: self.interface.clone(),
                        reason: e.to_string(),
                    })
                }
            };
            since_pause = 0;
            let kernel = self.kernel_stats();
            on_event(CaptureEvent::Pause { idle, kernel });
        }
        Ok(())
    }

    /// libpcap's counters since the capture was opened.
    pub fn kernel_stats(&mut self) -> Option<KernelStats> {
        self.cap.stats().ok().map(|s| KernelStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }
}

/// One counter of `/sys/class/net/IF/statistics/` (Linux), e.g. `rx_dropped` or `tx_packets`.
pub fn interface_counter(interface: &str, name: &str) -> Option<u64> {
    if interface.contains('/') || interface.starts_with('.') {
        return None;
    }
    std::fs::read_to_string(format!("/sys/class/net/{interface}/statistics/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}
