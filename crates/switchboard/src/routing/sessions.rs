//! The downstream sessions connected to one upstream server, and what is in flight.
//!
//! One child serves many client sessions, so everything the child sends that is meant for
//! "the client" has to be routed: progress to the session whose request carries that token,
//! server-to-client requests (sampling, elicitation, roots) to the session whose request is in
//! flight, list_changed to everyone, resources/updated to subscribers. The registry is a plain
//! mutex held only for map operations, never across an `.await`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rmcp::model::{
    ClientCapabilities, ClientResult, ErrorData, ProgressToken, RequestId, ServerRequest,
};
use rmcp::service::Peer;
use rmcp::RoleServer;
use tokio::sync::{mpsc, oneshot};

use super::outbox::Outbox;

/// How long a progress notification may wait for its route: the child can answer with
/// progress before the request's sender has learnt the token rmcp put on it (a hair, or
/// longer on a loaded machine). Ends as soon as the route is added.
pub const PROGRESS_ROUTE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a response waits for the progress notifications read before it to be passed on.
/// Only a safety net: each of them is settled within [`PROGRESS_ROUTE_WAIT`] plus the send
/// timeout (delivered, or dropped for a caller that does not read), and then it goes on.
pub const PROGRESS_FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(8);

/// Identifies a downstream session within one registry.
pub type SessionId = u64;

/// A server-to-client capability a request from the child needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFeature {
    Sampling,
    Elicitation,
    Roots,
}

/// How long a client may take to answer a server's request (sampling waits for a human or a
/// model).
pub const CLIENT_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Sends a server's `request` to a downstream client's `peer` and waits (at most
/// [`CLIENT_ANSWER_TIMEOUT`]) for its answer; on Streamable HTTP it rides the stream of
/// `related`, the caller's request it belongs to. Used for a 2025-era server's requests and
/// for a stateless server's `input_required` asked of a 2025-era caller.
pub async fn ask_client(
    peer: &Peer<RoleServer>,
    mut request: ServerRequest,
    related: Option<RequestId>,
) -> Result<ClientResult, rmcp::ServiceError> {
    if let Some(related) = related {
        rmcp::model::GetExtensions::extensions_mut(&mut request)
            .insert(rmcp::service::OriginatingRequestId(related));
    }
    let options = rmcp::service::PeerRequestOptions::with_timeout(CLIENT_ANSWER_TIMEOUT);
    peer.send_request_with_option(request, options)
        .await?
        .await_response()
        .await
}

/// Which of a server's requests a client takes: its capabilities, as far as routing needs
/// them. Three flags, so the sessions and calls in a registry carry no copy of the client's
/// capabilities (a fast call of a client that takes requests enters one per call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offers {
    sampling: bool,
    elicitation: bool,
    roots: bool,
}

impl Offers {
    /// What a client declaring `caps` offers.
    pub fn of(caps: &ClientCapabilities) -> Self {
        Self {
            sampling: caps.sampling.is_some(),
            elicitation: caps.elicitation.is_some(),
            roots: caps.roots.is_some(),
        }
    }

    pub fn includes(self, feature: ClientFeature) -> bool {
        match feature {
            ClientFeature::Sampling => self.sampling,
            ClientFeature::Elicitation => self.elicitation,
            ClientFeature::Roots => self.roots,
        }
    }

    /// Whether the client takes any request a server may send during a call.
    pub fn any(self) -> bool {
        self.sampling || self.elicitation || self.roots
    }
}

impl ClientFeature {
    /// Whether a client with `caps` takes requests of this kind.
    pub fn offered_by(self, caps: &ClientCapabilities) -> bool {
        Offers::of(caps).includes(self)
    }

    pub fn name(self) -> &'static str {
        match self {
            ClientFeature::Sampling => "sampling",
            ClientFeature::Elicitation => "elicitation",
            ClientFeature::Roots => "roots",
        }
    }
}

struct Session {
    peer: Peer<RoleServer>,
    /// Where fan-out notifications go, so a session that does not read delays no one else.
    outbox: Outbox,
    offers: Offers,
    /// A session of the aggregate endpoint: it learns of list changes from the hub (with
    /// prefixed names), not from this child's raw notifications.
    aggregate: bool,
    /// Sequence number of the session's latest activity; higher is more recent.
    last_active: u64,
    subscriptions: HashSet<String>,
}

