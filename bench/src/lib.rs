//! Synthetic API-traffic pcap generator for apitap benchmarks.
//!
//! `traffic` drives keep-alive connections, `http` writes the messages, `frame` serialises
//! segments, `output` writes the pcap and the summary.

pub mod config;
pub mod error;
pub mod frame;
pub mod http;
pub mod output;
pub mod rng;
pub mod scenario;
pub mod traffic;

#[cfg(test)]
mod tests;

pub use config::TrafficConfig;
pub use error::GenError;
pub use output::{PacketSink, PcapSink, Summary};
pub use traffic::generate;
