//! The threaded pipeline: N workers (decode → reassembly → HTTP → analyses → record heads,
//! flow-sharded) feeding the output stages (sessions → stages → records → exporter) on a
//! thread of their own.
//!
//! ```text
//!                       ┌─► worker 0 ─┐
//! packets ─► dispatch ──┼─► worker 1 ─┼─► sessions → record tails → exporter   (output thread)
//!  (caller or capture   └─► worker N ─┘
//!   threads)
//! ```
//!
//! Every queue is bounded. Replay blocks when a worker's queue is full (a file can wait);
//! live capture threads drop and count instead (the kernel ring must keep draining).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use apitap_exporters::{ExportError, Exporter};
use apitap_sessionizer::session::EndReason;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use super::dispatch::{Dispatcher, PacketBatch, QueueDrops, Router, ToWorker};
use super::merge::merge;
use super::worker::{self, WorkerIo, WorkerStages, WorkerStats, MAX_WORKERS};
use crate::analyze::Analyses;
use crate::capture::PacketRef;
use crate::config::Config;
use crate::decode::DecodeConfig;
use crate::output::{Output, OutputStats};
use crate::pipeline::{Pipeline, PipelineStats};
use crate::staged::StagedBatch;

/// Transaction batches that may wait for the session stage. Workers block when it is full
/// (back-pressure reaches the packet queues, where drops are counted).
const SESSION_QUEUE_BATCHES: usize = 16;

/// The session stage publishes its counters when its queue is empty, and at least after this
/// many batches (a busy stage's queue may never be empty).
const PUBLISH_EVERY_BATCHES: usize = 64;

/// Most batches queued per worker in replay. Replay waits when a queue is full instead of
/// dropping, so deeper queues (live capture's `capture.queue_batches`, sized for bursts) would
/// only hold more packets in memory, out of the caches.
const REPLAY_QUEUE_BATCHES: usize = 4;

/// Counters shared with the metrics thread: each worker publishes its own after every batch,
/// the session stage when its queue empties (at least every `PUBLISH_EVERY_BATCHES` batches).
#[derive(Debug, Default)]
pub struct Shared {
    /// One per worker.
    pub workers: Vec<Arc<Mutex<WorkerStats>>>,
    /// The session and export stage.
    pub session: Mutex<OutputStats>,
    /// Packets dropped at full worker queues.
    pub queue_drops: Arc<QueueDrops>,
}

impl Shared {
    /// Every counter, merged.
    pub fn snapshot(&self) -> PipelineStats {
        let workers: Vec<WorkerStats> = self
            .workers
            .iter()
            .filter_map(|w| w.lock().ok().map(|s| s.clone()))
            .collect();
        let session = self.session.lock().map(|s| s.clone()).unwrap_or_default();
        merge(&workers, session)
    }
}

/// N workers and the session stage, each on its own thread.
pub struct Sharded {
    to_workers: Vec<Sender<ToWorker>>,
    handles: Vec<JoinHandle<()>>,
    /// Replay's dispatcher (live capture threads have their own).
    dispatch: Dispatcher,
    /// Where workers return emptied packet batches, for every dispatcher to reuse.
    recycled: Receiver<PacketBatch>,
    /// The session and export stage's thread; returns the stage's result.
    output: Option<JoinHandle<Result<(), ExportError>>>,
    /// How the session stage ends its sessions, sent once by [`Sharded::finish`].
    end_reason: Sender<EndReason>,
    /// The session stage's export error, as soon as it happens.
    export_failed: Receiver<ExportError>,
    /// The export error was already returned (it is returned once).
    failure_reported: bool,
    shared: Arc<Shared>,
}

