//! What the two long-running commands, `live` and `listen`, share: signals (a second
//! SIGINT/SIGTERM exits at once), the `/metrics` and `/healthz` listener, the wall clock, and
//! the end of a run (the final log line, `--stats-json`, the outcome).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Outcome, Problem, RunError};
use crate::pipeline::PipelineStats;
use crate::telemetry::metrics::{self, Snapshot};
use crate::telemetry::server::{self, Endpoints};

/// Exit status when a second SIGINT/SIGTERM forces the exit (128 + SIGINT, as shells do).
pub const FORCED_EXIT_STATUS: i32 = 130;

/// Microseconds since the UNIX epoch: the clock libpcap stamps live packets with.
pub fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Signal flags: the first SIGINT/SIGTERM sets `term`; a second one exits the process at once
/// with [`FORCED_EXIT_STATUS`] (an operator's way out of a slow flush). SIGHUP sets `hup`.
pub struct Signals {
    term: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

impl Signals {
    /// Install the handlers.
    pub fn install() -> Result<Signals, RunError> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        use signal_hook::flag;
        let term = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        let err = RunError::system("install signal handlers");
        let result = (|| {
            for sig in [SIGINT, SIGTERM] {
                // Order matters: the conditional exit is checked before the flag is set, so
                // it fires only on the second signal.
                flag::register_conditional_shutdown(sig, FORCED_EXIT_STATUS, Arc::clone(&term))?;
                flag::register(sig, Arc::clone(&term))?;
            }
            flag::register(SIGHUP, Arc::clone(&hup))?;
            Ok(())
        })();
        result.map_err(err)?;
        Ok(Signals { term, hup })
    }

    /// True once SIGINT or SIGTERM arrived.
    pub fn terminated(&self) -> bool {
        self.term.load(Ordering::Relaxed)
    }

    /// True once per SIGHUP.
    pub fn take_hup(&self) -> bool {
        self.hup.swap(false, Ordering::Relaxed)
    }
}

/// `/healthz`: 200 while running, 503 once shutdown has begun.
#[derive(Clone, Debug, Default)]
pub struct Health(Arc<AtomicBool>);

impl Health {
    /// Healthy.
    pub fn new() -> Self {
        Health(Arc::new(AtomicBool::new(true)))
    }

    /// Shutdown has begun.
    pub fn stopping(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Serve `/metrics` (the counters `snapshot` returns at each scrape) and `/healthz` on
/// `addr`, when one is configured; returns the bound address.
pub fn serve_metrics(
    addr: Option<SocketAddr>,
    health: &Health,
    snapshot: impl Fn() -> Snapshot + Send + Sync + 'static,
) -> Result<Option<SocketAddr>, RunError> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let endpoints = Endpoints {
        registry: metrics::registry(Box::new(snapshot)),
        healthy: Arc::clone(&health.0),
    };
    let bound =
        server::spawn(addr, endpoints).map_err(|source| RunError::Metrics { addr, source })?;
    tracing::info!(%bound, "metrics on http://{bound}/metrics");
    Ok(Some(bound))
}

/// How a daemon's run ended, for the final log line and the outcome.
pub struct Ending<'a> {
    /// Every counter at the end.
    pub stats: &'a PipelineStats,
    /// When the run started.
    pub started: Instant,
    /// Packets lost before decoding (kernel ring, socket queue, worker queue).
    pub drops: u64,
    /// Captures (interfaces, sockets) that stopped with an error.
    pub capture_failures: Vec<String>,
}

impl Ending<'_> {
    /// Log the final line, write `--stats-json` (`json`, the counters with the command's own
    /// additions) and say how the run went.
    pub fn finish(self, stats_json: Option<&Path>, json: &impl serde::Serialize) -> Outcome {
        let s = self.stats;
        tracing::info!(
            uptime_s = self.started.elapsed().as_secs(),
            packets = s.front.decode.packets,
            transactions = s.output.transactions,
            session_records = s.output.session_records,
            sessions_ended_shutdown = s.output.session.ended_shutdown,
            drops = self.drops,
            export_failed = s.output.export.failed,
            "stopped"
        );
        if let Some(path) = stats_json {
            crate::summary::write_stats_json(path, json);
        }
        let mut outcome = Outcome::clean();
        if s.output.export.lost_any() {
            outcome.push(Problem::ExportLoss {
                lost: s.output.export.failed,
            });
        }
        if self.drops > 0 {
            outcome.push(Problem::PacketsDropped {
                packets: self.drops,
            });
        }
        for f in self.capture_failures {
            outcome.push(Problem::CaptureFailed(f));
        }
        outcome
    }
}
