//! Fault injection on real TCP captures: drop, reorder, duplicate, overlap, start mid-stream.
//!
//! Every transform takes the packets of a capture (see [`crate::pcapio`]) and returns a new
//! list; edited packets get a correct IPv4 header checksum, IP length and TCP checksum, so
//! the result is a capture a real sensor would accept. Timestamps stay monotonic: moved data
//! takes the timestamp of the slot it lands in. Link types: Ethernet, Linux SLL and SLL2,
//! raw IP, BSD loopback (`tcpdump -i lo` on Linux writes Ethernet).
//!
//! Note: loopback captures carry *unfinished* TCP checksums (the kernel offloads them), so
//! untouched packets of `fixtures/local/*.pcap` do not verify; call [`recompute_checksums`]
//! first if the code under test checks them.
//!
//! How an integration test would use it (the `apitap` binary and its flags are the lead's):
//!
//! ```no_run
//! use apitap_tests::faults::{self, Dir};
//! use apitap_tests::pcapio::{read_pcap, write_pcap};
//!
//! let pkts = read_pcap("../fixtures/local/python-pipelining.pcap").unwrap();
//! // The pipelined connection: the first one to the server port.
//! let conn = faults::conn_by_port(&pkts, 18090).unwrap();
//! // Lose the 2nd payload segment the server sent on it.
//! let lost = faults::nth_payload(&pkts, &conn, Dir::ToClient, 1).unwrap();
//! let faulty = faults::drop_segment(&pkts, |i, _| i == lost);
//! // Oracle: what a first-data-wins reassembler must deliver before the hole.
//! let expected_prefix = faults::reassemble_first_wins(&faulty, &conn, Dir::ToClient);
//! let dir = std::env::temp_dir().join("apitap-gap-test");
//! std::fs::create_dir_all(&dir).unwrap();
//! write_pcap(dir.join("gap.pcap"), &faulty).unwrap();
//! // Then run `apitap --read dir/gap.pcap ...` and assert the response after the hole is
//! // marked with a gap anomaly while the first response is complete.
//! # let _ = expected_prefix;
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use etherparse::{Ipv4Header, Ipv6Header, NetSlice, SlicedPacket, TcpHeader, TransportSlice};

use crate::pcapio::{DataLink, Packet};

/// Direction of a segment relative to a [`Conn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to server (requests).
    ToServer,
    /// Server to client (responses).
    ToClient,
}

/// A decoded TCP segment: addresses, sequence numbers, flags and where its payload lies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSegment {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when `ack` is set).
    pub ack_no: u32,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// Byte range of the TCP payload inside [`Packet::data`].
    pub payload: Range<usize>,
    /// Offset of the IP header inside the packet.
    ip_off: usize,
    /// Offset of the TCP header inside the packet.
    tcp_off: usize,
    /// Whether the network layer is IPv6.
    is_v6: bool,
}

impl TcpSegment {
    /// Number of payload bytes.
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }

    /// Unordered key of the connection this segment belongs to.
    fn conn_key(&self) -> (SocketAddr, SocketAddr) {
        if self.src <= self.dst {
            (self.src, self.dst)
        } else {
            (self.dst, self.src)
        }
    }
}

/// A TCP connection seen in a capture, with its roles decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conn {
    /// The endpoint that opened the connection.
    pub client: SocketAddr,
    /// The endpoint that accepted it.
    pub server: SocketAddr,
}

impl Conn {
    /// Direction of `seg` on this connection, or `None` if it belongs to another one.
    pub fn dir_of(&self, seg: &TcpSegment) -> Option<Dir> {
        if seg.src == self.client && seg.dst == self.server {
            Some(Dir::ToServer)
        } else if seg.src == self.server && seg.dst == self.client {
            Some(Dir::ToClient)
        } else {
            None
        }
    }
}

/// Why a transform refused to act.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultError {
    /// The index is past the end of the packet list.
    #[error("packet index {index} out of range (capture has {len} packets)")]
    OutOfRange {
        /// The index given.
        index: usize,
        /// Number of packets.
        len: usize,
    },
    /// The packet is not a TCP segment this module can decode.
    #[error("packet {index} is not a decodable TCP segment")]
    NotTcp {
        /// The index given.
        index: usize,
    },
    /// The transform needs a segment that carries data.
    #[error("packet {index} carries no TCP payload")]
    NoPayload {
        /// The index given.
        index: usize,
    },
    /// The split points do not describe two overlapping, non-empty parts.
    #[error("bad split of a {len}-byte payload: first [0..{first_end}), second [{second_start}..{len}) must overlap and both be non-empty")]
    BadSplit {
        /// Payload length.
        len: usize,
        /// End of the first part.
        first_end: usize,
        /// Start of the second part.
        second_start: usize,
    },
    /// The rebuilt packet does not fit in the IP length fields.
    #[error("packet {index} too large to rebuild")]
    TooLarge {
        /// The index given.
        index: usize,
    },
}

