//! The fast path: a `tools/call` forwarded as bytes when nothing in it needs the full proxy.
//!
//! Most calls are a name, arguments and an answer. For those, turning the caller's JSON into
//! rmcp's models, through rmcp's per-request tasks, into the child's request and back again
//! costs the gateway several times what the server itself spends (BENCHMARKS.md). Here only
//! the envelope is read (`serde_json::value::RawValue`: the arguments and the result are
//! never parsed), the request is written to the child through its [`RawLane`] under an id of
//! the lane's, and the answer line is passed back with the caller's id (a 2026 caller's
//! result marked complete), from the same task that read the request.
//!
//! A call takes this path only when the full proxy would do nothing more for it, and it is
//! checked before anything is sent (otherwise the caller's request goes the usual way,
//! untouched, and gets the usual answers, errors included):
//! - it is a 2026-07-28 stateless request (`Mcp-Method`, `Mcp-Name` and
//!   `MCP-Protocol-Version` present once and agreeing with the body, no `Mcp-Param-*`), or a
//!   request in a 2025-era Streamable HTTP session, to a server's endpoint, or to the
//!   aggregate or a view of it for a `server__tool` it shows;
//! - it asks for no log messages (`logLevel`), carries no retry (`requestState`,
//!   `inputResponses`) and nothing else beside `name`, `arguments` and `_meta`;
//! - a stateless caller takes no requests (no sampling, elicitation or roots among the
//!   capabilities of its `_meta`: those it is asked in rounds, `input_required`, which is the
//!   full proxy's). A session's client may: what the server asks it during the call is
//!   written on the call's own stream and its answer taken from the session's POSTs
//!   ([`FastAsks`]), as the full path would ask it;
//! - the server is running, is a child (it has a lane), speaks an `initialize` era (a 2026
//!   server would need Switchboard's own lifecycle on the request), and its filter exposes
//!   the tool.
//!
//! Progress works as on the full path: the caller's token is replaced by the lane's on the
//! way up, and the server's progress for it comes back with the caller's, all before the
//! answer (the gateway streams them). Timeouts, cancellation (the caller gone:
//! `notifications/cancelled` upstream) and the error texts are those of the full path.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{ClientCapabilities, ErrorCode, ErrorData, ProtocolVersion};
use rmcp::ServiceError;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fast_asks::FastAsks;
use super::forward::upstream_error;
use super::link::SessionLink;
use super::names::{split_qualified, View};
use crate::activity::{capture, client_label, ActivityLog, Origin, Outcome, Recording};
use crate::hub::Hub;
use crate::lane::{LaneError, RawLane};
use crate::routing::{Ask, Offers};
use crate::slot::{Lease, ServerSlot};

/// Who sends a call, as far as the fast path needs to know.
pub enum Caller<'a> {
    /// A 2026-07-28 stateless request, with what its HTTP headers said (each present exactly
    /// once, checked by the gateway): `MCP-Protocol-Version` and `Mcp-Name`.
    Stateless { version: &'a str, name: &'a str },
    /// A request in a 2025-era session (see [`FastCall::asking`] for a client that takes
    /// requests).
    Session,
}

/// The `_meta` keys of 2026-07-28's per-request lifecycle: about the caller's exchange with
/// Switchboard, so not passed to a server that negotiated `initialize`.
const LIFECYCLE: [&str; 3] = [
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientInfo",
    "io.modelcontextprotocol/clientCapabilities",
];
const PROTOCOL_VERSION: &str = LIFECYCLE[0];
const CLIENT_INFO: &str = LIFECYCLE[1];
const CLIENT_CAPABILITIES: &str = LIFECYCLE[2];
/// `_meta` keys that need the full proxy (log messages on the call).
const NEEDS_FULL_PATH: [&str; 1] = ["io.modelcontextprotocol/logLevel"];
/// The caller's token for progress notifications, replaced by the lane's on the way up.
const PROGRESS_TOKEN: &str = "progressToken";
/// Where a 2026 server names itself on a result (dropped, as the full path does).
const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// A message for the caller of a fast call: the JSON-RPC text of a progress notification,
/// of a request of the server's (sampling, elicitation, roots), or of the answer (the last
/// message).
pub enum Message {
    Progress(Vec<u8>),
    Request(Vec<u8>),
    Answer(Vec<u8>),
}

