//! Capture → workers: packets copied into per-worker batches, chosen by a symmetric hash of the
//! flow so that both directions of a connection reach the same worker.

use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::capture::PacketRef;
use crate::decode::{DecodeConfig, Decoder, LinkType};

/// Packets per batch: one channel operation and one counter update per this many packets.
pub const BATCH_PACKETS: usize = 256;

/// A partial batch is handed on once its first packet is this old (packet time), so a quiet
/// link does not hold packets back.
const BATCH_MAX_AGE_US: u64 = 5_000;

/// Where one packet of a batch is.
#[derive(Clone, Copy, Debug)]
pub struct PacketMeta {
    /// Packet time, microseconds since the UNIX epoch.
    pub ts_us: u64,
    /// Length on the wire.
    pub wire_len: u32,
    /// Captured bytes in the batch's buffer, from `start`.
    pub caplen: u32,
    /// Offset in the batch's buffer.
    pub start: usize,
    /// Link type of the interface or file it came from.
    pub link: LinkType,
}

/// Packets for one worker, copied out of the capture buffer into one allocation.
#[derive(Debug, Default)]
pub struct PacketBatch {
    /// Captured bytes of every packet, back to back.
    pub data: Vec<u8>,
    /// One entry per packet, in capture order.
    pub meta: Vec<PacketMeta>,
}

impl PacketBatch {
    fn with_capacity(packets: usize, bytes: usize) -> Self {
        PacketBatch {
            data: Vec::with_capacity(bytes),
            meta: Vec::with_capacity(packets),
        }
    }

    /// The packets, borrowed from the batch.
    pub fn packets(&self) -> impl Iterator<Item = PacketRef<'_>> {
        self.meta.iter().map(|m| PacketRef {
            ts_us: m.ts_us,
            link: m.link,
            data: self
                .data
                .get(m.start..m.start + m.caplen as usize)
                .unwrap_or_default(),
            wire_len: m.wire_len,
        })
    }

    /// Packets in the batch.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// True when the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Remove every packet, keeping the buffers for reuse.
    pub fn clear(&mut self) {
        self.data.clear();
        self.meta.clear();
    }
}

/// What a worker receives.
#[derive(Debug)]
pub enum ToWorker {
    /// Packets of its flows.
    Packets(PacketBatch),
    /// The wall clock (live capture): lets idle flows and sessions expire when no packet
    /// arrives. Microseconds since the UNIX epoch, the same clock as live packet times.
    Tick(u64),
}

/// Symmetric flow hash: the same value for both directions of a connection (the endpoints are
/// sorted before hashing), with a fixed seed so replay sharding is the same on every run.
/// The tunnel zone is left out: zone numbers are per decoder, and each capture thread has its
/// own, while the two directions of a flow may arrive on two interfaces (a TAP's two ports).
pub fn flow_hash(a: SocketAddr, b: SocketAddr) -> u64 {
    hash_endpoints(endpoint(a), endpoint(b))
}

/// An endpoint as hashed: the address as a number (IPv4 in the low 32 bits) and the port.
type Endpoint = (u128, u16);

/// [`Endpoint`] of a socket address.
fn endpoint(a: SocketAddr) -> Endpoint {
    let ip = match a.ip() {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    (ip, a.port())
}

/// Seed of [`flow_hash`].
const FLOW_HASH_SEED: u64 = 0x6170_6974_6170;

/// The hash behind [`flow_hash`] and the dispatcher's fixed-offset path: both must give the
/// same value for the same connection, whichever path each of its packets takes.
fn hash_endpoints(a: Endpoint, b: Endpoint) -> u64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = foldhash::fast::FixedState::with_seed(FLOW_HASH_SEED).build_hasher();
    h.write_u128(lo.0);
    h.write_u16(lo.1);
    h.write_u128(hi.0);
    h.write_u16(hi.1);
    h.finish()
}

/// Ethernet header bytes before the EtherType's payload (no VLAN tag).
const ETHERNET_HEADER: usize = 14;

