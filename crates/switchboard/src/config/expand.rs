//! `${env:VAR}` and `${secret:NAME}` expansion in launch fields.
//!
//! Expansion happens when a server is started, not when the file is loaded, so that a
//! missing variable or secret fails that one server (with a message naming it) instead of the
//! file. Secrets come from the keychain (`switchboard secret set NAME`), read by the caller
//! before expanding (see [`secret_refs`]).

use std::collections::BTreeMap;

/// Why a value could not be expanded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ExpandError {
    #[error("environment variable {var} is not set (referenced as ${{env:{var}}})")]
    Unset { var: String },
    #[error("secret {name} is not stored (referenced as ${{secret:{name}}}): store it with `switchboard secret set {name}`")]
    NoSecret { name: String },
    #[error("unterminated ${{env:…}} or ${{secret:…}} reference in {value:?}")]
    Unterminated { value: String },
}

const ENV: &str = "${env:";
const SECRET: &str = "${secret:";

/// Replaces every `${env:NAME}` in `value` using `env`, and every `${secret:NAME}` using
/// `secret`; any other `${` is kept as written.
pub fn expand_refs(
    value: &str,
    env: impl Fn(&str) -> Option<String>,
    secret: impl Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let at = &rest[start..];
        let (open, is_secret) = if at.starts_with(ENV) {
            (ENV, false)
        } else if at.starts_with(SECRET) {
            (SECRET, true)
        } else {
            out.push_str("${");
            rest = &at[2..];
            continue;
        };
        let after = &at[open.len()..];
        let end = after.find('}').ok_or_else(|| ExpandError::Unterminated {
            value: value.to_owned(),
        })?;
        let name = &after[..end];
        let resolved = if is_secret {
            secret(name).ok_or_else(|| ExpandError::NoSecret {
                name: name.to_owned(),
            })?
        } else {
            env(name).ok_or_else(|| ExpandError::Unset {
                var: name.to_owned(),
            })?
        };
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// [`expand_refs`] with `${env:…}` only (a `${secret:…}` is an error: none is at hand).
pub fn expand_with(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    expand_refs(value, lookup, |_| None)
}

/// [`expand_with`] against the process environment.
pub fn expand(value: &str) -> Result<String, ExpandError> {
    expand_with(value, |var| std::env::var(var).ok())
}

/// Expands against the process environment and the secrets read beforehand.
pub fn expand_with_secrets(
    value: &str,
    secrets: &BTreeMap<String, String>,
) -> Result<String, ExpandError> {
    expand_refs(
        value,
        |var| std::env::var(var).ok(),
        |name| secrets.get(name).cloned(),
    )
}

/// The names of the `${secret:NAME}` references in `value`.
pub fn secret_refs(value: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find(SECRET) {
        let after = &rest[start + SECRET.len()..];
        let Some(end) = after.find('}') else { break };
        names.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        (var == "HOME").then(|| "/home/u".to_owned())
    }

    #[test]
    fn references_are_replaced_and_text_kept() {
        assert_eq!(
            expand_with("${env:HOME}/x:${env:HOME}", env).unwrap(),
            "/home/u/x:/home/u"
        );
        assert_eq!(expand_with("plain $HOME", env).unwrap(), "plain $HOME");
    }

    #[test]
    fn unset_variable_is_named() {
        let err = expand_with("${env:API_KEY}", env).unwrap_err();
        assert_eq!(
            err,
            ExpandError::Unset {
                var: "API_KEY".into()
            }
        );
        assert!(err.to_string().contains("API_KEY"));
    }

    #[test]
    fn secrets_are_replaced_named_when_missing_and_listed() {
        let secret = |name: &str| (name == "GH").then(|| "ghp_1".to_owned());
        assert_eq!(
            expand_refs("Bearer ${secret:GH} ${env:HOME} ${other}", env, secret).unwrap(),
            "Bearer ghp_1 /home/u ${other}"
        );
        let err = expand_refs("${secret:NOPE}", env, secret).unwrap_err();
        assert!(
            err.to_string().contains("switchboard secret set NOPE"),
            "{err}"
        );
        assert_eq!(
            secret_refs("${secret:A}-${env:B}-${secret:C}"),
            ["A".to_owned(), "C".to_owned()]
        );
        assert!(matches!(
            expand("${secret:A}"),
            Err(ExpandError::NoSecret { .. })
        ));
    }

    #[test]
    fn unterminated_reference_is_an_error() {
        assert!(matches!(
            expand_with("${env:HOME", env),
            Err(ExpandError::Unterminated { .. })
        ));
    }
}