struct InFlight {
    session: SessionId,
    /// Where the server's requests of the client go while it runs.
    asked: Asked,
}

/// How a call in flight is asked what the server asks of its client.
enum Asked {
    /// Through its session's peer, related to this request of the session's (so Streamable
    /// HTTP sends it on the request's stream).
    OnSession(RequestId),
    /// Through a channel of the call's own, with what its caller offers: a 2026-era caller's
    /// (answered `input_required`) or a fast call's (asked on its own stream).
    OnChannel(mpsc::UnboundedSender<Ask>, Offers),
}

/// A request the server sent "the client" during a 2026-era caller's call, with where its
/// answer goes (see [`SessionRegistry::begin_asking`]).
pub struct Ask {
    pub request: ServerRequest,
    pub reply: oneshot::Sender<Result<ClientResult, ErrorData>>,
}

struct ProgressRoute {
    session: SessionId,
    token: ProgressToken,
}

/// A progress notification's place among those read for its token (see
/// [`SessionRegistry::progress_received`]); carried to the handler in the notification's
/// extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressIndex(u32);

/// Progress notifications read from the child for one upstream token, and how many of them
/// have been passed on (or dropped).
#[derive(Default)]
struct ProgressCount {
    received: u32,
    delivered: u32,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<SessionId, Session>,
    /// Upstream progress token (chosen by our rmcp client) -> the caller's own token.
    progress: HashMap<ProgressToken, ProgressRoute>,
    /// Requests forwarded upstream and not yet answered, by start order.
    in_flight: BTreeMap<u64, InFlight>,
    progress_counts: HashMap<ProgressToken, ProgressCount>,
    seq: u64,
}

impl Inner {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// See the module documentation. Shared (`Arc`) by the proxies and the upstream client.
#[derive(Default)]
pub struct SessionRegistry {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    /// Woken whenever a progress notification has been passed on.
    progress_settled: tokio::sync::Notify,
    /// Woken whenever a progress route is added.
    route_added: tokio::sync::Notify,
    /// Calls of 2026-era callers waiting for their input.
    parked: super::parked::ParkedCalls,
    /// For a stateless server: the task following each subscribed resource's updates on a
    /// `subscriptions/listen` stream of its own (it has no `resources/subscribe`).
    watches: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

/// Who answers a server-to-client request.
pub enum Target {
    /// A downstream peer, with the id of the in-flight request it is related to (so
    /// Streamable HTTP can send it on that request's stream).
    Peer {
        peer: Peer<RoleServer>,
        related_request: Option<RequestId>,
    },
    /// A 2026-era caller's call, which asks its client through `input_required`.
    Call(mpsc::UnboundedSender<Ask>),
}

impl SessionRegistry {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls of 2026-era callers waiting for their input.
    pub fn parked(&self) -> &super::parked::ParkedCalls {
        &self.parked
    }

    /// Reserves an id for a session that has not initialised yet.
    pub fn allocate(&self) -> SessionId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records the session's peer once it has initialised.
    pub fn register(&self, id: SessionId, peer: Peer<RoleServer>, offers: Offers, aggregate: bool) {
        let mut inner = self.lock();
        let last_active = inner.next_seq();
        inner.sessions.insert(
            id,
            Session {
                outbox: Outbox::new(peer.clone()),
                peer,
                offers,
                aggregate,
                last_active,
                subscriptions: HashSet::new(),
            },
        );
    }

