//! Schemas inferred from JSON bodies: field names (JSON pointers) and types, never values.
//!
//! A [`Schema`] is flat: one [`FieldShape`] per pointer (RFC 6901; array elements are the
//! segment `*`, so `/items/*/name` is the `name` of every element of `items`). Each shape
//! counts how often its pointer was present and how often it was an object: a field is
//! required when it was present every time its parent was an object. Flat schemas merge by
//! adding counts, so samples merge in any order to the same schema.
//!
//! Inference runs in the sensor on the decoded body, straight from a JSON reader made for it
//! ([`walk`]: it checks the grammar as `serde_json` does and reports each value's type at its
//! place in a tree of pointers): no value is ever built, and only a string's *format* (uuid,
//! date-time, date, email) is read from it.

mod format;
mod infer;
#[cfg(test)]
mod reference;
pub mod walk;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use format::string_format;
pub use infer::{infer_json, Inference};

/// Deepest nesting followed, in containers below the root; deeper ones are typed but their
/// contents are not (`depth_limited` is set).
pub const MAX_SCHEMA_DEPTH: usize = 16;

/// Pointers kept per schema (per body and after merges); more are counted in
/// `dropped_fields`.
pub const MAX_SCHEMA_FIELDS: usize = 256;

/// Bytes of the SHA-256 digest a fingerprint keeps (16 hex digits).
const FINGERPRINT_BYTES: usize = 8;

/// Lower-case hexadecimal digits.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The array element segment of a pointer.
pub const ITEMS: &str = "*";

/// A JSON type (JSON Schema's names: `integer` is a number without a fraction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonType {
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean,
    /// A number without fraction or exponent.
    Integer,
    /// Any other number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonType {
    /// JSON Schema's name.
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Boolean => "boolean",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::String => "string",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }
}

/// A string format recognised from a value's shape (OpenAPI format names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StringFormat {
    /// An RFC 9562 UUID.
    Uuid,
    /// An RFC 3339 date-time.
    DateTime,
    /// An RFC 3339 full-date.
    Date,
    /// Something `local@domain.tld`-shaped.
    Email,
}

impl StringFormat {
    /// OpenAPI's name (`uuid`, `date-time`, `date`, `email`), as records write it.
    pub fn as_str(self) -> &'static str {
        match self {
            StringFormat::Uuid => "uuid",
            StringFormat::DateTime => "date-time",
            StringFormat::Date => "date",
            StringFormat::Email => "email",
        }
    }

    /// The variant's name as `Debug` prints it, which the fingerprint's canonical text uses.
    fn debug_name(self) -> &'static str {
        match self {
            StringFormat::Uuid => "Uuid",
            StringFormat::DateTime => "DateTime",
            StringFormat::Date => "Date",
            StringFormat::Email => "Email",
        }
    }
}

/// What was seen at one pointer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldShape {
    /// The types seen, sorted, each once.
    pub types: Vec<JsonType>,
    /// The formats of the strings seen, sorted, each once; `plain` strings count in
    /// `plain_strings`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<StringFormat>,
    /// Strings with no recognised format.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub plain_strings: u32,
    /// Times the pointer was present.
    pub count: u32,
    /// Times it was an object (its fields' `count` against this says required or optional).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub objects: u32,
}

/// For serde's `skip_serializing_if`.
fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl FieldShape {
    /// Note one more value of type `t` (and string format `f`).
    fn observe(&mut self, t: JsonType, f: Option<StringFormat>) {
        insert_sorted(&mut self.types, t);
        self.count = self.count.saturating_add(1);
        if t == JsonType::Object {
            self.objects = self.objects.saturating_add(1);
        }
        match f {
            Some(f) => insert_sorted(&mut self.formats, f),
            None if t == JsonType::String => {
                self.plain_strings = self.plain_strings.saturating_add(1)
            }
            None => {}
        }
    }

    /// Add another shape of the same pointer.
    fn merge(&mut self, other: &FieldShape) {
        for t in &other.types {
            insert_sorted(&mut self.types, *t);
        }
        for f in &other.formats {
            insert_sorted(&mut self.formats, *f);
        }
        self.plain_strings = self.plain_strings.saturating_add(other.plain_strings);
        self.count = self.count.saturating_add(other.count);
        self.objects = self.objects.saturating_add(other.objects);
    }

    /// The one format of every string seen, if they all had the same.
    pub fn format(&self) -> Option<StringFormat> {
        match self.formats.as_slice() {
            [f] if self.plain_strings == 0 => Some(*f),
            _ => None,
        }
    }
}

