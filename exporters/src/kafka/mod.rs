//! Kafka export through librdkafka (`rdkafka`): one topic per record type, the session id as
//! message key, delivery reports sorted into retriable, final and unknown (`docs/kafka.md`).

pub mod admin;
pub mod classify;
pub mod config;
pub mod producer;
pub mod reach;
pub mod stats;

pub use classify::ErrorClass;
pub use config::{KafkaConfig, PropertyValue};
pub use producer::{KafkaExporter, KafkaInitError};
