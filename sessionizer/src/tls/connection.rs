//! Per-connection TLS handshake state: each direction's bytes cut into records, handshake
//! records joined into whole messages, the first ClientHello and the first ServerHello read.
//!
//! Policies (tests in `tests.rs` pin each one):
//! - **Any split**: a hello may span TCP segments and TLS records (RFC 8446 section 5.1 lets a
//!   handshake message be fragmented over records); at most one incomplete record
//!   (`MAX_RECORD_FRAGMENT_BYTES` + 5) and one incomplete message (`MAX_HELLO_BYTES`) are
//!   buffered per direction.
//! - **What is read**: the client's first handshake message (which must be a ClientHello) and
//!   the server's first ServerHello. A HelloRetryRequest is noted and the next ServerHello
//!   read; change_cipher_spec records are skipped; an alert is recorded. After that a
//!   direction is only counted: the rest is encrypted (TLS 1.3) or of no use here.
//! - **Gaps** before a direction's hello end the reading of that direction (`tls_gap`).
//! - **Orientation**: when the "server" sends a ClientHello before the client sent anything
//!   (the reassembler guessed from ports), the endpoints are swapped; `swapped()` says so.

use apitap_reassembly::Side;

use super::anomaly::TlsAnomaly;
use super::fingerprint::{ja3_hash, ja3_string, ja4};
use super::hello::{
    cipher_name, parse_client_hello, parse_server_hello, version_name, ClientHello, HelloError,
};
use super::probe::{probe_client_hello, Probe, MAX_PLAINTEXT_FRAGMENT_BYTES};
use super::summary::{AlertInfo, TlsSummary};

/// Largest handshake message buffered, in bytes. Real ClientHellos are under 2 KiB (a few
/// KiB with post-quantum key shares or large PSK tickets); a longer message is
/// `tls_hello_too_large`. The protocol allows 2^24 bytes (RFC 8446 section 4).
pub const MAX_HELLO_BYTES: usize = 64 * 1024;

/// Largest record fragment accepted: 2^14 bytes, the plaintext bound (RFC 8446 section 5.1,
/// RFC 5246 section 6.2.1). Only records before the hellos are read, and those are plaintext.
pub const MAX_RECORD_FRAGMENT_BYTES: usize = MAX_PLAINTEXT_FRAGMENT_BYTES as usize;

/// A record header: type, version, 2-byte length (RFC 8446 section 5.1).
const RECORD_HEADER_BYTES: usize = 5;

/// A handshake message header: type, 3-byte length (RFC 8446 section 4).
const HANDSHAKE_HEADER_BYTES: usize = 4;

/// Record content types (RFC 8446 section 5.1).
mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
}

/// Handshake message types (RFC 8446 section 4).
const SERVER_HELLO: u8 = 2;

/// Whether a direction is still being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    /// Looking for this direction's hello.
    Hello,
    /// Nothing more to read: bytes are counted.
    Done,
}

/// One direction.
///
/// Invariant: `record.len() < RECORD_HEADER_BYTES + MAX_RECORD_FRAGMENT_BYTES` and
/// `handshake.len() <= MAX_HELLO_BYTES + MAX_RECORD_FRAGMENT_BYTES` between events; both are
/// empty once `reading` is `Done`.
#[derive(Debug)]
struct Half {
    reading: Reading,
    /// An incomplete record.
    record: Vec<u8>,
    /// Handshake bytes not yet forming a whole message.
    handshake: Vec<u8>,
    /// Whole records read.
    records: u64,
    bytes: u64,
}

impl Half {
    fn new() -> Self {
        Half {
            reading: Reading::Hello,
            record: Vec::new(),
            handshake: Vec::new(),
            records: 0,
            bytes: 0,
        }
    }

    fn done(&mut self) {
        self.reading = Reading::Done;
        self.record = Vec::new();
        self.handshake = Vec::new();
    }
}

/// TLS handshake state of one TCP connection.
#[derive(Debug)]
pub struct TlsConnection {
    client: Half,
    server: Half,
    swapped: Option<bool>,
    out: TlsSummary,
}

impl Default for TlsConnection {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsConnection {
    /// State for a connection whose client stream starts (or is about to start) with a
    /// ClientHello ([`probe_client_hello`]).
    pub fn new() -> Self {
        TlsConnection {
            client: Half::new(),
            server: Half::new(),
            swapped: None,
            out: TlsSummary::default(),
        }
    }

    /// True when the endpoints of the reassembler's `Open` were swapped: the server side
    /// sent the ClientHello.
    pub fn swapped(&self) -> bool {
        self.swapped == Some(true)
    }

