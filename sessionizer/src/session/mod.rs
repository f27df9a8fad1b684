//! API sessions: session keys, client IPs, context parameters, endpoint templates and the
//! session lifecycle on packet time (`docs/sessions.md`).
//!
//! Pure: a finished [`crate::http::Transaction`] and its packet time in, a [`TxSession`] for its
//! http record and [`SessionRecord`]s out. No I/O, no clock, no randomness: the same input and
//! secret give the same records, byte for byte.

pub mod anomaly;
mod bindings;
pub mod body;
pub mod client_ip;
pub mod config;
pub mod context;
pub mod endpoint;
pub mod endpoint_ids;
pub mod facts;
pub mod jwt;
mod keys;
pub mod secret;
pub mod stats;
pub mod summary;
pub mod table;
mod user;
mod view;

#[cfg(test)]
mod tests;

pub use anomaly::SessionAnomaly;
pub use config::{BodyCapture, SessionConfig, SessionConfigError};
pub use facts::{Extractor, TxFacts};
pub use secret::{HashId, Secret};
pub use stats::SessionStats;
pub use summary::{
    ApiCallCounts, EndReason, Phase, SessionRecord, SessionSummary, TransactionId, TransactionIds,
    MAX_SESSION_API_ENDPOINTS,
};
pub use table::{SessionHint, SessionSlot, Sessionizer, TxSession};

/// Fixed-seed hasher for every table: iteration and hashing are the same on every run.
pub(crate) type FixedHasher = foldhash::fast::FixedState;
