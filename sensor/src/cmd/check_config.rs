//! `apitap check-config`: validate a config file and print the effective configuration as
//! TOML, every default filled in, ready to be pasted back into a file.

use std::path::Path;

use crate::config::{Config, ConfigError};
use crate::error::{Outcome, RunError};

/// The note above the printed config: what was replaced.
const HEADER: &str = "# The effective configuration: every field, with the defaults filled in.\n\
# Secrets (session.secret, jwt hs256_secret, export.kafka.librdkafka passwords and keys)\n\
# are shown as \"[redacted]\": put the real values back before using this as a config file.\n";

/// The effective configuration as TOML, secrets replaced by a placeholder.
pub fn render(cfg: &Config) -> Result<String, RunError> {
    toml::to_string(cfg)
        .map(|body| format!("{HEADER}\n{body}"))
        .map_err(|e| RunError::Usage(format!("cannot print the configuration as TOML: {e}")))
}

/// Run `apitap check-config FILE`: "FILE: valid" on stderr, the config on stdout.
pub fn run(file: &Path) -> Result<Outcome, RunError> {
    let cfg = Config::load(file)?;
    // The specs of `[api]` are files of their own: read and compiled as the sensor would.
    crate::analyze::matcher(&cfg).map_err(|message| ConfigError::Invalid {
        path: file.display().to_string(),
        message,
    })?;
    let text = render(&cfg)?;
    eprintln!("{}: valid", file.display());
    // The bounds the memory budget gives, as comments: the file keeps what was set.
    print!("{}{text}", crate::limits::Budget::of(&cfg, 1).describe());
    Ok(Outcome::clean())
}

#[cfg(test)]
mod tests {
    use apitap_sessionizer::session::Secret;

    use super::*;

    /// The config with its secrets replaced by one known value: they print as a placeholder
    /// (see the last test), everything else must come back as it was.
    fn same_secrets(mut cfg: Config) -> Config {
        cfg.session.secret = None;
        if cfg.session.jwt.hs256_secret.is_some() {
            cfg.session.jwt.hs256_secret = Some(Secret::new(b"test".to_vec()));
        }
        cfg
    }

    /// Parse `text` as a config, print it, parse the print.
    fn round_trip(text: &str) -> (Config, String, Config) {
        let cfg = same_secrets(Config::parse(text).unwrap());
        let printed = render(&cfg).unwrap();
        let back = Config::parse(&printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
        (cfg, printed, same_secrets(back))
    }

    #[test]
    fn the_printed_defaults_parse_back_to_the_defaults() {
        let (cfg, _, back) = round_trip("");
        assert_eq!(back, cfg);
        assert_eq!(back, Config::default());
    }

    #[test]
    fn every_sample_config_parses_back_equal() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for rel in [
            "deploy/apitap.toml",
            "fixtures/core.toml",
            "fixtures/sessions/shop.toml",
            "fixtures/inventory/shop-api.toml",
        ] {
            let text = std::fs::read_to_string(root.join(rel)).unwrap();
            let (cfg, printed, back) = round_trip(&text);
            assert_eq!(back, cfg, "{rel}:\n{printed}");
        }
    }

    #[test]
    fn kafka_settings_and_set_values_parse_back_equal() {
        let (cfg, printed, back) = round_trip(
            "[reassembly]\nmax_flows = 7\n[telemetry]\nlisten = \"127.0.0.1:9464\"\n\
             [export]\nsensor_id = \"tap-1\"\n[export.kafka]\nbrokers = [\"127.0.0.1:9092\"]\n\
             [export.kafka.librdkafka]\n\"socket.keepalive.enable\" = true\n\"acks\" = \"1\"\n",
        );
        assert_eq!(back, cfg, "{printed}");
        assert!(printed.contains("max_flows = 7"), "{printed}");
    }

    #[test]
    fn secrets_print_as_a_placeholder_never_their_value() {
        let secret = "session-secret-that-must-not-leak-0123456789";
        let password = "kafka-password-that-must-not-leak";
        let text = format!(
            "[session]\nsecret = \"{secret}\"\n[export.kafka]\nbrokers = [\"b:9092\"]\n\
             [export.kafka.librdkafka]\n\"security.protocol\" = \"SASL_SSL\"\n\
             \"sasl.mechanisms\" = \"PLAIN\"\n\"sasl.username\" = \"apitap\"\n\
             \"sasl.password\" = \"{password}\"\n"
        );
        let cfg = Config::parse(&text).unwrap();
        let printed = render(&cfg).unwrap();
        assert!(!printed.contains(secret), "{printed}");
        assert!(!printed.contains(password), "{printed}");
        assert!(
            printed.contains("\"sasl.password\" = \"[redacted]\""),
            "{printed}"
        );
        assert!(printed.contains("secret = \"[redacted]\""), "{printed}");
        // Everything else is kept.
        assert!(
            printed.contains("\"sasl.username\" = \"apitap\""),
            "{printed}"
        );
        // Pasted back as it is, the placeholder is refused rather than used as a secret.
        let e = Config::parse(&printed).unwrap_err().to_string();
        assert!(e.contains("secret"), "{e}");
    }
}
