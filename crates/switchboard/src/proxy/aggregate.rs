//! The routing of the aggregate endpoint (`/mcp`, `/sse`, and their `?servers=` views): one
//! MCP server made of every running server (or a chosen few).
//!
//! Tools and prompts are named `server__name`; resources keep their URIs and are routed by
//! the catalog (exact URI, else a matching template). Lists are answered from the catalogs the
//! supervisors keep, so a hung or failed server never delays them: it is simply absent. The
//! session joins a server's session registry the first time it calls that server, so progress,
//! cancellation and sampling behave as on the server's own endpoint.
#![allow(deprecated)] // logging and resources/subscribe are legacy (SEP-2577) but still served

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rmcp::model::{
    CallToolRequestParams, ErrorCode, ErrorData, Implementation, InitializeRequestParams,
    InitializeResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, ProtocolVersion, ServerCapabilities, ServerResult,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::RoleServer;
use tokio::task::JoinHandle;

use super::changes::{ListChanges, Scope};
use super::endpoint::{FanOut, Listing, Route, Routing, Target};
use super::link::{Joins, SessionLink};
use super::names::{qualified, split_qualified, template_matches, View, SEPARATOR};
use super::search::{called_tool, exposed_tools, meta_tools, Local, ToolSearch};
use crate::hub::Hub;
use crate::routing::{Offers, SessionId};
use crate::slot::ServerSlot;

/// See the module documentation.
pub struct Aggregate {
    hub: Arc<Hub>,
    view: View,
    /// The search mode's indexes (see `search`), used when the view is in that mode.
    search: Arc<ToolSearch>,
    /// The session's place in the servers' registries (shared with its `SessionLink`).
    membership: Arc<Membership>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

/// Which servers' registries an aggregate session has joined: each on first use, by a call on
/// the full path or (through the session's [`SessionLink`]) a fast one.
struct Membership {
    client: OnceLock<(Peer<RoleServer>, Offers)>,
    /// Server name -> (its slot, our session id in its registry); `None` once the session has
    /// ended (nothing joins after that).
    joined: Mutex<Option<Joined>>,
    /// Where the gateway learns the session's registry ids, for its fast calls.
    link: OnceLock<Arc<SessionLink>>,
}

type Joined = HashMap<String, (Weak<ServerSlot>, SessionId)>;

impl Membership {
    fn new() -> Self {
        Self {
            client: OnceLock::new(),
            joined: Mutex::new(Some(HashMap::new())),
            link: OnceLock::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Joined>> {
        self.joined.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Our session id in `slot`'s registry, joining it on first use (once the client is known;
    /// before that, and after the session's end, an id that no registry holds).
    fn session_in(&self, slot: &Arc<ServerSlot>) -> SessionId {
        match self.lock().as_mut() {
            Some(joined) => self.join_in(joined, slot),
            None => slot.sessions().allocate(),
        }
    }

    fn join_in(&self, joined: &mut Joined, slot: &Arc<ServerSlot>) -> SessionId {
        if let Some((weak, id)) = joined.get(slot.name()) {
            if weak.as_ptr() == Arc::as_ptr(slot) {
                return *id;
            }
        }
        let id = slot.sessions().allocate();
        if let Some((peer, offers)) = self.client.get() {
            slot.sessions().register(id, peer.clone(), *offers, true);
            if let Some(link) = self.link.get() {
                link.record(slot, id);
            }
        }
        joined.insert(slot.name().to_owned(), (Arc::downgrade(slot), id));
        id
    }

    /// The session ended: it leaves every registry it joined, and joins none again.
    fn end(&self) {
        let joined = self.lock().take();
        for (weak, id) in joined.into_iter().flat_map(HashMap::into_values) {
            if let Some(slot) = weak.upgrade() {
                slot.sessions().unregister(id);
            }
        }
    }
}

impl Joins for Membership {
    fn join(&self, slot: &Arc<ServerSlot>) -> Option<SessionId> {
        self.client.get()?;
        let mut joined = self.lock();
        Some(self.join_in(joined.as_mut()?, slot))
    }
}

impl Aggregate {
    pub fn new(hub: Arc<Hub>, view: View, search: Arc<ToolSearch>) -> Self {
        Self {
            hub,
            view,
            search,
            membership: Arc::new(Membership::new()),
            listener: Mutex::new(None),
        }
    }

    /// The servers this session sees that are listed: those running, and on-demand ones
    /// asleep (listed from their catalogs; a call starts them).
    fn running(&self) -> Vec<Arc<ServerSlot>> {
        self.hub
            .slots()
            .into_iter()
            .filter(|s| {
                self.view.includes(s.name()) && (s.upstream().is_some() || s.serves_from_catalog())
            })
            .collect()
    }

    /// The route to `slot` (joining its registry on first use), where the name is `name`.
    fn route_to(&self, slot: Arc<ServerSlot>, name: Option<&str>) -> Route {
        let session = self.membership.session_in(&slot);
        Route {
            slot,
            session,
            name: name.map(str::to_owned),
        }
    }

    /// The server named in `server__name`, and the name there.
    fn resolve(&self, qualified: &str, what: &str) -> Result<Route, ErrorData> {
        let unknown = |why: String| ErrorData::new(ErrorCode::INVALID_PARAMS, why, None);
        let (server, name) = split_qualified(qualified).ok_or_else(|| {
            unknown(format!(
                "{what} '{qualified}' is not of the form server{SEPARATOR}{what} used by the \
                 aggregate endpoint"
            ))
        })?;
        let slot = self
            .hub
            .slot(server)
            .filter(|_| self.view.includes(server))
            .ok_or_else(|| unknown(format!("{what} '{qualified}': no server named '{server}'")))?;
        Ok(self.route_to(slot, Some(name)))
    }

    /// The server that offers resource `uri`: by exact URI, else by template.
    fn owner_of(&self, uri: &str) -> Result<Route, ErrorData> {
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
        let slot = exact.or_else(by_template).cloned().ok_or_else(|| {
            ErrorData::new(
                ErrorCode::RESOURCE_NOT_FOUND,
                format!("no running server offers resource '{uri}'"),
                None,
            )
        })?;
        Ok(self.route_to(slot, None))
    }

    fn changes(&self) -> ListChanges {
        ListChanges::new(
            self.hub.events(),
            Some(&self.hub),
            Scope::View(self.view.clone()),
        )
    }

    /// Sends list_changed notifications when the set of servers or their catalogs change.
    fn start_listener(&self, peer: Peer<RoleServer>) {
        let mut changes = self.changes();
        let task = tokio::spawn(async move {
            while let Some(notifications) = changes.next().await {
                for notification in notifications {
                    if peer.send_notification(notification).await.is_err() {
                        return; // the session is gone
                    }
                }
            }
        });
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }
}

impl Drop for Aggregate {
    fn drop(&mut self) {
        if let Some(task) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
        self.membership.end();
    }
}

impl Routing for Aggregate {
    fn info(&self) -> InitializeResult {
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
        result.instructions = Some(match self.view.is_search() {
            false => format!(
                "Tools and prompts of several MCP servers, each named server{SEPARATOR}name."
            ),
            true => format!(
                "The tools of several MCP servers, found on demand: search_tools finds tools \
                 for a task, describe_tools gives their parameters, call_tool calls one by its \
                 name (server{SEPARATOR}tool). Prompts are named server{SEPARATOR}prompt."
            ),
        });
        result
    }

    fn calls_through(&self, request: &CallToolRequestParams) -> Option<String> {
        self.view
            .is_search()
            .then(|| called_tool(request))
            .flatten()
            .map(str::to_owned)
    }

    fn local(&self, request: &CallToolRequestParams) -> Option<Local> {
        if !self.view.is_search() {
            return None;
        }
        self.search
            .handle(&self.view.key(), &self.running(), request)
    }

    async fn open(
        &self,
        request: &InitializeRequestParams,
        peer: &Peer<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        self.join(peer, Offers::of(&request.capabilities));
        self.start_listener(peer.clone());
        Ok(self.info())
    }

    fn route(&self, target: Target<'_>) -> Result<Route, ErrorData> {
        match target {
            Target::Tool(name) => self.resolve(name, "tool"),
            Target::Prompt(name) => self.resolve(name, "prompt"),
            Target::Resource(uri) => self.owner_of(uri),
        }
    }

    fn list_server(&self) -> Option<&str> {
        None
    }

    fn list_changes(&self) -> ListChanges {
        self.changes()
    }

    fn link(&self, link: Arc<SessionLink>) {
        let joins: Arc<dyn Joins> = self.membership.clone();
        link.joins(Arc::downgrade(&joins));
        let _ = self.membership.link.set(link);
    }

    fn join(&self, peer: &Peer<RoleServer>, offers: Offers) {
        let _ = self.membership.client.set((peer.clone(), offers));
    }

    fn fan_out(&self, kind: FanOut) -> Vec<Route> {
        match kind {
            FanOut::Logging => self
                .running()
                .into_iter()
                .filter(|s| {
                    s.upstream()
                        .is_some_and(|u| u.info.capabilities.logging.is_some())
                })
                .map(|slot| self.route_to(slot, None))
                .collect(),
            FanOut::Roots => {
                let joined = self.membership.lock();
                joined
                    .iter()
                    .flat_map(HashMap::values)
                    .filter_map(|(weak, session)| {
                        weak.upgrade().map(|slot| Route {
                            slot,
                            session: *session,
                            name: None,
                        })
                    })
                    .collect()
            }
        }
    }

    async fn list(
        &self,
        listing: Listing,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        let running = self.running();
        Ok(match listing {
            Listing::Tools(_) => {
                let tools = match self.view.is_search() {
                    true => meta_tools(),
                    false => exposed_tools(&running),
                };
                ServerResult::ListToolsResult(ListToolsResult::with_all_items(tools))
            }
            Listing::Prompts(_) => {
                let mut prompts = Vec::new();
                for slot in &running {
                    for prompt in slot.catalog().prompts.iter() {
                        let mut prompt = prompt.clone();
                        prompt.name = qualified(slot.name(), &prompt.name);
                        prompts.push(prompt);
                    }
                }
                ServerResult::ListPromptsResult(ListPromptsResult::with_all_items(prompts))
            }
            Listing::Resources(_) => {
                let resources = running
                    .iter()
                    .flat_map(|s| s.catalog().resources.iter().cloned().collect::<Vec<_>>())
                    .collect();
                ServerResult::ListResourcesResult(ListResourcesResult::with_all_items(resources))
            }
            Listing::Templates(_) => {
                let templates = running
                    .iter()
                    .flat_map(|s| s.catalog().templates.iter().cloned().collect::<Vec<_>>())
                    .collect();
                ServerResult::ListResourceTemplatesResult(
                    ListResourceTemplatesResult::with_all_items(templates),
                )
            }
        })
    }
}