    /// Both directions are past their hello (or gave up): later bytes are only counted, so
    /// the caller may stop copying them.
    pub fn handshake_read(&self) -> bool {
        self.client.reading == Reading::Done && self.server.reading == Reading::Done
    }

    /// In-order bytes of one direction.
    pub fn on_data(&mut self, ts_us: u64, from: Side, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let side = self.orient(from, data);
        let half = match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        };
        half.bytes += data.len() as u64;
        if half.reading == Reading::Done {
            return;
        }
        if let Err(a) = for_each_record(half, data, |half, rec| {
            on_record(half, side, ts_us, rec, &mut self.out)
        }) {
            // The client's first record header is where a non-TLS stream shows.
            let a = match side {
                Side::Client if half.records == 0 => TlsAnomaly::TlsNotClientHello,
                _ => a,
            };
            self.out.anomalies.insert(a);
            half.done();
        }
    }

    /// `len` bytes of one direction were lost.
    pub fn on_gap(&mut self, _ts_us: u64, from: Side, len: u64) {
        let side = match self.swapped {
            Some(true) => from.flip(),
            _ => from,
        };
        let half = match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        };
        if len > 0 && half.reading == Reading::Hello {
            self.out.anomalies.insert(TlsAnomaly::TlsGap);
            half.done();
        }
    }

    /// What the connection has shown so far.
    pub fn summary(&self) -> TlsSummary {
        let mut s = self.out.clone();
        s.client_bytes = self.client.bytes;
        s.server_bytes = self.server.bytes;
        s
    }

    /// The connection ended: the summary for its record. A hello cut by the end adds
    /// `tls_incomplete_handshake`.
    pub fn close(self, _ts_us: u64) -> TlsSummary {
        let mut s = self.summary();
        let cut = |h: &Half| !h.record.is_empty() || !h.handshake.is_empty();
        if cut(&self.client) || cut(&self.server) {
            s.anomalies.insert(TlsAnomaly::TlsIncompleteHandshake);
        }
        s
    }

    fn orient(&mut self, from: Side, data: &[u8]) -> Side {
        let swapped = *self.swapped.get_or_insert_with(|| {
            from == Side::Server && probe_client_hello(data) == Probe::ClientHello
        });
        if swapped {
            from.flip()
        } else {
            from
        }
    }
}

/// Calls `f` with each complete record of the direction (header and fragment):
/// from `data` directly when nothing is buffered, else after completing the buffered record.
/// Keeps an incomplete tail. Stops when the direction is done.
fn for_each_record(
    half: &mut Half,
    mut data: &[u8],
    mut f: impl FnMut(&mut Half, &[u8]),
) -> Result<(), TlsAnomaly> {
    while !data.is_empty() && half.reading == Reading::Hello {
        if half.record.is_empty() {
            match record_len(data)? {
                Some(total) if data.len() >= total => {
                    let (rec, rest) = data.split_at(total);
                    f(half, rec);
                    data = rest;
                }
                _ => {
                    half.record.extend_from_slice(data);
                    return Ok(());
                }
            }
            continue;
        }
        // Complete the header first, then the fragment.
        let want = record_len(&half.record)?.unwrap_or(RECORD_HEADER_BYTES);
        let take = want.saturating_sub(half.record.len()).min(data.len());
        let (head, rest) = data.split_at(take);
        half.record.extend_from_slice(head);
        data = rest;
        if let Some(total) = record_len(&half.record)? {
            if half.record.len() == total {
                let rec = std::mem::take(&mut half.record);
                f(half, &rec);
            }
        }
    }
    Ok(())
}

/// A whole record's content type and fragment.
fn split_record(rec: &[u8]) -> (u8, &[u8]) {
    (
        rec.first().copied().unwrap_or(0),
        rec.get(RECORD_HEADER_BYTES..).unwrap_or(&[]),
    )
}

/// The whole length of the record starting `buf` (header included), None when fewer than 5
/// bytes are there; an error when the header is not TLS.
fn record_len(buf: &[u8]) -> Result<Option<usize>, TlsAnomaly> {
    match tls_parser::parse_tls_record_header(buf) {
        Ok((_, hdr)) => {
            let len = usize::from(hdr.len);
            if hdr.version.0 >> 8 != 3 || len > MAX_RECORD_FRAGMENT_BYTES {
                return Err(TlsAnomaly::TlsMalformedRecord);
            }
            Ok(Some(RECORD_HEADER_BYTES + len))
        }
        Err(_) => Ok(None),
    }
}

