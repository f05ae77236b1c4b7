//! The REST API under `/api`. Reads come from the hub's slots; every change goes through the
//! [`ConfigStore`](crate::store::ConfigStore), which writes servers.json and applies it.

mod activity;
mod auth;
mod catalog;
mod clients;
mod config;
mod logs;
mod secrets;
mod servers;
mod tokens;

use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use super::error::ApiError;
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(servers::health))
        .route("/api/servers", get(servers::list))
        .route(
            "/api/servers/{name}",
            get(servers::detail)
                .patch(servers::patch)
                .put(servers::put)
                .delete(servers::remove),
        )
        .route("/api/servers/{name}/restart", post(servers::restart))
        .route(
            "/api/servers/{name}/auth",
            get(auth::progress).post(auth::begin).delete(auth::sign_out),
        )
        .route("/api/servers/{name}/logs", get(logs::logs))
        .route("/api/servers/{name}/resources", get(catalog::resources))
        .route("/api/servers/{name}/prompts", get(catalog::prompts))
        .route("/api/clients", get(clients::list))
        .route("/api/clients/{client}/install", post(clients::install))
        .route("/api/clients/{client}/uninstall", post(clients::uninstall))
        .route("/api/clients/{client}/import", post(clients::import))
        .route("/api/config", get(config::config))
        .route("/api/secrets", get(secrets::list))
        .route(
            "/api/secrets/{name}",
            axum::routing::put(secrets::put).delete(secrets::remove),
        )
        .route("/api/events", get(config::events))
        .route("/api/tokens", get(tokens::endpoint))
        .route("/api/activity", get(activity::list))
        .route("/api/activity/stats", get(activity::stats))
}

/// Runs `work`, which may count tokens (a fraction of a second when the tokenizer must be
/// loaded for a catalog not counted before), on a blocking thread so no request waits behind
/// it, then lets the tokenizer go (see `tokens::TokenCounter`).
async fn counting<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&AppState) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let answer = work(&state);
        state.tokens.release();
        answer
    })
    .await
    .map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("counting tool tokens failed: {e}"),
        )
    })
}

/// Parses a request body as a JSON object, with an error that says what was wrong.
fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}
