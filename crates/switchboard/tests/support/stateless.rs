//! 2026-07-28 stateless requests written by hand (a 2026 client's headers and `_meta`), so a
//! test chooses exactly what is sent.

use std::time::Duration;

use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// A tool call as a 2026-07-28 client sends it, with `meta` added to its `_meta`.
pub fn call(id: u64, tool: &str, arguments: Value, meta: Value) -> Value {
    let mut full = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "fast-path-test", "version": "1" },
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    for (key, value) in meta.as_object().into_iter().flatten() {
        full[key] = value.clone();
    }
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": tool, "arguments": arguments, "_meta": full },
    })
}

/// The POST of a stateless `tools/call` `body`, with the headers a 2026 client sends.
pub fn post(url: &str, body: &Value) -> reqwest::RequestBuilder {
    let tool = body["params"]["name"].as_str().unwrap_or_default();
    reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .json(body)
        .timeout(WAIT)
}

/// Sends the stateless `tools/call` `body` to `url` and answers its JSON-RPC response (a
/// plain call, not asking for progress, is answered with one JSON body on the fast path; an
/// SSE stream's response is read from it).
pub async fn answer(url: &str, body: &Value) -> Value {
    let response = post(url, body).send().await.expect("POST");
    let text = response.text().await.expect("body");
    if let Ok(value) = serde_json::from_str(&text) {
        return value;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m.get("id") == body.get("id"))
        .unwrap_or_else(|| panic!("no response to {body} in: {text}"))
}
