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
use etherparse::checksum::Sum16BitWords;
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
        let tcp_sum = tcp_sum(ip, tcp);
        let tcp_ok = tcp_sum.is_some_and(|s| s == 0xffff);
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

/// True when the IPv4 header sums to all ones (RFC 791 section 3.1).
fn ipv4_header_ok(header: &[u8]) -> bool {
    Sum16BitWords::new().add_slice(header).ones_complement() == 0
}

/// The sum of the pseudo header (RFC 9293 section 3.1; RFC 8200 section 8.1 for IPv6) for a
/// TCP segment of `len` bytes; None when the length cannot be carried.
fn pseudo_header(ip: IpLayer<'_>, len: usize) -> Option<Sum16BitWords> {
    let proto = [0, IP_PROTO_TCP];
    match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(
            Sum16BitWords::new()
                .add_4bytes(s.octets())
                .add_4bytes(d.octets())
                .add_2bytes(proto)
                .add_2bytes(u16::try_from(len).ok()?.to_be_bytes()),
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(
            Sum16BitWords::new()
                .add_16bytes(s.octets())
                .add_16bytes(d.octets())
                .add_2bytes(proto)
                .add_4bytes(u32::try_from(len).ok()?.to_be_bytes()),
        ),
        _ => None,
    }
}

/// The folded one's-complement sum over pseudo header and segment (checksum field
/// included): 0xffff when the checksum is right.
fn tcp_sum(ip: IpLayer<'_>, tcp: &[u8]) -> Option<u16> {
    Some(
        !pseudo_header(ip, tcp.len())?
            .add_slice(tcp)
            .ones_complement(),
    )
}

/// True when the TCP checksum field holds the pseudo-header sum alone: what Linux leaves for
/// the NIC (or for nobody, on loopback) in a packet it sends (`CHECKSUM_PARTIAL`).
fn is_offloaded(ip: IpLayer<'_>, tcp: &[u8]) -> bool {
    let Some(field) = tcp.get(TCP_CHECKSUM_OFFSET..TCP_CHECKSUM_OFFSET + 2) else {
        return false;
    };
    let field = u16::from_be_bytes([field[0], field[1]]);
    // The sum is kept in the machine's byte order, as etherparse keeps it.
    pseudo_header(ip, tcp.len()).is_some_and(|p| (!p.ones_complement()).to_be() == field)
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
