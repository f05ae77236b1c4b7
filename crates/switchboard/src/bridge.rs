//! `switchboard connect`: a stdio MCP server that relays everything to the gateway over
//! Streamable HTTP, for clients that can only run commands (Claude Desktop).
//!
//! Downstream it is an rmcp server on stdin/stdout; upstream an rmcp Streamable HTTP client.
//! Messages are relayed as they are, in both directions, with progress tokens mapped and
//! cancellations passed on. When the gateway restarts, its session is gone (404): the bridge
//! opens a new one with the same client identity and retries the request, so the client never
//! notices. It ends when its stdin closes.
#![allow(deprecated)] // sampling and roots are deprecated by SEP-2577 but still relayed

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use rmcp::model::{
    ClientInfo, ClientNotification, ClientRequest, ClientResult, ErrorCode, ErrorData,
    InitializeRequestParams, ProgressToken, ProtocolVersion, ServerNotification, ServerRequest,
    ServerResult,
};
use rmcp::service::{NotificationContext, Peer, RequestContext, RunningService, ServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, RoleServer, Service, ServiceError};

use crate::upstream::{relay, RelayError};

/// How long the bridge keeps trying to reach a restarting gateway before it answers an error.
const RECONNECT_FOR: Duration = Duration::from_secs(15);
/// Requests are bounded by the gateway's own timeouts; this only catches a vanished gateway.
const REQUEST_LIMIT: Duration = Duration::from_secs(3600);

/// Why the bridge stopped.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("the MCP client on stdin did not initialize: {0}")]
    Downstream(String),
}

/// Runs the bridge on stdin/stdout until stdin closes. `url`: the gateway endpoint to relay
/// to (`http://127.0.0.1:7427/servers/NAME/mcp`, or `/mcp` for the aggregate).
pub async fn run(url: String) -> Result<(), BridgeError> {
    let shared = Arc::new(Shared {
        url,
        client_info: OnceLock::new(),
        downstream: OnceLock::new(),
        upstream: RwLock::new(None),
        connection: tokio::sync::Mutex::new(None),
        progress: Mutex::new(HashMap::new()),
    });
    let server = Downstream {
        shared: Arc::clone(&shared),
    };
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| BridgeError::Downstream(e.to_string()))?;
    let _ = running.waiting().await;
    if let Some(connection) = shared.connection.lock().await.take() {
        let _ = connection.cancel().await;
    }
    Ok(())
}

struct Shared {
    url: String,
    /// What the client said in `initialize`, replayed to every new gateway session.
    client_info: OnceLock<InitializeRequestParams>,
    downstream: OnceLock<Peer<RoleServer>>,
    /// The current gateway session's peer and its generation (cloned out; the lock is never
    /// held across an await).
    upstream: RwLock<Option<(u64, Peer<RoleClient>)>>,
    /// Owns the current gateway session; locked only to replace it.
    connection: tokio::sync::Mutex<Option<RunningService<RoleClient, Upstream>>>,
    /// Gateway-side progress token -> the client's own.
    progress: Mutex<HashMap<ProgressToken, ProgressToken>>,
}

impl Shared {
    fn current(&self) -> Option<(u64, Peer<RoleClient>)> {
        self.upstream
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A live gateway session: the current one, or a new one when generation `stale` is the
    /// current one (it failed) or there is none. Retries while the gateway restarts.
    async fn session(
        self: &Arc<Self>,
        stale: Option<u64>,
    ) -> Result<(u64, Peer<RoleClient>), ErrorData> {
        let mut connection = self.connection.lock().await;
        let mut generation = 0;
        if let Some((current_gen, current)) = self.current() {
            generation = current_gen;
            if stale != Some(current_gen) && !current.is_transport_closed() {
                return Ok((current_gen, current));
            }
        }
        if let Some(old) = connection.take() {
            let _ = old.cancel().await;
        }
        let deadline = tokio::time::Instant::now() + RECONNECT_FOR;
        let mut delay = Duration::from_millis(100);
        loop {
            let upstream = Upstream {
                shared: Arc::clone(self),
            };
            match upstream
                .serve(StreamableHttpClientTransport::from_uri(self.url.clone()))
                .await
            {
                Ok(running) => {
                    let peer = running.peer().clone();
                    let fresh = generation + 1;
                    *self.upstream.write().unwrap_or_else(|p| p.into_inner()) =
                        Some((fresh, peer.clone()));
                    *connection = Some(running);
                    return Ok((fresh, peer));
                }
                Err(e) if tokio::time::Instant::now() + delay < deadline => {
                    tracing::debug!(error = %e, "gateway not reachable yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    return Err(ErrorData::new(
                        ErrorCode::INTERNAL_ERROR,
                        format!(
                            "Switchboard's gateway at {} is not answering ({e}); is `switchboard serve` or the app running?",
                            self.url
                        ),
                        None,
                    ))
                }
            }
        }
    }

