//! Tracking use cases: `sync` (capture the Hub listing into a snapshot, resumably),
//! `import` (archived snapshot files and the bundled offline dataset), `snapshots`
//! (list) and `show` (a model's latest record and history).
//!
//! Nothing here prints or reads the environment: the CLI passes the endpoint and the
//! token in [`SyncRequest`] and renders the plain-data reports. Design, formats and the
//! tolerance rules are in `docs/tracking.md`.

pub mod archive;
pub mod bundle;
mod sync;

pub use archive::{ArchiveFormat, ParsedSnapshot};
pub use sync::{
    DEFAULT_EXPAND, DEFAULT_PAGE_SIZE, SyncProgress, SyncReport, SyncRequest, default_query, sync,
};

pub use cambrian_hub::{HubConfig, ListQuery};

use crate::{Error, Result};
use cambrian_store::{ImportOutcome, NewSnapshot, Store, StoreError};
use cambrian_types::ModelRecord;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Largest archive file `import` reads (a bound on memory driven by input).
pub const MAX_ARCHIVE_FILE_BYTES: u64 = 512 * 1024 * 1024;

pub(crate) fn store_err(e: StoreError) -> Error {
    let hint = e.hint();
    let mut err = Error::new(e.kind(), e.to_string());
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err.with_source(e)
}

/// Hub client settings for a sync: the library defaults with the caller's endpoint,
/// token (never printed), retry count, first-byte timeout and backoff base.
pub fn hub_config(
    endpoint: String,
    token: Option<String>,
    max_retries: u32,
    first_byte_timeout: std::time::Duration,
    backoff_base: std::time::Duration,
) -> HubConfig {
    HubConfig {
        endpoint,
        token,
        max_retries,
        first_byte_timeout,
        backoff_base,
        ..HubConfig::default()
    }
}

/// Open (creating if needed) the store in `dir`.
pub fn open_store(dir: &Path) -> Result<Store> {
    Store::open(dir).map_err(store_err)
}

/// A stored snapshot, as shown to users.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSummary {
    pub id: i64,
    pub taken_at: DateTime<Utc>,
    pub source: String,
    pub query: String,
    pub models: u64,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<&cambrian_store::SnapshotInfo> for SnapshotSummary {
    fn from(s: &cambrian_store::SnapshotInfo) -> Self {
        SnapshotSummary {
            id: s.id.0,
            taken_at: s.taken_at,
            source: s.source.clone(),
            query: s.query.clone(),
            models: s.models,
            completed_at: s.completed_at,
        }
    }
}

// ---------------------------------------------------------------------------------------
// import

/// What happened to one snapshot found in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportStatus {
    /// Stored as a new complete snapshot.
    Imported,
    /// The same source, query, day and content is already stored: skipped.
    Duplicate,
}

/// One snapshot of an import.
#[derive(Debug, Clone, Serialize)]
pub struct ImportItem {
    /// File (and `:LINE` for JSON Lines) it came from.
    pub origin: String,
    pub format: ArchiveFormat,
    pub day: NaiveDate,
    pub taken_at: DateTime<Utc>,
    /// How `taken_at` was determined.
    pub taken_at_from: &'static str,
    pub source: String,
    pub models: u64,
    pub status: ImportStatus,
    /// The stored snapshot: the new one, or the existing duplicate.
    pub snapshot: i64,
    /// Per-field/per-item problems tolerated while parsing (count, and the first few).
    pub warning_count: u64,
    pub warnings: Vec<String>,
}

/// The result of an import.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub items: Vec<ImportItem>,
    /// Files looked at and not imported (not `.json`/`.jsonl`, or `INDEX.json` metadata).
    pub skipped_files: Vec<String>,
}

impl ImportReport {
    pub fn imported(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.status == ImportStatus::Imported)
            .count()
    }
    pub fn duplicates(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.status == ImportStatus::Duplicate)
            .count()
    }
}

/// An input file already read into memory.
struct InputFile {
    /// Path as shown to the user.
    name: String,
    /// Directory key for `INDEX.json` lookup.
    dir: String,
    bytes: Vec<u8>,
}

fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| {
        Error::bad_input(format!("cannot read {}: {e}", path.display()))
            .with_hint("check the path; `cambrian import --bundled` loads the offline dataset")
    })?;
    let mut buf = Vec::new();
    f.take(MAX_ARCHIVE_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::bad_input(format!("cannot read {}: {e}", path.display())))?;
    if buf.len() as u64 > MAX_ARCHIVE_FILE_BYTES {
        return Err(Error::bad_input(format!(
            "{} is larger than {MAX_ARCHIVE_FILE_BYTES} bytes; not a snapshot archive",
            path.display()
        )));
    }
    Ok(buf)
}

/// Collect the files under `path` (a file, or a directory walked recursively, in name order;
/// hidden entries skipped; only `.json` / `.jsonl` files inside directories).
fn collect(
    path: &Path,
    out: &mut Vec<InputFile>,
    skipped: &mut Vec<String>,
    depth: u32,
) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::not_found(format!("cannot read {}: {e}", path.display()))
            .with_hint("pass archive files or directories; `cambrian import --bundled` loads the offline dataset")
    })?;
    if meta.is_file() {
        out.push(InputFile {
            name: path.display().to_string(),
            dir: path
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            bytes: read_bounded(path)?,
        });
        return Ok(());
    }
    if depth > 8 {
        skipped.push(format!("{} (deeper than 8 levels)", path.display()));
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::bad_input(format!("cannot list {}: {e}", path.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        // A directory is walked; a file is taken by `collect` itself.
        if p.is_dir() || name.ends_with(".json") || name.ends_with(".jsonl") {
            collect(&p, out, skipped, depth + 1)?;
        } else {
            skipped.push(p.display().to_string());
        }
    }
    Ok(())
}

/// Parse every file (INDEX.json first within its directory). Fails on the first bad file,
/// before anything is written.
fn parse_all(files: &[InputFile], skipped: &mut Vec<String>) -> Result<Vec<ParsedSnapshot>> {
    use std::collections::HashMap;
    let mut indexes: HashMap<&str, archive::ArchiveIndex> = HashMap::new();
    let is_index = |f: &InputFile| f.name.ends_with("INDEX.json");
    for f in files.iter().filter(|f| is_index(f)) {
        match archive::parse_file(&f.name, &f.bytes, None)? {
            archive::ParsedFile::Index(i) => {
                indexes.insert(&f.dir, i);
                skipped.push(format!("{} (metadata)", f.name));
            }
            archive::ParsedFile::Snapshots(_) => {
                return Err(Error::bad_input(format!(
                    "{}: expected an index, found snapshot data",
                    f.name
                )));
            }
        }
    }
    let mut snaps = Vec::new();
    for f in files.iter().filter(|f| !is_index(f)) {
        match archive::parse_file(&f.name, &f.bytes, indexes.get(f.dir.as_str()))? {
            archive::ParsedFile::Snapshots(s) => snaps.extend(s),
            archive::ParsedFile::Index(i) => {
                indexes.insert(&f.dir, i);
                skipped.push(format!("{} (metadata)", f.name));
            }
        }
    }
    Ok(snaps)
}

fn store_parsed(
    store: &mut Store,
    snaps: Vec<ParsedSnapshot>,
    report: &mut ImportReport,
) -> Result<()> {
    for s in snaps {
        let new = NewSnapshot {
            taken_at: s.taken_at,
            source: s.source.to_string(),
            query: s.query.to_string(),
        };
        let outcome = store.import_snapshot(&new, &s.models).map_err(store_err)?;
        let (status, info) = match outcome {
            ImportOutcome::Imported(info) => (ImportStatus::Imported, info),
            ImportOutcome::Duplicate { existing } => (ImportStatus::Duplicate, existing),
        };
        tracing::debug!(origin = %s.origin, status = ?status, snapshot = info.id.0, "imported");
        report.items.push(ImportItem {
            origin: s.origin,
            format: s.format,
            day: s.day,
            taken_at: s.taken_at,
            taken_at_from: s.taken_at_from,
            source: s.source.to_string(),
            models: s.models.len() as u64,
            status,
            snapshot: info.id.0,
            warning_count: s.warning_count,
            warnings: s.warnings,
        });
    }
    Ok(())
}

/// Import one archive file or directory into an open store.
pub fn import_path(store: &mut Store, path: &Path) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut files = Vec::new();
    collect(path, &mut files, &mut report.skipped_files, 0)?;
    let snaps = parse_all(&files, &mut report.skipped_files)?;
    store_parsed(store, snaps, &mut report)?;
    Ok(report)
}

