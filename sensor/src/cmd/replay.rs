//! `apitap replay`: capture files through the pipeline to an exporter.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apitap_exporters::{ExportError, ExportStats};
use apitap_sessionizer::session::EndReason;
use apitap_sessionizer::tls::decrypt::KeyLog;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::sink::{open_exporter, SinkArgs};
use crate::capture::{OfflineSource, PacketRef};
use crate::error::{Outcome, Problem, RunError};
use crate::pipeline::PipelineStats;
use crate::shard::{AnyPipeline, MAX_WORKERS};
use crate::summary::Summary;

/// The progress bar is updated once per this many packets (cheap, and smooth enough).
const PROGRESS_EVERY_PACKETS: u64 = 16_384;
/// `--realtime`: the longest sleep before one packet. Longer gaps in the capture are
/// shortened to this, so an idle night in a capture does not stall a replay.
const MAX_PACING_SLEEP: Duration = Duration::from_secs(5);

/// When to draw a progress bar on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Flags of `apitap replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (pcap or pcapng); several are merged in timestamp order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Pace packets at the capture's original timing (wall clock), as a live feed would
    /// arrive; gaps longer than a few seconds are shortened.
    #[arg(long)]
    pub realtime: bool,
    /// Reassembly/HTTP worker threads, as `apitap live` runs them (the reading and the session
    /// and export stage have a thread each); 0 (the default) runs everything on this one
    /// thread. With one worker the records are the single-threaded ones, byte for byte; with
    /// more, they leave in completion order over the workers, which varies between runs.
    /// Which is faster depends on the machine: docs/bench.md, "Threaded replay".
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub workers: usize,
    /// Config and output.
    #[command(flatten)]
    pub sink: SinkArgs,
    /// Also write the final counters as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Decrypt TLS 1.2 and 1.3 (AES-GCM, ChaCha20-Poly1305) with the secrets of this NSS key
    /// log (what `SSLKEYLOGFILE` makes curl, browsers and OpenSSL write): the decrypted
    /// exchanges become http records marked `"decrypted": true` (docs/protocols.md).
    #[arg(long, value_name = "FILE")]
    pub tls_keylog: Option<PathBuf>,
    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Do not print the run summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--realtime`: sleeps so that packets are handed on at the capture's pace.
struct Pacer {
    /// Wall-clock start of the replay.
    start: Instant,
    /// Timestamp of the first packet.
    first_ts_us: Option<u64>,
    /// Capture time cut out of long gaps (see [`MAX_PACING_SLEEP`]).
    skipped_us: u64,
}

impl Pacer {
    fn new() -> Self {
        Pacer {
            start: Instant::now(),
            first_ts_us: None,
            skipped_us: 0,
        }
    }

    /// Sleep until the packet at `ts_us` is due; never longer than [`MAX_PACING_SLEEP`].
    fn wait(&mut self, ts_us: u64) {
        let first = *self.first_ts_us.get_or_insert(ts_us);
        let due_us = ts_us.saturating_sub(first).saturating_sub(self.skipped_us);
        let elapsed_us = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        if due_us <= elapsed_us {
            return;
        }
        let cap_us = MAX_PACING_SLEEP.as_micros() as u64;
        let mut wait_us = due_us - elapsed_us;
        if wait_us > cap_us {
            self.skipped_us += wait_us - cap_us;
            wait_us = cap_us;
        }
        std::thread::sleep(Duration::from_micros(wait_us));
    }
}

/// One line on what reached Kafka and what did not.
fn delivery_report(s: &ExportStats) -> String {
    let mut lost: Vec<String> = Vec::new();
    for (reason, n) in &s.dropped {
        lost.push(format!("dropped {reason} {n}"));
    }
    for (class, n) in &s.delivery_failed {
        lost.push(format!("failed {class} {n}"));
    }
    if s.undelivered_at_shutdown > 0 {
        lost.push(format!(
            "undelivered at shutdown {}",
            s.undelivered_at_shutdown
        ));
    }
    let mut line = format!(
        "apitap: kafka: {} records offered, {} queued, {} delivered",
        s.offered, s.records, s.delivered
    );
    if lost.is_empty() {
        line.push_str(", none lost");
    } else {
        line.push_str(&format!(
            "; {} not delivered: {}",
            s.failed,
            lost.join(", ")
        ));
    }
    line
}

/// Run `apitap replay`.
pub fn run(args: &ReplayArgs) -> Result<Outcome, RunError> {
    let workers = args.workers;
    if workers > MAX_WORKERS {
        return Err(RunError::Usage(format!(
            "--workers must be between 0 (one thread) and {MAX_WORKERS}, not {workers}"
        )));
    }
    let mut cfg = args.sink.load_config()?;
    let mut source = OfflineSource::open(&args.files)?;
    // Hook for pcapng Decryption Secrets Blocks (secrets type TLSK): their text is an NSS key
    // log; once the pcapng reader exposes it, pass each block's text here. It must be read
    // before the first packet: the key log is shared by every worker, read-only.
    let dsb_texts: [&str; 0] = [];
    cfg.inputs.tls_keylog = keylog(args.tls_keylog.as_deref(), dsb_texts)?;
    if let Some(warning) = crate::secret::settle(&mut cfg).map_err(RunError::Pipeline)? {
        if !args.quiet {
            eprintln!("apitap: warning: {warning}");
        }
    }
    let sink = open_exporter(&cfg, &args.sink)?;
    if !args.quiet {
        for note in sink.created_notes() {
            eprintln!("apitap: {note}");
        }
    }
    let mut pacer = args.realtime.then(Pacer::new);
    let mut pipeline =
        AnyPipeline::new(&cfg, sink.exporter, workers).map_err(RunError::Pipeline)?;
    let mut progress = ProgressView::new(args.progress, source.total_bytes());
    let started = Instant::now();

    let mut out_err: Option<ExportError> = None;
    let mut packets = 0u64;
    let read = source.progress();
    source.run(|pkt: PacketRef<'_>| {
        packets += 1;
        if let Some(p) = pacer.as_mut() {
            p.wait(pkt.ts_us);
        }
        if packets % PROGRESS_EVERY_PACKETS == 0 {
            if let Some(p) = progress.as_mut() {
                p.update(read.load(Ordering::Relaxed));
            }
        }
        match pipeline.on_packet(pkt) {
            Ok(()) => true,
            Err(e) => {
                out_err = Some(e);
                false
            }
        }
    });
    if out_err.is_none() {
        out_err = pipeline.finish(EndReason::EndOfInput).err();
    }
    if let Some(p) = progress {
        p.finish(read.load(Ordering::Relaxed));
    }
    let stats = pipeline.stats();
    report(args, &source, &stats, started.elapsed(), sink.to_kafka);
    if let Some(e) = out_err {
        return Err(e.into());
    }
    let mut outcome = Outcome::clean();
    outcome
        .problems
        .extend(source.take_errors().into_iter().map(Problem::InputDamaged));
    if stats.output.export.lost_any() {
        outcome.push(Problem::ExportLoss {
            lost: stats.output.export.failed,
        });
    }
    Ok(outcome)
}

/// The key log TLS is decrypted with: `--tls-keylog`'s file and the NSS key log text of
/// every pcapng Decryption Secrets Block (`dsb_texts`); `None` when there is neither.
fn keylog<'a>(
    file: Option<&Path>,
    dsb_texts: impl IntoIterator<Item = &'a str>,
) -> Result<Option<Arc<KeyLog>>, RunError> {
    let mut log = KeyLog::default();
    let mut given = false;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            RunError::Usage(format!(
                "--tls-keylog {}: cannot read it: {e}",
                path.display()
            ))
        })?;
        log.add(&text)
            .map_err(|e| RunError::Usage(format!("--tls-keylog {}: {e}", path.display())))?;
        given = true;
    }
    for (i, text) in dsb_texts.into_iter().enumerate() {
        log.add(text)
            .map_err(|e| RunError::Usage(format!("decryption secrets block {}: {e}", i + 1)))?;
        given = true;
    }
    Ok(given.then(|| Arc::new(log)))
}

/// The end of a replay: `--stats-json`, the summary (unless `-q`), and what reached Kafka
/// (with `-q` only when something did not).
fn report(
    args: &ReplayArgs,
    source: &OfflineSource,
    stats: &PipelineStats,
    elapsed: Duration,
    to_kafka: bool,
) {
    if let Some(path) = &args.stats_json {
        crate::summary::write_stats_json(path, stats);
    }
    if !args.quiet {
        let summary = Summary {
            files: Some(source.reports()),
            stats,
            elapsed,
            workers: Some(args.workers),
        };
        eprint!("{summary}");
    }
    if to_kafka && (!args.quiet || stats.output.export.lost_any()) {
        eprintln!("{}", delivery_report(&stats.output.export));
    }
}

/// How progress is shown: a bar on a terminal, plain lines elsewhere (`--progress always`).
enum ProgressView {
    /// indicatif's bar (it draws only on a terminal).
    Bar(ProgressBar),
    /// One line per [`PROGRESS_LINE_EVERY`] at most, and one at the end.
    Lines {
        /// Bytes of every file.
        total: u64,
        /// When the last line was written.
        last: Option<Instant>,
    },
}

/// `--progress always` without a terminal: the shortest time between two progress lines.
const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(1);

impl ProgressView {
    /// The view `mode` asks for, or None.
    fn new(mode: Progress, total: u64) -> Option<Self> {
        let terminal = std::io::stderr().is_terminal();
        match (mode, terminal) {
            (Progress::Never, _) | (Progress::Auto, false) => None,
            (Progress::Always, false) => Some(ProgressView::Lines { total, last: None }),
            (_, true) => {
                let bar = ProgressBar::new(total);
                let style = ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                Some(ProgressView::Bar(bar))
            }
        }
    }

    /// `read` bytes of the files are read.
    fn update(&mut self, read: u64) {
        match self {
            ProgressView::Bar(b) => b.set_position(read),
            ProgressView::Lines { total, last } => {
                if last.is_none_or(|t| t.elapsed() >= PROGRESS_LINE_EVERY) {
                    eprintln!("{}", progress_line(read, *total));
                    *last = Some(Instant::now());
                }
            }
        }
    }

    /// The end: the bar is cleared, the plain view writes its last line.
    fn finish(self, read: u64) {
        match self {
            ProgressView::Bar(b) => b.finish_and_clear(),
            ProgressView::Lines { total, .. } => eprintln!("{}", progress_line(read, total)),
        }
    }
}

/// `apitap: progress 42 % (1234 of 2938 bytes)`.
fn progress_line(read: u64, total: u64) -> String {
    let pct = read.saturating_mul(100).checked_div(total).unwrap_or(100);
    format!("apitap: progress {pct} % ({read} of {total} bytes)")
}
