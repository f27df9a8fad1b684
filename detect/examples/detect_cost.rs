//! Instructions per request, under cachegrind: scans one request set, or only builds it, so
//! that the difference of two runs is the scanning alone.
//!
//! ```sh
//! cargo build --release -p apitap-detect --example detect_cost
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/detect_cost bench 20000
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/detect_cost bench 20000 --no-scan
//! ```
//! (instructions of the first run - of the second) / requests = instructions per request.
//! `scripts/detect-cost.sh` runs both for every set and prints that figure.
//!
//! By default a [`apitap_detect::Scanner`] reads the set, as a pipeline worker would, with its
//! memory of clean values; `--no-cache` reads it with [`Detector::scan`], which keeps none.
//!
//! `--print` prints every finding (request number, class, rule, location, evidence) instead,
//! to compare two builds' findings.
//!
//! Sets: `bench` (the bench capture's traffic, `n` requests), `mobile` and `attacks` (the
//! criterion bench's sets, repeated to `n`), `corpus-attacks` and `corpus-benign` (every
//! attack or benign record of `fixtures/attack-corpus/`, `n` ignored).

#[path = "../benches/sets/mod.rs"]
mod sets;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use apitap_detect::{DetectConfig, Detector};
use sets::{By, Owned, Prepared};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let set = args.first().map_or("bench", String::as_str);
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let scan = !args.iter().any(|a| a == "--no-scan");
    let cached = !args.iter().any(|a| a == "--no-cache");
    let print = args.iter().any(|a| a == "--print");
    let requests = match set {
        "bench" => sets::bench_traffic(n, 1),
        "mobile" => repeat(sets::mobile(), n),
        "attacks" => repeat(sets::attacks().into_iter().map(|(_, o)| o).collect(), n),
        "corpus-attacks" => corpus(true),
        "corpus-benign" => corpus(false),
        other => {
            eprintln!("unknown set {other}: bench, mobile, attacks, corpus-attacks, corpus-benign");
            std::process::exit(2);
        }
    };
    let det = Detector::new(&DetectConfig::default()).expect("default config");
    // The rules' regexes, compiled on first use otherwise, compiled in both runs.
    det.compile_rules();
    let mut out = Vec::new();
    // The attack set scanned once before counting starts, with or without scanning after:
    // the rules' lazily built tables and search caches are then built in both runs. By a
    // detector: a scanner's memory starts empty.
    for (_, attack) in sets::attacks() {
        By::Detector(det.clone()).scan(&attack.prepare(), &mut out);
    }
    let prepared: Vec<Prepared<'_>> = requests.iter().map(Owned::prepare).collect();
    let mut by = if cached {
        By::Scanner(Box::new(det.scanner()))
    } else {
        By::Detector(det)
    };
    let mut findings = 0;
    if print {
        for (i, r) in prepared.iter().enumerate() {
            by.scan(r, &mut out);
            for f in &out {
                println!("{i} {} {} {} {:?}", f.class, f.rule, f.location, f.evidence);
            }
        }
    } else if scan {
        findings = scan_all(&mut by, &prepared, &mut out);
    }
    println!(
        "set={set} requests={} scanned={scan} cached={cached} findings={findings}",
        requests.len()
    );
}

/// Scans every request once; kept out of line so that a profile shows it as one entry.
#[inline(never)]
fn scan_all(
    by: &mut By,
    requests: &[Prepared<'_>],
    out: &mut Vec<apitap_detect::Finding>,
) -> usize {
    requests.iter().map(|r| by.scan(r, out)).sum()
}

/// `set` repeated to `n` requests.
fn repeat(set: Vec<Owned>, n: usize) -> Vec<Owned> {
    let mut all = Vec::with_capacity(n);
    while all.len() < n {
        for o in &set {
            if all.len() == n {
                break;
            }
            all.push(Owned {
                method: o.method,
                target: o.target.clone(),
                headers: o.headers.clone(),
                body: o.body.clone(),
            });
        }
    }
    all
}

/// Every record of the corpus files labelled attack (or benign).
fn corpus(attacks: bool) -> Vec<Owned> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/attack-corpus");
    let files: &[&str] = if attacks {
        &["libinjection.jsonl.gz", "patt.jsonl.gz"]
    } else {
        &["benign-api.jsonl.gz", "libinjection.jsonl.gz"]
    };
    let mut out = Vec::new();
    for file in files {
        let f = std::fs::File::open(dir.join(file)).expect("corpus file");
        for line in BufReader::new(flate2::read::GzDecoder::new(f)).lines() {
            let v: serde_json::Value = serde_json::from_str(&line.expect("line")).expect("JSON");
            if (v["label"].as_str() == Some("attack")) != attacks {
                continue;
            }
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let body = text("body");
            let body = if v["encoding"].as_str() == Some("latin-1") {
                body.chars().map(|c| c as u32 as u8).collect()
            } else {
                body.into_bytes()
            };
            let headers = v["headers"]
                .as_array()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            let name: &'static str = leak(h[0].as_str().unwrap_or_default());
                            (name, h[1].as_str().unwrap_or_default().to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Owned {
                method: leak(&text("method")),
                target: text("uri"),
                headers,
                body,
            });
        }
    }
    out
}

/// A header name or method kept for the whole run (a few distinct ones, interned).
fn leak(s: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut seen = SEEN.lock().expect("not poisoned");
    let seen = seen.get_or_insert_with(HashSet::new);
    if let Some(s) = seen.get(s) {
        return s;
    }
    let s: &'static str = Box::leak(s.to_string().into_boxed_str());
    seen.insert(s);
    s
}
