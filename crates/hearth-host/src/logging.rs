//! Logging: readable lines on stderr, JSON lines in a daily-rotated file under the data folder.
//!
//! The level comes from `--log-level`, then `RUST_LOG`; without either, stderr shows warnings
//! and the file keeps info. Hearth logs ids, counts and timings, never message contents or
//! secrets, at info and above.
//!
//! Logs are the user's alone (Unix): [`init`] is the first thing both entry points (the CLI
//! and the desktop shell) do, so it also sets the process's umask to 077, which makes every
//! file and folder the app creates from then on (the data folder, each day's log, SQLite's
//! files, downloads) private to the user. It then repairs the log folder (0700) and the
//! logs already there (0600) from installs before that rule, with a warning.

use std::path::{Path, PathBuf};

pub use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How many daily log files to keep.
const KEEP_FILES: usize = 7;

/// Sets the umask (see the module docs), makes the log folder private and installs the
/// subscriber. The guard flushes the file writer when dropped; keep it alive for
/// the life of the program. Returns `None` if the log folder cannot be used (then only stderr).
pub fn init(log_dir: &Path, level: Option<&str>) -> Option<WorkerGuard> {
    private_from_now_on();
    let filter = |default: &str| match level {
        Some(l) => EnvFilter::try_new(l).unwrap_or_else(|_| EnvFilter::new(default)),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_filter(filter("warn"));

    let repaired = std::fs::create_dir_all(log_dir).ok().map(|()| make_private(log_dir));
    let file = repaired.as_ref().and_then(|_| {
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
    // Said only now, so that it reaches the log too.
    for (path, was) in repaired.unwrap_or_default() {
        tracing::warn!(path = %path.display(), was = %format!("{was:o}"), "other users could read this; it is now private to you");
    }
    guard
}

/// Sets the umask so that what the process creates is readable by its user only.
#[cfg(unix)]
fn private_from_now_on() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

#[cfg(not(unix))]
fn private_from_now_on() {}

/// Makes the log folder 0700 and the files in it 0600; returns what was wider, with its old
/// mode. A mode that cannot be changed is left (the folder's own mode still guards them).
#[cfg(unix)]
pub(crate) fn make_private(log_dir: &Path) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut repaired = Vec::new();
    let mut restrict = |path: PathBuf, mode: u32| {
        let Ok(meta) = std::fs::metadata(&path) else { return };
        let was = meta.permissions().mode() & 0o777;
        if was & 0o077 != 0 && std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).is_ok() {
            repaired.push((path, was));
        }
    };
    restrict(log_dir.to_owned(), 0o700);
    for entry in std::fs::read_dir(log_dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            restrict(entry.path(), 0o600);
        }
    }
    repaired
}

#[cfg(not(unix))]
pub(crate) fn make_private(_log_dir: &Path) -> Vec<(PathBuf, u32)> {
    Vec::new()
}
