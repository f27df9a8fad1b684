//! HTTP/1.1 message synthesis: REST requests and JSON responses, optionally gzip and chunked.
//!
//! Everything here is pure: it takes a PRNG and the capture time and fills caller-owned buffers,
//! so a keep-alive connection reuses its two buffers for every exchange.

use std::io::Write;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use crate::rng::Rng;

/// gzip level: nginx's default `gzip_comp_level 1`, i.e. what most API gateways send.
const GZIP_LEVEL: u32 = 1;
/// Smallest chunk of a chunked response body (RFC 9112 §7.1 allows any size).
const MIN_CHUNK_BYTES: u64 = 256;
/// Largest chunk of a chunked response body.
const MAX_CHUNK_BYTES: u64 = 4096;
/// Smallest JSON body of a product list page.
const MIN_LIST_BODY_BYTES: u64 = 1_000;
/// Largest JSON body of a product list page (~20 KB).
const MAX_LIST_BODY_BYTES: u64 = 20_000;
/// Share of `GET /users/{id}` that hit an unknown id and get a 404.
const NOT_FOUND_RATIO: f64 = 0.05;
/// Number of distinct user ids.
const USER_ID_SPACE: u64 = 1_000_000;
/// Number of product list pages.
const PRODUCT_PAGES: u64 = 500;
/// Largest number of line items in a created order.
const MAX_ORDER_ITEMS: u64 = 12;
/// Length of the random JWT signature segment (43 base64url chars = 32 bytes, HS256).
const JWT_SIGNATURE_CHARS: usize = 43;
/// Length of the random session cookie value.
const SESSION_ID_CHARS: usize = 32;
/// Days from 1970-01-01 to 2000-03-01, the epoch of the civil-date algorithm below.
const DAYS_1970_TO_2000_03_01: i64 = 11_017;
/// Seconds per day.
const SECS_PER_DAY: u64 = 86_400;

/// base64url alphabet (RFC 4648 §5), also used for random tokens.
const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// User agents of the synthetic API clients.
const USER_AGENTS: &[&str] = &[
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "axios/1.7.2",
    "Go-http-client/1.1",
    "MyShopApp/5.3.1 (iPhone; iOS 17.5; Scale/3.00)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
];
/// First names used in JSON bodies.
const FIRST_NAMES: &[&str] = &[
    "Ada", "Linus", "Grace", "Ken", "Barbara", "Dennis", "Radia", "Vint",
];
/// Last names used in JSON bodies.
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Torvalds", "Hopper", "Thompson", "Liskov", "Ritchie", "Perlman", "Cerf",
];
/// Product nouns used in JSON bodies.
const PRODUCTS: &[&str] = &[
    "Widget",
    "Gadget",
    "Sprocket",
    "Gizmo",
    "Doohickey",
    "Flange",
    "Bracket",
    "Coupler",
];
/// Product tags used in JSON bodies.
const TAGS: &[&str] = &[
    "new",
    "sale",
    "eco",
    "bulk",
    "premium",
    "clearance",
    "bestseller",
];
/// Cities used in addresses.
const CITIES: &[&str] = &[
    "Berlin", "Lyon", "Porto", "Oslo", "Gdansk", "Turin", "Ghent", "Cork",
];

/// The REST operation of one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `GET /api/v1/users/{id}` -> 200 user or 404.
    GetUser,
    /// `GET /api/v1/products?page=N&per_page=M` -> 200 list (large bodies).
    ListProducts,
    /// `POST /api/v1/orders` with a JSON body -> 201 order.
    CreateOrder,
    /// `PUT /api/v1/users/{id}` with a JSON body -> 200 user.
    UpdateUser,
    /// `DELETE /api/v1/orders/{id}` -> 204 without body.
    DeleteOrder,
}

/// Operation mix in percent, in the order of [`Operation`]'s variants; sums to 100.
const OPERATION_MIX: [(Operation, u64); 5] = [
    (Operation::GetUser, 35),
    (Operation::ListProducts, 30),
    (Operation::CreateOrder, 15),
    (Operation::UpdateUser, 10),
    (Operation::DeleteOrder, 10),
];
/// Sum of the [`OPERATION_MIX`] weights.
const OPERATION_MIX_TOTAL: u64 = 100;

