//! Inference from a JSON body, driven by the parser's events.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use hashbrown::HashMap;

use super::{
    FieldShape, JsonType, Schema, StringFormat, ITEMS, MAX_SCHEMA_DEPTH, MAX_SCHEMA_FIELDS,
};

/// A schema while a body is walked: hashed by pointer (a body touches its pointers many
/// times, once per array element), sorted into a [`Schema`] at the end.
#[derive(Default)]
struct Builder {
    /// Per pointer, what was seen.
    fields: HashMap<String, FieldShape, foldhash::fast::FixedState>,
    /// New pointers not kept at [`MAX_SCHEMA_FIELDS`].
    dropped_fields: u32,
    /// A container past [`MAX_SCHEMA_DEPTH`] was not followed.
    depth_limited: bool,
}

impl Builder {
    /// Note a value of type `t` at `pointer` (a new pointer past the bound is counted).
    fn observe(&mut self, pointer: &str, t: JsonType, f: Option<StringFormat>) {
        if let Some(shape) = self.fields.get_mut(pointer) {
            shape.observe(t, f);
        } else if self.fields.len() < MAX_SCHEMA_FIELDS {
            let mut shape = FieldShape::default();
            shape.observe(t, f);
            self.fields.insert(pointer.to_string(), shape);
        } else {
            self.dropped_fields = self.dropped_fields.saturating_add(1);
        }
    }

    /// The schema, sorted by pointer.
    fn finish(self) -> Schema {
        Schema {
            fields: self.fields.into_iter().collect(),
            dropped_fields: self.dropped_fields,
            depth_limited: self.depth_limited,
        }
    }
}

/// What a body gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inference {
    /// A whole JSON document: its schema.
    Complete(Schema),
    /// The bytes are JSON so far but end early (a body cut at a bound, or a prefix): no
    /// schema, since the missing part may hold any field.
    Truncated,
    /// Not JSON.
    NotJson,
}

/// Infer the schema of a JSON body. Every prefix of a JSON document is `Truncated` (or,
/// for a number cut short, `Complete`), never `NotJson`.
pub fn infer_json(body: &[u8]) -> Inference {
    let mut schema = Builder::default();
    let mut pointer = String::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let walker = Walker {
        schema: &mut schema,
        pointer: &mut pointer,
        depth: 0,
    };
    match walker.deserialize(&mut de).and_then(|()| de.end()) {
        Ok(()) => Inference::Complete(schema.finish()),
        Err(e) if e.is_eof() => Inference::Truncated,
        Err(_) => Inference::NotJson,
    }
}

/// Walks one value, noting its type at `pointer` and its contents below it.
struct Walker<'s> {
    /// Where to note.
    schema: &'s mut Builder,
    /// The value's pointer; restored before returning.
    pointer: &'s mut String,
    /// Containers above the value.
    depth: usize,
}

impl Walker<'_> {
    /// Note the value's type.
    fn note(&mut self, t: JsonType, f: Option<StringFormat>) {
        self.schema.observe(self.pointer, t, f);
    }
}

impl<'de> DeserializeSeed<'de> for Walker<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walker<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(mut self) -> Result<(), E> {
        self.note(JsonType::Null, None);
        Ok(())
    }

    fn visit_bool<E>(mut self, _: bool) -> Result<(), E> {
        self.note(JsonType::Boolean, None);
        Ok(())
    }

    fn visit_i64<E>(mut self, _: i64) -> Result<(), E> {
        self.note(JsonType::Integer, None);
        Ok(())
    }

    fn visit_u64<E>(mut self, _: u64) -> Result<(), E> {
        self.note(JsonType::Integer, None);
        Ok(())
    }

    fn visit_f64<E>(mut self, _: f64) -> Result<(), E> {
        self.note(JsonType::Number, None);
        Ok(())
    }

    fn visit_str<E>(mut self, s: &str) -> Result<(), E> {
        self.note(JsonType::String, string_format(s));
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.note(JsonType::Object, None);
        if self.depth >= MAX_SCHEMA_DEPTH {
            self.schema.depth_limited = true;
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        let len = self.pointer.len();
        while map.next_key_seed(KeySeed(self.pointer))?.is_some() {
            map.next_value_seed(Walker {
                schema: self.schema,
                pointer: self.pointer,
                depth: self.depth + 1,
            })?;
            self.pointer.truncate(len);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.note(JsonType::Array, None);
        if self.depth >= MAX_SCHEMA_DEPTH {
            self.schema.depth_limited = true;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        let len = self.pointer.len();
        self.pointer.push('/');
        self.pointer.push_str(ITEMS);
        while seq
            .next_element_seed(Walker {
                schema: self.schema,
                pointer: self.pointer,
                depth: self.depth + 1,
            })?
            .is_some()
        {}
        self.pointer.truncate(len);
        Ok(())
    }
}

/// Appends `/key` (escaped) to the pointer.
struct KeySeed<'p>(&'p mut String);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<(), E> {
        self.0.push('/');
        if key.bytes().any(|b| b == b'~' || b == b'/') {
            crate::spec::push_escaped(self.0, key);
        } else {
            self.0.push_str(key);
        }
        Ok(())
    }
}

/// The format a string's shape shows, if any.
pub fn string_format(s: &str) -> Option<StringFormat> {
    let b = s.as_bytes();
    if is_uuid(b) {
        Some(StringFormat::Uuid)
    } else if b.len() == DATE_LEN && is_date(b) {
        Some(StringFormat::Date)
    } else if b.len() > DATE_LEN && is_date(b) && matches!(b.get(DATE_LEN), Some(b'T' | b't')) {
        Some(StringFormat::DateTime)
    } else if is_email(s) {
        Some(StringFormat::Email)
    } else {
        None
    }
}

/// Length of an RFC 3339 full-date.
const DATE_LEN: usize = 10;

/// Length of a UUID's text form (RFC 9562 section 4).
const UUID_LEN: usize = 36;

/// `8-4-4-4-12` hex digits.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == UUID_LEN
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Starts with `YYYY-MM-DD` (RFC 3339 section 5.6 full-date).
fn is_date(b: &[u8]) -> bool {
    let Some(d) = b.get(..DATE_LEN) else {
        return false;
    };
    d.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        _ => c.is_ascii_digit(),
    })
}

/// `local@domain.tld`, loosely: one `@`, something before it, a dotted domain after it.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}
