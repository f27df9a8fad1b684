//! CLI behaviour of the real binary: exit codes and messages (sensor/src/exit.rs), damaged and
//! unsupported inputs, merging several files, determinism, stdout output, `check-config`,
//! config bounds and the run summary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use apitap_tests::harness::{
    apitap, apitap_bin, core_config, fixture, replay_core, scratch, Replay,
};
use apitap_tests::pcapio::{read_pcap, write_pcap, DataLink, Packet};
use apitap_tests::records::{keys, Key};

const NGINX: &str = "local/nginx-curl.pcap";
const JOURNEYS: &str = "sessions/journeys.pcap";

/// Bytes of the classic pcap file header.
const PCAP_FILE_HEADER_LEN: usize = 24;
/// Bytes of a classic pcap record header.
const PCAP_RECORD_HEADER_LEN: usize = 16;

/// Replay and require exit code 0.
fn ok(pcaps: &[PathBuf], args: &[&str]) -> Replay {
    let r = replay_core(pcaps, args);
    assert_eq!(r.code, 0, "{pcaps:?}: {}", r.stderr);
    r
}

/// Byte offset of every record header in a little- or big-endian classic pcap.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let le = match bytes[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("not a classic pcap"),
    };
    let mut out = Vec::new();
    let mut at = PCAP_FILE_HEADER_LEN;
    while at + PCAP_RECORD_HEADER_LEN <= bytes.len() {
        out.push(at);
        let f: [u8; 4] = bytes[at + 8..at + 12].try_into().unwrap();
        let incl = if le {
            u32::from_le_bytes(f)
        } else {
            u32::from_be_bytes(f)
        };
        at += PCAP_RECORD_HEADER_LEN + incl as usize;
    }
    assert_eq!(at, bytes.len(), "record walk ends at the end of the file");
    out
}

#[test]
fn missing_file_is_a_usage_error_naming_it() {
    let dir = scratch("cli-missing");
    let missing = dir.join("no-such-capture.pcap");
    let out = dir.join("events.jsonl");
    let o = apitap(&[
        "replay",
        missing.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
    assert!(!out.exists(), "nothing is processed, no output is created");
}

#[test]
fn non_pcap_file_is_a_usage_error_naming_it() {
    let dir = scratch("cli-not-pcap");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
    let r = replay_core(std::slice::from_ref(&text), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(text.to_str().unwrap()), "{}", r.stderr);
    assert!(r.records.is_empty());
}

#[test]
fn unsupported_link_type_is_a_usage_error_naming_it() {
    let dir = scratch("cli-dlt");
    let path = dir.join("user0.pcap");
    // DLT 147 (USER0): private use, no decoder. Payload: a real Ethernet frame, so only the
    // link type makes it unsupported.
    let eth = &read_pcap(fixture(NGINX)).unwrap()[3];
    let pkt = Packet::new(eth.ts, DataLink::from(147u32), eth.data.clone());
    write_pcap(&path, &[pkt]).unwrap();
    assert_eq!(
        &std::fs::read(&path).unwrap()[20..24],
        &147u32.to_le_bytes()
    );
    let r = replay_core(std::slice::from_ref(&path), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("147"), "{}", r.stderr);
    assert!(r.stderr.contains("link type"), "{}", r.stderr);
    assert!(r.stderr.contains(path.to_str().unwrap()), "{}", r.stderr);
    assert!(r.records.is_empty());
}

#[test]
fn truncated_file_writes_the_events_before_the_damage() {
    let bytes = std::fs::read(fixture(NGINX)).unwrap();
    let offsets = record_offsets(&bytes);
    let pkts = read_pcap(fixture(NGINX)).unwrap();
    assert_eq!(offsets.len(), pkts.len());
    let clean = ok(&[fixture(NGINX)], &["--quiet"]);
    let clean_keys = keys(&clean.records);
    // The big.txt response is the largest packet: cut inside its data, and also inside the
    // record header of a later packet.
    let big = (0..pkts.len()).max_by_key(|&i| pkts[i].data.len()).unwrap();
    let cuts = [
        (
            big,
            offsets[big] + PCAP_RECORD_HEADER_LEN + pkts[big].data.len() / 2,
        ),
        (big + 3, offsets[big + 3] + PCAP_RECORD_HEADER_LEN / 2),
    ];
    let dir = scratch("cli-truncated");
    for (k, cut) in cuts {
        let damaged = dir.join(format!("cut-in-packet-{k}.pcap"));
        std::fs::write(&damaged, &bytes[..cut]).unwrap();
        let r = replay_core(std::slice::from_ref(&damaged), &[]);
        assert_eq!(r.code, 1, "cut in packet {k}: {}", r.stderr);
        assert!(r.stderr.contains(damaged.to_str().unwrap()), "{}", r.stderr);
        // libpcap read the `k` packets before the damaged one; the message gives that index.
        assert!(
            r.stderr.contains(&format!("packet {k}")),
            "message names packet {k}: {}",
            r.stderr
        );
        // Exactly what a capture of the first `k` packets gives.
        let prefix = dir.join(format!("first-{k}.pcap"));
        write_pcap(&prefix, &pkts[..k]).unwrap();
        let want = ok(&[prefix], &["--quiet"]);
        assert_eq!(r.raw, want.raw, "cut in packet {k}");
        // And a prefix of the clean run's transactions (the last may lack its response).
        let got = keys(&r.records);
        assert!(!got.is_empty() && got.len() <= clean_keys.len());
        let n = got.len();
        assert_eq!(got[..n - 1], clean_keys[..n - 1], "cut in packet {k}");
        let (m, u, s) = &got[n - 1];
        let last: &Key = &clean_keys[n - 1];
        assert_eq!((m, u), (&last.0, &last.1), "cut in packet {k}");
        assert!(s.is_none() || s == &last.2, "cut in packet {k}");
    }
}

/// Split `pkts` into two captures by alternating packets.
fn split_alternating(pkts: &[Packet], dir: &Path) -> (PathBuf, PathBuf) {
    let pick = |parity: usize| -> Vec<Packet> {
        pkts.iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, p)| p.clone())
            .collect()
    };
    let (a, b) = (dir.join("even.pcap"), dir.join("odd.pcap"));
    write_pcap(&a, &pick(0)).unwrap();
    write_pcap(&b, &pick(1)).unwrap();
    (a, b)
}

