//! Decryption of TLS 1.2 and 1.3 from an `SSLKEYLOGFILE` key log, for `apitap replay
//! --tls-keylog`: each direction's application data comes out as plaintext for the HTTP/1 or
//! HTTP/2 parser. AES-GCM and ChaCha20-Poly1305 suites (what curl, browsers and nginx use by
//! default), with RustCrypto's `aes-gcm`, `chacha20poly1305`, `hkdf`, `hmac` and `sha2`.

pub mod crypto;
mod decryptor;
mod keylog;
#[cfg(test)]
mod tests;

pub use decryptor::{DecryptAnomaly, DecryptCounts, TlsDecryptor, MAX_CIPHERTEXT_BYTES};
pub use keylog::{KeyLog, KeyLogError, Secret, SecretKind, MAX_SECRET_BYTES};
