//! HTTP/1.0 and HTTP/1.1 (RFC 9110, RFC 9112): a pure parser ([`parser`]), per-connection
//! state ([`connection`]) and the table of connections fed by reassembly ([`tracker`]).

pub mod anomaly;
pub(crate) mod ascii;
pub mod capture;
pub mod config;
pub mod connection;
pub mod headers;
pub mod parser;
pub mod stats;
pub mod target;
pub mod tracker;
pub mod transaction;

pub use anomaly::HttpAnomaly;
pub use config::{HttpConfig, SelectedCapture};
pub use headers::Headers;
pub use stats::HttpStats;
pub use tracker::HttpTracker;
pub use transaction::{Request, Response, Transaction};
