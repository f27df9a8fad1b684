//! The cheap first look at every value: most parameters are plain words and numbers, and no
//! tokenizer or rule runs on them.
//!
//! Three stages, each cheaper than the next and each run only when the one before left a class
//! undecided:
//! 1. [`ByteScan::of`] reads the value once through a 256-entry table: whether it is plain
//!    (letters, digits and `_ . , @`, single `-`: no normalisation, and only tool-marker and
//!    bare-host rules can read it), whether it needs normalising, and the classes its bytes
//!    wake on their own (quotes, `<`, `;`, `$`...).
//! 2. [`Prefilter::triggers`] runs one Aho-Corasick automaton over the trigger fragments of every
//!    class at once (`union`, `..`, `://`, `${`, `{{`, the scanners' User-Agents, probe paths
//!    and callback domains...), stopping as soon as every class the value could run is awake.
//! 3. Only then, and only for the SQL and command classes, each run of letters is looked up
//!    among their keywords.
//!
//! Only the classes triggered run their rules. The slow twin that every class reads every
//! value (`Detector::without_prefilter`) is checked against this in `src/tests.rs`.

use std::collections::{HashMap, HashSet};

use aho_corasick::AhoCorasick;
use foldhash::fast::FixedState;

use crate::finding::{Class, ClassSet};
use crate::rules::{cmdi, scanner, ssrf};

/// A byte outside the plain set (letters, digits, `_ . , @ -`).
const NOT_PLAIN: u64 = 1 << 16;
/// A byte a normaliser could change: `%`, `&`, a backslash, NUL, a UTF-8 lead byte (0xC0 and up).
const NEEDS_NORMALIZING: u64 = 1 << 17;
/// A `.`.
const DOT: u64 = 1 << 18;
/// A `/` or a backslash.
const SEPARATOR: u64 = 1 << 19;
/// A `-` (plain unless another follows: SQL's comment).
const DASH: u64 = 1 << 20;
/// A quote: `'`, `"` or a backtick.
const QUOTE: u64 = 1 << 21;
/// An `_`.
const UNDERSCORE: u64 = 1 << 22;
/// A digit.
const DIGIT: u64 = 1 << 23;
/// A byte no IPv4 address in the forms the SSRF rule reads has: not a hexadecimal digit, `x`,
/// `.`, nor `@` or `,`, which may set a host apart from the rest of a value.
const NOT_ADDRESS: u64 = 1 << 24;
/// The low 16 bits of a table entry are the [`ClassSet`] the byte wakes.
const CLASS_BITS: u64 = 0xFFFF;
/// Bits 32 to 57 of a table entry: the ASCII letter the byte is, either case (`a` at 32).
const LETTER_SHIFT: u32 = 32;

/// What one pass over a value's bytes found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteScan(u64);

impl ByteScan {
    /// Reads `value` once through [`BYTES`].
    pub(crate) fn of(value: &[u8]) -> ByteScan {
        ByteScan(value.iter().fold(0, |acc, b| acc | BYTES[usize::from(*b)]))
    }

    /// Whether the value is a plain word or number ([`is_plain`]).
    pub(crate) fn is_plain(self, value: &[u8]) -> bool {
        self.0 & NOT_PLAIN == 0 && (self.0 & DASH == 0 || !value.windows(2).any(|w| w == b"--"))
    }

    /// Whether a normaliser could change the value.
    pub(crate) fn needs_normalizing(self) -> bool {
        self.0 & NEEDS_NORMALIZING != 0
    }

    /// Whether the value has a `.`.
    pub(crate) fn has_dot(self) -> bool {
        self.0 & DOT != 0
    }

    /// The ASCII letters the value has, either case: bit 0 for `a`, 25 for `z`.
    pub(crate) fn letters(self) -> u32 {
        (self.0 >> LETTER_SHIFT) as u32
    }

    /// Whether the value has a quote (`'`, `"` or a backtick).
    pub(crate) fn has_quote(self) -> bool {
        self.0 & QUOTE != 0
    }

    /// The classes the value's bytes wake on their own, with traversal for a dot beside a
    /// separator (a path, where encodings hide the dot-dot from the trigger words).
    fn classes(self) -> ClassSet {
        let mut set = ClassSet((self.0 & CLASS_BITS) as u16);
        if self.0 & DOT != 0 && self.0 & SEPARATOR != 0 {
            set = set.with(Class::Traversal);
        }
        set
    }
}

/// The table [`ByteScan::of`] reads: per byte, the classes it wakes and its flags.
static BYTES: [u64; 256] = byte_table();

const fn byte_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = byte_entry(i as u8);
        i += 1;
    }
    t
}

