//! A segment trie of path templates, searched per method with OpenAPI's precedence.
//!
//! Precedence (OpenAPI 3.x section 4.8.8, "concrete paths are matched before templated
//! ones", made total): segments are compared from the left, and at the first segment where two
//! templates differ a literal segment beats a mixed one (`{name}.json`), which beats a bare
//! parameter (`{id}`). Among mixed segments the one with more literal characters wins, then
//! the one inserted first. The search is depth-first in that order, so the first template
//! found is the most specific one that has the method; `/users/me` (GET only) and
//! `/users/{id}` (GET, DELETE) send `DELETE /users/me` to `/users/{id}`.
//!
//! A parameter matches one non-empty segment. Backtracking is bounded by the templates: the
//! search never goes deeper than the longest template, and a spec whose templates branch at
//! every level could make it try each of them once.

use super::keymap::KeyMap;
use crate::spec::{Method, METHODS};

/// Nodes and routes are numbered by `u32`; this one means none.
pub const NONE: u32 = u32::MAX;

/// A segment of a template.
#[derive(Debug, PartialEq, Eq)]
enum Seg<'t> {
    /// Must equal the request's segment.
    Literal(&'t str),
    /// `{name}`: any non-empty segment.
    Param,
    /// Literals around parameters, `{name}.{ext}`, `report-{id}`.
    Mixed(Mixed),
}

/// A mixed segment: the literal pieces around its parameters (one more piece than
/// parameters; the first and last may be empty).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mixed {
    /// The literals, in order.
    pieces: Vec<String>,
}

impl Mixed {
    /// Literal characters it requires: the more, the more specific.
    fn literal_len(&self) -> usize {
        self.pieces.iter().map(String::len).sum()
    }

    /// Whether a request segment fits: each parameter takes at least one character, each
    /// piece is found leftmost after it.
    fn matches(&self, seg: &str) -> bool {
        let (Some(first), Some(last)) = (self.pieces.first(), self.pieces.last()) else {
            return false;
        };
        let Some(mut rest) = seg.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some(middle) = self.pieces.get(1..self.pieces.len() - 1) else {
            return false;
        };
        for piece in middle {
            // The parameter before `piece` takes at least one character.
            let mut chars = rest.chars();
            if chars.next().is_none() {
                return false;
            }
            let after_param = chars.as_str();
            match after_param.find(piece.as_str()) {
                Some(i) => rest = &after_param[i + piece.len()..],
                None => return false,
            }
        }
        rest.len() > last.len() && rest.ends_with(last.as_str())
    }
}

/// Split one template segment.
fn parse_segment(s: &str) -> Seg<'_> {
    if !s.contains('{') {
        return Seg::Literal(s);
    }
    if s.starts_with('{') && s.ends_with('}') && s.matches('{').count() == 1 {
        return Seg::Param;
    }
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        pieces.push(rest[..open].to_string());
        rest = match rest[open..].find('}') {
            Some(close) => &rest[open + close + 1..],
            None => "",
        };
    }
    pieces.push(rest.to_string());
    Seg::Mixed(Mixed { pieces })
}

/// One node: the templates that share the segments leading to it.
#[derive(Debug)]
struct Node {
    /// Children by literal segment.
    literals: KeyMap<u32>,
    /// Children by mixed segment, most specific first.
    mixed: Vec<(Mixed, u32)>,
    /// The child for a bare parameter, or [`NONE`].
    param: u32,
    /// The route ending here, per method ([`Method::index`]), or [`NONE`].
    routes: [u32; METHODS.len()],
}

impl Node {
    /// An empty node.
    fn new() -> Node {
        Node {
            literals: KeyMap::default(),
            mixed: Vec::new(),
            param: NONE,
            routes: [NONE; METHODS.len()],
        }
    }

    /// The route ending here for `method`, or for any method when `None` (the first in
    /// [`METHODS`] order).
    fn route(&self, method: Option<Method>) -> Option<u32> {
        let r = match method {
            Some(m) => self.routes.get(m.index()).copied().unwrap_or(NONE),
            None => self.routes.iter().copied().find(|r| *r != NONE)?,
        };
        (r != NONE).then_some(r)
    }
}

/// The templates under one base path.
// Invariant: every child index in a node is a valid index into `nodes`; node 0 is the root.
#[derive(Debug)]
pub struct Trie {
    /// The nodes, the root first.
    nodes: Vec<Node>,
    /// Segments of the longest template: a longer request path matches nothing.
    max_depth: usize,
}

impl Default for Trie {
    fn default() -> Self {
        Trie {
            nodes: vec![Node::new()],
            max_depth: 0,
        }
    }
}

