//! `apitap ui` end to end: the real binary serving on loopback, driven by Debian's chromium
//! through Playwright (`tests/ui/browser_test.py`), and fed from a real Kafka-protocol broker.
//!
//! The browser test installs what it needs with `scripts/setup-ui.sh` (idempotent) and skips
//! loudly when chromium or Playwright cannot be installed. The Kafka test needs
//! `APITAP_TEST_KAFKA` (see tests/tests/kafka.rs) and skips loudly without it. Screenshots go to
//! a scratch directory, or to `APITAP_UI_SCREENSHOTS` (docs/img when regenerating docs/ui.md).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apitap_tests::harness::{
    apitap_bin, fixture, replay, scratch, workspace_root, TEST_SESSION_SECRET,
};

/// Longest wait for `apitap ui` to serve, or for records to reach its store.
const READY_DEADLINE: Duration = Duration::from_secs(90);
/// The analyst the browser test signs in as, and their token.
const ANALYST: &str = "ana";
const ANALYST_TOKEN: &str = "ana-browser-test-token-0123456789";

/// `apitap ui` running; killed (SIGTERM, then SIGKILL) when dropped.
struct Ui {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Ui {
    fn start(dir: &Path, extra: &[&str]) -> Ui {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.join("ui.log");
        let child = Command::new(apitap_bin())
            .args(["ui", "--listen", &addr, "--db"])
            .arg(dir.join("ui.sqlite"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("run apitap ui");
        Ui { child, addr, log }
    }

    /// GET `path` with a bearer token when given: status and body (None while not listening).
    fn get(&self, path: &str, token: Option<&str>) -> Option<(u16, String)> {
        let mut c = TcpStream::connect(&self.addr).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            c,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
            self.addr
        )
        .ok()?;
        let mut raw = String::new();
        c.read_to_string(&mut raw).ok()?;
        let (head, body) = raw.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }

    /// Wait until `check` holds on the store's counters (`/api/stats`).
    fn wait_for(
        &mut self,
        token: Option<&str>,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) {
        let start = Instant::now();
        loop {
            if let Some((200, body)) = self.get("/api/stats", token) {
                let v: serde_json::Value = serde_json::from_str(&body).expect("stats JSON");
                if check(&v) {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("apitap ui exited ({status}): {}", self.log());
            }
            assert!(
                start.elapsed() < READY_DEADLINE,
                "{what} not reached in {READY_DEADLINE:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        // SIGTERM: the writer commits and the server stops; the test only waits a little.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Install chromium and Playwright (idempotent); false, said loudly, when they cannot be.
fn browser_ready(test: &str) -> bool {
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/setup-ui.sh"))
        .output()
        .expect("run scripts/setup-ui.sh");
    if out.status.success() {
        return true;
    }
    eprintln!(
        "\n*** SKIPPED {test}: chromium or Playwright could not be installed (scripts/setup-ui.sh): {} ***\n",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    false
}

#[test]
fn an_analyst_investigates_and_shares_a_session_in_a_browser() {
    if !browser_ready("an_analyst_investigates_and_shares_a_session_in_a_browser") {
        return;
    }
    let dir = scratch("ui-browser");
    let config = dir.join("apitap.toml");
    std::fs::write(
        &config,
        format!("[ui.analysts]\n{ANALYST} = \"{ANALYST_TOKEN}\"\n"),
    )
    .expect("config");
    let input = fixture("ui/incident.jsonl");
    let mut ui = Ui::start(
        &dir,
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "--input",
            input.to_str().expect("utf-8"),
        ],
    );
    let token = Some(ANALYST_TOKEN);
    ui.wait_for(token, "the fixture ingested", |v| {
        v["records_http"] == 397 && v["records_alert"] == 5
    });
    let shots = std::env::var_os("APITAP_UI_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("screenshots"));
    let out = Command::new("python3")
        .arg(workspace_root().join("tests/ui/browser_test.py"))
        .args([
            "--base",
            &format!("http://{}", ui.addr),
            "--token",
            ANALYST_TOKEN,
            "--analyst",
            ANALYST,
        ])
        .arg("--screenshots")
        .arg(&shots)
        .output()
        .expect("run the browser test");
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{said}");
    assert!(
        out.status.success(),
        "browser test failed:\n{said}\napitap ui:\n{}",
        ui.log()
    );
    assert!(said.contains("steps passed"), "{said}");
}

#[test]
fn a_non_loopback_address_needs_a_token() {
    let dir = scratch("ui-token");
    let o = Command::new(apitap_bin())
        .args(["ui", "--listen", "0.0.0.0:0", "--db"])
        .arg(dir.join("ui.sqlite"))
        .env_remove("APITAP_UI_TOKEN")
        .output()
        .expect("run apitap ui");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("ui.token"),
        "{err}"
    );
}

#[test]
fn ingest_only_reads_stdin_and_reports_what_it_stored() {
    let dir = scratch("ui-stdin");
    let mut child = Command::new(apitap_bin())
        .args(["ui", "--ingest-only", "--input", "-", "--db"])
        .arg(dir.join("ui.sqlite"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run apitap ui");
    let data = std::fs::read(fixture("ui/incident.jsonl")).expect("fixture");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&data).expect("write stdin");
    stdin.write_all(b"not a record\n").expect("write stdin");
    drop(stdin);
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("http 397, session 94, alert 5") && err.contains("1 not records"),
        "{err}"
    );
}

/// The shared broker, or None (with a loud message) without one.
fn broker(test: &str) -> Option<String> {
    match std::env::var("APITAP_TEST_KAFKA") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => {
            eprintln!(
                "\n*** SKIPPED {test}: APITAP_TEST_KAFKA is not set. Run scripts/test.sh (it starts \
                 a tansu broker) or set APITAP_TEST_KAFKA=host:port ***\n"
            );
            None
        }
    }
}

#[test]
fn ui_consumes_a_replay_from_kafka_and_shows_its_sessions() {
    let Some(addr) = broker("ui_consumes_a_replay_from_kafka_and_shows_its_sessions") else {
        return;
    };
    let dir = scratch("ui-kafka");
    let prefix = format!("t{}-ui", std::process::id());
    let (http, sessions) = (format!("{prefix}.http"), format!("{prefix}.sessions"));
    let ctl = std::env::var_os("APITAP_TEST_KAFKA_CTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("scripts/kafka.sh"));
    for t in [&http, &sessions] {
        let o = Command::new("bash")
            .arg(&ctl)
            .args(["topic", t, "3"])
            .env("APITAP_KAFKA_ADDR", &addr)
            .output()
            .expect("kafka.sh topic");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let shop = std::fs::read_to_string(fixture("sessions/shop.toml")).expect("shop.toml");
    let pcap = fixture("sessions/journeys.pcap");
    // The same replay as JSON lines names the sessions to look for.
    let jsonl_config = dir.join("jsonl.toml");
    std::fs::write(&jsonl_config, &shop).expect("config");
    let expected = replay(
        std::slice::from_ref(&pcap),
        &["--config", jsonl_config.to_str().expect("utf-8"), "-q"],
    );
    assert_eq!(expected.code, 0, "{}", expected.stderr);
    let config = dir.join("apitap.toml");
    std::fs::write(
        &config,
        format!(
            "{shop}\n[export]\nsensor_id = \"kafka-sensor\"\n\n[export.kafka]\nbrokers = [\"{addr}\"]\n\
             topic_http = \"{http}\"\ntopic_sessions = \"{sessions}\"\nflush_timeout_ms = 20000\n"
        ),
    )
    .expect("config");
    let o = Command::new(apitap_bin())
        .arg("replay")
        .arg(&pcap)
        .arg("--config")
        .arg(&config)
        .arg("-q")
        .env("APITAP_SESSION_SECRET", TEST_SESSION_SECRET)
        .output()
        .expect("replay to kafka");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let http_records = expected
        .records
        .iter()
        .filter(|r| r["type"] == "http")
        .count();
    let session_id = expected
        .records
        .iter()
        .find(|r| r["type"] == "session" && r["user"].is_string())
        .and_then(|r| r["session_id"].as_str())
        .expect("a session with a user")
        .to_owned();
    let mut ui = Ui::start(
        &dir,
        &[
            "--brokers",
            &addr,
            "-t",
            &http,
            "-t",
            &sessions,
            "-G",
            &format!("{prefix}-group"),
        ],
    );
    ui.wait_for(None, "every http record consumed", |v| {
        v["records_http"].as_u64() == Some(http_records as u64)
            && v["records_session"].as_u64() > Some(0)
    });
    let (status, page) = ui
        .get(&format!("/sessions/{session_id}"), None)
        .expect("session page");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("kafka-sensor"),
        "the sensor header names the sensor"
    );
    let (_, list) = ui.get("/sessions", None).expect("sessions list");
    assert!(
        list.contains(&format!("/sessions/{session_id}")),
        "the session is listed"
    );
}
