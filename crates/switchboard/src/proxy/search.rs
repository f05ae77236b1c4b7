//! Search mode of the aggregate endpoint (`/mcp?mode=search`, `/sse?mode=search`, with or
//! without `servers=`; issue 18): instead of every tool's definition, `tools/list` offers three
//! meta-tools, and a model finds, reads and calls the tools it needs through them.
//!
//! - `search_tools {query, limit?}`: the best matches (BM25 over each tool's name split into
//!   words, its server's name, description, and parameter names and descriptions), with a
//!   one-line description each;
//! - `describe_tools {names}`: the full definitions (input schema included) of chosen tools;
//! - `call_tool {name, arguments?}`: calls `server__tool` exactly as a direct call would (the
//!   aggregate's routing, the tool filter, timeouts, progress, the activity log).
//!
//! Only what the view shows and the filters expose is ever found, described or called. The
//! index is built from the slots' catalogs and rebuilt when a catalog or a filter is replaced
//! (each search compares the ones it was built from), shared by every session of a view.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bm25::{Document, Language, SearchEngine, SearchEngineBuilder};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, JsonObject, Tool};
use serde_json::{json, Value};

use super::names::qualified;
use crate::slot::{LiveSettings, ServerSlot};

pub const SEARCH_TOOLS: &str = "search_tools";
pub const DESCRIBE_TOOLS: &str = "describe_tools";
pub const CALL_TOOL: &str = "call_tool";

/// Matches `search_tools` answers by default, and at most.
const DEFAULT_LIMIT: usize = 5;
const MAX_LIMIT: usize = 20;
/// A match's description in `search_tools` is cut to this many characters.
const SUMMARY_CHARS: usize = 160;
/// Views whose index is kept at once.
const INDEXES_MAX: usize = 64;

/// What a search-mode endpoint does with a `tools/call`.
pub enum Local {
    /// A meta-tool answered from the catalogs.
    Answer(CallToolResult),
    /// `call_tool`: this call of a real tool goes on as a direct call would.
    Call(CallToolRequestParams),
}

/// The three meta-tools, as `tools/list` offers them.
pub fn meta_tools() -> Vec<Tool> {
    let schema = |value: Value| -> Arc<JsonObject> {
        Arc::new(value.as_object().cloned().unwrap_or_default())
    };
    vec![
        Tool::new(
            SEARCH_TOOLS,
            "Search the tools of every connected MCP server by what you want to do. Answers \
             the best matches (name and a short description); then use describe_tools for a \
             tool's parameters and call_tool to call it.",
            schema(json!({
                "type": "object",
                "properties": {
                    "query": { "type": "string", "description": "What you want to do, in a few words" },
                    "limit": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "description": "How many matches (default 5)" },
                },
                "required": ["query"],
            })),
        ),
        Tool::new(
            DESCRIBE_TOOLS,
            "The full definitions (description and input schema) of tools found with \
             search_tools, by their names (server__tool).",
            schema(json!({
                "type": "object",
                "properties": {
                    "names": { "type": "array", "items": { "type": "string" }, "description": "Tool names as search_tools gave them" },
                },
                "required": ["names"],
            })),
        ),
        Tool::new(
            CALL_TOOL,
            "Call a tool found with search_tools by its name (server__tool), with arguments \
             as its input schema describes.",
            schema(json!({
                "type": "object",
                "properties": {
                    "name": { "type": "string", "description": "The tool's name (server__tool)" },
                    "arguments": { "type": "object", "description": "The tool's arguments" },
                },
                "required": ["name"],
            })),
        ),
    ]
}

/// The tool a `call_tool` request names.
pub fn called_tool(request: &CallToolRequestParams) -> Option<&str> {
    (request.name == CALL_TOOL)
        .then(|| request.arguments.as_ref()?.get("name")?.as_str())
        .flatten()
}

