//! Spawning and stopping a server's child process: `${env:VAR}` expansion, PATH resolution
//! with a useful error, its own process group (so stop kills grandchildren too), stdio piped.
//!
//! The child is spawned with process-wrap (as rmcp's `TokioChildProcess` does) rather than
//! through `TokioChildProcess` itself: we need the raw stdout, to see the lines rmcp would
//! silently skip (see `stdout.rs`), and the exit status, to say how a server died.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::RoleClient;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};

use super::connector::{Connector, Link};
use super::launcher::Launcher;
use super::stdout::CheckedStdout;
use super::{STARTED_NOTE, STOP_GRACE};
use crate::config::{expand_with_secrets, ExpandError, ServerSpec};
use crate::lane::{LaneReader, LaneWriter, RawLane};
use crate::slot::SlotWriter;

/// How long a child whose stdout closed gets to be reaped, so its exit status can be told.
const EXIT_GRACE: Duration = Duration::from_millis(200);

/// Reaches a server by running it as a child process and speaking MCP over its stdio.
pub struct ChildConnector {
    /// The PATH children get and the reaper told of each child's process group.
    pub launcher: Arc<Launcher>,
}

impl Connector for ChildConnector {
    type Transport =
        AsyncRwTransport<RoleClient, LaneReader<CheckedStdout<ChildStdout>>, LaneWriter>;
    type Link = ChildLink;

    async fn connect(
        &self,
        slot: &SlotWriter,
        spec: &ServerSpec,
    ) -> Result<(Self::Transport, ChildLink), String> {
        let secrets = self.launcher.secrets_for(spec).await?;
        let resolved =
            resolve(spec, &self.launcher.base_path(), &secrets).map_err(|e| e.to_string())?;
        let spawned = spawn(&resolved).map_err(|e| e.to_string())?;
        let pid = spawned.pid;
        slot.log().push(format!(
            "{STARTED_NOTE} pid {pid}: {}",
            resolved.program.display()
        ));
        let log = Arc::clone(slot.log());
        tokio::spawn(async move { log.pump(spawned.stderr).await });
        slot.update_status(|s| s.pid = Some(pid));
        self.launcher.watch(pid);
        let stdout = CheckedStdout::new(spawned.stdout, slot.clone());
        // rmcp and the raw lane share the pipes (see `crate::lane`).
        let lane = RawLane::new(spawned.stdin);
        let transport = AsyncRwTransport::new(lane.reader(stdout), lane.writer());
        let link = ChildLink {
            child: spawned.child,
            pid,
            launcher: Arc::clone(&self.launcher),
            lane,
        };
        Ok((transport, link))
    }
}

/// A running child: its handle and process group.
pub struct ChildLink {
    child: Box<dyn ChildWrapper>,
    pid: u32,
    launcher: Arc<Launcher>,
    lane: Arc<RawLane>,
}

impl Link for ChildLink {
    fn pid(&self) -> Option<u32> {
        Some(self.pid)
    }

    fn raw_lane(&self) -> Option<Arc<RawLane>> {
        Some(Arc::clone(&self.lane))
    }

    async fn ended(&mut self) -> String {
        let exit = self.child.wait().await;
        // What it started may live on: the rest of the group goes now.
        kill_group(self.pid);
        let exit = match exit {
            Ok(status) => describe_status(status),
            Err(e) => format!("could not be waited for ({e})"),
        };
        format!("the server (pid {}) {exit}", self.pid)
    }

    async fn closed_because(&mut self) -> Option<String> {
        exit_within(&mut self.child, EXIT_GRACE).await
    }

    /// Stops the child (stdin closed by now; then TERM and KILL to its group if it lingers),
    /// kills whatever is left of its group, and tells the reaper it is handled.
    async fn release(&mut self) {
        terminate(&mut self.child, STOP_GRACE).await;
        kill_group(self.pid);
        self.launcher.forget(self.pid);
    }
}

