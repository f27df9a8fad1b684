//! An OpenAPI 3.1 document rebuilt from an [`Inventory`]: paths with their parameters (types
//! guessed from the values seen), request and response bodies from the merged inferred
//! schemas, and the security schemes seen.
//!
//! Endpoints of every host go into one document (each host is a `servers` entry); endpoints
//! whose templates differ only in parameter names are one path, named as a spec names it
//! when one matched, else as first seen.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::aggregate::{template_params, EndpointInventory, Inventory, ParamKinds, OTHER};
use crate::auth::API_KEY_QUERY_PARAMS;
use crate::schema::{JsonType, Schema, ITEMS, MAX_SCHEMA_DEPTH};

/// What the document says about itself.
#[derive(Clone, Debug)]
pub struct OpenApiOptions {
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
}

impl Default for OpenApiOptions {
    fn default() -> Self {
        OpenApiOptions {
            title: "API rebuilt from traffic by apitap".into(),
            version: "0.0.0".into(),
        }
    }
}

/// One operation merged over hosts.
#[derive(Default)]
struct Op<'i> {
    /// The endpoints (one per host).
    endpoints: Vec<&'i EndpointInventory>,
}

/// The OpenAPI 3.1 document of an inventory.
pub fn openapi_from_inventory(inv: &Inventory, opts: &OpenApiOptions) -> Value {
    // Path shape (parameters blanked) -> (first template, method -> endpoints).
    let mut paths: BTreeMap<String, (String, BTreeMap<String, Op<'_>>)> = BTreeMap::new();
    for host in &inv.hosts {
        for ep in &host.endpoints {
            let (name, ops) = paths
                .entry(shape(&ep.template))
                .or_insert_with(|| (ep.template.clone(), BTreeMap::new()));
            // A spec's parameter names win over apitap's (`{id}`).
            if ep.operation_id.is_some() && !has_spec_names(ops) {
                name.clone_from(&ep.template);
            }
            ops.entry(ep.method.to_ascii_lowercase())
                .or_default()
                .endpoints
                .push(ep);
        }
    }
    let mut schemes = BTreeMap::new();
    let mut used_ids = BTreeSet::new();
    let mut out_paths = Map::new();
    for (template, ops) in paths.values() {
        let (key, params) = path_key(template);
        let mut item = Map::new();
        for (method, op) in ops {
            if !is_openapi_method(method) {
                continue;
            }
            let operation = operation(method, &key, &params, op, &mut schemes, &mut used_ids);
            item.insert(method.clone(), operation);
        }
        if !item.is_empty() {
            out_paths.insert(key, Value::Object(item));
        }
    }
    let servers: Vec<Value> = inv
        .hosts
        .iter()
        .map(|h| json!({"url": format!("http://{}", h.host)}))
        .collect();
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": opts.title, "version": opts.version},
        "paths": out_paths,
    });
    if !servers.is_empty() {
        doc["servers"] = Value::Array(servers);
    }
    if !schemes.is_empty() {
        doc["components"] = json!({"securitySchemes": schemes});
    }
    doc
}

/// Whether an endpoint of the path already matched an operation (so named the path).
fn has_spec_names(ops: &BTreeMap<String, Op<'_>>) -> bool {
    ops.values()
        .flat_map(|o| &o.endpoints)
        .any(|e| e.operation_id.is_some())
}

/// The document as YAML.
pub fn to_yaml(doc: &Value) -> Result<String, yaml_serde::Error> {
    yaml_serde::to_string(doc)
}

/// Whether a lowercase method is one a path item can hold.
fn is_openapi_method(m: &str) -> bool {
    crate::spec::METHODS.iter().any(|x| x.key() == m)
}

/// A template with its parameters blanked (`/users/{}`).
fn shape(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_param = false;
    for c in template.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// The path key of a template, its parameters renamed to valid, distinct names; and those
/// names in order.
fn path_key(template: &str) -> (String, Vec<String>) {
    let mut key = String::with_capacity(template.len());
    let mut names: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        key.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let raw = rest.get(open + 1..close).unwrap_or("");
        let mut name: String = match raw {
            "..." => "rest".into(),
            "" => "param".into(),
            r => r
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect(),
        };
        let base = name.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        key.push('{');
        key.push_str(&name);
        key.push('}');
        names.push(name);
        rest = rest.get(close + 1..).unwrap_or("");
    }
    key.push_str(rest);
    if !key.starts_with('/') {
        key.insert(0, '/');
    }
    (key, names)
}

