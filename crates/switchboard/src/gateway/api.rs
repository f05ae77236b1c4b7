//! The REST API under `/api`: health, the server list, one server with its tools.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use super::error::ApiError;
use super::AppState;
use crate::slot::{ServerSlot, ServerState};

/// `GET /api/health`
pub async fn health() -> Json<Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    pub mcp: String,
    pub sse: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCount {
    pub exposed: usize,
    pub total: usize,
}

/// One row of `/api/servers`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSummary {
    pub name: String,
    pub state: ServerState,
    pub pid: Option<u32>,
    pub uptime_secs: Option<u64>,
    pub restarts: u32,
    pub last_error: Option<String>,
    /// Milliseconds since the Unix epoch of the next start attempt, while failed/restarting.
    pub next_attempt_ms: Option<u64>,
    pub tools: ToolCount,
    pub sessions: usize,
    pub endpoints: Endpoints,
    pub command: String,
    pub args: Vec<String>,
    pub disabled: bool,
}

/// A tool as `/api/servers/{name}` shows it: with whether the filter exposes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolView {
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Value,
    pub exposed: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerDetail {
    #[serde(flatten)]
    pub summary: ServerSummary,
    pub cwd: Option<String>,
    /// Environment variable names; values are not shown (they are often secrets).
    pub env_keys: Vec<String>,
    pub tool_list: Vec<ToolView>,
}

fn summarize(slot: &ServerSlot, base_url: &str) -> ServerSummary {
    let status = slot.status();
    let settings = slot.settings();
    let tools = slot.tools();
    let exposed = tools
        .iter()
        .filter(|t| settings.filter.exposes(&t.name))
        .count();
    let name = slot.name().to_owned();
    ServerSummary {
        state: status.state,
        pid: status.pid,
        uptime_secs: status.uptime().map(|d| d.as_secs()),
        restarts: status.restarts,
        last_error: status.last_error.clone(),
        next_attempt_ms: status.next_attempt.and_then(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_millis() as u64)
        }),
        tools: ToolCount {
            exposed,
            total: tools.len(),
        },
        sessions: slot.sessions().len(),
        endpoints: Endpoints {
            mcp: format!("{base_url}/servers/{name}/mcp"),
            sse: format!("{base_url}/servers/{name}/sse"),
        },
        command: settings.spec.command.clone(),
        args: settings.spec.args.clone(),
        disabled: settings.spec.disabled,
        name,
    }
}

/// `GET /api/servers`
pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let servers: Vec<ServerSummary> = state
        .hub
        .slots()
        .iter()
        .map(|slot| summarize(slot, &state.base_url))
        .collect();
    Json(serde_json::json!({ "servers": servers }))
}

/// `GET /api/servers/{name}`
pub async fn detail(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(slot) = state.hub.slot(&name) else {
        return ApiError::unknown_server(&name).into_response();
    };
    let settings = slot.settings();
    let tool_list = slot
        .tools()
        .iter()
        .map(|tool| ToolView {
            name: tool.name.to_string(),
            description: tool.description.as_ref().map(|d| d.to_string()),
            input_schema: Value::Object((*tool.input_schema).clone()),
            exposed: settings.filter.exposes(&tool.name),
        })
        .collect();
    Json(ServerDetail {
        summary: summarize(&slot, &state.base_url),
        cwd: settings.spec.cwd.as_ref().map(|c| c.display().to_string()),
        env_keys: settings.spec.env.keys().cloned().collect(),
        tool_list,
    })
    .into_response()
}
