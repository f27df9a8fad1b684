//! Record protection with RustCrypto: the AEAD ciphers, the TLS 1.2 PRF (RFC 5246 section 5)
//! and the TLS 1.3 key schedule's HKDF-Expand-Label (RFC 8446 section 7.1).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};
use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherSuite, TlsPRF};

/// AEAD nonce length (RFC 5116 section 5.1, RFC 8446 section 5.3).
pub const NONCE_BYTES: usize = 12;

/// AEAD tag length: 16 for AES-GCM and ChaCha20-Poly1305.
pub const TAG_BYTES: usize = 16;

/// TLS 1.2 AES-GCM: 4 implicit bytes from the key block, 8 explicit in each record
/// (RFC 5288 section 3).
pub const GCM_FIXED_IV_BYTES: usize = 4;

/// TLS 1.2 AES-GCM explicit nonce bytes at the start of each record (RFC 5288 section 3).
pub const GCM_EXPLICIT_NONCE_BYTES: usize = 8;

/// The AEAD algorithms supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadAlg {
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 8439).
    ChaCha20Poly1305,
}

impl AeadAlg {
    /// Key length in bytes.
    pub fn key_bytes(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm => 16,
            AeadAlg::Aes256Gcm | AeadAlg::ChaCha20Poly1305 => 32,
        }
    }
}

/// The hash of the PRF or key schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlg {
    /// Output length in bytes.
    pub fn output_bytes(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }
}

/// What decryption needs to know of a cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    /// Record protection.
    pub aead: AeadAlg,
    /// PRF (TLS 1.2) or key schedule (TLS 1.3) hash.
    pub hash: HashAlg,
}

/// The suite's algorithms, from tls-parser's table; None for suites that are not AES-GCM or
/// ChaCha20-Poly1305 (CBC, CCM and the rest are not decrypted).
pub fn suite(id: u16) -> Option<Suite> {
    let s = TlsCipherSuite::from_id(id)?;
    let aead = match (s.enc, s.enc_mode, s.enc_size) {
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 128) => AeadAlg::Aes128Gcm,
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 256) => AeadAlg::Aes256Gcm,
        (TlsCipherEnc::Chacha20_Poly1305, _, _) => AeadAlg::ChaCha20Poly1305,
        _ => return None,
    };
    let hash = match s.prf {
        TlsPRF::Sha384 => HashAlg::Sha384,
        _ => HashAlg::Sha256,
    };
    Some(Suite { aead, hash })
}

/// A keyed AEAD.
#[derive(Clone)]
pub enum AeadKey {
    /// AES-128-GCM.
    Aes128(Box<Aes128Gcm>),
    /// AES-256-GCM.
    Aes256(Box<Aes256Gcm>),
    /// ChaCha20-Poly1305.
    ChaCha(Box<ChaCha20Poly1305>),
}

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("AeadKey")
    }
}

impl AeadKey {
    /// Keys `alg` with `key`; None when the length is wrong.
    pub fn new(alg: AeadAlg, key: &[u8]) -> Option<AeadKey> {
        Some(match alg {
            AeadAlg::Aes128Gcm => AeadKey::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            AeadAlg::Aes256Gcm => AeadKey::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            AeadAlg::ChaCha20Poly1305 => {
                AeadKey::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
        })
    }

    /// Decrypts and authenticates `ciphertext` (tag included); None when the tag is wrong.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_BYTES],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Option<Vec<u8>> {
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        match self {
            AeadKey::Aes128(k) => k.decrypt(nonce.into(), payload).ok(),
            AeadKey::Aes256(k) => k.decrypt(nonce.into(), payload).ok(),
            AeadKey::ChaCha(k) => k.decrypt(nonce.into(), payload).ok(),
        }
    }
}