/// The endpoints of an untagged Ethernet / IPv4 / TCP packet that is not a fragment, read at
/// fixed offsets: most mirrored packets, without the full decoder. None for anything else
/// (VLANs, IPv6, tunnels, fragments, other link types), which takes the decoder's path.
fn ipv4_tcp_endpoints(link: LinkType, d: &[u8]) -> Option<(Endpoint, Endpoint)> {
    if link != LinkType::Ethernet || d.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = d.get(ETHERNET_HEADER..)?;
    let version_ihl = *ip.first()?;
    let ihl = usize::from(version_ihl & 0x0F) * 4;
    let flags_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    // Version 4, a valid header length, TCP, neither More Fragments nor an offset.
    if version_ihl >> 4 != 4 || ihl < 20 || *ip.get(9)? != 6 || flags_offset & 0x3FFF != 0 {
        return None;
    }
    let addr = |at: usize| -> Option<u128> {
        let b: [u8; 4] = ip.get(at..at + 4)?.try_into().ok()?;
        Some(u128::from(u32::from_be_bytes(b)))
    };
    let port =
        |at: usize| -> Option<u16> { Some(u16::from_be_bytes([*ip.get(at)?, *ip.get(at + 1)?])) };
    Some(((addr(12)?, port(ihl)?), (addr(16)?, port(ihl + 2)?)))
}

/// Splits packets into per-worker batches. Owned by the thread that reads packets.
pub struct Dispatcher {
    /// Decodes headers only to find the flow; its counters are not reported (the worker's
    /// decoder counts every packet once).
    decoder: Decoder,
    /// The batch being filled for each worker.
    pending: Vec<PacketBatch>,
    /// Packet time of the first packet of each pending batch.
    pending_since_us: Vec<u64>,
    /// Bytes a new batch's buffer starts with: the last full batch's plus an eighth, so
    /// that the buffer is not grown (and copied) while it fills.
    data_hint: usize,
    /// Batches the workers emptied, to be filled again: buffers are allocated once instead
    /// of once per batch (a fresh buffer filled here and freed on a worker's thread costs
    /// page faults and cross-thread frees on every batch).
    recycled: Option<Receiver<PacketBatch>>,
}

/// Bytes per packet a batch's buffer is sized for before any batch has filled.
const INITIAL_BYTES_PER_PACKET: usize = 512;

impl Dispatcher {
    /// A dispatcher for `workers` workers (at least 1), decoding tunnels as `cfg` says.
    pub fn new(cfg: &DecodeConfig, workers: usize) -> Self {
        let n = workers.max(1);
        Dispatcher {
            decoder: Decoder::with_config(cfg),
            pending: (0..n).map(|_| PacketBatch::default()).collect(),
            pending_since_us: vec![0; n],
            data_hint: BATCH_PACKETS * INITIAL_BYTES_PER_PACKET,
            recycled: None,
        }
    }

    /// Reuse the batches that come back on `recycled` (see [`crate::shard::Sharded`]).
    pub fn recycling(mut self, recycled: Receiver<PacketBatch>) -> Self {
        self.recycled = Some(recycled);
        self
    }

    /// An empty batch: a recycled one when there is one.
    fn fresh_batch(&self) -> PacketBatch {
        self.recycled
            .as_ref()
            .and_then(|r| r.try_recv().ok())
            .unwrap_or_else(|| PacketBatch::with_capacity(BATCH_PACKETS, self.data_hint))
    }

    /// The worker of a packet: by the flow of its TCP segment (inside any tunnel), worker 0
    /// for anything that does not decode. IP fragments are not reassembled here, so every
    /// fragment goes to worker 0, which reassembles them: a TCP flow whose packets are only
    /// sometimes fragmented is split between two workers (rare; counted as mid-stream pickups).
    #[inline]
    fn shard(&mut self, pkt: &PacketRef<'_>) -> usize {
        let n = self.pending.len();
        if n == 1 {
            return 0;
        }
        let hash = match ipv4_tcp_endpoints(pkt.link, pkt.data) {
            Some((a, b)) => hash_endpoints(a, b),
            None => match self.decoder.decode(pkt.link, pkt.data, pkt.wire_len) {
                Some(seg) => flow_hash(seg.src, seg.dst),
                None => return 0,
            },
        };
        (hash % n as u64) as usize
    }