#[test]
fn several_files_are_merged_in_timestamp_order() {
    for rel in [NGINX, JOURNEYS] {
        let pkts = read_pcap(fixture(rel)).unwrap();
        assert!(
            pkts.windows(2).all(|w| w[0].ts < w[1].ts),
            "{rel}: distinct timestamps, so the merge order is unique"
        );
        let whole = ok(&[fixture(rel)], &["--quiet"]);
        let dir = scratch("cli-merge");
        let (a, b) = split_alternating(&pkts, &dir);
        // Each half alone is missing every other packet: a real difference to merge away.
        let half = ok(std::slice::from_ref(&a), &["--quiet"]);
        assert_ne!(half.raw, whole.raw, "{rel}");
        for files in [[a.clone(), b.clone()], [b.clone(), a.clone()]] {
            let r = ok(&files, &["--quiet"]);
            assert_eq!(r.raw, whole.raw, "{rel}: {files:?}");
            assert_eq!(r.stats["decode"]["packets"], pkts.len(), "{rel}");
        }
    }
}

#[test]
fn two_runs_give_byte_identical_output() {
    for rel in [NGINX, JOURNEYS] {
        let first = ok(&[fixture(rel)], &["--quiet"]);
        let second = ok(&[fixture(rel)], &["--quiet"]);
        assert!(!first.raw.is_empty());
        assert_eq!(first.raw, second.raw, "{rel}: events");
        assert_eq!(first.stats, second.stats, "{rel}: counters");
    }
}

#[test]
fn output_dash_writes_events_to_stdout() {
    let file = ok(&[fixture(NGINX)], &["--quiet"]);
    let o = Command::new(apitap_bin())
        .arg("replay")
        .arg(fixture(NGINX))
        .arg("--config")
        .arg(core_config())
        .args(["--output", "-"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), file.raw);
    // The summary goes to stderr, never into the events.
    assert!(String::from_utf8_lossy(&o.stderr).contains("packets"));
}

