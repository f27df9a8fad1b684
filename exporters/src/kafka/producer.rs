//! The Kafka exporter: records into librdkafka's bounded queue without ever blocking, delivery
//! reports sorted and counted, a bounded flush at shutdown.

use std::collections::BTreeMap;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;
use rdkafka::{ClientContext, Message};

use super::classify::{classify, drop_reason, ErrorClass};
use super::config::KafkaConfig;
use super::stats::{DeliveryCounters, Logs};
use crate::{EventMeta, ExportError, ExportStats, Exporter};

/// Header carrying the record type (`http`, `session`).
pub const HEADER_EVENT_TYPE: &str = "event_type";
/// Header carrying the record's `schema_version`.
pub const HEADER_SCHEMA_VERSION: &str = "schema_version";
/// Header carrying the sensor id (`export.sensor_id`, else the host name).
pub const HEADER_SENSOR_ID: &str = "sensor_id";
/// `client.id` the producer announces to brokers.
const CLIENT_ID: &str = "apitap";
/// How long the startup probe waits for broker metadata before saying the brokers are
/// unreachable (it runs on its own thread; capture does not wait for it).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// After purging what the shutdown flush could not deliver, how long to wait for the purge's
/// delivery reports (they are local; this is a bound, not an expected duration).
const PURGE_REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The producer could not be created.
#[derive(Debug, thiserror::Error)]
pub enum KafkaInitError {
    /// librdkafka refused the configuration (unknown property, bad value, conflicting settings).
    #[error("cannot create the Kafka producer: {0}")]
    Create(String),
}

/// librdkafka callbacks: delivery reports and client errors, counted and logged.
pub struct DeliveryContext {
    /// Outcomes of queued records.
    counters: DeliveryCounters,
    /// Rate-limited error logs.
    logs: Logs,
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            self.logs
                .librdkafka
                .log(|| format!("librdkafka {level:?} {fac}: {message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.logs
            .client
            .log(|| format!("client error: {reason} ({error})"));
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.counters.count(None),
            Err((e, msg)) => {
                let class = match e {
                    KafkaError::MessageProduction(code) => classify(*code),
                    _ => ErrorClass::Unknown,
                };
                self.counters.count(Some(class));
                if let Some(log) = self.logs.for_class(class) {
                    log.log(|| {
                        format!(
                            "delivery to topic {} failed ({}): {e}",
                            msg.topic(),
                            class.name()
                        )
                    });
                }
            }
        }
    }
}

/// Exports records to Kafka (`docs/kafka.md`).
///
/// Invariant: `stats.offered = stats.records + sum(stats.dropped)` after every `export`;
/// after `flush`, `stats.records = delivered + sum(delivery_failed) + undelivered_at_shutdown`.
pub struct KafkaExporter {
    producer: ThreadedProducer<DeliveryContext>,
    topic_http: String,
    topic_sessions: String,
    topic_alerts: String,
    sensor_id: String,
    schema_version: String,
    flush_timeout: Duration,
    /// Counters as of the last `export` or `flush`.
    stats: ExportStats,
    /// Delivery counters as last copied into `stats`.
    seen: [u64; 5],
    /// Records counted as undelivered without a purge report (should stay 0).
    unaccounted: u64,
    /// The startup reachability check.
    probe: Option<JoinHandle<()>>,
    /// Reused to join records exported in parts (librdkafka copies the payload).
    joined: Vec<u8>,
}

impl KafkaExporter {
    /// Create the producer (no connection is awaited) and start a background reachability
    /// probe that reports unreachable brokers on stderr.
    pub fn new(
        cfg: &KafkaConfig,
        sensor_id: &str,
        schema_version: u32,
    ) -> Result<Self, KafkaInitError> {
        cfg.validate().map_err(KafkaInitError::Create)?;
        let context = DeliveryContext {
            counters: DeliveryCounters::default(),
            logs: Logs::default(),
        };
        let producer: ThreadedProducer<DeliveryContext> = cfg
            .client_config(CLIENT_ID)
            .create_with_context(context)
            .map_err(|e| KafkaInitError::Create(e.to_string()))?;
        let probe = {
            let p = producer.clone();
            let brokers = cfg.brokers.join(",");
            let topics = [
                cfg.topic_http.clone(),
                cfg.topic_sessions.clone(),
                cfg.topic_alerts.clone(),
            ];
            let (bytes, msgs, timeout) = (
                cfg.max_buffer_bytes,
                cfg.max_buffer_messages,
                cfg.message_timeout_ms,
            );
            std::thread::Builder::new()
                .name("apitap-kafka-probe".into())
                .spawn(move || {
                    match p.client().fetch_metadata(None, PROBE_TIMEOUT) {
                        Ok(md) => {
                            for t in &topics {
                                if !md.topics().iter().any(|m| m.name() == t) {
                                    eprintln!(
                                        "apitap: kafka: topic {t} does not exist on {brokers}; unless the cluster \
                                         creates topics on first use, its records will fail (final): create it"
                                    );
                                }
                            }
                        }
                        Err(e) => eprintln!(
                            "apitap: kafka: cannot reach brokers {brokers} within {} s ({e}); \
                             capture continues, records are buffered (up to {bytes} bytes or {msgs} records, \
                             each for {timeout} ms) and sent when a broker answers",
                            PROBE_TIMEOUT.as_secs()
                        ),
                    }
                })
                .ok()
        };
        Ok(KafkaExporter {
            producer,
            topic_http: cfg.topic_http.clone(),
            topic_sessions: cfg.topic_sessions.clone(),
            topic_alerts: cfg.topic_alerts.clone(),
            sensor_id: sensor_id.to_owned(),
            schema_version: schema_version.to_string(),
            flush_timeout: Duration::from_millis(cfg.flush_timeout_ms),
            stats: ExportStats::default(),
            joined: Vec::new(),
            seen: [0; 5],
            unaccounted: 0,
            probe,
        })
    }

