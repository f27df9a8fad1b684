//! Header fields of one message, owned compactly: every name and value lives in one string,
//! indexed by spans. One message costs two allocations instead of two per field.

use std::fmt;

use super::ascii::eq_ignore_case;
use crate::text::is_plain;

/// Where one field's name and value sit in [`Headers`]' text: the name from `name` to
/// `value`, the value from `value` to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    /// Start of the name.
    name: u32,
    /// Start of the value (the name ends here).
    value: u32,
    /// End of the value.
    end: u32,
}

impl Span {
    /// The span of a field whose name starts at `start`; None when it would not fit the
    /// 32-bit offsets (the field is then dropped rather than corrupt the list).
    fn at(start: usize, name_len: usize, value_len: usize) -> Option<Span> {
        let value = start + name_len;
        Some(Span {
            name: u32::try_from(start).ok()?,
            value: u32::try_from(value).ok()?,
            end: u32::try_from(value + value_len).ok()?,
        })
    }

    /// The name's byte range.
    fn name(self) -> std::ops::Range<usize> {
        self.name as usize..self.value as usize
    }

    /// The value's byte range.
    fn value(self) -> std::ops::Range<usize> {
        self.value as usize..self.end as usize
    }
}

/// Header fields in wire order, names as sent, values decoded lossily as UTF-8.
///
/// Layout: `text` holds every name and value back to back, as received; the spans point at
/// them. `plain` says that every byte of `text` is printable ASCII other than `"` and `\`
/// (the crate's `text::is_plain`): no value holds a line ending, and a writer may copy names and
/// values without escaping them.
///
/// Invariant: spans are in wire order, contiguous from 0 (`spans[i].end == spans[i+1].name`),
/// each on character boundaries, with `name <= value <= end`; `text` holds the fields,
/// nothing else, so the last span ends at `text.len()`.
#[derive(Clone, PartialEq, Eq)]
pub struct Headers {
    text: String,
    spans: Vec<Span>,
    plain: bool,
}

impl Default for Headers {
    fn default() -> Self {
        Headers {
            text: String::new(),
            spans: Vec::new(),
            plain: true,
        }
    }
}

impl Headers {
    /// No fields.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Room for `fields` fields of `bytes` bytes in all (names and values).
    pub fn with_capacity(fields: usize, bytes: usize) -> Self {
        Headers {
            text: String::with_capacity(bytes),
            spans: Vec::with_capacity(fields),
            plain: true,
        }
    }

    /// Fields from raw bytes, in order. The text is looked at once (is every name and value
    /// plain ASCII?); when it is not, each value is validated as UTF-8 on its own and decoded
    /// lossily when it is not, as [`Self::push_bytes`] does.
    pub fn from_byte_fields<'a, I, V>(fields: I, count: usize, bytes: usize) -> Self
    where
        I: Iterator<Item = (&'a str, V)> + Clone,
        V: AsRef<[u8]>,
    {
        let mut text = Vec::with_capacity(bytes);
        let mut spans = Vec::with_capacity(count);
        for (name, value) in fields.clone() {
            let value = value.as_ref();
            let Some(span) = Span::at(text.len(), name.len(), value.len()) else {
                continue;
            };
            text.extend_from_slice(name.as_bytes());
            text.extend_from_slice(value);
            spans.push(span);
        }
        if is_plain(&text) {
            debug_assert!(text.is_ascii());
            // SAFETY: `is_plain` passed every byte as printable ASCII (0x20..0x80): the text
            // is ASCII, hence UTF-8. (Validating a kilobyte of header text again cost ~450
            // instructions per transaction; the scan is held to a byte-by-byte reference by a
            // proptest in `text`.)
            let text = unsafe { String::from_utf8_unchecked(text) };
            return Headers {
                text,
                spans,
                plain: true,
            };
        }
        // Names are `str`s; a value may end inside a character that the next name would
        // complete, so values are validated one by one, not the whole.
        let mut out = Headers::with_capacity(count, bytes);
        for (name, value) in fields {
            out.push_bytes(name, value.as_ref());
        }
        out
    }

    /// Append a field; the value's bytes are decoded lossily as UTF-8.
    pub fn push_bytes(&mut self, name: &str, value: &[u8]) {
        match std::str::from_utf8(value) {
            Ok(v) => self.push(name, v),
            Err(_) => self.push(name, &String::from_utf8_lossy(value)),
        }
    }

    /// Append a field. Fields are bounded by the HTTP layer's header limits, far below 4 GiB;
    /// a field that would not fit the 32-bit spans is dropped rather than corrupt the list.
    pub fn push(&mut self, name: &str, value: &str) {
        let Some(span) = Span::at(self.text.len(), name.len(), value.len()) else {
            return;
        };
        self.plain &= is_plain(name.as_bytes()) & is_plain(value.as_bytes());
        self.text.push_str(name);
        self.text.push_str(value);
        self.spans.push(span);
        debug_assert!(self.text.len() == span.end as usize);
    }

    /// Heap bytes the fields hold (their text and spans, as allocated).
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.spans.capacity() * std::mem::size_of::<Span>()
    }

