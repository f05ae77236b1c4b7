//! The gateway's inbound path: raw HTTP requests into the real axum router (guard, REST API,
//! Streamable HTTP and legacy SSE endpoints, dashboard fallback), in process.
//!
//! # Input format
//!
//! An input is up to [`MAX_REQUESTS`] HTTP/1.1-style requests separated by lines of `---`:
//!
//! ```text
//! POST /mcp HTTP/1.1
//! Host: 127.0.0.1:7427
//! Content-Type: application/json
//!
//! {"jsonrpc":"2.0","id":1,"method":"ping"}
//! ---
//! GET /api/servers HTTP/1.1
//! ```
//!
//! The request line is `METHOD TARGET [VERSION]` (bytes that cannot appear in a request target
//! are percent-encoded), then `Name: value` headers up to an empty line, then the body (the
//! rest of the chunk, byte for byte). In the target and header values, `$SESSION` is replaced
//! by the last `mcp-session-id` the gateway handed out during this input, and `$SSE` by the
//! last legacy SSE session id (from an `endpoint` event), so one input can initialise a
//! session and then use it. The pseudo-header `X-Fuzz-Peer: 10.1.2.3:4444` sets the client
//! address the guard sees (default: none, as in-process; the real server sees loopback).
//!
//! # What is checked
//!
//! - nothing panics, in the handlers or in any task they spawn (libfuzzer-sys aborts on any
//!   panic);
//! - every request is answered (status and headers) within [`HANG`], and a body that is not an
//!   event stream ends within it too;
//! - the guard: a request whose first `Host` header (or, without one, the target's authority)
//!   names `evil`, whose first `Origin` names `evil`, that has no host at all, or that comes
//!   from a non-loopback peer (no token is configured) is refused with 403 and a JSON error;
//! - legacy SSE sessions end when their stream is dropped (none is left after an input).
//!
//! The config is `fuzz/http_config.json` (servers that are all `disabled`), in a temporary
//! directory. PUT and PATCH bodies that are JSON objects get `"disabled": true` forced in, the
//! children's PATH is an empty directory, and the file is put back after any input that changed
//! it: the fuzzer never starts a child process.
#![no_main]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, ORIGIN};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use switchboard::config::GatewaySettings;
use switchboard::fuzzing::{router, AppState, Launcher, Reload};
use switchboard::{ConfigStore, EventBus, Hub};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// Requests per input.
const MAX_REQUESTS: usize = 8;
/// A request not answered within this is a hang (a finding).
const HANG: Duration = Duration::from_secs(10);
/// How long to wait for the `endpoint` event of a legacy SSE stream.
const ENDPOINT_WAIT: Duration = Duration::from_millis(500);
/// Turns of the runtime any other event stream gets to say something (or end).
const STREAM_TURNS: u32 = 16;
/// Bytes kept of a body.
const BODY_KEEP: usize = 64 * 1024;

const BASE_CONFIG: &str = include_str!("../http_config.json");

struct Harness {
    rt: Runtime,
    app: Router,
    state: AppState,
    store: Arc<ConfigStore>,
    config_path: PathBuf,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        // tmpfs when there is one: the store fsyncs every edit it writes.
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("temp dir");
        let config_path = dir.path().join("servers.json");
        std::fs::write(&config_path, BASE_CONFIG).expect("write servers.json");
        let empty_path = dir.path().join("empty-path");
        std::fs::create_dir(&empty_path).expect("create empty PATH dir");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (state, store) = rt.block_on(async {
            let events = EventBus::default();
            let launcher = Arc::new(Launcher {
                search_path: Some(empty_path.into_os_string()),
                ..Launcher::default()
            });
            let hub = Hub::new(events.clone(), None, launcher);
            let store = ConfigStore::new(config_path.clone(), Arc::clone(&hub), events);
            let reload = store.reload().await;
            assert!(
                matches!(reload, Reload::Applied(_)),
                "fuzz/http_config.json did not apply: {reload:?}"
            );
            let state = AppState::new(
                hub,
                Arc::clone(&store),
                "127.0.0.1:7427".parse().unwrap(),
                &GatewaySettings::default(),
            );
            (state, store)
        });
        let app = router(state.clone());
        Harness {
            rt,
            app,
            state,
            store,
            config_path,
            _dir: dir,
        }
    })
}

/// `SWITCHBOARD_FUZZ_TRACE=1`: print each request, its answer and what streams said (to see
/// what a corpus file does).
fn trace() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SWITCHBOARD_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

fuzz_target!(|data: &[u8]| {
    let requests = split_requests(data);
    if requests.is_empty() {
        return;
    }
    let h = harness();
    h.rt.block_on(run_input(h, requests));
});

/// One request as written in the input, before substitution.
struct Raw<'a> {
    method: &'a [u8],
    target: &'a [u8],
    headers: Vec<(&'a [u8], &'a [u8])>,
    body: &'a [u8],
}

