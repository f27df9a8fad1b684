//! Per-connection HTTP/2 state: two directions, each a frame reader with its own HPACK
//! decoder, and the table of open streams they feed.
//!
//! Policies (tests in `connection_tests.rs` pin each one):
//! - **Entry**: [`H2Connection::prior_knowledge`] expects the client preface first;
//!   [`H2Connection::after_upgrade`] starts after an HTTP/1.1 `Upgrade: h2c` 101, with stream
//!   1 already holding the upgrade request (RFC 9113 section 3.2 of RFC 7540); the client sends
//!   the preface, the server its SETTINGS and stream 1's response. [`H2Connection::mid_stream`]
//!   starts both directions looking for a frame boundary, with HPACK state unknown.
//! - **Frames**: the length field is trusted while in sync. A frame that breaks RFC 9113
//!   rules is skipped whole (`frame_error` on its stream); DATA is streamed (never buffered);
//!   other payloads are kept only as far as they are read (SETTINGS, GOAWAY without its debug
//!   data, header block fragments up to `max_header_list_bytes`).
//! - **Header blocks**: HEADERS or PUSH_PROMISE and their CONTINUATIONs are joined, then
//!   decoded by the sending direction's HPACK decoder, which every block goes through so the
//!   table stays in step. A block that cannot be decoded (too large, cut by a gap, a frame
//!   between its fragments) is lost, and with it the direction's HPACK state.
//! - **Streams**: a client HEADERS opens a stream; frames of a stream never opened open it too
//!   when its id is above the highest seen (a late join: `request_not_seen`), and are dropped
//!   (counted) when it is below (the stream is closed). At most `max_concurrent_streams` are
//!   open; a new one evicts the oldest (`stream_limit`), emitted as it stands.
//! - **Ends**: a stream is emitted when both sides sent END_STREAM (or the request was never
//!   seen and the response ended), at RST_STREAM, when a GOAWAY says it was never processed,
//!   or at close (`incomplete_*` for a side that did not end).
//! - **Gaps**: inside a DATA frame the lost bytes are counted into the body and framing goes
//!   on; inside another frame that frame is dropped and framing goes on; anywhere else the
//!   direction desynchronises: its HPACK state is forgotten, every open stream is marked, and
//!   [`frame::probe`] looks for the next frame header.
//! - **Segmentation**: in sync, where the bytes are cut changes nothing (a proptest and the
//!   `h2_frames` fuzz target check it). Resynchronising is the one exception, by design: a
//!   candidate frame that ends exactly where a segment ends is taken as confirmed, because
//!   senders write whole frames and waiting for the next header would hold a lone request
//!   back until after its response.

use std::collections::{BTreeMap, VecDeque};
use std::mem;

use apitap_reassembly::Side;

use super::exchange::{H2Exchange, H2Request, H2Response, Reset, MAX_INTERIM_RESPONSES};
use super::frame::{
    self, flags, setting, Frame, FrameHeader, FrameType, Probe, CLIENT_PREFACE,
    DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, MAX_FRAME_BYTES_LIMIT, SETTING_BYTES,
};
use super::grpc::{self, GrpcCall, MessageFramer};
use super::hpack::{Decoder, Field, ENTRY_OVERHEAD_BYTES};
use super::{H2Anomaly, Http2Config, Http2Stats};
use crate::http::Headers;

/// Where one connection's output goes: the stage's config, counters and finished exchanges.
pub struct Ctx<'a> {
    /// Limits.
    pub cfg: &'a Http2Config,
    /// Counters.
    pub stats: &'a mut Http2Stats,
    /// Finished exchanges, in completion order.
    pub out: &'a mut Vec<H2Exchange>,
}

/// SETTINGS bytes kept: 64 parameters, ten times what RFC 9113 section 6.5.2 defines.
const MAX_SETTINGS_KEPT_BYTES: usize = 64 * SETTING_BYTES;
/// GOAWAY bytes kept: last stream id and error code (RFC 9113 section 6.8); the debug data
/// is skipped.
const GOAWAY_KEPT_BYTES: usize = 8;
/// Largest frame a resynchronising direction waits for to confirm a frame header: frames
/// above it are not taken as resync points (the next one is).
const MAX_RESYNC_FRAME_BYTES: u32 = 64 * 1024;
/// Steps in a row that may consume no byte (each changes state) before the reader is
/// declared stuck (a bug guard, counted).
const MAX_IDLE_STEPS: usize = 8;

/// What a direction is reading.
#[derive(Debug)]
enum Read {
    /// The client preface, `matched` bytes of it so far.
    Preface { matched: usize },
    /// A frame header (`Direction::hdr`).
    Header,
    /// A non-DATA payload: the first `keep` bytes go to `Direction::payload`, `left` bytes
    /// remain; `damaged` when bytes were lost or the header broke the rules.
    Payload {
        header: FrameHeader,
        keep: usize,
        left: u64,
        damaged: Option<H2Anomaly>,
    },
    /// The pad length octet of a padded DATA frame.
    DataPad { header: FrameHeader },
    /// A DATA payload: `data_left` bytes of data, then `pad_left` of padding; `closed` when
    /// the stream is closed already (the bytes are only counted).
    Data {
        stream_id: u32,
        end_stream: bool,
        data_left: u64,
        pad_left: u64,
        closed: bool,
    },
    /// Frame sync lost: looking for a frame header (`Direction::scan` holds a candidate).
    Desync,
}

/// What a header block is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    /// A HEADERS block (head or trailers).
    Headers { end_stream: bool },
    /// A PUSH_PROMISE block: the request of stream `promised` (0 when unknown).
    Promise { promised: u32 },
}

/// A header block being joined from HEADERS/PUSH_PROMISE and CONTINUATION frames.
#[derive(Debug)]
struct Block {
    stream_id: u32,
    kind: BlockKind,
    buf: Vec<u8>,
    /// Packet time of the first frame's first byte.
    ts_us: u64,
    /// Why the block is lost (its frames are skipped, its HPACK insertions unknown).
    lost: Option<H2Anomaly>,
}

/// One direction of the connection.
///
/// Invariant: `payload` is non-empty only in `Read::Payload` and holds at most its `keep`
/// bytes; `scan` is non-empty only in `Read::Desync` and holds less than the resync window;
/// `block` is `Some` only between a HEADERS/PUSH_PROMISE without END_HEADERS and its last
/// CONTINUATION, with `buf.len() <= max_header_list_bytes`.
#[derive(Debug)]
struct Direction {
    side: Side,
    read: Read,
    hdr: [u8; FRAME_HEADER_BYTES],
    hdr_len: usize,
    payload: Vec<u8>,
    /// Packet time of the first byte of the frame being read.
    frame_ts_us: u64,
    hpack: Decoder,
    block: Option<Block>,
    scan: Vec<u8>,
    /// Largest frame this direction may send, as its peer's SETTINGS said (for the probe).
    probe_max_frame_bytes: u32,
    /// Sync was just found again: a CONTINUATION without its HEADERS is expected, not an error.
    resynced: bool,
}

