//! Capture → workers: packets copied into per-worker batches, chosen by a symmetric hash of the
//! flow so that both directions of a connection reach the same worker.

use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use hashbrown::HashMap;

use crate::capture::PacketRef;
use crate::decode::{DecodeConfig, Decoder, FragKey, LinkType, Route};

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

    /// Append a copy of `pkt`.
    #[inline]
    fn push(&mut self, pkt: &PacketRef<'_>) {
        let start = self.data.len();
        self.data.extend_from_slice(pkt.data);
        self.meta.push(PacketMeta {
            ts_us: pkt.ts_us,
            wire_len: pkt.wire_len,
            caplen: pkt.data.len() as u32,
            start,
            link: pkt.link,
        });
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

/// The packets of an IP datagram whose fragments have not all arrived: held by the dispatcher
/// until the fragment completing it names the flow, then handed to that flow's worker
/// together, in arrival order (the worker reassembles them again, counting them as the
/// single pipeline does).
#[derive(Debug, Default)]
struct HeldDatagram {
    /// Packet time of its first fragment.
    since_us: u64,
    /// The fragments' packets so far.
    packets: PacketBatch,
}

/// Fragments held by the dispatcher until their datagram completes, bounded as the decoder
/// bounds reassembly (`decode.max_fragment_sets`, `decode.max_fragment_bytes_total`,
/// `decode.fragment_timeout_ms`). A datagram that never completes, or is pushed out at a
/// bound, goes to worker 0, whose decoder counts its fragments as timed out or evicted.
#[derive(Debug)]
struct HeldFragments {
    /// By datagram. Keys are chosen by whoever sends the traffic: a per-run random seed;
    /// nothing depends on the map's order (releases go by age, then by key order).
    sets: HashMap<FragKey, HeldDatagram, foldhash::fast::RandomState>,
    /// Captured bytes held in all sets.
    bytes: usize,
    /// `decode.max_fragment_sets`.
    max_sets: usize,
    /// `decode.max_fragment_bytes_total`.
    max_bytes: usize,
    /// `decode.fragment_timeout_ms`, in microseconds.
    timeout_us: u64,
}

impl HeldFragments {
    fn new(cfg: &DecodeConfig) -> Self {
        HeldFragments {
            sets: HashMap::default(),
            bytes: 0,
            max_sets: cfg.max_fragment_sets.max(1),
            max_bytes: cfg.max_fragment_bytes_total.max(1),
            timeout_us: cfg.fragment_timeout_ms.saturating_mul(1000),
        }
    }

    /// Hold `pkt` with the other fragments of `key`.
    fn hold(&mut self, key: FragKey, pkt: &PacketRef<'_>) {
        let set = self.sets.entry(key).or_insert_with(|| HeldDatagram {
            since_us: pkt.ts_us,
            packets: PacketBatch::default(),
        });
        set.packets.push(pkt);
        self.bytes += pkt.data.len();
    }

    /// The fragments of `key`, taken out.
    fn take(&mut self, key: &FragKey) -> Option<PacketBatch> {
        let set = self.sets.remove(key)?;
        self.bytes = self.bytes.saturating_sub(set.packets.data.len());
        Some(set.packets)
    }

    /// The oldest set that timed out at `now_us`, or that must go to bring the sets under
    /// their bounds, taken out.
    fn take_due(&mut self, now_us: u64) -> Option<PacketBatch> {
        let over = self.sets.len() > self.max_sets || self.bytes > self.max_bytes;
        let (key, since) = self
            .sets
            .iter()
            .map(|(k, s)| (*k, s.since_us))
            .min_by_key(|&(k, since)| (since, k.id, k.zone))?;
        if over || now_us.saturating_sub(since) > self.timeout_us {
            self.take(&key)
        } else {
            None
        }
    }
}

/// What the dispatcher does with one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dispatch {
    /// Into this worker's batch.
    To(usize),
    /// Held with the other fragments of its datagram.
    Hold(FragKey),
    /// It completed this datagram: the held fragments, then it, to this worker.
    Release(FragKey, usize),
}