impl Sharded {
    /// Start `workers` worker threads (1..=32) with queues of `queue_batches` batches, and the
    /// session and export stage's thread.
    pub fn new(
        cfg: &Config,
        exporter: Box<dyn Exporter>,
        workers: usize,
        queue_batches: usize,
    ) -> Result<Self, String> {
        if workers == 0 || workers > MAX_WORKERS {
            return Err(format!(
                "workers must be between 1 and {MAX_WORKERS}, not {workers}"
            ));
        }
        let cfg = &crate::limits::Budget::of(cfg, workers).applied(cfg);
        let session = Output::new(cfg, exporter)?;
        let shared = crate::analyze::Shared::new(cfg)?;
        let (out_tx, from_workers) = bounded(SESSION_QUEUE_BATCHES);
        // Room for every batch that can be in flight; a batch beyond that is freed.
        let (recycle_tx, recycled) = bounded(workers * (queue_batches + 2));
        let mut to_workers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        let mut published = Vec::with_capacity(workers);
        let mut returns = Vec::with_capacity(workers);
        for i in 0..workers {
            let (tx, rx) = bounded(queue_batches.max(1));
            // Every transaction batch in flight can come back: the session queue's and the one
            // being handled.
            let (back_tx, back_rx) = bounded(SESSION_QUEUE_BATCHES + 1);
            returns.push(back_tx);
            let stats = Arc::new(Mutex::new(WorkerStats::default()));
            let cfg = cfg.clone();
            let stages = WorkerStages {
                analyses: Analyses::for_config(&cfg, session.extractor(), &shared),
                redactor: session.redactor(),
                sensor_id: session.sensor_id(),
                gate: crate::front::response_gate(&cfg, &shared),
            };
            let io = WorkerIo {
                rx,
                tx: out_tx.clone(),
                recycle: recycle_tx.clone(),
                returned: back_rx,
                published: Arc::clone(&stats),
            };
            let h = std::thread::Builder::new()
                .name(format!("apitap-worker-{i}"))
                .spawn(move || worker::run(i, &cfg, stages, io))
                .map_err(|e| format!("cannot start worker thread: {e}"))?;
            to_workers.push(tx);
            handles.push(h);
            published.push(stats);
        }
        // Only workers may hold senders: the stage's input ends when the last worker ends.
        drop(out_tx);
        let shared = Arc::new(Shared {
            workers: published,
            ..Shared::default()
        });
        let (end_reason, reason_rx) = bounded(1);
        let (failed_tx, export_failed) = bounded(1);
        let stage = OutputThread {
            stage: session,
            input: from_workers,
            returns,
            end_reason: reason_rx,
            failed: failed_tx,
            shared: Arc::clone(&shared),
        };
        let output = std::thread::Builder::new()
            .name("apitap-output".into())
            .spawn(move || stage.run())
            .map_err(|e| format!("cannot start the output thread: {e}"))?;
        Ok(Sharded {
            to_workers,
            handles,
            dispatch: Dispatcher::new(&cfg.decode, workers).recycling(recycled.clone()),
            recycled,
            output: Some(output),
            end_reason,
            export_failed,
            failure_reported: false,
            shared,
        })
    }

    /// Counters for the metrics thread.
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.to_workers.len()
    }

    /// A dispatcher for a live capture thread, reusing the batches the workers return.
    pub fn dispatcher(&self, cfg: &DecodeConfig) -> Dispatcher {
        Dispatcher::new(cfg, self.workers()).recycling(self.recycled.clone())
    }

    /// A sender for a live capture thread: drops (and counts) when a queue is full.
    pub fn router(&self) -> Router {
        Router {
            txs: self.to_workers.clone(),
            drops: Arc::clone(&self.shared.queue_drops),
        }
    }

    /// Replay: one packet, dispatched to its worker; waits while the worker's queue is full.
    /// Fails once the session stage could not export (the caller stops reading).
    pub fn on_packet(&mut self, pkt: PacketRef<'_>) -> Result<(), ExportError> {
        let mut ready: Option<Vec<(usize, PacketBatch)>> = None;
        self.dispatch
            .push(pkt, |w, b| ready.get_or_insert_with(Vec::new).push((w, b)));
        if let Some(batches) = ready {
            for (w, b) in batches {
                self.send_blocking(w, b);
            }
            self.check_export()?;
        }
        Ok(())
    }

    /// Hand `batch` to worker `w`, waiting for room (replay).
    fn send_blocking(&self, w: usize, batch: PacketBatch) {
        if let Some(tx) = self.to_workers.get(w) {
            // Fails only when the worker is gone, which it is not before `finish`.
            let _ = tx.send(ToWorker::Packets(batch));
        }
    }

    /// The session stage's export error, returned once.
    fn check_export(&mut self) -> Result<(), ExportError> {
        if self.failure_reported {
            return Ok(());
        }
        match self.export_failed.try_recv() {
            Ok(e) => {
                self.failure_reported = true;
                Err(e)
            }
            Err(_) => Ok(()),
        }
    }

    /// Live: tell every worker the wall-clock time so idle flows and sessions expire without
    /// packets. Skipped for a worker whose queue is full (its packets carry the time).
    pub fn tick(&self, now_us: u64) {
        for tx in &self.to_workers {
            let _ = tx.try_send(ToWorker::Tick(now_us));
        }
    }

    /// Live: wait up to `timeout` for the session stage to fail; returns its export error
    /// (once), else Ok(true) while the stage runs.
    pub fn pump(&mut self, timeout: Duration) -> Result<bool, ExportError> {
        if self.failure_reported {
            std::thread::sleep(timeout);
            return Ok(true);
        }
        match self.export_failed.recv_timeout(timeout) {
            Ok(e) => {
                self.failure_reported = true;
                Err(e)
            }
            Err(RecvTimeoutError::Timeout) => Ok(true),
            Err(RecvTimeoutError::Disconnected) => {
                // The stage ended (it does only after every worker): still wait, so that a
                // caller's loop does not spin.
                std::thread::sleep(timeout);
                Ok(false)
            }
        }
    }

    /// End of input or shutdown: hand on the partial batches, close the worker queues (live
    /// capture threads must have stopped and dropped their routers), let every worker flush
    /// its streams, then let the session stage end every session with `reason` and flush the
    /// exporter. Returns the stage's export error unless it was returned already.
    pub fn finish(&mut self, reason: EndReason) -> Result<(), ExportError> {
        let mut ready = Vec::new();
        self.dispatch.flush(|w, b| ready.push((w, b)));
        for (w, b) in ready {
            self.send_blocking(w, b);
        }
        self.to_workers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        let _ = self.end_reason.try_send(reason);
        let result = match self.output.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(ExportError::Io(std::io::Error::other(
                "the output thread panicked",
            ))),
            None => Ok(()),
        };
        // An error of the stage's run that nobody asked for yet comes before the final
        // flush's (which did not run after it).
        self.check_export()?;
        if self.failure_reported {
            return Ok(());
        }
        result
    }

    /// Every counter, merged over the workers.
    pub fn stats(&self) -> PipelineStats {
        self.shared.snapshot()
    }

    /// Packets dropped at full worker queues.
    pub fn queue_drops(&self) -> u64 {
        self.shared.queue_drops.packets.load(Ordering::Relaxed)
    }
}

