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
    /// Where on-demand servers' catalogs are kept while they sleep.
    pub catalogs: crate::catalogs::CatalogStore,
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
        is_loopback(url)
            || host_ip(url).is_some_and(|ip| ip == own.ip() || own.ip().is_unspecified())
    }

    /// The stored secrets `spec` refers to (`${secret:NAME}` in its command, args, env, cwd,
    /// url or headers), read off the async workers (the keychain may be a D-Bus call). A
    /// secret not stored is left out: expanding names it.
    pub(super) async fn secrets_for(
        &self,
        spec: &crate::config::ServerSpec,
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        let cwd = spec.cwd.as_ref().map(|c| c.to_string_lossy().into_owned());
        let fields = [&spec.command]
            .into_iter()
            .chain(&spec.args)
            .chain(spec.env.values())
            .chain(cwd.as_ref())
            .chain(&spec.url)
            .chain(&spec.server_url)
            .chain(spec.headers.values());
        let names: Vec<String> = fields.flat_map(|f| crate::config::secret_refs(f)).collect();
        if names.is_empty() {
            return Ok(Default::default());
        }
        let Some(sign_ins) = &self.sign_ins else {
            return Err("this Switchboard has no secret store for ${secret:…}".into());
        };
        let store = Arc::clone(sign_ins.secrets());
        tokio::task::spawn_blocking(move || {
            let mut found = std::collections::BTreeMap::new();
            for name in names {
                let value = store
                    .get(&crate::secrets::user_key(&name))
                    .map_err(|e| e.to_string())?;
                if let Some(value) = value {
                    found.insert(name, value);
                }
            }
            Ok(found)
        })
        .await
        .map_err(|e| e.to_string())?
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

/// Whether `url` names this machine: `localhost` or a loopback address.
pub(super) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        _ => host_ip(url).is_some_and(|ip| ip.is_loopback()),
    }
}

/// The IP address `url` names, when it names one (`[::1]` included).
fn host_ip(url: &reqwest::Url) -> Option<std::net::IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
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
