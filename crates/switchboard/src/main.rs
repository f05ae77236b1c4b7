//! The `switchboard` command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use switchboard::clients::{self, ClientKind, GatewayTarget, InstallTarget, Places, Records};
use switchboard::config::{self, Dirs};
use switchboard::instance_record;
use switchboard::service;
use switchboard::{App, AppOptions};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Run local MCP servers once, for every AI client"
)]
struct Cli {
    /// servers.json to use (default: SWITCHBOARD_CONFIG, else the platform config dir).
    /// Global, so it goes before or after the subcommand.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway and every server of servers.json (headless; the dashboard is served too).
    Serve {
        /// Address to listen on (overrides gateway.host).
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on (overrides gateway.port; 0 picks a free one).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Print the gateway token (creating the token file, 0600, if needed). Clients on other
    /// machines send it as `Authorization: Bearer <token>` when the gateway binds beyond
    /// loopback.
    Token,
    /// Bridge stdio to the gateway, for clients that only run commands (Claude Desktop):
    /// `"command": "switchboard", "args": ["connect", "NAME"]`. Without NAME, every server
    /// (the aggregate endpoint).
    Connect {
        /// The server to reach; leave out for all of them.
        name: Option<String>,
        /// All of them in search mode (the aggregate's `?mode=search`).
        #[arg(long, conflicts_with = "name")]
        search: bool,
        /// The gateway's base URL (default: from servers.json).
        #[arg(long)]
        url: Option<String>,
    },
    /// List the AI clients found on this machine and the servers each one runs, directly or
    /// through Switchboard.
    Clients {
        /// Also look at this project's files (.cursor/mcp.json, .vscode/mcp.json, .mcp.json).
        #[arg(long)]
        project: Option<PathBuf>,
    },
    /// Copy a client's stdio servers into servers.json.
    Import {
        /// claude-desktop, cursor, vscode, claude-code or windsurf.
        client: ClientKind,
        /// Use the client's file in this project instead of the user's.
        #[arg(long)]
        project: Option<PathBuf>,
        /// Show the change to servers.json without writing it.
        #[arg(long)]
        dry_run: bool,
        /// Keep the plain-text secrets found (API keys, tokens, Authorization headers) in the
        /// OS keychain, leaving `${secret:NAME}` in servers.json.
        #[arg(long)]
        move_secrets: bool,
    },
    /// Point a client at Switchboard: one `switchboard` entry for every server, or one entry
    /// per server.
    Install {
        client: ClientKind,
        /// Install an entry for this server only.
        #[arg(long, conflicts_with = "all")]
        server: Option<String>,
        /// Install one entry per server instead of the single aggregate entry.
        #[arg(long)]
        all: bool,
        /// Install the aggregate entry in search mode: three meta-tools that find, describe and
        /// call every server's tools, instead of every tool's definition (fewer tokens when
        /// many servers run).
        #[arg(long, conflicts_with_all = ["all", "server"])]
        search: bool,
        /// Replace the client's own entries for servers Switchboard runs (kept for uninstall).
        #[arg(long)]
        replace: bool,
        #[arg(long)]
        project: Option<PathBuf>,
        /// Show the change without writing it.
        #[arg(long)]
        dry_run: bool,
        /// The gateway's base URL to write (default: from servers.json).
        #[arg(long)]
        url: Option<String>,
    },
    /// Undo `install`: remove Switchboard's entries and put back what it replaced.
    Uninstall {
        client: ClientKind,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        url: Option<String>,
    },
    /// Sign in to a remote server (OAuth) in the browser, once for every client; or, with
    /// --logout, forget its tokens.
    Auth {
        /// The server's name in servers.json.
        name: String,
        /// Forget the server's tokens instead.
        #[arg(long)]
        logout: bool,
        /// Gateway URL (default: from servers.json).
        #[arg(long)]
        url: Option<String>,
    },
    /// Keep a secret in the OS keychain for `${secret:NAME}` in servers.json (its env, args,
    /// url or headers); servers get it when they next start.
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// Show what a running Switchboard reports.
    Status {
        /// Gateway URL (default: from servers.json).
        #[arg(long)]
        url: Option<String>,
    },
    /// Run `switchboard serve` as a systemd user service (Linux): install, uninstall, status.
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
}

#[derive(Debug, Subcommand)]
enum ServiceAction {
    /// Write ~/.config/systemd/user/switchboard.service (this executable's `serve`, with the
    /// servers.json chosen by --config or SWITCHBOARD_CONFIG), then enable and start it.
    Install {
        /// Only write the unit; leave systemctl alone.
        #[arg(long)]
        no_enable: bool,
        /// Replace a switchboard.service that `service install` did not write (kept as .bak).
        #[arg(long)]
        force: bool,
    },
    /// Stop and disable the service, and remove the unit `service install` wrote.
    Uninstall {
        /// Also remove a switchboard.service that `service install` did not write.
        #[arg(long)]
        force: bool,
    },
    /// Whether the unit is installed, enabled and active, and whether its gateway answers.
    Status,
}

#[derive(Debug, Subcommand)]
enum SecretAction {
    /// Store the value read from stdin (one trailing newline dropped) as NAME.
    Set { name: String },
    /// The names of the stored secrets (never their values).
    List,
    /// Forget NAME.
    Rm { name: String },
}

fn main() -> Result<()> {
    switchboard::run_reaper_if_requested();
    let Cli { config, command } = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    match command {
        Command::Serve { host, port } => runtime.block_on(serve(config, host, port)),
        Command::Status { url } => {
            // Found before the runtime runs: looking at a running instance's record blocks.
            let gateway = gateway_url(config, url)?;
            runtime.block_on(status(gateway))
        }
        Command::Auth { name, logout, url } => {
            let gateway = gateway_url(config, url)?;
            runtime.block_on(auth(gateway, &name, logout))
        }
        Command::Connect { name, search, url } => {
            init_stderr_logging();
            let base = gateway_url(config, url)?.url;
            let endpoint = match (name, search) {
                (Some(name), _) => format!("{base}/servers/{name}/mcp"),
                (None, true) => format!("{base}/mcp?mode=search"),
                (None, false) => format!("{base}/mcp"),
            };
            runtime.block_on(switchboard::run_stdio_bridge(endpoint))?;
            Ok(())
        }
        Command::Clients { project } => clients_list(project, config),
        Command::Import {
            client,
            project,
            dry_run,
            move_secrets,
        } => import(client, project, dry_run, move_secrets, config),
        Command::Install {
            client,
            server,
            all,
            search,
            replace,
            project,
            dry_run,
            url,
        } => {
            let target = match (server, all, search) {
                (Some(name), _, _) => InstallTarget::Server(name),
                (None, true, _) => InstallTarget::All,
                (None, false, true) => InstallTarget::Search,
                (None, false, false) => InstallTarget::Aggregate,
            };
            install(client, target, replace, project, dry_run, url, config)
        }
        Command::Uninstall {
            client,
            project,
            dry_run,
            url,
        } => uninstall(client, project, dry_run, url, config),
        Command::Secret { action } => secret(config, action),
        Command::Service { action } => service_command(config, action, &runtime),
        Command::Token => {
            let dirs = Dirs::resolve(config)?;
            let path = switchboard::token_file(&dirs.config_file);
            println!("{}", switchboard::read_or_create_token(&path)?);
            eprintln!("(stored in {})", path.display());
            Ok(())
        }
    }
}

/// `switchboard secret set|list|rm`: the keychain of this servers.json (or the 0600 file
/// beside it where there is no keychain, which is said).
fn secret(config_flag: Option<PathBuf>, action: SecretAction) -> Result<()> {
    let dirs = Dirs::resolve(config_flag)?;
    let store = switchboard::SecretStore::for_config(&dirs.config_file);
    let place = match store.location() {
        (_, Some(path)) => format!("the file {} (no OS keychain here)", path.display()),
        _ => "the OS keychain".to_owned(),
    };
    match action {
        SecretAction::Set { name } => {
            switchboard::check_secret_name(&name).map_err(anyhow::Error::msg)?;
            let mut value = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut value)
                .context("cannot read the secret from stdin")?;
            let value = value
                .strip_suffix('\n')
                .map(|v| v.strip_suffix('\r').unwrap_or(v))
                .unwrap_or(&value);
            if value.is_empty() {
                bail!("no value on stdin: pipe it in, e.g. `printf %s \"$TOKEN\" | switchboard secret set {name}`");
            }
            store.set_named(&name, value)?;
            eprintln!(
                "stored {name} in {place}; servers whose entry says ${{secret:{name}}} get it when they next start (restart them to use it now)"
            );
        }
        SecretAction::List => {
            for name in store.names()? {
                println!("{name}");
            }
            eprintln!("(kept in {place})");
        }
        SecretAction::Rm { name } => {
            store.remove_named(&name)?;
            eprintln!("forgot {name} (from {place})");
        }
    }
    Ok(())
}

