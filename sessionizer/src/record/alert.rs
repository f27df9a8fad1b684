//! The `alert` record.

use crate::alert::Alert;

use super::json::{
    key, write_hex_str, write_ip, write_opt_str, write_str, write_str_known, write_ts_micros,
    write_u64, Arr, Obj,
};
use super::SCHEMA_VERSION;

impl Alert {
    /// Append this alert as one line of JSON (no newline), written by sensor `sensor_id`.
    pub fn write_json(&self, sensor_id: Option<&str>, out: &mut Vec<u8>) {
        let mut o = Obj::open(out);
        write_str_known(o.key(key!("type")), "alert", true);
        write_u64(o.key(key!("schema_version")), u64::from(SCHEMA_VERSION));
        write_opt_str(o.key(key!("sensor_id")), sensor_id);
        write_str(o.key(key!("kind")), self.kind);
        write_ts_micros(o.key(key!("ts")), self.ts_us);
        write_ts_micros(o.key(key!("first_ts")), self.first_ts_us);
        let id = o.key(key!("session_id"));
        match self.session_id {
            Some(s) => write_hex_str(id, &s.0),
            None => id.extend_from_slice(b"null"),
        }
        write_ip(o.key(key!("client_ip")), self.client_ip);
        write_opt_str(o.key(key!("user")), self.user.as_deref());
        write_opt_str(o.key(key!("endpoint")), self.endpoint.as_deref());
        let mut ids = Arr::open(o.key(key!("transaction_ids")));
        for t in &self.transaction_ids {
            let out = ids.item();
            out.push(b'"');
            write_u64(out, t.conn);
            out.push(b'-');
            write_u64(out, u64::from(t.depth));
            out.push(b'"');
        }
        ids.close();
        let dropped = o.key(key!("transaction_ids_dropped"));
        write_u64(dropped, self.transaction_ids_dropped);
        // Writing a `serde_json::Value` to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *o.key(key!("evidence")), &self.evidence);
        o.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{HashId, TransactionId};

    /// An alert's record holds every field, with the evidence object as given.
    #[test]
    fn alert_record_fields() {
        let mut a = Alert {
            kind: "bola",
            ts_us: 1_700_000_000_000_000,
            first_ts_us: 1_699_999_999_000_000,
            session_id: Some(HashId([0xab; 16])),
            client_ip: "10.0.0.9".parse().unwrap(),
            user: Some("alice \"a\"".into()),
            endpoint: Some("GET /api/v1/orders/{id}".into()),
            transaction_ids: Vec::new(),
            transaction_ids_dropped: 0,
            evidence: serde_json::json!({"foreign_ids": 31, "ratio": 0.97})
                .as_object()
                .cloned()
                .unwrap(),
        };
        for depth in 1..=crate::alert::MAX_ALERT_TRANSACTIONS as u32 + 2 {
            a.push_transaction(TransactionId { conn: 7, depth });
        }
        let mut out = Vec::new();
        a.write_json(None, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["type"], "alert");
        assert_eq!(v["kind"], "bola");
        assert_eq!(v["ts"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(v["session_id"], "ab".repeat(16));
        assert_eq!(v["user"], "alice \"a\"");
        assert_eq!(v["transaction_ids"][0], "7-1");
        assert_eq!(
            v["transaction_ids"].as_array().unwrap().len(),
            crate::alert::MAX_ALERT_TRANSACTIONS
        );
        assert_eq!(v["transaction_ids_dropped"], 2);
        assert_eq!(v["evidence"]["foreign_ids"], 31);
        let mut none = a.clone();
        none.session_id = None;
        let mut out = Vec::new();
        none.write_json(None, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(v["session_id"].is_null());
    }
}
