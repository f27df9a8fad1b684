//! Per-connection WebSocket state (RFC 6455): two directions, each a frame state machine, and
//! what the connection has shown so far.
//!
//! Policies (tests in `tests.rs` pin each one):
//! - **Messages, not frames**: a data message counts once, when its final frame (FIN) ends;
//!   its payload bytes count as they arrive (so a message cut by the end of the connection still
//!   counts its bytes). Control frames may come between the frames of a fragmented message
//!   (RFC 6455 section 5.4) and do not disturb it.
//! - **Any split**: frame headers are assembled across `on_data` calls in a 14-byte buffer, so
//!   the same bytes give the same summary however TCP cut them.
//! - **Gaps**: bytes lost inside a payload are counted (`lost_bytes`, `message_bytes`) and the
//!   framing goes on; the message is no longer sampled and a close frame's payload is dropped.
//!   A gap anywhere else loses the framing: the direction stops being parsed.
//! - **Lost framing** (`ws_protocol_error`, `ws_frame_too_large`, a gap at a header): there is
//!   no marker to resynchronise on, so the direction's later bytes are counted as
//!   `unparsed_bytes` and nothing else.
//! - **Close**: the first close frame sets the code, reason and initiator; the peer's close
//!   frame marks it acknowledged.
//! - **Sampling**: complete, uncompressed text messages while fewer than
//!   `max_sampled_messages` are stored; at most `max_sample_bytes` of each is buffered.

use apitap_reassembly::Side;

use super::anomaly::{WsAnomalies, WsAnomaly};
use super::config::WebSocketConfig;
use super::frame::{
    apply_mask, parse_header, FrameHeader, HeaderParse, Opcode, MAX_CONTROL_PAYLOAD_BYTES,
    MAX_FRAME_HEADER_BYTES,
};
use super::summary::{CloseInfo, DirectionSummary, OpcodeSet, TextSample, WebSocketSummary};

/// RSV1: the message is compressed by permessage-deflate (RFC 7692 section 6).
const RSV1: u8 = 0b100;

/// Where a direction is in its byte stream.
#[derive(Clone, Copy, Debug)]
enum FrameState {
    /// Expecting a frame header; `Half::hdr` holds a partial one.
    Header,
    /// Inside a frame's payload.
    Payload(Payload),
    /// The framing is lost: bytes are counted, not parsed.
    Lost,
}

/// A frame whose payload is being read.
#[derive(Clone, Copy, Debug)]
struct Payload {
    header: FrameHeader,
    /// Payload bytes still to come.
    remaining: u64,
    /// Payload bytes already seen (the masking offset).
    offset: u64,
    /// A gap removed some of this payload.
    damaged: bool,
}

/// What kind of data message is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MessageKind {
    Text,
    Binary,
    /// A reserved data opcode, or continuation frames with no first frame.
    Other,
}

/// A data message whose final frame has not come yet.
#[derive(Debug)]
struct Message {
    kind: MessageKind,
    compressed: bool,
    /// The sample being collected (text messages only, while sampling has room).
    sample: Option<Vec<u8>>,
    /// The message had more bytes than the sample holds.
    truncated: bool,
}

/// One direction.
///
/// Invariant: `hdr_len < MAX_FRAME_HEADER_BYTES` between events (a header that long is
/// complete), and it is non-zero only in `Header`. `control.len() <= 125`; it holds the
/// unmasked payload of the control frame being read.
#[derive(Debug)]
struct Half {
    state: FrameState,
    hdr: [u8; MAX_FRAME_HEADER_BYTES],
    hdr_len: usize,
    message: Option<Message>,
    control: Vec<u8>,
    /// This direction sent a close frame.
    closed: bool,
    counts: DirectionSummary,
}

impl Half {
    fn new() -> Self {
        Half {
            state: FrameState::Header,
            hdr: [0; MAX_FRAME_HEADER_BYTES],
            hdr_len: 0,
            message: None,
            control: Vec::new(),
            closed: false,
            counts: DirectionSummary::default(),
        }
    }

