//! Notifications to one downstream session, queued and sent by a task of its own.
//!
//! Sending to a session waits until its transport took the message; a client that does not
//! read its stream makes that wait until a timeout. Fan-outs (list_changed after a reload,
//! the child's logging and list changes) must not wait on such a client: they post to each
//! session's [`Outbox`] and return at once. The outbox is bounded, so a stuck session holds
//! at most [`OUTBOX_CAPACITY`] notifications; what does not fit is dropped and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
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
///
/// Most sessions are never sent a notification, so the queue and its task are made by the
/// first [`post`](Self::post), and queued notifications are boxed: a queue's first block
/// holds [`OUTBOX_CAPACITY`] entries whatever is sent, and unboxed that was ~10 KiB per open
/// session (BENCHMARKS.md, run J).
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    peer: Peer<RoleServer>,
    queue: OnceLock<mpsc::Sender<Box<ServerNotification>>>,
    dropped: Arc<AtomicU64>,
}

impl Outbox {
    pub fn new(peer: Peer<RoleServer>) -> Self {
        Self {
            inner: Arc::new(Inner {
                peer,
                queue: OnceLock::new(),
                dropped: Arc::new(AtomicU64::new(0)),
            }),
        }
    }

    /// Queues `notification`; never waits. Returns false when it was dropped (the session
    /// is not reading, or gone). The first call starts the sending task: needs a tokio
    /// runtime.
    pub fn post(&self, notification: ServerNotification) -> bool {
        let queue = self.inner.queue.get_or_init(|| self.inner.start_sending());
        match queue.try_send(Box::new(notification)) {
            Ok(()) => true,
            Err(_) => {
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Notifications this session did not get: its queue was full, or one timed out.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// The queue, and the task that sends what it holds to the session in order. The task
    /// holds no reference back to the outbox, so dropping the last clone ends it.
    fn start_sending(&self) -> mpsc::Sender<Box<ServerNotification>> {
        let (queue, mut pending) = mpsc::channel::<Box<ServerNotification>>(OUTBOX_CAPACITY);
        let peer = self.peer.clone();
        let dropped = Arc::clone(&self.dropped);
        tokio::spawn(async move {
            while let Some(notification) = pending.recv().await {
                match tokio::time::timeout(
                    DOWNSTREAM_SEND_TIMEOUT,
                    peer.send_notification(*notification),
                )
                .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break, // the session is gone
                    Err(_) => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        queue
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

#[cfg(test)]
mod tests {
    use rmcp::model::ToolListChangedNotification;

    use super::*;
    use crate::routing::test_peers::stuck;

    fn list_changed() -> ServerNotification {
        ServerNotification::ToolListChangedNotification(ToolListChangedNotification::default())
    }

    #[tokio::test]
    async fn a_session_never_sent_a_notification_has_no_queue() {
        let outbox = Outbox::new(stuck("quiet").await);
        let copy = outbox.clone();
        assert!(copy.inner.queue.get().is_none());
        assert!(outbox.post(list_changed()));
        assert!(copy.inner.queue.get().is_some(), "clones share one queue");
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_that_does_not_read_has_what_exceeds_its_queue_dropped_and_counted() {
        let outbox = Outbox::new(stuck("stuck").await);
        let sent = (0..OUTBOX_CAPACITY + 10)
            .filter(|_| outbox.post(list_changed()))
            .count();
        // The task takes at most one out to send (it waits on the full pipe); the rest queue.
        assert!(sent <= OUTBOX_CAPACITY + 1, "{sent} queued");
        assert_eq!(outbox.dropped(), (OUTBOX_CAPACITY + 10 - sent) as u64);
    }
}
