//! Reading and validating `servers.json`.
//!
//! The file is JSONC: JSON with `//` and `/* */` comments and trailing commas. Every error
//! names the file and either the line and column (syntax) or the key path
//! (`mcpServers.git.args[1]`) with what was expected, because the user fixes it by hand.

use std::path::{Path, PathBuf};

use jsonc_parser::cst::CstRootNode;
use serde::Serialize;

use super::model::{ServerSpec, ServersFile, TransportKind};
use crate::jsonc;

/// Why a `servers.json` could not be used. The running config is kept when this happens.
#[derive(Debug, Clone, thiserror::Error, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        /// Dotted key path, such as `mcpServers.git.args[1]`.
        key: String,
        message: String,
    },
}

/// Parses and validates the file at `path`.
pub fn load(path: &Path) -> Result<ServersFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    parse(path, &text)
}

/// Parses and validates `text` as the contents of `path` (used in errors only). The text is
/// JSON with `//` and `/* */` comments and trailing commas allowed (see [`crate::jsonc::JSONC`]).
pub fn parse(path: &Path, text: &str) -> Result<ServersFile, ConfigError> {
    // Syntax first, so a broken file reports line and column rather than a key path.
    let value = parse_jsonc(path, text)?;
    if !value.is_object() {
        return Err(invalid(path, "(top level)", "expected a JSON object"));
    }
    let mut file: ServersFile = serde_path_to_error::deserialize(&value).map_err(|e| {
        let key = e.path().to_string();
        invalid(path, &key, &e.into_inner().to_string())
    })?;
    validate(path, &file)?;
    // What an entry leaves unsaid comes from `gateway`, so the hub and the supervisors read
    // one resolved value (and a change of the default reaches the entries it applies to).
    let gateway = &file.gateway;
    for spec in file.mcp_servers.values_mut() {
        spec.start.get_or_insert(gateway.start);
        spec.idle_stop_secs.get_or_insert(gateway.idle_stop_secs);
    }
    Ok(file)
}

