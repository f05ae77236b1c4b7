//! Harness of the tray app's end-to-end test and benchmark: a private X display and D-Bus
//! session, the real `switchboard-app` binary with a temporary servers.json, its tray read and
//! clicked over D-Bus (StatusNotifierItem + dbusmenu), its window found and closed over X11, a
//! stand-in notification server, screenshots, and a scan of /proc for leftover processes.
//!
//! Every wait is bounded; every process the app started carries a mark in its environment
//! (`switchboard_test_procs::Mark`), and whatever still has it is killed when the
//! [`AppProcess`] guard drops (also on failure).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use switchboard_test_procs::Mark;
use zbus::blocking::Connection;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// Set in the re-executed test process, which runs inside Xvfb and a D-Bus session.
pub const INNER: &str = "SWITCHBOARD_TRAY_E2E_INNER";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repo root")
}

/// Where screenshots go (git-ignored).
pub fn artifacts() -> PathBuf {
    let dir = repo_root().join("test-artifacts/tray");
    std::fs::create_dir_all(&dir).expect("test-artifacts/tray");
    dir
}

/// Runs `test` (a test of the current test binary) again inside its own Xvfb display and D-Bus
/// session: `xvfb-run -a timeout … dbus-run-session -- <this binary> <test> --exact`. The
/// timeout sits inside xvfb-run, so Xvfb is stopped whatever happens.
pub fn rerun_in_session(test: &str, limit: Duration) {
    rerun_with_args(&[test, "--exact", "--nocapture", "--test-threads=1"], limit);
}

/// [`rerun_in_session`] with the arguments for the re-run (for a harness-less benchmark).
pub fn rerun_with_args(args: &[&str], limit: Duration) {
    for tool in ["xvfb-run", "dbus-run-session", "import"] {
        assert!(
            which(tool),
            "`{tool}` is missing: the tray test needs xvfb, xauth, dbus, imagemagick \
             (scripts/test installs them with scripts/system-deps)"
        );
    }
    let exe = std::env::current_exe().expect("test binary");
    let status = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24 -nolisten tcp"])
        .args(["timeout", "-k", "10"])
        .arg(limit.as_secs().to_string())
        .args(["dbus-run-session", "--"])
        .arg(exe)
        .args(args)
        .env(INNER, "1")
        .status()
        .expect("run xvfb-run");
    assert!(
        status.success(),
        "{args:?} failed inside Xvfb + dbus-run-session ({status}; 124 is the timeout)"
    );
}

pub fn inside_session() -> bool {
    std::env::var_os(INNER).is_some()
}

pub fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
}

/// Polls `probe` until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn free_port() -> u16 {
    switchboard_test_procs::free_port().expect("a free port on 127.0.0.1")
}

/// `server-everything` from npm, installed by `tests/setup.sh`.
pub fn everything() -> Json {
    let bin = repo_root().join("tests/node/node_modules/.bin/mcp-server-everything");
    assert!(
        bin.exists(),
        "{} is missing: run `bash tests/setup.sh` first (the README's test command does)",
        bin.display()
    );
    serde_json::json!({ "command": bin.to_string_lossy(), "args": ["stdio"] })
}

// ------------------------------------------------------------------------------ the app

/// A running `switchboard-app` with its own config, data and runtime dirs.
pub struct AppProcess {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// Every process the app starts inherits `SWITCHBOARD_E2E_TAG=<test pid>-<port>`, so the
    /// app's children are found even after it is gone and they were re-parented.
    pub mark: Mark,
}

