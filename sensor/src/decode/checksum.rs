//! IPv4 header and TCP checksum verification (`decode.verify_checksums`), with Suricata's
//! `auto` idea: stop checking when the capture shows offloaded checksums.
//!
//! A host that captures its own traffic sees outgoing packets before the NIC (or, on
//! loopback, nobody) fills in the TCP checksum: the field then holds only the pseudo-header
//! sum (Linux `CHECKSUM_PARTIAL`). `auto` recognises that value and does not count it as
//! wrong; other offload styles (a zero field) show as many wrong checksums at once, and
//! `auto` stops checking when more than [`AUTO_MAX_INVALID`] of the first
//! [`AUTO_SAMPLE_SEGMENTS`] verified segments were wrong.

use std::net::IpAddr;

use apitap_reassembly::Checksum;
use serde::{Deserialize, Serialize};

/// `decode.verify_checksums`: whether IPv4 header and TCP checksums are verified.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumMode {
    /// Verify, but not offloaded checksums: the pseudo-header sum a capturing host leaves in
    /// its outgoing packets is not wrong, and checking stops for good when more than 10 % of
    /// the first 1000 verified segments are wrong.
    #[default]
    Auto,
    /// Verify every segment; an offloaded checksum counts as wrong.
    On,
    /// Verify nothing.
    Off,
}

/// Segments `auto` looks at before it keeps checking for good (Suricata samples as many).
pub const AUTO_SAMPLE_SEGMENTS: u64 = 1000;

/// Wrong checksums among the sample beyond which `auto` stops checking (10 %, Suricata's
/// ratio).
pub const AUTO_MAX_INVALID: u64 = AUTO_SAMPLE_SEGMENTS / 10;

/// IP protocol number of TCP, for the pseudo header (RFC 9293 section 3.1).
const IP_PROTO_TCP: u8 = 6;

/// Offset of the checksum field in the TCP header (RFC 9293 section 3.1).
const TCP_CHECKSUM_OFFSET: usize = 16;

/// What the checksum verification counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChecksumStats {
    /// Segments whose checksums were verified (correct or not).
    pub verified: u64,
    /// Segments with a wrong IPv4 header checksum.
    pub invalid_ipv4: u64,
    /// Segments with a wrong TCP checksum.
    pub invalid_tcp: u64,
    /// TCP checksums left to the NIC by the capturing host (`auto` only): not counted wrong.
    pub offloaded: u64,
    /// 1 when `auto` stopped checking because the capture offloads checksums.
    pub auto_stopped: u64,
}

/// The IP layer a TCP segment came in, as the checksums need it.
#[derive(Clone, Copy, Debug)]
pub struct IpLayer<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The IPv4 header (with options), None for IPv6 (which has no header checksum).
    pub ipv4_header: Option<&'a [u8]>,
}

/// The verifier: the mode and what `auto` has seen.
#[derive(Clone, Debug)]
pub struct Verifier {
    mode: ChecksumMode,
    /// Segments verified while `auto` samples.
    sampled: u64,
    /// Wrong ones among them.
    sampled_invalid: u64,
    /// `auto` stopped checking.
    stopped: bool,
}

impl Verifier {
    /// A verifier in `mode`.
    pub fn new(mode: ChecksumMode) -> Self {
        Verifier {
            mode,
            sampled: 0,
            sampled_invalid: 0,
            stopped: mode == ChecksumMode::Off,
        }
    }

    /// Verifies the checksums of the whole TCP segment `tcp` (header and payload) carried by
    /// `ip`. Call it only with the whole segment: a cut one cannot be verified.
    pub fn verify(&mut self, ip: IpLayer<'_>, tcp: &[u8], stats: &mut ChecksumStats) -> Checksum {
        if self.stopped {
            return Checksum::NotChecked;
        }
        stats.verified += 1;
        let ip_ok = ip.ipv4_header.is_none_or(ipv4_header_ok);
        let tcp_ok = tcp_sum(ip, tcp) == Some(0xFFFF);
        if ip_ok && tcp_ok {
            self.sample(false, stats);
            return Checksum::Valid;
        }
        if self.mode == ChecksumMode::Auto && ip_ok && is_offloaded(ip, tcp) {
            stats.offloaded += 1;
            return Checksum::NotChecked;
        }
        if !ip_ok {
            stats.invalid_ipv4 += 1;
        }
        if !tcp_ok {
            stats.invalid_tcp += 1;
        }
        if self.sample(true, stats) {
            return Checksum::NotChecked;
        }
        Checksum::Invalid
    }

    /// `auto`: counts one verified segment while sampling; true when it stopped checking now.
    fn sample(&mut self, invalid: bool, stats: &mut ChecksumStats) -> bool {
        if self.mode != ChecksumMode::Auto || self.sampled >= AUTO_SAMPLE_SEGMENTS {
            return false;
        }
        self.sampled += 1;
        self.sampled_invalid += u64::from(invalid);
        if self.sampled_invalid > AUTO_MAX_INVALID {
            self.stopped = true;
            stats.auto_stopped = 1;
        }
        self.stopped
    }
}

