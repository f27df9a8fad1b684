//! `apitap live`: the daemon. Capture threads (one per interface) read packets from libpcap and
//! shard them by flow to the workers; this thread runs the session and export stage, the
//! signals, the status line and the shutdown. Same stages, same record code as replay.
//!
//! Lifecycle: SIGINT or SIGTERM stops the capture, lets every worker flush its streams, ends
//! every open session with reason `shutdown`, flushes the exporter (Kafka within
//! `export.kafka.flush_timeout_ms`) and exits; a second SIGINT/SIGTERM exits at once. SIGHUP
//! re-reads and validates the config file but does not apply it (see `docs/deploy.md`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apitap_sessionizer::session::EndReason;
use clap::Args;

use crate::capture::live::{interface_counter, CaptureEvent, KernelStats, LiveCapture, LiveError};
use crate::cli::{load_config, SinkArgs};
use crate::config::Config;
use crate::exit;
use crate::pipeline::PipelineStats;
use crate::shard::{Dispatcher, Router, Sharded};
use crate::telemetry::metrics::{self, InterfaceCounters};
use crate::telemetry::server::{self, Endpoints};

/// How long the main loop waits (for an export failure) before looking at signals and timers.
const PUMP_WAIT: Duration = Duration::from_millis(50);
/// How often the workers get the wall clock, so flows and sessions expire on a quiet link.
const TICK_EVERY: Duration = Duration::from_millis(100);
/// Exit status when a second SIGINT/SIGTERM forces the exit (128 + SIGINT, as shells do).
const FORCED_EXIT_STATUS: i32 = 130;

/// Flags of `apitap live`.
#[derive(Debug, Args)]
#[command(
    after_help = "Needs CAP_NET_RAW and CAP_NET_ADMIN (or root) to open the interfaces; \
                        `capture.user` drops to an unprivileged user afterwards. The sensor never \
                        transmits on the monitored interfaces. See docs/deploy.md."
)]
pub struct LiveArgs {
    /// Interface to capture on (a SPAN or TAP port); repeat for several. Replaces
    /// `capture.interfaces`.
    #[arg(short, long = "interface", value_name = "IF")]
    pub interfaces: Vec<String>,
    /// BPF filter (tcpdump syntax) applied in the kernel; replaces `capture.bpf`.
    #[arg(long, value_name = "FILTER")]
    pub bpf: Option<String>,
    /// Config and output, as for replay.
    #[command(flatten)]
    pub sink: SinkArgs,
    /// Reassembly/HTTP worker threads; replaces `capture.workers` (default: cores - 1, at least 1).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Serve /metrics and /healthz on this address (e.g. 127.0.0.1:9464); replaces
    /// `telemetry.listen`.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log level or filter (`info`, `debug`, `apitap=debug`); default from RUST_LOG, else info.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Write the final counters as JSON to this file at exit.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
}

/// Microseconds since the UNIX epoch: the clock libpcap stamps live packets with.
fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The config file with the command-line flags applied.
fn effective_config(args: &LiveArgs) -> Result<Config, i32> {
    let mut cfg = load_config(args.sink.config.as_ref())?;
    if !args.interfaces.is_empty() {
        cfg.capture.interfaces.clone_from(&args.interfaces);
    }
    if args.bpf.is_some() {
        cfg.capture.bpf.clone_from(&args.bpf);
    }
    if let Some(n) = args.workers {
        cfg.capture.workers = n;
    }
    if args.metrics_listen.is_some() {
        cfg.telemetry.listen = args.metrics_listen;
    }
    if cfg.capture.interfaces.is_empty() {
        eprintln!("apitap: no interface to capture on: give --interface IF or capture.interfaces");
        return Err(exit::USAGE);
    }
    Ok(cfg)
}

/// Signal flags: the first SIGINT/SIGTERM sets `term`; a second one exits at once.
struct Signals {
    term: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

fn install_signals() -> std::io::Result<Signals> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::flag;
    let term = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Order matters: the conditional exit is checked before the flag is set, so it fires
        // only on the second signal.
        flag::register_conditional_shutdown(sig, FORCED_EXIT_STATUS, Arc::clone(&term))?;
        flag::register(sig, Arc::clone(&term))?;
    }
    flag::register(SIGHUP, Arc::clone(&hup))?;
    Ok(Signals { term, hup })
}

