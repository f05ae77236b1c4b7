//! The tray app's footprint: cold start to gateway ready, and idle memory and CPU with five
//! real servers, in the tray only and with the dashboard window open.
//!
//! `cargo bench -p switchboard-app --bench tray` (release build; needs `bash tests/setup.sh`
//! and the packages of scripts/test). It runs itself inside Xvfb and a private D-Bus session,
//! like the end-to-end test, and prints a Markdown table for BENCHMARKS.md. Nothing here
//! asserts a time.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;
use support::{everything, inside_session, wait_for, x11, AppProcess};
use switchboard_test_procs::TICKS_PER_SEC;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard-app");
const SERVERS: usize = 5;
const COLD_STARTS: usize = 5;
const SETTLE: Duration = Duration::from_secs(10);
const SAMPLE: Duration = Duration::from_secs(30);

fn main() {
    if !inside_session() {
        support::rerun_with_args(&[], Duration::from_secs(900));
        return;
    }
    let bin = Path::new(BIN);
    let servers: serde_json::Map<_, _> = (1..=SERVERS)
        .map(|i| (format!("everything{i}"), everything()))
        .collect();
    let config = json!({ "mcpServers": servers });

    println!("## Tray app (`switchboard-app`, release build)\n");
    println!(
        "Machine: {} ({} cores), {}. Servers: {SERVERS} × `server-everything` (npm, `stdio`).\n",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        os_name()
    );

    // Cold start: spawn to /api/health answering, and to every server running.
    let mut ready = Vec::new();
    let mut all_running = Vec::new();
    for _ in 0..COLD_STARTS {
        let spawned = Instant::now();
        let mut app = AppProcess::start(bin, &config, &["--hidden"]);
        app.wait_ready(Duration::from_secs(60));
        ready.push(spawned.elapsed());
        wait_all_running(&app);
        all_running.push(spawned.elapsed());
        stop(&mut app);
    }
    println!("| cold start ({COLD_STARTS} runs) | median | min | max |");
    println!("| --- | --- | --- | --- |");
    for (what, times) in [
        ("spawn → gateway ready (`/api/health`)", &mut ready),
        ("spawn → all 5 servers `running`", &mut all_running),
    ] {
        times.sort();
        println!(
            "| {what} | {} | {} | {} |",
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
    }
    println!();

    // Idle, in the tray only (as started at login).
    let mut app = AppProcess::start(bin, &config, &["--hidden"]);
    app.wait_ready(Duration::from_secs(60));
    wait_all_running(&app);
    std::thread::sleep(SETTLE);
    let tray_only = sample(&app);

    // Idle with the dashboard window open (a second launch opens it).
    let status = app.command(bin).status().expect("second launch");
    assert!(status.success());
    wait_for(Duration::from_secs(60), "the window", || {
        x11::windows_titled("Switchboard").first().copied()
    });
    std::thread::sleep(SETTLE);
    let window_open = sample(&app);

    // Idle after closing the window again.
    let window = x11::windows_titled("Switchboard")[0];
    x11::close(window);
    wait_for(Duration::from_secs(20), "the window to close", || {
        x11::windows_titled("Switchboard").is_empty().then_some(())
    });
    std::thread::sleep(SETTLE);
    let window_closed = sample(&app);
    stop(&mut app);

    // The same servers under the headless gateway, for the cost of the tray itself.
    let headless = Path::new(BIN).with_file_name("switchboard");
    let serve = headless.exists().then(|| {
        let mut app = AppProcess::start_command(
            &headless,
            &config,
            &["serve", "--port", &support::free_port().to_string()],
        );
        app.wait_ready(Duration::from_secs(60));
        wait_all_running(&app);
        std::thread::sleep(SETTLE);
        let s = sample(&app);
        stop(&mut app);
        s
    });

    println!(
        "| idle, {SERVERS} servers running ({}s sample after {}s) | app RSS | app CPU | WebKit processes RSS | WebKit CPU | servers RSS (sum) |",
        SAMPLE.as_secs(),
        SETTLE.as_secs()
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (what, s) in [
        ("in the tray, window never opened (`--hidden`)", &tray_only),
        ("dashboard window open", &window_open),
        ("window closed again", &window_closed),
    ]
    .into_iter()
    .chain(serve.as_ref().map(|s| {
        (
            "for comparison: `switchboard serve` (release), same servers",
            s,
        )
    })) {
        println!(
            "| {what} | {} | {:.2}% | {} | {:.2}% | {} |",
            mib(s.app_rss),
            s.app_cpu,
            mib(s.webkit_rss),
            s.webkit_cpu,
            mib(s.servers_rss)
        );
    }
}

fn wait_all_running(app: &AppProcess) {
    wait_for(Duration::from_secs(120), "every server running", || {
        let list = app.get_json("/api/servers")?;
        let servers = list["servers"].as_array()?;
        (servers.len() == SERVERS && servers.iter().all(|s| s["state"] == "running")).then_some(())
    });
}

/// SIGTERM (an orderly quit, like the menu's) and wait for the exit.
fn stop(app: &mut AppProcess) {
    let _ = kill(Pid::from_raw(app.pid() as i32), Signal::SIGTERM);
    wait_for(Duration::from_secs(30), "the app to exit", || {
        app.child.try_wait().ok()?
    });
}

struct Sample {
    app_rss: u64,
    app_cpu: f64,
    webkit_rss: u64,
    webkit_cpu: f64,
    servers_rss: u64,
}

/// Memory at the end, CPU over [`SAMPLE`], for the app, its WebKit helpers, and the servers.
fn sample(app: &AppProcess) -> Sample {
    let app_pid = app.pid();
    let classify = |pid: u32| -> Kind {
        if pid == app_pid {
            return Kind::App;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.starts_with("WebKit") {
            Kind::WebKit
        } else if is_reaper(pid) {
            Kind::Other
        } else {
            Kind::Server
        }
    };
    let pids = || {
        let mut pids = app.descendants();
        pids.push(app_pid);
        pids
    };
    let before: Vec<(u32, u64)> = pids().into_iter().map(|p| (p, cpu_ticks(p))).collect();
    let started = Instant::now();
    std::thread::sleep(SAMPLE);
    let wall = started.elapsed().as_secs_f64();
    let mut s = Sample {
        app_rss: 0,
        app_cpu: 0.0,
        webkit_rss: 0,
        webkit_cpu: 0.0,
        servers_rss: 0,
    };
    for pid in pids() {
        let rss = rss_bytes(pid);
        let used = before
            .iter()
            .find(|(p, _)| *p == pid)
            .map(|(_, t)| cpu_ticks(pid).saturating_sub(*t))
            .unwrap_or(0);
        let cpu = used as f64 / TICKS_PER_SEC as f64 / wall * 100.0;
        match classify(pid) {
            Kind::App => {
                s.app_rss = rss;
                s.app_cpu = cpu;
            }
            Kind::WebKit => {
                s.webkit_rss += rss;
                s.webkit_cpu += cpu;
            }
            Kind::Server => s.servers_rss += rss,
            Kind::Other => {}
        }
    }
    s
}

enum Kind {
    App,
    WebKit,
    Server,
    Other,
}

fn is_reaper(pid: u32) -> bool {
    switchboard_test_procs::cmdline(pid).is_ok_and(|c| c.contains("__switchboard-reaper"))
}

/// VmRSS in bytes; 0 for a process gone meanwhile.
fn rss_bytes(pid: u32) -> u64 {
    switchboard_test_procs::memory(pid).map_or(0, |m| m.rss_kib * 1024)
}

/// utime + stime of a process, in [`TICKS_PER_SEC`] ticks; 0 for a process gone meanwhile.
fn cpu_ticks(pid: u32) -> u64 {
    switchboard_test_procs::stat(pid).map_or(0, |s| s.cpu_ticks)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("PRETTY_NAME=")).map(|l| {
                l.trim_start_matches("PRETTY_NAME=")
                    .trim_matches('"')
                    .to_owned()
            })
        })
        .unwrap_or_else(|| "unknown OS".into())
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