/// Splits packets into per-worker batches. Owned by the thread that reads packets.
pub struct Dispatcher {
    /// Decodes headers only to find the flow, reassembling IP fragments to find theirs; its
    /// counters are not reported (the worker's decoder counts every packet once).
    decoder: Decoder,
    /// Fragments waiting for the rest of their datagram.
    held: HeldFragments,
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
            held: HeldFragments::new(cfg),
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

    /// Where a packet goes: a worker, by the flow of its TCP segment (inside any tunnel);
    /// worker 0 for anything that does not decode; held with its datagram when it is an IP
    /// fragment the datagram of which is not complete yet; and, when it completes one, the
    /// flow's worker for it and the fragments held before it.
    #[inline]
    fn route(&mut self, pkt: &PacketRef<'_>) -> Dispatch {
        let n = self.pending.len();
        if n == 1 {
            return Dispatch::To(0);
        }
        let shard = |hash: u64| (hash % n as u64) as usize;
        if let Some((a, b)) = ipv4_tcp_endpoints(pkt.link, pkt.data) {
            return Dispatch::To(shard(hash_endpoints(a, b)));
        }
        match self
            .decoder
            .route_at(pkt.ts_us, pkt.link, pkt.data, pkt.wire_len)
        {
            Route::Flow(a, b) => Dispatch::To(shard(flow_hash(a, b))),
            Route::Other => Dispatch::To(0),
            Route::Fragment { key, flow: None } => Dispatch::Hold(key),
            Route::Fragment {
                key,
                flow: Some((a, b)),
            } => Dispatch::Release(key, shard(flow_hash(a, b))),
        }
    }

    /// Copy `pkt` into its worker's batch; `ready(worker, batch)` is called with every batch
    /// that is full or old enough. An IP fragment is held until its datagram completes (see
    /// `HeldFragments`).
    #[inline]
    pub fn push(&mut self, pkt: PacketRef<'_>, mut ready: impl FnMut(usize, PacketBatch)) {
        match self.route(&pkt) {
            Dispatch::To(w) => self.push_to(w, pkt, &mut ready),
            Dispatch::Hold(key) => {
                self.held.hold(key, &pkt);
                while let Some(set) = self.held.take_due(pkt.ts_us) {
                    self.push_all(0, &set, &mut ready);
                }
            }
            Dispatch::Release(key, w) => {
                if let Some(set) = self.held.take(&key) {
                    self.push_all(w, &set, &mut ready);
                }
                self.push_to(w, pkt, &mut ready);
            }
        }
    }

    /// Every packet of `set` to worker `w`, in order.
    fn push_all(
        &mut self,
        w: usize,
        set: &PacketBatch,
        ready: &mut impl FnMut(usize, PacketBatch),
    ) {
        for p in set.packets() {
            self.push_to(w, p, ready);
        }
    }