/// One capture thread: read, shard, hand on; publish libpcap's counters on every pause.
fn spawn_capture(
    mut cap: LiveCapture,
    router: Router,
    mut dispatch: Dispatcher,
    stop: Arc<AtomicBool>,
    counters: Arc<Mutex<Vec<InterfaceCounters>>>,
    index: usize,
) -> std::io::Result<JoinHandle<Result<(), LiveError>>> {
    std::thread::Builder::new()
        .name(format!("apitap-capture-{}", cap.interface()))
        .spawn(move || {
            let publish = |k: KernelStats| {
                if let Ok(mut c) = counters.lock() {
                    if let Some(slot) = c.get_mut(index) {
                        slot.kernel = k;
                    }
                }
            };
            let result = cap.run(&stop, |ev| match ev {
                CaptureEvent::Packet(pkt) => dispatch.push(pkt, |w, b| router.send(w, b)),
                CaptureEvent::Pause { idle, kernel } => {
                    if idle {
                        // Nothing more is coming soon: hand on what waits.
                        dispatch.flush(|w, b| router.send(w, b));
                    }
                    if let Some(k) = kernel {
                        publish(k);
                    }
                }
            });
            dispatch.flush(|w, b| router.send_final(w, b));
            if let Some(k) = cap.kernel_stats() {
                publish(k);
            }
            result
        })
}

/// One status line: rates since the previous one.
struct Status {
    at: Instant,
    packets: u64,
    transactions: u64,
}

impl Status {
    fn log(&mut self, s: &PipelineStats, drops: u64) {
        let dt = self.at.elapsed().as_secs_f64().max(1e-3);
        let pps = (s.decode.packets.saturating_sub(self.packets)) as f64 / dt;
        let tps = (s.transactions.saturating_sub(self.transactions)) as f64 / dt;
        tracing::info!(
            target: "apitap::status",
            pps = format_args!("{pps:.0}"),
            tps = format_args!("{tps:.0}"),
            packets = s.decode.packets,
            drops,
            flows = s.active_flows,
            sessions = s.active_sessions,
            transactions = s.transactions,
            export_failed = s.export.failed,
            "status"
        );
        self.at = Instant::now();
        self.packets = s.decode.packets;
        self.transactions = s.transactions;
    }
}

/// Run `apitap live`; returns the exit code.
pub fn run(args: &LiveArgs) -> i32 {
    crate::telemetry::log::init(args.log_level.as_deref());
    let cfg = match effective_config(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // 1. Open every interface first: nothing starts unless all of them can be captured on.
    let mut caps = Vec::new();
    for iface in &cfg.capture.interfaces {
        match LiveCapture::open(iface, &cfg.capture, cfg.capture.bpf.as_deref()) {
            Ok(c) => caps.push(c),
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("apitap: {e}");
                return exit::USAGE;
            }
        }
    }
    let signals = match install_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("apitap: cannot install signal handlers: {e}");
            return exit::USAGE;
        }
    };
    // 2. The capture is open: privileges are no longer needed.
    if let Some(user) = &cfg.capture.user {
        if let Err(e) = crate::privilege::drop_to_user(user) {
            eprintln!("apitap: {e}");
            return exit::USAGE;
        }
        tracing::info!(user = %user, "dropped privileges");
    }
    // 3. Exporter and workers.
    let (exporter, _to_kafka) = match crate::replay::open_exporter(
        &cfg,
        args.sink.output.as_ref(),
        args.sink.kafka_brokers.as_deref(),
    ) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let workers = cfg.capture.worker_count();
    let mut sharded = match Sharded::new(&cfg, exporter, workers, cfg.capture.queue_batches) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("apitap: {e}");
            return exit::USAGE;
        }
    };
    let started = Instant::now();
    let shared = sharded.shared();
    let counters = Arc::new(Mutex::new(
        caps.iter()
            .map(|c| InterfaceCounters {
                interface: c.interface().to_owned(),
                ..InterfaceCounters::default()
            })
            .collect::<Vec<_>>(),
    ));
    // 4. Telemetry.
    let healthy = Arc::new(AtomicBool::new(true));
    if let Some(addr) = cfg.telemetry.listen {
        let (shared, counters) = (Arc::clone(&shared), Arc::clone(&counters));
        let endpoints = Endpoints {
            metrics: Box::new(move || {
                let stats = shared.snapshot();
                let ifs = counters.lock().map(|c| c.clone()).unwrap_or_default();
                metrics::render(&metrics::Snapshot {
                    stats: &stats,
                    interfaces: &ifs,
                    queue_drops: shared.queue_drops.packets.load(Ordering::Relaxed),
                    workers,
                    uptime_s: started.elapsed().as_secs_f64(),
                })
            }),
            healthy: Arc::clone(&healthy),
        };
        match server::spawn(addr, endpoints) {
            Ok(bound) => tracing::info!(%bound, "metrics on http://{bound}/metrics"),
            Err(e) => {
                eprintln!("apitap: cannot listen on {addr} for metrics: {e}");
                return exit::USAGE;
            }
        }
    }
    // 5. Capture threads.
    let tx_before: Vec<Option<u64>> = caps
        .iter()
        .map(|c| interface_counter(c.interface(), "tx_packets"))
        .collect();
    let names: Vec<String> = caps.iter().map(|c| c.interface().to_owned()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (i, cap) in caps.into_iter().enumerate() {
        match spawn_capture(
            cap,
            sharded.router(),
            sharded.dispatcher(&cfg.decode),
            Arc::clone(&stop),
            Arc::clone(&counters),
            i,
        ) {
            Ok(h) => threads.push(h),
            Err(e) => {
                eprintln!("apitap: cannot start capture thread: {e}");
                stop.store(true, Ordering::Relaxed);
                return exit::USAGE;
            }
        }
    }
    tracing::info!(
        interfaces = ?names,
        workers,
        bpf = cfg.capture.bpf.as_deref().unwrap_or(""),
        "capturing"
    );

    // 6. Run until a signal or a capture failure.
    let mut out_err = None;
    let mut status = Status {
        at: Instant::now(),
        packets: 0,
        transactions: 0,
    };
    let status_every = Duration::from_millis(cfg.telemetry.status_interval_ms);
    let mut last_tick = Instant::now();
    while !signals.term.load(Ordering::Relaxed) {
        if let Err(e) = sharded.pump(PUMP_WAIT) {
            tracing::error!(error = %e, "export failed; stopping");
            out_err = Some(e);
            break;
        }
        if last_tick.elapsed() >= TICK_EVERY {
            sharded.tick(wall_us());
            last_tick = Instant::now();
        }
        if !status_every.is_zero() && status.at.elapsed() >= status_every {
            status.log(&shared.snapshot(), total_drops(&shared, &counters));
        }
        if signals.hup.swap(false, Ordering::Relaxed) {
            reload(args, &cfg);
        }
        if threads.iter().any(JoinHandle::is_finished) {
            tracing::error!("a capture thread ended; shutting down");
            break;
        }
    }

    // 7. Shutdown: stop capturing, drain the workers, end sessions, flush the exporter.
    tracing::info!("shutting down: stopping capture, ending open sessions");
    healthy.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let mut capture_failed = false;
    for h in threads {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!("{e}");
                eprintln!("apitap: {e}");
                capture_failed = true;
            }
            Err(_) => capture_failed = true,
        }
    }
    if let Err(e) = sharded.finish(EndReason::Shutdown) {
        if out_err.is_none() {
            out_err = Some(e);
        }
    }
    let stats = sharded.stats();
    let drops = total_drops(&shared, &counters);
    for (name, before) in names.iter().zip(&tx_before) {
        let after = interface_counter(name, "tx_packets");
        if let (Some(b), Some(a)) = (before, after) {
            tracing::info!(interface = %name, tx_packets_delta = a.saturating_sub(*b), "interface transmit counter (apitap sends nothing; any delta is the kernel's own)");
        }
    }
    tracing::info!(
        uptime_s = started.elapsed().as_secs(),
        packets = stats.decode.packets,
        transactions = stats.transactions,
        session_records = stats.session_records,
        sessions_ended_shutdown = stats.session.ended_shutdown,
        drops,
        export_failed = stats.export.failed,
        "stopped"
    );
    if let Some(path) = &args.stats_json {
        crate::summary::write_stats_json(path, &stats);
    }
    if let Some(e) = out_err {
        eprintln!("apitap: {e}; processing stopped");
        return exit::OUTPUT_FAILED;
    }
    if stats.export.lost_any() {
        return exit::EXPORT_LOSS;
    }
    if drops > 0 || capture_failed {
        eprintln!("apitap: {drops} packets were dropped before decoding (see apitap_dropped_packets_total)");
        return exit::PACKETS_DROPPED;
    }
    exit::OK
}

