//! `/api/activity` (the recorded requests, filtered and paged) and `/api/activity/stats`
//! (calls, errors and latency percentiles over a window). The live feed is on `/api/events`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::activity::{ActivityError, ActivityLog, Query as Filters, StatsQuery};
use crate::gateway::error::ApiError;
use crate::gateway::AppState;

/// `GET /api/activity?server=&client=&method=&tool=&outcome=&from=&to=&before=&limit=`
pub async fn list(
    State(state): State<AppState>,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(filters) = filters.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let log = &state.activity;
    let page = log.query(filters).await.map_err(unreadable)?;
    let mut body = json!({ "entries": page.entries, "next": page.next });
    add_status(&mut body, log);
    Ok(Json(body))
}

/// `GET /api/activity/stats?window=SECS&buckets=N&server=`
pub async fn stats(
    State(state): State<AppState>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let log = &state.activity;
    let stats = log.stats(query).await.map_err(unreadable)?;
    let mut body = serde_json::to_value(stats).unwrap_or_default();
    add_status(&mut body, log);
    Ok(Json(body))
}

/// What every answer says of the log itself: whether it records, captures, dropped
/// entries, and its last problem.
fn add_status(body: &mut Value, log: &ActivityLog) {
    if let Some(object) = body.as_object_mut() {
        object.insert("enabled".into(), log.is_on().into());
        object.insert("capture".into(), log.capture_limit().is_some().into());
        object.insert("dropped".into(), log.dropped().into());
        object.insert("warning".into(), log.warning().into());
    }
}

fn unreadable(error: ActivityError) -> ApiError {
    let status = match error {
        ActivityError::Off => StatusCode::NOT_FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(status, "activity_unavailable", error.to_string())
}
