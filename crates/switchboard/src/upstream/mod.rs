//! Switchboard as the client of a server: the rmcp client [`Service`](rmcp::Service) the
//! child talks to ([`UpstreamClient`]), and its stdio transport, observed on the way
//! ([`ObservedTransport`]). Used by the supervisor, which connects them to a child; routes
//! what the child sends through the slot's [`SessionRegistry`](crate::routing::SessionRegistry).

mod client;
mod relay;
mod transport;

pub use client::{CatalogPart, UpstreamClient};
pub use relay::{relay, RelayError};
pub use transport::ObservedTransport;