impl AppProcess {
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("servers.json")
    }

    pub fn stderr_file(&self) -> PathBuf {
        self.dir.path().join("app.stderr")
    }

    /// Starts the app (`extra` are its arguments) with `config` as servers.json.
    pub fn start(binary: &Path, config: &Json, extra: &[&str]) -> Self {
        Self::start_on(binary, config, extra, free_port())
    }

    /// [`AppProcess::start`] with the gateway on `port`.
    pub fn start_on(binary: &Path, config: &Json, extra: &[&str], port: u16) -> Self {
        Self::spawn(binary, config, extra, port)
    }

    /// Another binary in the same harness (`switchboard serve`): `args` must choose the port,
    /// which is read back from the `--port` argument.
    pub fn start_command(binary: &Path, config: &Json, args: &[&str]) -> Self {
        let port = args
            .iter()
            .position(|a| *a == "--port")
            .and_then(|i| args.get(i + 1))
            .and_then(|p| p.parse().ok())
            .expect("--port N");
        Self::spawn(binary, config, args, port)
    }

    fn spawn(binary: &Path, config: &Json, extra: &[&str], port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mark = Mark::new(TAG_VAR, format!("{}-{}", std::process::id(), port));
        std::fs::write(
            dir.path().join("servers.json"),
            serde_json::to_vec_pretty(config).unwrap(),
        )
        .unwrap();
        let runtime = dir.path().join("run");
        std::fs::create_dir_all(&runtime).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        // The desktop's opener, standing in: records what it was asked to open.
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let opener = bin.join("xdg-open");
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" > '{}'\n",
            dir.path().join("opened").display()
        );
        std::fs::write(&opener, script).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let child = app_command(binary, dir.path(), port, &mark)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("app.stderr")).unwrap(),
            ))
            .spawn()
            .expect("spawn switchboard-app");
        Self {
            child,
            port,
            dir,
            mark,
        }
    }

    /// The same binary and environment, for a second launch.
    pub fn command(&self, binary: &Path) -> Command {
        app_command(binary, self.dir.path(), self.port, &self.mark)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_file()).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.port, path)
    }

    pub fn get_json(&self, path: &str) -> Option<Json> {
        match self.get(path)? {
            (200, body) => serde_json::from_str(&body).ok(),
            _ => None,
        }
    }

    /// One server of `/api/servers`.
    pub fn server(&self, name: &str) -> Option<Json> {
        self.get_json("/api/servers")?["servers"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
    }

    /// Waits until the gateway answers `/api/health`.
    pub fn wait_ready(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        wait_for(limit, "the gateway's /api/health", || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the app exited early ({status}):\n{}", self.stderr());
            }
            matches!(self.get("/api/health"), Some((200, _))).then_some(())
        });
        started.elapsed()
    }

    /// Processes (other than the app) that carry this app's mark.
    pub fn descendants(&self) -> Vec<u32> {
        self.mark
            .processes()
            .expect("cannot list /proc")
            .into_iter()
            .filter(|pid| *pid != self.child.id())
            .collect()
    }
}

/// The variable of an [`AppProcess`]'s mark.
const TAG_VAR: &str = "SWITCHBOARD_E2E_TAG";

fn app_command(binary: &Path, dir: &Path, port: u16, mark: &Mark) -> Command {
    let mut path = std::ffi::OsString::from(dir.join("bin"));
    if let Some(system) = std::env::var_os("PATH") {
        path.push(":");
        path.push(system);
    }
    let mut command = Command::new(binary);
    command
        .env("PATH", path)
        .env("SWITCHBOARD_CONFIG", dir.join("servers.json"))
        .env("SWITCHBOARD_PORT", port.to_string())
        // HOME too: the autostart entry goes to ~/.config/autostart whatever XDG_CONFIG_HOME says.
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .env("RUST_LOG", "info,switchboard_app=debug")
        .env(mark.var(), mark.value())
        .stdin(Stdio::null());
    command
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let stderr = self.stderr();
            let tail: Vec<&str> = stderr.lines().rev().take(80).collect();
            eprintln!("--- the app's stderr (last {} lines) ---", tail.len());
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Err(e) = self.mark.kill_all() {
            eprintln!("cannot sweep the app's processes: {e}");
        }
    }
}

/// A plain HTTP/1.1 GET to the gateway (no client library needed for this).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

// ------------------------------------------------------------------------------ D-Bus

/// One item of a dbusmenu layout.
#[derive(Debug, Clone)]
pub struct MenuNode {
    pub id: i32,
    /// The label as shown: GTK's access-key underscores removed (`__` is a literal `_`).
    pub label: String,
    pub enabled: bool,
    pub visible: bool,
    pub separator: bool,
    /// `Some(checked)` for a check item.
    pub toggle: Option<bool>,
    pub children: Vec<MenuNode>,
}

impl MenuNode {
    /// The first item (depth first) whose label starts with `prefix`.
    pub fn find(&self, prefix: &str) -> Option<&MenuNode> {
        self.children.iter().find_map(|c| {
            if c.label.starts_with(prefix) {
                Some(c)
            } else {
                c.find(prefix)
            }
        })
    }

