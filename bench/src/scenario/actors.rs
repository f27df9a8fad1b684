//! The actors: benign users (anonymous and logged in, with the hard negatives) and abusive
//! ones, at least three per kind with different sizes and paces. Each actor's script is
//! written ahead as timed calls; the world answers them in time order.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::world::{password, token, username, Body, Call, PAGE_SIZE, PRODUCTS};
use crate::rng::Rng;

/// Microseconds per second.
const SEC: u64 = 1_000_000;
/// The capture lasts this long, s.
pub const DURATION_S: u64 = 3600;

/// Who an actor is, as the truth file lists it.
#[derive(Clone, Debug, Serialize)]
pub struct Actor {
    /// Unique name.
    pub name: String,
    /// `benign`, or the alert kind it must raise.
    pub label: &'static str,
    /// For benign actors built to look like abuse: which hard negative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hard_negative: Option<&'static str>,
    /// Its client addresses (several for a distributed actor).
    pub client_ips: Vec<IpAddr>,
    /// Its User-Agent (unique per actor: the test tells actors apart by it).
    pub user_agent: String,
    /// The account it logs in as, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Requests it sends.
    pub requests: usize,
    /// Its script.
    #[serde(skip)]
    pub calls: Vec<Call>,
}

/// Writes an actor's script.
struct Script<'r> {
    /// Randomness.
    rng: &'r mut Rng,
    /// Time of the next call, µs from the capture start.
    t_us: u64,
    /// Bearer token once logged in.
    token: Option<String>,
    /// The calls.
    calls: Vec<Call>,
    /// Which client sends the next call.
    client: usize,
}

impl<'r> Script<'r> {
    fn new(rng: &'r mut Rng, start_s: u64) -> Self {
        Script {
            rng,
            t_us: start_s * SEC,
            token: None,
            calls: Vec::new(),
            client: 0,
        }
    }

    /// A call now.
    fn call(&mut self, method: &'static str, path: String, body: Option<Body>) {
        self.calls.push(Call {
            at_us: self.t_us,
            client: self.client,
            method,
            path,
            token: self.token.clone(),
            body,
        });
    }

    /// Wait like a person: mostly a few seconds, sometimes a pause.
    fn human_pause(&mut self) {
        let mean_s = if self.rng.chance(0.1) { 45.0 } else { 5.0 };
        let s = -mean_s * (1.0 - self.rng.unit()).ln();
        self.t_us += (s * SEC as f64) as u64 + 300_000;
    }

    /// Wait like a loop: `period_s` with `jitter` (share) either way.
    fn steady(&mut self, period_s: f64, jitter: f64) {
        let f = 1.0 + jitter * (2.0 * self.rng.unit() - 1.0);
        self.t_us += (period_s * f * SEC as f64) as u64;
    }

    /// Log in as `user` (JSON token endpoint), with `password`.
    fn login(&mut self, user: &str, pass: &str) {
        let body = format!(r#"{{"username":"{user}","password":"{pass}"}}"#);
        self.call("POST", "/api/v1/auth/token".into(), Some(Body::Json(body)));
    }

    /// Log in through the form login page as `user`, with `password`.
    fn login_form(&mut self, user: &str, pass: &str) {
        let body = format!("username={user}&password={pass}");
        self.call("POST", "/login".into(), Some(Body::Form(body)));
    }

    /// Log in successfully as user id `u`.
    fn login_ok(&mut self, u: u64) {
        self.login(&username(u), &password(u));
        self.token = Some(token(u));
    }

    /// Read a listing page and return the product ids on it.
    fn list(&mut self, page: u64) -> Vec<u64> {
        self.call("GET", format!("/api/v1/products?page={page}"), None);
        let first = (page - 1) * PAGE_SIZE + 1;
        (first..first + PAGE_SIZE)
            .filter(|id| *id <= PRODUCTS)
            .collect()
    }

    /// Place an order of `cents`.
    fn order(&mut self, product: u64, cents: u64) {
        let body = format!(
            r#"{{"product_id":{product},"amount":{}.{:02}}}"#,
            cents / 100,
            cents % 100
        );
        self.call("POST", "/api/v1/orders".into(), Some(Body::Json(body)));
    }
}

/// A client address in 198.51.100.0/22 for actor number `i` (distinct per actor).
fn addr(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xC633_6400 + 1 + i))
}

/// Builds every actor.
pub struct Cast<'r> {
    /// Randomness.
    pub rng: &'r mut Rng,
    /// Actors so far.
    pub actors: Vec<Actor>,
    /// Addresses handed out.
    addrs: u32,
}

