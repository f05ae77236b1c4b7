//! The server side of the proxy: what Switchboard is to one downstream client session.
//!
//! One [`ServerProxy`] exists per downstream session (both transports make one per session).
//! Each request is forwarded over a clone of the child's shared [`rmcp::Peer`]; nothing is
//! locked while waiting, so concurrent calls from any number of sessions run concurrently.
//! The tool filter is applied to `tools/list` and enforced on `tools/call`.
#![allow(deprecated)] // logging and resources/subscribe are legacy (SEP-2577) but still served

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, ClientNotification,
    ClientRequest, CompleteRequest, CompleteRequestParams, CompleteResult, ErrorData,
    GetPromptRequest, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    InitializeRequestParams, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion,
    ReadResourceRequest, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    RootsListChangedNotification, ServerCapabilities, ServerResult, SetLevelRequest,
    SetLevelRequestParams, SubscribeRequest, SubscribeRequestParams, UnsubscribeRequest,
    UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{RoleServer, ServerHandler};

use super::forward::{forward, not_exposed, paginated, upstream_of, Expected};
use crate::routing::SessionId;
use crate::slot::{ServerSlot, Upstream};

/// Protocol versions offered downstream: every version with the `initialize` lifecycle.
/// 2026-07-28's inline lifecycle is not offered yet, so `server/discover` gets a JSON-RPC error
/// and clients fall back to `initialize` (see ARCHITECTURE.md).
pub fn supported_versions() -> Cow<'static, [ProtocolVersion]> {
    Cow::Borrowed(ProtocolVersion::known_up_to(
        &ProtocolVersion::LATEST_WITH_INITIALIZE,
    ))
}

/// The answer to `server/discover`: 2026-07-28's inline lifecycle is not offered, and this
/// JSON-RPC error is what makes clients that probe with it (the Python SDK 2.x) fall back to
/// `initialize`.
pub fn discover_not_offered() -> ErrorData {
    ErrorData::method_not_found::<rmcp::model::DiscoverRequestMethod>()
}

/// See the module documentation.
pub struct ServerProxy {
    slot: Arc<ServerSlot>,
    session: SessionId,
    /// Sessions the server accepts at once (`gateway.maxSessionsPerServer`).
    max_sessions: usize,
}

impl ServerProxy {
    pub fn new(slot: Arc<ServerSlot>, max_sessions: usize) -> Self {
        let session = slot.sessions().allocate();
        Self {
            slot,
            session,
            max_sessions,
        }
    }

    fn server(&self) -> &str {
        self.slot.name()
    }

    fn upstream(&self) -> Result<Upstream, ErrorData> {
        upstream_of(&self.slot)
    }

    async fn forward<T: Expected>(
        &self,
        request: ClientRequest,
        ctx: RequestContext<RoleServer>,
        timeout: Duration,
    ) -> Result<T, ErrorData> {
        forward(&self.slot, self.session, request, ctx, timeout).await
    }

    /// Waits (bounded by the startup timeout) for a starting server, so a client that connects
    /// while Switchboard is still launching its servers is served rather than refused.
    async fn wait_until_settled(&self) {
        let startup = self.slot.settings().spec.timeouts.startup();
        self.slot.settled(startup).await;
    }

    fn request_timeout(&self) -> Duration {
        self.slot.settings().spec.timeouts.request()
    }

    fn initialize_result(&self, upstream: Option<&Upstream>) -> InitializeResult {
        let mut capabilities = match upstream {
            Some(u) => u.info.capabilities.clone(),
            None => ServerCapabilities::default(),
        };
        // The filter can change while a client is connected; it learns through list_changed.
        let tools = capabilities.tools.get_or_insert_with(Default::default);
        tools.list_changed = Some(true);
        let mut result = InitializeResult::new(capabilities);
        result.protocol_version = ProtocolVersion::LATEST_WITH_INITIALIZE;
        if let Some(u) = upstream {
            if let Some(server_info) = &u.info.server_info {
                result.server_info = server_info.clone();
            }
            result.instructions = u.info.instructions.clone();
        } else {
            result.server_info = rmcp::model::Implementation::new(
                self.server().to_owned(),
                env!("CARGO_PKG_VERSION"),
            );
        }
        result
    }
}

impl Drop for ServerProxy {
    fn drop(&mut self) {
        self.slot.sessions().unregister(self.session);
    }
}

impl ServerHandler for ServerProxy {
    fn get_info(&self) -> InitializeResult {
        self.initialize_result(self.slot.upstream().as_ref())
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        supported_versions()
    }

    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::DiscoverResult, ErrorData> {
        Err(discover_not_offered())
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        if self.slot.sessions().len() >= self.max_sessions {
            return Err(ErrorData::new(
                rmcp::model::ErrorCode::INTERNAL_ERROR,
                format!(
                    "server '{}' already has {} client sessions (gateway.maxSessionsPerServer); \
                     close some, or wait for idle ones to expire",
                    self.server(),
                    self.max_sessions
                ),
                None,
            ));
        }
        self.wait_until_settled().await;
        let upstream = self.upstream()?;
        self.slot.sessions().register(
            self.session,
            context.peer.clone(),
            request.capabilities.clone(),
            false,
        );
        let mut result = self.initialize_result(Some(&upstream));
        // rmcp negotiates the final version from the client's request and our supported list.
        result.protocol_version = request.protocol_version;
        Ok(result)
    }

    async fn ping(&self, _context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let request = ClientRequest::ListToolsRequest(paginated(request));
        let mut list: ListToolsResult = self
            .forward(request, context, self.request_timeout())
            .await?;
        let settings = self.slot.settings();
        list.tools.retain(|t| settings.filter.exposes(&t.name));
        Ok(list)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let settings = self.slot.settings();
        if !settings.filter.exposes(&request.name) {
            return Err(not_exposed(self.server(), &request.name));
        }
        let timeout = settings.spec.timeouts.tool_call();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(request));
        let result: CallToolResult = self.forward(request, context, timeout).await?;
        Ok(CallToolResponse::Complete(result))
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let request = ClientRequest::ListPromptsRequest(paginated(request));
        self.forward(request, context, self.request_timeout()).await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(request));
        let result: GetPromptResult = self
            .forward(request, context, self.request_timeout())
            .await?;
        Ok(GetPromptResponse::Complete(result))
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let request = ClientRequest::ListResourcesRequest(paginated(request));
        self.forward(request, context, self.request_timeout()).await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let request = ClientRequest::ListResourceTemplatesRequest(paginated(request));
        self.forward(request, context, self.request_timeout()).await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(request));
        let result: ReadResourceResult = self
            .forward(request, context, self.request_timeout())
            .await?;
        Ok(ReadResourceResponse::Complete(result))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let first = self.slot.sessions().subscribe(self.session, &request.uri);
        if first {
            let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(request));
            self.forward::<ServerResult>(request, context, self.request_timeout())
                .await?;
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let last = self.slot.sessions().unsubscribe(self.session, &request.uri);
        if last {
            let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(request));
            self.forward::<ServerResult>(request, context, self.request_timeout())
                .await?;
        }
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let request = ClientRequest::CompleteRequest(CompleteRequest::new(request));
        self.forward(request, context, self.request_timeout()).await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let request = ClientRequest::SetLevelRequest(SetLevelRequest::new(request));
        self.forward::<ServerResult>(request, context, self.request_timeout())
            .await?;
        Ok(())
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        if let Some(upstream) = self.slot.upstream() {
            let n = ClientNotification::RootsListChangedNotification(
                RootsListChangedNotification::default(),
            );
            let _ = upstream.peer.send_notification(n).await;
        }
    }
}
