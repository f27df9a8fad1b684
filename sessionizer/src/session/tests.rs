//! Sessionizer tests: keys and precedence, linking, hashing, JWT verification, context
//! parameters, bodies, endpoints, lifecycle and bounds. Transactions come from [`TxB`].

// Tests read best as "defaults, then change one field".
#![allow(clippy::field_reassign_with_default)]

use std::io::Write;
use std::net::SocketAddr;

use apitap_reassembly::ConnId;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;

use super::config::*;
use super::*;
use crate::http::{Request, Response, Transaction};
use crate::record::{HttpRecord, Redactor};

/// Test RSA key pair (2048 bits, generated for these tests only).
const RSA_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDwdmV34THAEne/\n\
Zf0Npf+ZFGy6KWljISrJxQQRaOig4iXob0vKxdh+Rva7Qr2aKoHWunKAqUWOHjo8\n\
HbpQGgWuYojCW6yn+Vf+GqCgxtT5gARbSusqAsp8ObLw/RlcL+ukam8rL3ir5Z9P\n\
JovzHX06xTkS8vZcI25kMIZJZ4tC4jpC1wb636Y915T08clrxhcQB0CxKrbmw/2A\n\
YVcQPu+Yh4W815uejavYZCJHIMVPBATyr2GMlh08vr1sz0XYjQBeZsDkZDnL1+Ho\n\
OLRjJJkFQAyDrze/afRC4T1CvMzo+n2a+d0SVbqg+cUk1YNc/S14QFJlQ59R5qaI\n\
6b1ZpeznAgMBAAECggEAC1DhtVDaOboPbT5MOKWmaNcDHKK/X+KJW0dskM6CSHt7\n\
/lDGgKYH+HapyuX5CRzOUWbp5aU8SilLjdVZo8ZCKtnscW9FcKjce8SszHXn0WvD\n\
ng39vDbwTD3W4EGABJOW9WBdUHmCbXqwvY56RYoOgPS+YhEf3UtEOTU8RXJ/3jlA\n\
94Gswu33neVfhpdlVODXzVnSydoYnoIut/tHFG3puCFwwFIK4xTl687Nk3ETatCP\n\
qDnC3qusQ6RBAiFycSsAif82j507xu7TFw+cWAw6YP8s/CZ2NPDWATm1lEUrK5tT\n\
8Z1hAtd9D+2VLpLNWQuLdnH58Jo2PHs+1xY5tnxMsQKBgQD7lRMewGfsFrXLTHHx\n\
tqUUUYBT6YDa20BcH7LBDJY4FNE5XgxxZuJEV0ptPBe//NdPSjYUgGDBUl0EQcPu\n\
kqIMCgL6FiAKoOCj9gD6PGUVCdVXAZDuVF6bbzM9wj32vu0mPzDKfh7Pe8BOTFuj\n\
8JAKs2V8Myv74jyawHpG4c+BrwKBgQD0r1XRnndntiShWQz1mDp0nynTnoCHjyQz\n\
XM8EkNperQkvYlV5BE5+GzqOExHSaROvg9CiRw01PHyxROLOCmljRaBCmb/xB1DB\n\
7RZAVgOcFNEYC9yzZuZSUdOY+12K0DnQgY3YtJUS6FrqcRH7u2kxP+9TYEuyVpMq\n\
PK9BeDuuSQKBgHLEofFQYtgv0AULPZu/73TibUFab17n0Gd2SmyI2mqBDKU4A0Mk\n\
ZSo6DAji9g6uQGa6ewtFOV5XvXk4qzJFkEkftBX0S++tTm1dxzpgnNhJIRrM6xne\n\
QT51LxIIb44FsVfWUeK+QD30vVi6ur+B+aP4DN7o1TLWFUGfduipEKmfAoGAZRMI\n\
oE6VhIH5H61pbQo1G3ekD4aqEVVP3ue3nGs5yWIxKSG1rQfaZL1astWtxv0g5J/O\n\
zzoKerNBzvhluDcU0a0xRlG8uBQNiA4n4uulEhSHSyebQ4B+JAMpJUiwm2boevkJ\n\
Xzs5WVYiODX897+y9GU0t3xPyJt6rzfiLWk9PgECgYBMevBr1/iqiUCy8LA6cW+N\n\
Wfl2Lb/SXRybhZmETAXkBYRahXyyHVhIKQWBv627+2Z2BL2YRnaHWqY1eYC4YUGg\n\
0S4AUisxcb3b+3j/xA0Qwk3h55CzcncOlFG1cuZbKbgWe1gUrPMPkHGgbSzElxAW\n\
gsaEqv3MT0JWK1/boKHxlg==\n\
-----END PRIVATE KEY-----";
/// Public half of [`RSA_PRIVATE_PEM`].
const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA8HZld+ExwBJ3v2X9DaX/\n\
mRRsuilpYyEqycUEEWjooOIl6G9LysXYfkb2u0K9miqB1rpygKlFjh46PB26UBoF\n\
rmKIwlusp/lX/hqgoMbU+YAEW0rrKgLKfDmy8P0ZXC/rpGpvKy94q+WfTyaL8x19\n\
OsU5EvL2XCNuZDCGSWeLQuI6QtcG+t+mPdeU9PHJa8YXEAdAsSq25sP9gGFXED7v\n\
mIeFvNebno2r2GQiRyDFTwQE8q9hjJYdPL69bM9F2I0AXmbA5GQ5y9fh6Di0YySZ\n\
BUAMg683v2n0QuE9QrzM6Pp9mvndElW6oPnFJNWDXP0teEBSZUOfUeamiOm9WaXs\n\
5wIDAQAB\n\
-----END PUBLIC KEY-----";
/// Test P-256 key pair (PKCS#8, generated for these tests only).
const EC_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZIbFQhXSKG27tqIY\n\
iWKKXKo/r3JYq7M11cD7ees1tV+hRANCAATV7hXzp/CZ38vz/boekqeaz5fitnUF\n\
P5JLXbKiUP/+KZZNCr6dxp5sjI1MKgN5JTzZEesKKjaCoTUQC96pbGy5\n\
-----END PRIVATE KEY-----";
/// Public half of [`EC_PRIVATE_PEM`].
const EC_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1e4V86fwmd/L8/26HpKnms+X4rZ1\n\
BT+SS12yolD//imWTQq+ncaebIyNTCoDeSU82RHrCio2gqE1EAveqWxsuQ==\n\
-----END PUBLIC KEY-----";

/// The secret of most tests.
const SECRET: &[u8] = b"test-secret-0123456789";

/// One second of packet time in µs.
const SEC: u64 = 1_000_000;

/// Builds a transaction.
#[derive(Clone)]
struct TxB(Transaction);

/// A `GET path` from 192.0.2.10 at t = 1000 s, connection 1, depth 1, with a 200 response.
fn tx(path: &str) -> TxB {
    TxB(Transaction {
        conn: ConnId(1),
        depth: 1,
        zone: 0,
        client: "192.0.2.10:40000".parse().unwrap(),
        server: "198.51.100.1:80".parse().unwrap(),
        request: Some(Request {
            method: "GET".into(),
            uri: path.into(),
            version_minor: 1,
            ts_us: 1000 * SEC,
            end_ts_us: 1000 * SEC + 10,
            ..Request::default()
        }),
        response: Some(Response {
            status: 200,
            reason: "OK".into(),
            version_minor: 1,
            ts_us: 1000 * SEC + 100,
            end_ts_us: 1000 * SEC + 200,
            ..Response::default()
        }),
        anomalies: Vec::new(),
        tcp_anomalies: Vec::new(),
        switched: None,
        http2: None,
        connect_authority: None,
        decrypted: false,
        gate: crate::http::GateVerdict::NotAsked,
    })
}