/// The TLS 1.2 PRF: P_hash(secret, label + seed) truncated to `len` (RFC 5246 section 5).
pub fn tls12_prf(hash: HashAlg, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    match hash {
        HashAlg::Sha256 => p_hash::<Hmac<Sha256>>(secret, &[label, seed].concat(), len),
        HashAlg::Sha384 => p_hash::<Hmac<Sha384>>(secret, &[label, seed].concat(), len),
    }
}

fn p_hash<M: Mac + KeyInit + Clone>(secret: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let Ok(mac) = <M as KeyInit>::new_from_slice(secret) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(len);
    // A(1) = HMAC(secret, seed); A(i) = HMAC(secret, A(i-1)).
    let mut a = mac
        .clone()
        .chain_update(seed)
        .finalize()
        .into_bytes()
        .to_vec();
    while out.len() < len {
        let block = mac
            .clone()
            .chain_update(&a)
            .chain_update(seed)
            .finalize()
            .into_bytes();
        out.extend_from_slice(&block);
        a = mac
            .clone()
            .chain_update(&a)
            .finalize()
            .into_bytes()
            .to_vec();
    }
    out.truncate(len);
    out
}

/// HKDF-Expand-Label(secret, label, "", len) (RFC 8446 section 7.1); None when the secret
/// does not fit the hash.
pub fn hkdf_expand_label(hash: HashAlg, secret: &[u8], label: &str, len: usize) -> Option<Vec<u8>> {
    let full = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    info.push(u8::try_from(full.len()).ok()?);
    info.extend_from_slice(full.as_bytes());
    info.push(0); // empty context
    let mut okm = vec![0; len];
    match hash {
        HashAlg::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut okm)
            .ok()?,
        HashAlg::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut okm)
            .ok()?,
    }
    Some(okm)
}

/// The per-record nonce: the IV with the sequence number XORed into its last 8 bytes
/// (RFC 8446 section 5.3, RFC 7905 section 2).
pub fn xor_nonce(iv: &[u8; NONCE_BYTES], seq: u64) -> [u8; NONCE_BYTES] {
    let mut n = *iv;
    for (b, s) in n.iter_mut().skip(NONCE_BYTES - 8).zip(seq.to_be_bytes()) {
        *b ^= s;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn tls13_key_schedule_matches_rfc8448() {
        // RFC 8448 section 3 (Simple 1-RTT Handshake): the server handshake traffic secret
        // and the write key and IV derived from it.
        let secret = unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let key = hkdf_expand_label(HashAlg::Sha256, &secret, "key", 16).unwrap();
        let iv = hkdf_expand_label(HashAlg::Sha256, &secret, "iv", 12).unwrap();
        assert_eq!(key, unhex("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(iv, unhex("5d313eb2671276ee13000b30"));
    }

    #[test]
    fn suites_map_to_their_algorithms() {
        let table = [
            (0x1301, Some((AeadAlg::Aes128Gcm, HashAlg::Sha256))),
            (0x1302, Some((AeadAlg::Aes256Gcm, HashAlg::Sha384))),
            (0x1303, Some((AeadAlg::ChaCha20Poly1305, HashAlg::Sha256))),
            (0xc02f, Some((AeadAlg::Aes128Gcm, HashAlg::Sha256))),
            (0xc030, Some((AeadAlg::Aes256Gcm, HashAlg::Sha384))),
            (0xcca8, Some((AeadAlg::ChaCha20Poly1305, HashAlg::Sha256))),
            (0xc013, None), // AES-128-CBC
        ];
        for (id, want) in table {
            assert_eq!(suite(id).map(|s| (s.aead, s.hash)), want, "{id:#06x}");
        }
    }

    #[test]
    fn the_nonce_xors_the_sequence_into_the_low_bytes() {
        let iv = [0xff; 12];
        let n = xor_nonce(&iv, 0x0102);
        assert_eq!(&n[..10], &[0xff; 10]);
        assert_eq!(&n[10..], &[0xfe, 0xfd]);
    }
}
