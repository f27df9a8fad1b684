//! `[export.kafka] create_topics`: the topics apitap writes to, created at startup through
//! librdkafka's admin API when they are missing, so that a first run needs no other tool.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;

use super::config::KafkaConfig;
use super::reach::{wait_for_brokers, HealthContext, Unreachable};

/// How long startup waits for a broker to answer before creating topics.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the cluster may take to create the topics.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// The partitions or replication factor that asks for the broker's default (KIP-464).
const BROKER_DEFAULT: i32 = -1;

/// Why the topics could not be made sure of.
#[derive(Debug, thiserror::Error)]
pub enum TopicsError {
    /// The admin client cannot be created (a property librdkafka refuses).
    #[error("cannot create the Kafka admin client: {0}")]
    Client(String),
    /// No broker answered.
    #[error("export.kafka.create_topics: {0}")]
    Unreachable(#[from] Unreachable),
    /// The cluster refused to create a topic.
    #[error(
        "export.kafka.create_topics: cannot create topic {topic}: {reason}; create it by hand \
         or check the principal's CREATE permission and the cluster's replication"
    )]
    Create {
        /// The topic.
        topic: String,
        /// The broker's answer.
        reason: String,
    },
}

/// A topic that was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedTopic {
    /// Its name.
    pub name: String,
    /// Partitions asked for (-1: the broker's default).
    pub partitions: i32,
    /// Replication factor asked for (-1: the broker's default).
    pub replication_factor: i32,
}

/// An `Option<u32>` setting as the admin API's number (None: the broker's default).
fn or_default(v: Option<u32>) -> i32 {
    v.and_then(|n| i32::try_from(n).ok())
        .unwrap_or(BROKER_DEFAULT)
}

/// Create whichever of `cfg`'s topics does not exist yet; returns the topics created (none
/// when all exist). A topic created meanwhile by someone else counts as existing.
pub fn ensure_topics(cfg: &KafkaConfig) -> Result<Vec<CreatedTopic>, TopicsError> {
    let client = |e: rdkafka::error::KafkaError| TopicsError::Client(e.to_string());
    // The admin client polls only its own result queue, so librdkafka's log events (which
    // say why a broker cannot be reached) would wait unread: the metadata comes from a
    // plain producer client, polled here, instead.
    let probe: BaseProducer<HealthContext> = cfg
        .admin_config()
        .create_with_context(HealthContext::default())
        .map_err(client)?;
    let brokers = cfg.brokers.join(",");
    let md = wait_for_brokers(
        probe.client(),
        &probe.context().health,
        &brokers,
        CONNECT_TIMEOUT,
        || probe.poll(Duration::ZERO),
    )?;
    let admin: AdminClient<DefaultClientContext> = cfg.admin_config().create().map_err(client)?;
    let mut wanted = vec![
        cfg.topic_http.as_str(),
        cfg.topic_sessions.as_str(),
        cfg.topic_alerts.as_str(),
    ];
    wanted.sort_unstable();
    wanted.dedup();
    let missing: Vec<&str> = wanted
        .into_iter()
        .filter(|t| !md.topics().iter().any(|m| m.name() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let (partitions, replication_factor) = (
        or_default(cfg.topic_partitions),
        or_default(cfg.topic_replication_factor),
    );
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(replication_factor)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Timeout::After(CREATE_TIMEOUT)));
    let results = futures_executor::block_on(admin.create_topics(&new, &opts)).map_err(|e| {
        TopicsError::Create {
            topic: missing.join(", "),
            reason: e.to_string(),
        }
    })?;
    let mut created = Vec::new();
    for r in results {
        match r {
            Ok(name) => created.push(CreatedTopic {
                name,
                partitions,
                replication_factor,
            }),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(TopicsError::Create {
                    topic,
                    reason: code.to_string(),
                })
            }
        }
    }
    Ok(created)
}