impl TxB {
    fn id(mut self, conn: u64, depth: u32) -> Self {
        self.0.conn = ConnId(conn);
        self.0.depth = depth;
        self
    }
    fn method(mut self, m: &str) -> Self {
        self.req().method = m.into();
        self
    }
    fn client(mut self, addr: &str) -> Self {
        self.0.client = format!("{addr}:40000").parse::<SocketAddr>().unwrap();
        self
    }
    fn at(mut self, t_us: u64) -> Self {
        let r = self.req();
        r.ts_us = t_us;
        r.end_ts_us = t_us + 10;
        if let Some(p) = self.0.response.as_mut() {
            p.ts_us = t_us + 100;
            p.end_ts_us = t_us + 200;
        }
        self
    }
    fn h(mut self, n: &str, v: &str) -> Self {
        self.req().headers.push(n, v);
        self
    }
    fn ua(self, v: &str) -> Self {
        self.h("User-Agent", v)
    }
    fn cookie(self, v: &str) -> Self {
        self.h("Cookie", v)
    }
    fn bearer(self, t: &str) -> Self {
        self.h("Authorization", &format!("Bearer {t}"))
    }
    fn body(mut self, ct: &str, b: &[u8]) -> Self {
        let r = self.req();
        r.headers.push("Content-Type", ct);
        r.body = b.to_vec();
        r.body_bytes = b.len() as u64;
        self
    }
    fn status(mut self, s: u16) -> Self {
        self.resp().status = s;
        self
    }
    fn rh(mut self, n: &str, v: &str) -> Self {
        self.resp().headers.push(n, v);
        self
    }
    fn rbody(mut self, ct: &str, b: &[u8]) -> Self {
        let r = self.resp();
        r.headers.push("Content-Type", ct);
        r.body = b.to_vec();
        r.body_bytes = b.len() as u64;
        self
    }
    fn no_response(mut self) -> Self {
        self.0.response = None;
        self
    }
    fn req(&mut self) -> &mut Request {
        self.0.request.as_mut().unwrap()
    }
    fn resp(&mut self) -> &mut Response {
        self.0.response.as_mut().unwrap()
    }
    fn b(self) -> Transaction {
        self.0
    }
}

/// A sessionizer with `cfg` and [`SECRET`].
fn sz(cfg: &SessionConfig) -> Sessionizer {
    Sessionizer::new(cfg, Secret::new(SECRET.to_vec())).unwrap()
}

/// A config whose key list is `keys`.
fn with_keys(keys: Vec<KeySpec>) -> SessionConfig {
    SessionConfig {
        keys,
        ..SessionConfig::default()
    }
}

/// Observe at the transaction's own time; return its session and the records it caused.
fn obs(s: &mut Sessionizer, t: &Transaction) -> (TxSession, Vec<SessionRecord>) {
    let mut out = Vec::new();
    let ts = s.observe(t.ts_us(), t, &mut out);
    (ts, out)
}

/// The key source label of a transaction.
fn source(s: &mut Sessionizer, t: TxB) -> String {
    obs(s, &t.b())
        .0
        .key_source
        .map(|k| k.to_string())
        .unwrap_or_default()
}