impl Cast<'_> {
    /// Add an actor from a finished script.
    fn add(
        &mut self,
        name: String,
        label: &'static str,
        hn: Option<&'static str>,
        ips: Vec<IpAddr>,
        user: Option<u64>,
        calls: Vec<Call>,
    ) {
        let ua = format!("scenario/{name}");
        self.actors.push(Actor {
            requests: calls.len(),
            name,
            label,
            hard_negative: hn,
            client_ips: ips,
            user_agent: ua,
            user: user.map(username),
            calls,
        });
    }

    /// A fresh client address.
    fn next_ip(&mut self) -> IpAddr {
        self.addrs += 1;
        addr(self.addrs)
    }

    /// A benign session: browse, maybe look at own orders, maybe order. `user`: logged in.
    fn benign(
        &mut self,
        name: String,
        user: Option<u64>,
        start_s: u64,
        ip: IpAddr,
        own: Vec<u64>,
        hn: Option<&'static str>,
    ) {
        let mut s = Script::new(self.rng, start_s);
        if let Some(u) = user {
            s.login_ok(u);
            s.human_pause();
        }
        let pages = s.rng.range(1, 3);
        let mut seen = Vec::new();
        for _ in 0..pages {
            let page = s.rng.range(1, PRODUCTS / PAGE_SIZE);
            seen.extend(s.list(page));
            s.human_pause();
        }
        for _ in 0..s.rng.range(2, 12) {
            let id = *s.rng.pick(&seen);
            s.call("GET", format!("/api/v1/products/{id}"), None);
            s.human_pause();
        }
        if s.rng.chance(0.1) {
            let gone = PRODUCTS + s.rng.range(1, 500);
            s.call("GET", format!("/api/v1/products/{gone}"), None);
            s.human_pause();
        }
        if let Some(u) = user {
            if !own.is_empty() && s.rng.chance(0.6) {
                s.call("GET", format!("/api/v1/users/{u}/orders"), None);
                s.human_pause();
                for _ in 0..s.rng.range(1, 3) {
                    let id = *s.rng.pick(&own);
                    s.call("GET", format!("/api/v1/orders/{id}"), None);
                    s.human_pause();
                }
            }
            if s.rng.chance(0.4) {
                for _ in 0..s.rng.range(1, 2) {
                    let product = *s.rng.pick(&seen);
                    let cents = s.rng.range(1_000, 15_000);
                    s.order(product, cents);
                    s.human_pause();
                }
            }
        }
        let calls = s.calls;
        self.add(name, "benign", hn, vec![ip], user, calls);
    }
}

/// Users who log in benignly: ids `1..=BENIGN_USERS` (each with a few orders before).
pub const BENIGN_USERS: u64 = 160;

/// Every actor of the scenario.
pub fn cast(rng: &mut Rng, order_ids: &dyn Fn(u64) -> Vec<u64>) -> Vec<Actor> {
    let mut c = Cast {
        rng,
        actors: Vec::new(),
        addrs: 0,
    };
    benign_users(&mut c, order_ids);
    hard_negatives(&mut c, order_ids);
    bola(&mut c, order_ids);
    enumeration(&mut c);
    credential_stuffing(&mut c);
    brute_force(&mut c);
    scraping(&mut c);
    volume_spike(&mut c);
    c.actors
}

/// Benign users, logged in or not, all through the hour.
fn benign_users(c: &mut Cast<'_>, order_ids: &dyn Fn(u64) -> Vec<u64>) {
    for u in 1..=BENIGN_USERS {
        let start = c.rng.range(0, DURATION_S - 600);
        let ip = c.next_ip();
        c.benign(format!("user{u}"), Some(u), start, ip, order_ids(u), None);
    }
    for a in 0..40 {
        let start = c.rng.range(0, DURATION_S - 600);
        let ip = c.next_ip();
        c.benign(format!("anonymous{a}"), None, start, ip, Vec::new(), None);
    }
}

