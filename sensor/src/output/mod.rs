//! The output stages, transaction by transaction in completion order: the session table →
//! the stages after it ([`Stage`]) → the record stage ([`Records`]) → the exporter.
//!
//! They run on one thread (the single pipeline's, or the sharded pipeline's output thread):
//! sessions need a global view (one user's connections may hash to different workers, and
//! server-set values bind requests across connections), and a stage after the table may keep
//! state per session, per client or per user.
//!
//! For each transaction of a [`StagedBatch`], at the packet time it finished:
//! 1. the session table places it in its session ([`Sessionizer::observe_facts`]), ending the
//!    sessions that went idle or grew too long on the way;
//! 2. every [`Stage`] reads it, adds to its session's state ([`Sessionizer::state_mut`]),
//!    counts, and may write records of its own;
//! 3. the table commits it ([`Sessionizer::commit`]): the start record of a session it opened
//!    holds what the stages added;
//! 4. the session records it caused are written, then its `http` record.
//!
//! A deferred stage ([`Stage::deferred`]) skips step 2 and reads the transactions in runs
//! instead, each run once the other stages have read it: before any session record is made
//! (a commit that opens a part, records the table made on the way), at each timeout check
//! or connection record, and at the batch's end.
//!
//! At each of the batch's timeout checks the table ends idle sessions and writes periodic
//! updates, and the stages run their own timeouts. At each connection record (WebSocket, TLS)
//! the record finds its session (a WebSocket connection's upgrade's; a TLS connection's
//! client-IP fallback session when one is open), every stage reads it, then it is written.

mod anomalies;
mod api;
mod attacks;
pub mod behaviours;
mod records;
mod websocket;

use std::collections::BTreeMap;

use apitap_exporters::{ExportError, ExportStats, Exporter};
use apitap_sessionizer::http::transaction::SwitchedProtocol;
use apitap_sessionizer::http::ConnKind;
use apitap_sessionizer::record::Redactor;
use apitap_sessionizer::session::{
    EndReason, Extractor, SessionRecord, SessionStats, SessionSummary, Sessionizer, TransactionId,
    TxSession,
};

use crate::config::Config;
use crate::front::EXPIRE_INTERVAL_US;
use crate::staged::{Staged, StagedBatch, StagedConn, Tick};

pub use anomalies::AnomalyCounts;
pub use api::{ApiCalls, ALERT_SHADOW_API, ALERT_ZOMBIE_API};
pub use attacks::{Attacks, ALERT_ATTACK, ALERT_ATTACK_SERVED};
pub use behaviours::{BehaviourStats, Behaviours, BehavioursConfig};
pub use records::Records;
pub use websocket::WebSocketMessages;

/// WebSocket upgrades whose connection record has not come yet, remembered with their
/// session (a record finds its session by its upgrade): more are counted and forgotten, the
/// oldest first, and their records then have no session.
pub const MAX_PENDING_UPGRADES: usize = 65_536;

/// An output stage after the session table: reads each transaction in completion order,
/// adds what it finds to the transaction's session, counts what it drops, and may write
/// records of its own. Adding an analysis is one file implementing this and one line in
/// [`Output::new`] (docs/architecture.md walks through an example).
pub trait Stage: Send {
    /// One transaction at packet time `now_us`, in its session (`session`, with the
    /// session's state when it has one).
    fn transaction(
        &mut self,
        now_us: u64,
        item: &Staged,
        session: Option<SessionCx<'_>>,
        records: &mut Records,
    ) -> Result<(), ExportError>;

