//! Reading apitap topics: partitions assigned by hand (or through a consumer group with
//! `-G`), records filtered, then printed as a timeline or passed through (`--json`).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use apitap_exporters::kafka::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;

use super::filter::{Filter, IpMatch};
use super::timeline::{alert_line, Follower, Paint, Timeline};
use crate::cli::{load_config, ColorMode, ConsumeArgs};
use crate::exit;

/// How long one `poll` waits for a record before the loop checks whether it is done.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// With `-G`, how long to wait for the group to assign partitions.
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Consumer errors (broker down...) logged at most once per this interval.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Where to start reading (`-o`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StartAt {
    Beginning,
    End,
    Stored,
    Absolute(i64),
    Tail(i64),
}

impl StartAt {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "beginning" => Ok(StartAt::Beginning),
            "end" => Ok(StartAt::End),
            "stored" => Ok(StartAt::Stored),
            _ => match s.parse::<i64>() {
                Ok(n) if n < 0 => Ok(StartAt::Tail(-n)),
                Ok(n) => Ok(StartAt::Absolute(n)),
                Err(_) => Err(format!(
                    "-o {s}: expected beginning, end, stored, an offset N or -N"
                )),
            },
        }
    }

    /// The first offset read from a partition whose offsets run `low..high`.
    fn resolve(self, low: i64, high: i64) -> i64 {
        match self {
            StartAt::Beginning => low,
            StartAt::End | StartAt::Stored => high,
            StartAt::Absolute(n) => n.clamp(low, high),
            StartAt::Tail(n) => high.saturating_sub(n).max(low),
        }
    }

    fn offset(self) -> Offset {
        match self {
            StartAt::Beginning => Offset::Beginning,
            StartAt::End => Offset::End,
            StartAt::Stored => Offset::Stored,
            StartAt::Absolute(n) => Offset::Offset(n),
            StartAt::Tail(n) => Offset::OffsetTail(n),
        }
    }
}

/// Where a partition is: nothing read yet, or the next offset to read.
#[derive(Clone, Copy, Debug)]
enum Position {
    Start(StartAt),
    Next(i64),
}

/// The watermarks librdkafka cached from the last fetch response of a partition
/// (`rd_kafka_get_watermark_offsets`: local, no request); None before the first fetch.
fn cached_watermarks(consumer: &BaseConsumer, topic: &str, partition: i32) -> Option<(i64, i64)> {
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid while `consumer` lives; the topic is a valid C
    // string for the call; librdkafka writes only the two out-parameters.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some((low, high))
}

/// True when `topic/partition` has been read up to the high watermark of the last fetch.
fn at_end(consumer: &BaseConsumer, topic: &str, partition: i32, pos: Position) -> bool {
    let Some((low, high)) = cached_watermarks(consumer, topic, partition) else {
        return false;
    };
    let next = match pos {
        Position::Next(n) => n,
        Position::Start(s) => s.resolve(low.max(0), high),
    };
    next >= high
}

/// What went wrong, with the exit code it maps to.
struct Fail(i32, String);

/// Run `apitap consume`; returns the exit code.
pub fn run(args: &ConsumeArgs) -> i32 {
    match consume(args) {
        Ok(()) => exit::OK,
        Err(Fail(code, msg)) => {
            if !msg.is_empty() {
                eprintln!("apitap: {msg}");
            }
            code
        }
    }
}

fn usage(msg: String) -> Fail {
    Fail(exit::USAGE, msg)
}

