//! What the tray shows, as plain data computed from the core's state.
//!
//! [`Snapshot::capture`] reads the hub's slots (cheap clones, no waiting on any server);
//! everything else here is a pure function of a [`Snapshot`]: the [`Health`] that picks the
//! icon, the [`Counts`] behind the summary line and the tooltip, and the [`Entry`] tree of the
//! menu, whose item ids parse back into [`Action`]s.

use std::time::Duration;

use switchboard::{ConfigStore, Hub, ServerSlot, ServerState};

/// One server as the tray sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSnapshot {
    pub name: String,
    pub state: ServerState,
    pub pid: Option<u32>,
    pub tools_exposed: usize,
    pub tools_total: usize,
    pub restarts: u32,
    pub last_error: Option<String>,
    /// The backoff delay of the current (or last) wait before a start attempt.
    pub retry_delay: Option<Duration>,
    /// The entry's `restart.maxDelayMs`: the backoff's cap.
    pub max_delay: Duration,
}

impl ServerSnapshot {
    pub fn of(slot: &ServerSlot) -> Self {
        let status = slot.status();
        let settings = slot.settings();
        let tools = slot.tools();
        let restart = settings.spec.restart;
        Self {
            name: slot.name().to_owned(),
            state: status.state,
            pid: status.pid,
            tools_exposed: tools
                .iter()
                .filter(|t| settings.filter.exposes(&t.name))
                .count(),
            tools_total: tools.len(),
            restarts: status.restarts,
            last_error: status.last_error,
            retry_delay: status.retry_delay,
            // As the supervisor's backoff does: the cap is never below the first delay.
            max_delay: Duration::from_millis(restart.max_delay_ms.max(restart.initial_delay_ms)),
        }
    }

    /// The backoff has grown to its cap: every attempt since the delay started doubling failed.
    pub fn at_backoff_cap(&self) -> bool {
        self.retry_delay.is_some_and(|d| d >= self.max_delay)
    }

    /// Starting again after a failure (the supervisor keeps the last error until it runs).
    pub fn retrying(&self) -> bool {
        self.state == ServerState::Starting && self.last_error.is_some()
    }

    /// Failing, and retried at the longest delay: the rule for "keeps failing" (the desktop
    /// notification, and the red icon for a server that crashes as soon as it is up).
    pub fn keeps_failing(&self) -> bool {
        (matches!(self.state, ServerState::Failed | ServerState::Restarting) || self.retrying())
            && self.at_backoff_cap()
    }

    /// Counted as failed (red): a failed start, a retry after one (so the icon does not blink
    /// amber at every attempt), or crashing over and over. A server restarting after a crash,
    /// below the cap, is only busy.
    fn is_failing(&self) -> bool {
        self.state == ServerState::Failed || self.retrying() || self.keeps_failing()
    }
}

/// Everything the tray shows, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// By name (the hub's order).
    pub servers: Vec<ServerSnapshot>,
    /// The gateway, e.g. `http://127.0.0.1:7427`.
    pub base_url: String,
    /// servers.json could not be applied (the last good version keeps running).
    pub config_error: Option<String>,
    /// Whether Switchboard starts at login; `None` when that cannot be read.
    pub autostart: Option<bool>,
}

impl Snapshot {
    pub fn capture(
        hub: &Hub,
        store: &ConfigStore,
        base_url: &str,
        autostart: Option<bool>,
    ) -> Self {
        Self {
            servers: hub.slots().iter().map(|s| ServerSnapshot::of(s)).collect(),
            base_url: base_url.to_owned(),
            config_error: store.status().error.map(|e| e.to_string()),
            autostart,
        }
    }

