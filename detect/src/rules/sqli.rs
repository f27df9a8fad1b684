//! SQL injection.
//!
//! Method: libinjection's tokenizer and fingerprint lookup (the vendored `libinjectionrs`,
//! patched to match C libinjection: `third_party/libinjectionrs/PATCHES.md`). The value is
//! tokenized as if it were inserted bare, after a single quote and after a double quote, in
//! ANSI and MySQL dialects; the first five folded tokens form a fingerprint (`s&sos`,
//! `1UEok`...) that is looked up among ~9,000 known to be injections.
//!
//! On top, from level 2: statement shapes libinjection's five tokens cannot see, matched on the
//! value with comments removed and whitespace folded (time-delay functions, `UNION SELECT`,
//! stacked statements, schema tables, file functions).

use libinjectionrs::{SqliFlags, SqliState};

use super::{first, Hit, Shape, Value, L2, L3};
use crate::fields::Kind;

/// SQL injection detector.
pub(crate) struct Sqli {
    shapes: Vec<Shape>,
}

impl Sqli {
    pub(crate) fn new() -> Sqli {
        let shapes = vec![
            Shape::new(
                L2,
                "sqli.time-delay",
                r"\b(sleep|pg_sleep|benchmark)\s*\(\s*[\d(]|\bwaitfor\s+(delay|time)\s+'|dbms_(pipe\.receive_message|lock\.sleep)\s*\(",
            ),
            Shape::new(
                L2,
                "sqli.union-select",
                r"\bunion(\s+(all|distinct))?\s*\(*\s*select\b",
            ),
            Shape::new(
                L2,
                "sqli.stacked",
                r";\s*((drop|truncate|alter|create)\s+(table|database|schema|user|login|procedure|function|view|index)\b|delete\s+from\b|insert\s+into\b|update\s+\w+\s+set\b|shutdown\b|exec(ute)?\s*(xp_|sp_|master\.|\(|@)|declare\s+@)",
            ),
            Shape::new(
                L2,
                "sqli.schema",
                r"\b(from|join)\s+[`\x22]?(information_schema|sysobjects|syscolumns|all_tab_\w+|mysql\.user|pg_catalog|pg_shadow|sqlite_master|msysobjects)\b",
            ),
            Shape::new(
                L2,
                "sqli.file-function",
                r"\b(load_file\s*\(|into\s+(out|dump)file\b|xp_cmdshell\b|sp_executesql\b|utl_http\.request|extractvalue\s*\(|updatexml\s*\()",
            ),
            Shape::new(
                L2,
                "sqli.tautology",
                r"['\x22`)]\s*(or|and|xor|\|\||&&)\s*\(?\s*['\x22]?(\w+)['\x22]?\s*(=|<>|!=|like)\s*['\x22]?\w+",
            ),
        ];
        Sqli { shapes }
    }

    /// The class's regex rules.
    pub(crate) fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        // A User-Agent reaches SQL as a quoted string (logged with an INSERT): without a quote
        // it cannot leave the string, and browsers' "like Gecko" would be tokenized for nothing.
        if v.kind == Kind::UserAgent && !v.norm.iter().any(|b| matches!(b, b'\'' | b'"' | b'`')) {
            return None;
        }
        let mut state = SqliState::new(v.norm, SqliFlags::FLAG_NONE);
        if let Some(context) = state.detect_context() {
            if level >= L3 || !is_weak(context, &state.fingerprint_string(), v.lower) {
                return Some(Hit::whole("sqli.fingerprint", v));
            }
        }
        if level < L2 {
            return None;
        }
        let folded = fold_comments(v.lower);
        first(&self.shapes, level, &folded).map(|h| Hit::whole(h.rule, v))
    }
}

/// Words that fold into arithmetic fingerprints without making a value prose.
const SQL_OPERATOR_WORDS: &[&[u8]] = &[
    b"and", b"or", b"xor", b"not", b"div", b"mod", b"like", b"rlike", b"regexp", b"is", b"null",
    b"true", b"false", b"between", b"in", b"binary", b"sounds",
];

/// Whether a libinjection match is one of the shapes ordinary text also takes, which count
/// only from level 3:
/// - string, operator, string (`sos`, `s&s`) read after a double quote: quoted words in prose
///   (`"LIKE" STAMP`, `36" x 48" frame`); SQL strings are single-quoted, and libinjection's
///   own vectors have 5 of 17,149 in this shape;
/// - a lone word or number before a comment (`1c`, `nc`: `1611-IioXXIG1ti8rspL2vbXFy--`);
/// - the whole value folded into at most three tokens of numbers, operators and logic (`1&1`)
///   when it has a word that is not an SQL operator: arithmetic folded out of prose
///   (`80% ACRYLIC AND 20% WOOL`).
fn is_weak(context: u8, fingerprint: &str, lower: &[u8]) -> bool {
    if context == b'"' && matches!(fingerprint, "sos" | "s&s") {
        return true;
    }
    if matches!(fingerprint, "1c" | "nc") {
        return true;
    }
    let arithmetic = fingerprint.len() <= 3
        && fingerprint
            .bytes()
            .all(|b| matches!(b, b'1' | b'o' | b'&' | b'(' | b')'));
    arithmetic
        && lower
            .split(|b| !b.is_ascii_alphabetic())
            .any(|w| w.len() >= 2 && !SQL_OPERATOR_WORDS.contains(&w))
}

