//! The bench's own keep-alive Streamable HTTP client (`PlainHttpClient`).
//!
//! Separate from `client` (rmcp's client): it exists to measure the gateway without the costs
//! of rmcp's client, so it shares nothing with it but the echo message and the per-call bound.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

use crate::client::{CALL_LIMIT, MESSAGE};
use crate::BenchResult;

/// A minimal Streamable HTTP client: one reqwest client with keep-alive, every response body
/// read to its end (plain JSON or an SSE stream that the server ends after the response).
/// It isolates the gateway from the costs of rmcp's client (which, as measured here, opens a
/// new TCP connection for every call whose answer comes as an SSE stream).
pub(crate) struct PlainHttpClient {
    pub(crate) http: reqwest::Client,
    url: String,
    pub(crate) session: Option<String>,
    version: String,
    /// 2026-07-28: no session, the lifecycle in every request's `_meta` and headers.
    stateless: bool,
    next_id: AtomicU64,
}

/// What a client that takes the server's requests declares (VS Code's `initialize`).
pub(crate) fn takes_requests() -> Value {
    json!({ "roots": { "listChanged": true }, "sampling": {}, "elicitation": {} })
}

impl PlainHttpClient {
    /// A session whose client offers nothing.
    pub(crate) async fn connect(url: &str) -> BenchResult<Self> {
        Self::connect_offering(url, json!({})).await
    }

    /// A session whose client declares `capabilities`.
    pub(crate) async fn connect_offering(url: &str, capabilities: Value) -> BenchResult<Self> {
        let mut client = Self {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            session: None,
            version: "2025-06-18".to_owned(),
            stateless: false,
            next_id: AtomicU64::new(0),
        };
        let (result, session) = client
            .exchange(
                "initialize",
                json!({
                    "protocolVersion": client.version,
                    "capabilities": capabilities,
                    "clientInfo": { "name": "switchboard-bench-http", "version": "0" }
                }),
            )
            .await?;
        client.session = session;
        if let Some(v) = result["protocolVersion"].as_str() {
            v.clone_into(&mut client.version);
        }
        let response = client
            .post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let _ = response.bytes().await;
        Ok(client)
    }

    /// A 2026-07-28 client: nothing to open, each request stands alone.
    pub(crate) fn stateless(url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            session: None,
            version: "2026-07-28".to_owned(),
            stateless: true,
            next_id: AtomicU64::new(0),
        }
    }

    fn post(&self, message: &Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", &self.version)
            .json(message)
            .timeout(CALL_LIMIT);
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        request
    }

    /// One request; returns its result and the session id the server named, if any.
    async fn exchange(&self, method: &str, params: Value) -> BenchResult<(Value, Option<String>)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut params = params;
        let mut request = None;
        if self.stateless {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": self.version,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": { "name": "switchboard-bench-http", "version": "0" },
            });
            let name = params["name"].as_str().unwrap_or_default().to_owned();
            request = Some((method.to_owned(), name));
        }
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let mut post = self.post(&message);
        if let Some((method, name)) = request {
            post = post.header("mcp-method", method);
            if !name.is_empty() {
                post = post.header("mcp-name", name);
            }
        }
        let response = post
            .send()
            .await
            .map_err(|e| format!("POST {}: {e}", self.url))?;
        let status = response.status();
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .text()
            .await
            .map_err(|e| format!("POST {}: {e}", self.url))?;
        if !status.is_success() {
            return Err(format!("POST {}: HTTP {status}: {body}", self.url));
        }
        let trimmed = body.trim_start();
        let candidates: Vec<&str> = if trimmed.starts_with('{') {
            vec![trimmed]
        } else {
            body.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .collect()
        };
        for candidate in candidates {
            let Ok(reply) = serde_json::from_str::<Value>(candidate) else {
                continue;
            };
            if reply.get("method").is_none() && reply["id"].as_u64() == Some(id) {
                if let Some(error) = reply.get("error") {
                    return Err(format!("{method}: {error}"));
                }
                return Ok((reply["result"].clone(), session));
            }
        }
        Err(format!("{method}: no response in the body: {body}"))
    }

    /// Closes the session, if the client has one (`DELETE`).
    pub(crate) async fn close(&self) {
        close_session(&self.http, &self.url, self.session.as_deref()).await;
    }

    /// `tools/list`, as a client does once its session is open; the number of tools.
    pub(crate) async fn list_tools(&self) -> BenchResult<usize> {
        let (result, _) = self.exchange("tools/list", json!({})).await?;
        result["tools"]
            .as_array()
            .map(Vec::len)
            .ok_or_else(|| format!("tools/list answered no tools: {result}"))
    }

    pub(crate) async fn echo(&self) -> BenchResult<()> {
        let (result, _) = self
            .exchange(
                "tools/call",
                json!({ "name": "echo", "arguments": { "message": MESSAGE } }),
            )
            .await?;
        let text = result.to_string();
        if result.get("isError") == Some(&Value::Bool(true)) || !text.contains(MESSAGE) {
            return Err(format!("unexpected echo result: {text}"));
        }
        Ok(())
    }
}

/// `DELETE`s session `session` at `url`, so the gateway does not keep it until it idles out.
pub(crate) async fn close_session(http: &reqwest::Client, url: &str, session: Option<&str>) {
    if let Some(session) = session {
        let _ = http
            .delete(url)
            .header("mcp-session-id", session)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await;
    }
}
