//! What the life cycle needs for on-demand servers (`"start": "onDemand"`): why a start is
//! made, and which launch the slot's catalog belongs to.
//!
//! The rest lives where it acts: the request side (`ServerSlot::ready`, `Lease`) in the
//! slot, the sleep, the wake and the idle stop in the supervisor's loop, and the files in
//! `catalogs`.

use std::sync::Arc;

use crate::catalogs::{fingerprint, CatalogStore, StoredCatalog};
use crate::config::ServerSpec;
use crate::events::{Event, EventBus};
use crate::slot::SlotWriter;

/// Why the supervisor starts the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// `"start": "always"`: it runs until stopped.
    Always,
    /// An on-demand server whose catalog is not known for its launch: started to learn it,
    /// and stopped again at once unless a request came for it meanwhile.
    Learn,
    /// An on-demand server a request needs (or that was told to restart): it runs until it
    /// goes unused for its `idleStopSecs`.
    Run,
}

/// Which launch the slot's catalog was learned from, and where catalogs are kept.
pub(super) struct Known {
    store: CatalogStore,
    /// The fingerprint of the launch the slot's catalog belongs to (`None`: unknown).
    fingerprint: Option<String>,
}

impl Known {
    pub fn new(store: CatalogStore) -> Self {
        Self {
            store,
            fingerprint: None,
        }
    }

    /// Whether the slot holds the catalog of `spec`'s launch: learned by this supervisor, or
    /// stored (then put into the slot, and everyone listing told).
    pub fn covers(&mut self, slot: &SlotWriter, events: &EventBus, spec: &ServerSpec) -> bool {
        let wanted = fingerprint(&spec.launch());
        if self.fingerprint.as_deref() == Some(wanted.as_str()) {
            return true;
        }
        // A few kilobytes read once per launch, on the supervisor's task (never a request's).
        let Some(stored) = self.store.load(slot.name(), &wanted) else {
            return false;
        };
        slot.update_catalog(|c| {
            c.tools = Arc::new(stored.tools);
            c.prompts = Arc::new(stored.prompts);
            c.resources = Arc::new(stored.resources);
            c.templates = Arc::new(stored.templates);
            c.info = Some(Arc::new(stored.info));
        });
        let name = slot.name().to_owned();
        events.publish(Event::ToolsChanged { name: name.clone() });
        events.publish(Event::PromptsChanged { name: name.clone() });
        events.publish(Event::ResourcesChanged { name });
        self.fingerprint = Some(wanted);
        true
    }

    /// Stores the slot's catalog (as fetched from the running server) as that of its launch.
    pub fn learned(&mut self, slot: &SlotWriter) {
        let settings = slot.settings();
        let catalog = slot.catalog();
        let Some(info) = catalog.info else {
            return;
        };
        let wanted = fingerprint(&settings.spec.launch());
        let stored = StoredCatalog {
            info: (*info).clone(),
            tools: catalog.tools.to_vec(),
            prompts: catalog.prompts.to_vec(),
            resources: catalog.resources.to_vec(),
            templates: catalog.templates.to_vec(),
        };
        self.store.save(slot.name(), &wanted, stored);
        self.fingerprint = Some(wanted);
    }
}
