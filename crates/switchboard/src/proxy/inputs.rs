//! A 2025-era caller's `tools/call`, `prompts/get` or `resources/read` to a server of the
//! stateless era (2026-07-28), which asks the client things by answering `input_required`
//! (multi round-trip requests) instead of sending requests mid-call.
//!
//! The caller has a session and understands only requests, so Switchboard plays the 2026
//! client for it: each embedded request (sampling, elicitation, roots) is sent to the caller
//! as an ordinary server-to-client request on its session (on the call's own stream), and the
//! server is asked again with the answers and its `requestState`, round after round, until it
//! completes. The caller sees one call. (The other direction, a 2026 caller and a 2025-era
//! server, is `rounds`.)

use std::time::Duration;

use rmcp::model::{
    ClientRequest, ClientResult, ErrorData, InputRequest, InputRequests, InputResponses,
    ServerRequest, ServerResult,
};
use rmcp::service::RequestContext;
use rmcp::RoleServer;

use super::forward::{cancelled, expected, relay_call, Expected};
use crate::routing::{ask_client, ClientFeature, SessionId};
use crate::slot::{ServerSlot, Upstream};

/// Rounds one call may take before it is given up (rmcp's and the other SDKs' default).
const MAX_ROUNDS: usize = rmcp::model::DEFAULT_MRTR_MAX_ROUNDS;

/// Whether `request` is one a stateless server may answer `input_required`.
pub(super) fn may_ask(request: &ClientRequest) -> bool {
    matches!(
        request,
        ClientRequest::CallToolRequest(_)
            | ClientRequest::GetPromptRequest(_)
            | ClientRequest::ReadResourceRequest(_)
    )
}

/// Forwards `request` to the stateless server behind `upstream`, answering its
/// `input_required` rounds by asking the caller of `ctx`.
pub(super) async fn forward_answering<T: Expected>(
    slot: &ServerSlot,
    upstream: &Upstream,
    session: SessionId,
    mut request: ClientRequest,
    ctx: RequestContext<RoleServer>,
    timeout: Duration,
) -> Result<T, ErrorData> {
    let server = slot.name();
    let mut state_only_rounds = 0u32;
    for _ in 0..MAX_ROUNDS {
        let in_flight = slot.sessions().begin(session, ctx.id.clone());
        let result =
            relay_call(server, upstream, in_flight, request.clone(), &ctx, timeout).await?;
        let ServerResult::InputRequiredResult(input) = result else {
            return expected(server, result);
        };
        let requests = input.input_requests.unwrap_or_default();
        if requests.is_empty() {
            if input.request_state.is_none() {
                return Err(ErrorData::internal_error(
                    format!("server '{server}' answered input_required without asking anything"),
                    None,
                ));
            }
            // The server only wants its state back (it is still working): not at once.
            let pause = 50u64 << state_only_rounds.min(2);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            state_only_rounds += 1;
        } else {
            state_only_rounds = 0;
        }
        let responses = tokio::select! {
            answers = ask_caller(server, &ctx, requests) => answers?,
            _ = ctx.ct.cancelled() => return Err(cancelled(server)),
        };
        retry_with(&mut request, responses, input.request_state);
    }
    Err(ErrorData::internal_error(
        format!("server '{server}' kept asking for input: no result after {MAX_ROUNDS} rounds"),
        None,
    ))
}

/// Asks the caller every request of one round, at once; their answers by the server's keys.
async fn ask_caller(
    server: &str,
    ctx: &RequestContext<RoleServer>,
    requests: InputRequests,
) -> Result<InputResponses, ErrorData> {
    let asks = requests.into_iter().map(|(key, request)| async move {
        let answer = ask_one(server, ctx, request).await?;
        Ok::<_, ErrorData>((key, answer))
    });
    Ok(futures::future::try_join_all(asks)
        .await?
        .into_iter()
        .collect())
}

/// One request to the caller, on the stream of the call it belongs to.
async fn ask_one(
    server: &str,
    ctx: &RequestContext<RoleServer>,
    request: InputRequest,
) -> Result<serde_json::Value, ErrorData> {
    let (feature, request) = match request {
        InputRequest::CreateMessage(r) => (
            ClientFeature::Sampling,
            ServerRequest::CreateMessageRequest(r),
        ),
        InputRequest::Elicitation(r) => {
            (ClientFeature::Elicitation, ServerRequest::ElicitRequest(r))
        }
        InputRequest::ListRoots(r) => (ClientFeature::Roots, ServerRequest::ListRootsRequest(r)),
        _ => {
            return Err(ErrorData::internal_error(
                format!("server '{server}' asked for input of a kind Switchboard does not know"),
                None,
            ))
        }
    };
    let offered = ctx
        .peer
        .peer_info()
        .is_some_and(|info| feature.offered_by(&info.capabilities));
    if !offered {
        return Err(ErrorData::invalid_request(
            format!(
                "server '{server}' asks the client for {}, which this client did not offer in \
                 initialize",
                feature.name()
            ),
            None,
        ));
    }
    let answer = ask_client(&ctx.peer, request, Some(ctx.id.clone()))
        .await
        .map_err(|e| match e {
            rmcp::ServiceError::McpError(error) => error,
            other => ErrorData::internal_error(
                format!(
                    "the client did not answer the {} request of server '{server}': {other}",
                    feature.name()
                ),
                None,
            ),
        })?;
    let value = match answer {
        ClientResult::CreateMessageResult(r) => serde_json::to_value(r),
        ClientResult::ElicitResult(r) => serde_json::to_value(r),
        ClientResult::ListRootsResult(r) => serde_json::to_value(r),
        other => serde_json::to_value(other),
    };
    value.map_err(|e| ErrorData::internal_error(format!("the client's answer: {e}"), None))
}

/// `request` again with the answers of this round and the server's state.
fn retry_with(request: &mut ClientRequest, responses: InputResponses, state: Option<String>) {
    if let Some((request_state, input_responses)) = input_fields(request) {
        *input_responses = (!responses.is_empty()).then_some(responses);
        *request_state = state;
    }
}

/// A request's `requestState` and `inputResponses`, when it is of a kind a stateless server
/// may answer `input_required`.
pub(super) fn input_fields(
    request: &mut ClientRequest,
) -> Option<(&mut Option<String>, &mut Option<InputResponses>)> {
    match request {
        ClientRequest::CallToolRequest(r) => {
            Some((&mut r.params.request_state, &mut r.params.input_responses))
        }
        ClientRequest::GetPromptRequest(r) => {
            Some((&mut r.params.request_state, &mut r.params.input_responses))
        }
        ClientRequest::ReadResourceRequest(r) => {
            Some((&mut r.params.request_state, &mut r.params.input_responses))
        }
        _ => None,
    }
}
