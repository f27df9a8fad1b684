//! The slow twin of inference: the serde visitor it used before the hand-written reader
//! ([`walk`](super::walk)), kept for the proptest that holds the two to the same schemas.

use std::fmt;

use hashbrown::HashMap;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{
    FieldShape, Inference, JsonType, Schema, StringFormat, ITEMS, MAX_SCHEMA_DEPTH,
    MAX_SCHEMA_FIELDS,
};

/// A schema while a body is walked: hashed by pointer (a body touches its pointers many
/// times, once per array element), sorted into a [`Schema`] at the end.
#[derive(Default)]
struct RefBuilder {
    /// Per pointer, what was seen.
    fields: HashMap<String, FieldShape, foldhash::fast::FixedState>,
    /// New pointers not kept at [`MAX_SCHEMA_FIELDS`].
    dropped_fields: u32,
    /// A container past [`MAX_SCHEMA_DEPTH`] was not followed.
    depth_limited: bool,
}

impl RefBuilder {
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

/// The schema of a JSON body as inference read it before [`walk`](super::walk): from
/// `serde_json`'s events.
pub fn infer_json_serde(body: &[u8]) -> Inference {
    let mut schema = RefBuilder::default();
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
    schema: &'s mut RefBuilder,
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
        self.note(JsonType::String, super::string_format(s));
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