/// An HS256 JWT with `claims` signed with `secret`.
fn hs256(claims: serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// Both records of a transaction, serialized.
fn http_json(t: &Transaction, ts: &TxSession) -> String {
    let red = Redactor::default_rules();
    serde_json::to_string(
        &HttpRecord {
            tx: t,
            redactor: &red,
            tunnel: None,
            attacks: None,
            api: None,
            sensor_id: None,
        }
        .with_session(ts),
    )
    .unwrap()
}

#[test]
fn default_key_precedence_and_fallbacks() {
    let mut s = sz(&SessionConfig::default());
    let jwt = hs256(serde_json::json!({"sub": "alice"}), b"k");
    let full = tx("/a")
        .bearer(&jwt)
        .cookie("PHPSESSID=p1")
        .h("X-API-Key", "k1")
        .ua("curl/8");
    assert_eq!(source(&mut s, full), "jwt:sub");
    assert_eq!(
        source(
            &mut s,
            tx("/a").bearer("opaque-token-1").cookie("PHPSESSID=p1")
        ),
        "bearer"
    );
    // A JWT without `sub` falls through to the opaque bearer key.
    assert_eq!(
        source(
            &mut s,
            tx("/a").bearer(&hs256(serde_json::json!({"x": 1}), b"k"))
        ),
        "bearer"
    );
    assert_eq!(
        source(
            &mut s,
            tx("/a")
                .cookie("theme=dark; JSESSIONID=j1")
                .h("X-API-Key", "k1")
        ),
        "cookie:JSESSIONID"
    );
    assert_eq!(
        source(&mut s, tx("/a").cookie("connect.sid=s%3Aabc")),
        "cookie:connect.sid"
    );
    assert_eq!(
        source(&mut s, tx("/a").h("x-api-key", "k1").ua("curl/8")),
        "header:x-api-key"
    );
    assert_eq!(source(&mut s, tx("/a").ua("curl/8")), "fallback:ip+ua");
    assert_eq!(source(&mut s, tx("/a")), "fallback:ip");
    // Without a request only the client IP is known.
    assert_eq!(
        source(&mut s, tx("/a").ua("x").cookie("sid=1")),
        "cookie:sid"
    );
    let mut t = tx("/a").b();
    t.request = None;
    let (ts, _) = obs(&mut s, &t);
    assert_eq!(
        (ts.key_source.as_deref(), ts.endpoint),
        (Some("fallback:ip"), None)
    );
    assert_eq!(s.stats().keys.first().map(|k| k.1), Some(1));
}

#[test]
fn every_key_source() {
    let jwt = hs256(
        serde_json::json!({"sub": "alice", "sid": "S-1", "jti": 77, "user": {"id": "u9"}}),
        b"k",
    );
    let cases: Vec<(KeySpec, TxB, &str)> = vec![
        (
            KeySpec::named(KeySource::Cookie, "sid"),
            tx("/").cookie("a=1; sid=xyz"),
            "cookie:sid",
        ),
        (
            KeySpec::named(KeySource::Header, "X-Session"),
            tx("/").h("x-session", "s1"),
            "header:x-session",
        ),
        (KeySpec::jwt("sid"), tx("/").bearer(&jwt), "jwt:sid"),
        (KeySpec::jwt("jti"), tx("/").bearer(&jwt), "jwt:jti"),
        (
            KeySpec::jwt("/user/id"),
            tx("/").bearer(&jwt),
            "jwt:/user/id",
        ),
        (
            KeySpec {
                token_in: Some(TokenLocation::Cookie("access".into())),
                ..KeySpec::jwt("sub")
            },
            tx("/").cookie(&format!("access={jwt}")),
            "jwt:sub@cookie:access",
        ),
        (
            KeySpec {
                token_in: Some(TokenLocation::Header("X-Token".into())),
                ..KeySpec::jwt("sub")
            },
            tx("/").h("X-Token", &jwt),
            "jwt:sub@header:x-token",
        ),
        (
            KeySpec::of(KeySource::Bearer),
            tx("/").bearer("opaque"),
            "bearer",
        ),
        (
            KeySpec::named(KeySource::Query, "api_key"),
            tx("/x?a=1&api_key=k%201"),
            "query:api_key",
        ),
        (
            KeySpec::named(KeySource::Form, "session"),
            tx("/")
                .method("POST")
                .body("application/x-www-form-urlencoded", b"a=1&session=f1"),
            "form:session",
        ),
        (
            KeySpec::named(KeySource::Form, "session"),
            tx("/").method("POST").body(
                "multipart/form-data; boundary=B",
                b"--B\r\nContent-Disposition: form-data; name=\"session\"\r\n\r\nm1\r\n--B--\r\n",
            ),
            "form:session",
        ),
        (
            KeySpec::pointer(KeySource::Json, "/auth/session"),
            tx("/")
                .method("POST")
                .body("application/json", br#"{"auth":{"session":"j1"}}"#),
            "json:/auth/session",
        ),
        (
            KeySpec::of(KeySource::FallbackIpUa),
            tx("/").ua("ua"),
            "fallback:ip+ua",
        ),
        (KeySpec::of(KeySource::FallbackIp), tx("/"), "fallback:ip"),
    ];
    for (key, t, want) in cases {
        let mut s = sz(&with_keys(vec![
            key.clone(),
            KeySpec::named(KeySource::Cookie, "never"),
        ]));
        assert_eq!(source(&mut s, t), want, "{key:?}");
    }
    // Absent everywhere: no session.
    let mut s = sz(&with_keys(vec![KeySpec::named(KeySource::Cookie, "sid")]));
    let (ts, out) = obs(&mut s, &tx("/").b());
    assert_eq!((ts.session_id, ts.key_source, out.len()), (None, None, 0));
    assert_eq!(s.stats().transactions_without_key, 1);
}

#[test]
fn same_value_same_session_other_value_other_session() {
    let mut s = sz(&SessionConfig::default());
    let a1 = obs(&mut s, &tx("/1").cookie("sid=a").b()).0.session_id;
    let a2 = obs(&mut s, &tx("/2").cookie("sid=a").id(2, 1).b())
        .0
        .session_id;
    let b = obs(&mut s, &tx("/3").cookie("sid=b").b()).0.session_id;
    // The same value under another key is another session (the source is hashed too).
    let c = obs(&mut s, &tx("/4").cookie("session=a").b()).0.session_id;
    assert_eq!(a1, a2);
    assert_ne!(a1, b);
    assert_ne!(a1, c);
    assert_eq!(s.active_sessions(), 3);
}

/// A mixed workload, for determinism tests.
fn workload() -> Vec<Transaction> {
    let jwt = hs256(serde_json::json!({"sub": "bob"}), b"k");
    vec![
        tx("/login")
            .method("POST")
            .ua("Mozilla")
            .rh("Set-Cookie", "PHPSESSID=s3cr3t; Path=/")
            .id(1, 1)
            .b(),
        tx("/api/v1/users/42")
            .cookie("PHPSESSID=s3cr3t")
            .ua("Mozilla")
            .id(1, 2)
            .at(1001 * SEC)
            .b(),
        tx("/api/v1/orders/7")
            .bearer(&jwt)
            .id(2, 1)
            .at(1002 * SEC)
            .b(),
        tx("/x").client("203.0.113.5").id(3, 1).at(1003 * SEC).b(),
    ]
}

/// All records of a run of `txs`, as JSON lines.
fn run(secret: &[u8], txs: &[Transaction]) -> String {
    let mut s = Sessionizer::new(&SessionConfig::default(), Secret::new(secret.to_vec())).unwrap();
    let mut lines = Vec::new();
    let mut out = Vec::new();
    for t in txs {
        let ts = s.observe(t.ts_us(), t, &mut out);
        lines.push(http_json(t, &ts));
    }
    s.flush(2000 * SEC, EndReason::EndOfInput, &mut out);
    lines.extend(out.iter().map(|r| serde_json::to_string(r).unwrap()));
    lines.join("\n")
}

/// Session facts read by an extractor taken from the sessionizer (as each worker of the
/// sharded pipeline does), with the pipeline's prefetch hints, give exactly what `observe`
/// gives: the same http record fields, the same session records and the same counters, for
/// server-set bindings, login tokens, JWT verification and keyless transactions alike.
#[test]
fn facts_read_elsewhere_give_the_same_sessions() {
    let good = hs256(serde_json::json!({"sub": "alice"}), b"jwt-secret");
    let bad = hs256(serde_json::json!({"sub": "alice"}), b"wrong-secret");
    let mut txs = workload();
    txs.extend([
        tx("/").cookie("tok=v1").id(9, 1).at(1004 * SEC).b(),
        tx("/login")
            .client("192.0.2.99")
            .rh("Set-Cookie", "tok=v1; Secure")
            .id(9, 2)
            .at(1005 * SEC)
            .b(),
        tx("/").cookie("tok=v1").id(9, 3).at(1006 * SEC).b(),
        tx("/signin")
            .method("POST")
            .rbody("application/json", br#"{"data":{"sess":"t-1"}}"#)
            .id(10, 1)
            .at(1007 * SEC)
            .b(),
        tx("/api/x")
            .h("X-Session", "t-1")
            .id(10, 2)
            .at(1008 * SEC)
            .b(),
        tx("/a").bearer(&good).id(11, 1).at(1009 * SEC).b(),
        tx("/a").bearer(&bad).id(11, 2).at(1010 * SEC).b(),
        tx("/a").bearer(&good).id(11, 3).at(1011 * SEC).b(),
        tx("/b").id(12, 1).at(1012 * SEC).no_response().b(),
    ]);
    let login_token = KeySpec {
        token_in: Some(TokenLocation::Header("X-Session".into())),
        ..KeySpec::pointer(KeySource::LoginToken, "/data/sess")
    };
    let configs = [
        SessionConfig::default(),
        with_keys(vec![
            KeySpec::named(KeySource::SetCookie, "tok"),
            login_token.clone(),
            KeySpec::of(KeySource::FallbackIp),
        ]),
        // No fallback: some transactions have no key at all.
        with_keys(vec![
            login_token,
            KeySpec::named(KeySource::SetCookie, "tok"),
        ]),
        verifying(JwtAlgorithm::HS256, Some("jwt-secret"), None),
    ];
    let (mut records, mut keyless, mut verified, mut linked) = (0, 0, 0, 0);
    for cfg in &configs {
        let mut here = sz(cfg);
        let mut elsewhere = sz(cfg);
        let mut reader = elsewhere.extractor();
        let (mut out_here, mut out_elsewhere) = (Vec::new(), Vec::new());
        // The pipeline's path: facts read a batch at a time (bearer tokens and claims read
        // ahead), session state prefetched before each is observed.
        let refs: Vec<&Transaction> = txs.iter().collect();
        let mut batch = Vec::new();
        reader.facts_batch(&refs, &mut batch);
        assert_eq!(batch.len(), txs.len());
        for (t, facts) in txs.iter().zip(&mut batch) {
            let a = here.observe(t.ts_us(), t, &mut out_here);
            let mut hint = SessionHint::default();
            elsewhere.prefetch(std::iter::once((&*facts, &mut hint)));
            let b = elsewhere.observe_facts(t.ts_us(), t, facts, hint, &mut out_elsewhere);
            if let Some(sum) = elsewhere.state_mut(&b) {
                sum.count_anomalies(b.anomaly_names(t));
            }
            elsewhere.commit(&b, &mut out_elsewhere);
            assert_eq!(a, b, "{:?}", t.request.as_ref().map(|r| &r.uri));
        }
        here.flush(2000 * SEC, EndReason::EndOfInput, &mut out_here);
        elsewhere.flush(2000 * SEC, EndReason::EndOfInput, &mut out_elsewhere);
        assert_eq!(out_here, out_elsewhere);
        assert_eq!(here.stats(), elsewhere.stats());
        records += out_here.len();
        keyless += here.stats().transactions_without_key;
        verified += here.stats().jwt_verify_failed;
        linked += here.stats().sessions_linked;
    }
    // The cases above were all exercised.
    assert!(records > 0 && keyless > 0 && verified > 0 && linked > 0);
}

/// A spec's template renames the endpoint; the same name leaves it as it was.
#[test]
fn a_spec_template_renames_the_endpoint() {
    let s = sz(&SessionConfig::default());
    let t = tx("/api/v1/users/42").b();
    let mut facts = s.extractor().facts(&t);
    assert_eq!(facts.endpoint(), Some("GET /api/v1/users/{id}"));
    facts.set_endpoint("GET", "/api/v1/users/{id}");
    assert_eq!(facts.endpoint(), Some("GET /api/v1/users/{id}"));
    facts.set_endpoint("GET", "/api/v1/users/{userId}");
    assert_eq!(facts.endpoint(), Some("GET /api/v1/users/{userId}"));
    facts.set_endpoint("GE", "T /api/v1/users/{userId}");
    assert_eq!(facts.endpoint(), Some("GE T /api/v1/users/{userId}"));
}

/// Facts read with another config's extractor may name a key this sessionizer lacks: no
/// panic, no session.
#[test]
fn facts_of_another_config_never_panic() {
    let mut many = sz(&SessionConfig::default());
    let mut one = sz(&with_keys(vec![KeySpec::of(KeySource::FallbackIp)]));
    let t = tx("/").cookie("PHPSESSID=abc").b();
    let mut facts = many.extractor().facts(&t);
    let ts = one.observe_facts(
        t.ts_us(),
        &t,
        &mut facts,
        SessionHint::default(),
        &mut Vec::new(),
    );
    assert_eq!(ts.session_id, None);
    assert_eq!(
        many.observe(t.ts_us(), &t, &mut Vec::new())
            .key_source
            .as_deref(),
        Some("cookie:PHPSESSID")
    );
}

#[test]
fn hashing_is_deterministic_and_keyed() {
    let txs = workload();
    let a = run(SECRET, &txs);
    assert_eq!(
        a,
        run(SECRET, &txs),
        "same input and secret: identical bytes"
    );
    let b = run(b"another-secret-0123456789", &txs);
    assert_ne!(a, b);
    let id = |out: &str| out.split("\"session_id\":\"").nth(1).unwrap()[..32].to_string();
    assert_ne!(id(&a), id(&b));
    // Raw cookies, tokens and the secret never leave.
    for raw in ["s3cr3t", "test-secret", "another-secret", "eyJ"] {
        assert!(!a.contains(raw) && !b.contains(raw), "{raw} leaked");
    }
}

#[test]
fn set_cookie_links_anonymous_session_to_the_authenticated_one() {
    let mut s = sz(&SessionConfig::default());
    let (anon, out) = obs(
        &mut s,
        &tx("/login")
            .method("POST")
            .ua("Mozilla")
            .rh("Set-Cookie", "PHPSESSID=fresh; HttpOnly")
            .b(),
    );
    assert_eq!(anon.key_source.as_deref(), Some("fallback:ip+ua"));
    assert!(out[0].anonymous);
    let (auth, out) = obs(
        &mut s,
        &tx("/home")
            .ua("Mozilla")
            .cookie("PHPSESSID=fresh")
            .id(1, 2)
            .b(),
    );
    assert_eq!(auth.key_source.as_deref(), Some("cookie:PHPSESSID"));
    assert_ne!(auth.session_id, anon.session_id);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].phase, out[0].linked_from, out[0].anonymous),
        (Phase::Start, anon.session_id, false)
    );
    assert_eq!(
        (s.stats().bindings_added, s.stats().sessions_linked),
        (1, 1)
    );
    // A cookie the server never set is not linked.
    let (_, out) = obs(&mut s, &tx("/").cookie("PHPSESSID=forged").b());
    assert_eq!(out[0].linked_from, None);
}

