//! Gateway benchmark: what Switchboard costs on the request path, against direct stdio and
//! against two peers (supergateway, mcp-proxy), all measured in one run on the same machine.
//!
//! `cargo bench -p switchboard --bench gateway` (needs `bash tests/setup.sh` first).
//!
//! Measured on `@modelcontextprotocol/server-everything`'s `echo` tool:
//! 1. latency of one `tools/call` (median, p99) over sequential calls after a warm-up, for direct
//!    stdio (the baseline), Switchboard (Streamable HTTP and legacy SSE), supergateway (stdio to
//!    Streamable HTTP and to SSE) and mcp-proxy (both transports);
//! 2. throughput at 1, 16 and 64 concurrent clients (each its own session, sequential calls
//!    for a fixed time) through Switchboard, the peers, and direct stdio (callers sharing one
//!    connection), with the CPU each process used during the window;
//! 3. Switchboard's own RSS with 10 servers: idle, with 64 idle sessions (opened with one call;
//!    opened as clients do, on a server's endpoint and on the aggregate), and after the
//!    64-client run.
//!
//! This is a benchmark, not a test: nothing is asserted about time. Every wait is bounded, every
//! process started here is killed (as a process group) when its guard drops, and every process
//! that carries this run's marker variable is swept at the end and reported if it survived.
//! The results are printed as markdown and written to `target/bench-gateway.md`.
//!
//! Knobs (environment): `BENCH_CALLS` (2000), `BENCH_WARMUP` (200), `BENCH_SECS` (5),
//! `BENCH_LEVELS` (`1,16,64`), `BENCH_SERVERS` (10), `BENCH_SWITCHBOARD_BIN` (another
//! `switchboard` binary to measure instead of this build's, e.g. to compare a change),
//! `BENCH_ONLY` (some of `direct,switchboard,supergateway,mcp-proxy`; default all).
//!
//! Layout: this file is the flow (which scenarios run, in what order, and where the report
//! goes). `settings` holds the knobs and paths; `procs` the process guards and `/proc` reads;
//! `client` (rmcp), `sse` and `http` the three clients; `stats` and `measure` how latency and
//! throughput are taken; `switchboard` and `peers` the scenarios; `report` and `machine` the
//! output.

mod client;
mod http;
mod machine;
mod measure;
mod peers;
mod procs;
mod report;
mod settings;
mod sse;
mod stats;
mod switchboard;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::machine::machine_and_versions;
use crate::peers::{direct_stdio, mcp_proxy, supergateway};
use crate::procs::sweep;
use crate::report::Report;
use crate::settings::{target_dir, Settings};
use crate::switchboard::{switchboard, switchboard_log_off};

pub(crate) type BenchResult<T> = Result<T, String>;

/// Sweeps marked processes however `main` ends (including a panic).
struct FinalSweep;

impl Drop for FinalSweep {
    fn drop(&mut self) {
        let mut notes = Vec::new();
        sweep("the bench", &mut notes);
        for note in notes {
            eprintln!("[bench] {note}");
        }
    }
}

fn main() {
    let _sweep = FinalSweep;
    let s = Settings::from_env();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let header = machine_and_versions(&s);
    eprint!("{header}");
    let started = Instant::now();
    let logs = tempfile::tempdir().expect("temp dir");
    let mut r = Report::default();

    // Everything is spawned from this (main) thread, inside block_on, so PR_SET_PDEATHSIG
    // fires only when the bench itself dies.
    runtime.block_on(async {
        if s.runs("direct") {
            if let Err(e) = direct_stdio(&s, &mut r).await {
                r.note(format!("direct stdio: {e}"));
            }
            sweep("direct stdio", &mut r.notes);
        }
        if s.runs("switchboard") {
            if let Err(e) = switchboard(&s, &mut r).await {
                r.note(format!("Switchboard: {e}"));
            }
            sweep("Switchboard", &mut r.notes);
        }
        if s.runs("switchboard-log-off") {
            if let Err(e) = switchboard_log_off(&s, &mut r).await {
                r.note(format!("Switchboard, activity log off: {e}"));
            }
            sweep("Switchboard, activity log off", &mut r.notes);
        }
        if s.runs("supergateway") {
            if let Err(e) = supergateway(&s, &mut r, logs.path()).await {
                r.note(format!("supergateway: {e}"));
            }
            sweep("supergateway", &mut r.notes);
        }
        if s.runs("mcp-proxy") {
            if let Err(e) = mcp_proxy(&s, &mut r, logs.path()).await {
                r.note(format!("mcp-proxy: {e}"));
            }
            sweep("mcp-proxy", &mut r.notes);
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));

    let mut markdown = r.markdown(&header, &s);
    let _ = writeln!(
        markdown,
        "\nRun took {:.0} s; load average at the end: {}.",
        started.elapsed().as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("{markdown}");
    let out = target_dir().join("bench-gateway.md");
    match std::fs::write(&out, &markdown) {
        Ok(()) => eprintln!("[bench] written to {}", out.display()),
        Err(e) => eprintln!("[bench] cannot write {}: {e}", out.display()),
    }
}
