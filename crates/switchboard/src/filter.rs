//! Per-server tool filter: `tools.allow` / `tools.deny` glob patterns.
//!
//! A tool is exposed when it matches `allow` (if present) and does not match `deny`.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::ToolRules;

/// Compiled [`ToolRules`]. Cheap to test against; rebuilt when the file changes.
#[derive(Debug, Clone)]
pub struct ToolFilter {
    allow: Option<GlobSet>,
    deny: GlobSet,
}

impl ToolFilter {
    /// Compiles the rules. Patterns were validated when the file was loaded, so an invalid one
    /// here can only come from a caller that skipped validation; it then matches nothing.
    pub fn new(rules: &ToolRules) -> Self {
        Self {
            allow: rules.allow.as_deref().map(build),
            deny: build(&rules.deny),
        }
    }

    /// Everything exposed.
    pub fn allow_all() -> Self {
        Self::new(&ToolRules::default())
    }

    pub fn exposes(&self, tool: &str) -> bool {
        self.allow.as_ref().is_none_or(|set| set.is_match(tool)) && !self.deny.is_match(tool)
    }
}

fn build(patterns: &[String]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        match Glob::new(pattern) {
            Ok(glob) => {
                builder.add(glob);
            }
            Err(e) => tracing::warn!(%pattern, error = %e, "ignoring invalid tool pattern"),
        }
    }
    builder.build().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "tool patterns could not be compiled; matching none");
        GlobSet::empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: Option<&[&str]>, deny: &[&str]) -> ToolRules {
        ToolRules {
            allow: allow.map(|a| a.iter().map(|s| s.to_string()).collect()),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn no_rules_expose_everything() {
        assert!(ToolFilter::allow_all().exposes("anything"));
    }

    #[test]
    fn allow_list_limits_and_globs_match() {
        let f = ToolFilter::new(&rules(Some(&["echo", "get_*"]), &[]));
        assert!(f.exposes("echo"));
        assert!(f.exposes("get_time"));
        assert!(!f.exposes("add"));
    }

    #[test]
    fn deny_wins_over_allow() {
        let f = ToolFilter::new(&rules(Some(&["get_*"]), &["get_env"]));
        assert!(f.exposes("get_time"));
        assert!(!f.exposes("get_env"));
    }

    #[test]
    fn deny_alone_hides_only_matches() {
        let f = ToolFilter::new(&rules(None, &["*_dangerous"]));
        assert!(f.exposes("echo"));
        assert!(!f.exposes("rm_dangerous"));
    }

    #[test]
    fn empty_allow_list_exposes_nothing() {
        let f = ToolFilter::new(&rules(Some(&[]), &[]));
        assert!(!f.exposes("echo"));
    }
}