fn split_requests(data: &[u8]) -> Vec<Raw<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut line_start = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            let line = trim_cr(&data[line_start..i]);
            if line == b"---" {
                chunks.push(&data[start..line_start.saturating_sub(1).max(start)]);
                start = i + 1;
            }
            line_start = i + 1;
        }
    }
    chunks.push(&data[start..]);
    chunks
        .into_iter()
        .filter_map(parse_request)
        .take(MAX_REQUESTS)
        .collect()
}

/// Takes the next line (without its `\r\n` or `\n`) off the front of `rest`.
fn next_line<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    if rest.is_empty() {
        return None;
    }
    let (line, after) = match rest.iter().position(|&b| b == b'\n') {
        Some(n) => (&rest[..n], &rest[n + 1..]),
        None => (&rest[..], &rest[rest.len()..]),
    };
    *rest = after;
    Some(trim_cr(line))
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_request(chunk: &[u8]) -> Option<Raw<'_>> {
    let mut rest = chunk;
    let request_line = next_line(&mut rest)?;
    let mut parts = request_line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let method = parts.next()?;
    let target = parts.next().unwrap_or(b"/");
    let mut headers = Vec::new();
    loop {
        let before = rest;
        match next_line(&mut rest) {
            None => break,
            Some([]) => break,
            Some(line) => match line.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let value = &line[colon + 1..];
                    let value = value.strip_prefix(b" ").unwrap_or(value);
                    headers.push((&line[..colon], value));
                }
                None => {
                    // Not a header: the body starts here.
                    rest = before;
                    break;
                }
            },
        }
    }
    Some(Raw {
        method,
        target,
        headers,
        body: rest,
    })
}

/// What one input has opened, to use in later requests and to close at its end.
#[derive(Default)]
struct Context {
    /// `mcp-session-id`s handed out, with the target (path and query) that opened them.
    sessions: Vec<(String, String)>,
    /// The last legacy SSE session id.
    sse: Option<String>,
    /// Event streams being drained.
    streams: Vec<JoinHandle<()>>,
    /// Whether servers.json may have been changed.
    edited: bool,
}

async fn run_input(h: &Harness, requests: Vec<Raw<'_>>) {
    let mut cx = Context::default();
    for raw in &requests {
        send(h, &mut cx, raw).await;
    }
    cleanup(h, cx).await;
}

