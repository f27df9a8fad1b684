//! The server over real TCP: safety headers, escaping, authentication, cross-site refusal,
//! notes, and the self-contained export.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::json;

use super::*;
use crate::config::UiConfig;
use crate::scratch::{scratch, InScratch};

const XSS: &str = "<script>alert('xss')</script><img src=x onerror=alert(1)>";
const SID: &str = "5e55";

fn records() -> Vec<String> {
    let http = json!({"type":"http","ts":"2024-05-01T10:00:01Z","conn_id":1,"depth":1,
        "flow":{"src_ip":"192.0.2.66","src_port":1,"dst_ip":"10.0.0.2","dst_port":80},
        "request":{"method":"GET","uri":format!("/search?q={XSS}"),"path":"/search","headers":[["User-Agent", XSS]]},
        "response":{"status":200},"session_id":SID,"transaction_id":"1-1","client_ip":"192.0.2.66",
        "endpoint":"GET /search","attacks":[{"class":"xss","rule":"xss.tag","where":"query:q","evidence":XSS,"outcome":"served"}],
        "api":{"status":"documented"}});
    let session = json!({"type":"session","phase":"end","ts":"2024-05-01T10:05:00Z","session_id":SID,
        "first_seen":"2024-05-01T10:00:01Z","last_seen":"2024-05-01T10:00:01Z","requests":1,"user":XSS,
        "user_agents":[{"user_agent":XSS,"count":1}],"context":{"q":{"present":1,"first":XSS,"last":XSS,"distinct":1}}});
    let alert = json!({"type":"alert","kind":"attack_served","ts":"2024-05-01T10:00:01Z","first_ts":"2024-05-01T10:00:01Z",
        "session_id":SID,"client_ip":"192.0.2.66","user":XSS,"endpoint":"GET /search","transaction_ids":["1-1"],
        "evidence":{"class":"xss","payload":XSS}});
    vec![http.to_string(), session.to_string(), alert.to_string()]
}

impl InScratch<Server> {
    /// Stop the server, then remove its store's directory.
    fn stop(self) -> std::io::Result<()> {
        self.value.stop()
    }
}

/// A server on a free loopback port over a fresh store holding [`records`].
fn server(name: &str, credentials: Vec<Credential>) -> InScratch<Server> {
    let dir = scratch(&format!("apitap-ui-web-{name}-"));
    let store = Store::open(&dir.path().join("ui.sqlite")).unwrap();
    let mut w = store.writer(&UiConfig::default()).unwrap();
    for r in records() {
        w.push(r.as_bytes(), None).unwrap();
    }
    w.flush().unwrap();
    let cfg = ServerConfig {
        page_rows: 50,
        session_page_transactions: 100,
        credentials,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = Server::start(listener, App::new(store, cfg).unwrap()).unwrap();
    InScratch::new(server, dir)
}

/// One HTTP/1.1 request; the status, the headers (lower-case names) and the body.
fn request(
    s: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        s.local_addr()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    c.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    c.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn every_page_is_served_with_a_strict_policy_and_payloads_as_text() {
    let s = server("xss", Vec::new());
    for path in [
        "/overview",
        "/sessions",
        "/alerts",
        "/endpoints",
        &format!("/sessions/{SID}"),
        &format!("/sessions/{SID}?alert=1"),
    ] {
        let (status, h, body) = request(&s, "GET", path, &[], "");
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&h, "content-security-policy"), Some(CSP), "{path}");
        assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"));
        assert!(
            !body.contains("<script>alert") && !body.contains("<img src=x"),
            "{path} has the raw payload"
        );
        assert_eq!(body.matches("<script").count(), 1, "{path}: only app.js");
    }
    let (_, _, page) = request(&s, "GET", &format!("/sessions/{SID}"), &[], "");
    assert!(
        page.contains("&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;"),
        "the payload is shown, escaped"
    );
    assert!(!CSP.contains("unsafe-inline") && CSP.contains("script-src 'self'"));
    s.stop().unwrap();
}

