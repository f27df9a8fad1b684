//! TLS handshake metadata on any TCP connection whose client starts with a ClientHello: the
//! negotiated version and cipher, SNI, ALPN and the JA4 and JA3 fingerprints. Pure: bytes and
//! packet timestamps in, a [`TlsSummary`] out (the body of a `type: "tls"` record). The hellos
//! are parsed by rusticata's `tls-parser`; this module joins records and segments into whole
//! handshake messages and reads what the record needs. The content stays encrypted.

mod anomaly;
mod connection;
pub mod decrypt;
pub mod fingerprint;
pub mod hello;
mod probe;
mod summary;
#[cfg(test)]
mod tests;

pub use anomaly::{TlsAnomalies, TlsAnomaly};
pub use connection::{TlsConnection, MAX_HELLO_BYTES, MAX_RECORD_FRAGMENT_BYTES};
pub use probe::{probe_client_hello, probe_records, Probe, MAX_CIPHERTEXT_FRAGMENT_BYTES};
pub use summary::{AlertInfo, TlsSummary};
