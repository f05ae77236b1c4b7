//! End-to-end: the commands that talk to a running `switchboard serve` find it through the
//! instance record it leaves, also when it listens on another port than servers.json says.

mod support;

use std::path::PathBuf;

use serde_json::{json, Value};
use support::Switchboard;

/// A port nobody listens on (bound, then released).
fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn records(dir: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn status_finds_an_instance_on_another_port_than_servers_json_and_its_record_goes_with_it() {
    let configured = unused_port();
    let mut sb = Switchboard::start_with_file(json!({
        "mcpServers": { "idle": { "command": "true", "disabled": true } },
        "gateway": { "port": configured }
    }));
    assert!(
        !sb.url.ends_with(&format!(":{configured}")),
        "serves on a port of its own"
    );
    let config = sb.config.to_str().unwrap().to_owned();

    let output = sb
        .command(&["status", "--config", &config])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "status did not find the instance at {}:\n{}",
        sb.url,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("idle") && stdout.contains("disabled"),
        "{stdout}"
    );

    // The record: this instance's URL, pid and config.
    let found = records(&sb.instance_dir());
    assert_eq!(found.len(), 1, "{found:?}");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(&found[0]).unwrap()).unwrap();
    assert_eq!(record["baseUrl"], sb.url.as_str(), "{record}");
    assert_eq!(record["pid"], sb.pid(), "{record}");
    assert_eq!(
        record["configFile"].as_str().map(std::path::Path::new),
        Some(sb.config.as_path()),
        "{record}"
    );

    let status = sb.terminate().expect("switchboard exits on SIGTERM");
    assert!(status.success(), "{status}");
    assert_eq!(
        records(&sb.instance_dir()),
        Vec::<PathBuf>::new(),
        "the record is removed on exit"
    );

    // Without it, status looks where servers.json says, finds nobody, and says where it looked.
    let output = sb
        .command(&["status", "--config", &config])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "nobody runs now");
    assert!(
        stderr.contains(&format!(
            "no Switchboard answering at http://127.0.0.1:{configured}"
        )),
        "{stderr}"
    );
}
