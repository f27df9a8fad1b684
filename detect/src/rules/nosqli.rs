//! NoSQL (MongoDB) operator injection.
//!
//! Method: query operators only mean something as object keys, so the detector looks for them
//! where a client can make keys: a JSON member name (`{"password": {"$ne": null}}`), a
//! parameter name in the bracket syntax PHP, Express (`qs`) and Rails parse into objects
//! (`password[$ne]=`), and a value that carries such an object as text (`{"$gt": ""}`,
//! `[$ne]=1`). Level 1. Server-side JavaScript injected into `$where` and `mapReduce`
//! (`'; return true; var x='`, `this.password.match(`, `db.x.insert(`, `|| 1==1`, busy-wait
//! loops) is level 1 too; a bare `$where` or `$regex` word in text is level 2.

use super::{first, Hit, Shape, Value, L1, L2};
use crate::fields::Kind;

/// MongoDB query, projection and aggregation operators an injection uses.
const OPERATORS: &[&str] = &[
    "$ne",
    "$eq",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$regex",
    "$where",
    "$exists",
    "$expr",
    "$or",
    "$and",
    "$nor",
    "$not",
    "$elemmatch",
    "$function",
    "$accumulator",
    "$options",
    "$type",
    "$size",
    "$all",
    "$mod",
    "$text",
    "$search",
    "$comment",
    "$jsonschema",
];

/// NoSQL injection detector.
pub(crate) struct Nosqli {
    shapes: Vec<Shape>,
}

impl Nosqli {
    pub(crate) fn new() -> Nosqli {
        let ops = OPERATORS
            .iter()
            .map(|o| regex::escape(&o[1..]))
            .collect::<Vec<_>>()
            .join("|");
        let shapes = vec![
            Shape::new(
                L1,
                "nosqli.operator",
                format!(r#"(\[|\{{|,)\s*["']?\$({ops})["']?\s*(\]|:)"#),
            ),
            Shape::new(
                L1,
                "nosqli.javascript",
                r#"['"]?\s*;\s*return\s*\(?\s*(true|1|this)|\bthis\.\w+\.match\s*\(|\bdb\.\w+\.(insert|find|update|remove|drop|mapreduce)\w*\s*\(|(\|\||&&)\s*['"]?\s*\d+\s*==\s*['"]?\d|['"]\s*(\|\||&&)\s*['"]\w*['"]\s*==\s*['"]|new\s+date\s*\(\s*\)\s*;\s*do\s*\{|;\s*sleep\s*\(\s*\d+\s*\)|\$where\s*:\s*['"]"#,
            ),
            Shape::new(
                L2,
                "nosqli.operator",
                r"\$(where|regex|ne|gt|expr|function)\b",
            ),
        ];
        Nosqli { shapes }
    }

    /// The class's regex rules.
    pub(crate) fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        if matches!(v.kind, Kind::JsonKey) && is_operator(v.lower) {
            return Some(Hit::whole("nosqli.operator-key", v));
        }
        if matches!(v.kind, Kind::ParamName) {
            if let Some(open) = memchr::memchr(b'[', v.lower) {
                let inside = &v.lower[open + 1..];
                let op_end = inside
                    .iter()
                    .position(|b| *b == b']')
                    .unwrap_or(inside.len());
                if is_operator(&inside[..op_end]) {
                    return Some(Hit::whole("nosqli.operator-key", v));
                }
            }
            return None;
        }
        first(&self.shapes, level, v.lower)
    }
}

fn is_operator(lower_key: &[u8]) -> bool {
    OPERATORS.iter().any(|o| o.as_bytes() == lower_key)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::value_of;
    use super::*;

    fn rule(kind: Kind, raw: &str, level: u8) -> Option<&'static str> {
        let n = Nosqli::new();
        let mut out = None;
        value_of(kind, "username", raw, |v| {
            out = n.detect(v, level).map(|h| h.rule)
        });
        out
    }

    #[test]
    fn operator_keys_and_brackets() {
        assert_eq!(rule(Kind::JsonKey, "$ne", L1), Some("nosqli.operator-key"));
        assert_eq!(
            rule(Kind::JsonKey, "$where", L1),
            Some("nosqli.operator-key")
        );
        assert_eq!(
            rule(Kind::ParamName, "password[$regex]", L1),
            Some("nosqli.operator-key")
        );
        assert_eq!(
            rule(Kind::ParamName, "login[%24nin][]", L1),
            Some("nosqli.operator-key")
        );
        assert_eq!(rule(Kind::JsonKey, "$schema", L1), None);
        assert_eq!(rule(Kind::JsonKey, "price", L1), None);
    }

    #[test]
    fn operators_and_javascript_in_values() {
        for attack in [
            "{\"$gt\": \"\"}",
            "{$gt: ''}",
            "[$ne]=1",
            "{ $ne: 1 }",
            "', $or: [ {}, { 'a':'a' } ], $comment:'x'",
            "true, $where: '1 == 1'",
            "'; return true; var x='",
            "\"; return(true); var xyz='a",
            "' && this.password.match(/.*/)//",
            "db.injection.insert({success:1});",
            "|| 1==1",
            "';sleep(5000);",
            "';it=new Date();do{pt=new Date();}while(pt-it<5000);",
            "' || 'a'=='a",
        ] {
            assert!(rule(Kind::Value, attack, L1).is_some(), "{attack}");
        }
    }

    #[test]
    fn tricky_benign() {
        for benign in [
            "$5 off",
            "price > $10",
            "{\"a\": 1}",
            "return policy",
            "this.is.fine",
            "a == b",
            "C$ne",
            "use $regex carefully",
        ] {
            assert_eq!(rule(Kind::Value, benign, L1), None, "{benign}");
        }
    }
}
