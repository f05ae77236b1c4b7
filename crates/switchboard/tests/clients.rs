//! End-to-end: the client config helper on a temporary HOME holding realistic files for every
//! client (extra keys, comments where allowed, Windows-style paths), through the real CLI; and
//! `switchboard connect` driven by the Python SDK's stdio client across a gateway restart.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{everything, repo_root, Switchboard};

/// A fake user: HOME, XDG dirs, servers.json, and one config file per client.
struct Home {
    dir: tempfile::TempDir,
}

const CLAUDE_DESKTOP: &str = r#"{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "filesystem": {
      "command": "C:\\Program Files\\nodejs\\npx.cmd",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "C:\\Users\\ada\\Documents"]
    },
    "time": { "command": "uvx", "args": ["mcp-server-time"] }
  }
}
"#;

const CURSOR: &str = r#"{
  // my Cursor servers
  "mcpServers": {
    "time": { "command": "uvx", "args": ["mcp-server-time"] },
    "remote": { "url": "https://example.com/mcp" }
  }
}
"#;

const VSCODE: &str = r#"{
  // Workspace-independent servers
  "inputs": [{ "type": "promptString", "id": "token", "password": true }],
  "servers": {
    "git": { "type": "stdio", "command": "uvx", "args": ["mcp-server-git"] }, // trailing
  },
}
"#;

const CLAUDE_CODE: &str = r#"{
  "numStartups": 12,
  "projects": { "/home/ada/app": { "allowedTools": [] } },
  "mcpServers": {
    "memory": { "type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "env": { "MEMORY_FILE": "/tmp/m.json" } }
  }
}
"#;

const WINDSURF: &str = r#"{
  "mcpServers": {
    "time": { "command": "uvx", "args": ["mcp-server-time", "--local-timezone", "Europe/Paris"] }
  }
}
"#;

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = Self { dir };
        home.write(".config/Claude/claude_desktop_config.json", CLAUDE_DESKTOP);
        home.write(".cursor/mcp.json", CURSOR);
        home.write(".config/Code/User/mcp.json", VSCODE);
        home.write(".claude.json", CLAUDE_CODE);
        home.write(".codeium/windsurf/mcp_config.json", WINDSURF);
        home.write(
            "servers.json",
            r#"{"mcpServers":{"time":{"command":"uvx","args":["mcp-server-time"]}},"gateway":{"port":7427}}"#,
        );
        home
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }

    fn json(&self, relative: &str) -> Value {
        // Comments and trailing commas are fine for the clients; strip them to compare.
        let text = self.read(relative);
        let value = jsonc_to_value(&text);
        value.unwrap_or_else(|| panic!("{relative} is not valid JSONC:\n{text}"))
    }

    /// Runs `switchboard ARGS` as this user; returns stdout, panicking on failure.
    fn run(&self, args: &[&str]) -> String {
        let output = self.command(args).output().unwrap();
        assert!(
            output.status.success(),
            "switchboard {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn fails(&self, args: &[&str]) -> String {
        let output = self.command(args).output().unwrap();
        assert!(!output.status.success(), "switchboard {args:?} should fail");
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .args(args)
            .args(["--config", self.path("servers.json").to_str().unwrap()])
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path(".config"))
            .env("XDG_DATA_HOME", self.path(".local/share"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env_remove("SWITCHBOARD_CONFIG");
        command
    }

    fn backups(&self, relative: &str) -> Vec<PathBuf> {
        let path = self.path(relative);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with(&format!("{name}.switchboard-")) && n.ends_with(".bak")
            })
            .collect()
    }
}

fn jsonc_to_value(text: &str) -> Option<Value> {
    jsonc_parser::cst::CstRootNode::parse(text, &Default::default())
        .ok()?
        .to_serde_value()
}

#[test]
fn clients_lists_every_client_and_how_it_reaches_each_server() {
    let home = Home::new();
    let out = home.run(&["clients"]);
    for name in [
        "Claude Desktop",
        "Cursor",
        "VS Code",
        "Claude Code",
        "Windsurf",
    ] {
        assert!(out.contains(name), "{out}");
    }
    assert!(
        out.contains("filesystem") && out.contains("direct"),
        "{out}"
    );
    assert!(
        out.contains("remote") && out.contains("https://example.com/mcp"),
        "{out}"
    );
}

