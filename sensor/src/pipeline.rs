//! The pipeline, top to bottom: capture → decode → reassembly → HTTP → records → exporter.
//!
//! One [`Pipeline`] is one single-threaded shard. Every stage takes packet time; nothing here
//! reads a clock, so replaying the same capture twice gives byte-identical output. Threading
//! (flow-sharded workers) wraps several pipelines, each fed the packets of its flows by a
//! symmetric hash of the 4-tuple, and merges their records; no stage needs to change for it.

use std::collections::BTreeMap;

use apitap_exporters::{EventMeta, ExportError, ExportStats, Exporter};
use apitap_reassembly::{Reassembler, ReassemblyStats};
use apitap_sessionizer::http::{HttpStats, HttpTracker};
use apitap_sessionizer::record::{HttpRecord, Redactor};
use serde::Serialize;

use crate::capture::PacketRef;
use crate::config::Config;
use crate::decode::{DecodeStats, Decoder};

/// How often (packet time) timeouts are checked: idle flows, holes waiting to become gaps.
const EXPIRE_INTERVAL_US: u64 = 100_000;

/// Initial capacity of the buffer one record is serialized into (it grows as needed and is
/// reused).
const RECORD_BUFFER_CAPACITY: usize = 4096;

/// Everything the pipeline counted; the run summary, `--stats-json` and metrics read it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PipelineStats {
    /// Decode counters.
    pub decode: DecodeStats,
    /// TCP reassembly counters.
    pub reassembly: ReassemblyStats,
    /// HTTP counters.
    pub http: HttpStats,
    /// Exporter counters.
    pub export: ExportStats,
    /// `http` records produced.
    pub transactions: u64,
    /// Records that could not be serialized (dropped, counted).
    pub encode_failures: u64,
    /// Anomalies on exported records, by name.
    pub anomalies: BTreeMap<String, u64>,
    /// Connections still tracked when the stats were taken.
    pub active_flows: usize,
}

/// One shard of the pipeline.
pub struct Pipeline {
    decoder: Decoder,
    reassembler: Reassembler,
    http: HttpTracker,
    redactor: Redactor,
    exporter: Box<dyn Exporter>,
    /// Reused serialization buffer.
    buf: Vec<u8>,
    /// Latest packet time seen; packet time never goes backwards inside the pipeline.
    now_us: u64,
    next_expire_us: u64,
    transactions: u64,
    encode_failures: u64,
    anomalies: BTreeMap<String, u64>,
}

impl Pipeline {
    /// A pipeline writing to `exporter`.
    pub fn new(cfg: &Config, exporter: Box<dyn Exporter>) -> Self {
        Pipeline {
            decoder: Decoder::new(),
            reassembler: Reassembler::new(cfg.reassembly.clone()),
            http: HttpTracker::new(cfg.http.clone()),
            redactor: Redactor::new(&cfg.output),
            exporter,
            buf: Vec::with_capacity(RECORD_BUFFER_CAPACITY),
            now_us: 0,
            next_expire_us: 0,
            transactions: 0,
            encode_failures: 0,
            anomalies: BTreeMap::new(),
        }
    }

    /// Push one packet through every stage.
    #[inline]
    pub fn on_packet(&mut self, pkt: PacketRef<'_>) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(pkt.ts_us);
        if let Some(seg) = self.decoder.decode(pkt.link, pkt.data, pkt.wire_len) {
            self.reassembler.process(self.now_us, &seg, &mut self.http);
        }
        if self.now_us >= self.next_expire_us {
            self.reassembler.expire(self.now_us, &mut self.http);
            self.next_expire_us = self.now_us.saturating_add(EXPIRE_INTERVAL_US);
        }
        self.emit()
    }

    /// End of input: flush every stream and the exporter.
    pub fn finish(&mut self) -> Result<(), ExportError> {
        self.reassembler.flush(self.now_us, &mut self.http);
        self.emit()?;
        self.exporter.flush()
    }

    /// Serialize and export every finished transaction.
    fn emit(&mut self) -> Result<(), ExportError> {
        for tx in self.http.drain() {
            self.transactions += 1;
            if !tx.anomalies.is_empty() || !tx.tcp_anomalies.is_empty() {
                count_anomalies(&mut self.anomalies, &tx);
            }
            self.buf.clear();
            let rec = HttpRecord {
                tx: &tx,
                redactor: &self.redactor,
            };
            if serde_json::to_writer(&mut self.buf, &rec).is_err() {
                // Unreachable with the record types of this crate; counted rather than trusted.
                self.encode_failures += 1;
                continue;
            }
            self.exporter.export(
                EventMeta {
                    kind: "http",
                    key: None,
                },
                &self.buf,
            )?;
        }
        Ok(())
    }

    /// All counters as they stand.
    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            decode: self.decoder.stats().clone(),
            reassembly: self.reassembler.stats().clone(),
            http: self.http.stats().clone(),
            export: self.exporter.stats().clone(),
            transactions: self.transactions,
            encode_failures: self.encode_failures,
            anomalies: self.anomalies.clone(),
            active_flows: self.reassembler.active_flows(),
        }
    }
}

/// Count the anomalies of one transaction by their exported names.
fn count_anomalies(map: &mut BTreeMap<String, u64>, tx: &apitap_sessionizer::http::Transaction) {
    let names = tx
        .anomalies
        .iter()
        .map(|a| serde_json::to_value(a).ok())
        .chain(
            tx.tcp_anomalies
                .iter()
                .map(|a| serde_json::to_value(a).ok()),
        );
    for v in names.flatten() {
        if let Some(s) = v.as_str() {
            *map.entry(s.to_owned()).or_default() += 1;
        }
    }
}
