//! The append-only run journal.
//!
//! JSON Lines, one record per line, each with a `type`:
//! - `{"type":"header","version":1,"params":{...}}` — first line; a resumed run
//!   must use the same generation parameters;
//! - `{"type":"target","label":...,"model":...,"base_url":...,"api":...}` — once per
//!   target label; a label must keep its model, URL and API across resumes;
//! - `{"type":"run", ...ItemRun}` — one per finished (target, item).
//!
//! Records are written by a dedicated thread and fsync'd in batches (every
//! [`SYNC_EVERY`] records or [`SYNC_INTERVAL`]), so after `kill -9` at most the
//! unsynced tail is missing — those items are simply sent again on resume,
//! never duplicated. A torn last line (no newline, or not JSON) is dropped
//! and truncated away before appending; a broken line elsewhere is an error.
//! When a later `run` record has the same (model label, item id) as an earlier
//! one, the later one wins (failed transport/timeouts are retried on resume).

use crate::item::{GenParams, ItemRun};
use cambrian_llm::Api;
use serde::{Deserialize, Serialize};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const JOURNAL_VERSION: u32 = 1;
pub const SYNC_EVERY: usize = 256;
pub const SYNC_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum JournalLine {
    Header {
        version: u32,
        params: GenParams,
    },
    Target {
        label: String,
        model: String,
        base_url: String,
        api: Api,
    },
    Run(ItemRun),
}

/// What a journal held when the run started.
#[derive(Debug, Default)]
pub struct JournalState {
    pub params: Option<GenParams>,
    pub targets: Vec<(String, String, String, Api)>,
    /// Runs in file order (later ones supersede earlier ones).
    pub runs: Vec<ItemRun>,
    /// Whether a torn last line was dropped.
    pub torn_tail: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot {action} journal {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("journal {path}, line {line}: {message}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Read an existing journal (or nothing if the file does not exist) and
/// truncate a torn last line so appends start on a fresh line.
pub fn load(path: &Path) -> Result<JournalState, JournalError> {
    let io = |action, source| JournalError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(JournalState::default()),
        Err(e) => return Err(io("read", e)),
    };
    let mut state = JournalState::default();
    let mut good_end = 0usize;
    let mut start = 0usize;
    let mut line_no = 0usize;
    while start < bytes.len() {
        line_no += 1;
        let (end, complete) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(p) => (start + p, true),
            None => (bytes.len(), false),
        };
        let raw = &bytes[start..end];
        let next = if complete { end + 1 } else { end };
        if raw.iter().all(u8::is_ascii_whitespace) {
            if complete {
                good_end = next;
            }
            start = next;
            continue;
        }
        if !complete {
            // The last line lost its newline: torn by a crash (even if it
            // parses, it is dropped and its item is sent again).
            state.torn_tail = true;
            break;
        }
        match serde_json::from_slice::<JournalLine>(raw) {
            Ok(JournalLine::Header { version, params }) => {
                if version != JOURNAL_VERSION {
                    return Err(JournalError::Corrupt {
                        path: path.to_path_buf(),
                        line: line_no,
                        message: format!(
                            "journal format version {version}, this cambrian writes {JOURNAL_VERSION}"
                        ),
                    });
                }
                state.params = Some(params);
            }
            Ok(JournalLine::Target {
                label,
                model,
                base_url,
                api,
            }) => state.targets.push((label, model, base_url, api)),
            Ok(JournalLine::Run(r)) => state.runs.push(r),
            Err(_) if next >= bytes.len() => {
                state.torn_tail = true;
                break;
            }
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: line_no,
                    message: format!("not a journal record ({e})"),
                });
            }
        }
        good_end = next;
        start = next;
    }
    if good_end < bytes.len() {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| io("open", e))?;
        f.set_len(good_end as u64).map_err(|e| io("truncate", e))?;
        f.sync_all().map_err(|e| io("sync", e))?;
    }
    Ok(state)
}

/// Messages to the writer thread.
pub enum Msg {
    Line(JournalLine),
    /// Write this cache entry (done on the writer thread to keep file I/O off the async task).
    Cache(
        crate::runner::cache::ResponseCache,
        String,
        Box<crate::runner::cache::CacheEntry>,
    ),
}

/// A background writer appending to the journal.
pub struct Writer {
    tx: Option<mpsc::Sender<Msg>>,
    handle: Option<std::thread::JoinHandle<Result<(), JournalError>>>,
}

impl Writer {
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| JournalError::Io {
                action: "create the directory of",
                path: path.to_path_buf(),
                source,
            })?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| JournalError::Io {
                action: "open",
                path: path.to_path_buf(),
                source,
            })?;
        let (tx, rx) = mpsc::channel::<Msg>();
        let path = path.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("cambrian-journal".into())
            .spawn(move || write_loop(file, rx, path))
            .map_err(|source| JournalError::Io {
                action: "start the writer of",
                path: PathBuf::new(),
                source,
            })?;
        Ok(Writer {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    pub fn send(&self, msg: Msg) {
        if let Some(tx) = &self.tx {
            // A send error means the writer already failed; `finish` reports it.
            let _ = tx.send(msg);
        }
    }

    /// Flush, fsync and report the first write error.
    pub fn finish(mut self) -> Result<(), JournalError> {
        self.tx.take();
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(JournalError::Io {
                action: "write",
                path: PathBuf::new(),
                source: std::io::Error::other("journal writer thread panicked"),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Dropped without `finish` (e.g. the run future was cancelled): still
        // flush what was received.
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn write_loop(
    file: std::fs::File,
    rx: mpsc::Receiver<Msg>,
    path: PathBuf,
) -> Result<(), JournalError> {
    let io = |action, source| JournalError::Io {
        action,
        path: path.clone(),
        source,
    };
    let mut w = BufWriter::with_capacity(256 * 1024, file);
    let mut unsynced = 0usize;
    let mut last_sync = Instant::now();
    let mut first_error: Option<JournalError> = None;
    loop {
        let msg = match rx.recv_timeout(SYNC_INTERVAL) {
            Ok(m) => Some(m),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            Some(Msg::Line(line)) if first_error.is_none() => {
                let r = serde_json::to_writer(&mut w, &line)
                    .map_err(std::io::Error::other)
                    .and_then(|()| w.write_all(b"\n"));
                if let Err(e) = r {
                    first_error = Some(io("append to", e));
                }
                unsynced += 1;
            }
            Some(Msg::Cache(cache, key, entry)) => {
                // Best effort: a cache write failure only costs a future re-request.
                let _ = cache.put(&key, &entry);
            }
            _ => {}
        }
        if unsynced > 0
            && (unsynced >= SYNC_EVERY || last_sync.elapsed() >= SYNC_INTERVAL)
            && first_error.is_none()
        {
            if let Err(e) = w.flush().and_then(|()| w.get_ref().sync_data()) {
                first_error = Some(io("sync", e));
            }
            unsynced = 0;
            last_sync = Instant::now();
        }
    }
    if first_error.is_none()
        && let Err(e) = w.flush().and_then(|()| w.get_ref().sync_data())
    {
        first_error = Some(io("sync", e));
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
