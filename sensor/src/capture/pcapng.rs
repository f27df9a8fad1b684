//! pcapng files read by apitap itself (blocks parsed by the `pcap-file` crate): every section
//! in its own byte order, a link type, timestamp resolution (`if_tsresol`) and offset
//! (`if_tsoffset`) per interface, and Decryption Secrets Blocks. libpcap reads one link type
//! per file and stops at a section in the other byte order, so valid captures were reported
//! as damaged.
//!
//! The file is read through a buffer that always holds whole blocks; the position reported
//! for progress is the offset just after the last block handed out.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::Endianness;

use crate::decode::LinkType;

/// The first four bytes of a pcapng file: a Section Header Block's type.
pub const PCAPNG_MAGIC: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];

/// Block types (pcapng draft, section 11.1).
const BLOCK_SECTION_HEADER: u32 = 0x0A0D_0D0A;
const BLOCK_INTERFACE_DESCRIPTION: u32 = 0x0000_0001;
const BLOCK_PACKET: u32 = 0x0000_0002;
const BLOCK_SIMPLE_PACKET: u32 = 0x0000_0003;
const BLOCK_ENHANCED_PACKET: u32 = 0x0000_0006;
const BLOCK_DECRYPTION_SECRETS: u32 = 0x0000_000A;

/// Block type, total length, (body), total length again.
const BLOCK_HEADER_LEN: usize = 8;
/// The smallest block: header and trailing length.
const MIN_BLOCK_LEN: usize = 12;
/// Where the packet data starts in an Enhanced Packet Block (and the obsolete Packet Block):
/// header, then interface, timestamp (2 words), captured and original lengths.
const EPB_DATA_OFFSET: usize = BLOCK_HEADER_LEN + 20;
/// Where the packet data starts in a Simple Packet Block: header, original length.
const SPB_DATA_OFFSET: usize = BLOCK_HEADER_LEN + 4;
/// Secrets type of a TLS key log (`TLSK`, pcapng draft section 4.7).
pub const SECRETS_TLS_KEY_LOG: u32 = 0x544C_534B;

/// Largest block read; a larger length field is damage (a packet is at most 256 KiB in
/// every capture tool, a key log a few KiB).
const MAX_BLOCK_BYTES: usize = 64 << 20;
/// Bytes read from the file at a time.
const READ_BYTES: usize = 1 << 20;

/// Microseconds per second.
const US_PER_S: u128 = 1_000_000;
/// Default timestamp resolution: microseconds (`if_tsresol` absent).
const DEFAULT_TSRESOL: u8 = 6;
/// The latest packet time: what a signed 64-bit count of microseconds holds (year 294247),
/// as most tools keep time. Later is out of range: it would leave timeouts no room and
/// saturate, and a time stuck at the maximum expires every flow at each packet. (Records
/// write times past year 9999 as its last microsecond.)
pub const MAX_PACKET_TIME_US: u64 = i64::MAX as u64;

/// The contents of a Decryption Secrets Block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptionSecrets {
    /// The secrets type (`0x544C534B` for a TLS key log).
    pub secrets_type: u32,
    /// The secrets, as stored.
    pub data: Vec<u8>,
}

impl DecryptionSecrets {
    /// The NSS key log text, when these are TLS secrets in UTF-8.
    pub fn tls_key_log(&self) -> Option<&str> {
        (self.secrets_type == SECRETS_TLS_KEY_LOG)
            .then(|| std::str::from_utf8(&self.data).ok())
            .flatten()
    }
}

/// What one interface's packets need.
#[derive(Clone, Copy, Debug)]
struct Interface {
    /// None: a link type apitap does not decode (its packets are skipped and counted).
    link: Option<LinkType>,
    /// The DLT number, for messages.
    dlt: u32,
    /// Timestamp units per second (`if_tsresol`); None when it does not fit.
    units_per_s: Option<u128>,
    /// Seconds added to every timestamp (`if_tsoffset`, signed).
    offset_s: i64,
}

