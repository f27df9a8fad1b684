//! ClientHello fingerprints: JA4 (FoxIO specification, `technical_details/JA4.md`, BSD-3;
//! only JA4 itself, not the other JA4+ methods) and JA3 (Salesforce) for compatibility.
//! Both ignore GREASE values (RFC 8701) wherever they appear.

use std::fmt::Write;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::hello::{ext, is_grease, ClientHello};

/// The value of a JA4 hash part when its list is empty (JA4 specification, reference
/// implementation behaviour).
const JA4_EMPTY_HASH: &str = "000000000000";

/// Hex characters of a truncated JA4 hash part.
const JA4_HASH_CHARS: usize = 12;

/// Largest count JA4 prints; more prints 99.
const JA4_MAX_COUNT: usize = 99;

/// The JA3 string: `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`,
/// decimal values joined by `-`, GREASE removed, extensions in wire order.
pub fn ja3_string(ch: &ClientHello) -> String {
    let list = |v: &[u16]| {
        v.iter()
            .filter(|x| !is_grease(**x))
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("-")
    };
    let formats: Vec<String> = ch.point_formats.iter().map(u8::to_string).collect();
    format!(
        "{},{},{},{},{}",
        ch.legacy_version,
        list(&ch.ciphers),
        list(&ch.extensions),
        list(&ch.groups),
        formats.join("-")
    )
}

/// The JA3 fingerprint: lowercase hex MD5 of [`ja3_string`].
pub fn ja3_hash(ja3: &str) -> String {
    hex(&Md5::digest(ja3.as_bytes()))
}

/// The JA4 fingerprint of a ClientHello carried over TCP (`t`).
pub fn ja4(ch: &ClientHello) -> String {
    let ciphers: Vec<u16> = no_grease(&ch.ciphers);
    let extensions: Vec<u16> = no_grease(&ch.extensions);
    let sni = if extensions.contains(&ext::SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let a = format!(
        "t{}{}{:02}{:02}{}",
        ja4_version(ch),
        sni,
        ciphers.len().min(JA4_MAX_COUNT),
        extensions.len().min(JA4_MAX_COUNT),
        ja4_alpn(ch.alpn.first().map(Vec::as_slice))
    );
    format!("{a}_{}_{}", ja4_b(&ciphers), ja4_c(&extensions, ch))
}

/// JA4's version: the highest non-GREASE supported_versions entry, else `legacy_version`.
fn ja4_version(ch: &ClientHello) -> &'static str {
    let v = no_grease(&ch.supported_versions)
        .into_iter()
        .max()
        .unwrap_or(ch.legacy_version);
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0200 => "s2",
        0x0100 => "s1",
        _ => "00",
    }
}

/// JA4's ALPN part: first and last character of the first protocol name; when either is not
/// an ASCII letter or digit, the first and last characters of the name's hex form instead;
/// `00` when there is no ALPN or the first name is empty.
fn ja4_alpn(first: Option<&[u8]>) -> String {
    let (Some(&b0), Some(&bn)) = (first.and_then(|f| f.first()), first.and_then(|f| f.last()))
    else {
        return "00".into();
    };
    if b0.is_ascii_alphanumeric() && bn.is_ascii_alphanumeric() {
        format!("{}{}", char::from(b0), char::from(bn))
    } else {
        format!("{:x}{:x}", b0 >> 4, bn & 0x0f)
    }
}

/// JA4_b: the cipher suites sorted, as 4-digit lowercase hex joined by `,`, SHA-256 truncated.
fn ja4_b(ciphers: &[u16]) -> String {
    let mut sorted = ciphers.to_vec();
    sorted.sort_unstable();
    if sorted.is_empty() {
        return JA4_EMPTY_HASH.into();
    }
    truncated_sha256(&hex_list(&sorted))
}

/// JA4_c: the extensions sorted without SNI and ALPN, then `_` and the signature algorithms
/// in wire order (no `_` when there are none), SHA-256 truncated.
fn ja4_c(extensions: &[u16], ch: &ClientHello) -> String {
    let mut sorted: Vec<u16> = extensions
        .iter()
        .copied()
        .filter(|e| *e != ext::SERVER_NAME && *e != ext::ALPN)
        .collect();
    sorted.sort_unstable();
    if sorted.is_empty() {
        return JA4_EMPTY_HASH.into();
    }
    let mut s = hex_list(&sorted);
    let sigs = no_grease(&ch.signature_algorithms);
    if !sigs.is_empty() {
        s.push('_');
        s.push_str(&hex_list(&sigs));
    }
    truncated_sha256(&s)
}

fn no_grease(v: &[u16]) -> Vec<u16> {
    v.iter().copied().filter(|x| !is_grease(*x)).collect()
}

/// `0a0b,1301,...`
fn hex_list(v: &[u16]) -> String {
    let mut s = String::with_capacity(v.len() * 5);
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{x:04x}");
    }
    s
}

