//! The HTTP gateway (axum, loopback by default): MCP endpoints per server on both transports,
//! and the REST API.

mod api;
mod dashboard;
mod error;
mod fast;
mod fast_sessions;
pub mod guard;
mod login;
mod oauth_callback;
mod sse;
mod streamable;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use sse::SseSessions;
pub use streamable::StreamableServices;

use crate::activity::{ActivityLog, Origin, Transport};
use crate::config::GatewaySettings;
use crate::hub::Hub;
use crate::proxy::{Tap, ToolSearch, View};
use crate::store::ConfigStore;
use crate::tokens::TokenCounter;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub store: Arc<ConfigStore>,
    pub streamable: Arc<StreamableServices>,
    pub sse: Arc<SseSessions>,
    /// `http://host:port` as clients should use it, for the endpoint URLs the API lists.
    pub base_url: Arc<str>,
    /// What every request must satisfy (Host, Origin, token, body size).
    pub guard: Arc<guard::Guard>,
    pub limits: SessionLimits,
    /// Remote servers' OAuth sign-ins (`None` in tests that need none).
    pub sign_ins: Option<Arc<crate::oauth::SignIns>>,
    /// Where every MCP request is recorded (off unless the app gives one).
    pub activity: Arc<ActivityLog>,
    /// The search mode's indexes, shared by every search-mode session.
    pub search: Arc<ToolSearch>,
    /// What tool definitions cost in tokens (the API's `cost`).
    pub tokens: Arc<TokenCounter>,
}

/// Bounds on client sessions (`gateway.maxSessionsPerServer`, `gateway.sessionIdleSecs`).
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub per_server: usize,
    pub idle: std::time::Duration,
}

impl AppState {
    /// `addr`: the bound address; `settings`: the gateway settings in force (its host as
    /// given, which may be a name, its token, its session limits).
    pub fn new(
        hub: Arc<Hub>,
        store: Arc<ConfigStore>,
        addr: SocketAddr,
        settings: &GatewaySettings,
    ) -> Self {
        let token = settings.token.as_deref().map(Arc::from);
        let host = match addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        Self {
            hub,
            store,
            streamable: Arc::default(),
            sse: Arc::default(),
            base_url: format!("http://{host}:{}", addr.port()).into(),
            guard: Arc::new(guard::Guard::new(&settings.host, addr.port(), token)),
            limits: SessionLimits {
                per_server: settings.max_sessions_per_server,
                idle: std::time::Duration::from_secs(settings.session_idle_secs),
            },
            sign_ins: None,
            activity: ActivityLog::off(),
            search: Arc::default(),
            tokens: Arc::default(),
        }
    }

    pub fn with_activity(mut self, activity: Arc<ActivityLog>) -> Self {
        self.activity = activity;
        self
    }

    /// How the sessions and calls of the endpoint at `path` (as a client uses it) are recorded.
    fn tap(&self, path: String, transport: Transport) -> Tap {
        Tap {
            log: Arc::clone(&self.activity),
            origin: Origin::new(path, transport),
        }
    }

    pub fn with_sign_ins(mut self, sign_ins: Arc<crate::oauth::SignIns>) -> Self {
        self.sign_ins = Some(sign_ins);
        self
    }
}

/// The path of the aggregate endpoint `base` (`/mcp`, `/sse`) for `view`, as a client uses it.
fn view_path(base: &str, view: &View) -> String {
    let mut query = Vec::new();
    if view.is_search() {
        query.push("mode=search".to_owned());
    }
    match view.servers() {
        all if all == "*" => {}
        names => query.push(format!("servers={names}")),
    }
    match query.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", query.join("&")),
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
        .route(guard::LOGIN_PATH, get(login::page).post(login::sign_in))
        .route("/logout", post(login::sign_out))
        .route(crate::oauth::CALLBACK_PATH, get(oauth_callback::callback))
        .merge(api::routes())
        .fallback(dashboard::serve)
        .layer(DefaultBodyLimit::max(guard::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.guard),
            guard::middleware,
        ))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    // Answers go out in more than one write; without TCP_NODELAY a client that reuses its
    // connection waits ~40 ms for its delayed ACK on every call (the TypeScript SDK does).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
