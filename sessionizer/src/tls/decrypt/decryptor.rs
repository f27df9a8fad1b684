//! Per-connection decryption from a key log: both directions' records in, each direction's
//! application-data plaintext out, for the HTTP/1 or HTTP/2 parser (replay only).
//!
//! Policies (tests in `tests.rs` pin them on real captures):
//! - The cleartext ClientHello gives the client random (the key log's index); the cleartext
//!   ServerHello the version, suite and server random. HelloRetryRequests are skipped.
//! - **TLS 1.2** (RFC 5246 section 6.3, RFC 5288, RFC 7905): the key block comes from the
//!   logged master secret; a direction is encrypted from its change_cipher_spec on, sequence
//!   numbers from 0.
//! - **TLS 1.3** (RFC 8446 section 7): a direction starts with its handshake traffic secret;
//!   when a record does not authenticate, the application secret (`*_TRAFFIC_SECRET_0`) is
//!   tried, then one key update (`traffic upd`) — the AEAD tag makes the trial safe.
//! - What cannot be decrypted (no key logged, another cipher, a tag that never verifies, a gap)
//!   stops decryption of that direction and is reported, never guessed.

use std::sync::Arc;

use apitap_reassembly::Side;
use serde::Serialize;

use super::crypto::{
    hkdf_expand_label, suite, tls12_prf, xor_nonce, AeadAlg, AeadKey, Suite,
    GCM_EXPLICIT_NONCE_BYTES, GCM_FIXED_IV_BYTES, NONCE_BYTES, TAG_BYTES,
};
use super::keylog::{KeyLog, Secret, SecretKind};
use crate::tls::hello::{parse_client_hello, parse_server_hello, ServerHello};
use crate::tls::MAX_HELLO_BYTES;

/// Largest record fragment: 2^14 + 2048, the TLS 1.2 ciphertext bound (RFC 5246 section
/// 6.2.3; TLS 1.3's is 2^14 + 256, RFC 8446 section 5.2).
pub const MAX_CIPHERTEXT_BYTES: usize = (1 << 14) + 2048;

const RECORD_HEADER_BYTES: usize = 5;
const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const VERSION_TLS12: u16 = 0x0303;
const VERSION_TLS13: u16 = 0x0304;

/// Why a direction is not (or no longer) decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecryptAnomaly {
    /// The key log has no secret for this connection's client random.
    TlsKeyMissing,
    /// A version or cipher suite other than TLS 1.2/1.3 with AES-GCM or ChaCha20-Poly1305.
    TlsCipherUnsupported,
    /// A record that no key authenticates (wrong key log, or lost records).
    TlsDecryptFailed,
    /// Encrypted records before the hellos gave the keys (the capture began late).
    TlsKeysNotReady,
    /// Bytes lost: record boundaries are unknown after a gap.
    TlsDecryptGap,
    /// A record header that is not TLS, or longer than `MAX_CIPHERTEXT_BYTES`.
    TlsDecryptMalformed,
}

impl DecryptAnomaly {
    /// The name in records and metrics.
    pub fn name(self) -> &'static str {
        match self {
            DecryptAnomaly::TlsKeyMissing => "tls_key_missing",
            DecryptAnomaly::TlsCipherUnsupported => "tls_cipher_unsupported",
            DecryptAnomaly::TlsDecryptFailed => "tls_decrypt_failed",
            DecryptAnomaly::TlsKeysNotReady => "tls_keys_not_ready",
            DecryptAnomaly::TlsDecryptGap => "tls_decrypt_gap",
            DecryptAnomaly::TlsDecryptMalformed => "tls_decrypt_malformed",
        }
    }
}

/// What one direction gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DecryptCounts {
    /// Records decrypted.
    pub records: u64,
    /// Application-data plaintext bytes given out.
    pub plaintext_bytes: u64,
    /// Why decryption of this direction stopped, if it did.
    pub stopped: Option<DecryptAnomaly>,
}

