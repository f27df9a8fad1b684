//! The session secret and the keyed hash (HMAC-SHA256) behind every session id and hashed value.
//!
//! Raw tokens, cookies and passwords never leave the sensor: what leaves is
//! `HMAC-SHA256(secret, domain || len-prefixed parts)` truncated to [`ID_BYTES`] bytes (128 bits,
//! 32 hex characters). 128 bits keep collisions out of reach (birthday bound 2^64) while halving
//! the size of the ids in every record.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;

/// Bytes kept of the HMAC-SHA256 output for ids and hashed values (128 bits).
pub const ID_BYTES: usize = 16;

/// Shortest secret accepted, in bytes: below this an HMAC key can be guessed.
pub const MIN_SECRET_BYTES: usize = 16;

/// What a secret prints as in `Debug` and serialized config.
const REDACTED_SECRET: &str = "[redacted]";

/// Key material for the keyed hash. `Debug` and `Serialize` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wrap raw key bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The key bytes (only for building an HMAC).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty secret.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED_SECRET})")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED_SECRET)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Secret(s.into_bytes()))
    }
}

/// A 128-bit keyed-hash output: a session id, a part id or a hashed value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HashId(pub [u8; ID_BYTES]);

/// Characters of a [`HashId`] in hex.
pub const HEX_LEN: usize = ID_BYTES * 2;

impl HashId {
    /// Lower-case hex, 32 characters.
    pub fn to_hex(&self) -> String {
        let mut buf = [0u8; HEX_LEN];
        self.hex_in(&mut buf).to_owned()
    }

    /// Lower-case hex written into `buf`, without allocating (once per record).
    pub fn hex_in<'b>(&self, buf: &'b mut [u8; HEX_LEN]) -> &'b str {
        crate::text::hex_into(&self.0, buf);
        // Hex digits are ASCII.
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

impl fmt::Debug for HashId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for HashId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Domain of a keyed hash, so that equal inputs used for different purposes never collide.
#[derive(Clone, Copy, Debug)]
pub enum Domain {
    /// Session id of a key: parts = [source label, value].
    Session,
    /// Id of part n >= 2 of a session: parts = [session id, n].
    Part,
    /// A value the server set (cookie, login token): parts = `[value]`.
    Binding,
    /// A context parameter in `hash` mode: parts = `[value]`. Equal values in different
    /// parameters hash equally, so they can be joined.
    Param,
    /// A JWT, for the verification cache: parts = `[token]`.
    Token,
    /// A value redacted from a record in `hash` mode: parts = `[value]`.
    Redacted,
}

impl Domain {
    /// The prefix fed to the MAC.
    fn tag(self) -> &'static [u8] {
        match self {
            Domain::Session => b"apitap/session\0",
            Domain::Part => b"apitap/part\0",
            Domain::Binding => b"apitap/binding\0",
            Domain::Param => b"apitap/param\0",
            Domain::Token => b"apitap/token\0",
            Domain::Redacted => b"apitap/redacted\0",
        }
    }
}

/// HMAC-SHA256 keyed once; each hash clones the keyed state (no re-keying per call).
#[derive(Clone)]
pub struct Keyed {
    /// The MAC after absorbing the key.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Keyed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keyed({REDACTED_SECRET})")
    }
}

impl Keyed {
    /// Key the MAC. HMAC accepts keys of any length, so this cannot fail.
    pub fn new(secret: &Secret) -> Self {
        // `new_from_slice` only fails for fixed-size-key MACs; HMAC takes any length.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        Keyed { mac }
    }

    /// Hash `parts` (each length-prefixed) in `domain`, truncated to 128 bits.
    pub fn hash(&self, domain: Domain, parts: &[&[u8]]) -> HashId {
        let mut mac = self.mac.clone();
        mac.update(domain.tag());
        for p in parts {
            mac.update(&(p.len() as u64).to_le_bytes());
            mac.update(p);
        }
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; ID_BYTES];
        out.copy_from_slice(&full[..ID_BYTES]);
        HashId(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serialize_never_print_the_secret() {
        let s = Secret::new(b"very-secret-value-123".to_vec());
        assert!(!format!("{s:?}").contains("very"));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert!(!format!("{:?}", Keyed::new(&s)).contains("very"));
    }

    #[test]
    fn domains_and_lengths_separate_inputs() {
        let k = Keyed::new(&Secret::new(b"0123456789abcdef".to_vec()));
        let a = k.hash(Domain::Session, &[b"cookie:sid", b"x"]);
        assert_eq!(a, k.hash(Domain::Session, &[b"cookie:sid", b"x"]));
        assert_ne!(a, k.hash(Domain::Param, &[b"cookie:sid", b"x"]));
        assert_ne!(a, k.hash(Domain::Session, &[b"cookie:si", b"dx"]));
        assert_eq!(a.to_hex().len(), 32);
    }
}