#[test]
fn import_copies_stdio_servers_without_overwriting_and_dry_run_writes_nothing() {
    let home = Home::new();
    let before = home.read("servers.json");
    let preview = home.run(&["import", "claude-desktop", "--dry-run"]);
    assert!(
        preview.contains("+") && preview.contains("filesystem"),
        "{preview}"
    );
    assert_eq!(home.read("servers.json"), before, "dry run wrote");

    let out = home.run(&["import", "claude-desktop"]);
    assert!(out.contains("skip time"), "identical server skipped: {out}");
    let servers = home.json("servers.json");
    let fs = &servers["mcpServers"]["filesystem"];
    assert_eq!(fs["command"], r"C:\Program Files\nodejs\npx.cmd");
    assert_eq!(fs["args"][2], r"C:\Users\ada\Documents");
    assert_eq!(servers["gateway"]["port"], 7427, "other keys kept");

    // A clash with a different launch is imported under another name, never overwritten.
    let out = home.run(&["import", "windsurf"]);
    assert!(out.contains("import time as time-windsurf"), "{out}");
    let servers = home.json("servers.json");
    assert_eq!(
        servers["mcpServers"]["time"]["args"],
        json!(["mcp-server-time"])
    );
    assert_eq!(
        servers["mcpServers"]["time-windsurf"]["args"][2],
        "Europe/Paris"
    );

    let out = home.run(&["import", "claude-code"]);
    assert!(out.contains("import memory as memory"), "{out}");
    assert_eq!(
        home.json("servers.json")["mcpServers"]["memory"]["env"]["MEMORY_FILE"],
        "/tmp/m.json"
    );
    assert!(home.path("servers.json").exists());
}

#[test]
fn import_brings_remote_entries_and_offers_to_move_plain_text_secrets_to_the_keychain() {
    const TOKEN: &str = "ghp_plaintext_0a1b2c";
    let home = Home::new();
    home.write(
        ".cursor/mcp.json",
        &json!({ "mcpServers": {
            "github": {
                "url": "https://api.example.test/mcp",
                "headers": { "Authorization": format!("Bearer {TOKEN}"), "X-Team": "web" },
            },
            "search": {
                "command": "npx",
                "args": ["-y", "search-mcp"],
                "env": { "SEARCH_API_KEY": "sk-search-1", "REGION": "eu" },
            },
            "loop": { "url": "http://127.0.0.1:7427/mcp" },
        }})
        .to_string(),
    );
    let preview = home.run(&["import", "cursor", "--dry-run"]);
    assert!(preview.contains("import github as github"), "{preview}");
    assert!(
        preview.contains("skip loop: already goes through Switchboard"),
        "{preview}"
    );
    assert!(
        preview.contains("found a plain-text secret: headers.Authorization of github (as ${secret:GITHUB_AUTHORIZATION})")
            && preview.contains("env.SEARCH_API_KEY of search")
            && !preview.contains("REGION of"),
        "{preview}"
    );
    assert!(
        preview.contains("--move-secrets"),
        "the offer is made: {preview}"
    );

    let moved = home
        .command(&["import", "cursor", "--move-secrets"])
        .env("SWITCHBOARD_SECRETS", "file")
        .output()
        .unwrap();
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    let servers = home.json("servers.json");
    let github = &servers["mcpServers"]["github"];
    assert_eq!(
        github["url"], "https://api.example.test/mcp",
        "brought over unchanged"
    );
    assert_eq!(
        github["headers"]["Authorization"],
        "${secret:GITHUB_AUTHORIZATION}"
    );
    assert_eq!(github["headers"]["X-Team"], "web");
    assert_eq!(
        servers["mcpServers"]["search"]["env"]["SEARCH_API_KEY"],
        "${secret:SEARCH_SEARCH_API_KEY}"
    );
    assert!(!home.read("servers.json").contains(TOKEN));
    let listed = home
        .command(&["secret", "list"])
        .env("SWITCHBOARD_SECRETS", "file")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "GITHUB_AUTHORIZATION\nSEARCH_SEARCH_API_KEY\n"
    );
    let stored: Value = serde_json::from_str(&home.read("secrets.json")).unwrap();
    assert_eq!(
        stored["secret:GITHUB_AUTHORIZATION"],
        format!("Bearer {TOKEN}")
    );
}

