//! The HTTP side of the fast path (`proxy::FastCall`): a stateless `tools/call` POST answered
//! without rmcp's Streamable HTTP service, when its headers say it may be one.
//!
//! The headers are looked at first, so every other request reaches rmcp untouched. A request
//! whose headers qualify has its body read here; when the body or the server's state then
//! turns out to need the full path, the request goes on to rmcp rebuilt from the same bytes.
//! What rmcp would refuse (a missing `Accept` type, a header that contradicts the body) is
//! never taken, so the refusals stay rmcp's.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::guard::MAX_BODY_BYTES;
use crate::proxy::{CallHeaders, FastCall};
use crate::slot::ServerSlot;

/// Answers `request` on the fast path, or gives it back for rmcp. `route` is the endpoint's
/// routing of a tool name (see [`FastCall::read`]).
pub async fn try_call(
    request: Request,
    route: impl FnOnce(&str) -> Option<(Arc<ServerSlot>, &str)>,
) -> Result<Response, Request> {
    if !qualifies(&request) {
        return Err(request);
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(e) => return Ok(unreadable_body(&e.to_string())),
    };
    let headers = &parts.headers;
    let (Some(version), Some(name)) = (
        single(headers, "mcp-protocol-version"),
        single(headers, "mcp-name"),
    ) else {
        return Err(Request::from_parts(parts, Body::from(body)));
    };
    let expected = CallHeaders { version, name };
    let Some(call) = FastCall::read(&body, &expected, route) else {
        return Err(Request::from_parts(parts, Body::from(body)));
    };
    let answer = call.send().await;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Bytes::from(answer),
    )
        .into_response())
}

/// Whether the headers are those of a stateless `tools/call` rmcp would accept: a JSON POST
/// without a session, accepting both JSON and SSE, with its `Mcp-Method`, `Mcp-Name` and
/// `MCP-Protocol-Version` each given once and no `Mcp-Param-*` (rmcp checks those against
/// the tool's schema).
fn qualifies(request: &Request) -> bool {
    let headers = request.headers();
    request.method() == Method::POST
        && !headers.contains_key("mcp-session-id")
        && single(headers, "mcp-method") == Some("tools/call")
        && essence(headers.get(header::CONTENT_TYPE)).is_some_and(is_json)
        && accepts_json_and_sse(headers)
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
