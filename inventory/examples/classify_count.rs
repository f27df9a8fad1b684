//! Classify the bench's request mix `ROUNDS` x 1024 times, for an instruction count that
//! does not depend on how busy the machine is:
//!
//! ```sh
//! for n in 1 11; do valgrind --tool=cachegrind --cache-sim=no \
//!     target/release/examples/classify_count $n; done
//! ```
//!
//! (instructions of 11 rounds - instructions of 1) / (10 x 1024) = instructions per
//! classification. With a second argument `infer`, the rounds infer the schema of the
//! bench's 1 KiB JSON body instead (one per round). docs/bench.md has the figures.

#[path = "../benches/workload.rs"]
mod workload;

use std::hint::black_box;

use apitap_inventory::{infer_json, ApiConfig, ApiRequest, Matcher, Spec};
use workload::{listing_body, request, spec_yaml, BATCH};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    if std::env::args().nth(2).as_deref() == Some("infer") {
        let body = listing_body();
        let mut fields = 0;
        for _ in 0..rounds {
            if let apitap_inventory::Inference::Complete(s) = infer_json(black_box(body.as_bytes()))
            {
                fields += s.fields.len();
            }
        }
        println!(
            "{rounds} inferences of {} bytes: {fields} fields",
            body.len()
        );
        return;
    }
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
