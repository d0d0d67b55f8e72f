//! Opening a database: check the file, refuse what is not ours, back up, migrate, set pragmas.
//!
//! "Refused files are left untouched" drives the order. Everything up to the version check
//! only reads, and until the file is known to be a Hearth database the connection is told not
//! to checkpoint on close (which would fold a leftover `-wal` into the file). So a foreign,
//! damaged or newer file is refused before SQLite writes to it.
//!
//! Migrations run under `BEGIN IMMEDIATE` with the version read inside that lock, so two
//! processes opening the same old or fresh file at once cannot both migrate it (the second
//! finds the work done), and the backup is taken under the same lock.
//!
//! Every chat is in these files, so on Unix only their owner may read them: once the file is
//! known to be ours, its folder is made 0700 and the database, its `-wal` and `-shm` and
//! every backup 0600. Installs made before this rule are repaired at open, with a warning
//! (others may already have read them). A folder or file whose mode cannot be changed (a
//! file system without Unix permissions) is warned about, not refused.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::{Error, OpenOptions, Result, Store};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// `PRAGMA application_id` of a Hearth database: "HRTH". Set by `0001_init.sql`.
const APPLICATION_ID: i64 = 0x4852_5448;

/// The migration files to apply, in order: `(file name, SQL)`.
pub(crate) type Files<'a> = &'a [(&'static str, &'static str)];

pub(crate) fn open_file(path: &Path, options: &OpenOptions, files: Files<'_>) -> Result<Store> {
    check_header(path)?;
    let existed = path.exists();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir_existed = dir.is_none_or(Path::exists);
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })?;
    }
    let located = |e: Error| e.locate(path, options.busy_timeout);
    let sidecars = Sidecars::before_open(path);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| located(e.into()))?;
    conn.busy_timeout(options.busy_timeout)?;
    tune(&conn);

    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    if let Err(e) = probe(&conn, path, files) {
        drop(conn);
        sidecars.remove_new_empty_ones();
        return Err(untouched(located(e)));
    }
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
    let backup_dir = options.backup_dir.clone().unwrap_or_else(|| path.with_file_name("backups"));
    // Before anything is written: SQLite gives a new `-wal` and `-shm` the database's mode.
    private::repair(dir, dir_existed, path, existed, &backup_dir);

    enable_wal(&conn, options.busy_timeout).map_err(|e| located(e.into()))?;
    // NORMAL in WAL mode: a power cut can lose the last commits but never corrupts the file,
    // and commits stop waiting for fsync.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;

    migrate(&mut conn, path, Some(&backup_dir), files).map_err(located)?;
    Ok(Store { conn: conn.into(), path: path.to_owned(), busy_timeout: options.busy_timeout })
}

pub(crate) fn open_memory(files: Files<'_>) -> Result<Store> {
    let mut conn = Connection::open_in_memory()?;
    tune(&conn);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let path = PathBuf::from(":memory:");
    migrate(&mut conn, &path, None, files)?;
    Ok(Store { conn: conn.into(), path, busy_timeout: Duration::ZERO })
}

/// The repositories use a few dozen distinct statements; rusqlite caches 16 by default, which
/// would make the hot paths re-prepare statements the cache just evicted.
fn tune(conn: &Connection) {
    conn.set_prepared_statement_cache_capacity(128);
}

/// SQLite's side files (`-wal`, `-shm`) and whether they existed before we opened the file.
/// Reading a WAL-mode file creates them; when we refuse the file, the ones we created (with an
/// empty WAL, so holding nothing) are removed again so a refusal leaves no trace.
struct Sidecars {
    wal: PathBuf,
    shm: PathBuf,
    wal_existed: bool,
    shm_existed: bool,
}

impl Sidecars {
    fn before_open(path: &Path) -> Self {
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let shm = PathBuf::from(format!("{}-shm", path.display()));
        Self { wal_existed: wal.exists(), shm_existed: shm.exists(), wal, shm }
    }

    fn remove_new_empty_ones(&self) {
        let wal_empty = std::fs::metadata(&self.wal).is_ok_and(|m| m.len() == 0);
        if !self.wal_existed && wal_empty && std::fs::remove_file(&self.wal).is_ok() && !self.shm_existed {
            let _ = std::fs::remove_file(&self.shm);
        }
    }
}

/// Switches the file to WAL. That takes an exclusive lock, and SQLite reports BUSY for it at
/// once instead of calling the busy handler, which happens when several processes open a new
/// file together. It happens once in a file's life (the mode is stored in the file), so
/// retrying within the busy timeout is enough.
fn enable_wal(conn: &Connection, timeout: Duration) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) && started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Says in a refusal at open that the file was not changed (true only there).
fn untouched(e: Error) -> Error {
    match e {
        Error::Corrupt { path, detail } => Error::Corrupt { path, detail: format!("{detail}; the file was left untouched") },
        other => other,
    }
}

/// Refuses a non-empty file that does not start with SQLite's magic header, without letting
/// SQLite open it at all.
fn check_header(path: &Path) -> Result<()> {
    let io = |source| Error::Io { path: path.to_owned(), source };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let mut head = Vec::with_capacity(16);
    file.by_ref().take(16).read_to_end(&mut head).map_err(io)?;
    if head.is_empty() || head.as_slice() == SQLITE_MAGIC {
        return Ok(());
    }
    Err(untouched(Error::Corrupt { path: path.to_owned(), detail: "it is not a SQLite database".into() }))
}