/// Keys of one direction.
#[derive(Debug)]
struct DirKey {
    key: AeadKey,
    /// TLS 1.3 and ChaCha20: the 12-byte IV; TLS 1.2 AES-GCM: the 4-byte salt, then zeros.
    iv: [u8; NONCE_BYTES],
    seq: u64,
}

/// Where a direction is in the protocol.
#[derive(Debug)]
enum Phase {
    /// Cleartext records; the hellos are read from them.
    Clear,
    /// TLS 1.2 after change_cipher_spec.
    Tls12(DirKey),
    /// TLS 1.3: `secret` made `key`; `application` once past the handshake secret.
    Tls13 {
        key: DirKey,
        secret: Vec<u8>,
        application: bool,
    },
    /// Decryption of this direction stopped.
    Stopped,
}

#[derive(Debug)]
struct Dir {
    phase: Phase,
    /// An incomplete record.
    record: Vec<u8>,
    /// Cleartext handshake bytes before the hello (bounded by `MAX_HELLO_BYTES`).
    handshake: Vec<u8>,
    /// TLS 1.2 keys waiting for this direction's change_cipher_spec.
    pending: Option<DirKey>,
    counts: DecryptCounts,
}

impl Dir {
    fn new() -> Self {
        Dir {
            phase: Phase::Clear,
            record: Vec::new(),
            handshake: Vec::new(),
            pending: None,
            counts: DecryptCounts::default(),
        }
    }

    fn stop(&mut self, why: DecryptAnomaly) {
        if self.counts.stopped.is_none() {
            self.counts.stopped = Some(why);
        }
        self.phase = Phase::Stopped;
        self.record = Vec::new();
        self.handshake = Vec::new();
    }
}

/// What the hellos said.
#[derive(Debug, Default)]
struct Hellos {
    client_random: Option<[u8; 32]>,
    server: Option<ServerHello>,
}

/// Decryption state of one TLS connection.
#[derive(Debug)]
pub struct TlsDecryptor {
    keylog: Arc<KeyLog>,
    client: Dir,
    server: Dir,
    hellos: Hellos,
}

impl TlsDecryptor {
    /// State for one connection, with the replay's key log.
    pub fn new(keylog: Arc<KeyLog>) -> Self {
        TlsDecryptor {
            keylog,
            client: Dir::new(),
            server: Dir::new(),
            hellos: Hellos::default(),
        }
    }

    /// In-order bytes of one direction; the application data they complete is appended to
    /// `plaintext` (that direction's plaintext stream, for the HTTP parser).
    pub fn on_data(&mut self, from: Side, mut data: &[u8], plaintext: &mut Vec<u8>) {
        while !data.is_empty() && !matches!(self.dir(from).phase, Phase::Stopped) {
            let dir = self.dir(from);
            if dir.record.is_empty() {
                match record_len(data) {
                    Err(a) => return self.dir(from).stop(a),
                    Ok(Some(total)) if data.len() >= total => {
                        let (rec, rest) = data.split_at(total);
                        self.on_record(from, rec, plaintext);
                        data = rest;
                        continue;
                    }
                    Ok(_) => {
                        dir.record.extend_from_slice(data);
                        return;
                    }
                }
            }
            let want = match record_len(&dir.record) {
                Err(a) => return dir.stop(a),
                Ok(t) => t.unwrap_or(RECORD_HEADER_BYTES),
            };
            let take = want.saturating_sub(dir.record.len()).min(data.len());
            let (head, rest) = data.split_at(take);
            dir.record.extend_from_slice(head);
            data = rest;
            if let Ok(Some(total)) = record_len(&dir.record) {
                if dir.record.len() == total {
                    let rec = std::mem::take(&mut dir.record);
                    self.on_record(from, &rec, plaintext);
                }
            }
        }
    }

    /// `len` bytes of one direction were lost: its record boundaries are gone.
    pub fn on_gap(&mut self, from: Side, len: u64) {
        if len > 0 {
            self.dir(from).stop(DecryptAnomaly::TlsDecryptGap);
        }
    }

