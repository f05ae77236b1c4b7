//! `/api/servers`: the list, one server with its tools, and the changes (restart, PATCH,
//! PUT, DELETE; the last three edit servers.json through the config store).

use crate::tokens::Cost;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use super::json_object;
use crate::config::check_server_name;
use crate::gateway::{ApiError, AppState};
use crate::slot::{ServerSlot, ServerState};
use crate::store::EditError;

/// `GET /api/health`
pub async fn health() -> Json<Value> {
    // The pid lets a reader of an instance record tell that this very process answers.
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
    }))
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
    /// What the exposed tools' definitions cost a client of the server's endpoint, in tokens
    /// (o200k, an estimate) and bytes; only when asked (`?cost=1`, see [`CostQuery`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
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
    /// The backoff delay before that attempt (it doubles with each failure, up to a cap).
    pub retry_delay_ms: Option<u64>,
    pub tools: ToolCount,
    pub sessions: usize,
    /// Lines the server wrote to stdout that were not MCP (skipped, not fatal).
    pub stray_stdout: StrayStdoutView,
    /// The MCP version Switchboard and the server agreed on, while it runs.
    pub protocol: Option<String>,
    pub endpoints: Endpoints,
    /// Empty for a remote server.
    pub command: String,
    pub args: Vec<String>,
    /// A remote server's URL as written, query values and password hidden (they may be keys).
    pub url: Option<String>,
    /// How the server is reached: `stdio`, `streamable-http` or `sse` (for a remote entry
    /// without `type`, what it turned out to speak), once an attempt was made.
    pub transport: Option<&'static str>,
    pub disabled: bool,
    /// When the process runs: `always`, or `onDemand` (started by the first request that
    /// needs it, stopped after `idleStopSecs` unused; `idle` while it sleeps).
    pub start: &'static str,
    pub idle_stop_secs: u64,
    /// Milliseconds since the Unix epoch at which a running on-demand server stops if nothing
    /// uses it meanwhile; null while something does, and for other servers.
    pub sleeps_at_ms: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrayStdoutView {
    pub count: u64,
    pub last_line: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub last_at_ms: Option<u64>,
}

/// A tool as `/api/servers/{name}` shows it: with whether the filter exposes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolView {
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Value,
    pub exposed: bool,
    /// What its definition costs in `tools/list` (tokens, an o200k estimate, and bytes); only
    /// when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerDetail {
    #[serde(flatten)]
    pub summary: ServerSummary,
    pub cwd: Option<String>,
    /// Environment variable names; values are not shown (they are often secrets).
    pub env_keys: Vec<String>,
    /// A remote server's header names; values are not shown either.
    pub header_keys: Vec<String>,
    /// The entry's `tools` rules as written (`allow` is null when absent), so a client can
    /// compute the next filter edit.
    pub filter: Value,
    pub tool_list: Vec<ToolView>,
}

/// `?cost=1`: the answer says what tool definitions cost in tokens. Asked for by the dashboard
/// only: counting loads a tokenizer (about a second of CPU in a debug build) the first time a
/// catalog is counted, which a client polling a server's state has no use for.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CostQuery {
    cost: Option<String>,
}

impl CostQuery {
    fn counter<'a>(&self, state: &'a AppState) -> Option<&'a crate::tokens::TokenCounter> {
        self.cost
            .as_deref()
            .filter(|v| !matches!(*v, "" | "0" | "false"))
            .map(|_| &*state.tokens)
    }
}

fn summarize(slot: &ServerSlot, state: &AppState, cost: &CostQuery) -> ServerSummary {
    let base_url = &*state.base_url;
    let status = slot.status();
    let settings = slot.settings();
    let tools = slot.tools();
    let exposed: Vec<_> = tools
        .iter()
        .filter(|t| settings.filter.exposes(&t.name))
        .collect();
    let cost = cost
        .counter(state)
        .map(|counter| exposed.iter().map(|t| counter.cost(t)).sum());
    let exposed = exposed.len();
    let name = slot.name().to_owned();
    ServerSummary {
        state: status.state,
        pid: status.pid,
        uptime_secs: status.uptime().map(|d| d.as_secs()),
        restarts: status.restarts,
        last_error: status.last_error.clone(),
        retry_delay_ms: status.retry_delay.map(|d| d.as_millis() as u64),
        next_attempt_ms: status.next_attempt.and_then(epoch_ms),
        tools: ToolCount {
            exposed,
            total: tools.len(),
            cost,
        },
        sessions: slot.sessions().len(),
        stray_stdout: {
            let stray = slot.stray_stdout();
            StrayStdoutView {
                count: stray.count,
                last_line: stray.last_line,
                last_at_ms: stray.last_at.and_then(epoch_ms),
            }
        },
        protocol: slot
            .peer_info()
            .map(|info| info.protocol_version.as_str().to_owned()),
        endpoints: Endpoints {
            mcp: format!("{base_url}/servers/{name}/mcp"),
            sse: format!("{base_url}/servers/{name}/sse"),
        },
        command: settings.spec.command.clone(),
        args: settings.spec.args.clone(),
        url: settings.spec.remote_url().map(without_secrets),
        transport: status.transport,
        disabled: settings.spec.disabled,
        start: settings.spec.start.unwrap_or_default().as_str(),
        idle_stop_secs: settings.spec.idle_stop().as_secs(),
        sleeps_at_ms: slot.sleeps_at().and_then(epoch_ms),
        name,
    }
}

