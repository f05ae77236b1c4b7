//! The aggregate endpoint: one MCP server made of every running server (or a chosen few).
//!
//! Tools and prompts are named `server__name`; resources keep their URIs and are routed by
//! the catalog (exact URI, else a matching template). Lists are answered from the catalogs the
//! supervisors keep, so a hung or failed server never delays them: it is simply absent. Calls
//! go through the same [`forward`] as the per-server endpoint, so progress, cancellation and
//! sampling behave the same. One [`AggregateProxy`] exists per downstream session; it joins a
//! server's session registry the first time it calls that server.
#![allow(deprecated)] // logging and resources/subscribe are legacy (SEP-2577) but still served

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rmcp::model::ServerResult;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities,
    ClientRequest, CompleteRequest, CompleteRequestParams, CompleteResult, ErrorCode, ErrorData,
    GetPromptRequest, GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation,
    InitializeRequestParams, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, PromptListChangedNotification,
    ProtocolVersion, ReadResourceRequest, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Reference, ResourceListChangedNotification, ServerCapabilities,
    ServerNotification, SetLevelRequest, SetLevelRequestParams, SubscribeRequest,
    SubscribeRequestParams, ToolListChangedNotification, UnsubscribeRequest,
    UnsubscribeRequestParams,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{RoleServer, ServerHandler};
use tokio::task::JoinHandle;

use super::forward::{forward, not_exposed, Expected};
use crate::events::Event;
use crate::hub::Hub;
use crate::routing::SessionId;
use crate::slot::{ServerSlot, ServerState};

/// Separates the server name from the tool or prompt name. Server names cannot contain it.
pub const SEPARATOR: &str = "__";

/// Why a `?servers=` list was refused (the gateway answers it as `invalid_view`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Name(#[from] crate::config::ServerNameError),
    /// Only commas and spaces: an empty view would list nothing, which is never what was meant.
    #[error("servers= names no server; leave it out to see all")]
    Empty,
}

/// Which servers an aggregate session sees: all, or a named few (`/mcp?servers=a,b`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct View(Option<BTreeSet<String>>);

impl View {
    pub fn all() -> Self {
        Self(None)
    }

    /// Parses `a,b` (spaces and empty items ignored).
    pub fn parse(list: &str) -> Result<Self, ViewError> {
        let mut names = BTreeSet::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            crate::config::check_server_name(name)?;
            names.insert(name.to_owned());
        }
        if names.is_empty() {
            return Err(ViewError::Empty);
        }
        Ok(Self(Some(names)))
    }

    pub fn includes(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|names| names.contains(name))
    }

    /// A stable key for caching per-view services.
    pub fn key(&self) -> String {
        match &self.0 {
            None => "*".into(),
            Some(names) => names.iter().cloned().collect::<Vec<_>>().join(","),
        }
    }
}

/// `server__name`
pub fn qualified(server: &str, name: &str) -> String {
    format!("{server}{SEPARATOR}{name}")
}

/// Splits `server__name` at the first separator.
pub fn split_qualified(name: &str) -> Option<(&str, &str)> {
    name.split_once(SEPARATOR)
        .filter(|(server, rest)| !server.is_empty() && !rest.is_empty())
}

/// Whether `uri` is an instance of the RFC 6570 `template` (simple expansions only: each
/// `{var}` matches any run of characters up to the next literal part).
pub fn template_matches(template: &str, uri: &str) -> bool {
    let mut literals = Vec::new();
    let mut rest = template;
    let starts_with_var = template.starts_with('{');
    while let Some(open) = rest.find('{') {
        if open > 0 {
            literals.push(&rest[..open]);
        }
        match rest[open..].find('}') {
            Some(close) => rest = &rest[open + close + 1..],
            None => return template == uri,
        }
    }
    let ends_with_var = rest.is_empty() && template.ends_with('}');
    if !rest.is_empty() {
        literals.push(rest);
    }
    if literals.is_empty() {
        return true; // "{+anything}"
    }
    let mut position = 0;
    for (i, literal) in literals.iter().enumerate() {
        let anchored_start = i == 0 && !starts_with_var;
        let anchored_end = i == literals.len() - 1 && !ends_with_var;
        if anchored_start {
            if !uri.starts_with(literal) {
                return false;
            }
            position = literal.len();
        } else if anchored_end {
            return uri.len() >= position + literal.len() && uri[position..].ends_with(literal);
        } else {
            match uri[position..].find(literal) {
                Some(at) => position += at + literal.len(),
                None => return false,
            }
        }
    }
    ends_with_var || position == uri.len()
}