    pub fn server(&self, name: &str) -> Option<&ServerSnapshot> {
        self.servers.iter().find(|s| s.name == name)
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            total: self.servers.len(),
            ..Counts::default()
        };
        for s in &self.servers {
            match s.state {
                _ if s.is_failing() => c.failed += 1,
                ServerState::Running => c.running += 1,
                ServerState::Starting | ServerState::Restarting => c.starting += 1,
                ServerState::Disabled => c.disabled += 1,
                ServerState::Stopped => c.stopped += 1,
                ServerState::NeedsAuth => c.needs_sign_in += 1,
                ServerState::Failed => unreachable!("counted as failed above"),
            }
        }
        c
    }

    /// The health the icon shows. Worst first: a failing server (or a servers.json that cannot
    /// be applied) is `Failed`, then anything on its way up is `Busy`; with neither, `Ok` if
    /// something runs and `Empty` if nothing is meant to (no servers, or all disabled).
    pub fn health(&self) -> Health {
        let c = self.counts();
        // A server waiting for its user to sign in is as unusable as a failed one.
        if c.failed > 0 || c.needs_sign_in > 0 || self.config_error.is_some() {
            Health::Failed
        } else if c.starting > 0 {
            Health::Busy
        } else if c.running > 0 {
            Health::Ok
        } else {
            Health::Empty
        }
    }

    /// The first line of the menu: how many servers, and how they are.
    pub fn summary(&self) -> String {
        let c = self.counts();
        if c.total == 0 {
            return "No servers configured".into();
        }
        if c.running == c.total {
            return match c.total {
                1 => "1 server running".into(),
                n => format!("All {n} servers running"),
            };
        }
        if c.disabled == c.total {
            return match c.total {
                1 => "1 server, disabled".into(),
                n => format!("{n} servers, all disabled"),
            };
        }
        let mut parts = vec![format!("{} running", c.running)];
        for (n, what) in [
            (c.starting, "starting"),
            (c.failed, "failed"),
            (c.needs_sign_in, "need sign-in"),
            (c.disabled, "disabled"),
            (c.stopped, "stopped"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        format!("{}: {}", plural(c.total, "server"), parts.join(", "))
    }

    /// The tray icon's tooltip (macOS and Windows; Linux's StatusNotifierItem hosts show none,
    /// which is why the summary is also the menu's first line).
    pub fn tooltip(&self) -> String {
        let mut text = format!("Switchboard: {}\n{}", self.summary(), self.base_url);
        if self.config_error.is_some() {
            text.push_str("\nservers.json has an error; the last good version runs");
        }
        text
    }

    /// The tray menu.
    pub fn menu(&self) -> Vec<Entry> {
        let mut menu = vec![Entry::info("summary", self.summary())];
        if let Some(error) = &self.config_error {
            menu.push(Entry::item(
                Action::FixConfig.id(),
                format!("⚠ servers.json has an error: {}", first_line(error, 60)),
                true,
            ));
        }
        menu.push(Entry::Separator);
        for server in &self.servers {
            menu.push(server_submenu(server));
        }
        if !self.servers.is_empty() {
            menu.push(Entry::Separator);
        }
        let any_enabled = self
            .servers
            .iter()
            .any(|s| s.state != ServerState::Disabled);
        menu.extend([
            Entry::item(Action::OpenDashboard.id(), "Open Dashboard", true),
            Entry::item(Action::OpenConfig.id(), "Open servers.json", true),
            Entry::item(Action::RestartAll.id(), "Restart All", any_enabled),
            Entry::Separator,
            Entry::Check {
                id: Action::ToggleAutostart.id(),
                text: "Start at Login".into(),
                enabled: self.autostart.is_some(),
                checked: self.autostart.unwrap_or(false),
            },
            Entry::Separator,
            Entry::item(Action::Quit.id(), "Quit Switchboard", true),
        ]);
        menu
    }
}

fn server_submenu(s: &ServerSnapshot) -> Entry {
    let disabled = s.state == ServerState::Disabled;
    let id = |what: &str| format!("server/{}/{what}", s.name);
    let mut entries = vec![
        Entry::info(id("state"), state_line(s)),
        Entry::info(id("tools"), tools_line(s)),
    ];
    // The last error explains a server that is not up; a running, disabled or stopped one
    // needs no explaining.
    let down = !matches!(
        s.state,
        ServerState::Running | ServerState::Disabled | ServerState::Stopped
    );
    if let (Some(error), true) = (&s.last_error, down) {
        entries.push(Entry::info(
            id("error"),
            format!("Error: {}", first_line(error, 80)),
        ));
    }
    if s.state == ServerState::NeedsAuth {
        entries.push(Entry::item(
            Action::SignIn(s.name.clone()).id(),
            "Sign in…",
            true,
        ));
    }
    entries.extend([
        Entry::Separator,
        Entry::item(Action::Restart(s.name.clone()).id(), "Restart", !disabled),
        Entry::item(
            Action::ToggleDisabled(s.name.clone()).id(),
            if disabled { "Enable" } else { "Disable" },
            true,
        ),
        Entry::Separator,
        Entry::item(
            Action::CopyHttpUrl(s.name.clone()).id(),
            "Copy HTTP URL",
            true,
        ),
        Entry::item(
            Action::CopySseUrl(s.name.clone()).id(),
            "Copy SSE URL",
            true,
        ),
    ]);
    Entry::Submenu {
        id: format!("server/{}", s.name),
        text: format!("{} {} — {}", glyph(s), s.name, state_word(s)),
        entries,
    }
}

fn glyph(s: &ServerSnapshot) -> &'static str {
    match s.state {
        _ if s.is_failing() => "✕",
        ServerState::Running => "●",
        ServerState::Starting | ServerState::Restarting => "◌",
        ServerState::NeedsAuth => "⚿",
        ServerState::Stopped | ServerState::Disabled | ServerState::Failed => "○",
    }
}