/// With the default config the user comes from the bearer JWT's `sub`, and from the
/// username a successful login posts, carried on to the session the login opens; a failed
/// login names no user but its username is kept for the behaviours.
#[test]
fn users_by_default_from_jwt_sub_and_login_forms() {
    let mut s = sz(&SessionConfig::default());
    let jwt = hs256(serde_json::json!({"sub": "user-7"}), b"k");
    let (ts, _) = obs(&mut s, &tx("/api/me").bearer(&jwt).b());
    assert_eq!(ts.user.as_deref(), Some("user-7"));
    let form = "application/x-www-form-urlencoded";
    let (failed, _) = obs(
        &mut s,
        &tx("/login")
            .method("POST")
            .ua("Mozilla")
            .body(form, b"email=eve%40example.com&password=x")
            .status(401)
            .id(2, 1)
            .b(),
    );
    assert_eq!(failed.user, None, "a failed login names nobody");
    assert_eq!(failed.login_user.as_deref(), Some("eve@example.com"));
    let (login, _) = obs(
        &mut s,
        &tx("/login")
            .method("POST")
            .ua("Mozilla")
            .body(form, b"username=alice&password=x")
            .rh("Set-Cookie", "PHPSESSID=s1; HttpOnly")
            .id(2, 2)
            .b(),
    );
    assert_eq!(login.user.as_deref(), Some("alice"));
    let json = obs(
        &mut s,
        &tx("/api/v1/auth/token")
            .method("POST")
            .body("application/json", br#"{"login":"bob","password":"x"}"#)
            .id(3, 1)
            .b(),
    );
    assert_eq!(json.0.user.as_deref(), Some("bob"));
    // Not a login: a form posted elsewhere names nobody.
    let (other, _) = obs(
        &mut s,
        &tx("/profile")
            .method("POST")
            .body(form, b"user=mallory")
            .id(4, 1)
            .b(),
    );
    assert_eq!((other.user, other.login_user), (None, None));
    // The session the login opens carries its user from the start.
    let (_, out) = obs(
        &mut s,
        &tx("/home")
            .ua("Mozilla")
            .cookie("PHPSESSID=s1")
            .id(2, 3)
            .b(),
    );
    assert_eq!(out[0].linked_from, login.session_id);
    assert_eq!(out[0].summary.user.as_deref(), Some("alice"));
}

/// `[session.user]`: hashed with `mode = "hash"`, off with `enabled = false`.
#[test]
fn default_user_modes() {
    let jwt = hs256(serde_json::json!({"sub": "user-7"}), b"k");
    let mut cfg = SessionConfig::default();
    cfg.user.mode = ParamMode::Hash;
    let mut s = sz(&cfg);
    let user = obs(&mut s, &tx("/api/me").bearer(&jwt).b()).0.user.unwrap();
    assert_eq!(user.len(), 32);
    assert_ne!(user, "user-7");
    let again = obs(&mut s, &tx("/api/me").bearer(&jwt).id(1, 2).b()).0.user;
    assert_eq!(
        again.as_deref(),
        Some(user.as_str()),
        "the same hash every time"
    );
    cfg.user.enabled = false;
    let mut s = sz(&cfg);
    assert_eq!(obs(&mut s, &tx("/api/me").bearer(&jwt).b()).0.user, None);
    // Off, login usernames are still read (for the behaviours), and name nobody.
    let login = tx("/login")
        .method("POST")
        .body(
            "application/x-www-form-urlencoded",
            b"username=alice&password=x",
        )
        .id(2, 1)
        .b();
    let (ts, _) = obs(&mut s, &login);
    assert_eq!(ts.user, None);
    let posted = ts.login_user.expect("the username is read");
    assert!(posted.len() == 32 && posted != "alice", "hashed: {posted}");
    cfg.user.enabled = true;
    cfg.user.mode = ParamMode::Drop;
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .contains("user.mode"));
}

