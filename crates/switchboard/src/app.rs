//! The composition root: config + hub + gateway, started and stopped as one.
//!
//! `switchboard serve` and the tray app both run an [`App`]; nothing here knows about a CLI or
//! a window.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{self, ConfigError, GatewaySettings, ServersFile};
use crate::events::{Event, EventBus};
use crate::gateway::{self, AppState};
use crate::hub::Hub;

/// How to start an [`App`].
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub config_file: PathBuf,
    /// Where per-server stderr logs go; `None` keeps them in memory only.
    pub server_log_dir: Option<PathBuf>,
    /// Overrides `gateway.host` of the file.
    pub host: Option<String>,
    /// Overrides `gateway.port` of the file (0 picks a free port).
    pub port: Option<u16>,
}

/// Why an [`App`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source} (is another Switchboard running? use --port)")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("gateway.host {host:?} is not loopback and no gateway.token is set in {file}: anyone on the network could run your servers; set a token or bind 127.0.0.1")]
    ExposedWithoutToken { host: String, file: PathBuf },
}

/// A running Switchboard: its servers and its gateway.
pub struct App {
    hub: Arc<Hub>,
    addr: SocketAddr,
    config_file: PathBuf,
    initial_error: Option<ConfigError>,
    stop_gateway: CancellationToken,
    gateway: JoinHandle<std::io::Result<()>>,
}

impl App {
    /// Loads the config, binds the gateway and starts every server.
    ///
    /// A config that does not load does not stop the gateway: it starts with no servers and
    /// the error is reported (the file can be fixed while it runs).
    pub async fn start(options: AppOptions) -> Result<Self, StartError> {
        let (file, initial_error) = match config::load(&options.config_file) {
            Ok(file) => (file, None),
            Err(e) => {
                tracing::error!("{e}");
                (empty_file(), Some(e))
            }
        };
        let settings = effective_gateway(&file.gateway, &options);
        if !is_loopback(&settings.host) && settings.token.is_none() {
            return Err(StartError::ExposedWithoutToken {
                host: settings.host,
                file: options.config_file,
            });
        }
        let bind = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: bind.clone(),
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr: bind, source })?;

        let events = EventBus::default();
        let hub = Hub::new(events.clone(), options.server_log_dir.clone());
        let summary = hub.apply(&file).await;
        tracing::info!(servers = summary.started.len(), "servers started");
        if let Some(e) = &initial_error {
            events.publish(Event::ConfigError {
                message: e.to_string(),
            });
        }

        let state = AppState::new(Arc::clone(&hub), addr);
        let stop_gateway = CancellationToken::new();
        let gateway = tokio::spawn(gateway::serve(listener, state, stop_gateway.clone()));
        tracing::info!("gateway listening on http://{addr}");
        Ok(Self {
            hub,
            addr,
            config_file: options.config_file,
            initial_error,
            stop_gateway,
            gateway,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    pub fn config_file(&self) -> &PathBuf {
        &self.config_file
    }

    /// The error of the file as it was at start, if it did not load.
    pub fn initial_error(&self) -> Option<&ConfigError> {
        self.initial_error.as_ref()
    }

    /// Stops every server (killing their process groups), then the gateway.
    pub async fn shutdown(self) {
        self.hub.shutdown().await;
        self.stop_gateway.cancel();
        // Open streams were closed with their sessions; do not wait forever on a stuck one.
        if tokio::time::timeout(Duration::from_secs(5), self.gateway)
            .await
            .is_err()
        {
            tracing::warn!("gateway did not stop within 5s");
        }
    }
}

fn empty_file() -> ServersFile {
    ServersFile {
        mcp_servers: Default::default(),
        gateway: GatewaySettings::default(),
    }
}

fn effective_gateway(file: &GatewaySettings, options: &AppOptions) -> GatewaySettings {
    GatewaySettings {
        host: options.host.clone().unwrap_or_else(|| file.host.clone()),
        port: options.port.unwrap_or(file.port),
        token: file.token.clone(),
    }
}

/// True for names and addresses that only this machine can reach.
pub fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_are_recognised() {
        for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["0.0.0.0", "192.168.1.2", "example.com", "::"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
