//! Fault injection with real children: crashes, hangs, garbage, abrupt ends of Switchboard
//! itself, clients that vanish. Every process started is accounted for by scanning /proc.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use support::client::{call, connect, text_of, RecordingClient, Seen};
use support::{cancel_probe, everything, repo_root, signal, Switchboard};
use switchboard_test_procs::{alive, pids, stat, Stat};

const WAIT: Duration = Duration::from_secs(30);

/// Every process now, with its stat (those that vanish while being read are left out).
fn processes() -> Vec<(u32, Stat)> {
    pids()
        .expect("cannot list /proc")
        .into_iter()
        .filter_map(|pid| Some((pid, stat(pid).ok()?)))
        .collect()
}

/// Every live descendant of `root` (by parent pid), excluding zombies.
fn descendants(root: u32) -> BTreeSet<u32> {
    let parents: Vec<(u32, u32)> = processes()
        .into_iter()
        .filter(|(_, s)| s.state != 'Z')
        .map(|(pid, s)| (pid, s.ppid))
        .collect();
    let mut found = BTreeSet::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, ppid) in &parents {
            if *ppid == parent && found.insert(*pid) {
                frontier.push(*pid);
            }
        }
    }
    found
}

/// Zombie children of `parent`: exited but never reaped.
fn zombies_of(parent: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, s)| s.state == 'Z' && s.ppid == parent)
        .map(|(pid, _)| pid)
        .collect()
}

async fn all_gone(pids: &BTreeSet<u32>, limit: Duration) -> Vec<u32> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if left.is_empty() || tokio::time::Instant::now() > deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn fast_restarts(mut server: Value) -> Value {
    server["restart"] = json!({ "initialDelayMs": 100, "maxDelayMs": 800, "stableAfterSecs": 60 });
    server
}