/// One byte's entry of [`BYTES`].
const fn byte_entry(b: u8) -> u64 {
    let mut e = byte_classes(b) as u64;
    if b.is_ascii_alphabetic() {
        e |= (letter_bit(b) as u64) << LETTER_SHIFT;
    }
    let plain = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b',' | b'@' | b'-');
    if !plain {
        e |= NOT_PLAIN;
    }
    if matches!(b, b'%' | b'&' | b'\\' | 0) || b >= 0xC0 {
        e |= NEEDS_NORMALIZING;
    }
    if b == b'.' {
        e |= DOT;
    }
    if matches!(b, b'/' | b'\\') {
        e |= SEPARATOR;
    }
    if b == b'-' {
        e |= DASH;
    }
    if matches!(b, b'\'' | b'"' | b'`') {
        e |= QUOTE;
    }
    if b == b'_' {
        e |= UNDERSCORE;
    }
    if b.is_ascii_digit() {
        e |= DIGIT;
    }
    if !(b.is_ascii_hexdigit() || matches!(b, b'x' | b'X' | b'.' | b'@' | b',')) {
        e |= NOT_ADDRESS;
    }
    e
}

/// The bit of an ASCII letter (either case) in [`ByteScan::letters`]: 0 for a byte that is none.
const fn letter_bit(b: u8) -> u32 {
    if b.is_ascii_alphabetic() {
        1 << (b.to_ascii_lowercase() - b'a')
    } else {
        0
    }
}

/// The letters of `words` (each as [`ByteScan::letters`] has them), to rule out at once a
/// text that lacks a letter of every word: a word appears in a text only if each of its
/// letters does. A table check before an automaton's search, which costs more to set up than
/// most names and values are long.
pub(crate) struct WordLetters {
    /// The letters of each word.
    words: Vec<u32>,
    /// Whether a word has only the letters `a` to `f` (or none): else a text with no other
    /// letters (a number, a hexadecimal id) holds none of the words, decided without a loop.
    hex_word: bool,
}

/// The letters `a` to `f`, as [`ByteScan::letters`] has them.
const HEX_LETTERS: u32 = 0b11_1111;

impl WordLetters {
    /// The letters of each of `words`.
    pub(crate) fn new(words: &[&str]) -> WordLetters {
        let words: Vec<u32> = words
            .iter()
            .map(|w| w.bytes().fold(0, |acc, b| acc | letter_bit(b)))
            .collect();
        let hex_word = words.iter().any(|w| w & !HEX_LETTERS == 0);
        WordLetters { words, hex_word }
    }

    /// Whether a text with `letters` may hold one of the words.
    pub(crate) fn may_hold(&self, letters: u32) -> bool {
        if letters & !HEX_LETTERS == 0 && !self.hex_word {
            return false; // a number or a hexadecimal id: every word has another letter
        }
        self.words.iter().any(|w| letters & w == *w)
    }
}

/// The letters of the words [`Prefilter::plain_words`] looks for in a plain value.
struct PlainLetters {
    /// `xp_`, `sp_`, `utl_`.
    procedures: WordLetters,
    /// `-moz-`.
    moz: WordLetters,
    /// `document.`, `string.`.
    sinks: WordLetters,
    /// `unionselect`.
    union_select: WordLetters,
    /// SQL's keywords, read after a digit.
    sql_keywords: WordLetters,
}

impl PlainLetters {
    fn new() -> PlainLetters {
        PlainLetters {
            procedures: WordLetters::new(&["xp", "sp", "utl"]),
            moz: WordLetters::new(&["moz"]),
            sinks: WordLetters::new(&["document", "string"]),
            union_select: WordLetters::new(&["unionselect"]),
            sql_keywords: WordLetters::new(SQL_KEYWORDS),
        }
    }
}

/// Whether `raw` is a plain word or number: only ASCII letters, digits, `_`, `.`, `,`, `@` and
/// `-` not followed by another `-` (SQL's comment). The slow twin of [`ByteScan::is_plain`].
#[cfg(test)]
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
    ("*/", &[Class::Sqli]),
    ("&&", &[Class::Sqli]),
    ("||", &[Class::Sqli]),
    ("@@", &[Class::Sqli]),
    ("xp_cmdshell", &[Class::Sqli]),
    ("utl_http", &[Class::Sqli]),
    ("sleep", &[Class::Sqli, Class::Nosqli]),
    ("exec", &[Class::Sqli, Class::Cmdi]),
    ("script:", &[Class::Xss]),
    ("expression", &[Class::Xss]),
    ("-moz-binding", &[Class::Xss]),
    ("behavior", &[Class::Xss]),
    ("document.", &[Class::Xss]),
    ("fromcharcode", &[Class::Xss]),
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
    "unionselect",
    "join",
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

/// The one SQL word that is a run of letters of its own in a plain value (`sqli.rs`).
const UNION_SELECT: &[u8] = b"unionselect";

/// Longest keyword looked up; longer words are no keyword.
const MAX_KEYWORD_BYTES: usize = 16;

