//! The process helpers that Switchboard's tests and benchmarks share: the core's end-to-end
//! tests (`crates/switchboard/tests`), the gateway benchmark (`crates/switchboard/benches`)
//! and the tray app's end-to-end test and benchmark (`src-tauri/tests`, `src-tauri/benches`).
//!
//! All of them start real processes (gateways, MCP servers, the reaper) and must prove that
//! none is left behind, so each needs the same few reads of `/proc`: which processes exist,
//! whether one is still alive (a zombie is not), what it runs, how much CPU and memory it
//! used, and which ones carry a [`Mark`]. They live here once so that a fix to one (say, a
//! `/proc/<pid>/stat` whose command name holds a `)`) reaches every harness.
//!
//! What only one harness needs (the benchmark's process groups and its CPU snapshots, the tray
//! test's X11 and D-Bus helpers, the fault tests' process trees) stays with that harness.
//!
//! Linux only: everything here reads procfs. Dev-only: a `[dev-dependencies]` entry, never
//! part of a shipped binary.

use std::io;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How `/proc` counts CPU time: USER_HZ ticks per second, which Linux fixes at 100 on every
/// architecture (what `getconf CLK_TCK` prints), whatever the kernel's own tick rate.
pub const TICKS_PER_SEC: u64 = 100;

/// Every process id listed in `/proc` at the moment of the call (some may be gone by the time
/// the caller reads them; the readers below report that as an error or as not alive).
pub fn pids() -> io::Result<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        if let Some(pid) = entry?.file_name().to_str().and_then(|s| s.parse().ok()) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// The fields of `/proc/<pid>/stat` the harnesses use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `T`, `Z` (zombie: exited, not reaped), … as in proc(5).
    pub state: char,
    pub ppid: u32,
    /// utime + stime, in [`TICKS_PER_SEC`] ticks.
    pub cpu_ticks: u64,
}

/// Reads `/proc/<pid>/stat`. The command name in it is parenthesised and may itself contain
/// spaces and `)`, so the fields are counted from the last `)`.
pub fn stat(pid: u32) -> io::Result<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let malformed = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat: unexpected format: {text:?}"),
        )
    };
    let (_, rest) = text.rsplit_once(')').ok_or_else(malformed)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3 of proc(5), ppid 4, utime 14, stime 15.
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let state = fields
        .first()
        .and_then(|s| s.chars().next())
        .ok_or_else(malformed)?;
    let ppid = number(1)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(malformed)?;
    let utime = number(11).ok_or_else(malformed)?;
    let stime = number(12).ok_or_else(malformed)?;
    Ok(Stat {
        state,
        ppid,
        cpu_ticks: utime + stime,
    })
}

/// Whether `pid` is a live process. A zombie still answers `kill(pid, 0)` and keeps its
/// `/proc` entry until its parent reaps it, yet it runs nothing and holds no memory, so it
/// counts as gone; so does a pid whose entry cannot be read.
pub fn alive(pid: u32) -> bool {
    stat(pid).is_ok_and(|s| !matches!(s.state, 'Z' | 'X'))
}

/// The command line of `pid`, arguments joined by spaces (empty for a kernel thread or a
/// zombie, whose `cmdline` is empty).
pub fn cmdline(pid: u32) -> io::Result<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline"))?;
    Ok(String::from_utf8_lossy(&raw)
        .split('\0')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" "))
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most it was ever resident (the high-water mark).
    pub peak_kib: u64,
    /// `RssAnon`: the resident part that is the process's own (heap, stacks), without the
    /// mapped pages of its executable and libraries (`RssFile`, shared and reclaimable).
    pub anon_kib: u64,
}

pub fn memory(pid: u32) -> io::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (field("VmRSS:"), field("VmHWM:"), field("RssAnon:")) {
        (Some(rss_kib), Some(peak_kib), Some(anon_kib)) => Ok(Memory {
            rss_kib,
            peak_kib,
            anon_kib,
        }),
        // A zombie's or a kernel thread's status has no Vm lines.
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no VmRSS/VmHWM/RssAnon in {path}"),
        )),
    }
}

/// An environment variable (`var=value`) that a harness puts on every process it starts.
///
/// Children inherit their parent's environment, so every descendant carries the mark too,
/// including the ones a test cannot reach by walking parent pids: those re-parented to init
/// (or to a subreaper) after their parent died, and those in a process group of their own.
/// A sweep of `/proc` for the mark therefore finds whatever a test leaked, however it was
/// started. (A program that gives its children a clean environment, as the MCP Python SDK
/// does for the servers it starts, defeats this: pass the mark to those explicitly.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    var: String,
    value: String,
}

