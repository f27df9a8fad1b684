//! `apitap replay`: capture files through the pipeline to an exporter.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use apitap_exporters::kafka::KafkaConfig;
use apitap_exporters::{ExportError, ExportStats, Exporter, JsonLinesExporter, KafkaExporter};
use apitap_sessionizer::record::SCHEMA_VERSION;
use indicatif::{ProgressBar, ProgressStyle};

use crate::capture::{OfflineSource, PacketRef};
use crate::cli::{load_config, Progress, ReplayArgs};
use crate::config::Config;
use crate::exit;
use crate::shard::{AnyPipeline, MAX_WORKERS};
use crate::summary::Summary;
use apitap_sessionizer::session::EndReason;

/// Output buffer size: large writes keep the exporter off the profile.
const OUTPUT_BUFFER_BYTES: usize = 1 << 20;
/// The progress bar is updated once per this many packets (cheap, and smooth enough).
const PROGRESS_EVERY_PACKETS: u64 = 16_384;
/// Bytes of a pcap record header, to turn captured lengths into file position.
const PCAP_RECORD_HEADER_LEN: u64 = 16;
/// `--realtime`: the longest sleep before one packet. Longer gaps in the capture are
/// shortened to this, so an idle night in a capture does not stall a replay.
const MAX_PACING_SLEEP: Duration = Duration::from_secs(5);
/// Sensor id when neither the config nor the host name gives one.
const FALLBACK_SENSOR_ID: &str = "apitap";

/// Open the output named on the command line (`-` is stdout).
fn open_output(path: &Path) -> std::io::Result<Box<dyn Exporter>> {
    let w: Box<dyn Write + Send> = if path.as_os_str() == "-" {
        // Not locked: the guard cannot move to the output thread; the BufWriter around it
        // writes in large chunks, so the lock is taken rarely.
        Box::new(std::io::stdout())
    } else {
        Box::new(File::create(path)?)
    };
    Ok(Box::new(JsonLinesExporter::new(BufWriter::with_capacity(
        OUTPUT_BUFFER_BYTES,
        w,
    ))))
}

/// The Kafka settings in force: `[export.kafka]`, with `--kafka-brokers` replacing its
/// brokers (or standing alone); None for JSON lines.
pub fn kafka_config(cfg: &Config, brokers_flag: Option<&str>) -> Option<KafkaConfig> {
    match (cfg.export.kafka.clone(), brokers_flag) {
        (Some(mut k), Some(list)) => {
            k.brokers = apitap_exporters::kafka::config::split_brokers(list);
            Some(k)
        }
        (None, Some(list)) => Some(KafkaConfig::with_brokers(list)),
        (k, None) => k,
    }
}

/// The host name, for the default sensor id.
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..len]).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

/// The exporter chosen by the config and flags: Kafka when brokers are configured, JSON lines
/// otherwise. Errors are printed; the exit code is returned.
pub fn open_exporter(
    cfg: &Config,
    output: Option<&PathBuf>,
    brokers_flag: Option<&str>,
) -> Result<(Box<dyn Exporter>, bool), i32> {
    let Some(kafka) = kafka_config(cfg, brokers_flag) else {
        let path = output.map_or(Path::new("-"), PathBuf::as_path);
        return match open_output(path) {
            Ok(e) => Ok((e, false)),
            Err(e) => {
                eprintln!("apitap: cannot open output {}: {e}", path.display());
                Err(exit::USAGE)
            }
        };
    };
    if let Some(path) = output {
        eprintln!(
            "apitap: --output {} writes JSON lines, but Kafka export is on (--kafka-brokers or [export.kafka]); \
             use one of them",
            path.display()
        );
        return Err(exit::USAGE);
    }
    let sensor_id = cfg
        .export
        .sensor_id
        .clone()
        .or_else(hostname)
        .unwrap_or_else(|| FALLBACK_SENSOR_ID.to_owned());
    match KafkaExporter::new(&kafka, &sensor_id, SCHEMA_VERSION) {
        Ok(e) => Ok((Box::new(e), true)),
        Err(e) => {
            eprintln!("apitap: {e}");
            Err(exit::USAGE)
        }
    }
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

/// Run `apitap replay`; returns the exit code.
pub fn run(args: &ReplayArgs) -> i32 {
    let workers = args.workers;
    if workers > MAX_WORKERS {
        eprintln!(
            "apitap: --workers must be between 0 (one thread) and {MAX_WORKERS}, not {workers}"
        );
        return exit::USAGE;
    }
    let cfg = match load_config(args.sink.config.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut source = match OfflineSource::open(&args.files) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("apitap: {e}");
            return exit::USAGE;
        }
    };
    let (exporter, to_kafka) = match open_exporter(
        &cfg,
        args.sink.output.as_ref(),
        args.sink.kafka_brokers.as_deref(),
    ) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let mut pacer = args.realtime.then(Pacer::new);
    let mut pipeline = match AnyPipeline::new(&cfg, exporter, workers) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("apitap: {e}");
            return exit::USAGE;
        }
    };
    let bar = progress_bar(args.progress, source.total_bytes());
    let started = Instant::now();

    let mut out_err: Option<ExportError> = None;
    let mut packets = 0u64;
    let mut file_pos = 0u64;
    source.run(|pkt: PacketRef<'_>| {
        packets += 1;
        if let Some(p) = pacer.as_mut() {
            p.wait(pkt.ts_us);
        }
        file_pos += PCAP_RECORD_HEADER_LEN + pkt.data.len() as u64;
        if packets % PROGRESS_EVERY_PACKETS == 0 {
            if let Some(b) = &bar {
                b.set_position(file_pos);
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
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let elapsed = started.elapsed();
    let input_errors = source.take_errors();
    let stats = pipeline.stats();

    if let Some(path) = &args.stats_json {
        crate::summary::write_stats_json(path, &stats);
    }
    if !args.quiet {
        let summary = Summary {
            files: source.reports(),
            stats: &stats,
            elapsed,
            workers: Some(workers),
        };
        eprint!("{summary}");
    }
    if to_kafka && (!args.quiet || stats.export.lost_any()) {
        eprintln!("{}", delivery_report(&stats.export));
    }
    for e in &input_errors {
        eprintln!("apitap: {e}");
    }
    if let Some(e) = out_err {
        eprintln!("apitap: {e}; processing stopped");
        return exit::OUTPUT_FAILED;
    }
    if stats.export.lost_any() {
        return exit::EXPORT_LOSS;
    }
    if !input_errors.is_empty() {
        return exit::INPUT_DAMAGED;
    }
    exit::OK
}

/// A byte-based progress bar when asked for (or when stderr is a terminal).
fn progress_bar(mode: Progress, total: u64) -> Option<ProgressBar> {
    let show = match mode {
        Progress::Always => true,
        Progress::Never => false,
        Progress::Auto => std::io::stderr().is_terminal(),
    };
    if !show {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
