//! The `session` record: a session part's start, update or end, with what it accumulated.
//! End records list every transaction id of their part, so these are the largest records.

use crate::session::summary::{sorted_by_key, Counted, ParamAgg, Phase, StatusKey};
use crate::session::{EndReason, HashId, SessionRecord, TransactionId};

use super::json::{
    key, write_f64, write_hex_str, write_ip, write_opt_bool, write_opt_str, write_str,
    write_str_known, write_ts_micros, write_u64, Arr, Obj,
};
use super::SCHEMA_VERSION;

/// `"start"`, `"update"`, `"end"`.
pub(super) fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Start => "start",
        Phase::Update => "update",
        Phase::End => "end",
    }
}

/// A session id in hex, or `null`.
fn write_opt_id(out: &mut Vec<u8>, id: Option<HashId>) {
    match id {
        Some(id) => write_hex_str(out, &id.0),
        None => out.extend_from_slice(b"null"),
    }
}

impl SessionRecord {
    /// Append this record as one line of JSON (no newline), written by sensor `sensor_id`.
    pub fn write_json(&self, sensor_id: Option<&str>, out: &mut Vec<u8>) {
        let sum = &self.summary;
        let mut o = Obj::open(out);
        write_str_known(o.key(key!("type")), "session", true);
        write_u64(o.key(key!("schema_version")), u64::from(SCHEMA_VERSION));
        write_opt_str(o.key(key!("sensor_id")), sensor_id);
        write_str_known(o.key(key!("phase")), phase_name(self.phase), true);
        write_ts_micros(o.key(key!("ts")), self.ts_us);
        write_opt_id(o.key(key!("session_id")), Some(self.session_id));
        write_u64(o.key(key!("part")), u64::from(self.part));
        write_opt_id(o.key(key!("previous_part")), self.previous_part);
        write_opt_id(o.key(key!("linked_from")), self.linked_from);
        let mut k = Obj::open(o.key(key!("session_key")));
        write_str(k.key(key!("source")), &self.key_source);
        write_opt_bool(k.key(key!("verified")), self.verified);
        k.close();
        write_opt_bool(o.key(key!("anonymous")), Some(self.anonymous));
        write_opt_str(o.key(key!("reason")), self.reason.map(EndReason::name));
        write_ts_micros(o.key(key!("first_seen")), sum.first_seen_us);
        write_ts_micros(o.key(key!("last_seen")), sum.last_seen_us);
        let duration = sum.last_seen_us.saturating_sub(sum.first_seen_us);
        write_u64(o.key(key!("duration_us")), duration);
        write_u64(o.key(key!("requests")), sum.requests);
        write_u64(o.key(key!("request_bytes")), sum.request_bytes);
        write_u64(o.key(key!("response_bytes")), sum.response_bytes);
        write_opt_str(o.key(key!("user")), sum.user.as_deref());
        write_opt_str(o.key(key!("role")), sum.role.as_deref());
        write_counted(
            o.key(key!("client_ips")),
            key!("ip"),
            &sum.client_ips,
            |out, ip| write_ip(out, *ip),
        );
        write_u64(o.key(key!("client_ips_dropped")), sum.client_ips.dropped);
        write_counted(
            o.key(key!("user_agents")),
            key!("user_agent"),
            &sum.user_agents,
            |out, ua| write_str(out, ua),
        );
        write_u64(o.key(key!("user_agents_dropped")), sum.user_agents.dropped);
        let mut endpoints = Obj::open(o.key(key!("endpoints")));
        for (name, agg) in sorted_by_key(&sum.endpoints) {
            let mut e = Obj::open(endpoints.dyn_key(name));
            write_u64(e.key(key!("count")), agg.count);
            write_status(e.key(key!("status")), &agg.status);
            e.close();
        }
        endpoints.close();
        write_u64(o.key(key!("endpoints_dropped")), sum.endpoints_dropped);
        write_status(o.key(key!("status")), &sum.status);
        let mut context = Obj::open(o.key(key!("context")));
        for (name, agg) in &sum.context {
            write_param(context.dyn_key(name), agg);
        }
        context.close();
        let mut anomalies = Obj::open(o.key(key!("anomalies")));
        for (name, n) in &sum.anomalies {
            write_u64(anomalies.dyn_key(name), *n);
        }
        anomalies.close();
        write_counts(
            o.key(key!("alerts")),
            sum.alerts.iter().map(|(k, n)| (*k, *n)),
        );
        write_counts(
            o.key(key!("attacks")),
            sum.attacks.iter().map(|(k, n)| (*k, *n)),
        );
        let outcomes = sum.attack_outcomes.iter().map(|(k, n)| (*k, *n));
        write_counts(o.key(key!("attack_outcomes")), outcomes);
        let first = o.key(key!("first_attack_ts"));
        match sum.first_attack_ts_us {
            Some(ts) => write_ts_micros(first, ts),
            None => first.extend_from_slice(b"null"),
        }
        let before = o.key(key!("requests_before_first_attack"));
        match sum.requests_before_first_attack {
            Some(n) => write_u64(before, n),
            None => before.extend_from_slice(b"null"),
        }
        write_counts(o.key(key!("api_calls")), sum.api_calls.iter());
        write_names(o.key(key!("shadow_endpoints")), &sum.shadow_endpoints);
        write_names(o.key(key!("zombie_endpoints")), &sum.zombie_endpoints);
        write_u64(
            o.key(key!("api_endpoints_dropped")),
            sum.api_endpoints_dropped,
        );
        if let Some(n) = sum.websocket_messages {
            write_u64(o.key(key!("websocket_messages")), n);
        }
        write_transaction_ids(
            &mut o,
            sum.transaction_ids.iter(),
            sum.transaction_ids_dropped,
        );
        o.close();
    }
}

