//! The routing of one server's endpoint (`/servers/{name}/mcp` and `/sse`): everything goes to
//! that server under its own names, lists included (forwarded, so its pagination is kept), and
//! the tool filter is applied to `tools/list`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use rmcp::model::{
    ClientRequest, ErrorCode, ErrorData, Implementation, InitializeRequestParams, InitializeResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerPeerInfo, ServerResult,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::RoleServer;

use super::changes::{ListChanges, Scope};
use super::endpoint::{FanOut, Listing, Route, Routing, Target};
use super::forward::not_running;
use super::link::SessionLink;
use crate::events::EventBus;
use crate::routing::{Offers, SessionId};
use crate::slot::ServerSlot;

/// See the module documentation. Its session joins the server's registry when it is made and
/// leaves it when dropped.
pub struct OneServer {
    slot: Arc<ServerSlot>,
    /// The hub's events, for the list changes of a 2026 `subscriptions/listen`.
    events: EventBus,
    session: SessionId,
    /// Sessions the server accepts at once (`gateway.maxSessionsPerServer`).
    max_sessions: usize,
    /// Whether the session is in the server's registry (after `initialize`, or the first
    /// 2026-era request).
    joined: AtomicBool,
    /// Where the gateway learns the session's registry id, for its fast calls.
    link: OnceLock<Arc<SessionLink>>,
}

impl OneServer {
    pub fn new(slot: Arc<ServerSlot>, max_sessions: usize, events: EventBus) -> Self {
        let session = slot.sessions().allocate();
        Self {
            slot,
            events,
            session,
            max_sessions,
            joined: AtomicBool::new(false),
            link: OnceLock::new(),
        }
    }

    fn route(&self) -> Route {
        Route {
            slot: Arc::clone(&self.slot),
            session: self.session,
            name: None,
        }
    }

    /// The `initialize` answer, from what the server said of itself (`info`; an on-demand
    /// server asleep is described from its stored catalog, without starting it).
    fn describe(&self, info: Option<&ServerPeerInfo>) -> InitializeResult {
        let mut capabilities = match info {
            Some(info) => info.capabilities.clone(),
            None => ServerCapabilities::default(),
        };
        // The filter can change while a client is connected; it learns through list_changed.
        let tools = capabilities.tools.get_or_insert_with(Default::default);
        tools.list_changed = Some(true);
        let mut result = InitializeResult::new(capabilities);
        result.protocol_version = ProtocolVersion::LATEST_WITH_INITIALIZE;
        match info {
            Some(info) => {
                if let Some(server_info) = &info.server_info {
                    result.server_info = server_info.clone();
                }
                result.instructions = info.instructions.clone();
            }
            None => {
                result.server_info =
                    Implementation::new(self.slot.name().to_owned(), env!("CARGO_PKG_VERSION"));
            }
        }
        result
    }
}

impl Drop for OneServer {
    fn drop(&mut self) {
        self.slot.sessions().unregister(self.session);
    }
}

impl Routing for OneServer {
    fn info(&self) -> InitializeResult {
        self.describe(self.slot.peer_info().as_deref())
    }

    async fn open(
        &self,
        request: &InitializeRequestParams,
        peer: &Peer<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        if self.slot.sessions().len() >= self.max_sessions {
            return Err(ErrorData::new(
                ErrorCode::INTERNAL_ERROR,
                format!(
                    "server '{}' already has {} client sessions (gateway.maxSessionsPerServer); \
                     close some, or wait for idle ones to expire",
                    self.slot.name(),
                    self.max_sessions
                ),
                None,
            ));
        }
        // A client that connects while Switchboard is still launching its servers is served
        // rather than refused (bounded by the startup timeout).
        let startup = self.slot.settings().spec.timeouts.startup();
        self.slot.settled(startup).await;
        let info = self.slot.peer_info().ok_or_else(|| {
            let status = self.slot.status();
            ErrorData::internal_error(not_running(self.slot.name(), &status), None)
        })?;
        self.join(peer, Offers::of(&request.capabilities));
        Ok(self.describe(Some(&info)))
    }

