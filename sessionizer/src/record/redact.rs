//! Redaction: which header values never leave the sensor.

use super::RecordConfig;
use crate::http::ascii::eq_ignore_case;

/// Credentials and session tokens of common APIs: the values must never leave the sensor.
pub fn default_redact_headers() -> Vec<String> {
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-amz-security-token",
        "x-goog-api-key",
        "private-token",
        "x-vault-token",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Prepared redaction rules.
#[derive(Clone, Debug)]
pub struct Redactor {
    /// Lower-cased header names, by length (the names of 63 bytes or more share the last
    /// entry): a name is compared only with those of its own length.
    by_len: Vec<Vec<String>>,
    /// For each name length (lengths of 63 bytes or more share the last entry), the first
    /// bytes the redacted names of that length start with, as bits of [`first_byte_bit`]:
    /// most header names are rejected by their length and first byte alone.
    firsts: [u32; FILTER_LENGTHS],
}

/// Name lengths [`Redactor`]'s filter tells apart.
const FILTER_LENGTHS: usize = 64;

/// The filter bit of a name's first byte: one per ASCII letter (either case), one for
/// anything else.
#[inline]
fn first_byte_bit(name: &str) -> u32 {
    match name.as_bytes().first() {
        Some(&b) if b.is_ascii_alphabetic() => 1 << ((b | 0x20) - b'a'),
        _ => 1 << 26,
    }
}

impl Redactor {
    /// Rules from the config.
    pub fn new(cfg: &RecordConfig) -> Self {
        let headers: Vec<String> = cfg
            .redact_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let mut firsts = [0; FILTER_LENGTHS];
        let mut by_len = vec![Vec::new(); FILTER_LENGTHS];
        for h in headers {
            let len = h.len().min(FILTER_LENGTHS - 1);
            firsts[len] |= first_byte_bit(&h);
            if let Some(names) = by_len.get_mut(len) {
                names.push(h);
            }
        }
        Redactor { by_len, firsts }
    }

    /// True when the value of header `name` must be redacted.
    #[inline]
    pub fn redacts(&self, name: &str) -> bool {
        let len = name.len().min(FILTER_LENGTHS - 1);
        self.firsts[len] & first_byte_bit(name) != 0
            && self.by_len.get(len).is_some_and(|names| {
                names
                    .iter()
                    .any(|h| eq_ignore_case(h.as_bytes(), name.as_bytes()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The length and first-byte filter never changes the answer of the plain comparison.
        #[test]
        fn redaction_filter_is_exact(
            names in proptest::collection::vec("[A-Za-z0-9_-]{0,70}", 0..6),
            probe in "[A-Za-z0-9_-]{0,70}",
            pick in proptest::num::usize::ANY,
        ) {
            let cfg = RecordConfig { redact_headers: names.clone() };
            let r = Redactor::new(&cfg);
            // A configured name in another case, and an arbitrary one.
            let listed = names.get(pick % names.len().max(1)).map(|n| n.to_ascii_uppercase());
            for name in listed.iter().chain([&probe]) {
                let want = names.iter().any(|h| h.eq_ignore_ascii_case(name));
                proptest::prop_assert_eq!(r.redacts(name), want);
            }
        }
    }

    #[test]
    fn redaction_is_case_insensitive() {
        let r = Redactor::new(&RecordConfig::default());
        assert!(r.redacts("Authorization"));
        assert!(r.redacts("COOKIE"));
        assert!(!r.redacts("Host"));
    }
}
