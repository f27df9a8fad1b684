//! Table tests of the reassembler, with small segment builders; property tests in `prop`.

mod prop;

use std::net::SocketAddr;

use crate::{
    Checksum, CloseReason, ConnId, OrientationBasis, Reassembler, ReassemblyConfig, Segment, Side,
    StreamEvent, StreamSink, TcpAnomaly, TcpFlags,
};

/// Client address of the default test connection.
const CLIENT: &str = "10.0.0.1:40000";
/// Server address of the default test connection.
const SERVER: &str = "10.0.0.2:80";
/// Client ISN of the default test connection.
const C_ISN: u32 = 1000;
/// Server ISN of the default test connection.
const S_ISN: u32 = 5000;
/// One millisecond of packet time.
const MS: u64 = 1_000;

/// An owned copy of a [`StreamEvent`] (timestamps dropped, except where tests need them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    Open {
        conn: u64,
        client: SocketAddr,
        server: SocketAddr,
        basis: OrientationBasis,
    },
    Data {
        conn: u64,
        from: Side,
        data: Vec<u8>,
    },
    Gap {
        conn: u64,
        from: Side,
        len: u64,
    },
    Anomaly {
        conn: u64,
        from: Side,
        kind: TcpAnomaly,
    },
    Close {
        conn: u64,
        reason: CloseReason,
    },
}

impl Ev {
    /// Connection of the event.
    pub(crate) fn conn(&self) -> u64 {
        match *self {
            Ev::Open { conn, .. }
            | Ev::Data { conn, .. }
            | Ev::Gap { conn, .. }
            | Ev::Anomaly { conn, .. }
            | Ev::Close { conn, .. } => conn,
        }
    }
}

/// Records owned events.
#[derive(Default)]
pub(crate) struct Rec(pub Vec<Ev>);

impl StreamSink for Rec {
    fn on_event(&mut self, ev: StreamEvent<'_>) {
        let ev = match ev {
            StreamEvent::Open {
                conn,
                client,
                server,
                basis,
                ..
            } => Ev::Open {
                conn: conn.0,
                client,
                server,
                basis,
            },
            StreamEvent::Data {
                conn, from, data, ..
            } => Ev::Data {
                conn: conn.0,
                from,
                data: data.to_vec(),
            },
            StreamEvent::Gap {
                conn, from, len, ..
            } => Ev::Gap {
                conn: conn.0,
                from,
                len,
            },
            StreamEvent::Anomaly {
                conn, from, kind, ..
            } => Ev::Anomaly {
                conn: conn.0,
                from,
                kind,
            },
            StreamEvent::Close { conn, reason, .. } => Ev::Close {
                conn: conn.0,
                reason,
            },
        };
        self.0.push(ev);
    }
}

/// A segment under construction (owns its payload).
#[derive(Clone, Debug)]
pub(crate) struct Pkt {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
    pub ttl: u8,
    pub checksum: Checksum,
}

impl Pkt {
    /// Borrowed segment for `process`.
    pub(crate) fn seg(&self) -> Segment<'_> {
        Segment {
            zone: 0,
            src: self.src,
            dst: self.dst,
            seq: self.seq,
            ack: self.ack,
            flags: TcpFlags(self.flags),
            payload: &self.payload,
            ttl: self.ttl,
            checksum: self.checksum,
        }
    }

    /// Sets the TTL (hop limit).
    fn ttl(mut self, ttl: u8) -> Pkt {
        self.ttl = ttl;
        self
    }

    /// Marks the checksum as verified wrong.
    fn bad_checksum(mut self) -> Pkt {
        self.checksum = Checksum::Invalid;
        self
    }

    /// Sets the ACK flag and number.
    fn ack(mut self, ack: u32) -> Pkt {
        self.flags |= TcpFlags::ACK;
        self.ack = ack;
        self
    }

    /// Sets the FIN flag.
    fn fin(mut self) -> Pkt {
        self.flags |= TcpFlags::FIN;
        self
    }

    /// Sets the RST flag.
    fn rst(mut self) -> Pkt {
        self.flags |= TcpFlags::RST;
        self
    }

    /// Replaces the endpoints.
    fn between(mut self, src: &str, dst: &str) -> Pkt {
        self.src = addr(src);
        self.dst = addr(dst);
        self
    }
}

/// Parses a test address.
pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// A segment from `src` to `dst`.
fn pkt(src: &str, dst: &str, seq: u32, flags: u8, payload: &[u8]) -> Pkt {
    Pkt {
        src: addr(src),
        dst: addr(dst),
        seq,
        ack: 0,
        flags,
        payload: payload.to_vec(),
        ttl: DEFAULT_TTL,
        checksum: Checksum::NotChecked,
    }
}

/// TTL of every test segment unless a test sets another.
const DEFAULT_TTL: u8 = 64;

/// Client SYN with ISN `isn`.
fn syn(isn: u32) -> Pkt {
    pkt(CLIENT, SERVER, isn, TcpFlags::SYN, b"")
}

/// Server SYN-ACK with ISN `isn`, acknowledging client ISN `client_isn`.
fn syn_ack(isn: u32, client_isn: u32) -> Pkt {
    pkt(SERVER, CLIENT, isn, TcpFlags::SYN, b"").ack(client_isn.wrapping_add(1))
}

/// Client data at client stream offset `off` (default ISN).
fn cdata(off: u32, bytes: &[u8]) -> Pkt {
    pkt(CLIENT, SERVER, C_ISN + 1 + off, TcpFlags::PSH, bytes)
}

/// Server data at server stream offset `off` (default ISN).
fn sdata(off: u32, bytes: &[u8]) -> Pkt {
    pkt(SERVER, CLIENT, S_ISN + 1 + off, TcpFlags::PSH, bytes)
}

/// Server pure ACK of client stream offset `off`.
fn sack(off: u32) -> Pkt {
    pkt(SERVER, CLIENT, S_ISN + 1, 0, b"").ack(C_ISN + 1 + off)
}

/// The default handshake.
fn handshake() -> Vec<Pkt> {
    vec![
        syn(C_ISN),
        syn_ack(S_ISN, C_ISN),
        pkt(CLIENT, SERVER, C_ISN + 1, 0, b"").ack(S_ISN + 1),
    ]
}

