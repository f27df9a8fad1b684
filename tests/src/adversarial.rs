//! Captures that make a sensor hold memory, written packet by packet (issue 20, item 4): a
//! SYN flood, connections parked on an unfinished request head, and connections with many
//! pipelined requests no response answers. `tests/tests/memory.rs` replays small ones;
//! `scripts/bench-memory.sh` writes the large ones with the `adversarial-pcap` binary.
//!
//! Every frame is Ethernet, IPv4 and TCP with correct checksums (etherparse computes them).
//! Clients are `10.<a>.<b>.<c>` (one address per connection, so connections never share a
//! four-tuple), the server `192.168.0.1:80`; packets are 1 µs apart.

use std::io::Write;
use std::time::Duration;

use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, PcapError};

/// Payload bytes per segment: an Ethernet MSS with timestamps (1500 - 20 - 20 - 12).
pub const MSS: usize = 1448;

/// The server every connection talks to.
const SERVER: ([u8; 4], u16) = ([192, 168, 0, 1], 80);

/// Initial sequence numbers (any value does; fixed for reproducible captures).
const CLIENT_ISN: u32 = 1_000;
const SERVER_ISN: u32 = 5_000_000;

/// Receive window advertised by both sides.
const WINDOW: u16 = 65_535;

/// First packet time: 2026-01-01T00:00:00Z.
const START_S: u64 = 1_767_225_600;

/// What a capture holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// `syns` SYNs from distinct clients, none answered: half-open flows only.
    SynFlood {
        /// SYNs (= half-open connections).
        syns: u32,
    },
    /// `conns` connections, each sending a request head of `head_bytes` without the empty
    /// line that ends it, interleaved so that all are parked at once; the server acknowledges.
    ParkedHeads {
        /// Connections.
        conns: u32,
        /// Bytes of each unfinished head.
        head_bytes: usize,
    },
    /// `conns` connections, each pipelining `requests` complete requests of `request_bytes`
    /// (a head with a padding field), interleaved; the server acknowledges and never answers.
    Pipelined {
        /// Connections.
        conns: u32,
        /// Requests per connection.
        requests: u32,
        /// Bytes of each request.
        request_bytes: usize,
    },
}

/// Why a capture could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The pcap writer failed.
    #[error("cannot write the capture: {0}")]
    Pcap(#[from] PcapError),
    /// etherparse refused a frame.
    #[error("cannot build a frame: {0}")]
    Frame(String),
}

/// One TCP connection's state while its packets are written.
struct Tcp {
    client: ([u8; 4], u16),
    client_seq: u32,
    server_seq: u32,
}

/// A pcap writer that numbers packet times.
struct Writer<W: Write> {
    pcap: PcapWriter<W>,
    packets: u64,
    frame: Vec<u8>,
}

impl<W: Write> Writer<W> {
    fn new(w: W) -> Result<Self, WriteError> {
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            ..PcapHeader::default()
        };
        Ok(Writer {
            pcap: PcapWriter::with_header(w, header)?,
            packets: 0,
            frame: Vec::with_capacity(MSS + 64),
        })
    }

    /// One segment from the client (`to_server`) or the server, with these flags.
    fn segment(
        &mut self,
        c: &Tcp,
        to_server: bool,
        flags: Flags,
        payload: &[u8],
    ) -> Result<(), WriteError> {
        let (src, dst) = if to_server {
            (c.client, SERVER)
        } else {
            (SERVER, c.client)
        };
        let (seq, ack) = if to_server {
            (c.client_seq, c.server_seq)
        } else {
            (c.server_seq, c.client_seq)
        };
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, seq, WINDOW);
        if flags.syn {
            b = b.syn();
        }
        if flags.ack {
            b = b.ack(ack);
        }
        if flags.psh {
            b = b.psh();
        }
        self.frame.clear();
        b.write(&mut self.frame, payload)
            .map_err(|e| WriteError::Frame(e.to_string()))?;
        let ts = Duration::from_secs(START_S) + Duration::from_micros(self.packets);
        let len = u32::try_from(self.frame.len()).unwrap_or(u32::MAX);
        self.pcap
            .write_packet(&PcapPacket::new(ts, len, &self.frame))?;
        self.packets += 1;
        Ok(())
    }

    /// Client bytes in MSS-sized segments, each acknowledged by the server.
    fn send(&mut self, c: &mut Tcp, bytes: &[u8]) -> Result<(), WriteError> {
        for chunk in bytes.chunks(MSS) {
            self.segment(c, true, Flags::DATA, chunk)?;
            c.client_seq = c.client_seq.wrapping_add(chunk.len() as u32);
            self.segment(c, false, Flags::ACK, &[])?;
        }
        Ok(())
    }

    /// The three-way handshake of `c`.
    fn handshake(&mut self, c: &mut Tcp) -> Result<(), WriteError> {
        self.segment(c, true, Flags::SYN, &[])?;
        c.client_seq = c.client_seq.wrapping_add(1);
        self.segment(c, false, Flags::SYN_ACK, &[])?;
        c.server_seq = c.server_seq.wrapping_add(1);
        self.segment(c, true, Flags::ACK, &[])
    }
}

