//! What Switchboard does to the clients' files: see what they run (detect), take their stdio
//! servers into servers.json (import), point them at the gateway (install), and undo that
//! (uninstall). Every change is planned first, as a before/after text with a diff, so the CLI
//! and the dashboard can show it before anything is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::file::ClientFile;
use super::kinds::{entry_kind, ClientKind, ConfigLocation, EntryKind, Places, Scope};
use super::ClientError;
use crate::atomic_file::{self, Replaced};

/// Where clients should reach Switchboard.
#[derive(Debug, Clone)]
pub struct GatewayTarget {
    /// `http://127.0.0.1:7427`
    pub base_url: String,
    /// The `switchboard` executable, for clients that can only run commands.
    pub executable: PathBuf,
}

/// Which of the gateway's endpoints an entry reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach<'a> {
    /// One server's endpoint.
    Server(&'a str),
    /// The aggregate endpoint, every tool listed.
    Aggregate,
    /// The aggregate endpoint in search mode (`?mode=search`).
    Search,
}

impl GatewayTarget {
    fn url(&self, reach: Reach<'_>) -> String {
        match reach {
            Reach::Server(name) => format!("{}/servers/{name}/mcp", self.base_url),
            Reach::Aggregate => format!("{}/mcp", self.base_url),
            Reach::Search => format!("{}/mcp?mode=search", self.base_url),
        }
    }

    /// The entry that makes `kind` reach an endpoint through Switchboard (a URL, or `switchboard
    /// connect` for clients that only run commands).
    pub fn entry(&self, kind: ClientKind, reach: Reach<'_>) -> Value {
        if kind.speaks_http() {
            return kind.http_entry(&self.url(reach));
        }
        let mut args = vec!["connect".to_owned()];
        match reach {
            Reach::Server(name) => args.push(name.to_owned()),
            Reach::Aggregate => {}
            Reach::Search => args.push("--search".to_owned()),
        }
        args.extend(["--url".to_owned(), self.base_url.clone()]);
        kind.stdio_entry(&self.executable.to_string_lossy(), &args, &Map::new())
    }

    /// Whether `entry` is one of ours (points at this gateway, or runs `switchboard connect`).
    pub fn owns(&self, entry: &Value) -> bool {
        match entry_kind(entry) {
            EntryKind::Http { url } => is_under(&self.base_url, &url),
            EntryKind::Stdio { command, args } => {
                let program = Path::new(&command)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                program.starts_with("switchboard")
                    && args.first().map(String::as_str) == Some("connect")
            }
            EntryKind::Other => false,
        }
    }
}

/// Whether `url` is at or below `base`: the same scheme, host and port (the scheme's default
/// when left out), and `base`'s path a prefix of `url`'s that ends on a segment boundary. A
/// text prefix would take `:74270` for `:7427`, or `/sbx` for `/sb`.
fn is_under(base: &str, url: &str) -> bool {
    let (Ok(base), Ok(url)) = (base.parse::<http::Uri>(), url.parse::<http::Uri>()) else {
        return false;
    };
    let port = |uri: &http::Uri| {
        uri.port_u16().or(match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Some(80),
            Some(s) if s.eq_ignore_ascii_case("https") => Some(443),
            _ => None,
        })
    };
    let same = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    };
    if !same(base.scheme_str(), url.scheme_str())
        || !same(base.host(), url.host())
        || port(&base) != port(&url)
    {
        return false;
    }
    url.path()
        .strip_prefix(base.path().trim_end_matches('/'))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A planned change of one file.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub path: PathBuf,
    #[serde(skip)]
    pub before: Option<String>,
    #[serde(skip)]
    pub after: String,
    pub diff: String,
    /// Names this exact change (the file's text before and after): a preview hands it out, and
    /// an apply that expects it is refused when the file has changed since (the diff is
    /// redacted, so two different changes can show the same one).
    pub plan: String,
}

impl Change {
    /// The change of `path` from `before` (`None`: no file yet) to `after`.
    pub fn for_file(path: &Path, before: Option<String>, after: String) -> Self {
        Self::new(path, before, after)
    }

