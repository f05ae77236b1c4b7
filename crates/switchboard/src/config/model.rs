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
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            host: default_host(),
            port: default_port(),
            token: None,
        }
    }
}

fn default_host() -> String {
    DEFAULT_HOST.to_owned()
}
fn default_port() -> u16 {
    DEFAULT_PORT
}

/// One entry of `mcpServers`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSpec {
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub tools: ToolRules,
    #[serde(default)]
    pub timeouts: Timeouts,
}

impl ServerSpec {
    /// The fields that define the child process. When only these are equal, a reload may keep
    /// the running child and apply the rest (filter, timeouts) live.
    pub fn launch(&self) -> Launch<'_> {
        Launch {
            command: &self.command,
            args: &self.args,
            env: &self.env,
            cwd: self.cwd.as_ref(),
            disabled: self.disabled,
        }
    }
}

/// The launch-relevant part of a [`ServerSpec`], for change detection.
#[derive(Debug, PartialEq, Eq)]
pub struct Launch<'a> {
    pub command: &'a str,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub cwd: Option<&'a PathBuf>,
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
