//! The cheap first look at every value: most parameters are plain words and numbers, and no
//! tokenizer or rule runs on them.
//!
//! Two stages. [`is_plain`] reads the raw bytes once against a byte class (letters, digits and
//! `_ . , @`, single `-`): a plain value needs no normalisation and only the tool-marker and
//! bare-host rules read it. Otherwise, after normalisation, [`Prefilter::triggers`] reads the
//! value once more, collecting the classes whose trigger bytes (quotes, `<`, `$`...) appear, and
//! runs one Aho-Corasick automaton over trigger words (`union`, `..`, `://`, `${`, `{{`...);
//! only the classes triggered run their rules.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;
use foldhash::fast::FixedState;

use crate::finding::{Class, ClassSet};
use crate::rules::cmdi;

/// Whether `raw` is a plain word or number: only ASCII letters, digits, `_`, `.`, `,`, `@` and
/// `-` not followed by another `-` (SQL's comment).
pub(crate) fn is_plain(raw: &[u8]) -> bool {
    let mut prev_dash = false;
    for &b in raw {
        let dash = b == b'-';
        if !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b',' | b'@') || dash)
            || (dash && prev_dash)
        {
            return false;
        }
        prev_dash = dash;
    }
    true
}

/// Trigger words and the classes each wakes; matched ASCII case-insensitively anywhere.
const TRIGGER_WORDS: &[(&str, &[Class])] = &[
    ("--", &[Class::Sqli]),
    ("/*", &[Class::Sqli]),
    ("&&", &[Class::Sqli]),
    ("||", &[Class::Sqli]),
    ("@@", &[Class::Sqli]),
    ("sleep", &[Class::Sqli, Class::Nosqli]),
    ("exec", &[Class::Sqli, Class::Cmdi]),
    ("script:", &[Class::Xss]),
    ("expression", &[Class::Xss]),
    ("-moz-binding", &[Class::Xss]),
    ("..", &[Class::Traversal]),
    ("0x2e", &[Class::Traversal]),
    ("etc/", &[Class::Traversal]),
    ("proc/", &[Class::Traversal]),
    (".ini", &[Class::Traversal]),
    ("system32", &[Class::Traversal]),
    ("-inf", &[Class::Traversal]),
    (".ht", &[Class::Traversal]),
    (".ssh", &[Class::Traversal]),
    (".aws", &[Class::Traversal]),
    (".bash", &[Class::Traversal]),
    (".git", &[Class::Traversal]),
    ("var/log", &[Class::Traversal]),
    ("inetpub", &[Class::Traversal]),
    ("autoexec", &[Class::Traversal]),
    ("wp-config", &[Class::Traversal]),
    ("system(", &[Class::Cmdi]),
    ("exec(", &[Class::Cmdi]),
    ("popen(", &[Class::Cmdi]),
    ("passthru(", &[Class::Cmdi]),
    ("phpinfo", &[Class::Cmdi]),
    ("{${", &[Class::Cmdi]),
    ("<?", &[Class::Cmdi]),
    ("runtime", &[Class::Cmdi]),
    ("processbuilder", &[Class::Cmdi]),
    ("subprocess", &[Class::Cmdi]),
    ("child_process", &[Class::Cmdi]),
    ("__import__", &[Class::Cmdi]),
    ("://", &[Class::Ssrf]),
    ("file:", &[Class::Ssrf]),
    ("gopher:", &[Class::Ssrf]),
    ("dict:", &[Class::Ssrf]),
    ("php:", &[Class::Ssrf]),
    ("phar:", &[Class::Ssrf]),
    ("jar:", &[Class::Ssrf]),
    ("netdoc:", &[Class::Ssrf]),
    ("tftp:", &[Class::Ssrf]),
    ("expect:", &[Class::Ssrf]),
    ("ldap:", &[Class::Ssrf]),
    ("sftp:", &[Class::Ssrf]),
    ("glob:", &[Class::Ssrf]),
    ("data:", &[Class::Ssrf]),
    ("localhost", &[Class::Ssrf]),
    ("metadata", &[Class::Ssrf]),
    ("instance-data", &[Class::Ssrf]),
    ("${", &[Class::Jndi, Class::Ssti]),
    ("<!entity", &[Class::Xxe]),
    ("<!doctype", &[Class::Xxe]),
    ("xinclude", &[Class::Xxe]),
    ("xi:include", &[Class::Xxe]),
    ("this.", &[Class::Nosqli]),
    ("db.", &[Class::Nosqli]),
    ("return", &[Class::Nosqli]),
    ("==", &[Class::Nosqli]),
    ("new date", &[Class::Nosqli]),
    ("{{", &[Class::Ssti]),
    ("#{", &[Class::Ssti]),
    ("*{", &[Class::Ssti]),
    ("<%", &[Class::Ssti]),
    ("{%", &[Class::Ssti]),
    ("@(", &[Class::Ssti]),
    ("<#assign", &[Class::Ssti]),
    ("#set", &[Class::Ssti]),
    ("?new(", &[Class::Ssti]),
    ("{php}", &[Class::Ssti]),
    ("oast", &[Class::Scanner]),
    ("burpcollaborator", &[Class::Scanner]),
    ("interact", &[Class::Scanner]),
    ("dnslog", &[Class::Scanner]),
    ("ceye.io", &[Class::Scanner]),
    ("bxss.me", &[Class::Scanner]),
    ("xss.ht", &[Class::Scanner]),
    ("requestrepo", &[Class::Scanner]),
    ("canarytokens", &[Class::Scanner]),
];