impl Message {
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Progress(bytes) | Self::Request(bytes) | Self::Answer(bytes) => bytes,
        }
    }

    /// The message as text (for an SSE event).
    pub fn into_text(self) -> String {
        // Written by serde, around what the child sent in valid JSON: UTF-8.
        String::from_utf8(self.into_bytes())
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// A `tools/call` that may take the fast path, read from its body.
pub struct FastCall {
    /// The caller's id, as written.
    id: Box<RawValue>,
    /// A 2026 caller's result is marked complete; a 2025 caller's passes as it came.
    stateless: bool,
    slot: Arc<ServerSlot>,
    lane: Arc<RawLane>,
    /// The lane's id for the call (and its progress token, when progress is asked for).
    lane_id: u64,
    /// The caller's progress token, as written, when it asked for progress.
    progress: Option<Box<RawValue>>,
    /// The params as the server gets them (the caller's `_meta` without the lifecycle, and
    /// the lane's progress token instead of the caller's).
    params: Vec<u8>,
    /// The tool's name at the server.
    tool: String,
    /// A stateless caller's `clientInfo` (`name version`) and protocol version, from `_meta`.
    caller: (Option<Arc<str>>, Option<Arc<str>>),
    /// The call's entry in the activity log, when it is on (written when the call ends, or
    /// as cancelled if the call is dropped first).
    recording: Option<Recording>,
    /// For a session's client that takes requests (see [`FastCall::asking`]).
    asking: Option<Asking>,
    /// Holds the server's process while the call lasts (an on-demand server is not stopped
    /// under it).
    _lease: Lease,
}

/// What a fast call needs to ask its caller what the server asks during it.
struct Asking {
    /// Which requests the caller takes.
    offers: Offers,
    /// Where the requests asked of it wait for its answers.
    asks: Arc<FastAsks>,
    /// The caller's session's registry ids, so the call is entered as its session's.
    link: Arc<SessionLink>,
}

/// A fast call's answer for the caller, and how it ended.
struct Answer {
    bytes: Vec<u8>,
    outcome: Outcome,
    error: Option<ErrorData>,
}

impl FastCall {
    /// The call in `body`, if it qualifies (see the module documentation). `route` is the
    /// endpoint's.
    pub fn read(body: &[u8], caller: &Caller<'_>, route: &Route<'_>) -> Option<Self> {
        #[derive(Deserialize)]
        struct Request<'a> {
            jsonrpc: Cow<'a, str>,
            #[serde(borrow)]
            id: &'a RawValue,
            method: Cow<'a, str>,
            #[serde(borrow)]
            params: &'a RawValue,
        }
        let request: Request = serde_json::from_slice(body).ok()?;
        if request.jsonrpc != "2.0" || request.method != "tools/call" || !is_id(request.id) {
            return None;
        }
        let params = Fields::parse(request.params)?;
        let mut name = None;
        let mut arguments = None;
        let mut meta = None;
        for (key, value) in &params.0 {
            match key.as_ref() {
                "name" => name = Some(Cow::<str>::deserialize(*value).ok()?),
                "arguments" => arguments = Some(*value),
                "_meta" => meta = Some(Fields::parse(value)?),
                _ => return None, // a retry's state, a task, or something newer: the full path
            }
        }
        let name = name?;
        let meta = meta.unwrap_or(Fields(Vec::new()));
        let mut version = None;
        let mut capabilities = None;
        let mut progress = None;
        let mut client = None;
        for (key, value) in &meta.0 {
            match key.as_ref() {
                PROTOCOL_VERSION => version = Some(Cow::<str>::deserialize(*value).ok()?),
                CLIENT_INFO => client = Some(*value),
                PROGRESS_TOKEN if is_id(value) => progress = Some(*value),
                PROGRESS_TOKEN => return None,
                CLIENT_CAPABILITIES => {
                    capabilities =
                        Some(serde_json::from_str::<ClientCapabilities>(value.get()).ok()?)
                }
                key if NEEDS_FULL_PATH.contains(&key) => return None,
                _ => {}
            }
        }
        let mut stateless_caller = (None, None);
        match caller {
            Caller::Stateless {
                version: header_version,
                name: header_name,
            } => {
                let (version, capabilities) = (version?, capabilities?);
                stateless_caller = (client.and_then(label_of), Some(Arc::from(&*version)));
                let stateless = ProtocolVersion::KNOWN_VERSIONS
                    .iter()
                    .any(|known| known.as_str() == version && !known.has_initialize());
                if name != *header_name
                    || version != *header_version
                    || !stateless
                    || Offers::of(&capabilities).any()
                {
                    return None;
                }
            }
            // A session's lifecycle is its `initialize`; one in `_meta` is something newer.
            Caller::Session if version.is_some() || capabilities.is_some() => return None,
            Caller::Session => {}
        }
        let (slot, tool) = route.resolve(&name)?;
        let (upstream, lease) = slot.lease()?;
        let lane = upstream.lane.filter(|lane| !lane.is_closed())?;
        if !upstream.info.protocol_version.has_initialize() {
            return None;
        }
        if !slot.settings().filter.exposes(tool) {
            return None; // refused by the full path, in its words
        }
        let mut forwarded = Vec::with_capacity(request.params.get().len());
        forwarded.extend_from_slice(b"{\"name\":");
        serde_json::to_writer(&mut forwarded, tool).ok()?;
        if let Some(arguments) = arguments {
            forwarded.extend_from_slice(b",\"arguments\":");
            forwarded.extend_from_slice(arguments.get().as_bytes());
        }
        let lane_id = lane.next_id();
        // Only a call that asked for progress carries the lane's token (no allocation else).
        let token = match progress {
            Some(_) => Some(RawValue::from_string(RawLane::token(lane_id)).ok()?),
            None => None,
        };
        let upstream_token = Cow::Borrowed(PROGRESS_TOKEN);
        let kept: Vec<_> = meta
            .0
            .iter()
            .filter(|(key, _)| !LIFECYCLE.contains(&key.as_ref()) && key != PROGRESS_TOKEN)
            .map(|(k, v)| (k, *v))
            .chain(token.as_deref().map(|token| (&upstream_token, token)))
            .collect();
        if !kept.is_empty() {
            forwarded.extend_from_slice(b",\"_meta\":");
            write_object(&mut forwarded, kept.into_iter());
        }
        forwarded.push(b'}');
        Some(Self {
            id: request.id.to_owned(),
            stateless: matches!(caller, Caller::Stateless { .. }),
            slot,
            lane,
            lane_id,
            progress: progress.map(RawValue::to_owned),
            params: forwarded,
            tool: tool.to_owned(),
            caller: stateless_caller,
            recording: None,
            asking: None,
            _lease: lease,
        })
    }

    /// For a session whose client takes requests (`offers`, from its `initialize`):
    /// what the server asks of "the client" while this call runs may be asked of this caller
    /// (the server's requests are routed as on the full path), on the call's own stream, with
    /// the answers taken from the session's POSTs by `asks`. The call is entered in the
    /// server's registry under the session's own id (from `link`), so the session counts as
    /// active, as a call on the full path makes it. Without it (a client that takes none),
    /// nothing is routed to the call.
    pub fn asking(mut self, offers: Offers, asks: &Arc<FastAsks>, link: &Arc<SessionLink>) -> Self {
        self.asking = Some(Asking {
            offers,
            asks: Arc::clone(asks),
            link: Arc::clone(link),
        });
        self
    }

    /// Whether the server may send the caller messages before the answer (progress it asked
    /// for, or requests): then the transport must be ready to stream.
    pub fn may_stream(&self) -> bool {
        self.progress.is_some() || self.asking.is_some()
    }

    /// Writes the call to `log` when it ends (if the log is on): `origin` is where it came
    /// from, `body` the caller's request. A stateless caller's `clientInfo` is its `_meta`'s.
    pub fn recorded(mut self, log: &Arc<ActivityLog>, mut origin: Origin, body: &[u8]) -> Self {
        let (client, protocol) = self.caller.clone();
        origin.client = client.or(origin.client);
        origin.protocol = protocol.or(origin.protocol);
        self.recording = log.begin(&origin, "tools/call").map(|mut recording| {
            let limit = recording.capture_limit();
            let entry = recording.entry();
            entry.server = Some(Arc::from(self.slot.name()));
            entry.name = Some(self.tool.clone());
            entry.request_bytes = body.len() as u64;
            if let Some(limit) = limit {
                let params = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|mut v| v.get_mut("params").map(serde_json::Value::take))
                    .unwrap_or_default();
                entry.request = Some(capture::capture(params, limit));
            }
            recording
        });
        self
    }

    /// Writes how the call ended to the activity log.
    fn finish(recording: Option<Recording>, answer: &Answer) {
        let Some(mut recording) = recording else {
            return;
        };
        let limit = recording.capture_limit();
        let entry = recording.entry();
        entry.outcome = answer.outcome;
        entry.response_bytes = answer.bytes.len() as u64;
        if let Some(error) = &answer.error {
            entry.error_code = Some(error.code.0);
            entry.error = Some(error.message.to_string());
        }
        if let Some(limit) = limit {
            entry.response = Some(capture::capture_bytes(&answer.bytes, limit));
        }
        recording.finish();
    }

    /// The caller's request id as written (to match a later `notifications/cancelled`).
    pub fn id_text(&self) -> &str {
        self.id.get()
    }

    /// The answer to a call its caller cancelled before the server answered.
    fn cancelled(&self) -> Answer {
        self.error(
            ErrorData::new(
                ErrorCode(REQUEST_CANCELLED),
                "the request was cancelled by the client",
                None,
            ),
            Outcome::Cancelled,
        )
    }

    /// The caller's progress notification made of the server's `line` (its token replaced by
    /// the caller's), or `None` for a line that is not one.
    pub fn progress_for_caller(&self, line: &[u8]) -> Option<Vec<u8>> {
        #[derive(Deserialize)]
        struct Notification<'a> {
            #[serde(borrow)]
            params: &'a RawValue,
        }
        let caller = self.progress.as_deref()?;
        let notification: Notification = serde_json::from_slice(line).ok()?;
        let params = Fields::parse(notification.params)?;
        let mut out = Vec::with_capacity(line.len() + 16);
        out.extend_from_slice(br#"{"jsonrpc":"2.0","method":"notifications/progress","params":"#);
        write_object(
            &mut out,
            params.0.iter().map(|(key, value)| {
                (
                    key,
                    if key == PROGRESS_TOKEN {
                        caller
                    } else {
                        *value
                    },
                )
            }),
        );
        out.push(b'}');
        Some(out)
    }

    /// Runs the call, handing each message for the caller to `out` in order: the server's
    /// progress (with the caller's token) as it comes, then the answer — or, if `cancel`
    /// fires first, the answer for a cancelled call. Stops early when `out` says the caller
    /// is gone (the call is then cancelled at the server).
    ///
    /// The call's activity entry is written as it ends; a call that ends early (the caller
    /// gone) or is dropped is written as cancelled.
    pub async fn run<F, Fut>(mut self, cancel: &CancellationToken, mut out: F)
    where
        F: FnMut(Message) -> Fut,
        Fut: Future<Output = bool>,
    {
        let (progress, mut heard) = match self.progress.is_some() {
            true => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        // While it runs, the call is where the server's requests of a client it offers go.
        let (asking, mut asked) = match &self.asking {
            Some(asking) => {
                let sessions = self.slot.sessions();
                let session = asking
                    .link
                    .id_in(&self.slot)
                    .unwrap_or_else(|| sessions.allocate());
                let (flight, asked) = sessions.begin_asking(session, asking.offers);
                (Some(flight), Some(asked))
            }
            None => (None, None),
        };
        let answer = {
            let send = self.send(progress);
            tokio::pin!(send);
            loop {
                tokio::select! {
                    biased;
                    answer = &mut send => break answer,
                    () = cancel.cancelled() => break self.cancelled(),
                    Some(line) = next_message(&mut heard) => {
                        if !self.pass_progress(&line, &mut out).await {
                            return;
                        }
                    }
                    Some(ask) = next_message(&mut asked) => {
                        if !self.pass_request(ask, &mut out).await {
                            return;
                        }
                    }
                }
            }
        };
        // The call is no longer where the server's requests go; one it had not yet passed on
        // is answered that its client went away.
        drop(asking);
        // Progress read before the answer goes first.
        while let Some(line) = heard.as_mut().and_then(|rx| rx.try_recv().ok()) {
            if !self.pass_progress(&line, &mut out).await {
                return;
            }
        }
        Self::finish(self.recording.take(), &answer);
        out(Message::Answer(answer.bytes)).await;
    }

    /// Hands the server's progress `line` to `out` with the caller's token; false when `out`
    /// says the caller is gone.
    async fn pass_progress<F, Fut>(&self, line: &[u8], out: &mut F) -> bool
    where
        F: FnMut(Message) -> Fut,
        Fut: Future<Output = bool>,
    {
        match self.progress_for_caller(line) {
            Some(message) => out(Message::Progress(message)).await,
            None => true,
        }
    }

    /// Hands a request of the server's to `out`, to be asked of the caller; false when `out`
    /// says the caller is gone.
    async fn pass_request<F, Fut>(&self, ask: Ask, out: &mut F) -> bool
    where
        F: FnMut(Message) -> Fut,
        Fut: Future<Output = bool>,
    {
        match &self.asking {
            Some(asking) => out(Message::Request(asking.asks.request(ask))).await,
            None => true,
        }
    }

    /// Sends the call to the server's child and answers the JSON-RPC response for the caller.
    /// The server's progress lines for it go to `progress`, all before the answer.
    async fn send(&self, progress: Option<mpsc::UnboundedSender<Vec<u8>>>) -> Answer {
        let server = self.slot.name();
        let timeout = self.slot.settings().spec.timeouts.tool_call();
        let call = self
            .lane
            .call_as(self.lane_id, "tools/call", &self.params, progress);
        let answer = tokio::time::timeout(timeout, call).await;
        match answer {
            Ok(Ok(line)) => self.answer(server, &line),
            Ok(Err(LaneError::Closed)) => self.error(
                upstream_error(server, ServiceError::TransportClosed),
                Outcome::Error,
            ),
            Ok(Err(LaneError::Write(e))) => self.error(
                ErrorData::new(
                    ErrorCode::INTERNAL_ERROR,
                    format!("server '{server}' could not be sent the request: {e}"),
                    None,
                ),
                Outcome::Error,
            ),
            Err(_) => self.error(timed_out(server, timeout), Outcome::Timeout),
        }
    }

    /// The caller's response made of the server's answer `line`.
    fn answer(&self, server: &str, line: &[u8]) -> Answer {
        #[derive(Deserialize)]
        struct Reply<'a> {
            #[serde(borrow)]
            result: Option<&'a RawValue>,
            error: Option<ErrorData>,
        }
        let result = |result: &RawValue, bytes: Vec<u8>| Answer {
            outcome: match self.recording.is_some() && is_error(result) {
                true => Outcome::ToolError,
                false => Outcome::Ok,
            },
            bytes,
            error: None,
        };
        match serde_json::from_slice::<Reply>(line) {
            Ok(Reply {
                result: Some(raw),
                error: None,
            }) if !self.stateless => result(raw, self.envelope(b"result", raw.get().as_bytes())),
            Ok(Reply {
                result: Some(raw),
                error: None,
            }) => match complete(raw) {
                Some(complete) => result(raw, self.envelope(b"result", &complete)),
                None => self.error(wrong_shape(server), Outcome::Error),
            },
            Ok(Reply {
                error: Some(error), ..
            }) => self.error(
                upstream_error(server, ServiceError::McpError(error)),
                Outcome::Error,
            ),
            _ => self.error(wrong_shape(server), Outcome::Error),
        }
    }

    fn error(&self, error: ErrorData, outcome: Outcome) -> Answer {
        let text = serde_json::to_vec(&error).unwrap_or_else(|_| b"{}".to_vec());
        Answer {
            bytes: self.envelope(b"error", &text),
            outcome,
            error: Some(error),
        }
    }

    fn envelope(&self, kind: &[u8], value: &[u8]) -> Vec<u8> {
        let id = self.id.get().as_bytes();
        let mut out = Vec::with_capacity(value.len() + id.len() + 32);
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        out.extend_from_slice(id);
        out.extend_from_slice(b",\"");
        out.extend_from_slice(kind);
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value);
        out.push(b'}');
        out
    }
}

