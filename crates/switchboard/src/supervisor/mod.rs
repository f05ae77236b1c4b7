//! One task per server: spawn the child, initialise it, watch it, restart it with backoff,
//! and kill its whole process group when asked to stop.
//!
//! The task is the only writer of its slot's status and upstream; everyone else reads them.
//! It is driven by [`Control`] messages and a cancellation token (stop), and by the child.

mod backoff;
mod child;
mod connector;
mod launcher;
mod on_demand;
mod remote;
mod stdout;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rmcp::model::{
    ClientRequest, DiscoverRequest, DiscoverRequestParams, ProtocolVersion, SubscriptionFilter,
};
use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::{ClientCacheConfig, ClientLifecycleMode, ClientServiceExt, RoleClient};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;
pub use launcher::{user_path, Launcher};

use crate::catalogs::CatalogStore;
use crate::events::{Event, EventBus};
use crate::slot::{ServerState, SlotWriter, Upstream};
use crate::upstream::{
    auth_challenge, describe_handshake_error, CatalogPart, ObservedTransport, UpstreamClient,
};
use child::ChildConnector;
use connector::{Connector, Link, ServerConnector};
use on_demand::{Known, Purpose};
use remote::RemoteConnector;

/// How long a child gets to exit after its stdin closes, and again after SIGTERM.
pub const STOP_GRACE: Duration = Duration::from_secs(3);
/// Lines of stderr quoted in a start or crash error.
const ERROR_TAIL_LINES: usize = 5;
/// The note that opens each attempt's lines in a server's log.
const STARTED_NOTE: &str = "[switchboard] started";

/// Asks a supervisor to do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Kill the child (if any) and start again now, without backoff. Also wakes a disabled or
    /// failed server after its settings changed.
    Restart,
    /// A live setting the supervisor acts on changed (`start`): an on-demand server asleep
    /// switched to `always` starts, a running one switched to on-demand stores its catalog.
    Reconsider,
}

/// Who runs servers, as the hub sees it: something that starts supervising a slot. The real
/// one runs child processes and connects to remote servers ([`ServerSupervisors`]); the hub's tests use one that records
/// what it was asked, so the diff of `Hub::apply` is tested without processes.
pub trait Supervisors: Send + Sync {
    fn start(&self, slot: SlotWriter) -> Box<dyn Supervised>;
}

/// One server under supervision, as the hub sees it.
pub trait Supervised: Send + Sync {
    /// Kill the child (if any) and start again now, without backoff.
    fn restart(&self);
    /// Read the live settings again (`start` changed).
    fn reconsider(&self);
    /// Stop the child (whole process group) and wait until it is gone.
    fn stop(self: Box<Self>) -> futures::future::BoxFuture<'static, ()>;
}

/// [`Supervisors`] that run each server as a child process or connect to it over HTTP.
pub struct ServerSupervisors {
    pub events: EventBus,
    /// The PATH children get and the reaper told of each child's process group.
    pub launcher: Arc<Launcher>,
}

impl Supervisors for ServerSupervisors {
    fn start(&self, slot: SlotWriter) -> Box<dyn Supervised> {
        let connector = ServerConnector {
            child: ChildConnector {
                launcher: Arc::clone(&self.launcher),
            },
            remote: RemoteConnector::new(Arc::clone(&self.launcher)),
        };
        Box::new(Supervisor::start(
            slot,
            self.events.clone(),
            Arc::new(connector),
            self.launcher.catalogs.clone(),
        ))
    }
}

impl Supervised for Supervisor {
    fn restart(&self) {
        self.send(Control::Restart);
    }

    fn reconsider(&self) {
        self.send(Control::Reconsider);
    }

    fn stop(self: Box<Self>) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(Supervisor::stop(*self))
    }
}

/// The owner's end of a supervisor task.
pub struct Supervisor {
    control: mpsc::UnboundedSender<Control>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Supervisor {
    /// Starts supervising `slot`, reaching its server through `connector`; an on-demand
    /// server's catalog is kept in `catalogs`.
    pub fn start<C: Connector>(
        slot: SlotWriter,
        events: EventBus,
        connector: Arc<C>,
        catalogs: CatalogStore,
    ) -> Self {
        let (control, control_rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let slot_policy = slot.settings().spec.restart;
        let task = tokio::spawn(
            Task {
                slot,
                events,
                connector,
                control: control_rx,
                stop: stop.clone(),
                backoff: Backoff::new(&slot_policy),
                legacy_only: false,
                known: Known::new(catalogs),
                asked: false,
            }
            .run(),
        );
        Self {
            control,
            stop,
            task,
        }
    }

    pub fn send(&self, control: Control) {
        let _ = self.control.send(control);
    }

    /// Stops the child (whole process group) and waits until it is gone.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "supervisor task failed");
        }
    }
}

