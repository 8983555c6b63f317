//! Output helpers: JSON Lines on stdout, broken-pipe detection.
//!
//! Data goes to stdout, progress and logs to stderr. `--json` output is a
//! contract: one typed record per line, each with a `"type"` field.

use serde::Serialize;
use std::io::{self, Write};

/// Write one JSON Lines record to stdout.
pub fn json_line<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Print a line of text to stdout, surfacing a broken pipe as an error so
/// that the caller stops (and exits 0, see `cli::report`).
pub fn line(s: impl AsRef<str>) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(s.as_ref().as_bytes())?;
    out.write_all(b"\n")?;
    Ok(())
}

pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}