/// servers.json with a syntax error, as an editor may leave it while the user types.
const BROKEN_SERVERS_JSON: &str = "{ \"mcpServers\": { \"a\": , } }\n";

#[test]
fn import_refuses_a_servers_json_that_does_not_parse_naming_it() {
    let home = Home::new();
    home.write("servers.json", BROKEN_SERVERS_JSON);
    let file = home.path("servers.json").display().to_string();
    for args in [
        &["import", "cursor", "--dry-run"][..],
        &["import", "cursor"],
    ] {
        let stderr = home.fails(args);
        assert!(
            stderr.contains(&format!("{file}:1:")) && stderr.contains("fix servers.json first"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(
        home.read("servers.json"),
        BROKEN_SERVERS_JSON,
        "left as it was"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_refuses_to_preview_or_import_into_a_broken_servers_json() {
    let home = Home::new();
    let sb = Switchboard::start_with_env(
        json!({ "mcpServers": {} }),
        &[
            ("HOME", home.dir.path().as_os_str()),
            ("XDG_CONFIG_HOME", home.path(".config").as_os_str()),
        ],
    );
    std::fs::write(&sb.config, BROKEN_SERVERS_JSON).unwrap();
    let file = sb.config.display().to_string();
    for body in [r#"{"dryRun":true}"#, "{}"] {
        let (status, answer) = sb.send("POST", "/api/clients/cursor/import", body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (409, Some("config_broken")),
            "{body}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("{file}:1:")) && message.contains("fix servers.json first"),
            "{body}: {message}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&sb.config).unwrap(),
        BROKEN_SERVERS_JSON,
        "left as it was"
    );
}

#[test]
fn install_and_uninstall_round_trip_every_client_keeping_other_keys_and_backups() {
    let home = Home::new();
    let files = [
        (
            "claude-desktop",
            ".config/Claude/claude_desktop_config.json",
            "mcpServers",
        ),
        ("cursor", ".cursor/mcp.json", "mcpServers"),
        ("vscode", ".config/Code/User/mcp.json", "servers"),
        ("claude-code", ".claude.json", "mcpServers"),
        (
            "windsurf",
            ".codeium/windsurf/mcp_config.json",
            "mcpServers",
        ),
    ];
    for (client, file, key) in files {
        let original = home.read(file);
        let preview = home.run(&["install", client, "--dry-run"]);
        assert!(preview.contains("switchboard"), "{client}: {preview}");
        assert_eq!(home.read(file), original, "{client}: dry run wrote");

        home.run(&["install", client]);
        let installed = home.json(file);
        let entry = &installed[key]["switchboard"];
        match client {
            "claude-desktop" => {
                assert!(
                    entry["command"].as_str().unwrap().contains("switchboard"),
                    "{entry}"
                );
                assert_eq!(
                    entry["args"],
                    json!(["connect", "--url", "http://127.0.0.1:7427"])
                );
            }
            "windsurf" => assert_eq!(entry["serverUrl"], "http://127.0.0.1:7427/mcp"),
            "vscode" | "claude-code" => {
                assert_eq!(entry["type"], "http");
                assert_eq!(entry["url"], "http://127.0.0.1:7427/mcp");
            }
            _ => assert_eq!(entry["url"], "http://127.0.0.1:7427/mcp"),
        }
        // Everything else is as it was.
        let mut without = installed.clone();
        without[key].as_object_mut().unwrap().remove("switchboard");
        assert_eq!(without, jsonc_to_value(&original).unwrap(), "{client}");
        if client == "vscode" || client == "cursor" {
            assert!(home.read(file).contains("//"), "{client}: comments kept");
        }
        assert_eq!(
            home.backups(file).len(),
            1,
            "{client}: one timestamped backup"
        );

        home.run(&["uninstall", client]);
        assert_eq!(
            jsonc_to_value(&home.read(file)).unwrap(),
            jsonc_to_value(&original).unwrap(),
            "{client}: uninstall restores"
        );
        assert_eq!(
            home.backups(file).len(),
            2,
            "{client}: uninstall keeps a backup too"
        );
    }
}

#[test]
fn install_search_points_a_client_at_the_aggregate_search_mode() {
    let home = Home::new();
    home.run(&["install", "cursor", "--search"]);
    let cursor = home.json(".cursor/mcp.json");
    assert_eq!(
        cursor["mcpServers"]["switchboard"]["url"],
        "http://127.0.0.1:7427/mcp?mode=search"
    );
    // A client that only runs commands reaches it through `switchboard connect --search`.
    home.run(&["install", "claude-desktop", "--search"]);
    let desktop = home.json(".config/Claude/claude_desktop_config.json");
    assert_eq!(
        desktop["mcpServers"]["switchboard"]["args"],
        json!(["connect", "--search", "--url", "http://127.0.0.1:7427"])
    );
    // Installing the plain aggregate again replaces it (the same entry), and uninstall removes it.
    home.run(&["install", "cursor"]);
    let cursor = home.json(".cursor/mcp.json");
    assert_eq!(
        cursor["mcpServers"]["switchboard"]["url"],
        "http://127.0.0.1:7427/mcp"
    );
    home.run(&["uninstall", "cursor"]);
    assert!(home.json(".cursor/mcp.json")["mcpServers"]
        .get("switchboard")
        .is_none());
}

#[test]
fn install_with_replace_takes_over_imported_servers_and_uninstall_puts_them_back() {
    let home = Home::new();
    let file = ".cursor/mcp.json";
    let out = home.run(&["install", "cursor"]);
    assert!(out.contains("still runs time itself"), "{out}");

    home.run(&["install", "cursor", "--replace"]);
    let cursor = home.json(file);
    assert!(
        cursor["mcpServers"].get("time").is_none(),
        "time now comes through Switchboard"
    );
    assert_eq!(
        cursor["mcpServers"]["remote"]["url"],
        "https://example.com/mcp"
    );

    // One entry per server, and a clash without --replace is refused with advice.
    home.write("servers.json", r#"{"mcpServers":{"time":{"command":"uvx","args":["mcp-server-time"]},"remote":{"command":"x"}}}"#);
    let error = home.fails(&["install", "cursor", "--server", "remote"]);
    assert!(error.contains("--replace"), "{error}");
    home.run(&["install", "cursor", "--all", "--replace"]);
    let cursor = home.json(file);
    assert_eq!(
        cursor["mcpServers"]["time"]["url"],
        "http://127.0.0.1:7427/servers/time/mcp"
    );
    assert_eq!(
        cursor["mcpServers"]["remote"]["url"],
        "http://127.0.0.1:7427/servers/remote/mcp"
    );

    home.run(&["uninstall", "cursor"]);
    assert_eq!(
        home.json(file),
        jsonc_to_value(CURSOR).unwrap(),
        "everything put back"
    );
}

#[test]
fn project_files_are_used_with_project() {
    let home = Home::new();
    let project = home.path("app");
    home.write("app/.vscode/mcp.json", "{\n  \"servers\": {}\n}\n");
    home.run(&["install", "vscode", "--project", project.to_str().unwrap()]);
    assert_eq!(
        home.json("app/.vscode/mcp.json")["servers"]["switchboard"]["url"],
        "http://127.0.0.1:7427/mcp"
    );
    assert!(home.json(".config/Code/User/mcp.json")["servers"]
        .get("switchboard")
        .is_none());
    let error = home.fails(&[
        "install",
        "windsurf",
        "--project",
        project.to_str().unwrap(),
    ]);
    assert!(error.contains("no project-level config"), "{error}");
}

/// Reads JSON lines from the client until one matches, within `limit`.
fn read_until(lines: &mut impl Iterator<Item = String>, pred: impl Fn(&Value) -> bool) -> Value {
    for line in lines.by_ref() {
        if let Ok(value) = serde_json::from_str::<Value>(&line) {
            if pred(&value) {
                return value;
            }
        }
    }
    panic!("the client ended before the expected line");
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_bridges_a_stdio_client_to_the_gateway_across_a_restart() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    let python = repo_root().join("tests/.venv-mcp1/bin/python");
    let script = repo_root().join("tests/clients/stdio_bridge_client.py");
    let mut client = Command::new(python)
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_switchboard"))
        .args(["connect", "everything", "--url", &sb.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(client.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut lines = std::iter::from_fn(move || {
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok()
    });
    let first = tokio::task::block_in_place(|| read_until(&mut lines, |v| v.get("call").is_some()));
    assert_eq!(first["text"], "Echo: call 1", "{first}");
    tokio::task::block_in_place(|| read_until(&mut lines, |v| v["waiting"] == true));

    // The gateway restarts: its sessions are gone; the bridge must open a new one.
    let sb = tokio::task::block_in_place(|| sb.restart());
    sb.wait_running("everything").await;
    writeln!(client.stdin.as_mut().unwrap(), "go").unwrap();
    let second =
        tokio::task::block_in_place(|| read_until(&mut lines, |v| v.get("call").is_some()));
    assert_eq!(second["text"], "Echo: call 2", "{second}");

    // The client closes the bridge's stdin by exiting; the bridge exits too.
    drop(client.stdin.take());
    let status = tokio::task::block_in_place(|| wait_exit(&mut client, Duration::from_secs(30)));
    assert!(status.is_some(), "the client (and its bridge) should exit");
    drop(sb);
}

/// Waits (bounded) for `child` to exit; kills it if it does not.
fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let status = switchboard_test_procs::wait_exit(child, limit);
    if status.is_none() {
        let _ = child.kill();
    }
    status
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_shows_clients_and_installs_and_imports_with_a_diff_first() {
    let home = Home::new();
    let sb = Switchboard::start_with_env(
        json!({ "mcpServers": { "everything": everything() } }),
        &[
            ("HOME", home.dir.path().as_os_str()),
            ("XDG_CONFIG_HOME", home.path(".config").as_os_str()),
        ],
    );
    sb.wait_running("everything").await;
    let (status, body) = sb.get("/api/clients").await;
    assert_eq!(status, 200, "{body}");
    let cursor = body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == "cursor")
        .unwrap();
    let servers = &cursor["files"][0]["servers"];
    assert!(
        servers
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "time" && s["reach"] == "direct"),
        "{cursor}"
    );

    let original = home.read(".cursor/mcp.json");
    let (status, preview) = sb
        .send("POST", "/api/clients/cursor/install", r#"{"dryRun":true}"#)
        .await;
    assert_eq!(status, 200, "{preview}");
    assert!(
        preview["diff"]
            .as_str()
            .unwrap()
            .contains(&format!("{}/mcp", sb.url)),
        "{preview}"
    );
    assert_eq!(
        home.read(".cursor/mcp.json"),
        original,
        "a dry run writes nothing"
    );
    let (status, done) = sb.send("POST", "/api/clients/cursor/install", "{}").await;
    assert_eq!((status, &done["written"]), (200, &json!(true)), "{done}");
    assert_eq!(
        home.json(".cursor/mcp.json")["mcpServers"]["switchboard"]["url"],
        format!("{}/mcp", sb.url)
    );

    // Import applies at once: the imported server appears in the running set.
    let (status, imported) = sb
        .send("POST", "/api/clients/claude-code/import", "{}")
        .await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["imported"][0][1], "memory", "{imported}");
    let (status, _) = sb.get("/api/servers/memory").await;
    assert_eq!(status, 200, "the imported server is configured");

    let (status, body) = sb.send("POST", "/api/clients/emacs/install", "{}").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_client"))
    );
}
