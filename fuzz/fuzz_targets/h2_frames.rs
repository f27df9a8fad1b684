//! The HTTP/2 frame layer (`apitap_sessionizer::http2::frame`) and the per-connection state
//! (`http2::connection`) on raw bytes.
//!
//! The first byte picks the entry (prior knowledge, late join) and where the bytes are split
//! between the two directions; the rest is fed as client then server bytes, with a gap when
//! the second byte asks for one.
//!
//! Checks: no panic; `parse_frame` consumes no more than it was given and every prefix of a
//! complete frame is partial; a frame `probe` confirms parses without error at the header;
//! the connection never holds more streams than its bound, and, while the reader stays in
//! sync (no resynchronisation in either run), feeding the same bytes in one piece or byte by
//! byte gives the same exchanges. A resync may differ by design: a candidate frame that ends
//! exactly where the segment ends is taken as confirmed (`frame::probe`), so where segments
//! end matters there.
#![no_main]

use apitap_reassembly::Side;
use apitap_sessionizer::http2::frame::{self, Parse, Probe, DEFAULT_MAX_FRAME_BYTES};
use apitap_sessionizer::http2::{Ctx, H2Connection, H2Exchange, Http2Config, Http2Stats};
use libfuzzer_sys::fuzz_target;

fn frames(data: &[u8]) {
    let mut rest = data;
    while let Parse::Complete { consumed, .. } = frame::parse_frame(rest, DEFAULT_MAX_FRAME_BYTES) {
        assert!(consumed >= frame::FRAME_HEADER_BYTES && consumed <= rest.len());
        for cut in [0, consumed / 2, consumed - 1] {
            assert!(
                matches!(frame::parse_frame(&rest[..cut], DEFAULT_MAX_FRAME_BYTES), Parse::Partial { .. }),
                "a prefix of a frame is partial"
            );
        }
        rest = &rest[consumed..];
    }
    if frame::probe(data, DEFAULT_MAX_FRAME_BYTES) == Probe::Frame {
        let header = frame::FrameHeader::read(data).expect("a probed frame has a header");
        assert!(header.check(DEFAULT_MAX_FRAME_BYTES).is_ok());
    }
}

fn run(late: bool, client: &[u8], server: &[u8], gap: bool, byte_by_byte: bool) -> (Vec<H2Exchange>, Http2Stats) {
    let cfg = Http2Config { max_concurrent_streams: 4, max_header_list_bytes: 512, max_body_capture_bytes: 64, ..Http2Config::default() };
    let mut c = if late { H2Connection::mid_stream(&cfg) } else { H2Connection::prior_knowledge(&cfg) };
    let mut stats = Http2Stats::default();
    let mut out = Vec::new();
    let mut cx = Ctx { cfg: &cfg, stats: &mut stats, out: &mut out };
    for (side, bytes) in [(Side::Client, client), (Side::Server, server)] {
        if byte_by_byte {
            for b in bytes.chunks(1) {
                c.on_data(1, side, b, &mut cx);
            }
        } else {
            c.on_data(1, side, bytes, &mut cx);
        }
        if gap {
            c.on_gap(1, side, 3, &mut cx);
        }
        assert!(c.open_streams() <= cfg.max_concurrent_streams);
    }
    c.close(2, &mut cx);
    (out, stats)
}

fuzz_target!(|data: &[u8]| {
    frames(data);
    let Some((&ctl, rest)) = data.split_first() else { return };
    let gap = rest.first().is_some_and(|b| b & 1 == 1);
    let split = (usize::from(ctl >> 1) * rest.len() / 128).min(rest.len());
    let (client, server) = rest.split_at(split);
    let late = ctl & 1 == 1;
    let (whole, whole_stats) = run(late, client, server, gap, false);
    let (pieces, pieces_stats) = run(late, client, server, gap, true);
    if whole_stats.resyncs + pieces_stats.resyncs + whole_stats.desyncs + pieces_stats.desyncs == 0 {
        assert_eq!(whole, pieces, "in sync, splitting the bytes changes nothing");
    }
});