/// See the module documentation.
pub struct AggregateProxy {
    hub: Arc<Hub>,
    view: View,
    client: OnceLock<(Peer<RoleServer>, ClientCapabilities)>,
    /// Server name -> (its slot, our session id in its registry).
    joined: Mutex<HashMap<String, (Weak<ServerSlot>, SessionId)>>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl AggregateProxy {
    pub fn new(hub: Arc<Hub>, view: View) -> Self {
        Self {
            hub,
            view,
            client: OnceLock::new(),
            joined: Mutex::new(HashMap::new()),
            listener: Mutex::new(None),
        }
    }

    /// The running servers this session sees.
    fn running(&self) -> Vec<Arc<ServerSlot>> {
        self.hub
            .slots()
            .into_iter()
            .filter(|s| self.view.includes(s.name()) && s.upstream().is_some())
            .collect()
    }

    fn slot(&self, server: &str) -> Option<Arc<ServerSlot>> {
        self.hub.slot(server).filter(|_| self.view.includes(server))
    }

    /// Our session id in `slot`'s registry, joining it on first use.
    fn session_in(&self, slot: &Arc<ServerSlot>) -> SessionId {
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((weak, id)) = joined.get(slot.name()) {
            if weak.as_ptr() == Arc::as_ptr(slot) {
                return *id;
            }
        }
        let id = slot.sessions().allocate();
        if let Some((peer, caps)) = self.client.get() {
            slot.sessions()
                .register(id, peer.clone(), caps.clone(), true);
        }
        joined.insert(slot.name().to_owned(), (Arc::downgrade(slot), id));
        id
    }

    async fn forward_to<T: Expected>(
        &self,
        slot: &Arc<ServerSlot>,
        request: ClientRequest,
        ctx: RequestContext<RoleServer>,
        tool_call: bool,
    ) -> Result<T, ErrorData> {
        let session = self.session_in(slot);
        let timeouts = slot.settings().spec.timeouts;
        let timeout = if tool_call {
            timeouts.tool_call()
        } else {
            timeouts.request()
        };
        forward(slot, session, request, ctx, timeout).await
    }

    /// The server named in `server__name`, or an error naming what is wrong.
    fn resolve<'a>(
        &self,
        qualified: &'a str,
        what: &str,
    ) -> Result<(Arc<ServerSlot>, &'a str), ErrorData> {
        let unknown = |why: String| ErrorData::new(ErrorCode::INVALID_PARAMS, why, None);
        let (server, name) = split_qualified(qualified).ok_or_else(|| {
            unknown(format!(
                "{what} '{qualified}' is not of the form server{SEPARATOR}{what} used by the aggregate endpoint"
            ))
        })?;
        let slot = self
            .slot(server)
            .ok_or_else(|| unknown(format!("{what} '{qualified}': no server named '{server}'")))?;
        Ok((slot, name))
    }

    /// The server that offers resource `uri`: by exact URI, else by template.
    fn owner_of(&self, uri: &str) -> Result<Arc<ServerSlot>, ErrorData> {
        let running = self.running();
        let exact = running
            .iter()
            .find(|s| s.catalog().resources.iter().any(|r| r.uri == uri));
        let by_template = || {
            running.iter().find(|s| {
                s.catalog()
                    .templates
                    .iter()
                    .any(|t| template_matches(&t.uri_template, uri))
            })
        };
        exact.or_else(by_template).cloned().ok_or_else(|| {
            ErrorData::new(
                ErrorCode::RESOURCE_NOT_FOUND,
                format!("no running server offers resource '{uri}'"),
                None,
            )
        })
    }

