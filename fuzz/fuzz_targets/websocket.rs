//! The WebSocket connection state (`apitap_sessionizer::websocket::WebSocketConnection`): frames
//! of both directions after an upgrade, gaps, sampling limits.
//!
//! Input: permessage-deflate negotiated or not, the sampling limits (small), then operations:
//! client bytes, server bytes, or a gap on one side.
//!
//! Checks: no panic; samples stay within their count and byte limits; feeding every data
//! operation byte by byte gives the same summary as feeding it at once.
#![no_main]

use apitap_fuzz::Payload;
use apitap_reassembly::Side;
use apitap_sessionizer::websocket::{WebSocketConfig, WebSocketConnection, WebSocketSummary};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Client(Payload),
    Server(Payload),
    Gap { server: bool, len: u16 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    deflate: bool,
    max_samples: u8,
    max_sample_bytes: u8,
    ops: Vec<Op>,
}

fn run(input: &Input, cfg: &WebSocketConfig, bytewise: bool) -> WebSocketSummary {
    let mut ws = WebSocketConnection::new(cfg, input.deflate);
    for (i, op) in input.ops.iter().enumerate() {
        let ts = i as u64;
        let (side, data) = match op {
            Op::Client(p) => (Side::Client, &p.0),
            Op::Server(p) => (Side::Server, &p.0),
            Op::Gap { server, len } => {
                let side = if *server { Side::Server } else { Side::Client };
                ws.on_gap(ts, side, u64::from(*len));
                continue;
            }
        };
        if bytewise {
            for b in data.chunks(1) {
                ws.on_data(ts, side, b);
            }
        } else {
            ws.on_data(ts, side, data);
        }
    }
    ws.close(input.ops.len() as u64)
}

fuzz_target!(|input: Input| {
    let cfg = WebSocketConfig {
        // Small enough that a fuzzed length reaches it.
        max_frame_payload_bytes: 1 << 16,
        max_sampled_messages: usize::from(input.max_samples % 8),
        max_sample_bytes: usize::from(input.max_sample_bytes).max(1),
    };
    let whole = run(&input, &cfg, false);
    assert!(whole.samples.len() <= cfg.max_sampled_messages);
    for s in &whole.samples {
        assert!(s.text.len() <= cfg.max_sample_bytes);
    }
    assert_eq!(run(&input, &cfg, true), whole, "byte-by-byte feeding differs");
});