/// A server launched through `sh -c` that also starts a grandchild (`sleep`), and one launched
/// through `npx` (which runs node as its child).
fn grandparent_servers() -> Value {
    let bin = everything()["command"].clone();
    json!({
        "shell": {
            "command": "sh",
            "args": ["-c", format!("sleep 1000 & exec {}", bin.as_str().unwrap())],
        },
        "npx": {
            "command": "npx",
            "args": ["--no-install", "mcp-server-everything"],
            "cwd": repo_root().join("tests/node").to_string_lossy(),
        },
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_twenty_times_it_comes_back_each_time_with_growing_backoff_and_no_zombie() {
    let sb = Switchboard::start(json!({ "everything": fast_restarts(everything()) }));
    let mut pid = sb.pid_of("everything").await;
    let mut delays = Vec::new();
    for round in 1..=20u64 {
        signal(pid, Signal::SIGKILL);
        let back = sb
            .wait_for("everything", WAIT, |s| {
                s["state"] == "running" && s["pid"].as_u64() != Some(pid as u64)
            })
            .await;
        assert_eq!(back["restarts"], round, "{back:#}");
        delays.push(back["retryDelayMs"].as_u64().unwrap());
        assert!(
            !alive(pid),
            "round {round}: the killed child {pid} must be reaped"
        );
        pid = back["pid"].as_u64().unwrap() as u32;
    }
    assert_eq!(
        &delays[..5],
        &[100, 200, 400, 800, 800],
        "backoff doubles to its cap"
    );
    assert!(delays[5..].iter().all(|d| *d == 800), "{delays:?}");
    assert!(zombies_of(sb.pid()).is_empty(), "no zombie children");
    client_still_served(&sb, "everything").await;
}

async fn client_still_served(sb: &Switchboard, name: &str) {
    let client = connect(sb.mcp_url(name), RecordingClient::default()).await;
    client
        .call_tool(call("echo", json!({ "message": "alive" })))
        .await
        .expect("the server serves again");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_child_that_never_answers_initialize_fails_after_the_startup_timeout() {
    let sb = Switchboard::start(json!({
        "silent": { "command": "sh", "args": ["-c", "exec sleep 1000"], "timeouts": { "startupSecs": 1 } },
    }));
    let failed = sb
        .wait_for("silent", WAIT, |s| s["state"] == "failed")
        .await;
    let error = failed["lastError"].as_str().unwrap();
    assert!(
        error.contains("no answer to initialize within 1s"),
        "{error}"
    );
    assert!(zombies_of(sb.pid()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_child_that_hangs_while_running_is_restarted_by_the_health_check() {
    let mut server = everything();
    server["health"] = json!({ "pingIntervalSecs": 1, "pingTimeoutSecs": 1, "maxMissed": 2 });
    let sb = Switchboard::start(json!({ "hung": server }));
    let pid = sb.pid_of("hung").await;
    signal(pid, Signal::SIGSTOP);
    let back = sb
        .wait_for("hung", WAIT, |s| {
            s["state"] == "running" && s["pid"].as_u64() != Some(pid as u64)
        })
        .await;
    assert_eq!(back["restarts"], 1);
    let gone = all_gone(&BTreeSet::from([pid]), Duration::from_secs(10)).await;
    assert!(
        gone.is_empty(),
        "the hung child must be killed, even stopped"
    );
    let log = sb.get("/api/servers/hung/logs").await.1.to_string();
    let detail = sb.server("hung").await;
    assert!(
        detail["lastError"].is_null(),
        "running again clears the error"
    );
    assert!(!log.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_child_that_exits_at_once_is_failed_with_its_exit_status_and_stderr() {
    let sb = Switchboard::start(json!({
        "exits": { "command": "sh", "args": ["-c", "echo 'missing API_KEY' >&2; exit 3"] },
    }));
    let failed = sb
        .wait_for("exits", WAIT, |s| {
            s["state"] == "failed"
                && s["lastError"]
                    .as_str()
                    .is_some_and(|e| e.contains("status 3"))
        })
        .await;
    let error = failed["lastError"].as_str().unwrap();
    assert!(
        error.contains("missing API_KEY"),
        "stderr is quoted: {error}"
    );
}

/// Real servers print to stdout: a banner before `initialize`, a debugging line mid-call (the
/// conformance suite's reference server does). Such lines are skipped and counted; the server
/// keeps running and its sessions keep working, as with the SDK clients.
#[tokio::test(flavor = "multi_thread")]
async fn stray_stdout_lines_are_skipped_and_counted_and_a_call_in_progress_completes() {
    let bin = everything()["command"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    // The stray line comes when the test says so: while a call is in progress.
    let script = format!(
        "echo 'Server starting...'; \
         (while [ ! -f {go} ]; do sleep 0.05; done; echo 'STRAY debugging line mid-call') & \
         exec {bin} stdio",
        go = go.display()
    );
    let sb = Switchboard::start(json!({ "noisy": { "command": "sh", "args": ["-c", script] } }));
    let pid = sb.pid_of("noisy").await;
    let recorder = RecordingClient::default();
    let client = connect(sb.mcp_url("noisy"), recorder.clone()).await;
    let long = client.call_tool(call(
        "trigger-long-running-operation",
        json!({ "duration": 3, "steps": 6 }),
    ));
    let poke = async {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !recorder
            .seen()
            .iter()
            .any(|s| matches!(s, Seen::Progress(_)))
        {
            assert!(tokio::time::Instant::now() < deadline, "no progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        std::fs::write(&go, "").unwrap();
        sb.wait_for_log("noisy", "STRAY debugging line").await;
    };
    let (result, ()) = tokio::join!(long, poke);
    let result = result.expect("the call in progress completes");
    assert!(text_of(&result).contains("completed"), "{result:?}");
    client
        .call_tool(call("echo", json!({ "message": "still here" })))
        .await
        .expect("the session keeps working");

    let detail = sb.server("noisy").await;
    assert_eq!(detail["state"], "running");
    assert_eq!(detail["pid"], pid, "not restarted: {detail:#}");
    assert_eq!(detail["restarts"], 0);
    assert_eq!(
        detail["strayStdout"]["count"], 2,
        "the banner and the line: {detail:#}"
    );
    assert_eq!(
        detail["strayStdout"]["lastLine"],
        "STRAY debugging line mid-call"
    );
    let (_, logs) = sb.get("/api/servers/noisy/logs").await;
    let logs = logs.to_string();
    assert!(
        logs.contains("not MCP on stdout (skipped): Server starting..."),
        "marked as stdout in the log: {logs}"
    );
    client.cancel().await.ok();
}

/// `sh -c` (like npx and uvx) keeps running as the parent of the real server, which holds the
/// pipes. Killing the launcher must still be noticed: reaped, recorded, the group killed, and
/// the server restarted.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_launcher_is_reaped_its_group_killed_and_the_server_restarted() {
    let bin = everything()["command"].as_str().unwrap().to_owned();
    let mut server = json!({
        "command": "sh",
        // Not the last command, so sh stays as the launcher instead of exec-ing node.
        "args": ["-c", format!("{bin} stdio; echo 'launcher: server ended' >&2")],
    });
    server["restart"] = json!({ "initialDelayMs": 2000, "maxDelayMs": 2000 });
    let sb = Switchboard::start(json!({ "launched": server }));
    let launcher = sb.pid_of("launched").await;
    let grandchildren = descendants(launcher);
    assert!(!grandchildren.is_empty(), "sh runs the server as its child");

    signal(launcher, Signal::SIGKILL);
    let restarting = sb
        .wait_for("launched", WAIT, |s| s["state"] == "restarting")
        .await;
    let error = restarting["lastError"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("pid {launcher}")) && error.contains("killed by signal 9"),
        "{restarting:#}"
    );
    assert!(
        zombies_of(sb.pid()).is_empty(),
        "the launcher is reaped, not left a zombie"
    );
    let left = all_gone(&grandchildren, Duration::from_secs(10)).await;
    assert!(
        left.is_empty(),
        "the launcher's children are killed: {left:?}"
    );
    let back = sb
        .wait_for("launched", WAIT, |s| {
            s["state"] == "running" && s["pid"].as_u64() != Some(launcher as u64)
        })
        .await;
    assert_eq!(back["restarts"], 1);
    client_still_served(&sb, "launched").await;
}

/// "running" means the child answers: while a server restarts, a client is told which attempt
/// is under way and when the next one comes, never that it "is running".
#[tokio::test(flavor = "multi_thread")]
async fn a_session_opened_while_a_server_restarts_is_told_the_attempt_and_the_next_try() {
    let mut server = everything();
    server["restart"] = json!({ "initialDelayMs": 20000, "maxDelayMs": 20000 });
    server["timeouts"] = json!({ "startupSecs": 10 });
    let sb = Switchboard::start(json!({ "slow": server }));
    let pid = sb.pid_of("slow").await;
    signal(pid, Signal::SIGKILL);
    sb.wait_for("slow", WAIT, |s| s["state"] == "restarting")
        .await;
    let error = rmcp::ServiceExt::serve(
        RecordingClient::default(),
        rmcp::transport::StreamableHttpClientTransport::from_uri(sb.mcp_url("slow")),
    )
    .await
    .err()
    .expect("initialize is refused while the server restarts")
    .to_string();
    assert!(
        error.contains("server 'slow' is restarting (attempt 1, next try in"),
        "{error}"
    );
    assert!(!error.contains("is running"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_fail_fast_with_a_clear_error_while_a_server_restarts() {
    let mut server = everything();
    server["restart"] = json!({ "initialDelayMs": 20000, "maxDelayMs": 20000 });
    let sb = Switchboard::start(json!({ "slow": server }));
    let pid = sb.pid_of("slow").await;
    let client = connect(sb.mcp_url("slow"), RecordingClient::default()).await;
    signal(pid, Signal::SIGKILL);
    sb.wait_for("slow", WAIT, |s| s["state"] == "restarting")
        .await;
    let error = tokio::time::timeout(
        Duration::from_secs(5),
        client.call_tool(call("echo", json!({ "message": "x" }))),
    )
    .await
    .expect("fails fast instead of hanging")
    .expect_err("the server is not there")
    .to_string();
    assert!(
        error.contains("slow") && error.contains("restarting"),
        "{error}"
    );
    client.cancel().await.ok();
}

/// A legacy SSE client that closes its stream mid-call: the child hears
/// `notifications/cancelled` for the call.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_mid_call_cancels_the_call_upstream() {
    let sb = Switchboard::start(json!({ "probe": cancel_probe() }));
    sb.wait_running("probe").await;
    let http = reqwest::Client::new();
    let stream = http.get(sb.sse_url("probe")).send().await.unwrap();
    let mut body = stream.bytes_stream();
    let mut text = String::new();
    while !text.contains("sessionId=") || !text.contains("\n\n") {
        text.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
    }
    let endpoint = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap()
        .trim()
        .to_owned();
    let post = |message: Value| {
        let http = http.clone();
        let url = format!("{}{endpoint}", sb.url);
        async move {
            let response = http.post(url).json(&message).send().await.unwrap();
            assert_eq!(response.status(), 202);
        }
    };
    post(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"vanishing","version":"1"}}})).await;
    post(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).await;
    post(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"wait","arguments":{"seconds":30}}})).await;
    sb.wait_for_log("probe", "started wait").await;
    drop(body); // the client goes away
    sb.wait_for_log("probe", "cancelled wait").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_descendant_outlives_removal_restart_or_sigterm() {
    let sb = Switchboard::start(grandparent_servers());
    let shell = sb.pid_of("shell").await;
    let npx = sb.pid_of("npx").await;
    let shell_tree: BTreeSet<u32> = descendants(shell).into_iter().chain([shell]).collect();
    let npx_tree: BTreeSet<u32> = descendants(npx).into_iter().chain([npx]).collect();
    assert!(
        shell_tree.len() >= 2,
        "sh runs the server and a sleep: {shell_tree:?}"
    );
    assert!(npx_tree.len() >= 2, "npx runs node: {npx_tree:?}");

    // Restart through the API: the old tree goes.
    let (status, _) = sb.send("POST", "/api/servers/shell/restart", "").await;
    assert_eq!(status, 202);
    assert_eq!(
        all_gone(&shell_tree, WAIT).await,
        Vec::<u32>::new(),
        "restart left some of {shell_tree:?}"
    );
    let shell = sb
        .wait_for("shell", WAIT, |s| {
            s["state"] == "running" && s["pid"].as_u64() != Some(shell as u64)
        })
        .await["pid"]
        .as_u64()
        .unwrap() as u32;

    // Removal: its tree goes.
    let (status, _) = sb.send("DELETE", "/api/servers/npx", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        all_gone(&npx_tree, WAIT).await,
        Vec::<u32>::new(),
        "removal left some of {npx_tree:?}"
    );

    // SIGTERM of Switchboard: everything goes, and it exits cleanly.
    let everything_left: BTreeSet<u32> = descendants(sb.pid());
    assert!(
        everything_left.len() >= 3,
        "{everything_left:?} (server, sleep, reaper)"
    );
    assert!(everything_left.contains(&shell));
    let mut sb = sb;
    let status = sb.terminate().expect("switchboard exits on SIGTERM");
    assert!(status.success(), "{status}");
    assert_eq!(all_gone(&everything_left, WAIT).await, Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_descendant_outlives_a_sigkill_of_switchboard() {
    let sb = Switchboard::start(grandparent_servers());
    sb.wait_running("shell").await;
    sb.wait_running("npx").await;
    let tree = descendants(sb.pid());
    assert!(
        tree.len() >= 5,
        "servers, their children and the reaper: {tree:?}"
    );
    signal(sb.pid(), Signal::SIGKILL);
    let left = all_gone(&tree, WAIT).await;
    assert!(left.is_empty(), "left behind after SIGKILL: {left:?}");
}

/// A legacy SSE session whose client reads the `endpoint` event and then never reads again,
/// made to be stuck for real: answers bigger than every socket buffer (the client's receive
/// buffer is pinned at 4 KiB, the kernel's send buffer is at most `tcp_wmem`'s maximum) fill
/// the connection, then small ones the session's queue. Returns the socket (kept open).
async fn stuck_sse_session(sb: &Switchboard, server: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr: std::net::SocketAddr = sb.url.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /servers/{server}/sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let endpoint = loop {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("the endpoint event")
            .unwrap();
        assert!(n > 0, "stream closed: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(start) = text.find("/servers/") {
            if let Some(end) = text[start..].find(['\r', '\n']) {
                break text[start..start + end].to_owned();
            }
        }
    };
    let http = reqwest::Client::new();
    let url = format!("{}{endpoint}", sb.url);
    let post = |message: Value| {
        let request = http
            .post(&url)
            .json(&message)
            .timeout(Duration::from_secs(2));
        async move { request.send().await.is_ok_and(|r| r.status() == 202) }
    };
    assert!(post(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"never-reads","version":"1"}}})).await);
    assert!(post(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).await);
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().last()?.parse().ok())
        .unwrap_or(4 << 20);
    let big = "x".repeat(1 << 20);
    let mut id = 0;
    for _ in 0..(wmem_max >> 20) + 2 {
        id += 1;
        let echo = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"echo","arguments":{"message":big}}});
        assert!(post(echo).await);
    }
    for _ in 0..100 {
        id += 1;
        let echo = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"echo","arguments":{"message":"fill"}}});
        assert!(post(echo).await);
    }
    stream
}

