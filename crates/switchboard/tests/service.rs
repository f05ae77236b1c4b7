//! `switchboard service install|uninstall|status`, run as the real binary under a temporary
//! `XDG_CONFIG_HOME`, with a fake `systemctl` first on PATH (it records what it was asked, so
//! no test ever talks to the user manager of the machine running it); and the units written
//! and shipped (`packaging/switchboard.service`) checked by `systemd-analyze verify`
//! (Debian's `systemd` package; `scripts/test` installs it).
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use support::Switchboard;

/// A user's home for the commands: config, data and runtime dirs, and a bin dir holding a
/// fake `systemctl` that appends each call's arguments to `systemctl.log`.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("systemctl");
        std::fs::write(
            &fake,
            "#!/bin/sh\n\
             printf '%s\\n' \"$*\" >> \"$FAKE_SYSTEMCTL_LOG\"\n\
             if [ -n \"$FAKE_SYSTEMCTL_FAIL\" ]; then echo \"$FAKE_SYSTEMCTL_FAIL\" >&2; exit 1; fi\n\
             case \"$2\" in is-enabled) echo enabled ;; is-active) echo active ;; esac\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::set_permissions(
            dir.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        Self { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn unit(&self) -> PathBuf {
        self.path("config/systemd/user/switchboard.service")
    }

    /// `switchboard ARGS` (the binary cargo built) with the fake systemctl first on PATH.
    fn switchboard(&self, args: &[&str]) -> Command {
        self.command(Path::new(env!("CARGO_BIN_EXE_switchboard")), args)
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let path = std::env::join_paths(std::iter::once(self.path("bin")).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        let mut command = Command::new(program);
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("PATH", path)
            .env("FAKE_SYSTEMCTL_LOG", self.path("systemctl.log"))
            .env_remove("FAKE_SYSTEMCTL_FAIL")
            .env_remove("SWITCHBOARD_CONFIG");
        command
    }

    /// What the fake systemctl was asked since the last call, one call a line.
    fn take_systemctl_calls(&self) -> Vec<String> {
        let log = self.path("systemctl.log");
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        calls.lines().map(str::to_owned).collect()
    }
}

/// Runs the command; panics with its output unless it exits as `success` says.
fn run(mut command: Command, success: bool) -> String {
    let output: Output = command.output().expect("run switchboard");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.success(),
        success,
        "{command:?}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    if success {
        stdout
    } else {
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

/// `systemd-analyze --user verify UNIT`: Err with what it said about the unit. It exits 0 on
/// a misspelt key or a value it cannot parse (it only warns and ignores the line), so any
/// line naming the unit counts as a failure too.
fn verify(unit: &Path) -> Result<(), String> {
    let runtime = tempfile::tempdir().unwrap(); // 0700: a private runtime dir for its manager
    let output = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(unit)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run systemd-analyze ({e}): install it with `bash scripts/system-deps systemd` (scripts/test does)")
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    let about_unit: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("switchboard.service"))
        .collect();
    if output.status.success() && about_unit.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {stderr}", output.status))
    }
}

fn built_binary() -> PathBuf {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_switchboard")).unwrap()
}

#[test]
fn install_no_enable_writes_a_verified_unit_running_this_binary_and_a_second_run_changes_nothing() {
    let home = Home::new();
    let out = run(
        home.switchboard(&["service", "install", "--no-enable"]),
        true,
    );
    assert!(
        out.contains("systemctl --user enable --now switchboard.service"),
        "{out}"
    );
    let unit = std::fs::read_to_string(home.unit()).unwrap();
    assert!(
        unit.contains(&format!("\nExecStart={} serve\n", built_binary().display())),
        "{unit}"
    );
    assert!(
        unit.starts_with("# Written by `switchboard service install`"),
        "{unit}"
    );
    assert!(unit.contains("\nWantedBy=default.target\n"), "{unit}");
    verify(&home.unit()).unwrap();

    let again = run(
        home.switchboard(&["service", "install", "--no-enable"]),
        true,
    );
    assert!(again.contains("already up to date"), "{again}");
    assert_eq!(std::fs::read_to_string(home.unit()).unwrap(), unit);
    assert_eq!(
        home.take_systemctl_calls(),
        Vec::<String>::new(),
        "--no-enable"
    );
}

#[test]
fn install_names_the_chosen_servers_json_as_an_absolute_path() {
    let home = Home::new();
    let mut command = home.switchboard(&[
        "service",
        "install",
        "--no-enable",
        "--config",
        "my servers.json",
    ]);
    command.current_dir(home.dir.path());
    run(command, true);
    let unit = std::fs::read_to_string(home.unit()).unwrap();
    let config = home.path("my servers.json");
    assert!(
        unit.contains(&format!("serve --config \"{}\"\n", config.display())),
        "{unit}"
    );

    // SWITCHBOARD_CONFIG is not in the service's environment, so it is written too.
    let mut command = home.switchboard(&["service", "install", "--no-enable"]);
    command.env("SWITCHBOARD_CONFIG", "/srv/switchboard/servers.json");
    run(command, true);
    let unit = std::fs::read_to_string(home.unit()).unwrap();
    assert!(
        unit.contains("serve --config /srv/switchboard/servers.json\n"),
        "{unit}"
    );
}

#[test]
fn install_refuses_a_unit_it_did_not_write_unless_forced_and_keeps_that_one_as_a_backup() {
    let home = Home::new();
    let foreign = "[Service]\nExecStart=/usr/bin/true\n";
    std::fs::create_dir_all(home.unit().parent().unwrap()).unwrap();
    std::fs::write(home.unit(), foreign).unwrap();

    let err = run(
        home.switchboard(&["service", "install", "--no-enable"]),
        false,
    );
    assert!(
        err.contains(&home.unit().display().to_string()) && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(home.unit()).unwrap(), foreign);
    let err = run(home.switchboard(&["service", "uninstall"]), false);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(home.unit()).unwrap(), foreign);
    assert_eq!(home.take_systemctl_calls(), Vec::<String>::new());

    let out = run(
        home.switchboard(&["service", "install", "--no-enable", "--force"]),
        true,
    );
    assert!(out.contains("switchboard.service.bak"), "{out}");
    let backup = home.path("config/systemd/user/switchboard.service.bak");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), foreign);
    assert!(std::fs::read_to_string(home.unit())
        .unwrap()
        .contains("# Written by `switchboard service install`"));
}

