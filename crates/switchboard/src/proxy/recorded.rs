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
use std::future::Future;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, DiscoverResult,
    ErrorData, GetPromptRequestParams, GetPromptResponse, InitializeRequestParams,
    InitializeResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, Reference, RequestId, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{RoleServer, ServerHandler};
use serde::Serialize;

use super::endpoint::{Endpoint, Routing, Target};
use super::forward::is_timeout;
use crate::activity::{capture, client_label, ActivityLog, Entry, Origin, Outcome};

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

/// What a request addresses, kept past the call (which consumes its params).
enum Addressed {
    Tool(String),
    Prompt(String),
    Resource(String),
    /// A list (or the log level): the server whose lists the endpoint forwards, if any.
    Lists,
    /// Answered by the gateway itself.
    Nothing,
}

impl Addressed {
    fn completion(request: &CompleteRequestParams) -> Self {
        match &request.r#ref {
            Reference::Prompt(prompt) => Self::Prompt(prompt.name.clone()),
            Reference::Resource(resource) => Self::Resource(resource.uri.clone()),
            _ => Self::Nothing,
        }
    }
}

/// What the log needs of an answer: its size, its JSON (for capture), and whether it is a
/// tool's result with `isError`.
trait Answer {
    fn json(&self) -> serde_json::Value;
    fn size(&self) -> u64;
    fn is_tool_error(&self) -> bool {
        false
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
plain_answers!(
    (),
    DiscoverResult,
    InitializeResult,
    ListToolsResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    CompleteResult
);

/// The 2026 era's answers: complete, or asking the caller for input.
macro_rules! round_answers {
    ($($t:ident),*) => {$(
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
            fn is_tool_error(&self) -> bool {
                round_is_tool_error(self)
            }
        }
    )*};
}
round_answers!(CallToolResponse, GetPromptResponse, ReadResourceResponse);

/// Whether `answer` is a tool's result with `isError`.
fn round_is_tool_error(answer: &dyn std::any::Any) -> bool {
    answer
        .downcast_ref::<CallToolResponse>()
        .is_some_and(|r| matches!(r, CallToolResponse::Complete(c) if c.is_error == Some(true)))
}

impl<R: Routing> Recorded<R> {
    pub(crate) fn new(endpoint: Endpoint<R>, tap: Tap) -> Self {
        Self {
            endpoint,
            log: tap.log,
            origin: tap.origin,
        }
    }

    /// The server that answered for `addressed` and the name it has there, as the routing
    /// says (asked after the call: the call is what joins a 2026 caller to the routing).
    fn answered_by(&self, addressed: Addressed) -> (Option<Arc<str>>, Option<String>) {
        let routes = self.endpoint.routes();
        let (target, asked) = match &addressed {
            Addressed::Tool(name) => (Target::Tool(name), name),
            Addressed::Prompt(name) => (Target::Prompt(name), name),
            Addressed::Resource(uri) => (Target::Resource(uri), uri),
            Addressed::Lists => return (routes.list_server().map(Arc::from), None),
            Addressed::Nothing => return (None, None),
        };
        match routes.route(target) {
            Ok(route) => {
                let name = route.name.clone().unwrap_or_else(|| asked.clone());
                (Some(Arc::from(route.slot.name())), Some(name))
            }
            Err(_) => (None, Some(asked.clone())),
        }
    }

