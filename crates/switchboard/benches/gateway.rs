//! Gateway benchmark: what Switchboard costs on the request path, against direct stdio and
//! against two peers (supergateway, mcp-proxy), all measured in one run on the same machine.
//!
//! `cargo bench -p switchboard --bench gateway` (needs `bash tests/setup.sh` first).
//!
//! Measured on `@modelcontextprotocol/server-everything`'s `echo` tool:
//! 1. latency of one `tools/call` (median, p99) over sequential calls after a warm-up, for direct
//!    stdio (the baseline), Switchboard (Streamable HTTP and legacy SSE), supergateway (stdio to
//!    Streamable HTTP and to SSE) and mcp-proxy (both transports);
//! 2. throughput at 1, 16 and 64 concurrent clients (each its own session, sequential calls
//!    for a fixed time) through Switchboard, the peers, and direct stdio (callers sharing one
//!    connection), with the CPU each process used during the window;
//! 3. Switchboard's own RSS with 10 servers: idle, and after the 64-client run.
//!
//! This is a benchmark, not a test: nothing is asserted about time. Every wait is bounded, every
//! process started here is killed (as a process group) when its guard drops, and every process
//! that carries this run's marker variable is swept at the end and reported if it survived.
//! The results are printed as markdown and written to `target/bench-gateway.md`.
//!
//! Knobs (environment): `BENCH_CALLS` (2000), `BENCH_WARMUP` (200), `BENCH_SECS` (5),
//! `BENCH_LEVELS` (`1,16,64`), `BENCH_SERVERS` (10), `BENCH_SWITCHBOARD_BIN` (another
//! `switchboard` binary to measure instead of this build's, e.g. to compare a change),
//! `BENCH_ONLY` (some of `direct,switchboard,supergateway,mcp-proxy`; default all).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmcp::model::{CallToolRequestParams, CallToolResponse};
use rmcp::service::{Peer, RunningService, ServiceExt};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::RoleClient;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// Every process this run starts carries `MARK_VAR=<our pid>`, so survivors can be found.
const MARK_VAR: &str = "SWITCHBOARD_BENCH_RUN";
const MESSAGE: &str = "switchboard-bench";
/// Bound on any single call; a call that takes longer is an error, not a sample.
const CALL_LIMIT: Duration = Duration::from_secs(30);
/// Most time one latency measurement may take (warm-up included).
const LATENCY_BUDGET: Duration = Duration::from_secs(20);
/// Calls each client makes before a throughput window opens.
const WARMUP_PER_CLIENT: usize = 20;
/// Connections opened at once when a throughput level connects its clients.
const CONNECT_PARALLEL: usize = 8;
/// Linux reports process CPU time in USER_HZ ticks, which is 100 on every architecture.
const TICKS_PER_SEC: f64 = 100.0;

type Client = RunningService<RoleClient, ()>;
type BenchResult<T> = Result<T, String>;

// ------------------------------------------------------------------------------------------
// Settings and paths

struct Settings {
    warmup: usize,
    calls: usize,
    secs: f64,
    levels: Vec<usize>,
    servers: usize,
    /// Scenarios to run (all when empty): direct, switchboard, supergateway, mcp-proxy.
    only: Vec<String>,
}

impl Settings {
    fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }

    fn from_env() -> Self {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        }
        let levels = std::env::var("BENCH_LEVELS")
            .ok()
            .map(|v| {
                v.split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .filter(|&n| n > 0)
                    .collect::<Vec<usize>>()
            })
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| vec![1, 16, 64]);
        Self {
            warmup: var("BENCH_WARMUP", 200),
            calls: var("BENCH_CALLS", 2000).max(1),
            secs: var("BENCH_SECS", 5.0_f64).max(0.1),
            levels,
            servers: var("BENCH_SERVERS", 10).max(1),
            only: std::env::var("BENCH_ONLY")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    fn max_level(&self) -> usize {
        self.levels.iter().copied().max().unwrap_or(1)
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn installed(relative: &str) -> BenchResult<PathBuf> {
    let path = repo_root().join(relative);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `bash tests/setup.sh` first",
            path.display()
        ))
    }
}

fn everything_bin() -> BenchResult<PathBuf> {
    installed("tests/node/node_modules/.bin/mcp-server-everything")
}

/// `target/` of this build: the bench executable is `target/<profile>/deps/gateway-<hash>`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|dir| dir.join("CACHEDIR.TAG").exists() || dir.ends_with("target"))
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The bench-profile build of this crate, or `BENCH_SWITCHBOARD_BIN` (to compare two builds).
fn switchboard_bin() -> PathBuf {
    std::env::var_os("BENCH_SWITCHBOARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_switchboard")))
}

fn mark() -> String {
    std::process::id().to_string()
}

/// Node options that keep every node server on loopback (supergateway has no host flag).
fn node_options() -> BenchResult<String> {
    let preload = installed("tests/node/loopback-only.cjs")?;
    let mut options = std::env::var("NODE_OPTIONS").unwrap_or_default();
    if !options.is_empty() {
        options.push(' ');
    }
    options.push_str(&format!("--require \"{}\"", preload.display()));
    Ok(options)
}

// ------------------------------------------------------------------------------------------
// Processes

