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
use crate::logs::{LogFiles, ServerLog};
use crate::routing::post_all;
use crate::slot::ServerSlot;
use crate::supervisor::{Launcher, ServerSupervisors, Supervised, Supervisors};

/// What [`Hub::apply`] did, for logs and events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplySummary {
    pub started: Vec<String>,
    pub stopped: Vec<String>,
    pub restarted: Vec<String>,
    pub updated_live: Vec<String>,
}

struct Managed {
    supervisor: Box<dyn Supervised>,
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
    /// Writes the per-server log files (when there is a `log_dir`).
    log_files: Option<LogFiles>,
    /// Cancelled by `shutdown`; parent of every entry's retirement token, so client sessions
    /// of every endpoint close when Switchboard stops.
    stopping: CancellationToken,
    supervisors: Arc<dyn Supervisors>,
    /// Supervisors of removed entries, still stopping their children.
    retiring: std::sync::Mutex<tokio::task::JoinSet<()>>,
}

impl Hub {
    /// `log_dir`: where per-server stderr logs are written (`None`: memory only).
    /// `launcher`: handed to every supervisor (see [`Launcher`]).
    pub fn new(events: EventBus, log_dir: Option<PathBuf>, launcher: Arc<Launcher>) -> Arc<Self> {
        let supervisors = Arc::new(ServerSupervisors {
            events: events.clone(),
            launcher,
        });
        Self::with_supervisors(events, log_dir, supervisors)
    }