/// Per-connection client identity: the same token, cookie and agent on every request.
#[derive(Debug, Clone)]
pub struct ClientProfile {
    /// `Authorization: Bearer` token (JWT-shaped, random signature).
    pub token: String,
    /// `Cookie: session=` value.
    pub session: String,
    /// `User-Agent` value.
    pub user_agent: &'static str,
}

impl ClientProfile {
    /// Draws a new client identity.
    pub fn random(rng: &mut Rng, now_unix_s: u64) -> Self {
        let user = rng.below(USER_ID_SPACE);
        let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = format!(
            r#"{{"sub":"user-{user}","iat":{now_unix_s},"exp":{},"scope":"api:read api:write"}}"#,
            now_unix_s + 3600
        );
        let token = format!(
            "{header}.{}.{}",
            base64url(claims.as_bytes()),
            random_token(rng, JWT_SIGNATURE_CHARS)
        );
        Self {
            token,
            session: random_token(rng, SESSION_ID_CHARS),
            user_agent: *rng.pick(USER_AGENTS),
        }
    }
}

/// What one generated exchange turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeInfo {
    /// The REST operation.
    pub operation: Operation,
    /// Response status code.
    pub status: u16,
    /// The response body is gzip-compressed.
    pub gzip: bool,
    /// The response uses chunked transfer coding.
    pub chunked: bool,
}

/// Encoding choices for a response, drawn by the caller.
#[derive(Debug, Clone, Copy)]
pub struct ResponseStyle {
    /// Compress the body with gzip.
    pub gzip: bool,
    /// Send the body with chunked transfer coding.
    pub chunked: bool,
}

/// The two messages of one exchange; a connection reuses them for all its exchanges.
#[derive(Debug, Default)]
pub struct Messages {
    /// Request bytes (head and body).
    pub request: Vec<u8>,
    /// Response bytes (head and body, encoded as sent).
    pub response: Vec<u8>,
}

