//! API classification and inventory through the real binary (issue 24): the test shop's
//! capture (fixtures/inventory/) replayed against its spec, every call classified as the
//! hand-written truth says, shadow and zombie calls in sessions and alerts, and
//! `apitap inventory` rebuilding an OpenAPI document that openapi-spec-validator accepts and
//! whose routes are the app's, and diffing the traffic against the spec.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use apitap_tests::harness::{apitap, fixture, replay, scratch, Replay};
use apitap_tests::shop::{document_routes, true_routes, truth};
use apitap_tests::validators::openapi;
use serde_json::{json, Value};

/// The spec as `fixtures/inventory/shop-api.toml` names it (relative to the config file).
const SPEC_NAME: &str = "../../tests/apps/shop.openapi.yaml";

/// The shop capture replayed with its API config, `workers` worker threads.
fn replay_shop(workers: &str) -> Replay {
    let config = fixture("inventory/shop-api.toml");
    let r = replay(
        &[fixture("inventory/shop-inventory.pcap")],
        &[
            "--config",
            config.to_str().unwrap(),
            "--workers",
            workers,
            "--quiet",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

/// The records of one type.
fn of_type<'r>(r: &'r Replay, t: &str) -> Vec<&'r Value> {
    r.records.iter().filter(|x| x["type"] == t).collect()
}

#[test]
fn every_replayed_call_carries_the_api_status_the_truth_gives_it() {
    let r = replay_shop("0");
    let calls = truth();
    let http = of_type(&r, "http");
    assert_eq!(http.len(), calls.len());
    let mut wrong = Vec::new();
    for call in &calls {
        let rec = http
            .iter()
            .find(|h| h["flow"]["src_port"] == call["client_port"] && h["depth"] == call["depth"])
            .unwrap_or_else(|| panic!("no record for {call}"));
        let api = &rec["api"];
        let got = json!({
            "status": api["status"], "reason": api["reason"],
            "operation_id": api["operation_id"], "template": api["template"],
            "drift": api["drift"],
        });
        if got != call["expected"] {
            wrong.push(format!("{} {}: got {got}", call["method"], call["path"]));
        }
        let covered = !call["host"].as_str().unwrap().starts_with("127.");
        assert_eq!(
            api["spec"],
            if covered {
                json!(SPEC_NAME)
            } else {
                json!(null)
            }
        );
        // A documented call is named by the spec's template in its session.
        if let Some(t) = call["expected"]["template"].as_str() {
            assert_eq!(
                rec["endpoint"],
                format!("{} {t}", call["method"].as_str().unwrap())
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Auth schemes from the real headers: the admin call with a bearer token is `bearer_jwt`.
    let admin_bearer = http
        .iter()
        .find(|h| {
            h["request"]["path"] == "/api/v1/admin/users"
                && h["api"]["auth"][0]["scheme"] == "bearer_jwt"
        })
        .expect("the admin call with a bearer token");
    assert_eq!(admin_bearer["api"]["status"], "shadow");
    // JSON response bodies have inferred schemas (a connection's first calls always, later
    // ones sampled): names and types, never values.
    let product = http
        .iter()
        .find(|h| {
            h["api"]["operation_id"] == "getProduct"
                && h["response"]["status"] == 200
                && !h["api"]["response_schema"].is_null()
        })
        .expect("a product read with its schema");
    let schema = &product["api"]["response_schema"];
    assert!(schema["fingerprint"].is_string(), "{schema}");
    assert!(schema["fields"].as_object().unwrap().len() > 1, "{schema}");
    assert_eq!(
        schema["fields"]["/sku"]["types"],
        json!(["string"]),
        "{schema}"
    );
    // The product's sku is `SKU-0003`: the field is there, its value is not.
    assert!(
        !schema.to_string().contains("SKU-"),
        "a value in the schema: {schema}"
    );
}

#[test]
fn sessions_count_api_calls_and_alert_on_each_shadow_and_zombie_endpoint_once() {
    let r = replay_shop("0");
    let mut calls: BTreeMap<String, u64> = BTreeMap::new();
    let mut listed: BTreeSet<(String, String, String)> = BTreeSet::new();
    let ends: Vec<&Value> = of_type(&r, "session")
        .into_iter()
        .filter(|s| s["phase"] == "end")
        .collect();
    for s in &ends {
        for (status, n) in s["api_calls"].as_object().unwrap() {
            *calls.entry(status.clone()).or_default() += n.as_u64().unwrap();
        }
        let id = s["session_id"].as_str().unwrap().to_string();
        for (kind, list) in [
            ("shadow", "shadow_endpoints"),
            ("zombie", "zombie_endpoints"),
        ] {
            for e in s[list].as_array().unwrap() {
                listed.insert((id.clone(), kind.into(), e.as_str().unwrap().into()));
            }
        }
        assert_eq!(s["api_endpoints_dropped"], 0);
    }
    let want: BTreeMap<String, u64> = [
        ("documented", 20),
        ("shadow", 6),
        ("unmanaged", 2),
        ("zombie", 6),
    ]
    .map(|(k, n)| (k.to_string(), n))
    .into();
    assert_eq!(calls, want, "api_calls over the sessions");
    assert_eq!(r.stats["api_calls"], json!(want), "run counters");
    // One alert per (session, endpoint) listed, and nothing else.
    let alerts: BTreeSet<(String, String, String)> = of_type(&r, "alert")
        .iter()
        .map(|a| {
            let kind = a["kind"].as_str().unwrap().trim_end_matches("_api");
            (
                a["session_id"].as_str().unwrap().into(),
                kind.into(),
                a["endpoint"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(alerts.len(), of_type(&r, "alert").len(), "one alert each");
    assert_eq!(alerts, listed);
    // The admin endpoint was called in three sessions (bearer, cookie, none); the alert of
    // the bearer one names its user, and carries the spec and the reason.
    let admin: Vec<&Value> = of_type(&r, "alert")
        .into_iter()
        .filter(|a| a["endpoint"] == "GET /api/v1/admin/users")
        .collect();
    assert_eq!(admin.len(), 3, "{admin:?}");
    assert!(admin.iter().all(|a| a["kind"] == "shadow_api"
        && a["evidence"]["reason"] == "undocumented_path"
        && a["evidence"]["spec"] == SPEC_NAME));
    let users: BTreeSet<&str> = admin.iter().filter_map(|a| a["user"].as_str()).collect();
    assert_eq!(users, BTreeSet::from(["alice", "carol"]));
}

#[test]
fn classification_is_the_same_with_any_worker_count() {
    let api_of = |r: &Replay| -> BTreeMap<(u64, u64), Value> {
        of_type(r, "http")
            .iter()
            .map(|h| {
                let key = (
                    h["flow"]["src_port"].as_u64().unwrap(),
                    h["depth"].as_u64().unwrap(),
                );
                (key, json!([h["api"], h["endpoint"]]))
            })
            .collect()
    };
    let one = replay_shop("0");
    let two = replay_shop("2");
    assert_eq!(api_of(&one), api_of(&two));
}

/// Run `apitap inventory` with `args`; stdout, asserting success.
fn inventory(args: &[&str]) -> String {
    let o = apitap(&[&["inventory"], args].concat());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("inventory of 34 http records"), "{err}");
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_inventory_command_rebuilds_a_valid_openapi_document_and_diffs_the_spec() {
    let r = replay_shop("0");
    let dir = scratch("inventory-cmd");
    let records = dir.join("records.jsonl");
    std::fs::write(&records, &r.raw).unwrap();
    let records = records.to_str().unwrap();
    // The table: one block per host.
    let table = inventory(&[records]);
    for host in ["shop.example.test", "shop.internal.test", "127.0.0.1:"] {
        assert!(table.contains(host), "{table}");
    }
    assert!(table.contains("GET /api/v1/admin/users"), "{table}");
    // The OpenAPI document: valid, and the app's routes.
    let out: PathBuf = dir.join("rebuilt.yaml");
    inventory(&[
        records,
        "--openapi",
        out.to_str().unwrap(),
        "--title",
        "Shop",
    ]);
    let yaml = std::fs::read_to_string(&out).unwrap();
    let doc: Value = yaml_serde::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(doc["info"]["title"], "Shop");
    assert_eq!(document_routes(&doc), true_routes(&truth()));
    if let Some(v) = openapi("rebuilt.yaml", &yaml) {
        v.unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    }
    // JSON: the shadow admin endpoint seen in three sessions, by two users.
    let json: Value = serde_json::from_str(&inventory(&[records, "--json"])).unwrap();
    let shop = json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "shop.example.test")
        .unwrap();
    let admin = shop["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["template"] == "/api/v1/admin/users")
        .unwrap();
    assert_eq!(admin["requests"], 3);
    assert_eq!(admin["sessions"]["count"], 3);
    assert_eq!(admin["users"]["count"], 2);
    // The diff against the spec, from stdin.
    let spec = apitap_tests::harness::workspace_root().join("tests/apps/shop.openapi.yaml");
    let o = std::process::Command::new(apitap_tests::harness::apitap_bin())
        .args(["inventory", "-", "--diff", spec.to_str().unwrap()])
        .stdin(std::fs::File::open(records).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    for line in [
        "shadow (in traffic, not in the spec): 5",
        "shop.example.test DELETE /api/v1/products/{product_id}",
        "zombie (deprecated operations called): 1",
        "undocumented_query_param:debug",
        "unused (in the spec, never in traffic): 0",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
}

#[test]
fn a_spec_that_cannot_be_read_or_parsed_stops_the_sensor_with_its_name() {
    let dir = scratch("inventory-bad-spec");
    let missing = dir.join("missing.toml");
    std::fs::write(&missing, "[api]\nspecs = [\"nowhere.yaml\"]\n").unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(dir.join("broken.yaml"), "openapi: 3.1.0\npaths: [1, 2]\n").unwrap();
    std::fs::write(&bad, "[api]\nspecs = [\"broken.yaml\"]\n").unwrap();
    let glob = dir.join("glob.toml");
    std::fs::write(&glob, "[api]\nretired = [\"api/v0/*\"]\n").unwrap();
    for (config, want) in [
        (&missing, "nowhere.yaml"),
        (&bad, "broken.yaml"),
        (&glob, "api.retired"),
    ] {
        let cfg = config.to_str().unwrap();
        let check = apitap(&["check-config", cfg]);
        let err = String::from_utf8_lossy(&check.stderr);
        assert_eq!(check.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "{want:?} not in {err}");
        let run = replay(
            &[fixture("inventory/shop-inventory.pcap")],
            &["--config", cfg],
        );
        assert_ne!(run.code, 0);
        assert!(run.stderr.contains(want), "{want:?} not in {}", run.stderr);
        assert!(run.records.is_empty());
    }
}
