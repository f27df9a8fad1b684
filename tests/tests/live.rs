//! `apitap live` and the threaded pipeline, with real interfaces.
//!
//! The root tests build a small mirrored network, all inside namespaces this test creates:
//!
//! ```text
//!   netns <p>c (clients)                netns <p>s (server)
//!   <p>a 10.201.N.2/24  ── veth ──  <p>b 10.201.N.1/24   shop_server.py / nginx
//!                                     │ tc clsact ingress+egress: mirred mirror
//!                                   <p>m ── veth ──  <p>t  (host netns, no address, no IPv6,
//!                                                           no ARP): `apitap live -i <p>t`
//! ```
//!
//! The monitored interface `<p>t` is a SPAN port in miniature: it receives a copy of every
//! frame of the client-server link and has no reason to send anything, so its `tx_packets`
//! must not move while apitap runs. Root tests skip (loudly) when not run as root; CI runs as
//! root. Every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apitap_tests::harness::{
    apitap, apitap_bin, fixture, replay, replay_core, workspace_root, TEST_SESSION_SECRET,
};

/// Every wait of these tests ends within this time.
const WAIT: Duration = Duration::from_secs(30);

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Skip a root-only test with a message that shows in the test output.
macro_rules! require_root {
    ($name:expr) => {
        if !is_root() {
            eprintln!(
                "SKIPPED {}: needs root (network namespaces, veth, tc); CI runs as root",
                $name
            );
            return;
        }
    };
}

fn sh(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("run {args:?}: {e}"))
}

