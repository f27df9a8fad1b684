//! ClientHello and ServerHello: what they offer and select, read with rusticata's `tls-parser`
//! (what Suricata uses) from one whole handshake message. Pure; the record and handshake
//! reassembly that gives whole messages is in `connection.rs`.

use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_extension_unknown, parse_tls_message_handshake,
    parse_tls_server_hello_extension, SNIType, TlsExtension, TlsExtensionType, TlsMessage,
    TlsMessageHandshake,
};

/// Longest SNI host name kept, in bytes: a DNS name is at most 253 characters
/// (RFC 1035 section 2.3.4); a longer one is cut and flagged.
pub const MAX_SNI_BYTES: usize = 255;

/// ALPN protocol names kept from a ClientHello; more are counted in the fingerprints but not
/// listed. Clients offer two or three (RFC 7301 section 3.1).
pub const MAX_ALPN_PROTOCOLS: usize = 16;

/// The `random` of a ServerHello that is a HelloRetryRequest: SHA-256 of
/// "HelloRetryRequest" (RFC 8446 section 4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Extension types (IANA TLS ExtensionType registry).
pub mod ext {
    /// server_name (RFC 6066 section 3).
    pub const SERVER_NAME: u16 = 0x0000;
    /// application_layer_protocol_negotiation (RFC 7301).
    pub const ALPN: u16 = 0x0010;
}

/// GREASE values (RFC 8701 section 2): 0x0a0a, 0x1a1a, ... 0xfafa, in cipher suites,
/// extensions, groups, versions and signature algorithms. Fingerprints ignore them.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// What a ClientHello offers, in wire order, GREASE values included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` (RFC 8446 section 4.1.2), the version field of the message.
    pub legacy_version: u16,
    /// The client's 32 random bytes: what key logs are indexed by.
    pub random: [u8; 32],
    /// Cipher suites.
    pub ciphers: Vec<u16>,
    /// Extension types.
    pub extensions: Vec<u16>,
    /// The host_name of server_name, when the extension carries one.
    pub sni: Option<String>,
    /// The SNI host name was longer than [`MAX_SNI_BYTES`] and was cut.
    pub sni_truncated: bool,
    /// ALPN protocol names (at most [`MAX_ALPN_PROTOCOLS`]).
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions (RFC 8446 section 4.2.1).
    pub supported_versions: Vec<u16>,
    /// supported_groups (RFC 8446 section 4.2.7, formerly elliptic_curves).
    pub groups: Vec<u16>,
    /// ec_point_formats (RFC 8422 section 5.1.2).
    pub point_formats: Vec<u8>,
    /// signature_algorithms (RFC 8446 section 4.2.3).
    pub signature_algorithms: Vec<u16>,
    /// Extensions whose content tls-parser rejected; their type is still listed.
    pub malformed_extensions: usize,
}

/// What a ServerHello selects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// `legacy_version`: the negotiated version up to TLS 1.2.
    pub legacy_version: u16,
    /// The server's 32 random bytes (TLS 1.2 key derivation).
    pub random: [u8; 32],
    /// The cipher suite selected.
    pub cipher: u16,
    /// supported_versions' selected version (TLS 1.3, RFC 8446 section 4.2.1).
    pub selected_version: Option<u16>,
    /// The ALPN protocol selected (TLS 1.2 only: TLS 1.3 sends it encrypted).
    pub alpn: Option<Vec<u8>>,
    /// This ServerHello is a HelloRetryRequest (RFC 8446 section 4.1.4).
    pub hello_retry_request: bool,
    /// Extensions whose content tls-parser rejected.
    pub malformed_extensions: usize,
}

impl ServerHello {
    /// The version the connection uses.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// A handshake message that is not the hello expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// tls-parser rejected the message.
    #[error("the handshake message is not a well-formed TLS hello (tls-parser rejected it)")]
    Malformed,
    /// A well-formed handshake message of another type.
    #[error("handshake message type {0} where a hello was expected")]
    UnexpectedType(u8),
}

