//! Forwarding one downstream request to one child: shared by the per-server proxy and the
//! aggregate. Progress is routed back to the caller's token, the caller's cancellation becomes
//! `notifications/cancelled` upstream, and every failure names the server.

use std::time::Duration;

use rmcp::model::{ClientRequest, ErrorCode, ErrorData, ServerResult};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServiceError};
use serde::de::DeserializeOwned;

use super::inputs::{forward_answering, may_ask};
use super::rounds::is_stateless_era;
use crate::routing::{InFlightGuard, SessionId, PROGRESS_FLUSH_LIMIT};
use crate::slot::{Lease, ServerSlot, ServerState, ServerStatus, Upstream};
use crate::upstream::{describe_transport_error, innermost, relay, RelayError};

/// The child's connection for a request that needs its process, with the [`Lease`] the
/// request holds until it is answered: at once, or after starting an on-demand server that
/// sleeps (`ServerSlot::ready`); else an error that says why there is none.
pub async fn upstream_of(slot: &ServerSlot) -> Result<(Upstream, Lease), ErrorData> {
    slot.ready().await.map_err(|status| {
        ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            not_running(slot.name(), &status),
            None,
        )
    })
}

/// Why server `name` cannot take a request now, for clients: its state, which attempt is
/// under way or next and when, and the last error. For example "server 'git' is restarting
/// (attempt 2, next try in 1500 ms; last error: the server was killed by signal 9)".
pub fn not_running(name: &str, status: &ServerStatus) -> String {
    let mut detail = Vec::new();
    if status.state.is_transient() || status.state == ServerState::Failed {
        detail.push(format!("attempt {}", status.failures_in_row.max(1)));
        if let Some(next) = status.next_attempt {
            let wait = next
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            detail.push(format!("next try in {} ms", wait.as_millis()));
        }
    }
    let mut message = format!("server '{name}' is {}", status.state.as_str());
    if !detail.is_empty() {
        message.push_str(&format!(" ({})", detail.join(", ")));
    }
    if let Some(error) = &status.last_error {
        message.push_str(&format!("; last error: {error}"));
    }
    message
}

/// Forwards `request` to `slot`'s child on behalf of the request in `ctx` from `session`
/// (an id in the slot's session registry), routing progress back, and cancelling upstream
/// when the caller cancels. A stateless server's `input_required` is answered by asking a
/// 2025-era caller (`inputs`); a 2026-era caller's requests that may be answered so go
/// through `rounds`.
pub async fn forward<T: Expected>(
    slot: &ServerSlot,
    session: SessionId,
    request: ClientRequest,
    ctx: RequestContext<RoleServer>,
    timeout: Duration,
) -> Result<T, ErrorData> {
    let (upstream, _lease) = upstream_of(slot).await?;
    if upstream.is_stateless() && may_ask(&request) && !is_stateless_era(&ctx) {
        return forward_answering(slot, &upstream, session, request, ctx, timeout).await;
    }
    let in_flight = slot.sessions().begin(session, ctx.id.clone());
    let result = relay_call(slot.name(), &upstream, in_flight, request, &ctx, timeout).await?;
    expected(slot.name(), result)
}

/// One call relayed to the server, `in_flight` (its entry in the registry) held until it is
/// answered and the progress read before the answer has been passed on.
pub(super) async fn relay_call(
    server: &str,
    upstream: &Upstream,
    mut in_flight: InFlightGuard,
    request: ClientRequest,
    ctx: &RequestContext<RoleServer>,
    timeout: Duration,
) -> Result<ServerResult, ErrorData> {
    let relayed = relay(&upstream.peer, request, ctx, timeout, |ours, theirs| {
        if let Some(theirs) = theirs {
            in_flight.route_progress(ours, theirs);
        }
    })
    .await;
    match relayed {
        Ok(mut result) => {
            // Progress read before the response must reach the caller before it.
            let _ = tokio::time::timeout(PROGRESS_FLUSH_LIMIT, in_flight.progress_settled()).await;
            mark_complete(&mut result);
            Ok(result)
        }
        Err(RelayError::Upstream(e)) => Err(upstream_error(server, e)),
        Err(RelayError::Cancelled) => Err(cancelled(server)),
    }
}

/// The answer to a request its caller cancelled.
pub(super) fn cancelled(server: &str) -> ErrorData {
    ErrorData::new(
        ErrorCode::INTERNAL_ERROR,
        format!("request to server '{server}' was cancelled"),
        None,
    )
}

/// Where a 2026-era server names itself on each result: its own business with Switchboard
/// (the caller learns who answers from Switchboard's `server/discover`; on the aggregate it
/// would name the wrong server).
const SERVER_INFO_META: &str = "io.modelcontextprotocol/serverInfo";

