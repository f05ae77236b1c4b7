//! How a supervisor reaches its server: the one part of supervision that depends on what the
//! server is. The rest (handshake, catalog, health pings, backoff, states) is the same for
//! every kind, so it lives once in the supervisor's task, generic over a [`Connector`].
//!
//! Today there is one kind, a child process over stdio ([`super::child::ChildConnector`]); a
//! server reached over HTTP is the other the design leaves room for.

use std::future::Future;

use rmcp::transport::Transport;
use rmcp::RoleClient;

use crate::config::ServerSpec;
use crate::slot::SlotWriter;

/// Begins attempts to reach one kind of server.
pub trait Connector: Send + Sync + 'static {
    /// What MCP is spoken over.
    type Transport: Transport<RoleClient> + Send + 'static;
    /// What keeps the far end of one attempt (for a child: the process).
    type Link: Link;

    /// Begins one attempt (for a child: spawns it), or says what the user must fix.
    fn connect(
        &self,
        slot: &SlotWriter,
        spec: &ServerSpec,
    ) -> Result<(Self::Transport, Self::Link), String>;
}

/// The far end of one attempt, beside its MCP connection.
pub trait Link: Send + 'static {
    /// The process that serves, when it is ours.
    fn pid(&self) -> Option<u32>;

    /// Resolves when the far end ends on its own while the connection may still look open
    /// (a launcher such as `sh -c` or npx dies and leaves its own child holding the pipes),
    /// with what happened; cleans up what it left.
    fn ended(&mut self) -> impl Future<Output = String> + Send;

    /// Why the connection closed, when the far end can tell within a moment (for a child: how
    /// it exited, which says more than "connection closed").
    fn closed_because(&mut self) -> impl Future<Output = Option<String>> + Send;

    /// Ends the far end for good (the connection is closed by now) and cleans up after it.
    fn release(&mut self) -> impl Future<Output = ()> + Send;
}
