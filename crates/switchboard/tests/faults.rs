//! Fault injection with real children: crashes, hangs, garbage, abrupt ends of Switchboard
//! itself, clients that vanish. Every process started is accounted for by scanning /proc.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use support::client::{call, connect, RecordingClient};
use support::{alive, everything, repo_root, signal, Switchboard};

const WAIT: Duration = Duration::from_secs(30);

/// Every live descendant of `root` (by parent pid), excluding zombies.
fn descendants(root: u32) -> BTreeSet<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if let Some(ppid) = fields.get(1).and_then(|p| p.parse().ok()) {
            parents.push((pid, ppid));
        }
    }
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
    let mut zombies = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&parent.to_string().as_str()) {
            zombies.push(pid);
        }
    }
    zombies
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

#[tokio::test(flavor = "multi_thread")]
async fn garbage_on_stdout_is_logged_and_restarts_a_running_server_but_a_banner_does_not() {
    let bin = everything()["command"].as_str().unwrap().to_owned();
    let sb = Switchboard::start(json!({
        "banner": { "command": "sh", "args": ["-c", format!("echo 'Server starting...'; exec {bin}")] },
        "garbage": fast_restarts(json!({
            "command": "sh",
            "args": ["-c", format!("(sleep 2; echo 'GARBAGE-LINE not json') & exec {bin}")],
        })),
    }));
    sb.wait_running("banner").await;
    let restarted = sb
        .wait_for("garbage", WAIT, |s| s["restarts"].as_u64() >= Some(1))
        .await;
    let error = restarted["lastError"].as_str().unwrap();
    assert!(error.contains("GARBAGE-LINE"), "{error}");
    let (_, logs) = sb.get("/api/servers/garbage/logs").await;
    assert!(
        logs.to_string().contains("not MCP on stdout: GARBAGE-LINE"),
        "{logs}"
    );

    let banner = sb.server("banner").await;
    assert_eq!(
        banner["restarts"], 0,
        "a banner before initialize is only logged: {banner:#}"
    );
    let (_, logs) = sb.get("/api/servers/banner/logs").await;
    assert!(logs.to_string().contains("Server starting..."), "{logs}");
    let (status, _) = sb.get("/api/health").await;
    assert_eq!(status, 200, "the gateway is unaffected");
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

fn probe() -> Value {
    json!({
        "command": repo_root().join("tests/.venv-mcp1/bin/python").to_string_lossy(),
        "args": [repo_root().join("tests/servers/cancel_probe.py").to_string_lossy()],
    })
}

async fn wait_for_log(sb: &Switchboard, name: &str, needle: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, logs) = sb.get(&format!("/api/servers/{name}/logs")).await;
        if logs.to_string().contains(needle) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{needle:?} not logged: {logs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A legacy SSE client that closes its stream mid-call: the child hears
/// `notifications/cancelled` for the call.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_mid_call_cancels_the_call_upstream() {
    let sb = Switchboard::start(json!({ "probe": probe() }));
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
    wait_for_log(&sb, "probe", "started wait").await;
    drop(body); // the client goes away
    wait_for_log(&sb, "probe", "cancelled wait").await;
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