/// The next message on `heard`; never, when there is none to hear.
async fn next_message<T>(heard: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match heard {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The error code of a call answered after its caller cancelled it (the code LSP gives it;
/// the caller has already stopped waiting, so it is for logs).
const REQUEST_CANCELLED: i32 = -32800;

/// The `requestId` of a `notifications/cancelled` in `body`, as written, or `None` when the
/// body is something else.
pub fn cancelled_request(body: &[u8]) -> Option<&str> {
    #[derive(Deserialize)]
    struct Notification<'a> {
        method: Cow<'a, str>,
        #[serde(borrow)]
        params: Params<'a>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Params<'a> {
        #[serde(borrow)]
        request_id: &'a RawValue,
    }
    let notification: Notification = serde_json::from_slice(body).ok()?;
    (notification.method == "notifications/cancelled").then(|| notification.params.request_id.get())
}

/// What an `initialize` says of the session it opens, as far as the gateway needs to know.
pub struct Opening {
    /// Which requests a server may send during a call its client takes (sampling,
    /// elicitation, roots).
    pub offers: Offers,
    /// Made here, for the session's handler to record its registry ids on (the gateway puts
    /// it on the `initialize` it passes on) and its fast calls to find them.
    pub link: Arc<SessionLink>,
    /// `clientInfo` as `name version`.
    pub client: Option<Arc<str>>,
    pub protocol: Option<Arc<str>>,
}

/// For a body that is an `initialize` request, what it says; `None` for any other body.
pub fn read_initialize(body: &[u8]) -> Option<Opening> {
    #[derive(Deserialize)]
    struct Initialize<'a> {
        #[serde(borrow)]
        method: Cow<'a, str>,
        #[serde(borrow)]
        params: Params<'a>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Params<'a> {
        capabilities: ClientCapabilities,
        #[serde(borrow, default)]
        client_info: Option<&'a RawValue>,
        #[serde(borrow, default)]
        protocol_version: Option<Cow<'a, str>>,
    }
    let request: Initialize = serde_json::from_slice(body).ok()?;
    (request.method == "initialize").then(|| Opening {
        offers: Offers::of(&request.params.capabilities),
        link: Arc::default(),
        client: request.params.client_info.and_then(label_of),
        protocol: request.params.protocol_version.map(|v| Arc::from(&*v)),
    })
}

/// Which server answers for a tool name at an endpoint, and the tool's name there.
pub enum Route<'a> {
    /// `/servers/{name}/mcp`: every tool is that server's.
    Server(&'a Arc<ServerSlot>),
    /// The aggregate endpoint or one of its views: `server__tool`, for a server it shows.
    Aggregate { hub: &'a Hub, view: &'a View },
}

impl Route<'_> {
    fn resolve<'n>(&self, tool: &'n str) -> Option<(Arc<ServerSlot>, &'n str)> {
        match self {
            Self::Server(slot) => Some((Arc::clone(slot), tool)),
            Self::Aggregate { hub, view } => {
                let (server, tool) = split_qualified(tool)?;
                let slot = hub.slot(server).filter(|_| view.includes(server))?;
                Some((slot, tool))
            }
        }
    }
}

/// A JSON-RPC request id: a number or a string (not null, not a structure).
fn is_id(id: &RawValue) -> bool {
    let text = id.get().as_bytes();
    matches!(text.first(), Some(b'"' | b'-' | b'0'..=b'9'))
}

/// Whether a tool's `result` says `isError: true` (its other members skipped unparsed).
fn is_error(result: &RawValue) -> bool {
    #[derive(Deserialize)]
    struct Flag {
        #[serde(rename = "isError", default)]
        is_error: Option<bool>,
    }
    serde_json::from_str::<Flag>(result.get()).is_ok_and(|flag| flag.is_error == Some(true))
}

/// `clientInfo`'s `name version`, from its JSON.
fn label_of(info: &RawValue) -> Option<Arc<str>> {
    #[derive(Deserialize)]
    struct Info<'a> {
        #[serde(borrow)]
        name: Cow<'a, str>,
        #[serde(borrow, default)]
        version: Cow<'a, str>,
    }
    let info: Info = serde_json::from_str(info.get()).ok()?;
    Some(client_label(&info.name, &info.version))
}