/// The output stages' thread: transactions from every worker, in arrival order.
struct OutputThread {
    stage: Output,
    input: Receiver<StagedBatch>,
    /// Handled batches go back to the worker that filled them (by `StagedBatch::worker`);
    /// one that does not fit is freed here.
    returns: Vec<Sender<StagedBatch>>,
    /// How to end sessions once the input ends.
    end_reason: Receiver<EndReason>,
    /// Where the first export error goes; the stage stops exporting after it.
    failed: Sender<ExportError>,
    shared: Arc<Shared>,
}

impl OutputThread {
    /// Run until every worker has ended, then end the sessions and flush the exporter.
    fn run(mut self) -> Result<(), ExportError> {
        let mut failed = false;
        let mut unpublished = 0;
        for mut out in self.input.iter() {
            // After a failure, keep draining so that workers never block on a stopped stage.
            let drained_only = failed;
            if !failed {
                if let Err(e) = self.stage.run(&mut out) {
                    failed = true;
                    let _ = self.failed.try_send(e);
                }
            }
            if let Some(back) = self.returns.get(out.worker) {
                let _ = back.try_send(out);
            }
            if drained_only {
                continue;
            }
            unpublished += 1;
            if self.input.is_empty() || unpublished >= PUBLISH_EVERY_BATCHES {
                self.publish();
                unpublished = 0;
            }
        }
        let result = if failed {
            Ok(())
        } else {
            let reason = self.end_reason.recv().unwrap_or(EndReason::Shutdown);
            // The workers reported their last packet times with their final transactions.
            self.stage.finish(0, reason)
        };
        self.publish();
        result
    }

    /// Publish the stage's counters for the metrics thread and the final stats.
    fn publish(&self) {
        if let Ok(mut s) = self.shared.session.lock() {
            *s = self.stage.stats();
        }
    }
}

/// The single-threaded pipeline, or the sharded one: what `apitap replay` runs.
// One value per run: the size difference costs nothing, boxing would cost an indirection on
// the per-packet path.
#[allow(clippy::large_enum_variant)]
pub enum AnyPipeline {
    /// One thread, deterministic output order (the default for replay; `--workers 0`).
    Single(Pipeline),
    /// `--workers N`, N >= 1.
    Sharded(Sharded),
}

impl AnyPipeline {
    /// The single pipeline when `workers` is 0, else the sharded one with that many workers.
    pub fn new(cfg: &Config, exporter: Box<dyn Exporter>, workers: usize) -> Result<Self, String> {
        match workers {
            0 => Pipeline::new(cfg, exporter).map(AnyPipeline::Single),
            n => {
                let queue = cfg.capture.queue_batches.min(REPLAY_QUEUE_BATCHES);
                Sharded::new(cfg, exporter, n, queue).map(AnyPipeline::Sharded)
            }
        }
    }

    /// Push one packet through.
    #[inline]
    pub fn on_packet(&mut self, pkt: PacketRef<'_>) -> Result<(), ExportError> {
        match self {
            AnyPipeline::Single(p) => p.on_packet(pkt),
            AnyPipeline::Sharded(s) => s.on_packet(pkt),
        }
    }

    /// End of input: flush everything.
    pub fn finish(&mut self, reason: EndReason) -> Result<(), ExportError> {
        match self {
            AnyPipeline::Single(p) => p.finish(reason),
            AnyPipeline::Sharded(s) => s.finish(reason),
        }
    }

    /// All counters.
    pub fn stats(&self) -> PipelineStats {
        match self {
            AnyPipeline::Single(p) => p.stats(),
            AnyPipeline::Sharded(s) => s.stats(),
        }
    }
}
