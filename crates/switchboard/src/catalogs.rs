//! What on-demand servers offer, kept on disk while they sleep.
//!
//! An on-demand server (`"start": "onDemand"`) is listed by its endpoint and the aggregate
//! with no process running, from the catalog it offered when it last ran: its tools,
//! prompts, resources and templates, and what it said of itself (`initialize` or
//! `server/discover`). Each is one JSON file in the data dir's `catalogs/`, named after the
//! server, with a fingerprint of the launch it was learned from (command, args, env, cwd,
//! URL, transport, headers: SHA-256, so no value of the entry is written out); a catalog
//! whose fingerprint differs from the entry's launch is not used, and the server is started
//! once to learn the new one.
//!
//! Written with `atomic_file::replace` (temp file + rename), so a crash leaves the old or the
//! new file, never half of one; a file that cannot be read or parsed counts as absent.

use std::path::{Path, PathBuf};

use rmcp::model::{Prompt, Resource, ResourceTemplate, ServerPeerInfo, Tool};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Launch;

/// The format of the files; a file of another version counts as absent.
const VERSION: u32 = 1;

/// A server's catalog as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCatalog {
    pub info: ServerPeerInfo,
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    version: u32,
    fingerprint: String,
    #[serde(flatten)]
    catalog: StoredCatalog,
}

/// The folder of stored catalogs; `None` keeps none (catalogs then live as long as the
/// process, learned again at each start).
#[derive(Debug, Clone, Default)]
pub struct CatalogStore {
    dir: Option<PathBuf>,
}

impl CatalogStore {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    fn path(&self, server: &str) -> Option<PathBuf> {
        // Server names are checked to be file-name safe (`check_server_name`).
        Some(self.dir.as_ref()?.join(format!("{server}.json")))
    }

    /// The catalog stored for `server`, if it was learned from the launch `fingerprint`.
    pub fn load(&self, server: &str, fingerprint: &str) -> Option<StoredCatalog> {
        let path = self.path(server)?;
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice::<File>(&bytes) {
            Ok(file) if file.version == VERSION && file.fingerprint == fingerprint => {
                Some(file.catalog)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(%server, file = %path.display(), "stored catalog not used: {e}");
                None
            }
        }
    }

    /// Stores `catalog` as learned from the launch `fingerprint`. A failure is logged (the
    /// server is then learned again at the next start), never returned: nothing waits on it.
    pub fn save(&self, server: &str, fingerprint: &str, catalog: StoredCatalog) {
        let Some(path) = self.path(server) else {
            return;
        };
        let file = File {
            version: VERSION,
            fingerprint: fingerprint.to_owned(),
            catalog,
        };
        if let Err(e) = write(&path, &file) {
            tracing::warn!(%server, file = %path.display(), "cannot store the catalog: {e}");
        }
    }
}

fn write(path: &Path, file: &File) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string(file).map_err(std::io::Error::other)?;
    crate::atomic_file::replace(path, &text)
}

/// The fingerprint of a launch: what decides which process runs, hashed. `disabled` is left
/// out (it does not change what the server offers).
pub fn fingerprint(launch: &Launch<'_>) -> String {
    let fields = serde_json::json!([
        launch.command,
        launch.args,
        launch.env,
        launch.cwd,
        launch.url,
        launch.transport.map(|t| format!("{t:?}")),
        launch.headers,
    ]);
    let digest = Sha256::digest(fields.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ProtocolVersion, ServerCapabilities};

    fn spec(args: &str) -> crate::config::ServerSpec {
        let text = format!(r#"{{"mcpServers": {{"a": {{"command": "x", "args": {args}}}}}}}"#);
        let mut file = crate::config::parse(Path::new("servers.json"), &text).unwrap();
        file.mcp_servers.remove("a").unwrap()
    }

    fn catalog(tool: &str) -> StoredCatalog {
        let schema = serde_json::from_value(serde_json::json!({"type": "object"})).unwrap();
        StoredCatalog {
            info: ServerPeerInfo::new(
                ProtocolVersion::LATEST_WITH_INITIALIZE,
                ServerCapabilities::builder().enable_tools().build(),
            ),
            tools: vec![Tool::new(
                tool.to_owned(),
                "a tool",
                std::sync::Arc::new(schema),
            )],
            prompts: Vec::new(),
            resources: Vec::new(),
            templates: Vec::new(),
        }
    }

    #[test]
    fn a_catalog_is_used_only_for_the_launch_it_was_learned_from() {
        let dir = tempfile::tempdir().unwrap();
        let store = CatalogStore::new(Some(dir.path().join("catalogs")));
        let (one, two) = (spec(r#"["1"]"#), spec(r#"["2"]"#));
        let (first, second) = (fingerprint(&one.launch()), fingerprint(&two.launch()));
        assert_ne!(first, second, "args are part of the launch");
        let mut disabled = spec(r#"["1"]"#);
        disabled.disabled = true;
        assert_eq!(first, fingerprint(&disabled.launch()), "disabled is not");

        store.save("a", &first, catalog("echo"));
        let loaded = store.load("a", &first).expect("stored");
        assert_eq!(loaded.tools[0].name, "echo");
        assert!(store.load("a", &second).is_none(), "another launch");
        assert!(store.load("b", &first).is_none(), "another server");
        assert!(
            !std::fs::read_to_string(dir.path().join("catalogs/a.json"))
                .unwrap()
                .contains("\"x\""),
            "the entry's values are not written out"
        );
    }

    #[test]
    fn a_damaged_file_or_no_folder_counts_as_no_catalog() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), "{ half").unwrap();
        let store = CatalogStore::new(Some(dir.path().to_owned()));
        assert!(store.load("a", "f").is_none());
        let none = CatalogStore::new(None);
        none.save("a", "f", catalog("echo"));
        assert!(none.load("a", "f").is_none());
    }
}