    /// Inside a frame or a fragmented message.
    fn mid_message(&self) -> bool {
        self.hdr_len > 0 || matches!(self.state, FrameState::Payload(_)) || self.message.is_some()
    }
}

/// What belongs to the connection rather than to one direction.
#[derive(Debug)]
struct Shared {
    cfg: WebSocketConfig,
    permessage_deflate: bool,
    opcodes: OpcodeSet,
    close: Option<CloseInfo>,
    first_ts_us: Option<u64>,
    last_ts_us: Option<u64>,
    anomalies: WsAnomalies,
    samples: Vec<TextSample>,
}

impl Shared {
    fn sampling_has_room(&self) -> bool {
        self.samples.len() < self.cfg.max_sampled_messages
    }
}

/// WebSocket state of one upgraded TCP connection. Feed it the bytes after the upgrade:
/// the client's after the upgrade request, the server's after the 101 response head.
#[derive(Debug)]
pub struct WebSocketConnection {
    client: Half,
    server: Half,
    shared: Shared,
}

impl WebSocketConnection {
    /// Heap bytes the connection holds, as allocated: the control frame and message sample
    /// being read in each direction, and the samples kept for its record.
    pub fn heap_bytes(&self) -> usize {
        let half = |h: &Half| {
            h.control.capacity()
                + h.message
                    .as_ref()
                    .and_then(|m| m.sample.as_ref())
                    .map_or(0, Vec::capacity)
        };
        half(&self.client)
            + half(&self.server)
            + self.shared.samples.capacity() * std::mem::size_of::<TextSample>()
            + self
                .shared
                .samples
                .iter()
                .map(|s| s.text.capacity())
                .sum::<usize>()
    }

    /// State for a connection upgraded by a 101 response. `permessage_deflate` is true when
    /// the response's `Sec-WebSocket-Extensions` accepted `permessage-deflate` (RFC 7692):
    /// RSV1 then marks a compressed message instead of a reserved-bit anomaly.
    pub fn new(cfg: &WebSocketConfig, permessage_deflate: bool) -> Self {
        WebSocketConnection {
            client: Half::new(),
            server: Half::new(),
            shared: Shared {
                cfg: cfg.clone(),
                permessage_deflate,
                opcodes: OpcodeSet::default(),
                close: None,
                first_ts_us: None,
                last_ts_us: None,
                anomalies: WsAnomalies::default(),
                samples: Vec::new(),
            },
        }
    }

    /// In-order bytes of one direction; `from` is relative to the upgrade (its requester is
    /// the client).
    pub fn on_data(&mut self, ts_us: u64, from: Side, mut data: &[u8]) {
        let (half, sh) = self.parts(from);
        while !data.is_empty() {
            let n = match half.state {
                FrameState::Header => read_header(half, from, ts_us, data, sh),
                FrameState::Payload(p) => read_payload(half, p, from, ts_us, data, sh),
                FrameState::Lost => {
                    half.counts.unparsed_bytes += data.len() as u64;
                    data.len()
                }
            };
            data = data.get(n..).unwrap_or(&[]);
        }
    }

    /// `len` bytes of one direction were lost.
    pub fn on_gap(&mut self, ts_us: u64, from: Side, len: u64) {
        if len == 0 {
            return;
        }
        let (half, sh) = self.parts(from);
        half.counts.lost_bytes += len;
        sh.anomalies.insert(WsAnomaly::WsGap);
        match half.state {
            FrameState::Payload(mut p) if len <= p.remaining => {
                if !p.header.opcode.is_control() {
                    half.counts.message_bytes += len;
                }
                if let Some(m) = half.message.as_mut() {
                    m.sample = None;
                }
                half.control.clear();
                p.remaining -= len;
                p.offset += len;
                p.damaged = true;
                half.state = FrameState::Payload(p);
                if p.remaining == 0 {
                    finish_frame(half, p, from, ts_us, sh);
                }
            }
            FrameState::Lost => {}
            FrameState::Header | FrameState::Payload(_) => lose_framing(half),
        }
    }

