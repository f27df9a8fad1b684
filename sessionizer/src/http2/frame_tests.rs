//! Frame layer tests: one per frame type, the prefix rule, the errors, the probe.

use super::*;

/// A frame's bytes.
pub(crate) fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        length: payload.len() as u32,
        kind: FrameType::from_u8(kind),
        flags,
        stream_id,
        reserved_bit: false,
    };
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn parse(buf: &[u8]) -> Frame<'_> {
    match parse_frame(buf, DEFAULT_MAX_FRAME_BYTES) {
        Parse::Complete { consumed, value } => {
            assert_eq!(consumed, buf.len());
            value
        }
        other => panic!("not complete: {other:?}"),
    }
}

fn error(buf: &[u8]) -> FrameError {
    match parse_frame(buf, DEFAULT_MAX_FRAME_BYTES) {
        Parse::Error(e) => e,
        other => panic!("not an error: {other:?}"),
    }
}

#[test]
fn data_with_and_without_padding() {
    let f = frame(0, flags::END_STREAM, 1, b"hello");
    assert_eq!(
        parse(&f),
        Frame::Data {
            stream_id: 1,
            end_stream: true,
            data: b"hello"
        }
    );
    // Pad length 3, "hi", three octets of padding.
    let f = frame(0, flags::PADDED, 3, b"\x03hi\0\0\0");
    assert_eq!(
        parse(&f),
        Frame::Data {
            stream_id: 3,
            end_stream: false,
            data: b"hi"
        }
    );
    // Padding as long as the rest of the payload: all padding, no data, valid.
    let f = frame(0, flags::PADDED, 3, b"\x02\0\0");
    assert_eq!(
        parse(&f),
        Frame::Data {
            stream_id: 3,
            end_stream: false,
            data: b""
        }
    );
    // Padding longer than the payload.
    assert_eq!(
        error(&frame(0, flags::PADDED, 3, b"\x05ab")),
        FrameError::Padding
    );
    assert_eq!(
        error(&frame(0, 0, 0, b"x")),
        FrameError::StreamId {
            kind: FrameType::Data,
            stream_id: 0
        }
    );
}

#[test]
fn headers_with_padding_and_priority() {
    let f = frame(1, flags::END_HEADERS, 1, b"\x82\x86");
    assert_eq!(
        parse(&f),
        Frame::Headers {
            stream_id: 1,
            end_stream: false,
            end_headers: true,
            priority: None,
            fragment: b"\x82\x86"
        }
    );
    let f = frame(
        1,
        flags::PADDED | flags::PRIORITY | flags::END_STREAM,
        5,
        b"\x01\x80\0\0\x03\x0f\x82\0",
    );
    assert_eq!(
        parse(&f),
        Frame::Headers {
            stream_id: 5,
            end_stream: true,
            end_headers: false,
            priority: Some(Priority {
                exclusive: true,
                depends_on: 3,
                weight: 15
            }),
            fragment: b"\x82",
        }
    );
    // PRIORITY flag without room for the dependency.
    assert!(matches!(
        error(&frame(1, flags::PRIORITY, 1, b"\0\0")),
        FrameError::Length { .. }
    ));
}

#[test]
fn continuation_priority_rst_and_window_update() {
    assert_eq!(
        parse(&frame(9, flags::END_HEADERS, 1, b"\x84")),
        Frame::Continuation {
            stream_id: 1,
            end_headers: true,
            fragment: b"\x84"
        }
    );
    assert_eq!(
        parse(&frame(2, 0, 3, b"\0\0\0\x01\x10")),
        Frame::Priority {
            stream_id: 3,
            priority: Priority {
                exclusive: false,
                depends_on: 1,
                weight: 16
            }
        }
    );
    assert_eq!(
        parse(&frame(3, 0, 3, b"\0\0\0\x08")),
        Frame::RstStream {
            stream_id: 3,
            error_code: 8
        }
    );
    assert_eq!(
        parse(&frame(8, 0, 0, b"\x80\0\x01\0")),
        Frame::WindowUpdate {
            stream_id: 0,
            increment: 256
        }
    );
    assert!(matches!(
        error(&frame(3, 0, 3, b"\0\0\0")),
        FrameError::Length { .. }
    ));
    assert!(matches!(
        error(&frame(2, 0, 3, b"\0")),
        FrameError::Length { .. }
    ));
}

