//! The child's stdout, watched on its way to rmcp.
//!
//! stdout belongs to the protocol: one JSON-RPC message per line. rmcp skips a line it cannot
//! parse without a word, so a server that prints a banner, or whose output got corrupted, fails
//! in silence. [`CheckedStdout`] passes every byte through unchanged and reports each line that
//! is not JSON: the line goes to the server's log, and the supervisor is told (it restarts a
//! running server that does this; before `initialize` a banner is only logged).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use crate::logs::ServerLog;

/// How much of a bad line is kept for the log.
const QUOTE_BYTES: usize = 200;

pub struct CheckedStdout<R> {
    inner: R,
    log: Arc<ServerLog>,
    bad_lines: mpsc::UnboundedSender<String>,
    /// The start of the current line (up to [`QUOTE_BYTES`]).
    line: Vec<u8>,
    /// Whether the current line has shown a non-blank byte yet, and whether that was JSON.
    verdict: Option<bool>,
}

impl<R> CheckedStdout<R> {
    pub fn new(inner: R, log: Arc<ServerLog>, bad_lines: mpsc::UnboundedSender<String>) -> Self {
        Self {
            inner,
            log,
            bad_lines,
            line: Vec::new(),
            verdict: None,
        }
    }

    fn inspect(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                if self.verdict == Some(false) {
                    let quote = String::from_utf8_lossy(&self.line).trim_end().to_owned();
                    self.log
                        .push(format!("[switchboard] not MCP on stdout: {quote}"));
                    let _ = self.bad_lines.send(quote);
                }
                self.line.clear();
                self.verdict = None;
                continue;
            }
            if self.line.len() < QUOTE_BYTES {
                self.line.push(byte);
            }
            if self.verdict.is_none() && !byte.is_ascii_whitespace() {
                // A BOM, or the start of an object or batch, is JSON-RPC; anything else is not.
                self.verdict = Some(matches!(byte, b'{' | b'[' | 0xEF));
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CheckedStdout<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let fresh = buf.filled()[before..].to_vec();
            this.inspect(&fresh);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn json_passes_and_other_lines_are_reported_and_logged() {
        let log = Arc::new(ServerLog::new(None));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let input: &[u8] = b"{\"jsonrpc\":\"2.0\"}\n  [1]\nServer started on stdio\n\n{}\n";
        let mut checked = CheckedStdout::new(input, Arc::clone(&log), tx);
        let mut out = Vec::new();
        checked.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, input, "bytes pass through unchanged");
        assert_eq!(rx.try_recv().unwrap(), "Server started on stdio");
        assert!(rx.try_recv().is_err(), "only the one bad line");
        assert!(log.tail(1)[0]
            .line
            .contains("not MCP on stdout: Server started"));
    }

    #[tokio::test]
    async fn lines_split_across_reads_are_judged_whole() {
        let log = Arc::new(ServerLog::new(None));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut checked = CheckedStdout::new(&b""[..], log, tx);
        checked.inspect(b"  {\"a\":");
        checked.inspect(b"1}\ngar");
        checked.inspect(b"bage\n");
        assert_eq!(rx.try_recv().unwrap(), "garbage");
    }
}
