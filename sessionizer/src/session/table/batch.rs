//! The session table's batch prefetch: request the memory a batch of transactions will touch
//! before observing them one by one.

use crate::prefetch;
use crate::session::facts::TxFacts;

use super::{SessionHint, Sessionizer, PREFETCH_LIST_ENTRIES, PREFETCH_SESSION_BYTES};

impl Sessionizer {
    /// Request the memory that [`Self::observe_facts`] will touch for these transactions'
    /// sessions, all at once: first the slots, then (once those arrived) the lists the
    /// transactions append to. Numbers their endpoints and looks their sessions up on the way
    /// (what [`Self::observe_facts`] would do), leaving both in each hint. Only a hint: the
    /// results do not depend on it.
    ///
    /// Thousands of open sessions do not fit in the caches, and each transaction's session
    /// state is a dozen cold lines; observed one after the other, each miss waited for the
    /// previous transaction's. A batch of staged transactions knows its keys in advance.
    pub fn prefetch<'a>(
        &mut self,
        batch: impl Iterator<Item = (&'a TxFacts, &'a mut SessionHint)>,
    ) {
        let mut found: Vec<(u32, Option<u64>)> = Vec::new();
        let mut pending: Vec<(&'a TxFacts, &'a mut SessionHint)> = Vec::new();
        for (f, hint) in batch {
            if let Some(k) = &f.key {
                self.table.candidates(&k.base, |slot| {
                    prefetch::bytes(slot, PREFETCH_SESSION_BYTES)
                });
            }
            hint.endpoint_id = f.endpoint.as_deref().map(|e| self.endpoint_ids.id(e));
            pending.push((f, hint));
        }
        // Looked up once here; `observe_facts` checks the slot instead of looking up again.
        for (f, hint) in pending {
            hint.slot = f.key.as_ref().and_then(|k| self.table.find(&k.base));
            if let Some(slot) = hint.slot {
                found.push((slot, hint.endpoint_id));
            }
        }
        for &(slot, endpoint_id) in &found {
            let Some(s) = self.table.get(slot) else {
                continue;
            };
            let sum = &s.summary;
            prefetch::slice(&sum.client_ips.counts);
            prefetch::slice(&sum.user_agents.counts);
            // Of the session's endpoints, only the transaction's entry is read.
            let entry = endpoint_id
                .and_then(|id| s.endpoint_ids.iter().position(|&x| x == id))
                .and_then(|at| sum.endpoints.get(at));
            if let Some(entry) = entry {
                prefetch::value(entry);
            }
        }
        // The user agents that list points to, compared with the transaction's (endpoints
        // are found by id: their names are not read).
        for &(slot, _) in &found {
            let Some(s) = self.table.get(slot) else {
                continue;
            };
            for (ua, _) in s
                .summary
                .user_agents
                .counts
                .iter()
                .take(PREFETCH_LIST_ENTRIES)
            {
                prefetch::line(ua.as_ptr());
            }
        }
    }
}
