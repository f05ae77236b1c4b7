//! The shared state of one configured server.
//!
//! A [`ServerSlot`] is what the supervisor (the only writer of status and upstream), the
//! proxies (readers, on the request path) and the API (readers) share; only the supervisor
//! holds its [`SlotWriter`]. Every field is either a
//! `watch` channel or a lock held only for a clone, so nothing on the request path waits on
//! anything but the child itself.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rmcp::model::{Prompt, Resource, ResourceTemplate, ServerPeerInfo, Tool};
use rmcp::service::Peer;
use rmcp::RoleClient;
use serde::Serialize;
use tokio::sync::{watch, Notify};

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
    /// An on-demand server with no process: its catalog is known (listed from it), and the
    /// first request that needs the process starts it.
    Idle,
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
            ServerState::Idle => "idle",
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
    /// Start attempts begun (each `starting`): a request waiting for an on-demand start tells
    /// by it that the start it asked for has ended.
    pub attempts: u64,
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
            attempts: 0,
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
    /// What the server said of itself when the catalog was fetched: how an on-demand server
    /// that sleeps is described to a client (capabilities, name, instructions, era).
    pub info: Option<Arc<ServerPeerInfo>>,
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

/// Who needs the server's process: requests holding it, requests waiting for an on-demand
/// start, and when it was last used. What an on-demand server's start and idle stop read;
/// kept up on every request, so atomics only.
#[derive(Default)]
struct Usage {
    /// [`Lease`]s held.
    active: AtomicUsize,
    /// When the last lease was let go (or the server last reached `running`), in ms since the
    /// Unix epoch.
    last_used_ms: AtomicU64,
    /// Requests in [`ServerSlot::ready`] waiting for a start.
    waiting: AtomicUsize,
    /// Starts asked for by requests, counted; `answered` is the count when a start last
    /// ended (running or failed): every request that asked before then has its answer.
    asks: AtomicU64,
    answered: AtomicU64,
    /// Wakes a sleeping on-demand server's supervisor.
    demand: Notify,
}

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A request's hold on the server's process, from before it reads the connection until it
/// is answered: while one is held, an on-demand server is not stopped for being idle (see
/// [`SlotWriter::sleep_unless_used`] for why it is taken first).
pub struct Lease(Arc<Usage>);

impl Lease {
    fn take(usage: &Arc<Usage>) -> Self {
        usage.active.fetch_add(1, SeqCst);
        Self(Arc::clone(usage))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0
            .last_used_ms
            .store(epoch_ms(SystemTime::now()), SeqCst);
        self.0.active.fetch_sub(1, SeqCst);
    }
}

/// Counts a request in [`ServerSlot::ready`] among those waiting for a start.
struct Waiting<'a>(&'a Usage);

impl<'a> Waiting<'a> {
    fn new(usage: &'a Usage) -> Self {
        usage.waiting.fetch_add(1, SeqCst);
        Self(usage)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, SeqCst);
    }
}

/// See the module documentation.
pub struct ServerSlot {
    name: String,
    usage: Arc<Usage>,
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
            usage: Arc::default(),
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

    /// The connection and a [`Lease`] on it, at once, if the server runs.
    pub fn lease(&self) -> Option<(Upstream, Lease)> {
        // The lease first: see `SlotWriter::sleep_unless_used`.
        let lease = Lease::take(&self.usage);
        Some((self.upstream()?, lease))
    }

    /// The connection for a request that needs the server's process, with a [`Lease`] on it.
    /// At once if the server runs. An on-demand server that sleeps (or whose last start on
    /// demand failed) is started — one start for every request waiting at the time — and
    /// waited for within its startup timeout; a start that fails is answered with the status
    /// that says why. Any other server that does not run is answered at once.
    pub async fn ready(&self) -> Result<(Upstream, Lease), ServerStatus> {
        let lease = Lease::take(&self.usage);
        let mut published = self.published.subscribe();
        let (state, seen) = {
            let now = published.borrow_and_update();
            if let Some(upstream) = &now.upstream {
                return Ok((upstream.clone(), lease));
            }
            (now.status.state, now.status.attempts)
        };
        let spec = &self.settings().spec;
        let wakes = matches!(
            state,
            ServerState::Idle
                | ServerState::Failed
                | ServerState::Starting
                | ServerState::Restarting
        );
        if !spec.on_demand() || !wakes {
            return Err(self.status());
        }
        let _waiting = Waiting::new(&self.usage);
        // A start under way is this request's too (it holds a lease, so even a start that
        // only learns the catalog keeps the server up for it). Otherwise it asks for one; a
        // failed start before this request is not its answer, the one it asks for is.
        let ended = if state == ServerState::Starting {
            seen
        } else {
            self.usage.asks.fetch_add(1, SeqCst);
            self.usage.demand.notify_one();
            seen + 1
        };
        let startup = spec.timeouts.startup();
        let settled = published.wait_for(|p| {
            p.upstream.is_some()
                || (p.status.attempts >= ended
                    && !p.status.state.is_transient()
                    && p.status.state != ServerState::Idle)
        });
        let outcome = match tokio::time::timeout(startup, settled).await {
            Ok(Ok(now)) => Some(now.upstream.clone().ok_or_else(|| now.status.clone())),
            Ok(Err(_)) => Some(Err(self.status())),
            Err(_) => None,
        };
        match outcome {
            Some(Ok(upstream)) => Ok((upstream, lease)),
            Some(Err(status)) => Err(status),
            None => {
                let mut status = self.status();
                status.last_error = Some(format!(
                    "it did not start within {}s (timeouts.startupSecs)",
                    startup.as_secs()
                ));
                Err(status)
            }
        }
    }

