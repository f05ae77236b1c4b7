//! A server's stderr: a bounded in-memory tail, a per-server log file, and a live feed.
//!
//! The tail answers `/api/servers/{name}/logs` and explains failures ("exited: <last lines>");
//! the file keeps everything across restarts of Switchboard; the broadcast feeds `?follow=1`.
//!
//! The files are written by one thread of their own ([`LogFiles`], one per hub, handed to
//! each log), never on the async workers:
//! an append can wait on a slow or stalled disk, and a worker stuck there stops every request
//! it also serves. Lines reach the writer in the order they were recorded, through one
//! bounded queue, so each file gets them in order.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    file: Option<(Arc<PathBuf>, LogFiles)>,
    feed: broadcast::Sender<LogLine>,
    /// Lines [`Self::push`] could not queue for the file because the writer was that far
    /// behind (it does not wait: it runs on async workers and inside poll functions). The
    /// next write to the file says how many, so a gap in it is never silent.
    unwritten: AtomicU64,
}

impl ServerLog {
    /// `file`: where lines are appended, and the writer that appends them; `None` keeps them
    /// in memory only.
    pub fn new(file: Option<(PathBuf, LogFiles)>) -> Self {
        if let Some(dir) = file.as_ref().and_then(|(f, _)| f.parent()) {
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot create the server log directory");
            }
        }
        Self {
            tail: Mutex::new(VecDeque::with_capacity(64)),
            file: file.map(|(path, files)| (Arc::new(path), files)),
            feed: broadcast::channel(256).0,
            unwritten: AtomicU64::new(0),
        }
    }

    /// Adds one line Switchboard writes about the server (or one line of its stderr).
    pub fn push(&self, line: impl Into<String>) {
        let entry = self.record(line.into());
        let Some((path, files)) = &self.file else {
            return;
        };
        let missed = self.unwritten.swap(0, Ordering::Relaxed);
        if !files.try_append(path, file_text(missed, std::slice::from_ref(&entry))) {
            self.unwritten.fetch_add(missed + 1, Ordering::Relaxed);
        }
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

    /// Queues `lines` for the file, waiting while the writer's queue is full: a child writing
    /// faster than the disk takes it is slowed down (its stderr pipe fills), as it was when
    /// the pump wrote itself, but no async worker waits on the disk.
    async fn append_to_file(&self, lines: &[LogLine]) {
        if let (Some((path, files)), false) = (&self.file, lines.is_empty()) {
            let missed = self.unwritten.swap(0, Ordering::Relaxed);
            files.append(path, file_text(missed, lines)).await;
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
    /// rest of it skipped until its newline. A whole read's worth of lines goes to the file in
    /// one write; when the stream closes, everything is in the file before this returns.
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
                self.append_to_file(&for_file).await;
                for_file.clear();
            }
        }
        if !line.is_empty() {
            for_file.push(self.record(line_text(&line)));
        }
        self.append_to_file(&for_file).await;
        if let Some((_, files)) = &self.file {
            files.flush().await;
        }
    }
}

/// Appends (each a read's worth of lines, or one line) that may wait for the writer thread:
/// with reads of up to 16 KiB, a few MiB at most.
const WRITER_QUEUE: usize = 256;

enum Job {
    Append {
        path: Arc<PathBuf>,
        text: String,
    },
    /// Answered once everything queued before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The thread that appends to the server log files, and its bounded queue. The hub starts
/// one and hands it to every server's log; the thread ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct LogFiles {
    queue: tokio::sync::mpsc::Sender<Job>,
}

impl LogFiles {
    /// Starts the writer thread.
    pub fn start() -> std::io::Result<Self> {
        let (queue, jobs) = tokio::sync::mpsc::channel(WRITER_QUEUE);
        std::thread::Builder::new()
            .name("switchboard-logs".into())
            .spawn(move || write_jobs(jobs))?;
        Ok(Self { queue })
    }

    /// Queues `text` for `path`, waiting for room.
    async fn append(&self, path: &Arc<PathBuf>, text: String) {
        let job = Job::Append {
            path: Arc::clone(path),
            text,
        };
        // Fails only if the thread is gone, which it never leaves while a handle exists.
        let _ = self.queue.send(job).await;
    }

    /// Queues `text` for `path` without waiting. Returns false if the queue is full.
    fn try_append(&self, path: &Arc<PathBuf>, text: String) -> bool {
        let job = Job::Append {
            path: Arc::clone(path),
            text,
        };
        !matches!(
            self.queue.try_send(job),
            Err(tokio::sync::mpsc::error::TrySendError::Full(_))
        )
    }

    /// Waits until every line queued so far is written (or failed to be), so an orderly exit
    /// does not lose the last lines the children wrote.
    pub async fn flush(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.queue.send(Job::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

/// The writer thread: takes what is queued, appends it file by file (lines of one file in
/// queue order, one open and write per file per round, which also follows the user's log
/// rotation and keeps no descriptor per server), then answers the flushes of that round.
fn write_jobs(mut jobs: tokio::sync::mpsc::Receiver<Job>) {
    use std::io::Write;
    while let Some(first) = jobs.blocking_recv() {
        let mut files: Vec<(Arc<PathBuf>, String)> = Vec::new();
        let mut flushed = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(job) = next.take() {
            match job {
                Job::Append { path, text } => match files.iter_mut().find(|(p, _)| **p == *path) {
                    Some((_, queued)) => queued.push_str(&text),
                    None => files.push((path, text)),
                },
                Job::Flush(done) => flushed.push(done),
            }
            taken += 1;
            // A round takes at most a queue's worth, so memory stays bounded.
            if taken < WRITER_QUEUE {
                next = jobs.try_recv().ok();
            }
        }
        for (path, text) in files {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&*path)
                .and_then(|mut f| f.write_all(text.as_bytes()));
            if let Err(e) = written {
                tracing::debug!(file = %path.display(), error = %e, "cannot append to server log");
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// What a log file gets for `lines`: one per line, after a note of the `missed` lines that
/// could not be queued since the last write, if any.
fn file_text(missed: u64, lines: &[LogLine]) -> String {
    let mut text = String::new();
    if missed > 0 {
        text.push_str(&format!(
            "[switchboard] {missed} line(s) not written to this file: the log writer was \
             behind (the disk is slow or full); the in-memory tail may still have them\n"
        ));
    }
    for entry in lines {
        text.push_str(&entry.line);
        text.push('\n');
    }
    text
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

    fn files() -> LogFiles {
        LogFiles::start().unwrap()
    }

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
        let log = ServerLog::new(Some((file.clone(), files())));
        log.pump(&b"one\r\ntwo\nthree"[..]).await;
        let lines: Vec<_> = log.tail(10).into_iter().map(|l| l.line).collect();
        assert_eq!(lines, ["one", "two", "three"]);
        assert_eq!(std::fs::read_to_string(file).unwrap(), "one\ntwo\nthree\n");
    }

    #[tokio::test]
    async fn pushed_lines_reach_the_file_in_order_once_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.log");
        let log = ServerLog::new(Some((file.clone(), files())));
        log.push("started");
        log.pump(&b"from stderr\n"[..]).await;
        log.push("exited");
        log.file.as_ref().unwrap().1.flush().await;
        assert_eq!(
            std::fs::read_to_string(file).unwrap(),
            "started\nfrom stderr\nexited\n"
        );
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
        let log = ServerLog::new(Some((file.clone(), files())));
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