/// A list of strings, in the order given.
fn write_names(out: &mut Vec<u8>, names: &[Box<str>]) {
    let mut list = Arr::open(out);
    for n in names {
        write_str(list.item(), n);
    }
    list.close();
}

/// An object of counts by name, in the order given (the maps keep their keys sorted).
fn write_counts<'a>(out: &mut Vec<u8>, counts: impl Iterator<Item = (&'a str, u64)>) {
    let mut o = Obj::open(out);
    for (name, n) in counts {
        write_u64(o.dyn_key(name), n);
    }
    o.close();
}

/// A count list as `[{<field>: value, "count": n}, ...]` sorted by value; `field` is a
/// [`key!`].
fn write_counted<K: Ord>(
    out: &mut Vec<u8>,
    field: &[u8],
    c: &Counted<K>,
    write_k: impl Fn(&mut Vec<u8>, &K),
) {
    let mut list = Arr::open(out);
    for (k, n) in sorted_by_key(&c.counts) {
        let mut e = Obj::open(list.item());
        write_k(e.key(field), k);
        write_u64(e.key(key!("count")), *n);
        e.close();
    }
    list.close();
}

/// A status list as a JSON object sorted by status: `{"200":3,"none":1}`.
fn write_status(out: &mut Vec<u8>, status: &[(StatusKey, u64)]) {
    let mut o = Obj::open(out);
    for (k, n) in sorted_by_key(status) {
        let out = match k {
            StatusKey::Code(c) => {
                let mut digits = itoa::Buffer::new();
                o.dyn_key(digits.format(*c))
            }
            StatusKey::None => o.key(key!("none")),
            StatusKey::Other => o.key(key!("other")),
        };
        write_u64(out, *n);
    }
    o.close();
}

/// One context parameter's aggregate: presence, first and last values, distinct count and
/// numeric aggregates.
fn write_param(out: &mut Vec<u8>, p: &ParamAgg) {
    let mut o = Obj::open(out);
    write_u64(o.key(key!("present")), p.present);
    write_opt_str(o.key(key!("first")), p.first.as_deref());
    write_opt_str(o.key(key!("last")), p.last.as_deref());
    write_u64(o.key(key!("distinct")), p.distinct() as u64);
    write_opt_bool(o.key(key!("distinct_capped")), Some(p.distinct_capped));
    let numeric = o.key(key!("numeric"));
    match p.numeric {
        None => numeric.extend_from_slice(b"null"),
        Some(n) => {
            let mut v = Obj::open(numeric);
            write_u64(v.key(key!("count")), n.count);
            write_f64(v.key(key!("sum")), n.sum);
            write_f64(v.key(key!("min")), n.min);
            write_f64(v.key(key!("max")), n.max);
            v.close();
        }
    }
    o.close();
}

/// `transaction_ids` (`"<conn_id>-<depth>"` in order) and `transaction_ids_dropped`: the
/// transactions of a session part, or the evidence of an alert.
pub(super) fn write_transaction_ids(
    o: &mut Obj<'_>,
    ids: impl IntoIterator<Item = TransactionId>,
    dropped: u64,
) {
    let mut list = Arr::open(o.key(key!("transaction_ids")));
    for t in ids {
        let out = list.item();
        out.push(b'"');
        write_u64(out, t.conn);
        out.push(b'-');
        write_u64(out, u64::from(t.depth));
        out.push(b'"');
    }
    list.close();
    write_u64(o.key(key!("transaction_ids_dropped")), dropped);
}
