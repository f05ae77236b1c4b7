//! JSON-RPC messages as the gateway reads them (a client's POST body, a child's stdout line),
//! and the pure helpers of the aggregate endpoint that take names and URIs from clients.
//!
//! - `ClientJsonRpcMessage` (what clients send) and `ServerJsonRpcMessage` (what children send)
//!   parse without panicking; what parses serialises, and the serialised form parses back to
//!   the same JSON (the proxy re-serialises every message it forwards). The round trip starts
//!   from the input's JSON value: duplicated keys make rmcp read a message as a custom one the
//!   first time and as the typed one the next, which is rmcp's business and harmless;
//! - a `ServerResult` is re-read as the typed results the proxy expects (`proxy::reread`);
//! - the input as text: `View::parse` (`?servers=`), `split_qualified`/`qualified`
//!   (`server__tool`), `template_matches` (resource templates): no panic, and
//!   `split_qualified` inverts `qualified`, a view includes exactly the names it parsed, and
//!   a template matches each of its own expansions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmcp::model::{
    CallToolResult, ClientJsonRpcMessage, GetPromptResult, ListToolsResult, ReadResourceResult,
    ServerJsonRpcMessage, ServerResult,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use switchboard::fuzzing::{qualified, reread, split_qualified, template_matches, View};

fuzz_target!(|data: &[u8]| {
    round_trip::<ClientJsonRpcMessage>(data, "ClientJsonRpcMessage");
    round_trip::<ServerJsonRpcMessage>(data, "ServerJsonRpcMessage");
    if let Ok(result) = serde_json::from_slice::<ServerResult>(data) {
        let _ = reread::<CallToolResult>("fuzz", result.clone());
        let _ = reread::<ListToolsResult>("fuzz", result.clone());
        let _ = reread::<GetPromptResult>("fuzz", result.clone());
        let _ = reread::<ReadResourceResult>("fuzz", result);
    }

    let text = String::from_utf8_lossy(data);
    names(&text);
    let (template, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = template_matches(template, rest);
    expansions_match(template, rest);
});

fn round_trip<T: Serialize + DeserializeOwned>(data: &[u8], what: &str) {
    let _ = serde_json::from_slice::<T>(data);
    // From the JSON value rather than the bytes: with a duplicated key, typed parsing fails and
    // rmcp keeps the message as a custom one, while the value (last key wins) parses typed.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(message) = serde_json::from_value::<T>(value) else {
        return;
    };
    let first = match serde_json::to_value(&message) {
        Ok(value) => value,
        Err(e) => panic!("a parsed {what} does not serialise: {e}"),
    };
    let again: T = match serde_json::from_value(first.clone()) {
        Ok(m) => m,
        Err(e) => panic!("a serialised {what} does not parse back: {e}\n{first}"),
    };
    let second = serde_json::to_value(&again).expect("serialises");
    assert_eq!(first, second, "{what} changed in a round trip");
}

fn names(text: &str) {
    if let Some((server, name)) = split_qualified(text) {
        assert!(!server.is_empty() && !name.is_empty());
        assert_eq!(
            qualified(server, name),
            text,
            "split_qualified is not inverted"
        );
        assert!(!server.contains("__"));
    }
    match View::parse(text) {
        Ok(view) => {
            let listed: Vec<&str> = text
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect();
            assert!(!listed.is_empty());
            for name in &listed {
                assert!(view.includes(name), "view {text:?} excludes {name:?}");
                assert!(switchboard::config::check_server_name(name).is_ok());
            }
            let key = view.key();
            assert_eq!(
                View::parse(&key).ok(),
                Some(view),
                "the view key does not parse back"
            );
        }
        Err(why) => assert!(!why.to_string().is_empty()),
    }
}

/// Expands each `{var}` of `template` with one of the `|`-separated `values` and checks that the
/// template matches the result (only for templates whose every `{` is closed).
fn expansions_match(template: &str, values: &str) {
    let mut values = values.split('|').cycle();
    let mut uri = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        uri.push_str(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => {
                uri.push_str(values.next().unwrap_or(""));
                rest = &rest[open + close + 1..];
            }
            None => return,
        }
    }
    uri.push_str(rest);
    assert!(
        template_matches(template, &uri),
        "template {template:?} does not match its expansion {uri:?}"
    );
}
