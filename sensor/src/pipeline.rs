//! The pipeline, top to bottom: capture → decode → reassembly → HTTP → sessions → records →
//! exporter.
//!
//! One [`Pipeline`] is one single-threaded shard. Every stage takes packet time; nothing here
//! reads a clock, so replaying the same capture twice (with the same session secret) gives
//! byte-identical output. Threading (flow-sharded workers) wraps several pipelines, each fed
//! the packets of its flows by a symmetric hash of the 4-tuple; no stage needs to change for it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use apitap_exporters::{ExportError, ExportStats, Exporter};
use apitap_reassembly::{Reassembler, ReassemblyStats};
use apitap_sessionizer::http::{HttpConfig, HttpStats, HttpTracker};
use apitap_sessionizer::session::{EndReason, Extractor, SessionStats};
use serde::Serialize;

use crate::capture::PacketRef;
use crate::config::Config;
use crate::decode::{DecodeStats, Decoder, UdpTunnel};
use crate::output::{FinishedBatch, OutputStage, EXPIRE_INTERVAL_US};

/// Body bytes stored per message when a session key or context parameter reads bodies and
/// `http.max_body_capture_bytes` is lower: enough for login responses and order payloads.
const SESSION_BODY_CAPTURE_BYTES: usize = 64 * 1024;

/// Finished transactions staged before the output stages run over them together (see
/// [`FinishedBatch`]); they also run at every timeout check and at the end. Simulated
/// instruction-cache misses per transaction with sessions, when heads were staged too: 219
/// at 8, 125 at 64, 116 at 128 (docs/bench.md).
pub const STAGED_TRANSACTIONS: usize = 64;

/// Everything the pipeline counted; the run summary, `--stats-json` and metrics read it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PipelineStats {
    /// Decode counters.
    pub decode: DecodeStats,
    /// TCP reassembly counters.
    pub reassembly: ReassemblyStats,
    /// HTTP counters.
    pub http: HttpStats,
    /// Session counters.
    pub session: SessionStats,
    /// Exporter counters.
    pub export: ExportStats,
    /// `http` records produced.
    pub transactions: u64,
    /// `session` records produced.
    pub session_records: u64,
    /// Records that could not be serialized (dropped, counted).
    pub encode_failures: u64,
    /// Anomalies on exported transactions, by name.
    pub anomalies: BTreeMap<String, u64>,
    /// Connections still tracked when the stats were taken.
    pub active_flows: usize,
    /// Sessions still open when the stats were taken.
    pub active_sessions: usize,
}

/// One shard of the pipeline.
pub struct Pipeline {
    decoder: Decoder,
    reassembler: Reassembler,
    http: HttpTracker,
    /// Finished transactions waiting for the output stages.
    staged: FinishedBatch,
    /// How many make the output stages run ([`STAGED_TRANSACTIONS`]; tests vary it).
    stage_at: usize,
    /// Reads the session facts of `staged` (sessions on).
    extractor: Option<Extractor>,
    /// Sessions, records and the exporter.
    out: OutputStage,
    /// Latest packet time seen; packet time never goes backwards inside the pipeline.
    now_us: u64,
    next_expire_us: u64,
}

/// The HTTP settings with body capture raised when sessions read bodies.
pub(crate) fn http_config(cfg: &Config) -> HttpConfig {
    let mut http = cfg.http.clone();
    let need = cfg.session.body_capture();
    if need.request || need.response {
        http.max_body_capture_bytes = http.max_body_capture_bytes.max(SESSION_BODY_CAPTURE_BYTES);
    }
    http
}

impl Pipeline {
    /// A pipeline writing to `exporter`. Fails when the session settings cannot be used (a
    /// key that does not parse, no secret obtainable); the message says what to fix.
    pub fn new(cfg: &Config, exporter: Box<dyn Exporter>) -> Result<Self, String> {
        let out = OutputStage::new(cfg, exporter)?;
        Ok(Pipeline {
            decoder: Decoder::with_config(&cfg.decode),
            reassembler: Reassembler::new(cfg.reassembly.clone()),
            http: HttpTracker::new(http_config(cfg)),
            staged: FinishedBatch::default(),
            stage_at: STAGED_TRANSACTIONS,
            extractor: out.extractor(),
            out,
            now_us: 0,
            next_expire_us: 0,
        })
    }

    /// Push one packet through every stage.
    #[inline]
    pub fn on_packet(&mut self, pkt: PacketRef<'_>) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(pkt.ts_us);
        let decoded = self
            .decoder
            .decode_at(self.now_us, pkt.link, pkt.data, pkt.wire_len);
        if let Some(seg) = decoded {
            self.reassembler.process(self.now_us, &seg, &mut self.http);
        }
        self.tick()
    }

