//! Which `list_changed` notifications the hub's events mean for one endpoint: a server it sees
//! starting or stopping changes all three lists; a catalog or filter change, that list. Both
//! eras hear them from here: an aggregate session as notifications on its session, and a 2026
//! client on its `subscriptions/listen` stream, from any endpoint.

use std::collections::HashMap;

use rmcp::model::{
    PromptListChangedNotification, ResourceListChangedNotification, ServerNotification,
    ToolListChangedNotification,
};
use tokio::sync::broadcast::{self, error::RecvError};

use super::names::View;
use crate::events::{Event, EventBus};
use crate::hub::Hub;

/// The servers an endpoint's lists are made of.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    One(String),
    View(View),
}

impl Scope {
    fn includes(&self, name: &str) -> bool {
        match self {
            Scope::One(server) => server == name,
            Scope::View(view) => view.includes(name),
        }
    }
}

/// See the module documentation.
pub(crate) struct ListChanges {
    events: broadcast::Receiver<Event>,
    scope: Scope,
    /// Whether each server was listed at the last event, so only a change is told.
    listed: HashMap<String, bool>,
}

impl ListChanges {
    /// Follows `events` from now on; `hub` says which servers run now (if it is at hand).
    pub fn new(events: &EventBus, hub: Option<&Hub>, scope: Scope) -> Self {
        let receiver = events.subscribe();
        let listed = hub
            .map(|hub| {
                hub.slots()
                    .iter()
                    .map(|s| {
                        let listed = s.upstream().is_some() || s.serves_from_catalog();
                        (s.name().to_owned(), listed)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            events: receiver,
            scope,
            listed,
        }
    }

    /// The notifications the next event that concerns the endpoint calls for; `None` when
    /// the bus is gone (Switchboard is stopping).
    pub async fn next(&mut self) -> Option<Vec<ServerNotification>> {
        loop {
            let event = match self.events.recv().await {
                Ok(event) => event,
                // Missed events: every list may have changed.
                Err(RecvError::Lagged(_)) => Event::ServersChanged,
                Err(RecvError::Closed) => return None,
            };
            let (tools, prompts, resources) = self.lists_changed_by(&event);
            let mut sends = Vec::new();
            if tools {
                sends.push(ServerNotification::ToolListChangedNotification(
                    ToolListChangedNotification::default(),
                ));
            }
            if prompts {
                sends.push(ServerNotification::PromptListChangedNotification(
                    PromptListChangedNotification::default(),
                ));
            }
            if resources {
                sends.push(ServerNotification::ResourceListChangedNotification(
                    ResourceListChangedNotification::default(),
                ));
            }
            if !sends.is_empty() {
                return Some(sends);
            }
        }
    }

    /// (tools, prompts, resources)
    fn lists_changed_by(&mut self, event: &Event) -> (bool, bool, bool) {
        let scope = &self.scope;
        match event {
            Event::ServerState { name, listed, .. } if scope.includes(name) => {
                let now = *listed;
                let before = self.listed.insert(name.clone(), now).unwrap_or(false);
                let changed = before != now;
                (changed, changed, changed)
            }
            Event::ToolsChanged { name } if scope.includes(name) => (true, false, false),
            Event::PromptsChanged { name } if scope.includes(name) => (false, true, false),
            Event::ResourcesChanged { name } if scope.includes(name) => (false, false, true),
            Event::ServersChanged => match scope {
                Scope::View(_) => (true, true, true),
                Scope::One(_) => (false, false, false),
            },
            _ => (false, false, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::ServerState;

    fn state(name: &str, state: ServerState) -> Event {
        Event::ServerState {
            name: name.into(),
            state,
            pid: None,
            last_error: None,
            listed: state == ServerState::Running,
        }
    }

    #[tokio::test]
    async fn only_changes_of_the_servers_in_scope_are_told_and_a_start_changes_every_list() {
        let bus = EventBus::default();
        let mut changes = ListChanges::new(&bus, None, Scope::One("a".into()));
        bus.publish(Event::ToolsChanged { name: "b".into() });
        bus.publish(state("a", ServerState::Starting));
        bus.publish(Event::PromptsChanged { name: "a".into() });
        let told = changes.next().await.unwrap();
        assert!(matches!(
            told[..],
            [ServerNotification::PromptListChangedNotification(_)]
        ));
        bus.publish(state("a", ServerState::Running));
        assert_eq!(changes.next().await.unwrap().len(), 3);
        bus.publish(state("a", ServerState::Running));
        bus.publish(Event::ToolsChanged { name: "a".into() });
        let told = changes.next().await.unwrap();
        assert!(
            matches!(
                told[..],
                [ServerNotification::ToolListChangedNotification(_)]
            ),
            "running again is no change"
        );
    }
}
