//! A string's format read from its shape (OpenAPI format names): what inference keeps of a
//! string value.

use super::StringFormat;

/// The format a string's shape shows, if any.
pub fn string_format(s: &str) -> Option<StringFormat> {
    format_of(s.as_bytes(), s.contains('@'))
}

/// [`string_format`] of a string's UTF-8 bytes; `has_at`: whether they hold an `@` (the
/// reader knows it from its own pass, and an email needs one).
pub(super) fn format_of(b: &[u8], has_at: bool) -> Option<StringFormat> {
    if is_uuid(b) {
        Some(StringFormat::Uuid)
    } else if b.len() == DATE_LEN && is_date(b) {
        Some(StringFormat::Date)
    } else if b.len() > DATE_LEN && is_date(b) && matches!(b.get(DATE_LEN), Some(b'T' | b't')) {
        Some(StringFormat::DateTime)
    } else if has_at && is_email(b) {
        Some(StringFormat::Email)
    } else {
        None
    }
}

/// Length of an RFC 3339 full-date.
const DATE_LEN: usize = 10;

/// Length of a UUID's text form (RFC 9562 section 4).
const UUID_LEN: usize = 36;

/// `8-4-4-4-12` hex digits.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == UUID_LEN
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Starts with `YYYY-MM-DD` (RFC 3339 section 5.6 full-date).
fn is_date(b: &[u8]) -> bool {
    let Some(d) = b.get(..DATE_LEN) else {
        return false;
    };
    d.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        _ => c.is_ascii_digit(),
    })
}

/// `local@domain.tld`, loosely: one `@`, something before it, a dotted domain after it.
fn is_email(b: &[u8]) -> bool {
    let Some(at) = memchr::memchr(b'@', b) else {
        return false;
    };
    let (local, domain) = (
        b.get(..at).unwrap_or_default(),
        b.get(at + 1..).unwrap_or_default(),
    );
    !local.is_empty()
        && !String::from_utf8_lossy(local).contains(char::is_whitespace)
        && domain.contains(&b'.')
        && !domain.starts_with(b".")
        && !domain.ends_with(b".")
        && domain
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-')
}
