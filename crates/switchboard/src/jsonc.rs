//! Editing JSON-with-comments files in place, through `jsonc-parser`'s concrete syntax tree.
//!
//! A change touches only the values it changes: everything else (other keys, their order,
//! comments, indentation, blank lines, trailing commas) stays as the user wrote it, byte for
//! byte. Used for the clients' config files (`clients::file`) and for servers.json
//! (`config::edit`). What jsonc-parser writes for a new or replaced value follows the file's
//! indentation and trailing-comma style; an object that gains a property is made multi-line.

use jsonc_parser::cst::{CstArray, CstInputValue, CstNode, CstObject, CstObjectProp};
use jsonc_parser::ParseOptions;
use serde_json::{Map, Value};

/// JSON plus `//` and `/* */` comments and trailing commas, and nothing else (no single
/// quotes, unquoted keys, hexadecimal numbers, …): what VS Code calls JSONC, so a file we
/// accept also opens cleanly in the editors.
pub const JSONC: ParseOptions = ParseOptions {
    allow_comments: true,
    allow_trailing_commas: true,
    allow_loose_object_property_names: false,
    allow_missing_commas: false,
    allow_single_quoted_strings: false,
    allow_hexadecimal_numbers: false,
    allow_unary_plus_numbers: false,
    allow_bare_decimal_point_numbers: false,
    allow_non_finite_numbers: false,
    allow_extended_string_escapes: false,
};

/// A serde value as a CST input value.
pub fn to_input(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(to_input).collect()),
        Value::Object(map) => {
            CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), to_input(v))).collect())
        }
    }
}

/// The property `name` of `object` that counts: the last one, as a JSON reader takes the
/// last of duplicate keys.
fn property(object: &CstObject, name: &str) -> Option<CstObjectProp> {
    object
        .properties()
        .into_iter()
        .rfind(|prop| prop.decoded_name().as_deref() == Some(name))
}

/// Replaces the value of property `name` (in place, whole), or appends the property.
pub fn set_property(object: &CstObject, name: &str, value: &Value) {
    match property(object, name) {
        Some(prop) => prop.set_value(to_input(value)),
        None => {
            object.append(name, to_input(value));
        }
    }
}

/// Removes property `name` (every copy of it); returns whether there was one. The comments
/// on the lines above it stay (they may be about more than this property); one after it on
/// its line goes with it.
pub fn remove_property(object: &CstObject, name: &str) -> bool {
    let mut found = false;
    for prop in object.properties() {
        if prop.decoded_name().as_deref() == Some(name) {
            prop.remove();
            found = true;
        }
    }
    found
}

/// Makes `object` hold `wanted`, changing only what differs: properties not in `wanted` are
/// removed, new ones appended (in `wanted`'s order), and a changed value is updated the same
/// way when both are objects (or arrays of the same length), else replaced. Properties that
/// are equal are not touched, so their text, and everything around them, stays as it is.
pub fn update_object(object: &CstObject, wanted: &Map<String, Value>) {
    for prop in object.properties() {
        if prop
            .decoded_name()
            .is_some_and(|name| !wanted.contains_key(&name))
        {
            prop.remove();
        }
    }
    for (name, value) in wanted {
        match property(object, name) {
            Some(prop) => update_property(&prop, value),
            None => {
                object.append(name, to_input(value));
            }
        }
    }
}

fn update_property(prop: &CstObjectProp, wanted: &Value) {
    let Some(current) = prop.value() else {
        prop.set_value(to_input(wanted));
        return;
    };
    if current.to_serde_value().as_ref() == Some(wanted) {
        return;
    }
    if !update_in_place(&current, wanted) {
        prop.set_value(to_input(wanted));
    }
}

/// Updates container `node` towards `wanted` when both are objects, or arrays of the same
/// length; returns false (nothing done) otherwise.
fn update_in_place(node: &CstNode, wanted: &Value) -> bool {
    match (node.as_object(), node.as_array(), wanted) {
        (Some(object), _, Value::Object(wanted)) => {
            update_object(&object, wanted);
            true
        }
        (_, Some(array), Value::Array(wanted)) if array.elements().len() == wanted.len() => {
            update_array(&array, wanted);
            true
        }
        _ => false,
    }
}

fn update_array(array: &CstArray, wanted: &[Value]) {
    for (element, value) in array.elements().into_iter().zip(wanted) {
        if element.to_serde_value().as_ref() == Some(value) || update_in_place(&element, value) {
            continue;
        }
        replace(element, value);
    }
}

