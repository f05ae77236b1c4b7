//! Switchboard's core: runs the MCP servers of `servers.json` once and serves them to every
//! client over a local HTTP gateway. See ARCHITECTURE.md for the map.
//!
//! Every module is private; what the CLI, the tray app and the fuzz targets use is re-exported
//! here, so a change inside the core cannot break them unnoticed and they cannot reach around
//! it. The layers, from the bottom (each uses only those below it):
//!
//! 1. leaves: `config` (over `jsonc`), `filter`, `logs`, `events`, `atomic_file`, `token`,
//!    `reaper`, `telemetry`, `secrets` (keychain or its 0600 file), `heap` (gives freed memory
//!    back);
//! 2. `routing` (who gets what a server sends) and `lane` (a child's stdio for requests
//!    forwarded as bytes) below `slot` (one server's shared state);
//! 3. `upstream` (Switchboard as a client of a server), `oauth` (signing in to remote
//!    servers) and `supervisor` (a server's life);
//! 4. `hub` (the set of servers), then `store` and `watch` (servers.json, applied to the hub);
//! 5. `proxy` (Switchboard as a server to clients) and `gateway` (HTTP);
//! 6. `app` (the composition root); beside them, for the CLI: `clients`, `bridge`,
//!    `instance_record`, `service` (the systemd user unit of `switchboard serve`).

mod activity;
mod app;
mod atomic_file;
mod bridge;
mod catalogs;
pub mod clients;
pub mod config;
mod events;
mod filter;
mod gateway;
mod heap;
mod hub;
pub mod instance_record;
mod jsonc;
mod lane;
mod logs;
mod oauth;
mod proxy;
mod reaper;
mod routing;
mod secrets;
pub mod service;
mod slot;
mod store;
mod supervisor;
mod telemetry;
mod token;
mod tokens;
mod upstream;
mod watch;

pub use app::{App, AppOptions, StartError};
pub use bridge::{run as run_stdio_bridge, BridgeError};
pub use events::{Event, EventBus};
pub use hub::Hub;
pub use reaper::run_if_requested as run_reaper_if_requested;
pub use secrets::{check_name as check_secret_name, SecretError, SecretStore};
pub use slot::{ServerSlot, ServerState, ServerStatus, StrayStdout};
pub use store::{ConfigStore, EditError};
pub use telemetry::init as init_logging;
pub use token::{read_or_create as read_or_create_token, token_file, TokenError};

/// The internals the fuzz targets (`fuzz/`) drive directly. Only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::config::edit::Document as ServersDocument;
    pub use crate::filter::ToolFilter;
    pub use crate::gateway::{router, AppState};
    pub use crate::proxy::{qualified, reread, split_qualified, template_matches, View};
    pub use crate::store::Reload;
    pub use crate::supervisor::{Backoff, Launcher};
}
