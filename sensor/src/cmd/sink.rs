//! Where events go, for `replay`, `live` and `listen`: the shared config and output flags,
//! and the exporter they choose (JSON lines to a file or stdout, or Kafka).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use apitap_exporters::kafka::admin::{ensure_topics, CreatedTopic};
use apitap_exporters::kafka::KafkaConfig;
use apitap_exporters::{Exporter, JsonLinesExporter, KafkaExporter};
use apitap_sessionizer::record::SCHEMA_VERSION;
use clap::Args;

use crate::config::Config;
use crate::error::RunError;

/// Output buffer size: large writes keep the exporter off the profile.
const OUTPUT_BUFFER_BYTES: usize = 1 << 20;
/// Sensor id when neither the config nor the host name gives one.
const FALLBACK_SENSOR_ID: &str = "apitap";

/// The config and output flags of `replay`, `live` and `listen`: one definition, so every
/// output option works the same in each.
#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Pipeline config file (TOML); defaults apply without one.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where to write events: a file path, or `-` for stdout (the default without Kafka).
    /// Not allowed with Kafka export.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Export to Kafka through these brokers (`host:port,host:port`) instead of JSON lines;
    /// overrides `export.kafka.brokers`, the rest of `[export.kafka]` still applies.
    #[arg(long, value_name = "BROKERS")]
    pub kafka_brokers: Option<String>,
}

impl SinkArgs {
    /// The config file named by `--config`, or the defaults.
    pub fn load_config(&self) -> Result<Config, RunError> {
        Ok(Config::load_or_default(self.config.as_deref())?)
    }
}

/// An opened exporter and whether it is Kafka's (the summary then reports deliveries).
pub struct Sink {
    /// The exporter.
    pub exporter: Box<dyn Exporter>,
    /// True for Kafka.
    pub to_kafka: bool,
    /// Topics `export.kafka.create_topics` created, for the command to mention.
    pub created_topics: Vec<CreatedTopic>,
}

impl Sink {
    /// One line per created topic.
    pub fn created_notes(&self) -> Vec<String> {
        self.created_topics
            .iter()
            .map(|t| {
                let shown = |n: i32| {
                    if n < 0 {
                        "the broker's default".to_owned()
                    } else {
                        n.to_string()
                    }
                };
                format!(
                    "kafka: created topic {} (partitions: {}, replication factor: {})",
                    t.name,
                    shown(t.partitions),
                    shown(t.replication_factor)
                )
            })
            .collect()
    }
}

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

/// Name a running sensor: `export.sensor_id` when set, else the host name (else
/// `apitap`), so that every record of `live` and `listen` says which sensor saw it. `replay`
/// does not call this: a replayed capture's records carry `sensor_id` only when configured.
pub fn settle_sensor_id(cfg: &mut crate::config::Config) {
    if cfg.export.sensor_id.is_none() {
        cfg.export.sensor_id = Some(hostname().unwrap_or_else(|| FALLBACK_SENSOR_ID.to_owned()));
    }
}

/// This machine's host name, when it has a valid one.
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
/// otherwise.
pub fn open_exporter(cfg: &Config, args: &SinkArgs) -> Result<Sink, RunError> {
    let Some(kafka) = kafka_config(cfg, args.kafka_brokers.as_deref()) else {
        let path = args.output.as_deref().unwrap_or(Path::new("-"));
        let exporter = open_output(path).map_err(|source| RunError::OpenOutput {
            path: path.to_owned(),
            source,
        })?;
        return Ok(Sink {
            exporter,
            to_kafka: false,
            created_topics: Vec::new(),
        });
    };
    if let Some(path) = &args.output {
        return Err(RunError::Usage(format!(
            "--output {} writes JSON lines, but Kafka export is on (--kafka-brokers or [export.kafka]); \
             use one of them",
            path.display()
        )));
    }
    let sensor_id = cfg
        .export
        .sensor_id
        .clone()
        .or_else(hostname)
        .unwrap_or_else(|| FALLBACK_SENSOR_ID.to_owned());
    // Checked before anything connects: a bad property is a config error, not a topic one.
    kafka
        .validate()
        .map_err(|e| RunError::Usage(format!("invalid Kafka settings: {e}")))?;
    let created_topics = if kafka.create_topics {
        ensure_topics(&kafka)?
    } else {
        Vec::new()
    };
    let exporter = KafkaExporter::new(&kafka, &sensor_id, SCHEMA_VERSION)?;
    Ok(Sink {
        exporter: Box::new(exporter),
        to_kafka: true,
        created_topics,
    })
}
