//! The Tauri shell around the core: start-up, the actions of the menu, the live refresh of the
//! tray from the core's events, notifications, and an orderly quit.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use switchboard::config::{self, Dirs};
use switchboard::{App, AppOptions, ConfigStore, EditError, Hub, StartError};
use switchboard_app::alerts::{Alert, Alerts};
use switchboard_app::model::{self, Action, Snapshot};
use switchboard_app::options::{Options, HIDDEN_ARG};
use tauri::{AppHandle, Manager, RunEvent};
use tauri_plugin_autostart::{MacosLauncher, ManagerExt as _};
use tauri_plugin_clipboard_manager::ClipboardExt as _;
use tauri_plugin_notification::NotificationExt as _;
use tauri_plugin_opener::OpenerExt as _;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{tray, window};

/// How long the tray waits for more events before redrawing (a reload starts many servers).
const COALESCE: Duration = Duration::from_millis(50);

/// What the shell shares between the menu, the window and the refresh thread.
pub struct Shell {
    pub hub: Arc<Hub>,
    pub store: Arc<ConfigStore>,
    /// The gateway, e.g. `http://127.0.0.1:7427`.
    pub base_url: String,
    pub runtime: tokio::runtime::Handle,
    /// The core, taken by the first [`Shell::stop`] (and held until it is stopped, so a second
    /// one waits for it).
    core: tokio::sync::Mutex<Option<App>>,
    quitting: AtomicBool,
    /// Asks the refresh thread to redraw now (after something that sends no core event).
    redraw: Notify,
    /// Ends the refresh thread.
    stop: CancellationToken,
    /// The log file writer's guard: dropped (flushed) on exit.
    log_guard: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Shell {
    pub fn snapshot(&self, app: &AppHandle) -> Snapshot {
        let autostart = app.autolaunch().is_enabled().ok();
        Snapshot::capture(&self.hub, &self.store, &self.base_url, autostart)
    }

    pub fn quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }

    /// Stops every server (their process groups killed) and the gateway; then nothing else.
    async fn stop(&self) {
        self.stop.cancel();
        let mut core = self.core.lock().await;
        if let Some(core) = core.take() {
            tracing::info!("stopping every server");
            core.shutdown().await;
            tracing::info!("stopped");
        }
    }
}

/// Starts the core, the tray and (unless `--hidden`) the window, and runs until Quit.
pub fn run(options: Options) -> Result<()> {
    let dirs = Dirs::resolve(options.config.clone())?;
    let log_guard = switchboard::init_logging(&dirs.log_dir());
    if config::create_if_missing(&dirs.config_file)
        .with_context(|| format!("cannot create {}", dirs.config_file.display()))?
    {
        tracing::info!(file = %dirs.config_file.display(), "created an example servers.json");
    }
    tracing::info!(file = %dirs.config_file.display(), "using config");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchboard")
        .build()
        .context("cannot start the async runtime")?;
    // Tauri and its plugins run their tasks on the same runtime as the core.
    tauri::async_runtime::set(runtime.handle().clone());

    let hidden = options.hidden;
    let app = tauri::Builder::default()
        // First: a second launch hands over to the running one (which opens its window) and
        // exits inside `build` below, before it starts anything.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("launched again: showing the dashboard");
            window::open(app);
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec![HIDDEN_ARG]),
        ))
        .setup(move |app| {
            let shell = Arc::clone(app.state::<Arc<Shell>>().inner());
            let handle = app.handle().clone();
            let tray = tray::Tray::install(&handle, &shell.snapshot(&handle))?;
            spawn_refresh(handle.clone(), Arc::clone(&shell), tray)?;
            spawn_signal_handler(handle.clone(), &shell);
            if !hidden {
                window::open(&handle);
            }
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))
        .context("cannot start the tray app")?;

    // Only instance from here on: start the servers and the gateway.
    let core = match runtime.block_on(App::start(AppOptions {
        config_file: dirs.config_file.clone(),
        server_log_dir: Some(dirs.server_log_dir()),
        activity_db: Some(dirs.activity_db()),
        catalog_dir: Some(dirs.catalog_dir()),
        host: options.host.clone(),
        port: options.port,
        reaper: true,
        instance_dir: Some(dirs.instance_dir()),
    })) {
        Ok(core) => core,
        Err(StartError::PortTaken { addr, holder }) => {
            // Most often `switchboard serve` runs already: point to it, and unless started
            // hidden (at login), open its dashboard, which is what the user came for.
            let opened = !hidden
                && app
                    .opener()
                    .open_url(format!("{}/", holder.base_url), None::<&str>)
                    .is_ok();
            notify(
                app.handle(),
                Alert {
                    title: "Switchboard is already running".into(),
                    body: format!(
                        "{} (pid {}, {}) listens on {addr}.{} Stop it to run the tray app, or start the app with --port.",
                        holder.base_url,
                        holder.pid,
                        holder.config_file.display(),
                        if opened { " Its dashboard was opened in your browser." } else { "" },
                    ),
                },
            );
            std::thread::sleep(Duration::from_millis(300));
            return Err(StartError::PortTaken { addr, holder }.into());
        }
        Err(e) => {
            notify(
                app.handle(),
                Alert {
                    title: "Switchboard could not start".into(),
                    body: e.to_string(),
                },
            );
            // Give the notification a moment to be sent before the process ends.
            std::thread::sleep(Duration::from_millis(300));
            return Err(e.into());
        }
    };
    // A machine-readable line, as `switchboard serve` prints, for scripts and tests.
    println!("switchboard-app listening on {}", core.base_url());
    let shell = Arc::new(Shell {
        hub: Arc::clone(core.hub()),
        store: Arc::clone(core.store()),
        base_url: core.base_url(),
        runtime: runtime.handle().clone(),
        core: tokio::sync::Mutex::new(Some(core)),
        quitting: AtomicBool::new(false),
        redraw: Notify::new(),
        stop: CancellationToken::new(),
        log_guard: Mutex::new(log_guard.map(|g| Box::new(g) as Box<dyn Any + Send>)),
    });
    app.manage(Arc::clone(&shell));

    app.run(move |_, event| match event {
        // The last window closed: keep running in the tray. Only an explicit exit (Quit, after
        // it stopped everything) has an exit code.
        RunEvent::ExitRequested {
            api, code: None, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            // Quit stopped everything already; any other way out stops it here.
            shell.runtime.block_on(shell.stop());
            drop(
                shell
                    .log_guard
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take(),
            );
        }
        _ => {}
    });
    Ok(())
}

