//! The typed view of `servers.json`.
//!
//! The file is Claude Desktop's `mcpServers` shape plus a few keys of ours.
//! Unknown keys are accepted everywhere (they are kept verbatim by the writer,
//! which works on the raw JSON, never on these types).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Default port of the gateway: "7427" spells nothing, it is just free on most machines.
pub const DEFAULT_PORT: u16 = 7427;
/// Default bind address: loopback only (see the security invariant in ARCHITECTURE.md).
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServersFile {
    /// Server name -> how to run it. A `BTreeMap` keeps iteration stable for the API.
    #[serde(default)]
    pub mcp_servers: BTreeMap<String, ServerSpec>,
    #[serde(default)]
    pub gateway: GatewaySettings,
    #[serde(default)]
    pub activity: ActivitySettings,
}

/// `activity`: the log of every MCP request through the gateway (`activity/`). Applied live,
/// except `queue`, which is read at start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivitySettings {
    /// Record requests at all.
    pub enabled: bool,
    /// Entries older than this many days are deleted.
    pub retention_days: u32,
    /// The database is kept under this many MiB (oldest entries deleted first).
    pub max_mb: u32,
    /// Store each request's params and its result or error (truncated, secrets redacted).
    pub capture: bool,
    /// How much of each captured params or result is kept, in bytes.
    pub capture_bytes: u32,
    /// Entries waiting to be written; past this, new ones are dropped and counted (so a slow
    /// disk never slows a call).
    pub queue: u32,
}

impl Default for ActivitySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            retention_days: 14,
            max_mb: 100,
            capture: false,
            capture_bytes: 4096,
            queue: 8192,
        }
    }
}

/// `gateway`: where the HTTP gateway listens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySettings {
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Bearer token required from clients; mandatory when `host` is not loopback.
    #[serde(default)]
    pub token: Option<String>,
    /// Client sessions one server (or the aggregate view) accepts at once.
    #[serde(default = "default_max_sessions")]
    pub max_sessions_per_server: usize,
    /// A Streamable HTTP session with no request for this long is closed (clients such as the
    /// MCP Inspector never end their sessions).
    #[serde(default = "default_session_idle")]
    pub session_idle_secs: u64,
    /// The `start` of entries that do not say (`"always"` unless set).
    #[serde(default)]
    pub start: StartMode,
    /// The `idleStopSecs` of entries that do not say.
    #[serde(default = "default_idle_stop")]
    pub idle_stop_secs: u64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            host: default_host(),
            port: default_port(),
            token: None,
            max_sessions_per_server: default_max_sessions(),
            session_idle_secs: default_session_idle(),
            start: StartMode::default(),
            idle_stop_secs: default_idle_stop(),
        }
    }
}

fn default_max_sessions() -> usize {
    256
}
fn default_session_idle() -> u64 {
    600
}
/// Five minutes unused, as the one-shot servers of the project Switchboard grew from.
pub const DEFAULT_IDLE_STOP_SECS: u64 = 300;
fn default_idle_stop() -> u64 {
    DEFAULT_IDLE_STOP_SECS
}

/// `start` of an entry: when its process runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum StartMode {
    /// Started with Switchboard and kept running (restarted when it dies).
    #[default]
    #[serde(rename = "always")]
    Always,
    /// Started by the first request that needs it and stopped after `idleStopSecs` unused;
    /// its catalog is learned once and listed from disk while it sleeps.
    #[serde(rename = "onDemand")]
    OnDemand,
}

impl StartMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StartMode::Always => "always",
            StartMode::OnDemand => "onDemand",
        }
    }
}

fn default_host() -> String {
    DEFAULT_HOST.to_owned()
}
fn default_port() -> u16 {
    DEFAULT_PORT
}

/// One entry of `mcpServers`: a program to run (`command`, Claude Desktop's shape) or a
/// server to reach over HTTP (`url`, or Windsurf's `serverUrl`; the shape Claude Code, VS Code
/// and Cursor write). Loading checks that exactly one of the two is given; [`ServerSpec::remote`]
/// tells which.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSpec {
    /// The program of a local server; empty for a remote one.
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// The endpoint of a remote server.
    #[serde(default)]
    pub url: Option<String>,
    /// Windsurf's name for `url`.
    #[serde(default)]
    pub server_url: Option<String>,
    /// How the server is reached; optional (a `command` is stdio, a `url` is tried as
    /// Streamable HTTP first, then as the legacy SSE transport).
    #[serde(default, rename = "type")]
    pub transport: Option<TransportKind>,
    /// HTTP headers sent with every request to a remote server (`${env:VAR}` expanded).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How a remote server is signed in to with OAuth.
    #[serde(default)]
    pub oauth: OAuthSettings,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub tools: ToolRules,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub restart: RestartPolicy,
    /// When the process runs; unset, `gateway.start` (filled in by loading).
    #[serde(default)]
    pub start: Option<StartMode>,
    /// An on-demand server stops after this many seconds without requests in flight; unset,
    /// `gateway.idleStopSecs` (filled in by loading).
    #[serde(default)]
    pub idle_stop_secs: Option<u64>,
}

impl ServerSpec {
    /// Whether the process is started by the first request that needs it (`"start":
    /// "onDemand"`).
    pub fn on_demand(&self) -> bool {
        self.start == Some(StartMode::OnDemand)
    }

    /// How long an on-demand server may go unused before it is stopped.
    pub fn idle_stop(&self) -> Duration {
        Duration::from_secs(self.idle_stop_secs.unwrap_or(DEFAULT_IDLE_STOP_SECS))
    }

