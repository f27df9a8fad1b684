//! Exporters: where encoded apitap events go.
//!
//! The pipeline serializes each record once to JSON and hands the bytes, with a little
//! metadata, to an [`Exporter`]. JSON lines ([`jsonl::JsonLinesExporter`]) is the default.

pub mod jsonl;

pub use jsonl::JsonLinesExporter;

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
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportStats {
    /// Records accepted.
    pub records: u64,
    /// Bytes of JSON accepted (without line separators).
    pub bytes: u64,
    /// Records that could not be exported.
    pub failed: u64,
}

/// A destination for encoded events.
pub trait Exporter {
    /// Export one JSON-encoded record.
    fn export(&mut self, meta: EventMeta<'_>, json: &[u8]) -> Result<(), ExportError>;
    /// Push everything buffered to its destination.
    fn flush(&mut self) -> Result<(), ExportError>;
    /// Counters so far.
    fn stats(&self) -> &ExportStats;
}