#[test]
fn login_json_token_links_and_binds() {
    let mut s = sz(&SessionConfig::default());
    let (anon, _) = obs(
        &mut s,
        &tx("/api/auth/login")
            .method("POST")
            .ua("app/1")
            .rbody(
                "application/json",
                br#"{"access_token":"opaque-777","expires_in":3600}"#,
            )
            .b(),
    );
    let (auth, out) = obs(&mut s, &tx("/api/me").ua("app/1").bearer("opaque-777").b());
    assert_eq!(auth.key_source.as_deref(), Some("bearer"));
    assert_eq!(out[0].linked_from, anon.session_id);
    // Not a login path: not parsed, not bound.
    let (_, _) = obs(
        &mut s,
        &tx("/api/data")
            .rbody("application/json", br#"{"access_token":"other-1"}"#)
            .b(),
    );
    let (_, out) = obs(&mut s, &tx("/api/me").bearer("other-1").b());
    assert_eq!(out[0].linked_from, None);

    // `login_token` key: the token is a key only once the server issued it.
    let key = KeySpec {
        token_in: Some(TokenLocation::Header("X-Session".into())),
        ..KeySpec::pointer(KeySource::LoginToken, "/data/sess")
    };
    let mut s = sz(&with_keys(vec![key, KeySpec::of(KeySource::FallbackIp)]));
    assert_eq!(
        source(&mut s, tx("/api/x").h("X-Session", "t-1")),
        "fallback:ip"
    );
    let (login, _) = obs(
        &mut s,
        &tx("/signin")
            .method("POST")
            .rbody("application/json", br#"{"data":{"sess":"t-1"}}"#)
            .b(),
    );
    let (ts, out) = obs(&mut s, &tx("/api/x").h("X-Session", "t-1").b());
    assert_eq!(ts.key_source.as_deref(), Some("login_token:/data/sess"));
    assert_eq!(out[0].linked_from, login.session_id);
}

/// A login response that returns a JWT links the session its bearer opens (keyed by the
/// token's `sub`) to the login's, each time a session opens on that token: the carrier's hash
/// is remembered with the token's cached claims, and must be the hash the login bound.
#[test]
fn login_jwt_links_each_session_it_opens() {
    let tok = hs256(serde_json::json!({"sub": "u-9"}), b"k");
    let mut s = sz(&timed());
    let body = format!(r#"{{"access_token":"{tok}"}}"#);
    let (login, _) = obs(
        &mut s,
        &tx("/api/login")
            .method("POST")
            .ua("app/2")
            .rbody("application/json", body.as_bytes())
            .b(),
    );
    let (first, out) = obs(&mut s, &tx("/api/me").bearer(&tok).id(1, 1).b());
    assert_eq!(first.key_source.as_deref(), Some("jwt:sub"));
    assert_eq!(out[0].linked_from, login.session_id);
    // Idle, then the same token again (claims now cached): a new session, linked again.
    let later = tx("/api/me").bearer(&tok).id(2, 1).at(10_000_000_000).b();
    let (_, out) = obs(&mut s, &later);
    assert!(out
        .iter()
        .any(|r| r.phase == Phase::End && r.reason == Some(EndReason::Idle)));
    let start = out.iter().find(|r| r.phase == Phase::Start).unwrap();
    assert_eq!(start.linked_from, login.session_id);
}

#[test]
fn set_cookie_key_needs_a_server_set_value() {
    let cfg = with_keys(vec![
        KeySpec::named(KeySource::SetCookie, "tok"),
        KeySpec::of(KeySource::FallbackIp),
    ]);
    let mut s = sz(&cfg);
    assert_eq!(source(&mut s, tx("/").cookie("tok=v1")), "fallback:ip");
    let (setter, _) = obs(
        &mut s,
        &tx("/login")
            .client("192.0.2.99")
            .rh("Set-Cookie", "tok=v1; Secure")
            .b(),
    );
    let (ts, out) = obs(&mut s, &tx("/").cookie("tok=v1").b());
    assert_eq!(ts.key_source.as_deref(), Some("set_cookie:tok"));
    assert_eq!(out[0].linked_from, setter.session_id);
}

/// A config verifying JWTs.
fn verifying(alg: JwtAlgorithm, secret: Option<&str>, pem: Option<&str>) -> SessionConfig {
    SessionConfig {
        jwt: JwtConfig {
            algorithm: Some(alg),
            hs256_secret: secret.map(|s| Secret::new(s.as_bytes().to_vec())),
            public_key_pem: pem.map(str::to_string),
        },
        ..SessionConfig::default()
    }
}

#[test]
fn jwt_hs256_verification() {
    let mut s = sz(&verifying(JwtAlgorithm::HS256, Some("jwt-secret"), None));
    let good = hs256(serde_json::json!({"sub": "alice"}), b"jwt-secret");
    let bad = hs256(serde_json::json!({"sub": "alice"}), b"wrong-secret");
    let (g, _) = obs(&mut s, &tx("/").bearer(&good).b());
    let (b, _) = obs(&mut s, &tx("/").bearer(&bad).b());
    assert_eq!((g.jwt_verified, b.jwt_verified), (Some(true), Some(false)));
    assert!(b.anomalies.contains(&SessionAnomaly::JwtSignatureInvalid));
    // A forged token for the same subject never joins the verified session.
    assert_ne!(g.session_id, b.session_id);
    // Cached result, same answer.
    assert_eq!(
        obs(&mut s, &tx("/").bearer(&good).b()).0.session_id,
        g.session_id
    );
    assert_eq!(
        (s.stats().jwt_verified, s.stats().jwt_verify_failed),
        (2, 1)
    );
    // Unsigned (`alg: none`) tokens fail.
    let h = base64_url(br#"{"alg":"none"}"#);
    let c = base64_url(br#"{"sub":"alice"}"#);
    assert_eq!(
        obs(&mut s, &tx("/").bearer(&format!("{h}.{c}.")).b())
            .0
            .jwt_verified,
        Some(false)
    );
    // Without verification the flag is absent.
    let mut s = sz(&SessionConfig::default());
    assert_eq!(obs(&mut s, &tx("/").bearer(&good).b()).0.jwt_verified, None);
}

/// Base64url without padding.
fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[test]
fn jwt_rs256_and_es256_verification() {
    let claims = serde_json::json!({"sub": "carol"});
    let rs = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap(),
    )
    .unwrap();
    let es = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &claims,
        &EncodingKey::from_ec_pem(EC_PRIVATE_PEM.as_bytes()).unwrap(),
    )
    .unwrap();
    let hs = hs256(claims.clone(), RSA_PUBLIC_PEM.as_bytes());

    let mut s = sz(&verifying(JwtAlgorithm::RS256, None, Some(RSA_PUBLIC_PEM)));
    assert_eq!(
        obs(&mut s, &tx("/").bearer(&rs).b()).0.jwt_verified,
        Some(true)
    );
    assert_eq!(
        obs(&mut s, &tx("/").bearer(&es).b()).0.jwt_verified,
        Some(false)
    );
    // Algorithm confusion: HS256 signed with the public key as secret is refused.
    assert_eq!(
        obs(&mut s, &tx("/").bearer(&hs).b()).0.jwt_verified,
        Some(false)
    );
    // A tampered payload fails.
    let mut parts: Vec<String> = rs.split('.').map(str::to_string).collect();
    parts[1] = base64_url(br#"{"sub":"mallory"}"#);
    assert_eq!(
        obs(&mut s, &tx("/").bearer(&parts.join(".")).b())
            .0
            .jwt_verified,
        Some(false)
    );

    let mut s = sz(&verifying(JwtAlgorithm::ES256, None, Some(EC_PUBLIC_PEM)));
    assert_eq!(
        obs(&mut s, &tx("/").bearer(&es).b()).0.jwt_verified,
        Some(true)
    );
    assert_eq!(
        obs(&mut s, &tx("/").bearer(&rs).b()).0.jwt_verified,
        Some(false)
    );
    // A key of the wrong type is a config error.
    assert!(Sessionizer::new(
        &verifying(JwtAlgorithm::ES256, None, Some(RSA_PUBLIC_PEM)),
        Secret::new(SECRET.to_vec())
    )
    .is_err());
}

/// A parameter.
fn param(name: &str, source: ParamSource, field: &str, mode: ParamMode) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        source,
        side: ParamSide::Request,
        field: Some(field.into()),
        template: None,
        token_in: None,
        mode,
        mask_keep_chars: 4,
        mask_keep: MaskKeep::Suffix,
        role: None,
    }
}

#[test]
fn context_parameters_every_source_and_mode() {
    let jwt = hs256(serde_json::json!({"sub": "alice", "role": "admin"}), b"k");
    let mut cfg = SessionConfig::default();
    // Parameters alone name the user here (the defaults are tested on their own).
    cfg.user.enabled = false;
    cfg.params = vec![
        param("tenant", ParamSource::Header, "X-Tenant", ParamMode::Plain),
        ParamSpec {
            role: Some(ParamRole::Role),
            ..param("role", ParamSource::Jwt, "role", ParamMode::Plain)
        },
        param("theme", ParamSource::Cookie, "theme", ParamMode::Hash),
        param("card", ParamSource::Query, "card", ParamMode::Mask),
        param("password", ParamSource::Form, "password", ParamMode::Drop),
        param(
            "amount",
            ParamSource::Json,
            "/order/amount",
            ParamMode::Plain,
        ),
        ParamSpec {
            template: Some("/api/v1/users/{user_id}/orders".into()),
            field: None,
            role: Some(ParamRole::User),
            ..param("user_id", ParamSource::Path, "", ParamMode::Plain)
        },
        ParamSpec {
            side: ParamSide::Response,
            ..param("order_id", ParamSource::Json, "/id", ParamMode::Plain)
        },
        ParamSpec {
            side: ParamSide::Response,
            ..param("server", ParamSource::Header, "Server", ParamMode::Plain)
        },
    ];
    let mut s = sz(&cfg);
    let t = tx("/api/v1/users/u-42/orders?card=4111111111111111")
        .method("POST")
        .bearer(&jwt)
        .h("X-Tenant", "acme")
        .cookie("theme=dark")
        .body(
            "application/json",
            br#"{"order":{"amount":12.5},"password":"hunter2"}"#,
        )
        .rh("Server", "nginx")
        .rbody("application/json", br#"{"id":991}"#)
        .b();
    let (ts, _) = obs(&mut s, &t);
    let ctx: std::collections::BTreeMap<&str, &str> =
        ts.context.iter().map(|(k, v)| (&**k, v.as_str())).collect();
    assert_eq!(ctx["tenant"], "acme");
    assert_eq!(ctx["role"], "admin");
    assert_eq!(ctx["theme"].len(), 32);
    assert_ne!(ctx["theme"], "dark");
    assert_eq!(ctx["card"], "************1111");
    assert!(!ctx.contains_key("password"), "drop mode never exports");
    assert_eq!(ctx["amount"], "12.5");
    assert_eq!(ctx["user_id"], "u-42");
    assert_eq!(ctx["order_id"], "991");
    assert_eq!(ctx["server"], "nginx");
    assert_eq!(
        (ts.user.as_deref(), ts.role.as_deref()),
        (Some("u-42"), Some("admin"))
    );
    // Hashes join across parameters and instances with the same secret.
    let mut s2 = sz(&cfg);
    assert_eq!(obs(&mut s2, &t).0.context, ts.context);

    // Form body with the password field and a second amount.
    let t2 = tx("/api/v1/users/u-42/orders")
        .bearer(&jwt)
        .method("POST")
        .body("application/json", br#"{"order":{"amount":"7.5"}}"#)
        .id(1, 2)
        .b();
    obs(&mut s, &t2);
    let t3 = tx("/login")
        .bearer(&jwt)
        .method("POST")
        .body(
            "application/x-www-form-urlencoded",
            b"user=a&password=hunter2",
        )
        .id(1, 3)
        .b();
    let (ts3, _) = obs(&mut s, &t3);
    assert!(ts3.context.iter().all(|(k, _)| &**k != "password"));
    let mut out = Vec::new();
    s.flush(2000 * SEC, EndReason::Shutdown, &mut out);
    let sum = &out[0].summary;
    let amount = &sum.context["amount"];
    assert_eq!(
        (
            amount.present,
            amount.first.as_deref(),
            amount.last.as_deref()
        ),
        (2, Some("12.5"), Some("7.5"))
    );
    let n = amount.numeric.unwrap();
    assert_eq!((n.count, n.sum, n.min, n.max), (2, 20.0, 7.5, 12.5));
    let pw = &sum.context["password"];
    assert_eq!((pw.present, pw.first.as_ref(), pw.numeric), (1, None, None));
    assert_eq!(
        sum.context["card"].numeric, None,
        "masked values get no numeric aggregates"
    );
    assert_eq!(
        (sum.user.as_deref(), sum.role.as_deref()),
        (Some("u-42"), Some("admin"))
    );
    let json = serde_json::to_string(&out[0]).unwrap();
    assert!(
        !json.contains("hunter2") && !json.contains("4111111111111111") && !json.contains("dark"),
        "{json}"
    );
}

#[test]
fn compressed_bodies_and_bombs() {
    let gz = |d: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    };
    let cfg = with_keys(vec![
        KeySpec::pointer(KeySource::Json, "/sid"),
        KeySpec::of(KeySource::FallbackIp),
    ]);
    let mut s = sz(&cfg);
    let t = tx("/")
        .method("POST")
        .h("Content-Encoding", "gzip")
        .body("application/json", &gz(br#"{"sid":"z1"}"#))
        .b();
    assert_eq!(obs(&mut s, &t).0.key_source.as_deref(), Some("json:/sid"));
    // A bomb: an 8 MiB string before the key; decoding stops at the cap.
    let mut big = br#"{"pad":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 8 << 20));
    big.extend(br#"","sid":"z2"}"#);
    let t = tx("/")
        .method("POST")
        .h("Content-Encoding", "gzip")
        .body("application/json", &gz(&big))
        .b();
    let (ts, _) = obs(&mut s, &t);
    assert!(ts.anomalies.contains(&SessionAnomaly::BodyDecodeLimit));
    assert_eq!(s.stats().body_decode_limit, 1);
    // Cut JSON does not parse: the next key is used.
    assert_eq!(ts.key_source.as_deref(), Some("fallback:ip"));
    assert!(ts.anomalies.contains(&SessionAnomaly::JsonParseFailed));
    // Garbage under a coding: counted, no panic.
    let t = tx("/")
        .method("POST")
        .h("Content-Encoding", "br")
        .body("application/json", b"\xff\xfe garbage")
        .b();
    assert!(obs(&mut s, &t)
        .0
        .anomalies
        .contains(&SessionAnomaly::BodyDecodeFailed));
    // Bodies are not decoded when no key or parameter needs them.
    let mut s = sz(&SessionConfig::default());
    obs(
        &mut s,
        &tx("/")
            .h("Content-Encoding", "gzip")
            .body("application/json", &gz(&big))
            .b(),
    );
    assert_eq!(s.stats().bodies_decoded, 0);
}

#[test]
fn client_ip_behind_trusted_proxies() {
    let cfg = SessionConfig {
        trusted_proxies: vec!["10.0.0.0/8".into()],
        ..SessionConfig::default()
    };
    let mut s = sz(&cfg);
    let (ts, _) = obs(
        &mut s,
        &tx("/")
            .client("10.0.0.5")
            .h("X-Forwarded-For", "6.6.6.6, 203.0.113.9, 10.1.1.1")
            .b(),
    );
    assert_eq!(ts.client_ip.to_string(), "203.0.113.9");
    let (ts2, _) = obs(
        &mut s,
        &tx("/")
            .client("10.0.0.6")
            .h("X-Forwarded-For", "203.0.113.9")
            .b(),
    );
    assert_eq!(
        ts2.session_id, ts.session_id,
        "fallback key uses the resolved client"
    );
    let (ts, _) = obs(
        &mut s,
        &tx("/")
            .client("192.0.2.1")
            .h("X-Forwarded-For", "203.0.113.9")
            .b(),
    );
    assert_eq!(ts.client_ip.to_string(), "192.0.2.1");
    assert_eq!(
        (
            s.stats().client_ip_from_header,
            s.stats().client_ip_header_untrusted
        ),
        (2, 1)
    );
}

/// Endpoint ids are only a shortcut: once they were forgotten (their table full), a session
/// still counts a known endpoint in its own entry, found by name, and a new one apart.
#[test]
fn endpoints_count_by_name_once_their_ids_are_forgotten() {
    let mut s = sz(&SessionConfig::default());
    obs(&mut s, &tx("/a/1").cookie("sid=1").b());
    s.forget_endpoint_ids();
    obs(&mut s, &tx("/a/2").cookie("sid=1").status(404).id(1, 2).b());
    obs(&mut s, &tx("/b").cookie("sid=1").id(1, 3).b());
    obs(&mut s, &tx("/a/3").cookie("sid=1").id(1, 4).b());
    let mut out = Vec::new();
    s.flush(2000 * SEC, EndReason::EndOfInput, &mut out);
    let json = serde_json::to_value(&out[0]).unwrap();
    assert_eq!(
        json["endpoints"],
        serde_json::json!({
            "GET /a/{id}": {"count": 3, "status": {"200": 2, "404": 1}},
            "GET /b": {"count": 1, "status": {"200": 1}},
        })
    );
}

#[test]
fn endpoints_on_transactions_and_summaries() {
    let mut s = sz(&SessionConfig::default());
    let (ts, _) = obs(
        &mut s,
        &tx("/api/v1/users/42/orders?x=1").cookie("sid=1").b(),
    );
    assert_eq!(
        ts.endpoint.as_deref(),
        Some("GET /api/v1/users/{id}/orders")
    );
    obs(
        &mut s,
        &tx("/api/v1/users/43/orders")
            .cookie("sid=1")
            .status(404)
            .id(1, 2)
            .b(),
    );
    obs(
        &mut s,
        &tx("/api/v1/users/44/orders")
            .cookie("sid=1")
            .no_response()
            .id(1, 3)
            .b(),
    );
    let mut out = Vec::new();
    s.flush(2000 * SEC, EndReason::EndOfInput, &mut out);
    let json = serde_json::to_value(&out[0]).unwrap();
    assert_eq!(
        json["endpoints"]["GET /api/v1/users/{id}/orders"],
        serde_json::json!({"count": 3, "status": {"200": 1, "404": 1, "none": 1}})
    );
    assert_eq!(
        json["transaction_ids"],
        serde_json::json!(["1-1", "1-2", "1-3"])
    );
}

/// Config with small timeouts: idle 10 s, max duration 60 s, updates every 5 s.
fn timed() -> SessionConfig {
    SessionConfig {
        idle_timeout_ms: 10_000,
        max_duration_ms: 60_000,
        update_interval_ms: 5_000,
        ..SessionConfig::default()
    }
}

/// A sessionizer with [`timed`]'s timeouts and no periodic updates.
fn timed_without_updates() -> Sessionizer {
    let mut cfg = timed();
    cfg.update_interval_ms = 0;
    sz(&cfg)
}

#[test]
fn idle_timeout_ends_sessions() {
    let mut s = sz(&timed());
    let t0 = 1000 * SEC;
    let (a, out) = obs(&mut s, &tx("/").cookie("sid=a").at(t0).b());
    assert_eq!(out[0].phase, Phase::Start);
    let mut out = Vec::new();
    s.expire(t0 + 9 * SEC, &mut out);
    assert!(out.is_empty());
    s.expire(t0 + 11 * SEC, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].phase, out[0].reason, out[0].ts_us),
        (Phase::End, Some(EndReason::Idle), t0 + 10 * SEC)
    );
    assert_eq!(s.active_sessions(), 0);
    // The same key later starts a new session with the same id (part 1 again).
    let (b, out) = obs(&mut s, &tx("/").cookie("sid=a").at(t0 + 20 * SEC).b());
    assert_eq!((b.session_id, out[0].part), (a.session_id, 1));
    // Idle is also noticed by `observe` without an `expire` in between.
    let (_, out) = obs(&mut s, &tx("/").cookie("sid=a").at(t0 + 40 * SEC).b());
    assert_eq!(
        out.iter().map(|r| r.phase).collect::<Vec<_>>(),
        vec![Phase::End, Phase::Start]
    );
    assert_eq!(s.stats().ended_idle, 2);
}

#[test]
fn max_duration_splits_into_linked_parts() {
    let mut s = timed_without_updates();
    let t0 = 1000 * SEC;
    let mut first = None;
    let mut recs = Vec::new();
    for k in 0..14u64 {
        let t = tx("/")
            .cookie("sid=long")
            .at(t0 + k * 5 * SEC)
            .id(1, k as u32 + 1)
            .b();
        let mut out = Vec::new();
        s.expire(t.ts_us(), &mut out);
        let ts = s.observe(t.ts_us(), &t, &mut out);
        first.get_or_insert(ts.session_id);
        recs.extend(out);
    }
    let ends: Vec<&SessionRecord> = recs.iter().filter(|r| r.phase == Phase::End).collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(
        (ends[0].reason, ends[0].part, Some(ends[0].session_id)),
        (Some(EndReason::MaxDuration), 1, first.unwrap())
    );
    assert_eq!(ends[0].summary.requests, 12);
    let starts: Vec<&SessionRecord> = recs.iter().filter(|r| r.phase == Phase::Start).collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        (starts[1].part, starts[1].previous_part),
        (2, Some(ends[0].session_id))
    );
    assert_ne!(starts[1].session_id, ends[0].session_id);
    assert_eq!(s.stats().parts_started, 1);
    // A split part with no transaction disappears silently at its idle timeout.
    let mut out = Vec::new();
    s.expire(t0 + 200 * SEC, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].part, out[0].reason), (2, Some(EndReason::Idle)));
}

/// A part after a split starts with its first transaction, which can come after another
/// session started: the split that is due first still comes first (the first part's start
/// was left in front of the later session's, and held its split back until its own).
#[test]
fn a_split_due_first_is_not_held_back_by_a_later_part() {
    let mut s = timed_without_updates();
    let t0 = 1000 * SEC;
    // `a` from 0 s, split at 60 s, its second part from 64 s; `b` from 62 s.
    let a = (0..=55).step_by(5).chain([58]).chain((64..=119).step_by(5));
    let mut events: Vec<(u64, &str)> = a.map(|t| (t, "sid=a")).collect();
    events.extend((62..=117).step_by(5).map(|t| (t, "sid=b")));
    events.sort_unstable();
    let mut recs = Vec::new();
    for (k, (t, cookie)) in events.into_iter().enumerate() {
        let t = tx("/")
            .cookie(cookie)
            .at(t0 + t * SEC)
            .id(1, k as u32 + 1)
            .b();
        s.expire(t.ts_us(), &mut recs);
        s.observe(t.ts_us(), &t, &mut recs);
    }
    s.expire(t0 + 123 * SEC, &mut recs);
    let splits: Vec<u64> = recs
        .iter()
        .filter(|r| r.reason == Some(EndReason::MaxDuration))
        .map(|r| (r.ts_us - t0) / SEC)
        .collect();
    assert_eq!(splits, [60, 122], "a's first part, then b's");
}

#[test]
fn lru_eviction_at_max_sessions() {
    let cfg = SessionConfig {
        max_sessions: 2,
        ..SessionConfig::default()
    };
    let mut s = sz(&cfg);
    let t0 = 1000 * SEC;
    let (a, _) = obs(&mut s, &tx("/").cookie("sid=a").at(t0).b());
    obs(&mut s, &tx("/").cookie("sid=b").at(t0 + 1).b());
    obs(&mut s, &tx("/").cookie("sid=a").at(t0 + 2).b());
    let (_, out) = obs(&mut s, &tx("/").cookie("sid=c").at(t0 + 3).b());
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0].reason, out[1].phase),
        (Some(EndReason::Evicted), Phase::Start)
    );
    assert_ne!(
        Some(out[0].session_id),
        a.session_id,
        "a was used more recently than b"
    );
    assert_eq!((s.active_sessions(), s.stats().ended_evicted), (2, 1));
}

