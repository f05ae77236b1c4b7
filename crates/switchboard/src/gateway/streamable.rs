//! Streamable HTTP endpoints: one rmcp `StreamableHttpService` per configured server.
//!
//! Services are made on first use and kept while the server's slot is the same one; a server
//! removed and added again gets a fresh service (its old sessions were closed on removal).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::error::ApiError;
use super::fast_sessions::FastSessions;
use super::sse::ViewQuery;
use super::{AppState, SessionLimits};
use crate::activity::Transport;
use crate::events::EventBus;
use crate::hub::Hub;
use crate::proxy::{AggregateProxy, Route, ServerProxy, Tap, ToolSearch, View};
use crate::slot::ServerSlot;

type Service = StreamableHttpService<ServerProxy, LocalSessionManager>;
type AggregateService = StreamableHttpService<AggregateProxy, LocalSessionManager>;

/// Distinct aggregate views (`?servers=` lists) kept at once. Views without an open session
/// are dropped whenever a new one is made; past this many with sessions, a new view is refused.
pub const MAX_VIEWS: usize = 64;

/// Per-server Streamable HTTP services, and one per view of the aggregate in use.
#[derive(Default)]
pub struct StreamableServices {
    services: Mutex<HashMap<String, ServerService>>,
    aggregate: Mutex<HashMap<String, ViewService>>,
}

/// The service of one server, while its slot is the same one, with what the fast path
/// knows of its sessions.
struct ServerService {
    slot: Weak<ServerSlot>,
    service: Service,
    fast: Arc<FastSessions>,
}

/// The service of one aggregate view, its sessions (to tell an unused view), and what the
/// fast path knows of them.
struct ViewService {
    service: AggregateService,
    sessions: Arc<LocalSessionManager>,
    fast: Arc<FastSessions>,
}

impl ViewService {
    /// Whether the view has no open session. A manager busy this instant counts as in use.
    fn unused(&self) -> bool {
        self.sessions
            .sessions
            .try_read()
            .is_ok_and(|sessions| sessions.is_empty())
    }
}

/// Host and Origin are checked by the gateway's guard for every endpoint, so rmcp's own
/// host check is off (it would refuse remote clients that the guard let in with the token).
fn config(cancel: CancellationToken) -> StreamableHttpServerConfig {
    StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(super::guard::MAX_BODY_BYTES)
        .with_cancellation_token(cancel)
}

fn session_manager(limits: SessionLimits) -> Arc<LocalSessionManager> {
    let mut manager = LocalSessionManager::default();
    manager.session_config.keep_alive = Some(limits.idle);
    Arc::new(manager)
}

impl StreamableServices {
    fn get(
        &self,
        name: &str,
        slot: &Arc<ServerSlot>,
        retired: &CancellationToken,
        limits: SessionLimits,
        events: &EventBus,
        tap: &Tap,
    ) -> (Service, Arc<FastSessions>) {
        let mut services = self.services.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = services.get(name) {
            if existing.slot.as_ptr() == Arc::as_ptr(slot) {
                return (existing.service.clone(), Arc::clone(&existing.fast));
            }
        }
        // Entries of removed servers go when another is made.
        services.retain(|_, existing| existing.slot.strong_count() > 0);
        let for_factory = Arc::clone(slot);
        let events = events.clone();
        let tap = tap.clone();
        let sessions = session_manager(limits);
        let fast = Arc::new(FastSessions::new(Arc::clone(&sessions), limits.idle));
        let service = StreamableHttpService::new(
            move || {
                Ok(ServerProxy::for_server(
                    Arc::clone(&for_factory),
                    limits.per_server,
                    events.clone(),
                    tap.clone(),
                ))
            },
            sessions,
            config(retired.child_token()),
        );
        let entry = ServerService {
            slot: Arc::downgrade(slot),
            service: service.clone(),
            fast: Arc::clone(&fast),
        };
        services.insert(name.to_owned(), entry);
        (service, fast)
    }

