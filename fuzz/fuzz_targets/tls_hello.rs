//! The TLS handshake reader (`apitap_sessionizer::tls`): the ClientHello probe, the hello
//! parsers and fingerprints on raw handshake messages, and `TlsConnection` on both directions.
//!
//! Input: a cut position for each direction, then the client's bytes and the server's bytes
//! (seeds: the streams of `fixtures/tls/`).
//!
//! Checks: no panic; a connection whose ClientHello was read starts as the probe says; the
//! summary is the same whether each direction arrives at once or cut in two; the key-log
//! decryptor's record layer, without keys, gives no plaintext.
#![no_main]

use apitap_fuzz::Payload;
use apitap_reassembly::Side;
use apitap_sessionizer::tls::decrypt::{KeyLog, TlsDecryptor};
use apitap_sessionizer::tls::{fingerprint, hello, probe_client_hello, Probe, TlsConnection};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    client_cut: u16,
    server_cut: u16,
    client: Payload,
    server: Payload,
}

fuzz_target!(|input: Input| {
    let (client, server) = (&input.client.0, &input.server.0);
    // The parsers on the bytes after a record header, as one handshake message.
    for bytes in [client, server] {
        let msg = bytes.get(5..).unwrap_or(&[]);
        if let Ok(ch) = hello::parse_client_hello(msg) {
            let _ = fingerprint::ja4(&ch);
            let _ = fingerprint::ja3_hash(&fingerprint::ja3_string(&ch));
        }
        if let Ok(sh) = hello::parse_server_hello(msg) {
            let _ = hello::version_name(sh.version());
            let _ = hello::cipher_name(sh.cipher);
        }
    }

    let mut whole = TlsConnection::new();
    whole.on_data(1, Side::Client, client);
    whole.on_data(2, Side::Server, server);
    let swapped = whole.swapped();
    let whole = whole.close(3);
    if whole.client_hello_seen && !swapped {
        assert_eq!(probe_client_hello(client), Probe::ClientHello);
    }

    let mut cut = TlsConnection::new();
    let c = usize::from(input.client_cut) % (client.len() + 1);
    let s = usize::from(input.server_cut) % (server.len() + 1);
    cut.on_data(1, Side::Client, &client[..c]);
    cut.on_data(1, Side::Client, &client[c..]);
    cut.on_data(2, Side::Server, &server[..s]);
    cut.on_data(2, Side::Server, &server[s..]);
    // A cut first segment can leave the orientation undecided differently: compare only
    // connections that were not swapped.
    if !swapped && !cut.swapped() {
        assert_eq!(cut.close(3), whole, "cut at {c}/{s} differs");
    }

    // The decryptor's record layer, with no keys: nothing comes out.
    let mut d = TlsDecryptor::new(std::sync::Arc::new(KeyLog::default()));
    let mut out = Vec::new();
    d.on_data(Side::Client, client, &mut out);
    d.on_data(Side::Server, server, &mut out);
    assert!(out.is_empty(), "plaintext without a key");
});
