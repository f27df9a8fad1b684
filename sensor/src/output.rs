//! The last stages, shared by the single-threaded [`crate::pipeline::Pipeline`] and the
//! sharded daemon: transactions → sessions → records → exporter.
//!
//! Sessions need a global view (one user's connections may hash to different workers), so in
//! the sharded pipeline this stage runs once, fed by every worker.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::{Duration, Instant};

use apitap_exporters::{EventMeta, ExportError, ExportStats, Exporter};
use apitap_sessionizer::http::{HttpTracker, Transaction};
use apitap_sessionizer::record::{write_json_tail, HttpRecord, Redactor};
use apitap_sessionizer::session::secret::HEX_LEN;
use apitap_sessionizer::session::{
    EndReason, Extractor, SessionRecord, SessionStats, Sessionizer, TxFacts, TxSession,
};
use apitap_sessionizer::tunnel::TunnelInfo;

use crate::config::Config;
use crate::decode::Decoder;

/// How often (packet time) timeouts are checked: idle flows, holes waiting to become gaps,
/// idle sessions and periodic session updates.
pub(crate) const EXPIRE_INTERVAL_US: u64 = 100_000;

/// How often (wall time) a running sensor writes out what its exporter buffers, so that a
/// file's readers see records within about this long (JSON lines are written through a large
/// buffer).
pub(crate) const OUTPUT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Initial capacity of the buffer one record is serialized into (it grows as needed and is
/// reused).
const RECORD_BUFFER_CAPACITY: usize = 4096;

/// Record type of transactions.
pub(crate) const KIND_HTTP: &str = "http";
/// Record type of session lifecycle records.
const KIND_SESSION: &str = "session";

/// A finished transaction on its way to the output stage.
#[derive(Debug)]
pub struct Finished {
    /// The packet clock of the pipeline that drained it, when it did.
    pub now_us: u64,
    /// The transaction.
    pub tx: Transaction,
    /// The outermost tunnel its flow came through (known to the decoder that saw it only).
    pub tunnel: Option<TunnelInfo>,
    /// Where its record's head ([`HttpRecord::write_json_head`]) is in
    /// [`FinishedBatch::heads`]; None until a worker's [`FinishedBatch::prepare`] (the
    /// single-threaded pipeline leaves heads to the output stage), or when it could not be
    /// written there.
    pub head: Option<Range<usize>>,
}

/// Finished transactions of one pipeline, with (after [`Self::prepare`]) their record heads
/// written and, when sessions are on, their session facts read.
///
/// A stage runs over the whole batch before the next one starts: the code of one stage stays
/// in the instruction cache for the batch instead of every transaction running through all
/// of it. A worker writes every head, then reads every transaction's facts, then hands the
/// batch on; the single-threaded pipeline reads every transaction's facts, then runs the
/// table, head, tail and export for each, so that a record leaves while its head is still
/// in the data cache (docs/bench.md has the simulated misses of both).
#[derive(Debug, Default)]
pub struct FinishedBatch {
    /// The worker that filled it, which gets it back to free the transactions (memory is
    /// freed fastest by the thread that allocated it) and reuse the buffers.
    pub worker: usize,
    /// The worker's packet clock when the transactions were drained.
    pub now_us: u64,
    /// In completion order.
    pub txs: Vec<Finished>,
    /// The record heads, back to back.
    pub heads: Vec<u8>,
    /// Timeout checks of the pipeline that filled it, `(n, t)`: after its first `n`
    /// transactions, at packet time `t`. The session stage runs its own there.
    pub ticks: Vec<(usize, u64)>,
    /// What each transaction tells the session table, once read ([`Self::read_facts`],
    /// sessions on): `facts[i]` is `txs[i]`'s; those of `txs[facts.len()..]` are unread.
    /// Kept apart from `txs` and handed to the table by reference: each is a few hundred
    /// bytes, and moving them in and out of the batch showed in profiles.
    pub facts: Vec<TxFacts>,
}

impl FinishedBatch {
    /// Add `tx`, drained at packet time `now_us`; nothing is read from it yet.
    pub fn push(&mut self, now_us: u64, tx: Transaction, tunnel: Option<TunnelInfo>) {
        self.txs.push(Finished {
            now_us,
            tx,
            tunnel,
            head: None,
        });
    }

    /// Write the record head of every transaction with `redactor`, then read the session
    /// facts of every transaction with `extractor` (when sessions are on): what a worker
    /// does before handing the batch on.
    pub fn prepare(&mut self, redactor: &Redactor, extractor: Option<&mut Extractor>) {
        self.write_heads(redactor);
        if let Some(x) = extractor {
            self.read_facts(x);
        }
    }

    /// Read the session facts of every transaction that has none yet.
    pub fn read_facts(&mut self, extractor: &mut Extractor) {
        let Some(unread) = self.txs.get(self.facts.len()..).filter(|t| !t.is_empty()) else {
            return;
        };
        let todo: Vec<&Transaction> = unread.iter().map(|f| &f.tx).collect();
        extractor.facts_batch(&todo, &mut self.facts);
    }

    /// Write the record head of every transaction that has none yet.
    fn write_heads(&mut self, redactor: &Redactor) {
        for f in self.txs.iter_mut().filter(|f| f.head.is_none()) {
            let start = self.heads.len();
            let rec = HttpRecord {
                tx: &f.tx,
                redactor,
                tunnel: f.tunnel.as_ref(),
            };
            f.head = match rec.write_json_head(&mut self.heads) {
                Ok(()) => Some(start..self.heads.len()),
                Err(_) => {
                    // Unreachable (see OutputStage::transaction); the stage tries again and
                    // counts the failure.
                    self.heads.truncate(start);
                    None
                }
            };
        }
    }

    /// Add every transaction `http` has finished, at packet time `now_us`, each with the
    /// outermost tunnel `decoder` saw its flow come through.
    #[inline]
    pub fn collect(&mut self, now_us: u64, http: &mut HttpTracker, decoder: &Decoder) {
        for tx in http.drain() {
            let tunnel = if tx.zone == 0 {
                None
            } else {
                decoder.tunnel(tx.zone).cloned()
            };
            self.push(now_us, tx, tunnel);
        }
    }

    /// A timeout check at packet time `now_us`, after the transactions pushed so far.
    pub fn push_tick(&mut self, now_us: u64) {
        self.ticks.push((self.txs.len(), now_us));
    }

    /// Empty, keeping the buffers.
    pub fn clear(&mut self) {
        self.txs.clear();
        self.heads.clear();
        self.ticks.clear();
        self.facts.clear();
    }
}

/// What the output stage counted.
#[derive(Clone, Debug, Default)]
pub struct OutputStats {
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
    /// Sessions open now.
    pub active_sessions: usize,
}

/// Sessions, serialization and export.
pub struct OutputStage {
    /// `None` when `session.enabled` is off.
    sessions: Option<Sessionizer>,
    redactor: Redactor,
    exporter: Box<dyn Exporter>,
    /// Reused serialization buffer.
    buf: Vec<u8>,
    /// Reused buffer of http records' tails.
    tail: Vec<u8>,
    /// Session records produced by the last step, reused.
    session_out: Vec<SessionRecord>,
    /// Latest packet time seen; never goes backwards.
    now_us: u64,
    next_expire_us: u64,
    /// When the exporter's buffer was last written out.
    last_flush: Instant,
    transactions: u64,
    session_records: u64,
    encode_failures: u64,
    anomalies: BTreeMap<String, u64>,
}

impl OutputStage {
    /// The stage writing to `exporter`. Fails when the session settings cannot be used (a key
    /// that does not parse, no secret obtainable); the message says what to fix.
    pub fn new(cfg: &Config, exporter: Box<dyn Exporter>) -> Result<Self, String> {
        let sessions = if cfg.session.enabled {
            let (secret, warning) = crate::secret::resolve(&cfg.session)?;
            if let Some(w) = warning {
                eprintln!("apitap: warning: {w}");
            }
            Some(Sessionizer::new(&cfg.session, secret).map_err(|e| e.to_string())?)
        } else {
            None
        };
        Ok(OutputStage {
            sessions,
            redactor: Redactor::new(&cfg.output),
            exporter,
            buf: Vec::with_capacity(RECORD_BUFFER_CAPACITY),
            tail: Vec::with_capacity(RECORD_BUFFER_CAPACITY),
            session_out: Vec::new(),
            now_us: 0,
            next_expire_us: 0,
            last_flush: Instant::now(),
            transactions: 0,
            session_records: 0,
            encode_failures: 0,
            anomalies: BTreeMap::new(),
        })
    }

    /// A reader of session facts for a pipeline's batches ([`FinishedBatch::read_facts`]);
    /// `None` when sessions are off.
    pub fn extractor(&self) -> Option<Extractor> {
        self.sessions.as_ref().map(Sessionizer::extractor)
    }

    /// A worker's batch (record heads written, facts read by the worker): its transactions
    /// and timeout checks in order, then its clock, where the end of input starts from. The
    /// batch is left for its worker to free and reuse.
    pub fn on_transactions(&mut self, batch: &mut FinishedBatch) -> Result<(), ExportError> {
        self.transactions(batch)?;
        self.now_us = self.now_us.max(batch.now_us);
        Ok(())
    }

    /// Every transaction of `batch`, in order, each at the packet time it was drained, with
    /// the batch's timeout checks where they were made.
    pub fn transactions(&mut self, batch: &mut FinishedBatch) -> Result<(), ExportError> {
        let FinishedBatch {
            txs,
            heads,
            ticks,
            facts,
            ..
        } = batch;
        if let Some(s) = &mut self.sessions {
            s.prefetch(facts);
        }
        let mut ticks = ticks.iter().copied().peekable();
        let mut facts = facts.iter_mut();
        for (i, f) in txs.iter().enumerate() {
            while let Some((_, t)) = ticks.next_if(|&(at, _)| at <= i) {
                self.tick(t)?;
            }
            let head = f.head.clone().and_then(|r| heads.get(r));
            self.transaction(f.now_us, &f.tx, f.tunnel.as_ref(), head, facts.next())?;
        }
        for (_, t) in ticks {
            self.tick(t)?;
        }
        Ok(())
    }

    /// Sessionize, serialize and export one transaction (after the session records it caused).
    /// `head` is its record's session-independent part when a worker already wrote it
    /// ([`HttpRecord::write_json_head`]); it is written here otherwise. Likewise `facts`, what
    /// it tells the session table, when a worker read them ([`Self::extractor`]).
    pub fn transaction(
        &mut self,
        now_us: u64,
        tx: &Transaction,
        tunnel: Option<&TunnelInfo>,
        head: Option<&[u8]>,
        facts: Option<&mut TxFacts>,
    ) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(now_us);
        self.transactions += 1;
        if !tx.anomalies.is_empty() || !tx.tcp_anomalies.is_empty() {
            count_anomalies(&mut self.anomalies, tx);
        }
        // The table's answer (~200 bytes) is returned straight into this local and borrowed
        // from there: wrapped in an Option, it was copied once more.
        let answer: TxSession;
        let session = match &mut self.sessions {
            Some(s) => {
                answer = match facts {
                    Some(f) => s.observe_facts(self.now_us, tx, f, &mut self.session_out),
                    None => s.observe(self.now_us, tx, &mut self.session_out),
                };
                Some(&answer)
            }
            None => None,
        };
        // Session starts caused by this transaction precede its record.
        self.emit_sessions()?;
        // The head where a worker wrote it (else here), the tail apart: the exporter takes the
        // two parts without them being copied together.
        self.buf.clear();
        self.tail.clear();
        let mut hex = [0u8; HEX_LEN];
        let encoded = match head {
            Some(_) => Ok(()),
            None => HttpRecord {
                tx,
                redactor: &self.redactor,
                tunnel,
            }
            .write_json_head(&mut self.buf),
        }
        .and_then(|()| write_json_tail(session, &mut hex, &mut self.tail));
        let Ok(key) = encoded else {
            // Unreachable with the record types of this workspace; counted, not trusted.
            self.encode_failures += 1;
            return Ok(());
        };
        let meta = EventMeta {
            kind: KIND_HTTP,
            key,
        };
        let head = head.unwrap_or(&self.buf);
        self.exporter.export_parts(meta, head, &self.tail)
    }

    /// Let packet time reach `now_us`: idle sessions end and periodic updates go out when due,
    /// and the exporter's buffer is written out when `OUTPUT_FLUSH_INTERVAL` of wall time
    /// has passed.
    fn tick(&mut self, now_us: u64) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(now_us);
        if self.now_us >= self.next_expire_us {
            if let Some(s) = &mut self.sessions {
                s.expire(self.now_us, &mut self.session_out);
                self.emit_sessions()?;
            }
            self.next_expire_us = self.now_us.saturating_add(EXPIRE_INTERVAL_US);
            // Checked here, every EXPIRE_INTERVAL_US of packet time, not per packet: live
            // packet time follows the wall clock, and replay does not need it sooner.
            if self.last_flush.elapsed() >= OUTPUT_FLUSH_INTERVAL {
                self.exporter.flush_buffered()?;
                self.last_flush = Instant::now();
            }
        }
        Ok(())
    }

    /// The input ended or the sensor stops at packet time `now_us` (the last packet's, which
    /// may be later than the last transaction's): end every session with `reason`, flush the
    /// exporter.
    pub fn finish(&mut self, now_us: u64, reason: EndReason) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(now_us);
        if let Some(s) = &mut self.sessions {
            s.flush(self.now_us, reason, &mut self.session_out);
            self.emit_sessions()?;
        }
        self.exporter.flush()
    }

    /// Export the session records of the last step (a transaction, an expire or a flush).
    fn emit_sessions(&mut self) -> Result<(), ExportError> {
        for rec in self.session_out.drain(..) {
            self.session_records += 1;
            export_session(
                &mut self.buf,
                &rec,
                &mut *self.exporter,
                &mut self.encode_failures,
            )?;
        }
        Ok(())
    }

    /// Counters as they stand.
    pub fn stats(&self) -> OutputStats {
        OutputStats {
            session: self
                .sessions
                .as_ref()
                .map(|s| s.stats().clone())
                .unwrap_or_default(),
            export: self.exporter.stats().clone(),
            transactions: self.transactions,
            session_records: self.session_records,
            encode_failures: self.encode_failures,
            anomalies: self.anomalies.clone(),
            active_sessions: self
                .sessions
                .as_ref()
                .map_or(0, Sessionizer::active_sessions),
        }
    }
}

/// Serialize one session record into `buf` and export it, keyed by its session id.
fn export_session(
    buf: &mut Vec<u8>,
    rec: &SessionRecord,
    exporter: &mut dyn Exporter,
    encode_failures: &mut u64,
) -> Result<(), ExportError> {
    buf.clear();
    if rec.write_json(buf).is_err() {
        *encode_failures += 1;
        return Ok(());
    }
    let mut hex = [0u8; HEX_LEN];
    exporter.export(
        EventMeta {
            kind: KIND_SESSION,
            key: Some(rec.session_id.hex_in(&mut hex)),
        },
        buf,
    )
}

/// Count the anomalies of one transaction by their exported names.
fn count_anomalies(map: &mut BTreeMap<String, u64>, tx: &Transaction) {
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
