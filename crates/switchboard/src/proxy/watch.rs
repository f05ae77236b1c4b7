//! A 2025-era caller's `resources/subscribe` to a server of the stateless era, which has no
//! such method: the resource's updates are followed on a `subscriptions/listen` stream of
//! their own, opened for the first subscriber and closed after the last, and passed to every
//! subscribed session as `notifications/resources/updated`.

use rmcp::model::{ErrorData, ServerNotification, SubscriptionFilter};

use super::forward::upstream_of;
use crate::routing::post_all;
use crate::slot::ServerSlot;

/// Opens the stream for `uri` (waiting for the server to accept it) and follows it in a task
/// the slot's registry keeps until the last subscriber goes.
pub(super) async fn follow_resource(slot: &ServerSlot, uri: &str) -> Result<(), ErrorData> {
    // The subscription keeps an on-demand server up (`SessionRegistry::holds_server`).
    let (upstream, _lease) = upstream_of(slot).await?;
    let filter = SubscriptionFilter::builder()
        .resource_subscription(uri)
        .build();
    let mut subscription = upstream.peer.listen(filter).await.map_err(|e| {
        ErrorData::internal_error(
            format!(
                "server '{}' did not accept a subscription to {uri}: {e}",
                slot.name()
            ),
            None,
        )
    })?;
    let sessions = std::sync::Arc::clone(slot.sessions());
    let (server, watched) = (slot.name().to_owned(), uri.to_owned());
    let task = tokio::spawn(async move {
        loop {
            match subscription.next().await {
                Ok(Some(n @ ServerNotification::ResourceUpdatedNotification(_))) => {
                    post_all(sessions.subscribers(&watched), n);
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(%server, uri = %watched, "resource updates no longer followed: {e}");
                    break;
                }
            }
        }
    });
    slot.sessions().watch(uri, task);
    Ok(())
}
