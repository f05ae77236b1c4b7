//! The set of configured servers: one [`ServerSlot`] and one [`Supervisor`] per entry.
//!
//! [`Hub::apply`] turns a parsed `servers.json` into running servers, touching only what
//! changed: new entries start, removed ones stop, a change to launch fields restarts, a change
//! to proxy-only fields (filter, timeouts) applies live and tells connected clients.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rmcp::model::{ServerNotification, ToolListChangedNotification};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::config::ServersFile;
use crate::events::{Event, EventBus};
use crate::logs::ServerLog;
use crate::proxy::send_all;
use crate::slot::ServerSlot;
use crate::supervisor::{Control, Launcher, Supervisor};

/// What [`Hub::apply`] did, for logs and events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplySummary {
    pub started: Vec<String>,
    pub stopped: Vec<String>,
    pub restarted: Vec<String>,
    pub updated_live: Vec<String>,
}

struct Managed {
    supervisor: Supervisor,
    /// Cancelled when the entry is removed, closing its client sessions.
    retired: CancellationToken,
}

/// See the module documentation. Cheap to share (`Arc`).
pub struct Hub {
    /// Read on every request; written only by `apply` and `shutdown`.
    slots: RwLock<BTreeMap<String, (Arc<ServerSlot>, CancellationToken)>>,
    /// Serialises `apply`, `restart` and `shutdown`.
    managed: Mutex<HashMap<String, Managed>>,
    events: EventBus,
    log_dir: Option<PathBuf>,
    /// Cancelled by `shutdown`; parent of every entry's retirement token, so client sessions
    /// of every endpoint close when Switchboard stops.
    stopping: CancellationToken,
    launcher: Arc<Launcher>,
    /// Supervisors of removed entries, still stopping their children.
    retiring: std::sync::Mutex<tokio::task::JoinSet<()>>,
}

impl Hub {
    /// `log_dir`: where per-server stderr logs are written (`None`: memory only).
    /// `launcher`: handed to every supervisor (see [`Launcher`]).
    pub fn new(events: EventBus, log_dir: Option<PathBuf>, launcher: Arc<Launcher>) -> Arc<Self> {
        Arc::new(Self {
            slots: RwLock::new(BTreeMap::new()),
            managed: Mutex::new(HashMap::new()),
            events,
            log_dir,
            stopping: CancellationToken::new(),
            launcher,
            retiring: std::sync::Mutex::new(tokio::task::JoinSet::new()),
        })
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// A token cancelled when Switchboard stops (for sessions not tied to one server).
    pub fn stopping(&self) -> CancellationToken {
        self.stopping.child_token()
    }

    /// The slot of server `name`, if configured.
    pub fn slot(&self, name: &str) -> Option<Arc<ServerSlot>> {
        self.read_slots()
            .get(name)
            .map(|(slot, _)| Arc::clone(slot))
    }

    /// The slot and the token cancelled when it is removed.
    pub fn slot_with_retirement(&self, name: &str) -> Option<(Arc<ServerSlot>, CancellationToken)> {
        self.read_slots()
            .get(name)
            .map(|(slot, retired)| (Arc::clone(slot), retired.clone()))
    }

    /// Every configured server, by name.
    pub fn slots(&self) -> Vec<Arc<ServerSlot>> {
        self.read_slots()
            .values()
            .map(|(s, _)| Arc::clone(s))
            .collect()
    }

    fn read_slots(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, (Arc<ServerSlot>, CancellationToken)>>
    {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_slots(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, (Arc<ServerSlot>, CancellationToken)>>
    {
        self.slots.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the running set match `file`. See the module documentation.
    pub async fn apply(&self, file: &ServersFile) -> ApplySummary {
        let mut managed = self.managed.lock().await;
        let mut summary = ApplySummary::default();

        let removed: Vec<String> = managed
            .keys()
            .filter(|name| !file.mcp_servers.contains_key(*name))
            .cloned()
            .collect();
        for name in removed {
            self.write_slots().remove(&name);
            if let Some(m) = managed.remove(&name) {
                m.retired.cancel();
                // A child may take seconds to stop (stdin close, then TERM, then KILL); the
                // rest of the file must not wait for it. `shutdown` waits for these.
                self.lock_retiring().spawn(m.supervisor.stop());
            }
            summary.stopped.push(name);
        }

        for (name, spec) in &file.mcp_servers {
            match self.slot(name) {
                None => {
                    let log = Arc::new(ServerLog::new(
                        self.log_dir.as_ref().map(|d| d.join(format!("{name}.log"))),
                    ));
                    let slot = ServerSlot::new(name.clone(), spec.clone(), log);
                    let retired = self.stopping.child_token();
                    self.write_slots()
                        .insert(name.clone(), (Arc::clone(&slot), retired.clone()));
                    let supervisor =
                        Supervisor::start(slot, self.events.clone(), Arc::clone(&self.launcher));
                    managed.insert(
                        name.clone(),
                        Managed {
                            supervisor,
                            retired,
                        },
                    );
                    summary.started.push(name.clone());
                }
                Some(slot) => {
                    let old = slot.settings();
                    if old.spec == *spec {
                        continue;
                    }
                    let relaunch = old.spec.launch() != spec.launch();
                    let tools_changed = old.spec.tools != spec.tools;
                    slot.set_spec(spec.clone());
                    if relaunch {
                        if let Some(m) = managed.get(name) {
                            m.supervisor.send(Control::Restart);
                        }
                        summary.restarted.push(name.clone());
                    } else {
                        if tools_changed {
                            notify_tools_changed(&slot).await;
                            self.events
                                .publish(Event::ToolsChanged { name: name.clone() });
                        }
                        summary.updated_live.push(name.clone());
                    }
                }
            }
        }
        if !summary.started.is_empty() || !summary.stopped.is_empty() {
            self.events.publish(Event::ServersChanged);
        }
        summary
    }

    fn lock_retiring(&self) -> std::sync::MutexGuard<'_, tokio::task::JoinSet<()>> {
        self.retiring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Restarts server `name` now. Returns false when there is no such server.
    pub async fn restart(&self, name: &str) -> bool {
        let managed = self.managed.lock().await;
        match managed.get(name) {
            Some(m) => {
                m.supervisor.send(Control::Restart);
                true
            }
            None => false,
        }
    }

    /// Stops every server (process groups killed) and waits for them.
    pub async fn shutdown(&self) {
        self.stopping.cancel();
        let mut managed = self.managed.lock().await;
        let all: Vec<Managed> = managed.drain().map(|(_, m)| m).collect();
        let stops = all.into_iter().map(|m| {
            m.retired.cancel();
            m.supervisor.stop()
        });
        futures::future::join_all(stops).await;
        let retiring = std::mem::take(&mut *self.lock_retiring());
        retiring.join_all().await;
    }
}

/// Tells the sessions of `slot`'s own endpoint that its tool list changed (aggregate
/// sessions learn it from the `ToolsChanged` event).
pub async fn notify_tools_changed(slot: &ServerSlot) {
    let notification =
        ServerNotification::ToolListChangedNotification(ToolListChangedNotification::default());
    send_all(slot.sessions().direct_peers(), notification).await;
}
