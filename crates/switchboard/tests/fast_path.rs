//! The fast path (`proxy::fast`): a 2026-07-28 stateless `tools/call`, or one in a 2025-era
//! session, forwarded as bytes, answers what the full path answers, and keeps its timeouts,
//! cancellation, errors, sessions, and the server's requests of the client during a call.
//!
//! The requests are written by hand (a 2026 client's headers and `_meta`) so each test can
//! choose which path a call takes; the TypeScript SDK 2.x test in `sdk_clients.rs` takes the
//! same path with a real client. The fast path answers `application/json`, the full path
//! (rmcp's service) an SSE stream: that is how a test tells which one answered.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::legacy::LegacySession;
use support::stateless::{call, post};
use support::{cancel_probe, everything, signal, Switchboard};

const WAIT: Duration = Duration::from_secs(30);
/// What the cancel probe logs when a call reaches it on the fast path (its request id is the
/// lane's, `"sbl~N"`; rmcp's are numbers).
const FAST_START: &str = "(request sbl~";

/// Which path answered a call that asked for no progress (the fast path answers it with one
/// JSON body, rmcp with an SSE stream), and the JSON-RPC response.
#[derive(Debug, PartialEq)]
enum Path {
    Fast,
    Full,
}

async fn send(url: &str, body: &Value) -> (Path, Value) {
    reply_to(post(url, body).send().await.expect("POST"), body).await
}