    /// Sends list_changed notifications when the set of servers or their catalogs change.
    fn start_listener(&self, peer: Peer<RoleServer>) {
        let mut events = self.hub.events().subscribe();
        let view = self.view.clone();
        let mut running: HashMap<String, bool> = self
            .hub
            .slots()
            .iter()
            .map(|s| {
                (
                    s.name().to_owned(),
                    s.status().state == ServerState::Running,
                )
            })
            .collect();
        let task = tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        Event::ServersChanged
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                let (tools, prompts, resources) = match &event {
                    Event::ServerState { name, state, .. } if view.includes(name) => {
                        let now = *state == ServerState::Running;
                        let before = running.insert(name.clone(), now).unwrap_or(false);
                        let changed = before != now;
                        (changed, changed, changed)
                    }
                    Event::ToolsChanged { name } if view.includes(name) => (true, false, false),
                    Event::PromptsChanged { name } if view.includes(name) => (false, true, false),
                    Event::ResourcesChanged { name } if view.includes(name) => (false, false, true),
                    Event::ServersChanged => (true, true, true),
                    _ => (false, false, false),
                };
                let mut sends = Vec::new();
                if tools {
                    sends.push(ServerNotification::ToolListChangedNotification(
                        ToolListChangedNotification::default(),
                    ));
                }
                if prompts {
                    sends.push(ServerNotification::PromptListChangedNotification(
                        PromptListChangedNotification::default(),
                    ));
                }
                if resources {
                    sends.push(ServerNotification::ResourceListChangedNotification(
                        ResourceListChangedNotification::default(),
                    ));
                }
                for notification in sends {
                    if peer.send_notification(notification).await.is_err() {
                        return; // the session is gone
                    }
                }
            }
        });
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }
}

impl Drop for AggregateProxy {
    fn drop(&mut self) {
        if let Some(task) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
        let joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        for (weak, id) in joined.values() {
            if let Some(slot) = weak.upgrade() {
                slot.sessions().unregister(*id);
            }
        }
    }
}

impl ServerHandler for AggregateProxy {
    fn get_info(&self) -> InitializeResult {
        let capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        let mut result = InitializeResult::new(capabilities);
        result.protocol_version = ProtocolVersion::LATEST_WITH_INITIALIZE;
        result.server_info = Implementation::new("switchboard", env!("CARGO_PKG_VERSION"));
        result.instructions = Some(format!(
            "Tools and prompts of several MCP servers, each named server{SEPARATOR}name."
        ));
        result
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        super::supported_versions()
    }

    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::DiscoverResult, ErrorData> {
        Err(super::discover_not_offered())
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        let _ = self
            .client
            .set((context.peer.clone(), request.capabilities.clone()));
        self.start_listener(context.peer.clone());
        let mut result = self.get_info();
        result.protocol_version = request.protocol_version;
        Ok(result)
    }

