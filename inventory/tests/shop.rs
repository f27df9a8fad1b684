//! The test shop against its spec: every call of fixtures/inventory/truth.json classified as
//! its hand-written expectation says; the inventory of those calls rebuilt as an OpenAPI 3.1
//! document that openapi-spec-validator accepts, whose routes are the app's; and the diff
//! against the spec. The same capture through the sensor and `apitap inventory` is
//! tests/tests/inventory.rs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use apitap_inventory::{
    diff, openapi_from_inventory, to_yaml, Aggregator, ApiConfig, ApiRecord, ApiRequest, AuthList,
    DriftRecord, Matcher, OpenApiOptions, Spec,
};
use apitap_tests::shop::{document_routes, true_routes, truth};
use apitap_tests::validators::openapi;
use serde_json::{json, Value};

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shop's spec, loaded under its file name.
fn shop_spec() -> Spec {
    let bytes = std::fs::read(repo().join("tests/apps/shop.openapi.yaml")).unwrap();
    Spec::parse("shop.openapi.yaml", &bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// The `[api]` of fixtures/inventory/shop-api.toml (its spec named by file name).
fn shop_config() -> ApiConfig {
    #[derive(serde::Deserialize)]
    struct File {
        api: ApiConfig,
    }
    let text = std::fs::read_to_string(repo().join("fixtures/inventory/shop-api.toml")).unwrap();
    let mut api = toml::from_str::<File>(&text).unwrap().api;
    assert_eq!(api.specs, ["../../tests/apps/shop.openapi.yaml"]);
    api.specs = vec!["shop.openapi.yaml".into()];
    api
}

/// A call of the truth as classification input.
fn request(call: &Value) -> ApiRequest<'_> {
    ApiRequest {
        host: call["host"].as_str(),
        method: call["method"].as_str().unwrap(),
        path: call["path"].as_str().unwrap(),
        query: call["query"].as_str(),
        status: call["response_status"].as_u64().map(|s| s as u16),
        content_type: call["content_type"].as_str(),
    }
}

#[test]
fn every_call_of_the_capture_is_classified_as_the_truth_says() {
    let matcher = Matcher::new(vec![shop_spec()], &shop_config()).unwrap();
    let calls = truth();
    assert_eq!(calls.len(), 34);
    let mut wrong = Vec::new();
    for call in &calls {
        let c = matcher.classify(&request(call));
        let record = ApiRecord::new(&c, AuthList::new());
        let got = json!({
            "status": record.status, "reason": record.reason,
            "operation_id": record.operation_id.as_deref(), "template": record.template.as_deref(),
            "drift": record.drift,
        });
        if got != call["expected"] {
            wrong.push(format!(
                "{} {} {:?}: got {got}, want {}",
                call["method"], call["path"], call["query"], call["expected"]
            ));
        }
        // The address is covered by no spec; both spec hosts are.
        let covered = !call["host"].as_str().unwrap().starts_with("127.");
        let spec = covered.then_some("shop.openapi.yaml");
        assert_eq!(record.spec.as_deref(), spec, "{call}");
    }
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        calls.len(),
        wrong.join("\n")
    );
}

/// The http record of a truth call, with the `api` object the sensor would write.
fn record(call: &Value, matcher: &Matcher, i: usize) -> Value {
    let c = matcher.classify(&request(call));
    let api = ApiRecord::new(&c, AuthList::new());
    let session = format!("{:032x}", call["client_port"].as_u64().unwrap());
    json!({
        "type": "http", "schema_version": 1,
        "ts": format!("2026-12-06T10:00:{:02}.000000Z", i),
        "request": {
            "method": call["method"], "path": call["path"], "query": call["query"],
            "host": call["host"], "content_type": call["content_type"],
            "headers": [["Host", call["host"]]],
        },
        "response": {"status": call["response_status"], "content_type": "application/json"},
        "session_id": session,
        "api": api,
    })
}

#[test]
fn the_spec_of_the_shop_is_valid_itself() {
    let yaml = std::fs::read_to_string(repo().join("tests/apps/shop.openapi.yaml")).unwrap();
    if let Some(r) = openapi("shop.openapi.yaml", &yaml) {
        r.unwrap_or_else(|e| panic!("{e}"));
    }
    // The validator can say no: a document without `info` is refused.
    if let Some(r) = openapi("no-info.yaml", "openapi: 3.1.0\npaths: {}\n") {
        assert!(r.is_err(), "{r:?}");
    }
}

#[test]
fn the_openapi_rebuilt_from_the_capture_is_valid_and_has_the_apps_routes() {
    let matcher = Matcher::new(vec![shop_spec()], &shop_config()).unwrap();
    let calls = truth();
    let mut agg = Aggregator::new();
    for (i, call) in calls.iter().enumerate() {
        agg.add(&record(call, &matcher, i));
    }
    let inv = agg.finish();
    let doc = openapi_from_inventory(&inv, &OpenApiOptions::default());
    assert_eq!(document_routes(&doc), true_routes(&calls));
    // Spec parameter names are kept, and typed from the values seen.
    let product = &doc["paths"]["/api/v1/products/{product_id}"]["get"];
    assert_eq!(product["operationId"], "getProduct");
    assert_eq!(
        product["parameters"][0]["schema"],
        json!({"type": "integer"})
    );
    let order = &doc["paths"]["/api/v1/orders/{order_id}"]["get"]["parameters"][0];
    assert_eq!(order["schema"], json!({"type": "string", "format": "uuid"}));
    let yaml = to_yaml(&doc).unwrap();
    if let Some(r) = openapi("rebuilt.yaml", &yaml) {
        r.unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    }
}

