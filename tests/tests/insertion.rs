//! Insertion evasion (issue 21): crafted captures (`fixtures/insertion/`, made by
//! `scripts/make-insertion-captures.py`) where the sensor sees a copy of the request that the
//! server never accepted (TTL 1, a wrong checksum) or two copies that disagree. The server
//! answered `GET /admin.html`. Each test says which bytes HTTP saw and which anomalies flag it.

use std::path::PathBuf;

use apitap_tests::harness::{fixture, replay, replay_core, scratch, Replay, Scratch};
use apitap_tests::records::anomalies;

fn run(name: &str) -> Replay {
    let r = replay_core(&[fixture(&format!("insertion/{name}.pcap"))], &[]);
    assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    assert_eq!(r.records.len(), 1, "{name}: {}", r.raw);
    r
}

/// A config file with the core settings and `extra` TOML, in a scratch directory that lives
/// as long as the guard returned with it.
fn config(name: &str, extra: &str) -> (Scratch, PathBuf) {
    let dir = scratch(name);
    let path = dir.join("apitap.toml");
    std::fs::write(&path, format!("[session]\nenabled = false\n{extra}")).unwrap();
    (dir, path)
}

/// What one record says: the URI and Host HTTP saw, the status, the anomalies.
fn seen(r: &Replay) -> (String, String, u64, Vec<String>) {
    let rec = &r.records[0];
    (
        rec["request"]["uri"].as_str().unwrap().into(),
        rec["request"]["host"].as_str().unwrap().into(),
        rec["response"]["status"].as_u64().unwrap(),
        anomalies(rec),
    )
}

fn want(uri: &str, host: &str, kinds: &[&str]) -> (String, String, u64, Vec<String>) {
    let kinds = kinds.iter().map(|k| k.to_string()).collect();
    (uri.into(), host.into(), 200, kinds)
}

#[test]
fn clean_exchange_has_no_anomaly() {
    let r = run("clean");
    assert_eq!(seen(&r), want("/admin.html", "shop.example", &[]));
}

/// The first copy has TTL 1: it dies before the server. First data wins (HTTP saw the copy
/// the server never got), but both the TTL change and the differing real copy are flagged
/// on the request.
#[test]
fn ttl_one_first_copy_is_flagged() {
    let r = run("ttl-first-copy");
    assert_eq!(
        seen(&r),
        want(
            "/index.html",
            "shop.example",
            &["ttl_changed", "retransmission_mismatch"]
        )
    );
    assert_eq!(
        r.stats["insertion"]["ttl_changes"], 2,
        "to 1, and back to 64"
    );
}

/// The first copy has a wrong TCP checksum, and is in order: nothing better is there when
/// it arrives, so it is delivered; the correct copy is compared with it and flagged.
#[test]
fn bad_checksum_first_copy_is_flagged() {
    let r = run("bad-checksum-first-copy");
    assert_eq!(
        seen(&r),
        want(
            "/index.html",
            "shop.example",
            &["bad_checksum", "retransmission_mismatch"]
        )
    );
    assert_eq!(r.stats["insertion"]["bad_checksum_segments"], 1);
    assert_eq!(r.stats["decode"]["checksums"]["invalid_tcp"], 1);
}

/// A wrong-checksum copy waiting out of order is replaced by the correct one: HTTP sees the
/// bytes the server accepted.
#[test]
fn bad_checksum_copy_never_wins_over_a_correct_one() {
    let r = run("bad-checksum-buffered");
    assert_eq!(
        seen(&r),
        want(
            "/admin.html",
            "shop.example",
            &["bad_checksum", "retransmission_mismatch"]
        )
    );
}

/// Overlapping copies with different bytes are flagged whatever the order; first data wins.
#[test]
fn conflicting_overlap_is_flagged_in_both_orders() {
    let delivered_first = run("overlap-delivered-first");
    assert_eq!(
        seen(&delivered_first),
        want("/admin.html", "shop.example", &["retransmission_mismatch"])
    );
    let buffered_first = run("overlap-buffered-first");
    assert_eq!(
        seen(&buffered_first),
        want("/index.html", "shop.example", &["retransmission_mismatch"])
    );
}

/// `decode.verify_checksums = "off"` trusts every segment: the wrong-checksum copy is only a
/// differing retransmission. `reassembly.max_retained_bytes_per_stream = 0` keeps nothing
/// delivered, so a later differing copy goes unseen.
#[test]
fn the_checks_follow_their_config() {
    let (_off_dir, off) = config("insertion-off", "[decode]\nverify_checksums = \"off\"\n");
    let p = fixture("insertion/bad-checksum-first-copy.pcap");
    let r = replay(&[p], &["--config", off.to_str().unwrap()]);
    assert_eq!(
        seen(&r),
        want("/index.html", "shop.example", &["retransmission_mismatch"])
    );
    assert_eq!(r.stats["decode"]["checksums"]["verified"], 0);
    let (_none_dir, none) = config(
        "insertion-none",
        "[reassembly]\nmax_retained_bytes_per_stream = 0\n",
    );
    let p = fixture("insertion/overlap-delivered-first.pcap");
    let r = replay(&[p], &["--config", none.to_str().unwrap()]);
    assert_eq!(seen(&r), want("/admin.html", "shop.example", &[]));
}
