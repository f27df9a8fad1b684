//! Path traversal.
//!
//! Method: on the normalised value (percent, overlong UTF-8, full-width and `%u` encodings
//! already undone) with `\` read as `/`, count dot-dot segments: `..` followed by a separator
//! (`/`, `;/` as Tomcat reads it, the literal `0x2f`/`0x5c` some decoders take, or a non-ASCII
//! character a best-fit mapping turns into one). Two or more is traversal at level 1; one at
//! the start of the value or after a separator at level 2. Separately, paths to files whose
//! only use in a request is theft (`/etc/passwd`, `win.ini`, `WEB-INF/web.xml`...) at the
//! start of a value or after a traversal, at level 1; anywhere in a value at level 3.

use aho_corasick::AhoCorasick;

use super::{words, Hit, Value, L2, L3};

/// Files read through traversal, lower case with `/` separators.
const SENSITIVE_FILES: &[&str] = &[
    "etc/passwd",
    "etc/shadow",
    "etc/group",
    "etc/hosts",
    "etc/hostname",
    "etc/issue",
    "etc/crontab",
    "etc/sudoers",
    "proc/self/",
    "proc/version",
    "windows/win.ini",
    "win.ini",
    "boot.ini",
    "system32/",
    "windows/system.ini",
    "web-inf/",
    "meta-inf/",
    ".htpasswd",
    ".htaccess",
    ".ssh/",
    ".aws/credentials",
    ".bash_history",
    ".git/config",
    "var/log/",
    "inetpub/",
    "autoexec.bat",
    "wp-config.php",
];

/// Traversal detector.
pub(crate) struct Traversal {
    files: AhoCorasick,
}

impl Traversal {
    pub(crate) fn new() -> Traversal {
        Traversal {
            files: words(SENSITIVE_FILES),
        }
    }

    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        let path = path_view(v.lower);
        let dots = dot_dots(&path);
        if let Some(first) = dots.first {
            if dots.count >= 2 || (level >= L2 && dots.at_boundary) {
                return Some(Hit::at("traversal.dot-dot", first, v.norm.len()));
            }
        }
        let m = self.files.find(&path)?;
        let prefix = path.get(..m.start()).unwrap_or_default();
        let at_start = prefix.iter().all(|b| matches!(b, b'/' | b'.' | b' '))
            || (prefix.len() <= 3 && prefix.get(1) == Some(&b':'))
            || (prefix.starts_with(b"file://") && prefix.len() <= 8);
        let rooted = at_start || dots.first.is_some_and(|d| d < m.start());
        if rooted || level >= L3 {
            return Some(Hit::at("traversal.sensitive-file", m.start(), m.end()));
        }
        None
    }
}

/// `lower` as path parsers read it: `\` as `/`, shell-escaped `\.` and `\/` unescaped, the
/// literal hex `0x2e`, `0x2f`, `0x5c` some decoders accept as `.`, `/`, `\`, and a stray UTF-8
/// lead byte before an ASCII byte dropped (`%c0%2e` is `.` to decoders that mask overlong
/// forms loosely).
fn path_view(lower: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lower.len());
    let mut i = 0;
    while let Some(&b) = lower.get(i) {
        let rest = lower.get(i..).unwrap_or_default();
        let next = rest.get(1).copied();
        if rest.starts_with(b"0x2e") {
            out.push(b'.');
            i += 4;
        } else if rest.starts_with(b"0x2f") || rest.starts_with(b"0x5c") {
            out.push(b'/');
            i += 4;
        } else if b == b'\\'
            && (next == Some(b'/') || (next == Some(b'.') && rest.get(2) != Some(&b'.')))
        {
            // `\/` and a shell-escaped single dot (`\.\.\/` is `../`); `\..` is a separator.
            i += 1;
        } else if b >= 0xC0 && next.is_some_and(|n| n < 0x80) {
            i += 1;
        } else {
            out.push(if b == b'\\' { b'/' } else { b });
            i += 1;
        }
    }
    out
}

/// What the dot-dot scan found.
struct DotDots {
    /// Dot-dot segments.
    count: usize,
    /// Where the first one starts.
    first: Option<usize>,
    /// Whether the first one starts the value or follows a separator.
    at_boundary: bool,
}