#[test]
fn unwritable_output_is_exit_code_3() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let o = Command::new(apitap_bin())
        .arg("replay")
        .arg(fixture(JOURNEYS))
        .args(["--quiet", "--output", "/dev/full"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot write events"), "{stderr}");
}

#[test]
fn check_config_accepts_a_valid_file_and_names_an_unknown_key() {
    let dir = scratch("cli-check-config");
    let good = dir.join("good.toml");
    std::fs::write(&good, "[reassembly]\nmax_flows = 7\n").unwrap();
    let o = apitap(&["check-config", good.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("valid"), "{stderr}");
    assert!(
        stdout.contains("max_flows = 7"),
        "effective value shown: {stdout}"
    );
    // What it prints is a config file: saved and checked again, it gives the same print.
    let printed = dir.join("printed.toml");
    std::fs::write(&printed, stdout.as_bytes()).unwrap();
    let again = apitap(&["check-config", printed.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&again.stdout), stdout);

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[reassembly]\nmax_flowz = 7\n").unwrap();
    let o = apitap(&["check-config", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("max_flowz"), "{stderr}");
    assert!(stderr.contains(bad.to_str().unwrap()), "{stderr}");

    // The same file given to `replay`: usage error, nothing processed.
    let r = replay_core(&[fixture(NGINX)], &["--config", bad.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("max_flowz"), "{}", r.stderr);
    assert!(r.records.is_empty());
    assert!(r.stats.is_null(), "no stats are written: {}", r.stats);
}

#[test]
fn max_flows_bound_evicts_and_still_produces_records() {
    // journeys.pcap has 9 connections open at overlapping times.
    let dir = scratch("cli-max-flows");
    let cfg = dir.join("one-flow.toml");
    std::fs::write(&cfg, "[reassembly]\nmax_flows = 1\n").unwrap();
    let unbounded = ok(&[fixture(JOURNEYS)], &["--quiet"]);
    assert_eq!(unbounded.stats["reassembly"]["flows_evicted"], 0);
    let r = ok(
        &[fixture(JOURNEYS)],
        &["--quiet", "--config", cfg.to_str().unwrap()],
    );
    let evicted = r.stats["reassembly"]["flows_evicted"].as_u64().unwrap();
    assert!(evicted > 0, "{}", r.stats);
    assert!(!r.records.is_empty());
    assert_eq!(r.stats["export"]["records"], r.records.len());
}

#[test]
fn summary_reports_packets_transactions_and_elapsed_time() {
    let pkts = read_pcap(fixture(NGINX)).unwrap();
    let r = ok(&[fixture(NGINX)], &[]);
    let s = &r.stderr;
    assert!(s.contains(&format!("{} packets", pkts.len())), "{s}");
    assert!(
        s.contains(&format!("transactions: {}", r.records.len())),
        "{s}"
    );
    // "... bytes in 0.002 s: ..."
    let secs = s
        .split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(" s").next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no elapsed time in {s}"));
    assert!(
        secs >= 0.0 && Duration::from_secs_f64(secs) < Duration::from_secs(60),
        "{s}"
    );

    let quiet = ok(&[fixture(NGINX)], &["--quiet"]);
    assert!(quiet.stderr.is_empty(), "--quiet: {}", quiet.stderr);
}

#[test]
fn replay_threads_are_reported_and_workers_is_bounded() {
    let threads_line = |r: &Replay| {
        r.stderr
            .lines()
            .find(|l| l.trim_start().starts_with("threads:"))
            .unwrap_or_else(|| panic!("no threads line in {}", r.stderr))
            .trim()
            .to_string()
    };
    let one = ok(&[fixture(NGINX)], &["--workers", "0"]);
    assert_eq!(threads_line(&one), "threads: one (--workers 0)");
    let two = ok(&[fixture(NGINX)], &["--workers", "2"]);
    assert!(threads_line(&two).contains("2 worker(s)"), "{}", two.stderr);
    // Without the flag: one thread; with one worker, the same bytes.
    let default = ok(&[fixture(NGINX)], &[]);
    assert_eq!(threads_line(&default), "threads: one (--workers 0)");
    assert_eq!(default.raw, one.raw);
    let worker = ok(&[fixture(NGINX)], &["--workers", "1"]);
    assert!(
        threads_line(&worker).contains("1 worker(s)"),
        "{}",
        worker.stderr
    );
    assert_eq!(worker.raw, one.raw);

    let too_many = replay_core(&[fixture(NGINX)], &["--workers", "1000"]);
    assert_eq!(too_many.code, 2, "{}", too_many.stderr);
    assert!(
        too_many
            .stderr
            .contains("--workers must be between 0 (one thread) and"),
        "{}",
        too_many.stderr
    );
}

/// `apitap` with `args`, without a session secret in the environment.
fn apitap_without_secret(args: &[&str]) -> std::process::Output {
    Command::new(apitap_bin())
        .args(args)
        .env_remove("APITAP_SESSION_SECRET")
        .output()
        .unwrap()
}

/// Regression (issue 20, item 9): the random-secret warning printed on every replay, even
/// with `-q`. Without `-q` it is still said, once.
#[test]
fn quiet_replay_says_nothing_even_without_a_session_secret() {
    let dir = scratch("cli-quiet-secret");
    let out = dir.join("events.jsonl");
    let pcap = fixture(JOURNEYS);
    let args = [
        "replay",
        pcap.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    let quiet = apitap_without_secret(&[&args[..], &["-q"]].concat());
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "", "-q");
    let loud = apitap_without_secret(&args);
    let stderr = String::from_utf8_lossy(&loud.stderr);
    assert_eq!(
        stderr.matches("no session secret configured").count(),
        1,
        "{stderr}"
    );
}

/// Regression (issue 20, item 9): `live` printed each fatal error twice (a log line and a
/// plain line).
#[test]
fn a_fatal_live_error_is_printed_once() {
    let o = apitap(&["live", "--interface", "apitap-no-such-if0"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.matches("apitap-no-such-if0").count(),
        1,
        "the error, once: {stderr}"
    );
}

/// Regression (issue 20, item 9): `--progress always` drew nothing when stderr is not a
/// terminal; it writes plain progress lines instead, the last at 100 %.
#[test]
fn progress_always_writes_plain_lines_when_stderr_is_not_a_terminal() {
    let r = replay_core(&[fixture(NGINX)], &["--progress", "always", "--quiet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let size = std::fs::metadata(fixture(NGINX)).unwrap().len();
    let last = r
        .stderr
        .lines()
        .rfind(|l| l.starts_with("apitap: progress"))
        .unwrap_or_else(|| panic!("no progress line: {:?}", r.stderr));
    assert!(last.contains("100 %"), "{last}");
    assert!(last.contains(&format!("{size} of {size} bytes")), "{last}");
    assert!(
        !r.stderr.contains('\r') && !r.stderr.contains('\x1b'),
        "{:?}",
        r.stderr
    );
    // Without `always`, a non-terminal gets no progress at all.
    let auto = replay_core(&[fixture(NGINX)], &["--quiet"]);
    assert_eq!(auto.stderr, "");
}

/// Regression (issue 20, item 9): the listen summary said "0 file(s)", and reported the
/// doubled receive buffer against the flag's value without a word.
#[test]
fn listen_summary_names_no_files_and_explains_the_receive_buffer() {
    let dir = scratch("cli-listen-summary");
    let out = dir.join("events.jsonl");
    let o = apitap(&[
        "listen",
        "--vxlan",
        "127.0.0.1:0",
        "--rcvbuf-bytes",
        "1048576",
        "--duration-ms",
        "300",
        "--output",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("file(s)"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("receive buffer"))
        .unwrap_or_else(|| panic!("no receive buffer line: {stderr}"));
    assert!(line.contains("1048576 bytes asked"), "{line}");
    // Linux doubles SO_RCVBUF (root may exceed rmem_max); the line says so.
    assert!(
        line.contains("granted") && line.contains("doubles"),
        "{line}"
    );
}

/// The UDP payloads (VXLAN) of a capture's outer packets.
fn udp_payloads(rel: &str) -> Vec<Vec<u8>> {
    read_pcap(fixture(rel))
        .unwrap()
        .iter()
        .filter_map(|p| {
            let s = etherparse::SlicedPacket::from_ethernet(&p.data).ok()?;
            match s.transport? {
                etherparse::TransportSlice::Udp(u) => Some(u.payload().to_vec()),
                _ => None,
            }
        })
        .collect()
}

/// `listen` shares `live`'s signals: the first SIGTERM starts a clean shutdown, a second one
/// exits at once (status 130) however long the flush would take. Here the flush waits for a
/// "broker" that accepts connections and never answers.
#[test]
fn listen_exits_at_once_on_a_second_signal() {
    use std::net::{TcpListener, UdpSocket};
    use std::process::Stdio;
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let broker = silent.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c); // accepted, never answered
        }
    });
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(apitap_bin())
        .args(["listen", "--vxlan", &format!("127.0.0.1:{port}"), "-q"])
        .args(["--kafka-brokers", &broker])
        .env("APITAP_SESSION_SECRET", "listen-test-secret-0123456789")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Ready when the port is bound (a loaded machine may take more than a moment to start):
    // /proc/net/udp lists local addresses as `0100007F:PORT` in hex.
    let entry = format!("0100007F:{port:04X}");
    let bound = std::time::Instant::now();
    while !std::fs::read_to_string("/proc/net/udp").is_ok_and(|t| t.contains(&entry)) {
        assert!(
            bound.elapsed() < Duration::from_secs(20),
            "listen never bound"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let datagrams = udp_payloads("tunnels/vxlan-outer.pcap");
    assert!(!datagrams.is_empty());
    for d in &datagrams {
        sender.send_to(d, ("127.0.0.1", port)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let kill = |child: &std::process::Child| {
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    kill(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first signal's flush should still be waiting for the silent broker"
    );
    kill(&child);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(2) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(130),
        "a second SIGTERM exits at once with 130"
    );
}
