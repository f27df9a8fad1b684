//! Tests of the generator: determinism, completeness of the HTTP exchanges, TCP consistency.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_file::pcap::PcapReader;

use crate::frame::{VXLAN_HEADER_LEN, VXLAN_PORT};
use crate::http::HttpDate;
use crate::{generate, GenError, PcapSink, Summary, TrafficConfig};

/// A small configuration: enough connections and exchanges to exercise every path quickly.
fn small_config(seed: u64) -> TrafficConfig {
    TrafficConfig {
        transactions: 600,
        connections: 40,
        seed,
        max_requests_per_connection: 20,
        gzip_ratio: 0.4,
        chunked_ratio: 0.4,
        ..TrafficConfig::default()
    }
}

/// Generates a capture in memory.
fn generate_pcap(cfg: &TrafficConfig) -> (Vec<u8>, Summary) {
    let mut sink = PcapSink::new(Vec::new()).expect("pcap header");
    let summary = generate(cfg, &mut sink).expect("generation succeeds");
    (sink.into_inner(), summary)
}

/// Reads every frame of a pcap held in memory.
fn frames(pcap: &[u8]) -> Vec<(std::time::Duration, Vec<u8>)> {
    let mut reader = PcapReader::new(pcap).expect("pcap header");
    let mut out = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.expect("valid pcap record");
        assert_eq!(
            pkt.orig_len as usize,
            pkt.data.len(),
            "no frame is truncated"
        );
        out.push((pkt.timestamp, pkt.data.into_owned()));
    }
    out
}

/// One TCP segment as decoded from a frame, with its checksum verified.
#[derive(Debug, Clone)]
struct Seg {
    /// (source ip, source port, destination ip, destination port).
    key: (IpAddr, u16, IpAddr, u16),
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    payload: Vec<u8>,
}

/// Decodes a frame (decapsulating VXLAN when present) and checks the TCP checksum.
fn decode(frame: &[u8]) -> Seg {
    let pkt = SlicedPacket::from_ethernet(frame).expect("valid frame");
    if let Some(TransportSlice::Udp(udp)) = &pkt.transport {
        assert_eq!(udp.destination_port(), VXLAN_PORT);
        return decode(&udp.payload()[VXLAN_HEADER_LEN..]);
    }
    let Some(TransportSlice::Tcp(tcp)) = &pkt.transport else {
        panic!("not TCP: {pkt:?}")
    };
    let (src, dst, sum) = match &pkt.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            assert_eq!(
                h.header_checksum(),
                h.to_header().calc_header_checksum(),
                "IPv4 checksum"
            );
            (
                IpAddr::from(h.source()),
                IpAddr::from(h.destination()),
                tcp.calc_checksum_ipv4(h.source(), h.destination()),
            )
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            (
                IpAddr::from(h.source()),
                IpAddr::from(h.destination()),
                tcp.calc_checksum_ipv6(h.source(), h.destination()),
            )
        }
        other => panic!("unexpected network layer {other:?}"),
    };
    assert_eq!(tcp.checksum(), sum.expect("length fits"), "TCP checksum");
    Seg {
        key: (src, tcp.source_port(), dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        syn: tcp.syn(),
        fin: tcp.fin(),
        payload: tcp.payload().to_vec(),
    }
}

/// Per-direction reassembly state.
#[derive(Debug, Default)]
struct Direction {
    next_seq: Option<u32>,
    /// Data segments sent since the peer last sent an ACK.
    unacked_segments: u32,
    bytes: Vec<u8>,
    fin: bool,
}

/// Reassembles every TCP direction, asserting that sequence and acknowledgment numbers are
/// consistent; returns the (client->server, server->client) byte streams of each connection.
fn reassemble(pcap: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut dirs: BTreeMap<(IpAddr, u16, IpAddr, u16), Direction> = BTreeMap::new();
    let mut clients = Vec::new();
    let mut last_ts = std::time::Duration::ZERO;
    for (ts, frame) in frames(pcap) {
        assert!(ts > last_ts, "timestamps strictly increase");
        last_ts = ts;
        let seg = decode(&frame);
        let rev = (seg.key.2, seg.key.3, seg.key.0, seg.key.1);
        if seg.syn && seg.ack.is_none() {
            assert!(
                !dirs.contains_key(&seg.key),
                "4-tuple reused while open: {:?}",
                seg.key
            );
            clients.push(seg.key);
        }
        let peer_next = dirs.get(&rev).and_then(|d| d.next_seq);
        if let Some(peer) = dirs.get_mut(&rev) {
            peer.unacked_segments = 0;
        }
        let dir = dirs.entry(seg.key).or_default();
        assert!(
            !dir.fin || (seg.payload.is_empty() && !seg.fin),
            "data after FIN on {:?}",
            seg.key
        );
        match dir.next_seq {
            None => {
                assert!(seg.syn, "first segment of a direction is a SYN");
                dir.next_seq = Some(seg.seq);
            }
            Some(next) => {
                assert!(!seg.syn, "no second SYN");
                assert_eq!(
                    seg.seq, next,
                    "contiguous sequence numbers on {:?}",
                    seg.key
                );
            }
        }
        match (seg.ack, peer_next) {
            (Some(ack), Some(peer)) => {
                assert_eq!(ack, peer, "ACK covers exactly what the peer sent")
            }
            (Some(_), None) => panic!("ACK before the peer sent anything"),
            (None, _) => assert!(seg.syn, "only the first SYN lacks ACK"),
        }
        let advance = seg.payload.len() as u32 + u32::from(seg.syn) + u32::from(seg.fin);
        dir.next_seq = Some(seg.seq.wrapping_add(advance));
        dir.bytes.extend_from_slice(&seg.payload);
        dir.unacked_segments += u32::from(!seg.payload.is_empty());
        assert!(
            dir.unacked_segments <= 2,
            "receiver ACKs every second segment"
        );
        dir.fin |= seg.fin;
    }
    clients
        .iter()
        .map(|k| {
            let rev = (k.2, k.3, k.0, k.1);
            let (c, s) = (&dirs[k], &dirs[&rev]);
            assert!(c.fin && s.fin, "every connection is closed by both sides");
            (c.bytes.clone(), s.bytes.clone())
        })
        .collect()
}

