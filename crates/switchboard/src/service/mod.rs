//! `switchboard service install|uninstall|status`: the headless gateway as a systemd *user*
//! service on machines without a package (the packages ship `packaging/switchboard.service`).
//!
//! The unit goes where the user manager reads the user's own units,
//! `$XDG_CONFIG_HOME/systemd/user/switchboard.service`. Only a file carrying the marker line
//! is replaced or removed without `--force`: a unit the user wrote under that name is theirs.
//! systemctl is asked to reload, enable and start it, but a machine may have no systemctl or
//! no user manager to talk to; the file is written all the same and the reports say what to
//! run by hand, so only a failure to write (or remove) the file is an error.

mod systemctl;
mod unit;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::atomic_file::{self, Replaced};

pub use systemctl::{Answer, Outcome, UNIT};
pub use unit::{UnitSpec, Unrepresentable};

/// The commands that bring a written unit to life, for the user to run by hand.
const ENABLE_BY_HAND: &str =
    "systemctl --user daemon-reload && systemctl --user enable --now switchboard.service";

/// Where else a user manager finds a `switchboard.service` (the package installs it to the
/// last), shown by `status`.
const SYSTEM_UNIT_DIRS: [&str; 3] = [
    "/etc/systemd/user",
    "/usr/local/lib/systemd/user",
    "/usr/lib/systemd/user",
];

/// Why the unit file could not be written or removed. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no home directory found, so no place for a systemd user unit: set HOME (or XDG_CONFIG_HOME)")]
    NoHome,
    #[error("cannot tell where switchboard is installed ({0}), so no ExecStart= to write")]
    NoExecutable(#[source] std::io::Error),
    #[error(transparent)]
    Unrepresentable(#[from] Unrepresentable),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} was not written by `switchboard service install` (it lacks the comment line that marks Switchboard's units); pass --force to replace it (it is then kept as {backup})", backup = backup_of(.path).display())]
    Foreign { path: PathBuf },
    #[error("{path} was not written by `switchboard service install` (it lacks the comment line that marks Switchboard's units), so it is left alone; pass --force to disable and remove it anyway")]
    ForeignRemove { path: PathBuf },
    #[error("{0} changed while Switchboard was writing it, so it was left as it is; run the command again")]
    ChangedUnderneath(PathBuf),
}

/// The unit file `install` writes: `$XDG_CONFIG_HOME/systemd/user/switchboard.service`, else
/// `~/.config/systemd/user/switchboard.service` (where systemd looks, by the same rule).
pub fn unit_file() -> Result<PathBuf, ServiceError> {
    let base = directories::BaseDirs::new().ok_or(ServiceError::NoHome)?;
    Ok(base.config_dir().join("systemd/user").join(UNIT))
}

/// The spec of a unit for the running executable: `config` when the user chose a servers.json
/// (made absolute: the service does not start in this directory), and this process's PATH.
pub fn spec_for_this_executable(config: Option<&Path>) -> Result<UnitSpec, ServiceError> {
    let executable = std::env::current_exe().map_err(ServiceError::NoExecutable)?;
    let config = config
        .map(|c| {
            std::path::absolute(c).map_err(|source| ServiceError::Io {
                action: "find",
                path: c.to_owned(),
                source,
            })
        })
        .transpose()?;
    let path = std::env::var("PATH").ok().filter(|p| !p.is_empty());
    Ok(UnitSpec {
        executable,
        config,
        path,
    })
}

fn backup_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".bak");
    path.with_file_name(name)
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> ServiceError + 'a {
    move |source| ServiceError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// What `install` did to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
    Unchanged,
    /// A unit of someone else's was replaced (`--force`); it is kept at `backup`.
    ReplacedForeign {
        backup: PathBuf,
    },
}

/// The systemctl commands run, in order, up to the first that did not succeed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steps(pub Vec<(String, Outcome)>);

impl Steps {
    /// Runs `systemctl --user ARGS` unless an earlier step did not succeed. Whether it did.
    fn run(&mut self, args: &[&str]) -> bool {
        if !self.all_done() {
            return false;
        }
        let outcome = systemctl::run(args);
        let done = matches!(outcome, Outcome::Done(_));
        self.0
            .push((format!("systemctl --user {}", args.join(" ")), outcome));
        done
    }

    fn all_done(&self) -> bool {
        self.0.iter().all(|(_, o)| matches!(o, Outcome::Done(_)))
    }

