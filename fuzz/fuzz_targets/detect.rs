//! The attack detector: an arbitrary request (target, headers, body under each content type,
//! paranoia level, one of two sets of bounds) through `Detector::scan`, and an arbitrary
//! response through `outcome`. The eight detectors are built once: building compiles every
//! rule, which would take most of each run.
//!
//! Checks besides "no panic": at most `max_findings` findings, none repeated (class, rule,
//! location), evidence at most `MAX_EVIDENCE_BYTES`; the scan report's value count within
//! `max_fields`; a worker's `Scanner`, which remembers the clean values of every input before
//! (one per detector, kept across runs), finds the same, twice.
#![no_main]

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::OnceLock;

use apitap_detect::{outcome, DetectConfig, Detector, Request, Scanner, MAX_EVIDENCE_BYTES};
use apitap_fuzz::Payload;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [&str; 8] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b",
    "application/xml",
    "application/graphql",
    "text/plain",
    "image/png",
    "",
];

#[derive(Arbitrary, Debug)]
struct Input {
    paranoia: u8,
    /// Odd: the small bounds.
    bounds: u8,
    /// Not read; a spare byte in the seeds' layout.
    _spare: u8,
    content_type: u8,
    target: Payload,
    headers: Vec<(Payload, Payload)>,
    body: Payload,
    status: Option<u16>,
    response_type: u8,
    response_body: Payload,
}

/// Bounds: small ones that the fuzzer reaches, and the defaults.
fn config(paranoia: u8, small: bool) -> DetectConfig {
    let base = DetectConfig { paranoia, max_findings: 8, ..DetectConfig::default() };
    if small {
        DetectConfig { max_fields: 12, max_value_bytes: 48, max_request_scan_bytes: 256, ..base }
    } else {
        base
    }
}

/// The detector for a level (1..=4) and a bounds choice, with its config.
fn detector(paranoia: u8, small: bool) -> &'static (DetectConfig, Detector) {
    static ALL: OnceLock<Vec<(DetectConfig, Detector)>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        (0..8)
            .map(|i| {
                let cfg = config(1 + i / 2, i % 2 == 1);
                let det = Detector::new(&cfg).expect("valid config");
                (cfg, det)
            })
            .collect()
    });
    &all[usize::from((paranoia - 1) * 2 + u8::from(small))]
}

thread_local! {
    /// A scanner per detector, in [`detector`]'s order, remembering across runs.
    static SCANNERS: RefCell<Vec<Scanner>> = RefCell::new(
        (0..8u8).map(|i| detector(1 + i / 2, i % 2 == 1).1.scanner()).collect(),
    );
}

fn text(p: &Payload) -> String {
    String::from_utf8_lossy(&p.0).into_owned()
}

fuzz_target!(|input: Input| {
    let (cfg, det) = detector(1 + input.paranoia % 4, input.bounds % 2 == 1);
    let target = text(&input.target);
    let mut headers: Vec<(String, String)> = input.headers.iter().take(16).map(|(n, v)| (text(n), text(v))).collect();
    let ct = CONTENT_TYPES[usize::from(input.content_type) % CONTENT_TYPES.len()];
    headers.push(("Content-Type".into(), ct.into()));
    let borrowed: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let req = Request {
        method: "POST",
        target: &target,
        headers: &borrowed,
        body: &input.body.0,
        body_truncated: false,
        endpoint: None,
        client: None,
    };
    let mut out = Vec::new();
    let report = det.scan(&req, &mut out);
    assert!(out.len() <= cfg.max_findings);
    assert!(report.values as usize <= cfg.max_fields);
    let mut seen = HashSet::new();
    for f in &out {
        assert!(f.evidence.len() <= MAX_EVIDENCE_BYTES);
        assert!(seen.insert((f.class, f.rule, f.location.clone())), "repeated finding {f:?}");
    }
    let index = usize::from((1 + input.paranoia % 4 - 1) * 2 + u8::from(input.bounds % 2 == 1));
    SCANNERS.with_borrow_mut(|scanners| {
        for _ in 0..2 {
            let mut again = Vec::new();
            let _ = scanners[index].scan(&req, &mut again);
            assert_eq!(out, again);
        }
    });

    let rt = CONTENT_TYPES[usize::from(input.response_type) % CONTENT_TYPES.len()];
    let _ = outcome(input.status, Some(rt), &input.response_body.0);
});
