//! The store's tables and indexes (SQLite). One row per transaction, session part and alert,
//! the raw record kept beside the indexed fields; small aggregate tables (per minute, per
//! endpoint, per client address) keep the overview and the inventory off the big tables.

/// Bumped when a table changes shape; a store of another version is refused with a message
/// to move it aside.
/// 2: record text packed (zstd with the store's dictionary, `dictionaries`).
pub const SCHEMA_VERSION: i64 = 2;

/// Connection settings, run on every connection. WAL: the server's readers never wait for
/// the ingest writer, nor it for them. `synchronous = NORMAL`: a power cut may lose the last
/// batches, never corrupt the store (the records are still in Kafka or the input file).
/// 16 KiB pages (a new store only): a transaction's row is 1 to 2 KiB, and fewer, larger pages
/// cost less per byte in the page cache and the WAL than 4 KiB ones. 64 MiB of page cache per
/// connection; pages read through a 1 GiB memory map (no copy per
/// read; the map is address space, not memory).
pub const PRAGMAS: &str = "
PRAGMA page_size = 16384;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = OFF;
PRAGMA temp_store = MEMORY;
PRAGMA cache_size = -65536;
PRAGMA busy_timeout = 10000;
PRAGMA mmap_size = 1073741824;
";

/// The writer's settings on top of [`PRAGMAS`]. Its inserts land at random places of the
/// session-keyed indexes: 256 MiB of page cache holds them for a store of a few million
/// transactions (past that, each insert reads a page). A WAL checkpoint every 2,500 pages
/// (40 MiB) writes a page rewritten by many batches to the database once, not once per 16 MiB.
/// `analysis_limit`: the planner's statistics (`PRAGMA optimize`, run with retention) sample
/// 1,000 rows per index instead of reading whole tables.
pub const WRITER_PRAGMAS: &str = "
PRAGMA cache_size = -262144;
PRAGMA wal_autocheckpoint = 2500;
PRAGMA analysis_limit = 1000;
";

/// The tables and indexes, created when missing.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);

-- zstd dictionaries of the record frames (codec.rs), by the id a frame names; the newest
-- packs new records.
CREATE TABLE IF NOT EXISTS dictionaries (
  seq INTEGER PRIMARY KEY,
  id INTEGER NOT NULL UNIQUE,
  bytes BLOB NOT NULL
);

-- One http record. `record` is the line as received, packed (a zstd frame, codec.rs).
CREATE TABLE IF NOT EXISTS tx (
  id INTEGER PRIMARY KEY,
  ts_us INTEGER NOT NULL,
  session_id TEXT,
  transaction_id TEXT NOT NULL,
  client_ip TEXT,
  endpoint_id INTEGER,
  method TEXT,
  target TEXT,
  status INTEGER,
  latency_us INTEGER,
  api_status TEXT,
  attacks INTEGER NOT NULL,
  auth TEXT NOT NULL,
  sensor TEXT,
  record BLOB NOT NULL
);
-- A session's transactions in time order; also drops a record delivered twice (Kafka is
-- at-least-once) when it has a session.
CREATE UNIQUE INDEX IF NOT EXISTS tx_session ON tx (session_id, ts_us, transaction_id);
CREATE INDEX IF NOT EXISTS tx_time ON tx (ts_us);
CREATE INDEX IF NOT EXISTS tx_api_status ON tx (api_status, ts_us)
  WHERE api_status IN ('shadow', 'zombie', 'unmanaged');

-- One session part: counts from its transactions and alerts (`*_tx`, `alerts_n`), and the
-- rank and time of its latest session record (kept in `session_records`, so that this row
-- stays small and the whole table in cache), with the counts that record carries (`*_rec`).
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  first_us INTEGER NOT NULL,
  last_us INTEGER NOT NULL,
  tx_count INTEGER NOT NULL DEFAULT 0,
  requests INTEGER,
  user TEXT,
  role TEXT,
  key_source TEXT,
  client_ip TEXT,
  sensor TEXT,
  attacks_tx INTEGER NOT NULL DEFAULT 0,
  attacks_rec INTEGER NOT NULL DEFAULT 0,
  alerts_n INTEGER NOT NULL DEFAULT 0,
  alerts_rec INTEGER NOT NULL DEFAULT 0,
  shadow_tx INTEGER NOT NULL DEFAULT 0,
  shadow_rec INTEGER NOT NULL DEFAULT 0,
  zombie_tx INTEGER NOT NULL DEFAULT 0,
  zombie_rec INTEGER NOT NULL DEFAULT 0,
  summary_rank INTEGER NOT NULL DEFAULT 0,
  summary_ts_us INTEGER NOT NULL DEFAULT 0,
  attacks INTEGER GENERATED ALWAYS AS (max(attacks_tx, attacks_rec)) VIRTUAL,
  alerts INTEGER GENERATED ALWAYS AS (max(alerts_n, alerts_rec)) VIRTUAL,
  shadow INTEGER GENERATED ALWAYS AS (max(shadow_tx, shadow_rec)) VIRTUAL,
  zombie INTEGER GENERATED ALWAYS AS (max(zombie_tx, zombie_rec)) VIRTUAL
);
-- Newest first, with first_us beside it: a time range is checked in the index alone.
CREATE INDEX IF NOT EXISTS sessions_last_first ON sessions (last_us, first_us);
CREATE INDEX IF NOT EXISTS sessions_first ON sessions (first_us);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user, last_us) WHERE user IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_requests ON sessions (max(tx_count, ifnull(requests, 0)));
CREATE INDEX IF NOT EXISTS sessions_sensor ON sessions (sensor, last_us);
CREATE INDEX IF NOT EXISTS sessions_attacks ON sessions (last_us) WHERE attacks > 0;
CREATE INDEX IF NOT EXISTS sessions_alerts ON sessions (last_us) WHERE alerts > 0;
CREATE INDEX IF NOT EXISTS sessions_shadow ON sessions (last_us) WHERE shadow > 0;
CREATE INDEX IF NOT EXISTS sessions_zombie ON sessions (last_us) WHERE zombie > 0;