fn timed_out(server: &str, timeout: Duration) -> ErrorData {
    upstream_error(server, ServiceError::Timeout { timeout })
}

fn wrong_shape(server: &str) -> ErrorData {
    ErrorData::internal_error(
        format!("server '{server}' sent a result of the wrong shape: not a JSON-RPC response"),
        None,
    )
}

/// A server's result as the caller gets it: `resultType: "complete"` added when it does not
/// say (a 2025-era server never does), the server's own name taken out of its `_meta`. The
/// rest is written as it came. `None` when the result is not an object.
fn complete(result: &RawValue) -> Option<Vec<u8>> {
    let fields = Fields::parse(result)?;
    let mut out = Vec::with_capacity(result.get().len() + 32);
    let has_type = fields.0.iter().any(|(k, _)| k == "resultType");
    let mut rewritten_meta = None;
    for (key, value) in &fields.0 {
        if key == "_meta" {
            let meta = Fields::parse(value)?;
            if meta.0.iter().any(|(k, _)| k == SERVER_INFO) {
                let mut object = Vec::new();
                let rest: Vec<_> = meta.0.iter().filter(|(k, _)| k != SERVER_INFO).collect();
                if !rest.is_empty() {
                    write_object(&mut object, rest.into_iter().map(|(k, v)| (k, *v)));
                }
                rewritten_meta = Some(object);
            }
        }
    }
    let first = (!has_type).then_some(("resultType", "\"complete\""));
    let entries = fields.0.iter().filter_map(|(key, value)| {
        if key != "_meta" {
            return Some((key, value.get()));
        }
        match &rewritten_meta {
            None => Some((key, value.get())),
            Some(object) if object.is_empty() => None,
            // Written by us from valid JSON: UTF-8.
            Some(object) => Some((key, std::str::from_utf8(object).unwrap_or("{}"))),
        }
    });
    out.push(b'{');
    let mut comma = false;
    if let Some((key, value)) = first {
        write_entry(&mut out, key, value);
        comma = true;
    }
    for (key, value) in entries {
        if comma {
            out.push(b',');
        }
        write_entry(&mut out, key, value);
        comma = true;
    }
    out.push(b'}');
    Some(out)
}

