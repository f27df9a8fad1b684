//! The record stage: every record written as JSON and handed to the exporter, keyed for
//! Kafka by its session id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use apitap_exporters::{EventMeta, ExportError, Exporter};
use apitap_sessionizer::alert::Alert;
use apitap_sessionizer::record::{write_json_tail, ConnRecordJson, Redactor};
use apitap_sessionizer::session::secret::HEX_LEN;
use apitap_sessionizer::session::{HashId, SessionRecord, TxSession};

use super::OutputStats;
use crate::staged::{Staged, StagedConn};

/// How often (wall time) a running sensor writes out what its exporter buffers, so that a
/// file's readers see records within about this long (JSON lines are written through a large
/// buffer).
pub const OUTPUT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Initial capacity of the buffers a record is written into (they grow as needed and are
/// reused).
const RECORD_BUFFER_CAPACITY: usize = 4096;

/// Record type of transactions.
const KIND_HTTP: &str = "http";
/// Record type of session lifecycle records.
const KIND_SESSION: &str = "session";
/// Record type of alerts.
const KIND_ALERT: &str = "alert";

/// Writes records and hands them to the exporter.
pub struct Records {
    redactor: Redactor,
    /// The sensor id every record carries (`export.sensor_id`).
    sensor_id: Option<Arc<str>>,
    exporter: Box<dyn Exporter>,
    /// Reused: a record, or an http record's head.
    buf: Vec<u8>,
    /// Reused: an http record's tail.
    tail: Vec<u8>,
    /// When the exporter's buffer was last written out.
    last_flush: Instant,
    /// `http` records written.
    transactions: u64,
    /// `session` records written.
    session_records: u64,
    /// `alert` records written.
    alerts: u64,
    /// `websocket` records written.
    websocket_records: u64,
    /// `tls` records written.
    tls_records: u64,
}

impl Records {
    /// Records redacted by `redactor`, going to `exporter`.
    pub fn new(redactor: Redactor, exporter: Box<dyn Exporter>) -> Self {
        Records {
            redactor,
            sensor_id: None,
            exporter,
            buf: Vec::with_capacity(RECORD_BUFFER_CAPACITY),
            tail: Vec::with_capacity(RECORD_BUFFER_CAPACITY),
            last_flush: Instant::now(),
            transactions: 0,
            session_records: 0,
            alerts: 0,
            websocket_records: 0,
            tls_records: 0,
        }
    }

    /// The same records, each carrying `sensor_id`.
    pub fn with_sensor_id(mut self, sensor_id: Option<&str>) -> Self {
        self.sensor_id = sensor_id.map(Arc::from);
        self
    }

    /// The sensor id the records carry.
    pub fn sensor_id(&self) -> Option<Arc<str>> {
        self.sensor_id.clone()
    }

    /// The `http` record of a staged transaction with its session fields. `head` is its session-independent
    /// part when a worker wrote it already ([`HttpRecord::write_json_head`](apitap_sessionizer::record::HttpRecord::write_json_head)); it is written
    /// here otherwise, just before it leaves, while it is in the data cache. The head and the
    /// tail go to the exporter as two parts, never copied together.
    pub fn http(
        &mut self,
        item: &Staged,
        head: Option<&[u8]>,
        session: Option<&TxSession>,
    ) -> Result<(), ExportError> {
        self.transactions += 1;
        self.buf.clear();
        self.tail.clear();
        if head.is_none() {
            item.record(&self.redactor, self.sensor_id.as_deref())
                .write_json_head(&mut self.buf);
        }
        let mut hex = [0u8; HEX_LEN];
        let key = write_json_tail(session, &mut hex, &mut self.tail);
        let meta = EventMeta {
            kind: KIND_HTTP,
            key,
        };
        let head = head.unwrap_or(&self.buf);
        self.exporter.export_parts(meta, head, &self.tail)
    }

    /// A `session` record, keyed by its session id.
    pub fn session(&mut self, rec: &SessionRecord) -> Result<(), ExportError> {
        self.session_records += 1;
        self.buf.clear();
        rec.write_json(self.sensor_id.as_deref(), &mut self.buf);
        let mut hex = [0u8; HEX_LEN];
        let meta = EventMeta {
            kind: KIND_SESSION,
            key: Some(rec.session_id.hex_in(&mut hex)),
        };
        self.exporter.export(meta, &self.buf)
    }

    /// A connection's record (`websocket` or `tls`), keyed by its session id.
    pub fn connection(
        &mut self,
        conn: &StagedConn,
        session_id: Option<HashId>,
    ) -> Result<(), ExportError> {
        let rec = ConnRecordJson {
            rec: &conn.rec,
            redactor: &self.redactor,
            tunnel: conn.tunnel.as_ref(),
            session_id,
            sensor_id: self.sensor_id.as_deref(),
        };
        let kind = rec.kind();
        match kind {
            "websocket" => self.websocket_records += 1,
            _ => self.tls_records += 1,
        }
        self.buf.clear();
        rec.write_json(&mut self.buf);
        let mut hex = [0u8; HEX_LEN];
        let meta = EventMeta {
            kind,
            key: session_id.map(|id| id.hex_in(&mut hex)),
        };
        self.exporter.export(meta, &self.buf)
    }

    /// The redaction rules.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// An `alert` record, keyed by its session id (by its client address when it concerns no
    /// session).
    pub fn alert(&mut self, alert: &Alert) -> Result<(), ExportError> {
        self.alerts += 1;
        self.buf.clear();
        alert.write_json(self.sensor_id.as_deref(), &mut self.buf);
        let mut hex = [0u8; HEX_LEN];
        let client;
        let key = match alert.session_id {
            Some(id) => id.hex_in(&mut hex),
            None => {
                client = alert.client_ip.to_string();
                client.as_str()
            }
        };
        let meta = EventMeta {
            kind: KIND_ALERT,
            key: Some(key),
        };
        self.exporter.export(meta, &self.buf)
    }

    /// Write out what the exporter buffers when `OUTPUT_FLUSH_INTERVAL` of wall time has
    /// passed since the last time.
    pub fn flush_if_due(&mut self) -> Result<(), ExportError> {
        if self.last_flush.elapsed() >= OUTPUT_FLUSH_INTERVAL {
            self.exporter.flush_buffered()?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }

    /// Flush the exporter (end of input or shutdown).
    pub fn finish(&mut self) -> Result<(), ExportError> {
        self.exporter.flush()
    }

    /// Add the records written and the exporter's counters to `stats`.
    pub fn add_stats(&self, stats: &mut OutputStats) {
        stats.transactions += self.transactions;
        stats.session_records += self.session_records;
        stats.alerts += self.alerts;
        stats.websocket_records += self.websocket_records;
        stats.tls_records += self.tls_records;
        stats.export = self.exporter.stats().clone();
    }
}
