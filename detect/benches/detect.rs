//! What detection costs per request: the bench capture's traffic (`sets::bench_traffic`, the
//! requests `apitap-gen-traffic` writes), a mobile client's requests with trickier content,
//! and requests that each carry one attack class. Each set is read by a worker's [`Scanner`]
//! (as the pipeline reads, with its memory of clean values) and by [`Detector::scan`] (none).
//!
//! ```sh
//! cargo bench -p apitap-detect --bench detect
//! ```
//! Criterion reports time per iteration over the whole set and, with the element throughput,
//! requests per second; the summary lines printed first give ns per request of one quick
//! pass. Time on a shared machine moves with its load: instruction counts
//! (`examples/detect_cost.rs`, `scripts/detect-cost.sh`) are the comparison that holds.
//! Figures belong in docs/bench.md, not here.

mod sets;

use std::hint::black_box;
use std::time::Instant;

use apitap_detect::{DetectConfig, Detector, Finding};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sets::{By, Owned, Prepared};

/// Requests of the bench capture's traffic per iteration: enough clients that a scanner's
/// memory sees what it sees in a capture.
const BENCH_REQUESTS: usize = 4_000;

/// Scans every request of `set` once.
fn scan_all(by: &mut By, set: &[Prepared<'_>], out: &mut Vec<Finding>) {
    for o in set {
        black_box(by.scan(o, out));
    }
}

/// The sets, by name.
fn sets() -> Vec<(String, Vec<Owned>)> {
    let mut all = vec![
        ("bench".to_string(), sets::bench_traffic(BENCH_REQUESTS, 1)),
        ("mobile".to_string(), sets::mobile()),
    ];
    all.extend(
        sets::attacks()
            .into_iter()
            .map(|(c, o)| (format!("attack/{c}"), vec![o])),
    );
    all
}

/// A quick ns-per-request figure for each set, printed before Criterion's own measurements.
fn summary(det: &Detector, sets: &[(String, Vec<Owned>)]) {
    let mut out = Vec::new();
    for (name, set) in sets {
        let set: Vec<Prepared<'_>> = set.iter().map(Owned::prepare).collect();
        let rounds = (20_000 / set.len()).max(1);
        for (how, mut by) in [
            ("scanner", By::Scanner(Box::new(det.scanner()))),
            ("detector", By::Detector(det.clone())),
        ] {
            let start = Instant::now();
            for _ in 0..rounds {
                scan_all(&mut by, &set, &mut out);
            }
            let ns = start.elapsed().as_nanos() as f64 / (rounds * set.len()) as f64;
            eprintln!("summary {name:<16} {how:<8} {ns:>9.0} ns/request");
        }
    }
}

fn bench(c: &mut Criterion) {
    let det = Detector::new(&DetectConfig::default()).expect("default config");
    let sets = sets();
    summary(&det, &sets);
    let mut out = Vec::new();
    let mut g = c.benchmark_group("detect");
    for (name, set) in &sets {
        let set: Vec<Prepared<'_>> = set.iter().map(Owned::prepare).collect();
        g.throughput(Throughput::Elements(set.len() as u64));
        let mut scanner = By::Scanner(Box::new(det.scanner()));
        g.bench_function(format!("{name}/scanner"), |b| {
            b.iter(|| scan_all(&mut scanner, &set, &mut out))
        });
        let mut detector = By::Detector(det.clone());
        g.bench_function(format!("{name}/detector"), |b| {
            b.iter(|| scan_all(&mut detector, &set, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