/// The JSON value of `text`, or the syntax error with its line and column.
fn parse_jsonc(path: &Path, text: &str) -> Result<serde_json::Value, ConfigError> {
    let syntax = |offset: usize, message: String| {
        let (line, column) = jsonc::line_column(text, offset);
        ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let root = CstRootNode::parse(text, &jsonc::JSONC)
        .map_err(|e| syntax(e.range().start, lowercase_first(&e.kind().to_string())))?;
    if let Some(offset) = jsonc::control_character_in_string(text) {
        return Err(syntax(
            offset,
            "control character in a string: write it escaped (\\n, \\t, \\u0001)".into(),
        ));
    }
    root.to_serde_value().ok_or_else(|| {
        syntax(
            text.len(),
            "expected a JSON object, found the end of the file".into(),
        )
    })
}

fn validate(path: &Path, file: &ServersFile) -> Result<(), ConfigError> {
    for (name, spec) in &file.mcp_servers {
        if let Err(why) = check_server_name(name) {
            return Err(invalid(
                path,
                &format!("mcpServers.{name}"),
                &why.to_string(),
            ));
        }
        validate_reach(path, name, spec)?;
        let t = &spec.timeouts;
        for (key, secs) in [
            ("startupSecs", t.startup_secs),
            ("requestSecs", t.request_secs),
            ("toolCallSecs", t.tool_call_secs),
        ] {
            if secs == 0 {
                return Err(invalid(
                    path,
                    &format!("mcpServers.{name}.timeouts.{key}"),
                    "expected a number of seconds greater than 0",
                ));
            }
        }
        let restart = &spec.restart;
        if restart.initial_delay_ms == 0 || restart.max_delay_ms < restart.initial_delay_ms {
            return Err(invalid(
                path,
                &format!("mcpServers.{name}.restart"),
                "expected initialDelayMs greater than 0 and maxDelayMs at least initialDelayMs",
            ));
        }
        if spec.idle_stop_secs == Some(0) {
            return Err(invalid(
                path,
                &format!("mcpServers.{name}.idleStopSecs"),
                "expected a number of seconds greater than 0",
            ));
        }
        if spec.health.ping_interval_secs > 0 && spec.health.ping_timeout_secs == 0 {
            return Err(invalid(
                path,
                &format!("mcpServers.{name}.health.pingTimeoutSecs"),
                "expected a number of seconds greater than 0",
            ));
        }
        let patterns = spec.tools.allow.iter().flatten().chain(&spec.tools.deny);
        for pattern in patterns {
            if let Err(e) = globset::Glob::new(pattern) {
                return Err(invalid(
                    path,
                    &format!("mcpServers.{name}.tools"),
                    &format!("{pattern:?} is not a valid glob pattern: {e}"),
                ));
            }
        }
    }
    if file.gateway.idle_stop_secs == 0 {
        return Err(invalid(
            path,
            "gateway.idleStopSecs",
            "expected a number of seconds greater than 0",
        ));
    }
    if file.gateway.host.trim().is_empty() {
        return Err(invalid(
            path,
            "gateway.host",
            "expected a host name or IP address",
        ));
    }
    Ok(())
}

/// An entry runs a program (`command`) or reaches a server over HTTP (`url`/`serverUrl`),
/// never both, with a `type` that fits.
fn validate_reach(path: &Path, name: &str, spec: &ServerSpec) -> Result<(), ConfigError> {
    let key = |field: &str| format!("mcpServers.{name}.{field}");
    if let (Some(url), Some(server_url)) = (&spec.url, &spec.server_url) {
        if url != server_url {
            return Err(invalid(
                path,
                &key("serverUrl"),
                "differs from url: give one of them (serverUrl is Windsurf's name for url)",
            ));
        }
    }
    let field = if spec.url.is_some() {
        "url"
    } else {
        "serverUrl"
    };
    match spec.remote_url() {
        Some(url) => {
            if !spec.command.is_empty() {
                return Err(invalid(
                    path,
                    &format!("mcpServers.{name}"),
                    "has both command and url: give command to run a program, or url to reach \
                     a remote server",
                ));
            }
            if spec.transport == Some(TransportKind::Stdio) {
                return Err(invalid(
                    path,
                    &key("type"),
                    "\"stdio\" needs a command; a url is reached over \"http\" or \"sse\" \
                     (or leave type out to try both)",
                ));
            }
            check_url(url).map_err(|why| invalid(path, &key(field), &why))?;
            for header in spec.headers.keys() {
                if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return Err(invalid(
                        path,
                        &key("headers"),
                        &format!("{header:?} is not a valid HTTP header name"),
                    ));
                }
            }
        }
        None => {
            if spec.command.trim().is_empty() {
                return Err(invalid(
                    path,
                    &key("command"),
                    "expected the program to run (such as \"npx\" or \"uvx\"), or a url for a \
                     remote server",
                ));
            }
            if let Some(kind @ (TransportKind::Http | TransportKind::Sse)) = spec.transport {
                let kind = if kind == TransportKind::Http {
                    "http"
                } else {
                    "sse"
                };
                return Err(invalid(
                    path,
                    &key("type"),
                    &format!("{kind:?} needs a url; a command is run over stdio"),
                ));
            }
        }
    }
    Ok(())
}

/// A remote endpoint must be an absolute `http(s)` URL. One with `${env:…}` in it is checked
/// when it is expanded, at connect time.
fn check_url(url: &str) -> Result<(), String> {
    if url.contains("${") {
        return Ok(());
    }
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
        Ok(parsed) => Err(format!(
            "expected an http:// or https:// URL, found {:?}",
            parsed.scheme()
        )),
        Err(e) => Err(format!("{url:?} is not a URL ({e})")),
    }
}

/// Why a server name was refused. Typed, so the callers that put it in an answer (the
/// config error's message, the API's `invalid_name`, `?servers=`) choose their own framing;
/// each message names the name and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerNameError {
    #[error(
        "server name {name:?} is not allowed: use letters, digits, '-', '_' and '.' \
         (not first), as it becomes part of the endpoint URL"
    )]
    Alphabet { name: String },
    #[error(
        "server name {name:?} is not allowed: '__' separates server and tool names on \
         the aggregate endpoint"
    )]
    Separator { name: String },
}

