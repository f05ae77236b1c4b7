//! The one MCP handler behind every endpoint: [`Endpoint`] forwards each request of a
//! downstream session to the server its [`Routing`] names, and answers lists as the routing
//! says. The per-server endpoint ([`super::OneServer`]) and the aggregate and its views
//! ([`super::Aggregate`]) differ only in their routing, so the filter, the timeouts, progress,
//! cancellation and subscriptions behave the same on all of them.
//!
//! One `Endpoint` exists per downstream session (both transports make one per session). Each
//! request is forwarded over a clone of the server's shared [`rmcp::Peer`]; nothing is locked
//! while waiting, so concurrent calls from any number of sessions run concurrently.
#![allow(deprecated)] // logging and resources/subscribe are legacy (SEP-2577) but still served

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::SubscriptionFilter;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, ClientNotification,
    ClientRequest, CompleteRequest, CompleteRequestParams, CompleteResult, ErrorData,
    GetPromptRequest, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    InitializeRequestParams, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, LoggingLevel, PaginatedRequestParams, ProtocolVersion,
    ReadResourceRequest, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Reference, RootsListChangedNotification, ServerResult, SetLevelRequest, SetLevelRequestParams,
    SubscribeRequest, SubscribeRequestParams, UnsubscribeRequest, UnsubscribeRequestParams,
};
use rmcp::service::{
    NotificationContext, Peer, RequestContext, SubscriptionContext, SubscriptionSendError,
};
use rmcp::{RoleServer, ServerHandler};

use super::changes::ListChanges;
use super::forward::{forward, not_exposed, Expected};
use super::link::SessionLink;
use super::rounds::{forward_in_rounds, is_stateless_era, Round};
use super::search::Local;
use crate::routing::{Offers, SessionId};
use crate::slot::ServerSlot;

/// Protocol versions the gateway's endpoints serve: every known one, 2026-07-28's stateless
/// lifecycle (`server/discover`, per-request `_meta`) beside the `initialize` sessions of the
/// earlier ones. rmcp's Streamable HTTP service routes a 2026 request statelessly to a fresh
/// handler; its `ServerHandler` dispatch checks the per-request version against this list.
pub fn served_versions() -> Cow<'static, [ProtocolVersion]> {
    Cow::Borrowed(ProtocolVersion::KNOWN_VERSIONS)
}

/// Protocol versions with the `initialize` lifecycle, for `switchboard connect`, which speaks
/// to the gateway over one session.
pub fn initialize_versions() -> Cow<'static, [ProtocolVersion]> {
    Cow::Borrowed(ProtocolVersion::known_up_to(
        &ProtocolVersion::LATEST_WITH_INITIALIZE,
    ))
}

/// The answer of `switchboard connect` to `server/discover`: this JSON-RPC error makes clients
/// that probe with it (the Python SDK 2.x) fall back to `initialize`.
pub fn discover_not_offered() -> ErrorData {
    ErrorData::method_not_found::<rmcp::model::DiscoverRequestMethod>()
}

/// What a request addresses, by the name it has at the endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    Tool(&'a str),
    Prompt(&'a str),
    Resource(&'a str),
}

/// Where a request goes: a server, our session in its registry, and the name the tool or
/// prompt has there (`None`: the same as at the endpoint).
pub(crate) struct Route {
    pub slot: Arc<ServerSlot>,
    pub session: SessionId,
    pub name: Option<String>,
}

impl Route {
    /// The name at the server, given the one at the endpoint.
    fn name_or<'a>(&'a self, asked: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(asked)
    }

    /// Whether the server is of the stateless era (see [`crate::slot::Upstream::is_stateless`]).
    fn is_stateless(&self) -> bool {
        self.slot.is_stateless()
    }

    fn timeout(&self, tool_call: bool) -> Duration {
        let timeouts = self.slot.settings().spec.timeouts;
        if tool_call {
            timeouts.tool_call()
        } else {
            timeouts.request()
        }
    }

    /// Forwards `request` on behalf of a 2026-era request in `ctx`: in rounds, when the server
    /// asks the client things on the way (see `rounds`). A retry's `requestState` and
    /// `inputResponses` are still on the request.
    async fn forward_in_rounds<T: Expected>(
        &self,
        request: ClientRequest,
        ctx: RequestContext<RoleServer>,
        tool_call: bool,
        binding: String,
    ) -> Result<Round<T>, ErrorData> {
        let timeout = self.timeout(tool_call);
        forward_in_rounds(self, request, ctx, timeout, binding).await
    }

    /// Forwards `request` on behalf of the request in `ctx`.
    pub(super) async fn forward<T: Expected>(
        &self,
        request: ClientRequest,
        ctx: RequestContext<RoleServer>,
        tool_call: bool,
    ) -> Result<T, ErrorData> {
        let timeout = self.timeout(tool_call);
        forward(&self.slot, self.session, request, ctx, timeout).await
    }
}