/// A server that answered `initialize`.
struct Live<L> {
    running: RunningService<RoleClient, UpstreamClient>,
    link: L,
    /// What the server reported that the supervisor acts on (list changes).
    signals: mpsc::UnboundedReceiver<CatalogPart>,
    /// The client's handle for what a stateless server sends on `subscriptions/listen`.
    listener: UpstreamClient,
}

/// Why a start did not produce a [`Live`] child.
enum StartFailed {
    Error(String),
    Stopped,
    /// The server knows `server/discover` but offers only versions with `initialize` (an SDK
    /// that refuses the 2026 revision with its list of versions): connect again, initialising.
    OnlyLegacy,
    /// The connector will reach the server another way (SSE after Streamable HTTP): at once.
    AnotherWay,
    /// A remote server refused us until someone signs in: not retried before that.
    NeedsSignIn,
}

/// How a running child's watch ended.
enum Ended {
    Stop,
    Restart,
    Crashed(String),
    /// An on-demand server went unused for its `idleStopSecs` (or was only learning its
    /// catalog): it was taken out of `running` and is stopped to sleep.
    Idle,
}

/// What interrupted a wait.
enum Woken {
    Timer,
    Restart,
    Stop,
    /// A request needs an on-demand server that sleeps.
    Demand,
    /// `Control::Reconsider`.
    Reconsider,
}

struct Task<C> {
    slot: SlotWriter,
    events: EventBus,
    connector: Arc<C>,
    control: mpsc::UnboundedReceiver<Control>,
    stop: CancellationToken,
    backoff: Backoff,
    /// Set once the server turned out to offer only `initialize` versions: it is not asked
    /// `server/discover` again (for the life of this supervisor).
    legacy_only: bool,
    /// Which launch the slot's catalog was learned from, and the store it is kept in (an
    /// on-demand server sleeps only while its catalog is known).
    known: Known,
    /// An on-demand server asleep was told to restart: the next start is for running, not
    /// only learning.
    asked: bool,
}

impl<C: Connector> Task<C> {
    async fn run(mut self) {
        loop {
            let spec = self.slot.settings().spec.clone();
            self.backoff.set_policy(&spec.restart);
            // A restart asked of a sleeping server is for this turn only (not for after a
            // disable that came as a restart).
            let asked = std::mem::take(&mut self.asked);
            if spec.disabled {
                self.set_state(ServerState::Disabled, None, None);
                match self.wait(None).await {
                    Woken::Stop => break,
                    _ => continue,
                }
            }
            let purpose = if !spec.on_demand() {
                Purpose::Always
            } else if !self.known.covers(&self.slot, &self.events, &spec) {
                Purpose::Learn
            } else if asked {
                Purpose::Run
            } else {
                match self.sleep().await {
                    Woken::Stop => break,
                    Woken::Restart => {
                        self.asked = true;
                        continue;
                    }
                    Woken::Reconsider | Woken::Timer => continue,
                    Woken::Demand => Purpose::Run,
                }
            };
            // What was asked before this start is answered by it (it reads the settings as
            // they are now): a restart queued while the last one was being stopped, say.
            while self.control.try_recv().is_ok() {}
            self.set_state(ServerState::Starting, None, None);
            self.slot.begin_attempt();
            let live = match self.start(&spec).await {
                Ok(live) => live,
                Err(StartFailed::Stopped) => break,
                Err(StartFailed::OnlyLegacy) => {
                    self.legacy_only = true;
                    continue;
                }
                Err(StartFailed::AnotherWay) => continue,
                Err(StartFailed::NeedsSignIn) => {
                    let name = self.slot.name().to_owned();
                    self.set_state(
                        ServerState::NeedsAuth,
                        None,
                        Some(format!(
                            "the server asks to sign in: use Sign in on the dashboard or the \
                             tray, or run `switchboard auth {name}`"
                        )),
                    );
                    match self.wait(None).await {
                        Woken::Stop => break,
                        _ => continue,
                    }
                }
                Err(StartFailed::Error(error)) => {
                    // Its failure is the answer of every request that asked until now (a
                    // crash is not: a request that asks meanwhile waits for the next start).
                    self.slot.answer_demands();
                    tracing::warn!(server = %self.slot.name(), %error, "server failed to start");
                    self.slot
                        .log()
                        .push(format!("[switchboard] start failed: {error}"));
                    if purpose == Purpose::Run {
                        // The requests that asked are answered with why; the next one tries
                        // again (nobody else needs it, so no retries on a timer).
                        self.record_failure(ServerState::Failed, error, None);
                        continue;
                    }
                    match self.retry_after(ServerState::Failed, error).await {
                        Woken::Stop => break,
                        _ => continue,
                    }
                }
            };
            let since = SystemTime::now();
            let ended = self.watch(live, purpose).await;
            let uptime = SystemTime::now().duration_since(since).unwrap_or_default();
            match ended {
                Ended::Stop => break,
                Ended::Restart => self.backoff.reset(),
                Ended::Idle => {}
                Ended::Crashed(error) if self.slot.settings().spec.on_demand() => {
                    // It sleeps; the next request that needs it starts it again.
                    self.record_failure(ServerState::Idle, error, None);
                }
                Ended::Crashed(error) => {
                    self.backoff.child_ended_after(uptime);
                    if let Woken::Stop = self.retry_after(ServerState::Restarting, error).await {
                        break;
                    }
                }
            }
        }
        self.set_state(ServerState::Stopped, None, None);
    }