/// What `cambrian import` asks for.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub paths: Vec<PathBuf>,
    /// Also import the dataset bundled in the binary.
    pub bundled: bool,
}

/// Import files, directories and/or the bundled dataset into the store in `store_dir`.
/// Every input is read and parsed before the store is touched, so a bad file leaves the
/// store unchanged; each snapshot is then stored in its own transaction.
pub fn import(store_dir: &Path, req: &ImportRequest) -> Result<ImportReport> {
    if req.paths.is_empty() && !req.bundled {
        return Err(
            Error::usage("nothing to import").with_hint("give files or directories, or --bundled")
        );
    }
    let mut report = ImportReport::default();
    let mut files = Vec::new();
    for p in &req.paths {
        collect(p, &mut files, &mut report.skipped_files, 0)?;
    }
    let mut snaps = parse_all(&files, &mut report.skipped_files)?;
    if req.bundled {
        snaps.extend(bundle::parsed()?);
    }
    let mut store = open_store(store_dir)?;
    store_parsed(&mut store, snaps, &mut report)?;
    Ok(report)
}

/// Import the bundled offline dataset into `store` if it has no complete snapshot yet.
/// Returns whether it imported anything. Used by commands that need data on a fresh
/// machine (e.g. `cambrian trends`).
pub fn ensure_seeded(store: &mut Store) -> Result<bool> {
    if !store.snapshots().map_err(store_err)?.is_empty() {
        return Ok(false);
    }
    let mut report = ImportReport::default();
    store_parsed(store, bundle::parsed()?, &mut report)?;
    Ok(report.imported() > 0)
}

/// Seed the store at `dir` with the bundled offline dataset when it holds no
/// snapshot yet (creating the store if needed). Returns whether it imported.
/// Used by `cambrian trends` so that a fresh machine gets a meaningful report
/// without network access.
pub fn seed_if_empty(dir: &Path) -> Result<bool> {
    let mut store = open_store(dir)?;
    ensure_seeded(&mut store)
}

// ---------------------------------------------------------------------------------------
// snapshots / show

/// All complete snapshots, oldest first.
pub fn snapshots(store_dir: &Path) -> Result<Vec<SnapshotSummary>> {
    let store = open_store(store_dir)?;
    Ok(store
        .snapshots()
        .map_err(store_err)?
        .iter()
        .map(SnapshotSummary::from)
        .collect())
}

/// One point of a model's history: the store's own type (its snapshot id
/// serialises as a bare integer).
pub use cambrian_store::HistoryPoint as HistoryRow;

/// A model's latest stored record and its history, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    pub id: String,
    pub latest_snapshot: SnapshotSummary,
    pub record: ModelRecord,
    pub history: Vec<HistoryRow>,
}

/// `cambrian show MODEL`.
pub fn show(store_dir: &Path, model_id: &str) -> Result<ShowReport> {
    let store = open_store(store_dir)?;
    let Some((info, record)) = store.latest_model(model_id).map_err(store_err)? else {
        let n = store.snapshots().map_err(store_err)?.len();
        let hint = if n == 0 {
            "the store is empty: run `cambrian sync`, `cambrian import PATH` or `cambrian import --bundled`".to_string()
        } else {
            format!(
                "model ids are case-sensitive `owner/name`; {n} snapshots are stored (`cambrian snapshots`)"
            )
        };
        return Err(
            Error::not_found(format!("model {model_id:?} is in no stored snapshot"))
                .with_hint(hint),
        );
    };
    let history = store.model_history(model_id).map_err(store_err)?;
    Ok(ShowReport {
        id: model_id.to_string(),
        latest_snapshot: SnapshotSummary::from(&info),
        record,
        history,
    })
}
