//! A second lane onto a child's stdio, beside rmcp's: requests the gateway forwards as bytes.
//!
//! rmcp's client owns the child's connection (handshake, pings, catalog, what the server asks
//! of clients, notifications). A `tools/call` that needs none of that (see `proxy::fast`)
//! need not be turned into rmcp's models and back twice on its way through: [`RawLane::call`]
//! writes the caller's request to the child's stdin with an id of its own and hands back the
//! child's answer line as it came. Both lanes share the pipes:
//!
//! - **stdin:** one writer under a lock, each message written whole ([`LaneWriter`] is what
//!   rmcp's transport writes into: it buffers rmcp's frame and writes it under the same lock
//!   when rmcp flushes), so lines never interleave;
//! - **stdout:** [`LaneReader`] sits between the stray-line filter and rmcp. Each complete
//!   line that answers one of the lane's ids (strings starting with [`LANE_ID_PREFIX`];
//!   rmcp's ids are numbers) goes to its caller; every other byte passes to rmcp unchanged.
//!
//! A call may ask for progress: it is sent with the lane's id as its progress token, and the
//! child's `notifications/progress` lines carrying that token go to the call's progress
//! channel (in the order read, all of them before the answer), never to rmcp.
//!
//! A call whose caller goes away (the HTTP client disconnected, the timeout passed) is
//! cancelled upstream with `notifications/cancelled`, as rmcp does for its own. When the
//! child's stdout ends or its stdin is closed, every call waiting on the lane fails at once.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{mpsc, oneshot};

/// How the lane's request ids begin (`"sbl~17"`): strings, so they never meet rmcp's numbers.
pub const LANE_ID_PREFIX: &str = "sbl~";
/// The same, as it appears quoted in a line (the cheap test before a line is parsed).
const QUOTED_PREFIX: &[u8] = b"\"sbl~";
/// The longest line held back to be looked at: rmcp's own limit, past which it drops a line
/// anyway (so a longer answer is lost on either lane, and its call times out).
const MAX_HELD_LINE: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;
/// How much is read from the child at a time.
const READ_CHUNK: usize = 16 * 1024;

