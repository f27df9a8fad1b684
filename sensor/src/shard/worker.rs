//! One worker thread: decode → reassembly → HTTP for the flows hashed to it. Finished
//! transactions go to the session stage with the worker's packet clock.

use std::sync::{Arc, Mutex};

use apitap_reassembly::{ConnId, Reassembler, ReassemblyStats};
use apitap_sessionizer::http::{HttpStats, HttpTracker};
use apitap_sessionizer::record::Redactor;
use apitap_sessionizer::session::Extractor;
use crossbeam_channel::{Receiver, Sender};

use super::dispatch::{PacketBatch, ToWorker};
use crate::config::Config;
use crate::decode::{DecodeStats, Decoder};
use crate::output::{FinishedBatch, EXPIRE_INTERVAL_US};
use crate::pipeline::http_config;

/// Connection ids of worker `i` start at `i << CONN_ID_SHIFT` (plus 1): unique across workers,
/// and worker 0 numbers connections exactly as the single-threaded pipeline does. 2^48
/// connections per worker, and ids stay below 2^53 (exact in JSON doubles) up to 32 workers.
const CONN_ID_SHIFT: u32 = 48;

/// Most workers: ids must stay exact as JSON numbers (see `CONN_ID_SHIFT`).
pub const MAX_WORKERS: usize = 32;

/// Queued messages handled before finished transactions are handed on.
const MAX_MESSAGES_PER_OUTPUT: usize = 2;

/// What a worker hands to the session stage: finished transactions in completion order,
/// each with the outermost tunnel its flow came through (known to this worker's decoder only)
/// and its record head already written, so that serialization, the largest part of the
/// output's work, runs in parallel.
pub type WorkerOut = FinishedBatch;

/// The counters of one worker, published after every batch.
#[derive(Clone, Debug, Default)]
pub struct WorkerStats {
    /// Decode counters.
    pub decode: DecodeStats,
    /// Reassembly counters.
    pub reassembly: ReassemblyStats,
    /// HTTP counters.
    pub http: HttpStats,
    /// Connections tracked now.
    pub active_flows: usize,
    /// Packet batches processed.
    pub batches: u64,
}

/// One shard of decode, reassembly and HTTP.
struct Worker {
    decoder: Decoder,
    reassembler: Reassembler,
    http: HttpTracker,
    /// Redaction rules for the record heads written here.
    redactor: Redactor,
    /// Reads the session facts of finished transactions (sessions on).
    extractor: Option<Extractor>,
    /// Size of the last batch's record heads: the next batch's buffer starts that large.
    heads_hint: usize,
    /// This worker's index (where the session stage returns its batches).
    index: usize,
    /// Batches back from the session stage: their transactions are freed here, on the thread
    /// that allocated them, and their buffers refilled.
    returned: Receiver<FinishedBatch>,
    /// Finished transactions and timeout checks not yet handed to the session stage.
    pending: FinishedBatch,
    /// Latest packet (or tick) time; never goes backwards.
    now_us: u64,
    next_expire_us: u64,
    batches: u64,
}

impl Worker {
    fn new(
        index: usize,
        cfg: &Config,
        extractor: Option<Extractor>,
        returned: Receiver<FinishedBatch>,
    ) -> Self {
        let first = ((index as u64) << CONN_ID_SHIFT) | 1;
        Worker {
            decoder: Decoder::with_config(&cfg.decode),
            reassembler: Reassembler::new(cfg.reassembly.clone()).with_first_conn_id(ConnId(first)),
            http: HttpTracker::new(http_config(cfg)),
            redactor: Redactor::new(&cfg.output),
            extractor,
            heads_hint: 0,
            index,
            returned,
            pending: FinishedBatch {
                worker: index,
                ..FinishedBatch::default()
            },
            now_us: 0,
            next_expire_us: 0,
            batches: 0,
        }
    }

    /// Run the timeouts when due, as the single-threaded pipeline does after a packet: the
    /// transactions they finish are collected, then the session stage is told to run its own
    /// timeouts at this point of the stream (so that one worker's records are those of the
    /// single-threaded pipeline, byte for byte).
    fn expire_if_due(&mut self) {
        if self.now_us >= self.next_expire_us {
            self.reassembler.expire(self.now_us, &mut self.http);
            self.collect();
            self.pending.push_tick(self.now_us);
            self.next_expire_us = self.now_us.saturating_add(EXPIRE_INTERVAL_US);
        }
    }

