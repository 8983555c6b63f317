//! cambrian's embedded store: one SQLite database (`cambrian.sqlite3`, WAL)
//! in a directory chosen by the caller. It owns the versioned schema, the
//! snapshots of the Hub listing and their model rows, the per-snapshot
//! category aggregates that trend queries read, and a small JSON cache.
//! It is the only crate that writes the data directory.
//!
//! Invariants:
//! * A snapshot is visible (listed, used by trends) only once complete;
//!   completion is one transaction that also writes its aggregates.
//! * Every write is one transaction: a `kill -9` at any point leaves either
//!   the previous state or the whole new batch (with its checkpoint).
//! * Nothing is deleted except the rows of a snapshot the caller explicitly
//!   abandons (and an in-progress snapshot's batch blobs, in the transaction
//!   that turns them into the complete snapshot's segments).
//! * Schema v3 stores a snapshot's rows packed (see `packed.rs`): one blob per
//!   appended batch while in progress, 256-row segments sorted by model key
//!   once complete. v6: names, details and each model's latest detail are
//!   stored in blocks of many models (see `blocks.rs`).

mod blocks;
pub mod cache_many;
mod dict;
mod error;
mod packed;
mod query;
mod record;
pub mod schema;

pub use error::StoreError;
pub use query::{CategoryPoint, Dimension, KeyedPair, KeyedStats, ModelKey, PairRow, RowStats};
pub use record::{base_family, family_of};
pub use schema::SCHEMA_VERSION;

use blocks::{BlockWriter, Kind, State};
use cambrian_types::ModelRecord;
use chrono::{DateTime, NaiveDate, Utc};
use dict::{Insert, ModelDict, ModelEntry};
use error::Ctx;
use packed::{FastMap, KeySet, Row, RowReader, decode_into, encode_rows};
use record::{Counters, decode_record, detail_fingerprint, encode_detail};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The database file name inside the store directory.
pub const DB_FILE: &str = "cambrian.sqlite3";

/// A snapshot's id (SQLite rowid; increases with creation order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SnapshotId(pub i64);

impl std::fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a snapshot is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    /// Being written; invisible to listings and trends.
    InProgress,
    /// Complete and visible.
    Complete,
    /// Given up by the caller; its rows were removed.
    Abandoned,
}

impl SnapshotStatus {
    fn from_code(c: i64) -> Result<Self, StoreError> {
        match c {
            0 => Ok(SnapshotStatus::InProgress),
            1 => Ok(SnapshotStatus::Complete),
            2 => Ok(SnapshotStatus::Abandoned),
            other => Err(StoreError::BadInput(format!(
                "corrupt store: snapshot status {other}"
            ))),
        }
    }
}

/// What the caller says about a snapshot it is about to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSnapshot {
    /// When the listing was taken (stored to the microsecond).
    pub taken_at: DateTime<Utc>,
    /// Where it came from, e.g. `hub:https://huggingface.co` or `import:daily_top`.
    pub source: String,
    /// The listing query, e.g. `sort=trendingScore&limit=1000`.
    pub query: String,
}

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub id: SnapshotId,
    pub taken_at: DateTime<Utc>,
    pub source: String,
    pub query: String,
    pub status: SnapshotStatus,
    /// Number of distinct models in the snapshot.
    pub models: u64,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One model as [`Store::model_states`] reports it.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelState {
    pub name: String,
    pub recorded_detail: i64,
    pub fingerprint_known: bool,
    pub latest_detail: i64,
}

/// An in-progress snapshot that a sync can continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resumable {
    pub id: SnapshotId,
    /// The checkpoint stored with the last committed batch (e.g. the next page URL).
    pub checkpoint: Option<String>,
    /// Rows committed so far.
    pub rows: u64,
}

/// What one [`Store::append_batch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendStats {
    /// Records passed in.
    pub received: u64,
    /// New rows written.
    pub inserted: u64,
    /// Records skipped because the model was already in the snapshot.
    pub duplicates: u64,
    /// Rows in the snapshot after the batch.
    pub total_rows: u64,
}

/// Result of [`Store::import_snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ImportOutcome {
    Imported(SnapshotInfo),
    /// Same source, query and UTC day, and the same content: nothing written.
    Duplicate {
        existing: SnapshotInfo,
    },
}

/// One point of a model's history: its row in one complete snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub snapshot: SnapshotId,
    pub taken_at: DateTime<Utc>,
    pub source: String,
    /// 1-based position in the snapshot's listing order.
    pub rank: Option<u32>,
    pub likes: Option<u64>,
    pub downloads_30d: Option<u64>,
    pub downloads_all_time: Option<u64>,
    pub trending_score: Option<f64>,
}

/// A cached JSON blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub fetched_at: DateTime<Utc>,
    pub value: serde_json::Value,
}

/// In-memory mirrors of the dictionary tables and of each model's latest
/// detail, loaded in one scan per table on the first write. They are
/// mutated during a write transaction; any failure drops them all (they are
/// reloaded), and each write transaction first checks that no other process
/// extended the tables meanwhile.
#[derive(Default)]
struct Caches {
    loaded: bool,
    /// Model id -> its key, latest detail id and that detail's fingerprint.
    models: ModelDict,
    /// Category value -> term id.
    terms: FastMap<String, i64>,
    /// Base model id -> family term id (saves re-deriving the family per row).
    families: FastMap<String, i64>,
    /// The largest model key, detail id and term id (new ids follow them).
    max_model: i64,
    max_detail: i64,
    max_term: i64,
    /// Whether a second core is available for the read-only first pass of a batch.
    parallel: bool,
    /// Models already present in an in-progress snapshot.
    members: HashMap<SnapshotId, KeySet>,
    /// The committed rows of an in-progress snapshot (what its `pending`
    /// blobs hold), so that completion need not read them back: one vector
    /// per batch, moved in, concatenated once at completion (a single
    /// growing vector re-copied and page-faulted ~20 MB per 200k rows).
    pending: HashMap<SnapshotId, Vec<Vec<Row>>>,
    /// An in-progress sync's changes to the models' recorded latest details
    /// (`state`: a new model, a new detail of a known model, a fingerprint
    /// learned), written when the snapshot completes or is abandoned, once
    /// per touched block, instead of per batch. Rebuilt from the pending
    /// rows with the other caches (`load_members`).
    changed: HashMap<SnapshotId, Vec<State>>,
}

/// The store. Single writer: open one per process.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    version: u32,
    caches: Caches,
}

pub(crate) fn to_i64(v: Option<u64>, what: &str, id: &str) -> Result<Option<i64>, StoreError> {
    v.map(|x| {
        i64::try_from(x).map_err(|_| {
            StoreError::BadInput(format!(
                "model {id}: {what} = {x} is larger than the store can hold (2^63-1)"
            ))
        })
    })
    .transpose()
}

pub(crate) fn to_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|x| u64::try_from(x).ok())
}

pub(crate) fn micros_to_dt(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::BadInput(format!("corrupt store: timestamp {us}")))
}

fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

