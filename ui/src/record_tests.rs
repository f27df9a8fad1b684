//! Reading records: what the store indexes from each type, and what it does with lines that
//! are not records.

use super::*;

const HTTP: &str = r#"{"type":"http","schema_version":1,"ts":"2024-05-01T10:00:00.123456Z","conn_id":3,"depth":1,
 "flow":{"src_ip":"10.0.0.1","src_port":40000,"dst_ip":"10.0.0.2","dst_port":80},
 "request":{"method":"GET","uri":"/api/v1/users/7?full=1","path":"/api/v1/users/7","query":"full=1",
   "host":"api.example.com","version":"HTTP/1.1","user_agent":"curl/8.0","content_type":null,
   "headers":[["Host","api.example.com"],["Authorization","[redacted]"]],"body_bytes":0},
 "response":{"status":200,"reason":"OK","version":"HTTP/1.1","content_type":"application/json",
   "headers":[],"body_bytes":42,"interim":[]},
 "latency_us":1500,"switched_protocol":null,"anomalies":[]}"#;

fn http(line: &str) -> HttpRow {
    match parse(line.as_bytes(), None).expect("parses") {
        Parsed::Http(h) => h,
        other => panic!("not http: {other:?}"),
    }
}

#[test]
fn a_transaction_without_sessions_or_analyses_still_reads() {
    let h = http(HTTP);
    assert_eq!(h.ts_us, 1_714_557_600_123_456);
    assert_eq!(h.transaction_id, "3-1");
    assert_eq!(h.client_ip, Some("10.0.0.1".parse().unwrap()));
    // Sessions off: the method and raw path stand in for the endpoint.
    assert_eq!(h.endpoint.as_deref(), Some("GET /api/v1/users/7"));
    assert_eq!(h.target.as_deref(), Some("/api/v1/users/7?full=1"));
    assert_eq!(h.status, Some(200));
    assert!(h.attacks.is_empty());
    assert_eq!(h.api, ApiInfo::default());
    assert_eq!(h.auth, "authorization");
    assert_eq!(h.session_id, None);
}

#[test]
fn session_attack_and_api_fields_are_read_when_present() {
    let line = HTTP.replace(
        r#""anomalies":[]}"#,
        r#""anomalies":[],"session_id":"ab12","transaction_id":"3-1","session_key":{"source":"jwt:sub","verified":true},
           "client_ip":"203.0.113.9","endpoint":"GET /api/v1/users/{id}","context":{},"session_anomalies":[],
           "attacks":[{"class":"xss","rule":"xss.script_tag","where":"query:q","evidence":"<script>","outcome":"served"}],
           "api":{"status":"zombie","operation_id":"getUser","spec":"a.yaml","template":"/users/{id}","drift":[]},
           "sensor_id":"tap-9"}"#,
    );
    let h = http(&line);
    assert_eq!(h.session_id.as_deref(), Some("ab12"));
    assert_eq!(
        h.client_ip,
        Some("203.0.113.9".parse().unwrap()),
        "the resolved client wins"
    );
    assert_eq!(h.endpoint.as_deref(), Some("GET /api/v1/users/{id}"));
    assert_eq!(h.auth, "jwt:sub", "the session key names the scheme");
    assert_eq!(h.attacks[0].class, "xss");
    assert_eq!(h.attacks[0].evidence, "<script>");
    assert_eq!(h.attacks[0].outcome, "served");
    assert_eq!(h.api.status.as_deref(), Some("zombie"));
    assert_eq!(h.sensor.as_deref(), Some("tap-9"));
}

#[test]
fn a_kafka_header_names_the_sensor_only_when_the_record_does_not() {
    let h = match parse(HTTP.as_bytes(), Some("from-header")).unwrap() {
        Parsed::Http(h) => h,
        _ => unreachable!(),
    };
    assert_eq!(h.sensor.as_deref(), Some("from-header"));
}

#[test]
fn session_records_sum_their_count_objects() {
    let line = r#"{"type":"session","phase":"update","ts":"2024-05-01T10:00:05Z","session_id":"s1",
      "session_key":{"source":"cookie:sid","verified":null},"first_seen":"2024-05-01T10:00:00Z",
      "last_seen":"2024-05-01T10:00:04Z","requests":9,"user":"u-42","role":"admin",
      "client_ips":[{"ip":"203.0.113.9","count":9},{"ip":"bad","count":1}],
      "attacks":{"sqli":2,"xss":1},"alerts":{"bola":1},"api_calls":{"documented":6,"shadow":3}}"#;
    let Parsed::Session(s) = parse(line.as_bytes(), None).unwrap() else {
        panic!("not a session")
    };
    assert_eq!(s.phase_rank, 2);
    assert_eq!(s.requests, 9);
    assert_eq!(s.attacks, 3);
    assert_eq!(s.alerts, 1);
    assert_eq!((s.shadow, s.zombie), (3, 0));
    assert_eq!(s.client_ips, vec!["203.0.113.9".parse::<IpAddr>().unwrap()]);
    assert_eq!(s.last_us - s.first_us, 4_000_000);
}

#[test]
fn alerts_and_unknown_types_are_kept() {
    let line = r#"{"type":"alert","kind":"bola","ts":"2024-05-01T10:00:05Z","first_ts":"2024-05-01T10:00:01Z",
      "session_id":null,"client_ip":"10.0.0.9","user":null,"endpoint":null,"transaction_ids":["7-1","7-2"],"evidence":{}}"#;
    let Parsed::Alert(a) = parse(line.as_bytes(), None).unwrap() else {
        panic!("not an alert")
    };
    assert_eq!(a.kind, "bola");
    assert_eq!(a.session_id, None);
    assert_eq!(a.transaction_ids, ["7-1", "7-2"]);
    let ws = r#"{"type":"websocket","first_ts":"2024-05-01T10:00:00Z","session_id":"s1"}"#;
    let Parsed::Other(o) = parse(ws.as_bytes(), None).unwrap() else {
        panic!("not other")
    };
    assert_eq!(
        (o.kind.as_str(), o.session_id.as_deref()),
        ("websocket", Some("s1"))
    );
}

#[test]
fn lines_that_are_not_records_are_errors_not_panics() {
    for bad in [
        "",
        "not json",
        "[1,2]",
        r#"{"no":"type"}"#,
        r#"{"type":"http","ts":"yesterday"}"#,
        r#"{"type":"http","ts":"2024-05-01T10:00:00Z","attacks":"many"}"#,
        r#"{"type":"session","ts":"2024-05-01T10:00:00Z"}"#,
    ] {
        assert!(parse(bad.as_bytes(), None).is_err(), "{bad}");
    }
}

#[test]
fn long_fields_are_cut_at_a_character_boundary() {
    let long = "é".repeat(MAX_FIELD_CHARS + 10);
    let line = HTTP.replace(
        r#""anomalies":[]}"#,
        &format!(r#""anomalies":[],"endpoint":"{long}"}}"#),
    );
    assert_eq!(
        http(&line).endpoint.unwrap().chars().count(),
        MAX_FIELD_CHARS
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// No byte string makes the reader panic.
    #[test]
    fn any_bytes_give_a_record_or_an_error(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = parse(&bytes, None);
    }

    /// Every prefix of a valid record is an error, never a panic or a record of another type.
    #[test]
    fn prefixes_of_a_record_do_not_panic(cut in 0usize..HTTP.len()) {
        let r = parse(&HTTP.as_bytes()[..cut], None);
        proptest::prop_assert!(r.is_err());
    }
}
