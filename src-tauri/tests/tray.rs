//! The tray app end to end, as a desktop session would drive it: the real `switchboard-app`
//! under Xvfb and a private D-Bus session (the test re-runs itself inside
//! `xvfb-run -a timeout … dbus-run-session`), with real MCP servers (server-everything from
//! npm, installed by `tests/setup.sh`).
//!
//! It reads the tray as a panel does (StatusNotifierItem + dbusmenu over D-Bus), clicks its
//! items with dbusmenu's `Event`, and checks the effect where a user would see it: the API,
//! servers.json, the icon's pixels, the notifications (a stand-in notification server records
//! them), the clipboard, the autostart entry, the window on the X display (screenshots in
//! `test-artifacts/tray/`), and, after Quit, that no process is left.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::{
    decode_png, everything, inside_session, repo_root, rerun_in_session, screenshot, wait_for,
    which, x11, AppProcess, Notifications, Tray, Watcher,
};
use zbus::blocking::Connection;

/// The app under test: the one this build made, or an installed one named by
/// `SWITCHBOARD_APP_BIN` (`scripts/package-check` runs this test against the .deb's
/// `/usr/bin/switchboard-app`, so Start at Login, Open servers.json and the single instance are
/// proven from the installed paths too).
fn app_bin() -> PathBuf {
    std::env::var_os("SWITCHBOARD_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_switchboard-app").into())
}
const TITLE: &str = "Switchboard";

fn state_of(app: &AppProcess, name: &str) -> Option<String> {
    Some(app.server(name)?["state"].as_str()?.to_owned())
}

fn icon_is(tray: &Tray, expected: &str) -> bool {
    let Some(file) = tray.icon_file() else {
        return false;
    };
    let Ok(shown) = std::fs::read(file) else {
        return false;
    };
    let expected = std::fs::read(repo_root().join("icons").join(expected)).unwrap();
    decode_png(&shown).pixels == decode_png(&expected).pixels
}

fn config_entry(app: &AppProcess, name: &str) -> Value {
    let text = std::fs::read_to_string(app.config_file()).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["mcpServers"][name].clone()
}