/// A list request, with the caller's cursor.
pub(crate) enum Listing {
    Tools(Option<PaginatedRequestParams>),
    Prompts(Option<PaginatedRequestParams>),
    Resources(Option<PaginatedRequestParams>),
    Templates(Option<PaginatedRequestParams>),
}

/// Servers a request goes to all of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FanOut {
    /// `logging/setLevel`: the servers that log.
    Logging,
    /// `notifications/roots/list_changed`: the servers this session has used.
    Roots,
}

/// How an endpoint maps its names onto servers and what it lists: the only thing that differs
/// between the per-server endpoint and the aggregate (and its views).
pub(crate) trait Routing: Send + Sync + 'static {
    /// What the endpoint says of itself before a session opens (`get_info`).
    fn info(&self) -> InitializeResult;

    /// Opens the session of `peer` (its `initialize`), or refuses it. The protocol version is
    /// the caller's business.
    fn open(
        &self,
        request: &InitializeRequestParams,
        peer: &Peer<RoleServer>,
    ) -> impl Future<Output = Result<InitializeResult, ErrorData>> + Send;

    /// The server that answers for `target`, or an error naming what is wrong.
    fn route(&self, target: Target<'_>) -> Result<Route, ErrorData>;

    /// A `tools/call` the endpoint answers itself, or turns into another call (the search
    /// mode's meta-tools); `None` for a call routed as usual.
    fn local(&self, _request: &CallToolRequestParams) -> Option<Local> {
        None
    }

    /// The tool a `tools/call` reaches when it is a call of another (the search mode's
    /// `call_tool`), for the activity log; `None` when it is its own.
    fn calls_through(&self, _request: &CallToolRequestParams) -> Option<String> {
        None
    }

    /// The server whose lists the endpoint forwards (`None`: the endpoint answers them from
    /// catalogs itself).
    fn list_server(&self) -> Option<&str>;

    /// The servers a fan-out request or notification goes to.
    fn fan_out(&self, kind: FanOut) -> Vec<Route>;

    /// The list changes of the servers behind the endpoint, from now on.
    fn list_changes(&self) -> ListChanges;

    /// The session's [`SessionLink`], given before [`open`](Self::open): every registry the
    /// session joins from then on is recorded on it.
    fn link(&self, link: Arc<SessionLink>);

    /// A 2026-era request comes without `initialize`: its client (the request's own peer and
    /// the capabilities in its `_meta`) joins here, so what the server sends during the call
    /// (progress, requests) can reach it. Called before each routed request; only the first
    /// call of a handler counts.
    fn join(&self, peer: &Peer<RoleServer>, offers: Offers);

    /// The answer to a list request (already filtered by the servers' tool filters).
    fn list(
        &self,
        listing: Listing,
        ctx: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ServerResult, ErrorData>> + Send;
}

/// See the module documentation.
pub struct Endpoint<R> {
    routing: R,
    /// The level this (2025-era) session set with `logging/setLevel`: a stateless server has
    /// no such method and hears it in each request's `_meta` instead.
    log_level: std::sync::Mutex<Option<LoggingLevel>>,
}

impl<R: Routing> Endpoint<R> {
    pub(crate) fn new(routing: R) -> Self {
        Self {
            routing,
            log_level: std::sync::Mutex::new(None),
        }
    }

    /// The routing, as it is (for the activity log, after the request).
    pub(super) fn routes(&self) -> &R {
        &self.routing
    }

    /// Puts the session's log level on a request that does not name one (only a stateless
    /// server is given it; see `upstream::relay`).
    fn with_log_level(&self, mut ctx: RequestContext<RoleServer>) -> RequestContext<RoleServer> {
        let level = *self.log_level.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(level) = level.filter(|_| ctx.meta.log_level().is_none()) {
            ctx.meta.set_log_level(level);
        }
        ctx
    }

    /// The routing, with the caller joined when it came without `initialize` (2026 era).
    fn routing(&self, ctx: &RequestContext<RoleServer>) -> &R {
        if let Some(capabilities) = ctx.meta.client_capabilities() {
            self.routing.join(&ctx.peer, Offers::of(&capabilities));
        }
        &self.routing
    }

    async fn list<T: Expected>(
        &self,
        listing: Listing,
        ctx: RequestContext<RoleServer>,
    ) -> Result<T, ErrorData> {
        let result = self.routing(&ctx).list(listing, ctx).await?;
        T::pick(result).map_err(|_| {
            ErrorData::internal_error("internal error: a list of another kind was answered", None)
        })
    }

    /// `resources/subscribe` and `unsubscribe`: counted per URI in the owner's registry, so
    /// the server hears of the first subscriber and the last unsubscriber only.
    async fn subscription(
        &self,
        uri: &str,
        subscribe: bool,
        request: ClientRequest,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let route = self.routing(&ctx).route(Target::Resource(uri))?;
        let sessions = route.slot.sessions();
        let tell_server = if subscribe {
            sessions.subscribe(route.session, uri)
        } else {
            sessions.unsubscribe(route.session, uri)
        };
        if !tell_server {
            return Ok(());
        }
        if !route.is_stateless() {
            route.forward::<ServerResult>(request, ctx, false).await?;
        } else if subscribe {
            // No resources/subscribe in that era: the updates come on a listen stream.
            if let Err(e) = super::watch::follow_resource(&route.slot, uri).await {
                sessions.unsubscribe(route.session, uri);
                return Err(e);
            }
        } else {
            sessions.unwatch(uri);
        }
        Ok(())
    }
}

impl<R: Routing> ServerHandler for Endpoint<R> {
    fn get_info(&self) -> InitializeResult {
        self.routing.info()
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        served_versions()
    }

    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::DiscoverResult, ErrorData> {
        let versions = served_versions().into_owned();
        Ok(rmcp::model::DiscoverResult::from_server_info(
            versions,
            self.routing.info(),
        ))
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        if let Some(link) = SessionLink::of(&context) {
            self.routing.link(link);
        }
        let mut result = self.routing.open(&request, &context.peer).await?;
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
        self.list(Listing::Tools(request), context).await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let context = self.with_log_level(context);
        let mut request = match self.routing(&context).local(&request) {
            Some(Local::Answer(result)) => return Ok(CallToolResponse::Complete(result)),
            Some(Local::Call(call)) => call,
            None => request,
        };
        let route = self.routing(&context).route(Target::Tool(&request.name))?;
        let tool = route.name_or(&request.name).to_owned();
        if !route.slot.settings().filter.exposes(&tool) {
            return Err(not_exposed(route.slot.name(), &tool));
        }
        let binding = format!("tools/call {} {tool}", route.slot.name());
        request.name = tool.into();
        if is_stateless_era(&context) {
            let request = ClientRequest::CallToolRequest(CallToolRequest::new(request));
            let round = route.forward_in_rounds(request, context, true, binding);
            return Ok(match round.await? {
                Round::Complete(result) => CallToolResponse::Complete(result),
                Round::InputRequired(input) => CallToolResponse::InputRequired(input),
            });
        }
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(request));
        let result: CallToolResult = route.forward(request, context, true).await?;
        Ok(CallToolResponse::Complete(result))
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.list(Listing::Prompts(request), context).await
    }

    async fn get_prompt(
        &self,
        mut request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let context = self.with_log_level(context);
        let route = self
            .routing(&context)
            .route(Target::Prompt(&request.name))?;
        request.name = route.name_or(&request.name).to_owned();
        if is_stateless_era(&context) {
            let binding = format!("prompts/get {} {}", route.slot.name(), request.name);
            let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(request));
            let round = route.forward_in_rounds(request, context, false, binding);
            return Ok(match round.await? {
                Round::Complete(result) => GetPromptResponse::Complete(result),
                Round::InputRequired(input) => GetPromptResponse::InputRequired(input),
            });
        }
        let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(request));
        let result: GetPromptResult = route.forward(request, context, false).await?;
        Ok(GetPromptResponse::Complete(result))
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.list(Listing::Resources(request), context).await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.list(Listing::Templates(request), context).await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let context = self.with_log_level(context);
        let route = self
            .routing(&context)
            .route(Target::Resource(&request.uri))?;
        if is_stateless_era(&context) {
            let binding = format!("resources/read {} {}", route.slot.name(), request.uri);
            let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(request));
            let round = route.forward_in_rounds(request, context, false, binding);
            return Ok(match round.await? {
                Round::Complete(result) => ReadResourceResponse::Complete(result),
                Round::InputRequired(input) => ReadResourceResponse::InputRequired(input),
            });
        }
        let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(request));
        let result: ReadResourceResult = route.forward(request, context, false).await?;
        Ok(ReadResourceResponse::Complete(result))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let uri = request.uri.clone();
        let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(request));
        self.subscription(&uri, true, request, context).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let uri = request.uri.clone();
        let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(request));
        self.subscription(&uri, false, request, context).await
    }

    async fn complete(
        &self,
        mut request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let context = self.with_log_level(context);
        let routing = self.routing(&context);
        let route = match &mut request.r#ref {
            Reference::Prompt(prompt) => {
                let route = routing.route(Target::Prompt(&prompt.name))?;
                prompt.name = route.name_or(&prompt.name).to_owned();
                route
            }
            Reference::Resource(resource) => routing.route(Target::Resource(&resource.uri))?,
            _ => {
                return Err(ErrorData::invalid_params(
                    "completion reference of an unknown kind",
                    None,
                ))
            }
        };
        let request = ClientRequest::CompleteRequest(CompleteRequest::new(request));
        route.forward(request, context, false).await
    }

    /// Sets the level on every server that logs. One server's refusal is its own answer; of
    /// several, the level is set where it can be and the failures are only logged.
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // A stateless server has no logging/setLevel: it logs per request, at the level a
        // 2026 caller's `_meta` names.
        *self.log_level.lock().unwrap_or_else(|p| p.into_inner()) = Some(request.level);
        let mut routes = self.routing(&context).fan_out(FanOut::Logging);
        // Nor is an on-demand server asleep started for it (clients set a level as they
        // connect; the level is not passed on when it starts later).
        routes.retain(|route| !route.is_stateless() && !route.slot.serves_from_catalog());
        let sets = routes.iter().map(|route| {
            let request = ClientRequest::SetLevelRequest(SetLevelRequest::new(request.clone()));
            route.forward::<ServerResult>(request, context.clone(), false)
        });
        let mut results = futures::future::join_all(sets).await;
        if routes.len() == 1 {
            if let Some(only) = results.pop() {
                return only.map(drop);
            }
        }
        for (route, result) in routes.iter().zip(results) {
            if let Err(e) = result {
                tracing::debug!(server = route.slot.name(), error = %e.message,
                    "logging/setLevel failed on one server");
            }
        }
        Ok(())
    }

    /// 2026-07-28's `subscriptions/listen`: the list changes of the endpoint's servers.
    /// Resource updates are not offered on a listen stream yet (`resources/subscribe` serves
    /// the 2025 era).
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = requested.clone();
        accepted.resource_subscriptions = None;
        Some(accepted)
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.routing.list_changes();
        loop {
            let notifications = tokio::select! {
                _ = subscription.cancelled() => return Ok(()),
                next = changes.next() => match next {
                    Some(notifications) => notifications,
                    None => return Ok(()),
                },
            };
            for notification in notifications {
                match subscription.sink().send(notification).await {
                    Ok(()) | Err(SubscriptionSendError::NotificationNotAccepted(_)) => {}
                    Err(_) => return Ok(()), // the stream is gone
                }
            }
        }
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        for route in self.routing.fan_out(FanOut::Roots) {
            // A stateless server asks for roots in each call that needs them.
            if let Some(upstream) = route.slot.upstream().filter(|u| !u.is_stateless()) {
                let n = ClientNotification::RootsListChangedNotification(
                    RootsListChangedNotification::default(),
                );
                let _ = upstream.peer.send_notification(n).await;
            }
        }
    }
}
