//! Allow rules compiled from `[[detect.allow]]`: which findings an operator has said to drop.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::AllowRule;
use crate::finding::{Class, ClassSet};

/// One allow rule, parsed.
#[derive(Clone, Debug)]
pub(crate) struct Allow {
    endpoints: Vec<String>,
    params: Vec<String>,
    clients: Vec<IpNet>,
    /// Empty: every class.
    classes: ClassSet,
}

impl Allow {
    /// Parses a validated rule (`DetectConfig::validate` has checked CIDRs and class names;
    /// anything unparsable here is dropped from the rule's lists).
    pub(crate) fn new(rule: &AllowRule) -> Allow {
        let clients = rule
            .clients
            .iter()
            .filter_map(|c| {
                c.parse::<IpNet>()
                    .ok()
                    .or_else(|| c.parse::<IpAddr>().ok().map(IpNet::from))
            })
            .collect();
        let classes = rule
            .classes
            .iter()
            .filter_map(|c| Class::from_name(c))
            .collect();
        Allow {
            endpoints: rule.endpoints.clone(),
            params: rule.params.clone(),
            clients,
            classes,
        }
    }

    /// Whether the request-level conditions (endpoint, client) hold for a request.
    pub(crate) fn covers_request(&self, endpoint: Option<&str>, client: Option<IpAddr>) -> bool {
        let endpoint_ok = self.endpoints.is_empty()
            || endpoint.is_some_and(|e| {
                self.endpoints
                    .iter()
                    .any(|g| glob_match(g.as_bytes(), e.as_bytes()))
            });
        let client_ok = self.clients.is_empty()
            || client.is_some_and(|ip| self.clients.iter().any(|n| n.contains(&ip)));
        endpoint_ok && client_ok
    }

    /// Whether the rule names endpoints or clients: whether it covers a request depends on
    /// them.
    pub(crate) fn reads_context(&self) -> bool {
        !self.endpoints.is_empty() || !self.clients.is_empty()
    }

    /// Whether the rule drops every finding of a request it covers.
    pub(crate) fn covers_everything(&self) -> bool {
        self.params.is_empty() && self.classes.is_empty()
    }

    /// Whether the finding-level conditions (parameter name, class) hold. `param` is the name
    /// part of the finding's location, None for the path and the whole body.
    pub(crate) fn covers_finding(&self, class: Class, param: Option<&[u8]>) -> bool {
        let class_ok = self.classes.is_empty() || self.classes.contains(class);
        let param_ok = self.params.is_empty()
            || param.is_some_and(|p| self.params.iter().any(|g| glob_match(g.as_bytes(), p)));
        class_ok && param_ok
    }
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one byte, everything else
/// literal). Greedy with one backtrack point: O(pattern x text) at worst, both short.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || text.get(t) == Some(&c) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|c| *c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("POST /api/cms/*", "POST /api/cms/pages/{id}", true),
            ("POST /api/cms/*", "GET /api/cms/pages", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a?c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("html_*", "html_body", true),
            ("/content", "/content", true),
            ("/content", "/contents", false),
            ("**a", "bba", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob_match(p.as_bytes(), t.as_bytes()), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn rule_conditions() {
        let rule = Allow::new(&AllowRule {
            endpoints: vec!["POST /api/cms/*".into()],
            params: vec!["/content".into()],
            clients: vec![],
            classes: vec!["xss".into()],
        });
        assert!(rule.covers_request(Some("POST /api/cms/pages"), None));
        assert!(!rule.covers_request(None, None));
        assert!(rule.covers_finding(Class::Xss, Some(b"/content")));
        assert!(!rule.covers_finding(Class::Sqli, Some(b"/content")));
        assert!(!rule.covers_finding(Class::Xss, None));
        assert!(!rule.covers_everything());

        let scanner = Allow::new(&AllowRule {
            clients: vec!["10.9.0.0/16".into(), "192.0.2.7".into()],
            ..AllowRule::default()
        });
        assert!(scanner.covers_request(None, Some("10.9.3.4".parse().unwrap())));
        assert!(scanner.covers_request(None, Some("192.0.2.7".parse().unwrap())));
        assert!(!scanner.covers_request(None, Some("10.8.0.1".parse().unwrap())));
        assert!(!scanner.covers_request(None, None));
        assert!(scanner.covers_everything());
    }

    #[test]
    fn a_rule_reads_context_when_it_names_endpoints_or_clients() {
        let rule = |endpoints: &[&str], clients: &[&str], params: &[&str]| {
            let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
            Allow::new(&AllowRule {
                endpoints: list(endpoints),
                clients: list(clients),
                params: list(params),
                ..AllowRule::default()
            })
        };
        assert!(rule(&["GET /a"], &[], &[]).reads_context());
        assert!(rule(&[], &["10.0.0.0/8"], &[]).reads_context());
        assert!(!rule(&[], &[], &["q"]).reads_context());
        assert!(!rule(&[], &[], &[]).reads_context());
    }
}