/// The one's-complement sum of `data` as 16-bit words (RFC 1071), unfolded, in the
/// machine's byte order (the sum is byte-order independent, RFC 1071 section 2(B): a word
/// read the other way round sums to the folded result read the other way round). 32-bit
/// words summed into four 64-bit lanes need no carry handling (docs/bench.md); a trailing
/// byte is padded with zero.
/// `etherparse::checksum` is the slow twin of the tests.
#[inline]
fn sum(data: &[u8]) -> u64 {
    let mut blocks = data.chunks_exact(16);
    let mut lanes = [0u64; 4];
    for block in blocks.by_ref() {
        let Ok(b): Result<&[u8; 16], _> = block.try_into() else {
            continue;
        };
        lanes[0] += u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        lanes[1] += u64::from(u32::from_ne_bytes([b[4], b[5], b[6], b[7]]));
        lanes[2] += u64::from(u32::from_ne_bytes([b[8], b[9], b[10], b[11]]));
        lanes[3] += u64::from(u32::from_ne_bytes([b[12], b[13], b[14], b[15]]));
    }
    let mut words = blocks.remainder().chunks_exact(2);
    let mut acc: u64 = lanes.iter().sum();
    acc += words
        .by_ref()
        .map(|w| u64::from(u16::from_ne_bytes([w[0], w[1]])))
        .sum::<u64>();
    if let [last] = words.remainder() {
        acc += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    acc
}

/// `acc` folded to 16 bits with the end-around carry, in the machine's byte order.
#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// True when the IPv4 header sums to all ones (RFC 791 section 3.1).
fn ipv4_header_ok(header: &[u8]) -> bool {
    fold(sum(header)) == 0xFFFF
}

/// The unfolded sum of the pseudo header (RFC 9293 section 3.1; RFC 8200 section 8.1 for
/// IPv6) for a TCP segment of `len` bytes; None when the length cannot be carried.
fn pseudo_header(ip: IpLayer<'_>, len: usize) -> Option<u64> {
    let proto = sum(&[0, IP_PROTO_TCP]);
    match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let len = u16::try_from(len).ok()?.to_be_bytes();
            Some(sum(&s.octets()) + sum(&d.octets()) + proto + sum(&len))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u32::try_from(len).ok()?.to_be_bytes();
            Some(sum(&s.octets()) + sum(&d.octets()) + proto + sum(&len))
        }
        _ => None,
    }
}

/// The folded sum over pseudo header and segment (checksum field included): 0xFFFF when
/// the checksum is right.
fn tcp_sum(ip: IpLayer<'_>, tcp: &[u8]) -> Option<u16> {
    Some(fold(pseudo_header(ip, tcp.len())? + sum(tcp)))
}

