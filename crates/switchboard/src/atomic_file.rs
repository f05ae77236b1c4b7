//! Replacing a user's config file safely: the new text goes to a temp file beside it and is
//! renamed over, so a reader never sees half a file; the previous text is kept as a backup;
//! and a last check right before the rename makes sure nobody (an editor) saved in between,
//! so their save is never overwritten. Shared by servers.json and the AI clients' files.

use std::io::Write;
use std::path::{Path, PathBuf};

/// What happened to a replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    Written,
    /// The file no longer held the expected text: read it again and redo the change.
    ChangedUnderneath,
}

/// Writes `text` to `path` unless the file no longer holds `expected` (`None`: the file must
/// not exist). The previous text is first copied to `backup` (when given and there is one).
/// `before_compare` runs just before the last check (tests put a racing save there).
pub fn replace_if_unchanged(
    path: &Path,
    expected: Option<&str>,
    text: &str,
    backup: Option<&Path>,
    before_compare: impl FnOnce(),
) -> std::io::Result<Replaced> {
    let temp = temp_beside(path, text)?;
    if let (Some(previous), Some(backup)) = (expected, backup) {
        std::fs::write(backup, previous)?;
    }
    before_compare();
    // As close to the rename as possible. No lock is shared with editors, so a save within
    // the two syscalls below cannot be seen.
    let current = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if current.as_deref() != expected {
        return Ok(Replaced::ChangedUnderneath);
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(Replaced::Written)
}

/// Writes `text` to `path` by temp file + rename, whatever the file holds now: for the files
/// only Switchboard writes (the install records, the instance record), which no editor has
/// open, but which a reader must never see half written.
pub fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    temp_beside(path, text)?
        .persist(path)
        .map(|_| ())
        .map_err(|e| e.error)
}

/// `text` in a synced temp file in `path`'s directory (so the rename stays on one file
/// system), with the permissions `path` has now, if it exists (a new file is 0600).
fn temp_beside(path: &Path, text: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(&dir)?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(temp.path(), meta.permissions());
    }
    Ok(temp)
}

/// Reads a file that may not exist.
pub fn read_optional(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_with_a_backup_and_refuses_when_changed_underneath() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        let backup = dir.path().join("f.json.bak");
        assert_eq!(
            replace_if_unchanged(&path, None, "one", Some(&backup), || {}).unwrap(),
            Replaced::Written
        );
        assert!(!backup.exists(), "nothing to back up yet");
        assert_eq!(
            replace_if_unchanged(&path, Some("one"), "two", Some(&backup), || {}).unwrap(),
            Replaced::Written
        );
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), "one");
        let raced = replace_if_unchanged(&path, Some("two"), "three", None, || {
            std::fs::write(&path, "editor").unwrap();
        })
        .unwrap();
        assert_eq!(raced, Replaced::ChangedUnderneath);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "editor");
    }
}
