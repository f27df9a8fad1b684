//! The output: pcap writing and the summary of what was generated.

use std::io::Write;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use serde::Serialize;

use crate::config::TrafficConfig;
use crate::error::GenError;
use crate::http::{ExchangeInfo, Operation};

/// pcap snap length: large enough that no generated frame is truncated.
pub const SNAPLEN: u32 = 65_535;
/// Microseconds per second.
const MICROS_PER_SEC: u64 = 1_000_000;

/// Where generated frames go.
pub trait PacketSink {
    /// Writes one Ethernet frame captured at `ts_us` microseconds since the Unix epoch.
    fn write_frame(&mut self, ts_us: u64, frame: &[u8]) -> Result<(), GenError>;
}

/// Writes a classic little-endian, microsecond-resolution Ethernet pcap.
pub struct PcapSink<W: Write> {
    /// The pcap-file writer.
    writer: PcapWriter<W>,
}

impl<W: Write> PcapSink<W> {
    /// Writes the pcap global header; the endianness is fixed so output is the same on any host.
    pub fn new(out: W) -> Result<Self, GenError> {
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::Little,
            ..PcapHeader::default()
        };
        Ok(Self {
            writer: PcapWriter::with_header(out, header)?,
        })
    }

    /// Returns the underlying writer (flush it to finish the file).
    pub fn into_inner(self) -> W {
        self.writer.into_writer()
    }
}

impl<W: Write> PacketSink for PcapSink<W> {
    fn write_frame(&mut self, ts_us: u64, frame: &[u8]) -> Result<(), GenError> {
        let ts = Duration::new(
            ts_us / MICROS_PER_SEC,
            ((ts_us % MICROS_PER_SEC) * 1_000) as u32,
        );
        self.writer
            .write_packet(&PcapPacket::new(ts, frame.len() as u32, frame))?;
        Ok(())
    }
}

/// Counts of what was generated; written next to the pcap as `<pcap>.json` for the bench script.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Frames written.
    pub packets: u64,
    /// Sum of frame lengths (Ethernet header to end of payload, no FCS), outer headers included.
    pub wire_bytes: u64,
    /// Sum of TCP payload bytes (HTTP bytes).
    pub tcp_payload_bytes: u64,
    /// Completed request/response pairs.
    pub transactions: u64,
    /// TCP connections opened (and closed).
    pub connections: u64,
    /// Largest number of connections open at once.
    pub max_concurrent_connections: u64,
    /// Time between the first and the last packet, in microseconds.
    pub duration_us: u64,
    /// Responses with `Content-Encoding: gzip`.
    pub gzip_responses: u64,
    /// Responses with `Transfer-Encoding: chunked`.
    pub chunked_responses: u64,
    /// Responses per status code: 200, 201, 204, 404.
    pub status_200: u64,
    /// 201 Created responses.
    pub status_201: u64,
    /// 204 No Content responses.
    pub status_204: u64,
    /// 404 Not Found responses.
    pub status_404: u64,
    /// Requests per method.
    pub get_requests: u64,
    /// POST requests.
    pub post_requests: u64,
    /// PUT requests.
    pub put_requests: u64,
    /// DELETE requests.
    pub delete_requests: u64,
    /// Seed the capture was generated with.
    pub seed: u64,
    /// TCP MSS used.
    pub mss: u16,
    /// VNI if frames are VXLAN-encapsulated.
    pub vxlan_vni: Option<u32>,
}

impl Summary {
    /// An empty summary that remembers the settings.
    pub fn new(cfg: &TrafficConfig) -> Self {
        Self {
            seed: cfg.seed,
            mss: cfg.mss,
            vxlan_vni: cfg.vxlan,
            ..Self::default()
        }
    }

    /// Counts one completed exchange.
    pub fn record(&mut self, info: &ExchangeInfo) {
        self.transactions += 1;
        self.gzip_responses += u64::from(info.gzip);
        self.chunked_responses += u64::from(info.chunked);
        match info.status {
            200 => self.status_200 += 1,
            201 => self.status_201 += 1,
            204 => self.status_204 += 1,
            _ => self.status_404 += 1,
        }
        match info.operation {
            Operation::GetUser | Operation::ListProducts => self.get_requests += 1,
            Operation::CreateOrder => self.post_requests += 1,
            Operation::UpdateUser => self.put_requests += 1,
            Operation::DeleteOrder => self.delete_requests += 1,
        }
    }
}