/// `v` into sorted `list` unless there.
fn insert_sorted<T: Ord>(list: &mut Vec<T>, v: T) {
    if let Err(i) = list.binary_search(&v) {
        list.insert(i, v);
    }
}

/// The inferred schema of one body, or of many merged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Per pointer (`""` is the body itself), what was seen.
    pub fields: BTreeMap<String, FieldShape>,
    /// New pointers not kept at [`MAX_SCHEMA_FIELDS`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_fields: u32,
    /// Containers past [`MAX_SCHEMA_DEPTH`] were typed but not followed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub depth_limited: bool,
}

impl Schema {
    /// Bodies merged into it (the root pointer's count).
    pub fn samples(&self) -> u32 {
        self.fields.get("").map_or(0, |f| f.count)
    }

    /// Merge another schema into this one (type unions, counts added, the field bound kept).
    pub fn merge(&mut self, other: &Schema) {
        for (pointer, shape) in &other.fields {
            if let Some(mine) = self.fields.get_mut(pointer) {
                mine.merge(shape);
            } else if self.fields.len() < MAX_SCHEMA_FIELDS {
                self.fields.insert(pointer.clone(), shape.clone());
            } else {
                self.dropped_fields = self.dropped_fields.saturating_add(1);
            }
        }
        self.dropped_fields = self.dropped_fields.saturating_add(other.dropped_fields);
        self.depth_limited |= other.depth_limited;
    }

    /// Whether the field at `pointer` was present every time its parent object was (the
    /// root is required).
    pub fn required(&self, pointer: &str) -> bool {
        let Some(shape) = self.fields.get(pointer) else {
            return false;
        };
        match parent(pointer) {
            None => true,
            Some(p) => self
                .fields
                .get(p)
                .is_none_or(|parent| shape.count >= parent.objects),
        }
    }

    /// A stable fingerprint of the shape (pointers, types and formats; not the counts): 16
    /// hex digits of SHA-256 over a canonical text, the same on every run and machine.
    pub fn fingerprint(&self) -> String {
        // The canonical text in one buffer, hashed in one call: a call per piece cost more
        // than the hashing.
        let mut text = Vec::with_capacity(self.fields.len() * 32);
        for (pointer, shape) in &self.fields {
            text.extend_from_slice(pointer.as_bytes());
            text.push(0);
            for t in &shape.types {
                text.extend_from_slice(t.as_str().as_bytes());
                text.push(b',');
            }
            if let Some(f) = shape.format() {
                text.push(0);
                text.extend_from_slice(f.debug_name().as_bytes());
            }
            text.push(b'\n');
        }
        let digest = Sha256::digest(&text);
        let mut hex = String::with_capacity(FINGERPRINT_BYTES * 2);
        for b in digest.iter().take(FINGERPRINT_BYTES) {
            hex.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
            hex.push(char::from(HEX_DIGITS[usize::from(b & 0xf)]));
        }
        hex
    }

    /// The pointers directly below `pointer`, with their last segment (unescaped).
    pub fn children<'s>(&'s self, pointer: &'s str) -> impl Iterator<Item = (String, &'s str)> {
        let prefix = format!("{pointer}/");
        let start = prefix.len();
        self.fields
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .filter_map(move |(k, _)| {
                let last = k.get(start..)?;
                (!last.contains('/')).then(|| (unescape(last), k.as_str()))
            })
    }
}

/// The parent of a pointer (`None` for the root).
fn parent(pointer: &str) -> Option<&str> {
    pointer.rfind('/').map(|i| &pointer[..i])
}

/// A pointer segment unescaped (RFC 6901 section 4: `~1` is `/`, then `~0` is `~`).
pub fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests;
