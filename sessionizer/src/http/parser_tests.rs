use super::*;

/// Owned view of a parsed request head: method, target, minor version, HTTP/0.9, field count.
type Req = (String, String, u8, bool, usize);
/// Owned view of a parsed response head: status, reason, minor version, field count.
type Resp = (u16, String, u8, usize);
/// Header fields as (name, value) pairs.
type Fields<'a> = &'a [(&'a str, &'a [u8])];

fn req(buf: &[u8]) -> Parse<Req> {
    let mut st = header_storage();
    let mut spill = Vec::new();
    match parse_request_head(buf, &mut st[..32], &mut spill) {
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
            Parse::Complete {
                consumed: 34,
                head: ("GET".into(), "/a".into(), 1, false, 0),
            },
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

/// Owned view of a lenient parse: method, target, minor version, HTTP/0.9, fields (unfolded),
/// tolerated.
type Lenient = (String, String, u8, bool, Vec<(String, String)>, Tolerated);

fn lenient(buf: &[u8]) -> Parse<Lenient> {
    let mut st = header_storage();
    let mut spill = Vec::new();
    match parse_request_head(buf, &mut st[..32], &mut spill) {
        Parse::Complete { consumed, head } => Parse::Complete {
            consumed,
            head: (
                head.method.to_owned(),
                head.target.to_owned(),
                head.version_minor,
                head.http09,
                head.headers
                    .iter()
                    .map(|h| {
                        let v = String::from_utf8_lossy(&unfold(h.value)).into_owned();
                        (h.name.to_owned(), v)
                    })
                    .collect(),
                head.tolerated,
            ),
        },
        Parse::Partial => Parse::Partial,
        Parse::Error(e) => Parse::Error(e),
    }
}

const LINE: Tolerated = Tolerated {
    request_line: true,
    obs_fold: false,
    invalid_field_lines: false,
};
const FOLD: Tolerated = Tolerated {
    request_line: false,
    obs_fold: true,
    invalid_field_lines: false,
};
const JUNK: Tolerated = Tolerated {
    request_line: false,
    obs_fold: false,
    invalid_field_lines: true,
};
const STRICT: Tolerated = Tolerated {
    request_line: false,
    obs_fold: false,
    invalid_field_lines: false,
};

fn done(
    consumed: usize,
    method: &str,
    target: &str,
    minor: u8,
    http09: bool,
    fields: &[(&str, &str)],
    t: Tolerated,
) -> Parse<Lenient> {
    Parse::Complete {
        consumed,
        head: (
            method.into(),
            target.into(),
            minor,
            http09,
            fields
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            t,
        ),
    }
}

/// Heads httparse rejects that servers (and Zeek) act on, each read as Zeek reads it.
#[test]
fn lenient_request_heads_table() {
    let both = Tolerated {
        request_line: true,
        invalid_field_lines: true,
        ..STRICT
    };
    let cases: &[(&[u8], Parse<Lenient>)] = &[
        // Empty target, one or two spaces (Zeek: uri "").
        (
            b"OPTIONS HTTP/1.1\r\nHost: www.google.com\r\n\r\n",
            done(
                42,
                "OPTIONS",
                "",
                1,
                false,
                &[("Host", "www.google.com")],
                LINE,
            ),
        ),
        (
            b"GET  HTTP/1.1\r\nHost: bro.org\r\n\r\n",
            done(32, "GET", "", 1, false, &[("Host", "bro.org")], LINE),
        ),
        // A target with a space: everything up to the last ` HTTP/`; a line that is not a
        // field is skipped.
        (
            b"CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\nMozilla 4.0 (compatible)\r\n\r\n",
            done(
                76,
                "CONNECT",
                "mailin03.sul.t-online.de:25 /",
                0,
                false,
                &[],
                both,
            ),
        ),
        // No version but a field line follows: a head with fields, version 1.0.
        (
            b"GET /HTTP/1.1\nHost: www.google.com\n\n",
            done(
                36,
                "GET",
                "/HTTP/1.1",
                0,
                false,
                &[("Host", "www.google.com")],
                LINE,
            ),
        ),
        // A version cut short, or followed by crud.
        (
            b"GET / HTTP/1.\nHost: a\n\n",
            done(23, "GET", "/", 0, false, &[("Host", "a")], LINE),
        ),
        (
            b"GET /x HTTP/1.1 extra\r\n\r\n",
            done(25, "GET", "/x", 1, false, &[], LINE),
        ),
        // obs-fold, unfolded (RFC 9112 section 5.2); the request line itself is strict.
        (
            b"POST / HTTP/1.1\r\nHost: target\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
            done(
                63,
                "POST",
                "/",
                1,
                false,
                &[("Host", "target"), ("Transfer-Encoding", "chunked")],
                FOLD,
            ),
        ),
        (
            b"GET / HTTP/1.1\r\nA: x\r\n  y\r\n\tz\r\nB: 1\r\n\r\n",
            done(
                39,
                "GET",
                "/",
                1,
                false,
                &[("A", "x y z"), ("B", "1")],
                FOLD,
            ),
        ),
        // Whitespace before the first field: consumed without processing (RFC 9112 2.2).
        (
            b"GET / HTTP/1.1\r\n junk\r\nHost: a\r\n\r\n",
            done(34, "GET", "/", 1, false, &[("Host", "a")], JUNK),
        ),
        // HTTP/0.9: nothing, or an empty line, after a version-less line.
        (b"GET /x\r\n", done(8, "GET", "/x", 0, true, &[], STRICT)),
        (
            b"GET /x\r\n\r\n",
            done(8, "GET", "/x", 0, true, &[], STRICT),
        ),
        (
            b"GET /x\r\nnot a field\r\n",
            done(8, "GET", "/x", 0, true, &[], STRICT),
        ),
        // Still waiting.
        (b"CONNECT a:25 / HTTP/1.0\r\n", Parse::Partial),
        (b"CONNECT a:25 / HTTP/1.0\r\nX: y", Parse::Partial),
        (b"GET /HTTP/1.1\r\nHo", Parse::Partial),
        (b"GET /HTTP/1.1\r\nHost: a\r\n", Parse::Partial),
        // Not requests: a one-letter or lower-case version-less method, no target, no space
        // after the method, binary, control bytes, HTTP/2, ambiguous framing fields.
        (b"T /zeek.html\n", Parse::Error(HeadError::Malformed)),
        // HTTP/0.9 is `GET /path` only (issue 21: an SMTP EHLO was read as a request).
        (
            b"EHLO mail.example.test\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (b"POST /x\r\n", Parse::Error(HeadError::Malformed)),
        (b"GET x\r\n", Parse::Error(HeadError::Malformed)),
        (b"get /x\r\n", Parse::Error(HeadError::Malformed)),
        (b"GET \n", Parse::Error(HeadError::Malformed)),
        (b"GET/ HTTP/1.1\r\n\r\n", Parse::Error(HeadError::Malformed)),
        (
            b"OPTIONS\r\nHost: a\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (
            b"\xc3\x83\xc3\x82 / HTTP/1.\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (
            b"GET /a\x00b HTTP/1.1\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (b"GET /a\x01", Parse::Error(HeadError::Malformed)),
        (
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length\t: 5\r\n\r\n",
            Parse::Error(HeadError::Malformed),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            &lenient(input),
            want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

/// Heads with a version that only the lenient parser completes.
const LENIENT_REQUESTS: &[&[u8]] = &[
    b"OPTIONS HTTP/1.1\r\nHost: www.google.com\r\n\r\n",
    b"GET  HTTP/1.1\r\n123User-Agent: Wget\r\nHost: bro.org\r\n\r\n",
    b"CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\nMozilla 4.0 (compatible)\r\n\r\n",
    b"GET / HTTP/1.\nHost: a\n\n",
    b"POST / HTTP/1.1\r\nHost: target\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
];

#[test]
fn every_prefix_of_a_lenient_request_head_is_partial() {
    for input in LENIENT_REQUESTS {
        let full = match lenient(input) {
            Parse::Complete { consumed, .. } => consumed,
            other => panic!(
                "not complete: {other:?} for {:?}",
                String::from_utf8_lossy(input)
            ),
        };
        assert_eq!(full, input.len());
        for n in 0..full {
            assert_eq!(
                lenient(&input[..n]),
                Parse::Partial,
                "prefix {n} of {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

/// The one prefix the lenient parser completes: a version-less line that ends the buffer is
/// HTTP/0.9 (a real HTTP/0.9 client sends nothing after it); with the next line in the same
/// buffer it is a head with fields.
#[test]
fn versionless_line_is_http09_only_when_nothing_follows() {
    let full = b"GET /HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(
        lenient(&full[..15]),
        done(15, "GET", "/HTTP/1.1", 0, true, &[], STRICT)
    );
    assert_eq!(lenient(&full[..16]), Parse::Partial);
    assert_eq!(
        lenient(full),
        done(26, "GET", "/HTTP/1.1", 0, false, &[("Host", "a")], LINE)
    );
}

#[test]
fn unfold_replaces_each_fold_with_one_space() {
    assert_eq!(&*unfold(b"plain"), b"plain");
    assert!(matches!(unfold(b"plain"), std::borrow::Cow::Borrowed(_)));
    assert_eq!(&*unfold(b"a\r\n b\n\t\tc"), b"a b c");
    assert_eq!(&*unfold(b"\r\n chunked"), b" chunked");
}

#[test]
fn salvage_reads_lenient_lines_with_a_version() {
    assert!(matches!(
        salvage_request_line(b"GET /a HTTP/1.0\r\nBad"),
        Line::Complete((RequestLine { len: 17, .. }, false))
    ));
    assert!(matches!(
        salvage_request_line(b"CONNECT a:25 / HTTP/1.0\r\nX"),
        Line::Complete((
            RequestLine {
                method: b"CONNECT",
                target: b"a:25 /",
                version_minor: 0,
                len: 25,
            },
            true
        ))
    ));
    assert_eq!(salvage_request_line(b"GET /x\r\nHost: a"), Line::Invalid);
}

#[test]
fn too_many_headers_is_its_own_error() {
    for buf in [
        b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n".as_slice(),
        // The lenient parser keeps the same bound.
        b"GET  HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: 1\r\n folded\r\nB: 2\r\nC: 3\r\n\r\n",
    ] {
        let mut st = header_storage();
        let mut spill = Vec::new();
        assert!(
            matches!(
                parse_request_head(buf, &mut st[..2], &mut spill),
                Parse::Error(HeadError::TooManyHeaders)
            ),
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
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
        // Regression (faults test `pickup_inside_a_response_invents_nothing`): a JSON body
        // without a final newline runs straight into the next status line.
        (
            b"{\"ok\": 1}HTTP/1.1 200 OK\r\n",
            false,
            Status,
            Probe::Found(9),
        ),
        (b"{\"ok\": 1}HTT", false, Status, Probe::Incomplete(9)),
        (
            b"{\"ok\": 1}HTTP/1.1 2000\r\n",
            false,
            Status,
            Probe::NotFound,
        ),
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
            let _ = lenient(&buf);
            let _ = salvage_request_line(&buf);
            let _ = unfold(&buf);
            let _ = resp(&buf);
            let _ = probe(&buf, start, StartLine::Request, 64);
            let _ = probe(&buf, start, StartLine::Status, 64);
            let _ = status_line(&buf);
            let _ = dechunk(&buf, 5);
        }

        /// Heads built from the pieces the lenient parser looks at: it never panics, never
        /// consumes more than it was given, and a complete head stays complete (with the same
        /// length) when more bytes follow it, unless it is the HTTP/0.9 decision.
        #[test]
        fn lenient_heads_are_consistent(parts in proptest::collection::vec(0usize..14, 0..24)) {
            const PIECES: &[&[u8]] = &[
                b"GET", b"CONNECT", b" ", b"\t", b"/", b"HTTP/", b"1.", b"1", b"\r\n", b"\n",
                b"Host", b":", b"a b", b"\x00",
            ];
            let buf: Vec<u8> = parts.iter().flat_map(|&i| PIECES[i].iter().copied()).collect();
            if let Parse::Complete { consumed, head } = lenient(&buf) {
                prop_assert!(consumed <= buf.len());
                if !head.3 {
                    let mut more = buf.clone();
                    more.extend_from_slice(b"GET / HTTP/1.1\r\n");
                    let again = lenient(&more);
                    prop_assert!(
                        matches!(again, Parse::Complete { consumed: c, .. } if c == consumed),
                        "{:?} then {:?}", String::from_utf8_lossy(&buf), again
                    );
                }
            }
        }
    }
}

/// Regression (fuzz seed `regress-request-line-prefix-lone-cr`): a lone CR after empty lines
/// is the start of another CRLF, a prefix, not an error.
#[test]
fn lone_cr_before_a_request_line_is_partial() {
    assert_eq!(request_line(b"\r"), Line::Partial);
    assert_eq!(request_line(b"\r\n\r"), Line::Partial);
    assert!(matches!(
        request_line(b"\r\nT * HTTP/1.0\n"),
        Line::Complete(_)
    ));
}
