//! How a supervisor reaches its server: the one part of supervision that depends on what the
//! server is. The rest (handshake, catalog, health pings, backoff, states) is the same for
//! every kind, so it lives once in the supervisor's task, generic over a [`Connector`].
//!
//! There are two kinds: a child process over stdio ([`ChildConnector`]) and a remote server
//! over HTTP ([`RemoteConnector`]); [`ServerConnector`] picks one per attempt from the entry,
//! so an entry edited from one kind to the other is restarted by the same supervisor.

use std::future::Future;
use std::sync::Arc;

use rmcp::service::ClientInitializeError;
use rmcp::transport::Transport;
use rmcp::RoleClient;

use super::child::{ChildConnector, ChildLink};
use super::remote::{RemoteConnector, RemoteLink};
use crate::config::ServerSpec;
use crate::lane::RawLane;
use crate::slot::SlotWriter;
use crate::upstream::EitherTransport;

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
    ) -> impl Future<Output = Result<(Self::Transport, Self::Link), String>> + Send;

    /// After a failed handshake: whether the next attempt, made at once and not counted as a
    /// failure, should reach the server another way (a remote server that refused Streamable
    /// HTTP is tried over SSE).
    fn retry_another_way(
        &self,
        _slot: &SlotWriter,
        _spec: &ServerSpec,
        _error: &ClientInitializeError,
    ) -> bool {
        false
    }

    /// The handshake of the attempt [`connect`](Self::connect) began succeeded.
    fn connected(&self, _slot: &SlotWriter, _spec: &ServerSpec) {}

    /// The server refused us until someone signs in, with this `WWW-Authenticate` challenge.
    fn sign_in_needed(&self, _slot: &SlotWriter, _challenge: String) {}

    /// Whether the server is known to refuse us until someone signs in (a step-up on the
    /// last connection): the attempt is not made.
    fn awaits_sign_in(&self, _slot: &SlotWriter) -> bool {
        false
    }
}

/// The far end of one attempt, beside its MCP connection.
pub trait Link: Send + 'static {
    /// The process that serves, when it is ours.
    fn pid(&self) -> Option<u32>;

    /// The lane for requests forwarded as bytes (`crate::lane::RawLane`), when the connection
    /// has one (a child's stdio does).
    fn raw_lane(&self) -> Option<Arc<RawLane>> {
        None
    }

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

/// The connector of every server: a child for an entry with `command`, a remote connection
/// for one with `url`.
pub struct ServerConnector {
    pub child: ChildConnector,
    pub remote: RemoteConnector,
}

impl Connector for ServerConnector {
    type Transport = EitherTransport<
        <ChildConnector as Connector>::Transport,
        <RemoteConnector as Connector>::Transport,
    >;
    type Link = EitherLink<ChildLink, RemoteLink>;

    async fn connect(
        &self,
        slot: &SlotWriter,
        spec: &ServerSpec,
    ) -> Result<(Self::Transport, Self::Link), String> {
        if spec.remote().is_some() {
            let (transport, link) = self.remote.connect(slot, spec).await?;
            Ok((EitherTransport::Right(transport), EitherLink::Right(link)))
        } else {
            slot.update_status(|s| s.transport = Some("stdio"));
            let (transport, link) = self.child.connect(slot, spec).await?;
            Ok((EitherTransport::Left(transport), EitherLink::Left(link)))
        }
    }

    fn retry_another_way(
        &self,
        slot: &SlotWriter,
        spec: &ServerSpec,
        error: &ClientInitializeError,
    ) -> bool {
        spec.remote().is_some() && self.remote.retry_another_way(slot, spec, error)
    }

    fn sign_in_needed(&self, slot: &SlotWriter, challenge: String) {
        self.remote.sign_in_needed(slot, challenge);
    }

    fn awaits_sign_in(&self, slot: &SlotWriter) -> bool {
        self.remote.awaits_sign_in(slot)
    }

    fn connected(&self, slot: &SlotWriter, spec: &ServerSpec) {
        if spec.remote().is_some() {
            self.remote.connected(slot, spec);
        }
    }
}

/// The link of one of two kinds of connection.
pub enum EitherLink<A, B> {
    Left(A),
    Right(B),
}

impl<A: Link, B: Link> Link for EitherLink<A, B> {
    fn pid(&self) -> Option<u32> {
        match self {
            Self::Left(a) => a.pid(),
            Self::Right(b) => b.pid(),
        }
    }

    fn raw_lane(&self) -> Option<Arc<RawLane>> {
        match self {
            Self::Left(a) => a.raw_lane(),
            Self::Right(b) => b.raw_lane(),
        }
    }

    async fn ended(&mut self) -> String {
        match self {
            Self::Left(a) => a.ended().await,
            Self::Right(b) => b.ended().await,
        }
    }

    async fn closed_because(&mut self) -> Option<String> {
        match self {
            Self::Left(a) => a.closed_because().await,
            Self::Right(b) => b.closed_because().await,
        }
    }

    async fn release(&mut self) {
        match self {
            Self::Left(a) => a.release().await,
            Self::Right(b) => b.release().await,
        }
    }
}
