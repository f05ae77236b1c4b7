//! The record a running Switchboard leaves, so that `switchboard status`, `connect`, `install`
//! and the tray find it where it really listens (`serve --port 7621`), not only at the
//! `gateway.port` of servers.json.
//!
//! One small JSON file per servers.json (named after a hash of the file's canonical path, so
//! two instances with different configs do not clash) in the runtime dir
//! (`$XDG_RUNTIME_DIR/switchboard`, cleared at logout) or else the data dir. It is written
//! atomically once the gateway listens and removed on an orderly exit (only while it still
//! names this process). A record survives a crash, so readers check it: it is *stale*, and
//! ignored, when its process is gone or nothing answers `/api/health` at its URL as that
//! process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long the liveness probe may take to connect, and then to read the answer.
const PROBE_CONNECT: Duration = Duration::from_millis(500);
const PROBE_READ: Duration = Duration::from_secs(2);

/// What a running instance records about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    /// Where its gateway answers from this machine, e.g. `http://127.0.0.1:7621`.
    pub base_url: String,
    pub pid: u32,
    /// The servers.json it runs.
    pub config_file: PathBuf,
}

/// The record file of the instance running `config_file`, in `dir`.
pub fn record_path(dir: &Path, config_file: &Path) -> PathBuf {
    let canonical = std::fs::canonicalize(config_file)
        .or_else(|_| std::path::absolute(config_file))
        .unwrap_or_else(|_| config_file.to_owned());
    dir.join(format!(
        "instance-{:016x}.json",
        fnv1a(canonical.as_os_str().as_encoded_bytes())
    ))
}

/// FNV-1a: a hash that is the same in every build (std's hashers promise no such thing), so
/// the CLI and the tray app name the same file.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The base URL a client on this machine uses for a gateway bound to `addr` (an unspecified
/// address such as `0.0.0.0` is reached over loopback).
pub fn local_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

impl InstanceRecord {
    /// This process's record for a gateway bound to `addr`, running `config_file`.
    pub fn for_this_process(addr: SocketAddr, config_file: &Path) -> Self {
        Self {
            base_url: local_url(addr),
            pid: std::process::id(),
            config_file: config_file.to_owned(),
        }
    }

    /// Reads a record file; a missing, unreadable or garbled one is no record.
    pub fn read(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str(&text) {
            Ok(record) => Some(record),
            Err(e) => {
                tracing::debug!(file = %path.display(), error = %e, "ignoring a garbled instance record");
                None
            }
        }
    }

    /// Whether the instance is still there: its process exists and its gateway answers
    /// `/api/health` as that process.
    pub fn is_live(&self) -> bool {
        pid_alive(self.pid) && health_pid(&self.base_url) == Some(self.pid)
    }

    /// The port its gateway listens on.
    pub fn port(&self) -> Option<u16> {
        let uri: http::Uri = self.base_url.parse().ok()?;
        uri.port_u16()
    }
}

/// The live instance running `config_file`, if its record is in `dir`.
pub fn find_live(dir: &Path, config_file: &Path) -> Option<InstanceRecord> {
    InstanceRecord::read(&record_path(dir, config_file)).filter(InstanceRecord::is_live)
}

/// The live instance (of any servers.json) whose gateway listens on `port`, if one left its
/// record in `dir`: who holds a port another instance could not bind.
pub fn find_live_on_port(dir: &Path, port: u16) -> Option<InstanceRecord> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("instance-") && name.ends_with(".json")
        })
        .filter_map(|entry| InstanceRecord::read(&entry.path()))
        .find(|record| record.port() == Some(port) && record.is_live())
}

/// A record this process published; dropping it removes the file, unless another instance
/// of the same servers.json has replaced it since.
#[derive(Debug)]
pub struct Published {
    path: PathBuf,
    pid: u32,
}

impl Published {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        if InstanceRecord::read(&self.path).is_some_and(|r| r.pid == self.pid) {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::debug!(file = %self.path.display(), error = %e, "cannot remove the instance record");
            }
        }
    }
}

/// Writes `record` into `dir` (temp file + rename, so a reader never sees half of it).
pub fn publish(dir: &Path, record: &InstanceRecord) -> std::io::Result<Published> {
    let path = record_path(dir, &record.config_file);
    let mut text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    text.push('\n');
    create_private_dir(dir)?;
    crate::atomic_file::replace(&path, &text)?;
    Ok(Published {
        path,
        pid: record.pid,
    })
}

/// The runtime dir is the user's own; the data-dir fallback is made private like it.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(unix)]
fn pid_alive(pid: u32) -> bool {
    use nix::errno::Errno;
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    // Signal 0 checks existence only; EPERM means it exists under another user.
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) | Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// Elsewhere the health probe alone decides (it compares the pid too).
#[cfg(not(unix))]
fn pid_alive(_pid: u32) -> bool {
    true
}

