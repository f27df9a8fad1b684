//! Alerts: something a security team should look at, raised by an analysis of a session, a
//! client or a user (an attack in a session, abuse without a payload, a call to an
//! undocumented API). Pure data; the record writer is in [`crate::record`].

use std::net::IpAddr;

use crate::session::{HashId, TransactionId};

/// Most evidence transactions one alert lists; the alert says how many more there were.
pub const MAX_ALERT_TRANSACTIONS: usize = 32;

/// One alert, as the `alert` record carries it (`docs/events.md`).
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// What was found: `attack`, `attack_served`, `bola`, `shadow_api`...
    pub kind: &'static str,
    /// Packet time the alert was raised at.
    pub ts_us: u64,
    /// Packet time of the first transaction of its evidence.
    pub first_ts_us: u64,
    /// The session it concerns; `None` for kinds about a client or a user.
    pub session_id: Option<HashId>,
    /// The client.
    pub client_ip: IpAddr,
    /// The user, as the session records name it (plain, hashed or masked as configured).
    pub user: Option<String>,
    /// The endpoint it concerns, when one (`GET /api/v1/orders/{id}`).
    pub endpoint: Option<String>,
    /// The evidence transactions, in order, at most [`MAX_ALERT_TRANSACTIONS`].
    pub transaction_ids: Vec<TransactionId>,
    /// Evidence transactions not listed.
    pub transaction_ids_dropped: u64,
    /// The numbers behind the decision, for an analyst to judge it: a JSON object.
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

impl Alert {
    /// Add an evidence transaction, counting it as dropped past the bound.
    pub fn push_transaction(&mut self, id: TransactionId) {
        if self.transaction_ids.len() < MAX_ALERT_TRANSACTIONS {
            self.transaction_ids.push(id);
        } else {
            self.transaction_ids_dropped += 1;
        }
    }
}
