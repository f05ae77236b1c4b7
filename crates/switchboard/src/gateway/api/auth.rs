//! `/api/servers/{name}/auth`: signing in to a remote server (POST: begin, answering the URL
//! to open in a browser; the browser comes back to `/oauth/callback`) and signing out
//! (DELETE: the tokens forgotten, the server reconnected).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::gateway::{ApiError, AppState};
use crate::oauth::{SignInError, SignInProgress, SignIns};
use crate::slot::ServerSlot;

fn server_and_sign_ins(
    state: &AppState,
    name: &str,
) -> Result<(Arc<ServerSlot>, Arc<SignIns>), ApiError> {
    let slot = state
        .hub
        .slot(name)
        .ok_or_else(|| ApiError::unknown_server(name))?;
    let sign_ins = state.sign_ins.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "no_sign_in",
            "this gateway signs in to no server",
        )
    })?;
    Ok((slot, sign_ins))
}

fn sign_in_error(e: SignInError) -> ApiError {
    match e {
        SignInError::NotRemote(_) => {
            ApiError::new(StatusCode::CONFLICT, "not_remote", e.to_string())
        }
        other => ApiError::new(StatusCode::BAD_GATEWAY, "sign_in_failed", other.to_string()),
    }
}

/// `POST /api/servers/{name}/auth` → `{"authorizationUrl": "…", "state": "…"}`
pub async fn begin(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (slot, sign_ins) = server_and_sign_ins(&state, &name)?;
    let authorization_url = sign_ins.begin_for(&slot).await.map_err(sign_in_error)?;
    let id = crate::oauth::state_of(&authorization_url).unwrap_or_default();
    Ok(Json(
        json!({ "authorizationUrl": authorization_url, "state": id }),
    ))
}

#[derive(serde::Deserialize)]
pub struct ProgressQuery {
    state: String,
}

/// `GET /api/servers/{name}/auth?state=…` → `{"status": "waiting" | "signed-in" | "failed" |
/// "unknown", "message"?}`: where the sign-in begun with that `state` is.
pub async fn progress(
    State(state): State<AppState>,
    Path(name): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ProgressQuery>,
) -> Result<Json<Value>, ApiError> {
    let (_, sign_ins) = server_and_sign_ins(&state, &name)?;
    Ok(Json(match sign_ins.progress(&query.state) {
        SignInProgress::Waiting => json!({ "status": "waiting" }),
        SignInProgress::SignedIn => json!({ "status": "signed-in" }),
        SignInProgress::Failed(message) => json!({ "status": "failed", "message": message }),
        SignInProgress::Unknown => json!({ "status": "unknown" }),
    }))
}

/// `DELETE /api/servers/{name}/auth`: forgets the tokens and reconnects (without them).
pub async fn sign_out(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (slot, sign_ins) = server_and_sign_ins(&state, &name)?;
    tokio::task::spawn_blocking(move || sign_ins.forget_for(&slot))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(sign_in_error)?;
    state.hub.restart(&name).await;
    Ok(StatusCode::NO_CONTENT)
}
