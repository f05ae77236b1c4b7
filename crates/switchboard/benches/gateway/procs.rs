//! Processes: how every process the bench starts is spawned (its own group, the run marker,
//! SIGTERM on parent death) and stopped (`Proc`, `GroupGuard`), and what is read about them:
//! the sweep for marked survivors, which of them is the gateway, its helpers or a server, and
//! their CPU ticks and RSS.
//!
//! Separate because it is the one place that handles process groups and signals; the `/proc`
//! reads themselves (liveness, cmdline, stat, status, the marked-process scan) are the ones
//! the tests share, in `switchboard_test_procs`. The measurements and scenarios only ask this
//! module for pids, ticks and KiB.

use std::collections::HashMap;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_test_procs::{wait_exit, Mark, TICKS_PER_SEC};

use crate::report::mib;
use crate::BenchResult;

pub(crate) use switchboard_test_procs::{alive, cmdline};

/// Every process this run starts carries `MARK_VAR=<our pid>`, so survivors can be found
/// (also those re-parented to init, whose parent pid no longer leads back to us).
pub(crate) const MARK_VAR: &str = "SWITCHBOARD_BENCH_RUN";

/// This run's mark (`MARK_VAR=<our pid>`).
pub(crate) fn mark() -> Mark {
    Mark::new(MARK_VAR, std::process::id().to_string())
}

/// What every spawned process gets: its own process group, the run marker, and SIGTERM when
/// the thread that spawned it (always the main thread here) dies, so a killed bench does not
/// leave gateways behind (they stop their own children on SIGTERM).
fn prepare(cmd: &mut Command) {
    let mark = mark();
    cmd.process_group(0).env(mark.var(), mark.value());
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)
        });
    }
}

fn signal_group(pgid: u32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid as i32), sig);
}

