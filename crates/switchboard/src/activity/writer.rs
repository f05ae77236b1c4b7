//! The writer thread: the bounded queue the request path pushes to, written in batches.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::db::{self, Db};
use super::{now_ms, Entry, Shared, Written};

/// Entries written in one transaction at most.
const BATCH: usize = 4096;
/// How long the writer gathers entries after the first of a batch. A burst becomes one
/// transaction, and while the writer sleeps the request path's `try_send` finds no one to wake
/// (a wake is a futex syscall on the request's worker).
const GATHER: Duration = Duration::from_millis(50);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);
/// Entries per live-feed message at most (the dashboard shows the newest anyway).
const FEED_MAX: usize = 200;
/// Failed writes in a row, with the file locked by someone else, before it is set aside.
const LOCKED_TRIES: u32 = 3;

enum Item {
    /// Boxed: the queue's slots are allocated up front, so they stay one pointer wide.
    Entry(Box<Entry>),
    Flush(oneshot::Sender<()>),
    /// Written, checkpointed and closed: nothing more is written (the app is stopping).
    Close(oneshot::Sender<()>),
}

/// The request path's end of the queue.
pub struct Queue {
    tx: SyncSender<Item>,
}

impl Queue {
    /// Queues `entry`; false when the queue is full (or the writer is gone).
    pub fn push(&self, entry: Entry) -> bool {
        match self.tx.try_send(Item::Entry(Box::new(entry))) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Waits until what was queued before is written.
    pub async fn flush(&self) {
        self.send_and_wait(Item::Flush).await;
    }

    /// Waits until what was queued before is written, then closes the database (its WAL
    /// folded into the file), so the file is whole when the app has stopped.
    pub async fn close(&self) {
        self.send_and_wait(Item::Close).await;
    }

    async fn send_and_wait(&self, item: fn(oneshot::Sender<()>) -> Item) {
        let (done, written) = oneshot::channel();
        let tx = self.tx.clone();
        // `send` waits for room, so it runs on a blocking thread.
        let queued = tokio::task::spawn_blocking(move || tx.send(item(done)).is_ok()).await;
        if queued.unwrap_or(false) {
            let _ = written.await;
        }
    }
}

/// Starts the writer of the database at `path`.
pub fn spawn(path: PathBuf, capacity: usize, shared: Arc<Shared>) -> std::io::Result<Queue> {
    let (tx, rx) = mpsc::sync_channel(capacity);
    std::thread::Builder::new()
        .name("activity-log".into())
        .spawn(move || Writer::new(path, shared).run(&rx))?;
    Ok(Queue { tx })
}

struct Writer {
    path: PathBuf,
    shared: Arc<Shared>,
    db: Option<Db>,
    locked: u32,
    retained: Option<Instant>,
}

impl Writer {
    fn new(path: PathBuf, shared: Arc<Shared>) -> Self {
        let mut writer = Self {
            path,
            shared,
            db: None,
            locked: 0,
            retained: None,
        };
        writer.db = writer.open();
        writer
    }

    /// Opens the database, setting aside a file that cannot be used and starting anew.
    fn open(&mut self) -> Option<Db> {
        match Db::open(&self.path) {
            Ok(db) => Some(db),
            Err(e) if db::is_unusable(&e) || db::is_locked(&e) => self.replace(&e.to_string()),
            Err(e) => {
                self.shared.warn(format!(
                    "cannot open the activity log {}: {e}; requests are not recorded until \
                     Switchboard is restarted",
                    self.path.display()
                ));
                None
            }
        }
    }

