//! `apitap listen`: the UDP mirror listener. Cloud traffic mirrors (AWS VPC Traffic Mirroring
//! and Azure vTAP over VXLAN, AWS Gateway Load Balancer over GENEVE) send to an ordinary UDP
//! endpoint; this polls the sockets, hands each datagram to the pipeline with the wall clock as
//! its time, lets timeouts run while idle, and stops on a signal (a second one exits at once).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apitap_exporters::ExportError;
use apitap_sessionizer::session::EndReason;
use clap::Args;
use serde::Serialize;

use super::daemon::{self, wall_us, Ending, Health, Signals};
use super::sink::{open_exporter, SinkArgs};
use crate::capture::live::KernelStats;
use crate::decode::UdpTunnel;
use crate::error::{Outcome, RunError};
use crate::listen::{MirrorSocket, SocketStats, MAX_DATAGRAM_BYTES};
use crate::pipeline::{Pipeline, PipelineStats};
use crate::summary::Summary;
use crate::telemetry::metrics::{InterfaceCounters, Snapshot};

/// 32 MiB: about a quarter of a second of a busy 1 Gbit/s mirror session.
const DEFAULT_RCVBUF_BYTES: usize = 32 << 20;
/// Longest wait in `poll` before timers and signals are looked at.
const POLL_WAIT_MS: i32 = 100;
/// Datagrams read from one socket before the others get their turn.
const BATCH_DATAGRAMS: usize = 256;
/// At shutdown, the most datagrams still read from one socket: more than a 64 MiB receive
/// buffer holds of the smallest mirrored frames, so the bound only stops a flood.
const MAX_DRAIN_DATAGRAMS: usize = 1 << 20;
/// How often the counters behind `/metrics` are refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// Flags of `apitap listen`.
#[derive(Debug, Args)]
#[command(
    after_help = "Receives mirrored traffic as a UDP endpoint: no libpcap, no promiscuous mode. \
                        Every datagram on a --vxlan socket is decoded as VXLAN, on a --geneve socket as \
                        GENEVE, whatever `[decode]` ports say. SIGINT/SIGTERM flush and exit; a second \
                        one exits at once. See docs/deploy.md (Cloud and switch mirroring)."
)]
pub struct ListenArgs {
    /// Receive VXLAN (AWS VPC Traffic Mirroring, Azure vTAP) on this address, e.g.
    /// `0.0.0.0:4789`; repeatable.
    #[arg(long, value_name = "ADDR")]
    pub vxlan: Vec<SocketAddr>,
    /// Receive GENEVE (AWS Gateway Load Balancer) on this address, e.g. `0.0.0.0:6081`;
    /// repeatable.
    #[arg(long, value_name = "ADDR")]
    pub geneve: Vec<SocketAddr>,
    /// Socket receive buffer per socket, bytes (`SO_RCVBUFFORCE` as root, else capped by
    /// `net.core.rmem_max`). Drops at a full buffer are counted.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RCVBUF_BYTES)]
    pub rcvbuf_bytes: usize,
    /// Config and output, as for replay.
    #[command(flatten)]
    pub sink: SinkArgs,
    /// Serve /metrics and /healthz on this address; replaces `telemetry.listen`.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Write the final counters as JSON to this file at exit.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Stop by itself after this many milliseconds (tests, timed captures).
    #[arg(long, value_name = "MS")]
    pub duration_ms: Option<u64>,
    /// Do not print the summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Counters at exit (`--stats-json`): the pipeline's, and the sockets'.
#[derive(Serialize)]
struct ListenStats<'a> {
    #[serde(flatten)]
    pipeline: &'a PipelineStats,
    /// One entry per socket.
    sockets: &'a [SocketStats],
}