/// Counts of the HTTP messages found in the streams.
#[derive(Debug, Default, PartialEq, Eq)]
struct HttpCounts {
    requests: u64,
    responses: u64,
    gzip: u64,
    chunked: u64,
}

/// Returns the value of header `name` (case-insensitive).
fn header<'h>(headers: &'h [httparse::Header<'_>], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| std::str::from_utf8(h.value).expect("ASCII header"))
}

/// Decodes a chunked body at the start of `data`; returns (body, bytes consumed).
fn dechunk(data: &[u8]) -> (Vec<u8>, usize) {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let line_end = pos
            + data[pos..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[pos..line_end]).unwrap(), 16).unwrap();
        pos = line_end + 2;
        if size == 0 {
            assert_eq!(&data[pos..pos + 2], b"\r\n", "no trailers");
            return (body, pos + 2);
        }
        body.extend_from_slice(&data[pos..pos + size]);
        assert_eq!(&data[pos + size..pos + size + 2], b"\r\n");
        pos += size + 2;
    }
}

/// Parses every request and response of one connection, decoding and checking each body.
fn parse_connection(client: &[u8], server: &[u8], counts: &mut HttpCounts) {
    let mut rest = client;
    let mut methods = Vec::new();
    while !rest.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(n) = req.parse(rest).expect("valid request") else {
            panic!("truncated request")
        };
        assert!(req.path.unwrap().starts_with("/api/v1/"));
        assert!(header(req.headers, "Authorization")
            .unwrap()
            .starts_with("Bearer "));
        assert!(header(req.headers, "Cookie")
            .unwrap()
            .starts_with("session="));
        let len: usize = header(req.headers, "Content-Length").map_or(0, |v| v.parse().unwrap());
        if len > 0 {
            serde_json::from_slice::<serde_json::Value>(&rest[n..n + len])
                .expect("JSON request body");
        }
        methods.push(req.method.unwrap().to_owned());
        rest = &rest[n + len..];
        counts.requests += 1;
    }
    let mut rest = server;
    let mut responses = 0;
    while !rest.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(n) = resp.parse(rest).expect("valid response") else {
            panic!("truncated response")
        };
        let code = resp.code.unwrap();
        assert_eq!(
            code == 204,
            methods[responses] == "DELETE",
            "DELETE gets 204"
        );
        let (raw, used) = if header(resp.headers, "Transfer-Encoding") == Some("chunked") {
            counts.chunked += 1;
            dechunk(&rest[n..])
        } else {
            let len: usize =
                header(resp.headers, "Content-Length").map_or(0, |v| v.parse().unwrap());
            (rest[n..n + len].to_vec(), len)
        };
        let body = if header(resp.headers, "Content-Encoding") == Some("gzip") {
            counts.gzip += 1;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .expect("valid gzip");
            out
        } else {
            raw
        };
        if code != 204 {
            serde_json::from_slice::<serde_json::Value>(&body).expect("JSON response body");
        }
        rest = &rest[n + used..];
        responses += 1;
    }
    assert_eq!(responses, methods.len(), "one response per request");
    counts.responses += responses as u64;
}

#[test]
fn same_seed_gives_identical_bytes() {
    let (a, sa) = generate_pcap(&small_config(7));
    let (b, sb) = generate_pcap(&small_config(7));
    assert_eq!(sa, sb);
    assert!(a == b, "pcaps differ for the same seed");
}

#[test]
fn different_seeds_give_different_traffic() {
    let (a, _) = generate_pcap(&small_config(1));
    let (b, _) = generate_pcap(&small_config(2));
    assert!(a != b);
}

