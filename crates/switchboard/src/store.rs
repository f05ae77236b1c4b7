//! `ConfigStore`: the one place that reads, writes and applies `servers.json`.
//!
//! The file is the only source of truth. The watcher calls [`ConfigStore::reload`] when it
//! changes; the API calls [`ConfigStore::edit`], which rewrites the file (only the values it
//! changes: comments, unknown keys, key order and formatting are kept; atomically, with a
//! backup) and applies the result at once. Each applied
//! version is remembered by the hash of its text, so the watcher's echo of our own write is
//! recognised and not applied twice. A version that does not parse or validate is never
//! applied and never overwritten: the last good config keeps running and the error is kept
//! for `/api/config` and published as an event.

use crate::activity::ActivityLog;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::OwnedMutexGuard;

use crate::atomic_file::{self, Replaced};
use crate::config::{self, ConfigError};
use crate::events::{Event, EventBus};
use crate::hub::{ApplySummary, Hub};

/// A test's stand-in for an editor saving at the worst moment (see `before_compare`).
#[cfg(test)]
type CompareHook = Arc<Mutex<Option<Box<dyn FnMut() + Send>>>>;

/// How many times an edit is retried when the file changes under it.
const EDIT_ATTEMPTS: usize = 5;

/// Why an API edit of servers.json was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The file on disk is broken; we do not overwrite the user's work in progress.
    #[error("servers.json cannot be changed while it has an error; fix it first: {0}")]
    FileBroken(ConfigError),
    /// The change would make the file invalid.
    #[error("{0}")]
    Invalid(ConfigError),
    #[error("no server named '{0}' in servers.json")]
    UnknownServer(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("servers.json kept changing while it was being edited; try again")]
    Contended,
}

/// What `/api/config` reports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigStatus {
    pub path: PathBuf,
    pub backup_path: PathBuf,
    /// Milliseconds since the Unix epoch of the last successful apply.
    pub last_applied_ms: Option<u64>,
    /// The error of the newest version of the file, if it could not be applied.
    pub error: Option<ConfigError>,
}

/// The outcome of a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    Applied(ApplySummary),
    /// The text is the one already running (for example our own write).
    Unchanged,
    /// The file is gone; nothing was stopped.
    Missing,
    Rejected(ConfigError),
}

struct State {
    applied_hash: Option<u64>,
    last_applied: Option<SystemTime>,
    error: Option<ConfigError>,
}

/// See the module documentation.
pub struct ConfigStore {
    path: PathBuf,
    hub: Arc<Hub>,
    events: EventBus,
    state: Mutex<State>,
    /// Serialises reloads and edits, so versions are applied in the order they were read. In
    /// an `Arc` so an edit can hand its guard to the blocking write (see `replace_if_unchanged`).
    apply: Arc<tokio::sync::Mutex<()>>,
    /// The activity log, given the `activity` settings of each version applied.
    activity: std::sync::OnceLock<Arc<ActivityLog>>,
    /// Runs where a concurrent editor's save would be detected, so tests can put one there.
    /// In an `Arc` because it runs on the blocking thread that writes.
    #[cfg(test)]
    before_compare: CompareHook,
}

impl ConfigStore {
    pub fn new(path: PathBuf, hub: Arc<Hub>, events: EventBus) -> Arc<Self> {
        Arc::new(Self {
            path,
            hub,
            events,
            state: Mutex::new(State {
                applied_hash: None,
                last_applied: None,
                error: None,
            }),
            apply: Arc::new(tokio::sync::Mutex::new(())),
            activity: std::sync::OnceLock::new(),
            #[cfg(test)]
            before_compare: Arc::new(Mutex::new(None)),
        })
    }