/// Kernel ring and worker queue drops over every interface (interface/NIC drops are reported
/// in the metrics but are not the sensor's: the NIC counts frames it drops for any reason).
fn total_drops(shared: &crate::shard::Shared, counters: &Mutex<Vec<InterfaceCounters>>) -> u64 {
    let kernel: u64 = counters
        .lock()
        .map(|c| c.iter().map(|i| i.kernel.dropped).sum())
        .unwrap_or(0);
    kernel + shared.queue_drops.packets.load(Ordering::Relaxed)
}

/// SIGHUP: re-read and validate the config file and say what would change. Nothing is
/// applied: the session table's ids and bindings depend on the key list and the secret, so
/// swapping them would split every open session; a restart ends them cleanly instead
/// (reason `shutdown`).
fn reload(args: &LiveArgs, running: &Config) {
    let Some(path) = &args.sink.config else {
        tracing::info!("SIGHUP: no config file to reload");
        return;
    };
    match Config::load(path) {
        Ok(new) => {
            let mut changed = Vec::new();
            if new.session != running.session {
                changed.push("session");
            }
            if new.http != running.http {
                changed.push("http");
            }
            if new.reassembly != running.reassembly {
                changed.push("reassembly");
            }
            if new.output != running.output {
                changed.push("output");
            }
            if new.export != running.export {
                changed.push("export");
            }
            if new.capture != running.capture {
                changed.push("capture");
            }
            tracing::warn!(
                file = %path.display(),
                changed = ?changed,
                "SIGHUP: config is valid; changes are not applied while running (restart to apply; sessions end with reason shutdown)"
            );
        }
        Err(e) => tracing::error!("SIGHUP: {e}; keeping the running config"),
    }
}
