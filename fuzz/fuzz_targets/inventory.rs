//! The API inventory's entry points that take bytes: `infer_json` on a body (bytes from the
//! wire), `Spec::parse` on a spec file, and `Matcher::classify` with a fixed spec on request
//! fields (from the wire). The first byte picks which; the rest is the input.
//!
//! Checks: no panic; `infer_json` gives a schema exactly when the bytes are JSON, and a prefix
//! of such a body is never `NotJson`; a schema keeps its bounds; classification gives drift
//! only with an operation.
#![no_main]

use std::sync::OnceLock;

use apitap_inventory::schema::{MAX_SCHEMA_FIELDS};
use apitap_inventory::{infer_json, ApiConfig, ApiRequest, Inference, Matcher, Spec};
use libfuzzer_sys::fuzz_target;

/// A small spec with literals, parameters, a mixed segment, a base path and drift rules.
const SPEC: &str = r#"
openapi: 3.1.0
info: {title: F, version: "1"}
servers: [{url: "http://api.example.com/v1"}]
paths:
  /users/me: {get: {parameters: [{name: q, in: query}], responses: {"200": {description: ok}}}}
  /users/{id}: {get: {}, delete: {deprecated: true}}
  /files/{name}.json: {post: {requestBody: {content: {application/json: {}}}}}
"#;

/// The matcher, built once.
fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let spec = Spec::parse("f.yaml", SPEC.as_bytes()).expect("the spec loads");
        Matcher::new(vec![spec], &ApiConfig::new()).expect("the matcher builds")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            // `Value`, not `IgnoredAny`: skipping a string does not check its UTF-8 (RFC 8259
            // section 8.1 requires it), and a schema is only inferred from valid JSON.
            let is_json = serde_json::from_slice::<serde_json::Value>(rest).is_ok();
            let got = infer_json(rest);
            assert_eq!(matches!(got, Inference::Complete(_)), is_json);
            if let Inference::Complete(s) = &got {
                assert!(s.fields.len() <= MAX_SCHEMA_FIELDS);
                for cut in [0, rest.len() / 2, rest.len().saturating_sub(1)] {
                    assert_ne!(infer_json(&rest[..cut]), Inference::NotJson, "prefix {cut}");
                }
            }
        }
        1 => {
            let _ = Spec::parse("fuzz.yaml", rest);
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let mut parts = text.split('\n');
            let mut next = || parts.next().unwrap_or("");
            let (host, method, path, query, ct) = (next(), next(), next(), next(), next());
            let r = ApiRequest {
                host: Some(host),
                method,
                path,
                query: Some(query),
                status: Some(u16::from(mode)),
                content_type: Some(ct),
            };
            let c = matcher().classify(&r);
            assert!(c.operation.is_some() || c.drift.is_empty());
        }
    }
});