/// SQL keywords that wake the SQL rules as whole words ("or" in "world" does not): a value
/// without SQL punctuation is an injection only through them. The command names of
/// `rules::cmdi` wake the command rules the same way.
const SQL_KEYWORDS: &[&str] = &[
    "union",
    "select",
    "or",
    "and",
    "xor",
    "div",
    "like",
    "rlike",
    "having",
    "into",
    "from",
    "benchmark",
    "waitfor",
    "declare",
    "drop",
    "null",
    "is",
    "order",
    "group",
    "procedure",
    "limit",
    "where",
    "shutdown",
    "insert",
    "delete",
    "update",
    "case",
    "when",
];

/// Longest keyword looked up; longer words are no keyword.
const MAX_KEYWORD_BYTES: usize = 16;

/// The classes a byte wakes on its own.
fn byte_classes(b: u8) -> ClassSet {
    let mut s = ClassSet::EMPTY;
    if matches!(b, b'\'' | b'"' | b'`' | b'#' | b';' | b'(') {
        s = s.with(Class::Sqli);
    }
    if matches!(b, b'<' | b'>' | b'"' | b'\'' | b'`' | b'=') {
        s = s.with(Class::Xss);
    }
    if matches!(
        b,
        b';' | b'|' | b'&' | b'`' | b'$' | b'\n' | b'\r' | b'\\' | b'\'' | b'"'
    ) {
        s = s.with(Class::Cmdi);
    }
    if b == b'$' {
        s = s.with(Class::Nosqli);
    }
    if b == b'[' || b.is_ascii_digit() {
        s = s.with(Class::Ssrf);
    }
    s
}

/// The class table of every byte, built once.
fn byte_table() -> [ClassSet; 256] {
    let mut t = [ClassSet::EMPTY; 256];
    for (b, slot) in t.iter_mut().enumerate() {
        *slot = byte_classes(b as u8);
    }
    t
}

/// The trigger automaton and byte table.
pub(crate) struct Prefilter {
    words: AhoCorasick,
    /// Keywords by lower-case spelling: looked up per word, since an automaton over short
    /// keywords (`sh`, `id`, `w`) matches inside almost every word of prose.
    keywords: HashMap<&'static [u8], ClassSet, FixedState>,
    word_classes: Vec<ClassSet>,
    bytes: [ClassSet; 256],
}

