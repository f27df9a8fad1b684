//! The threaded pipeline: N workers (decode → reassembly → HTTP, flow-sharded) feeding one
//! session and export stage on the calling thread.
//!
//! ```text
//!            ┌─► worker 0 ─┐
//! packets ─► dispatch ─► worker 1 ─┼─► sessions → records → exporter   (calling thread)
//!            └─► worker N ─┘
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
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use super::dispatch::{Dispatcher, PacketBatch, QueueDrops, Router, ToWorker};
use super::merge::merge;
use super::worker::{self, WorkerOut, WorkerStats, MAX_WORKERS};
use crate::capture::PacketRef;
use crate::config::Config;
use crate::decode::DecodeConfig;
use crate::output::{OutputStage, OutputStats};
use crate::pipeline::{Pipeline, PipelineStats};

/// Transaction batches that may wait for the session stage. Workers block when it is full
/// (back-pressure reaches the packet queues, where drops are counted).
const SESSION_QUEUE_BATCHES: usize = 16;

/// Most batches queued per worker in replay. Replay waits when a queue is full instead of
/// dropping, so deeper queues (live capture's `capture.queue_batches`, sized for bursts) would
/// only hold more packets in memory, out of the caches.
const REPLAY_QUEUE_BATCHES: usize = 4;

/// How long replay waits on the session queue between attempts to hand a batch to a busy
/// worker.
const BLOCKED_POLL: Duration = Duration::from_millis(1);

/// Counters shared with the metrics thread: each worker publishes its own after every batch,
/// the session stage after every [`Sharded::pump`].
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

/// N workers and the session stage.
pub struct Sharded {
    to_workers: Vec<Sender<ToWorker>>,
    from_workers: Receiver<WorkerOut>,
    handles: Vec<JoinHandle<()>>,
    /// Replay's dispatcher (live capture threads have their own).
    dispatch: Dispatcher,
    /// Where workers return emptied packet batches, for every dispatcher to reuse.
    recycled: Receiver<PacketBatch>,
    session: OutputStage,
    shared: Arc<Shared>,
    /// The first export error; the stage stops exporting after it.
    failed: bool,
}