/// Why a child could not be started. Each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("{field}: {source}")]
    Expand {
        field: String,
        #[source]
        source: ExpandError,
    },
    #[error("command '{command}' was not found on PATH (searched: {path}); install it or give its absolute path in servers.json")]
    NotFound { command: String, path: String },
    #[error("working directory {} does not exist (cwd in servers.json)", .0.display())]
    NoCwd(PathBuf),
    #[error("cannot start '{command}': {source}")]
    Io {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

/// A started child: its handle, its stdio, and its pid (which is also its process group id).
struct Spawned {
    pub child: Box<dyn ChildWrapper>,
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
    pub pid: u32,
}

/// The launch fields with `${env:VAR}` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resolved {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

/// Expands variables and resolves the program on the PATH the child will see: its own
/// `env.PATH`, else `base_path` (which it is then given).
fn resolve(
    spec: &ServerSpec,
    base_path: &std::ffi::OsStr,
    secrets: &std::collections::BTreeMap<String, String>,
) -> Result<Resolved, SpawnError> {
    let expand = |value: &str| expand_with_secrets(value, secrets);
    let field = |name: String| {
        move |source| SpawnError::Expand {
            field: name,
            source,
        }
    };
    let command = expand(&spec.command).map_err(field("command".into()))?;
    let args = spec
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| expand(a).map_err(field(format!("args[{i}]"))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env = spec
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), expand(v).map_err(field(format!("env.{k}")))?)))
        .collect::<Result<Vec<_>, SpawnError>>()?;
    if !env.iter().any(|(k, _)| k == "PATH") && !base_path.is_empty() {
        env.push(("PATH".to_owned(), base_path.to_string_lossy().into_owned()));
    }
    let cwd = match &spec.cwd {
        Some(dir) => {
            let dir = PathBuf::from(expand(&dir.to_string_lossy()).map_err(field("cwd".into()))?);
            if !dir.is_dir() {
                return Err(SpawnError::NoCwd(dir));
            }
            Some(dir)
        }
        None => None,
    };
    let search_path: OsString = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| OsString::from(v))
        .unwrap_or_default();
    let base = cwd
        .clone()
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    let program =
        which::which_in(&command, Some(&search_path), &base).map_err(|_| SpawnError::NotFound {
            command: command.clone(),
            path: search_path.to_string_lossy().into_owned(),
        })?;
    Ok(Resolved {
        program,
        args,
        env,
        cwd,
    })
}