type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// Why a call on the lane has no answer.
#[derive(Debug, thiserror::Error)]
pub enum LaneError {
    #[error("the server closed its connection (it exited or is restarting)")]
    Closed,
    #[error("the request could not be written to the server: {0}")]
    Write(#[source] io::Error),
}

/// A call waiting for its answer, and where its progress goes.
struct Pending {
    answer: oneshot::Sender<Vec<u8>>,
    progress: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

/// The lane of one child connection (see the module documentation).
pub struct RawLane {
    stdin: tokio::sync::Mutex<Option<Writer>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    closed: AtomicBool,
}

impl RawLane {
    /// The lane over the child's `stdin`; its stdout must be read through [`RawLane::reader`]
    /// and rmcp must write through [`RawLane::writer`].
    pub fn new(stdin: impl AsyncWrite + Send + Unpin + 'static) -> Arc<Self> {
        Arc::new(Self {
            stdin: tokio::sync::Mutex::new(Some(Box::new(stdin))),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// What rmcp's transport writes into. Dropping it (rmcp closing the transport) closes the
    /// child's stdin, which is how a child is asked to stop.
    pub fn writer(self: &Arc<Self>) -> LaneWriter {
        LaneWriter {
            lane: Arc::clone(self),
            buffer: Vec::new(),
            writing: None,
        }
    }

    /// The child's stdout as rmcp should read it: the lane's answers taken out.
    pub fn reader<R>(self: &Arc<Self>, inner: R) -> LaneReader<R> {
        LaneReader {
            inner,
            lane: Arc::clone(self),
            buffer: Vec::new(),
            given: 0,
            passable: 0,
            scanned: 0,
            passing: false,
            ended: false,
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
        }
    }

    /// Whether the connection is gone (calls fail at once).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Sends `method` with `params` (a JSON object, written as it is) and waits for the
    /// answer: the child's whole response line. Dropped before the answer (its caller gone,
    /// its timeout passed), the call is cancelled upstream. (The fast path uses
    /// [`RawLane::call_as`], which may also take progress; this is the tests' shorthand.)
    #[cfg(test)]
    pub async fn call(self: &Arc<Self>, method: &str, params: &[u8]) -> Result<Vec<u8>, LaneError> {
        let id = self.next_id();
        self.call_as(id, method, params, None).await
    }

    /// An id for [`RawLane::call_as`], and the progress token that goes with it
    /// ([`RawLane::token`]), for a caller that must write the token into its params first.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The lane's request id and progress token for `id`, as a JSON string.
    pub fn token(id: u64) -> String {
        format!("\"{LANE_ID_PREFIX}{id}\"")
    }

    /// [`RawLane::call`] under `id` (from [`RawLane::next_id`]); with `progress`, the child's
    /// progress notifications for token `id` are sent there.
    pub async fn call_as(
        self: &Arc<Self>,
        id: u64,
        method: &str,
        params: &[u8],
        progress: Option<mpsc::UnboundedSender<Vec<u8>>>,
    ) -> Result<Vec<u8>, LaneError> {
        if self.is_closed() {
            return Err(LaneError::Closed);
        }
        let (answer, answered) = oneshot::channel();
        self.lock_pending().insert(id, Pending { answer, progress });
        let mut call = LaneCall {
            lane: Arc::clone(self),
            id,
            done: false,
        };
        // Closed between the check and the insert: nobody will answer.
        if self.is_closed() {
            call.done = true;
            self.lock_pending().remove(&id);
            return Err(LaneError::Closed);
        }
        let mut line = Vec::with_capacity(params.len() + method.len() + 64);
        line.extend_from_slice(br#"{"jsonrpc":"2.0","id":""#);
        line.extend_from_slice(LANE_ID_PREFIX.as_bytes());
        line.extend_from_slice(id.to_string().as_bytes());
        line.extend_from_slice(br#"","method":"#);
        serde_json::to_writer(&mut line, method).map_err(|e| LaneError::Write(e.into()))?;
        line.extend_from_slice(br#","params":"#);
        line.extend_from_slice(params);
        line.extend_from_slice(b"}\n");
        self.write_line(&line).await?;
        let reply = answered.await.map_err(|_| LaneError::Closed)?;
        call.done = true;
        Ok(reply)
    }

    /// Writes one whole message (a line) to the child, under the lock both lanes share.
    async fn write_line(&self, line: &[u8]) -> Result<(), LaneError> {
        let mut stdin = self.stdin.lock().await;
        let writer = stdin.as_mut().ok_or(LaneError::Closed)?;
        writer.write_all(line).await.map_err(LaneError::Write)?;
        writer.flush().await.map_err(LaneError::Write)
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes `line` if it answers one of the lane's calls, or is progress for one (handing it
    /// to the caller, or dropping it when the caller has gone); leaves every other line to rmcp.
    fn claim(&self, line: &[u8]) -> bool {
        if memchr::memmem::find(line, QUOTED_PREFIX).is_none() {
            return false;
        }
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow)]
            id: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow)]
            method: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow)]
            params: Option<TokenParams<'a>>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct TokenParams<'a> {
            #[serde(borrow)]
            progress_token: Option<std::borrow::Cow<'a, str>>,
        }
        // Anything that does not read so (an id of rmcp's, a request of the server's) is rmcp's.
        let Ok(envelope) = serde_json::from_slice::<Envelope>(line) else {
            return false;
        };
        let (id, is_answer) = match (&envelope.id, &envelope.method, &envelope.params) {
            (Some(id), None, _) => (id, true),
            (
                None,
                Some(method),
                Some(TokenParams {
                    progress_token: Some(token),
                }),
            ) if method == "notifications/progress" => (token, false),
            _ => return false,
        };
        let Some(id) = id.strip_prefix(LANE_ID_PREFIX).and_then(|n| n.parse().ok()) else {
            return false;
        };
        let mut pending = self.lock_pending();
        if is_answer {
            if let Some(call) = pending.remove(&id) {
                let _ = call.answer.send(line.to_vec());
            }
        } else if let Some(progress) = pending.get(&id).and_then(|c| c.progress.as_ref()) {
            let _ = progress.send(line.to_vec());
        }
        true
    }

    /// The connection ended: every waiting call fails, and so does every new one.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.lock_pending().clear();
    }

