//! The MCP proxy, towards clients: the handler of each downstream session, for one server's
//! endpoint ([`ServerProxy`]) or the aggregate ([`AggregateProxy`]), forwarding to the slots'
//! upstream connections (see `upstream` for the other side).

mod aggregate;
mod forward;
mod server;

#[cfg(feature = "fuzzing")]
pub use aggregate::{qualified, split_qualified, template_matches};
pub use aggregate::{AggregateProxy, View};
pub use forward::not_running;
#[cfg(feature = "fuzzing")]
pub use forward::reread;
pub use server::{discover_not_offered, supported_versions, ServerProxy};
