//! Watches servers.json and reloads it through the [`ConfigStore`] when it changes.
//!
//! The watch is on the file's directory, not the file: editors save by writing a temp file and
//! renaming it over, by truncating and writing, or by deleting and recreating, and a watch on
//! the old inode would miss all but the second. Events are debounced: a burst of them (the
//! truncate and the write of one save) becomes one reload.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::store::ConfigStore;

/// Quiet time after the last event before the file is read.
pub const DEBOUNCE: Duration = Duration::from_millis(50);
/// Longest a steady stream of events can delay a reload.
const MAX_DELAY: Duration = Duration::from_millis(300);

#[derive(Debug, thiserror::Error)]
#[error("cannot watch {dir} for changes to servers.json: {source}")]
pub struct WatchError {
    dir: PathBuf,
    #[source]
    source: notify::Error,
}

/// Starts watching; the task ends when `shutdown` is cancelled.
pub fn spawn(
    store: Arc<ConfigStore>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, WatchError> {
    let path = store.path().to_owned();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = path.file_name().map(|n| n.to_owned());
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(event) => event
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_owned()) == name),
            // An error from the watcher may mean lost events: reread to be sure.
            Err(_) => true,
        };
        if relevant {
            let _ = tx.send(());
        }
    })
    .map_err(|source| WatchError {
        dir: dir.clone(),
        source,
    })?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|source| WatchError {
            dir: dir.clone(),
            source,
        })?;
    Ok(tokio::spawn(async move {
        let _watcher = watcher; // dropped (and unwatched) when the task ends
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                event = rx.recv() => if event.is_none() { break },
            }
            let deadline = tokio::time::Instant::now() + MAX_DELAY;
            loop {
                let quiet = tokio::time::sleep(DEBOUNCE);
                tokio::select! {
                    _ = quiet => break,
                    _ = tokio::time::sleep_until(deadline) => break,
                    more = rx.recv() => if more.is_none() { break },
                }
            }
            store.reload().await;
        }
    }))
}
