//! Validation of the session settings: every field checked, each error naming the field and
//! what to do.

use std::fmt;

use jsonwebtoken::DecodingKey;

use super::*;
use crate::session::secret::MIN_SECRET_BYTES;

/// A session setting that cannot work. Each message names the field and what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionConfigError {
    /// A field with a value out of range.
    #[error("session.{field} = {value}: {hint}")]
    OutOfRange {
        /// Field path under `session.`.
        field: String,
        /// The value given.
        value: String,
        /// What is accepted.
        hint: String,
    },
    /// A key or parameter lacks a field its source needs.
    #[error("session.{at}: source = \"{source_name}\" needs `{field}`")]
    Missing {
        /// Where (`keys[2]`, `params[0]`).
        at: String,
        /// The source.
        source_name: String,
        /// The missing field.
        field: String,
    },
    /// A key or parameter has a field its source does not use.
    #[error("session.{at}: `{field}` has no meaning for source = \"{source_name}\"; remove it")]
    Unused {
        /// Where.
        at: String,
        /// The source.
        source_name: String,
        /// The extra field.
        field: String,
    },
    /// A malformed value (CIDR, JSON pointer, regex, template, PEM...).
    #[error("session.{field}: {message}")]
    Invalid {
        /// Field path under `session.`.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Two settings that contradict each other.
    #[error("session.{a} conflicts with session.{b}: {message}")]
    Conflict {
        /// First field.
        a: String,
        /// Second field.
        b: String,
        /// Why and what to do.
        message: String,
    },
}

/// Shorthand for an out-of-range error.
fn range(field: &str, value: impl fmt::Display, hint: &str) -> SessionConfigError {
    SessionConfigError::OutOfRange {
        field: field.to_string(),
        value: value.to_string(),
        hint: hint.to_string(),
    }
}

/// Shorthand for an invalid-value error.
fn invalid(field: impl Into<String>, message: impl Into<String>) -> SessionConfigError {
    SessionConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// A JSON pointer per RFC 6901: empty or starting with `/`.
fn check_pointer(field: &str, p: &str) -> Result<(), SessionConfigError> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("JSON pointer {p:?} must start with '/' (RFC 6901), e.g. \"/user/id\""),
        ))
    }
}

impl SessionConfig {
    /// Check every field; the first problem found is returned. `Sessionizer::new` also
    /// compiles regexes and keys, and reports their errors the same way.
    pub fn validate(&self) -> Result<(), SessionConfigError> {
        if let Some(s) = &self.secret {
            if s.len() < MIN_SECRET_BYTES {
                return Err(range(
                    "secret",
                    "[redacted]",
                    &format!(
                        "use at least {MIN_SECRET_BYTES} bytes, e.g. 32 random hex characters"
                    ),
                ));
            }
        }
        if self.keys.is_empty() {
            return Err(range(
                "keys",
                "[]",
                "list at least one key, e.g. { source = \"fallback_ip\" }",
            ));
        }
        for (i, k) in self.keys.iter().enumerate() {
            validate_key(&format!("keys[{i}]"), k)?;
        }
        self.validate_jwt()?;
        self.validate_sources()?;
        self.validate_timeouts()?;
        self.validate_bounds()
    }

