//! gRPC over HTTP/2 (the gRPC "PROTOCOL-HTTP2" specification): which exchanges are calls,
//! their service and method, status and message, and the length-prefixed messages of each
//! direction counted across DATA frames.

use serde::Serialize;

use crate::http::Headers;

/// Bytes of a message prefix: a compressed flag and a 4-byte big-endian length (gRPC
/// PROTOCOL-HTTP2, "Length-Prefixed-Message").
pub const MESSAGE_PREFIX_BYTES: usize = 5;
/// The content type every gRPC request carries, optionally followed by `+proto`, `+json`...
const CONTENT_TYPE: &str = "application/grpc";

/// True when a `content-type` value is gRPC's (`application/grpc`, `application/grpc+proto`,
/// ...; ASCII case ignored).
pub fn is_grpc(content_type: &str) -> bool {
    content_type
        .get(..CONTENT_TYPE.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CONTENT_TYPE))
}

/// Service and method from a gRPC path, `/package.Service/Method`.
pub fn service_method(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/'))
        .then_some((service, method))
}

/// `grpc-message` decoded: it is percent-encoded UTF-8 (gRPC PROTOCOL-HTTP2); bytes that are
/// not UTF-8 are replaced.
pub fn decode_message(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

/// Messages of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MessageCounts {
    /// Whole messages seen.
    pub messages: u64,
    /// Their bytes, prefixes excluded.
    pub bytes: u64,
    /// Of the messages, those with the compressed flag set.
    pub compressed: u64,
}

/// Counts length-prefixed messages in one direction's DATA bytes, however the messages are
/// split over frames.
///
/// Invariant: `have < MESSAGE_PREFIX_BYTES` while a prefix is being read, and then
/// `have == MESSAGE_PREFIX_BYTES` with `left` bytes of the message to come.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageFramer {
    prefix: [u8; MESSAGE_PREFIX_BYTES],
    have: usize,
    left: u64,
    counts: MessageCounts,
    /// Framing was lost (a gap through a prefix): nothing more is counted.
    broken: bool,
}

impl MessageFramer {
    /// A framer at the start of a stream.
    pub fn new() -> Self {
        MessageFramer::default()
    }

    /// The counts so far.
    pub fn counts(&self) -> MessageCounts {
        self.counts
    }

    /// True when framing was lost or the bytes end inside a message.
    pub fn broken_or_mid_message(&self) -> bool {
        self.broken || self.have > 0
    }

    /// Reads DATA bytes.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.broken {
            if self.have < MESSAGE_PREFIX_BYTES {
                let take = (MESSAGE_PREFIX_BYTES - self.have).min(data.len());
                let (head, rest) = data.split_at(take);
                if let Some(dst) = self.prefix.get_mut(self.have..self.have + take) {
                    dst.copy_from_slice(head);
                }
                self.have += take;
                data = rest;
                if self.have == MESSAGE_PREFIX_BYTES {
                    let [_, a, b, c, d] = self.prefix;
                    self.left = u64::from(u32::from_be_bytes([a, b, c, d]));
                    self.end_message_if_done();
                }
                continue;
            }
            let take = self.left.min(data.len() as u64);
            self.left -= take;
            data = data.get(take as usize..).unwrap_or_default();
            self.end_message_if_done();
        }
    }

    /// `len` bytes were lost: inside a message body framing survives, through a prefix it is
    /// lost. Returns false when it was lost.
    pub fn skip(&mut self, len: u64) -> bool {
        if !self.broken && self.have == MESSAGE_PREFIX_BYTES && len <= self.left {
            self.left -= len;
            self.end_message_if_done();
        } else if len > 0 {
            self.broken = true;
        }
        !self.broken
    }

    /// Framing is lost (bytes lost at an unknown place): nothing more is counted.
    pub fn lose(&mut self) {
        self.broken = true;
    }

    fn end_message_if_done(&mut self) {
        if self.have == MESSAGE_PREFIX_BYTES && self.left == 0 {
            let [flag, a, b, c, d] = self.prefix;
            self.counts.messages += 1;
            self.counts.bytes += u64::from(u32::from_be_bytes([a, b, c, d]));
            self.counts.compressed += u64::from(flag & 1);
            self.have = 0;
        }
    }
}

/// One gRPC call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GrpcCall {
    /// `package.Service` from the path; empty when the path is not `/Service/Method`.
    pub service: String,
    /// `Method` from the path.
    pub method: String,
    /// `grpc-status` from the trailers, or from the headers of a trailers-only response.
    pub status: Option<u32>,
    /// `grpc-message`, percent-decoded.
    pub message: Option<String>,
    /// Client-to-server messages.
    pub request: MessageCounts,
    /// Server-to-client messages.
    pub response: MessageCounts,
}

