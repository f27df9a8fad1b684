//! Exporters: where encoded apitap events go.
//!
//! The pipeline serializes each record once to JSON and hands the bytes, with a little
//! metadata, to an [`Exporter`]. JSON lines ([`jsonl::JsonLinesExporter`]) is the default;
//! [`kafka::KafkaExporter`] is chosen when brokers are configured (`docs/kafka.md`).

use std::collections::BTreeMap;

pub mod config;
pub mod jsonl;
pub mod kafka;

pub use config::ExportConfig;
pub use jsonl::JsonLinesExporter;
pub use kafka::KafkaExporter;

/// What an exporter may need besides the JSON bytes.
#[derive(Clone, Copy, Debug)]
pub struct EventMeta<'a> {
    /// Record type, as in the record's `type` field (`http`, `session`...).
    pub kind: &'a str,
    /// Partitioning key (the session id), when the record has one.
    pub key: Option<&'a str>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing to the output failed (disk full, closed pipe...). Final: the output is unusable.
    #[error("cannot write events: {0}")]
    Io(#[from] std::io::Error),
}

/// Counters every exporter keeps.
///
/// Invariant (once [`Exporter::flush`] has returned at shutdown):
/// `offered = records + sum(dropped)` and
/// `records = delivered + sum(delivery_failed) + undelivered_at_shutdown`;
/// `failed` is every record that did not arrive (`offered - delivered`). The JSON-lines exporter
/// writes synchronously, so for it `delivered = records` and only `failed` can be non-zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportStats {
    /// Records accepted (written, or queued for a broker).
    pub records: u64,
    /// Bytes of JSON accepted (without line separators).
    pub bytes: u64,
    /// Records that could not be exported, whatever the reason.
    pub failed: u64,
    /// Records handed to the exporter, accepted or not.
    pub offered: u64,
    /// Records the destination confirmed (a broker acknowledged them, or they were written).
    pub delivered: u64,
    /// Records refused before they were queued, by reason (`queue_full`, `message_too_large`...).
    pub dropped: BTreeMap<String, u64>,
    /// Queued records whose delivery failed, by class (`retriable`, `final`, `unknown`).
    pub delivery_failed: BTreeMap<String, u64>,
    /// Queued records neither delivered nor failed when the shutdown flush timed out.
    pub undelivered_at_shutdown: u64,
}

impl ExportStats {
    /// Records queued whose fate is not known yet (0 after the shutdown flush).
    pub fn in_flight(&self) -> u64 {
        let settled = self.delivered
            + self.delivery_failed.values().sum::<u64>()
            + self.undelivered_at_shutdown;
        self.records.saturating_sub(settled)
    }

    /// True when any record was lost: dropped, failed or left undelivered.
    pub fn lost_any(&self) -> bool {
        self.failed > 0
    }
}

/// `head` then `tail` into `buf`, replacing what it held (for [`Exporter::export_parts`]).
pub fn join_parts(buf: &mut Vec<u8>, head: &[u8], tail: &[u8]) {
    buf.clear();
    buf.reserve(head.len() + tail.len());
    buf.extend_from_slice(head);
    buf.extend_from_slice(tail);
}

/// A destination for encoded events. `Send`: the threaded pipeline exports from its own
/// output thread.
pub trait Exporter: Send {
    /// Export one JSON-encoded record.
    fn export(&mut self, meta: EventMeta<'_>, json: &[u8]) -> Result<(), ExportError>;
    /// Export one record written in two parts (`head` then `tail`, e.g. an http record's
    /// session-independent part and its session fields), as [`Self::export`] would export
    /// them joined. Default: joined in a new buffer; exporters that can, write the parts
    /// through without joining them.
    fn export_parts(
        &mut self,
        meta: EventMeta<'_>,
        head: &[u8],
        tail: &[u8],
    ) -> Result<(), ExportError> {
        let mut joined = Vec::new();
        join_parts(&mut joined, head, tail);
        self.export(meta, &joined)
    }
    /// Push everything buffered to its destination: the shutdown flush, called once at the end.
    fn flush(&mut self) -> Result<(), ExportError>;
    /// Write out what this process buffers, ending nothing: a running sensor calls it about
    /// once a second, so that readers of its output are never far behind. Default: nothing
    /// to do (a Kafka producer sends on its own).
    fn flush_buffered(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
    /// Counters so far.
    fn stats(&self) -> &ExportStats;
}