    /// Sets the file aside (it could not be used: `why`) and opens a new one.
    fn replace(&mut self, why: &str) -> Option<Db> {
        self.db = None;
        let aside = match db::set_aside(&self.path, now_ms()) {
            Ok(aside) => aside,
            Err(e) => {
                self.shared.warn(format!(
                    "the activity log {} cannot be used ({why}) nor moved aside ({e}); requests \
                     are not recorded until it is removed",
                    self.path.display()
                ));
                return None;
            }
        };
        match Db::open(&self.path) {
            Ok(db) => {
                self.shared.warn(format!(
                    "the activity log {} could not be used ({why}); it was moved to {} and a \
                     new one started (earlier entries are in the old file)",
                    self.path.display(),
                    aside.display()
                ));
                Some(db)
            }
            Err(e) => {
                self.shared.warn(format!(
                    "the activity log {} could not be used ({why}) and a new one cannot be \
                     made: {e}; requests are not recorded",
                    self.path.display()
                ));
                None
            }
        }
    }

    fn run(mut self, rx: &mpsc::Receiver<Item>) {
        loop {
            let first = match rx.recv_timeout(RETENTION_EVERY) {
                Ok(item) => item,
                Err(RecvTimeoutError::Timeout) => {
                    self.retain();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if matches!(first, Item::Entry(_)) {
                std::thread::sleep(GATHER);
            }
            let mut batch = Vec::new();
            let mut flushes = Vec::new();
            let mut close = None;
            let mut next = Some(first);
            while let Some(item) = next {
                match item {
                    Item::Entry(entry) => batch.push(*entry),
                    Item::Flush(done) => flushes.push(done),
                    Item::Close(done) => close = Some(done),
                }
                next = (batch.len() < BATCH && close.is_none())
                    .then(|| rx.try_recv().ok())
                    .flatten();
            }
            if !batch.is_empty() {
                self.write(batch);
            }
            for done in flushes {
                let _ = done.send(());
            }
            if let Some(done) = close {
                if let Some(db) = self.db.take() {
                    db.close();
                }
                let _ = done.send(());
            }
            if self
                .retained
                .is_none_or(|at| at.elapsed() >= RETENTION_EVERY)
            {
                self.retain();
            }
        }
    }

    fn write(&mut self, mut batch: Vec<Entry>) {
        let Some(db) = self.db.as_mut() else {
            self.count_lost(batch.len());
            return;
        };
        let result = match db.insert(&mut batch) {
            Err(e) if db::is_unusable(&e) => {
                self.db = self.replace(&e.to_string());
                match self.db.as_mut() {
                    Some(db) => db.insert(&mut batch),
                    None => Err(e),
                }
            }
            other => other,
        };
        match result {
            Ok(()) => {
                self.locked = 0;
                self.publish(batch);
            }
            Err(e) => {
                self.count_lost(batch.len());
                if db::is_locked(&e) {
                    self.locked += 1;
                    if self.locked >= LOCKED_TRIES {
                        self.locked = 0;
                        self.db = self.replace(&format!("locked by another program: {e}"));
                    }
                } else {
                    self.shared.warn(format!(
                        "cannot write to the activity log {}: {e}",
                        self.path.display()
                    ));
                }
            }
        }
    }

    fn count_lost(&self, n: usize) {
        self.shared
            .dropped
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    fn publish(&self, mut entries: Vec<Entry>) {
        if self.shared.feed.receiver_count() == 0 {
            return;
        }
        if entries.len() > FEED_MAX {
            entries.drain(..entries.len() - FEED_MAX);
        }
        let dropped = self
            .shared
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed);
        let _ = self
            .shared
            .feed
            .send(Arc::new(Written { entries, dropped }));
    }

    fn retain(&mut self) {
        self.retained = Some(Instant::now());
        let settings = self
            .shared
            .retention
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(db) = self.db.as_mut() else { return };
        let max_age = i64::from(settings.retention_days.max(1)) * 86_400_000;
        let max_bytes = u64::from(settings.max_mb.max(1)) * 1024 * 1024;
        match db.retain(now_ms(), max_age, max_bytes) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "activity log retention"),
            Err(e) => tracing::warn!(error = %e, "activity log retention failed"),
        }
    }
}