    /// Trusted proxies, context parameters, login linking, endpoint naming and body decoding.
    fn validate_sources(&self) -> Result<(), SessionConfigError> {
        for (i, c) in self.trusted_proxies.iter().enumerate() {
            parse_cidr(c).map_err(|m| invalid(format!("trusted_proxies[{i}]"), m))?;
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, p) in self.params.iter().enumerate() {
            validate_param(&format!("params[{i}]"), p)?;
            if !names.insert(p.name.as_str()) {
                return Err(invalid(
                    format!("params[{i}].name"),
                    format!("{:?} is used twice; names must be unique", p.name),
                ));
            }
        }
        for (i, f) in self.user.login_fields.iter().enumerate() {
            if f.is_empty() {
                return Err(invalid(
                    format!("user.login_fields[{i}]"),
                    "must not be empty",
                ));
            }
        }
        if self.user.mode == ParamMode::Drop {
            return Err(invalid(
                "user.mode",
                "\"drop\" is not a mode for the user; set user.enabled = false instead",
            ));
        }
        if self.user.mask_keep_chars > MAX_MASK_KEEP_CHARS {
            return Err(range(
                "user.mask_keep_chars",
                self.user.mask_keep_chars,
                &format!("must be at most {MAX_MASK_KEEP_CHARS}"),
            ));
        }
        for (i, p) in self.login.token_pointers.iter().enumerate() {
            check_pointer(&format!("login.token_pointers[{i}]"), p)?;
        }
        if self.login.max_bindings == 0 || self.login.max_bindings > MAX_SESSIONS_LIMIT {
            return Err(range(
                "login.max_bindings",
                self.login.max_bindings,
                &format!("must be between 1 and {MAX_SESSIONS_LIMIT}"),
            ));
        }
        for (i, t) in self.endpoints.templates.iter().enumerate() {
            if !t.starts_with('/') {
                return Err(invalid(
                    format!("endpoints.templates[{i}]"),
                    format!("template {t:?} must start with '/'"),
                ));
            }
        }
        for (i, p) in self.endpoints.patterns.iter().enumerate() {
            if p.placeholder.is_empty() || p.placeholder.contains('/') {
                return Err(invalid(
                    format!("endpoints.patterns[{i}].placeholder"),
                    "must be non-empty and contain no '/', e.g. \"{sku}\"",
                ));
            }
            regex::Regex::new(&p.regex).map_err(|e| {
                invalid(
                    format!("endpoints.patterns[{i}].regex"),
                    format!("not a valid regex: {e}"),
                )
            })?;
        }
        if self.body.max_decoded_bytes == 0 {
            return Err(range(
                "body.max_decoded_bytes",
                0,
                "must be at least 1 (bytes)",
            ));
        }
        if self.body.max_decompression_ratio == 0 {
            return Err(range(
                "body.max_decompression_ratio",
                0,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Timeouts and the update interval agree with each other.
    fn validate_timeouts(&self) -> Result<(), SessionConfigError> {
        if self.idle_timeout_ms == 0 || self.idle_timeout_ms > MAX_TIMEOUT_MS {
            return Err(range(
                "idle_timeout_ms",
                self.idle_timeout_ms,
                &format!("must be between 1 and {MAX_TIMEOUT_MS} (ms)"),
            ));
        }
        if self.max_duration_ms == 0 || self.max_duration_ms > MAX_TIMEOUT_MS {
            return Err(range(
                "max_duration_ms",
                self.max_duration_ms,
                &format!("must be between 1 and {MAX_TIMEOUT_MS} (ms)"),
            ));
        }
        if self.idle_timeout_ms > self.max_duration_ms {
            return Err(SessionConfigError::Conflict {
                a: "idle_timeout_ms".into(),
                b: "max_duration_ms".into(),
                message: format!(
                    "an idle timeout of {} ms can never fire within a maximum duration of {} ms; lower idle_timeout_ms or raise max_duration_ms",
                    self.idle_timeout_ms, self.max_duration_ms
                ),
            });
        }
        if self.update_interval_ms > self.max_duration_ms {
            return Err(SessionConfigError::Conflict {
                a: "update_interval_ms".into(),
                b: "max_duration_ms".into(),
                message: "updates would never be sent before the part ends; lower update_interval_ms (0 turns updates off)".into(),
            });
        }
        Ok(())
    }

    /// Table and per-session bounds.
    fn validate_bounds(&self) -> Result<(), SessionConfigError> {
        if self.max_sessions == 0 || self.max_sessions > MAX_SESSIONS_LIMIT {
            return Err(range(
                "max_sessions",
                self.max_sessions,
                &format!("must be between 1 and {MAX_SESSIONS_LIMIT}"),
            ));
        }
        for (field, v) in [
            (
                "max_client_ips_per_session",
                self.max_client_ips_per_session,
            ),
            (
                "max_user_agents_per_session",
                self.max_user_agents_per_session,
            ),
            ("max_endpoints_per_session", self.max_endpoints_per_session),
            (
                "max_distinct_values_per_param",
                self.max_distinct_values_per_param,
            ),
            (
                "max_transaction_ids_per_session",
                self.max_transaction_ids_per_session,
            ),
            ("body.max_multipart_parts", self.body.max_multipart_parts),
        ] {
            if v > MAX_LIST_LIMIT {
                return Err(range(
                    field,
                    v,
                    &format!("must be at most {MAX_LIST_LIMIT} (0 keeps none and counts all)"),
                ));
            }
        }
        if self.max_value_bytes < 8 || self.max_value_bytes > 65_536 {
            return Err(range(
                "max_value_bytes",
                self.max_value_bytes,
                "must be between 8 and 65536 (bytes)",
            ));
        }
        Ok(())
    }

    /// JWT verification settings agree with each other.
    fn validate_jwt(&self) -> Result<(), SessionConfigError> {
        let j = &self.jwt;
        match j.algorithm {
            None => {
                if j.hs256_secret.is_some() || j.public_key_pem.is_some() {
                    return Err(SessionConfigError::Conflict {
                        a: "jwt.algorithm".into(),
                        b: if j.hs256_secret.is_some() { "jwt.hs256_secret".into() } else { "jwt.public_key_pem".into() },
                        message: "a key is set but no algorithm; set algorithm = \"HS256\", \"RS256\" or \"ES256\"".into(),
                    });
                }
            }
            Some(JwtAlgorithm::HS256) => {
                if j.hs256_secret.as_ref().is_none_or(|s| s.is_empty()) {
                    return Err(SessionConfigError::Missing {
                        at: "jwt".into(),
                        source_name: "HS256".into(),
                        field: "hs256_secret".into(),
                    });
                }
                if j.public_key_pem.is_some() {
                    return Err(SessionConfigError::Conflict {
                        a: "jwt.algorithm".into(),
                        b: "jwt.public_key_pem".into(),
                        message: "HS256 uses hs256_secret, not a public key; remove one".into(),
                    });
                }
            }
            Some(a @ (JwtAlgorithm::RS256 | JwtAlgorithm::ES256)) => {
                let name = if a == JwtAlgorithm::RS256 {
                    "RS256"
                } else {
                    "ES256"
                };
                let Some(pem) = &j.public_key_pem else {
                    return Err(SessionConfigError::Missing {
                        at: "jwt".into(),
                        source_name: name.into(),
                        field: "public_key_pem".into(),
                    });
                };
                if j.hs256_secret.is_some() {
                    return Err(SessionConfigError::Conflict {
                        a: "jwt.algorithm".into(),
                        b: "jwt.hs256_secret".into(),
                        message: format!(
                            "{name} uses public_key_pem, not a shared secret; remove one"
                        ),
                    });
                }
                decoding_key(a, pem.as_bytes()).map_err(|m| invalid("jwt.public_key_pem", m))?;
            }
        }
        Ok(())
    }
}

/// Parse a PEM public key for RS256 or ES256; the error says what to do.
pub(crate) fn decoding_key(a: JwtAlgorithm, pem: &[u8]) -> Result<DecodingKey, String> {
    let r = match a {
        JwtAlgorithm::RS256 => DecodingKey::from_rsa_pem(pem),
        JwtAlgorithm::ES256 => DecodingKey::from_ec_pem(pem),
        JwtAlgorithm::HS256 => return Err("HS256 takes hs256_secret, not a PEM key".into()),
    };
    r.map_err(|e| format!("not a {a:?} public key in PEM form (-----BEGIN PUBLIC KEY-----): {e}"))
}

/// Parse a CIDR (`10.0.0.0/8`, `::1/128`) or a bare address (a /32 or /128).
pub(crate) fn parse_cidr(s: &str) -> Result<ipnet::IpNet, String> {
    let t = s.trim();
    t.parse::<ipnet::IpNet>()
        .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR like \"10.0.0.0/8\" or an address"))
}

/// Check one key's fields against its source.
fn validate_key(at: &str, k: &KeySpec) -> Result<(), SessionConfigError> {
    let src = serde_json::to_value(k.source)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let need = |field: &str, present: bool| {
        if present {
            Ok(())
        } else {
            Err(SessionConfigError::Missing {
                at: at.to_string(),
                source_name: src.clone(),
                field: field.to_string(),
            })
        }
    };
    let unused = |field: &str, present: bool| {
        if present {
            Err(SessionConfigError::Unused {
                at: at.to_string(),
                source_name: src.clone(),
                field: field.to_string(),
            })
        } else {
            Ok(())
        }
    };
    let nonempty = |o: &Option<String>| o.as_ref().is_some_and(|s| !s.is_empty());
    let (name, claim, pointer, token_in) = match k.source {
        KeySource::Cookie
        | KeySource::Header
        | KeySource::Query
        | KeySource::Form
        | KeySource::SetCookie => (true, false, false, false),
        KeySource::Jwt => (false, true, false, true),
        KeySource::Json => (false, false, true, false),
        KeySource::LoginToken => (false, false, true, true),
        KeySource::Bearer | KeySource::FallbackIpUa | KeySource::FallbackIp => {
            (false, false, false, false)
        }
    };
    if name {
        need("name", nonempty(&k.name))?
    } else {
        unused("name", k.name.is_some())?
    }
    if claim {
        need("claim", nonempty(&k.claim))?
    } else {
        unused("claim", k.claim.is_some())?
    }
    if pointer {
        need("pointer", k.pointer.is_some())?;
        check_pointer(&format!("{at}.pointer"), k.pointer.as_deref().unwrap_or(""))?;
    } else {
        unused("pointer", k.pointer.is_some())?
    }
    if !token_in {
        unused("token_in", k.token_in.is_some())?
    }
    Ok(())
}

/// Check one parameter's fields against its source.
fn validate_param(at: &str, p: &ParamSpec) -> Result<(), SessionConfigError> {
    if p.name.is_empty() {
        return Err(invalid(format!("{at}.name"), "must not be empty"));
    }
    let src = serde_json::to_value(p.source)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let missing = |field: &str| SessionConfigError::Missing {
        at: at.to_string(),
        source_name: src.clone(),
        field: field.to_string(),
    };
    let unused = |field: &str| SessionConfigError::Unused {
        at: at.to_string(),
        source_name: src.clone(),
        field: field.to_string(),
    };
    let request_only = matches!(
        p.source,
        ParamSource::Query | ParamSource::Jwt | ParamSource::Path
    );
    if request_only && p.side == ParamSide::Response {
        return Err(invalid(
            format!("{at}.side"),
            format!("source = \"{src}\" exists only in the request; remove side = \"response\""),
        ));
    }
    match p.source {
        ParamSource::Path => {
            let t = p.template.as_deref().ok_or_else(|| missing("template"))?;
            let capture = p.field.as_deref().unwrap_or(&p.name);
            if !t.starts_with('/')
                || !t
                    .split('/')
                    .any(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) == Some(capture))
            {
                return Err(invalid(
                    format!("{at}.template"),
                    format!(
                        "template {t:?} must start with '/' and contain the segment {{{capture}}}"
                    ),
                ));
            }
        }
        _ => {
            if p.template.is_some() {
                return Err(unused("template"));
            }
            let f = p
                .field
                .as_deref()
                .filter(|f| !f.is_empty())
                .ok_or_else(|| missing("field"))?;
            if p.source == ParamSource::Json {
                check_pointer(&format!("{at}.field"), f)?;
            }
        }
    }
    if p.token_in.is_some() && p.source != ParamSource::Jwt {
        return Err(unused("token_in"));
    }
    if p.mask_keep_chars > MAX_MASK_KEEP_CHARS {
        return Err(range(
            &format!("{at}.mask_keep_chars"),
            p.mask_keep_chars,
            &format!("must be at most {MAX_MASK_KEEP_CHARS}"),
        ));
    }
    if p.role.is_some() && p.mode == ParamMode::Drop {
        return Err(SessionConfigError::Conflict {
            a: format!("{at}.role"),
            b: format!("{at}.mode"),
            message:
                "a dropped value cannot be shown as user or role; use mode = \"hash\" or \"mask\""
                    .into(),
        });
    }
    Ok(())
}
