//! The AI clients Switchboard knows: where each keeps its MCP config on each platform, under
//! which key, and how it writes a stdio entry and an HTTP entry (per each client's docs).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{json, Value};

/// An AI client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    ClaudeDesktop,
    Cursor,
    #[serde(rename = "vscode")]
    VsCode,
    ClaudeCode,
    Windsurf,
}

/// A platform, for config locations (tests exercise all three on any host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }
}

/// The directories config paths are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    pub os: Os,
    pub home: PathBuf,
    /// The platform's per-user app config dir: `~/.config` (XDG), `~/Library/Application
    /// Support`, `%APPDATA%`.
    pub app_config: PathBuf,
    /// A project folder, for project-level files (`.cursor/mcp.json`, `.vscode/mcp.json`,
    /// `.mcp.json`).
    pub project: Option<PathBuf>,
}

impl Places {
    /// This machine's places (`directories`), with an optional project folder.
    pub fn detect(project: Option<PathBuf>) -> Option<Self> {
        let base = directories::BaseDirs::new()?;
        Some(Self {
            os: Os::current(),
            home: base.home_dir().to_owned(),
            app_config: base.config_dir().to_owned(),
            project,
        })
    }
}

/// Whether a config file belongs to the user or to one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    User,
    Project,
}

/// A place a client reads MCP servers from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigLocation {
    pub path: PathBuf,
    pub scope: Scope,
}

impl ClientKind {
    pub const ALL: [ClientKind; 5] = [
        ClientKind::ClaudeDesktop,
        ClientKind::Cursor,
        ClientKind::VsCode,
        ClientKind::ClaudeCode,
        ClientKind::Windsurf,
    ];

    /// The name used on the command line and in the API.
    pub fn id(self) -> &'static str {
        match self {
            ClientKind::ClaudeDesktop => "claude-desktop",
            ClientKind::Cursor => "cursor",
            ClientKind::VsCode => "vscode",
            ClientKind::ClaudeCode => "claude-code",
            ClientKind::Windsurf => "windsurf",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            ClientKind::ClaudeDesktop => "Claude Desktop",
            ClientKind::Cursor => "Cursor",
            ClientKind::VsCode => "VS Code",
            ClientKind::ClaudeCode => "Claude Code",
            ClientKind::Windsurf => "Windsurf",
        }
    }

    /// The key of the servers object: VS Code says `servers`, the others `mcpServers`.
    pub fn servers_key(self) -> &'static str {
        match self {
            ClientKind::VsCode => "servers",
            _ => "mcpServers",
        }
    }

    /// Whether the client's file may hold comments (JSONC); such files are edited in place,
    /// keeping comments and formatting.
    pub fn allows_comments(self) -> bool {
        matches!(
            self,
            ClientKind::VsCode | ClientKind::Cursor | ClientKind::Windsurf
        )
    }

    /// Whether the client can reach an HTTP server itself. Claude Desktop's file can only
    /// name commands, so it goes through `switchboard connect`.
    pub fn speaks_http(self) -> bool {
        !matches!(self, ClientKind::ClaudeDesktop)
    }

    /// Where the client keeps its MCP config: user-level first, then project-level.
    pub fn locations(self, places: &Places) -> Vec<ConfigLocation> {
        let user = |path: PathBuf| ConfigLocation {
            path,
            scope: Scope::User,
        };
        let project = |relative: &str| {
            places.project.as_ref().map(|p| ConfigLocation {
                path: p.join(relative),
                scope: Scope::Project,
            })
        };
        let home = &places.home;
        let app = &places.app_config;
        let mut found = match self {
            ClientKind::ClaudeDesktop => {
                vec![user(app.join("Claude").join("claude_desktop_config.json"))]
            }
            ClientKind::Cursor => vec![user(home.join(".cursor").join("mcp.json"))],
            ClientKind::VsCode => vec![user(app.join("Code").join("User").join("mcp.json"))],
            ClientKind::ClaudeCode => vec![user(home.join(".claude.json"))],
            ClientKind::Windsurf => vec![user(
                home.join(".codeium")
                    .join("windsurf")
                    .join("mcp_config.json"),
            )],
        };
        let project_file = match self {
            ClientKind::Cursor => project(".cursor/mcp.json"),
            ClientKind::VsCode => project(".vscode/mcp.json"),
            ClientKind::ClaudeCode => project(".mcp.json"),
            ClientKind::ClaudeDesktop | ClientKind::Windsurf => None,
        };
        found.extend(project_file);
        found
    }

    /// The entry for a stdio server, in the client's own shape.
    pub fn stdio_entry(
        self,
        command: &str,
        args: &[String],
        env: &serde_json::Map<String, Value>,
    ) -> Value {
        let mut entry = serde_json::Map::new();
        if matches!(self, ClientKind::VsCode | ClientKind::ClaudeCode) {
            entry.insert("type".into(), json!("stdio"));
        }
        entry.insert("command".into(), json!(command));
        entry.insert("args".into(), json!(args));
        if !env.is_empty() {
            entry.insert("env".into(), Value::Object(env.clone()));
        }
        Value::Object(entry)
    }

    /// The entry for a Streamable HTTP server at `url`, in the client's own shape.
    pub fn http_entry(self, url: &str) -> Value {
        match self {
            ClientKind::VsCode | ClientKind::ClaudeCode => json!({ "type": "http", "url": url }),
            ClientKind::Windsurf => json!({ "serverUrl": url }),
            ClientKind::Cursor | ClientKind::ClaudeDesktop => json!({ "url": url }),
        }
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for ClientKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.to_ascii_lowercase().replace(['_', ' '], "-");
        let alias = match wanted.as_str() {
            "claude" => "claude-desktop",
            "code" | "vs-code" => "vscode",
            "claudecode" => "claude-code",
            other => other,
        };
        ClientKind::ALL
            .into_iter()
            .find(|k| k.id() == alias)
            .ok_or_else(|| {
                let known: Vec<&str> = ClientKind::ALL.iter().map(|k| k.id()).collect();
                format!("unknown client {s:?}; known: {}", known.join(", "))
            })
    }
}