/// A reassembler plus everything it emitted.
pub(crate) struct Harness {
    pub r: Reassembler,
    pub rec: Rec,
    pub ts: u64,
}

impl Harness {
    /// Default config.
    fn new() -> Harness {
        Harness::with(ReassemblyConfig::default())
    }

    /// Given config.
    pub(crate) fn with(config: ReassemblyConfig) -> Harness {
        Harness {
            r: Reassembler::new(config),
            rec: Rec::default(),
            ts: 1_700_000_000_000_000,
        }
    }

    /// Feeds segments one millisecond apart.
    fn feed(&mut self, pkts: &[Pkt]) -> &mut Harness {
        for p in pkts {
            self.ts += MS;
            self.r.process(self.ts, &p.seg(), &mut self.rec);
        }
        self
    }

    /// Advances time by `ms` and expires.
    fn wait(&mut self, ms: u64) -> &mut Harness {
        self.ts += ms * MS;
        self.r.expire(self.ts, &mut self.rec);
        self
    }

    /// End of input.
    fn flush(&mut self) -> &mut Harness {
        self.ts += MS;
        self.r.flush(self.ts, &mut self.rec);
        self
    }

    /// Takes the recorded events.
    fn take(&mut self) -> Vec<Ev> {
        std::mem::take(&mut self.rec.0)
    }
}

/// A piece of one direction as seen by the consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Bytes(Vec<u8>),
    Gap(u64),
}

/// The pieces of `conn`/`from`, adjacent Data merged.
fn pieces(events: &[Ev], conn: u64, side: Side) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for ev in events {
        match ev {
            Ev::Data {
                conn: c,
                from,
                data,
            } if *c == conn && *from == side => {
                if let Some(Piece::Bytes(last)) = out.last_mut() {
                    last.extend_from_slice(data);
                } else {
                    out.push(Piece::Bytes(data.clone()));
                }
            }
            Ev::Gap { conn: c, from, len } if *c == conn && *from == side => {
                out.push(Piece::Gap(*len))
            }
            _ => {}
        }
    }
    out
}

/// Shorthand for a bytes piece.
fn b(bytes: &[u8]) -> Piece {
    Piece::Bytes(bytes.to_vec())
}

/// The anomalies of the events, in order.
fn anomalies(events: &[Ev]) -> Vec<TcpAnomaly> {
    events
        .iter()
        .filter_map(|e| match e {
            Ev::Anomaly { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect()
}

/// The close reasons of the events, in order, with their connection.
fn closes(events: &[Ev]) -> Vec<(u64, CloseReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Ev::Close { conn, reason } => Some((*conn, *reason)),
            _ => None,
        })
        .collect()
}

/// Checks Open first, Close last and nothing after Close, per connection.
pub(crate) fn assert_lifecycle(events: &[Ev]) {
    use std::collections::HashMap;
    // 0 = unseen, 1 = open, 2 = closed
    let mut state: HashMap<u64, u8> = HashMap::new();
    for ev in events {
        let s = state.entry(ev.conn()).or_insert(0);
        match (ev, *s) {
            (Ev::Open { .. }, 0) => *s = 1,
            (Ev::Close { .. }, 1) => *s = 2,
            (Ev::Open { .. } | Ev::Close { .. }, _) | (_, 0 | 2) => {
                panic!("event out of lifecycle: {ev:?} in state {s}")
            }
            _ => {}
        }
    }
}

#[test]
fn in_order_both_directions() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[
            cdata(0, b"GET / HTTP/1.1\r\n"),
            cdata(16, b"\r\n"),
            sdata(0, b"HTTP/1.1 200 OK\r\n").ack(C_ISN + 19),
        ])
        .flush();
    let ev = h.take();
    assert_eq!(
        ev[0],
        Ev::Open {
            conn: 1,
            client: addr(CLIENT),
            server: addr(SERVER),
            basis: OrientationBasis::Syn
        }
    );
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"GET / HTTP/1.1\r\n\r\n")]);
    assert_eq!(pieces(&ev, 1, Side::Server), [b(b"HTTP/1.1 200 OK\r\n")]);
    assert_eq!(closes(&ev), [(1, CloseReason::EndOfInput)]);
    assert!(anomalies(&ev).is_empty());
    let st = h.r.stats();
    assert_eq!((st.bytes_delivered, st.gaps, st.ooo_segments), (35, 0, 0));
    assert_eq!(h.r.active_flows(), 0);
    assert_lifecycle(&ev);
}

#[test]
fn in_order_data_is_zero_copy() {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let payload = cdata(0, b"hello");
    let mut ptrs = Vec::new();
    let mut sink = |ev: StreamEvent<'_>| {
        if let StreamEvent::Data { data, .. } = ev {
            ptrs.push(data.as_ptr());
        }
    };
    for p in handshake() {
        r.process(1, &p.seg(), &mut sink);
    }
    r.process(2, &payload.seg(), &mut sink);
    assert_eq!(ptrs, [payload.payload.as_ptr()]);
}

#[test]
fn reorder_is_buffered_then_delivered() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[cdata(8, b"CCCC"), cdata(4, b"BBBB")]);
    assert_eq!(h.r.buffered_bytes(), 8);
    assert!(pieces(&h.rec.0, 1, Side::Client).is_empty());
    h.feed(&[cdata(0, b"AAAA")]);
    assert_eq!(h.r.buffered_bytes(), 0);
    let ev = h.take();
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"AAAABBBBCCCC")]);
    assert_eq!(h.r.stats().ooo_segments, 2);
    assert_eq!(h.r.stats().gaps, 0);
}

#[test]
fn duplicate_segments_are_counted_not_delivered() {
    let mut h = Harness::new();
    h.feed(&handshake()).feed(&[
        cdata(0, b"AAAA"),
        cdata(0, b"AAAA"),
        cdata(8, b"CCCC"),
        cdata(8, b"CCCC"),
        cdata(4, b"BBBB"),
    ]);
    let ev = h.take();
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"AAAABBBBCCCC")]);
    assert_eq!(h.r.stats().retransmitted_segments, 2);
    assert_eq!(h.r.stats().retransmission_mismatches, 0);
}

