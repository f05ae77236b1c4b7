//! `/api/clients`: the AI clients found on this machine, and import / install / uninstall
//! for the dashboard's Clients page (the same operations as the CLI, diff first).

use axum::body::Bytes;
use std::path::PathBuf;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::json_object;
use crate::clients::{
    self, ClientError, ClientKind, GatewayTarget, InstallTarget, Places, Records,
};
use crate::gateway::{ApiError, AppState};

fn target(state: &AppState) -> Result<GatewayTarget, ApiError> {
    let executable = std::env::current_exe().map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_executable",
            e.to_string(),
        )
    })?;
    Ok(GatewayTarget {
        base_url: state.base_url.to_string(),
        executable,
    })
}

/// This machine's places, with the project folder the page works on, if any.
fn places(project: Option<&std::path::Path>) -> Result<Places, ApiError> {
    if let Some(dir) = project {
        let refuse = |why: &str| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_project",
                format!("project folder {}: {why}", dir.display()),
            )
        };
        if !dir.is_absolute() {
            return Err(refuse("give its absolute path"));
        }
        if !dir.is_dir() {
            return Err(refuse("no such folder on this machine"));
        }
    }
    Places::detect(project.map(ToOwned::to_owned)).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_home",
            "no home directory found",
        )
    })
}

fn client(id: &str) -> Result<ClientKind, ApiError> {
    id.parse()
        .map_err(|why: String| ApiError::new(StatusCode::NOT_FOUND, "unknown_client", why))
}

fn client_error(error: ClientError) -> ApiError {
    let (status, code) = match &error {
        ClientError::Clash { .. } => (StatusCode::CONFLICT, "client_clash"),
        ClientError::StalePreview(_) => (StatusCode::CONFLICT, "preview_stale"),
        ClientError::ChangedUnderneath(_) => (StatusCode::CONFLICT, "client_config"),
        ClientError::Missing(_) | ClientError::UnknownServer(_) => {
            (StatusCode::NOT_FOUND, "client_config")
        }
        ClientError::Parse { .. } | ClientError::Invalid(_) | ClientError::NoProjectFile(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "client_config")
        }
        ClientError::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "client_config"),
        // As PATCH and PUT answer while servers.json has an error.
        ClientError::ServersJsonBroken(_) => (StatusCode::CONFLICT, "config_broken"),
    };
    ApiError::new(status, code, error.to_string())
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// A project folder: its project-level files are listed too.
    project: Option<PathBuf>,
}

/// `GET /api/clients[?project=DIR]`
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let places = places(query.project.as_deref())?;
    let gateway = target(&state)?;
    Ok(Json(
        json!({ "clients": clients::detect(&places, &gateway) }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Options {
    dry_run: bool,
    /// The `plan` of the preview the user saw: the write is refused if it would differ.
    expect: Option<String>,
    server: Option<String>,
    all: bool,
    /// The aggregate endpoint in search mode (`?mode=search`).
    search: bool,
    replace: bool,
    /// Work on the client's file in this project folder instead of its user file.
    project: Option<PathBuf>,
}

/// The client's file an action changes: in the project folder, if one is given, else the user's.
fn file_to_change(kind: ClientKind, options: &Options) -> Result<PathBuf, ApiError> {
    clients::location(kind, &places(options.project.as_deref())?).map_err(client_error)
}

fn options(body: &[u8]) -> Result<Options, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Options::default());
    }
    let object = json_object(body)?;
    serde_json::from_value(Value::Object(object))
        .map_err(|e| ApiError::bad_request(format!("invalid options: {e}")))
}

/// `POST /api/clients/{client}/install` `{server?, all?, replace?, project?, dryRun?, expect?}`
pub async fn install(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let kind = client(&id)?;
    let options = options(&body)?;
    let path = file_to_change(kind, &options)?;
    let gateway = target(&state)?;
    let servers: Vec<String> = state
        .hub
        .slots()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    let install_target = match (options.server, options.all, options.search) {
        (Some(name), _, _) => InstallTarget::Server(name),
        (None, true, _) => InstallTarget::All,
        (None, false, true) => InstallTarget::Search,
        (None, false, false) => InstallTarget::Aggregate,
    };
    let records_path = clients::records_file(state.store.path());
    let mut records = Records::load(&records_path).map_err(client_error)?;
    let previous = records.previous(&path);
    let plan = clients::plan_install(
        kind,
        &path,
        &gateway,
        &servers,
        &install_target,
        options.replace,
        previous,
    )
    .map_err(client_error)?;
    let mut backup = None;
    if !options.dry_run {
        plan.change
            .check_preview(options.expect.as_deref())
            .map_err(client_error)?;
        backup = records
            .apply_install(&records_path, &path, &plan)
            .map_err(client_error)?;
    }
    Ok(Json(json!({
        "path": path,
        "diff": plan.change.diff,
        "plan": plan.change.plan,
        "duplicates": plan.duplicates,
        "written": !options.dry_run && !plan.change.is_empty(),
        "backup": backup,
    })))
}

/// `POST /api/clients/{client}/uninstall` `{project?, dryRun?, expect?}`
pub async fn uninstall(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let kind = client(&id)?;
    let options = options(&body)?;
    let path = file_to_change(kind, &options)?;
    let gateway = target(&state)?;
    let records_path = clients::records_file(state.store.path());
    let mut records = Records::load(&records_path).map_err(client_error)?;
    let change = clients::plan_uninstall(kind, &path, &gateway, records.files.get(&path))
        .map_err(client_error)?;
    let mut backup = None;
    if !options.dry_run {
        change
            .check_preview(options.expect.as_deref())
            .map_err(client_error)?;
        backup = records
            .apply_uninstall(&records_path, &path, &change)
            .map_err(client_error)?;
    }
    Ok(Json(json!({
        "path": path,
        "diff": change.diff,
        "plan": change.plan,
        "written": !options.dry_run && !change.is_empty(),
        "backup": backup,
    })))
}

/// `POST /api/clients/{client}/import` `{project?, dryRun?, expect?}`: into servers.json, through the config
/// store (so it applies at once).
pub async fn import(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let kind = client(&id)?;
    let options = options(&body)?;
    let path = file_to_change(kind, &options)?;
    let gateway = target(&state)?;
    // The plan on the file as it is now, for the diff (and the dry run); the same planner as
    // the CLI's, so a broken servers.json is refused here too.
    let clients::PlannedImport { change, plan, .. } =
        clients::plan_import(kind, &path, &gateway, state.store.path(), false)
            .map_err(client_error)?;
    if !options.dry_run {
        change
            .check_preview(options.expect.as_deref())
            .map_err(client_error)?;
    }
    let mut written = false;
    if !options.dry_run && !plan.imported.is_empty() {
        state
            .store
            .import_from_client(kind, &path, &gateway)
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::CONFLICT, "config_not_written", e.to_string())
            })?;
        written = true;
    }
    Ok(Json(json!({
        "path": state.store.path(),
        "diff": change.diff,
        "plan": change.plan,
        "imported": plan.imported,
        "skipped": plan.skipped,
        "written": written,
    })))
}
