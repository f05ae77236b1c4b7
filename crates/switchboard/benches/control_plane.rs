//! Control-plane benchmark: how fast an edit of servers.json takes effect, and how fast the
//! aggregate endpoint lists tools when one of its servers hangs.
//!
//! `cargo bench -p switchboard --bench control_plane` (needs `bash tests/setup.sh` first).
//!
//! 1. Reload: 50 edits saved the way editors do (write a temp file, rename it over), alternately
//!    - a filter change, timed from the rename to a connected client receiving
//!      `notifications/tools/list_changed`;
//!    - a new server, timed from the rename to the `serverState: starting` event (its spawn
//!      begun).
//! 2. Aggregate: `tools/list` on `/mcp` with 10 servers running, then with one of them stopped
//!    (SIGSTOP, so it answers nothing), 200 calls each.
//! 3. Tool search (issue 18): what `tools/list` costs in tokens in full and in search mode for
//!    the six real servers of `tests/search.rs` and for 2,000 tools (`tests/servers/many_tools.py`,
//!    copies of those servers' definitions), and how long `search_tools` takes over each: the
//!    first search (which builds the index) and the queries of `tests/search/queries.json`,
//!    one keep-alive client, 2026-07-28 stateless calls.
//! 4. On-demand servers (issue 19): memory (RSS of the gateway and of every process its
//!    servers run) with 10 server-everything entries running (`always`) and asleep
//!    (`onDemand`, `idle`); and the first call to a sleeping server (its cold start: spawn,
//!    handshake, catalog, call) against a call to it running, and against a client that
//!    starts its own copy over stdio (spawn, `initialize`, call), 10 rounds each.
//!
//! Nothing is asserted; the numbers are printed as markdown and written to
//! `target/bench-control-plane.md`. Every process started is killed when the run ends.
#![allow(deprecated)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmcp::model::{ClientCapabilities, ClientInfo, Implementation};
use rmcp::service::{NotificationContext, ServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient};
use serde_json::{json, Value};
use tokio::sync::mpsc;

const EDITS: usize = 50;
const LISTS: usize = 200;
const LIMIT: Duration = Duration::from_secs(30);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn everything() -> Value {
    let bin = repo_root().join("tests/node/node_modules/.bin/mcp-server-everything");
    assert!(
        bin.exists(),
        "run `bash tests/setup.sh` first: {} is missing",
        bin.display()
    );
    json!({ "command": bin, "args": ["stdio"] })
}

/// A `switchboard serve` on a free port, killed (with its children) on drop.
struct Gateway {
    child: Child,
    url: String,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn start(servers: &Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("servers.json");
        save(&config, &json!({ "mcpServers": servers }));
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--port", "0", "--config"])
            .arg(&config)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start switchboard");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let url = stdout
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("switchboard listening on ")
                    .map(str::to_owned)
            })
            .expect("switchboard reports its URL");
        Self {
            child,
            url,
            config,
            _dir: dir,
        }
    }

    async fn servers(&self) -> Vec<Value> {
        let body: Value = reqwest::get(format!("{}/api/servers", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["servers"].as_array().cloned().unwrap_or_default()
    }

    async fn wait_all_running(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let servers = self.servers().await;
            if servers.len() == n && servers.iter().all(|s| s["state"] == "running") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "servers did not all start: {servers:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if switchboard_test_procs::wait_exit(&mut self.child, Duration::from_secs(20)).is_none() {
            let _ = self.child.kill();
        }
    }
}