#[test]
fn settings_ping_goaway_push_promise() {
    let f = frame(4, 0, 0, b"\0\x01\0\0\x10\0\0\x05\0\0\x40\0");
    let Frame::Settings { ack: false, params } = parse(&f) else {
        panic!("settings")
    };
    assert_eq!(
        params.collect::<Vec<_>>(),
        [
            Setting {
                id: setting::HEADER_TABLE_SIZE,
                value: 4096
            },
            Setting {
                id: setting::MAX_FRAME_SIZE,
                value: 16384
            }
        ]
    );
    assert!(matches!(
        parse(&frame(4, flags::ACK, 0, b"")),
        Frame::Settings { ack: true, .. }
    ));
    assert!(matches!(
        error(&frame(4, flags::ACK, 0, b"\0\x01\0\0\x10\0")),
        FrameError::Length { .. }
    ));
    assert!(matches!(
        error(&frame(4, 0, 0, b"\0\x01\0")),
        FrameError::Length { .. }
    ));
    assert!(matches!(
        error(&frame(4, 0, 1, b"")),
        FrameError::StreamId { .. }
    ));
    assert_eq!(
        parse(&frame(6, flags::ACK, 0, b"12345678")),
        Frame::Ping {
            ack: true,
            opaque: *b"12345678"
        }
    );
    assert_eq!(
        parse(&frame(7, 0, 0, b"\0\0\0\x05\0\0\0\x02bye")),
        Frame::GoAway {
            last_stream_id: 5,
            error_code: 2,
            debug: b"bye"
        }
    );
    assert_eq!(
        parse(&frame(5, flags::END_HEADERS, 1, b"\0\0\0\x02\x82")),
        Frame::PushPromise {
            stream_id: 1,
            promised_stream_id: 2,
            end_headers: true,
            fragment: b"\x82"
        }
    );
}

#[test]
fn unknown_types_are_skipped_whole() {
    let f = frame(0x42, 0xff, 7, b"whatever");
    assert!(matches!(parse(&f), Frame::Unknown { header } if header.length == 8));
}

#[test]
fn a_frame_over_the_maximum_size_is_an_error_from_its_header() {
    let mut f = frame(0, 0, 1, &[]);
    f[1] = 0x40;
    f[2] = 0x01; // 16385 bytes
    assert_eq!(
        parse_frame(&f, DEFAULT_MAX_FRAME_BYTES),
        Parse::Error(FrameError::TooLarge {
            length: 16385,
            max: 16384
        })
    );
}

/// Every frame type, valid, for the prefix and probe tests.
fn valid_frames() -> Vec<Vec<u8>> {
    vec![
        frame(0, flags::PADDED | flags::END_STREAM, 1, b"\x02data\0\0"),
        frame(
            1,
            flags::END_HEADERS | flags::PRIORITY,
            1,
            b"\0\0\0\0\x10\x82",
        ),
        frame(2, 0, 3, b"\0\0\0\x01\x10"),
        frame(3, 0, 3, b"\0\0\0\x08"),
        frame(4, 0, 0, b"\0\x03\0\0\0\x64"),
        frame(5, flags::END_HEADERS, 1, b"\0\0\0\x02\x82"),
        frame(6, 0, 0, b"12345678"),
        frame(7, 0, 0, b"\0\0\0\x05\0\0\0\0"),
        frame(8, 0, 1, b"\0\0\x10\0"),
        frame(9, flags::END_HEADERS, 1, b"\x84"),
    ]
}

#[test]
fn every_prefix_of_a_valid_frame_is_partial_with_the_right_need() {
    for f in valid_frames() {
        for cut in 0..f.len() {
            let got = parse_frame(&f[..cut], DEFAULT_MAX_FRAME_BYTES);
            let needed = if cut < FRAME_HEADER_BYTES {
                FRAME_HEADER_BYTES - cut
            } else {
                f.len() - cut
            };
            assert_eq!(
                got,
                Parse::Partial { needed },
                "frame {:?} cut at {cut}",
                &f[..9]
            );
        }
    }
}

