//! What the detector reports: a [`Finding`] per attack found, with its [`Class`], a stable
//! rule id, the [`Location`] it was found at and a short evidence fragment.

use std::fmt;

/// Longest evidence fragment, in bytes of UTF-8 (issue 22: "at most 64 characters").
pub const MAX_EVIDENCE_BYTES: usize = 64;

/// The attack classes, each with its own method (docs/detection.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// Path traversal and absolute paths to sensitive files.
    Traversal,
    /// OS command injection.
    Cmdi,
    /// Server-side request forgery: URLs to internal or metadata addresses, local schemes.
    Ssrf,
    /// Log4Shell-style `${jndi:` lookups.
    Jndi,
    /// XML external entities.
    Xxe,
    /// NoSQL (MongoDB) operator injection.
    Nosqli,
    /// Server-side template injection.
    Ssti,
    /// Known attack tools (User-Agents, probe paths, out-of-band domains).
    Scanner,
    /// HTTP smuggling and evasion anomalies; raised by the HTTP layer, never by [`crate::Detector`].
    Protocol,
}

impl Class {
    /// Every class, in declaration order.
    pub const ALL: [Class; 11] = [
        Class::Sqli,
        Class::Xss,
        Class::Traversal,
        Class::Cmdi,
        Class::Ssrf,
        Class::Jndi,
        Class::Xxe,
        Class::Nosqli,
        Class::Ssti,
        Class::Scanner,
        Class::Protocol,
    ];

    /// The lower-case name used in records and config (`"sqli"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Class::Sqli => "sqli",
            Class::Xss => "xss",
            Class::Traversal => "traversal",
            Class::Cmdi => "cmdi",
            Class::Ssrf => "ssrf",
            Class::Jndi => "jndi",
            Class::Xxe => "xxe",
            Class::Nosqli => "nosqli",
            Class::Ssti => "ssti",
            Class::Scanner => "scanner",
            Class::Protocol => "protocol",
        }
    }

    /// The class of a name as [`Class::name`] writes it.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Bit of this class in a [`ClassSet`].
    pub(crate) const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of classes as a bit mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassSet(pub(crate) u16);

impl ClassSet {
    /// No class.
    pub const EMPTY: ClassSet = ClassSet(0);

    /// The set of the classes in `list`.
    pub(crate) const fn of(list: &[Class]) -> ClassSet {
        let mut bits = 0;
        let mut i = 0;
        while i < list.len() {
            bits |= list[i].bit();
            i += 1;
        }
        ClassSet(bits)
    }

    /// Whether `class` is in the set.
    pub fn contains(self, class: Class) -> bool {
        self.0 & class.bit() != 0
    }

    /// The set with `class` added.
    pub fn with(self, class: Class) -> ClassSet {
        ClassSet(self.0 | class.bit())
    }

    /// The classes in both sets.
    pub fn and(self, other: ClassSet) -> ClassSet {
        ClassSet(self.0 & other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Class> for ClassSet {
    fn from_iter<I: IntoIterator<Item = Class>>(iter: I) -> Self {
        iter.into_iter().fold(ClassSet::EMPTY, ClassSet::with)
    }
}

/// Where in the request a finding was made.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// The request path (a segment or the whole decoded path).
    Path,
    /// A query parameter, by name (a finding in the name itself is reported here too).
    Query(String),
    /// A header, by its name in lower case.
    Header(String),
    /// A cookie, by name.
    Cookie(String),
    /// A body field: a JSON pointer (RFC 6901) for JSON, the field or part name for forms and
    /// multipart, the element name for XML.
    Body(String),
    /// The body as a whole (plain text, XML prolog).
    BodyWhole,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Path => f.write_str("path"),
            Location::Query(n) => write!(f, "query:{n}"),
            Location::Header(n) => write!(f, "header:{n}"),
            Location::Cookie(n) => write!(f, "cookie:{n}"),
            Location::Body(p) => write!(f, "body:{p}"),
            Location::BodyWhole => f.write_str("body"),
        }
    }
}

/// One attack found in a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The attack class.
    pub class: Class,
    /// Stable rule id, `<class>.<rule>` (e.g. `"sqli.fingerprint"`); docs/detection.md lists them.
    pub rule: &'static str,
    /// Where it was found.
    pub location: Location,
    /// The matched fragment after normalisation, at most [`MAX_EVIDENCE_BYTES`] bytes, cut on a
    /// char boundary. Never more than the fragment: the caller redacts it where the location
    /// name is secret-like.
    pub evidence: String,
}

/// The fragment `s[start..end]` as evidence: lossy UTF-8, at most [`MAX_EVIDENCE_BYTES`] bytes,
/// cut on a char boundary. Out-of-range bounds are clamped.
pub fn evidence(s: &[u8], start: usize, end: usize) -> String {
    let end = end.min(s.len());
    let start = start.min(end);
    let window = s.get(start..end).unwrap_or_default();
    // Take a little more than the cap so that a multi-byte char at the cut is whole or dropped.
    let window = window.get(..MAX_EVIDENCE_BYTES + 3).unwrap_or(window);
    let text = String::from_utf8_lossy(window);
    truncate_chars(&text, MAX_EVIDENCE_BYTES)
}

/// `s` cut to at most `max` bytes on a char boundary.
fn truncate_chars(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for c in Class::ALL {
            assert_eq!(Class::from_name(c.name()), Some(c));
        }
        assert_eq!(Class::from_name("SQLI"), None);
    }

    #[test]
    fn location_display_matches_the_record_format() {
        let cases = [
            (Location::Path, "path"),
            (Location::Query("id".into()), "query:id"),
            (Location::Header("user-agent".into()), "header:user-agent"),
            (Location::Cookie("sid".into()), "cookie:sid"),
            (Location::Body("/a/0/b".into()), "body:/a/0/b"),
            (Location::BodyWhole, "body"),
        ];
        for (loc, want) in cases {
            assert_eq!(loc.to_string(), want);
        }
    }

    #[test]
    fn evidence_is_capped_on_a_char_boundary() {
        let s = "é".repeat(40); // 80 bytes
        let e = evidence(s.as_bytes(), 0, s.len());
        assert!(e.len() <= MAX_EVIDENCE_BYTES);
        assert_eq!(e, "é".repeat(32));
        let cut_mid_char = evidence(s.as_bytes(), 1, 9);
        assert!(cut_mid_char.starts_with('\u{FFFD}'), "{cut_mid_char}");
        assert_eq!(evidence(b"abc", 5, 2), "");
    }

    #[test]
    fn class_sets() {
        let s: ClassSet = [Class::Sqli, Class::Xss].into_iter().collect();
        assert!(s.contains(Class::Sqli) && s.contains(Class::Xss));
        assert!(!s.contains(Class::Jndi));
        assert!(s.and(ClassSet::EMPTY.with(Class::Jndi)).is_empty());
    }
}
