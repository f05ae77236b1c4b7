//! Events the core publishes: server state changes, tool list changes, config reloads.
//!
//! One `broadcast` channel, cloned into whoever publishes; the API's `/api/events`, the tray
//! and tests subscribe. A slow subscriber lags and skips, it never blocks a publisher.

use serde::Serialize;
use tokio::sync::broadcast;

use crate::slot::ServerState;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A server changed state (or pid, or error).
    #[serde(rename_all = "camelCase")]
    ServerState {
        name: String,
        state: ServerState,
        pid: Option<u32>,
        last_error: Option<String>,
        /// Whether its tools, prompts and resources are listed: it runs, or it is an
        /// on-demand server listed from its catalog while no process answers.
        listed: bool,
    },
    /// A server's tool list (or its filter) changed.
    ToolsChanged { name: String },
    /// A server's prompt list changed.
    PromptsChanged { name: String },
    /// A server's resource or resource template list changed.
    ResourcesChanged { name: String },
    /// A server entry was added to or removed from the running set.
    ServersChanged,
    /// A new version of servers.json was applied.
    ConfigReloaded,
    /// servers.json could not be applied; the previous version keeps running.
    ConfigError { message: String },
}

/// Cheap to clone; every clone publishes to the same subscribers.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl EventBus {
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