    /// Copy `pkt` into its worker's batch; `ready(worker, batch)` is called with every batch
    /// that is full or old enough.
    #[inline]
    pub fn push(&mut self, pkt: PacketRef<'_>, mut ready: impl FnMut(usize, PacketBatch)) {
        let w = self.shard(&pkt);
        let since = self.pending_since_us[w];
        if self.pending.get(w).is_some_and(|b| b.meta.capacity() == 0) {
            self.pending[w] = self.fresh_batch();
        }
        let Some(batch) = self.pending.get_mut(w) else {
            return;
        };
        if batch.is_empty() {
            self.pending_since_us[w] = pkt.ts_us;
        }
        let start = batch.data.len();
        batch.data.extend_from_slice(pkt.data);
        batch.meta.push(PacketMeta {
            ts_us: pkt.ts_us,
            wire_len: pkt.wire_len,
            caplen: pkt.data.len() as u32,
            start,
            link: pkt.link,
        });
        if batch.len() >= BATCH_PACKETS {
            let used = batch.data.len();
            self.data_hint = used + used / 8;
            ready(w, std::mem::take(batch));
        }
        // Hand on other workers' partial batches that waited too long (packet time).
        if pkt.ts_us.saturating_sub(since) > BATCH_MAX_AGE_US {
            self.flush_older_than(pkt.ts_us, &mut ready);
        }
    }

    /// Hand on every partial batch whose first packet is older than the age bound.
    fn flush_older_than(&mut self, now_us: u64, ready: &mut impl FnMut(usize, PacketBatch)) {
        for (w, batch) in self.pending.iter_mut().enumerate() {
            if !batch.is_empty()
                && now_us.saturating_sub(self.pending_since_us[w]) > BATCH_MAX_AGE_US
            {
                ready(w, std::mem::take(batch));
            }
        }
    }

    /// Hand on every partial batch (end of input, capture timeout, shutdown).
    pub fn flush(&mut self, mut ready: impl FnMut(usize, PacketBatch)) {
        for (w, batch) in self.pending.iter_mut().enumerate() {
            if !batch.is_empty() {
                ready(w, std::mem::take(batch));
            }
        }
    }
}

/// Packets and batches dropped because a worker's queue was full.
#[derive(Debug, Default)]
pub struct QueueDrops {
    /// Packets dropped.
    pub packets: AtomicU64,
    /// Batches dropped.
    pub batches: AtomicU64,
}

/// Sends batches from a live capture thread: never blocks, a full queue drops the batch and
/// counts it.
#[derive(Clone)]
pub struct Router {
    /// One queue per worker.
    pub txs: Vec<Sender<ToWorker>>,
    /// Where drops are counted.
    pub drops: std::sync::Arc<QueueDrops>,
}

/// At shutdown, how long the last partial batches may wait for room in a worker's queue.
const FINAL_SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