#[test]
fn the_diff_against_the_spec_lists_shadow_zombie_drift_and_unused() {
    let matcher = Matcher::new(vec![shop_spec()], &shop_config()).unwrap();
    let mut agg = Aggregator::new();
    for (i, call) in truth().iter().enumerate() {
        agg.add(&record(call, &matcher, i));
    }
    let inv = agg.finish();
    let d = diff(&inv, shop_spec()).unwrap();
    let shadow: BTreeSet<String> = d
        .shadow
        .iter()
        .map(|e| format!("{} {}", e.method, e.template))
        .collect();
    assert_eq!(
        shadow,
        BTreeSet::from([
            "DELETE /api/v1/products/{product_id}".to_string(),
            "GET /api/v1/admin/users".to_string(),
            // The diff knows no retired list: v0 is simply not in the spec.
            "GET /api/v0/products/{id}".to_string(),
        ])
    );
    let zombie: BTreeSet<_> = d
        .zombie
        .iter()
        .map(|e| e.operation_id.clone().unwrap())
        .collect();
    assert_eq!(zombie, BTreeSet::from(["getProductPrice".to_string()]));
    let drift: BTreeSet<(String, DriftRecord)> = d
        .drift
        .iter()
        .flat_map(|e| {
            e.drift
                .iter()
                .map(|k| (e.endpoint.operation_id.clone().unwrap(), k.clone()))
        })
        .collect();
    let q = |n: &str| DriftRecord::UndocumentedQueryParam { name: n.into() };
    assert_eq!(
        drift,
        BTreeSet::from([
            ("listProducts".into(), q("debug")),
            ("listProducts".into(), q("trace")),
            (
                "createToken".into(),
                DriftRecord::UnacceptedContentType {
                    content_type: "text/plain".into()
                }
            ),
            (
                "listUserOrders".into(),
                DriftRecord::UndeclaredStatus { status: 403 }
            ),
        ])
    );
    // Every operation of the spec was called (healthz only on the spec's host counts).
    assert_eq!(d.unused, []);
    let text = apitap_inventory::render_diff(&d);
    assert!(text.contains("GET /api/v1/admin/users"), "{text}");
}

#[test]
fn a_document_with_the_awkward_cases_is_valid_too() {
    let body = |text: &str| match apitap_inventory::infer_json(text.as_bytes()) {
        apitap_inventory::Inference::Complete(s) => {
            serde_json::to_value(apitap_inventory::BodySchema::from(s)).unwrap()
        }
        other => panic!("{other:?}"),
    };
    // Repeated and rest parameters, union and nested array types, a body of a `+json` type,
    // no response, a method OpenAPI cannot hold, and every kind of security scheme.
    let records = [
        json!({"type": "http", "ts": "t1", "endpoint": "GET /users/{id}/orders/{id}",
               "request": {"method": "GET", "path": "/users/7/orders/9", "query": "page=1&api_key=k", "host": "a.test"},
               "response": {"status": 200, "content_type": "application/json"},
               "api": {"status": "unmanaged", "reason": "no_spec",
                       "auth": [{"scheme": "api_key", "name": "api_key"}, {"scheme": "api_key", "name": "X-API-Key"},
                                {"scheme": "basic"}, {"scheme": "none"}],
                       "response_schema": body(r#"{"items": [{"id": 1, "tags": [["x"]]}, {"id": 2.5}], "next": null}"#)}}),
        json!({"type": "http", "ts": "t3", "endpoint": "POST /files/{...}",
               "request": {"method": "POST", "path": "/files/a/b/c", "host": "b.test:8080",
                           "content_type": "application/merge-patch+json"},
               "response": null,
               "api": {"status": "shadow", "reason": "undocumented_path",
                       "auth": [{"scheme": "cookie", "name": "SESS ID"}, {"scheme": "bearer_jwt"},
                                {"scheme": "bearer"}, {"scheme": "digest"}],
                       "request_schema": body(r#"[1, "two", {"three": 3, "a/b": {"~c": true}}]"#)}}),
        json!({"type": "http", "ts": "t4", "endpoint": "PROPFIND /dav",
               "request": {"method": "PROPFIND", "path": "/dav", "host": "b.test:8080"},
               "response": {"status": 207, "content_type": null}}),
        json!({"type": "http", "ts": "t5",
               "request": {"method": "DELETE", "path": "/users/550e8400-e29b-41d4-a716-446655440000", "host": "a.test"},
               "response": {"status": 204}}),
    ];
    let mut agg = Aggregator::new();
    for r in &records {
        agg.add(r);
    }
    let doc = openapi_from_inventory(&agg.finish(), &OpenApiOptions::default());
    let yaml = to_yaml(&doc).unwrap();
    if let Some(r) = openapi("awkward.yaml", &yaml) {
        r.unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    }
}
