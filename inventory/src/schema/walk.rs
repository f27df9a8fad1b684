//! A JSON reader made for inference: it checks the grammar (RFC 8259) exactly as
//! `serde_json::Value` does, and tells the schema builder each value's pointer and type,
//! without building values or numbers.
//!
//! Why not serde's events: a visitor is called through several layers for every value, and
//! the parser decodes every number; inference needs neither. This reader reads numbers for
//! their shape alone and hands each key to a tree of pointers: a 1 KiB listing's inference
//! costs a fifth fewer instructions (docs/bench.md, "API inventory").
//!
//! Agreement with `serde_json::Value` (a proptest holds it, and the `inventory` fuzz target):
//! the same bytes are JSON; an integer is one that fits `u64`, or `i64` when negative (`-0`
//! is a number); a number too large for a double is not JSON; nesting stops at
//! [`MAX_NESTING`]; strings are UTF-8 and their escapes are decoded by `serde_json` itself
//! (they are rare, and surrogate pairs have rules of their own).

use std::borrow::Cow;

use super::{JsonType, StringFormat};

/// Containers nested deeper than this are not JSON: `serde_json`'s recursion limit, so that
/// both agree (and the reader's own recursion is bounded).
pub const MAX_NESTING: usize = 127;

/// Largest decimal exponent a double can hold (`f64::MAX` is about 1.8e308): a number whose
/// shape says it may be larger is parsed to find out.
const F64_MAX_EXP10: i64 = 308;

/// Why reading stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The bytes end inside a value: a prefix of a document, perhaps.
    Eof,
    /// Not JSON.
    Invalid,
}

/// Where values are reported: their pointer is the caller's (it follows [`Sink::enter_key`]
/// and friends), their type and string format are given.
pub trait Sink {
    /// A value of type `t` (and string format `f`) at the current pointer.
    fn value(&mut self, t: JsonType, f: Option<StringFormat>);
    /// Whether the contents of a container at `depth` (the root is 0) are followed; when
    /// not, they are checked but not reported.
    fn follows(&mut self, depth: usize) -> bool;
    /// The pointer goes down to member `key` (valid UTF-8); returns where to go back to.
    fn enter_key(&mut self, key: &[u8]) -> usize;
    /// The pointer goes down to the array's elements; returns where to go back to.
    fn enter_items(&mut self) -> usize;
    /// The pointer goes back up to where [`Sink::enter_key`] or [`Sink::enter_items`] said.
    fn leave(&mut self, back: usize);
}

/// Read one JSON document from `b`, reporting its values to `sink`; only whitespace may
/// follow it.
pub fn document(b: &[u8], sink: &mut impl Sink) -> Result<(), Stop> {
    let mut r = Reader { b, i: 0 };
    r.value(sink, 0, true)?;
    r.ws();
    if r.i < r.b.len() {
        Err(Stop::Invalid)
    } else {
        Ok(())
    }
}

/// The bytes and the position in them.
struct Reader<'b> {
    /// The document.
    b: &'b [u8],
    /// The next byte to read.
    i: usize,
}

impl<'b> Reader<'b> {
    /// The next byte, not consumed.
    #[inline]
    fn peek(&self) -> Result<u8, Stop> {
        self.b.get(self.i).copied().ok_or(Stop::Eof)
    }

