//! The pipeline, top to bottom: capture → decode → reassembly → HTTP ([`Front`]) → the
//! analyses ([`Analyses`]: session facts) → sessions → the stages after them → records →
//! exporter ([`Output`]).
//!
//! One [`Pipeline`] is one single-threaded shard. Every stage takes packet time; nothing here
//! reads a clock, so replaying the same capture twice (with the same session secret) gives
//! byte-identical output. Threading ([`crate::shard`]) runs the same front and analyses in
//! each worker and the same output stages on a thread of their own.

use std::net::SocketAddr;

use apitap_exporters::{ExportError, Exporter};
use apitap_reassembly::ConnId;
use apitap_sessionizer::session::EndReason;
use serde::Serialize;

use crate::analyze::Analyses;
use crate::capture::PacketRef;
use crate::config::Config;
use crate::decode::UdpTunnel;
use crate::front::{Front, FrontStats};
use crate::output::{Output, OutputStats};
use crate::staged::StagedBatch;

/// Finished transactions staged before the output stages run over them together (see
/// [`StagedBatch`]); they also run at every timeout check and at the end. Fewer simulated
/// instruction-cache misses per transaction the larger the batch, levelling off here
/// (docs/bench.md).
pub const STAGED_TRANSACTIONS: usize = 64;

/// Everything the pipeline counted; the run summary, `--stats-json` and metrics read it.
///
/// The front's and the output stages' counters, each kept by its own half: a new counter is
/// added where it is counted and nowhere else. `--stats-json` writes both halves' fields at
/// the top level.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PipelineStats {
    /// Decode, reassembly and HTTP counters, and the connections tracked.
    #[serde(flatten)]
    pub front: FrontStats,
    /// What the output stages counted: records, sessions, attacks, API calls, behaviours.
    #[serde(flatten)]
    pub output: OutputStats,
}

impl PipelineStats {
    /// The counters of a front and of the output stages, together.
    pub fn of(front: FrontStats, output: OutputStats) -> Self {
        PipelineStats { front, output }
    }
}

/// One shard of the pipeline.
pub struct Pipeline {
    /// Decode, reassembly and HTTP.
    front: Front,
    /// What the front finished, waiting for the analyses and the output stages.
    staged: StagedBatch,
    /// How many make the output stages run ([`STAGED_TRANSACTIONS`]; tests vary it).
    stage_at: usize,
    /// Stateless analyses of each transaction.
    analyses: Analyses,
    /// Sessions, the stages after them, records and the exporter.
    out: Output,
}

impl Pipeline {
    /// A pipeline writing to `exporter`. Fails when the session settings cannot be used (a
    /// key that does not parse, no secret obtainable); the message says what to fix.
    pub fn new(cfg: &Config, exporter: Box<dyn Exporter>) -> Result<Self, String> {
        let cfg = &crate::limits::Budget::of(cfg, 1).applied(cfg);
        let out = Output::new(cfg, exporter)?;
        let shared = crate::analyze::Shared::new(cfg)?;
        Ok(Pipeline {
            front: Front::new(cfg, ConnId(1), crate::front::response_gate(cfg, &shared)),
            staged: StagedBatch::default(),
            stage_at: STAGED_TRANSACTIONS,
            analyses: Analyses::for_config(cfg, out.extractor(), &shared),
            out,
        })
    }

    /// The same pipeline with `stage` added at the end of the output stages' chain.
    pub fn with_stage(mut self, stage: Box<dyn crate::output::Stage>) -> Self {
        self.out = self.out.with_stage(stage);
        self
    }

    /// Push one packet through every stage.
    #[inline]
    pub fn on_packet(&mut self, pkt: PacketRef<'_>) -> Result<(), ExportError> {
        self.front.on_packet(pkt, &mut self.staged);
        self.output_if_due()
    }

    /// Push one datagram of a mirror listener through every stage: `data` is the payload of
    /// a UDP datagram of tunnel type `kind` from `outer_src` to `outer_dst`, received at
    /// `ts_us` (see [`crate::decode::Decoder::decode_tunnel_payload`]).
    pub fn on_tunnel_payload(
        &mut self,
        ts_us: u64,
        kind: UdpTunnel,
        data: &[u8],
        outer_src: SocketAddr,
        outer_dst: SocketAddr,
    ) -> Result<(), ExportError> {
        let outer = (outer_src, outer_dst);
        self.front
            .on_tunnel_payload(ts_us, kind, data, outer, &mut self.staged);
        self.output_if_due()
    }

    /// Let time pass without a packet (an idle live source): the timeouts due run.
    pub fn advance(&mut self, now_us: u64) -> Result<(), ExportError> {
        self.front.advance(now_us, &mut self.staged);
        self.output_if_due()
    }

    /// Run the output stages when a batch is full or the front ran its timeouts (the output
    /// stages run theirs at once: an idle live source has no more transactions to fill the
    /// batch).
    #[inline]
    fn output_if_due(&mut self) -> Result<(), ExportError> {
        if !self.staged.ticks.is_empty() || self.staged.items.len() >= self.stage_at {
            self.output()?;
        }
        Ok(())
    }

    /// End of input (or shutdown): flush every stream, end every session, flush the exporter.
    pub fn finish(&mut self, reason: EndReason) -> Result<(), ExportError> {
        self.front.flush(&mut self.staged);
        self.output()?;
        self.out.finish(self.front.now_us(), reason)
    }