    /// What the connection has shown so far, without the end-of-connection checks.
    pub fn summary(&self) -> WebSocketSummary {
        WebSocketSummary {
            client: self.client.counts.clone(),
            server: self.server.counts.clone(),
            opcodes: self.shared.opcodes,
            close: self.shared.close.clone(),
            first_ts_us: self.shared.first_ts_us,
            last_ts_us: self.shared.last_ts_us,
            anomalies: self.shared.anomalies,
            samples: self.shared.samples.clone(),
        }
    }

    /// The connection ended (at `ts_us`, or at the end of input): the summary for its record.
    /// A direction cut inside a frame or a fragmented message adds `ws_incomplete_message`.
    pub fn close(mut self, _ts_us: u64) -> WebSocketSummary {
        if self.client.mid_message() || self.server.mid_message() {
            self.shared.anomalies.insert(WsAnomaly::WsIncompleteMessage);
        }
        WebSocketSummary {
            client: self.client.counts,
            server: self.server.counts,
            opcodes: self.shared.opcodes,
            close: self.shared.close,
            first_ts_us: self.shared.first_ts_us,
            last_ts_us: self.shared.last_ts_us,
            anomalies: self.shared.anomalies,
            samples: self.shared.samples,
        }
    }

    fn parts(&mut self, side: Side) -> (&mut Half, &mut Shared) {
        match side {
            Side::Client => (&mut self.client, &mut self.shared),
            Side::Server => (&mut self.server, &mut self.shared),
        }
    }
}

/// Header state: completes the header in `half.hdr` (at most 14 bytes are copied per frame).
/// Returns the bytes of `data` consumed; 0 only when the framing was just lost.
fn read_header(half: &mut Half, from: Side, ts_us: u64, data: &[u8], sh: &mut Shared) -> usize {
    let old = half.hdr_len;
    let take = data.len().min(MAX_FRAME_HEADER_BYTES - old);
    if let (Some(dst), Some(src)) = (half.hdr.get_mut(old..old + take), data.get(..take)) {
        dst.copy_from_slice(src);
    }
    half.hdr_len = old + take;
    match parse_header(half.hdr.get(..half.hdr_len).unwrap_or(&[])) {
        HeaderParse::Partial => {
            // A header is at most 14 bytes: a partial one used all of `data`.
            debug_assert_eq!(take, data.len());
            take
        }
        HeaderParse::Error(_) => {
            sh.anomalies.insert(WsAnomaly::WsProtocolError);
            half.counts.unparsed_bytes += old as u64;
            lose_framing(half);
            0
        }
        HeaderParse::Complete(h) => {
            half.hdr_len = 0;
            start_frame(half, h, from, ts_us, sh);
            // The buffered part was shorter than the header, or it would have parsed before.
            h.header_len.saturating_sub(old)
        }
    }
}

/// A header was parsed: check it, open or continue the message, enter the payload.
fn start_frame(half: &mut Half, h: FrameHeader, from: Side, ts_us: u64, sh: &mut Shared) {
    sh.first_ts_us.get_or_insert(ts_us);
    sh.last_ts_us = Some(ts_us);
    sh.opcodes.insert(h.opcode);
    half.counts.frames += 1;
    if h.payload_len > sh.cfg.max_frame_payload_bytes {
        sh.anomalies.insert(WsAnomaly::WsFrameTooLarge);
        lose_framing(half);
        return;
    }
    check_header(h, from, sh);
    if h.opcode.is_control() {
        start_control(half, h, sh);
    } else {
        start_data(half, h, sh);
    }
    let p = Payload {
        header: h,
        remaining: h.payload_len,
        offset: 0,
        damaged: false,
    };
    half.state = FrameState::Payload(p);
    if h.payload_len == 0 {
        finish_frame(half, p, from, ts_us, sh);
    }
}