fn must(args: &[&str]) {
    let o = sh(args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The mirrored test network; torn down on drop (deleting the namespaces deletes their veths,
/// and with them the host end of the mirror pair).
struct Net {
    /// 10.201.N.0/24
    n: u32,
    cli: String,
    srv: String,
    /// The monitored interface, in the host namespace.
    tap: String,
    children: Vec<Child>,
}

impl Net {
    fn server_ip(&self) -> String {
        format!("10.201.{}.1", self.n)
    }

    fn setup(tag: u32) -> Net {
        let n = (std::process::id() % 200 + tag) % 250 + 2;
        let p = format!("at{n}");
        let net = Net {
            n,
            cli: format!("{p}c"),
            srv: format!("{p}s"),
            tap: format!("{p}t"),
            children: Vec::new(),
        };
        // Leftovers of an earlier run with the same number.
        let _ = sh(&["ip", "netns", "del", &net.cli]);
        let _ = sh(&["ip", "netns", "del", &net.srv]);
        let _ = sh(&["ip", "link", "del", &net.tap]);
        let (a, b, m) = (format!("{p}a"), format!("{p}b"), format!("{p}m"));
        must(&["ip", "netns", "add", &net.cli]);
        must(&["ip", "netns", "add", &net.srv]);
        must(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
        must(&["ip", "link", "set", &a, "netns", &net.cli]);
        must(&["ip", "link", "set", &b, "netns", &net.srv]);
        must(&[
            "ip", "link", "add", &m, "type", "veth", "peer", "name", &net.tap,
        ]);
        must(&["ip", "link", "set", &m, "netns", &net.srv]);
        let cli = |args: &[&str]| {
            let mut v = vec!["ip", "netns", "exec", net.cli.as_str()];
            v.extend_from_slice(args);
            must(&v);
        };
        let srv = |args: &[&str]| {
            let mut v = vec!["ip", "netns", "exec", net.srv.as_str()];
            v.extend_from_slice(args);
            must(&v);
        };
        cli(&["ip", "addr", "add", &format!("10.201.{n}.2/24"), "dev", &a]);
        cli(&["ip", "link", "set", &a, "up"]);
        cli(&["ip", "link", "set", "lo", "up"]);
        srv(&["ip", "addr", "add", &format!("10.201.{n}.1/24"), "dev", &b]);
        srv(&["ip", "link", "set", &b, "up"]);
        srv(&["ip", "link", "set", "lo", "up"]);
        // The mirror: every frame in or out of the server's interface, copied to <p>m.
        srv(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{m}.disable_ipv6=1"),
        ]);
        srv(&["ip", "link", "set", &m, "arp", "off", "up"]);
        srv(&["tc", "qdisc", "add", "dev", &b, "clsact"]);
        for dir in ["ingress", "egress"] {
            srv(&[
                "tc", "filter", "add", "dev", &b, dir, "protocol", "all", "u32", "match", "u32",
                "0", "0", "action", "mirred", "egress", "mirror", "dev", &m,
            ]);
        }
        // The monitored end: no address, no IPv6 (no router solicitations, no DAD), no ARP:
        // the kernel has nothing to send on it, so any transmitted packet would be apitap's.
        must(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", net.tap),
        ]);
        must(&["ip", "link", "set", &net.tap, "arp", "off", "up"]);
        // Whole segments on the wire, as on a real SPAN port (no GSO super-frames).
        for (ns, dev) in [(&net.cli, &a), (&net.srv, &b)] {
            let _ = sh(&[
                "ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro",
                "off",
            ]);
        }
        net
    }

    fn tx_packets(&self) -> u64 {
        counter(&self.tap, "tx_packets")
    }

    fn in_ns(&self, ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).args(args);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Killing `ip netns exec` does not reach what it started (nginx forks workers that
        // outlive their master): end every process left in the namespaces, so nothing keeps
        // running, or holds the test runner's output open, after the test.
        for ns in [&self.cli, &self.srv] {
            let _ = sh(&[
                "sh",
                "-c",
                &format!("ip netns pids {ns} | xargs -r kill -9"),
            ]);
        }
        let _ = sh(&["ip", "netns", "del", &self.cli]);
        let _ = sh(&["ip", "netns", "del", &self.srv]);
        let _ = sh(&["ip", "link", "del", &self.tap]);
    }
}

fn counter(iface: &str, name: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/statistics/{name}"))
        .unwrap_or_else(|e| panic!("read {name} of {iface}: {e}"))
        .trim()
        .parse()
        .expect("a number")
}

/// Poll `f` until it returns Some, at most `WAIT`.
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// GET a path of the metrics listener. `Connection: close`, so the answer ends at EOF (an
/// HTTP/1.1 server keeps the connection open otherwise).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// The value of one sample of the exposition (`name` with its labels, as printed).
fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

/// A running `apitap live`; stderr is collected in the background.
struct Live {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Live {
    fn start(net: &Net, args: &[&str]) -> Live {
        let mut child = Command::new(apitap_bin())
            .arg("live")
            .args(["--interface", &net.tap])
            .args(args)
            .env("APITAP_SESSION_SECRET", TEST_SESSION_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start apitap live");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let live = Live { child, stderr };
        wait_for("apitap live to start capturing", || {
            live.log().contains("capturing").then_some(())
        });
        live
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit code and how long the exit took; killed (and None) when it
    /// takes longer than `limit`.
    fn terminate_within(mut self, limit: Duration) -> (Option<i32>, Duration, String) {
        must(&["kill", "-TERM", &self.child.id().to_string()]);
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break Some(s);
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = start.elapsed();
        std::thread::sleep(Duration::from_millis(200)); // the last log lines
        (status.and_then(|s| s.code()), took, self.log())
    }

    /// SIGTERM, then the exit code (bounded).
    fn terminate(mut self) -> (i32, String) {
        must(&["kill", "-TERM", &self.child.id().to_string()]);
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > WAIT {
                let _ = self.child.kill();
                panic!(
                    "apitap live did not stop within {WAIT:?} of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(200)); // the last log lines
        (status.code().unwrap_or(-1), self.log())
    }
}

fn read_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn scratch_dir(name: &str) -> apitap_tests::harness::Scratch {
    apitap_tests::harness::scratch(name)
}

#[test]
fn sample_deploy_config_passes_check_config() {
    let sample = workspace_root().join("deploy/apitap.toml");
    let o = apitap(&["check-config", sample.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&sample).unwrap();
    for section in [
        "[limits]",
        "[capture]",
        "[reassembly]",
        "[http]",
        "[http2]",
        "[websocket]",
        "[output]",
        "[session]",
        "[detect]",
        "[api]",
        "[behaviours]",
        "[export]",
    ] {
        assert!(text.contains(section), "deploy/apitap.toml lacks {section}");
    }
}

#[test]
fn live_without_interface_is_a_usage_error() {
    let o = apitap(&["live"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--interface"));
}

/// What identifies a transaction independently of the worker that numbered its connection.
fn tx_identity(r: &serde_json::Value) -> String {
    format!(
        "{} {} {} {} {}",
        r["ts"], r["flow"], r["request"]["uri"], r["response"]["status"], r["session_id"]
    )
}

#[test]
fn replay_with_two_workers_gives_the_same_transactions_and_sessions() {
    let pcap = fixture("sessions/journeys.pcap");
    let cfg = fixture("sessions/shop.toml");
    let cfg = cfg.to_str().unwrap();
    let one = replay(
        std::slice::from_ref(&pcap),
        &["--config", cfg, "--workers", "0"],
    );
    let two = replay(&[pcap], &["--config", cfg, "--workers", "2"]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert_eq!(two.code, 0, "{}", two.stderr);
    let ids = |r: &apitap_tests::harness::Replay, kind: &str| {
        let mut v: Vec<String> = r
            .records
            .iter()
            .filter(|x| x["type"] == kind)
            .map(|x| {
                if kind == "http" {
                    tx_identity(x)
                } else {
                    format!(
                        "{} {} {} {}",
                        x["session_id"], x["phase"], x["requests"], x["reason"]
                    )
                }
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&one, "http"), ids(&two, "http"));
    // Workers write the http records (all but the session fields): whole records must match,
    // apart from the connection numbering, which is per worker.
    let whole = |r: &apitap_tests::harness::Replay| {
        let mut v: Vec<String> = r
            .records
            .iter()
            .filter(|x| x["type"] == "http")
            .map(|x| {
                let mut x = x.clone();
                let o = x.as_object_mut().unwrap();
                o.remove("conn_id");
                o.remove("transaction_id");
                x.to_string()
            })
            .collect();
        v.sort();
        v
    };
    let (w1, w2) = (whole(&one), whole(&two));
    assert!(!w1.is_empty());
    assert_eq!(w1, w2);
    let ends = |r: &apitap_tests::harness::Replay| {
        let mut v: Vec<String> = ids(r, "session")
            .into_iter()
            .filter(|s| s.contains("\"end\""))
            .collect();
        v.sort();
        v
    };
    assert_eq!(ends(&one), ends(&two));
    assert_eq!(
        one.stats["decode"]["packets"],
        two.stats["decode"]["packets"]
    );
    assert_eq!(one.stats["transactions"], two.stats["transactions"]);
}

/// IP fragments reach the worker of their flow, whatever the worker count: every
/// fragmented capture gives the transactions of the single-threaded pipeline, whole records
/// apart from the per-worker connection numbers (issue 20: with 2 workers only half the
/// fragmented requests found their responses, with 4 a fifth).
#[test]
fn fragmented_captures_give_the_same_transactions_with_any_worker_count() {
    let whole = |r: &apitap_tests::harness::Replay| {
        let mut v: Vec<String> = r
            .records
            .iter()
            .filter(|x| x["type"] == "http")
            .map(|x| {
                let mut x = x.clone();
                x.as_object_mut().unwrap().remove("conn_id");
                x.to_string()
            })
            .collect();
        v.sort();
        v
    };
    for pcap in [
        "fragments/nginx-curl-frag4.pcap",
        "fragments/nginx-curl-frag6.pcap",
        "tunnels/vxlan-frag-outer.pcap",
    ] {
        let pcap = fixture(pcap);
        let one = replay_core(std::slice::from_ref(&pcap), &["--workers", "0"]);
        assert_eq!(one.code, 0, "{}", one.stderr);
        let want = whole(&one);
        let paired = one
            .records
            .iter()
            .filter(|x| !x["request"].is_null() && !x["response"].is_null())
            .count();
        assert!(
            paired >= 5 && paired == want.len(),
            "{}: {paired} paired of {}",
            pcap.display(),
            want.len()
        );
        assert!(
            one.stats["decode"]["fragments"]["reassembled"].as_u64() > Some(0),
            "{}: nothing was fragmented",
            pcap.display()
        );
        for workers in ["2", "4"] {
            let many = replay_core(std::slice::from_ref(&pcap), &["--workers", workers]);
            assert_eq!(many.code, 0, "{}", many.stderr);
            assert_eq!(
                whole(&many),
                want,
                "{} with {workers} workers",
                pcap.display()
            );
        }
    }
}

/// One worker runs the threaded pipeline on the single-threaded pipeline's timeline: it
/// stamps each transaction with the packet time it finished at and tells the session stage
/// where it ran its timeouts, so the records are byte-identical, whatever the batching
/// between the threads. Sessions end idle and update between transactions here.
#[test]
fn replay_with_one_worker_is_byte_identical_to_single_threaded() {
    let dir = scratch_dir("one-worker");
    let cfg = dir.join("timed.toml");
    std::fs::write(
        &cfg,
        "[session]\nsecret = \"one-worker-test-secret-0123456789\"\n\
         idle_timeout_ms = 150\nupdate_interval_ms = 10\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    for pcap in [
        "sessions/journeys.pcap",
        "local/python-pipelining.pcap",
        "tunnels/vxlan-frag-outer.pcap",
    ] {
        let pcap = fixture(pcap);
        let one = replay(
            std::slice::from_ref(&pcap),
            &["--config", cfg, "--workers", "0"],
        );
        let threaded = replay(
            std::slice::from_ref(&pcap),
            &["--config", cfg, "--workers", "1"],
        );
        assert_eq!(one.code, 0, "{}", one.stderr);
        assert_eq!(threaded.code, 0, "{}", threaded.stderr);
        assert!(!one.raw.is_empty(), "{}", pcap.display());
        assert_eq!(one.raw, threaded.raw, "{}", pcap.display());
    }
    let one = replay(
        &[fixture("sessions/journeys.pcap")],
        &["--config", cfg, "--workers", "0"],
    );
    assert!(
        one.raw.contains(r#""reason":"idle""#),
        "no idle end: the test lost its point"
    );
    assert!(one.raw.contains(r#""phase":"update""#));
}

#[test]
fn live_capture_on_a_mirror_port_end_to_end() {
    require_root!("live_capture_on_a_mirror_port_end_to_end");
    let mut net = Net::setup(0);
    let dir = scratch_dir("live-e2e");
    let out = dir.join("events.jsonl");
    let stats = dir.join("stats.json");
    let expected = dir.join("expected.json");
    let port = free_port();
    let apps = workspace_root().join("tests/apps");
    let server_ip = net.server_ip();

    let server = net
        .in_ns(
            &net.srv,
            &[
                "python3",
                apps.join("shop_server.py").to_str().unwrap(),
                "8080",
                "--host",
                &server_ip,
            ],
        )
        .stderr(Stdio::null())
        .spawn()
        .expect("start shop_server");
    net.children.push(server);
    wait_for("the server to listen", || {
        net.in_ns(
            &net.cli,
            &[
                "curl",
                "-s",
                "-o",
                "/dev/null",
                &format!("http://{server_ip}:8080/api/v1/products/1"),
            ],
        )
        .status()
        .ok()?
        .success()
        .then_some(())
    });
    // The probes above were not captured: apitap starts now.
    let tx_before = net.tx_packets();
    let rx_before = counter(&net.tap, "rx_packets");
    let live = Live::start(
        &net,
        &[
            "--config",
            fixture("sessions/shop.toml").to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--stats-json",
            stats.to_str().unwrap(),
            "--metrics-listen",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "2",
        ],
    );
    assert_eq!(http_get(port, "/healthz").map(|r| r.0), Some(200));

    // Real clients: the scripted journeys (python http.client), and curl.
    let j = net
        .in_ns(
            &net.cli,
            &[
                "python3",
                apps.join("journeys.py").to_str().unwrap(),
                "8080",
                "--host",
                &server_ip,
                "--expected",
                expected.to_str().unwrap(),
            ],
        )
        .output()
        .expect("run journeys.py");
    assert!(
        j.status.success(),
        "journeys: {}",
        String::from_utf8_lossy(&j.stderr)
    );
    for i in 0..3 {
        let url = format!("http://{server_ip}:8080/api/v1/products?page={i}");
        let o = net
            .in_ns(&net.cli, &["curl", "-s", "-o", "/dev/null", &url])
            .output()
            .unwrap();
        assert!(o.status.success());
    }
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&expected).unwrap()).unwrap();
    let want = truth["totals"]["requests"].as_u64().unwrap() + 3;

    // /metrics counts them while the sensor runs.
    let text = wait_for("the metrics to count every transaction", || {
        let (code, body) = http_get(port, "/metrics")?;
        assert_eq!(code, 200);
        let n = metric(&body, "apitap_http_transactions_total")?;
        (n as u64 >= want).then_some(body)
    });
    assert_eq!(
        metric(&text, "apitap_http_transactions_total"),
        Some(want as f64),
        "{text}"
    );
    assert_eq!(metric(&text, "apitap_workers"), Some(2.0));
    assert!(
        metric(&text, "apitap_sessions_active").unwrap() >= 1.0,
        "{text}"
    );
    assert!(metric(&text, "apitap_packets_total").unwrap() > 0.0);
    assert_eq!(
        metric(&text, "apitap_reassembly_gaps_total"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "apitap_dropped_packets_total{place=\"worker_queue\",reason=\"full\"}"
        ),
        Some(0.0)
    );
    let active = metric(&text, "apitap_sessions_active").unwrap() as usize;
    // The file gets the http records while the sensor runs (written out about every second).
    wait_for("the http records in the output file", || {
        let n = std::fs::read_to_string(&out)
            .ok()?
            .lines()
            .filter(|l| l.contains(r#""type":"http""#))
            .count() as u64;
        (n >= want).then_some(())
    });

    // SIGTERM: open sessions end with reason shutdown, the output is flushed, exit 0.
    let (code, log) = live.terminate();
    assert_eq!(code, 0, "exit code after SIGTERM\n{log}");
    let records = read_records(&out);
    let http: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "http").collect();
    assert_eq!(http.len() as u64, want, "http records\n{log}");
    assert!(http.iter().all(|r| r["response"]["status"].is_u64()));
    let shutdown_ends = records
        .iter()
        .filter(|r| r["type"] == "session" && r["phase"] == "end" && r["reason"] == "shutdown")
        .count();
    assert!(
        shutdown_ends >= active && shutdown_ends > 0,
        "{shutdown_ends} end records with reason shutdown, {active} sessions were open"
    );
    // Every journey's user appears on a session.
    for j in truth["journeys"].as_array().unwrap() {
        let Some(user) = j["user"].as_str() else {
            continue; // an anonymous journey
        };
        assert!(
            records
                .iter()
                .any(|r| r["type"] == "session" && r["user"] == user),
            "no session of {user}"
        );
    }
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(s["transactions"].as_u64(), Some(want));

    // Passive: the monitored interface received the mirrored traffic and sent nothing.
    let rx = counter(&net.tap, "rx_packets") - rx_before;
    let tx = net.tx_packets() - tx_before;
    eprintln!(
        "monitored {}: rx {rx} packets, tx {tx} packets while apitap ran",
        net.tap
    );
    assert!(rx > 100, "the mirror delivered {rx} packets");
    assert_eq!(tx, 0, "packets transmitted on the monitored interface");
    assert!(log.contains("tx_packets_delta=0"), "{log}");
}

#[test]
fn live_capture_keeps_up_with_wrk() {
    require_root!("live_capture_keeps_up_with_wrk");
    if sh(&["sh", "-c", "command -v wrk && command -v nginx"])
        .status
        .code()
        != Some(0)
    {
        eprintln!("SKIPPED live_capture_keeps_up_with_wrk: wrk or nginx missing (scripts/setup.sh installs them)");
        return;
    }
    let mut net = Net::setup(100);
    let dir = scratch_dir("live-load");
    let server_ip = net.server_ip();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\ndaemon off;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
             fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
             server {{ listen {server_ip}:8081; location / {{ return 200 \"ok\\n\"; }} }} }}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let nginx = net
        .in_ns(&net.srv, &["nginx", "-c", conf.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    net.children.push(nginx);
    let url = format!("http://{server_ip}:8081/");
    wait_for("nginx to listen", || {
        net.in_ns(&net.cli, &["curl", "-s", "-o", "/dev/null", &url])
            .status()
            .ok()?
            .success()
            .then_some(())
    });
    let out = dir.join("events.jsonl");
    let stats = dir.join("stats.json");
    let tx_before = net.tx_packets();
    let live = Live::start(
        &net,
        &[
            "--config",
            fixture("core.toml").to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--stats-json",
            stats.to_str().unwrap(),
            "--workers",
            "1",
        ],
    );
    let wrk = net
        .in_ns(&net.cli, &["wrk", "-t1", "-c16", "-d5s", &url])
        .output()
        .expect("run wrk");
    let wrk_out = String::from_utf8_lossy(&wrk.stdout).into_owned();
    assert!(wrk.status.success(), "wrk: {wrk_out}");
    // "123456 requests in 5.00s, ..." and "Requests/sec:  24690.12"
    let wrk_requests: u64 = wrk_out
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ")?.0.parse().ok())
        .expect("wrk request count");
    let wrk_rate: f64 = wrk_out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:")?.trim().parse().ok())
        .expect("wrk rate");
    std::thread::sleep(Duration::from_millis(500));
    let (code, log) = live.terminate();
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    let seen = s["transactions"].as_u64().unwrap();
    let gaps = s["reassembly"]["gaps"].as_u64().unwrap();
    let kernel_drops: u64 = log
        .lines()
        .rev()
        .find(|l| l.contains(" stopped"))
        .and_then(|l| l.split("drops=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let tx = net.tx_packets() - tx_before;
    eprintln!(
        "load: wrk {wrk_requests} requests ({wrk_rate:.0}/s over 5 s); apitap {seen} transactions \
         ({:.1} %), {} packets, drops {kernel_drops}, gaps {gaps}, exit {code}, tx {tx}",
        100.0 * seen as f64 / wrk_requests.max(1) as f64,
        s["decode"]["packets"]
    );
    assert_eq!(tx, 0, "packets transmitted on the monitored interface");
    assert!(
        wrk_requests > 1000,
        "wrk made only {wrk_requests} requests: {wrk_out}"
    );
    // wrk does not count the requests still in flight when its timer ends; apitap does.
    if seen < wrk_requests {
        // Anything missing must be accounted for: dropped packets or gaps, and a non-zero exit
        // when packets were dropped.
        assert!(
            kernel_drops > 0 || gaps > 0,
            "{} transactions missing without a counted drop or gap\n{log}",
            wrk_requests - seen
        );
        if kernel_drops > 0 {
            assert_eq!(code, 5, "{log}");
        }
    } else {
        assert_eq!(code, 0, "{log}");
    }
}

/// Regression (issue 20, item 1): on a quiet link the capture thread sat in libpcap's
/// `poll` with no timeout and never saw SIGTERM, so the service manager's SIGKILL lost every
/// open session's `end` record. One request opens a session, the link goes quiet, SIGTERM:
/// the sensor exits 0 within 2 s, and the session's `end` record is written.
#[test]
fn live_exits_promptly_on_sigterm_on_a_quiet_link() {
    require_root!("live_exits_promptly_on_sigterm_on_a_quiet_link");
    let mut net = Net::setup(50);
    let dir = scratch_dir("live-quiet");
    let out = dir.join("events.jsonl");
    let server_ip = net.server_ip();
    let apps = workspace_root().join("tests/apps");
    let server = net
        .in_ns(
            &net.srv,
            &[
                "python3",
                apps.join("shop_server.py").to_str().unwrap(),
                "8080",
                "--host",
                &server_ip,
            ],
        )
        .stderr(Stdio::null())
        .spawn()
        .expect("start shop_server");
    net.children.push(server);
    let url = format!("http://{server_ip}:8080/api/v1/products/1");
    wait_for("the server to listen", || {
        net.in_ns(&net.cli, &["curl", "-s", "-o", "/dev/null", &url])
            .status()
            .ok()?
            .success()
            .then_some(())
    });
    let live = Live::start(
        &net,
        &[
            "--config",
            fixture("sessions/shop.toml").to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--workers",
            "1",
        ],
    );
    let o = net
        .in_ns(&net.cli, &["curl", "-s", "-o", "/dev/null", &url])
        .output()
        .unwrap();
    assert!(o.status.success());
    // Quiet: nothing more crosses the link.
    std::thread::sleep(Duration::from_secs(1));
    let (code, took, log) = live.terminate_within(Duration::from_secs(2));
    eprintln!("quiet link: exit {code:?} {took:?} after SIGTERM");
    assert_eq!(
        code,
        Some(0),
        "apitap live did not exit 0 within 2 s of SIGTERM on a quiet link (after {took:?})\n{log}"
    );
    let records = read_records(&out);
    assert_eq!(
        records.iter().filter(|r| r["type"] == "http").count(),
        1,
        "{records:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "session" && r["phase"] == "end" && r["reason"] == "shutdown"),
        "no end record: {records:?}"
    );
}

/// A quiet link does not hold records back: one request, then silence; its record is in the
/// output within 2 s of its last packet, and its session ends at its idle timeout while the
/// sensor still runs (issue 20: nothing came out until more packets arrived).
#[test]
fn live_writes_a_quiet_links_records_within_two_seconds() {
    require_root!("live_writes_a_quiet_links_records_within_two_seconds");
    let mut net = Net::setup(60);
    let dir = scratch_dir("live-quiet-flush");
    let out = dir.join("events.jsonl");
    let cfg = dir.join("idle.toml");
    std::fs::write(&cfg, "[session]\nidle_timeout_ms = 2000\n").unwrap();
    let server_ip = net.server_ip();
    let apps = workspace_root().join("tests/apps");
    let server = net
        .in_ns(
            &net.srv,
            &[
                "python3",
                apps.join("shop_server.py").to_str().unwrap(),
                "8080",
                "--host",
                &server_ip,
            ],
        )
        .stderr(Stdio::null())
        .spawn()
        .expect("start shop_server");
    net.children.push(server);
    let url = format!("http://{server_ip}:8080/api/v1/products/1");
    wait_for("the server to listen", || {
        net.in_ns(&net.cli, &["curl", "-s", "-o", "/dev/null", &url])
            .status()
            .ok()?
            .success()
            .then_some(())
    });
    for workers in ["1", "2"] {
        std::fs::write(&out, "").unwrap();
        let live = Live::start(
            &net,
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--workers",
                workers,
            ],
        );
        // Let the capture start before the request (the sensor logs when it captures).
        std::thread::sleep(Duration::from_millis(500));
        let o = net
            .in_ns(&net.cli, &["curl", "-s", "-o", "/dev/null", &url])
            .output()
            .unwrap();
        assert!(o.status.success());
        let sent = Instant::now();
        let has = |kind: &str, phase: Option<&str>| {
            read_records(&out).iter().any(|r| {
                r["type"] == kind && phase.is_none_or(|p| r["phase"] == p && r["reason"] == "idle")
            })
        };
        while !has("http", None) && sent.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = sent.elapsed();
        assert!(
            has("http", None),
            "{workers} worker(s): no http record 2 s after the request on a quiet link"
        );
        eprintln!("{workers} worker(s): http record after {took:?}");
        // The session ends idle 2 s after its transaction, and is written within 2 s more.
        while !has("session", Some("end")) && sent.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            has("session", Some("end")),
            "{workers} worker(s): no idle end record while running"
        );
        let (code, _, log) = live.terminate_within(Duration::from_secs(2));
        assert_eq!(code, Some(0), "{log}");
        // A running sensor names itself in every record: the host name, no config needed.
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let records = read_records(&out);
        assert!(!records.is_empty());
        for r in &records {
            assert_eq!(r["sensor_id"], host.trim(), "{r}");
        }
    }
}