fn substitute(bytes: &[u8], cx: &Context) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (marker, value) in [
        (
            &b"$SESSION"[..],
            cx.sessions.last().map(|(_, id)| id.as_str()),
        ),
        (&b"$SSE"[..], cx.sse.as_deref()),
    ] {
        let Some(value) = value else { continue };
        while let Some(at) = find(&out, marker) {
            out.splice(at..at + marker.len(), value.bytes());
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Percent-encodes what cannot appear in a request target, so that most inputs are requests.
fn encode_target(target: &[u8]) -> Option<Uri> {
    let mut out = String::with_capacity(target.len() + 1);
    if !target.starts_with(b"/") && !target.starts_with(b"http") && target != b"*" {
        out.push('/');
    }
    for &b in target {
        let keep = b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' | b'#'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.parse().ok()
}

/// What the guard must refuse, judged from the request as sent.
fn must_be_refused(request: &Request<Body>, peer: Option<SocketAddr>) -> Option<&'static str> {
    if peer.is_some_and(|p| !p.ip().is_loopback()) {
        return Some("a remote peer without a configured token");
    }
    // The host part of `host[:port]` or `[v6]:port` names `evil` (a bad port alone is harmless).
    let host_names_evil = |v: &[u8]| {
        let v = String::from_utf8_lossy(v).to_ascii_lowercase();
        let v = v.trim_start();
        let host = match v.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(""),
            None => v.split(':').next().unwrap_or(""),
        };
        host.contains("evil")
    };
    match request.headers().get(HOST) {
        Some(host) if host_names_evil(host.as_bytes()) => return Some("a foreign Host"),
        Some(_) => {}
        None => match request.uri().authority() {
            Some(a) if host_names_evil(a.as_str().as_bytes()) => {
                return Some("a foreign authority and no Host")
            }
            Some(_) => {}
            None => return Some("no Host"),
        },
    }
    let origin_names_evil = |v: &HeaderValue| {
        String::from_utf8_lossy(v.as_bytes())
            .to_ascii_lowercase()
            .contains("evil")
    };
    if request.headers().get(ORIGIN).is_some_and(origin_names_evil) {
        return Some("a foreign Origin");
    }
    None
}

async fn send(h: &Harness, cx: &mut Context, raw: &Raw<'_>) {
    let Ok(method) = Method::from_bytes(raw.method) else {
        return;
    };
    let Some(uri) = encode_target(&substitute(raw.target, cx)) else {
        return;
    };
    let target = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let path = uri.path().to_owned();
    let mut body = raw.body.to_vec();
    // Any method but GET and HEAD may reach an API edit (whatever the path looks like after
    // routing), so every such body is made harmless and the file is restored afterwards.
    if method != Method::GET && method != Method::HEAD {
        cx.edited = true;
        body = never_launch(body);
    }

    let mut request = Request::new(Body::from(body));
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri;
    let mut peer = None;
    for (name, value) in &raw.headers {
        if name.eq_ignore_ascii_case(b"x-fuzz-peer") {
            peer = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
            continue;
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(&substitute(value, cx)),
        ) else {
            continue;
        };
        request.headers_mut().append(name, value);
    }
    if let Some(peer) = peer {
        request
            .extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(peer));
    }
    let refusal = must_be_refused(&request, peer);
    let described = format!("{method} {target}");

    let response = match tokio::time::timeout(HANG, h.app.clone().oneshot(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => panic!("{described}: no response within {HANG:?}"),
    };
    let status = response.status();
    let headers = response.headers().clone();
    if trace() {
        eprintln!(
            "{described} -> {status} {:?} session={:?}",
            headers.get(CONTENT_TYPE),
            headers.get("mcp-session-id")
        );
    }
    for slot in h.state.hub.slots() {
        assert!(
            slot.settings().spec.disabled,
            "harness bug: {described} made server '{}' launchable",
            slot.name()
        );
    }
    if let Some(why) = refusal {
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{described} with {why} was not refused"
        );
    }
    if let Some(id) = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) {
        cx.sessions.push((target.clone(), id.to_owned()));
    }
    let is_stream = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));

    if is_stream {
        let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
        let done = Arc::new(tokio::sync::Notify::new());
        let task = {
            let seen = Arc::clone(&seen);
            let done = Arc::clone(&done);
            let mut body = response.into_body();
            tokio::spawn(async move {
                while let Some(frame) = body.frame().await {
                    let Ok(frame) = frame else { break };
                    if let Some(data) = frame.data_ref() {
                        let mut seen = seen.lock().unwrap();
                        let room = BODY_KEEP.saturating_sub(seen.len());
                        seen.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    done.notify_one();
                }
                done.notify_one();
            })
        };
        // A legacy SSE stream's first event names its session: wait for it (it comes at once).
        // Other streams get a few turns of the runtime to say something or end, no more: some
        // (logs, a GET /mcp) stay silent until something happens.
        let wants_endpoint = method == Method::GET && path.ends_with("/sse");
        let deadline = tokio::time::Instant::now() + ENDPOINT_WAIT;
        let mut turns = 0;
        loop {
            let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
            if let Some(id) = endpoint_session(&text) {
                cx.sse = Some(id);
                break;
            }
            if task.is_finished()
                || (!wants_endpoint && (text.contains("\n\n") || turns >= STREAM_TURNS))
            {
                break;
            }
            if wants_endpoint {
                if tokio::time::timeout_at(deadline, done.notified())
                    .await
                    .is_err()
                {
                    break;
                }
            } else {
                tokio::task::yield_now().await;
                turns += 1;
            }
        }
        if trace() {
            eprintln!(
                "  stream: {:?}",
                String::from_utf8_lossy(&seen.lock().unwrap())
            );
        }
        cx.streams.push(task);
    } else {
        let bytes = match tokio::time::timeout(HANG, response.into_body().collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => return,
            Err(_) => panic!("{described}: {status} body did not end within {HANG:?}"),
        };
        if trace() {
            let n = bytes.len().min(300);
            eprintln!("  body: {:?}", String::from_utf8_lossy(&bytes[..n]));
        }
        if refusal.is_some() && method != Method::HEAD {
            let json: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
            assert!(
                json.as_ref().is_ok_and(|j| j["error"]["code"].is_string()),
                "{described}: the 403 is not a JSON error: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

/// `data: /messages?sessionId=abc` -> `abc`.
fn endpoint_session(events: &str) -> Option<String> {
    let at = events.find("sessionId=")? + "sessionId=".len();
    let id: String = events[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// Forces `"disabled": true` into a JSON object body, so no edit can make a server launch.
fn never_launch(body: Vec<u8>) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert("disabled".into(), serde_json::Value::Bool(true));
            serde_json::to_vec(&map).unwrap_or(body)
        }
        _ => body,
    }
}

async fn cleanup(h: &Harness, cx: Context) {
    for (target, id) in &cx.sessions {
        let Ok(uri) = target.parse::<Uri>() else {
            continue;
        };
        let mut request = Request::new(Body::empty());
        *request.method_mut() = Method::DELETE;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:7427"));
        if let Ok(id) = HeaderValue::from_str(id) {
            headers.insert("mcp-session-id", id);
        }
        if let Ok(Ok(response)) = tokio::time::timeout(HANG, h.app.clone().oneshot(request)).await {
            let _ = tokio::time::timeout(HANG, response.into_body().collect()).await;
        }
    }
    for stream in &cx.streams {
        stream.abort();
    }
    for stream in cx.streams {
        let _ = stream.await;
    }
    if cx.edited && std::fs::read_to_string(&h.config_path).ok().as_deref() != Some(BASE_CONFIG) {
        std::fs::write(&h.config_path, BASE_CONFIG).expect("restore servers.json");
        h.store.reload().await;
    }
    // Dropping a legacy SSE stream ends its session.
    let deadline = tokio::time::Instant::now() + HANG;
    while !h.state.sse.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} legacy SSE session(s) still open {HANG:?} after their streams were dropped",
            h.state.sse.len()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
