//! The child's stdio transport, observed: every progress notification is counted the moment
//! it is read, before rmcp dispatches it.
//!
//! rmcp hands each notification to a spawned task but resolves responses in its read loop, so
//! the last progress of a call can be overtaken by the call's own response. Counting at read
//! time lets the proxy hold a response until every progress read before it was delivered
//! (see [`SessionRegistry::progress_received`]), and pass a call's progress on in the order
//! it was read (the place of each travels in its extensions, as a `ProgressIndex`).

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{ServerJsonRpcMessage, ServerNotification};
use rmcp::service::{ClientInitializeError, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::{DynamicTransportError, Transport};
use rmcp::RoleClient;

use crate::routing::SessionRegistry;

pub struct ObservedTransport<T> {
    inner: T,
    sessions: Arc<SessionRegistry>,
}

impl<T> ObservedTransport<T> {
    pub fn new(inner: T, sessions: Arc<SessionRegistry>) -> Self {
        Self { inner, sessions }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for ObservedTransport<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let mut message = self.inner.receive().await?;
        if let ServerJsonRpcMessage::Notification(n) = &mut message {
            if let ServerNotification::ProgressNotification(p) = &mut n.notification {
                let index = self.sessions.progress_received(&p.params.progress_token);
                p.extensions.insert(index);
            }
        }
        Some(message)
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// One of two transports, chosen per attempt: a server's entry may be a child over stdio or a
/// remote server over Streamable HTTP or SSE, and the supervisor (generic over one transport
/// type) keeps running when the entry changes from one to the other.
pub enum EitherTransport<A, B> {
    Left(A),
    Right(B),
}

impl<A, B> Transport<RoleClient> for EitherTransport<A, B>
where
    A: Transport<RoleClient> + 'static,
    B: Transport<RoleClient> + 'static,
{
    type Error = DynamicTransportError;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        use futures::FutureExt;
        match self {
            Self::Left(a) => a
                .send(item)
                .map(|r| r.map_err(DynamicTransportError::new::<A, RoleClient>))
                .left_future(),
            Self::Right(b) => b
                .send(item)
                .map(|r| r.map_err(DynamicTransportError::new::<B, RoleClient>))
                .right_future(),
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        match self {
            Self::Left(a) => a.receive().await,
            Self::Right(b) => b.receive().await,
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        match self {
            Self::Left(a) => a
                .close()
                .await
                .map_err(DynamicTransportError::new::<A, RoleClient>),
            Self::Right(b) => b
                .close()
                .await
                .map_err(DynamicTransportError::new::<B, RoleClient>),
        }
    }
}

/// The transport errors behind a failed handshake, innermost first in each: rmcp wraps a
/// transport's error once per transport layer (ours: observed, then either), each layer named
/// by its Rust type, and keeps both attempts of a discover that fell back to `initialize`.
pub fn transport_failures(
    error: &ClientInitializeError,
) -> Vec<&(dyn std::error::Error + 'static)> {
    match error {
        ClientInitializeError::LegacyFallbackFailed { discover, fallback } => {
            let mut all = transport_failures(fallback);
            all.extend(transport_failures(discover));
            all
        }
        ClientInitializeError::TransportError { error, .. } => vec![innermost(error)],
        _ => Vec::new(),
    }
}

/// The transport's own error inside rmcp's layers of wrapping.
pub fn innermost(error: &DynamicTransportError) -> &(dyn std::error::Error + 'static) {
    let mut inner: &(dyn std::error::Error + 'static) = &*error.error;
    while let Some(wrapped) = inner.downcast_ref::<DynamicTransportError>() {
        inner = &*wrapped.error;
    }
    inner
}

/// A failed handshake in words a user can act on: the transport's own error with its causes
/// ("error sending request for url (…): … Connection refused"), not rmcp's layers of type names.
pub fn describe_handshake_error(error: &ClientInitializeError) -> String {
    match error {
        ClientInitializeError::LegacyFallbackFailed { fallback, .. } => {
            describe_handshake_error(fallback)
        }
        ClientInitializeError::TransportError { error, context } => {
            format!("{} (when {context})", describe_transport_error(error))
        }
        other => other.to_string(),
    }
}

/// A transport's error with its causes, without rmcp's wrapping.
pub fn describe_transport_error(error: &DynamicTransportError) -> String {
    let inner = innermost(error);
    let mut text = inner.to_string();
    let mut source = inner.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        source = cause.source();
    }
    text
}

/// The `WWW-Authenticate` challenge of a handshake a remote server refused for want of
/// authorization (401, or 403 `insufficient_scope`).
pub fn auth_challenge(error: &ClientInitializeError) -> Option<String> {
    use rmcp::transport::streamable_http_client::StreamableHttpError;
    transport_failures(error).into_iter().find_map(|e| {
        match e.downcast_ref::<StreamableHttpError<reqwest::Error>>()? {
            StreamableHttpError::AuthRequired(e) => Some(e.www_authenticate_header.clone()),
            StreamableHttpError::InsufficientScope(e) => Some(e.www_authenticate_header.clone()),
            _ => None,
        }
    })
}
