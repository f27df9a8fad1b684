//! A spec's bytes as a JSON value, and typed reads of it that say where they failed.
//!
//! YAML and JSON both become a [`serde_json::Value`]: OpenAPI is defined over the JSON data
//! model, and YAML keys that are not strings (`200:` in `responses`) become their text.

use serde_json::{Map, Value};

use super::error::{Pointer, RefProblem, SpecError};
use super::{MAX_REF_HOPS, MAX_SPEC_BYTES};

/// Parse a spec's bytes: JSON when the first character that is not white space is `{`,
/// YAML otherwise (JSON is YAML, but the JSON parser's messages are the better ones).
pub fn parse(file: &str, bytes: &[u8]) -> Result<Value, SpecError> {
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge {
            file: file.into(),
            bytes: bytes.len(),
            max: MAX_SPEC_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return serde_json::from_slice(bytes).map_err(|e| SpecError::Syntax {
            file: file.into(),
            format: "JSON",
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        });
    }
    let yaml: yaml_serde::Value = yaml_serde::from_slice(bytes).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        SpecError::Syntax {
            file: file.into(),
            format: "YAML",
            line,
            column,
            message: e.to_string(),
        }
    })?;
    yaml_to_json(file, yaml, &Pointer::default())
}

/// A YAML value as JSON: non-string keys as their text, tags dropped.
fn yaml_to_json(file: &str, v: yaml_serde::Value, at: &Pointer) -> Result<Value, SpecError> {
    use yaml_serde::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => yaml_number(&n),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| yaml_to_json(file, item, &at.index(i)))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".into(),
                    other => {
                        return Err(SpecError::Invalid {
                            file: file.into(),
                            pointer: at.clone(),
                            message: format!(
                                "a key is {}; OpenAPI keys are strings",
                                yaml_kind(&other)
                            ),
                        })
                    }
                };
                let child = at.child(&key);
                out.insert(key, yaml_to_json(file, v, &child)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(file, t.value, at)?,
    })
}

/// A YAML number as a JSON one (a non-finite float, which JSON cannot hold, as null).
fn yaml_number(n: &yaml_serde::Number) -> Value {
    if let Some(u) = n.as_u64() {
        Value::from(u)
    } else if let Some(i) = n.as_i64() {
        Value::from(i)
    } else {
        n.as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number)
    }
}

/// What a YAML node is, for messages.
fn yaml_kind(v: &yaml_serde::Value) -> &'static str {
    match v {
        yaml_serde::Value::Sequence(_) => "a sequence",
        yaml_serde::Value::Mapping(_) => "a mapping",
        _ => "a tagged value",
    }
}

/// What a JSON node is, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A parsed spec being read: the file name for errors, the root for `$ref`s.
#[derive(Clone, Copy)]
pub struct Doc<'d> {
    /// The spec's name.
    pub file: &'d str,
    /// The whole document.
    pub root: &'d Value,
}

impl<'d> Doc<'d> {
    /// An error at `at`.
    pub fn invalid(&self, at: &Pointer, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            file: self.file.into(),
            pointer: at.clone(),
            message: message.into(),
        }
    }

    /// `v` as an object.
    pub fn object(&self, v: &'d Value, at: &Pointer) -> Result<&'d Map<String, Value>, SpecError> {
        v.as_object()
            .ok_or_else(|| self.invalid(at, format!("expected an object, found {}", kind(v))))
    }

    /// `v` as an array.
    pub fn array(&self, v: &'d Value, at: &Pointer) -> Result<&'d [Value], SpecError> {
        v.as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.invalid(at, format!("expected an array, found {}", kind(v))))
    }

    /// `v` as a string.
    pub fn string(&self, v: &'d Value, at: &Pointer) -> Result<&'d str, SpecError> {
        v.as_str()
            .ok_or_else(|| self.invalid(at, format!("expected a string, found {}", kind(v))))
    }

    /// The string at `key` of `map`, if present.
    pub fn opt_string(
        &self,
        map: &'d Map<String, Value>,
        key: &str,
        at: &Pointer,
    ) -> Result<Option<&'d str>, SpecError> {
        map.get(key)
            .map(|v| self.string(v, &at.child(key)))
            .transpose()
    }

    /// The boolean at `key` of `map`, false when absent.
    pub fn flag(
        &self,
        map: &'d Map<String, Value>,
        key: &str,
        at: &Pointer,
    ) -> Result<bool, SpecError> {
        match map.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.invalid(
                &at.child(key),
                format!("expected a boolean, found {}", kind(v)),
            )),
        }
    }

    /// `v`, or what its `$ref` (and theirs, in turn) points to, with the pointer of the value
    /// reached.
    pub fn resolve(&self, v: &'d Value, at: &Pointer) -> Result<(&'d Value, Pointer), SpecError> {
        let (mut v, mut at) = (v, at.clone());
        let mut followed: Vec<Pointer> = Vec::new();
        while let Some(target) = ref_of(v) {
            let target = self.string(target, &at.child("$ref"))?;
            let fail = |problem| SpecError::Ref {
                file: self.file.into(),
                pointer: at.child("$ref"),
                target: target.into(),
                problem,
            };
            let to = local_pointer(target).ok_or_else(|| fail(RefProblem::External))?;
            if followed.contains(&to) {
                return Err(fail(RefProblem::Cycle));
            }
            if followed.len() >= MAX_REF_HOPS {
                return Err(fail(RefProblem::TooDeep));
            }
            v = self
                .root
                .pointer(to.as_str())
                .ok_or_else(|| fail(RefProblem::Unresolvable))?;
            followed.push(to.clone());
            at = to;
        }
        Ok((v, at))
    }

    /// Every `$ref` in the document resolves (schemas' too, which the matcher never follows):
    /// a spec with a dangling reference is broken wherever it is.
    pub fn check_refs(&self) -> Result<(), SpecError> {
        self.check_refs_in(self.root, &Pointer::default())
    }

    /// [`Self::check_refs`] below `v`.
    fn check_refs_in(&self, v: &'d Value, at: &Pointer) -> Result<(), SpecError> {
        match v {
            Value::Object(map) => {
                if ref_of(v).is_some() {
                    self.resolve(v, at)?;
                }
                for (k, child) in map {
                    // Examples and extensions are free-form data, not spec.
                    if k == "example" || k == "examples" || k.starts_with("x-") || k == "$ref" {
                        continue;
                    }
                    self.check_refs_in(child, &at.child(k))?;
                }
                Ok(())
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| self.check_refs_in(item, &at.index(i))),
            _ => Ok(()),
        }
    }
}

/// The `$ref` of an object that has one.
fn ref_of(v: &Value) -> Option<&Value> {
    v.as_object().and_then(|m| m.get("$ref"))
}

/// The pointer of a same-document reference (`#/components/schemas/User`), percent-decoded
/// (RFC 6901 section 6); `None` for a reference to another document.
fn local_pointer(target: &str) -> Option<Pointer> {
    let fragment = target.strip_prefix('#')?;
    let decoded = percent_encoding::percent_decode_str(fragment).decode_utf8_lossy();
    Some(Pointer(decoded.into_owned()))
}
