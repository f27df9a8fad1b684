//! The client IP: the TCP peer, or what a trusted proxy says in `Forwarded` (RFC 7239),
//! `X-Forwarded-For` or `X-Real-IP`.
//!
//! Forwarding headers are believed only when the TCP peer is in `trusted_proxies`; then the
//! list is read from the right and the first address that is not a trusted proxy is the
//! client (a client can prepend anything; only the hops appended by our proxies are true).

use crate::http::Headers;
use std::net::IpAddr;

use ipnet::IpNet;

use super::config::ClientIpHeader;

/// Addresses read from one header chain; a longer chain is cut on the left (its right-most
/// hops, the ones our proxies appended, are kept).
pub const MAX_FORWARDED_HOPS: usize = 32;

/// How the client IP was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpOrigin {
    /// The TCP peer (no trusted proxy, or no forwarding header).
    Peer,
    /// A forwarding header from a trusted proxy.
    Header,
    /// A forwarding header from a trusted proxy could not be read; the nearest readable hop
    /// was used.
    HeaderInvalid,
    /// A forwarding header came from a peer that is not a trusted proxy and was ignored.
    Untrusted,
}

/// Resolves client IPs.
#[derive(Clone, Debug)]
pub struct ClientIpResolver {
    /// Trusted proxy networks.
    trusted: Vec<IpNet>,
    /// Headers in precedence order.
    headers: Vec<ClientIpHeader>,
}

impl ClientIpResolver {
    /// From parsed CIDRs and the header order.
    pub fn new(trusted: Vec<IpNet>, headers: Vec<ClientIpHeader>) -> Self {
        ClientIpResolver { trusted, headers }
    }

    /// True when `ip` is a trusted proxy. IPv4-mapped IPv6 addresses match IPv4 networks.
    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The client of a transaction whose TCP peer is `peer`.
    pub fn resolve(&self, peer: IpAddr, headers: &Headers) -> (IpAddr, IpOrigin) {
        let peer = canonical(peer);
        if self.trusted.is_empty() {
            return (peer, IpOrigin::Peer);
        }
        if !self.is_trusted(peer) {
            let forwarded = self.headers.iter().any(|h| {
                headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name(*h)))
            });
            return (
                peer,
                if forwarded {
                    IpOrigin::Untrusted
                } else {
                    IpOrigin::Peer
                },
            );
        }
        for h in &self.headers {
            let mut values = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name(*h)))
                .map(|(_, v)| v)
                .peekable();
            if values.peek().is_none() {
                continue;
            }
            return match h {
                ClientIpHeader::XRealIp => match values.last().and_then(parse_addr) {
                    Some(ip) => (ip, IpOrigin::Header),
                    None => (peer, IpOrigin::HeaderInvalid),
                },
                ClientIpHeader::XForwardedFor => {
                    let hops: Vec<&str> = values.flat_map(|v| v.split(',')).collect();
                    self.walk(peer, &hops, parse_addr)
                }
                ClientIpHeader::Forwarded => {
                    let hops: Vec<&str> = values.flat_map(|v| v.split(',')).collect();
                    self.walk(peer, &hops, forwarded_for)
                }
            };
        }
        (peer, IpOrigin::Peer)
    }

    /// Walk `hops` from the right: skip trusted proxies, return the first other address.
    /// All trusted: the left-most. Unreadable hop: the last good one (nearest to us).
    fn walk(
        &self,
        peer: IpAddr,
        hops: &[&str],
        parse: fn(&str) -> Option<IpAddr>,
    ) -> (IpAddr, IpOrigin) {
        let mut last = peer;
        for h in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
            match parse(h) {
                Some(ip) if self.is_trusted(ip) => last = ip,
                Some(ip) => return (ip, IpOrigin::Header),
                None => return (last, IpOrigin::HeaderInvalid),
            }
        }
        (last, IpOrigin::Header)
    }
}

/// Header name of a forwarding header.
fn name(h: ClientIpHeader) -> &'static str {
    match h {
        ClientIpHeader::Forwarded => "forwarded",
        ClientIpHeader::XForwardedFor => "x-forwarded-for",
        ClientIpHeader::XRealIp => "x-real-ip",
    }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`, optionally quoted.
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inner, _) = rest.split_once(']')?;
        return inner.parse::<IpAddr>().ok().map(canonical);
    }
    let (host, port) = s.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) {
        return host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    }
    None
}

/// The `for=` node of one `Forwarded` element (RFC 7239 section 4); `unknown` and obfuscated
/// identifiers (`_hidden`) are unreadable.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("for") {
            parse_addr(v)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(trusted: &[&str]) -> ClientIpResolver {
        let nets = trusted
            .iter()
            .map(|s| super::super::config::parse_cidr(s).unwrap())
            .collect();
        ClientIpResolver::new(
            nets,
            vec![
                ClientIpHeader::Forwarded,
                ClientIpHeader::XForwardedFor,
                ClientIpHeader::XRealIp,
            ],
        )
    }

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().copied().collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let r = resolver(&["10.0.0.0/8"]);
        let hs = h(&[("X-Forwarded-For", "6.6.6.6")]);
        assert_eq!(
            r.resolve(ip("192.0.2.1"), &hs),
            (ip("192.0.2.1"), IpOrigin::Untrusted)
        );
        assert_eq!(
            resolver(&[]).resolve(ip("10.0.0.1"), &hs),
            (ip("10.0.0.1"), IpOrigin::Peer)
        );
    }

    #[test]
    fn xff_takes_the_rightmost_untrusted_hop() {
        let r = resolver(&["10.0.0.0/8"]);
        let hs = h(&[
            ("X-Forwarded-For", "1.1.1.1, 203.0.113.7"),
            ("x-forwarded-for", "10.1.1.1"),
        ]);
        assert_eq!(
            r.resolve(ip("10.0.0.1"), &hs),
            (ip("203.0.113.7"), IpOrigin::Header)
        );
        let hs = h(&[("X-Forwarded-For", "10.2.2.2, 10.1.1.1")]);
        assert_eq!(
            r.resolve(ip("10.0.0.1"), &hs),
            (ip("10.2.2.2"), IpOrigin::Header)
        );
        let hs = h(&[("X-Forwarded-For", "203.0.113.9:5555, garbage, 10.1.1.1")]);
        assert_eq!(
            r.resolve(ip("10.0.0.1"), &hs),
            (ip("10.1.1.1"), IpOrigin::HeaderInvalid)
        );
    }

    #[test]
    fn forwarded_and_real_ip() {
        let r = resolver(&["10.0.0.0/8", "2001:db8::/32"]);
        let hs = h(&[(
            "Forwarded",
            "for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(
            r.resolve(ip("10.0.0.1"), &hs),
            (ip("192.0.2.60"), IpOrigin::Header)
        );
        let hs = h(&[("Forwarded", "for=unknown")]);
        assert_eq!(r.resolve(ip("10.0.0.1"), &hs).1, IpOrigin::HeaderInvalid);
        let hs = h(&[
            ("X-Real-IP", "198.51.100.4"),
            ("X-Forwarded-For", "1.1.1.1"),
        ]);
        // X-Forwarded-For precedes X-Real-IP in the default order.
        assert_eq!(r.resolve(ip("10.0.0.1"), &hs).0, ip("1.1.1.1"));
        let hs = h(&[("X-Real-IP", "198.51.100.4")]);
        assert_eq!(r.resolve(ip("::ffff:10.0.0.1"), &hs).0, ip("198.51.100.4"));
    }
}
