//! `${env:VAR}` expansion in launch fields.
//!
//! Expansion happens when a server is spawned, not when the file is loaded, so that a
//! missing variable fails that one server (with a message naming it) instead of the file.

/// Why a value could not be expanded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ExpandError {
    #[error("environment variable {var} is not set (referenced as ${{env:{var}}})")]
    Unset { var: String },
    #[error("unterminated ${{env:…}} reference in {value:?}")]
    Unterminated { value: String },
}

/// Replaces every `${env:NAME}` in `value` using `lookup`.
pub fn expand_with(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    const OPEN: &str = "${env:";
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after.find('}').ok_or_else(|| ExpandError::Unterminated {
            value: value.to_owned(),
        })?;
        let var = &after[..end];
        let resolved = lookup(var).ok_or_else(|| ExpandError::Unset {
            var: var.to_owned(),
        })?;
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// [`expand_with`] against the process environment.
pub fn expand(value: &str) -> Result<String, ExpandError> {
    expand_with(value, |var| std::env::var(var).ok())
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
    fn unterminated_reference_is_an_error() {
        assert!(matches!(
            expand_with("${env:HOME", env),
            Err(ExpandError::Unterminated { .. })
        ));
    }
}