impl Direction {
    fn new(side: Side, read: Read, hpack: Decoder) -> Self {
        Direction {
            side,
            read,
            hdr: [0; FRAME_HEADER_BYTES],
            hdr_len: 0,
            payload: Vec::new(),
            frame_ts_us: 0,
            hpack,
            block: None,
            scan: Vec::new(),
            probe_max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            resynced: false,
        }
    }

    /// Heap bytes the direction holds: the frame being read, the header block being
    /// gathered, the HPACK decoder and the resync scan buffer.
    fn heap_bytes(&self) -> usize {
        self.payload.capacity()
            + self.scan.capacity()
            + self.hpack.heap_bytes()
            + self.block.as_ref().map_or(0, |b| b.buf.capacity())
    }

    fn gap_anomaly(&self) -> H2Anomaly {
        match self.side {
            Side::Client => H2Anomaly::GapInRequest,
            Side::Server => H2Anomaly::GapInResponse,
        }
    }
}

/// What an open stream's entry costs before its heads and bodies: the stream, its key and
/// a B-tree node's share (nodes hold up to 11 entries and two links each).
const STREAM_ENTRY_BYTES: usize = std::mem::size_of::<Stream>() + std::mem::size_of::<u32>() + 16;

/// One open stream.
#[derive(Debug)]
struct Stream {
    ex: H2Exchange,
    /// The request's (response's final) header block was seen: a later block is trailers.
    req_head: bool,
    resp_head: bool,
    /// gRPC message framing of each direction, when the exchange is a gRPC call.
    grpc: Option<GrpcFramers>,
}

/// The two directions' gRPC message counters; `request` is `None` when the call was only
/// recognised from its response (the request's DATA was not framed from its start).
#[derive(Debug, Default)]
struct GrpcFramers {
    request: Option<MessageFramer>,
    response: MessageFramer,
}

/// Which frame opened a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opener {
    /// The client's HEADERS: the normal start.
    RequestHeaders,
    /// A PUSH_PROMISE: the request is the promise.
    Promise,
    /// Anything else: the request head was not seen.
    Other,
}

/// A decoded header block, split into pseudo-headers and fields.
#[derive(Debug, Default)]
struct Decoded {
    method: Option<String>,
    scheme: Option<String>,
    authority: Option<String>,
    path: Option<String>,
    protocol: Option<String>,
    status: Option<String>,
    fields: Headers,
    /// Fields with an unknown part.
    unknown: u32,
    /// Header list size so far (RFC 9113 section 6.5.2).
    list_bytes: usize,
    /// Fields not kept because the list passed the bound.
    over_limit: u64,
    anomalies: Vec<H2Anomaly>,
}

impl Decoded {
    /// A block whose fields are lost, for `why`.
    fn lost(why: H2Anomaly) -> Self {
        Decoded {
            anomalies: vec![why],
            ..Decoded::default()
        }
    }

    /// True when every field of the block is known (pseudo-header checks then apply).
    fn whole(&self) -> bool {
        self.anomalies.is_empty() && self.unknown == 0
    }

    fn push(&mut self, f: Field<'_>, max_list_bytes: usize) {
        let (Some(name), Some(value)) = (f.name, f.value) else {
            self.unknown += 1;
            return;
        };
        self.list_bytes += name.len() + value.len() + ENTRY_OVERHEAD_BYTES;
        if self.list_bytes > max_list_bytes {
            self.over_limit += 1;
            return;
        }
        let slot = match name {
            b":method" => &mut self.method,
            b":scheme" => &mut self.scheme,
            b":authority" => &mut self.authority,
            b":path" => &mut self.path,
            b":protocol" => &mut self.protocol,
            b":status" => &mut self.status,
            _ => {
                self.fields
                    .push_bytes(&String::from_utf8_lossy(name), value);
                return;
            }
        };
        *slot = Some(String::from_utf8_lossy(value).into_owned());
    }

    fn content_type_is_grpc(&self) -> bool {
        self.fields.get("content-type").is_some_and(grpc::is_grpc)
    }
}

/// What a resync search found.
enum Found {
    /// A frame (or, `preface`, the client preface) starts at `at`.
    At { at: usize, preface: bool },
    /// Nothing yet; the bytes from `from` may start one.
    Wait { from: usize },
}

/// HTTP/2 state of one TCP connection.
///
/// Invariant: `streams` holds at most `max_concurrent_streams` streams, each with an id not
/// above the highest seen for its initiator (`last_client_stream` for odd ids,
/// `last_server_stream` for even ones); `closed_below_floor` holds at most
/// `max_concurrent_streams` ids.
#[derive(Debug)]
pub struct H2Connection {
    client: Direction,
    server: Direction,
    streams: BTreeMap<u32, Stream>,
    last_client_stream: u32,
    last_server_stream: u32,
    /// Joined late: streams below the first id seen of each initiator (`floors`, client
    /// then server) were opened before the capture, and their frames open them.
    late: bool,
    floors: [Option<u32>; 2],
    /// Streams below a floor already emitted (at most `max_concurrent_streams`), so their
    /// late frames do not open them again.
    closed_below_floor: VecDeque<u32>,
}

impl H2Connection {
    /// Heap bytes the connection holds, as allocated: both directions' buffers and HPACK
    /// tables, and every open stream (its entry, heads and stored bodies). Walks the open
    /// streams, at most `max_concurrent_streams`.
    pub fn heap_bytes(&self) -> usize {
        let streams: usize = self
            .streams
            .values()
            .map(|s| STREAM_ENTRY_BYTES + s.ex.heap_bytes())
            .sum();
        self.client.heap_bytes()
            + self.server.heap_bytes()
            + streams
            + self.closed_below_floor.capacity() * std::mem::size_of::<u32>()
    }

    fn with(cfg: &Http2Config, client_read: Read, server_read: Read, late: bool) -> Self {
        let limit = cfg.max_dynamic_table_bytes;
        let hpack = || {
            if late {
                Decoder::joined_late(limit)
            } else {
                Decoder::new(limit)
            }
        };
        H2Connection {
            client: Direction::new(Side::Client, client_read, hpack()),
            server: Direction::new(Side::Server, server_read, hpack()),
            streams: BTreeMap::new(),
            last_client_stream: 0,
            last_server_stream: 0,
            late,
            floors: [None, None],
            closed_below_floor: VecDeque::new(),
        }
    }

