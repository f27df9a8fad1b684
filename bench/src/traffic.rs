//! The traffic model: keep-alive TCP connections interleaved packet by packet.
//!
//! A fixed number of connection slots is kept busy; each step picks a random open connection and
//! lets it emit its next segment, so thousands of connections are in flight at once. A connection
//! does a three-way handshake, a run of request/response exchanges, and a FIN teardown; when it
//! closes and transactions remain, a new connection takes its slot.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::TrafficConfig;
use crate::error::GenError;
use crate::frame::{Endpoint, FrameBuilder, Segment, TcpFlags};
use crate::http::{write_exchange, ClientProfile, ExchangeInfo, Gzipper, Messages, ResponseStyle};
use crate::output::{PacketSink, Summary};
use crate::rng::Rng;

/// Capture start: 2023-11-14T22:13:20Z, a fixed instant so output does not depend on the clock.
pub const CAPTURE_START_US: u64 = 1_700_000_000 * MICROS_PER_SEC;
/// Microseconds per second.
const MICROS_PER_SEC: u64 = 1_000_000;
/// Microseconds per millisecond (the RFC 7323 timestamp clock ticks in ms, as on Linux).
const MICROS_PER_MILLI: u64 = 1_000;
/// Smallest gap between two consecutive packets of the capture.
const MIN_PACKET_GAP_US: u64 = 1;
/// Largest gap between two consecutive packets of the capture.
const MAX_PACKET_GAP_US: u64 = 20;
/// Receivers ACK every second full segment (delayed ACK, RFC 9293 §3.8.6.3 / RFC 1122 4.2.3.2).
const SEGMENTS_PER_ACK: u8 = 2;
/// Lowest ephemeral port (Linux `ip_local_port_range` default).
const EPHEMERAL_PORT_MIN: u16 = 32_768;
/// Highest ephemeral port (Linux `ip_local_port_range` default).
const EPHEMERAL_PORT_MAX: u16 = 60_999;
/// Connections per distinct client address, on average.
const CONNECTIONS_PER_CLIENT: u32 = 4;
/// Odd multiplier that maps client indices onto distinct 24-bit host parts of 10.0.0.0/8.
const CLIENT_ADDR_MULTIPLIER: u32 = 0x9E_3779;
/// Mask of the 24 host bits of 10.0.0.0/8.
const CLIENT_ADDR_MASK: u32 = 0x00FF_FFFF;
/// MAC of the router in front of the servers (destination of client frames).
const ROUTER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

/// An API server: its address, port and the `Host` header clients use.
#[derive(Debug, Clone, Copy)]
struct Server {
    /// Last octet of 172.16.0.0/24 (or of fd00:5::/64 for IPv6 connections).
    host_octet: u8,
    /// TCP port.
    port: u16,
    /// `Host` header value.
    host: &'static str,
}

/// The handful of API servers clients talk to.
const SERVERS: [Server; 5] = [
    Server {
        host_octet: 10,
        port: 80,
        host: "api.example.com",
    },
    Server {
        host_octet: 11,
        port: 80,
        host: "api.example.com",
    },
    Server {
        host_octet: 12,
        port: 80,
        host: "shop.example.com",
    },
    Server {
        host_octet: 20,
        port: 8080,
        host: "orders.internal.example.com:8080",
    },
    Server {
        host_octet: 21,
        port: 8080,
        host: "users.internal.example.com:8080",
    },
];

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Next: client SYN.
    Syn,
    /// Next: server SYN-ACK.
    SynAck,
    /// Next: client ACK completing the handshake.
    HandshakeAck,
    /// Next: a segment of the current request.
    Request,
    /// Next: a segment of the current response.
    Response,
    /// Next: client FIN.
    ClientFin,
    /// Next: server FIN.
    ServerFin,
    /// Next: client's final ACK.
    LastAck,
    /// Closed; the slot may be reused.
    Done,
}