impl Router {
    /// Send the last batches of a stopping capture: waits a little for room, then drops and
    /// counts.
    pub fn send_final(&self, w: usize, batch: PacketBatch) {
        let n = batch.len() as u64;
        let Some(tx) = self.txs.get(w) else { return };
        if tx
            .send_timeout(ToWorker::Packets(batch), FINAL_SEND_TIMEOUT)
            .is_err()
        {
            self.drops.packets.fetch_add(n, Ordering::Relaxed);
            self.drops.batches.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Send `batch` to worker `w`, or drop and count it.
    pub fn send(&self, w: usize, batch: PacketBatch) {
        let n = batch.len() as u64;
        let Some(tx) = self.txs.get(w) else { return };
        match tx.try_send(ToWorker::Packets(batch)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.drops.packets.fetch_add(n, Ordering::Relaxed);
                self.drops.batches.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_hash_is_symmetric() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let c: SocketAddr = "10.0.0.3:80".parse().unwrap();
        assert_eq!(flow_hash(a, b), flow_hash(b, a));
        assert_ne!(flow_hash(a, b), flow_hash(a, c));
    }

    /// An Ethernet frame with one TCP segment, VLAN-tagged when `vlan` is given.
    fn frame(src: SocketAddr, dst: SocketAddr, vlan: Option<u16>) -> Vec<u8> {
        let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else {
            unreachable!("IPv4 only")
        };
        let eth = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6]);
        let ip = match vlan {
            Some(id) => eth
                .single_vlan(etherparse::VlanId::try_new(id).unwrap())
                .ipv4(s.ip().octets(), d.ip().octets(), 64),
            None => eth.ipv4(s.ip().octets(), d.ip().octets(), 64),
        };
        let b = ip.tcp(s.port(), d.port(), 1000, 65535);
        let mut out = Vec::new();
        b.write(&mut out, b"GET / HTTP/1.1\r\n\r\n").unwrap();
        out
    }

    #[test]
    fn fixed_offset_path_hashes_like_the_decoder() {
        let a: SocketAddr = "10.1.2.3:40000".parse().unwrap();
        let b: SocketAddr = "172.16.0.9:8080".parse().unwrap();
        let mut dec = Decoder::with_config(&DecodeConfig::default());
        for (x, y) in [(a, b), (b, a)] {
            let f = frame(x, y, None);
            let (ex, ey) = ipv4_tcp_endpoints(LinkType::Ethernet, &f).expect("fast path");
            let seg = dec
                .decode(LinkType::Ethernet, &f, f.len() as u32)
                .expect("decodes");
            assert_eq!(hash_endpoints(ex, ey), flow_hash(seg.src, seg.dst));
            assert_eq!(hash_endpoints(ex, ey), flow_hash(a, b));
        }
        // A tagged copy of the flow takes the decoder's path and lands on the same worker.
        let tagged = frame(a, b, Some(7));
        assert!(ipv4_tcp_endpoints(LinkType::Ethernet, &tagged).is_none());
        let mut d = Dispatcher::new(&DecodeConfig::default(), 4);
        let plain = frame(b, a, None);
        let shard = |d: &mut Dispatcher, data: &[u8]| {
            d.shard(&PacketRef {
                ts_us: 0,
                link: LinkType::Ethernet,
                data,
                wire_len: data.len() as u32,
            })
        };
        assert_eq!(shard(&mut d, &tagged), shard(&mut d, &plain));
        // Fragments (More Fragments set) and truncated headers are left to the decoder.
        let mut frag = frame(a, b, None);
        frag[ETHERNET_HEADER + 6] |= 0x20;
        assert!(ipv4_tcp_endpoints(LinkType::Ethernet, &frag).is_none());
        assert!(ipv4_tcp_endpoints(LinkType::Ethernet, &plain[..ETHERNET_HEADER + 21]).is_none());
        assert!(ipv4_tcp_endpoints(LinkType::Raw, &plain).is_none());
    }

    #[test]
    fn batches_keep_packets_in_order_and_flush_when_full() {
        let mut d = Dispatcher::new(&DecodeConfig::default(), 1);
        let mut got = Vec::new();
        for i in 0..(BATCH_PACKETS + 3) {
            let data = [i as u8; 20];
            let pkt = PacketRef {
                ts_us: i as u64,
                link: LinkType::Ethernet,
                data: &data,
                wire_len: 20,
            };
            d.push(pkt, |w, b| got.push((w, b)));
        }
        assert_eq!(got.len(), 1);
        d.flush(|w, b| got.push((w, b)));
        assert_eq!(got.len(), 2);
        let all: Vec<u64> = got
            .iter()
            .flat_map(|(_, b)| b.packets().map(|p| p.ts_us).collect::<Vec<_>>())
            .collect();
        assert_eq!(all, (0..(BATCH_PACKETS as u64 + 3)).collect::<Vec<_>>());
        let first = got[0].1.packets().nth(5).unwrap();
        assert_eq!(first.data, &[5u8; 20]);
    }
}