    /// Bytes of every name and value together.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// True when some name or value holds a line feed (a folded value before unfolding).
    pub fn has_line_feed(&self) -> bool {
        !self.plain && memchr::memchr(b'\n', self.text.as_bytes()).is_some()
    }

    /// Request the fields' memory ahead of a lookup (see the crate's `prefetch` module).
    pub fn prefetch(&self) {
        crate::prefetch::slice(&self.spans);
        crate::prefetch::bytes(self.text.as_ptr(), self.text.len());
    }

    /// True when every name and value is printable ASCII without `"` or `\`: no value holds
    /// a line ending, and names and values need no escaping in JSON.
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there is no field.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The fields in wire order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            text: &self.text,
            spans: self.spans.iter(),
        }
    }

    /// `(name, value)` pairs as bytes: [`Self::iter`] without checking character boundaries
    /// (the spans are on them), for readers that compare names and scan values as bytes.
    pub fn iter_bytes(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let text = self.text.as_bytes();
        self.spans.iter().map(move |s| {
            (
                text.get(s.name()).unwrap_or_default(),
                text.get(s.value()).unwrap_or_default(),
            )
        })
    }

    /// The value of field `i` (in wire order, as [`Self::iter_bytes`] counts) as text, for a
    /// reader that found the field by its bytes.
    pub fn value_at(&self, i: usize) -> Option<&str> {
        self.text.get(self.spans.get(i)?.value())
    }

    /// The value of the first field named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        let s = self.spans.iter().find(|s| self.is_named(s, name))?;
        self.text.get(s.value())
    }

    /// Every value of the fields named `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.spans
            .iter()
            .filter(move |s| self.is_named(s, name))
            .filter_map(|s| self.text.get(s.value()))
    }

    /// True when the field at `s` is named `name` (case-insensitive). Names are compared by
    /// length first, from the span, before any slicing: most lookups (the record writer's and
    /// the session keys') miss on most fields.
    #[inline]
    fn is_named(&self, s: &Span, name: &str) -> bool {
        s.value.wrapping_sub(s.name) as usize == name.len()
            && self
                .text
                .as_bytes()
                .get(s.name())
                .is_some_and(|n| eq_ignore_case(n, name.as_bytes()))
    }
}

