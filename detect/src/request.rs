//! The request the detector scans: borrowed views of what the HTTP layer parsed.

use std::net::IpAddr;

/// One HTTP request, borrowed from the transaction it came from.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The method as sent (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The raw request-target as sent: origin form (`/a?b=c`) or absolute form
    /// (`http://h/a?b=c`); RFC 9112 section 3.2.
    pub target: &'a str,
    /// Header fields in wire order, names as sent.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body after transfer and content decoding; may be capped by the caller.
    pub body: &'a [u8],
    /// Whether `body` is shorter than the body that was sent.
    pub body_truncated: bool,
    /// The sensor's endpoint template (`"GET /api/orders/{id}"`), for allow-lists.
    pub endpoint: Option<&'a str>,
    /// The client address, for CIDR allow-lists.
    pub client: Option<IpAddr>,
}

impl<'a> Request<'a> {
    /// A request with no headers, body, endpoint or client (for tests and benches).
    pub fn get(target: &'a str) -> Request<'a> {
        Request {
            method: "GET",
            target,
            headers: &[],
            body: &[],
            body_truncated: false,
            endpoint: None,
            client: None,
        }
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}
