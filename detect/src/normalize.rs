//! Normalisers: undo the encodings attackers use to slip past matching, at bounded cost.
//!
//! Each normaliser is one linear pass that never makes its input longer (every escape it
//! decodes is at least as long as what it stands for), so [`normalize`] runs them in rounds
//! until nothing changes or [`MAX_NORMALIZE_ROUNDS`] is reached: work is at most
//! `MAX_NORMALIZE_ROUNDS * PASSES` linear passes over the value, and double and triple
//! encodings (`%252e`, `%%32%65`, `&#x25;2e`) come apart.

/// Rounds of all normalisers; three decodings undo the deepest nesting in the corpora
/// (`%25252e`), the fourth confirms nothing changed.
pub const MAX_NORMALIZE_ROUNDS: usize = 4;

/// Passes per round: percent, HTML entity, backslash escape, Unicode folding.
pub const PASSES: usize = 4;

/// Longest numeric character reference read (`&#x0000003c;` has 8 digits).
const MAX_ENTITY_DIGITS: usize = 8;

/// A value after normalisation, with the number of passes that ran (for the bound tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The normalised bytes (not necessarily UTF-8).
    pub bytes: Vec<u8>,
    /// Linear passes run over the value.
    pub passes: usize,
}

/// `raw` with percent escapes (`%2e`, `%u002e`), HTML character references, backslash
/// escapes (`\u002e`, `\x2e`), overlong UTF-8 and full-width forms undone, NUL bytes dropped, repeated
/// until stable or [`MAX_NORMALIZE_ROUNDS`].
pub fn normalize(raw: &[u8]) -> Normalized {
    let mut bytes = Vec::new();
    let passes = normalize_into(raw, &mut bytes, &mut Vec::new());
    Normalized { bytes, passes }
}

/// [`normalize`] into `out` (cleared first), with `spare` as the other buffer the passes
/// alternate with, so that a caller that keeps both allocates nothing; returns the passes run.
pub(crate) fn normalize_into(raw: &[u8], out: &mut Vec<u8>, spare: &mut Vec<u8>) -> usize {
    out.clear();
    out.extend_from_slice(raw);
    if !needs_normalizing(raw) {
        return 0;
    }
    let mut passes = 0;
    for _ in 0..MAX_NORMALIZE_ROUNDS {
        let mut changed = false;
        for pass in [
            percent_decode,
            html_entities,
            backslash_escapes,
            fold_unicode,
        ] {
            spare.clear();
            changed |= pass(out, spare);
            std::mem::swap(out, spare);
            passes += 1;
            debug_assert!(out.len() <= spare.len(), "a normaliser grew its input");
        }
        if !changed {
            break;
        }
    }
    passes
}

/// Whether any normaliser could change `raw`: it has a `%`, `&` or `\\`, a NUL, or a UTF-8
/// lead byte (overlong forms and full-width characters start with 0xC0 and up).
pub(crate) fn needs_normalizing(raw: &[u8]) -> bool {
    memchr::memchr3(b'%', b'&', b'\\', raw).is_some() || raw.iter().any(|b| *b == 0 || *b >= 0xC0)
}

fn hex(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// The value of the `n` hex digits at `s[at..]`, if all are hex.
fn hex_at(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let digits = s.get(at..at.checked_add(n)?)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &b| Some(acc * 16 + hex(b)?))
}