/// The tools `running` expose, named `server__tool` (the aggregate's `tools/list`).
pub fn exposed_tools(running: &[Arc<ServerSlot>]) -> Vec<Tool> {
    let mut tools = Vec::new();
    for slot in running {
        let settings = slot.settings();
        for tool in slot.catalog().tools.iter() {
            if settings.filter.exposes(&tool.name) {
                let mut tool = tool.clone();
                tool.name = qualified(slot.name(), &tool.name).into();
                tools.push(tool);
            }
        }
    }
    tools
}

/// What an index was built from: each server's catalog and settings, held (so they are the
/// same allocations, not merely at the same address, when compared).
#[derive(Default)]
struct Sources(Vec<(Arc<Vec<Tool>>, Arc<LiveSettings>)>);

impl Sources {
    fn of(running: &[Arc<ServerSlot>]) -> Self {
        Self(
            running
                .iter()
                .map(|slot| (slot.tools(), slot.settings()))
                .collect(),
        )
    }

    /// Whether nothing a search sees has changed (the same catalogs and filters, in order).
    fn same(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|((t1, s1), (t2, s2))| Arc::ptr_eq(t1, t2) && Arc::ptr_eq(s1, s2))
    }
}

/// One view's index: its tools and the search engine over them.
struct Index {
    sources: Sources,
    tools: Vec<Tool>,
    engine: SearchEngine<u32>,
}

impl Index {
    fn build(sources: Sources, tools: Vec<Tool>) -> Self {
        let documents: Vec<_> = tools
            .iter()
            .enumerate()
            .map(|(i, tool)| Document::new(i as u32, searchable_text(tool)))
            .collect();
        let engine =
            SearchEngineBuilder::<u32>::with_documents(Language::English, documents).build();
        Self {
            sources,
            tools,
            engine,
        }
    }
}

/// The search indexes of every view, shared by their sessions (one per gateway).
#[derive(Default)]
pub struct ToolSearch {
    indexes: Mutex<HashMap<String, Arc<Index>>>,
}

