//! The versioned schema: `PRAGMA user_version` names the version, and
//! [`MIGRATIONS`] lists the SQL that takes a database from version `i` to
//! `i + 1`. Every migration runs inside one transaction, so an interrupted
//! upgrade leaves the previous version intact.

use crate::error::{Ctx, StoreError};
use crate::packed::{Row, SEGMENT_ROWS, encode_rows};
use rusqlite::{Connection, params};

/// Migration `i` upgrades a database from version `i` to `i + 1`.
///
/// Layout (see docs/store.md for the measurements behind it):
/// * `model` and `term` intern model ids and category strings (pipeline tags,
///   libraries, base-model families) as small integers.
/// * `detail` holds the slowly-changing part of a record (tags, license, ...)
///   as compact JSON, written only when it differs from the model's previous
///   detail (change-only).
/// * `row` holds one narrow integer row per (snapshot, model): rank and the
///   volatile counters. `WITHOUT ROWID`, clustered by snapshot.
/// * `agg` (v2) pre-aggregates each complete snapshot per dimension and
///   category, so category-share queries never touch `row`.
/// * v4 adds `model_new`: models first seen by an in-progress sync, moved
///   into `model` (id order) when a snapshot completes or is abandoned.
/// * v3 replaces `row` (one SQLite row per model per snapshot) by packed
///   blobs (see `packed.rs`): `seg` holds a complete snapshot's rows sorted by
///   model key, 256 per blob; `pending` holds an in-progress snapshot's
///   batches. `model.detail` / `model.fp` remember each model's latest detail
///   and its fingerprint, so the writer needs no per-row detail lookup and
///   the `detail_by_model` index goes. The data conversion is Rust code
///   ([`convert_v2_rows`]) run in the same transaction as this SQL.
/// * v6 replaces the per-model tables `model`, `model_new` and `detail` by
///   blocks (see `blocks.rs`): `name_blk` (names by key), `detail_blk`
///   (details by id) and `state` (each model's latest detail and its
///   fingerprint). Converted by [`convert_v5_models`] in the same transaction.
pub const MIGRATIONS: &[&str] = &[
    // v0 -> v1
    r#"
    CREATE TABLE model (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE term (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
    CREATE TABLE snapshot (
        id INTEGER PRIMARY KEY,
        taken_at INTEGER NOT NULL,
        source TEXT NOT NULL,
        query TEXT NOT NULL,
        status INTEGER NOT NULL,
        models INTEGER NOT NULL DEFAULT 0,
        checkpoint TEXT,
        content_hash TEXT,
        started_at INTEGER NOT NULL,
        completed_at INTEGER
    );
    CREATE INDEX snapshot_by_status_time ON snapshot(status, taken_at);
    CREATE TABLE detail (id INTEGER PRIMARY KEY, model INTEGER NOT NULL, json BLOB NOT NULL);
    CREATE INDEX detail_by_model ON detail(model, id);
    CREATE TABLE row (
        snapshot INTEGER NOT NULL,
        model INTEGER NOT NULL,
        rank INTEGER NOT NULL,
        likes INTEGER,
        dl30 INTEGER,
        dlall INTEGER,
        trending REAL,
        pipeline INTEGER NOT NULL,
        library INTEGER NOT NULL,
        family INTEGER NOT NULL,
        detail INTEGER NOT NULL,
        PRIMARY KEY (snapshot, model)
    ) WITHOUT ROWID;
    "#,
    // v1 -> v2: per-snapshot aggregates and the on-demand detail cache.
    r#"
    CREATE TABLE agg (
        snapshot INTEGER NOT NULL,
        dim INTEGER NOT NULL,
        category INTEGER NOT NULL,
        models INTEGER NOT NULL,
        likes INTEGER NOT NULL,
        dl30 INTEGER NOT NULL,
        dlall INTEGER NOT NULL,
        n_dlall INTEGER NOT NULL,
        PRIMARY KEY (snapshot, dim, category)
    ) WITHOUT ROWID;
    CREATE TABLE cache (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID;
    INSERT INTO agg SELECT snapshot, 0, pipeline, count(*), coalesce(sum(likes),0), coalesce(sum(dl30),0), coalesce(sum(dlall),0), count(dlall)
        FROM row WHERE snapshot IN (SELECT id FROM snapshot WHERE status = 1) GROUP BY snapshot, pipeline;
    INSERT INTO agg SELECT snapshot, 1, library, count(*), coalesce(sum(likes),0), coalesce(sum(dl30),0), coalesce(sum(dlall),0), count(dlall)
        FROM row WHERE snapshot IN (SELECT id FROM snapshot WHERE status = 1) GROUP BY snapshot, library;
    INSERT INTO agg SELECT snapshot, 2, family, count(*), coalesce(sum(likes),0), coalesce(sum(dl30),0), coalesce(sum(dlall),0), count(dlall)
        FROM row WHERE snapshot IN (SELECT id FROM snapshot WHERE status = 1) GROUP BY snapshot, family;
    "#,
    // v2 -> v3: packed rows (the `row` table is converted, then dropped, by convert_v2_rows).
    r#"
    ALTER TABLE model ADD COLUMN detail INTEGER;
    ALTER TABLE model ADD COLUMN fp INTEGER;
    UPDATE model SET detail = (SELECT max(d.id) FROM detail d WHERE d.model = model.id);
    DROP INDEX detail_by_model;
    CREATE TABLE seg (
        snapshot INTEGER NOT NULL,
        first_key INTEGER NOT NULL,
        n INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (snapshot, first_key)
    );
    CREATE TABLE pending (
        snapshot INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        n INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (snapshot, seq)
    );
    "#,
    // v3 -> v4: models first seen by an in-progress sync wait in `model_new`
    // (no name index) and move into `model` when the snapshot completes (in
    // id order since session 3): the unique name index is then updated once per snapshot
    // instead of once per page (measured: its pages, rewritten by every page
    // transaction, dominated a first sync).
    r#"
    CREATE TABLE model_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, detail INTEGER, fp INTEGER);
    "#,
    // v4 -> v5: new details are written in a compact binary form (first byte
    // 0xB1, `record::encode_detail`) instead of JSON; JSON details stay
    // readable. No table changes: the version tells older builds, which
    // cannot read binary details, to refuse the store (SchemaTooNew).
    r#"
    -- no table changes
    "#,
    // v5 -> v6: per-model rows become blocks (the data step is convert_v5_models).
    V6_TABLES,
];

/// The block tables of v6 (also used by the unit tests of `blocks.rs`).
pub(crate) const V6_TABLES: &str = r#"
    CREATE TABLE name_blk (first_key INTEGER PRIMARY KEY, n INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE TABLE detail_blk (first_id INTEGER PRIMARY KEY, n INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE TABLE state (block INTEGER PRIMARY KEY, data BLOB NOT NULL);
    "#;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Read the version and apply the missing migrations, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let found: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .ctx("reading the schema version")?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().ctx("starting a schema migration")?;
        tx.execute_batch(sql).ctx("migrating the schema")?;
        match i {
            2 => convert_v2_rows(&tx)?,
            5 => convert_v5_models(&tx)?,
            _ => {}
        }
        tx.pragma_update(None, "user_version", (i + 1) as u32)
            .ctx("recording the schema version")?;
        tx.commit().ctx("committing a schema migration")?;
    }
    Ok(SCHEMA_VERSION)
}

/// v2 -> v3 data step: every snapshot's `row` rows become packed blobs —
/// `seg` for complete snapshots (sorted by model key), one `pending` blob in
/// rank order for in-progress ones — then `row` is dropped. The model's
/// fingerprint stays NULL: the writer then compares the stored detail bytes
/// once and records the fingerprint.
fn convert_v2_rows(tx: &Connection) -> Result<(), StoreError> {
    let snaps: Vec<(i64, i64)> = {
        let mut st = tx
            .prepare(
                "SELECT id, status FROM snapshot WHERE id IN (SELECT DISTINCT snapshot FROM row)",
            )
            .ctx("migrating rows")?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("migrating rows")?;
        rows.collect::<Result<_, _>>().ctx("migrating rows")?
    };
    let mut read = tx
        .prepare("SELECT model, rank, likes, dl30, dlall, trending, pipeline, library, family, detail FROM row WHERE snapshot = ?1 ORDER BY model")
        .ctx("migrating rows")?;
    let mut buf = Vec::new();
    for (id, status) in snaps {
        let mut rows: Vec<Row> = read
            .query_map([id], |r| {
                Ok(Row {
                    key: r.get(0)?,
                    rank: r.get(1)?,
                    likes: r.get(2)?,
                    dl30: r.get(3)?,
                    dlall: r.get(4)?,
                    trending: r.get(5)?,
                    pipeline: r.get(6)?,
                    library: r.get(7)?,
                    family: r.get(8)?,
                    detail: r.get(9)?,
                })
            })
            .ctx("migrating rows")?
            .collect::<Result<_, _>>()
            .ctx("migrating rows")?;
        if status == 1 {
            write_segments(tx, id, &rows, &mut buf)?;
        } else {
            rows.sort_by_key(|r| r.rank);
            buf.clear();
            encode_rows(&rows, &mut buf);
            tx.execute(
                "INSERT INTO pending (snapshot, seq, n, data) VALUES (?1, 0, ?2, ?3)",
                params![id, rows.len() as i64, buf],
            )
            .ctx("migrating rows")?;
        }
    }
    drop(read);
    tx.execute_batch("DROP TABLE row;").ctx("migrating rows")?;
    Ok(())
}

/// Write `rows` (sorted by key) of snapshot `id` as segments.
pub(crate) fn write_segments(
    tx: &Connection,
    id: i64,
    rows: &[Row],
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let mut ins = tx
        .prepare_cached("INSERT INTO seg (snapshot, first_key, n, data) VALUES (?1, ?2, ?3, ?4)")
        .ctx("writing segments")?;
    for chunk in rows.chunks(SEGMENT_ROWS) {
        let Some(first) = chunk.first() else { continue };
        buf.clear();
        encode_rows(chunk, buf);
        ins.execute(params![id, first.key, chunk.len() as i64, &buf[..]])
            .ctx("writing segments")?;
    }
    Ok(())
}

/// v5 -> v6 data step: every name of `model` and `model_new` into
/// `name_blk`, their latest detail and fingerprint into `state`, every row of
/// `detail` into `detail_blk` (bytes unchanged: binary or JSON), all in id
/// order; then the three tables are dropped. A model of an in-progress sync
/// (`model_new`) keeps its name; its latest detail is recovered from the
/// pending rows as for any interrupted sync.
fn convert_v5_models(tx: &Connection) -> Result<(), StoreError> {
    use crate::blocks::{BlockWriter, Kind, State, write_states};
    let mut names = BlockWriter::new(Kind::Names);
    let mut states = Vec::new();
    let all_models = "SELECT id, name, detail, fp FROM model UNION ALL SELECT id, name, detail, fp FROM model_new ORDER BY id";
    let what = "migrating model names";
    crate::each_row(tx, all_models, what, |r| {
        let key: i64 = r.get(0).ctx(what)?;
        let name = r
            .get_ref(1)
            .and_then(|v| v.as_str().map_err(Into::into))
            .ctx(what)?;
        names.name(tx, key, name)?;
        let detail: Option<i64> = r.get(2).ctx(what)?;
        if let Some(detail) = detail.filter(|&d| d > 0) {
            let fp: Option<i64> = r.get(3).ctx(what)?;
            states.push(State { key, detail, fp });
        }
        Ok(true)
    })?;
    names.flush(tx)?;
    write_states(tx, states)?;
    let mut details = BlockWriter::new(Kind::Details);
    let what = "migrating details";
    crate::each_row(
        tx,
        "SELECT id, model, json FROM detail ORDER BY id",
        what,
        |r| {
            let id: i64 = r.get(0).ctx(what)?;
            let key: i64 = r.get(1).ctx(what)?;
            let bytes = r
                .get_ref(2)
                .and_then(|v| v.as_bytes().map_err(Into::into))
                .ctx(what)?;
            details.detail(tx, id, key, bytes)?;
            Ok(true)
        },
    )?;
    details.flush(tx)?;
    tx.execute_batch("DROP TABLE model; DROP TABLE model_new; DROP TABLE detail;")
        .ctx("migrating the model tables")
}