    /// A deferred stage's ([`Stage::deferred`]) run is about to come through
    /// [`Stage::transaction`], in order: request the memory it will touch (only a hint: no
    /// result may depend on it).
    fn prefetch_run(&mut self, run: &[RunItem<'_>]) {
        let _ = run;
    }

    /// Packet time reached `now_us` (a timeout check): run what is due.
    fn tick(&mut self, now_us: u64, records: &mut Records) -> Result<(), ExportError> {
        let _ = (now_us, records);
        Ok(())
    }

    /// A connection record (WebSocket, TLS) at packet time `now_us`, in its session when it
    /// has one.
    fn connection(
        &mut self,
        now_us: u64,
        conn: &StagedConn,
        session: Option<SessionCx<'_>>,
        records: &mut Records,
    ) -> Result<(), ExportError> {
        let _ = (now_us, conn, session, records);
        Ok(())
    }

    /// Add this stage's counters to `stats`.
    fn add_stats(&self, stats: &mut OutputStats);

    /// True for a stage that reads transactions in runs, after the other stages have read
    /// the run: its code and its state's lines stay in the caches through a run, where one
    /// transaction at a time they were evicted by the other stages' and the records' between
    /// two transactions (docs/bench.md, "Stop 39"). Such a stage may only write records of
    /// its own and add to its sessions' state, which neither the table nor another stage
    /// reads: its records then follow the `http` records of the run, and [`Output`] runs it
    /// before any session record is made, so that session records hold what it added.
    fn deferred(&self) -> bool {
        false
    }
}

/// A transaction of a deferred stage's run, with its session.
#[derive(Clone, Copy)]
pub struct RunItem<'a> {
    /// The transaction.
    pub item: &'a Staged,
    /// The packet time the other stages read it at.
    pub now_us: u64,
    /// Its session; `None` without one.
    pub session: Option<&'a TxSession>,
}

/// A transaction's session as a stage sees it: what its record carries, and the session's
/// accumulated state, which the stage may add to.
pub struct SessionCx<'a> {
    /// What the http record carries about the session.
    pub tx: &'a TxSession,
    /// The session's state; `None` when the transaction has no session.
    pub state: Option<&'a mut SessionSummary>,
}

/// An alert about one transaction of a session: raised at its packet time, the transaction as
/// its only evidence so far, the user the transaction or else the session names.
pub(crate) fn transaction_alert(
    kind: &'static str,
    item: &Staged,
    ts: &TxSession,
    sum: &SessionSummary,
    endpoint: Option<String>,
    evidence: serde_json::Map<String, serde_json::Value>,
) -> apitap_sessionizer::alert::Alert {
    let mut alert = apitap_sessionizer::alert::Alert {
        kind,
        ts_us: item.now_us,
        first_ts_us: item.tx.ts_us(),
        session_id: ts.session_id,
        client_ip: ts.client_ip,
        user: ts.user.clone().or_else(|| sum.user.clone()),
        endpoint,
        transaction_ids: Vec::new(),
        transaction_ids_dropped: 0,
        evidence,
    };
    alert.push_transaction(ts.transaction_id);
    alert
}

/// What the output stages counted.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct OutputStats {
    /// Session counters.
    pub session: SessionStats,
    /// Exporter counters.
    pub export: ExportStats,
    /// `http` records produced.
    pub transactions: u64,
    /// `session` records produced.
    pub session_records: u64,
    /// `alert` records produced.
    pub alerts: u64,
    /// `websocket` records produced.
    pub websocket_records: u64,
    /// `tls` records produced.
    pub tls_records: u64,
    /// WebSocket messages counted into sessions.
    pub websocket_session_messages: u64,
    /// WebSocket upgrades forgotten before their connection ended ([`MAX_PENDING_UPGRADES`]).
    pub upgrades_forgotten: u64,
    /// Anomalies on exported transactions, by name.
    pub anomalies: BTreeMap<String, u64>,
    /// Transactions carrying attacks, by class.
    pub attacks: BTreeMap<String, u64>,
    /// Transactions carrying attacks, by what their response said.
    pub attack_outcomes: BTreeMap<String, u64>,
    /// Transactions by API status (API classification on).
    pub api_calls: BTreeMap<String, u64>,
    /// Sessions open now.
    pub active_sessions: usize,
    /// The behaviours stage's counters.
    pub behaviours: BehaviourStats,
}

/// What a TLS record carries about the client-IP fallback session `id` it belongs to (no
/// transaction: depth 0; no slot: stages do not add to that session's state).
fn fallback_session(c: &StagedConn, id: apitap_sessionizer::session::HashId) -> TxSession {
    TxSession {
        session_id: Some(id),
        transaction_id: TransactionId {
            conn: c.rec.conn.0,
            depth: 0,
        },
        key_source: Some("fallback:ip".into()),
        jwt_verified: None,
        client_ip: c.rec.client.ip(),
        endpoint: None,
        context: Vec::new(),
        user: None,
        login_user: None,
        role: None,
        anomalies: Vec::new(),
        slot: None,
    }
}

