//! The test shop's API capture and its truth (fixtures/inventory/): the calls with their
//! hand-written expectations, and the app's routes to compare rebuilt OpenAPI documents with.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::fixture;

/// The truth's calls (`requests` of fixtures/inventory/truth.json).
pub fn truth() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("inventory/truth.json")).expect("truth.json");
    let doc: Value = serde_json::from_str(&text).expect("truth.json is JSON");
    doc["requests"].as_array().expect("requests").clone()
}

/// The app's routes: each call's (lowercase method, template), the path with numeric
/// segments as parameters where no operation matched; parameter names blanked.
pub fn true_routes(calls: &[Value]) -> BTreeSet<(String, String)> {
    calls
        .iter()
        .map(|c| {
            let template = match c["expected"]["template"].as_str() {
                Some(t) => t.to_string(),
                None => c["path"]
                    .as_str()
                    .expect("path")
                    .split('/')
                    .map(|s| {
                        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                            "{}"
                        } else {
                            s
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/"),
            };
            (
                c["method"].as_str().expect("method").to_ascii_lowercase(),
                blank(&template),
            )
        })
        .collect()
}

/// The (method, template) pairs of an OpenAPI document's `paths`, parameter names blanked.
pub fn document_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut got = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            got.insert((method.clone(), blank(path)));
        }
    }
    got
}

/// A template with parameter names blanked (`{name}` to `{}`).
pub fn blank(t: &str) -> String {
    let mut out = String::new();
    let mut skip = false;
    for ch in t.chars() {
        match ch {
            '{' => {
                skip = true;
                out.push_str("{}");
            }
            '}' => skip = false,
            c if !skip => out.push(c),
            _ => {}
        }
    }
    out
}
