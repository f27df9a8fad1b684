//! What the user sets for attack detection (`[detect]` in the config file; docs/detection.md).
//!
//! Every field has a default, so no `[detect]` table at all gives a working detector with every
//! class on at paranoia level 2.

use serde::{Deserialize, Serialize};

use crate::finding::Class;

/// Lowest paranoia level: only the most certain rules.
pub const MIN_PARANOIA: u8 = 1;
/// Highest paranoia level: every rule, the most false positives.
pub const MAX_PARANOIA: u8 = 4;
/// Largest `max_value_bytes` accepted: longer values only cost time.
pub const MAX_VALUE_BYTES_LIMIT: usize = 1024 * 1024;
/// Largest `max_request_scan_bytes` accepted.
pub const MAX_REQUEST_SCAN_BYTES_LIMIT: usize = 16 * 1024 * 1024;
/// Largest `max_fields` accepted.
pub const MAX_FIELDS_LIMIT: usize = 100_000;
/// Largest `max_findings` accepted.
pub const MAX_FINDINGS_LIMIT: usize = 1024;
/// Most allow rules accepted; each is checked for every finding.
pub const MAX_ALLOW_RULES: usize = 1024;

/// Attack detection settings (`[detect]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Scan requests for attacks. Off, no request is scanned and records carry no findings.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Sensitivity, 1 to 4 (like the OWASP Core Rule Set's paranoia levels): each rule has a
    /// level and runs at that level and above. Higher finds more and raises more false positives.
    #[serde(default = "default_paranoia")]
    pub paranoia: u8,
    /// Classes on or off (`[detect.classes]`).
    pub classes: ClassToggles,
    /// Findings to drop (`[[detect.allow]]`): a finding is dropped when every condition of any
    /// one rule holds.
    pub allow: Vec<AllowRule>,
    /// Bytes of one value (a parameter, header, cookie, body field) scanned, in bytes of the
    /// value as its container gives it (query and form values decoded once, JSON strings
    /// unescaped); the rest of a longer value is not scanned (counted in
    /// `ScanReport::values_cut`).
    #[serde(default = "default_max_value_bytes")]
    pub max_value_bytes: usize,
    /// Bytes scanned per request over all its values, in bytes; values past it are not scanned
    /// (counted in `ScanReport::values_skipped`).
    #[serde(default = "default_max_request_scan_bytes")]
    pub max_request_scan_bytes: usize,
    /// Values scanned per request (path segments, parameters, headers, cookies, body fields);
    /// values past it are not scanned (counted in `ScanReport::values_skipped`).
    #[serde(default = "default_max_fields")]
    pub max_fields: usize,
    /// Findings kept per request after deduplication; more are counted in
    /// `ScanReport::findings_dropped`.
    #[serde(default = "default_max_findings")]
    pub max_findings: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            enabled: default_enabled(),
            paranoia: default_paranoia(),
            classes: ClassToggles::default(),
            allow: Vec::new(),
            max_value_bytes: default_max_value_bytes(),
            max_request_scan_bytes: default_max_request_scan_bytes(),
            max_fields: default_max_fields(),
            max_findings: default_max_findings(),
        }
    }
}

/// On: detection is what the sensor is for (issue 22).
fn default_enabled() -> bool {
    true
}

/// Level 2: the level whose false-positive rate was measured at or below 0.1% on the benign
/// corpora (docs/detection.md); level 1 misses more.
fn default_paranoia() -> u8 {
    2
}

/// 8 KiB: longer than any injection payload in the corpora, short enough to bound the
/// tokenizers' time on bulk text.
fn default_max_value_bytes() -> usize {
    8 * 1024
}

/// 256 KiB: a large JSON body scanned whole; beyond it a request costs more than it tells.
fn default_max_request_scan_bytes() -> usize {
    256 * 1024
}

/// 512 values: a wide form or JSON document; bounds the per-request work of a hostile one.
fn default_max_fields() -> usize {
    512
}

/// 16 findings: enough to show every class at a few places; an attack tool's request repeats.
fn default_max_findings() -> usize {
    16
}