    /// Connects (for a child: spawns it) and initialises the server within the startup
    /// timeout (or until stopped).
    async fn start(
        &mut self,
        spec: &crate::config::ServerSpec,
    ) -> Result<Live<C::Link>, StartFailed> {
        if self.connector.awaits_sign_in(&self.slot) {
            return Err(StartFailed::NeedsSignIn);
        }
        let startup = spec.timeouts.startup();
        let connecting = tokio::time::timeout(startup, self.connector.connect(&self.slot, spec));
        let (transport, mut link) = tokio::select! {
            connected = connecting => match connected {
                Ok(connected) => connected.map_err(StartFailed::Error)?,
                Err(_) => return Err(StartFailed::Error(format!(
                    "could not connect within {}s (timeouts.startupSecs)",
                    startup.as_secs()
                ))),
            },
            _ = self.stop.cancelled() => return Err(StartFailed::Stopped),
        };

        let (signals_tx, signals) = mpsc::unbounded_channel();
        let client = UpstreamClient::new(
            self.slot.name().to_owned(),
            Arc::clone(self.slot.sessions()),
            signals_tx,
            Arc::clone(self.slot.log()),
        );
        let transport = ObservedTransport::new(transport, Arc::clone(self.slot.sessions()));
        let stop = self.stop.clone();
        // "running" promises a known catalog: it is fetched before anyone is told.
        // The era is asked first (`server/discover`, as 2026-07-28 prescribes for stdio); a
        // server that answers it with a legacy error, or not within 10 s, is initialised as
        // before. The verdict holds for the life of the process.
        let lifecycle = if self.legacy_only {
            ClientLifecycleMode::Initialize
        } else {
            ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: None,
            }
        };
        let listener = client.clone();
        let handshake = async {
            let running = client.serve_with_lifecycle(transport, lifecycle).await?;
            // The slot's catalog is the cache; rmcp's own would answer a refresh from memory.
            running
                .peer()
                .set_response_cache_config(ClientCacheConfig::disabled())
                .await;
            for part in CatalogPart::ALL {
                refresh_catalog(&self.slot, &self.events, running.peer(), part).await;
            }
            Ok::<_, ClientInitializeError>(running)
        };
        let outcome = tokio::select! {
            initialised = tokio::time::timeout(startup, handshake) => Some(initialised),
            _ = stop.cancelled() => None,
        };
        // On every path but success the handshake (and with it the child's stdin) is dropped.
        let error = match outcome {
            Some(Ok(Ok(running))) => {
                self.connector.connected(&self.slot, spec);
                return Ok(Live {
                    running,
                    link,
                    signals,
                    listener,
                });
            }
            None => {
                link.release().await;
                return Err(StartFailed::Stopped);
            }
            Some(Ok(Err(ClientInitializeError::NoCompatibleProtocolVersion {
                server_supported,
                ..
            }))) if server_supported.iter().any(|v| v.has_initialize()) => {
                link.release().await;
                return Err(StartFailed::OnlyLegacy);
            }
            Some(Ok(Err(e))) if self.connector.retry_another_way(&self.slot, spec, &e) => {
                link.release().await;
                return Err(StartFailed::AnotherWay);
            }
            Some(Ok(Err(e))) if auth_challenge(&e).is_some() => {
                link.release().await;
                let challenge = auth_challenge(&e).unwrap_or_default();
                self.connector.sign_in_needed(&self.slot, challenge);
                return Err(StartFailed::NeedsSignIn);
            }
            Some(Ok(Err(e))) => match link.closed_because().await {
                Some(exit) => format!("the server {exit} before answering initialize"),
                None => format!("initialize failed: {}", describe_handshake_error(&e)),
            },
            Some(Err(_)) => format!(
                "no answer to initialize within {}s (timeouts.startupSecs)",
                startup.as_secs()
            ),
        };
        link.release().await;
        Err(StartFailed::Error(self.with_stderr(error).await))
    }

    /// Serves a running server until it dies, stops answering, or we are told otherwise.
    /// The slot leaves `running` the moment the end is noticed, before the far end is cleaned
    /// up, so no one is told "running" while nothing answers.
    async fn watch(&mut self, live: Live<C::Link>, purpose: Purpose) -> Ended {
        let Live {
            running,
            mut link,
            signals,
            listener,
        } = live;
        let peer = running.peer().clone();
        let Some(info) = peer.peer_info() else {
            // rmcp sets it during the handshake; without it we cannot describe the server.
            drop(running);
            link.release().await;
            return Ended::Crashed("the child completed initialize without server info".into());
        };
        let upstream = Upstream {
            peer: peer.clone(),
            info,
            lane: link.raw_lane(),
        };
        // A stateless server (2026-07-28 on) has no ping and tells of list changes only on a
        // `subscriptions/listen` stream.
        let stateless = upstream.is_stateless();
        self.slot
            .update_catalog(|c| c.info = Some(Arc::clone(&upstream.info)));
        self.slot.set_running(upstream, link.pid());
        self.publish_state();
        if self.slot.settings().spec.on_demand() {
            self.known.learned(&self.slot);
        }
        // Started only to learn what it offers: it goes back to sleep at once, unless a
        // request came for it meanwhile.
        let learn_only = purpose == Purpose::Learn && self.slot.sleep_unless_used();
        // List changes are followed beside the loop: a listing that hangs must not hold up
        // the health check, a crash or a stop.
        let follower = tokio::spawn(follow_catalog(
            self.slot.clone(),
            self.events.clone(),
            peer.clone(),
            signals,
        ));
        let listening = stateless.then(|| {
            tokio::spawn(listen_for_changes(
                self.slot.name().to_owned(),
                peer.clone(),
                listener,
            ))
        });

        let ct = running.cancellation_token();
        let mut done = Box::pin(running.waiting());
        let health = self.slot.settings().spec.health;
        let mut ticker = (health.ping_interval_secs > 0).then(|| {
            let every = Duration::from_secs(health.ping_interval_secs);
            tokio::time::interval_at(tokio::time::Instant::now() + every, every)
        });
        let ping_timeout = Duration::from_secs(health.ping_timeout_secs);
        // The ping in flight, if any: awaited beside everything else, so a slow ping never
        // delays a stop or notices a crash late.
        let mut ping: Option<tokio::task::JoinHandle<bool>> = None;
        let mut misses = 0;
        let mut connection_closed = false;
        // An on-demand server's idle time is looked at every second (`start` and
        // `idleStopSecs` are live: `Reconsider` says when the first changed).
        let mut on_demand = self.slot.settings().spec.on_demand();
        let mut idle_check = tokio::time::interval(Duration::from_secs(1));
        idle_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ended = loop {
            if learn_only {
                break Ended::Idle;
            }
            tokio::select! {
                quit = &mut done => {
                    connection_closed = true;
                    let why = match (link.closed_because().await, quit) {
                        (Some(exit), _) => format!("the server {exit}"),
                        (None, Ok(_)) if link.pid().is_some() => "the server closed its stdout".to_owned(),
                        (None, Ok(_)) => "the connection to the server closed".to_owned(),
                        (None, Err(e)) => format!("the connection task failed: {e}"),
                    };
                    break Ended::Crashed(why);
                }
                // The far end is watched as well as the connection: a launcher (`sh -c`, npx,
                // uvx) that dies leaves its own child holding the pipes.
                why = link.ended() => break Ended::Crashed(why),
                _ = self.stop.cancelled() => break Ended::Stop,
                control = self.control.recv() => match control {
                    Some(Control::Restart) => break Ended::Restart,
                    Some(Control::Reconsider) => {
                        on_demand = self.slot.settings().spec.on_demand();
                        if on_demand {
                            self.known.learned(&self.slot);
                        }
                    }
                    None => break Ended::Stop,
                },
                _ = idle_check.tick(), if on_demand => {
                    let spec = &self.slot.settings().spec;
                    if spec.on_demand()
                        && self.slot.unused_for() >= spec.idle_stop()
                        && self.slot.sleep_unless_used()
                    {
                        break Ended::Idle;
                    }
                }
                _ = tick(&mut ticker), if ping.is_none() => {
                    let peer = peer.clone();
                    ping = Some(tokio::spawn(async move {
                        let request = health_probe(stateless);
                        matches!(tokio::time::timeout(ping_timeout, peer.send_request(request)).await, Ok(Ok(_)))
                    }));
                }
                answered = async { ping.as_mut().expect("guarded by if").await }, if ping.is_some() => {
                    ping = None;
                    if matches!(answered, Ok(true)) {
                        misses = 0;
                    } else {
                        misses += 1;
                        if misses >= health.max_missed.max(1) {
                            break Ended::Crashed(format!(
                                "the server stopped answering ping ({misses} missed, {}s each)",
                                ping_timeout.as_secs()
                            ));
                        }
                    }
                }
            }
        };
        // Out of `running` at once, before the clean-up, which can take seconds (TERM, then
        // KILL).
        self.slot.update_status(|s| {
            s.state = match ended {
                Ended::Stop => ServerState::Stopped,
                Ended::Restart | Ended::Crashed(_) => ServerState::Restarting,
                Ended::Idle => ServerState::Idle,
            };
            s.running_since = None;
            if let Ended::Crashed(why) = &ended {
                s.last_error = Some(why.clone());
            }
        });
        self.publish_state();
        let ended = match ended {
            Ended::Crashed(why) => {
                tracing::warn!(server = %self.slot.name(), error = %why, "server stopped unexpectedly");
                self.slot
                    .log()
                    .push(format!("[switchboard] stopped: {why}"));
                Ended::Crashed(self.with_stderr(why).await)
            }
            Ended::Idle => {
                tracing::info!(server = %self.slot.name(), "on-demand server stopped until it is needed");
                self.slot
                    .log()
                    .push("[switchboard] stopped: idle (starts on the next request)".to_owned());
                // What it offered last (list changes while it ran included) is what it is
                // listed with while it sleeps.
                self.known.learned(&self.slot);
                Ended::Idle
            }
            other => other,
        };
        follower.abort();
        if let Some(listening) = listening {
            listening.abort();
        }
        if let Some(ping) = ping {
            ping.abort();
        }
        if !connection_closed {
            // Ends the connection, which closes the child's stdin.
            ct.cancel();
            let _ = done.await;
        }
        link.release().await;
        ended
    }

    /// Records a failed start or a crash (in `state`), with when the next attempt is due
    /// (`delay`; none for an on-demand server, which the next request starts).
    fn record_failure(&mut self, state: ServerState, error: String, delay: Option<Duration>) {
        let next = delay.map(|delay| SystemTime::now() + delay);
        self.slot.update_status(|s| {
            s.state = state;
            s.pid = None;
            s.running_since = None;
            s.restarts += 1;
            s.failures_in_row += 1;
            s.last_error = Some(error);
            s.next_attempt = next;
            s.retry_delay = delay;
        });
        self.publish_state();
    }

    /// Records a failed start or a crash, then waits out the backoff.
    async fn retry_after(&mut self, state: ServerState, error: String) -> Woken {
        let delay = self.backoff.next_delay();
        self.record_failure(state, error, Some(delay));
        if self.backoff.at_cap() {
            tracing::error!(server = %self.slot.name(), "server keeps failing; retrying every {}s", delay.as_secs());
        }
        match self.wait(Some(delay)).await {
            Woken::Restart => {
                self.backoff.reset();
                Woken::Restart
            }
            other => other,
        }
    }

    /// Waits for the timer (if any), a restart request or stop.
    async fn wait(&mut self, delay: Option<Duration>) -> Woken {
        let deadline = delay.map(|d| tokio::time::Instant::now() + d);
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timer);
        loop {
            tokio::select! {
                _ = &mut timer => return Woken::Timer,
                _ = self.stop.cancelled() => return Woken::Stop,
                control = self.control.recv() => match control {
                    Some(Control::Restart) => return Woken::Restart,
                    // Read again at the next attempt.
                    Some(Control::Reconsider) => {}
                    None => return Woken::Stop,
                },
            }
        }
    }

    /// An on-demand server with a known catalog and no process: `idle` (or `failed`, when the
    /// start a request asked for failed, until the next one asks) until a request needs it,
    /// a restart, a change of its `start`, or stop.
    async fn sleep(&mut self) -> Woken {
        if self.slot.status().state != ServerState::Failed {
            self.set_state(ServerState::Idle, None, None);
        }
        tokio::select! {
            _ = self.slot.demanded() => Woken::Demand,
            _ = self.stop.cancelled() => Woken::Stop,
            control = self.control.recv() => match control {
                Some(Control::Restart) => Woken::Restart,
                Some(Control::Reconsider) => Woken::Reconsider,
                None => Woken::Stop,
            },
        }
    }

    /// Appends the last lines of stderr to `message`; they usually say what went wrong.
    async fn with_stderr(&self, message: String) -> String {
        // Give the stderr pump a moment to read what the dying child wrote.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let tail = self.slot.log().tail_text(ERROR_TAIL_LINES * 4);
        let lines = last_attempt(&tail);
        let lines = &lines[lines.len().saturating_sub(ERROR_TAIL_LINES)..];
        if lines.is_empty() {
            message
        } else {
            format!("{message}; stderr: {}", lines.join(" | "))
        }
    }

    fn set_state(&self, state: ServerState, pid: Option<u32>, error: Option<String>) {
        self.slot.update_status(|s| {
            s.state = state;
            s.pid = pid;
            s.running_since = None;
            s.next_attempt = None;
            if error.is_some() {
                s.last_error = error;
            }
        });
        self.publish_state();
    }

    fn publish_state(&self) {
        let status = self.slot.status();
        self.events.publish(Event::ServerState {
            name: self.slot.name().to_owned(),
            state: status.state,
            pid: status.pid,
            last_error: status.last_error,
            listed: status.state == ServerState::Running || self.slot.serves_from_catalog(),
        });
    }
}