    /// Copy `pkt` into worker `w`'s batch.
    #[inline]
    fn push_to(
        &mut self,
        w: usize,
        pkt: PacketRef<'_>,
        ready: &mut impl FnMut(usize, PacketBatch),
    ) {
        let since = self.pending_since_us.get(w).copied().unwrap_or(pkt.ts_us);
        if self.pending.get(w).is_some_and(|b| b.meta.capacity() == 0) {
            self.pending[w] = self.fresh_batch();
        }
        let Some(batch) = self.pending.get_mut(w) else {
            return;
        };
        if batch.is_empty() {
            self.pending_since_us[w] = pkt.ts_us;
        }
        batch.push(&pkt);
        if batch.len() >= BATCH_PACKETS {
            let used = batch.data.len();
            self.data_hint = used + used / 8;
            ready(w, std::mem::take(batch));
        }
        // Hand on other workers' partial batches that waited too long (packet time).
        if pkt.ts_us.saturating_sub(since) > BATCH_MAX_AGE_US {
            self.flush_older_than(pkt.ts_us, ready);
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

    /// Hand on every partial batch (end of input, capture timeout, shutdown), and every
    /// fragment still held (to worker 0, whose decoder counts them as incomplete).
    pub fn flush(&mut self, mut ready: impl FnMut(usize, PacketBatch)) {
        while let Some(set) = self.held.take_due(u64::MAX) {
            self.push_all(0, &set, &mut ready);
        }
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
            d.route(&PacketRef {
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

    /// `frame` (Ethernet / IPv4 / TCP) cut into IPv4 fragments of at most `chunk` payload
    /// bytes (a multiple of 8), as a router would (RFC 791).
    fn fragments(frame: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let (eth, rest) = frame.split_at(ETHERNET_HEADER);
        let (ip, _) = etherparse::Ipv4Header::from_slice(rest).unwrap();
        let payload = &rest[ip.header_len()..];
        let mut out = Vec::new();
        for (i, part) in payload.chunks(chunk).enumerate() {
            let mut h = ip.clone();
            h.identification = 0x4242;
            h.fragment_offset = etherparse::IpFragOffset::try_new((i * chunk / 8) as u16).unwrap();
            h.more_fragments = (i + 1) * chunk < payload.len();
            h.set_payload_len(part.len()).unwrap();
            h.header_checksum = h.calc_header_checksum();
            let mut f = eth.to_vec();
            h.write(&mut f).unwrap();
            f.extend_from_slice(part);
            out.push(f);
        }
        out
    }

    /// Dispatch `packets` (one per microsecond) to 4 workers; the packets each worker got, by
    /// their index in `packets`, after a final flush.
    fn dispatch(packets: &[Vec<u8>]) -> Vec<Vec<usize>> {
        let mut d = Dispatcher::new(&DecodeConfig::default(), 4);
        let mut got = vec![Vec::new(); 4];
        let mut collect = |w: usize, b: PacketBatch| {
            for p in b.packets() {
                got[w].push(p.ts_us as usize);
            }
        };
        for (i, data) in packets.iter().enumerate() {
            let pkt = PacketRef {
                ts_us: i as u64,
                link: LinkType::Ethernet,
                data,
                wire_len: data.len() as u32,
            };
            d.push(pkt, &mut collect);
        }
        d.flush(&mut collect);
        got
    }

    /// Every fragment of a datagram reaches the worker of its flow, whatever their order and
    /// whatever else arrives between them, and before the packet that completes it.
    #[test]
    fn fragments_go_to_the_worker_of_their_flow() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let (SocketAddr::V4(s), SocketAddr::V4(d)) = (a, b) else {
            unreachable!("IPv4 only")
        };
        // TCP header and 70 bytes of data: 3 fragments of 24 bytes and a last one.
        let mut big = Vec::new();
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(s.ip().octets(), d.ip().octets(), 64)
            .tcp(a.port(), b.port(), 1000, 65535)
            .write(&mut big, &[b'x'; 70])
            .unwrap();
        let frags = fragments(&big, 24);
        assert!(frags.len() >= 4);
        let plain = frame(a, b, None);
        let others: Vec<Vec<u8>> = (0..8)
            .map(|i| frame(format!("10.9.0.{i}:5000").parse().unwrap(), b, None))
            .collect();
        for order in [vec![0, 1, 2, 3], vec![3, 1, 0, 2], vec![2, 3, 0, 1]] {
            let mut packets = vec![plain.clone()];
            for (n, &i) in order.iter().enumerate() {
                packets.push(frags[i].clone());
                packets.push(others[n].clone());
            }
            let got = dispatch(&packets);
            let flow_worker = got.iter().position(|w| w.contains(&0)).unwrap();
            let fragment_at: Vec<usize> = (0..order.len()).map(|n| 1 + 2 * n).collect();
            for (w, batch) in got.iter().enumerate() {
                let mine: Vec<usize> = batch
                    .iter()
                    .copied()
                    .filter(|i| fragment_at.contains(i))
                    .collect();
                if w == flow_worker {
                    assert_eq!(
                        mine, fragment_at,
                        "order {order:?}: all fragments, in arrival order"
                    );
                } else {
                    assert!(mine.is_empty(), "order {order:?}: fragments at worker {w}");
                }
            }
        }
        // A datagram that never completes goes to worker 0 at the end.
        let got = dispatch(&[frags[0].clone(), frags[1].clone()]);
        assert_eq!(got[0], vec![0, 1]);
    }
}
