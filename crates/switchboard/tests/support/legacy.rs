//! A legacy HTTP+SSE session opened by hand (the stream read raw, each message POSTed), so a
//! test chooses exactly the client's capabilities.

use std::time::Duration;

use serde_json::{json, Value};

use super::Switchboard;

const WAIT: Duration = Duration::from_secs(30);

/// A legacy HTTP+SSE session opened by hand: the stream's messages, and where to POST.
pub struct LegacySession {
    http: reqwest::Client,
    post_url: String,
    pub messages: tokio::sync::mpsc::UnboundedReceiver<Value>,
    reader: tokio::task::JoinHandle<()>,
}

impl LegacySession {
    pub async fn open(sb: &Switchboard, server: &str, capabilities: Value) -> Self {
        Self::open_url(sb, &sb.sse_url(server), capabilities).await
    }

    /// A session with the SSE endpoint at `url` (such as the aggregate's, `/sse?…`).
    pub async fn open_url(sb: &Switchboard, url: &str, capabilities: Value) -> Self {
        let http = reqwest::Client::new();
        let response = http.get(url).send().await.expect("GET");
        let (tx, messages) = tokio::sync::mpsc::unbounded_channel();
        let (endpoint_tx, endpoint) = tokio::sync::oneshot::channel();
        // The first event names the endpoint; every later one is a message.
        let mut endpoint_tx = Some(endpoint_tx);
        let reader = super::sse::read_data(response, move |data| match endpoint_tx.take() {
            Some(endpoint) => {
                let _ = endpoint.send(data.to_owned());
            }
            None => {
                if let Ok(message) = serde_json::from_str(data) {
                    let _ = tx.send(message);
                }
            }
        });
        let endpoint = tokio::time::timeout(WAIT, endpoint)
            .await
            .expect("the endpoint event")
            .expect("the stream");
        let mut session = Self {
            http,
            post_url: format!("{}{endpoint}", sb.url),
            messages,
            reader,
        };
        session
            .post(json!({
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {
                    "protocolVersion": "2024-11-05",
                    "capabilities": capabilities,
                    "clientInfo": { "name": "fast-path-test", "version": "1" },
                },
            }))
            .await;
        session.answer_to(0).await;
        session
            .post(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await;
        session
    }

    pub async fn post(&self, message: Value) {
        let response = self
            .http
            .post(&self.post_url)
            .json(&message)
            .timeout(WAIT)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), 202);
    }

    /// The next request of the server's with `method` on the stream (skipping what comes
    /// before it).
    pub async fn request_of(&mut self, method: &str) -> Value {
        let what = format!("a {method} request on the stream");
        self.next_where(&what, |m| m["method"] == method && m.get("id").is_some())
            .await
    }

    /// The response to request `id` on the stream.
    pub async fn answer_to(&mut self, id: u64) -> Value {
        self.next_where("an answer", |m| m["id"] == id && m.get("method").is_none())
            .await
    }

    /// The next message on the stream that `pred` accepts, within [`WAIT`] (`what` names it
    /// when none comes).
    async fn next_where(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let wait = async {
            loop {
                let message = self.messages.recv().await.expect("the stream is open");
                if pred(&message) {
                    return message;
                }
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("{what} within {WAIT:?}"))
    }
}

impl Drop for LegacySession {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
