//! The shop API the scenarios run against: products, users, orders, tokens. Calls are
//! answered in time order, so an order one actor creates exists for the next. The order
//! endpoint is deliberately vulnerable to BOLA (any existing order is returned to any
//! authenticated user), as the APIs such attacks find.

use std::collections::HashMap;
use std::fmt::Write as _;

/// Products in the catalogue (ids `1..=PRODUCTS`).
pub const PRODUCTS: u64 = 2000;
/// Products per listing page.
pub const PAGE_SIZE: u64 = 20;
/// First order id.
pub const FIRST_ORDER_ID: u64 = 10_000;
/// Base64url alphabet (RFC 4648 section 5).
const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// An order.
#[derive(Clone, Debug)]
pub struct Order {
    /// Owner's user id.
    pub owner: u64,
    /// Amount, cents.
    pub cents: u64,
}

/// The server's state.
#[derive(Debug, Default)]
pub struct World {
    /// Orders by id.
    pub orders: HashMap<u64, Order>,
    /// Next order id.
    next_order: u64,
    /// Issued tokens → user id.
    tokens: HashMap<String, u64>,
}

/// The body of a request.
#[derive(Clone, Debug)]
pub enum Body {
    /// `application/json`.
    Json(String),
    /// `application/x-www-form-urlencoded`.
    Form(String),
}

/// One request of an actor.
#[derive(Clone, Debug)]
pub struct Call {
    /// Packet time of its first byte, µs.
    pub at_us: u64,
    /// Which of the actor's clients sends it.
    pub client: usize,
    /// Method.
    pub method: &'static str,
    /// Target.
    pub path: String,
    /// Bearer token.
    pub token: Option<String>,
    /// Body.
    pub body: Option<Body>,
}

/// A user's password in this world.
pub fn password(user: u64) -> String {
    format!("pw-{user}")
}

/// A user's login name.
pub fn username(user: u64) -> String {
    format!("user{user}")
}