/// The pid `GET {base_url}/api/health` answers with, if a Switchboard answers there.
fn health_pid(base_url: &str) -> Option<u32> {
    let uri: http::Uri = base_url.parse().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let authority = uri.authority()?.as_str().to_owned();
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let addr = (host, uri.port_u16().unwrap_or(80))
        .to_socket_addrs()
        .ok()?
        .next()?;
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_CONNECT).ok()?;
    stream.set_read_timeout(Some(PROBE_READ)).ok()?;
    stream.set_write_timeout(Some(PROBE_READ)).ok()?;
    let request =
        format!("GET /api/health HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    let health: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    health["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// A stand-in gateway answering `/api/health` with `pid`, for as many probes as asked.
    fn health_server(pid: u32, probes: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(probes) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let body = format!(r#"{{"status":"ok","pid":{pid}}}"#);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        addr
    }

    /// A port nobody listens on (bound, then released).
    fn closed_port() -> SocketAddr {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn a_record(dir: &Path, addr: SocketAddr, pid: u32) -> (InstanceRecord, PathBuf) {
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("servers.json");
        std::fs::write(&config, "{}").unwrap();
        let record = InstanceRecord {
            base_url: local_url(addr),
            pid,
            config_file: config.clone(),
        };
        (record, config)
    }

    #[test]
    fn a_fresh_record_is_found_for_its_config_and_its_port() {
        let dir = tempfile::tempdir().unwrap();
        let addr = health_server(std::process::id(), 2);
        let (record, config) = a_record(dir.path(), addr, std::process::id());
        let _published = publish(dir.path(), &record).unwrap();
        assert_eq!(find_live(dir.path(), &config), Some(record.clone()));
        assert_eq!(find_live_on_port(dir.path(), addr.port()), Some(record));
    }

    #[cfg(unix)]
    #[test]
    fn a_record_whose_process_is_gone_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dead_pid();
        // Even with something answering as that pid, a dead process is not running.
        let (record, config) = a_record(dir.path(), health_server(pid, 1), pid);
        let _published = publish(dir.path(), &record).unwrap();
        assert_eq!(find_live(dir.path(), &config), None);
    }

    #[test]
    fn a_record_with_nothing_answering_or_another_process_answering_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let (record, config) = a_record(dir.path(), closed_port(), std::process::id());
        let _published = publish(dir.path(), &record).unwrap();
        assert_eq!(find_live(dir.path(), &config), None, "nothing answers");

        let other = health_server(std::process::id() + 1, 1);
        let (record, config) = a_record(dir.path(), other, std::process::id());
        let _published = publish(dir.path(), &record).unwrap();
        assert_eq!(find_live(dir.path(), &config), None, "someone else answers");
    }

    #[test]
    fn a_garbled_or_missing_record_is_no_record() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("servers.json");
        assert_eq!(find_live(dir.path(), &config), None);
        std::fs::write(record_path(dir.path(), &config), "{ half").unwrap();
        assert_eq!(find_live(dir.path(), &config), None);
    }

    #[test]
    fn two_configs_have_two_records_and_each_is_removed_with_its_instance() {
        let dir = tempfile::tempdir().unwrap();
        let (one, one_config) = a_record(&dir.path().join("a"), closed_port(), 1);
        let (two, two_config) = a_record(&dir.path().join("b"), closed_port(), 2);
        let runtime = dir.path().join("run");
        let first = publish(&runtime, &one).unwrap();
        let second = publish(&runtime, &two).unwrap();
        assert_ne!(first.path(), second.path());
        assert_eq!(record_path(&runtime, &one_config), first.path());
        // The same file named another way is the same record.
        let same = dir.path().join("a/../a/servers.json");
        assert_eq!(record_path(&runtime, &same), first.path());
        drop(first);
        assert!(
            !record_path(&runtime, &one_config).exists(),
            "removed on exit"
        );
        assert_eq!(InstanceRecord::read(second.path()), Some(two));
        drop(second);
        assert!(!record_path(&runtime, &two_config).exists());
    }

    #[test]
    fn an_instance_does_not_remove_the_record_of_the_one_that_replaced_it() {
        let dir = tempfile::tempdir().unwrap();
        let (old, config) = a_record(dir.path(), closed_port(), 1);
        let first = publish(dir.path(), &old).unwrap();
        let newer = InstanceRecord { pid: 2, ..old };
        let _second = publish(dir.path(), &newer).unwrap();
        drop(first);
        assert_eq!(
            InstanceRecord::read(&record_path(dir.path(), &config)),
            Some(newer)
        );
    }

    #[test]
    fn an_unspecified_bind_address_is_reached_over_loopback() {
        assert_eq!(
            local_url("0.0.0.0:7621".parse().unwrap()),
            "http://127.0.0.1:7621"
        );
        assert_eq!(local_url("[::]:7621".parse().unwrap()), "http://[::1]:7621");
        assert_eq!(
            local_url("127.0.0.1:7427".parse().unwrap()),
            "http://127.0.0.1:7427"
        );
    }
}