    /// The service of `view`, made on first use. Views nobody uses are dropped when a new
    /// one is made, so the map does not grow with every `?servers=` list ever asked for.
    fn aggregate(
        &self,
        hub: &Arc<Hub>,
        view: &View,
        limits: SessionLimits,
        (tap, search): (&Tap, &Arc<ToolSearch>),
    ) -> Result<(AggregateService, Arc<FastSessions>), ApiError> {
        let mut services = self.aggregate.lock().unwrap_or_else(|p| p.into_inner());
        let key = view.key();
        if let Some(existing) = services.get(&key) {
            return Ok((existing.service.clone(), Arc::clone(&existing.fast)));
        }
        services.retain(|_, v| !v.unused());
        if services.len() >= MAX_VIEWS {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_views",
                format!(
                    "{MAX_VIEWS} different ?servers= views of the aggregate endpoint have open \
                     sessions; close some, or use one of those views"
                ),
            ));
        }
        let sessions = session_manager(limits);
        let fast = Arc::new(FastSessions::new(Arc::clone(&sessions), limits.idle));
        let hub_for_factory = Arc::clone(hub);
        let view = view.clone();
        let tap = tap.clone();
        let search = Arc::clone(search);
        let service = StreamableHttpService::new(
            move || {
                Ok(AggregateProxy::for_view(
                    Arc::clone(&hub_for_factory),
                    view.clone(),
                    tap.clone(),
                    Arc::clone(&search),
                ))
            },
            Arc::clone(&sessions),
            config(hub.stopping()),
        );
        services.insert(
            key,
            ViewService {
                service: service.clone(),
                sessions,
                fast: Arc::clone(&fast),
            },
        );
        Ok((service, fast))
    }

    /// Aggregate views kept now.
    #[cfg(test)]
    fn views(&self) -> usize {
        self.aggregate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// `/servers/{name}/mcp` (any method).
pub async fn handle(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let Some((slot, retired)) = state.hub.slot_with_retirement(&name) else {
        return ApiError::unknown_server(&name).into_response();
    };
    let tap = state.tap(format!("/servers/{name}/mcp"), Transport::Http);
    let (service, fast) = state.streamable.get(
        &name,
        &slot,
        &retired,
        state.limits,
        state.hub.events(),
        &tap,
    );
    let request = match super::fast::try_call(request, &fast, Route::Server(&slot), &tap).await {
        Ok(answered) => return answered,
        Err(request) => request,
    };
    call(service, &fast, request).await
}

/// `/mcp[?servers=a,b]` (any method): the aggregate endpoint.
pub async fn handle_aggregate(
    State(state): State<AppState>,
    Query(query): Query<ViewQuery>,
    request: Request,
) -> Response {
    let view = match query.view() {
        Ok(view) => view,
        Err(e) => return e.into_response(),
    };
    let tap = state.tap(super::view_path("/mcp", &view), Transport::Http);
    let (service, fast) =
        match state
            .streamable
            .aggregate(&state.hub, &view, state.limits, (&tap, &state.search))
        {
            Ok(found) => found,
            Err(e) => return e.into_response(),
        };
    let route = Route::Aggregate {
        hub: &state.hub,
        view: &view,
    };
    let request = match super::fast::try_call(request, &fast, route, &tap).await {
        Ok(answered) => return answered,
        Err(request) => request,
    };
    call(service, &fast, request).await
}

/// Runs an rmcp service, turns its plain-text refusals into JSON-RPC errors, and answers a
/// successful session DELETE with 200. Tells `fast` of the sessions opened and closed.
async fn call<S, B>(service: S, fast: &FastSessions, request: Request) -> Response
where
    S: tower::Service<Request, Response = http::Response<B>, Error = std::convert::Infallible>,
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let sent_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (mut request, opening) = match super::fast::opening(request).await {
        Ok(opening) => opening,
        Err(answer) => return answer,
    };
    if let Some(opening) = &opening {
        // For the session's handler (rmcp hands it the request's parts).
        request.extensions_mut().insert(Arc::clone(&opening.link));
    }
    let deleted = (request.method() == Method::DELETE).then(|| request.headers().clone());
    let mut response = match service.oneshot(request).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    if let Some(opening) = opening {
        super::fast::opened(fast, &response, opening);
    }
    if let Some(headers) = deleted {
        super::fast::closing(fast, &headers, &response);
        session_closed_ok(&mut response);
    }
    jsonrpc_refusal(response, sent_json).await
}

/// rmcp answers a DELETE that closed its session with 202 Accepted. The TypeScript SDK's
/// reference server answers 200, and the Python SDK (1.x and 2.x) takes anything but 200 or
/// 204 as a failed termination and logs a warning on every close, so closing says 200.
fn session_closed_ok(response: &mut Response) {
    if response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
}

/// rmcp answers a body it cannot read as JSON-RPC with "415 Unsupported Media Type" in plain
/// text, and other refusals in plain text too. Clients deserve JSON-RPC: a body that was JSON
/// but not a message is a parse error (400, -32700); other refusals keep their status.
async fn jsonrpc_refusal(response: Response, sent_json: bool) -> Response {
    let status = response.status();
    let is_text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !is_text {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let (status, code, message) = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE && sent_json {
        (
            StatusCode::BAD_REQUEST,
            -32700,
            format!("Parse error: the body is not a JSON-RPC message ({text})"),
        )
    } else {
        (status, -32600, text)
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventBus;
    use crate::supervisor::Launcher;

    const LIMITS: SessionLimits = SessionLimits {
        per_server: 16,
        idle: std::time::Duration::from_secs(60),
    };

    fn tap() -> Tap {
        Tap {
            log: crate::activity::ActivityLog::off(),
            origin: crate::activity::Origin::new("/mcp", Transport::Http),
        }
    }

    fn view(n: usize) -> View {
        View::parse(&format!("s{n}")).unwrap()
    }

    /// Opens a session on `service` with a real `initialize` POST.
    async fn open_session((service, fast): (AggregateService, Arc<FastSessions>)) {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
        let request = http::Request::post("/mcp")
            .header(header::HOST, "127.0.0.1")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .body(axum::body::Body::from(body))
            .unwrap();
        let response = call(service, &fast, request).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }

    #[tokio::test]
    async fn aggregate_views_nobody_uses_are_dropped_and_the_rest_are_bounded() {
        let hub = Hub::new(EventBus::default(), None, Arc::new(Launcher::default()));
        let services = StreamableServices::default();
        for n in 0..1000 {
            services
                .aggregate(&hub, &view(n), LIMITS, (&tap(), &Arc::default()))
                .unwrap();
        }
        assert_eq!(services.views(), 1, "views without sessions do not pile up");

        for n in 0..MAX_VIEWS {
            let service = services
                .aggregate(&hub, &view(n), LIMITS, (&tap(), &Arc::default()))
                .unwrap();
            open_session(service).await;
        }
        assert_eq!(services.views(), MAX_VIEWS, "views in use are kept");
        let again = services.aggregate(&hub, &view(3), LIMITS, (&tap(), &Arc::default()));
        assert!(again.is_ok(), "a view in use is served");
        let refused = services
            .aggregate(&hub, &view(MAX_VIEWS), LIMITS, (&tap(), &Arc::default()))
            .err()
            .expect("one view too many is refused");
        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        hub.shutdown().await;
    }
}
