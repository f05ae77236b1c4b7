//! The tray app's logic, kept free of any GUI dependency so it is unit-tested without a display
//! (`cargo test -p switchboard-app --lib --no-default-features` builds no GTK).
//!
//! - [`model`]: what the tray shows, computed from the core's server snapshots: the health
//!   (and so the icon), the counts, the tooltip, the menu, and the actions its items trigger.
//! - [`alerts`]: when a desktop notification is due (a server keeps failing, servers.json
//!   cannot be applied).
//! - [`icons`]: the tray icons, one per health state, and the app icon.
//! - [`options`]: the command line, and the check for a display.
//!
//! The Tauri shell (`src/main.rs` and its modules) renders these and performs the actions.

pub mod alerts;
pub mod icons;
pub mod model;
pub mod options;
