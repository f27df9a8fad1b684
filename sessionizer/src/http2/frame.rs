//! The HTTP/2 frame layer (RFC 9113 sections 4 and 6) as a pure parser: bytes in, a frame
//! borrowed from them out, with three outcomes (complete, partial with how much more is
//! needed, error). A prefix of a valid frame is always partial: every check that can fail is
//! either on the 9-byte header (known as soon as it is complete) or on the payload once all of
//! it is there.
//!
//! [`probe`] recognises a frame boundary in bytes picked up mid-stream, for a sensor that
//! joined late or lost bytes; [`preface`] recognises the client connection preface.

/// Bytes of the frame header (RFC 9113 section 4.1).
pub const FRAME_HEADER_BYTES: usize = 9;
/// Initial SETTINGS_MAX_FRAME_SIZE, the largest payload a peer may send until it is told
/// otherwise (RFC 9113 section 6.5.2).
pub const DEFAULT_MAX_FRAME_BYTES: u32 = 16_384;
/// Largest payload the 24-bit length can carry (RFC 9113 section 4.2).
pub const MAX_FRAME_BYTES_LIMIT: u32 = (1 << 24) - 1;
/// The client connection preface (RFC 9113 section 3.4).
pub const CLIENT_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The stream identifier's reserved bit (RFC 9113 section 4.1).
const RESERVED_BIT: u32 = 0x8000_0000;
/// Bytes of one SETTINGS parameter (RFC 9113 section 6.5.1).
pub const SETTING_BYTES: usize = 6;
/// Bytes of the stream dependency and weight of PRIORITY and prioritised HEADERS (RFC 9113
/// sections 6.2 and 6.3).
const PRIORITY_BYTES: usize = 5;

/// Frame flags (RFC 9113 section 6).
pub mod flags {
    /// DATA, HEADERS: the sender's last frame on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block ends in this frame.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length octet and padding are present.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: a stream dependency and weight are present.
    pub const PRIORITY: u8 = 0x20;
}

/// Frame types (RFC 9113 section 6; section 5.5 says unknown types are ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// 0x0, section 6.1.
    Data,
    /// 0x1, section 6.2.
    Headers,
    /// 0x2, section 6.3.
    Priority,
    /// 0x3, section 6.4.
    RstStream,
    /// 0x4, section 6.5.
    Settings,
    /// 0x5, section 6.6.
    PushPromise,
    /// 0x6, section 6.7.
    Ping,
    /// 0x7, section 6.8.
    GoAway,
    /// 0x8, section 6.9.
    WindowUpdate,
    /// 0x9, section 6.10.
    Continuation,
    /// Any other type: skipped.
    Unknown(u8),
}

impl FrameType {
    /// The type of a type octet.
    pub fn from_u8(t: u8) -> Self {
        match t {
            0x0 => FrameType::Data,
            0x1 => FrameType::Headers,
            0x2 => FrameType::Priority,
            0x3 => FrameType::RstStream,
            0x4 => FrameType::Settings,
            0x5 => FrameType::PushPromise,
            0x6 => FrameType::Ping,
            0x7 => FrameType::GoAway,
            0x8 => FrameType::WindowUpdate,
            0x9 => FrameType::Continuation,
            t => FrameType::Unknown(t),
        }
    }

    /// The type octet.
    pub fn code(self) -> u8 {
        match self {
            FrameType::Data => 0x0,
            FrameType::Headers => 0x1,
            FrameType::Priority => 0x2,
            FrameType::RstStream => 0x3,
            FrameType::Settings => 0x4,
            FrameType::PushPromise => 0x5,
            FrameType::Ping => 0x6,
            FrameType::GoAway => 0x7,
            FrameType::WindowUpdate => 0x8,
            FrameType::Continuation => 0x9,
            FrameType::Unknown(t) => t,
        }
    }

    /// The flags RFC 9113 defines for this type (a probe wants no others).
    fn defined_flags(self) -> u8 {
        use flags::*;
        match self {
            FrameType::Data => END_STREAM | PADDED,
            FrameType::Headers => END_STREAM | END_HEADERS | PADDED | PRIORITY,
            FrameType::Settings | FrameType::Ping => ACK,
            FrameType::PushPromise => END_HEADERS | PADDED,
            FrameType::Continuation => END_HEADERS,
            _ => 0,
        }
    }