/// Saves like an editor: temp file, then rename over.
fn save(path: &Path, value: &Value) {
    let tmp = path.with_extension("json.swp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Signals each tools/list_changed.
#[derive(Clone)]
struct Listener(mpsc::UnboundedSender<Instant>);

impl ClientHandler for Listener {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.0.send(Instant::now());
    }

    fn get_info(&self) -> ClientInfo {
        ClientInfo::new(
            ClientCapabilities::default(),
            Implementation::new("bench", "0"),
        )
    }
}

struct Stats {
    median: Duration,
    p99: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p99: at(0.99),
        max: *samples.last().unwrap(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn reload(report: &mut String) {
    let gateway = Gateway::start(&json!({ "everything": everything() }));
    gateway.wait_all_running(1).await;
    let (tx, mut changes) = mpsc::unbounded_channel();
    let client = Listener(tx)
        .serve(StreamableHttpClientTransport::from_uri(format!(
            "{}/servers/everything/mcp",
            gateway.url
        )))
        .await
        .expect("client connects");
    let events = reqwest::get(format!("{}/api/events", gateway.url))
        .await
        .unwrap();
    let (etx, mut starts) = mpsc::unbounded_channel::<(String, Instant)>();
    let reader = tokio::spawn(async move {
        let mut body = events.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            let now = Instant::now();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                for data in block.lines().filter_map(|l| l.strip_prefix("data:")) {
                    if let Ok(event) = serde_json::from_str::<Value>(data.trim()) {
                        if event["type"] == "serverState" && event["state"] == "starting" {
                            let _ = etx.send((event["name"].as_str().unwrap_or("").into(), now));
                        }
                    }
                }
            }
        }
    });

    let mut servers = json!({ "everything": everything() });
    let mut filter_samples = Vec::new();
    let mut spawn_samples = Vec::new();
    for edit in 0..EDITS {
        if edit % 2 == 0 {
            let deny = if edit % 4 == 0 {
                json!(["echo"])
            } else {
                json!([])
            };
            servers["everything"]["tools"] = json!({ "deny": deny });
            while changes.try_recv().is_ok() {}
            let saved = Instant::now();
            save(&gateway.config, &json!({ "mcpServers": servers }));
            let seen = tokio::time::timeout(LIMIT, changes.recv())
                .await
                .unwrap()
                .unwrap();
            filter_samples.push(seen - saved);
        } else {
            let name = format!("extra-{edit}");
            servers[&name] = json!({ "command": "sh", "args": ["-c", "exec sleep 60"], "disabled": false, "timeouts": { "startupSecs": 60 } });
            let saved = Instant::now();
            save(&gateway.config, &json!({ "mcpServers": servers }));
            loop {
                let (started, at) = tokio::time::timeout(LIMIT, starts.recv())
                    .await
                    .unwrap()
                    .unwrap();
                if started == name {
                    spawn_samples.push(at - saved);
                    break;
                }
            }
            // Keep the running set small: the next edit removes it again.
            servers.as_object_mut().unwrap().remove(&name);
        }
    }
    reader.abort();
    client.cancel().await.ok();
    let filter = stats(filter_samples);
    let spawn = stats(spawn_samples);
    report.push_str(&format!(
        "\n### Reload: from the rename of servers.json to the change being live ({EDITS} edits)\n\n\
         | change | median | p99 | max |\n| --- | --- | --- | --- |\n\
         | filter change, seen by a connected client (`tools/list_changed`) | {} | {} | {} |\n\
         | new server, its spawn begun (`serverState: starting` event) | {} | {} | {} |\n",
        ms(filter.median), ms(filter.p99), ms(filter.max),
        ms(spawn.median), ms(spawn.p99), ms(spawn.max),
    ));
}

async fn aggregate(report: &mut String) {
    let servers: serde_json::Map<String, Value> = (1..=10)
        .map(|i| (format!("s{i:02}"), everything()))
        .collect();
    let gateway = Gateway::start(&Value::Object(servers));
    gateway.wait_all_running(10).await;
    let client = ()
        .serve(StreamableHttpClientTransport::from_uri(format!(
            "{}/mcp",
            gateway.url
        )))
        .await
        .expect("client connects");
    let client = Arc::new(client);
    let mut rows = Vec::new();
    for hung in [false, true] {
        if hung {
            let pid = gateway.servers().await[0]["pid"].as_u64().unwrap() as i32;
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGSTOP,
            );
        }
        let mut samples = Vec::new();
        let mut tools = 0;
        for _ in 0..LISTS {
            let start = Instant::now();
            let listed = tokio::time::timeout(LIMIT, client.list_all_tools())
                .await
                .unwrap()
                .unwrap();
            samples.push(start.elapsed());
            tools = listed.len();
        }
        let s = stats(samples);
        rows.push(format!(
            "| 10 servers{} | {tools} | {} | {} | {} |\n",
            if hung { ", one stopped (SIGSTOP)" } else { "" },
            ms(s.median),
            ms(s.p99),
            ms(s.max)
        ));
        if hung {
            let pid = gateway.servers().await[0]["pid"].as_u64().unwrap() as i32;
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGCONT,
            );
        }
    }
    report.push_str(&format!(
        "\n### Aggregate `tools/list` at `/mcp` ({LISTS} calls, one client)\n\n\
         | servers | tools listed | median | p99 | max |\n| --- | --- | --- | --- | --- |\n{}",
        rows.concat()
    ));
}

