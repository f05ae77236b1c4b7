//! [`SessionLink`]: which entries a downstream session has in the servers' session registries,
//! for the fast path, which answers the session's calls without its rmcp handler.
//!
//! A registry chooses who answers a server's request made outside any call (roots, say) by
//! the session most recently active, and a session is active when it calls. A call on the
//! full path is entered under its session's own registry id; a fast call of a client that
//! takes requests is entered as well (so what the server asks during it reaches it), and the
//! link lets it be entered under the same id, so its session counts as active too.
//!
//! The gateway makes a link for each `initialize` it sees and hands it to the session's
//! handler in the request's extensions (as the HTTP request's own, for Streamable HTTP, or on
//! the message, for legacy SSE); the handler's routing records an id whenever the session joins
//! a server's registry; the gateway's record of the session keeps the link for its fast calls.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use rmcp::service::RequestContext;
use rmcp::RoleServer;

use crate::routing::SessionId;
use crate::slot::ServerSlot;

/// See the module documentation.
#[derive(Default)]
pub struct SessionLink {
    joined: Mutex<Vec<(Weak<ServerSlot>, SessionId)>>,
    /// For a routing that joins registries on first use (the aggregate's): how a fast call
    /// joins one its session has not used yet, while the session lives.
    joins: OnceLock<Weak<dyn Joins>>,
}

/// A session's routing that joins servers' registries on first use.
pub(crate) trait Joins: Send + Sync {
    /// The session's id in `slot`'s registry, joining it now if need be; `None` when the
    /// session cannot join (its client is not known yet, or it has ended).
    fn join(&self, slot: &Arc<ServerSlot>) -> Option<SessionId>;
}

impl SessionLink {
    /// The link the gateway put on an `initialize` request, if any.
    pub(crate) fn of(context: &RequestContext<RoleServer>) -> Option<Arc<Self>> {
        let extensions = &context.extensions;
        extensions.get::<Arc<Self>>().cloned().or_else(|| {
            let parts = extensions.get::<http::request::Parts>()?;
            parts.extensions.get::<Arc<Self>>().cloned()
        })
    }

    /// The session joined `slot`'s registry as `id`.
    pub(crate) fn record(&self, slot: &Arc<ServerSlot>, id: SessionId) {
        let mut joined = self.lock();
        joined.retain(|(weak, _)| weak.strong_count() > 0 && weak.as_ptr() != Arc::as_ptr(slot));
        joined.push((Arc::downgrade(slot), id));
    }

    /// How a fast call joins registries the session has not used yet (see [`Joins`]).
    pub(crate) fn joins(&self, joins: Weak<dyn Joins>) {
        let _ = self.joins.set(joins);
    }

    /// The session's id in `slot`'s registry: where it has joined it, or, for a routing that
    /// joins on first use, after joining it now (as a call on the full path would).
    pub(crate) fn id_in(&self, slot: &Arc<ServerSlot>) -> Option<SessionId> {
        let joined = self
            .lock()
            .iter()
            .find(|(weak, _)| weak.as_ptr() == Arc::as_ptr(slot))
            .map(|(_, id)| *id);
        joined.or_else(|| self.joins.get()?.upgrade()?.join(slot))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Weak<ServerSlot>, SessionId)>> {
        self.joined.lock().unwrap_or_else(|p| p.into_inner())
    }
}