impl Interface {
    /// The interface an IDB describes.
    fn of(idb: &InterfaceDescriptionBlock<'_>) -> Interface {
        let dlt = u32::from(idb.linktype);
        let mut tsresol = DEFAULT_TSRESOL;
        let mut offset_s = 0;
        for opt in &idb.options {
            match opt {
                InterfaceDescriptionOption::IfTsResol(r) => tsresol = *r,
                // The option is a signed 64-bit count of seconds; pcap-file reads it unsigned.
                InterfaceDescriptionOption::IfTsOffset(o) => offset_s = *o as i64,
                _ => {}
            }
        }
        // Bit 7 set: a negative power of 2; else of 10 (pcapng draft section 4.2).
        let units_per_s = if tsresol & 0x80 != 0 {
            2u128.checked_pow(u32::from(tsresol & 0x7F))
        } else {
            10u128.checked_pow(u32::from(tsresol))
        };
        Interface {
            link: i32::try_from(dlt).ok().and_then(LinkType::from_dlt),
            dlt,
            units_per_s,
            offset_s,
        }
    }

    /// Microseconds since the epoch for `ticks` of this interface; None when the time is
    /// before 1970 or after [`MAX_PACKET_TIME_US`].
    fn time_us(&self, ticks: u64) -> Option<u64> {
        let units = self.units_per_s.filter(|&u| u > 0)?;
        let us = i128::try_from(u128::from(ticks) * US_PER_S / units).ok()?;
        let total = us.checked_add(i128::from(self.offset_s) * US_PER_S as i128)?;
        u64::try_from(total)
            .ok()
            .filter(|&t| t <= MAX_PACKET_TIME_US)
    }
}

/// A packet found in the buffer, by position (the caller borrows the bytes).
#[derive(Clone, Copy, Debug)]
pub struct Found {
    /// Packet time, microseconds.
    pub ts_us: u64,
    /// Link type of its interface.
    pub link: LinkType,
    /// Where its bytes are in [`PcapNgFile::bytes`].
    pub start: usize,
    /// Captured length.
    pub len: usize,
    /// Length on the wire.
    pub wire_len: u32,
}

/// Counters of one file that libpcap never had.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NgCounters {
    /// Packets whose timestamp was out of range (before 1970, after
    /// [`MAX_PACKET_TIME_US`], or not computable): each took the time of the packet before
    /// it in the file.
    pub timestamps_out_of_range: u64,
    /// Packets of interfaces whose link type apitap does not decode: skipped.
    pub unsupported_link_packets: u64,
}

/// One pcapng file being read.
pub struct PcapNgFile {
    file: Box<dyn Read + Send>,
    /// Read buffer; `buf[pos..len]` is unread.
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// File offset of `buf[pos]`.
    offset: u64,
    /// Section (byte order) and interface tracking of `pcap-file`; None before the first SHB.
    parser: Option<PcapNgParser>,
    /// The interfaces of the current section, as apitap uses them.
    interfaces: Vec<Interface>,
    /// Time of the last packet handed out (for packets without or with a broken time).
    last_ts_us: u64,
    counters: NgCounters,
}

/// What [`PcapNgFile::advance`] found.
pub enum Step {
    /// A packet; its bytes are `bytes()[start..start + len]`.
    Packet(Found),
    /// A Decryption Secrets Block, in file order with the packets.
    Secrets(DecryptionSecrets),
    /// End of file.
    End,
}

impl PcapNgFile {
    /// Opens `path` (which starts with [`PCAPNG_MAGIC`]).
    pub fn open(path: &Path) -> std::io::Result<PcapNgFile> {
        Ok(PcapNgFile::from_reader(Box::new(File::open(path)?)))
    }

    /// Reads pcapng from `file` (the fuzz target reads from memory).
    pub fn from_reader(file: Box<dyn Read + Send>) -> PcapNgFile {
        PcapNgFile {
            file,
            buf: vec![0; READ_BYTES],
            pos: 0,
            len: 0,
            offset: 0,
            parser: None,
            interfaces: Vec::new(),
            last_ts_us: 0,
            counters: NgCounters::default(),
        }
    }

    /// File offset just past the last block read.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// The counters so far.
    pub fn counters(&self) -> NgCounters {
        self.counters
    }