    /// The menu as indented text (greyed-out items in brackets, check items with a box).
    pub fn render(&self) -> String {
        fn walk(node: &MenuNode, depth: usize, out: &mut String) {
            for c in node.children.iter().filter(|c| c.visible) {
                let text = match (c.separator, c.toggle) {
                    (true, _) => "────────".to_owned(),
                    (_, Some(true)) => format!("[x] {}", c.label),
                    (_, Some(false)) => format!("[ ] {}", c.label),
                    _ if !c.enabled => format!("({})", c.label),
                    _ if !c.children.is_empty() => format!("{} ▸", c.label),
                    _ => c.label.clone(),
                };
                out.push_str(&format!("{}{text}\n", "    ".repeat(depth)));
                walk(c, depth + 1, out);
            }
        }
        let mut out = String::new();
        walk(self, 0, &mut out);
        out
    }

    pub fn labels(&self) -> Vec<String> {
        self.children
            .iter()
            .filter(|c| c.visible)
            .map(|c| {
                if c.separator {
                    "---".to_owned()
                } else {
                    c.label.clone()
                }
            })
            .collect()
    }
}

/// The tray's StatusNotifierItem and its dbusmenu, as a panel would see them.
pub struct Tray {
    pub conn: Connection,
    pub bus_name: String,
    pub item_path: OwnedObjectPath,
    pub menu_path: OwnedObjectPath,
}

impl Tray {
    /// The item the process `pid` registered with `watcher` (as a panel's watcher learns it).
    pub fn find(conn: &Connection, watcher: &Watcher, pid: u32, limit: Duration) -> Self {
        let (bus_name, item_path) =
            wait_for(limit, "the tray to register its StatusNotifierItem", || {
                watcher
                    .registrations()
                    .into_iter()
                    .find(|(sender, _)| connection_pid(conn, sender) == Some(pid))
            });
        let menu_path: OwnedObjectPath = wait_for(limit, "the item's Menu property", || {
            let value = get_property(
                conn,
                &bus_name,
                item_path.as_str(),
                "org.kde.StatusNotifierItem",
                "Menu",
            )?;
            OwnedObjectPath::try_from(value).ok()
        });
        Self {
            conn: conn.clone(),
            bus_name,
            item_path,
            menu_path,
        }
    }

    pub fn property(&self, name: &str) -> Option<OwnedValue> {
        get_property(
            &self.conn,
            &self.bus_name,
            self.item_path.as_str(),
            "org.kde.StatusNotifierItem",
            name,
        )
    }

    /// The PNG file the item's icon is drawn from.
    pub fn icon_file(&self) -> Option<PathBuf> {
        let name: String = self.property("IconName")?.try_into().ok()?;
        let theme_path: String = self
            .property("IconThemePath")
            .and_then(|v| v.try_into().ok())
            .unwrap_or_default();
        let mut path = PathBuf::from(&name);
        if path.is_relative() {
            path = Path::new(&theme_path).join(&name);
        }
        if path.extension().is_none() {
            path.set_extension("png");
        }
        path.exists().then_some(path)
    }

    /// The whole menu (`com.canonical.dbusmenu.GetLayout` from the root, all levels).
    pub fn layout(&self) -> Option<MenuNode> {
        let reply = self
            .conn
            .call_method(
                Some(self.bus_name.as_str()),
                self.menu_path.as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .ok()?;
        type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
        let (_revision, (id, props, children)): (u32, Layout) = reply.body().deserialize().ok()?;
        let props: Vec<(String, Value)> = props
            .iter()
            .map(|(k, v)| (k.clone(), Value::clone(v)))
            .collect();
        let children: Vec<Value> = children.iter().map(|v| Value::clone(v)).collect();
        Some(node(id, &props, &children))
    }

    /// Clicks item `id`, as a panel does (`Event(id, "clicked", …)`). False when the menu was
    /// rebuilt meanwhile and the id is gone (a panel hears LayoutUpdated and reads it again).
    pub fn click(&self, id: i32) -> bool {
        match self.conn.call_method(
            Some(self.bus_name.as_str()),
            self.menu_path.as_str(),
            Some("com.canonical.dbusmenu"),
            "Event",
            &(id, "clicked", Value::from(0i32), 0u32),
        ) {
            Ok(_) => true,
            Err(e) if e.to_string().contains("does not refer to a menu item") => false,
            Err(e) => panic!("dbusmenu Event: {e}"),
        }
    }

    /// Clicks the item reached by following labels from the root (each step: the first item
    /// whose label contains it), once that item exists and is enabled (the menu follows the
    /// core's events a moment later than the API).
    pub fn click_path(&self, path: &[&str]) {
        wait_for(
            Duration::from_secs(10),
            &format!("menu item {path:?}"),
            || {
                let layout = self.layout()?;
                let mut node = &layout;
                for label in path {
                    node = node.children.iter().find(|c| c.label.contains(label))?;
                }
                (node.enabled && self.click(node.id)).then_some(())
            },
        );
    }
}

fn unwrap_variant<'a>(v: &'a Value<'a>) -> &'a Value<'a> {
    match v {
        Value::Value(inner) => unwrap_variant(inner),
        other => other,
    }
}