/// Each class on or off (`[detect.classes]`); all on by default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassToggles {
    /// SQL injection.
    pub sqli: bool,
    /// Cross-site scripting.
    pub xss: bool,
    /// Path traversal.
    pub traversal: bool,
    /// OS command injection.
    pub cmdi: bool,
    /// Server-side request forgery.
    pub ssrf: bool,
    /// JNDI lookups (Log4Shell).
    pub jndi: bool,
    /// XML external entities.
    pub xxe: bool,
    /// NoSQL operator injection.
    pub nosqli: bool,
    /// Server-side template injection.
    pub ssti: bool,
    /// Attack tools.
    pub scanner: bool,
    /// HTTP smuggling and evasion anomalies (mapped by the HTTP layer, not by the detector).
    pub protocol: bool,
}

impl Default for ClassToggles {
    /// Every class on: an operator turns off what they do not want.
    fn default() -> Self {
        ClassToggles {
            sqli: true,
            xss: true,
            traversal: true,
            cmdi: true,
            ssrf: true,
            jndi: true,
            xxe: true,
            nosqli: true,
            ssti: true,
            scanner: true,
            protocol: true,
        }
    }
}

impl ClassToggles {
    /// Whether `class` is on.
    pub fn is_on(&self, class: Class) -> bool {
        match class {
            Class::Sqli => self.sqli,
            Class::Xss => self.xss,
            Class::Traversal => self.traversal,
            Class::Cmdi => self.cmdi,
            Class::Ssrf => self.ssrf,
            Class::Jndi => self.jndi,
            Class::Xxe => self.xxe,
            Class::Nosqli => self.nosqli,
            Class::Ssti => self.ssti,
            Class::Scanner => self.scanner,
            Class::Protocol => self.protocol,
        }
    }
}

/// One allow rule (`[[detect.allow]]`). Conditions left out always hold; a rule with none is
/// rejected (it would drop every finding: set `enabled = false` instead).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowRule {
    /// Endpoint templates the rule covers, as globs over the sensor's template
    /// (`"POST /api/cms/*"`; `*` matches any run of characters, `?` one).
    pub endpoints: Vec<String>,
    /// Parameter names the rule covers, as globs over the name part of a finding's location:
    /// the query parameter, header (lower case), cookie, body field or JSON pointer
    /// (`"/content"`, `"html_*"`). The path and the whole body have no name and never match.
    pub params: Vec<String>,
    /// Client networks the rule covers, in CIDR notation (`"10.1.2.0/24"`, `"::1/128"`): a
    /// scanner you run yourself.
    pub clients: Vec<String>,
    /// Classes the rule covers by name (`"xss"`); empty: every class.
    pub classes: Vec<String>,
}

/// A detect setting that cannot work. Each message names the field and what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DetectConfigError {
    /// A field with a value out of range.
    #[error("detect.{field} = {value}: {hint}")]
    OutOfRange {
        /// Field path under `detect.`.
        field: String,
        /// The value given.
        value: String,
        /// What is accepted.
        hint: String,
    },
    /// A malformed value (CIDR, class name, empty rule).
    #[error("detect.{field}: {message}")]
    Invalid {
        /// Field path under `detect.`.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
}

impl DetectConfig {
    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), DetectConfigError> {
        if !(MIN_PARANOIA..=MAX_PARANOIA).contains(&self.paranoia) {
            return Err(range(
                "paranoia",
                self.paranoia,
                "use 1 (fewest false positives) to 4",
            ));
        }
        let bounds = [
            (
                "max_value_bytes",
                self.max_value_bytes,
                MAX_VALUE_BYTES_LIMIT,
            ),
            (
                "max_request_scan_bytes",
                self.max_request_scan_bytes,
                MAX_REQUEST_SCAN_BYTES_LIMIT,
            ),
            ("max_fields", self.max_fields, MAX_FIELDS_LIMIT),
            ("max_findings", self.max_findings, MAX_FINDINGS_LIMIT),
        ];
        for (field, value, max) in bounds {
            if value == 0 || value > max {
                return Err(range(field, value, &format!("use 1 to {max}")));
            }
        }
        if self.allow.len() > MAX_ALLOW_RULES {
            return Err(range(
                "allow",
                format!("{} rules", self.allow.len()),
                &format!("use at most {MAX_ALLOW_RULES}; merge rules with lists"),
            ));
        }
        for (i, rule) in self.allow.iter().enumerate() {
            validate_rule(i, rule)?;
        }
        Ok(())
    }
}