    /// Relays one request, reopening the gateway session once if it was lost.
    async fn relay(
        self: &Arc<Self>,
        request: ClientRequest,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        let (mut generation, mut peer) = self.session(None).await?;
        for attempt in 0..2 {
            match self.send(&peer, request.clone(), &ctx).await {
                Err(SendError::SessionLost) if attempt == 0 => {
                    (generation, peer) = self.session(Some(generation)).await?;
                }
                Err(SendError::SessionLost) => break,
                Err(SendError::Failed(error)) => return Err(error),
                Ok(result) => return Ok(result),
            }
        }
        Err(ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            format!(
                "lost the connection to Switchboard's gateway at {}",
                self.url
            ),
            None,
        ))
    }

    async fn send(
        &self,
        peer: &Peer<RoleClient>,
        request: ClientRequest,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, SendError> {
        let mut mapped = None;
        let relayed = relay(peer, request, ctx, REQUEST_LIMIT, |ours, theirs| {
            if let Some(theirs) = theirs {
                self.lock_progress().insert(ours.clone(), theirs);
                mapped = Some(ours);
            }
        })
        .await;
        if let Some(ours) = mapped {
            self.lock_progress().remove(&ours);
        }
        match relayed {
            Ok(result) => Ok(result),
            Err(RelayError::Upstream(e)) => Err(classify(e)),
            Err(RelayError::Cancelled) => Err(SendError::Failed(ErrorData::new(
                ErrorCode::INTERNAL_ERROR,
                "cancelled",
                None,
            ))),
        }
    }

    fn lock_progress(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, ProgressToken>> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }
}

enum SendError {
    /// The gateway forgot the session (it restarted) or the connection broke.
    SessionLost,
    Failed(ErrorData),
}

fn classify(error: ServiceError) -> SendError {
    match error {
        ServiceError::McpError(error) => SendError::Failed(error),
        ServiceError::Timeout { timeout } => SendError::Failed(ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            format!("no answer from the gateway within {}s", timeout.as_secs()),
            None,
        )),
        // Transport failures (closed, 404 session, connection refused) mean a new session.
        _ => SendError::SessionLost,
    }
}

/// The stdio side: what the MCP client talks to.
struct Downstream {
    shared: Arc<Shared>,
}

impl Service<RoleServer> for Downstream {
    async fn handle_request(
        &self,
        request: ClientRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        match request {
            ClientRequest::InitializeRequest(init) => {
                let params = init.params;
                context.peer.set_peer_info(params.clone());
                let _ = self.shared.client_info.set(params);
                let _ = self.shared.downstream.set(context.peer.clone());
                let (_, peer) = self.shared.session(None).await?;
                let info = peer.peer_info().ok_or_else(|| {
                    ErrorData::internal_error("the gateway did not describe itself", None)
                })?;
                let mut result = rmcp::model::InitializeResult::new(info.capabilities.clone());
                result.protocol_version = info.protocol_version.clone();
                if let Some(server_info) = &info.server_info {
                    result.server_info = server_info.clone();
                }
                result.instructions = info.instructions.clone();
                Ok(ServerResult::InitializeResult(result))
            }
            ClientRequest::DiscoverRequest(_) => Err(crate::proxy::discover_not_offered()),
            ClientRequest::PingRequest(_) => Ok(ServerResult::empty(())),
            other => self.shared.relay(other, context).await,
        }
    }

    async fn handle_notification(
        &self,
        notification: ClientNotification,
        _context: NotificationContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // Cancellations are sent by `send` for the gateway's id; the rest pass through.
        if matches!(notification, ClientNotification::CancelledNotification(_)) {
            return Ok(());
        }
        if let Some((_, peer)) = self.shared.current() {
            let _ = peer.send_notification(notification).await;
        }
        Ok(())
    }

    fn get_info(&self) -> rmcp::model::ServerInfo {
        rmcp::model::ServerInfo::default()
    }

    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        crate::proxy::initialize_versions()
    }
}

/// The gateway side: what the gateway's session talks to.
struct Upstream {
    shared: Arc<Shared>,
}

impl Service<RoleClient> for Upstream {
    async fn handle_request(
        &self,
        request: ServerRequest,
        _context: RequestContext<RoleClient>,
    ) -> Result<ClientResult, ErrorData> {
        let Some(peer) = self.shared.downstream.get().cloned() else {
            return Err(ErrorData::internal_error("no client connected yet", None));
        };
        match peer.send_request(request).await {
            Ok(result) => Ok(result),
            Err(ServiceError::McpError(error)) => Err(error),
            Err(other) => Err(ErrorData::internal_error(
                format!("the client did not answer: {other}"),
                None,
            )),
        }
    }

    async fn handle_notification(
        &self,
        notification: ServerNotification,
        _context: NotificationContext<RoleClient>,
    ) -> Result<(), ErrorData> {
        let Some(peer) = self.shared.downstream.get().cloned() else {
            return Ok(());
        };
        let notification = match notification {
            ServerNotification::ProgressNotification(mut progress) => {
                let mapped = self
                    .shared
                    .lock_progress()
                    .get(&progress.params.progress_token)
                    .cloned();
                let Some(token) = mapped else { return Ok(()) };
                progress.params.progress_token = token;
                ServerNotification::ProgressNotification(progress)
            }
            other => other,
        };
        let _ = peer.send_notification(notification).await;
        Ok(())
    }

    fn get_info(&self) -> ClientInfo {
        self.shared.client_info.get().cloned().unwrap_or_default()
    }
}