    /// Closes the child's stdin (the child's cue to exit) and ends the lane.
    async fn close_stdin(&self) {
        self.close();
        if let Some(mut writer) = self.stdin.lock().await.take() {
            let _ = writer.shutdown().await;
        }
    }
}

/// A call in flight on the lane: forgotten, and cancelled upstream, if it is dropped before
/// its answer came.
struct LaneCall {
    lane: Arc<RawLane>,
    id: u64,
    done: bool,
}

impl Drop for LaneCall {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.lane.lock_pending().remove(&self.id);
        if self.lane.is_closed() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let lane = Arc::clone(&self.lane);
        let cancel = format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":"{LANE_ID_PREFIX}{}","reason":"cancelled by the client"}}}}{}"#,
            self.id, "\n"
        );
        runtime.spawn(async move {
            let _ = lane.write_line(cancel.as_bytes()).await;
        });
    }
}

type Writing = Pin<Box<dyn Future<Output = Result<(), LaneError>> + Send>>;

/// The child's stdin as rmcp writes to it: what rmcp's codec writes is kept until rmcp
/// flushes (it does after every message), then written whole under the lane's lock.
pub struct LaneWriter {
    lane: Arc<RawLane>,
    buffer: Vec<u8>,
    writing: Option<Writing>,
}

impl AsyncWrite for LaneWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.lane.is_closed() {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        this.buffer.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Some(writing) = this.writing.as_mut() {
                let result = ready!(writing.as_mut().poll(cx));
                this.writing = None;
                result.map_err(|e| match e {
                    LaneError::Write(e) => e,
                    LaneError::Closed => io::ErrorKind::BrokenPipe.into(),
                })?;
            }
            if this.buffer.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let bytes = std::mem::take(&mut this.buffer);
            let lane = Arc::clone(&this.lane);
            this.writing = Some(Box::pin(async move { lane.write_line(&bytes).await }));
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        let lane = Arc::clone(&self.lane);
        lane.close();
        if let Ok(mut stdin) = lane.stdin.try_lock() {
            stdin.take();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LaneWriter {
    fn drop(&mut self) {
        let lane = Arc::clone(&self.lane);
        lane.close();
        // Closing stdin is how the child is asked to stop: at once when nobody is writing,
        // else as soon as the write under way is done.
        let closed_now = match lane.stdin.try_lock() {
            Ok(mut stdin) => {
                stdin.take();
                true
            }
            Err(_) => false,
        };
        if !closed_now {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { lane.close_stdin().await });
            }
        }
    }
}

/// The child's stdout with the lane's answers taken out (see the module documentation).
pub struct LaneReader<R> {
    inner: R,
    lane: Arc<RawLane>,
    /// Bytes read and not yet given to rmcp: `[given, passable)` may go to rmcp, the rest is
    /// the line being read, searched for its end up to `scanned`.
    buffer: Vec<u8>,
    given: usize,
    passable: usize,
    scanned: usize,
    /// The current line was too long to hold back: it passes as it comes, up to its end.
    passing: bool,
    ended: bool,
    chunk: Box<[u8]>,
}

