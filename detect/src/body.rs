//! Bodies by content type: form fields, JSON values at any depth with their JSON pointer,
//! multipart parts, XML (whole, for DOCTYPE and ENTITY, and its text), GraphQL string
//! arguments, plain text as a whole. Binary bodies are not read.
//!
//! Every reader is one forward pass that tolerates a body cut short (`body_truncated`): it
//! yields what it has read and stops.

use std::borrow::Cow;

use memchr::memmem;

use crate::fields::{find_either, form_pairs, starts_with_ignore_case, Kind, Name, Sink};

/// Deepest JSON nesting followed; members deeper down are not read (a legitimate document
/// rarely passes 20, serde_json's own recursion limit is 128).
pub const MAX_JSON_DEPTH: usize = 64;

/// Multipart parts read; later parts are not (RFC 7578 sets no limit, 64 fields is a big form).
pub const MAX_MULTIPART_PARTS: usize = 64;

/// Longest multipart part header block read, in bytes.
const MAX_PART_HEADER_BYTES: usize = 4096;

/// How a body is read, from its Content-Type or, without one, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyType {
    Json,
    Form,
    Multipart,
    Xml,
    GraphQl,
    Text,
    Binary,
}

/// The body type for a Content-Type header value and the body's first bytes.
pub(crate) fn body_type(content_type: Option<&str>, body: &[u8]) -> BodyType {
    let mime = content_type
        // `;` is ASCII: the offset found is a character boundary. (A loop: `str::split` by a
        // char costs more for a short value.)
        .map(|ct| ct.get(..ct.bytes().position(|b| b == b';').unwrap_or(ct.len())))
        .map(|mime| mime.unwrap_or("").trim())
        .unwrap_or("");
    let is = |m: &str| mime.eq_ignore_ascii_case(m);
    let ends = |s: &str| {
        mime.len() >= s.len()
            && mime
                .get(mime.len() - s.len()..)
                .is_some_and(|t| t.eq_ignore_ascii_case(s))
    };
    if is("application/json") || ends("+json") || is("text/json") {
        return BodyType::Json;
    }
    if is("application/x-www-form-urlencoded") {
        return BodyType::Form;
    }
    if starts_with_ignore_case(mime, "multipart/") {
        return BodyType::Multipart;
    }
    if is("application/xml") || is("text/xml") || ends("+xml") {
        return BodyType::Xml;
    }
    if is("application/graphql") {
        return BodyType::GraphQl;
    }
    let binary_prefixes = [
        "image/",
        "audio/",
        "video/",
        "font/",
        "application/octet-stream",
        "application/zip",
        "application/gzip",
        "application/pdf",
        "application/protobuf",
        "application/x-protobuf",
        "application/grpc",
    ];
    if binary_prefixes
        .iter()
        .any(|p| starts_with_ignore_case(mime, p))
    {
        return BodyType::Binary;
    }
    sniff(body)
}

/// A body without a telling Content-Type, by its first non-space byte.
fn sniff(body: &[u8]) -> BodyType {
    let start = body.trim_ascii_start();
    match start.first() {
        Some(b'{' | b'[') => BodyType::Json,
        Some(b'<') => BodyType::Xml,
        Some(_) if looks_binary(start) => BodyType::Binary,
        _ => BodyType::Text,
    }
}

