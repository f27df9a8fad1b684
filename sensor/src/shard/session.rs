//! The session and export stage of the sharded pipeline: transactions from every worker →
//! sessions → records → exporter, on one thread.
//!
//! Sessions need a global view (one user's connections hash to different workers), so this
//! stage is not sharded; it does the same work per transaction as [`crate::pipeline::Pipeline`],
//! with the same record code.

use std::collections::BTreeMap;

use apitap_exporters::{EventMeta, ExportError, Exporter};
use apitap_sessionizer::http::Transaction;
use apitap_sessionizer::record::{HttpRecord, Redactor};
use apitap_sessionizer::session::{EndReason, SessionRecord, SessionStats, Sessionizer};
use apitap_sessionizer::tunnel::TunnelInfo;

use crate::config::Config;
use crate::pipeline::{count_anomalies, export_session, EXPIRE_INTERVAL_US, KIND_HTTP};

/// Initial capacity of the reused serialization buffer.
const RECORD_BUFFER_CAPACITY: usize = 4096;

/// What the session stage counted.
#[derive(Clone, Debug, Default)]
pub struct SessionStageStats {
    /// Session counters.
    pub session: SessionStats,
    /// Exporter counters.
    pub export: apitap_exporters::ExportStats,
    /// `http` records produced.
    pub transactions: u64,
    /// `session` records produced.
    pub session_records: u64,
    /// Records that could not be serialized.
    pub encode_failures: u64,
    /// Anomalies on exported transactions, by name.
    pub anomalies: BTreeMap<String, u64>,
    /// Sessions open now.
    pub active_sessions: usize,
}

/// Sessions, serialization and export.
pub struct SessionStage {
    sessions: Option<Sessionizer>,
    redactor: Redactor,
    exporter: Box<dyn Exporter>,
    buf: Vec<u8>,
    session_out: Vec<SessionRecord>,
    /// Latest time reported by any worker; never goes backwards.
    now_us: u64,
    next_expire_us: u64,
    transactions: u64,
    session_records: u64,
    encode_failures: u64,
    anomalies: BTreeMap<String, u64>,
}

impl SessionStage {
    /// The stage writing to `exporter`; fails like [`crate::pipeline::Pipeline::new`].
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
        Ok(SessionStage {
            sessions,
            redactor: Redactor::new(&cfg.output),
            exporter,
            buf: Vec::with_capacity(RECORD_BUFFER_CAPACITY),
            session_out: Vec::new(),
            now_us: 0,
            next_expire_us: 0,
            transactions: 0,
            session_records: 0,
            encode_failures: 0,
            anomalies: BTreeMap::new(),
        })
    }

    /// Transactions of one worker at its packet time `now_us`.
    pub fn on_transactions(
        &mut self,
        now_us: u64,
        txs: Vec<(Transaction, Option<TunnelInfo>)>,
    ) -> Result<(), ExportError> {
        self.now_us = self.now_us.max(now_us);
        for (tx, tunnel) in txs {
            self.emit(&tx, tunnel.as_ref())?;
        }
        if self.now_us >= self.next_expire_us {
            if let Some(s) = &mut self.sessions {
                s.expire(self.now_us, &mut self.session_out);
                self.emit_sessions()?;
            }
            self.next_expire_us = self.now_us.saturating_add(EXPIRE_INTERVAL_US);
        }
        Ok(())
    }

    /// Sessionize, serialize and export one transaction (after the session records it caused).
    fn emit(&mut self, tx: &Transaction, tunnel: Option<&TunnelInfo>) -> Result<(), ExportError> {
        self.transactions += 1;
        if !tx.anomalies.is_empty() || !tx.tcp_anomalies.is_empty() {
            count_anomalies(&mut self.anomalies, tx);
        }
        let rec = HttpRecord {
            tx,
            redactor: &self.redactor,
            tunnel,
        };
        self.buf.clear();
        let (key, encoded) = match &mut self.sessions {
            Some(s) => {
                let session = s.observe(self.now_us, tx, &mut self.session_out);
                for r in self.session_out.drain(..) {
                    self.session_records += 1;
                    export_session(
                        &mut self.buf,
                        &r,
                        &mut *self.exporter,
                        &mut self.encode_failures,
                    )?;
                }
                self.buf.clear();
                let encoded = serde_json::to_writer(&mut self.buf, &rec.with_session(&session));
                (session.session_id.map(|id| id.to_hex()), encoded)
            }
            None => (None, serde_json::to_writer(&mut self.buf, &rec)),
        };
        if encoded.is_err() {
            self.encode_failures += 1;
            return Ok(());
        }
        let meta = EventMeta {
            kind: KIND_HTTP,
            key: key.as_deref(),
        };
        self.exporter.export(meta, &self.buf)
    }

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

    /// Every worker is done: end every session with `reason` and flush the exporter.
    pub fn finish(&mut self, reason: EndReason) -> Result<(), ExportError> {
        if let Some(s) = &mut self.sessions {
            s.flush(self.now_us, reason, &mut self.session_out);
            self.emit_sessions()?;
        }
        self.exporter.flush()
    }

    /// Counters as they stand.
    pub fn stats(&self) -> SessionStageStats {
        SessionStageStats {
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