impl GrpcCall {
    /// The call of `path`, with the status of a response's `trailers` (or its `headers` when
    /// it was trailers-only) and the message counts of both directions.
    pub fn new(
        path: Option<&str>,
        response: Option<(&Headers, &Headers)>,
        request: MessageCounts,
        response_counts: MessageCounts,
    ) -> Self {
        let (service, method) = path.and_then(service_method).unwrap_or(("", ""));
        let mut call = GrpcCall {
            service: service.to_owned(),
            method: method.to_owned(),
            request,
            response: response_counts,
            ..GrpcCall::default()
        };
        if let Some((headers, trailers)) = response {
            let from = if trailers.get("grpc-status").is_some() {
                trailers
            } else {
                headers
            };
            call.status = from.get("grpc-status").and_then(|s| s.trim().parse().ok());
            call.message = from.get("grpc-message").map(decode_message);
        }
        call
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(flag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![flag];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn content_types_paths_and_messages() {
        assert!(is_grpc("application/grpc"));
        assert!(is_grpc("application/grpc+proto"));
        assert!(is_grpc("Application/GRPC"));
        assert!(!is_grpc("application/json"));
        assert!(!is_grpc("application/gr"));
        assert_eq!(
            service_method("/shop.Orders/GetOrder"),
            Some(("shop.Orders", "GetOrder"))
        );
        assert_eq!(service_method("/a/b/c"), None);
        assert_eq!(service_method("shop.Orders/GetOrder"), None);
        assert_eq!(service_method("//x"), None);
        assert_eq!(
            decode_message("no%20such%20order%3A%20%E2%9C%93"),
            "no such order: \u{2713}"
        );
        assert_eq!(decode_message("100%"), "100%");
    }

    #[test]
    fn messages_are_counted_across_any_split() {
        let stream = [message(0, b"hello"), message(1, b""), message(0, &[7; 300])].concat();
        let want = MessageCounts {
            messages: 3,
            bytes: 305,
            compressed: 1,
        };
        for cut in 0..=stream.len() {
            let mut f = MessageFramer::new();
            f.feed(&stream[..cut]);
            f.feed(&stream[cut..]);
            assert_eq!(f.counts(), want, "cut at {cut}");
            assert!(!f.broken_or_mid_message());
        }
        let mut byte_by_byte = MessageFramer::new();
        stream.iter().for_each(|b| byte_by_byte.feed(&[*b]));
        assert_eq!(byte_by_byte.counts(), want);
    }

    #[test]
    fn a_gap_inside_a_message_keeps_framing_and_through_a_prefix_loses_it() {
        let m = message(0, &[1; 100]);
        let mut f = MessageFramer::new();
        f.feed(&m[..10]);
        assert!(f.skip(50), "inside the body");
        f.feed(&m[60..]);
        f.feed(&message(0, b"x")[..3]);
        assert!(f.broken_or_mid_message(), "ends inside a prefix");
        assert!(!f.skip(10), "through a prefix");
        f.feed(&message(0, b"y"));
        assert_eq!(
            f.counts().messages,
            1,
            "nothing counted after framing was lost"
        );
    }

    #[test]
    fn status_comes_from_trailers_or_a_trailers_only_response() {
        let headers: Headers = [("content-type", "application/grpc")].into_iter().collect();
        let trailers: Headers = [
            ("grpc-status", "5"),
            ("grpc-message", "order%20not%20found"),
        ]
        .into_iter()
        .collect();
        let c = GrpcCall::new(
            Some("/shop.Orders/GetOrder"),
            Some((&headers, &trailers)),
            MessageCounts::default(),
            MessageCounts::default(),
        );
        assert_eq!(
            (c.service.as_str(), c.method.as_str()),
            ("shop.Orders", "GetOrder")
        );
        assert_eq!(
            (c.status, c.message.as_deref()),
            (Some(5), Some("order not found"))
        );
        let only: Headers = [("content-type", "application/grpc"), ("grpc-status", "12")]
            .into_iter()
            .collect();
        let c = GrpcCall::new(
            Some("/x.Y/Z"),
            Some((&only, &Headers::new())),
            MessageCounts::default(),
            MessageCounts::default(),
        );
        assert_eq!((c.status, c.message), (Some(12), None));
        let c = GrpcCall::new(
            None,
            None,
            MessageCounts::default(),
            MessageCounts::default(),
        );
        assert_eq!((c.service.as_str(), c.status), ("", None));
    }

    proptest::proptest! {
        /// Random messages split at random places: the counts equal the messages made.
        #[test]
        fn random_splits_count_what_was_sent(
            bodies in proptest::collection::vec((0u8..2, 0usize..40), 0..8),
            cuts in proptest::collection::vec(0usize..400, 0..6),
        ) {
            let stream: Vec<u8> = bodies.iter().flat_map(|(f, n)| message(*f, &vec![0; *n])).collect();
            let mut f = MessageFramer::new();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            cuts.sort_unstable();
            let mut at = 0;
            for c in cuts.into_iter().chain([stream.len()]) {
                f.feed(&stream[at..c]);
                at = c;
            }
            let want = MessageCounts {
                messages: bodies.len() as u64,
                bytes: bodies.iter().map(|(_, n)| *n as u64).sum(),
                compressed: bodies.iter().filter(|(f, _)| *f == 1).count() as u64,
            };
            proptest::prop_assert_eq!(f.counts(), want);
        }
    }
}