const SNAPSHOT_COLS: &str = "id, taken_at, source, query, status, models, completed_at";

/// A `snapshot` row as read by [`SNAPSHOT_COLS`].
type SnapshotTuple = (i64, i64, String, String, i64, i64, Option<i64>);

fn snapshot_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotTuple> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn snapshot_info(t: SnapshotTuple) -> Result<SnapshotInfo, StoreError> {
    Ok(SnapshotInfo {
        id: SnapshotId(t.0),
        taken_at: micros_to_dt(t.1)?,
        source: t.2,
        query: t.3,
        status: SnapshotStatus::from_code(t.4)?,
        models: u64::try_from(t.5).unwrap_or(0),
        completed_at: t.6.map(micros_to_dt).transpose()?,
    })
}

/// The content hash stored with an imported snapshot (schema v3): `v3:` +
/// hex SHA-256 over every record's fields in order (length-prefixed binary:
/// id, counters, then the detail fields; no JSON serialisation).
pub fn content_hash(models: &[ModelRecord]) -> String {
    let mut h = Sha256::new();
    let mut buf = Vec::with_capacity(1024);
    for m in models {
        record::content_fields(m, &mut buf);
        h.update(&buf);
    }
    format!("v3:{}", hex::encode(h.finalize()))
}

/// The content hash of schema v1/v2 (hex SHA-256 of each record's JSON,
/// newline-separated): computed only to compare with snapshots imported
/// before v3.
fn legacy_content_hash(models: &[ModelRecord]) -> String {
    let mut h = Sha256::new();
    let mut buf = Vec::with_capacity(512);
    for m in models {
        buf.clear();
        // Serialising a ModelRecord cannot fail (no maps with non-string keys).
        if serde_json::to_writer(&mut buf, m).is_ok() {
            h.update(&buf);
        }
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

impl Store {
    /// Open (creating if needed) the store in `dir`: creates the directory and
    /// `cambrian.sqlite3`, switches to WAL and applies pending migrations.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open(&path).ctx("opening the database")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .ctx("setting the busy timeout")?;
        // WAL: readers never block the writer; synchronous=NORMAL keeps every
        // committed transaction across a process kill (not across power loss,
        // where the last transactions may roll back but the file stays consistent).
        // 16 KiB pages for a new database (no effect on an existing one):
        // measured ~1.3-1.5x faster bulk ingest than 4 KiB (fewer B-tree
        // pages and WAL frames per packed blob); must precede the first write.
        conn.pragma_update(None, "page_size", 16384)
            .ctx("configuring the page size")?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .ctx("enabling WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .ctx("setting synchronous")?;
        conn.pragma_update(None, "foreign_keys", "OFF")
            .ctx("configuring")?;
        conn.pragma_update(None, "cache_size", -65536)
            .ctx("configuring the page cache")?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .ctx("configuring temp store")?;
        // Reads through a memory map of the file (up to 1 GiB): pages come
        // straight from the OS page cache instead of being copied into
        // SQLite's own cache. `find` over a 100k-model snapshot touches most
        // of the file: measured CPU 1.09 -> 0.88 s per run (docs/store.md).
        conn.pragma_update(None, "mmap_size", 1i64 << 30)
            .ctx("configuring memory-mapped reads")?;
        // Checkpoint the WAL every 4096 pages (64 MB at 16 KiB pages) instead of
        // the default 1000: fewer checkpoints (page copies + fsync) during a bulk
        // sync; the WAL file is truncated back to 64 MB after a checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", 4096)
            .ctx("configuring checkpoints")?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .ctx("configuring checkpoints")?;
        let version = schema::migrate(&mut conn)?;
        Ok(Store {
            conn,
            dir: dir.to_path_buf(),
            version,
            caches: Caches::default(),
        })
    }

    /// The directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The schema version of the open database (after migrations).
    pub fn schema_version(&self) -> u32 {
        self.version
    }

    /// Start a snapshot. It stays invisible until [`Store::complete_snapshot`].
    pub fn begin_snapshot(&mut self, s: &NewSnapshot) -> Result<SnapshotId, StoreError> {
        self.conn
            .execute(
                "INSERT INTO snapshot (taken_at, source, query, status, models, started_at) VALUES (?1, ?2, ?3, 0, 0, ?4)",
                params![s.taken_at.timestamp_micros(), s.source, s.query, now_micros()],
            )
            .ctx("creating a snapshot")?;
        let id = SnapshotId(self.conn.last_insert_rowid());
        self.caches.members.insert(id, KeySet::default());
        self.caches.pending.insert(id, Vec::new());
        Ok(id)
    }

    /// The most recent in-progress snapshot of `source` + `query`, if any.
    pub fn resumable_snapshot(
        &self,
        source: &str,
        query: &str,
    ) -> Result<Option<Resumable>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, checkpoint, models FROM snapshot WHERE status = 0 AND source = ?1 AND query = ?2 ORDER BY id DESC LIMIT 1",
                params![source, query],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, i64>(2)?)),
            )
            .optional()
            .ctx("looking for a resumable snapshot")
            .map(|o| o.map(|(id, checkpoint, rows)| Resumable { id: SnapshotId(id), checkpoint, rows: rows.max(0) as u64 }))
    }

    /// Any snapshot by id, whatever its status.
    pub fn snapshot(&self, id: SnapshotId) -> Result<SnapshotInfo, StoreError> {
        let t = self
            .conn
            .query_row(
                &format!("SELECT {SNAPSHOT_COLS} FROM snapshot WHERE id = ?1"),
                [id.0],
                snapshot_from_row,
            )
            .optional()
            .ctx("reading a snapshot")?
            .ok_or_else(|| StoreError::NotFound(format!("no snapshot with id {id}")))?;
        snapshot_info(t)
    }

    fn require_in_progress(&self, id: SnapshotId) -> Result<SnapshotInfo, StoreError> {
        let info = self.snapshot(id)?;
        if info.status != SnapshotStatus::InProgress {
            return Err(StoreError::State(format!(
                "snapshot {id} is {:?}, not in progress",
                info.status
            )));
        }
        Ok(info)
    }

    /// Append records to an in-progress snapshot, and store `checkpoint` with
    /// them, in ONE transaction. A model already in the snapshot is skipped
    /// (first occurrence wins); ranks continue from the rows already stored.
    /// The batch is stored as one packed blob (see `packed.rs`); the rows are
    /// sorted into segments and aggregated at completion.
    pub fn append_batch(
        &mut self,
        id: SnapshotId,
        models: &[ModelRecord],
        checkpoint: Option<&str>,
    ) -> Result<AppendStats, StoreError> {
        self.append_pages(id, &[models], checkpoint)
    }

    /// [`Store::append_batch`] for several consecutive pages at once: the same
    /// as appending their concatenation, in ONE transaction, without the
    /// caller first moving the pages' records into one list.
    pub fn append_pages(
        &mut self,
        id: SnapshotId,
        pages: &[&[ModelRecord]],
        checkpoint: Option<&str>,
    ) -> Result<AppendStats, StoreError> {
        let result = self.append_tx(id, pages, checkpoint);
        if result.is_err() {
            self.caches = Caches::default();
        }
        result
    }

    fn append_tx(
        &mut self,
        id: SnapshotId,
        models: &[&[ModelRecord]],
        checkpoint: Option<&str>,
    ) -> Result<AppendStats, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting a batch")?;
        // Read the state inside the write transaction: nobody can change it until commit.
        let info = in_progress_in(&tx, id)?;
        refresh_caches(&tx, &mut self.caches)?;
        load_members(&tx, &mut self.caches, id, info.models)?;
        let (stats, rows, changed) = write_rows(&tx, &mut self.caches, id, info.models, models)?;
        if !rows.is_empty() {
            let mut buf = Vec::with_capacity(rows.len() * 24);
            encode_rows(&rows, &mut buf);
            tx.prepare_cached(
                "INSERT INTO pending (snapshot, seq, n, data) VALUES (?1, (SELECT coalesce(max(seq), -1) + 1 FROM pending WHERE snapshot = ?1), ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![id.0, rows.len() as i64, buf]))
            .ctx("writing a batch")?;
        }
        tx.prepare_cached("UPDATE snapshot SET models = ?1, checkpoint = ?2 WHERE id = ?3")
            .and_then(|mut st| st.execute(params![stats.total_rows as i64, checkpoint, id.0]))
            .ctx("recording the batch")?;
        tx.commit().ctx("committing a batch")?;
        if let Some(p) = self.caches.pending.get_mut(&id) {
            p.push(rows);
        }
        self.caches.changed.entry(id).or_default().extend(changed);
        Ok(stats)
    }

    /// Make an in-progress snapshot visible: in one transaction, sort its
    /// rows into segments, compute its per-category aggregates and mark it
    /// complete.
    pub fn complete_snapshot(&mut self, id: SnapshotId) -> Result<SnapshotInfo, StoreError> {
        let what = ("starting completion", "committing completion");
        self.end_snapshot(id, what, |tx, c, info| {
            let mut rows = match c.pending.remove(&id) {
                Some(batches)
                    if batches.iter().map(Vec::len).sum::<usize>() as u64 == info.models =>
                {
                    batches.concat()
                }
                _ => pending_rows(tx, id)?,
            };
            tx.execute("DELETE FROM pending WHERE snapshot = ?1", [id.0])
                .ctx("completing a snapshot")?;
            complete_in(tx, id, &mut rows)
        })?;
        self.snapshot(id)
    }

    /// Give up an in-progress snapshot: its rows are removed and it is
    /// marked abandoned (the snapshot entry itself is kept for the record).
    /// The details its batches wrote stay: they are the models' latest.
    pub fn abandon_snapshot(&mut self, id: SnapshotId) -> Result<(), StoreError> {
        self.require_in_progress(id)?;
        let what = ("starting abandon", "committing abandon");
        self.end_snapshot(id, what, |tx, _, _| {
            tx.execute("DELETE FROM pending WHERE snapshot = ?1", [id.0])
                .ctx("removing abandoned rows")?;
            tx.execute(
                "UPDATE snapshot SET status = 2, checkpoint = NULL, models = 0 WHERE id = ?1",
                [id.0],
            )
            .ctx("abandoning a snapshot")?;
            Ok(())
        })
    }

    /// Completion or abandon of in-progress snapshot `id`, in ONE transaction:
    /// its committed rows and deferred model changes are loaded (read back,
    /// the changes recovered from the rows, in a process that did not write
    /// them all), `end` runs, then the sync's model states are written. The snapshot's caches are dropped after,
    /// all caches on error (the dictionary holds the deferred changes).
    fn end_snapshot(
        &mut self,
        id: SnapshotId,
        (starting, committing): (&'static str, &'static str),
        end: impl FnOnce(&Connection, &mut Caches, &SnapshotInfo) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let caches = &mut self.caches;
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(starting)?;
            let info = in_progress_in(&tx, id)?;
            refresh_caches(&tx, caches)?;
            load_members(&tx, caches, id, info.models)?;
            end(&tx, caches, &info)?;
            blocks::write_states(&tx, caches.changed.remove(&id).unwrap_or_default())?;
            tx.commit().ctx(committing)
        })();
        caches.members.remove(&id);
        caches.pending.remove(&id);
        caches.changed.remove(&id);
        if result.is_err() {
            *caches = Caches::default();
        }
        result
    }

    /// Import a whole snapshot atomically. If a complete snapshot with the
    /// same source, query and UTC day has the same content hash, nothing is
    /// written and the existing one is returned as a duplicate.
    pub fn import_snapshot(
        &mut self,
        s: &NewSnapshot,
        models: &[ModelRecord],
    ) -> Result<ImportOutcome, StoreError> {
        // The content hash (SHA-256 over every record) is needed up front only
        // when a same-day candidate exists; otherwise it is computed beside the
        // import's writes (see `import_tx`).
        let mut hash: Option<String> = None;
        let day: NaiveDate = s.taken_at.date_naive();
        let start = day
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc().timestamp_micros())
            .unwrap_or(i64::MIN);
        let end = start.saturating_add(86_400_000_000);
        // Same source, query and UTC day: compare content hashes (a pre-v3
        // snapshot carries the legacy hash, computed only when such a candidate exists).
        let candidates: Vec<(SnapshotTuple, Option<String>)> = {
            let mut st = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {SNAPSHOT_COLS}, content_hash FROM snapshot WHERE status = 1 AND source = ?1 AND query = ?2 AND taken_at >= ?3 AND taken_at < ?4 ORDER BY id"
                ))
                .ctx("looking for a duplicate snapshot")?;
            let rows = st
                .query_map(params![s.source, s.query, start, end], |r| {
                    Ok((snapshot_from_row(r)?, r.get::<_, Option<String>>(7)?))
                })
                .ctx("looking for a duplicate snapshot")?;
            rows.collect::<Result<_, _>>()
                .ctx("looking for a duplicate snapshot")?
        };
        let mut legacy: Option<String> = None;
        for (t, stored) in candidates {
            let Some(stored) = stored else { continue };
            let same = if stored.starts_with("v3:") {
                stored == *hash.get_or_insert_with(|| content_hash(models))
            } else {
                stored == *legacy.get_or_insert_with(|| legacy_content_hash(models))
            };
            if same {
                return Ok(ImportOutcome::Duplicate {
                    existing: snapshot_info(t)?,
                });
            }
        }
        let result = self.import_tx(s, models, hash);
        if result.is_err() {
            self.caches = Caches::default();
        }
        let id = result?;
        Ok(ImportOutcome::Imported(self.snapshot(id)?))
    }

    fn import_tx(
        &mut self,
        s: &NewSnapshot,
        models: &[ModelRecord],
        hash: Option<String>,
    ) -> Result<SnapshotId, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting an import")?;
        refresh_caches(&tx, &mut self.caches)?;
        tx.execute(
            "INSERT INTO snapshot (taken_at, source, query, status, models, started_at) VALUES (?1, ?2, ?3, 0, 0, ?4)",
            params![s.taken_at.timestamp_micros(), s.source, s.query, now_micros()],
        )
        .ctx("creating a snapshot")?;
        let id = SnapshotId(tx.last_insert_rowid());
        self.caches.members.insert(id, KeySet::default());
        // A large import hashes its records on a second core while this one
        // writes them (measured: the hash was a third of an import of known
        // models); the hash goes into the same transaction.
        let beside = hash.is_none() && self.caches.parallel && models.len() >= PARALLEL_MIN_BATCH;
        let caches = &mut self.caches;
        let (written, hash) = std::thread::scope(|sc| {
            let helper = beside.then(|| sc.spawn(|| content_hash(models)));
            let written = write_rows(&tx, caches, id, 0, &[models]);
            let hash = match (hash, helper) {
                (Some(h), _) => h,
                // content_hash cannot panic (no indexing, no unwrap); recompute here if it ever did.
                (None, Some(j)) => j.join().unwrap_or_else(|_| content_hash(models)),
                (None, None) => content_hash(models),
            };
            (written, hash)
        });
        let (_, mut rows, states) = written?;
        self.caches.members.remove(&id);
        complete_in(&tx, id, &mut rows)?;
        blocks::write_states(&tx, states)?;
        tx.execute(
            "UPDATE snapshot SET content_hash = ?1 WHERE id = ?2",
            params![hash, id.0],
        )
        .ctx("recording the content hash")?;
        tx.commit().ctx("committing an import")?;
        Ok(id)
    }

    /// Complete snapshots, oldest first (by `taken_at`, then id).
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {SNAPSHOT_COLS} FROM snapshot WHERE status = 1 ORDER BY taken_at, id"
            ))
            .ctx("listing snapshots")?;
        let rows = st
            .query_map([], snapshot_from_row)
            .ctx("listing snapshots")?;
        let mut out = Vec::new();
        for r in rows {
            out.push(snapshot_info(r.ctx("listing snapshots")?)?);
        }
        Ok(out)
    }

    /// Every row of a snapshot (complete: from its segments, in key order;
    /// in progress: from its batches, in listing order; abandoned: none).
    pub(crate) fn snapshot_rows(&self, info: &SnapshotInfo) -> Result<Vec<Row>, StoreError> {
        match info.status {
            SnapshotStatus::Complete => {
                let mut st = self
                    .conn
                    .prepare_cached("SELECT data FROM seg WHERE snapshot = ?1 ORDER BY first_key")
                    .ctx("reading a snapshot")?;
                let mut rows = st.query([info.id.0]).ctx("reading a snapshot")?;
                let mut out =
                    Vec::with_capacity(usize::try_from(info.models).unwrap_or(0).min(1 << 20));
                while let Some(r) = rows.next().ctx("reading a snapshot")? {
                    decode_into(blob(r, 0)?, &mut out)?;
                }
                Ok(out)
            }
            SnapshotStatus::InProgress => pending_rows(&self.conn, info.id),
            SnapshotStatus::Abandoned => Ok(Vec::new()),
        }
    }

    /// A snapshot's records in rank order (also of an in-progress snapshot:
    /// the rows committed so far).
    pub fn snapshot_models(&self, id: SnapshotId) -> Result<Vec<ModelRecord>, StoreError> {
        Ok(self.snapshot_records(id, Decode::Full)?.1)
    }

    /// A snapshot's models in rank order with only the listing fields a
    /// funnel filters on: id, the counters (likes, downloads, trendingScore),
    /// `author`, `pipeline_tag`, `library_name`, `license`, `license_name`
    /// and `gated`. Tags, siblings, base models, safetensors/GGUF and config
    /// fields are left empty (their bytes are skipped, not decoded), which
    /// makes this several times cheaper than [`Store::snapshot_models`] on a
    /// large snapshot. [`Store::listing_full_records`] then gives the full
    /// records of the models a caller keeps, without reading the snapshot
    /// again.
    pub fn snapshot_listing(&self, id: SnapshotId) -> Result<SnapshotListing, StoreError> {
        let _read = read_tx(&self.conn)?;
        let (rows, records) = self.snapshot_records(id, Decode::Listing)?;
        Ok(SnapshotListing {
            snapshot: id,
            records,
            rows,
        })
    }

    /// The full records (as [`Store::snapshot_models`]) of the listed
    /// models at `indices` (positions in `listing.records`), in that order.
    /// Each record takes its id from `listing.records[i].id`: a caller may
    /// clear the records it no longer needs, but not those it asks for here.
    pub fn listing_full_records(
        &self,
        listing: &SnapshotListing,
        indices: &[usize],
    ) -> Result<Vec<ModelRecord>, StoreError> {
        let _read = read_tx(&self.conn)?;
        let mut wanted = Vec::with_capacity(indices.len());
        for (p, &i) in indices.iter().enumerate() {
            let (Some(r), Some(_)) = (listing.rows.get(i), listing.records.get(i)) else {
                return Err(StoreError::BadInput(format!(
                    "listing of snapshot {} has no model at position {i}",
                    listing.snapshot.0
                )));
            };
            wanted.push((r.detail, p));
        }
        let name = |p: usize| Ok(listing.records[indices[p]].id.clone());
        decode_details(
            &self.conn,
            wanted,
            name,
            |p| &listing.rows[indices[p]],
            Decode::Full,
        )
    }

    /// The snapshot's rows in rank order and their records, decoded as
    /// `mode` says, reading the detail blocks in id order.
    fn snapshot_records(
        &self,
        id: SnapshotId,
        mode: Decode,
    ) -> Result<(Vec<Row>, Vec<ModelRecord>), StoreError> {
        // One read transaction for the whole pass: without it every detail
        // lookup takes and drops SQLite's shared lock (two fcntl calls each).
        let _read = read_tx(&self.conn)?;
        let info = self.snapshot(id)?;
        let mut rows = self.snapshot_rows(&info)?;
        rows.sort_unstable_by_key(|r| r.rank);
        let names = self.model_names_of(rows.iter().map(|r| r.key))?;
        let wanted = rows
            .iter()
            .enumerate()
            .map(|(p, r)| (r.detail, p))
            .collect();
        let name = |p: usize| {
            let key = rows[p].key;
            names.get(&key).cloned().ok_or_else(|| {
                StoreError::BadInput(format!("corrupt store: model key {key} has no name"))
            })
        };
        let out = decode_details(&self.conn, wanted, name, |p| &rows[p], mode)?;
        Ok((rows, out))
    }

    /// The key of model `model_id` (see [`Store::model_keys`]).
    pub(crate) fn model_key(&self, model_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.model_keys(&[model_id])?.pop().flatten())
    }

    /// The keys of models `ids`, in order (`None`: not stored): one pass
    /// over the name blocks for all of them (names have no index since v6;
    /// ≈ 6 MB for 200,000 names), ending when all are found.
    pub(crate) fn model_keys(&self, ids: &[&str]) -> Result<Vec<Option<i64>>, StoreError> {
        let mut out = vec![None; ids.len()];
        let mut at: HashMap<&[u8], Vec<usize>> = HashMap::new();
        for (p, id) in ids.iter().enumerate() {
            at.entry(id.as_bytes()).or_default().push(p);
        }
        let mut left = at.len();
        if left == 0 {
            return Ok(out);
        }
        let one = (ids.len() == 1).then(|| ids[0].as_bytes());
        blocks::scan_name_bytes(&self.conn, |key, name| {
            let hit = match one {
                Some(id) => (name == id).then_some(&[0usize][..]),
                None => at.get(name).map(Vec::as_slice),
            };
            if let Some(ps) = hit {
                // A name stored twice (corrupt) keeps its first key.
                if ps.iter().all(|&p| out[p].is_none()) {
                    ps.iter().for_each(|&p| out[p] = Some(key));
                    left -= 1;
                }
            }
            Ok(left > 0)
        })?;
        Ok(out)
    }

    /// The model's row in every complete snapshot that contains it, oldest
    /// first: one segment read per snapshot (the segment whose first key is
    /// the largest one not above the model's key).
    fn rows_of_model(
        &self,
        key: i64,
        newest_first: bool,
    ) -> Result<Vec<(SnapshotInfo, Row)>, StoreError> {
        let sql = format!(
            "SELECT s.id, s.taken_at, s.source, s.query, s.status, s.models, s.completed_at, g.data
             FROM snapshot s JOIN seg g ON g.snapshot = s.id
              AND g.first_key = (SELECT max(first_key) FROM seg WHERE snapshot = s.id AND first_key <= ?1)
             WHERE s.status = 1 ORDER BY s.taken_at {o}, s.id {o}",
            o = if newest_first { "DESC" } else { "ASC" }
        );
        let mut st = self
            .conn
            .prepare_cached(&sql)
            .ctx("reading a model's history")?;
        let mut rows = st.query([key]).ctx("reading a model's history")?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().ctx("reading a model's history")? {
            let mut rd = RowReader::new(blob(r, 7)?);
            while let Some(row) = rd.next_row()? {
                if row.key == key {
                    out.push((
                        snapshot_info(snapshot_from_row(r).ctx("reading a model's history")?)?,
                        row,
                    ));
                    break;
                }
                if row.key > key {
                    break;
                }
            }
            if newest_first && !out.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// The model's record in the latest complete snapshot that contains it.
    pub fn latest_model(
        &self,
        model_id: &str,
    ) -> Result<Option<(SnapshotInfo, ModelRecord)>, StoreError> {
        let Some(key) = self.model_key(model_id)? else {
            return Ok(None);
        };
        let Some((info, row)) = self.rows_of_model(key, true)?.into_iter().next() else {
            return Ok(None);
        };
        let detail = blocks::detail_bytes(&self.conn, row.detail)?.ok_or_else(|| {
            StoreError::BadInput(format!(
                "corrupt store: detail {} of {model_id} is missing",
                row.detail
            ))
        })?;
        Ok(Some((
            info,
            decode_record(model_id.to_string(), &detail, counters(&row))?,
        )))
    }

    /// The model's rows in every complete snapshot that contains it, oldest first.
    pub fn model_history(&self, model_id: &str) -> Result<Vec<HistoryPoint>, StoreError> {
        Ok(self.model_histories(&[model_id])?.pop().unwrap_or_default())
    }

    /// [`Store::model_history`] of several models (in order), with one pass
    /// over the stored names for all of them.
    pub fn model_histories(
        &self,
        model_ids: &[&str],
    ) -> Result<Vec<Vec<HistoryPoint>>, StoreError> {
        let _read = read_tx(&self.conn)?;
        let mut out = Vec::with_capacity(model_ids.len());
        for key in self.model_keys(model_ids)? {
            let Some(key) = key else {
                out.push(Vec::new());
                continue;
            };
            out.push(
                self.rows_of_model(key, false)?
                    .into_iter()
                    .map(|(s, r)| HistoryPoint {
                        snapshot: s.id,
                        taken_at: s.taken_at,
                        source: s.source,
                        rank: u32::try_from(r.rank).ok(),
                        likes: to_u64(r.likes),
                        downloads_30d: to_u64(r.dl30),
                        downloads_all_time: to_u64(r.dlall),
                        trending_score: r.trending,
                    })
                    .collect(),
            );
        }
        Ok(out)
    }

    /// Store (or replace) a JSON blob under `namespace`/`key`.
    pub fn cache_put(
        &mut self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
        fetched_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let text = value.to_string();
        self.conn
            .execute(
                "INSERT INTO cache (namespace, key, fetched_at, json) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(namespace, key) DO UPDATE SET fetched_at = excluded.fetched_at, json = excluded.json",
                params![namespace, key, fetched_at.timestamp_micros(), text],
            )
            .ctx("writing the cache")?;
        Ok(())
    }

    /// A cached JSON blob, if present.
    pub fn cache_get(&self, namespace: &str, key: &str) -> Result<Option<CacheEntry>, StoreError> {
        let got = self
            .conn
            .query_row(
                "SELECT fetched_at, json FROM cache WHERE namespace = ?1 AND key = ?2",
                params![namespace, key],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()
            .ctx("reading the cache")?;
        match got {
            None => Ok(None),
            Some((t, json)) => {
                let value = serde_json::from_str(&json).map_err(|e| {
                    StoreError::BadInput(format!("corrupt cache entry {namespace}/{key}: {e}"))
                })?;
                Ok(Some(CacheEntry {
                    fetched_at: micros_to_dt(t)?,
                    value,
                }))
            }
        }
    }

    /// Diagnostics of the per-model tables (used by tests; cheap enough for
    /// a store of any size): for every stored model name, in key order, the
    /// detail the writer has recorded as its latest (0: none yet, e.g. a
    /// model of an interrupted sync), whether that detail's fingerprint is
    /// recorded, and the newest detail actually stored for the model.
    #[doc(hidden)]
    pub fn model_states(&self) -> Result<Vec<ModelState>, StoreError> {
        let _read = read_tx(&self.conn)?;
        let mut out = Vec::new();
        let mut at: HashMap<i64, usize> = HashMap::new();
        blocks::scan_names(&self.conn, |key, name| {
            at.insert(key, out.len());
            out.push(ModelState {
                name: name.to_string(),
                recorded_detail: 0,
                fingerprint_known: false,
                latest_detail: 0,
            });
            Ok(true)
        })?;
        blocks::load_states(&self.conn, |st| {
            if let Some(&i) = at.get(&st.key) {
                out[i].recorded_detail = st.detail;
                out[i].fingerprint_known = st.fp.is_some();
            }
            Ok(())
        })?;
        blocks::scan_details(&self.conn, |id, key| {
            if let Some(&i) = at.get(&key) {
                out[i].latest_detail = out[i].latest_detail.max(id);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Number of stored details (diagnostics; see [`Store::model_states`]).
    #[doc(hidden)]
    pub fn detail_count(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT coalesce(sum(n), 0) FROM detail_blk", [], |r| {
                r.get(0)
            })
            .ctx("counting details")
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// A deferred read transaction when none is open (dropped = rolled back,
/// which for reads only releases the shared lock): many small reads under
/// one lock instead of one lock per statement.
pub(crate) fn read_tx(conn: &Connection) -> Result<Option<rusqlite::Transaction<'_>>, StoreError> {
    if !conn.is_autocommit() {
        return Ok(None);
    }
    conn.unchecked_transaction()
        .map(Some)
        .ctx("starting a read transaction")
}

/// Snapshot `id` as read inside transaction `tx`, required to be in progress.
fn in_progress_in(tx: &Connection, id: SnapshotId) -> Result<SnapshotInfo, StoreError> {
    let t = tx
        .prepare_cached(&format!(
            "SELECT {SNAPSHOT_COLS} FROM snapshot WHERE id = ?1"
        ))
        .and_then(|mut st| st.query_row([id.0], snapshot_from_row))
        .optional()
        .ctx("reading a snapshot")?
        .ok_or_else(|| StoreError::NotFound(format!("no snapshot with id {id}")))?;
    let info = snapshot_info(t)?;
    if info.status != SnapshotStatus::InProgress {
        return Err(StoreError::State(format!(
            "snapshot {id} is {:?}, not in progress",
            info.status
        )));
    }
    Ok(info)
}

/// How `snapshot_records` decodes each model.
#[derive(Clone, Copy)]
enum Decode {
    Full,
    Listing,
}

/// A snapshot's lean listing ([`Store::snapshot_listing`]): the records in
/// rank order, and (private) where each one's details are stored.
#[derive(Debug, Clone)]
pub struct SnapshotListing {
    pub snapshot: SnapshotId,
    /// Listing fields only; see [`Store::snapshot_listing`].
    pub records: Vec<ModelRecord>,
    rows: Vec<Row>,
}

/// Decode the details at `wanted` — (detail id, position) pairs, any order
/// — into records, by position: the details are read in id order (each
/// block read and decompressed once), the record at position `p` takes its name from
/// `name(p)` and its counters from `row(p)`.
fn decode_details<'r>(
    conn: &Connection,
    mut wanted: Vec<(i64, usize)>,
    name: impl Fn(usize) -> Result<String, StoreError>,
    row: impl Fn(usize) -> &'r Row,
    mode: Decode,
) -> Result<Vec<ModelRecord>, StoreError> {
    wanted.sort_unstable();
    let mut out: Vec<Option<ModelRecord>> = (0..wanted.len()).map(|_| None).collect();
    let missing = |p: usize| name(p).unwrap_or_else(|_| format!("model key {}", row(p).key));
    blocks::for_each_detail(conn, &wanted, missing, |p, _, bytes| {
        let (id, c) = (name(p)?, counters(row(p)));
        let rec = match mode {
            Decode::Listing => record::decode_listing(id, bytes, c)?,
            Decode::Full => decode_record(id, bytes, c)?,
        };
        if let Some(slot) = out.get_mut(p) {
            *slot = Some(rec);
        }
        Ok(())
    })?;
    // Every position was wanted once, and for_each_detail fails on a missing detail.
    out.into_iter()
        .enumerate()
        .map(|(p, r)| {
            r.ok_or_else(|| {
                StoreError::BadInput(format!("corrupt store: no detail read for position {p}"))
            })
        })
        .collect()
}

fn counters(r: &Row) -> Counters {
    Counters {
        likes: to_u64(r.likes),
        downloads_30d: to_u64(r.dl30),
        downloads_all_time: to_u64(r.dlall),
        trending_score: r.trending,
    }
}

/// Run `sql` (no parameters) and call `f` on each result row, in order,
/// until it returns `false`; `what` names the step in SQLite errors.
pub(crate) fn each_row(
    conn: &Connection,
    sql: &str,
    what: &'static str,
    mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut st = conn.prepare_cached(sql).ctx(what)?;
    let mut rows = st.query([]).ctx(what)?;
    while let Some(row) = rows.next().ctx(what)? {
        if !f(row)? {
            break;
        }
    }
    Ok(())
}

/// Column `i` of a result row as bytes (a corrupt type is an error, not a panic).
pub(crate) fn blob<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> Result<&'a [u8], StoreError> {
    r.get_ref(i)
        .ctx("reading packed rows")?
        .as_blob()
        .map_err(|e| {
            StoreError::BadInput(format!("corrupt store: packed rows are not a blob: {e}"))
        })
}

/// The rows of an in-progress snapshot's batches, in listing order.
fn pending_rows(conn: &Connection, id: SnapshotId) -> Result<Vec<Row>, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT coalesce(sum(n), 0) FROM pending WHERE snapshot = ?1")
        .and_then(|mut st| st.query_row([id.0], |r| r.get(0)))
        .ctx("reading a batch")?;
    let mut st = conn
        .prepare_cached("SELECT data FROM pending WHERE snapshot = ?1 ORDER BY seq")
        .ctx("reading a batch")?;
    let mut rows = st.query([id.0]).ctx("reading a batch")?;
    // `n` only pre-sizes the buffer, capped (it is read from the file; the Vec grows past it if needed).
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 20));
    while let Some(r) = rows.next().ctx("reading a batch")? {
        decode_into(blob(r, 0)?, &mut out)?;
    }
    Ok(out)
}