/// One operation object.
fn operation<'i>(
    method: &str,
    key: &str,
    params: &[String],
    op: &Op<'i>,
    schemes: &mut BTreeMap<String, Value>,
    used_ids: &mut BTreeSet<String>,
) -> Value {
    let mut o = Map::new();
    let id = op
        .endpoints
        .iter()
        .find_map(|e| e.operation_id.clone())
        .unwrap_or_else(|| generated_id(method, key));
    let mut unique = id.clone();
    let mut n = 2;
    while !used_ids.insert(unique.clone()) {
        unique = format!("{id}_{n}");
        n += 1;
    }
    o.insert("operationId".into(), unique.into());
    let requests: u64 = op.endpoints.iter().map(|e| e.requests).sum();
    let status: BTreeSet<&str> = op
        .endpoints
        .iter()
        .filter_map(|e| e.main_status().map(|s| s.as_str()))
        .collect();
    o.insert(
        "x-apitap".into(),
        json!({"requests": requests, "api_status": status}),
    );
    let parameters = parameters(params, op);
    if !parameters.is_empty() {
        o.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(body) = request_body(op) {
        o.insert("requestBody".into(), body);
    }
    o.insert("responses".into(), responses(op));
    let security = security(op, schemes);
    if !security.is_empty() {
        o.insert("security".into(), Value::Array(security));
    }
    Value::Object(o)
}

/// An operation id from method and path (`get_api_v1_users_id`).
fn generated_id(method: &str, key: &str) -> String {
    let mut id = method.to_string();
    for part in key.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !part.is_empty() {
            id.push('_');
            id.push_str(part);
        }
    }
    id
}

/// Path parameters (typed from their values) and query parameters.
fn parameters(params: &[String], op: &Op<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, name) in params.iter().enumerate() {
        let mut kinds = ParamKinds::default();
        for ep in &op.endpoints {
            let own = template_params(&ep.template);
            if let Some(k) = own.get(i).and_then(|r| ep.path_params.get(r)) {
                kinds.integer += k.integer;
                kinds.uuid += k.uuid;
                kinds.string += k.string;
            }
        }
        out.push(json!({
            "name": name, "in": "path", "required": true, "schema": param_schema(&kinds),
        }));
    }
    let query: BTreeSet<&str> = op
        .endpoints
        .iter()
        .flat_map(|e| e.query_params.counts.keys().map(String::as_str))
        .filter(|n| *n != OTHER)
        .collect();
    for name in query {
        out.push(json!({"name": name, "in": "query", "schema": {"type": "string"}}));
    }
    out
}

/// The schema a path parameter's values suggest: integer or uuid when every value was one.
fn param_schema(k: &ParamKinds) -> Value {
    if k.string == 0 && k.uuid == 0 && k.integer > 0 {
        json!({"type": "integer"})
    } else if k.string == 0 && k.integer == 0 && k.uuid > 0 {
        json!({"type": "string", "format": "uuid"})
    } else {
        json!({"type": "string"})
    }
}

/// Whether a media type holds JSON (`application/json`, `application/problem+json`).
fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

/// The request body, if requests had a media type.
fn request_body(op: &Op<'_>) -> Option<Value> {
    let types: BTreeSet<&str> = op
        .endpoints
        .iter()
        .flat_map(|e| e.request_content_types.counts.keys().map(String::as_str))
        .filter(|t| *t != OTHER && t.contains('/'))
        .collect();
    if types.is_empty() {
        return None;
    }
    let mut schema = Schema::default();
    op.endpoints
        .iter()
        .filter_map(|e| e.request_schema.as_ref())
        .for_each(|s| schema.merge(s));
    let content: Map<String, Value> = types
        .into_iter()
        .map(|t| (t.to_string(), media_object(t, &schema)))
        .collect();
    Some(json!({"content": content}))
}

/// A media type object: the schema for JSON types.
fn media_object(media: &str, schema: &Schema) -> Value {
    if is_json(media) && !schema.fields.is_empty() {
        json!({"schema": json_schema(schema, "", 0)})
    } else {
        json!({})
    }
}