#[test]
fn overlaps_first_data_wins() {
    struct Case {
        name: &'static str,
        segs: Vec<Pkt>,
        want: &'static [u8],
        mismatches: u64,
    }
    let cases = [
        Case {
            name: "overlap with same bytes over buffered data",
            segs: vec![cdata(4, b"EFGH"), cdata(2, b"CDEFGHIJ"), cdata(0, b"AB")],
            want: b"ABCDEFGHIJ",
            mismatches: 0,
        },
        Case {
            name: "overlap with different bytes over buffered data",
            segs: vec![cdata(4, b"EFGH"), cdata(2, b"CDxxxxIJ"), cdata(0, b"AB")],
            want: b"ABCDEFGHIJ",
            mismatches: 1,
        },
        Case {
            name: "in-order segment overlapping buffered data with different bytes",
            segs: vec![cdata(4, b"EFGH"), cdata(0, b"ABCDxxxxIJ")],
            want: b"ABCDEFGHIJ",
            mismatches: 1,
        },
        Case {
            name: "retransmission of delivered, unacknowledged bytes is compared",
            segs: vec![cdata(0, b"ABCD"), cdata(0, b"AxxxEF")],
            want: b"ABCDEF",
            mismatches: 1,
        },
        Case {
            name: "retransmission of delivered, unacknowledged bytes that agree",
            segs: vec![cdata(0, b"ABCD"), cdata(2, b"CDEF")],
            want: b"ABCDEF",
            mismatches: 0,
        },
        Case {
            name: "retransmission of acknowledged bytes is not compared (the peer has them)",
            segs: vec![cdata(0, b"ABCD"), sack(4), cdata(0, b"xxxxEF")],
            want: b"ABCDEF",
            mismatches: 0,
        },
        Case {
            name: "a bad-checksum copy in the buffer is replaced by the correct one",
            segs: vec![
                cdata(4, b"xxxx").bad_checksum(),
                cdata(4, b"EFGH"),
                cdata(0, b"ABCD"),
            ],
            want: b"ABCDEFGH",
            mismatches: 1,
        },
        Case {
            name: "a bad-checksum copy never replaces buffered bytes and is not compared",
            segs: vec![
                cdata(4, b"EFGH"),
                cdata(4, b"xxxx").bad_checksum(),
                cdata(0, b"ABCD"),
            ],
            want: b"ABCDEFGH",
            mismatches: 0,
        },
        Case {
            name: "a correct copy partly over a bad-checksum chunk keeps its other bytes",
            segs: vec![
                cdata(2, b"xxEF").bad_checksum(),
                cdata(1, b"BCD"),
                cdata(0, b"A"),
            ],
            want: b"ABCDEF",
            mismatches: 1,
        },
        Case {
            name: "an in-order bad-checksum copy is delivered, its correct copy flagged",
            segs: vec![cdata(0, b"xxCD").bad_checksum(), cdata(0, b"ABCD")],
            want: b"xxCD",
            mismatches: 1,
        },
        Case {
            name: "segment spanning two buffered chunks",
            segs: vec![
                cdata(2, b"CD"),
                cdata(6, b"GH"),
                cdata(1, b"BCDEFGHI"),
                cdata(0, b"A"),
            ],
            want: b"ABCDEFGHI",
            mismatches: 0,
        },
    ];
    for case in cases {
        let mut h = Harness::new();
        h.feed(&handshake()).feed(&case.segs);
        let ev = h.take();
        assert_eq!(
            pieces(&ev, 1, Side::Client),
            [b(case.want)],
            "{}",
            case.name
        );
        assert_eq!(
            h.r.stats().retransmission_mismatches,
            case.mismatches,
            "{}",
            case.name
        );
        let want_anomalies = vec![TcpAnomaly::RetransmissionMismatch; case.mismatches as usize];
        let mut got = anomalies(&ev);
        got.retain(|&a| a != TcpAnomaly::BadChecksum);
        assert_eq!(got, want_anomalies, "{}", case.name);
        assert_eq!(h.r.buffered_bytes(), 0, "{}", case.name);
    }
}

#[test]
fn sequence_wrap_around() {
    // ISN just below 2^32: data crosses the wrap, and arrives out of order around it.
    let isn = u32::MAX - 5;
    let at = |off: u32, bytes: &[u8]| pkt(CLIENT, SERVER, isn.wrapping_add(1 + off), 0, bytes);
    let mut h = Harness::new();
    h.feed(&[syn(isn), syn_ack(S_ISN, isn)]).feed(&[
        at(8, b"IJKL"),
        at(0, b"ABCD"),
        at(4, b"EFGH"),
    ]);
    let ev = h.take();
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"ABCDEFGHIJKL")]);
    assert_eq!(h.r.stats().gaps, 0);
}

#[test]
fn stream_longer_than_4_gib_crosses_2_pow_32() {
    // 5 GiB in 256 KiB segments (all borrowing one buffer), with one reordering exactly where
    // the stream offset crosses 2^32 (the sequence number is back at the ISN there).
    const SEG: u64 = 256 * 1024;
    const TOTAL: u64 = 5 << 30;
    let payload = vec![7u8; SEG as usize];
    let mut r = Reassembler::new(ReassemblyConfig {
        max_ooo_bytes_per_stream: 2 * SEG as usize,
        ..ReassemblyConfig::default()
    });
    let mut delivered = 0u64;
    let mut gaps = 0u64;
    let mut sink = |ev: StreamEvent<'_>| match ev {
        StreamEvent::Data { data, .. } => delivered += data.len() as u64,
        StreamEvent::Gap { .. } => gaps += 1,
        _ => {}
    };
    let seg_at = |off: u64| Segment {
        zone: 0,
        src: addr(CLIENT),
        dst: addr(SERVER),
        seq: C_ISN.wrapping_add(1).wrapping_add(off as u32),
        ack: 0,
        flags: TcpFlags(0),
        payload: &payload,
        ttl: DEFAULT_TTL,
        checksum: Checksum::NotChecked,
    };
    r.process(1, &syn(C_ISN).seg(), &mut sink);
    let cross = 1u64 << 32;
    let mut off = 0;
    while off < TOTAL {
        if off == cross - SEG {
            // Swap the segments on both sides of 2^32.
            r.process(2, &seg_at(cross), &mut sink);
            r.process(2, &seg_at(off), &mut sink);
            off += 2 * SEG;
            continue;
        }
        r.process(2, &seg_at(off), &mut sink);
        off += SEG;
    }
    r.flush(3, &mut sink);
    assert_eq!(delivered, TOTAL);
    assert_eq!(gaps, 0);
    assert_eq!(r.stats().ooo_segments, 1);
}