/// One TCP connection carrying keep-alive HTTP/1.1 exchanges.
//
// Invariant: `client_next`/`server_next` are the next sequence numbers each side will send;
// every segment acknowledges everything the peer has sent (`ack = peer_next`), so the receiver
// never acknowledges bytes that were not sent. `offset <= current message length`.
#[derive(Debug)]
struct Connection {
    /// Client side.
    client: Endpoint,
    /// Server side.
    server: Endpoint,
    /// `Host` header.
    host: &'static str,
    /// Client identity (token, cookie, agent).
    profile: ClientProfile,
    /// Client initial sequence number.
    client_isn: u32,
    /// Server initial sequence number.
    server_isn: u32,
    /// Next client sequence number.
    client_next: u32,
    /// Next server sequence number.
    server_next: u32,
    /// Client TSval base (ms clock offset).
    client_ts_base: u32,
    /// Server TSval base (ms clock offset).
    server_ts_base: u32,
    /// Client IPv4 identification counter.
    client_ip_id: u16,
    /// Server IPv4 identification counter.
    server_ip_id: u16,
    /// Lifecycle position.
    phase: Phase,
    /// Exchanges still to do, including the current one.
    remaining: u32,
    /// Current request and response bytes.
    messages: Messages,
    /// Bytes of the current message already sent.
    offset: usize,
    /// Data segments sent since the receiver last acknowledged.
    unacked_segments: u8,
    /// A pure ACK is owed before anything else; `Some(true)` if the client owes it.
    ack_due_from_client: Option<bool>,
    /// What the current exchange is.
    info: Option<ExchangeInfo>,
}

/// Generates the whole capture into `sink`; returns the counts.
pub fn generate<S: PacketSink>(cfg: &TrafficConfig, sink: &mut S) -> Result<Summary, GenError> {
    cfg.validate()?;
    Generator::new(cfg).run(sink)
}

/// Scheduler state across all connections.
struct Generator<'a> {
    /// Settings.
    cfg: &'a TrafficConfig,
    /// The single PRNG all decisions draw from, in a fixed order.
    rng: Rng,
    /// Capture clock.
    now_us: u64,
    /// Timestamp of the first packet, once written.
    first_packet_us: Option<u64>,
    /// Transactions not yet assigned to a connection.
    unassigned: u64,
    /// Number of distinct client addresses.
    client_pool: u32,
    /// Next ephemeral port of each client address.
    next_port: Vec<u16>,
    /// Open connections.
    slots: Vec<Connection>,
    /// Connection buffers returned by closed connections, for reuse.
    spare_buffers: Vec<Messages>,
    /// Serialiser.
    frames: FrameBuilder,
    /// Shared gzip state.
    gzipper: Gzipper,
    /// Counts so far.
    summary: Summary,
}

impl<'a> Generator<'a> {
    /// Sets up the scheduler.
    fn new(cfg: &'a TrafficConfig) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let client_pool = cfg.connections.div_ceil(CONNECTIONS_PER_CLIENT).max(1);
        let port_span = u64::from(EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN);
        let next_port = (0..client_pool)
            .map(|_| EPHEMERAL_PORT_MIN + rng.below(port_span) as u16)
            .collect();
        Self {
            cfg,
            rng,
            now_us: CAPTURE_START_US,
            first_packet_us: None,
            unassigned: cfg.transactions,
            client_pool,
            next_port,
            slots: Vec::with_capacity(cfg.connections as usize),
            spare_buffers: Vec::new(),
            frames: FrameBuilder::new(cfg.vxlan),
            gzipper: Gzipper::default(),
            summary: Summary::new(cfg),
        }
    }

    /// Runs until every transaction has been sent and every connection closed.
    fn run<S: PacketSink>(mut self, sink: &mut S) -> Result<Summary, GenError> {
        while self.slots.len() < self.cfg.connections as usize && self.unassigned > 0 {
            let conn = self.open();
            self.slots.push(conn);
        }
        while !self.slots.is_empty() {
            self.summary.max_concurrent_connections = self
                .summary
                .max_concurrent_connections
                .max(self.slots.len() as u64);
            let i = self.rng.below(self.slots.len() as u64) as usize;
            self.now_us += self.rng.range(MIN_PACKET_GAP_US, MAX_PACKET_GAP_US);
            self.step(i, sink)?;
            if self.slots[i].phase == Phase::Done {
                let closed = if self.unassigned > 0 {
                    let conn = self.open();
                    std::mem::replace(&mut self.slots[i], conn)
                } else {
                    self.slots.swap_remove(i)
                };
                self.spare_buffers.push(closed.messages);
            }
        }
        self.summary.duration_us = self.now_us - self.first_packet_us.unwrap_or(self.now_us);
        Ok(self.summary)
    }

