//! Pure TCP reassembly: [`Segment`]s with packet timestamps in, ordered [`StreamEvent`]s out.
//!
//! This crate never touches a socket, a pcap handle, a thread or a clock: time is the
//! `ts_us` argument of every call (microseconds since the UNIX epoch, packet time), so the same
//! input always yields the same events.
//!
//! Entry point: [`Reassembler::process`] for each TCP segment, [`Reassembler::expire`] as
//! packet time advances, [`Reassembler::flush`] at end of input.

pub mod config;
pub mod event;
mod reassembler;
mod retained;
pub mod segment;
pub mod stats;
mod stream;
mod table;

#[cfg(test)]
mod tests;

pub use config::ReassemblyConfig;
pub use event::{CloseReason, ConnId, OrientationBasis, Side, StreamEvent, StreamSink, TcpAnomaly};
pub use reassembler::Reassembler;
pub use segment::{Checksum, FlowKey, Segment, TcpFlags};
pub use stats::{InsertionStats, ReassemblyStats};
