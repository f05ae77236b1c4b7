//! End-to-end: `switchboard serve` running real servers from npm and PyPI, driven over
//! Streamable HTTP by rmcp's own client, and the REST API.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::service::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::json;
use support::client::{call, connect, text_of, RecordingClient, Seen};
use support::{everything, mrtr_server, time_server, Switchboard};

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_client_lists_filtered_tools_and_calls_through_the_gateway() {
    let mut everything = everything();
    everything["tools"] = json!({ "deny": ["get-env", "toggle-*"] });
    let sb = Switchboard::start(json!({ "everything": everything }));
    sb.wait_running("everything").await;

    let client = connect(sb.mcp_url("everything"), RecordingClient::default()).await;
    let tools: HashSet<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.contains("echo"), "{tools:?}");
    assert!(!tools.contains("get-env"), "denied tool listed: {tools:?}");
    assert!(
        !tools.iter().any(|t| t.starts_with("toggle-")),
        "glob-denied tool listed: {tools:?}"
    );

    let result = client
        .call_tool(call("echo", json!({ "message": "through switchboard" })))
        .await
        .expect("echo");
    assert!(text_of(&result).contains("through switchboard"));

    let refused = client
        .call_tool(call("get-env", json!({})))
        .await
        .expect_err("a filtered tool must be refused");
    let message = refused.to_string();
    assert!(
        message.contains("get-env") && message.contains("everything"),
        "the refusal should name the tool and the server: {message}"
    );

    // The API shows the same split.
    let detail = sb.server("everything").await;
    let exposed: Vec<(String, bool)> = detail["toolList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["exposed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(exposed.contains(&("echo".into(), true)), "{exposed:?}");
    assert!(exposed.contains(&("get-env".into(), false)), "{exposed:?}");
    assert_eq!(
        detail["tools"]["exposed"].as_u64().unwrap()
            + 1
            + exposed
                .iter()
                .filter(|(n, _)| n.starts_with("toggle-"))
                .count() as u64,
        detail["tools"]["total"].as_u64().unwrap()
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_notifications_reach_the_caller() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    let recorder = RecordingClient::default();
    let client = connect(sb.mcp_url("everything"), recorder.clone()).await;
    let result = client
        .call_tool(call(
            "trigger-long-running-operation",
            json!({ "duration": 1, "steps": 4 }),
        ))
        .await
        .expect("long-running operation");
    assert!(text_of(&result).contains("completed"));
    // The gateway sends every progress before the answer, but rmcp's client runs each
    // notification's handler on a task of its own, so the last one may be recorded just after
    // the answer came back: wait for it (bounded), then count.
    let progress = || {
        recorder
            .seen()
            .iter()
            .filter(|s| matches!(s, Seen::Progress(_)))
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while progress() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        progress(),
        4,
        "one progress notification per step: {:?}",
        recorder.seen()
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn sampling_request_from_the_server_is_answered_by_the_client() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    let recorder = RecordingClient::default();
    let client = connect(sb.mcp_url("everything"), recorder.clone()).await;
    let result = client
        .call_tool(call(
            "trigger-sampling-request",
            json!({ "prompt": "what is a switchboard?", "maxTokens": 10 }),
        ))
        .await
        .expect("sampling tool");
    let text = text_of(&result);
    assert!(
        text.contains("sampled-by-rmcp-test-client"),
        "the client's answer must come back through the server: {text}"
    );
    assert!(
        recorder
            .seen()
            .iter()
            .any(|s| matches!(s, Seen::Sampling(p) if p.contains("what is a switchboard?"))),
        "the client's sampling callback must see the server's prompt: {:?}",
        recorder.seen()
    );
    client.cancel().await.ok();
}

/// 32 two-second calls on one session: if the gateway serialised them, the first would finish
/// before the second started. Asserting on order, not time: every call must have reported
/// progress before any call finished.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_to_one_server_run_concurrently() {
    const CALLS: usize = 32;
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    let recorder = RecordingClient::default();
    let client = connect(sb.mcp_url("everything"), recorder.clone()).await;
    let finished = Arc::new(Mutex::new(None::<usize>));
    let calls = (0..CALLS).map(|_| {
        let peer = client.peer().clone();
        let recorder = recorder.clone();
        let finished = Arc::clone(&finished);
        async move {
            let result = peer
                .call_tool(call(
                    "trigger-long-running-operation",
                    json!({ "duration": 2, "steps": 4 }),
                ))
                .await;
            // Record how many calls had shown progress when the first one finished.
            let tokens_so_far = distinct_progress_tokens(&recorder.seen());
            finished.lock().unwrap().get_or_insert(tokens_so_far);
            result
        }
    });
    let results = tokio::time::timeout(Duration::from_secs(120), futures::future::join_all(calls))
        .await
        .expect("all calls finish");
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let in_flight_at_first_finish = finished.lock().unwrap().expect("a call finished");
    assert_eq!(
        in_flight_at_first_finish, CALLS,
        "every call must be running before the first one finishes"
    );
    client.cancel().await.ok();
}

fn distinct_progress_tokens(seen: &[Seen]) -> usize {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Progress(token) => Some(token),
            _ => None,
        })
        .collect::<HashSet<_>>()
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_server_from_pypi_is_served() {
    let sb = Switchboard::start(json!({ "time": time_server() }));
    sb.wait_running("time").await;
    let client = connect(sb.mcp_url("time"), RecordingClient::default()).await;
    let result = client
        .call_tool(call(
            "get_current_time",
            json!({ "timezone": "Europe/Paris" }),
        ))
        .await
        .expect("get_current_time");
    assert!(
        text_of(&result).contains("Europe/Paris"),
        "{}",
        text_of(&result)
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn server_that_cannot_start_is_failed_with_its_error() {
    let sb = Switchboard::start(json!({
        "missing": { "command": "switchboard-test-no-such-command" },
        "exits": { "command": "sh", "args": ["-c", "echo 'fatal: bad token' >&2; exit 3"] },
    }));
    let missing = sb
        .wait_for("missing", Duration::from_secs(20), |s| {
            s["state"] == "failed"
        })
        .await;
    let error = missing["lastError"].as_str().unwrap();
    assert!(
        error.contains("switchboard-test-no-such-command") && error.contains("PATH"),
        "{error}"
    );
    let exits = sb
        .wait_for("exits", Duration::from_secs(20), |s| {
            s["state"] == "failed"
                && s["lastError"]
                    .as_str()
                    .is_some_and(|e| e.contains("bad token"))
        })
        .await;
    assert!(exits["pid"].is_null());

    // A client asking for it gets an error that says why, not a hang.
    let client = RecordingClient::default()
        .serve(StreamableHttpClientTransport::from_uri(
            sb.mcp_url("missing"),
        ))
        .await;
    let error = client.err().expect("initialize must fail").to_string();
    assert!(error.contains("missing"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_child_is_restarted_with_a_new_pid() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    let before = sb.wait_running("everything").await;
    let pid = before["pid"].as_u64().unwrap() as u32;
    support::signal(pid, nix::sys::signal::Signal::SIGKILL);
    let after = sb
        .wait_for("everything", Duration::from_secs(30), |s| {
            s["state"] == "running" && s["pid"].as_u64() != Some(pid as u64)
        })
        .await;
    assert_eq!(after["restarts"], 1);
    assert!(
        !switchboard_test_procs::alive(pid),
        "the killed child must be reaped"
    );

    // And it serves again.
    let client = connect(sb.mcp_url("everything"), RecordingClient::default()).await;
    client
        .call_tool(call("echo", json!({ "message": "back" })))
        .await
        .expect("echo after restart");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn api_lists_servers_and_answers_json_errors() {
    let sb = Switchboard::start(json!({
        "everything": everything(),
        "off": { "command": "sh", "disabled": true },
    }));
    sb.wait_running("everything").await;
    let (status, health) = sb.get("/api/health").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));

    let (status, list) = sb.get("/api/servers").await;
    assert_eq!(status, 200);
    let servers = list["servers"].as_array().unwrap();
    let names: Vec<&str> = servers
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["everything", "off"]);
    let everything = &servers[0];
    assert!(everything["pid"].as_u64().is_some());
    assert!(everything["uptimeSecs"].as_u64().is_some());
    assert!(everything["tools"]["total"].as_u64().unwrap() > 5);
    assert_eq!(everything["endpoints"]["mcp"], sb.mcp_url("everything"));
    assert_eq!(everything["endpoints"]["sse"], sb.sse_url("everything"));
    assert_eq!(servers[1]["state"], "disabled");
    assert_eq!(
        (&everything["protocol"], &servers[1]["protocol"]),
        (&json!("2025-11-25"), &serde_json::Value::Null),
        "the version agreed with a running server; none for one that is off"
    );

    let (status, resources) = sb.get("/api/servers/everything/resources").await;
    assert_eq!(status, 200, "{resources}");
    assert!(!resources["resources"].as_array().unwrap().is_empty());
    assert!(!resources["templates"].as_array().unwrap().is_empty());
    let (status, prompts) = sb.get("/api/servers/everything/prompts").await;
    assert_eq!(status, 200, "{prompts}");
    assert!(prompts["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "simple-prompt"));
    let (status, body) = sb.get("/api/servers/off/prompts").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("server_not_running"))
    );

    let (status, body) = sb.get("/api/servers/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "unknown_server");
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"));
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_show_the_stderr_tail_and_follow_streams_new_lines() {
    use futures::StreamExt;
    let sb = Switchboard::start(json!({
        "ticker": {
            "command": "sh",
            "args": ["-c", "echo first line >&2; i=0; while true; do i=$((i+1)); echo tick $i >&2; sleep 0.2; done"],
        }
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = sb.get("/api/servers/ticker/logs?tail=50").await;
        assert_eq!(status, 200);
        let lines: Vec<&str> = body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["line"].as_str().unwrap())
            .collect();
        if lines.contains(&"first line") && lines.iter().any(|l| l.starts_with("tick")) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stderr not in the tail: {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let response = reqwest::get(format!(
        "{}/api/servers/ticker/logs?follow=1&tail=0",
        sb.url
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while text.matches("event: log").count() < 3 {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("live lines within 10s")
            .expect("stream open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("tick"), "{text}");
    let (status, body) = sb.get("/api/servers/nope/logs").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_server"))
    );
}

/// server-everything asks for the client's roots as it starts, before any client is
/// connected. Switchboard refuses (no client can answer), which is expected: rmcp's
/// `WARN rmcp::service: response error` for it must not reach the log on every start.
#[tokio::test(flavor = "multi_thread")]
async fn an_expected_roots_refusal_at_start_is_not_logged_as_a_warning() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    // The refusal itself is logged (at debug by the proxy; at WARN by rmcp before the fix).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !sb.stderr().contains("supports roots") {
        assert!(
            std::time::Instant::now() < deadline,
            "server-everything did not ask for roots within 30s; stderr:\n{}",
            sb.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stderr = sb.stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("supports roots"))
        .collect();
    assert!(
        warnings.is_empty(),
        "an expected refusal was logged as a warning:\n{}",
        warnings.join("\n")
    );
}

/// A 2025-era session's `resources/subscribe` to a server of the 2026-07-28 era (which has no
/// such method): its updates are followed on a `subscriptions/listen` stream, reach the
/// subscriber as `notifications/resources/updated`, and stop after `unsubscribe`. The rmcp
/// client's sampling, which that server asks for as `input_required`, is asked of the session,
/// and the session's `logging/setLevel` reaches the server as each request's `logLevel`.
#[tokio::test(flavor = "multi_thread")]
#[allow(deprecated)] // resources/subscribe and logging/setLevel are the 2025 era's methods
async fn a_2025_session_hears_a_2026_servers_resource_updates_logs_and_sampling_requests() {
    let sb = Switchboard::start(json!({ "mrtr": mrtr_server() }));
    let status = sb.wait_running("mrtr").await;
    assert_eq!(status["protocol"], "2026-07-28", "{status:#}");
    let recorder = RecordingClient::default();
    let client = connect(sb.mcp_url("mrtr"), recorder.clone()).await;
    let motto = Seen::ResourceUpdated("mrtr://motto".into());

    client
        .subscribe(rmcp::model::SubscribeRequestParams::new("mrtr://motto"))
        .await
        .expect("subscribe");
    let touched = client
        .call_tool(call("touch", json!({})))
        .await
        .expect("touch");
    assert_eq!(text_of(&touched), r#"[{"type":"text","text":"touched"}]"#);
    hear(&recorder, &motto).await;

    client
        .unsubscribe(rmcp::model::UnsubscribeRequestParams::new("mrtr://motto"))
        .await
        .expect("unsubscribe");
    client
        .call_tool(call("touch", json!({})))
        .await
        .expect("touch");
    // The stream is closed before unsubscribe answers, so no later update can be on its way.
    let haiku = client
        .call_tool(call("haiku", json!({ "topic": "tea" })))
        .await
        .expect("haiku");
    assert!(
        text_of(&haiku).contains("sampled: sampled-by-rmcp-test-client"),
        "{}",
        text_of(&haiku)
    );
    assert_eq!(recorder.count(&motto), 1, "{:?}", recorder.seen());

    // Its log messages follow the session's logging/setLevel (per request in that era).
    let said = Seen::Log(r#""chatty says hi""#.into());
    client
        .call_tool(call("chatty", json!({})))
        .await
        .expect("chatty");
    client
        .set_level(rmcp::model::SetLevelRequestParams::new(
            rmcp::model::LoggingLevel::Info,
        ))
        .await
        .expect("setLevel");
    client
        .call_tool(call("chatty", json!({})))
        .await
        .expect("chatty");
    hear(&recorder, &said).await;
    // And they are kept in the server's log, as its own lines.
    let (_, logs) = sb.get("/api/servers/mrtr/logs").await;
    assert!(
        logs["lines"]
            .as_array()
            .is_some_and(|lines| lines.iter().any(|l| l["line"] == "[info] chatty says hi")),
        "{logs:#}"
    );
    client
        .call_tool(call("touch", json!({})))
        .await
        .expect("touch");
    assert_eq!(
        recorder.count(&said),
        1,
        "only the call after setLevel logs: {:?}",
        recorder.seen()
    );
    assert_eq!(
        recorder.count(&Seen::Sampling(
            r#"[{"role":"user","content":{"type":"text","text":"A haiku about tea"}}]"#.into()
        )),
        1,
        "{:?}",
        recorder.seen()
    );
    client.cancel().await.ok();
}

/// Waits (at most 10 s) until the client has seen `wanted`.
async fn hear(recorder: &RecordingClient, wanted: &Seen) {
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        while recorder.count(wanted) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(heard.is_ok(), "{wanted:?} not seen: {:?}", recorder.seen());
}