/// The health check's request: ping, or for a stateless server (which has none)
/// `server/discover`, which every such server answers at once.
fn health_probe(stateless: bool) -> ClientRequest {
    if stateless {
        ClientRequest::DiscoverRequest(DiscoverRequest::new(DiscoverRequestParams {}))
    } else {
        ClientRequest::PingRequest(Default::default())
    }
}

/// Follows a stateless server's list changes on one `subscriptions/listen` stream, handing
/// each to the client as if it had come alone (the catalog is fetched again, sessions told).
/// A server that refuses the stream, or ends it, is only not followed: it runs on.
async fn listen_for_changes(server: String, peer: rmcp::Peer<RoleClient>, client: UpstreamClient) {
    let Some(info) = peer.peer_info() else {
        return;
    };
    let caps = &info.capabilities;
    let mut filter = SubscriptionFilter::builder();
    if caps
        .tools
        .as_ref()
        .is_some_and(|t| t.list_changed == Some(true))
    {
        filter = filter.tools_list_changed();
    }
    if caps
        .prompts
        .as_ref()
        .is_some_and(|p| p.list_changed == Some(true))
    {
        filter = filter.prompts_list_changed();
    }
    if caps
        .resources
        .as_ref()
        .is_some_and(|r| r.list_changed == Some(true))
    {
        filter = filter.resources_list_changed();
    }
    let filter = filter.build();
    if filter == SubscriptionFilter::default() {
        return; // it announces no list changes
    }
    let mut subscription = match peer.listen(filter).await {
        Ok(subscription) => subscription,
        Err(e) => {
            tracing::info!(%server, "list changes not followed: subscriptions/listen failed: {e}");
            return;
        }
    };
    loop {
        match subscription.next().await {
            Ok(Some(notification)) => client.notified(notification).await,
            Ok(None) => break,
            Err(e) => {
                tracing::info!(%server, "list changes no longer followed: {e}");
                break;
            }
        }
    }
}

