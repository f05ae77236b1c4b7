//! On-demand servers (issue 19): an entry with `"start": "onDemand"` is started once to learn
//! its catalog, then sleeps (`idle`, no process) while its tools are listed by its own
//! endpoint and the aggregate from the catalog kept in the data dir; the first request that
//! needs the process starts it (concurrent first requests share one start, a failed start is
//! every waiting caller's answer), and it stops again after `idleStopSecs` unused, its whole
//! process group with it. Real servers (server-everything from npm, a Python SDK server),
//! real SDK clients (rmcp, the Python SDK's 2026-07-28 client).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::join_all;
use rmcp::service::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{json, Value};
use support::client::{call, text_of};
use support::{everything, repo_root, run_client, Switchboard};
use switchboard_test_procs::{alive, cmdline, Mark};

const WAIT: Duration = Duration::from_secs(60);

/// A mark in the environment of the processes a test's servers run, so the test can tell
/// whether any is alive (see `Mark`).
fn mark(test: &str) -> Mark {
    Mark::new(
        "SWITCHBOARD_ON_DEMAND_TEST",
        format!("{}-{test}", std::process::id()),
    )
}

/// `entry` made on-demand, stopping after `idle_secs` unused, its processes marked.
fn on_demand(mut entry: Value, idle_secs: u64, mark: &Mark) -> Value {
    entry["start"] = json!("onDemand");
    entry["idleStopSecs"] = json!(idle_secs);
    entry["env"] = json!({ mark.var(): mark.value() });
    entry
}

/// Waits (bounded) until no process of `mark` is alive: the group kill runs after the state
/// has left `running`.
async fn until_no_process(mark: &Mark, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = mark.processes().expect("read /proc");
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let lines: Vec<String> = left
                .iter()
                .map(|pid| format!("{pid}: {}", cmdline(*pid).unwrap_or_default()))
                .collect();
            panic!("{what}: still alive: {lines:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn idle(sb: &Switchboard, name: &str) -> Value {
    sb.wait_for(name, WAIT, |s| s["state"] == "idle").await
}

/// How many times server `name`'s process was started by this Switchboard (its log's notes).
async fn starts(sb: &Switchboard, name: &str) -> usize {
    let (_, logs) = sb.get(&format!("/api/servers/{name}/logs")).await;
    logs.to_string()
        .matches("[switchboard] started pid")
        .count()
}

type Session = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// An rmcp client session (a client that offers nothing) with the endpoint at `url`.
async fn session(url: String) -> Session {
    tokio::time::timeout(WAIT, ().serve(StreamableHttpClientTransport::from_uri(url)))
        .await
        .expect("initialize in time")
        .expect("initialize")
}

/// `n` rmcp client sessions on server `name`'s endpoint, opened at once.
async fn sessions(sb: &Switchboard, name: &str, n: usize) -> Vec<Session> {
    join_all((0..n).map(|_| session(sb.mcp_url(name)))).await
}

fn tool_names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

#[tokio::test]
async fn an_on_demand_server_is_listed_asleep_started_by_a_call_and_stopped_when_idle() {
    let mark = mark("life");
    let sb = Switchboard::start(json!({
        "everything": on_demand(everything(), 3, &mark),
    }));

    // Learned once, then asleep: listed, no process.
    let server = idle(&sb, "everything").await;
    assert_eq!(server["start"], "onDemand", "{server:#}");
    assert_eq!(server["idleStopSecs"], 3);
    assert_eq!(server["pid"], Value::Null);
    assert!(server["tools"]["total"].as_u64().unwrap() > 5, "{server:#}");
    until_no_process(&mark, "after learning the catalog").await;
    let stored = sb
        .dir
        .path()
        .join("data/switchboard/catalogs/everything.json");
    assert!(stored.exists(), "the catalog is kept on disk");

    // A session and its lists do not start it: its endpoint and the aggregate answer from
    // the catalog.
    let one = session(sb.mcp_url("everything")).await;
    let info = one.peer_info().expect("server info");
    assert!(
        info.capabilities.tools.is_some(),
        "described from the catalog"
    );
    let tools = one.list_all_tools().await.expect("tools/list");
    assert!(tool_names(&tools).contains(&"echo".to_owned()));
    let all = session(format!("{}/mcp", sb.url)).await;
    let tools = all.list_all_tools().await.expect("aggregate tools/list");
    assert!(tool_names(&tools).contains(&"everything__echo".to_owned()));
    #[allow(deprecated)] // logging is deprecated by SEP-2577, still what clients send
    one.set_level(rmcp::model::SetLevelRequestParams::new(
        rmcp::model::LoggingLevel::Info,
    ))
    .await
    .expect("logging/setLevel, as clients send on connecting");
    assert!(one.list_all_prompts().await.is_ok_and(|p| !p.is_empty()));
    assert!(one.list_all_resources().await.is_ok_and(|r| !r.is_empty()));
    assert_eq!(sb.server("everything").await["state"], "idle");
    assert!(
        mark.processes().unwrap().is_empty(),
        "listing started nothing"
    );

    // A call starts it and is answered.
    let result = one
        .call_tool(call("echo", json!({ "message": "woken by a call" })))
        .await
        .expect("tools/call");
    assert!(text_of(&result).contains("woken by a call"));
    let running = sb.server("everything").await;
    assert_eq!(running["state"], "running", "{running:#}");
    let pid = running["pid"].as_u64().expect("a process") as u32;
    assert!(running["sleepsAtMs"].is_u64(), "{running:#}");
    assert!(!mark.processes().unwrap().is_empty());

    // Unused for its idle time, it stops, with every process of its group.
    idle(&sb, "everything").await;
    until_no_process(&mark, "after the idle stop").await;
    assert!(!alive(pid), "the server's own process is gone");
    assert_eq!(sb.server("everything").await["sleepsAtMs"], Value::Null);

    // The aggregate's call starts it again; so does a stateless 2026-07-28 client's.
    let result = all
        .call_tool(call(
            "everything__echo",
            json!({ "message": "through /mcp" }),
        ))
        .await
        .expect("aggregate tools/call");
    assert!(text_of(&result).contains("through /mcp"));
    idle(&sb, "everything").await;
    let report = run_client(
        &repo_root().join("tests/.venv-mcp2/bin/python"),
        &[
            repo_root()
                .join("tests/clients/py_client.py")
                .to_string_lossy()
                .into_owned(),
            "--url".into(),
            sb.mcp_url("everything"),
            "--transport".into(),
            "streamable".into(),
            "--scenario".into(),
            "call".into(),
            "--extra".into(),
            json!({ "tool": "echo", "arguments": { "message": "stateless wake" } }).to_string(),
            "--timeout".into(),
            "60".into(),
        ],
        WAIT,
    );
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["protocolVersion"], "2026-07-28", "{report:#}");
    assert!(report["text"]
        .as_str()
        .is_some_and(|t| t.contains("stateless wake")));
    let _ = one.cancel().await;
    let _ = all.cancel().await;
}