/// Byte offset of `sub` inside `base` (both from the same packet buffer).
fn offset_in(base: &[u8], sub: &[u8]) -> usize {
    (sub.as_ptr() as usize).saturating_sub(base.as_ptr() as usize)
}

/// The bytes after a cooked header of `header_len` bytes whose EtherType sits at `proto_at`, if IP.
fn ip_after(data: &[u8], proto_at: usize, header_len: usize) -> Option<&[u8]> {
    let proto = data.get(proto_at..proto_at + 2)?;
    match u16::from_be_bytes([proto[0], proto[1]]) {
        0x0800 | 0x86dd => data.get(header_len..),
        _ => None,
    }
}

/// Decode a packet as TCP over IPv4/IPv6; `None` for anything else, fragments and broken frames.
pub fn tcp_segment(pkt: &Packet) -> Option<TcpSegment> {
    let data = &pkt.data[..];
    let sliced = match pkt.linktype {
        DataLink::ETHERNET => SlicedPacket::from_ethernet(data),
        // Linux cooked v1: 16-byte header, protocol in bytes 14..16. Not
        // `SlicedPacket::from_linux_sll`: etherparse 0.21 only accepts ARPHRD_ETHER there, and
        // `tcpdump -i any` labels loopback traffic ARPHRD_LOOPBACK (772).
        DataLink::LINUX_SLL => SlicedPacket::from_ip(ip_after(data, 14, 16)?),
        // Linux cooked v2: 20-byte header, protocol in bytes 0..2.
        DataLink::LINUX_SLL2 => SlicedPacket::from_ip(ip_after(data, 0, 20)?),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => SlicedPacket::from_ip(data),
        // BSD loopback: 4-byte address family, then IP.
        DataLink::NULL | DataLink::LOOP => SlicedPacket::from_ip(data.get(4..)?),
        _ => return None,
    }
    .ok()?;
    let (ip_off, is_v6, src_ip, dst_ip) = match sliced.net.as_ref()? {
        NetSlice::Ipv4(v4) => {
            if v4.is_payload_fragmented() {
                return None;
            }
            let h = v4.header();
            (
                offset_in(data, h.slice()),
                false,
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
            )
        }
        NetSlice::Ipv6(v6) => {
            if v6.is_payload_fragmented() {
                return None;
            }
            let h = v6.header();
            (
                offset_in(data, h.slice()),
                true,
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
            )
        }
        _ => return None,
    };
    let Some(TransportSlice::Tcp(tcp)) = sliced.transport.as_ref() else {
        return None;
    };
    let tcp_off = offset_in(data, tcp.slice());
    let start = tcp_off + tcp.header_slice().len();
    Some(TcpSegment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack_no: tcp.acknowledgment_number(),
        syn: tcp.syn(),
        ack: tcp.ack(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: start..start + tcp.payload().len(),
        ip_off,
        tcp_off,
        is_v6,
    })
}

/// The TCP payload of a packet, or `None` if it is not a TCP segment.
pub fn payload(pkt: &Packet) -> Option<&[u8]> {
    let seg = tcp_segment(pkt)?;
    pkt.data.get(seg.payload)
}

