//! Retention (`ui.retention`): the store is bounded by age and by size, the oldest records
//! going first. Sessions an analyst tagged or annotated are kept, with their records: they
//! are evidence someone is working on. What is deleted is subtracted from the inventory and
//! overview counts, and counted (`counters` table, `IngestStats::retention`).

use rusqlite::{params, Connection};

use crate::config::RetentionConfig;

use super::{bump, StoreError};

/// Microseconds per hour.
const HOUR_US: i64 = 3_600_000_000;
/// Microseconds per minute (the overview's bucket).
const MINUTE_US: i64 = 60_000_000;
/// Past `max_bytes`, records are deleted until the store is under this share of it, so that
/// retention does not run again at the next record.
const SIZE_TARGET_PERCENT: u64 = 90;
/// Most delete rounds one size check makes (each deletes at least a tenth of what is left).
const MAX_SIZE_ROUNDS: usize = 20;

/// What retention deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionStats {
    /// Transactions deleted for being older than `max_age_hours`.
    pub tx_by_age: u64,
    /// Transactions deleted to keep the store under `max_bytes`.
    pub tx_by_size: u64,
    /// Session parts deleted (every one of their records was).
    pub sessions: u64,
    /// Alerts deleted.
    pub alerts: u64,
    /// Other records deleted.
    pub other: u64,
}

impl RetentionStats {
    /// Add another run's counts.
    pub fn add(&mut self, o: &RetentionStats) {
        self.tx_by_age += o.tx_by_age;
        self.tx_by_size += o.tx_by_size;
        self.sessions += o.sessions;
        self.alerts += o.alerts;
        self.other += o.other;
    }
}

/// Why records are deleted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    Age,
    Size,
}

/// Apply both bounds; `newest_us` is the newest record's time (the age bound's clock).
pub(super) fn run(
    conn: &mut Connection,
    cfg: &RetentionConfig,
    newest_us: i64,
) -> Result<RetentionStats, StoreError> {
    let mut stats = RetentionStats::default();
    if cfg.max_age_hours > 0 && newest_us != i64::MIN {
        let age = i64::try_from(cfg.max_age_hours)
            .unwrap_or(i64::MAX)
            .saturating_mul(HOUR_US);
        delete_before(conn, newest_us.saturating_sub(age), Reason::Age, &mut stats)?;
    }
    if cfg.max_bytes > 0 {
        let target = cfg.max_bytes / 100 * SIZE_TARGET_PERCENT;
        for _ in 0..MAX_SIZE_ROUNDS {
            let used = used_bytes(conn)?;
            if used <= cfg.max_bytes && stats.tx_by_size == 0 || used <= target {
                break;
            }
            let Some(cutoff) = size_cutoff(conn, used, target)? else {
                break;
            };
            let before = stats.tx_by_size;
            delete_before(conn, cutoff, Reason::Size, &mut stats)?;
            if stats.tx_by_size == before {
                break; // only kept (tagged) sessions are left
            }
        }
    }
    for (name, n) in [
        ("retention_tx_by_age", stats.tx_by_age),
        ("retention_tx_by_size", stats.tx_by_size),
        ("retention_sessions", stats.sessions),
        ("retention_alerts", stats.alerts),
        ("retention_other", stats.other),
    ] {
        bump(conn, name, i64::try_from(n).unwrap_or(i64::MAX))?;
    }
    Ok(stats)
}

/// Bytes of the store's pages in use (free pages are reused, not returned to the disk).
pub(super) fn used_bytes(conn: &Connection) -> Result<u64, StoreError> {
    let pragma = |name: &str| -> Result<u64, StoreError> {
        let v: i64 = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
        Ok(u64::try_from(v).unwrap_or(0))
    };
    Ok((pragma("page_count")?.saturating_sub(pragma("freelist_count")?)) * pragma("page_size")?)
}

/// The time before which deleting transactions brings the store from `used` to about
/// `target` bytes, assuming bytes spread evenly over them; at least a tenth of them.
fn size_cutoff(conn: &Connection, used: u64, target: u64) -> Result<Option<i64>, StoreError> {
    let count: i64 = conn.query_row("SELECT count(*) FROM tx", [], |r| r.get(0))?;
    if count == 0 {
        return Ok(None);
    }
    let share = (used - target.min(used)) as f64 / used as f64;
    let n = ((count as f64 * share) as i64).max(count / 10).max(1);
    let cutoff = conn
        .query_row(
            "SELECT ts_us FROM tx ORDER BY ts_us LIMIT 1 OFFSET ?1",
            [n.min(count - 1)],
            |r| r.get::<_, i64>(0),
        )
        .map(|t| t.saturating_add(1))?;
    Ok(Some(cutoff))
}

