//! A 2026-era caller's `tools/call`, `prompts/get` or `resources/read` to a server that asks
//! the client things mid-call (a 2025-era server's sampling, elicitation or roots request).
//!
//! The caller cannot be sent those requests, so its request is answered `input_required` with
//! them while the server's call runs on, parked in the server's registry
//! (`routing::parked`); the caller's retry with `inputResponses` and the `requestState`
//! answers the server's requests and waits on, round after round, until the call completes.
//! A call that asks nothing is answered as it would be without this (one round).

use std::time::Duration;

use rmcp::model::{
    ClientRequest, ClientResult, ErrorCode, ErrorData, InputRequest, InputRequests,
    InputRequiredResult, InputResponses, ProtocolVersion, ServerRequest, ServerResult,
};
use rmcp::service::RequestContext;
use rmcp::RoleServer;
use tokio_util::sync::CancellationToken;

use super::endpoint::Route;
use super::forward::{cancelled, expected, forward, relay_call, upstream_of, Expected};
use super::inputs::input_fields;
use crate::routing::{Ask, Call, Offers};

/// What a request of a 2026-era caller comes to.
pub(crate) enum Round<T> {
    Complete(T),
    InputRequired(InputRequiredResult),
}

/// Whether the request in `ctx` is of the 2026-07-28 era (it says so in its `_meta`).
pub(crate) fn is_stateless_era(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.meta
        .protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// A retry's `requestState` and `inputResponses`.
struct Retry {
    state: String,
    responses: InputResponses,
}

/// The retry `request` makes, taken off it (the server never sees Switchboard's state).
fn take_retry(request: &mut ClientRequest) -> Option<Retry> {
    let (state, responses) = input_fields(request)?;
    let responses = responses.take().unwrap_or_default();
    state.take().map(|state| Retry { state, responses })
}

/// Forwards `request` along `route` for a 2026-era caller (or continues the parked call its
/// `requestState` names). `binding` says what is called where; a state is only good for the
/// same. A stateless server asks in rounds itself: its `input_required`, and the caller's
/// retry with the server's own state, go through as they are.
pub(crate) async fn forward_in_rounds<T: Expected>(
    route: &Route,
    mut request: ClientRequest,
    ctx: RequestContext<RoleServer>,
    timeout: Duration,
    binding: String,
) -> Result<Round<T>, ErrorData> {
    let slot = &route.slot;
    let server = slot.name();
    if slot.is_stateless() {
        let result: ServerResult = forward(slot, route.session, request, ctx, timeout).await?;
        return match result {
            ServerResult::InputRequiredResult(input) => Ok(Round::InputRequired(input)),
            other => expected(server, other).map(Round::Complete),
        };
    }
    let mut call = match take_retry(&mut request) {
        Some(retry) => {
            let mut call = slot
                .sessions()
                .parked()
                .take(&retry.state, &binding)
                .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
            answer(&mut call, retry.responses)?;
            call
        }
        None => start(route, request, &ctx, timeout).await?,
    };
    loop {
        if !call.waiting.is_empty() {
            while let Ok(ask) = call.asks.try_recv() {
                wait_for(&mut call, ask);
            }
            let requests: InputRequests = call
                .waiting
                .iter()
                .filter_map(|(key, ask)| Some((key.clone(), input_request(&ask.request)?)))
                .collect();
            let state = slot.sessions().parked().park(call, &binding);
            return Ok(Round::InputRequired(InputRequiredResult::new(
                Some(requests),
                Some(state),
            )));
        }
        let asks_open = !call.asks.is_closed() || !call.asks.is_empty();
        tokio::select! {
            done = &mut call.task => {
                return match done {
                    Ok(result) => expected(server, result?).map(Round::Complete),
                    Err(_) => Err(cancelled(server)),
                };
            }
            ask = call.asks.recv(), if asks_open => {
                if let Some(ask) = ask {
                    wait_for(&mut call, ask);
                }
            }
            _ = ctx.ct.cancelled() => return Err(cancelled(server)), // `call` cancels upstream
        }
    }
}

/// Starts the server's call in a task of its own: it outlives this request when it asks.
async fn start(
    route: &Route,
    request: ClientRequest,
    ctx: &RequestContext<RoleServer>,
    timeout: Duration,
) -> Result<Call, ErrorData> {
    let slot = &route.slot;
    let (upstream, lease) = upstream_of(slot).await?;
    let offers = ctx
        .meta
        .client_capabilities()
        .map(|caps| Offers::of(&caps))
        .unwrap_or_default();
    let (in_flight, asks) = slot.sessions().begin_asking(route.session, offers);
    let cancel = CancellationToken::new();
    let mut call_ctx = ctx.clone();
    call_ctx.ct = cancel.clone();
    let server = slot.name().to_owned();
    let task = tokio::spawn(async move {
        let _lease = lease; // the call may outlive this request (parked)
        relay_call(&server, &upstream, in_flight, request, &call_ctx, timeout).await
    });
    Ok(Call {
        task,
        asks,
        waiting: Default::default(),
        asked: 0,
        cancel,
    })
}

/// Keeps `ask` for the caller under a new key, or refuses it at once when it is nothing a
/// caller can be asked through `input_required`.
fn wait_for(call: &mut Call, ask: Ask) {
    if input_request(&ask.request).is_none() {
        let refusal = ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            "a 2026-era client cannot be sent this request",
            None,
        );
        let _ = ask.reply.send(Err(refusal));
        return;
    }
    call.asked += 1;
    call.waiting.insert(format!("input-{}", call.asked), ask);
}

/// The server's request as an input request of `input_required`.
fn input_request(request: &ServerRequest) -> Option<InputRequest> {
    match request {
        ServerRequest::CreateMessageRequest(r) => Some(InputRequest::CreateMessage(r.clone())),
        ServerRequest::ElicitRequest(r) => Some(InputRequest::Elicitation(r.clone())),
        ServerRequest::ListRootsRequest(r) => Some(InputRequest::ListRoots(r.clone())),
        _ => None,
    }
}

/// Passes the caller's answers to the server's waiting requests; those it did not answer are
/// asked again.
fn answer(call: &mut Call, mut responses: InputResponses) -> Result<(), ErrorData> {
    let keys: Vec<String> = call.waiting.keys().cloned().collect();
    for key in keys {
        let Some(value) = responses.remove(&key) else {
            continue;
        };
        let Some(ask) = call.waiting.remove(&key) else {
            continue;
        };
        let result = client_result(&ask.request, value)
            .map_err(|e| ErrorData::invalid_params(format!("inputResponses.{key}: {e}"), None))?;
        let _ = ask.reply.send(Ok(result));
    }
    Ok(())
}

/// An input response read as the result its request expects.
fn client_result(
    request: &ServerRequest,
    value: serde_json::Value,
) -> Result<ClientResult, serde_json::Error> {
    Ok(match request {
        ServerRequest::CreateMessageRequest(_) => {
            ClientResult::CreateMessageResult(serde_json::from_value(value)?)
        }
        ServerRequest::ElicitRequest(_) => {
            ClientResult::ElicitResult(serde_json::from_value(value)?)
        }
        _ => ClientResult::ListRootsResult(serde_json::from_value(value)?),
    })
}