/// Header rules that do not depend on the message state.
fn check_header(h: FrameHeader, from: Side, sh: &mut Shared) {
    match (from, h.mask) {
        (Side::Client, None) => sh.anomalies.insert(WsAnomaly::WsUnmaskedClientFrame),
        (Side::Server, Some(_)) => sh.anomalies.insert(WsAnomaly::WsMaskedServerFrame),
        _ => {}
    }
    if !h.minimal_length {
        sh.anomalies.insert(WsAnomaly::WsNonMinimalLength);
    }
    // RSV1 is permessage-deflate's only on the first frame of a data message (RFC 7692
    // section 6.1); RSV2 and RSV3 belong to no registered extension.
    let rsv1_ok = sh.permessage_deflate
        && matches!(
            h.opcode,
            Opcode::Text | Opcode::Binary | Opcode::ReservedData
        );
    if h.rsv & !RSV1 != 0 || (h.rsv & RSV1 != 0 && !rsv1_ok) {
        sh.anomalies.insert(WsAnomaly::WsReservedBits);
    }
    if matches!(h.opcode, Opcode::ReservedData | Opcode::ReservedControl) {
        sh.anomalies.insert(WsAnomaly::WsReservedOpcode);
    }
}

fn start_control(half: &mut Half, h: FrameHeader, sh: &mut Shared) {
    half.control.clear();
    if !h.fin {
        sh.anomalies.insert(WsAnomaly::WsFragmentedControlFrame);
    }
    if h.payload_len > MAX_CONTROL_PAYLOAD_BYTES {
        sh.anomalies.insert(WsAnomaly::WsControlFrameTooLarge);
    }
    match h.opcode {
        Opcode::Ping => half.counts.pings += 1,
        Opcode::Pong => half.counts.pongs += 1,
        _ => {}
    }
}

fn start_data(half: &mut Half, h: FrameHeader, sh: &mut Shared) {
    if half.closed {
        sh.anomalies.insert(WsAnomaly::WsDataAfterClose);
    }
    let kind = match h.opcode {
        Opcode::Continuation => {
            if half.message.is_some() {
                return;
            }
            sh.anomalies.insert(WsAnomaly::WsUnexpectedContinuation);
            MessageKind::Other
        }
        Opcode::Text => MessageKind::Text,
        Opcode::Binary => MessageKind::Binary,
        _ => MessageKind::Other,
    };
    if half.message.is_some() {
        sh.anomalies.insert(WsAnomaly::WsInterruptedMessage);
    }
    // Counted compressed even when the negotiation was not seen (`ws_reserved_bits` says so):
    // the payload is then most likely deflated, so it is not sampled either.
    let compressed = h.rsv & RSV1 != 0;
    let sample = (kind == MessageKind::Text && !compressed && sh.sampling_has_room())
        .then(|| Vec::with_capacity(sh.cfg.max_sample_bytes.min(h.payload_len as usize)));
    half.message = Some(Message {
        kind,
        compressed,
        sample,
        truncated: false,
    });
}

/// Payload state: counts (and for control frames and samples, keeps) the payload bytes.
fn read_payload(
    half: &mut Half,
    mut p: Payload,
    from: Side,
    ts_us: u64,
    data: &[u8],
    sh: &mut Shared,
) -> usize {
    // n <= data.len(), so the cast back to usize is lossless.
    let n = p.remaining.min(data.len() as u64) as usize;
    let chunk = data.get(..n).unwrap_or(data);
    if p.header.opcode.is_control() {
        if p.header.payload_len <= MAX_CONTROL_PAYLOAD_BYTES && !p.damaged {
            keep(&mut half.control, chunk, p.header.mask, p.offset);
        }
    } else {
        half.counts.message_bytes += n as u64;
        if let Some(m) = half.message.as_mut() {
            if let Some(sample) = m.sample.as_mut() {
                let room = sh.cfg.max_sample_bytes.saturating_sub(sample.len());
                let part = chunk.get(..room.min(n)).unwrap_or(chunk);
                keep(sample, part, p.header.mask, p.offset);
                m.truncated |= part.len() < n;
            }
        }
    }
    p.remaining -= n as u64;
    p.offset += n as u64;
    half.state = FrameState::Payload(p);
    if p.remaining == 0 {
        finish_frame(half, p, from, ts_us, sh);
    }
    n
}

