//! `GET /api/servers/{name}/resources` and `/prompts`: asked of the running child on demand
//! (they are not cached: few clients look, and they can be large); an on-demand server asleep
//! is not started for it: its stored catalog answers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::gateway::{ApiError, AppState};
use crate::slot::{Catalog, Upstream};

/// Where the lists come from: the running child, or an on-demand server's stored catalog.
enum Source {
    Live(Upstream, std::time::Duration),
    Stored(Catalog),
}

/// The child's connection (or the catalog of an on-demand server asleep), or why there is
/// none.
fn upstream(state: &AppState, name: &str) -> Result<Source, ApiError> {
    let slot = state
        .hub
        .slot(name)
        .ok_or_else(|| ApiError::unknown_server(name))?;
    if slot.upstream().is_none() && slot.serves_from_catalog() {
        return Ok(Source::Stored(slot.catalog()));
    }
    let timeout = slot.settings().spec.timeouts.request();
    let upstream = slot.connection().map_err(|status| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_not_running",
            crate::proxy::not_running(name, &status),
        )
    })?;
    Ok(Source::Live(upstream, timeout))
}

fn upstream_failed(name: &str, what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "upstream_error",
        format!("server '{name}' could not list its {what}: {error}"),
    )
}

/// `GET /api/servers/{name}/resources`: resources and resource templates.
pub async fn resources(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (upstream, timeout) = match upstream(&state, &name)? {
        Source::Live(upstream, timeout) => (upstream, timeout),
        Source::Stored(catalog) => {
            let (resources, templates) = (&*catalog.resources, &*catalog.templates);
            return Ok(Json(
                json!({ "resources": resources, "templates": templates }),
            ));
        }
    };
    if upstream.info.capabilities.resources.is_none() {
        return Ok(Json(json!({ "resources": [], "templates": [] })));
    }
    let peer = &upstream.peer;
    let both = async {
        tokio::try_join!(
            peer.list_all_resources(),
            peer.list_all_resource_templates()
        )
    };
    let (resources, templates) = tokio::time::timeout(timeout, both)
        .await
        .map_err(|_| upstream_failed(&name, "resources", "timed out"))?
        .map_err(|e| upstream_failed(&name, "resources", e))?;
    Ok(Json(
        json!({ "resources": resources, "templates": templates }),
    ))
}

/// `GET /api/servers/{name}/prompts`
pub async fn prompts(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (upstream, timeout) = match upstream(&state, &name)? {
        Source::Live(upstream, timeout) => (upstream, timeout),
        Source::Stored(catalog) => return Ok(Json(json!({ "prompts": &*catalog.prompts }))),
    };
    if upstream.info.capabilities.prompts.is_none() {
        return Ok(Json(json!({ "prompts": [] })));
    }
    let prompts = tokio::time::timeout(timeout, upstream.peer.list_all_prompts())
        .await
        .map_err(|_| upstream_failed(&name, "prompts", "timed out"))?
        .map_err(|e| upstream_failed(&name, "prompts", e))?;
    Ok(Json(json!({ "prompts": prompts })))
}
