//! Cross-site scripting.
//!
//! Method: libinjection's HTML5 tokenizer (the vendored `libinjectionrs`): the value is parsed
//! as HTML in the data state and inside unquoted, single-, double- and back-quoted attribute
//! values; it is XSS when a tag, attribute or URL scheme on libinjection's blacklists appears
//! (`<script`, `on*` handlers, `javascript:`, `style` with `expression`...).
//!
//! On top: tags that carry event handlers in malformed markup libinjection's parser gives up on
//! (level 1), script URLs and dangerous embedding tags (level 2), and script sinks without
//! markup (level 3).

use super::{first, Hit, Shape, Value, L1, L2, L3};

/// XSS detector.
pub(crate) struct Xss {
    shapes: Vec<Shape>,
}

impl Xss {
    pub(crate) fn new() -> Xss {
        let shapes = vec![
            Shape::new(L1, "xss.script-tag", r"<\s*script[\s>/]"),
            Shape::new(
                L1,
                "xss.event-handler",
                r"<[a-z!?/][^>]*[\s\x22'/;`]on[a-z]{3,}\s*=",
            ),
            Shape::new(L1, "xss.script-uri", r"(java|vb|live)script:[^\s]"),
            Shape::new(
                L2,
                "xss.script-uri",
                r"(j[\s]*a[\s]*v[\s]*a|v[\s]*b)[\s]*s[\s]*c[\s]*r[\s]*i[\s]*p[\s]*t[\s]*:[^\s]",
            ),
            Shape::new(
                L2,
                "xss.embed-tag",
                r"<\s*(iframe|frame|object|embed|applet|svg|math|base|meta|link|isindex|form|xss)[\s>/]",
            ),
            Shape::new(
                L2,
                "xss.css-expression",
                r"expression\s*\(|-moz-binding|behavior\s*:\s*url",
            ),
            Shape::new(
                L3,
                "xss.script-sink",
                r"\b(alert|prompt|confirm|eval)\s*[(`]|document\.(cookie|domain|write)|string\.fromcharcode|\bsrcdoc\s*=",
            ),
        ];
        Xss { shapes }
    }

    /// The class's regex rules.
    pub(crate) fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        if libinjectionrs::detect_xss(v.norm).is_injection() {
            return Some(Hit::whole("xss.libinjection", v));
        }
        first(&self.shapes, level, v.lower)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::rule_of;
    use super::*;

    fn rule(raw: &str, level: u8) -> Option<&'static str> {
        let x = Xss::new();
        rule_of(raw, "q", level, |v, l| x.detect(v, l))
    }

    #[test]
    fn attacks() {
        let cases = [
            ("<script>alert(1)</script>", L1, "xss.libinjection"),
            ("\"><img src=x onerror=alert(1)>", L1, "xss.libinjection"),
            ("javascript:alert(document.cookie)", L1, "xss.script-uri"),
            (
                "<x '=\"foo\"><x foo='><img src=x onerror=alert(1)//'>",
                L1,
                "xss.event-handler",
            ),
            ("%3Cscript%3Ealert(1)%3C/script%3E", L1, "xss.libinjection"),
            ("&lt;svg/onload=alert(1)&gt;", L1, "xss.libinjection"),
            (
                "\\u003cimg src=x onerror=alert(1)\\u003e",
                L1,
                "xss.libinjection",
            ),
            ("java\tscript:alert(1)", L2, "xss.script-uri"),
        ];
        for (attack, level, want) in cases {
            assert_eq!(rule(attack, level), Some(want), "{attack}");
        }
    }

    #[test]
    fn tricky_benign() {
        for benign in [
            "**bold** and <b>html</b> in markdown",
            "<a href=\"https://example.com/docs\">docs</a>",
            "JavaScript: The Good Parts",
            "x < y && y > z",
            "Use <T> generics: List<String>",
            "email me at <bob@example.com>",
            "onboarding=true",
        ] {
            assert_eq!(rule(benign, L2), None, "{benign}");
        }
    }
}
