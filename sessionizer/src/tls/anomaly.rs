//! What can go wrong while reading a TLS handshake, carried on its summary.

use serde::Serialize;

/// A TLS-layer anomaly. Each one ends the reading of the direction it concerns (the rest of
/// that direction is counted, not parsed), except `tls_malformed_extension` and
/// `tls_sni_too_long`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsAnomaly {
    /// Bytes were lost (reassembly gap) before the direction's hello was read.
    TlsGap,
    /// The client's first bytes are not a handshake record carrying a ClientHello.
    TlsNotClientHello,
    /// A record header that is not TLS (major version not 3, or a length over
    /// RFC 8446 section 5.2's bound).
    TlsMalformedRecord,
    /// A hello tls-parser rejected.
    TlsMalformedHello,
    /// An extension whose content tls-parser rejected; its type still counts in the
    /// fingerprints.
    TlsMalformedExtension,
    /// A handshake message longer than the hello buffer (`MAX_HELLO_BYTES`).
    TlsHelloTooLarge,
    /// The server's first handshake message is not a ServerHello, or it sent application
    /// data before one.
    TlsUnexpectedMessage,
    /// An alert before the handshake was read (`alert` says which).
    TlsAlert,
    /// An SNI host name longer than `MAX_SNI_BYTES`; it was cut.
    TlsSniTooLong,
    /// The connection ended before a hello it had started was complete.
    TlsIncompleteHandshake,
}

impl TlsAnomaly {
    /// Every variant, in declaration order (the order of [`TlsAnomaly::index`]).
    pub const ALL: [TlsAnomaly; 10] = [
        TlsAnomaly::TlsGap,
        TlsAnomaly::TlsNotClientHello,
        TlsAnomaly::TlsMalformedRecord,
        TlsAnomaly::TlsMalformedHello,
        TlsAnomaly::TlsMalformedExtension,
        TlsAnomaly::TlsHelloTooLarge,
        TlsAnomaly::TlsUnexpectedMessage,
        TlsAnomaly::TlsAlert,
        TlsAnomaly::TlsSniTooLong,
        TlsAnomaly::TlsIncompleteHandshake,
    ];

    /// Position in [`TlsAnomaly::ALL`], for counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name in records and metrics.
    pub fn name(self) -> &'static str {
        match self {
            TlsAnomaly::TlsGap => "tls_gap",
            TlsAnomaly::TlsNotClientHello => "tls_not_client_hello",
            TlsAnomaly::TlsMalformedRecord => "tls_malformed_record",
            TlsAnomaly::TlsMalformedHello => "tls_malformed_hello",
            TlsAnomaly::TlsMalformedExtension => "tls_malformed_extension",
            TlsAnomaly::TlsHelloTooLarge => "tls_hello_too_large",
            TlsAnomaly::TlsUnexpectedMessage => "tls_unexpected_message",
            TlsAnomaly::TlsAlert => "tls_alert",
            TlsAnomaly::TlsSniTooLong => "tls_sni_too_long",
            TlsAnomaly::TlsIncompleteHandshake => "tls_incomplete_handshake",
        }
    }
}

/// A set of anomalies: one bit per [`TlsAnomaly::index`], serialized as a list of names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsAnomalies(u16);

impl TlsAnomalies {
    /// Adds one.
    pub fn insert(&mut self, a: TlsAnomaly) {
        self.0 |= 1 << a.index();
    }

    /// Whether `a` is in the set.
    pub fn contains(self, a: TlsAnomaly) -> bool {
        self.0 & (1 << a.index()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = TlsAnomaly> {
        TlsAnomaly::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl Serialize for TlsAnomalies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(TlsAnomaly::name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_variant_at_its_index_with_a_distinct_name() {
        let mut names = std::collections::BTreeSet::new();
        for (i, a) in TlsAnomaly::ALL.iter().enumerate() {
            assert_eq!(a.index(), i);
            assert!(names.insert(a.name()), "duplicate name {}", a.name());
            let json = serde_json::to_string(a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
    }
}
