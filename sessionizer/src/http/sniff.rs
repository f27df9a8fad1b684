//! Which parser reads a connection, from its first bytes.
//!
//! - **From the handshake** (and at the start of a CONNECT tunnel) the client's first bytes
//!   decide ([`client_start`]): a TLS ClientHello, the HTTP/2 client preface, or a plausible
//!   HTTP/1 request line. Anything else is `not_http` (issue 21: an SMTP `EHLO` is not an
//!   HTTP/0.9 request, and Postgres rows holding `HTTP/1.1 403` are not a response).
//! - **Joined mid-stream** (no handshake seen) the first bytes of either side may be the
//!   middle of anything, so only what the TLS and HTTP/2 probes confirm is taken
//!   ([`mid_stream`]); the rest goes to HTTP/1, which resynchronises on the next start line.

use super::parser::{self, Line};
use crate::http2::frame;
use crate::tls;

/// What the first client bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// A request line (`METHOD SP target SP HTTP/x.y`, as the lenient parser reads it), or
    /// exactly `GET /path` (HTTP/0.9).
    Http1,
    /// The HTTP/2 client preface (RFC 9113 section 3.4).
    Http2,
    /// A TLS handshake record carrying a ClientHello.
    Tls,
    /// None of them.
    NotHttp,
    /// Too few bytes to tell: every answer above but `NotHttp` is still possible.
    NeedMore,
}

/// What a line-shaped prefix says about HTTP/1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Maybe {
    Yes,
    No,
    Unknown,
}

/// Classifies the first client bytes of a connection or tunnel.
pub fn client_start(buf: &[u8]) -> Start {
    let tls = tls::probe_client_hello(buf);
    if tls == tls::Probe::ClientHello {
        return Start::Tls;
    }
    let h2 = frame::preface(buf);
    if h2 == frame::Probe::Frame {
        return Start::Http2;
    }
    let h1 = request_start(buf);
    if h1 == Maybe::Yes {
        return Start::Http1;
    }
    if tls == tls::Probe::NeedMore || h2 == frame::Probe::NeedMore || h1 == Maybe::Unknown {
        Start::NeedMore
    } else {
        Start::NotHttp
    }
}

/// Whether the server's first bytes start with a status line (`HTTP/1.`, RFC 9112 section
/// 4); `None` while they are a prefix of one. A client whose first bytes are not HTTP, answered
/// by a status line, sent a bad request to an HTTP server (Zeek's
/// `http-bad-request-with-version`); Postgres or SMTP servers never start so.
pub fn server_start(buf: &[u8]) -> Option<bool> {
    const START: &[u8] = b"HTTP/1.";
    let n = buf.len().min(START.len());
    if buf.get(..n) != START.get(..n) {
        Some(false)
    } else if n == START.len() {
        Some(true)
    } else {
        None
    }
}

/// Whether `buf` starts with a plausible HTTP/1 request line: one the strict parser accepts,
/// one the lenient parser reads with an HTTP/1 version, or a version-less `GET /path`.
fn request_start(buf: &[u8]) -> Maybe {
    let strict = parser::request_line(buf);
    if matches!(strict, Line::Complete(_)) {
        return Maybe::Yes;
    }
    match parser::lenient_request_line(buf) {
        Line::Complete(l) if l.version_minor.is_some() => Maybe::Yes,
        Line::Complete(l) if l.method == b"GET" && l.target.starts_with(b"/") => Maybe::Yes,
        Line::Complete(_) => Maybe::No,
        Line::Partial => Maybe::Unknown,
        Line::Invalid if strict == Line::Partial => Maybe::Unknown,
        Line::Invalid => Maybe::No,
    }
}

/// The largest frame the mid-stream HTTP/2 probe takes: peers raise SETTINGS_MAX_FRAME_SIZE
/// above the 16 KiB default (RFC 9113 section 6.5.2) for bulk DATA; 64 KiB keeps those and
/// still rejects most random headers.
pub const MID_STREAM_MAX_FRAME_BYTES: u32 = 64 * 1024;

/// What the first bytes of a connection joined mid-stream are (either side's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joined {
    /// HTTP/2 frames (or the preface).
    Http2,
    /// A ClientHello: the handshake was seen after all.
    TlsHello,
    /// TLS records after the handshake: encrypted, not readable.
    TlsRecords,
    /// Anything else: HTTP/1 picks it up.
    Other,
}

