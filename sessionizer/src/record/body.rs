//! Body samples (`output.body_capture_bytes`): the first bytes of a body, decoded (transfer
//! coding by the HTTP layer, content coding here), with the fields whose names are secret
//! redacted inside them, as text when they are UTF-8 and as base64 otherwise.
//!
//! Secret fields are found lexically, so a sample cut in the middle of its document is
//! redacted as well as a whole one: JSON members (`"name": value`, at any depth), form
//! parameters (`name=value`), multipart parts (`Content-Disposition: form-data; name=...`).
//! JWTs are redacted wherever they are.

use std::borrow::Cow;

use base64::Engine;

use crate::http::Headers;
use crate::session::body::{self, BodyKind};
use crate::session::config::BodyConfig;

use super::json::{key, write_str, Obj};
use super::redact::{percent_decoded, Redactor};

/// One body as a record shows it.
pub(crate) struct Sample<'a> {
    /// The body's captured bytes (after transfer decoding).
    pub raw: &'a [u8],
    /// The captured bytes are fewer than the body's.
    pub truncated: bool,
    /// Its header fields (content coding and type).
    pub headers: &'a Headers,
}

impl Sample<'_> {
    /// Write the `body` object of at most `max` bytes of the decoded, redacted body:
    /// `{"text": ..., "encoding": "utf-8"|"base64", "truncated": bool}`.
    pub(crate) fn write(&self, red: &Redactor, limits: &BodyConfig, max: usize, out: &mut Vec<u8>) {
        let (decoded, _) = body::decode(
            self.headers.get("content-encoding"),
            self.raw,
            self.truncated,
            limits,
        );
        let kind = body::kind(self.headers.get("content-type"));
        let cut = decoded.len() > max || self.truncated;
        let mut o = Obj::open(out);
        match std::str::from_utf8(&decoded) {
            Ok(text) => {
                let redacted = redact_body(red, &kind, text);
                write_str(o.key(key!("text")), cut_at_char(&redacted, max));
                write_str(o.key(key!("encoding")), "utf-8");
            }
            Err(_) => {
                let part = decoded.get(..max.min(decoded.len())).unwrap_or_default();
                let b64 = base64::engine::general_purpose::STANDARD.encode(part);
                write_str(o.key(key!("text")), &b64);
                write_str(o.key(key!("encoding")), "base64");
            }
        }
        o.key(key!("truncated"))
            .extend_from_slice(if cut { b"true" } else { b"false" });
        o.close();
    }
}

/// At most `max` bytes of `s`, on a character boundary.
pub(crate) fn cut_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `text` of a body of `kind` with its secret fields and JWTs redacted.
pub(crate) fn redact_body<'a>(red: &Redactor, kind: &BodyKind<'_>, text: &'a str) -> Cow<'a, str> {
    let fields = match kind {
        BodyKind::Json => redact_json(red, text),
        BodyKind::Form => redact_form(red, text),
        BodyKind::Multipart(boundary) => redact_multipart(red, boundary, text),
        BodyKind::Other if text.trim_start().starts_with(['{', '[']) => redact_json(red, text),
        BodyKind::Other => Cow::Borrowed(text),
    };
    match red.jwts(&fields) {
        Cow::Borrowed(_) => fields,
        Cow::Owned(s) => Cow::Owned(s),
    }
}

/// JSON text (whole or cut) with the values of members whose names are secret replaced by
/// a JSON string of the replacement. Objects and arrays under a secret name are kept: their
/// own members are looked at one by one.
fn redact_json<'a>(red: &Redactor, text: &'a str) -> Cow<'a, str> {
    let b = text.as_bytes();
    let mut out = String::new();
    let (mut from, mut i) = (0, 0);
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let end = string_end(b, i);
        let mut j = end;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b.get(j) != Some(&b':') {
            i = end;
            continue;
        }
        // A member name: decode its escapes only when it has some (rare in names).
        let name = &text[i + 1..end.saturating_sub(1).max(i + 1)];
        let secret = red.redacts(&json_unescaped(name));
        j += 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let value_end = match b.get(j) {
            Some(b'"') => string_end(b, j),
            Some(b'{' | b'[') | None => j,
            Some(_) => {
                j + b[j..]
                    .iter()
                    .take_while(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
                    .count()
            }
        };
        if secret && value_end > j {
            out.push_str(&text[from..j]);
            let value = text[j..value_end].trim_matches('"');
            out.push('"');
            out.push_str(&red.replacement(value));
            out.push('"');
            from = value_end;
        }
        i = value_end.max(end);
    }
    if from == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[from..]);
    Cow::Owned(out)
}

/// Index just past the JSON string starting at `start` (a `"`), or the end of `b` when it is
/// cut.
fn string_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// A JSON string's content with its escapes decoded (lossily for broken ones).
fn json_unescaped(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    serde_json::from_str::<String>(&format!("\"{s}\""))
        .map(Cow::Owned)
        .unwrap_or(Cow::Borrowed(s))
}

