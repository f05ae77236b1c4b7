//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp has no server for.
//!
//! `GET /servers/{name}/sse` opens a session: the first event (`endpoint`) tells the client
//! where to POST, then every message to the client is an SSE `message` event.
//! `POST .../messages?sessionId=` delivers one JSON-RPC message and answers 202. Each session
//! is an rmcp server (a [`ServerProxy`]) over a pair of bounded channels, so a client that does
//! not read its stream slows only its own session. A `tools/call` may take the fast path
//! (`proxy::FastCall`): it is answered on the stream by a task of its own, and rmcp never sees
//! it; what the server asks the client during it goes on the stream too, and the client's
//! answer, POSTed like any message, is taken before rmcp sees it (`proxy::FastAsks`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use rmcp::model::{
    ClientJsonRpcMessage, ClientRequest, JsonRpcMessage, JsonRpcRequest, ServerJsonRpcMessage,
};
use rmcp::service::ServiceExt;
use rmcp::ServerHandler;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::fast_sessions::FastSession;
use super::AppState;
use crate::activity::{client_label, Origin, Transport};
use crate::proxy::{
    cancelled_request, AggregateProxy, Caller, FastCall, Opening, Route, ServerProxy, SessionLink,
    View,
};
use crate::routing::Offers;

/// Messages buffered per direction and session before the sender waits.
const CHANNEL_CAPACITY: usize = 64;
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Open legacy sessions: id -> where its POSTed messages go.
#[derive(Default)]
pub struct SseSessions {
    map: Mutex<HashMap<String, Arc<SseSession>>>,
}

struct SseSession {
    server: String,
    /// Where the session's calls go: the server's name, or the aggregate's view.
    view: Option<View>,
    inbound: mpsc::Sender<ClientJsonRpcMessage>,
    /// The stream (each message as JSON text), for answers the fast path writes itself.
    outbound: futures::channel::mpsc::Sender<String>,
    /// Set by the client's `initialize`: its calls may take the fast path from then on.
    fast: OnceLock<Arc<FastSession>>,
    /// Cancelled when the session ends.
    ended: CancellationToken,
    /// The endpoint and session, for the activity log (the client is learnt at `initialize`).
    origin: Origin,
}

impl SseSessions {
    fn insert(&self, id: String, session: SseSession) {
        self.lock().insert(id, Arc::new(session));
    }

    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    fn get(&self, id: &str, server: &str) -> Option<Arc<SseSession>> {
        self.lock().get(id).filter(|s| s.server == server).cloned()
    }

