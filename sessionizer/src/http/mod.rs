//! HTTP/1.0 and HTTP/1.1 (RFC 9110, RFC 9112): a pure parser ([`parser`]), per-connection
//! state ([`connection`]) and the table of connections fed by reassembly ([`tracker`]). Each
//! connection's protocol is sniffed from its first bytes ([`sniff`]) and handed from one
//! parser to the next at protocol switches ([`conn`]): HTTP/2 streams leave as transactions
//! ([`h2`]), WebSocket and TLS connections as connection records ([`finished`]).

pub mod anomaly;
pub(crate) mod ascii;
pub mod capture;
pub mod checks;
pub mod config;
pub mod conn;
pub mod connection;
pub mod finished;
pub mod gate;
pub mod h2;
pub mod headers;
pub mod held;
pub mod parser;
pub mod sniff;
pub mod stats;
pub mod switch;
pub mod target;
pub mod tracker;
pub mod transaction;

pub use anomaly::HttpAnomaly;
pub use config::{HttpConfig, SelectedCapture};
pub use finished::{ConnKind, ConnRecord, Finished};
pub use gate::ResponseGate;
pub use headers::Headers;
pub use stats::HttpStats;
pub use tracker::HttpTracker;
pub use transaction::{GateNote, GateVerdict, Http2Info, Request, Response, Transaction};