/// `switchboard service install|uninstall|status`: the unit and systemctl are
/// `switchboard::service`'s; the gateway's answer to `status` is asked here.
fn service_command(
    config_flag: Option<PathBuf>,
    action: ServiceAction,
    runtime: &tokio::runtime::Runtime,
) -> Result<()> {
    if !cfg!(target_os = "linux") {
        bail!(
            "`switchboard service` is Linux-only (a systemd user service) for now; run `switchboard serve` from your system's own service manager"
        );
    }
    let unit_file = service::unit_file()?;
    match action {
        ServiceAction::Install { no_enable, force } => {
            // The service does not see this shell's environment, so a servers.json chosen
            // through SWITCHBOARD_CONFIG is written as --config too.
            let chosen =
                config_flag.or_else(|| std::env::var_os(config::CONFIG_ENV).map(PathBuf::from));
            let spec = service::spec_for_this_executable(chosen.as_deref())?;
            print!(
                "{}",
                service::install(&unit_file, &spec, force, !no_enable)?
            );
        }
        ServiceAction::Uninstall { force } => {
            print!("{}", service::uninstall(&unit_file, force)?);
        }
        ServiceAction::Status => {
            let status = service::status(&unit_file)?;
            print!("{status}");
            // The gateway of the servers.json the unit serves, unless --config names another.
            let config =
                config_flag.or_else(|| status.unit.as_ref().and_then(|u| u.config.clone()));
            let gateway = gateway_url(config, None)?;
            let health = runtime.block_on(http_get(&format!("{}/api/health", gateway.url)));
            let pid = health.ok().and_then(|body| {
                serde_json::from_str::<serde_json::Value>(&body).ok()?["pid"].as_u64()
            });
            let GatewayUrl { url, source } = gateway;
            match pid {
                Some(pid) => println!("gateway   answers at {url} (pid {pid}; {source})"),
                None => println!("gateway   no Switchboard answers at {url} ({source})"),
            }
        }
    }
    Ok(())
}