/// Replaces the value `node` (an array element) with `value`.
fn replace(node: CstNode, value: &Value) {
    let input = to_input(value);
    if let Some(n) = node.as_object() {
        n.replace_with(input);
    } else if let Some(n) = node.as_array() {
        n.replace_with(input);
    } else if let Some(n) = node.as_string_lit() {
        n.replace_with(input);
    } else if let Some(n) = node.as_number_lit() {
        n.replace_with(input);
    } else if let Some(n) = node.as_boolean_lit() {
        n.replace_with(input);
    } else if let Some(n) = node.as_null_keyword() {
        n.replace_with(input);
    } else if let Some(n) = node.as_word_lit() {
        n.replace_with(input);
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`, as editors count
/// them: `\n`, `\r\n` and a lone `\r` each end a line.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let (mut line, mut column) = (1, 1);
    let mut chars = text[..end].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => (line, column) = (line + 1, 1),
            '\r' if chars.peek() != Some(&'\n') => (line, column) = (line + 1, 1),
            '\r' => {}
            _ => column += 1,
        }
    }
    (line, column)
}

/// The byte offset of the first raw control character (U+0000 to U+001F) inside a string of
/// `text`, which JSON does not allow (they must be escaped: `\n`, `\t`, `\u0001`) but
/// jsonc-parser accepts. `text` must have parsed.
pub fn control_character_in_string(text: &str) -> Option<usize> {
    #[derive(PartialEq)]
    enum In {
        Code,
        String,
        LineComment,
        BlockComment,
    }
    let mut state = In::Code;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match state {
            In::Code => match (c, chars.peek().map(|&(_, next)| next)) {
                ('"', _) => state = In::String,
                ('/', Some('/')) => state = In::LineComment,
                ('/', Some('*')) => {
                    chars.next();
                    state = In::BlockComment;
                }
                _ => {}
            },
            In::String => match c {
                '"' => state = In::Code,
                '\\' => {
                    if let Some(&(j, escaped)) = chars.peek() {
                        if escaped < ' ' {
                            return Some(j);
                        }
                        chars.next();
                    }
                }
                c if c < ' ' => return Some(i),
                _ => {}
            },
            In::LineComment if c == '\n' || c == '\r' => state = In::Code,
            In::BlockComment if c == '*' && chars.peek().map(|&(_, n)| n) == Some('/') => {
                chars.next();
                state = In::Code;
            }
            In::LineComment | In::BlockComment => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonc_parser::cst::CstRootNode;
    use serde_json::json;

    const FILE: &str = r#"{
  // header
  "keep": [1, /* one */ 2], // same line
  "edit": {
    "a": 1, // about a
    "b": [ "x", /* why */ "y" ],
  },
}
"#;

    fn updated(text: &str, wanted: Value) -> String {
        let root = CstRootNode::parse(text, &JSONC).unwrap();
        update_object(&root.object_value().unwrap(), wanted.as_object().unwrap());
        let out = root.to_string();
        assert_eq!(
            CstRootNode::parse(&out, &JSONC).unwrap().to_serde_value(),
            Some(wanted),
            "{out}"
        );
        out
    }

    #[test]
    fn updating_to_the_same_value_changes_nothing() {
        let same = CstRootNode::parse(FILE, &JSONC)
            .unwrap()
            .to_serde_value()
            .unwrap();
        assert_eq!(updated(FILE, same), FILE);
    }

    #[test]
    fn an_update_touches_only_the_values_that_differ() {
        let out = updated(
            FILE,
            json!({ "keep": [1, 2], "edit": { "a": 1, "b": ["x", "z"], "c": true } }),
        );
        assert!(
            out.starts_with("{\n  // header\n  \"keep\": [1, /* one */ 2], // same line\n"),
            "{out}"
        );
        assert!(out.contains("\"a\": 1, // about a\n"), "{out}");
        assert!(out.contains("[ \"x\", /* why */ \"z\" ]"), "{out}");
        assert!(out.contains("\"c\": true,\n  },\n}\n"), "{out}");
    }

    #[test]
    fn removed_keys_go_and_a_changed_type_is_replaced() {
        let out = updated(
            FILE,
            json!({ "keep": [1, 2], "edit": ["now", "a", "list"] }),
        );
        assert!(out.contains("// header"), "{out}");
        assert!(!out.contains("about a"), "{out}");
        let out = updated(FILE, json!({ "edit": { "b": ["x", "y"] } }));
        assert!(!out.contains("keep"), "{out}");
        assert!(out.contains("\"b\": [ \"x\", /* why */ \"y\" ]"), "{out}");
    }

    #[test]
    fn the_last_of_duplicate_keys_is_the_one_updated() {
        let out = updated(r#"{"a": 1, "a": 2}"#, json!({ "a": 3 }));
        assert_eq!(out, r#"{"a": 1, "a": 3}"#);
        let root = CstRootNode::parse(r#"{"a": 1, "b": 0, "a": 2}"#, &JSONC).unwrap();
        assert!(remove_property(&root.object_value().unwrap(), "a"));
        assert_eq!(root.to_string(), r#"{ "b": 0}"#);
    }

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "{\n  \"é\": x\r\n\r y";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, text.find('x').unwrap()), (2, 8));
        assert_eq!(line_column(text, text.find('y').unwrap()), (4, 2));
        assert_eq!(line_column(text, 1000), (4, 3));
    }

    #[test]
    fn raw_control_characters_are_found_only_inside_strings() {
        assert_eq!(control_character_in_string("{\n\t\"a\": \"b\"\n}"), None);
        assert_eq!(control_character_in_string("{\"a\": \"x\ty\"}"), Some(8));
        assert_eq!(control_character_in_string("{\"a\\\"\t\": 1}"), Some(5));
        assert_eq!(
            control_character_in_string("{ // \"\t\n \"a\": /* \" */ \"\\\\\" }"),
            None
        );
    }
}
