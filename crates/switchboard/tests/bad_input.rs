//! Bad input over HTTP: every refusal is a clear 4xx, nothing panics, and the gateway keeps
//! serving afterwards.

mod support;

use std::time::Duration;

use serde_json::json;
use support::client::{call, connect, RecordingClient};
use support::{everything, Switchboard};

async fn request(
    sb: &Switchboard,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    let http = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut builder = http
        .request(method, format!("{}{path}", sb.url))
        .timeout(Duration::from_secs(30))
        .body(body);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = builder.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Sends a request by hand (so a refusal can be read while the body is still unsent) and
/// returns the status. `declared`: a Content-Length to announce; else the body is chunked.
async fn raw_status(
    sb: &Switchboard,
    method: &str,
    path: &str,
    declared: Option<usize>,
    body: Vec<u8>,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = sb.url.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let length = match declared {
        Some(n) => format!("content-length: {n}\r\n"),
        None => "transfer-encoding: chunked\r\n".to_owned(),
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\n{length}\r\n"
    );
    let writer = tokio::spawn(async move {
        let _ = write.write_all(head.as_bytes()).await;
        let _ = write.write_all(&body).await; // may fail once the server has answered
        write
    });
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !response.windows(2).any(|w| w == b"\r\n") {
        match tokio::time::timeout_at(deadline, read.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => response.extend_from_slice(&buf[..n]),
            other => panic!("no answer to {method} {path}: {other:?}"),
        }
    }
    writer.abort();
    let line = String::from_utf8_lossy(&response);
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const MCP_HEADERS: [(&str, &str); 2] = [
    ("content-type", "application/json"),
    ("accept", "application/json, text/event-stream"),
];

#[tokio::test(flavor = "multi_thread")]
async fn foreign_origins_and_rebinding_hosts_are_refused_everywhere() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    let paths = [
        "/api/servers",
        "/servers/everything/mcp",
        "/mcp",
        "/servers/everything/sse",
        "/",
    ];
    for path in paths {
        for headers in [
            vec![("origin", "https://evil.example")],
            vec![("origin", "null")],
            vec![("host", "evil.example:7427")],
            vec![("host", "127.0.0.1.nip.io")],
        ] {
            let (status, body) = request(&sb, "GET", path, &headers, Vec::new()).await;
            assert_eq!(status, 403, "GET {path} with {headers:?}: {body}");
            let error: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(error["error"]["code"], "forbidden", "{body}");
        }
    }
    // The gateway's own origin is fine.
    let own = sb.url.clone();
    let (status, _) = request(&sb, "GET", "/api/servers", &[("origin", &own)], Vec::new()).await;
    assert_eq!(status, 200);
    let (status, _) = request(
        &sb,
        "GET",
        "/api/servers",
        &[("origin", "tauri://localhost")],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_oversized_and_misdirected_requests_get_clear_errors() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;

    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        // Malformed JSON-RPC, batches and non-objects on the Streamable HTTP endpoint.
        (
            "POST",
            "/servers/everything/mcp",
            b"{not json".to_vec(),
            400,
        ),
        ("POST", "/servers/everything/mcp", b"42".to_vec(), 400),
        (
            "POST",
            "/servers/everything/mcp",
            br#"{"jsonrpc":"2.0"}"#.to_vec(),
            400,
        ),
        ("POST", "/mcp", b"[]".to_vec(), 400),
        // The legacy endpoint without or with an unknown session.
        ("POST", "/servers/everything/messages", b"{}".to_vec(), 400),
        (
            "POST",
            "/servers/everything/messages?sessionId=nope",
            br#"{"jsonrpc":"2.0","method":"ping","id":1}"#.to_vec(),
            404,
        ),
        (
            "POST",
            "/messages?sessionId=nope",
            br#"{"jsonrpc":"2.0","method":"ping","id":1}"#.to_vec(),
            404,
        ),
        // Unknown and invalid server names.
        ("POST", "/servers/nope/mcp", b"{}".to_vec(), 404),
        ("GET", "/servers/nope/sse", Vec::new(), 404),
        ("GET", "/servers/..%2F..%2Fetc/mcp", Vec::new(), 404),
        ("GET", "/api/servers/%00", Vec::new(), 404),
        // Wrong methods.
        ("DELETE", "/api/config", Vec::new(), 405),
        ("GET", "/servers/everything/messages", Vec::new(), 405),
        ("PUT", "/api/servers/everything/restart", Vec::new(), 405),
    ];
    for (method, path, body, expected) in cases {
        let (status, text) = request(&sb, method, path, &MCP_HEADERS, body.clone()).await;
        assert_eq!(
            status,
            expected,
            "{method} {path} {:?}: {text}",
            String::from_utf8_lossy(&body)
        );
    }

    // An unknown Streamable HTTP session: 404, so clients initialise again.
    let (status, _) = request(
        &sb,
        "POST",
        "/servers/everything/mcp",
        &[
            MCP_HEADERS[0],
            MCP_HEADERS[1],
            ("mcp-session-id", "no-such-session"),
        ],
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 404);

    // 40 MB: refused from the declared length, before the body is read, on every kind of
    // endpoint; a chunked body without a length is cut off at the limit.
    for path in [
        "/servers/everything/mcp",
        "/api/servers/everything",
        "/messages?sessionId=x",
    ] {
        let method = if path.starts_with("/api") {
            "PATCH"
        } else {
            "POST"
        };
        let status = raw_status(&sb, method, path, Some(40 * 1024 * 1024), Vec::new()).await;
        assert_eq!(status, 413, "{method} {path} declaring 40 MB");
    }
    let chunk = vec![b' '; 6 * 1024 * 1024];
    let mut chunked = format!("{:x}\r\n", chunk.len()).into_bytes();
    chunked.extend_from_slice(&chunk);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let status = raw_status(&sb, "PATCH", "/api/servers/everything", None, chunked).await;
    assert_eq!(status, 413, "chunked 6 MB");

    // Still healthy, still serving.
    let (status, _) = request(&sb, "GET", "/api/health", &[], Vec::new()).await;
    assert_eq!(status, 200);
    let client = connect(sb.mcp_url("everything"), RecordingClient::default()).await;
    client
        .call_tool(call("echo", json!({ "message": "still here" })))
        .await
        .expect("serving after the abuse");
    client.cancel().await.ok();
    assert!(!sb.stderr().contains("panicked"), "{}", sb.stderr());
}

#[tokio::test(flavor = "multi_thread")]
async fn binding_beyond_loopback_without_a_token_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("servers.json");
    std::fs::write(
        &config,
        r#"{"mcpServers":{},"gateway":{"host":"0.0.0.0","port":0}}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("gateway.token") && stderr.contains("0.0.0.0"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_beyond_the_per_server_limit_are_refused_until_one_closes() {
    use rmcp::service::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    let sb = Switchboard::start_with_file(json!({
        "mcpServers": { "everything": everything() },
        "gateway": { "maxSessionsPerServer": 2 },
    }));
    sb.wait_running("everything").await;
    let first = connect(sb.mcp_url("everything"), RecordingClient::default()).await;
    let second = connect(sb.mcp_url("everything"), RecordingClient::default()).await;
    let refused = RecordingClient::default()
        .serve(StreamableHttpClientTransport::from_uri(
            sb.mcp_url("everything"),
        ))
        .await
        .err()
        .expect("a third session is refused")
        .to_string();
    assert!(refused.contains("maxSessionsPerServer"), "{refused}");
    first.cancel().await.ok();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = RecordingClient::default()
            .serve(StreamableHttpClientTransport::from_uri(
                sb.mcp_url("everything"),
            ))
            .await;
        if let Ok(third) = attempt {
            third.cancel().await.ok();
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed session's place was not freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.cancel().await.ok();
}