    /// Skip whitespace (RFC 8259 section 2: space, tab, line feed, carriage return).
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// Consume `c` after whitespace, or fail.
    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), Stop> {
        self.ws();
        if self.peek()? == c {
            self.i += 1;
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }

    /// One value at `depth` (containers above it); `report`: whether its type is reported
    /// (not inside a container the sink does not follow).
    fn value(&mut self, sink: &mut impl Sink, depth: usize, report: bool) -> Result<(), Stop> {
        self.ws();
        let (t, f) = match self.peek()? {
            b'{' => return self.object(sink, depth, report),
            b'[' => return self.array(sink, depth, report),
            b'"' => {
                let s = self.string()?;
                let f = if report {
                    super::format::format_of(&s.text, s.has_at)
                } else {
                    None
                };
                (JsonType::String, f)
            }
            b't' => (self.literal(b"true", JsonType::Boolean)?, None),
            b'f' => (self.literal(b"false", JsonType::Boolean)?, None),
            b'n' => (self.literal(b"null", JsonType::Null)?, None),
            b'-' | b'0'..=b'9' => (self.number()?, None),
            _ => return Err(Stop::Invalid),
        };
        if report {
            sink.value(t, f);
        }
        Ok(())
    }

    /// `true`, `false` or `null`; a prefix of one at the end is [`Stop::Eof`].
    fn literal(&mut self, word: &[u8], t: JsonType) -> Result<JsonType, Stop> {
        let rest = self.b.get(self.i..).unwrap_or_default();
        let n = word.len().min(rest.len());
        if rest.get(..n) != word.get(..n) {
            return Err(Stop::Invalid);
        }
        if n < word.len() {
            return Err(Stop::Eof);
        }
        self.i += n;
        Ok(t)
    }

    /// An object; its members are reported when the sink follows it.
    fn object(&mut self, sink: &mut impl Sink, depth: usize, report: bool) -> Result<(), Stop> {
        let follow = self.open(sink, depth, report, JsonType::Object)?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return Err(Stop::Invalid);
            }
            let key = self.string()?.text;
            self.expect(b':')?;
            if follow {
                let back = sink.enter_key(&key);
                self.value(sink, depth + 1, true)?;
                sink.leave(back);
            } else {
                self.value(sink, depth + 1, false)?;
            }
            if self.next_or_close(b'}')? {
                return Ok(());
            }
        }
    }

    /// An array; its elements are reported when the sink follows it.
    fn array(&mut self, sink: &mut impl Sink, depth: usize, report: bool) -> Result<(), Stop> {
        let follow = self.open(sink, depth, report, JsonType::Array)?;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Ok(());
        }
        let back = follow.then(|| sink.enter_items());
        loop {
            self.value(sink, depth + 1, follow)?;
            if self.next_or_close(b']')? {
                break;
            }
        }
        if let Some(back) = back {
            sink.leave(back);
        }
        Ok(())
    }

    /// Enter a container (its opening byte is next): reported, checked against
    /// [`MAX_NESTING`]; whether its contents are reported.
    fn open(
        &mut self,
        sink: &mut impl Sink,
        depth: usize,
        report: bool,
        t: JsonType,
    ) -> Result<bool, Stop> {
        if depth >= MAX_NESTING {
            return Err(Stop::Invalid);
        }
        self.i += 1;
        if !report {
            return Ok(false);
        }
        sink.value(t, None);
        Ok(sink.follows(depth))
    }

    /// After a member or element: `,` (false: another follows) or `close` (true). A `,`
    /// before `close` is not JSON.
    fn next_or_close(&mut self, close: u8) -> Result<bool, Stop> {
        self.ws();
        let c = self.peek()?;
        self.i += 1;
        if c == close {
            Ok(true)
        } else if c == b',' {
            self.ws();
            if self.peek()? == close {
                return Err(Stop::Invalid);
            }
            Ok(false)
        } else {
            Err(Stop::Invalid)
        }
    }

    /// A string (the opening quote is next), its text, valid UTF-8: borrowed when it has no
    /// escape, decoded by `serde_json` when it has.
    ///
    /// Read a byte at a time against a table: API bodies' strings are short, where a
    /// vector search costs more to set up than it saves. The same pass notes an `@`, which
    /// an email address needs: most strings then need no search for one.
    fn string(&mut self) -> Result<Text<'b>, Stop> {
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        let mut ascii = true;
        let mut has_at = false;
        loop {
            let c = *self.b.get(j).ok_or(Stop::Eof)?;
            match STRING_BYTES[usize::from(c)] {
                StringByte::Plain => j += 1,
                StringByte::At => {
                    has_at = true;
                    j += 1;
                }
                StringByte::NonAscii => {
                    ascii = false;
                    j += 1;
                }
                StringByte::Quote => break,
                StringByte::Backslash => {
                    escaped = true;
                    j += 1 + escape_len(self.b.get(j + 1..).unwrap_or_default())?;
                }
                // RFC 8259 section 7: control characters must be escaped.
                StringByte::Control => return Err(Stop::Invalid),
            }
        }
        let text = self.b.get(start..j).unwrap_or_default();
        self.i = j + 1;
        if escaped {
            let quoted = self.b.get(start - 1..=j).unwrap_or_default();
            return serde_json::from_slice::<String>(quoted)
                .map(|s| Text {
                    // An escape may stand for `@` (`\u0040`).
                    has_at: s.contains('@'),
                    text: Cow::Owned(s.into_bytes()),
                })
                .map_err(|_| Stop::Invalid);
        }
        // Bytes below 0x80 alone are UTF-8 already.
        if !ascii && std::str::from_utf8(text).is_err() {
            return Err(Stop::Invalid);
        }
        Ok(Text {
            text: Cow::Borrowed(text),
            has_at,
        })
    }

    /// A number (its first byte, `-` or a digit, is next): `integer` or `number`, read by
    /// its shape (RFC 8259 section 6).
    fn number(&mut self) -> Result<JsonType, Stop> {
        let start = self.i;
        let negative = self.peek()? == b'-';
        if negative {
            self.i += 1;
        }
        let int_start = self.i;
        // The integer part's value, read in the same pass as its digits; `None` past `u64`.
        let value = match self.peek()? {
            b'0' => {
                self.i += 1;
                Some(0)
            }
            b'1'..=b'9' => self.digits_value(),
            _ => return Err(Stop::Invalid),
        };
        let int_digits = self.i - int_start;
        if let Some(b'0'..=b'9') = self.b.get(self.i) {
            // A leading zero followed by a digit.
            return Err(Stop::Invalid);
        }
        let mut integer = true;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            self.one_or_more_digits()?;
            integer = false;
        }
        let mut exp: i64 = 0;
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            let sign = match self.peek()? {
                b'-' => {
                    self.i += 1;
                    -1
                }
                b'+' => {
                    self.i += 1;
                    1
                }
                _ => 1,
            };
            let e_start = self.i;
            self.one_or_more_digits()?;
            let e_text = self.b.get(e_start..self.i).unwrap_or_default();
            exp = sign
                * e_text.iter().fold(0i64, |n, d| {
                    n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
                });
            integer = false;
        }
        let text = self.b.get(start..self.i).unwrap_or_default();
        if integer && value.is_some_and(|v| fits_integer(v, negative)) {
            return Ok(JsonType::Integer);
        }
        // A double, unless it is too large for one (`serde_json` refuses those).
        let magnitude = (int_digits as i64).saturating_add(exp);
        if magnitude > F64_MAX_EXP10 {
            let finite = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(f64::is_finite);
            if !finite {
                return Err(Stop::Invalid);
            }
        }
        Ok(JsonType::Number)
    }

    /// Skip digits.
    #[inline]
    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// Skip digits (at least one is next) and return their value, `None` when it is past
    /// `u64`.
    #[inline]
    fn digits_value(&mut self) -> Option<u64> {
        let mut value = Some(0u64);
        while let Some(&d @ b'0'..=b'9') = self.b.get(self.i) {
            value = value
                .and_then(|v| v.checked_mul(10))
                .and_then(|v| v.checked_add(u64::from(d - b'0')));
            self.i += 1;
        }
        value
    }

    /// At least one digit, then any more.
    fn one_or_more_digits(&mut self) -> Result<(), Stop> {
        match self.peek()? {
            b'0'..=b'9' => {
                self.digits();
                Ok(())
            }
            _ => Err(Stop::Invalid),
        }
    }
}