/// The first 12 hex characters of SHA-256.
pub(crate) fn truncated_sha256(s: &str) -> String {
    let mut h = hex(&Sha256::digest(s.as_bytes()));
    h.truncate(JA4_HASH_CHARS);
    h
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ClientHello of the JA4 specification's example (`technical_details/JA4.md`): its
    /// ciphers, extensions and signature algorithms in wire order, with GREASE added the way
    /// Chrome sends it (the specification says to ignore it).
    fn spec_example() -> ClientHello {
        ClientHello {
            legacy_version: 0x0303,
            ciphers: vec![
                0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
                0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x1a1a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005,
                0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0x3a3a,
            ],
            sni: Some("example.com".into()),
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            supported_versions: vec![0x7a7a, 0x0304, 0x0303],
            groups: vec![0x8a8a, 0x001d, 0x0017, 0x0018],
            point_formats: vec![0],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            ..ClientHello::default()
        }
    }

    #[test]
    fn the_specifications_worked_example() {
        // JA4.md "Cipher hash", "Extension hash" and "Example".
        assert_eq!(
            truncated_sha256(
                "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"
            ),
            "8daaf6152771"
        );
        assert_eq!(
            truncated_sha256(
                "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,\
                 0804,0401,0503,0805,0501,0806,0601"
            ),
            "e5627efa2ab1"
        );
        assert_eq!(
            truncated_sha256(
                "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"
            ),
            "6d807ffa2a79"
        );
        assert_eq!(ja4(&spec_example()), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn ja4_parts_follow_the_specification() {
        let base = spec_example();
        let table: [(&str, ClientHello, &str); 6] = [
            (
                "no SNI gives i",
                ClientHello {
                    extensions: base
                        .extensions
                        .iter()
                        .copied()
                        .filter(|e| *e != 0)
                        .collect(),
                    ..base.clone()
                },
                "t13i1515h2_8daaf6152771_e5627efa2ab1",
            ),
            (
                "no supported_versions: legacy version",
                ClientHello {
                    supported_versions: vec![],
                    ..base.clone()
                },
                "t12d1516h2_8daaf6152771_e5627efa2ab1",
            ),
            (
                "no ALPN gives 00",
                ClientHello {
                    alpn: vec![],
                    ..base.clone()
                },
                "t13d151600_8daaf6152771_e5627efa2ab1",
            ),
            (
                "http/1.1 gives h1",
                ClientHello {
                    alpn: vec![b"http/1.1".to_vec()],
                    ..base.clone()
                },
                "t13d1516h1_8daaf6152771_e5627efa2ab1",
            ),
            (
                "no signature algorithms: no underscore",
                ClientHello {
                    signature_algorithms: vec![],
                    ..base.clone()
                },
                "t13d1516h2_8daaf6152771_6d807ffa2a79",
            ),
            (
                "nothing offered",
                ClientHello {
                    legacy_version: 0x0300,
                    ..ClientHello::default()
                },
                "ts3i000000_000000000000_000000000000",
            ),
        ];
        for (what, ch, want) in table {
            assert_eq!(ja4(&ch), want, "{what}");
        }
    }

    #[test]
    fn ja4_alpn_uses_hex_when_an_end_is_not_alphanumeric() {
        assert_eq!(ja4_alpn(Some(b"h2")), "h2");
        assert_eq!(ja4_alpn(Some(b"h")), "hh");
        assert_eq!(ja4_alpn(Some(&[0xab, 0xcd])), "ad");
        assert_eq!(ja4_alpn(Some(b"x-")), "7d");
        assert_eq!(ja4_alpn(Some(b"")), "00");
        assert_eq!(ja4_alpn(None), "00");
    }

    #[test]
    fn ja4_counts_cap_at_99() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            ciphers: (1..=150).collect(),
            extensions: (100..=250).collect(),
            ..ClientHello::default()
        };
        assert!(ja4(&ch).starts_with("t12i999900_"), "{}", ja4(&ch));
    }

    #[test]
    fn ja3_drops_grease_and_keeps_wire_order() {
        let s = ja3_string(&spec_example());
        assert_eq!(
            s,
            "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,\
             27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0"
        );
        // MD5 of the empty JA3 fields, checked against `printf '771,,,,' | md5sum`.
        let empty = ClientHello {
            legacy_version: 771,
            ..ClientHello::default()
        };
        assert_eq!(ja3_string(&empty), "771,,,,");
        assert_eq!(ja3_hash("771,,,,"), "bddda940f9963577c41d7c28b1a5f65f");
    }

    #[test]
    fn grease_is_the_sixteen_reserved_values_only() {
        let grease: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        assert_eq!(grease.len(), 16);
        assert_eq!(grease.first(), Some(&0x0a0a));
        assert_eq!(grease.last(), Some(&0xfafa));
        assert!(!is_grease(0x0a1a));
    }
}
