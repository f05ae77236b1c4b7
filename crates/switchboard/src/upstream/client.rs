//! The client side of the proxy: what Switchboard is to the child server.
//!
//! It answers the child's requests by forwarding them to the right downstream session
//! (see [`SessionRegistry`]) and fans the child's notifications out. It owns no state of its
//! own beyond the handles it was given, so a restart of the child builds a fresh one.
#![allow(deprecated)] // sampling and roots are deprecated by SEP-2577 but still used by servers

use std::sync::Arc;

use rmcp::model::{
    ClientCapabilities, ClientInfo, ClientResult, EmptyResult, ErrorCode, ErrorData,
    Implementation, ProtocolVersion, ServerNotification, ServerRequest,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{RoleClient, Service};
use tokio::sync::mpsc;

use crate::routing::{
    ask_client, post_all, Ask, ClientFeature, ProgressIndex, SessionRegistry, Target,
    CLIENT_ANSWER_TIMEOUT, DOWNSTREAM_SEND_TIMEOUT, PROGRESS_ROUTE_WAIT,
};

/// A part of a server's catalog. The child's list_changed notifications are passed to the
/// supervisor as the part to fetch again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogPart {
    /// `tools/list` (`notifications/tools/list_changed`).
    Tools,
    /// `prompts/list` (`notifications/prompts/list_changed`).
    Prompts,
    /// `resources/list` and `resources/templates/list`
    /// (`notifications/resources/list_changed`).
    Resources,
}

impl CatalogPart {
    /// Every part of the catalog, for the first fetch.
    pub const ALL: [CatalogPart; 3] = [
        CatalogPart::Tools,
        CatalogPart::Prompts,
        CatalogPart::Resources,
    ];
}

/// See the module documentation. A clone shares the handles (the supervisor keeps one to pass
/// on what a stateless server sends on its `subscriptions/listen` stream).
#[derive(Clone)]
pub struct UpstreamClient {
    server: String,
    sessions: Arc<SessionRegistry>,
    signals: mpsc::UnboundedSender<CatalogPart>,
    /// The server's log: its `notifications/message` are kept there too (for a remote server
    /// they are all the log there is beside Switchboard's own notes).
    log: Arc<crate::logs::ServerLog>,
}

impl UpstreamClient {
    pub fn new(
        server: String,
        sessions: Arc<SessionRegistry>,
        signals: mpsc::UnboundedSender<CatalogPart>,
        log: Arc<crate::logs::ServerLog>,
    ) -> Self {
        Self {
            server,
            sessions,
            signals,
            log,
        }
    }

    async fn forward_to_client(
        &self,
        feature: ClientFeature,
        request: ServerRequest,
    ) -> Result<ClientResult, ErrorData> {
        let Some(target) = self.sessions.pick(feature) else {
            // Expected, not a fault (server-everything asks for roots as it starts, before any
            // client is connected): debug here; telemetry drops rmcp's WARN about the error.
            let message = format!(
                "{} '{}' supports {}",
                crate::telemetry::NO_CAPABLE_CLIENT,
                self.server,
                feature.name()
            );
            tracing::debug!(server = %self.server, "refused the server's request: {message}");
            return Err(ErrorData::new(ErrorCode::METHOD_NOT_FOUND, message, None));
        };
        let (peer, related_request) = match target {
            Target::Peer {
                peer,
                related_request,
            } => (peer, related_request),
            Target::Call(asks) => return ask_through_call(&self.server, asks, request).await,
        };
        ask_client(&peer, request, related_request)
            .await
            .map_err(|e| match e {
                rmcp::ServiceError::McpError(error) => error,
                other => client_gone(&self.server, other),
            })
    }

    /// Passes a progress notification to its caller, after those read before it (`index`).
    async fn route_progress(
        &self,
        mut notification: rmcp::model::ProgressNotification,
        index: Option<ProgressIndex>,
    ) {
        let token = notification.params.progress_token.clone();
        let route = self
            .sessions
            .wait_for_route(&token, PROGRESS_ROUTE_WAIT)
            .await;
        let Some((peer, downstream_token)) = route else {
            tracing::debug!(server = %self.server, ?token, "progress for no request in flight");
            self.sessions.progress_delivered(&token, true);
            return;
        };
        if let Some(index) = index {
            self.sessions
                .wait_for_progress_turn(&token, index, PROGRESS_ROUTE_WAIT)
                .await;
        }
        notification.params.progress_token = downstream_token;
        let send = peer.send_notification(ServerNotification::ProgressNotification(notification));
        let _ = tokio::time::timeout(DOWNSTREAM_SEND_TIMEOUT, send).await;
        self.sessions.progress_delivered(&token, false);
    }

