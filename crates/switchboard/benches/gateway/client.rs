//! The rmcp client side: the `echo` call every measurement makes, and opening and closing
//! Streamable HTTP sessions with rmcp's client (the one real MCP clients are built on).
//!
//! Separate from the bench's own clients (`sse`, `http`), which share only the echo message
//! and the per-call bound defined here.

use std::time::Duration;

use futures::StreamExt;
use rmcp::model::{CallToolRequestParams, CallToolResponse};
use rmcp::service::{Peer, RunningService, ServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::RoleClient;
use serde_json::json;

use crate::BenchResult;

pub(crate) const MESSAGE: &str = "switchboard-bench";
/// Bound on any single call; a call that takes longer is an error, not a sample.
pub(crate) const CALL_LIMIT: Duration = Duration::from_secs(30);
/// Connections opened at once when a throughput level connects its clients.
const CONNECT_PARALLEL: usize = 8;
pub(crate) type Client = RunningService<RoleClient, ()>;

fn echo_params() -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new("echo");
    params.arguments = json!({ "message": MESSAGE }).as_object().cloned();
    params
}

pub(crate) async fn echo_rmcp(peer: &Peer<RoleClient>) -> BenchResult<()> {
    let response = tokio::time::timeout(CALL_LIMIT, peer.call_tool_once(echo_params()))
        .await
        .map_err(|_| format!("tools/call took more than {CALL_LIMIT:?}"))?
        .map_err(|e| format!("tools/call failed: {e}"))?;
    match response {
        CallToolResponse::Complete(result) => {
            let text = serde_json::to_string(&result.content).unwrap_or_default();
            if result.is_error == Some(true) || !text.contains(MESSAGE) {
                return Err(format!("unexpected echo result: {text}"));
            }
            Ok(())
        }
        other => Err(format!("unexpected tools/call response: {other:?}")),
    }
}

pub(crate) async fn connect_http(url: &str) -> BenchResult<Client> {
    tokio::time::timeout(
        Duration::from_secs(60),
        ().serve(StreamableHttpClientTransport::from_uri(url.to_owned())),
    )
    .await
    .map_err(|_| format!("initialize with {url} took more than 60 s"))?
    .map_err(|e| format!("initialize with {url} failed: {e}"))
}

pub(crate) async fn connect_many(url: &str, n: usize) -> BenchResult<Vec<Client>> {
    let results: Vec<BenchResult<Client>> = futures::stream::iter(0..n)
        .map(|_| connect_http(url))
        .buffer_unordered(CONNECT_PARALLEL)
        .collect()
        .await;
    let mut clients = Vec::with_capacity(n);
    let mut first_error = None;
    for result in results {
        match result {
            Ok(c) => clients.push(c),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        None => Ok(clients),
        Some(e) => {
            close_all(clients).await;
            Err(format!("connecting {n} clients: {e}"))
        }
    }
}

pub(crate) async fn close_all(clients: Vec<Client>) {
    let closing = futures::future::join_all(clients.into_iter().map(|c| c.cancel()));
    let _ = tokio::time::timeout(Duration::from_secs(20), closing).await;
}
