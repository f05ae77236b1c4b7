//! The app's command line (the same `--config`, `--host` and `--port` as `switchboard serve`),
//! and the check that there is a display to show a tray on.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

/// Switchboard in the system tray: runs the MCP servers of servers.json and the gateway, with
/// the dashboard in a window.
#[derive(Debug, Clone, Parser, PartialEq, Eq)]
#[command(name = "switchboard-app", version)]
pub struct Options {
    /// servers.json to use (default: the platform config dir, or SWITCHBOARD_CONFIG).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address the gateway listens on (overrides gateway.host).
    #[arg(long)]
    pub host: Option<String>,
    /// Port the gateway listens on (overrides gateway.port; 0 picks a free one).
    #[arg(long, env = "SWITCHBOARD_PORT")]
    pub port: Option<u16>,
    /// Start in the tray without opening the window (how "Start at Login" launches it).
    #[arg(long)]
    pub hidden: bool,
}

/// The argument "Start at Login" launches the app with.
pub const HIDDEN_ARG: &str = "--hidden";

/// Why the app cannot show a tray here, if it cannot: on Linux and the BSDs GTK needs an X11
/// or Wayland display, and initialising it without one aborts the process.
pub fn missing_display(env: impl Fn(&str) -> Option<OsString>) -> Option<String> {
    if !cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    )) {
        return None;
    }
    let set = |name| env(name).is_some_and(|v| !v.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        return None;
    }
    Some(
        "switchboard-app: there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set), so \
         there is no tray or window to show.\n\
         To run Switchboard without them, use the headless gateway with the same servers.json:\n\
         \n    switchboard serve [--config PATH] [--port N]\n\n\
         and open its dashboard in any browser (http://127.0.0.1:7427/ by default)."
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn without_a_display_it_points_to_switchboard_serve() {
        let message = missing_display(env(&[])).expect("no display");
        assert!(message.contains("switchboard serve"), "{message}");
        assert!(missing_display(env(&[("DISPLAY", "")])).is_some());
        assert!(missing_display(env(&[("DISPLAY", ":0")])).is_none());
        assert!(missing_display(env(&[("WAYLAND_DISPLAY", "wayland-0")])).is_none());
    }

    #[test]
    fn it_takes_the_options_of_switchboard_serve() {
        let options = Options::try_parse_from([
            "switchboard-app",
            "--config",
            "/tmp/s.json",
            "--port",
            "0",
            "--hidden",
        ])
        .unwrap();
        assert_eq!(options.config, Some(PathBuf::from("/tmp/s.json")));
        assert_eq!(options.port, Some(0));
        assert!(options.hidden);
        assert!(Options::try_parse_from(["switchboard-app", "--port", "x"]).is_err());
        assert!(
            Options::try_parse_from(["switchboard-app", HIDDEN_ARG])
                .unwrap()
                .hidden
        );
    }
}