impl Mark {
    /// The mark `var=value`. The value tells apart what concurrent runs started: the
    /// harness's pid, plus whatever tells apart its own launches (a port, say).
    pub fn new(var: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            var: var.into(),
            value: value.into(),
        }
    }

    pub fn var(&self) -> &str {
        &self.var
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// Live processes whose environment carries this mark, this process excluded (so a
    /// harness that runs under its own mark never finds or kills itself). Processes whose
    /// environment cannot be read (another user's) are skipped: they cannot be ours. A process
    /// in the middle of its exec reads an empty environment for a moment and is not seen yet:
    /// a sweep belongs after the processes it looks for had time to start (or to stop).
    pub fn processes(&self) -> io::Result<Vec<u32>> {
        let needle = format!("{}={}", self.var, self.value);
        let me = std::process::id();
        let mut found = Vec::new();
        for pid in pids()? {
            if pid == me {
                continue;
            }
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            if environ
                .split(|b| *b == 0)
                .any(|entry| entry == needle.as_bytes())
                && alive(pid)
            {
                found.push(pid);
            }
        }
        Ok(found)
    }

    /// SIGKILLs every process that carries the mark (see [`Mark::processes`]); answers the
    /// ones signalled. For guards' `Drop` and the end of a run, after the orderly stop had its
    /// chance.
    pub fn kill_all(&self) -> io::Result<Vec<u32>> {
        let pids = self.processes()?;
        for pid in &pids {
            // It may have exited since the scan; that is the outcome wanted anyway.
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        }
        Ok(pids)
    }
}

/// A port on 127.0.0.1 that was free a moment ago: the OS picks it, the listener is closed at
/// once and the caller hands the number to the process it starts. Another process may take it
/// in between; the harnesses accept that (the start then fails loudly) because some of what
/// they start must be told its port beforehand (the tray app, supergateway, mcp-proxy).
pub fn free_port() -> io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Waits (polling, at most `limit`) for `child` to exit; answers its status, or `None` if it
/// is still running at the deadline (the caller decides whether to kill it). For the bounded
/// wait after a SIGTERM or after closing a child's stdin, so a stuck child fails a test
/// instead of hanging it.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        // An error here means the child was already reaped elsewhere; keep polling until the
        // deadline like a running one, the caller's kill then fails harmlessly.
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(pids().expect("read /proc").contains(&me));
        assert!(alive(me));
        let stat = stat(me).expect("own stat");
        assert_eq!(stat.ppid, nix::unistd::getppid().as_raw() as u32);
        assert!(memory(me).expect("own status").rss_kib > 0);
        assert!(!cmdline(me).expect("own cmdline").is_empty());
    }

    #[test]
    fn a_reaped_child_is_gone_and_a_zombie_is_not_alive() {
        let mut child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id();
        assert!(alive(pid));
        assert_eq!(wait_exit(&mut child, Duration::from_millis(100)), None);
        kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill sleep");
        // Not yet reaped: a zombie, which still has its /proc entry.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !matches!(stat(pid), Ok(s) if s.state == 'Z') {
            assert!(Instant::now() < deadline, "sleep did not become a zombie");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(pid));
        assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());
        assert!(!alive(pid));
    }

    #[test]
    fn finds_and_kills_marked_processes_only() {
        let mark = Mark::new(
            "SWITCHBOARD_TEST_PROCS_MARK",
            format!("{}", std::process::id()),
        );
        let mut marked = Command::new("sleep")
            .arg("30")
            .env(mark.var(), mark.value())
            .spawn()
            .expect("spawn sleep");
        let mut other = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        // `spawn` returns once the child's exec has begun, but the kernel fills in the new
        // image's environment (what /proc/<pid>/environ reads) a moment later: until then the
        // file reads empty. So the scan is retried, bounded, until the child is seen.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut found = mark.processes().expect("scan");
        while found.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            found = mark.processes().expect("scan");
        }
        assert_eq!(found, vec![marked.id()]);
        assert_eq!(mark.kill_all().expect("scan"), vec![marked.id()]);
        assert!(wait_exit(&mut marked, Duration::from_secs(5)).is_some());
        assert!(mark.processes().expect("scan").is_empty());
        assert!(alive(other.id()));
        let _ = other.kill();
        let _ = other.wait();
    }

    #[test]
    fn free_port_can_be_bound() {
        let port = free_port().expect("a port");
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind it");
    }
}
