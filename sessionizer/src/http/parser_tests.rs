use super::*;

/// Owned view of a parsed request head: method, target, minor version, HTTP/0.9, field count.
type Req = (String, String, u8, bool, usize);
/// Owned view of a parsed response head: status, reason, minor version, field count.
type Resp = (u16, String, u8, usize);
/// Header fields as (name, value) pairs.
type Fields<'a> = &'a [(&'a str, &'a [u8])];

fn req(buf: &[u8]) -> Parse<Req> {
    let mut st = header_storage();
    match parse_request_head(buf, &mut st[..32]) {
        Parse::Complete { consumed, head } => Parse::Complete {
            consumed,
            head: (
                head.method.to_owned(),
                head.target.to_owned(),
                head.version_minor,
                head.http09,
                head.headers.len(),
            ),
        },
        Parse::Partial => Parse::Partial,
        Parse::Error(e) => Parse::Error(e),
    }
}

fn resp(buf: &[u8]) -> Parse<Resp> {
    let mut st = header_storage();
    match parse_response_head(buf, &mut st[..32]) {
        Parse::Complete { consumed, head } => Parse::Complete {
            consumed,
            head: (
                head.status,
                head.reason.to_owned(),
                head.version_minor,
                head.headers.len(),
            ),
        },
        Parse::Partial => Parse::Partial,
        Parse::Error(e) => Parse::Error(e),
    }
}

const VALID_REQUESTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /api/v1/x?y=1 HTTP/1.0\r\nContent-Length: 3\r\nX: \xff\xfe\r\n\r\nabc",
    b"\r\nGET /x HTTP/1.1\nHost: b\n\n",
    b"OPTIONS * HTTP/1.1\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"GET /old\r\n",
];

const VALID_RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.0 404 Not Found\r\n\r\n",
    b"HTTP/1.1 204\r\nDate: x\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nFolded: a\r\n b\r\n\r\n",
];