/// Reads a whole ClientHello handshake message (type, 3-byte length, body).
pub fn parse_client_hello(msg: &[u8]) -> Result<ClientHello, HelloError> {
    let ch = match parse_tls_message_handshake(msg) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) => ch,
        Ok(_) => {
            return Err(HelloError::UnexpectedType(
                msg.first().copied().unwrap_or(0),
            ))
        }
        Err(_) => return Err(HelloError::Malformed),
    };
    let mut hello = ClientHello {
        legacy_version: ch.version.0,
        random: random32(ch.random),
        ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
        ..ClientHello::default()
    };
    let mut rest = ch.ext.unwrap_or(&[]);
    while !rest.is_empty() {
        match parse_tls_client_hello_extension(rest) {
            Ok((next, e)) => {
                // tls-parser names every GREASE-looking type 0xfafa: keep the real value.
                let t = match e {
                    TlsExtension::Grease(t, _) => t,
                    ref e => TlsExtensionType::from(e).0,
                };
                hello.extensions.push(t);
                hello.take(e);
                rest = next;
            }
            // Content tls-parser rejects: keep the type (fingerprints count it) and go on.
            Err(_) => match parse_tls_extension_unknown(rest) {
                Ok((next, TlsExtension::Unknown(t, _))) => {
                    hello.extensions.push(t.0);
                    hello.malformed_extensions += 1;
                    rest = next;
                }
                _ => {
                    hello.malformed_extensions += 1;
                    break;
                }
            },
        }
    }
    Ok(hello)
}

impl ClientHello {
    /// Keeps what the summary and the fingerprints need from one extension.
    fn take(&mut self, e: TlsExtension<'_>) {
        match e {
            TlsExtension::SNI(names) => {
                if let Some((_, name)) = names.iter().find(|(t, _)| *t == SNIType::HostName) {
                    let cut = name.get(..MAX_SNI_BYTES).unwrap_or(name);
                    self.sni_truncated = cut.len() < name.len();
                    self.sni = Some(String::from_utf8_lossy(cut).into_owned());
                }
            }
            TlsExtension::ALPN(names) => {
                self.alpn = names
                    .iter()
                    .take(MAX_ALPN_PROTOCOLS)
                    .map(|n| n.to_vec())
                    .collect();
            }
            TlsExtension::SupportedVersions(v) => {
                self.supported_versions = v.iter().map(|v| v.0).collect();
            }
            TlsExtension::EllipticCurves(g) => self.groups = g.iter().map(|g| g.0).collect(),
            TlsExtension::EcPointFormats(f) => self.point_formats = f.to_vec(),
            TlsExtension::SignatureAlgorithms(s) => self.signature_algorithms = s,
            _ => {}
        }
    }
}

/// Reads a whole ServerHello handshake message (type, 3-byte length, body).
pub fn parse_server_hello(msg: &[u8]) -> Result<ServerHello, HelloError> {
    let sh = match parse_tls_message_handshake(msg) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)))) => sh,
        Ok(_) => {
            return Err(HelloError::UnexpectedType(
                msg.first().copied().unwrap_or(0),
            ))
        }
        Err(_) => return Err(HelloError::Malformed),
    };
    let mut hello = ServerHello {
        legacy_version: sh.version.0,
        random: random32(sh.random),
        cipher: sh.cipher.0,
        hello_retry_request: sh.random == HELLO_RETRY_REQUEST_RANDOM,
        ..ServerHello::default()
    };
    let mut rest = sh.ext.unwrap_or(&[]);
    while !rest.is_empty() {
        match parse_tls_server_hello_extension(rest) {
            Ok((next, e)) => {
                match e {
                    TlsExtension::SupportedVersions(v) => {
                        hello.selected_version = v.first().map(|v| v.0)
                    }
                    TlsExtension::ALPN(names) => hello.alpn = names.first().map(|n| n.to_vec()),
                    _ => {}
                }
                rest = next;
            }
            Err(_) => match parse_tls_extension_unknown(rest) {
                Ok((next, _)) => {
                    hello.malformed_extensions += 1;
                    rest = next;
                }
                Err(_) => {
                    hello.malformed_extensions += 1;
                    break;
                }
            },
        }
    }
    Ok(hello)
}

/// A hello's random (tls-parser reads exactly 32 bytes).
fn random32(r: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    if let Some(dst) = out.get_mut(..r.len()) {
        dst.copy_from_slice(r);
    }
    out
}

/// The name of a protocol version as records show it: `TLS 1.3`, `SSL 3.0`, else hex.
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLS 1.3".into(),
        0x0303 => "TLS 1.2".into(),
        0x0302 => "TLS 1.1".into(),
        0x0301 => "TLS 1.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0200 => "SSL 2.0".into(),
        other => format!("0x{other:04x}"),
    }
}

/// The IANA name of a cipher suite where tls-parser knows it, else its hex code.
pub fn cipher_name(id: u16) -> String {
    match tls_parser::TlsCipherSuite::from_id(id) {
        Some(suite) => suite.name.to_string(),
        None => format!("0x{id:04x}"),
    }
}
