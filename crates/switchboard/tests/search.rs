//! Search mode of the aggregate endpoint (issue 18): with six real servers behind `/mcp`, the
//! search endpoint lists three meta-tools at a fraction of the tokens, finds the tool a user
//! means in its top five for the query set in `tests/search/queries.json`, never shows or calls
//! a hidden tool, follows catalog and filter changes, and its `call_tool` reaches the server
//! from real SDK clients of both eras and over both transports.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use rmcp::service::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{json, Value};
use support::client::call;
use support::legacy::LegacySession;
use support::{
    everything, filesystem, git_server, memory, repo_root, run_client, sequential_thinking,
    stateless, time_server, Switchboard,
};

const WAIT: Duration = Duration::from_secs(60);

/// The six servers of the test, in `dir` (the filesystem server's folder, the memory
/// file, a git repository).
fn six_servers(dir: &Path) -> Value {
    let files = dir.join("files");
    let repo = dir.join("repo");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "."]);
    std::fs::write(repo.join("README"), "hello\n").unwrap();
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "first"]);
    json!({
        "everything": everything(),
        "filesystem": filesystem(&files),
        "memory": memory(&dir.join("memory.jsonl")),
        "thinking": sequential_thinking(),
        "time": time_server(),
        "git": git_server(&repo),
    })
}

async fn start_six() -> (Switchboard, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sb = Switchboard::start(six_servers(dir.path()));
    for name in [
        "everything",
        "filesystem",
        "memory",
        "thinking",
        "time",
        "git",
    ] {
        sb.wait_running(name).await;
    }
    (sb, dir)
}

/// A stateless (2026-07-28) call of `tool` with `arguments` at `url`: its result.
async fn call_at(url: &str, tool: &str, arguments: Value) -> Value {
    let body = stateless::call(1, tool, arguments, json!({}));
    let answer = stateless::answer(url, &body).await;
    assert!(answer["result"].is_object(), "{tool}: {answer}");
    answer["result"].clone()
}