fn state_word(s: &ServerSnapshot) -> &'static str {
    if s.keeps_failing() {
        "keeps failing"
    } else if s.state == ServerState::NeedsAuth {
        "needs sign-in"
    } else if s.retrying() {
        "retrying"
    } else {
        s.state.as_str()
    }
}

fn state_line(s: &ServerSnapshot) -> String {
    match s.state {
        ServerState::NeedsAuth => "Needs sign-in (OAuth)".into(),
        ServerState::Running => match s.pid {
            Some(pid) => format!("Running (pid {pid})"),
            None => "Running".into(),
        },
        ServerState::Starting if s.retrying() => match s.retry_delay {
            Some(d) if s.keeps_failing() => {
                format!("Retrying (every {})…", human_duration(d))
            }
            _ => "Retrying…".into(),
        },
        ServerState::Starting => "Starting…".into(),
        ServerState::Restarting | ServerState::Failed => {
            let what = if s.state == ServerState::Failed {
                "Failed"
            } else {
                "Crashed"
            };
            match s.retry_delay {
                Some(d) if s.keeps_failing() => {
                    format!("{what}, retried every {}", human_duration(d))
                }
                Some(d) => format!("{what}, retrying in {}", human_duration(d)),
                None => format!("{what}, retrying"),
            }
        }
        ServerState::Stopped => "Stopped".into(),
        ServerState::Disabled => "Disabled in servers.json".into(),
    }
}

fn tools_line(s: &ServerSnapshot) -> String {
    if s.tools_total == 0 {
        return match s.state {
            ServerState::Running => "No tools".into(),
            _ => "Tools: not known until it runs".into(),
        };
    }
    if s.tools_exposed == s.tools_total {
        plural(s.tools_total, "tool")
    } else {
        format!("{} of {} tools exposed", s.tools_exposed, s.tools_total)
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// "800 ms", "5 s", "1 min", "1 min 30 s".
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// The first line of `text`, at most `max` characters (an ellipsis marks a cut).
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// The two URLs a client is given for a server.
pub fn http_url(base_url: &str, name: &str) -> String {
    format!("{base_url}/servers/{name}/mcp")
}

pub fn sse_url(base_url: &str, name: &str) -> String {
    format!("{base_url}/servers/{name}/sse")
}

/// Menu labels use `&` to mark an access key (muda's convention); a literal one is doubled.
pub fn escape_access_keys(text: &str) -> String {
    text.replace('&', "&&")
}

/// The tray icon's four looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// Every enabled server is running.
    Ok,
    /// Some server is starting or restarting.
    Busy,
    /// Some server failed (or keeps failing), or servers.json has an error.
    Failed,
    /// Nothing to run: no servers, or all disabled.
    Empty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub total: usize,
    pub running: usize,
    /// Starting or restarting after a crash (and not failing over and over).
    pub starting: usize,
    /// Failed to start, or keeps failing.
    pub failed: usize,
    /// Remote servers waiting for their user to sign in.
    pub needs_sign_in: usize,
    pub disabled: usize,
    pub stopped: usize,
}

/// One line of the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Item {
        id: String,
        text: String,
        enabled: bool,
    },
    Check {
        id: String,
        text: String,
        enabled: bool,
        checked: bool,
    },
    Submenu {
        id: String,
        text: String,
        entries: Vec<Entry>,
    },
    Separator,
}

impl Entry {
    fn item(id: impl Into<String>, text: impl Into<String>, enabled: bool) -> Self {
        Entry::Item {
            id: id.into(),
            text: text.into(),
            enabled,
        }
    }