    /// Push one datagram of a mirror listener through every stage: `data` is the payload of
    /// a UDP datagram of tunnel type `kind` from `outer_src` to `outer_dst`, received at
    /// `ts_us` (see [`Decoder::decode_tunnel_payload`]).
    pub fn on_tunnel_payload(
        &mut self,
        ts_us: u64,
        kind: UdpTunnel,
        data: &[u8],
        outer_src: SocketAddr,
        outer_dst: SocketAddr,
    ) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(ts_us);
        let decoded =
            self.decoder
                .decode_tunnel_payload(self.now_us, kind, data, outer_src, outer_dst);
        if let Some(seg) = decoded {
            self.reassembler.process(self.now_us, &seg, &mut self.http);
        }
        self.tick()
    }

    /// Let time pass without a packet (an idle live source): the timeouts due run.
    pub fn advance(&mut self, now_us: u64) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(now_us);
        self.tick()
    }

    /// Run the timeouts when due, then stage what finished. A timeout check is staged like a
    /// worker's ([`FinishedBatch::push_tick`]): the output stage runs its own timeouts after
    /// the transactions staged before it, and at once (an idle live source has no more
    /// transactions to fill the batch).
    #[inline]
    fn tick(&mut self) -> Result<(), ExportError> {
        if self.now_us >= self.next_expire_us {
            self.reassembler.expire(self.now_us, &mut self.http);
            self.stage();
            self.staged.push_tick(self.now_us);
            self.output()?;
            self.next_expire_us = self.now_us.saturating_add(EXPIRE_INTERVAL_US);
        }
        self.stage();
        if self.staged.txs.len() >= self.stage_at {
            self.output()?;
        }
        Ok(())
    }

    /// End of input (or shutdown): flush every stream, end every session, flush the exporter.
    pub fn finish(&mut self, reason: EndReason) -> Result<(), ExportError> {
        self.reassembler.flush(self.now_us, &mut self.http);
        self.stage();
        self.output()?;
        self.out.finish(self.now_us, reason)
    }

    /// Stage every finished transaction, with its tunnel.
    #[inline]
    fn stage(&mut self) {
        self.staged
            .collect(self.now_us, &mut self.http, &self.decoder);
    }

    /// Run the output stages over the staged transactions (and timeout checks), one stage at
    /// a time.
    fn output(&mut self) -> Result<(), ExportError> {
        if self.staged.txs.is_empty() && self.staged.ticks.is_empty() {
            return Ok(());
        }
        // Record heads are written by the output stage, record by record: written here for
        // the whole batch, they were out of the data cache again by the time their records
        // left.
        if let Some(x) = self.extractor.as_mut() {
            self.staged.read_facts(x);
        }
        let done = self.out.transactions(&mut self.staged);
        self.staged.clear();
        done
    }

    /// All counters as they stand.
    pub fn stats(&self) -> PipelineStats {
        let out = self.out.stats();
        PipelineStats {
            decode: self.decoder.stats().clone(),
            reassembly: self.reassembler.stats().clone(),
            http: self.http.stats().clone(),
            session: out.session,
            export: out.export,
            transactions: out.transactions,
            session_records: out.session_records,
            encode_failures: out.encode_failures,
            anomalies: out.anomalies,
            active_flows: self.reassembler.active_flows(),
            active_sessions: out.active_sessions,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    use apitap_exporters::jsonl::JsonLinesExporter;

    use super::*;
    use crate::capture::OfflineSource;

    /// A writer the test keeps a handle on.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Every record of `pcap` replayed with `cfg`, the output stages running every
    /// `stage_at` finished transactions.
    fn replay(cfg: &Config, pcap: &str, stage_at: usize) -> String {
        let out = Shared::default();
        let mut p = Pipeline::new(cfg, Box::new(JsonLinesExporter::new(out.clone()))).unwrap();
        p.stage_at = stage_at;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(pcap);
        let mut src = OfflineSource::open(&[path]).unwrap();
        src.run(|pkt| p.on_packet(pkt).is_ok());
        p.finish(EndReason::EndOfInput).unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text
    }

    /// Staging changes when the output stages run, never what they write: sessions that
    /// end idle between transactions, logins binding later requests, every batch size.
    #[test]
    fn staging_leaves_records_unchanged() {
        let mut cfg = Config::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions/shop.toml"),
        )
        .unwrap();
        // Sessions end idle, and update, between the transactions of the capture.
        cfg.session.idle_timeout_ms = 150;
        cfg.session.update_interval_ms = 10;
        let pcap = "fixtures/sessions/journeys.pcap";
        let one = replay(&cfg, pcap, 1);
        assert!(
            one.contains(r#""reason":"idle""#),
            "no idle end: the test lost its point"
        );
        assert!(one.contains(r#""phase":"update""#));
        for n in [2, 7, STAGED_TRANSACTIONS, 100_000] {
            assert_eq!(replay(&cfg, pcap, n), one, "staging by {n}");
        }
    }
}