fn consume(args: &ConsumeArgs) -> Result<(), Fail> {
    let ip = args
        .ip
        .as_deref()
        .map(IpMatch::parse)
        .transpose()
        .map_err(usage)?;
    let start = match (&args.offset, args.from_beginning, &args.group) {
        (Some(o), _, _) => StartAt::parse(o).map_err(usage)?,
        (None, true, _) => StartAt::Beginning,
        (None, false, Some(_)) => StartAt::Stored,
        (None, false, None) => StartAt::Beginning,
    };
    if start == StartAt::Stored && args.group.is_none() {
        return Err(usage("-o stored needs a consumer group (-G)".into()));
    }
    let mut filter = Filter::new(
        args.session.clone(),
        ip,
        args.endpoint.clone(),
        args.user.clone(),
    );
    if args.alerts {
        filter = filter.for_alerts(args.kind.clone());
    }
    let kafka_file = match &args.config {
        Some(path) => {
            let cfg = load_config(Some(path)).map_err(|code| Fail(code, String::new()))?;
            cfg.export.kafka
        }
        None => None,
    };
    let topics: Vec<String> = if args.topics.is_empty() {
        let k = kafka_file.clone().unwrap_or_default();
        let mut t = vec![k.topic_http, k.topic_sessions];
        if args.alerts {
            t.push(k.topic_alerts);
        }
        t
    } else {
        args.topics.clone()
    };
    let consumer = create_consumer(args, kafka_file.as_ref(), start)?;
    let timeout = Duration::from_millis(args.timeout_ms);

    let md = consumer.fetch_metadata(None, timeout).map_err(|e| {
        usage(format!(
            "cannot reach brokers {} within {} ms: {e}",
            args.brokers, args.timeout_ms
        ))
    })?;
    let mut present: Vec<(String, Vec<i32>)> = Vec::new();
    for t in &topics {
        match md.topics().iter().find(|m| m.name() == t) {
            Some(m) if !m.partitions().is_empty() => {
                present.push((t.clone(), m.partitions().iter().map(|p| p.id()).collect()));
            }
            _ if !args.topics.is_empty() => {
                return Err(usage(format!(
                    "topic {t} does not exist on {}",
                    args.brokers
                )));
            }
            _ => eprintln!("apitap: topic {t} does not exist yet; skipped"),
        }
    }
    if present.is_empty() {
        return Err(usage(format!(
            "none of the topics {} exists on {}",
            topics.join(", "),
            args.brokers
        )));
    }

    // Partitions not yet read to their end (`-e`), with the next offset consumed from each
    // (None: nothing yet, the start offset applies). A partition is done when librdkafka
    // reports its end (PartitionEOF) and the position has reached the high watermark of the
    // last fetch; that watermark, not ListOffsets, is what every broker reports correctly.
    let follow = args.follow;
    let mut pending: HashMap<(String, i32), Position> = HashMap::new();
    if args.group.is_some() {
        let names: Vec<&str> = present.iter().map(|(t, _)| t.as_str()).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| usage(format!("cannot subscribe to {}: {e}", names.join(", "))))?;
    } else {
        let mut tpl = TopicPartitionList::new();
        for (t, parts) in &present {
            for &p in parts {
                pending.insert((t.clone(), p), Position::Start(start));
                tpl.add_partition_offset(t, p, start.offset())
                    .map_err(|e| usage(format!("bad offset for {t}/{p}: {e}")))?;
            }
        }
        consumer
            .assign(&tpl)
            .map_err(|e| usage(format!("cannot assign partitions: {e}")))?;
    }
    let mut group_ready = args.group.is_none();
    let assigned_since = Instant::now();

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
    let mut last_error_log: Option<Instant> = None;

    loop {
        if !group_ready {
            let assignment = consumer
                .assignment()
                .map_err(|e| usage(format!("cannot read the group's assignment: {e}")))?;
            if assignment.count() > 0 {
                group_ready = true;
                let committed = consumer
                    .committed_offsets(assignment.clone(), timeout)
                    .map_err(|e| usage(format!("cannot read committed offsets: {e}")))?;
                for el in committed.elements() {
                    let from = match el.offset() {
                        Offset::Offset(n) => Position::Next(n),
                        _ => Position::Start(start),
                    };
                    pending.insert((el.topic().to_owned(), el.partition()), from);
                }
            } else if assigned_since.elapsed() > ASSIGNMENT_TIMEOUT {
                return Err(usage(format!(
                    "the group {} assigned no partition within {} s",
                    args.group.as_deref().unwrap_or(""),
                    ASSIGNMENT_TIMEOUT.as_secs()
                )));
            }
        }
        if group_ready && !follow && pending.is_empty() {
            break;
        }
        let msg = match consumer.poll(POLL_INTERVAL) {
            None => {
                // Idle: a partition whose end event was missed (or attributed to another
                // topic's partition of the same number) is done when it is at its watermark.
                if !follow {
                    pending.retain(|(t, part), pos| !at_end(&consumer, t, *part, *pos));
                }
                continue;
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                // The event names the partition, not the topic: check each topic's.
                pending.retain(|(t, part), pos| *part != p || !at_end(&consumer, t, *part, *pos));
                continue;
            }
            Some(Err(e)) => {
                if last_error_log.is_none_or(|t| t.elapsed() >= ERROR_LOG_INTERVAL) {
                    eprintln!("apitap: kafka: {e}");
                    last_error_log = Some(Instant::now());
                }
                continue;
            }
            Some(Ok(m)) => m,
        };
        if let Some(pos) = pending.get_mut(&(msg.topic().to_owned(), msg.partition())) {
            *pos = Position::Next(msg.offset() + 1);
        }
        let payload = msg.payload().unwrap_or_default();
        let parsed: Option<Value> = serde_json::from_slice(payload).ok();
        if parsed.is_none() {
            invalid += 1;
        }
        if follow {
            let Some(rec) = parsed else {
                if args.json && no_filter(&filter) {
                    write_line(&mut out, payload)?;
                }
                continue;
            };
            filter.note_user(&rec);
            if !filter.matches(&rec) {
                continue;
            }
            if args.json {
                write_line(&mut out, payload)?;
            } else if args.alerts {
                let text = format!("{}\n", alert_line(&rec, paint));
                write_all(&mut out, text.as_bytes())?;
            } else {
                let text = follower.on_record(&rec, paint);
                write_all(&mut out, text.as_bytes())?;
            }
            flush(&mut out)?;
        } else {
            if let Some(rec) = &parsed {
                filter.note_user(rec);
            }
            batch.push((payload.to_vec(), parsed));
        }
    }

    if !follow {
        let mut timeline = Timeline::default();
        for (raw, parsed) in batch {
            match parsed {
                Some(rec) if args.json && filter.matches(&rec) => write_line(&mut out, &raw)?,
                Some(rec) if !args.json && filter.keeps(&rec) => timeline.add(rec),
                Some(_) => {}
                None if args.json && no_filter(&filter) => write_line(&mut out, &raw)?,
                None => {}
            }
        }
        if !args.json {
            let empty = if args.alerts {
                timeline.alert_count() == 0
            } else {
                timeline.is_empty()
            };
            if empty {
                eprintln!("apitap: no matching records");
            } else if args.alerts {
                write_all(&mut out, timeline.render_alerts(paint).as_bytes())?;
            } else {
                write_all(&mut out, timeline.render(paint).as_bytes())?;
            }
        }
    }
    flush(&mut out)?;
    if invalid > 0 {
        eprintln!("apitap: {invalid} messages were not JSON records and were skipped");
    }
    Ok(())
}

