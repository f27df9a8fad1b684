//! The parts of a request-target (RFC 9112 section 3.2): path, query and, in the absolute
//! form, the authority.

/// Split a request-target into path and query (RFC 9112 section 3.2): the absolute form loses
/// its scheme and authority, the fragment (never sent by conforming clients) is dropped.
pub fn split_target(uri: &str) -> (&str, Option<&str>) {
    let rest = match absolute_form(uri) {
        Some(after) => after.find(['/', '?']).map_or("", |j| &after[j..]),
        None => uri,
    };
    // The query runs from the first `?` to a `#`; a `#` before any `?` ends the path. Both are
    // ASCII, so a byte search finds char boundaries; memchr's scans a word or a vector at a
    // time (a byte loop cost ~280 instructions on the bench's targets).
    let bytes = rest.as_bytes();
    match memchr::memchr2(b'?', b'#', bytes) {
        Some(i) if bytes[i] == b'?' => {
            let q = &rest[i + 1..];
            let end = memchr::memchr(b'#', q.as_bytes()).unwrap_or(q.len());
            (&rest[..i], Some(&q[..end]))
        }
        Some(i) => (&rest[..i], None),
        None => (rest, None),
    }
}

/// What follows `scheme://` in an absolute-form target (RFC 9112 section 3.2.2), `None` for
/// the other forms. The origin form (`/path?query`, nearly every request) is told by its first
/// byte, not searched: its query may hold a URL (`/cb?next=https://other.example/`), whose
/// authority is not the target's.
fn absolute_form(uri: &str) -> Option<&str> {
    if uri.starts_with('/') {
        return None;
    }
    let i = uri.find("://")?;
    let scheme = uri.get(..i)?;
    scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        .then(|| uri.get(i + 3..))
        .flatten()
}

/// The host and port of an absolute-form target (`http://user@host:port/...`), if any: its
/// authority without userinfo (RFC 3986 section 3.2), which never leaves the sensor.
pub fn target_authority(uri: &str) -> Option<&str> {
    let after = absolute_form(uri)?;
    let authority = after.find(['/', '?', '#']).map_or(after, |j| &after[..j]);
    Some(without_userinfo(authority))
}

/// An authority without its userinfo (`user:password@`).
pub fn without_userinfo(authority: &str) -> &str {
    authority
        .rfind('@')
        .map_or(authority, |at| &authority[at + 1..])
}

/// The path of a request-target as sessions name endpoints by it: [`split_target`]'s path,
/// and for the authority form (`CONNECT user:password@host:443`) the host and port alone.
pub fn target_path(uri: &str) -> &str {
    let (path, _) = split_target(uri);
    if path.starts_with('/') {
        path
    } else {
        without_userinfo(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_target_forms() {
        assert_eq!(split_target("/a/b?x=1"), ("/a/b", Some("x=1")));
        assert_eq!(split_target("/a/b"), ("/a/b", None));
        assert_eq!(split_target("http://h:8080/p?q#f"), ("/p", Some("q")));
        assert_eq!(split_target("http://h"), ("", None));
        assert_eq!(split_target("*"), ("*", None));
        assert_eq!(split_target("example.com:443"), ("example.com:443", None));
        assert_eq!(split_target("/x#frag"), ("/x", None));
        assert_eq!(target_authority("http://h:8080/p"), Some("h:8080"));
        assert_eq!(target_authority("/p"), None);
        assert_eq!(target_authority("http://u:p@h:1/x"), Some("h:1"));
        // A URL in an origin-form target's query is not its authority.
        assert_eq!(target_authority("/cb?next=https://other.example/x"), None);
        assert_eq!(target_authority("a b://h/"), None);
        assert_eq!(
            split_target("/cb?next=https://o.example/x"),
            ("/cb", Some("next=https://o.example/x"))
        );
        assert_eq!(target_path("u:secret@h:443"), "h:443");
        assert_eq!(target_path("/a@b"), "/a@b");
    }
}
