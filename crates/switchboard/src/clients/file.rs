//! One client config file, edited in place.
//!
//! The file is parsed into a concrete syntax tree (`jsonc-parser`), so editing one server entry
//! keeps everything else exactly as the user wrote it: other keys, their order, comments (VS
//! Code, Cursor and Windsurf allow them), indentation, trailing commas. The edits themselves are
//! `crate::jsonc`'s, shared with servers.json.

use std::path::{Path, PathBuf};

use jsonc_parser::cst::{CstObject, CstRootNode};
use jsonc_parser::ParseOptions;
use serde_json::Value;

use super::ClientError;
use crate::jsonc;

/// A client config file loaded for editing (it may not exist yet).
pub struct ClientFile {
    pub path: PathBuf,
    /// The text as read (`None`: no file).
    pub original: Option<String>,
    root: CstRootNode,
    servers_key: &'static str,
}

impl ClientFile {
    /// Reads `path` (a missing file is an empty config).
    pub fn load(path: &Path, servers_key: &'static str) -> Result<Self, ClientError> {
        let original =
            crate::atomic_file::read_optional(path).map_err(|source| ClientError::Io {
                path: path.to_owned(),
                source,
            })?;
        let text = original.as_deref().unwrap_or("");
        let text = if text.trim().is_empty() { "{}\n" } else { text };
        let root =
            CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| ClientError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        if root.value().is_some() && root.object_value().is_none() {
            return Err(ClientError::Parse {
                path: path.to_owned(),
                message: "expected a JSON object at the top level".into(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            original,
            root,
            servers_key,
        })
    }

    fn servers_object(&self) -> Option<CstObject> {
        self.root.object_value()?.object_value(self.servers_key)
    }

    /// The server entries, in file order.
    pub fn servers(&self) -> Vec<(String, Value)> {
        let Some(servers) = self.servers_object() else {
            return Vec::new();
        };
        servers
            .properties()
            .into_iter()
            .filter_map(|prop| {
                let name = prop.decoded_name()?;
                let value = prop.value()?.to_serde_value()?;
                Some((name, value))
            })
            .collect()
    }

    pub fn server(&self, name: &str) -> Option<Value> {
        self.servers()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Adds or replaces the entry `name` (in place when it exists).
    pub fn set_server(&mut self, name: &str, entry: &Value) {
        let servers = self
            .root
            .object_value_or_set()
            .object_value_or_set(self.servers_key);
        jsonc::set_property(&servers, name, entry);
    }

    /// Removes the entry `name`; returns whether there was one.
    pub fn remove_server(&mut self, name: &str) -> bool {
        self.servers_object()
            .is_some_and(|servers| jsonc::remove_property(&servers, name))
    }

    /// The text as it would be written.
    pub fn text(&self) -> String {
        let mut text = self.root.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    pub fn changed(&self) -> bool {
        self.original.as_deref().map(str::trim_end) != Some(self.text().trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VSCODE: &str = r#"{
  // Servers for this workspace
  "inputs": [],
  "servers": {
    "git": { "type": "stdio", "command": "uvx", "args": ["mcp-server-git"] }, // trailing comment
  },
}
"#;

    fn load(text: &str, key: &'static str) -> (tempfile::TempDir, ClientFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.json");
        std::fs::write(&path, text).unwrap();
        let file = ClientFile::load(&path, key).unwrap();
        (dir, file)
    }

    #[test]
    fn comments_and_other_keys_survive_an_edit() {
        let (_dir, mut file) = load(VSCODE, "servers");
        assert_eq!(file.servers()[0].0, "git");
        file.set_server(
            "switchboard",
            &json!({ "type": "http", "url": "http://127.0.0.1:7427/mcp" }),
        );
        let text = file.text();
        assert!(text.contains("// Servers for this workspace"), "{text}");
        assert!(text.contains("// trailing comment"), "{text}");
        assert!(text.contains("\"inputs\": []"), "{text}");
        let names: Vec<String> = file.servers().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["git", "switchboard"]);
        assert!(file.remove_server("git"));
        assert!(!file.remove_server("git"));
        assert!(file.text().contains("// Servers for this workspace"));
    }

    #[test]
    fn a_missing_file_is_an_empty_config_and_gets_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = ClientFile::load(&dir.path().join("none.json"), "mcpServers").unwrap();
        assert!(file.servers().is_empty());
        file.set_server(
            "switchboard",
            &json!({ "url": "http://127.0.0.1:7427/mcp" }),
        );
        let value: Value = serde_json::from_str(&file.text()).unwrap();
        assert_eq!(
            value["mcpServers"]["switchboard"]["url"],
            "http://127.0.0.1:7427/mcp"
        );
    }

    #[test]
    fn windows_paths_keep_their_escapes() {
        let text = r#"{"mcpServers":{"fs":{"command":"C:\\Program Files\\nodejs\\npx.cmd","args":["-y","@modelcontextprotocol/server-filesystem","C:\\Users\\ada\\Documents"]}}}"#;
        let (_dir, mut file) = load(text, "mcpServers");
        assert_eq!(
            file.server("fs").unwrap()["command"],
            r"C:\Program Files\nodejs\npx.cmd"
        );
        file.set_server("other", &json!({ "url": "http://127.0.0.1:7427/mcp" }));
        assert!(
            file.text().contains(r#""C:\\Users\\ada\\Documents""#),
            "{}",
            file.text()
        );
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "{ \"mcpServers\": ").unwrap();
        let err = ClientFile::load(&path, "mcpServers")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("bad.json"), "{err}");
    }
}
