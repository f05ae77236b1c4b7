//! A server's stderr: a bounded in-memory tail, a per-server log file, and a live feed.
//!
//! The tail answers `/api/servers/{name}/logs` and explains failures ("exited: <last lines>");
//! the file keeps everything across restarts of Switchboard; the broadcast feeds `?follow=1`.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::broadcast;

/// How many lines the in-memory tail keeps per server.
pub const TAIL_LINES: usize = 1000;
/// Longest line kept; a child printing megabytes without a newline must not grow memory.
const MAX_LINE_BYTES: usize = 8 * 1024;

/// One line of a server's stderr (or a line Switchboard wrote about it).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch.
    pub ts: u64,
    pub line: String,
}

/// The log of one server. Shared by its supervisor (writer) and the API (readers).
#[derive(Debug)]
pub struct ServerLog {
    tail: Mutex<VecDeque<LogLine>>,
    file: Option<PathBuf>,
    feed: broadcast::Sender<LogLine>,
}

impl ServerLog {
    /// `file`: where lines are appended; `None` keeps them in memory only.
    pub fn new(file: Option<PathBuf>) -> Self {
        if let Some(dir) = file.as_ref().and_then(|f| f.parent()) {
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot create the server log directory");
            }
        }
        Self {
            tail: Mutex::new(VecDeque::with_capacity(64)),
            file,
            feed: broadcast::channel(256).0,
        }
    }

    /// Adds one line Switchboard writes about the server (or one line of its stderr).
    pub fn push(&self, line: impl Into<String>) {
        let entry = self.record(line.into());
        self.append_to_file(std::slice::from_ref(&entry));
    }

    /// Keeps `line` in the tail and sends it to followers; the file is the caller's to write.
    fn record(&self, mut line: String) -> LogLine {
        if line.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        let entry = LogLine {
            ts: now_millis(),
            line,
        };
        {
            let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(entry.clone());
        }
        let _ = self.feed.send(entry.clone());
        entry
    }

    /// Appends lines to the log file in one write. Opening it for each write keeps no
    /// descriptor per server and follows the user's log rotation; [`Self::pump`] writes a
    /// whole read's worth of lines at once, so a chatty server costs one open per read, not per
    /// line.
    fn append_to_file(&self, lines: &[LogLine]) {
        let (Some(path), false) = (&self.file, lines.is_empty()) else {
            return;
        };
        let mut text = String::new();
        for entry in lines {
            text.push_str(&entry.line);
            text.push('\n');
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            tracing::debug!(file = %path.display(), error = %e, "cannot append to server log");
        }
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<LogLine> {
        let tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.iter()
            .skip(tail.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// The last `n` lines joined, for error messages.
    pub fn tail_text(&self, n: usize) -> String {
        self.tail(n)
            .into_iter()
            .map(|l| l.line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// New lines as they arrive.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.feed.subscribe()
    }

    /// Copies `stream` (a child's stderr) into this log line by line until it closes. Memory
    /// stays bounded whatever the child writes: a line is kept up to [`MAX_LINE_BYTES`] and the
    /// rest of it skipped until its newline.
    pub async fn pump(&self, stream: impl AsyncRead + Unpin) {
        let mut reader = BufReader::with_capacity(16 * 1024, stream);
        let mut line: Vec<u8> = Vec::new();
        let mut for_file = Vec::new();
        loop {
            let chunk = match reader.fill_buf().await {
                Ok([]) => break,
                Ok(chunk) => chunk,
                Err(e) => {
                    tracing::debug!(error = %e, "stderr read failed");
                    break;
                }
            };
            let (taken, ends_line) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            // One byte over the limit is enough for `record` to mark the cut.
            let room = (MAX_LINE_BYTES + 1).saturating_sub(line.len());
            line.extend_from_slice(&chunk[..taken.min(room)]);
            reader.consume(taken);
            if ends_line {
                for_file.push(self.record(line_text(&line)));
                line.clear();
            }
            if reader.buffer().is_empty() {
                self.append_to_file(&for_file);
                for_file.clear();
            }
        }
        if !line.is_empty() {
            for_file.push(self.record(line_text(&line)));
        }
        self.append_to_file(&for_file);
    }
}

fn line_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\n', '\r'])
        .to_owned()
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_is_bounded_and_keeps_newest() {
        let log = ServerLog::new(None);
        for i in 0..(TAIL_LINES + 10) {
            log.push(format!("line {i}"));
        }
        let tail = log.tail(usize::MAX);
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(
            tail.last().unwrap().line,
            format!("line {}", TAIL_LINES + 9)
        );
        assert_eq!(log.tail(2).len(), 2);
    }

    #[test]
    fn long_lines_are_truncated() {
        let log = ServerLog::new(None);
        log.push("é".repeat(MAX_LINE_BYTES));
        assert!(log.tail(1)[0].line.len() <= MAX_LINE_BYTES + '…'.len_utf8());
    }

    #[tokio::test]
    async fn pump_splits_lines_and_writes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.log");
        let log = ServerLog::new(Some(file.clone()));
        log.pump(&b"one\r\ntwo\nthree"[..]).await;
        let lines: Vec<_> = log.tail(10).into_iter().map(|l| l.line).collect();
        assert_eq!(lines, ["one", "two", "three"]);
        assert_eq!(std::fs::read_to_string(file).unwrap(), "one\ntwo\nthree\n");
    }

    #[tokio::test]
    async fn an_overlong_line_is_cut_and_the_next_line_kept() {
        let log = ServerLog::new(None);
        let mut stderr = vec![b'x'; 5 * 1024 * 1024];
        stderr.extend_from_slice(b"\nnext\n");
        log.pump(&stderr[..]).await;
        let lines: Vec<_> = log.tail(10).into_iter().map(|l| l.line).collect();
        assert_eq!(
            lines.len(),
            2,
            "{:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(lines[0].len(), MAX_LINE_BYTES + '…'.len_utf8());
        assert!(lines[0].ends_with('…'));
        assert_eq!(lines[1], "next");
    }

    #[tokio::test]
    async fn lines_split_across_reads_are_kept_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.log");
        let log = ServerLog::new(Some(file.clone()));
        let (mut writer, reader) = tokio::io::duplex(64);
        let pump = log.pump(reader);
        let write = async move {
            use tokio::io::AsyncWriteExt;
            for i in 0..200 {
                writer
                    .write_all(format!("line number {i} of a chatty server\n").as_bytes())
                    .await
                    .unwrap();
            }
        };
        tokio::join!(pump, write);
        let expected: Vec<String> = (0..200)
            .map(|i| format!("line number {i} of a chatty server"))
            .collect();
        let lines: Vec<_> = log.tail(TAIL_LINES).into_iter().map(|l| l.line).collect();
        assert_eq!(lines, expected);
        let text = std::fs::read_to_string(file).unwrap();
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }
}
