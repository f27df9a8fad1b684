//! Decryption of the real curl/nginx captures of `fixtures/tls/` with the key logs curl wrote.

use std::path::PathBuf;
use std::sync::Arc;

use apitap_reassembly::Side;
use proptest::prelude::*;

use super::*;

const CASES: [&str; 8] = [
    "tls12-nosni-h2",
    "tls12-sni-h1",
    "tls12-sni-h1-aes128",
    "tls12-sni-h1-chacha",
    "tls13-nosni-h1",
    "tls13-sni-h1-aes128",
    "tls13-sni-h1-chacha",
    "tls13-sni-h2",
];

/// The HTTP/2 connection preface (RFC 9113 section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/tls")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn keylog(case: &str) -> Arc<KeyLog> {
    let text = String::from_utf8(fixture(&format!("{case}.keylog"))).unwrap();
    Arc::new(KeyLog::parse(&text).unwrap())
}

/// Length of the first record of a stream (the ClientHello's).
fn first_record(stream: &[u8]) -> usize {
    5 + usize::from(u16::from_be_bytes([stream[3], stream[4]]))
}

/// Feeds a connection in an order a capture can have: the client's hello, the whole server
/// stream, then the rest of the client's (each cut at `cut` bytes into its piece).
fn decrypt(case: &str, log: Arc<KeyLog>, cut: usize) -> (TlsDecryptor, Vec<u8>, Vec<u8>) {
    let client = fixture(&format!("{case}.client.bin"));
    let server = fixture(&format!("{case}.server.bin"));
    let (hello, rest) = client.split_at(first_record(&client));
    let mut d = TlsDecryptor::new(log);
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for (side, bytes) in [
        (Side::Client, hello),
        (Side::Server, &server[..]),
        (Side::Client, rest),
    ] {
        let (a, b) = bytes.split_at(cut.min(bytes.len()));
        let out = match side {
            Side::Client => &mut up,
            Side::Server => &mut down,
        };
        d.on_data(side, a, out);
        d.on_data(side, b, out);
    }
    (d, up, down)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn every_capture_decrypts_to_the_http_curl_sent_and_nginx_answered() {
    for case in CASES {
        let (d, up, down) = decrypt(case, keylog(case), usize::MAX);
        for side in [Side::Client, Side::Server] {
            let c = d.counts(side);
            assert_eq!(c.stopped, None, "{case} {side:?}");
            assert!(c.records > 0, "{case} {side:?}");
        }
        if case.ends_with("h2") {
            assert!(
                up.starts_with(H2_PREFACE),
                "{case}: {:?}",
                String::from_utf8_lossy(&up)
            );
        } else {
            assert!(up.starts_with(b"GET /v1/orders/42 HTTP/1.1\r\n"), "{case}");
            assert!(
                contains(&up, b"Authorization: Bearer fixture-token\r\n"),
                "{case}"
            );
            assert!(down.starts_with(b"HTTP/1.1 200 OK\r\n"), "{case}");
        }
        assert!(
            contains(&down, br#"{"id":42,"status":"shipped"}"#),
            "{case}"
        );
        assert_eq!(d.counts(Side::Client).plaintext_bytes, up.len() as u64);
    }
}

#[test]
fn without_the_connections_keys_nothing_is_guessed() {
    // Another capture's key log: the client random is not in it.
    for case in ["tls12-sni-h1", "tls13-sni-h2"] {
        let other = if case.starts_with("tls12") {
            "tls13-sni-h2"
        } else {
            "tls12-sni-h1"
        };
        let (d, up, down) = decrypt(case, keylog(other), usize::MAX);
        assert!(up.is_empty() && down.is_empty(), "{case}");
        assert_eq!(
            d.counts(Side::Server).stopped,
            Some(DecryptAnomaly::TlsKeyMissing)
        );
    }
}

#[test]
fn a_corrupted_record_stops_its_direction_only() {
    for case in ["tls12-sni-h1-chacha", "tls13-sni-h1-aes128"] {
        let client = fixture(&format!("{case}.client.bin"));
        let server = fixture(&format!("{case}.server.bin"));
        let (hello, rest) = client.split_at(first_record(&client));
        let mut bad = server.clone();
        let last = bad.len() - 1; // inside the last record's tag
        bad[last] ^= 1;
        let mut d = TlsDecryptor::new(keylog(case));
        let (mut up, mut down) = (Vec::new(), Vec::new());
        d.on_data(Side::Client, hello, &mut up);
        d.on_data(Side::Server, &bad, &mut down);
        d.on_data(Side::Client, rest, &mut up);
        assert_eq!(
            d.counts(Side::Server).stopped,
            Some(DecryptAnomaly::TlsDecryptFailed),
            "{case}"
        );
        assert_eq!(d.counts(Side::Client).stopped, None, "{case}");
        assert!(up.starts_with(b"GET "), "{case}");
    }
}

#[test]
fn a_gap_stops_decryption_of_its_direction() {
    let case = "tls13-sni-h2";
    let mut d = TlsDecryptor::new(keylog(case));
    let mut out = Vec::new();
    let server = fixture(&format!("{case}.server.bin"));
    d.on_data(Side::Server, &server[..10], &mut out);
    d.on_gap(Side::Server, 5);
    d.on_data(Side::Server, &server[15..], &mut out);
    assert_eq!(
        d.counts(Side::Server).stopped,
        Some(DecryptAnomaly::TlsDecryptGap)
    );
    assert!(out.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_segmentation_gives_the_same_plaintext(case in 0usize..8, cut in 0usize..2000) {
        let case = CASES[case];
        let (_, up, down) = decrypt(case, keylog(case), usize::MAX);
        let (_, up2, down2) = decrypt(case, keylog(case), cut);
        prop_assert_eq!(up, up2);
        prop_assert_eq!(down, down2);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        client in proptest::collection::vec(any::<u8>(), 0..300),
        server in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut d = TlsDecryptor::new(keylog("tls13-sni-h2"));
        let mut out = Vec::new();
        d.on_data(Side::Client, &client, &mut out);
        d.on_data(Side::Server, &server, &mut out);
    }
}