/// Rebuild `pkt` with a new sequence number, FIN flag and payload; fixes lengths and checksums.
fn rebuild(
    pkt: &Packet,
    seg: &TcpSegment,
    seq: u32,
    fin: bool,
    payload: &[u8],
    index: usize,
) -> Result<Packet, FaultError> {
    let too_large = || FaultError::TooLarge { index };
    let not_tcp = || FaultError::NotTcp { index };
    let mut out = pkt.data[..seg.payload.start].to_vec();
    out.extend_from_slice(payload);

    let ip_len = out.len() - seg.ip_off;
    let (src, dst): (IpAddr, IpAddr) = if seg.is_v6 {
        let (mut h, _) = Ipv6Header::from_slice(&out[seg.ip_off..]).map_err(|_| not_tcp())?;
        h.payload_length = u16::try_from(ip_len - Ipv6Header::LEN).map_err(|_| too_large())?;
        out[seg.ip_off..seg.ip_off + Ipv6Header::LEN].copy_from_slice(&h.to_bytes());
        (h.source_addr().into(), h.destination_addr().into())
    } else {
        let (mut h, _) = Ipv4Header::from_slice(&out[seg.ip_off..]).map_err(|_| not_tcp())?;
        h.total_len = u16::try_from(ip_len).map_err(|_| too_large())?;
        h.header_checksum = h.calc_header_checksum();
        let bytes = h.to_bytes();
        out[seg.ip_off..seg.ip_off + bytes.len()].copy_from_slice(&bytes);
        (h.source.into(), h.destination.into())
    };

    let (mut t, _) = TcpHeader::from_slice(&out[seg.tcp_off..]).map_err(|_| not_tcp())?;
    t.sequence_number = seq;
    t.fin = fin;
    t.checksum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => t.calc_checksum_ipv4_raw(s.octets(), d.octets(), payload),
        (IpAddr::V6(s), IpAddr::V6(d)) => t.calc_checksum_ipv6_raw(s.octets(), d.octets(), payload),
        _ => return Err(not_tcp()),
    }
    .map_err(|_| too_large())?;
    let bytes = t.to_bytes();
    out[seg.tcp_off..seg.tcp_off + bytes.len()].copy_from_slice(&bytes);

    Ok(Packet::new(pkt.ts, pkt.linktype, out))
}

/// True when the packet is a TCP segment whose IPv4 header and TCP checksums are correct.
pub fn verify_checksums(pkt: &Packet) -> bool {
    let Some(seg) = tcp_segment(pkt) else {
        return false;
    };
    let data = &pkt.data;
    let Ok((t, _)) = TcpHeader::from_slice(&data[seg.tcp_off..]) else {
        return false;
    };
    let payload = &data[seg.payload.clone()];
    let want = if seg.is_v6 {
        let Ok((h, _)) = Ipv6Header::from_slice(&data[seg.ip_off..]) else {
            return false;
        };
        t.calc_checksum_ipv6(&h, payload)
    } else {
        let Ok((h, _)) = Ipv4Header::from_slice(&data[seg.ip_off..]) else {
            return false;
        };
        if h.calc_header_checksum() != h.header_checksum {
            return false;
        }
        t.calc_checksum_ipv4(&h, payload)
    };
    want == Ok(t.checksum)
}

/// Recompute IP and TCP checksums of every TCP segment (loopback captures leave them unfinished).
pub fn recompute_checksums(pkts: &mut [Packet]) {
    for (i, pkt) in pkts.iter_mut().enumerate() {
        let Some(seg) = tcp_segment(pkt) else {
            continue;
        };
        let body = pkt.data[seg.payload.clone()].to_vec();
        if let Ok(fixed) = rebuild(pkt, &seg, seg.seq, seg.fin, &body, i) {
            *pkt = fixed;
        }
    }
}

/// Every TCP connection in the capture, in order of first appearance.
///
/// Roles: the sender of a SYN without ACK is the client, the sender of a SYN-ACK the server;
/// without a handshake in the capture, the endpoint with the lower port is the server.
pub fn connections(pkts: &[Packet]) -> Vec<Conn> {
    let mut seen: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut out: Vec<Conn> = Vec::new();
    for seg in pkts.iter().filter_map(tcp_segment) {
        let by_handshake = match (seg.syn, seg.ack) {
            (true, false) => Some(Conn {
                client: seg.src,
                server: seg.dst,
            }),
            (true, true) => Some(Conn {
                client: seg.dst,
                server: seg.src,
            }),
            _ => None,
        };
        match seen.get(&seg.conn_key()) {
            Some(&i) => {
                if let Some(c) = by_handshake {
                    out[i] = c;
                }
            }
            None => {
                let conn = by_handshake.unwrap_or(if seg.src.port() < seg.dst.port() {
                    Conn {
                        client: seg.dst,
                        server: seg.src,
                    }
                } else {
                    Conn {
                        client: seg.src,
                        server: seg.dst,
                    }
                });
                seen.insert(seg.conn_key(), out.len());
                out.push(conn);
            }
        }
    }
    out
}

/// The first connection whose client or server port is `port`.
///
/// Pass a server port to get the first connection to it, a client port to get that one.
pub fn conn_by_port(pkts: &[Packet], port: u16) -> Option<Conn> {
    connections(pkts)
        .into_iter()
        .find(|c| c.client.port() == port || c.server.port() == port)
}

