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
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use apitap_sessionizer::session::EndReason;
use clap::Args;

use super::daemon::{self, wall_us, Ending, Health, Signals};
use super::sink::{open_exporter, SinkArgs};
use crate::capture::live::{
    interface_counter, CaptureEvent, KernelStats, LiveCapture, LiveError, Shutdown,
};
use crate::config::Config;
use crate::error::{Outcome, RunError};
use crate::pipeline::PipelineStats;
use crate::shard::{Dispatcher, Router, Sharded, Shared};
use crate::telemetry::metrics::{InterfaceCounters, Snapshot};

/// How long the main loop waits (for an export failure) before looking at signals and timers.
const PUMP_WAIT: Duration = Duration::from_millis(50);
/// How often the workers get the wall clock, so flows and sessions expire on a quiet link.
const TICK_EVERY: Duration = Duration::from_millis(100);

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

/// The config file with the command-line flags applied.
fn effective_config(args: &LiveArgs) -> Result<Config, RunError> {
    let mut cfg = args.sink.load_config()?;
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
        return Err(RunError::Usage(
            "no interface to capture on: give --interface IF or capture.interfaces".into(),
        ));
    }
    Ok(cfg)
}

/// The capture threads' shared state: per-interface counters for metrics and the end.
type Counters = Arc<Mutex<Vec<InterfaceCounters>>>;

/// One capture thread: read, shard, hand on; publish libpcap's counters on every pause.
fn spawn_capture(
    mut cap: LiveCapture,
    router: Router,
    mut dispatch: Dispatcher,
    stop: Arc<Shutdown>,
    counters: Counters,
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
        let pps = (s.front.decode.packets.saturating_sub(self.packets)) as f64 / dt;
        let tps = (s.output.transactions.saturating_sub(self.transactions)) as f64 / dt;
        tracing::info!(
            target: "apitap::status",
            pps = format_args!("{pps:.0}"),
            tps = format_args!("{tps:.0}"),
            packets = s.front.decode.packets,
            drops,
            flows = s.front.active_flows,
            sessions = s.output.active_sessions,
            transactions = s.output.transactions,
            export_failed = s.output.export.failed,
            "status"
        );
        self.at = Instant::now();
        self.packets = s.front.decode.packets;
        self.transactions = s.output.transactions;
    }
}

/// The capture threads and what the end of the run needs of them.
struct Captures {
    /// One per interface, in the order of `names`.
    threads: Vec<JoinHandle<Result<(), LiveError>>>,
    /// Interface names, with their transmit counter at start (apitap must not move it).
    tx_before: Vec<(String, Option<u64>)>,
    /// Stops every thread.
    stop: Arc<Shutdown>,
}

impl Captures {
    /// One thread per open interface, each with its own dispatcher into `sharded`'s workers.
    fn start(
        caps: Vec<LiveCapture>,
        sharded: &Sharded,
        cfg: &Config,
        counters: &Counters,
    ) -> Result<Captures, RunError> {
        let stop =
            Arc::new(Shutdown::new().map_err(RunError::system("create the shutdown eventfd"))?);
        let tx_before = caps
            .iter()
            .map(|c| {
                let name = c.interface().to_owned();
                let tx = interface_counter(&name, "tx_packets");
                (name, tx)
            })
            .collect();
        let mut threads = Vec::new();
        for (i, cap) in caps.into_iter().enumerate() {
            let router = sharded.router();
            let dispatch = sharded.dispatcher(&cfg.decode);
            match spawn_capture(
                cap,
                router,
                dispatch,
                Arc::clone(&stop),
                Arc::clone(counters),
                i,
            ) {
                Ok(h) => threads.push(h),
                Err(source) => {
                    stop.stop();
                    let what = "start a capture thread";
                    return Err(RunError::System { what, source });
                }
            }
        }
        Ok(Captures {
            threads,
            tx_before,
            stop,
        })
    }

    /// Stop every capture and wait for the threads; the failures, as messages.
    fn stop(self) -> Vec<String> {
        self.stop.stop();
        let mut failures = Vec::new();
        for (h, (name, _)) in self.threads.into_iter().zip(&self.tx_before) {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(e.to_string()),
                Err(_) => failures.push(format!("the capture thread of {name} panicked")),
            }
        }
        for (name, before) in &self.tx_before {
            let after = interface_counter(name, "tx_packets");
            if let (Some(b), Some(a)) = (before, after) {
                tracing::info!(interface = %name, tx_packets_delta = a.saturating_sub(*b), "interface transmit counter (apitap sends nothing; any delta is the kernel's own)");
            }
        }
        failures
    }
}

/// Per-interface counters, one slot per capture, for the metrics and the end.
fn interface_slots(caps: &[LiveCapture]) -> Counters {
    Arc::new(Mutex::new(
        caps.iter()
            .map(|c| InterfaceCounters {
                interface: c.interface().to_owned(),
                ..InterfaceCounters::default()
            })
            .collect(),
    ))
}

