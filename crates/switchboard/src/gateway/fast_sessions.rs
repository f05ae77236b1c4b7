//! What the fast path (`gateway::fast`) knows of one endpoint's 2025-era Streamable HTTP
//! sessions, which rmcp's session manager owns.
//!
//! - **Which sessions may take it:** those opened by an `initialize` the gateway saw
//!   (`opened`), with what their client offers, forgotten when they close. A session not known
//!   here (opened before Switchboard started serving this endpoint) always takes the full path.
//! - **Their calls in flight**, by the caller's request id, so a `notifications/cancelled`
//!   reaches a call rmcp never saw.
//! - **What the server asked their client** during fast calls and is waiting for
//!   ([`FastAsks`]), so the client's answer, POSTed to the session, reaches the asker.
//! - **rmcp's idle timer:** a session's worker counts only what reaches it, so a session used
//!   only through the fast path would expire in use. Every call checks that rmcp still has the
//!   session (else it goes to rmcp, which answers 404 as always) and, at most every quarter of
//!   the idle limit, sends the worker an event that changes nothing (closing a request channel
//!   that does not exist), which restarts its timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio_util::sync::CancellationToken;

use crate::activity::Origin;
use crate::proxy::{FastAsks, FastCall, Opening, SessionLink};
use crate::routing::Offers;

/// Sessions remembered at most, beyond which those rmcp no longer has are dropped.
const PRUNE_ABOVE: usize = 1024;
/// A request channel id rmcp never hands out (it counts up from 0).
const NO_SUCH_CHANNEL: u64 = u64::MAX;

/// The fast path's knowledge of one endpoint's sessions (see the module documentation).
pub struct FastSessions {
    manager: Arc<LocalSessionManager>,
    touch_every: Duration,
    sessions: Mutex<HashMap<Arc<str>, Arc<FastSession>>>,
}

/// One session that may take the fast path (a Streamable HTTP one here, or a legacy SSE one,
/// which `gateway::sse` keeps itself).
pub struct FastSession {
    touched: Mutex<Instant>,
    in_flight: Mutex<HashMap<String, CancellationToken>>,
    /// What its `initialize` said of the client, for the activity log.
    client: Option<Arc<str>>,
    protocol: Option<Arc<str>>,
    /// Which requests the client takes (sampling, elicitation, roots).
    offers: Offers,
    /// The server's requests asked of the client during fast calls, awaiting its answers.
    pub asks: Arc<FastAsks>,
    /// The session's registry ids, recorded by its handler.
    link: Arc<SessionLink>,
}

impl FastSessions {
    /// For the sessions of `manager`, whose idle limit is `idle`.
    pub fn new(manager: Arc<LocalSessionManager>, idle: Duration) -> Self {
        Self {
            manager,
            touch_every: idle / 4,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The session `id`, if its calls may take the fast path.
    pub fn get(&self, id: &str) -> Option<Arc<FastSession>> {
        self.lock().get(id).cloned()
    }

    /// A session was opened (by `initialize`).
    pub fn opened(&self, id: &str, opening: Opening) {
        let mut sessions = self.lock();
        if sessions.len() >= PRUNE_ABOVE {
            if let Ok(open) = self.manager.sessions.try_read() {
                sessions.retain(|id, _| open.contains_key(id));
            }
        }
        sessions.insert(Arc::from(id), FastSession::new(opening));
    }

    /// The session was closed (or rmcp no longer has it).
    pub fn closed(&self, id: &str) {
        if let Some(session) = self.lock().remove(id) {
            for (_, call) in session.calls().drain() {
                call.cancel();
            }
        }
    }

    /// Whether rmcp still has session `id`; restarts its idle timer when that is due.
    pub async fn in_use(&self, id: &str, session: &FastSession) -> bool {
        let Some(handle) = self.manager.sessions.read().await.get(id).cloned() else {
            self.closed(id);
            return false;
        };
        let due = {
            let mut touched = session.touched.lock().unwrap_or_else(|p| p.into_inner());
            let due = touched.elapsed() >= self.touch_every;
            if due {
                *touched = Instant::now();
            }
            due
        };
        if due
            && handle
                .close_request_wise_channel(NO_SUCH_CHANNEL)
                .await
                .is_err()
        {
            self.closed(id);
            return false;
        }
        true
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Arc<FastSession>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FastSession {
    pub fn new(opening: Opening) -> Arc<Self> {
        Arc::new(Self {
            touched: Mutex::new(Instant::now()),
            in_flight: Mutex::new(HashMap::new()),
            client: opening.client,
            protocol: opening.protocol,
            offers: opening.offers,
            asks: Arc::default(),
            link: opening.link,
        })
    }

    /// `call`, made able to ask this session's client what the server asks during it (when
    /// the client takes requests).
    pub fn asking(&self, call: FastCall) -> FastCall {
        match self.offers.any() {
            true => call.asking(self.offers, &self.asks, &self.link),
            false => call,
        }
    }

    /// Where the session's calls come from: the endpoint's `origin`, with this session (`id`)
    /// and its client.
    pub fn origin(&self, endpoint: &Origin, id: &str) -> Origin {
        Origin {
            session: Some(Arc::from(id)),
            client: self.client.clone(),
            protocol: self.protocol.clone(),
            ..endpoint.clone()
        }
    }

    /// Records a call in flight under the caller's request id; the token is cancelled by the
    /// caller's `notifications/cancelled` (or the session's end). Dropping the guard forgets it.
    pub fn begin(self: &Arc<Self>, request_id: &str) -> InFlight {
        let token = CancellationToken::new();
        self.calls().insert(request_id.to_owned(), token.clone());
        InFlight {
            session: Arc::clone(self),
            request_id: request_id.to_owned(),
            token,
        }
    }

    /// The caller cancelled `request_id`: its call, if it is in flight here, ends.
    pub fn cancel(&self, request_id: &str) {
        if let Some(call) = self.calls().remove(request_id) {
            call.cancel();
        }
    }

    fn calls(&self) -> MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A fast call in flight in a session (see [`FastSession::begin`]).
pub struct InFlight {
    session: Arc<FastSession>,
    request_id: String,
    pub token: CancellationToken,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.session.calls().remove(&self.request_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opening() -> Opening {
        Opening {
            offers: Offers::default(),
            link: Arc::default(),
            client: None,
            protocol: None,
        }
    }

    #[test]
    fn a_cancelled_call_is_told_and_a_finished_one_is_forgotten() {
        let sessions = FastSessions::new(Arc::default(), Duration::from_secs(60));
        sessions.opened("s1", opening());
        let session = sessions.get("s1").expect("known");
        let first = session.begin("1");
        let second = session.begin("\"two\"");
        session.cancel("\"two\"");
        assert!(second.token.is_cancelled());
        assert!(!first.token.is_cancelled());
        drop(first);
        assert!(session.calls().is_empty(), "{:?}", session.calls().keys());
        assert!(
            sessions.get("s2").is_none(),
            "an unknown session takes the full path"
        );
    }

    #[tokio::test]
    async fn a_session_rmcp_no_longer_has_is_forgotten_and_its_calls_end() {
        let sessions = FastSessions::new(Arc::default(), Duration::from_secs(60));
        sessions.opened("gone", opening());
        let session = sessions.get("gone").expect("known");
        let call = session.begin("7");
        assert!(!sessions.in_use("gone", &session).await);
        assert!(sessions.get("gone").is_none());
        assert!(call.token.is_cancelled());
    }
}