async fn serve(
    config_flag: Option<PathBuf>,
    host: Option<String>,
    port: Option<u16>,
) -> Result<()> {
    let dirs = Dirs::resolve(config_flag)?;
    let _log_guard = switchboard::init_logging(&dirs.log_dir());
    if config::create_if_missing(&dirs.config_file)
        .with_context(|| format!("cannot create {}", dirs.config_file.display()))?
    {
        tracing::info!(file = %dirs.config_file.display(), "created an example servers.json");
    }
    tracing::info!(file = %dirs.config_file.display(), "using config");
    let app = App::start(AppOptions {
        config_file: dirs.config_file.clone(),
        server_log_dir: Some(dirs.server_log_dir()),
        activity_db: Some(dirs.activity_db()),
        catalog_dir: Some(dirs.catalog_dir()),
        host,
        port,
        reaper: true,
        instance_dir: Some(dirs.instance_dir()),
    })
    .await?;
    // Machine-readable line for scripts and tests that start us with --port 0.
    println!("switchboard listening on {}", app.base_url());
    wait_for_signal().await?;
    tracing::info!("stopping every server");
    app.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot handle SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<()> {
    tokio::signal::ctrl_c()
        .await
        .context("cannot handle Ctrl-C")
}

async fn status(gateway: GatewayUrl) -> Result<()> {
    let url = &gateway.url;
    let body = http_get(&format!("{url}/api/servers"))
        .await
        .with_context(|| {
            format!(
                "no Switchboard answering at {url} ({}); is `switchboard serve` running?",
                gateway.source
            )
        })?;
    let value: serde_json::Value =
        serde_json::from_str(&body).context("the gateway answered something that is not JSON")?;
    let Some(servers) = value["servers"].as_array() else {
        bail!("unexpected answer from {url}/api/servers");
    };
    println!(
        "{:<24} {:<11} {:>8} {:>9} {:>8}  ERROR",
        "NAME", "STATE", "PID", "TOOLS", "RESTARTS"
    );
    for s in servers {
        println!(
            "{:<24} {:<11} {:>8} {:>9} {:>8}  {}",
            s["name"].as_str().unwrap_or("?"),
            s["state"].as_str().unwrap_or("?"),
            s["pid"]
                .as_u64()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            format!("{}/{}", s["tools"]["exposed"], s["tools"]["total"]),
            s["restarts"],
            s["lastError"].as_str().unwrap_or(""),
        );
    }
    Ok(())
}

/// `switchboard auth NAME [--logout]`: asks the running gateway to begin the sign-in, opens
/// the authorization page in the browser, and waits (at most 10 minutes) until the server
/// runs with its new token.
async fn auth(gateway: GatewayUrl, name: &str, logout: bool) -> Result<()> {
    let base = &gateway.url;
    let client = local_client(Duration::from_secs(60))?;
    let endpoint = format!("{base}/api/servers/{name}/auth");
    let unreachable = || {
        format!(
            "no Switchboard answering at {base} ({}); is `switchboard serve` running?",
            gateway.source
        )
    };
    let request = if logout {
        client.delete(&endpoint)
    } else {
        client.post(&endpoint)
    };
    let response = request.send().await.with_context(unreachable)?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "{}",
            body["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("the gateway answered {status}"))
        );
    }
    if logout {
        println!("signed out of {name}: its tokens are forgotten");
        return Ok(());
    }
    let Some(authorization_url) = body["authorizationUrl"].as_str() else {
        bail!("the gateway did not answer an authorization URL");
    };
    println!(
        "Opening the sign-in page for {name}; if no browser opens, visit:
{authorization_url}"
    );
    if let Err(e) = open_in_browser(authorization_url) {
        eprintln!("could not open a browser ({e}); open the address above yourself");
    }
    let id = body["state"].as_str().unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let progress: serde_json::Value =
            serde_json::from_str(&http_get(&format!("{endpoint}?state={id}")).await?)?;
        match progress["status"].as_str() {
            Some("signed-in") => break,
            Some("waiting") if std::time::Instant::now() < deadline => continue,
            Some("waiting") => {
                bail!("not signed in to {name}: the browser did not come back within 10 minutes")
            }
            Some("failed") => bail!(
                "{}",
                progress["message"].as_str().unwrap_or("the sign-in failed")
            ),
            _ => bail!("the sign-in to {name} expired; run `switchboard auth {name}` again"),
        }
    }
    // Signed in: the server connects with its token; say how that went (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let server: serde_json::Value =
            serde_json::from_str(&http_get(&format!("{base}/api/servers/{name}")).await?)?;
        let state = server["state"].as_str().unwrap_or("?");
        if state == "running" {
            println!("signed in to {name}: it is running for every client");
            return Ok(());
        }
        if std::time::Instant::now() > deadline || state == "needs-auth" || state == "failed" {
            println!(
                "signed in to {name}; the server is {state}: {}",
                server["lastError"].as_str().unwrap_or("")
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Opens `url` with `$BROWSER` when set (as `$BROWSER URL`), else the platform's opener.
fn open_in_browser(url: &str) -> std::io::Result<()> {
    let mut command = match std::env::var("BROWSER") {
        Ok(browser) if !browser.trim().is_empty() => {
            let mut c = std::process::Command::new("sh");
            c.arg("-c")
                .arg(format!("{browser} \"$1\""))
                .arg("sh")
                .arg(url);
            c
        }
        _ if cfg!(target_os = "macos") => {
            let mut c = std::process::Command::new("open");
            c.arg(url);
            c
        }
        _ if cfg!(windows) => {
            let mut c = std::process::Command::new("cmd");
            c.args(["/C", "start", ""]).arg(url);
            c
        }
        _ => {
            let mut c = std::process::Command::new("xdg-open");
            c.arg(url);
            c
        }
    };
    command
        .stdin(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
}

/// An HTTP client for the local gateway: no proxy from the environment, bounded waits.
fn local_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .build()
        .context("cannot set up the HTTP client")
}

/// The body of a `GET` that answers 200. The gateway is local (or the `--url` given), so no
/// proxy from the environment is used, and the timeouts keep a port that accepts but never
/// answers from hanging the command. Only `http://`: the gateway speaks plain HTTP, and saying so
/// beats reqwest's error about an unsupported scheme.
async fn http_get(url: &str) -> Result<String> {
    if !url.starts_with("http://") {
        bail!("only http:// URLs are supported");
    }
    let response = local_client(Duration::from_secs(15))?
        .get(url)
        .send()
        .await?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        bail!("the gateway answered {status}");
    }
    Ok(response.text().await?)
}

/// The bridge speaks MCP on stdout, so its own logs go to stderr only (clients show them).
fn init_stderr_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}

