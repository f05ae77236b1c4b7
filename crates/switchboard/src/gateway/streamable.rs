//! Streamable HTTP endpoints: one rmcp `StreamableHttpService` per configured server.
//!
//! Services are made on first use and kept while the server's slot is the same one; a server
//! removed and added again gets a fresh service (its old sessions were closed on removal).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::error::ApiError;
use super::sse::ViewQuery;
use super::{AppState, SessionLimits};
use crate::hub::Hub;
use crate::proxy::{AggregateProxy, ServerProxy, View};
use crate::slot::ServerSlot;

type Service = StreamableHttpService<ServerProxy, LocalSessionManager>;
type AggregateService = StreamableHttpService<AggregateProxy, LocalSessionManager>;

/// Per-server Streamable HTTP services, and one per view of the aggregate.
#[derive(Default)]
pub struct StreamableServices {
    services: Mutex<HashMap<String, (Weak<ServerSlot>, Service)>>,
    aggregate: Mutex<HashMap<String, AggregateService>>,
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
    ) -> Service {
        let mut services = self.services.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((weak, service)) = services.get(name) {
            if weak.as_ptr() == Arc::as_ptr(slot) {
                return service.clone();
            }
        }
        let for_factory = Arc::clone(slot);
        let service = StreamableHttpService::new(
            move || {
                Ok(ServerProxy::new(
                    Arc::clone(&for_factory),
                    limits.per_server,
                ))
            },
            session_manager(limits),
            config(retired.child_token()),
        );
        services.insert(name.to_owned(), (Arc::downgrade(slot), service.clone()));
        service
    }

    fn aggregate(&self, hub: &Arc<Hub>, view: View, limits: SessionLimits) -> AggregateService {
        let mut services = self.aggregate.lock().unwrap_or_else(|p| p.into_inner());
        services
            .entry(view.key())
            .or_insert_with(|| {
                let hub_for_factory = Arc::clone(hub);
                StreamableHttpService::new(
                    move || {
                        Ok(AggregateProxy::new(
                            Arc::clone(&hub_for_factory),
                            view.clone(),
                        ))
                    },
                    session_manager(limits),
                    config(hub.stopping()),
                )
            })
            .clone()
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
    let service = state.streamable.get(&name, &slot, &retired, state.limits);
    call(service, request).await
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
    let service = state.streamable.aggregate(&state.hub, view, state.limits);
    call(service, request).await
}

/// Runs an rmcp service and turns its plain-text refusals into JSON-RPC errors.
async fn call<S, B>(service: S, request: Request) -> Response
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
    let response = match service.oneshot(request).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    jsonrpc_refusal(response, sent_json).await
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
