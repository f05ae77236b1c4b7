//! The activity log: every MCP request that passes through the gateway, in SQLite.
//!
//! The request path only hands an [`Entry`] to [`ActivityLog::record`], which never waits: it
//! is put on a bounded queue, or dropped and counted when the queue is full (the count is on
//! the API and the dashboard). One thread of its own (`writer.rs`) writes the queue in
//! batches, one transaction each, publishes each written batch as the live feed, and keeps the
//! database inside its retention (age and size). Readers (`/api/activity`, the stats) open
//! their own connection on a blocking thread (WAL: they never wait for the writer).
//!
//! A database file that cannot be used (corrupt, not a database, locked for good) is set
//! aside beside itself and a new one is started; the warning is kept for the API. Nothing here
//! can fail a request.

pub mod capture;
mod db;
mod stats;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub use db::{Page, Query};
pub use stats::{Stats, StatsQuery};

use crate::config::ActivitySettings;

/// The `clientInfo.name` of the dashboard's inspector; its requests are marked as such.
pub const DASHBOARD_CLIENT: &str = "switchboard-dashboard";

/// How a request ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    #[default]
    Ok,
    /// A JSON-RPC error.
    Error,
    /// A tool's result with `isError`.
    ToolError,
    /// The caller cancelled it (or went away) before the answer.
    Cancelled,
    /// The server did not answer within its timeout.
    Timeout,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::ToolError => "toolError",
            Self::Cancelled => "cancelled",
            Self::Timeout => "timeout",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "ok" => Self::Ok,
            "toolError" => Self::ToolError,
            "cancelled" => Self::Cancelled,
            "timeout" => Self::Timeout,
            _ => Self::Error,
        }
    }

    /// Whether it counts as an error in the stats (a cancellation is the caller's choice).
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Error | Self::ToolError | Self::Timeout)
    }
}

/// The transport a request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Streamable HTTP.
    Http,
    /// The legacy HTTP+SSE transport.
    Sse,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Sse => "sse",
        }
    }
}

/// Where a request came from: the endpoint, and what is known of the caller.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The endpoint's path as a client uses it (`/servers/x/mcp`, `/mcp?servers=a,b`).
    pub endpoint: Arc<str>,
    pub transport: Transport,
    /// `clientInfo` as `name version`.
    pub client: Option<Arc<str>>,
    pub session: Option<Arc<str>>,
    /// The caller's protocol version.
    pub protocol: Option<Arc<str>>,
}

impl Origin {
    pub fn new(endpoint: impl Into<Arc<str>>, transport: Transport) -> Self {
        Self {
            endpoint: endpoint.into(),
            transport,
            client: None,
            session: None,
            protocol: None,
        }
    }
}

/// Whether a client (its `clientInfo` name, or its `name version` label) is the dashboard's
/// inspector.
pub fn is_dashboard(client: &str) -> bool {
    client
        .strip_prefix(DASHBOARD_CLIENT)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// `clientInfo`'s name and version as one label.
pub fn client_label(name: &str, version: &str) -> Arc<str> {
    match version {
        "" => Arc::from(name),
        version => Arc::from(format!("{name} {version}")),
    }
}

/// One recorded request (the API's shape; see `/api/activity`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Given when written (0 before).
    pub id: i64,
    /// When the request arrived, in ms since the Unix epoch.
    pub ts: i64,
    pub endpoint: Arc<str>,
    pub transport: &'static str,
    /// The server that answered; `None` when the gateway answered itself.
    pub server: Option<Arc<str>>,
    pub client: Option<Arc<str>>,
    pub from_dashboard: bool,
    pub session: Option<Arc<str>>,
    pub method: Arc<str>,
    /// The tool or prompt (as the server knows it) or the resource URI.
    pub name: Option<String>,
    pub duration_ms: f64,
    pub outcome: Outcome,
    pub error_code: Option<i32>,
    pub error: Option<String>,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub protocol: Option<Arc<str>>,
    /// Captured params (only with `activity.capture`): truncated, secrets redacted.
    pub request: Option<String>,
    /// Captured result or error (only with `activity.capture`).
    pub response: Option<String>,
}