/// A string's text as [`Reader::string`] read it.
struct Text<'b> {
    /// Its text, escapes decoded, valid UTF-8.
    text: Cow<'b, [u8]>,
    /// Whether it holds an `@`.
    has_at: bool,
}

/// A byte's class inside a string.
#[derive(Clone, Copy)]
enum StringByte {
    /// ASCII that stands for itself.
    Plain,
    /// `@`, which stands for itself (noted for [`super::format::format_of`]).
    At,
    /// Part of a UTF-8 sequence (checked once the string's end is found).
    NonAscii,
    /// The closing quote.
    Quote,
    /// An escape's start.
    Backslash,
    /// U+0000 to U+001F, which must be escaped.
    Control,
}

/// [`StringByte`] of every byte value.
const STRING_BYTES: [StringByte; 256] = {
    let mut t = [StringByte::Plain; 256];
    let mut b = 0;
    while b < 256 {
        if b < 0x20 {
            t[b] = StringByte::Control;
        } else if b >= 0x80 {
            t[b] = StringByte::NonAscii;
        }
        b += 1;
    }
    t[b'"' as usize] = StringByte::Quote;
    t[b'\\' as usize] = StringByte::Backslash;
    t[b'@' as usize] = StringByte::At;
    t
};

/// Bytes of an escape after its backslash (`rest` starts there): `n`, `uXXXX`...
fn escape_len(rest: &[u8]) -> Result<usize, Stop> {
    match rest.first().ok_or(Stop::Eof)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(1),
        b'u' => {
            for k in 1..=4 {
                if !rest.get(k).ok_or(Stop::Eof)?.is_ascii_hexdigit() {
                    return Err(Stop::Invalid);
                }
            }
            Ok(5)
        }
        _ => Err(Stop::Invalid),
    }
}

/// Whether an integer's magnitude `v` (no fraction, no exponent; it fits `u64`) is what
/// `serde_json` reads as an integer: any `u64`, or an `i64` when negative and not `-0`.
fn fits_integer(v: u64, negative: bool) -> bool {
    !negative || (v != 0 && v <= 1 << 63)
}
