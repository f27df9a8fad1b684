//! Server-side template injection.
//!
//! Method: find template delimiters of the common engines (`{{ }}` Jinja2/Twig/Handlebars,
//! `${ }` FreeMarker/Thymeleaf/JSP EL, `#{ }` Ruby/Spring, `*{ }` Thymeleaf, `<%= %>` ERB/EJS,
//! `{% %}` Jinja2 statements) and read what is inside in context: arithmetic between numbers
//! (`7*7`, the probe every scanner sends), Python object walking (`__class__`, `__globals__`,
//! `.mro`), Java class access (`T(java.lang.Runtime)`, `getClass()`), engine objects that lead
//! to code (`config`, `self`, `request.application`, `lipsum`, `cycler`), FreeMarker's
//! `Execute`, at level 1. A plain `{{name}}` is ordinary client templating and never counts.

use super::{first, Hit, Shape, Value, L1, L2, L3};

/// SSTI detector.
pub(crate) struct Ssti {
    shapes: Vec<Shape>,
}

impl Ssti {
    pub(crate) fn new() -> Ssti {
        let open = r"(\{\{|\$\{|#\{|\*\{|<%=?|\{%|@\()";
        let shapes = vec![
            Shape::new(
                L1,
                "ssti.arithmetic",
                format!(r#"{open}\s*['"]?\d+['"]?\s*[*+/-]\s*['"]?\d+['"]?\s*(\}}|%>|%\}}|\))"#),
            ),
            Shape::new(
                L1,
                "ssti.object-walk",
                format!(
                    r"{open}[^}}%]{{0,200}}(__class__|__globals__|__builtins__|__subclasses__|__mro__|__import__|__init__|\.mro\(|getclass\(|t\(java\.|java\.lang\.|runtime\b|processbuilder|\bconfig\b|\bself\b|request\.application|lipsum|cycler|joiner|namespace|\.exec\(|freemarker\.template|\bos\.popen|\bsystem\()"
                ),
            ),
            Shape::new(
                L1,
                "ssti.freemarker-execute",
                r#"<#assign[^>]{0,200}(execute|objectconstructor)|\?new\(\)"#,
            ),
            Shape::new(
                L1,
                "ssti.velocity",
                r"#set\s*\(\s*\$\w+\s*=[^)]{0,200}(getclass|runtime|class\.forname)",
            ),
            Shape::new(
                L2,
                "ssti.call",
                r"\{\{[^}]{0,200}\w\s*\([^)]{0,200}\)[^}]{0,200}\}\}",
            ),
            Shape::new(
                L3,
                "ssti.statement",
                r"\{%\s*(import|include|extends|for|set|if|debug)\b[^%]{0,200}%\}|\{php\}|\{\{\s*\w+\s*\|\s*(attr|safe|e)\b",
            ),
        ];
        Ssti { shapes }
    }

    /// The class's regex rules.
    pub(crate) fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        first(&self.shapes, level, v.lower)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::rule_of;
    use super::*;

    fn rule(raw: &str, level: u8) -> Option<&'static str> {
        let s = Ssti::new();
        rule_of(raw, "name", level, |v, l| s.detect(v, l))
    }

    #[test]
    fn probes_and_payloads() {
        let cases = [
            ("{{7*7}}", "ssti.arithmetic"),
            ("${7*7}", "ssti.arithmetic"),
            ("#{7*7}", "ssti.arithmetic"),
            ("<%= 7 * 7 %>", "ssti.arithmetic"),
            ("{{7*'7'}}", "ssti.arithmetic"),
            ("*{7*7}", "ssti.arithmetic"),
            (
                "{{''.__class__.__mro__[1].__subclasses__()}}",
                "ssti.object-walk",
            ),
            ("{{config.items()}}", "ssti.object-walk"),
            (
                "${T(java.lang.Runtime).getRuntime().exec('id')}",
                "ssti.object-walk",
            ),
            (
                "{{ self._TemplateReference__context.cycler }}",
                "ssti.object-walk",
            ),
            (
                "<#assign ex=\"freemarker.template.utility.Execute\"?new()> ${ex(\"id\")}",
                "ssti.freemarker-execute",
            ),
            ("%7B%7B7*7%7D%7D", "ssti.arithmetic"),
        ];
        for (attack, want) in cases {
            assert_eq!(rule(attack, L1), Some(want), "{attack}");
        }
        assert_eq!(
            rule("{% for c in [1,2,3]%}{{c,c,c}}{% endfor %}", L3),
            Some("ssti.statement")
        );
        assert_eq!(
            rule("{{ get_user_file(\"/etc/passwd\") }}", L2),
            Some("ssti.call")
        );
    }

    #[test]
    fn tricky_benign() {
        for benign in [
            "Hello {{name}}",
            "{{ user.first_name }}",
            "${price} USD",
            "#{id}",
            "3*4=12",
            "{{7 wonders}}",
            "<%@ page %>",
            "config is {{ settings }}",
            "{% if vip %}Welcome back{% endif %}",
        ] {
            assert_eq!(rule(benign, L2), None, "{benign}");
        }
    }
}
