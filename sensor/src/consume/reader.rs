//! Reading apitap topics: partitions assigned by hand (or through a consumer group with
//! `-G`), read to their end (or followed), one record at a time. What is done with the
//! records (filters, the timeline) is `cmd/consume.rs`'s business.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use apitap_exporters::kafka::producer::HEADER_SENSOR_ID;
use apitap_exporters::kafka::reach::{wait_for_brokers, HealthContext, Unreachable};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// How long one `poll` waits for a record before the loop checks whether it is done.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// With `-G`, how long to wait for the group to assign partitions.
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Consumer errors (broker down...) logged at most once per this interval.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// `-o` was given something kcat would not take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("-o {0}: expected beginning, end, stored, an offset N or -N")]
pub struct OffsetError(String);

/// Where to start reading (`-o`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// The earliest offset.
    Beginning,
    /// The end: only records that arrive from now on.
    End,
    /// The group's committed offset (`-G`).
    Stored,
    /// This offset.
    Absolute(i64),
    /// This many records before the end.
    Tail(i64),
}

impl StartAt {
    /// Parse kcat's `-o` syntax.
    pub fn parse(s: &str) -> Result<Self, OffsetError> {
        match s {
            "beginning" => Ok(StartAt::Beginning),
            "end" => Ok(StartAt::End),
            "stored" => Ok(StartAt::Stored),
            _ => match s.parse::<i64>() {
                Ok(n) if n < 0 => Ok(StartAt::Tail(-n)),
                Ok(n) => Ok(StartAt::Absolute(n)),
                Err(_) => Err(OffsetError(s.to_owned())),
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
fn cached_watermarks(
    consumer: &BaseConsumer<HealthContext>,
    topic: &str,
    partition: i32,
) -> Option<(i64, i64)> {
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
fn at_end(
    consumer: &BaseConsumer<HealthContext>,
    topic: &str,
    partition: i32,
    pos: Position,
) -> bool {
    let Some((low, high)) = cached_watermarks(consumer, topic, partition) else {
        return false;
    };
    let next = match pos {
        Position::Next(n) => n,
        Position::Start(s) => s.resolve(low.max(0), high),
    };
    next >= high
}

/// Why the topics cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A flag or property librdkafka refuses.
    #[error("{0}")]
    Usage(String),
    /// No broker answered: unresolvable, refused, or silent until the timeout.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// A topic named with `-t` does not exist, or none of the default ones does.
    #[error("{0}")]
    NoTopic(String),
    /// The consumer could not be set up (subscription, assignment, group, offsets).
    #[error("{0}")]
    Consumer(String),
}

/// What to read and from where.
#[derive(Debug)]
pub struct ReaderOptions {
    /// Bootstrap brokers, `host:port,host:port`.
    pub brokers: String,
    /// Topics to read.
    pub topics: Vec<String>,
    /// True when the topics were named (`-t`): a missing one is an error, not skipped.
    pub topics_named: bool,
    /// Where to start.
    pub start: StartAt,
    /// Consumer group (`-G`).
    pub group: Option<String>,
    /// Keep reading at the end of the partitions.
    pub follow: bool,
    /// librdkafka properties, applied in order (the config file's, then `-X`).
    pub properties: Vec<(String, String)>,
    /// How long to wait for brokers.
    pub timeout: Duration,
}

/// One record read.
#[derive(Debug)]
pub struct Record {
    /// Its payload.
    pub payload: Vec<u8>,
    /// The sensor that wrote it: the message's `sensor_id` header, when it has one.
    pub sensor_id: Option<String>,
}

/// An open reader of apitap topics.
pub struct Reader {
    consumer: BaseConsumer<HealthContext>,
    opts: ReaderOptions,
    /// Partitions not yet read to their end (`-e`), with the position in each. A partition is
    /// done when librdkafka reports its end (PartitionEOF) and the position has reached the
    /// high watermark of the last fetch; that watermark, not ListOffsets, is what every
    /// broker reports correctly.
    pending: HashMap<(String, i32), Position>,
    /// With `-G`: the group has assigned partitions.
    group_ready: bool,
    /// When the subscription was made.
    assigned_since: Instant,
    /// The last consumer error printed.
    last_error_log: Option<Instant>,
}

/// The consumer: brokers, then `properties` in order.
fn create_consumer(opts: &ReaderOptions) -> Result<BaseConsumer<HealthContext>, ReadError> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &opts.brokers)
        .set("client.id", "apitap-consume")
        .set("enable.partition.eof", "true");
    match &opts.group {
        Some(g) => {
            let reset = if opts.start == StartAt::Beginning {
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
    for (name, value) in &opts.properties {
        c.set(name, value);
    }
    c.create_with_context(HealthContext::default())
        .map_err(|e| ReadError::Usage(format!("cannot create the Kafka consumer: {e}")))
}

impl Reader {
    /// Connect, check the topics and assign (or subscribe to) their partitions.
    pub fn open(opts: ReaderOptions) -> Result<Reader, ReadError> {
        let consumer = create_consumer(&opts)?;
        // A refused or unresolvable broker is reported as soon as librdkafka meets it.
        let md = wait_for_brokers(
            consumer.client(),
            &consumer.context().health,
            &opts.brokers,
            opts.timeout,
            || {
                // Serves librdkafka's log events (where connection failures are told);
                // nothing is assigned yet, so no record is consumed here.
                let _ = consumer.poll(Duration::ZERO);
            },
        )?;
        let mut present: Vec<(String, Vec<i32>)> = Vec::new();
        for t in &opts.topics {
            match md.topics().iter().find(|m| m.name() == t) {
                Some(m) if !m.partitions().is_empty() => {
                    present.push((t.clone(), m.partitions().iter().map(|p| p.id()).collect()));
                }
                _ if opts.topics_named => {
                    return Err(ReadError::NoTopic(format!(
                        "topic {t} does not exist on {}",
                        opts.brokers
                    )));
                }
                _ => eprintln!("apitap: topic {t} does not exist yet; skipped"),
            }
        }
        if present.is_empty() {
            return Err(ReadError::NoTopic(format!(
                "none of the topics {} exists on {}",
                opts.topics.join(", "),
                opts.brokers
            )));
        }
        let mut pending = HashMap::new();
        if opts.group.is_some() {
            let names: Vec<&str> = present.iter().map(|(t, _)| t.as_str()).collect();
            consumer.subscribe(&names).map_err(|e| {
                ReadError::Consumer(format!("cannot subscribe to {}: {e}", names.join(", ")))
            })?;
        } else {
            let mut tpl = TopicPartitionList::new();
            for (t, parts) in &present {
                for &p in parts {
                    pending.insert((t.clone(), p), Position::Start(opts.start));
                    tpl.add_partition_offset(t, p, opts.start.offset())
                        .map_err(|e| ReadError::Consumer(format!("bad offset for {t}/{p}: {e}")))?;
                }
            }
            consumer
                .assign(&tpl)
                .map_err(|e| ReadError::Consumer(format!("cannot assign partitions: {e}")))?;
        }
        Ok(Reader {
            consumer,
            group_ready: opts.group.is_none(),
            opts,
            pending,
            assigned_since: Instant::now(),
            last_error_log: None,
        })
    }

    /// With `-G`: once the group has assigned partitions, learn where each one starts.
    fn wait_for_group(&mut self) -> Result<(), ReadError> {
        let assignment = self
            .consumer
            .assignment()
            .map_err(|e| ReadError::Consumer(format!("cannot read the group's assignment: {e}")))?;
        if assignment.count() > 0 {
            self.group_ready = true;
            let committed = self
                .consumer
                .committed_offsets(assignment.clone(), self.opts.timeout)
                .map_err(|e| ReadError::Consumer(format!("cannot read committed offsets: {e}")))?;
            for el in committed.elements() {
                let from = match el.offset() {
                    Offset::Offset(n) => Position::Next(n),
                    _ => Position::Start(self.opts.start),
                };
                self.pending
                    .insert((el.topic().to_owned(), el.partition()), from);
            }
        } else if self.assigned_since.elapsed() > ASSIGNMENT_TIMEOUT {
            return Err(ReadError::Consumer(format!(
                "the group {} assigned no partition within {} s",
                self.opts.group.as_deref().unwrap_or(""),
                ASSIGNMENT_TIMEOUT.as_secs()
            )));
        }
        Ok(())
    }

    /// The next record; None at the end of every partition (never with `follow`).
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        loop {
            if !self.group_ready {
                self.wait_for_group()?;
            }
            if self.group_ready && !self.opts.follow && self.pending.is_empty() {
                return Ok(None);
            }
            let (consumer, pending) = (&self.consumer, &mut self.pending);
            match consumer.poll(POLL_INTERVAL) {
                None => {
                    // Idle: a partition whose end event was missed (or attributed to another
                    // topic's partition of the same number) is done when it is at its watermark.
                    if !self.opts.follow {
                        pending.retain(|(t, part), pos| !at_end(consumer, t, *part, *pos));
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    // The event names the partition, not the topic: check each topic's.
                    pending
                        .retain(|(t, part), pos| *part != p || !at_end(consumer, t, *part, *pos));
                }
                Some(Err(e)) => {
                    if self
                        .last_error_log
                        .is_none_or(|t| t.elapsed() >= ERROR_LOG_INTERVAL)
                    {
                        eprintln!("apitap: kafka: {e}");
                        self.last_error_log = Some(Instant::now());
                    }
                }
                Some(Ok(m)) => {
                    if let Some(pos) = pending.get_mut(&(m.topic().to_owned(), m.partition())) {
                        *pos = Position::Next(m.offset() + 1);
                    }
                    let sensor_id = m.headers().and_then(|h| {
                        h.iter()
                            .find(|h| h.key == HEADER_SENSOR_ID)
                            .and_then(|h| h.value)
                            .and_then(|v| std::str::from_utf8(v).ok())
                            .map(str::to_owned)
                    });
                    return Ok(Some(Record {
                        payload: m.payload().unwrap_or_default().to_vec(),
                        sensor_id,
                    }));
                }
            }
        }
    }
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