/// One complete record (header and fragment) of a direction still reading its hello.
fn on_record(half: &mut Half, side: Side, ts_us: u64, rec: &[u8], out: &mut TlsSummary) {
    half.records += 1;
    // The client's first record must pass the same probe the tracker runs.
    if side == Side::Client && half.records == 1 && probe_client_hello(rec) != Probe::ClientHello {
        out.anomalies.insert(TlsAnomaly::TlsNotClientHello);
        half.done();
        return;
    }
    let (typ, frag) = split_record(rec);
    match (typ, side) {
        (content::HANDSHAKE, _) => {
            half.handshake.extend_from_slice(frag);
            take_messages(half, side, ts_us, out);
        }
        (content::CHANGE_CIPHER_SPEC, Side::Server) => {}
        (content::ALERT, Side::Server) => {
            out.alert = match frag {
                [level, description, ..] => Some(AlertInfo {
                    from: side,
                    level: *level,
                    description: *description,
                }),
                _ => None,
            };
            out.anomalies.insert(TlsAnomaly::TlsAlert);
            half.done();
        }
        (_, Side::Server) => {
            out.anomalies.insert(TlsAnomaly::TlsUnexpectedMessage);
            half.done();
        }
        (_, Side::Client) => {
            out.anomalies.insert(TlsAnomaly::TlsNotClientHello);
            half.done();
        }
    }
}

/// Reads whole handshake messages from the direction's handshake buffer.
fn take_messages(half: &mut Half, side: Side, ts_us: u64, out: &mut TlsSummary) {
    while half.reading == Reading::Hello {
        let Some(&[_, a, b, c]) = half.handshake.get(..HANDSHAKE_HEADER_BYTES) else {
            return;
        };
        let total = HANDSHAKE_HEADER_BYTES + u32::from_be_bytes([0, a, b, c]) as usize;
        if total > MAX_HELLO_BYTES {
            out.anomalies.insert(TlsAnomaly::TlsHelloTooLarge);
            half.done();
            return;
        }
        if half.handshake.len() < total {
            return;
        }
        let rest = half.handshake.split_off(total);
        let msg = std::mem::replace(&mut half.handshake, rest);
        let done = match side {
            Side::Client => on_client_hello(&msg, ts_us, out),
            Side::Server => on_server_message(&msg, ts_us, out),
        };
        if done {
            half.done();
        }
    }
}

/// The client's first handshake message. Always ends the client's reading.
fn on_client_hello(msg: &[u8], ts_us: u64, out: &mut TlsSummary) -> bool {
    match parse_client_hello(msg) {
        Ok(ch) => fill_client(&ch, ts_us, out),
        Err(HelloError::UnexpectedType(_)) => out.anomalies.insert(TlsAnomaly::TlsNotClientHello),
        Err(HelloError::Malformed) => out.anomalies.insert(TlsAnomaly::TlsMalformedHello),
    }
    true
}

fn fill_client(ch: &ClientHello, ts_us: u64, out: &mut TlsSummary) {
    out.client_hello_seen = true;
    out.client_hello_ts_us = Some(ts_us);
    out.sni = ch.sni.clone();
    out.alpn = ch
        .alpn
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let ja3 = ja3_string(ch);
    out.ja3_hash = Some(ja3_hash(&ja3));
    out.ja3 = Some(ja3);
    out.ja4 = Some(ja4(ch));
    if ch.sni_truncated {
        out.anomalies.insert(TlsAnomaly::TlsSniTooLong);
    }
    if ch.malformed_extensions > 0 {
        out.anomalies.insert(TlsAnomaly::TlsMalformedExtension);
    }
}

/// A server handshake message; true when the server's reading is over.
fn on_server_message(msg: &[u8], ts_us: u64, out: &mut TlsSummary) -> bool {
    if msg.first() != Some(&SERVER_HELLO) {
        out.anomalies.insert(TlsAnomaly::TlsUnexpectedMessage);
        return true;
    }
    let sh = match parse_server_hello(msg) {
        Ok(sh) => sh,
        Err(_) => {
            out.anomalies.insert(TlsAnomaly::TlsMalformedHello);
            return true;
        }
    };
    if sh.malformed_extensions > 0 {
        out.anomalies.insert(TlsAnomaly::TlsMalformedExtension);
    }
    if sh.hello_retry_request {
        // The real ServerHello follows the client's second ClientHello.
        out.hello_retry_request = true;
        return false;
    }
    out.server_hello_seen = true;
    out.server_hello_ts_us = Some(ts_us);
    out.version = Some(version_name(sh.version()));
    out.cipher = Some(cipher_name(sh.cipher));
    out.alpn_selected = sh
        .alpn
        .as_ref()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    true
}
