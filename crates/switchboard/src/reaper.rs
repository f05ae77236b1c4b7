//! The reaper: a tiny watchdog process that kills every server's process group when
//! Switchboard dies without stopping them (SIGKILL, a crash, the OOM killer).
//!
//! It is Switchboard's own executable started with [`REAPER_ARG`], in its own process group
//! (so a terminal's Ctrl-C does not reach it), reading `+PGID` / `-PGID` lines on stdin. When
//! stdin reaches end of file, Switchboard is gone, however it died: the kernel closes the pipe.
//! The reaper then sends SIGTERM to every group it was told about, SIGKILL to what is left
//! after a grace period, and exits. On an orderly stop every group has been forgotten first.
//!
//! Every binary that runs an [`App`](crate::App) calls [`run_if_requested`] first thing in
//! `main`. A process that escapes its group on purpose (`setsid`, daemonising) escapes this
//! too; see ARCHITECTURE.md.

use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The hidden first argument that turns the executable into the reaper.
pub const REAPER_ARG: &str = "__switchboard-reaper";
/// How long groups get between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// Switchboard's end of the reaper.
pub struct Reaper {
    stdin: Mutex<Option<ChildStdin>>,
    child: Mutex<Child>,
}

impl Reaper {
    /// Starts the reaper from the current executable.
    pub fn spawn() -> std::io::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut command = Command::new(exe);
        command
            .arg(REAPER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn()?;
        let stdin = child.stdin.take();
        Ok(Self {
            stdin: Mutex::new(stdin),
            child: Mutex::new(child),
        })
    }

    /// Adds a process group to kill if Switchboard dies.
    pub fn watch(&self, pgid: u32) {
        self.send(&format!("+{pgid}"));
    }

    /// Removes a group that was stopped in order.
    pub fn forget(&self, pgid: u32) {
        self.send(&format!("-{pgid}"));
    }

    fn send(&self, line: &str) {
        let mut stdin = self.stdin.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pipe) = stdin.as_mut() {
            if let Err(e) = writeln!(pipe, "{line}").and_then(|_| pipe.flush()) {
                tracing::warn!(error = %e, "the reaper is gone; children may outlive a crash");
                *stdin = None;
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        // Closing stdin tells the reaper to finish (everything was forgotten by now).
        self.stdin.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = Instant::now() + GRACE + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Runs the reaper and exits when the executable was started as one; returns otherwise.
pub fn run_if_requested() {
    if std::env::args_os().nth(1).is_some_and(|a| a == REAPER_ARG) {
        run();
        std::process::exit(0);
    }
}

#[cfg(unix)]
fn run() {
    use std::collections::BTreeSet;
    use std::io::BufRead;

    use nix::sys::signal::{killpg, signal, SigHandler, Signal};
    use nix::unistd::Pid;

    // Only the closing of stdin ends the reaper; signals meant for the terminal's foreground
    // job or for a service stop must not kill it before it has done its job.
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGPIPE,
    ] {
        // SAFETY: setting SIG_IGN installs no handler code.
        unsafe {
            let _ = signal(sig, SigHandler::SigIgn);
        }
    }
    let mut groups = BTreeSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (op, pgid) = line.split_at(line.len().min(1));
        let Ok(pgid) = pgid.trim().parse::<i32>() else {
            continue;
        };
        if pgid <= 1 {
            continue; // never signal init or "every process"
        }
        match op {
            "+" => {
                groups.insert(pgid);
            }
            "-" => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    if groups.is_empty() {
        return;
    }
    let alive = |pgid: &i32| killpg(Pid::from_raw(*pgid), None).is_ok();
    for pgid in &groups {
        let _ = killpg(Pid::from_raw(*pgid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && groups.iter().any(alive) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pgid in &groups {
        let _ = killpg(Pid::from_raw(*pgid), Signal::SIGKILL);
    }
}

#[cfg(not(unix))]
fn run() {
    // Windows children live in a kill-on-close job object; nothing to do.
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}