/// True when the TCP checksum field holds the pseudo-header sum alone: what Linux leaves for
/// the NIC (or for nobody, on loopback) in a packet it sends (`CHECKSUM_PARTIAL`).
fn is_offloaded(ip: IpLayer<'_>, tcp: &[u8]) -> bool {
    let Some(field) = tcp.get(TCP_CHECKSUM_OFFSET..TCP_CHECKSUM_OFFSET + 2) else {
        return false;
    };
    // Both in the machine's byte order.
    let field = u16::from_ne_bytes([field[0], field[1]]);
    pseudo_header(ip, tcp.len()).is_some_and(|p| fold(p) == field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    /// An IPv4 TCP packet with correct checksums; the IPv4 header length is 20.
    fn packet(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 7, 1000)
            .ack(1);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn layer(pkt: &[u8]) -> IpLayer<'_> {
        IpLayer {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            ipv4_header: Some(&pkt[..20]),
        }
    }

    fn verify(v: &mut Verifier, pkt: &[u8]) -> Checksum {
        v.verify(layer(pkt), &pkt[20..], &mut ChecksumStats::default())
    }

    /// The TCP checksum field, rewritten.
    fn with_tcp_checksum(mut pkt: Vec<u8>, value: u16) -> Vec<u8> {
        pkt[20 + TCP_CHECKSUM_OFFSET..][..2].copy_from_slice(&value.to_be_bytes());
        pkt
    }

    /// What each mode says about a correct, a corrupt and an offloaded segment.
    #[test]
    fn modes() {
        let good = packet(b"GET / HTTP/1.1\r\n\r\n");
        let mut corrupt = good.clone();
        *corrupt.last_mut().unwrap() ^= 0x20;
        let mut bad_ip = good.clone();
        bad_ip[8] = 1; // TTL changed after the header checksum was computed
                       // What Linux leaves in the field: the pseudo-header sum of 10.0.0.1 > 10.0.0.2, TCP,
                       // length 38 (0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 0x0006 + 0x0026).
        assert_eq!(good.len() - 20, 38);
        let offloaded = with_tcp_checksum(good.clone(), 0x142f);
        use Checksum::*;
        let table = [
            (ChecksumMode::Auto, [Valid, Invalid, Invalid, NotChecked]),
            (ChecksumMode::On, [Valid, Invalid, Invalid, Invalid]),
            (ChecksumMode::Off, [NotChecked; 4]),
        ];
        for (mode, want) in table {
            let mut v = Verifier::new(mode);
            let got = [&good, &corrupt, &bad_ip, &offloaded].map(|p| verify(&mut v, p));
            assert_eq!(got, want, "{mode:?}");
        }
    }

    /// `auto` stops checking for good once more than 10 % of its sample were wrong (another
    /// offload style: a zeroed field), and says so.
    #[test]
    fn auto_stops_on_a_capture_of_offloaded_checksums() {
        let zeroed = with_tcp_checksum(packet(b"x"), 0);
        let good = packet(b"y");
        let mut v = Verifier::new(ChecksumMode::Auto);
        let mut stats = ChecksumStats::default();
        let mut invalid = 0;
        for _ in 0..AUTO_SAMPLE_SEGMENTS {
            if v.verify(layer(&zeroed), &zeroed[20..], &mut stats) == Checksum::Invalid {
                invalid += 1;
            }
        }
        assert_eq!(
            invalid, AUTO_MAX_INVALID,
            "flagged until the sample says offload"
        );
        assert_eq!(stats.auto_stopped, 1);
        assert_eq!(verify(&mut v, &good), Checksum::NotChecked);
    }

    /// A sample that is mostly right keeps `auto` checking after it.
    #[test]
    fn auto_keeps_checking_a_clean_capture() {
        let good = packet(b"y");
        let corrupt = with_tcp_checksum(packet(b"x"), 1);
        let mut v = Verifier::new(ChecksumMode::Auto);
        for _ in 0..AUTO_SAMPLE_SEGMENTS {
            assert_eq!(verify(&mut v, &good), Checksum::Valid);
        }
        for _ in 0..2 * AUTO_MAX_INVALID {
            assert_eq!(verify(&mut v, &corrupt), Checksum::Invalid);
        }
    }

    proptest::proptest! {
        /// The fast sum gives etherparse's checksum (the slow twin) for any segment bytes,
        /// IPv4 and IPv6, odd lengths included; a correct segment verifies.
        #[test]
        fn fast_sum_matches_etherparse(
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1500),
            v6 in proptest::prelude::any::<bool>(),
        ) {
            let mut pkt = Vec::new();
            let (ip, hdr) = if v6 {
                PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(1, 2, 3, 100).write(&mut pkt, &payload).unwrap();
                (IpLayer { src: IpAddr::from([1u8; 16]), dst: IpAddr::from([2u8; 16]), ipv4_header: None }, 40)
            } else {
                PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1, 2, 3, 100).write(&mut pkt, &payload).unwrap();
                (layer(&pkt), 20)
            };
            let tcp = &pkt[hdr..];
            proptest::prop_assert_eq!(tcp_sum(ip, tcp), Some(0xFFFF));
            if let Some(h) = ip.ipv4_header {
                proptest::prop_assert!(ipv4_header_ok(h));
            }
            // The checksum etherparse computes with the field zeroed, against ours.
            let slice = etherparse::TcpSlice::from_slice(tcp).unwrap();
            let theirs = match ip.src {
                IpAddr::V4(_) => slice.calc_checksum_ipv4([10, 0, 0, 1], [10, 0, 0, 2]).unwrap(),
                IpAddr::V6(_) => slice.calc_checksum_ipv6([1; 16], [2; 16]).unwrap(),
            };
            let mut zeroed = tcp.to_vec();
            zeroed[TCP_CHECKSUM_OFFSET..TCP_CHECKSUM_OFFSET + 2].fill(0);
            let ours = !fold(pseudo_header(ip, tcp.len()).unwrap() + sum(&zeroed));
            // Ours is in the machine's byte order, theirs a number written big-endian.
            proptest::prop_assert_eq!(ours.to_ne_bytes(), theirs.to_be_bytes());
        }
    }

    /// IPv6 uses its own pseudo header (RFC 8200 section 8.1).
    #[test]
    fn ipv6() {
        let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(1, 2, 3, 100);
        let mut pkt = Vec::new();
        b.write(&mut pkt, b"hello").unwrap();
        let ip = IpLayer {
            src: IpAddr::from([1u8; 16]),
            dst: IpAddr::from([2u8; 16]),
            ipv4_header: None,
        };
        let mut v = Verifier::new(ChecksumMode::On);
        let mut stats = ChecksumStats::default();
        assert_eq!(v.verify(ip, &pkt[40..], &mut stats), Checksum::Valid);
        pkt[50] ^= 1;
        assert_eq!(v.verify(ip, &pkt[40..], &mut stats), Checksum::Invalid);
        assert_eq!((stats.verified, stats.invalid_tcp), (2, 1));
    }
}
