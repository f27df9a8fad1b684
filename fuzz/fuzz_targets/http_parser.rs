//! The pure HTTP/1.x parser (`apitap_sessionizer::http::parser`) on raw bytes: request and
//! response heads, trailer fields, start lines, the resynchronisation probe, framing rules and
//! the chunked decoder. Every function runs on every input, so seeds are plain HTTP messages.
//!
//! Checks: no panic; offsets stay inside the input; a prefix of a complete head or start line
//! is never an error (the parser's contract); what `probe` finds really is a start line; the
//! chunked decoder always makes progress and gives the same body and outcome whether the input
//! arrives at once or byte by byte.
#![no_main]

use apitap_sessionizer::http::parser::{
    self, header_storage, ChunkError, ChunkedDecoder, Line, Parse, Probe, StartLine,
};
use libfuzzer_sys::fuzz_target;

/// Prefix lengths below `end` worth checking: the edges, the middle, and a few more.
fn prefixes(end: usize) -> impl Iterator<Item = usize> {
    [
        0,
        1,
        2,
        end / 3,
        end / 2,
        end.saturating_sub(2),
        end.saturating_sub(1),
    ]
    .into_iter()
    .filter(move |&k| k < end)
}

fn storage_len() -> usize {
    header_storage().len()
}

fn heads(data: &[u8]) {
    let mut storage = header_storage();
    let mut spill = Vec::new();
    if let Parse::Complete { consumed, head } =
        parser::parse_request_head(data, &mut storage, &mut spill)
    {
        assert!(head.headers.len() <= storage_len());
        assert!(consumed > 0 && consumed <= data.len());
        let _ = parser::request_framing(head.headers);
        let _ = parser::content_length(head.headers);
        for k in prefixes(consumed) {
            let (mut s, mut v) = (header_storage(), Vec::new());
            let r = parser::parse_request_head(&data[..k], &mut s, &mut v);
            assert!(
                !matches!(r, Parse::Error(_)),
                "prefix {k} of a {consumed}-byte request head: {r:?}"
            );
        }
    }
    let mut storage = header_storage();
    if let Parse::Complete { consumed, head } = parser::parse_response_head(data, &mut storage) {
        assert!(consumed > 0 && consumed <= data.len());
        assert!((100..=999).contains(&head.status), "status {}", head.status);
        for to_head in [false, true] {
            let _ = parser::response_framing(head.status, to_head, head.headers);
        }
        let _ = parser::transfer_coding(head.headers);
        for k in prefixes(consumed) {
            let mut s = header_storage();
            let r = parser::parse_response_head(&data[..k], &mut s);
            assert!(
                !matches!(r, Parse::Error(_)),
                "prefix {k} of a {consumed}-byte response head: {r:?}"
            );
        }
    }
    let mut fields = [httparse::EMPTY_HEADER; 8];
    if let Some(f) = parser::parse_trailer_fields(data, &mut fields) {
        let _ = parser::content_length(f);
        let _ = parser::transfer_coding(f);
    }
}

fn start_lines(data: &[u8]) {
    if let Line::Complete(l) = parser::request_line(data) {
        assert!(l.len <= data.len() && l.version_minor <= 1);
        for k in prefixes(l.len) {
            assert_ne!(
                parser::request_line(&data[..k]),
                Line::Invalid,
                "prefix {k} of a request line"
            );
        }
    }
    if let Line::Complete(l) = parser::status_line(data) {
        assert!(l.len <= data.len() && (100..=999).contains(&l.status));
        for k in prefixes(l.len) {
            assert_ne!(
                parser::status_line(&data[..k]),
                Line::Invalid,
                "prefix {k} of a status line"
            );
        }
    }
    let _ = parser::looks_like_request_line(data);
    let _ = parser::looks_like_status_line(data);
    for kind in [StartLine::Request, StartLine::Status] {
        for at_line_start in [false, true] {
            for max in [16, 8192] {
                match parser::probe(data, at_line_start, kind, max) {
                    Probe::Found(at) => {
                        assert!(at < data.len());
                        // Request lines start at a line start; status lines anywhere.
                        assert!(at_line_start || at > 0 || kind == StartLine::Status);
                        let rest = &data[at..];
                        match kind {
                            StartLine::Request => {
                                assert!(matches!(parser::request_line(rest), Line::Complete(_)))
                            }
                            StartLine::Status => assert!(parser::looks_like_status_line(rest)),
                        }
                    }
                    // Offset 0 of an empty buffer may still start a line.
                    Probe::Incomplete(at) => assert!(at < data.len() || at == 0),
                    Probe::NotFound => {}
                }
            }
        }
    }
}

/// What decoding gave: body bytes, consumed bytes, the outcome, the trailers.
#[derive(Debug, PartialEq, Eq)]
struct Chunked {
    body: Vec<u8>,
    consumed: usize,
    outcome: Result<bool, ChunkError>,
    trailers: Vec<u8>,
}

/// Decode `data` given to the decoder `piece` bytes at a time.
fn chunked(data: &[u8], max_line_bytes: usize, piece: usize) -> Chunked {
    let mut dec = ChunkedDecoder::new(max_line_bytes);
    let mut body = Vec::new();
    let mut consumed = 0;
    let mut outcome = Ok(false);
    'pieces: for chunk in data.chunks(piece) {
        let mut off = 0;
        while off < chunk.len() {
            match dec.feed(&chunk[off..]) {
                Ok(d) => {
                    assert!(d.consumed <= chunk.len() - off, "consumed past the input");
                    if let Some(r) = d.data {
                        assert!(
                            r.start <= r.end && r.end <= d.consumed,
                            "{r:?} vs {}",
                            d.consumed
                        );
                        body.extend_from_slice(&chunk[off + r.start..off + r.end]);
                    }
                    if dec.is_done() {
                        off += d.consumed;
                        consumed += off;
                        outcome = Ok(true);
                        break 'pieces;
                    }
                    assert!(
                        d.consumed > 0,
                        "no progress with {} bytes left",
                        chunk.len() - off
                    );
                    off += d.consumed;
                }
                Err(e) => {
                    outcome = Err(e);
                    consumed += off;
                    break 'pieces;
                }
            }
        }
        consumed += off;
    }
    assert!(dec.trailers().len() <= max_line_bytes);
    Chunked {
        body,
        consumed,
        outcome,
        trailers: dec.trailers().to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    heads(data);
    start_lines(data);
    let whole = chunked(data, 64, usize::MAX);
    // The consumed count differs on error (the failing byte is taken or not); compare the rest.
    let bytewise = chunked(data, 64, 1);
    assert_eq!(
        (&whole.body, &whole.outcome, &whole.trailers),
        (&bytewise.body, &bytewise.outcome, &bytewise.trailers),
        "chunked decoding depends on how the input is split"
    );
    if whole.outcome == Ok(true) {
        assert_eq!(whole.consumed, bytewise.consumed);
    }
    let _ = chunked(data, 4096, 3);
});
