//! What every supervisor needs to launch children and reach remote servers, decided once at
//! start: the PATH children are given (and searched for their command), the reaper that
//! outlives a crash of ours, and the gateway's own address (a remote entry must not be
//! Switchboard itself).

use std::ffi::OsString;
use std::sync::Arc;

use crate::reaper::Reaper;

/// Shared by all supervisors (`Arc`).
#[derive(Default)]
pub struct Launcher {
    /// PATH for children that do not set their own; `None` uses Switchboard's own.
    pub search_path: Option<OsString>,
    pub reaper: Option<Arc<Reaper>>,
    /// Where the gateway listens; a remote entry that points there is refused (it would be
    /// served through itself, forever).
    pub own_address: Option<std::net::SocketAddr>,
    /// Remote servers' sign-ins and tokens; without it (tests) remote servers are reached
    /// without OAuth.
    pub sign_ins: Option<Arc<crate::oauth::SignIns>>,
}

impl Launcher {
    /// The PATH a child without its own `env.PATH` gets.
    pub fn base_path(&self) -> OsString {
        self.search_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default()
    }

    /// Whether `url` reaches this very gateway: its port, on a loopback address or the one it
    /// is bound to.
    pub(super) fn is_own_gateway(&self, url: &reqwest::Url) -> bool {
        let Some(own) = self.own_address else {
            return false;
        };
        if url.port_or_known_default() != Some(own.port()) {
            return false;
        }
        match url.host_str() {
            Some(host) if host.eq_ignore_ascii_case("localhost") => true,
            Some(host) => host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip == own.ip() || own.ip().is_unspecified()),
            None => false,
        }
    }

    pub(super) fn watch(&self, pgid: u32) {
        if let Some(reaper) = &self.reaper {
            reaper.watch(pgid);
        }
    }

    pub(super) fn forget(&self, pgid: u32) {
        if let Some(reaper) = &self.reaper {
            reaper.forget(pgid);
        }
    }
}

/// The PATH children should get. On macOS an app started from the Finder or at login gets a
/// bare PATH (`/usr/bin:/bin:…`) without Homebrew or nvm, so `npx` is "not found"; the user's
/// login shell knows the real one. Elsewhere, Switchboard's own PATH is right.
pub fn user_path() -> Option<OsString> {
    #[cfg(target_os = "macos")]
    {
        login_shell_path()
    }
    #[cfg(not(target_os = "macos"))]
    {
        None
    }
}

#[cfg(target_os = "macos")]
fn login_shell_path() -> Option<OsString> {
    use std::time::{Duration, Instant};
    // A terminal already gave us the login PATH.
    if std::env::var_os("TERM").is_some() {
        return None;
    }
    let shell = std::env::var_os("SHELL").unwrap_or_else(|| "/bin/zsh".into());
    let mut child = std::process::Command::new(shell)
        .args(["-l", "-c", "printf '%s' \"$PATH\""])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            let mut out = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
            let path = out.trim();
            return (!path.is_empty()).then(|| path.into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    tracing::warn!("the login shell did not tell its PATH within 3s; using Switchboard's own");
    None
}
