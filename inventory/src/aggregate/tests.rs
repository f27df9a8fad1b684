//! The aggregator over small records.

use serde_json::{json, Value};

use super::*;
use crate::auth::{AuthScheme, AuthSeen};
use crate::record::{BodySchema, DriftRecord};
use crate::schema::{infer_json, Inference};

/// An http record builder.
struct Rec {
    /// The record.
    v: Value,
}

impl Rec {
    /// `GET`-like record of `method path?query` on `host` at second `sec`.
    fn new(host: &str, method: &str, target: &str, sec: u32) -> Rec {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Value::from(q)),
            None => (target, Value::Null),
        };
        Rec {
            v: json!({
                "type": "http", "ts": format!("2024-05-01T10:00:{sec:02}.000000Z"),
                "flow": {"src_ip": "10.0.0.1", "src_port": 40000, "dst_ip": "10.0.0.2", "dst_port": 8080},
                "request": {"method": method, "path": path, "query": query, "host": host,
                            "content_type": null, "headers": []},
                "response": {"status": 200, "content_type": "application/json; charset=utf-8"},
            }),
        }
    }

    /// Set a field at a JSON pointer's parent key.
    fn set(mut self, f: impl FnOnce(&mut Value)) -> Rec {
        f(&mut self.v);
        self
    }

    /// With an `api` object.
    fn api(self, api: ApiRecord) -> Rec {
        self.set(|v| v["api"] = serde_json::to_value(api).unwrap())
    }
}

/// A documented `api` object for `template`.
fn documented(template: &str, op: &str) -> ApiRecord {
    ApiRecord {
        status: ApiStatus::Documented,
        reason: ApiReason::Operation,
        spec: Some("s.yaml".into()),
        operation_id: Some(op.into()),
        template: Some(template.into()),
        drift: Vec::new(),
        auth: smallvec::smallvec![AuthSeen {
            scheme: AuthScheme::BearerJwt,
            name: None,
        }],
        request_schema: None,
        response_schema: None,
        members_json: Default::default(),
    }
}

/// The schema of a JSON body.
fn schema(body: &str) -> BodySchema {
    match infer_json(body.as_bytes()) {
        Inference::Complete(s) => s.into(),
        other => panic!("{other:?}"),
    }
}

/// The inventory of records.
fn inventory(records: &[Value]) -> Inventory {
    let mut a = Aggregator::new();
    for r in records {
        a.add(r);
    }
    a.finish()
}

/// The endpoint `method template` of `host`.
fn endpoint<'i>(
    inv: &'i Inventory,
    host: &str,
    method: &str,
    template: &str,
) -> &'i EndpointInventory {
    inv.hosts
        .iter()
        .find(|h| h.host == host)
        .and_then(|h| {
            h.endpoints
                .iter()
                .find(|e| e.method == method && e.template == template)
        })
        .unwrap_or_else(|| panic!("no {host} {method} {template} in {inv:#?}"))
}