fn node(id: i32, props: &[(String, Value)], children: &[Value]) -> MenuNode {
    let prop = |name: &str| {
        props
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| unwrap_variant(v))
    };
    let string = |name: &str| match prop(name) {
        Some(Value::Str(s)) => Some(s.as_str().to_owned()),
        _ => None,
    };
    let boolean = |name: &str, default: bool| match prop(name) {
        Some(Value::Bool(b)) => *b,
        _ => default,
    };
    let toggle = (string("toggle-type").as_deref() == Some("checkmark"))
        .then(|| matches!(prop("toggle-state"), Some(Value::I32(1))));
    MenuNode {
        id,
        label: strip_access_keys(&string("label").unwrap_or_default()),
        enabled: boolean("enabled", true),
        visible: boolean("visible", true),
        separator: string("type").as_deref() == Some("separator"),
        toggle,
        children: children
            .iter()
            .filter_map(|child| match unwrap_variant(child) {
                Value::Structure(s) => {
                    let fields = s.fields();
                    let id = match fields.first()? {
                        Value::I32(id) => *id,
                        _ => return None,
                    };
                    let props = match fields.get(1)? {
                        Value::Dict(d) => d
                            .iter()
                            .filter_map(|(k, v)| match k {
                                Value::Str(k) => Some((k.as_str().to_owned(), v.clone())),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                        _ => Vec::new(),
                    };
                    let kids = match fields.get(2)? {
                        Value::Array(a) => a.inner().to_vec(),
                        _ => Vec::new(),
                    };
                    Some(node(id, &props, &kids))
                }
                _ => None,
            })
            .collect(),
    }
}

/// "_Open" -> "Open", "every__thing" -> "every_thing".
fn strip_access_keys(label: &str) -> String {
    let mut out = String::new();
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if chars.peek() == Some(&'_') {
                chars.next();
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn get_property(
    conn: &Connection,
    dest: &str,
    path: &str,
    iface: &str,
    name: &str,
) -> Option<OwnedValue> {
    let reply = conn
        .call_method(
            Some(dest),
            path,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(iface, name),
        )
        .ok()?;
    reply.body().deserialize::<OwnedValue>().ok()
}

fn connection_pid(conn: &Connection, name: &str) -> Option<u32> {
    let reply = conn
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "GetConnectionUnixProcessID",
            &(name,),
        )
        .ok()?;
    reply.body().deserialize().ok()
}

// ------------------------------------------------------------------------------ watcher

/// A stand-in for the panel's StatusNotifierWatcher: items register with it, as they do on a
/// desktop (without one, libayatana-appindicator exports its item but registers nowhere).
#[derive(Clone, Default)]
pub struct Watcher {
    /// (the registering connection, the item's object path)
    items: Arc<Mutex<Vec<(String, OwnedObjectPath)>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        // The argument is the item's object path (appindicator) or its bus name (the spec's
        // other form, whose object is at /StatusNotifierItem).
        let (name, path) = if service.starts_with('/') {
            (sender, service)
        } else {
            (service, "/StatusNotifierItem".to_owned())
        };
        if let Ok(path) = OwnedObjectPath::try_from(path) {
            self.items.lock().unwrap().push((name, path));
        }
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.registrations()
            .into_iter()
            .map(|(name, path)| format!("{name}{}", path.as_str()))
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

impl Watcher {
    /// Serves on the session bus until the returned connection drops.
    pub fn serve(&self) -> Connection {
        zbus::blocking::connection::Builder::session()
            .and_then(|b| b.name("org.kde.StatusNotifierWatcher"))
            .and_then(|b| b.serve_at("/StatusNotifierWatcher", self.clone()))
            .and_then(|b| b.build())
            .expect("serve org.kde.StatusNotifierWatcher")
    }

    pub fn registrations(&self) -> Vec<(String, OwnedObjectPath)> {
        self.items.lock().unwrap().clone()
    }
}

// ------------------------------------------------------------------------------ notifications

/// A stand-in for the desktop's notification server: records what it is asked to show.
#[derive(Clone, Default)]
pub struct Notifications {
    pub shown: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap();
        shown.push((summary, body));
        shown.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "e2e".into(),
            "switchboard".into(),
            "1.0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

impl Notifications {
    /// Serves on the session bus until the returned connection drops.
    pub fn serve(&self) -> Connection {
        zbus::blocking::connection::Builder::session()
            .and_then(|b| b.name("org.freedesktop.Notifications"))
            .and_then(|b| b.serve_at("/org/freedesktop/Notifications", self.clone()))
            .and_then(|b| b.build())
            .expect("serve org.freedesktop.Notifications")
    }

    pub fn titles(&self) -> Vec<String> {
        self.shown
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }
}

// ------------------------------------------------------------------------------ pixels

/// An RGBA image.
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

pub fn decode_png(bytes: &[u8]) -> Rgba {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    pixels.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    // Screenshots may come as RGB, or as grey when the screen is one colour.
    let pixels = match channels {
        4 => pixels,
        3 => pixels
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        2 => pixels
            .chunks(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        _ => pixels.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
    };
    Rgba {
        width: info.width,
        height: info.height,
        pixels,
    }
}

impl Rgba {
    /// Distinct colours, counted up to `limit`.
    pub fn colours(&self, limit: usize) -> usize {
        let mut seen = std::collections::HashSet::new();
        for p in self.pixels.chunks(4) {
            seen.insert([p[0], p[1], p[2]]);
            if seen.len() >= limit {
                break;
            }
        }
        seen.len()
    }
}

/// A screenshot of the whole X display (ImageMagick's `import`).
pub fn screenshot(path: &Path) -> Option<Rgba> {
    let status = Command::new("import")
        .args(["-window", "root"])
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    Some(decode_png(&std::fs::read(path).ok()?))
}

// ------------------------------------------------------------------------------ X11 windows

pub mod x11 {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{
        AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, MapState, Window,
    };
    use x11rb::rust_connection::RustConnection;

    /// The mapped top-level windows titled `title` (WM_NAME or _NET_WM_NAME).
    pub fn windows_titled(title: &str) -> Vec<Window> {
        let Ok((conn, screen)) = x11rb::connect(None) else {
            return Vec::new();
        };
        let root = conn.setup().roots[screen].root;
        let mut found = Vec::new();
        let Some(tree) = conn.query_tree(root).ok().and_then(|c| c.reply().ok()) else {
            return found;
        };
        for window in tree.children {
            let mapped = conn
                .get_window_attributes(window)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|a| a.map_state == MapState::VIEWABLE);
            if mapped && name(&conn, window).as_deref() == Some(title) {
                found.push(window);
            }
        }
        found
    }

    fn name(conn: &RustConnection, window: Window) -> Option<String> {
        let utf8 = atom(conn, "UTF8_STRING")?;
        let net_wm_name = atom(conn, "_NET_WM_NAME")?;
        for (property, kind) in [
            (net_wm_name, utf8),
            (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
        ] {
            let reply = conn
                .get_property(false, window, property, kind, 0, 1024)
                .ok()?
                .reply()
                .ok()?;
            if !reply.value.is_empty() {
                return String::from_utf8(reply.value).ok();
            }
        }
        None
    }

    fn atom(conn: &RustConnection, name: &str) -> Option<u32> {
        Some(
            conn.intern_atom(false, name.as_bytes())
                .ok()?
                .reply()
                .ok()?
                .atom,
        )
    }

    /// Asks `window` to close, as a window manager's close button does (WM_DELETE_WINDOW).
    pub fn close(window: Window) {
        let (conn, _) = x11rb::connect(None).expect("X display");
        let protocols = atom(&conn, "WM_PROTOCOLS").expect("WM_PROTOCOLS");
        let delete = atom(&conn, "WM_DELETE_WINDOW").expect("WM_DELETE_WINDOW");
        let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
        conn.send_event(false, window, EventMask::NO_EVENT, event)
            .expect("send WM_DELETE_WINDOW");
        conn.flush().expect("flush");
    }
}