    /// The step that did not succeed, if one did not.
    fn stopped_at(&self) -> Option<(usize, &str, &Outcome)> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, (_, o))| !matches!(o, Outcome::Done(_)))
            .map(|(i, (command, o))| (i, command.as_str(), o))
    }

    /// Says why the steps stopped, and what to run by hand instead, when they did.
    fn explain(&self, f: &mut fmt::Formatter<'_>, by_hand: &str) -> fmt::Result {
        match self.stopped_at() {
            None => Ok(()),
            Some((_, _, Outcome::Missing)) => writeln!(
                f,
                "systemctl was not found: this machine does not seem to run systemd (the service is for systemd only).\n\
                 Where it does, run:\n  {by_hand}"
            ),
            Some((0, command, Outcome::Failed(said))) => writeln!(
                f,
                "`{command}` failed: {said}\n\
                 There seems to be no systemd user manager in this session (a container, `su`, or ssh without a login session).\n\
                 From a login session, run:\n  {by_hand}"
            ),
            Some((_, command, Outcome::Failed(said))) => writeln!(
                f,
                "`{command}` failed: {said}\n\
                 See `journalctl --user -u switchboard` for the service's own words."
            ),
            Some((_, _, Outcome::Done(_))) => Ok(()),
        }
    }
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub path: PathBuf,
    pub written: Written,
    /// `None` with `--no-enable`.
    pub steps: Option<Steps>,
}

/// Writes the unit to `path` (atomically), unless a file there was not written by
/// Switchboard and `force` is not given; then, with `enable`, reloads the user manager,
/// restarts the service if it runs an older unit, and enables and starts it.
pub fn install(
    path: &Path,
    spec: &UnitSpec,
    force: bool,
    enable: bool,
) -> Result<Installed, ServiceError> {
    let text = spec.render()?;
    let existing = atomic_file::read_optional(path).map_err(io("read", path))?;
    let written = match existing.as_deref() {
        Some(old) if old == text => Written::Unchanged,
        Some(old) if !unit::is_ours(old) && !force => {
            return Err(ServiceError::Foreign {
                path: path.to_owned(),
            })
        }
        Some(old) if !unit::is_ours(old) => Written::ReplacedForeign {
            backup: backup_of(path),
        },
        Some(_) => Written::Updated,
        None => Written::Created,
    };
    if written != Written::Unchanged {
        let backup = match &written {
            Written::ReplacedForeign { backup } => Some(backup.as_path()),
            _ => None,
        };
        match atomic_file::replace_if_unchanged(path, existing.as_deref(), &text, backup, || {})
            .map_err(io("write", path))?
        {
            Replaced::Written => {}
            Replaced::ChangedUnderneath => {
                return Err(ServiceError::ChangedUnderneath(path.to_owned()))
            }
        }
    }
    let steps = enable.then(|| {
        let mut steps = Steps::default();
        steps.run(&["daemon-reload"]);
        if matches!(written, Written::Updated | Written::ReplacedForeign { .. }) {
            // A service already running keeps its old ExecStart until restarted.
            steps.run(&["try-restart", UNIT]);
        }
        steps.run(&["enable", "--now", UNIT]);
        steps
    });
    Ok(Installed {
        path: path.to_owned(),
        written,
        steps,
    })
}

impl fmt::Display for Installed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.written {
            Written::Created => writeln!(f, "wrote {path}")?,
            Written::Updated => writeln!(f, "updated {path}")?,
            Written::Unchanged => writeln!(f, "{path} is already up to date")?,
            Written::ReplacedForeign { backup } => writeln!(
                f,
                "replaced {path} (the previous file is kept as {})",
                backup.display()
            )?,
        }
        match &self.steps {
            None => writeln!(
                f,
                "not enabled (--no-enable); to start it now and at every login, run:\n  {ENABLE_BY_HAND}"
            ),
            Some(steps) if steps.all_done() => writeln!(
                f,
                "enabled and started: it runs while you are logged in (`loginctl enable-linger` starts it at boot and keeps it after logout).\n\
                 `switchboard service status` shows how it is; `journalctl --user -u switchboard` its log."
            ),
            Some(steps) => steps.explain(f, ENABLE_BY_HAND),
        }
    }
}

/// What `uninstall` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uninstalled {
    pub path: PathBuf,
    /// False when there was no file to remove.
    pub removed: bool,
    pub steps: Steps,
}