/// A form body with the values of parameters whose names are secret replaced.
fn redact_form<'a>(red: &Redactor, text: &'a str) -> Cow<'a, str> {
    let secret = |pair: &str| {
        pair.split_once('=')
            .is_some_and(|(n, _)| red.redacts(&percent_decoded(n)))
    };
    if !text.split('&').any(secret) {
        return Cow::Borrowed(text);
    }
    let pairs: Vec<String> = text
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, v)) if secret(pair) => format!("{n}={}", red.replacement(v)),
            _ => pair.to_string(),
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}

/// A multipart body with the content of parts whose names are secret replaced.
fn redact_multipart<'a>(red: &Redactor, boundary: &str, text: &'a str) -> Cow<'a, str> {
    let delim = format!("--{boundary}");
    let mut out = String::new();
    let mut changed = false;
    let mut parts = text.split(delim.as_str());
    if let Some(preamble) = parts.next() {
        out.push_str(preamble);
    }
    for part in parts {
        out.push_str(&delim);
        let head_end = part.find("\r\n\r\n").map(|i| i + 4);
        let name = head_end.and_then(|h| part_name(&part[..h]));
        match (head_end, name) {
            (Some(h), Some(name)) if red.redacts(name) => {
                let content = &part[h..];
                let tail = if content.ends_with("\r\n") {
                    "\r\n"
                } else {
                    ""
                };
                let value = content.strip_suffix("\r\n").unwrap_or(content);
                out.push_str(&part[..h]);
                out.push_str(&red.replacement(value));
                out.push_str(tail);
                changed = true;
            }
            _ => out.push_str(part),
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// The `name` parameter of a part's `Content-Disposition` header.
fn part_name(head: &str) -> Option<&str> {
    let line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
    let at = line.to_ascii_lowercase().find("name=")?;
    let rest = line.get(at + 5..)?;
    match rest.strip_prefix('"') {
        Some(q) => q.split('"').next(),
        None => rest.split(';').next().map(str::trim),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red() -> Redactor {
        Redactor::default_rules()
    }

    #[test]
    fn json_members_with_secret_names_are_redacted_at_any_depth_even_when_cut() {
        let text = r#"{"user":"ann","password":"hunter2","nested":{"api_key":123,"ok":true},"list":[{"client_secret":"s"}],"token":null}"#;
        let got = redact_json(&red(), text);
        assert_eq!(
            got,
            r#"{"user":"ann","password":"[redacted]","nested":{"api_key":"[redacted]","ok":true},"list":[{"client_secret":"[redacted]"}],"token":"[redacted]"}"#
        );
        // Cut inside the secret value: still redacted.
        let cut = &text[..text.find("hunter").unwrap() + 3];
        assert!(!redact_json(&red(), cut).contains("hun"));
        // Escapes in names and values.
        let esc = r#"{"pass\u0077ord" : "a\"b", "x":"y"}"#;
        assert_eq!(
            redact_json(&red(), esc),
            r#"{"pass\u0077ord" : "[redacted]", "x":"y"}"#
        );
    }

    #[test]
    fn form_and_multipart_fields_with_secret_names_are_redacted() {
        assert_eq!(
            redact_form(&red(), "username=ann&password=hunter2&x=1"),
            "username=ann&password=[redacted]&x=1"
        );
        let body = "--B\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nann\r\n--B\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\nK-123\r\n--B--\r\n";
        let got = redact_multipart(&red(), "B", body);
        assert!(got.contains("ann") && !got.contains("K-123"), "{got}");
        assert!(
            got.contains("name=\"api_key\"\r\n\r\n[redacted]\r\n--B--"),
            "{got}"
        );
    }

    #[test]
    fn samples_are_text_or_base64_and_say_when_cut() {
        let headers: Headers = [("Content-Type", "application/json")].into_iter().collect();
        let s = Sample {
            raw: br#"{"password":"hunter2","a":"bcdefgh"}"#,
            truncated: false,
            headers: &headers,
        };
        let mut out = Vec::new();
        s.write(&red(), &BodyConfig::default(), 1000, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["text"], r#"{"password":"[redacted]","a":"bcdefgh"}"#);
        assert_eq!(v["encoding"], "utf-8");
        assert_eq!(v["truncated"], false);
        let mut out = Vec::new();
        s.write(&red(), &BodyConfig::default(), 10, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["text"], r#"{"password"#);
        assert_eq!(v["truncated"], true);
        let bin: Headers = Headers::new();
        let b = Sample {
            raw: &[0xff, 0x00, 0x41],
            truncated: false,
            headers: &bin,
        };
        let mut out = Vec::new();
        b.write(&red(), &BodyConfig::default(), 1000, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["encoding"], "base64");
        assert_eq!(v["text"], "/wBB");
    }

    proptest::proptest! {
        /// Any text, any cut: no panic, and a secret member's value never survives.
        #[test]
        fn json_redaction_never_panics_and_hides_the_secret(
            prefix in "[a-z0-9 ,:{\\[]{0,20}",
            cut in 0usize..60,
        ) {
            let text = format!("{prefix}{{\"password\":\"S3CRETVALUE\",\"k\":[1,2]}}");
            let end = (prefix.len() + cut).min(text.len());
            let end = (0..=end).rev().find(|&e| text.is_char_boundary(e)).unwrap_or(0);
            let got = redact_json(&red(), &text[..end]);
            proptest::prop_assert!(!got.contains("S3CRETVALUE"));
        }
    }
}
