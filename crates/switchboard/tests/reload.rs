//! End-to-end: servers.json edited on disk the ways editors do, and through the REST API,
//! observed through real children (pids), a real connected client and `/api/events`.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::client::{call, connect, RecordingClient, Seen};
use support::events::Events;
use support::files::{read, save_by_rename, save_in_place};
use support::{everything, Switchboard};
use switchboard_test_procs::alive;

const WAIT: Duration = Duration::from_secs(30);

fn file(servers: Value) -> Value {
    json!({ "mcpServers": servers })
}

#[tokio::test(flavor = "multi_thread")]
async fn added_removed_and_changed_servers_apply_and_others_are_untouched() {
    let sb = Switchboard::start(json!({ "a": everything(), "b": everything() }));
    let a = sb.pid_of("a").await;
    let b = sb.pid_of("b").await;

    // Add c, change b's launch fields, leave a alone: saved by rename.
    let mut b_changed = everything();
    b_changed["env"] = json!({ "CHANGED": "1" });
    save_by_rename(
        &sb.config,
        &file(json!({ "a": everything(), "b": b_changed, "c": everything() })),
    );
    let c = sb.pid_of("c").await;
    let b2 = sb
        .wait_for("b", WAIT, |s| {
            s["state"] == "running" && s["pid"].as_u64() != Some(b as u64)
        })
        .await;
    assert_eq!(
        sb.server("a").await["pid"].as_u64(),
        Some(a as u64),
        "a must not restart"
    );
    assert!(!alive(b), "b's old child must be gone");
    assert_ne!(b2["pid"].as_u64(), Some(c as u64));

    // Remove c (truncate and write in place): its process is killed.
    save_in_place(
        &sb.config,
        &serde_json::to_string_pretty(&file(json!({ "a": everything(), "b": b_changed }))).unwrap(),
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while sb.get("/api/servers/c").await.0 != 404 {
        assert!(tokio::time::Instant::now() < deadline, "c was not removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while alive(c) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "c's child {c} outlived its entry"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        sb.server("a").await["pid"].as_u64(),
        Some(a as u64),
        "a must not restart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_change_applies_live_and_notifies_connected_clients() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    let pid = sb.pid_of("everything").await;
    let recorder = RecordingClient::default();
    let client = connect(sb.mcp_url("everything"), recorder.clone()).await;
    let before = client.list_all_tools().await.unwrap();
    assert!(before.iter().any(|t| t.name == "echo"));

    let mut filtered = everything();
    filtered["tools"] = json!({ "deny": ["echo"] });
    save_by_rename(&sb.config, &file(json!({ "everything": filtered })));

    let deadline = tokio::time::Instant::now() + WAIT;
    while recorder.count(&Seen::ToolListChanged) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no tools/list_changed arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = client.list_all_tools().await.unwrap();
    assert!(
        !after.iter().any(|t| t.name == "echo"),
        "echo must be hidden now"
    );
    assert!(client
        .call_tool(call("echo", json!({"message": "x"})))
        .await
        .is_err());
    assert_eq!(
        sb.server("everything").await["pid"].as_u64(),
        Some(pid as u64),
        "a filter change must not restart the child"
    );
    // The same session keeps working.
    client
        .call_tool(call("get-sum", json!({ "a": 1, "b": 2 })))
        .await
        .expect("other tools still callable");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_file_is_not_applied_and_its_error_shown_until_fixed() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    let pid = sb.pid_of("everything").await;
    let mut events = Events::open(&sb.url).await;

    save_in_place(
        &sb.config,
        "{\n  \"mcpServers\": {\n    \"everything\": { \"command\": }\n  }\n}\n",
    );
    let event = events.wait_for(WAIT, |e| e["type"] == "configError").await;
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .contains("servers.json:3:"),
        "{event}"
    );
    let (_, config) = sb.get("/api/config").await;
    let error = &config["error"];
    assert_eq!(error["kind"], "syntax", "{config}");
    assert_eq!(error["line"], 3, "{config}");
    assert!(error["column"].as_u64().unwrap() > 0);
    assert_eq!(error["path"], sb.config.to_string_lossy().as_ref());
    assert_eq!(
        sb.server("everything").await["pid"].as_u64(),
        Some(pid as u64)
    );

    // A valid JSON file with a bad field is refused too, naming the key path.
    save_by_rename(
        &sb.config,
        &json!({ "mcpServers": { "everything": { "command": "x", "args": [1] } } }),
    );
    let event = events
        .wait_for(WAIT, |e| {
            e["type"] == "configError"
                && e["message"]
                    .as_str()
                    .unwrap()
                    .contains("mcpServers.everything.args[0]")
        })
        .await;
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .contains("expected a string"),
        "{event}"
    );

    // Fixed: the error clears and the new version applies.
    let mut fixed = everything();
    fixed["tools"] = json!({ "deny": ["get-env"] });
    save_by_rename(&sb.config, &file(json!({ "everything": fixed })));
    events
        .wait_for(WAIT, |e| e["type"] == "configReloaded")
        .await;
    let (_, config) = sb.get("/api/config").await;
    assert!(config["error"].is_null(), "{config}");
    assert_eq!(
        sb.server("everything").await["pid"].as_u64(),
        Some(pid as u64)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_file_stops_nothing_until_it_returns() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    let pid = sb.pid_of("everything").await;
    std::fs::remove_file(&sb.config).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = sb.server("everything").await;
    assert_eq!(server["state"], "running");
    assert_eq!(server["pid"].as_u64(), Some(pid as u64));

    // Recreated with a second server: applied, the first untouched.
    std::fs::write(
        &sb.config,
        serde_json::to_vec(&file(
            json!({ "everything": everything(), "second": everything() }),
        ))
        .unwrap(),
    )
    .unwrap();
    sb.wait_running("second").await;
    assert_eq!(
        sb.server("everything").await["pid"].as_u64(),
        Some(pid as u64)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_edits_keep_unknown_keys_and_order_and_apply_once() {
    let sb = Switchboard::start_with_file(json!({
        "zFirst": "kept",
        "mcpServers": {
            "everything": {
                "command": everything()["command"],
                "args": ["stdio"],
                "x-note": { "by": "user" },
            },
        },
        "globalShortcut": "Ctrl+Space",
    }));
    let pid = sb.pid_of("everything").await;
    let mut events = Events::open(&sb.url).await;

    let (status, body) = sb
        .send(
            "PATCH",
            "/api/servers/everything",
            r#"{"tools":{"deny":["get-env"]}}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let get_env = body["toolList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "get-env")
        .unwrap();
    assert_eq!(get_env["exposed"], false, "the answer reflects the change");

    let on_disk = read(&sb.config);
    let top: Vec<&String> = on_disk.as_object().unwrap().keys().collect();
    assert_eq!(top, ["zFirst", "mcpServers", "globalShortcut"]);
    let entry = &on_disk["mcpServers"]["everything"];
    let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["command", "args", "x-note", "tools"]);
    assert_eq!(entry["x-note"], json!({ "by": "user" }));
    assert_eq!(entry["tools"], json!({ "deny": ["get-env"] }));
    let backup = sb.config.with_file_name("servers.json.bak");
    assert!(
        read(&backup)["mcpServers"]["everything"]["tools"].is_null(),
        "backup is the previous version"
    );

    // Applied once: one reload event for our write, none for the watcher's echo of it.
    events
        .wait_for(WAIT, |e| e["type"] == "configReloaded")
        .await;
    let echoed = events
        .next_matching(Duration::from_millis(800), |e| {
            e["type"] == "configReloaded"
        })
        .await;
    assert!(
        echoed.is_none(),
        "the watcher must recognise our own write: {echoed:?}"
    );
    assert_eq!(
        sb.server("everything").await["pid"].as_u64(),
        Some(pid as u64)
    );

    // Removing the last rule leaves no empty `tools` behind.
    let (status, body) = sb
        .send(
            "PATCH",
            "/api/servers/everything",
            r#"{"tools":{"deny":null}}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let entry = &read(&sb.config)["mcpServers"]["everything"];
    let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["command", "args", "x-note"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_adds_restarts_disables_and_removes_servers() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    let pid = sb.pid_of("everything").await;

    let (status, body) = sb
        .send(
            "PUT",
            "/api/servers/added",
            serde_json::to_vec(&everything()).unwrap(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let added = sb.pid_of("added").await;
    assert!(read(&sb.config)["mcpServers"]["added"].is_object());

    let (status, _) = sb.send("POST", "/api/servers/added/restart", "").await;
    assert_eq!(status, 202);
    sb.wait_for("added", WAIT, |s| {
        s["state"] == "running" && s["pid"].as_u64() != Some(added as u64)
    })
    .await;
    assert!(!alive(added));

    let (status, _) = sb
        .send("PATCH", "/api/servers/added", r#"{"disabled":true}"#)
        .await;
    assert_eq!(status, 200);
    let disabled = sb
        .wait_for("added", WAIT, |s| s["state"] == "disabled")
        .await;
    assert!(disabled["pid"].is_null());

    let (status, body) = sb.send("DELETE", "/api/servers/added", "").await;
    assert_eq!((status, &body["removed"]), (200, &json!(true)));
    assert!(read(&sb.config)["mcpServers"].get("added").is_none());
    assert_eq!(sb.get("/api/servers/added").await.0, 404);
    assert_eq!(
        sb.server("everything").await["pid"].as_u64(),
        Some(pid as u64)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_api_requests_are_refused_and_change_nothing() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    let original = std::fs::read_to_string(&sb.config).unwrap();

    let cases: [(&str, &str, &str, u16, &str); 7] = [
        (
            "PATCH",
            "/api/servers/nope",
            r#"{"disabled":true}"#,
            404,
            "unknown_server",
        ),
        ("DELETE", "/api/servers/nope", "", 404, "unknown_server"),
        (
            "POST",
            "/api/servers/nope/restart",
            "",
            404,
            "unknown_server",
        ),
        (
            "PATCH",
            "/api/servers/everything",
            r#"{"disabled":"yes"}"#,
            400,
            "invalid_config",
        ),
        (
            "PATCH",
            "/api/servers/everything",
            "{not json",
            400,
            "bad_request",
        ),
        (
            "PATCH",
            "/api/servers/everything",
            "[1,2]",
            400,
            "bad_request",
        ),
        (
            "PUT",
            "/api/servers/bad%2Fname",
            r#"{"command":"sh"}"#,
            400,
            "invalid_name",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = sb.send(method, path, body.to_owned()).await;
        assert_eq!(got, status, "{method} {path} {body}: {answer}");
        assert_eq!(
            answer["error"]["code"], code,
            "{method} {path} {body}: {answer}"
        );
        assert!(answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let (_, answer) = sb
        .send(
            "PATCH",
            "/api/servers/everything",
            r#"{"args":"not-a-list"}"#,
        )
        .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mcpServers.everything.args"),
        "the error names the key path: {answer}"
    );
    assert_eq!(std::fs::read_to_string(&sb.config).unwrap(), original);

    // A broken file is never overwritten by the API.
    save_in_place(&sb.config, "{ broken");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, answer) = sb
        .send("PATCH", "/api/servers/everything", r#"{"disabled":true}"#)
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("config_broken"))
    );
    assert_eq!(std::fs::read_to_string(&sb.config).unwrap(), "{ broken");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_api_edits_lose_none() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    let edits = (0..20).map(|i| {
        let sb = &sb;
        async move {
            let body = json!({ format!("x-api-{i}"): i }).to_string();
            let (status, answer) = sb.send("PATCH", "/api/servers/everything", body).await;
            assert_eq!(status, 200, "{answer}");
        }
    });
    futures::future::join_all(edits).await;
    let entry = &read(&sb.config)["mcpServers"]["everything"];
    for i in 0..20 {
        assert_eq!(
            entry[format!("x-api-{i}")],
            json!(i),
            "API edit {i} was lost"
        );
    }
}

/// An editor saving between API writes: every save is kept by the API writes after it
/// (each rereads the file). The true race, a save landing inside an API write, is proven
/// deterministically by the store's unit tests.
#[tokio::test(flavor = "multi_thread")]
async fn editor_saves_between_api_edits_are_kept() {
    let sb = Switchboard::start(json!({ "everything": everything() }));
    sb.wait_running("everything").await;
    for i in 0..10 {
        let mut current = read(&sb.config);
        current[format!("editor-{i}")] = json!(i);
        save_by_rename(&sb.config, &current);
        let body = json!({ format!("x-api-{i}"): i }).to_string();
        let (status, answer) = sb.send("PATCH", "/api/servers/everything", body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let on_disk = read(&sb.config);
    for i in 0..10 {
        assert_eq!(
            on_disk[format!("editor-{i}")],
            json!(i),
            "editor save {i} lost: {on_disk:#}"
        );
        assert_eq!(
            on_disk["mcpServers"]["everything"][format!("x-api-{i}")],
            json!(i)
        );
    }
}
