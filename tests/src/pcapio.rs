//! Read a classic pcap file into owned packets and write packets back.
//!
//! Reading is the classic pcap format only (not pcapng): it is what `tcpdump -w` writes and
//! what `scripts/capture-fixtures.sh` produces. Every packet keeps its own link type so that the
//! TCP helpers in [`crate::faults`] can decode it without a side channel. [`write_pcapng`]
//! writes pcapng, for what only pcapng can carry (64-bit timestamps in any resolution).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
pub use pcap_file::DataLink;
use pcap_file::{Endianness, PcapError, TsResolution};

/// Snap length written in the file header: the largest tcpdump uses (`-s 0`).
pub const WRITE_SNAPLEN: u32 = 262_144;

/// One captured frame, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Capture timestamp, as an offset from the Unix epoch.
    pub ts: Duration,
    /// Link type of `data` (from the file header).
    pub linktype: DataLink,
    /// The captured bytes, starting at the link-layer header.
    pub data: Vec<u8>,
    /// Length of the frame on the wire; larger than `data.len()` when the snap length cut it.
    pub orig_len: u32,
}

impl Packet {
    /// A packet whose wire length is its captured length.
    pub fn new(ts: Duration, linktype: DataLink, data: Vec<u8>) -> Self {
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        Packet {
            ts,
            linktype,
            data,
            orig_len,
        }
    }

    /// True when the snap length cut this packet.
    pub fn is_truncated(&self) -> bool {
        (self.orig_len as usize) > self.data.len()
    }
}

/// What can go wrong reading or writing a capture.
#[derive(Debug, thiserror::Error)]
pub enum PcapIoError {
    /// The file could not be opened or created.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The path given by the caller.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid classic pcap (pcapng is not supported: convert with `editcap -F pcap`).
    #[error("invalid pcap: {0}")]
    Format(#[from] PcapError),
    /// A classic pcap holds one link type; the packets to write have several.
    #[error("cannot write packets of link types {first:?} and {other:?} to one pcap")]
    MixedLinkTypes {
        /// Link type of the first packet.
        first: DataLink,
        /// A different link type found later.
        other: DataLink,
    },
    /// Flushing the output failed.
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Read every packet of a pcap file.
pub fn read_pcap(path: impl AsRef<Path>) -> Result<Vec<Packet>, PcapIoError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| PcapIoError::Open {
        path: path.display().to_string(),
        source,
    })?;
    read_pcap_from(BufReader::new(file))
}

/// Read every packet of a pcap from any reader.
pub fn read_pcap_from(reader: impl Read) -> Result<Vec<Packet>, PcapIoError> {
    let mut reader = PcapReader::new(reader)?;
    let linktype = reader.header().datalink;
    let mut out = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt?;
        out.push(Packet {
            ts: pkt.timestamp,
            linktype,
            data: pkt.data.into_owned(),
            orig_len: pkt.orig_len,
        });
    }
    Ok(out)
}

