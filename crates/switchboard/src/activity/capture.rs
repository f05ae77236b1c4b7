//! What capture keeps of a request's params or its answer: the JSON with the values of keys
//! that name secrets replaced, cut to the configured length.

use serde_json::Value;

/// Key names (lower-cased, `-` and `_` removed) whose values are never stored.
const SECRET_KEYS: [&str; 10] = [
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "privatekey",
    "accesskey",
];

fn names_a_secret(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    // `progressToken` is the protocol's, not a secret.
    key != "progresstoken" && SECRET_KEYS.iter().any(|secret| key.contains(secret))
}

/// `value` with every secret-named key's value replaced by `"[redacted]"`, at any depth.
pub fn redacted(mut value: Value) -> Value {
    redact(&mut value);
    value
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if names_a_secret(key) && !value.is_null() {
                    *value = Value::String("[redacted]".into());
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The JSON text of `value`, redacted and cut to `limit` bytes (on a character boundary,
/// saying how long it was).
pub fn capture(value: Value, limit: usize) -> String {
    let text = redacted(value).to_string();
    cut(text, limit)
}

/// `bytes` of JSON as captured (see [`capture`]); text that is not JSON is cut as it is.
pub fn capture_bytes(bytes: &[u8], limit: usize) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => capture(value, limit),
        Err(_) => cut(String::from_utf8_lossy(bytes).into_owned(), limit),
    }
}

fn cut(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let total = text.len();
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("… ({total} bytes, cut)"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_of_secret_named_keys_are_redacted_at_any_depth() {
        let value = json!({
            "name": "login",
            "arguments": {"user": "ann", "password": "hunter2", "nested": [{"api_key": "k", "Authorization": "Bearer x"}]},
            "_meta": {"progressToken": 7, "x-auth-token": "t"}
        });
        let text = capture(value, 10_000);
        for secret in ["hunter2", "\"k\"", "Bearer x", "\"t\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("\"user\":\"ann\""));
        assert!(text.contains("\"progressToken\":7"));
    }

    #[test]
    fn long_captures_are_cut_on_a_character_boundary_and_say_so() {
        let text = capture(json!({"text": "é".repeat(100)}), 20);
        assert!(text.starts_with("{\"text\":\"é"));
        assert!(text.ends_with("bytes, cut)"), "{text}");
        assert!(text.len() < 60);
    }
}
