//! [`Recorded`]: an endpoint whose every request is written to the activity log.
//!
//! It wraps the [`Endpoint`] as an rmcp `ServerHandler` of its own (rmcp's Streamable HTTP
//! service takes only those), so it sees each request as rmcp hands it over and its answer,
//! on both transports and both eras, whatever the routing. Each method it overrides is one
//! the endpoint overrides; the others keep rmcp's defaults, as the endpoint does. Nothing is
//! measured while the log is off; when on, sizes are counted by serialising into a counter
//! (no buffer). Calls on the fast path are recorded by `FastCall` itself.
#![allow(deprecated)] // logging/setLevel is legacy (SEP-2577) but still served

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, DiscoverResult,
    ErrorData, GetPromptRequestParams, GetPromptResponse, InitializeRequestParams,
    InitializeResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, Reference, RequestId, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, Peer, RequestContext, SubscriptionContext};
use rmcp::{RoleServer, ServerHandler};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::endpoint::{Endpoint, Routing, Target};
use super::forward::is_timeout;
use crate::activity::{
    capture, client_label, is_dashboard, ActivityLog, Origin, Outcome, Recording,
};

/// See the module documentation.
pub struct Recorded<R> {
    endpoint: Endpoint<R>,
    log: Arc<ActivityLog>,
    origin: Origin,
}

/// How a session's requests are recorded: into which log, as coming from where.
#[derive(Clone)]
pub struct Tap {
    pub log: Arc<ActivityLog>,
    pub origin: Origin,
}

/// What a request addresses (its name is the entry's).
#[derive(Clone, Copy)]
enum Kind {
    Tool,
    Prompt,
    Resource,
    /// A list (or the log level): the server whose lists the endpoint forwards, if any.
    Lists,
    /// Answered by the gateway itself.
    Gateway,
}

/// A request being recorded, with what its end needs.
struct Watch {
    recording: Recording,
    kind: Kind,
    id: RequestId,
    cancelled: CancellationToken,
    peer: Peer<RoleServer>,
}

/// What the log needs of an answer: its size, its JSON (for capture), and whether it is a
/// tool's result with `isError`.
trait Answer {
    fn json(&self) -> serde_json::Value;
    fn size(&self) -> u64;
    fn is_tool_error(&self) -> bool {
        false
    }
    /// The protocol version an `initialize` agreed.
    fn protocol_version(&self) -> Option<&str> {
        None
    }
}

macro_rules! plain_answers {
    ($($t:ty),*) => {$(
        impl Answer for $t {
            fn json(&self) -> serde_json::Value {
                serde_json::to_value(self).unwrap_or_default()
            }
            fn size(&self) -> u64 {
                json_len(self)
            }
        }
    )*};
}
impl Answer for InitializeResult {
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn size(&self) -> u64 {
        json_len(self)
    }
    fn protocol_version(&self) -> Option<&str> {
        Some(self.protocol_version.as_str())
    }
}

plain_answers!(
    (),
    DiscoverResult,
    ListToolsResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    CompleteResult
);

/// The 2026 era's answers: complete, or asking the caller for input.
macro_rules! round_answers {
    ($($t:ident $(=> $tool_error:expr)?),*) => {$(
        impl Answer for $t {
            fn json(&self) -> serde_json::Value {
                match self {
                    $t::Complete(result) => serde_json::to_value(result),
                    $t::InputRequired(input) => serde_json::to_value(input),
                    _ => Ok(serde_json::Value::Null),
                }
                .unwrap_or_default()
            }
            fn size(&self) -> u64 {
                match self {
                    $t::Complete(result) => json_len(result),
                    $t::InputRequired(input) => json_len(input),
                    _ => 0,
                }
            }
            $(fn is_tool_error(&self) -> bool {
                ($tool_error)(self)
            })?
        }
    )*};
}
round_answers!(
    CallToolResponse => |answer: &CallToolResponse| matches!(
        answer,
        CallToolResponse::Complete(result) if result.is_error == Some(true)
    ),
    GetPromptResponse,
    ReadResourceResponse
);

impl<R: Routing> Recorded<R> {
    pub(crate) fn new(endpoint: Endpoint<R>, tap: Tap) -> Self {
        Self {
            endpoint,
            log: tap.log,
            origin: tap.origin,
        }
    }