    /// A line that only informs (greyed out, does nothing).
    fn info(id: impl Into<String>, text: impl Into<String>) -> Self {
        Self::item(id, text, false)
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Entry::Item { id, .. } | Entry::Check { id, .. } | Entry::Submenu { id, .. } => {
                Some(id)
            }
            Entry::Separator => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Entry::Item { text, .. } | Entry::Check { text, .. } | Entry::Submenu { text, .. } => {
                Some(text)
            }
            Entry::Separator => None,
        }
    }
}

/// The shape of a menu: its kinds and ids, not its texts or states. Two menus of the same
/// shape differ only in what can be updated in place (text, enabled, checked).
#[derive(Debug, PartialEq, Eq)]
pub enum Shape<'a> {
    Item(&'a str),
    Check(&'a str),
    Submenu(&'a str, Vec<Shape<'a>>),
    Separator,
}

pub fn shape(menu: &[Entry]) -> Vec<Shape<'_>> {
    menu.iter()
        .map(|e| match e {
            Entry::Item { id, .. } => Shape::Item(id),
            Entry::Check { id, .. } => Shape::Check(id),
            Entry::Submenu { id, entries, .. } => Shape::Submenu(id, shape(entries)),
            Entry::Separator => Shape::Separator,
        })
        .collect()
}

/// What a menu item does; its id is [`Action::id`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    OpenDashboard,
    OpenConfig,
    /// The config-error line: opens servers.json, where the error is.
    FixConfig,
    RestartAll,
    ToggleAutostart,
    Quit,
    Restart(String),
    /// Flips the entry's `disabled` in servers.json.
    ToggleDisabled(String),
    CopyHttpUrl(String),
    CopySseUrl(String),
    /// Opens the remote server's sign-in page in the browser.
    SignIn(String),
}

impl Action {
    pub fn id(&self) -> String {
        match self {
            Action::OpenDashboard => "dashboard".into(),
            Action::OpenConfig => "config".into(),
            Action::FixConfig => "config-error".into(),
            Action::RestartAll => "restart-all".into(),
            Action::ToggleAutostart => "autostart".into(),
            Action::Quit => "quit".into(),
            Action::Restart(name) => format!("server/{name}/restart"),
            Action::ToggleDisabled(name) => format!("server/{name}/toggle"),
            Action::CopyHttpUrl(name) => format!("server/{name}/copy-http"),
            Action::CopySseUrl(name) => format!("server/{name}/copy-sse"),
            Action::SignIn(name) => format!("server/{name}/sign-in"),
        }
    }