/// The six servers of `tests/search.rs`, their folders in `dir`, and the 2,000-tool server.
fn search_servers(dir: &Path) -> Value {
    let node = |bin: &str| repo_root().join("tests/node/node_modules/.bin").join(bin);
    let venv = |bin: &str| repo_root().join("tests").join(bin);
    let (files, repo) = (dir.join("files"), dir.join("repo"));
    std::fs::create_dir_all(&files).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    for args in [
        &["init", "-q", "."][..],
        &["commit", "-q", "--allow-empty", "-m", "first"],
    ] {
        let status = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "b")
            .env("GIT_AUTHOR_EMAIL", "b@example.com")
            .env("GIT_COMMITTER_NAME", "b")
            .env("GIT_COMMITTER_EMAIL", "b@example.com")
            .status()
            .expect("git");
        assert!(status.success());
    }
    json!({
        "everything": everything(),
        "filesystem": { "command": node("mcp-server-filesystem"), "args": [files] },
        "memory": { "command": node("mcp-server-memory"), "env": { "MEMORY_FILE_PATH": dir.join("memory.jsonl") } },
        "thinking": { "command": node("mcp-server-sequential-thinking") },
        "time": { "command": venv(".venv-mcp2/bin/mcp-server-time"), "args": ["--local-timezone", "UTC"] },
        "git": { "command": venv(".venv-mcp2/bin/mcp-server-git"), "args": ["--repository", repo] },
        "many": { "command": venv(".venv-mcp1/bin/python"), "args": [venv("servers/many_tools.py"), "2000"] },
    })
}

/// One `search_tools` call at `url` (search mode) with a keep-alive client: its time.
async fn search_once(http: &reqwest::Client, url: &str, query: &str) -> Duration {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "search_tools", "arguments": { "query": query, "limit": 5 },
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": { "name": "bench", "version": "1" },
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    });
    let start = Instant::now();
    let answer = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "search_tools")
        .json(&body)
        .send()
        .await
        .expect("search")
        .text()
        .await
        .expect("answer");
    let took = start.elapsed();
    assert!(answer.contains("structuredContent"), "{answer}");
    took
}