/// Server names become URL path segments and the `server__tool` prefix of the aggregate,
/// so they are restricted to a safe alphabet without `__`.
pub fn check_server_name(name: &str) -> Result<(), ServerNameError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || !ok_chars || name.starts_with('.') {
        return Err(ServerNameError::Alphabet {
            name: name.to_owned(),
        });
    }
    if name.contains("__") {
        return Err(ServerNameError::Separator {
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn invalid(path: &Path, key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

/// jsonc-parser's messages start with a capital ("Unexpected comma"); after
/// `file:line:column:` ours do not.
fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RemoteTransport;

    fn p() -> PathBuf {
        PathBuf::from("/tmp/servers.json")
    }

    #[test]
    fn claude_desktop_file_parses_with_defaults() {
        let file = parse(
            &p(),
            r#"{"mcpServers":{"time":{"command":"uvx","args":["mcp-server-time"]}},"other":1}"#,
        )
        .unwrap();
        let time = &file.mcp_servers["time"];
        assert_eq!(time.command, "uvx");
        assert_eq!(time.args, ["mcp-server-time"]);
        assert!(!time.disabled);
        assert_eq!(time.timeouts.startup_secs, 60);
        assert_eq!(file.gateway.port, super::super::model::DEFAULT_PORT);
    }

    #[test]
    fn start_and_idle_stop_come_from_the_entry_else_from_gateway() {
        let file = parse(
            &p(),
            r#"{"mcpServers":{
                "a": {"command": "a"},
                "b": {"command": "b", "start": "always", "idleStopSecs": 30}
            }, "gateway": {"start": "onDemand", "idleStopSecs": 120}}"#,
        )
        .unwrap();
        let (a, b) = (&file.mcp_servers["a"], &file.mcp_servers["b"]);
        assert!(a.on_demand());
        assert_eq!(a.idle_stop(), std::time::Duration::from_secs(120));
        assert!(!b.on_demand());
        assert_eq!(b.idle_stop(), std::time::Duration::from_secs(30));
        let plain = parse(&p(), r#"{"mcpServers":{"a":{"command":"a"}}}"#).unwrap();
        assert!(!plain.mcp_servers["a"].on_demand(), "always by default");
        assert_eq!(plain.mcp_servers["a"].idle_stop().as_secs(), 300);

        let wrong = parse(
            &p(),
            r#"{"mcpServers":{"a":{"command":"a","start":"lazy"}}}"#,
        );
        let message = wrong.unwrap_err().to_string();
        assert!(
            message.contains("mcpServers.a.start") && message.contains("onDemand"),
            "{message}"
        );
        let zero = parse(
            &p(),
            r#"{"mcpServers":{"a":{"command":"a","idleStopSecs":0}}}"#,
        );
        assert!(zero
            .unwrap_err()
            .to_string()
            .contains("mcpServers.a.idleStopSecs"));
    }

    #[test]
    fn remote_entries_parse_in_every_clients_shape() {
        let file = parse(
            &p(),
            r#"{"mcpServers":{
                "code": {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"X-Key": "${env:KEY}"}},
                "cursor": {"url": "https://mcp.example.com/sse"},
                "windsurf": {"serverUrl": "https://mcp.example.com/mcp"},
                "vscode": {"type": "sse", "url": "http://localhost:3001/sse"},
                "cline": {"type": "streamableHttp", "url": "https://mcp.example.com/mcp"}
            }}"#,
        )
        .unwrap();
        let remote = |name: &str| file.mcp_servers[name].remote().unwrap();
        assert_eq!(remote("code").transport, RemoteTransport::StreamableHttp);
        assert_eq!(remote("code").headers["X-Key"], "${env:KEY}");
        assert_eq!(remote("cursor").transport, RemoteTransport::Auto);
        assert_eq!(remote("windsurf").url, "https://mcp.example.com/mcp");
        assert_eq!(remote("vscode").transport, RemoteTransport::Sse);
        assert_eq!(remote("cline").transport, RemoteTransport::StreamableHttp);
    }

    #[test]
    fn an_entry_must_run_a_program_or_reach_a_url_and_say_which_key_is_wrong() {
        let refused = |entry: &str| {
            parse(&p(), &format!(r#"{{"mcpServers":{{"x":{entry}}}}}"#))
                .unwrap_err()
                .to_string()
        };
        assert!(refused(r#"{}"#).contains("mcpServers.x.command: expected the program"));
        assert!(
            refused(r#"{"command":"npx","url":"https://a.example/mcp"}"#)
                .contains("has both command and url")
        );
        assert!(refused(r#"{"type":"stdio","url":"https://a.example/mcp"}"#)
            .contains("mcpServers.x.type: \"stdio\" needs a command"));
        assert!(refused(r#"{"type":"http","command":"npx"}"#)
            .contains("mcpServers.x.type: \"http\" needs a url"));
        assert!(refused(r#"{"url":"ftp://a.example/mcp"}"#)
            .contains("mcpServers.x.url: expected an http:// or https:// URL"));
        assert!(refused(r#"{"serverUrl":"not a url"}"#).contains("mcpServers.x.serverUrl"));
        assert!(
            refused(r#"{"url":"https://a.example/mcp","headers":{"bad name":"v"}}"#)
                .contains("mcpServers.x.headers: \"bad name\" is not a valid HTTP header name")
        );
        assert!(
            refused(r#"{"url":"https://a.example/mcp","type":"websocket"}"#)
                .contains("mcpServers.x.type")
        );
        parse(&p(), r#"{"mcpServers":{"x":{"url":"${env:MCP_URL}"}}}"#).unwrap();
    }

    #[test]
    fn syntax_error_reports_line_and_column() {
        let err = parse(&p(), "{\n  \"mcpServers\": {,}\n}").unwrap_err();
        match err {
            ConfigError::Syntax { line, column, .. } => {
                assert_eq!(line, 2);
                assert!(column > 1);
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn a_commented_file_with_trailing_commas_loads() {
        let file = parse(
            &p(),
            r#"// Switchboard's servers
{
  /* the one I use most */
  "mcpServers": {
    "time": {
      "command": "uvx", // from PyPI
      "args": ["mcp-server-time",],
    },
  },
}
"#,
        )
        .unwrap();
        assert_eq!(file.mcp_servers["time"].args, ["mcp-server-time"]);
    }

    fn syntax_error(text: &str) -> (usize, usize, String) {
        match parse(&p(), text).unwrap_err() {
            ConfigError::Syntax {
                line,
                column,
                message,
                ..
            } => (line, column, message),
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_syntax_error_in_jsonc_names_its_line_and_column() {
        let text = "{\n  // a comment with \"quotes\" and é\n  \"mcpServers\": { \"é\": { \"command\": } },\n}\n";
        let (line, column, message) = syntax_error(text);
        assert_eq!((line, column), (3, 37), "{message}");
        assert_eq!(message, "unexpected close brace");
        let err = parse(&p(), text).unwrap_err().to_string();
        assert!(
            err.starts_with("/tmp/servers.json:3:37: unexpected close brace"),
            "{err}"
        );
        // Only comments and trailing commas: not the rest of JSON5.
        assert_eq!(syntax_error("{\n 'a': 1 }").0, 2);
        assert_eq!(syntax_error("{ mcpServers: {} }").1, 3);
        assert_eq!(syntax_error("{ \"a\": 1 \"b\": 2 }").2, "expected comma");
        assert_eq!(syntax_error("{ /* open").2, "unterminated comment block");
    }

    #[test]
    fn an_empty_file_or_a_raw_control_character_is_a_syntax_error() {
        assert_eq!(syntax_error("").0, 1);
        let (line, column, message) = syntax_error("// nothing yet\n");
        assert_eq!((line, column), (2, 1));
        assert!(message.contains("expected a JSON object"), "{message}");
        let (line, column, message) = syntax_error("{\n\"a\": \"x\ty\"}");
        assert_eq!((line, column), (2, 8));
        assert!(message.contains("control character"), "{message}");
    }

    #[test]
    fn wrong_type_reports_key_path() {
        let err = parse(
            &p(),
            r#"{"mcpServers":{"git":{"command":"x","args":["a",1]}}}"#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("mcpServers.git.args[1]"), "{text}");
        assert!(text.contains("/tmp/servers.json"), "{text}");
    }

    #[test]
    fn missing_command_is_named() {
        let err = parse(&p(), r#"{"mcpServers":{"git":{"args":[]}}}"#).unwrap_err();
        assert!(err.to_string().contains("command"), "{err}");
    }

    #[test]
    fn names_that_break_urls_are_refused() {
        for bad in ["a/b", "", "a__b", "sp ace", ".hidden"] {
            assert!(check_server_name(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["git", "server-everything", "time_2", "a.b"] {
            assert!(
                check_server_name(good).is_ok(),
                "{good:?} should be accepted"
            );
        }
    }

    #[test]
    fn invalid_glob_is_refused() {
        let err = parse(
            &p(),
            r#"{"mcpServers":{"x":{"command":"x","tools":{"deny":["[a"]}}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("mcpServers.x.tools"), "{err}");
    }

    #[test]
    fn zero_timeout_is_refused() {
        let err = parse(
            &p(),
            r#"{"mcpServers":{"x":{"command":"x","timeouts":{"startupSecs":0}}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("timeouts.startupSecs"), "{err}");
    }
}
