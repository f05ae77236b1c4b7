//! The client side of the legacy HTTP+SSE transport (MCP 2024-11-05), for remote servers that
//! still offer only it: one long `GET` whose event stream names the message endpoint
//! (`event: endpoint`) and then carries every server message (`event: message`); each client
//! message is a `POST` to that endpoint.
//!
//! rmcp removed its SSE client, so this one is ours (the gateway's server side of the same
//! transport is `gateway/sse.rs`). The event stream is parsed by `sse-stream`, the parser rmcp
//! uses for Streamable HTTP.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rmcp::model::ServerJsonRpcMessage;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::RoleClient;
use sse_stream::SseStream;
use tokio::sync::{mpsc, watch};

use crate::logs::ServerLog;

/// A `POST` of one message may take this long (the server answers 202 at once; the result
/// comes on the event stream).
const POST_TIMEOUT: Duration = Duration::from_secs(60);
/// Server messages read ahead of rmcp.
const INCOMING_BUFFER: usize = 64;

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SseClientError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("the message endpoint answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("no message endpoint: {0}")]
    NoEndpoint(String),
}

/// Where messages are posted, once the event stream said so; or why it never will.
type Endpoint = Option<Result<reqwest::Url, String>>;

/// One connection to a legacy SSE server.
pub struct SseClientTransport {
    http: reqwest::Client,
    endpoint: watch::Receiver<Endpoint>,
    incoming: mpsc::Receiver<ServerJsonRpcMessage>,
    reader: tokio::task::JoinHandle<()>,
}

impl SseClientTransport {
    /// Opens the event stream at `url` in a task of its own (so this returns at once); sends
    /// wait until the stream has named the message endpoint. `http` carries the entry's
    /// headers. What goes wrong is noted in `log`.
    pub fn open(http: reqwest::Client, url: reqwest::Url, log: Arc<ServerLog>) -> Self {
        let (endpoint_tx, endpoint) = watch::channel(None);
        let (incoming_tx, incoming) = mpsc::channel(INCOMING_BUFFER);
        let reader = tokio::spawn(read_events(
            http.clone(),
            url,
            endpoint_tx,
            incoming_tx,
            log,
        ));
        Self {
            http,
            endpoint,
            incoming,
            reader,
        }
    }
}

impl Drop for SseClientTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Transport<RoleClient> for SseClientTransport {
    type Error = SseClientError;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let http = self.http.clone();
        let mut endpoint = self.endpoint.clone();
        async move {
            let url = match endpoint.wait_for(Option::is_some).await {
                Ok(known) => known.clone().expect("waited for Some"),
                Err(_) => Err("the event stream ended before naming it".to_owned()),
            }
            .map_err(SseClientError::NoEndpoint)?;
            let response = http
                .post(url)
                .json(&item)
                .timeout(POST_TIMEOUT)
                .send()
                .await?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let body = response.text().await.unwrap_or_default();
            Err(SseClientError::Status {
                status: status.as_u16(),
                body: preview(&body),
            })
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        self.incoming.recv().await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.reader.abort();
        Ok(())
    }
}

/// Reads the event stream until it ends: the endpoint first, then server messages for rmcp.
/// When it returns, the incoming channel closes and rmcp sees the connection end.
async fn read_events(
    http: reqwest::Client,
    url: reqwest::Url,
    endpoint: watch::Sender<Endpoint>,
    incoming: mpsc::Sender<ServerJsonRpcMessage>,
    log: Arc<ServerLog>,
) {
    let fail = |why: String| {
        log.push(format!("[switchboard] {why}"));
        endpoint.send_if_modified(|e| {
            let unset = e.is_none();
            if unset {
                *e = Some(Err(why.clone()));
            }
            unset
        });
    };
    let response = match http
        .get(url.clone())
        .header(http::header::ACCEPT, "text/event-stream")
        .send()
        .await
    {
        Ok(response) => response,
        Err(e) => return fail(format!("GET {url} failed: {e}")),
    };
    let status = response.status();
    let event_stream = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    if !status.is_success() || !event_stream {
        let body = response.text().await.unwrap_or_default();
        return fail(format!(
            "GET {url} answered HTTP {status} without an event stream: {}",
            preview(&body)
        ));
    }
    log.push(format!(
        "[switchboard] event stream open: GET {url} (HTTP {status})"
    ));
    let mut events = SseStream::from_bytes_stream(response.bytes_stream());
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) => return fail(format!("the event stream broke: {e}")),
        };
        let data = event.data.unwrap_or_default();
        match event.event.as_deref() {
            Some("endpoint") => {
                let joined = url.join(data.trim()).map_err(|e| {
                    format!("the server named an unusable message endpoint {data:?}: {e}")
                });
                if let Err(why) = &joined {
                    log.push(format!("[switchboard] {why}"));
                }
                endpoint.send_replace(Some(joined));
            }
            None | Some("message") => match serde_json::from_str(&data) {
                Ok(message) => {
                    if incoming.send(message).await.is_err() {
                        return; // the connection was closed on our side
                    }
                }
                Err(e) => log.push(format!(
                    "[switchboard] not a JSON-RPC message on the event stream (skipped: {e}): {}",
                    preview(&data)
                )),
            },
            Some(_) => {} // events the transport does not define are ignored
        }
    }
    fail("the server closed its event stream".to_owned());
}

/// At most 200 bytes of a body, on one line.
fn preview(body: &str) -> String {
    let line = body.trim().replace(['\n', '\r'], " ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}