/// The names `search_tools` answers for `query` at `url`.
async fn search(url: &str, query: &str) -> Vec<String> {
    let result = call_at(url, "search_tools", json!({ "query": query, "limit": 5 })).await;
    result["structuredContent"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{result}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

/// `tools/list` of `url` as rmcp's client gets it, and its JSON.
async fn list_tools(url: &str) -> (Vec<String>, String) {
    let client =
        ().serve(StreamableHttpClientTransport::from_uri(url.to_owned()))
            .await
            .expect("initialize");
    let tools = client.list_all_tools().await.expect("tools/list");
    client.cancel().await.expect("close");
    let names = tools.iter().map(|t| t.name.to_string()).collect();
    (names, serde_json::to_string(&tools).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn search_mode_lists_three_meta_tools_for_a_tenth_of_the_tokens() {
    let (sb, _dir) = start_six().await;
    let (full, full_json) = list_tools(&format!("{}/mcp", sb.url)).await;
    let (search, search_json) = list_tools(&format!("{}/mcp?mode=search", sb.url)).await;
    assert!(full.len() >= 50, "{full:?}");
    assert_eq!(search, ["search_tools", "describe_tools", "call_tool"]);
    let o200k = tiktoken_rs::o200k_base().unwrap();
    let full_tokens = o200k.encode_ordinary(&full_json).len();
    let search_tokens = o200k.encode_ordinary(&search_json).len();
    assert!(
        search_tokens * 10 <= full_tokens,
        "search mode lists {search_tokens} tokens against {full_tokens} for every tool"
    );
    // The API says the same, per server too.
    let (status, cost) = sb.get("/api/tokens").await;
    assert_eq!(status, 200, "{cost}");
    assert_eq!(cost["tools"], full.len());
    let api_full = cost["full"]["tokens"].as_u64().unwrap() as f64;
    assert!(
        (api_full / full_tokens as f64 - 1.0).abs() < 0.05,
        "{cost} vs {full_tokens}"
    );
    assert!(cost["search"]["tokens"].as_u64().unwrap() * 10 <= full_tokens as u64);
    assert_eq!(cost["servers"].as_array().unwrap().len(), 6);
    let (_, plain) = sb.get("/api/servers").await;
    assert!(
        plain["servers"][0]["tools"].get("cost").is_none(),
        "counted only when asked"
    );
    let (_, list) = sb.get("/api/servers?cost=1").await;
    let memory = list["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "memory")
        .unwrap()
        .clone();
    assert!(
        memory["tools"]["cost"]["tokens"].as_u64().unwrap() > 100,
        "{memory}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_the_intended_tool_in_its_top_five_for_nearly_every_query() {
    let (sb, _dir) = start_six().await;
    let file = repo_root().join("tests/search/queries.json");
    let queries: Vec<Value> =
        serde_json::from_slice(&std::fs::read(&file).expect("the query set")).unwrap();
    assert!(queries.len() >= 60, "the set has {} queries", queries.len());
    let url = format!("{}/mcp?mode=search", sb.url);
    let mut misses = Vec::new();
    for query in &queries {
        let (text, wanted) = (
            query["query"].as_str().unwrap(),
            query["tool"].as_str().unwrap(),
        );
        let found = search(&url, text).await;
        if !found.iter().any(|name| name == wanted) {
            misses.push(format!("{text:?} wanted {wanted}, found {found:?}"));
        }
    }
    let hits = queries.len() - misses.len();
    assert!(
        hits * 100 >= queries.len() * 95,
        "{hits}/{} in the top five; misses:\n{}",
        queries.len(),
        misses.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hidden_tool_is_never_found_described_or_called_and_search_follows_filter_edits() {
    let mut servers = json!({ "everything": everything(), "time": time_server() });
    servers["everything"]["tools"] = json!({ "deny": ["get-env"] });
    let sb = Switchboard::start(servers);
    sb.wait_running("everything").await;
    sb.wait_running("time").await;
    let url = format!("{}/mcp?mode=search", sb.url);
    let env_query = "list the environment variables of the server";
    assert!(!search(&url, env_query)
        .await
        .iter()
        .any(|n| n == "everything__get-env"));
    let described = call_at(
        &url,
        "describe_tools",
        json!({ "names": ["everything__get-env", "time__convert_time"] }),
    )
    .await;
    let content = &described["structuredContent"];
    assert_eq!(
        content["unknown"],
        json!(["everything__get-env"]),
        "{described}"
    );
    assert_eq!(content["tools"][0]["name"], "time__convert_time");
    assert!(content["tools"][0]["inputSchema"]["properties"].is_object());
    let body = stateless::call(
        2,
        "call_tool",
        json!({ "name": "everything__get-env", "arguments": {} }),
        json!({}),
    );
    let refused = stateless::answer(&url, &body).await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("get-env")),
        "{refused}"
    );
    // A view leaves a server out of the search altogether.
    let time_only = format!("{}/mcp?mode=search&servers=time", sb.url);
    assert!(search(&time_only, "echo hello")
        .await
        .iter()
        .all(|n| n.starts_with("time__")));

    // The filter is edited: the search follows at once.
    let mut file: Value = serde_json::from_slice(&std::fs::read(&sb.config).unwrap()).unwrap();
    file["mcpServers"]["everything"]["tools"] = json!({ "deny": ["echo"] });
    std::fs::write(&sb.config, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let found = search(&url, env_query).await;
        if found.iter().any(|n| n == "everything__get-env") {
            assert!(!search(&url, "echo hello back")
                .await
                .iter()
                .any(|n| n == "everything__echo"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the edit was not followed: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn call_tool_reaches_the_server_from_sdk_clients_of_both_eras_and_both_transports() {
    let sb = Switchboard::start(json!({ "time": time_server(), "everything": everything() }));
    sb.wait_running("time").await;
    sb.wait_running("everything").await;
    let url = format!("{}/mcp?mode=search", sb.url);
    let echo = json!({ "name": "everything__echo", "arguments": { "message": "through search" } });

    // rmcp's client, a 2025-era session.
    let client =
        ().serve(StreamableHttpClientTransport::from_uri(url.clone()))
            .await
            .expect("initialize");
    let result = client
        .call_tool(call("call_tool", echo.clone()))
        .await
        .expect("call_tool");
    assert!(serde_json::to_string(&result.content)
        .unwrap()
        .contains("through search"));
    client.cancel().await.expect("close");

    // The Python SDK 2.x client, which speaks 2026-07-28 to an endpoint that offers it.
    let args = vec![
        repo_root().join("tests/clients/py_client.py").to_string_lossy().into_owned(),
        "--url".into(),
        url.clone(),
        "--transport".into(),
        "streamable".into(),
        "--scenario".into(),
        "call".into(),
        "--extra".into(),
        json!({ "tool": "call_tool", "arguments": { "name": "time__get_current_time", "arguments": { "timezone": "Asia/Tokyo" } } }).to_string(),
        "--timeout".into(),
        "60".into(),
    ];
    let report = run_client(
        &repo_root().join("tests/.venv-mcp2/bin/python"),
        &args,
        WAIT,
    );
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["protocolVersion"], "2026-07-28", "{report:#}");
    assert!(
        report["text"]
            .as_str()
            .is_some_and(|t| t.contains("Asia/Tokyo")),
        "{report:#}"
    );

    // Legacy SSE, the same endpoint's search mode.
    let sse = format!("{}/sse?mode=search", sb.url);
    let mut legacy = LegacySession::open_url(&sb, &sse, json!({})).await;
    legacy
        .post(json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "call_tool", "arguments": echo },
        }))
        .await;
    let answer = legacy.answer_to(1).await;
    assert!(answer.to_string().contains("through search"), "{answer}");

    // Each call is in the activity log under the tool it reached.
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, page) = sb.get("/api/activity?method=tools/call").await;
        let names: Vec<_> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        if names.len() >= 3 {
            assert_eq!(
                names.iter().filter(|n| *n == "echo").count(),
                2,
                "{names:?}"
            );
            assert!(names.iter().any(|n| n == "get_current_time"), "{names:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, refused) = sb.get("/mcp?mode=nonsense").await;
    assert_eq!(status, 400, "{refused}");
}