    /// From now on, `log` follows the `activity` settings of each version applied.
    pub fn follow_activity(&self, log: Arc<ActivityLog>) {
        let _ = self.activity.set(log);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn backup_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".bak");
        self.path.with_file_name(name)
    }

    pub fn status(&self) -> ConfigStatus {
        let state = self.lock();
        ConfigStatus {
            path: self.path.clone(),
            backup_path: self.backup_path(),
            last_applied_ms: state.last_applied.and_then(|t| {
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_millis() as u64)
            }),
            error: state.error.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the file as it is now and applies it if it is new and valid.
    pub async fn reload(&self) -> Reload {
        let _serial = self.apply.lock().await;
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(file = %self.path.display(), "servers.json was deleted; the running servers are kept until it returns");
                return Reload::Missing;
            }
            Err(e) => {
                let error = ConfigError::Read {
                    path: self.path.clone(),
                    message: e.to_string(),
                };
                self.reject(error.clone());
                return Reload::Rejected(error);
            }
        };
        self.apply_text_locked(&text).await
    }

    /// Applies `text` (the file's contents) unless it is the version already running.
    async fn apply_text_locked(&self, text: &str) -> Reload {
        let hash = hash_text(text);
        let (unchanged, had_error) = {
            let mut state = self.lock();
            let unchanged = state.applied_hash == Some(hash);
            // Back to the running version after a broken one: the error is over.
            let had_error = unchanged && state.error.take().is_some();
            (unchanged, had_error)
        };
        if unchanged {
            if had_error {
                self.events.publish(Event::ConfigReloaded);
            }
            return Reload::Unchanged;
        }
        let file = match config::parse(&self.path, text) {
            Ok(file) => file,
            Err(error) => {
                self.reject(error.clone());
                return Reload::Rejected(error);
            }
        };
        let summary = self.hub.apply(&file).await;
        if let Some(activity) = self.activity.get() {
            activity.configure(&file.activity);
        }
        {
            let mut state = self.lock();
            state.applied_hash = Some(hash);
            state.last_applied = Some(SystemTime::now());
            state.error = None;
        }
        tracing::info!(?summary, "servers.json applied");
        self.events.publish(Event::ConfigReloaded);
        Reload::Applied(summary)
    }

    fn reject(&self, error: ConfigError) {
        tracing::error!("servers.json not applied, the previous version keeps running: {error}");
        let changed = {
            let mut state = self.lock();
            let changed = state.error.as_ref() != Some(&error);
            state.error = Some(error.clone());
            changed
        };
        if changed {
            self.events.publish(Event::ConfigError {
                message: error.to_string(),
            });
        }
    }

    /// `PATCH`: a JSON merge patch (RFC 7396) of server `name`'s entry; `null` removes a key,
    /// and a patch that empties `tools` removes it.
    pub async fn patch_server(&self, name: &str, patch: &Value) -> Result<ApplySummary, EditError> {
        self.edit(|root| {
            let entry = servers_mut(root)?
                .get_mut(name)
                .ok_or_else(|| EditError::UnknownServer(name.to_owned()))?;
            patch_server_entry(entry, patch);
            Ok(())
        })
        .await
    }

    /// `PUT`: adds server `name`, or replaces its entry in place (keeping its position).
    pub async fn put_server(&self, name: &str, entry: &Value) -> Result<ApplySummary, EditError> {
        config::check_server_name(name).map_err(|why| EditError::BadRequest(why.to_string()))?;
        self.edit(|root| {
            let servers = servers_mut(root)?;
            match servers.get_mut(name) {
                Some(existing) => *existing = entry.clone(),
                None => {
                    servers.insert(name.to_owned(), entry.clone());
                }
            }
            Ok(())
        })
        .await
    }

    /// Removes server `name`'s entry.
    pub async fn remove_server(&self, name: &str) -> Result<ApplySummary, EditError> {
        self.edit(|root| {
            servers_mut(root)?
                .shift_remove(name)
                .map(|_| ())
                .ok_or_else(|| EditError::UnknownServer(name.to_owned()))
        })
        .await
    }

    /// Sets server `name`'s `disabled`, or flips it (`None`). Returns the value written.
    pub async fn set_disabled(
        &self,
        name: &str,
        disabled: Option<bool>,
    ) -> Result<bool, EditError> {
        let written = std::sync::Mutex::new(false);
        self.edit(|root| {
            let entry = servers_mut(root)?
                .get_mut(name)
                .ok_or_else(|| EditError::UnknownServer(name.to_owned()))?;
            let now = entry.get("disabled").and_then(Value::as_bool) == Some(true);
            let next = disabled.unwrap_or(!now);
            patch_server_entry(entry, &serde_json::json!({ "disabled": next }));
            *written.lock().unwrap_or_else(|p| p.into_inner()) = next;
            Ok(())
        })
        .await?;
        Ok(written.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Adds a client's servers (what `clients::import_into` plans) to the file, never
    /// overwriting an entry.
    pub async fn import_from_client(
        &self,
        kind: crate::clients::ClientKind,
        client_file: &Path,
        gateway: &crate::clients::GatewayTarget,
    ) -> Result<ApplySummary, EditError> {
        self.edit(|root| {
            crate::clients::import_into(kind, client_file, gateway, root)
                .map(|_| ())
                .map_err(|e| EditError::BadRequest(e.to_string()))
        })
        .await
    }

    /// Changes the file through `edit` (on its JSON root object), writes it atomically with a
    /// backup, and applies it. Only the values the edit changes are rewritten: every other key,
    /// comment, trailing comma and line stays as it was, byte for byte (`config::Document`).
    /// Private: everyone else changes the file through the operations above.
    async fn edit(
        &self,
        edit: impl Fn(&mut Map<String, Value>) -> Result<(), EditError>,
    ) -> Result<ApplySummary, EditError> {
        let mut serial = Arc::clone(&self.apply).lock_owned().await;
        for _ in 0..EDIT_ATTEMPTS {
            let before = match tokio::fs::read_to_string(&self.path).await {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => {
                    return Err(EditError::Io {
                        path: self.path.clone(),
                        source,
                    })
                }
            };
            // The syntax tree is not `Send`: it lives only in this block, between the awaits.
            let text = {
                let mut doc = config::Document::open(&self.path, before.as_deref())
                    .map_err(EditError::FileBroken)?;
                edit(&mut doc.root)?;
                doc.text()
            };
            config::parse(&self.path, &text).map_err(EditError::Invalid)?;
            let written;
            (serial, written) = self.replace_if_unchanged(serial, before, &text).await?;
            if !written {
                continue; // someone else wrote meanwhile: redo the edit on their version
            }
            return Ok(match self.apply_text_locked(&text).await {
                Reload::Applied(summary) => summary,
                _ => ApplySummary::default(),
            });
        }
        Err(EditError::Contended)
    }

    /// Writes `text` atomically with the backup, unless the file no longer holds `expected`.
    /// Returns whether it wrote, with `serial` handed back.
    ///
    /// The write syncs the temp file to disk, which can take long on a busy disk, so it runs
    /// on a blocking thread rather than on an async worker. `serial` (the `apply` lock) goes
    /// with it: if the edit's future is dropped meanwhile (its client hung up), the write
    /// still finishes before the next reload or edit can start, so the compare-and-replace
    /// stays atomic with respect to them.
    async fn replace_if_unchanged(
        &self,
        serial: OwnedMutexGuard<()>,
        expected: Option<String>,
        text: &str,
    ) -> Result<(OwnedMutexGuard<()>, bool), EditError> {
        let path = self.path.clone();
        let backup = self.backup_path();
        let text = text.to_owned();
        #[cfg(test)]
        let hook_slot = Arc::clone(&self.before_compare);
        let write = move || {
            let hook = || {
                #[cfg(test)]
                if let Some(hook) = hook_slot.lock().unwrap().as_mut() {
                    hook();
                }
            };
            let replaced = atomic_file::replace_if_unchanged(
                &path,
                expected.as_deref(),
                &text,
                Some(&backup),
                hook,
            );
            (serial, replaced)
        };
        let io_error = |source| EditError::Io {
            path: self.path.clone(),
            source,
        };
        let (serial, replaced) = match tokio::task::spawn_blocking(write).await {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only when the runtime shuts down, and then nobody is waiting for this answer.
            Err(_) => {
                return Err(io_error(std::io::Error::other(
                    "the write was cancelled: Switchboard is shutting down",
                )))
            }
        };
        match replaced.map_err(io_error)? {
            Replaced::Written => Ok((serial, true)),
            Replaced::ChangedUnderneath => {
                tracing::debug!(file = %self.path.display(), "servers.json changed while being edited; redoing the edit");
                Ok((serial, false))
            }
        }
    }
}

fn hash_text(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// The `mcpServers` object of `root`, created when absent.
fn servers_mut(root: &mut Map<String, Value>) -> Result<&mut Map<String, Value>, EditError> {
    root.entry("mcpServers")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| EditError::BadRequest("mcpServers in servers.json is not an object".into()))
}

/// RFC 7396 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Some(target) = target.as_object_mut() {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Applies a merge patch to one server entry. A patch that removes the last rule under
/// `tools` removes `tools` too: `"tools": {}` means nothing and would only clutter the file.
fn patch_server_entry(entry: &mut Value, patch: &Value) {
    merge_patch(entry, patch);
    let touched_tools = patch.get("tools").is_some();
    if let Some(entry) = entry.as_object_mut() {
        let emptied = entry
            .get("tools")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty);
        if touched_tools && emptied {
            entry.remove("tools");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removing_the_last_filter_rule_removes_tools() {
        let mut entry = json!({ "command": "x", "tools": { "deny": ["a"] } });
        patch_server_entry(&mut entry, &json!({ "tools": { "deny": null } }));
        assert_eq!(entry, json!({ "command": "x" }));

        let mut entry = json!({ "command": "x", "tools": { "deny": ["a"], "allow": ["b"] } });
        patch_server_entry(&mut entry, &json!({ "tools": { "deny": null } }));
        assert_eq!(
            entry,
            json!({ "command": "x", "tools": { "allow": ["b"] } })
        );

        // An empty `tools` the user wrote is theirs, unless the patch was about it.
        let mut entry = json!({ "command": "x", "tools": {} });
        patch_server_entry(&mut entry, &json!({ "disabled": true }));
        assert_eq!(
            entry,
            json!({ "command": "x", "tools": {}, "disabled": true })
        );
    }

    fn store_with(text: &str) -> (tempfile::TempDir, Arc<ConfigStore>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("servers.json");
        std::fs::write(&path, text).unwrap();
        let events = EventBus::default();
        let hub = Hub::new(events.clone(), None, Default::default());
        (dir, ConfigStore::new(path, hub, events))
    }

    const DISABLED: &str = r#"{"mcpServers":{"a":{"command":"sh","disabled":true}}}"#;

    fn on_disk(store: &ConfigStore) -> Value {
        serde_json::from_str(&std::fs::read_to_string(store.path()).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn the_operations_change_one_entry_and_keep_the_rest_of_the_file() {
        let (_dir, store) = store_with(
            r#"{"mine":1,"mcpServers":{"a":{"command":"sh","disabled":true,"x-note":"kept"}}}"#,
        );
        assert!(!store.set_disabled("a", None).await.unwrap(), "flipped on");
        assert!(store.set_disabled("a", Some(true)).await.unwrap());
        assert!(
            store.set_disabled("a", Some(true)).await.unwrap(),
            "set, not flipped"
        );
        store
            .put_server("b", &json!({ "command": "sh", "disabled": true }))
            .await
            .unwrap();
        store
            .patch_server("b", &json!({ "tools": { "deny": ["x"] } }))
            .await
            .unwrap();
        assert_eq!(
            on_disk(&store),
            json!({ "mine": 1, "mcpServers": {
                "a": { "command": "sh", "disabled": true, "x-note": "kept" },
                "b": { "command": "sh", "disabled": true, "tools": { "deny": ["x"] } },
            }})
        );
        store.remove_server("a").await.unwrap();
        assert!(matches!(
            store.remove_server("a").await,
            Err(EditError::UnknownServer(name)) if name == "a"
        ));
        assert!(matches!(
            store.set_disabled("a", None).await,
            Err(EditError::UnknownServer(_))
        ));
        assert!(matches!(
            store.put_server("a/b", &json!({ "command": "sh" })).await,
            Err(EditError::BadRequest(_))
        ));
        assert_eq!(on_disk(&store)["mcpServers"].as_object().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_editor_save_during_an_edit_is_redone_on_not_overwritten() {
        let (_dir, store) = store_with(DISABLED);
        let path = store.path().to_owned();
        let mut saved = false;
        *store.before_compare.lock().unwrap() = Some(Box::new(move || {
            if !saved {
                saved = true;
                let editor = r#"{"mcpServers":{"a":{"command":"sh","disabled":true}},"editor":1}"#;
                std::fs::write(&path, editor).unwrap();
            }
        }));
        store
            .edit(|root| {
                root.insert("api".into(), json!(2));
                Ok(())
            })
            .await
            .unwrap();
        let on_disk: Value =
            serde_json::from_str(&std::fs::read_to_string(store.path()).unwrap()).unwrap();
        assert_eq!(
            on_disk["editor"], 1,
            "the editor's save was overwritten: {on_disk}"
        );
        assert_eq!(on_disk["api"], 2, "the API's edit was lost: {on_disk}");
    }

    #[tokio::test]
    async fn a_file_that_never_settles_is_reported_not_overwritten() {
        let (_dir, store) = store_with(DISABLED);
        let path = store.path().to_owned();
        let mut n = 0;
        *store.before_compare.lock().unwrap() = Some(Box::new(move || {
            n += 1;
            std::fs::write(&path, format!(r#"{{"mcpServers":{{}},"n":{n}}}"#)).unwrap();
        }));
        let result = store.edit(|_| Ok(())).await;
        assert!(matches!(result, Err(EditError::Contended)), "{result:?}");
        let on_disk = std::fs::read_to_string(store.path()).unwrap();
        assert!(
            on_disk.contains(&format!("\"n\":{EDIT_ATTEMPTS}")),
            "{on_disk}"
        );
    }

    #[tokio::test]
    async fn own_write_is_applied_once_and_a_broken_file_is_kept() {
        let (_dir, store) = store_with(DISABLED);
        assert!(matches!(store.reload().await, Reload::Applied(_)));
        assert_eq!(store.reload().await, Reload::Unchanged);
        store
            .edit(|root| {
                root.insert("x".into(), json!(1));
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(
            store.reload().await,
            Reload::Unchanged,
            "the watcher's echo of our write"
        );

        std::fs::write(store.path(), "{ broken").unwrap();
        assert!(matches!(
            store.reload().await,
            Reload::Rejected(ConfigError::Syntax { .. })
        ));
        assert!(store.status().error.is_some());
        let refused = store.edit(|_| Ok(())).await;
        assert!(
            matches!(refused, Err(EditError::FileBroken(_))),
            "{refused:?}"
        );
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), "{ broken");
    }

    /// A hand-written servers.json: comments, trailing commas, an inline entry, odd spacing.
    const JSONC: &str = r#"// Switchboard's servers
{
  "mine": 1, // not Switchboard's
  "mcpServers": {
    // the one I use most
    "a": { "command": "sh", "disabled": true, "x-note": "kept" },
    /* b is next */
    "b": {
      "command": "sh",
      "args": ["-c",   "true",], // trailing comma
    },
  },
}
"#;

    fn text_on_disk(store: &ConfigStore) -> String {
        std::fs::read_to_string(store.path()).unwrap()
    }

    #[tokio::test]
    async fn a_commented_file_with_trailing_commas_loads_and_applies() {
        let (_dir, store) = store_with(JSONC);
        assert!(matches!(store.reload().await, Reload::Applied(_)));
        assert!(store.status().error.is_none());
    }

    #[tokio::test]
    async fn setting_disabled_changes_only_that_value_and_keeps_the_comments() {
        let (_dir, store) = store_with(JSONC);
        assert!(!store.set_disabled("a", None).await.unwrap());
        assert_eq!(
            text_on_disk(&store),
            JSONC.replace(
                r#""disabled": true, "x-note""#,
                r#""disabled": false, "x-note""#
            )
        );
        assert!(store.set_disabled("a", None).await.unwrap());
        assert_eq!(text_on_disk(&store), JSONC, "flipped back, byte for byte");
    }

    #[tokio::test]
    async fn a_patch_changes_one_entry_and_undoing_it_restores_the_file() {
        let (_dir, store) = store_with(JSONC);
        store
            .patch_server(
                "b",
                &json!({ "tools": { "deny": ["x"] }, "args": ["-c", "false"] }),
            )
            .await
            .unwrap();
        assert_eq!(
            text_on_disk(&store),
            JSONC.replace(
                "      \"args\": [\"-c\",   \"true\",], // trailing comma\n",
                "      \"args\": [\"-c\",   \"false\",], // trailing comma\n      \"tools\": {\n        \"deny\": [\"x\"],\n      },\n"
            )
        );
        // Removing the last rule removes `tools`; the patch's null is never written.
        store
            .patch_server(
                "b",
                &json!({ "tools": { "deny": null }, "args": ["-c", "true"] }),
            )
            .await
            .unwrap();
        assert_eq!(text_on_disk(&store), JSONC);
    }

    #[tokio::test]
    async fn putting_and_removing_an_entry_keeps_the_others_byte_for_byte() {
        let (_dir, store) = store_with(JSONC);
        store
            .put_server("c", &json!({ "command": "sh", "args": ["-c", "sleep 1"] }))
            .await
            .unwrap();
        let with_c = JSONC.replace(
            "    },\n  },\n}\n",
            "    },\n    \"c\": {\n      \"command\": \"sh\",\n      \"args\": [\"-c\", \"sleep 1\"],\n    },\n  },\n}\n",
        );
        assert_eq!(text_on_disk(&store), with_c);
        // Replacing an entry rewrites only what differs in it.
        store
            .put_server(
                "a",
                &json!({ "command": "bash", "disabled": true, "x-note": "kept" }),
            )
            .await
            .unwrap();
        assert_eq!(
            text_on_disk(&store),
            with_c.replace(
                r#"{ "command": "sh", "disabled""#,
                r#"{ "command": "bash", "disabled""#
            )
        );
        store.remove_server("c").await.unwrap();
        store.remove_server("a").await.unwrap();
        assert_eq!(
            text_on_disk(&store),
            JSONC.replace(
                "    \"a\": { \"command\": \"sh\", \"disabled\": true, \"x-note\": \"kept\" },\n",
                ""
            ),
            "the comments above a removed entry stay"
        );
    }

    #[tokio::test]
    async fn an_import_adds_its_entries_below_the_others() {
        let (dir, store) = store_with(JSONC);
        let cursor = dir.path().join("mcp.json");
        std::fs::write(
            &cursor,
            r#"{"mcpServers":{"time":{"command":"uvx","args":["mcp-server-time"]}}}"#,
        )
        .unwrap();
        let gateway = crate::clients::GatewayTarget {
            base_url: "http://127.0.0.1:7427".into(),
            executable: "/usr/local/bin/switchboard".into(),
        };
        store
            .import_from_client(crate::clients::ClientKind::Cursor, &cursor, &gateway)
            .await
            .unwrap();
        assert_eq!(
            text_on_disk(&store),
            JSONC.replace(
                "    },\n  },\n}\n",
                "    },\n    \"time\": {\n      \"command\": \"uvx\",\n      \"args\": [\"mcp-server-time\"],\n    },\n  },\n}\n",
            )
        );
    }

    #[tokio::test]
    async fn a_new_or_empty_file_is_written_as_pretty_json() {
        let (_dir, store) = store_with("");
        store
            .put_server("a", &json!({ "command": "sh" }))
            .await
            .unwrap();
        let pretty =
            "{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": \"sh\"\n    }\n  }\n}\n";
        assert_eq!(text_on_disk(&store), pretty);
        std::fs::remove_file(store.path()).unwrap();
        store
            .put_server("a", &json!({ "command": "sh" }))
            .await
            .unwrap();
        assert_eq!(text_on_disk(&store), pretty);
    }

    #[tokio::test]
    async fn a_jsonc_syntax_error_is_reported_with_its_line_and_column_and_kept() {
        let broken = JSONC.replace(r#""mine": 1,"#, r#""mine": ,"#);
        let (_dir, store) = store_with(&broken);
        let Reload::Rejected(ConfigError::Syntax { line, column, .. }) = store.reload().await
        else {
            panic!("expected a syntax error");
        };
        assert_eq!((line, column), (3, 11));
        let refused = store.set_disabled("a", None).await;
        assert!(
            matches!(
                refused,
                Err(EditError::FileBroken(ConfigError::Syntax { line: 3, .. }))
            ),
            "{refused:?}"
        );
        assert_eq!(text_on_disk(&store), broken);
    }

    #[test]
    fn merge_patch_merges_replaces_and_removes() {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}, "keep": true});
        merge_patch(&mut target, &json!({"a": 5, "b": {"c": null, "e": 4}}));
        assert_eq!(target, json!({"a": 5, "b": {"d": 3, "e": 4}, "keep": true}));
    }

    #[test]
    fn merge_patch_never_writes_the_nulls_of_a_patch() {
        let mut target = json!({ "command": "x" });
        merge_patch(
            &mut target,
            &json!({ "tools": { "deny": null, "allow": ["a"] } }),
        );
        assert_eq!(
            target,
            json!({ "command": "x", "tools": { "allow": ["a"] } })
        );
        let mut scalar = json!(3);
        merge_patch(&mut scalar, &json!({ "a": null, "b": 1 }));
        assert_eq!(scalar, json!({ "b": 1 }));
    }

    #[test]
    fn merge_patch_keeps_key_order() {
        let mut target = json!({"z": 1, "a": 2, "m": 3});
        merge_patch(&mut target, &json!({"a": 9}));
        let keys: Vec<&String> = target.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }
}