/// The hard negatives: a user browsing 40 products over an hour, a user mistyping a
/// password twice, a user opening each of their own orders, many users behind one NAT.
fn hard_negatives(c: &mut Cast<'_>, order_ids: &dyn Fn(u64) -> Vec<u64>) {
    let ip = c.next_ip();
    let mut s = Script::new(c.rng, 10);
    s.login_ok(171);
    let mut seen = Vec::new();
    for p in 1..=3 {
        seen.extend(s.list(p));
    }
    for i in 0..40 {
        s.steady(85.0, 0.6);
        s.call(
            "GET",
            format!("/api/v1/products/{}", seen[i % seen.len()]),
            None,
        );
    }
    let calls = s.calls;
    c.add(
        "browses-40-products-in-an-hour".into(),
        "benign",
        Some("browses_40_products"),
        vec![ip],
        Some(171),
        calls,
    );

    let ip = c.next_ip();
    let mut s = Script::new(c.rng, 900);
    s.login(&username(172), "pw-wrong");
    s.human_pause();
    s.login(&username(172), "pw-Wrong");
    s.human_pause();
    s.login_ok(172);
    s.human_pause();
    for p in [2, 3] {
        s.list(p);
        s.human_pause();
    }
    let calls = s.calls;
    c.add(
        "mistypes-password-twice".into(),
        "benign",
        Some("mistyped_password"),
        vec![ip],
        Some(172),
        calls,
    );

    let ip = c.next_ip();
    let mut s = Script::new(c.rng, 1800);
    s.login_ok(173);
    s.human_pause();
    s.call("GET", "/api/v1/users/173/orders".into(), None);
    for id in order_ids(173) {
        s.steady(1.0, 0.5);
        s.call("GET", format!("/api/v1/orders/{id}"), None);
    }
    let calls = s.calls;
    c.add(
        "opens-each-own-order".into(),
        "benign",
        Some("own_orders"),
        vec![ip],
        Some(173),
        calls,
    );

    let nat = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 77));
    for k in 0..40u64 {
        let u = 174 + k;
        let start = c.rng.range(600, 1500);
        if k % 15 == 0 {
            // One failed login before the real one.
            let mut s = Script::new(c.rng, start);
            s.login(&username(u), "pw-oops");
            let calls = s.calls;
            c.add(
                format!("nat-user{u}-typo"),
                "benign",
                Some("nat"),
                vec![nat],
                Some(u),
                calls,
            );
        }
        c.benign(
            format!("nat-user{u}"),
            Some(u),
            start + 20,
            nat,
            order_ids(u),
            Some("nat"),
        );
    }
}

/// Logged-in users reading other users' orders by id.
fn bola(c: &mut Cast<'_>, order_ids: &dyn Fn(u64) -> Vec<u64>) {
    let others: Vec<u64> = (1..=BENIGN_USERS).flat_map(order_ids).collect();
    for (i, (n, period_s, start)) in [(60usize, 0.5, 600u64), (150, 2.0, 1200), (400, 0.1, 2400)]
        .into_iter()
        .enumerate()
    {
        let u = 300 + i as u64;
        let ip = c.next_ip();
        let mut s = Script::new(c.rng, start);
        s.login_ok(u);
        let from = s.rng.below(others.len() as u64) as usize;
        for k in 0..n {
            s.steady(period_s, 0.3);
            let id = others[(from + k * 7) % others.len()];
            s.call("GET", format!("/api/v1/orders/{id}"), None);
        }
        let calls = s.calls;
        c.add(format!("bola-{n}"), "bola", None, vec![ip], Some(u), calls);
    }
}

/// Walking ids that do not exist or are forbidden.
fn enumeration(c: &mut Cast<'_>) {
    // Sequential order ids past the last one, logged in.
    let ip = c.next_ip();
    let mut s = Script::new(c.rng, 700);
    s.login_ok(310);
    for k in 0..30 {
        s.steady(0.2, 0.2);
        s.call("GET", format!("/api/v1/orders/{}", 90_000 + k), None);
    }
    let calls = s.calls;
    c.add(
        "enumeration-orders-30".into(),
        "enumeration",
        None,
        vec![ip],
        Some(310),
        calls,
    );
    // Random product ids, anonymous.
    let ip = c.next_ip();
    let mut s = Script::new(c.rng, 1500);
    for _ in 0..100 {
        s.steady(0.05, 0.5);
        let id = s.rng.range(PRODUCTS + 1, 99_999);
        s.call("GET", format!("/api/v1/products/{id}"), None);
    }
    let calls = s.calls;
    c.add(
        "enumeration-products-100".into(),
        "enumeration",
        None,
        vec![ip],
        None,
        calls,
    );
    // Other users' profiles (403), logged in, slowly.
    let ip = c.next_ip();
    let mut s = Script::new(c.rng, 2000);
    s.login_ok(311);
    for k in 0..200 {
        s.steady(0.5, 0.3);
        s.call("GET", format!("/api/v1/users/{}/profile", 400 + k), None);
    }
    let calls = s.calls;
    c.add(
        "enumeration-profiles-200".into(),
        "enumeration",
        None,
        vec![ip],
        Some(311),
        calls,
    );
}