/// Delete every record older than `cutoff` but those of kept sessions, subtracting them from
/// the counts; one SQLite transaction.
fn delete_before(
    conn: &mut Connection,
    cutoff: i64,
    reason: Reason,
    stats: &mut RetentionStats,
) -> Result<(), StoreError> {
    let t = conn.transaction()?;
    t.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS kept (session_id TEXT PRIMARY KEY);
         CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY);
         DELETE FROM kept; DELETE FROM doomed;
         INSERT OR IGNORE INTO kept SELECT session_id FROM tags UNION SELECT session_id FROM notes;",
    )?;
    let n = t.execute(
        "INSERT INTO doomed SELECT id FROM tx WHERE ts_us < ?1
           AND (session_id IS NULL OR session_id NOT IN kept)",
        [cutoff],
    )? as u64;
    t.execute_batch(SUBTRACT)?;
    t.execute("DELETE FROM attacks WHERE tx_id IN doomed", [])?;
    t.execute("DELETE FROM tx WHERE id IN doomed", [])?;
    let sessions = t.execute(
        "DELETE FROM sessions WHERE last_us < ?1 AND session_id NOT IN kept",
        [cutoff],
    )? as u64;
    if n > 0 || sessions > 0 {
        // Scans of whole tables: only when something went (most runs delete nothing).
        t.execute_batch(
            "DELETE FROM session_ips WHERE session_id NOT IN (SELECT session_id FROM sessions);
             DELETE FROM session_records WHERE session_id NOT IN (SELECT session_id FROM sessions);
             DELETE FROM session_endpoints WHERE count <= 0
               OR session_id NOT IN (SELECT session_id FROM sessions);",
        )?;
    }
    let alerts = t.execute(
        "DELETE FROM alerts WHERE ts_us < ?1 AND (session_id IS NULL OR session_id NOT IN kept)",
        [cutoff],
    )? as u64;
    let other = t.execute(
        "DELETE FROM other_records WHERE ts_us < ?1 AND (session_id IS NULL OR session_id NOT IN kept)",
        [cutoff],
    )? as u64;
    t.execute(
        "DELETE FROM minutes WHERE minute < ?1",
        params![cutoff.div_euclid(MINUTE_US)],
    )?;
    t.commit()?;
    match reason {
        Reason::Age => stats.tx_by_age += n,
        Reason::Size => stats.tx_by_size += n,
    }
    stats.sessions += sessions;
    stats.alerts += alerts;
    stats.other += other;
    Ok(())
}

/// Take the doomed transactions out of the inventory's and the overview's counts.
const SUBTRACT: &str = "
UPDATE endpoints SET requests = requests - d.n, attacks = attacks - d.a
  FROM (SELECT endpoint_id, count(*) AS n, sum(attacks) AS a FROM tx
        WHERE id IN doomed AND endpoint_id IS NOT NULL GROUP BY endpoint_id) AS d
  WHERE endpoints.id = d.endpoint_id;
UPDATE endpoint_status SET count = count - d.n
  FROM (SELECT endpoint_id, ifnull(status, 0) AS status, count(*) AS n FROM tx
        WHERE id IN doomed AND endpoint_id IS NOT NULL GROUP BY 1, 2) AS d
  WHERE endpoint_status.endpoint_id = d.endpoint_id AND endpoint_status.status = d.status;
DELETE FROM endpoint_status WHERE count <= 0;
UPDATE endpoint_auth SET count = count - d.n
  FROM (SELECT endpoint_id, auth, count(*) AS n FROM tx
        WHERE id IN doomed AND endpoint_id IS NOT NULL GROUP BY 1, 2) AS d
  WHERE endpoint_auth.endpoint_id = d.endpoint_id AND endpoint_auth.scheme = d.auth;
DELETE FROM endpoint_auth WHERE count <= 0;
UPDATE session_endpoints SET count = count - d.n
  FROM (SELECT endpoint_id, session_id, count(*) AS n FROM tx
        WHERE id IN doomed AND endpoint_id IS NOT NULL AND session_id IS NOT NULL GROUP BY 1, 2) AS d
  WHERE session_endpoints.endpoint_id = d.endpoint_id AND session_endpoints.session_id = d.session_id;
UPDATE client_ips SET requests = requests - d.n, attacks = attacks - d.a
  FROM (SELECT client_ip, count(*) AS n, sum(attacks) AS a FROM tx
        WHERE id IN doomed AND client_ip IS NOT NULL GROUP BY client_ip) AS d
  WHERE client_ips.ip = d.client_ip;
DELETE FROM client_ips WHERE requests <= 0;
";
