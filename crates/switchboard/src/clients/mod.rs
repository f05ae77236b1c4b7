//! The AI clients' own config files: detect what they run, import their servers into
//! servers.json, point them at the gateway, and undo that.

mod file;
mod kinds;
mod ops;

use std::path::PathBuf;

pub use file::ClientFile;
pub use kinds::{entry_kind, ClientKind, ConfigLocation, EntryKind, Os, Places, Scope};
pub use ops::{
    detect, import_into, location, plan_import, plan_install, plan_uninstall, records_file, Change,
    ClientServer, DetectedClient, DetectedFile, GatewayTarget, ImportPlan, InstallPlan,
    InstallRecord, InstallTarget, PlannedImport, Reach, Records,
};

/// What went wrong with a client file. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {message}; fix it in the client first")]
    Parse { path: PathBuf, message: String },
    #[error("{0} does not exist; is the client installed and configured?")]
    Missing(PathBuf),
    #[error("{0}")]
    Invalid(String),
    /// servers.json exists but cannot be read, parsed or validated: nothing is imported into
    /// it (the user's work in progress is never written over).
    #[error("{0}; fix servers.json first (nothing was imported)")]
    ServersJsonBroken(crate::config::ConfigError),
    #[error("{0} has no project-level config file; leave out --project")]
    NoProjectFile(ClientKind),
    #[error("no server named '{0}' in servers.json")]
    UnknownServer(String),
    #[error("{path} already has an entry '{name}' of its own; pass --replace to replace it (it is kept for uninstall)")]
    Clash { path: PathBuf, name: String },
    #[error("{0} changed while Switchboard was writing it; try again")]
    ChangedUnderneath(PathBuf),
    #[error("{0} changed since the preview, so nothing was written; preview again to see what would be written now")]
    StalePreview(PathBuf),
}
