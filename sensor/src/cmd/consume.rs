//! `apitap consume`: read apitap events back from Kafka, filter them and print a session
//! timeline (or the records unchanged with `--json`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::config::Config;
use crate::consume::filter::{Filter, IpMatch};
use crate::consume::reader::{Reader, ReaderOptions, StartAt};
use crate::consume::timeline::{alert_line, Follower, Paint, Timeline};
use crate::error::{Outcome, RunError};

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    /// When stdout is a terminal (and `NO_COLOR` is unset).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Flags of `apitap consume`. Where they overlap, they follow kcat (`-b`, `-t`, `-G`, `-o`,
/// `-e`, `-X`).
#[derive(Debug, Args)]
#[command(
    after_help = "Offsets (-o): beginning, end, stored (with -G), N (absolute), -N (N before the end). \
                        Without -G every partition is read from -o (default beginning) and the command exits \
                        at the end of the topics unless --follow is given. With -G the group's committed \
                        offsets are used and -o applies to partitions without one."
)]
pub struct ConsumeArgs {
    /// Brokers, `host:port,host:port` (kcat -b).
    #[arg(short = 'b', long, value_name = "BROKERS")]
    pub brokers: String,
    /// Topic to read (kcat -t); repeat for several. Default: apitap.http and apitap.sessions.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Start at the earliest offset of every partition (same as `-o beginning`).
    #[arg(long, conflicts_with = "offset")]
    pub from_beginning: bool,
    /// Where to start: beginning, end, stored, N or -N (kcat -o).
    #[arg(short = 'o', long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub offset: Option<String>,
    /// Keep reading new records as they arrive (otherwise exit at the end of every partition).
    #[arg(short = 'f', long, conflicts_with = "exit_at_end")]
    pub follow: bool,
    /// Exit at the end of every partition (kcat -e); the default unless --follow.
    #[arg(short = 'e')]
    pub exit_at_end: bool,
    /// Consumer group (kcat -G): partitions are shared with the group's members and offsets
    /// committed.
    #[arg(short = 'G', long = "group", value_name = "GROUP")]
    pub group: Option<String>,
    /// Only the session with this id (or id prefix).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Only records involving this address or network (client, server, or resolved client IP).
    #[arg(long, value_name = "ADDR[/PREFIX]")]
    pub ip: Option<String>,
    /// Only requests to matching endpoints: `*` is a wildcard, otherwise a substring of
    /// `METHOD /path/{template}`.
    #[arg(long, value_name = "PATTERN")]
    pub endpoint: Option<String>,
    /// Only the sessions of this user (the session's `user`, or a context value on a request).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only the sessions in which attack detection found an attack (their whole timeline; with
    /// `--follow`, from the first attack on).
    #[arg(long)]
    pub attacks: bool,
    /// Print alerts (read from the alerts topic too), each with its session's timeline around
    /// its evidence transactions, which are marked; the other filters select the alerts.
    #[arg(long)]
    pub alerts: bool,
    /// With `--alerts`: only alerts of this kind (`bola`, `attack`, `shadow_api`...).
    #[arg(long, value_name = "K", requires = "alerts")]
    pub kind: Option<String>,
    /// Print the matching records unchanged, one JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Colours in the timeline.
    #[arg(long, value_enum, default_value_t = ColorMode::Auto)]
    pub color: ColorMode,
    /// A librdkafka consumer property, `name=value` (kcat -X), e.g. for SASL or TLS; repeatable.
    #[arg(short = 'X', value_name = "NAME=VALUE")]
    pub properties: Vec<String>,
    /// Take librdkafka properties (SASL, TLS) from this config file's `[export.kafka.librdkafka]`;
    /// producer-only ones are skipped.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Give up when no broker answers within this many milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub timeout_ms: u64,
}

