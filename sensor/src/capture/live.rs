//! Live capture from a network interface through libpcap.
//!
//! Passive by construction: [`LiveCapture`] keeps the libpcap handle private and exposes only
//! reading and statistics. Nothing in apitap calls `pcap_sendpacket`/`pcap_inject`, and the
//! handle is opened for receiving only; the sole packets that can leave the monitored interface
//! are the kernel's own (IPv6 router solicitations, ARP), which `docs/deploy.md` shows how to
//! silence.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
///
/// The handle is non-blocking: [`LiveCapture::run`] waits in its own `poll` on libpcap's
/// selectable descriptor and on the [`Shutdown`] eventfd, never inside libpcap (whose own
/// wait, with a TPACKET_V3 ring, ignores the timeout on a quiet link and would hold the
/// thread past SIGTERM).
pub struct LiveCapture {
    interface: String,
    cap: Capture<Active>,
    link: LinkType,
    /// `capture.timeout_ms`: the longest wait before an idle pause, and how long packets
    /// already captured are still read after a shutdown.
    timeout: Duration,
}

/// The stop signal of the capture threads: a flag, and an eventfd that wakes every thread
/// waiting in [`LiveCapture::run`] at once.
#[derive(Debug)]
pub struct Shutdown {
    stopped: AtomicBool,
    event: OwnedFd,
}

impl Shutdown {
    /// A signal not yet given.
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: eventfd takes no pointers; the returned descriptor is checked, then owned.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Shutdown {
            stopped: AtomicBool::new(false),
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            event: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Stop every capture: set the flag, then wake the waiting threads.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. The eventfd stays readable
        // (nobody reads it), so every waiter, now or later, wakes. A failed write (counter
        // overflow, impossible here) still leaves the flag set, seen within one timeout.
        let _ = unsafe {
            libc::write(
                self.event.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// True once [`Shutdown::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

/// What one wait for packets ended with.
#[derive(Debug, PartialEq, Eq)]
enum Woken {
    /// The capture descriptor is readable (or in error: the next read says which).
    Packets,
    /// The timeout passed.
    Timeout,
    /// The shutdown eventfd fired.
    Shutdown,
}

/// Wait for `capture_fd` to become readable or `shutdown` (when given) to fire, at most
/// `timeout`.
fn wait(capture_fd: i32, shutdown: Option<&Shutdown>, timeout: Duration) -> Woken {
    let pollfd = |fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // A negative descriptor is ignored by poll: without a shutdown, only the capture counts.
    let mut fds = [
        pollfd(capture_fd),
        pollfd(shutdown.map_or(-1, |s| s.event.as_raw_fd())),
    ];
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: `fds` is a valid array of two pollfd structs for the duration of the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n <= 0 {
        // 0: timeout; < 0: EINTR (a signal), treated as a timeout: the caller looks again.
        return Woken::Timeout;
    }
    if fds[1].revents != 0 {
        Woken::Shutdown
    } else {
        Woken::Packets
    }
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
            .and_then(Capture::setnonblock)
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
            timeout: Duration::from_millis(u64::from(cfg.timeout_ms)),
        })
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Read packets until `shutdown` is given: [`CaptureEvent::Packet`] for each one;
    /// [`CaptureEvent::Pause`] whenever `timeout_ms` passes without a packet (`idle`, so at
    /// most `timeout_ms` apart while the link is quiet) and every [`PAUSE_EVERY_PACKETS`]
    /// packets while it is busy, with libpcap's counters.
    ///
    /// After the shutdown, what the kernel already captured is still read for one more
    /// `timeout_ms` (the ring hands over a block when it fills or when that timeout retires
    /// it), then the call returns: it never waits longer than that, however quiet the link.
    pub fn run(
        &mut self,
        shutdown: &Shutdown,
        mut on_event: impl FnMut(CaptureEvent<'_>),
    ) -> Result<(), LiveError> {
        let fd = self.cap.as_raw_fd();
        let mut since_pause = 0u32;
        let mut drain_until: Option<Instant> = None;
        loop {
            if drain_until.is_none() && shutdown.is_stopped() {
                drain_until = Some(Instant::now() + self.timeout);
            }
            if drain_until.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
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
                // Non-blocking: nothing ready now. Wait here, where a shutdown reaches us.
                Err(pcap::Error::TimeoutExpired) => {
                    // Draining, the eventfd stays readable: wait on the ring alone.
                    let (left, watch) = match drain_until {
                        None => (self.timeout, Some(shutdown)),
                        Some(d) => (d.saturating_duration_since(Instant::now()), None),
                    };
                    match wait(fd, watch, left) {
                        Woken::Packets | Woken::Shutdown => continue,
                        Woken::Timeout if drain_until.is_some() => continue,
                        Woken::Timeout => true,
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe: (read end, write end).
    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh descriptors, owned from here on.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    #[test]
    fn a_shutdown_ends_a_long_wait_at_once() {
        let (quiet, _keep) = pipe();
        let shutdown = std::sync::Arc::new(Shutdown::new().unwrap());
        let stopper = std::sync::Arc::clone(&shutdown);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            stopper.stop();
        });
        let start = Instant::now();
        let woken = wait(quiet.as_raw_fd(), Some(&shutdown), Duration::from_secs(30));
        t.join().unwrap();
        assert_eq!(woken, Woken::Shutdown);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(shutdown.is_stopped());
        // Every later wait sees it too, until the capture stops watching it.
        assert_eq!(
            wait(quiet.as_raw_fd(), Some(&shutdown), Duration::from_secs(30)),
            Woken::Shutdown
        );
        assert_eq!(
            wait(quiet.as_raw_fd(), None, Duration::from_millis(10)),
            Woken::Timeout
        );
    }

    #[test]
    fn readable_capture_wakes_the_wait() {
        let (r, w) = pipe();
        // SAFETY: one byte from a live buffer to our pipe.
        assert_eq!(
            unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) },
            1
        );
        let shutdown = Shutdown::new().unwrap();
        assert_eq!(
            wait(r.as_raw_fd(), Some(&shutdown), Duration::from_secs(30)),
            Woken::Packets
        );
    }
}
