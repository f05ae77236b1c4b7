//! `/api/config` (where the file is, whether it applied) and `/api/events` (SSE).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use futures::StreamExt;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use crate::gateway::AppState;

/// `GET /api/config`: the file's status, and where secrets are kept (`secrets.store`:
/// `"keychain"`, or `"file"` with its `path` where there is no keychain).
pub async fn config(State(state): State<AppState>) -> Json<serde_json::Value> {
    let mut body = serde_json::to_value(state.store.status()).unwrap_or_default();
    if let (Some(object), Some(sign_ins)) = (body.as_object_mut(), &state.sign_ins) {
        let (store, path) = sign_ins.secrets().location();
        object.insert(
            "secrets".into(),
            serde_json::json!({ "store": store, "path": path.map(|p| p.display().to_string()) }),
        );
    }
    Json(body)
}

/// `GET /api/events`: every [`crate::events::Event`] as an SSE event named after its type,
/// with the event as JSON data, and the activity log's batches as they are written
/// (`activity`: `{"type": "activity", "entries": [...], "dropped": n}`). A subscriber that
/// falls behind gets a `lagged` event and should refetch what it shows.
pub async fn events(State(state): State<AppState>) -> impl IntoResponse {
    let activity = BroadcastStream::new(state.activity.subscribe()).filter_map(|item| {
        // A batch missed by a slow subscriber is in /api/activity; the next one comes anyway.
        let event = item.ok().map(|written| {
            let mut json = serde_json::to_value(&*written).unwrap_or_default();
            if let Some(object) = json.as_object_mut() {
                object.insert("type".into(), "activity".into());
            }
            Ok::<_, Infallible>(SseEvent::default().event("activity").data(json.to_string()))
        });
        std::future::ready(event)
    });
    let stream = BroadcastStream::new(state.hub.events().subscribe()).map(|item| {
        let event = match item {
            Ok(event) => {
                let json = serde_json::to_value(&event).unwrap_or_default();
                let name = json["type"].as_str().unwrap_or("event").to_owned();
                SseEvent::default().event(name).data(json.to_string())
            }
            Err(BroadcastStreamRecvError::Lagged(n)) => SseEvent::default()
                .event("lagged")
                .data(format!("{{\"type\":\"lagged\",\"missed\":{n}}}")),
        };
        Ok::<_, Infallible>(event)
    });
    let hello = futures::stream::once(async {
        Ok::<_, Infallible>(
            SseEvent::default()
                .event("hello")
                .data("{\"type\":\"hello\"}"),
        )
    });
    let stream = futures::stream::select(stream, activity);
    Sse::new(hello.chain(stream)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