/// Iterator over `(name, value)` pairs.
#[derive(Clone)]
pub struct Iter<'a> {
    text: &'a str,
    spans: std::slice::Iter<'a, Span>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let s = self.spans.next()?;
        let name = self.text.get(s.name()).unwrap_or("");
        let value = self.text.get(s.value()).unwrap_or("");
        Some((name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (n, v) in iter {
            h.push(n.as_ref(), v.as_ref());
        }
        h
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_order_names_and_values() {
        let mut h = Headers::new();
        h.push("Host", "a");
        h.push("Set-Cookie", "x=1");
        h.push_bytes("X-Bin", b"\xffok");
        h.push("set-cookie", "y=2");
        assert_eq!(h.len(), 4);
        let all: Vec<_> = h.iter().collect();
        assert_eq!(all[0], ("Host", "a"));
        assert_eq!(all[2], ("X-Bin", "\u{fffd}ok"));
        assert_eq!(h.get("SET-COOKIE"), Some("x=1"));
        assert_eq!(h.get_all("set-cookie").collect::<Vec<_>>(), ["x=1", "y=2"]);
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.value_at(1), Some(all[1].1));
        assert_eq!(h.value_at(all.len()), None);
        let bytes: Vec<_> = h.iter_bytes().collect();
        let text: Vec<_> = all
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        assert_eq!(bytes, text);
        let same: Headers = all.iter().copied().collect();
        assert_eq!(same, h);
    }

    /// The one-validation path gives exactly what pushing field by field gives.
    fn same_as_pushing(fields: &[(&str, &[u8])]) {
        let mut want = Headers::new();
        for (n, v) in fields {
            want.push_bytes(n, v);
        }
        let bytes = fields.iter().map(|(n, v)| n.len() + v.len()).sum();
        let got = Headers::from_byte_fields(fields.iter().copied(), fields.len(), bytes);
        assert_eq!(got, want);
    }

    #[test]
    fn byte_fields_are_validated_once_and_decoded_lossily_when_not_utf8() {
        same_as_pushing(&[("Host", b"a"), ("X-Name", "caf\u{e9}".as_bytes())]);
        same_as_pushing(&[("Host", b"a"), ("X-Bin", b"\xffok"), ("B", b"b")]);
        // A value ending inside a character that the next value would complete, with an
        // empty name between them: the whole is valid UTF-8, the spans would not be.
        same_as_pushing(&[("A", b"\xc3"), ("", b"\xa9")]);
        same_as_pushing(&[]);
    }

    proptest::proptest! {
        #[test]
        fn byte_fields_match_field_by_field(
            fields in proptest::collection::vec(("[A-Za-z-]{0,8}", proptest::collection::vec(proptest::num::u8::ANY, 0..12)), 0..6)
        ) {
            let f: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
            same_as_pushing(&f);
        }

        /// Lookups by length find what comparing every name finds, in any letter case (a
        /// small alphabet, so that names often share their length).
        #[test]
        fn lookups_match_comparing_every_name(
            fields in proptest::collection::vec(("[aAbB-]{0,3}", "[a-z]{0,3}"), 0..8),
            name in "[aAbB-]{0,3}",
        ) {
            let h: Headers = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let want: Vec<&str> = h
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
                .map(|(_, v)| v)
                .collect();
            proptest::prop_assert_eq!(h.get_all(&name).collect::<Vec<_>>(), want.clone());
            proptest::prop_assert_eq!(h.get(&name), want.first().copied());
        }
    }

    #[test]
    fn plain_only_without_escapes_or_non_ascii() {
        let h: Headers = [("Host", "a"), ("Accept", "*/*")].into_iter().collect();
        assert_eq!(h.text_len(), "Hosta".len() + "Accept*/*".len());
        assert!(h.is_plain() && Headers::new().is_plain());
        for odd in [
            "say \"hi\"",
            "back\\slash",
            "tab\there",
            "caf\u{e9}",
            "fold\r\n x",
        ] {
            let fields = [("Host", "a".as_bytes()), ("X", odd.as_bytes())];
            let h = Headers::from_byte_fields(fields.iter().copied(), 2, 5 + odd.len());
            assert!(!h.is_plain(), "{odd:?}");
            assert_eq!(h.get("x"), Some(odd));
        }
    }

    #[test]
    fn empty_names_and_values() {
        let h: Headers = [("", ""), ("A", "")].into_iter().collect();
        assert_eq!(h.iter().collect::<Vec<_>>(), [("", ""), ("A", "")]);
    }
}
