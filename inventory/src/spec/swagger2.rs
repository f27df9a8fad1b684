//! Swagger 2.0 operations (the Swagger 2.0 specification: Paths, Path Item, Operation and
//! Parameter objects; `consumes` for request media types).

use serde_json::{Map, Value};

use super::document::Doc;
use super::error::{Pointer, SpecError};
use super::model::{MediaRange, Operation, QueryRule, RequestBody, METHODS};
use super::openapi3::responses;
use super::servers::swagger_servers;

/// What a path item's or an operation's `parameters` say about the request.
#[derive(Clone, Default)]
struct Params {
    /// The query names.
    query: QueryRule,
    /// An `in: body` parameter.
    body: bool,
    /// An `in: formData` parameter.
    form: bool,
}

/// Every operation of a Swagger 2.0 document.
pub fn operations(doc: &Doc<'_>, root: &Map<String, Value>) -> Result<Vec<Operation>, SpecError> {
    let top = Pointer::default();
    let servers = swagger_servers(doc, root, &top)?;
    let global_consumes = consumes(doc, root, &top)?;
    let paths_at = top.child("paths");
    let paths = match root.get("paths") {
        Some(p) => doc.object(p, &paths_at)?,
        None => return Err(doc.invalid(&top, "a Swagger 2.0 document needs `paths`")),
    };
    let mut out = Vec::new();
    for (key, item) in paths {
        if key.starts_with("x-") {
            continue;
        }
        let at = paths_at.child(key);
        if !key.starts_with('/') {
            return Err(doc.invalid(&at, format!("path {key:?} must start with `/`")));
        }
        let (item, item_at) = doc.resolve(item, &at)?;
        let item = doc.object(item, &item_at)?;
        let shared = parameters(doc, item, &item_at)?;
        for method in METHODS {
            let Some(op) = item.get(method.key()) else {
                continue;
            };
            let op_at = item_at.child(method.key());
            let op = doc.object(op, &op_at)?;
            let own = parameters(doc, op, &op_at)?;
            let mut query = shared.query.clone();
            query.names.extend(own.query.names);
            let media = match consumes(doc, op, &op_at)? {
                Some(c) => Some(c),
                None => global_consumes.clone(),
            };
            let request_body = body_of(
                shared.body || own.body,
                shared.form || own.form,
                media.unwrap_or_default(),
            );
            out.push(Operation {
                method,
                path: key.clone(),
                operation_id: doc.opt_string(op, "operationId", &op_at)?.map(Into::into),
                deprecated: doc.flag(op, "deprecated", &op_at)?,
                servers: servers.clone(),
                query,
                responses: responses(doc, op, &op_at)?,
                request_body,
                pointer: op_at.as_str().into(),
            });
        }
    }
    Ok(out)
}

/// The request body of an operation with body or form parameters: its `consumes`, else for
/// forms the two form media types, else any.
fn body_of(body: bool, form: bool, consumes: Vec<MediaRange>) -> Option<RequestBody> {
    if !body && !form {
        return None;
    }
    let media = if consumes.is_empty() && form {
        vec![
            MediaRange::Exact("application/x-www-form-urlencoded".into()),
            MediaRange::Exact("multipart/form-data".into()),
        ]
    } else {
        consumes
    };
    Some(RequestBody { media })
}

/// The `consumes` of `map`, if set.
fn consumes(
    doc: &Doc<'_>,
    map: &Map<String, Value>,
    at: &Pointer,
) -> Result<Option<Vec<MediaRange>>, SpecError> {
    let Some(c) = map.get("consumes") else {
        return Ok(None);
    };
    let c_at = at.child("consumes");
    doc.array(c, &c_at)?
        .iter()
        .enumerate()
        .map(|(i, m)| doc.string(m, &c_at.index(i)).map(MediaRange::parse))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The parameters of a path item or operation.
fn parameters(doc: &Doc<'_>, map: &Map<String, Value>, at: &Pointer) -> Result<Params, SpecError> {
    let mut out = Params::default();
    let Some(params) = map.get("parameters") else {
        return Ok(out);
    };
    let list_at = at.child("parameters");
    for (i, p) in doc.array(params, &list_at)?.iter().enumerate() {
        let (p, p_at) = doc.resolve(p, &list_at.index(i))?;
        let p = doc.object(p, &p_at)?;
        let name = doc
            .opt_string(p, "name", &p_at)?
            .ok_or_else(|| doc.invalid(&p_at, "a parameter needs a `name`"))?;
        match doc.opt_string(p, "in", &p_at)? {
            Some("query") => out.query.names.push(name.into()),
            Some("body") => out.body = true,
            Some("formData") => out.form = true,
            Some("path" | "header") => {}
            Some(other) => {
                return Err(doc.invalid(
                    &p_at.child("in"),
                    format!(
                        "`in: {other}`; a parameter is in query, header, path, formData or body"
                    ),
                ))
            }
            None => return Err(doc.invalid(&p_at, "a parameter needs `in`")),
        }
    }
    Ok(out)
}