impl ToolSearch {
    /// The index of the view `key` over the tools `running` expose, rebuilt when a catalog or
    /// a filter changed.
    fn index(&self, key: &str, running: &[Arc<ServerSlot>]) -> Arc<Index> {
        let sources = Sources::of(running);
        if let Some(index) = self.lock().get(key).filter(|i| i.sources.same(&sources)) {
            return Arc::clone(index);
        }
        // Built outside the lock: another view's searches go on meanwhile.
        let index = Arc::new(Index::build(sources, exposed_tools(running)));
        let mut indexes = self.lock();
        if indexes.len() >= INDEXES_MAX {
            indexes.clear();
        }
        indexes.insert(key.to_owned(), Arc::clone(&index));
        index
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Index>>> {
        self.indexes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What a search-mode endpoint (view `key`, whose servers are `running`) does with
    /// `request`: a meta-tool is answered, `call_tool` becomes the call it names, anything else
    /// is `None` (a direct `server__tool` call, served as on the aggregate).
    pub fn handle(
        &self,
        key: &str,
        running: &[Arc<ServerSlot>],
        request: &CallToolRequestParams,
    ) -> Option<Local> {
        let no_arguments = serde_json::Map::new();
        let arguments = request.arguments.as_ref().unwrap_or(&no_arguments);
        match request.name.as_ref() {
            SEARCH_TOOLS => {
                let Some(query) = arguments.get("query").and_then(Value::as_str) else {
                    return Some(refused("search_tools needs a `query` (a string)"));
                };
                let limit = arguments
                    .get("limit")
                    .and_then(Value::as_u64)
                    .map_or(DEFAULT_LIMIT, |n| (n as usize).clamp(1, MAX_LIMIT));
                let index = self.index(key, running);
                Some(Local::Answer(matches(&index, query, limit)))
            }
            DESCRIBE_TOOLS => {
                let Some(names) = arguments.get("names").and_then(Value::as_array) else {
                    return Some(refused(
                        "describe_tools needs `names` (an array of tool names)",
                    ));
                };
                let index = self.index(key, running);
                let tools = &index.tools;
                let mut found = Vec::new();
                let mut unknown = Vec::new();
                for name in names {
                    let name = name.as_str().unwrap_or_default();
                    match tools.iter().find(|t| t.name == name) {
                        Some(tool) => found.push(tool.clone()),
                        None => unknown.push(name.to_owned()),
                    }
                }
                let answer = json!({ "tools": found, "unknown": unknown });
                Some(Local::Answer(structured(answer)))
            }
            CALL_TOOL => {
                let Some(name) = called_tool(request) else {
                    return Some(refused(
                        "call_tool needs the `name` of a tool (server__tool)",
                    ));
                };
                let mut call = CallToolRequestParams::new(name.to_owned());
                call.arguments = match arguments.get("arguments") {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(map)) => Some(map.clone()),
                    Some(_) => return Some(refused("call_tool's `arguments` must be an object")),
                };
                call.meta = request.meta.clone();
                Some(Local::Call(call))
            }
            _ => None,
        }
    }
}

/// Words people use for what tool descriptions call otherwise: a match for a trigger (a whole
/// word or phrase of the query) adds the terms descriptions use. General software vocabulary,
/// not any one server's.
const SYNONYMS: &[(&[&str], &str)] = &[
    (&["folder", "folders", "dir"], "directory"),
    (&["picture", "photo", "png", "jpeg", "logo"], "image"),
    (&["small", "little"], "tiny"),
    (&["plus", "add up", "total", "addition"], "sum"),
    (&["fact", "facts", "note", "notes"], "observation"),
    (
        &["person", "people", "remember", "memorize"],
        "entity entities memory",
    ),
    (&["relationship", "link", "connect"], "relation"),
    (&["remove", "forget", "erase", "drop"], "delete"),
    (&["find", "look up", "lookup"], "search"),
    (&["rename"], "move"),
    (&["big", "large", "bytes"], "size"),
    (
        &["changed", "changes", "compare", "difference"],
        "diff changes",
    ),
    (&["history"], "log"),
    (&["language model", "llm", "generate"], "sampling llm"),
    (&["form", "ask the user"], "elicitation"),
    (&["now", "clock"], "current time"),
    (&["city", "cities"], "timezone"),
    (&["env"], "environment"),
    (&["zip", "compress"], "gzip compress"),
    (&["make", "new"], "create"),
    (&["save", "store"], "write create"),
    (&["open", "view", "contents"], "read"),
    (&["think", "reason", "step by step"], "thinking thoughts"),
];

/// `query` with the terms its words stand for (see [`SYNONYMS`]), and `time` for a clock time
/// (`9:00`, `3pm`).
fn expand(query: &str) -> String {
    let lower = query.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != ':')
        .filter(|w| !w.is_empty())
        .collect();
    let joined = format!(" {} ", words.join(" "));
    let mut expanded = query.to_owned();
    for (triggers, terms) in SYNONYMS {
        if triggers.iter().any(|t| joined.contains(&format!(" {t} "))) {
            expanded.push(' ');
            expanded.push_str(terms);
        }
    }
    let clock = |w: &&str| {
        let digits = w.trim_end_matches("am").trim_end_matches("pm");
        !digits.is_empty()
            && digits.len() < w.len() + usize::from(w.contains(':'))
            && digits.chars().all(|c| c.is_ascii_digit() || c == ':')
            && (w.contains(':') || w.ends_with("am") || w.ends_with("pm"))
    };
    if words.iter().any(clock) {
        expanded.push_str(" time");
    }
    expanded
}

/// The answer to `search_tools`: the best `limit` matches for `query`.
fn matches(index: &Index, query: &str, limit: usize) -> CallToolResult {
    let found: Vec<Value> = index
        .engine
        .search(&expand(query), limit)
        .into_iter()
        .filter_map(|hit| {
            index
                .tools
                .get(hit.document.id as usize)
                .map(|t| (t, hit.score))
        })
        .map(|(tool, score)| {
            json!({
                "name": tool.name,
                "description": summary(tool.description.as_deref().unwrap_or_default()),
                "score": (score * 100.0).round() / 100.0,
            })
        })
        .collect();
    structured(json!({ "tools": found }))
}

