//! The detector against labelled request corpora (`fixtures/attack-corpus/`, provenance in its
//! README): libinjection's test vectors, PayloadsAllTheThings payloads, libinjection's
//! false-positive list and our benign API set. Asserts the issue 22 floors at the default
//! paranoia level and prints a confusion table per class. Every record is also read by one
//! worker's [`Scanner`], whose memory of clean values must not change a finding:
//!
//! ```sh
//! cargo test -p apitap-detect --release --test corpus -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use apitap_detect::{Class, DetectConfig, Detector, Finding, Request, Scanner};
use serde_json::Value;

/// One labelled request of a corpus file.
struct Record {
    source: String,
    id: String,
    /// The labelled class; None for benign requests.
    class: Option<String>,
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/attack-corpus")
}

/// The records of a `.jsonl.gz` corpus file.
fn load(file: &str) -> Vec<Record> {
    let path = corpus_dir().join(file);
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines = BufReader::new(flate2::read::GzDecoder::new(f)).lines();
    lines
        .map(|l| {
            let v: Value = serde_json::from_str(&l.expect("corpus line")).expect("corpus JSON");
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let latin1 = v["encoding"].as_str() == Some("latin-1");
            let body = text("body");
            let body = if latin1 {
                body.chars().map(|c| c as u32 as u8).collect()
            } else {
                body.into_bytes()
            };
            let headers = v["headers"]
                .as_array()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            (
                                h[0].as_str().unwrap_or_default().to_string(),
                                h[1].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let class = (v["label"].as_str() == Some("attack")).then(|| text("class"));
            Record {
                source: text("source"),
                id: text("id"),
                class,
                method: text("method"),
                uri: text("uri"),
                headers,
                body,
            }
        })
        .collect()
}

/// The findings of one record, by the shared detector and by a worker's scanner (with its
/// memory of clean values from the records before), which must agree.
fn scan(det: &Detector, scanner: &mut Scanner, r: &Record) -> Vec<Finding> {
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let req = Request {
        method: &r.method,
        target: &r.uri,
        headers: &headers,
        body: &r.body,
        body_truncated: false,
        endpoint: None,
        client: None,
    };
    let mut out = Vec::new();
    let _ = det.scan(&req, &mut out);
    let mut remembered = Vec::new();
    let _ = scanner.scan(&req, &mut remembered);
    assert_eq!(
        out, remembered,
        "{} {}: the scanner's findings differ",
        r.source, r.id
    );
    out
}

/// Counts per labelled class: records, and records by the class predicted (the labelled one
/// if any finding has it, else the first finding's class, else "none").
#[derive(Default)]
struct Confusion {
    rows: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Confusion {
    fn add(&mut self, label: &str, findings: &[Finding]) {
        let predicted = if findings.iter().any(|f| f.class.name() == label) {
            label.to_string()
        } else {
            findings
                .first()
                .map_or("none".to_string(), |f| f.class.name().to_string())
        };
        *self
            .rows
            .entry(label.to_string())
            .or_default()
            .entry(predicted)
            .or_default() += 1;
    }

    fn total(&self, label: &str) -> usize {
        self.rows.get(label).map_or(0, |r| r.values().sum())
    }

    fn none(&self, label: &str) -> usize {
        self.rows
            .get(label)
            .and_then(|r| r.get("none"))
            .copied()
            .unwrap_or(0)
    }

    /// Detection rate of `label` (any class counts as a detection).
    fn tpr(&self, label: &str) -> f64 {
        let total = self.total(label);
        if total == 0 {
            return 1.0;
        }
        (total - self.none(label)) as f64 / total as f64
    }

    fn print(&self, title: &str) {
        let mut cols: Vec<String> = Class::ALL
            .iter()
            .map(|c| c.name().to_string())
            .filter(|c| c != "protocol")
            .collect();
        cols.push("none".into());
        eprintln!("\n{title}: labelled (rows) by predicted (columns)");
        eprint!("{:>12} {:>6} {:>7}", "label", "n", "rate");
        for c in &cols {
            eprint!(" {:>9}", c);
        }
        eprintln!();
        for (label, row) in &self.rows {
            let rate = if label == "benign" {
                1.0 - self.tpr(label)
            } else {
                self.tpr(label)
            };
            eprint!(
                "{:>12} {:>6} {:>6.2}%",
                label,
                self.total(label),
                rate * 100.0
            );
            for c in &cols {
                eprint!(" {:>9}", row.get(c).copied().unwrap_or(0));
            }
            eprintln!();
        }
    }
}

/// Runs `records` through the detector: the confusion table and the misses (attacks) or false
/// positives (benign), with their first finding.
fn evaluate(det: &Detector, records: &[Record]) -> (Confusion, Vec<String>) {
    let mut confusion = Confusion::default();
    let mut wrong = Vec::new();
    let mut scanner = det.scanner();
    for r in records {
        let findings = scan(det, &mut scanner, r);
        let label = r.class.clone().unwrap_or_else(|| "benign".into());
        confusion.add(&label, &findings);
        let is_wrong = if r.class.is_some() {
            findings.is_empty()
        } else {
            !findings.is_empty()
        };
        if is_wrong {
            let f = findings
                .first()
                .map(|f| format!("{} {} {} {:?}", f.class, f.rule, f.location, f.evidence));
            let uri: String = r.uri.chars().take(120).collect();
            wrong.push(format!(
                "{} {} {label} {uri} -> {}",
                r.source,
                r.id,
                f.unwrap_or_default()
            ));
        }
    }
    (confusion, wrong)
}

/// Prints what went wrong: 10 lines per label, or all with `DETECT_CORPUS_SHOW=all`.
fn show(kind: &str, wrong: &[String]) {
    let all = std::env::var("DETECT_CORPUS_SHOW").is_ok_and(|v| v == "all");
    eprintln!("{kind}: {}", wrong.len());
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    for w in wrong {
        let label = w.split(' ').nth(2).unwrap_or("");
        let n = shown.entry(label).or_default();
        *n += 1;
        if all || *n <= 10 {
            eprintln!("  {w}");
        }
    }
}

#[test]
fn detection_and_false_positive_rates_at_the_default_level() {
    let det = Detector::new(&DetectConfig::default()).expect("default config");
    let libinjection = load("libinjection.jsonl.gz");
    let patt = load("patt.jsonl.gz");
    let benign = load("benign-api.jsonl.gz");

    let (lib, lib_wrong) = evaluate(&det, &libinjection);
    let (pat, pat_wrong) = evaluate(&det, &patt);
    let (ben, ben_wrong) = evaluate(&det, &benign);
    lib.print("libinjection (its data/ vectors and false_positives.txt)");
    pat.print("PayloadsAllTheThings");
    ben.print("apitap benign API set");
    show("libinjection misses and false positives", &lib_wrong);
    show("PayloadsAllTheThings misses", &pat_wrong);
    show("benign API set false positives", &ben_wrong);

    let mut failures = Vec::new();
    for class in ["sqli", "xss"] {
        let tpr = lib.tpr(class);
        if tpr < 0.99 {
            failures.push(format!(
                "{class} on libinjection's vectors: {:.2}% < 99%",
                tpr * 100.0
            ));
        }
    }
    let mut dev = Confusion::default();
    for c in [&lib, &pat] {
        for (label, row) in &c.rows {
            for (pred, n) in row {
                *dev.rows
                    .entry(label.clone())
                    .or_default()
                    .entry(pred.clone())
                    .or_default() += n;
            }
        }
    }
    for label in dev.rows.keys().filter(|l| *l != "benign") {
        let tpr = dev.tpr(label);
        if tpr < 0.95 {
            failures.push(format!(
                "{label} on the dev corpus: {:.2}% < 95%",
                tpr * 100.0
            ));
        }
    }
    let benign_total = lib.total("benign") + ben.total("benign");
    let false_positives = benign_total - lib.none("benign") - ben.none("benign");
    let fpr = false_positives as f64 / benign_total as f64;
    eprintln!(
        "\nFPR over {benign_total} benign requests: {false_positives} ({:.3}%)",
        fpr * 100.0
    );
    if fpr > 0.001 {
        failures.push(format!(
            "FPR {:.3}% > 0.1% ({false_positives} of {benign_total})",
            fpr * 100.0
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
