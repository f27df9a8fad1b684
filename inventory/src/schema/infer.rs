//! Inference from a JSON body, driven by the reader's reports ([`walk`](super::walk)).

use super::walk::{self, Sink, Stop};
use super::{
    FieldShape, JsonType, Schema, StringFormat, ITEMS, MAX_SCHEMA_DEPTH, MAX_SCHEMA_FIELDS,
};

/// A pointer in the tree being built: its last segment (unescaped; array elements are
/// [`ITEMS`]), its parent and children, and what was seen at it.
struct Node {
    /// The last segment.
    key: Box<str>,
    /// The parent node ([`NONE`] for the root).
    parent: u32,
    /// The child nodes, in the order they were first seen.
    children: Vec<u32>,
    /// Where the next child looked up probably is: the elements of an array of objects
    /// name their members in the same order, so a look-up nearly always hits here first.
    next_child: usize,
    /// What was seen.
    shape: FieldShape,
}

/// No node: a pointer dropped at [`MAX_SCHEMA_FIELDS`] (and every pointer below it).
const NONE: u32 = u32::MAX;

/// A schema while a body is walked: a tree of pointers (a body reaches its pointers many
/// times, once per array element, and each step down is a look-up among a few children,
/// where a map of whole pointers hashed and compared the pointer for every value), made
/// into a [`Schema`] at the end.
struct Builder {
    /// The nodes; the root first, every parent before its children.
    nodes: Vec<Node>,
    /// The node of the value being read.
    cur: u32,
    /// Values at new pointers not kept at [`MAX_SCHEMA_FIELDS`].
    dropped_fields: u32,
    /// A container past [`MAX_SCHEMA_DEPTH`] was not followed.
    depth_limited: bool,
}

impl Builder {
    /// A tree with the root alone.
    fn new() -> Self {
        Builder {
            nodes: vec![Node {
                key: "".into(),
                parent: NONE,
                children: Vec::new(),
                next_child: 0,
                shape: FieldShape::default(),
            }],
            cur: 0,
            dropped_fields: 0,
            depth_limited: false,
        }
    }

    /// Note a value of type `t` (and string format `f`) at the current node; one at a
    /// dropped pointer is counted.
    fn observe(&mut self, t: JsonType, f: Option<StringFormat>) {
        match self.nodes.get_mut(self.cur as usize) {
            Some(node) => node.shape.observe(t, f),
            None => self.dropped_fields = self.dropped_fields.saturating_add(1),
        }
    }

    /// Go down to the child `key` of the current node, made when new and the bound allows
    /// (below a dropped pointer, nothing is made); returns the node to go back to.
    fn enter(&mut self, key: &[u8]) -> u32 {
        let parent = self.cur;
        let Some(p) = self.nodes.get(parent as usize) else {
            return parent;
        };
        let n = p.children.len();
        let found = (0..n).map(|k| (p.next_child + k) % n).find(|&j| {
            p.children
                .get(j)
                .and_then(|&c| self.nodes.get(c as usize))
                .is_some_and(|c| c.key.as_bytes() == key)
        });
        let new_index = self.nodes.len();
        let child = match found {
            Some(j) => {
                let child = p.children.get(j).copied().unwrap_or(NONE);
                if let Some(p) = self.nodes.get_mut(parent as usize) {
                    p.next_child = j + 1;
                }
                child
            }
            None if new_index < MAX_SCHEMA_FIELDS => {
                let child = new_index as u32;
                self.nodes.push(Node {
                    // The reader hands over UTF-8 only.
                    key: String::from_utf8_lossy(key).into(),
                    parent,
                    children: Vec::new(),
                    next_child: 0,
                    shape: FieldShape::default(),
                });
                if let Some(p) = self.nodes.get_mut(parent as usize) {
                    p.children.push(child);
                }
                child
            }
            None => NONE,
        };
        self.cur = child;
        parent
    }

    /// The schema: each node's pointer (RFC 6901: its parent's, `/`, its key escaped),
    /// sorted.
    fn finish(self) -> Schema {
        let mut pointers: Vec<String> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let pointer = match pointers.get(node.parent as usize) {
                Some(parent) => {
                    let mut p = String::with_capacity(parent.len() + 1 + node.key.len());
                    p.push_str(parent);
                    p.push('/');
                    crate::spec::push_escaped(&mut p, &node.key);
                    p
                }
                None => String::new(),
            };
            pointers.push(pointer);
        }
        Schema {
            fields: pointers
                .into_iter()
                .zip(self.nodes.into_iter().map(|n| n.shape))
                .collect(),
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
    let mut schema = Builder::new();
    match walk::document(body, &mut schema) {
        Ok(()) => Inference::Complete(schema.finish()),
        Err(Stop::Eof) => Inference::Truncated,
        Err(Stop::Invalid) => Inference::NotJson,
    }
}

impl Sink for Builder {
    fn value(&mut self, t: JsonType, f: Option<StringFormat>) {
        self.observe(t, f);
    }

    fn follows(&mut self, depth: usize) -> bool {
        if depth >= MAX_SCHEMA_DEPTH {
            self.depth_limited = true;
            return false;
        }
        true
    }

    fn enter_key(&mut self, key: &[u8]) -> usize {
        self.enter(key) as usize
    }

    fn enter_items(&mut self) -> usize {
        self.enter(ITEMS.as_bytes()) as usize
    }

    fn leave(&mut self, back: usize) {
        self.cur = u32::try_from(back).unwrap_or(NONE);
    }
}