async fn search(report: &mut String) {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(&search_servers(dir.path()));
    gateway.wait_all_running(7).await;
    let queries: Vec<Value> = serde_json::from_slice(
        &std::fs::read(repo_root().join("tests/search/queries.json")).expect("queries"),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    for (label, servers) in [
        (
            "six servers (everything, filesystem, memory, thinking, time, git)",
            "everything,filesystem,memory,thinking,time,git",
        ),
        ("2,000 tools (`many_tools.py`)", "many"),
    ] {
        let cost: Value = http
            .get(format!("{}/api/tokens?servers={servers}", gateway.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = format!("{}/mcp?mode=search&servers={servers}", gateway.url);
        let first = search_once(&http, &url, "read a file").await;
        let mut samples = Vec::new();
        for _ in 0..3 {
            for query in &queries {
                samples.push(search_once(&http, &url, query["query"].as_str().unwrap()).await);
            }
        }
        let s = stats(samples);
        let (full, search) = (&cost["full"]["tokens"], &cost["search"]["tokens"]);
        rows.push(format!(
            "| {label} | {} | {full} ({} KB) | {search} | {} | {} | {} |\n",
            cost["tools"],
            cost["full"]["bytes"].as_u64().unwrap_or(0) / 1024,
            ms(first),
            ms(s.median),
            ms(s.p99),
        ));
    }
    report.push_str(&format!(
        "\n### Tool search (`?mode=search`), tokens (o200k) of `tools/list` and `search_tools` latency\n\n\
         | tools of | tools | full list, tokens | search mode, tokens | first search (builds the index) | median ({} searches) | p99 |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n{}",
        queries.len() * 3,
        rows.concat()
    ));
}

/// Memory of the gateway and of the processes carrying `mark` (its servers'), once settled.
fn memory_of(gateway: &Gateway, mark: &switchboard_test_procs::Mark) -> (u64, u64, usize) {
    let own = switchboard_test_procs::memory(gateway.child.id()).map_or(0, |m| m.rss_kib);
    let children = mark.processes().unwrap_or_default();
    let theirs = children
        .iter()
        .filter_map(|pid| switchboard_test_procs::memory(*pid).ok())
        .map(|m| m.rss_kib)
        .sum();
    (own, theirs, children.len())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

async fn on_demand(report: &mut String) {
    const SERVERS: usize = 10;
    const ROUNDS: usize = 10;
    let mut rows = String::new();
    for start in ["always", "onDemand"] {
        let mark = switchboard_test_procs::Mark::new(
            "SWITCHBOARD_BENCH_ON_DEMAND",
            format!("{}-{start}", std::process::id()),
        );
        let mut servers = json!({});
        for i in 0..SERVERS {
            let mut entry = everything();
            entry["start"] = json!(start);
            entry["env"] = json!({ mark.var(): mark.value() });
            servers[format!("everything-{i}")] = entry;
        }
        let gateway = Gateway::start(&servers);
        let settled = if start == "always" { "running" } else { "idle" };
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let all = gateway.servers().await;
            if all.len() == SERVERS && all.iter().all(|s| s["state"] == settled) {
                break;
            }
            assert!(Instant::now() < deadline, "not all {settled}: {all:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The learning starts' processes are stopped (stdin, TERM, KILL) after `idle` is
        // published; Node's heap settles after start-up.
        tokio::time::sleep(Duration::from_secs(8)).await;
        let (own, theirs, count) = memory_of(&gateway, &mark);
        rows.push_str(&format!(
            "| {SERVERS} × server-everything, `\"start\": \"{start}\"` ({settled}) | {count} | {} | {} | {} |\n",
            mib(own),
            mib(theirs),
            mib(own + theirs)
        ));
        drop(gateway);
        let _ = mark.kill_all();
    }

    // Cold start: one on-demand server that sleeps after a second unused.
    let mut entry = everything();
    entry["start"] = json!("onDemand");
    entry["idleStopSecs"] = json!(1);
    let gateway = Gateway::start(&json!({ "everything": entry }));
    let url = format!("{}/servers/everything/mcp", gateway.url);
    let client = ().serve(StreamableHttpClientTransport::from_uri(url)).await.expect("connect");
    let echo = || {
        let mut params = rmcp::model::CallToolRequestParams::new("echo");
        params.arguments = json!({ "message": "hi" }).as_object().cloned();
        params
    };
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let deadline = Instant::now() + Duration::from_secs(60);
        while gateway.servers().await[0]["state"] != "idle" {
            assert!(Instant::now() < deadline, "it did not go to sleep");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Let the stopped process go entirely (TERM, then KILL after 3 s at worst).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sent = Instant::now();
        client.call_tool(echo()).await.expect("cold call");
        cold.push(sent.elapsed());
        let sent = Instant::now();
        client.call_tool(echo()).await.expect("warm call");
        warm.push(sent.elapsed());
    }
    client.cancel().await.ok();
    drop(gateway);

    // The peer: a client that starts its own copy of the server over stdio.
    let mut direct = Vec::new();
    let bin = everything()["command"].as_str().unwrap().to_owned();
    for _ in 0..ROUNDS {
        let sent = Instant::now();
        let mut command = tokio::process::Command::new(&bin);
        command.arg("stdio");
        let transport = rmcp::transport::TokioChildProcess::new(command).expect("spawn");
        let client = ().serve(transport).await.expect("initialize");
        client.call_tool(echo()).await.expect("direct call");
        direct.push(sent.elapsed());
        client.cancel().await.ok();
    }
    let (cold, warm, direct) = (stats(cold), stats(warm), stats(direct));
    report.push_str(&format!(
        "\n### On-demand servers (issue 19)\n\n\
         Memory, settled (RSS of the gateway and of every process its servers run):\n\n\
         | servers | processes | gateway | servers' processes | total |\n| --- | ---: | ---: | ---: | ---: |\n{rows}\n\
         First call ({ROUNDS} rounds, one rmcp client session opened while the server slept):\n\n\
         | call | median | p99 | max |\n| --- | --- | --- | --- |\n\
         | to an on-demand server asleep (cold start: spawn, handshake, catalog, call) | {} | {} | {} |\n\
         | the next one, running | {} | {} | {} |\n\
         | peer: a client starting its own copy over stdio (spawn, `initialize`, call) | {} | {} | {} |\n",
        ms(cold.median), ms(cold.p99), ms(cold.max),
        ms(warm.median), ms(warm.p99), ms(warm.max),
        ms(direct.median), ms(direct.p99), ms(direct.max),
    ));
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut report = String::from("## Control plane\n");
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let runs = |name: &str| only.is_empty() || only.split(',').any(|n| n.trim() == name);
    runtime.block_on(async {
        if runs("reload") {
            reload(&mut report).await;
        }
        if runs("aggregate") {
            aggregate(&mut report).await;
        }
        if runs("search") {
            search(&mut report).await;
        }
        if runs("on_demand") {
            on_demand(&mut report).await;
        }
    });
    println!("{report}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-control-plane.md");
    let _ = std::fs::write(out, &report);
}