    /// Forgets the session and everything routed to it. A 2026-era call outlives the request
    /// that started it (it waits for its input across requests): it stays until its guard goes.
    pub fn unregister(&self, id: SessionId) {
        let mut inner = self.lock();
        inner.sessions.remove(&id);
        inner.progress.retain(|_, r| r.session != id);
        inner
            .in_flight
            .retain(|_, f| f.session != id || matches!(f.asked, Asked::OnChannel(..)));
    }

    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether something here needs the server's process to stay: a request in flight (or a
    /// call parked for its caller's input), or a session's resource subscription.
    pub fn holds_server(&self) -> bool {
        let inner = self.lock();
        !inner.in_flight.is_empty() || inner.sessions.values().any(|s| !s.subscriptions.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks a request from `session` as forwarded upstream. The returned guard removes the
    /// entry (and its progress route, once set) when dropped, however the call ends.
    pub fn begin(self: &Arc<Self>, session: SessionId, request: RequestId) -> InFlightGuard {
        self.insert_flight(session, Asked::OnSession(request))
    }

    /// Like [`begin`](Self::begin), for a call whose caller (offering `offers`) is asked
    /// through the call itself (a 2026-era caller's, or a fast call's): what the server asks of
    /// the client while it runs comes out of the returned receiver.
    pub fn begin_asking(
        self: &Arc<Self>,
        session: SessionId,
        offers: Offers,
    ) -> (InFlightGuard, mpsc::UnboundedReceiver<Ask>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            self.insert_flight(session, Asked::OnChannel(tx, offers)),
            rx,
        )
    }

    fn insert_flight(self: &Arc<Self>, session: SessionId, asked: Asked) -> InFlightGuard {
        let mut inner = self.lock();
        let seq = inner.next_seq();
        if let Some(s) = inner.sessions.get_mut(&session) {
            s.last_active = seq;
        }
        inner.in_flight.insert(seq, InFlight { session, asked });
        InFlightGuard {
            registry: Arc::clone(self),
            seq,
            upstream_token: None,
        }
    }

    /// Where a progress notification carrying the upstream `token` should go.
    pub fn progress_route(
        &self,
        token: &ProgressToken,
    ) -> Option<(Peer<RoleServer>, ProgressToken)> {
        let inner = self.lock();
        let route = inner.progress.get(token)?;
        let session = inner.sessions.get(&route.session)?;
        Some((session.peer.clone(), route.token.clone()))
    }

    /// Where a progress notification carrying the upstream `token` should go, waiting up to
    /// `limit` for its route to be added.
    pub async fn wait_for_route(
        &self,
        token: &ProgressToken,
        limit: std::time::Duration,
    ) -> Option<(Peer<RoleServer>, ProgressToken)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let added = self.route_added.notified();
            tokio::pin!(added);
            added.as_mut().enable();
            if let Some(route) = self.progress_route(token) {
                return Some(route);
            }
            if tokio::time::timeout_at(deadline, added).await.is_err() {
                return self.progress_route(token);
            }
        }
    }

    /// Counts a progress notification the moment it is read from the server; answers its
    /// place among those of its token (0 for the first), to pass it on in that order.
    pub fn progress_received(&self, token: &ProgressToken) -> ProgressIndex {
        let mut inner = self.lock();
        let count = inner.progress_counts.entry(token.clone()).or_default();
        count.received += 1;
        ProgressIndex(count.received - 1)
    }

