//! Streamable HTTP endpoints: one rmcp `StreamableHttpService` per configured server.
//!
//! Services are made on first use and kept while the server's slot is the same one; a server
//! removed and added again gets a fresh service (its old sessions were closed on removal).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::error::ApiError;
use super::sse::ViewQuery;
use super::AppState;
use crate::hub::Hub;
use crate::proxy::{AggregateProxy, ServerProxy, View};
use crate::slot::ServerSlot;

type Service = StreamableHttpService<ServerProxy, LocalSessionManager>;
type AggregateService = StreamableHttpService<AggregateProxy, LocalSessionManager>;

/// Session lifetime without any request: clients such as the MCP Inspector never DELETE.
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// Per-server Streamable HTTP services, and one per view of the aggregate.
#[derive(Default)]
pub struct StreamableServices {
    services: Mutex<HashMap<String, (Weak<ServerSlot>, Service)>>,
    aggregate: Mutex<HashMap<String, AggregateService>>,
}

fn config(cancel: CancellationToken, allowed_hosts: &[String]) -> StreamableHttpServerConfig {
    StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts.iter().cloned())
        .with_cancellation_token(cancel)
}

fn session_manager() -> Arc<LocalSessionManager> {
    let mut manager = LocalSessionManager::default();
    manager.session_config.keep_alive = Some(SESSION_IDLE);
    Arc::new(manager)
}

impl StreamableServices {
    fn get(
        &self,
        name: &str,
        slot: &Arc<ServerSlot>,
        retired: &CancellationToken,
        allowed_hosts: &[String],
    ) -> Service {
        let mut services = self.services.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((weak, service)) = services.get(name) {
            if weak.as_ptr() == Arc::as_ptr(slot) {
                return service.clone();
            }
        }
        let for_factory = Arc::clone(slot);
        let service = StreamableHttpService::new(
            move || Ok(ServerProxy::new(Arc::clone(&for_factory))),
            session_manager(),
            config(retired.child_token(), allowed_hosts),
        );
        services.insert(name.to_owned(), (Arc::downgrade(slot), service.clone()));
        service
    }

    fn aggregate(&self, hub: &Arc<Hub>, view: View, allowed_hosts: &[String]) -> AggregateService {
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
                    session_manager(),
                    config(hub.stopping(), allowed_hosts),
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
    let service = state
        .streamable
        .get(&name, &slot, &retired, &state.allowed_hosts);
    match service.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
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
    let service = state
        .streamable
        .aggregate(&state.hub, view, &state.allowed_hosts);
    match service.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}