    fn new(path: &Path, before: Option<String>, after: String) -> Self {
        let diff = unified_diff(path, before.as_deref().unwrap_or(""), &after);
        let plan = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (&before, &after).hash(&mut hasher);
            format!("{:016x}", hasher.finish())
        };
        Self {
            path: path.to_owned(),
            before,
            after,
            diff,
            plan,
        }
    }

    /// Refuses to go on when the caller previewed another change than this one.
    pub fn check_preview(&self, expected: Option<&str>) -> Result<(), ClientError> {
        match expected {
            Some(expected) if expected != self.plan => {
                Err(ClientError::StalePreview(self.path.clone()))
            }
            _ => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.before.as_deref() == Some(self.after.as_str())
    }

    /// Writes it, keeping a timestamped backup of what was there.
    pub fn write(&self) -> Result<Option<PathBuf>, ClientError> {
        if self.is_empty() {
            return Ok(None);
        }
        let backup = self.before.as_ref().map(|_| timestamped_backup(&self.path));
        let io = |source| ClientError::Io {
            path: self.path.clone(),
            source,
        };
        match atomic_file::replace_if_unchanged(
            &self.path,
            self.before.as_deref(),
            &self.after,
            backup.as_deref(),
            || {},
        )
        .map_err(io)?
        {
            Replaced::Written => Ok(backup),
            Replaced::ChangedUnderneath => Err(ClientError::ChangedUnderneath(self.path.clone())),
        }
    }
}

fn unified_diff(path: &Path, before: &str, after: &str) -> String {
    let name = path.display().to_string();
    let diff = similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string();
    redact_secrets(&diff, &[before, after])
}

/// Replaces the values of `env` and `headers` entries (API keys, tokens) found in `sources`
/// wherever they appear in `text`, so a diff can be shown without them.
fn redact_secrets(text: &str, sources: &[&str]) -> String {
    fn collect(value: &Value, under_secret: bool, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let secret = under_secret || matches!(key.as_str(), "env" | "headers");
                    collect(v, secret, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, under_secret, out)),
            Value::String(s) if under_secret && s.len() >= 4 => out.push(s.clone()),
            _ => {}
        }
    }
    let mut secrets = Vec::new();
    for source in sources {
        if let Ok(root) = jsonc_parser::cst::CstRootNode::parse(source, &Default::default()) {
            if let Some(value) = root.to_serde_value() {
                collect(&value, false, &mut secrets);
            }
        }
    }
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut redacted = text.to_owned();
    for secret in secrets {
        // As it appears inside a JSON string.
        let quoted = serde_json::to_string(&secret).unwrap_or_default();
        let inner = quoted.trim_matches('"');
        redacted = redacted.replace(inner, "••••••");
    }
    redacted
}

/// `file.json` -> `file.json.switchboard-20261121T213000Z.bak`
fn timestamped_backup(path: &Path) -> PathBuf {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "backup".into());
    let file = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    (1..)
        .map(|n| match n {
            1 => format!("{file}.switchboard-{stamp}.bak"),
            n => format!("{file}.switchboard-{stamp}-{n}.bak"),
        })
        .map(|name| path.with_file_name(name))
        .find(|candidate| !candidate.exists())
        .unwrap_or_else(|| path.with_extension("switchboard.bak"))
}

// ---------------------------------------------------------------------------------------- detect

/// How a client reaches one of its servers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientServer {
    pub name: String,
    /// `switchboard`: through this gateway; `direct`: the client runs it itself; `http`: some
    /// other URL.
    pub reach: &'static str,
    pub detail: String,
}

/// One config file of one client, as found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedFile {
    pub path: PathBuf,
    pub scope: Scope,
    pub exists: bool,
    pub servers: Vec<ClientServer>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedClient {
    pub client: ClientKind,
    pub name: &'static str,
    pub files: Vec<DetectedFile>,
}