    /// What each direction gave so far.
    pub fn counts(&self, side: Side) -> DecryptCounts {
        match side {
            Side::Client => self.client.counts,
            Side::Server => self.server.counts,
        }
    }

    fn dir(&mut self, side: Side) -> &mut Dir {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// One whole record (header and fragment).
    fn on_record(&mut self, from: Side, rec: &[u8], plaintext: &mut Vec<u8>) {
        let typ = rec.first().copied().unwrap_or(0);
        let fragment = rec.get(RECORD_HEADER_BYTES..).unwrap_or(&[]);
        let hello_seen = match from {
            Side::Client => self.hellos.client_random.is_some(),
            Side::Server => self.hellos.server.is_some(),
        };
        let dir = self.dir(from);
        match &dir.phase {
            Phase::Stopped => {}
            Phase::Clear => match typ {
                // Only the hello is needed; later cleartext messages (TLS 1.2 certificates,
                // key exchange) are skipped unbuffered.
                HANDSHAKE if !hello_seen => {
                    dir.handshake.extend_from_slice(fragment);
                    self.read_hellos(from);
                }
                CHANGE_CIPHER_SPEC => {
                    if let Some(key) = dir.pending.take() {
                        dir.phase = Phase::Tls12(key);
                    }
                }
                APPLICATION_DATA => dir.stop(DecryptAnomaly::TlsKeysNotReady),
                _ => {}
            },
            Phase::Tls12(_) => self.open_tls12(from, rec, plaintext),
            Phase::Tls13 { .. } => match typ {
                // TLS 1.3 middlebox compatibility: cleartext, not protected.
                CHANGE_CIPHER_SPEC => {}
                _ => self.open_tls13(from, rec, plaintext),
            },
        }
    }

    /// Reads whole cleartext handshake messages of a direction, looking for its hello.
    fn read_hellos(&mut self, from: Side) {
        loop {
            let dir = self.dir(from);
            let Some(&[_, a, b, c]) = dir.handshake.get(..4) else {
                return;
            };
            let total = 4 + u32::from_be_bytes([0, a, b, c]) as usize;
            if total > MAX_HELLO_BYTES {
                return dir.stop(DecryptAnomaly::TlsDecryptMalformed);
            }
            if dir.handshake.len() < total {
                return;
            }
            let rest = dir.handshake.split_off(total);
            let msg = std::mem::replace(&mut dir.handshake, rest);
            match from {
                Side::Client => {
                    if self.hellos.client_random.is_none() {
                        if let Ok(ch) = parse_client_hello(&msg) {
                            self.hellos.client_random = Some(ch.random);
                            self.client.handshake = Vec::new();
                            return;
                        }
                    }
                }
                Side::Server => {
                    if let Ok(sh) = parse_server_hello(&msg) {
                        if !sh.hello_retry_request {
                            self.hellos.server = Some(sh);
                            self.server.handshake = Vec::new();
                            self.install_keys();
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The ServerHello is known: derive both directions' keys from the key log.
    fn install_keys(&mut self) {
        let (Some(random), Some(sh)) = (self.hellos.client_random, self.hellos.server.as_ref())
        else {
            return self.stop_both(DecryptAnomaly::TlsKeysNotReady);
        };
        let Some(s) = suite(sh.cipher) else {
            return self.stop_both(DecryptAnomaly::TlsCipherUnsupported);
        };
        match sh.version() {
            VERSION_TLS13 => self.install_tls13(random, s),
            VERSION_TLS12 => self.install_tls12(random, sh.random, s),
            _ => self.stop_both(DecryptAnomaly::TlsCipherUnsupported),
        }
    }

    fn install_tls13(&mut self, random: [u8; 32], s: Suite) {
        for (side, kind) in [
            (Side::Client, SecretKind::ClientHandshake),
            (Side::Server, SecretKind::ServerHandshake),
        ] {
            let phase = self
                .keylog
                .get(&random, kind)
                .and_then(|secret| tls13_phase(s, secret.as_bytes(), false));
            match phase {
                Some(p) => self.dir(side).phase = p,
                None => self.dir(side).stop(DecryptAnomaly::TlsKeyMissing),
            }
        }
    }

    fn install_tls12(&mut self, client_random: [u8; 32], server_random: [u8; 32], s: Suite) {
        let Some(master) = self.keylog.get(&client_random, SecretKind::MasterSecret) else {
            return self.stop_both(DecryptAnomaly::TlsKeyMissing);
        };
        match tls12_keys(s, master, &client_random, &server_random) {
            Some((client, server)) => {
                self.client.pending = Some(client);
                self.server.pending = Some(server);
            }
            None => self.stop_both(DecryptAnomaly::TlsCipherUnsupported),
        }
    }

    fn stop_both(&mut self, why: DecryptAnomaly) {
        self.client.stop(why);
        self.server.stop(why);
    }

    /// A TLS 1.2 protected record: explicit nonce (AES-GCM), ciphertext, tag.
    fn open_tls12(&mut self, from: Side, rec: &[u8], plaintext: &mut Vec<u8>) {
        let dir = self.dir(from);
        let Phase::Tls12(k) = &mut dir.phase else {
            return;
        };
        let header = rec.get(..RECORD_HEADER_BYTES).unwrap_or(&[]);
        let fragment = rec.get(RECORD_HEADER_BYTES..).unwrap_or(&[]);
        let gcm = !matches!(k.key, AeadKey::ChaCha(_));
        let (nonce, body) = if gcm {
            let (explicit, body) = fragment.split_at(GCM_EXPLICIT_NONCE_BYTES.min(fragment.len()));
            let mut n = k.iv;
            for (d, s) in n.iter_mut().skip(GCM_FIXED_IV_BYTES).zip(explicit) {
                *d = *s;
            }
            (n, body)
        } else {
            (xor_nonce(&k.iv, k.seq), fragment)
        };
        let plain_len = body.len().saturating_sub(TAG_BYTES) as u16;
        // AAD: seq_num, type, version, length of the plaintext (RFC 5246 section 6.2.3.3).
        let mut aad = k.seq.to_be_bytes().to_vec();
        aad.extend_from_slice(header.get(..3).unwrap_or(&[]));
        aad.extend_from_slice(&plain_len.to_be_bytes());
        match k.key.open(&nonce, &aad, body) {
            Some(plain) => {
                k.seq += 1;
                dir.counts.records += 1;
                if header.first() == Some(&APPLICATION_DATA) {
                    dir.counts.plaintext_bytes += plain.len() as u64;
                    plaintext.extend_from_slice(&plain);
                }
            }
            None => dir.stop(DecryptAnomaly::TlsDecryptFailed),
        }
    }

    /// A TLS 1.3 protected record, trying the next secret when the current one fails.
    fn open_tls13(&mut self, from: Side, rec: &[u8], plaintext: &mut Vec<u8>) {
        let (header, body) = rec.split_at(RECORD_HEADER_BYTES.min(rec.len()));
        let next = self.next_tls13_phase(from);
        let dir = self.dir(from);
        let Phase::Tls13 { key, .. } = &mut dir.phase else {
            return;
        };
        let inner = match key.key.open(&xor_nonce(&key.iv, key.seq), header, body) {
            Some(inner) => {
                key.seq += 1;
                inner
            }
            None => match next.and_then(|mut p| open_with(&mut p, header, body).map(|i| (p, i))) {
                Some((p, inner)) => {
                    dir.phase = p;
                    inner
                }
                None => return dir.stop(DecryptAnomaly::TlsDecryptFailed),
            },
        };
        dir.counts.records += 1;
        // TLSInnerPlaintext: content, the real type, zero padding (RFC 8446 section 5.2).
        let end = inner.iter().rposition(|b| *b != 0).unwrap_or(0);
        if inner.get(end) == Some(&APPLICATION_DATA) {
            let content = inner.get(..end).unwrap_or(&[]);
            dir.counts.plaintext_bytes += content.len() as u64;
            plaintext.extend_from_slice(content);
        }
    }

    /// The phase to try when the current TLS 1.3 key fails: the application secret after the
    /// handshake one, a key update after that.
    fn next_tls13_phase(&mut self, from: Side) -> Option<Phase> {
        let random = self.hellos.client_random?;
        let s = suite(self.hellos.server.as_ref()?.cipher)?;
        let Phase::Tls13 {
            secret,
            application,
            ..
        } = &self.dir(from).phase
        else {
            return None;
        };
        if *application {
            let updated = hkdf_expand_label(s.hash, secret, "traffic upd", s.hash.output_bytes())?;
            return tls13_phase(s, &updated, true);
        }
        let kind = match from {
            Side::Client => SecretKind::ClientTraffic0,
            Side::Server => SecretKind::ServerTraffic0,
        };
        let secret: &Secret = self.keylog.get(&random, kind)?;
        tls13_phase(s, secret.as_bytes(), true)
    }
}

/// Opens one record with a fresh phase's key.
fn open_with(p: &mut Phase, header: &[u8], body: &[u8]) -> Option<Vec<u8>> {
    let Phase::Tls13 { key, .. } = p else {
        return None;
    };
    let inner = key.key.open(&xor_nonce(&key.iv, key.seq), header, body)?;
    key.seq += 1;
    Some(inner)
}

/// A TLS 1.3 phase keyed from a traffic secret (RFC 8446 section 7.3).
fn tls13_phase(s: Suite, secret: &[u8], application: bool) -> Option<Phase> {
    let key = hkdf_expand_label(s.hash, secret, "key", s.aead.key_bytes())?;
    let iv: [u8; NONCE_BYTES] = hkdf_expand_label(s.hash, secret, "iv", NONCE_BYTES)?
        .try_into()
        .ok()?;
    Some(Phase::Tls13 {
        key: DirKey {
            key: AeadKey::new(s.aead, &key)?,
            iv,
            seq: 0,
        },
        secret: secret.to_vec(),
        application,
    })
}

/// TLS 1.2 client and server write keys from the key block (RFC 5246 section 6.3; AEAD suites
/// have no MAC keys).
fn tls12_keys(
    s: Suite,
    master: &Secret,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Option<(DirKey, DirKey)> {
    let key_len = s.aead.key_bytes();
    let iv_len = match s.aead {
        AeadAlg::ChaCha20Poly1305 => NONCE_BYTES,
        _ => GCM_FIXED_IV_BYTES,
    };
    let seed = [&server_random[..], &client_random[..]].concat();
    let block = tls12_prf(
        s.hash,
        master.as_bytes(),
        b"key expansion",
        &seed,
        2 * (key_len + iv_len),
    );
    let part = |at: usize, len: usize| block.get(at..at + len);
    let iv = |at: usize| {
        let mut iv = [0; NONCE_BYTES];
        iv.get_mut(..iv_len)?.copy_from_slice(part(at, iv_len)?);
        Some(iv)
    };
    let client = DirKey {
        key: AeadKey::new(s.aead, part(0, key_len)?)?,
        iv: iv(2 * key_len)?,
        seq: 0,
    };
    let server = DirKey {
        key: AeadKey::new(s.aead, part(key_len, key_len)?)?,
        iv: iv(2 * key_len + iv_len)?,
        seq: 0,
    };
    Some((client, server))
}

/// The whole length of the record starting `buf`, None with fewer than 5 bytes.
fn record_len(buf: &[u8]) -> Result<Option<usize>, DecryptAnomaly> {
    let (Some(&major), Some(&hi), Some(&lo)) = (buf.get(1), buf.get(3), buf.get(4)) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if major != 3 || len > MAX_CIPHERTEXT_BYTES {
        return Err(DecryptAnomaly::TlsDecryptMalformed);
    }
    Ok(Some(RECORD_HEADER_BYTES + len))
}
