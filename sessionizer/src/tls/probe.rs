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

/// Largest record fragment a probe accepts: 2^14 + 2048, the TLS 1.2 ciphertext bound (RFC
/// 5246 section 6.2.3; TLS 1.3's is smaller, RFC 8446 section 5.2).
pub const MAX_CIPHERTEXT_FRAGMENT_BYTES: usize = (1 << 14) + 2048;

/// A record header's length in bytes: type, version, 2-byte length (RFC 8446 section 5.1).
const RECORD_HEADER_BYTES: usize = 5;

/// The end of the record whose header starts `buf`, when the header is a TLS record header:
/// a content type from change_cipher_spec (20) to application_data (23), version 3.0 to 3.4,
/// and a fragment of 1 to `MAX_CIPHERTEXT_FRAGMENT_BYTES` bytes.
fn record_end(buf: &[u8]) -> Option<usize> {
    let [typ, major, minor, hi, lo] = *buf.first_chunk::<RECORD_HEADER_BYTES>()?;
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let ok = (20..=23).contains(&typ)
        && major == 3
        && minor <= 4
        && (1..=MAX_CIPHERTEXT_FRAGMENT_BYTES).contains(&len);
    ok.then_some(RECORD_HEADER_BYTES + len)
}

/// Whether bytes picked up in the middle of a connection are TLS records: a record header
/// (see `record_end`) confirmed by what follows, as `http2::frame::probe` confirms frames:
/// the record ends exactly where `buf` ends (senders write whole records), or the next
/// record's header is one too. A header alone could be a coincidence in binary data.
pub fn probe_records(buf: &[u8]) -> bool {
    let Some(end) = record_end(buf) else {
        return false;
    };
    end == buf.len() || buf.get(end..).and_then(record_end).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_mid_stream_are_recognised_when_confirmed() {
        let app = |len: u16| {
            let mut r = vec![23, 3, 3];
            r.extend_from_slice(&len.to_be_bytes());
            r.extend(std::iter::repeat_n(0xaa, usize::from(len)));
            r
        };
        assert!(probe_records(&app(40)), "one whole record");
        let two = [app(40), app(300)].concat();
        assert!(probe_records(&two[..50]), "the next header confirms");
        assert!(!probe_records(&app(40)[..30]), "unconfirmed");
        let table: [(&str, &[u8]); 5] = [
            ("HTTP", b"HTTP/1.1 200 OK\r\n\r\n"),
            ("a zero-length record", &[23, 3, 3, 0, 0]),
            ("an unknown type", &[24, 3, 3, 0, 1, 0]),
            ("SSL 2.0", &[0x80, 0x2e, 0x01, 0x00, 0x02, 0x00]),
            ("too short", &[23, 3]),
        ];
        for (what, bytes) in table {
            assert!(!probe_records(bytes), "{what}");
        }
    }

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