/// Indices of the data-carrying segments of `conn` sent in direction `dir`, in capture order.
pub fn payload_segments(pkts: &[Packet], conn: &Conn, dir: Dir) -> Vec<usize> {
    pkts.iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let seg = tcp_segment(p)?;
            (seg.payload_len() > 0 && conn.dir_of(&seg) == Some(dir)).then_some(i)
        })
        .collect()
}

/// Index of the `k`-th (0-based) data-carrying segment of `conn` in direction `dir`.
pub fn nth_payload(pkts: &[Packet], conn: &Conn, dir: Dir, k: usize) -> Option<usize> {
    payload_segments(pkts, conn, dir).get(k).copied()
}

/// Index of the `k`-th (0-based) payload segment sent by the server on the first connection using `port`.
pub fn server_payload(pkts: &[Packet], port: u16, k: usize) -> Option<usize> {
    nth_payload(pkts, &conn_by_port(pkts, port)?, Dir::ToClient, k)
}

/// Index of the `k`-th (0-based) payload segment sent by the client on the first connection using `port`.
pub fn client_payload(pkts: &[Packet], port: u16, k: usize) -> Option<usize> {
    nth_payload(pkts, &conn_by_port(pkts, port)?, Dir::ToServer, k)
}

/// Reference reassembly: the in-order bytes of one direction, earlier-captured data winning overlaps.
///
/// Obviously-correct and slow, for use as a test oracle. Offsets are relative to the SYN's
/// sequence number + 1, or to the first data segment seen without a SYN; the result stops at
/// the first hole.
pub fn reassemble_first_wins(pkts: &[Packet], conn: &Conn, dir: Dir) -> Vec<u8> {
    let segs: Vec<(TcpSegment, &Packet)> = pkts
        .iter()
        .filter_map(|p| Some((tcp_segment(p)?, p)))
        .filter(|(s, _)| conn.dir_of(s) == Some(dir))
        .collect();
    let base = segs
        .iter()
        .find(|(s, _)| s.syn)
        .map(|(s, _)| s.seq.wrapping_add(1))
        .or_else(|| {
            segs.iter()
                .find(|(s, _)| s.payload_len() > 0)
                .map(|(s, _)| s.seq)
        });
    let Some(base) = base else {
        return Vec::new();
    };
    let mut bytes: Vec<Option<u8>> = Vec::new();
    for (seg, pkt) in &segs {
        let rel = seg.seq.wrapping_sub(base);
        if rel > i32::MAX as u32 {
            continue; // before the base: not part of this stream
        }
        let rel = rel as usize;
        for (k, b) in pkt.data[seg.payload.clone()].iter().enumerate() {
            if bytes.len() <= rel + k {
                bytes.resize(rel + k + 1, None);
            }
            bytes[rel + k].get_or_insert(*b);
        }
    }
    bytes.into_iter().map_while(|b| b).collect()
}

/// Check that `index` is a data-carrying TCP segment and decode it.
fn data_segment(pkts: &[Packet], index: usize) -> Result<TcpSegment, FaultError> {
    let pkt = pkts.get(index).ok_or(FaultError::OutOfRange {
        index,
        len: pkts.len(),
    })?;
    let seg = tcp_segment(pkt).ok_or(FaultError::NotTcp { index })?;
    if seg.payload_len() == 0 {
        return Err(FaultError::NoPayload { index });
    }
    Ok(seg)
}

/// Remove every data-carrying TCP segment for which `pred(index, segment)` is true.
///
/// Pure ACKs, SYNs and FINs without data are never removed. Indices are those of `pkts`.
pub fn drop_segment(
    pkts: &[Packet],
    mut pred: impl FnMut(usize, &TcpSegment) -> bool,
) -> Vec<Packet> {
    pkts.iter()
        .enumerate()
        .filter(|(i, p)| match tcp_segment(p) {
            Some(seg) if seg.payload_len() > 0 => !pred(*i, &seg),
            _ => true,
        })
        .map(|(_, p)| p.clone())
        .collect()
}

/// Swap the frames of data segments `i` and `j`; each slot keeps its timestamp.
pub fn reorder(pkts: &[Packet], i: usize, j: usize) -> Result<Vec<Packet>, FaultError> {
    data_segment(pkts, i)?;
    data_segment(pkts, j)?;
    let mut out = pkts.to_vec();
    let (ti, tj) = (out[i].ts, out[j].ts);
    out.swap(i, j);
    out[i].ts = ti;
    out[j].ts = tj;
    Ok(out)
}

