//! The SQLite file: its schema, writing batches, retention, and the readers' queries.
//!
//! One table, `calls`, one row per request; durations in microseconds, times in ms since the
//! Unix epoch. The file is in WAL mode (readers never wait for the writer) with incremental
//! auto-vacuum (so deleting old rows gives the space back to the disk).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, params_from_iter, Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde::Deserialize;

use super::{Entry, Outcome};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    transport TEXT NOT NULL,
    server TEXT,
    client TEXT,
    dashboard INTEGER NOT NULL,
    session TEXT,
    method TEXT NOT NULL,
    name TEXT,
    duration_us INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    error_code INTEGER,
    error TEXT,
    request_bytes INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    protocol TEXT,
    request TEXT,
    response TEXT
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls(ts);
";

/// How long a connection waits for another one's lock before giving up.
const BUSY: Duration = Duration::from_secs(2);

/// The writer's connection.
pub struct Db {
    conn: Connection,
}

impl Db {
    /// Opens (or creates) the database at `path` and checks it is usable: a file that is not
    /// a database, or whose quick check fails, is an error (the caller sets it aside).
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY)?;
        // Before the first table: only a new file takes it.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
        if check != "ok" {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(check),
            ));
        }
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    /// Writes `entries` in one transaction, giving each its id.
    pub fn insert(&mut self, entries: &mut [Entry]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO calls (ts, endpoint, transport, server, client, dashboard, session,
                    method, name, duration_us, outcome, error_code, error, request_bytes,
                    response_bytes, protocol, request, response)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?;
            for entry in entries.iter_mut() {
                insert.execute(params![
                    entry.ts,
                    &*entry.endpoint,
                    entry.transport,
                    entry.server.as_deref(),
                    entry.client.as_deref(),
                    entry.from_dashboard,
                    entry.session.as_deref(),
                    &*entry.method,
                    entry.name.as_deref(),
                    (entry.duration_ms * 1000.0).round() as i64,
                    entry.outcome.as_str(),
                    entry.error_code,
                    entry.error.as_deref(),
                    i64::try_from(entry.request_bytes).unwrap_or(i64::MAX),
                    i64::try_from(entry.response_bytes).unwrap_or(i64::MAX),
                    entry.protocol.as_deref(),
                    entry.request.as_deref(),
                    entry.response.as_deref(),
                ])?;
                entry.id = tx.last_insert_rowid();
            }
        }
        tx.commit()
    }

    /// Deletes entries older than `max_age_ms` before `now_ms`, then the oldest until the
    /// database's pages in use fit in `max_bytes`, and gives the freed space back. Answers how
    /// many entries went.
    pub fn retain(
        &mut self,
        now_ms: i64,
        max_age_ms: i64,
        max_bytes: u64,
    ) -> rusqlite::Result<u64> {
        let mut deleted = self.conn.execute(
            "DELETE FROM calls WHERE ts < ?1",
            params![now_ms.saturating_sub(max_age_ms)],
        )? as u64;
        loop {
            let used = self.used_bytes()?;
            if used <= max_bytes {
                break;
            }
            let rows: i64 = self
                .conn
                .query_row("SELECT count(*) FROM calls", [], |row| row.get(0))?;
            if rows == 0 {
                break;
            }
            // The share of rows over the limit, and a little more, so this converges quickly.
            let over = (used - max_bytes) as f64 / used as f64;
            let n = ((rows as f64 * over * 1.1).ceil() as i64).clamp(1, rows);
            deleted += self.conn.execute(
                "DELETE FROM calls WHERE id IN (SELECT id FROM calls ORDER BY id LIMIT ?1)",
                params![n],
            )? as u64;
        }
        if deleted > 0 {
            // Each step of the statement frees pages; it must run to its end.
            let mut vacuum = self.conn.prepare("PRAGMA incremental_vacuum")?;
            let mut steps = vacuum.query([])?;
            while steps.next()?.is_some() {}
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        Ok(deleted)
    }

    /// Folds the WAL into the file and closes the connection.
    pub fn close(self) {
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        let _ = self.conn.close();
    }

    /// The bytes of the pages that hold data (free pages not counted).
    pub fn used_bytes(&self) -> rusqlite::Result<u64> {
        let pages: i64 = self
            .conn
            .query_row("PRAGMA page_count", [], |row| row.get(0))?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
        let size: i64 = self
            .conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))?;
        Ok(u64::try_from((pages - free).max(0) * size).unwrap_or(0))
    }
}