/// The classes a byte wakes on its own, as [`ClassSet`] bits.
const fn byte_classes(b: u8) -> u16 {
    let mut s = 0;
    if matches!(b, b'\'' | b'"' | b'`' | b'#' | b';' | b'(' | b')') {
        s |= Class::Sqli.bit();
    }
    if matches!(b, b'<' | b'>' | b'"' | b'\'' | b'`' | b'=') {
        s |= Class::Xss.bit();
    }
    if matches!(
        b,
        b';' | b'|' | b'&' | b'`' | b'$' | b'\n' | b'\r' | b'\\' | b'\'' | b'"'
    ) {
        s |= Class::Cmdi.bit();
    }
    if b == b'$' {
        s |= Class::Nosqli.bit();
    }
    if b == b':' {
        // Every URL and local scheme has one; a bare host is read only in a parameter named
        // for one (`url`, `host`...), which the detector checks by name.
        s |= Class::Ssrf.bit();
    }
    s
}

/// By first letter, the lengths of `words` (lower-case, 1 to 31 bytes, starting with a
/// letter), as a bit mask.
fn command_shapes(commands: &[&str]) -> [u32; 26] {
    let mut shapes = [0u32; 26];
    for c in commands {
        let first = c.as_bytes().first().copied().unwrap_or_default();
        assert!(
            first.is_ascii_lowercase() && (1..32).contains(&c.len()),
            "{c}"
        );
        shapes[usize::from(first - b'a')] |= 1 << c.len();
    }
    shapes
}

/// The offsets of `byte` in `value`, by a plain loop (for short values).
fn positions(value: &[u8], byte: u8) -> impl Iterator<Item = usize> + '_ {
    value
        .iter()
        .enumerate()
        .filter(move |(_, b)| **b == byte)
        .map(|(at, _)| at)
}

/// Whether `norm` may hold a script URI spelled out with whitespace between its letters
/// (`j a v a s c r i p t :`, which `xss.script-uri` reads from level 2): `script:` appears
/// once everything but ASCII letters and `:` is dropped (a superset of the rule's matches,
/// whatever whitespace it allows).
fn spaced_script_uri(norm: &[u8]) -> bool {
    if memchr::memchr(b':', norm).is_none() {
        return false;
    }
    let mut letters = norm
        .iter()
        .filter(|b| b.is_ascii_alphabetic() || **b == b':')
        .map(u8::to_ascii_lowercase);
    let needle = b"script:";
    let mut matched = 0;
    // A needle with no repeated prefix: on a mismatch, restart at its first byte.
    letters.any(|b| {
        matched = if b == needle[matched] {
            matched + 1
        } else {
            usize::from(b == needle[0])
        };
        matched == needle.len()
    })
}

/// Whether `norm` may call a script sink with a parenthesis (`alert (1)`, which
/// `xss.script-sink` reads from level 3; a backtick wakes the class on its own): one of
/// `alert`, `prompt`, `confirm`, `eval` ends where the bytes before a `(` that are not
/// letters or digits start (a superset of the rule's whitespace).
fn script_sink_call(norm: &[u8]) -> bool {
    memchr::memchr_iter(b'(', norm).any(|at| {
        let head = &norm[..at];
        let end = head
            .iter()
            .rposition(u8::is_ascii_alphanumeric)
            .map_or(0, |p| p + 1);
        let head = &head[..end];
        [&b"alert"[..], b"prompt", b"confirm", b"eval"]
            .iter()
            .any(|w| head.len() >= w.len() && head[head.len() - w.len()..].eq_ignore_ascii_case(w))
    })
}

/// The classes whose keywords [`Prefilter::keywords`] looks up.
const KEYWORD_CLASSES: ClassSet = ClassSet(Class::Sqli.bit() | Class::Cmdi.bit());

/// The trigger automaton and the keyword map.
pub(crate) struct Prefilter {
    /// Every trigger fragment of every class, with the classes each wakes.
    words: AhoCorasick,
    /// By pattern id of `words`: the classes that pattern wakes.
    word_classes: Vec<ClassSet>,
    /// Keywords by lower-case spelling: looked up per word, since an automaton over short
    /// keywords (`sh`, `id`, `w`) matches inside almost every word of prose.
    keywords: HashMap<&'static [u8], ClassSet, FixedState>,
    /// The distinctive command names, lower case ([`Prefilter::is_bare_command`]).
    commands: HashSet<&'static [u8], FixedState>,
    /// By first letter (`a` to `z`) of the commands: bit `n` set when one has `n` bytes.
    command_shapes: [u32; 26],
    /// The same of every keyword, SQL's and the commands'.
    keyword_shapes: [u32; 26],
    /// The same of SQL's keywords alone ([`Prefilter::is_sql_keyword`]).
    sql_shapes: [u32; 26],
    /// The letters of the words of plain values ([`Prefilter::plain_words`]).
    plain_letters: PlainLetters,
    /// The SSRF rule's URL-ish parameter names.
    url_names: AhoCorasick,
    /// The SSRF rule's internal host names that have no digit.
    internal_names: AhoCorasick,
    /// Their letters.
    internal_name_letters: WordLetters,
}

