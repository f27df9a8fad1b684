//! Analysts' tags and notes on sessions. Stored beside the records, kept by retention, shown
//! in the sessions list and on the session page, carried in exports.

use rusqlite::{params, Connection};

use super::StoreError;

/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 40;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 4_000;

/// A tag on a session.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tag {
    /// The tag (`incident-42`, `false-positive`).
    pub tag: String,
    /// Who set it, when an auth identity exists.
    pub author: Option<String>,
    /// When, microseconds since the epoch.
    pub created_us: i64,
}

/// A note on a session.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    /// Its id.
    pub id: i64,
    /// Who wrote it, when an auth identity exists.
    pub author: Option<String>,
    /// When, microseconds since the epoch.
    pub created_us: i64,
    /// What it says (plain text).
    pub text: String,
}

/// Why a tag or note was refused.
#[derive(Debug, thiserror::Error)]
pub enum AnnotateError {
    /// Empty, too long, or (tags) characters other than letters, digits and `-_.:`.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for AnnotateError {
    fn from(e: rusqlite::Error) -> Self {
        AnnotateError::Store(StoreError::Sql(e))
    }
}

/// A tag as stored: trimmed, lower-case, letters, digits and `-_.:` only.
pub fn normalize_tag(tag: &str) -> Result<String, AnnotateError> {
    let t = tag.trim().to_lowercase();
    let ok = |c: char| c.is_alphanumeric() || "-_.:".contains(c);
    if t.is_empty() || t.chars().count() > MAX_TAG_CHARS || !t.chars().all(ok) {
        return Err(AnnotateError::Invalid(format!(
            "a tag is 1 to {MAX_TAG_CHARS} letters, digits or -_.: (got {:?})",
            tag.chars().take(MAX_TAG_CHARS + 1).collect::<String>()
        )));
    }
    Ok(t)
}

/// Writes tags and notes (short transactions of their own, beside ingest's).
pub struct Annotator {
    conn: Connection,
}

impl Annotator {
    pub(super) fn new(conn: Connection) -> Self {
        Annotator { conn }
    }

    /// Tag a session (setting a tag it has is a no-op).
    pub fn add_tag(
        &self,
        session_id: &str,
        tag: &str,
        author: Option<&str>,
        now_us: i64,
    ) -> Result<(), AnnotateError> {
        let tag = normalize_tag(tag)?;
        self.conn.execute(
            "INSERT OR IGNORE INTO tags (session_id, tag, author, created_us) VALUES (?1, ?2, ?3, ?4)",
            params![session_id, tag, author, now_us],
        )?;
        Ok(())
    }

    /// Remove a tag.
    pub fn remove_tag(&self, session_id: &str, tag: &str) -> Result<(), AnnotateError> {
        self.conn.execute(
            "DELETE FROM tags WHERE session_id = ?1 AND tag = ?2",
            params![session_id, tag.trim().to_lowercase()],
        )?;
        Ok(())
    }

    /// Add a note.
    pub fn add_note(
        &self,
        session_id: &str,
        text: &str,
        author: Option<&str>,
        now_us: i64,
    ) -> Result<i64, AnnotateError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
            return Err(AnnotateError::Invalid(format!(
                "a note is 1 to {MAX_NOTE_CHARS} characters"
            )));
        }
        self.conn.execute(
            "INSERT INTO notes (session_id, author, created_us, text) VALUES (?1, ?2, ?3, ?4)",
            params![session_id, author, now_us, text],
        )?;
        Ok(self.conn.last_insert_rowid())
    }
}