/// `url` with its password and query values replaced by `…` (API keys often ride there).
fn without_secrets(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return url.to_owned(); // a `${env:…}` reference: no secret in it
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("…"));
    }
    if parsed.query().is_some() {
        let hidden: Vec<(String, &str)> = parsed
            .query_pairs()
            .map(|(k, _)| (k.into_owned(), "…"))
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(hidden);
    }
    parsed.to_string()
}

fn epoch_ms(t: std::time::SystemTime) -> Option<u64> {
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as u64)
}

/// `GET /api/servers`
pub async fn list(
    State(state): State<AppState>,
    Query(cost): Query<CostQuery>,
) -> Result<Json<Value>, ApiError> {
    let servers: Vec<ServerSummary> = super::counting(&state, move |state| {
        let slots = state.hub.slots();
        slots
            .iter()
            .map(|slot| summarize(slot, state, &cost))
            .collect()
    })
    .await?;
    Ok(Json(serde_json::json!({ "servers": servers })))
}

/// `GET /api/servers/{name}`
pub async fn detail(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(cost): Query<CostQuery>,
) -> Result<Json<ServerDetail>, ApiError> {
    let slot = state
        .hub
        .slot(&name)
        .ok_or_else(|| ApiError::unknown_server(&name))?;
    let detail = super::counting(&state, move |state| detail_of(&slot, state, &cost)).await?;
    Ok(Json(detail))
}

fn detail_of(slot: &ServerSlot, state: &AppState, cost: &CostQuery) -> ServerDetail {
    let counter = cost.counter(state);
    let settings = slot.settings();
    let tool_list = slot
        .tools()
        .iter()
        .map(|tool| ToolView {
            name: tool.name.to_string(),
            description: tool.description.as_ref().map(|d| d.to_string()),
            input_schema: Value::Object((*tool.input_schema).clone()),
            exposed: settings.filter.exposes(&tool.name),
            cost: counter.map(|counter| counter.cost(tool)),
        })
        .collect();
    ServerDetail {
        summary: summarize(slot, state, cost),
        cwd: settings.spec.cwd.as_ref().map(|c| c.display().to_string()),
        env_keys: settings.spec.env.keys().cloned().collect(),
        header_keys: settings.spec.headers.keys().cloned().collect(),
        filter: serde_json::json!({
            "allow": settings.spec.tools.allow,
            "deny": settings.spec.tools.deny,
        }),
        tool_list,
    }
}

/// `POST /api/servers/{name}/restart`
pub async fn restart(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !state.hub.restart(&name).await {
        return Err(ApiError::unknown_server(&name));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "name": name, "restarting": true })),
    ))
}

/// `PATCH /api/servers/{name}`: a JSON merge patch (RFC 7396) of the server's entry, such as
/// `{"disabled": true}` or `{"tools": {"deny": ["get-env"]}}`; `null` removes a key.
pub async fn patch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(cost): Query<CostQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<ServerDetail>), ApiError> {
    let patch = Value::Object(json_object(&body)?);
    state
        .store
        .patch_server(&name, &patch)
        .await
        .map_err(edit_error)?;
    edited(&state, &name, StatusCode::OK, cost).await
}

/// `PUT /api/servers/{name}`: adds the server, or replaces its entry (in place, keeping its
/// position in the file).
pub async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(cost): Query<CostQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<ServerDetail>), ApiError> {
    check_server_name(&name)
        .map_err(|why| ApiError::new(StatusCode::BAD_REQUEST, "invalid_name", why.to_string()))?;
    let entry = Value::Object(json_object(&body)?);
    let existed = state.hub.slot(&name).is_some();
    state
        .store
        .put_server(&name, &entry)
        .await
        .map_err(edit_error)?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    edited(&state, &name, status, cost).await
}

/// `DELETE /api/servers/{name}`
pub async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.store.remove_server(&name).await.map_err(edit_error)?;
    Ok(Json(serde_json::json!({ "name": name, "removed": true })))
}

/// Answers a successful edit with `status` and the server as it is now.
async fn edited(
    state: &AppState,
    name: &str,
    status: StatusCode,
    cost: CostQuery,
) -> Result<(StatusCode, Json<ServerDetail>), ApiError> {
    let slot = state
        .hub
        .slot(name)
        .ok_or_else(|| ApiError::unknown_server(name))?;
    let detail = super::counting(state, move |state| detail_of(&slot, state, &cost)).await?;
    Ok((status, Json(detail)))
}

fn edit_error(error: EditError) -> ApiError {
    let message = error.to_string();
    match error {
        EditError::UnknownServer(name) => ApiError::unknown_server(&name),
        EditError::Invalid(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_config", message),
        EditError::BadRequest(_) => ApiError::bad_request(message),
        EditError::FileBroken(_) => ApiError::new(StatusCode::CONFLICT, "config_broken", message),
        EditError::Contended => ApiError::new(StatusCode::CONFLICT, "config_contended", message),
        EditError::Io { .. } => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "config_write_failed",
            message,
        ),
    }
}