impl Prefilter {
    pub(crate) fn new() -> Prefilter {
        let one = |c: Class| ClassSet::EMPTY.with(c);
        let mut words: Vec<(&str, ClassSet)> = TRIGGER_WORDS
            .iter()
            .map(|(w, cs)| (*w, cs.iter().copied().collect()))
            .collect();
        words.extend(cmdi::CODE.iter().map(|w| (*w, one(Class::Cmdi))));
        // The scanner's own lists: its rule reads nothing else (header names aside, which
        // `scanner::is_scanner_header` decides exactly).
        let tools = scanner::USER_AGENTS
            .iter()
            .chain(scanner::OOB_DOMAINS)
            .chain(scanner::PROBE_PATHS);
        words.extend(tools.map(|w| (*w, one(Class::Scanner))));
        let mut keyword_map: HashMap<&'static [u8], ClassSet, FixedState> = HashMap::default();
        let keywords = SQL_KEYWORDS.iter().map(|w| (*w, one(Class::Sqli))).chain(
            cmdi::DISTINCT
                .iter()
                .chain(cmdi::WORDY)
                .map(|w| (*w, one(Class::Cmdi))),
        );
        for (w, cs) in keywords {
            let slot = keyword_map.entry(w.as_bytes()).or_default();
            *slot = ClassSet(slot.0 | cs.0);
        }
        let internal_names: Vec<&str> = ssrf::METADATA_HOSTS
            .iter()
            .chain(ssrf::LOOPBACK_SUFFIXES)
            .map(|h| h.trim_start_matches('.'))
            .filter(|h| !h.bytes().any(|b| b.is_ascii_digit()))
            .collect();
        let keyword_list: Vec<&str> = SQL_KEYWORDS
            .iter()
            .chain(cmdi::DISTINCT)
            .chain(cmdi::WORDY)
            .copied()
            .filter(|w| w.bytes().all(|b| b.is_ascii_lowercase()))
            .collect();
        Prefilter {
            // A full DFA: a few hundred patterns, read for every value that is not plain.
            words: aho_corasick::AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(words.iter().map(|(w, _)| w))
                .expect("static patterns build"),
            word_classes: words.iter().map(|(_, cs)| *cs).collect(),
            keywords: keyword_map,
            commands: cmdi::DISTINCT.iter().map(|c| c.as_bytes()).collect(),
            command_shapes: command_shapes(cmdi::DISTINCT),
            keyword_shapes: command_shapes(&keyword_list),
            sql_shapes: command_shapes(SQL_KEYWORDS),
            plain_letters: PlainLetters::new(),
            url_names: crate::rules::words(ssrf::URL_NAME_HINTS),
            internal_names: crate::rules::words(&internal_names),
            internal_name_letters: WordLetters::new(&internal_names),
        }
    }

    /// Whether a plain value is a distinctive command name on its own (ASCII
    /// case-insensitive), the only plain values the command rule reads: the same answer as
    /// `cmdi::is_bare_command`, by one lookup.
    pub(crate) fn is_bare_command(&self, raw: &[u8]) -> bool {
        let shape = |b: &u8| self.command_shapes[usize::from(b.to_ascii_lowercase() - b'a')];
        let fits = raw.first().filter(|b| b.is_ascii_alphabetic()).map(shape);
        if !fits.is_some_and(|lengths| raw.len() < 32 && lengths & (1 << raw.len()) != 0) {
            return false; // no command starts with that letter and has that length
        }
        let mut buf = [0u8; MAX_KEYWORD_BYTES];
        let Some(lower) = buf.get_mut(..raw.len()) else {
            return false; // longer than any command
        };
        lower.copy_from_slice(raw);
        lower.make_ascii_lowercase();
        self.commands.contains(&*lower)
    }

    /// The classes of `wanted` whose triggers appear in `norm` (the normalised value, any
    /// case), given its [`ByteScan`]; may say more than `wanted`.
    pub(crate) fn triggers(&self, norm: &[u8], bytes: ByteScan, wanted: ClassSet) -> ClassSet {
        let mut set = bytes.classes();
        let missing = |set: ClassSet| wanted.0 & !set.0 != 0;
        if missing(set) {
            for m in self.words.find_overlapping_iter(norm) {
                if let Some(cs) = self.word_classes.get(m.pattern().as_usize()) {
                    set = ClassSet(set.0 | cs.0);
                    if !missing(set) {
                        break;
                    }
                }
            }
        }
        if missing(set) && !wanted.and(KEYWORD_CLASSES).is_empty() {
            set = ClassSet(set.0 | self.keywords(norm).0);
        }
        if wanted.contains(Class::Xss)
            && !set.contains(Class::Xss)
            && (spaced_script_uri(norm) || script_sink_call(norm))
        {
            set = set.with(Class::Xss);
        }
        set
    }

