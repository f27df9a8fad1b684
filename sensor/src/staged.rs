//! What the front stages hand to the output stages: finished transactions, each with
//! everything read from it so far, and the places where the front ran its timeouts.
//!
//! A batch is filled by one front ([`crate::front::Front`]: the single pipeline's, or a
//! worker's), read by the analyses on the same thread ([`crate::analyze`]), then run through
//! the output stages ([`crate::output`]) a stage at a time: the code of one stage stays in
//! the instruction cache for the batch instead of every transaction running through all of
//! it (docs/bench.md has the simulated misses).

use std::ops::Range;

use apitap_detect::{Finding, Outcome};
use apitap_inventory::ApiRecord;
use apitap_sessionizer::http::{ConnRecord, Transaction};
use apitap_sessionizer::record::Attacks;
use apitap_sessionizer::session::{SessionHint, TxFacts};
use apitap_sessionizer::tunnel::TunnelInfo;

/// One finished transaction on its way to the output stages.
#[derive(Debug)]
pub struct Staged {
    /// The packet clock of the front that finished it, when it did: the output stages
    /// observe it at this time.
    pub now_us: u64,
    /// The transaction.
    pub tx: Transaction,
    /// The outermost tunnel its flow came through.
    pub tunnel: Option<TunnelInfo>,
    /// What it tells the session table, once the facts analysis read it (sessions on).
    pub facts: Option<TxFacts>,
    /// Where the session table found its session, from the batch's prefetch pass.
    pub hint: SessionHint,
    /// Its API classification, once it ran (`None` with classification off, or without a
    /// request).
    pub api: Option<ApiRecord>,
    /// What attack detection found in its request, once it ran (`None` with detection off).
    pub scan: Option<Scan>,
    /// Where its record's head is in [`StagedBatch::heads`], once a worker wrote it; the
    /// record stage writes it otherwise.
    pub head: Option<Range<usize>>,
}

/// Attack detection's result for one transaction.
#[derive(Debug)]
pub struct Scan {
    /// The findings, in the order found; empty for most requests.
    pub findings: Vec<Finding>,
    /// What the response says of them.
    pub outcome: Outcome,
}

impl Staged {
    /// The record's view of the attacks found, when detection ran.
    pub fn attacks(&self) -> Option<Attacks<'_>> {
        self.scan.as_ref().map(|s| Attacks {
            findings: &s.findings,
            outcome: s.outcome,
        })
    }
}

/// A timeout check of the front: after its first `after` transactions, at packet time
/// `now_us`. The output stages run their own timeouts at the same place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    /// Transactions of the batch before it.
    pub after: usize,
    /// Packet time of the check.
    pub now_us: u64,
}

/// A connection record (WebSocket, TLS) the front finished, and where it falls among the
/// batch's transactions and timeout checks.
#[derive(Debug)]
pub struct StagedConn {
    /// Transactions of the batch before it.
    pub after: usize,
    /// Timeout checks of the batch before it (one at the same `after` precedes it when it
    /// is counted here).
    pub ticks_before: usize,
    /// The packet clock of the front when it finished.
    pub now_us: u64,
    /// The record.
    pub rec: ConnRecord,
    /// The outermost tunnel its flow came through.
    pub tunnel: Option<TunnelInfo>,
}

/// Finished transactions of one front, in completion order, with its timeout checks.
#[derive(Debug, Default)]
pub struct StagedBatch {
    /// The worker that filled it, which gets it back to free the transactions (memory is
    /// freed fastest by the thread that allocated it) and reuse the buffers.
    pub worker: usize,
    /// The front's packet clock when the batch was handed on.
    pub now_us: u64,
    /// The transactions.
    pub items: Vec<Staged>,
    /// Record heads written by a worker, back to back (see [`Staged::head`]).
    pub heads: Vec<u8>,
    /// Timeout checks, in order.
    pub ticks: Vec<Tick>,
    /// Connection records, in order.
    pub conns: Vec<StagedConn>,
}

impl StagedBatch {
    /// An empty batch of worker `worker`, with room for `heads_bytes` of record heads.
    pub fn for_worker(worker: usize, heads_bytes: usize) -> Self {
        StagedBatch {
            worker,
            heads: Vec::with_capacity(heads_bytes),
            ..StagedBatch::default()
        }
    }

    /// Add `tx`, finished at packet time `now_us`; nothing is read from it yet.
    pub fn push(&mut self, now_us: u64, tx: Transaction, tunnel: Option<TunnelInfo>) {
        self.items.push(Staged {
            now_us,
            tx,
            tunnel,
            facts: None,
            hint: SessionHint::default(),
            api: None,
            scan: None,
            head: None,
        });
    }

    /// Add a connection record, finished at packet time `now_us`, after everything pushed
    /// so far.
    pub fn push_conn(&mut self, now_us: u64, rec: ConnRecord, tunnel: Option<TunnelInfo>) {
        self.conns.push(StagedConn {
            after: self.items.len(),
            ticks_before: self.ticks.len(),
            now_us,
            rec,
            tunnel,
        });
    }

    /// A timeout check at packet time `now_us`, after the transactions pushed so far.
    pub fn push_tick(&mut self, now_us: u64) {
        self.ticks.push(Tick {
            after: self.items.len(),
            now_us,
        });
    }

    /// True when there is nothing for the output stages.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.ticks.is_empty() && self.conns.is_empty()
    }

    /// The head of `item` as a worker wrote it.
    pub fn head(&self, item: &Staged) -> Option<&[u8]> {
        item.head.clone().and_then(|r| self.heads.get(r))
    }

    /// Empty, keeping the buffers.
    pub fn clear(&mut self) {
        self.items.clear();
        self.heads.clear();
        self.ticks.clear();
        self.conns.clear();
    }
}