/// `lower` with SQL comments (`/* */`, MySQL `/*! */`) replaced by a space and whitespace runs
/// (including NUL, which the normaliser made a space) folded to one space; bounded by the
/// input length.
fn fold_comments(lower: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lower.len());
    let mut i = 0;
    while let Some(&b) = lower.get(i) {
        if b == b'/' && lower.get(i + 1) == Some(&b'*') {
            let body = i + 2;
            let end = memchr::memmem::find(lower.get(body..).unwrap_or_default(), b"*/")
                .map_or(lower.len(), |n| body + n + 2);
            // A MySQL version comment runs its content: keep it.
            if lower.get(body) == Some(&b'!') {
                let inner_start = body
                    + 1
                    + lower
                        .get(body + 1..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                out.push(b' ');
                out.extend_from_slice(
                    lower
                        .get(inner_start..end.saturating_sub(2).max(inner_start))
                        .unwrap_or_default(),
                );
            }
            out.push(b' ');
            i = end;
            continue;
        }
        if b.is_ascii_whitespace() {
            if out.last() != Some(&b' ') {
                out.push(b' ');
            }
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_util::rule_of;
    use super::super::{L1, L2};
    use super::*;

    fn rule(raw: &str, level: u8) -> Option<&'static str> {
        let s = Sqli::new();
        rule_of(raw, "q", level, |v, l| s.detect(v, l))
    }

    #[test]
    fn libinjection_fingerprints() {
        for attack in [
            "1' OR '1'='1",
            "1 union select 1,2,3--",
            "admin'--",
            "1; DROP TABLE users",
            "-1 OR 1=1",
            "1' IN BOOLEAN MODE) RLIKE (SELECT 1)#",
            "1 into outfile 'x'",
            "' or 1=1#",
        ] {
            assert_eq!(rule(attack, L1), Some("sqli.fingerprint"), "{attack}");
        }
    }

    #[test]
    fn evasions_undone_by_normalisation() {
        for attack in [
            "1%27%20OR%20%271%27%3D%271",
            "1%2527%2520OR%25201%253D1",
            "1&#39; or 1=1--",
            "1\\u0027 or 1=1--",
        ] {
            assert_eq!(rule(attack, L1), Some("sqli.fingerprint"), "{attack}");
        }
    }

    #[test]
    fn statement_shapes_from_level_2() {
        let cases = [
            ("SELECT table_name FROM all_tab_tables", "sqli.schema"),
            (
                "1'id=-13 union select 1,2,3,4,5,6,7,8,9,10,11,12,13/*",
                "sqli.union-select",
            ),
            ("/*!UNION*/ /*!SELECT*/ 1", "sqli.fingerprint"),
            ("x'; WAITFOR DELAY '0:0:5'--", "sqli.fingerprint"),
            ("name); SELECT PG_SLEEP(5)", "sqli.fingerprint"),
        ];
        for (attack, want) in cases {
            assert_eq!(rule(attack, L2), Some(want), "{attack}");
        }
        assert_eq!(rule("SELECT table_name FROM all_tab_tables", L1), None);
    }

    #[test]
    fn tricky_benign() {
        for benign in [
            "O'Brien",
            "Rock and Roll",
            "Select the best union rep from the list",
            "I'd like to update my order; delete nothing",
            "3 > 2",
            "tom@example.com",
            "SELECT-A-SEAT",
            "he said \"hello\" and left",
            "50% off everything",
            "C:\\Program Files\\App",
        ] {
            assert_eq!(rule(benign, L2), None, "{benign}");
        }
    }

    #[test]
    fn prose_shapes_count_from_level_3() {
        for (text, attack_twin) in [
            ("\"LIKE\" STAMP", "'LIKE'"),
            ("80% ACRYLIC AND 20% WOOL", "80 AND 20=20"),
            ("1611-IioXXIG1ti8rspL2vbXFy--", "admin'--"),
        ] {
            assert_eq!(rule(text, L2), None, "{text}");
            assert_eq!(rule(text, L3), Some("sqli.fingerprint"), "{text}");
            assert_eq!(
                rule(attack_twin, L1),
                Some("sqli.fingerprint"),
                "{attack_twin}"
            );
        }
    }

    #[test]
    fn comment_folding() {
        assert_eq!(
            fold_comments(b"a/**/b  \t c/*!50000union*/"),
            b"a b c union "
        );
        assert_eq!(fold_comments(b"a/*unterminated"), b"a ");
    }
}