fn write_entry(out: &mut Vec<u8>, key: &str, value: &str) {
    let _ = serde_json::to_writer(&mut *out, key);
    out.push(b':');
    out.extend_from_slice(value.as_bytes());
}

/// Writes a JSON object of `entries` (values written as they are).
fn write_object<'k>(
    out: &mut Vec<u8>,
    entries: impl Iterator<Item = (&'k Cow<'k, str>, &'k RawValue)>,
) {
    out.push(b'{');
    let mut comma = false;
    for (key, value) in entries {
        if comma {
            out.push(b',');
        }
        write_entry(out, key, value.get());
        comma = true;
    }
    out.push(b'}');
}

/// The members of a JSON object in their order, values unparsed.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Fields<'a> {
    fn parse(value: &'a RawValue) -> Option<Self> {
        let mut de = serde_json::Deserializer::from_str(value.get());
        Fields::deserialize(&mut de).ok()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Members<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Fields<'a>, M::Error> {
                #[derive(Deserialize)]
                struct Key<'a>(#[serde(borrow)] Cow<'a, str>);
                let mut members = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Fields(members))
            }
        }
        deserializer.deserialize_map(Members(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn a_result_is_marked_complete_and_loses_the_server_name_and_nothing_else() {
        let result = raw(
            r#"{"content":[{"type":"text","text":"hi \"there\""}],"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"x"},"k":1},"isError":false}"#,
        );
        assert_eq!(
            json(&complete(&result).unwrap()),
            serde_json::json!({
                "resultType": "complete",
                "content": [{"type": "text", "text": "hi \"there\""}],
                "_meta": {"k": 1},
                "isError": false,
            })
        );
        let only_name =
            raw(r#"{"_meta":{"io.modelcontextprotocol/serverInfo":{}},"resultType":"complete"}"#);
        assert_eq!(
            json(&complete(&only_name).unwrap()),
            serde_json::json!({"resultType": "complete"})
        );
        assert!(complete(&raw("[1]")).is_none(), "a result is an object");
    }

    #[test]
    fn object_members_keep_their_order_and_escaped_keys() {
        let object = raw(r#"{"b":1,"a\u0041":[2,{"x":3}],"c":"s"}"#);
        let fields = Fields::parse(&object).unwrap();
        let keys: Vec<&str> = fields.0.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b", "aA", "c"]);
        assert_eq!(fields.0[1].1.get(), r#"[2,{"x":3}]"#);
    }
}
