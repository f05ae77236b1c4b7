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
/// How long the keychain may take to say it is there.
const PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

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

/// The fallback file's name, beside servers.json.
pub const SECRETS_FILE: &str = "secrets.json";
/// The list of the user's secret names (no values), beside servers.json: a keychain cannot be
/// asked which entries it holds.
const NAMES_FILE: &str = "secrets.names.json";

/// The key of the user's secret `name` (`${secret:NAME}`, `switchboard secret set NAME`).
pub fn user_key(name: &str) -> String {
    format!("secret:{name}")
}

/// A secret's name must be short and plain: it is written in servers.json and on the
/// command line.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "secret name {name:?} is not allowed: use letters, digits, '_', '-' and '.'"
        ))
    }
}

/// The store in use.
pub struct SecretStore {
    backend: Backend,
    /// The user's secret names (see [`NAMES_FILE`]); `None` for a store without one.
    names_file: Option<PathBuf>,
    /// Serialises the file's read-modify-write.
    file_lock: Mutex<()>,
}

/// The secrets file's contents: key → value.
type Secrets = BTreeMap<String, String>;

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
            names_file: None,
            file_lock: Mutex::new(()),
        }
    }

    /// The store of the servers.json at `config_file`: the keychain, or `secrets.json` beside
    /// it; the user's secret names listed beside it too.
    pub fn for_config(config_file: &Path) -> Self {
        let mut store = Self::open(config_file.with_file_name(SECRETS_FILE));
        store.names_file = Some(config_file.with_file_name(NAMES_FILE));
        store
    }

    /// A store in the file `path` only.
    pub fn in_file(path: PathBuf) -> Self {
        Self {
            names_file: Some(path.with_file_name(NAMES_FILE)),
            backend: Backend::File(path),
            file_lock: Mutex::new(()),
        }
    }

    /// Stores the user's secret `name` (and lists its name).
    pub fn set_named(&self, name: &str, value: &str) -> Result<(), SecretError> {
        self.set(&user_key(name), value)?;
        self.edit_names(|names| {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
                names.sort();
            }
        })
    }

    /// Forgets the user's secret `name`.
    pub fn remove_named(&self, name: &str) -> Result<(), SecretError> {
        self.remove(&user_key(name))?;
        self.edit_names(|names| names.retain(|n| n != name))
    }

    /// The user's secret names (never their values).
    pub fn names(&self) -> Result<Vec<String>, SecretError> {
        match &self.names_file {
            Some(path) => read_json(path),
            None => Ok(Vec::new()),
        }
    }

    fn edit_names(&self, edit: impl FnOnce(&mut Vec<String>)) -> Result<(), SecretError> {
        match &self.names_file {
            Some(path) => self.edit_json(path, edit),
            None => Ok(()),
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
            Backend::File(path) => Ok(read_json::<Secrets>(path)?.remove(key)),
        }
    }

    pub fn set(&self, key: &str, value: &str) -> Result<(), SecretError> {
        match &self.backend {
            Backend::Keychain => entry(key)?.set_password(value).map_err(|e| refused(key, e)),
            Backend::File(path) => self.edit_json(path, |all: &mut Secrets| {
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
            Backend::File(path) => self.edit_json(path, |all: &mut Secrets| {
                all.remove(key);
            }),
        }
    }

    /// Reads, changes and writes back one of our JSON files (the secrets file, the names
    /// list), serialised by the store's lock, leaving it readable only by the user.
    fn edit_json<T>(&self, path: &Path, edit: impl FnOnce(&mut T)) -> Result<(), SecretError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Default,
    {
        let _guard = self.file_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut value: T = read_json(path)?;
        edit(&mut value);
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
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

/// One of our JSON files, or its default when it does not exist (or is not ours to read).
fn read_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, SecretError> {
    let text = crate::atomic_file::read_optional(path).map_err(|source| SecretError::File {
        path: path.to_owned(),
        source,
    })?;
    Ok(text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
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
/// A keychain that asks its user something (a locked keyring's prompt) may not answer at
/// all: the probe gives up after [`PROBE_LIMIT`].
fn keychain_answers() -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let answer = keyring::Entry::new(SERVICE, "probe")
            .and_then(|probe| probe.get_password())
            .map(|_| ());
        let _ = tx.send(match answer {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        });
    });
    rx.recv_timeout(PROBE_LIMIT).unwrap_or_else(|_| {
        Err(format!(
            "the keychain did not answer within {}s",
            PROBE_LIMIT.as_secs()
        ))
    })
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

    #[test]
    fn the_users_secrets_are_listed_by_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::in_file(dir.path().join("secrets.json"));
        store.set_named("GITHUB_TOKEN", "ghp_x").unwrap();
        store.set_named("A", "1").unwrap();
        store.set("oauth:s:https://x", "{}").unwrap();
        assert_eq!(store.names().unwrap(), ["A", "GITHUB_TOKEN"]);
        assert_eq!(store.get(&user_key("A")).unwrap().as_deref(), Some("1"));
        store.remove_named("A").unwrap();
        assert_eq!(store.names().unwrap(), ["GITHUB_TOKEN"]);
        let names = std::fs::read_to_string(dir.path().join(NAMES_FILE)).unwrap();
        assert!(!names.contains("ghp_x"));
        assert!(check_name("bad name").is_err() && check_name("OK_1.x-y").is_ok());
    }
}
