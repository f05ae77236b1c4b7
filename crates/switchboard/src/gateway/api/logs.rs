//! `GET /api/servers/{name}/logs`: the stderr tail, or (`?follow=1`) the tail then live lines
//! as SSE `log` events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;

use crate::gateway::{ApiError, AppState};
use crate::logs::{LogLine, TAIL_LINES};

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    /// Lines of history (default 200, at most the kept tail).
    tail: Option<usize>,
    /// `1` or `true`: keep the response open and stream new lines.
    follow: Option<String>,
}

pub async fn logs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let slot = state
        .hub
        .slot(&name)
        .ok_or_else(|| ApiError::unknown_server(&name))?;
    let n = query.tail.unwrap_or(200).min(TAIL_LINES);
    let follow = matches!(query.follow.as_deref(), Some("1" | "true" | "yes"));
    if !follow {
        return Ok(
            Json(serde_json::json!({ "name": name, "lines": slot.log().tail(n) })).into_response(),
        );
    }
    // Subscribe before reading the tail so no line falls between the two.
    let live = BroadcastStream::new(slot.log().subscribe())
        .filter_map(|line| async move { line.ok().map(to_event) });
    let history = futures::stream::iter(slot.log().tail(n).into_iter().map(to_event));
    Ok(Sse::new(history.chain(live))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn to_event(line: LogLine) -> Result<Event, Infallible> {
    let data = serde_json::to_string(&line).unwrap_or_default();
    Ok(Event::default().event("log").data(data))
}