    /// The read buffer, which [`Found`] positions index.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The link types of the interfaces described so far, DLT and whether apitap decodes it.
    pub fn interfaces(&self) -> impl Iterator<Item = (u32, Option<LinkType>)> + '_ {
        self.interfaces.iter().map(|i| (i.dlt, i.link))
    }

    /// Reads every block before the first packet (section headers, interfaces), without
    /// taking the packet; the secrets met on the way.
    pub fn read_preamble(&mut self) -> Result<Vec<DecryptionSecrets>, String> {
        let mut secrets = Vec::new();
        loop {
            let Some(len) = self.fill_block()? else {
                return Ok(secrets);
            };
            let ty = self.block_type()?;
            if matches!(
                ty,
                BLOCK_ENHANCED_PACKET | BLOCK_SIMPLE_PACKET | BLOCK_PACKET
            ) {
                return Ok(secrets);
            }
            if let Some(Step::Secrets(s)) = self.handle(len)? {
                secrets.push(s);
            }
        }
    }

    /// Reads blocks up to the next packet of a decodable interface, or the next secrets.
    pub fn advance(&mut self) -> Result<Step, String> {
        loop {
            let Some(len) = self.fill_block()? else {
                return Ok(Step::End);
            };
            if let Some(step) = self.handle(len)? {
                return Ok(step);
            }
        }
    }

    /// The byte order of the current section.
    fn endianness(&self) -> Endianness {
        self.parser
            .as_ref()
            .map_or(Endianness::Little, |p| p.section().endianness)
    }

    /// A u32 of the current section's byte order at `at` of the unread bytes.
    fn word(&self, at: usize) -> Option<u32> {
        let b = self.buf.get(self.pos + at..self.pos + at + 4)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(match self.endianness() {
            Endianness::Big => u32::from_be_bytes(b),
            Endianness::Little => u32::from_le_bytes(b),
        })
    }

    /// The type of the block at `pos` (whole in the buffer).
    fn block_type(&self) -> Result<u32, String> {
        self.word(0)
            .ok_or_else(|| "block header missing".to_string())
    }

    /// Makes the next whole block available at `pos`; its length, or None at the end of the
    /// file. A file that ends inside a block, or a block length that cannot be, is damage.
    fn fill_block(&mut self) -> Result<Option<usize>, String> {
        if !self.ensure(MIN_BLOCK_LEN)? {
            return match self.len - self.pos {
                0 => Ok(None),
                n => Err(format!("the file ends {n} bytes into a block header")),
            };
        }
        let head = &self.buf[self.pos..self.pos + MIN_BLOCK_LEN];
        let ty = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let len = if ty == BLOCK_SECTION_HEADER {
            // A new section says its own byte order in its magic.
            let raw = [head[4], head[5], head[6], head[7]];
            match &head[8..12] {
                [0x1A, 0x2B, 0x3C, 0x4D] => u32::from_be_bytes(raw),
                [0x4D, 0x3C, 0x2B, 0x1A] => u32::from_le_bytes(raw),
                _ => return Err("section header with an unknown byte-order magic".into()),
            }
        } else if self.parser.is_none() {
            return Err("the file does not start with a section header".into());
        } else {
            self.word(4).unwrap_or(0)
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len < MIN_BLOCK_LEN || len % 4 != 0 || len > MAX_BLOCK_BYTES {
            return Err(format!("block of impossible length {len}"));
        }
        if !self.ensure(len)? {
            return Err(format!(
                "the file ends inside a block of {len} bytes ({} read)",
                self.len - self.pos
            ));
        }
        Ok(Some(len))
    }

    /// Makes at least `n` unread bytes available; false when the file ends first.
    fn ensure(&mut self, n: usize) -> Result<bool, String> {
        while self.len - self.pos < n {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.len, 0);
                self.len -= self.pos;
                self.pos = 0;
            }
            if self.buf.len() < n {
                self.buf.resize(n, 0);
            }
            let got = self
                .file
                .read(&mut self.buf[self.len..])
                .map_err(|e| e.to_string())?;
            if got == 0 {
                return Ok(false);
            }
            self.len += got;
        }
        Ok(true)
    }

    /// Takes the whole block of `len` bytes at `pos`: a packet of a decodable interface,
    /// secrets, or nothing (interfaces and sections are noted).
    fn handle(&mut self, len: usize) -> Result<Option<Step>, String> {
        let start = self.pos;
        let ty = self.block_type()?;
        self.pos += len;
        self.offset += len as u64;
        let block = &self.buf[start..start + len];
        match ty {
            BLOCK_SECTION_HEADER => {
                let (_, parser) = PcapNgParser::new(block).map_err(|e| e.to_string())?;
                self.parser = Some(parser);
                self.interfaces.clear();
                Ok(None)
            }
            BLOCK_DECRYPTION_SECRETS => Ok(Some(Step::Secrets(self.secrets_of(block)?))),
            BLOCK_INTERFACE_DESCRIPTION
            | BLOCK_ENHANCED_PACKET
            | BLOCK_SIMPLE_PACKET
            | BLOCK_PACKET => Ok(self.parse(start, len)?.map(Step::Packet)),
            // Name resolution, statistics, custom, journal blocks: nothing for us.
            _ => Ok(None),
        }
    }

    /// Parses an interface or packet block at `start` with `pcap-file`.
    fn parse(&mut self, start: usize, len: usize) -> Result<Option<Found>, String> {
        let Some(parser) = self.parser.as_mut() else {
            return Err("block before the first section header".into());
        };
        let block = &self.buf[start..start + len];
        let (_, parsed) = parser.next_block(block).map_err(|e| e.to_string())?;
        let (iface, ticks, wire_len, data_at, data_len) = match parsed {
            Block::InterfaceDescription(idb) => {
                self.interfaces.push(Interface::of(&idb));
                return Ok(None);
            }
            Block::EnhancedPacket(p) => (
                p.interface_id,
                Some(p.timestamp.as_nanos()),
                p.original_len,
                EPB_DATA_OFFSET,
                p.data.len(),
            ),
            Block::Packet(p) => (
                u32::from(p.interface_id),
                Some(u128::from(p.timestamp)),
                p.original_len,
                EPB_DATA_OFFSET,
                p.data.len(),
            ),
            // Padding is part of the data field: the original length bounds it.
            Block::SimplePacket(p) => (
                0,
                None,
                p.original_len,
                SPB_DATA_OFFSET,
                p.data.len().min(p.original_len as usize),
            ),
            _ => return Ok(None),
        };
        let Some(interface) = self.interfaces.get(iface as usize).copied() else {
            return Err(format!(
                "a packet of interface {iface}, which its section does not describe"
            ));
        };
        let Some(link) = interface.link else {
            self.counters.unsupported_link_packets += 1;
            return Ok(None);
        };
        if data_at + data_len > len {
            return Err("packet data past the end of its block".into());
        }
        let ts_us = match ticks {
            // `pcap-file` keeps the raw timestamp in a Duration's nanoseconds.
            Some(t) => match u64::try_from(t).ok().and_then(|t| interface.time_us(t)) {
                Some(us) => us,
                None => {
                    self.counters.timestamps_out_of_range += 1;
                    self.last_ts_us
                }
            },
            None => self.last_ts_us,
        };
        self.last_ts_us = ts_us;
        Ok(Some(Found {
            ts_us,
            link,
            start: start + data_at,
            len: data_len,
            wire_len,
        }))
    }

    /// The secrets of a Decryption Secrets Block (type, length, data; pcapng draft 4.7).
    fn secrets_of(&self, block: &[u8]) -> Result<DecryptionSecrets, String> {
        let word = |at: usize| -> Option<u32> {
            let b = block.get(at..at + 4)?;
            let b = [b[0], b[1], b[2], b[3]];
            Some(match self.endianness() {
                Endianness::Big => u32::from_be_bytes(b),
                Endianness::Little => u32::from_le_bytes(b),
            })
        };
        let bad = || "decryption secrets block shorter than its secrets".to_string();
        let secrets_type = word(BLOCK_HEADER_LEN).ok_or_else(bad)?;
        let n = word(BLOCK_HEADER_LEN + 4).ok_or_else(bad)? as usize;
        let from = BLOCK_HEADER_LEN + 8;
        let data = block
            .get(from..from.checked_add(n).ok_or_else(bad)?)
            .filter(|_| from + n <= block.len() - 4)
            .ok_or_else(bad)?;
        Ok(DecryptionSecrets {
            secrets_type,
            data: data.to_vec(),
        })
    }
}

#[cfg(test)]
#[path = "pcapng_tests.rs"]
mod tests;