-- The latest session record of a part (a later phase replaces an earlier one).
CREATE TABLE IF NOT EXISTS session_records (
  session_id TEXT PRIMARY KEY,
  record BLOB NOT NULL
);

-- Client addresses of a session: `ip` is the 16-byte key of filter.rs (IPv4 mapped), so a
-- network is one range of the primary key.
CREATE TABLE IF NOT EXISTS session_ips (
  ip BLOB NOT NULL,
  session_id TEXT NOT NULL,
  PRIMARY KEY (ip, session_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_ips_session ON session_ips (session_id);

-- The API inventory: one row per endpoint, with its counters.
CREATE TABLE IF NOT EXISTS endpoints (
  id INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL UNIQUE,
  host TEXT,
  requests INTEGER NOT NULL DEFAULT 0,
  attacks INTEGER NOT NULL DEFAULT 0,
  first_us INTEGER,
  last_us INTEGER,
  api_status TEXT,
  spec TEXT,
  operation_id TEXT,
  template TEXT
);
CREATE INDEX IF NOT EXISTS endpoints_api_status ON endpoints (api_status);
CREATE TABLE IF NOT EXISTS endpoint_status (
  endpoint_id INTEGER NOT NULL,
  status INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, status)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS endpoint_auth (
  endpoint_id INTEGER NOT NULL,
  scheme TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, scheme)
) WITHOUT ROWID;
-- Which sessions called an endpoint (the endpoint filter and the inventory's links).
CREATE TABLE IF NOT EXISTS session_endpoints (
  endpoint_id INTEGER NOT NULL,
  session_id TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, session_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_endpoints_session ON session_endpoints (session_id);

CREATE TABLE IF NOT EXISTS attacks (
  tx_id INTEGER NOT NULL,
  session_id TEXT,
  ts_us INTEGER NOT NULL,
  class TEXT NOT NULL,
  rule TEXT NOT NULL,
  location TEXT NOT NULL,
  evidence TEXT NOT NULL,
  outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attacks_class ON attacks (class, session_id);
CREATE INDEX IF NOT EXISTS attacks_session ON attacks (session_id);
CREATE INDEX IF NOT EXISTS attacks_tx ON attacks (tx_id);

CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY,
  ts_us INTEGER NOT NULL,
  first_us INTEGER NOT NULL,
  kind TEXT NOT NULL,
  session_id TEXT,
  client_ip TEXT,
  user TEXT,
  endpoint TEXT,
  transaction_ids TEXT NOT NULL,
  sensor TEXT,
  record BLOB NOT NULL
);
-- By kind and time; also drops an alert delivered twice.
CREATE UNIQUE INDEX IF NOT EXISTS alerts_kind ON alerts (kind, ts_us, ifnull(client_ip, ''), ifnull(session_id, ''));
CREATE INDEX IF NOT EXISTS alerts_time ON alerts (ts_us);
CREATE INDEX IF NOT EXISTS alerts_session ON alerts (session_id);

-- websocket, tls and record types to come: shown on their session's page.
CREATE TABLE IF NOT EXISTS other_records (
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  ts_us INTEGER NOT NULL,
  session_id TEXT,
  record BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS other_records_session ON other_records (session_id);
CREATE INDEX IF NOT EXISTS other_records_time ON other_records (ts_us);

-- The overview's charts and top lists.
CREATE TABLE IF NOT EXISTS minutes (
  minute INTEGER PRIMARY KEY,
  requests INTEGER NOT NULL DEFAULT 0,
  sessions INTEGER NOT NULL DEFAULT 0,
  attacks INTEGER NOT NULL DEFAULT 0,
  alerts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS client_ips (
  ip TEXT PRIMARY KEY,
  requests INTEGER NOT NULL DEFAULT 0,
  attacks INTEGER NOT NULL DEFAULT 0,
  last_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS client_ips_requests ON client_ips (requests);

-- Analysts' work: kept by retention (a tagged or annotated session is never deleted).
CREATE TABLE IF NOT EXISTS tags (
  session_id TEXT NOT NULL,
  tag TEXT NOT NULL,
  author TEXT,
  created_us INTEGER NOT NULL,
  PRIMARY KEY (session_id, tag)
);
CREATE INDEX IF NOT EXISTS tags_tag ON tags (tag);
CREATE TABLE IF NOT EXISTS notes (
  id INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL,
  author TEXT,
  created_us INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_session ON notes (session_id);

-- Counters that outlive a run: records ingested, skipped, deleted by retention.
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";
