//! The HTTP gateway (axum, loopback by default): MCP endpoints per server on both transports,
//! and the REST API.

mod api;
mod dashboard;
mod error;
mod sse;
mod streamable;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{any, get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use sse::SseSessions;
pub use streamable::StreamableServices;

use crate::hub::Hub;
use crate::store::ConfigStore;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub store: Arc<ConfigStore>,
    pub streamable: Arc<StreamableServices>,
    pub sse: Arc<SseSessions>,
    /// `http://host:port` as clients should use it, for the endpoint URLs the API lists.
    pub base_url: Arc<str>,
    /// `Host` values accepted by the Streamable HTTP endpoints.
    pub allowed_hosts: Arc<[String]>,
}

impl AppState {
    pub fn new(hub: Arc<Hub>, store: Arc<ConfigStore>, addr: SocketAddr) -> Self {
        let host = match addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let mut allowed_hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if !allowed_hosts.contains(&addr.ip().to_string()) {
            allowed_hosts.push(addr.ip().to_string());
        }
        Self {
            hub,
            store,
            streamable: Arc::default(),
            sse: Arc::default(),
            base_url: format!("http://{host}:{}", addr.port()).into(),
            allowed_hosts: allowed_hosts.into(),
        }
    }
}

/// The gateway's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/servers/{name}/mcp", any(streamable::handle))
        .route("/servers/{name}/sse", get(sse::open))
        .route("/servers/{name}/messages", post(sse::post))
        .route("/mcp", any(streamable::handle_aggregate))
        .route("/sse", get(sse::open_aggregate))
        .route("/messages", post(sse::post_aggregate))
        .merge(api::routes())
        .fallback(dashboard::serve)
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
