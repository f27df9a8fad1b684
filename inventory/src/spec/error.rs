//! Why a spec could not be loaded. Every message names the file and, past the syntax, the
//! JSON pointer (RFC 6901) of the offending node, in URI fragment form (`#/paths/~1users/get`).

use std::fmt;

/// A spec that cannot be used. The sensor refuses to start with one (and `check-config` says
/// which): a half-read spec would classify documented calls as shadow.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// The bytes are not YAML or JSON.
    #[error("{file}: not valid {format} at line {line}, column {column}: {message}")]
    Syntax {
        /// The spec's name.
        file: String,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// 1-based line of the error (0: unknown).
        line: usize,
        /// 1-based column of the error (0: unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The document parsed but a node is not what OpenAPI or Swagger allows there.
    #[error("{file}: at {pointer}: {message}")]
    Invalid {
        /// The spec's name.
        file: String,
        /// Where, as a URI fragment (`#/paths/~1users/get/deprecated`).
        pointer: Pointer,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A `$ref` that cannot be followed.
    #[error("{file}: at {pointer}: $ref {target:?} {problem}")]
    Ref {
        /// The spec's name.
        file: String,
        /// Where the `$ref` is.
        pointer: Pointer,
        /// The reference as written.
        target: String,
        /// Why it cannot be followed.
        problem: RefProblem,
    },
    /// The file is larger than [`crate::spec::MAX_SPEC_BYTES`].
    #[error("{file}: {bytes} bytes, more than the {max} a spec may have")]
    TooLarge {
        /// The spec's name.
        file: String,
        /// Its size.
        bytes: usize,
        /// The bound.
        max: usize,
    },
}

/// Why a `$ref` cannot be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefProblem {
    /// Nothing in the document is at that pointer.
    Unresolvable,
    /// The reference points outside the document.
    External,
    /// Following it comes back to a reference already followed.
    Cycle,
    /// More than [`crate::spec::MAX_REF_HOPS`] references in a row.
    TooDeep,
}

impl fmt::Display for RefProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefProblem::Unresolvable => "does not resolve: nothing in the document is there",
            RefProblem::External => {
                "points outside the document; bundle the spec into one file (e.g. `redocly bundle`)"
            }
            RefProblem::Cycle => "is part of a cycle of references that never reaches a value",
            RefProblem::TooDeep => "starts too long a chain of references",
        })
    }
}

/// A JSON pointer (RFC 6901), printed as a URI fragment: `#` for the root,
/// `#/paths/~1users/get` below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointer(pub String);

impl Pointer {
    /// The pointer one level down, at `key` (escaped: `~` as `~0`, `/` as `~1`; RFC 6901
    /// section 3).
    pub fn child(&self, key: &str) -> Pointer {
        let mut s = String::with_capacity(self.0.len() + 1 + key.len());
        s.push_str(&self.0);
        s.push('/');
        push_escaped(&mut s, key);
        Pointer(s)
    }

    /// The pointer one level down, at array index `i`.
    pub fn index(&self, i: usize) -> Pointer {
        Pointer(format!("{}/{i}", self.0))
    }

    /// The pointer as RFC 6901 writes it (`""` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `key` appended to `out` with RFC 6901's escapes (section 4: `~` is `~0`, `/` is `~1`).
/// The runs between escapes are copied whole: keys rarely hold either, and both are ASCII,
/// so every cut is on a character boundary.
pub fn push_escaped(out: &mut String, key: &str) {
    let mut rest = key;
    while let Some(i) = memchr::memchr2(b'~', b'/', rest.as_bytes()) {
        out.push_str(rest.get(..i).unwrap_or_default());
        out.push_str(if rest.as_bytes().get(i) == Some(&b'~') {
            "~0"
        } else {
            "~1"
        });
        rest = rest.get(i + 1..).unwrap_or_default();
    }
    out.push_str(rest);
}

/// [`push_escaped`] a character at a time: its slow twin for the tests.
#[cfg(test)]
pub(crate) fn push_escaped_slow(out: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