/// A server's result as Switchboard passes it on: `resultType: "complete"` on a result that
/// does not say what it is (a 2025-era server never does, and a 2026 caller requires it; rmcp
/// takes it off again for legacy callers), and without the server's name in its `_meta`.
fn mark_complete(result: &mut ServerResult) {
    let (result_type, meta) = match result {
        ServerResult::CompleteResult(r) => (&mut r.result_type, &mut r.meta),
        ServerResult::GetPromptResult(r) => (&mut r.result_type, &mut r.meta),
        ServerResult::ListPromptsResult(r) => (&mut r.result_type, &mut r.meta),
        ServerResult::ListResourcesResult(r) => (&mut r.result_type, &mut r.meta),
        ServerResult::ListResourceTemplatesResult(r) => (&mut r.result_type, &mut r.meta),
        ServerResult::ReadResourceResult(r) => (&mut r.result_type, &mut r.meta),
        ServerResult::ListToolsResult(r) => (&mut r.result_type, &mut r.meta),
        ServerResult::CallToolResult(r) => (&mut r.result_type, &mut r.meta),
        _ => return,
    };
    result_type.get_or_insert(rmcp::model::ResultType::COMPLETE);
    if let Some(object) = meta.as_mut() {
        object.0.remove(SERVER_INFO_META);
        if object.0.is_empty() {
            *meta = None;
        }
    }
}

/// Whether `error` is [`upstream_error`]'s for a server that did not answer in time.
pub(super) fn is_timeout(error: &ErrorData) -> bool {
    error.code == ErrorCode::INTERNAL_ERROR && error.message.contains(DID_NOT_ANSWER)
}

const DID_NOT_ANSWER: &str = "did not answer within";

pub(super) fn upstream_error(server: &str, error: ServiceError) -> ErrorData {
    match error {
        // The child's own JSON-RPC error is the most precise answer: keep its code and data,
        // and say whose it is.
        ServiceError::McpError(mut error) => {
            error.message = format!("server '{server}': {}", error.message).into();
            error
        }
        ServiceError::Timeout { timeout } => ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            format!(
                "server '{server}' {DID_NOT_ANSWER} {}s (raise timeouts in servers.json if it \
                 needs longer)",
                timeout.as_secs()
            ),
            None,
        ),
        ServiceError::TransportClosed => ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            format!("server '{server}' closed its connection (it exited or is restarting)"),
            None,
        ),
        ServiceError::TransportSend(error) if refused_for_authorization(&error) => {
            ErrorData::new(
                ErrorCode::INTERNAL_ERROR,
                format!(
                    "server '{server}' refused the request until you sign in again (it wants \
                     more permission, or the token is no longer valid): use Sign in on the \
                     dashboard or the tray, or run `switchboard auth {server}`; the server said: {}",
                    describe_transport_error(&error)
                ),
                None,
            )
        }
        ServiceError::TransportSend(error) => ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            format!(
                "server '{server}' could not be sent the request: {}",
                describe_transport_error(&error)
            ),
            None,
        ),
        other => ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            format!("server '{server}': {other}"),
            None,
        ),
    }
}

/// Whether a remote server refused a request for want of authorization (403
/// `insufficient_scope`, or a 401 a token refresh could not cure).
fn refused_for_authorization(error: &rmcp::transport::DynamicTransportError) -> bool {
    use rmcp::transport::streamable_http_client::StreamableHttpError;
    matches!(
        innermost(error).downcast_ref::<StreamableHttpError<reqwest::Error>>(),
        Some(StreamableHttpError::InsufficientScope(_) | StreamableHttpError::AuthRequired(_))
    )
}

/// The refusal of a call to a tool the filter hides.
pub fn not_exposed(server: &str, tool: &str) -> ErrorData {
    ErrorData::new(
        ErrorCode::INVALID_PARAMS,
        format!(
            "tool '{tool}' of server '{server}' is not exposed (hidden by the tools filter in \
             servers.json)"
        ),
        None,
    )
}

/// A result a forwarded request expects back. The result union is untagged, so a result may
/// have been read as a look-alike variant; [`reread`] recovers it through JSON.
pub trait Expected: DeserializeOwned {
    /// The value, or the result as it came when it is another variant (boxed: that is rare,
    /// and the union is large).
    fn pick(result: ServerResult) -> Result<Self, Box<ServerResult>>;
}

macro_rules! expected {
    ($($variant:ident),* $(,)?) => {$(
        impl Expected for rmcp::model::$variant {
            fn pick(result: ServerResult) -> Result<Self, Box<ServerResult>> {
                match result {
                    ServerResult::$variant(value) => Ok(value),
                    other => Err(Box::new(other)),
                }
            }
        }
    )*};
}

expected!(
    ListToolsResult,
    CallToolResult,
    ListPromptsResult,
    GetPromptResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ReadResourceResult,
    CompleteResult,
);

/// Any result, as it came (for requests whose answer is only checked for an error).
impl Expected for ServerResult {
    fn pick(result: ServerResult) -> Result<Self, Box<ServerResult>> {
        Ok(result)
    }
}

/// The result of server `server` as the type the request expects.
pub(super) fn expected<T: Expected>(server: &str, result: ServerResult) -> Result<T, ErrorData> {
    T::pick(result).or_else(|other| reread(server, *other))
}

/// Reads `result` as a `T` through JSON (see [`Expected`]).
pub fn reread<T: DeserializeOwned>(server: &str, result: ServerResult) -> Result<T, ErrorData> {
    serde_json::to_value(&result)
        .and_then(serde_json::from_value)
        .map_err(|e| {
            ErrorData::internal_error(
                format!("server '{server}' sent a result of the wrong shape: {e}"),
                None,
            )
        })
}
