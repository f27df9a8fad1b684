//! Classification cost with a generated 200-operation spec, and schema inference cost.
//!
//! `cargo bench -p apitap-inventory --bench classify`; figures go in docs/bench.md.

use std::hint::black_box;

use apitap_inventory::{infer_json, ApiConfig, ApiRequest, Matcher, Spec};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "workload.rs"]
mod workload;

use workload::{listing_body, request, spec_yaml, BATCH};

fn classify(c: &mut Criterion) {
    let spec = Spec::parse("bench.yaml", spec_yaml().as_bytes()).expect("the generated spec loads");
    assert_eq!(spec.operations.len(), 200);
    let matcher = Matcher::new(vec![spec], &ApiConfig::new()).expect("the matcher builds");
    let requests: Vec<_> = (0..BATCH).map(request).collect();
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("200_operations_mixed", |b| {
        b.iter(|| {
            let mut drift = 0;
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
            drift
        })
    });
    g.finish();
}

fn infer(c: &mut Criterion) {
    let body = listing_body();
    let mut g = c.benchmark_group("infer");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("listing_1kb", |b| {
        b.iter(|| infer_json(black_box(body.as_bytes())))
    });
    g.finish();
}

criterion_group!(benches, classify, infer);
criterion_main!(benches);