impl Prefilter {
    pub(crate) fn new() -> Prefilter {
        let cmdi = ClassSet::EMPTY.with(Class::Cmdi);
        let sqli = ClassSet::EMPTY.with(Class::Sqli);
        let mut words: Vec<(&str, ClassSet)> = TRIGGER_WORDS
            .iter()
            .map(|(w, cs)| (*w, cs.iter().copied().collect()))
            .collect();
        words.extend(cmdi::CODE.iter().map(|w| (*w, cmdi)));
        let mut keywords: Vec<(&str, ClassSet)> = SQL_KEYWORDS.iter().map(|w| (*w, sqli)).collect();
        keywords.extend(cmdi::DISTINCT.iter().chain(cmdi::WORDY).map(|w| (*w, cmdi)));
        let build = |list: &[(&str, ClassSet)]| {
            // A full DFA: a few hundred patterns, read for every value that is not plain.
            aho_corasick::AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(list.iter().map(|(w, _)| w))
                .expect("static patterns build")
        };
        let mut keyword_map: HashMap<&'static [u8], ClassSet, FixedState> = HashMap::default();
        for (w, cs) in keywords {
            let slot = keyword_map.entry(w.as_bytes()).or_default();
            *slot = ClassSet(slot.0 | cs.0);
        }
        Prefilter {
            words: build(&words),
            word_classes: words.iter().map(|(_, cs)| *cs).collect(),
            keywords: keyword_map,
            bytes: byte_table(),
        }
    }

    /// The classes whose triggers appear in `norm`.
    pub(crate) fn triggers(&self, norm: &[u8]) -> ClassSet {
        let mut set = norm.iter().fold(ClassSet::EMPTY, |acc, b| {
            ClassSet(acc.0 | self.bytes[usize::from(*b)].0)
        });
        for m in self.words.find_overlapping_iter(norm) {
            if let Some(cs) = self.word_classes.get(m.pattern().as_usize()) {
                set = ClassSet(set.0 | cs.0);
            }
        }
        // Keywords as whole words: runs of letters (`1union` and `python3` still count).
        let mut buf = [0u8; MAX_KEYWORD_BYTES];
        for word in norm.split(|b| !b.is_ascii_alphabetic()) {
            if (1..=MAX_KEYWORD_BYTES).contains(&word.len()) {
                let lower = &mut buf[..word.len()];
                lower.copy_from_slice(word);
                lower.make_ascii_lowercase();
                if let Some(cs) = self.keywords.get(&*lower) {
                    set = ClassSet(set.0 | cs.0);
                }
            }
        }
        // Dots with a separator: a path, where encodings hide the dot-dot from the words above.
        let has = |b: u8| memchr::memchr(b, norm).is_some();
        if has(b'.') && (has(b'/') || has(b'\\')) {
            set = set.with(Class::Traversal);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values() {
        for plain in [
            "42",
            "hello",
            "bob@example.com",
            "2024-01-31",
            "a-b-c",
            "3.14",
            "snake_case",
            "O",
            "",
        ] {
            assert!(is_plain(plain.as_bytes()), "{plain}");
        }
        for not_plain in [
            "1--", "O'Brien", "a b", "a+b", "%27", "1=1", "x;y", "é", "a\0",
        ] {
            assert!(!is_plain(not_plain.as_bytes()), "{not_plain}");
        }
    }

    #[test]
    fn triggers_by_class() {
        let p = Prefilter::new();
        let cases: &[(&str, Class)] = &[
            ("1' or 1=1", Class::Sqli),
            ("1 union select 2", Class::Sqli),
            ("<svg onload=x>", Class::Xss),
            ("../../x", Class::Traversal),
            ("x;id", Class::Cmdi),
            ("http://x/", Class::Ssrf),
            ("${jndi:x}", Class::Jndi),
            ("<!DOCTYPE x>", Class::Xxe),
            ("{\"$ne\":1}", Class::Nosqli),
            ("{{7*7}}", Class::Ssti),
            ("x.oastify.com", Class::Scanner),
        ];
        for (v, class) in cases {
            assert!(
                p.triggers(v.as_bytes()).contains(*class),
                "{v} should wake {class}"
            );
        }
        let quiet = p.triggers(b"hello world");
        assert!(quiet.is_empty(), "{quiet:?}");
    }
}