/// Every known client, with what each of its files holds.
pub fn detect(places: &Places, gateway: &GatewayTarget) -> Vec<DetectedClient> {
    ClientKind::ALL
        .into_iter()
        .map(|kind| DetectedClient {
            client: kind,
            name: kind.display_name(),
            files: kind
                .locations(places)
                .into_iter()
                .map(|location| detect_file(kind, location, gateway))
                .collect(),
        })
        .collect()
}

fn detect_file(
    kind: ClientKind,
    location: ConfigLocation,
    gateway: &GatewayTarget,
) -> DetectedFile {
    let exists = location.path.is_file();
    let mut found = DetectedFile {
        path: location.path.clone(),
        scope: location.scope,
        exists,
        servers: Vec::new(),
        error: None,
    };
    if !exists {
        return found;
    }
    match ClientFile::load(&location.path, kind.servers_key()) {
        Ok(file) => {
            found.servers = file
                .servers()
                .into_iter()
                .map(|(name, entry)| {
                    let reach = if gateway.owns(&entry) {
                        "switchboard"
                    } else {
                        match entry_kind(&entry) {
                            EntryKind::Stdio { .. } => "direct",
                            EntryKind::Http { .. } => "http",
                            EntryKind::Other => "unknown",
                        }
                    };
                    let detail = match entry_kind(&entry) {
                        EntryKind::Stdio { command, args } => {
                            format!("{command} {}", args.join(" "))
                        }
                        EntryKind::Http { url } => url,
                        EntryKind::Other => String::new(),
                    };
                    ClientServer {
                        name,
                        reach,
                        detail: detail.trim().to_owned(),
                    }
                })
                .collect()
        }
        Err(e) => found.error = Some(e.to_string()),
    }
    found
}

/// The client's file to work on: its project file when a project is given, else its user
/// file.
pub fn location(kind: ClientKind, places: &Places) -> Result<PathBuf, ClientError> {
    let wanted = if places.project.is_some() {
        Scope::Project
    } else {
        Scope::User
    };
    kind.locations(places)
        .into_iter()
        .find(|l| l.scope == wanted)
        .map(|l| l.path)
        .ok_or(ClientError::NoProjectFile(kind))
}

// ---------------------------------------------------------------------------------------- import

/// The result of planning an import.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportPlan {
    /// (name in the client, name in servers.json)
    pub imported: Vec<(String, String)>,
    /// (name in the client, why not)
    pub skipped: Vec<(String, String)>,
    /// Plain-text values of imported entries that look like secrets (an env variable named
    /// like a key or token, an `Authorization` header…), by where they are; never the value.
    pub plaintext_secrets: Vec<PlaintextSecret>,
}

/// A value an import found written out that looks like a secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaintextSecret {
    /// The server's name in servers.json.
    pub server: String,
    /// `env` or `headers`.
    pub field: &'static str,
    pub key: String,
    /// The name it gets in the keychain when moved (`${secret:NAME}`).
    pub secret: String,
}

/// Whether an env variable or header of this name usually holds a secret.
fn looks_secret(field: &str, key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if field == "headers" {
        return matches!(
            key.as_str(),
            "authorization" | "cookie" | "x-api-key" | "api-key"
        ) || key.ends_with("-token")
            || key.ends_with("-key");
    }
    [
        "token",
        "secret",
        "password",
        "passwd",
        "api_key",
        "apikey",
        "credential",
        "private_key",
    ]
    .iter()
    .any(|word| key.contains(word))
        || key.ends_with("_key")
        || key.ends_with("_pat")
}