    /// Whether the server's era is stateless: the running connection's, else (an on-demand
    /// server asleep) the one it had when its catalog was learned.
    pub fn is_stateless(&self) -> bool {
        self.peer_info()
            .is_some_and(|info| !info.protocol_version.has_initialize())
    }

    /// Whether the server is listed from its catalog though no process answers: an
    /// on-demand server asleep (or starting, or whose last start on demand failed: the next
    /// request tries again) whose catalog is known.
    pub fn serves_from_catalog(&self) -> bool {
        let state = self.status().state;
        self.settings().spec.on_demand()
            && matches!(
                state,
                ServerState::Idle
                    | ServerState::Failed
                    | ServerState::Starting
                    | ServerState::Restarting
            )
            && self
                .catalog
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .info
                .is_some()
    }

    /// What the server said of itself: the running connection's, else (see
    /// [`serves_from_catalog`](Self::serves_from_catalog)) the stored one.
    pub fn peer_info(&self) -> Option<Arc<ServerPeerInfo>> {
        match self.upstream() {
            Some(upstream) => Some(upstream.info),
            None if self.serves_from_catalog() => self.catalog().info,
            None => None,
        }
    }

    /// Whether something needs the process beyond requests in flight: a session's
    /// subscription, a call parked or in flight in the registry.
    pub fn in_use(&self) -> bool {
        self.usage.active.load(SeqCst) > 0 || self.sessions.holds_server()
    }

    /// When a running on-demand server will be stopped if nothing uses it meanwhile; `None`
    /// while something does, and for other servers.
    pub fn sleeps_at(&self) -> Option<SystemTime> {
        let settings = self.settings();
        if !settings.spec.on_demand() || self.status().state != ServerState::Running {
            return None;
        }
        if self.in_use() {
            return None;
        }
        let last = self.usage.last_used_ms.load(SeqCst);
        Some(SystemTime::UNIX_EPOCH + Duration::from_millis(last) + settings.spec.idle_stop())
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
        self.answer_demands();
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
        self.mark_used();
    }

    /// A start ends (running, or failed): the requests that asked for one until now have
    /// their answer, and a wake they left is not a reason to start again. Called before the
    /// outcome is published: a request that sees it and asks again is a new ask.
    pub fn answer_demands(&self) {
        let asks = self.0.usage.asks.load(SeqCst);
        self.0.usage.answered.store(asks, SeqCst);
    }

    /// Counts from now for the idle stop.
    fn mark_used(&self) {
        let now = epoch_ms(SystemTime::now());
        self.0.usage.last_used_ms.store(now, SeqCst);
    }

    /// How long since the server was last used (see [`ServerSlot::sleeps_at`]).
    pub fn unused_for(&self) -> Duration {
        let last = self.0.usage.last_used_ms.load(SeqCst);
        let now = epoch_ms(SystemTime::now());
        Duration::from_millis(now.saturating_sub(last))
    }

    /// Takes a running server out of `running` for an idle stop, unless a request holds it.
    /// The state becomes `idle` first, so a request from then on waits for a new start; a
    /// request that read the connection before took its [`Lease`] before that read, so it is
    /// seen here, and then the connection is put back and false returned.
    pub fn sleep_unless_used(&self) -> bool {
        let mut kept = None;
        self.0.published.send_modify(|p| {
            p.status.state = ServerState::Idle;
            kept = p.upstream.take();
        });
        if !self.in_use() {
            self.0.published.send_modify(|p| {
                p.status.pid = None;
                p.status.running_since = None;
            });
            return true;
        }
        self.0.published.send_modify(|p| {
            p.status.state = ServerState::Running;
            p.upstream = kept;
        });
        false
    }

    /// Counts a start attempt (see [`ServerStatus::attempts`]).
    pub fn begin_attempt(&self) {
        self.0.published.send_modify(|p| p.status.attempts += 1);
    }

    /// Waits until a request needs the process ([`ServerSlot::ready`]): one asked for a start
    /// since the last one ended, and still waits. Many asks wake it once; an ask already
    /// answered, or whose request gave up, is passed over.
    pub async fn demanded(&self) {
        let usage = &self.0.usage;
        loop {
            let wake = usage.demand.notified();
            if usage.asks.load(SeqCst) > usage.answered.load(SeqCst)
                && usage.waiting.load(SeqCst) > 0
            {
                return;
            }
            wake.await;
        }
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
