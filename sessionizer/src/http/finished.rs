//! What the HTTP tracker finishes besides transactions: one record per WebSocket or TLS
//! connection, written when the connection ends (`type: "websocket"` and `type: "tls"`).

use std::net::SocketAddr;
use std::sync::Arc;

use apitap_reassembly::{ConnId, TcpAnomaly};

use super::Transaction;
use crate::tls::decrypt::DecryptCounts;
use crate::tls::TlsSummary;
use crate::websocket::WebSocketSummary;

/// One thing the tracker finished, in the order it finished. Transactions, nearly all of
/// them, are not boxed.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Finished {
    /// A request/response exchange (HTTP/1 or an HTTP/2 stream).
    Transaction(Transaction),
    /// A connection that spoke WebSocket or TLS ended.
    Connection(ConnRecord),
}

/// A connection's record: where it was, and what its protocol showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnRecord {
    /// The TCP connection.
    pub conn: ConnId,
    /// Flow zone (VLAN, tunnel id); 0 when none.
    pub zone: u64,
    /// Client endpoint (the sender of the upgrade request or the ClientHello).
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// Packet time the protocol started: the 101's, or the first TLS byte's.
    pub ts_us: u64,
    /// Packet time the connection ended.
    pub end_ts_us: u64,
    /// The CONNECT tunnel it was carried in (`host:port`), when it was.
    pub connect_authority: Option<Arc<str>>,
    /// TCP anomalies seen on the connection, each once.
    pub tcp_anomalies: Vec<TcpAnomaly>,
    /// What the protocol showed.
    pub kind: ConnKind,
}

/// The protocol of a [`ConnRecord`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnKind {
    /// WebSocket after an HTTP/1.1 upgrade.
    WebSocket(Box<WebSocketConn>),
    /// TLS.
    Tls(Box<TlsConn>),
}

/// A WebSocket connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketConn {
    /// Depth of the upgrade transaction (its id is `<conn>-<depth>`).
    pub upgrade_depth: u32,
    /// Frames, messages and the closing handshake.
    pub summary: WebSocketSummary,
}

/// A TLS connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConn {
    /// The handshake as seen.
    pub summary: TlsSummary,
    /// Picked up after its handshake (encrypted records only): nothing of it is readable.
    pub joined_late: bool,
    /// What decryption with a key log gave, when one was given.
    pub decryption: Option<Decryption>,
}

/// What decrypting a TLS connection gave, per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decryption {
    /// Client to server.
    pub client: DecryptCounts,
    /// Server to client.
    pub server: DecryptCounts,
}
