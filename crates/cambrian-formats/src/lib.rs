//! Bounded-memory parsers for model file headers: safetensors and GGUF.
//!
//! Pure functions over byte slices (and a thin `Read` helper): no file system,
//! no network. Every count and length read from the input is checked against
//! the bytes that can still follow before anything is allocated, so a hostile
//! header (2^60 tensors, a 1 TB string, a 100 GB JSON header) is a clear error
//! in O(1) memory, never a panic or an allocation of that size.
//!
//! Both parsers work on a *prefix* of a file: when the prefix is too short
//! they return [`Parse::NeedMore`] with the number of bytes from the start of
//! the file that are needed at least, so a remote reader can fetch the header
//! with one HTTP Range request and ask for more only when the header is longer.
//!
//! Structural problems that do not stop parsing (holes between tensors,
//! overlapping data, a size that does not match dtype × shape, …) are returned
//! as a list of [`Issue`]s so that the scanner can turn them into findings;
//! input that cannot be interpreted at all is a hard error.

pub mod gguf;
pub mod safetensors;

use serde::Serialize;

/// Result of parsing a prefix of a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Parse<T> {
    /// The header was parsed completely from the bytes given.
    Complete(T),
    /// The bytes given end inside the header: at least `total` bytes counted
    /// from the start of the file are needed (re-parse with a longer prefix).
    NeedMore { total: u64 },
}

impl<T> Parse<T> {
    pub fn complete(self) -> Option<T> {
        match self {
            Parse::Complete(t) => Some(t),
            Parse::NeedMore { .. } => None,
        }
    }
}

/// How serious a structural issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file would be rejected by the reference loader.
    Error,
    /// Unusual but loadable.
    Warning,
}

/// A structural problem found in a header that did not stop parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Stable machine-readable code, e.g. `offsets-hole`.
    pub code: &'static str,
    pub severity: Severity,
    /// The tensor (or metadata key) concerned, when there is one.
    pub subject: Option<String>,
    /// Human-readable explanation with the numbers involved.
    pub message: String,
}

/// Read a prefix of at most `limit` bytes from a reader (bounded allocation).
pub fn read_prefix<R: std::io::Read>(r: R, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(limit.min(1 << 20) as usize);
    r.take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}
