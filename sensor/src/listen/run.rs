//! The listener's loop: poll the sockets, hand each datagram to the pipeline with the wall
//! clock as its time, let timeouts run while idle, stop on a signal.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apitap_sessionizer::session::EndReason;
use serde::Serialize;

use super::args::ListenArgs;
use super::socket::{MirrorSocket, SocketStats, MAX_DATAGRAM_BYTES};
use crate::capture::live::KernelStats;
use crate::cli::load_config;
use crate::decode::UdpTunnel;
use crate::exit;
use crate::pipeline::{Pipeline, PipelineStats};
use crate::summary::Summary;
use crate::telemetry::metrics::{self, InterfaceCounters};
use crate::telemetry::server::{self, Endpoints};

/// Longest wait in `poll` before timers and signals are looked at.
const POLL_WAIT_MS: i32 = 100;
/// Datagrams read from one socket before the others get their turn.
const BATCH_DATAGRAMS: usize = 256;
/// How often the counters behind `/metrics` are refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// Counters at exit (`--stats-json`): the pipeline's, and the sockets'.
#[derive(Serialize)]
struct ListenStats<'a> {
    #[serde(flatten)]
    pipeline: &'a PipelineStats,
    /// One entry per socket.
    sockets: &'a [SocketStats],
}

/// Microseconds since the UNIX epoch.
fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Bind every socket named by the flags.
fn bind_all(args: &ListenArgs) -> Result<Vec<MirrorSocket>, i32> {
    let wanted = args
        .vxlan
        .iter()
        .map(|a| (UdpTunnel::Vxlan, "vxlan", *a))
        .chain(
            args.geneve
                .iter()
                .map(|a| (UdpTunnel::Geneve, "geneve", *a)),
        );
    let mut out = Vec::new();
    for (kind, name, addr) in wanted {
        match MirrorSocket::bind(kind, name, addr, args.rcvbuf_bytes) {
            Ok(s) => out.push(s),
            Err(e) => {
                eprintln!("apitap: cannot listen for {name} on {addr}: {e}");
                return Err(exit::USAGE);
            }
        }
    }
    if out.is_empty() {
        eprintln!("apitap: nothing to listen on: give --vxlan ADDR and/or --geneve ADDR");
        return Err(exit::USAGE);
    }
    Ok(out)
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
type Shared = Arc<Mutex<(PipelineStats, Vec<InterfaceCounters>)>>;

/// Serve `/metrics` from `shared` when an address is configured.
fn serve_metrics(
    addr: Option<SocketAddr>,
    shared: &Shared,
    healthy: &Arc<AtomicBool>,
) -> Result<(), i32> {
    let Some(addr) = addr else {
        return Ok(());
    };
    let started = Instant::now();
    let shared = Arc::clone(shared);
    let endpoints = Endpoints {
        metrics: Box::new(move || {
            let (stats, ifs) = shared.lock().map(|g| g.clone()).unwrap_or_default();
            metrics::render(&metrics::Snapshot {
                stats: &stats,
                interfaces: &ifs,
                queue_drops: 0,
                workers: 1,
                uptime_s: started.elapsed().as_secs_f64(),
            })
        }),
        healthy: Arc::clone(healthy),
    };
    server::spawn(addr, endpoints).map(|_| ()).map_err(|e| {
        eprintln!("apitap: cannot listen on {addr} for metrics: {e}");
        exit::USAGE
    })
}

/// Run `apitap listen`; returns the exit code.
pub fn run(args: &ListenArgs) -> i32 {
    let cfg = match load_config(args.sink.config.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut socks = match bind_all(args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (exporter, to_kafka) = match crate::replay::open_exporter(
        &cfg,
        args.sink.output.as_ref(),
        args.sink.kafka_brokers.as_deref(),
    ) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let mut pipeline = match Pipeline::new(&cfg, exporter) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("apitap: {e}");
            return exit::USAGE;
        }
    };
    let term = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&term)) {
            eprintln!("apitap: cannot install signal handlers: {e}");
            return exit::USAGE;
        }
    }
    let shared: Shared = Arc::new(Mutex::new((pipeline.stats(), interface_counters(&socks))));
    let healthy = Arc::new(AtomicBool::new(true));
    if let Err(code) = serve_metrics(
        args.metrics_listen.or(cfg.telemetry.listen),
        &shared,
        &healthy,
    ) {
        return code;
    }
    if !args.quiet {
        for s in &socks {
            eprintln!(
                "apitap: listening for {} (receive buffer {} bytes)",
                s.stats.name, s.stats.rcvbuf_bytes
            );
        }
    }

    let started = Instant::now();
    let deadline = args
        .duration_ms
        .map(|ms| started + Duration::from_millis(ms));
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
    let mut out_err = None;
    let mut sock_err = None;
    'run: while !term.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, POLL_WAIT_MS) };
        for s in socks.iter_mut() {
            for _ in 0..BATCH_DATAGRAMS {
                let (n, from) = match s.recv(&mut buf) {
                    Ok(Some(d)) => d,
                    Ok(None) => break,
                    Err(e) => {
                        sock_err = Some(format!("{}: {e}", s.stats.name));
                        break 'run;
                    }
                };
                let data = buf.get(..n).unwrap_or_default();
                if let Err(e) = pipeline.on_tunnel_payload(wall_us(), s.kind, data, from, s.local) {
                    out_err = Some(e);
                    break 'run;
                }
            }
        }
        if let Err(e) = pipeline.advance(wall_us()) {
            out_err = Some(e);
            break;
        }
        if Instant::now() >= next_metrics {
            if let Ok(mut g) = shared.lock() {
                *g = (pipeline.stats(), interface_counters(&socks));
            }
            next_metrics = Instant::now() + METRICS_EVERY;
        }
    }
    healthy.store(false, Ordering::Relaxed);
    if out_err.is_none() {
        out_err = pipeline.finish(EndReason::Shutdown).err();
    }
    let stats = pipeline.stats();
    let sockets: Vec<SocketStats> = socks.iter().map(|s| s.stats.clone()).collect();
    if let Some(path) = &args.stats_json {
        let all = ListenStats {
            pipeline: &stats,
            sockets: &sockets,
        };
        crate::summary::write_stats_json(path, &all);
    }
    if !args.quiet {
        let summary = Summary {
            files: &[],
            stats: &stats,
            elapsed: started.elapsed(),
            workers: None,
        };
        eprint!("{summary}");
        for s in &sockets {
            eprintln!(
                "  socket {}: {} datagrams, {} bytes, {} dropped at a full receive queue, {} truncated",
                s.name, s.datagrams, s.bytes, s.socket_drops, s.truncated
            );
        }
    }
    if to_kafka && stats.export.lost_any() {
        eprintln!("apitap: some records were not delivered to Kafka (see the counters)");
    }
    if let Some(e) = sock_err {
        eprintln!("apitap: receive failed on {e}; stopped");
    }
    if let Some(e) = out_err {
        eprintln!("apitap: {e}; processing stopped");
        return exit::OUTPUT_FAILED;
    }
    if stats.export.lost_any() {
        return exit::EXPORT_LOSS;
    }
    exit::OK
}