    /// Open legacy sessions (the fuzz target checks that none is left behind).
    #[cfg(feature = "fuzzing")]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    #[cfg(feature = "fuzzing")]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<SseSession>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `GET /servers/{name}/sse`
pub async fn open(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some((slot, retired)) = state.hub.slot_with_retirement(&name) else {
        return ApiError::unknown_server(&name).into_response();
    };
    let id = new_session_id();
    let mut tap = state.tap(format!("/servers/{name}/sse"), Transport::Sse);
    tap.origin.session = Some(Arc::from(id.as_str()));
    let origin = tap.origin.clone();
    open_session(
        &state,
        ServerProxy::for_server(
            slot,
            state.limits.per_server,
            state.hub.events().clone(),
            tap,
        ),
        retired,
        (id, name.clone(), None, origin),
        &format!("/servers/{name}/messages"),
    )
}

/// `GET /sse[?servers=a,b]`: the aggregate endpoint.
pub async fn open_aggregate(
    State(state): State<AppState>,
    Query(query): Query<ViewQuery>,
) -> Response {
    let view = match query.view() {
        Ok(view) => view,
        Err(e) => return e.into_response(),
    };
    let id = new_session_id();
    let mut tap = state.tap(super::view_path("/sse", &view), Transport::Sse);
    tap.origin.session = Some(Arc::from(id.as_str()));
    let origin = tap.origin.clone();
    let search = Arc::clone(&state.search);
    let proxy = AggregateProxy::for_view(Arc::clone(&state.hub), view.clone(), tap, search);
    let retired = state.hub.stopping();
    open_session(
        &state,
        proxy,
        retired,
        (id, AGGREGATE.into(), Some(view), origin),
        "/messages",
    )
}

/// The owner recorded for aggregate sessions (server names cannot contain `*`).
const AGGREGATE: &str = "*";

fn new_session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Opens the session `id` served by `handler`; POSTs must come to `messages_path` and name
/// `owner` (a server's name, or the aggregate with its view). `origin` is what the activity
/// log says of its calls.
fn open_session<H: ServerHandler>(
    state: &AppState,
    handler: H,
    retired: CancellationToken,
    (id, owner, view, origin): (String, String, Option<View>, Origin),
    messages_path: &str,
) -> Response {
    let (in_tx, in_rx) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL_CAPACITY);
    let (out_tx, out_rx) = futures::channel::mpsc::channel::<String>(CHANNEL_CAPACITY);
    // The session lives until the client goes away (its stream is dropped), the server entry
    // is removed, or Switchboard stops.
    let session_ct = retired.child_token();
    state.sse.insert(
        id.clone(),
        SseSession {
            server: owner,
            view,
            inbound: in_tx,
            outbound: out_tx.clone(),
            fast: OnceLock::new(),
            ended: session_ct.clone(),
            origin,
        },
    );
    let closed = CancellationToken::new();
    {
        let sessions = Arc::clone(&state.sse);
        let id = id.clone();
        let ct = session_ct.clone();
        let closed = closed.clone();
        tokio::spawn(async move {
            let sink = out_tx
                .sink_map_err(std::io::Error::other)
                .with(|m| futures::future::ready(Ok::<_, std::io::Error>(to_json(&m))));
            let stream = tokio_stream::wrappers::ReceiverStream::new(in_rx);
            match handler.serve_with_ct((sink, stream), ct.clone()).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => {
                    tracing::debug!(session = %id, error = %e, "legacy SSE session ended before initialize")
                }
            }
            sessions.remove(&id);
            closed.cancel();
        });
    }

    let endpoint = format!("{messages_path}?sessionId={id}");
    let first = futures::stream::once(async move {
        Ok::<_, Infallible>(Event::default().event("endpoint").data(endpoint))
    });
    let guard = session_ct.drop_guard();
    let messages = out_rx
        .map(move |json| {
            let _keep = &guard; // dropping the stream (client gone) cancels the session
            Ok(Event::default().event("message").data(json))
        })
        .take_until(closed.cancelled_owned());
    Sse::new(first.chain(messages))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionQuery {
    session_id: Option<String>,
}

/// `POST /servers/{name}/messages?sessionId=`
pub async fn post(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<SessionQuery>,
    body: Bytes,
) -> Response {
    deliver(&state, &name, &format!("/servers/{name}/sse"), query, &body).await
}

/// `POST /messages?sessionId=`: the aggregate endpoint.
pub async fn post_aggregate(
    State(state): State<AppState>,
    Query(query): Query<SessionQuery>,
    body: Bytes,
) -> Response {
    deliver(&state, AGGREGATE, "/sse", query, &body).await
}

