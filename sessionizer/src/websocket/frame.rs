//! The WebSocket base framing (RFC 6455 section 5.2): a pure frame-header parser and the
//! masking transform. Pure and stateless; the per-connection state is in `connection.rs`.

use serde::Serialize;

/// Longest frame header: 2 fixed bytes, 8 bytes of extended payload length and a 4-byte
/// masking key (RFC 6455 section 5.2).
pub const MAX_FRAME_HEADER_BYTES: usize = 14;

/// Largest payload of a control frame (RFC 6455 section 5.5).
pub const MAX_CONTROL_PAYLOAD_BYTES: u64 = 125;

/// A frame's opcode (RFC 6455 section 5.2, section 11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Opcode {
    /// 0x0: continues a fragmented data message.
    Continuation,
    /// 0x1: first frame of a text message (UTF-8).
    Text,
    /// 0x2: first frame of a binary message.
    Binary,
    /// 0x3-0x7: reserved for further non-control frames.
    ReservedData,
    /// 0x8: connection close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
    /// 0xB-0xF: reserved for further control frames.
    ReservedControl,
}

impl Opcode {
    /// Every opcode class, in the order of [`Opcode::index`].
    pub const ALL: [Opcode; 8] = [
        Opcode::Continuation,
        Opcode::Text,
        Opcode::Binary,
        Opcode::ReservedData,
        Opcode::Close,
        Opcode::Ping,
        Opcode::Pong,
        Opcode::ReservedControl,
    ];

    /// The opcode of the low four bits of a header's first byte.
    pub fn from_bits(bits: u8) -> Opcode {
        match bits & 0x0f {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xa => Opcode::Pong,
            b if b < 0x8 => Opcode::ReservedData,
            _ => Opcode::ReservedControl,
        }
    }

    /// Position in [`Opcode::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Control frames have the high bit of the opcode set (RFC 6455 section 5.5).
    pub fn is_control(self) -> bool {
        matches!(
            self,
            Opcode::Close | Opcode::Ping | Opcode::Pong | Opcode::ReservedControl
        )
    }

    /// The name in records.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::Continuation => "continuation",
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::ReservedData => "reserved_data",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
            Opcode::ReservedControl => "reserved_control",
        }
    }
}

/// One parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last frame of a message.
    pub fin: bool,
    /// RSV1..RSV3 as the three low bits (RSV1 = 0b100); non-zero only with an extension.
    pub rsv: u8,
    /// The opcode.
    pub opcode: Opcode,
    /// The masking key, present when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
    /// Header length in bytes (2 to [`MAX_FRAME_HEADER_BYTES`]).
    pub header_len: usize,
    /// The payload length used the shortest encoding, as RFC 6455 section 5.2 requires.
    pub minimal_length: bool,
}

/// A header that cannot be WebSocket framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The 64-bit payload length has its most significant bit set.
    #[error(
        "a 64-bit WebSocket payload length has its most significant bit set (RFC 6455 section \
         5.2 forbids it): the bytes are not WebSocket framing"
    )]
    LengthHighBit,
}

/// Outcome of [`parse_header`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderParse {
    /// A whole header; its length is [`FrameHeader::header_len`].
    Complete(FrameHeader),
    /// The bytes are a prefix of a header: give more.
    Partial,
    /// Not a frame header.
    Error(FrameError),
}

/// Parses the frame header at the start of `buf` (RFC 6455 section 5.2).
pub fn parse_header(buf: &[u8]) -> HeaderParse {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return HeaderParse::Partial;
    };
    let len7 = u64::from(b1 & 0x7f);
    let (payload_len, len_bytes, minimal_length) = match len7 {
        126 => match be_uint(buf.get(2..4)) {
            Some(n) => (n, 2, n >= 126),
            None => return HeaderParse::Partial,
        },
        127 => match be_uint(buf.get(2..10)) {
            Some(n) if n >> 63 != 0 => return HeaderParse::Error(FrameError::LengthHighBit),
            Some(n) => (n, 8, n > 0xffff),
            None => return HeaderParse::Partial,
        },
        n => (n, 0, true),
    };
    let key_at = 2 + len_bytes;
    let masked = b1 & 0x80 != 0;
    let mask = if masked {
        match buf.get(key_at..key_at + 4) {
            Some(&[a, b, c, d]) => Some([a, b, c, d]),
            _ => return HeaderParse::Partial,
        }
    } else {
        None
    };
    HeaderParse::Complete(FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x07,
        opcode: Opcode::from_bits(b0),
        mask,
        payload_len,
        header_len: key_at + if masked { 4 } else { 0 },
        minimal_length,
    })
}