/// Whether `error` means the file itself is unusable (set it aside), rather than this write.
pub fn is_unusable(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Whether `error` is another connection holding the lock.
pub fn is_locked(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Moves the database at `path` (and its WAL and shared-memory files) aside as
/// `NAME.unusable-MS`, so a new one can be made; answers the new name.
pub fn set_aside(path: &Path, now_ms: i64) -> std::io::Result<PathBuf> {
    let aside = with_suffix(path, &format!(".unusable-{now_ms}"));
    std::fs::rename(path, &aside)?;
    for extra in ["-wal", "-shm"] {
        let from = with_suffix(path, extra);
        if from.exists() {
            let _ = std::fs::rename(&from, with_suffix(&aside, extra));
        }
    }
    Ok(aside)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `/api/activity`'s filters.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Query {
    pub server: Option<String>,
    /// A part of the client's label.
    pub client: Option<String>,
    pub method: Option<String>,
    /// The tool or prompt name, or resource URI (exact).
    pub tool: Option<String>,
    pub outcome: Option<String>,
    /// Entries at or after this time (ms).
    pub from: Option<i64>,
    /// Entries before this time (ms).
    pub to: Option<i64>,
    /// Entries older than this id (the next page).
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

/// A page of entries, newest first; `next` is the `before` of the following page.
#[derive(Debug, serde::Serialize)]
pub struct Page {
    pub entries: Vec<Entry>,
    pub next: Option<i64>,
}

/// A read-only connection, or `None` when there is no database yet.
fn reader(path: &Path) -> rusqlite::Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY)?;
    let has_table = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'calls'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    Ok(has_table.then_some(conn))
}

pub fn query(path: &Path, query: &Query) -> rusqlite::Result<Page> {
    let Some(conn) = reader(path)? else {
        return Ok(Page {
            entries: Vec::new(),
            next: None,
        });
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let mut clauses = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut text = |clause: &str, value: &Option<String>, values: &mut Vec<_>| {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            clauses.push(clause.to_owned());
            values.push(rusqlite::types::Value::Text(value.clone()));
        }
    };
    text("server = ?", &query.server, &mut values);
    text("method = ?", &query.method, &mut values);
    text("name = ?", &query.tool, &mut values);
    text("outcome = ?", &query.outcome, &mut values);
    text(
        "instr(lower(client), lower(?)) > 0",
        &query.client,
        &mut values,
    );
    for (clause, value) in [
        ("ts >= ?", query.from),
        ("ts < ?", query.to),
        ("id < ?", query.before),
    ] {
        if let Some(value) = value {
            clauses.push(clause.to_owned());
            values.push(rusqlite::types::Value::Integer(value));
        }
    }
    let filter = match clauses.is_empty() {
        true => String::new(),
        false => format!("WHERE {}", clauses.join(" AND ")),
    };
    let sql = format!(
        "SELECT id, ts, endpoint, transport, server, client, dashboard, session, method, name,
                duration_us, outcome, error_code, error, request_bytes, response_bytes,
                protocol, request, response
         FROM calls {filter} ORDER BY id DESC LIMIT {}",
        limit + 1
    );
    let mut statement = conn.prepare(&sql)?;
    let mut entries = statement
        .query_map(params_from_iter(values), |row| {
            let arc = |i: usize| row.get::<_, Option<String>>(i).map(|v| v.map(Arc::from));
            Ok(Entry {
                id: row.get(0)?,
                ts: row.get(1)?,
                endpoint: Arc::from(row.get::<_, String>(2)?),
                transport: match row.get::<_, String>(3)?.as_str() {
                    "sse" => "sse",
                    _ => "http",
                },
                server: arc(4)?,
                client: arc(5)?,
                from_dashboard: row.get(6)?,
                session: arc(7)?,
                method: Arc::from(row.get::<_, String>(8)?),
                name: row.get(9)?,
                duration_ms: row.get::<_, i64>(10)? as f64 / 1000.0,
                outcome: Outcome::parse(&row.get::<_, String>(11)?),
                error_code: row.get(12)?,
                error: row.get(13)?,
                request_bytes: row.get::<_, i64>(14)?.max(0) as u64,
                response_bytes: row.get::<_, i64>(15)?.max(0) as u64,
                protocol: arc(16)?,
                request: row.get(17)?,
                response: row.get(18)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next = match entries.len() > limit as usize {
        true => {
            entries.truncate(limit as usize);
            entries.last().map(|e| e.id)
        }
        false => None,
    };
    Ok(Page { entries, next })
}

/// What the stats need of one request that reached a server.
#[derive(Debug, Clone)]
pub struct Sample {
    pub ts: i64,
    pub server: String,
    /// The tool's name, for `tools/call`.
    pub tool: Option<String>,
    pub duration_us: i64,
    pub failed: bool,
}

/// The requests that reached a server in `[from, to)`, oldest first.
pub fn samples(
    path: &Path,
    from: i64,
    to: i64,
    server: Option<&str>,
) -> rusqlite::Result<Vec<Sample>> {
    let Some(conn) = reader(path)? else {
        return Ok(Vec::new());
    };
    let mut statement = conn.prepare(
        "SELECT ts, server, method, name, duration_us, outcome FROM calls
         WHERE ts >= ?1 AND ts < ?2 AND server IS NOT NULL AND (?3 IS NULL OR server = ?3)
         ORDER BY ts",
    )?;
    let rows = statement.query_map(params![from, to, server], |row| {
        let method: String = row.get(2)?;
        Ok(Sample {
            ts: row.get(0)?,
            server: row.get(1)?,
            tool: match method.as_str() {
                "tools/call" => row.get(3)?,
                _ => None,
            },
            duration_us: row.get(4)?,
            failed: Outcome::parse(&row.get::<_, String>(5)?).is_failure(),
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::{Origin, Transport};
    use std::time::{Duration, UNIX_EPOCH};

    fn entry(ts: i64, server: &str, tool: &str, capture: usize) -> Entry {
        let origin = Origin::new("/mcp", Transport::Http);
        let started = UNIX_EPOCH + Duration::from_millis(ts as u64);
        let mut entry = Entry::new(&origin, "tools/call", started, Duration::from_micros(1500));
        entry.server = Some(Arc::from(server));
        entry.name = Some(tool.to_owned());
        entry.request = (capture > 0).then(|| "x".repeat(capture));
        entry
    }

    fn count(db: &Db) -> i64 {
        db.conn
            .query_row("SELECT count(*) FROM calls", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn entries_written_are_read_back_newest_first_with_their_ids_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("activity.db");
        let mut db = Db::open(&path).unwrap();
        let mut batch: Vec<_> = (0..5)
            .map(|i| entry(1_000 + i, if i % 2 == 0 { "a" } else { "b" }, "echo", 0))
            .collect();
        db.insert(&mut batch).unwrap();
        assert_eq!(
            batch.iter().map(|e| e.id).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );

        let all = query(&path, &Query::default()).unwrap();
        assert_eq!(
            all.entries.iter().map(|e| e.id).collect::<Vec<_>>(),
            [5, 4, 3, 2, 1]
        );
        assert_eq!(all.entries[0], batch[4]);

        let a = query(
            &path,
            &Query {
                server: Some("a".into()),
                limit: Some(2),
                ..Query::default()
            },
        )
        .unwrap();
        assert_eq!(a.entries.iter().map(|e| e.id).collect::<Vec<_>>(), [5, 3]);
        let rest = query(
            &path,
            &Query {
                server: Some("a".into()),
                before: a.next,
                ..Query::default()
            },
        )
        .unwrap();
        assert_eq!(rest.entries.iter().map(|e| e.id).collect::<Vec<_>>(), [1]);
        assert_eq!(rest.next, None);
    }

    #[test]
    fn retention_deletes_entries_older_than_the_age_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("activity.db")).unwrap();
        let day = 86_400_000;
        let now = 100 * day;
        let mut batch = vec![
            entry(now - 20 * day, "a", "old", 0),
            entry(now - 15 * day, "a", "old", 0),
            entry(now - 13 * day, "a", "kept", 0),
            entry(now - 1, "a", "kept", 0),
        ];
        db.insert(&mut batch).unwrap();
        assert_eq!(db.retain(now, 14 * day, u64::MAX).unwrap(), 2);
        assert_eq!(count(&db), 2);
    }

    #[test]
    fn retention_deletes_the_oldest_entries_until_the_database_fits_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("activity.db");
        let mut db = Db::open(&path).unwrap();
        for round in 0..10 {
            let mut batch: Vec<_> = (0..200)
                .map(|i| entry(round * 1000 + i, "a", "echo", 1000))
                .collect();
            db.insert(&mut batch).unwrap();
        }
        let limit = 1024 * 1024;
        assert!(
            db.used_bytes().unwrap() > 2 * limit,
            "the test needs a database over the limit"
        );
        let deleted = db.retain(10_000, i64::MAX, limit).unwrap();
        assert!(deleted > 0);
        assert!(db.used_bytes().unwrap() <= limit);
        // The newest are the ones kept, and the file itself shrank.
        let newest = query(
            &path,
            &Query {
                limit: Some(1),
                ..Query::default()
            },
        )
        .unwrap();
        assert_eq!(newest.entries[0].id, 2000);
        let on_disk = std::fs::metadata(&path).unwrap().len();
        assert!(on_disk <= limit + 64 * 1024, "file is {on_disk} bytes");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_can_be_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("activity.db");
        std::fs::write(&path, b"this is not a database, just some text").unwrap();
        let error = Db::open(&path).err().expect("garbage refused");
        assert!(is_unusable(&error), "{error}");
        let aside = set_aside(&path, 42).unwrap();
        assert!(aside.ends_with("activity.db.unusable-42"));
        assert!(!path.exists());
        Db::open(&path).unwrap();
    }
}