impl Entry {
    /// An entry for a request from `origin` that arrived at `started` and took `duration`.
    pub fn new(origin: &Origin, method: &str, started: SystemTime, duration: Duration) -> Self {
        let ts = started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let from_dashboard = origin.client.as_deref().is_some_and(is_dashboard);
        Self {
            id: 0,
            ts,
            endpoint: Arc::clone(&origin.endpoint),
            transport: origin.transport.as_str(),
            server: None,
            client: origin.client.clone(),
            from_dashboard,
            session: origin.session.clone(),
            method: Arc::from(method),
            name: None,
            duration_ms: duration.as_secs_f64() * 1000.0,
            outcome: Outcome::Ok,
            error_code: None,
            error: None,
            request_bytes: 0,
            response_bytes: 0,
            protocol: origin.protocol.clone(),
            request: None,
            response: None,
        }
    }
}

/// One request being recorded (see [`ActivityLog::begin`]): its entry is filled in as the
/// request goes, and written when it [`finish`](Recording::finish)es — or, when the request
/// is dropped before it ends (its client went away), written as cancelled.
pub struct Recording {
    log: Arc<ActivityLog>,
    clock: Instant,
    entry: Entry,
    written: bool,
}

impl Recording {
    /// The entry so far (its duration and outcome are set when it ends).
    pub fn entry(&mut self) -> &mut Entry {
        &mut self.entry
    }

    /// With capture on, how many bytes of params and results to keep.
    pub fn capture_limit(&self) -> Option<usize> {
        self.log.capture_limit()
    }

    /// Writes the entry, with the time it took.
    pub fn finish(mut self) {
        self.write(None);
    }

    fn write(&mut self, outcome: Option<Outcome>) {
        if std::mem::replace(&mut self.written, true) {
            return;
        }
        let mut entry = std::mem::take(&mut self.entry);
        entry.duration_ms = self.clock.elapsed().as_secs_f64() * 1000.0;
        if let Some(outcome) = outcome {
            entry.outcome = outcome;
            entry.error = Some("the client went away before the answer".into());
        }
        self.log.record(entry);
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.write(Some(Outcome::Cancelled));
    }
}

/// A batch of entries as written, for the live feed.
#[derive(Debug, Serialize)]
pub struct Written {
    pub entries: Vec<Entry>,
    /// Entries dropped so far (the queue was full).
    pub dropped: u64,
}

/// Why a read of the log failed.
#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    #[error("the activity log is off (no data directory)")]
    Off,
    #[error("cannot read the activity log {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the activity log's reader stopped: {0}")]
    Join(String),
}

/// What the settings say now; read on the request path without a lock.
struct Live {
    enabled: AtomicBool,
    capture: AtomicBool,
    capture_bytes: AtomicU32,
}

/// What the writer and the readers share.
struct Shared {
    path: Option<PathBuf>,
    /// The last problem with the database (set aside, cannot write), for the API.
    warning: Mutex<Option<String>>,
    dropped: AtomicU64,
    retention: Mutex<ActivitySettings>,
    feed: broadcast::Sender<Arc<Written>>,
}

impl Shared {
    fn warn(&self, warning: String) {
        tracing::warn!("{warning}");
        *self.warning.lock().unwrap_or_else(|p| p.into_inner()) = Some(warning);
    }
}

/// The handle the gateway records into and the API reads from; see the module documentation.
pub struct ActivityLog {
    live: Live,
    shared: Arc<Shared>,
    queue: Option<writer::Queue>,
}

impl ActivityLog {
    /// The log in the SQLite file `path`, with its writer thread started. Never fails: a file
    /// that cannot be used is set aside (or, failing that, the log records nothing) and the
    /// reason is the [`ActivityLog::warning`].
    pub fn open(path: PathBuf, settings: &ActivitySettings) -> Arc<Self> {
        Self::start(Some(path), settings)
    }

    /// A log that records nothing (no data directory; tests of other things).
    pub fn off() -> Arc<Self> {
        Self::start(
            None,
            &ActivitySettings {
                enabled: false,
                ..ActivitySettings::default()
            },
        )
    }