    /// Waits (at most `limit`) until every progress notification of `token` read before the
    /// one at `index` was passed on or dropped. rmcp hands each notification to a task of its
    /// own, so without this a later value could overtake an earlier one ("progress values
    /// should be increasing").
    pub async fn wait_for_progress_turn(
        &self,
        token: &ProgressToken,
        index: ProgressIndex,
        limit: std::time::Duration,
    ) {
        let turn = async {
            loop {
                let notified = self.progress_settled.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let done = self
                    .lock()
                    .progress_counts
                    .get(token)
                    .is_none_or(|c| c.delivered >= index.0);
                if done {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(limit, turn).await;
    }

    /// Counts a progress notification as passed on (or dropped). With `forget`, the token
    /// belongs to no call any more and its count is discarded.
    pub fn progress_delivered(&self, token: &ProgressToken, forget: bool) {
        {
            let mut inner = self.lock();
            if forget {
                inner.progress_counts.remove(token);
            } else if let Some(count) = inner.progress_counts.get_mut(token) {
                count.delivered += 1;
            }
        }
        self.progress_settled.notify_waiters();
    }

    fn progress_pending(&self, token: &ProgressToken) -> bool {
        self.lock()
            .progress_counts
            .get(token)
            .is_some_and(|c| c.delivered < c.received)
    }

    /// The session to ask for `feature`: the newest in-flight request whose session offers it,
    /// else the most recently active session that offers it.
    pub fn pick(&self, feature: ClientFeature) -> Option<Target> {
        let inner = self.lock();
        for flight in inner.in_flight.values().rev() {
            match &flight.asked {
                Asked::OnChannel(asks, offers) => {
                    if offers.includes(feature) && !asks.is_closed() {
                        return Some(Target::Call(asks.clone()));
                    }
                }
                Asked::OnSession(request) => {
                    if let Some(s) = inner.sessions.get(&flight.session) {
                        if s.offers.includes(feature) {
                            return Some(Target::Peer {
                                peer: s.peer.clone(),
                                related_request: Some(request.clone()),
                            });
                        }
                    }
                }
            }
        }
        inner
            .sessions
            .values()
            .filter(|s| s.offers.includes(feature))
            .max_by_key(|s| s.last_active)
            .map(|s| Target::Peer {
                peer: s.peer.clone(),
                related_request: None,
            })
    }

    /// Every connected session, for logging broadcasts.
    pub fn everyone(&self) -> Vec<Outbox> {
        self.outboxes(|_| true)
    }

    /// The sessions of this server's own endpoint, for its raw list_changed notifications.
    pub fn direct(&self) -> Vec<Outbox> {
        self.outboxes(|s| !s.aggregate)
    }

    /// Sessions subscribed to `uri`.
    pub fn subscribers(&self, uri: &str) -> Vec<Outbox> {
        self.outboxes(|s| s.subscriptions.contains(uri))
    }

    fn outboxes(&self, which: impl Fn(&Session) -> bool) -> Vec<Outbox> {
        self.lock()
            .sessions
            .values()
            .filter(|s| which(s))
            .map(|s| s.outbox.clone())
            .collect()
    }

    /// Records a subscription; returns true when it is the first for `uri` (so it must be
    /// forwarded upstream).
    pub fn subscribe(&self, session: SessionId, uri: &str) -> bool {
        let mut inner = self.lock();
        let first = !inner
            .sessions
            .values()
            .any(|s| s.subscriptions.contains(uri));
        if let Some(s) = inner.sessions.get_mut(&session) {
            s.subscriptions.insert(uri.to_owned());
        }
        first
    }

    /// Keeps `task`, which follows `uri`'s updates for its subscribers, until
    /// [`unwatch`](Self::unwatch) (a task it replaces is stopped).
    pub fn watch(&self, uri: &str, task: tokio::task::JoinHandle<()>) {
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = watches.insert(uri.to_owned(), task) {
            old.abort();
        }
    }

    /// Stops following `uri`'s updates (its last subscriber went).
    pub fn unwatch(&self, uri: &str) {
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(task) = watches.remove(uri) {
            task.abort();
        }
    }

    /// Drops a subscription; returns true when no session is subscribed to `uri` any more.
    pub fn unsubscribe(&self, session: SessionId, uri: &str) -> bool {
        let mut inner = self.lock();
        if let Some(s) = inner.sessions.get_mut(&session) {
            s.subscriptions.remove(uri);
        }
        !inner
            .sessions
            .values()
            .any(|s| s.subscriptions.contains(uri))
    }
}

/// Keeps an in-flight entry alive; see [`SessionRegistry::begin`].
pub struct InFlightGuard {
    registry: Arc<SessionRegistry>,
    seq: u64,
    upstream_token: Option<ProgressToken>,
}

impl InFlightGuard {
    /// Routes progress for `upstream` (the token our client put on the forwarded request) to
    /// the caller's `downstream` token.
    pub fn route_progress(&mut self, upstream: ProgressToken, downstream: ProgressToken) {
        let mut inner = self.registry.lock();
        let Some(flight) = inner.in_flight.get(&self.seq) else {
            return;
        };
        let session = flight.session;
        inner.progress.insert(
            upstream.clone(),
            ProgressRoute {
                session,
                token: downstream,
            },
        );
        drop(inner);
        self.registry.route_added.notify_waiters();
        self.upstream_token = Some(upstream);
    }

    /// Waits until every progress notification read for this call has been passed on, so the
    /// caller sees them before the response. Bounded by the caller.
    pub async fn progress_settled(&self) {
        let Some(token) = &self.upstream_token else {
            return;
        };
        loop {
            let notified = self.registry.progress_settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.registry.progress_pending(token) {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut inner = self.registry.lock();
        inner.in_flight.remove(&self.seq);
        if let Some(token) = &self.upstream_token {
            inner.progress.remove(token);
            inner.progress_counts.remove(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::test_peers::{client_name, reading};

    #[allow(deprecated)] // sampling is deprecated by SEP-2577 but still what servers use
    fn sampling() -> Offers {
        Offers::of(&ClientCapabilities::builder().enable_sampling().build())
    }

    async fn session(registry: &SessionRegistry, name: &str, offers: Offers) -> SessionId {
        let id = registry.allocate();
        registry.register(id, reading(name).await, offers, false);
        id
    }

    fn request(n: i64) -> RequestId {
        RequestId::Number(n)
    }

    /// The peer and related request a pick chose (it must be a peer).
    fn peer_of(target: Option<Target>) -> (String, Option<RequestId>) {
        match target {
            Some(Target::Peer {
                peer,
                related_request,
            }) => (client_name(&peer), related_request),
            Some(Target::Call(_)) => panic!("a 2026-era call was picked"),
            None => panic!("no one was picked"),
        }
    }

    #[tokio::test]
    async fn a_server_request_goes_to_the_newest_call_in_flight_whose_session_can_answer() {
        let registry = SessionRegistry::new();
        let a = session(&registry, "a", sampling()).await;
        let b = session(&registry, "b", sampling()).await;
        let plain = session(&registry, "plain", Offers::default()).await;
        let _call_a = registry.begin(a, request(1));
        let picked = peer_of(registry.pick(ClientFeature::Sampling));
        assert_eq!(picked, ("a".into(), Some(request(1))));

        let call_b = registry.begin(b, request(2));
        let _call_plain = registry.begin(plain, request(3));
        assert_eq!(
            peer_of(registry.pick(ClientFeature::Sampling)),
            ("b".into(), Some(request(2))),
            "the newest call whose session offers sampling, not the newest call"
        );
        drop(call_b);
        let picked = peer_of(registry.pick(ClientFeature::Sampling));
        assert_eq!(picked.0, "a", "b's call ended");
        assert!(registry.pick(ClientFeature::Elicitation).is_none());
    }

    #[tokio::test]
    async fn with_no_call_in_flight_the_most_recently_active_capable_session_is_asked() {
        let registry = SessionRegistry::new();
        let a = session(&registry, "a", sampling()).await;
        let _b = session(&registry, "b", sampling()).await;
        drop(registry.begin(a, request(1))); // a was active after b registered
        let picked = peer_of(registry.pick(ClientFeature::Sampling));
        assert_eq!(picked, ("a".into(), None));
    }

    #[tokio::test]
    async fn a_2026_call_is_asked_through_its_own_channel_and_outlives_its_request() {
        let registry = SessionRegistry::new();
        let older = session(&registry, "older", sampling()).await;
        let _older_call = registry.begin(older, request(1));
        let stateless = registry.allocate();
        let (call, mut asks) = registry.begin_asking(stateless, sampling());
        // The request that started the call is answered (input_required) and its handler goes.
        registry.unregister(stateless);
        let Some(Target::Call(channel)) = registry.pick(ClientFeature::Sampling) else {
            panic!("the 2026 call is the newest that can answer");
        };
        let (reply, _answer) = oneshot::channel();
        let ping = ServerRequest::PingRequest(Default::default());
        channel
            .send(Ask {
                request: ping,
                reply,
            })
            .unwrap();
        assert!(asks.recv().await.is_some());
        assert!(
            registry.pick(ClientFeature::Elicitation).is_none(),
            "it asks only for what its caller offers"
        );
        drop(call);
        assert_eq!(peer_of(registry.pick(ClientFeature::Sampling)).0, "older");
    }

    #[tokio::test]
    async fn progress_goes_to_the_callers_own_token_only_while_the_call_runs() {
        let registry = SessionRegistry::new();
        let a = session(&registry, "a", Offers::default()).await;
        let upstream = ProgressToken(rmcp::model::NumberOrString::Number(7));
        let theirs = ProgressToken(rmcp::model::NumberOrString::String("caller-token".into()));
        let mut call = registry.begin(a, request(1));
        call.route_progress(upstream.clone(), theirs.clone());
        let (peer, token) = registry.progress_route(&upstream).unwrap();
        assert_eq!((client_name(&peer), token), ("a".into(), theirs));

        registry.progress_received(&upstream);
        assert!(registry.progress_pending(&upstream));
        registry.progress_delivered(&upstream, false);
        assert!(!registry.progress_pending(&upstream));
        drop(call);
        assert!(
            registry.progress_route(&upstream).is_none(),
            "the call ended"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_progress_read_before_its_route_is_added_waits_for_it() {
        let registry = SessionRegistry::new();
        let a = session(&registry, "a", Offers::default()).await;
        let upstream = ProgressToken(rmcp::model::NumberOrString::Number(3));
        let theirs = ProgressToken(rmcp::model::NumberOrString::Number(30));
        let waiting = {
            let registry = Arc::clone(&registry);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                registry
                    .wait_for_route(&upstream, PROGRESS_ROUTE_WAIT)
                    .await
            })
        };
        tokio::task::yield_now().await;
        let started = tokio::time::Instant::now();
        let mut call = registry.begin(a, request(1));
        call.route_progress(upstream.clone(), theirs.clone());
        let (peer, token) = waiting.await.unwrap().expect("the route, once added");
        assert_eq!((client_name(&peer), token), ("a".into(), theirs));
        assert!(
            started.elapsed() < PROGRESS_ROUTE_WAIT,
            "woken by the route, not the timer"
        );

        let stray = ProgressToken(rmcp::model::NumberOrString::Number(99));
        assert!(registry
            .wait_for_route(&stray, PROGRESS_ROUTE_WAIT)
            .await
            .is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_calls_progress_is_passed_on_in_the_order_it_was_read() {
        let registry = SessionRegistry::new();
        let token = ProgressToken(rmcp::model::NumberOrString::Number(5));
        let first = registry.progress_received(&token);
        let second = registry.progress_received(&token);
        registry
            .wait_for_progress_turn(&token, first, PROGRESS_ROUTE_WAIT)
            .await;
        let waiting = {
            let registry = Arc::clone(&registry);
            let token = token.clone();
            tokio::spawn(async move {
                registry
                    .wait_for_progress_turn(&token, second, PROGRESS_ROUTE_WAIT)
                    .await;
                tokio::time::Instant::now()
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(!waiting.is_finished(), "the second waits for the first");
        let delivered_at = tokio::time::Instant::now();
        registry.progress_delivered(&token, false);
        assert_eq!(
            waiting.await.unwrap(),
            delivered_at,
            "woken by the first's delivery"
        );
    }

    #[tokio::test]
    async fn a_closed_session_takes_its_calls_and_routes_with_it() {
        let registry = SessionRegistry::new();
        let a = session(&registry, "a", sampling()).await;
        let upstream = ProgressToken(rmcp::model::NumberOrString::Number(1));
        let mut call = registry.begin(a, request(1));
        call.route_progress(upstream.clone(), upstream.clone());
        registry.unregister(a);
        assert!(registry.progress_route(&upstream).is_none());
        assert!(registry.pick(ClientFeature::Sampling).is_none());
        assert!(registry.is_empty());
        drop(call); // after its session: nothing left to remove, nothing breaks
    }

    #[tokio::test]
    async fn only_the_first_subscription_and_the_last_unsubscription_go_upstream() {
        let registry = SessionRegistry::new();
        let a = session(&registry, "a", Offers::default()).await;
        let b = session(&registry, "b", Offers::default()).await;
        assert!(registry.subscribe(a, "file:///x"), "the first");
        assert!(!registry.subscribe(b, "file:///x"));
        assert_eq!(registry.subscribers("file:///x").len(), 2);
        assert!(!registry.unsubscribe(a, "file:///x"), "b still listens");
        assert!(registry.unsubscribe(b, "file:///x"), "the last");
        assert!(registry.subscribers("file:///x").is_empty());
    }

    #[tokio::test]
    async fn aggregate_sessions_hear_broadcasts_but_not_the_raw_list_changes() {
        let registry = SessionRegistry::new();
        let direct = session(&registry, "direct", Offers::default()).await;
        let id = registry.allocate();
        registry.register(id, reading("aggregate").await, Offers::default(), true);
        assert_eq!(registry.everyone().len(), 2);
        assert_eq!(registry.direct().len(), 1);
        registry.unregister(direct);
        assert!(registry.direct().is_empty());
    }
}
