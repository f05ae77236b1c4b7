//! The gateway token: what a client on another machine must present when the user binds the
//! gateway beyond loopback.
//!
//! It comes from `gateway.token` in servers.json, or from a `token` file beside it that
//! `switchboard token` creates with 0600 permissions (so it need not sit in a file that is
//! often shared). The value is never logged.

use std::path::{Path, PathBuf};

/// Why the token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read or write the token file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the token file {0} can be read by other users; run `chmod 600 {0}`")]
    TooOpen(PathBuf),
    #[error("the token file {0} is empty")]
    Empty(PathBuf),
}

/// The token file that belongs to `config_file`.
pub fn token_file(config_file: &Path) -> PathBuf {
    config_file.with_file_name("token")
}

/// Reads the token file, if there is one; refuses a file others can read.
pub fn read(path: &Path) -> Result<Option<String>, TokenError> {
    let io = |source| TokenError::Io {
        path: path.to_owned(),
        source,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(TokenError::TooOpen(path.to_owned()));
        }
    }
    let token = text.trim().to_owned();
    if token.is_empty() {
        return Err(TokenError::Empty(path.to_owned()));
    }
    Ok(Some(token))
}

/// Returns the token of the file, creating the file with a new random token (0600) first
/// when it does not exist.
pub fn read_or_create(path: &Path) -> Result<String, TokenError> {
    if let Some(token) = read(path)? {
        return Ok(token);
    }
    let io = |source| TokenError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    std::io::Write::write_all(&mut file, format!("{token}\n").as_bytes()).map_err(io)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        assert!(read(&path).unwrap().is_none());
        let token = read_or_create(&path).unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(read_or_create(&path).unwrap(), token, "not regenerated");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read(&path), Err(TokenError::TooOpen(_))));
    }
}