    /// The action of a menu item id; `None` for lines that only inform.
    pub fn from_id(id: &str) -> Option<Self> {
        Some(match id {
            "dashboard" => Action::OpenDashboard,
            "config" => Action::OpenConfig,
            "config-error" => Action::FixConfig,
            "restart-all" => Action::RestartAll,
            "autostart" => Action::ToggleAutostart,
            "quit" => Action::Quit,
            _ => {
                // Server names have no '/' (letters, digits, '-', '_', '.'), so this is exact.
                let (name, what) = id.strip_prefix("server/")?.rsplit_once('/')?;
                let name = name.to_owned();
                match what {
                    "restart" => Action::Restart(name),
                    "toggle" => Action::ToggleDisabled(name),
                    "copy-http" => Action::CopyHttpUrl(name),
                    "copy-sse" => Action::CopySseUrl(name),
                    "sign-in" => Action::SignIn(name),
                    _ => return None,
                }
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn server(name: &str, state: ServerState) -> ServerSnapshot {
        ServerSnapshot {
            name: name.into(),
            state,
            pid: (state == ServerState::Running).then_some(4242),
            tools_exposed: 0,
            tools_total: 0,
            restarts: 0,
            last_error: None,
            retry_delay: None,
            max_delay: Duration::from_secs(60),
        }
    }

    pub fn failing(name: &str, state: ServerState, delay_secs: u64) -> ServerSnapshot {
        ServerSnapshot {
            last_error: Some("exited with status 3\nstderr: boom".into()),
            retry_delay: Some(Duration::from_secs(delay_secs)),
            restarts: 7,
            ..server(name, state)
        }
    }

    fn snapshot(servers: Vec<ServerSnapshot>) -> Snapshot {
        Snapshot {
            servers,
            base_url: "http://127.0.0.1:7427".into(),
            config_error: None,
            autostart: Some(false),
        }
    }

    use ServerState::*;

    #[test]
    fn health_follows_the_worst_server() {
        let cases = [
            (vec![], Health::Empty),
            (vec![server("a", Disabled)], Health::Empty),
            (
                vec![server("a", Running), server("b", Disabled)],
                Health::Ok,
            ),
            (
                vec![server("a", Running), server("b", Starting)],
                Health::Busy,
            ),
            (
                vec![server("a", Running), server("b", Restarting)],
                Health::Busy,
            ),
            (
                vec![server("a", Starting), failing("b", Failed, 1)],
                Health::Failed,
            ),
            (vec![server("a", Running), server("b", Stopped)], Health::Ok),
            (vec![server("a", Stopped)], Health::Empty),
        ];
        for (servers, expected) in cases {
            let names: Vec<_> = servers.iter().map(|s| s.state.as_str()).collect();
            assert_eq!(snapshot(servers).health(), expected, "{names:?}");
        }
    }

    #[test]
    fn a_server_that_crashes_over_and_over_counts_as_failed() {
        // Restarting after a crash is "busy" until the backoff reaches its cap.
        assert_eq!(
            snapshot(vec![failing("a", Restarting, 8)]).health(),
            Health::Busy
        );
        assert_eq!(
            snapshot(vec![failing("a", Restarting, 60)]).health(),
            Health::Failed
        );
    }

    #[test]
    fn a_retry_after_a_failure_stays_red_so_the_icon_does_not_blink() {
        // failed -> starting again -> failed: red throughout, below the cap and at it.
        for delay in [2, 60] {
            let mut retry = failing("a", Starting, delay);
            assert_eq!(snapshot(vec![retry.clone()]).health(), Health::Failed);
            assert_eq!(snapshot(vec![retry.clone()]).counts().failed, 1);
            // The first start, or a manual restart of a server that ran: no error, busy.
            retry.last_error = None;
            assert_eq!(snapshot(vec![retry]).health(), Health::Busy);
        }
        let menu = snapshot(vec![failing("a", Starting, 2)]).menu();
        assert_eq!(labels(&menu)[2], "✕ a — retrying");
        assert_eq!(labels(submenu(&menu, "server/a"))[0], "Retrying…");
        let menu = snapshot(vec![failing("a", Starting, 60)]).menu();
        assert_eq!(labels(&menu)[2], "✕ a — keeps failing");
        assert_eq!(
            labels(submenu(&menu, "server/a"))[0],
            "Retrying (every 1 min)…"
        );
    }

    #[test]
    fn a_broken_config_file_asks_for_attention() {
        let mut s = snapshot(vec![server("a", Running)]);
        s.config_error = Some("servers.json:3:5: expected `,`".into());
        assert_eq!(s.health(), Health::Failed);
        assert!(s.tooltip().contains("servers.json has an error"));
        let menu = s.menu();
        assert_eq!(menu[1].id(), Some("config-error"));
        assert!(menu[1].text().unwrap().contains("servers.json:3:5"));
        assert_eq!(Action::from_id("config-error"), Some(Action::FixConfig));
    }

    #[test]
    fn keeps_failing_means_failed_or_crashed_at_the_backoff_cap() {
        assert!(failing("a", Failed, 60).keeps_failing());
        assert!(failing("a", Restarting, 60).keeps_failing());
        assert!(!failing("a", Failed, 32).keeps_failing());
        // Running again after failing: the last delay is still recorded, but it runs.
        assert!(!failing("a", Running, 60).keeps_failing());
        let custom = ServerSnapshot {
            max_delay: Duration::from_millis(400),
            retry_delay: Some(Duration::from_millis(400)),
            ..failing("a", Failed, 0)
        };
        assert!(custom.keeps_failing(), "the entry's own restart.maxDelayMs");
    }

    #[test]
    fn summary_and_tooltip_count_the_servers() {
        assert_eq!(snapshot(vec![]).summary(), "No servers configured");
        assert_eq!(
            snapshot(vec![server("a", Running)]).summary(),
            "1 server running"
        );
        assert_eq!(
            snapshot(vec![server("a", Running), server("b", Running)]).summary(),
            "All 2 servers running"
        );
        assert_eq!(
            snapshot(vec![server("a", Disabled), server("b", Disabled)]).summary(),
            "2 servers, all disabled"
        );
        let mixed = snapshot(vec![
            server("a", Running),
            server("b", Running),
            server("c", Starting),
            failing("d", Failed, 4),
            server("e", Disabled),
        ]);
        assert_eq!(
            mixed.counts(),
            Counts {
                total: 5,
                running: 2,
                starting: 1,
                failed: 1,
                needs_sign_in: 0,
                disabled: 1,
                stopped: 0
            }
        );
        assert_eq!(
            mixed.summary(),
            "5 servers: 2 running, 1 starting, 1 failed, 1 disabled"
        );
        assert_eq!(
            mixed.tooltip(),
            "Switchboard: 5 servers: 2 running, 1 starting, 1 failed, 1 disabled\nhttp://127.0.0.1:7427"
        );
    }

    fn labels(menu: &[Entry]) -> Vec<String> {
        menu.iter()
            .map(|e| e.text().unwrap_or("---").to_owned())
            .collect()
    }

    fn submenu<'a>(menu: &'a [Entry], id: &str) -> &'a [Entry] {
        match menu.iter().find(|e| e.id() == Some(id)) {
            Some(Entry::Submenu { entries, .. }) => entries,
            other => panic!("no submenu {id}: {other:?}"),
        }
    }

    #[test]
    fn the_menu_has_a_summary_one_submenu_per_server_and_the_app_items() {
        let mut running = server("everything", Running);
        running.tools_total = 13;
        running.tools_exposed = 11;
        let s = snapshot(vec![running, server("off", Disabled)]);
        let menu = s.menu();
        assert_eq!(
            labels(&menu),
            [
                "2 servers: 1 running, 1 disabled",
                "---",
                "● everything — running",
                "○ off — disabled",
                "---",
                "Open Dashboard",
                "Open servers.json",
                "Restart All",
                "---",
                "Start at Login",
                "---",
                "Quit Switchboard",
            ]
        );
        let everything = submenu(&menu, "server/everything");
        assert_eq!(
            labels(everything),
            [
                "Running (pid 4242)",
                "11 of 13 tools exposed",
                "---",
                "Restart",
                "Disable",
                "---",
                "Copy HTTP URL",
                "Copy SSE URL"
            ]
        );
        let mut was_failing = failing("gone", Disabled, 60);
        was_failing.last_error = Some("exited with status 3".into());
        let menu = snapshot(vec![was_failing]).menu();
        assert_eq!(
            labels(submenu(&menu, "server/gone"))[2],
            "---",
            "no old error under a disabled server"
        );
        let menu = s.menu();
        let off = submenu(&menu, "server/off");
        assert_eq!(labels(off)[0], "Disabled in servers.json");
        assert_eq!(labels(off)[4], "Enable");
        assert!(
            matches!(&off[3], Entry::Item { text, enabled: false, .. } if text == "Restart"),
            "a disabled server cannot be restarted"
        );
        assert!(matches!(
            menu.iter().find(|e| e.id() == Some("autostart")),
            Some(Entry::Check {
                checked: false,
                enabled: true,
                ..
            })
        ));
        // Info lines are greyed out; they carry no action.
        assert!(matches!(&menu[0], Entry::Item { enabled: false, .. }));
        assert_eq!(Action::from_id("summary"), None);
        assert_eq!(Action::from_id("server/everything/state"), None);
    }

    #[test]
    fn a_failing_server_shows_its_error_and_its_retry_delay() {
        let menu = snapshot(vec![failing("flaky", Failed, 60)]).menu();
        let flaky = submenu(&menu, "server/flaky");
        assert_eq!(
            labels(&menu)[2],
            "✕ flaky — keeps failing",
            "the submenu title says it at a glance"
        );
        assert_eq!(labels(flaky)[0], "Failed, retried every 1 min");
        assert_eq!(labels(flaky)[1], "Tools: not known until it runs");
        assert_eq!(labels(flaky)[2], "Error: exited with status 3");
        let menu = snapshot(vec![failing("flaky", Restarting, 2)]).menu();
        assert_eq!(
            labels(submenu(&menu, "server/flaky"))[0],
            "Crashed, retrying in 2 s"
        );
    }

    #[test]
    fn autostart_that_cannot_be_read_is_greyed_out() {
        let mut s = snapshot(vec![]);
        s.autostart = None;
        assert!(matches!(
            s.menu().iter().find(|e| e.id() == Some("autostart")),
            Some(Entry::Check {
                enabled: false,
                checked: false,
                ..
            })
        ));
        s.autostart = Some(true);
        assert!(matches!(
            s.menu().iter().find(|e| e.id() == Some("autostart")),
            Some(Entry::Check { checked: true, .. })
        ));
    }

    #[test]
    fn restart_all_needs_an_enabled_server() {
        let find = |s: &Snapshot| {
            s.menu()
                .into_iter()
                .find(|e| e.id() == Some("restart-all"))
                .unwrap()
        };
        assert!(matches!(
            find(&snapshot(vec![server("a", Disabled)])),
            Entry::Item { enabled: false, .. }
        ));
        assert!(matches!(
            find(&snapshot(vec![failing("a", Failed, 1)])),
            Entry::Item { enabled: true, .. }
        ));
    }

    #[test]
    fn state_changes_keep_the_shape_so_the_menu_updates_in_place() {
        let before = snapshot(vec![server("a", Starting), server("b", Running)]);
        let mut after = before.clone();
        after.servers[0].state = Running;
        after.servers[0].tools_total = 3;
        let (m1, m2) = (before.menu(), after.menu());
        assert_ne!(m1, m2);
        assert_eq!(shape(&m1), shape(&m2));
        // A new server, or an error line appearing, changes the shape: the menu is rebuilt.
        after.servers.push(server("c", Starting));
        assert_ne!(shape(&m1), shape(&after.menu()));
        let mut broken = before.clone();
        broken.servers[0] = failing("a", Failed, 1);
        assert_ne!(shape(&m1), shape(&broken.menu()));
    }

    #[test]
    fn a_remote_server_waiting_for_sign_in_asks_for_it_in_its_menu() {
        let s = snapshot(vec![server("a", Running), server("linear", NeedsAuth)]);
        assert_eq!(s.health(), Health::Failed, "it needs its user");
        assert_eq!(s.summary(), "2 servers: 1 running, 1 need sign-in");
        let menu = s.menu();
        assert_eq!(labels(&menu)[3], "⚿ linear — needs sign-in");
        let linear = submenu(&menu, "server/linear");
        assert_eq!(labels(linear)[0], "Needs sign-in (OAuth)");
        assert!(
            labels(linear).contains(&"Sign in…".to_string()),
            "{:?}",
            labels(linear)
        );
    }

    #[test]
    fn every_actionable_item_id_parses_back_to_its_action() {
        let actions = [
            Action::OpenDashboard,
            Action::OpenConfig,
            Action::FixConfig,
            Action::RestartAll,
            Action::ToggleAutostart,
            Action::Quit,
            Action::Restart("my_server.v2".into()),
            Action::ToggleDisabled("a-b".into()),
            Action::CopyHttpUrl("x".into()),
            Action::CopySseUrl("x".into()),
            Action::SignIn("remote".into()),
        ];
        for action in actions {
            assert_eq!(Action::from_id(&action.id()), Some(action.clone()));
        }
        assert_eq!(Action::from_id("server/x/explode"), None);
        assert_eq!(Action::from_id("server/"), None);
        assert_eq!(Action::from_id("nothing"), None);
        // Every enabled item of a real menu maps to an action.
        let s = snapshot(vec![server("a", Running), failing("b", Failed, 60)]);
        fn check(entries: &[Entry]) {
            for e in entries {
                match e {
                    Entry::Item {
                        id, enabled: true, ..
                    }
                    | Entry::Check { id, .. } => {
                        assert!(Action::from_id(id).is_some(), "{id} does nothing")
                    }
                    Entry::Submenu { entries, .. } => check(entries),
                    _ => {}
                }
            }
        }
        check(&s.menu());
    }

    #[test]
    fn urls_and_labels() {
        assert_eq!(
            http_url("http://127.0.0.1:7427", "git"),
            "http://127.0.0.1:7427/servers/git/mcp"
        );
        assert_eq!(
            sse_url("http://127.0.0.1:7427", "git"),
            "http://127.0.0.1:7427/servers/git/sse"
        );
        assert_eq!(escape_access_keys("Tom & Jerry"), "Tom && Jerry");
        assert_eq!(first_line("  one\ntwo", 10), "one");
        assert_eq!(first_line("abcdefghijkl", 6), "abcde…");
        assert_eq!(human_duration(Duration::from_millis(400)), "400 ms");
        assert_eq!(human_duration(Duration::from_secs(90)), "1 min 30 s");
        assert_eq!(human_duration(Duration::from_secs(60)), "1 min");
    }
}
