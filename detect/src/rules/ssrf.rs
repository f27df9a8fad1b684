//! Server-side request forgery.
//!
//! Method: URLs are found in the value (`scheme://authority`), their host taken out (userinfo,
//! port and IPv6 brackets removed) and read the way resolvers and `inet_aton` read it: dotted
//! decimal, one to four parts, each decimal, octal (`0177`) or hex (`0x7f`), or one 32-bit number
//! (`2130706433`); IPv6 including IPv4-mapped addresses. A URL that starts the value and points
//! at cloud metadata, loopback, link-local, unspecified or private (RFC 1918, RFC 4193) addresses
//! is SSRF at level 1; further into the value at level 3. Local schemes (`file:`, `gopher:`,
//! `dict:`, `php:`...) starting a value count at level 1. A bare internal address or host name
//! in a parameter whose name says it holds a URL or host counts at level 2.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Hit, Value, L2, L3};

/// Schemes that reach local files or raw sockets through a URL fetcher.
const LOCAL_SCHEMES: &[&str] = &[
    "file:",
    "gopher:",
    "dict:",
    "php:",
    "phar:",
    "jar:",
    "netdoc:",
    "tftp:",
    "expect:",
    "ldap:",
    "sftp:",
    "zip:",
    "glob:",
    "ogg:",
    "data:text/html",
];

/// Host names of cloud metadata services.
pub(crate) const METADATA_HOSTS: &[&str] = &[
    "metadata.google.internal",
    "metadata",
    "metadata.azure.com",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.tencentyun.com",
    "100.100.100.200",
];

/// Host names that resolve to loopback.
pub(crate) const LOOPBACK_SUFFIXES: &[&str] = &[
    "localhost",
    ".localhost",
    "localtest.me",
    ".localtest.me",
    "lvh.me",
    "vcap.me",
    "127.0.0.1.nip.io",
];

/// Wildcard DNS services that resolve `<address>.<service>` to the address.
const WILDCARD_DNS: &[&str] = &[
    ".nip.io",
    ".sslip.io",
    ".xip.io",
    ".traefik.me",
    ".localtest.me",
];

/// Parameter names that hold a URL or host (compared as substrings of the lower-case name).
pub(crate) const URL_NAME_HINTS: &[&str] = &[
    "url", "uri", "link", "href", "src", "dest", "redirect", "callback", "webhook", "target",
    "host", "domain", "site", "server", "proxy", "endpoint", "feed", "fetch", "image", "avatar",
];

/// SSRF detector.
pub(crate) struct Ssrf;

impl Ssrf {
    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        let text = v.lower;
        let lead = text.len() - text.trim_ascii_start().len();
        let trimmed = &text[lead..];
        if LOCAL_SCHEMES
            .iter()
            .any(|s| trimmed.starts_with(s.as_bytes()))
        {
            return Some(Hit::at("ssrf.local-scheme", lead, text.len()));
        }
        let mut from = 0;
        while let Some(sep) =
            memchr::memmem::find(text.get(from..).unwrap_or_default(), b"://").map(|n| from + n)
        {
            let scheme_start = text[..sep]
                .iter()
                .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')))
                .map_or(0, |p| p + 1);
            let host = host_of(text.get(sep + 3..).unwrap_or_default());
            let starts_value = scheme_start == lead;
            if let Some(rule) = internal(host) {
                if starts_value || level >= L3 {
                    return Some(Hit::at(
                        rule,
                        scheme_start,
                        (sep + 3 + host.len() + 1).min(text.len()),
                    ));
                }
            }
            from = sep + 3;
        }
        if level >= L2 && (!trimmed.contains(&b':') || trimmed.first() == Some(&b'[')) {
            let name = v.name.to_ascii_lowercase();
            let hinted = URL_NAME_HINTS
                .iter()
                .any(|h| memchr::memmem::find(&name, h.as_bytes()).is_some());
            if hinted {
                let host = host_of(trimmed);
                if let Some(rule) = internal(host) {
                    return Some(Hit::at(rule, lead, lead + host.len()));
                }
            }
        }
        None
    }
}