/// How an entry of a client's file reaches its server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum EntryKind {
    /// The client runs this command itself.
    Stdio { command: String, args: Vec<String> },
    /// The client connects to this URL.
    Http { url: String },
    /// Something else (a shape we do not know).
    Other,
}

/// Reads an entry of any client's shape.
pub fn entry_kind(entry: &Value) -> EntryKind {
    if let Some(url) = ["url", "serverUrl"]
        .iter()
        .find_map(|k| entry.get(*k).and_then(Value::as_str))
    {
        return EntryKind::Http {
            url: url.to_owned(),
        };
    }
    match entry.get("command").and_then(Value::as_str) {
        Some(command) => EntryKind::Stdio {
            command: command.to_owned(),
            args: entry
                .get("args")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        },
        None => EntryKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(os: Os) -> Places {
        match os {
            Os::Linux => Places {
                os,
                home: "/home/ada".into(),
                app_config: "/home/ada/.config".into(),
                project: Some("/work/app".into()),
            },
            Os::MacOs => Places {
                os,
                home: "/Users/ada".into(),
                app_config: "/Users/ada/Library/Application Support".into(),
                project: None,
            },
            Os::Windows => Places {
                os,
                home: r"C:\Users\ada".into(),
                app_config: r"C:\Users\ada\AppData\Roaming".into(),
                project: None,
            },
        }
    }

    use std::path::Path;

    fn user_path(kind: ClientKind, os: Os) -> PathBuf {
        kind.locations(&places(os))[0].path.clone()
    }

    #[test]
    fn user_config_locations_follow_each_platform() {
        assert_eq!(
            user_path(ClientKind::ClaudeDesktop, Os::Linux),
            Path::new("/home/ada/.config/Claude/claude_desktop_config.json")
        );
        assert_eq!(
            user_path(ClientKind::ClaudeDesktop, Os::MacOs),
            Path::new("/Users/ada/Library/Application Support/Claude/claude_desktop_config.json")
        );
        assert_eq!(
            user_path(ClientKind::ClaudeDesktop, Os::Windows),
            Path::new(r"C:\Users\ada\AppData\Roaming")
                .join("Claude")
                .join("claude_desktop_config.json")
        );
        assert_eq!(
            user_path(ClientKind::VsCode, Os::MacOs),
            Path::new("/Users/ada/Library/Application Support/Code/User/mcp.json")
        );
        assert_eq!(
            user_path(ClientKind::Cursor, Os::Linux),
            Path::new("/home/ada/.cursor/mcp.json")
        );
        assert_eq!(
            user_path(ClientKind::ClaudeCode, Os::Linux),
            Path::new("/home/ada/.claude.json")
        );
        assert_eq!(
            user_path(ClientKind::Windsurf, Os::Linux),
            Path::new("/home/ada/.codeium/windsurf/mcp_config.json")
        );
    }

    #[test]
    fn project_files_are_listed_when_a_project_is_given() {
        let linux = places(Os::Linux);
        let paths = |k: ClientKind| -> Vec<PathBuf> {
            k.locations(&linux).into_iter().map(|l| l.path).collect()
        };
        assert!(paths(ClientKind::Cursor).contains(&PathBuf::from("/work/app/.cursor/mcp.json")));
        assert!(paths(ClientKind::VsCode).contains(&PathBuf::from("/work/app/.vscode/mcp.json")));
        assert!(paths(ClientKind::ClaudeCode).contains(&PathBuf::from("/work/app/.mcp.json")));
        assert_eq!(paths(ClientKind::ClaudeDesktop).len(), 1);
    }

    #[test]
    fn http_entries_use_each_clients_url_key() {
        let url = "http://127.0.0.1:7427/mcp";
        assert_eq!(ClientKind::Cursor.http_entry(url), json!({ "url": url }));
        assert_eq!(
            ClientKind::VsCode.http_entry(url),
            json!({ "type": "http", "url": url })
        );
        assert_eq!(
            ClientKind::ClaudeCode.http_entry(url),
            json!({ "type": "http", "url": url })
        );
        assert_eq!(
            ClientKind::Windsurf.http_entry(url),
            json!({ "serverUrl": url })
        );
        for kind in ClientKind::ALL {
            let entry = if kind.speaks_http() {
                kind.http_entry(url)
            } else {
                kind.stdio_entry("switchboard", &["connect".into()], &Default::default())
            };
            assert!(matches!(
                entry_kind(&entry),
                EntryKind::Http { .. } | EntryKind::Stdio { .. }
            ));
        }
    }

    #[test]
    fn client_names_parse_with_aliases() {
        assert_eq!(
            "claude".parse::<ClientKind>().unwrap(),
            ClientKind::ClaudeDesktop
        );
        assert_eq!("VS Code".parse::<ClientKind>().unwrap(), ClientKind::VsCode);
        assert_eq!(
            "claude-code".parse::<ClientKind>().unwrap(),
            ClientKind::ClaudeCode
        );
        assert!("emacs"
            .parse::<ClientKind>()
            .unwrap_err()
            .contains("known:"));
    }
}