/// Starts the child described by `resolved`.
fn spawn(resolved: &Resolved) -> Result<Spawned, SpawnError> {
    let mut command = tokio::process::Command::new(&resolved.program);
    command.args(&resolved.args);
    command.envs(resolved.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &resolved.cwd {
        command.current_dir(dir);
    }
    set_parent_death_signal(&mut command);
    let mut wrapped = CommandWrap::from(command);
    #[cfg(unix)]
    wrapped.wrap(process_wrap::tokio::ProcessGroup::leader());
    #[cfg(windows)]
    {
        // Servers are console programs: started from the tray app (which has no console), each
        // would open a console window of its own. Not built or run on Windows here yet.
        wrapped.wrap(process_wrap::tokio::CreationFlags(
            windows::Win32::System::Threading::CREATE_NO_WINDOW,
        ));
        // Kills the whole tree with the child.
        wrapped.wrap(process_wrap::tokio::JobObject);
    }
    // Should the supervisor task be torn down without stopping it, the leader still dies.
    wrapped.wrap(process_wrap::tokio::KillOnDrop);
    wrapped
        .command_mut()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let io_error = |source| SpawnError::Io {
        command: display_program(&resolved.program),
        source,
    };
    let mut child = wrapped.spawn().map_err(io_error)?;
    let missing = || {
        io_error(std::io::Error::other(
            "a standard stream of the child is missing",
        ))
    };
    let stdin = child.stdin().take().ok_or_else(missing)?;
    let stdout = child.stdout().take().ok_or_else(missing)?;
    let stderr = child.stderr().take().ok_or_else(missing)?;
    let pid = child
        .id()
        .ok_or_else(|| io_error(std::io::Error::other("the child exited at once")))?;
    Ok(Spawned {
        child,
        stdin,
        stdout,
        stderr,
        pid,
    })
}

/// Stops a child whose stdin the caller has closed: waits `grace` for it to exit, then sends
/// SIGTERM to its process group, waits `grace` again, then SIGKILL (the MCP stdio shutdown
/// sequence, applied to the whole group).
async fn terminate(child: &mut Box<dyn ChildWrapper>, grace: Duration) {
    if exited_within(child, grace).await {
        return;
    }
    #[cfg(unix)]
    {
        let _ = child.signal(nix::libc::SIGTERM);
        if exited_within(child, grace).await {
            return;
        }
    }
    let _ = Box::into_pin(child.kill()).await;
}

async fn exited_within(child: &mut Box<dyn ChildWrapper>, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if tokio::time::Instant::now() >= deadline => return false,
            Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// How the child ended, waiting up to `grace` for it to be reaped: when its stdout closes the
/// exit usually follows within milliseconds, and "exited with status 3" says more than
/// "connection closed" (which is what the handshake sees first, depending on the race).
async fn exit_within(child: &mut Box<dyn ChildWrapper>, grace: Duration) -> Option<String> {
    exited_within(child, grace).await;
    describe_exit(child)
}

/// How the child ended, for error messages: "exited with status 3", "was killed by signal 9
/// (SIGKILL)".
fn describe_exit(child: &mut Box<dyn ChildWrapper>) -> Option<String> {
    let status = child.try_wait().ok()??;
    Some(describe_status(status))
}

/// See [`describe_exit`].
fn describe_status(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return match nix::sys::signal::Signal::try_from(signal) {
                Ok(name) => format!("was killed by signal {signal} ({name})"),
                Err(_) => format!("was killed by signal {signal}"),
            };
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "exited".to_owned(),
    }
}

/// On Linux the group leader gets SIGKILL when Switchboard dies, even by SIGKILL, so a crash
/// of Switchboard does not leave servers running (their own children are killed by the group
/// kill on orderly stops; see ARCHITECTURE.md for what a SIGKILL leaves).
#[cfg(target_os = "linux")]
fn set_parent_death_signal(command: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec, where only async-signal-safe calls are
    // allowed: prctl and getppid, and errors made from a raw errno (no allocation, unlike
    // `io::Error::other`).
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(|errno| std::io::Error::from_raw_os_error(errno as i32))?;
            // The parent may have died between fork and prctl: then there is no one to serve.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_command: &mut tokio::process::Command) {}

fn display_program(program: &Path) -> String {
    program.display().to_string()
}

/// Kills whatever is left of the child's process group (grandchildren that outlived the
/// leader). Harmless when the group is already gone.
fn kill_group(pid: u32) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{killpg, Signal};
        use nix::unistd::Pid;
        if let Ok(raw) = i32::try_from(pid) {
            let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid; // the job object closes with the child handle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> std::ffi::OsString {
        std::env::var_os("PATH").unwrap_or_default()
    }

    #[test]
    fn the_child_gets_the_base_path_unless_it_sets_its_own() {
        let resolved = resolve(
            &spec("sh"),
            std::ffi::OsStr::new("/usr/bin:/bin"),
            &Default::default(),
        )
        .unwrap();
        assert!(resolved
            .env
            .contains(&("PATH".to_owned(), "/usr/bin:/bin".to_owned())));
        let mut own = spec("sh");
        own.env.insert("PATH".into(), "/bin".into());
        let resolved =
            resolve(&own, std::ffi::OsStr::new("/usr/bin"), &Default::default()).unwrap();
        let paths: Vec<_> = resolved.env.iter().filter(|(k, _)| k == "PATH").collect();
        assert_eq!(paths, [&("PATH".to_owned(), "/bin".to_owned())]);
    }

    fn spec(command: &str) -> ServerSpec {
        crate::config::parse(
            Path::new("t.json"),
            &format!(r#"{{"mcpServers":{{"s":{{"command":{command:?}}}}}}}"#),
        )
        .unwrap()
        .mcp_servers
        .remove("s")
        .unwrap()
    }

    #[test]
    fn missing_command_names_the_path_searched() {
        let err = resolve(
            &spec("definitely-not-a-command-xyz"),
            &path(),
            &Default::default(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("definitely-not-a-command-xyz"), "{text}");
        assert!(text.contains("searched:"), "{text}");
    }

    #[test]
    fn command_is_found_on_path() {
        let resolved = resolve(&spec("sh"), &path(), &Default::default()).unwrap();
        assert!(resolved.program.is_absolute());
    }

    #[test]
    fn unset_variable_names_the_field() {
        let mut s = spec("sh");
        s.args = vec!["ok".into(), "${env:SWITCHBOARD_TEST_UNSET_VAR}".into()];
        let text = resolve(
            &s,
            &std::env::var_os("PATH").unwrap_or_default(),
            &Default::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(text.starts_with("args[1]:"), "{text}");
        assert!(text.contains("SWITCHBOARD_TEST_UNSET_VAR"), "{text}");
    }

    #[test]
    fn missing_cwd_is_named() {
        let mut s = spec("sh");
        s.cwd = Some("/nonexistent/dir/for/switchboard".into());
        assert!(matches!(
            resolve(
                &s,
                &std::env::var_os("PATH").unwrap_or_default(),
                &Default::default()
            ),
            Err(SpawnError::NoCwd(_))
        ));
    }
}