/// Which path answered `body`'s request with `response`, and the JSON-RPC response.
async fn reply_to(response: reqwest::Response, body: &Value) -> (Path, Value) {
    assert_eq!(response.status(), 200);
    let sse = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = response.text().await.expect("body");
    if !sse {
        return (Path::Fast, serde_json::from_str(&text).expect("JSON"));
    }
    let reply = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m.get("id") == body.get("id"))
        .unwrap_or_else(|| panic!("no response in the stream: {text}"));
    (Path::Full, reply)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_call_takes_the_fast_path_and_answers_what_the_full_path_answers() {
    let sb = Switchboard::start(json!({ "every": everything() }));
    sb.wait_running("every").await;
    let calls = [
        ("echo", json!({ "message": "fast \"quoted\" ünïcode" })),
        ("get-tiny-image", json!({})),
        ("get-structured-content", json!({ "location": "New York" })),
        ("no-such-tool", json!({})),
        // The server asks its client for sampling mid-call; this caller takes no requests,
        // so on either path the server hears that nobody can answer.
        ("trigger-sampling-request", json!({ "prompt": "hi" })),
    ];
    for (n, (tool, arguments)) in calls.into_iter().enumerate() {
        let id = n as u64;
        let (path, fast) = send(
            &sb.mcp_url("every"),
            &call(id, tool, arguments.clone(), json!({})),
        )
        .await;
        assert_eq!(path, Path::Fast, "{tool}: {fast}");
        // A caller that wants log messages on the call, or that takes the server's requests,
        // needs the full proxy: the same call then goes through rmcp.
        let level = json!({ "io.modelcontextprotocol/logLevel": "debug" });
        let (path, with_level) = send(
            &sb.mcp_url("every"),
            &call(id, tool, arguments.clone(), level),
        )
        .await;
        assert_eq!(path, Path::Full, "{tool}");
        let asks = json!({ "io.modelcontextprotocol/clientCapabilities": { "elicitation": {} } });
        let (path, takes_requests) =
            send(&sb.mcp_url("every"), &call(id, tool, arguments, asks)).await;
        assert_eq!(path, Path::Full, "{tool}");
        assert_eq!(fast, with_level, "{tool}: the fast path answers the same");
        assert_eq!(fast, takes_requests, "{tool}");
        assert_eq!(fast["result"]["resultType"], "complete", "{fast}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aggregate_and_its_views_take_the_fast_path_for_the_tools_they_show() {
    let mut hidden = everything();
    hidden["tools"] = json!({ "deny": ["get-env"] });
    let sb = Switchboard::start(json!({ "every": everything(), "other": hidden }));
    sb.wait_running("every").await;
    sb.wait_running("other").await;
    let aggregate = format!("{}/mcp", sb.url);
    let echo = |tool: &str| call(1, tool, json!({ "message": "through /mcp" }), json!({}));
    for url in [aggregate.clone(), format!("{aggregate}?servers=every")] {
        let (path, reply) = send(&url, &echo("every__echo")).await;
        assert_eq!(path, Path::Fast, "{url}: {reply}");
        assert!(reply.to_string().contains("through /mcp"), "{url}: {reply}");
    }
    // A server the view leaves out, a tool its filter hides, a name that is no server's:
    // the full path answers each, in its words.
    for (url, tool) in [
        (format!("{aggregate}?servers=every"), "other__echo"),
        (aggregate.clone(), "other__get-env"),
        (aggregate.clone(), "nobody__echo"),
    ] {
        let (path, reply) = send(&url, &echo(tool)).await;
        assert_eq!(path, Path::Full, "{url} {tool}: {reply}");
        assert!(
            reply.get("error").is_some() || reply["result"]["isError"] == true,
            "{url} {tool}: {reply}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_the_filter_hides_is_refused_in_the_full_paths_words() {
    let mut server = everything();
    server["tools"] = json!({ "deny": ["get-env"] });
    let sb = Switchboard::start(json!({ "every": server }));
    sb.wait_running("every").await;
    let (_, reply) = send(
        &sb.mcp_url("every"),
        &call(7, "get-env", json!({}), json!({})),
    )
    .await;
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("not exposed") && message.contains("every"),
        "{reply}"
    );
}

/// The cancel probe (`support::cancel_probe`) with `extra` keys in its entry.
fn probe(extra: Value) -> Value {
    let mut probe = cancel_probe();
    for (key, value) in extra.as_object().into_iter().flatten() {
        probe[key] = value.clone();
    }
    probe
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fast_call_whose_client_goes_away_is_cancelled_at_the_server() {
    let sb = Switchboard::start(json!({ "probe": probe(json!({})) }));
    sb.wait_running("probe").await;
    // Answered with one JSON body, and (asking for progress) with a stream.
    for (n, meta) in [json!({}), json!({ "progressToken": "p" })]
        .into_iter()
        .enumerate()
    {
        let body = call(n as u64, "wait", json!({ "seconds": 30 }), meta);
        let request = tokio::spawn(post(&sb.mcp_url("probe"), &body).send());
        let started = format!("started wait 30.0 (request sbl~{n})");
        sb.wait_for_log("probe", &started).await;
        request.abort(); // the client hangs up
        sb.wait_for_log_times("probe", "cancelled wait", n + 1)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fast_call_past_its_timeout_fails_naming_the_setting_and_is_cancelled() {
    let timeouts = json!({ "timeouts": { "toolCallSecs": 1 } });
    let sb = Switchboard::start(json!({ "probe": probe(timeouts) }));
    sb.wait_running("probe").await;
    let (path, reply) = send(
        &sb.mcp_url("probe"),
        &call(2, "wait", json!({ "seconds": 30 }), json!({})),
    )
    .await;
    assert_eq!(path, Path::Fast);
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("'probe' did not answer within 1s") && message.contains("timeouts"),
        "{reply}"
    );
    sb.wait_for_log("probe", "cancelled wait").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fast_call_to_a_server_that_dies_fails_at_once_and_says_so() {
    let sb = Switchboard::start(json!({ "probe": probe(json!({})) }));
    let pid = sb.pid_of("probe").await;
    let pending = tokio::spawn({
        let request = post(
            &sb.mcp_url("probe"),
            &call(3, "wait", json!({ "seconds": 60 }), json!({})),
        );
        async move { request.send().await.expect("POST").json::<Value>().await }
    });
    sb.wait_for_log("probe", FAST_START).await;
    signal(pid, nix::sys::signal::Signal::SIGKILL);
    let reply = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("answered at once, not after the call's timeout")
        .expect("task")
        .expect("JSON");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("'probe' closed its connection"), "{reply}");
}

/// A 2025-era Streamable HTTP session opened by hand (`initialize`, then `initialized`).
struct Session {
    url: String,
    id: String,
}

impl Session {
    async fn open(url: String, capabilities: Value) -> Self {
        let initialize = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": capabilities,
                "clientInfo": { "name": "fast-path-test", "version": "1" },
            },
        });
        let response = Self::request(&url, None)
            .json(&initialize)
            .send()
            .await
            .expect("POST");
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_owned();
        let (_, reply) = reply_to(response, &initialize).await;
        assert!(reply.get("result").is_some(), "{reply}");
        let session = Self { url, id };
        let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        let response = session.post(&initialized).send().await.expect("POST");
        assert!(response.status().is_success(), "{}", response.status());
        session
    }

    fn request(url: &str, session: Option<&str>) -> reqwest::RequestBuilder {
        let request = reqwest::Client::new()
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .timeout(WAIT);
        match session {
            Some(id) => request.header("mcp-session-id", id),
            None => request,
        }
    }

    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        Self::request(&self.url, Some(&self.id)).json(body)
    }

    async fn send(&self, body: &Value) -> (Path, Value) {
        reply_to(self.post(body).send().await.expect("POST"), body).await
    }
}

/// A `tools/call` as a 2025-era client sends it in its session.
fn session_call(id: u64, tool: &str, arguments: Value, meta: Option<Value>) -> Value {
    let mut params = json!({ "name": tool, "arguments": arguments });
    if let Some(meta) = meta {
        params["_meta"] = meta;
    }
    json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_takes_the_fast_path_with_the_same_answers_whatever_its_client_offers() {
    let sb = Switchboard::start(json!({ "every": everything() }));
    sb.wait_running("every").await;
    let plain = Session::open(sb.mcp_url("every"), json!({})).await;
    let sampling = Session::open(sb.mcp_url("every"), json!({ "sampling": {} })).await;
    let aggregate = Session::open(format!("{}/mcp", sb.url), json!({})).await;
    let calls = [
        ("echo", json!({ "message": "fast \"quoted\" ünïcode" })),
        ("get-tiny-image", json!({})),
        ("get-structured-content", json!({ "location": "New York" })),
        ("no-such-tool", json!({})),
    ];
    for (n, (tool, arguments)) in calls.into_iter().enumerate() {
        let id = n as u64 + 1;
        let (path, fast) = plain
            .send(&session_call(id, tool, arguments.clone(), None))
            .await;
        assert_eq!(path, Path::Fast, "{tool}: {fast}");
        // A client that takes requests too (nothing is asked of it here).
        let (path, takes_requests) = sampling
            .send(&session_call(id, tool, arguments.clone(), None))
            .await;
        assert_eq!(path, Path::Fast, "{tool}");
        assert_eq!(fast, takes_requests, "{tool}");
        // The full path (a call that asks for log messages, which only it passes on) answers
        // the same.
        let logs = json!({ "io.modelcontextprotocol/logLevel": "error" });
        let full_body = session_call(id, tool, arguments.clone(), Some(logs));
        let (path, full) = plain.send(&full_body).await;
        assert_eq!(path, Path::Full, "{tool}");
        if tool != "no-such-tool" {
            assert_eq!(
                fast["result"], full["result"],
                "{tool}: the full path answers the same"
            );
        }
        let qualified = format!("every__{tool}");
        let (path, through_aggregate) = aggregate
            .send(&session_call(id, &qualified, arguments, None))
            .await;
        assert_eq!(path, Path::Fast, "{qualified}: {through_aggregate}");
        if tool != "no-such-tool" {
            assert_eq!(fast, through_aggregate, "{qualified}");
        }
    }
    // A session the server never opened is refused as ever (rmcp's 404), not served.
    let stranger = Session {
        url: sb.mcp_url("every"),
        id: "no-such-session".into(),
    };
    let response = stranger
        .post(&session_call(9, "echo", json!({ "message": "x" }), None))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 404);
    // A closed session is forgotten: its calls are refused too.
    let closed = reqwest::Client::new()
        .delete(sb.mcp_url("every"))
        .header("mcp-session-id", &plain.id)
        .send()
        .await
        .expect("DELETE");
    assert!(closed.status().is_success(), "{}", closed.status());
    let response = plain
        .post(&session_call(10, "echo", json!({ "message": "x" }), None))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fast_session_call_the_client_cancels_is_cancelled_at_the_server() {
    let sb = Switchboard::start(json!({ "probe": probe(json!({})) }));
    sb.wait_running("probe").await;
    let session = Session::open(sb.mcp_url("probe"), json!({})).await;
    let body = session_call(5, "wait", json!({ "seconds": 30 }), None);
    let pending = tokio::spawn(session.post(&body).send());
    sb.wait_for_log("probe", FAST_START).await;
    let cancel = json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": { "requestId": 5, "reason": "the user pressed stop" },
    });
    let response = session.post(&cancel).send().await.expect("POST");
    assert!(response.status().is_success(), "{}", response.status());
    sb.wait_for_log("probe", "cancelled wait").await;
    let response = tokio::time::timeout(WAIT, pending)
        .await
        .expect("the call ends when cancelled")
        .expect("task")
        .expect("POST");
    let (path, reply) = reply_to(response, &body).await;
    assert_eq!(path, Path::Fast);
    assert_eq!(reply["error"]["code"], -32800, "{reply}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_used_only_through_the_fast_path_does_not_expire_while_in_use() {
    let sb = Switchboard::start_with_file(json!({
        "mcpServers": { "every": everything() },
        "gateway": { "sessionIdleSecs": 2 },
    }));
    sb.wait_running("every").await;
    let session = Session::open(sb.mcp_url("every"), json!({})).await;
    // Calls for three times the idle limit, each well inside it.
    let until = tokio::time::Instant::now() + Duration::from_secs(6);
    let mut id = 1;
    while tokio::time::Instant::now() < until {
        let (path, reply) = session
            .send(&session_call(
                id,
                "echo",
                json!({ "message": "still here" }),
                None,
            ))
            .await;
        assert_eq!(path, Path::Fast, "{reply}");
        id += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // rmcp's own session is still there: a request only it answers succeeds.
    let list = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/list" });
    let (path, reply) = session.send(&list).await;
    assert_eq!(path, Path::Full);
    assert!(reply["result"]["tools"].is_array(), "{reply}");
    // Left alone, it expires as before, and a call is then refused.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let response = session
        .post(&session_call(
            id + 1,
            "echo",
            json!({ "message": "gone" }),
            None,
        ))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_sse_session_takes_the_fast_path() {
    let sb = Switchboard::start(json!({ "probe": probe(json!({})) }));
    sb.wait_running("probe").await;
    let wait =
        |id: u64, seconds: f64| session_call(id, "wait", json!({ "seconds": seconds }), None);

    // Answered on the stream, sent to the server under the lane's id.
    let mut plain = LegacySession::open(&sb, "probe", json!({})).await;
    plain.post(wait(1, 0.01)).await;
    let answer = plain.answer_to(1).await;
    assert_eq!(answer["result"]["content"][0]["text"], "waited", "{answer}");
    sb.wait_for_log("probe", "started wait 0.01 (request sbl~")
        .await;

    // Cancelled by the client: the server hears it, the stream says so.
    plain.post(wait(2, 30.0)).await;
    sb.wait_for_log("probe", "started wait 30.0 (request sbl~")
        .await;
    plain
        .post(json!({
            "jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": { "requestId": 2, "reason": "stop" },
        }))
        .await;
    sb.wait_for_log("probe", "cancelled wait").await;
    assert_eq!(plain.answer_to(2).await["error"]["code"], -32800);

    // A client that takes requests takes it too.
    let mut sampling = LegacySession::open(&sb, "probe", json!({ "sampling": {} })).await;
    sampling.post(wait(3, 0.02)).await;
    let answer = sampling.answer_to(3).await;
    assert_eq!(answer["result"]["content"][0]["text"], "waited", "{answer}");
    sb.wait_for_log("probe", "started wait 0.02 (request sbl~")
        .await;

    // The client goes away mid-call: the server hears of it.
    plain.post(wait(4, 30.0)).await;
    sb.wait_for_log("probe", "started wait 30.0 (request sbl~1")
        .await;
    drop(plain);
    sb.wait_for_log_times("probe", "cancelled wait", 2).await;
}

/// The client's answer to an elicitation request of the probe's `ask` tool.
fn named(request: &Value, name: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": request["id"],
        "result": { "action": "accept", "content": { "name": name } },
    })
}

/// The messages of a streamed (SSE) response, as they come.
fn streamed(response: reqwest::Response) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    support::sse::read_data(response, move |data| {
        if let Ok(message) = serde_json::from_str(data) {
            let _ = tx.send(message);
        }
    });
    rx
}