/// True when no filter was given (invalid messages then pass through `--json`).
fn no_filter(f: &Filter) -> bool {
    f.session.is_none() && f.ip.is_none() && f.endpoint.is_none() && f.user.is_none() && !f.alerts
}

/// The consumer: brokers, the config file's librdkafka properties, then `-X` ones.
fn create_consumer(
    args: &ConsumeArgs,
    from_file: Option<&KafkaConfig>,
    start: StartAt,
) -> Result<BaseConsumer, Fail> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &args.brokers)
        .set("client.id", "apitap-consume")
        .set("enable.partition.eof", "true");
    if let Some(k) = from_file {
        for (name, v) in &k.librdkafka {
            c.set(name, v.to_string());
        }
    }
    match &args.group {
        Some(g) => {
            let reset = if start == StartAt::Beginning {
                "earliest"
            } else {
                "latest"
            };
            c.set("group.id", g)
                .set("enable.auto.commit", "true")
                .set("auto.offset.reset", reset);
        }
        None => {
            // librdkafka wants a group id even for hand-assigned partitions; nothing is
            // committed, so the group is never joined.
            c.set("group.id", "apitap-consume")
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest");
        }
    }
    for p in &args.properties {
        let Some((name, value)) = p.split_once('=') else {
            return Err(usage(format!("-X {p}: expected name=value")));
        };
        c.set(name.trim(), value.trim());
    }
    c.create()
        .map_err(|e| usage(format!("cannot create the Kafka consumer: {e}")))
}

/// Write errors: a closed pipe (`| head`) ends quietly, anything else is exit 3.
fn write_err(e: std::io::Error) -> Fail {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Fail(exit::OK, String::new())
    } else {
        Fail(exit::OUTPUT_FAILED, format!("cannot write output: {e}"))
    }
}

fn write_all(out: &mut impl Write, b: &[u8]) -> Result<(), Fail> {
    out.write_all(b).map_err(write_err)
}

fn write_line(out: &mut impl Write, b: &[u8]) -> Result<(), Fail> {
    out.write_all(b)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(write_err)
}

fn flush(out: &mut impl Write) -> Result<(), Fail> {
    out.flush().map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_kcat() {
        assert_eq!(StartAt::parse("beginning"), Ok(StartAt::Beginning));
        assert_eq!(StartAt::parse("end"), Ok(StartAt::End));
        assert_eq!(StartAt::parse("42"), Ok(StartAt::Absolute(42)));
        assert_eq!(StartAt::parse("-5"), Ok(StartAt::Tail(5)));
        assert!(StartAt::parse("soon").is_err());
    }

    #[test]
    fn start_offsets_resolve_within_the_partition() {
        assert_eq!(StartAt::Beginning.resolve(3, 10), 3);
        assert_eq!(StartAt::End.resolve(3, 10), 10);
        assert_eq!(StartAt::Tail(4).resolve(3, 10), 6);
        assert_eq!(StartAt::Tail(40).resolve(3, 10), 3);
        assert_eq!(StartAt::Absolute(99).resolve(3, 10), 10);
    }
}