/// The side events of a batch not handled yet: timeout checks (with their index) and
/// connection records.
struct SideEvents<'a> {
    ticks: std::iter::Peekable<std::iter::Enumerate<std::iter::Copied<std::slice::Iter<'a, Tick>>>>,
    conns: std::iter::Peekable<std::slice::Iter<'a, StagedConn>>,
}

/// A transaction of the running batch that the deferred stages ([`Stage::deferred`]) may not
/// have read yet, with its session (which its own `http` record also reads).
struct Pending {
    /// Its place in the batch.
    at: usize,
    /// The packet time the other stages read it at.
    now_us: u64,
    /// Its session.
    session: Option<TxSession>,
}

/// The session table, the stages after it, and the record stage.
pub struct Output {
    /// `None` when `session.enabled` is off.
    sessions: Option<Sessionizer>,
    /// The stages after the table, in order: those that read each transaction in turn, then
    /// from `first_deferred` those that read them in runs ([`Stage::deferred`]).
    stages: Vec<Box<dyn Stage>>,
    /// The first deferred stage in `stages`.
    first_deferred: usize,
    /// The batch's transactions so far, in order (cleared at the batch's end).
    pending: Vec<Pending>,
    /// The first of `pending` the deferred stages have not read.
    deferred_from: usize,
    /// Records and the exporter.
    records: Records,
    /// Session records caused by the last step, reused.
    session_out: Vec<SessionRecord>,
    /// The sessions of WebSocket upgrades, until their connection record comes.
    upgrades: BTreeMap<TransactionId, TxSession>,
    /// Upgrades forgotten at [`MAX_PENDING_UPGRADES`].
    upgrades_forgotten: u64,
    /// Latest packet time seen; never goes backwards.
    now_us: u64,
    next_expire_us: u64,
}

