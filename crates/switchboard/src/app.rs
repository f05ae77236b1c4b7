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

use crate::activity::ActivityLog;
use crate::catalogs::CatalogStore;
use crate::config::{self, GatewaySettings};
use crate::events::EventBus;
use crate::gateway::{self, AppState};
use crate::heap;
use crate::hub::Hub;
use crate::instance_record::{self, InstanceRecord, Published};
use crate::oauth::SignIns;
use crate::reaper::Reaper;
use crate::secrets::SecretStore;
use crate::store::{ConfigStore, Reload};
use crate::supervisor::{user_path, Launcher};
use crate::token::{self, TokenError};
use crate::watch;

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
    /// Start a [`Reaper`] so children die with Switchboard even when it is killed. The
    /// executable must call [`crate::reaper::run_if_requested`] first thing in `main`.
    pub reaper: bool,
    /// The activity log's SQLite file (every MCP request through the gateway); `None` records
    /// nothing.
    pub activity_db: Option<PathBuf>,
    /// Where on-demand servers' catalogs are kept while they sleep; `None` keeps them in
    /// memory (learned again at each start).
    pub catalog_dir: Option<PathBuf>,
    /// Where to leave the record of this running instance (see [`instance_record`]) that
    /// `status`, `connect` and `install` look for; `None` leaves none.
    pub instance_dir: Option<PathBuf>,
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
    #[error("cannot listen on {addr}: Switchboard (pid {}, running {}) already listens there; use it at {}, stop it, or pass --port", .holder.pid, .holder.config_file.display(), .holder.base_url)]
    PortTaken {
        addr: String,
        /// The running instance that holds the port.
        holder: InstanceRecord,
    },
    #[error("gateway.host {host:?} is not loopback and there is no token: set gateway.token in {file}, or run `switchboard token` to create a token file, or bind 127.0.0.1")]
    ExposedWithoutToken { host: String, file: PathBuf },
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// A running Switchboard: its servers and its gateway.
pub struct App {
    hub: Arc<Hub>,
    /// Written to the last entries before exit.
    activity: Arc<ActivityLog>,
    store: Arc<ConfigStore>,
    addr: SocketAddr,
    /// Stops the gateway and the watcher.
    stop: CancellationToken,
    gateway: JoinHandle<std::io::Result<()>>,
    watcher: Option<JoinHandle<()>>,
    /// Dropped last, after every child was stopped.
    reaper: Option<Arc<Reaper>>,
    /// This instance's record; removed (dropped) first when it stops.
    record: Option<Published>,
    /// Remote servers' sign-ins (shared with the gateway and the supervisors).
    sign_ins: Arc<SignIns>,
}

