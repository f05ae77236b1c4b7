//! Logging setup: `tracing` to stderr and to a daily-rolled file in the data dir, without
//! rmcp's warnings about the refusals Switchboard makes on purpose.

use std::path::Path;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
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
                .with(ExpectedRefusals)
                .with(stderr)
                .with(file)
                .init();
            Some(guard)
        }
        Err(e) => {
            tracing_subscriber::registry()
                .with(filter())
                .with(ExpectedRefusals)
                .with(stderr)
                .init();
            tracing::warn!(dir = %log_dir.display(), error = %e, "cannot create the log directory; logging to stderr only");
            None
        }
    }
}

/// How the error Switchboard answers a child with opens, when the child asks something of "the
/// client" (roots, sampling, elicitation) and no connected client can answer it. That is
/// expected: server-everything asks for roots as it starts, before any client is connected.
/// The proxy logs it at debug; [`ExpectedRefusals`] keeps rmcp's warning about it out.
pub const NO_CAPABLE_CLIENT: &str = "no client connected to Switchboard's server";

/// rmcp's service loop logs every error a handler answers with as `WARN rmcp::service:
/// response error` (rmcp 3.9, `service.rs`), which would put a warning in the log each time a
/// server starts. This layer drops exactly those events whose error is a
/// [`NO_CAPABLE_CLIENT`] refusal, for every output; rmcp's other warnings pass.
struct ExpectedRefusals;

impl<S: Subscriber> Layer<S> for ExpectedRefusals {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        !is_expected_refusal(event)
    }
}

fn is_expected_refusal(event: &Event<'_>) -> bool {
    let meta = event.metadata();
    if *meta.level() != Level::WARN || meta.target() != "rmcp::service" {
        return false;
    }
    let mut fields = RefusalFields::default();
    event.record(&mut fields);
    fields.response_error && fields.ours
}

/// The two fields of rmcp's event that tell a refusal of ours: its message and its error.
#[derive(Default)]
struct RefusalFields {
    response_error: bool,
    ours: bool,
}

impl Visit for RefusalFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.response_error = format!("{value:?}") == "response error",
            "error" => self.ours = format!("{value:?}").contains(NO_CAPABLE_CLIENT),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use rmcp::model::{ErrorCode, ErrorData};
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Collects the messages of the events that reach it.
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            let mut text = String::new();
            struct Message<'a>(&'a mut String);
            impl Visit for Message<'_> {
                fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!("{}={value:?} ", field.name()));
                }
            }
            event.record(&mut Message(&mut text));
            self.0.lock().unwrap().push(text);
        }
    }

    #[test]
    fn rmcp_warnings_about_our_expected_refusals_are_dropped_and_others_kept() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry()
            .with(ExpectedRefusals)
            .with(Seen(Arc::clone(&seen)));
        tracing::subscriber::with_default(subscriber, || {
            let ours = ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("{NO_CAPABLE_CLIENT} 'everything' supports roots"),
                None,
            );
            let other = ErrorData::internal_error("the child broke", None);
            tracing::warn!(target: "rmcp::service", id = 1, error = ?ours, "response error");
            tracing::warn!(target: "rmcp::service", id = 2, error = ?other, "response error");
            tracing::warn!(target: "rmcp::service", error = ?ours, "something else");
            tracing::info!(target: "rmcp::service", error = ?ours, "response error");
        });
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "{seen:#?}");
        assert!(seen[0].contains("the child broke"), "{seen:#?}");
        assert!(seen[1].contains("something else"), "{seen:#?}");
        assert!(seen.iter().all(|s| !s.contains("id=1")), "{seen:#?}");
    }
}
