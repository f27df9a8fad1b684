//! Exchanges on the wire: one keep-alive TCP connection per client, each exchange written as
//! a request, its response and an acknowledgment, with correct sequence numbers. Frames are
//! collected and sorted by time before they are written, since actors interleave.

use std::net::IpAddr;

use crate::error::GenError;
use crate::frame::{Endpoint, FrameBuilder, Segment, TcpFlags};

/// MSS of the generated connections (Ethernet with timestamps, as Linux).
const MSS: usize = 1448;
/// Server think time: request's last byte to response's first, µs.
const SERVER_LATENCY_US: u64 = 2_000;
/// Gap between a response and the client's acknowledgment, µs.
const ACK_DELAY_US: u64 = 200;
/// Microseconds per millisecond (the TCP timestamp clock).
const US_PER_MS: u64 = 1_000;
/// MAC of the router in front of the server.
const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

/// One frame at its time.
#[derive(Debug)]
pub struct Frame {
    /// Capture time, µs since the epoch.
    pub ts_us: u64,
    /// Order of creation (ties in time keep it).
    pub seq: u64,
    /// The Ethernet frame.
    pub bytes: Vec<u8>,
}

/// Collects frames from every connection.
#[derive(Debug)]
pub struct Wire {
    /// Serialiser.
    frames: FrameBuilder,
    /// Frames so far.
    pub out: Vec<Frame>,
}

/// One TCP connection of a client to the server.
#[derive(Debug)]
pub struct Conn {
    /// Client side.
    client: Endpoint,
    /// Server side.
    server: Endpoint,
    /// Next client sequence number.
    c_next: u32,
    /// Next server sequence number.
    s_next: u32,
    /// Packet time of the last frame.
    pub last_us: u64,
}

impl Default for Wire {
    fn default() -> Self {
        Wire {
            frames: FrameBuilder::new(None),
            out: Vec::new(),
        }
    }
}

impl Wire {
    /// Emit one segment.
    fn emit(&mut self, ts_us: u64, seg: &Segment<'_>) -> Result<(), GenError> {
        let bytes = self.frames.build(seg)?.to_vec();
        let seq = self.out.len() as u64;
        self.out.push(Frame { ts_us, seq, bytes });
        Ok(())
    }

    /// Open a connection from `ip:port` to `server` at `ts_us` (three-way handshake).
    pub fn open(
        &mut self,
        ts_us: u64,
        ip: IpAddr,
        port: u16,
        server: IpAddr,
        isn: u32,
    ) -> Result<Conn, GenError> {
        let mac = match ip {
            IpAddr::V4(a) => {
                let o = a.octets();
                [0x02, 0x0a, o[0], o[1], o[2], o[3]]
            }
            IpAddr::V6(_) => [0x02, 0x0a, 0, 0, 0, 6],
        };
        let mut c = Conn {
            client: Endpoint { ip, port, mac },
            server: Endpoint {
                ip: server,
                port: 80,
                mac: ROUTER_MAC,
            },
            c_next: isn,
            s_next: isn.rotate_left(13) ^ 0x5a5a_5a5a,
            last_us: ts_us,
        };
        let syn = TcpFlags {
            syn: true,
            ..TcpFlags::default()
        };
        let ack = TcpFlags {
            ack: true,
            ..TcpFlags::default()
        };
        self.seg(&mut c, ts_us, true, syn, &[])?;
        self.seg(
            &mut c,
            ts_us + 100,
            false,
            TcpFlags { ack: true, ..syn },
            &[],
        )?;
        self.seg(&mut c, ts_us + 200, true, ack, &[])?;
        Ok(c)
    }

    /// One segment of `c` from the client (`from_client`) or the server.
    fn seg(
        &mut self,
        c: &mut Conn,
        ts_us: u64,
        from_client: bool,
        flags: TcpFlags,
        payload: &[u8],
    ) -> Result<(), GenError> {
        let (src, dst, seq, ack) = if from_client {
            (c.client, c.server, c.c_next, c.s_next)
        } else {
            (c.server, c.client, c.s_next, c.c_next)
        };
        let ts_ms = (ts_us / US_PER_MS) as u32;
        let seg = Segment {
            src,
            dst,
            seq,
            ack,
            flags,
            ts_val: ts_ms,
            ts_ecr: ts_ms,
            ip_id: (seq as u16) ^ (ts_ms as u16),
            mss: MSS as u16,
            payload,
            from_client,
        };
        self.emit(ts_us, &seg)?;
        let advance = payload.len() as u32 + u32::from(flags.syn) + u32::from(flags.fin);
        if from_client {
            c.c_next = c.c_next.wrapping_add(advance);
        } else {
            c.s_next = c.s_next.wrapping_add(advance);
        }
        c.last_us = ts_us;
        Ok(())
    }

    /// A message cut at the MSS, the last segment with PSH.
    fn message(
        &mut self,
        c: &mut Conn,
        ts_us: u64,
        from_client: bool,
        data: &[u8],
    ) -> Result<u64, GenError> {
        let mut t = ts_us;
        let chunks: Vec<&[u8]> = data.chunks(MSS).collect();
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let flags = TcpFlags {
                ack: true,
                psh: i + 1 == n,
                ..TcpFlags::default()
            };
            self.seg(c, t, from_client, flags, chunk)?;
            t += 10;
        }
        Ok(t)
    }

    /// One request and its response on `c`, the request's first byte at `ts_us`.
    pub fn exchange(
        &mut self,
        c: &mut Conn,
        ts_us: u64,
        request: &[u8],
        response: &[u8],
    ) -> Result<(), GenError> {
        let t = self.message(c, ts_us.max(c.last_us + 1), true, request)?;
        let t = self.message(c, t + SERVER_LATENCY_US, false, response)?;
        let ack = TcpFlags {
            ack: true,
            ..TcpFlags::default()
        };
        self.seg(c, t + ACK_DELAY_US, true, ack, &[])
    }

    /// Close `c` at `ts_us`: client FIN, server FIN, client ACK.
    pub fn close(&mut self, mut c: Conn, ts_us: u64) -> Result<(), GenError> {
        let t = ts_us.max(c.last_us + 1);
        let fin = TcpFlags {
            fin: true,
            ack: true,
            ..TcpFlags::default()
        };
        self.seg(&mut c, t, true, fin, &[])?;
        self.seg(&mut c, t + 100, false, fin, &[])?;
        let ack = TcpFlags {
            ack: true,
            ..TcpFlags::default()
        };
        self.seg(&mut c, t + 200, true, ack, &[])
    }

    /// The frames in time order (ties in creation order).
    pub fn sorted(mut self) -> Vec<Frame> {
        self.out.sort_by_key(|f| (f.ts_us, f.seq));
        self.out
    }
}
