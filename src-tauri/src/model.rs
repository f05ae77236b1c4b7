//! What the tray shows, as plain data computed from the core's state.
//!
//! [`Snapshot::capture`] reads the hub's slots (cheap clones, no waiting on any server);
//! everything else here is a pure function of a [`Snapshot`]: the [`Health`] that picks the
//! icon, the [`Counts`] behind the summary line and the tooltip, and the [`Entry`] tree of the
//! menu, whose item ids parse back into [`Action`]s.

use std::time::{Duration, SystemTime};

use switchboard::config::StartMode;
use switchboard::{ConfigStore, Hub, ServerSlot, ServerState};

/// How often the tray looks again while an on-demand server runs (see
/// [`Snapshot::next_redraw`]).
pub const AWAKE_POLL: Duration = Duration::from_secs(10);

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
    /// `"start": "onDemand"`: started by the first request that needs it, stopped when unused.
    pub on_demand: bool,
    /// How long until a running on-demand server is stopped if nothing uses it (zero when
    /// due); `None` while something uses it, and for every other server or state. Relative,
    /// read when the snapshot is taken, so the model needs no clock.
    pub sleeps_in: Option<Duration>,
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
            on_demand: settings.spec.on_demand(),
            sleeps_in: slot.sleeps_at().map(|at| {
                at.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            }),
        }
    }

    /// An on-demand server whose process runs: it sleeps once unused for its `idleStopSecs`.
    fn awake_on_demand(&self) -> bool {
        self.on_demand && self.state == ServerState::Running
    }

    /// An on-demand server whose start on demand failed: no timer retries it, the next request
    /// that needs it does. (One still learning its catalog is retried with backoff.)
    fn waits_for_a_request(&self) -> bool {
        self.on_demand && self.state == ServerState::Failed && self.retry_delay.is_none()
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
                ServerState::Idle => c.idle += 1,
                ServerState::Failed => unreachable!("counted as failed above"),
            }
        }
        c
    }

    /// The health the icon shows. Worst first: a failing server (or a servers.json that cannot
    /// be applied) is `Failed`, then anything on its way up is `Busy`; with neither, `Ok` if
    /// something runs or sleeps (an idle on-demand server is ready: a request starts it) and
    /// `Empty` if nothing is meant to run (no servers, or all disabled).
    pub fn health(&self) -> Health {
        let c = self.counts();
        // A server waiting for its user to sign in is as unusable as a failed one.
        if c.failed > 0 || c.needs_sign_in > 0 || self.config_error.is_some() {
            Health::Failed
        } else if c.starting > 0 {
            Health::Busy
        } else if c.running + c.idle > 0 {
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
        if c.idle == c.total {
            return match c.total {
                1 => "1 server, idle".into(),
                n => format!("{n} servers, all idle"),
            };
        }
        let mut parts = vec![format!("{} running", c.running)];
        for (n, what) in [
            (c.idle, "idle"),
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

    /// How soon to redraw though no core event came: a running on-demand server's "sleeps in"
    /// changes with time, and a request that uses it (or stops using it) sends no event. At the
    /// next change of a countdown's minute, and at least every [`AWAKE_POLL`]; `None` while no
    /// on-demand server runs (everything else arrives as events).
    pub fn next_redraw(&self) -> Option<Duration> {
        self.servers
            .iter()
            .filter(|s| s.awake_on_demand())
            .map(|s| match s.sleeps_in {
                Some(left) if minutes_up(left) > 1 => {
                    // The countdown's minute changes when `left` reaches the minute below.
                    let below = Duration::from_secs(60 * (minutes_up(left) as u64 - 1));
                    (left - below).min(AWAKE_POLL)
                }
                // Within a minute (its end is an event) or in use.
                _ => AWAKE_POLL,
            })
            .min()
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
        let any_to_restart = self.servers.iter().any(|s| in_restart_all(s.state));
        menu.extend([
            Entry::item(Action::OpenDashboard.id(), "Open Dashboard", true),
            Entry::item(Action::OpenConfig.id(), "Open servers.json", true),
            Entry::item(Action::RestartAll.id(), "Restart All", any_to_restart),
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

/// Whether Restart All restarts a server in `state`: not a disabled one, nor an on-demand one
/// asleep (restarting it would start it, for no request).
pub fn in_restart_all(state: ServerState) -> bool {
    !matches!(state, ServerState::Disabled | ServerState::Idle)
}

/// The `servers.json` patch that makes a server start on demand, or always.
pub fn start_patch(on_demand: bool) -> serde_json::Value {
    let start = if on_demand {
        StartMode::OnDemand
    } else {
        StartMode::Always
    };
    serde_json::json!({ "start": start.as_str() })
}

fn server_submenu(s: &ServerSnapshot) -> Entry {
    let disabled = s.state == ServerState::Disabled;
    let id = |what: &str| format!("server/{}/{what}", s.name);
    let mut entries = vec![
        Entry::info(id("state"), state_line(s)),
        Entry::info(id("tools"), tools_line(s)),
    ];
    // The last error explains a server that is not up; a running, disabled or stopped one
    // needs no explaining. An idle one is not down: its error (a crash before it went to
    // sleep) is only the last thing that happened to it.
    let down = !matches!(
        s.state,
        ServerState::Running | ServerState::Disabled | ServerState::Stopped | ServerState::Idle
    );
    match &s.last_error {
        Some(error) if down => entries.push(Entry::info(
            id("error"),
            format!("Error: {}", first_line(error, 80)),
        )),
        Some(error) if s.state == ServerState::Idle => entries.push(Entry::info(
            id("error"),
            format!("Last error: {}", first_line(error, 80)),
        )),
        _ => {}
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
        Entry::item(
            Action::Restart(s.name.clone()).id(),
            // Asleep, a restart starts it (and it sleeps again once unused).
            if s.state == ServerState::Idle {
                "Start now"
            } else {
                "Restart"
            },
            !disabled,
        ),
        Entry::item(
            Action::ToggleDisabled(s.name.clone()).id(),
            if disabled { "Enable" } else { "Disable" },
            true,
        ),
        Entry::Check {
            id: Action::ToggleOnDemand(s.name.clone()).id(),
            text: "Start on demand".into(),
            enabled: true,
            checked: s.on_demand,
        },
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
        ServerState::Idle => "◐",
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
        ServerState::Running => {
            let running = match s.pid {
                Some(pid) => format!("Running (pid {pid})"),
                None => "Running".into(),
            };
            match s.sleeps_in {
                _ if !s.on_demand => running,
                Some(left) => format!("{running} — sleeps {}", countdown(left)),
                None => format!("{running} — in use"),
            }
        }
        ServerState::Starting if s.retrying() => match s.retry_delay {
            Some(d) if s.keeps_failing() => {
                format!("Retrying (every {})…", human_duration(d))
            }
            _ => "Retrying…".into(),
        },
        ServerState::Starting => "Starting…".into(),
        ServerState::Failed if s.waits_for_a_request() => {
            "Failed; the next request tries again".into()
        }
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
        ServerState::Idle => "Idle — starts on demand".into(),
        ServerState::Stopped => "Stopped".into(),
        ServerState::Disabled => "Disabled in servers.json".into(),
    }
}

fn tools_line(s: &ServerSnapshot) -> String {
    if s.tools_total == 0 {
        return match s.state {
            // An idle server sleeps only once its catalog is known.
            ServerState::Running | ServerState::Idle => "No tools".into(),
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

/// When a countdown ends, in whole minutes rounded up (it is redrawn only when that changes,
/// see [`Snapshot::next_redraw`]): "within a minute", "in 5 min", "in 1 h 30 min".
fn countdown(left: Duration) -> String {
    match minutes_up(left) {
        0 | 1 => "within a minute".into(),
        m if m < 60 => format!("in {m} min"),
        m if m % 60 == 0 => format!("in {} h", m / 60),
        m => format!("in {} h {} min", m / 60, m % 60),
    }
}

fn minutes_up(d: Duration) -> u128 {
    d.as_millis().div_ceil(60_000)
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
    /// Every enabled server is running, or asleep until a request needs it.
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
    /// On-demand servers asleep (ready: the first request starts them).
    pub idle: usize,
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
    /// Flips the entry's `start` in servers.json between `"onDemand"` and `"always"`.
    ToggleOnDemand(String),
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
            Action::ToggleOnDemand(name) => format!("server/{name}/on-demand"),
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
                    "on-demand" => Action::ToggleOnDemand(name),
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
            on_demand: false,
            sleeps_in: None,
        }
    }

    /// An on-demand server; a running one is unused, with 4 minutes to go before it sleeps.
    pub fn on_demand(name: &str, state: ServerState) -> ServerSnapshot {
        ServerSnapshot {
            on_demand: true,
            sleeps_in: (state == ServerState::Running).then_some(Duration::from_secs(240)),
            ..server(name, state)
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
                stopped: 0,
                idle: 0,
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
                "Start on demand",
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
            Action::ToggleOnDemand("on-demand".into()),
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
        let s = snapshot(vec![
            server("a", Running),
            failing("b", Failed, 60),
            on_demand("c", Idle),
            on_demand("d", Running),
        ]);
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

    #[test]
    fn an_idle_server_is_healthy_and_counted_apart() {
        assert_eq!(snapshot(vec![on_demand("a", Idle)]).health(), Health::Ok);
        let s = snapshot(vec![
            server("a", Running),
            on_demand("b", Idle),
            on_demand("c", Running),
        ]);
        assert_eq!(s.health(), Health::Ok);
        assert_eq!(s.counts().idle, 1);
        assert_eq!(s.counts().running, 2);
        assert_eq!(s.summary(), "3 servers: 2 running, 1 idle");
        assert_eq!(
            s.tooltip(),
            "Switchboard: 3 servers: 2 running, 1 idle\nhttp://127.0.0.1:7427"
        );
        assert_eq!(
            snapshot(vec![on_demand("a", Idle)]).summary(),
            "1 server, idle"
        );
        assert_eq!(
            snapshot(vec![on_demand("a", Idle), on_demand("b", Idle)]).summary(),
            "2 servers, all idle"
        );
        // Still worst first: an idle server does not hide a failing one.
        assert_eq!(
            snapshot(vec![on_demand("a", Idle), failing("b", Failed, 1)]).health(),
            Health::Failed
        );
    }

    #[test]
    fn an_idle_server_says_a_request_starts_it() {
        let mut idle = on_demand("git", Idle);
        idle.tools_total = 12;
        idle.tools_exposed = 12;
        let menu = snapshot(vec![idle]).menu();
        assert_eq!(labels(&menu)[2], "◐ git — idle");
        let git = submenu(&menu, "server/git");
        assert_eq!(
            labels(git),
            [
                "Idle — starts on demand",
                "12 tools",
                "---",
                "Start now",
                "Disable",
                "Start on demand",
                "---",
                "Copy HTTP URL",
                "Copy SSE URL"
            ]
        );
        // Asleep, its catalog is known: no tools means none, not unknown.
        let menu = snapshot(vec![on_demand("git", Idle)]).menu();
        assert_eq!(labels(submenu(&menu, "server/git"))[1], "No tools");
    }

    #[test]
    fn an_idle_server_that_crashed_tells_its_last_error_without_alarm() {
        let mut crashed = on_demand("git", Idle);
        crashed.last_error = Some("exited with status 1\nstderr: oops".into());
        crashed.restarts = 1;
        let s = snapshot(vec![crashed]);
        assert_eq!(s.health(), Health::Ok);
        let menu = s.menu();
        assert_eq!(labels(&menu)[2], "◐ git — idle");
        let git = submenu(&menu, "server/git");
        assert_eq!(labels(git)[0], "Idle — starts on demand");
        assert_eq!(labels(git)[2], "Last error: exited with status 1");
    }

    #[test]
    fn a_running_on_demand_server_says_when_it_sleeps() {
        let line = |sleeps_in: Option<Duration>| {
            let s = ServerSnapshot {
                sleeps_in,
                ..on_demand("git", Running)
            };
            labels(submenu(&snapshot(vec![s]).menu(), "server/git"))[0].clone()
        };
        let secs = |n| Some(Duration::from_secs(n));
        assert_eq!(line(secs(240)), "Running (pid 4242) — sleeps in 4 min");
        // Rounded up: just used, a 5-minute idle stop says 5 min.
        assert_eq!(
            line(Some(Duration::from_millis(299_900))),
            "Running (pid 4242) — sleeps in 5 min"
        );
        assert_eq!(line(secs(61)), "Running (pid 4242) — sleeps in 2 min");
        assert_eq!(
            line(secs(60)),
            "Running (pid 4242) — sleeps within a minute"
        );
        assert_eq!(line(secs(0)), "Running (pid 4242) — sleeps within a minute");
        assert_eq!(line(secs(2 * 3600)), "Running (pid 4242) — sleeps in 2 h");
        assert_eq!(
            line(secs(90 * 60)),
            "Running (pid 4242) — sleeps in 1 h 30 min"
        );
        assert_eq!(line(None), "Running (pid 4242) — in use");
        let remote = ServerSnapshot {
            pid: None,
            ..on_demand("git", Running)
        };
        assert_eq!(
            labels(submenu(&snapshot(vec![remote]).menu(), "server/git"))[0],
            "Running — sleeps in 4 min"
        );
        // A server that always runs never sleeps.
        let menu = snapshot(vec![server("git", Running)]).menu();
        assert_eq!(
            labels(submenu(&menu, "server/git"))[0],
            "Running (pid 4242)"
        );
    }

    #[test]
    fn the_countdown_updates_in_place_so_an_open_menu_stays_open() {
        let at = |sleeps_in: Option<Duration>| {
            snapshot(vec![ServerSnapshot {
                sleeps_in,
                ..on_demand("git", Running)
            }])
            .menu()
        };
        let (four, three, in_use) = (
            at(Some(Duration::from_secs(240))),
            at(Some(Duration::from_secs(180))),
            at(None),
        );
        assert_ne!(four, three);
        assert_ne!(four, in_use);
        for other in [&three, &in_use] {
            assert_eq!(shape(&four), shape(other));
            assert_eq!(labels(&four)[2], labels(other)[2], "the submenu title");
        }
    }

    #[test]
    fn the_tray_looks_again_when_a_countdown_minute_changes_or_a_server_may_be_used() {
        assert_eq!(
            snapshot(vec![server("a", Running), on_demand("b", Idle)]).next_redraw(),
            None,
            "nothing changes without an event"
        );
        let awake = |sleeps_in: Option<Duration>| ServerSnapshot {
            sleeps_in,
            ..on_demand("a", Running)
        };
        let next = |servers| snapshot(servers).next_redraw();
        // 4 min 3 s shows "5 min" until 4 min are left; polled meanwhile.
        assert_eq!(
            next(vec![awake(Some(Duration::from_secs(243)))]),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            next(vec![awake(Some(Duration::from_millis(240_500)))]),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            next(vec![awake(Some(Duration::from_secs(270)))]),
            Some(AWAKE_POLL)
        );
        assert_eq!(next(vec![awake(None)]), Some(AWAKE_POLL), "in use");
        assert_eq!(
            next(vec![awake(Some(Duration::from_secs(30)))]),
            Some(AWAKE_POLL),
            "within a minute: its sleep is an event"
        );
        // The soonest of all.
        assert_eq!(
            next(vec![
                awake(None),
                awake(Some(Duration::from_secs(122))),
                on_demand("c", Idle)
            ]),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn a_failed_start_on_demand_waits_for_the_next_request_not_a_timer() {
        let failed = ServerSnapshot {
            on_demand: true,
            retry_delay: None,
            ..failing("git", Failed, 0)
        };
        assert!(!failed.keeps_failing());
        let s = snapshot(vec![failed]);
        assert_eq!(s.health(), Health::Failed, "it did fail");
        let menu = s.menu();
        assert_eq!(labels(&menu)[2], "✕ git — failed");
        let git = submenu(&menu, "server/git");
        assert_eq!(labels(git)[0], "Failed; the next request tries again");
        assert_eq!(labels(git)[2], "Error: exited with status 3");
        // Learning its catalog (the first start), it is retried with backoff like any other.
        let learning = ServerSnapshot {
            on_demand: true,
            ..failing("git", Failed, 2)
        };
        let menu = snapshot(vec![learning]).menu();
        assert_eq!(
            labels(submenu(&menu, "server/git"))[0],
            "Failed, retrying in 2 s"
        );
    }

    #[test]
    fn start_on_demand_is_a_check_item_that_writes_start() {
        let check = |s: ServerSnapshot| {
            let menu = snapshot(vec![s]).menu();
            submenu(&menu, "server/git")
                .iter()
                .find(|e| e.id() == Some("server/git/on-demand"))
                .cloned()
                .expect("the check item")
        };
        assert_eq!(
            check(on_demand("git", Idle)),
            Entry::Check {
                id: "server/git/on-demand".into(),
                text: "Start on demand".into(),
                enabled: true,
                checked: true,
            }
        );
        assert!(matches!(
            check(server("git", Running)),
            Entry::Check {
                checked: false,
                enabled: true,
                ..
            }
        ));
        assert!(
            matches!(
                check(server("git", Disabled)),
                Entry::Check { enabled: true, .. }
            ),
            "a disabled server's start can be set too"
        );
        assert_eq!(
            Action::from_id("server/git/on-demand"),
            Some(Action::ToggleOnDemand("git".into()))
        );
        // The patch is the `start` servers.json spells, and reads back as that mode.
        assert_eq!(
            start_patch(true),
            serde_json::json!({ "start": "onDemand" })
        );
        assert_eq!(start_patch(false), serde_json::json!({ "start": "always" }));
        for (on, mode) in [(true, StartMode::OnDemand), (false, StartMode::Always)] {
            let read: StartMode = serde_json::from_value(start_patch(on)["start"].clone()).unwrap();
            assert_eq!(read, mode);
        }
    }

    #[test]
    fn restart_all_leaves_sleeping_servers_asleep() {
        assert!(!in_restart_all(Idle));
        assert!(!in_restart_all(Disabled));
        for state in [Running, Starting, Restarting, Failed, Stopped, NeedsAuth] {
            assert!(in_restart_all(state), "{state:?}");
        }
        let restart_all = |s: Snapshot| {
            s.menu()
                .into_iter()
                .find(|e| e.id() == Some("restart-all"))
                .unwrap()
        };
        assert!(matches!(
            restart_all(snapshot(vec![on_demand("a", Idle), server("b", Disabled)])),
            Entry::Item { enabled: false, .. }
        ));
        assert!(matches!(
            restart_all(snapshot(vec![
                on_demand("a", Idle),
                on_demand("b", Running)
            ])),
            Entry::Item { enabled: true, .. }
        ));
    }
}
