//! The HTTP side of the fast path (`proxy::FastCall`): a `tools/call` POST answered without
//! rmcp's Streamable HTTP service, when its headers say it may be one and its body and the
//! server's state then agree.
//!
//! Two kinds of request may take it: a 2026-07-28 stateless one (`Mcp-Method: tools/call`,
//! no session), and one in a 2025-era session ([`FastSessions`], learnt from the session's
//! `initialize` by [`opening`] and [`closing`]). A session's client that takes requests is
//! asked what the server asks during its call on the call's stream, and its answers, POSTed
//! to the session, are taken here before anything else (`proxy::FastAsks`).
//! The headers are looked at first, so every other request reaches rmcp untouched. A request
//! whose headers qualify has its body read here; when the body or the server's state then
//! turns out to need the full path, the request goes on to rmcp rebuilt from the same bytes.
//! What rmcp would refuse (a missing `Accept` type, a header that contradicts the body, a
//! session it does not have) is never taken, so the refusals stay rmcp's.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::fast_sessions::{FastSessions, InFlight};
use super::guard::MAX_BODY_BYTES;
use crate::proxy::{
    cancelled_request, read_initialize, Caller, FastCall, Message, Opening, Route, Tap,
};

const SESSION_ID: &str = "mcp-session-id";

/// Answers `request` on the fast path, or gives it back for rmcp. `sessions` are the
/// endpoint's; `route` is its routing of a tool name (see [`FastCall::read`]).
pub async fn try_call(
    request: Request,
    sessions: &FastSessions,
    route: Route<'_>,
    tap: &Tap,
) -> Result<Response, Request> {
    if !posts_json(&request) {
        return Err(request);
    }
    let headers = request.headers();
    if single(headers, SESSION_ID).is_some() && !headers.contains_key("mcp-method") {
        in_session(request, sessions, route, tap).await
    } else if stateless_call(headers) {
        stateless(request, route, tap).await
    } else {
        Err(request)
    }
}

async fn stateless(request: Request, route: Route<'_>, tap: &Tap) -> Result<Response, Request> {
    let (parts, body) = match read(request).await {
        Ok(read) => read,
        Err(answer) => return Ok(answer),
    };
    let headers = &parts.headers;
    let (Some(version), Some(name)) = (
        single(headers, "mcp-protocol-version"),
        single(headers, "mcp-name"),
    ) else {
        return Err(Request::from_parts(parts, Body::from(body)));
    };
    let Some(call) = FastCall::read(&body, &Caller::Stateless { version, name }, &route) else {
        return Err(Request::from_parts(parts, Body::from(body)));
    };
    let call = call.recorded(&tap.log, tap.origin.clone(), &body);
    Ok(answer(call, CancellationToken::new(), None).await)
}

async fn in_session(
    request: Request,
    sessions: &FastSessions,
    route: Route<'_>,
    tap: &Tap,
) -> Result<Response, Request> {
    let Some(id) = single(request.headers(), SESSION_ID).map(str::to_owned) else {
        return Err(request);
    };
    let Some(session) = sessions.get(&id) else {
        return Err(request); // a session rmcp answers for (or refuses)
    };
    let (parts, body) = match read(request).await {
        Ok(read) => read,
        Err(answer) => return Ok(answer),
    };
    if session.asks.answer(&body) {
        // rmcp answers a POSTed response so too.
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if let Some(cancelled) = cancelled_request(&body) {
        // rmcp hears it too (for calls it forwarded itself).
        session.cancel(cancelled.trim());
        return Err(Request::from_parts(parts, Body::from(body)));
    }
    let Some(call) = FastCall::read(&body, &Caller::Session, &route) else {
        return Err(Request::from_parts(parts, Body::from(body)));
    };
    if !sessions.in_use(&id, &session).await {
        return Err(Request::from_parts(parts, Body::from(body)));
    }
    let call = session
        .asking(call)
        .recorded(&tap.log, session.origin(&tap.origin, &id), &body);
    let flight = session.begin(call.id_text().trim());
    Ok(answer(call, flight.token.clone(), Some(flight)).await)
}

/// Runs `call` and answers it: with one JSON body, unless the server sends progress or asks
/// the client something before its answer; then with an SSE stream of those and the answer,
/// written as they come by a task of its own from then on (with keep-alive comments, so a
/// client gone between two messages is noticed). The client going away ends the call at the server
/// either way. `cancel` ends the call early; `flight` is kept until it has ended.
async fn answer(call: FastCall, cancel: CancellationToken, flight: Option<InFlight>) -> Response {
    if !call.may_stream() {
        let mut answer = Vec::new();
        call.run(&cancel, |message| {
            answer = message.into_bytes();
            std::future::ready(true)
        })
        .await;
        drop(flight);
        return json(answer);
    }
    let (messages, mut heard) = tokio::sync::mpsc::channel::<Message>(16);
    let mut run = Box::pin(async move {
        let _flight = flight;
        let client = messages.clone();
        let run = call.run(&cancel, |message| {
            let messages = messages.clone();
            async move { messages.send(message).await.is_ok() }
        });
        tokio::select! {
            () = run => {}
            () = client.closed() => {} // the client is gone: the call is dropped, and cancelled
        }
    });
    // Until the first message the call runs in this handler (hyper drops it, and so the call,
    // if the client goes); only a call that then streams gets a task of its own.
    let mut ended = false;
    let first = tokio::select! {
        biased;
        first = heard.recv() => first,
        () = &mut run => {
            ended = true;
            heard.recv().await // what it sent is queued, and the queue is closed
        }
    };
    let first = match first {
        Some(Message::Answer(answer)) => return json(answer),
        Some(progress) => progress,
        None => return json(call_ended_unanswered()),
    };
    if !ended {
        tokio::spawn(run);
    }
    let events = futures::stream::once(async { first })
        .chain(tokio_stream::wrappers::ReceiverStream::new(heard))
        .map(|message| {
            let event = Event::default().event("message").data(message.into_text());
            Ok::<_, std::convert::Infallible>(event)
        });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

/// How often a streamed answer sends a keep-alive comment (as rmcp's streams do).
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// The answer when a fast call's task ended without one (it cannot, short of a panic).
fn call_ended_unanswered() -> Vec<u8> {
    br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"the call ended without an answer"}}"#.to_vec()
}

