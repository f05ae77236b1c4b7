//! The MCP proxy: a server towards each downstream client session, a client towards the child.

mod aggregate;
mod child_transport;
mod forward;
mod outbox;
mod server;
mod sessions;
mod upstream;

pub use aggregate::{qualified, split_qualified, template_matches, AggregateProxy, View};
pub use child_transport::ObservedTransport;
pub use forward::{not_running, reread};
pub use outbox::{post_all, Outbox, DOWNSTREAM_SEND_TIMEOUT, OUTBOX_CAPACITY};
pub use server::{discover_not_offered, supported_versions, ServerProxy};
pub use sessions::{ClientFeature, SessionId, SessionRegistry};
pub use upstream::{UpstreamClient, UpstreamSignal};