/// Run `apitap live`.
pub fn run(args: &LiveArgs) -> Result<Outcome, RunError> {
    crate::telemetry::log::init(args.log_level.as_deref());
    let mut cfg = effective_config(args)?;
    if let Some(warning) = crate::secret::settle(&mut cfg).map_err(RunError::Pipeline)? {
        tracing::warn!("{warning}");
    }
    super::sink::settle_sensor_id(&mut cfg);
    // 1. Open every interface first: nothing starts unless all of them can be captured on.
    let caps = cfg
        .capture
        .interfaces
        .iter()
        .map(|iface| LiveCapture::open(iface, &cfg.capture, cfg.capture.bpf.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let signals = Signals::install()?;
    // 2. The capture is open: privileges are no longer needed.
    if let Some(user) = &cfg.capture.user {
        crate::privilege::drop_to_user(user)?;
        tracing::info!(user = %user, "dropped privileges");
    }
    // 3. Exporter and workers.
    let sink = open_exporter(&cfg, &args.sink)?;
    for note in sink.created_notes() {
        tracing::info!("{note}");
    }
    let workers = cfg.capture.worker_count();
    let budget = crate::limits::Budget::of(&cfg, workers);
    tracing::info!(
        max_memory_mb = cfg.limits.max_memory_mb,
        workers,
        max_flows_per_worker = budget.max_flows,
        max_held_bytes_per_worker = budget.max_held_bytes_total,
        max_sessions = budget.max_sessions,
        "memory budget"
    );
    let mut sharded = Sharded::new(&cfg, sink.exporter, workers, cfg.capture.queue_batches)
        .map_err(RunError::Pipeline)?;
    let started = Instant::now();
    let shared = sharded.shared();
    let counters = interface_slots(&caps);
    // 4. Telemetry.
    let health = Health::new();
    {
        let (shared, counters) = (Arc::clone(&shared), Arc::clone(&counters));
        daemon::serve_metrics(cfg.telemetry.listen, &health, move || Snapshot {
            stats: shared.snapshot(),
            interfaces: counters.lock().map(|c| c.clone()).unwrap_or_default(),
            queue_drops: shared.queue_drops.packets.load(Ordering::Relaxed),
            workers,
            uptime_s: started.elapsed().as_secs_f64(),
        })?;
    }
    // 5. Capture threads.
    let captures = Captures::start(caps, &sharded, &cfg, &counters)?;
    tracing::info!(
        interfaces = ?captures.tx_before.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        workers,
        bpf = cfg.capture.bpf.as_deref().unwrap_or(""),
        "capturing"
    );
    // 6. Run until a signal, an export failure or a capture failure.
    let out_err = run_until_stopped(
        args,
        &cfg,
        &signals,
        &mut sharded,
        &shared,
        &counters,
        &captures.threads,
    );
    // 7. Shutdown: stop capturing, drain the workers, end sessions, flush the exporter.
    tracing::info!("shutting down: stopping capture, ending open sessions");
    health.stopping();
    let capture_failures = captures.stop();
    let finished = sharded.finish(EndReason::Shutdown);
    let stats = sharded.stats();
    let outcome = Ending {
        stats: &stats,
        started,
        drops: total_drops(&shared, &counters),
        capture_failures,
    }
    .finish(args.stats_json.as_deref(), &stats);
    // The first export error is the one that stopped the run.
    out_err.map_or(finished, Err)?;
    Ok(outcome)
}

/// The main loop: pump the session stage, tick the workers, log the status, answer SIGHUP,
/// until a signal, an export failure (returned) or the end of a capture thread.
fn run_until_stopped(
    args: &LiveArgs,
    cfg: &Config,
    signals: &Signals,
    sharded: &mut Sharded,
    shared: &Shared,
    counters: &Counters,
    threads: &[JoinHandle<Result<(), LiveError>>],
) -> Option<apitap_exporters::ExportError> {
    let mut status = Status {
        at: Instant::now(),
        packets: 0,
        transactions: 0,
    };
    let status_every = Duration::from_millis(cfg.telemetry.status_interval_ms);
    let mut last_tick = Instant::now();
    while !signals.terminated() {
        if let Err(e) = sharded.pump(PUMP_WAIT) {
            // The error itself is printed once, at exit (cli::main).
            tracing::error!("export failed; shutting down");
            return Some(e);
        }
        if last_tick.elapsed() >= TICK_EVERY {
            sharded.tick(wall_us());
            last_tick = Instant::now();
        }
        if !status_every.is_zero() && status.at.elapsed() >= status_every {
            status.log(&shared.snapshot(), total_drops(shared, counters));
        }
        if signals.take_hup() {
            reload(args, cfg);
        }
        if threads.iter().any(JoinHandle::is_finished) {
            tracing::error!("a capture thread ended; shutting down");
            break;
        }
    }
    None
}

/// Kernel ring and worker queue drops over every interface (interface/NIC drops are reported
/// in the metrics but are not the sensor's: the NIC counts frames it drops for any reason).
fn total_drops(shared: &Shared, counters: &Mutex<Vec<InterfaceCounters>>) -> u64 {
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
            let changed: Vec<&str> = [
                ("session", new.session != running.session),
                ("http", new.http != running.http),
                ("reassembly", new.reassembly != running.reassembly),
                ("output", new.output != running.output),
                ("export", new.export != running.export),
                ("capture", new.capture != running.capture),
            ]
            .into_iter()
            .filter_map(|(name, differs)| differs.then_some(name))
            .collect();
            tracing::warn!(
                file = %path.display(),
                changed = ?changed,
                "SIGHUP: config is valid; changes are not applied while running (restart to apply; sessions end with reason shutdown)"
            );
        }
        Err(e) => tracing::error!("SIGHUP: {e}; keeping the running config"),
    }
}