/// Retransmit data segment `i` (same bytes) right after packet `after`, with that packet's timestamp.
pub fn duplicate(pkts: &[Packet], i: usize, after: usize) -> Result<Vec<Packet>, FaultError> {
    data_segment(pkts, i)?;
    let anchor = pkts.get(after).ok_or(FaultError::OutOfRange {
        index: after,
        len: pkts.len(),
    })?;
    let mut copy = pkts[i].clone();
    copy.ts = copy.ts.max(anchor.ts);
    let mut out = pkts.to_vec();
    out.insert(after + 1, copy);
    Ok(out)
}

/// Split data segment `i` into `[0..first_end)` then `[second_start..len)` with the same bytes.
///
/// Requires `0 < second_start < first_end <= len`: the parts overlap on
/// `[second_start..first_end)`. Both parts carry the original timestamp; FIN stays on the second.
pub fn overlap(
    pkts: &[Packet],
    i: usize,
    first_end: usize,
    second_start: usize,
) -> Result<Vec<Packet>, FaultError> {
    split_overlapping(pkts, i, first_end, second_start, false)
}

/// Like [`overlap`], but the second part's copy of the overlapping bytes differs from the first's.
///
/// Each overlapping byte of the second part is replaced by `X` (by `Y` where it was `X`), so
/// a "first data wins" reassembler yields the original stream and a "last wins" one does not.
pub fn overlap_conflicting(
    pkts: &[Packet],
    i: usize,
    first_end: usize,
    second_start: usize,
) -> Result<Vec<Packet>, FaultError> {
    split_overlapping(pkts, i, first_end, second_start, true)
}

/// Shared body of [`overlap`] and [`overlap_conflicting`].
fn split_overlapping(
    pkts: &[Packet],
    i: usize,
    first_end: usize,
    second_start: usize,
    conflicting: bool,
) -> Result<Vec<Packet>, FaultError> {
    let seg = data_segment(pkts, i)?;
    let len = seg.payload_len();
    if !(0 < second_start && second_start < first_end && first_end <= len) {
        return Err(FaultError::BadSplit {
            len,
            first_end,
            second_start,
        });
    }
    let body = &pkts[i].data[seg.payload.clone()];
    let first = rebuild(&pkts[i], &seg, seg.seq, false, &body[..first_end], i)?;
    let mut second_body = body[second_start..].to_vec();
    if conflicting {
        for b in &mut second_body[..first_end - second_start] {
            *b = if *b == b'X' { b'Y' } else { b'X' };
        }
    }
    let offset = u32::try_from(second_start).map_err(|_| FaultError::TooLarge { index: i })?;
    let second = rebuild(
        &pkts[i],
        &seg,
        seg.seq.wrapping_add(offset),
        seg.fin,
        &second_body,
        i,
    )?;
    let mut out = pkts.to_vec();
    out[i] = first;
    out.insert(i + 1, second);
    Ok(out)
}

/// Drop the first `n` packets of every TCP connection (handshake included when `n >= 3`).
///
/// Packets that are not TCP are kept.
pub fn start_mid_stream(pkts: &[Packet], n: usize) -> Vec<Packet> {
    let mut count: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    pkts.iter()
        .filter(|p| match tcp_segment(p) {
            Some(seg) => {
                let c = count.entry(seg.conn_key()).or_insert(0);
                *c += 1;
                *c > n
            }
            None => true,
        })
        .cloned()
        .collect()
}