/// More than one in eight of the first 512 bytes are control bytes other than whitespace.
fn looks_binary(b: &[u8]) -> bool {
    let head = b.get(..512).unwrap_or(b);
    let controls = head
        .iter()
        .filter(|c| **c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r'))
        .count();
    controls * 8 > head.len()
}

/// Calls `sink` for the values of `body` read as `ty`. `content_type` gives the multipart
/// boundary.
pub(crate) fn read(
    ty: BodyType,
    content_type: Option<&str>,
    body: &[u8],
    sink: &mut dyn Sink,
    walk: &mut JsonWalk,
) -> bool {
    match ty {
        BodyType::Json => json(body, sink, walk),
        BodyType::Form => form_pairs(body, sink, &|n| Name::Body(n)),
        BodyType::Multipart => match content_type.and_then(boundary) {
            Some(b) => multipart(body, b.as_bytes(), sink),
            None => sink.value(Kind::TextBody, &Name::BodyWhole, body),
        },
        BodyType::Xml => xml(body, sink),
        BodyType::GraphQl => graphql(body, &Name::BodyWhole, sink),
        BodyType::Text => sink.value(Kind::TextBody, &Name::BodyWhole, body),
        BodyType::Binary => true,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// The JSON pointer (RFC 6901) of the value being read, built as the walk goes, so that
/// reading a value allocates nothing.
///
/// Invariant: `marks` holds, per step of the pointer, the length `text` had before that step.
#[derive(Default)]
struct Pointer {
    /// The pointer as written in records: `/a/b~1c/0` (section 3: `~` as `~0`, `/` as `~1`).
    text: Vec<u8>,
    marks: Vec<usize>,
}

impl Pointer {
    /// A member name as the next step.
    fn push_key(&mut self, key: &[u8]) {
        self.marks.push(self.text.len());
        self.text.push(b'/');
        if find_either(key, b'~', b'/').is_none() {
            self.text.extend_from_slice(key);
            return;
        }
        for &b in key {
            match b {
                b'~' => self.text.extend_from_slice(b"~0"),
                b'/' => self.text.extend_from_slice(b"~1"),
                _ => self.text.push(b),
            }
        }
    }

    /// An array index as the next step.
    fn push_index(&mut self, index: usize) {
        self.marks.push(self.text.len());
        self.text.push(b'/');
        self.text
            .extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
    }

    /// Drops the last step.
    fn pop(&mut self) {
        if let Some(len) = self.marks.pop() {
            self.text.truncate(len);
        }
    }

    /// Steps in the pointer.
    fn depth(&self) -> usize {
        self.marks.len()
    }
}

/// A container being read: where the next value goes.
struct Frame {
    is_array: bool,
    next_index: usize,
}

/// The state of one JSON walk: where the reader is in the document. Kept by the caller from
/// one body to the next ([`JsonWalk::reset`]), so that reading a body allocates nothing once
/// the buffers have grown.
///
/// Invariant: `pointer` has one step per open container below the top one, plus one for a
/// string being handed to the sink, plus one for a member name read whose value has not
/// started (`key_pending`).
#[derive(Default)]
pub(crate) struct JsonWalk {
    pointer: Pointer,
    frames: Vec<Frame>,
    /// A member name was read and pushed on `pointer`; its value has not started.
    key_pending: bool,
    /// Containers entered past [`MAX_JSON_DEPTH`], whose content is skipped.
    skipped_depth: usize,
    scratch: Vec<u8>,
}

/// Walks a JSON document (RFC 8259) without building it: every string value and member name
/// goes to `sink` with its pointer. Numbers and literals carry no attack and are skipped.
/// Malformed or cut input ends the walk where it goes wrong; what came before was read.
fn json(body: &[u8], sink: &mut dyn Sink, walk: &mut JsonWalk) -> bool {
    walk.reset();
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'{' | b'[' => {
                walk.open(b == b'[');
                i += 1;
            }
            b'}' | b']' => {
                walk.close();
                i += 1;
            }
            b'"' => {
                let mut scratch = std::mem::take(&mut walk.scratch);
                let keep_going = json_text(body, i, &mut scratch).map(|(text, end)| {
                    i = end;
                    let is_key = next_non_space(body, i) == Some(b':');
                    walk.string(is_key, text, sink)
                });
                walk.scratch = scratch;
                match keep_going {
                    None => return true, // cut or malformed string: stop here
                    Some(false) => return false,
                    Some(true) => {}
                }
            }
            b',' | b':' => i += 1,
            _ if b.is_ascii_whitespace() => i += 1,
            _ => {
                walk.scalar();
                while body.get(i).is_some_and(|c| {
                    !matches!(c, b',' | b'}' | b']' | b'"' | b'{' | b'[')
                        && !c.is_ascii_whitespace()
                }) {
                    i += 1;
                }
            }
        }
    }
    true
}

impl JsonWalk {
    /// Ready for a new document; the buffers keep their capacity.
    fn reset(&mut self) {
        self.pointer.text.clear();
        self.pointer.marks.clear();
        self.frames.clear();
        self.key_pending = false;
        self.skipped_depth = 0;
        self.scratch.clear();
    }

    /// `{` or `[`: a container starts as the current member's value.
    fn open(&mut self, is_array: bool) {
        if self.frames.len() >= MAX_JSON_DEPTH || self.skipped_depth > 0 {
            self.skipped_depth += 1;
            return;
        }
        self.enter_value();
        self.frames.push(Frame {
            is_array,
            next_index: 0,
        });
    }

    /// `}` or `]`: the current container ends.
    fn close(&mut self) {
        if self.key_pending {
            self.pointer.pop(); // a member name whose value never started
            self.key_pending = false;
        }
        if self.skipped_depth > 0 {
            self.skipped_depth -= 1;
            return;
        }
        if self.frames.pop().is_some() && !self.frames.is_empty() {
            self.pointer.pop(); // the step of the container itself, pushed when it was entered
        }
    }

    /// A string just read (`text`, escapes decoded): a member name when a `:` follows inside
    /// an object, else a value. Returns false when the sink says stop.
    fn string(&mut self, followed_by_colon: bool, text: &[u8], sink: &mut dyn Sink) -> bool {
        if self.skipped_depth > 0 {
            return true;
        }
        let in_object = self.frames.last().is_some_and(|f| !f.is_array);
        if in_object && !self.key_pending && followed_by_colon {
            self.pointer.push_key(text);
            self.key_pending = true;
            let name = Name::Body(Cow::Borrowed(&self.pointer.text));
            return sink.value(Kind::JsonKey, &name, text);
        }
        self.enter_value();
        let name = Name::Body(Cow::Borrowed(&self.pointer.text));
        let keep_going = if is_graphql_member(&self.pointer, text) {
            graphql(text, &name, sink)
        } else {
            sink.value(Kind::Value, &name, text)
        };
        self.leave_value();
        keep_going
    }

    /// A number or literal: it takes the current member's place and is not read.
    fn scalar(&mut self) {
        if self.skipped_depth == 0 {
            self.enter_value();
            self.leave_value();
        }
    }

    /// A value starts in the current container: its step (the member name already pushed,
    /// else an empty one, or the next index) is on the pointer.
    fn enter_value(&mut self) {
        let Some(frame) = self.frames.last_mut() else {
            return; // the top-level value has the empty pointer
        };
        if frame.is_array {
            self.pointer.push_index(frame.next_index);
            frame.next_index += 1;
        } else if self.key_pending {
            self.key_pending = false;
        } else {
            self.pointer.push_key(b"");
        }
    }

    /// A string or scalar value ends: pop the step `enter_value` pushed.
    fn leave_value(&mut self) {
        if !self.frames.is_empty() {
            self.pointer.pop();
        }
    }
}

fn next_non_space(body: &[u8], from: usize) -> Option<u8> {
    body.get(from..)?
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

/// The text of the JSON string starting at `body[start] == '"'` and the offset after its
/// closing quote: borrowed from `body` when it has no escape, else decoded into `out` by
/// [`json_string`]. None if the string is cut or malformed.
fn json_text<'t>(body: &'t [u8], start: usize, out: &'t mut Vec<u8>) -> Option<(&'t [u8], usize)> {
    let from = start + 1;
    let tail = body.get(from..)?;
    let run = find_either(tail, b'"', b'\\')?;
    if tail.get(run) == Some(&b'"') {
        return Some((tail.get(..run)?, from + run + 1));
    }
    let end = json_string(body, start, out)?;
    Some((out.as_slice(), end))
}

/// Reads the JSON string starting at `body[start] == '"'` into `out`, escapes decoded
/// (RFC 8259 section 7; a lone surrogate becomes U+FFFD). Returns the offset after the closing
/// quote, or None if the string is cut or malformed.
fn json_string(body: &[u8], start: usize, out: &mut Vec<u8>) -> Option<usize> {
    out.clear();
    let mut i = start + 1;
    loop {
        // The run up to the next quote or backslash is copied as it is.
        let tail = body.get(i..)?;
        let run = find_either(tail, b'"', b'\\')?;
        out.extend_from_slice(&tail[..run]);
        i += run;
        let b = *body.get(i)?;
        match b {
            b'"' => return Some(i + 1),
            b'\\' => {
                let e = *body.get(i + 1)?;
                i += 2;
                let simple = match e {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b'f' => 0x0C,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        let (c, len) = json_unicode(body, i)?;
                        i += len;
                        let c = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        continue;
                    }
                    _ => return None,
                };
                out.push(simple);
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// The code point of the `XXXX` (and a following `\uXXXX` low surrogate) at `body[at..]`.
fn json_unicode(body: &[u8], at: usize) -> Option<(u32, usize)> {
    let hex4 = |from: usize| {
        let d = body.get(from..from + 4)?;
        u32::from_str_radix(std::str::from_utf8(d).ok()?, 16).ok()
    };
    let hi = hex4(at)?;
    if (0xD800..0xDC00).contains(&hi) && body.get(at + 4..at + 6) == Some(b"\\u") {
        if let Some(lo) = hex4(at + 6).filter(|lo| (0xDC00..0xE000).contains(lo)) {
            return Some((0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 10));
        }
    }
    Some((hi, 4))
}

/// A GraphQL request's document: the `query` member at the top of a JSON body (GraphQL over
/// HTTP), holding something that starts like a GraphQL operation.
fn is_graphql_member(pointer: &Pointer, value: &[u8]) -> bool {
    pointer.depth() == 1 && pointer.text == b"/query" && looks_like_graphql(value)
}

fn looks_like_graphql(doc: &[u8]) -> bool {
    let d = doc.trim_ascii_start();
    d.first() == Some(&b'{')
        || [&b"query"[..], b"mutation", b"subscription", b"fragment"]
            .iter()
            .any(|k| d.starts_with(k))
}

// ---------------------------------------------------------------------------------------------
// GraphQL

/// The string arguments of a GraphQL document, each a value at `name` (the document's own
/// syntax trips value rules; only its strings carry client data). Comments are skipped;
/// `"""` block strings are read raw.
fn graphql(doc: &[u8], name: &Name<'_>, sink: &mut dyn Sink) -> bool {
    let mut i = 0;
    let mut scratch = Vec::new();
    while let Some(&b) = doc.get(i) {
        match b {
            b'#' => i = memchr::memchr(b'\n', &doc[i..]).map_or(doc.len(), |n| i + n),
            b'"' if doc.get(i..i + 3) == Some(b"\"\"\"") => {
                let body_start = i + 3;
                let end = memmem::find(&doc[body_start..], b"\"\"\"")
                    .map_or(doc.len(), |n| body_start + n);
                if !sink.value(Kind::Value, name, &doc[body_start..end]) {
                    return false;
                }
                i = end + 3;
            }
            b'"' => {
                let Some(end) = json_string(doc, i, &mut scratch) else {
                    return true;
                };
                if !sink.value(Kind::Value, name, &scratch) {
                    return false;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Multipart

/// The `boundary` parameter of a multipart Content-Type (RFC 2046 section 5.1.1), unquoted.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// Each part of a multipart body (RFC 7578): its file name (a value, for traversal names) and,
/// unless it is a binary file, its content, at the part's `name`.
fn multipart(body: &[u8], boundary: &[u8], sink: &mut dyn Sink) -> bool {
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&delimiter);
    let starts: Vec<usize> = finder
        .find_iter(body)
        .take(MAX_MULTIPART_PARTS + 1)
        .collect();
    for (n, &at) in starts.iter().enumerate() {
        let content_start = at + delimiter.len();
        if body.get(content_start..content_start + 2) == Some(b"--") {
            break; // close delimiter
        }
        let end = starts.get(n + 1).copied().unwrap_or(body.len());
        let Some(part) = body.get(content_start..end) else {
            break;
        };
        if !part_values(part, sink) {
            return false;
        }
    }
    true
}

/// The values of one part (bytes after its delimiter line up to the next delimiter).
fn part_values(part: &[u8], sink: &mut dyn Sink) -> bool {
    let head_end = memmem::find(part, b"\r\n\r\n")
        .map(|n| (n, n + 4))
        .or_else(|| memmem::find(part, b"\n\n").map(|n| (n, n + 2)));
    let Some((head_len, content_start)) = head_end.filter(|(n, _)| *n <= MAX_PART_HEADER_BYTES)
    else {
        return true;
    };
    let head = String::from_utf8_lossy(&part[..head_len]);
    let mut name = None;
    let mut filename = None;
    let mut binary = false;
    for line in head.lines() {
        let Some((h, v)) = line.split_once(':') else {
            continue;
        };
        if h.trim().eq_ignore_ascii_case("content-disposition") {
            name = disposition_param(v, "name");
            filename = disposition_param(v, "filename");
        } else if h.trim().eq_ignore_ascii_case("content-type") {
            binary = body_type(Some(v.trim()), b"") == BodyType::Binary;
        }
    }
    let content = part.get(content_start..).unwrap_or_default();
    let content = content
        .strip_suffix(b"\r\n")
        .or_else(|| content.strip_suffix(b"\n"))
        .unwrap_or(content);
    let loc = Name::Body(Cow::Owned(name.unwrap_or_default().into_bytes()));
    if let Some(f) = &filename {
        if !sink.value(Kind::Value, &loc, f.as_bytes()) {
            return false;
        }
    }
    if binary || (filename.is_some() && looks_binary(content)) {
        return true;
    }
    sink.value(Kind::Value, &loc, content)
}

/// A parameter of a Content-Disposition value (`form-data; name="a"; filename="b"`).
fn disposition_param(value: &str, param: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

// ---------------------------------------------------------------------------------------------
// XML

/// An XML body: the whole (for DOCTYPE, ENTITY, XInclude), then each text node and CDATA
/// section as a value at its element's name.
fn xml(body: &[u8], sink: &mut dyn Sink) -> bool {
    if !sink.value(Kind::XmlBody, &Name::BodyWhole, body) {
        return false;
    }
    let mut element: &[u8] = b"";
    let mut i = 0;
    while let Some(lt) = memchr::memchr(b'<', &body[i..]).map(|n| i + n) {
        let text = body[i..lt].trim_ascii();
        if !text.is_empty() && !sink.value(Kind::Value, &Name::Body(Cow::Borrowed(element)), text) {
            return false;
        }
        if body[lt..].starts_with(b"<![CDATA[") {
            let start = lt + 9;
            let end = memmem::find(&body[start..], b"]]>").map_or(body.len(), |n| start + n);
            if !sink.value(
                Kind::Value,
                &Name::Body(Cow::Borrowed(element)),
                &body[start..end],
            ) {
                return false;
            }
            i = (end + 3).min(body.len());
            continue;
        }
        let Some(gt) = memchr::memchr(b'>', &body[lt..]).map(|n| lt + n) else {
            break;
        };
        let tag = &body[lt + 1..gt];
        if tag
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        {
            let name_len = tag
                .iter()
                .take_while(|c| !c.is_ascii_whitespace() && **c != b'/')
                .count();
            element = &tag[..name_len];
        }
        i = gt + 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(Kind, String, String)>);

    impl Sink for Collect {
        fn value(&mut self, kind: Kind, name: &Name<'_>, value: &[u8]) -> bool {
            self.0.push((
                kind,
                name.location().to_string(),
                String::from_utf8_lossy(value).into_owned(),
            ));
            true
        }
    }

    fn values(ct: &str, body: &str) -> Vec<(Kind, String, String)> {
        let mut c = Collect::default();
        let ty = body_type(Some(ct), body.as_bytes());
        assert!(read(
            ty,
            Some(ct),
            body.as_bytes(),
            &mut c,
            &mut JsonWalk::default()
        ));
        c.0
    }

    fn pairs(v: &[(Kind, String, String)]) -> Vec<(&str, &str)> {
        v.iter().map(|(_, l, s)| (l.as_str(), s.as_str())).collect()
    }

    #[test]
    fn body_types() {
        let cases = [
            (Some("application/json; charset=utf-8"), "", BodyType::Json),
            (Some("application/vnd.api+json"), "", BodyType::Json),
            (
                Some("application/x-www-form-urlencoded"),
                "",
                BodyType::Form,
            ),
            (
                Some("multipart/form-data; boundary=x"),
                "",
                BodyType::Multipart,
            ),
            (Some("application/soap+xml"), "", BodyType::Xml),
            (Some("application/graphql"), "", BodyType::GraphQl),
            (Some("image/png"), "", BodyType::Binary),
            (Some("text/plain"), "  {\"a\":1}", BodyType::Json),
            (None, "<?xml?>", BodyType::Xml),
            (None, "hello", BodyType::Text),
            (None, "\x01\x02\x03\x04\x05\x06\x07\x08", BodyType::Binary),
        ];
        for (ct, body, want) in cases {
            assert_eq!(body_type(ct, body.as_bytes()), want, "{ct:?} {body}");
        }
    }

    #[test]
    fn json_values_and_keys_with_pointers() {
        let v = values(
            "application/json",
            r#"{"a":{"b/c":["x",{"$ne":null}],"n":1.5,"t":true},"e~":"\u003cs\u003e","":"k"}"#,
        );
        let got: Vec<(Kind, &str, &str)> = v
            .iter()
            .map(|(k, l, s)| (*k, l.as_str(), s.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Kind::JsonKey, "body:/a", "a"),
                (Kind::JsonKey, "body:/a/b~1c", "b/c"),
                (Kind::Value, "body:/a/b~1c/0", "x"),
                (Kind::JsonKey, "body:/a/b~1c/1/$ne", "$ne"),
                (Kind::JsonKey, "body:/a/n", "n"),
                (Kind::JsonKey, "body:/a/t", "t"),
                (Kind::JsonKey, "body:/e~0", "e~"),
                (Kind::Value, "body:/e~0", "<s>"),
                (Kind::JsonKey, "body:/", ""),
                (Kind::Value, "body:/", "k"),
            ]
        );
    }

    #[test]
    fn json_top_level_arrays_and_strings() {
        assert_eq!(
            pairs(&values("application/json", r#"[1,"a",["b"]]"#)),
            vec![("body:/1", "a"), ("body:/2/0", "b")]
        );
        assert_eq!(
            pairs(&values("application/json", r#""x""#)),
            vec![("body:", "x")]
        );
    }

    /// The values and member names of a document with their pointers, by recursion over the
    /// parsed document: the slow twin of the walk's pointer, built step by step.
    fn by_recursion(v: &serde_json::Value, pointer: &str, out: &mut Vec<(Kind, String, String)>) {
        let esc = |k: &str| k.replace('~', "~0").replace('/', "~1");
        match v {
            serde_json::Value::String(s) => {
                out.push((Kind::Value, format!("body:{pointer}"), s.clone()))
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    by_recursion(item, &format!("{pointer}/{i}"), out);
                }
            }
            serde_json::Value::Object(members) => {
                for (k, item) in members {
                    let p = format!("{pointer}/{}", esc(k));
                    out.push((Kind::JsonKey, format!("body:{p}"), k.clone()));
                    by_recursion(item, &p, out);
                }
            }
            _ => {}
        }
    }

    fn json_doc() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let text = || proptest::string::string_regex("[a-c~/$ \"\\\\é]{0,4}").expect("regex");
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i32>().prop_map(serde_json::Value::from),
            text().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(6, 48, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map(text(), inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The walk gives every string and member name, in document order, with the pointer
        /// a recursion over the parsed document gives.
        #[test]
        fn json_pointers_match_a_recursive_walk(doc in json_doc()) {
            let mut want = Vec::new();
            by_recursion(&doc, "", &mut want);
            let mut got = Collect::default();
            assert!(json(doc.to_string().as_bytes(), &mut got, &mut JsonWalk::default()));
            proptest::prop_assert_eq!(got.0, want);
        }
    }

    #[test]
    fn json_cut_short_yields_what_came_before() {
        let full = r#"{"a":"one","b":["two","three"]}"#;
        for cut in 0..full.len() {
            let v = values("application/json", &full[..cut]);
            assert!(v.len() <= 5, "{cut}");
        }
        assert_eq!(
            pairs(&values("application/json", r#"{"a":"one","b":"tw"#)),
            vec![("body:/a", "a"), ("body:/a", "one"), ("body:/b", "b")]
        );
    }

    #[test]
    fn json_depth_is_bounded() {
        let deep = "[".repeat(MAX_JSON_DEPTH + 10) + "\"x\"" + &"]".repeat(MAX_JSON_DEPTH + 10);
        assert!(
            values("application/json", &deep).is_empty(),
            "values below the bound are not read"
        );
        let ok = "[".repeat(3) + "\"x\"" + &"]".repeat(3);
        assert_eq!(
            pairs(&values("application/json", &ok)),
            vec![("body:/0/0/0", "x")]
        );
    }

    #[test]
    fn graphql_strings_only() {
        let body = r#"{"query":"query Q($id: ID!) { user(id: $id, name: \"O'Brien\") { orders(first: 10) { id } } } # \"not me\"\n","variables":{"id":"42"}}"#;
        let v = values("application/json", body);
        assert_eq!(
            pairs(&v),
            vec![
                ("body:/query", "query"),
                ("body:/query", "O'Brien"),
                ("body:/variables", "variables"),
                ("body:/variables/id", "id"),
                ("body:/variables/id", "42")
            ]
        );
        let raw = values(
            "application/graphql",
            "mutation { add(text: \"\"\"multi\nline\"\"\") }",
        );
        assert_eq!(pairs(&raw), vec![("body", "multi\nline")]);
    }

    #[test]
    fn form_bodies() {
        assert_eq!(
            pairs(&values(
                "application/x-www-form-urlencoded",
                "user=bob&q=a%27+b"
            )),
            vec![
                ("body:user", "user"),
                ("body:user", "bob"),
                ("body:q", "q"),
                ("body:q", "a' b")
            ]
        );
    }

    #[test]
    fn multipart_parts() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello 'world'\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../etc/passwd\"\r\nContent-Type: image/png\r\n\r\n\x01\x02\r\n--XyZ--\r\n";
        let v = values("multipart/form-data; boundary=\"XyZ\"", body);
        assert_eq!(
            pairs(&v),
            vec![
                ("body:title", "hello 'world'"),
                ("body:file", "../../etc/passwd")
            ]
        );
    }

    #[test]
    fn xml_whole_then_text() {
        let v = values("application/xml", "<?xml version=\"1.0\"?><order><note>O'Brien &amp; co</note><x><![CDATA[<b>]]></x></order>");
        let got: Vec<(Kind, &str, &str)> = v
            .iter()
            .map(|(k, l, s)| (*k, l.as_str(), s.as_str()))
            .collect();
        assert_eq!(got[0].0, Kind::XmlBody);
        assert_eq!(
            &got[1..],
            &[
                (Kind::Value, "body:note", "O'Brien &amp; co"),
                (Kind::Value, "body:x", "<b>")
            ]
        );
    }
}
