//! The shared state of one configured server.
//!
//! A [`ServerSlot`] is what the supervisor (the only writer of status and upstream), the
//! proxies (readers, on the request path) and the API (readers) share; only the supervisor
//! holds its [`SlotWriter`]. Every field is either a
//! `watch` channel or a lock held only for a clone, so nothing on the request path waits on
//! anything but the child itself.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rmcp::model::{Prompt, Resource, ResourceTemplate, ServerPeerInfo, Tool};
use rmcp::service::Peer;
use rmcp::RoleClient;
use serde::Serialize;
use tokio::sync::watch;

use crate::config::ServerSpec;
use crate::filter::ToolFilter;
use crate::lane::RawLane;
use crate::logs::ServerLog;
use crate::routing::SessionRegistry;

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerState {
    /// Spawned, `initialize` not answered yet.
    Starting,
    /// Initialised and answering.
    Running,
    /// It was running and died (or stopped answering); waiting out the backoff.
    Restarting,
    /// The last start failed (spawn error, bad config, no `initialize` answer); retried with
    /// backoff.
    Failed,
    /// Stopped on purpose (shutdown, removal).
    Stopped,
    /// `"disabled": true` in servers.json.
    Disabled,
    /// A remote server refused us (401, or 403 `insufficient_scope`) until someone signs in
    /// (`switchboard auth NAME`, the dashboard's or the tray's Sign in); not retried before.
    NeedsAuth,
}

impl ServerState {
    /// States that will change without anyone asking: a caller may wait for them to settle.
    pub fn is_transient(self) -> bool {
        matches!(self, ServerState::Starting | ServerState::Restarting)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Starting => "starting",
            ServerState::Running => "running",
            ServerState::Restarting => "restarting",
            ServerState::Failed => "failed",
            ServerState::Stopped => "stopped",
            ServerState::Disabled => "disabled",
            ServerState::NeedsAuth => "needs-auth",
        }
    }
}

/// What the supervisor reports about a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStatus {
    pub state: ServerState,
    pub pid: Option<u32>,
    /// When the current child reached `running`.
    pub running_since: Option<SystemTime>,
    /// Restarts after a crash, failed start or health failure since Switchboard started it.
    pub restarts: u32,
    pub last_error: Option<String>,
    /// When the next start attempt is due, while `restarting` or `failed`.
    pub next_attempt: Option<SystemTime>,
    /// The backoff delay of the current (or last) wait before a start attempt.
    pub retry_delay: Option<Duration>,
    /// Failed starts and crashes in a row since the server last reached `running` (0 while
    /// it runs): the attempt the next start is.
    pub failures_in_row: u32,
    /// How the current (or last) attempt reaches the server: `stdio`, `streamable-http` or
    /// `sse`.
    pub transport: Option<&'static str>,
}

impl ServerStatus {
    pub fn new(state: ServerState) -> Self {
        Self {
            state,
            pid: None,
            running_since: None,
            restarts: 0,
            last_error: None,
            next_attempt: None,
            retry_delay: None,
            failures_in_row: 0,
            transport: None,
        }
    }

    pub fn uptime(&self) -> Option<Duration> {
        self.running_since
            .and_then(|t| SystemTime::now().duration_since(t).ok())
    }
}

/// A live connection to the child: the rmcp peer (cheap to clone, safe to use concurrently)
/// and what the child said about itself (`server/discover` or `initialize`).
#[derive(Clone)]
pub struct Upstream {
    pub peer: Peer<RoleClient>,
    pub info: Arc<ServerPeerInfo>,
    /// The same connection's lane for requests forwarded as bytes (a child's stdio has one).
    pub lane: Option<Arc<RawLane>>,
}

impl Upstream {
    /// Whether the server speaks a stateless era (2026-07-28 on: agreed by `server/discover`,
    /// no ping, no `logging/setLevel` or `resources/subscribe`, questions mid-call answered as
    /// `input_required`).
    pub fn is_stateless(&self) -> bool {
        !self.info.protocol_version.has_initialize()
    }
}

/// What the child offers, as last fetched (unfiltered). Kept current by the supervisor, so
/// listings (the API, the aggregate endpoint) never wait on a child.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub tools: Arc<Vec<Tool>>,
    pub prompts: Arc<Vec<Prompt>>,
    pub resources: Arc<Vec<Resource>>,
    pub templates: Arc<Vec<ResourceTemplate>>,
}

/// The part of the config entry that the proxy applies live.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    pub spec: ServerSpec,
    pub filter: ToolFilter,
}

/// What the supervisor publishes, in one value so that no reader can see one without the
/// other: the status, and the connection, which exists exactly while the state is `running`.
#[derive(Clone)]
struct Published {
    status: ServerStatus,
    upstream: Option<Upstream>,
}

/// Lines a server wrote to stdout that were not JSON-RPC (skipped, never fatal), since
/// Switchboard started it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrayStdout {
    pub count: u64,
    /// The last one (cut to a quote's length).
    pub last_line: Option<String>,
    pub last_at: Option<SystemTime>,
}

