//! The attack detector: an arbitrary request (target, headers, body under each content type,
//! paranoia level, small bounds) through `Detector::scan`, and an arbitrary response through
//! `outcome`.
//!
//! Checks besides "no panic": at most `max_findings` findings, none repeated (class, rule,
//! location), evidence at most `MAX_EVIDENCE_BYTES`; the scan report's value count within
//! `max_fields`; scanning twice gives the same findings (no hidden state).
#![no_main]

use std::collections::HashSet;

use apitap_detect::{outcome, DetectConfig, Detector, Request, MAX_EVIDENCE_BYTES};
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
    max_fields: u8,
    max_value_bytes: u8,
    content_type: u8,
    target: Payload,
    headers: Vec<(Payload, Payload)>,
    body: Payload,
    status: Option<u16>,
    response_type: u8,
    response_body: Payload,
}

fn text(p: &Payload) -> String {
    String::from_utf8_lossy(&p.0).into_owned()
}

fuzz_target!(|input: Input| {
    let cfg = DetectConfig {
        paranoia: 1 + input.paranoia % 4,
        max_fields: 1 + usize::from(input.max_fields),
        max_value_bytes: 16 + usize::from(input.max_value_bytes) * 16,
        max_findings: 8,
        ..DetectConfig::default()
    };
    let det = Detector::new(&cfg).expect("valid config");
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
    let mut again = Vec::new();
    let _ = det.scan(&req, &mut again);
    assert_eq!(out, again);

    let rt = CONTENT_TYPES[usize::from(input.response_type) % CONTENT_TYPES.len()];
    let _ = outcome(input.status, Some(rt), &input.response_body.0);
});
