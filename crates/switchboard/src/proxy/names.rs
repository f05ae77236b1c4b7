//! Names at the aggregate endpoint: `server__name` for tools and prompts, resource templates
//! matched against URIs (resources keep their URIs), and the `?servers=` views.

use std::collections::BTreeSet;

/// Separates the server name from the tool or prompt name. Server names cannot contain it.
pub const SEPARATOR: &str = "__";

/// Why a `?servers=` list was refused (the gateway answers it as `invalid_view`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Name(#[from] crate::config::ServerNameError),
    /// Only commas and spaces: an empty view would list nothing, which is never what was meant.
    #[error("servers= names no server; leave it out to see all")]
    Empty,
}

/// Which servers an aggregate session sees: all, or a named few (`/mcp?servers=a,b`); and
/// whether it lists their tools or the search meta-tools (`?mode=search`, `proxy::search`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct View(Option<BTreeSet<String>>, Mode);

/// How an aggregate endpoint offers its tools.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
enum Mode {
    /// Every tool, in `tools/list`.
    #[default]
    All,
    /// Three meta-tools that search, describe and call them.
    Search,
}

impl View {
    pub fn all() -> Self {
        Self(None, Mode::All)
    }

    /// The same view in search mode.
    pub fn searching(self) -> Self {
        Self(self.0, Mode::Search)
    }

    pub fn is_search(&self) -> bool {
        self.1 == Mode::Search
    }

    /// Parses `a,b` (spaces and empty items ignored).
    pub fn parse(list: &str) -> Result<Self, ViewError> {
        let mut names = BTreeSet::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            crate::config::check_server_name(name)?;
            names.insert(name.to_owned());
        }
        if names.is_empty() {
            return Err(ViewError::Empty);
        }
        Ok(Self(Some(names), Mode::All))
    }

    pub fn includes(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|names| names.contains(name))
    }

    /// A stable key for caching per-view services.
    pub fn key(&self) -> String {
        let servers = self.servers();
        match self.1 {
            Mode::All => servers,
            Mode::Search => format!("{servers}?search"),
        }
    }

    /// The servers as `?servers=` names them (`*`: all).
    pub fn servers(&self) -> String {
        match &self.0 {
            None => "*".into(),
            Some(names) => names.iter().cloned().collect::<Vec<_>>().join(","),
        }
    }
}

/// `server__name`
pub fn qualified(server: &str, name: &str) -> String {
    format!("{server}{SEPARATOR}{name}")
}

/// Splits `server__name` at the first separator.
pub fn split_qualified(name: &str) -> Option<(&str, &str)> {
    name.split_once(SEPARATOR)
        .filter(|(server, rest)| !server.is_empty() && !rest.is_empty())
}

/// Whether `uri` is an instance of the RFC 6570 `template` (simple expansions only: each
/// `{var}` matches any run of characters up to the next literal part).
pub fn template_matches(template: &str, uri: &str) -> bool {
    let mut literals = Vec::new();
    let mut rest = template;
    let starts_with_var = template.starts_with('{');
    while let Some(open) = rest.find('{') {
        if open > 0 {
            literals.push(&rest[..open]);
        }
        match rest[open..].find('}') {
            Some(close) => rest = &rest[open + close + 1..],
            None => return template == uri,
        }
    }
    let ends_with_var = rest.is_empty() && template.ends_with('}');
    if !rest.is_empty() {
        literals.push(rest);
    }
    if literals.is_empty() {
        return true; // "{+anything}"
    }
    let mut position = 0;
    for (i, literal) in literals.iter().enumerate() {
        let anchored_start = i == 0 && !starts_with_var;
        let anchored_end = i == literals.len() - 1 && !ends_with_var;
        if anchored_start {
            if !uri.starts_with(literal) {
                return false;
            }
            position = literal.len();
        } else if anchored_end {
            return uri.len() >= position + literal.len() && uri[position..].ends_with(literal);
        } else {
            match uri[position..].find(literal) {
                Some(at) => position += at + literal.len(),
                None => return false,
            }
        }
    }
    ends_with_var || position == uri.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_split_at_the_first_separator() {
        assert_eq!(qualified("git", "log"), "git__log");
        assert_eq!(split_qualified("git__log"), Some(("git", "log")));
        assert_eq!(
            split_qualified("git__get__item"),
            Some(("git", "get__item"))
        );
        assert_eq!(split_qualified("nolabel"), None);
        assert_eq!(split_qualified("__x"), None);
        assert_eq!(split_qualified("x__"), None);
    }

    #[test]
    fn templates_match_their_instances_only() {
        let t = "demo://resource/dynamic/text/{resourceId}";
        assert!(template_matches(t, "demo://resource/dynamic/text/42"));
        assert!(!template_matches(t, "demo://resource/dynamic/blob/42"));
        assert!(!template_matches(t, "other://resource/dynamic/text/42"));
        let t = "file:///{path}/notes.md";
        assert!(template_matches(t, "file:///home/u/notes.md"));
        assert!(!template_matches(t, "file:///home/u/notes.txt"));
        assert!(template_matches("{uri}", "anything://at/all"));
        assert!(template_matches("a://{x}/b/{y}", "a://1/b/2"));
        assert!(!template_matches("a://{x}/b/{y}", "a://1/c/2"));
        assert!(template_matches("exact://uri", "exact://uri"));
        assert!(!template_matches("exact://uri", "exact://uri/more"));
    }

    #[test]
    fn views_parse_and_filter() {
        let view = View::parse("b, a,,a").unwrap();
        assert!(view.includes("a") && view.includes("b") && !view.includes("c"));
        assert_eq!(view.key(), "a,b");
        assert!(View::parse(" , ").is_err());
        assert!(View::parse("a/b").is_err());
        assert!(View::all().includes("anything"));
    }
}