fn max_ids(tx: &Connection) -> Result<(i64, i64, i64), StoreError> {
    let t = tx
        .prepare_cached("SELECT coalesce(max(id), 0) FROM term")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .ctx("reading the dictionary sizes")?;
    Ok((
        blocks::max_id(tx, Kind::Names)?,
        blocks::max_id(tx, Kind::Details)?,
        t,
    ))
}

/// Model keys above this are refused as corrupt (as by `KeySet`).
const MAX_KEY: i64 = 1 << 28;

/// Load the dictionaries on first use; reload them if another process
/// extended a table since (their largest ids changed). Call inside the
/// write transaction.
fn refresh_caches(tx: &Connection, c: &mut Caches) -> Result<(), StoreError> {
    let (m, d, t) = max_ids(tx)?;
    if c.loaded && (m, d, t) == (c.max_model, c.max_detail, c.max_term) {
        return Ok(());
    }
    *c = Caches::default();
    // Room for the keys up to `m` (keys are dense) at ~32 bytes a name,
    // plus an eighth for the day's new models (no regrowth mid-sync).
    let expect = usize::try_from(m).unwrap_or(0).min(1 << 22);
    let room = expect + expect / 8 + 1024;
    c.models = ModelDict::with_capacity(room, room * 32);
    // Entry index by key, to apply the states (names come in key order).
    let mut index: Vec<u32> = Vec::with_capacity(expect + 1);
    blocks::scan_names(tx, |key, name| {
        let k = usize::try_from(key)
            .ok()
            .filter(|_| key <= MAX_KEY)
            .ok_or_else(|| StoreError::BadInput(format!("corrupt store: model key {key}")))?;
        let entry = ModelEntry {
            key,
            detail: 0,
            fp: None,
        };
        let i = c.models.len() as u32;
        match c.models.insert(name, entry) {
            Insert::Added => {}
            Insert::Present => {
                return Err(StoreError::BadInput(format!(
                    "corrupt store: model {name} is stored twice"
                )));
            }
            Insert::Full => {
                return Err(StoreError::BadInput(format!(
                    "the store holds more than {} models, more than this build can index",
                    c.models.len()
                )));
            }
        }
        if index.len() <= k {
            index.resize(k + 1, u32::MAX);
        }
        index[k] = i;
        Ok(true)
    })?;
    blocks::load_states(tx, |st| {
        let i = usize::try_from(st.key).ok().and_then(|k| index.get(k));
        // A state without a name (not written by this crate) is ignored.
        if let Some(e) = i.and_then(|&i| c.models.entry_mut(i)) {
            (e.detail, e.fp) = (st.detail, st.fp);
        }
        Ok(())
    })?;
    {
        let mut st = tx
            .prepare("SELECT id, value FROM term")
            .ctx("loading terms")?;
        let mut rows = st.query([]).ctx("loading terms")?;
        while let Some(r) = rows.next().ctx("loading terms")? {
            c.terms.insert(
                r.get(1).ctx("loading terms")?,
                r.get(0).ctx("loading terms")?,
            );
        }
    }
    (c.max_model, c.max_detail, c.max_term) = (m, d, t);
    c.parallel = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
    c.loaded = true;
    Ok(())
}

