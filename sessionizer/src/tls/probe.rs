//! The cheap test the tracker runs on a connection's first client bytes, on any port: do they
//! start a TLS handshake record carrying a ClientHello?

/// Record content type `handshake` (RFC 8446 section 5.1).
pub const CONTENT_HANDSHAKE: u8 = 22;

/// Handshake type `client_hello` (RFC 8446 section 4).
pub const HANDSHAKE_CLIENT_HELLO: u8 = 1;

/// Largest plaintext record fragment (RFC 8446 section 5.1: 2^14 bytes).
pub const MAX_PLAINTEXT_FRAGMENT_BYTES: u16 = 1 << 14;

/// What the first bytes of a stream say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A handshake record (version 3.x) whose first message is a ClientHello.
    ClientHello,
    /// Not a TLS ClientHello (SSL 2.0-style hellos included).
    NotTls,
    /// Fewer than 6 bytes, all consistent with a ClientHello: ask again with more.
    NeedMore,
}

/// A byte position and what it must satisfy.
type ByteCheck = (usize, fn(u8) -> bool);

/// Tests the first bytes of a client stream: record type 22, version 0x03xx with a minor
/// version up to 4, a fragment length from 1 to 2^14, handshake type 1.
pub fn probe_client_hello(data: &[u8]) -> Probe {
    let checks: [ByteCheck; 4] = [
        (0, |b| b == CONTENT_HANDSHAKE),
        (1, |b| b == 3),
        (2, |b| b <= 4),
        (5, |b| b == HANDSHAKE_CLIENT_HELLO),
    ];
    for (at, ok) in checks {
        match data.get(at) {
            Some(&b) if !ok(b) => return Probe::NotTls,
            _ => {}
        }
    }
    if let (Some(&hi), Some(&lo)) = (data.get(3), data.get(4)) {
        let len = u16::from_be_bytes([hi, lo]);
        if len == 0 || len > MAX_PLAINTEXT_FRAGMENT_BYTES {
            return Probe::NotTls;
        }
    }
    if data.len() < 6 {
        Probe::NeedMore
    } else {
        Probe::ClientHello
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_and_their_prefixes_are_recognised() {
        let start = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc];
        assert_eq!(probe_client_hello(&start), Probe::ClientHello);
        for n in 0..6 {
            assert_eq!(
                probe_client_hello(&start[..n]),
                Probe::NeedMore,
                "prefix {n}"
            );
        }
    }

    #[test]
    fn other_protocols_are_not_tls() {
        let table: [(&str, &[u8]); 7] = [
            ("HTTP/1.1", b"GET / HTTP/1.1\r\n"),
            ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n"),
            ("a ServerHello", &[0x16, 0x03, 0x03, 0x00, 0x5a, 0x02]),
            ("application data", &[0x17, 0x03, 0x03, 0x00, 0x10, 0x00]),
            ("SSL 2.0 hello", &[0x80, 0x2e, 0x01, 0x00, 0x02, 0x00]),
            ("empty record", &[0x16, 0x03, 0x01, 0x00, 0x00, 0x01]),
            ("oversized record", &[0x16, 0x03, 0x01, 0x40, 0x01, 0x01]),
        ];
        for (what, bytes) in table {
            assert_eq!(probe_client_hello(bytes), Probe::NotTls, "{what}");
        }
    }
}
