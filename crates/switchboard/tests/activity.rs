//! The activity log (issue 17): every request through the gateway is recorded, on the fast
//! path and the full one, with how it ended; nothing is lost when the writer keeps up, and
//! what a full queue drops is counted; a database that cannot be used is set aside while
//! calls go on; the live feed carries what is written.

mod support;

use std::time::{Duration, Instant};

use rmcp::service::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{json, Value};
use support::client::{call, connect, RecordingClient};
use support::events::Events;
use support::legacy::LegacySession;
use support::{cancel_probe, everything, stateless, Switchboard};

const WAIT: Duration = Duration::from_secs(60);

/// The activity log's file of `sb` (`$XDG_DATA_HOME/switchboard/activity.db`).
fn database(sb: &Switchboard) -> std::path::PathBuf {
    sb.dir.path().join("data/switchboard/activity.db")
}

/// Polls `/api/activity/stats` until `pred` holds, for at most a minute.
async fn stats_until(sb: &Switchboard, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, stats) = sb.get("/api/activity/stats?window=3600").await;
        assert_eq!(status, 200, "{stats}");
        if pred(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "the activity stats did not get there: {stats:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Calls of `server`'s `tool` recorded so far.
fn tool_calls(stats: &Value, server: &str, tool: &str) -> u64 {
    stats["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["server"] == server && t["tool"] == tool)
        .and_then(|t| t["calls"].as_u64())
        .unwrap_or(0)
}

/// The entries matching `query` once there are `n` of them (the writer gathers entries for a
/// moment before writing them), for at most a minute.
async fn entries_until(sb: &Switchboard, query: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = entries(sb, query).await;
        if found.len() >= n {
            return found;
        }
        assert!(Instant::now() < deadline, "{query}: {found:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The newest entries matching `query` (a query string).
async fn entries(sb: &Switchboard, query: &str) -> Vec<Value> {
    let (status, page) = sb.get(&format!("/api/activity?{query}")).await;
    assert_eq!(status, 200, "{page}");
    page["entries"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_of_64_concurrent_clients_is_recorded_on_both_paths() {
    let sb = Switchboard::start(json!({ "every": everything() }));
    sb.wait_running("every").await;
    const CALLS: usize = 10;
    // Half take requests (sampling: the full path), half take none (the fast path).
    let clients = (0..64).map(|n| {
        let url = sb.mcp_url("every");
        tokio::spawn(async move {
            let message = json!({ "message": format!("client {n}") });
            if n % 2 == 0 {
                let client = connect(url, RecordingClient::default()).await;
                for _ in 0..CALLS {
                    client
                        .call_tool(call("echo", message.clone()))
                        .await
                        .expect("echo");
                }
                client.cancel().await.expect("close");
            } else {
                let transport = StreamableHttpClientTransport::from_uri(url);
                let client = ().serve(transport).await.expect("initialize");
                for _ in 0..CALLS {
                    client
                        .call_tool(call("echo", message.clone()))
                        .await
                        .expect("echo");
                }
                client.cancel().await.expect("close");
            }
        })
    });
    for client in futures::future::join_all(clients).await {
        client.expect("client task");
    }
    let stats = stats_until(&sb, |s| {
        tool_calls(s, "every", "echo") >= (64 * CALLS) as u64
    })
    .await;
    assert_eq!(tool_calls(&stats, "every", "echo"), (64 * CALLS) as u64);
    assert_eq!(stats["dropped"], 0, "{stats}");
    assert_eq!(stats["servers"][0]["server"], "every");
    assert!(stats["servers"][0]["p95"].as_f64().is_some_and(|p| p > 0.0));

    // Each entry says who called what, how, and how it went.
    let echoes = entries(&sb, "method=tools/call&tool=echo&limit=1000").await;
    assert_eq!(echoes.len(), 64 * CALLS);
    let full = echoes
        .iter()
        .find(|e| e["client"] == "switchboard-e2e 0")
        .expect("a full-path call");
    let fast = echoes
        .iter()
        .find(|e| e["client"] != "switchboard-e2e 0")
        .expect("a fast-path call");
    for entry in [full, fast] {
        assert_eq!(entry["endpoint"], "/servers/every/mcp", "{entry}");
        assert_eq!(entry["transport"], "http");
        assert_eq!(entry["server"], "every");
        assert_eq!(entry["name"], "echo");
        assert_eq!(entry["outcome"], "ok");
        assert!(
            entry["session"].as_str().is_some_and(|s| !s.is_empty()),
            "{entry}"
        );
        assert!(entry["protocol"].as_str().is_some(), "{entry}");
        assert!(entry["client"].as_str().is_some(), "{entry}");
        assert!(entry["durationMs"].as_f64().is_some_and(|d| d > 0.0));
        assert!(
            entry["requestBytes"].as_u64().is_some_and(|b| b > 20),
            "{entry}"
        );
        assert!(
            entry["responseBytes"].as_u64().is_some_and(|b| b > 20),
            "{entry}"
        );
        assert_eq!(entry["fromDashboard"], false);
        assert!(entry["request"].is_null(), "nothing captured by default");
    }
    // The sessions' other requests are there too, answered by the gateway or the server.
    let opened = entries(&sb, "method=initialize&limit=1000").await;
    assert_eq!(opened.len(), 64);
    assert!(opened.iter().all(|e| e["server"].is_null()));
    let pages = entries(&sb, "limit=2").await;
    assert_eq!(pages.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_entry_says_how_its_call_ended_and_the_live_feed_carries_it() {
    let mut probe = cancel_probe();
    probe["timeouts"] = json!({ "toolCallSecs": 1 });
    let sb = Switchboard::start(json!({ "every": everything(), "probe": probe }));
    sb.wait_running("every").await;
    sb.wait_running("probe").await;
    let mut events = Events::open(&sb.url).await;

    // Through the aggregate, on the fast path (stateless) and the full one (a session that
    // takes requests).
    let aggregate = format!("{}/mcp", sb.url);
    let echo = stateless::call(1, "every__echo", json!({ "message": "hi" }), json!({}));
    let answer: Value = stateless::answer(&aggregate, &echo).await;
    assert!(answer["result"].is_object(), "{answer}");
    let live = events
        .wait_for(WAIT, |e| {
            e["type"] == "activity"
                && e["entries"]
                    .as_array()
                    .is_some_and(|es| es.iter().any(|x| x["name"] == "echo"))
        })
        .await;
    let entry = &live["entries"][0];
    assert_eq!(entry["endpoint"], "/mcp");
    assert_eq!(entry["server"], "every");
    assert_eq!(entry["client"], "fast-path-test 1");
    assert_eq!(entry["protocol"], "2026-07-28");
    assert!(
        entry["session"].is_null(),
        "a stateless call has no session"
    );
    assert!(entry["id"].as_i64().is_some_and(|id| id > 0));

    let client = connect(
        format!("{aggregate}?servers=probe,every"),
        RecordingClient::default(),
    )
    .await;
    // A server that does not answer in time, on the fast path (stateless) and the full one.
    let slow = stateless::call(2, "wait", json!({ "seconds": 5 }), json!({}));
    let timed_out: Value = stateless::answer(&sb.mcp_url("probe"), &slow).await;
    assert!(timed_out["error"].is_object(), "{timed_out}");
    let error = client
        .call_tool(call("probe__wait", json!({ "seconds": 5 })))
        .await
        .expect_err("times out");
    assert!(error.to_string().contains("did not answer"), "{error}");
    // A tool that is not there: the server's own answer, whichever kind it is.
    let missing = client
        .call_tool(call("every__no-such-tool", json!({})))
        .await;
    let expected_missing = match &missing {
        Ok(result) if result.is_error == Some(true) => "toolError",
        Ok(result) => panic!("an unknown tool answered {result:?}"),
        Err(_) => "error",
    };
    // A name that is no server's: the gateway refuses it itself.
    client
        .call_tool(call("nobody__echo", json!({})))
        .await
        .expect_err("no such server");
    client.cancel().await.expect("close");

    // The refusal was the last call: once it is written, so is everything before it.
    let refused = entries_until(&sb, "tool=nobody__echo", 1).await;
    let waits = entries(&sb, "tool=wait").await;
    assert_eq!(waits.len(), 2, "{waits:#?}");
    for wait in &waits {
        assert_eq!(wait["outcome"], "timeout", "{wait}");
        assert_eq!(wait["server"], "probe");
        assert!(wait["error"]
            .as_str()
            .is_some_and(|e| e.contains("did not answer")));
        assert!(
            wait["durationMs"].as_f64().is_some_and(|d| d >= 1000.0),
            "{wait}"
        );
    }
    let endpoint = waits[0]["endpoint"].as_str().unwrap_or_default();
    assert!(endpoint.starts_with("/mcp?servers="), "{waits:#?}");
    let missing = entries(&sb, "tool=no-such-tool").await;
    assert_eq!(missing[0]["outcome"], expected_missing, "{missing:#?}");
    assert_eq!(refused[0]["outcome"], "error", "{refused:#?}");
    assert!(refused[0]["server"].is_null());
    assert!(refused[0]["errorCode"].as_i64().is_some());

    // Filters: outcome, client, time.
    let timeouts = entries(&sb, "outcome=timeout").await;
    assert_eq!(timeouts.len(), 2);
    let mine = entries(&sb, "client=E2E&method=tools/call").await;
    assert_eq!(mine.len(), 3, "{mine:#?}");
    let future = entries(&sb, &format!("from={}", i64::MAX / 2)).await;
    assert!(future.is_empty());
    let (status, refused) = sb.get("/api/activity?limit=lots").await;
    assert_eq!(status, 400, "{refused}");
    let stats = stats_until(&sb, |s| tool_calls(s, "probe", "wait") == 2).await;
    let wait = stats["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == "wait")
        .unwrap()
        .clone();
    assert_eq!(wait["errors"], 2, "timeouts count as errors: {wait}");
    assert_eq!(stats["tools"][0]["tool"], "wait", "slowest first: {stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn capture_keeps_params_and_results_without_secrets() {
    let sb = Switchboard::start_with_file(json!({
        "mcpServers": { "every": everything() },
        "activity": { "capture": true, "captureBytes": 200 },
    }));
    sb.wait_running("every").await;
    let arguments = json!({ "message": "visible words", "password": "hunter2" });
    let client = connect(sb.mcp_url("every"), RecordingClient::default()).await;
    client
        .call_tool(call("echo", arguments.clone()))
        .await
        .expect("echo");
    client.cancel().await.expect("close");
    let body = stateless::call(7, "echo", arguments, json!({ "apiKey": "sk-123" }));
    stateless::answer(&sb.mcp_url("every"), &body).await;
    let stats = stats_until(&sb, |s| tool_calls(s, "every", "echo") == 2).await;
    assert_eq!(stats["capture"], true);
    for entry in entries(&sb, "tool=echo").await {
        let request = entry["request"].as_str().expect("captured params");
        let response = entry["response"].as_str().expect("captured result");
        assert!(request.contains("visible words"), "{request}");
        assert!(response.contains("visible words"), "{response}");
        for secret in ["hunter2", "sk-123"] {
            assert!(!request.contains(secret), "{request}");
        }
        assert!(request.contains("[redacted]"), "{request}");
    }
    // Longer than captureBytes: cut, and says so.
    let long = json!({ "message": "x".repeat(1000) });
    let client = connect(sb.mcp_url("every"), RecordingClient::default()).await;
    client.call_tool(call("echo", long)).await.expect("echo");
    client.cancel().await.expect("close");
    stats_until(&sb, |s| tool_calls(s, "every", "echo") == 3).await;
    let newest = &entries(&sb, "tool=echo&limit=1").await[0];
    let request = newest["request"].as_str().unwrap();
    assert!(
        request.len() < 300 && request.ends_with("bytes, cut)"),
        "{request}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_drops_entries_and_counts_them_without_slowing_calls() {
    let sb = Switchboard::start_with_file(json!({
        "mcpServers": { "every": everything() },
        "activity": { "queue": 1 },
    }));
    sb.wait_running("every").await;
    let path = database(&sb);
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "no activity.db at {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Another program holds the database's write lock: the writer waits on it, its queue of
    // one fills, and every entry past it is dropped (and counted) instead of waiting.
    let blocker = rusqlite::Connection::open(&path).expect("open activity.db");
    blocker.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    const CALLS: u64 = 100;
    let calls = (0..CALLS).map(|n| {
        let url = sb.mcp_url("every");
        async move {
            let body = stateless::call(n, "echo", json!({ "message": "x" }), json!({}));
            let answer: Value = stateless::answer(&url, &body).await;
            assert!(answer["result"].is_object(), "{answer}");
        }
    });
    futures::future::join_all(calls).await;
    blocker.execute_batch("COMMIT").expect("unlock");
    drop(blocker);
    // Every call is either written or counted as dropped, and some were dropped.
    let stats = stats_until(&sb, |s| {
        tool_calls(s, "every", "echo") + s["dropped"].as_u64().unwrap_or(0) == CALLS
    })
    .await;
    assert!(stats["dropped"].as_u64().is_some_and(|d| d > 0), "{stats}");
    let (_, page) = sb.get("/api/activity").await;
    assert_eq!(page["dropped"], stats["dropped"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_database_is_set_aside_and_calls_go_on() {
    let sb = Switchboard::start(json!({ "every": everything() }));
    sb.wait_running("every").await;
    for n in 0..200 {
        let body = stateless::call(n, "echo", json!({ "message": "x".repeat(200) }), json!({}));
        stateless::answer(&sb.mcp_url("every"), &body).await;
    }
    stats_until(&sb, |s| tool_calls(s, "every", "echo") == 200).await;
    let mut sb = sb;
    sb.terminate().expect("stops");
    let path = database(&sb);
    let length = std::fs::metadata(&path).expect("activity.db").len();
    assert!(length > 8192, "{length}");
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(length / 2).unwrap();
    drop(file);

    let sb = sb.restart();
    sb.wait_running("every").await;
    let body = stateless::call(1, "echo", json!({ "message": "after" }), json!({}));
    let answer: Value = stateless::answer(&sb.mcp_url("every"), &body).await;
    assert!(
        answer["result"].is_object(),
        "calls are unaffected: {answer}"
    );
    let stats = stats_until(&sb, |s| tool_calls(s, "every", "echo") == 1).await;
    let warning = stats["warning"].as_str().expect("a warning");
    assert!(
        warning.contains("activity.db") && warning.contains("moved to"),
        "{warning}"
    );
    let aside: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("activity.db.unusable-"))
        .collect();
    assert!(!aside.is_empty(), "the old file is kept beside");
    assert!(sb.stderr().contains("moved to"), "and the log says so");
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_sse_calls_are_recorded_on_both_paths() {
    let sb = Switchboard::start(json!({ "every": everything() }));
    sb.wait_running("every").await;
    let echo = |id: u64| {
        json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": "echo", "arguments": { "message": "over SSE" } },
        })
    };
    // A client that takes no requests (the fast path), and one that takes sampling (rmcp).
    let mut plain = LegacySession::open(&sb, "every", json!({})).await;
    plain.post(echo(1)).await;
    assert!(plain.answer_to(1).await["result"].is_object());
    let mut sampling = LegacySession::open(&sb, "every", json!({ "sampling": {} })).await;
    sampling.post(echo(2)).await;
    assert!(sampling.answer_to(2).await["result"].is_object());

    stats_until(&sb, |s| tool_calls(s, "every", "echo") == 2).await;
    let echoes = entries(&sb, "tool=echo").await;
    let sessions: std::collections::HashSet<_> =
        echoes.iter().map(|e| e["session"].to_string()).collect();
    assert_eq!(sessions.len(), 2, "one entry per session: {echoes:#?}");
    for entry in &echoes {
        assert_eq!(entry["transport"], "sse", "{entry}");
        assert_eq!(entry["endpoint"], "/servers/every/sse");
        assert_eq!(entry["client"], "fast-path-test 1");
        assert_eq!(entry["protocol"], "2024-11-05");
        assert_eq!(entry["outcome"], "ok");
        assert!(entry["session"].as_str().is_some_and(|s| !s.is_empty()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_whose_client_goes_away_is_recorded_as_cancelled_on_both_paths() {
    let sb = Switchboard::start(json!({ "probe": cancel_probe() }));
    sb.wait_running("probe").await;
    // The fast path, and the full one (a caller asking for log messages needs it).
    let metas = [
        json!({}),
        json!({ "io.modelcontextprotocol/logLevel": "debug" }),
    ];
    for (n, meta) in metas.into_iter().enumerate() {
        let body = stateless::call(n as u64, "wait", json!({ "seconds": 30 }), meta);
        let gone = stateless::post(&sb.mcp_url("probe"), &body)
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        assert!(gone.is_err(), "the client gave up first");
    }
    sb.wait_for_log_times("probe", "cancelled wait", 2).await;
    let waits = entries_until(&sb, "tool=wait", 2).await;
    assert_eq!(waits.len(), 2, "{waits:#?}");
    for wait in &waits {
        assert_eq!(wait["outcome"], "cancelled", "{wait}");
        assert_eq!(wait["server"], "probe");
    }
}
