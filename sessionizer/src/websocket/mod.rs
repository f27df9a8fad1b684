//! WebSocket (RFC 6455) after an HTTP/1.1 `101 Switching Protocols` with `Upgrade: websocket`:
//! frames parsed in both directions, whole messages counted, the closing handshake read, text
//! messages optionally sampled. Pure: bytes and packet timestamps in, a
//! [`WebSocketSummary`] out (the body of a `type: "websocket"` record).

mod anomaly;
mod config;
mod connection;
pub mod frame;
mod summary;
#[cfg(test)]
mod tests;

pub use anomaly::{WsAnomalies, WsAnomaly};
pub use config::{WebSocketConfig, WebSocketConfigError};
pub use connection::WebSocketConnection;
pub use frame::Opcode;
pub use summary::{
    side_name, CloseInfo, DirectionSummary, OpcodeSet, TextSample, WebSocketSummary,
};
