//! The memory budget against adversarial captures (issue 20, item 4), through the real
//! binary: a SYN flood, connections parked on unfinished heads, and unanswered pipelined
//! requests. Each capture is written in the test ([`apitap_tests::adversarial`]) and replayed
//! with `limits.max_memory_mb = 16`; the replay's peak resident set (`ru_maxrss` of the child
//! alone) must stay within the budget plus [`FIXED_COST_MIB`].
//!
//! Without the budget (1 GiB by default, the same as none at these sizes) the same captures
//! peak at 110-165 MiB in a debug build: each one holds far more than the bound it is checked
//! against. `scripts/bench-memory.sh` runs them at full size and default limits.

use std::path::Path;

use apitap_tests::adversarial::{self, Scenario};
use apitap_tests::harness::{apitap, apitap_measured, scratch, Measured};
use serde_json::Value;

/// The budget the captures are replayed with, in MiB.
const BUDGET_MIB: u64 = 16;

/// What the sensor costs whatever the traffic, in MiB: the program and its libraries, the
/// detection automata, the fixed caches and queues, the tables' indexes sized for their
/// bounds. A debug build replaying one SYN with this config peaks at about 45 MiB.
const FIXED_COST_MIB: u64 = 48;

/// The config: the small budget, heads up to 16 KiB, sessions off (the core pipeline).
const CONFIG: &str = "[limits]\nmax_memory_mb = 16\n[http]\nmax_header_bytes = 16384\n\
                      [session]\nenabled = false\n";

/// One replay of a written capture: its peak, its counters and its records.
struct Run {
    measured: Measured,
    stats: Value,
    records: Vec<Value>,
}

/// Write `scenario` and replay it with [`CONFIG`] and `args`.
fn replay(name: &str, scenario: Scenario, args: &[&str]) -> Run {
    let dir = scratch(&format!("memory-{name}"));
    let pcap = dir.join(format!("{name}.pcap"));
    let file = std::fs::File::create(&pcap).expect("create capture");
    adversarial::write(scenario, std::io::BufWriter::new(file)).expect("write capture");
    let config = dir.join("config.toml");
    std::fs::write(&config, CONFIG).expect("write config");
    let (out, stats) = (dir.join("out.jsonl"), dir.join("stats.json"));
    let mut all = vec![
        "replay",
        "--quiet",
        "--config",
        path(&config),
        "--output",
        path(&out),
        "--stats-json",
        path(&stats),
        path(&pcap),
    ];
    all.extend_from_slice(args);
    let measured = apitap_measured(&all);
    assert_eq!(measured.code, 0, "{name}: {}", measured.stderr);
    let stats = serde_json::from_slice(&std::fs::read(&stats).expect("stats")).expect("json");
    let records = std::fs::read_to_string(&out)
        .expect("records")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        measured,
        stats,
        records,
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// The peak stays within the budget plus the fixed cost.
fn assert_within_budget(name: &str, run: &Run) {
    let peak_mib = run.measured.max_rss_kib as f64 / 1024.0;
    eprintln!("{name}: peak RSS {peak_mib:.1} MiB");
    assert!(
        run.measured.max_rss_kib <= (BUDGET_MIB + FIXED_COST_MIB) * 1024,
        "{name}: peak RSS {peak_mib:.1} MiB is over the budget {BUDGET_MIB} MiB + {FIXED_COST_MIB} MiB"
    );
}

fn count(stats: &Value, ptr: &str) -> u64 {
    stats
        .pointer(ptr)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no counter {ptr}"))
}

/// The flow bound `apitap check-config` says the budget gives (`test`: a scratch name of the
/// test's own: tests run at once).
fn derived_max_flows(test: &str) -> u64 {
    let dir = scratch(&format!("memory-check-config-{test}"));
    let config = dir.join("config.toml");
    std::fs::write(&config, CONFIG).expect("write config");
    let out = apitap(&["check-config", path(&config)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    text.lines()
        .find_map(|l| l.strip_prefix("#   reassembly.max_flows = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no derived max_flows in:\n{text}"))
}

/// 100,000 half-open connections (about 160 MiB of flows unbounded): the flow table keeps
/// its share, the bound check-config reports, and evicts the oldest beyond it.
#[test]
fn a_syn_flood_stays_within_the_budget() {
    let max_flows = derived_max_flows("one");
    // The flows' share (20 % of 16 MiB) over what one flow costs: a few thousand.
    assert!((1_000..5_000).contains(&max_flows), "max_flows {max_flows}");
    let run = replay("syn-flood", Scenario::SynFlood { syns: 100_000 }, &[]);
    assert_within_budget("syn flood", &run);
    let evicted = count(&run.stats, "/reassembly/flows_evicted");
    assert_eq!(
        evicted,
        100_000 - max_flows,
        "all but max_flows flows are evicted"
    );
}

/// With two workers each keeps half the flows' share: together no more than one.
#[test]
fn a_syn_flood_on_two_workers_shares_the_budget() {
    let max_flows = derived_max_flows("two");
    let run = replay(
        "syn-flood-2",
        Scenario::SynFlood { syns: 100_000 },
        &["--workers", "2"],
    );
    assert_within_budget("syn flood, 2 workers", &run);
    let evicted = count(&run.stats, "/reassembly/flows_evicted");
    assert!(
        evicted >= 100_000 - max_flows,
        "{evicted} evicted: the two workers kept more than {max_flows} flows"
    );
}

/// 2,000 connections parked on a 15 KB head each (30 MB of heads, doubled when held
/// unbounded): at the HTTP share the least recently active give their heads up.
#[test]
fn parked_partial_heads_stay_within_the_budget() {
    let run = replay(
        "parked-heads",
        Scenario::ParkedHeads {
            conns: 2_000,
            head_bytes: 15_000,
        },
        &[],
    );
    assert_within_budget("parked heads", &run);
    assert!(count(&run.stats, "/http/memory_evictions") > 0);
    // What HTTP held at most: its share (20 % of 16 MiB) and the overshoot of one segment.
    let peak = count(&run.stats, "/http/held_bytes_peak");
    assert!(
        peak <= BUDGET_MIB * 1024 * 1024 / 5 + 16_384,
        "HTTP held {peak} bytes"
    );
    assert!(run.records.is_empty(), "a head is not a transaction");
}

/// 100 connections with 64 pipelined 6 KB requests each and no response: every request
/// still leaves as a transaction, those evicted at the bound marked `memory_limit`.
#[test]
fn unanswered_pipelined_requests_stay_within_the_budget() {
    let (conns, requests) = (100, 64);
    let run = replay(
        "pipelined",
        Scenario::Pipelined {
            conns,
            requests,
            request_bytes: 6_000,
        },
        &[],
    );
    assert_within_budget("pipelined", &run);
    let http: Vec<&Value> = run.records.iter().filter(|r| r["type"] == "http").collect();
    assert_eq!(
        http.len(),
        (conns * requests) as usize,
        "no request is lost"
    );
    let marked = http
        .iter()
        .filter(|r| {
            r["anomalies"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "memory_limit"))
        })
        .count() as u64;
    assert!(marked > 0);
    assert_eq!(marked, count(&run.stats, "/http/anomalies/memory_limit"));
    assert!(count(&run.stats, "/http/memory_evictions") > 0);
    let unanswered = http.iter().filter(|r| r["response"].is_null()).count();
    assert_eq!(unanswered, http.len(), "no response was sent");
}