#[test]
fn request_heads_table() {
    let cases: &[(&[u8], Parse<Req>)] = &[
        (
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nBODY",
            Parse::Complete {
                consumed: 28,
                head: ("GET".into(), "/a".into(), 1, false, 1),
            },
        ),
        (b"GET /a HTTP/1.1\r\nHost: x\r\n", Parse::Partial),
        (b"GET /a HTT", Parse::Partial),
        (b"", Parse::Partial),
        (
            b"GET /a HTTP/2.0\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (b"\x16\x03\x01\x02\x00", Parse::Error(HeadError::Malformed)),
        (
            b"GET /a HTTP/1.1\r\nBad Header: x\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (
            b"GET /old\r\n",
            Parse::Complete {
                consumed: 10,
                head: ("GET".into(), "/old".into(), 0, true, 0),
            },
        ),
        (
            b"GET /old\n",
            Parse::Complete {
                consumed: 9,
                head: ("GET".into(), "/old".into(), 0, true, 0),
            },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            &req(input),
            want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn too_many_headers_is_its_own_error() {
    let mut st = header_storage();
    let buf = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert!(matches!(
        parse_request_head(buf, &mut st[..2]),
        Parse::Error(HeadError::TooManyHeaders)
    ));
}

#[test]
fn response_heads_table() {
    let cases: &[(&[u8], Parse<Resp>)] = &[
        (
            b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nxx",
            Parse::Complete {
                consumed: 25,
                head: (200, "OK".into(), 1, 1),
            },
        ),
        (
            b"HTTP/1.0 204\r\n\r\n",
            Parse::Complete {
                consumed: 16,
                head: (204, "".into(), 0, 0),
            },
        ),
        (b"HTTP/1.1 200 OK\r\n", Parse::Partial),
        (b"HTTP/1.1 20", Parse::Partial),
        (
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (
            b"HTTP/1.1 099 Low\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (b"SSH-2.0-OpenSSH\r\n", Parse::Error(HeadError::Malformed)),
    ];
    for (input, want) in cases {
        assert_eq!(
            &resp(input),
            want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn every_prefix_of_a_valid_request_head_is_partial() {
    for input in VALID_REQUESTS {
        let full = match req(input) {
            Parse::Complete { consumed, .. } => consumed,
            other => panic!(
                "not complete: {other:?} for {:?}",
                String::from_utf8_lossy(input)
            ),
        };
        for n in 0..full {
            assert_eq!(
                req(&input[..n]),
                Parse::Partial,
                "prefix {n} of {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

#[test]
fn every_prefix_of_a_valid_response_head_is_partial() {
    for input in VALID_RESPONSES {
        let full = match resp(input) {
            Parse::Complete { consumed, .. } => consumed,
            other => panic!("not complete: {other:?}"),
        };
        for n in 0..full {
            assert_eq!(
                resp(&input[..n]),
                Parse::Partial,
                "prefix {n} of {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

/// Decodes `input` fed in pieces of `step` bytes; returns (body, trailers, done, consumed).
fn dechunk(input: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>, bool, usize), ChunkError> {
    let mut dec = ChunkedDecoder::new(1024);
    let mut body = Vec::new();
    let mut pos = 0;
    while pos < input.len() && !dec.is_done() {
        let end = (pos + step).min(input.len());
        let mut piece = &input[pos..end];
        while !piece.is_empty() && !dec.is_done() {
            let d = dec.feed(piece)?;
            if let Some(r) = d.data {
                body.extend_from_slice(&piece[r]);
            }
            pos += d.consumed;
            piece = &piece[d.consumed..];
            if d.consumed == 0 {
                break;
            }
        }
    }
    Ok((body, dec.trailers().to_vec(), dec.is_done(), pos))
}

const VALID_CHUNKED: &[&[u8]] = &[
    b"5\r\nhello\r\n0\r\n\r\n",
    b"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nExpires: never\r\nX-Sum: 12\r\n\r\n",
    b"1 \nx\n0\n\n",
    b"000\r\n\r\n",
];

#[test]
fn chunked_table() {
    let (body, trailers, done, used) = dechunk(VALID_CHUNKED[1], 1).expect("valid");
    assert_eq!(body, b"abc0123456789");
    assert_eq!(trailers, b"Expires: never\r\nX-Sum: 12\r\n");
    assert!(done);
    assert_eq!(used, VALID_CHUNKED[1].len());

    let (body, _, done, used) =
        dechunk(b"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1", 64).expect("valid");
    assert_eq!((body.as_slice(), done, used), (&b"hello"[..], true, 15));

    assert_eq!(dechunk(b"zz\r\n", 4).unwrap_err(), ChunkError::InvalidSize);
    assert_eq!(
        dechunk(b"5\r\nhelloXX", 64).unwrap_err(),
        ChunkError::MissingCrlf
    );
    assert_eq!(
        dechunk(b"11111111111111111\r\n", 64).unwrap_err(),
        ChunkError::SizeOverflow
    );
    assert_eq!(dechunk(b"5\rX", 64).unwrap_err(), ChunkError::MissingCrlf);
    let long_ext = [b"1;".as_slice(), &[b'a'; 2000]].concat();
    assert_eq!(dechunk(&long_ext, 64).unwrap_err(), ChunkError::LineTooLong);
    let long_trailer = [b"0\r\n".as_slice(), &[b'a'; 2000]].concat();
    assert_eq!(
        dechunk(&long_trailer, 64).unwrap_err(),
        ChunkError::TrailersTooLarge
    );
}

#[test]
fn every_prefix_of_a_valid_chunked_body_is_partial() {
    for input in VALID_CHUNKED {
        for n in 0..input.len() {
            for step in [1, 3, 64] {
                let (_, _, done, _) =
                    dechunk(&input[..n], step).expect("prefix must not be an error");
                assert!(
                    !done,
                    "prefix {n} of {:?} is done",
                    String::from_utf8_lossy(input)
                );
            }
        }
        let (_, _, done, used) = dechunk(input, 7).expect("valid");
        assert!(done);
        assert_eq!(used, input.len());
    }
}

#[test]
fn chunked_gap_inside_data_keeps_framing() {
    let mut dec = ChunkedDecoder::new(64);
    let d = dec.feed(b"a\r\n01").expect("ok");
    assert_eq!(d.data, Some(3..5));
    assert_eq!(dec.skip_lost(5), 5);
    assert_eq!(dec.skip_lost(10), 3);
    let d = dec.feed(b"\r\n0\r\n\r\n").expect("ok");
    assert_eq!(d.consumed, 7);
    assert!(dec.is_done());
    assert_eq!(dec.skip_lost(1), 0);
}

fn hdrs<'a>(pairs: &[(&'a str, &'a [u8])]) -> Vec<Header<'a>> {
    pairs
        .iter()
        .map(|(n, v)| Header { name: n, value: v })
        .collect()
}

#[test]
fn content_length_table() {
    let cases: &[(Fields<'_>, ContentLength)] = &[
        (&[], ContentLength::Absent),
        (&[("Content-Length", b"42")], ContentLength::Valid(42)),
        (&[("content-length", b" 7 ")], ContentLength::Valid(7)),
        (&[("Content-Length", b"5, 5")], ContentLength::Valid(5)),
        (
            &[("Content-Length", b"5"), ("Content-Length", b"5")],
            ContentLength::Valid(5),
        ),
        (
            &[("Content-Length", b"5"), ("Content-Length", b"6")],
            ContentLength::Conflicting,
        ),
        (&[("Content-Length", b"-1")], ContentLength::Invalid),
        (&[("Content-Length", b"+1")], ContentLength::Invalid),
        (&[("Content-Length", b"")], ContentLength::Invalid),
        (&[("Content-Length", b"0x10")], ContentLength::Invalid),
        (
            &[("Content-Length", b"99999999999999999999999")],
            ContentLength::Invalid,
        ),
    ];
    for (h, want) in cases {
        assert_eq!(content_length(&hdrs(h)), *want, "{h:?}");
    }
}

#[test]
fn framing_table() {
    use BodyFraming::*;
    let te = ("Transfer-Encoding", b"chunked".as_slice());
    let cl = ("Content-Length", b"10".as_slice());
    assert_eq!(request_framing(&hdrs(&[])), (Empty, None));
    assert_eq!(request_framing(&hdrs(&[cl])), (Length(10), None));
    assert_eq!(request_framing(&hdrs(&[te])), (Chunked, None));
    assert_eq!(
        request_framing(&hdrs(&[cl, te])),
        (Chunked, Some(HttpAnomaly::TransferEncodingAndContentLength))
    );
    assert_eq!(
        request_framing(&hdrs(&[("Transfer-Encoding", b"chunked, gzip")])),
        (Invalid, Some(HttpAnomaly::InvalidTransferEncoding))
    );
    assert_eq!(
        request_framing(&hdrs(&[("Transfer-Encoding", b"gzip, Chunked")])),
        (Chunked, None)
    );
    assert_eq!(
        request_framing(&hdrs(&[("Content-Length", b"1,2")])),
        (Invalid, Some(HttpAnomaly::ConflictingContentLength))
    );
    assert_eq!(response_framing(200, false, &hdrs(&[])), (UntilClose, None));
    assert_eq!(response_framing(200, true, &hdrs(&[cl])), (Empty, None));
    for s in [100, 204, 304] {
        assert_eq!(response_framing(s, false, &hdrs(&[cl])), (Empty, None));
    }
    assert_eq!(
        response_framing(200, false, &hdrs(&[("Transfer-Encoding", b"gzip")])),
        (UntilClose, None)
    );
    assert_eq!(
        response_framing(200, false, &hdrs(&[("Content-Length", b"abc")])),
        (Invalid, Some(HttpAnomaly::InvalidContentLength))
    );
}

#[test]
fn probe_table() {
    use StartLine::*;
    let cases: &[(&[u8], bool, StartLine, Probe)] = &[
        (b"GET / HTTP/1.1\r\n", true, Request, Probe::Found(0)),
        (b"GET / HTTP/1.1\r\n", false, Request, Probe::NotFound),
        (
            b"junk\r\nGET /x HTTP/1.0\r\nHost: a",
            false,
            Request,
            Probe::Found(6),
        ),
        (b"junk\nPOST /x HT", false, Request, Probe::Incomplete(5)),
        (
            b"junk\nget /x HTTP/1.1\r\n",
            false,
            Request,
            Probe::NotFound,
        ),
        (
            b"a\nGET /x HTTP/3.0\r\nHTTP/1.1 200 OK\r\n",
            false,
            Request,
            Probe::NotFound,
        ),
        (b"xx\nHTTP/1.1 200 OK\r\n", false, Status, Probe::Found(3)),
        (b"xx\nHTTP/1.1 20", false, Status, Probe::Incomplete(3)),
        (b"HTTP/1.1 2000\r\n", true, Status, Probe::NotFound),
        (b"body\n", false, Status, Probe::NotFound),
    ];
    for (buf, start, kind, want) in cases {
        assert_eq!(
            probe(buf, *start, *kind, 1024),
            *want,
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
    // A candidate longer than the line limit is dropped.
    let long = [b"GET /".as_slice(), &[b'a'; 100]].concat();
    assert_eq!(probe(&long, true, Request, 50), Probe::NotFound);
}

#[test]
fn orientation_hints() {
    assert!(looks_like_status_line(b"HTTP/1.1 200 OK\r\n"));
    assert!(!looks_like_status_line(b"GET / HTTP/1.1\r\n"));
    assert!(looks_like_request_line(b"GET / HTTP/1.1\r\n"));
    assert!(looks_like_request_line(b"POST /x"));
    assert!(!looks_like_request_line(b"POST"));
    assert!(!looks_like_request_line(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn status_line_salvage() {
    assert_eq!(
        status_line(b"HTTP/1.1 431 Too Large\r\nX"),
        Line::Complete(StatusLine {
            version_minor: 1,
            status: 431,
            reason: b"Too Large",
            len: 24
        })
    );
    assert_eq!(status_line(b"HTTP/1.1 200 OK"), Line::Partial);
    assert!(matches!(
        request_line(b"GET /a HTTP/1.0\r\n"),
        Line::Complete(RequestLine { len: 17, .. })
    ));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parsers_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..300), start in any::<bool>()) {
            let _ = req(&buf);
            let _ = resp(&buf);
            let _ = probe(&buf, start, StartLine::Request, 64);
            let _ = probe(&buf, start, StartLine::Status, 64);
            let _ = status_line(&buf);
            let _ = dechunk(&buf, 5);
        }
    }
}