#[test]
fn periodic_updates_only_with_new_activity() {
    let mut s = sz(&timed());
    let t0 = 1000 * SEC;
    obs(&mut s, &tx("/").cookie("sid=u").at(t0).b());
    let mut out = Vec::new();
    s.expire(t0 + 4 * SEC, &mut out);
    assert!(out.is_empty());
    obs(
        &mut s,
        &tx("/").cookie("sid=u").at(t0 + 4 * SEC).id(1, 2).b(),
    );
    s.expire(t0 + 5 * SEC, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].phase, out[0].summary.requests), (Phase::Update, 2));
    out.clear();
    s.expire(t0 + 9 * SEC, &mut out);
    s.expire(t0 + 10 * SEC, &mut out);
    assert!(out.is_empty(), "no activity since the last update");
    assert_eq!(s.stats().updates, 1);
    // Off when the interval is 0.
    let mut s = sz(&SessionConfig {
        update_interval_ms: 0,
        ..timed()
    });
    obs(&mut s, &tx("/").cookie("sid=u").at(t0).b());
    obs(&mut s, &tx("/").cookie("sid=u").at(t0 + 4 * SEC).b());
    s.expire(t0 + 8 * SEC, &mut out);
    assert!(out.is_empty());
}

#[test]
fn flush_ends_everything_least_recent_first() {
    let mut s = sz(&SessionConfig::default());
    let t0 = 1000 * SEC;
    let ids: Vec<_> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(k, v)| {
            obs(
                &mut s,
                &tx("/").cookie(&format!("sid={v}")).at(t0 + k as u64).b(),
            )
            .0
            .session_id
            .unwrap()
        })
        .collect();
    obs(&mut s, &tx("/").cookie("sid=a").at(t0 + 10).b());
    let mut out = Vec::new();
    s.flush(t0 + 20, EndReason::EndOfInput, &mut out);
    assert_eq!(
        out.iter().map(|r| r.session_id).collect::<Vec<_>>(),
        vec![ids[1], ids[2], ids[0]]
    );
    assert!(out.iter().all(|r| r.reason == Some(EndReason::EndOfInput)));
    assert_eq!((s.active_sessions(), s.stats().ended_end_of_input), (0, 3));
}