#[test]
fn install_reloads_enables_and_starts_it_and_restarts_a_running_one_after_an_update() {
    let home = Home::new();
    let out = run(home.switchboard(&["service", "install"]), true);
    assert!(out.contains("enabled and started"), "{out}");
    assert_eq!(
        home.take_systemctl_calls(),
        [
            "--user daemon-reload",
            "--user enable --now switchboard.service"
        ]
    );

    let mut command = home.switchboard(&["service", "install"]);
    command.env("SWITCHBOARD_CONFIG", "/srv/other.json");
    run(command, true);
    assert_eq!(
        home.take_systemctl_calls(),
        [
            "--user daemon-reload",
            "--user try-restart switchboard.service",
            "--user enable --now switchboard.service"
        ]
    );
}

#[test]
fn install_without_a_user_manager_or_systemctl_writes_the_unit_and_says_what_to_run() {
    let home = Home::new();
    let mut command = home.switchboard(&["service", "install"]);
    command.env(
        "FAKE_SYSTEMCTL_FAIL",
        "Failed to connect to bus: No medium found",
    );
    let out = run(command, true);
    assert!(out.contains("Failed to connect to bus"), "{out}");
    assert!(
        out.contains(
            "systemctl --user daemon-reload && systemctl --user enable --now switchboard.service"
        ),
        "{out}"
    );
    assert_eq!(
        home.take_systemctl_calls(),
        ["--user daemon-reload"],
        "stops at the first failure"
    );
    assert!(home.unit().exists());

    std::fs::remove_file(home.unit()).unwrap();
    let mut command = home.switchboard(&["service", "install"]);
    command.env("PATH", home.path("nothing-here"));
    let out = run(command, true);
    assert!(out.contains("systemctl was not found"), "{out}");
    assert!(home.unit().exists());
}

#[test]
fn uninstall_stops_disables_and_removes_the_unit_it_wrote() {
    let home = Home::new();
    run(
        home.switchboard(&["service", "install", "--no-enable"]),
        true,
    );
    let out = run(home.switchboard(&["service", "uninstall"]), true);
    assert!(out.contains("removed"), "{out}");
    assert!(!home.unit().exists());
    assert_eq!(
        home.take_systemctl_calls(),
        [
            "--user disable --now switchboard.service",
            "--user daemon-reload"
        ]
    );

    let out = run(home.switchboard(&["service", "uninstall"]), true);
    assert!(out.contains("nothing to remove"), "{out}");
}

