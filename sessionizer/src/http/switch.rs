//! What an HTTP/1 connection hands on when HTTP/1 ends on it: the protocol that follows
//! (RFC 9110 section 7.8 `Upgrade`, section 9.3.6 CONNECT, or HTTP/0.9's raw reply) and the
//! bytes already received for it.

use httparse::Header;

use super::held::Held;
use super::parser::ResponseHead;
use super::target::without_userinfo;
use super::transaction::SwitchedProtocol;
use super::{Request, Transaction};

/// The protocol a connection switched to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwitchTo {
    /// HTTP/2 after a 101 answering `Upgrade: h2c` (RFC 7540 section 3.2): the upgrade
    /// request is stream 1's request.
    H2c(Box<Request>),
    /// WebSocket after a 101 answering `Upgrade: websocket` (RFC 6455 section 4).
    WebSocket {
        /// The 101 accepted `permessage-deflate` (RFC 7692) in `Sec-WebSocket-Extensions`.
        permessage_deflate: bool,
    },
    /// A tunnel opened by a 2xx to CONNECT: the connection now carries whatever the client
    /// speaks to `authority` (the request-target, without userinfo).
    Tunnel {
        /// Host and port the tunnel goes to.
        authority: String,
    },
    /// Another upgrade, or the raw reply of an HTTP/0.9 request: not parsed.
    Other,
}

/// The hand-over at a protocol switch.
#[derive(Debug)]
pub struct Switch {
    /// What follows.
    pub to: SwitchTo,
    /// Depth of the transaction that switched; the connection's next transaction (if the new
    /// protocol has any) is `depth + 1`.
    pub depth: u32,
    /// Client bytes that came after the switching request and before its response, as they
    /// came (a client may send tunnel bytes before the CONNECT's 200, RFC 9110 section 9.3.6).
    pub early_client: Held,
}

/// The protocol a final response switches its transaction's connection to, if any: a 101, or
/// a 2xx to CONNECT (`connect`). The transaction says so in `switched`.
pub fn switch_of(
    tx: &mut Transaction,
    connect: bool,
    head: &ResponseHead<'_, '_>,
) -> Option<SwitchTo> {
    if head.status == 101 {
        let upgrade = head
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("upgrade"))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
            .unwrap_or_default();
        let to = upgrade_target(&upgrade, head.headers, tx.request.as_ref());
        tx.switched = Some(SwitchedProtocol::Upgrade(upgrade));
        return Some(to);
    }
    if connect && (200..300).contains(&head.status) {
        tx.switched = Some(SwitchedProtocol::Connect);
        let authority = tx.request.as_ref().map_or("", |r| r.uri.as_str());
        return Some(SwitchTo::Tunnel {
            authority: without_userinfo(authority.trim()).to_owned(),
        });
    }
    None
}

/// The protocol a 101 switches to, from its `Upgrade` field and the request's.
pub fn upgrade_target(
    upgrade: &str,
    response: &[Header<'_>],
    request: Option<&Request>,
) -> SwitchTo {
    let first = upgrade.split(',').next().unwrap_or("").trim();
    let name = first.split('/').next().unwrap_or("").trim();
    if name.eq_ignore_ascii_case("h2c") {
        return match request {
            Some(r) => SwitchTo::H2c(Box::new(r.clone())),
            None => SwitchTo::Other,
        };
    }
    if name.eq_ignore_ascii_case("websocket") {
        return SwitchTo::WebSocket {
            permessage_deflate: accepts_deflate(response),
        };
    }
    SwitchTo::Other
}

/// Whether a 101's `Sec-WebSocket-Extensions` accepted `permessage-deflate`.
fn accepts_deflate(response: &[Header<'_>]) -> bool {
    response
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-extensions"))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .any(|ext| {
            let name = ext.split(|&b| b == b';').next().unwrap_or(&[]);
            name.trim_ascii()
                .eq_ignore_ascii_case(b"permessage-deflate")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<'a>(name: &'a str, value: &'a str) -> Header<'a> {
        Header {
            name,
            value: value.as_bytes(),
        }
    }

    #[test]
    fn upgrade_targets() {
        let req = Request {
            method: "GET".into(),
            uri: "/".into(),
            ..Request::default()
        };
        assert!(matches!(
            upgrade_target("h2c", &[], Some(&req)),
            SwitchTo::H2c(r) if r.uri == "/"
        ));
        assert_eq!(upgrade_target("h2c", &[], None), SwitchTo::Other);
        let ext = [h(
            "Sec-WebSocket-Extensions",
            "x-foo, permessage-deflate; client_max_window_bits",
        )];
        assert_eq!(
            upgrade_target("WebSocket", &ext, Some(&req)),
            SwitchTo::WebSocket {
                permessage_deflate: true
            }
        );
        assert_eq!(
            upgrade_target("websocket", &[], None),
            SwitchTo::WebSocket {
                permessage_deflate: false
            }
        );
        assert_eq!(upgrade_target("TLS/1.2", &[], None), SwitchTo::Other);
    }
}
