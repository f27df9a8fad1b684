//! The config file (TOML). Every section belongs to the stage it configures; this file only
//! assembles them. `docs/config.md` documents every field.

use std::path::Path;

use apitap_exporters::ExportConfig;
use apitap_reassembly::ReassemblyConfig;
use apitap_sessionizer::http::HttpConfig;
use apitap_sessionizer::record::RecordConfig;
use apitap_sessionizer::session::SessionConfig;
use apitap_ui::UiConfig;
use serde::{Deserialize, Serialize};

use crate::capture::CaptureConfig;
use crate::decode::DecodeConfig;
use crate::telemetry::TelemetryConfig;

/// The whole pipeline configuration. Defaults work with no file at all.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// TCP reassembly bounds and timeouts.
    pub reassembly: ReassemblyConfig,
    /// HTTP parsing bounds.
    pub http: HttpConfig,
    /// Shape of the exported records (redaction).
    pub output: RecordConfig,
    /// API sessions: keys, context parameters, lifecycle (`docs/sessions.md`).
    pub session: SessionConfig,
    /// Where records go: JSON lines by default, Kafka with `[export.kafka]`.
    pub export: ExportConfig,
    /// `apitap live`: interfaces, libpcap settings, worker threads (`docs/deploy.md`).
    pub capture: CaptureConfig,
    /// `apitap live`: metrics listener and status line.
    pub telemetry: TelemetryConfig,
    /// Tunnel decapsulation (UDP ports, nesting depth, zones) and IP fragment reassembly.
    pub decode: DecodeConfig,
    /// `apitap ui`: the store's retention and batches, tokens (`docs/ui.md`).
    pub ui: UiConfig,
}

/// Why the config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What toml found, with line and column.
        message: String,
    },
    /// Values that parse but cannot work together.
    #[error("invalid config file {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl Config {
    /// Load and validate `path`, or the defaults without one.
    pub fn load_or_default(path: Option<&Path>) -> Result<Config, ConfigError> {
        path.map_or_else(|| Ok(Config::default()), Config::load)
    }

    /// Load and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: shown.clone(),
                message,
            },
            ConfigError::Invalid { message, .. } => ConfigError::Invalid {
                path: shown.clone(),
                message,
            },
            other => other,
        })
    }

    /// Parse and validate config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: String::new(),
            message: e.to_string(),
        })?;
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: String::new(),
            message,
        })?;
        Ok(cfg)
    }

    /// Reject values that cannot work; the message names the fields.
    fn validate(&self) -> Result<(), String> {
        let r = &self.reassembly;
        if r.max_flows == 0 {
            return Err("reassembly.max_flows must be at least 1".into());
        }
        if r.max_ooo_bytes_per_stream > r.max_ooo_bytes_total {
            return Err(format!(
                "reassembly.max_ooo_bytes_per_stream ({}) is larger than reassembly.max_ooo_bytes_total ({}); \
                 lower the first or raise the second",
                r.max_ooo_bytes_per_stream, r.max_ooo_bytes_total
            ));
        }
        if r.idle_timeout_ms == 0 {
            return Err("reassembly.idle_timeout_ms must be at least 1".into());
        }
        self.export.validate()?;
        self.capture.validate().map_err(|e| e.to_string())?;
        self.decode.validate()?;
        self.http.validate().map_err(|e| e.to_string())?;
        self.session.validate().map_err(|e| e.to_string())?;
        self.ui.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let e = Config::parse("[reassembly]\nmax_flow = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_flow"), "{e}");
    }

    #[test]
    fn conflicting_bounds_name_both_fields() {
        let e =
            Config::parse("[reassembly]\nmax_ooo_bytes_per_stream = 10\nmax_ooo_bytes_total = 5\n")
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("max_ooo_bytes_per_stream") && e.contains("max_ooo_bytes_total"),
            "{e}"
        );
    }

    #[test]
    fn kafka_section_is_read_and_checked() {
        let c = Config::parse(
            "[export]\nsensor_id = \"tap-1\"\n[export.kafka]\nbrokers = [\"127.0.0.1:9092\"]\n\
             [export.kafka.librdkafka]\n\"socket.keepalive.enable\" = true\n",
        )
        .unwrap();
        assert_eq!(c.export.sensor_id.as_deref(), Some("tap-1"));
        assert_eq!(c.export.kafka.unwrap().topic_http, "apitap.http");
        let e = Config::parse(
            "[export.kafka]\nbrokers = [\"b:1\"]\n[export.kafka.librdkafka]\n\"bogus.prop\" = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bogus.prop"), "{e}");
    }

    #[test]
    fn ui_section_is_read_checked_and_its_tokens_never_print() {
        let c = Config::parse(
            "[ui]\ntoken = \"shared-token-0123456789\"\n[ui.analysts]\nana = \"ana-token-0123456789ab\"\n\
             [ui.retention]\nmax_age_hours = 24\n",
        )
        .unwrap();
        assert_eq!(c.ui.retention.max_age_hours, 24);
        assert_eq!(c.ui.analysts["ana"].expose(), "ana-token-0123456789ab");
        let printed = toml::to_string(&c).unwrap();
        assert!(!printed.contains("0123456789"), "{printed}");
        let e = Config::parse("[ui]\ntoken = \"short\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ui.token"), "{e}");
        let e = Config::parse("[ui]\nretention_days = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("retention_days"), "{e}");
    }

    #[test]
    fn fields_are_read() {
        let c = Config::parse("[reassembly]\nmax_flows = 7\n").unwrap();
        assert_eq!(c.reassembly.max_flows, 7);
    }
}
