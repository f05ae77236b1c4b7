//! Switchboard's core: runs the MCP servers of `servers.json` once and serves them to every
//! client over a local HTTP gateway. See ARCHITECTURE.md for the map.

pub mod app;
pub mod atomic_file;
pub mod bridge;
pub mod clients;
pub mod config;
pub mod events;
pub mod filter;
pub mod gateway;
pub mod hub;
pub mod instance_record;
pub mod logs;
pub mod proxy;
pub mod reaper;
pub mod slot;
pub mod store;
pub mod supervisor;
pub mod telemetry;
pub mod token;
pub mod watch;

pub use app::{App, AppOptions, StartError};