/// Keeps the slot's catalog current while a child runs: each list_changed the child sends
/// refetches that part; signals that arrive during a fetch are folded into one more fetch.
async fn follow_catalog(
    slot: SlotWriter,
    events: EventBus,
    peer: rmcp::Peer<RoleClient>,
    mut signals: mpsc::UnboundedReceiver<CatalogPart>,
) {
    while let Some(first) = signals.recv().await {
        let mut parts = vec![first];
        while let Ok(part) = signals.try_recv() {
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
        for part in parts {
            refresh_catalog(&slot, &events, &peer, part).await;
        }
    }
}

/// Fetches what the child offers into the slot's catalog, each part bounded by the request
/// timeout; a part the child does not offer is empty, a part that fails keeps its old value.
async fn refresh_catalog(
    slot: &SlotWriter,
    events: &EventBus,
    peer: &rmcp::Peer<RoleClient>,
    part: CatalogPart,
) {
    let Some(info) = peer.peer_info() else {
        return;
    };
    let caps = &info.capabilities;
    let timeout = slot.settings().spec.timeouts.request();
    let name = slot.name().to_owned();
    let fetched = match part {
        CatalogPart::Tools => {
            let tools = match caps.tools {
                Some(_) => bounded(timeout, peer.list_all_tools()).await,
                None => Ok(Vec::new()),
            };
            tools.map(|tools| {
                slot.update_catalog(|c| c.tools = Arc::new(tools));
                Event::ToolsChanged { name }
            })
        }
        CatalogPart::Prompts => {
            let prompts = match caps.prompts {
                Some(_) => bounded(timeout, peer.list_all_prompts()).await,
                None => Ok(Vec::new()),
            };
            prompts.map(|prompts| {
                slot.update_catalog(|c| c.prompts = Arc::new(prompts));
                Event::PromptsChanged { name }
            })
        }
        CatalogPart::Resources => {
            let both = match caps.resources {
                Some(_) => {
                    bounded(timeout, async {
                        tokio::try_join!(
                            peer.list_all_resources(),
                            peer.list_all_resource_templates()
                        )
                    })
                    .await
                }
                None => Ok((Vec::new(), Vec::new())),
            };
            both.map(|(resources, templates)| {
                slot.update_catalog(|c| {
                    c.resources = Arc::new(resources);
                    c.templates = Arc::new(templates);
                });
                Event::ResourcesChanged { name }
            })
        }
    };
    match fetched {
        Ok(event) => events.publish(event),
        Err(e) => tracing::warn!(server = %slot.name(), ?part, "listing failed: {e}"),
    }
}

/// Runs a listing with a timeout, flattening both failures into a message.
async fn bounded<T>(
    timeout: Duration,
    listing: impl std::future::Future<Output = Result<T, rmcp::ServiceError>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, listing).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", timeout.as_secs())),
    }
}

