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
use crate::proxy::post_all;
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
                            notify_tools_changed(&slot);
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
/// sessions learn it from the `ToolsChanged` event). Posted, never awaited: `apply` holds the
/// hub's lock, and a client that does not read its stream must not hold up a reload.
pub fn notify_tools_changed(slot: &ServerSlot) {
    let notification =
        ServerNotification::ToolListChangedNotification(ToolListChangedNotification::default());
    post_all(slot.sessions().direct(), notification);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::service::ServiceExt;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A server side that answers `initialize` and nothing else.
    struct Plain;
    impl rmcp::ServerHandler for Plain {}

    fn file(deny: &str) -> ServersFile {
        let text = format!(
            r#"{{"mcpServers":{{"s":{{"command":"sh","disabled":true,"tools":{{"deny":["{deny}"]}}}}}}}}"#
        );
        crate::config::parse(std::path::Path::new("servers.json"), &text).unwrap()
    }

    /// A real rmcp session whose client initialises, then never reads again: once the 64
    /// bytes of its pipe are full, every send to it waits.
    async fn stuck_session() -> rmcp::Peer<rmcp::RoleServer> {
        let (client, server) = tokio::io::duplex(64);
        let (server_read, server_write) = tokio::io::split(server);
        let serving = tokio::spawn(Plain.serve((server_read, server_write)));
        let (client_read, mut client_write) = tokio::io::split(client);
        client_write
            .write_all(
                br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"stuck","version":"1"}}}
"#,
            )
            .await
            .unwrap();
        let mut answer = String::new();
        let mut reader = BufReader::new(client_read);
        reader.read_line(&mut answer).await.unwrap();
        client_write
            .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
            .await
            .unwrap();
        let running = serving.await.unwrap().unwrap();
        let peer = running.peer().clone();
        // Kept alive, never read again.
        std::mem::forget((running, reader, client_write));
        peer
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_that_do_not_read_never_delay_a_reload() {
        let hub = Hub::new(EventBus::default(), None, Arc::new(Launcher::default()));
        hub.apply(&file("a")).await;
        let slot = hub.slot("s").unwrap();
        for _ in 0..20 {
            let peer = stuck_session().await;
            let id = slot.sessions().allocate();
            slot.sessions()
                .register(id, peer, Default::default(), false);
        }
        // Time is paused: it only moves when every task waits on a timer, so any wait for a
        // stuck session (the 5-s send timeout) would show here in full.
        let started = tokio::time::Instant::now();
        for edit in 0..10 {
            let summary = hub.apply(&file(&format!("tool-{edit}"))).await;
            assert_eq!(summary.updated_live, ["s"], "edit {edit} applied live");
        }
        assert!(
            started.elapsed() < crate::proxy::DOWNSTREAM_SEND_TIMEOUT,
            "ten reloads waited {:?} on clients that do not read",
            started.elapsed()
        );
        assert_eq!(
            slot.settings().spec.tools.deny,
            ["tool-9"],
            "the last edit is what runs"
        );
        hub.shutdown().await;
    }
}