impl Output {
    /// The output stages writing to `exporter`, with the session table built from `cfg`.
    /// The commands settle the session secret first ([`crate::secret::settle`]) and say when
    /// it had to be generated; one left unsettled is resolved here, silently. Fails when the
    /// session settings cannot be used (a key that does not parse, no secret obtainable); the
    /// message says what to fix.
    pub fn new(cfg: &Config, exporter: Box<dyn Exporter>) -> Result<Self, String> {
        let sessions = if cfg.session.enabled {
            let (secret, _generated) = crate::secret::resolve(&cfg.session)?;
            Some(Sessionizer::new(&cfg.session, secret).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let mut stages: Vec<Box<dyn Stage>> = vec![
            Box::new(AnomalyCounts::default()),
            Box::new(WebSocketMessages::default()),
        ];
        if cfg.api.is_on() {
            stages.push(Box::new(ApiCalls::default()));
        }
        if cfg.detect.enabled {
            stages.push(Box::new(Attacks::default()));
        }
        // Behaviours need sessions (endpoints, users, client addresses).
        if cfg.session.enabled && cfg.behaviours.enabled {
            let s = &cfg.session;
            stages.push(Box::new(Behaviours::new(
                &cfg.behaviours,
                &s.login.path_keywords,
                &s.body,
            )));
        }
        let mut output = Output {
            sessions,
            stages: Vec::new(),
            first_deferred: 0,
            pending: Vec::new(),
            deferred_from: 0,
            records: Records::new(crate::secret::redactor(cfg)?, exporter)
                .with_sensor_id(cfg.export.sensor_id.as_deref()),
            session_out: Vec::new(),
            upgrades: BTreeMap::new(),
            upgrades_forgotten: 0,
            now_us: 0,
            next_expire_us: 0,
        };
        for stage in stages {
            output.add_stage(stage);
        }
        Ok(output)
    }

    /// The same output stages with `stage` added at the end of the chain (of the stages that
    /// read each transaction in turn, or of the deferred ones).
    pub fn with_stage(mut self, stage: Box<dyn Stage>) -> Self {
        self.add_stage(stage);
        self
    }

    /// Add `stage` at the end of its part of the chain.
    fn add_stage(&mut self, stage: Box<dyn Stage>) {
        if stage.deferred() {
            self.stages.push(stage);
        } else {
            self.stages.insert(self.first_deferred, stage);
            self.first_deferred += 1;
        }
    }

    /// The redaction rules the records are written with, for the workers that write heads.
    pub fn redactor(&self) -> Redactor {
        self.records.redactor().clone()
    }

    /// The sensor id the records carry, for the workers that write heads.
    pub fn sensor_id(&self) -> Option<std::sync::Arc<str>> {
        self.records.sensor_id()
    }

    /// A reader of session facts for the analyses ([`crate::analyze::SessionFacts`]); `None`
    /// when sessions are off.
    pub fn extractor(&self) -> Option<Extractor> {
        self.sessions.as_ref().map(Sessionizer::extractor)
    }

    /// Every transaction of `batch`, in order, each at the packet time it finished, with the
    /// batch's timeout checks where they were made; then the batch's clock, where the end of
    /// input starts from. The batch is left for its front to free and reuse.
    pub fn run(&mut self, batch: &mut StagedBatch) -> Result<(), ExportError> {
        // Left by a batch that failed to export (the pipeline stops then): they name the
        // items of that batch, not of this one.
        self.pending.clear();
        self.deferred_from = 0;
        if let Some(s) = &mut self.sessions {
            s.prefetch(batch.items.iter_mut().filter_map(|it| {
                let Staged { facts, hint, .. } = it;
                Some((facts.as_ref()?, hint))
            }));
        }
        let StagedBatch {
            items,
            heads,
            ticks,
            conns,
            ..
        } = batch;
        let mut side = SideEvents {
            ticks: ticks.iter().copied().enumerate().peekable(),
            conns: conns.iter().peekable(),
        };
        for i in 0..items.len() {
            self.side_events(&mut side, Some(i), items)?;
            let head = items
                .get(i)
                .and_then(|item| item.head.clone())
                .and_then(|r| heads.get(r));
            self.transaction(items, i, head)?;
        }
        self.side_events(&mut side, None, items)?;
        self.run_deferred(items)?;
        self.pending.clear();
        self.deferred_from = 0;
        self.now_us = self.now_us.max(batch.now_us);
        Ok(())
    }

    /// The deferred stages ([`Stage::deferred`]) over the transactions they have not read,
    /// in order, each with its session's state: in the table while the part is open, else in
    /// its end record waiting in `session_out`.
    fn run_deferred(&mut self, items: &[Staged]) -> Result<(), ExportError> {
        let Output {
            sessions,
            stages,
            first_deferred,
            records,
            session_out,
            pending,
            deferred_from,
            ..
        } = self;
        let run = pending.get(*deferred_from..).unwrap_or_default();
        let deferred = stages.get_mut(*first_deferred..).unwrap_or_default();
        if run.is_empty() || deferred.is_empty() {
            return Ok(());
        }
        let run: Vec<RunItem<'_>> = run
            .iter()
            .filter_map(|p| {
                let item = items.get(p.at)?;
                let (now_us, session) = (p.now_us, p.session.as_ref());
                Some(RunItem {
                    item,
                    now_us,
                    session,
                })
            })
            .collect();
        for stage in deferred {
            stage.prefetch_run(&run);
            for r in &run {
                let cx = r.session.map(|tx| SessionCx {
                    tx,
                    state: part_state(sessions, session_out, tx),
                });
                stage.transaction(r.now_us, r.item, cx, records)?;
            }
        }
        *deferred_from = pending.len();
        Ok(())
    }

    /// The timeout checks and connection records due before transaction `before` (all of
    /// them when `None`), in the order the front made them.
    fn side_events(
        &mut self,
        side: &mut SideEvents<'_>,
        before: Option<usize>,
        items: &[Staged],
    ) -> Result<(), ExportError> {
        let due = |after: usize| before.is_none_or(|i| after <= i);
        loop {
            let tick = side.ticks.peek().copied().filter(|(_, t)| due(t.after));
            let conn = side.conns.peek().copied().filter(|c| due(c.after));
            if tick.is_some() || conn.is_some() {
                // Timeouts write session records; every stage reads a connection record.
                self.run_deferred(items)?;
            }
            match (tick, conn) {
                (Some((j, t)), Some(c))
                    if t.after < c.after || (t.after == c.after && j < c.ticks_before) =>
                {
                    side.ticks.next();
                    self.tick(t.now_us)?;
                }
                (_, Some(c)) => {
                    side.conns.next();
                    self.connection(c)?;
                }
                (Some((_, t)), None) => {
                    side.ticks.next();
                    self.tick(t.now_us)?;
                }
                (None, None) => return Ok(()),
            }
        }
    }

    /// One connection record: its session, the stages, the record.
    fn connection(&mut self, c: &StagedConn) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(c.now_us);
        let session = match (&self.sessions, &c.rec.kind) {
            (None, _) => None,
            (Some(_), ConnKind::WebSocket(ws)) => self.upgrades.remove(&TransactionId {
                conn: c.rec.conn.0,
                depth: ws.upgrade_depth,
            }),
            (Some(s), ConnKind::Tls(_)) => s
                .ip_fallback_session(c.rec.client.ip())
                .map(|id| fallback_session(c, id)),
        };
        for stage in &mut self.stages {
            let cx = session.as_ref().map(|tx| SessionCx {
                tx,
                state: self.sessions.as_mut().and_then(|s| s.state_mut(tx)),
            });
            stage.connection(self.now_us, c, cx, &mut self.records)?;
        }
        let session_id = session.as_ref().and_then(|s| s.session_id);
        self.records.connection(c, session_id)
    }

    /// Transaction `at` of the batch through the table, the stages that read it in turn and
    /// the record stage (the deferred stages read it before any session record is made).
    fn transaction(
        &mut self,
        items: &mut [Staged],
        at: usize,
        head: Option<&[u8]>,
    ) -> Result<(), ExportError> {
        let Some(item) = items.get_mut(at) else {
            return Ok(());
        };
        self.now_us = self.now_us.max(item.now_us);
        let session: Option<TxSession> = match &mut self.sessions {
            Some(s) => {
                // The analyses read every transaction's facts before the batch comes here
                // (crate::analyze); read late rather than wrongly if one was not.
                debug_assert!(item.facts.is_some(), "facts not read");
                let facts = item.facts.get_or_insert_with(|| s.read_facts(&item.tx));
                let hint = std::mem::take(&mut item.hint);
                Some(s.observe_facts(self.now_us, &item.tx, facts, hint, &mut self.session_out))
            }
            None => None,
        };
        let item = &*item;
        for stage in self
            .stages
            .get_mut(..self.first_deferred)
            .unwrap_or_default()
        {
            let cx = session.as_ref().map(|tx| SessionCx {
                tx,
                state: self.sessions.as_mut().and_then(|s| s.state_mut(tx)),
            });
            stage.transaction(self.now_us, item, cx, &mut self.records)?;
        }
        if self.first_deferred == self.stages.len() {
            return self.commit_and_write(item, head, session.as_ref(), false);
        }
        // The session waits with the transaction for the deferred stages' run.
        let opens_part = session
            .as_ref()
            .and_then(|ts| ts.slot)
            .is_some_and(|s| s.opens_part());
        self.pending.push(Pending {
            at,
            now_us: self.now_us,
            session,
        });
        // The start record made at the commit, and the end records the table made on the
        // way (in `session_out`), count the alerts of the transactions before.
        if opens_part || !self.session_out.is_empty() {
            self.run_deferred(items)?;
        }
        match items.get(at) {
            Some(item) => self.commit_and_write(item, head, None, true),
            None => Ok(()),
        }
    }

    /// The end of a transaction's way through the output stages: the table commits it, the
    /// session records it caused are written, then its `http` record. Its session is
    /// `session`, or with `pending` the last of [`Output::pending`]'s.
    fn commit_and_write(
        &mut self,
        item: &Staged,
        head: Option<&[u8]>,
        session: Option<&TxSession>,
        pending: bool,
    ) -> Result<(), ExportError> {
        let Output {
            sessions,
            session_out,
            upgrades,
            upgrades_forgotten,
            records,
            pending: waiting,
            ..
        } = self;
        let session = match pending {
            true => waiting.last().and_then(|p| p.session.as_ref()),
            false => session,
        };
        if let (Some(s), Some(ts)) = (sessions, session) {
            s.commit(ts, session_out);
        }
        if let Some(ts) = session {
            remember_upgrade(upgrades, upgrades_forgotten, item, ts);
        }
        // Session records caused by this transaction precede its record.
        write_sessions(session_out, records)?;
        records.http(item, head, session)
    }

    /// Let packet time reach `now_us`: idle sessions end and periodic updates go out when
    /// due, the stages run their timeouts, and the exporter's buffer is written out when
    /// enough wall time has passed.
    fn tick(&mut self, now_us: u64) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(now_us);
        if self.now_us < self.next_expire_us {
            return Ok(());
        }
        if let Some(s) = &mut self.sessions {
            s.expire(self.now_us, &mut self.session_out);
            self.emit_sessions()?;
        }
        for stage in &mut self.stages {
            stage.tick(self.now_us, &mut self.records)?;
        }
        self.next_expire_us = self.now_us.saturating_add(EXPIRE_INTERVAL_US);
        // Checked here, every EXPIRE_INTERVAL_US of packet time, not per packet: live packet
        // time follows the wall clock, and replay does not need it sooner.
        self.records.flush_if_due()
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
        self.records.finish()
    }