impl Sharded {
    /// Start `workers` worker threads (1..=32) with queues of `queue_batches` batches.
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
        let session = OutputStage::new(cfg, exporter)?;
        let (out_tx, from_workers) = bounded(SESSION_QUEUE_BATCHES);
        // Room for every batch that can be in flight; a batch beyond that is freed.
        let (recycle_tx, recycled) = bounded(workers * (queue_batches + 2));
        let mut to_workers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        let mut published = Vec::with_capacity(workers);
        for i in 0..workers {
            let (tx, rx) = bounded(queue_batches.max(1));
            let stats = Arc::new(Mutex::new(WorkerStats::default()));
            let cfg = cfg.clone();
            let out = out_tx.clone();
            let recycle = recycle_tx.clone();
            let pubd = Arc::clone(&stats);
            let h = std::thread::Builder::new()
                .name(format!("apitap-worker-{i}"))
                .spawn(move || worker::run(i, &cfg, rx, out, recycle, pubd))
                .map_err(|e| format!("cannot start worker thread: {e}"))?;
            to_workers.push(tx);
            handles.push(h);
            published.push(stats);
        }
        let shared = Arc::new(Shared {
            workers: published,
            ..Shared::default()
        });
        Ok(Sharded {
            to_workers,
            from_workers,
            handles,
            dispatch: Dispatcher::new(&cfg.decode, workers).recycling(recycled.clone()),
            recycled,
            session,
            shared,
            failed: false,
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

    /// Replay: one packet, dispatched to its worker; waits (handling finished transactions)
    /// while the worker's queue is full.
    pub fn on_packet(&mut self, pkt: PacketRef<'_>) -> Result<(), ExportError> {
        let mut ready: Option<Vec<(usize, PacketBatch)>> = None;
        self.dispatch
            .push(pkt, |w, b| ready.get_or_insert_with(Vec::new).push((w, b)));
        if let Some(batches) = ready {
            for (w, b) in batches {
                self.send_blocking(w, ToWorker::Packets(b))?;
            }
        }
        Ok(())
    }

    fn send_blocking(&mut self, w: usize, msg: ToWorker) -> Result<(), ExportError> {
        let Some(tx) = self.to_workers.get(w).cloned() else {
            return Ok(());
        };
        let mut msg = msg;
        loop {
            match tx.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Ok(()),
                Err(TrySendError::Full(m)) => {
                    msg = m;
                    match self.from_workers.recv_timeout(BLOCKED_POLL) {
                        Ok(out) => self.handle(out)?,
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return Ok(()),
                    }
                }
            }
        }
    }

    /// Live: tell every worker the wall-clock time so idle flows and sessions expire without
    /// packets. Skipped for a worker whose queue is full (its packets carry the time).
    pub fn tick(&self, now_us: u64) {
        for tx in &self.to_workers {
            let _ = tx.try_send(ToWorker::Tick(now_us));
        }
    }

    fn handle(&mut self, out: WorkerOut) -> Result<(), ExportError> {
        if self.failed {
            return Ok(());
        }
        let r = self.session.on_transactions(out);
        self.failed = r.is_err();
        r
    }

    /// Handle what the workers finished, waiting at most `timeout` for the first batch.
    /// Returns false once every worker has ended.
    pub fn pump(&mut self, timeout: Duration) -> Result<bool, ExportError> {
        let alive = match self.from_workers.recv_timeout(timeout) {
            Ok(out) => {
                self.handle(out)?;
                while let Ok(more) = self.from_workers.try_recv() {
                    self.handle(more)?;
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        };
        self.publish();
        Ok(alive)
    }

    /// Publish the session stage's counters for the metrics thread.
    fn publish(&self) {
        if let Ok(mut s) = self.shared.session.lock() {
            *s = self.session.stats();
        }
    }

    /// End of input or shutdown: hand on the partial batches, close the worker queues (live
    /// capture threads must have stopped and dropped their routers), let every worker flush
    /// its streams, then end every session with `reason` and flush the exporter.
    pub fn finish(&mut self, reason: EndReason) -> Result<(), ExportError> {
        let mut ready = Vec::new();
        self.dispatch.flush(|w, b| ready.push((w, b)));
        let mut result = Ok(());
        for (w, b) in ready {
            if let Err(e) = self.send_blocking(w, ToWorker::Packets(b)) {
                result = Err(e);
            }
        }
        self.to_workers.clear();
        loop {
            match self.pump(Duration::from_millis(100)) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    // Keep draining so the workers can end; the error is reported once.
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        if result.is_ok() && !self.failed {
            // The workers reported their last packet times with their final transactions.
            result = self.session.finish(0, reason);
        }
        self.publish();
        result
    }

    /// Every counter, merged over the workers.
    pub fn stats(&self) -> PipelineStats {
        self.publish();
        self.shared.snapshot()
    }

    /// Packets dropped at full worker queues.
    pub fn queue_drops(&self) -> u64 {
        self.shared.queue_drops.packets.load(Ordering::Relaxed)
    }
}

/// The single-threaded pipeline, or the sharded one: what `apitap replay` runs.
// One value per run: the size difference costs nothing, boxing would cost an indirection on
// the per-packet path.
#[allow(clippy::large_enum_variant)]
pub enum AnyPipeline {
    /// One thread, deterministic output order (the default for replay).
    Single(Pipeline),
    /// `--workers N`.
    Sharded(Sharded),
}

impl AnyPipeline {
    /// The single pipeline when `workers` is None, else the sharded one.
    pub fn new(
        cfg: &Config,
        exporter: Box<dyn Exporter>,
        workers: Option<usize>,
    ) -> Result<Self, String> {
        match workers {
            None => Pipeline::new(cfg, exporter).map(AnyPipeline::Single),
            Some(n) => {
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
