//! The store's error type and its classification for the CLI's exit codes.

use cambrian_types::ErrorKind;
use std::path::PathBuf;

/// Everything that can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory or database file could not be created or opened.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed while doing `context`.
    #[error("store failure while {context}: {source}")]
    Sqlite {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer cambrian.
    #[error(
        "the store's schema version is {found}, newer than this cambrian supports ({supported})"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    /// A value cannot be stored (e.g. a count larger than 2^63-1) or a stored value is corrupt.
    #[error("{0}")]
    BadInput(String),
    /// A snapshot, model or cache entry that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An operation that does not fit the snapshot's state (e.g. appending to a complete snapshot).
    #[error("{0}")]
    State(String),
}

impl StoreError {
    /// Which user-facing kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::BadInput(_) => ErrorKind::BadInput,
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::Open { .. }
            | StoreError::Sqlite { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::State(_) => ErrorKind::Store,
        }
    }

    /// A hint for the user, when there is a useful one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            StoreError::SchemaTooNew { .. } => {
                Some("upgrade cambrian, or point --store at another directory")
            }
            StoreError::Open { .. } => Some(
                "check that the directory is writable, or choose another with --store / CAMBRIAN_STORE",
            ),
            StoreError::Sqlite { .. } => Some(
                "another cambrian process may hold the store; if the disk is full, free space and retry",
            ),
            _ => None,
        }
    }
}

/// Attach a context to a rusqlite result.
pub(crate) trait Ctx<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { context, source })
    }
}
