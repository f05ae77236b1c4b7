//! The measurements: latency (sequential calls) and throughput (concurrent clients for a fixed
//! window, with the CPU each process used) of `echo` through any of the three clients.
//!
//! Separate from the scenarios (`switchboard`, `peers`), which decide what is measured on which
//! target; this module is how one measurement is taken.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::service::Peer;
use rmcp::RoleClient;
use serde_json::{json, Value};

use crate::client::{close_all, connect_many, echo_rmcp, CALL_LIMIT};
use crate::http::{close_session, PlainHttpClient};
use crate::procs::CpuSnapshot;
use crate::report::Report;
use crate::settings::Settings;
use crate::sse::SseClient;
use crate::stats::Stats;
use crate::BenchResult;

/// Most time one latency measurement may take (warm-up included).
pub(crate) const LATENCY_BUDGET: Duration = Duration::from_secs(20);
/// Calls each client makes before a throughput window opens.
pub(crate) const WARMUP_PER_CLIENT: usize = 20;

pub(crate) enum Echoer<'a> {
    Rmcp(&'a Peer<RoleClient>),
    Sse(&'a SseClient),
    Plain(&'a PlainHttpClient),
}

/// A client of a throughput window, owned by its task.
pub(crate) enum Caller {
    Rmcp(Peer<RoleClient>),
    Plain(PlainHttpClient),
}

impl Caller {
    async fn echo(&self) -> BenchResult<()> {
        match self {
            Caller::Rmcp(peer) => echo_rmcp(peer).await,
            Caller::Plain(client) => client.echo().await,
        }
    }
}

impl Echoer<'_> {
    async fn echo(&self) -> BenchResult<()> {
        match self {
            Echoer::Rmcp(peer) => echo_rmcp(peer).await,
            Echoer::Sse(client) => client.echo().await,
            Echoer::Plain(client) => client.echo().await,
        }
    }
}

/// Latency through the bench's keep-alive Streamable HTTP client (see [`PlainHttpClient`]).
pub(crate) async fn plain_latency(url: &str, s: &Settings) -> BenchResult<Stats> {
    offering_latency(url, json!({}), s).await
}

/// Latency through the keep-alive client in a session whose client declares `capabilities`.
pub(crate) async fn offering_latency(
    url: &str,
    capabilities: Value,
    s: &Settings,
) -> BenchResult<Stats> {
    let client = PlainHttpClient::connect_offering(url, capabilities).await?;
    let result = latency(Echoer::Plain(&client), s).await;
    client.close().await;
    result
}

/// Latency of 2026-07-28 stateless calls through the keep-alive client.
pub(crate) async fn stateless_latency(url: &str, s: &Settings) -> BenchResult<Stats> {
    let client = PlainHttpClient::stateless(url);
    latency(Echoer::Plain(&client), s).await
}

/// Sequential calls: `s.warmup`, then `s.calls` timed ones, within [`LATENCY_BUDGET`] (a path
/// that is pathologically slow gets fewer samples rather than stretching the run).
pub(crate) async fn latency(client: Echoer<'_>, s: &Settings) -> BenchResult<Stats> {
    let began = Instant::now();
    for _ in 0..s.warmup {
        client.echo().await?;
        if began.elapsed() > LATENCY_BUDGET / 4 {
            break;
        }
    }
    let mut samples = Vec::with_capacity(s.calls);
    for _ in 0..s.calls {
        let start = Instant::now();
        client.echo().await?;
        samples.push(start.elapsed());
        if began.elapsed() > LATENCY_BUDGET {
            break;
        }
    }
    Stats::of(samples).ok_or_else(|| "no samples".to_owned())
}

/// The keep-alive clients of a throughput run.
pub(crate) enum Plain {
    /// Each its own session, its client declaring these capabilities.
    Session(Value),
    /// 2026-07-28, no session.
    Stateless,
}

pub(crate) struct Throughput {
    pub(crate) calls: usize,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) elapsed: Duration,
    pub(crate) latency: Option<Stats>,
    /// % of one core during the window: gateway, MCP server process(es), bench clients.
    pub(crate) cpu: (f64, f64, f64),
    pub(crate) server_processes: usize,
}

