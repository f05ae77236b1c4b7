//! The Switchboard scenario: `switchboard serve` with `BENCH_SERVERS` server-everything
//! entries; its RSS idle and after the largest throughput run, latency over Streamable HTTP and
//! legacy SSE, throughput, and the health of the run as Switchboard saw it (restarts, open
//! sessions, children left after it stopped).
//!
//! Separate from `peers` because it is the subject under test and measures more (memory, its
//! own `/api/servers`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{close_all, connect_http};
use crate::http::{takes_requests, PlainHttpClient};
use crate::measure::{
    latency, offering_latency, plain_latency, plain_throughput_levels, stateless_latency,
    throughput_levels, Echoer, Plain,
};
use crate::procs::{
    alive, children_rss, cmdline, described, mark, memory_kib, Proc, Processes, MARK_VAR,
};
use crate::report::{mib, Report};
use crate::settings::{everything_bin, switchboard_bin, Settings};
use crate::sse::SseClient;
use crate::BenchResult;

/// A running `switchboard serve` with `n` server-everything entries `e0`…
struct Switchboard {
    proc: Proc,
    url: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Switchboard {
    /// With the activity log recording (the default) or not.
    fn start(n: usize, activity: bool) -> BenchResult<Self> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let everything = everything_bin()?;
        let servers: serde_json::Map<String, Value> = (0..n)
            .map(|i| {
                (
                    format!("e{i}"),
                    json!({
                        "command": everything.to_string_lossy(),
                        "args": ["stdio"],
                        "env": { MARK_VAR: mark().value() }
                    }),
                )
            })
            .collect();
        let config = dir.path().join("servers.json");
        std::fs::write(
            &config,
            serde_json::to_vec_pretty(&json!({
                "mcpServers": servers,
                "activity": { "enabled": activity },
            }))
            .unwrap_or_default(),
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
            dir,
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
        memory_kib(self.proc.pid()).map(|m| described(&m))
    }
}

/// The rows of the keep-alive client whose session declares sampling, elicitation and roots
/// (as VS Code's does).
const TAKES_REQUESTS: &str =
    "Switchboard, Streamable HTTP, keep-alive client taking requests (sampling, elicitation, roots)";

/// How the sessions of an idle-memory row are opened.
#[derive(Clone, Copy)]
enum Opened {
    /// A client offering nothing, one `echo` call.
    OneCall,
    /// As a client such as VS Code opens one: declaring roots, sampling and elicitation, and
    /// listing the tools.
    AsClientsDo,
}

/// What an idle open session costs: `n` keep-alive clients each open a session (`opened`),
/// and stay connected; the growth of RssAnon per session, read 2 s later. The clients are
/// kept in `open` (closed by the caller once every row is read), so no row's sessions reuse
/// the memory of another's.
async fn idle_sessions(
    sb: &Switchboard,
    (url, n, opened): (&str, usize, Opened),
    open: &mut Vec<PlainHttpClient>,
) -> BenchResult<String> {
    let before = memory_kib(sb.proc.pid())?;
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let client = match opened {
            Opened::OneCall => {
                let client = PlainHttpClient::connect(url).await?;
                client.echo().await?;
                client
            }
            Opened::AsClientsDo => {
                let client = PlainHttpClient::connect_offering(url, takes_requests()).await?;
                client.list_tools().await?;
                client
            }
        };
        clients.push(client);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = memory_kib(sb.proc.pid())?;
    open.append(&mut clients);
    let per_session = after.anon_kib.saturating_sub(before.anon_kib) / n as u64;
    Ok(format!(
        "{} — {per_session} KiB per session",
        described(&after)
    ))
}

/// The activity log's database after a run: its entries and size, per 100,000 calls.
fn activity_size(sb: &Switchboard) -> BenchResult<String> {
    let path = sb.dir.path().join("data/switchboard/activity.db");
    let conn = rusqlite::Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM calls", [], |row| row.get(0))
        .map_err(|e| format!("count: {e}"))?;
    drop(conn);
    let bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum();
    if rows == 0 {
        return Err("no entries recorded".into());
    }
    let per_100k = bytes as f64 / rows as f64 * 100_000.0;
    Ok(format!(
        "{rows} entries in {}; {} per 100,000 calls",
        mib(bytes / 1024),
        mib((per_100k / 1024.0) as u64)
    ))
}

/// Switchboard with the activity log off: the same keep-alive latency and throughput runs as
/// [`switchboard`] (where it is on), to read the log's cost side by side.
pub(crate) async fn switchboard_log_off(s: &Settings, r: &mut Report) -> BenchResult<()> {
    let mut sb = Switchboard::start(s.servers, false)?;
    sb.wait_all_running(s.servers, Duration::from_secs(120))
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mcp = format!("{}/servers/e0/mcp", sb.url);
    let sse = format!("{}/servers/e0/sse", sb.url);
    let label = "Switchboard, activity log off";
    r.latency(
        &format!("{label}, Streamable HTTP, keep-alive client"),
        plain_latency(&mcp, s).await,
    );
    r.latency(
        &format!("{label}, Streamable HTTP 2026-07-28 (stateless), keep-alive client"),
        stateless_latency(&mcp, s).await,
    );
    let result = match SseClient::connect(&sse).await {
        Ok(client) => latency(Echoer::Sse(&client), s).await,
        Err(e) => Err(e),
    };
    r.latency(&format!("{label}, legacy SSE"), result);
    let pid = sb.proc.pid();
    plain_throughput_levels(
        &format!("{label}, Streamable HTTP, keep-alive client"),
        &mcp,
        Plain::Session(json!({})),
        Some(pid),
        s,
        r,
    )
    .await;
    plain_throughput_levels(
        &format!("{label}, Streamable HTTP 2026-07-28 (stateless)"),
        &mcp,
        Plain::Stateless,
        Some(pid),
        s,
        r,
    )
    .await;
    if sb.proc.stop().is_none() {
        r.note("Switchboard (log off) did not exit within 15 s of SIGTERM".to_owned());
    }
    Ok(())
}

pub(crate) async fn switchboard(s: &Settings, r: &mut Report) -> BenchResult<()> {
    let mut sb = Switchboard::start(s.servers, true)?;
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
                let cmd = cmdline(*pid).unwrap_or_default();
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
    let idle = s.max_level();
    let mut open = Vec::new();
    r.memory(
        &format!("Switchboard, {idle} idle sessions open (one call each, connections kept)"),
        idle_sessions(&sb, (&mcp, idle, Opened::OneCall), &mut open).await,
    );
    r.memory(
        &format!("… and {idle} more, opened as clients do (offering requests, tools listed)"),
        idle_sessions(&sb, (&mcp, idle, Opened::AsClientsDo), &mut open).await,
    );
    let aggregate = format!("{}/mcp", sb.url);
    r.memory(
        &format!(
            "… and {idle} more so on the aggregate endpoint (/mcp, {} servers' tools)",
            s.servers
        ),
        idle_sessions(&sb, (&aggregate, idle, Opened::AsClientsDo), &mut open).await,
    );
    for client in open {
        client.close().await;
    }
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
    r.latency(
        TAKES_REQUESTS,
        offering_latency(&mcp, takes_requests(), s).await,
    );
    r.latency(
        "Switchboard, Streamable HTTP 2026-07-28 (stateless), keep-alive client",
        stateless_latency(&mcp, s).await,
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
    plain_throughput_levels(
        "Switchboard, Streamable HTTP, keep-alive client",
        &mcp,
        Plain::Session(json!({})),
        Some(pid),
        s,
        r,
    )
    .await;
    plain_throughput_levels(
        TAKES_REQUESTS,
        &mcp,
        Plain::Session(takes_requests()),
        Some(pid),
        s,
        r,
    )
    .await;
    plain_throughput_levels(
        "Switchboard, Streamable HTTP 2026-07-28 (stateless)",
        &mcp,
        Plain::Stateless,
        Some(pid),
        s,
        r,
    )
    .await;
    if let Some(m) = at_max {
        r.memory(
            &format!("Switchboard, right after the {max}-client run (sessions still open)"),
            m.map(|m| described(&m)),
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.memory(
        &format!("Switchboard, after the {max}-client run, clients closed, 2 s later"),
        sb.memory(),
    );
    // The gateway gives freed memory back every 20 s (`heap.rs`).
    tokio::time::sleep(Duration::from_secs(23)).await;
    r.memory(
        &format!("Switchboard, after the {max}-client run, clients closed, 25 s later"),
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
    r.memory(
        "Activity log after the run (activity.db)",
        activity_size(&sb),
    );
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