    /// Runs `call` for the request `method` (`params` as sent) and records how it went.
    async fn record<T, F>(
        &self,
        method: &str,
        addressed: Addressed,
        params: &impl Serialize,
        context: RequestContext<RoleServer>,
        call: impl FnOnce(RequestContext<RoleServer>) -> F,
    ) -> Result<T, ErrorData>
    where
        T: Answer,
        F: Future<Output = Result<T, ErrorData>>,
    {
        if !self.log.is_on() {
            return call(context).await;
        }
        let started = SystemTime::now();
        let clock = Instant::now();
        let request_bytes = envelope_len(&context.id, method) + json_len(params);
        let captured = self.log.capture_limit().map(|limit| {
            let params = serde_json::to_value(params).unwrap_or_default();
            (limit, capture::capture(params, limit))
        });
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
        let id = context.id.clone();
        let cancelled = context.ct.clone();
        let peer = context.peer.clone();

        let result = call(context).await;

        if origin.client.is_none() {
            if let Some(info) = peer.peer_info() {
                let client = &info.client_info;
                origin.client = Some(client_label(&client.name, &client.version));
                origin.protocol = Some(Arc::from(info.protocol_version.as_str()));
            }
        }
        let mut entry = Entry::new(&origin, method, started, clock.elapsed());
        (entry.server, entry.name) = self.answered_by(addressed);
        entry.request_bytes = request_bytes;
        match &result {
            Ok(answer) => {
                entry.response_bytes = envelope_len(&id, "") + answer.size();
                if answer.is_tool_error() {
                    entry.outcome = Outcome::ToolError;
                }
            }
            Err(error) => {
                entry.response_bytes = envelope_len(&id, "") + json_len(error);
                entry.outcome = if cancelled.is_cancelled() {
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
        if let Some((limit, params)) = captured {
            let answer = match &result {
                Ok(answer) => answer.json(),
                Err(error) => serde_json::to_value(error).unwrap_or_default(),
            };
            entry.request = Some(params);
            entry.response = Some(capture::capture(answer, limit));
        }
        self.log.record(entry);
        result
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
        self.record("server/discover", Addressed::Nothing, &(), context, |c| {
            self.endpoint.discover(c)
        })
        .await
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        let params = request.clone();
        self.record("initialize", Addressed::Nothing, &params, context, |c| {
            self.endpoint.initialize(request, c)
        })
        .await
    }

    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        self.record("ping", Addressed::Nothing, &(), context, |c| {
            self.endpoint.ping(c)
        })
        .await
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let params = request.clone();
        self.record("tools/list", Addressed::Lists, &params, context, |c| {
            self.endpoint.list_tools(request, c)
        })
        .await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let params = request.clone();
        let addressed = Addressed::Tool(request.name.to_string());
        self.record("tools/call", addressed, &params, context, |c| {
            self.endpoint.call_tool(request, c)
        })
        .await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let params = request.clone();
        self.record("prompts/list", Addressed::Lists, &params, context, |c| {
            self.endpoint.list_prompts(request, c)
        })
        .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let params = request.clone();
        let addressed = Addressed::Prompt(request.name.clone());
        self.record("prompts/get", addressed, &params, context, |c| {
            self.endpoint.get_prompt(request, c)
        })
        .await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let params = request.clone();
        self.record("resources/list", Addressed::Lists, &params, context, |c| {
            self.endpoint.list_resources(request, c)
        })
        .await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let params = request.clone();
        let method = "resources/templates/list";
        self.record(method, Addressed::Lists, &params, context, |c| {
            self.endpoint.list_resource_templates(request, c)
        })
        .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let params = request.clone();
        let addressed = Addressed::Resource(request.uri.clone());
        self.record("resources/read", addressed, &params, context, |c| {
            self.endpoint.read_resource(request, c)
        })
        .await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let params = request.clone();
        let addressed = Addressed::Resource(request.uri.clone());
        self.record("resources/subscribe", addressed, &params, context, |c| {
            self.endpoint.subscribe(request, c)
        })
        .await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let params = request.clone();
        let addressed = Addressed::Resource(request.uri.clone());
        self.record("resources/unsubscribe", addressed, &params, context, |c| {
            self.endpoint.unsubscribe(request, c)
        })
        .await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let params = request.clone();
        let addressed = Addressed::completion(&request);
        self.record("completion/complete", addressed, &params, context, |c| {
            self.endpoint.complete(request, c)
        })
        .await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let params = request.clone();
        self.record(
            "logging/setLevel",
            Addressed::Lists,
            &params,
            context,
            |c| self.endpoint.set_level(request, c),
        )
        .await
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