    fn start(path: Option<PathBuf>, settings: &ActivitySettings) -> Arc<Self> {
        let shared = Arc::new(Shared {
            path: path.clone(),
            warning: Mutex::new(None),
            dropped: AtomicU64::new(0),
            retention: Mutex::new(settings.clone()),
            feed: broadcast::channel(64).0,
        });
        let queue = path.and_then(|path| {
            let capacity = usize::try_from(settings.queue.max(1)).unwrap_or(1);
            match writer::spawn(path, capacity, Arc::clone(&shared)) {
                Ok(queue) => Some(queue),
                Err(e) => {
                    shared.warn(format!(
                        "the activity log cannot start its writer thread ({e}); requests are not recorded"
                    ));
                    None
                }
            }
        });
        let log = Arc::new(Self {
            live: Live {
                enabled: AtomicBool::new(false),
                capture: AtomicBool::new(false),
                capture_bytes: AtomicU32::new(0),
            },
            shared,
            queue,
        });
        log.configure(settings);
        log
    }

    /// Applies the `activity` settings of a new servers.json (all but `queue`).
    pub fn configure(&self, settings: &ActivitySettings) {
        let on = settings.enabled && self.queue.is_some();
        self.live.enabled.store(on, Ordering::Relaxed);
        self.live.capture.store(settings.capture, Ordering::Relaxed);
        self.live
            .capture_bytes
            .store(settings.capture_bytes, Ordering::Relaxed);
        *self
            .shared
            .retention
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = settings.clone();
    }

    /// Whether requests are recorded now (the request path skips its measuring when not).
    pub fn is_on(&self) -> bool {
        self.live.enabled.load(Ordering::Relaxed)
    }

    /// With capture on, how many bytes of params and results to keep.
    pub fn capture_limit(&self) -> Option<usize> {
        self.live
            .capture
            .load(Ordering::Relaxed)
            .then(|| usize::try_from(self.live.capture_bytes.load(Ordering::Relaxed)).ok())
            .flatten()
    }

    /// Begins recording a request of `method` from `origin`, arriving now; `None` when the
    /// log is off (so nothing is measured).
    pub fn begin(self: &Arc<Self>, origin: &Origin, method: &str) -> Option<Recording> {
        if !self.is_on() {
            return None;
        }
        Some(Recording {
            log: Arc::clone(self),
            clock: Instant::now(),
            entry: Entry::new(origin, method, SystemTime::now(), Duration::ZERO),
            written: false,
        })
    }

    /// Queues `entry` to be written; never waits. A full queue drops it and counts it.
    fn record(&self, entry: Entry) {
        if !self.is_on() {
            return;
        }
        if let Some(queue) = &self.queue {
            if !queue.push(entry) {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Entries dropped since start because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// The last problem with the database, if any.
    pub fn warning(&self) -> Option<String> {
        self.shared
            .warning
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The batches as they are written.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Written>> {
        self.shared.feed.subscribe()
    }

    /// The database file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.shared.path.as_deref()
    }

    /// Waits until everything queued before this call is written (shutdown, tests).
    pub async fn flush(&self) {
        if let Some(queue) = &self.queue {
            queue.flush().await;
        }
    }

    /// Writes what is queued and closes the database; later entries are dropped. For the
    /// app's shutdown, so the file is whole once it has stopped.
    pub async fn close(&self) {
        self.live.enabled.store(false, Ordering::Relaxed);
        if let Some(queue) = &self.queue {
            queue.close().await;
        }
    }

    /// A page of entries, newest first.
    pub async fn query(&self, query: Query) -> Result<Page, ActivityError> {
        let path = self.shared.path.clone().ok_or(ActivityError::Off)?;
        blocking(move || db::query(&path, &query).map_err(|source| read_error(&path, source))).await
    }

    /// Calls, errors and latency percentiles per server and tool over a window.
    pub async fn stats(&self, query: StatsQuery) -> Result<Stats, ActivityError> {
        let path = self.shared.path.clone().ok_or(ActivityError::Off)?;
        let rows = blocking(move || {
            let (from, to) = query.range();
            db::samples(&path, from, to, query.server.as_deref())
                .map_err(|source| read_error(&path, source))
                .map(|rows| (query, rows))
        })
        .await?;
        let (query, rows) = rows;
        Ok(stats::compute(&query, &rows))
    }
}

fn read_error(path: &Path, source: rusqlite::Error) -> ActivityError {
    ActivityError::Read {
        path: path.to_owned(),
        source,
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ActivityError> + Send + 'static,
) -> Result<T, ActivityError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ActivityError::Join(e.to_string()))?
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
