//! Looking at apitap's JSON records in tests: transaction keys, lookups, and the small edits
//! tests use to state an expected record as "the clean one, except ...".

use std::time::Duration;

use serde_json::Value;

/// `(method, uri, status)` of a transaction; `None` where the request or response is missing.
pub type Key = (Option<String>, Option<String>, Option<u64>);

/// The `(method, uri, status)` of one `http` record.
pub fn key(r: &Value) -> Key {
    (
        r.pointer("/request/method")
            .and_then(Value::as_str)
            .map(str::to_string),
        r.pointer("/request/uri")
            .and_then(Value::as_str)
            .map(str::to_string),
        r.pointer("/response/status").and_then(Value::as_u64),
    )
}

/// The keys of every record, in output order.
pub fn keys(rs: &[Value]) -> Vec<Key> {
    rs.iter().map(key).collect()
}

/// A key from literals, for expected tables.
pub fn k(method: &str, uri: &str, status: u64) -> Key {
    (Some(method.into()), Some(uri.into()), Some(status))
}

/// Index of the only record whose request has `method` and `uri`; panics otherwise.
pub fn index_of(rs: &[Value], method: &str, uri: &str) -> usize {
    let hits: Vec<usize> = rs
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.pointer("/request/method").and_then(Value::as_str) == Some(method)
                && r.pointer("/request/uri").and_then(Value::as_str) == Some(uri)
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected exactly one {method} {uri} record, found {hits:?} in {:#?}",
        keys(rs)
    );
    hits[0]
}

/// The anomaly kinds of a record, in order.
pub fn anomalies(r: &Value) -> Vec<String> {
    r["anomalies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A copy of `r` with the field at JSON pointer `ptr` set to `v`; panics if the field is absent.
pub fn with(r: &Value, ptr: &str, v: Value) -> Value {
    let mut out = r.clone();
    *out.pointer_mut(ptr)
        .unwrap_or_else(|| panic!("no field {ptr} in {r}")) = v;
    out
}

/// A copy of `r` whose `anomalies` are `kinds`.
pub fn with_anomalies(r: &Value, kinds: &[&str]) -> Value {
    with(r, "/anomalies", Value::from(kinds.to_vec()))
}

/// A copy of `r` with `kind` removed from its anomalies.
pub fn without_anomaly(r: &Value, kind: &str) -> Value {
    let kept: Vec<String> = anomalies(r).into_iter().filter(|a| a != kind).collect();
    with(r, "/anomalies", Value::from(kept))
}

/// Renumber `conn_id`s in order of first appearance, so runs that number connections
/// differently compare equal when the connections themselves are the same.
pub fn renumber_conns(rs: &[Value]) -> Vec<Value> {
    let mut seen: Vec<u64> = Vec::new();
    rs.iter()
        .map(|r| {
            let id = r["conn_id"].as_u64().expect("conn_id");
            let n = match seen.iter().position(|s| *s == id) {
                Some(p) => p,
                None => {
                    seen.push(id);
                    seen.len() - 1
                }
            };
            with(r, "/conn_id", Value::from(n as u64 + 1))
        })
        .collect()
}

/// A packet time as the records print it: RFC 3339 UTC with microseconds, as `humantime`
/// formats it (independently of the sensor's own formatter).
pub fn rfc3339_us(ts: Duration) -> String {
    humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + ts).to_string()
}

/// Assert two record lists are equal, naming the first record that differs and both versions.
pub fn assert_records_eq(got: &[Value], want: &[Value], what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "{what}: record {i} differs\n got: {g}\nwant: {w}\n(got keys {:#?})",
            keys(got)
        );
    }
    assert_eq!(
        keys(got),
        keys(want),
        "{what}: {} records, expected {}",
        got.len(),
        want.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339_us(Duration::ZERO), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29T12:34:56.000007Z (a leap day).
        assert_eq!(
            rfc3339_us(Duration::new(1_709_210_096, 7_000)),
            "2024-02-29T12:34:56.000007Z"
        );
    }

    #[test]
    fn renumber_follows_first_appearance() {
        let rs = vec![
            serde_json::json!({"conn_id": 9}),
            serde_json::json!({"conn_id": 4}),
            serde_json::json!({"conn_id": 9}),
        ];
        let ids: Vec<u64> = renumber_conns(&rs)
            .iter()
            .map(|r| r["conn_id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, vec![1, 2, 1]);
    }
}