/// For a request that may open a session (a POST without one): its body read, and, when it
/// is an `initialize`, what it says, so the session it opens may take the fast path (see
/// [`opened`]).
pub async fn opening(request: Request) -> Result<(Request, Option<Opening>), Response> {
    let headers = request.headers();
    if request.method() != Method::POST
        || headers.contains_key(SESSION_ID)
        || headers.contains_key("mcp-method")
    {
        return Ok((request, None));
    }
    let (parts, body) = read(request).await?;
    let opening = read_initialize(&body);
    Ok((Request::from_parts(parts, Body::from(body)), opening))
}

/// After rmcp answered an `initialize` that [`opening`] read: the session it opened is
/// remembered.
pub fn opened(sessions: &FastSessions, response: &Response, opening: Opening) {
    if response.status().is_success() {
        if let Some(id) = single(response.headers(), SESSION_ID) {
            sessions.opened(id, opening);
        }
    }
}

/// After rmcp answered a `DELETE` of a session: the session is forgotten.
pub fn closing(sessions: &FastSessions, request_headers: &HeaderMap, response: &Response) {
    if response.status().is_success() {
        if let Some(id) = single(request_headers, SESSION_ID) {
            sessions.closed(id);
        }
    }
}

/// The body of `request`, or the answer to one that could not be read.
async fn read(request: Request) -> Result<(http::request::Parts, Bytes), Response> {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => Ok((parts, body)),
        Err(e) => Err(unreadable_body(&e.to_string())),
    }
}

fn json(answer: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Bytes::from(answer),
    )
        .into_response()
}

/// Whether the request is a JSON POST that rmcp would accept: `Accept` naming both JSON and
/// SSE.
fn posts_json(request: &Request) -> bool {
    let headers = request.headers();
    request.method() == Method::POST
        && essence(headers.get(header::CONTENT_TYPE)).is_some_and(is_json)
        && accepts_json_and_sse(headers)
}

/// Whether the headers are those of a stateless `tools/call`: no session, `Mcp-Method`,
/// `Mcp-Name` and `MCP-Protocol-Version` each given once, and no `Mcp-Param-*` (rmcp checks
/// those against the tool's schema).
fn stateless_call(headers: &HeaderMap) -> bool {
    !headers.contains_key(SESSION_ID)
        && single(headers, "mcp-method") == Some("tools/call")
        && !headers
            .keys()
            .any(|name| name.as_str().starts_with("mcp-param-"))
}

/// The header's value when it is given exactly once and is text.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    values
        .next()
        .is_none()
        .then(|| value.to_str().ok())
        .flatten()
}

/// A media type without its parameters.
fn essence(value: Option<&HeaderValue>) -> Option<&str> {
    let value = value?.to_str().ok()?;
    Some(value.split_once(';').map_or(value, |(e, _)| e).trim())
}

fn is_json(essence: &str) -> bool {
    essence.eq_ignore_ascii_case("application/json")
}

/// rmcp's rule for a POST: `Accept` names both `application/json` and `text/event-stream`.
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let essence = item.split_once(';').map_or(item, |(e, _)| e).trim();
            json |= is_json(essence);
            sse |= essence.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// The answer to a body that could not be read (too large, or the connection broke).
fn unreadable_body(reason: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32600,
            "message": format!("the request body could not be read ({reason}); bodies are limited to {MAX_BODY_BYTES} bytes"),
        },
    });
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::post("/servers/s/mcp");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    fn qualifies(request: &Request) -> bool {
        posts_json(request) && stateless_call(request.headers())
    }

    const GOOD: [(&str, &str); 5] = [
        ("content-type", "application/json; charset=utf-8"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "echo"),
        ("mcp-protocol-version", "2026-07-28"),
    ];

    #[test]
    fn only_stateless_tool_calls_that_rmcp_would_take_qualify() {
        assert!(qualifies(&request(&GOOD)));
        let with = |extra: (&str, &str)| {
            let mut headers = GOOD.to_vec();
            headers.push(extra);
            qualifies(&request(&headers))
        };
        let without = |name: &str| {
            let headers: Vec<_> = GOOD.iter().copied().filter(|(n, _)| *n != name).collect();
            qualifies(&request(&headers))
        };
        assert!(!with(("mcp-session-id", "abc")), "a session goes to rmcp");
        assert!(!with(("mcp-param-text", "x")), "rmcp checks Mcp-Param-*");
        assert!(
            !with(("mcp-method", "tools/call")),
            "a repeated header is rmcp's to refuse"
        );
        assert!(!without("accept"));
        assert!(!without("content-type"));
        assert!(!without("mcp-method"));
        let mut other = GOOD.to_vec();
        other[2] = ("mcp-method", "tools/list");
        assert!(!qualifies(&request(&other)));
        other = GOOD.to_vec();
        other[1] = ("accept", "application/json");
        assert!(!qualifies(&request(&other)), "rmcp answers 406");
    }
}
