//! Notifications to one downstream session, queued and sent by a task of its own.
//!
//! Sending to a session waits until its transport took the message; a client that does not
//! read its stream makes that wait until a timeout. Fan-outs (list_changed after a reload,
//! the child's logging and list changes) must not wait on such a client: they post to each
//! session's [`Outbox`] and return at once. The outbox is bounded, so a stuck session holds
//! at most [`OUTBOX_CAPACITY`] notifications; what does not fit is dropped and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::ServerNotification;
use rmcp::service::Peer;
use rmcp::RoleServer;
use tokio::sync::mpsc;

/// Notifications queued per session before new ones are dropped.
pub const OUTBOX_CAPACITY: usize = 32;
/// How long one notification may wait for a session that does not read. Past it the
/// notification is dropped for that session and the next one is tried.
pub const DOWNSTREAM_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// See the module documentation. Cheap to clone; the sending task ends when the last clone
/// is dropped (the session unregistered) or the session is gone.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::Sender<ServerNotification>,
    dropped: Arc<AtomicU64>,
}

impl Outbox {
    /// Starts the sending task for `peer`. Needs a tokio runtime.
    pub fn new(peer: Peer<RoleServer>) -> Self {
        let (queue, mut pending) = mpsc::channel::<ServerNotification>(OUTBOX_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let dropped_by_task = Arc::clone(&dropped);
        tokio::spawn(async move {
            while let Some(notification) = pending.recv().await {
                match tokio::time::timeout(
                    DOWNSTREAM_SEND_TIMEOUT,
                    peer.send_notification(notification),
                )
                .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break, // the session is gone
                    Err(_) => {
                        dropped_by_task.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        Self { queue, dropped }
    }

    /// Queues `notification`; never waits. Returns false when it was dropped (the session
    /// is not reading, or gone).
    pub fn post(&self, notification: ServerNotification) -> bool {
        match self.queue.try_send(notification) {
            Ok(()) => true,
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Notifications this session did not get: its queue was full, or one timed out.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Posts `notification` to every outbox; returns at once.
pub fn post_all(outboxes: Vec<Outbox>, notification: ServerNotification) {
    for outbox in outboxes {
        if !outbox.post(notification.clone()) {
            tracing::debug!(
                dropped = outbox.dropped(),
                "a client session is not reading its stream; notification dropped"
            );
        }
    }
}
