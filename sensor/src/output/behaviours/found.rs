//! What a kind found: the evidence behind an alert, before the stage says whom it concerns.

use std::collections::VecDeque;

use apitap_sessionizer::session::TransactionId;
use serde_json::{Map, Value};

use super::state::Timed;

/// One kind's decision, with the numbers behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The alert kind.
    pub kind: &'static str,
    /// Packet time of the first evidence transaction.
    pub first_ts_us: u64,
    /// The evidence transactions, oldest first.
    pub txs: Vec<TransactionId>,
    /// The endpoint it concerns, when one.
    pub endpoint: Option<String>,
    /// The numbers behind the decision (the alert's `evidence`).
    pub evidence: Map<String, Value>,
    /// It concerns the transaction's session (set by the stage for session-scoped kinds;
    /// else a client, a User-Agent or a user).
    pub session: bool,
}

impl Found {
    /// A finding of `kind` from the evidence in `ring`.
    pub fn new<E: Timed>(kind: &'static str, ring: &VecDeque<E>, endpoint: Option<&str>) -> Self {
        Found {
            kind,
            first_ts_us: ring.front().map_or(0, Timed::ts_us),
            txs: ring.iter().map(Timed::tx).collect(),
            endpoint: endpoint.map(str::to_owned),
            evidence: Map::new(),
            session: false,
        }
    }

    /// Add an evidence field.
    pub fn with(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.evidence.insert(name.to_owned(), v.into());
        self
    }
}

/// A ratio rounded to 4 decimals for the record (the decision used the exact value).
pub fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}