/// The segments of a path below its base (leading `/` gone; one trailing `/` ignored, so
/// `/users/` is `/users`; `""` and `/` are the root, no segment). A byte scan: on segments
/// this short it costs a fraction of `split('/')`'s char searcher, and `/` is ASCII, so every
/// cut is on a character boundary.
pub fn segments(path: &str) -> impl Iterator<Item = &str> {
    let p = path.strip_prefix('/').unwrap_or(path);
    let p = p.strip_suffix('/').unwrap_or(p);
    let mut rest = (!p.is_empty()).then_some(p);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == b'/') {
            Some(i) => {
                rest = r.get(i + 1..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

impl Trie {
    /// Add `route` for `method` at `template`; `Err` with the route already there (the first
    /// one stays).
    pub fn insert(&mut self, template: &str, method: Method, route: u32) -> Result<(), u32> {
        let mut node = 0usize;
        let mut depth = 0;
        for seg in segments(template) {
            depth += 1;
            node = self.child(node, parse_segment(seg));
        }
        self.max_depth = self.max_depth.max(depth);
        let slot = &mut self.nodes[node].routes[method.index()];
        if *slot != NONE {
            return Err(*slot);
        }
        *slot = route;
        Ok(())
    }

    /// The child of `node` for `seg`, made if missing.
    fn child(&mut self, node: usize, seg: Seg<'_>) -> usize {
        let existing = match &seg {
            Seg::Literal(l) => self.nodes[node].literals.get(l).copied(),
            Seg::Param => Some(self.nodes[node].param).filter(|p| *p != NONE),
            Seg::Mixed(m) => self.nodes[node]
                .mixed
                .iter()
                .find(|(k, _)| k == m)
                .map(|(_, n)| *n),
        };
        if let Some(n) = existing {
            return n as usize;
        }
        // A spec is at most `MAX_SPEC_BYTES` (64 MiB): far fewer than 2^32 segments.
        let new = u32::try_from(self.nodes.len()).expect("fewer than 2^32 template segments");
        self.nodes.push(Node::new());
        let parent = &mut self.nodes[node];
        match seg {
            Seg::Literal(l) => {
                // Not there: looked up above.
                let _ = parent.literals.insert(l, new);
            }
            Seg::Param => parent.param = new,
            Seg::Mixed(m) => {
                let at = parent
                    .mixed
                    .iter()
                    .position(|(k, _)| k.literal_len() < m.literal_len())
                    .unwrap_or(parent.mixed.len());
                parent.mixed.insert(at, (m, new));
            }
        }
        new as usize
    }

    /// The most specific route for `segs` that has `method` (any method when `None`).
    #[cfg(test)]
    pub fn find(&self, segs: &[&str], method: Option<Method>) -> Option<u32> {
        match method {
            Some(_) => self.find_both(segs, method).0,
            None => self.find_both(segs, None).1,
        }
    }

    /// [`Self::find`] for `method`, and in the same walk the route [`Self::find`] gives for
    /// any method (the first template whose path fits, whatever its methods): one search for
    /// the match and, failing it, the documented path of an undocumented method.
    pub fn find_both(&self, segs: &[&str], method: Option<Method>) -> (Option<u32>, Option<u32>) {
        if segs.len() > self.max_depth {
            return (None, None);
        }
        let mut any = NONE;
        let found = self.find_from(0, segs, method, &mut any);
        (found, (any != NONE).then_some(any))
    }

    /// [`Self::find`] below node `node`; `any` takes the first route of any method met.
    fn find_from(
        &self,
        node: u32,
        segs: &[&str],
        method: Option<Method>,
        any: &mut u32,
    ) -> Option<u32> {
        let n = self.nodes.get(node as usize)?;
        let Some((first, rest)) = segs.split_first() else {
            if *any == NONE {
                *any = n.route(None).unwrap_or(NONE);
            }
            return method.and_then(|m| n.route(Some(m)));
        };
        if let Some(&child) = n.literals.get(first) {
            if let Some(r) = self.find_from(child, rest, method, any) {
                return Some(r);
            }
        }
        for (m, child) in &n.mixed {
            if m.matches(first) {
                if let Some(r) = self.find_from(*child, rest, method, any) {
                    return Some(r);
                }
            }
        }
        if n.param != NONE && !first.is_empty() {
            return self.find_from(n.param, rest, method, any);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_ignore_the_leading_and_one_trailing_slash() {
        let table: [(&str, &[&str]); 6] = [
            ("", &[]),
            ("/", &[]),
            ("/a", &["a"]),
            ("/a/", &["a"]),
            ("/a//b", &["a", "", "b"]),
            ("/a/b//", &["a", "b", ""]),
        ];
        for (path, want) in table {
            assert_eq!(segments(path).collect::<Vec<_>>(), want, "{path:?}");
        }
    }

    #[test]
    fn mixed_segments_need_a_character_per_parameter() {
        let Seg::Mixed(m) = parse_segment("{name}.{ext}") else {
            panic!("mixed")
        };
        assert!(m.matches("a.json"));
        assert!(m.matches("a.b.c"));
        assert!(!m.matches(".json"));
        assert!(!m.matches("a."));
        let Seg::Mixed(m) = parse_segment("report-{id}") else {
            panic!("mixed")
        };
        assert!(m.matches("report-7"));
        assert!(!m.matches("report-"));
        assert!(!m.matches("rep"));
        assert_eq!(parse_segment("{id}"), Seg::Param);
        assert_eq!(parse_segment("users"), Seg::Literal("users"));
    }
}