/// Classifies the first bytes seen of a connection joined mid-stream.
pub fn mid_stream(buf: &[u8]) -> Joined {
    if tls::probe_client_hello(buf) == tls::Probe::ClientHello {
        Joined::TlsHello
    } else if tls::probe_records(buf) {
        Joined::TlsRecords
    } else if frame::looks_like_http2(buf, MID_STREAM_MAX_FRAME_BYTES) {
        Joined::Http2
    } else {
        Joined::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first client bytes of real protocols, and what they are taken for.
    #[test]
    fn first_client_bytes_table() {
        let table: &[(&str, &[u8], Start)] = &[
            (
                "HTTP/1.1",
                b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
                Start::Http1,
            ),
            (
                "HTTP/1.0, lower-case method",
                b"get /a HTTP/1.0\r\n",
                Start::Http1,
            ),
            ("empty target (Zeek)", b"OPTIONS HTTP/1.1\r\n", Start::Http1),
            (
                "space in target (Zeek)",
                b"CONNECT a:25 / HTTP/1.0\r\n",
                Start::Http1,
            ),
            ("HTTP/0.9", b"GET /index.html\r\n", Start::Http1),
            (
                "version-less with fields",
                b"GET /HTTP/1.1\r\nHost: a\r\n",
                Start::Http1,
            ),
            (
                "leading empty line",
                b"\r\nGET / HTTP/1.1\r\n",
                Start::Http1,
            ),
            ("HTTP/2 preface", frame::CLIENT_PREFACE, Start::Http2),
            (
                "TLS ClientHello",
                &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00],
                Start::Tls,
            ),
            ("SMTP EHLO", b"EHLO mail.example.test\r\n", Start::NotHttp),
            ("SMTP HELO", b"HELO x\r\n", Start::NotHttp),
            ("POST without version", b"POST /x\r\n", Start::NotHttp),
            ("GET of a non-path", b"GET x\r\n", Start::NotHttp),
            (
                "Postgres startup",
                &[0, 0, 0, 8, 4, 210, 22, 47],
                Start::NotHttp,
            ),
            ("Redis", b"*1\r\n$4\r\nPING\r\n", Start::NotHttp),
            ("SSH", b"SSH-2.0-OpenSSH_9.2\r\n", Start::NotHttp),
            ("a status line", b"HTTP/1.1 200 OK\r\n", Start::NotHttp),
            ("HTTP/2 as HTTP/1", b"GET / HTTP/2.0\r\n", Start::NotHttp),
        ];
        for (what, bytes, want) in table {
            assert_eq!(client_start(bytes), *want, "{what}");
        }
    }

    /// Every prefix of a recognised start waits for more, never says `NotHttp`.
    #[test]
    fn prefixes_of_recognised_starts_need_more() {
        let starts: [&[u8]; 4] = [
            b"GET /a HTTP/1.1\r\n",
            b"GET /index.html\r\n",
            frame::CLIENT_PREFACE,
            &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
        ];
        for s in starts {
            let want = client_start(s);
            for n in 0..s.len() {
                let got = client_start(&s[..n]);
                assert!(
                    got == Start::NeedMore || got == want,
                    "{:?}: {got:?}",
                    &s[..n]
                );
            }
        }
        assert_eq!(client_start(b"EHLO"), Start::NeedMore, "a method so far");
        assert_eq!(client_start(b"EHLO x"), Start::NeedMore, "no line end yet");
    }

    #[test]
    fn server_starts() {
        assert_eq!(server_start(b"HTTP/1.1 400 Bad Request\r\n"), Some(true));
        assert_eq!(server_start(b"HTTP/"), None);
        assert_eq!(server_start(b""), None);
        assert_eq!(server_start(b"220 smtp ready"), Some(false));
        assert_eq!(server_start(b"R\0\0\0\x08"), Some(false));
    }

    #[test]
    fn mid_stream_bytes_table() {
        let mut settings = vec![0, 0, 6, 4, 0, 0, 0, 0, 0];
        settings.extend_from_slice(&[0, 3, 0, 0, 0, 100]);
        let mut app = vec![23, 3, 3, 0, 20];
        app.extend_from_slice(&[7; 20]);
        let table: &[(&str, &[u8], Joined)] = &[
            ("h2 SETTINGS", &settings, Joined::Http2),
            ("TLS application data", &app, Joined::TlsRecords),
            (
                "a ClientHello",
                &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00],
                Joined::TlsHello,
            ),
            ("an HTTP/1 body", b"{\"id\": 7}", Joined::Other),
            ("a status line", b"HTTP/1.1 200 OK\r\n", Joined::Other),
        ];
        for (what, bytes, want) in table {
            assert_eq!(mid_stream(bytes), *want, "{what}");
        }
    }
}