/// Make sure `c.members[id]` holds the models of the snapshot's committed
/// batches (`committed` rows; reloaded when the count differs).
fn load_members(
    tx: &Connection,
    c: &mut Caches,
    id: SnapshotId,
    committed: u64,
) -> Result<(), StoreError> {
    if c.members.get(&id).is_some_and(|m| m.len() == committed) {
        return Ok(());
    }
    let mut set = KeySet::default();
    let rows = pending_rows(tx, id)?;
    for r in &rows {
        set.insert(r.key)?;
    }
    // Deferred model changes of these rows (the dictionary was just loaded
    // from the tables, which do not have them yet): a row whose detail is
    // newer than its model's latest detail wrote that detail.
    let mut changed = Vec::new();
    if !rows.is_empty() {
        let by_key = c.models.index_by_key();
        for r in &rows {
            let Some(e) = by_key.get(&r.key).and_then(|&i| c.models.entry_mut(i)) else {
                continue;
            };
            if r.detail > e.detail {
                (e.detail, e.fp) = (r.detail, None);
                changed.push(State {
                    key: r.key,
                    detail: r.detail,
                    fp: None,
                });
            }
        }
    }
    c.members.insert(id, set);
    c.pending.insert(id, vec![rows]);
    c.changed.insert(id, changed);
    Ok(())
}