/// The keychain name of `server`'s `key`: `SERVER_KEY`, upper-cased, made a valid name.
fn secret_name(server: &str, key: &str) -> String {
    format!("{server}_{key}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The plain-text secrets of the entry `ours` imported as `server`.
fn plaintext_secrets(server: &str, ours: &Value) -> Vec<PlaintextSecret> {
    let mut found = Vec::new();
    for field in ["env", "headers"] {
        for (key, value) in ours
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let plain = value
                .as_str()
                .is_some_and(|v| !v.is_empty() && !v.contains("${"));
            if plain && looks_secret(field, key) {
                found.push(PlaintextSecret {
                    server: server.to_owned(),
                    field,
                    key: key.clone(),
                    secret: secret_name(server, key),
                });
            }
        }
    }
    found
}

/// Moves the plain-text secrets `plan` found out of the entries in `root` (servers.json):
/// each value becomes `${secret:NAME}`; answers (NAME, value) for the caller to store in the
/// keychain before it writes the file.
pub fn move_secrets(plan: &ImportPlan, root: &mut Map<String, Value>) -> Vec<(String, String)> {
    let mut moved = Vec::new();
    for found in &plan.plaintext_secrets {
        let slot = root
            .get_mut("mcpServers")
            .and_then(|s| s.get_mut(&found.server))
            .and_then(|e| e.get_mut(found.field))
            .and_then(|f| f.get_mut(&found.key));
        if let Some(value) = slot {
            if let Some(text) = value.as_str() {
                moved.push((found.secret.clone(), text.to_owned()));
                *value = Value::String(format!("${{secret:{}}}", found.secret));
            }
        }
    }
    moved
}

/// Adds the client's servers at `path` (programs and remote URLs; not those that already go
/// through Switchboard) to the servers.json root object `root`, without
/// overwriting: a server already there with the same launch is skipped, a different one with
/// the same name is imported under a new name.
pub fn import_into(
    kind: ClientKind,
    path: &Path,
    gateway: &GatewayTarget,
    root: &mut Map<String, Value>,
) -> Result<ImportPlan, ClientError> {
    let file = ClientFile::load(path, kind.servers_key())?;
    if file.original.is_none() {
        return Err(ClientError::Missing(path.to_owned()));
    }
    let servers = root
        .entry("mcpServers")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| {
            ClientError::Invalid("mcpServers in servers.json is not an object".into())
        })?;
    let mut plan = ImportPlan {
        imported: Vec::new(),
        skipped: Vec::new(),
        plaintext_secrets: Vec::new(),
    };
    for (name, entry) in file.servers() {
        if gateway.owns(&entry) {
            plan.skipped
                .push((name, "already goes through Switchboard".into()));
            continue;
        }
        let ours = match entry_kind(&entry) {
            EntryKind::Stdio { command, args } => {
                let mut ours = Map::new();
                ours.insert("command".into(), json!(command));
                ours.insert("args".into(), json!(args));
                copy_keys(&entry, &mut ours, &["env", "cwd"]);
                ours
            }
            EntryKind::Http { .. } => match remote_entry(&entry) {
                Ok(ours) => ours,
                Err(why) => {
                    plan.skipped.push((name, why));
                    continue;
                }
            },
            EntryKind::Other => {
                plan.skipped
                    .push((name, "neither a command to run nor a url".into()));
                continue;
            }
        };
        let ours = Value::Object(ours);
        let same_launch =
            |existing: &Value| LAUNCH_KEYS.iter().all(|k| existing.get(*k) == ours.get(*k));
        let base = sanitize_name(&name);
        if servers.get(&base).is_some_and(same_launch) {
            plan.skipped
                .push((name, format!("already in servers.json as '{base}'")));
            continue;
        }
        let target = free_name(servers, &base, kind);
        plan.plaintext_secrets
            .extend(plaintext_secrets(&target, &ours));
        servers.insert(target.clone(), ours);
        plan.imported.push((name, target));
    }
    Ok(plan)
}

/// The keys of an imported entry that say how its server is reached.
const LAUNCH_KEYS: [&str; 8] = [
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "serverUrl",
    "type",
    "headers",
];

fn copy_keys(from: &Value, to: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(value) = from.get(*key) {
            to.insert((*key).into(), value.clone());
        }
    }
}

/// A client's remote entry as servers.json takes it: its `url`/`serverUrl`, `type` and
/// `headers` unchanged; refused with the reason when Switchboard could not use it.
fn remote_entry(entry: &Value) -> Result<Map<String, Value>, String> {
    if let Some(kind) = entry.get("type") {
        let known = serde_json::from_value::<crate::config::TransportKind>(kind.clone());
        if !matches!(
            known,
            Ok(crate::config::TransportKind::Http | crate::config::TransportKind::Sse)
        ) {
            return Err(format!(
                "type {kind} is not an HTTP transport Switchboard speaks"
            ));
        }
    }
    let mut ours = Map::new();
    copy_keys(entry, &mut ours, &["type", "url", "serverUrl", "headers"]);
    Ok(ours)
}

