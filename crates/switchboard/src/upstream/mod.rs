//! Switchboard as the client of a server: the rmcp client [`Service`](rmcp::Service) the
//! server talks to ([`UpstreamClient`]), its transport observed on the way
//! ([`ObservedTransport`]), and the legacy HTTP+SSE client transport rmcp lacks
//! ([`SseClientTransport`]). Used by the supervisor, which connects them to a child; routes
//! what the child sends through the slot's [`SessionRegistry`](crate::routing::SessionRegistry).

mod client;
mod http_client;
mod relay;
mod sse_client;
mod transport;

pub use client::{CatalogPart, UpstreamClient};
pub use http_client::SessionAwareClient;
pub use relay::{relay, RelayError};
pub use sse_client::SseClientTransport;
pub use transport::{
    auth_challenge, describe_handshake_error, describe_transport_error, innermost,
    transport_failures, EitherTransport, ObservedTransport,
};