    /// Passes on a notification of the server: progress to its caller, list changes to the
    /// supervisor and this server's sessions, resource updates to their subscribers, log
    /// messages to everyone.
    pub async fn notified(&self, notification: ServerNotification) {
        match notification {
            ServerNotification::ProgressNotification(n) => self.route_progress(n, None).await,
            ServerNotification::ToolListChangedNotification(_) => {
                let _ = self.signals.send(CatalogPart::Tools);
                self.broadcast_list_changed(notification);
            }
            ServerNotification::ResourceUpdatedNotification(ref n) => {
                let subscribers = self.sessions.subscribers(&n.params.uri);
                post_all(subscribers, notification);
            }
            ServerNotification::ResourceListChangedNotification(_) => {
                let _ = self.signals.send(CatalogPart::Resources);
                self.broadcast_list_changed(notification);
            }
            ServerNotification::PromptListChangedNotification(_) => {
                let _ = self.signals.send(CatalogPart::Prompts);
                self.broadcast_list_changed(notification);
            }
            ServerNotification::LoggingMessageNotification(n) => {
                let p = &n.params;
                let data = match &p.data {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let logger = p
                    .logger
                    .as_deref()
                    .map(|l| format!(" {l}"))
                    .unwrap_or_default();
                let level = serde_json::to_value(p.level).unwrap_or_default();
                let level = level.as_str().unwrap_or("log");
                self.log.push(format!("[{level}{logger}] {data}"));
                post_all(
                    self.sessions.everyone(),
                    ServerNotification::LoggingMessageNotification(n),
                )
            }
            ServerNotification::CancelledNotification(n) => {
                // The child gave up on a request it made to us; the client's answer will be
                // dropped by rmcp when it arrives.
                tracing::debug!(server = %self.server, ?n.params.request_id, "child cancelled a request");
            }
            other => {
                tracing::debug!(server = %self.server, ?other, "notification not forwarded");
            }
        }
    }

    /// To the sessions of this server's own endpoint (aggregate sessions hear of list
    /// changes from the hub, with prefixed names).
    fn broadcast_list_changed(&self, notification: ServerNotification) {
        post_all(self.sessions.direct(), notification);
    }
}

/// Asks a 2026-era caller through its call, which answers it `input_required` and waits for
/// the caller's retry with the answer.
async fn ask_through_call(
    server: &str,
    asks: tokio::sync::mpsc::UnboundedSender<Ask>,
    request: ServerRequest,
) -> Result<ClientResult, ErrorData> {
    let gone = || {
        ErrorData::internal_error(
            format!("the client asked for server '{server}' went away before answering"),
            None,
        )
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    asks.send(Ask { request, reply }).map_err(|_| gone())?;
    match tokio::time::timeout(CLIENT_ANSWER_TIMEOUT, answer).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(gone()),
        Err(_) => Err(ErrorData::internal_error(
            format!(
                "the client asked for server '{server}' did not answer within {}s",
                CLIENT_ANSWER_TIMEOUT.as_secs()
            ),
            None,
        )),
    }
}

fn client_gone(server: &str, error: rmcp::ServiceError) -> ErrorData {
    ErrorData::internal_error(
        format!("the client chosen to answer server '{server}' did not: {error}"),
        None,
    )
}

impl Service<RoleClient> for UpstreamClient {
    async fn handle_request(
        &self,
        request: ServerRequest,
        _context: RequestContext<RoleClient>,
    ) -> Result<ClientResult, ErrorData> {
        match request {
            ServerRequest::PingRequest(_) => Ok(ClientResult::EmptyResult(EmptyResult {})),
            ServerRequest::CreateMessageRequest(_) => {
                self.forward_to_client(ClientFeature::Sampling, request)
                    .await
            }
            ServerRequest::ElicitRequest(_) => {
                self.forward_to_client(ClientFeature::Elicitation, request)
                    .await
            }
            ServerRequest::ListRootsRequest(_) => {
                self.forward_to_client(ClientFeature::Roots, request).await
            }
            other => Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("Switchboard does not forward this request from servers: {other:?}"),
                None,
            )),
        }
    }

    async fn handle_notification(
        &self,
        notification: ServerNotification,
        context: NotificationContext<RoleClient>,
    ) -> Result<(), ErrorData> {
        match notification {
            ServerNotification::ProgressNotification(n) => {
                let index = context.extensions.get::<ProgressIndex>().copied();
                self.route_progress(n, index).await;
            }
            other => self.notified(other).await,
        }
        Ok(())
    }

    fn get_info(&self) -> ClientInfo {
        // Offer every client-side feature: whether a real client can answer is decided per
        // request, and an error names the missing capability.
        let capabilities = ClientCapabilities::builder()
            .enable_roots()
            .enable_roots_list_changed()
            .enable_sampling()
            .enable_elicitation()
            .build();
        let mut info = ClientInfo::new(
            capabilities,
            Implementation::new("switchboard", env!("CARGO_PKG_VERSION")),
        );
        info.protocol_version = ProtocolVersion::LATEST_WITH_INITIALIZE;
        info
    }
}
