//! The document's shape for inventories with the awkward cases.

use serde_json::{json, Value};

use super::*;
use crate::aggregate::Aggregator;

/// An inventory from `(method, path, endpoint name, api, response status, auth)` records.
pub(crate) fn awkward_inventory() -> Inventory {
    let mut a = Aggregator::new();
    let body = |text: &str| match crate::schema::infer_json(text.as_bytes()) {
        crate::schema::Inference::Complete(s) => {
            serde_json::to_value(crate::record::BodySchema::from(s)).unwrap()
        }
        other => panic!("{other:?}"),
    };
    let records = [
        json!({"type": "http", "ts": "t1", "endpoint": "GET /users/{id}/orders/{id}",
               "request": {"method": "GET", "path": "/users/7/orders/9", "query": "page=1&api_key=k", "host": "a.test"},
               "response": {"status": 200, "content_type": "application/json"},
               "api": {"status": "unmanaged", "reason": "no_spec",
                       "auth": [{"scheme": "api_key", "name": "api_key"}, {"scheme": "none"}],
                       "response_schema": body(r#"{"items": [{"id": 1, "tags": [["x"]]}, {"id": 2.5}], "next": null}"#)}}),
        json!({"type": "http", "ts": "t2", "endpoint": "GET /users/{id}/orders/{id}",
               "request": {"method": "GET", "path": "/users/8/orders/x1", "host": "a.test"},
               "response": {"status": 200, "content_type": "application/json"},
               "api": {"status": "unmanaged", "reason": "no_spec", "auth": [{"scheme": "none"}],
                       "response_schema": body(r#"{"items": [], "next": "c2"}"#)}}),
        json!({"type": "http", "ts": "t3", "endpoint": "POST /files/{...}",
               "request": {"method": "POST", "path": "/files/a/b/c", "host": "b.test",
                           "content_type": "application/merge-patch+json"},
               "response": null,
               "api": {"status": "shadow", "reason": "undocumented_path",
                       "auth": [{"scheme": "cookie", "name": "SESS ID"}, {"scheme": "bearer_jwt"}],
                       "request_schema": body(r#"[1, "two", {"three": 3}]"#)}}),
        json!({"type": "http", "ts": "t4", "endpoint": "PROPFIND /dav",
               "request": {"method": "PROPFIND", "path": "/dav", "host": "b.test"},
               "response": {"status": 207, "content_type": null}}),
        json!({"type": "http", "ts": "t5",
               "request": {"method": "GET", "path": "/users/{x}", "host": "a.test"},
               "response": {"status": 204}}),
    ];
    for r in &records {
        a.add(r);
    }
    a.finish()
}

#[test]
fn parameters_get_valid_distinct_names_and_types() {
    let doc = openapi_from_inventory(&awkward_inventory(), &OpenApiOptions::default());
    let paths = doc["paths"].as_object().unwrap();
    let keys: Vec<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["/files/{rest}", "/users/{id}/orders/{id2}", "/users/{x}"]
    );
    let get = &doc["paths"]["/users/{id}/orders/{id2}"]["get"];
    let params = get["parameters"].as_array().unwrap();
    let names: Vec<(&str, &str)> = params
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("id", "path"),
            ("id2", "path"),
            ("api_key", "query"),
            ("page", "query")
        ]
    );
    // `7`, `8`: integers; `9`, `x1`: not all.
    assert_eq!(params[0]["schema"], json!({"type": "integer"}));
    assert_eq!(params[1]["schema"], json!({"type": "string"}));
    assert_eq!(params[0]["required"], true);
    assert_eq!(get["operationId"], "get_users_id_orders_id2");
}

#[test]
fn bodies_become_json_schemas_merged_across_samples() {
    let doc = openapi_from_inventory(&awkward_inventory(), &OpenApiOptions::default());
    let schema = &doc["paths"]["/users/{id}/orders/{id2}"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    assert_eq!(
        schema,
        &json!({
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "number"},
                        "tags": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
                    },
                    "required": ["id"],
                }},
                "next": {"type": ["null", "string"]},
            },
            "required": ["items", "next"],
        })
    );
    let post = &doc["paths"]["/files/{rest}"]["post"];
    assert_eq!(
        post["requestBody"]["content"]["application/merge-patch+json"]["schema"],
        json!({"type": "array", "items": {"type": ["integer", "string", "object"],
                                          "properties": {"three": {"type": "integer"}},
                                          "required": ["three"]}})
    );
    assert_eq!(
        post["responses"],
        json!({"default": {"description": "no response seen"}})
    );
    // No media type: no content.
    assert_eq!(
        doc["paths"]["/users/{x}"]["get"]["responses"]["204"],
        json!({"description": "HTTP 204, seen in traffic"})
    );
    // A method OpenAPI cannot hold is left out.
    assert!(doc["paths"].get("/dav").is_none());
}

#[test]
fn security_schemes_are_the_ones_seen() {
    let doc = openapi_from_inventory(&awkward_inventory(), &OpenApiOptions::default());
    assert_eq!(
        doc["components"]["securitySchemes"],
        json!({
            "apiKey_api_key": {"type": "apiKey", "in": "query", "name": "api_key"},
            "bearerJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "cookie_SESS_ID": {"type": "apiKey", "in": "cookie", "name": "SESS ID"},
        })
    );
    let get = &doc["paths"]["/users/{id}/orders/{id2}"]["get"];
    // `none` seen too: the empty requirement makes it optional.
    assert_eq!(get["security"], json!([{"apiKey_api_key": []}, {}]));
    let servers: Vec<&Value> = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["url"])
        .collect();
    assert_eq!(servers, ["http://a.test", "http://b.test"]);
    assert_eq!(doc["openapi"], "3.1.0");
}