#[test]
fn gap_by_ack_beyond_hole() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[cdata(0, b"AAAA"), cdata(8, b"CCCC")]);
    // The server acknowledges everything: bytes 4..8 were received by it but not captured.
    h.feed(&[sdata(0, b"resp").ack(C_ISN + 1 + 12)]);
    let ev = h.take();
    assert_eq!(
        pieces(&ev, 1, Side::Client),
        [b(b"AAAA"), Piece::Gap(4), b(b"CCCC")]
    );
    // The client hole is settled before the server data the ACK rode on.
    let gap_at = ev.iter().position(|e| matches!(e, Ev::Gap { .. }));
    let resp_at = ev.iter().position(|e| {
        matches!(
            e,
            Ev::Data {
                from: Side::Server,
                ..
            }
        )
    });
    assert!(gap_at < resp_at);
    assert_eq!((h.r.stats().gaps, h.r.stats().gap_bytes), (1, 4));
    assert_eq!(h.r.buffered_bytes(), 0);
}

#[test]
fn ack_without_hole_does_not_gap() {
    // Nothing buffered: the acknowledged bytes may still arrive later in the capture.
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[cdata(0, b"AAAA"), sack(8), cdata(4, b"BBBB")]);
    assert_eq!(pieces(&h.take(), 1, Side::Client), [b(b"AAAABBBB")]);
}

#[test]
fn ack_inside_hole_gaps_only_acknowledged_part() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[cdata(8, b"IIII"), sack(3), cdata(3, b"DEFGH")]);
    assert_eq!(
        pieces(&h.take(), 1, Side::Client),
        [Piece::Gap(3), b(b"DEFGHIIII")]
    );
}

#[test]
fn gap_by_stream_buffer_limit() {
    let mut h = Harness::with(ReassemblyConfig {
        max_ooo_bytes_per_stream: 10,
        ..ReassemblyConfig::default()
    });
    h.feed(&handshake())
        .feed(&[cdata(0, b"AA"), cdata(4, b"EEEEEEEE")]);
    assert_eq!(h.r.buffered_bytes(), 8);
    // 8 more would exceed 10: the first hole (2..4) is given up.
    h.feed(&[cdata(20, b"UUUUUUUU")]);
    let ev = h.take();
    assert_eq!(
        pieces(&ev, 1, Side::Client),
        [b(b"AA"), Piece::Gap(2), b(b"EEEEEEEE")]
    );
    assert_eq!(anomalies(&ev), [TcpAnomaly::StreamBufferLimit]);
    assert_eq!(h.r.stats().stream_buffer_limit_hits, 1);
    assert_eq!(h.r.buffered_bytes(), 8);
    // Filling the remaining hole still works.
    h.feed(&[cdata(12, b"MMMMMMMM")]);
    assert_eq!(pieces(&h.take(), 1, Side::Client), [b(b"MMMMMMMMUUUUUUUU")]);
    assert_eq!(h.r.buffered_bytes(), 0);
}

#[test]
fn segment_larger_than_stream_limit_is_delivered_after_gap() {
    let mut h = Harness::with(ReassemblyConfig {
        max_ooo_bytes_per_stream: 4,
        ..ReassemblyConfig::default()
    });
    h.feed(&handshake()).feed(&[cdata(3, b"DEFGHI")]);
    let ev = h.take();
    assert_eq!(pieces(&ev, 1, Side::Client), [Piece::Gap(3), b(b"DEFGHI")]);
    assert_eq!(h.r.stats().stream_buffer_limit_hits, 1);
    // The late hole bytes are now old.
    h.feed(&[cdata(0, b"ABC")]);
    assert!(pieces(&h.take(), 1, Side::Client).is_empty());
}

#[test]
fn gap_by_global_buffer_limit() {
    let mut h = Harness::with(ReassemblyConfig {
        max_ooo_bytes_per_stream: 100,
        max_ooo_bytes_total: 10,
        ..ReassemblyConfig::default()
    });
    const OTHER: &str = "10.0.0.3:40001";
    let other = |off: u32, bytes: &[u8]| pkt(OTHER, SERVER, 100 + off, 0, bytes);
    h.feed(&handshake()).feed(&[cdata(4, b"EEEEEEEE")]);
    // A second flow (mid-stream pickup) wants to buffer 8 more bytes: over the global budget.
    h.feed(&[other(0, b"aa"), other(6, b"gggggggg")]);
    let ev = h.take();
    assert_eq!(
        pieces(&ev, 2, Side::Client),
        [b(b"aa"), Piece::Gap(4), b(b"gggggggg")]
    );
    assert!(anomalies(&ev).contains(&TcpAnomaly::GlobalBufferLimit));
    assert_eq!(h.r.stats().global_buffer_limit_hits, 1);
    assert_eq!(h.r.buffered_bytes(), 8);
    assert!(h.r.buffered_bytes() <= 10);
    // The first flow still completes normally.
    h.feed(&[cdata(0, b"ABCD")]);
    assert_eq!(pieces(&h.take(), 1, Side::Client), [b(b"ABCDEEEEEEEE")]);
}

#[test]
fn gap_by_timeout() {
    let mut h = Harness::with(ReassemblyConfig {
        gap_timeout_ms: 500,
        ..ReassemblyConfig::default()
    });
    h.feed(&handshake())
        .feed(&[cdata(0, b"AAAA"), cdata(8, b"CCCC")]);
    h.wait(400);
    assert_eq!(pieces(&h.rec.0, 1, Side::Client), [b(b"AAAA")]);
    h.wait(200);
    let ev = h.take();
    assert_eq!(
        pieces(&ev, 1, Side::Client),
        [b(b"AAAA"), Piece::Gap(4), b(b"CCCC")]
    );
    assert_eq!(h.r.buffered_bytes(), 0);
    assert_eq!(h.r.active_flows(), 1);
    // Later data continues after the gap.
    h.feed(&[cdata(12, b"DDDD")]);
    assert_eq!(pieces(&h.take(), 1, Side::Client), [b(b"DDDD")]);
}