    /// A hub whose servers are run by `supervisors`.
    pub(crate) fn with_supervisors(
        events: EventBus,
        log_dir: Option<PathBuf>,
        supervisors: Arc<dyn Supervisors>,
    ) -> Arc<Self> {
        let log_files = log_dir.as_ref().and_then(|dir| match LogFiles::start() {
            Ok(files) => Some(files),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot start the thread that writes server log files; server logs are kept in memory only");
                None
            }
        });
        Arc::new(Self {
            slots: RwLock::new(BTreeMap::new()),
            log_files,
            managed: Mutex::new(HashMap::new()),
            events,
            log_dir,
            stopping: CancellationToken::new(),
            supervisors,
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
                    let file = self.log_dir.as_ref().zip(self.log_files.as_ref());
                    let log =
                        Arc::new(ServerLog::new(file.map(|(dir, files)| {
                            (dir.join(format!("{name}.log")), files.clone())
                        })));
                    let (slot, writer) = ServerSlot::new(name.clone(), spec.clone(), log);
                    let retired = self.stopping.child_token();
                    self.write_slots()
                        .insert(name.clone(), (Arc::clone(&slot), retired.clone()));
                    let supervisor = self.supervisors.start(writer);
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
                    let start_changed = old.spec.start != spec.start;
                    slot.set_spec(spec.clone());
                    if relaunch {
                        if let Some(m) = managed.get(name) {
                            m.supervisor.restart();
                        }
                        summary.restarted.push(name.clone());
                    } else {
                        if tools_changed {
                            notify_tools_changed(&slot);
                            self.events
                                .publish(Event::ToolsChanged { name: name.clone() });
                        }
                        if start_changed {
                            if let Some(m) = managed.get(name) {
                                m.supervisor.reconsider();
                            }
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
                m.supervisor.restart();
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
        // The log files are written by a thread of their own; let it catch up.
        if let Some(files) = &self.log_files {
            files.flush().await;
        }
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
    use crate::routing::test_peers;
    use crate::slot::SlotWriter;
    use futures::future::BoxFuture;

    /// What the hub asked of its supervisors, in order ("start a", "restart a", "stop a").
    #[derive(Clone, Default)]
    struct Journal(Arc<std::sync::Mutex<Vec<String>>>);

    impl Journal {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
        fn note(&self, what: String) {
            self.0.lock().unwrap().push(what);
        }
    }

    /// Supervisors that run nothing and write down what they are asked.
    struct Recording(Journal);

    struct Recorded {
        name: String,
        journal: Journal,
    }

    impl Supervisors for Recording {
        fn start(&self, slot: SlotWriter) -> Box<dyn Supervised> {
            self.0.note(format!("start {}", slot.name()));
            Box::new(Recorded {
                name: slot.name().to_owned(),
                journal: self.0.clone(),
            })
        }
    }

    impl Supervised for Recorded {
        fn restart(&self) {
            self.journal.note(format!("restart {}", self.name));
        }
        fn reconsider(&self) {
            self.journal.note(format!("reconsider {}", self.name));
        }
        fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
            self.journal.note(format!("stop {}", self.name));
            Box::pin(async {})
        }
    }

    fn hub() -> (Arc<Hub>, Journal) {
        let journal = Journal::default();
        let hub = Hub::with_supervisors(
            EventBus::default(),
            None,
            Arc::new(Recording(journal.clone())),
        );
        (hub, journal)
    }

    fn file(servers: serde_json::Value) -> ServersFile {
        let text = serde_json::json!({ "mcpServers": servers }).to_string();
        crate::config::parse(std::path::Path::new("servers.json"), &text).unwrap()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[tokio::test]
    async fn a_reload_starts_new_entries_stops_removed_ones_and_leaves_the_rest_alone() {
        let (hub, journal) = hub();
        let summary = hub
            .apply(&file(serde_json::json!({
                "a": { "command": "a" },
                "b": { "command": "b" },
            })))
            .await;
        assert_eq!(summary.started, ["a", "b"]);
        assert_eq!(journal.take(), ["start a", "start b"]);
        let a = hub.slot("a").unwrap();

        let summary = hub
            .apply(&file(serde_json::json!({
                "a": { "command": "a" },
                "c": { "command": "c" },
            })))
            .await;
        assert_eq!(
            summary,
            ApplySummary {
                started: strings(&["c"]),
                stopped: strings(&["b"]),
                ..Default::default()
            }
        );
        assert!(hub.slot("b").is_none());
        assert!(
            Arc::ptr_eq(&a, &hub.slot("a").unwrap()),
            "an unchanged entry keeps its slot"
        );
        hub.shutdown().await; // waits for b's stop, which was started in the background
        let mut seen = journal.take();
        seen.sort();
        assert_eq!(seen, ["start c", "stop a", "stop b", "stop c"]);
    }

    #[tokio::test]
    async fn a_change_to_how_a_server_is_launched_restarts_that_server_only() {
        let (hub, journal) = hub();
        let before = serde_json::json!({
            "a": { "command": "a", "args": ["1"] },
            "b": { "command": "b" },
        });
        hub.apply(&file(before)).await;
        journal.take();
        for (change, field) in [
            (serde_json::json!({ "command": "a", "args": ["2"] }), "args"),
            (
                serde_json::json!({ "command": "a", "args": ["2"], "env": { "K": "v" } }),
                "env",
            ),
            (
                serde_json::json!({ "command": "a", "args": ["2"], "env": { "K": "v" }, "disabled": true }),
                "disabled",
            ),
        ] {
            let summary = hub
                .apply(&file(
                    serde_json::json!({ "a": change, "b": { "command": "b" } }),
                ))
                .await;
            assert_eq!(summary.restarted, ["a"], "{field}");
            assert_eq!(journal.take(), ["restart a"], "{field}");
        }
        hub.shutdown().await;
    }

    #[tokio::test]
    async fn a_change_of_start_is_handed_to_the_supervisor_without_a_restart() {
        let (hub, journal) = hub();
        hub.apply(&file(serde_json::json!({ "a": { "command": "a" } })))
            .await;
        journal.take();
        for start in ["onDemand", "always"] {
            let summary = hub
                .apply(&file(
                    serde_json::json!({ "a": { "command": "a", "start": start } }),
                ))
                .await;
            assert_eq!(summary.updated_live, ["a"], "{start}");
            assert_eq!(journal.take(), ["reconsider a"], "{start}");
        }
        let summary = hub
            .apply(&file(serde_json::json!({
                "a": { "command": "a", "start": "always", "idleStopSecs": 60 },
            })))
            .await;
        assert_eq!(summary.updated_live, ["a"]);
        assert!(journal.take().is_empty(), "read at the next idle check");
        hub.shutdown().await;
    }

    #[tokio::test]
    async fn a_filter_or_timeout_change_applies_live_without_a_restart() {
        let (hub, journal) = hub();
        let mut events = hub.events().subscribe();
        hub.apply(&file(serde_json::json!({ "a": { "command": "a" } })))
            .await;
        journal.take();
        let summary = hub
            .apply(&file(serde_json::json!({
                "a": { "command": "a", "tools": { "deny": ["x"] } },
            })))
            .await;
        assert_eq!(summary.updated_live, ["a"]);
        assert!(journal.take().is_empty(), "no restart");
        let slot = hub.slot("a").unwrap();
        assert!(!slot.settings().filter.exposes("x"));
        let mut tools_changed = false;
        while let Ok(event) = events.try_recv() {
            tools_changed |= matches!(event, Event::ToolsChanged { ref name } if name == "a");
        }
        assert!(tools_changed, "the aggregate's sessions hear of it");

        let summary = hub
            .apply(&file(serde_json::json!({
                "a": { "command": "a", "tools": { "deny": ["x"] }, "timeouts": { "requestSecs": 5 } },
            })))
            .await;
        assert_eq!(summary.updated_live, ["a"]);
        assert!(journal.take().is_empty());
        assert_eq!(
            slot.settings().spec.timeouts.request(),
            std::time::Duration::from_secs(5)
        );
        let same = hub
            .apply(&file(serde_json::json!({
                "a": { "command": "a", "tools": { "deny": ["x"] }, "timeouts": { "requestSecs": 5 } },
            })))
            .await;
        assert_eq!(
            same,
            ApplySummary::default(),
            "the same file changes nothing"
        );
        hub.shutdown().await;
    }

    #[tokio::test]
    async fn an_entry_removed_and_added_again_is_a_new_server() {
        let (hub, journal) = hub();
        hub.apply(&file(serde_json::json!({ "a": { "command": "a" } })))
            .await;
        let first = hub.slot("a").unwrap();
        hub.apply(&file(serde_json::json!({}))).await;
        hub.apply(&file(serde_json::json!({ "a": { "command": "a" } })))
            .await;
        assert!(!Arc::ptr_eq(&first, &hub.slot("a").unwrap()));
        assert!(hub.restart("a").await);
        assert!(!hub.restart("nobody").await);
        hub.shutdown().await;
        let seen = journal.take();
        assert_eq!(
            &seen[..4],
            ["start a", "stop a", "start a", "restart a"],
            "{seen:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_that_do_not_read_never_delay_a_reload() {
        let (hub, _journal) = hub();
        let entry = |deny: &str| serde_json::json!({ "s": { "command": "sh", "tools": { "deny": [deny] } } });
        hub.apply(&file(entry("a"))).await;
        let slot = hub.slot("s").unwrap();
        for n in 0..20 {
            let peer = test_peers::stuck(&format!("stuck-{n}")).await;
            let id = slot.sessions().allocate();
            slot.sessions()
                .register(id, peer, Default::default(), false);
        }
        // Time is paused: it only moves when every task waits on a timer, so any wait for a
        // stuck session (the 5-s send timeout) would show here in full.
        let started = tokio::time::Instant::now();
        for edit in 0..10 {
            let summary = hub.apply(&file(entry(&format!("tool-{edit}")))).await;
            assert_eq!(summary.updated_live, ["s"], "edit {edit} applied live");
        }
        assert!(
            started.elapsed() < crate::routing::DOWNSTREAM_SEND_TIMEOUT,
            "ten reloads waited {:?} on clients that do not read",
            started.elapsed()
        );
        assert_eq!(slot.settings().spec.tools.deny, ["tool-9"]);
        hub.shutdown().await;
    }
}