/// The reader's settings from the flags (and the config file's librdkafka properties).
fn reader_options(args: &ConsumeArgs) -> Result<ReaderOptions, RunError> {
    let start = match (&args.offset, args.from_beginning, &args.group) {
        (Some(o), _, _) => StartAt::parse(o).map_err(|e| RunError::Usage(e.to_string()))?,
        (None, true, _) => StartAt::Beginning,
        (None, false, Some(_)) => StartAt::Stored,
        (None, false, None) => StartAt::Beginning,
    };
    if start == StartAt::Stored && args.group.is_none() {
        return Err(RunError::Usage(
            "-o stored needs a consumer group (-G)".into(),
        ));
    }
    let kafka_file = match &args.config {
        Some(path) => Config::load(path)?.export.kafka,
        None => None,
    };
    let topics = if args.topics.is_empty() {
        let k = kafka_file.clone().unwrap_or_default();
        let mut t = vec![k.topic_http, k.topic_sessions];
        if args.alerts {
            t.push(k.topic_alerts);
        }
        t
    } else {
        args.topics.clone()
    };
    let mut properties: Vec<(String, String)> = kafka_file
        .iter()
        .flat_map(|k| k.librdkafka.iter())
        .map(|(name, v)| (name.clone(), v.to_string()))
        .collect();
    for p in &args.properties {
        let Some((name, value)) = p.split_once('=') else {
            return Err(RunError::Usage(format!("-X {p}: expected name=value")));
        };
        properties.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(ReaderOptions {
        brokers: args.brokers.clone(),
        topics,
        topics_named: !args.topics.is_empty(),
        start,
        group: args.group.clone(),
        follow: args.follow,
        properties,
        timeout: Duration::from_millis(args.timeout_ms),
    })
}

/// Run `apitap consume`. A closed stdout (`| head`) ends the command quietly.
pub fn run(args: &ConsumeArgs) -> Result<Outcome, RunError> {
    match consume(args) {
        Err(RunError::Print(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(Outcome::clean())
        }
        other => other,
    }
}

fn consume(args: &ConsumeArgs) -> Result<Outcome, RunError> {
    let ip = args
        .ip
        .as_deref()
        .map(IpMatch::parse)
        .transpose()
        .map_err(|e| RunError::Usage(e.to_string()))?;
    let mut filter = Filter::new(
        args.session.clone(),
        ip,
        args.endpoint.clone(),
        args.user.clone(),
    );
    if args.alerts {
        filter = filter.for_alerts(args.kind.clone());
    }
    if args.attacks {
        filter = filter.with_attacks();
    }
    let mut reader = Reader::open(reader_options(args)?)?;
    let paint = Paint {
        on: match args.color {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        },
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut follower = Follower::default();
    // Batch mode keeps the records: --user must see a whole session before choosing.
    let mut batch: Vec<(Vec<u8>, Option<Value>)> = Vec::new();
    let mut invalid = 0u64;
    while let Some(rec) = reader.next_record()? {
        let payload = rec.payload;
        let parsed: Option<Value> = serde_json::from_slice(&payload).ok();
        if parsed.is_none() {
            invalid += 1;
        }
        if !args.follow {
            if let Some(rec) = &parsed {
                filter.note(rec);
            }
            batch.push((payload, parsed));
            continue;
        }
        let Some(rec) = parsed else {
            if args.json && no_filter(&filter) {
                write_line(&mut out, &payload)?;
            }
            continue;
        };
        filter.note(&rec);
        if !filter.matches(&rec) {
            continue;
        }
        if args.json {
            write_line(&mut out, &payload)?;
        } else if args.alerts {
            let text = format!("{}\n", alert_line(&rec, paint));
            out.write_all(text.as_bytes()).map_err(RunError::Print)?;
        } else {
            let text = follower.on_record(&rec, paint);
            out.write_all(text.as_bytes()).map_err(RunError::Print)?;
        }
        out.flush().map_err(RunError::Print)?;
    }
    if !args.follow {
        print_batch(&mut out, batch, &filter, args, paint)?;
    }
    out.flush().map_err(RunError::Print)?;
    if invalid > 0 {
        eprintln!("apitap: {invalid} messages were not JSON records and were skipped");
    }
    Ok(Outcome::clean())
}

/// Batch mode's output, once every record is read: the matching records, or their timeline.
fn print_batch(
    out: &mut impl Write,
    batch: Vec<(Vec<u8>, Option<Value>)>,
    filter: &Filter,
    args: &ConsumeArgs,
    paint: Paint,
) -> Result<(), RunError> {
    let json = args.json;
    let mut timeline = Timeline::default();
    for (raw, parsed) in batch {
        match parsed {
            Some(rec) if json && filter.matches(&rec) => write_line(out, &raw)?,
            Some(rec) if !json && filter.keeps(&rec) => timeline.add(rec),
            Some(_) => {}
            None if json && no_filter(filter) => write_line(out, &raw)?,
            None => {}
        }
    }
    if !json {
        let empty = if args.alerts {
            timeline.alert_count() == 0
        } else {
            timeline.is_empty()
        };
        let text = if empty {
            eprintln!("apitap: no matching records");
            return Ok(());
        } else if args.alerts {
            timeline.render_alerts(paint)
        } else {
            timeline.render(paint)
        };
        out.write_all(text.as_bytes()).map_err(RunError::Print)?;
    }
    Ok(())
}

/// True when no filter was given (invalid messages then pass through `--json`).
fn no_filter(f: &Filter) -> bool {
    f.session.is_none()
        && f.ip.is_none()
        && f.endpoint.is_none()
        && f.user.is_none()
        && !f.alerts
        && !f.attacks
}

/// One record and a newline.
fn write_line(out: &mut impl Write, b: &[u8]) -> Result<(), RunError> {
    out.write_all(b)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(RunError::Print)
}
