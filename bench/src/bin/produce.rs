//! `apitap-bench-produce`: the Kafka exporter alone, fed records as fast as it takes them.
//!
//! Reads the JSON lines of a replay (`apitap replay … --output records.jsonl`), hands them to
//! the same `KafkaExporter` the sensor uses (same defaults: acks=all, idempotence, lz4) as many
//! times as asked, flushes, and prints records/s, MB/s and the CPU the process spent per record
//! (the exporter and librdkafka's threads: there is no capture or parsing in this process).
//! `scripts/bench-kafka.sh` runs it against a local tansu broker; see docs/bench.md.

use std::io::BufRead as _;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use apitap_exporters::kafka::{KafkaConfig, PropertyValue};
use apitap_exporters::{EventMeta, Exporter as _, KafkaExporter};
use clap::Parser;

/// The sensor's allocator, so that the producer's per-record cost is the sensor's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The producer's buffer: the whole file fits, several times over.
const BUFFER_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Default of `--max-queued`: a quarter of a second of records at 200k records/s.
const DEFAULT_MAX_QUEUED: u64 = 50_000;

/// How long the bench sleeps while the producer holds `--max-queued` records.
const QUEUE_WAIT: Duration = Duration::from_micros(200);

/// Schema version written in the records' headers (as the sensor does).
const SCHEMA_VERSION: u32 = 1;

/// Command line.
#[derive(Parser)]
#[command(about = "Kafka exporter throughput on pre-serialized records")]
struct Args {
    /// Bootstrap broker, host:port.
    #[arg(long)]
    brokers: String,
    /// JSON lines from `apitap replay`.
    #[arg(long)]
    records: std::path::PathBuf,
    /// Times the whole file is sent.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Topic of http records.
    #[arg(long, default_value = "apitap.http")]
    topic_http: String,
    /// Topic of session records.
    #[arg(long, default_value = "apitap.sessions")]
    topic_sessions: String,
    /// Most records queued in the producer: the bench waits for acknowledgements beyond it,
    /// so that it measures a sustained rate at a bounded memory, as a sensor runs, not how
    /// fast an ever-growing queue fills (0: no bound).
    #[arg(long, default_value_t = DEFAULT_MAX_QUEUED)]
    max_queued: u64,
    /// Extra librdkafka property, NAME=VALUE (repeatable).
    #[arg(long = "property", value_name = "NAME=VALUE")]
    properties: Vec<String>,
}

/// One record: its type, its key (session id) and its JSON.
struct Record {
    kind: &'static str,
    key: Option<String>,
    json: Vec<u8>,
}

/// User + system CPU time of this process, all threads.
fn cpu_time() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage into the pointer it is given; zeroed is a valid value.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn load(path: &std::path::Path) -> anyhow::Result<Vec<Record>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let kind = if line.starts_with(r#"{"type":"session""#) {
            "session"
        } else {
            "http"
        };
        // Session ids are hex: the value ends at the next quote.
        let key = line
            .split_once(r#""session_id":""#)
            .and_then(|(_, rest)| rest.split_once('"').map(|(id, _)| id.to_owned()));
        out.push(Record {
            kind,
            key,
            json: line.into_bytes(),
        });
    }
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let records = load(&args.records)?;
    if records.is_empty() {
        bail!("{} holds no record", args.records.display());
    }
    let mut cfg = KafkaConfig {
        // Room for every record: the bench measures throughput, not drops.
        max_buffer_bytes: BUFFER_BYTES,
        brokers: vec![args.brokers.clone()],
        topic_http: args.topic_http.clone(),
        topic_sessions: args.topic_sessions.clone(),
        ..KafkaConfig::default()
    };
    for p in &args.properties {
        let (k, v) = p.split_once('=').context("--property takes NAME=VALUE")?;
        cfg.librdkafka
            .insert(k.to_owned(), PropertyValue::Text(v.to_owned()));
    }
    let mut exporter = KafkaExporter::new(&cfg, "bench", SCHEMA_VERSION)?;
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let mut bytes = 0u64;
    for _ in 0..args.repeat {
        for r in &records {
            let meta = EventMeta {
                kind: r.kind,
                key: r.key.as_deref(),
            };
            exporter.export(meta, &r.json)?;
            bytes += r.json.len() as u64;
            while args.max_queued > 0 && exporter.queued() >= args.max_queued {
                std::thread::sleep(QUEUE_WAIT);
            }
        }
    }
    let queued_s = t0.elapsed().as_secs_f64();
    exporter.flush()?;
    let (wall, cpu) = (
        t0.elapsed().as_secs_f64(),
        (cpu_time() - cpu0).as_secs_f64(),
    );
    let s = exporter.stats();
    let n = s.offered as f64;
    println!(
        "records {} (delivered {}, failed {}), {:.1} MB",
        s.offered,
        s.delivered,
        s.failed,
        bytes as f64 / 1e6
    );
    println!("queued in {queued_s:.3} s, delivered in {wall:.3} s");
    println!(
        "throughput {:.0} records/s, {:.1} MB/s",
        n / wall,
        bytes as f64 / wall / 1e6
    );
    println!(
        "producer cpu {:.2} us/record ({:.0} records/s per core)",
        cpu / n * 1e6,
        n / cpu
    );
    if s.failed > 0 {
        bail!("{} records were not delivered", s.failed);
    }
    Ok(())
}
