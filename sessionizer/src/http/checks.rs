//! Request heads that parse but that two HTTP components may read differently: request
//! smuggling and host confusion (issue 21). Each finding is an [`HttpAnomaly`] on the
//! transaction; framing is not changed by them (the body is still read the way the framing
//! rules of `parser.rs` say). The same pass notes whether the request asks for an `Upgrade`.

use httparse::Header;

use super::ascii::eq_ignore_case;
use super::target::target_authority;
use super::HttpAnomaly;

/// At most this many findings per head (one of each kind).
const MAX_FINDINGS: usize = 4;

/// What [`request_head`] found: anomalies in a fixed order, and whether an upgrade is asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    items: [Option<HttpAnomaly>; MAX_FINDINGS],
    upgrade: bool,
}

impl Findings {
    /// The anomalies found.
    pub fn iter(self) -> impl Iterator<Item = HttpAnomaly> {
        self.items.into_iter().flatten()
    }

    /// The request has a non-empty `Upgrade` field (RFC 9110 section 7.8): its client may send
    /// bytes of the new protocol right after it.
    pub fn asks_upgrade(self) -> bool {
        self.upgrade
    }
}

/// Checks one request head: `version_minor` of HTTP/1.x, its request-target and its fields.
/// One pass over the field names; the values of Host and Transfer-Encoding are read.
pub fn request_head(version_minor: u8, target: &str, headers: &[Header<'_>]) -> Findings {
    let mut hosts = 0usize;
    let mut host: Option<&[u8]> = None;
    let mut te = false;
    let mut chunked = 0usize;
    let mut upgrade = false;
    for h in headers {
        let name = h.name.as_bytes();
        if eq_ignore_case(name, b"host") {
            hosts += 1;
            host.get_or_insert(h.value);
        } else if eq_ignore_case(name, b"transfer-encoding") {
            te = true;
            chunked += chunked_codings(h.value);
        } else if eq_ignore_case(name, b"upgrade") {
            upgrade |= !h.value.trim_ascii().is_empty();
        }
    }
    let mismatch = match (host, target_authority(target)) {
        (Some(h), Some(authority)) => !same_authority(h, authority.as_bytes(), target),
        _ => false,
    };
    Findings {
        items: [
            (te && version_minor == 0).then_some(HttpAnomaly::TransferEncodingInHttp10),
            (chunked > 1).then_some(HttpAnomaly::ChunkedTwice),
            (hosts > 1).then_some(HttpAnomaly::DuplicateHost),
            mismatch.then_some(HttpAnomaly::HostMismatch),
        ],
        upgrade,
    }
}

/// How many codings of a Transfer-Encoding value are `chunked` (parameters ignored).
fn chunked_codings(value: &[u8]) -> usize {
    value
        .split(|&b| b == b',')
        .filter(|item| {
            let name = item.split(|&b| b == b';').next().unwrap_or(&[]);
            name.trim_ascii().eq_ignore_ascii_case(b"chunked")
        })
        .count()
}

/// Whether a Host value names the same authority as an absolute-form target: ASCII case
/// ignored (RFC 3986 section 6.2.2.1), and a port equal to the scheme's default the same as
/// none (section 6.2.3).
fn same_authority(host: &[u8], authority: &[u8], target: &str) -> bool {
    let default_port: &[u8] = match target.split_once("://") {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => b"443",
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("http") => b"80",
        _ => b"",
    };
    let norm = |a: &'_ [u8]| -> (Vec<u8>, Vec<u8>) {
        let a = a.trim_ascii();
        // The port follows the last colon, unless that colon is inside an IPv6 literal.
        let (h, p) = match a.iter().rposition(|&b| b == b':') {
            Some(i) if !a.get(i..).unwrap_or(&[]).contains(&b']') => {
                (a.get(..i).unwrap_or(&[]), a.get(i + 1..).unwrap_or(&[]))
            }
            _ => (a, &[][..]),
        };
        let p = if p == default_port { &[][..] } else { p };
        (h.to_ascii_lowercase(), p.to_vec())
    };
    norm(host) == norm(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(version_minor: u8, target: &str, fields: &[(&str, &str)]) -> Vec<HttpAnomaly> {
        let headers: Vec<Header<'_>> = fields
            .iter()
            .map(|(n, v)| Header {
                name: n,
                value: v.as_bytes(),
            })
            .collect();
        request_head(version_minor, target, &headers)
            .iter()
            .collect()
    }

    /// A case: what it is, minor version, target, fields, the anomalies expected.
    type Case<'a> = (
        &'a str,
        u8,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [HttpAnomaly],
    );

    /// Each smuggling and host-confusion shape, and the ordinary heads next to it.
    #[test]
    fn smuggling_and_host_confusion_table() {
        use HttpAnomaly::*;
        let te = ("Transfer-Encoding", "chunked");
        let cases: &[Case<'_>] = &[
            ("plain 1.1", 1, "/", &[("Host", "a"), te], &[]),
            (
                "1.0 with TE",
                0,
                "/",
                &[("Host", "a"), te],
                &[TransferEncodingInHttp10],
            ),
            ("1.0 without TE", 0, "/", &[("Content-Length", "3")], &[]),
            (
                "chunked twice in one field",
                1,
                "/",
                &[("Transfer-Encoding", "chunked, Chunked")],
                &[ChunkedTwice],
            ),
            (
                "chunked in two fields",
                1,
                "/",
                &[te, ("transfer-encoding", "chunked;x=1")],
                &[ChunkedTwice],
            ),
            (
                "gzip then chunked",
                1,
                "/",
                &[("Transfer-Encoding", "gzip, chunked")],
                &[],
            ),
            (
                "two Host",
                1,
                "/",
                &[("Host", "a"), ("host", "b")],
                &[DuplicateHost],
            ),
            (
                "two equal Host",
                1,
                "/",
                &[("Host", "a"), ("Host", "a")],
                &[DuplicateHost],
            ),
            (
                "absolute form, same host",
                1,
                "http://A.example/x",
                &[("Host", "a.example")],
                &[],
            ),
            (
                "absolute form, default port",
                1,
                "http://a.example:80/x",
                &[("Host", "a.example")],
                &[],
            ),
            (
                "absolute https, default port",
                1,
                "https://a.example/x",
                &[("Host", "a.example:443")],
                &[],
            ),
            (
                "absolute form, other port",
                1,
                "http://a.example:8080/x",
                &[("Host", "a.example")],
                &[HostMismatch],
            ),
            (
                "absolute form, other host",
                1,
                "http://internal.admin/x",
                &[("Host", "a.example")],
                &[HostMismatch],
            ),
            (
                "origin form with a URL in its query (an OAuth redirect)",
                1,
                "/authorize?redirect_uri=https://other.example/cb",
                &[("Host", "a.example")],
                &[],
            ),
            (
                "absolute form, userinfo",
                1,
                "http://u:p@a.example/x",
                &[("Host", "a.example")],
                &[],
            ),
            (
                "absolute form, IPv6",
                1,
                "http://[::1]:80/x",
                &[("Host", "[::1]")],
                &[],
            ),
            ("absolute form, no Host", 1, "http://a.example/x", &[], &[]),
            (
                "authority form",
                1,
                "a.example:443",
                &[("Host", "b.example:443")],
                &[],
            ),
            (
                "everything",
                0,
                "http://x/",
                &[("Host", "y"), ("Host", "z"), te, te],
                &[
                    TransferEncodingInHttp10,
                    ChunkedTwice,
                    DuplicateHost,
                    HostMismatch,
                ],
            ),
        ];
        for (what, minor, target, fields, want) in cases {
            assert_eq!(check(*minor, target, fields), *want, "{what}");
        }
    }

    #[test]
    fn upgrade_requests_are_noticed() {
        let head = |v: &'static str| {
            request_head(
                1,
                "/",
                &[Header {
                    name: "Upgrade",
                    value: v.as_bytes(),
                }],
            )
        };
        assert!(head("websocket").asks_upgrade());
        assert!(!head(" ").asks_upgrade());
        assert!(!request_head(1, "/", &[]).asks_upgrade());
    }
}