#[test]
fn endpoints_group_by_host_method_and_template() {
    let inv = inventory(&[
        Rec::new("API.example.com", "GET", "/users/7?fields=a&expand=b", 3)
            .api(documented("/users/{user_id}", "getUser"))
            .v,
        Rec::new("api.example.com", "GET", "/users/8?fields=c", 1)
            .api(documented("/users/{user_id}", "getUser"))
            .set(|v| v["response"]["status"] = 404.into())
            .v,
        Rec::new("api.example.com", "DELETE", "/users/8", 2).v,
        Rec::new("other.example.com", "GET", "/users/9", 4).v,
        Rec::new("other.example.com", "GET", "/users/9", 5)
            .set(|v| v["api"] = json!({"status": "sideways"}))
            .v,
        json!({"type": "alert"}),
        json!({"type": "http", "request": null, "response": {"status": 400}}),
    ]);
    assert_eq!(inv.hosts.len(), 2);
    let get = endpoint(&inv, "api.example.com", "GET", "/users/{user_id}");
    assert_eq!(get.requests, 2);
    assert_eq!(get.api, [(ApiStatus::Documented, 2)].into());
    assert_eq!(get.operation_id.as_deref(), Some("getUser"));
    assert_eq!(get.spec.as_deref(), Some("s.yaml"));
    assert_eq!(get.responses[&200].count, 1);
    assert_eq!(get.responses[&404].count, 1);
    assert_eq!(
        get.responses[&200].content_types.counts,
        [("application/json".to_string(), 1)].into()
    );
    assert_eq!(
        get.query_params.counts,
        [("expand".to_string(), 1), ("fields".to_string(), 2)].into()
    );
    assert_eq!(get.path_params["user_id"].integer, 2);
    assert_eq!(get.auth.counts, [("bearer_jwt".to_string(), 2)].into());
    assert_eq!(
        (get.first_seen.as_str(), get.last_seen.as_str()),
        ("2024-05-01T10:00:01.000000Z", "2024-05-01T10:00:03.000000Z")
    );
    // Without `api` or `endpoint`: the path with its numeric segments as `{id}`, unmanaged.
    let delete = endpoint(&inv, "api.example.com", "DELETE", "/users/{id}");
    assert_eq!(delete.api, [(ApiStatus::Unmanaged, 1)].into());
    assert_eq!(delete.auth.counts, [("none".to_string(), 1)].into());
    assert_eq!(inv.stats.http_records, 5);
    assert_eq!(inv.stats.skipped_records, 2);
    assert_eq!(inv.stats.unreadable_api, 1);
}

#[test]
fn the_endpoint_name_of_a_record_is_used_without_a_spec_template() {
    let inv = inventory(&[Rec::new(
        "h",
        "GET",
        "/orders/550e8400-e29b-41d4-a716-446655440000",
        0,
    )
    .set(|v| v["endpoint"] = "GET /orders/{uuid}".into())
    .v]);
    let ep = endpoint(&inv, "h", "GET", "/orders/{uuid}");
    assert_eq!(ep.path_params["uuid"].uuid, 1);
}

#[test]
fn a_record_without_host_is_named_by_the_server_address() {
    let inv = inventory(&[Rec::new("", "GET", "/x", 0).v]);
    assert_eq!(inv.hosts[0].host, "10.0.0.2:8080");
}

#[test]
fn sessions_and_users_are_counted_distinct() {
    let with_session = |sid: &str, sec| {
        Rec::new("h", "GET", "/a", sec)
            .set(|v| v["session_id"] = sid.into())
            .v
    };
    let session =
        |sid: &str, user: Value| json!({"type": "session", "session_id": sid, "user": user});
    let inv = inventory(&[
        with_session("s1", 0),
        with_session("s1", 1),
        with_session("s2", 2),
        with_session("s3", 3),
        Rec::new("h", "GET", "/a", 4).v,
        session("s1", "alice".into()),
        session("s2", "alice".into()),
        session("s3", Value::Null),
    ]);
    let ep = endpoint(&inv, "h", "GET", "/a");
    assert_eq!(ep.requests, 5);
    assert_eq!(
        ep.sessions,
        DistinctCount {
            count: 3,
            capped: false
        }
    );
    assert_eq!(
        ep.users,
        DistinctCount {
            count: 1,
            capped: false
        }
    );
    assert_eq!(inv.stats.session_records, 3);
}

