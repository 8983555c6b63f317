//! The facade of cambrian: one function per use case, taking and returning
//! plain data. The CLI (and any future web front end) calls only this crate;
//! it never prints, reads environment variables or touches the terminal.
//! Settings arrive as plain structs filled in by the caller.

pub mod error;
pub use error::{Error, Result};

/// Evaluation of candidate models on the user's test set.
pub mod eval;
/// Hardware fit estimates.
pub mod fit;
/// Static risk scan of model files, repos and cards.
pub mod scan;
/// License verdicts and the `find` funnel.
pub mod shortlist;
/// Track: `sync`, `import`, `snapshots`, `show`.
pub mod tracking;
/// Trend reports over stored snapshots.
pub mod trends;