/// Reads the header fields and parses the schema, all read-only, and refuses files that belong
/// to another program or to a newer Hearth.
fn probe(conn: &Connection, path: &Path, files: Files<'_>) -> Result<()> {
    // One read transaction: another process may be migrating this file right now, and the
    // three values must come from the same snapshot.
    let snapshot = conn.unchecked_transaction()?;
    let application_id: i64 = snapshot.pragma_query_value(None, "application_id", |row| row.get(0))?;
    let version: u32 = snapshot.pragma_query_value(None, "user_version", |row| row.get(0))?;
    // Counting sqlite_schema makes SQLite read and parse the schema page, which is where a
    // damaged file usually shows first.
    let objects: i64 = snapshot.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
    snapshot.finish()?;
    let fresh = objects == 0 && version == 0 && application_id == 0;
    if !fresh && application_id != APPLICATION_ID {
        return Err(Error::Corrupt { path: path.to_owned(), detail: "it is a SQLite database of another program".into() });
    }
    if version as usize > files.len() {
        return Err(Error::NewerSchema { path: path.to_owned(), found: version, supported: files.len() as u32 });
    }
    Ok(())
}

/// Applies the pending migrations in one IMMEDIATE transaction, after backing up an existing
/// database into `backup_dir` (when given).
fn migrate(conn: &mut Connection, path: &Path, backup_dir: Option<&Path>, files: Files<'_>) -> Result<()> {
    // The common case, an up-to-date file, must not wait for another program's write lock:
    // look without locking first, and take the lock (then look again) only to migrate.
    let current: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current as usize == files.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: u32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let target = files.len() as u32;
    if version > target {
        return Err(Error::NewerSchema { path: path.to_owned(), found: version, supported: target });
    }
    if version == target {
        return Ok(());
    }
    if let (Some(dir), true) = (backup_dir, version > 0) {
        backup(path, dir, version)?;
    }
    for (name, sql) in &files[version as usize..] {
        tx.execute_batch(sql).map_err(|source| Error::Migration { file: name, source })?;
    }
    tx.pragma_update(None, "user_version", target)?;
    tx.commit()?;
    tracing::info!(db = %path.display(), from = version, to = target, "migrated the database");
    Ok(())
}

/// Copies the database with SQLite's online backup API to `dir/<name>-v<version>-<UTC time>.db`.
///
/// SQLite will not back up from a connection that is writing, and the caller holds the write
/// lock; in WAL mode a second, read-only connection still reads the last committed state,
/// which is the database as it was before this migration.
fn backup(path: &Path, dir: &Path, version: u32) -> Result<PathBuf> {
    let existed = dir.exists();
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })?;
    private::restrict(dir, private::DIR, existed);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("hearth");
    let when = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ");
    let target = dir.join(format!("{stem}-v{version}-{when}.db"));
    // Made empty and private first (an empty file is an empty database to SQLite), so the
    // copy is never readable by others, not even while it is written.
    private::create(&target).map_err(|source| Error::Io { path: target.clone(), source })?;
    conn.backup(rusqlite::MAIN_DB, &target, None)?;
    tracing::info!(from = %path.display(), to = %target.display(), version, "backed up the database before migrating");
    Ok(target)
}

/// File modes: the database's folder and backups folder 0700, its files 0600 (Unix only;
/// elsewhere these do nothing).
mod private {
    use std::path::Path;

    pub(super) const DIR: u32 = 0o700;
    pub(super) const FILE: u32 = 0o600;

    /// Makes the folder, the database, its side files and its backups private. `warn`-worthy
    /// are only things that were there before this open: a new file widened by the umask for
    /// the moment between its creation and here holds nothing yet.
    pub(super) fn repair(dir: Option<&Path>, dir_existed: bool, db: &Path, db_existed: bool, backups: &Path) {
        if let Some(dir) = dir {
            restrict(dir, DIR, dir_existed);
        }
        restrict(db, FILE, db_existed);
        for suffix in ["-wal", "-shm"] {
            restrict(Path::new(&format!("{}{suffix}", db.display())), FILE, true);
        }
        if let Ok(entries) = std::fs::read_dir(backups) {
            restrict(backups, DIR, true);
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    restrict(&entry.path(), FILE, true);
                }
            }
        }
    }

    /// Sets `mode` on `path` when its group or others have any access to it; `warn` says so
    /// (they may have read it already). A missing path is left alone.
    #[cfg(unix)]
    pub(super) fn restrict(path: &Path, mode: u32, warn: bool) {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else { return };
        let was = meta.permissions().mode() & 0o777;
        if was & 0o077 == 0 {
            return;
        }
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
            Ok(()) if warn => tracing::warn!(
                path = %path.display(), was = %format!("{was:o}"), now = %format!("{mode:o}"),
                "other users could read this; it is now private to you"
            ),
            Ok(()) => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not make this private to you"),
        }
    }

    #[cfg(not(unix))]
    pub(super) fn restrict(_path: &Path, _mode: u32, _warn: bool) {}

    /// Creates an empty file only its owner can read, failing if it exists.
    pub(super) fn create(path: &Path) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE);
        options.open(path).map(drop)
    }
}
