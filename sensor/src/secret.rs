//! Where the session secret comes from: the config, the environment, or a random one.

use apitap_sessionizer::record::{RedactMode, Redactor};
use apitap_sessionizer::session::{Secret, SessionConfig};

use crate::config::Config;

/// Environment variable holding the session secret; it takes the place of `session.secret`,
/// so the secret need not sit in a config file.
pub const SECRET_ENV: &str = "APITAP_SESSION_SECRET";

/// Bytes of a generated secret (HMAC-SHA256 key size).
const GENERATED_SECRET_BYTES: usize = 32;

/// The session secret and, when it had to be generated, a warning for the operator.
pub fn resolve(cfg: &SessionConfig) -> Result<(Secret, Option<String>), String> {
    if let Some(v) = std::env::var_os(SECRET_ENV) {
        let v = v.into_encoded_bytes();
        if v.len() < apitap_sessionizer::session::secret::MIN_SECRET_BYTES {
            return Err(format!(
                "{SECRET_ENV} is shorter than {} bytes; use a long random value",
                apitap_sessionizer::session::secret::MIN_SECRET_BYTES
            ));
        }
        return Ok((Secret::new(v), None));
    }
    if let Some(s) = &cfg.secret {
        return Ok((s.clone(), None));
    }
    let mut bytes = vec![0u8; GENERATED_SECRET_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|e| format!("cannot generate a session secret from /dev/urandom: {e}"))?;
    let warning = format!(
        "no session secret configured (session.secret or {SECRET_ENV}): using a random one for \
         this run, so session ids and hashed values will not match those of other runs or sensors"
    );
    Ok((Secret::new(bytes), Some(warning)))
}

/// Settle the session secret before the pipeline is built: resolved once ([`resolve`]) and
/// stored in `session.secret`, where the pipeline finds it without a word. The warning about
/// a generated secret is returned, for the command to show (or not, with `--quiet`). Nothing
/// to do when neither sessions nor hashed redaction (`output.redact_mode = "hash"`) need it.
pub fn settle(cfg: &mut Config) -> Result<Option<String>, String> {
    if !cfg.session.enabled && cfg.output.redact_mode != RedactMode::Hash {
        return Ok(None);
    }
    let (secret, warning) = resolve(&cfg.session)?;
    cfg.session.secret = Some(secret);
    Ok(warning)
}

/// The redaction rules of `cfg`'s records, keyed with the settled secret in `hash` mode
/// (resolved here when it was not settled).
pub fn redactor(cfg: &Config) -> Result<Redactor, String> {
    let secret = match (&cfg.session.secret, cfg.output.redact_mode) {
        (_, RedactMode::Replace) => None,
        (Some(s), RedactMode::Hash) => Some(s.clone()),
        (None, RedactMode::Hash) => Some(resolve(&cfg.session)?.0),
    };
    let rules = Redactor::new(&cfg.output.redact, cfg.output.redact_mode, secret.as_ref())
        .map_err(|e| e.to_string())?;
    Ok(rules.with_body_capture(cfg.output.body_capture_bytes, &cfg.session.body))
}