    /// Whether frames of this type belong to a stream (true), to the connection (false), or
    /// either (None: WINDOW_UPDATE, unknown types).
    fn on_stream(self) -> Option<bool> {
        match self {
            FrameType::Data
            | FrameType::Headers
            | FrameType::Priority
            | FrameType::RstStream
            | FrameType::PushPromise
            | FrameType::Continuation => Some(true),
            FrameType::Settings | FrameType::Ping | FrameType::GoAway => Some(false),
            FrameType::WindowUpdate | FrameType::Unknown(_) => None,
        }
    }
}

/// A frame header (RFC 9113 section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length in bytes.
    pub length: u32,
    /// Frame type.
    pub kind: FrameType,
    /// Flags octet as sent.
    pub flags: u8,
    /// Stream identifier, reserved bit cleared (RFC 9113 section 4.1: ignored on receipt).
    pub stream_id: u32,
    /// The reserved bit was set (only a probe cares).
    pub reserved_bit: bool,
}

impl FrameHeader {
    /// Reads a header from the first 9 bytes of `buf` (no checks beyond the layout).
    pub fn read(buf: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; FRAME_HEADER_BYTES] = buf.get(..FRAME_HEADER_BYTES)?.try_into().ok()?;
        let raw_id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
        Some(FrameHeader {
            length: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: FrameType::from_u8(h[3]),
            flags: h[4],
            stream_id: raw_id & !RESERVED_BIT,
            reserved_bit: raw_id & RESERVED_BIT != 0,
        })
    }

    /// True when `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The header's bytes (for tests and seeds).
    pub fn to_bytes(&self) -> [u8; FRAME_HEADER_BYTES] {
        let l = self.length.to_be_bytes();
        let id = (self.stream_id | if self.reserved_bit { RESERVED_BIT } else { 0 }).to_be_bytes();
        [
            l[1],
            l[2],
            l[3],
            self.kind.code(),
            self.flags,
            id[0],
            id[1],
            id[2],
            id[3],
        ]
    }

    /// Checks what the header alone tells (RFC 9113 section 6): the length against
    /// `max_frame_bytes`, lengths fixed by the type, and which frames belong to a stream.
    pub fn check(&self, max_frame_bytes: u32) -> Result<(), FrameError> {
        if self.length > max_frame_bytes {
            return Err(FrameError::TooLarge {
                length: self.length,
                max: max_frame_bytes,
            });
        }
        match (self.kind.on_stream(), self.stream_id) {
            (Some(true), 0) | (Some(false), 1..) => {
                return Err(FrameError::StreamId {
                    kind: self.kind,
                    stream_id: self.stream_id,
                })
            }
            _ => {}
        }
        let len = self.length as usize;
        let padded = usize::from(self.has(flags::PADDED));
        let length_ok = match self.kind {
            FrameType::Data => len >= padded,
            FrameType::Headers => {
                len >= padded + PRIORITY_BYTES * usize::from(self.has(flags::PRIORITY))
            }
            FrameType::Priority => len == PRIORITY_BYTES,
            FrameType::RstStream | FrameType::WindowUpdate => len == 4,
            FrameType::Settings if self.has(flags::ACK) => len == 0,
            FrameType::Settings => len % SETTING_BYTES == 0,
            FrameType::PushPromise => len >= padded + 4,
            FrameType::Ping => len == 8,
            FrameType::GoAway => len >= 8,
            FrameType::Continuation | FrameType::Unknown(_) => true,
        };
        if !length_ok {
            return Err(FrameError::Length {
                kind: self.kind,
                length: self.length,
            });
        }
        Ok(())
    }
}

/// A stream dependency (RFC 9113 section 5.3.1; deprecated by RFC 9113, still parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// The exclusive flag.
    pub exclusive: bool,
    /// The stream depended on.
    pub depends_on: u32,
    /// Weight minus one, as sent.
    pub weight: u8,
}

