//! The official MCP conformance suite (`../shared/conformance`, bundled beside the repository)
//! run against Switchboard: its 2025 reference server as a stdio child of `switchboard serve`,
//! the suite's server scenarios sent through `/servers/conf/mcp`. Every scenario the
//! requirements set scores must pass, as it does against the reference server itself.
//!
//! The kit's `setup.sh` (run by `scripts/test`, about a minute the first time; needs npm only)
//! builds the servers and fetches the Node 22 the suite needs into a cache folder.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::{repo_root, Switchboard};

/// The kit: `SWITCHBOARD_CONFORMANCE`, else `shared/conformance` beside the repository.
fn kit() -> PathBuf {
    let kit = std::env::var_os("SWITCHBOARD_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/conformance"));
    assert!(
        kit.join("run").is_file(),
        "the MCP conformance kit is not at {} (set SWITCHBOARD_CONFORMANCE)",
        kit.display()
    );
    kit
}

/// Runs the kit's `setup.sh`, which prints the cache folder on its last line.
fn cache(kit: &std::path::Path) -> PathBuf {
    let out = Command::new("bash")
        .arg(kit.join("setup.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run the conformance kit's setup.sh");
    assert!(out.status.success(), "setup.sh failed");
    let text = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        text.lines()
            .last()
            .expect("setup.sh prints its folder")
            .trim(),
    )
}

/// Scenario names the suite's summary marks as failed (`✗ name: …`), and those it lists as
/// not scored for the requirements set.
fn failures(report: &str) -> (Vec<String>, Vec<String>) {
    let mut failed = Vec::new();
    let mut unscored = Vec::new();
    let mut in_unscored = false;
    for line in report.lines() {
        let line = line.trim();
        if line.starts_with("Not scored") {
            in_unscored = true;
            continue;
        }
        let Some(rest) = line.strip_prefix("✗ ") else {
            continue;
        };
        let name = rest.split([':', ' ']).next().unwrap_or_default().to_owned();
        if in_unscored {
            unscored.push(name);
        } else {
            failed.push(name);
        }
    }
    (failed, unscored)
}

#[test]
fn the_report_reader_tells_required_failures_from_unscored_ones() {
    let report = "✓ ping: 2 passed, 0 failed\n✗ tools-call-with-progress: 1 passed, 1 failed\n\
                  ✗ server-session-lifecycle: 2 passed, 1 failed\nTotal: 5 passed, 2 failed\n\n\
                  Not scored for 2025-11-25: 1 scenario(s) run, 1 failing.\n  \
                  ✗ server-session-lifecycle (added-after-release)\n";
    let (failed, unscored) = failures(report);
    assert_eq!(
        failed,
        ["tools-call-with-progress", "server-session-lifecycle"]
    );
    assert_eq!(unscored, ["server-session-lifecycle"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_required_2025_scenario_passes_through_a_server_endpoint() {
    let kit = kit();
    let cache = cache(&kit);
    let server = cache.join("servers/2025/everything-stdio.mjs");
    assert!(server.is_file(), "{} missing", server.display());
    let sb = Switchboard::start(json!({
        "conf": { "command": "node", "args": [server.to_string_lossy()] },
    }));
    sb.wait_running("conf").await;
    let url = sb.mcp_url("conf");
    let work = tempfile::tempdir().unwrap();
    let kit_run = kit.join("run");
    let report = tokio::task::spawn_blocking(move || {
        let child = Command::new("timeout")
            .args(["600", "bash"])
            .arg(kit_run)
            .args(["server", "--url", &url, "--requirements", "2025-11-25"])
            .current_dir(work.path())
            .stdin(Stdio::null())
            .output()
            .expect("run the conformance suite");
        (
            child.status,
            format!(
                "{}{}",
                String::from_utf8_lossy(&child.stdout),
                String::from_utf8_lossy(&child.stderr)
            ),
        )
    });
    let (status, report) = tokio::time::timeout(Duration::from_secs(620), report)
        .await
        .expect("the suite ends")
        .unwrap();
    let summary: String = report
        .lines()
        .filter(|l| l.contains(" passed, ") || l.contains("Not scored") || l.contains('✗'))
        .collect::<Vec<_>>()
        .join("\n");
    println!("{summary}");
    assert!(
        report.contains("Total: "),
        "the suite did not finish:\n{report}"
    );
    let (failed, unscored) = failures(&report);
    let required: Vec<&String> = failed.iter().filter(|f| !unscored.contains(f)).collect();
    assert!(
        required.is_empty(),
        "required scenarios failed: {required:?}\n{summary}\n\nswitchboard stderr:\n{}",
        sb.stderr()
    );
    assert!(
        status.success(),
        "the suite exited with {status}:\n{summary}"
    );
    let detail = sb.server("conf").await;
    assert_eq!(
        detail["restarts"], 0,
        "the child was never restarted: {detail:#}"
    );
    assert!(
        detail["strayStdout"]["count"].as_u64() >= Some(1),
        "the reference server's debugging lines were seen and skipped: {detail:#}"
    );
}
