//! OpenAPI 3.0, 3.1 and Swagger 2.0 documents, reduced to what classification needs: each
//! operation's method, path template, id, deprecation, servers, query parameters, declared
//! response statuses and accepted request media types.
//!
//! [`Spec::parse`] takes the file's name and bytes (the sensor reads the file); every error
//! names the file and the JSON pointer of what is wrong.

mod document;
mod error;
mod model;
mod openapi3;
mod servers;
mod swagger2;

pub use error::{push_escaped, Pointer, RefProblem, SpecError};
pub use model::{
    media_essence, MediaRange, Method, Operation, QueryRule, RequestBody, Responses, METHODS,
};
pub use servers::ServerBase;

pub(crate) use servers::base_path;

use document::Doc;

/// Largest spec accepted, in bytes (64 MiB: the largest public specs are a few MiB).
pub const MAX_SPEC_BYTES: usize = 64 << 20;

/// `$ref`s followed in a row before giving up (a chain this long is a mistake).
pub const MAX_REF_HOPS: usize = 32;

/// URLs one server's variables may expand to; beyond it the spec is refused (name the hosts
/// in an override instead).
pub const MAX_SERVER_EXPANSIONS: usize = 64;

/// Which kind of document a spec is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecVersion {
    /// Swagger 2.0.
    Swagger2,
    /// OpenAPI 3.0.x.
    OpenApi30,
    /// OpenAPI 3.1.x.
    OpenApi31,
}

/// One loaded spec.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The name it was loaded under (the file name).
    pub name: String,
    /// Its kind.
    pub version: SpecVersion,
    /// Its `info.title`, if any.
    pub title: Option<String>,
    /// Its operations, by path (sorted: documents are read into sorted maps), then methods in
    /// [`METHODS`] order.
    pub operations: Vec<Operation>,
}

impl Spec {
    /// Parse a spec from its bytes (YAML or JSON). `name` names it in errors and in the
    /// `api.spec` of classified transactions.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Spec, SpecError> {
        let root = document::parse(name, bytes)?;
        let doc = Doc {
            file: name,
            root: &root,
        };
        let top = Pointer::default();
        let map = doc.object(&root, &top)?;
        doc.check_refs()?;
        let (version, operations) = if let Some(v) = map.get("openapi") {
            let v_at = top.child("openapi");
            let v = doc.string(v, &v_at)?;
            let version = if v.starts_with("3.0") {
                SpecVersion::OpenApi30
            } else if v.starts_with("3.1") {
                SpecVersion::OpenApi31
            } else {
                return Err(doc.invalid(
                    &v_at,
                    format!("openapi version {v:?} is not supported; 3.0.x and 3.1.x are"),
                ));
            };
            (version, openapi3::operations(&doc, map)?)
        } else if let Some(v) = map.get("swagger") {
            let v_at = top.child("swagger");
            let v = doc.string(v, &v_at)?;
            if v != "2.0" {
                return Err(doc.invalid(&v_at, format!("swagger version {v:?}; only \"2.0\" is")));
            }
            (SpecVersion::Swagger2, swagger2::operations(&doc, map)?)
        } else {
            return Err(doc.invalid(
                &top,
                "neither `openapi` nor `swagger` is set: not an OpenAPI or Swagger document",
            ));
        };
        let title = map
            .get("info")
            .and_then(|i| i.get("title"))
            .and_then(|t| t.as_str())
            .map(str::to_string);
        Ok(Spec {
            name: name.into(),
            version,
            title,
            operations,
        })
    }
}

#[cfg(test)]
mod tests;