    /// Begins recording the request `method` (`params` as sent, addressing `name` as `kind`)
    /// of `context`; `None` when the log is off.
    fn watch(
        &self,
        method: &str,
        (kind, name): (Kind, Option<&str>),
        params: &impl Serialize,
        context: &RequestContext<RoleServer>,
    ) -> Option<Watch> {
        let mut origin = self.origin.clone();
        if let Some(info) = context.meta.client_info() {
            origin.client = Some(client_label(&info.name, &info.version));
        }
        if let Some(version) = context.meta.protocol_version() {
            origin.protocol = Some(Arc::from(version.as_str()));
        }
        if origin.session.is_none() {
            origin.session = context
                .extensions
                .get::<http::request::Parts>()
                .and_then(|parts| parts.headers.get("mcp-session-id"))
                .and_then(|id| id.to_str().ok())
                .map(Arc::from);
        }
        if origin.client.is_none() {
            if let Some(info) = context.peer.peer_info() {
                let client = &info.client_info;
                origin.client = Some(client_label(&client.name, &client.version));
                origin.protocol = Some(Arc::from(info.protocol_version.as_str()));
            }
        }
        let mut recording = self.log.begin(&origin, method)?;
        let limit = recording.capture_limit();
        let entry = recording.entry();
        entry.name = name.map(str::to_owned);
        entry.request_bytes = envelope_len(&context.id, method) + json_len(params);
        if let Some(limit) = limit {
            let params = serde_json::to_value(params).unwrap_or_default();
            entry.request = Some(capture::capture(params, limit));
        }
        Some(Watch {
            recording,
            kind,
            id: context.id.clone(),
            cancelled: context.ct.clone(),
            peer: context.peer.clone(),
        })
    }

    /// Writes how the request of `watch` ended, and hands its `result` on.
    fn end<T: Answer>(
        &self,
        watch: Option<Watch>,
        result: Result<T, ErrorData>,
    ) -> Result<T, ErrorData> {
        let Some(mut watch) = watch else {
            return result;
        };
        let limit = watch.recording.capture_limit();
        let entry = watch.recording.entry();
        if entry.client.is_none() {
            // An `initialize`: its client is known once it has been answered.
            if let Some(info) = watch.peer.peer_info() {
                let client = &info.client_info;
                entry.client = Some(client_label(&client.name, &client.version));
                entry.from_dashboard = is_dashboard(&client.name);
            }
        }
        if let Ok(answer) = &result {
            if let Some(version) = answer.protocol_version() {
                entry.protocol = Some(Arc::from(version));
            }
        }
        (entry.server, entry.name) = self.answered_by(watch.kind, entry.name.take());
        match &result {
            Ok(answer) => {
                entry.response_bytes = envelope_len(&watch.id, "") + answer.size();
                if answer.is_tool_error() {
                    entry.outcome = Outcome::ToolError;
                }
            }
            Err(error) => {
                entry.response_bytes = envelope_len(&watch.id, "") + json_len(error);
                entry.outcome = if watch.cancelled.is_cancelled() {
                    Outcome::Cancelled
                } else if is_timeout(error) {
                    Outcome::Timeout
                } else {
                    Outcome::Error
                };
                entry.error_code = Some(error.code.0);
                entry.error = Some(error.message.to_string());
            }
        }
        if let Some(limit) = limit {
            let answer = match &result {
                Ok(answer) => answer.json(),
                Err(error) => serde_json::to_value(error).unwrap_or_default(),
            };
            entry.response = Some(capture::capture(answer, limit));
        }
        watch.recording.finish();
        result
    }

    /// The server that answered a request addressing `name` as `kind`, and the name it has
    /// there, as the routing says (asked after the call: the call is what joins a 2026 caller
    /// to the routing).
    fn answered_by(&self, kind: Kind, name: Option<String>) -> (Option<Arc<str>>, Option<String>) {
        let routes = self.endpoint.routes();
        let target = match (kind, name.as_deref()) {
            (Kind::Tool, Some(name)) => Target::Tool(name),
            (Kind::Prompt, Some(name)) => Target::Prompt(name),
            (Kind::Resource, Some(uri)) => Target::Resource(uri),
            (Kind::Lists, _) => return (routes.list_server().map(Arc::from), name),
            _ => return (None, name),
        };
        match routes.route(target) {
            Ok(route) => {
                let server = Some(Arc::from(route.slot.name()));
                (server, route.name.or(name))
            }
            Err(_) => (None, name),
        }
    }
}