/// One SETTINGS parameter (RFC 9113 section 6.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Identifier (section 6.5.2: 0x1 HEADER_TABLE_SIZE ... 0x6 MAX_HEADER_LIST_SIZE).
    pub id: u16,
    /// Value.
    pub value: u32,
}

/// SETTINGS identifiers this crate acts on (RFC 9113 section 6.5.2).
pub mod setting {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
}

/// The parameters of a SETTINGS payload, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings<'a>(&'a [u8]);

impl<'a> Settings<'a> {
    /// The parameters in `payload` (a trailing partial parameter is ignored).
    pub fn new(payload: &'a [u8]) -> Self {
        Settings(payload)
    }
}

impl Iterator for Settings<'_> {
    type Item = Setting;

    fn next(&mut self) -> Option<Setting> {
        let (p, rest) = self.0.split_first_chunk::<SETTING_BYTES>()?;
        self.0 = rest;
        Some(Setting {
            id: u16::from_be_bytes([p[0], p[1]]),
            value: u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
        })
    }
}

/// A parsed frame, borrowing its payload. Padding is removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA: `data` without padding.
    Data {
        /// Stream.
        stream_id: u32,
        /// END_STREAM was set.
        end_stream: bool,
        /// The data.
        data: &'a [u8],
    },
    /// HEADERS: the first fragment of a header block.
    Headers {
        /// Stream.
        stream_id: u32,
        /// END_STREAM was set.
        end_stream: bool,
        /// END_HEADERS was set: no CONTINUATION follows.
        end_headers: bool,
        /// The stream dependency, when PRIORITY was set.
        priority: Option<Priority>,
        /// The header block fragment.
        fragment: &'a [u8],
    },
    /// PRIORITY.
    Priority {
        /// Stream.
        stream_id: u32,
        /// The dependency.
        priority: Priority,
    },
    /// RST_STREAM.
    RstStream {
        /// Stream.
        stream_id: u32,
        /// Error code (RFC 9113 section 7).
        error_code: u32,
    },
    /// SETTINGS.
    Settings {
        /// An acknowledgement (no parameters).
        ack: bool,
        /// The parameters.
        params: Settings<'a>,
    },
    /// PUSH_PROMISE: the first fragment of the promised request's header block.
    PushPromise {
        /// The stream the promise was sent on.
        stream_id: u32,
        /// The stream reserved for the pushed response.
        promised_stream_id: u32,
        /// END_HEADERS was set.
        end_headers: bool,
        /// The header block fragment.
        fragment: &'a [u8],
    },
    /// PING.
    Ping {
        /// A reply.
        ack: bool,
        /// Opaque data.
        opaque: [u8; 8],
    },
    /// GOAWAY.
    GoAway {
        /// The highest stream the sender may have processed.
        last_stream_id: u32,
        /// Error code (RFC 9113 section 7).
        error_code: u32,
        /// Additional debug data.
        debug: &'a [u8],
    },
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// Stream, or 0 for the connection.
        stream_id: u32,
        /// Window size increment.
        increment: u32,
    },
    /// CONTINUATION: a further fragment of a header block.
    Continuation {
        /// Stream.
        stream_id: u32,
        /// END_HEADERS was set.
        end_headers: bool,
        /// The header block fragment.
        fragment: &'a [u8],
    },
    /// A type this parser does not know (RFC 9113 section 5.5: ignored).
    Unknown {
        /// The header.
        header: FrameHeader,
    },
}

/// Why bytes are not a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A payload longer than the receiver accepts.
    #[error("a frame of {length} bytes exceeds the {max}-byte maximum frame size")]
    TooLarge {
        /// Length field.
        length: u32,
        /// The maximum in force.
        max: u32,
    },
    /// A length the frame type does not allow (RFC 9113 section 6).
    #[error("a {kind:?} frame of {length} bytes has a length its type does not allow")]
    Length {
        /// Frame type.
        kind: FrameType,
        /// Length field.
        length: u32,
    },
    /// A stream frame on stream 0 or a connection frame on a stream.
    #[error("a {kind:?} frame on stream {stream_id} breaks the stream identifier rules")]
    StreamId {
        /// Frame type.
        kind: FrameType,
        /// Stream identifier.
        stream_id: u32,
    },
    /// Padding at least as long as the payload (RFC 9113 section 6.1).
    #[error("a frame's padding is as long as its payload")]
    Padding,
}