#[test]
fn tray_app_end_to_end() {
    if !inside_session() {
        return rerun_in_session("tray_app_end_to_end", Duration::from_secs(420));
    }
    let bin = &app_bin();
    let conn = Connection::session().expect("the session bus (dbus-run-session)");
    let notifications = Notifications::default();
    let _notification_server = notifications.serve();
    let watcher = Watcher::default();
    let _watcher_server = watcher.serve();

    // The port is taken (say, by `switchboard serve`): it says so and exits, with a notification.
    {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let mut blocked = AppProcess::start_on(bin, &json!({ "mcpServers": {} }), &[], port);
        let status = wait_for(Duration::from_secs(30), "the app to give up", || {
            blocked.child.try_wait().ok()?
        });
        assert!(!status.success());
        let stderr = blocked.stderr();
        assert!(stderr.contains("cannot listen on"), "{stderr}");
        assert!(notifications
            .titles()
            .contains(&"Switchboard could not start".to_owned()));
    }

    let mut off = everything();
    off["disabled"] = json!(true);
    let config = json!({
        "mcpServers": {
            "everything": everything(),
            // Fails at once, every time; its backoff reaches its 400 ms cap on the third try.
            "flaky": {
                "command": "sh",
                "args": ["-c", "echo 'flaky: cannot open its database' >&2; exit 3"],
                "restart": { "initialDelayMs": 100, "maxDelayMs": 400 }
            },
            "off": off,
        }
    });
    let mut app = AppProcess::start(bin, &config, &[]);

    // The gateway answers, every server is where servers.json puts it.
    let ready = app.wait_ready(Duration::from_secs(90));
    eprintln!("gateway ready {ready:?} after spawn");
    let first_pid = wait_for(Duration::from_secs(90), "everything running", || {
        let s = app.server("everything")?;
        (s["state"] == "running").then(|| s["pid"].as_u64())?
    });
    wait_for(Duration::from_secs(30), "flaky at its backoff cap", || {
        let s = app.server("flaky")?;
        (s["state"] == "failed" && s["retryDelayMs"] == 400).then_some(())
    });
    assert_eq!(state_of(&app, "off").as_deref(), Some("disabled"));

    // The tray registered on the session bus, and its menu holds what the core reports.
    let tray = Tray::find(&conn, &watcher, app.pid(), Duration::from_secs(30));
    let layout = wait_for(
        Duration::from_secs(20),
        "the menu to show every state",
        || {
            // The menu follows the core's events a moment later: wait for the state the API
            // already reports (flaky at its backoff cap), not an earlier retry.
            let layout = tray.layout()?;
            (layout.find("● everything").is_some()
                && layout.find("✕ flaky — keeps failing").is_some())
            .then_some(layout)
        },
    );
    eprintln!("the tray menu, as the panel reads it:\n{}", layout.render());
    assert_eq!(
        layout.labels(),
        [
            "3 servers: 1 running, 1 failed, 1 disabled",
            "---",
            "● everything — running",
            "✕ flaky — keeps failing",
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
    let tools = app.server("everything").unwrap()["tools"]["total"]
        .as_u64()
        .unwrap();
    assert!(tools > 0);
    assert_eq!(
        layout.find("● everything").unwrap().labels(),
        [
            format!("Running (pid {first_pid})"),
            format!("{tools} tools"),
            "---".into(),
            "Restart".into(),
            "Disable".into(),
            "Start on demand".into(),
            "---".into(),
            "Copy HTTP URL".into(),
            "Copy SSE URL".into(),
        ]
    );
    let flaky = layout.find("✕ flaky").unwrap().labels();
    // Between two attempts, or during one.
    assert!(
        ["Failed, retried every 400 ms", "Retrying (every 400 ms)…"].contains(&flaky[0].as_str()),
        "{flaky:?}"
    );
    assert!(
        // (The core words it from whichever it sees first: the exit or the closed pipe.)
        flaky[2].starts_with("Error: ") && flaky[2].len() > 30,
        "{flaky:?}"
    );
    let off_menu = layout.find("○ off").unwrap();
    assert_eq!(off_menu.labels()[4], "Enable");
    assert_eq!(
        off_menu.find("Start on demand").unwrap().toggle,
        Some(false)
    );
    assert!(!off_menu.find("Restart").unwrap().enabled);
    assert_eq!(layout.find("Start at Login").unwrap().toggle, Some(false));
    assert!(!layout.children[0].enabled, "the summary is a heading");

    // A failing server turns the icon red, and is told once as a notification.
    wait_for(Duration::from_secs(10), "the failed icon", || {
        icon_is(&tray, "tray-failed.png").then_some(())
    });
    wait_for(Duration::from_secs(20), "the notification", || {
        notifications
            .titles()
            .contains(&"flaky keeps failing".to_owned())
            .then_some(())
    });

    // Restart, from the server's submenu: a new process.
    tray.click_path(&["everything —", "Restart"]);
    let second_pid = wait_for(Duration::from_secs(60), "a new pid for everything", || {
        let s = app.server("everything")?;
        let pid = s["pid"].as_u64()?;
        (s["state"] == "running" && pid != first_pid).then_some(pid)
    });
    eprintln!("restart through the menu: pid {first_pid} -> {second_pid}");

    // Copy HTTP URL puts the endpoint on the clipboard.
    if which("xclip") {
        tray.click_path(&["everything —", "Copy HTTP URL"]);
        let expected = format!("http://127.0.0.1:{}/servers/everything/mcp", app.port);
        wait_for(Duration::from_secs(10), "the URL on the clipboard", || {
            let out = Command::new("xclip")
                .args(["-o", "-selection", "clipboard"])
                .output()
                .ok()?;
            (String::from_utf8_lossy(&out.stdout) == expected).then_some(())
        });
    } else {
        eprintln!("xclip is not installed: clipboard not checked");
    }

    // Disable writes servers.json; the core applies it; the menu and icon follow.
    tray.click_path(&["flaky —", "Disable"]);
    wait_for(Duration::from_secs(20), "flaky disabled", || {
        (config_entry(&app, "flaky")["disabled"] == true && state_of(&app, "flaky")? == "disabled")
            .then_some(())
    });
    let layout = wait_for(Duration::from_secs(20), "the menu to follow", || {
        let layout = tray.layout()?;
        layout.find("○ flaky — disabled")?.find("Enable")?;
        Some(layout)
    });
    assert_eq!(layout.labels()[0], "3 servers: 1 running, 2 disabled");
    wait_for(Duration::from_secs(10), "the all-running icon", || {
        icon_is(&tray, "tray-ok.png").then_some(())
    });
    assert_eq!(
        config_entry(&app, "flaky")["restart"]["maxDelayMs"],
        400,
        "the rest of the entry is kept"
    );

    // Start on demand writes the entry's `start`; the menu's check mark follows. (On `off`,
    // which is disabled: nothing starts or stops.)
    for (start, checked) in [("onDemand", true), ("always", false)] {
        tray.click_path(&["off —", "Start on demand"]);
        wait_for(Duration::from_secs(20), "start written", || {
            (config_entry(&app, "off")["start"] == start).then_some(())
        });
        wait_for(Duration::from_secs(10), "the check mark to follow", || {
            let layout = tray.layout()?;
            (layout.find("○ off")?.find("Start on demand")?.toggle == Some(checked)).then_some(())
        });
    }
    assert_eq!(state_of(&app, "off").as_deref(), Some("disabled"));

    // Start at Login: an autostart entry that starts it in the tray, and back.
    let autostart = app.dir.path().join(".config/autostart/Switchboard.desktop");
    tray.click_path(&["Start at Login"]);
    wait_for(Duration::from_secs(10), "the autostart entry", || {
        let text = std::fs::read_to_string(&autostart).ok()?;
        let starts_this_app = text.contains(&*bin.to_string_lossy());
        (text.contains("--hidden") && starts_this_app).then_some(())
    });
    wait_for(Duration::from_secs(10), "the check mark", || {
        (tray.layout()?.find("Start at Login")?.toggle == Some(true)).then_some(())
    });
    tray.click_path(&["Start at Login"]);
    wait_for(
        Duration::from_secs(10),
        "the autostart entry removed",
        || (!autostart.exists()).then_some(()),
    );

    // The window shows the dashboard.
    wait_for(Duration::from_secs(60), "the dashboard window", || {
        x11::windows_titled(TITLE).first().copied()
    });
    let shot = support::artifacts().join("dashboard.png");
    wait_for(Duration::from_secs(60), "the dashboard drawn", || {
        // The server list drawn: text in several colours, anti-aliased (over a thousand
        // colours); an empty window, the bare display or "Loading servers…" have far fewer.
        (screenshot(&shot)?.colours(1000) >= 1000).then_some(())
    });
    eprintln!("screenshot: {}", shot.display());

    // Closing the window leaves the app in the tray. (Asked again each second: the request
    // goes to the window as it is now.)
    wait_for(Duration::from_secs(20), "the window to close", || {
        for window in x11::windows_titled(TITLE) {
            x11::close(window);
        }
        std::thread::sleep(Duration::from_secs(1));
        x11::windows_titled(TITLE).is_empty().then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        app.child.try_wait().unwrap().is_none(),
        "the app quit with its window"
    );
    assert!(matches!(app.get("/api/health"), Some((200, _))));
    assert!(tray.layout().is_some(), "the tray is still there");
    screenshot(&support::artifacts().join("window-closed.png"));

    // Open Dashboard opens it again.
    tray.click_path(&["Open Dashboard"]);
    wait_for(Duration::from_secs(60), "the window to come back", || {
        x11::windows_titled(TITLE).first().copied()
    });
    let shot = support::artifacts().join("dashboard-again.png");
    wait_for(Duration::from_secs(60), "the dashboard drawn again", || {
        (screenshot(&shot)?.colours(1000) >= 1000).then_some(())
    });

    // A second launch hands over to this one (which shows its window) and exits.
    let mut second = app
        .command(bin)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("second launch");
    let status = wait_for(Duration::from_secs(30), "the second launch to exit", || {
        second.try_wait().ok()?
    });
    assert!(status.success(), "second launch: {status}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(x11::windows_titled(TITLE).len(), 1, "one window, focused");
    assert_eq!(state_of(&app, "everything").as_deref(), Some("running"));

    // Open servers.json hands the file to the desktop's opener (a stand-in xdg-open here).
    tray.click_path(&["Open servers.json"]);
    let opened = app.dir.path().join("opened");
    wait_for(Duration::from_secs(10), "xdg-open servers.json", || {
        let args = std::fs::read_to_string(&opened).ok()?;
        (args.trim() == app.config_file().to_string_lossy()).then_some(())
    });

    // Restart All restarts every enabled server.
    let before = app.server("everything").unwrap()["pid"].as_u64();
    tray.click_path(&["Restart All"]);
    wait_for(Duration::from_secs(60), "everything restarted", || {
        let s = app.server("everything")?;
        (s["state"] == "running" && s["pid"].as_u64() != before).then_some(())
    });

    // Quit: the app exits, and takes every server (and the reaper) with it.
    let before = app.descendants();
    assert!(
        before.len() >= 2,
        "expected the server and the reaper, found {before:?}"
    );
    tray.click_path(&["Quit Switchboard"]);
    let status = wait_for(Duration::from_secs(30), "the app to exit", || {
        app.child.try_wait().ok()?
    });
    assert!(status.success(), "quit: {status}\n{}", app.stderr());
    wait_for(Duration::from_secs(5), "no process left", || {
        app.descendants().is_empty().then_some(())
    });
    let stderr = app.stderr();
    assert!(stderr.contains("stopped"), "{stderr}");
}

#[test]
fn without_a_display_it_points_to_switchboard_serve() {
    let out = Command::new(app_bin())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run switchboard-app");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no display"), "{stderr}");
    assert!(stderr.contains("switchboard serve"), "{stderr}");
}
