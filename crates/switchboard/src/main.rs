//! The `switchboard` command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use switchboard::config::{self, Dirs};
use switchboard::{App, AppOptions};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Run local MCP servers once, for every AI client"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway and every server of servers.json (headless; the dashboard is served too).
    Serve {
        /// servers.json to use (default: the platform config dir, or SWITCHBOARD_CONFIG).
        #[arg(long)]
        config: Option<PathBuf>,
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
    Token {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show what a running Switchboard reports.
    Status {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Gateway URL (default: from servers.json).
        #[arg(long)]
        url: Option<String>,
    },
}

fn main() -> Result<()> {
    switchboard::reaper::run_if_requested();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    match cli.command {
        Command::Serve { config, host, port } => runtime.block_on(serve(config, host, port)),
        Command::Status { config, url } => runtime.block_on(status(config, url)),
        Command::Token { config } => {
            let dirs = Dirs::resolve(config).map_err(anyhow::Error::msg)?;
            let path = switchboard::token::token_file(&dirs.config_file);
            println!("{}", switchboard::token::read_or_create(&path)?);
            eprintln!("(stored in {})", path.display());
            Ok(())
        }
    }
}

async fn serve(
    config_flag: Option<PathBuf>,
    host: Option<String>,
    port: Option<u16>,
) -> Result<()> {
    let dirs = Dirs::resolve(config_flag).map_err(anyhow::Error::msg)?;
    let _log_guard = switchboard::telemetry::init(&dirs.log_dir());
    if config::create_if_missing(&dirs.config_file)
        .with_context(|| format!("cannot create {}", dirs.config_file.display()))?
    {
        tracing::info!(file = %dirs.config_file.display(), "created an example servers.json");
    }
    tracing::info!(file = %dirs.config_file.display(), "using config");
    let app = App::start(AppOptions {
        config_file: dirs.config_file.clone(),
        server_log_dir: Some(dirs.server_log_dir()),
        host,
        port,
        reaper: true,
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

async fn status(config_flag: Option<PathBuf>, url: Option<String>) -> Result<()> {
    let url = match url {
        Some(url) => url,
        None => {
            let dirs = Dirs::resolve(config_flag).map_err(anyhow::Error::msg)?;
            let file = config::load(&dirs.config_file)?;
            format!("http://{}:{}", file.gateway.host, file.gateway.port)
        }
    };
    let body = http_get(&format!("{url}/api/servers"))
        .await
        .with_context(|| {
            format!("no Switchboard answering at {url} (is `switchboard serve` running?)")
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

/// A minimal HTTP/1.1 GET over loopback, enough for `status` without an HTTP client crate.
async fn http_get(url: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(authority),
    )
    .await
    .context("timed out connecting")??;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .context("timed out reading the answer")??;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("{}", head.lines().next().unwrap_or("bad answer"));
    }
    Ok(body.to_owned())
}