    async fn ping(&self, _context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut tools = Vec::new();
        for slot in self.running() {
            let settings = slot.settings();
            for tool in slot.catalog().tools.iter() {
                if settings.filter.exposes(&tool.name) {
                    let mut tool = tool.clone();
                    tool.name = qualified(slot.name(), &tool.name).into();
                    tools.push(tool);
                }
            }
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let qualified_name = request.name.to_string();
        let (slot, tool) = self.resolve(&qualified_name, "tool")?;
        if !slot.settings().filter.exposes(tool) {
            return Err(not_exposed(slot.name(), tool));
        }
        request.name = tool.to_owned().into();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(request));
        let result: CallToolResult = self.forward_to(&slot, request, context, true).await?;
        Ok(CallToolResponse::Complete(result))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let mut prompts = Vec::new();
        for slot in self.running() {
            for prompt in slot.catalog().prompts.iter() {
                let mut prompt = prompt.clone();
                prompt.name = qualified(slot.name(), &prompt.name);
                prompts.push(prompt);
            }
        }
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        mut request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let qualified_name = request.name.clone();
        let (slot, prompt) = self.resolve(&qualified_name, "prompt")?;
        request.name = prompt.to_owned();
        let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(request));
        let result: GetPromptResult = self.forward_to(&slot, request, context, false).await?;
        Ok(GetPromptResponse::Complete(result))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let resources = self
            .running()
            .iter()
            .flat_map(|s| s.catalog().resources.iter().cloned().collect::<Vec<_>>())
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let templates = self
            .running()
            .iter()
            .flat_map(|s| s.catalog().templates.iter().cloned().collect::<Vec<_>>())
            .collect();
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let slot = self.owner_of(&request.uri)?;
        let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(request));
        let result: ReadResourceResult = self.forward_to(&slot, request, context, false).await?;
        Ok(ReadResourceResponse::Complete(result))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let slot = self.owner_of(&request.uri)?;
        let session = self.session_in(&slot);
        if slot.sessions().subscribe(session, &request.uri) {
            let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(request));
            self.forward_to::<ServerResult>(&slot, request, context, false)
                .await?;
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let slot = self.owner_of(&request.uri)?;
        let session = self.session_in(&slot);
        if slot.sessions().unsubscribe(session, &request.uri) {
            let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(request));
            self.forward_to::<ServerResult>(&slot, request, context, false)
                .await?;
        }
        Ok(())
    }

    async fn complete(
        &self,
        mut request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let slot = match &mut request.r#ref {
            Reference::Prompt(prompt) => {
                let qualified_name = prompt.name.clone();
                let (slot, name) = self.resolve(&qualified_name, "prompt")?;
                prompt.name = name.to_owned();
                slot
            }
            Reference::Resource(resource) => self.owner_of(&resource.uri)?,
            _ => {
                return Err(ErrorData::invalid_params(
                    "completion reference of an unknown kind",
                    None,
                ))
            }
        };
        let request = ClientRequest::CompleteRequest(CompleteRequest::new(request));
        self.forward_to(&slot, request, context, false).await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let sets = self
            .running()
            .into_iter()
            .filter(|s| {
                s.upstream()
                    .is_some_and(|u| u.info.capabilities.logging.is_some())
            })
            .map(|slot| {
                let request = ClientRequest::SetLevelRequest(SetLevelRequest::new(request.clone()));
                let context = context.clone();
                async move {
                    self.forward_to::<ServerResult>(&slot, request, context, false)
                        .await
                }
            })
            .collect::<Vec<_>>();
        for result in futures::future::join_all(sets).await {
            if let Err(e) = result {
                tracing::debug!(error = %e.message, "logging/setLevel failed on one server");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_split_at_the_first_separator() {
        assert_eq!(qualified("git", "log"), "git__log");
        assert_eq!(split_qualified("git__log"), Some(("git", "log")));
        assert_eq!(
            split_qualified("git__get__item"),
            Some(("git", "get__item"))
        );
        assert_eq!(split_qualified("nolabel"), None);
        assert_eq!(split_qualified("__x"), None);
        assert_eq!(split_qualified("x__"), None);
    }

    #[test]
    fn templates_match_their_instances_only() {
        let t = "demo://resource/dynamic/text/{resourceId}";
        assert!(template_matches(t, "demo://resource/dynamic/text/42"));
        assert!(!template_matches(t, "demo://resource/dynamic/blob/42"));
        assert!(!template_matches(t, "other://resource/dynamic/text/42"));
        let t = "file:///{path}/notes.md";
        assert!(template_matches(t, "file:///home/u/notes.md"));
        assert!(!template_matches(t, "file:///home/u/notes.txt"));
        assert!(template_matches("{uri}", "anything://at/all"));
        assert!(template_matches("a://{x}/b/{y}", "a://1/b/2"));
        assert!(!template_matches("a://{x}/b/{y}", "a://1/c/2"));
        assert!(template_matches("exact://uri", "exact://uri"));
        assert!(!template_matches("exact://uri", "exact://uri/more"));
    }

    #[test]
    fn views_parse_and_filter() {
        let view = View::parse("b, a,,a").unwrap();
        assert!(view.includes("a") && view.includes("b") && !view.includes("c"));
        assert_eq!(view.key(), "a,b");
        assert!(View::parse(" , ").is_err());
        assert!(View::parse("a/b").is_err());
        assert!(View::all().includes("anything"));
    }
}