/// An import planned on servers.json as it is now: the change of the file (its diff, and the
/// `plan` a preview hands out) and which server goes in under which name.
#[derive(Debug, Clone)]
pub struct PlannedImport {
    pub change: Change,
    pub plan: ImportPlan,
    /// With `move_secrets`: (NAME, value) of each secret moved out of the file, to store in
    /// the keychain before the change is written.
    pub moved_secrets: Vec<(String, String)>,
}

/// Plans importing the stdio servers of the client file at `client_file` into `config_file`:
/// the one planner of the CLI's `import` and the API's. A servers.json that exists but
/// cannot be read, does not parse, or is not valid is refused with its error (file and line or
/// key), never previewed as if it were empty; a missing one is started afresh.
pub fn plan_import(
    kind: ClientKind,
    client_file: &Path,
    gateway: &GatewayTarget,
    config_file: &Path,
    move_secrets: bool,
) -> Result<PlannedImport, ClientError> {
    let broken = ClientError::ServersJsonBroken;
    let before = atomic_file::read_optional(config_file).map_err(|e| {
        broken(crate::config::ConfigError::Read {
            path: config_file.to_owned(),
            message: e.to_string(),
        })
    })?;
    if let Some(text) = &before {
        crate::config::parse(config_file, text).map_err(broken)?;
    }
    // Only the entries the import adds are written: the rest of the file stays as it is.
    let mut doc = crate::config::Document::open(config_file, before.as_deref()).map_err(broken)?;
    let plan = import_into(kind, client_file, gateway, &mut doc.root)?;
    let moved_secrets = if move_secrets {
        self::move_secrets(&plan, &mut doc.root)
    } else {
        Vec::new()
    };
    let after = doc.text();
    crate::config::parse(config_file, &after).map_err(|e| {
        ClientError::Invalid(format!(
            "importing from {} would leave servers.json invalid: {e}",
            client_file.display()
        ))
    })?;
    Ok(PlannedImport {
        change: Change::new(config_file, before, after),
        plan,
        moved_secrets,
    })
}

/// A client's server name made valid for servers.json (it becomes part of URLs).
fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    let out = out.trim_start_matches('.').trim_matches('-').to_owned();
    if out.is_empty() {
        "server".into()
    } else {
        out
    }
}

fn free_name(servers: &Map<String, Value>, base: &str, kind: ClientKind) -> String {
    if !servers.contains_key(base) {
        return base.to_owned();
    }
    let with_client = format!("{base}-{}", kind.id());
    if !servers.contains_key(&with_client) {
        return with_client;
    }
    (2..)
        .map(|n| format!("{with_client}-{n}"))
        .find(|n| !servers.contains_key(n))
        .unwrap_or(with_client)
}

// --------------------------------------------------------------------------- install / uninstall

/// Which entries `install` writes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InstallTarget {
    /// One entry, `switchboard`, for the aggregate endpoint (every server).
    Aggregate,
    /// One entry, `switchboard`, for the aggregate endpoint in search mode: three meta-tools
    /// that find, describe and call every server's tools (fewer tokens with many servers).
    Search,
    /// One entry for this server.
    Server(String),
    /// One entry per server of servers.json.
    All,
}

/// What Switchboard wrote into a client file, so `uninstall` can undo exactly that.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstallRecord {
    pub installed: Vec<String>,
    /// Entries that `--replace` took out, to put back.
    pub replaced: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallPlan {
    pub change: Change,
    pub record: InstallRecord,
    /// Client entries that still run a server Switchboard also runs (use `--replace`).
    pub duplicates: Vec<String>,
}