/// Bind every socket named by the flags.
fn bind_all(args: &ListenArgs) -> Result<Vec<MirrorSocket>, RunError> {
    let wanted = args
        .vxlan
        .iter()
        .map(|a| (UdpTunnel::Vxlan, "vxlan", *a))
        .chain(
            args.geneve
                .iter()
                .map(|a| (UdpTunnel::Geneve, "geneve", *a)),
        );
    let socks = wanted
        .map(|(kind, name, addr)| {
            MirrorSocket::bind(kind, name, addr, args.rcvbuf_bytes).map_err(|source| {
                RunError::Bind {
                    kind: name,
                    addr,
                    source,
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if socks.is_empty() {
        return Err(RunError::Usage(
            "nothing to listen on: give --vxlan ADDR and/or --geneve ADDR".into(),
        ));
    }
    Ok(socks)
}

/// The sockets' counters as the metrics' per-interface capture counters: datagrams received,
/// and the kernel's drops at a full socket queue.
fn interface_counters(socks: &[MirrorSocket]) -> Vec<InterfaceCounters> {
    socks
        .iter()
        .map(|s| InterfaceCounters {
            interface: s.stats.name.clone(),
            kernel: KernelStats {
                received: s.stats.datagrams,
                dropped: s.stats.socket_drops,
                if_dropped: 0,
            },
        })
        .collect()
}

/// What `/metrics` shows, refreshed by the loop.
type Published = Arc<Mutex<(PipelineStats, Vec<InterfaceCounters>)>>;

/// Why the receive loop stopped early.
enum Stopped {
    /// Events could not be written.
    Export(ExportError),
    /// A socket failed.
    Socket(String),
}

/// Run `apitap listen`.
pub fn run(args: &ListenArgs) -> Result<Outcome, RunError> {
    // The log carries the metrics address and the final line; --quiet keeps only warnings.
    crate::telemetry::log::init(args.quiet.then_some("warn"));
    let mut cfg = args.sink.load_config()?;
    let warning = crate::secret::settle(&mut cfg).map_err(RunError::Pipeline)?;
    super::sink::settle_sensor_id(&mut cfg);
    if let Some(w) = warning.filter(|_| !args.quiet) {
        tracing::warn!("{w}");
    }
    let mut socks = bind_all(args)?;
    let sink = open_exporter(&cfg, &args.sink)?;
    for note in sink.created_notes() {
        tracing::info!("{note}");
    }
    let mut pipeline = Pipeline::new(&cfg, sink.exporter).map_err(RunError::Pipeline)?;
    let signals = Signals::install()?;
    let published: Published = Arc::new(Mutex::new((pipeline.stats(), interface_counters(&socks))));
    let health = Health::new();
    let started = Instant::now();
    {
        let published = Arc::clone(&published);
        daemon::serve_metrics(
            args.metrics_listen.or(cfg.telemetry.listen),
            &health,
            move || {
                let (stats, interfaces) = published.lock().map(|g| g.clone()).unwrap_or_default();
                Snapshot {
                    stats,
                    interfaces,
                    queue_drops: 0,
                    workers: 1,
                    uptime_s: started.elapsed().as_secs_f64(),
                }
            },
        )?;
    }
    if !args.quiet {
        for s in &socks {
            eprintln!("apitap: listening for {}", s.stats.name);
            eprintln!("  {}", receive_buffer_note(&s.stats));
        }
    }
    let deadline = args
        .duration_ms
        .map(|ms| started + Duration::from_millis(ms));
    let stopped = receive(&mut socks, &mut pipeline, &signals, deadline, &published);
    health.stopping();
    let (out_err, capture_failures) = match stopped {
        Some(Stopped::Export(e)) => (Some(e), Vec::new()),
        Some(Stopped::Socket(e)) => (None, vec![format!("receive failed on {e}; stopped")]),
        None => (None, Vec::new()),
    };
    let finished = pipeline.finish(EndReason::Shutdown);
    let stats = pipeline.stats();
    let sockets: Vec<SocketStats> = socks.iter().map(|s| s.stats.clone()).collect();
    if !args.quiet {
        print_summary(&stats, &sockets, started);
    }
    let outcome = Ending {
        stats: &stats,
        started,
        drops: 0,
        capture_failures,
    }
    .finish(
        args.stats_json.as_deref(),
        &ListenStats {
            pipeline: &stats,
            sockets: &sockets,
        },
    );
    out_err.map_or(finished, Err)?;
    Ok(outcome)
}

/// What the kernel made of `--rcvbuf-bytes`. Linux doubles the value given to `SO_RCVBUF`
/// (the other half is its own bookkeeping) and reports the doubled value back; without
/// privileges the value is first capped by `net.core.rmem_max`.
fn receive_buffer_note(s: &SocketStats) -> String {
    let (asked, granted) = (s.rcvbuf_requested_bytes, s.rcvbuf_bytes);
    let why = if granted >= asked.saturating_mul(2) {
        "Linux doubles SO_RCVBUF for its own bookkeeping, so about half holds datagrams"
    } else {
        "capped by net.core.rmem_max (raise it, or run as root to use SO_RCVBUFFORCE); \
         Linux doubles what it allows, so about half holds datagrams"
    };
    format!("receive buffer: {asked} bytes asked, {granted} granted: {why}")
}

/// The summary on stderr: the pipeline's, and one line per socket.
fn print_summary(stats: &PipelineStats, sockets: &[SocketStats], started: Instant) {
    let summary = Summary {
        files: None,
        stats,
        elapsed: started.elapsed(),
        workers: None,
    };
    eprint!("{summary}");
    for s in sockets {
        eprintln!(
            "  socket {}: {} datagrams, {} bytes, {} dropped at a full receive queue, {} truncated",
            s.name, s.datagrams, s.bytes, s.socket_drops, s.truncated
        );
    }
}

/// The receive loop, until a signal, the deadline, or a failure (returned).
fn receive(
    socks: &mut [MirrorSocket],
    pipeline: &mut Pipeline,
    signals: &Signals,
    deadline: Option<Instant>,
    published: &Published,
) -> Option<Stopped> {
    let mut buf = vec![0u8; MAX_DATAGRAM_BYTES];
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut next_metrics = Instant::now() + METRICS_EVERY;
    while !signals.terminated() && deadline.is_none_or(|d| Instant::now() < d) {
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, POLL_WAIT_MS) };
        for s in socks.iter_mut() {
            if let Err(stop) = read_batch(s, &mut buf, pipeline, BATCH_DATAGRAMS) {
                return Some(stop);
            }
        }
        if let Err(e) = pipeline.advance(wall_us()) {
            return Some(Stopped::Export(e));
        }
        if Instant::now() >= next_metrics {
            if let Ok(mut g) = published.lock() {
                *g = (pipeline.stats(), interface_counters(socks));
            }
            next_metrics = Instant::now() + METRICS_EVERY;
        }
    }
    // What the kernel already queued when the signal came was captured before it: read it,
    // bounded by what one receive buffer can hold.
    for s in socks.iter_mut() {
        if let Err(stop) = read_batch(s, &mut buf, pipeline, MAX_DRAIN_DATAGRAMS) {
            return Some(stop);
        }
    }
    None
}

/// Hand up to `max` waiting datagrams of `s` to the pipeline; stops early when none waits.
fn read_batch(
    s: &mut MirrorSocket,
    buf: &mut [u8],
    pipeline: &mut Pipeline,
    max: usize,
) -> Result<(), Stopped> {
    for _ in 0..max {
        let (n, from) = match s.recv(buf) {
            Ok(Some(d)) => d,
            Ok(None) => break,
            Err(e) => return Err(Stopped::Socket(format!("{}: {e}", s.stats.name))),
        };
        let data = buf.get(..n).unwrap_or_default();
        pipeline
            .on_tunnel_payload(wall_us(), s.kind, data, from, s.local)
            .map_err(Stopped::Export)?;
    }
    Ok(())
}