#[test]
fn hole_timer_restarts_on_progress() {
    let mut h = Harness::with(ReassemblyConfig {
        gap_timeout_ms: 500,
        ..ReassemblyConfig::default()
    });
    h.feed(&handshake())
        .feed(&[cdata(4, b"BBBB"), cdata(12, b"DDDD")]);
    h.wait(400);
    // The first hole is filled: a new hole (8..12) starts now.
    h.feed(&[cdata(0, b"AAAA")]);
    h.wait(400);
    assert_eq!(pieces(&h.rec.0, 1, Side::Client), [b(b"AAAABBBB")]);
    h.wait(200);
    assert_eq!(
        pieces(&h.take(), 1, Side::Client),
        [b(b"AAAABBBB"), Piece::Gap(4), b(b"DDDD")]
    );
}

#[test]
fn orientation() {
    struct Case {
        name: &'static str,
        first: Pkt,
        client: &'static str,
        server: &'static str,
        basis: OrientationBasis,
    }
    let data = |src, dst| pkt(src, dst, 7, TcpFlags::PSH, b"x");
    let cases = [
        Case {
            name: "SYN: its sender is the client",
            first: pkt("10.0.0.9:80", "10.0.0.8:9999", 1, TcpFlags::SYN, b""),
            client: "10.0.0.9:80",
            server: "10.0.0.8:9999",
            basis: OrientationBasis::Syn,
        },
        Case {
            name: "SYN-ACK only: its receiver is the client",
            first: syn_ack(S_ISN, C_ISN),
            client: CLIENT,
            server: SERVER,
            basis: OrientationBasis::SynAck,
        },
        Case {
            name: "mid-stream, first segment from the client",
            first: data(CLIENT, SERVER),
            client: CLIENT,
            server: SERVER,
            basis: OrientationBasis::Ports,
        },
        Case {
            name: "mid-stream, first segment from the server",
            first: data(SERVER, CLIENT),
            client: CLIENT,
            server: SERVER,
            basis: OrientationBasis::Ports,
        },
        Case {
            name: "well-known port wins over lower port",
            first: data("10.0.0.1:1024", "10.0.0.2:8080"),
            client: "10.0.0.1:1024",
            server: "10.0.0.2:8080",
            basis: OrientationBasis::Ports,
        },
        Case {
            name: "no well-known port: lower port is the server",
            first: data("10.0.0.2:7001", "10.0.0.1:50123"),
            client: "10.0.0.1:50123",
            server: "10.0.0.2:7001",
            basis: OrientationBasis::Ports,
        },
        Case {
            name: "both well-known: lower port is the server",
            first: data("10.0.0.2:80", "10.0.0.1:443"),
            client: "10.0.0.1:443",
            server: "10.0.0.2:80",
            basis: OrientationBasis::Ports,
        },
        Case {
            name: "equal ports: destination is the server",
            first: data("10.0.0.2:7000", "10.0.0.1:7000"),
            client: "10.0.0.2:7000",
            server: "10.0.0.1:7000",
            basis: OrientationBasis::Ports,
        },
    ];
    for case in cases {
        let mut h = Harness::new();
        h.feed(std::slice::from_ref(&case.first));
        let ev = h.take();
        assert_eq!(
            ev[0],
            Ev::Open {
                conn: 1,
                client: addr(case.client),
                server: addr(case.server),
                basis: case.basis
            },
            "{}",
            case.name
        );
        let pickup = case.basis == OrientationBasis::Ports;
        assert_eq!(
            anomalies(&ev) == [TcpAnomaly::MidStreamPickup],
            pickup,
            "{}",
            case.name
        );
        assert_eq!(
            h.r.stats().mid_stream_pickups,
            u64::from(pickup),
            "{}",
            case.name
        );
    }
}

#[test]
fn mid_stream_pickup_anchors_each_direction_on_its_first_segment() {
    let mut h = Harness::new();
    h.feed(&[
        sdata(100, b"tail of response"),
        cdata(50, b"GET /next HTTP/1.1\r\n\r\n"),
        sdata(116, b"HTTP/1.1 200 OK\r\n"),
    ])
    .flush();
    let ev = h.take();
    assert_eq!(
        anomalies(&ev),
        [TcpAnomaly::MidStreamPickup],
        "one pickup anomaly per connection"
    );
    assert_eq!(
        ev.iter().find_map(|e| match e {
            Ev::Anomaly { from, .. } => Some(*from),
            _ => None,
        }),
        Some(Side::Server)
    );
    assert_eq!(
        pieces(&ev, 1, Side::Server),
        [b(b"tail of responseHTTP/1.1 200 OK\r\n")]
    );
    assert_eq!(
        pieces(&ev, 1, Side::Client),
        [b(b"GET /next HTTP/1.1\r\n\r\n")]
    );
}

#[test]
fn syn_ack_only_anchors_client_on_ack() {
    let mut h = Harness::new();
    // Client data arrives out of order right after the SYN-ACK: the hole is known.
    h.feed(&[syn_ack(S_ISN, C_ISN), cdata(4, b"EFGH")]);
    assert_eq!(h.r.buffered_bytes(), 4);
    h.feed(&[cdata(0, b"ABCD")]);
    let ev = h.take();
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"ABCDEFGH")]);
    assert_eq!(h.r.stats().mid_stream_pickups, 0);
}

#[test]
fn fin_close_after_both_directions() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[cdata(0, b"req").fin(), sdata(0, b"resp").ack(C_ISN + 5)]);
    assert_eq!(h.r.active_flows(), 1);
    h.feed(&[sdata(4, b"").fin().ack(C_ISN + 5)]);
    let ev = h.take();
    assert_eq!(
        ev.last(),
        Some(&Ev::Close {
            conn: 1,
            reason: CloseReason::Fin
        })
    );
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"req")]);
    assert_eq!(pieces(&ev, 1, Side::Server), [b(b"resp")]);
    assert_eq!(h.r.active_flows(), 0);
    // The last ACK arrives after close: a late segment of a closed flow, no new flow, and not
    // counted as a segment of a flow never seen.
    h.feed(&[cdata(4, b"").ack(S_ISN + 6)]);
    assert!(h.take().is_empty());
    assert_eq!(h.r.stats().late_segments, 1);
    assert_eq!(h.r.stats().orphan_segments, 0);
    assert_eq!(h.r.active_flows(), 0);
}

