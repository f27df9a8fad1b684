//! The pcapng reader against files written by `pcap-file`'s writer: interfaces of several
//! link types, sections in both byte orders, timestamp resolution and offset, secrets,
//! damage, and every prefix of a valid file.

use std::borrow::Cow;
use std::io::Write;
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::SectionHeaderBlock;
use pcap_file::pcapng::blocks::simple_packet::SimplePacketBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness};

use super::*;

/// One section of a test file.
struct Section {
    endianness: Endianness,
    /// Link type, `if_tsresol`, `if_tsoffset` per interface.
    interfaces: Vec<(DataLink, Option<u8>, Option<u64>)>,
    /// Interface, raw timestamp, bytes; interface `u32::MAX` writes a Simple Packet Block.
    packets: Vec<(u32, u64, Vec<u8>)>,
    /// Secrets (type, data) written before the packets.
    secrets: Vec<(u32, Vec<u8>)>,
}

impl Section {
    fn new(endianness: Endianness) -> Section {
        Section {
            endianness,
            interfaces: Vec::new(),
            packets: Vec::new(),
            secrets: Vec::new(),
        }
    }

    fn interface(mut self, link: DataLink, tsresol: Option<u8>, tsoffset: Option<u64>) -> Self {
        self.interfaces.push((link, tsresol, tsoffset));
        self
    }

    fn packet(mut self, iface: u32, ticks: u64, data: &[u8]) -> Self {
        self.packets.push((iface, ticks, data.to_vec()));
        self
    }

    fn secrets(mut self, ty: u32, data: &[u8]) -> Self {
        self.secrets.push((ty, data.to_vec()));
        self
    }

    /// The section's bytes.
    fn bytes(&self) -> Vec<u8> {
        let shb = SectionHeaderBlock {
            endianness: self.endianness,
            ..SectionHeaderBlock::default()
        };
        let mut w = PcapNgWriter::with_section_header(Vec::new(), shb).unwrap();
        for &(linktype, tsresol, tsoffset) in &self.interfaces {
            let mut options = Vec::new();
            options.extend(tsresol.map(InterfaceDescriptionOption::IfTsResol));
            options.extend(tsoffset.map(InterfaceDescriptionOption::IfTsOffset));
            w.write_pcapng_block(InterfaceDescriptionBlock {
                linktype,
                snaplen: 0,
                options,
            })
            .unwrap();
        }
        for (ty, data) in &self.secrets {
            dsb(w.get_mut(), self.endianness, *ty, data);
        }
        for (iface, ticks, data) in &self.packets {
            if *iface == u32::MAX {
                w.write_pcapng_block(SimplePacketBlock {
                    original_len: data.len() as u32,
                    data: Cow::Borrowed(data),
                })
                .unwrap();
                continue;
            }
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: *iface,
                // pcap-file writes a Duration's nanoseconds as the raw ticks.
                timestamp: Duration::from_nanos(*ticks),
                original_len: data.len() as u32,
                data: Cow::Borrowed(data),
                options: vec![],
            })
            .unwrap();
        }
        w.into_inner()
    }
}

/// A Decryption Secrets Block, written by hand (pcap-file has no type for it).
fn dsb(out: &mut Vec<u8>, e: Endianness, ty: u32, data: &[u8]) {
    let pad = (4 - data.len() % 4) % 4;
    let len = (20 + data.len() + pad) as u32;
    let word = |v: u32| match e {
        Endianness::Big => v.to_be_bytes(),
        Endianness::Little => v.to_le_bytes(),
    };
    out.write_all(&word(BLOCK_DECRYPTION_SECRETS)).unwrap();
    out.write_all(&word(len)).unwrap();
    out.write_all(&word(ty)).unwrap();
    out.write_all(&word(data.len() as u32)).unwrap();
    out.write_all(data).unwrap();
    out.write_all(&[0; 3][..pad]).unwrap();
    out.write_all(&word(len)).unwrap();
}

/// What reading a file gave.
#[derive(Debug, Default)]
struct Read {
    /// Time, link, bytes of each packet.
    packets: Vec<(u64, LinkType, Vec<u8>)>,
    secrets: Vec<DecryptionSecrets>,
    error: Option<String>,
    counters: NgCounters,
    position: u64,
}

