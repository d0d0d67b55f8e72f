//! The store's error type: the cases callers branch on, each with what a person needs to act.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hearth_types::ValidationError;
use rusqlite::ErrorCode;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The row named by `field` does not exist (or is deleted).
    #[error("{field}: no {entity} with id {id}")]
    NotFound { field: &'static str, entity: &'static str, id: String },

    /// The change collides with existing data, such as a handle already in use.
    #[error("{field}: {message}")]
    Conflict { field: &'static str, message: String },

    /// An input value is not acceptable.
    #[error(transparent)]
    Invalid(#[from] ValidationError),

    /// The file is not a SQLite database, is not Hearth's, or is damaged.
    #[error("{path} is not a usable Hearth database: {detail}")]
    Corrupt { path: PathBuf, detail: String },

    /// The file was written by a newer Hearth. It was not opened or changed.
    #[error(
        "{path} has schema version {found}, but this build of Hearth knows versions up to {supported}; \
         it was written by a newer Hearth and was not opened (upgrade Hearth to use it)"
    )]
    NewerSchema { path: PathBuf, found: u32, supported: u32 },

    /// Another program held the database lock for longer than the busy timeout.
    #[error("{path} is locked by another program; gave up after waiting {waited:?}")]
    Busy { path: PathBuf, waited: Duration },

    /// A file operation around the database failed (creating its folder, writing a backup).
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// A shipped migration failed; the transaction rolled back and the file is as it was.
    #[error("migration {file} failed: {source}")]
    Migration { file: &'static str, source: rusqlite::Error },

    /// Any other SQLite failure: a bug or an environment problem, not bad input.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl Error {
    /// Gives SQLite's busy, locked and corruption failures the file's name.
    pub(crate) fn locate(self, path: &Path, busy_timeout: Duration) -> Error {
        let Error::Sqlite(e) = &self else { return self };
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Busy { path: path.to_owned(), waited: busy_timeout },
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Error::Corrupt { path: path.to_owned(), detail: e.to_string() },
            _ => self,
        }
    }

    pub(crate) fn not_found(field: &'static str, entity: &'static str, id: impl ToString) -> Self {
        Error::NotFound { field, entity, id: id.to_string() }
    }
}
