//! Vocabulary shared by every cambrian crate.
//!
//! Plain data only: no I/O, no async, no terminal. Everything here is
//! serialisable so that it can cross the facade (`cambrian-app`) and be
//! emitted as JSON Lines by the CLI.

pub mod error;
pub mod html;
pub mod model;

pub use error::ErrorKind;
pub use model::{GgufInfo, HUB_UNKNOWN_CREATED_AT, ModelRecord, SafetensorsInfo};
