//! Settings and paths: the `BENCH_*` knobs read from the environment, and where the things
//! the bench runs are found (the repo root, what `tests/setup.sh` installs, the `switchboard`
//! binary, `target/`).
//!
//! Separate so that every other module takes its parameters and paths from one place.

use std::path::{Path, PathBuf};

use crate::BenchResult;

pub(crate) struct Settings {
    pub(crate) warmup: usize,
    pub(crate) calls: usize,
    pub(crate) secs: f64,
    pub(crate) levels: Vec<usize>,
    pub(crate) servers: usize,
    /// Scenarios to run (all when empty): direct, switchboard, switchboard-log-off,
    /// supergateway, mcp-proxy.
    only: Vec<String>,
}

impl Settings {
    pub(crate) fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }

    pub(crate) fn from_env() -> Self {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        }
        let levels = std::env::var("BENCH_LEVELS")
            .ok()
            .map(|v| {
                v.split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .filter(|&n| n > 0)
                    .collect::<Vec<usize>>()
            })
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| vec![1, 16, 64]);
        Self {
            warmup: var("BENCH_WARMUP", 200),
            calls: var("BENCH_CALLS", 2000).max(1),
            secs: var("BENCH_SECS", 5.0_f64).max(0.1),
            levels,
            servers: var("BENCH_SERVERS", 10).max(1),
            only: std::env::var("BENCH_ONLY")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    pub(crate) fn max_level(&self) -> usize {
        self.levels.iter().copied().max().unwrap_or(1)
    }
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

pub(crate) fn installed(relative: &str) -> BenchResult<PathBuf> {
    let path = repo_root().join(relative);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `bash tests/setup.sh` first",
            path.display()
        ))
    }
}

pub(crate) fn everything_bin() -> BenchResult<PathBuf> {
    installed("tests/node/node_modules/.bin/mcp-server-everything")
}

/// `target/` of this build: the bench executable is `target/<profile>/deps/gateway-<hash>`.
pub(crate) fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|dir| dir.join("CACHEDIR.TAG").exists() || dir.ends_with("target"))
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The bench-profile build of this crate, or `BENCH_SWITCHBOARD_BIN` (to compare two builds).
pub(crate) fn switchboard_bin() -> PathBuf {
    std::env::var_os("BENCH_SWITCHBOARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_switchboard")))
}

/// Node options that keep every node server on loopback (supergateway has no host flag).
pub(crate) fn node_options() -> BenchResult<String> {
    let preload = installed("tests/node/loopback-only.cjs")?;
    let mut options = std::env::var("NODE_OPTIONS").unwrap_or_default();
    if !options.is_empty() {
        options.push(' ');
    }
    options.push_str(&format!("--require \"{}\"", preload.display()));
    Ok(options)
}
