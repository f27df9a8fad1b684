//! One module per attack class, each with its method (docs/detection.md). A class's detector
//! looks at one normalised value and returns the first rule that holds at the configured
//! paranoia level.

pub(crate) mod cmdi;
pub(crate) mod jndi;
pub(crate) mod nosqli;
pub(crate) mod scanner;
pub(crate) mod sqli;
pub(crate) mod ssrf;
pub(crate) mod ssti;
pub(crate) mod traversal;
pub(crate) mod xss;
pub(crate) mod xxe;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::Regex;

use crate::fields::Kind;

/// Paranoia level 1: rules with no false positive seen on the benign corpora.
pub(crate) const L1: u8 = 1;
/// Level 2 (the default): broader rules, false positives rare.
pub(crate) const L2: u8 = 2;
/// Level 3: rules that also fire on unusual but legitimate input.
pub(crate) const L3: u8 = 3;
/// Level 4: everything that may be an attack, for hunting rather than alerting.
pub(crate) const L4: u8 = 4;

/// A value as the rules see it.
pub(crate) struct Value<'a> {
    /// What the value is.
    pub kind: Kind,
    /// Its name's last part (parameter, header, cookie, JSON member), for name hints.
    pub name: &'a [u8],
    /// The value after normalisation.
    pub norm: &'a [u8],
    /// `norm` in ASCII lower case (same length, same offsets).
    pub lower: &'a [u8],
}

/// A rule that held: its id and the span of `norm` it matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Stable rule id (`"sqli.fingerprint"`).
    pub rule: &'static str,
    /// Start of the matched fragment in `norm`.
    pub start: usize,
    /// End of the matched fragment in `norm`.
    pub end: usize,
}

impl Hit {
    /// A hit on `start..end`.
    pub fn at(rule: &'static str, start: usize, end: usize) -> Hit {
        Hit { rule, start, end }
    }

    /// A hit on the whole value.
    pub fn whole(rule: &'static str, v: &Value<'_>) -> Hit {
        Hit {
            rule,
            start: 0,
            end: v.norm.len(),
        }
    }
}

/// A case-insensitive Aho-Corasick automaton over fixed patterns (leftmost-first), compiled to
/// a full DFA: the pattern lists are small and the rules read many values.
pub(crate) fn words(patterns: &[&str]) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(AhoCorasickKind::DFA))
        .build(patterns)
        .expect("static patterns build")
}

/// A regex over bytes; the patterns are static and tested, so building cannot fail. The
/// `regex` crate runs in linear time: no pattern can backtrack.
pub(crate) fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex builds")
}

/// The first match of `re` at or below `level`, as a hit.
pub(crate) fn first(rules: &[(u8, &'static str, Regex)], level: u8, text: &[u8]) -> Option<Hit> {
    rules
        .iter()
        .filter(|(l, _, _)| *l <= level)
        .find_map(|(_, id, re)| re.find(text).map(|m| Hit::at(id, m.start(), m.end())))
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    /// A value of `kind` named `name`, normalised as the detector does.
    pub(crate) fn value_of(kind: Kind, name: &str, raw: &str, f: impl FnOnce(&Value<'_>)) {
        let norm = crate::normalize::normalize(raw.as_bytes()).bytes;
        let lower = norm.to_ascii_lowercase();
        f(&Value {
            kind,
            name: name.as_bytes(),
            norm: &norm,
            lower: &lower,
        });
    }

    /// The rule id a detector gives for a plain value named `name`.
    pub(crate) fn rule_of(
        raw: &str,
        name: &str,
        level: u8,
        detect: impl Fn(&Value<'_>, u8) -> Option<Hit>,
    ) -> Option<&'static str> {
        let mut out = None;
        value_of(Kind::Value, name, raw, |v| {
            out = detect(v, level).map(|h| h.rule)
        });
        out
    }
}
