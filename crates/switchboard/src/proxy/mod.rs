//! The MCP proxy, towards clients: one handler ([`Endpoint`]) for every downstream session,
//! whose [`endpoint::Routing`] says where its requests go: to one server ([`OneServer`]) or
//! across many by `server__name` ([`Aggregate`]). It forwards to the slots' upstream
//! connections (see `upstream` for the other side). Beside it, [`FastCall`]: a stateless
//! `tools/call` that needs nothing of a session, forwarded as bytes to a child's lane.

mod aggregate;
mod changes;
mod endpoint;
mod fast;
mod fast_asks;
mod forward;
mod inputs;
mod link;
mod names;
mod one_server;
mod recorded;
mod rounds;
mod search;
mod watch;

pub use aggregate::Aggregate;
pub use endpoint::{discover_not_offered, initialize_versions, Endpoint};
pub use fast::{cancelled_request, read_initialize, Caller, FastCall, Message, Opening, Route};
pub use fast_asks::FastAsks;
pub use forward::not_running;
#[cfg(feature = "fuzzing")]
pub use forward::reread;
pub use link::SessionLink;
pub use names::View;
#[cfg(feature = "fuzzing")]
pub use names::{qualified, split_qualified, template_matches};
pub use one_server::OneServer;
pub use recorded::{Recorded, Tap};
pub use search::{exposed_tools, meta_tools, ToolSearch};

/// The handler of a session with one server's endpoint (`/servers/{name}/…`).
pub type ServerProxy = Recorded<OneServer>;
/// The handler of a session with the aggregate endpoint or one of its views.
pub type AggregateProxy = Recorded<Aggregate>;

impl ServerProxy {
    pub fn for_server(
        slot: std::sync::Arc<crate::slot::ServerSlot>,
        max_sessions: usize,
        events: crate::events::EventBus,
        tap: Tap,
    ) -> Self {
        Recorded::new(
            Endpoint::new(OneServer::new(slot, max_sessions, events)),
            tap,
        )
    }
}

impl AggregateProxy {
    /// `search` holds the search mode's indexes (used when `view` is in that mode).
    pub fn for_view(
        hub: std::sync::Arc<crate::hub::Hub>,
        view: View,
        tap: Tap,
        search: std::sync::Arc<ToolSearch>,
    ) -> Self {
        Recorded::new(Endpoint::new(Aggregate::new(hub, view, search)), tap)
    }
}
