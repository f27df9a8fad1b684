//! OpenAPI 3.0 and 3.1 operations (section 4.8 of either: Paths, Path Item, Operation,
//! Parameter, Request Body and Responses objects).

use serde_json::{Map, Value};

use super::document::Doc;
use super::error::{Pointer, SpecError};
use super::model::{MediaRange, Operation, QueryRule, RequestBody, Responses, METHODS};
use super::servers::{openapi_servers, ServerBase};

/// Every operation of an OpenAPI 3.x document.
pub fn operations(doc: &Doc<'_>, root: &Map<String, Value>) -> Result<Vec<Operation>, SpecError> {
    let top = Pointer::default();
    let root_servers = servers_or(doc, root, &top, None)?;
    let Some(paths) = root.get("paths") else {
        // 3.1 allows a document of webhooks or components only.
        return Ok(Vec::new());
    };
    let paths_at = top.child("paths");
    let mut out = Vec::new();
    for (key, item) in doc.object(paths, &paths_at)? {
        if key.starts_with("x-") {
            continue;
        }
        let at = paths_at.child(key);
        if !key.starts_with('/') {
            return Err(doc.invalid(&at, format!("path {key:?} must start with `/`")));
        }
        let (item, item_at) = doc.resolve(item, &at)?;
        let item = doc.object(item, &item_at)?;
        let item_servers = servers_or(doc, item, &item_at, Some(&root_servers))?;
        let shared = parameters(doc, item, &item_at)?;
        for method in METHODS {
            let Some(op) = item.get(method.key()) else {
                continue;
            };
            let op_at = item_at.child(method.key());
            let op = doc.object(op, &op_at)?;
            let mut query = shared.clone();
            let own = parameters(doc, op, &op_at)?;
            query.names.extend(own.names);
            query.deep_objects.extend(own.deep_objects);
            query.any |= own.any;
            out.push(Operation {
                method,
                path: key.clone(),
                operation_id: doc.opt_string(op, "operationId", &op_at)?.map(Into::into),
                deprecated: doc.flag(op, "deprecated", &op_at)?,
                servers: servers_or(doc, op, &op_at, Some(&item_servers))?,
                query,
                responses: responses(doc, op, &op_at)?,
                request_body: request_body(doc, op, &op_at)?,
                pointer: op_at.as_str().into(),
            });
        }
    }
    Ok(out)
}

/// The `servers` of `map`, else `inherited`, else the document default (`/` on every host).
fn servers_or(
    doc: &Doc<'_>,
    map: &Map<String, Value>,
    at: &Pointer,
    inherited: Option<&Vec<ServerBase>>,
) -> Result<Vec<ServerBase>, SpecError> {
    match (map.get("servers"), inherited) {
        (Some(s), _) => openapi_servers(doc, s, &at.child("servers")),
        (None, Some(inherited)) => Ok(inherited.clone()),
        (None, None) => openapi_servers(doc, &Value::Array(Vec::new()), &at.child("servers")),
    }
}

/// The query parameters of a path item's or an operation's `parameters`.
fn parameters(
    doc: &Doc<'_>,
    map: &Map<String, Value>,
    at: &Pointer,
) -> Result<QueryRule, SpecError> {
    let mut rule = QueryRule::default();
    let Some(params) = map.get("parameters") else {
        return Ok(rule);
    };
    let list_at = at.child("parameters");
    for (i, p) in doc.array(params, &list_at)?.iter().enumerate() {
        let (p, p_at) = doc.resolve(p, &list_at.index(i))?;
        let p = doc.object(p, &p_at)?;
        let name = doc
            .opt_string(p, "name", &p_at)?
            .ok_or_else(|| doc.invalid(&p_at, "a parameter needs a `name`"))?;
        let location = doc
            .opt_string(p, "in", &p_at)?
            .ok_or_else(|| doc.invalid(&p_at, "a parameter needs `in`"))?;
        match location {
            "query" => {}
            "path" | "header" | "cookie" => continue,
            other => {
                return Err(doc.invalid(
                    &p_at.child("in"),
                    format!("`in: {other}`; a parameter is in query, path, header or cookie"),
                ))
            }
        }
        let style = doc.opt_string(p, "style", &p_at)?.unwrap_or("form");
        if style == "deepObject" {
            rule.deep_objects.push(name.into());
        } else if style == "form" && explode(doc, p, &p_at)? && object_schema(doc, p, &p_at)? {
            rule.any = true;
        }
        rule.names.push(name.into());
    }
    Ok(rule)
}

/// A query parameter's `explode` (true by default for `style: form`).
fn explode(doc: &Doc<'_>, p: &Map<String, Value>, at: &Pointer) -> Result<bool, SpecError> {
    match p.get("explode") {
        None => Ok(true),
        Some(_) => doc.flag(p, "explode", at),
    }
}

/// Whether a parameter's schema is an object (its properties then become the names).
fn object_schema(doc: &Doc<'_>, p: &Map<String, Value>, at: &Pointer) -> Result<bool, SpecError> {
    let Some(schema) = p.get("schema") else {
        return Ok(false);
    };
    let (schema, _) = doc.resolve(schema, &at.child("schema"))?;
    Ok(schema.get("type").and_then(Value::as_str) == Some("object")
        || schema.get("properties").is_some()
        || schema.get("additionalProperties").is_some())
}

/// An operation's `responses` keys.
pub(super) fn responses(
    doc: &Doc<'_>,
    op: &Map<String, Value>,
    at: &Pointer,
) -> Result<Responses, SpecError> {
    let mut out = Responses::default();
    let Some(r) = op.get("responses") else {
        return Ok(out);
    };
    let r_at = at.child("responses");
    for key in doc.object(r, &r_at)?.keys() {
        let b = key.as_bytes();
        if key == "default" {
            out.default = true;
        } else if key.starts_with("x-") {
        } else if let (3, Some(d @ b'1'..=b'5')) = (b.len(), b.first()) {
            if b[1..].eq_ignore_ascii_case(b"XX") {
                out.ranges |= 1 << (d - b'0');
            } else {
                match key.parse::<u16>() {
                    Ok(code) => out.codes.push(code),
                    Err(_) => return Err(bad_status(doc, &r_at, key)),
                }
            }
        } else {
            return Err(bad_status(doc, &r_at, key));
        }
    }
    out.codes.sort_unstable();
    out.codes.dedup();
    Ok(out)
}

/// The error for a `responses` key that is no status.
fn bad_status(doc: &Doc<'_>, at: &Pointer, key: &str) -> SpecError {
    doc.invalid(
        &at.child(key),
        format!(
            "{key:?} is not a response status: write a code (`404`), a range (`4XX`) or `default`"
        ),
    )
}

/// An operation's `requestBody` media types.
fn request_body(
    doc: &Doc<'_>,
    op: &Map<String, Value>,
    at: &Pointer,
) -> Result<Option<RequestBody>, SpecError> {
    let Some(body) = op.get("requestBody") else {
        return Ok(None);
    };
    let (body, b_at) = doc.resolve(body, &at.child("requestBody"))?;
    let body = doc.object(body, &b_at)?;
    let media = match body.get("content") {
        Some(c) => doc
            .object(c, &b_at.child("content"))?
            .keys()
            .map(|k| MediaRange::parse(k))
            .collect(),
        None => Vec::new(),
    };
    Ok(Some(RequestBody { media }))
}
