//! The apitap sensor: the only crate that does I/O.
//!
//! Start at [`pipeline`], which wires the stages in order: [`capture`] → [`front`] ([`decode`]
//! → reassembly (`apitap_reassembly`) → HTTP (`apitap_sessionizer::http`)) → [`analyze`] →
//! [`output`] (sessions → stages → records (`apitap_sessionizer::record`) → exporters
//! (`apitap_exporters`)). [`cli`] parses the flags
//! and runs one of the [`cmd`]s.

pub mod analyze;
pub mod capture;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod consume;
pub mod decode;
pub mod error;
pub mod exit;
pub mod front;
pub mod limits;
pub mod listen;
pub mod output;
pub mod pipeline;
pub mod privilege;
pub mod secret;
pub mod shard;
pub mod staged;
pub mod summary;
pub mod telemetry;
