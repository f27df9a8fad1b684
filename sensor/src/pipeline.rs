//! The pipeline, top to bottom: capture → decode → reassembly → HTTP → sessions → records →
//! exporter.
//!
//! One [`Pipeline`] is one single-threaded shard. Every stage takes packet time; nothing here
//! reads a clock, so replaying the same capture twice (with the same session secret) gives
//! byte-identical output. Threading (flow-sharded workers) wraps several pipelines, each fed
//! the packets of its flows by a symmetric hash of the 4-tuple; no stage needs to change for it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use apitap_exporters::{EventMeta, ExportError, ExportStats, Exporter};
use apitap_reassembly::{Reassembler, ReassemblyStats};
use apitap_sessionizer::http::{HttpConfig, HttpStats, HttpTracker, Transaction};
use apitap_sessionizer::record::{HttpRecord, Redactor};
use apitap_sessionizer::session::{EndReason, SessionRecord, SessionStats, Sessionizer};
use serde::Serialize;

use crate::capture::PacketRef;
use crate::config::Config;
use crate::decode::{DecodeStats, Decoder, UdpTunnel};

/// How often (packet time) timeouts are checked: idle flows, holes waiting to become gaps,
/// idle sessions and periodic session updates.
pub(crate) const EXPIRE_INTERVAL_US: u64 = 100_000;

/// Initial capacity of the buffer one record is serialized into (it grows as needed and is
/// reused).
const RECORD_BUFFER_CAPACITY: usize = 4096;

/// Body bytes stored per message when a session key or context parameter reads bodies and
/// `http.max_body_capture_bytes` is lower: enough for login responses and order payloads.
const SESSION_BODY_CAPTURE_BYTES: usize = 64 * 1024;

/// Record type of transactions.
pub(crate) const KIND_HTTP: &str = "http";
/// Record type of session lifecycle records.
const KIND_SESSION: &str = "session";

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
    /// `None` when `session.enabled` is off.
    sessions: Option<Sessionizer>,
    redactor: Redactor,
    exporter: Box<dyn Exporter>,
    /// Reused serialization buffer.
    buf: Vec<u8>,
    /// Session records produced by the last step, reused.
    session_out: Vec<SessionRecord>,
    /// Latest packet time seen; packet time never goes backwards inside the pipeline.
    now_us: u64,
    next_expire_us: u64,
    transactions: u64,
    session_records: u64,
    encode_failures: u64,
    anomalies: BTreeMap<String, u64>,
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
        let sessions = if cfg.session.enabled {
            let (secret, warning) = crate::secret::resolve(&cfg.session)?;
            if let Some(w) = warning {
                eprintln!("apitap: warning: {w}");
            }
            Some(Sessionizer::new(&cfg.session, secret).map_err(|e| e.to_string())?)
        } else {
            None
        };
        Ok(Pipeline {
            decoder: Decoder::with_config(&cfg.decode),
            reassembler: Reassembler::new(cfg.reassembly.clone()),
            http: HttpTracker::new(http_config(cfg)),
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

    /// Run the timeouts when due, then export what finished.
    #[inline]
    fn tick(&mut self) -> Result<(), ExportError> {
        if self.now_us >= self.next_expire_us {
            self.reassembler.expire(self.now_us, &mut self.http);
            self.emit()?;
            if let Some(s) = &mut self.sessions {
                s.expire(self.now_us, &mut self.session_out);
                self.emit_sessions()?;
            }
            self.next_expire_us = self.now_us.saturating_add(EXPIRE_INTERVAL_US);
        }
        self.emit()
    }

    /// End of input (or shutdown): flush every stream, end every session, flush the exporter.
    pub fn finish(&mut self, reason: EndReason) -> Result<(), ExportError> {
        self.reassembler.flush(self.now_us, &mut self.http);
        self.emit()?;
        if let Some(s) = &mut self.sessions {
            s.flush(self.now_us, reason, &mut self.session_out);
            self.emit_sessions()?;
        }
        self.exporter.flush()
    }

    /// Sessionize, serialize and export every finished transaction (and the session records
    /// it caused, first).
    fn emit(&mut self) -> Result<(), ExportError> {
        for tx in self.http.drain() {
            self.transactions += 1;
            if !tx.anomalies.is_empty() || !tx.tcp_anomalies.is_empty() {
                count_anomalies(&mut self.anomalies, &tx);
            }
            let rec = HttpRecord {
                tx: &tx,
                redactor: &self.redactor,
                tunnel: self.decoder.tunnel(tx.zone),
            };
            self.buf.clear();
            let (key, encoded) = match &mut self.sessions {
                Some(s) => {
                    let session = s.observe(self.now_us, &tx, &mut self.session_out);
                    // Session starts caused by this transaction precede its record.
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
                    let encoded = rec.write_json(Some(&session), &mut self.buf);
                    (session.session_id.map(|id| id.to_hex()), encoded)
                }
                None => (None, rec.write_json(None, &mut self.buf)),
            };
            if encoded.is_err() {
                // Unreachable with the record types of this workspace; counted, not trusted.
                self.encode_failures += 1;
                continue;
            }
            let meta = EventMeta {
                kind: KIND_HTTP,
                key: key.as_deref(),
            };
            self.exporter.export(meta, &self.buf)?;
        }
        Ok(())
    }

    /// Export the session records of the last expire or flush.
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

    /// All counters as they stand.
    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            decode: self.decoder.stats().clone(),
            reassembly: self.reassembler.stats().clone(),
            http: self.http.stats().clone(),
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
            active_flows: self.reassembler.active_flows(),
            active_sessions: self
                .sessions
                .as_ref()
                .map_or(0, Sessionizer::active_sessions),
        }
    }
}

/// Serialize one session record into `buf` and export it, keyed by its session id.
pub(crate) fn export_session(
    buf: &mut Vec<u8>,
    rec: &SessionRecord,
    exporter: &mut dyn Exporter,
    encode_failures: &mut u64,
) -> Result<(), ExportError> {
    buf.clear();
    if serde_json::to_writer(&mut *buf, rec).is_err() {
        *encode_failures += 1;
        return Ok(());
    }
    let key = rec.session_id.to_hex();
    exporter.export(
        EventMeta {
            kind: KIND_SESSION,
            key: Some(&key),
        },
        buf,
    )
}

/// Count the anomalies of one transaction by their exported names.
pub(crate) fn count_anomalies(map: &mut BTreeMap<String, u64>, tx: &Transaction) {
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