    fn route(&self, _target: Target<'_>) -> Result<Route, ErrorData> {
        Ok(self.route())
    }

    fn list_server(&self) -> Option<&str> {
        Some(self.slot.name())
    }

    fn join(&self, peer: &Peer<RoleServer>, offers: Offers) {
        if !self.joined.swap(true, Ordering::AcqRel) {
            let sessions = self.slot.sessions();
            sessions.register(self.session, peer.clone(), offers, false);
            if let Some(link) = self.link.get() {
                link.record(&self.slot, self.session);
            }
        }
    }

    fn link(&self, link: Arc<SessionLink>) {
        let _ = self.link.set(link);
    }

    fn list_changes(&self) -> ListChanges {
        ListChanges::new(&self.events, None, Scope::One(self.slot.name().to_owned()))
    }

    fn fan_out(&self, _kind: FanOut) -> Vec<Route> {
        vec![self.route()]
    }

    async fn list(
        &self,
        listing: Listing,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        if self.slot.upstream().is_none() && self.slot.serves_from_catalog() {
            return Ok(self.list_from_catalog(listing));
        }
        let route = self.route();
        match listing {
            Listing::Tools(params) => {
                let request = ClientRequest::ListToolsRequest(paginated(params));
                let mut list: ListToolsResult = route.forward(request, ctx, false).await?;
                let settings = self.slot.settings();
                list.tools.retain(|t| settings.filter.exposes(&t.name));
                Ok(ServerResult::ListToolsResult(list))
            }
            Listing::Prompts(params) => {
                let request = ClientRequest::ListPromptsRequest(paginated(params));
                let list: ListPromptsResult = route.forward(request, ctx, false).await?;
                Ok(ServerResult::ListPromptsResult(list))
            }
            Listing::Resources(params) => {
                let request = ClientRequest::ListResourcesRequest(paginated(params));
                let list: ListResourcesResult = route.forward(request, ctx, false).await?;
                Ok(ServerResult::ListResourcesResult(list))
            }
            Listing::Templates(params) => {
                let request = ClientRequest::ListResourceTemplatesRequest(paginated(params));
                let list: ListResourceTemplatesResult = route.forward(request, ctx, false).await?;
                Ok(ServerResult::ListResourceTemplatesResult(list))
            }
        }
    }
}

impl OneServer {
    /// A list answered from the catalog (an on-demand server asleep), whole on one page.
    fn list_from_catalog(&self, listing: Listing) -> ServerResult {
        let catalog = self.slot.catalog();
        match listing {
            Listing::Tools(_) => {
                let settings = self.slot.settings();
                let tools = catalog
                    .tools
                    .iter()
                    .filter(|t| settings.filter.exposes(&t.name))
                    .cloned()
                    .collect();
                ServerResult::ListToolsResult(ListToolsResult::with_all_items(tools))
            }
            Listing::Prompts(_) => ServerResult::ListPromptsResult(
                ListPromptsResult::with_all_items(catalog.prompts.to_vec()),
            ),
            Listing::Resources(_) => ServerResult::ListResourcesResult(
                ListResourcesResult::with_all_items(catalog.resources.to_vec()),
            ),
            Listing::Templates(_) => ServerResult::ListResourceTemplatesResult(
                ListResourceTemplatesResult::with_all_items(catalog.templates.to_vec()),
            ),
        }
    }
}

/// A paginated list request carrying the caller's cursor (if any) as it came.
fn paginated<M: Default>(
    params: Option<PaginatedRequestParams>,
) -> rmcp::model::RequestOptionalParam<M, PaginatedRequestParams> {
    rmcp::model::RequestOptionalParam {
        method: M::default(),
        params,
        extensions: Default::default(),
    }
}
