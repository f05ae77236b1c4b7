//! The MCP proxy: a server towards each downstream client session, a client towards the child.

mod child_transport;
mod server;
mod sessions;
mod upstream;

pub use child_transport::ObservedTransport;
pub use server::{supported_versions, ServerProxy};
pub use sessions::{ClientFeature, SessionId, SessionRegistry};
pub use upstream::{send_all, UpstreamClient, UpstreamSignal};