/// The host of the authority at the start of `rest` (after `scheme://`): up to the path,
/// query or fragment, without userinfo and port, IPv6 brackets kept.
fn host_of(rest: &[u8]) -> &[u8] {
    let in_authority = |b: &u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'.' | b'-' | b'_' | b':' | b'[' | b']' | b'@' | b'%' | b'~'
            )
    };
    let end = rest
        .iter()
        .position(|b| !in_authority(b))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority
        .iter()
        .rposition(|b| *b == b'@')
        .map_or(authority, |at| &authority[at + 1..]);
    if host.first() == Some(&b'[') {
        return host
            .iter()
            .position(|b| *b == b']')
            .map_or(host, |e| &host[..=e]);
    }
    host.iter()
        .position(|b| *b == b':')
        .map_or(host, |c| &host[..c])
}

/// The rule an internal host falls under, if it is one.
fn internal(host: &[u8]) -> Option<&'static str> {
    let host = host.strip_suffix(b".").unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    if METADATA_HOSTS.iter().any(|m| m.as_bytes() == host) {
        return Some("ssrf.metadata");
    }
    if LOOPBACK_SUFFIXES
        .iter()
        .any(|s| host.ends_with(s.as_bytes()) && (s.starts_with('.') || host.len() == s.len()))
    {
        return Some("ssrf.loopback");
    }
    // Wildcard DNS that answers with the address written in the name (`169.254.169.254.nip.io`).
    if let Some(embedded) = WILDCARD_DNS
        .iter()
        .find_map(|d| host.strip_suffix(d.as_bytes()))
    {
        return internal(embedded);
    }
    let text = std::str::from_utf8(host).ok()?;
    let ip = match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(v6) => IpAddr::V6(v6.split('%').next()?.parse::<Ipv6Addr>().ok()?),
        None => IpAddr::V4(parse_ipv4_loose(text)?),
    };
    classify(ip)
}

/// What an address is, if it is not a public one.
fn classify(ip: IpAddr) -> Option<&'static str> {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None if v6.is_loopback() || v6.is_unspecified() => return Some("ssrf.loopback"),
            None if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => {
                return Some("ssrf.metadata")
            }
            None if (v6.segments()[0] & 0xffc0) == 0xfe80 => return Some("ssrf.link-local"),
            None if (v6.segments()[0] & 0xfe00) == 0xfc00 => return Some("ssrf.private"),
            None => return None,
        },
    };
    let o = v4.octets();
    if v4 == Ipv4Addr::new(169, 254, 169, 254) || v4 == Ipv4Addr::new(100, 100, 100, 200) {
        Some("ssrf.metadata")
    } else if v4.is_loopback() || v4.is_unspecified() {
        Some("ssrf.loopback")
    } else if v4.is_link_local() {
        Some("ssrf.link-local")
    } else if v4.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
        Some("ssrf.private")
    } else {
        None
    }
}

