//! The child's stdio transport, observed: every progress notification is counted the moment
//! it is read, before rmcp dispatches it.
//!
//! rmcp hands each notification to a spawned task but resolves responses in its read loop, so
//! the last progress of a call can be overtaken by the call's own response. Counting at read
//! time lets the proxy hold a response until every progress read before it was delivered
//! (see [`SessionRegistry::progress_received`]).

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{ServerJsonRpcMessage, ServerNotification};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
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
        let message = self.inner.receive().await?;
        if let ServerJsonRpcMessage::Notification(n) = &message {
            if let ServerNotification::ProgressNotification(p) = &n.notification {
                self.sessions.progress_received(&p.params.progress_token);
            }
        }
        Some(message)
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
