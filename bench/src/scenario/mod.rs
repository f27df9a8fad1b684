//! Scenario captures for the behaviours stage: abusive actors mixed into benign traffic
//! against a small shop API, with a truth file naming every actor and what it must (or
//! must not) raise. `apitap-gen-scenario` writes them; `fixtures/behaviours/` holds one.

pub mod actors;
pub mod wire;
pub mod world;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use crate::error::GenError;
use crate::output::PacketSink;
use crate::rng::Rng;
use actors::{cast, Actor, BENIGN_USERS, DURATION_S};
use wire::{Conn, Wire};
use world::{Body, Call, World};

/// Capture start: 2023-11-14T22:13:20Z, fixed so output does not depend on the clock.
pub const CAPTURE_START_US: u64 = 1_700_000_000_000_000;
/// A keep-alive connection idle this long is closed and a new one opened, µs (below the
/// sensor's 5-minute flow timeout).
const IDLE_CLOSE_US: u64 = 60_000_000;
/// The API server.
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1));
/// The user whose 45 orders the "opens each own order" hard negative opens.
const MANY_ORDERS_USER: u64 = 173;
/// Users with orders before the capture.
const USERS_WITH_ORDERS: u64 = BENIGN_USERS + 60;

/// The truth file.
#[derive(Debug, Serialize)]
pub struct Truth {
    /// Format version.
    pub schema_version: u32,
    /// Generator seed.
    pub seed: u64,
    /// Capture length, s.
    pub duration_s: u64,
    /// Transactions in the capture.
    pub requests: usize,
    /// Every actor.
    pub actors: Vec<Actor>,
}

/// HTTP reason phrases of the statuses the world answers.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Unprocessable Content",
    }
}

/// The request bytes of `call` from an actor with User-Agent `ua`.
fn request(call: &Call, ua: &str) -> Vec<u8> {
    let mut r = format!(
        "{} {} HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: {ua}\r\nAccept: application/json\r\n",
        call.method, call.path
    );
    if let Some(t) = &call.token {
        let _ = write!(r, "Authorization: Bearer {t}\r\n");
    }
    let body = match &call.body {
        Some(Body::Json(b)) => Some(("application/json", b)),
        Some(Body::Form(b)) => Some(("application/x-www-form-urlencoded", b)),
        None => None,
    };
    if let Some((ct, b)) = body {
        let _ = write!(
            r,
            "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        );
    } else {
        r.push_str("\r\n");
    }
    r.into_bytes()
}

/// The response bytes.
fn response(status: u16, headers: &[(String, String)], body: &str) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(r, "{k}: {v}\r\n");
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

/// Generate the scenario: its frames into `sink`, its truth returned.
pub fn generate<S: PacketSink>(seed: u64, sink: &mut S) -> Result<Truth, GenError> {
    let mut rng = Rng::new(seed);
    let orders: Vec<(u64, Vec<u64>)> = (1..=USERS_WITH_ORDERS)
        .map(|u| {
            let n = if u == MANY_ORDERS_USER {
                45
            } else {
                rng.range(1, 6)
            };
            (u, (0..n).map(|_| rng.range(1_000, 15_000)).collect())
        })
        .collect();
    let mut world = World::new(&orders);
    let actors = {
        let w = &world;
        cast(&mut rng, &|u| w.orders_of(u))
    };
    let mut calls: Vec<(u64, usize, usize)> = actors
        .iter()
        .enumerate()
        .flat_map(|(a, actor)| {
            actor
                .calls
                .iter()
                .enumerate()
                .map(move |(i, c)| (c.at_us, a, i))
        })
        .collect();
    calls.sort_unstable();
    let mut wire = Wire::default();
    let mut conns: HashMap<(usize, usize), Conn> = HashMap::new();
    let mut ports: HashMap<IpAddr, u16> = HashMap::new();
    for &(at_us, a, i) in &calls {
        let actor = &actors[a];
        let call = &actor.calls[i];
        let ts = CAPTURE_START_US + at_us;
        let ip = actor.client_ips[call.client % actor.client_ips.len()];
        let key = (a, call.client);
        if let Some(old) = conns.remove(&key) {
            if ts.saturating_sub(old.last_us) > IDLE_CLOSE_US {
                let closed_at = old.last_us + 1_000_000;
                wire.close(old, closed_at)?;
            } else {
                conns.insert(key, old);
            }
        }
        let c = match conns.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let port = ports.entry(ip).or_insert(32_768);
                *port = port.wrapping_add(1).max(32_768);
                let isn = rng.next_u32();
                e.insert(wire.open(ts.saturating_sub(1_000), ip, *port, SERVER, isn)?)
            }
        };
        let (status, headers, body) = world.answer(call);
        let req = request(call, &actor.user_agent);
        let resp = response(status, &headers, &body);
        wire.exchange(c, ts, &req, &resp)?;
    }
    let mut open: Vec<((usize, usize), Conn)> = conns.into_iter().collect();
    open.sort_by_key(|(k, _)| *k);
    for (_, c) in open {
        let at = c.last_us + 1_000_000;
        wire.close(c, at)?;
    }
    for f in wire.sorted() {
        sink.write_frame(f.ts_us, &f.bytes)?;
    }
    Ok(Truth {
        schema_version: 1,
        seed,
        duration_s: DURATION_S,
        requests: calls.len(),
        actors,
    })
}

/// Write the truth as pretty JSON.
pub fn write_truth(truth: &Truth, out: &mut impl Write) -> Result<(), GenError> {
    serde_json::to_writer_pretty(&mut *out, truth).map_err(|e| GenError::Truth(e.to_string()))?;
    out.write_all(b"\n")
        .map_err(|e| GenError::Truth(e.to_string()))
}
