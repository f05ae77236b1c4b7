//! Spawning a server's child process: `${env:VAR}` expansion, PATH resolution with a useful
//! error, its own process group (so stop kills grandchildren too), and stderr piped to its log.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use process_wrap::tokio::CommandWrap;
use rmcp::transport::TokioChildProcess;
use tokio::process::ChildStderr;

use crate::config::{expand, ExpandError, ServerSpec};

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

/// A started child: the rmcp transport over its stdio, its stderr, and its pid (which is also
/// its process group id).
pub struct Spawned {
    pub transport: TokioChildProcess,
    pub stderr: Option<ChildStderr>,
    pub pid: u32,
}

/// The launch fields with `${env:VAR}` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

/// Expands variables and resolves the program on the PATH the child will see.
pub fn resolve(spec: &ServerSpec) -> Result<Resolved, SpawnError> {
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
    let env = spec
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), expand(v).map_err(field(format!("env.{k}")))?)))
        .collect::<Result<Vec<_>, SpawnError>>()?;
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
        .or_else(|| std::env::var_os("PATH"))
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
pub fn spawn(resolved: &Resolved) -> Result<Spawned, SpawnError> {
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
    wrapped.wrap(process_wrap::tokio::JobObject); // kills the whole tree with the child
    let io_error = |source| SpawnError::Io {
        command: display_program(&resolved.program),
        source,
    };
    let (transport, stderr) = TokioChildProcess::builder(wrapped)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_error)?;
    let pid = transport
        .id()
        .ok_or_else(|| io_error(std::io::Error::other("the child exited at once")))?;
    Ok(Spawned {
        transport,
        stderr,
        pid,
    })
}

/// On Linux the group leader gets SIGKILL when Switchboard dies, even by SIGKILL, so a crash
/// of Switchboard does not leave servers running (their own children are killed by the group
/// kill on orderly stops; see ARCHITECTURE.md for what a SIGKILL leaves).
#[cfg(target_os = "linux")]
fn set_parent_death_signal(command: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // functions (prctl, getppid, kill).
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)?;
            // The parent may have died between fork and prctl.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(std::io::Error::other("switchboard exited during spawn"));
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
pub fn kill_group(pid: u32) {
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
        let err = resolve(&spec("definitely-not-a-command-xyz")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("definitely-not-a-command-xyz"), "{text}");
        assert!(text.contains("searched:"), "{text}");
    }

    #[test]
    fn command_is_found_on_path() {
        let resolved = resolve(&spec("sh")).unwrap();
        assert!(resolved.program.is_absolute());
    }

    #[test]
    fn unset_variable_names_the_field() {
        let mut s = spec("sh");
        s.args = vec!["ok".into(), "${env:SWITCHBOARD_TEST_UNSET_VAR}".into()];
        let text = resolve(&s).unwrap_err().to_string();
        assert!(text.starts_with("args[1]:"), "{text}");
        assert!(text.contains("SWITCHBOARD_TEST_UNSET_VAR"), "{text}");
    }

    #[test]
    fn missing_cwd_is_named() {
        let mut s = spec("sh");
        s.cwd = Some("/nonexistent/dir/for/switchboard".into());
        assert!(matches!(resolve(&s), Err(SpawnError::NoCwd(_))));
    }
}