/// Appends `chunk` to `buf`, unmasked; `offset` is the chunk's position in the payload.
fn keep(buf: &mut Vec<u8>, chunk: &[u8], mask: Option<[u8; 4]>, offset: u64) {
    let start = buf.len();
    buf.extend_from_slice(chunk);
    if let (Some(key), Some(added)) = (mask, buf.get_mut(start..)) {
        apply_mask(key, offset, added);
    }
}

/// The payload ended: a close frame is read, a final data frame completes its message.
fn finish_frame(half: &mut Half, p: Payload, from: Side, ts_us: u64, sh: &mut Shared) {
    half.state = FrameState::Header;
    let h = p.header;
    if h.opcode == Opcode::Close {
        if !half.closed {
            on_close_frame(&half.control, p.damaged, from, ts_us, sh);
        }
        half.closed = true;
    }
    if h.opcode.is_control() || !h.fin {
        return;
    }
    let Some(m) = half.message.take() else {
        return;
    };
    half.counts.messages += 1;
    match m.kind {
        MessageKind::Text => half.counts.text_messages += 1,
        MessageKind::Binary => half.counts.binary_messages += 1,
        MessageKind::Other => {}
    }
    if m.compressed {
        half.counts.compressed_messages += 1;
    }
    if let Some(bytes) = m.sample {
        store_sample(bytes, m.truncated, from, ts_us, sh);
    }
}

/// Reads a close frame's payload (RFC 6455 section 5.5.1): a 2-byte code, then UTF-8 reason.
fn on_close_frame(payload: &[u8], damaged: bool, from: Side, ts_us: u64, sh: &mut Shared) {
    if let Some(close) = sh.close.as_mut() {
        if close.initiator != from {
            close.acknowledged = true;
        }
        return;
    }
    let (code, reason) = match payload {
        [] => (None, String::new()),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close_code_may_be_sent(code) || std::str::from_utf8(reason).is_err() {
                sh.anomalies.insert(WsAnomaly::WsInvalidClosePayload);
            }
            (Some(code), String::from_utf8_lossy(reason).into_owned())
        }
        [_] => {
            sh.anomalies.insert(WsAnomaly::WsInvalidClosePayload);
            (None, String::new())
        }
    };
    let (code, reason) = if damaged {
        (None, String::new())
    } else {
        (code, reason)
    };
    sh.close = Some(CloseInfo {
        initiator: from,
        code,
        reason,
        acknowledged: false,
        ts_us,
    });
}

/// Status codes an endpoint may put in a close frame (RFC 6455 section 7.4.1 and 7.4.2, and
/// the IANA registry's 1012-1014): 1004-1006 and 1015 are reserved for local use and
/// 1016-2999 for future RFCs; 3000-4999 are for libraries and applications.
fn close_code_may_be_sent(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A text message completed with its sample: keep it if it is UTF-8 and there is room.
fn store_sample(bytes: Vec<u8>, truncated: bool, from: Side, ts_us: u64, sh: &mut Shared) {
    if !sh.sampling_has_room() {
        return;
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        // A sample cut inside a character: keep the characters before the cut.
        Err(e) if truncated && e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).unwrap_or_default()
        }
        Err(_) => {
            sh.anomalies.insert(WsAnomaly::WsInvalidUtf8Text);
            return;
        }
    };
    sh.samples.push(TextSample {
        from,
        ts_us,
        text,
        truncated,
    });
}

/// The direction's framing is lost for good.
fn lose_framing(half: &mut Half) {
    half.state = FrameState::Lost;
    half.hdr_len = 0;
    half.message = None;
    half.control.clear();
}