/// An IPv4 address as `inet_aton` reads it: 1 to 4 dot-separated parts, each decimal, octal
/// (leading 0) or hex (0x); the last part fills the remaining bytes (`127.1`, `2130706433`).
/// A single number wider than 32 bits is cut to its low 32 bits, as URL parsers that keep
/// a `u32` do (`http://7147006462` and `http://0x41414141A9FEA9FE` reach 169.254.169.254).
pub(crate) fn parse_ipv4_loose(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let n = if let Some(h) = p.strip_prefix("0x") {
            if h.is_empty() {
                0
            } else {
                u64::from_str_radix(h, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse::<u64>().ok()?
        } else {
            return None;
        };
        nums.push(n);
    }
    if let [single] = nums[..] {
        return Some(Ipv4Addr::from(single as u32));
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|n| *n > 255) {
        return None;
    }
    let tail_bits = 8 * (4 - head.len() as u32);
    if tail_bits < 64 && *last >= 1u64 << tail_bits {
        return None;
    }
    let value = head.iter().fold(0u64, |acc, n| (acc << 8) | n) << tail_bits | last;
    Some(Ipv4Addr::from(u32::try_from(value).ok()?))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::rule_of;
    use super::super::L1;
    use super::*;

    fn rule(raw: &str, name: &str, level: u8) -> Option<&'static str> {
        rule_of(raw, name, level, |v, l| Ssrf.detect(v, l))
    }

    #[test]
    fn loose_ipv4_forms() {
        let cases = [
            ("127.0.0.1", Some([127, 0, 0, 1])),
            ("127.1", Some([127, 0, 0, 1])),
            ("2130706433", Some([127, 0, 0, 1])),
            ("0x7f000001", Some([127, 0, 0, 1])),
            ("0177.0.0.01", Some([127, 0, 0, 1])),
            ("0x7f.1", Some([127, 0, 0, 1])),
            ("0xa9fea9fe", Some([169, 254, 169, 254])),
            ("256.1.1.1", None),
            ("1.2.3.4.5", None),
            ("example.com", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_ipv4_loose(s).map(|a| a.octets()), want, "{s}");
        }
    }

    #[test]
    fn urls_to_internal_hosts() {
        let cases = [
            ("http://169.254.169.254/latest/meta-data/", "ssrf.metadata"),
            (
                "http://metadata.google.internal/computeMetadata/v1/",
                "ssrf.metadata",
            ),
            ("http://[::ffff:a9fe:a9fe]/", "ssrf.metadata"),
            ("http://127.0.0.1:2375/containers/json", "ssrf.loopback"),
            ("http://2130706433/", "ssrf.loopback"),
            ("http://0x7f.1/", "ssrf.loopback"),
            ("https://user@localhost:8443/admin", "ssrf.loopback"),
            ("http://[::1]/", "ssrf.loopback"),
            ("http://0.0.0.0:6379/", "ssrf.loopback"),
            ("http://192.168.1.1/admin", "ssrf.private"),
            ("http://0xc0a80101", "ssrf.private"),
            ("http://[fe80::1]/", "ssrf.link-local"),
            ("gopher://127.0.0.1:25/_HELO", "ssrf.local-scheme"),
            ("file:///etc/passwd", "ssrf.local-scheme"),
            ("dict://127.0.0.1:6379/info", "ssrf.local-scheme"),
            ("http://evil.com@127.0.0.1/", "ssrf.loopback"),
            ("http%3A%2F%2F169.254.169.254%2F", "ssrf.metadata"),
            ("http://169.254.169.254.nip.io/", "ssrf.metadata"),
            ("http://7147006462", "ssrf.metadata"),
            ("http://0x41414141A9FEA9FE", "ssrf.metadata"),
            ("ftp://127.0.0.1!/", "ssrf.loopback"),
        ];
        for (attack, want) in cases {
            assert_eq!(rule(attack, "url", L1), Some(want), "{attack}");
        }
    }

    #[test]
    fn bare_hosts_need_a_url_name_and_level_2() {
        assert_eq!(rule("127.0.0.1", "host", L2), Some("ssrf.loopback"));
        assert_eq!(rule("127.0.0.1", "host", L1), None);
        assert_eq!(rule("10.0.0.1", "comment", L2), None);
    }

    #[test]
    fn tricky_benign() {
        for benign in [
            "https://example.com/cb",
            "https://api.github.com/repos/x/y",
            "http://127.0.0.1.example.com/",
            "https://10.example.org/",
            "see http://localhost:3000 for the dev server",
            "https://cdn.example.net/img/0x7f.png",
            "mailto:bob@example.com",
            "version 10.0.0.1 released",
        ] {
            assert_eq!(rule(benign, "url", L2), None, "{benign}");
        }
    }
}