#[test]
fn per_session_lists_are_capped_with_counters() {
    let cfg = SessionConfig {
        max_client_ips_per_session: 2,
        max_user_agents_per_session: 1,
        max_endpoints_per_session: 2,
        max_transaction_ids_per_session: 3,
        max_distinct_values_per_param: 2,
        params: vec![param("q", ParamSource::Query, "q", ParamMode::Plain)],
        ..SessionConfig::default()
    };
    let mut s = sz(&cfg);
    for k in 0..5u32 {
        let t = tx(&format!("/p{k}?q={k}"))
            .cookie("sid=cap")
            .client(&format!("192.0.2.{k}"))
            .ua(&format!("ua{k}"))
            .id(1, k + 1)
            .b();
        obs(&mut s, &t);
    }
    let mut out = Vec::new();
    s.flush(2000 * SEC, EndReason::Shutdown, &mut out);
    let sum = &out[0].summary;
    assert_eq!(
        (sum.client_ips.counts.len(), sum.client_ips.dropped),
        (2, 3)
    );
    assert_eq!(
        (sum.user_agents.counts.len(), sum.user_agents.dropped),
        (1, 4)
    );
    assert_eq!((sum.endpoints.len(), sum.endpoints_dropped), (2, 3));
    assert_eq!(
        (sum.transaction_ids.len(), sum.transaction_ids_dropped),
        (3, 2)
    );
    assert_eq!(
        (
            sum.context["q"].distinct(),
            sum.context["q"].distinct_capped,
            sum.context["q"].present
        ),
        (2, true, 5)
    );
    assert_eq!(sum.requests, 5);
    let st = s.stats();
    assert_eq!(
        (
            st.client_ips_dropped,
            st.user_agents_dropped,
            st.endpoints_dropped,
            st.transaction_ids_dropped,
            st.distinct_values_capped
        ),
        (3, 4, 3, 2, 3)
    );
}

#[test]
fn records_serialize_with_the_documented_fields() {
    let mut s = sz(&SessionConfig::default());
    let t = tx("/api/v1/users/7").cookie("PHPSESSID=p").ua("curl/8").b();
    let (ts, out) = obs(&mut s, &t);
    let http: serde_json::Value = serde_json::from_str(&http_json(&t, &ts)).unwrap();
    assert_eq!(http["session_id"].as_str().map(str::len), Some(32));
    assert_eq!(http["transaction_id"], "1-1");
    assert_eq!(
        http["session_key"],
        serde_json::json!({"source": "cookie:PHPSESSID", "verified": null})
    );
    assert_eq!(http["client_ip"], "192.0.2.10");
    assert_eq!(http["endpoint"], "GET /api/v1/users/{id}");
    assert_eq!(http["context"], serde_json::json!({}));
    assert_eq!(http["session_anomalies"], serde_json::json!([]));
    // Without a session the record keeps its old shape.
    let red = Redactor::default_rules();
    let plain: serde_json::Value = serde_json::to_value(HttpRecord {
        tx: &t,
        redactor: &red,
        tunnel: None,
        attacks: None,
        api: None,
        sensor_id: None,
    })
    .unwrap();
    assert!(plain.get("session_id").is_none());

    let rec: serde_json::Value = serde_json::to_value(&out[0]).unwrap();
    assert_eq!(rec["type"], "session");
    assert_eq!(rec["schema_version"], 1);
    assert_eq!(rec["phase"], "start");
    assert_eq!(rec["session_id"], http["session_id"]);
    assert_eq!(rec["part"], 1);
    assert_eq!(rec["reason"], serde_json::Value::Null);
    assert_eq!(rec["ts"], "1970-01-01T00:16:40.000000Z");
    assert_eq!(
        rec["client_ips"],
        serde_json::json!([{"ip": "192.0.2.10", "count": 1}])
    );
    assert_eq!(
        rec["user_agents"],
        serde_json::json!([{"user_agent": "curl/8", "count": 1}])
    );
    assert_eq!(rec["duration_us"], 200);
    for f in [
        "previous_part",
        "linked_from",
        "anonymous",
        "first_seen",
        "last_seen",
        "requests",
        "request_bytes",
        "response_bytes",
        "user",
        "role",
        "endpoints",
        "status",
        "context",
        "anomalies",
        "transaction_ids",
        "transaction_ids_dropped",
    ] {
        assert!(rec.get(f).is_some(), "{f}");
    }
}

