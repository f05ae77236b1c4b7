//! Reaching a remote server over HTTP: Streamable HTTP (rmcp's client, which also reopens a
//! session the server expired, 404, by initialising again) or the legacy HTTP+SSE transport
//! ([`SseClientTransport`]). An entry without `type` is tried over Streamable HTTP first; a
//! server that refuses that with a 4xx is tried over SSE, as the MCP specification's
//! backwards-compatibility section describes, and what worked is remembered for its URL.
//!
//! There is no process: nothing ends on its own beside the connection (the supervisor's
//! health check notices a server that stops answering), and nothing is left to clean up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::service::ClientInitializeError;
use rmcp::transport::auth::{AuthClient, AuthorizationManager};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::transport::StreamableHttpClientTransport;

use super::connector::{Connector, Link};
use super::launcher::{is_loopback, Launcher};
use super::STARTED_NOTE;
use crate::config::{expand_with_secrets, RemoteTransport, ServerSpec};
use crate::slot::SlotWriter;
use crate::upstream::{
    transport_failures, EitherTransport, SessionAwareClient, SseClientTransport,
};

/// Time to open a TCP (and TLS) connection to a remote server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests one server is sent at once over Streamable HTTP (rmcp's default is 16, which would
/// queue the calls of many clients behind each other).
const MAX_CONCURRENT_POSTS: usize = 64;

type HttpTransport = StreamableHttpClientTransport<SessionAwareClient<AuthClient<reqwest::Client>>>;

/// Reaches servers whose entry has a `url`.
pub struct RemoteConnector {
    /// Knows the gateway's own address.
    launcher: Arc<Launcher>,
    /// The transport an entry without `type` was last tried over, and whether it worked.
    learned: Mutex<Option<Learned>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Learned {
    /// As written (before expansion), so an edited URL is tried afresh.
    url: String,
    transport: RemoteTransport,
    /// The server answered over it: it is not changed again.
    settled: bool,
}

impl RemoteConnector {
    pub fn new(launcher: Arc<Launcher>) -> Self {
        Self {
            launcher,
            learned: Mutex::new(None),
        }
    }