fn term_id(tx: &Connection, c: &mut Caches, value: Option<&str>) -> Result<i64, StoreError> {
    let Some(v) = value else { return Ok(0) };
    if let Some(&id) = c.terms.get(v) {
        return Ok(id);
    }
    let id = c.max_term + 1;
    tx.prepare_cached("INSERT INTO term (id, value) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![id, v]))
        .ctx("interning a category")?;
    c.max_term = id;
    c.terms.insert(v.to_string(), id);
    Ok(id)
}

fn family_id(tx: &Connection, c: &mut Caches, m: &ModelRecord) -> Result<i64, StoreError> {
    let Some(base) = record::base_of(m) else {
        return Ok(0);
    };
    if let Some(&id) = c.families.get(base) {
        return Ok(id);
    }
    let id = term_id(tx, c, Some(&family_of(base)))?;
    c.families.insert(base.to_string(), id);
    Ok(id)
}

/// Batches at least this large get the two-thread first pass.
const PARALLEL_MIN_BATCH: usize = 8192;

/// What the read-only first pass knows of a record.
struct Pre {
    /// The model's dictionary entry at the start of the batch.
    entry: Option<ModelEntry>,
    /// Fingerprint of the record's detail.
    fp: i64,
}

fn pre_pass(pages: &[&[ModelRecord]], dict: &ModelDict) -> Vec<Pre> {
    let mut scratch = Vec::with_capacity(1024);
    let records = || pages.iter().flat_map(|p| p.iter());
    let entries = dict.get_many(records().map(|m| m.id.as_str()));
    records()
        .zip(entries)
        .map(|(m, entry)| Pre {
            entry,
            fp: detail_fingerprint(m, &mut scratch),
        })
        .collect()
}

/// The per-record work that needs no writes — dictionary lookup and detail
/// fingerprint — for the whole batch, split over two threads when the
/// machine has a second core and the batch is large (an import). Sync pages
/// (1000 records) stay on one thread: on a loaded 2-core machine the
/// per-page hand-off measured slower (sync day 2: 114-137k vs 155-202k
/// records/s wall at load 5).
fn lookup_and_fingerprint(pages: &[&[ModelRecord]], dict: &ModelDict, parallel: bool) -> Vec<Pre> {
    let total: usize = pages.iter().map(|p| p.len()).sum();
    if !parallel || total < PARALLEL_MIN_BATCH {
        return pre_pass(pages, dict);
    }
    // Two halves of about `total / 2` records each: one big page is cut in
    // the middle, several pages are cut at the page boundary nearest it.
    let (a, b): (Vec<&[ModelRecord]>, Vec<&[ModelRecord]>) = if let [one] = pages {
        let (x, y) = one.split_at(one.len() / 2);
        (vec![x], vec![y])
    } else {
        let mut seen = 0;
        let cut = pages
            .iter()
            .position(|p| {
                seen += p.len();
                seen >= total / 2
            })
            .map_or(pages.len(), |i| i + 1);
        (pages[..cut].to_vec(), pages[cut..].to_vec())
    };
    std::thread::scope(|s| {
        let other = s.spawn(|| pre_pass(&b, dict));
        let mut out = pre_pass(&a, dict);
        // A panic in the helper thread cannot come from pre_pass (no
        // indexing, no unwrap); recompute on this thread if it ever did.
        out.extend(other.join().unwrap_or_else(|_| pre_pass(&b, dict)));
        out
    })
}

/// Write the names and details of `models` (appended to snapshot `id`,
/// whose first `already` ranks are taken) and return their rows, in listing
/// order, and the models' new recorded states (a new model, a new detail, a
/// fingerprint learned), which the caller writes: a sync at completion
/// (`Caches::changed`), an import before it commits. New names and details
/// go into blocks (`blocks.rs`), a few blobs per batch. Duplicates (already
/// in the snapshot, or earlier in `models`) are skipped. Mutates the caches;
/// the caller drops them on error.
fn write_rows(
    tx: &Connection,
    c: &mut Caches,
    id: SnapshotId,
    already: u64,
    pages: &[&[ModelRecord]],
) -> Result<(AppendStats, Vec<Row>, Vec<State>), StoreError> {
    let mut states = Vec::new();
    let mut names = BlockWriter::new(Kind::Names);
    let mut details = BlockWriter::new(Kind::Details);
    // Taken out for the loop (the caches are also mutated); put back below.
    let mut members = c.members.remove(&id).unwrap_or_default();
    let mut buf = Vec::with_capacity(1024);
    let mut rank = already;
    let pre = lookup_and_fingerprint(pages, &c.models, c.parallel);
    let received = pre.len() as u64;
    let mut rows: Vec<Row> = Vec::with_capacity(pre.len());
    for ((pos, m), pre) in pages.iter().flat_map(|p| p.iter()).enumerate().zip(pre) {
        if m.id.is_empty() {
            return Err(StoreError::BadInput(format!(
                "the record at position {pos} of the batch has an empty model id"
            )));
        }
        let likes = to_i64(m.likes, "likes", &m.id)?;
        let dl30 = to_i64(m.downloads_30d, "downloads", &m.id)?;
        let dlall = to_i64(m.downloads_all_time, "downloadsAllTime", &m.id)?;
        if let Some(t) = m.trending_score.filter(|t| !t.is_finite()) {
            return Err(StoreError::BadInput(format!(
                "model {}: trendingScore = {t} is not a finite number",
                m.id
            )));
        }
        let fp = pre.fp;
        // Looked up before the loop. A model absent then is filed under the
        // next key now (one probe); if it is there already, it was first
        // seen earlier in this batch and is handled as known.
        let (key, did) = (c.max_model + 1, c.max_detail + 1);
        let entry = match pre.entry {
            Some(e) => Some(e),
            None if key > MAX_KEY => {
                return Err(StoreError::BadInput(format!(
                    "model {}: the store already holds {} models, more than this build can index",
                    m.id, c.max_model
                )));
            }
            None => {
                let new = ModelEntry {
                    key,
                    detail: did,
                    fp: Some(fp),
                };
                match c.models.insert(&m.id, new) {
                    Insert::Added => None,
                    Insert::Present => c.models.get(&m.id),
                    Insert::Full => {
                        return Err(StoreError::BadInput(format!(
                            "model {}: the store already holds {} models, more than this build can index",
                            m.id,
                            c.models.len()
                        )));
                    }
                }
            }
        };
        let detail = match entry {
            None => {
                // A new model (filed above): its name and first detail.
                encode_detail(m, &mut buf);
                details.detail(tx, did, key, &buf)?;
                names.name(tx, key, &m.id)?;
                (c.max_model, c.max_detail) = (key, did);
                states.push(State {
                    key,
                    detail: did,
                    fp: Some(fp),
                });
                members.insert(key)?;
                (key, did)
            }
            Some(e) => {
                if !members.insert(e.key)? {
                    continue; // already in this snapshot: first occurrence wins
                }
                let key = e.key;
                let unchanged = match e.fp {
                    Some(old) => (old == fp && e.detail != 0).then_some(e.detail),
                    None => {
                        // Fingerprint unknown (store migrated from v2, or a
                        // change recovered after an interruption): fingerprint
                        // the stored detail (JSON or binary) once and compare.
                        let stored = match e.detail {
                            0 => None,
                            d => blocks::detail_bytes(tx, d)?,
                        };
                        // An unreadable stored detail counts as changed: the new one is written.
                        let same = stored.is_some_and(|bytes| {
                            record::stored_fingerprint(&m.id, &bytes, &mut buf)
                                .is_ok_and(|old| old == fp)
                        });
                        if same {
                            states.push(State {
                                key,
                                detail: e.detail,
                                fp: Some(fp),
                            });
                            if let Some(x) = c.models.get_mut(&m.id) {
                                x.fp = Some(fp);
                            }
                        }
                        same.then_some(e.detail)
                    }
                };
                match unchanged {
                    Some(did) => (key, did),
                    None => {
                        let did = c.max_detail + 1;
                        encode_detail(m, &mut buf);
                        details.detail(tx, did, key, &buf)?;
                        states.push(State {
                            key,
                            detail: did,
                            fp: Some(fp),
                        });
                        c.max_detail = did;
                        if let Some(x) = c.models.get_mut(&m.id) {
                            (x.detail, x.fp) = (did, Some(fp));
                        }
                        (key, did)
                    }
                }
            }
        };
        let pipeline = term_id(tx, c, m.pipeline_tag.as_deref())?;
        let library = term_id(tx, c, m.library_name.as_deref())?;
        let family = family_id(tx, c, m)?;
        rank += 1;
        rows.push(Row {
            key: detail.0,
            rank: i64::try_from(rank).unwrap_or(i64::MAX),
            likes,
            dl30,
            dlall,
            trending: m.trending_score,
            pipeline,
            library,
            family,
            detail: detail.1,
        });
    }
    names.flush(tx)?;
    details.flush(tx)?;
    c.members.insert(id, members);
    let inserted = rows.len() as u64;
    Ok((
        AppendStats {
            received,
            inserted,
            duplicates: received - inserted,
            total_rows: rank,
        },
        rows,
        states,
    ))
}

/// Aggregate, write segments and mark complete, inside the caller's
/// transaction: one pass over the rows (in memory) feeds all three dimensions.
fn complete_in(tx: &Connection, id: SnapshotId, rows: &mut Vec<Row>) -> Result<(), StoreError> {
    #[derive(Default, Clone, Copy)]
    struct Acc {
        models: i64,
        likes: i64,
        dl30: i64,
        dlall: i64,
        n_dlall: i64,
    }
    rows.sort_unstable_by_key(|r| (r.key, r.rank));
    // Defensive: a model appears once per snapshot (first occurrence wins).
    rows.dedup_by_key(|r| r.key);
    let mut acc: [FastMap<i64, Acc>; 3] = Default::default();
    for r in rows.iter() {
        for (d, cat) in [r.pipeline, r.library, r.family].into_iter().enumerate() {
            let a = acc[d].entry(cat).or_default();
            a.models += 1;
            a.likes = a.likes.saturating_add(r.likes.unwrap_or(0));
            a.dl30 = a.dl30.saturating_add(r.dl30.unwrap_or(0));
            if let Some(x) = r.dlall {
                a.dlall = a.dlall.saturating_add(x);
                a.n_dlall += 1;
            }
        }
    }
    let mut buf = Vec::with_capacity(packed::SEGMENT_ROWS * 32);
    schema::write_segments(tx, id.0, rows, &mut buf)?;
    let mut ins = tx
        .prepare_cached("INSERT INTO agg (snapshot, dim, category, models, likes, dl30, dlall, n_dlall) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
        .ctx("aggregating a snapshot")?;
    for (dim, map) in acc.iter().enumerate() {
        for (cat, a) in map {
            ins.execute(params![
                id.0, dim as i64, cat, a.models, a.likes, a.dl30, a.dlall, a.n_dlall
            ])
            .ctx("aggregating a snapshot")?;
        }
    }
    tx.execute(
        "UPDATE snapshot SET status = 1, checkpoint = NULL, completed_at = ?2, models = ?3 WHERE id = ?1",
        params![id.0, now_micros(), rows.len() as i64],
    )
    .ctx("completing a snapshot")?;
    Ok(())
}