#[test]
fn every_transaction_appears_and_decodes() {
    let cfg = small_config(3);
    let (pcap, summary) = generate_pcap(&cfg);
    assert_eq!(summary.transactions, cfg.transactions);
    let connections = reassemble(&pcap);
    assert_eq!(connections.len() as u64, summary.connections);
    let mut counts = HttpCounts::default();
    for (client, server) in &connections {
        parse_connection(client, server, &mut counts);
    }
    assert_eq!(
        counts,
        HttpCounts {
            requests: cfg.transactions,
            responses: cfg.transactions,
            gzip: summary.gzip_responses,
            chunked: summary.chunked_responses,
        }
    );
    assert!(summary.gzip_responses > 0 && summary.chunked_responses > 0);
    let statuses =
        summary.status_200 + summary.status_201 + summary.status_204 + summary.status_404;
    assert_eq!(statuses, cfg.transactions);
}

#[test]
fn summary_counts_match_the_pcap() {
    let cfg = small_config(4);
    let (pcap, summary) = generate_pcap(&cfg);
    let frames = frames(&pcap);
    assert_eq!(frames.len() as u64, summary.packets);
    assert_eq!(
        frames.iter().map(|(_, f)| f.len() as u64).sum::<u64>(),
        summary.wire_bytes
    );
    let first = frames.first().unwrap().0;
    let last = frames.last().unwrap().0;
    assert_eq!((last - first).as_micros() as u64, summary.duration_us);
}

#[test]
fn connections_run_concurrently_up_to_the_flag() {
    let cfg = TrafficConfig {
        transactions: 5_000,
        connections: 300,
        ..small_config(5)
    };
    let (_, summary) = generate_pcap(&cfg);
    assert_eq!(summary.max_concurrent_connections, 300);
    assert!(
        summary.connections > 300,
        "connections are replaced as they close"
    );
}

#[test]
fn segments_respect_the_mss() {
    let cfg = TrafficConfig {
        mss: 536,
        ..small_config(6)
    };
    let (pcap, _) = generate_pcap(&cfg);
    let max = frames(&pcap)
        .iter()
        .map(|(_, f)| decode(f).payload.len())
        .max()
        .unwrap();
    assert_eq!(max, 536);
}

#[test]
fn ipv6_connections_are_consistent() {
    let cfg = TrafficConfig {
        ipv6_ratio: 0.5,
        ..small_config(8)
    };
    let (pcap, summary) = generate_pcap(&cfg);
    let mut counts = HttpCounts::default();
    for (client, server) in reassemble(&pcap) {
        parse_connection(&client, &server, &mut counts);
    }
    assert_eq!(counts.responses, summary.transactions);
    let v6 = frames(&pcap)
        .iter()
        .filter(|(_, f)| decode(f).key.0.is_ipv6())
        .count();
    assert!(v6 > 0, "some connections use IPv6");
}

#[test]
fn vxlan_wraps_the_same_inner_frames() {
    let plain = small_config(9);
    let wrapped = TrafficConfig {
        vxlan: Some(4242),
        ..small_config(9)
    };
    let (a, sa) = generate_pcap(&plain);
    let (b, sb) = generate_pcap(&wrapped);
    assert_eq!(sa.packets, sb.packets);
    for ((_, inner), (_, outer)) in frames(&a).iter().zip(frames(&b).iter()) {
        let pkt = SlicedPacket::from_ethernet(outer).unwrap();
        let Some(TransportSlice::Udp(udp)) = pkt.transport else {
            panic!("outer is UDP")
        };
        assert_eq!(udp.destination_port(), VXLAN_PORT);
        let vxlan = &udp.payload()[..VXLAN_HEADER_LEN];
        assert_eq!(vxlan[0], 0x08, "I flag");
        assert_eq!(u32::from_be_bytes([0, vxlan[4], vxlan[5], vxlan[6]]), 4242);
        assert_eq!(&udp.payload()[VXLAN_HEADER_LEN..], &inner[..]);
    }
}

#[test]
fn http_date_formats_a_known_instant() {
    assert_eq!(
        HttpDate(1_700_000_000).to_string(),
        "Tue, 14 Nov 2023 22:13:20 GMT"
    );
    assert_eq!(
        HttpDate(951_782_400).to_string(),
        "Tue, 29 Feb 2000 00:00:00 GMT"
    );
    assert_eq!(HttpDate(0).to_string(), "Thu, 01 Jan 1970 00:00:00 GMT");
}

#[test]
fn invalid_flags_are_rejected_with_the_flag_name() {
    let bad = [
        (
            TrafficConfig {
                gzip_ratio: 1.5,
                ..TrafficConfig::default()
            },
            "--gzip-ratio",
        ),
        (
            TrafficConfig {
                connections: 0,
                ..TrafficConfig::default()
            },
            "--connections",
        ),
        (
            TrafficConfig {
                mss: 100,
                ..TrafficConfig::default()
            },
            "--mss",
        ),
        (
            TrafficConfig {
                vxlan: Some(1 << 24),
                ..TrafficConfig::default()
            },
            "--vxlan",
        ),
    ];
    for (cfg, flag) in bad {
        let mut sink = PcapSink::new(Vec::new()).unwrap();
        let err = generate(&cfg, &mut sink).unwrap_err();
        assert!(
            matches!(&err, GenError::InvalidConfig(m) if m.contains(flag)),
            "{err}"
        );
    }
}