/// Outcome of parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parse<T> {
    /// A whole value, `consumed` bytes long.
    Complete {
        /// Bytes used.
        consumed: usize,
        /// The value.
        value: T,
    },
    /// A valid prefix: at least `needed` more bytes are required.
    Partial {
        /// Bytes missing.
        needed: usize,
    },
    /// Not valid.
    Error(FrameError),
}

/// Parses one frame from the start of `buf`, whose payload may be at most `max_frame_bytes`.
pub fn parse_frame(buf: &[u8], max_frame_bytes: u32) -> Parse<Frame<'_>> {
    let Some(header) = FrameHeader::read(buf) else {
        return Parse::Partial {
            needed: FRAME_HEADER_BYTES - buf.len(),
        };
    };
    if let Err(e) = header.check(max_frame_bytes) {
        return Parse::Error(e);
    }
    let total = FRAME_HEADER_BYTES + header.length as usize;
    match buf.get(FRAME_HEADER_BYTES..total) {
        None => Parse::Partial {
            needed: total - buf.len(),
        },
        Some(payload) => match parse_payload(&header, payload) {
            Ok(value) => Parse::Complete {
                consumed: total,
                value,
            },
            Err(e) => Parse::Error(e),
        },
    }
}

/// Parses a frame's payload (`payload.len()` is `header.length`, and the header passed
/// [`FrameHeader::check`]).
pub fn parse_payload<'a>(header: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    let stream_id = header.stream_id;
    let length_error = FrameError::Length {
        kind: header.kind,
        length: header.length,
    };
    Ok(match header.kind {
        FrameType::Data => Frame::Data {
            stream_id,
            end_stream: header.has(flags::END_STREAM),
            data: unpad(header, payload)?,
        },
        FrameType::Headers => {
            let body = unpad(header, payload)?;
            let (priority, fragment) = if header.has(flags::PRIORITY) {
                let (p, rest) = body
                    .split_first_chunk::<PRIORITY_BYTES>()
                    .ok_or(length_error)?;
                (Some(priority(p)), rest)
            } else {
                (None, body)
            };
            Frame::Headers {
                stream_id,
                end_stream: header.has(flags::END_STREAM),
                end_headers: header.has(flags::END_HEADERS),
                priority,
                fragment,
            }
        }
        FrameType::Priority => Frame::Priority {
            stream_id,
            priority: priority(payload.first_chunk().ok_or(length_error)?),
        },
        FrameType::RstStream => Frame::RstStream {
            stream_id,
            error_code: be_u32(payload).ok_or(length_error)?,
        },
        FrameType::Settings => Frame::Settings {
            ack: header.has(flags::ACK),
            params: Settings::new(payload),
        },
        FrameType::PushPromise => {
            let body = unpad(header, payload)?;
            let promised = be_u32(body).ok_or(length_error)?;
            Frame::PushPromise {
                stream_id,
                promised_stream_id: promised & !RESERVED_BIT,
                end_headers: header.has(flags::END_HEADERS),
                fragment: body.get(4..).unwrap_or_default(),
            }
        }
        FrameType::Ping => Frame::Ping {
            ack: header.has(flags::ACK),
            opaque: *payload.first_chunk().ok_or(length_error)?,
        },
        FrameType::GoAway => Frame::GoAway {
            last_stream_id: be_u32(payload).ok_or(length_error)? & !RESERVED_BIT,
            error_code: be_u32(payload.get(4..).unwrap_or_default()).ok_or(length_error)?,
            debug: payload.get(8..).unwrap_or_default(),
        },
        FrameType::WindowUpdate => Frame::WindowUpdate {
            stream_id,
            increment: be_u32(payload).ok_or(length_error)? & !RESERVED_BIT,
        },
        FrameType::Continuation => Frame::Continuation {
            stream_id,
            end_headers: header.has(flags::END_HEADERS),
            fragment: payload,
        },
        FrameType::Unknown(_) => Frame::Unknown { header: *header },
    })
}