    /// The fields that define the child process. When only these are equal, a reload may keep
    /// the running child and apply the rest (filter, timeouts) live.
    pub fn launch(&self) -> Launch<'_> {
        Launch {
            command: &self.command,
            args: &self.args,
            env: &self.env,
            cwd: self.cwd.as_ref(),
            url: self.remote_url(),
            transport: self.transport,
            headers: &self.headers,
            disabled: self.disabled,
        }
    }

    /// The remote endpoint as written (`url`, else `serverUrl`), before `${env:}` expansion.
    pub fn remote_url(&self) -> Option<&str> {
        self.url.as_deref().or(self.server_url.as_deref())
    }

    /// How a remote server is reached, or `None` for a program run over stdio.
    pub fn remote(&self) -> Option<Remote<'_>> {
        let url = self.remote_url()?;
        let transport = match self.transport {
            Some(TransportKind::Http) => RemoteTransport::StreamableHttp,
            Some(TransportKind::Sse) => RemoteTransport::Sse,
            Some(TransportKind::Stdio) | None => RemoteTransport::Auto,
        };
        Some(Remote {
            url,
            transport,
            headers: &self.headers,
        })
    }
}

/// `oauth` of a remote entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthSettings {
    /// A client id registered with the server's authorization server beforehand; without
    /// one, Switchboard registers itself (a client ID metadata document or dynamic
    /// registration, as the authorization server offers).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The secret of a confidential pre-registered client (with `clientId`); write it as
    /// `${env:VAR}` rather than in the file.
    #[serde(default)]
    pub client_secret: Option<String>,
}

/// `type` of an entry, with the spellings clients write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TransportKind {
    #[serde(rename = "stdio")]
    Stdio,
    /// Streamable HTTP (`http` in Claude Code and VS Code).
    #[serde(
        rename = "http",
        alias = "streamable-http",
        alias = "streamableHttp",
        alias = "streamable_http"
    )]
    Http,
    /// The legacy HTTP+SSE transport of 2024-11-05.
    #[serde(rename = "sse")]
    Sse,
}

/// A server reached over HTTP, as its entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote<'a> {
    /// As written: `${env:VAR}` is expanded when the server is connected.
    pub url: &'a str,
    pub transport: RemoteTransport,
    pub headers: &'a BTreeMap<String, String>,
}

/// Which HTTP transport a remote server is spoken to over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteTransport {
    /// Not said: Streamable HTTP, falling back to SSE when the server refuses it.
    Auto,
    StreamableHttp,
    Sse,
}

/// The launch-relevant part of a [`ServerSpec`], for change detection.
#[derive(Debug, PartialEq, Eq)]
pub struct Launch<'a> {
    pub command: &'a str,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub cwd: Option<&'a PathBuf>,
    pub url: Option<&'a str>,
    pub transport: Option<TransportKind>,
    pub headers: &'a BTreeMap<String, String>,
    pub disabled: bool,
}

/// `tools`: glob patterns that decide which tools are exposed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ToolRules {
    /// When present, only matching tools are exposed.
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// Matching tools are never exposed, even when allowed.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// `timeouts`, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeouts {
    /// From spawn to a completed `initialize` (npx may download first).
    #[serde(default = "Timeouts::default_startup")]
    pub startup_secs: u64,
    /// Any request other than `tools/call`.
    #[serde(default = "Timeouts::default_request")]
    pub request_secs: u64,
    /// `tools/call`; progress notifications do not extend it.
    #[serde(default = "Timeouts::default_tool_call")]
    pub tool_call_secs: u64,
}

impl Timeouts {
    fn default_startup() -> u64 {
        60
    }
    fn default_request() -> u64 {
        60
    }
    fn default_tool_call() -> u64 {
        300
    }
    pub fn startup(&self) -> Duration {
        Duration::from_secs(self.startup_secs)
    }
    pub fn request(&self) -> Duration {
        Duration::from_secs(self.request_secs)
    }
    pub fn tool_call(&self) -> Duration {
        Duration::from_secs(self.tool_call_secs)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            startup_secs: Self::default_startup(),
            request_secs: Self::default_request(),
            tool_call_secs: Self::default_tool_call(),
        }
    }
}

/// `health`: how a running child is checked (MCP `ping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Seconds between pings; 0 turns health checks off.
    #[serde(default = "Health::default_interval")]
    pub ping_interval_secs: u64,
    /// Seconds a ping may take before it counts as missed.
    #[serde(default = "Health::default_timeout")]
    pub ping_timeout_secs: u64,
    /// Missed pings in a row after which the child is restarted.
    #[serde(default = "Health::default_misses")]
    pub max_missed: u32,
}

impl Health {
    fn default_interval() -> u64 {
        30
    }
    fn default_timeout() -> u64 {
        10
    }
    fn default_misses() -> u32 {
        2
    }
}

impl Default for Health {
    fn default() -> Self {
        Self {
            ping_interval_secs: Self::default_interval(),
            ping_timeout_secs: Self::default_timeout(),
            max_missed: Self::default_misses(),
        }
    }
}

/// `restart`: the backoff between attempts after a crash or a failed start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestartPolicy {
    /// First delay; it doubles after each failure.
    #[serde(default = "RestartPolicy::default_initial")]
    pub initial_delay_ms: u64,
    /// The delay never grows beyond this.
    #[serde(default = "RestartPolicy::default_max")]
    pub max_delay_ms: u64,
    /// A child up this long is healthy again: its next crash waits the first delay.
    #[serde(default = "RestartPolicy::default_stable")]
    pub stable_after_secs: u64,
}

impl RestartPolicy {
    fn default_initial() -> u64 {
        1_000
    }
    fn default_max() -> u64 {
        60_000
    }
    fn default_stable() -> u64 {
        60
    }
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_delay_ms: Self::default_initial(),
            max_delay_ms: Self::default_max(),
            stable_after_secs: Self::default_stable(),
        }
    }
}
