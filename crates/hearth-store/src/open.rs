//! Opening a database: check the file, refuse what is not ours, back up, migrate, set pragmas.
//!
//! The order matters for "the file is left untouched": everything up to the version check only
//! reads, so a foreign, damaged or newer file is refused before SQLite writes a byte to it (no
//! WAL switch, no migration, no backup of something we will not use).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, MigrationDefinitionError, Migrations};

use crate::{Error, OpenOptions, Result, Store};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The migration files to apply, in order: `(file name, SQL)`.
pub(crate) type Files<'a> = &'a [(&'static str, &'static str)];

pub(crate) fn open_file(path: &Path, options: &OpenOptions, files: Files<'_>) -> Result<Store> {
    check_header(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })?;
    }
    let located = |e: Error| e.locate(path, options.busy_timeout);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| located(e.into()))?;
    conn.busy_timeout(options.busy_timeout)?;
    tune(&conn);

    let version = probe(&conn, path, files).map_err(located)?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .map_err(|e| located(e.into()))?;
    // NORMAL in WAL mode: a power cut can lose the last commits but never corrupts the file,
    // and commits stop waiting for fsync.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;

    if version > 0 && version < files.len() as u32 {
        let dir = options.backup_dir.clone().unwrap_or_else(|| path.with_file_name("backups"));
        backup(&conn, path, &dir, version)?;
    }
    migrate(&mut conn, files, path).map_err(located)?;
    Ok(Store { conn: conn.into(), path: path.to_owned(), busy_timeout: options.busy_timeout })
}

pub(crate) fn open_memory(files: Files<'_>) -> Result<Store> {
    let mut conn = Connection::open_in_memory()?;
    tune(&conn);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let path = PathBuf::from(":memory:");
    migrate(&mut conn, files, &path)?;
    Ok(Store { conn: conn.into(), path, busy_timeout: Duration::ZERO })
}

/// The repositories use a few dozen distinct statements; rusqlite caches 16 by default, which
/// would make the hot paths re-prepare statements the cache just evicted.
fn tune(conn: &Connection) {
    conn.set_prepared_statement_cache_capacity(128);
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
    Err(Error::Corrupt { path: path.to_owned(), detail: "it is not a SQLite database".into() })
}

/// Reads the schema version and parses the schema, both read-only, and refuses files that are
/// newer than this build or that belong to another program.
fn probe(conn: &Connection, path: &Path, files: Files<'_>) -> Result<u32> {
    let version: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    // Counting sqlite_schema makes SQLite read and parse the schema page, which is where a
    // damaged file usually shows first.
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
    let supported = files.len() as u32;
    if version > supported {
        return Err(Error::NewerSchema { path: path.to_owned(), found: version, supported });
    }
    if version == 0 && objects > 0 {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            detail: "it is a SQLite database of another program (it has tables but no Hearth schema version)".into(),
        });
    }
    Ok(version)
}

/// Copies the live database with SQLite's online backup API (consistent even while another
/// process writes) to `dir/<name>-v<version>-<UTC time>.db`.
fn backup(conn: &Connection, path: &Path, dir: &Path, version: u32) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("hearth");
    let when = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ");
    let target = dir.join(format!("{stem}-v{version}-{when}.db"));
    conn.backup(rusqlite::MAIN_DB, &target, None)?;
    tracing::info!(from = %path.display(), to = %target.display(), version, "backed up the database before migrating");
    Ok(target)
}

fn migrate(conn: &mut Connection, files: Files<'_>, path: &Path) -> Result<()> {
    let migrations = Migrations::new(files.iter().map(|(_, sql)| M::up(sql)).collect());
    migrations.to_latest(conn).map_err(|e| match e {
        rusqlite_migration::Error::RusqliteError { err, .. } => Error::Sqlite(err),
        rusqlite_migration::Error::MigrationDefinition(MigrationDefinitionError::DatabaseTooFarAhead) => {
            Error::NewerSchema { path: path.to_owned(), found: 0, supported: files.len() as u32 }
        }
        other => Error::Corrupt { path: path.to_owned(), detail: format!("migration failed: {other}") },
    })
}
