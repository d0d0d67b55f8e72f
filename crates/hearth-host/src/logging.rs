//! Logging: readable lines on stderr, JSON lines in a daily-rotated file under the data folder.
//!
//! The level comes from `--log-level`, then `RUST_LOG`; without either, stderr shows warnings
//! and the file keeps info. Hearth logs ids, counts and timings, never message contents or
//! secrets, at info and above.

use std::path::Path;

pub use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How many daily log files to keep.
const KEEP_FILES: usize = 7;

/// Installs the subscriber. The guard flushes the file writer when dropped; keep it alive for
/// the life of the program. Returns `None` if the log folder cannot be used (then only stderr).
pub fn init(log_dir: &Path, level: Option<&str>) -> Option<WorkerGuard> {
    let filter = |default: &str| match level {
        Some(l) => EnvFilter::try_new(l).unwrap_or_else(|_| EnvFilter::new(default)),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_filter(filter("warn"));

    let file = std::fs::create_dir_all(log_dir).ok().and_then(|()| {
        Builder::new()
            .rotation(Rotation::DAILY)
            .filename_prefix("hearth")
            .filename_suffix("log")
            .max_log_files(KEEP_FILES)
            .build(log_dir)
            .ok()
    });
    let (file_layer, guard) = match file {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer().json().with_writer(writer).with_filter(filter("info"));
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry().with(stderr).with(file_layer).init();
    if guard.is_none() {
        tracing::warn!(dir = %log_dir.display(), "cannot write logs there; logging to stderr only");
    }
    guard
}
