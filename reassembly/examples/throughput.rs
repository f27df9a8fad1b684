//! Rough single-thread throughput of `Reassembler::process` on in-order traffic over many flows.
//!
//! `cargo run --release -p apitap-reassembly --example throughput`

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Instant;

use apitap_reassembly::{Checksum, Reassembler, ReassemblyConfig, Segment, StreamEvent, TcpFlags};

/// Concurrent flows, interleaved round-robin.
const FLOWS: u32 = 10_000;
/// Segments per flow.
const ROUNDS: u32 = 200;
/// Payload bytes per segment.
const PAYLOAD: usize = 512;

fn main() {
    let payload = vec![b'x'; PAYLOAD];
    let server = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80));
    let clients: Vec<SocketAddr> = (0..FLOWS)
        .map(|i| {
            let ip = Ipv4Addr::from(0x0a01_0000 + i);
            SocketAddr::V4(SocketAddrV4::new(ip, 40_000 + (i % 20_000) as u16))
        })
        .collect();
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let mut bytes = 0u64;
    let mut sink = |ev: StreamEvent<'_>| {
        if let StreamEvent::Data { data, .. } = ev {
            bytes += data.len() as u64;
        }
    };
    let start = Instant::now();
    let mut ts = 1_700_000_000_000_000u64;
    for round in 0..ROUNDS {
        for (i, &client) in clients.iter().enumerate() {
            ts += 1;
            // Requests from the client, acknowledged responses from the server.
            let from_client = (round + i as u32) % 2 == 0;
            let (src, dst) = if from_client {
                (client, server)
            } else {
                (server, client)
            };
            let seg = Segment {
                zone: 0,
                src,
                dst,
                seq: 1 + (round / 2) * PAYLOAD as u32,
                ack: 1 + (round / 2) * PAYLOAD as u32,
                flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
                payload: &payload,
                ttl: 64,
                checksum: Checksum::NotChecked,
            };
            r.process(ts, &seg, &mut sink);
        }
        if round % 10 == 0 {
            r.expire(ts, &mut sink);
        }
    }
    let elapsed = start.elapsed();
    r.flush(ts, &mut sink);
    let segments = u64::from(FLOWS) * u64::from(ROUNDS);
    println!(
        "{segments} segments, {bytes} bytes in {elapsed:?}: {:.1} ns/segment, {:.2} M segments/s",
        elapsed.as_nanos() as f64 / segments as f64,
        segments as f64 / elapsed.as_secs_f64() / 1e6
    );
}