/// Big-endian unsigned integer of 2 or 8 bytes; None when the slice is missing (too short).
fn be_uint(bytes: Option<&[u8]>) -> Option<u64> {
    bytes.map(|b| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// Unmasks (or masks: the transform is its own inverse) `data` in place, where `data` starts
/// `offset` bytes into the payload (RFC 6455 section 5.3).
pub fn apply_mask(key: [u8; 4], offset: u64, data: &mut [u8]) {
    // offset % 4 < 4: the index is in range.
    let start = (offset % 4) as usize;
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[(start + i) % 4];
    }
}

/// Encodes a frame (header and masked payload): the inverse of [`parse_header`], for tests and
/// fuzz seeds. A `mask` of None sends the payload in the clear.
pub fn encode_frame(fin: bool, opcode_bits: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + MAX_FRAME_HEADER_BYTES);
    out.push(if fin { 0x80 } else { 0 } | (opcode_bits & 0x0f));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len() as u64;
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xffff {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    let at = out.len();
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    let payload_at = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        if let Some(p) = out.get_mut(payload_at..) {
            apply_mask(key, 0, p);
        }
    }
    debug_assert!(at <= payload_at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> FrameHeader {
        match parse_header(buf) {
            HeaderParse::Complete(h) => h,
            other => panic!("expected a complete header, got {other:?}"),
        }
    }

    #[test]
    fn rfc6455_section_5_7_examples_parse() {
        // A single-frame unmasked text message "Hello".
        let h = complete(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert!(h.fin);
        assert_eq!(
            (h.opcode, h.payload_len, h.header_len),
            (Opcode::Text, 5, 2)
        );
        assert_eq!(h.mask, None);
        // A single-frame masked text message "Hello".
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let h = complete(&masked);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.header_len, 6);
        let mut payload = masked[6..].to_vec();
        apply_mask([0x37, 0xfa, 0x21, 0x3d], 0, &mut payload);
        assert_eq!(payload, b"Hello");
        // A fragmented unmasked text message: "Hel" then "lo".
        let first = complete(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!((first.fin, first.opcode), (false, Opcode::Text));
        let last = complete(&[0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!((last.fin, last.opcode), (true, Opcode::Continuation));
        // 256 bytes binary message in a single unmasked frame; 64 KiB likewise.
        let h = complete(&[0x82, 0x7e, 0x01, 0x00]);
        assert_eq!(
            (h.opcode, h.payload_len, h.header_len),
            (Opcode::Binary, 256, 4)
        );
        let h = complete(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.payload_len, h.header_len), (65536, 10));
        assert!(h.minimal_length);
    }

    #[test]
    fn every_prefix_of_a_header_is_partial() {
        let frame = encode_frame(true, 0x2, Some([1, 2, 3, 4]), &[7u8; 70_000]);
        let h = complete(&frame);
        assert_eq!(h.header_len, MAX_FRAME_HEADER_BYTES);
        for n in 0..h.header_len {
            assert_eq!(
                parse_header(&frame[..n]),
                HeaderParse::Partial,
                "prefix {n}"
            );
        }
    }

    #[test]
    fn a_64_bit_length_with_the_high_bit_set_is_an_error() {
        let buf = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            parse_header(&buf),
            HeaderParse::Error(FrameError::LengthHighBit)
        );
    }

    #[test]
    fn lengths_longer_than_needed_are_flagged_not_rejected() {
        assert!(!complete(&[0x82, 0x7e, 0x00, 0x05]).minimal_length);
        assert!(!complete(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff]).minimal_length);
        assert!(complete(&[0x82, 0x7e, 0x00, 0x7e]).minimal_length);
    }

    #[test]
    fn opcodes_and_reserved_bits_decode() {
        let table = [
            (0x0, Opcode::Continuation),
            (0x3, Opcode::ReservedData),
            (0x7, Opcode::ReservedData),
            (0x8, Opcode::Close),
            (0x9, Opcode::Ping),
            (0xa, Opcode::Pong),
            (0xb, Opcode::ReservedControl),
            (0xf, Opcode::ReservedControl),
        ];
        for (bits, op) in table {
            assert_eq!(Opcode::from_bits(bits), op, "opcode {bits:#x}");
            assert_eq!(Opcode::ALL[op.index()], op);
        }
        assert_eq!(complete(&[0xc1, 0x00]).rsv, 0b100);
        assert_eq!(complete(&[0xb1, 0x00]).rsv, 0b011);
    }

    #[test]
    fn masking_is_position_dependent_and_its_own_inverse() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let plain = b"a message longer than the key".to_vec();
        let mut whole = plain.clone();
        apply_mask(key, 0, &mut whole);
        // Masking in pieces, each with its payload offset, equals masking at once.
        let mut pieces = plain.clone();
        let (a, b) = pieces.split_at_mut(7);
        apply_mask(key, 0, a);
        apply_mask(key, 7, b);
        assert_eq!(pieces, whole);
        apply_mask(key, 0, &mut whole);
        assert_eq!(whole, plain);
    }
}
