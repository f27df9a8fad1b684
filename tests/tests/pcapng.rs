//! pcapng files that libpcap could not read through, read by apitap itself (issue 20 item 5);
//! captures in `fixtures/pcapng/`, made by `scripts/make-pcapng-fixtures.sh` with editcap and
//! mergecap. A valid file never exits 1 ("damaged").

use apitap_tests::harness::{fixture, replay_core, Replay};
use apitap_tests::records::keys;

fn run(rel: &[&str]) -> Replay {
    let files: Vec<_> = rel.iter().map(|r| fixture(r)).collect();
    let r = replay_core(&files, &[]);
    assert_eq!(r.code, 0, "{rel:?}: {}", r.stderr);
    r
}

/// The nginx and Python exchanges, each in its own pcap, merged by time.
fn originals() -> Replay {
    run(&["local/nginx-curl.pcap", "local/python-pipelining.pcap"])
}

/// Interface 0 Ethernet, interface 1 raw IP (mergecap of the two exchanges, the second with
/// its Ethernet header chopped off): libpcap said "read error after packet 0".
#[test]
fn interfaces_of_different_link_types_replay_like_the_originals() {
    let r = run(&["pcapng/two-link-types.pcapng"]);
    assert_eq!(r.raw, originals().raw);
    assert_eq!(r.records.len(), 18, "{}", r.raw);
}

/// A little-endian section then a big-endian one: libpcap stopped after the first.
#[test]
fn a_second_section_in_the_other_byte_order_is_read_through() {
    let r = run(&["pcapng/two-byte-orders.pcapng"]);
    assert_eq!(r.raw, originals().raw);
}

/// Microsecond ticks declared as seconds: every packet time is about 1.7e21 µs, beyond what
/// 64 bits hold. Each takes the time of the packet before it (here: all of them 1970-01-01),
/// so the flows keep their packets together: the nine transactions of the original, not
/// twice as many records split by idle timeouts at every packet.
#[test]
fn overflowing_timestamps_keep_the_transactions_whole() {
    let r = run(&["pcapng/overflowing-times.pcapng"]);
    let original = run(&["local/nginx-curl.pcap"]);
    assert_eq!(keys(&r.records), keys(&original.records));
    assert!(r
        .records
        .iter()
        .all(|x| x["anomalies"].as_array().unwrap().is_empty()));
    assert!(r
        .records
        .iter()
        .all(|x| x["ts"] == "1970-01-01T00:00:00.000000Z"));
    assert!(
        r.stderr.contains("77 packet time(s) out of range"),
        "{}",
        r.stderr
    );
}

/// A file with a Decryption Secrets Block (editcap --inject-secrets) replays; its secrets do
/// not disturb the packets.
#[test]
fn decryption_secrets_blocks_are_read_through() {
    let r = run(&["pcapng/tls13-with-secrets.pcapng"]);
    assert_eq!(r.stats["decode"]["packets"], 16);
}
