//! Processes: how every process the bench starts is spawned (its own group, the run marker,
//! SIGTERM on parent death) and stopped (`Proc`, `GroupGuard`), and what is read about them
//! from `/proc`: the sweep for marked survivors, liveness, CPU ticks, RSS.
//!
//! Separate because it is the one place that handles process groups, signals and `/proc`;
//! the measurements and scenarios only ask it for pids, ticks and KiB.

use std::collections::HashMap;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::mib;
use crate::BenchResult;

/// Every process this run starts carries `MARK_VAR=<our pid>`, so survivors can be found.
pub(crate) const MARK_VAR: &str = "SWITCHBOARD_BENCH_RUN";
/// Linux reports process CPU time in USER_HZ ticks, which is 100 on every architecture.
const TICKS_PER_SEC: f64 = 100.0;

pub(crate) fn mark() -> String {
    std::process::id().to_string()
}

/// What every spawned process gets: its own process group, the run marker, and SIGTERM when
/// the thread that spawned it (always the main thread here) dies, so a killed bench does not
/// leave gateways behind (they stop their own children on SIGTERM).
fn prepare(cmd: &mut Command) {
    cmd.process_group(0).env(MARK_VAR, mark());
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
        let deadline = start + Duration::from_secs(15);
        let mut took = None;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                took = Some(start.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

/// Processes that carry this run's marker.
fn marked_pids() -> Vec<u32> {
    let needle = format!("{MARK_VAR}={}", mark());
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || !alive(pid) {
            continue;
        }
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
            if env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// Waits (bounded) until no marked process is left; kills and names the survivors.
pub(crate) fn sweep(after: &str, notes: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = marked_pids();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = marked_pids();
    }
    if left.is_empty() {
        return;
    }
    let described: Vec<String> = left
        .iter()
        .map(|pid| format!("{pid} ({})", cmdline(*pid)))
        .collect();
    notes.push(format!(
        "{} process(es) still alive 10 s after {after} stopped; killed: {}",
        left.len(),
        described.join(", ")
    ));
    for pid in left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

pub(crate) fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// utime + stime of a process, in ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// (VmRSS, VmHWM) in KiB.
pub(crate) fn memory_kib(pid: u32) -> BenchResult<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(hwm)) => Ok((rss, hwm)),
        _ => Err(format!("no VmRSS/VmHWM in /proc/{pid}/status")),
    }
}

pub(crate) fn free_port() -> BenchResult<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot pick a free port: {e}"))
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
            if cmdline(pid).contains("mcp-server-everything") {
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
        let pct = |ticks: u64| ticks as f64 / TICKS_PER_SEC / secs * 100.0;
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
        .map(|(rss, _)| rss)
        .sum();
    format!("{} processes, VmRSS total {}", pids.len(), mib(total))
}
