//! Link layers seen in real corpora (issue 20 item 6): the same loopback exchange re-encoded
//! as PPP, PPP in HDLC-like framing, Cisco HDLC, PPPoE, 802.11, radiotap and PPI
//! (`fixtures/links/`, made by `scripts/make-link-captures.py` with scapy's encoders and
//! read by tshark as the same nine HTTP transactions). Each must replay to the records of the
//! Ethernet original, byte for byte: only the link layer differs.

use apitap_tests::harness::{fixture, replay_core, Replay};

/// Every re-encoding with its DLT.
const LINKS: [(&str, u32); 7] = [
    ("ppp", 9),
    ("ppp-hdlc-pfc", 50),
    ("chdlc", 104),
    ("pppoe", 1),
    ("ieee80211", 105),
    ("radiotap", 127),
    ("ppi", 192),
];

fn run(rel: &str) -> Replay {
    let r = replay_core(&[fixture(rel)], &["--quiet"]);
    assert_eq!(r.code, 0, "{rel}: {}", r.stderr);
    r
}

#[test]
fn every_link_layer_gives_the_records_of_the_ethernet_original() {
    let original = run("local/nginx-curl.pcap");
    assert_eq!(original.records.len(), 9);
    for (name, dlt) in LINKS {
        let r = run(&format!("links/{name}.pcap"));
        let decode = &r.stats["decode"];
        assert_eq!(decode["tcp_segments"], 77, "{name} (DLT {dlt}): {decode}");
        assert_eq!(decode["not_ip"], 0, "{name} (DLT {dlt})");
        assert_eq!(r.raw, original.raw, "{name} (DLT {dlt})");
    }
}
