//! `/api/secrets`: the user's secrets for `${secret:NAME}` (the dashboard's "store in
//! keychain"), by name only: a value goes in and is never answered.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::json_object;
use crate::gateway::{ApiError, AppState};
use crate::secrets::{check_name, SecretStore};

fn store(state: &AppState) -> Result<Arc<SecretStore>, ApiError> {
    state
        .sign_ins
        .as_ref()
        .map(|s| Arc::clone(s.secrets()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "no_secrets",
                "this gateway keeps no secrets",
            )
        })
}

/// Runs a (blocking: the keychain may be a D-Bus call) store operation off the workers.
async fn blocking<T: Send + 'static>(
    store: Arc<SecretStore>,
    op: impl FnOnce(&SecretStore) -> Result<T, crate::secrets::SecretError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || op(&store))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "secrets", e.to_string()))
}

fn checked(name: &str) -> Result<(), ApiError> {
    check_name(name).map_err(|why| ApiError::new(StatusCode::BAD_REQUEST, "invalid_name", why))
}

/// `GET /api/secrets` → `{"store": "keychain" | "file", "path": …, "names": [...]}`
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let store = store(&state)?;
    let (kind, path) = store.location();
    let path = path.map(|p| p.display().to_string());
    let names = blocking(store, |s| s.names()).await?;
    Ok(Json(json!({ "store": kind, "path": path, "names": names })))
}

/// `PUT /api/secrets/{name}` with `{"value": "…"}`: stores it (servers that refer to it get
/// it when they next start).
pub async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    checked(&name)?;
    let body = json_object(&body)?;
    let Some(value) = body.get("value").and_then(Value::as_str).map(str::to_owned) else {
        return Err(ApiError::bad_request("expected {\"value\": \"…\"}"));
    };
    if value.is_empty() {
        return Err(ApiError::bad_request("the value is empty"));
    }
    blocking(store(&state)?, move |s| s.set_named(&name, &value)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/secrets/{name}`
pub async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    checked(&name)?;
    blocking(store(&state)?, move |s| s.remove_named(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}