impl App {
    /// Loads the config, binds the gateway, starts every server and watches the file.
    ///
    /// A config that does not load does not stop the gateway: it starts with no servers and
    /// the error is reported (the file can be fixed while it runs).
    pub async fn start(options: AppOptions) -> Result<Self, StartError> {
        // The gateway's own settings are read once; servers come from the store below.
        let loaded = config::load(&options.config_file).ok();
        let activity_settings = loaded
            .as_ref()
            .map(|f| f.activity.clone())
            .unwrap_or_default();
        let gateway_file = loaded.map(|f| f.gateway).unwrap_or_default();
        let mut settings = effective_gateway(&gateway_file, &options);
        if settings.token.is_none() {
            settings.token = token::read(&token::token_file(&options.config_file))?;
        }
        if !is_loopback(&settings.host) && settings.token.is_none() {
            return Err(StartError::ExposedWithoutToken {
                host: settings.host,
                file: options.config_file,
            });
        }
        let bind = format!("{}:{}", settings.host, settings.port);
        let listener = match TcpListener::bind(&bind).await {
            Ok(listener) => listener,
            Err(source) => {
                let holder = match &options.instance_dir {
                    Some(dir) if source.kind() == std::io::ErrorKind::AddrInUse => {
                        holder_of(dir.clone(), settings.port).await
                    }
                    _ => None,
                };
                return Err(match holder {
                    Some(holder) => StartError::PortTaken { addr: bind, holder },
                    None => StartError::Bind { addr: bind, source },
                });
            }
        };
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr: bind, source })?;

        let reaper = options.reaper.then(|| match Reaper::spawn() {
            Ok(reaper) => Some(Arc::new(reaper)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the reaper; servers may outlive a crash of Switchboard");
                None
            }
        });
        let reaper = reaper.flatten();
        let events = EventBus::default();
        // The keychain is asked once whether it is there (a D-Bus round trip on Linux).
        let config_file = options.config_file.clone();
        let secrets = tokio::task::spawn_blocking(move || SecretStore::for_config(&config_file))
            .await
            .map_err(|e| StartError::Bind {
                addr: addr.to_string(),
                source: std::io::Error::other(e),
            })?;
        // The browser comes back to this machine, whatever address the gateway is bound to.
        let sign_ins = Arc::new(SignIns::new(
            Arc::new(secrets),
            &format!("http://127.0.0.1:{}", addr.port()),
        ));
        let launcher = Launcher {
            search_path: user_path(),
            reaper: reaper.clone(),
            own_address: Some(addr),
            sign_ins: Some(Arc::clone(&sign_ins)),
            catalogs: CatalogStore::new(options.catalog_dir.clone()),
        };
        let hub = Hub::new(
            events.clone(),
            options.server_log_dir.clone(),
            Arc::new(launcher),
        );
        let store = ConfigStore::new(options.config_file.clone(), Arc::clone(&hub), events);
        let activity = match &options.activity_db {
            Some(path) => ActivityLog::open(path.clone(), &activity_settings),
            None => ActivityLog::off(),
        };
        store.follow_activity(Arc::clone(&activity));
        match store.reload().await {
            Reload::Applied(summary) => {
                tracing::info!(servers = summary.started.len(), "servers started")
            }
            Reload::Missing => tracing::warn!(
                file = %options.config_file.display(),
                "servers.json does not exist; running no servers until it is created"
            ),
            Reload::Rejected(_) | Reload::Unchanged => {}
        }

        let stop = CancellationToken::new();
        let watcher = match watch::spawn(Arc::clone(&store), stop.clone()) {
            Ok(task) => Some(task),
            Err(e) => {
                tracing::error!("{e}; edits to servers.json will not be applied until restart");
                None
            }
        };
        let state = AppState::new(Arc::clone(&hub), Arc::clone(&store), addr, &settings)
            .with_sign_ins(Arc::clone(&sign_ins))
            .with_activity(Arc::clone(&activity));
        let gateway = tokio::spawn(gateway::serve(listener, state, stop.clone()));
        tokio::spawn(heap::trim_periodically(stop.clone()));
        tracing::info!("gateway listening on http://{addr}");
        let record = options.instance_dir.as_deref().and_then(|dir| {
            let record = InstanceRecord::for_this_process(addr, &options.config_file);
            match instance_record::publish(dir, &record) {
                Ok(published) => {
                    tracing::debug!(file = %published.path().display(), "instance record written");
                    Some(published)
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot write the instance record; `switchboard status` will look at gateway.port of servers.json only");
                    None
                }
            }
        });
        Ok(Self {
            hub,
            activity,
            store,
            addr,
            stop,
            gateway,
            watcher,
            reaper,
            record,
            sign_ins,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Begins signing in to remote server `name` (the tray's Sign in): answers the
    /// authorization URL to open in a browser; the browser comes back to the gateway.
    pub async fn begin_sign_in(&self, name: &str) -> Result<String, String> {
        let slot = self
            .hub
            .slot(name)
            .ok_or_else(|| format!("no server named '{name}' in servers.json"))?;
        self.sign_ins
            .begin_for(&slot)
            .await
            .map_err(|e| e.to_string())
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    pub fn store(&self) -> &Arc<ConfigStore> {
        &self.store
    }

    /// Stops every server (killing their process groups), then the gateway. The instance
    /// record goes first, so nobody new is sent to an instance on its way out.
    pub async fn shutdown(self) {
        drop(self.record);
        if let Some(watcher) = self.watcher {
            watcher.abort();
        }
        self.hub.shutdown().await;
        self.stop.cancel();
        // Open streams were closed with their sessions; do not wait forever on a stuck one.
        if tokio::time::timeout(Duration::from_secs(5), self.gateway)
            .await
            .is_err()
        {
            tracing::warn!("gateway did not stop within 5s");
        }
        // The last requests' entries, unless the disk is stuck.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.activity.close()).await;
        drop(self.reaper);
    }
}

/// The running instance that holds `port`, if it left a record in `dir`. The probe blocks
/// (it asks the holder's `/api/health`), so it runs off the async workers.
async fn holder_of(dir: PathBuf, port: u16) -> Option<InstanceRecord> {
    tokio::task::spawn_blocking(move || instance_record::find_live_on_port(&dir, port))
        .await
        .ok()
        .flatten()
}

fn effective_gateway(file: &GatewaySettings, options: &AppOptions) -> GatewaySettings {
    GatewaySettings {
        host: options.host.clone().unwrap_or_else(|| file.host.clone()),
        port: options.port.unwrap_or(file.port),
        ..file.clone()
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

    fn options(dir: &std::path::Path, port: u16) -> AppOptions {
        AppOptions {
            config_file: dir.join("servers.json"),
            server_log_dir: None,
            activity_db: None,
            catalog_dir: None,
            host: Some("127.0.0.1".into()),
            port: Some(port),
            reaper: false,
            instance_dir: Some(dir.join("run")),
        }
    }

    #[tokio::test]
    async fn a_port_held_by_a_running_instance_names_that_instance() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("servers.json"), r#"{"mcpServers":{}}"#).unwrap();
        let first = App::start(options(dir.path(), 0)).await.unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("servers.json"), r#"{"mcpServers":{}}"#).unwrap();
        let mut second = options(other.path(), first.addr().port());
        second.instance_dir = Some(dir.path().join("run"));
        match App::start(second).await {
            Err(StartError::PortTaken { holder, .. }) => {
                assert_eq!(holder.base_url, first.base_url());
                assert_eq!(holder.pid, std::process::id());
                let message = StartError::PortTaken {
                    addr: String::new(),
                    holder,
                }
                .to_string();
                assert!(message.contains(&first.base_url()), "{message}");
            }
            Err(e) => panic!("expected the holder to be named: {e}"),
            Ok(_) => panic!("two gateways on one port"),
        }
        first.shutdown().await;
    }

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
