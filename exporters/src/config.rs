//! The `[export]` config section: where events go. Without `[export.kafka]` they are written
//! as JSON lines (stdout or `--output`).

use serde::{Deserialize, Serialize};

use crate::kafka::KafkaConfig;

/// `[export]`: the exporter and what identifies this sensor in exported messages.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// This sensor's name in Kafka message headers (`sensor_id`); the host name when unset.
    pub sensor_id: Option<String>,
    /// Kafka export; JSON lines when absent.
    pub kafka: Option<KafkaConfig>,
}

impl ExportConfig {
    /// Reject values that cannot work; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(id) = &self.sensor_id {
            if id.trim().is_empty() {
                return Err("export.sensor_id is empty; remove it to use the host name".into());
            }
        }
        if let Some(k) = &self.kafka {
            k.validate()?;
        }
        Ok(())
    }
}
