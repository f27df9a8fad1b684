//! Classify the bench's request mix `ROUNDS` x 1024 times, for an instruction count that
//! does not depend on how busy the machine is:
//!
//! ```sh
//! for n in 1 11; do valgrind --tool=cachegrind --cache-sim=no \
//!     target/release/examples/classify_count $n; done
//! ```
//!
//! (instructions of 11 rounds - instructions of 1) / (10 x 1024) = instructions per
//! classification. docs/bench.md has the figures.

#[path = "../benches/workload.rs"]
mod workload;

use std::hint::black_box;

use apitap_inventory::{ApiConfig, ApiRequest, Matcher, Spec};
use workload::{request, spec_yaml, BATCH};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let spec = Spec::parse("bench.yaml", spec_yaml().as_bytes()).expect("the generated spec loads");
    let matcher = Matcher::new(vec![spec], &ApiConfig::new()).expect("the matcher builds");
    let requests: Vec<_> = (0..BATCH).map(request).collect();
    let mut drift = 0;
    for _ in 0..rounds {
        for (host, method, path, query) in &requests {
            let r = ApiRequest {
                host: Some(host),
                method,
                path,
                query: query.as_deref(),
                status: Some(200),
                content_type: None,
            };
            drift += black_box(matcher.classify(black_box(&r))).drift.len();
        }
    }
    println!("{rounds} rounds of {BATCH}: {drift} drifts");
}