/// A gateway's base URL and where it came from (for errors).
struct GatewayUrl {
    url: String,
    source: String,
}

/// The gateway's base URL: `--url`; else the running instance of this servers.json (its
/// instance record: it may listen on another port, `serve --port`); else `gateway.host` and
/// `port` of servers.json.
fn gateway_url(config_flag: Option<PathBuf>, url: Option<String>) -> Result<GatewayUrl> {
    if let Some(url) = url {
        return Ok(GatewayUrl {
            url: url.trim_end_matches('/').to_owned(),
            source: "given with --url".into(),
        });
    }
    let dirs = Dirs::resolve(config_flag)?;
    if let Some(running) = instance_record::find_live(&dirs.instance_dir(), &dirs.config_file) {
        return Ok(GatewayUrl {
            url: running.base_url,
            source: format!("recorded by the instance running it, pid {}", running.pid),
        });
    }
    let gateway = config::load(&dirs.config_file)
        .map(|f| f.gateway)
        .unwrap_or_default();
    let host = match gateway.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1".to_owned(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_owned(),
    };
    Ok(GatewayUrl {
        url: format!("http://{host}:{}", gateway.port),
        source: format!(
            "gateway.port of {}; no running instance of it recorded in {}",
            dirs.config_file.display(),
            dirs.instance_dir().display()
        ),
    })
}

