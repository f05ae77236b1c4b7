//! Shared harness of the end-to-end tests: a real `switchboard serve` process on a free port
//! with a temporary servers.json, real MCP servers installed by `tests/setup.sh`, and the
//! cross-language SDK clients of `tests/clients/`.
//!
//! Every wait is bounded; every process started here is killed when its guard drops.
#![allow(dead_code)]

pub mod client;
pub mod events;
pub mod files;
pub mod legacy;
pub mod sse;
pub mod stateless;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The repository root (tests run with the crate as working directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn installed(relative: &str) -> PathBuf {
    let path = repo_root().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run `bash tests/setup.sh` first (the README's test command does)",
        path.display()
    );
    path
}

/// `@modelcontextprotocol/server-everything` from npm.
pub fn everything() -> Value {
    json!({ "command": installed("tests/node/node_modules/.bin/mcp-server-everything").to_string_lossy(), "args": ["stdio"] })
}

/// `@modelcontextprotocol/server-filesystem` from npm, allowed into `dir`.
pub fn filesystem(dir: &Path) -> Value {
    json!({ "command": installed("tests/node/node_modules/.bin/mcp-server-filesystem").to_string_lossy(), "args": [dir.to_string_lossy()] })
}

/// `@modelcontextprotocol/server-memory` from npm, keeping its graph in `file`.
pub fn memory(file: &Path) -> Value {
    json!({ "command": installed("tests/node/node_modules/.bin/mcp-server-memory").to_string_lossy(), "env": { "MEMORY_FILE_PATH": file.to_string_lossy() } })
}

/// `@modelcontextprotocol/server-sequential-thinking` from npm.
pub fn sequential_thinking() -> Value {
    json!({ "command": installed("tests/node/node_modules/.bin/mcp-server-sequential-thinking").to_string_lossy() })
}

/// `mcp-server-git` from PyPI, on the repository `repo`.
pub fn git_server(repo: &Path) -> Value {
    json!({ "command": installed("tests/.venv-mcp2/bin/mcp-server-git").to_string_lossy(), "args": ["--repository", repo.to_string_lossy()] })
}

/// `mcp-server-time` from PyPI.
pub fn time_server() -> Value {
    json!({ "command": installed("tests/.venv-mcp2/bin/mcp-server-time").to_string_lossy(), "args": ["--local-timezone", "UTC"] })
}

/// `tests/servers/mrtr_server.py`: a Python SDK 2.x server (2026-07-28 over stdio) whose tools
/// ask the client for input in rounds (`input_required`).
pub fn mrtr_server() -> Value {
    json!({
        "command": installed("tests/.venv-mcp2/bin/python").to_string_lossy(),
        "args": [installed("tests/servers/mrtr_server.py").to_string_lossy()],
    })
}

/// `tests/servers/cancel_probe.py`: a Python SDK 1.x server whose `wait` tool logs when it
/// starts and when it is cancelled.
pub fn cancel_probe() -> Value {
    json!({
        "command": installed("tests/.venv-mcp1/bin/python").to_string_lossy(),
        "args": [installed("tests/servers/cancel_probe.py").to_string_lossy()],
    })
}

/// `@modelcontextprotocol/server-everything`'s entry point, for its HTTP modes.
pub fn everything_script() -> PathBuf {
    installed("tests/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

/// A real MCP server listening over HTTP on a port of its own (`PORT=N node SCRIPT ARGS`),
/// killed when dropped. `start_again` after `kill` brings it back on the same port.
pub struct HttpServer {
    child: Option<Child>,
    pub port: u16,
    script: PathBuf,
    args: Vec<String>,
}

impl HttpServer {
    /// Starts `node script args` on a free port and waits (at most 30 s) until it accepts
    /// connections.
    pub fn start(script: PathBuf, args: &[&str]) -> Self {
        let port = switchboard_test_procs::free_port().expect("a free port");
        let mut server = Self {
            child: None,
            port,
            script,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        server.start_again();
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Starts the server (again) on its port.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("node")
            .arg(&self.script)
            .args(&self.args)
            .env("PORT", self.port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn node");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not listen on port {} within 30s",
                self.script.display(),
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (SIGKILL) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `switchboard serve`.
pub struct Switchboard {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    http: reqwest::Client,
}

impl Switchboard {
    /// Starts the binary with `servers` as the `mcpServers` object.
    pub fn start(servers: Value) -> Self {
        Self::start_with_file(json!({ "mcpServers": servers }))
    }

    /// Starts the binary with `file` as the whole servers.json.
    pub fn start_with_file(file: Value) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("servers.json");
        std::fs::write(&config, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
        Self::launch(dir, config, 0, &[])
    }

    /// Like [`Self::start_with_file`], with extra environment (such as a fake `HOME`).
    pub fn start_with_env(file: Value, env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("servers.json");
        std::fs::write(&config, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
        Self::launch(dir, config, 0, env)
    }

    /// Stops this instance and starts a new one on the same port with the same files (a
    /// gateway restart, as clients see it).
    pub fn restart(mut self) -> Self {
        let port: u16 = self.url.rsplit(':').next().unwrap().parse().unwrap();
        if self.terminate().is_none() {
            let _ = self.child.kill();
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let config = self.config.clone();
        drop(self);
        Self::launch(dir, config, port, &[])
    }

    fn launch(
        dir: tempfile::TempDir,
        config: PathBuf,
        port: u16,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--port", &port.to_string(), "--config"])
            .arg(&config)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", dir.path().join("run"))
            .env("RUST_LOG", "info,switchboard=debug")
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.path().join("switchboard.stderr"))
                    .unwrap(),
            ))
            .spawn()
            .expect("spawn switchboard");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("switchboard listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(dir.path().join("switchboard.stderr"))
                    .unwrap_or_default();
                panic!("switchboard did not start within 30s; stderr:\n{log}");
            }
        };
        Self {
            child,
            url,
            dir,
            config,
            http: reqwest::Client::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `switchboard ARGS` in this instance's environment (its data and runtime dirs), as a
    /// user's next command would run beside it.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .args(args)
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env_remove("SWITCHBOARD_CONFIG");
        command
    }

    /// Where this instance leaves its instance record (`$XDG_RUNTIME_DIR/switchboard`).
    pub fn instance_dir(&self) -> PathBuf {
        self.dir.path().join("run/switchboard")
    }

    pub fn mcp_url(&self, server: &str) -> String {
        format!("{}/servers/{server}/mcp", self.url)
    }

    pub fn sse_url(&self, server: &str) -> String {
        format!("{}/servers/{server}/sse", self.url)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends `method path` with a raw body; returns the status and the JSON answer.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn server(&self, name: &str) -> Value {
        let (status, body) = self.get(&format!("/api/servers/{name}")).await;
        assert_eq!(status, 200, "GET /api/servers/{name}: {body}");
        body
    }

    /// Polls `/api/servers/{name}` until `pred` holds, for at most `limit`.
    pub async fn wait_for(
        &self,
        name: &str,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            // Not configured yet (404) counts as not there yet.
            let (_, server) = self.get(&format!("/api/servers/{name}")).await;
            if pred(&server) {
                return server;
            }
            if Instant::now() > deadline {
                panic!(
                    "server '{name}' did not reach the expected state within {limit:?}: {server:#}\nswitchboard stderr:\n{}",
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls the log of server `name` until it contains `needle`, for at most 30 s.
    pub async fn wait_for_log(&self, name: &str, needle: &str) {
        self.wait_for_log_times(name, needle, 1).await;
    }

    /// Polls the log of server `name` until it contains `needle` `times` times, for at most 30 s.
    pub async fn wait_for_log_times(&self, name: &str, needle: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, logs) = self.get(&format!("/api/servers/{name}/logs")).await;
            if logs.to_string().matches(needle).count() >= times {
                return;
            }
            assert!(Instant::now() < deadline, "{needle:?} not logged: {logs}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn pid_of(&self, name: &str) -> u32 {
        self.wait_running(name).await["pid"].as_u64().unwrap() as u32
    }

    pub async fn wait_running(&self, name: &str) -> Value {
        self.wait_for(name, Duration::from_secs(60), |s| s["state"] == "running")
            .await
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("switchboard.stderr")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        signal(self.child.id(), nix::sys::signal::Signal::SIGTERM);
        switchboard_test_procs::wait_exit(&mut self.child, Duration::from_secs(20))
    }
}

impl Drop for Switchboard {
    fn drop(&mut self) {
        if self.terminate().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}

/// Runs a client script (last stdout line is its JSON report), bounded by `limit`.
pub fn run_client(program: &Path, args: &[String], limit: Duration) -> Value {
    run_client_with_stderr(program, args, limit).0
}

/// Like [`run_client`], also answering what the client wrote to stderr (its SDK's warnings).
pub fn run_client_with_stderr(program: &Path, args: &[String], limit: Duration) -> (Value, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait client").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "client {} {args:?} did not finish within {limit:?}; stderr:\n{}",
                program.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    match serde_json::from_str::<Value>(last) {
        Ok(v) if output.status.success() => {
            (v, String::from_utf8_lossy(&output.stderr).into_owned())
        }
        _ => panic!(
            "client {} {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}