/// Many usernames, mostly failing: two from one address, one spread over eight.
fn credential_stuffing(c: &mut Cast<'_>) {
    for (n, period_s, start) in [(60usize, 0.5, 400u64), (300, 0.1, 2600)] {
        let ip = c.next_ip();
        let mut s = Script::new(c.rng, start);
        for k in 0..n {
            s.steady(period_s, 0.4);
            let user = format!("victim{}", s.rng.range(1, 1_000_000) * 1000 + k as u64);
            if n < 100 {
                s.login_form(&user, "Summer2024");
            } else {
                s.login(&user, "Summer2024!");
            }
        }
        let calls = s.calls;
        c.add(
            format!("stuffing-{n}"),
            "credential_stuffing",
            None,
            vec![ip],
            None,
            calls,
        );
    }
    let ips: Vec<IpAddr> = (0..8)
        .map(|k| IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + k)))
        .collect();
    let mut s = Script::new(c.rng, 3000);
    for k in 0..48usize {
        s.client = k % ips.len();
        s.steady(0.4, 0.3);
        s.login(&format!("list-user-{k}"), "123456");
    }
    let calls = s.calls;
    c.add(
        "stuffing-distributed-48".into(),
        "credential_stuffing",
        None,
        ips,
        None,
        calls,
    );
}

/// One username, many failures.
fn brute_force(c: &mut Cast<'_>) {
    for (i, (n, period_s, start, clients)) in [
        (20usize, 1.0, 500u64, 1usize),
        (100, 0.2, 1900, 1),
        (15, 16.0, 2900, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let target = 5 + i as u64;
        let ips: Vec<IpAddr> = (0..clients).map(|_| c.next_ip()).collect();
        let mut s = Script::new(c.rng, start);
        for k in 0..n {
            s.client = k % clients;
            s.steady(period_s, 0.2);
            s.login(&username(target), &format!("guess{k}"));
        }
        let calls = s.calls;
        let name = format!("brute-force-{n}");
        c.actors.push(Actor {
            requests: calls.len(),
            user_agent: format!("scenario/{name}"),
            name,
            label: "brute_force",
            hard_negative: None,
            client_ips: ips,
            user: Some(username(target)),
            calls,
        });
    }
}

/// Steady loops over the catalogue: two anonymous, one logged in; each lists pages first.
fn scraping(c: &mut Cast<'_>) {
    for (i, (n, period_s, start, login)) in [
        (300usize, 1.5, 300u64, false),
        (800, 0.3, 1000, true),
        (1500, 0.2, 2500, false),
    ]
    .into_iter()
    .enumerate()
    {
        let ip = c.next_ip();
        let mut s = Script::new(c.rng, start);
        let user = login.then_some(320 + i as u64);
        if let Some(u) = user {
            s.login_ok(u);
        }
        let first = s.rng.range(0, PRODUCTS - n as u64);
        let mut ids = Vec::new();
        for p in first / PAGE_SIZE + 1..=(first + n as u64) / PAGE_SIZE + 1 {
            s.steady(period_s, 0.1);
            ids.extend(s.list(p));
        }
        for id in ids.into_iter().filter(|id| *id > first).take(n) {
            s.steady(period_s, 0.1);
            s.call("GET", format!("/api/v1/products/{id}"), None);
        }
        let calls = s.calls;
        c.add(
            format!("scraper-{n}"),
            "scraping",
            None,
            vec![ip],
            user,
            calls,
        );
    }
}

/// Order totals far above the others'.
fn volume_spike(c: &mut Cast<'_>) {
    for (i, (orders, cents, period_s, start)) in [
        (30usize, 10_000u64, 20.0, 1500u64),
        (5, 500_000, 60.0, 2200),
        (100, 5_000, 1.0, 2800),
    ]
    .into_iter()
    .enumerate()
    {
        let u = 330 + i as u64;
        let ip = c.next_ip();
        let mut s = Script::new(c.rng, start);
        s.login_ok(u);
        for k in 0..orders {
            s.steady(period_s, 0.3);
            s.order(1 + k as u64 % PRODUCTS, cents);
        }
        let calls = s.calls;
        c.add(
            format!("volume-{orders}x{}", cents / 100),
            "volume_spike",
            None,
            vec![ip],
            Some(u),
            calls,
        );
    }
}