/// Plans writing gateway entries into the client file at `path`. `servers`: the names in
/// servers.json. `previous`: what an earlier install recorded (kept and extended).
pub fn plan_install(
    kind: ClientKind,
    path: &Path,
    gateway: &GatewayTarget,
    servers: &[String],
    target: &InstallTarget,
    replace: bool,
    previous: InstallRecord,
) -> Result<InstallPlan, ClientError> {
    let mut file = ClientFile::load(path, kind.servers_key())?;
    let wanted: Vec<(String, Reach<'_>)> = match target {
        InstallTarget::Aggregate => vec![("switchboard".into(), Reach::Aggregate)],
        InstallTarget::Search => vec![("switchboard".into(), Reach::Search)],
        InstallTarget::Server(name) => {
            if !servers.contains(name) {
                return Err(ClientError::UnknownServer(name.clone()));
            }
            vec![(name.clone(), Reach::Server(name.as_str()))]
        }
        InstallTarget::All => servers
            .iter()
            .map(|n| (n.clone(), Reach::Server(n.as_str())))
            .collect(),
    };
    let mut record = previous;
    for (entry_name, reach) in &wanted {
        if let Some(existing) = file.server(entry_name) {
            if !gateway.owns(&existing) {
                if !replace {
                    return Err(ClientError::Clash {
                        path: path.to_owned(),
                        name: entry_name.clone(),
                    });
                }
                record
                    .replaced
                    .entry(entry_name.clone())
                    .or_insert(existing);
            }
        }
        file.set_server(entry_name, &gateway.entry(kind, *reach));
        if !record.installed.contains(entry_name) {
            record.installed.push(entry_name.clone());
        }
    }
    // Servers the client still runs itself although Switchboard runs them too.
    let mut duplicates = Vec::new();
    for (name, entry) in file.servers() {
        let direct = matches!(entry_kind(&entry), EntryKind::Stdio { .. }) && !gateway.owns(&entry);
        if direct && servers.contains(&sanitize_name(&name)) {
            if replace {
                record.replaced.entry(name.clone()).or_insert(entry);
                file.remove_server(&name);
            } else {
                duplicates.push(name);
            }
        }
    }
    let change = Change::new(path, file.original.clone(), file.text());
    Ok(InstallPlan {
        change,
        record,
        duplicates,
    })
}

/// Plans undoing `record` in the client file at `path`: our entries go, replaced ones return.
/// Without a record, every entry that points at this gateway goes.
pub fn plan_uninstall(
    kind: ClientKind,
    path: &Path,
    gateway: &GatewayTarget,
    record: Option<&InstallRecord>,
) -> Result<Change, ClientError> {
    let mut file = ClientFile::load(path, kind.servers_key())?;
    if file.original.is_none() {
        return Err(ClientError::Missing(path.to_owned()));
    }
    let ours: Vec<String> = file
        .servers()
        .into_iter()
        .filter(|(name, entry)| {
            gateway.owns(entry) && record.is_none_or(|r| r.installed.contains(name))
        })
        .map(|(name, _)| name)
        .collect();
    for name in &ours {
        file.remove_server(name);
    }
    if let Some(record) = record {
        for (name, entry) in &record.replaced {
            if file.server(name).is_none() {
                file.set_server(name, entry);
            }
        }
    }
    Ok(Change::new(path, file.original.clone(), file.text()))
}

// ------------------------------------------------------------------------------------- records

/// Where the install records of `config_file`'s Switchboard live: beside it.
pub fn records_file(config_file: &Path) -> PathBuf {
    config_file.with_file_name("clients.json")
}

/// The install records of every client file, kept beside servers.json (not in the clients'
/// files, whose readers may reject keys they do not know).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Records {
    pub files: BTreeMap<PathBuf, InstallRecord>,
}

