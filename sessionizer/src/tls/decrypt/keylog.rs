//! The NSS key log format that `SSLKEYLOGFILE` writes (curl, Firefox, Chrome, OpenSSL's
//! `SSL_CTX_set_keylog_callback`): one secret per line, `LABEL <client_random hex> <secret hex>`,
//! `#` comments. Pure: the caller reads the file.

use std::collections::HashMap;

/// Longest secret in a key log: 48 bytes (a TLS 1.2 master secret, or a TLS 1.3 secret of
/// SHA-384, RFC 8446 section 7.1).
pub const MAX_SECRET_BYTES: usize = 48;

/// Which secret a line carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// `CLIENT_RANDOM`: the TLS 1.2 (and earlier) master secret.
    MasterSecret,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET` (TLS 1.3).
    ClientHandshake,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET` (TLS 1.3).
    ServerHandshake,
    /// `CLIENT_TRAFFIC_SECRET_0` (TLS 1.3).
    ClientTraffic0,
    /// `SERVER_TRAFFIC_SECRET_0` (TLS 1.3).
    ServerTraffic0,
}

impl SecretKind {
    fn from_label(label: &str) -> Option<SecretKind> {
        Some(match label {
            "CLIENT_RANDOM" => SecretKind::MasterSecret,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => SecretKind::ClientHandshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => SecretKind::ServerHandshake,
            "CLIENT_TRAFFIC_SECRET_0" => SecretKind::ClientTraffic0,
            "SERVER_TRAFFIC_SECRET_0" => SecretKind::ServerTraffic0,
            _ => return None,
        })
    }
}

/// A secret: at most [`MAX_SECRET_BYTES`] bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// A line that is not a key log line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyLogError {
    /// Not three space-separated fields.
    #[error("key log line {line}: expected `LABEL <client random hex> <secret hex>`")]
    Fields {
        /// 1-based line number.
        line: usize,
    },
    /// A field that is not hex of the right length.
    #[error(
        "key log line {line}: the client random must be 64 hex digits and the secret at most \
         96; is this an SSLKEYLOGFILE?"
    )]
    Hex {
        /// 1-based line number.
        line: usize,
    },
}

/// The secrets of a key log, by client random.
#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    secrets: HashMap<([u8; 32], SecretKind), Secret>,
}

impl KeyLog {
    /// Reads a key log. Labels this module does not use (`EXPORTER_SECRET`, early-data
    /// secrets, later `*_TRAFFIC_SECRET_N` which are derived instead) are skipped; a line
    /// that is not a key log line is an error.
    pub fn parse(text: &str) -> Result<KeyLog, KeyLogError> {
        let mut log = KeyLog::default();
        log.add(text)?;
        Ok(log)
    }

    /// Adds the secrets of more key log text: another file, or the NSS key log carried by a
    /// pcapng Decryption Secrets Block (secrets type `TLSK`). Returns how many secrets were
    /// kept; on an error the secrets of the lines before it stay added.
    pub fn add(&mut self, text: &str) -> Result<usize, KeyLogError> {
        let before = self.secrets.len();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let mut fields = l.split_ascii_whitespace();
            let (Some(label), Some(random), Some(secret), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(KeyLogError::Fields { line });
            };
            let random: [u8; 32] = unhex(random)
                .and_then(|r| r.try_into().ok())
                .ok_or(KeyLogError::Hex { line })?;
            let secret = unhex(secret)
                .filter(|s| !s.is_empty() && s.len() <= MAX_SECRET_BYTES)
                .ok_or(KeyLogError::Hex { line })?;
            if let Some(kind) = SecretKind::from_label(label) {
                self.secrets.insert((random, kind), Secret(secret));
            }
        }
        Ok(self.secrets.len() - before)
    }

    /// The secret of one kind for the connection whose ClientHello had `client_random`.
    pub fn get(&self, client_random: &[u8; 32], kind: SecretKind) -> Option<&Secret> {
        self.secrets.get(&(*client_random, kind))
    }

    /// Number of secrets kept.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// True when no secret was kept.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "3553e134e51f80f9fae5836a5a1a3d42153fb61b537e6f0000000000000000aa";

    #[test]
    fn lines_are_read_by_label_and_client_random() {
        let text = format!(
            "# comment\n\nCLIENT_RANDOM {RANDOM} {}\nEXPORTER_SECRET {RANDOM} {}\n\
             SERVER_TRAFFIC_SECRET_0 {RANDOM} {}\n",
            "ab".repeat(48),
            "cd".repeat(32),
            "ef".repeat(32)
        );
        let log = KeyLog::parse(&text).unwrap();
        assert_eq!(log.len(), 2, "EXPORTER_SECRET is not used");
        let random: [u8; 32] = unhex(RANDOM).unwrap().try_into().unwrap();
        let master = log.get(&random, SecretKind::MasterSecret).unwrap();
        assert_eq!(master.as_bytes(), &[0xab; 48][..]);
        assert_eq!(format!("{master:?}"), "Secret(48 bytes)");
        assert!(log.get(&random, SecretKind::ClientTraffic0).is_none());

        // A second source (another file, a pcapng Decryption Secrets Block) adds to it.
        let mut log = log;
        let more = format!("CLIENT_TRAFFIC_SECRET_0 {RANDOM} {}\n", "01".repeat(32));
        assert_eq!(log.add(&more), Ok(1));
        assert!(log.get(&random, SecretKind::ClientTraffic0).is_some());
    }

    #[test]
    fn what_is_not_a_key_log_is_an_error_with_its_line() {
        assert_eq!(
            KeyLog::parse("CLIENT_RANDOM abc").unwrap_err(),
            KeyLogError::Fields { line: 1 }
        );
        let short_random = format!("\nCLIENT_RANDOM abcd {}", "ab".repeat(48));
        assert_eq!(
            KeyLog::parse(&short_random).unwrap_err(),
            KeyLogError::Hex { line: 2 }
        );
        let long_secret = format!("CLIENT_RANDOM {RANDOM} {}", "ab".repeat(49));
        assert_eq!(
            KeyLog::parse(&long_secret).unwrap_err(),
            KeyLogError::Hex { line: 1 }
        );
    }
}