impl<R: Routing> ServerHandler for Recorded<R> {
    fn get_info(&self) -> InitializeResult {
        self.endpoint.get_info()
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.endpoint.supported_protocol_versions()
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        let watch = self.watch("server/discover", (Kind::Gateway, None), &(), &context);
        let result = self.endpoint.discover(context).await;
        self.end(watch, result)
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        let watch = self.watch("initialize", (Kind::Gateway, None), &request, &context);
        let result = self.endpoint.initialize(request, context).await;
        self.end(watch, result)
    }

    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        let watch = self.watch("ping", (Kind::Gateway, None), &(), &context);
        let result = self.endpoint.ping(context).await;
        self.end(watch, result)
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let watch = self.watch("tools/list", (Kind::Lists, None), &request, &context);
        let result = self.endpoint.list_tools(request, context).await;
        self.end(watch, result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // The search mode's `call_tool` is recorded as the call of the tool it reaches.
        let through = self.endpoint.routes().calls_through(&request);
        let name = through.as_deref().unwrap_or(request.name.as_ref());
        let watch = self.watch("tools/call", (Kind::Tool, Some(name)), &request, &context);
        let result = self.endpoint.call_tool(request, context).await;
        self.end(watch, result)
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let watch = self.watch("prompts/list", (Kind::Lists, None), &request, &context);
        let result = self.endpoint.list_prompts(request, context).await;
        self.end(watch, result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let watch = self.watch(
            "prompts/get",
            (Kind::Prompt, Some(request.name.as_ref())),
            &request,
            &context,
        );
        let result = self.endpoint.get_prompt(request, context).await;
        self.end(watch, result)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let watch = self.watch("resources/list", (Kind::Lists, None), &request, &context);
        let result = self.endpoint.list_resources(request, context).await;
        self.end(watch, result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let watch = self.watch(
            "resources/templates/list",
            (Kind::Lists, None),
            &request,
            &context,
        );
        let result = self
            .endpoint
            .list_resource_templates(request, context)
            .await;
        self.end(watch, result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let watch = self.watch(
            "resources/read",
            (Kind::Resource, Some(request.uri.as_ref())),
            &request,
            &context,
        );
        let result = self.endpoint.read_resource(request, context).await;
        self.end(watch, result)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let watch = self.watch(
            "resources/subscribe",
            (Kind::Resource, Some(request.uri.as_ref())),
            &request,
            &context,
        );
        let result = self.endpoint.subscribe(request, context).await;
        self.end(watch, result)
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let watch = self.watch(
            "resources/unsubscribe",
            (Kind::Resource, Some(request.uri.as_ref())),
            &request,
            &context,
        );
        let result = self.endpoint.unsubscribe(request, context).await;
        self.end(watch, result)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let (kind, name) = match &request.r#ref {
            Reference::Prompt(prompt) => (Kind::Prompt, Some(prompt.name.as_str())),
            Reference::Resource(resource) => (Kind::Resource, Some(resource.uri.as_str())),
            _ => (Kind::Gateway, None),
        };
        let watch = self.watch("completion/complete", (kind, name), &request, &context);
        let result = self.endpoint.complete(request, context).await;
        self.end(watch, result)
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let watch = self.watch("logging/setLevel", (Kind::Lists, None), &request, &context);
        let result = self.endpoint.set_level(request, context).await;
        self.end(watch, result)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.endpoint.accepted_subscription_filter(requested)
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        self.endpoint.listen(subscription).await
    }

    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        self.endpoint.on_roots_list_changed(context).await
    }
}

/// The bytes of a JSON-RPC envelope around params or a result: `{"jsonrpc":"2.0","id":…,`
/// with `"method":"…","params":` (or `"result":`) and the closing brace.
fn envelope_len(id: &RequestId, method: &str) -> u64 {
    let id = json_len(id);
    let rest = match method {
        "" => r#","result":"#.len(),
        method => r#","method":"","params":"#.len() + method.len(),
    };
    r#"{"jsonrpc":"2.0","id":}"#.len() as u64 + id + rest as u64
}

/// The length of `value`'s JSON, counted without writing it anywhere.
fn json_len(value: &(impl Serialize + ?Sized)) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}