impl<R> LaneReader<R> {
    /// Decides what is buffered: complete lines are claimed by the lane or made passable.
    fn sort(&mut self) {
        while let Some(at) = memchr::memchr(b'\n', &self.buffer[self.scanned..]) {
            let end = self.scanned + at + 1;
            if !self.passing && self.lane.claim(&self.buffer[self.passable..end]) {
                self.buffer.drain(self.passable..end);
                self.scanned = self.passable;
                continue;
            }
            self.passing = false;
            self.passable = end;
            self.scanned = end;
        }
        self.scanned = self.buffer.len();
        let held = self.buffer.len() - self.passable;
        if self.passing || self.ended || held > MAX_HELD_LINE {
            self.passing = !self.ended;
            self.passable = self.buffer.len();
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for LaneReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.given < this.passable {
                let n = (this.passable - this.given).min(out.remaining());
                out.put_slice(&this.buffer[this.given..this.given + n]);
                this.given += n;
                if this.given == this.buffer.len() {
                    this.buffer.clear();
                    (this.given, this.passable, this.scanned) = (0, 0, 0);
                }
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            if this.given > 0 {
                this.buffer.drain(..this.given);
                this.passable -= this.given;
                this.scanned -= this.given;
                this.given = 0;
            }
            let mut chunk = ReadBuf::new(&mut this.chunk);
            match ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk)) {
                Ok(()) if chunk.filled().is_empty() => {
                    this.ended = true;
                    this.lane.close();
                }
                Ok(()) => this.buffer.extend_from_slice(chunk.filled()),
                Err(e) => {
                    this.ended = true;
                    this.lane.close();
                    return Poll::Ready(Err(e));
                }
            }
            this.sort();
        }
    }
}