    /// Opens a new connection and assigns it a share of the remaining transactions.
    fn open(&mut self) -> Connection {
        debug_assert!(self.unassigned > 0);
        let rng = &mut self.rng;
        let remaining = rng
            .range(1, u64::from(self.cfg.max_requests_per_connection))
            .min(self.unassigned);
        self.unassigned -= remaining;
        let client_idx = rng.below(u64::from(self.client_pool)) as u32;
        let port = self.next_port[client_idx as usize];
        self.next_port[client_idx as usize] = if port >= EPHEMERAL_PORT_MAX {
            EPHEMERAL_PORT_MIN
        } else {
            port + 1
        };
        let server = *rng.pick(&SERVERS);
        let host_bits = client_idx.wrapping_mul(CLIENT_ADDR_MULTIPLIER) & CLIENT_ADDR_MASK;
        let ipv6 = rng.chance(self.cfg.ipv6_ratio);
        let (client_ip, server_ip) = if ipv6 {
            (
                IpAddr::V6(Ipv6Addr::new(
                    0xfd00,
                    0xa,
                    0,
                    0,
                    0,
                    0,
                    (host_bits >> 16) as u16,
                    host_bits as u16,
                )),
                IpAddr::V6(Ipv6Addr::new(
                    0xfd00,
                    5,
                    0,
                    0,
                    0,
                    0,
                    0,
                    u16::from(server.host_octet),
                )),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | host_bits)),
                IpAddr::V4(Ipv4Addr::new(172, 16, 0, server.host_octet)),
            )
        };
        let hb = host_bits.to_be_bytes();
        let client = Endpoint {
            ip: client_ip,
            port,
            mac: [0x02, 0x0a, 0x00, hb[1], hb[2], hb[3]],
        };
        let server_ep = Endpoint {
            ip: server_ip,
            port: server.port,
            mac: ROUTER_MAC,
        };
        let client_isn = rng.next_u32();
        let server_isn = rng.next_u32();
        let client_ts_base = rng.next_u32();
        let server_ts_base = rng.next_u32();
        let client_ip_id = rng.next_u32() as u16;
        let server_ip_id = rng.next_u32() as u16;
        let profile = ClientProfile::random(rng, self.now_us / MICROS_PER_SEC);
        let messages = self.spare_buffers.pop().unwrap_or_default();
        self.summary.connections += 1;
        Connection {
            client,
            server: server_ep,
            host: server.host,
            profile,
            client_isn,
            server_isn,
            client_next: client_isn,
            server_next: server_isn,
            client_ts_base,
            server_ts_base,
            client_ip_id,
            server_ip_id,
            phase: Phase::Syn,
            remaining: remaining as u32,
            messages,
            offset: 0,
            unacked_segments: 0,
            ack_due_from_client: None,
            info: None,
        }
    }

    /// Emits the next segment of connection `i`.
    fn step<S: PacketSink>(&mut self, i: usize, sink: &mut S) -> Result<(), GenError> {
        let mss = usize::from(self.cfg.mss);
        let now_ms = (self.now_us / MICROS_PER_MILLI) as u32;
        let c = &mut self.slots[i];
        let client_ts = c.client_ts_base.wrapping_add(now_ms);
        let server_ts = c.server_ts_base.wrapping_add(now_ms);
        let ack = TcpFlags {
            ack: true,
            ..TcpFlags::default()
        };
        // (from_client, flags, payload range in the current message)
        let mut completed = None;
        let (from_client, flags, range) = if let Some(from_client) = c.ack_due_from_client.take() {
            (from_client, ack, 0..0)
        } else {
            match c.phase {
                Phase::Syn => {
                    c.phase = Phase::SynAck;
                    (
                        true,
                        TcpFlags {
                            syn: true,
                            ..TcpFlags::default()
                        },
                        0..0,
                    )
                }
                Phase::SynAck => {
                    c.phase = Phase::HandshakeAck;
                    (
                        false,
                        TcpFlags {
                            syn: true,
                            ack: true,
                            ..TcpFlags::default()
                        },
                        0..0,
                    )
                }
                Phase::HandshakeAck => {
                    c.phase = Phase::Request;
                    (true, ack, 0..0)
                }
                Phase::Request | Phase::Response => {
                    if c.offset == 0 && c.phase == Phase::Request {
                        let style = ResponseStyle {
                            gzip: self.rng.chance(self.cfg.gzip_ratio),
                            chunked: self.rng.chance(self.cfg.chunked_ratio),
                        };
                        let info = write_exchange(
                            &mut self.rng,
                            &c.profile,
                            c.host,
                            style,
                            &mut self.gzipper,
                            self.now_us / MICROS_PER_SEC,
                            &mut c.messages,
                        );
                        c.info = Some(info);
                    }
                    let from_client = c.phase == Phase::Request;
                    let len = if from_client {
                        c.messages.request.len()
                    } else {
                        c.messages.response.len()
                    };
                    let start = c.offset;
                    let end = (start + mss).min(len);
                    c.offset = end;
                    c.unacked_segments += 1;
                    if c.unacked_segments == SEGMENTS_PER_ACK {
                        c.unacked_segments = 0;
                        c.ack_due_from_client = Some(!from_client);
                    }
                    if end == len {
                        c.offset = 0;
                        c.unacked_segments = 0;
                        if from_client {
                            c.phase = Phase::Response;
                        } else {
                            completed = c.info;
                            c.remaining -= 1;
                            c.phase = if c.remaining == 0 {
                                Phase::ClientFin
                            } else {
                                Phase::Request
                            };
                        }
                    }
                    let flags = TcpFlags {
                        psh: end == len,
                        ..ack
                    };
                    (from_client, flags, start..end)
                }
                Phase::ClientFin => {
                    c.phase = Phase::ServerFin;
                    (true, TcpFlags { fin: true, ..ack }, 0..0)
                }
                Phase::ServerFin => {
                    c.phase = Phase::LastAck;
                    (false, TcpFlags { fin: true, ..ack }, 0..0)
                }
                Phase::LastAck => {
                    c.phase = Phase::Done;
                    (true, ack, 0..0)
                }
                Phase::Done => return Err(GenError::Frame("stepped a closed connection".into())),
            }
        };
        let payload: &[u8] = if range.is_empty() {
            &[]
        } else if from_client {
            &c.messages.request[range.clone()]
        } else {
            &c.messages.response[range.clone()]
        };
        let (src, dst) = if from_client {
            (c.client, c.server)
        } else {
            (c.server, c.client)
        };
        let (seq, ack_no, ts_val, ts_ecr) = if from_client {
            let seq = if flags.syn {
                c.client_isn
            } else {
                c.client_next
            };
            let ecr = if flags.syn { 0 } else { server_ts };
            (seq, c.server_next, client_ts, ecr)
        } else {
            let seq = if flags.syn {
                c.server_isn
            } else {
                c.server_next
            };
            (seq, c.client_next, server_ts, client_ts)
        };
        let advance = payload.len() as u32 + u32::from(flags.syn) + u32::from(flags.fin);
        let ip_id = if from_client {
            c.client_next = c.client_next.wrapping_add(advance);
            c.client_ip_id = c.client_ip_id.wrapping_add(1);
            c.client_ip_id
        } else {
            c.server_next = c.server_next.wrapping_add(advance);
            c.server_ip_id = c.server_ip_id.wrapping_add(1);
            c.server_ip_id
        };
        let segment = Segment {
            src,
            dst,
            seq,
            ack: ack_no,
            flags,
            ts_val,
            ts_ecr,
            ip_id,
            mss: self.cfg.mss,
            payload,
            from_client,
        };
        let frame = self.frames.build(&segment)?;
        sink.write_frame(self.now_us, frame)?;
        self.first_packet_us.get_or_insert(self.now_us);
        self.summary.packets += 1;
        self.summary.wire_bytes += frame.len() as u64;
        self.summary.tcp_payload_bytes += payload.len() as u64;
        if let Some(info) = completed {
            self.summary.record(&info);
        }
        Ok(())
    }
}