    /// A connection that starts with HTTP/2 (prior knowledge): the client's first bytes are
    /// the preface (RFC 9113 section 3.3).
    pub fn prior_knowledge(cfg: &Http2Config) -> Self {
        Self::with(cfg, Read::Preface { matched: 0 }, Read::Header, false)
    }

    /// A connection switched to HTTP/2 by a 101 answering `Upgrade: h2c` (RFC 7540 section
    /// 3.2): `request` is the HTTP/1.1 request, which is stream 1's (mark it `complete`; its
    /// `ts_us` is the HTTP/1 request's). The next client bytes are the preface, the next
    /// server bytes its SETTINGS and then stream 1's response.
    pub fn after_upgrade(cfg: &Http2Config, request: H2Request) -> Self {
        let mut c = Self::with(cfg, Read::Preface { matched: 0 }, Read::Header, false);
        let grpc = request
            .headers
            .get("content-type")
            .is_some_and(grpc::is_grpc)
            .then(GrpcFramers::default);
        let mut ex = H2Exchange::new(1);
        ex.request = Some(request);
        c.streams.insert(
            1,
            Stream {
                ex,
                req_head: true,
                resp_head: false,
                grpc,
            },
        );
        c.last_client_stream = 1;
        c
    }

    /// A connection joined after its start (or whose start was not HTTP/2-shaped): both
    /// directions look for a frame boundary, and the HPACK state is unknown.
    pub fn mid_stream(cfg: &Http2Config) -> Self {
        Self::with(cfg, Read::Desync, Read::Desync, true)
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Bytes this connection holds beyond its fixed size: buffered payloads and header
    /// blocks, resync candidates, HPACK tables (RFC 7541 sizes) and the open streams' stored
    /// fields and bodies. For a global memory budget; approximate (allocator slack and the
    /// per-stream fixed size are not counted).
    pub fn buffered_bytes(&self) -> usize {
        let direction = |d: &Direction| {
            d.payload.len()
                + d.scan.len()
                + d.block.as_ref().map_or(0, |b| b.buf.len())
                + d.hpack.table().size()
        };
        let streams: usize = self.streams.values().map(|st| exchange_bytes(&st.ex)).sum();
        direction(&self.client) + direction(&self.server) + streams
    }

    /// In-order bytes of one direction.
    pub fn on_data(&mut self, ts_us: u64, from: Side, data: &[u8], cx: &mut Ctx<'_>) {
        if !data.is_empty() {
            self.feed(from, ts_us, data, cx);
        }
    }

    /// `len` bytes of one direction were lost.
    pub fn on_gap(&mut self, ts_us: u64, from: Side, len: u64, cx: &mut Ctx<'_>) {
        cx.stats.gaps += 1;
        cx.stats.gap_bytes += len;
        if len > 0 {
            self.gap(from, ts_us, len, cx);
        }
    }

    /// The connection ended: every open stream is emitted, in stream id order.
    pub fn close(mut self, _ts_us: u64, cx: &mut Ctx<'_>) {
        for side in [Side::Client, Side::Server] {
            let d = self.dir_mut(side);
            cx.stats.desync_skipped_bytes += d.scan.len() as u64;
            if d.block.take().is_some() {
                cx.stats.hpack_state_resets += 1;
            }
        }
        for (_, mut st) in mem::take(&mut self.streams) {
            if st.ex.request.as_ref().is_some_and(|r| !r.complete) {
                note(&mut st.ex, H2Anomaly::IncompleteRequest, cx.stats);
            }
            if st.ex.response.as_ref().is_some_and(|r| !r.complete) {
                note(&mut st.ex, H2Anomaly::IncompleteResponse, cx.stats);
            }
            emit(st, cx);
        }
    }

    fn dir(&self, side: Side) -> &Direction {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    fn dir_mut(&mut self, side: Side) -> &mut Direction {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    // -----------------------------------------------------------------------------------------
    // The byte loop.

    fn feed(&mut self, side: Side, ts_us: u64, mut data: &[u8], cx: &mut Ctx<'_>) {
        // Invariant: every step consumes bytes or changes state (a preface mismatch enters
        // desync, which consumes everything). The guard turns a bug in that reasoning into
        // skipped, counted bytes instead of a hang.
        let mut idle_steps = 0;
        while !data.is_empty() {
            if idle_steps > MAX_IDLE_STEPS {
                debug_assert!(false, "HTTP/2 reader made no progress");
                cx.stats.desync_skipped_bytes += data.len() as u64;
                return;
            }
            let n = match self.dir(side).read {
                Read::Preface { .. } => self.step_preface(side, ts_us, data, cx),
                Read::Header => self.step_header(side, ts_us, data, cx),
                Read::Payload { .. } => self.step_payload(side, ts_us, data, cx),
                Read::DataPad { .. } => self.step_data_pad(side, ts_us, data, cx),
                Read::Data { .. } => self.step_data(side, ts_us, data, cx),
                Read::Desync => self.step_desync(side, ts_us, data, cx),
            };
            idle_steps = if n == 0 { idle_steps + 1 } else { 0 };
            data = data.get(n..).unwrap_or_default();
        }
    }

    fn step_preface(&mut self, side: Side, ts_us: u64, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        let Read::Preface { matched } = self.dir(side).read else {
            return 0;
        };
        let want = CLIENT_PREFACE.get(matched..).unwrap_or_default();
        let n = want.len().min(data.len());
        if data.get(..n) != want.get(..n) {
            // Not HTTP/2 after all, or bytes lost before: look for a frame.
            self.desync(side, ts_us, cx);
            return 0;
        }
        let d = self.dir_mut(side);
        if matched + n == CLIENT_PREFACE.len() {
            cx.stats.prefaces += 1;
            d.read = Read::Header;
        } else {
            d.read = Read::Preface {
                matched: matched + n,
            };
        }
        n
    }

    fn step_header(&mut self, side: Side, ts_us: u64, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        let d = self.dir_mut(side);
        if d.hdr_len == 0 {
            d.frame_ts_us = ts_us;
        }
        let take = (FRAME_HEADER_BYTES - d.hdr_len).min(data.len());
        if let (Some(dst), Some(src)) =
            (d.hdr.get_mut(d.hdr_len..d.hdr_len + take), data.get(..take))
        {
            dst.copy_from_slice(src);
        }
        d.hdr_len += take;
        if d.hdr_len < FRAME_HEADER_BYTES {
            return take;
        }
        d.hdr_len = 0;
        if let Some(header) = FrameHeader::read(&d.hdr) {
            self.start_frame(side, ts_us, header, cx);
        }
        take
    }

    /// A frame header was read: choose how its payload is read.
    fn start_frame(&mut self, side: Side, ts_us: u64, header: FrameHeader, cx: &mut Ctx<'_>) {
        cx.stats.frames += 1;
        let interrupts_block = self.dir(side).block.as_ref().is_some_and(|b| {
            header.kind != FrameType::Continuation || header.stream_id != b.stream_id
        });
        if interrupts_block {
            // RFC 9113 section 6.10: nothing may come between a block's frames.
            cx.stats.frame_errors += 1;
            if let Some(b) = self.dir_mut(side).block.as_mut() {
                b.lost.get_or_insert(H2Anomaly::FrameError);
            }
            self.finish_block(side, ts_us, cx);
        }
        let len = u64::from(header.length);
        if header.check(MAX_FRAME_BYTES_LIMIT).is_err() {
            cx.stats.frame_errors += 1;
            self.mark_stream(header.stream_id, H2Anomaly::FrameError, cx);
            self.dir_mut(side).read = Read::Payload {
                header,
                keep: 0,
                left: len,
                damaged: Some(H2Anomaly::FrameError),
            };
        } else if header.kind == FrameType::Data {
            cx.stats.data_frames += 1;
            let closed = self.is_closed(header.stream_id);
            cx.stats.frames_on_closed_streams += u64::from(closed);
            self.dir_mut(side).read = if header.has(flags::PADDED) {
                Read::DataPad { header }
            } else {
                Read::Data {
                    stream_id: header.stream_id,
                    end_stream: header.has(flags::END_STREAM),
                    data_left: len,
                    pad_left: 0,
                    closed,
                }
            };
        } else {
            let keep = self.keep_bytes(side, &header, cx);
            self.dir_mut(side).read = Read::Payload {
                header,
                keep,
                left: len,
                damaged: None,
            };
        }
        if len == 0 {
            self.end_frame(side, ts_us, cx);
        }
    }

    /// How many payload bytes of a non-DATA frame are kept (see the module policies).
    fn keep_bytes(&self, side: Side, header: &FrameHeader, cx: &Ctx<'_>) -> usize {
        let len = header.length as usize;
        match header.kind {
            FrameType::Headers | FrameType::PushPromise | FrameType::Continuation => {
                let so_far = match &self.dir(side).block {
                    Some(b) if b.lost.is_some() => return 0,
                    Some(b) if header.kind == FrameType::Continuation => b.buf.len(),
                    _ => 0,
                };
                if so_far + len <= cx.cfg.max_header_list_bytes {
                    len
                } else {
                    0
                }
            }
            FrameType::Settings => len.min(MAX_SETTINGS_KEPT_BYTES),
            FrameType::GoAway => len.min(GOAWAY_KEPT_BYTES),
            FrameType::Priority
            | FrameType::RstStream
            | FrameType::Ping
            | FrameType::WindowUpdate => len,
            FrameType::Data | FrameType::Unknown(_) => 0,
        }
    }

    fn step_payload(&mut self, side: Side, ts_us: u64, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        let d = self.dir_mut(side);
        let Read::Payload { keep, left, .. } = &mut d.read else {
            return 0;
        };
        let take = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
        let room = keep.saturating_sub(d.payload.len()).min(take);
        d.payload
            .extend_from_slice(data.get(..room).unwrap_or_default());
        *left -= take as u64;
        if *left == 0 {
            self.end_frame(side, ts_us, cx);
        }
        take
    }

    fn step_data_pad(&mut self, side: Side, ts_us: u64, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        let Read::DataPad { header } = self.dir(side).read else {
            return 0;
        };
        let Some(&pad) = data.first() else {
            return 0;
        };
        let rest = u64::from(header.length) - 1;
        let pad = u64::from(pad);
        if pad > rest {
            // RFC 9113 section 6.1: padding longer than the payload.
            cx.stats.frame_errors += 1;
            self.mark_stream(header.stream_id, H2Anomaly::FrameError, cx);
            self.dir_mut(side).read = Read::Payload {
                header,
                keep: 0,
                left: rest,
                damaged: Some(H2Anomaly::FrameError),
            };
        } else {
            let closed = self.is_closed(header.stream_id);
            self.dir_mut(side).read = Read::Data {
                stream_id: header.stream_id,
                end_stream: header.has(flags::END_STREAM),
                data_left: rest - pad,
                pad_left: pad,
                closed,
            };
        }
        if rest == 0 {
            self.end_frame(side, ts_us, cx);
        }
        1
    }

    fn step_data(&mut self, side: Side, ts_us: u64, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        let Read::Data {
            stream_id,
            data_left,
            pad_left,
            closed,
            ..
        } = self.dir(side).read
        else {
            return 0;
        };
        let n = if data_left > 0 {
            let take = usize::try_from(data_left)
                .unwrap_or(usize::MAX)
                .min(data.len());
            if closed {
                cx.stats.data_bytes += take as u64;
            } else {
                let bytes = data.get(..take).unwrap_or_default();
                self.deliver(side, stream_id, bytes, ts_us, cx);
            }
            take
        } else {
            usize::try_from(pad_left)
                .unwrap_or(usize::MAX)
                .min(data.len())
        };
        if let Read::Data {
            data_left,
            pad_left,
            ..
        } = &mut self.dir_mut(side).read
        {
            let from_data = (n as u64).min(*data_left);
            *data_left -= from_data;
            *pad_left -= n as u64 - from_data;
            if *data_left == 0 && *pad_left == 0 {
                self.end_frame(side, ts_us, cx);
            }
        }
        n
    }

    /// The current frame's payload is all read (or the frame is empty).
    fn end_frame(&mut self, side: Side, ts_us: u64, cx: &mut Ctx<'_>) {
        let d = self.dir_mut(side);
        match mem::replace(&mut d.read, Read::Header) {
            Read::Data {
                stream_id,
                end_stream,
                ..
            } => {
                d.resynced = false;
                if end_stream {
                    self.end_side(side, stream_id, ts_us, cx);
                }
            }
            Read::Payload {
                header,
                keep,
                damaged,
                ..
            } => {
                let payload = mem::take(&mut self.dir_mut(side).payload);
                let is_block = matches!(
                    header.kind,
                    FrameType::Headers | FrameType::PushPromise | FrameType::Continuation
                );
                match damaged {
                    Some(why) if is_block => self.block_frame_lost(side, &header, why, ts_us, cx),
                    Some(_) => {}
                    None if is_block && keep < header.length as usize => {
                        let why = H2Anomaly::HeaderListTooLarge;
                        self.block_frame_lost(side, &header, why, ts_us, cx)
                    }
                    None => self.process_frame(side, ts_us, &header, &payload, cx),
                }
                let d = self.dir_mut(side);
                if header.kind != FrameType::Continuation {
                    d.resynced = false;
                }
                d.payload = payload;
                d.payload.clear();
            }
            other => d.read = other,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Frames.

    fn process_frame(
        &mut self,
        side: Side,
        ts_us: u64,
        header: &FrameHeader,
        payload: &[u8],
        cx: &mut Ctx<'_>,
    ) {
        let frame = match frame::parse_payload(header, payload) {
            Ok(f) => f,
            Err(_) => {
                cx.stats.frame_errors += 1;
                self.mark_stream(header.stream_id, H2Anomaly::FrameError, cx);
                self.block_frame_lost(side, header, H2Anomaly::FrameError, ts_us, cx);
                return;
            }
        };
        match frame {
            Frame::Headers {
                stream_id,
                end_stream,
                end_headers,
                fragment,
                ..
            } => {
                self.start_block(side, stream_id, BlockKind::Headers { end_stream }, fragment);
                if end_headers {
                    self.finish_block(side, ts_us, cx);
                }
            }
            Frame::PushPromise {
                stream_id,
                promised_stream_id,
                end_headers,
                fragment,
            } => {
                cx.stats.push_promises += 1;
                let kind = BlockKind::Promise {
                    promised: promised_stream_id,
                };
                self.start_block(side, stream_id, kind, fragment);
                if end_headers {
                    self.finish_block(side, ts_us, cx);
                }
            }
            Frame::Continuation {
                stream_id,
                end_headers,
                fragment,
            } => self.continuation(side, stream_id, end_headers, fragment, ts_us, cx),
            Frame::RstStream {
                stream_id,
                error_code,
            } => {
                cx.stats.rst_streams += 1;
                self.reset(side, stream_id, error_code, cx);
            }
            Frame::Settings { ack, params } => {
                cx.stats.settings_frames += 1;
                for p in params.filter(|_| !ack) {
                    if p.id == setting::MAX_FRAME_SIZE {
                        // The sender's peer may now send frames this large.
                        self.dir_mut(side.flip()).probe_max_frame_bytes = p
                            .value
                            .clamp(DEFAULT_MAX_FRAME_BYTES, MAX_RESYNC_FRAME_BYTES);
                    }
                }
            }
            Frame::Ping { .. } => cx.stats.ping_frames += 1,
            Frame::Priority { .. } => cx.stats.priority_frames += 1,
            Frame::WindowUpdate { .. } => cx.stats.window_update_frames += 1,
            Frame::GoAway { last_stream_id, .. } => {
                cx.stats.goaways += 1;
                self.go_away(side, last_stream_id, cx);
            }
            Frame::Unknown { .. } => cx.stats.unknown_frames += 1,
            // DATA is streamed by `step_data`, never buffered.
            Frame::Data { .. } => {}
        }
    }

    fn continuation(
        &mut self,
        side: Side,
        stream_id: u32,
        end_headers: bool,
        fragment: &[u8],
        ts_us: u64,
        cx: &mut Ctx<'_>,
    ) {
        let d = self.dir_mut(side);
        match d.block.as_mut() {
            Some(b) if b.stream_id == stream_id => b.buf.extend_from_slice(fragment),
            // Right after a resync the block's first frames were not seen.
            _ if d.resynced => return,
            _ => {
                cx.stats.frame_errors += 1;
                self.mark_stream(stream_id, H2Anomaly::FrameError, cx);
                return;
            }
        }
        if end_headers {
            self.finish_block(side, ts_us, cx);
        }
    }

    /// A frame of a header block could not be kept (`why`): the block is lost.
    fn block_frame_lost(
        &mut self,
        side: Side,
        header: &FrameHeader,
        why: H2Anomaly,
        ts_us: u64,
        cx: &mut Ctx<'_>,
    ) {
        let d = self.dir_mut(side);
        match header.kind {
            FrameType::Headers | FrameType::PushPromise => {
                let kind = if header.kind == FrameType::Headers {
                    BlockKind::Headers {
                        end_stream: header.has(flags::END_STREAM),
                    }
                } else {
                    BlockKind::Promise { promised: 0 }
                };
                d.block = Some(Block {
                    stream_id: header.stream_id,
                    kind,
                    buf: Vec::new(),
                    ts_us: d.frame_ts_us,
                    lost: Some(why),
                });
            }
            FrameType::Continuation => match d.block.as_mut() {
                Some(b) if b.stream_id == header.stream_id => {
                    b.lost.get_or_insert(why);
                }
                _ => return,
            },
            _ => return,
        }
        if header.has(flags::END_HEADERS) {
            self.finish_block(side, ts_us, cx);
        }
    }

    fn start_block(&mut self, side: Side, stream_id: u32, kind: BlockKind, fragment: &[u8]) {
        let d = self.dir_mut(side);
        d.block = Some(Block {
            stream_id,
            kind,
            buf: fragment.to_vec(),
            ts_us: d.frame_ts_us,
            lost: None,
        });
    }

    /// The block's last frame is in (or the block is given up): decode it and apply it.
    fn finish_block(&mut self, side: Side, ts_us: u64, cx: &mut Ctx<'_>) {
        let Some(block) = self.dir_mut(side).block.take() else {
            return;
        };
        cx.stats.header_blocks += 1;
        let decoded = match block.lost {
            Some(why) => {
                if why == H2Anomaly::HeaderListTooLarge {
                    cx.stats.header_blocks_too_large += 1;
                }
                self.forget_hpack(side, cx);
                Decoded::lost(why)
            }
            None => self.decode_block(side, &block.buf, cx),
        };
        match block.kind {
            BlockKind::Headers { end_stream } => {
                let at = BlockAt {
                    stream_id: block.stream_id,
                    start_ts_us: block.ts_us,
                    ts_us,
                    end_stream,
                };
                match side {
                    Side::Client => self.on_request_block(at, decoded, cx),
                    Side::Server => self.on_response_block(at, decoded, cx),
                }
            }
            BlockKind::Promise { promised } => {
                self.on_promise(promised, decoded, block.ts_us, ts_us, cx);
            }
        }
    }

    fn decode_block(&mut self, side: Side, buf: &[u8], cx: &mut Ctx<'_>) -> Decoded {
        let max = cx.cfg.max_header_list_bytes;
        let mut out = Decoded::default();
        let result = self.dir_mut(side).hpack.decode(buf, |f| out.push(f, max));
        match result {
            Ok(s) => {
                cx.stats.hpack_evictions += s.evictions as u64;
                cx.stats.hpack_size_updates += s.size_updates as u64;
                cx.stats.hpack_capped_size_updates += s.capped_size_updates as u64;
            }
            Err(_) => {
                cx.stats.hpack_errors += 1;
                out.anomalies.push(H2Anomaly::HpackError);
                self.forget_hpack(side, cx);
            }
        }
        if out.unknown > 0 {
            cx.stats.hpack_unknown_fields += u64::from(out.unknown);
            out.anomalies.push(H2Anomaly::HpackStateUnknown);
        }
        if out.over_limit > 0 {
            cx.stats.header_fields_over_limit += out.over_limit;
            out.anomalies.push(H2Anomaly::HeaderListTooLarge);
        }
        out
    }

    fn forget_hpack(&mut self, side: Side, cx: &mut Ctx<'_>) {
        cx.stats.hpack_state_resets += 1;
        self.dir_mut(side).hpack.forget();
    }

    // -----------------------------------------------------------------------------------------
    // Streams.

    /// The open stream `id`, opened now when its id is new; `None` when it is closed.
    fn stream(&mut self, id: u32, opener: Opener, cx: &mut Ctx<'_>) -> Option<&mut Stream> {
        if self.streams.contains_key(&id) {
            return self.streams.get_mut(&id);
        }
        let parity = (id % 2) as usize;
        let last = if parity == 1 {
            &mut self.last_client_stream
        } else {
            &mut self.last_server_stream
        };
        if id > *last {
            *last = id;
            if self.late {
                if let Some(floor) = self.floors.get_mut(parity) {
                    floor.get_or_insert(id);
                }
            }
        } else if !self.opened_before_capture(id) {
            cx.stats.frames_on_closed_streams += 1;
            return None;
        }
        if self.streams.len() >= cx.cfg.max_concurrent_streams {
            if let Some((_, mut oldest)) = self.streams.pop_first() {
                cx.stats.stream_limit_evictions += 1;
                note(&mut oldest.ex, H2Anomaly::StreamLimit, cx.stats);
                self.retire(oldest, cx);
            }
        }
        cx.stats.streams += 1;
        let mut ex = H2Exchange::new(id);
        if opener == Opener::Other {
            note(&mut ex, H2Anomaly::RequestNotSeen, cx.stats);
        }
        ex.pushed = opener == Opener::Promise;
        let st = Stream {
            ex,
            req_head: false,
            resp_head: false,
            grpc: None,
        };
        Some(self.streams.entry(id).or_insert(st))
    }

    /// True when `id` is a closed stream: not open, not above the highest id seen for its
    /// initiator, and not a stream opened before a late capture.
    fn is_closed(&self, id: u32) -> bool {
        let last = if id % 2 == 1 {
            self.last_client_stream
        } else {
            self.last_server_stream
        };
        !self.streams.contains_key(&id) && id <= last && !self.opened_before_capture(id)
    }

    /// On a connection joined late, whether `id` (not above the highest seen) is a stream
    /// opened before the capture and not emitted yet.
    fn opened_before_capture(&self, id: u32) -> bool {
        let floor = self.floors.get((id % 2) as usize).copied().flatten();
        self.late && floor.is_some_and(|f| id < f) && !self.closed_below_floor.contains(&id)
    }

    /// Emits a stream taken out of `streams`, remembering it when it was opened before the
    /// capture.
    fn retire(&mut self, st: Stream, cx: &mut Ctx<'_>) {
        let id = st.ex.stream_id;
        let floor = self.floors.get((id % 2) as usize).copied().flatten();
        if floor.is_some_and(|f| id < f) {
            if self.closed_below_floor.len() >= cx.cfg.max_concurrent_streams {
                self.closed_below_floor.pop_front();
            }
            self.closed_below_floor.push_back(id);
        }
        emit(st, cx);
    }

    fn on_request_block(&mut self, at: BlockAt, decoded: Decoded, cx: &mut Ctx<'_>) {
        let Some(st) = self.stream(at.stream_id, Opener::RequestHeaders, cx) else {
            return;
        };
        for a in &decoded.anomalies {
            note(&mut st.ex, *a, cx.stats);
        }
        let req = st.ex.request.get_or_insert_with(|| H2Request {
            ts_us: at.start_ts_us,
            ..H2Request::default()
        });
        req.unknown_fields += decoded.unknown;
        req.end_ts_us = at.ts_us;
        if st.req_head {
            append(&mut req.trailers, &decoded.fields);
        } else {
            st.req_head = true;
            let missing = decoded.whole()
                && (decoded.method.is_none()
                    || (decoded.path.is_none() && decoded.method.as_deref() != Some("CONNECT")));
            if decoded.content_type_is_grpc() {
                st.grpc = Some(GrpcFramers {
                    request: req.body.bytes.eq(&0).then(MessageFramer::new),
                    response: MessageFramer::new(),
                });
            }
            req.ts_us = req.ts_us.min(at.start_ts_us);
            req.method = decoded.method;
            req.scheme = decoded.scheme;
            req.authority = decoded.authority;
            req.path = decoded.path;
            req.protocol = decoded.protocol;
            req.headers = decoded.fields;
            if missing {
                note(&mut st.ex, H2Anomaly::MissingPseudoHeader, cx.stats);
            }
        }
        if at.end_stream {
            self.end_side(Side::Client, at.stream_id, at.ts_us, cx);
        }
    }

    fn on_response_block(&mut self, at: BlockAt, decoded: Decoded, cx: &mut Ctx<'_>) {
        let Some(st) = self.stream(at.stream_id, Opener::Other, cx) else {
            return;
        };
        for a in &decoded.anomalies {
            note(&mut st.ex, *a, cx.stats);
        }
        let resp = st.ex.response.get_or_insert_with(|| H2Response {
            ts_us: at.start_ts_us,
            ..H2Response::default()
        });
        resp.unknown_fields += decoded.unknown;
        resp.end_ts_us = at.ts_us;
        if st.resp_head {
            append(&mut resp.trailers, &decoded.fields);
        } else {
            let status: Option<u16> = decoded.status.as_deref().and_then(|s| s.parse().ok());
            if matches!(status, Some(100..=199)) && status != Some(101) && !at.end_stream {
                // Interim response (RFC 9113 section 8.1): the final one follows.
                if resp.interim.len() < MAX_INTERIM_RESPONSES {
                    resp.interim.extend(status);
                }
                return;
            }
            st.resp_head = true;
            if st.grpc.is_none() && decoded.content_type_is_grpc() {
                st.grpc = Some(GrpcFramers::default());
            }
            resp.ts_us = at.start_ts_us;
            let missing = decoded.whole() && status.is_none();
            resp.status = status;
            resp.headers = decoded.fields;
            if missing {
                note(&mut st.ex, H2Anomaly::MissingPseudoHeader, cx.stats);
            }
        }
        if at.end_stream {
            self.end_side(Side::Server, at.stream_id, at.ts_us, cx);
        }
    }

    fn on_promise(
        &mut self,
        promised: u32,
        decoded: Decoded,
        start_ts_us: u64,
        ts_us: u64,
        cx: &mut Ctx<'_>,
    ) {
        if promised == 0 || self.streams.contains_key(&promised) {
            return;
        }
        let Some(st) = self.stream(promised, Opener::Promise, cx) else {
            return;
        };
        for a in &decoded.anomalies {
            note(&mut st.ex, *a, cx.stats);
        }
        st.req_head = true;
        st.ex.request = Some(H2Request {
            method: decoded.method,
            scheme: decoded.scheme,
            authority: decoded.authority,
            path: decoded.path,
            protocol: decoded.protocol,
            headers: decoded.fields,
            unknown_fields: decoded.unknown,
            ts_us: start_ts_us,
            end_ts_us: ts_us,
            complete: true,
            ..H2Request::default()
        });
    }

    /// DATA bytes of one side of a stream.
    fn deliver(&mut self, side: Side, stream_id: u32, bytes: &[u8], ts_us: u64, cx: &mut Ctx<'_>) {
        cx.stats.data_bytes += bytes.len() as u64;
        let cap = cx.cfg.max_body_capture_bytes;
        let Some(st) = self.stream(stream_id, Opener::Other, cx) else {
            return;
        };
        let framer = st.grpc.as_mut().and_then(|g| match side {
            Side::Client => g.request.as_mut(),
            Side::Server => Some(&mut g.response),
        });
        if let Some(f) = framer {
            f.feed(bytes);
        }
        let body = match side {
            Side::Client => {
                let r = st.ex.request.get_or_insert_with(|| H2Request {
                    ts_us,
                    ..H2Request::default()
                });
                r.end_ts_us = ts_us;
                &mut r.body
            }
            Side::Server => {
                let r = st.ex.response.get_or_insert_with(|| H2Response {
                    ts_us,
                    ..H2Response::default()
                });
                r.end_ts_us = ts_us;
                &mut r.body
            }
        };
        body.append(bytes, cap);
    }

    /// `len` DATA bytes of one side of a stream were lost; framing survived.
    fn deliver_lost(&mut self, side: Side, stream_id: u32, len: u64, cx: &mut Ctx<'_>) {
        cx.stats.data_bytes += len;
        let gap = self.dir(side).gap_anomaly();
        let Some(st) = self.streams.get_mut(&stream_id) else {
            return;
        };
        note(&mut st.ex, gap, cx.stats);
        let framed = st.grpc.as_mut().and_then(|g| match side {
            Side::Client => g.request.as_mut(),
            Side::Server => Some(&mut g.response),
        });
        if framed.is_some_and(|f| !f.skip(len)) {
            note(&mut st.ex, H2Anomaly::GrpcFraming, cx.stats);
        }
        let body = match side {
            Side::Client => st.ex.request.as_mut().map(|r| &mut r.body),
            Side::Server => st.ex.response.as_mut().map(|r| &mut r.body),
        };
        if let Some(b) = body {
            b.lost(len);
        }
    }

    /// END_STREAM from `side` on `stream_id`.
    fn end_side(&mut self, side: Side, stream_id: u32, ts_us: u64, cx: &mut Ctx<'_>) {
        let Some(st) = self.streams.get_mut(&stream_id) else {
            return;
        };
        match side {
            Side::Client => {
                if let Some(r) = st.ex.request.as_mut() {
                    r.complete = true;
                    r.end_ts_us = ts_us;
                }
            }
            Side::Server => {
                if let Some(r) = st.ex.response.as_mut() {
                    r.complete = true;
                    r.end_ts_us = ts_us;
                }
            }
        }
        let request_done = st.ex.request.as_ref().is_none_or(|r| r.complete);
        let response_done = st.ex.response.as_ref().is_some_and(|r| r.complete);
        if request_done && response_done {
            if let Some(st) = self.streams.remove(&stream_id) {
                self.retire(st, cx);
            }
        }
    }

    fn reset(&mut self, side: Side, stream_id: u32, error_code: u32, cx: &mut Ctx<'_>) {
        let Some(mut st) = self.streams.remove(&stream_id) else {
            cx.stats.frames_on_closed_streams += 1;
            return;
        };
        st.ex.reset = Some(Reset {
            by: side,
            error_code,
        });
        if error_code != 0 {
            note(&mut st.ex, H2Anomaly::RstStream, cx.stats);
        }
        self.retire(st, cx);
    }

    /// A GOAWAY from `side`: the streams its peer opened above `last_stream_id` were never
    /// processed (RFC 9113 section 6.8).
    fn go_away(&mut self, side: Side, last_stream_id: u32, cx: &mut Ctx<'_>) {
        let peer_parity = match side {
            Side::Server => 1,
            Side::Client => 0,
        };
        let refused: Vec<u32> = self
            .streams
            .range(last_stream_id.saturating_add(1)..)
            .map(|(id, _)| *id)
            .filter(|id| id % 2 == peer_parity)
            .collect();
        for id in refused {
            if let Some(mut st) = self.streams.remove(&id) {
                note(&mut st.ex, H2Anomaly::GoAway, cx.stats);
                self.retire(st, cx);
            }
        }
    }

    fn mark_stream(&mut self, stream_id: u32, a: H2Anomaly, cx: &mut Ctx<'_>) {
        if let Some(st) = self.streams.get_mut(&stream_id) {
            note(&mut st.ex, a, cx.stats);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Gaps and resynchronisation.

    fn gap(&mut self, side: Side, ts_us: u64, len: u64, cx: &mut Ctx<'_>) {
        let gap_anomaly = self.dir(side).gap_anomaly();
        let d = self.dir_mut(side);
        match &mut d.read {
            Read::Data {
                stream_id,
                data_left,
                pad_left,
                ..
            } if len <= *data_left + *pad_left => {
                let lost_data = len.min(*data_left);
                *data_left -= lost_data;
                *pad_left -= len - lost_data;
                let (stream_id, done) = (*stream_id, *data_left == 0 && *pad_left == 0);
                cx.stats.gap_bytes_in_frames += len;
                self.deliver_lost(side, stream_id, lost_data, cx);
                if done {
                    self.end_frame(side, ts_us, cx);
                }
            }
            Read::Payload { left, damaged, .. } if len <= *left => {
                *left -= len;
                damaged.get_or_insert(gap_anomaly);
                let done = *left == 0;
                cx.stats.gap_bytes_in_frames += len;
                if done {
                    self.end_frame(side, ts_us, cx);
                }
            }
            Read::Desync => {
                cx.stats.desync_skipped_bytes += d.scan.len() as u64;
                d.scan.clear();
            }
            _ => self.desync(side, ts_us, cx),
        }
    }

    /// Frame sync is lost on `side`: forget its HPACK state, mark the open streams, and look
    /// for the next frame.
    fn desync(&mut self, side: Side, ts_us: u64, cx: &mut Ctx<'_>) {
        cx.stats.desyncs += 1;
        let gap_anomaly = self.dir(side).gap_anomaly();
        let d = self.dir_mut(side);
        d.read = Read::Desync;
        d.hdr_len = 0;
        d.payload.clear();
        d.scan.clear();
        if let Some(b) = d.block.as_mut() {
            b.lost.get_or_insert(gap_anomaly);
            self.finish_block(side, ts_us, cx);
        }
        self.forget_hpack(side, cx);
        for st in self.streams.values_mut() {
            let open = match side {
                Side::Client => st.ex.request.as_ref().is_none_or(|r| !r.complete),
                Side::Server => st.ex.response.as_ref().is_none_or(|r| !r.complete),
            };
            if open {
                note(&mut st.ex, gap_anomaly, cx.stats);
                let framer = st.grpc.as_mut().and_then(|g| match side {
                    Side::Client => g.request.as_mut(),
                    Side::Server => Some(&mut g.response),
                });
                if let Some(f) = framer {
                    f.lose();
                }
            }
        }
    }

    fn step_desync(&mut self, side: Side, ts_us: u64, data: &[u8], cx: &mut Ctx<'_>) -> usize {
        let d = self.dir_mut(side);
        let max = d.probe_max_frame_bytes;
        let client = side == Side::Client;
        if d.scan.is_empty() {
            return match find_frame(data, client, max) {
                Found::At { at, preface } => {
                    cx.stats.desync_skipped_bytes += at as u64;
                    self.resync(side, preface, cx);
                    at + if preface { CLIENT_PREFACE.len() } else { 0 }
                }
                Found::Wait { from } => {
                    cx.stats.desync_skipped_bytes += from as u64;
                    d.scan
                        .extend_from_slice(data.get(from..).unwrap_or_default());
                    data.len()
                }
            };
        }
        let mut scan = mem::take(&mut d.scan);
        scan.extend_from_slice(data);
        match find_frame(&scan, client, max) {
            Found::At { at, preface } => {
                cx.stats.desync_skipped_bytes += at as u64;
                self.resync(side, preface, cx);
                let skip = at + if preface { CLIENT_PREFACE.len() } else { 0 };
                // In sync now: the inner feed cannot desynchronise again (only a preface
                // mismatch or a gap do), so this recursion is one level deep.
                self.feed(side, ts_us, scan.get(skip..).unwrap_or_default(), cx);
            }
            Found::Wait { from } => {
                cx.stats.desync_skipped_bytes += from as u64;
                scan.drain(..from.min(scan.len()));
                self.dir_mut(side).scan = scan;
            }
        }
        data.len()
    }

    fn resync(&mut self, side: Side, preface: bool, cx: &mut Ctx<'_>) {
        cx.stats.resyncs += 1;
        if preface {
            cx.stats.prefaces += 1;
        }
        let d = self.dir_mut(side);
        d.read = Read::Header;
        d.hdr_len = 0;
        d.resynced = true;
    }
}

/// Where a finished header block sits.
#[derive(Clone, Copy, Debug)]
struct BlockAt {
    stream_id: u32,
    /// Packet time of the block's first byte.
    start_ts_us: u64,
    /// Packet time of its last byte.
    ts_us: u64,
    end_stream: bool,
}

/// Looks for a frame header (or, on the client side, the preface) in `buf`. A candidate that
/// cannot be confirmed yet is waited for while fewer than a frame and two headers follow it.
fn find_frame(buf: &[u8], client: bool, max_frame_bytes: u32) -> Found {
    let window = max_frame_bytes as usize + 2 * FRAME_HEADER_BYTES;
    for at in 0..buf.len() {
        let rest = buf.get(at..).unwrap_or_default();
        if client {
            match frame::preface(rest) {
                Probe::Frame => return Found::At { at, preface: true },
                Probe::NeedMore => return Found::Wait { from: at },
                Probe::No => {}
            }
        }
        match frame::probe(rest, max_frame_bytes) {
            Probe::Frame => return Found::At { at, preface: false },
            Probe::NeedMore if rest.len() < window => return Found::Wait { from: at },
            _ => {}
        }
    }
    Found::Wait { from: buf.len() }
}

/// Bytes an exchange holds in its pseudo-headers, fields and captured bodies.
fn exchange_bytes(ex: &H2Exchange) -> usize {
    let req = ex.request.as_ref().map_or(0, |r| {
        let pseudo = [&r.method, &r.scheme, &r.authority, &r.path, &r.protocol]
            .iter()
            .map(|p| p.as_ref().map_or(0, String::len))
            .sum::<usize>();
        pseudo + r.headers.text_len() + r.trailers.text_len() + r.body.captured.len()
    });
    let resp = ex.response.as_ref().map_or(0, |r| {
        r.headers.text_len() + r.trailers.text_len() + r.body.captured.len()
    });
    req + resp
}

/// Appends `fields` to `to`.
fn append(to: &mut Headers, fields: &Headers) {
    for (n, v) in fields {
        to.push(n, v);
    }
}

/// Adds an anomaly to an exchange once, counting it.
fn note(ex: &mut H2Exchange, a: H2Anomaly, stats: &mut Http2Stats) {
    if !ex.anomalies.contains(&a) {
        ex.anomalies.push(a);
        stats.count_anomaly(a);
    }
}

/// Finishes a stream: its gRPC call, then out.
fn emit(st: Stream, cx: &mut Ctx<'_>) {
    let Stream { mut ex, grpc, .. } = st;
    if let Some(g) = grpc {
        let request_complete = ex.request.as_ref().is_some_and(|r| r.complete);
        let response_complete = ex.response.as_ref().is_some_and(|r| r.complete);
        let request_broken = g
            .request
            .as_ref()
            .is_some_and(|f| request_complete && f.broken_or_mid_message());
        if request_broken || (response_complete && g.response.broken_or_mid_message()) {
            note(&mut ex, H2Anomaly::GrpcFraming, cx.stats);
        }
        let request = g.request.map(|f| f.counts()).unwrap_or_default();
        let response = g.response.counts();
        cx.stats.grpc_calls += 1;
        cx.stats.grpc_messages += request.messages + response.messages;
        let path = ex.request.as_ref().and_then(|r| r.path.as_deref());
        let heads = ex.response.as_ref().map(|r| (&r.headers, &r.trailers));
        ex.grpc = Some(GrpcCall::new(path, heads, request, response));
    }
    cx.stats.exchanges += 1;
    cx.out.push(ex);
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
