//! The test shop against its spec: every call of fixtures/inventory/truth.json classified as
//! its hand-written expectation says; the inventory of those calls rebuilt as an OpenAPI 3.1
//! document that openapi-spec-validator accepts, whose routes are the app's; and the diff
//! against the spec.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use apitap_inventory::{
    diff, openapi_from_inventory, to_yaml, Aggregator, ApiConfig, ApiRecord, ApiRequest,
    DriftRecord, Matcher, OpenApiOptions, Spec,
};
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
    assert_eq!(api.specs, ["tests/apps/shop.openapi.yaml"]);
    api.specs = vec!["shop.openapi.yaml".into()];
    api
}

/// The truth's calls.
fn truth() -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("fixtures/inventory/truth.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["requests"].as_array().unwrap().clone()
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
        let record = ApiRecord::new(&c, Vec::new());
        let got = json!({
            "status": record.status, "reason": record.reason,
            "operation_id": record.operation_id, "template": record.template,
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
    let api = ApiRecord::new(&c, Vec::new());
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

/// The app's routes: each call's (method, template), the path with numeric segments as
/// parameters where no operation matched; parameter names blanked.
fn true_routes(calls: &[Value]) -> BTreeSet<(String, String)> {
    calls
        .iter()
        .map(|c| {
            let template = match c["expected"]["template"].as_str() {
                Some(t) => t.to_string(),
                None => c["path"]
                    .as_str()
                    .unwrap()
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
                c["method"].as_str().unwrap().to_ascii_lowercase(),
                blank(&template),
            )
        })
        .collect()
}

/// A template with parameter names blanked (`{name}` to `{}`).
fn blank(t: &str) -> String {
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

/// Run openapi-spec-validator on a document; `None` (and a loud message) when python3 or
/// pip is missing, so that the package cannot be installed.
fn validate(name: &str, yaml: &str) -> Option<Result<String, String>> {
    let setup = Command::new("bash")
        .arg(repo().join("scripts/setup-python.sh"))
        .status();
    match setup {
        Ok(s) if s.code() == Some(2) => {
            eprintln!("\n!!!!!!!! SKIPPED: openapi-spec-validator needs python3 and pip, absent here !!!!!!!!\n");
            return None;
        }
        Ok(s) => assert!(s.success(), "scripts/setup-python.sh failed: {s}"),
        Err(e) => {
            eprintln!("\n!!!!!!!! SKIPPED: no bash to run scripts/setup-python.sh: {e} !!!!!!!!\n");
            return None;
        }
    }
    let dir = std::env::temp_dir().join(format!("apitap-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new("python3")
        .args([
            "-m",
            "openapi_spec_validator",
            "--schema",
            "3.1",
            "--errors",
            "all",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some(if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    })
}

#[test]
fn the_spec_of_the_shop_is_valid_itself() {
    let yaml = std::fs::read_to_string(repo().join("tests/apps/shop.openapi.yaml")).unwrap();
    if let Some(r) = validate("shop.openapi.yaml", &yaml) {
        r.unwrap_or_else(|e| panic!("{e}"));
    }
    // The validator can say no: a document without `info` is refused.
    if let Some(r) = validate("no-info.yaml", "openapi: 3.1.0\npaths: {}\n") {
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
    let mut got = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            got.insert((method.clone(), blank(path)));
        }
    }
    assert_eq!(got, true_routes(&calls));
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
    if let Some(r) = validate("rebuilt.yaml", &yaml) {
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
    if let Some(r) = validate("awkward.yaml", &yaml) {
        r.unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    }
}

/// The `http` and `session` records `apitap replay` wrote for the capture (before the
/// sensor classified; fixtures/inventory/README.md).
fn replayed_records() -> Vec<Value> {
    let text =
        std::fs::read_to_string(repo().join("fixtures/inventory/shop-inventory.records.jsonl"))
            .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A replayed http record as classification input: the fields the sensor will read.
fn request_of_record(r: &Value) -> ApiRequest<'_> {
    let req = &r["request"];
    ApiRequest {
        host: req["host"].as_str(),
        method: req["method"].as_str().unwrap(),
        path: req["path"].as_str().unwrap(),
        query: req["query"].as_str(),
        status: r["response"]["status"].as_u64().map(|s| s as u16),
        content_type: req["content_type"].as_str(),
    }
}

#[test]
fn replayed_records_classify_as_the_truth_says_and_rebuild_the_apps_routes() {
    let matcher = Matcher::new(vec![shop_spec()], &shop_config()).unwrap();
    let calls = truth();
    let mut records = replayed_records();
    let mut checked = 0;
    for r in records.iter_mut().filter(|r| r["type"] == "http") {
        let port = r["flow"]["src_port"].as_u64();
        let call = calls
            .iter()
            .find(|c| c["client_port"].as_u64() == port && c["depth"] == r["depth"])
            .unwrap_or_else(|| panic!("no call for {r}"));
        let api = {
            let c = matcher.classify(&request_of_record(r));
            // The sensor reads the values before redaction; the records only have names.
            let headers = r["request"]["headers"].as_array().unwrap();
            let auth = apitap_inventory::detect_auth(
                headers
                    .iter()
                    .map(|h| (h[0].as_str().unwrap(), h[1].as_str().unwrap().as_bytes())),
                r["request"]["query"].as_str(),
            );
            ApiRecord::new(&c, auth)
        };
        let got = json!({
            "status": api.status, "reason": api.reason, "operation_id": api.operation_id,
            "template": api.template, "drift": api.drift,
        });
        assert_eq!(got, call["expected"], "{} {}", call["method"], call["path"]);
        r["api"] = serde_json::to_value(&api).unwrap();
        checked += 1;
    }
    assert_eq!(checked, calls.len(), "every call was replayed");
    let mut agg = Aggregator::new();
    for r in &records {
        agg.add(r);
    }
    let inv = agg.finish();
    assert_eq!(inv.stats.http_records, 34);
    let shop = inv
        .hosts
        .iter()
        .find(|h| h.host == "shop.example.test")
        .unwrap();
    let admin = shop
        .endpoints
        .iter()
        .find(|e| e.template == "/api/v1/admin/users")
        .unwrap();
    assert_eq!(admin.requests, 3);
    assert_eq!(admin.api, [(apitap_inventory::ApiStatus::Shadow, 3)].into());
    // Alice (bearer) and carol (cookie) are users of their sessions; the anonymous call is
    // a session without one.
    assert_eq!((admin.sessions.count, admin.users.count), (3, 2));
    let doc = openapi_from_inventory(&inv, &OpenApiOptions::default());
    let mut got = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            got.insert((method.clone(), blank(path)));
        }
    }
    assert_eq!(got, true_routes(&calls));
    let yaml = to_yaml(&doc).unwrap();
    if let Some(r) = validate("replayed.yaml", &yaml) {
        r.unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    }
}
