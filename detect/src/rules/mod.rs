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

use std::sync::OnceLock;

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

/// A rule matched by a regex over bytes, compiled on first use: compiling the classes' regexes
/// costs about 100 M instructions, which a workload whose values never reach a regex rule (most
/// benign traffic: the prefilter rejects their values first) never pays. Shared by the workers
/// (`OnceLock`: the first to need it compiles it, the others wait). The patterns are static and
/// every one is compiled by a test (`every_shape_builds`), so compiling cannot fail at run time.
/// The `regex` crate runs in linear time: no pattern can backtrack.
pub(crate) struct Shape {
    /// The lowest paranoia level at which the rule counts.
    pub level: u8,
    /// Stable rule id.
    pub rule: &'static str,
    /// The pattern, as written for [`Regex::new`].
    pattern: String,
    /// The pattern compiled, once something asked for it.
    regex: OnceLock<Regex>,
}

impl Shape {
    /// The rule `rule` at `level`, matched by `pattern` (compiled when first used).
    pub(crate) fn new(level: u8, rule: &'static str, pattern: impl Into<String>) -> Shape {
        Shape {
            level,
            rule,
            pattern: pattern.into(),
            regex: OnceLock::new(),
        }
    }

    /// The compiled regex; compiles it on the first call.
    fn regex(&self) -> &Regex {
        self.regex
            .get_or_init(|| self.build().expect("static regex builds"))
    }

    /// Compiles the regex now if no search has yet.
    pub(crate) fn compile(&self) {
        self.regex();
    }

    /// Compiles the pattern anew (what [`Shape::regex`] does once, and the tests for every
    /// shape).
    fn build(&self) -> Result<Regex, regex::Error> {
        Regex::new(&self.pattern)
    }

    /// Whether the regex was compiled (something asked for it).
    #[cfg(test)]
    pub(crate) fn is_compiled(&self) -> bool {
        self.regex.get().is_some()
    }
}

/// The first match of a shape counting at `level`, as a hit. Shapes above `level` are never
/// compiled.
pub(crate) fn first(rules: &[Shape], level: u8, text: &[u8]) -> Option<Hit> {
    rules.iter().filter(|s| s.level <= level).find_map(|s| {
        s.regex()
            .find(text)
            .map(|m| Hit::at(s.rule, m.start(), m.end()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every regex rule of every class, at every level: a pattern that does not compile fails
    /// here, not at run time where [`Shape::regex`] would panic on first use.
    #[test]
    fn every_shape_builds() {
        let (sqli, xss) = (sqli::Sqli::new(), xss::Xss::new());
        let (nosqli, ssti) = (nosqli::Nosqli::new(), ssti::Ssti::new());
        let all = [sqli.shapes(), xss.shapes(), nosqli.shapes(), ssti.shapes()];
        let mut built = 0;
        for shape in all.into_iter().flatten() {
            if let Err(e) = shape.build() {
                panic!("rule {} does not compile: {e}", shape.rule);
            }
            built += 1;
        }
        assert_eq!(built, 22, "the four classes' regex rules");
    }

    /// A shape is compiled by the first search that reaches it, and only then; a shape above
    /// the level searched is not.
    #[test]
    fn a_shape_is_compiled_on_first_use() {
        let shapes = [
            Shape::new(L1, "t.low", "a+b"),
            Shape::new(L3, "t.high", "c+d"),
        ];
        assert!(shapes.iter().all(|s| !s.is_compiled()));
        assert_eq!(first(&shapes, L1, b"xaab"), Some(Hit::at("t.low", 1, 4)));
        assert!(shapes[0].is_compiled());
        assert!(!shapes[1].is_compiled(), "level 3 rule read at level 1");
        assert_eq!(first(&shapes, L3, b"ccd"), Some(Hit::at("t.high", 0, 3)));
        assert!(shapes[1].is_compiled());
    }
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
