//! `[export.kafka]`: brokers, topics, buffer bounds and librdkafka pass-through properties.

use std::collections::BTreeMap;
use std::fmt;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

/// librdkafka properties set from typed fields; the `librdkafka` table may not repeat them
/// (the pair would be two sources of truth). Each maps to the field that owns it.
const OWNED_PROPERTIES: &[(&str, &str)] = &[
    ("bootstrap.servers", "brokers"),
    ("metadata.broker.list", "brokers"),
    ("queue.buffering.max.kbytes", "max_buffer_bytes"),
    ("queue.buffering.max.messages", "max_buffer_messages"),
    ("message.timeout.ms", "message_timeout_ms"),
    ("delivery.timeout.ms", "message_timeout_ms"),
    ("linger.ms", "linger_ms"),
    ("queue.buffering.max.ms", "linger_ms"),
    ("batch.size", "batch_bytes"),
    ("compression.type", "compression"),
    ("compression.codec", "compression"),
];

/// librdkafka properties the exporter cannot work with, and why.
const FORBIDDEN_PROPERTIES: &[(&str, &str)] = &[
    (
        "delivery.report.only.error",
        "the exporter counts every delivery report; without successes it cannot tell delivered from in flight",
    ),
    (
        "transactional.id",
        "transactions are not used; idempotence (the default) already keeps each partition free of duplicates",
    ),
];

/// Substrings of property names whose values are secrets, shown as `[redacted]`.
const SECRET_PROPERTY_MARKERS: &[&str] = &["password", "secret", "sasl.oauthbearer.config", "pem"];

/// Largest `queue.buffering.max.kbytes` librdkafka accepts (its documented maximum).
const MAX_BUFFER_KBYTES: u64 = 2_147_483_647;
/// Largest `queue.buffering.max.messages` librdkafka accepts (its documented maximum).
const MAX_BUFFER_MESSAGES: u64 = 2_147_483_647;
/// Largest `linger.ms` librdkafka accepts (its documented maximum).
const MAX_LINGER_MS: u64 = 900_000;
/// Largest `message.timeout.ms` librdkafka accepts (its documented maximum).
const MAX_MESSAGE_TIMEOUT_MS: u64 = 2_147_483_647;

/// One librdkafka property value: TOML strings, integers and booleans are passed as text.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum PropertyValue {
    /// A string, passed as is.
    Text(String),
    /// An integer, passed in decimal.
    Integer(i64),
    /// A boolean, passed as `true` / `false`.
    Bool(bool),
}