impl Records {
    pub fn load(path: &Path) -> Result<Self, ClientError> {
        match atomic_file::read_optional(path) {
            Ok(Some(text)) => serde_json::from_str(&text).map_err(|e| ClientError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            }),
            Ok(None) => Ok(Self::default()),
            Err(source) => Err(ClientError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// What an earlier install into `path` recorded (kept and extended by the next one).
    pub fn previous(&self, path: &Path) -> InstallRecord {
        self.files.get(path).cloned().unwrap_or_default()
    }

    /// Writes a planned install into `path`, then records what it replaced (for uninstall) in
    /// the records file: a write that fails records nothing. Answers the backup, if any.
    pub fn apply_install(
        &mut self,
        records_file: &Path,
        path: &Path,
        plan: &InstallPlan,
    ) -> Result<Option<PathBuf>, ClientError> {
        let backup = plan.change.write()?;
        self.files.insert(path.to_owned(), plan.record.clone());
        self.save(records_file)?;
        Ok(backup)
    }

    /// Writes a planned uninstall of `path`, then forgets its record.
    pub fn apply_uninstall(
        &mut self,
        records_file: &Path,
        path: &Path,
        change: &Change,
    ) -> Result<Option<PathBuf>, ClientError> {
        let backup = change.write()?;
        self.files.remove(path);
        self.save(records_file)?;
        Ok(backup)
    }

    /// Replaces the records file atomically (temp file + rename): a crash or a concurrent
    /// reader never meets half a file, which would lose every record.
    pub fn save(&self, path: &Path) -> Result<(), ClientError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| {
            ClientError::Invalid(format!(
                "cannot write the install records {}: {e}",
                path.display()
            ))
        })?;
        atomic_file::replace(path, &text).map_err(|source| ClientError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_valid_for_servers_json() {
        assert_eq!(sanitize_name("My Server"), "My-Server");
        assert_eq!(sanitize_name("a__b"), "a_b");
        assert_eq!(sanitize_name("@scope/pkg"), "scope-pkg");
        assert_eq!(sanitize_name("..."), "server");
        assert!(crate::config::check_server_name(&sanitize_name("weird name__x!")).is_ok());
    }

    #[test]
    fn an_apply_is_refused_unless_it_is_the_change_that_was_previewed() {
        let path = Path::new("mcp.json");
        let shown = Change::for_file(path, Some("{}".into()), r#"{"a":1}"#.into());
        let now = Change::for_file(path, Some(r#"{"b":2}"#.into()), r#"{"b":2,"a":1}"#.into());
        assert!(shown.check_preview(Some(&shown.plan)).is_ok());
        assert!(
            shown.check_preview(None).is_ok(),
            "the CLI applies without a preview"
        );
        assert!(matches!(
            now.check_preview(Some(&shown.plan)),
            Err(ClientError::StalePreview(_))
        ));
        // Secrets are redacted in diffs, so equal diffs may hide different changes; plans differ.
        let a = Change::for_file(path, None, r#"{"env":{"KEY":"one"}}"#.into());
        let b = Change::for_file(path, None, r#"{"env":{"KEY":"two"}}"#.into());
        assert_ne!(a.plan, b.plan);
    }

    #[test]
    fn diffs_do_not_show_env_or_header_values() {
        let before = r#"{"mcpServers":{"a":{"command":"x","env":{"API_KEY":"sk-secret-123"}}}}"#;
        let after = r#"{"mcpServers":{"a":{"command":"x","env":{"API_KEY":"sk-secret-123"}},"b":{"url":"u","headers":{"Authorization":"Bearer tok-456"}}}}"#;
        let diff = unified_diff(Path::new("f.json"), before, after);
        assert!(
            !diff.contains("sk-secret-123") && !diff.contains("tok-456"),
            "{diff}"
        );
        assert!(
            diff.contains("API_KEY") && diff.contains("••••••"),
            "{diff}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn saved_records_replace_the_file_whole_so_a_reader_never_sees_half() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = records_file(&dir.path().join("servers.json"));
        let mut records = Records::default();
        records
            .files
            .insert("/a/mcp.json".into(), InstallRecord::default());
        records.save(&path).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        // A reader that opened the file before the next save keeps reading what it opened:
        // the save renamed a new file over it instead of truncating and rewriting this one.
        let mut reader = std::fs::File::open(&path).unwrap();
        records
            .files
            .insert("/b/mcp.json".into(), InstallRecord::default());
        records.save(&path).unwrap();
        let mut seen = String::new();
        reader.read_to_string(&mut seen).unwrap();
        assert_eq!(seen, first);
        let saved = Records::load(&path).unwrap();
        assert_eq!(saved.files.len(), 2);
        assert!(
            std::fs::read_dir(dir.path()).unwrap().count() == 1,
            "no temp file left behind"
        );
    }

    #[test]
    fn an_import_into_a_servers_json_that_cannot_be_read_or_parsed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let client = dir.path().join("mcp.json");
        std::fs::write(
            &client,
            r#"{"mcpServers":{"time":{"command":"uvx","args":["mcp-server-time"]}}}"#,
        )
        .unwrap();
        let gateway = GatewayTarget {
            base_url: "http://127.0.0.1:7427".into(),
            executable: "/usr/local/bin/switchboard".into(),
        };
        let config = dir.path().join("servers.json");
        let refused = |why: &str| {
            let error =
                plan_import(ClientKind::Cursor, &client, &gateway, &config, false).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, ClientError::ServersJsonBroken(_)),
                "{why}: {error:?}"
            );
            assert!(
                message.contains(&config.display().to_string())
                    && message.contains("fix servers.json first"),
                "{why}: {message}"
            );
            message
        };
        std::fs::write(&config, r#"{ "mcpServers": "#).unwrap();
        assert!(refused("not JSON").contains(":1:"), "with line and column");
        std::fs::write(&config, r#"{"mcpServers":{"x":{"command":""}}}"#).unwrap();
        assert!(refused("not valid").contains("mcpServers.x.command"));
        std::fs::remove_file(&config).unwrap();
        std::fs::create_dir(&config).unwrap();
        assert!(refused("unreadable").contains("cannot read"));

        // No servers.json yet is no error: the import starts one.
        std::fs::remove_dir(&config).unwrap();
        let planned = plan_import(ClientKind::Cursor, &client, &gateway, &config, false).unwrap();
        assert_eq!(planned.plan.imported, vec![("time".into(), "time".into())]);
        assert!(planned.change.before.is_none());
        assert!(crate::config::parse(&config, &planned.change.after).is_ok());
    }

    #[test]
    fn our_entries_are_recognised() {
        let gateway = GatewayTarget {
            base_url: "http://127.0.0.1:7427".into(),
            executable: "/usr/local/bin/switchboard".into(),
        };
        for kind in ClientKind::ALL {
            for reach in [Reach::Aggregate, Reach::Search, Reach::Server("git")] {
                assert!(
                    gateway.owns(&gateway.entry(kind, reach)),
                    "{kind} {reach:?}"
                );
            }
        }
        assert!(!gateway.owns(&json!({ "command": "npx", "args": ["-y", "x"] })));
        assert!(!gateway.owns(&json!({ "url": "https://example.com/mcp" })));
    }

    #[test]
    fn an_entry_is_ours_only_on_the_same_scheme_host_port_and_path_segments() {
        let gateway = GatewayTarget {
            base_url: "http://127.0.0.1:7427".into(),
            executable: "/usr/local/bin/switchboard".into(),
        };
        let owns = |url: &str| gateway.owns(&json!({ "url": url }));
        for url in [
            "http://127.0.0.1:7427/mcp",
            "http://127.0.0.1:7427/servers/git/mcp",
            "http://127.0.0.1:7427",
            "HTTP://127.0.0.1:7427/mcp",
        ] {
            assert!(owns(url), "{url}");
        }
        for url in [
            "http://127.0.0.1:74270/mcp",
            "http://127.0.0.1:742/mcp",
            "https://127.0.0.1:7427/mcp",
            "http://127.0.0.10:7427/mcp",
            "http://127.0.0.1/mcp",
            "not a url",
        ] {
            assert!(!owns(url), "{url}");
        }
        let under_a_path = GatewayTarget {
            base_url: "http://example.com/sb/".into(),
            ..gateway.clone()
        };
        let owns = |url: &str| under_a_path.owns(&json!({ "url": url }));
        assert!(owns("http://example.com:80/sb/mcp"));
        assert!(owns("http://example.com/sb"));
        assert!(!owns("http://example.com/sbx/mcp"));
        assert!(!owns("http://example.com/mcp"));
    }
}