/// Drop every SYN without ACK (the client's opening segment); SYN-ACKs stay.
pub fn lose_syn(pkts: &[Packet]) -> Vec<Packet> {
    pkts.iter()
        .filter(|p| !matches!(tcp_segment(p), Some(s) if s.syn && !s.ack))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcapio::read_pcap;
    use std::path::Path;

    const NGINX_PORT: u16 = 18080;
    const PY_PORT: u16 = 18090;

    fn fixture(name: &str) -> Vec<Packet> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/local")
            .join(name);
        read_pcap(path).unwrap()
    }

    fn nginx() -> Vec<Packet> {
        fixture("nginx-curl.pcap")
    }

    fn python() -> Vec<Packet> {
        fixture("python-pipelining.pcap")
    }

    /// Sorted payloads of all data segments: the multiset of bytes the capture carries.
    fn payload_multiset(pkts: &[Packet]) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = pkts
            .iter()
            .filter_map(|p| payload(p).filter(|b| !b.is_empty()).map(<[u8]>::to_vec))
            .collect();
        v.sort();
        v
    }

    fn monotonic(pkts: &[Packet]) -> bool {
        pkts.windows(2).all(|w| w[0].ts <= w[1].ts)
    }

    #[test]
    fn locates_first_request_and_response() {
        let pkts = nginx();
        let req = client_payload(&pkts, NGINX_PORT, 0).unwrap();
        let resp = server_payload(&pkts, NGINX_PORT, 0).unwrap();
        assert!(payload(&pkts[req])
            .unwrap()
            .starts_with(b"GET / HTTP/1.1\r\n"));
        assert!(payload(&pkts[resp])
            .unwrap()
            .starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(req < resp);
    }

    #[test]
    fn connections_have_roles_from_the_handshake() {
        let conns = connections(&nginx());
        assert_eq!(conns.len(), 7, "one connection per curl run");
        assert!(conns.iter().all(|c| c.server.port() == NGINX_PORT));
        let by_client = conn_by_port(&nginx(), conns[5].client.port()).unwrap();
        assert_eq!(by_client, conns[5]);
    }

    #[test]
    fn pipelined_requests_are_one_segment() {
        let pkts = python();
        let conn = conn_by_port(&pkts, PY_PORT).unwrap();
        let reqs = payload_segments(&pkts, &conn, Dir::ToServer);
        assert_eq!(reqs.len(), 1);
        let body = payload(&pkts[reqs[0]]).unwrap();
        let n = body.windows(9).filter(|w| *w == b" HTTP/1.1").count();
        assert_eq!(n, 3);
    }

    #[test]
    fn reorder_keeps_the_payload_multiset_and_times() {
        let pkts = python();
        let conn = connections(&pkts)[1];
        let a = nth_payload(&pkts, &conn, Dir::ToClient, 0).unwrap();
        let b = nth_payload(&pkts, &conn, Dir::ToClient, 1).unwrap();
        let out = reorder(&pkts, a, b).unwrap();
        assert_eq!(out.len(), pkts.len());
        assert_eq!(payload_multiset(&out), payload_multiset(&pkts));
        assert_eq!(payload(&out[a]), payload(&pkts[b]));
        assert_eq!(payload(&out[b]), payload(&pkts[a]));
        let times: Vec<_> = out.iter().map(|p| p.ts).collect();
        assert_eq!(times, pkts.iter().map(|p| p.ts).collect::<Vec<_>>());
        assert!(monotonic(&out));
        // Reordering changes nothing for a reassembler.
        assert_eq!(
            reassemble_first_wins(&out, &conn, Dir::ToClient),
            reassemble_first_wins(&pkts, &conn, Dir::ToClient)
        );
    }

    #[test]
    fn reorder_refuses_packets_without_data() {
        let pkts = python();
        let data = client_payload(&pkts, PY_PORT, 0).unwrap();
        assert_eq!(
            reorder(&pkts, 0, data),
            Err(FaultError::NoPayload { index: 0 })
        );
        assert_eq!(
            reorder(&pkts, data, 10_000),
            Err(FaultError::OutOfRange {
                index: 10_000,
                len: pkts.len()
            })
        );
    }

    #[test]
    fn drop_removes_exactly_one_packet() {
        let pkts = nginx();
        let victim = server_payload(&pkts, NGINX_PORT, 0).unwrap();
        let out = drop_segment(&pkts, |i, _| i == victim);
        assert_eq!(out.len(), pkts.len() - 1);
        assert_eq!(&out[..victim], &pkts[..victim]);
        assert_eq!(&out[victim..], &pkts[victim + 1..]);
    }

    #[test]
    fn drop_never_removes_control_segments() {
        let pkts = nginx();
        let out = drop_segment(&pkts, |_, _| true);
        assert!(out
            .iter()
            .all(|p| tcp_segment(p).unwrap().payload_len() == 0));
        let data = pkts
            .iter()
            .filter(|p| tcp_segment(p).unwrap().payload_len() > 0)
            .count();
        assert_eq!(out.len(), pkts.len() - data);
    }

    #[test]
    fn drop_leaves_a_hole_for_the_oracle() {
        let pkts = python();
        let conn = connections(&pkts)[1];
        let full = reassemble_first_wins(&pkts, &conn, Dir::ToClient);
        let k1 = nth_payload(&pkts, &conn, Dir::ToClient, 1).unwrap();
        let before = payload(&pkts[nth_payload(&pkts, &conn, Dir::ToClient, 0).unwrap()])
            .unwrap()
            .len();
        let out = drop_segment(&pkts, |i, _| i == k1);
        assert_eq!(
            reassemble_first_wins(&out, &conn, Dir::ToClient),
            &full[..before]
        );
    }

    #[test]
    fn duplicate_retransmits_the_same_bytes_later() {
        let pkts = python();
        let i = server_payload(&pkts, PY_PORT, 0).unwrap();
        let after = i + 3;
        let out = duplicate(&pkts, i, after).unwrap();
        assert_eq!(out.len(), pkts.len() + 1);
        assert_eq!(out[after + 1].data, pkts[i].data);
        assert_eq!(out[after + 1].ts, pkts[after].ts);
        assert!(monotonic(&out));
        let conn = conn_by_port(&pkts, PY_PORT).unwrap();
        assert_eq!(
            reassemble_first_wins(&out, &conn, Dir::ToClient),
            reassemble_first_wins(&pkts, &conn, Dir::ToClient)
        );
    }

    #[test]
    fn overlap_with_same_bytes_reassembles_to_the_original() {
        let pkts = python();
        let conn = conn_by_port(&pkts, PY_PORT).unwrap();
        let i = nth_payload(&pkts, &conn, Dir::ToServer, 0).unwrap();
        let len = payload(&pkts[i]).unwrap().len();
        let out = overlap(&pkts, i, 200, 150).unwrap();
        assert_eq!(out.len(), pkts.len() + 1);
        let (a, b) = (
            tcp_segment(&out[i]).unwrap(),
            tcp_segment(&out[i + 1]).unwrap(),
        );
        let orig = tcp_segment(&pkts[i]).unwrap();
        assert_eq!((a.seq, a.payload_len()), (orig.seq, 200));
        assert_eq!((b.seq, b.payload_len()), (orig.seq + 150, len - 150));
        assert!(verify_checksums(&out[i]) && verify_checksums(&out[i + 1]));
        assert!(monotonic(&out));
        assert_eq!(
            reassemble_first_wins(&out, &conn, Dir::ToServer),
            reassemble_first_wins(&pkts, &conn, Dir::ToServer)
        );
    }

    #[test]
    fn conflicting_overlap_differs_only_in_the_overlap() {
        let pkts = python();
        let conn = conn_by_port(&pkts, PY_PORT).unwrap();
        let i = nth_payload(&pkts, &conn, Dir::ToServer, 0).unwrap();
        let orig = payload(&pkts[i]).unwrap().to_vec();
        let out = overlap_conflicting(&pkts, i, 200, 150).unwrap();
        let second = payload(&out[i + 1]).unwrap();
        assert_eq!(&second[50..], &orig[200..]);
        assert!(second[..50]
            .iter()
            .zip(&orig[150..200])
            .all(|(x, y)| x != y));
        assert!(verify_checksums(&out[i + 1]));
        // First data wins: the stream is unchanged.
        assert_eq!(
            reassemble_first_wins(&out, &conn, Dir::ToServer),
            reassemble_first_wins(&pkts, &conn, Dir::ToServer)
        );
        // Last data wins would see the altered bytes.
        let swapped = reorder(&out, i, i + 1).unwrap();
        assert_ne!(
            reassemble_first_wins(&swapped, &conn, Dir::ToServer),
            reassemble_first_wins(&pkts, &conn, Dir::ToServer)
        );
    }

    #[test]
    fn overlap_rejects_bad_splits() {
        let pkts = python();
        let i = client_payload(&pkts, PY_PORT, 0).unwrap();
        let len = payload(&pkts[i]).unwrap().len();
        for (end, start) in [(100, 100), (100, 0), (len + 1, 10), (10, 20)] {
            assert!(
                matches!(
                    overlap(&pkts, i, end, start),
                    Err(FaultError::BadSplit { .. })
                ),
                "({end}, {start})"
            );
        }
    }

    #[test]
    fn overlap_moves_fin_to_the_second_part() {
        // Build a data+FIN segment from a real one and check the flag lands on the tail.
        let pkts = python();
        let i = client_payload(&pkts, PY_PORT, 0).unwrap();
        let seg = tcp_segment(&pkts[i]).unwrap();
        let body = payload(&pkts[i]).unwrap().to_vec();
        let mut with_fin = pkts.clone();
        with_fin[i] = rebuild(&pkts[i], &seg, seg.seq, true, &body, i).unwrap();
        let out = overlap(&with_fin, i, 20, 10).unwrap();
        assert!(!tcp_segment(&out[i]).unwrap().fin);
        assert!(tcp_segment(&out[i + 1]).unwrap().fin);
    }

    #[test]
    fn start_mid_stream_drops_the_handshake_of_every_connection() {
        let pkts = nginx();
        let out = start_mid_stream(&pkts, 3);
        let conns = connections(&pkts);
        assert_eq!(out.len(), pkts.len() - 3 * conns.len());
        assert!(out.iter().all(|p| !tcp_segment(p).unwrap().syn));
        // Without a handshake the roles come from the ports and still match.
        assert_eq!(connections(&out), conns);
    }

    #[test]
    fn lose_syn_keeps_the_syn_ack() {
        let pkts = python();
        let out = lose_syn(&pkts);
        let conns = connections(&pkts).len();
        assert_eq!(out.len(), pkts.len() - conns);
        let synacks = out
            .iter()
            .filter(|p| matches!(tcp_segment(p), Some(s) if s.syn && s.ack))
            .count();
        assert_eq!(synacks, conns);
        assert_eq!(connections(&out), connections(&pkts));
    }

    #[test]
    fn recompute_checksums_fixes_loopback_offload() {
        let mut pkts = nginx();
        let before = payload_multiset(&pkts);
        recompute_checksums(&mut pkts);
        assert!(pkts.iter().all(verify_checksums));
        assert_eq!(payload_multiset(&pkts), before);
    }

    #[test]
    fn verify_checksums_catches_a_flipped_byte() {
        let mut pkts = python();
        recompute_checksums(&mut pkts);
        let i = client_payload(&pkts, PY_PORT, 0).unwrap();
        let at = tcp_segment(&pkts[i]).unwrap().payload.start;
        pkts[i].data[at] ^= 0x01;
        assert!(!verify_checksums(&pkts[i]));
    }

    /// Re-encapsulate an Ethernet frame as Linux SLL the way `tcpdump -i any` writes `lo` traffic.
    fn to_sll(p: &Packet) -> Packet {
        // packet type 0 (to us), ARPHRD_LOOPBACK (772), address length 6, 8 address bytes.
        let mut data = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
        data.extend_from_slice(&p.data[12..14]); // protocol = the EtherType
        data.extend_from_slice(&p.data[14..]);
        Packet::new(p.ts, DataLink::LINUX_SLL, data)
    }

    /// Re-encapsulate an Ethernet frame as Linux SLL2 (20-byte cooked header).
    fn to_sll2(p: &Packet) -> Packet {
        let mut data = p.data[12..14].to_vec(); // protocol = the EtherType
        data.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
        data.extend_from_slice(&p.data[14..]);
        Packet::new(p.ts, DataLink::LINUX_SLL2, data)
    }

    /// Strip the Ethernet header, leaving raw IP.
    fn to_raw(p: &Packet) -> Packet {
        Packet::new(p.ts, DataLink::RAW, p.data[14..].to_vec())
    }

    #[test]
    fn other_link_types_decode_and_rebuild() {
        let eth = python();
        for convert in [to_sll as fn(&Packet) -> Packet, to_sll2, to_raw] {
            let pkts: Vec<Packet> = eth.iter().map(convert).collect();
            assert_eq!(payload_multiset(&pkts), payload_multiset(&eth));
            assert_eq!(connections(&pkts), connections(&eth));
            let i = client_payload(&pkts, PY_PORT, 0).unwrap();
            let out = overlap_conflicting(&pkts, i, 100, 50).unwrap();
            assert!(verify_checksums(&out[i]) && verify_checksums(&out[i + 1]));
            assert_eq!(out[i].linktype, pkts[i].linktype);
        }
    }

    #[test]
    fn non_tcp_packets_are_left_alone() {
        let junk = Packet::new(
            std::time::Duration::ZERO,
            DataLink::ETHERNET,
            vec![0xff; 40],
        );
        assert_eq!(tcp_segment(&junk), None);
        let pkts = vec![junk.clone()];
        assert_eq!(drop_segment(&pkts, |_, _| true), pkts);
        assert_eq!(start_mid_stream(&pkts, 5), pkts);
        assert_eq!(lose_syn(&pkts), pkts);
        assert_eq!(duplicate(&pkts, 0, 0), Err(FaultError::NotTcp { index: 0 }));
    }
}
