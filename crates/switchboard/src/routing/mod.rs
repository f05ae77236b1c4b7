//! Who gets what a server sends towards "the client": the downstream sessions connected to
//! one server, what each has in flight, and each session's notification queue.
//!
//! This sits below the slot (each slot owns a [`SessionRegistry`]), and is used by both sides
//! of the proxy: the downstream handlers register sessions and in-flight requests, the
//! upstream client routes the child's progress, requests and notifications through it. It
//! depends on nothing of Switchboard's own.

mod outbox;
mod parked;
mod sessions;
#[cfg(test)]
pub(crate) mod test_peers;

pub use outbox::{post_all, DOWNSTREAM_SEND_TIMEOUT};
pub use parked::Call;
pub use sessions::{
    ask_client, Ask, ClientFeature, InFlightGuard, Offers, ProgressIndex, SessionId,
    SessionRegistry, Target, CLIENT_ANSWER_TIMEOUT, PROGRESS_FLUSH_LIMIT, PROGRESS_ROUTE_WAIT,
};
