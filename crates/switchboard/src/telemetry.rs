//! Logging setup: `tracing` to stderr and to a daily-rolled file in the data dir.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// Default filter when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info,rmcp=warn";
/// Lines the file writer's queue holds before it drops new ones. tracing-appender's default
/// (128,000) preallocates 4 MiB, a fifth of the gateway's idle memory (BENCHMARKS.md); at the
/// default filter Switchboard logs a few lines per server event, never thousands at once.
const FILE_QUEUE_LINES: usize = 4096;

/// Installs the global subscriber. Keep the returned guard alive: dropping it flushes the file.
/// When the log directory cannot be created, logs go to stderr only and the reason is logged.
pub fn init(log_dir: &Path) -> Option<WorkerGuard> {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let stderr = fmt::layer().with_writer(std::io::stderr);
    match std::fs::create_dir_all(log_dir) {
        Ok(()) => {
            let appender = tracing_appender::rolling::daily(log_dir, "switchboard.log");
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(FILE_QUEUE_LINES)
                .finish(appender);
            let file = fmt::layer().with_ansi(false).with_writer(writer);
            tracing_subscriber::registry()
                .with(filter())
                .with(stderr)
                .with(file)
                .init();
            Some(guard)
        }
        Err(e) => {
            tracing_subscriber::registry()
                .with(filter())
                .with(stderr)
                .init();
            tracing::warn!(dir = %log_dir.display(), error = %e, "cannot create the log directory; logging to stderr only");
            None
        }
    }
}