/// Counts `..` followed by a separator in `path` (lower case, `\` already `/`).
fn dot_dots(path: &[u8]) -> DotDots {
    let mut found = DotDots {
        count: 0,
        first: None,
        at_boundary: false,
    };
    let mut i = 0;
    while let Some(at) =
        memchr::memmem::find(path.get(i..).unwrap_or_default(), b"..").map(|n| i + n)
    {
        let mut after = at + 2;
        while path.get(after) == Some(&b'.') {
            after += 1; // "..." and longer: still climbs on the systems that read it
        }
        if let Some(len) = separator_len(path, after) {
            found.count += 1;
            if found.first.is_none() {
                found.first = Some(at);
                found.at_boundary =
                    at == 0 || matches!(path.get(at - 1), Some(b'/' | b'=' | b' ' | b':' | b';'));
            }
            i = after + len;
        } else {
            i = after;
        }
    }
    found
}

/// Length of the separator at `path[at..]`, if there is one.
fn separator_len(path: &[u8], at: usize) -> Option<usize> {
    let rest = path.get(at..)?;
    let skip = rest
        .iter()
        .take_while(|b| matches!(b, b';' | b' ' | b'%'))
        .count();
    let rest = rest.get(skip..)?;
    match rest.first()? {
        b'/' => Some(skip + 1),
        // A non-ASCII char after dots: a best-fit mapping (%uEFC8, %uF025) makes it a slash.
        b if *b >= 0xC0 => Some(skip + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::rule_of;
    use super::super::L1;
    use super::*;

    fn rule(raw: &str, level: u8) -> Option<&'static str> {
        let t = Traversal::new();
        rule_of(raw, "file", level, |v, l| t.detect(v, l))
    }

    #[test]
    fn encodings_of_dot_dot() {
        for attack in [
            "../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "%2e%2e%2f%2e%2e%2f",
            "%252e%252e%252f%252e%252e%252f",
            "..%c0%af..%c0%af",
            "%c0%ae%c0%ae/%c0%ae%c0%ae/",
            "%uff0e%uff0e%u2215%uff0e%uff0e%u2215",
            "..%u2216..%u2216",
            "..%uEFC8..%uEFC8",
            "..;/..;/WEB-INF/web.xml",
            "..0x2f..0x2f",
            "/.../.../",
            ".%%32%65/.%%32%65/",
            "0x2e0x2e/0x2e0x2e/",
            "0x2e0x2e0x5c0x2e0x2e0x5c",
            "%c0%2e%c0%2e/%c0%2e%c0%2e/",
            "/.\\/\\.\\.\\/\\.\\.\\/",
            "%\\..%\\..%\\..",
        ] {
            assert_eq!(rule(attack, L1), Some("traversal.dot-dot"), "{attack}");
        }
    }

    #[test]
    fn one_level_and_sensitive_files() {
        assert_eq!(rule("../config.yml", L2), Some("traversal.dot-dot"));
        assert_eq!(rule("../config.yml", L1), None);
        assert_eq!(rule("/etc/passwd", L1), Some("traversal.sensitive-file"));
        assert_eq!(
            rule("C:\\Windows\\win.ini", L1),
            Some("traversal.sensitive-file")
        );
        assert_eq!(
            rule("file:///etc/shadow", L1),
            Some("traversal.sensitive-file")
        );
        assert_eq!(rule("see the docs about /etc/passwd format", L2), None);
        assert_eq!(
            rule("see the docs about /etc/passwd format", L3),
            Some("traversal.sensitive-file")
        );
    }

    #[test]
    fn tricky_benign() {
        for benign in [
            "C:\\Users\\bob\\Documents\\report..final.docx",
            "Wait... what?",
            "version 1.2..1.4",
            "src/main.rs",
            "https://example.com/a/b/../c",
            "..",
            "...",
            "junk <a href=\"../\">up</a>",
        ] {
            assert_eq!(rule(benign, L1), None, "{benign}");
        }
        assert_eq!(rule("Wait.../what", L2), None);
    }
}