impl fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyValue::Text(s) => f.write_str(s),
            PropertyValue::Integer(n) => write!(f, "{n}"),
            PropertyValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `[export.kafka]`. Presence of the section (or `--kafka-brokers`) selects Kafka export.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port` each (librdkafka `bootstrap.servers`). Required.
    pub brokers: Vec<String>,
    /// Topic of `http` records (and of any record type without its own topic).
    pub topic_http: String,
    /// Topic of `session` records.
    pub topic_sessions: String,
    /// Topic of `alert` records.
    pub topic_alerts: String,
    /// Memory for records waiting for the broker (librdkafka `queue.buffering.max.kbytes`,
    /// rounded up to KiB). Beyond it records are dropped and counted (`queue_full`).
    pub max_buffer_bytes: u64,
    /// Records waiting for the broker (librdkafka `queue.buffering.max.messages`); the other
    /// bound of the same queue.
    pub max_buffer_messages: u64,
    /// How long a queued record waits for a broker before it fails (retriable class),
    /// including retries (librdkafka `message.timeout.ms`).
    pub message_timeout_ms: u64,
    /// How long the shutdown flush waits for outstanding records; what is left then is
    /// counted as `undelivered_at_shutdown`.
    pub flush_timeout_ms: u64,
    /// How long the producer waits to fill a batch (librdkafka `linger.ms`).
    pub linger_ms: u64,
    /// Largest batch sent to one partition (librdkafka `batch.size`).
    pub batch_bytes: u64,
    /// Compression codec: `none`, `gzip`, `snappy`, `lz4` or `zstd` (librdkafka
    /// `compression.type`; `zstd` needs librdkafka built with it).
    pub compression: String,
    /// Any other librdkafka property, passed through unchanged: SASL, TLS, `acks`,
    /// `enable.idempotence`... Secret values are redacted when the config is printed.
    pub librdkafka: BTreeMap<String, PropertyValue>,
}

/// Default topic of `http` records.
fn default_topic_http() -> String {
    "apitap.http".into()
}

/// Default topic of `session` records.
fn default_topic_sessions() -> String {
    "apitap.sessions".into()
}

/// Default topic of `alert` records.
fn default_topic_alerts() -> String {
    "apitap.alerts".into()
}

/// 256 MiB: minutes of records at tens of thousands of records/s, a bounded share of a sensor's
/// memory (librdkafka's own default is 1 GiB).
fn default_max_buffer_bytes() -> u64 {
    256 * 1024 * 1024
}

/// 1,000,000 records: with typical 0.5-2 KiB records the byte bound is reached first.
fn default_max_buffer_messages() -> u64 {
    1_000_000
}

/// 5 min: a broker restart or leader election is ridden out; longer outages fill the buffer.
fn default_message_timeout_ms() -> u64 {
    300_000
}

/// 30 s: long enough to drain a full buffer to a healthy cluster, short enough for a
/// service manager's stop timeout.
fn default_flush_timeout_ms() -> u64 {
    30_000
}

/// 20 ms: full batches (good compression, fewer requests) at a latency nobody investigating
/// API traffic notices (librdkafka's default is 5 ms).
fn default_linger_ms() -> u64 {
    20
}

/// 1,000,000 bytes: librdkafka's default, the broker's default `message.max.bytes`.
fn default_batch_bytes() -> u64 {
    1_000_000
}

/// lz4: the cheapest codec per byte saved on JSON, built into librdkafka.
fn default_compression() -> String {
    "lz4".into()
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: Vec::new(),
            topic_http: default_topic_http(),
            topic_sessions: default_topic_sessions(),
            topic_alerts: default_topic_alerts(),
            max_buffer_bytes: default_max_buffer_bytes(),
            max_buffer_messages: default_max_buffer_messages(),
            message_timeout_ms: default_message_timeout_ms(),
            flush_timeout_ms: default_flush_timeout_ms(),
            linger_ms: default_linger_ms(),
            batch_bytes: default_batch_bytes(),
            compression: default_compression(),
            librdkafka: BTreeMap::new(),
        }
    }
}

/// True when a property's value is a secret (passwords, keys, OAuth config).
pub fn is_secret_property(name: &str) -> bool {
    SECRET_PROPERTY_MARKERS.iter().any(|m| name.contains(m))
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Props<'a>(&'a BTreeMap<String, PropertyValue>);
        impl fmt::Debug for Props<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut m = f.debug_map();
                for (k, v) in self.0 {
                    if is_secret_property(k) {
                        m.entry(k, &"[redacted]");
                    } else {
                        m.entry(k, &v.to_string());
                    }
                }
                m.finish()
            }
        }
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("topic_http", &self.topic_http)
            .field("topic_sessions", &self.topic_sessions)
            .field("topic_alerts", &self.topic_alerts)
            .field("max_buffer_bytes", &self.max_buffer_bytes)
            .field("max_buffer_messages", &self.max_buffer_messages)
            .field("message_timeout_ms", &self.message_timeout_ms)
            .field("flush_timeout_ms", &self.flush_timeout_ms)
            .field("linger_ms", &self.linger_ms)
            .field("batch_bytes", &self.batch_bytes)
            .field("compression", &self.compression)
            .field("librdkafka", &Props(&self.librdkafka))
            .finish()
    }
}

impl KafkaConfig {
    /// A default config for these brokers (`--kafka-brokers a:9092,b:9092`).
    pub fn with_brokers(list: &str) -> Self {
        KafkaConfig {
            brokers: split_brokers(list),
            ..KafkaConfig::default()
        }
    }

    /// Reject values that cannot work, including properties librdkafka does not know or
    /// whose value it refuses; the message names the field or property.
    pub fn validate(&self) -> Result<(), String> {
        if self.brokers.iter().all(|b| b.trim().is_empty()) {
            return Err(
                "export.kafka.brokers is empty; list at least one broker as \"host:port\"".into(),
            );
        }
        for (name, topic) in [
            ("topic_http", &self.topic_http),
            ("topic_sessions", &self.topic_sessions),
            ("topic_alerts", &self.topic_alerts),
        ] {
            if topic.trim().is_empty() {
                return Err(format!("export.kafka.{name} is empty"));
            }
        }
        let bounds = [
            (
                "max_buffer_bytes",
                self.max_buffer_bytes,
                1024,
                MAX_BUFFER_KBYTES * 1024,
            ),
            (
                "max_buffer_messages",
                self.max_buffer_messages,
                1,
                MAX_BUFFER_MESSAGES,
            ),
            (
                "message_timeout_ms",
                self.message_timeout_ms,
                1,
                MAX_MESSAGE_TIMEOUT_MS,
            ),
            ("linger_ms", self.linger_ms, 0, MAX_LINGER_MS),
            ("batch_bytes", self.batch_bytes, 1, i32::MAX as u64),
        ];
        for (name, v, lo, hi) in bounds {
            if v < lo || v > hi {
                return Err(format!(
                    "export.kafka.{name} = {v} is out of range ({lo} to {hi})"
                ));
            }
        }
        for key in self.librdkafka.keys() {
            if let Some((_, field)) = OWNED_PROPERTIES.iter().find(|(p, _)| p == key) {
                return Err(format!(
                    "export.kafka.librdkafka.\"{key}\" conflicts with export.kafka.{field}; set {field} instead"
                ));
            }
            if let Some((_, why)) = FORBIDDEN_PROPERTIES.iter().find(|(p, _)| p == key) {
                return Err(format!(
                    "export.kafka.librdkafka.\"{key}\" cannot be set: {why}"
                ));
            }
        }
        // librdkafka checks every name and value when they are applied to a native config;
        // this creates no client (no thread, no connection).
        self.client_config("validate")
            .create_native_config()
            .map_err(|e| format!("export.kafka: {}", describe_config_error(&e)))?;
        Ok(())
    }

    /// The librdkafka client configuration: apitap's defaults, the typed fields, then the
    /// pass-through table (which may override the defaults, e.g. `acks`).
    pub fn client_config(&self, client_id: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("client.id", client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("bootstrap.servers", self.brokers.join(","))
            .set(
                "queue.buffering.max.kbytes",
                self.max_buffer_bytes.div_ceil(1024).to_string(),
            )
            .set(
                "queue.buffering.max.messages",
                self.max_buffer_messages.to_string(),
            )
            .set("message.timeout.ms", self.message_timeout_ms.to_string())
            .set("linger.ms", self.linger_ms.to_string())
            .set("batch.size", self.batch_bytes.to_string())
            .set("compression.type", &self.compression);
        for (k, v) in &self.librdkafka {
            c.set(k, v.to_string());
        }
        c
    }
}

/// Brokers from a comma-separated list, blanks removed.
pub fn split_brokers(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// librdkafka's config errors name the property; secret values are not repeated.
fn describe_config_error(e: &rdkafka::error::KafkaError) -> String {
    match e {
        rdkafka::error::KafkaError::ClientConfig(_, desc, key, value) => {
            let shown = if is_secret_property(key) {
                "[redacted]"
            } else {
                value.as_str()
            };
            format!("property \"{key}\" = \"{shown}\" rejected by librdkafka: {desc}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(props: &[(&str, &str)]) -> KafkaConfig {
        let mut c = KafkaConfig::with_brokers("127.0.0.1:9092");
        for (k, v) in props {
            c.librdkafka
                .insert((*k).into(), PropertyValue::Text((*v).into()));
        }
        c
    }

    #[test]
    fn defaults_validate() {
        with(&[]).validate().unwrap();
    }

    #[test]
    fn empty_brokers_are_rejected() {
        let e = KafkaConfig::default().validate().unwrap_err();
        assert!(e.contains("brokers"), "{e}");
    }

    #[test]
    fn unknown_property_is_named() {
        let e = with(&[("no.such.property", "1")]).validate().unwrap_err();
        assert!(e.contains("no.such.property"), "{e}");
    }

    #[test]
    fn bad_value_is_named() {
        let e = with(&[("acks", "sometimes")]).validate().unwrap_err();
        assert!(e.contains("acks"), "{e}");
    }

    #[test]
    fn owned_property_names_both() {
        let e = with(&[("linger.ms", "5")]).validate().unwrap_err();
        assert!(e.contains("linger.ms") && e.contains("linger_ms"), "{e}");
    }

    #[test]
    fn forbidden_property_is_refused() {
        let e = with(&[("delivery.report.only.error", "true")])
            .validate()
            .unwrap_err();
        assert!(e.contains("delivery.report.only.error"), "{e}");
    }

    #[test]
    fn sasl_and_tls_properties_pass_through() {
        with(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "apitap"),
            ("sasl.password", "hunter2"),
        ])
        .validate()
        .unwrap();
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = with(&[("sasl.password", "hunter2"), ("sasl.username", "apitap")]);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("apitap"),
            "{shown}"
        );
    }

    #[test]
    fn broker_list_is_split() {
        assert_eq!(split_brokers(" a:1, ,b:2 "), vec!["a:1", "b:2"]);
    }
}