/// The payload without its pad length octet and padding, when PADDED is set.
pub fn unpad<'a>(header: &FrameHeader, payload: &'a [u8]) -> Result<&'a [u8], FrameError> {
    if !header.has(flags::PADDED) {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(FrameError::Padding)?;
    let keep = rest
        .len()
        .checked_sub(usize::from(pad))
        .ok_or(FrameError::Padding)?;
    rest.get(..keep).ok_or(FrameError::Padding)
}

fn priority(p: &[u8; PRIORITY_BYTES]) -> Priority {
    let dep = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    Priority {
        exclusive: dep & RESERVED_BIT != 0,
        depends_on: dep & !RESERVED_BIT,
        weight: p[4],
    }
}

fn be_u32(b: &[u8]) -> Option<u32> {
    b.first_chunk::<4>().map(|c| u32::from_be_bytes(*c))
}

/// What [`probe`] found at the start of some bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A frame starts here.
    Frame,
    /// Maybe: the header is plausible, but too few bytes follow to confirm it.
    NeedMore,
    /// No frame starts here.
    No,
}

/// Whether an HTTP/2 frame starts at `buf[0]`, for bytes picked up mid-stream.
///
/// The header must pass the strict checks: a known type, only the flags its type defines,
/// the reserved bit clear, a length within `max_frame_bytes` and the type's length rules,
/// the stream rules of [`FrameHeader::check`], and no empty frame other than a SETTINGS or a
/// DATA with END_STREAM. A header alone can be a coincidence, so
/// it is confirmed by what follows: either the frame ends exactly at the end of `buf` (TCP
/// segments usually end on a frame), or the next frame's header passes the same checks.
/// Otherwise more bytes are needed.
pub fn probe(buf: &[u8], max_frame_bytes: u32) -> Probe {
    let Some(end) = plausible_frame_end(buf, max_frame_bytes) else {
        return if buf.len() < FRAME_HEADER_BYTES {
            Probe::NeedMore
        } else {
            Probe::No
        };
    };
    if end == buf.len() {
        return Probe::Frame;
    }
    let next = buf.get(end..).unwrap_or_default();
    match plausible_frame_end(next, max_frame_bytes) {
        Some(_) => Probe::Frame,
        None if end > buf.len() || next.len() < FRAME_HEADER_BYTES => Probe::NeedMore,
        None => Probe::No,
    }
}

/// The end of the frame whose header starts `buf`, when the header passes the strict checks.
fn plausible_frame_end(buf: &[u8], max_frame_bytes: u32) -> Option<usize> {
    let h = FrameHeader::read(buf)?;
    // An empty frame says nothing unless it is a SETTINGS (ACK) or a DATA ending its stream;
    // runs of zero bytes would otherwise be read as empty DATA frames.
    let empty_ok = h.length > 0
        || h.kind == FrameType::Settings
        || (h.kind == FrameType::Data && h.has(flags::END_STREAM));
    let strict = !h.reserved_bit
        && !matches!(h.kind, FrameType::Unknown(_))
        && h.flags & !h.kind.defined_flags() == 0
        && empty_ok
        && h.check(max_frame_bytes).is_ok();
    strict.then_some(FRAME_HEADER_BYTES + h.length as usize)
}

/// Whether `buf` starts with the client preface: `Frame` when all 24 bytes are there,
/// `NeedMore` for a prefix of it, `No` otherwise.
pub fn preface(buf: &[u8]) -> Probe {
    let n = buf.len().min(CLIENT_PREFACE.len());
    if buf.get(..n) != CLIENT_PREFACE.get(..n) {
        Probe::No
    } else if n == CLIENT_PREFACE.len() {
        Probe::Frame
    } else {
        Probe::NeedMore
    }
}

/// True when `buf` looks like the start of HTTP/2: the client preface (or a prefix of it), or
/// a confirmed frame (see [`probe`]). For a tracker deciding which parser a connection gets.
pub fn looks_like_http2(buf: &[u8], max_frame_bytes: u32) -> bool {
    !buf.is_empty() && preface(buf) != Probe::No || probe(buf, max_frame_bytes) == Probe::Frame
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
