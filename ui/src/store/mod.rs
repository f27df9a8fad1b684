//! The store: apitap records in SQLite, indexed for the views. One [`Writer`] ingests (a
//! thread of its own), any number of [`Reader`]s query; WAL mode keeps them from waiting on
//! each other. Why SQLite and not DuckDB: docs/ui.md.

mod codec;
mod ingest;
mod notes;
mod query;
mod retention;
mod schema;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use codec::CodecError;
pub use ingest::{IngestStats, Prepared, Preparer, Writer};
pub use notes::{normalize_tag, AnnotateError, Annotator, Note, Tag};
pub use query::{
    AlertView, AttackView, EndpointView, MinuteView, Overview, Reader, SessionDetail, SessionPage,
    SessionRowView, TimelinePoint, TopEntry, TxView,
};
pub use retention::RetentionStats;
pub use schema::SCHEMA_VERSION;

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file cannot be opened or created.
    #[error(
        "cannot open the store {path}: {source}; check the directory exists and is writable (--db)"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file holds a store of another schema version.
    #[error("the store {path} has schema version {found}, this apitap writes {SCHEMA_VERSION}; move it aside or pass another --db")]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// A statement failed (disk full, a corrupt file).
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A record could not be packed, or a stored one read back.
    #[error("store: {0}")]
    Codec(#[from] CodecError),
}

/// Where the store lives; opens connections to it.
#[derive(Clone, Debug)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// Open (creating when missing) the store at `path` and bring its schema up.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let store = Store {
            path: path.to_path_buf(),
        };
        let conn = store.connect(false)?;
        // The version first: a store of another one is left as it is (no table added).
        let found: Option<i64> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .ok();
        match found {
            Some(v) if v == SCHEMA_VERSION => conn.execute_batch(schema::SCHEMA)?,
            Some(found) => {
                return Err(StoreError::Version {
                    path: store.path,
                    found,
                })
            }
            None => {
                conn.execute_batch(schema::SCHEMA)?;
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION],
                )?;
            }
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new connection with the store's pragmas; `read_only` for the server's readers.
    fn connect(&self, read_only: bool) -> Result<Connection, StoreError> {
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let open = |source| StoreError::Open {
            path: self.path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(&self.path, flags).map_err(open)?;
        conn.execute_batch(schema::PRAGMAS).map_err(open)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// The ingest side (one at a time: SQLite has one writer).
    pub fn writer(&self, cfg: &crate::config::UiConfig) -> Result<Writer, StoreError> {
        let conn = self.connect(false)?;
        conn.execute_batch(schema::WRITER_PRAGMAS)?;
        let preparer = Preparer::new(dictionary(&conn)?.as_deref())?;
        Writer::new(conn, preparer, cfg)
    }

    /// Makes lines ready for the writer on another thread (parse, pack with the store's
    /// dictionary, or train one from the first records when it has none).
    pub fn preparer(&self) -> Result<Preparer, StoreError> {
        Preparer::new(dictionary(&self.connect(true)?)?.as_deref())
    }

    /// A query side (read-only).
    pub fn reader(&self) -> Result<Reader, StoreError> {
        Ok(Reader::new(self.connect(true)?))
    }

    /// A connection for the analysts' tags and notes (short write transactions).
    pub fn annotator(&self) -> Result<Annotator, StoreError> {
        Ok(Annotator::new(self.connect(false)?))
    }
}

/// The store's newest record dictionary, when it has one.
fn dictionary(conn: &Connection) -> Result<Option<Vec<u8>>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT bytes FROM dictionaries ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// Add `delta` to a named counter of the store.
fn bump(conn: &Connection, name: &str, delta: i64) -> rusqlite::Result<()> {
    if delta != 0 {
        conn.prepare_cached(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        )?
        .execute(rusqlite::params![name, delta])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