/// TCP flags of a segment.
#[derive(Clone, Copy)]
struct Flags {
    syn: bool,
    ack: bool,
    psh: bool,
}

impl Flags {
    const SYN: Flags = Flags {
        syn: true,
        ack: false,
        psh: false,
    };
    const SYN_ACK: Flags = Flags {
        syn: true,
        ack: true,
        psh: false,
    };
    const ACK: Flags = Flags {
        syn: false,
        ack: true,
        psh: false,
    };
    const DATA: Flags = Flags {
        syn: false,
        ack: true,
        psh: true,
    };
}

/// Connection `i`'s client: a distinct address per connection (up to 2^24).
fn client(i: u32) -> Tcp {
    let [_, a, b, c] = i.to_be_bytes();
    Tcp {
        client: ([10, a, b, c], 40_000 + (i % 20_000) as u16),
        client_seq: CLIENT_ISN,
        server_seq: SERVER_ISN,
    }
}

/// A request head of exactly `len` bytes (at least 64), the final empty line included when
/// `finished`.
pub fn request_head(n: u32, len: usize, finished: bool) -> Vec<u8> {
    let mut h = format!("GET /item/{n} HTTP/1.1\r\nhost: api.example\r\nx-pad: ").into_bytes();
    let end: &[u8] = if finished { b"\r\n\r\n" } else { b"" };
    let pad = len.saturating_sub(h.len() + end.len());
    h.resize(h.len() + pad, b'a');
    h.extend_from_slice(end);
    h
}

/// Write `scenario` as a pcap to `w`; returns the packets written.
pub fn write(scenario: Scenario, w: impl Write) -> Result<u64, WriteError> {
    let mut out = Writer::new(w)?;
    match scenario {
        Scenario::SynFlood { syns } => {
            for i in 0..syns {
                out.segment(&client(i), true, Flags::SYN, &[])?;
            }
        }
        Scenario::ParkedHeads { conns, head_bytes } => {
            let mut tcp: Vec<Tcp> = (0..conns).map(client).collect();
            for c in &mut tcp {
                out.handshake(c)?;
            }
            let head = request_head(0, head_bytes, false);
            for chunk in head.chunks(MSS) {
                for c in &mut tcp {
                    out.send(c, chunk)?;
                }
            }
        }
        Scenario::Pipelined {
            conns,
            requests,
            request_bytes,
        } => {
            let mut tcp: Vec<Tcp> = (0..conns).map(client).collect();
            for c in &mut tcp {
                out.handshake(c)?;
            }
            for n in 0..requests {
                let req = request_head(n, request_bytes, true);
                for c in &mut tcp {
                    out.send(c, &req)?;
                }
            }
        }
    }
    Ok(out.packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_have_the_length_asked_and_end_only_when_finished() {
        let h = request_head(7, 1000, false);
        assert_eq!(h.len(), 1000);
        assert!(!h.ends_with(b"\r\n\r\n"));
        let h = request_head(7, 1000, true);
        assert_eq!(h.len(), 1000);
        assert!(h.ends_with(b"\r\n\r\n") && h.starts_with(b"GET /item/7 HTTP/1.1\r\n"));
    }

    #[test]
    fn captures_read_back_as_the_packets_written() {
        let mut buf = Vec::new();
        let n = write(
            Scenario::ParkedHeads {
                conns: 3,
                head_bytes: 3000,
            },
            &mut buf,
        )
        .unwrap();
        // 3 handshakes, then 3 segments per head, each acknowledged.
        assert_eq!(n, 3 * 3 + 3 * 3 * 2);
        let pkts = crate::pcapio::read_pcap_from(&buf[..]).unwrap();
        assert_eq!(pkts.len() as u64, n);
        assert!(pkts.iter().all(crate::faults::verify_checksums));
        let conns = crate::faults::connections(&pkts);
        assert_eq!(conns.len(), 3);
        let stream =
            crate::faults::reassemble_first_wins(&pkts, &conns[0], crate::faults::Dir::ToServer);
        assert_eq!(stream, request_head(0, 3000, false));
    }
}