#[test]
fn fin_waits_for_missing_data_then_ack_gaps_it() {
    let mut h = Harness::new();
    h.feed(&handshake()).feed(&[
        cdata(0, b"AAAA"),
        // 4..8 lost; FIN at 8.
        pkt(CLIENT, SERVER, C_ISN + 1 + 8, TcpFlags::FIN, b""),
        sdata(0, b"").fin(),
    ]);
    assert_eq!(h.r.active_flows(), 1, "client stream not complete yet");
    // The server acknowledges the client FIN: the missing bytes are a gap, then close.
    h.feed(&[sack(9)]);
    let ev = h.take();
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"AAAA"), Piece::Gap(4)]);
    assert_eq!(
        ev.last(),
        Some(&Ev::Close {
            conn: 1,
            reason: CloseReason::Fin
        })
    );
    assert_lifecycle(&ev);
}

#[test]
fn data_after_fin_is_ignored() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[cdata(0, b"AB").fin(), cdata(2, b"junk")])
        .flush();
    assert_eq!(pieces(&h.take(), 1, Side::Client), [b(b"AB")]);
}

#[test]
fn rst_close_flushes_with_gaps() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[cdata(0, b"AA"), cdata(4, b"EE"), sdata(0, b"").rst()]);
    let ev = h.take();
    assert_eq!(
        pieces(&ev, 1, Side::Client),
        [b(b"AA"), Piece::Gap(2), b(b"EE")]
    );
    assert_eq!(
        ev.last(),
        Some(&Ev::Close {
            conn: 1,
            reason: CloseReason::Rst
        })
    );
    assert_eq!(h.r.active_flows(), 0);
    assert_eq!(h.r.buffered_bytes(), 0);
    // A second RST (the peer's) trails the close: late, not orphan.
    h.feed(&[cdata(6, b"").rst()]);
    assert!(h.take().is_empty());
    assert_eq!(h.r.stats().late_segments, 1);
    assert_eq!(h.r.stats().orphan_segments, 0);
}

#[test]
fn rst_from_outside_the_window_is_ignored() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[sdata(1 << 31, b"").rst(), cdata(0, b"A")]);
    let ev = h.take();
    assert!(closes(&ev).is_empty());
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"A")]);
    assert_eq!(h.r.stats().out_of_window_segments, 1);
}

#[test]
fn idle_close_on_packet_time() {
    let mut h = Harness::with(ReassemblyConfig {
        idle_timeout_ms: 1_000,
        ..ReassemblyConfig::default()
    });
    h.feed(&handshake()).feed(&[cdata(0, b"A"), cdata(4, b"E")]);
    h.wait(900);
    assert!(closes(&h.rec.0).is_empty());
    h.wait(100);
    let ev = h.take();
    assert_eq!(closes(&ev), [(1, CloseReason::Idle)]);
    assert_eq!(
        pieces(&ev, 1, Side::Client),
        [b(b"A"), Piece::Gap(3), b(b"E")]
    );
    assert_eq!(h.r.stats().flows_idle_closed, 1);
    assert_eq!(h.r.active_flows(), 0);
    assert_eq!(h.r.buffered_bytes(), 0);
    assert_lifecycle(&ev);
}

#[test]
fn idle_expiry_keeps_recently_seen_flows() {
    let mut h = Harness::with(ReassemblyConfig {
        idle_timeout_ms: 1_000,
        ..ReassemblyConfig::default()
    });
    let from = |port: u16| pkt(&format!("10.0.0.1:{port}"), SERVER, 1, 0, b"x");
    h.feed(&[from(1), from(2), from(3)]);
    h.wait(500);
    // Flow 1 is seen again: it becomes the most recent.
    h.feed(&[pkt("10.0.0.1:1", SERVER, 2, 0, b"y")]);
    h.wait(600);
    let ev = h.take();
    assert_eq!(
        closes(&ev),
        [(2, CloseReason::Idle), (3, CloseReason::Idle)]
    );
    assert_eq!(h.r.active_flows(), 1);
}

#[test]
fn lru_eviction_at_max_flows() {
    let mut h = Harness::with(ReassemblyConfig {
        max_flows: 2,
        ..ReassemblyConfig::default()
    });
    let a = |off: u32, bytes: &[u8]| pkt("10.0.0.1:1001", SERVER, 100 + off, 0, bytes);
    let bb = |off: u32, bytes: &[u8]| pkt("10.0.0.1:1002", SERVER, 100 + off, 0, bytes);
    let c = |off: u32, bytes: &[u8]| pkt("10.0.0.1:1003", SERVER, 100 + off, 0, bytes);
    // b has buffered out-of-order data when it is evicted.
    h.feed(&[a(0, b"a1"), bb(0, b"b1"), bb(4, b"b3"), a(2, b"a2")]);
    assert_eq!(h.r.buffered_bytes(), 2);
    h.feed(&[c(0, b"c1")]);
    let ev = h.take();
    assert_eq!(closes(&ev), [(2, CloseReason::Evicted)]);
    assert_eq!(
        pieces(&ev, 2, Side::Client),
        [b(b"b1"), Piece::Gap(2), b(b"b3")]
    );
    assert_eq!(h.r.stats().flows_evicted, 1);
    assert_eq!(h.r.active_flows(), 2);
    assert_eq!(h.r.buffered_bytes(), 0);
    // The evicted flow comes back as a new connection; a (least recent now) is evicted.
    h.feed(&[bb(6, b"b4")]);
    let ev = h.take();
    assert_eq!(closes(&ev), [(1, CloseReason::Evicted)]);
    assert!(matches!(
        ev.iter().find(|e| matches!(e, Ev::Open { .. })),
        Some(Ev::Open { conn: 4, .. })
    ));
    assert_eq!(h.r.active_flows(), 2);
    h.flush();
    let ev = h.take();
    assert_eq!(
        closes(&ev),
        [(3, CloseReason::EndOfInput), (4, CloseReason::EndOfInput)]
    );
    assert_eq!(h.r.stats().flows_opened, h.r.stats().flows_closed);
}