#[test]
fn the_export_is_self_contained_and_has_no_script() {
    let s = server("export", Vec::new());
    let (status, h, body) = request(&s, "GET", &format!("/sessions/{SID}/export.html"), &[], "");
    assert_eq!(status, 200);
    assert!(header(&h, "content-disposition")
        .unwrap()
        .starts_with("attachment; filename=\"apitap-session-5e55.html\""));
    assert!(!body.contains("<script"), "no script at all");
    assert!(
        !body.contains("src=\"http") && !body.contains("href=\"http") && !body.contains("/assets/")
    );
    assert!(body.contains("<style>") && body.contains("default-src 'none'"));
    assert!(
        body.contains("&quot;transaction_id&quot;: &quot;1-1&quot;"),
        "records are inline"
    );
    let (_, _, json) = request(&s, "GET", &format!("/sessions/{SID}/export.json"), &[], "");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["transactions"][0]["attacks"][0]["evidence"], XSS);
    assert_eq!(doc["alerts"][0]["kind"], "attack_served");
    s.stop().unwrap();
}

#[test]
fn with_tokens_every_request_needs_one_and_notes_are_signed() {
    let creds = vec![
        Credential {
            name: None,
            token: Token::new("shared-token-0123456789"),
        },
        Credential {
            name: Some("ana".into()),
            token: Token::new("ana-token-0123456789ab"),
        },
    ];
    let s = server("auth", creds);
    let (status, h, _) = request(&s, "GET", "/sessions", &[], "");
    assert_eq!((status, header(&h, "location")), (303, Some("/login")));
    assert_eq!(request(&s, "GET", "/api/stats", &[], "").0, 401);
    assert_eq!(
        request(
            &s,
            "GET",
            "/sessions",
            &[("Authorization", "Bearer wrong-token-0123456789")],
            ""
        )
        .0,
        303
    );
    assert_eq!(
        request(&s, "GET", "/assets/style.css", &[], "").0,
        200,
        "assets need no token"
    );
    let ana = [("Authorization", "Bearer ana-token-0123456789ab")];
    assert_eq!(request(&s, "GET", "/sessions", &ana, "").0, 200);
    // The login form sets the cookie a browser then sends.
    let (status, h, _) = request(
        &s,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "token=shared-token-0123456789",
    );
    assert_eq!(status, 303);
    let cookie = header(&h, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        request(&s, "GET", "/overview", &[("Cookie", &cookie)], "").0,
        200
    );
    // A note by ana is signed with her name.
    let form = [
        ana[0],
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let (status, _, _) = request(
        &s,
        "POST",
        &format!("/sessions/{SID}/notes"),
        &form,
        "text=seen+%3Cb%3Ethis%3C%2Fb%3E",
    );
    assert_eq!(status, 303);
    let (_, _, page) = request(&s, "GET", &format!("/sessions/{SID}"), &ana, "");
    assert!(
        page.contains("ana, ") && page.contains("seen &lt;b&gt;this&lt;/b&gt;"),
        "signed and escaped"
    );
    s.stop().unwrap();
}

#[test]
fn a_cross_site_post_is_refused() {
    let s = server("csrf", Vec::new());
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let path = format!("/sessions/{SID}/tags");
    assert_eq!(
        request(
            &s,
            "POST",
            &path,
            &[form, ("Sec-Fetch-Site", "cross-site")],
            "tag=x&action=add"
        )
        .0,
        403
    );
    assert_eq!(
        request(
            &s,
            "POST",
            &path,
            &[form, ("Origin", "http://evil.example")],
            "tag=x&action=add"
        )
        .0,
        403
    );
    assert_eq!(
        request(
            &s,
            "POST",
            &path,
            &[form, ("Sec-Fetch-Site", "same-origin")],
            "tag=ok&action=add"
        )
        .0,
        303
    );
    let (_, _, page) = request(&s, "GET", "/sessions?tag=ok", &[], "");
    assert!(page.contains("/sessions/5e55"));
    s.stop().unwrap();
}

#[test]
fn an_unknown_session_is_a_404_page() {
    let s = server("404", Vec::new());
    let (status, _, body) = request(&s, "GET", "/sessions/%3Cscript%3E", &[], "");
    assert_eq!(status, 404);
    assert!(body.contains("no session &lt;script&gt;"));
    s.stop().unwrap();
}
