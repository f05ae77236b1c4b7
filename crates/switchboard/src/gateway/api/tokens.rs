//! `/api/tokens`: what an aggregate endpoint's tool definitions cost a client, in tokens (o200k,
//! an estimate) and bytes: in full, per server, and in search mode (issue 18).

use axum::extract::{Query, State};
use axum::Json;
use serde::Serialize;

use crate::gateway::error::ApiError;
use crate::gateway::sse::ViewQuery;
use crate::gateway::AppState;
use crate::proxy::{exposed_tools, meta_tools, View};
use crate::tokens::Cost;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointCost {
    /// The endpoint as a client uses it (`/mcp`, `/mcp?servers=a,b`).
    pub endpoint: String,
    /// The tools it exposes.
    pub tools: usize,
    /// `tools/list` with every tool (named `server__tool`).
    pub full: Cost,
    /// `tools/list` in search mode (`?mode=search`): the three meta-tools.
    pub search: Cost,
    pub servers: Vec<ServerCost>,
}

#[derive(Serialize)]
pub struct ServerCost {
    pub name: String,
    pub tools: usize,
    /// Its tools as the aggregate names them.
    pub cost: Cost,
}

/// `GET /api/tokens[?servers=a,b][&mode=search]`
pub async fn endpoint(
    State(state): State<AppState>,
    Query(query): Query<ViewQuery>,
) -> Result<Json<EndpointCost>, ApiError> {
    let view = query.view()?;
    let cost = super::counting(&state, move |state| cost_of(state, &view)).await?;
    Ok(Json(cost))
}

/// What the aggregate endpoint for `view` costs a client (see [`EndpointCost`]).
fn cost_of(state: &AppState, view: &View) -> EndpointCost {
    let running: Vec<_> = state
        .hub
        .slots()
        .into_iter()
        .filter(|s| view.includes(s.name()) && (s.upstream().is_some() || s.serves_from_catalog()))
        .collect();
    let mut servers = Vec::new();
    for slot in &running {
        let tools = exposed_tools(std::slice::from_ref(slot));
        servers.push(ServerCost {
            name: slot.name().to_owned(),
            tools: tools.len(),
            cost: tools.iter().map(|t| state.tokens.cost(t)).sum(),
        });
    }
    EndpointCost {
        endpoint: super::super::view_path("/mcp", view),
        tools: servers.iter().map(|s| s.tools).sum(),
        full: servers.iter().map(|s| s.cost).sum(),
        search: meta_tools().iter().map(|t| state.tokens.cost(t)).sum(),
        servers,
    }
}
