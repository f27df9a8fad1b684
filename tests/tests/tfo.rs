//! TCP Fast Open (issue 20 item 6): a real capture (`fixtures/tfo/`) whose second and third
//! requests travel in their SYN. Every request reaches HTTP whole, with its response.

use apitap_tests::harness::{fixture, replay_core};
use apitap_tests::records::{k, keys};

#[test]
fn requests_carried_on_the_syn_reach_http_whole() {
    let r = replay_core(&[fixture("tfo/curl-tfo.pcap")], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        keys(&r.records),
        [
            k("GET", "/first", 200),
            k("GET", "/second", 200),
            k("GET", "/third", 200)
        ]
    );
    for rec in &r.records {
        assert_eq!(rec["anomalies"], serde_json::json!([]), "{rec}");
    }
    assert_eq!(r.stats["reassembly"]["flows_opened"], 3);
    assert_eq!(r.stats["reassembly"]["flows_reused"], 0);
}