/// A started process (leader of its own group), stopped on drop: SIGTERM to the group, a
/// bounded wait, then SIGKILL to the group.
pub(crate) struct Proc {
    name: String,
    pub(crate) child: Child,
    log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> BenchResult<Self> {
        prepare(&mut cmd);
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdin(Stdio::null()).stderr(Stdio::from(file));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the group; returns how long the leader took to exit after SIGTERM.
    pub(crate) fn stop(&mut self) -> Option<Duration> {
        if self.exited().is_some() {
            signal_group(self.pid(), nix::sys::signal::Signal::SIGKILL);
            return None;
        }
        let start = Instant::now();
        signal_group(self.pid(), nix::sys::signal::Signal::SIGTERM);
        let took = wait_exit(&mut self.child, Duration::from_secs(15)).map(|_| start.elapsed());
        if took.is_none() {
            eprintln!(
                "[bench] {} did not exit within 15 s of SIGTERM; SIGKILL",
                self.name
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Stragglers of the group (grandchildren that kept it).
        signal_group(self.pid(), nix::sys::signal::Signal::SIGKILL);
        took
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kills a process group on drop (the direct-stdio child, which rmcp also kills).
pub(crate) struct GroupGuard(pub(crate) Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Processes that carry this run's marker (none when `/proc` cannot be listed; [`sweep`]
/// reports that).
fn marked_pids() -> Vec<u32> {
    mark().processes().unwrap_or_default()
}

/// Waits (bounded) until no marked process is left; kills and names the survivors.
pub(crate) fn sweep(after: &str, notes: &mut Vec<String>) {
    let mark = mark();
    let scan = || {
        mark.processes()
            .map_err(|e| format!("cannot look for survivors of {after} in /proc: {e}"))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = match scan() {
        Ok(left) => left,
        Err(e) => {
            notes.push(e);
            return;
        }
    };
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = scan().unwrap_or_default();
    }
    if left.is_empty() {
        return;
    }
    let described: Vec<String> = left
        .iter()
        .map(|pid| format!("{pid} ({})", cmdline(*pid).unwrap_or_default()))
        .collect();
    notes.push(format!(
        "{} process(es) still alive 10 s after {after} stopped; killed: {}",
        left.len(),
        described.join(", ")
    ));
    if let Err(e) = mark.kill_all() {
        notes.push(format!("cannot kill the survivors of {after}: {e}"));
    }
}

/// utime + stime of a process, in ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    switchboard_test_procs::stat(pid).ok().map(|s| s.cpu_ticks)
}

/// (VmRSS, VmHWM) in KiB.
pub(crate) fn memory_kib(pid: u32) -> BenchResult<switchboard_test_procs::Memory> {
    switchboard_test_procs::memory(pid).map_err(|e| format!("memory of {pid}: {e}"))
}

/// VmRSS with its own part (heap and stacks; the rest is the executable's and libraries'
/// mapped pages), and VmHWM.
pub(crate) fn described(m: &switchboard_test_procs::Memory) -> String {
    format!(
        "VmRSS {} (RssAnon {}) / VmHWM {}",
        mib(m.rss_kib),
        mib(m.anon_kib),
        mib(m.peak_kib)
    )
}

pub(crate) fn free_port() -> BenchResult<u16> {
    switchboard_test_procs::free_port().map_err(|e| format!("cannot pick a free port: {e}"))
}

/// Waits until `port` accepts connections or `proc` exits, for at most `limit`.
pub(crate) async fn wait_port(proc: &mut Proc, port: u16, limit: Duration) -> BenchResult<()> {
    let deadline = Instant::now() + limit;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Some(status) = proc.exited() {
            return Err(format!(
                "{} exited ({status}) before listening on {port}:\n{}",
                proc.name,
                proc.log_tail()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not listen on {port} within {limit:?}:\n{}",
                proc.name,
                proc.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The marked processes of a scenario: the gateway, its helper processes (anything marked that
/// is neither the gateway nor an MCP server, e.g. Switchboard's reaper), and the MCP servers.
pub(crate) struct Processes {
    gateway: Vec<u32>,
    pub(crate) servers: Vec<u32>,
}

impl Processes {
    pub(crate) fn find(gateway: Option<u32>) -> Self {
        let mut found = Self {
            gateway: gateway.into_iter().collect(),
            servers: Vec::new(),
        };
        for pid in marked_pids() {
            if Some(pid) == gateway {
                continue;
            }
            if cmdline(pid).is_ok_and(|c| c.contains("mcp-server-everything")) {
                found.servers.push(pid);
            } else if gateway.is_some() {
                found.gateway.push(pid);
            }
        }
        found
    }

    /// The gateway's helpers (its own process excluded).
    pub(crate) fn helpers(&self) -> &[u32] {
        self.gateway.get(1..).unwrap_or_default()
    }
}

/// Snapshot of CPU ticks of the gateway (with its helpers), of the MCP server processes, and
/// of this bench process (the clients).
pub(crate) struct CpuSnapshot {
    at: Instant,
    gateway: HashMap<u32, u64>,
    pub(crate) servers: HashMap<u32, u64>,
    bench: u64,
}

impl CpuSnapshot {
    pub(crate) fn take(gateway: Option<u32>) -> Self {
        let processes = Processes::find(gateway);
        let ticks = |pids: &[u32]| -> HashMap<u32, u64> {
            pids.iter()
                .filter_map(|pid| cpu_ticks(*pid).map(|t| (*pid, t)))
                .collect()
        };
        Self {
            at: Instant::now(),
            gateway: ticks(&processes.gateway),
            servers: ticks(&processes.servers),
            bench: cpu_ticks(std::process::id()).unwrap_or(0),
        }
    }

    /// CPU used since `before`, as % of one core: (gateway, servers, bench).
    pub(crate) fn since(&self, before: &CpuSnapshot) -> (f64, f64, f64) {
        let secs = self.at.duration_since(before.at).as_secs_f64().max(1e-9);
        let pct = |ticks: u64| ticks as f64 / TICKS_PER_SEC as f64 / secs * 100.0;
        let delta = |now: &HashMap<u32, u64>, then: &HashMap<u32, u64>| -> u64 {
            now.iter()
                .map(|(pid, t)| t.saturating_sub(then.get(pid).copied().unwrap_or(0)))
                .sum()
        };
        (
            pct(delta(&self.gateway, &before.gateway)),
            pct(delta(&self.servers, &before.servers)),
            pct(self.bench.saturating_sub(before.bench)),
        )
    }
}

pub(crate) fn children_rss(pids: &[u32]) -> String {
    let total: u64 = pids
        .iter()
        .filter_map(|pid| memory_kib(*pid).ok())
        .map(|m| m.rss_kib)
        .sum();
    format!("{} processes, VmRSS total {}", pids.len(), mib(total))
}