    /// Records librdkafka holds now: queued or sent, not yet acknowledged or failed.
    pub fn queued(&self) -> u64 {
        u64::try_from(self.producer.in_flight_count()).unwrap_or(0)
    }

    /// The topic of a record type: sessions and alerts to their own topics, everything else
    /// to the http topic.
    fn topic(&self, kind: &str) -> &str {
        match kind {
            "session" => &self.topic_sessions,
            "alert" => &self.topic_alerts,
            _ => &self.topic_http,
        }
    }

    /// Copy the delivery counters into `stats` (cheap: five relaxed loads when nothing changed).
    fn refresh(&mut self) {
        let now = self.producer.context().counters.load();
        if now == self.seen {
            return;
        }
        self.seen = now;
        let [delivered, retriable, final_, unknown, shutdown] = now;
        self.stats.delivered = delivered;
        for (class, n) in [
            (ErrorClass::Retriable, retriable),
            (ErrorClass::Final, final_),
            (ErrorClass::Unknown, unknown),
        ] {
            if n > 0 {
                set(&mut self.stats.delivery_failed, class.name(), n);
            }
        }
        self.stats.undelivered_at_shutdown = shutdown + self.unaccounted;
        self.update_failed();
    }

    /// `failed`: everything offered that did not arrive and is not in flight.
    fn update_failed(&mut self) {
        let s = &self.stats;
        self.stats.failed = s.dropped.values().sum::<u64>()
            + s.delivery_failed.values().sum::<u64>()
            + s.undelivered_at_shutdown;
    }
}

/// Set `map[key] = n`, allocating the key only the first time.
fn set(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match map.get_mut(key) {
        Some(v) => *v = n,
        None => {
            map.insert(key.to_owned(), n);
        }
    }
}

impl Exporter for KafkaExporter {
    /// Joined in a reused buffer: librdkafka takes one payload.
    fn export_parts(
        &mut self,
        meta: EventMeta<'_>,
        head: &[u8],
        tail: &[u8],
    ) -> Result<(), ExportError> {
        let mut joined = std::mem::take(&mut self.joined);
        crate::join_parts(&mut joined, head, tail);
        let r = self.export(meta, &joined);
        self.joined = joined;
        r
    }

    fn export(&mut self, meta: EventMeta<'_>, json: &[u8]) -> Result<(), ExportError> {
        self.stats.offered += 1;
        let headers = OwnedHeaders::new_with_capacity(3)
            .insert(Header {
                key: HEADER_EVENT_TYPE,
                value: Some(meta.kind),
            })
            .insert(Header {
                key: HEADER_SCHEMA_VERSION,
                value: Some(&self.schema_version),
            })
            .insert(Header {
                key: HEADER_SENSOR_ID,
                value: Some(&self.sensor_id),
            });
        let mut record = BaseRecord::<str, [u8]>::to(self.topic(meta.kind))
            .payload(json)
            .headers(headers);
        if let Some(key) = meta.key {
            record = record.key(key);
        }
        // Never blocks: a full queue is reported at once and the record dropped, counted.
        match self.producer.send(record) {
            Ok(()) => {
                self.stats.records += 1;
                self.stats.bytes += json.len() as u64;
            }
            Err((e, _)) => {
                let reason = match &e {
                    KafkaError::MessageProduction(code) => drop_reason(*code),
                    _ => "other",
                };
                let n = self.stats.dropped.get(reason).copied().unwrap_or(0) + 1;
                set(&mut self.stats.dropped, reason, n);
                self.update_failed();
                let len = json.len();
                self.producer
                    .context()
                    .logs
                    .dropped
                    .log(|| format!("record of {len} bytes dropped ({reason}): {e}"));
            }
        }
        self.refresh();
        Ok(())
    }

    /// The shutdown flush: wait up to `flush_timeout_ms` for every queued record, then purge
    /// what is left and count it as `undelivered_at_shutdown`. Call once, at the end.
    fn flush(&mut self) -> Result<(), ExportError> {
        if let Some(p) = self.probe.take() {
            let _ = p.join();
        }
        if self
            .producer
            .flush(Timeout::After(self.flush_timeout))
            .is_err()
        {
            let left = self.producer.in_flight_count();
            eprintln!(
                "apitap: kafka: {left} records still queued after the {} ms flush timeout; giving up on them",
                self.flush_timeout.as_millis()
            );
            self.producer
                .purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
            let _ = self.producer.flush(Timeout::After(PURGE_REPORT_TIMEOUT));
        }
        self.seen = [u64::MAX; 5];
        self.refresh();
        // Every queued record has had its report unless librdkafka broke its promise; count
        // any difference rather than trust it.
        let missing = self.stats.in_flight();
        if missing > 0 {
            eprintln!("apitap: kafka: {missing} records without a delivery report at shutdown");
            self.unaccounted += missing;
            self.seen = [u64::MAX; 5];
            self.refresh();
        }
        debug_assert_eq!(self.stats.in_flight(), 0);
        Ok(())
    }

    fn stats(&self) -> &ExportStats {
        &self.stats
    }
}