#[test]
fn reuse_with_new_syn() {
    let mut h = Harness::new();
    h.feed(&handshake()).feed(&[cdata(0, b"one")]);
    // Retransmitted SYN (same ISN): nothing happens.
    h.feed(&[syn(C_ISN)]);
    assert!(closes(&h.rec.0).is_empty());
    // New SYN with another ISN: the old connection ends, a new one starts.
    let new_isn = 90_000;
    h.feed(&[
        syn(new_isn),
        syn_ack(7, new_isn),
        pkt(CLIENT, SERVER, new_isn + 1, TcpFlags::PSH, b"two"),
    ]);
    let ev = h.take();
    assert_eq!(closes(&ev), [(1, CloseReason::Reused)]);
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"one")]);
    assert_eq!(pieces(&ev, 2, Side::Client), [b(b"two")]);
    assert_eq!(h.r.stats().flows_reused, 1);
    assert_eq!(h.r.active_flows(), 1);
    assert_lifecycle(&ev);
}

#[test]
fn reuse_after_half_close() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[cdata(0, b"x").fin(), syn(C_ISN + 50_000)]);
    let ev = h.take();
    assert_eq!(closes(&ev), [(1, CloseReason::Reused)]);
    assert!(ev.contains(&Ev::Open {
        conn: 2,
        client: addr(CLIENT),
        server: addr(SERVER),
        basis: OrientationBasis::Syn
    }));
}

#[test]
fn orphan_segments_do_not_create_flows() {
    let mut h = Harness::new();
    h.feed(&[
        cdata(0, b"").ack(S_ISN + 1),
        cdata(0, b"").fin(),
        cdata(0, b"").rst(),
        cdata(0, b"payload").rst(),
    ]);
    assert!(h.take().is_empty());
    assert_eq!(h.r.stats().orphan_segments, 4);
    assert_eq!(h.r.active_flows(), 0);
}

#[test]
fn out_of_window_segment_is_ignored() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[
            cdata(0, b"A"),
            cdata((1 << 30) + 10, b"far"),
            cdata(1, b"B"),
        ])
        .flush();
    assert_eq!(pieces(&h.take(), 1, Side::Client), [b(b"AB")]);
    assert_eq!(h.r.stats().out_of_window_segments, 1);
}

#[test]
fn flush_order_is_by_conn_id_and_deterministic() {
    let run = || {
        let mut h = Harness::new();
        let mut pkts = Vec::new();
        for i in 0..50u16 {
            // Keys deliberately not in address order.
            let port = 60_000 - i * 37;
            let src = format!("10.0.{}.{}:{port}", i % 3, 200 - i);
            pkts.push(pkt(&src, SERVER, 10, 0, b"ab"));
            pkts.push(pkt(&src, SERVER, 14, 0, b"ef"));
        }
        h.feed(&pkts).flush();
        h.take()
    };
    let first = run();
    let conns: Vec<u64> = closes(&first).iter().map(|c| c.0).collect();
    assert_eq!(conns, (1..=50).collect::<Vec<_>>());
    assert!(closes(&first)
        .iter()
        .all(|c| c.1 == CloseReason::EndOfInput));
    assert_eq!(first, run());
    assert_lifecycle(&first);
}

#[test]
fn conn_ids_are_sequential() {
    let mut h = Harness::new();
    h.feed(&[syn(1)]);
    h.feed(&[syn(1).between("10.0.0.5:1", SERVER)]);
    let opens: Vec<ConnId> = h
        .take()
        .iter()
        .filter_map(|e| match e {
            Ev::Open { conn, .. } => Some(ConnId(*conn)),
            _ => None,
        })
        .collect();
    assert_eq!(opens, [ConnId(1), ConnId(2)]);
}

#[test]
fn conn_id_range_per_worker() {
    let worker = 3u64;
    let mut r =
        Reassembler::new(ReassemblyConfig::default()).with_first_conn_id(ConnId(worker << 48));
    let mut rec = Rec::default();
    r.process(1, &syn(1).seg(), &mut rec);
    r.process(1, &syn(1).between("10.0.0.5:1", SERVER).seg(), &mut rec);
    let opens: Vec<u64> = rec
        .0
        .iter()
        .filter(|e| matches!(e, Ev::Open { .. }))
        .map(Ev::conn)
        .collect();
    assert_eq!(opens, [worker << 48, (worker << 48) + 1]);
}