    /// The classes a plain value can wake through the few SQL and script words that are
    /// plain themselves: `xp_cmdshell`, `sp_executesql`, `utl_http.request`, `unionselect`
    /// (`sqli.rs`), `-moz-binding`, `document.cookie`, `string.fromcharcode` (`xss.rs`), and
    /// an SQL keyword right after a number (`-1union`: libinjection reads a number, then the
    /// keyword). A superset: the separator each word has, with the letters on its side
    /// (`unionselect`: its `u`, then the rest), and [`Prefilter::keywords`]' reading of a
    /// run of letters after a digit.
    ///
    /// The letters a value has ([`ByteScan::letters`]) rule most words out before any loop:
    /// a word is in a value only if each of its letters is.
    pub(crate) fn plain_words(&self, value: &[u8], bytes: ByteScan) -> ClassSet {
        let mut set = ClassSet::EMPTY;
        let has = |w: &WordLetters| w.may_hold(bytes.letters());
        let before = |at: usize, word: &[u8]| {
            at >= word.len() && value[at - word.len()..at].eq_ignore_ascii_case(word)
        };
        // Loops, not vector searches: plain values are short, shorter than a vector search
        // takes to set up.
        let at = |byte: u8| positions(value, byte);
        let xp = || at(b'_').any(|at| before(at, b"xp") || before(at, b"sp") || before(at, b"utl"));
        if (bytes.0 & UNDERSCORE != 0 && has(&self.plain_letters.procedures) && xp())
            || self.plain_sql_run(value, bytes)
        {
            set = set.with(Class::Sqli);
        }
        let moz = || {
            at(b'-').any(|at| {
                value
                    .get(at + 1..at + 5)
                    .is_some_and(|w| w.eq_ignore_ascii_case(b"moz-"))
            })
        };
        let sink = || at(b'.').any(|at| before(at, b"document") || before(at, b"string"));
        if (bytes.0 & DASH != 0 && has(&self.plain_letters.moz) && moz())
            || (bytes.0 & DOT != 0 && has(&self.plain_letters.sinks) && sink())
        {
            set = set.with(Class::Xss);
        }
        set
    }

    /// Whether a plain value has a run of letters that is `unionselect` on its own, or an SQL
    /// keyword right after a digit (read as [`Prefilter::keywords`] reads it there).
    fn plain_sql_run(&self, value: &[u8], bytes: ByteScan) -> bool {
        let union_select = value.len() >= UNION_SELECT.len()
            && self.plain_letters.union_select.may_hold(bytes.letters());
        // A keyword after a digit needs a digit, and each of its letters somewhere in the
        // value: a hexadecimal id or a number has none of them.
        let keyword_after_digit =
            bytes.0 & DIGIT != 0 && self.plain_letters.sql_keywords.may_hold(bytes.letters());
        if !keyword_after_digit && !union_select {
            return false; // no keyword can follow a digit, no `unionselect`
        }
        let mut i = 0;
        while let Some(&b) = value.get(i) {
            if !b.is_ascii_alphabetic() {
                i += 1;
                continue;
            }
            let start = i;
            while value.get(i).is_some_and(u8::is_ascii_alphabetic) {
                i += 1;
            }
            let run = &value[start..i];
            if union_select && run.eq_ignore_ascii_case(UNION_SELECT) {
                return true;
            }
            // The shortest SQL keyword has two letters; a shorter run is no keyword, and
            // hexadecimal letters before one would be part of its run.
            let after_digit = keyword_after_digit
                && start > 0
                && value[start - 1].is_ascii_digit()
                && run.len() >= 2;
            if after_digit && self.sql_run_after_digit(run) {
                return true;
            }
        }
        false
    }