    /// Write the session records of the last step (a transaction, an expire or a flush).
    fn emit_sessions(&mut self) -> Result<(), ExportError> {
        write_sessions(&mut self.session_out, &mut self.records)
    }

    /// Counters as they stand.
    pub fn stats(&self) -> OutputStats {
        let mut stats = OutputStats::default();
        if let Some(s) = &self.sessions {
            stats.session = s.stats().clone();
            stats.active_sessions = s.active_sessions();
        }
        self.records.add_stats(&mut stats);
        stats.upgrades_forgotten = self.upgrades_forgotten;
        for stage in &self.stages {
            stage.add_stats(&mut stats);
        }
        stats
    }
}

/// Write the session records in `out`, emptying it (inline: every transaction calls it, and
/// most leave none).
#[inline(always)]
fn write_sessions(out: &mut Vec<SessionRecord>, records: &mut Records) -> Result<(), ExportError> {
    for rec in out.drain(..) {
        records.session(&rec)?;
    }
    Ok(())
}

/// Remember the session of a WebSocket upgrade for its connection's record (at most
/// [`MAX_PENDING_UPGRADES`], the oldest forgotten first and counted in `forgotten`).
fn remember_upgrade(
    upgrades: &mut BTreeMap<TransactionId, TxSession>,
    forgotten: &mut u64,
    item: &Staged,
    session: &TxSession,
) {
    let websocket = matches!(&item.tx.switched,
        Some(SwitchedProtocol::Upgrade(u)) if u.trim().eq_ignore_ascii_case("websocket"));
    if !websocket {
        return;
    }
    if upgrades.len() >= MAX_PENDING_UPGRADES {
        upgrades.pop_first();
        *forgotten += 1;
    }
    let mut kept = session.clone();
    kept.context.clear();
    kept.endpoint = None;
    upgrades.insert(session.transaction_id, kept);
}

/// The state of `tx`'s session part for a deferred stage: in the table while the part is
/// open, else in the record that ended it while that waits in `out`; `None` without either.
fn part_state<'a>(
    sessions: &'a mut Option<Sessionizer>,
    out: &'a mut [SessionRecord],
    tx: &TxSession,
) -> Option<&'a mut SessionSummary> {
    if let Some(state) = sessions.as_mut().and_then(|s| s.state_mut(tx)) {
        return Some(state);
    }
    let id = tx.session_id?;
    out.iter_mut()
        .find(|r| r.session_id == id)
        .map(|r| &mut *r.summary)
}