    /// Move the finished transactions into the pending batch, stamped with the packet time
    /// they finished at.
    #[inline]
    fn collect(&mut self) {
        self.pending
            .collect(self.now_us, &mut self.http, &self.decoder);
    }

    fn on_message(&mut self, msg: ToWorker, recycle: &Sender<PacketBatch>) {
        match msg {
            ToWorker::Packets(mut batch) => {
                self.batches += 1;
                for pkt in batch.packets() {
                    self.now_us = self.now_us.max(pkt.ts_us);
                    let decoded =
                        self.decoder
                            .decode_at(self.now_us, pkt.link, pkt.data, pkt.wire_len);
                    if let Some(seg) = decoded {
                        self.reassembler.process(self.now_us, &seg, &mut self.http);
                    }
                    self.expire_if_due();
                    self.collect();
                }
                // Back to the dispatcher to be filled again; dropped if it has enough.
                batch.clear();
                let _ = recycle.try_send(batch);
            }
            ToWorker::Tick(now_us) => {
                self.now_us = self.now_us.max(now_us);
                self.expire_if_due();
                self.collect();
            }
        }
    }

    /// The pending batch, when it holds transactions or timeout checks for the session stage.
    fn output(&mut self) -> Option<WorkerOut> {
        if self.pending.txs.is_empty() && self.pending.ticks.is_empty() {
            return None;
        }
        Some(self.take())
    }

    /// The pending batch with its record heads written and session facts read, and a fresh
    /// one (a returned batch when there is one) in its place.
    fn take(&mut self) -> WorkerOut {
        let fresh = match self.returned.try_recv() {
            Ok(mut back) => {
                back.clear();
                back
            }
            Err(_) => FinishedBatch {
                worker: self.index,
                heads: Vec::with_capacity(self.heads_hint),
                ..FinishedBatch::default()
            },
        };
        let mut out = std::mem::replace(&mut self.pending, fresh);
        out.now_us = self.now_us;
        out.prepare(&self.redactor, self.extractor.as_mut());
        if !out.txs.is_empty() {
            self.heads_hint = out.heads.len();
        }
        out
    }

    fn stats(&self) -> WorkerStats {
        WorkerStats {
            decode: self.decoder.stats().clone(),
            reassembly: self.reassembler.stats().clone(),
            http: self.http.stats().clone(),
            active_flows: self.reassembler.active_flows(),
            batches: self.batches,
        }
    }
}

/// The body of worker thread `index`: runs until every sender of `rx` is gone, then flushes
/// its open streams (their transactions end with what was seen) and returns. Emptied packet
/// batches go back on `recycle`. With sessions on, `extractor` reads each finished
/// transaction's session facts here, so the session stage only keeps the table.
#[allow(clippy::too_many_arguments)] // the thread's whole wiring, named at its one call site
pub fn run(
    index: usize,
    cfg: &Config,
    extractor: Option<Extractor>,
    returned: Receiver<FinishedBatch>,
    rx: Receiver<ToWorker>,
    tx: Sender<WorkerOut>,
    recycle: Sender<PacketBatch>,
    published: Arc<Mutex<WorkerStats>>,
) {
    let mut w = Worker::new(index, cfg, extractor, returned);
    for msg in rx.iter() {
        w.on_message(msg, &recycle);
        // What is already queued is handled before output: fewer, larger hand-offs under load
        // (bounded, so transactions do not pile up in the tracker).
        for _ in 0..MAX_MESSAGES_PER_OUTPUT {
            match rx.try_recv() {
                Ok(more) => w.on_message(more, &recycle),
                Err(_) => break,
            }
        }
        if let Some(out) = w.output() {
            if tx.send(out).is_err() {
                break;
            }
        }
        if let Ok(mut s) = published.lock() {
            *s = w.stats();
        }
    }
    w.reassembler.flush(w.now_us, &mut w.http);
    w.collect();
    let _ = tx.send(w.take());
    if let Ok(mut s) = published.lock() {
        *s = w.stats();
    }
}
