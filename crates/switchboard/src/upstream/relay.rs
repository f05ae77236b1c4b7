//! One downstream request relayed to an upstream peer: the step both the gateway's proxies
//! (towards a server) and `switchboard connect` (towards the gateway) take for every request.
//!
//! The caller's `_meta` goes along (to a stateless server with the caller's capabilities in
//! place of Switchboard's), except its progress token: rmcp's client puts its own on
//! every request, and the caller learns it (to map progress back) before the answer can come.
//! When the caller cancels, the upstream peer is told (`notifications/cancelled` with the id
//! it knows) and the relay ends at once.

use std::time::Duration;

use rmcp::model::{
    CancelledNotification, CancelledNotificationParam, ClientNotification, ClientRequest, GetMeta,
    ProgressToken, RequestMetaObject, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RequestContext};
use rmcp::{RoleClient, RoleServer, ServiceError};

/// The per-request lifecycle fields of 2026-07-28 in a request's `_meta` that describe the
/// caller's exchange with Switchboard (rmcp puts Switchboard's own on every request to a
/// stateless server).
const LIFECYCLE_META: &[&str] = &[
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientInfo",
    "io.modelcontextprotocol/clientCapabilities",
];
/// The caller's log level for this request: kept for a stateless server (it logs what the
/// caller asked for), dropped for one that negotiated `initialize`.
const LOG_LEVEL_META: &str = "io.modelcontextprotocol/logLevel";

/// How a relayed request ended, when it did not answer.
#[derive(Debug)]
pub enum RelayError {
    /// The upstream peer's error, its timeout, or a broken connection.
    Upstream(ServiceError),
    /// The caller cancelled; the upstream peer was told.
    Cancelled,
}

/// Relays `request` (made from the caller's request in `ctx`) to `peer`, waiting at most
/// `timeout`. `on_token` is given the upstream progress token and the caller's own (if the
/// caller asked for progress) as soon as the request is on its way.
pub async fn relay(
    peer: &Peer<RoleClient>,
    mut request: ClientRequest,
    ctx: &RequestContext<RoleServer>,
    timeout: Duration,
    on_token: impl FnOnce(ProgressToken, Option<ProgressToken>),
) -> Result<ServerResult, RelayError> {
    let downstream_token = ctx.meta.get_progress_token();
    let mut meta = ctx.meta.clone();
    meta.0.remove("progressToken");
    // A 2026-era caller's lifecycle fields are about its exchange with Switchboard; the server
    // has its own (a server that negotiated `initialize` refuses requests carrying them).
    for key in LIFECYCLE_META {
        meta.0.remove(*key);
    }
    let stateless = peer
        .peer_info()
        .is_some_and(|info| !info.protocol_version.has_initialize());
    if !stateless {
        meta.0.remove(LOG_LEVEL_META);
    }
    request.get_meta_mut().extend(meta);
    let mut options = PeerRequestOptions::with_timeout(timeout);
    if stateless {
        // A stateless server decides per request what it may ask the client for (SEP-2575):
        // it must see the caller's capabilities, not the ones rmcp stamps for Switchboard.
        // (A 2025-era caller's are those of its session.)
        if let Some(capabilities) = ctx.client_capabilities() {
            let mut own = RequestMetaObject::new();
            own.set_client_capabilities(capabilities);
            options.meta = Some(own);
        }
    }
    let handle = peer
        .send_request_with_option(request, options)
        .await
        .map_err(RelayError::Upstream)?;
    on_token(handle.progress_token.clone(), downstream_token);
    let upstream_id = handle.id.clone();
    tokio::select! {
        result = handle.await_response() => result.map_err(RelayError::Upstream),
        _ = ctx.ct.cancelled() => {
            let cancel = CancelledNotification::new(CancelledNotificationParam::new(
                Some(upstream_id),
                Some("cancelled by the client".into()),
            ));
            let _ = peer
                .send_notification(ClientNotification::CancelledNotification(cancel))
                .await;
            Err(RelayError::Cancelled)
        }
    }
}