impl<R> Drop for LaneReader<R> {
    fn drop(&mut self) {
        self.lane.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

    /// A lane over in-memory pipes: what the "child" reads from its stdin, and the writer
    /// of its stdout.
    fn lane() -> (
        Arc<RawLane>,
        BufReader<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
        LaneReader<tokio::io::DuplexStream>,
    ) {
        let (stdin, child_in) = tokio::io::duplex(1 << 16);
        let (child_out, stdout) = tokio::io::duplex(1 << 16);
        let lane = RawLane::new(stdin);
        let reader = lane.reader(stdout);
        (lane, BufReader::new(child_in), child_out, reader)
    }

    #[tokio::test]
    async fn a_call_is_answered_by_its_line_and_other_lines_pass_to_rmcp_unchanged() {
        let (lane, mut child_in, mut child_out, mut reader) = lane();
        let call = tokio::spawn({
            let lane = Arc::clone(&lane);
            async move { lane.call("tools/call", br#"{"name":"echo"}"#).await }
        });
        let mut request = String::new();
        child_in.read_line(&mut request).await.unwrap();
        assert_eq!(
            request,
            "{\"jsonrpc\":\"2.0\",\"id\":\"sbl~0\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}\n"
        );
        let theirs = "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"data\":\"\\\"sbl~0\"}}\n";
        let answer = "{\"jsonrpc\":\"2.0\",\"id\":\"sbl~0\",\"result\":{\"content\":[]}}\n";
        // The answer comes split across writes, between two lines of rmcp's.
        child_out.write_all(&theirs.as_bytes()[..20]).await.unwrap();
        child_out.write_all(&theirs.as_bytes()[20..]).await.unwrap();
        child_out.write_all(&answer.as_bytes()[..10]).await.unwrap();
        child_out.write_all(&answer.as_bytes()[10..]).await.unwrap();
        child_out.write_all(b"{\"tail\":1}\n").await.unwrap();
        drop(child_out);
        let mut passed = String::new();
        reader.read_to_string(&mut passed).await.unwrap();
        assert_eq!(passed, format!("{theirs}{{\"tail\":1}}\n"));
        let reply = call.await.unwrap().unwrap();
        assert_eq!(reply, answer.as_bytes());
    }

    #[tokio::test]
    async fn a_calls_progress_goes_to_it_in_order_and_other_progress_to_rmcp() {
        let (lane, mut child_in, mut child_out, mut reader) = lane();
        let (progress, mut heard) = mpsc::unbounded_channel();
        let id = lane.next_id();
        let call = tokio::spawn({
            let lane = Arc::clone(&lane);
            async move { lane.call_as(id, "tools/call", b"{}", Some(progress)).await }
        });
        let mut request = String::new();
        child_in.read_line(&mut request).await.unwrap();
        let ours = |n: u32| {
            format!("{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{{\"progressToken\":{},\"progress\":{n}}}}}\n", RawLane::token(id))
        };
        let theirs = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":5,\"progress\":1}}\n";
        let answer = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":{{}}}}\n",
            RawLane::token(id)
        );
        for line in [ours(1), theirs.to_owned(), ours(2), answer.clone()] {
            child_out.write_all(line.as_bytes()).await.unwrap();
        }
        drop(child_out);
        let mut passed = String::new();
        reader.read_to_string(&mut passed).await.unwrap();
        assert_eq!(passed, theirs, "rmcp gets only what is not the lane's");
        assert_eq!(call.await.unwrap().unwrap(), answer.as_bytes());
        assert_eq!(heard.recv().await.unwrap(), ours(1).as_bytes());
        assert_eq!(heard.recv().await.unwrap(), ours(2).as_bytes());
        assert!(heard.recv().await.is_none(), "nothing after the answer");
    }

    #[tokio::test]
    async fn a_dropped_call_is_cancelled_upstream_and_its_late_answer_is_swallowed() {
        let (lane, mut child_in, mut child_out, mut reader) = lane();
        let call = {
            let lane = Arc::clone(&lane);
            tokio::spawn(async move { lane.call("tools/call", b"{}").await })
        };
        let mut request = String::new();
        child_in.read_line(&mut request).await.unwrap();
        call.abort();
        let mut cancel = String::new();
        child_in.read_line(&mut cancel).await.unwrap();
        assert_eq!(
            cancel,
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"sbl~0\",\"reason\":\"cancelled by the client\"}}\n"
        );
        child_out
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":\"sbl~0\",\"result\":{}}\n")
            .await
            .unwrap();
        drop(child_out);
        let mut passed = Vec::new();
        reader.read_to_end(&mut passed).await.unwrap();
        assert!(passed.is_empty(), "{}", String::from_utf8_lossy(&passed));
    }

    #[tokio::test]
    async fn calls_fail_at_once_when_the_child_output_ends() {
        let (lane, mut child_in, child_out, mut reader) = lane();
        let call = {
            let lane = Arc::clone(&lane);
            tokio::spawn(async move { lane.call("tools/call", b"{}").await })
        };
        let mut request = String::new();
        child_in.read_line(&mut request).await.unwrap();
        drop(child_out);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
        assert!(matches!(call.await.unwrap(), Err(LaneError::Closed)));
        assert!(matches!(
            lane.call("tools/call", b"{}").await,
            Err(LaneError::Closed)
        ));
    }

    #[tokio::test]
    async fn rmcp_writes_whole_lines_and_dropping_its_writer_closes_stdin() {
        let (lane, mut child_in, _child_out, _reader) = lane();
        let mut writer = lane.writer();
        writer.write_all(b"{\"a\":").await.unwrap();
        writer.write_all(b"1}\n").await.unwrap();
        writer.flush().await.unwrap();
        let mut line = String::new();
        child_in.read_line(&mut line).await.unwrap();
        assert_eq!(line, "{\"a\":1}\n");
        drop(writer);
        let mut rest = Vec::new();
        child_in.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "stdin is closed: the child reads its end");
        assert!(lane.is_closed());
    }

    #[tokio::test]
    async fn a_line_longer_than_rmcp_takes_passes_through_without_being_held() {
        let (_lane, _child_in, mut child_out, mut reader) = lane();
        let long = vec![b'x'; MAX_HELD_LINE + 10];
        let writing = tokio::spawn(async move {
            child_out.write_all(&long).await.unwrap();
            child_out.write_all(b"\n{}\n").await.unwrap();
        });
        let mut passed = Vec::new();
        reader.read_to_end(&mut passed).await.unwrap();
        writing.await.unwrap();
        assert_eq!(passed.len(), MAX_HELD_LINE + 10 + 4);
        assert!(passed.ends_with(b"\n{}\n"));
    }
}