/// Data times as a sink sees them: (bytes, ts_us) of each Data event of `side`.
#[derive(Default)]
struct Timed(Vec<(Vec<u8>, u64)>, Vec<&'static str>);

impl StreamSink for Timed {
    fn on_event(&mut self, ev: StreamEvent<'_>) {
        match ev {
            StreamEvent::Data { data, ts_us, .. } => {
                self.0.push((data.to_vec(), ts_us));
                self.1.push("data");
            }
            StreamEvent::Anomaly { .. } => self.1.push("anomaly"),
            StreamEvent::Gap { .. } => self.1.push("gap"),
            _ => {}
        }
    }
}

/// Regression (faults test `records_after_a_lost_segment_keep_their_packet_times`): bytes
/// buffered behind a hole are delivered with the time of the packet that carried them, not
/// the time of the packet that released them.
#[test]
fn buffered_bytes_keep_their_arrival_time() {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let mut sink = Timed::default();
    let t0 = 1_700_000_000_000_000;
    for (i, p) in handshake().iter().enumerate() {
        r.process(t0 + i as u64, &p.seg(), &mut sink);
    }
    r.process(t0 + 100, &cdata(4, b"BBBB").seg(), &mut sink);
    r.process(t0 + 200, &cdata(8, b"CCCC").seg(), &mut sink);
    // The server acknowledges everything 50 ms later: the first 4 bytes were lost.
    r.process(t0 + 50_000, &sack(12).seg(), &mut sink);
    let bytes: Vec<u8> = sink.0.iter().flat_map(|(d, _)| d.clone()).collect();
    assert_eq!(bytes, b"BBBBCCCC");
    assert_eq!(sink.0.first().map(|d| d.1), Some(t0 + 100));
    assert_eq!(sink.0.last().map(|d| d.1), Some(t0 + 200));
}

/// Regression (faults test `conflict_detected_by_the_segment_that_completes_a_message`): a
/// retransmission mismatch is reported in the byte stream right before the first contradicted
/// byte, so the consumer attaches it to the message that byte belongs to.
#[test]
fn mismatch_is_reported_before_the_data_it_concerns() {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let mut sink = Timed::default();
    for (i, p) in handshake().iter().enumerate() {
        r.process(1 + i as u64, &p.seg(), &mut sink);
    }
    r.process(10, &cdata(4, b"BBBB").seg(), &mut sink);
    // Fills the hole and overlaps the buffered bytes with different ones.
    r.process(11, &cdata(0, b"AAAAXX").seg(), &mut sink);
    assert_eq!(sink.1, ["data", "anomaly", "data"]);
    let bytes: Vec<u8> = sink.0.iter().flat_map(|(d, _)| d.clone()).collect();
    assert_eq!(bytes, b"AAAABBBB", "first data wins");
}

/// A mismatch is flagged right before the contradicted bytes, whichever copy came first, so
/// the consumer attaches it to the message those bytes belong to.
#[test]
fn mismatch_is_flagged_whatever_the_order() {
    let orders = [
        (
            "original first",
            vec![cdata(0, b"GET /a"), cdata(0, b"GET /b")],
        ),
        (
            "overlapping copy first",
            vec![cdata(4, b"/b"), cdata(0, b"GET /a")],
        ),
    ];
    for (name, segs) in orders {
        let mut h = Harness::new();
        h.feed(&handshake()).feed(&segs);
        let ev = h.take();
        assert_eq!(
            anomalies(&ev),
            [TcpAnomaly::RetransmissionMismatch],
            "{name}"
        );
        assert_eq!(h.r.stats().retransmission_mismatches, 1, "{name}");
    }
}

/// A TTL different from the previous segment's of the same direction is flagged each time it
/// changes; the other direction has its own.
#[test]
fn ttl_changes_are_flagged_per_direction() {
    let mut h = Harness::new();
    h.feed(&handshake());
    h.feed(&[sack(0).ttl(50)]);
    h.feed(&[cdata(0, b"GET").ttl(1), cdata(0, b"GET"), cdata(3, b" /")]);
    let ev = h.take();
    let flagged: Vec<(Side, TcpAnomaly)> = ev
        .iter()
        .filter_map(|e| match e {
            Ev::Anomaly { from, kind, .. } => Some((*from, *kind)),
            _ => None,
        })
        .collect();
    assert_eq!(
        flagged,
        [
            (Side::Server, TcpAnomaly::TtlChanged),
            (Side::Client, TcpAnomaly::TtlChanged),
            (Side::Client, TcpAnomaly::TtlChanged),
        ]
    );
    assert_eq!(h.r.insertion_stats().ttl_changes, 3);
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"GET /")]);
}

/// A segment with a bad checksum is flagged and its header changes nothing: a RST does not
/// close, a FIN does not finish, a SYN does not reuse the connection.
#[test]
fn bad_checksum_header_changes_no_state() {
    let mut h = Harness::new();
    h.feed(&handshake())
        .feed(&[cdata(0, b"GET / HTTP/1.1\r\n")]);
    h.feed(&[
        cdata(16, b"").rst().bad_checksum(),
        cdata(16, b"").fin().bad_checksum(),
        syn(C_ISN + 7).bad_checksum(),
    ]);
    h.feed(&[cdata(16, b"\r\n")]);
    let ev = h.take();
    assert!(closes(&ev).is_empty(), "{ev:?}");
    assert_eq!(anomalies(&ev), [TcpAnomaly::BadChecksum; 3]);
    assert_eq!(h.r.insertion_stats().bad_checksum_segments, 3);
    assert_eq!(pieces(&ev, 1, Side::Client), [b(b"GET / HTTP/1.1\r\n\r\n")]);
}

/// TCP Fast Open (RFC 7413): the SYN's data is the stream's first bytes, and the SYN-ACK
/// (which may carry data of its own) answers it on the same connection.
#[test]
fn fast_open_data_on_syn_and_syn_ack() {
    for accepted in [true, false] {
        let mut h = Harness::new();
        let req = b"GET / HTTP/1.1\r\n\r\n";
        let acked = if accepted { req.len() as u32 } else { 0 };
        let syn_ack =
            pkt(SERVER, CLIENT, S_ISN, TcpFlags::SYN, b"HTTP/1.1 ").ack(C_ISN + 1 + acked);
        h.feed(&[pkt(CLIENT, SERVER, C_ISN, TcpFlags::SYN, req), syn_ack]);
        if !accepted {
            // The server took only the SYN: the client sends the data again.
            h.feed(&[cdata(0, req).ack(S_ISN + 1)]);
        }
        h.feed(&[sdata(9, b"200 OK\r\n\r\n")]);
        h.flush();
        let ev = h.take();
        assert_eq!(
            pieces(&ev, 1, Side::Client),
            [b(req)],
            "accepted {accepted}"
        );
        assert_eq!(
            pieces(&ev, 1, Side::Server),
            [b(b"HTTP/1.1 200 OK\r\n\r\n")],
            "accepted {accepted}"
        );
        assert_eq!(
            closes(&ev),
            [(1, CloseReason::EndOfInput)],
            "one connection"
        );
        assert!(anomalies(&ev).is_empty(), "{ev:?}");
    }
}

/// Delivered bytes are kept only up to `max_retained_bytes_per_stream`; beyond it the
/// oldest are dropped (counted) and a copy of them is no longer compared.
#[test]
fn retained_bytes_are_bounded() {
    let mut h = Harness::with(ReassemblyConfig {
        max_retained_bytes_per_stream: 4,
        ..ReassemblyConfig::default()
    });
    h.feed(&handshake());
    h.feed(&[cdata(0, b"ABCDEF"), cdata(0, b"xxCDEF"), cdata(2, b"xx")]);
    let ev = h.take();
    assert_eq!(anomalies(&ev), [TcpAnomaly::RetransmissionMismatch]);
    assert_eq!(h.r.insertion_stats().retained_limit_hits, 1);
}
