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

    pub fn push(&self, line: impl Into<String>) {
        let mut line: String = line.into();
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
        if let Some(path) = &self.file {
            // Append-open per line keeps no descriptor per server and survives log rotation by
            // the user; stderr is low-volume, so the cost does not matter.
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{}", entry.line));
            if let Err(e) = written {
                tracing::debug!(file = %path.display(), error = %e, "cannot append to server log");
            }
        }
        {
            let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(entry.clone());
        }
        let _ = self.feed.send(entry);
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

    /// Copies `stream` (a child's stderr) into this log line by line until it closes.
    pub async fn pump(&self, stream: impl AsyncRead + Unpin) {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    self.push(text.trim_end_matches(['\n', '\r']));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "stderr read failed");
                    break;
                }
            }
        }
    }
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
}
