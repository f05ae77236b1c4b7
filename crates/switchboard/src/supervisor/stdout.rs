//! The child's stdout, filtered on its way to rmcp.
//!
//! stdout belongs to the protocol: one JSON-RPC message per line. Real servers print other
//! things there too (a banner, a debugging line mid-call, a library's warning). The MCP SDK
//! clients skip such lines and carry on, and so do we: a restart for one stray line would
//! break every session open at that moment (measured with the conformance suite's own
//! reference server, which prints a debugging line during a call; see RELIABILITY.md).
//!
//! [`CheckedStdout`] decides per line from its first non-blank byte: `{`, `[` (or a BOM)
//! starts JSON-RPC and the line passes through unchanged; anything else is a stray line. A
//! stray line is dropped here, byte by byte as it arrives, so rmcp never buffers it (a line
//! without an end keeps memory flat), and once its end is seen it is quoted in the server's
//! log, marked as stdout, and counted on the slot (`/api/servers/{name}`, the dashboard).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::slot::SlotWriter;

/// How much of a stray line is kept for the log and the API.
const QUOTE_BYTES: usize = 200;
/// What marks a stray stdout line in the server's log.
pub const STDOUT_NOTE: &str = "[switchboard] not MCP on stdout (skipped):";

pub struct CheckedStdout<R> {
    inner: R,
    slot: SlotWriter,
    /// The start of the current line (up to [`QUOTE_BYTES`]), while it may be stray.
    quote: Vec<u8>,
    /// Bytes of the current line seen so far.
    length: usize,
    /// Whether the current line has shown a non-blank byte yet, and whether that was JSON.
    verdict: Option<bool>,
}

impl<R> CheckedStdout<R> {
    pub fn new(inner: R, slot: SlotWriter) -> Self {
        Self {
            inner,
            slot,
            quote: Vec::new(),
            length: 0,
            verdict: None,
        }
    }

    /// Keeps the bytes of JSON-RPC lines (moved to the front of `bytes`) and drops the rest;
    /// returns how many were kept. Blank bytes before a line's first character are dropped
    /// too (JSON does not need them), so a blank line disappears whole.
    fn filter(&mut self, bytes: &mut [u8]) -> usize {
        let mut kept = 0;
        for i in 0..bytes.len() {
            let byte = bytes[i];
            if byte == b'\n' {
                match self.verdict {
                    Some(true) => {
                        bytes[kept] = byte;
                        kept += 1;
                    }
                    Some(false) => self.report(),
                    None => {}
                }
                self.quote.clear();
                self.length = 0;
                self.verdict = None;
                continue;
            }
            self.length += 1;
            if self.verdict.is_none() && !byte.is_ascii_whitespace() {
                // A BOM, or the start of an object or batch, is JSON-RPC; anything else is not.
                self.verdict = Some(matches!(byte, b'{' | b'[' | 0xEF));
            }
            match self.verdict {
                Some(true) => {
                    bytes[kept] = byte;
                    kept += 1;
                }
                Some(false) if self.quote.len() < QUOTE_BYTES => self.quote.push(byte),
                _ => {}
            }
        }
        kept
    }

    fn report(&mut self) {
        let mut quote = String::from_utf8_lossy(&self.quote).trim_end().to_owned();
        if self.length > self.quote.len() {
            quote.push_str(&format!(" … ({} bytes)", self.length));
        }
        self.slot.log().push(format!("{STDOUT_NOTE} {quote}"));
        self.slot.record_stray_stdout(quote);
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CheckedStdout<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let after = buf.filled().len();
            if after == before {
                return Poll::Ready(Ok(())); // end of stream (or no room), as the inner reader said
            }
            let kept = this.filter(&mut buf.filled_mut()[before..after]);
            buf.set_filled(before + kept);
            // Reporting nothing read would mean the end of the stream: read on until there is
            // something to pass, or the inner reader has to wait (and has registered the waker).
            if kept > 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    fn slot() -> SlotWriter {
        let file = crate::config::parse(
            std::path::Path::new("t.json"),
            r#"{"mcpServers":{"s":{"command":"sh"}}}"#,
        )
        .unwrap();
        let spec = file.mcp_servers["s"].clone();
        crate::slot::ServerSlot::new(
            "s".into(),
            spec,
            Arc::new(crate::logs::ServerLog::new(None)),
        )
        .1
    }

    #[tokio::test]
    async fn json_lines_pass_and_stray_lines_are_skipped_counted_and_logged() {
        let slot = slot();
        let input: &[u8] = b"{\"jsonrpc\":\"2.0\"}\n  [1]\nServer started on stdio\n\n \n{}\n";
        let mut checked = CheckedStdout::new(input, slot.clone());
        let mut out = Vec::new();
        checked.read_to_end(&mut out).await.unwrap();
        assert_eq!(
            out, b"{\"jsonrpc\":\"2.0\"}\n[1]\n{}\n",
            "only JSON-RPC reaches rmcp"
        );
        let stray = slot.stray_stdout();
        assert_eq!(stray.count, 1);
        assert_eq!(stray.last_line.as_deref(), Some("Server started on stdio"));
        let logged = &slot.log().tail(1)[0].line;
        assert!(
            logged.starts_with(STDOUT_NOTE) && logged.ends_with("Server started on stdio"),
            "{logged}"
        );
    }

    #[tokio::test]
    async fn lines_split_across_reads_are_judged_whole() {
        let slot = slot();
        let mut checked = CheckedStdout::new(&b""[..], slot.clone());
        let mut parts: Vec<Vec<u8>> = vec![
            b"  {\"a\":".to_vec(),
            b"1}\ngar".to_vec(),
            b"bage\n{}".to_vec(),
        ];
        let kept: Vec<Vec<u8>> = parts
            .iter_mut()
            .map(|part| {
                let n = checked.filter(part);
                part[..n].to_vec()
            })
            .collect();
        assert_eq!(kept.concat(), b"{\"a\":1}\n{}");
        assert_eq!(slot.stray_stdout().last_line.as_deref(), Some("garbage"));
    }

    #[tokio::test]
    async fn a_stray_line_without_an_end_is_dropped_as_it_comes_and_memory_stays_flat() {
        let slot = slot();
        // 8 MiB of one line that never ends, then a message on the next line.
        let mut input = vec![b'x'; 8 << 20];
        input.extend_from_slice(b"\n{\"jsonrpc\":\"2.0\"}\n");
        let mut checked = CheckedStdout::new(&input[..], slot.clone());
        let mut out = Vec::new();
        checked.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"{\"jsonrpc\":\"2.0\"}\n");
        assert!(
            checked.quote.capacity() <= 2 * QUOTE_BYTES,
            "quote stays bounded"
        );
        let stray = slot.stray_stdout();
        assert_eq!(stray.count, 1);
        assert!(stray
            .last_line
            .unwrap()
            .ends_with(&format!("({} bytes)", 8 << 20)));
    }
}