/// Responses by status.
fn responses(op: &Op<'_>) -> Value {
    let mut by_status: BTreeMap<u16, (BTreeSet<&str>, Schema)> = BTreeMap::new();
    for ep in &op.endpoints {
        for (code, r) in &ep.responses {
            let (types, schema) = by_status.entry(*code).or_default();
            types.extend(
                r.content_types
                    .counts
                    .keys()
                    .map(String::as_str)
                    .filter(|t| *t != OTHER && t.contains('/')),
            );
            if let Some(s) = &r.schema {
                schema.merge(s);
            }
        }
    }
    let mut out = Map::new();
    for (code, (types, schema)) in by_status {
        let mut r = Map::new();
        r.insert(
            "description".into(),
            format!("HTTP {code}, seen in traffic").into(),
        );
        if !types.is_empty() {
            let content: Map<String, Value> = types
                .into_iter()
                .map(|t| (t.to_string(), media_object(t, &schema)))
                .collect();
            r.insert("content".into(), Value::Object(content));
        }
        out.insert(code.to_string(), Value::Object(r));
    }
    if out.is_empty() {
        out.insert("default".into(), json!({"description": "no response seen"}));
    }
    Value::Object(out)
}

/// The JSON Schema of the value at `pointer`.
fn json_schema(s: &Schema, pointer: &str, depth: usize) -> Value {
    let Some(shape) = s.fields.get(pointer) else {
        return json!({});
    };
    let mut types: Vec<&str> = shape
        .types
        .iter()
        .filter(|t| !(**t == JsonType::Integer && shape.types.contains(&JsonType::Number)))
        .map(|t| t.as_str())
        .collect();
    let mut out = Map::new();
    match types.len() {
        0 => {}
        1 => {
            out.insert("type".into(), types.remove(0).into());
        }
        _ => {
            out.insert("type".into(), types.into());
        }
    }
    if let Some(f) = shape.format() {
        let name = serde_json::to_value(f).unwrap_or(Value::Null);
        out.insert("format".into(), name);
    }
    if depth > MAX_SCHEMA_DEPTH {
        return Value::Object(out);
    }
    if shape.types.contains(&JsonType::Object) {
        let mut props = Map::new();
        let mut required = Vec::new();
        for (name, child) in s.children(pointer) {
            if name == ITEMS && shape.types.contains(&JsonType::Array) {
                continue;
            }
            props.insert(name.clone(), json_schema(s, child, depth + 1));
            if s.required(child) {
                required.push(Value::from(name));
            }
        }
        if !props.is_empty() {
            out.insert("properties".into(), Value::Object(props));
        }
        if !required.is_empty() {
            out.insert("required".into(), Value::Array(required));
        }
    }
    if shape.types.contains(&JsonType::Array) {
        let items = format!("{pointer}/{ITEMS}");
        if s.fields.contains_key(&items) {
            out.insert("items".into(), json_schema(s, &items, depth + 1));
        }
    }
    Value::Object(out)
}

/// The security requirements of an operation, its schemes added to `schemes`.
fn security(op: &Op<'_>, schemes: &mut BTreeMap<String, Value>) -> Vec<Value> {
    let seen: BTreeSet<&str> = op
        .endpoints
        .iter()
        .flat_map(|e| e.auth.counts.keys().map(String::as_str))
        .collect();
    let mut out = Vec::new();
    let mut optional = false;
    for auth in seen {
        let (kind, name) = auth.split_once(':').unwrap_or((auth, ""));
        let (key, scheme) = match (kind, name) {
            ("none", _) => {
                optional = true;
                continue;
            }
            ("bearer_jwt", _) => (
                "bearerJwt".to_string(),
                json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
            ),
            ("bearer", _) => ("bearer".into(), json!({"type": "http", "scheme": "bearer"})),
            ("basic", _) => ("basic".into(), json!({"type": "http", "scheme": "basic"})),
            ("digest", _) => ("digest".into(), json!({"type": "http", "scheme": "digest"})),
            ("api_key", n) if !n.is_empty() => {
                let location = if API_KEY_QUERY_PARAMS
                    .iter()
                    .any(|q| q.eq_ignore_ascii_case(n))
                {
                    "query"
                } else {
                    "header"
                };
                (
                    format!("apiKey_{}", scheme_key(n)),
                    json!({"type": "apiKey", "in": location, "name": n}),
                )
            }
            ("cookie", n) if !n.is_empty() => (
                format!("cookie_{}", scheme_key(n)),
                json!({"type": "apiKey", "in": "cookie", "name": n}),
            ),
            _ => continue,
        };
        schemes.insert(key.clone(), scheme);
        out.push(json!({ key: [] }));
    }
    if optional && !out.is_empty() {
        out.push(json!({}));
    }
    out
}

/// A name usable as a components key (`^[a-zA-Z0-9.\-_]+$`).
fn scheme_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
