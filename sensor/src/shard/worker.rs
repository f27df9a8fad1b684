//! One worker thread: the front stages ([`Front`]) and the analyses ([`Analyses`]) for the
//! flows hashed to it, then every record's head. Finished transactions go to the output
//! stage with the worker's packet clock.

use std::sync::{Arc, Mutex};

use apitap_reassembly::ConnId;
use apitap_sessionizer::http::ResponseGate;
use apitap_sessionizer::record::Redactor;
use crossbeam_channel::{Receiver, Sender};

use super::dispatch::{PacketBatch, ToWorker};
use crate::analyze::Analyses;
use crate::config::Config;
use crate::front::{Front, FrontStats};
use crate::staged::StagedBatch;

/// Connection ids of worker `i` start at `i << CONN_ID_SHIFT` (plus 1): unique across workers,
/// and worker 0 numbers connections exactly as the single-threaded pipeline does. 2^48
/// connections per worker, and ids stay below 2^53 (exact in JSON doubles) up to 32 workers.
const CONN_ID_SHIFT: u32 = 48;

/// Most workers: ids must stay exact as JSON numbers (see `CONN_ID_SHIFT`).
pub const MAX_WORKERS: usize = 32;

/// Queued messages handled before finished transactions are handed on.
const MAX_MESSAGES_PER_OUTPUT: usize = 2;

/// The counters of one worker, published after every batch.
#[derive(Clone, Debug, Default)]
pub struct WorkerStats {
    /// The front stages' counters.
    pub front: FrontStats,
    /// Packet batches processed.
    pub batches: u64,
}

/// One shard of the front stages and the analyses.
struct Worker {
    front: Front,
    analyses: Analyses,
    /// Redaction rules for the record heads written here.
    redactor: Redactor,
    /// The sensor id written in the record heads.
    sensor_id: Option<Arc<str>>,
    /// Size of the last batch's record heads: the next batch's buffer starts that large.
    heads_hint: usize,
    /// This worker's index (where the output stage returns its batches).
    index: usize,
    /// Batches back from the output stage: their transactions are freed here, on the thread
    /// that allocated them, and their buffers refilled.
    returned: Receiver<StagedBatch>,
    /// Finished transactions and timeout checks not yet handed to the output stage.
    pending: StagedBatch,
    batches: u64,
}

impl Worker {
    fn new(
        index: usize,
        cfg: &Config,
        stages: WorkerStages,
        returned: Receiver<StagedBatch>,
    ) -> Self {
        let first = ((index as u64) << CONN_ID_SHIFT) | 1;
        Worker {
            front: Front::new(cfg, ConnId(first), stages.gate),
            analyses: stages.analyses,
            redactor: stages.redactor,
            sensor_id: stages.sensor_id,
            heads_hint: 0,
            index,
            returned,
            pending: StagedBatch::for_worker(index, 0),
            batches: 0,
        }
    }

    fn on_message(&mut self, msg: ToWorker, recycle: &Sender<PacketBatch>) {
        match msg {
            ToWorker::Packets(mut batch) => {
                self.batches += 1;
                for pkt in batch.packets() {
                    self.front.on_packet(pkt, &mut self.pending);
                }
                // Back to the dispatcher to be filled again; dropped if it has enough.
                batch.clear();
                let _ = recycle.try_send(batch);
            }
            ToWorker::Tick(now_us) => self.front.advance(now_us, &mut self.pending),
        }
    }

    /// The pending batch, when it holds transactions or timeout checks for the output stage.
    fn output(&mut self) -> Option<StagedBatch> {
        if self.pending.is_empty() {
            return None;
        }
        Some(self.take())
    }

    /// The pending batch with its analyses run and its record heads written, and a fresh one
    /// (a returned batch when there is one) in its place.
    fn take(&mut self) -> StagedBatch {
        let fresh = match self.returned.try_recv() {
            Ok(mut back) => {
                back.clear();
                back
            }
            Err(_) => StagedBatch::for_worker(self.index, self.heads_hint),
        };
        let mut out = std::mem::replace(&mut self.pending, fresh);
        out.now_us = self.front.now_us();
        self.analyses.run(&mut out);
        self.write_heads(&mut out);
        if !out.items.is_empty() {
            self.heads_hint = out.heads.len();
        }
        out
    }

    /// Write the record head of every transaction of `batch` (serialization, the largest part
    /// of the output's work, runs here, in parallel over the workers).
    fn write_heads(&self, batch: &mut StagedBatch) {
        let StagedBatch { items, heads, .. } = batch;
        for item in items.iter_mut().filter(|i| i.head.is_none()) {
            let start = heads.len();
            item.record(&self.redactor, self.sensor_id.as_deref())
                .write_json_head(heads);
            item.head = Some(start..heads.len());
        }
    }

    fn stats(&self) -> WorkerStats {
        WorkerStats {
            front: self.front.stats(),
            batches: self.batches,
        }
    }
}

/// What a worker runs besides its front: the analyses and the redaction of record heads.
pub struct WorkerStages {
    /// The stateless analyses.
    pub analyses: Analyses,
    /// Redaction rules for the record heads written here.
    pub redactor: Redactor,
    /// The sensor id the record heads carry (`export.sensor_id`).
    pub sensor_id: Option<Arc<str>>,
    /// Attack detection's response gate, for the worker's HTTP stage
    /// ([`crate::front::response_gate`]).
    pub gate: Option<Box<dyn ResponseGate>>,
}

/// A worker's wiring: where it reads packets, where it hands its batches, where they come
/// back and where it publishes its counters.
pub struct WorkerIo {
    /// Packet batches and clock ticks from the dispatchers.
    pub rx: Receiver<ToWorker>,
    /// The output stage's queue.
    pub tx: Sender<StagedBatch>,
    /// Where emptied packet batches go back to the dispatchers.
    pub recycle: Sender<PacketBatch>,
    /// Handled batches back from the output stage.
    pub returned: Receiver<StagedBatch>,
    /// This worker's counters, for the metrics thread.
    pub published: Arc<Mutex<WorkerStats>>,
}

/// The body of worker thread `index`: runs until every sender of `io.rx` is gone, then
/// flushes its open streams (their transactions end with what was seen) and returns.
pub fn run(index: usize, cfg: &Config, stages: WorkerStages, io: WorkerIo) {
    let mut w = Worker::new(index, cfg, stages, io.returned);
    for msg in io.rx.iter() {
        w.on_message(msg, &io.recycle);
        // What is already queued is handled before output: fewer, larger hand-offs under load
        // (bounded, so transactions do not pile up in the tracker).
        for _ in 0..MAX_MESSAGES_PER_OUTPUT {
            match io.rx.try_recv() {
                Ok(more) => w.on_message(more, &io.recycle),
                Err(_) => break,
            }
        }
        if let Some(out) = w.output() {
            if io.tx.send(out).is_err() {
                break;
            }
        }
        if let Ok(mut s) = io.published.lock() {
            *s = w.stats();
        }
    }
    w.front.flush(&mut w.pending);
    let _ = io.tx.send(w.take());
    if let Ok(mut s) = io.published.lock() {
        *s = w.stats();
    }
}
