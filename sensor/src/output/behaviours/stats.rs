//! What the behaviours stage counted: alerts by kind, and every bound it hit.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counters of the behaviours stage (`--stats-json` `behaviours`, the run summary).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BehaviourStats {
    /// Alerts raised, by kind.
    pub alerts: BTreeMap<&'static str, u64>,
    /// Login attempts with a username seen.
    pub logins: u64,
    /// JSON response bodies scanned for the ids they issue.
    pub bodies_scanned: u64,
    /// Compressed creation responses not inflated for their ids (see `learn_ownership`).
    pub bodies_not_inflated: u64,
    /// Sessions forgotten at `behaviours.max_sessions`.
    pub sessions_evicted: u64,
    /// Client addresses forgotten at `behaviours.max_clients`.
    pub clients_evicted: u64,
    /// Users and login usernames forgotten at `behaviours.max_users`.
    pub users_evicted: u64,
    /// User-Agents forgotten at `behaviours.max_user_agents`.
    pub user_agents_evicted: u64,
    /// Endpoints forgotten at `behaviours.max_endpoints`.
    pub endpoints_evicted: u64,
    /// Entities (of any table) forgotten at `behaviours.max_held_bytes`.
    pub memory_evictions: u64,
    /// Bytes the tables held when the account was last brought up to date (every 32
    /// transactions).
    pub held_bytes: usize,
    /// The most bytes the tables held at an update of the account.
    pub peak_held_bytes: usize,
    /// Requests to object endpoints not tracked at `behaviours.max_endpoints_per_entity`.
    pub endpoints_untracked: u64,
    /// Ids (failing objects, usernames, addresses) not told apart at
    /// `behaviours.max_ids_per_endpoint`.
    pub ids_untracked: u64,
    /// Issued ids not remembered at `behaviours.max_known_ids_per_session`.
    pub known_ids_dropped: u64,
    /// Values dropped from a window early at `behaviours.volume_spike.max_events`.
    pub volume_values_dropped: u64,
    /// Transactions with attack findings, not taken as behaviour evidence.
    pub attack_transactions: u64,
}

impl BehaviourStats {
    /// The non-zero counters by name, alerts as `alerts.<kind>`, for the run summary.
    pub fn nonzero(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .alerts
            .iter()
            .map(|(k, v)| (format!("alerts.{k}"), *v))
            .collect();
        for (name, v) in [
            ("logins", self.logins),
            ("bodies_scanned", self.bodies_scanned),
            ("bodies_not_inflated", self.bodies_not_inflated),
            ("sessions_evicted", self.sessions_evicted),
            ("clients_evicted", self.clients_evicted),
            ("users_evicted", self.users_evicted),
            ("user_agents_evicted", self.user_agents_evicted),
            ("endpoints_evicted", self.endpoints_evicted),
            ("memory_evictions", self.memory_evictions),
            ("endpoints_untracked", self.endpoints_untracked),
            ("ids_untracked", self.ids_untracked),
            ("known_ids_dropped", self.known_ids_dropped),
            ("volume_values_dropped", self.volume_values_dropped),
            ("attack_transactions", self.attack_transactions),
        ] {
            if v > 0 {
                out.push((name.to_owned(), v));
            }
        }
        out
    }
}
