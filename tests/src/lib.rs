//! Test helpers for apitap: pcap I/O and TCP fault injection on real captures.
//!
//! Nothing here depends on the other workspace crates; integration tests combine these
//! helpers with the `apitap` binary.

#![warn(missing_docs)]

pub mod adversarial;
pub mod faults;
pub mod harness;
pub mod oracle;
pub mod pcapio;
pub mod records;
pub mod shop;
pub mod validators;