/// Reads `bytes` as a file.
fn read(bytes: &[u8]) -> Read {
    let path = std::env::temp_dir().join(format!(
        "apitap-pcapng-{}-{:?}.pcapng",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, bytes).unwrap();
    let mut f = PcapNgFile::open(&path).unwrap();
    let mut out = Read::default();
    loop {
        match f.advance() {
            Ok(Step::Packet(p)) => {
                let data = f.bytes()[p.start..p.start + p.len].to_vec();
                out.packets.push((p.ts_us, p.link, data));
            }
            Ok(Step::Secrets(s)) => out.secrets.push(s),
            Ok(Step::End) => break,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    out.counters = f.counters();
    out.position = f.position();
    let _ = std::fs::remove_file(&path);
    out
}

const T0: u64 = 1_700_000_000_000_000;

/// A capture whose interfaces have different link types (Wireshark capturing on two
/// interfaces): each packet carries its own interface's link type (issue 20 item 5).
#[test]
fn interfaces_of_different_link_types() {
    let file = Section::new(Endianness::Little)
        .interface(DataLink::ETHERNET, None, None)
        .interface(DataLink::RAW, None, None)
        .packet(0, T0, b"ether")
        .packet(1, T0 + 1, b"raw")
        .bytes();
    let r = read(&file);
    assert_eq!(r.error, None);
    let links: Vec<LinkType> = r.packets.iter().map(|p| p.1).collect();
    assert_eq!(links, [LinkType::Ethernet, LinkType::Raw]);
    assert_eq!(r.position, file.len() as u64);
}

/// A second section in the other byte order is read through, with its own interfaces.
#[test]
fn sections_in_both_byte_orders() {
    let le = Section::new(Endianness::Little)
        .interface(DataLink::ETHERNET, None, None)
        .packet(0, T0, b"one");
    let be = Section::new(Endianness::Big)
        .interface(DataLink::RAW, Some(9), None)
        .packet(0, T0 * 1000 + 5_000, b"two");
    for (name, file) in [
        ("LE then BE", [le.bytes(), be.bytes()].concat()),
        ("BE then LE", [be.bytes(), le.bytes()].concat()),
    ] {
        let r = read(&file);
        assert_eq!(r.error, None, "{name}");
        let got: Vec<(u64, LinkType)> = r.packets.iter().map(|p| (p.0, p.1)).collect();
        let mut want = vec![(T0, LinkType::Ethernet), (T0 + 5, LinkType::Raw)];
        if name.starts_with("BE") {
            want.reverse();
        }
        assert_eq!(got, want, "{name}");
    }
}

/// `if_tsresol` (powers of 10 and of 2) and `if_tsoffset` (seconds, signed) set the time.
#[test]
fn timestamp_resolution_and_offset() {
    let table: [(Option<u8>, Option<u64>, u64, u64); 6] = [
        (None, None, T0, T0),
        (Some(6), None, T0, T0),
        (Some(9), None, T0 * 1000 + 999, T0),
        (Some(3), None, T0 / 1000, T0),
        (Some(0x80 | 20), None, 3 << 20, 3_000_000),
        (Some(6), Some(100), T0, T0 + 100_000_000),
    ];
    for (tsresol, tsoffset, ticks, want) in table {
        let file = Section::new(Endianness::Little)
            .interface(DataLink::ETHERNET, tsresol, tsoffset)
            .packet(0, ticks, b"x")
            .bytes();
        let r = read(&file);
        assert_eq!(
            r.packets[0].0, want,
            "tsresol {tsresol:?} tsoffset {tsoffset:?}"
        );
    }
    let negative = Section::new(Endianness::Big)
        .interface(DataLink::ETHERNET, None, Some((-10i64) as u64))
        .packet(0, T0, b"x")
        .bytes();
    assert_eq!(read(&negative).packets[0].0, T0 - 10_000_000);
}

/// A packet time out of range (here: seconds given where microseconds were meant, beyond
/// what 64 bits of microseconds hold) takes the time of the packet before it and is counted;
/// it never becomes a huge time that would expire every flow at each packet. A far but
/// representable time (year 21000) is kept.
#[test]
fn out_of_range_times_take_the_previous_packet_time() {
    let file = Section::new(Endianness::Little)
        .interface(DataLink::ETHERNET, None, None)
        .interface(DataLink::ETHERNET, Some(0), None)
        .packet(0, T0, b"a")
        .packet(1, T0, b"b")
        .packet(0, T0 + 7, b"c")
        .packet(1, u64::MAX, b"d")
        .bytes();
    let r = read(&file);
    let times: Vec<u64> = r.packets.iter().map(|p| p.0).collect();
    assert_eq!(times, [T0, T0, T0 + 7, T0 + 7]);
    assert_eq!(r.counters.timestamps_out_of_range, 2);
    // Every packet out of range: the whole file at time 0, in order.
    let file = Section::new(Endianness::Little)
        .interface(DataLink::ETHERNET, Some(0), None)
        .packet(0, T0, b"a")
        .packet(0, T0 + 1, b"b")
        .bytes();
    let r = read(&file);
    assert_eq!(r.packets.iter().map(|p| p.0).collect::<Vec<_>>(), [0, 0]);
    let far = 600_000_000_000u64; // seconds: year ~21000
    let file = Section::new(Endianness::Little)
        .interface(DataLink::ETHERNET, Some(0), None)
        .packet(0, far, b"a")
        .bytes();
    assert_eq!(read(&file).packets[0].0, far * 1_000_000);
    // A resolution that cannot be represented.
    let file = Section::new(Endianness::Little)
        .interface(DataLink::ETHERNET, Some(100), None)
        .packet(0, 5, b"a")
        .bytes();
    assert_eq!(read(&file).counters.timestamps_out_of_range, 1);
}

/// Decryption Secrets Blocks come out in file order, with their key-log text.
#[test]
fn decryption_secrets() {
    let log = b"CLIENT_RANDOM 00 11\n";
    let file = Section::new(Endianness::Big)
        .interface(DataLink::ETHERNET, None, None)
        .secrets(SECRETS_TLS_KEY_LOG, log)
        .secrets(0x5353_4854, b"ssh")
        .packet(0, T0, b"x")
        .bytes();
    let r = read(&file);
    assert_eq!(r.secrets.len(), 2);
    assert_eq!(r.secrets[0].tls_key_log(), Some("CLIENT_RANDOM 00 11\n"));
    assert_eq!(r.secrets[1].tls_key_log(), None);
    assert_eq!(r.packets.len(), 1);
}

/// Simple Packet Blocks belong to interface 0 and keep the previous time; packets of an
/// interface apitap cannot decode are skipped and counted.
#[test]
fn simple_packets_and_unsupported_interfaces() {
    let file = Section::new(Endianness::Little)
        .interface(DataLink::ETHERNET, None, None)
        .interface(DataLink::USB_LINUX, None, None)
        .packet(0, T0, b"a")
        .packet(1, T0 + 1, b"usb")
        .packet(u32::MAX, 0, b"simple")
        .bytes();
    let r = read(&file);
    assert_eq!(r.error, None);
    let got: Vec<(u64, &[u8])> = r.packets.iter().map(|p| (p.0, &p.2[..])).collect();
    assert_eq!(got, [(T0, &b"a"[..]), (T0, &b"simple"[..])]);
    assert_eq!(r.counters.unsupported_link_packets, 1);
}

/// A packet of an interface the section never described is damage.
#[test]
fn undescribed_interface_is_damage() {
    let mut file = Section::new(Endianness::Little)
        .interface(DataLink::ETHERNET, None, None)
        .bytes();
    let other = Section::new(Endianness::Little)
        .interface(DataLink::ETHERNET, None, None)
        .interface(DataLink::ETHERNET, None, None)
        .packet(1, T0, b"x")
        .bytes();
    let shb_and_idbs = other.len() - 28 - 4 - 4; // EPB: 28 + 4 data (padded) + trailer
    file.extend_from_slice(&other[shb_and_idbs..]);
    let r = read(&file);
    assert!(r.error.unwrap().contains("interface 1"));
}

/// Every prefix of a valid file ends cleanly at a block boundary or is damage after the
/// packets before the cut: never a panic, never a packet made up.
#[test]
fn every_prefix_is_a_clean_end_or_damage() {
    let file = [
        Section::new(Endianness::Little)
            .interface(DataLink::ETHERNET, Some(9), None)
            .secrets(SECRETS_TLS_KEY_LOG, b"x")
            .packet(0, T0 * 1000, b"first packet")
            .packet(0, T0 * 1000 + 1000, b"second")
            .bytes(),
        Section::new(Endianness::Big)
            .interface(DataLink::RAW, None, None)
            .packet(0, T0, b"third")
            .bytes(),
    ]
    .concat();
    let whole = read(&file);
    assert_eq!(whole.packets.len(), 3);
    for cut in 0..file.len() {
        let r = read(&file[..cut]);
        assert!(r.packets.len() <= 3, "cut {cut}");
        assert_eq!(r.packets[..], whole.packets[..r.packets.len()], "cut {cut}");
        assert!(r.position <= cut as u64, "cut {cut}");
        if r.error.is_none() {
            assert_eq!(
                r.position, cut as u64,
                "a clean end is a block boundary (cut {cut})"
            );
        }
    }
}