fn places(project: Option<PathBuf>) -> Result<Places> {
    Places::detect(project).context("no home directory found")
}

fn target(config: Option<PathBuf>, url: Option<String>) -> Result<GatewayTarget> {
    Ok(GatewayTarget {
        base_url: gateway_url(config, url)?.url,
        executable: std::env::current_exe()
            .context("cannot tell where switchboard is installed")?,
    })
}

fn records_path(config: Option<PathBuf>) -> Result<PathBuf> {
    let dirs = Dirs::resolve(config)?;
    Ok(clients::records_file(&dirs.config_file))
}

fn clients_list(project: Option<PathBuf>, config: Option<PathBuf>) -> Result<()> {
    let places = places(project)?;
    let gateway = target(config, None)?;
    for client in clients::detect(&places, &gateway) {
        println!("{}", client.name);
        for file in client.files {
            let state = if !file.exists {
                "not found".to_owned()
            } else if let Some(error) = &file.error {
                format!("error: {error}")
            } else {
                format!("{} servers", file.servers.len())
            };
            println!("  {} ({state})", file.path.display());
            for server in file.servers {
                println!(
                    "    {:<24} {:<12} {}",
                    server.name, server.reach, server.detail
                );
            }
        }
    }
    Ok(())
}

fn import(
    client: ClientKind,
    project: Option<PathBuf>,
    dry_run: bool,
    move_secrets: bool,
    config: Option<PathBuf>,
) -> Result<()> {
    let places = places(project)?;
    let path = clients::location(client, &places)?;
    let dirs = Dirs::resolve(config.clone())?;
    let gateway = target(config, None)?;
    let clients::PlannedImport {
        change,
        plan,
        moved_secrets,
    } = clients::plan_import(client, &path, &gateway, &dirs.config_file, move_secrets)?;
    for (from, to) in &plan.imported {
        println!("import {from} as {to}");
    }
    for (name, why) in &plan.skipped {
        println!("skip {name}: {why}");
    }
    print!("{}", change.diff);
    for found in &plan.plaintext_secrets {
        let verb = if move_secrets { "moves" } else { "found" };
        println!(
            "{verb} a plain-text secret: {}.{} of {} (as ${{secret:{}}})",
            found.field, found.key, found.server, found.secret
        );
    }
    if !move_secrets && !plan.plaintext_secrets.is_empty() {
        println!(
            "run again with --move-secrets to keep them in the OS keychain, not in servers.json"
        );
    }
    if dry_run || plan.imported.is_empty() {
        return Ok(());
    }
    // The secrets go to the keychain first: a file that refers to a secret not stored would
    // fail those servers.
    if !moved_secrets.is_empty() {
        let store = switchboard::SecretStore::for_config(&dirs.config_file);
        for (name, value) in &moved_secrets {
            store.set_named(name, value)?;
        }
        let place = match store.location() {
            (_, Some(path)) => format!("the file {}", path.display()),
            _ => "the OS keychain".to_owned(),
        };
        println!("kept {} secret(s) in {place}", moved_secrets.len());
    }
    if let Some(backup) = change.write()? {
        println!("previous version kept as {}", backup.display());
    }
    Ok(())
}