/// Stops and disables the service, removes the unit Switchboard wrote at `path` (another
/// only with `force`) and reloads the user manager. Without a user manager the file is
/// removed all the same, with the enable link `install` had systemctl make.
pub fn uninstall(path: &Path, force: bool) -> Result<Uninstalled, ServiceError> {
    let existing = atomic_file::read_optional(path).map_err(io("read", path))?;
    let Some(existing) = existing else {
        return Ok(Uninstalled {
            path: path.to_owned(),
            removed: false,
            steps: Steps::default(),
        });
    };
    if !unit::is_ours(&existing) && !force {
        return Err(ServiceError::ForeignRemove {
            path: path.to_owned(),
        });
    }
    let mut steps = Steps::default();
    let disabled = steps.run(&["disable", "--now", UNIT]);
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove", path)(e)),
    }
    if !disabled {
        remove_enable_link(path);
    }
    steps.run(&["daemon-reload"]);
    Ok(Uninstalled {
        path: path.to_owned(),
        removed: true,
        steps,
    })
}

/// Removes `default.target.wants/switchboard.service` beside `unit` once it points nowhere
/// (the link `systemctl enable` made to the unit just removed), so none is left where
/// systemctl could not disable the service. Best effort: a link that stays is harmless.
fn remove_enable_link(unit: &Path) {
    let Some(dir) = unit.parent() else {
        return;
    };
    let link = dir.join("default.target.wants").join(UNIT);
    let is_link = std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
    if is_link && !link.exists() {
        let _ = std::fs::remove_file(&link);
    }
}

impl fmt::Display for Uninstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        if !self.removed {
            return writeln!(
                f,
                "no unit at {path}, nothing to remove (a packaged one is stopped with `systemctl --user disable --now switchboard.service`)"
            );
        }
        writeln!(f, "removed {path}")?;
        if self.steps.all_done() {
            writeln!(f, "the service is stopped and disabled")
        } else {
            // The file is gone, so `disable` would not find it; a running service stops by name.
            self.steps.explain(
                f,
                "systemctl --user stop switchboard.service && systemctl --user daemon-reload",
            )
        }
    }
}

/// A `switchboard.service` the user manager would load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundUnit {
    pub path: PathBuf,
    /// Written by `switchboard service install`.
    pub ours: bool,
    pub exec_start: Option<String>,
    /// The servers.json it serves, when it is ours and names one.
    pub config: Option<PathBuf>,
}

/// What `status` knows without the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Where `install` writes.
    pub user_path: PathBuf,
    /// The unit found first: the user's, else one of the system's (the package's).
    pub unit: Option<FoundUnit>,
    pub enabled: Answer,
    pub active: Answer,
}

/// Finds the unit (the user's at `user_path` first, as systemd does) and asks systemctl
/// whether it is enabled and active.
pub fn status(user_path: &Path) -> Result<Status, ServiceError> {
    let candidates = std::iter::once(user_path.to_owned())
        .chain(SYSTEM_UNIT_DIRS.iter().map(|d| Path::new(d).join(UNIT)));
    let mut unit = None;
    for path in candidates {
        if let Some(text) = atomic_file::read_optional(&path).map_err(io("read", &path))? {
            let ours = unit::is_ours(&text);
            unit = Some(FoundUnit {
                exec_start: unit::exec_start(&text).map(str::to_owned),
                config: ours.then(|| unit::configured_config(&text)).flatten(),
                ours,
                path,
            });
            break;
        }
    }
    Ok(Status {
        user_path: user_path.to_owned(),
        unit,
        enabled: systemctl::ask("is-enabled"),
        active: systemctl::ask("is-active"),
    })
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.unit {
            Some(found) => {
                let by = if found.ours {
                    "written by `switchboard service install`"
                } else if found.path == self.user_path {
                    "your own"
                } else {
                    "installed by a package"
                };
                writeln!(f, "unit      {} ({by})", found.path.display())?;
                if let Some(exec) = &found.exec_start {
                    writeln!(f, "          {exec}")?;
                }
            }
            None => writeln!(
                f,
                "unit      not installed (no {UNIT} in {} or {}); `switchboard service install` writes one",
                self.user_path.parent().unwrap_or(&self.user_path).display(),
                SYSTEM_UNIT_DIRS.join(", ")
            )?,
        }
        writeln!(f, "enabled   {}", self.enabled)?;
        writeln!(f, "active    {}", self.active)
    }
}