impl Throughput {
    pub(crate) fn per_sec(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Every peer (a session, or a clone of one shared connection) makes sequential calls for
/// `s.secs`, after a short warm-up; all windows open together.
pub(crate) async fn throughput(
    peers: Vec<Caller>,
    gateway: Option<u32>,
    s: &Settings,
) -> BenchResult<Throughput> {
    let n = peers.len();
    let window = Duration::from_secs_f64(s.secs);
    let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
    let tasks: Vec<_> = peers
        .into_iter()
        .map(|peer| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                for _ in 0..WARMUP_PER_CLIENT {
                    let _ = peer.echo().await;
                }
                barrier.wait().await;
                let deadline = Instant::now() + window;
                let mut samples = Vec::new();
                let mut errors = 0u64;
                let mut first_error = None;
                while Instant::now() < deadline {
                    let start = Instant::now();
                    match peer.echo().await {
                        Ok(()) => samples.push(start.elapsed()),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                (samples, errors, first_error)
            })
        })
        .collect();
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let abort_all = || aborts.iter().for_each(|t| t.abort());
    let warm_limit = Duration::from_secs(120);
    if tokio::time::timeout(warm_limit, barrier.wait())
        .await
        .is_err()
    {
        abort_all();
        return Err(format!(
            "{n} clients did not finish warming up within {warm_limit:?}"
        ));
    }
    let before = CpuSnapshot::take(gateway);
    let start = Instant::now();
    let joined = tokio::time::timeout(
        window + CALL_LIMIT + Duration::from_secs(5),
        futures::future::join_all(tasks),
    )
    .await;
    let elapsed = start.elapsed();
    let after = CpuSnapshot::take(gateway);
    let Ok(joined) = joined else {
        abort_all();
        return Err(format!("{n} clients did not finish their window in time"));
    };
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for result in joined {
        let (samples, e, first) = result.map_err(|e| format!("client task: {e}"))?;
        all.extend(samples);
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
    }
    Ok(Throughput {
        calls: all.len(),
        errors,
        first_error,
        elapsed,
        latency: Stats::of(all),
        cpu: after.since(&before),
        server_processes: after.servers.len(),
    })
}

pub(crate) async fn throughput_levels(
    name: &str,
    url: &str,
    gateway: Option<u32>,
    s: &Settings,
    r: &mut Report,
    mut after_max: impl FnMut(),
) {
    for &level in &s.levels {
        let result = match connect_many(url, level).await {
            Ok(clients) => {
                let peers = clients
                    .iter()
                    .map(|c| Caller::Rmcp(c.peer().clone()))
                    .collect();
                let result = throughput(peers, gateway, s).await;
                if level == s.max_level() {
                    after_max();
                }
                close_all(clients).await;
                result
            }
            Err(e) => Err(e),
        };
        r.throughput(name, level, result);
    }
}

/// Throughput of the bench's keep-alive client at each level: every client its own
/// connection, and its own session unless `stateless` (2026-07-28: no session).
pub(crate) async fn plain_throughput_levels(
    name: &str,
    url: &str,
    kind: Plain,
    gateway: Option<u32>,
    s: &Settings,
    r: &mut Report,
) {
    for &level in &s.levels {
        let mut callers = Vec::with_capacity(level);
        let mut sessions = Vec::new();
        let mut failed = None;
        for _ in 0..level {
            let capabilities = match &kind {
                Plain::Stateless => {
                    callers.push(Caller::Plain(PlainHttpClient::stateless(url)));
                    continue;
                }
                Plain::Session(capabilities) => capabilities.clone(),
            };
            match PlainHttpClient::connect_offering(url, capabilities).await {
                Ok(client) => {
                    sessions.push((client.http.clone(), client.session.clone()));
                    callers.push(Caller::Plain(client));
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let result = match failed {
            Some(e) => Err(e),
            None => throughput(callers, gateway, s).await,
        };
        for (http, session) in &sessions {
            close_session(http, url, session.as_deref()).await;
        }
        r.throughput(name, level, result);
    }
}
