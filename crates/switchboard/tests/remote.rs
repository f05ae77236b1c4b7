//! Remote servers (`url` entries) end to end: real MCP servers listening over HTTP —
//! server-everything in its `streamableHttp` and `sse` modes, and an rmcp server in this
//! process that records the headers it is sent — reached by `switchboard serve` and served
//! to real SDK clients like local ones: per-server endpoints, the aggregate beside a stdio
//! server, the same API; a remote process killed and started again is served again.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, InitializeResult,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Value};
use support::client::{call, connect, text_of, RecordingClient};
use support::{everything, everything_script, HttpServer, Switchboard};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn remote_servers_over_streamable_http_and_sse_are_served_like_local_ones() {
    let http = HttpServer::start(everything_script(), &["streamableHttp"]);
    let sse = HttpServer::start(everything_script(), &["sse"]);
    let sb = Switchboard::start(json!({
        // `type` left out, as Cursor writes it: Streamable HTTP is tried first.
        "web": { "url": http.url("/mcp") },
        // The same for an SSE-only server: it refuses Streamable HTTP and is tried over SSE.
        "legacy": { "url": sse.url("/sse") },
        "pinned": { "type": "sse", "url": sse.url("/sse") },
        "local": everything(),
    }));
    for (name, transport) in [
        ("web", "streamable-http"),
        ("legacy", "sse"),
        ("pinned", "sse"),
        ("local", "stdio"),
    ] {
        let server = sb.wait_running(name).await;
        assert_eq!(server["transport"], transport, "{name}: {server:#}");
        assert!(server["tools"]["total"].as_u64() > Some(5), "{server:#}");
    }
    let web = sb.server("web").await;
    assert_eq!(web["pid"], Value::Null, "no process of ours: {web:#}");
    assert_eq!(web["command"], "");
    assert_eq!(web["url"], http.url("/mcp"));
    assert_eq!(web["protocol"], "2025-11-25");

    let (_, logs) = sb.get("/api/servers/legacy/logs").await;
    let lines: Vec<&str> = logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["line"].as_str())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("refused Streamable HTTP (HTTP 404)")),
        "the fallback is logged: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("connected to") && l.contains("legacy SSE transport")),
        "{lines:#?}"
    );

    for name in ["web", "legacy", "pinned"] {
        let client = connect(sb.mcp_url(name), RecordingClient::default()).await;
        let answer = client
            .call_tool(call("echo", json!({ "message": format!("hi {name}") })))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            text_of(&answer).contains(&format!("hi {name}")),
            "{name}: {answer:?}"
        );
        client.cancel().await.unwrap();
    }

    // The aggregate lists remote tools beside the local server's, and calls reach each.
    let client = connect(format!("{}/mcp", sb.url), RecordingClient::default()).await;
    let tools = client.list_all_tools().await.unwrap();
    for name in ["web__echo", "legacy__echo", "local__echo"] {
        assert!(tools.iter().any(|t| t.name == name), "{name} listed");
    }
    let answer = client
        .call_tool(call(
            "legacy__echo",
            json!({ "message": "through the aggregate" }),
        ))
        .await
        .unwrap();
    assert!(text_of(&answer).contains("through the aggregate"));
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_server_that_is_killed_and_started_again_is_served_again() {
    let mut http = HttpServer::start(everything_script(), &["streamableHttp"]);
    let sb = Switchboard::start(json!({
        "web": {
            "type": "http",
            "url": http.url("/mcp"),
            "health": { "pingIntervalSecs": 1, "pingTimeoutSecs": 1, "maxMissed": 1 },
            "restart": { "initialDelayMs": 200, "maxDelayMs": 1000 },
        },
    }));
    sb.wait_running("web").await;
    let client = connect(sb.mcp_url("web"), RecordingClient::default()).await;
    let echo = |message: &str| call("echo", json!({ "message": message }));
    client.call_tool(echo("before")).await.unwrap();

    http.kill();
    let gone = sb.wait_for("web", WAIT, |s| s["state"] != "running").await;
    assert!(
        gone["lastError"].as_str().is_some_and(|e| !e.is_empty()),
        "why it is down is said: {gone:#}"
    );
    http.start_again();
    sb.wait_running("web").await;

    // The client's own session with the gateway survived; its next call reaches the new
    // process (a call racing the reconnect may still fail: bounded retries).
    let deadline = Instant::now() + WAIT;
    let answer = loop {
        match client.call_tool(echo("after")).await {
            Ok(answer) => break answer,
            Err(e) if Instant::now() < deadline => {
                eprintln!("retrying after: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no answer after the restart: {e}"),
        }
    };
    assert!(text_of(&answer).contains("after"), "{answer:?}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_session_the_server_forgot_is_reopened_without_the_client_noticing() {
    let mut http = HttpServer::start(everything_script(), &["streamableHttp"]);
    let sb = Switchboard::start(json!({
        // No health checks: only the next request finds out that the session is gone.
        "web": { "url": http.url("/mcp"), "health": { "pingIntervalSecs": 0 } },
    }));
    sb.wait_running("web").await;
    let client = connect(sb.mcp_url("web"), RecordingClient::default()).await;
    let echo = |message: &str| call("echo", json!({ "message": message }));
    client.call_tool(echo("before")).await.unwrap();
    // A new process knows no sessions: the next request with the old one is answered 404.
    http.kill();
    http.start_again();
    let answer = client
        .call_tool(echo("after"))
        .await
        .expect("answered at once");
    assert!(text_of(&answer).contains("after"), "{answer:?}");
    let server = sb.server("web").await;
    assert_eq!(server["state"], "running", "{server:#}");
    assert_eq!(server["restarts"], 0, "reopened, not restarted: {server:#}");
    client.cancel().await.unwrap();
}

/// An rmcp server (a real SDK server, in this process) with one tool, `whoami`, that answers
/// the `Authorization` and `X-Team` headers its HTTP request carried; every request's
/// headers are also recorded.
#[derive(Clone, Default)]
struct HeaderEcho {
    seen: Arc<Mutex<Vec<http::HeaderMap>>>,
}

impl ServerHandler for HeaderEcho {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.record(&context);
        let schema = serde_json::from_value(json!({"type": "object"})).expect("an object");
        let tool = rmcp::model::Tool::new("whoami", "The headers I was sent", Arc::new(schema));
        Ok(ListToolsResult::with_all_items(vec![tool]))
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let headers = self.record(&context);
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(none)")
                .to_owned()
        };
        let text = format!(
            "authorization={} team={}",
            get("authorization"),
            get("x-team")
        );
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

impl HeaderEcho {
    fn record(&self, context: &RequestContext<RoleServer>) -> http::HeaderMap {
        let headers = context
            .extensions
            .get::<http::request::Parts>()
            .map(|parts| parts.headers.clone())
            .unwrap_or_default();
        self.seen.lock().unwrap().push(headers.clone());
        headers
    }
}

/// Serves `handler` over Streamable HTTP at `http://127.0.0.1:PORT/mcp`.
async fn serve_in_process(handler: HeaderEcho) -> (u16, tokio_util::sync::CancellationToken) {
    let cancel = tokio_util::sync::CancellationToken::new();
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_cancellation_token(cancel.clone()),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = cancel.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    (port, cancel)
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_reach_the_remote_server_expanded_and_their_values_are_never_shown() {
    const SECRET: &str = "sk-test-7d41f0c2a9b84e5f";
    let handler = HeaderEcho::default();
    let seen = Arc::clone(&handler.seen);
    let (port, stop) = serve_in_process(handler).await;
    let sb = Switchboard::start_with_env(
        json!({ "mcpServers": {
            "team": {
                "type": "http",
                "url": format!("http://127.0.0.1:{port}/mcp"),
                "headers": {
                    "Authorization": "Bearer ${env:TEAM_TOKEN}",
                    "X-Team": "platform",
                },
            },
        }}),
        &[("TEAM_TOKEN", std::ffi::OsStr::new(SECRET))],
    );
    sb.wait_running("team").await;
    let client = connect(sb.mcp_url("team"), RecordingClient::default()).await;
    let answer = client.call_tool(call("whoami", json!({}))).await.unwrap();
    assert_eq!(
        text_of(&answer),
        json!([{"type": "text", "text": format!("authorization=Bearer {SECRET} team=platform")}])
            .to_string()
    );
    client.cancel().await.unwrap();
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|h| h.get("x-team").is_some()),
        "every request carried the headers"
    );

    let detail = sb.server("team").await;
    assert_eq!(detail["headerKeys"], json!(["Authorization", "X-Team"]));
    let (_, config) = sb.get("/api/config").await;
    let store = config["secrets"]["store"].as_str().unwrap_or_default();
    assert!(
        store == "keychain" || (store == "file" && config["secrets"]["path"].is_string()),
        "where secrets are kept is said: {config}"
    );
    let mut shown = Vec::new();
    for path in [
        "/api/servers",
        "/api/servers/team",
        "/api/servers/team/logs",
        "/api/config",
    ] {
        let (status, body) = sb.get(path).await;
        assert_eq!(status, 200, "{path}");
        shown.push(body.to_string());
    }
    shown.push(sb.stderr());
    for text in shown {
        assert!(!text.contains(SECRET), "the header's value leaked: {text}");
    }
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_stored_with_the_cli_reaches_the_server_when_it_starts_and_is_never_shown() {
    const SECRET: &str = "ghp_secret_9f2c41d7e0";
    let handler = HeaderEcho::default();
    let (port, stop) = serve_in_process(handler).await;
    let file_store = [("SWITCHBOARD_SECRETS", std::ffi::OsStr::new("file"))];
    let sb = Switchboard::start_with_env(
        json!({ "mcpServers": {
            "team": {
                "type": "http",
                "url": format!("http://127.0.0.1:{port}/mcp"),
                "headers": { "Authorization": "Bearer ${secret:TEAM_TOKEN}" },
            },
        }}),
        &file_store,
    );
    // Not stored yet: the server does not start, and says what to do.
    let failed = sb.wait_for("team", WAIT, |s| s["state"] == "failed").await;
    assert!(
        failed["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("switchboard secret set TEAM_TOKEN")),
        "{failed:#}"
    );
    let config = sb.config.to_string_lossy().into_owned();
    let cli = |args: &[&str]| {
        let mut command = sb.command(&["--config", &config]);
        command.args(args).envs(file_store);
        command
    };
    let mut set = cli(&["secret", "set", "TEAM_TOKEN"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(set.stdin.take().unwrap(), "{SECRET}").unwrap();
    let out = set.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = cli(&["secret", "list"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "TEAM_TOKEN\n");

    let (status, _) = sb.send("POST", "/api/servers/team/restart", "").await;
    assert_eq!(status, 202, "restart accepted");
    sb.wait_running("team").await;
    let client = connect(sb.mcp_url("team"), RecordingClient::default()).await;
    let answer = client.call_tool(call("whoami", json!({}))).await.unwrap();
    assert!(
        text_of(&answer).contains(&format!("authorization=Bearer {SECRET}")),
        "the trailing newline was dropped and the secret sent: {answer:?}"
    );
    client.cancel().await.unwrap();

    let mut shown = vec![sb.stderr(), std::fs::read_to_string(&sb.config).unwrap()];
    for path in [
        "/api/servers",
        "/api/servers/team",
        "/api/servers/team/logs",
        "/api/config",
    ] {
        shown.push(sb.get(path).await.1.to_string());
    }
    for text in shown {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
    }
    let removed = cli(&["secret", "rm", "TEAM_TOKEN"]).output().unwrap();
    assert!(removed.status.success());
    assert_eq!(cli(&["secret", "list"]).output().unwrap().stdout, b"");

    // The dashboard's way: stored through the API, by name; the value is never answered.
    let body = json!({ "value": SECRET }).to_string();
    let (status, _) = sb.send("PUT", "/api/secrets/TEAM_TOKEN", body).await;
    assert_eq!(status, 204);
    let (_, listed) = sb.get("/api/secrets").await;
    assert_eq!(listed["names"], json!(["TEAM_TOKEN"]), "{listed}");
    assert!(!listed.to_string().contains(SECRET));
    let (status, refused) = sb
        .send("PUT", "/api/secrets/bad%20name", "{\"value\":\"x\"}")
        .await;
    assert_eq!(status, 400, "{refused}");
    let (status, _) = sb.send("POST", "/api/servers/team/restart", "").await;
    assert_eq!(status, 202);
    sb.wait_running("team").await;
    let (status, _) = sb.send("DELETE", "/api/secrets/TEAM_TOKEN", "").await;
    assert_eq!(status, 204);
    assert_eq!(sb.get("/api/secrets").await.1["names"], json!([]));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_pointing_at_switchboard_itself_is_refused_with_the_reason() {
    let sb = Switchboard::start(json!({}));
    // Added through the API, as the dashboard would: the gateway's own aggregate, by name.
    let own = sb.url.replace("127.0.0.1", "localhost");
    let entry = json!({ "url": format!("{own}/mcp") }).to_string();
    let (status, body) = sb.send("PUT", "/api/servers/loop", entry).await;
    assert_eq!(status, 201, "{body}");
    let server = sb.wait_for("loop", WAIT, |s| s["state"] == "failed").await;
    let error = server["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("Switchboard's own gateway"), "{error}");
}
