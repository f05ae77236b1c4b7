//! Changing servers.json's text the way a careful hand would: an edit sees the file as a JSON
//! object and changes that; the text written back is the file as it was, with only the values
//! the edit changed rewritten (see `crate::jsonc`). Comments, trailing commas, key order,
//! indentation and every untouched entry stay byte for byte. A file that does not exist yet,
//! or holds only whitespace, is written as pretty JSON with 2-space indentation.

use std::path::Path;

use jsonc_parser::cst::CstRootNode;
use serde_json::{Map, Value};

use super::ConfigError;
use crate::jsonc;

/// servers.json opened for an edit. Not `Send` (the syntax tree is reference-counted): open,
/// edit and take the text without an `.await` in between.
pub struct Document {
    /// `None`: no file yet (or only whitespace).
    tree: Option<CstRootNode>,
    /// The top-level object, as the edits see and change it.
    pub root: Map<String, Value>,
}

impl Document {
    /// Opens `text`, the contents of `path` (`None`: no file). A file that does not parse, or
    /// whose top level is not an object, is refused with the loader's error (file and line and
    /// column, or key), so it is never overwritten.
    pub fn open(path: &Path, text: Option<&str>) -> Result<Self, ConfigError> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(Self {
                tree: None,
                root: Map::new(),
            });
        };
        let broken = || {
            super::parse(path, text)
                .err()
                .unwrap_or_else(|| ConfigError::Invalid {
                    path: path.to_owned(),
                    key: "(top level)".into(),
                    message: "expected a JSON object".into(),
                })
        };
        let tree = CstRootNode::parse(text, &jsonc::JSONC).map_err(|_| broken())?;
        let root = match tree.object_value().and_then(|o| o.to_serde_value()) {
            Some(Value::Object(root)) => root,
            // A file of comments only: the edit starts an object below them.
            None if tree.value().is_none() => Map::new(),
            _ => return Err(broken()),
        };
        Ok(Self {
            tree: Some(tree),
            root,
        })
    }

    /// The text to write: the file with `root`'s changes made in place.
    pub fn text(&self) -> String {
        match &self.tree {
            Some(tree) => {
                jsonc::update_object(&tree.object_value_or_set(), &self.root);
                tree.to_string()
            }
            None => {
                let mut text = serde_json::to_string_pretty(&self.root)
                    .unwrap_or_else(|_| unreachable!("a JSON map serialises"));
                text.push('\n');
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p() -> &'static Path {
        Path::new("/tmp/servers.json")
    }

    #[test]
    fn an_untouched_document_is_written_back_unchanged() {
        let text = "// mine\n{ \"mcpServers\": { \"a\": { \"command\": \"sh\" }, }, }";
        let doc = Document::open(p(), Some(text)).unwrap();
        assert_eq!(doc.text(), text);
    }

    #[test]
    fn a_new_empty_or_comment_only_file_gets_a_pretty_object() {
        for text in [None, Some(""), Some("  \n")] {
            let mut doc = Document::open(p(), text).unwrap();
            doc.root
                .insert("mcpServers".into(), json!({ "a": { "command": "sh" } }));
            assert_eq!(
                doc.text(),
                "{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": \"sh\"\n    }\n  }\n}\n",
                "{text:?}"
            );
        }
        let mut doc = Document::open(p(), Some("// servers go below\n")).unwrap();
        doc.root.insert("mcpServers".into(), json!({}));
        let text = doc.text();
        assert!(text.starts_with("// servers go below\n{"), "{text}");
        assert!(super::super::parse(p(), &text).is_ok(), "{text}");
    }

    #[test]
    fn a_broken_file_or_one_that_is_not_an_object_is_refused_with_the_loaders_error() {
        let Err(ConfigError::Syntax { line, .. }) = Document::open(p(), Some("{\n  \"a\": ,\n}"))
        else {
            panic!("expected a syntax error");
        };
        assert_eq!(line, 2);
        assert!(matches!(
            Document::open(p(), Some("[1, 2]")),
            Err(ConfigError::Invalid { key, .. }) if key == "(top level)"
        ));
    }
}
