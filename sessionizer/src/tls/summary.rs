//! The output of TLS tracking: one [`TlsSummary`] per connection, the body of a
//! `type: "tls"` record.

use apitap_reassembly::Side;
use serde::Serialize;

use super::anomaly::TlsAnomalies;

/// An alert seen before the handshake was read (RFC 8446 section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AlertInfo {
    /// Sender.
    #[serde(serialize_with = "crate::websocket::side_name")]
    pub from: Side,
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// AlertDescription code (RFC 8446 section 6: 40 handshake_failure, 70 protocol_version...).
    pub description: u8,
}

/// Everything visible of one TLS connection: the cleartext handshake, not the content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsSummary {
    /// Negotiated version (`TLS 1.3`, `TLS 1.2`...), from the ServerHello's
    /// supported_versions or its version field.
    pub version: Option<String>,
    /// Server name indication: the host name the client asked for.
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in its order.
    pub alpn: Vec<String>,
    /// ALPN protocol the server selected; TLS 1.2 only (TLS 1.3 sends it encrypted).
    pub alpn_selected: Option<String>,
    /// Cipher suite the server selected: its IANA name, or hex when tls-parser has none.
    pub cipher: Option<String>,
    /// JA4 fingerprint of the ClientHello (FoxIO specification).
    pub ja4: Option<String>,
    /// JA3 string of the ClientHello.
    pub ja3: Option<String>,
    /// JA3 fingerprint: MD5 of `ja3`, lowercase hex.
    pub ja3_hash: Option<String>,
    /// A whole ClientHello was read.
    pub client_hello_seen: bool,
    /// A whole ServerHello (not a HelloRetryRequest) was read.
    pub server_hello_seen: bool,
    /// The server asked the client to retry with another key share (RFC 8446 section 4.1.4).
    pub hello_retry_request: bool,
    /// Packet time of the ClientHello's last byte.
    pub client_hello_ts_us: Option<u64>,
    /// Packet time of the ServerHello's last byte.
    pub server_hello_ts_us: Option<u64>,
    /// An alert before the handshake was read.
    pub alert: Option<AlertInfo>,
    /// Bytes the client sent (encrypted content included).
    pub client_bytes: u64,
    /// Bytes the server sent (encrypted content included).
    pub server_bytes: u64,
    /// What went wrong.
    pub anomalies: TlsAnomalies,
}
