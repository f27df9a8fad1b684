//! A slow, obviously-correct HTTP/1.1 message splitter: the oracle for what a test expects.
//!
//! It works on one reassembled direction of a connection (see
//! [`crate::faults::reassemble_first_wins`]): a head ends at the first blank line, the body is
//! framed by `Transfer-Encoding: chunked` or `Content-Length` (RFC 9112 section 6.3), else it is
//! empty for a request and runs to the end of the stream for a response. No limits, no
//! recovery: anything it does not understand gives `None`, so a test using it fails loudly
//! instead of comparing against a guess.

/// One HTTP message found in a byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The request line or status line, without its CRLF.
    pub start_line: String,
    /// Header fields in wire order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body after transfer decoding (chunk framing removed, content coding kept).
    pub body: Vec<u8>,
}

impl Message {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first token of the start line: the method of a request.
    pub fn method(&self) -> &str {
        self.start_line.split(' ').next().unwrap_or("")
    }

    /// The second token of the start line: the target of a request.
    pub fn target(&self) -> &str {
        self.start_line.split(' ').nth(1).unwrap_or("")
    }

    /// The status code of a status line.
    pub fn status(&self) -> Option<u16> {
        self.start_line.split(' ').nth(1)?.parse().ok()
    }

    /// True when `Transfer-Encoding` ends in `chunked`.
    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| {
            v.rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        })
    }

    /// The `Content-Length` value, when present and a plain decimal.
    fn content_length(&self) -> Option<Option<usize>> {
        match self.header("content-length") {
            None => Some(None),
            Some(v) => v.trim().parse().ok().map(Some),
        }
    }
}

/// Index just past the first `\r\n\r\n` at or after `from`.
fn head_end(stream: &[u8], from: usize) -> Option<usize> {
    stream
        .get(from..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| from + p + 4)
}

/// Parse the head `stream[from..end)` (which ends in a blank line).
fn parse_head(stream: &[u8], from: usize, end: usize) -> Option<Message> {
    let text = std::str::from_utf8(stream.get(from..end - 4)?).ok()?;
    let mut lines = text.split("\r\n");
    let start_line = lines.next()?.to_string();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Some(Message {
        start_line,
        headers,
        body: Vec::new(),
    })
}

/// Decode a chunked body at the start of `data`: the payload and the bytes the framing used,
/// trailers and the final CRLF included. `None` when incomplete or malformed.
pub fn dechunk(data: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let line_end = at + data.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&data[at..line_end]).ok()?;
        let size_hex = line.split(';').next()?.trim();
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let end = at + data.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
                let empty = end == at;
                at = end + 2;
                if empty {
                    return Some((body, at));
                }
            }
        }
        body.extend_from_slice(data.get(at..at + size)?);
        at += size;
        if data.get(at..at + 2)? != b"\r\n" {
            return None;
        }
        at += 2;
    }
}

/// Split a client stream into its requests.
pub fn requests(stream: &[u8]) -> Option<Vec<Message>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let end = head_end(stream, at)?;
        let mut msg = parse_head(stream, at, end)?;
        at = end;
        if msg.is_chunked() {
            let (body, used) = dechunk(&stream[at..])?;
            msg.body = body;
            at += used;
        } else if let Some(n) = msg.content_length()? {
            msg.body = stream.get(at..at + n)?.to_vec();
            at += n;
        }
        out.push(msg);
    }
    Some(out)
}

/// Split a server stream into its responses, interim (1xx) ones included.
///
/// `bodiless[k]` says that the `k`-th final response answers a `HEAD` (so it has no body
/// whatever its headers say); missing entries mean false.
pub fn responses(stream: &[u8], bodiless: &[bool]) -> Option<Vec<Message>> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut finals = 0;
    while at < stream.len() {
        let end = head_end(stream, at)?;
        let mut msg = parse_head(stream, at, end)?;
        at = end;
        let status = msg.status()?;
        if status < 200 {
            out.push(msg);
            continue;
        }
        let head = bodiless.get(finals).copied().unwrap_or(false);
        finals += 1;
        if head || status == 204 || status == 304 {
            // No body (RFC 9112 section 6.3 rule 1).
        } else if msg.is_chunked() {
            let (body, used) = dechunk(&stream[at..])?;
            msg.body = body;
            at += used;
        } else if let Some(n) = msg.content_length()? {
            msg.body = stream.get(at..at + n)?.to_vec();
            at += n;
        } else {
            msg.body = stream[at..].to_vec();
            at = stream.len();
        }
        out.push(msg);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunk_strips_framing_and_trailers() {
        let (body, used) =
            dechunk(b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\nNEXT").unwrap();
        assert_eq!(body, b"Wikipedia");
        assert_eq!(used, 38);
    }

    #[test]
    fn dechunk_incomplete_is_none() {
        assert_eq!(dechunk(b"4\r\nWik"), None);
        assert_eq!(dechunk(b"4\r\nWiki\r\n"), None);
        assert_eq!(dechunk(b"zz\r\n"), None);
    }

    #[test]
    fn responses_honour_head_and_interim() {
        let s = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab";
        let r = responses(s, &[true, false]).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].status(), Some(100));
        assert_eq!(r[1].body, b"");
        assert_eq!(r[2].body, b"ab");
    }

    #[test]
    fn requests_split_pipelined() {
        let s = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\n\r\n";
        let r = requests(s).unwrap();
        let got: Vec<(&str, &str, &[u8])> = r
            .iter()
            .map(|m| (m.method(), m.target(), &m.body[..]))
            .collect();
        assert_eq!(
            got,
            vec![
                ("GET", "/a", &b""[..]),
                ("POST", "/b", b"hi"),
                ("GET", "/c", b"")
            ]
        );
    }
}