#[test]
fn anomalies_are_counted_by_kind() {
    let mut s = sz(&SessionConfig::default());
    let mut t = tx("/").cookie("sid=x").b();
    t.anomalies.push(crate::http::HttpAnomaly::GapInRequest);
    t.tcp_anomalies
        .push(apitap_reassembly::TcpAnomaly::MidStreamPickup);
    obs(&mut s, &t);
    obs(&mut s, &t);
    let mut out = Vec::new();
    s.flush(2000 * SEC, EndReason::EndOfInput, &mut out);
    let a = &out[0].summary.anomalies;
    assert_eq!((a["gap_in_request"], a["mid_stream_pickup"]), (2, 2));
}

#[test]
fn sessionizer_can_move_to_a_worker_thread() {
    fn send<T: Send>() {}
    send::<Sessionizer>();
    send::<SessionRecord>();
    send::<TxSession>();
}

#[test]
fn config_errors_surface_from_new() {
    let mut cfg = SessionConfig::default();
    cfg.endpoints.patterns = vec![PatternSpec {
        regex: "([".into(),
        placeholder: "{x}".into(),
    }];
    assert!(Sessionizer::new(&cfg, Secret::new(SECRET.to_vec()))
        .unwrap_err()
        .to_string()
        .contains("endpoints.patterns[0].regex"));
    assert!(Sessionizer::new(&SessionConfig::default(), Secret::new(Vec::new())).is_err());
}

/// Strategy for one arbitrary transaction.
fn arb_tx() -> impl Strategy<Value = (Transaction, u64)> {
    let header = prop_oneof![
        Just("Cookie"),
        Just("Authorization"),
        Just("User-Agent"),
        Just("X-Forwarded-For"),
        Just("Forwarded"),
        Just("X-API-Key"),
        Just("Content-Encoding"),
        Just("Content-Type"),
        Just("Set-Cookie"),
    ];
    let value = prop_oneof![
        "[a-zA-Z0-9=;, ._:/\\-\\[\\]\"]{0,40}",
        Just("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln".to_string()),
        Just("gzip".to_string()),
        Just("application/json".to_string()),
        Just("multipart/form-data; boundary=b".to_string()),
        Just("PHPSESSID=a; sid=b".to_string()),
    ];
    (
        "[a-zA-Z/0-9%@.?=&{}\\-]{0,60}",
        prop::collection::vec((header, value), 0..8),
        prop::collection::vec(any::<u8>(), 0..64),
        0u8..4,
        0u64..200_000_000,
        any::<bool>(),
        any::<u16>(),
    )
        .prop_map(|(path, headers, body, client, dt, has_req, status)| {
            let mut b = tx(&path)
                .client(&format!("192.0.2.{client}"))
                .at(1000 * SEC + dt)
                .status(status);
            for (n, v) in &headers {
                b = b.h(n, v).rh(n, v);
            }
            b.req().body = body.clone();
            b.resp().body = body;
            let mut t = b.b();
            if !has_req {
                t.request = None;
            }
            (t, dt)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary transactions never panic and never exceed the session bound.
    #[test]
    fn arbitrary_transactions_keep_bounds(txs in prop::collection::vec(arb_tx(), 1..40), max in 1usize..4) {
        let mut cfg = SessionConfig {
            max_sessions: max,
            idle_timeout_ms: 30_000,
            max_duration_ms: 60_000,
            update_interval_ms: 10_000,
            ..SessionConfig::default()
        };
        cfg.keys.insert(0, KeySpec::pointer(KeySource::Json, "/sid"));
        cfg.keys.insert(0, KeySpec::named(KeySource::Form, "sid"));
        cfg.params = vec![param("amount", ParamSource::Json, "/amount", ParamMode::Plain)];
        let mut s = sz(&cfg);
        let mut out = Vec::new();
        for (t, dt) in &txs {
            let now = 1000 * SEC + dt;
            s.expire(now, &mut out);
            let ts = s.observe(now, t, &mut out);
            prop_assert!(s.active_sessions() <= max);
            prop_assert!(serde_json::from_str::<serde_json::Value>(&http_json(t, &ts)).is_ok());
        }
        s.flush(2000 * SEC, EndReason::EndOfInput, &mut out);
        prop_assert_eq!(s.active_sessions(), 0);
        for r in &out {
            prop_assert!(serde_json::to_string(r).is_ok());
        }
    }
}

/// Rough cost per transaction with the default config (run with
/// `cargo test --release -p apitap-sessionizer -- --ignored --nocapture per_transaction_cost`).
#[test]
#[ignore = "timing, run by hand in release"]
fn per_transaction_cost() {
    let jwt = hs256(serde_json::json!({"sub": "u"}), b"k");
    let txs: Vec<Transaction> = (0..10_000u64)
        .map(|k| {
            let b = tx(&format!("/api/v1/users/{}/orders/{}", k % 500, k))
                .ua("Mozilla/5.0")
                .h("Host", "api.example.com")
                .h("Accept", "*/*");
            let mix: u64 = std::env::var("MIX")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(4);
            let b = match if mix == 4 { k % 4 } else { mix } {
                0 => b.cookie(&format!("theme=dark; PHPSESSID=s{}", k % 1000)),
                1 => b.bearer(&jwt),
                2 => b.h("X-API-Key", &format!("key{}", k % 50)),
                _ => b.client(&format!("192.0.2.{}", k % 200)),
            };
            b.id(k, 1).at(1000 * SEC + k * 100).b()
        })
        .collect();
    let mut s = sz(&SessionConfig::default());
    let mut out = Vec::new();
    let rounds = 20u64;
    let start = std::time::Instant::now();
    for r in 0..rounds {
        for t in &txs {
            let now = t.ts_us() + r * 1_000_000;
            let ts = s.observe(now, t, &mut out);
            std::hint::black_box(&ts);
            out.clear();
        }
        s.expire(1000 * SEC + r * 1_000_000, &mut out);
        out.clear();
    }
    let per = start.elapsed().as_nanos() as f64 / (rounds as f64 * txs.len() as f64);
    println!(
        "{per:.0} ns per transaction, {} sessions",
        s.active_sessions()
    );
}

/// A TLS connection has no key of its own: its record names the client's `fallback:ip`
/// session while that session is open, none after it went idle or for another client.
#[test]
fn ip_fallback_session_is_found_while_open() {
    let mut s = sz(&SessionConfig::default());
    let t = tx("/a").at(1000 * SEC).b();
    let ts = s.observe(t.ts_us(), &t, &mut Vec::new());
    let ip: std::net::IpAddr = "192.0.2.10".parse().unwrap();
    assert_eq!(ts.key_source.as_deref(), Some("fallback:ip"));
    assert_eq!(s.ip_fallback_session(ip), ts.session_id);
    assert_eq!(s.ip_fallback_session("192.0.2.11".parse().unwrap()), None);
    // Idle: the table's clock passes the idle timeout.
    let later = tx("/b")
        .client("198.51.100.9")
        .at(1000 * SEC + 3600 * SEC)
        .b();
    s.observe(later.ts_us(), &later, &mut Vec::new());
    assert_eq!(s.ip_fallback_session(ip), None);
    let no_fallback = with_keys(vec![KeySpec::of(KeySource::Bearer)]);
    let mut s = sz(&no_fallback);
    s.observe(t.ts_us(), &t, &mut Vec::new());
    assert_eq!(s.ip_fallback_session(ip), None);
}