/// Runs a menu item's action. Called on the main thread: anything slow goes to the runtime.
pub fn perform(app: &AppHandle, id: &str) {
    let Some(action) = Action::from_id(id) else {
        return;
    };
    let shell = Arc::clone(app.state::<Arc<Shell>>().inner());
    tracing::debug!(?action, "menu");
    match action {
        Action::OpenDashboard => window::open(app),
        Action::OpenConfig | Action::FixConfig => {
            let path = shell.store.path().to_string_lossy().into_owned();
            if let Err(e) = app.opener().open_path(&path, None::<&str>) {
                tracing::warn!(error = %e, "cannot open servers.json");
                notify(
                    app,
                    Alert {
                        title: "Cannot open servers.json".into(),
                        body: format!("{e}\nIt is at {path}"),
                    },
                );
            }
        }
        Action::RestartAll => {
            let hub = Arc::clone(&shell.hub);
            shell.runtime.spawn(async move {
                for slot in hub.slots() {
                    if model::in_restart_all(slot.status().state) {
                        hub.restart(slot.name()).await;
                    }
                }
            });
        }
        Action::Restart(name) => {
            let hub = Arc::clone(&shell.hub);
            shell.runtime.spawn(async move {
                hub.restart(&name).await;
            });
        }
        Action::ToggleDisabled(name) => {
            let (app, store) = (app.clone(), Arc::clone(&shell.store));
            shell.runtime.spawn(async move {
                if let Err(e) = toggle_disabled(&store, &name).await {
                    tracing::warn!(server = %name, error = %e, "cannot change servers.json");
                    notify(
                        &app,
                        Alert {
                            title: format!("Cannot enable or disable {name}"),
                            body: e.to_string(),
                        },
                    );
                }
            });
        }
        Action::ToggleOnDemand(name) => {
            // Flips what the menu shows: the running settings (servers.json, when it has an
            // error, is not what runs).
            let Some(on_demand) = shell.hub.slot(&name).map(|s| s.settings().spec.on_demand())
            else {
                shell.redraw.notify_one(); // gone meanwhile: the menu follows
                return;
            };
            let (app, shell) = (app.clone(), Arc::clone(&shell));
            shell.runtime.clone().spawn(async move {
                let patch = model::start_patch(!on_demand);
                if let Err(e) = shell.store.patch_server(&name, &patch).await {
                    tracing::warn!(server = %name, error = %e, "cannot change servers.json");
                    notify(
                        &app,
                        Alert {
                            title: format!("Cannot change how {name} starts"),
                            body: e.to_string(),
                        },
                    );
                    // The check mark toggled itself when clicked: put it back.
                    shell.redraw.notify_one();
                }
            });
        }
        Action::CopyHttpUrl(name) => copy(app, model::http_url(&shell.base_url, &name)),
        Action::CopySseUrl(name) => copy(app, model::sse_url(&shell.base_url, &name)),
        Action::SignIn(name) => {
            let (app, shell) = (app.clone(), Arc::clone(&shell));
            shell.runtime.clone().spawn(async move {
                let url = match &*shell.core.lock().await {
                    Some(core) => core.begin_sign_in(&name).await,
                    None => return, // quitting
                };
                let opened = url.and_then(|url| {
                    app.opener()
                        .open_url(&url, None::<&str>)
                        .map_err(|e| format!("cannot open the browser: {e}"))
                });
                if let Err(e) = opened {
                    tracing::warn!(server = %name, error = %e, "sign-in not begun");
                    notify(
                        &app,
                        Alert {
                            title: format!("Cannot sign in to {name}"),
                            body: e,
                        },
                    );
                }
            });
        }
        Action::ToggleAutostart => {
            let autolaunch = app.autolaunch();
            let result = match autolaunch.is_enabled() {
                Ok(true) => autolaunch.disable(),
                Ok(false) => autolaunch.enable(),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot change start at login");
            }
            shell.redraw.notify_one();
        }
        Action::Quit => quit(app),
    }
}

