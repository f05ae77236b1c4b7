//! One task per server: spawn the child, initialise it, watch it, restart it with backoff,
//! and kill its whole process group when asked to stop.
//!
//! The task is the only writer of its slot's status and upstream; everyone else reads them.
//! It is driven by [`Control`] messages and a cancellation token (stop), and by the child.

mod backoff;
mod child;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rmcp::service::{RunningService, ServiceExt};
use rmcp::RoleClient;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;
pub use child::{kill_group, resolve, SpawnError};

use crate::events::{Event, EventBus};
use crate::proxy::{ObservedTransport, UpstreamClient, UpstreamSignal};
use crate::slot::{ServerSlot, ServerState, Upstream};

/// How often a running child is pinged.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(30);
/// How long a ping may take before it counts as missed.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Missed pings in a row after which the child is restarted.
pub const HEALTH_MISSES: u32 = 2;
/// Lines of stderr quoted in a start or crash error.
const ERROR_TAIL_LINES: usize = 5;

/// Asks a supervisor to do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Kill the child (if any) and start again now, without backoff. Also wakes a disabled or
    /// failed server after its settings changed.
    Restart,
}

/// The owner's end of a supervisor task.
pub struct Supervisor {
    control: mpsc::UnboundedSender<Control>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Supervisor {
    /// Starts supervising `slot`.
    pub fn start(slot: Arc<ServerSlot>, events: EventBus) -> Self {
        let (control, control_rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let task = tokio::spawn(
            Task {
                slot,
                events,
                control: control_rx,
                stop: stop.clone(),
                backoff: Backoff::default(),
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

/// A child that answered `initialize`: its connection, pid, and the channel of its signals.
type Started = (
    RunningService<RoleClient, UpstreamClient>,
    u32,
    mpsc::UnboundedReceiver<UpstreamSignal>,
);

/// How a running child's watch ended.
enum Ended {
    Stop,
    Restart,
    Crashed(String),
}

/// What interrupted a wait.
enum Woken {
    Timer,
    Restart,
    Stop,
}

struct Task {
    slot: Arc<ServerSlot>,
    events: EventBus,
    control: mpsc::UnboundedReceiver<Control>,
    stop: CancellationToken,
    backoff: Backoff,
}

impl Task {
    async fn run(mut self) {
        loop {
            let spec = self.slot.settings().spec.clone();
            if spec.disabled {
                self.set_state(ServerState::Disabled, None, None);
                match self.wait(None).await {
                    Woken::Stop => break,
                    Woken::Restart | Woken::Timer => continue,
                }
            }
            self.set_state(ServerState::Starting, None, None);
            let stop = self.stop.clone();
            let started = tokio::select! {
                started = self.start(&spec) => started,
                _ = stop.cancelled() => break,
            };
            let (running, pid, signals) = match started {
                Ok(ok) => ok,
                Err(error) => {
                    tracing::warn!(server = %self.slot.name(), %error, "server failed to start");
                    match self.retry_after(ServerState::Failed, error).await {
                        Woken::Stop => break,
                        Woken::Restart | Woken::Timer => continue,
                    }
                }
            };
            let since = SystemTime::now();
            let ended = self.watch(running, pid, signals).await;
            let uptime = SystemTime::now().duration_since(since).unwrap_or_default();
            match ended {
                Ended::Stop => break,
                Ended::Restart => self.backoff.reset(),
                Ended::Crashed(error) => {
                    tracing::warn!(server = %self.slot.name(), %error, "server stopped unexpectedly");
                    self.backoff.child_ended_after(uptime);
                    if let Woken::Stop = self.retry_after(ServerState::Restarting, error).await {
                        break;
                    }
                }
            }
        }
        self.slot.set_upstream(None);
        self.set_state(ServerState::Stopped, None, None);
    }

    /// Spawns and initialises the child within the startup timeout.
    async fn start(&mut self, spec: &crate::config::ServerSpec) -> Result<Started, String> {
        let resolved = child::resolve(spec).map_err(|e| e.to_string())?;
        let spawned = child::spawn(&resolved).map_err(|e| e.to_string())?;
        let pid = spawned.pid;
        self.slot.log().push(format!(
            "[switchboard] started pid {pid}: {}",
            resolved.program.display()
        ));
        if let Some(stderr) = spawned.stderr {
            let log = Arc::clone(self.slot.log());
            tokio::spawn(async move { log.pump(stderr).await });
        }
        self.slot.update_status(|s| s.pid = Some(pid));

        let (signals_tx, signals_rx) = mpsc::unbounded_channel();
        let client = UpstreamClient::new(
            self.slot.name().to_owned(),
            Arc::clone(self.slot.sessions()),
            signals_tx,
        );
        let startup = spec.timeouts.startup();
        let transport = ObservedTransport::new(spawned.transport, Arc::clone(self.slot.sessions()));
        let initialised = tokio::time::timeout(startup, client.serve(transport)).await;
        let running = match initialised {
            Ok(Ok(running)) => running,
            Ok(Err(e)) => {
                child::kill_group(pid);
                return Err(self.with_stderr(format!("initialize failed: {e}")).await);
            }
            Err(_) => {
                // Dropping the unfinished handshake drops the transport, which kills the child.
                child::kill_group(pid);
                return Err(self
                    .with_stderr(format!(
                        "no answer to initialize within {}s (timeouts.startupSecs)",
                        startup.as_secs()
                    ))
                    .await);
            }
        };
        Ok((running, pid, signals_rx))
    }

    /// Serves a running child until it dies, stops answering, or we are told otherwise.
    async fn watch(
        &mut self,
        running: RunningService<RoleClient, UpstreamClient>,
        pid: u32,
        signals: mpsc::UnboundedReceiver<UpstreamSignal>,
    ) -> Ended {
        let peer = running.peer().clone();
        let Some(info) = peer.peer_info() else {
            // rmcp sets it during the handshake; without it we cannot describe the server.
            let ct = running.cancellation_token();
            ct.cancel();
            child::kill_group(pid);
            return Ended::Crashed("the child completed initialize without server info".into());
        };
        self.slot.set_upstream(Some(Upstream {
            peer: peer.clone(),
            info,
        }));
        // "running" promises a known catalog.
        for part in [
            UpstreamSignal::ToolsChanged,
            UpstreamSignal::PromptsChanged,
            UpstreamSignal::ResourcesChanged,
        ] {
            self.refresh_catalog(&peer, part).await;
        }
        self.slot.update_status(|s| {
            s.state = ServerState::Running;
            s.pid = Some(pid);
            s.running_since = Some(SystemTime::now());
            s.last_error = None;
            s.next_attempt = None;
        });
        self.publish_state();

        let ct = running.cancellation_token();
        let mut done = Box::pin(running.waiting());
        let mut health = tokio::time::interval_at(
            tokio::time::Instant::now() + HEALTH_INTERVAL,
            HEALTH_INTERVAL,
        );
        let mut misses = 0;
        let mut connection_closed = false;
        let mut signals = signals;
        let ended = loop {
            tokio::select! {
                quit = &mut done => {
                    connection_closed = true;
                    let why = match quit {
                        Ok(reason) => format!("the server exited ({reason:?})"),
                        Err(e) => format!("the connection task failed: {e}"),
                    };
                    break Ended::Crashed(self.with_stderr(why).await);
                }
                _ = self.stop.cancelled() => break Ended::Stop,
                control = self.control.recv() => match control {
                    Some(Control::Restart) => break Ended::Restart,
                    None => break Ended::Stop,
                },
                Some(part) = signals.recv() => self.refresh_catalog(&peer, part).await,
                _ = health.tick() => {
                    match tokio::time::timeout(HEALTH_TIMEOUT, peer.send_request(
                        rmcp::model::ClientRequest::PingRequest(Default::default()),
                    )).await {
                        Ok(Ok(_)) => misses = 0,
                        _ => {
                            misses += 1;
                            if misses >= HEALTH_MISSES {
                                break Ended::Crashed(format!(
                                    "the server stopped answering ping ({misses} missed)"
                                ));
                            }
                        }
                    }
                }
            }
        };
        self.slot.set_upstream(None);
        if !connection_closed {
            ct.cancel();
            // Closing the transport closes stdin, then TERMs and KILLs the group if it lingers.
            let _ = done.await;
        }
        child::kill_group(pid);
        ended
    }

    /// Records a failed start or a crash, then waits out the backoff.
    async fn retry_after(&mut self, state: ServerState, error: String) -> Woken {
        let delay = self.backoff.next_delay();
        let next = SystemTime::now() + delay;
        self.slot.update_status(|s| {
            s.state = state;
            s.pid = None;
            s.running_since = None;
            s.restarts += 1;
            s.last_error = Some(error);
            s.next_attempt = Some(next);
        });
        self.publish_state();
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
        let timer = async {
            match delay {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = timer => Woken::Timer,
            _ = self.stop.cancelled() => Woken::Stop,
            control = self.control.recv() => match control {
                Some(Control::Restart) => Woken::Restart,
                None => Woken::Stop,
            },
        }
    }

    /// Fetches what the child offers into the slot's catalog, each part bounded by the request
    /// timeout; a part the child does not offer is empty, a part that fails keeps its old value.
    async fn refresh_catalog(&self, peer: &rmcp::Peer<RoleClient>, part: UpstreamSignal) {
        let Some(info) = peer.peer_info() else {
            return;
        };
        let caps = &info.capabilities;
        let timeout = self.slot.settings().spec.timeouts.request();
        let name = self.slot.name().to_owned();
        let fetched = match part {
            UpstreamSignal::ToolsChanged => {
                let tools = match caps.tools {
                    Some(_) => bounded(timeout, peer.list_all_tools()).await,
                    None => Ok(Vec::new()),
                };
                tools.map(|tools| {
                    self.slot.update_catalog(|c| c.tools = Arc::new(tools));
                    Event::ToolsChanged { name }
                })
            }
            UpstreamSignal::PromptsChanged => {
                let prompts = match caps.prompts {
                    Some(_) => bounded(timeout, peer.list_all_prompts()).await,
                    None => Ok(Vec::new()),
                };
                prompts.map(|prompts| {
                    self.slot.update_catalog(|c| c.prompts = Arc::new(prompts));
                    Event::PromptsChanged { name }
                })
            }
            UpstreamSignal::ResourcesChanged => {
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
                    self.slot.update_catalog(|c| {
                        c.resources = Arc::new(resources);
                        c.templates = Arc::new(templates);
                    });
                    Event::ResourcesChanged { name }
                })
            }
        };
        match fetched {
            Ok(event) => self.events.publish(event),
            Err(e) => tracing::warn!(server = %self.slot.name(), ?part, "listing failed: {e}"),
        }
    }

    /// Appends the last lines of stderr to `message`; they usually say what went wrong.
    async fn with_stderr(&self, message: String) -> String {
        // Give the stderr pump a moment to read what the dying child wrote.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let tail = self.slot.log().tail_text(ERROR_TAIL_LINES);
        let tail: Vec<&str> = tail
            .lines()
            .filter(|l| !l.starts_with("[switchboard]"))
            .collect();
        if tail.is_empty() {
            message
        } else {
            format!("{message}; stderr: {}", tail.join(" | "))
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
        });
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