#[test]
fn the_probe_confirms_a_frame_by_the_segment_end_or_the_next_header() {
    let frames = valid_frames();
    let two = [frames[1].clone(), frames[0].clone()].concat();
    assert_eq!(
        probe(&frames[0], DEFAULT_MAX_FRAME_BYTES),
        Probe::Frame,
        "ends at the segment end"
    );
    assert_eq!(
        probe(&two, DEFAULT_MAX_FRAME_BYTES),
        Probe::Frame,
        "next header valid"
    );
    assert_eq!(
        probe(&two[..frames[1].len() + 4], DEFAULT_MAX_FRAME_BYTES),
        Probe::NeedMore
    );
    assert_eq!(probe(&two[..5], DEFAULT_MAX_FRAME_BYTES), Probe::NeedMore);
    let mut garbage_after = frames[1].clone();
    garbage_after.extend_from_slice(b"GET / HTTP/1.1\r\n");
    assert_eq!(probe(&garbage_after, DEFAULT_MAX_FRAME_BYTES), Probe::No);
    assert_eq!(
        probe(b"HTTP/1.1 200 OK\r\n", DEFAULT_MAX_FRAME_BYTES),
        Probe::No
    );
    // Strict where parsing is lenient: undefined flags and the reserved bit.
    let mut odd_flags = frames[3].clone();
    odd_flags[4] = 0x01;
    assert_eq!(probe(&odd_flags, DEFAULT_MAX_FRAME_BYTES), Probe::No);
    let mut reserved = frames[0].clone();
    reserved[5] |= 0x80;
    assert_eq!(probe(&reserved, DEFAULT_MAX_FRAME_BYTES), Probe::No);
    for f in &frames {
        assert_eq!(
            probe(f, DEFAULT_MAX_FRAME_BYTES),
            Probe::Frame,
            "{:?}",
            &f[..9]
        );
    }
    // Zero bytes are not empty DATA frames; an empty SETTINGS or a DATA ending a stream are.
    assert_eq!(probe(&[0; 40], DEFAULT_MAX_FRAME_BYTES), Probe::No);
    assert_eq!(
        probe(&[0, 0, 0, 0, 0, 0, 0, 0, 5], DEFAULT_MAX_FRAME_BYTES),
        Probe::No
    );
    assert_eq!(
        probe(
            &frame(0, flags::END_STREAM, 5, b""),
            DEFAULT_MAX_FRAME_BYTES
        ),
        Probe::Frame
    );
    assert_eq!(
        probe(&frame(4, flags::ACK, 0, b""), DEFAULT_MAX_FRAME_BYTES),
        Probe::Frame
    );
}

#[test]
fn the_client_preface_is_recognised_and_its_prefixes_wait() {
    assert_eq!(preface(CLIENT_PREFACE), Probe::Frame);
    assert_eq!(preface(b"PRI * HTTP/2"), Probe::NeedMore);
    assert_eq!(preface(b"GET / HTTP/1.1\r\n"), Probe::No);
    assert!(looks_like_http2(
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04",
        DEFAULT_MAX_FRAME_BYTES
    ));
    assert!(looks_like_http2(
        &valid_frames()[4],
        DEFAULT_MAX_FRAME_BYTES
    ));
    assert!(!looks_like_http2(
        b"GET / HTTP/1.1\r\n",
        DEFAULT_MAX_FRAME_BYTES
    ));
    assert!(!looks_like_http2(b"", DEFAULT_MAX_FRAME_BYTES));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(proptest::num::u8::ANY, 0..64), max in 0u32..20_000) {
        let _ = parse_frame(&buf, max);
        let _ = probe(&buf, max);
    }

    /// A frame header written and read back is the same header.
    #[test]
    fn headers_round_trip(length in 0u32..MAX_FRAME_BYTES_LIMIT, kind: u8, flags: u8, stream_id in 0u32..0x8000_0000, reserved_bit: bool) {
        let h = FrameHeader { length, kind: FrameType::from_u8(kind), flags, stream_id, reserved_bit };
        proptest::prop_assert_eq!(FrameHeader::read(&h.to_bytes()), Some(h));
    }
}