/// Flips the entry's `disabled` in servers.json; the store applies what it wrote.
async fn toggle_disabled(store: &ConfigStore, name: &str) -> Result<(), EditError> {
    store.set_disabled(name, None).await.map(|_| ())
}

fn copy(app: &AppHandle, text: String) {
    if let Err(e) = app.clipboard().write_text(text) {
        tracing::warn!(error = %e, "cannot copy to the clipboard");
    }
}

/// Quit: closes the window and the tray at once (so it looks done), then stops every server
/// and the gateway, then exits.
pub fn quit(app: &AppHandle) {
    let shell = Arc::clone(app.state::<Arc<Shell>>().inner());
    if shell.quitting.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::info!("quitting");
    window::close(app);
    tray::hide(app);
    let app = app.clone();
    shell.runtime.clone().spawn(async move {
        shell.stop().await;
        app.exit(0);
    });
}

/// Shows a desktop notification (and logs it: there may be no notification server).
pub fn notify(app: &AppHandle, alert: Alert) {
    tracing::warn!(title = %alert.title, body = %alert.body, "notification");
    if let Err(e) = app
        .notification()
        .builder()
        .title(&alert.title)
        .body(&alert.body)
        .show()
    {
        tracing::warn!(error = %e, "cannot show a notification");
    }
}

/// The thread that keeps the tray current: it redraws on every core event (bursts coalesced)
/// and, while an on-demand server runs, when its "sleeps in" may have changed
/// ([`Snapshot::next_redraw`]); and it shows the notifications [`Alerts`] finds due. A thread
/// of its own, not a task: redrawing waits for the main thread, which a runtime worker should
/// not do.
fn spawn_refresh(app: AppHandle, shell: Arc<Shell>, mut tray: tray::Tray) -> std::io::Result<()> {
    let mut events = shell.hub.events().subscribe();
    let runtime = shell.runtime.clone();
    std::thread::Builder::new()
        .name("tray".into())
        .spawn(move || {
            let mut alerts = Alerts::default();
            loop {
                let snapshot = shell.snapshot(&app);
                if let Err(e) = tray.update(&app, &snapshot) {
                    tracing::warn!(error = %e, "cannot update the tray");
                }
                for alert in alerts.update(&snapshot) {
                    notify(&app, alert);
                }
                let timer = snapshot.next_redraw();
                let more = runtime.block_on(async {
                    tokio::select! {
                        received = events.recv() => !matches!(received, Err(RecvError::Closed)),
                        _ = shell.redraw.notified() => true,
                        _ = sleep_or_never(timer) => true,
                        _ = shell.stop.cancelled() => false,
                    }
                });
                if !more {
                    break;
                }
                std::thread::sleep(COALESCE);
                while !matches!(
                    events.try_recv(),
                    Err(TryRecvError::Empty | TryRecvError::Closed)
                ) {}
            }
        })
        .map(|_| ())
}

async fn sleep_or_never(delay: Option<Duration>) {
    match delay {
        Some(delay) => tokio::time::sleep(delay).await,
        None => std::future::pending().await,
    }
}

/// SIGINT and SIGTERM quit like the menu's Quit does (servers stopped, not left to the reaper).
fn spawn_signal_handler(app: AppHandle, shell: &Shell) {
    shell.runtime.spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        tracing::info!("signal received");
        quit(&app);
    });
}