/// See the module documentation.
pub struct ServerSlot {
    name: String,
    settings: RwLock<Arc<LiveSettings>>,
    published: watch::Sender<Published>,
    stray: std::sync::Mutex<StrayStdout>,
    catalog: RwLock<Catalog>,
    sessions: Arc<SessionRegistry>,
    log: Arc<ServerLog>,
}

impl ServerSlot {
    /// A slot, and its writing end for the supervisor.
    pub fn new(name: String, spec: ServerSpec, log: Arc<ServerLog>) -> (Arc<Self>, SlotWriter) {
        let initial = if spec.disabled {
            ServerState::Disabled
        } else {
            ServerState::Starting
        };
        let filter = ToolFilter::new(&spec.tools);
        let slot = Arc::new(Self {
            name,
            settings: RwLock::new(Arc::new(LiveSettings { spec, filter })),
            published: watch::channel(Published {
                status: ServerStatus::new(initial),
                upstream: None,
            })
            .0,
            stray: std::sync::Mutex::new(StrayStdout::default()),
            catalog: RwLock::new(Catalog::default()),
            sessions: SessionRegistry::new(),
            log,
        });
        (Arc::clone(&slot), SlotWriter(slot))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn settings(&self) -> Arc<LiveSettings> {
        Arc::clone(&self.settings.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces the live settings (filter, timeouts). Launch fields take effect at the next
    /// spawn; the caller restarts the child when they changed.
    pub fn set_spec(&self, spec: ServerSpec) {
        let filter = ToolFilter::new(&spec.tools);
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(LiveSettings { spec, filter });
    }

    pub fn status(&self) -> ServerStatus {
        self.published.borrow().status.clone()
    }

    /// The child's connection: there is one exactly while the server is `running` (up,
    /// initialised and its catalog fetched).
    pub fn upstream(&self) -> Option<Upstream> {
        self.published.borrow().upstream.clone()
    }

    /// The connection, or the status that says why there is none, read together.
    pub fn connection(&self) -> Result<Upstream, ServerStatus> {
        let published = self.published.borrow();
        published
            .upstream
            .clone()
            .ok_or_else(|| published.status.clone())
    }

    /// Waits, at most `limit`, until the state is no longer transient (`starting`,
    /// `restarting`).
    pub async fn settled(&self, limit: Duration) {
        let mut published = self.published.subscribe();
        let _ = tokio::time::timeout(
            limit,
            published.wait_for(|p| !p.status.state.is_transient()),
        )
        .await;
    }

    pub fn stray_stdout(&self) -> StrayStdout {
        self.stray.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The child's full tool list as last fetched (unfiltered).
    pub fn tools(&self) -> Arc<Vec<Tool>> {
        self.catalog().tools
    }

    pub fn catalog(&self) -> Catalog {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn sessions(&self) -> &Arc<SessionRegistry> {
        &self.sessions
    }

    pub fn log(&self) -> &Arc<ServerLog> {
        &self.log
    }
}

/// The writing end of a slot: its status, connection, catalog and stray-stdout count. It is
/// made with the slot and handed to the slot's supervisor, so the compiler keeps everyone
/// else (proxies, API, tray, who hold `Arc<ServerSlot>`) to reading. Reads go through
/// `Deref`.
#[derive(Clone)]
pub struct SlotWriter(Arc<ServerSlot>);

impl std::ops::Deref for SlotWriter {
    type Target = ServerSlot;

    fn deref(&self) -> &ServerSlot {
        &self.0
    }
}

impl SlotWriter {
    /// The server is up, initialised and its catalog fetched (`pid`: its process, if ours).
    pub fn set_running(&self, upstream: Upstream, pid: Option<u32>) {
        self.0.published.send_modify(|p| {
            let s = &mut p.status;
            s.state = ServerState::Running;
            s.pid = pid;
            s.running_since = Some(SystemTime::now());
            s.last_error = None;
            s.next_attempt = None;
            s.failures_in_row = 0;
            p.upstream = Some(upstream);
        });
    }

    /// Changes the status in place. Any state but `running` (which only
    /// [`set_running`](Self::set_running) enters) drops the connection in the same step.
    pub fn update_status(&self, f: impl FnOnce(&mut ServerStatus)) {
        self.0.published.send_modify(|p| {
            f(&mut p.status);
            if p.status.state != ServerState::Running {
                p.upstream = None;
            }
        });
    }

    /// One more line the child wrote to stdout that was not JSON-RPC.
    pub fn record_stray_stdout(&self, line: String) {
        let mut stray = self.0.stray.lock().unwrap_or_else(|p| p.into_inner());
        stray.count += 1;
        stray.last_line = Some(line);
        stray.last_at = Some(SystemTime::now());
    }

    /// Changes the catalog in place.
    pub fn update_catalog(&self, f: impl FnOnce(&mut Catalog)) {
        f(&mut self.0.catalog.write().unwrap_or_else(|p| p.into_inner()));
    }
}