/// Twenty clients that stop reading their streams must not slow down reloads: each filter
/// edit is applied (and answered) without waiting on them. Before notifications were queued
/// per session, every edit waited the 5-s send timeout for the stuck sessions; the bound
/// below is that timeout, which an edit that waits on a stuck session cannot beat.
#[tokio::test(flavor = "multi_thread")]
async fn twenty_clients_that_never_read_do_not_hold_up_ten_filter_edits() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    let mut stuck = Vec::new();
    for _ in 0..20 {
        stuck.push(stuck_sse_session(&sb, "everything").await);
    }
    // The child answers in order: once a later call is answered, every answer for the stuck
    // sessions has been read from it and is waiting on their full connections.
    client_still_served(&sb, "everything").await;
    for edit in 0..10 {
        let deny = format!("tool-{edit}");
        let started = std::time::Instant::now();
        let (status, _) = sb
            .send(
                "PATCH",
                "/api/servers/everything",
                json!({ "tools": { "deny": [deny] } }).to_string(),
            )
            .await;
        let took = started.elapsed();
        assert_eq!(status, 200);
        assert!(
            took < Duration::from_secs(5),
            "edit {edit} waited {took:?} on clients that do not read"
        );
        let detail = sb.server("everything").await;
        assert_eq!(
            detail["filter"]["deny"],
            json!([deny]),
            "edit {edit} applied"
        );
    }
    assert_eq!(sb.server("everything").await["state"], "running");
    client_still_served(&sb, "everything").await;
    drop(stuck);
}