fn validate_rule(i: usize, rule: &AllowRule) -> Result<(), DetectConfigError> {
    if rule.endpoints.is_empty() && rule.params.is_empty() && rule.clients.is_empty() {
        return Err(invalid(
            format!("allow[{i}]"),
            "a rule needs endpoints, params or clients; to drop every finding set enabled = false",
        ));
    }
    for (j, c) in rule.clients.iter().enumerate() {
        if c.parse::<ipnet::IpNet>().is_err() && c.parse::<std::net::IpAddr>().is_err() {
            return Err(invalid(
                format!("allow[{i}].clients[{j}]"),
                format!("{c:?} is not a CIDR (\"10.0.0.0/8\") or an address"),
            ));
        }
    }
    for (j, name) in rule.classes.iter().enumerate() {
        if Class::from_name(name).is_none() {
            let names: Vec<&str> = Class::ALL.iter().map(|c| c.name()).collect();
            return Err(invalid(
                format!("allow[{i}].classes[{j}]"),
                format!("unknown class {name:?}; use one of {}", names.join(", ")),
            ));
        }
    }
    Ok(())
}

fn range(field: &str, value: impl std::fmt::Display, hint: &str) -> DetectConfigError {
    DetectConfigError::OutOfRange {
        field: field.to_string(),
        value: value.to_string(),
        hint: hint.to_string(),
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> DetectConfigError {
    DetectConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<DetectConfig, String> {
        toml::from_str::<DetectConfig>(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn empty_table_is_the_default_and_valid() {
        let cfg = parse("").unwrap();
        assert_eq!(cfg, DetectConfig::default());
        assert_eq!(cfg.validate(), Ok(()));
        assert!(cfg.enabled && cfg.paranoia == 2);
        assert!(Class::ALL.iter().all(|c| cfg.classes.is_on(*c)));
    }

    #[test]
    fn full_table_parses() {
        let cfg = parse(
            r#"
            enabled = true
            paranoia = 3
            max_value_bytes = 4096
            [classes]
            ssti = false
            [[allow]]
            clients = ["10.9.0.0/16", "192.0.2.7"]
            [[allow]]
            endpoints = ["POST /api/cms/*"]
            params = ["/content", "html_*"]
            classes = ["xss"]
            "#,
        )
        .unwrap();
        assert_eq!(cfg.validate(), Ok(()));
        assert!(!cfg.classes.ssti && cfg.classes.sqli);
        assert_eq!(cfg.allow.len(), 2);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(parse("paranioa = 2").unwrap_err().contains("paranioa"));
        assert!(parse("[classes]\nsql = false").unwrap_err().contains("sql"));
        assert!(parse("[[allow]]\nclient = []")
            .unwrap_err()
            .contains("client"));
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases: &[(&str, &str)] = &[
            ("paranoia = 0", "detect.paranoia = 0"),
            ("paranoia = 5", "detect.paranoia = 5"),
            ("max_value_bytes = 0", "detect.max_value_bytes"),
            ("max_findings = 100000", "detect.max_findings"),
            (
                "[[allow]]\nclasses = [\"xss\"]",
                "detect.allow[0]: a rule needs",
            ),
            (
                "[[allow]]\nclients = [\"10.0.0.0/33\"]",
                "detect.allow[0].clients[0]",
            ),
            (
                "[[allow]]\nparams = [\"q\"]\nclasses = [\"sql\"]",
                "unknown class \"sql\"",
            ),
        ];
        for (text, want) in cases {
            let cfg = parse(text).unwrap();
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
