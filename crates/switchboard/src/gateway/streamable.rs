//! Streamable HTTP endpoints: one rmcp `StreamableHttpService` per configured server.
//!
//! Services are made on first use and kept while the server's slot is the same one; a server
//! removed and added again gets a fresh service (its old sessions were closed on removal).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::error::ApiError;
use super::AppState;
use crate::proxy::ServerProxy;
use crate::slot::ServerSlot;

type Service = StreamableHttpService<ServerProxy, LocalSessionManager>;

/// Session lifetime without any request: clients such as the MCP Inspector never DELETE.
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// Per-server Streamable HTTP services.
#[derive(Default)]
pub struct StreamableServices {
    services: Mutex<HashMap<String, (Weak<ServerSlot>, Service)>>,
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
        let config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(allowed_hosts.iter().cloned())
            .with_cancellation_token(retired.child_token());
        let mut manager = LocalSessionManager::default();
        manager.session_config.keep_alive = Some(SESSION_IDLE);
        let for_factory = Arc::clone(slot);
        let service = StreamableHttpService::new(
            move || Ok(ServerProxy::new(Arc::clone(&for_factory))),
            Arc::new(manager),
            config,
        );
        services.insert(name.to_owned(), (Arc::downgrade(slot), service.clone()));
        service
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
