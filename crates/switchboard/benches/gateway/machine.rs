//! The report's header: the machine (CPU, RAM, kernel, load average) and the version of
//! everything measured (switchboard, rmcp, rustc, node, server-everything, supergateway,
//! mcp-proxy).
//!
//! Separate because it probes the environment (`/proc`, `Cargo.lock`, `package.json`,
//! external commands), not the run.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::settings::{installed, repo_root, Settings};

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn command_output(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text).trim().to_owned()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn package_version(dir: &str) -> String {
    installed(&format!("tests/node/node_modules/{dir}/package.json"))
        .ok()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn locked_version(krate: &str) -> String {
    let lock = std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap_or_default();
    let needle = format!("name = \"{krate}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| lock[i + needle.len()..].split('"').next())
        .unwrap_or("unknown")
        .to_owned()
}

pub(crate) fn machine_and_versions(s: &Settings) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_total = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let root = repo_root();
    let git = command_output(
        Path::new("git"),
        &[
            "-C",
            &root.to_string_lossy(),
            "describe",
            "--always",
            "--dirty",
        ],
    );
    let venv_python = root.join("tests/.venv-mcp1/bin/python");
    let mcp_proxy = command_output(
        &venv_python,
        &[
            "-c",
            "import importlib.metadata as m, sys; print('mcp-proxy', m.version('mcp-proxy'), \
             '(mcp', m.version('mcp') + ', uvicorn', m.version('uvicorn') + ', Python', \
             sys.version.split()[0] + ')')",
        ],
    );
    let mut out = String::new();
    let _ = writeln!(out, "# Switchboard gateway benchmark\n");
    let _ = writeln!(
        out,
        "- machine: {} cores ({model}), {mem_total} RAM, Linux {kernel}; load average at start: {loadavg}",
        cores()
    );
    let _ = writeln!(
        out,
        "- switchboard {} (git {git}), {}; rmcp {}; {}",
        env!("CARGO_PKG_VERSION"),
        match std::env::var_os("BENCH_SWITCHBOARD_BIN") {
            Some(bin) => format!("binary {}", Path::new(&bin).display()),
            None => "bench-profile build".to_owned(),
        },
        locked_version("rmcp"),
        command_output(Path::new("rustc"), &["--version"])
    );
    let _ = writeln!(
        out,
        "- MCP server: @modelcontextprotocol/server-everything {} (`stdio`), node {}",
        package_version("@modelcontextprotocol/server-everything"),
        command_output(Path::new("node"), &["--version"])
    );
    let _ = writeln!(
        out,
        "- peers: supergateway {} (`--logLevel none`); {mcp_proxy} (`--log-level WARNING`)",
        package_version("supergateway")
    );
    let _ = writeln!(
        out,
        "- clients: rmcp {} client (Streamable HTTP, stdio); the bench's own SSE client (reqwest)",
        locked_version("rmcp")
    );
    let _ = writeln!(
        out,
        "- Switchboard runs {} entries of server-everything (the RSS case); calls go to the first.\n",
        s.servers
    );
    out
}
