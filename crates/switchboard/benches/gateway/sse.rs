//! The bench's own client of the legacy HTTP+SSE transport, and the parser of its event
//! stream.
//!
//! Separate because it is a self-contained protocol implementation (one streaming GET, POSTs to
//! the announced endpoint, a line parser routing `endpoint` and `message` events by id) that
//! nothing else depends on but the measurements.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::client::{CALL_LIMIT, MESSAGE};
use crate::BenchResult;

/// A minimal client of the legacy HTTP+SSE transport: one streaming GET, POSTs of JSON-RPC
/// messages to the `endpoint` it announces, responses matched by id from `message` events.
pub(crate) struct SseClient {
    http: reqwest::Client,
    post_url: reqwest::Url,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for SseClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl SseClient {
    pub(crate) async fn connect(sse_url: &str) -> BenchResult<Self> {
        let http = reqwest::Client::new();
        let response = tokio::time::timeout(
            Duration::from_secs(30),
            http.get(sse_url)
                .header("accept", "text/event-stream")
                .send(),
        )
        .await
        .map_err(|_| format!("GET {sse_url}: no answer within 30 s"))?
        .map_err(|e| format!("GET {sse_url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {sse_url}: HTTP {}", response.status()));
        }
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>> = Arc::default();
        let (endpoint_tx, endpoint_rx) = oneshot::channel();
        let reader = tokio::spawn(read_events(
            response.bytes_stream(),
            endpoint_tx,
            Arc::clone(&pending),
        ));
        let endpoint = match tokio::time::timeout(Duration::from_secs(30), endpoint_rx).await {
            Ok(Ok(endpoint)) => endpoint,
            _ => {
                reader.abort();
                return Err(format!("{sse_url}: no `endpoint` event within 30 s"));
            }
        };
        let post_url = reqwest::Url::parse(sse_url)
            .and_then(|base| base.join(&endpoint))
            .map_err(|e| format!("bad endpoint {endpoint:?}: {e}"))?;
        let client = Self {
            http,
            post_url,
            pending,
            next_id: AtomicU64::new(0),
            reader,
        };
        client
            .request(
                "initialize",
                json!({
                    "protocolVersion": "2024-11-05",
                    "capabilities": {},
                    "clientInfo": { "name": "switchboard-bench-sse", "version": "0" }
                }),
            )
            .await?;
        client
            .post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await?;
        Ok(client)
    }

    async fn post(&self, message: &Value) -> BenchResult<()> {
        let response = self
            .http
            .post(self.post_url.clone())
            .json(message)
            .timeout(CALL_LIMIT)
            .send()
            .await
            .map_err(|e| format!("POST {}: {e}", self.post_url))?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "POST {}: HTTP {status}: {}",
                self.post_url,
                String::from_utf8_lossy(&body)
            ))
        }
    }

    async fn request(&self, method: &str, params: Value) -> BenchResult<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        if let Err(e) = self.post(&message).await {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            return Err(e);
        }
        let response = match tokio::time::timeout(CALL_LIMIT, rx).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => return Err(format!("{method}: the SSE stream ended")),
            Err(_) => {
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                return Err(format!("{method}: no response within {CALL_LIMIT:?}"));
            }
        };
        if let Some(error) = response.get("error") {
            return Err(format!("{method}: {error}"));
        }
        Ok(response.get("result").cloned().unwrap_or(Value::Null))
    }

    pub(crate) async fn echo(&self) -> BenchResult<()> {
        let result = self
            .request(
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

/// Reads the SSE stream: the first `endpoint` event goes to `endpoint`, responses to the
/// waiting request. When the stream ends, dropping the senders fails every waiting request.
async fn read_events(
    stream: impl futures::Stream<Item = reqwest::Result<axum::body::Bytes>>,
    endpoint: oneshot::Sender<String>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
) {
    let mut stream = std::pin::pin!(stream);
    let mut endpoint = Some(endpoint);
    let mut buf: Vec<u8> = Vec::new();
    let mut event = String::new();
    let mut data = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        buf.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(offset) = buf[start..].iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&buf[start..start + offset]).into_owned();
            start += offset + 1;
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.is_empty() {
                dispatch(&event, &data, &mut endpoint, &pending);
                event.clear();
                data.clear();
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => value.clone_into(&mut event),
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                _ => {}
            }
        }
        buf.drain(..start);
    }
    pending.lock().unwrap_or_else(|p| p.into_inner()).clear();
}

fn dispatch(
    event: &str,
    data: &str,
    endpoint: &mut Option<oneshot::Sender<String>>,
    pending: &Mutex<HashMap<u64, oneshot::Sender<Value>>>,
) {
    match event {
        "endpoint" => {
            if let Some(tx) = endpoint.take() {
                let _ = tx.send(data.trim().to_owned());
            }
        }
        "" | "message" => {
            let Ok(message) = serde_json::from_str::<Value>(data) else {
                return;
            };
            if message.get("method").is_some() {
                return; // a notification or request from the server: not measured
            }
            if let Some(id) = message.get("id").and_then(Value::as_u64) {
                if let Some(tx) = pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id)
                {
                    let _ = tx.send(message);
                }
            }
        }
        _ => {}
    }
}