async fn deliver(
    state: &AppState,
    owner: &str,
    reopen: &str,
    query: SessionQuery,
    body: &[u8],
) -> Response {
    let Some(id) = query.session_id else {
        return ApiError::bad_request(format!(
            "missing sessionId query parameter (open {reopen} first)"
        ))
        .into_response();
    };
    let Some(session) = state.sse.get(&id, owner) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_session",
            format!("no open SSE session '{id}' here; open {reopen} again"),
        )
        .into_response();
    };
    if let Some(fast) = session.fast.get() {
        if fast.asks.answer(body) {
            return (StatusCode::ACCEPTED, "Accepted").into_response();
        }
        if let Some(cancelled) = cancelled_request(body) {
            fast.cancel(cancelled.trim()); // and rmcp hears it too, for its own calls
        } else if let Some(call) = fast_call(state, &session, body) {
            let origin = fast.origin(&session.origin, &id);
            let call = fast.asking(call).recorded(&state.activity, origin, body);
            answer_on_stream(call, Arc::clone(fast), &session);
            return (StatusCode::ACCEPTED, "Accepted").into_response();
        }
    }
    let mut message: ClientJsonRpcMessage = match serde_json::from_slice(body) {
        Ok(m) => m,
        Err(e) => {
            return ApiError::bad_request(format!("body is not a JSON-RPC message: {e}"))
                .into_response()
        }
    };
    if let JsonRpcMessage::Request(JsonRpcRequest {
        request: ClientRequest::InitializeRequest(initialize),
        ..
    }) = &mut message
    {
        let info = &initialize.params.client_info;
        let link = Arc::<SessionLink>::default();
        let _ = session.fast.set(FastSession::new(Opening {
            offers: Offers::of(&initialize.params.capabilities),
            link: Arc::clone(&link),
            client: Some(client_label(&info.name, &info.version)),
            protocol: Some(Arc::from(initialize.params.protocol_version.as_str())),
        }));
        // For the session's handler, which records its registry ids on it.
        initialize.extensions.insert(link);
    }
    if session.inbound.send(message).await.is_err() {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_session",
            format!("SSE session '{id}' has closed; open {reopen} again"),
        )
        .into_response();
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}

/// The call in `body`, if it may take the fast path in `session`.
fn fast_call(state: &AppState, session: &SseSession, body: &[u8]) -> Option<FastCall> {
    match &session.view {
        Some(view) => {
            let route = Route::Aggregate {
                hub: &state.hub,
                view,
            };
            FastCall::read(body, &Caller::Session, &route)
        }
        None => {
            let slot = state.hub.slot(&session.server)?;
            FastCall::read(body, &Caller::Session, &Route::Server(&slot))
        }
    }
}

/// Sends `call` to its server, and its progress, the server's requests of the client and the
/// answer on the session's stream, from a task of its own (the POST has its 202 already).
/// The caller's `notifications/cancelled` or the session's end stops it, and the server is
/// told.
fn answer_on_stream(call: FastCall, fast: Arc<FastSession>, session: &SseSession) {
    let outbound = session.outbound.clone();
    let ended = session.ended.clone();
    tokio::spawn(async move {
        let flight = fast.begin(call.id_text().trim());
        let run = call.run(&flight.token, |message| {
            let message = message.into_text();
            let mut outbound = outbound.clone();
            async move { outbound.send(message).await.is_ok() }
        });
        tokio::select! {
            () = run => {}
            () = ended.cancelled() => {}
        }
    });
}

/// One of rmcp's messages as the stream carries it.
fn to_json(message: &ServerJsonRpcMessage) -> String {
    serde_json::to_string(message)
        .unwrap_or_else(|e| format!("{{\"error\":\"unserialisable message: {e}\"}}"))
}

/// `?servers=a,b` and `?mode=search` on the aggregate endpoints.
#[derive(Debug, Deserialize)]
pub struct ViewQuery {
    servers: Option<String>,
    /// `search`: the search meta-tools instead of every tool (`proxy::search`).
    mode: Option<String>,
}

impl ViewQuery {
    pub fn view(&self) -> Result<View, ApiError> {
        let view = match &self.servers {
            None => View::all(),
            Some(list) => View::parse(list).map_err(|why| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_view", why.to_string())
            })?,
        };
        match self.mode.as_deref() {
            None | Some("" | "all") => Ok(view),
            Some("search") => Ok(view.searching()),
            Some(other) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_mode",
                format!("mode={other} is not a mode of the aggregate endpoint; use mode=search, or leave it out for every tool"),
            )),
        }
    }
}