/// Write packets to a pcap file (little-endian, microsecond timestamps unless one needs ns).
pub fn write_pcap(path: impl AsRef<Path>, pkts: &[Packet]) -> Result<(), PcapIoError> {
    let path = path.as_ref();
    let file = File::create(path).map_err(|source| PcapIoError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let mut w = BufWriter::new(file);
    write_pcap_to(&mut w, pkts)?;
    w.flush()?;
    Ok(())
}

/// Write packets as a pcap to any writer; an empty list is written as Ethernet.
pub fn write_pcap_to(writer: impl Write, pkts: &[Packet]) -> Result<(), PcapIoError> {
    let linktype = pkts.first().map_or(DataLink::ETHERNET, |p| p.linktype);
    if let Some(other) = pkts.iter().map(|p| p.linktype).find(|l| *l != linktype) {
        return Err(PcapIoError::MixedLinkTypes {
            first: linktype,
            other,
        });
    }
    let needs_ns = pkts.iter().any(|p| p.ts.subsec_nanos() % 1000 != 0);
    let header = PcapHeader {
        snaplen: WRITE_SNAPLEN,
        datalink: linktype,
        ts_resolution: if needs_ns {
            TsResolution::NanoSecond
        } else {
            TsResolution::MicroSecond
        },
        endianness: Endianness::Little,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(writer, header)?;
    for p in pkts {
        let orig_len = p
            .orig_len
            .max(u32::try_from(p.data.len()).unwrap_or(u32::MAX));
        w.write_packet(&PcapPacket::new(p.ts, orig_len, &p.data))?;
    }
    Ok(())
}

/// Write packets as pcapng with one interface whose timestamps count units of
/// `10^-tsresol` seconds (`if_tsresol`): `0` gives whole seconds, so times far past what
/// nanoseconds in 64 bits reach (year 2554) can be written; sub-unit parts are dropped.
pub fn write_pcapng(
    path: impl AsRef<Path>,
    pkts: &[Packet],
    tsresol: u8,
) -> Result<(), PcapIoError> {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::{
        InterfaceDescriptionBlock, InterfaceDescriptionOption,
    };
    use pcap_file::pcapng::PcapNgWriter;
    let path = path.as_ref();
    let file = File::create(path).map_err(|source| PcapIoError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let linktype = pkts.first().map_or(DataLink::ETHERNET, |p| p.linktype);
    if let Some(other) = pkts.iter().map(|p| p.linktype).find(|l| *l != linktype) {
        return Err(PcapIoError::MixedLinkTypes {
            first: linktype,
            other,
        });
    }
    let mut w = PcapNgWriter::new(BufWriter::new(file))?;
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype,
        snaplen: WRITE_SNAPLEN,
        options: vec![InterfaceDescriptionOption::IfTsResol(tsresol)],
    })?;
    let per_second = 10u128.pow(u32::from(tsresol));
    for p in pkts {
        let units = p.ts.as_nanos() * per_second / 1_000_000_000;
        // pcap-file writes the 64-bit timestamp field as the Duration's nanoseconds.
        let field = u64::try_from(units).unwrap_or(u64::MAX);
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(field),
            original_len: p.orig_len,
            data: std::borrow::Cow::Borrowed(&p.data),
            options: Vec::new(),
        })?;
    }
    w.into_inner().flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/local")
            .join(name)
    }

    #[test]
    fn reads_loopback_capture_as_ethernet() {
        let pkts = read_pcap(fixture("python-pipelining.pcap")).unwrap();
        assert!(!pkts.is_empty());
        assert!(pkts.iter().all(|p| p.linktype == DataLink::ETHERNET));
        assert!(pkts.windows(2).all(|w| w[0].ts <= w[1].ts));
        assert!(pkts.iter().all(|p| !p.is_truncated()));
    }

    #[test]
    fn write_then_read_round_trips() {
        let pkts = read_pcap(fixture("nginx-curl.pcap")).unwrap();
        let mut buf = Vec::new();
        write_pcap_to(&mut buf, &pkts).unwrap();
        assert_eq!(read_pcap_from(&buf[..]).unwrap(), pkts);
    }

    #[test]
    fn nanosecond_timestamps_survive() {
        let pkts = vec![Packet::new(
            Duration::new(1, 123_456_789),
            DataLink::RAW,
            vec![0x45; 20],
        )];
        let mut buf = Vec::new();
        write_pcap_to(&mut buf, &pkts).unwrap();
        assert_eq!(read_pcap_from(&buf[..]).unwrap(), pkts);
    }

    #[test]
    fn mixed_link_types_are_rejected() {
        let pkts = vec![
            Packet::new(Duration::ZERO, DataLink::ETHERNET, vec![0; 14]),
            Packet::new(Duration::ZERO, DataLink::LINUX_SLL, vec![0; 16]),
        ];
        let err = write_pcap_to(Vec::new(), &pkts).unwrap_err();
        assert!(matches!(err, PcapIoError::MixedLinkTypes { .. }));
    }

    #[test]
    fn garbage_is_a_format_error() {
        let err = read_pcap_from(&b"not a pcap at all, sorry"[..]).unwrap_err();
        assert!(matches!(err, PcapIoError::Format(_)));
    }
}