async fn next_message(messages: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(WAIT, messages.recv())
        .await
        .expect("a message in time")
        .expect("the stream is open")
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_server_asks_during_a_fast_call_is_asked_on_the_calls_stream() {
    let sb = Switchboard::start(json!({ "probe": probe(json!({})) }));
    sb.wait_running("probe").await;
    let asks = json!({ "elicitation": {} });
    for (url, tool, name) in [
        (sb.mcp_url("probe"), "ask", "Ada"),
        (format!("{}/mcp", sb.url), "probe__ask", "Grace"),
    ] {
        let session = Session::open(url.clone(), asks.clone()).await;
        let body = session_call(7, tool, json!({ "question": "Your name?" }), None);
        let response = session.post(&body).send().await.expect("POST");
        assert_eq!(response.status(), 200);
        let mut messages = streamed(response);
        let request = next_message(&mut messages).await;
        assert_eq!(request["method"], "elicitation/create", "{request}");
        assert_eq!(request["params"]["message"], "Your name?", "{request}");
        // The answer is POSTed to the session like any message, and taken at once.
        let answered = session
            .post(&named(&request, name))
            .send()
            .await
            .expect("POST");
        assert_eq!(answered.status(), 202, "{url}");
        let reply = next_message(&mut messages).await;
        assert_eq!(reply["id"], 7, "{reply}");
        assert_eq!(
            reply["result"]["content"][0]["text"],
            format!("accept {name}"),
            "{url}: {reply}"
        );
        // The answer went once: sent again, it is not the fast path's any more.
        let again = session
            .post(&named(&request, name))
            .send()
            .await
            .expect("POST");
        assert!(again.status().is_success(), "{}", again.status());
    }
    sb.wait_for_log_times("probe", "started ask (request sbl~", 2)
        .await;
}

/// What the server sends a session outside any request (its `GET` stream), as it comes.
async fn standalone(session: &Session) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let response = reqwest::Client::new()
        .get(&session.url)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-session-id", &session.id)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    streamed(response)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_active_only_through_fast_calls_is_the_one_asked_outside_calls() {
    let sb = Switchboard::start(json!({ "probe": probe(json!({})) }));
    sb.wait_running("probe").await;
    let roots = json!({ "roots": {} });
    for (url, tool, root) in [
        (
            sb.mcp_url("probe"),
            "roots_later",
            "file:///server-endpoint",
        ),
        (
            format!("{}/mcp", sb.url),
            "probe__roots_later",
            "file:///aggregate",
        ),
    ] {
        // Both sessions take roots requests; the other opens last, so without its calls
        // counting the caller would not be the most recently active (on the aggregate, it
        // would not even have joined the server's registry).
        let caller = Session::open(url.clone(), roots.clone()).await;
        let mut asked = standalone(&caller).await;
        let other = Session::open(url.clone(), roots.clone()).await;
        let mut not_asked = standalone(&other).await;
        let body = session_call(5, tool, json!({ "seconds": 0.3 }), None);
        let (path, reply) = caller.send(&body).await;
        assert_eq!(path, Path::Fast, "{url}: {reply}");
        assert_eq!(reply["result"]["content"][0]["text"], "later", "{reply}");
        // The call has been answered; its server asks "the client" for roots afterwards.
        let request = next_message(&mut asked).await;
        assert_eq!(request["method"], "roots/list", "{url}: {request}");
        let roots = json!({
            "jsonrpc": "2.0", "id": request["id"],
            "result": { "roots": [{ "uri": root }] },
        });
        let answered = caller.post(&roots).send().await.expect("POST");
        assert!(answered.status().is_success(), "{}", answered.status());
        sb.wait_for_log("probe", &format!("roots later: {root}"))
            .await;
        assert!(
            not_asked.try_recv().is_err(),
            "{url}: the other session is asked nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_server_asks_during_a_legacy_sse_fast_call_is_asked_on_the_sessions_stream() {
    let sb = Switchboard::start(json!({ "probe": probe(json!({})) }));
    sb.wait_running("probe").await;
    let mut session = LegacySession::open(&sb, "probe", json!({ "elicitation": {} })).await;
    session
        .post(session_call(3, "ask", json!({ "question": "Name?" }), None))
        .await;
    let request = session.request_of("elicitation/create").await;
    assert_eq!(request["params"]["message"], "Name?", "{request}");
    session.post(named(&request, "Barbara")).await;
    let answer = session.answer_to(3).await;
    assert_eq!(
        answer["result"]["content"][0]["text"], "accept Barbara",
        "{answer}"
    );
    sb.wait_for_log("probe", "started ask (request sbl~").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_asking_during_a_call_of_a_client_that_takes_no_requests_is_refused() {
    let sb = Switchboard::start(json!({ "probe": probe(json!({})) }));
    sb.wait_running("probe").await;
    let session = Session::open(sb.mcp_url("probe"), json!({})).await;
    let body = session_call(4, "ask", json!({ "question": "Name?" }), None);
    let (path, reply) = session.send(&body).await;
    assert_eq!(path, Path::Fast, "{reply}");
    // The probe's elicitation was refused, so its tool failed, in the server's words.
    let text = reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    assert!(text.contains("elicitation"), "{text}");
}

/// The messages of an SSE response body, in order.
fn sse_messages(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

/// Checks that `messages` are `count` progress notifications for `token`, in order, and then
/// the answer of the probe's `steps`.
fn assert_progress_then_answer(messages: &[Value], token: &Value, count: u64) {
    let (answer, progress) = messages.split_last().expect("messages");
    assert_eq!(progress.len() as u64, count, "{messages:#?}");
    for (n, note) in progress.iter().enumerate() {
        assert_eq!(note["method"], "notifications/progress", "{note}");
        assert_eq!(&note["params"]["progressToken"], token, "{note}");
        let step = note["params"]["progress"].as_f64();
        assert_eq!(step, Some(n as f64 + 1.0), "{note}");
    }
    let text = format!("{count} steps");
    assert_eq!(answer["result"]["content"][0]["text"], text, "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_reaches_the_caller_on_the_fast_path_before_the_answer() {
    let sb = Switchboard::start(json!({ "probe": probe(json!({})) }));
    sb.wait_running("probe").await;
    let steps = json!({ "count": 3 });

    // 2026-07-28 stateless: an SSE stream of the progress, then the answer.
    let token = json!("stateless-token");
    let body = call(1, "steps", steps.clone(), json!({ "progressToken": token }));
    let response = post(&sb.mcp_url("probe"), &body)
        .send()
        .await
        .expect("POST");
    let text = response.text().await.expect("body");
    assert_progress_then_answer(&sse_messages(&text), &token, 3);

    // A 2025-era Streamable HTTP session.
    let session = Session::open(sb.mcp_url("probe"), json!({})).await;
    let token = json!(17);
    let body = session_call(
        2,
        "steps",
        steps.clone(),
        Some(json!({ "progressToken": token })),
    );
    let text = session
        .post(&body)
        .send()
        .await
        .expect("POST")
        .text()
        .await
        .expect("body");
    assert_progress_then_answer(&sse_messages(&text), &token, 3);

    // A legacy SSE session: on its stream.
    let mut legacy = LegacySession::open(&sb, "probe", json!({})).await;
    let token = json!("legacy");
    let body = session_call(3, "steps", steps, Some(json!({ "progressToken": token })));
    legacy.post(body).await;
    let mut messages = Vec::new();
    while messages
        .last()
        .is_none_or(|m: &Value| m.get("id").is_none())
    {
        let message = tokio::time::timeout(WAIT, legacy.messages.recv())
            .await
            .expect("a message")
            .expect("the stream is open");
        messages.push(message);
    }
    assert_progress_then_answer(&messages, &token, 3);

    // All three reached the server on the fast path.
    let (_, logs) = sb.get("/api/servers/probe/logs").await;
    let fast = logs
        .to_string()
        .matches("started steps 3 (request sbl~")
        .count();
    assert_eq!(fast, 3, "{logs}");
}
