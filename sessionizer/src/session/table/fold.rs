//! Folding one transaction into its session's summary, and what that leaves out at a bound.

use crate::http::Transaction;
use crate::session::endpoint::cut;
use crate::session::facts::ParamValue;
use crate::session::stats::SessionStats;
use crate::session::summary::{count_status, EndpointAgg, StatusKey};

use super::{Session, Sessionizer, TxSession, SPLIT};

/// What folding one transaction into its session left out at a bound; added to
/// [`SessionStats`] once per transaction.
#[derive(Debug, Default)]
pub(super) struct Dropped {
    /// Client IPs past `max_client_ips_per_session`.
    client_ips: u64,
    /// User agents past `max_user_agents_per_session`.
    user_agents: u64,
    /// Endpoints past `max_endpoints_per_session`.
    endpoints: u64,
    /// Distinct values past `max_distinct_values_per_param`.
    distinct_values: u64,
    /// Transaction ids past `max_transaction_ids_per_session`.
    transaction_ids: u64,
    /// User agents cut at `max_value_bytes`.
    values_truncated: u64,
}

impl Dropped {
    /// Add these to the table's counters.
    pub(super) fn add_to(&self, stats: &mut SessionStats) {
        stats.client_ips_dropped += self.client_ips;
        stats.user_agents_dropped += self.user_agents;
        stats.endpoints_dropped += self.endpoints;
        stats.distinct_values_capped += self.distinct_values;
        stats.transaction_ids_dropped += self.transaction_ids;
        stats.values_truncated += self.values_truncated;
    }
}

impl Sessionizer {
    /// Fold the transaction into session `i`'s summary: times, counts, client address, user
    /// agent, status, endpoint, context values, user and role, transaction id.
    pub(super) fn fold(
        &mut self,
        i: u32,
        now: u64,
        tx: &Transaction,
        ts: &TxSession,
        endpoint: Option<(&str, u64)>,
        values: &mut Vec<ParamValue>,
    ) -> Dropped {
        let lim = self.limits.clone();
        let mut dropped = Dropped::default();
        let first_of_part = {
            let s = self.session(i);
            !s.started && s.part > 1
        };
        if first_of_part {
            // A part after a split starts with its first transaction: later than the split
            // put it in the split list, so it goes to the list's back again (`now` is the
            // latest time yet), where the expiry's walk from the front expects it.
            self.session_mut(i).part_start_us = now;
            self.table.move_to_back(SPLIT, i);
        }
        let s = self.session_mut(i);
        s.touch_us = now;
        s.dirty = true;
        let sum = &mut s.summary;
        let (first_ts, last_ts) = tx_times(tx);
        if sum.requests == 0 || first_ts < sum.first_seen_us {
            sum.first_seen_us = first_ts;
        }
        sum.last_seen_us = sum.last_seen_us.max(last_ts);
        sum.requests += 1;
        sum.request_bytes += tx.request.as_ref().map_or(0, |r| r.body_bytes);
        sum.response_bytes += tx.response.as_ref().map_or(0, |r| r.body_bytes);
        if !sum.client_ips.add(ts.client_ip, lim.max_ips) {
            dropped.client_ips += 1;
        }
        let ua = tx
            .request
            .as_ref()
            .and_then(|r| r.headers.get("user-agent"))
            .filter(|v| !v.is_empty());
        if let Some(ua) = ua {
            let c = cut(ua, lim.max_value_bytes);
            dropped.values_truncated += u64::from(c.len() < ua.len());
            if !sum.user_agents.add_str(c, lim.max_uas) {
                dropped.user_agents += 1;
            }
        }
        let status = tx
            .response
            .as_ref()
            .map_or(StatusKey::None, |r| StatusKey::Code(r.status));
        count_status(&mut sum.status, status);
        if let Some((name, id)) = endpoint {
            let added = count_endpoint(s, name, id, status, lim.max_endpoints);
            dropped.endpoints += u64::from(!added);
        }
        let sum = &mut s.summary;
        for v in values.drain(..) {
            let agg = sum.context.entry(v.name).or_default();
            if !agg.add(v.fingerprint, v.exported, v.number, lim.max_distinct) {
                dropped.distinct_values += 1;
            }
        }
        if ts.user.is_some() {
            sum.user.clone_from(&ts.user);
        }
        if ts.role.is_some() {
            sum.role.clone_from(&ts.role);
        }
        if sum.transaction_ids.len() < lim.max_tx_ids {
            sum.transaction_ids.push(ts.transaction_id);
        } else {
            sum.transaction_ids_dropped += 1;
            dropped.transaction_ids += 1;
        }
        dropped
    }
}

/// Count a request to endpoint `name` (id `id`) with `status` in session `s`: found by id
/// among the session's own, by name only when the id is not there (a new endpoint, or ids
/// cleared since the session listed it). Returns `false` when it was not stored at
/// `max_endpoints`.
fn count_endpoint(s: &mut Session, name: &str, id: u64, status: StatusKey, max: usize) -> bool {
    let sum = &mut s.summary;
    let at = s.endpoint_ids.iter().position(|&x| x == id).or_else(|| {
        let at = sum.endpoints.iter().position(|(n, _)| **n == *name)?;
        s.endpoint_ids[at] = id;
        Some(at)
    });
    if let Some((_, agg)) = at.and_then(|at| sum.endpoints.get_mut(at)) {
        agg.count += 1;
        count_status(&mut agg.status, status);
        return true;
    }
    if sum.endpoints.len() >= max {
        sum.endpoints_dropped += 1;
        return false;
    }
    let mut agg = EndpointAgg {
        count: 1,
        ..EndpointAgg::default()
    };
    count_status(&mut agg.status, status);
    sum.endpoints.push((name.into(), agg));
    s.endpoint_ids.push(id);
    debug_assert_eq!(s.endpoint_ids.len(), sum.endpoints.len());
    true
}

/// Packet times of a transaction: its first byte and its last byte.
fn tx_times(tx: &Transaction) -> (u64, u64) {
    let first = tx.ts_us();
    let last = [
        tx.request.as_ref().map(|r| r.end_ts_us),
        tx.response.as_ref().map(|r| r.end_ts_us),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(first);
    (first, last.max(first))
}