/// A result with `value` as structured content and as its JSON text.
fn structured(value: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
    result.structured_content = Some(value);
    result
}

fn refused(why: &str) -> Local {
    Local::Answer(CallToolResult::error(vec![ContentBlock::text(
        why.to_owned(),
    )]))
}

/// The first sentence or line of `description`, cut to [`SUMMARY_CHARS`].
fn summary(description: &str) -> String {
    let first = description.split(['\n']).next().unwrap_or_default().trim();
    match first.char_indices().nth(SUMMARY_CHARS) {
        Some((end, _)) => format!("{}…", &first[..end]),
        None => first.to_owned(),
    }
}

/// What a tool is found by: its name as words (twice: a name says most), its server, its
/// description, and its parameters' names and descriptions.
fn searchable_text(tool: &Tool) -> String {
    let name = words(&tool.name);
    let mut text = format!(
        "{name} {name} {}",
        tool.description.as_deref().unwrap_or_default()
    );
    if let Some(Value::Object(properties)) = tool.input_schema.get("properties") {
        for (parameter, schema) in properties {
            text.push(' ');
            text.push_str(&words(parameter));
            if let Some(description) = schema.get("description").and_then(Value::as_str) {
                text.push(' ');
                text.push_str(description);
            }
        }
    }
    text
}

/// `git__git_diff_unstaged` → `git git diff unstaged`; `getCurrentTime` → `get Current Time`.
fn words(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if c == '_' || c == '-' || c == '.' || c == '/' {
            out.push(' ');
        } else {
            if c.is_uppercase() && previous.is_some_and(char::is_lowercase) {
                out.push(' ');
            }
            out.push(c);
        }
        previous = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, description: &str, parameters: Value) -> Tool {
        let schema = json!({ "type": "object", "properties": parameters });
        Tool::new(
            name.to_owned(),
            description.to_owned(),
            Arc::new(schema.as_object().cloned().unwrap_or_default()),
        )
    }

    #[test]
    fn names_are_split_into_words() {
        assert_eq!(words("git__git_diff_unstaged"), "git  git diff unstaged");
        assert_eq!(words("getCurrentTime"), "get Current Time");
        assert_eq!(words("read-text-file"), "read text file");
    }

    #[test]
    fn a_search_finds_a_tool_by_its_name_description_or_parameters() {
        let tools = vec![
            tool(
                "time__get_current_time",
                "Get the current time in a timezone",
                json!({ "timezone": {} }),
            ),
            tool(
                "fs__write_file",
                "Create a new file or overwrite one",
                json!({ "path": {}, "content": {} }),
            ),
            tool(
                "memory__create_entities",
                "Add entities to the knowledge graph",
                json!({ "entities": {} }),
            ),
        ];
        let index = Index::build(Sources::default(), tools);
        let first = |query: &str| {
            let result = matches(&index, query, 1);
            result.structured_content.unwrap()["tools"][0]["name"].clone()
        };
        assert_eq!(first("what time is it"), "time__get_current_time");
        assert_eq!(first("save some content to a file"), "fs__write_file");
        assert_eq!(first("knowledge graph entities"), "memory__create_entities");
    }

    #[test]
    fn queries_gain_the_words_descriptions_use() {
        assert!(expand("make a new folder").ends_with("directory create"));
        assert!(expand("convert 3pm to Berlin").ends_with(" time"));
        assert!(expand("what is 9:00 there").ends_with(" time"));
        assert_eq!(expand("echo hello"), "echo hello");
        assert_eq!(expand("the year 2026"), "the year 2026");
    }

    #[test]
    fn summaries_keep_the_first_line_and_cut_long_ones() {
        assert_eq!(summary("Echo it back.\nMore detail"), "Echo it back.");
        let long = "x".repeat(300);
        assert_eq!(summary(&long).chars().count(), SUMMARY_CHARS + 1);
    }
}
