//! The config file (TOML). Every section belongs to the stage it configures; this file only
//! assembles them. `docs/config.md` documents every field.

use std::path::{Path, PathBuf};

use apitap_detect::DetectConfig;
use apitap_exporters::ExportConfig;
use apitap_inventory::ApiConfig;
use apitap_reassembly::ReassemblyConfig;
use std::sync::Arc;

use apitap_sessionizer::http::HttpConfig;
use apitap_sessionizer::http2::Http2Config;
use apitap_sessionizer::record::RecordConfig;
use apitap_sessionizer::session::SessionConfig;
use apitap_sessionizer::tls::decrypt::KeyLog;
use apitap_sessionizer::websocket::WebSocketConfig;
use apitap_ui::UiConfig;
use serde::{Deserialize, Serialize};

/// Most bytes of each body a record may sample (`output.body_capture_bytes`): a sample is for
/// an analyst to read, and every captured byte is held per pending message.
pub const MAX_RECORD_BODY_BYTES: usize = 1024 * 1024;

use crate::capture::CaptureConfig;
use crate::decode::DecodeConfig;
use crate::limits::config::LimitsConfig;
use crate::output::behaviours::config::BehavioursConfig;
use crate::telemetry::TelemetryConfig;

/// The whole pipeline configuration. Defaults work with no file at all.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The memory budget every traffic-state bound is derived from (`crate::limits`).
    pub limits: LimitsConfig,
    /// TCP reassembly bounds and timeouts.
    pub reassembly: ReassemblyConfig,
    /// HTTP parsing bounds.
    pub http: HttpConfig,
    /// HTTP/2 (h2c and gRPC) bounds.
    pub http2: Http2Config,
    /// WebSocket bounds and text-message sampling (written only with body capture on).
    pub websocket: WebSocketConfig,
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
    /// Attack detection in every request (`docs/detection.md`).
    pub detect: DetectConfig,
    /// API classification against OpenAPI specs, body schemas (`docs/api-inventory.md`).
    pub api: ApiConfig,
    /// The directory of the file the config was loaded from: relative paths in it (the
    /// specs of `api.specs`) are read from there. Not a setting.
    #[serde(skip)]
    pub source_dir: Option<PathBuf>,
    /// API abuse inside sessions: BOLA, enumeration, credential stuffing, brute force,
    /// scraping, volume spikes (`docs/behaviours.md`).
    pub behaviours: BehavioursConfig,
    /// What a command adds that is not in the file (`replay --tls-keylog`).
    #[serde(skip)]
    pub inputs: Inputs,
    /// `apitap ui`: the store's retention and batches, tokens (`docs/ui.md`).
    pub ui: UiConfig,
}

/// What a command gives the pipeline besides the config file.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// Replay only: the secrets TLS connections are decrypted with.
    pub tls_keylog: Option<Arc<KeyLog>>,
}

impl PartialEq for Inputs {
    /// The same key log (by identity: secrets are not compared).
    fn eq(&self, other: &Self) -> bool {
        match (&self.tls_keylog, &other.tls_keylog) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
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
        let mut cfg = Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: shown.clone(),
                message,
            },
            ConfigError::Invalid { message, .. } => ConfigError::Invalid {
                path: shown.clone(),
                message,
            },
            other => other,
        })?;
        cfg.source_dir = path.parent().map(Path::to_path_buf);
        Ok(cfg)
    }

    /// Parse and validate config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: String::new(),
            message: parse_message(text, &e),
        })?;
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: String::new(),
            message,
        })?;
        Ok(cfg)
    }

    /// Reject values that cannot work; the message names the fields.
    fn validate(&self) -> Result<(), String> {
        apitap_sessionizer::record::Redactor::new(
            &self.output.redact,
            apitap_sessionizer::record::RedactMode::Replace,
            None,
        )
        .map_err(|e| e.to_string())?;
        self.detect.validate().map_err(|e| e.to_string())?;
        self.api.validate()?;
        self.limits.validate()?;
        if self.output.body_capture_bytes > MAX_RECORD_BODY_BYTES {
            return Err(format!(
                "output.body_capture_bytes = {}: at most {MAX_RECORD_BODY_BYTES} bytes per body",
                self.output.body_capture_bytes
            ));
        }
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
        if r.max_retained_bytes_per_stream > r.max_retained_bytes_total {
            return Err(format!(
                "reassembly.max_retained_bytes_per_stream ({}) is larger than \
                 reassembly.max_retained_bytes_total ({}); lower the first or raise the second",
                r.max_retained_bytes_per_stream, r.max_retained_bytes_total
            ));
        }
        if r.idle_timeout_ms == 0 {
            return Err("reassembly.idle_timeout_ms must be at least 1".into());
        }
        self.export.validate()?;
        self.capture.validate().map_err(|e| e.to_string())?;
        self.decode.validate()?;
        self.http.validate().map_err(|e| e.to_string())?;
        self.http2.validate().map_err(|e| e.to_string())?;
        self.websocket.validate().map_err(|e| e.to_string())?;
        self.session.validate().map_err(|e| e.to_string())?;
        self.behaviours.validate().map_err(|e| e.to_string())?;
        self.ui.validate()?;
        Ok(())
    }
}

