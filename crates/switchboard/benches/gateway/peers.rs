//! The comparison scenarios: direct stdio (the baseline, no gateway), supergateway (stdio to
//! Streamable HTTP and to SSE) and mcp-proxy (both transports), each started, measured and
//! stopped.
//!
//! Separate from `switchboard` (the subject under test): these are what it is compared
//! against, and each runner owns how its peer is launched.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rmcp::service::ServiceExt;
use rmcp::transport::TokioChildProcess;

use crate::client::{close_all, connect_http};
use crate::measure::{latency, plain_latency, throughput, throughput_levels, Caller, Echoer};
use crate::procs::{
    children_rss, described, free_port, mark, memory_kib, sweep, wait_port, GroupGuard, Proc,
    Processes, MARK_VAR,
};
use crate::report::Report;
use crate::settings::{everything_bin, installed, node_options, Settings};
use crate::sse::SseClient;
use crate::BenchResult;

pub(crate) async fn direct_stdio(s: &Settings, r: &mut Report) -> BenchResult<()> {
    let name = "direct stdio (rmcp TokioChildProcess)";
    let mut cmd = tokio::process::Command::new(everything_bin()?);
    cmd.arg("stdio")
        .process_group(0)
        .env(MARK_VAR, mark().value())
        .kill_on_drop(true);
    // SAFETY: as in `prepare`.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)
        });
    }
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start server-everything: {e}"))?;
    let _group = GroupGuard(transport.id());
    let client = tokio::time::timeout(Duration::from_secs(60), ().serve(transport))
        .await
        .map_err(|_| "initialize over stdio took more than 60 s".to_owned())?
        .map_err(|e| format!("initialize over stdio failed: {e}"))?;
    r.latency(name, latency(Echoer::Rmcp(client.peer()), s).await);
    for &level in &s.levels {
        let peers = (0..level)
            .map(|_| Caller::Rmcp(client.peer().clone()))
            .collect();
        r.throughput(
            "direct stdio (shared connection)",
            level,
            throughput(peers, None, s).await,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), client.cancel()).await;
    Ok(())
}

fn supergateway_cmd(transport: &str, port: u16) -> BenchResult<Command> {
    let mut cmd = Command::new(installed("tests/node/node_modules/.bin/supergateway")?);
    let stdio = format!("'{}' stdio", everything_bin()?.display());
    cmd.args(["--stdio", &stdio, "--outputTransport", transport])
        .args(["--port", &port.to_string(), "--logLevel", "none"])
        .env("NODE_OPTIONS", node_options()?)
        .stdout(Stdio::null());
    if transport == "streamableHttp" {
        cmd.arg("--stateful");
    }
    Ok(cmd)
}

pub(crate) async fn supergateway(s: &Settings, r: &mut Report, dir: &Path) -> BenchResult<()> {
    // stdio -> Streamable HTTP (stateful: one child per session).
    let port = free_port()?;
    let mut proc = Proc::spawn(
        "supergateway (streamableHttp)",
        supergateway_cmd("streamableHttp", port)?,
        dir.join("supergateway-streamable.log"),
    )?;
    wait_port(&mut proc, port, Duration::from_secs(30)).await?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let result = match connect_http(&url).await {
        Ok(client) => {
            let result = latency(Echoer::Rmcp(client.peer()), s).await;
            close_all(vec![client]).await;
            result
        }
        Err(e) => Err(e),
    };
    r.latency("supergateway, Streamable HTTP (stateful)", result);
    r.latency(
        "supergateway, Streamable HTTP, keep-alive client",
        plain_latency(&url, s).await,
    );
    let pid = proc.pid();
    let max = s.max_level();
    let mut at_max = None;
    throughput_levels(
        "supergateway, Streamable HTTP (stateful)",
        &url,
        Some(pid),
        s,
        r,
        || {
            // Read now: the children go away with their sessions.
            let servers = Processes::find(Some(pid)).servers;
            at_max = Some((memory_kib(pid), children_rss(&servers)));
        },
    )
    .await;
    if let Some((m, children)) = at_max {
        r.memory(
            &format!("supergateway (streamable), right after the {max}-client run"),
            m.map(|m| described(&m)),
        );
        r.memory(
            "… its server children at that moment (`sh -c` + node per open session)",
            Ok(children),
        );
    }
    drop(proc);
    sweep("supergateway (streamableHttp)", &mut r.notes);

    // stdio -> SSE (one shared child; every message is broadcast to every session).
    let port = free_port()?;
    let mut proc = Proc::spawn(
        "supergateway (sse)",
        supergateway_cmd("sse", port)?,
        dir.join("supergateway-sse.log"),
    )?;
    wait_port(&mut proc, port, Duration::from_secs(30)).await?;
    let result = match SseClient::connect(&format!("http://127.0.0.1:{port}/sse")).await {
        Ok(client) => latency(Echoer::Sse(&client), s).await,
        Err(e) => Err(e),
    };
    r.latency("supergateway, SSE", result);
    drop(proc);
    sweep("supergateway (sse)", &mut r.notes);
    Ok(())
}

pub(crate) async fn mcp_proxy(s: &Settings, r: &mut Report, dir: &Path) -> BenchResult<()> {
    let port = free_port()?;
    let mut cmd = Command::new(installed("tests/.venv-mcp1/bin/mcp-proxy")?);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--log-level", "WARNING"])
        .args(["-e", MARK_VAR, mark().value()])
        .arg("--")
        .arg(everything_bin()?)
        .arg("stdio")
        .env("NODE_OPTIONS", node_options()?)
        .stdout(Stdio::null());
    let mut proc = Proc::spawn("mcp-proxy", cmd, dir.join("mcp-proxy.log"))?;
    wait_port(&mut proc, port, Duration::from_secs(60)).await?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let result = match connect_http(&url).await {
        Ok(client) => {
            let result = latency(Echoer::Rmcp(client.peer()), s).await;
            close_all(vec![client]).await;
            result
        }
        Err(e) => Err(e),
    };
    r.latency("mcp-proxy, Streamable HTTP", result);
    r.latency(
        "mcp-proxy, Streamable HTTP, keep-alive client",
        plain_latency(&url, s).await,
    );
    let result = match SseClient::connect(&format!("http://127.0.0.1:{port}/sse")).await {
        Ok(client) => latency(Echoer::Sse(&client), s).await,
        Err(e) => Err(e),
    };
    r.latency("mcp-proxy, SSE", result);
    let pid = proc.pid();
    let max = s.max_level();
    let mut at_max = None;
    throughput_levels("mcp-proxy, Streamable HTTP", &url, Some(pid), s, r, || {
        at_max = Some(memory_kib(pid))
    })
    .await;
    if let Some(m) = at_max {
        r.memory(
            &format!("mcp-proxy, right after the {max}-client run"),
            m.map(|m| described(&m)),
        );
    }
    drop(proc);
    sweep("mcp-proxy", &mut r.notes);
    Ok(())
}
