//! `servers.json` as the user (or an editor, or a half-written save) leaves it.
//!
//! Feeds any bytes to `config::parse` and, for what it accepts, everything that later reads
//! the typed config: the tool filter, the restart backoff, the duration accessors and the
//! `${env:…}` expansion of launch fields. Nothing may panic, and:
//!
//! - parsing is deterministic;
//! - an accepted file (JSONC) opens for an edit, and an edit that changes nothing writes it
//!   back byte for byte;
//! - an edit through that document (each server's `disabled` flipped, as the tray does) gives
//!   text that parses to the same config with only those flags flipped;
//! - its JSON, written as pretty plain JSON (what a new servers.json gets), parses to the same
//!   config;
//! - every accepted server name passes `check_server_name`;
//! - expansion with a lookup that answers `${env:NAME}` for NAME gives back its input;
//! - a rejected file's error names the file and serialises.
//!
//! With `SWITCHBOARD_FUZZ_DEADLINES=1`, also that an accepted `health.pingIntervalSecs` can be
//! added to `Instant::now()`, as the supervisor does. Off by default until that is fixed: see
//! fuzz/README.md, findings.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use switchboard::config::{self, ConfigError, ServersFile};
use switchboard::fuzzing::{Backoff, ServersDocument, ToolFilter};

fn strict_deadlines() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SWITCHBOARD_FUZZ_DEADLINES").is_some_and(|v| v == "1"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("servers.json");

    // Expansion on raw text too (launch fields can hold anything).
    check_expansion(&text);

    let first = config::parse(path, &text);
    let again = config::parse(path, &text);
    assert_eq!(first, again, "parse is not deterministic");

    match first {
        Ok(file) => accepted(path, &text, &file),
        Err(error) => rejected(&error),
    }
});

fn accepted(path: &Path, text: &str, file: &ServersFile) {
    // The store's edits go through this document.
    let mut doc = ServersDocument::open(path, Some(text))
        .unwrap_or_else(|e| panic!("parse accepted a file an edit cannot open: {e}"));
    assert_eq!(
        doc.text(),
        text,
        "an edit that changes nothing rewrote the file"
    );
    let json = serde_json::Value::Object(doc.root.clone());

    let mut flipped = file.clone();
    for (name, spec) in &mut flipped.mcp_servers {
        spec.disabled = !spec.disabled;
        let entry = doc
            .root
            .get_mut("mcpServers")
            .and_then(|servers| servers.get_mut(name.as_str()))
            .and_then(serde_json::Value::as_object_mut)
            .expect("an accepted server is an object under mcpServers");
        entry.insert("disabled".into(), serde_json::Value::Bool(spec.disabled));
    }
    let edited = doc.text();
    match config::parse(path, &edited) {
        Ok(rewritten) => assert_eq!(
            rewritten, flipped,
            "flipping `disabled` through the document changed more:\n{edited}"
        ),
        Err(e) => panic!("an edit through the document broke the file: {e}\n{edited}"),
    }

    // The same config as plain pretty JSON.
    let mut pretty = serde_json::to_string_pretty(&json).expect("a JSON value serialises");
    pretty.push('\n');
    match config::parse(path, &pretty) {
        Ok(rewritten) => assert_eq!(
            &rewritten, file,
            "the config changed when its JSON was rewritten:\n{pretty}"
        ),
        Err(e) => {
            panic!("an accepted file is rejected after its JSON was rewritten: {e}\n{pretty}")
        }
    }

    assert!(!file.gateway.host.trim().is_empty());
    let _ = Duration::from_secs(file.gateway.session_idle_secs);

    for (name, spec) in &file.mcp_servers {
        if let Err(why) = config::check_server_name(name) {
            panic!("accepted a server name that check_server_name refuses: {why}");
        }
        assert!(!spec.command.trim().is_empty());

        // What the supervisor and the proxies derive from the entry.
        let _ = spec.launch();
        let timeouts = [
            spec.timeouts.startup(),
            spec.timeouts.request(),
            spec.timeouts.tool_call(),
        ];
        assert!(timeouts.iter().all(|t| !t.is_zero()));

        let filter = ToolFilter::new(&spec.tools);
        for tool in ["echo", "", name.as_str(), "a/b", "server__tool"] {
            let _ = filter.exposes(tool);
        }
        for pattern in spec.tools.allow.iter().flatten().chain(&spec.tools.deny) {
            let _ = filter.exposes(pattern);
        }

        let mut backoff = Backoff::new(&spec.restart);
        let mut previous = Duration::ZERO;
        for _ in 0..80 {
            let delay = backoff.next_delay();
            assert!(delay >= previous, "backoff shrank without a reset");
            previous = delay;
            // The supervisor shows the next attempt's wall-clock time.
            let _ = SystemTime::now().checked_add(delay);
        }
        assert!(backoff.at_cap(), "backoff never reached its cap");
        backoff.child_ended_after(Duration::from_secs(spec.restart.stable_after_secs));
        let reset = backoff.next_delay();
        assert_eq!(reset, Duration::from_millis(spec.restart.initial_delay_ms));
        backoff.set_policy(&config::RestartPolicy::default());
        let _ = backoff.next_delay();

        check_expansion(&spec.command);
        for arg in &spec.args {
            check_expansion(arg);
        }
        for (key, value) in &spec.env {
            check_expansion(key);
            check_expansion(value);
        }
        if let Some(cwd) = &spec.cwd {
            check_expansion(&cwd.to_string_lossy());
        }

        if strict_deadlines() {
            // The supervisor starts its ping ticker at `Instant::now() + interval`, which panics
            // (in the supervisor's task) when the sum overflows.
            let secs = spec.health.ping_interval_secs;
            assert!(
                secs == 0
                    || Instant::now()
                        .checked_add(Duration::from_secs(secs))
                        .is_some(),
                "mcpServers.{name}.health.pingIntervalSecs = {secs} is accepted, but \
                 Instant::now() + {secs}s overflows"
            );
        }
    }
}

fn rejected(error: &ConfigError) {
    let message = error.to_string();
    assert!(
        message.contains("servers.json"),
        "the error does not name the file: {message}"
    );
    serde_json::to_string(error).expect("a config error serialises");
    if let ConfigError::Syntax { line, .. } = error {
        assert!(*line >= 1 || message.contains("EOF"), "line 0: {message}");
    }
}

/// `expand_with` keeps the text around references; answering each reference with itself
/// must give back the input. Also exercises the error paths with a lookup that knows nothing.
fn check_expansion(value: &str) {
    match config::expand_with(value, |var| Some(format!("${{env:{var}}}"))) {
        Ok(out) => assert_eq!(out, value, "expansion is not the identity"),
        Err(config::ExpandError::Unterminated { value: v }) => assert_eq!(v, value),
        Err(e) => panic!("a lookup that always answers gave {e}"),
    }
    match config::expand_with(value, |_| None) {
        Ok(out) => assert!(!value.contains("${env:"), "{value:?} expanded to {out:?}"),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(out) = config::expand_with(value, |var| Some(var.len().to_string())) {
        assert!(out.len() <= value.len() + 20 * value.matches("${env:").count());
    }
}