/// The dotted name of the key set on line `line` (1-based) of a TOML text, with the table
/// it is in (`decode.verify_checksums`): names only, never a value.
fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().take(line).collect();
    let (key, _) = lines.last()?.split_once('=')?;
    let key = key.trim();
    let table = lines.iter().rev().skip(1).find_map(|l| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(['[', ']']).trim().to_string())
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

/// A TOML error as shown to the operator: where it is and what is wrong, never the text of
/// the line (toml quotes it, and the line may hold a secret), and with the values of keys
/// that look secret taken out of the message.
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let mut msg = e.message().trim().to_string();
    if let Some(span) = e.span() {
        let before = text.get(..span.start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        msg = match key_at(text, line) {
            Some(key) => format!("line {line}, column {column} ({key}): {msg}"),
            None => format!("line {line}, column {column}: {msg}"),
        };
    }
    let redactor = apitap_sessionizer::record::Redactor::default_rules();
    for raw in text.lines() {
        let Some((k, v)) = raw.split_once('=') else {
            continue;
        };
        let name = k.trim().trim_matches('"').rsplit('.').next().unwrap_or("");
        let looks_secret = redactor.redacts(name) || name.eq_ignore_ascii_case("secret");
        let v = v.trim().trim_end_matches(',').trim();
        if !looks_secret || v.is_empty() {
            continue;
        }
        for form in [
            v,
            v.trim_matches(['"', '\'']),
            v.split_whitespace().next().unwrap_or(""),
        ] {
            if form.len() >= 3 {
                msg = msg.replace(form, apitap_sessionizer::record::REDACTED);
            }
        }
    }
    msg
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
        let e = Config::parse(
            "[reassembly]\nmax_retained_bytes_per_stream = 10\nmax_retained_bytes_total = 5\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("max_retained_bytes_per_stream") && e.contains("max_retained_bytes_total"),
            "{e}"
        );
        let e = Config::parse("[decode]\nverify_checksums = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("verify_checksums"), "{e}");
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
    fn behaviours_section_is_read_and_checked() {
        let c = Config::parse("[behaviours.bola]\nmin_foreign_ids = 30\n").unwrap();
        assert_eq!(c.behaviours.bola.min_foreign_ids, 30);
        let e = Config::parse("[behaviours.enumeration]\nmin_failure_ratio = 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("behaviours.enumeration.min_failure_ratio"),
            "{e}"
        );
        assert!(Config::parse("[behaviours.bola]\nmin_foreing_ids = 3\n").is_err());
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

    /// A config error never prints a secret's value: a syntax error on the secret's line, a
    /// mistyped secret, a broken Kafka password (issue 21).
    #[test]
    fn errors_never_echo_a_secret() {
        let secret = "s3cr3t-VALUE-0123456789";
        for text in [
            format!("[session]\nsecret = \"{secret}\" oops\n"),
            format!("[session]\nsecret = {secret}\n"),
            format!("[session.jwt]\nhs256_secret = \"{secret}\nalgorithm = 1\n"),
            format!("[export.kafka]\nbrokers = [\"b:1\"]\n[export.kafka.librdkafka]\n\"sasl.password\" = \"{secret}\" x\n"),
        ] {
            let e = Config::parse(&text).unwrap_err().to_string();
            assert!(!e.contains(secret) && !e.contains("s3cr3t"), "{text:?}: {e}");
            assert!(e.contains("line"), "{e}");
        }
        let e = Config::parse("[output]\nbody_capture_bytes = 99999999\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("output.body_capture_bytes"), "{e}");
    }
}