/// Appends `c` as UTF-8, or U+FFFD for a surrogate or out-of-range value.
fn push_char(out: &mut Vec<u8>, c: u32) {
    let c = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// `%XX` and IIS `%uXXXX` escapes (RFC 3986 section 2.1). Invalid escapes stay as they are.
pub fn percent_decode(s: &[u8], out: &mut Vec<u8>) -> bool {
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            if let Some(v) = hex_at(s, i + 1, 2) {
                out.push(v as u8);
                i += 3;
                changed = true;
                continue;
            }
            if matches!(s.get(i + 1), Some(b'u' | b'U')) {
                if let Some(v) = hex_at(s, i + 2, 4) {
                    push_char(out, v);
                    i += 6;
                    changed = true;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    changed
}

/// Named references decoded: the ones XSS filters are dodged with. Longer names first where
/// one is a prefix of another.
const ENTITIES: &[(&[u8], &[u8])] = &[
    (b"lt", b"<"),
    (b"gt", b">"),
    (b"amp", b"&"),
    (b"quot", b"\""),
    (b"apos", b"'"),
    (b"colon", b":"),
    (b"semi", b";"),
    (b"lpar", b"("),
    (b"rpar", b")"),
    (b"lsqb", b"["),
    (b"rsqb", b"]"),
    (b"lcub", b"{"),
    (b"rcub", b"}"),
    (b"sol", b"/"),
    (b"bsol", b"\\"),
    (b"period", b"."),
    (b"comma", b","),
    (b"excl", b"!"),
    (b"equals", b"="),
    (b"grave", b"`"),
    (b"dollar", b"$"),
    (b"num", b"#"),
    (b"percnt", b"%"),
    (b"newline", b"\n"),
    (b"tab", b"\t"),
    (b"nbsp", b" "),
];

/// HTML character references: `&#60;`, `&#x3c;` (semicolon optional, as browsers read them)
/// and the named ones in `ENTITIES` (semicolon required except for `lt`, `gt`, `amp`,
/// `quot`; names ASCII case-insensitive).
pub fn html_entities(s: &[u8], out: &mut Vec<u8>) -> bool {
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'&' {
            if let Some((len, decoded)) = entity_at(s, i) {
                match decoded {
                    Decoded::Char(c) => push_char(out, c),
                    Decoded::Bytes(bytes) => out.extend_from_slice(bytes),
                }
                i += len;
                changed = true;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    changed
}

enum Decoded {
    Char(u32),
    Bytes(&'static [u8]),
}

/// The reference starting at `s[at] == '&'`: its length and what it stands for.
fn entity_at(s: &[u8], at: usize) -> Option<(usize, Decoded)> {
    let rest = s.get(at + 1..)?;
    if rest.first() == Some(&b'#') {
        let (radix, start) = match rest.get(1) {
            Some(b'x' | b'X') => (16, 2),
            _ => (10, 1),
        };
        let digits = rest
            .get(start..)?
            .iter()
            .take(MAX_ENTITY_DIGITS)
            .take_while(|b| char::from(**b).is_digit(radix))
            .count();
        if digits == 0 {
            return None;
        }
        let text = std::str::from_utf8(rest.get(start..start + digits)?).ok()?;
        let value = u32::from_str_radix(text, radix).ok()?;
        let semi = usize::from(rest.get(start + digits) == Some(&b';'));
        return Some((1 + start + digits + semi, Decoded::Char(value)));
    }
    for (name, value) in ENTITIES {
        let Some(candidate) = rest.get(..name.len()) else {
            continue;
        };
        if !candidate.eq_ignore_ascii_case(name) {
            continue;
        }
        let semi = rest.get(name.len()) == Some(&b';');
        let bare_ok = matches!(*name, b"lt" | b"gt" | b"amp" | b"quot");
        if semi || bare_ok {
            return Some((1 + name.len() + usize::from(semi), Decoded::Bytes(value)));
        }
    }
    None
}

/// JavaScript and JSON escapes outside a JSON parser: `\uXXXX` (with surrogate pairs),
/// `\u{X..}` and `\xXX`. Other backslashes stay (Windows paths keep theirs).
pub fn backslash_escapes(s: &[u8], out: &mut Vec<u8>) -> bool {
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'\\' {
            if let Some((len, c)) = escape_at(s, i) {
                push_char(out, c);
                i += len;
                changed = true;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    changed
}

/// The escape starting at `s[at] == '\\'`: its length and code point.
fn escape_at(s: &[u8], at: usize) -> Option<(usize, u32)> {
    match s.get(at + 1)? {
        b'x' | b'X' => Some((4, hex_at(s, at + 2, 2)?)),
        b'u' | b'U' if s.get(at + 2) == Some(&b'{') => {
            let digits = s
                .get(at + 3..)?
                .iter()
                .take(6)
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            if digits == 0 || s.get(at + 3 + digits) != Some(&b'}') {
                return None;
            }
            Some((4 + digits, hex_at(s, at + 3, digits)?))
        }
        b'u' | b'U' => {
            let hi = hex_at(s, at + 2, 4)?;
            if (0xD800..0xDC00).contains(&hi) && s.get(at + 6) == Some(&b'\\') {
                if let Some(lo) = hex_at(s, at + 8, 4).filter(|lo| (0xDC00..0xE000).contains(lo)) {
                    if matches!(s.get(at + 7), Some(b'u' | b'U')) {
                        return Some((12, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)));
                    }
                }
            }
            Some((6, hi))
        }
        _ => None,
    }
}

/// Overlong UTF-8 encodings of ASCII (`C0 AE` for `.`, `E0 80 AF` for `/`), full-width forms
/// (U+FF01..U+FF5E, IIS best-fit: `．．／`) and the slash look-alikes U+2215, U+2044, U+29F8 to
/// ASCII; NUL bytes dropped (browsers and many C-string parsers skip or stop at them, and
/// `<scr%00ipt>` must read as `<script>`).
pub fn fold_unicode(s: &[u8], out: &mut Vec<u8>) -> bool {
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if let Some((len, ascii)) = fold_at(s, i) {
            out.push(ascii);
            i += len;
            changed = true;
            continue;
        }
        if b == 0 {
            changed = true;
        } else {
            out.push(b);
        }
        i += 1;
    }
    changed
}

/// A foldable sequence at `s[at..]`: its length and the ASCII byte it stands for.
fn fold_at(s: &[u8], at: usize) -> Option<(usize, u8)> {
    let cont = |k: usize| {
        s.get(at + k)
            .filter(|b| **b & 0xC0 == 0x80)
            .map(|b| u32::from(*b & 0x3F))
    };
    let lead = *s.get(at)?;
    let (len, c) = match lead {
        // Overlong two-byte: C0/C1 lead bytes only ever encode U+0000..U+007F.
        0xC0 | 0xC1 => (2, (u32::from(lead & 0x1F) << 6) | cont(1)?),
        // Overlong three-byte (E0 80..9F) or a three-byte char to fold.
        0xE0..=0xEF => (
            3,
            (u32::from(lead & 0x0F) << 12) | (cont(1)? << 6) | cont(2)?,
        ),
        // Overlong four-byte (F0 80..8F).
        0xF0 => (4, (cont(1)? << 12) | (cont(2)? << 6) | cont(3)?),
        _ => return None,
    };
    let ascii = match c {
        0x00..=0x7F => c,
        0xFF01..=0xFF5E => c - 0xFF01 + 0x21,
        0x2215 | 0x2044 | 0x29F8 => u32::from(b'/'),
        0x29F5 | 0x29F9 | 0xFE68 => u32::from(b'\\'),
        _ => return None,
    };
    Some((len, ascii as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        String::from_utf8_lossy(&normalize(s.as_bytes()).bytes).into_owned()
    }

    #[test]
    fn percent_escapes_single_double_triple_and_nested() {
        let cases = [
            ("%2e%2e%2f", "../"),
            ("%252e%252e%252f", "../"),
            ("%25252e", "."),
            ("%%32%65", "."),
            ("%u002e%u002E/", "../"),
            ("%uff0e%uff0e%u2215", "../"),
            ("50% off", "50% off"),
            ("%zz%4", "%zz%4"),
            ("%", "%"),
        ];
        for (raw, want) in cases {
            assert_eq!(norm(raw), want, "{raw}");
        }
    }

    #[test]
    fn html_references() {
        let cases = [
            ("&lt;script&gt;", "<script>"),
            ("&LT;img&GT", "<img>"),
            ("&#60;&#x3C;&#x003c;&#0000060", "<<<<"),
            (
                "java&#x09;script&colon;alert&lpar;1&rpar;",
                "java\tscript:alert(1)",
            ),
            ("&amp;lt;", "<"),
            ("Tom &amp; Jerry", "Tom & Jerry"),
            ("AT&T &copy; R&D", "AT&T &copy; R&D"),
            ("&#;&#x;&#xZZ;", "&#;&#x;&#xZZ;"),
            ("&#99999999999;", "\u{FFFD}999;"),
        ];
        for (raw, want) in cases {
            assert_eq!(norm(raw), want, "{raw}");
        }
    }

    #[test]
    fn backslash_escapes_and_windows_paths() {
        let cases = [
            ("\\u003cscript\\u003e", "<script>"),
            ("\\x3cimg\\x3e", "<img>"),
            ("\\u{3c}\\u{1F600}", "<\u{1F600}"),
            ("\\ud83d\\ude00", "\u{1F600}"),
            ("\\ud83d", "\u{FFFD}"),
            ("C:\\Users\\bob\\notes.txt", "C:\\Users\\bob\\notes.txt"),
            ("\\u00", "\\u00"),
            ("\\u{}", "\\u{}"),
        ];
        for (raw, want) in cases {
            assert_eq!(norm(raw), want, "{raw}");
        }
    }

    #[test]
    fn overlong_utf8_full_width_and_nul() {
        let cases: &[(&[u8], &str)] = &[
            (b"\xc0\xae\xc0\xae\xc0\xaf", "../"),
            (b"..\xc1\x9c", "..\\"),
            (b"\xe0\x80\xae\xe0\x80\xaf", "./"),
            (b"\xf0\x80\x80\xae", "."),
            ("．．／ｅｔｃ".as_bytes(), "../etc"),
            (b"a\0b", "ab"),
            ("café ü".as_bytes(), "café ü"),
            (b"\xc0", "\u{FFFD}"),
        ];
        for (raw, want) in cases {
            assert_eq!(
                String::from_utf8_lossy(&normalize(raw).bytes),
                *want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn mixed_layers_come_apart() {
        assert_eq!(norm("%26lt%3Bscript%26gt%3B"), "<script>");
        assert_eq!(norm("%5Cu002e%5Cu002e%2F"), "../");
        assert_eq!(norm("%25c0%25ae%25c0%25ae/"), "../");
    }

    #[test]
    fn passes_are_bounded() {
        let deep = "%25".repeat(20) + "2e";
        let n = normalize(deep.as_bytes());
        assert!(n.passes <= MAX_NORMALIZE_ROUNDS * PASSES);
        assert_eq!(
            normalize(b"50% off").passes,
            PASSES,
            "one round when nothing changes"
        );
        assert_eq!(
            normalize(b"no escapes at all").passes,
            0,
            "nothing to undo: no pass"
        );
    }
}