#[tokio::test]
async fn concurrent_first_calls_start_the_server_once() {
    let mark = mark("herd");
    let sb = Switchboard::start(json!({
        "everything": on_demand(everything(), 60, &mark),
    }));
    idle(&sb, "everything").await;
    until_no_process(&mark, "after learning the catalog").await;
    assert_eq!(
        starts(&sb, "everything").await,
        1,
        "the catalog was learned once"
    );

    // 32 sessions open while it sleeps, then call at once.
    let sessions = sessions(&sb, "everything", 32).await;
    let answers = join_all(sessions.iter().enumerate().map(|(i, client)| {
        client.call_tool(call("echo", json!({ "message": format!("caller {i}") })))
    }))
    .await;
    for (i, answer) in answers.iter().enumerate() {
        let result = answer
            .as_ref()
            .unwrap_or_else(|e| panic!("caller {i}: {e}"));
        assert!(text_of(result).contains(&format!("caller {i}")));
    }
    assert_eq!(
        starts(&sb, "everything").await,
        2,
        "one start for 32 callers"
    );
    let server = sb.server("everything").await;
    assert_eq!(server["state"], "running");
    assert_eq!(server["restarts"], 0, "{server:#}");
    for client in sessions {
        let _ = client.cancel().await;
    }
}

/// `sh SCRIPT`, where the script runs server-everything until the test breaks it.
fn breakable(script: &Path) -> Value {
    let everything = everything();
    let command = everything["command"].as_str().unwrap();
    std::fs::write(script, format!("exec '{command}' stdio\n")).unwrap();
    json!({ "command": "sh", "args": [script.to_string_lossy()] })
}

#[tokio::test]
async fn a_start_that_fails_answers_every_waiting_caller_with_the_reason() {
    let mark = mark("broken");
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("server.sh");
    let sb = Switchboard::start(json!({
        "flaky": on_demand(breakable(&script), 60, &mark),
    }));
    idle(&sb, "flaky").await;
    until_no_process(&mark, "after learning the catalog").await;

    // The launch is unchanged (so the stored catalog stays), but the program now fails.
    let good = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, "echo 'cannot open the database' >&2\nexit 3\n").unwrap();
    let sessions = sessions(&sb, "flaky", 8).await;
    let answers = join_all(
        sessions
            .iter()
            .map(|client| client.call_tool(call("echo", json!({ "message": "x" })))),
    )
    .await;
    for answer in &answers {
        let error = answer.as_ref().expect_err("the start failed").to_string();
        assert!(
            error.contains("cannot open the database") && error.contains("flaky"),
            "every caller is told why: {error}"
        );
    }
    let failed = sb.server("flaky").await;
    assert_eq!(failed["state"], "failed", "{failed:#}");
    assert_eq!(
        failed["nextAttemptMs"],
        Value::Null,
        "no retries nobody asked for"
    );
    assert_eq!(starts(&sb, "flaky").await, 2, "one attempt for all of them");
    assert!(
        failed["tools"]["total"].as_u64().unwrap() > 5,
        "still listed"
    );

    // Mended, the next request starts it.
    std::fs::write(&script, good).unwrap();
    let result = sessions[0]
        .call_tool(call("echo", json!({ "message": "mended" })))
        .await
        .expect("the next request starts it again");
    assert!(text_of(&result).contains("mended"));
    for client in sessions {
        let _ = client.cancel().await;
    }
}