#[test]
fn uninstall_without_a_user_manager_still_removes_the_unit_and_its_enable_link() {
    let home = Home::new();
    run(
        home.switchboard(&["service", "install", "--no-enable"]),
        true,
    );
    // What `systemctl --user enable` would have made.
    let wants = home.path("config/systemd/user/default.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink(home.unit(), wants.join("switchboard.service")).unwrap();

    let mut command = home.switchboard(&["service", "uninstall"]);
    command.env(
        "FAKE_SYSTEMCTL_FAIL",
        "Failed to connect to bus: No medium found",
    );
    let out = run(command, true);
    assert!(
        out.contains("systemctl --user stop switchboard.service"),
        "{out}"
    );
    assert!(!home.unit().exists());
    assert!(std::fs::symlink_metadata(wants.join("switchboard.service")).is_err());
}

#[test]
fn status_shows_the_unit_what_systemctl_says_and_the_gateway_of_the_servers_json_it_serves() {
    let home = Home::new();
    let sb = Switchboard::start_with_file(json!({ "mcpServers": {} }));
    let config = sb.config.to_str().unwrap().to_owned();
    run(
        home.switchboard(&["service", "install", "--no-enable", "--config", &config]),
        true,
    );
    // Found through the unit's --config and the instance's record (the port is its own).
    let mut command = home.switchboard(&["service", "status"]);
    command.env("XDG_DATA_HOME", sb.dir.path().join("data"));
    command.env("XDG_RUNTIME_DIR", sb.dir.path().join("run"));
    let out = run(command, true);
    assert!(
        out.contains(&format!("unit      {} (written by", home.unit().display())),
        "{out}"
    );
    assert!(out.contains("enabled   enabled\n"), "{out}");
    assert!(out.contains("active    active\n"), "{out}");
    assert!(
        out.contains(&format!(
            "gateway   answers at {} (pid {};",
            sb.url,
            sb.pid()
        )),
        "{out}"
    );
    drop(sb);

    run(home.switchboard(&["service", "uninstall"]), true);
    let nobody = switchboard_test_procs::free_port().expect("a free port");
    let other = home.path("other.json");
    std::fs::write(&other, json!({ "gateway": { "port": nobody } }).to_string()).unwrap();
    let out = run(
        home.switchboard(&["service", "status", "--config", other.to_str().unwrap()]),
        true,
    );
    assert!(!out.contains("written by"), "{out}");
    assert!(
        out.contains(&format!(
            "no Switchboard answers at http://127.0.0.1:{nobody}"
        )),
        "{out}"
    );
}

/// The packages' unit runs /usr/bin/switchboard, which `systemd-analyze verify` checks is
/// there: it is verified as a copy whose ExecStart names the binary cargo built instead.
#[test]
fn the_packaged_unit_passes_systemd_analyze_verify() {
    let packaged = support::repo_root().join("packaging/switchboard.service");
    let text = std::fs::read_to_string(&packaged).unwrap();
    assert!(
        text.contains("\nExecStart=/usr/bin/switchboard serve\n"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("switchboard.service");
    std::fs::write(
        &copy,
        text.replace(
            "ExecStart=/usr/bin/switchboard ",
            &format!("ExecStart=\"{}\" ", built_binary().display()),
        ),
    )
    .unwrap();
    verify(&copy).unwrap_or_else(|e| panic!("{}: {e}", packaged.display()));
}

/// The check above would catch a broken unit: a misspelt value and a missing executable.
#[test]
fn systemd_analyze_verify_as_used_here_fails_a_broken_unit() {
    let home = Home::new();
    run(
        home.switchboard(&["service", "install", "--no-enable"]),
        true,
    );
    let good = std::fs::read_to_string(home.unit()).unwrap();
    std::fs::write(
        home.unit(),
        good.replace("Restart=on-failure", "Restart=sometimes"),
    )
    .unwrap();
    let err = verify(&home.unit()).unwrap_err();
    assert!(err.contains("sometimes"), "{err}");
    std::fs::write(
        home.unit(),
        good.replace(
            &built_binary().display().to_string(),
            "/nonexistent/switchboard",
        ),
    )
    .unwrap();
    assert!(verify(&home.unit()).is_err());
}

/// An executable whose path has a space, `$` and `%` (a specifier in a unit): the ExecStart
/// written still names it, as systemd reads it.
#[test]
fn a_unit_for_an_executable_at_an_odd_path_still_names_it() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("service test $HOME 100%");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("switchboard");
    // A hard link is free (same file system as the build); a copy otherwise.
    if std::fs::hard_link(built_binary(), &exe).is_err() {
        std::fs::copy(built_binary(), &exe).unwrap();
    }
    let home = Home::new();
    run(
        home.command(&exe, &["service", "install", "--no-enable"]),
        true,
    );
    let unit = std::fs::read_to_string(home.unit()).unwrap();
    // `%` doubled (a specifier); `$` not (systemd expands no variable in the executable's path).
    assert!(unit.contains("$HOME 100%%/switchboard\" serve\n"), "{unit}");
    let verified = verify(&home.unit());
    let _ = std::fs::remove_dir_all(&dir);
    verified.unwrap();
}
