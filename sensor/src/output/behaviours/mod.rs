//! Behaviours: API abuse told by the sequence of well-formed requests, per session, client
//! address, user and endpoint (`docs/behaviours.md`). One [`Stage`](super::Stage), with a
//! file per kind.

mod bola;
mod brute_force;
pub mod config;
mod credential_stuffing;
mod entity;
mod enumeration;
mod found;
mod ids;
mod scraping;
mod stage;
#[cfg(test)]
mod stage_tests;
mod state;
mod stats;
mod volume_spike;

pub use config::{BehavioursConfig, BehavioursConfigError};
pub use stage::Behaviours;
pub use stats::BehaviourStats;

/// The alert kinds this stage raises.
pub const KINDS: [&str; 6] = [
    bola::KIND,
    enumeration::KIND,
    credential_stuffing::KIND,
    brute_force::KIND,
    scraping::KIND,
    volume_spike::KIND,
];
