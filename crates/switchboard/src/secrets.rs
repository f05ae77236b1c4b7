//! Where Switchboard keeps secrets (OAuth tokens of remote servers): the OS keychain through
//! the `keyring` crate (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows), or, where there is none (a headless machine without a Secret Service), a file
//! beside servers.json that only the user can read (0600), said so in the log and on
//! `/api/config`.
//!
//! Values never leave this module except to the code that asked for them: they are not
//! logged, and errors name the key, never the value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The keychain's service name for every entry of ours.
const SERVICE: &str = "switchboard";
/// `SWITCHBOARD_SECRETS=file` keeps secrets in the file even where a keychain exists (for
/// machines whose keychain prompts, and for tests).
pub const BACKEND_ENV: &str = "SWITCHBOARD_SECRETS";

/// Why a secret could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the keychain refused secret '{key}': {message}")]
    Keychain { key: String, message: String },
    #[error("cannot use the secrets file {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The store in use.
pub struct SecretStore {
    backend: Backend,
    /// Serialises the file's read-modify-write.
    file_lock: Mutex<()>,
}

enum Backend {
    Keychain,
    File(PathBuf),
}

impl SecretStore {
    /// The keychain when one answers, else the file `fallback` (created 0600 when first
    /// written). Probing may take a moment (a D-Bus round trip): call it off the async workers.
    pub fn open(fallback: PathBuf) -> Self {
        let forced_file = std::env::var(BACKEND_ENV).is_ok_and(|v| v == "file");
        let backend = if forced_file {
            Backend::File(fallback)
        } else {
            match keychain_answers() {
                Ok(()) => Backend::Keychain,
                Err(why) => {
                    tracing::warn!(
                        file = %fallback.display(),
                        "no OS keychain ({why}); secrets are kept in a file only you can read"
                    );
                    Backend::File(fallback)
                }
            }
        };
        Self {
            backend,
            file_lock: Mutex::new(()),
        }
    }

    /// A store in the file `path` only.
    pub fn in_file(path: PathBuf) -> Self {
        Self {
            backend: Backend::File(path),
            file_lock: Mutex::new(()),
        }
    }

    /// Where secrets are, for `/api/config`: `("keychain", None)` or `("file", Some(path))`.
    pub fn location(&self) -> (&'static str, Option<&Path>) {
        match &self.backend {
            Backend::Keychain => ("keychain", None),
            Backend::File(path) => ("file", Some(path)),
        }
    }

    pub fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        match &self.backend {
            Backend::Keychain => match entry(key)?.get_password() {
                Ok(value) => Ok(Some(value)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(refused(key, e)),
            },
            Backend::File(path) => Ok(self.read_file(path)?.remove(key)),
        }
    }

    pub fn set(&self, key: &str, value: &str) -> Result<(), SecretError> {
        match &self.backend {
            Backend::Keychain => entry(key)?.set_password(value).map_err(|e| refused(key, e)),
            Backend::File(path) => self.edit_file(path, |all| {
                all.insert(key.to_owned(), value.to_owned());
            }),
        }
    }

    /// Forgets `key`; forgetting what is not there is not an error.
    pub fn remove(&self, key: &str) -> Result<(), SecretError> {
        match &self.backend {
            Backend::Keychain => match entry(key)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(refused(key, e)),
            },
            Backend::File(path) => self.edit_file(path, |all| {
                all.remove(key);
            }),
        }
    }

    fn read_file(&self, path: &Path) -> Result<BTreeMap<String, String>, SecretError> {
        let text = crate::atomic_file::read_optional(path).map_err(|source| SecretError::File {
            path: path.to_owned(),
            source,
        })?;
        Ok(text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    fn edit_file(
        &self,
        path: &Path,
        edit: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), SecretError> {
        let _guard = self.file_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = self.read_file(path)?;
        edit(&mut all);
        let text = serde_json::to_string_pretty(&all).unwrap_or_default();
        let io = |source| SecretError::File {
            path: path.to_owned(),
            source,
        };
        crate::atomic_file::replace(path, &text).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        Ok(())
    }
}

fn entry(key: &str) -> Result<keyring::Entry, SecretError> {
    keyring::Entry::new(SERVICE, key).map_err(|e| refused(key, e))
}

fn refused(key: &str, e: keyring::Error) -> SecretError {
    SecretError::Keychain {
        key: key.to_owned(),
        message: e.to_string(),
    }
}

/// Whether the keychain can be asked at all: looking up an entry that does not exist answers
/// "no entry" from a working keychain and a platform error from a missing one.
fn keychain_answers() -> Result<(), String> {
    let probe = keyring::Entry::new(SERVICE, "probe").map_err(|e| e.to_string())?;
    match probe.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_store_keeps_values_only_the_user_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        let store = SecretStore::in_file(path.clone());
        assert_eq!(store.get("a").unwrap(), None);
        store.set("a", "one").unwrap();
        store.set("b", "two").unwrap();
        assert_eq!(store.get("a").unwrap().as_deref(), Some("one"));
        store.remove("a").unwrap();
        store.remove("a").unwrap();
        assert_eq!(store.get("a").unwrap(), None);
        assert_eq!(store.get("b").unwrap().as_deref(), Some("two"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(store.location(), ("file", Some(path.as_path())));
    }
}
