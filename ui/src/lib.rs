//! `apitap ui`: a store of apitap records and the web views an analyst investigates and
//! shares sessions with (docs/ui.md).
//!
//! - [`record`] reads a JSON line into the fields the store indexes (pure);
//! - [`filter`] reads the sessions list's filters from a query string and writes them back (pure);
//! - [`store`] keeps records in SQLite: ingest, queries, retention, tags and notes;
//! - [`web`] serves the views over HTTP (axum), with embedded assets.
//!
//! The command that wires them to files, stdin or Kafka is `apitap ui` (`sensor/src/cmd/ui.rs`).

pub mod config;
pub mod filter;
pub mod record;
pub mod store;
pub mod web;

#[cfg(test)]
mod scratch;

pub use config::{RetentionConfig, Token, UiConfig};
pub use store::{IngestStats, Prepared, Preparer, Store, StoreError, Writer};