/// base64url without padding.
fn b64(data: &[u8]) -> String {
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(B64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The token the world issues to `user` (a JWT-shaped bearer token; `sub` = `user-<id>`).
pub fn token(user: u64) -> String {
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64(format!(r#"{{"sub":"user-{user}","name":"{}"}}"#, username(user)).as_bytes());
    let sig = b64(format!("sig-{user:08}-scenario-signature").as_bytes());
    format!("{header}.{claims}.{sig}")
}

impl World {
    /// A world with `orders` per user id.
    pub fn new(orders: &[(u64, Vec<u64>)]) -> Self {
        let mut w = World {
            next_order: FIRST_ORDER_ID,
            ..World::default()
        };
        for (user, cents) in orders {
            for c in cents {
                w.add_order(*user, *c);
            }
        }
        w
    }

    /// Add an order; its id.
    fn add_order(&mut self, owner: u64, cents: u64) -> u64 {
        let id = self.next_order;
        self.next_order += 1;
        self.orders.insert(id, Order { owner, cents });
        id
    }

    /// Ids of `user`'s orders, in order.
    pub fn orders_of(&self, user: u64) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .orders
            .iter()
            .filter(|(_, o)| o.owner == user)
            .map(|(id, _)| *id)
            .collect();
        v.sort_unstable();
        v
    }

    /// The response to `call`: status, extra headers, JSON body.
    pub fn answer(&mut self, call: &Call) -> Answer {
        let who = call
            .token
            .as_ref()
            .and_then(|t| self.tokens.get(t).copied());
        let (path, query) = call.path.split_once('?').unwrap_or((&call.path, ""));
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let id = segs.get(3).and_then(|s| s.parse::<u64>().ok());
        match (call.method, segs.as_slice()) {
            ("POST", ["api", "v1", "auth", "token"]) | ("POST", ["login"]) => self.login(call),
            ("GET", ["api", "v1", "products"]) => listing(query),
            ("GET", ["api", "v1", "products", _]) => product(id),
            ("GET", ["api", "v1", "users", _, "orders"]) => self.user_orders(who, id),
            ("GET", ["api", "v1", "users", _, "profile"]) => profile(who, id),
            ("GET", ["api", "v1", "orders", _]) => self.order(who, id),
            ("POST", ["api", "v1", "orders"]) => self.create_order(who, call.body.as_ref()),
            _ => error(404, "not found"),
        }
    }

    /// `GET /api/v1/users/{id}/orders`: the caller's own orders only.
    fn user_orders(&self, who: Option<u64>, id: Option<u64>) -> Answer {
        match (who, id) {
            (None, _) => error(401, "authentication required"),
            (Some(u), Some(id)) if u == id => {
                let mut body = format!(r#"{{"user_id":{u},"orders":["#);
                for (i, oid) in self.orders_of(u).iter().enumerate() {
                    let sep = if i > 0 { "," } else { "" };
                    let c = self.orders.get(oid).map_or(0, |o| o.cents);
                    let _ = write!(
                        body,
                        r#"{sep}{{"id":{oid},"amount":{}.{:02}}}"#,
                        c / 100,
                        c % 100
                    );
                }
                body.push_str("]}");
                (200, vec![], body)
            }
            _ => error(403, "not yours"),
        }
    }

    /// `GET /api/v1/orders/{id}`: vulnerable, any existing order to any logged-in user.
    fn order(&self, who: Option<u64>, id: Option<u64>) -> Answer {
        let found = id.and_then(|id| self.orders.get(&id).map(|o| (id, o)));
        match (who, found) {
            (None, _) => error(401, "authentication required"),
            (Some(_), Some((id, o))) => (
                200,
                vec![],
                format!(
                    r#"{{"id":{id},"amount":{}.{:02}}}"#,
                    o.cents / 100,
                    o.cents % 100
                ),
            ),
            (Some(_), None) => error(404, "no such order"),
        }
    }

    /// `POST /api/v1/orders`: 201 with the order and its `Location`.
    fn create_order(&mut self, who: Option<u64>, body: Option<&Body>) -> Answer {
        match (who, body) {
            (Some(u), Some(Body::Json(b))) => {
                let cents = amount_cents(b).unwrap_or(0);
                let id = self.add_order(u, cents);
                let loc = vec![("Location".into(), format!("/api/v1/orders/{id}"))];
                (
                    201,
                    loc,
                    format!(
                        r#"{{"id":{id},"amount":{}.{:02}}}"#,
                        cents / 100,
                        cents % 100
                    ),
                )
            }
            (None, _) => error(401, "authentication required"),
            _ => error(422, "bad order"),
        }
    }

    /// A login: `{"username","password"}` (JSON) or `username=..&password=..` (form).
    fn login(&mut self, call: &Call) -> Answer {
        let (user, pass) = match &call.body {
            Some(Body::Json(b)) => (json_str(b, "username"), json_str(b, "password")),
            Some(Body::Form(b)) => (form_str(b, "username"), form_str(b, "password")),
            None => (None, None),
        };
        let id = user
            .as_deref()
            .and_then(|u| u.strip_prefix("user"))
            .and_then(|n| n.parse::<u64>().ok());
        match (id, pass) {
            (Some(id), Some(p)) if p == password(id) => {
                let t = token(id);
                self.tokens.insert(t.clone(), id);
                (
                    200,
                    vec![],
                    format!(r#"{{"access_token":"{t}","token_type":"Bearer"}}"#),
                )
            }
            _ => error(401, "bad credentials"),
        }
    }
}

/// A response: status, extra headers, JSON body.
pub type Answer = (u16, Vec<(String, String)>, String);

/// An error response.
fn error(status: u16, message: &str) -> Answer {
    (status, vec![], format!(r#"{{"error":"{message}"}}"#))
}

/// `GET /api/v1/products?page=N`: a page of the catalogue.
fn listing(query: &str) -> Answer {
    let page = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("page="))
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1)
        .max(1);
    let mut body = format!(r#"{{"page":{page},"items":["#);
    let first = (page - 1) * PAGE_SIZE + 1;
    for (i, id) in (first..first + PAGE_SIZE)
        .filter(|id| *id <= PRODUCTS)
        .enumerate()
    {
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(
            body,
            r#"{sep}{{"id":{id},"name":"p{id}","price":{}}}"#,
            100 + id % 900
        );
    }
    body.push_str("]}");
    (200, vec![], body)
}

/// `GET /api/v1/products/{id}`.
fn product(id: Option<u64>) -> Answer {
    match id.filter(|id| (1..=PRODUCTS).contains(id)) {
        Some(id) => (
            200,
            vec![],
            format!(r#"{{"id":{id},"name":"p{id}","price":{}}}"#, 100 + id % 900),
        ),
        None => error(404, "no such product"),
    }
}

/// `GET /api/v1/users/{id}/profile`: the caller's own only (403 otherwise).
fn profile(who: Option<u64>, id: Option<u64>) -> Answer {
    match (who, id) {
        (Some(u), Some(id)) if u == id => (
            200,
            vec![],
            format!(r#"{{"id":{u},"name":"{}"}}"#, username(u)),
        ),
        (None, _) => error(401, "authentication required"),
        _ => error(403, "not yours"),
    }
}

/// A string field of a flat JSON object written by this generator.
fn json_str(body: &str, key: &str) -> Option<String> {
    let at = body.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let rest = body.get(at..)?;
    Some(rest.get(..rest.find('"')?)?.to_owned())
}

/// A field of a form body written by this generator (no escapes).
fn form_str(body: &str, key: &str) -> Option<String> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
}

/// The `amount` of an order body, in cents.
fn amount_cents(body: &str) -> Option<u64> {
    let at = body.find("\"amount\":")? + 9;
    let rest = body.get(at..)?;
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    let v: f64 = rest.get(..end)?.trim().parse().ok()?;
    Some((v * 100.0).round() as u64)
}