/// The lines the last started child wrote, given a log tail: those after the last
/// [`STARTED_NOTE`] (earlier attempts wrote the ones before it), without Switchboard's notes.
fn last_attempt(tail: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    for line in tail.lines() {
        if line.starts_with(STARTED_NOTE) {
            lines.clear();
        } else if !line.starts_with("[switchboard]") {
            lines.push(line);
        }
    }
    lines
}

async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::Mutex;

    use rmcp::model::{
        InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    };
    use rmcp::service::RequestContext;
    use rmcp::transport::async_rw::AsyncRwTransport;
    use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
    use tokio::io::{DuplexStream, ReadHalf, WriteHalf};
    use tokio::sync::oneshot;

    use crate::slot::ServerSlot;

    /// An MCP server with one tool, in this process.
    #[derive(Clone, Default)]
    struct OneTool;

    impl ServerHandler for OneTool {
        fn get_info(&self) -> InitializeResult {
            InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
        }

        async fn list_tools(
            &self,
            _request: Option<PaginatedRequestParams>,
            _context: RequestContext<RoleServer>,
        ) -> Result<ListToolsResult, ErrorData> {
            let schema = serde_json::json!({"type": "object"});
            let schema = serde_json::from_value(schema).expect("an object");
            let tool = rmcp::model::Tool::new("echo", "Echoes", Arc::new(schema));
            Ok(ListToolsResult::with_all_items(vec![tool]))
        }
    }

    /// A server that counts the health checks it is asked: `ping`s and `server/discover`s
    /// (the first discover is the era probe). `legacy` servers know only the 2025 era.
    #[derive(Clone, Default)]
    struct Counting {
        legacy: bool,
        pings: Arc<std::sync::atomic::AtomicUsize>,
        discovers: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl ServerHandler for Counting {
        fn get_info(&self) -> InitializeResult {
            InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
        }

        fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
            if self.legacy {
                std::borrow::Cow::Borrowed(ProtocolVersion::known_up_to(
                    &ProtocolVersion::LATEST_WITH_INITIALIZE,
                ))
            } else {
                std::borrow::Cow::Borrowed(ProtocolVersion::KNOWN_VERSIONS)
            }
        }

        async fn ping(&self, _context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
            self.pings.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }

        async fn discover(
            &self,
            _context: RequestContext<RoleServer>,
        ) -> Result<rmcp::model::DiscoverResult, ErrorData> {
            self.discovers
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if self.legacy {
                return Err(ErrorData::method_not_found::<
                    rmcp::model::DiscoverRequestMethod,
                >());
            }
            Ok(rmcp::model::DiscoverResult::from_server_info(
                self.supported_protocol_versions().into_owned(),
                self.get_info(),
            ))
        }
    }

    /// Connects to a copy of `server` over an in-memory pipe. The first `refusals` attempts
    /// fail; each attempt's end is in the test's hands.
    #[derive(Default)]
    struct InMemory<H = OneTool> {
        server: H,
        refusals: Mutex<usize>,
        ends: Mutex<Vec<oneshot::Sender<String>>>,
        released: Arc<Mutex<usize>>,
    }

    struct InMemoryLink {
        end: Option<oneshot::Receiver<String>>,
        server: tokio::task::JoinHandle<()>,
        released: Arc<Mutex<usize>>,
    }

    impl<H: ServerHandler + Clone + Default> Connector for InMemory<H> {
        type Transport =
            AsyncRwTransport<RoleClient, ReadHalf<DuplexStream>, WriteHalf<DuplexStream>>;
        type Link = InMemoryLink;

        async fn connect(
            &self,
            _slot: &SlotWriter,
            _spec: &crate::config::ServerSpec,
        ) -> Result<(Self::Transport, InMemoryLink), String> {
            let mut refusals = self.refusals.lock().unwrap();
            if *refusals > 0 {
                *refusals -= 1;
                return Err("the test refused this attempt".into());
            }
            let (ours, theirs) = tokio::io::duplex(1 << 16);
            let handler = self.server.clone();
            let server = tokio::spawn(async move {
                if let Ok(running) = handler.serve(tokio::io::split(theirs)).await {
                    let _ = running.waiting().await;
                }
            });
            let (read, write) = tokio::io::split(ours);
            let (end_tx, end) = oneshot::channel();
            self.ends.lock().unwrap().push(end_tx);
            let link = InMemoryLink {
                end: Some(end),
                server,
                released: Arc::clone(&self.released),
            };
            Ok((AsyncRwTransport::new(read, write), link))
        }
    }

    impl Link for InMemoryLink {
        fn pid(&self) -> Option<u32> {
            None
        }

        async fn ended(&mut self) -> String {
            let Some(end) = self.end.take() else {
                return std::future::pending().await;
            };
            match end.await {
                Ok(why) => why,
                Err(_) => std::future::pending().await,
            }
        }

        async fn closed_because(&mut self) -> Option<String> {
            None
        }

        async fn release(&mut self) {
            self.server.abort();
            *self.released.lock().unwrap() += 1;
        }
    }

    fn slot() -> (Arc<ServerSlot>, SlotWriter) {
        let text = r#"{"mcpServers": {"mem": {"command": "in-memory",
            "restart": {"initialDelayMs": 20, "maxDelayMs": 40}}}}"#;
        let mut file = crate::config::parse(std::path::Path::new("servers.json"), text).unwrap();
        let spec = file.mcp_servers.remove("mem").unwrap();
        ServerSlot::new(
            "mem".into(),
            spec,
            Arc::new(crate::logs::ServerLog::new(None)),
        )
    }

    async fn until(slot: &ServerSlot, what: &str, ok: impl Fn(&crate::slot::ServerStatus) -> bool) {
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            while !ok(&slot.status()) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "{what}: the status stayed {:?}",
            slot.status()
        );
    }

    #[tokio::test]
    async fn any_connector_is_retried_after_a_refusal_restarted_after_an_end_and_released() {
        let connector = Arc::new(InMemory::<OneTool> {
            refusals: Mutex::new(1),
            ..Default::default()
        });
        let (slot, writer) = slot();
        let supervisor = Supervisor::start(
            writer,
            EventBus::default(),
            Arc::clone(&connector),
            CatalogStore::default(),
        );

        until(&slot, "first attempt refused", |s| s.restarts == 1).await;
        until(&slot, "second attempt connected", |s| {
            s.state == ServerState::Running
        })
        .await;
        let status = slot.status();
        assert_eq!(status.pid, None, "an in-memory server has no process");
        assert_eq!(status.failures_in_row, 0);
        let tools: Vec<_> = slot.tools().iter().map(|t| t.name.to_string()).collect();
        assert_eq!(tools, ["echo"], "the catalog is fetched before running");
        assert!(slot.upstream().is_some());

        let end = connector.ends.lock().unwrap().remove(0);
        end.send("the far end went away".into()).unwrap();
        until(&slot, "the end noticed", |s| s.restarts == 2).await;
        assert!(slot
            .status()
            .last_error
            .is_some_and(|e| e.starts_with("the far end went away")));
        until(&slot, "restarted", |s| s.state == ServerState::Running).await;
        assert_eq!(*connector.released.lock().unwrap(), 1);

        supervisor.stop().await;
        assert_eq!(slot.status().state, ServerState::Stopped);
        assert!(slot.upstream().is_none());
        assert_eq!(
            *connector.released.lock().unwrap(),
            2,
            "every connected attempt is released"
        );
    }

    /// The era is asked with `server/discover`: a server that answers it is run statelessly
    /// and checked with discover (it has no ping); one that refuses it (here as an SDK that
    /// knows the method does: -32022 with only `initialize` versions) is connected again,
    /// initialised and pinged as before, and that is not counted as a failure.
    #[tokio::test]
    async fn each_server_is_asked_in_its_own_era_and_health_checked_as_that_era_allows() {
        for legacy in [false, true] {
            let server = Counting {
                legacy,
                ..Default::default()
            };
            let text = r#"{"mcpServers": {"mem": {"command": "in-memory",
                "health": {"pingIntervalSecs": 1, "pingTimeoutSecs": 5}}}}"#;
            let mut file =
                crate::config::parse(std::path::Path::new("servers.json"), text).unwrap();
            let spec = file.mcp_servers.remove("mem").unwrap();
            let log = Arc::new(crate::logs::ServerLog::new(None));
            let (slot, writer) = ServerSlot::new("mem".into(), spec, log);
            let connector = Arc::new(InMemory {
                server: server.clone(),
                ..Default::default()
            });
            let supervisor = Supervisor::start(
                writer,
                EventBus::default(),
                connector,
                CatalogStore::default(),
            );
            until(&slot, "running", |s| s.state == ServerState::Running).await;
            let upstream = slot.upstream().expect("connected");
            assert_eq!(upstream.is_stateless(), !legacy, "legacy: {legacy}");
            let expected = if legacy { "2025-11-25" } else { "2026-07-28" };
            assert_eq!(upstream.info.protocol_version.as_str(), expected);

            let (pings, discovers) = (&server.pings, &server.discovers);
            let checked = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    let (p, d) = (pings.load(SeqCst), discovers.load(SeqCst));
                    if (legacy && p >= 2) || (!legacy && d >= 3) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await;
            assert!(checked.is_ok(), "legacy {legacy}: no health checks");
            if !legacy {
                assert_eq!(pings.load(SeqCst), 0, "a stateless server is never pinged");
            }
            assert_eq!(slot.status().restarts, 0);
            supervisor.stop().await;
        }
    }

    #[test]
    fn a_start_error_quotes_only_what_the_last_attempt_wrote() {
        let tail = "[switchboard] started pid 10: /bin/sh\n\
                    flaky: cannot open its database\n\
                    [switchboard] started pid 11: /bin/sh\n\
                    flaky: cannot open its database\n\
                    [switchboard] not MCP on stdout: \"hello\"\n\
                    hint: check DB_PATH";
        assert_eq!(
            last_attempt(tail),
            ["flaky: cannot open its database", "hint: check DB_PATH"]
        );
        assert!(last_attempt("[switchboard] started pid 12: /bin/sh").is_empty());
        assert_eq!(last_attempt("no note yet"), ["no note yet"]);
    }
}