/// Fills `messages` with one request/response pair; returns what was generated.
pub fn write_exchange(
    rng: &mut Rng,
    client: &ClientProfile,
    host: &str,
    style: ResponseStyle,
    gzipper: &mut Gzipper,
    now_unix_s: u64,
    messages: &mut Messages,
) -> ExchangeInfo {
    let Messages {
        request: req,
        response: resp,
    } = messages;
    req.clear();
    resp.clear();
    let operation = pick_operation(rng);
    let mut req_body = Vec::new();
    let mut resp_body = Vec::new();
    let (method, status) = match operation {
        Operation::GetUser => {
            let id = rng.below(USER_ID_SPACE);
            let _ = write!(req, "GET /api/v1/users/{id} HTTP/1.1\r\n");
            if rng.chance(NOT_FOUND_RATIO) {
                not_found_json(&mut resp_body, "user", id);
                ("GET", 404)
            } else {
                user_json(rng, &mut resp_body, id);
                ("GET", 200)
            }
        }
        Operation::ListProducts => {
            let page = rng.range(1, PRODUCT_PAGES);
            let target = rng.log_uniform(MIN_LIST_BODY_BYTES, MAX_LIST_BODY_BYTES) as usize;
            let _ = write!(
                req,
                "GET /api/v1/products?page={page}&per_page=50&sort=price HTTP/1.1\r\n"
            );
            products_json(rng, &mut resp_body, page, target);
            ("GET", 200)
        }
        Operation::CreateOrder => {
            let _ = write!(req, "POST /api/v1/orders HTTP/1.1\r\n");
            let order_id = rng.below(u64::from(u32::MAX));
            order_json(rng, &mut req_body, None);
            order_json(rng, &mut resp_body, Some(order_id));
            ("POST", 201)
        }
        Operation::UpdateUser => {
            let id = rng.below(USER_ID_SPACE);
            let _ = write!(req, "PUT /api/v1/users/{id} HTTP/1.1\r\n");
            let city = rng.pick(CITIES);
            let _ = write!(
                req_body,
                r#"{{"address":{{"city":"{city}","zip":"{:05}"}},"newsletter":{}}}"#,
                rng.below(100_000),
                rng.chance(0.5)
            );
            user_json(rng, &mut resp_body, id);
            ("PUT", 200)
        }
        Operation::DeleteOrder => {
            let id = rng.below(u64::from(u32::MAX));
            let _ = write!(req, "DELETE /api/v1/orders/{id} HTTP/1.1\r\n");
            ("DELETE", 204)
        }
    };
    let _ = write!(
        req,
        "Host: {host}\r\nUser-Agent: {}\r\nAccept: application/json\r\nAccept-Encoding: gzip, deflate\r\n\
         Authorization: Bearer {}\r\nCookie: session={}; locale=en-US\r\nX-Request-Id: {:016x}\r\n",
        client.user_agent,
        client.token,
        client.session,
        rng.next_u64()
    );
    if !req_body.is_empty() {
        let _ = write!(
            req,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            req_body.len()
        );
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(&req_body);
    debug_assert!(method.len() <= "DELETE".len());

    let has_body = status != 204; // RFC 9110 §15.3.5: 204 has no content.
    let gzip = has_body && style.gzip;
    let chunked = has_body && style.chunked;
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        _ => "Not Found",
    };
    let _ = write!(
        resp,
        "HTTP/1.1 {status} {reason}\r\nDate: {}\r\nServer: nginx/1.26.1\r\nConnection: keep-alive\r\n\
         X-RateLimit-Remaining: {}\r\n",
        HttpDate(now_unix_s),
        rng.below(1000)
    );
    if has_body {
        resp.extend_from_slice(b"Content-Type: application/json; charset=utf-8\r\n");
    }
    let body = if gzip {
        resp.extend_from_slice(b"Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
        let mut zipped = Vec::new();
        gzipper.compress_into(&resp_body, &mut zipped);
        zipped
    } else {
        resp_body
    };
    if chunked {
        resp.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        write_chunked(rng, resp, &body);
    } else {
        if has_body {
            let _ = write!(resp, "Content-Length: {}\r\n", body.len());
        }
        resp.extend_from_slice(b"\r\n");
        resp.extend_from_slice(&body);
    }
    ExchangeInfo {
        operation,
        status,
        gzip,
        chunked,
    }
}

/// Draws an operation according to [`OPERATION_MIX`].
fn pick_operation(rng: &mut Rng) -> Operation {
    let mut x = rng.below(OPERATION_MIX_TOTAL);
    for (op, weight) in OPERATION_MIX {
        if x < weight {
            return op;
        }
        x -= weight;
    }
    Operation::GetUser
}

/// Writes `body` as chunked transfer coding (RFC 9112 §7.1), ending with the last-chunk.
fn write_chunked(rng: &mut Rng, out: &mut Vec<u8>, body: &[u8]) {
    let mut rest = body;
    while !rest.is_empty() {
        let n = (rng.range(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES) as usize).min(rest.len());
        let _ = write!(out, "{n:x}\r\n");
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n\r\n");
}

/// gzip member header (RFC 1952 §2.3): magic, CM=deflate, no flags, MTIME=0, XFL=4 (fastest),
/// OS=255 (unknown). MTIME 0 keeps the output deterministic.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// Reusable gzip compressor: one deflate state for the whole run instead of one per body
/// (allocating a fresh deflate state per response dominated generation time).
pub struct Gzipper {
    /// Raw deflate state, reset between bodies.
    deflate: Compress,
}

impl Default for Gzipper {
    fn default() -> Self {
        Self {
            deflate: Compress::new(Compression::new(GZIP_LEVEL), false),
        }
    }
}

impl Gzipper {
    /// Appends the gzip encoding (RFC 1952) of `data` to `out`.
    pub fn compress_into(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.deflate.reset();
        out.extend_from_slice(&GZIP_HEADER);
        // Deflate's worst case is the input plus 5 bytes per 16 KiB block; reserve generously.
        out.reserve(data.len() + data.len() / 1000 + 64);
        let mut input = data;
        loop {
            let before_in = self.deflate.total_in();
            let status = self.deflate.compress_vec(input, out, FlushCompress::Finish);
            input = &input[(self.deflate.total_in() - before_in) as usize..];
            match status {
                Ok(Status::StreamEnd) => break,
                Ok(_) => out.reserve(out.capacity().max(1024)),
                // Cannot happen for in-memory deflate; an empty tail keeps the stream well-formed.
                Err(_) => break,
            }
        }
        let mut crc = Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    }
}

/// Writes a user object.
fn user_json(rng: &mut Rng, out: &mut Vec<u8>, id: u64) {
    let first = rng.pick(FIRST_NAMES);
    let last = rng.pick(LAST_NAMES);
    let _ = write!(
        out,
        r#"{{"id":{id},"username":"{}{id}","email":"{}.{}{id}@example.com","full_name":"{first} {last}","created_at":"2023-{:02}-{:02}T{:02}:{:02}:{:02}Z","roles":["customer"{}],"address":{{"street":"{} Main Street","city":"{}","zip":"{:05}","country":"EU"}},"preferences":{{"newsletter":{},"language":"en","currency":"EUR"}},"loyalty_points":{}}}"#,
        first.to_lowercase(),
        first.to_lowercase(),
        last.to_lowercase(),
        rng.range(1, 12),
        rng.range(1, 28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        if rng.chance(0.1) { r#","admin""# } else { "" },
        rng.range(1, 999),
        rng.pick(CITIES),
        rng.below(100_000),
        rng.chance(0.5),
        rng.below(50_000),
    );
}

/// Writes a product list page of about `target` bytes.
fn products_json(rng: &mut Rng, out: &mut Vec<u8>, page: u64, target: usize) {
    let _ = write!(out, r#"{{"page":{page},"per_page":50,"items":["#);
    let mut first = true;
    let mut item = 0u64;
    while out.len() < target {
        if !first {
            out.push(b',');
        }
        first = false;
        let id = page * 1000 + item;
        item += 1;
        let _ = write!(
            out,
            r#"{{"id":{id},"sku":"SKU-{id:07}","name":"{} {id}","price":{}.{:02},"currency":"EUR","in_stock":{},"stock":{},"tags":["{}","{}"],"rating":{}.{}}}"#,
            rng.pick(PRODUCTS),
            rng.range(1, 999),
            rng.below(100),
            rng.chance(0.8),
            rng.below(10_000),
            rng.pick(TAGS),
            rng.pick(TAGS),
            rng.range(1, 4),
            rng.below(10),
        );
    }
    let _ = write!(
        out,
        r#"],"total_items":{},"next_page":{}}}"#,
        PRODUCT_PAGES * 50,
        page + 1
    );
}

/// Writes an order; with `id` it is the server's view (status, totals), without it the request.
fn order_json(rng: &mut Rng, out: &mut Vec<u8>, id: Option<u64>) {
    out.push(b'{');
    if let Some(id) = id {
        let _ = write!(out, r#""id":{id},"status":"created","#);
    }
    let _ = write!(
        out,
        r#""customer_id":{},"items":["#,
        rng.below(USER_ID_SPACE)
    );
    let items = rng.range(1, MAX_ORDER_ITEMS);
    for i in 0..items {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(
            out,
            r#"{{"product_id":{},"quantity":{},"unit_price":{}.{:02}}}"#,
            rng.below(PRODUCT_PAGES * 1000),
            rng.range(1, 5),
            rng.range(1, 999),
            rng.below(100)
        );
    }
    let _ = write!(
        out,
        r#"],"shipping":{{"method":"{}","city":"{}"}},"payment":{{"method":"card","token":"tok_{}"}}}}"#,
        if rng.chance(0.5) {
            "standard"
        } else {
            "express"
        },
        rng.pick(CITIES),
        random_token(rng, 24)
    );
}

/// Writes a 404 error body.
fn not_found_json(out: &mut Vec<u8>, what: &str, id: u64) {
    let _ = write!(
        out,
        r#"{{"error":"not_found","message":"{what} {id} does not exist","code":404}}"#
    );
}

/// A random base64url string of `len` characters.
fn random_token(rng: &mut Rng, len: usize) -> String {
    (0..len).map(|_| char::from(*rng.pick(B64URL))).collect()
}

/// base64url without padding (RFC 4648 §5), as used by JWTs (RFC 7515 §2).
fn base64url(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
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

/// An IMF-fixdate (RFC 9110 §5.6.7) for a Unix time, e.g. `Tue, 14 Nov 2023 22:13:20 GMT`.
pub struct HttpDate(pub u64);

impl std::fmt::Display for HttpDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb",
        ];
        let days = self.0 / SECS_PER_DAY;
        let secs = self.0 % SECS_PER_DAY;
        // Civil-from-days (H. Hinnant), with years starting in March so leap days come last.
        let z = days as i64 - DAYS_1970_TO_2000_03_01;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let year = 2000 + yoe + era * 400 + i64::from(mp >= 10);
        write!(
            f,
            "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
            WEEKDAYS[(days % 7) as usize],
            MONTHS[mp as usize],
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}