fn install(
    client: ClientKind,
    target_kind: InstallTarget,
    replace: bool,
    project: Option<PathBuf>,
    dry_run: bool,
    url: Option<String>,
    config: Option<PathBuf>,
) -> Result<()> {
    let places = places(project)?;
    let path = clients::location(client, &places)?;
    let dirs = Dirs::resolve(config.clone())?;
    let servers: Vec<String> = config::load(&dirs.config_file)?
        .mcp_servers
        .into_keys()
        .collect();
    let gateway = target(config.clone(), url)?;
    let records_path = records_path(config)?;
    let mut records = Records::load(&records_path)?;
    let previous = records.previous(&path);
    let plan = clients::plan_install(
        client,
        &path,
        &gateway,
        &servers,
        &target_kind,
        replace,
        previous,
    )?;
    print!("{}", plan.change.diff);
    if !plan.duplicates.is_empty() {
        println!(
            "note: {} still runs {} itself; pass --replace to have it use Switchboard for them",
            client.display_name(),
            plan.duplicates.join(", ")
        );
    }
    if dry_run {
        return Ok(());
    }
    if let Some(backup) = records.apply_install(&records_path, &path, &plan)? {
        println!("previous version kept as {}", backup.display());
    }
    Ok(())
}

fn uninstall(
    client: ClientKind,
    project: Option<PathBuf>,
    dry_run: bool,
    url: Option<String>,
    config: Option<PathBuf>,
) -> Result<()> {
    let places = places(project)?;
    let path = clients::location(client, &places)?;
    let gateway = target(config.clone(), url)?;
    let records_path = records_path(config)?;
    let mut records = Records::load(&records_path)?;
    let change = clients::plan_uninstall(client, &path, &gateway, records.files.get(&path))?;
    print!("{}", change.diff);
    if dry_run {
        return Ok(());
    }
    if let Some(backup) = records.apply_uninstall(&records_path, &path, &change)? {
        println!("previous version kept as {}", backup.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn config_goes_before_or_after_the_subcommand() {
        for args in [
            &["switchboard", "--config", "x.json", "status"][..],
            &["switchboard", "status", "--config", "x.json"][..],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert_eq!(
                cli.config.as_deref(),
                Some(std::path::Path::new("x.json")),
                "{args:?}"
            );
            assert!(matches!(cli.command, Command::Status { url: None }));
        }
        let cli = Cli::try_parse_from(["switchboard", "token"]).unwrap();
        assert_eq!(
            cli.config, None,
            "left to SWITCHBOARD_CONFIG by Dirs::resolve"
        );
    }
}