    /// [`Prefilter::plain_words`] as it was first written, a search per word and no letter
    /// check: its slow twin.
    #[cfg(test)]
    fn plain_words_by_search(&self, value: &[u8]) -> ClassSet {
        let before = |at: usize, word: &[u8]| {
            at >= word.len() && value[at - word.len()..at].eq_ignore_ascii_case(word)
        };
        let xp = memchr::memchr_iter(b'_', value)
            .any(|at| before(at, b"xp") || before(at, b"sp") || before(at, b"utl"));
        let mut runs = value
            .split(|b| !b.is_ascii_alphabetic())
            .scan(0, |start, run| {
                let at = *start;
                *start += run.len() + 1;
                Some((at, run))
            })
            .filter(|(_, run)| !run.is_empty());
        let sql_run = runs.any(|(at, run)| {
            run.eq_ignore_ascii_case(UNION_SELECT)
                || (at > 0
                    && value[at - 1].is_ascii_digit()
                    && run.len() >= 2
                    && self.run_after_digit(run).contains(Class::Sqli))
        });
        let moz = memchr::memchr_iter(b'-', value).any(|at| {
            value
                .get(at + 1..at + 5)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"moz-"))
        });
        let sink = memchr::memchr_iter(b'.', value)
            .any(|at| before(at, b"document") || before(at, b"string"));
        let mut set = ClassSet::EMPTY;
        if xp || sql_run {
            set = set.with(Class::Sqli);
        }
        if moz || sink {
            set = set.with(Class::Xss);
        }
        set
    }

    /// Whether a run of letters right after a digit holds an SQL keyword as
    /// [`Prefilter::run_after_digit`] reads it: the run, or a suffix after its leading
    /// hexadecimal letters. The same as `run_after_digit(run).contains(Class::Sqli)`, by SQL's
    /// keywords alone, whose shapes (first letter, length) a random token's runs seldom have.
    fn sql_run_after_digit(&self, run: &[u8]) -> bool {
        let hex = run.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        (0..=hex.min(run.len().saturating_sub(1)))
            .any(|k| run.get(k..).is_some_and(|w| self.is_sql_keyword(w)))
    }

    /// Whether `word` (letters) is one of [`SQL_KEYWORDS`], ASCII case-insensitive: its shape
    /// first, then the keyword map.
    fn is_sql_keyword(&self, word: &[u8]) -> bool {
        let shape = word
            .first()
            .filter(|b| b.is_ascii_alphabetic())
            .map(|b| self.sql_shapes[usize::from(b.to_ascii_lowercase() - b'a')]);
        shape.is_some_and(|lengths| word.len() < 32 && lengths & (1 << word.len()) != 0)
            && self.keyword(word).contains(Class::Sqli)
    }

    /// Whether a value without a `:` may name an internal host, as the SSRF rule reads one:
    /// it holds one of the rule's metadata or loopback names, or it has a digit (an address in
    /// one of the forms the rule reads: `127.0.0.1`, `2130706433`, `0x7f000001`). A plain
    /// value must also have only the bytes of such an address, unless a `@` or `,` may set a
    /// host apart: its other bytes (letters past `f`, `_`, `-`) are part of the host the rule
    /// takes, which is then no address.
    pub(crate) fn may_name_internal_host(
        &self,
        value: &[u8],
        bytes: ByteScan,
        plain: bool,
    ) -> bool {
        let address = bytes.0 & DIGIT != 0 && (!plain || bytes.0 & NOT_ADDRESS == 0);
        address
            || (self.internal_name_letters.may_hold(bytes.letters())
                && self.internal_names.is_match(value))
    }

    /// Whether a parameter name (the last part) is one the SSRF rule reads bare hosts in:
    /// it holds one of `ssrf::URL_NAME_HINTS`, ASCII case-insensitive.
    pub(crate) fn is_url_name(&self, name: &[u8]) -> bool {
        self.url_names.is_match(name)
    }

    /// The classes of the keywords in `norm`, as whole words: runs of letters (`1union` and
    /// `python3` still count). A run right after a digit is also read without the letters a
    /// number can take in (`0x7funion` and `1eunion` are a number, then `union`, to the SQL
    /// tokenizer): each suffix after leading hexadecimal letters.
    fn keywords(&self, norm: &[u8]) -> ClassSet {
        let mut set = ClassSet::EMPTY;
        let mut start = 0;
        for word in norm.split(|b| !b.is_ascii_alphabetic()) {
            let after_digit = start > 0 && norm.get(start - 1).is_some_and(u8::is_ascii_digit);
            start += word.len() + 1;
            let classes = if after_digit {
                self.run_after_digit(word)
            } else {
                self.keyword(word)
            };
            set = ClassSet(set.0 | classes.0);
        }
        set
    }

    /// The classes of the keywords a run of letters right after a digit can hold: the run,
    /// and each suffix after its leading hexadecimal letters.
    fn run_after_digit(&self, run: &[u8]) -> ClassSet {
        let mut set = self.keyword(run);
        let hex = run.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        for k in 1..=hex.min(run.len().saturating_sub(1)) {
            set = ClassSet(set.0 | self.keyword(&run[k..]).0);
        }
        set
    }

    /// The classes of `word` if it is a keyword (ASCII case-insensitive).
    fn keyword(&self, word: &[u8]) -> ClassSet {
        let shape = word
            .first()
            .filter(|b| b.is_ascii_alphabetic())
            .map(|b| self.keyword_shapes[usize::from(b.to_ascii_lowercase() - b'a')]);
        if !shape.is_some_and(|lengths| word.len() < 32 && lengths & (1 << word.len()) != 0) {
            return ClassSet::EMPTY; // no keyword starts with that letter and has that length
        }
        let mut buf = [0u8; MAX_KEYWORD_BYTES];
        let Some(lower) = buf.get_mut(..word.len()).filter(|w| !w.is_empty()) else {
            return ClassSet::EMPTY;
        };
        lower.copy_from_slice(word);
        lower.make_ascii_lowercase();
        self.keywords.get(&*lower).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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
            assert!(
                ByteScan::of(plain.as_bytes()).is_plain(plain.as_bytes()),
                "{plain}"
            );
        }
        for not_plain in [
            "1--", "O'Brien", "a b", "a+b", "%27", "1=1", "x;y", "é", "a\0",
        ] {
            assert!(!is_plain(not_plain.as_bytes()), "{not_plain}");
            let v = not_plain.as_bytes();
            assert!(!ByteScan::of(v).is_plain(v), "{not_plain}");
        }
    }

    /// Pieces of runs of letters: hexadecimal letters, SQL keywords and command names in
    /// either case, near misses.
    const RUN_PARTS: &[&str] = &[
        "a",
        "B",
        "c",
        "d",
        "E",
        "f",
        "x",
        "z",
        "union",
        "SELECT",
        "unionselect",
        "or",
        "And",
        "div",
        "like",
        "null",
        "is",
        "case",
        "when",
        "benchmark",
        "ls",
        "whoami",
        "sh",
        "id",
        "uni",
        "elect",
    ];

    /// One prefilter for the proptests (building it compiles the automata).
    fn prefilter() -> &'static Prefilter {
        static P: std::sync::OnceLock<Prefilter> = std::sync::OnceLock::new();
        P.get_or_init(Prefilter::new)
    }

    /// Pieces of plain values, with the words [`Prefilter::plain_words`] reads and near misses.
    const PLAIN_PARTS: &[&str] = &[
        "1",
        "0x",
        "9e",
        "a",
        "Z",
        "_",
        "-",
        ".",
        ",",
        "@",
        "xp",
        "SP",
        "utl",
        "union",
        "UNIONselect",
        "select",
        "or",
        "and",
        "div",
        "like",
        "null",
        "moz",
        "moz-",
        "document",
        "String",
        "fromcharcode",
        "abcdef",
        "bob",
        "2024",
        "tok",
    ];

    /// Pieces of host names, with the SSRF rule's internal names cut and whole.
    const HOST_PARTS: &[&str] = &[
        "meta",
        "DATA",
        "metadata",
        "instance-",
        "local",
        "HOST",
        "test",
        "lvh",
        ".me",
        "vcap",
        "x",
        "_",
        "-",
        ".",
        "1",
        "é",
        "moz",
        "doc",
        "ument",
        "string",
        "union",
        "select",
    ];

    /// Every class wanted, for the trigger tests.
    fn all() -> ClassSet {
        Class::ALL.into_iter().collect()
    }

    fn triggers(p: &Prefilter, v: &str) -> ClassSet {
        p.triggers(v.as_bytes(), ByteScan::of(v.as_bytes()), all())
    }

    #[test]
    fn triggers_by_class() {
        let p = Prefilter::new();
        let cases: &[(&str, Class)] = &[
            ("1' or 1=1", Class::Sqli),
            ("1 union select 2", Class::Sqli),
            ("1 UNION SELECT 2", Class::Sqli),
            ("<svg onload=x>", Class::Xss),
            ("../../x", Class::Traversal),
            ("x;id", Class::Cmdi),
            ("http://x/", Class::Ssrf),
            ("${jndi:x}", Class::Jndi),
            ("<!DOCTYPE x>", Class::Xxe),
            ("{\"$ne\":1}", Class::Nosqli),
            ("{{7*7}}", Class::Ssti),
            ("x.oastify.com", Class::Scanner),
            ("sqlmap/1.7", Class::Scanner),
            ("/.git/config", Class::Scanner),
        ];
        for (v, class) in cases {
            assert!(triggers(&p, v).contains(*class), "{v} should wake {class}");
        }
        let quiet = triggers(&p, "hello world");
        assert!(quiet.is_empty(), "{quiet:?}");
    }

    /// A class already awake from the value's bytes needs no automaton; one wanted and not
    /// awake does, and keywords are looked up only for the classes that have them.
    #[test]
    fn triggers_stop_when_every_wanted_class_is_awake() {
        let p = Prefilter::new();
        let sqli = ClassSet::EMPTY.with(Class::Sqli);
        let v = b"x' union select";
        assert_eq!(p.triggers(v, ByteScan::of(v), sqli).and(sqli), sqli);
        let jndi = ClassSet::EMPTY.with(Class::Jndi);
        let v = b"a union b";
        assert!(p.triggers(v, ByteScan::of(v), jndi).and(sqli).is_empty());
        assert_eq!(p.triggers(v, ByteScan::of(v), all()).and(sqli), sqli);
    }

    /// The one-lookup command check says what the rule's list says.
    #[test]
    fn bare_commands_by_lookup() {
        let p = Prefilter::new();
        let mut values: Vec<String> = cmdi::DISTINCT.iter().map(|c| c.to_uppercase()).collect();
        values.extend(cmdi::WORDY.iter().map(|c| c.to_string()));
        values.extend(
            [
                "whoamii",
                "who",
                "",
                "a-very-long-value-that-is-no-command",
                "id",
                "1id",
                "_sh",
            ]
            .map(String::from),
        );
        for v in values {
            assert_eq!(
                p.is_bare_command(v.as_bytes()),
                cmdi::is_bare_command(v.as_bytes()),
                "{v}"
            );
        }
    }

    /// The classes of [`ByteScan`], by the definitions it replaces: each byte's classes, and
    /// traversal for a dot beside a separator.
    fn slow_byte_classes(v: &[u8]) -> ClassSet {
        let mut set = v
            .iter()
            .fold(ClassSet::EMPTY, |acc, b| ClassSet(acc.0 | byte_classes(*b)));
        let has = |b: u8| v.contains(&b);
        if has(b'.') && (has(b'/') || has(b'\\')) {
            set = set.with(Class::Traversal);
        }
        set
    }

    proptest! {
        /// The letter check answers what a loop over every word answers, for words with and
        /// without letters past `f`, and texts of any letters (none, `a` to `f` only...).
        #[test]
        fn word_letters_match_a_loop(
            words in prop::collection::vec("[a-h]{1,6}", 1..6),
            letters in prop_oneof![0u32..64, 0u32..(1 << 26)],
        ) {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let naive = words
                .iter()
                .any(|w| w.bytes().all(|b| letters & letter_bit(b) != 0));
            prop_assert_eq!(WordLetters::new(&words).may_hold(letters), naive);
        }
    }

    proptest! {
        /// The table pass says what the byte-by-byte definitions say, on any bytes.
        #[test]
        fn byte_scan_matches_its_definitions(
            v in prop::collection::vec(prop::sample::select(&b"aZ09_.,@-'\"`;<>$[{%&\\/\0 \n\xC3\xA9\x80\xFF"[..]), 0..24),
        ) {
            let scan = ByteScan::of(&v);
            prop_assert_eq!(scan.is_plain(&v), is_plain(&v));
            prop_assert_eq!(scan.needs_normalizing(), crate::normalize::needs_normalizing(&v));
            prop_assert_eq!(scan.has_dot(), v.contains(&b'.'));
            prop_assert_eq!(scan.has_quote(), v.iter().any(|b| matches!(b, b'\'' | b'"' | b'`')));
            prop_assert_eq!(scan.classes(), slow_byte_classes(&v));
            let letters = v.iter().filter(|b| b.is_ascii_alphabetic()).fold(0u32, |acc, b| acc | 1 << (b.to_ascii_lowercase() - b'a'));
            prop_assert_eq!(scan.letters(), letters);
        }

        /// The one-pass, letter-checked reading of a plain value's words says what a search
        /// per word says.
        #[test]
        fn plain_words_match_a_search_per_word(
            parts in prop::collection::vec(prop::sample::select(PLAIN_PARTS), 0..10),
        ) {
            let p = prefilter();
            let v = parts.concat().into_bytes();
            prop_assert_eq!(
                p.plain_words(&v, ByteScan::of(&v)),
                p.plain_words_by_search(&v),
                "{:?}", String::from_utf8_lossy(&v)
            );
        }

        /// A text in which an automaton finds one of the words has every letter of one: the
        /// letter check never rules out a text the search would match.
        #[test]
        fn word_letters_never_rule_out_a_match(
            parts in prop::collection::vec(prop::sample::select(HOST_PARTS), 0..8),
        ) {
            let text = parts.concat().into_bytes();
            let letters = ByteScan::of(&text).letters();
            let names = ["metadata", "instance-data", "localhost", "localtest.me", "lvh.me", "vcap.me", "xp", "sp", "utl", "moz", "document", "string", "unionselect"];
            for w in names {
                if crate::rules::words(&[w]).is_match(&text[..]) {
                    prop_assert!(WordLetters::new(&[w]).may_hold(letters), "{} in {:?}", w, String::from_utf8_lossy(&text));
                }
            }
        }

        /// The SQL-only reading of a run after a digit says what reading every keyword says.
        #[test]
        fn sql_run_after_digit_matches_every_keyword(
            parts in prop::collection::vec(prop::sample::select(RUN_PARTS), 1..5),
        ) {
            let p = prefilter();
            let run = parts.concat().into_bytes();
            prop_assert_eq!(
                p.sql_run_after_digit(&run),
                p.run_after_digit(&run).contains(Class::Sqli),
                "{:?}", String::from_utf8_lossy(&run)
            );
        }

    }
}