#[test]
fn drift_auth_schemas_and_attacks_are_counted() {
    let mut a = documented("/items", "addItem");
    a.drift = vec![
        DriftRecord::UndocumentedQueryParam {
            name: "debug".into(),
        },
        DriftRecord::UndeclaredStatus { status: 500 },
    ];
    a.auth = smallvec::smallvec![AuthSeen {
        scheme: AuthScheme::Cookie,
        name: Some("sid".into()),
    }];
    a.request_schema = Some(Box::new(schema(r#"{"name": "x", "qty": 1}"#)));
    a.response_schema = Some(Box::new(schema(r#"{"id": 1}"#)));
    let mut b = documented("/items", "addItem");
    b.request_schema = Some(Box::new(schema(r#"{"name": "y"}"#)));
    let inv = inventory(&[
        Rec::new("h", "POST", "/items", 0)
            .api(a)
            .set(|v| {
                v["request"]["content_type"] = "application/json".into();
                v["attacks"] = json!([{"kind": "sqli"}, "xss"]);
            })
            .v,
        Rec::new("h", "POST", "/items", 1)
            .api(b)
            .set(|v| v["attacks"] = json!([]))
            .v,
    ]);
    let ep = endpoint(&inv, "h", "POST", "/items");
    assert_eq!(
        ep.drift.counts,
        [
            ("undeclared_status:500".to_string(), 1),
            ("undocumented_query_param:debug".to_string(), 1)
        ]
        .into()
    );
    assert_eq!(
        ep.auth.counts,
        [("bearer_jwt".to_string(), 1), ("cookie:sid".to_string(), 1)].into()
    );
    let req = ep.request_schema.as_ref().unwrap();
    assert_eq!(req.samples(), 2);
    assert!(req.required("/name") && !req.required("/qty"));
    assert!(ep.responses[&200]
        .schema
        .as_ref()
        .unwrap()
        .fields
        .contains_key("/id"));
    assert_eq!(
        ep.attacks.counts,
        [
            ("requests".to_string(), 1),
            ("sqli".to_string(), 1),
            ("xss".to_string(), 1)
        ]
        .into()
    );
}

#[test]
fn auth_without_api_comes_from_header_names() {
    let inv = inventory(&[Rec::new("h", "GET", "/a", 0)
        .set(|v| {
            v["request"]["headers"] =
                json!([["Authorization", "[redacted]"], ["X-API-Key", "[redacted]"]])
        })
        .v]);
    let ep = endpoint(&inv, "h", "GET", "/a");
    assert_eq!(
        ep.auth.counts,
        [
            ("api_key:X-API-Key".to_string(), 1),
            ("authorization".to_string(), 1)
        ]
        .into()
    );
}

#[test]
fn endpoints_past_the_bound_are_counted_not_kept() {
    let records: Vec<Value> = (0..MAX_ENDPOINTS_PER_HOST + 5)
        .map(|i| Rec::new("scan.test", "GET", &format!("/probe-{i}.php"), 0).v)
        .collect();
    let inv = inventory(&records);
    assert_eq!(inv.hosts[0].endpoints.len(), MAX_ENDPOINTS_PER_HOST);
    assert_eq!(inv.stats.endpoints_dropped, 5);
    assert_eq!(inv.hosts[0].requests, MAX_ENDPOINTS_PER_HOST as u64 + 5);
}

#[test]
fn names_past_the_bound_count_as_other() {
    let query: Vec<String> = (0..MAX_NAMES_PER_ENDPOINT + 3)
        .map(|i| format!("p{i}=1"))
        .collect();
    let inv = inventory(&[Rec::new("h", "GET", &format!("/a?{}", query.join("&")), 0).v]);
    let ep = endpoint(&inv, "h", "GET", "/a");
    assert_eq!(ep.query_params.counts.len(), MAX_NAMES_PER_ENDPOINT + 1);
    assert_eq!(ep.query_params.counts[OTHER], 3);
}

#[test]
fn the_table_and_the_json_show_each_endpoint() {
    let inv = inventory(&[
        Rec::new("h", "GET", "/users/7", 0)
            .api(documented("/users/{id}", "u"))
            .v,
        Rec::new("h", "GET", "/admin", 1)
            .set(|v| {
                v["api"] = json!({"status": "shadow", "reason": "undocumented_path"});
                v["response"] = Value::Null;
            })
            .v,
    ]);
    let table = render_table(&inv);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "h  (2 endpoints, 2 requests)");
    assert!(lines[1].starts_with("  ENDPOINT"), "{table}");
    assert!(
        lines[2].contains("GET /admin")
            && lines[2].contains("shadow")
            && lines[2].contains("none:1"),
        "{table}"
    );
    assert!(
        lines[3].contains("GET /users/{id}")
            && lines[3].contains("documented")
            && lines[3].contains("200:1"),
        "{table}"
    );
    let json = serde_json::to_value(&inv).unwrap();
    let ep = &json["hosts"][0]["endpoints"][1];
    assert_eq!(ep["template"], "/users/{id}");
    assert_eq!(ep["api"], json!({"documented": 1}));
    assert_eq!(ep["responses"]["200"]["count"], 1);
    assert!(
        ep.get("sample_path").is_none(),
        "request paths stay out of the output"
    );
}