/// What every spawned process gets: its own process group, the run marker, and SIGTERM when
/// the thread that spawned it (always the main thread here) dies, so a killed bench does not
/// leave gateways behind (they stop their own children on SIGTERM).
fn prepare(cmd: &mut Command) {
    cmd.process_group(0).env(MARK_VAR, mark());
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)
        });
    }
}

fn signal_group(pgid: u32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid as i32), sig);
}

/// A started process (leader of its own group), stopped on drop: SIGTERM to the group, a
/// bounded wait, then SIGKILL to the group.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> BenchResult<Self> {
        prepare(&mut cmd);
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdin(Stdio::null()).stderr(Stdio::from(file));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the group; returns how long the leader took to exit after SIGTERM.
    fn stop(&mut self) -> Option<Duration> {
        if self.exited().is_some() {
            signal_group(self.pid(), nix::sys::signal::Signal::SIGKILL);
            return None;
        }
        let start = Instant::now();
        signal_group(self.pid(), nix::sys::signal::Signal::SIGTERM);
        let deadline = start + Duration::from_secs(15);
        let mut took = None;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                took = Some(start.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if took.is_none() {
            eprintln!(
                "[bench] {} did not exit within 15 s of SIGTERM; SIGKILL",
                self.name
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Stragglers of the group (grandchildren that kept it).
        signal_group(self.pid(), nix::sys::signal::Signal::SIGKILL);
        took
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kills a process group on drop (the direct-stdio child, which rmcp also kills).
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Processes that carry this run's marker.
fn marked_pids() -> Vec<u32> {
    let needle = format!("{MARK_VAR}={}", mark());
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || !alive(pid) {
            continue;
        }
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
            if env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// Waits (bounded) until no marked process is left; kills and names the survivors.
fn sweep(after: &str, notes: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = marked_pids();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = marked_pids();
    }
    if left.is_empty() {
        return;
    }
    let described: Vec<String> = left
        .iter()
        .map(|pid| format!("{pid} ({})", cmdline(*pid)))
        .collect();
    notes.push(format!(
        "{} process(es) still alive 10 s after {after} stopped; killed: {}",
        left.len(),
        described.join(", ")
    ));
    for pid in left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// utime + stime of a process, in ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// (VmRSS, VmHWM) in KiB.
fn memory_kib(pid: u32) -> BenchResult<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(hwm)) => Ok((rss, hwm)),
        _ => Err(format!("no VmRSS/VmHWM in /proc/{pid}/status")),
    }
}

fn free_port() -> BenchResult<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot pick a free port: {e}"))
}

/// Waits until `port` accepts connections or `proc` exits, for at most `limit`.
async fn wait_port(proc: &mut Proc, port: u16, limit: Duration) -> BenchResult<()> {
    let deadline = Instant::now() + limit;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Some(status) = proc.exited() {
            return Err(format!(
                "{} exited ({status}) before listening on {port}:\n{}",
                proc.name,
                proc.log_tail()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not listen on {port} within {limit:?}:\n{}",
                proc.name,
                proc.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The marked processes of a scenario: the gateway, its helper processes (anything marked that
/// is neither the gateway nor an MCP server, e.g. Switchboard's reaper), and the MCP servers.
struct Processes {
    gateway: Vec<u32>,
    servers: Vec<u32>,
}

impl Processes {
    fn find(gateway: Option<u32>) -> Self {
        let mut found = Self {
            gateway: gateway.into_iter().collect(),
            servers: Vec::new(),
        };
        for pid in marked_pids() {
            if Some(pid) == gateway {
                continue;
            }
            if cmdline(pid).contains("mcp-server-everything") {
                found.servers.push(pid);
            } else if gateway.is_some() {
                found.gateway.push(pid);
            }
        }
        found
    }

    /// The gateway's helpers (its own process excluded).
    fn helpers(&self) -> &[u32] {
        self.gateway.get(1..).unwrap_or_default()
    }
}

/// Snapshot of CPU ticks of the gateway (with its helpers), of the MCP server processes, and
/// of this bench process (the clients).
struct CpuSnapshot {
    at: Instant,
    gateway: HashMap<u32, u64>,
    servers: HashMap<u32, u64>,
    bench: u64,
}

impl CpuSnapshot {
    fn take(gateway: Option<u32>) -> Self {
        let processes = Processes::find(gateway);
        let ticks = |pids: &[u32]| -> HashMap<u32, u64> {
            pids.iter()
                .filter_map(|pid| cpu_ticks(*pid).map(|t| (*pid, t)))
                .collect()
        };
        Self {
            at: Instant::now(),
            gateway: ticks(&processes.gateway),
            servers: ticks(&processes.servers),
            bench: cpu_ticks(std::process::id()).unwrap_or(0),
        }
    }

    /// CPU used since `before`, as % of one core: (gateway, servers, bench).
    fn since(&self, before: &CpuSnapshot) -> (f64, f64, f64) {
        let secs = self.at.duration_since(before.at).as_secs_f64().max(1e-9);
        let pct = |ticks: u64| ticks as f64 / TICKS_PER_SEC / secs * 100.0;
        let delta = |now: &HashMap<u32, u64>, then: &HashMap<u32, u64>| -> u64 {
            now.iter()
                .map(|(pid, t)| t.saturating_sub(then.get(pid).copied().unwrap_or(0)))
                .sum()
        };
        (
            pct(delta(&self.gateway, &before.gateway)),
            pct(delta(&self.servers, &before.servers)),
            pct(self.bench.saturating_sub(before.bench)),
        )
    }
}

// ------------------------------------------------------------------------------------------
// Clients

fn echo_params() -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new("echo");
    params.arguments = json!({ "message": MESSAGE }).as_object().cloned();
    params
}

async fn echo_rmcp(peer: &Peer<RoleClient>) -> BenchResult<()> {
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

async fn connect_http(url: &str) -> BenchResult<Client> {
    tokio::time::timeout(
        Duration::from_secs(60),
        ().serve(StreamableHttpClientTransport::from_uri(url.to_owned())),
    )
    .await
    .map_err(|_| format!("initialize with {url} took more than 60 s"))?
    .map_err(|e| format!("initialize with {url} failed: {e}"))
}

async fn connect_many(url: &str, n: usize) -> BenchResult<Vec<Client>> {
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

async fn close_all(clients: Vec<Client>) {
    let closing = futures::future::join_all(clients.into_iter().map(|c| c.cancel()));
    let _ = tokio::time::timeout(Duration::from_secs(20), closing).await;
}

/// A minimal client of the legacy HTTP+SSE transport: one streaming GET, POSTs of JSON-RPC
/// messages to the `endpoint` it announces, responses matched by id from `message` events.
struct SseClient {
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
    async fn connect(sse_url: &str) -> BenchResult<Self> {
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

    async fn echo(&self) -> BenchResult<()> {
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

/// A minimal Streamable HTTP client: one reqwest client with keep-alive, every response body
/// read to its end (plain JSON or an SSE stream that the server ends after the response).
/// It isolates the gateway from the costs of rmcp's client (which, as measured here, opens a
/// new TCP connection for every call whose answer comes as an SSE stream).
struct PlainHttpClient {
    http: reqwest::Client,
    url: String,
    session: Option<String>,
    version: String,
    next_id: AtomicU64,
}

impl PlainHttpClient {
    async fn connect(url: &str) -> BenchResult<Self> {
        let mut client = Self {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            session: None,
            version: "2025-06-18".to_owned(),
            next_id: AtomicU64::new(0),
        };
        let (result, session) = client
            .exchange(
                "initialize",
                json!({
                    "protocolVersion": client.version,
                    "capabilities": {},
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
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let response = self
            .post(&message)
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

    async fn echo(&self) -> BenchResult<()> {
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

// ------------------------------------------------------------------------------------------
// Measurements

struct Stats {
    n: usize,
    median: Duration,
    p99: Duration,
    mean: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let n = samples.len();
        let median = if n % 2 == 1 {
            samples[n / 2]
        } else {
            (samples[n / 2 - 1] + samples[n / 2]) / 2
        };
        let p99 = samples[((n as f64 * 0.99).ceil() as usize).clamp(1, n) - 1];
        let mean = samples.iter().sum::<Duration>() / n as u32;
        Some(Self {
            n,
            median,
            p99,
            mean,
        })
    }
}

enum Echoer<'a> {
    Rmcp(&'a Peer<RoleClient>),
    Sse(&'a SseClient),
    Plain(&'a PlainHttpClient),
}

impl Echoer<'_> {
    async fn echo(&self) -> BenchResult<()> {
        match self {
            Echoer::Rmcp(peer) => echo_rmcp(peer).await,
            Echoer::Sse(client) => client.echo().await,
            Echoer::Plain(client) => client.echo().await,
        }
    }
}

/// Latency through the bench's keep-alive Streamable HTTP client (see [`PlainHttpClient`]).
async fn plain_latency(url: &str, s: &Settings) -> BenchResult<Stats> {
    let client = PlainHttpClient::connect(url).await?;
    let result = latency(Echoer::Plain(&client), s).await;
    if let Some(session) = &client.session {
        let _ = client
            .http
            .delete(url)
            .header("mcp-session-id", session)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
    }
    result
}

/// Sequential calls: `s.warmup`, then `s.calls` timed ones, within [`LATENCY_BUDGET`] (a path
/// that is pathologically slow gets fewer samples rather than stretching the run).
async fn latency(client: Echoer<'_>, s: &Settings) -> BenchResult<Stats> {
    let began = Instant::now();
    for _ in 0..s.warmup {
        client.echo().await?;
        if began.elapsed() > LATENCY_BUDGET / 4 {
            break;
        }
    }
    let mut samples = Vec::with_capacity(s.calls);
    for _ in 0..s.calls {
        let start = Instant::now();
        client.echo().await?;
        samples.push(start.elapsed());
        if began.elapsed() > LATENCY_BUDGET {
            break;
        }
    }
    Stats::of(samples).ok_or_else(|| "no samples".to_owned())
}

struct Throughput {
    calls: usize,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    latency: Option<Stats>,
    /// % of one core during the window: gateway, MCP server process(es), bench clients.
    cpu: (f64, f64, f64),
    server_processes: usize,
}

impl Throughput {
    fn per_sec(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Every peer (a session, or a clone of one shared connection) makes sequential calls for
/// `s.secs`, after a short warm-up; all windows open together.
async fn throughput(
    peers: Vec<Peer<RoleClient>>,
    gateway: Option<u32>,
    s: &Settings,
) -> BenchResult<Throughput> {
    let n = peers.len();
    let window = Duration::from_secs_f64(s.secs);
    let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
    let tasks: Vec<_> = peers
        .into_iter()
        .map(|peer| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                for _ in 0..WARMUP_PER_CLIENT {
                    let _ = echo_rmcp(&peer).await;
                }
                barrier.wait().await;
                let deadline = Instant::now() + window;
                let mut samples = Vec::new();
                let mut errors = 0u64;
                let mut first_error = None;
                while Instant::now() < deadline {
                    let start = Instant::now();
                    match echo_rmcp(&peer).await {
                        Ok(()) => samples.push(start.elapsed()),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                (samples, errors, first_error)
            })
        })
        .collect();
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let abort_all = || aborts.iter().for_each(|t| t.abort());
    let warm_limit = Duration::from_secs(120);
    if tokio::time::timeout(warm_limit, barrier.wait())
        .await
        .is_err()
    {
        abort_all();
        return Err(format!(
            "{n} clients did not finish warming up within {warm_limit:?}"
        ));
    }
    let before = CpuSnapshot::take(gateway);
    let start = Instant::now();
    let joined = tokio::time::timeout(
        window + CALL_LIMIT + Duration::from_secs(5),
        futures::future::join_all(tasks),
    )
    .await;
    let elapsed = start.elapsed();
    let after = CpuSnapshot::take(gateway);
    let Ok(joined) = joined else {
        abort_all();
        return Err(format!("{n} clients did not finish their window in time"));
    };
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for result in joined {
        let (samples, e, first) = result.map_err(|e| format!("client task: {e}"))?;
        all.extend(samples);
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
    }
    Ok(Throughput {
        calls: all.len(),
        errors,
        first_error,
        elapsed,
        latency: Stats::of(all),
        cpu: after.since(&before),
        server_processes: after.servers.len(),
    })
}

// ------------------------------------------------------------------------------------------
// Report

#[derive(Default)]
struct Report {
    latency: Vec<(String, BenchResult<Stats>)>,
    throughput: BTreeMap<usize, Vec<(String, BenchResult<Throughput>)>>,
    throughput_order: Vec<String>,
    memory: Vec<(String, BenchResult<String>)>,
    notes: Vec<String>,
}

impl Report {
    fn latency(&mut self, name: &str, result: BenchResult<Stats>) {
        match &result {
            Ok(st) => eprintln!(
                "[bench] latency {name}: median {} p99 {}",
                ms(st.median),
                ms(st.p99)
            ),
            Err(e) => eprintln!("[bench] latency {name}: ERROR {e}"),
        }
        self.latency.push((name.to_owned(), result));
    }

    fn throughput(&mut self, name: &str, level: usize, result: BenchResult<Throughput>) {
        match &result {
            Ok(t) => {
                eprintln!(
                    "[bench] throughput {name} x{level}: {:.0} calls/s ({} errors)",
                    t.per_sec(),
                    t.errors
                );
                if t.errors > 0 {
                    self.notes.push(format!(
                        "{name}, {level} clients: {} failed calls; first: {}",
                        t.errors,
                        t.first_error.as_deref().unwrap_or("?")
                    ));
                }
            }
            Err(e) => eprintln!("[bench] throughput {name} x{level}: ERROR {e}"),
        }
        if !self.throughput_order.iter().any(|n| n == name) {
            self.throughput_order.push(name.to_owned());
        }
        self.throughput
            .entry(level)
            .or_default()
            .push((name.to_owned(), result));
    }

    fn memory(&mut self, what: &str, result: BenchResult<String>) {
        match &result {
            Ok(v) => eprintln!("[bench] memory {what}: {v}"),
            Err(e) => eprintln!("[bench] memory {what}: ERROR {e}"),
        }
        self.memory.push((what.to_owned(), result));
    }

    fn note(&mut self, note: String) {
        eprintln!("[bench] NOTE: {note}");
        self.notes.push(note);
    }

    fn markdown(&self, header: &str, s: &Settings) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{header}");
        let _ = writeln!(
            out,
            "## Latency of one `tools/call` (`echo`), one client, sequential\n\n\
             {} calls after {} warm-up calls (fewer where a path exceeded the {} s budget).\n",
            s.calls,
            s.warmup,
            LATENCY_BUDGET.as_secs()
        );
        let _ = writeln!(
            out,
            "| path | median | p99 | mean | calls | added median vs direct |\n| --- | ---: | ---: | ---: | ---: | ---: |"
        );
        let base = self
            .latency
            .first()
            .filter(|(name, _)| name.starts_with("direct"))
            .and_then(|(_, r)| r.as_ref().ok())
            .map(|s| s.median);
        for (name, result) in &self.latency {
            match result {
                Ok(st) => {
                    let added = match base {
                        Some(b) if name != &self.latency[0].0 => {
                            let d = st.median.as_secs_f64() - b.as_secs_f64();
                            format!("{:+.3} ms", d * 1e3)
                        }
                        Some(_) => "(baseline)".to_owned(),
                        None => "–".to_owned(),
                    };
                    let _ = writeln!(
                        out,
                        "| {name} | {} | {} | {} | {} | {added} |",
                        ms(st.median),
                        ms(st.p99),
                        ms(st.mean),
                        st.n
                    );
                }
                Err(e) => {
                    let _ = writeln!(out, "| {name} | error: {} | | | | |", one_line(e));
                }
            }
        }
        let levels: Vec<usize> = self.throughput.keys().copied().collect();
        let _ = writeln!(
            out,
            "\n## Throughput (calls/s), each client its own session\n\n\
             Every client makes sequential `echo` calls for {} s (after {} warm-up calls). \
             Direct stdio: that many callers share one stdio connection. \
             CPU is % of one core during the window at {} clients, and CPU time per call, \
             for the gateway (with any helper process) / the MCP server process(es) / the bench's clients; \
             the machine has {} cores, shared by all three.\n",
            s.secs,
            WARMUP_PER_CLIENT,
            levels.last().copied().unwrap_or(0),
            cores()
        );
        let mut head = "| target |".to_owned();
        let mut rule = "| --- |".to_owned();
        for level in &levels {
            let _ = write!(
                head,
                " {level} client{} |",
                if *level == 1 { "" } else { "s" }
            );
            rule.push_str(" ---: |");
        }
        head.push_str(" p50 / p99 at max | CPU at max: gateway / server / clients |");
        rule.push_str(" ---: | ---: |");
        let _ = writeln!(out, "{head}\n{rule}");
        for name in &self.throughput_order {
            let _ = write!(out, "| {name} |");
            let mut last = None;
            for level in &levels {
                let cell = self
                    .throughput
                    .get(level)
                    .and_then(|rows| rows.iter().find(|(n, _)| n == name))
                    .map(|(_, r)| r);
                match cell {
                    Some(Ok(t)) => {
                        let _ = write!(out, " {:.0} |", t.per_sec());
                        last = Some(t);
                    }
                    Some(Err(e)) => {
                        let _ = write!(out, " error: {} |", one_line(e));
                        last = None;
                    }
                    None => out.push_str(" – |"),
                }
            }
            match last {
                Some(t) => {
                    let lat = t
                        .latency
                        .as_ref()
                        .map(|l| format!("{} / {}", ms(l.median), ms(l.p99)))
                        .unwrap_or_default();
                    // CPU time per call: % of a core × window / calls.
                    let per_call = |pct: f64| {
                        pct / 100.0 * t.elapsed.as_secs_f64() * 1e6 / t.calls.max(1) as f64
                    };
                    let gw = if name.starts_with("direct") {
                        "–".to_owned()
                    } else {
                        format!("{:.0}% ({:.0} µs)", t.cpu.0, per_call(t.cpu.0))
                    };
                    let _ = writeln!(
                        out,
                        " {lat} | {gw} / {:.0}% ({:.0} µs, {} proc) / {:.0}% ({:.0} µs) |",
                        t.cpu.1,
                        per_call(t.cpu.1),
                        t.server_processes,
                        t.cpu.2,
                        per_call(t.cpu.2)
                    );
                }
                None => out.push_str(" | |\n"),
            }
        }
        let _ = writeln!(
            out,
            "\n## Memory\n\nVmRSS / VmHWM (peak) from `/proc/PID/status` of the gateway process \
             itself; MCP server children are listed separately.\n\n| what | value |\n| --- | --- |"
        );
        for (what, result) in &self.memory {
            match result {
                Ok(v) => {
                    let _ = writeln!(out, "| {what} | {v} |");
                }
                Err(e) => {
                    let _ = writeln!(out, "| {what} | error: {} |", one_line(e));
                }
            }
        }
        let _ = writeln!(out, "\n## Problems seen during the run\n");
        if self.notes.is_empty() {
            let _ = writeln!(out, "None.");
        }
        for note in &self.notes {
            let _ = writeln!(out, "- {}", one_line(note));
        }
        out
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn one_line(s: &str) -> String {
    let s = s.replace(['\n', '|'], " ");
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn command_output(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text).trim().to_owned()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn package_version(dir: &str) -> String {
    installed(&format!("tests/node/node_modules/{dir}/package.json"))
        .ok()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn locked_version(krate: &str) -> String {
    let lock = std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap_or_default();
    let needle = format!("name = \"{krate}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| lock[i + needle.len()..].split('"').next())
        .unwrap_or("unknown")
        .to_owned()
}

fn machine_and_versions(s: &Settings) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_total = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let root = repo_root();
    let git = command_output(
        Path::new("git"),
        &[
            "-C",
            &root.to_string_lossy(),
            "describe",
            "--always",
            "--dirty",
        ],
    );
    let venv_python = root.join("tests/.venv-mcp1/bin/python");
    let mcp_proxy = command_output(
        &venv_python,
        &[
            "-c",
            "import importlib.metadata as m, sys; print('mcp-proxy', m.version('mcp-proxy'), \
             '(mcp', m.version('mcp') + ', uvicorn', m.version('uvicorn') + ', Python', \
             sys.version.split()[0] + ')')",
        ],
    );
    let mut out = String::new();
    let _ = writeln!(out, "# Switchboard gateway benchmark\n");
    let _ = writeln!(
        out,
        "- machine: {} cores ({model}), {mem_total} RAM, Linux {kernel}; load average at start: {loadavg}",
        cores()
    );
    let _ = writeln!(
        out,
        "- switchboard {} (git {git}), {}; rmcp {}; {}",
        env!("CARGO_PKG_VERSION"),
        match std::env::var_os("BENCH_SWITCHBOARD_BIN") {
            Some(bin) => format!("binary {}", Path::new(&bin).display()),
            None => "bench-profile build".to_owned(),
        },
        locked_version("rmcp"),
        command_output(Path::new("rustc"), &["--version"])
    );
    let _ = writeln!(
        out,
        "- MCP server: @modelcontextprotocol/server-everything {} (`stdio`), node {}",
        package_version("@modelcontextprotocol/server-everything"),
        command_output(Path::new("node"), &["--version"])
    );
    let _ = writeln!(
        out,
        "- peers: supergateway {} (`--logLevel none`); {mcp_proxy} (`--log-level WARNING`)",
        package_version("supergateway")
    );
    let _ = writeln!(
        out,
        "- clients: rmcp {} client (Streamable HTTP, stdio); the bench's own SSE client (reqwest)",
        locked_version("rmcp")
    );
    let _ = writeln!(
        out,
        "- Switchboard runs {} entries of server-everything (the RSS case); calls go to the first.\n",
        s.servers
    );
    out
}

// ------------------------------------------------------------------------------------------
// Scenarios

async fn throughput_levels(
    name: &str,
    url: &str,
    gateway: Option<u32>,
    s: &Settings,
    r: &mut Report,
    mut after_max: impl FnMut(),
) {
    for &level in &s.levels {
        let result = match connect_many(url, level).await {
            Ok(clients) => {
                let peers = clients.iter().map(|c| c.peer().clone()).collect();
                let result = throughput(peers, gateway, s).await;
                if level == s.max_level() {
                    after_max();
                }
                close_all(clients).await;
                result
            }
            Err(e) => Err(e),
        };
        r.throughput(name, level, result);
    }
}

async fn direct_stdio(s: &Settings, r: &mut Report) -> BenchResult<()> {
    let name = "direct stdio (rmcp TokioChildProcess)";
    let mut cmd = tokio::process::Command::new(everything_bin()?);
    cmd.arg("stdio")
        .process_group(0)
        .env(MARK_VAR, mark())
        .kill_on_drop(true);
    // SAFETY: as in `prepare`.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)
        });
    }
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start server-everything: {e}"))?;
    let _group = GroupGuard(transport.id());
    let client = tokio::time::timeout(Duration::from_secs(60), ().serve(transport))
        .await
        .map_err(|_| "initialize over stdio took more than 60 s".to_owned())?
        .map_err(|e| format!("initialize over stdio failed: {e}"))?;
    r.latency(name, latency(Echoer::Rmcp(client.peer()), s).await);
    for &level in &s.levels {
        let peers = vec![client.peer().clone(); level];
        r.throughput(
            "direct stdio (shared connection)",
            level,
            throughput(peers, None, s).await,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), client.cancel()).await;
    Ok(())
}

/// A running `switchboard serve` with `n` server-everything entries `e0`…
struct Switchboard {
    proc: Proc,
    url: String,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Switchboard {
    fn start(n: usize) -> BenchResult<Self> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let everything = everything_bin()?;
        let servers: serde_json::Map<String, Value> = (0..n)
            .map(|i| {
                (
                    format!("e{i}"),
                    json!({
                        "command": everything.to_string_lossy(),
                        "args": ["stdio"],
                        "env": { MARK_VAR: mark() }
                    }),
                )
            })
            .collect();
        let config = dir.path().join("servers.json");
        std::fs::write(
            &config,
            serde_json::to_vec_pretty(&json!({ "mcpServers": servers })).unwrap_or_default(),
        )
        .map_err(|e| format!("{}: {e}", config.display()))?;
        let mut cmd = Command::new(switchboard_bin());
        cmd.args(["serve", "--port", "0", "--config"])
            .arg(&config)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped());
        let mut proc = Proc::spawn("switchboard", cmd, dir.path().join("switchboard.stderr"))?;
        let stdout = proc
            .child
            .stdout
            .take()
            .ok_or("switchboard stdout not piped")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("switchboard listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| {
            format!(
                "switchboard did not print its URL within 30 s:\n{}",
                proc.log_tail()
            )
        })?;
        Ok(Self {
            proc,
            url,
            _dir: dir,
            http: reqwest::Client::new(),
        })
    }

    async fn servers(&self) -> BenchResult<Vec<Value>> {
        let body: Value = self
            .http
            .get(format!("{}/api/servers", self.url))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("GET /api/servers: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /api/servers: {e}"))?;
        Ok(body["servers"].as_array().cloned().unwrap_or_default())
    }

    async fn wait_all_running(&self, n: usize, limit: Duration) -> BenchResult<Duration> {
        let start = Instant::now();
        loop {
            let servers = self.servers().await?;
            let running = servers.iter().filter(|s| s["state"] == "running").count();
            if running == n {
                return Ok(start.elapsed());
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "{running}/{n} servers running after {limit:?}: {}",
                    Value::Array(servers)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn memory(&self) -> BenchResult<String> {
        let (rss, hwm) = memory_kib(self.proc.pid())?;
        Ok(format!("VmRSS {} / VmHWM {}", mib(rss), mib(hwm)))
    }
}

fn children_rss(pids: &[u32]) -> String {
    let total: u64 = pids
        .iter()
        .filter_map(|pid| memory_kib(*pid).ok())
        .map(|(rss, _)| rss)
        .sum();
    format!("{} processes, VmRSS total {}", pids.len(), mib(total))
}

async fn switchboard(s: &Settings, r: &mut Report) -> BenchResult<()> {
    let mut sb = Switchboard::start(s.servers)?;
    let took = sb
        .wait_all_running(s.servers, Duration::from_secs(120))
        .await?;
    eprintln!(
        "[bench] switchboard: {} servers running after {took:?}",
        s.servers
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let servers = sb.servers().await?;
    let child_pids: Vec<u32> = servers
        .iter()
        .filter_map(|s| s["pid"].as_u64().map(|p| p as u32))
        .collect();
    r.memory(
        &format!("Switchboard, {} servers running, idle", s.servers),
        sb.memory(),
    );
    r.memory(
        &format!("… its {} server-everything children", s.servers),
        Ok(children_rss(&child_pids)),
    );
    let processes = Processes::find(Some(sb.proc.pid()));
    if !processes.helpers().is_empty() {
        let names: Vec<String> = processes
            .helpers()
            .iter()
            .map(|pid| {
                let cmd = cmdline(*pid);
                cmd.rsplit(' ').next().unwrap_or_default().to_owned()
            })
            .collect();
        r.memory(
            &format!("… its helper process(es) ({})", names.join(", ")),
            Ok(children_rss(processes.helpers())),
        );
    }

    let mcp = format!("{}/servers/e0/mcp", sb.url);
    let sse = format!("{}/servers/e0/sse", sb.url);
    let result = match connect_http(&mcp).await {
        Ok(client) => {
            let result = latency(Echoer::Rmcp(client.peer()), s).await;
            close_all(vec![client]).await;
            result
        }
        Err(e) => Err(e),
    };
    r.latency("Switchboard, Streamable HTTP", result);
    r.latency(
        "Switchboard, Streamable HTTP, keep-alive client",
        plain_latency(&mcp, s).await,
    );
    let result = match SseClient::connect(&sse).await {
        Ok(client) => latency(Echoer::Sse(&client), s).await,
        Err(e) => Err(e),
    };
    r.latency("Switchboard, legacy SSE", result);

    let pid = sb.proc.pid();
    let max = s.max_level();
    let mut at_max = None;
    throughput_levels(
        "Switchboard, Streamable HTTP",
        &mcp,
        Some(pid),
        s,
        r,
        || at_max = Some(memory_kib(pid)),
    )
    .await;
    if let Some(m) = at_max {
        r.memory(
            &format!("Switchboard, right after the {max}-client run (sessions still open)"),
            m.map(|(rss, hwm)| format!("VmRSS {} / VmHWM {}", mib(rss), mib(hwm))),
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.memory(
        &format!("Switchboard, after the {max}-client run, clients closed, 2 s later"),
        sb.memory(),
    );

    // Health of the run as Switchboard saw it.
    let servers = sb.servers().await?;
    for server in &servers {
        let restarts = server["restarts"].as_u64().unwrap_or(0);
        if restarts > 0 || server["state"] != "running" {
            r.note(format!(
                "Switchboard server {} is {} with {restarts} restart(s) after the run (last error: {})",
                server["name"], server["state"], server["lastError"]
            ));
        }
    }
    let open: u64 = servers.iter().filter_map(|s| s["sessions"].as_u64()).sum();
    if open > 0 {
        r.note(format!(
            "Switchboard still counts {open} open session(s) 2 s after every bench client closed"
        ));
    }
    match sb.proc.stop() {
        Some(took) => eprintln!("[bench] switchboard stopped in {took:?}"),
        None => r.note("Switchboard did not exit within 15 s of SIGTERM".to_owned()),
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while child_pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left: Vec<u32> = child_pids.into_iter().filter(|p| alive(*p)).collect();
    if !left.is_empty() {
        r.note(format!(
            "Switchboard exited but its children {left:?} were still alive 10 s later"
        ));
    }
    Ok(())
}

fn supergateway_cmd(transport: &str, port: u16) -> BenchResult<Command> {
    let mut cmd = Command::new(installed("tests/node/node_modules/.bin/supergateway")?);
    let stdio = format!("'{}' stdio", everything_bin()?.display());
    cmd.args(["--stdio", &stdio, "--outputTransport", transport])
        .args(["--port", &port.to_string(), "--logLevel", "none"])
        .env("NODE_OPTIONS", node_options()?)
        .stdout(Stdio::null());
    if transport == "streamableHttp" {
        cmd.arg("--stateful");
    }
    Ok(cmd)
}

async fn supergateway(s: &Settings, r: &mut Report, dir: &Path) -> BenchResult<()> {
    // stdio -> Streamable HTTP (stateful: one child per session).
    let port = free_port()?;
    let mut proc = Proc::spawn(
        "supergateway (streamableHttp)",
        supergateway_cmd("streamableHttp", port)?,
        dir.join("supergateway-streamable.log"),
    )?;
    wait_port(&mut proc, port, Duration::from_secs(30)).await?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let result = match connect_http(&url).await {
        Ok(client) => {
            let result = latency(Echoer::Rmcp(client.peer()), s).await;
            close_all(vec![client]).await;
            result
        }
        Err(e) => Err(e),
    };
    r.latency("supergateway, Streamable HTTP (stateful)", result);
    r.latency(
        "supergateway, Streamable HTTP, keep-alive client",
        plain_latency(&url, s).await,
    );
    let pid = proc.pid();
    let max = s.max_level();
    let mut at_max = None;
    throughput_levels(
        "supergateway, Streamable HTTP (stateful)",
        &url,
        Some(pid),
        s,
        r,
        || {
            // Read now: the children go away with their sessions.
            let servers = Processes::find(Some(pid)).servers;
            at_max = Some((memory_kib(pid), children_rss(&servers)));
        },
    )
    .await;
    if let Some((m, children)) = at_max {
        r.memory(
            &format!("supergateway (streamable), right after the {max}-client run"),
            m.map(|(rss, hwm)| format!("VmRSS {} / VmHWM {}", mib(rss), mib(hwm))),
        );
        r.memory(
            "… its server children at that moment (`sh -c` + node per open session)",
            Ok(children),
        );
    }
    drop(proc);
    sweep("supergateway (streamableHttp)", &mut r.notes);

    // stdio -> SSE (one shared child; every message is broadcast to every session).
    let port = free_port()?;
    let mut proc = Proc::spawn(
        "supergateway (sse)",
        supergateway_cmd("sse", port)?,
        dir.join("supergateway-sse.log"),
    )?;
    wait_port(&mut proc, port, Duration::from_secs(30)).await?;
    let result = match SseClient::connect(&format!("http://127.0.0.1:{port}/sse")).await {
        Ok(client) => latency(Echoer::Sse(&client), s).await,
        Err(e) => Err(e),
    };
    r.latency("supergateway, SSE", result);
    drop(proc);
    sweep("supergateway (sse)", &mut r.notes);
    Ok(())
}

async fn mcp_proxy(s: &Settings, r: &mut Report, dir: &Path) -> BenchResult<()> {
    let port = free_port()?;
    let mut cmd = Command::new(installed("tests/.venv-mcp1/bin/mcp-proxy")?);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--log-level", "WARNING"])
        .args(["-e", MARK_VAR, &mark()])
        .arg("--")
        .arg(everything_bin()?)
        .arg("stdio")
        .env("NODE_OPTIONS", node_options()?)
        .stdout(Stdio::null());
    let mut proc = Proc::spawn("mcp-proxy", cmd, dir.join("mcp-proxy.log"))?;
    wait_port(&mut proc, port, Duration::from_secs(60)).await?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let result = match connect_http(&url).await {
        Ok(client) => {
            let result = latency(Echoer::Rmcp(client.peer()), s).await;
            close_all(vec![client]).await;
            result
        }
        Err(e) => Err(e),
    };
    r.latency("mcp-proxy, Streamable HTTP", result);
    r.latency(
        "mcp-proxy, Streamable HTTP, keep-alive client",
        plain_latency(&url, s).await,
    );
    let result = match SseClient::connect(&format!("http://127.0.0.1:{port}/sse")).await {
        Ok(client) => latency(Echoer::Sse(&client), s).await,
        Err(e) => Err(e),
    };
    r.latency("mcp-proxy, SSE", result);
    let pid = proc.pid();
    let max = s.max_level();
    let mut at_max = None;
    throughput_levels("mcp-proxy, Streamable HTTP", &url, Some(pid), s, r, || {
        at_max = Some(memory_kib(pid))
    })
    .await;
    if let Some(m) = at_max {
        r.memory(
            &format!("mcp-proxy, right after the {max}-client run"),
            m.map(|(rss, hwm)| format!("VmRSS {} / VmHWM {}", mib(rss), mib(hwm))),
        );
    }
    drop(proc);
    sweep("mcp-proxy", &mut r.notes);
    Ok(())
}

// ------------------------------------------------------------------------------------------

/// Sweeps marked processes however `main` ends (including a panic).
struct FinalSweep;

impl Drop for FinalSweep {
    fn drop(&mut self) {
        let mut notes = Vec::new();
        sweep("the bench", &mut notes);
        for note in notes {
            eprintln!("[bench] {note}");
        }
    }
}

fn main() {
    let _sweep = FinalSweep;
    let s = Settings::from_env();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let header = machine_and_versions(&s);
    eprint!("{header}");
    let started = Instant::now();
    let logs = tempfile::tempdir().expect("temp dir");
    let mut r = Report::default();

    // Everything is spawned from this (main) thread, inside block_on, so PR_SET_PDEATHSIG
    // fires only when the bench itself dies.
    runtime.block_on(async {
        if s.runs("direct") {
            if let Err(e) = direct_stdio(&s, &mut r).await {
                r.note(format!("direct stdio: {e}"));
            }
            sweep("direct stdio", &mut r.notes);
        }
        if s.runs("switchboard") {
            if let Err(e) = switchboard(&s, &mut r).await {
                r.note(format!("Switchboard: {e}"));
            }
            sweep("Switchboard", &mut r.notes);
        }
        if s.runs("supergateway") {
            if let Err(e) = supergateway(&s, &mut r, logs.path()).await {
                r.note(format!("supergateway: {e}"));
            }
            sweep("supergateway", &mut r.notes);
        }
        if s.runs("mcp-proxy") {
            if let Err(e) = mcp_proxy(&s, &mut r, logs.path()).await {
                r.note(format!("mcp-proxy: {e}"));
            }
            sweep("mcp-proxy", &mut r.notes);
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));

    let mut markdown = r.markdown(&header, &s);
    let _ = writeln!(
        markdown,
        "\nRun took {:.0} s; load average at the end: {}.",
        started.elapsed().as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("{markdown}");
    let out = target_dir().join("bench-gateway.md");
    match std::fs::write(&out, &markdown) {
        Ok(()) => eprintln!("[bench] written to {}", out.display()),
        Err(e) => eprintln!("[bench] cannot write {}: {e}", out.display()),
    }
}