    /// The analyses, then the output stages, over the staged transactions (and timeout
    /// checks), one stage at a time.
    fn output(&mut self) -> Result<(), ExportError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        self.analyses.run(&mut self.staged);
        self.staged.now_us = self.front.now_us();
        let done = self.out.run(&mut self.staged);
        self.staged.clear();
        done
    }

    /// All counters as they stand.
    pub fn stats(&self) -> PipelineStats {
        PipelineStats::of(self.front.stats(), self.out.stats())
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
        replay_with(cfg, pcap, stage_at, None)
    }

    /// [`replay`] with `stage` added to the output stages.
    fn replay_with(
        cfg: &Config,
        pcap: &str,
        stage_at: usize,
        stage: Option<Box<dyn crate::output::Stage>>,
    ) -> String {
        let out = Shared::default();
        let mut p = Pipeline::new(cfg, Box::new(JsonLinesExporter::new(out.clone()))).unwrap();
        if let Some(stage) = stage {
            p = p.with_stage(stage);
        }
        p.stage_at = stage_at;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(pcap);
        let mut src = OfflineSource::open(&[path]).unwrap();
        src.run(|pkt| p.on_packet(pkt).is_ok());
        p.finish(EndReason::EndOfInput).unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text
    }

    /// The shop's config, with sessions that end idle, and update, between the transactions
    /// of `journeys.pcap`.
    fn idling_cfg() -> Config {
        let mut cfg = Config::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions/shop.toml"),
        )
        .unwrap();
        cfg.session.idle_timeout_ms = 150;
        cfg.session.update_interval_ms = 10;
        cfg
    }

    /// Staging changes when the output stages run, never what they write: sessions that
    /// end idle between transactions, logins binding later requests, every batch size.
    #[test]
    fn staging_leaves_records_unchanged() {
        let cfg = idling_cfg();
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

    /// A stage that marks every transaction in its session's state, as a new analysis
    /// would (docs/architecture.md, "Adding an analysis"); a deferred one reads them in runs
    /// ([`crate::output::Stage::deferred`]).
    #[derive(Default)]
    struct Marks {
        seen: u64,
        deferred: bool,
    }

    impl crate::output::Stage for Marks {
        fn transaction(
            &mut self,
            _now_us: u64,
            _item: &crate::staged::Staged,
            session: Option<crate::output::SessionCx<'_>>,
            _records: &mut crate::output::Records,
        ) -> Result<(), ExportError> {
            self.seen += 1;
            if let Some(crate::output::SessionCx {
                state: Some(state), ..
            }) = session
            {
                state.count_anomalies(["marked"]);
            }
            Ok(())
        }

        fn add_stats(&self, stats: &mut crate::output::OutputStats) {
            stats.anomalies.insert("marked".into(), self.seen);
        }

        fn deferred(&self) -> bool {
            self.deferred
        }
    }

    /// Every session record of `text` counts as many marks as its transactions; returns
    /// the start, update and end records seen.
    fn marks_count_every_transaction(text: &str) -> (usize, usize, usize) {
        let mut phases = (0, 0, 0);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let (Some("session"), Some(phase)) = (v["type"].as_str(), v["phase"].as_str()) else {
                continue;
            };
            let marked = v["anomalies"]["marked"].as_u64();
            assert_eq!(marked, v["requests"].as_u64(), "{line}");
            match phase {
                "start" => phases.0 += 1,
                "update" => phases.1 += 1,
                _ => phases.2 += 1,
            }
        }
        phases
    }

    /// A deferred stage reads every transaction, in runs, before any session record is made:
    /// start records (made at a part's first transaction), updates and idle ends (at the
    /// timeout checks) and the ends the table makes on the way (a full table's eviction)
    /// count all of it, at every batch size; its records are the same set as a stage's that
    /// reads each transaction in turn.
    #[test]
    fn a_deferred_stage_counts_in_every_session_record() {
        let cfg = idling_cfg();
        let mut full = cfg.clone();
        full.session.max_sessions = 2;
        let pcap = "fixtures/sessions/journeys.pcap";
        let marks = |deferred| Some(Box::new(Marks { seen: 0, deferred }) as Box<_>);
        let sorted = |text: &str| {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        for (cfg, reason) in [(&cfg, "idle"), (&full, "evicted")] {
            let in_turn = replay_with(cfg, pcap, STAGED_TRANSACTIONS, marks(false));
            for n in [1, 2, 7, STAGED_TRANSACTIONS, 100_000] {
                let text = replay_with(cfg, pcap, n, marks(true));
                let (starts, updates, ends) = marks_count_every_transaction(&text);
                assert!(starts > 0 && updates > 0 && ends > 0, "{n}: lost its point");
                let ended = format!(r#""reason":"{reason}""#);
                assert!(text.contains(&ended), "{n}: no {reason} end");
                assert_eq!(sorted(&text), sorted(&in_turn), "{reason}, staging by {n}");
            }
        }
    }

    /// A stage added to the chain sees every transaction, and what it keeps in a session's
    /// state is in that session's records, from the start record on.
    #[test]
    fn a_stage_keeps_state_in_the_session_records() {
        let cfg = Config::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions/shop.toml"),
        )
        .unwrap();
        let text = replay_with(
            &cfg,
            "fixtures/sessions/journeys.pcap",
            STAGED_TRANSACTIONS,
            Some(Box::new(Marks::default())),
        );
        let (mut starts, mut ends, mut with_session) = (0, 0, 0);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            match (v["type"].as_str(), v["phase"].as_str()) {
                (Some("session"), Some(phase)) => {
                    let marked = v["anomalies"]["marked"].as_u64();
                    match phase {
                        "start" => {
                            starts += 1;
                            assert_eq!(marked, Some(1), "{line}");
                        }
                        "end" => {
                            ends += 1;
                            assert_eq!(marked, v["requests"].as_u64(), "{line}");
                        }
                        _ => {}
                    }
                }
                (Some("http"), _) => with_session += u64::from(!v["session_id"].is_null()),
                _ => {}
            }
        }
        assert!(starts > 0 && ends > 0 && with_session > 0);
    }
}
