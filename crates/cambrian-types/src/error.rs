//! Error classification shared across crates.
//!
//! Library crates define their own `thiserror` enums; each enum can say
//! which [`ErrorKind`] a value belongs to, and the CLI maps kinds to the
//! documented exit codes (see `docs/exit-codes.md`).

use serde::{Deserialize, Serialize};

/// What kind of failure an error is, from the user's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The command line or a config value is wrong (exit 2).
    Usage,
    /// An input file or response is malformed (exit 2).
    BadInput,
    /// Nothing to do: the thing asked for does not exist or is empty (exit 3).
    NotFound,
    /// A remote service (Hub, inference server) failed or is unreachable (exit 4).
    Remote,
    /// The local store could not be read or written (exit 5).
    Store,
    /// A bug in cambrian (exit 101).
    Internal,
}

impl ErrorKind {
    /// The documented process exit code for this kind of error.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage | ErrorKind::BadInput => 2,
            ErrorKind::NotFound => 3,
            ErrorKind::Remote => 4,
            ErrorKind::Store => 5,
            ErrorKind::Internal => 101,
        }
    }
}
