//! `GET /api/servers/{name}/resources` and `/prompts`: asked of the running child on demand
//! (they are not cached: few clients look, and they can be large).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::gateway::{ApiError, AppState};
use crate::slot::Upstream;

/// The child's connection, or why there is none.
fn upstream(state: &AppState, name: &str) -> Result<(Upstream, std::time::Duration), ApiError> {
    let slot = state
        .hub
        .slot(name)
        .ok_or_else(|| ApiError::unknown_server(name))?;
    let timeout = slot.settings().spec.timeouts.request();
    let upstream = slot.connection().map_err(|status| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_not_running",
            crate::proxy::not_running(name, &status),
        )
    })?;
    Ok((upstream, timeout))
}

fn upstream_failed(name: &str, what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "upstream_error",
        format!("server '{name}' could not list its {what}: {error}"),
    )
}

/// `GET /api/servers/{name}/resources`: resources and resource templates.
pub async fn resources(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let (upstream, timeout) = match upstream(&state, &name) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    if upstream.info.capabilities.resources.is_none() {
        return Json(json!({ "resources": [], "templates": [] })).into_response();
    }
    let peer = &upstream.peer;
    let both = async {
        tokio::try_join!(
            peer.list_all_resources(),
            peer.list_all_resource_templates()
        )
    };
    match tokio::time::timeout(timeout, both).await {
        Ok(Ok((resources, templates))) => {
            Json(json!({ "resources": resources, "templates": templates })).into_response()
        }
        Ok(Err(e)) => upstream_failed(&name, "resources", e).into_response(),
        Err(_) => upstream_failed(&name, "resources", "timed out").into_response(),
    }
}

/// `GET /api/servers/{name}/prompts`
pub async fn prompts(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let (upstream, timeout) = match upstream(&state, &name) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    if upstream.info.capabilities.prompts.is_none() {
        return Json(json!({ "prompts": [] })).into_response();
    }
    match tokio::time::timeout(timeout, upstream.peer.list_all_prompts()).await {
        Ok(Ok(prompts)) => Json(json!({ "prompts": prompts })).into_response(),
        Ok(Err(e)) => upstream_failed(&name, "prompts", e).into_response(),
        Err(_) => upstream_failed(&name, "prompts", "timed out").into_response(),
    }
}