    /// The transport this attempt uses: the entry's `type`, or what was learned for its URL,
    /// or Streamable HTTP.
    fn transport_for(&self, url: &str, written: RemoteTransport) -> RemoteTransport {
        if written != RemoteTransport::Auto {
            return written;
        }
        let mut learned = self.lock();
        match &*learned {
            Some(l) if l.url == url => l.transport,
            _ => {
                *learned = Some(Learned {
                    url: url.to_owned(),
                    transport: RemoteTransport::StreamableHttp,
                    settled: false,
                });
                RemoteTransport::StreamableHttp
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Learned>> {
        self.learned.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Connector for RemoteConnector {
    type Transport = EitherTransport<HttpTransport, SseClientTransport>;
    type Link = RemoteLink;

    async fn connect(
        &self,
        slot: &SlotWriter,
        spec: &ServerSpec,
    ) -> Result<(Self::Transport, RemoteLink), String> {
        let Some(remote) = spec.remote() else {
            return Err("the entry has no url".into());
        };
        let key = if spec.url.is_some() {
            "url"
        } else {
            "serverUrl"
        };
        let secrets = self.launcher.secrets_for(spec).await?;
        let expand = |value: &str| expand_with_secrets(value, &secrets);
        let url = expand(remote.url).map_err(|e| format!("{key}: {e}"))?;
        let url = reqwest::Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| format!("{key}: {:?} is not an http:// or https:// URL", remote.url))?;
        if self.launcher.is_own_gateway(&url) {
            return Err(format!(
                "{key}: {} is Switchboard's own gateway; a server cannot be served through \
                 itself (give the server's own URL)",
                remote.url
            ));
        }
        let mut headers = http::HeaderMap::new();
        for (name, value) in remote.headers {
            let header = format!("headers.{name}");
            let value = expand(value).map_err(|e| format!("{header}: {e}"))?;
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{header}: not a valid HTTP header name"))?;
            let mut value = http::HeaderValue::from_str(&value)
                .map_err(|_| format!("{header}: the value is not a valid HTTP header value"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;

        let transport = self.transport_for(remote.url, remote.transport);
        let log = slot.log();
        // The first authorization refusal of this connection, for its link to end it.
        let (refused_tx, refused_rx) = tokio::sync::oneshot::channel();
        let refused_tx = Arc::new(Mutex::new(Some(refused_tx)));
        // The URL as written goes to the log: an expanded `${env:…}` may be a secret.
        log.push(format!(
            "{STARTED_NOTE}: connecting to {} over {}",
            remote.url,
            describe(transport)
        ));
        if url.scheme() == "http" && !is_loopback(&url) {
            let warning = format!(
                "{} is plain HTTP to another machine: what is sent, tokens included, can be read \
                 on the way; use https://",
                remote.url
            );
            tracing::warn!(server = %slot.name(), "{warning}");
            log.push(format!("[switchboard] warning: {warning}"));
        }
        slot.update_status(|s| {
            s.pid = None;
            s.transport = Some(transport_name(transport));
        });
        let transport = match transport {
            RemoteTransport::Sse => {
                EitherTransport::Right(SseClientTransport::open(http, url, Arc::clone(log)))
            }
            _ => {
                let client = match &self.launcher.sign_ins {
                    Some(sign_ins) => sign_ins.client(slot.name(), remote.url, &url, http).await?,
                    None => {
                        let manager = AuthorizationManager::new(url.as_str())
                            .await
                            .map_err(|e| format!("cannot prepare OAuth for {}: {e}", remote.url))?;
                        AuthClient::new(http, manager)
                    }
                };
                let refusals = Arc::clone(&refused_tx);
                let client = SessionAwareClient::new(client).on_refused(Arc::new(move |c| {
                    if let Some(tx) = refusals.lock().unwrap_or_else(|p| p.into_inner()).take() {
                        let _ = tx.send(c);
                    }
                }));
                let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .max_concurrent_requests(MAX_CONCURRENT_POSTS)
                    .reinit_on_expired_session(true);
                EitherTransport::Left(StreamableHttpClientTransport::with_client(client, config))
            }
        };
        Ok((
            transport,
            RemoteLink {
                refused: Some(refused_rx),
                sign_ins: self.launcher.sign_ins.clone(),
                server: slot.name().to_owned(),
            },
        ))
    }

    fn awaits_sign_in(&self, slot: &SlotWriter) -> bool {
        self.launcher
            .sign_ins
            .as_ref()
            .is_some_and(|s| s.awaits_sign_in(slot.name()))
    }

    fn retry_another_way(
        &self,
        slot: &SlotWriter,
        spec: &ServerSpec,
        error: &ClientInitializeError,
    ) -> bool {
        let Some(remote) = spec.remote() else {
            return false;
        };
        if remote.transport != RemoteTransport::Auto {
            return false;
        }
        let mut learned = self.lock();
        let Some(l) = learned
            .as_mut()
            .filter(|l| l.url == remote.url && !l.settled)
        else {
            return false;
        };
        match l.transport {
            RemoteTransport::StreamableHttp => match refused_status(error) {
                Some(status) => {
                    l.transport = RemoteTransport::Sse;
                    slot.log().push(format!(
                        "[switchboard] {} refused Streamable HTTP (HTTP {status}): trying the \
                         legacy SSE transport",
                        remote.url
                    ));
                    true
                }
                None => false,
            },
            // Neither worked: the next attempt starts again with Streamable HTTP.
            _ => {
                l.transport = RemoteTransport::StreamableHttp;
                false
            }
        }
    }

    fn sign_in_needed(&self, slot: &SlotWriter, challenge: String) {
        slot.log().push(
            "[switchboard] the server asks to sign in (OAuth): use Sign in on the dashboard or \
             run `switchboard auth NAME`"
                .replace("NAME", slot.name()),
        );
        if let Some(sign_ins) = &self.launcher.sign_ins {
            // A 403 asks for more than was granted: a step-up, counted as one.
            if challenge.contains("insufficient_scope") {
                sign_ins.step_up(slot.name(), challenge);
            } else {
                sign_ins.needs_sign_in(slot.name(), challenge);
            }
        }
    }

    fn connected(&self, slot: &SlotWriter, spec: &ServerSpec) {
        let Some(remote) = spec.remote() else {
            return;
        };
        let mut learned = self.lock();
        let transport = match learned.as_mut().filter(|l| l.url == remote.url) {
            Some(l) if remote.transport == RemoteTransport::Auto => {
                l.settled = true;
                l.transport
            }
            _ => remote.transport,
        };
        slot.log().push(format!(
            "[switchboard] connected to {} over {}",
            remote.url,
            describe(transport)
        ));
    }
}

/// The HTTP status with which a server refused a Streamable HTTP handshake, when it is one
/// that means "not this transport" (400, 404, 405; the specification's list).
fn refused_status(error: &ClientInitializeError) -> Option<u16> {
    let refusal = |code: u16| matches!(code, 400 | 404 | 405).then_some(code);
    transport_failures(error).into_iter().find_map(|e| {
        match e.downcast_ref::<StreamableHttpError<reqwest::Error>>()? {
            // rmcp reports a 4xx answer to a POST as "HTTP 404 Not Found: <body>".
            StreamableHttpError::UnexpectedServerResponse(text) => text
                .strip_prefix("HTTP ")
                .and_then(|rest| rest.get(..3))
                .and_then(|code| code.parse().ok())
                .and_then(refusal),
            StreamableHttpError::UnexpectedContentType(_) => Some(415),
            StreamableHttpError::Client(e) => e.status().map(|s| s.as_u16()).and_then(refusal),
            _ => None,
        }
    })
}

/// The transport's name on the API and the dashboard.
pub(crate) fn transport_name(transport: RemoteTransport) -> &'static str {
    match transport {
        RemoteTransport::Sse => "sse",
        _ => "streamable-http",
    }
}

fn describe(transport: RemoteTransport) -> &'static str {
    match transport {
        RemoteTransport::Sse => "the legacy SSE transport",
        _ => "Streamable HTTP",
    }
}

/// A remote server has no process of ours: nothing to release beside the connection. It
/// ends when the server refuses a request for want of authorization (a step-up, or tokens
/// that no refresh could mend), so the server waits for its user to sign in again.
pub struct RemoteLink {
    refused: Option<tokio::sync::oneshot::Receiver<String>>,
    sign_ins: Option<Arc<crate::oauth::SignIns>>,
    server: String,
}

impl Link for RemoteLink {
    fn pid(&self) -> Option<u32> {
        None
    }

    async fn ended(&mut self) -> String {
        let challenge = match self.refused.as_mut() {
            Some(refused) => refused.await.ok(),
            None => None,
        };
        self.refused = None;
        let Some(challenge) = challenge else {
            return std::future::pending().await;
        };
        if let Some(sign_ins) = &self.sign_ins {
            sign_ins.step_up(&self.server, challenge.clone());
        }
        format!("the server refused a request until you sign in again ({challenge})")
    }

    async fn closed_because(&mut self) -> Option<String> {
        None
    }

    async fn release(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_may_be_reached_over_plain_http_without_a_warning() {
        let loopback = |u: &str| is_loopback(&reqwest::Url::parse(u).unwrap());
        assert!(loopback("http://localhost:3000/mcp"));
        assert!(loopback("http://127.0.0.1:3000/mcp"));
        assert!(loopback("http://[::1]:3000/mcp"));
        assert!(!loopback("http://mcp.example.com/mcp"));
        assert!(!loopback("http://192.168.1.2/mcp"));
    }

    #[test]
    fn an_entry_without_type_learns_its_transport_per_url() {
        let connector = RemoteConnector::new(Arc::default());
        let auto = RemoteTransport::Auto;
        assert_eq!(
            connector.transport_for("http://a/mcp", auto),
            RemoteTransport::StreamableHttp
        );
        connector.lock().as_mut().unwrap().transport = RemoteTransport::Sse;
        assert_eq!(
            connector.transport_for("http://a/mcp", auto),
            RemoteTransport::Sse
        );
        assert_eq!(
            connector.transport_for("http://b/mcp", auto),
            RemoteTransport::StreamableHttp,
            "an edited url is tried afresh"
        );
        assert_eq!(
            connector.transport_for("http://b/mcp", RemoteTransport::Sse),
            RemoteTransport::Sse,
            "a written type is used as written"
        );
    }
}
