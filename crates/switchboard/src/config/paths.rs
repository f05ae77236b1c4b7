//! Where Switchboard keeps its files, and the file a first run creates.

use std::path::{Path, PathBuf};

/// Environment variable that overrides the config path (after `--config`).
pub const CONFIG_ENV: &str = "SWITCHBOARD_CONFIG";

/// Why [`Dirs::resolve`] found no servers.json to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirsError {
    /// The platform config dir comes from the home directory; without one, only an explicit
    /// path can say where the file is.
    #[error("no home directory found: pass --config PATH or set SWITCHBOARD_CONFIG")]
    NoHome,
}

/// Platform directories (`directories` crate): config, data (logs), runtime (the record of
/// a running instance).
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    /// `$XDG_RUNTIME_DIR/switchboard` where the platform has one (Linux).
    pub runtime_dir: Option<PathBuf>,
}

impl Dirs {
    /// Resolves the config file from `--config`, then `SWITCHBOARD_CONFIG`, then the platform
    /// config dir; logs go to the platform data dir.
    pub fn resolve(config_flag: Option<PathBuf>) -> Result<Self, DirsError> {
        let project = directories::ProjectDirs::from("dev", "switchboard", "switchboard");
        let config_file =
            match config_flag.or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from)) {
                Some(path) => path,
                None => project
                    .as_ref()
                    .map(|p| p.config_dir().join("servers.json"))
                    .ok_or(DirsError::NoHome)?,
            };
        let data_dir = project
            .as_ref()
            .map(|p| p.data_dir().to_owned())
            .unwrap_or_else(|| std::env::temp_dir().join("switchboard"));
        let runtime_dir = project
            .as_ref()
            .and_then(|p| p.runtime_dir().map(Path::to_owned));
        Ok(Self {
            config_file,
            data_dir,
            runtime_dir,
        })
    }

    /// Where running instances leave their record (`instance_record`): the runtime dir,
    /// else `run/` in the data dir.
    pub fn instance_dir(&self) -> PathBuf {
        self.runtime_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("run"))
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    /// The activity log (every MCP request through the gateway), SQLite.
    pub fn activity_db(&self) -> PathBuf {
        self.data_dir.join("activity.db")
    }

    /// What on-demand servers offer, kept while they sleep (`catalogs.rs`).
    pub fn catalog_dir(&self) -> PathBuf {
        self.data_dir.join("catalogs")
    }

    pub fn server_log_dir(&self) -> PathBuf {
        self.data_dir.join("logs").join("servers")
    }
}

/// The file a first run writes, so the dashboard has something real to show.
pub const EXAMPLE_CONFIG: &str = r#"{
  "mcpServers": {
    "everything": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-everything"]
    }
  },
  "gateway": { "host": "127.0.0.1", "port": 7427 }
}
"#;

/// Creates `path` with [`EXAMPLE_CONFIG`] when it does not exist. Returns whether it did.
pub fn create_if_missing(path: &Path) -> std::io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut f) => {
            std::io::Write::write_all(&mut f, EXAMPLE_CONFIG.as_bytes())?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_valid() {
        let file = crate::config::parse(Path::new("example.json"), EXAMPLE_CONFIG).unwrap();
        assert!(file.mcp_servers.contains_key("everything"));
    }

    #[test]
    fn first_run_creates_the_example_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/servers.json");
        assert!(create_if_missing(&path).unwrap());
        std::fs::write(&path, "{}").unwrap();
        assert!(!create_if_missing(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
    }
}