/// The Python SDK server of the search benchmark, with `count` tools.
fn many_tools(count: u32) -> Value {
    json!({
        "command": repo_root().join("tests/.venv-mcp1/bin/python").to_string_lossy(),
        "args": [repo_root().join("tests/servers/many_tools.py").to_string_lossy(), count.to_string()],
    })
}

#[tokio::test]
async fn a_changed_launch_is_learned_again_and_a_restart_of_switchboard_starts_nothing() {
    let mark = mark("relearn");
    let sb = Switchboard::start(json!({ "tools": on_demand(many_tools(3), 60, &mark) }));
    let server = idle(&sb, "tools").await;
    assert_eq!(server["tools"]["total"], 3, "{server:#}");

    // Changed args: started once more to learn, listed from the new catalog, asleep again.
    let mut file = support::files::read(&sb.config);
    file["mcpServers"]["tools"] = on_demand(many_tools(5), 60, &mark);
    support::files::save_by_rename(&sb.config, &file);
    let server = sb
        .wait_for("tools", WAIT, |s| {
            s["state"] == "idle" && s["tools"]["total"] == 5
        })
        .await;
    assert_eq!(server["pid"], Value::Null);
    until_no_process(&mark, "after learning the new catalog").await;
    assert_eq!(starts(&sb, "tools").await, 2, "started once per launch");
    assert_eq!(sb.server("tools").await["state"], "idle");

    // A new Switchboard on the same data dir lists it from disk without starting it.
    let sb = sb.restart();
    let server = idle(&sb, "tools").await;
    assert_eq!(server["tools"]["total"], 5, "{server:#}");
    assert_eq!(starts(&sb, "tools").await, 0, "nothing started");
    assert!(mark.processes().unwrap().is_empty());
}

#[tokio::test]
async fn the_start_switch_restart_and_disable_apply_to_an_on_demand_server() {
    let mark = mark("switch");
    let sb = Switchboard::start(json!({ "everything": on_demand(everything(), 2, &mark) }));
    idle(&sb, "everything").await;
    let patch = |body: Value| {
        let sb = &sb;
        async move {
            let (status, answer) = sb
                .send("PATCH", "/api/servers/everything", body.to_string())
                .await;
            assert_eq!(status, 200, "{answer}");
        }
    };

    // Switched to always, it starts and stays; back to on-demand, it sleeps when unused.
    patch(json!({ "start": "always" })).await;
    let running = sb.wait_running("everything").await;
    assert_eq!(running["start"], "always");
    assert_eq!(
        running["sleepsAtMs"],
        Value::Null,
        "an always server never sleeps"
    );
    assert_eq!(
        support::files::read(&sb.config)["mcpServers"]["everything"]["start"],
        "always"
    );
    patch(json!({ "start": "onDemand" })).await;
    idle(&sb, "everything").await;
    until_no_process(&mark, "switched back to on-demand").await;

    // Restart wakes it (and it sleeps again when unused).
    let (status, _) = sb.send("POST", "/api/servers/everything/restart", "").await;
    assert_eq!(status, 202);
    sb.wait_running("everything").await;
    idle(&sb, "everything").await;

    // Disabled, it is not listed; enabled, it sleeps again without starting.
    patch(json!({ "disabled": true })).await;
    sb.wait_for("everything", WAIT, |s| s["state"] == "disabled")
        .await;
    let before = starts(&sb, "everything").await;
    patch(json!({ "disabled": false })).await;
    idle(&sb, "everything").await;
    assert_eq!(
        starts(&sb, "everything").await,
        before,
        "its catalog is still known"
    );
}

#[tokio::test]
async fn a_remote_server_on_demand_is_connected_when_needed_and_let_go_when_idle() {
    let http = support::HttpServer::start(support::everything_script(), &["streamableHttp"]);
    let sb = Switchboard::start(json!({
        "remote": { "url": http.url("/mcp"), "start": "onDemand", "idleStopSecs": 2 },
    }));
    let server = idle(&sb, "remote").await;
    assert!(server["tools"]["total"].as_u64().unwrap() > 5, "{server:#}");
    let connects = |logs: Value| {
        logs.to_string()
            .matches("[switchboard] started: connecting")
            .count()
    };
    assert_eq!(
        connects(sb.get("/api/servers/remote/logs").await.1),
        1,
        "connected once to learn"
    );

    let client = session(format!("{}/mcp", sb.url)).await;
    let result = client
        .call_tool(call(
            "remote__echo",
            json!({ "message": "over HTTP, on demand" }),
        ))
        .await
        .expect("tools/call");
    assert!(text_of(&result).contains("over HTTP, on demand"));
    assert_eq!(connects(sb.get("/api/servers/remote/logs").await.1), 2);
    idle(&sb, "remote").await;
    let _ = client.cancel().await;
}
