//! Hearth's local store: the only crate that talks to SQLite.
//!
//! [`Store::open`] checks the file, refuses one from a newer schema, backs it up before
//! migrating, applies the pending migrations in one transaction and sets the pragmas (WAL,
//! foreign keys, a busy timeout). After that every read goes through [`Store::read`] and every
//! change through [`Store::write`], whose [`Writer`] is the only way to mutate a synced table:
//! each mutation stamps the changed fields with the device's hybrid logical clock and appends
//! the change to the `outbox` in the same SQLite transaction, one `tx_seq` per user action.
//! Nothing here speaks to a server: `sync.rs` keeps the cursor, settles pushed transactions
//! and merges pulled rows, and `hearth-sync` drives it.
//!
//! The store keeps one connection behind a mutex: SQLite allows one writer at a time anyway,
//! and a desktop app's reads are short. A reader pool can come when a workload shows the need.

mod chats;
mod error;
mod jobs;
mod knowledge;
mod messages;
mod migrations;
mod models;
mod open;
mod providers;
mod rows;
mod search;
mod settings;
mod sync;
mod workflows;
mod workspaces;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

pub use error::{Error, Result};
pub use jobs::JobEnd;
pub use knowledge::KnowledgeStamp;
pub use messages::Appended;
pub use migrations::SCHEMA_VERSION;
pub use sync::{
    ApplyReport, Connection as SyncConnection, Cursor, LocalData, Pending, PendingTx, PulledRow, Quarantined, Rejection, SyncState,
    TxOutcome, synced_columns, synced_tables,
};
pub use workflows::{INTERRUPTED, NodeRecord};
pub use writer::{OutboxRow, Writer};

/// The version of the SQLite library compiled into Hearth.
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// How to open a store.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// How long a write waits for another program's lock before giving up with [`Error::Busy`].
    pub busy_timeout: Duration,
    /// Where backups taken before a migration go; `None` puts them in `backups/` beside the file.
    pub backup_dir: Option<PathBuf>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self { busy_timeout: Duration::from_secs(5), backup_dir: None }
    }
}

/// An open Hearth database.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    busy_timeout: Duration,
}

/// Read access: every query the store offers. Also reachable inside a write via [`Writer::read`].
#[derive(Debug, Clone, Copy)]
pub struct Reader<'c> {
    conn: &'c Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &OpenOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Self> {
        let store = open::open_file(path.as_ref(), options, migrations::FILES)?;
        // Documents stored before they synced go out with the next push.
        let queued = store.queue_unsynced_documents()?;
        if queued > 0 {
            tracing::info!(documents = queued, "documents stored before they synced are queued for sync");
        }
        Ok(store)
    }

    /// A private database in memory, for tests and throwaway use.
    pub fn open_in_memory() -> Result<Self> {
        open::open_memory(migrations::FILES)
    }

    /// The database file (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with read access. Errors come back with this store's path attached.
    pub fn read<T>(&self, f: impl FnOnce(Reader<'_>) -> Result<T>) -> Result<T> {
        let conn = self.lock();
        f(Reader { conn: &conn }).map_err(|e| self.locate(e))
    }

    /// Runs `f` as one user action in one transaction: everything it changes, and the outbox
    /// rows for those changes, commit together or not at all. Returning `Err` rolls back.
    pub fn write<T>(&self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let run = || -> Result<T> {
            let mut w = Writer::begin(&mut conn)?;
            let out = f(&mut w)?;
            w.commit()?;
            Ok(out)
        };
        run().map_err(|e| self.locate(e))
    }

    /// The schema version the file is at.
    pub fn schema_version(&self) -> Result<u32> {
        self.read(|r| Ok(r.conn.pragma_query_value(None, "user_version", |row| row.get::<_, u32>(0))?))
    }

    /// SQLite's full integrity check: an empty list means the file is sound.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        self.read(|r| {
            let mut stmt = r.conn.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows.into_iter().filter(|l| l != "ok").collect())
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls back
        // on drop), so the connection is still usable: take it back from the poison.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Turns SQLite's busy and corruption codes into errors that name the file.
    fn locate(&self, e: Error) -> Error {
        e.locate(&self.path, self.busy_timeout)
    }
}

#[cfg(test)]
mod tests;
