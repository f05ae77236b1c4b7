//! End-to-end: the aggregate endpoint (`/mcp`, `/sse`) over two real servers, with rmcp's
//! client and the Python and TypeScript SDK clients.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::{json, Value};
use support::client::{call, connect, text_of, RecordingClient, Seen};
use support::{everything, repo_root, run_client, time_server, Switchboard};

const WAIT: Duration = Duration::from_secs(30);

fn start() -> Switchboard {
    let mut everything = everything();
    everything["tools"] = json!({ "deny": ["get-env"] });
    Switchboard::start(json!({ "everything": everything, "time": time_server() }))
}

async fn tool_names(
    client: &rmcp::service::RunningService<rmcp::RoleClient, RecordingClient>,
) -> HashSet<String> {
    client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn aggregate_names_routes_and_filters_tools_prompts_and_resources() {
    let sb = start();
    sb.wait_running("everything").await;
    sb.wait_running("time").await;
    let client = connect(format!("{}/mcp", sb.url), RecordingClient::default()).await;

    let tools = tool_names(&client).await;
    assert!(tools.contains("everything__echo"), "{tools:?}");
    assert!(tools.contains("time__get_current_time"), "{tools:?}");
    assert!(
        !tools.contains("everything__get-env"),
        "the filter applies: {tools:?}"
    );
    assert!(tools
        .iter()
        .all(|t| t.starts_with("everything__") || t.starts_with("time__")));

    let echoed = client
        .call_tool(call(
            "everything__echo",
            json!({ "message": "via the aggregate" }),
        ))
        .await
        .expect("echo");
    assert!(text_of(&echoed).contains("via the aggregate"));
    let time = client
        .call_tool(call(
            "time__get_current_time",
            json!({ "timezone": "Asia/Tokyo" }),
        ))
        .await
        .expect("time");
    assert!(text_of(&time).contains("Asia/Tokyo"));
    for (name, why) in [
        ("everything__get-env", "not exposed"),
        ("nope__echo", "no server named 'nope'"),
        ("echo", "not of the form"),
    ] {
        let error = client
            .call_tool(call(name, json!({})))
            .await
            .expect_err(name)
            .to_string();
        assert!(error.contains(why), "{name}: {error}");
    }

    let prompts = client.list_all_prompts().await.unwrap();
    assert!(
        prompts
            .iter()
            .any(|p| p.name == "everything__simple-prompt"),
        "{prompts:?}"
    );
    let prompt = client
        .get_prompt(GetPromptRequestParams::new("everything__simple-prompt"))
        .await
        .expect("prompts/get routed");
    assert!(!prompt.messages.is_empty());

    let resources = client.list_all_resources().await.unwrap();
    let first = resources.first().expect("everything offers resources");
    let read = client
        .read_resource(ReadResourceRequestParams::new(first.uri.clone()))
        .await
        .expect("resources/read routed by URI");
    assert!(!read.contents.is_empty());
    let templates = client.list_all_resource_templates().await.unwrap();
    assert!(!templates.is_empty());
    let instance = "demo://resource/dynamic/text/7";
    let read = client
        .read_resource(ReadResourceRequestParams::new(instance))
        .await
        .expect("resources/read routed by template");
    assert!(!read.contents.is_empty());
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn aggregate_sessions_hear_of_servers_starting_stopping_and_filter_changes() {
    let sb = Switchboard::start(json!({ "time": time_server() }));
    sb.wait_running("time").await;
    let recorder = RecordingClient::default();
    let client = connect(format!("{}/mcp", sb.url), recorder.clone()).await;
    assert!(!tool_names(&client)
        .await
        .iter()
        .any(|t| t.starts_with("everything__")));

    let changes = |n: usize| {
        let recorder = recorder.clone();
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            while recorder.count(&Seen::ToolListChanged) < n {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no list_changed #{n}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    // A server starts.
    let (status, _) = sb
        .send(
            "PUT",
            "/api/servers/everything",
            serde_json::to_vec(&everything()).unwrap(),
        )
        .await;
    assert_eq!(status, 201);
    sb.wait_running("everything").await;
    changes(1).await;
    assert!(tool_names(&client).await.contains("everything__echo"));

    // Its filter changes.
    let seen = recorder.count(&Seen::ToolListChanged);
    let (status, _) = sb
        .send(
            "PATCH",
            "/api/servers/everything",
            r#"{"tools":{"deny":["echo"]}}"#,
        )
        .await;
    assert_eq!(status, 200);
    changes(seen + 1).await;
    assert!(!tool_names(&client).await.contains("everything__echo"));

    // It stops.
    let seen = recorder.count(&Seen::ToolListChanged);
    let (status, _) = sb.send("DELETE", "/api/servers/everything", "").await;
    assert_eq!(status, 200);
    changes(seen + 1).await;
    assert!(!tool_names(&client)
        .await
        .iter()
        .any(|t| t.starts_with("everything__")));
    client.cancel().await.ok();
}

/// A stopped (SIGSTOP) child answers nothing; a failed one is not running. Neither may hold
/// up the aggregate's lists, which come from the supervisors' catalogs.
#[tokio::test(flavor = "multi_thread")]
async fn a_hung_or_failed_server_does_not_block_the_aggregate_lists() {
    let sb = Switchboard::start(json!({
        "hung": everything(),
        "time": time_server(),
        "failed": { "command": "switchboard-test-no-such-command" },
    }));
    let hung = sb.pid_of("hung").await;
    sb.wait_running("time").await;
    sb.wait_for("failed", WAIT, |s| s["state"] == "failed")
        .await;
    support::signal(hung, nix::sys::signal::Signal::SIGSTOP);

    let client = connect(format!("{}/mcp", sb.url), RecordingClient::default()).await;
    // Far below the hung server's 60 s request timeout: the list does not ask it.
    let tools = tokio::time::timeout(Duration::from_secs(10), tool_names(&client))
        .await
        .expect("tools/list answers while a server hangs");
    assert!(tools.contains("time__get_current_time"));
    assert!(!tools.iter().any(|t| t.starts_with("failed__")));
    let time = tokio::time::timeout(
        Duration::from_secs(10),
        client.call_tool(call("time__get_current_time", json!({ "timezone": "UTC" }))),
    )
    .await
    .expect("a call to a healthy server is not blocked by the hung one");
    assert!(time.is_ok());

    support::signal(hung, nix::sys::signal::Signal::SIGCONT);
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_view_limits_the_aggregate_to_the_named_servers() {
    let sb = start();
    sb.wait_running("everything").await;
    sb.wait_running("time").await;
    let client = connect(
        format!("{}/mcp?servers=time", sb.url),
        RecordingClient::default(),
    )
    .await;
    let tools = tool_names(&client).await;
    assert!(!tools.is_empty());
    assert!(tools.iter().all(|t| t.starts_with("time__")), "{tools:?}");
    let error = client
        .call_tool(call("everything__echo", json!({ "message": "x" })))
        .await
        .expect_err("outside the view")
        .to_string();
    assert!(error.contains("everything"), "{error}");
    client.cancel().await.ok();

    let (status, body) = sb.get("/mcp?servers=a/b").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_view"))
    );
}

fn sdk_scenario(
    sb: &Switchboard,
    python: &str,
    transport: &str,
    scenario: &str,
    extra: Value,
) -> Value {
    let root = repo_root();
    let (program, script) = if python == "ts" || python == "ts2" {
        (
            std::path::PathBuf::from("node"),
            root.join(format!("tests/clients/{python}_client.mjs")),
        )
    } else {
        (
            root.join(format!("tests/{python}/bin/python")),
            root.join("tests/clients/py_client.py"),
        )
    };
    let url = match transport {
        "sse" => format!("{}/sse", sb.url),
        _ => format!("{}/mcp", sb.url),
    };
    let report = run_client(
        &program,
        &[
            script.to_string_lossy().into_owned(),
            "--url".into(),
            url,
            "--transport".into(),
            transport.into(),
            "--scenario".into(),
            scenario.into(),
            "--extra".into(),
            extra.to_string(),
        ],
        Duration::from_secs(90),
    );
    assert_eq!(
        report["ok"], true,
        "{python}/{transport} {scenario}: {report:#}"
    );
    report
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_clients_use_the_aggregate_on_both_transports() {
    let sb = start();
    sb.wait_running("everything").await;
    sb.wait_running("time").await;
    tokio::task::block_in_place(|| {
        for (client, transport) in [
            (".venv-mcp2", "sse"),
            (".venv-mcp1", "streamable"),
            ("ts", "streamable"),
            ("ts", "sse"),
            // The TS SDK 2.x pinned to 2026-07-28 (server/discover, stateless).
            ("ts2", "streamable"),
        ] {
            let listed = sdk_scenario(&sb, client, transport, "list_tools", json!({}));
            if client == "ts2" {
                assert_eq!(listed["protocolVersion"], "2026-07-28", "{listed:#}");
            }
            let tools: Vec<&str> = listed["tools"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                tools.contains(&"everything__echo") && tools.contains(&"time__convert_time"),
                "{tools:?}"
            );

            let progress = sdk_scenario(
                &sb,
                client,
                transport,
                "progress",
                json!({ "tool": "everything__trigger-long-running-operation", "arguments": { "duration": 1, "steps": 3 } }),
            );
            assert!(
                !progress["progress"].as_array().unwrap().is_empty(),
                "{progress:#}"
            );

            let sampled = sdk_scenario(
                &sb,
                client,
                transport,
                "sampling",
                json!({ "tool": "everything__trigger-sampling-request", "arguments": { "prompt": "hi", "maxTokens": 5 } }),
            );
            assert_eq!(sampled["result_contains_reply"], true, "{sampled:#}");
        }
    });
}
